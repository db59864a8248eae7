"""Provisioning policy and the effective directory (issue #3), end to end.

Users and groups are provisioned through the real SCIM endpoint, shaped as Entra ID and Okta
send them; policies are set with `idsync policy set`; the effective directory is checked through
the read API (/directory/v2/{directory}) that applications use, and provenance through
`idsync explain`.
"""

import json
import os
import signal
import subprocess

import pytest

from conftest import (
    GROUP_URN,
    NO_RATE_LIMITS,
    PATCH_URN,
    Scim,
    add_connection,
    cli_json,
    new_user,
    run_cli,
    start_server,
    uniq,
)

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
IDSYNC_EXT = "urn:idsync:params:scim:schemas:extension:2.0:User"


# --------------------------------------------------------------------------- helpers


def root_of(server):
    return server.scim_base[: -len("/scim/v2")]


@pytest.fixture(scope="module")
def read_tokens(idsync_bin, server):
    out = {}
    for d in ("users", "customers"):
        out[d] = cli_json(idsync_bin, "read-token", "add", uniq(f"app-{d}"), "--directory", d,
                          "--data", server.data_dir, "--json")["token"]
    return out


@pytest.fixture
def read(server, read_tokens):
    """read(directory) -> Scim client on /directory/v2/{directory}."""

    def make(directory="users"):
        return Scim(f"{root_of(server)}/directory/v2/{directory}", read_tokens[directory])

    return make


def set_policy(binary, server, connection, policy, tmp_path):
    path = tmp_path / f"{uniq('policy')}.json"
    path.write_text(json.dumps(policy))
    return cli_json(binary, "policy", "set", connection, str(path), "--data", server.data_dir, "--json")


def preview_policy(binary, server, connection, policy, tmp_path):
    path = tmp_path / f"{uniq('policy')}.json"
    path.write_text(json.dumps(policy))
    return cli_json(binary, "policy", "preview", connection, str(path), "--data", server.data_dir,
                    "--json")


def eff_user(read_client, username):
    """The effective user with this userName, or None."""
    r = read_client.get("/Users", params={"filter": f'userName eq "{username}"'})
    assert r.status == 200, r
    found = r.json["Resources"] if r.json.get("Resources") else []
    assert len(found) <= 1, found
    return found[0] if found else None


def eff_groups(user):
    return sorted(g["display"] for g in user.get("groups", []))


def explain(binary, server, user, directory="users"):
    return cli_json(binary, "explain", user, "--directory", directory, "--data", server.data_dir, "--json")


def entra_user(user_name, **extra):
    """A user as Entra ID creates it (IDP-QUIRKS: externalId, enterprise extension, work e-mail)."""
    body = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
        "externalId": uniq("ext"),
        "userName": user_name,
        "active": True,
        "displayName": "Entra Person",
        "name": {"givenName": "Entra", "familyName": "Person", "formatted": "Entra Person"},
        "emails": [{"primary": True, "type": "work", "value": user_name}],
        ENTERPRISE: {"employeeNumber": "E-1", "department": "R&D"},
    }
    body.update(extra)
    return body


def okta_user(user_name, **extra):
    """A user as Okta creates it (password included, emails with primary)."""
    body = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "name": {"givenName": "Okta", "familyName": "Person"},
        "emails": [{"primary": True, "value": user_name, "type": "work"}],
        "displayName": "Okta Person",
        "locale": "en-US",
        "password": "not-kept-1A!",
        "active": True,
    }
    body.update(extra)
    return body


def create(scim, body):
    r = scim.post("/Users", body)
    assert r.status == 201, r
    return r.json["id"]


def add_member(scim, gid, uid):
    r = scim.patch_ops(f"/Groups/{gid}", [{"op": "add", "path": "members", "value": [{"value": uid}]}])
    assert r.status in (200, 204), r


def entra_deactivate(scim, uid):
    # Entra ID sends "False" as a string in a path-less replace (IDP-QUIRKS E-2).
    r = scim.patch(f"/Users/{uid}", {"schemas": [PATCH_URN],
                                     "Operations": [{"op": "Replace", "path": "active", "value": "False"}]})
    assert r.status == 200, r


# --------------------------------------------------------------------------- defaults


