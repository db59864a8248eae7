"""PATCH: RFC 7644 §3.5.2 add/replace/remove semantics and its error codes (§3.12)."""

import pytest

from conftest import (
    ENTERPRISE_URN,
    PATCH_URN,
    assert_error,
    assert_scim_json,
    uniq,
)


def _user(scim, **kw):
    body = dict(
        title="Engineer",
        nickName="nick",
        name={"givenName": "Barbara", "familyName": "Jensen", "middleName": "Jane"},
        emails=[{"type": "work", "value": "bjensen@example.com", "primary": True},
                {"type": "home", "value": "babs@home.org"}],
    )
    body.update(kw)
    return scim.create_user(**body)


def _get(scim, u):
    r = scim.get(f"/Users/{u['id']}")
    assert r.status == 200, r
    return r.json


def _ok(scim, u, ops, **kw):
    r = scim.patch_ops(f"/Users/{u['id']}", ops, **kw)
    assert r.status == 200, r
    assert_scim_json(r)
    return r


def _emails(user):
    return sorted((e.get("type"), e["value"]) for e in user.get("emails", []))


# --------------------------------------------------------------------------- add


def test_patch_returns_resource_with_new_version(scim):
    u = _user(scim)
    r = _ok(scim, u, [{"op": "replace", "path": "title", "value": "Boss"}])
    assert r.json["id"] == u["id"]
    assert r.json["title"] == "Boss"
    assert r.json["meta"]["version"] != u["meta"]["version"]
    assert r.headers.get("etag") == r.json["meta"]["version"]
    assert r.json["meta"]["lastModified"] >= u["meta"]["lastModified"]
    assert r.json["meta"]["created"] == u["meta"]["created"]


def test_add_single_valued_sets_or_replaces(scim):
    u = _user(scim)
    _ok(scim, u, [{"op": "add", "path": "title", "value": "Director"},
                  {"op": "add", "path": "profileUrl", "value": "https://example.com/b"}])
    got = _get(scim, u)
    assert got["title"] == "Director"
    assert got["profileUrl"] == "https://example.com/b"


def test_add_to_multi_valued_appends(scim):
    u = _user(scim)
    _ok(scim, u, [{"op": "add", "path": "emails", "value": [{"type": "other", "value": "b@other.org"}]}])
    assert _emails(_get(scim, u)) == [("home", "babs@home.org"), ("other", "b@other.org"),
                                      ("work", "bjensen@example.com")]


def test_add_pathless_object_merges(scim):
    u = _user(scim)
    _ok(scim, u, [{"op": "add", "value": {
        "nickName": "Babs",
        "emails": [{"type": "other", "value": "x@other.org"}],
        "name": {"honorificPrefix": "Ms."}}}])
    got = _get(scim, u)
    assert got["nickName"] == "Babs"
    assert ("other", "x@other.org") in _emails(got)
    assert ("work", "bjensen@example.com") in _emails(got)
    assert got["name"]["honorificPrefix"] == "Ms."
    assert got["name"]["givenName"] == "Barbara"  # complex add merges sub-attributes
    assert got["title"] == "Engineer"


def test_add_sub_attribute_of_absent_complex(scim):
    u = scim.create_user(name=None)
    _ok(scim, u, [{"op": "add", "path": "name.givenName", "value": "Solo"}])
    assert _get(scim, u)["name"]["givenName"] == "Solo"


def test_add_extension_attribute(scim):
    u = _user(scim)
    _ok(scim, u, [{"op": "add", "path": f"{ENTERPRISE_URN}:department", "value": "Sales"}])
    got = _get(scim, u)
    assert got[ENTERPRISE_URN]["department"] == "Sales"
    assert ENTERPRISE_URN in got["schemas"]


def test_add_extension_object_pathless(scim):
    u = _user(scim)
    _ok(scim, u, [{"op": "add", "value": {ENTERPRISE_URN: {"employeeNumber": "42", "costCenter": "CC"}}}])
    got = _get(scim, u)
    assert got[ENTERPRISE_URN]["employeeNumber"] == "42"
    assert got[ENTERPRISE_URN]["costCenter"] == "CC"


