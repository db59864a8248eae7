"""Identity correctness of the effective directory (issue #11, items 1-6), from the
administrator's point of view: an identity provider's requests, then what the read API,
`explain`, `conflicts` and the change feed show.

Every test ends with `idsync rederive` changing nothing: the live directory is what a
re-derivation of the whole directory makes of the same mirrors."""
import json

import pytest

from conftest import PATCH_URN, cli_json, run_cli, uniq
from test_policy import (  # noqa: F401 (fixtures)
    eff_groups,
    eff_user,
    explain,
    okta_user,
    read,
    read_tokens,
    set_policy,
)


def rederive_changes_nothing(idsync_bin, server, directory="users"):
    r = cli_json(idsync_bin, "rederive", "--directory", directory, "--data", server.data_dir, "--json")
    assert all(v == 0 for k, v in r["applied"].items() if k != "conflicts"), r


def conflicts(idsync_bin, server, directory="users"):
    return cli_json(idsync_bin, "conflicts", "--directory", directory, "--data", server.data_dir,
                    "--json")


def changes_of(idsync_bin, server, user_id, directory="users"):
    r = run_cli(idsync_bin, "changes", "--directory", directory, "--data", server.data_dir)
    assert r.returncode == 0, r.stderr
    return [c for c in map(json.loads, r.stdout.split("\n")[:-1]) if c["id"] == user_id]


def create(idp, body):
    r = idp.post("/Users", body)
    assert r.status == 201, r
    return r.json["id"]


# --------------------------------------------------------------------------- 1. re-provisioning


@pytest.mark.parametrize("linking", ["username", "none"])
def test_deleted_and_created_again_is_the_same_person(idsync_bin, server, make_scim, read, tmp_path,
                                                      linking):
    """OneLogin, JumpCloud and Entra with hard delete send DELETE on unassign and POST with the
    same userName on re-assign: the person comes back as the same effective user, active, with
    memberships derived again."""
    idp = make_scim()
    set_policy(idsync_bin, server, idp.conn["name"],
               {"users": {"on_delete": "disable"}, "linking": {"key": linking}}, tmp_path)
    name = f"{uniq('rehire')}@example.com"
    first = create(idp, okta_user(name, displayName="Before"))
    design = idp.create_group(display_name=uniq("Design"), members=[first])
    before = eff_user(read(), name)
    assert before["active"] is True and eff_groups(before) == [design["displayName"]]

    assert idp.delete(f"/Users/{first}").status == 204
    gone = eff_user(read(), name)
    assert gone["id"] == before["id"] and gone["active"] is False

    second = create(idp, okta_user(name, displayName="After"))
    assert second != first
    r = idp.patch_ops(f"/Groups/{design['id']}",
                      [{"op": "add", "path": "members", "value": [{"value": second}]}])
    assert r.status in (200, 204), r
    back = eff_user(read(), name)
    assert back["id"] == before["id"], "the same effective user, not a new one"
    assert back["active"] is True and back["displayName"] == "After"
    assert eff_groups(back) == [design["displayName"]]
    why = explain(idsync_bin, server, name)
    assert [(s["source_user"], s["deleted"]) for s in why["sources"]] == [(second, False)]
    assert not [c for c in conflicts(idsync_bin, server) if c["username"] == name]
    rederive_changes_nothing(idsync_bin, server)


# --------------------------------------------------------------------------- 2. no silent merges


def test_two_people_of_one_connection_are_never_merged(idsync_bin, server, make_scim, read,
                                                        tmp_path):
    """alice@a and alice@b map to the same username under strip_domain: the first keeps it, the
    second is a conflict naming the holder; nothing of the second is written onto the first."""
    idp = make_scim()
    set_policy(idsync_bin, server, idp.conn["name"],
               {"attributes": {"username": {"sources": ["userName"], "transforms": ["strip_domain"]}}},
               tmp_path)
    local = uniq("alice")
    first = create(idp, okta_user(f"{local}@a.example", displayName="Alice of A"))
    second = create(idp, okta_user(f"{local}@b.example", displayName="Alice of B"))
    holder = eff_user(read(), local)
    assert holder["displayName"] == "Alice of A"
    assert holder["emails"][0]["value"] == f"{local}@a.example"
    why = explain(idsync_bin, server, local)
    assert [s["source_user"] for s in why["sources"]] == [first]
    [c] = [c for c in conflicts(idsync_bin, server) if c["source_user"] == second]
    assert c["username"] == local and c["detail"]["held_by"] == holder["id"]
    assert c["detail"]["held_by_username"] == local
    text = run_cli(idsync_bin, "conflicts", "--data", server.data_dir).stdout
    line = next(l for l in text.splitlines() if second in l)
    assert f"held by {local}, id {holder['id']}" in line, line
    # The second person changes: still nothing reaches the first.
    r = idp.patch_ops(f"/Users/{second}", [{"op": "replace", "path": "displayName", "value": "B2"}])
    assert r.status == 200, r
    assert eff_user(read(), local)["displayName"] == "Alice of A"
    # The first leaves (on_delete delete): the name is free, and the second is let in.
    set_policy(idsync_bin, server, idp.conn["name"],
               {"attributes": {"username": {"sources": ["userName"], "transforms": ["strip_domain"]}},
                "users": {"on_delete": "delete"}}, tmp_path)
    assert idp.delete(f"/Users/{first}").status == 204
    now = eff_user(read(), local)
    assert now is not None and now["id"] != holder["id"] and now["displayName"] == "B2"
    assert not [c for c in conflicts(idsync_bin, server) if c["source_user"] == second]
    rederive_changes_nothing(idsync_bin, server)