def test_defaults_map_entra_user_without_any_policy(make_scim, read):
    idp = make_scim()
    name = f"{uniq('ada')}@Example.com"
    create(idp, entra_user(name))
    u = eff_user(read(), name)
    assert u is not None
    assert u["userName"] == name
    assert u["emails"] == [{"value": name, "primary": True}]
    assert u["displayName"] == "Entra Person"
    assert u["name"] == {"givenName": "Entra", "familyName": "Person"}
    assert u["active"] is True
    assert IDSYNC_EXT in u["schemas"]


def test_display_name_falls_back_to_template(make_scim, read):
    idp = make_scim()
    name = f"{uniq('tmpl')}@example.com"
    body = okta_user(name)
    del body["displayName"]
    create(idp, body)
    assert eff_user(read(), name)["displayName"] == "Okta Person"


def test_read_api_is_read_only_and_needs_a_token(server, read):
    r = read().post("/Users", okta_user("x@example.com"))
    assert r.status == 405
    r = Scim(f"{root_of(server)}/directory/v2/users", None).get("/Users")
    assert r.status == 401


# --------------------------------------------------------------------------- user rules


def test_import_new_off_imports_nobody_new(idsync_bin, server, make_scim, read, tmp_path):
    idp = make_scim()
    set_policy(idsync_bin, server, idp.conn["name"], {"users": {"import_new": False}}, tmp_path)
    name = f"{uniq('noimp')}@example.com"
    create(idp, okta_user(name))
    assert eff_user(read(), name) is None


def test_update_existing_off_keeps_values(idsync_bin, server, make_scim, read, tmp_path):
    idp = make_scim()
    name = f"{uniq('noupd')}@example.com"
    uid = create(idp, okta_user(name))
    set_policy(idsync_bin, server, idp.conn["name"], {"users": {"update_existing": False}}, tmp_path)
    r = idp.patch_ops(f"/Users/{uid}", [{"op": "replace", "path": "displayName", "value": "Changed"}])
    assert r.status == 200, r
    assert eff_user(read(), name)["displayName"] == "Okta Person"


def test_follow_active_disables_and_reenables(make_scim, read):
    idp = make_scim()
    name = f"{uniq('act')}@example.com"
    uid = create(idp, entra_user(name))
    entra_deactivate(idp, uid)
    assert eff_user(read(), name)["active"] is False
    r = idp.patch_ops(f"/Users/{uid}", [{"op": "replace", "path": "active", "value": True}])
    assert r.status == 200
    assert eff_user(read(), name)["active"] is True


def test_follow_active_off_ignores_deactivation(idsync_bin, server, make_scim, read, tmp_path):
    idp = make_scim()
    set_policy(idsync_bin, server, idp.conn["name"], {"users": {"follow_active": False}}, tmp_path)
    name = f"{uniq('noact')}@example.com"
    uid = create(idp, entra_user(name))
    entra_deactivate(idp, uid)
    assert eff_user(read(), name)["active"] is True


@pytest.mark.parametrize("on_delete,expect", [("disable", "disabled"), ("delete", None), ("keep", "active")])
def test_on_delete(idsync_bin, server, make_scim, read, tmp_path, on_delete, expect):
    idp = make_scim()
    set_policy(idsync_bin, server, idp.conn["name"], {"users": {"on_delete": on_delete}}, tmp_path)
    name = f"{uniq('del')}@example.com"
    uid = create(idp, okta_user(name))
    g = idp.create_group(display_name=uniq("DelGroup"), members=[uid])
    assert idp.delete(f"/Users/{uid}").status == 204
    u = eff_user(read(), name)
    if expect is None:
        assert u is None
    else:
        assert u is not None
        assert u["active"] is (expect == "active")
        # Values and memberships are kept: re-activation or an audit can rely on them.
        assert g["displayName"] in eff_groups(u)


# --------------------------------------------------------------------------- mapping