def test_add_primary_email_clears_other_primary(scim):
    # RFC 7644 §3.5.2: setting primary=true on one value sets it false on the others.
    u = _user(scim)
    _ok(scim, u, [{"op": "add", "path": "emails", "value": [{"type": "other", "value": "p@x.org", "primary": True}]}])
    primaries = [e["value"] for e in _get(scim, u)["emails"] if e.get("primary") is True]
    assert primaries == ["p@x.org"]


# --------------------------------------------------------------------------- replace


def test_replace_single_valued(scim):
    u = _user(scim)
    _ok(scim, u, [{"op": "replace", "path": "nickName", "value": "Babs"}])
    assert _get(scim, u)["nickName"] == "Babs"


def test_replace_complex_keeps_unspecified_sub_attributes(scim):
    # RFC 7644 §3.5.2.3: sub-attributes not in "value" are left unchanged.
    u = _user(scim)
    _ok(scim, u, [{"op": "replace", "path": "name", "value": {"givenName": "Babs"}}])
    name = _get(scim, u)["name"]
    assert name["givenName"] == "Babs"
    assert name["familyName"] == "Jensen"
    assert name["middleName"] == "Jane"


def test_replace_sub_attribute(scim):
    u = _user(scim)
    _ok(scim, u, [{"op": "replace", "path": "name.familyName", "value": "Smith"}])
    name = _get(scim, u)["name"]
    assert name == {"givenName": "Barbara", "familyName": "Smith", "middleName": "Jane"} or (
        name["familyName"] == "Smith" and name["givenName"] == "Barbara")


def test_replace_multi_valued_replaces_all(scim):
    u = _user(scim)
    _ok(scim, u, [{"op": "replace", "path": "emails", "value": [{"type": "work", "value": "only@example.com"}]}])
    assert _emails(_get(scim, u)) == [("work", "only@example.com")]


def test_replace_filtered_sub_attribute(scim):
    u = _user(scim)
    _ok(scim, u, [{"op": "replace", "path": 'emails[type eq "work"].value', "value": "new@example.com"}])
    got = _get(scim, u)
    assert _emails(got) == [("home", "babs@home.org"), ("work", "new@example.com")]
    work = [e for e in got["emails"] if e["type"] == "work"][0]
    assert work.get("primary") is True  # other sub-attributes of the matched value untouched


def test_replace_filtered_element(scim):
    u = _user(scim)
    _ok(scim, u, [{"op": "replace", "path": 'emails[type eq "home"]',
                   "value": {"type": "home", "value": "new@home.org"}}])
    assert _emails(_get(scim, u)) == [("home", "new@home.org"), ("work", "bjensen@example.com")]


def test_replace_absent_attribute_adds_it(scim):
    u = _user(scim)
    _ok(scim, u, [{"op": "replace", "path": "userType", "value": "Contractor"}])
    assert _get(scim, u)["userType"] == "Contractor"


def test_replace_pathless(scim):
    u = _user(scim)
    _ok(scim, u, [{"op": "replace", "value": {"title": "CTO", "active": False}}])
    got = _get(scim, u)
    assert got["title"] == "CTO"
    assert got["active"] is False
    assert got["nickName"] == "nick"


def test_replace_username_to_taken_409(scim):
    a = scim.create_user()
    b = scim.create_user()
    r = scim.patch_ops(f"/Users/{b['id']}", [{"op": "replace", "path": "userName", "value": a["userName"].upper()}])
    assert_error(r, 409, "uniqueness")
    assert _get(scim, b)["userName"] == b["userName"]


def test_replace_extension_manager(scim):
    boss = scim.create_user()
    u = _user(scim)
    _ok(scim, u, [{"op": "replace", "path": f"{ENTERPRISE_URN}:manager", "value": {"value": boss["id"]}}])
    assert _get(scim, u)[ENTERPRISE_URN]["manager"]["value"] == boss["id"]
    _ok(scim, u, [{"op": "remove", "path": f"{ENTERPRISE_URN}:manager"}])
    assert "manager" not in _get(scim, u).get(ENTERPRISE_URN, {})