# --------------------------------------------------------------------------- 3. several sources


@pytest.mark.parametrize("order", ["entra_first", "okta_first"])
def test_when_every_source_leaves_the_highest_priority_decides(idsync_bin, server, make_scim, read,
                                                              tmp_path, order):
    """Entra (priority 10, on_delete disable) and Okta (priority 0, on_delete delete) hold one
    person: whichever leaves last, Entra's rule decides, and the change feed says so."""
    entra, okta = make_scim(), make_scim()
    set_policy(idsync_bin, server, entra.conn["name"],
               {"priority": 10, "users": {"on_delete": "disable"}}, tmp_path)
    set_policy(idsync_bin, server, okta.conn["name"],
               {"priority": 0, "users": {"on_delete": "delete"}}, tmp_path)
    name = f"{uniq('both')}@example.com"
    ids = {"entra": create(entra, okta_user(name)), "okta": create(okta, okta_user(name))}
    user = eff_user(read(), name)
    assert len(explain(idsync_bin, server, name)["sources"]) == 2
    clients = {"entra": entra, "okta": okta}
    leave = ["entra", "okta"] if order == "entra_first" else ["okta", "entra"]
    for who in leave:
        assert clients[who].delete(f"/Users/{ids[who]}").status == 204
    left = eff_user(read(), name)
    assert left is not None and left["id"] == user["id"] and left["active"] is False
    why = explain(idsync_bin, server, name)
    assert "users.on_delete is disable" in why["state_reason"]
    last = [c for c in changes_of(idsync_bin, server, user["id"]) if c["type"] == "User"][-1]
    assert last["cause"]["decided_by"]["connection"] == entra.conn["name"], last
    assert last["cause"]["decided_by"]["setting"] == "users.on_delete"
    rederive_changes_nothing(idsync_bin, server)


# --------------------------------------------------------------------------- 4. linking key changes


def test_a_linking_key_change_keeps_the_person_together(idsync_bin, server, make_scim, read,
                                                        tmp_path):
    """Linked by e-mail, one person from two identity providers; one of them changes the e-mail
    (a name change): still one person, and a re-derivation agrees."""
    entra, okta = make_scim(), make_scim()
    for idp, prio in ((entra, 10), (okta, 0)):
        set_policy(idsync_bin, server, idp.conn["name"],
                   {"priority": prio, "linking": {"key": "email"},
                    "attributes": {"username": {"sources": ["userName"]}}}, tmp_path)
    mail = f"{uniq('mail')}@corp.example"
    e = create(entra, okta_user(f"{uniq('e')}@entra.example",
                                emails=[{"value": mail, "primary": True, "type": "work"}]))
    o = create(okta, okta_user(f"{uniq('o')}@okta.example",
                               emails=[{"value": mail, "primary": True, "type": "work"}]))
    r = okta.patch_ops(f"/Users/{o}", [{"op": "replace", "path": "emails",
                                        "value": [{"value": f"new-{mail}", "primary": True}]}])
    assert r.status == 200, r
    # Entra (priority 10) still gives the e-mail; Okta's new one does not split the person.
    why = explain(idsync_bin, server, mail_holder(read(), mail))
    assert sorted(s["source_user"] for s in why["sources"]) == sorted([e, o])
    rederive_changes_nothing(idsync_bin, server)


def mail_holder(read_client, mail):
    r = read_client.get("/Users", params={"filter": f'emails.value eq "{mail}"'})
    assert r.status == 200 and r.json["totalResults"] == 1, r
    return r.json["Resources"][0]["id"]


# --------------------------------------------------------------------------- 5. groups.import off


def test_groups_import_off_assigns_groups_that_exist(idsync_bin, server, make_scim, read, tmp_path):
    """miniOrange's "Import Groups" switch: off creates no group, but memberships in groups that
    already exist in the directory are assigned, and follow when such a group appears later."""
    main, other = make_scim(), make_scim()
    set_policy(idsync_bin, server, other.conn["name"], {"groups": {"import": False}}, tmp_path)
    existing, later = uniq("Existing"), uniq("Later")
    creator = create(main, okta_user(f"{uniq('c')}@example.com"))
    main.create_group(display_name=existing, members=[creator])
    name = f"{uniq('noimport')}@example.com"
    uid = create(other, okta_user(name))
    other.create_group(display_name=existing, members=[uid])
    other.create_group(display_name=later, members=[uid])
    assert eff_groups(eff_user(read(), name)) == [existing]
    r = read().get("/Groups", params={"filter": f'displayName eq "{later}"'})
    assert r.json["totalResults"] == 0, "no group is created"
    why = explain(idsync_bin, server, name)
    [m] = [m for m in why["memberships"] if m["group"] == existing]
    assert m["grants"][0]["existing_only"] is True
    # The group appears (another connection creates it): the membership follows.
    main.create_group(display_name=later, members=[creator])
    assert eff_groups(eff_user(read(), name)) == sorted([existing, later])
    rederive_changes_nothing(idsync_bin, server)


# --------------------------------------------------------------------------- 6. explain


def test_explain_names_the_source_group_plainly(idsync_bin, server, scim, read):
    name = f"{uniq('plain')}@example.com"
    uid = create(scim, okta_user(name))
    group = uniq("Design")
    scim.create_group(display_name=group, members=[uid])
    why = explain(idsync_bin, server, name)
    [m] = [m for m in why["memberships"] if m["group"] == group]
    assert m["grants"][0]["source_group"] == group  # not "\"Design\""