def test_mapping_sources_fallbacks_and_transforms(idsync_bin, server, make_scim, read, tmp_path):
    idp = make_scim()
    policy = {
        "attributes": {
            "username": {"sources": ["emails[type eq \"work\"].value"],
                         "transforms": ["strip_domain", "lower"]},
            "email": {"sources": ["emails[type eq \"home\"].value", "emails[type eq \"work\"].value"]},
            "displayName": {"sources": [{"template": "{name.familyName}, {name.givenName}"}],
                            "transforms": [{"regex_replace": {"pattern": "^Dr\\. ", "replacement": ""}}]},
        }
    }
    set_policy(idsync_bin, server, idp.conn["name"], policy, tmp_path)
    local = uniq("Grace.Hopper")
    body = okta_user(f"{uniq('x')}@example.com",
                     emails=[{"value": f"{local}@Corp.Example", "type": "work"}],
                     name={"givenName": "Grace", "familyName": "Dr. Hopper"})
    create(idp, body)
    u = eff_user(read(), local.lower())
    assert u is not None, "username should be the work e-mail's local part, lower-cased"
    assert u["emails"][0]["value"] == f"{local}@Corp.Example"  # no home e-mail: falls back
    assert u["displayName"] == "Hopper, Grace"


def test_bad_policy_is_refused_naming_the_field(idsync_bin, server, make_scim, tmp_path):
    idp = make_scim()
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"attributes": {"email": {"sources": ["emial"]}}}))
    r = run_cli(idsync_bin, "policy", "set", idp.conn["name"], str(path), "--data", server.data_dir)
    assert r.returncode != 0
    assert "attributes.email.sources[0]" in r.stderr, r.stderr
    path.write_text(json.dumps({"groups": {"include": ["(unclosed"]}}))
    r = run_cli(idsync_bin, "policy", "set", idp.conn["name"], str(path), "--data", server.data_dir)
    assert r.returncode != 0 and "groups.include[0]" in r.stderr, r.stderr
    # Nothing was stored.
    got = cli_json(idsync_bin, "policy", "get", idp.conn["name"], "--data", server.data_dir, "--json")
    assert got["version"] == 0


def test_custom_attributes_mapped_shown_and_filterable(idsync_bin, server, make_scim, read, tmp_path):
    defs = tmp_path / "custom.json"
    defs.write_text(json.dumps([{"name": "employeeNumber", "type": "string"},
                                {"name": "costCenter", "type": "integer"}]))
    r = run_cli(idsync_bin, "directory", "custom-attributes", "users", str(defs), "--data", server.data_dir)
    assert r.returncode == 0, r.stderr
    idp = make_scim()
    set_policy(idsync_bin, server, idp.conn["name"], {"attributes": {
        "employeeNumber": {"sources": [f"{ENTERPRISE}:employeeNumber"]},
        "costCenter": {"sources": [f"{ENTERPRISE}:costCenter"]},
    }}, tmp_path)
    name = f"{uniq('cust')}@example.com"
    number = uniq("EMP")
    create(idp, entra_user(name, **{ENTERPRISE: {"employeeNumber": number, "costCenter": "4711"}}))
    u = eff_user(read(), name)
    assert u[IDSYNC_EXT] == {"employeeNumber": number, "costCenter": 4711}
    r = read().get("/Users", params={"filter": f'{IDSYNC_EXT}:employeeNumber eq "{number}"'})
    assert r.status == 200, r
    assert [x["userName"] for x in r.json["Resources"]] == [name]


# --------------------------------------------------------------------------- groups


def test_on_the_fly_with_include_exclude_and_transform(idsync_bin, server, make_scim, read, tmp_path):
    idp = make_scim()
    tag = uniq("t")
    set_policy(idsync_bin, server, idp.conn["name"], {"groups": {
        "mode": "on_the_fly",
        "include": [f"(?i)app-{tag}-.*"],
        "exclude": [f".*-{tag}-secret"],
        "name_transforms": [{"regex_replace": {"pattern": f"^app-{tag}-", "replacement": f"{tag}-"}}],
    }}, tmp_path)
    name = f"{uniq('otf')}@example.com"
    uid = create(idp, okta_user(name))
    for g in (f"APP-{tag}-Wiki", f"app-{tag}-secret", f"other-{tag}"):
        idp.create_group(display_name=g, members=[uid])
    u = eff_user(read(), name)
    # (?i) include matches APP-; the transform's pattern is case-sensitive, so it leaves APP-.
    assert eff_groups(u) == [f"APP-{tag}-Wiki"]