# --------------------------------------------------------------------------- remove


def test_remove_single_valued(scim):
    u = _user(scim)
    _ok(scim, u, [{"op": "remove", "path": "title"}])
    got = _get(scim, u)
    assert "title" not in got
    assert got["nickName"] == "nick"


def test_remove_sub_attribute(scim):
    u = _user(scim)
    _ok(scim, u, [{"op": "remove", "path": "name.middleName"}])
    name = _get(scim, u)["name"]
    assert "middleName" not in name
    assert name["givenName"] == "Barbara"


def test_remove_filtered_values(scim):
    u = _user(scim)
    _ok(scim, u, [{"op": "remove", "path": 'emails[type eq "home"]'}])
    assert _emails(_get(scim, u)) == [("work", "bjensen@example.com")]


def test_remove_all_values(scim):
    u = _user(scim)
    _ok(scim, u, [{"op": "remove", "path": "emails"}])
    assert not _get(scim, u).get("emails")


def test_remove_last_filtered_value_unassigns(scim):
    u = _user(scim, emails=[{"type": "work", "value": "w@example.com"}])
    _ok(scim, u, [{"op": "remove", "path": 'emails[value eq "w@example.com"]'}])
    assert not _get(scim, u).get("emails")


def test_operations_apply_in_order(scim):
    u = _user(scim)
    _ok(scim, u, [{"op": "remove", "path": "title"},
                  {"op": "add", "path": "title", "value": "Again"},
                  {"op": "replace", "path": "nickName", "value": "n2"}])
    got = _get(scim, u)
    assert got["title"] == "Again" and got["nickName"] == "n2"


def test_patch_is_atomic(scim):
    # RFC 7644 §3.5.2: if one operation fails, none is applied.
    u = _user(scim)
    r = scim.patch_ops(f"/Users/{u['id']}", [{"op": "replace", "path": "title", "value": "Changed"},
                                             {"op": "replace", "path": "active", "value": "maybe"}])
    assert_error(r, 400)
    got = _get(scim, u)
    assert got["title"] == "Engineer"
    assert got["meta"]["version"] == u["meta"]["version"]


def test_patch_attributes_query_applies(scim):
    u = _user(scim)
    r = _ok(scim, u, [{"op": "replace", "path": "title", "value": "X"}], params={"attributes": "title"})
    assert r.json["id"] == u["id"]
    assert r.json["title"] == "X"
    assert "emails" not in r.json and "name" not in r.json
    r = _ok(scim, u, [{"op": "replace", "path": "title", "value": "Y"}], params={"excludedAttributes": "emails"})
    assert "emails" not in r.json and r.json["title"] == "Y"


def test_patch_unknown_resource_404(scim):
    r = scim.patch_ops("/Users/00000000-0000-4000-8000-000000000000",
                       [{"op": "replace", "path": "title", "value": "x"}])
    assert_error(r, 404)


def test_patch_accepts_application_json(scim):
    u = _user(scim)
    r = scim.patch(f"/Users/{u['id']}", {"schemas": [PATCH_URN], "Operations": [
        {"op": "replace", "path": "title", "value": "J"}]}, content_type="application/json")
    assert r.status == 200, r
    assert _get(scim, u)["title"] == "J"


# --------------------------------------------------------------------------- errors


def test_remove_without_path_is_no_target(scim):
    # RFC 7644 §3.5.2.2: remove without "path" fails with 400 noTarget.
    u = _user(scim)
    assert_error(scim.patch_ops(f"/Users/{u['id']}", [{"op": "remove"}]), 400, "noTarget")
    assert _get(scim, u)["title"] == "Engineer"