def test_manual_mode_with_unmapped_ignored_or_on_the_fly(idsync_bin, server, make_scim, read, tmp_path):
    idp = make_scim()
    tag = uniq("m")
    name = f"{uniq('man')}@example.com"
    uid = create(idp, okta_user(name))
    eng = idp.create_group(display_name=f"Engineering-{tag}", members=[uid])
    idp.create_group(display_name=f"Unmapped-{tag}", members=[uid])
    policy = {"groups": {"mode": "manual", "manual": [
        {"source": f"engineering-{tag}", "targets": [f"jira-developers-{tag}", f"confluence-users-{tag}"]},
        {"source": eng["id"], "targets": [f"by-id-{tag}"]},
    ], "unmapped": "ignore"}}
    set_policy(idsync_bin, server, idp.conn["name"], policy, tmp_path)
    assert eff_groups(eff_user(read(), name)) == sorted(
        [f"jira-developers-{tag}", f"confluence-users-{tag}", f"by-id-{tag}"])
    policy["groups"]["unmapped"] = "on_the_fly"
    set_policy(idsync_bin, server, idp.conn["name"], policy, tmp_path)
    assert eff_groups(eff_user(read(), name)) == sorted(
        [f"jira-developers-{tag}", f"confluence-users-{tag}", f"by-id-{tag}", f"Unmapped-{tag}"])


def test_import_groups_off_keeps_default_groups(idsync_bin, server, make_scim, read, tmp_path):
    idp = make_scim()
    tag = uniq("d")
    set_policy(idsync_bin, server, idp.conn["name"], {"groups": {
        "import": False,
        "default_groups_new_users": [f"new-{tag}"],
        "default_groups_all_users": [f"all-{tag}"],
    }}, tmp_path)
    name = f"{uniq('def')}@example.com"
    uid = create(idp, okta_user(name))
    idp.create_group(display_name=f"ignored-{tag}", members=[uid])
    assert eff_groups(eff_user(read(), name)) == sorted([f"new-{tag}", f"all-{tag}"])


def test_default_groups_new_users_only_at_creation(idsync_bin, server, make_scim, read, tmp_path):
    idp = make_scim()
    tag = uniq("n")
    name_old = f"{uniq('old')}@example.com"
    create(idp, okta_user(name_old))
    set_policy(idsync_bin, server, idp.conn["name"], {"groups": {
        "default_groups_new_users": [f"welcome-{tag}"]}}, tmp_path)
    name_new = f"{uniq('new')}@example.com"
    create(idp, okta_user(name_new))
    assert f"welcome-{tag}" in eff_groups(eff_user(read(), name_new))
    assert f"welcome-{tag}" not in eff_groups(eff_user(read(), name_old))


def test_source_membership_removed_follows_the_source(make_scim, read):
    idp = make_scim()
    name = f"{uniq('rm')}@example.com"
    uid = create(idp, okta_user(name))
    g = idp.create_group(display_name=uniq("Team"), members=[uid])
    assert g["displayName"] in eff_groups(eff_user(read(), name))
    r = idp.patch_ops(f"/Groups/{g['id']}", [{"op": "remove", "path": f'members[value eq "{uid}"]'}])
    assert r.status in (200, 204), r
    assert eff_groups(eff_user(read(), name)) == []


def test_group_rename_moves_members(make_scim, read):
    idp = make_scim()
    name = f"{uniq('ren')}@example.com"
    uid = create(idp, okta_user(name))
    g = idp.create_group(display_name=uniq("Before"), members=[uid])
    after = uniq("After")
    r = idp.patch_ops(f"/Groups/{g['id']}", [{"op": "replace", "path": "displayName", "value": after}])
    assert r.status in (200, 204), r
    assert eff_groups(eff_user(read(), name)) == [after]


def test_entitlements_follow_group_membership(idsync_bin, server, make_scim, read, tmp_path):
    idp = make_scim()
    tag = uniq("e")
    set_policy(idsync_bin, server, idp.conn["name"], {"entitlements": {
        f"portal-{tag}": [f"project:DEMO-{tag}:portal-access", f"project:DEMO-{tag}:browse"]}}, tmp_path)
    name = f"{uniq('ent')}@example.com"
    uid = create(idp, okta_user(name))
    assert "entitlements" not in eff_user(read(), name)
    g = idp.create_group(display_name=f"portal-{tag}", members=[uid])
    u = eff_user(read(), name)
    assert sorted(e["value"] for e in u["entitlements"]) == sorted(
        [f"project:DEMO-{tag}:browse", f"project:DEMO-{tag}:portal-access"])
    assert all(e["display"] == f"portal-{tag}" for e in u["entitlements"])
    why = explain(idsync_bin, server, name)
    assert {e["group"] for e in why["entitlements"]} == {f"portal-{tag}"}
    idp.patch_ops(f"/Groups/{g['id']}", [{"op": "remove", "path": f'members[value eq "{uid}"]'}])
    assert "entitlements" not in eff_user(read(), name)


@pytest.mark.parametrize("keep", [True, False])
def test_keep_existing_memberships(idsync_bin, server, make_scim, read, tmp_path, keep):
    """A membership no source granted (here: granted by an administrator) survives the source's
    silence only while the source keeps existing memberships."""
    idp = make_scim()
    set_policy(idsync_bin, server, idp.conn["name"], {"groups": {"keep_existing_memberships": keep}},
               tmp_path)
    name = f"{uniq('keep')}@example.com"
    uid = create(idp, okta_user(name))
    src = idp.create_group(display_name=uniq("FromIdP"), members=[uid])
    manual = uniq("granted-by-hand")
    r = run_cli(idsync_bin, "membership", "grant", name, manual, "--data", server.data_dir)
    if not keep:
        # A grant the next write of the user would drop (and a re-derivation would not make) is
        # refused, saying why, and changes nothing.
        assert r.returncode != 0 and "keep_existing_memberships is off" in r.stderr, r.stderr
        assert eff_groups(eff_user(read(), name)) == [src["displayName"]]
        return
    assert r.returncode == 0, r.stderr
    assert eff_groups(eff_user(read(), name)) == sorted([src["displayName"], manual])
    why = explain(idsync_bin, server, name)
    [m] = [m for m in why["memberships"] if m["group"] == manual]
    assert m["grants"] == [{"rule": "existing", "connection": "", "source_group": "",
                            "detail": "granted by cli"}]
    # The identity provider writes the user again and says nothing about that group.
    r = idp.patch_ops(f"/Users/{uid}", [{"op": "replace", "path": "displayName", "value": "Again"}])
    assert r.status == 200, r
    expected = sorted([src["displayName"], manual]) if keep else [src["displayName"]]
    assert eff_groups(eff_user(read(), name)) == expected
    if keep:
        r = run_cli(idsync_bin, "membership", "revoke", name, manual, "--data", server.data_dir)
        assert r.returncode == 0, r.stderr
        assert eff_groups(eff_user(read(), name)) == [src["displayName"]]
    # Revoking what was not granted by hand is an error that says so, and changes nothing.
    r = run_cli(idsync_bin, "membership", "revoke", name, src["displayName"], "--data", server.data_dir)
    assert r.returncode != 0 and "granted by an administrator" in r.stderr, r.stderr
    assert eff_groups(eff_user(read(), name)) == [src["displayName"]]


# --------------------------------------------------------------------------- several sources


def test_two_idps_one_person_priority_union_and_last_source_leaves(idsync_bin, server, make_scim, read,
                                                                   tmp_path):
    entra, okta = make_scim(), make_scim()
    set_policy(idsync_bin, server, entra.conn["name"], {"priority": 10}, tmp_path)
    set_policy(idsync_bin, server, okta.conn["name"], {"priority": 1}, tmp_path)
    name = f"{uniq('both')}@example.com"
    e_uid = create(entra, entra_user(name, displayName="From Entra"))
    # Okta spells the username in other letter case: linked case-insensitively.
    o_uid = create(okta, okta_user(name.upper(), displayName="From Okta"))
    ge = entra.create_group(display_name=uniq("EntraGroup"), members=[e_uid])
    go = okta.create_group(display_name=uniq("OktaGroup"), members=[o_uid])
    r = read().get("/Users", params={"filter": f'userName eq "{name}"'})
    assert r.json["totalResults"] == 1, r.json
    u = r.json["Resources"][0]
    assert u["displayName"] == "From Entra"  # higher priority wins
    assert eff_groups(u) == sorted([ge["displayName"], go["displayName"]])  # union
    why = explain(idsync_bin, server, name)
    assert why["attributes"]["displayName"]["connection_name"] == entra.conn["name"]
    assert {s["connection_name"] for s in why["sources"]} == {entra.conn["name"], okta.conn["name"]}
    # Entra deactivates: Okta still holds the person, who stays active with Okta's values.
    entra_deactivate(entra, e_uid)
    u = eff_user(read(), name)
    assert u["active"] is True
    # Entra deletes; then Okta deactivates: the last active source lets go -> disabled.
    assert entra.delete(f"/Users/{e_uid}").status == 204
    u = eff_user(read(), name)
    assert u["active"] is True and u["displayName"] == "From Okta"
    assert eff_groups(u) == [go["displayName"]]
    r = okta.patch_ops(f"/Users/{o_uid}", [{"op": "replace", "path": "active", "value": False}])
    assert r.status == 200
    assert eff_user(read(), name)["active"] is False