@pytest.mark.parametrize("path", [
    'name..givenName',
    'emails[type eq "work"',
    'emails[type eq "work"]]',
    'emails[type zz "work"].value',
    'emails[].value',
    '.title',
    'title.',
    'emails[type eq "work"].value.extra',
])
def test_invalid_path(scim, path):
    u = _user(scim)
    r = scim.patch_ops(f"/Users/{u['id']}", [{"op": "replace", "path": path, "value": "x"}])
    assert_error(r, 400, "invalidPath")


@pytest.mark.parametrize("op", [
    {"op": "replace", "path": "active", "value": "maybe"},
    {"op": "replace", "path": "active", "value": 3},
    {"op": "replace", "path": "emails", "value": "not-a-list-or-object"},
    {"op": "replace", "path": "name", "value": "not-an-object"},
    {"op": "replace", "path": "title", "value": {"nested": "object"}},
    {"op": "add", "path": "title"},  # missing value: "a required value was missing"
])
def test_invalid_value(scim, op):
    u = _user(scim)
    assert_error(scim.patch_ops(f"/Users/{u['id']}", [op]), 400, "invalidValue")


def test_mutability_read_only_id(scim):
    # RFC 7644 §3.5.2: modifying a readOnly attribute -> 400 mutability. (Entra/Okta send the
    # resource's own id inside path-less values; that case is tolerated, see test_idp_quirks.)
    u = _user(scim)
    r = scim.patch_ops(f"/Users/{u['id']}", [{"op": "replace", "path": "id", "value": "other-id"}])
    assert_error(r, 400, "mutability")
    assert scim.get(f"/Users/{u['id']}").status == 200


def test_mutability_meta(scim):
    u = _user(scim)
    r = scim.patch_ops(f"/Users/{u['id']}", [{"op": "replace", "path": "meta.created",
                                              "value": "2001-01-01T00:00:00Z"}])
    assert_error(r, 400, "mutability")


@pytest.mark.parametrize("body", [
    {"schemas": [PATCH_URN]},
    {"schemas": [PATCH_URN], "Operations": "replace"},
    {"schemas": [PATCH_URN], "Operations": {"op": "replace", "path": "title", "value": "x"}},
    {"schemas": [PATCH_URN], "Operations": [{"path": "title", "value": "x"}]},
    {"schemas": [PATCH_URN], "Operations": [{"op": 5, "path": "title", "value": "x"}]},
    {"schemas": [PATCH_URN], "Operations": ["replace"]},
    [{"op": "replace", "path": "title", "value": "x"}],
])
def test_invalid_syntax(scim, body):
    u = _user(scim)
    assert_error(scim.patch(f"/Users/{u['id']}", body), 400, "invalidSyntax")
    assert _get(scim, u)["title"] == "Engineer"


def test_unknown_op_rejected(scim):
    # RFC 7644 §3.5.2: op is one of add/remove/replace; anything else is a malformed request.
    u = _user(scim)
    r = scim.patch_ops(f"/Users/{u['id']}", [{"op": "frobnicate", "path": "title", "value": "x"}])
    assert_error(r, 400, ("invalidSyntax", "invalidValue"))


def test_malformed_json_patch(scim):
    u = _user(scim)
    assert_error(scim.patch(f"/Users/{u['id']}", raw='{"Operations": [ {"op": '), 400, "invalidSyntax")


def test_group_patch_replace_display_name_unique_id(scim):
    g = scim.create_group()
    new = uniq("grp")
    r = scim.patch_ops(f"/Groups/{g['id']}", [{"op": "replace", "path": "displayName", "value": new}])
    assert r.status in (200, 204), r  # RFC 7644 §3.5.2: 204 allowed (used for groups, E-12)
    got = scim.get(f"/Groups/{g['id']}").json
    assert got["displayName"] == new
    assert got["id"] == g["id"]
    r = scim.patch_ops(f"/Groups/{g['id']}", [{"op": "replace", "path": "displayName", "value": new + "2"}],
                       params={"attributes": "displayName"})
    assert r.status == 200, r  # with "attributes" the RFC requires 200 and the resource
    assert r.json["displayName"] == new + "2"