def test_link_by_email(idsync_bin, server, make_scim, read, tmp_path):
    a, b = make_scim(), make_scim()
    set_policy(idsync_bin, server, a.conn["name"], {"linking": {"key": "email"}, "priority": 5}, tmp_path)
    set_policy(idsync_bin, server, b.conn["name"], {"linking": {"key": "email"}}, tmp_path)
    email = f"{uniq('mail')}@example.com"
    ua = f"{uniq('a')}"
    create(a, okta_user(ua, emails=[{"value": email, "primary": True}]))
    create(b, okta_user(uniq("b"), emails=[{"value": email.upper(), "primary": True}]))
    r = read().get("/Users", params={"filter": f'emails.value eq "{email}"'})
    assert r.json["totalResults"] == 1, r.json
    assert r.json["Resources"][0]["userName"] == ua  # the higher priority's username wins


def test_username_conflict_with_linking_off(idsync_bin, server, make_scim, read, tmp_path):
    a, b = make_scim(), make_scim()
    for c in (a, b):
        set_policy(idsync_bin, server, c.conn["name"], {"linking": {"key": "none"}}, tmp_path)
    name = f"{uniq('clash')}@example.com"
    create(a, okta_user(name, displayName="First"))
    b_uid = create(b, okta_user(name, displayName="Second"))  # SCIM accepts: mirrors are per connection
    r = read().get("/Users", params={"filter": f'userName eq "{name}"'})
    assert r.json["totalResults"] == 1
    assert r.json["Resources"][0]["displayName"] == "First"  # nothing silently overwritten
    conflicts = cli_json(idsync_bin, "conflicts", "--data", server.data_dir, "--json")
    mine = [c for c in conflicts if c["username"] == name]
    assert len(mine) == 1, conflicts
    assert mine[0]["connection_name"] == b.conn["name"] and mine[0]["source_user"] == b_uid
    # The text output names the holder, username and id, so the administrator can look at it.
    holder = eff_user(read(), name)
    r = run_cli(idsync_bin, "conflicts", "--data", server.data_dir)
    assert r.returncode == 0, r.stderr
    line = [ln for ln in r.stdout.splitlines() if ln.startswith(name)]
    assert len(line) == 1, r.stdout
    assert b_uid in line[0] and b.conn["name"] in line[0], line
    assert f"held by {holder['userName']}, id {holder['id']}" in line[0], line


def test_customers_directory_is_apart_from_staff(make_scim, read):
    staff, desk = make_scim(), make_scim(directory="customers")
    name = f"{uniq('cust')}@example.com"
    create(desk, okta_user(name, displayName="Customer"))
    assert eff_user(read("customers"), name)["displayName"] == "Customer"
    assert eff_user(read("users"), name) is None
    create(staff, okta_user(name, displayName="Staff"))
    assert eff_user(read("users"), name)["displayName"] == "Staff"
    assert eff_user(read("customers"), name)["displayName"] == "Customer"
    # A read token of one directory cannot read the other.
    r = Scim(read("customers").base_url.replace("/customers", "/users"), read("customers").token).get("/Users")
    assert r.status == 403


def test_connection_removed_counts_as_its_users_deleted(idsync_bin, server, make_scim, read):
    idp = make_scim()
    name = f"{uniq('gone')}@example.com"
    create(idp, okta_user(name))
    r = run_cli(idsync_bin, "connection", "remove", idp.conn["name"], "--data", server.data_dir)
    assert r.returncode == 0, r.stderr
    u = eff_user(read(), name)
    assert u is not None and u["active"] is False  # on_delete default: disable


# --------------------------------------------------------------------------- preview and apply


def test_preview_counts_equal_what_apply_does(idsync_bin, server, make_scim, read, tmp_path):
    idp = make_scim()
    tag = uniq("p")
    uids = [create(idp, okta_user(f"{uniq('pv')}@example.com")) for _ in range(6)]
    idp.create_group(display_name=f"keep-{tag}", members=uids[:3])
    idp.create_group(display_name=f"drop-{tag}", members=uids[3:])
    entra_deactivate(idp, uids[0])
    policy = {"users": {"follow_active": False},
              "groups": {"exclude": [f"drop-{tag}"], "default_groups_all_users": [f"all-{tag}"]},
              "attributes": {"displayName": {"sources": ["userName"]}}}
    preview = preview_policy(idsync_bin, server, idp.conn["name"], policy, tmp_path)
    c = preview["counts"]
    assert c["updated"] == 6 and c["enabled"] == 1
    assert c["memberships_removed"] == 3 and c["memberships_added"] == 6
    applied = set_policy(idsync_bin, server, idp.conn["name"], policy, tmp_path)
    assert applied["counts"] == c
    a = applied["applied"]
    for k in ("updated", "enabled", "memberships_added", "memberships_removed", "created", "removed"):
        assert a[k] == c[k], (k, a, c)
    # Applying the same policy again changes nothing.
    again = preview_policy(idsync_bin, server, idp.conn["name"], policy, tmp_path)
    assert all(v == 0 for v in again["counts"].values()), again["counts"]
    versions = cli_json(idsync_bin, "policy", "versions", idp.conn["name"], "--data", server.data_dir, "--json")
    assert versions[0]["version"] == 1 and versions[0]["actor"] == "cli"


# --------------------------------------------------------------------------- change feed


def fold_feed(changes, state=None):
    users, groups, members = state or ({}, {}, set())
    for c in changes:
        if c["type"] == "User":
            if c["op"] == "upsert":
                users[c["id"]] = c["resource"]
            else:
                users.pop(c["id"], None)
                members = {m for m in members if m[1] != c["id"]}
        elif c["type"] == "Group":
            if c["op"] == "upsert":
                groups[c["id"]] = c["resource"]
            else:
                groups.pop(c["id"], None)
                members = {m for m in members if m[0] != c["id"]}
        else:
            if c["op"] == "add":
                members.add((c["id"], c["member"]))
            else:
                members.discard((c["id"], c["member"]))
    return users, groups, members


def follow(client, since=0):
    out = []
    while True:
        r = client.get("/changes", params={"since": since, "limit": 1000})
        assert r.status == 200, r
        out += r.json["changes"]
        if not r.json["changes"]:
            return out, since
        since = r.json["next"]


def read_all(client):
    users = {}
    start = 1
    while True:
        r = client.get("/Users", params={"startIndex": start, "count": 1000})
        assert r.status == 200, r
        for u in r.json.get("Resources", []):
            users[u["id"]] = u
        if start + len(r.json.get("Resources", [])) > r.json["totalResults"] or not r.json.get("Resources"):
            break
        start += len(r.json["Resources"])
    groups = {}
    r = Scim.get(client, "/Groups", params={"count": 1000})
    for g in r.json.get("Resources", []):
        groups[g["id"]] = g
    members = set()
    for uid, u in users.items():
        for g in u.get("groups", []):
            members.add((g["value"], uid))
    return users, groups, members


def strip_user(u):
    return {k: v for k, v in u.items() if k not in ("meta", "groups")}


def strip_group(g):
    return {k: v for k, v in g.items() if k not in ("meta", "members")}


def test_change_feed_rebuilds_directory_across_kill_and_restart(idsync_bin, tmp_path):
    data = str(tmp_path / "data")
    os.makedirs(data)
    srv = start_server(idsync_bin, data, NO_RATE_LIMITS)
    try:
        info = add_connection(idsync_bin, data)
        token = cli_json(idsync_bin, "read-token", "add", "feed", "--data", data, "--json")["token"]
        idp = Scim(srv.scim_base, info["token"])
        reader = Scim(f"{root_of(srv)}/directory/v2/users", token)
        uids = [create(idp, okta_user(f"{uniq('f')}@example.com")) for _ in range(20)]
        g = idp.create_group(display_name="Feed", members=uids[:10])
        first, cursor = follow(reader, 0)
        state = fold_feed(first)
        srv.kill()  # SIGKILL in the middle: the consumer keeps its cursor
        srv = start_server(idsync_bin, data, NO_RATE_LIMITS)
        idp = Scim(srv.scim_base, info["token"])
        reader = Scim(f"{root_of(srv)}/directory/v2/users", token)
        entra_deactivate(idp, uids[0])
        assert idp.delete(f"/Users/{uids[1]}").status == 204
        idp.patch_ops(f"/Groups/{g['id']}", [{"op": "remove", "path": f'members[value eq "{uids[2]}"]'},
                                              {"op": "add", "path": "members", "value": [{"value": uids[15]}]}])
        idp.patch_ops(f"/Users/{uids[3]}", [{"op": "replace", "path": "displayName", "value": "Renamed"}])
        rest, _ = follow(reader, cursor)
        assert rest and rest[0]["seq"] > cursor
        users, groups, members = fold_feed(rest, state)
        want_users, want_groups, want_members = read_all(reader)
        assert {k: strip_user(v) for k, v in users.items()} == {k: strip_user(v) for k, v in want_users.items()}
        assert {k: strip_group(v) for k, v in groups.items()} == {k: strip_group(v) for k, v in want_groups.items()}
        assert members == want_members
        seqs = [c["seq"] for c in first + rest]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    finally:
        if srv.alive():
            srv.stop(signal.SIGTERM)


def test_change_feed_long_poll_wakes_on_write(server, make_scim, read):
    import threading
    import time

    reader = read()
    r = reader.get("/changes", params={"since": 0, "limit": 1})
    last = r.json["last"]
    idp = make_scim()
    result = {}

    def poll():
        t0 = time.monotonic()
        result["resp"] = reader.get("/changes", params={"since": last, "wait": 20})
        result["took"] = time.monotonic() - t0

    t = threading.Thread(target=poll)
    t.start()
    time.sleep(0.5)
    name = f"{uniq('lp')}@example.com"
    create(idp, okta_user(name))
    t.join(25)
    assert result["resp"].status == 200
    assert any(c["type"] == "User" and c["resource"]["userName"] == name for c in result["resp"].json["changes"])
    assert result["took"] < 10


def test_explain_names_the_request_that_set_each_value(idsync_bin, server, make_scim):
    idp = make_scim()
    name = f"{uniq('prov')}@example.com"
    r = idp.post("/Users", okta_user(name), headers={"X-Request-Id": "req-create-1"})
    assert r.status == 201, r
    uid = r.json["id"]
    g = idp.create_group(display_name=uniq("ProvGroup"))
    r = idp.patch_ops(f"/Users/{uid}", [{"op": "replace", "path": "displayName", "value": "Later"}],
                      headers={"X-Request-Id": "req-patch-2"})
    assert r.status == 200, r
    r = idp.patch_ops(f"/Groups/{g['id']}", [{"op": "add", "path": "members", "value": [{"value": uid}]}],
                      headers={"X-Request-Id": "req-member-3"})
    assert r.status in (200, 204), r
    why = explain(idsync_bin, server, name)
    assert why["attributes"]["username"]["request_id"] == "req-create-1"
    assert why["attributes"]["displayName"]["request_id"] == "req-patch-2"
    assert why["attributes"]["displayName"]["source"] == "displayName"
    assert why["attributes"]["displayName"]["rule"] == "attributes.displayName.sources[0]"
    [m] = why["memberships"]
    assert m["group"] == g["displayName"] and m["request_id"] == "req-member-3"
    assert m["grants"][0]["rule"] == "on_the_fly"


# --------------------------------------------------------------------------- invariant


@pytest.mark.parametrize("directory", ["users", "customers"])
def test_zz_incremental_derivation_equals_whole_directory_derivation(idsync_bin, server, directory):
    """Runs last in this module: after every write above was derived incrementally, deriving
    the whole directory from the mirrors again must change nothing."""
    r = cli_json(idsync_bin, "rederive", "--directory", directory, "--data", server.data_dir, "--json")
    assert all(v == 0 for v in r["counts"].values()), r
    assert all(v == 0 for k, v in r["applied"].items() if k != "conflicts"), r
