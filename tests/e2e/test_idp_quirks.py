"""One test per identity-provider quirk from /work/shared/IDP-QUIRKS.md.

Each test sends the request shape the provider documents (the source is named in the
docstring with the quirk number) and then reads the resource back to check its state.
Where a provider documents 204 for a PATCH (Entra group PATCH, Okta deactivation) we accept
200 or 204; the resulting state is what matters.
"""

import os
import uuid


from conftest import (
    ENTERPRISE_URN,
    Scim,
    add_connection,
    GROUP_URN,
    PATCH_URN,
    TEST_STORE,
    USER_URN,
    assert_error,
    assert_list_response,
    assert_scim_json,
    pg_query,
    resources,
    stored_bytes,
    uniq,
)

AAD_FLAG = {"aadOptscim062020": None}
ADSCIM_GROUP = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"
OKTA_UA = {"User-Agent": "Okta SCIM Client 1.0.0"}


def _patch(scim, path, ops, params=None, headers=None):
    return scim.patch(path, {"schemas": [PATCH_URN], "Operations": ops}, params=params, headers=headers)


def _entra_user(scim, **extra):
    """Entra's create-user body [E1]."""
    name = f"Test_User_{uuid.uuid4()}"
    body = {
        "schemas": [USER_URN, ENTERPRISE_URN],
        "externalId": str(uuid.uuid4()),
        "userName": name,
        "active": True,
        "emails": [{"primary": True, "type": "work", "value": f"{name}@testuser.com"}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
        "roles": [],
    }
    body.update(extra)
    r = scim.post("/Users", body)
    assert r.status == 201, r
    return r.json


def _entra_group(scim, **extra):
    body = {"schemas": [GROUP_URN, ADSCIM_GROUP], "externalId": str(uuid.uuid4()),
            "displayName": uniq("displayName"), "meta": {"resourceType": "Group"}, "members": []}
    body.update(extra)
    r = scim.post("/Groups", body)
    assert r.status == 201, r
    return r.json


def _get(scim, kind, rid):
    r = scim.get(f"/{kind}/{rid}")
    assert r.status == 200, r
    return r.json


def _okta_user_body(user_name, **extra):
    """Okta's create-user body [O1], including read-only "groups" and a plaintext password."""
    body = {
        "schemas": [USER_URN],
        "userName": user_name,
        "name": {"givenName": "Test", "familyName": "User"},
        "emails": [{"primary": True, "value": user_name, "type": "work"}],
        "displayName": "Test User",
        "locale": "en-US",
        "externalId": "00ujl29u0le5T6Aj10h7",
        "groups": [],
        "password": "1mz050nq",
        "active": True,
    }
    body.update(extra)
    return body


# =========================================================================== Microsoft Entra ID


def test_entra_capitalised_patch_ops(scim):
    """E-1: "Add"/"Replace"/"Remove" [E1]."""
    u = _entra_user(scim)
    r = _patch(scim, f"/Users/{u['id']}", [
        {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"},
        {"op": "Add", "path": "title", "value": "Engineer"},
        {"op": "Remove", "path": "name.formatted"},
    ])
    assert r.status == 200, r
    got = _get(scim, "Users", u["id"])
    assert got["name"]["familyName"] == "updatedFamilyName"
    assert got["title"] == "Engineer"
    assert "formatted" not in got["name"]
    for op in ("ADD", "rEpLaCe"):
        assert _patch(scim, f"/Users/{u['id']}", [{"op": op, "path": "nickName", "value": op}]).status == 200
    assert _get(scim, "Users", u["id"])["nickName"] == "rEpLaCe"


def test_entra_boolean_strings_false(scim):
    """E-2: {"op":"Replace","path":"active","value":"False"} from a flag-less job [E2]."""
    u = _entra_user(scim)
    r = _patch(scim, f"/Users/{u['id']}", [{"op": "Replace", "path": "active", "value": "False"}])
    assert r.status == 200, r
    got = _get(scim, "Users", u["id"])
    assert got["active"] is False  # a real boolean, not the string
    r = _patch(scim, f"/Users/{u['id']}", [{"op": "Replace", "path": "active", "value": "TRUE"}])
    assert r.status == 200, r
    assert _get(scim, "Users", u["id"])["active"] is True


def test_entra_active_true_string_on_post(scim):
    """E-2: "active":"True" on POST (AzureAD/SCIMReferenceCode #21); PUT likewise."""
    u = _entra_user(scim, active="True")
    assert u["active"] is True
    assert _get(scim, "Users", u["id"])["active"] is True
    body = {"schemas": [USER_URN], "userName": u["userName"], "active": "false"}
    r = scim.put(f"/Users/{u['id']}", body)
    assert r.status == 200, r
    assert _get(scim, "Users", u["id"])["active"] is False


def test_entra_aadOptscim062020_query_param_ignored(scim):
    """E-3: the tenant-URL flag arrives as a bare query parameter on every request [E2]."""
    u = _entra_user(scim)
    r = scim.get("/Users", params={**AAD_FLAG, "filter": f'userName eq "{u["userName"]}"'})
    assert_list_response(r)
    assert r.json["totalResults"] == 1
    assert scim.get(f"/Users/{u['id']}", params=AAD_FLAG).status == 200
    r = _patch(scim, f"/Users/{u['id']}", [{"op": "replace", "path": "active", "value": False}], params=AAD_FLAG)
    assert r.status == 200, r
    r = scim.post("/Groups", {"schemas": [GROUP_URN], "displayName": uniq("g")}, params=AAD_FLAG)
    assert r.status == 201, r
    assert scim.get("/Groups", params={**AAD_FLAG, "excludedAttributes": "members"}).status == 200
    assert scim.get("/ServiceProviderConfig", params=AAD_FLAG).status == 200
    assert scim.delete(f"/Users/{u['id']}", params=AAD_FLAG).status == 204


def test_entra_pathless_dotted_and_urn_keys(scim):
    """E-4: path-less replace with dotted and URN-qualified keys [E2]; also with "add"."""
    u = _entra_user(scim)
    r = _patch(scim, f"/Users/{u['id']}", [{"op": "replace", "value": {
        "displayName": "Bjfe",
        "name.givenName": "Kkom",
        "name.familyName": "Unua",
        f"{ENTERPRISE_URN}:employeeNumber": "Aklq"}}], params=AAD_FLAG)
    assert r.status == 200, r
    got = _get(scim, "Users", u["id"])
    assert got["displayName"] == "Bjfe"
    assert got["name"]["givenName"] == "Kkom"
    assert got["name"]["familyName"] == "Unua"
    assert got[ENTERPRISE_URN]["employeeNumber"] == "Aklq"
    assert "name.givenName" not in got and f"{ENTERPRISE_URN}:employeeNumber" not in got
    # Same shape with "add" (pond/scimitar #123).
    r = _patch(scim, f"/Users/{u['id']}", [{"op": "add", "value": {
        "name.givenName": "Second", f"{ENTERPRISE_URN}:department": "Ops"}}], params=AAD_FLAG)
    assert r.status == 200, r
    got = _get(scim, "Users", u["id"])
    assert got["name"]["givenName"] == "Second"
    assert got["name"]["familyName"] == "Unua"
    assert got[ENTERPRISE_URN]["department"] == "Ops"
    assert got[ENTERPRISE_URN]["employeeNumber"] == "Aklq"


def test_entra_remove_members_legacy_value_list(scim):
    """E-5: {"op":"Remove","path":"members","value":[{"$ref":null,"value":...}]} removes only those [E1]."""
    a, b, c = (_entra_user(scim) for _ in range(3))
    g = _entra_group(scim)
    for x in (a, b, c):  # one PATCH per user per group, as Entra does
        r = _patch(scim, f"/Groups/{g['id']}", [{"op": "Add", "path": "members",
                                                  "value": [{"$ref": None, "value": x["id"]}]}])
        assert r.status in (200, 204), r
    assert scim.member_ids(g["id"]) == sorted([a["id"], b["id"], c["id"]])
    r = _patch(scim, f"/Groups/{g['id']}", [{"op": "Remove", "path": "members",
                                              "value": [{"$ref": None, "value": b["id"]}]}])
    assert r.status in (200, 204), r
    assert scim.member_ids(g["id"]) == sorted([a["id"], c["id"]])  # never clears the group


def test_entra_remove_member_by_filter(scim):
    """E-5: {"op":"remove","path":"members[value eq \\"...\\"]"} with the flag [E2]."""
    a, b = _entra_user(scim), _entra_user(scim)
    g = _entra_group(scim)
    _patch(scim, f"/Groups/{g['id']}", [{"op": "Add", "path": "members",
                                          "value": [{"value": a["id"]}, {"value": b["id"]}]}])
    r = _patch(scim, f"/Groups/{g['id']}", [{"op": "remove", "path": f'members[value eq "{a["id"]}"]'}],
               params=AAD_FLAG)
    assert r.status in (200, 204), r
    assert scim.member_ids(g["id"]) == [b["id"]]


def test_entra_group_excluded_members(scim):
    """E-6: GET /Groups/{id}?excludedAttributes=members and the displayName lookup [E1]."""
    u = _entra_user(scim)
    g = _entra_group(scim)
    _patch(scim, f"/Groups/{g['id']}", [{"op": "Add", "path": "members", "value": [{"value": u["id"]}]}])
    r = scim.get(f"/Groups/{g['id']}", params={"excludedAttributes": "members"})
    assert r.status == 200, r
    assert "members" not in r.json and r.json["displayName"] == g["displayName"]
    r = scim.get("/Groups", params={"excludedAttributes": "members",
                                    "filter": f'displayName eq "{g["displayName"]}"'})
    body = assert_list_response(r)
    assert body["totalResults"] == 1
    (found,) = resources(body)
    assert found["id"] == g["id"] and "members" not in found
    assert scim.member_ids(g["id"]) == [u["id"]]  # excluded from the view only


def test_entra_filter_unquoted_externalId(scim):
    """E-7: the docs example GET /Users?filter=externalId eq jyoung (no quotes) [E1]."""
    u = _entra_user(scim, externalId="jyoung")
    body = assert_list_response(scim.get("/Users", params={"filter": "externalId eq jyoung"}))
    assert [x["id"] for x in resources(body)] == [u["id"]]


def test_entra_emails_work_value_filter(scim):
    """E-7: matching attribute emails[type eq "work"].value used in a filter [E1]."""
    u = _entra_user(scim)
    other = _entra_user(scim)
    mail = u["emails"][0]["value"]
    body = assert_list_response(scim.get("/Users", params={"filter": f'emails[type eq "work"].value eq "{mail}"'}))
    assert [x["id"] for x in resources(body)] == [u["id"]]
    assert other["id"] not in [x["id"] for x in resources(body)]


def test_entra_random_guid_probe_returns_empty_list(scim):
    """E-8: Test Connection queries a random GUID and expects 200 + empty ListResponse [E1]."""
    _entra_user(scim)
    for resource, attr in (("/Users", "userName"), ("/Users", "externalId"), ("/Groups", "displayName"),
                           ("/Users", "id"), ("/Groups", "id")):
        r = scim.get(resource, params={"filter": f'{attr} eq "{uuid.uuid4()}"'})
        body = assert_list_response(r)
        assert body["totalResults"] == 0, (resource, attr, body)
        assert body.get("Resources", []) == []


def test_entra_filtered_path_on_absent_email_creates_it(scim):
    """E-9: Replace emails[type eq "work"].value when the user has no emails creates one [E1]."""
    r = scim.post("/Users", {"schemas": [USER_URN], "userName": uniq("noemail")})
    assert r.status == 201, r
    uid = r.json["id"]
    r = _patch(scim, f"/Users/{uid}", [{"op": "Replace", "path": 'emails[type eq "work"].value',
                                         "value": "x@y.example"}])
    assert r.status == 200, r
    emails = _get(scim, "Users", uid).get("emails", [])
    assert [(e.get("type"), e["value"]) for e in emails] == [("work", "x@y.example")]
    # addresses[type eq "work"].formatted likewise.
    r = _patch(scim, f"/Users/{uid}", [{"op": "Replace", "path": 'addresses[type eq "work"].formatted',
                                         "value": "1 Main St"}])
    assert r.status == 200, r
    addrs = _get(scim, "Users", uid).get("addresses", [])
    assert [(a.get("type"), a.get("formatted")) for a in addrs] == [("work", "1 Main St")]


def test_entra_manager_as_array_with_ref(scim, server):
    """E-10: {"op":"Add","path":"manager","value":[{"$ref":...,"value":...}]} [E1]."""
    boss = _entra_user(scim)
    u = _entra_user(scim)
    r = _patch(scim, f"/Users/{u['id']}", [{"op": "Add", "path": "manager", "value": [
        {"$ref": f"{server.scim_base}/Users/{boss['id']}", "value": boss["id"]}]}])
    assert r.status == 200, r
    assert _get(scim, "Users", u["id"])[ENTERPRISE_URN]["manager"]["value"] == boss["id"]
    # The enterprise-qualified path with a plain string value.
    boss2 = _entra_user(scim)
    r = _patch(scim, f"/Users/{u['id']}", [{"op": "Replace", "path": f"{ENTERPRISE_URN}:manager",
                                             "value": boss2["id"]}])
    assert r.status == 200, r
    assert _get(scim, "Users", u["id"])[ENTERPRISE_URN]["manager"]["value"] == boss2["id"]


def test_entra_manager_precheck_filter(scim):
    """E-10: Entra may pre-check with filter `id eq X and manager eq Y` [E1]."""
    boss = _entra_user(scim)
    u = _entra_user(scim, **{ENTERPRISE_URN: {"manager": {"value": boss["id"]}}})
    r = scim.get("/Users", params={"filter": f'id eq "{u["id"]}" and manager eq "{boss["id"]}"'})
    body = assert_list_response(r)
    assert [x["id"] for x in resources(body)] == [u["id"]]
    r = scim.get("/Users", params={"filter": f'id eq "{u["id"]}" and manager eq "{uuid.uuid4()}"'})
    assert assert_list_response(r)["totalResults"] == 0


def test_entra_nulls_and_typo_schema_on_post(scim):
    """E-11: older sample with nulls and the typo schema ...enterprise:2.0User [E1]."""
    name = uniq("Test_User")
    body = {
        "schemas": [USER_URN, "urn:ietf:params:scim:schemas:extension:enterprise:2.0User"],
        "externalId": str(uuid.uuid4()),
        "userName": name,
        "active": True,
        "addresses": None,
        "locale": None,
        "manager": None,
        "meta": {"resourceType": "User"},
        "name": {"familyName": "familyName", "givenName": "givenName"},
        "displayName": None,
    }
    r = scim.post("/Users", body)
    assert r.status == 201, r
    got = _get(scim, "Users", r.json["id"])
    assert got["userName"] == name
    for absent in ("addresses", "locale", "displayName", "manager"):
        assert got.get(absent) is None, (absent, got)
    assert "urn:ietf:params:scim:schemas:extension:enterprise:2.0User" not in got


def test_entra_unknown_group_schema(scim):
    """E-12: group POST with the ADSCIM schema and empty members; then one PATCH per member [E1]."""
    g = _entra_group(scim)
    assert not g.get("members")
    u = _entra_user(scim)
    r = _patch(scim, f"/Groups/{g['id']}", [{"op": "Add", "path": "members",
                                              "value": [{"$ref": None, "value": u["id"]}]}])
    assert r.status in (200, 204), r
    assert scim.member_ids(g["id"]) == [u["id"]]
    r = _patch(scim, f"/Groups/{g['id']}", [{"op": "Replace", "path": "displayName",
                                              "value": "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"}])
    assert r.status in (200, 204), r
    assert _get(scim, "Groups", g["id"])["displayName"] == "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"


def test_entra_soft_delete_user_still_readable(scim):
    """E-14: soft delete is active=false; the user must remain readable and re-activatable [E1]."""
    u = _entra_user(scim)
    r = _patch(scim, f"/Users/{u['id']}", [{"op": "Replace", "path": "active", "value": "False"}])
    assert r.status == 200, r
    got = _get(scim, "Users", u["id"])
    assert got["active"] is False
    body = assert_list_response(scim.get("/Users", params={"filter": f'userName eq "{u["userName"]}"'}))
    assert body["totalResults"] == 1 and resources(body)[0]["active"] is False
    ext = assert_list_response(scim.get("/Users", params={"filter": f'externalId eq "{u["externalId"]}"'}))
    assert ext["totalResults"] == 1
    r = _patch(scim, f"/Users/{u['id']}", [{"op": "Replace", "path": "active", "value": "True"}])
    assert r.status == 200, r
    assert _get(scim, "Users", u["id"])["active"] is True


def test_entra_values_round_trip_exactly(scim):
    """E-15: values must come back exactly as sent, or Entra re-PATCHes every cycle [E1]."""
    values = {
        "phoneNumbers": [{"type": "work", "value": "+1 (555) 555-0100 ext. 12"},
                         {"type": "mobile", "value": "0049 170/123 45 67"}],
        "emails": [{"type": "work", "value": "John.Doe@Example.COM", "primary": True}],
        "displayName": "  Ångström  Ølsen\u00a0Jr. ",
        "title": "Engineer\tII",
        ENTERPRISE_URN: {"employeeNumber": "007", "costCenter": "00.10"},
    }
    u = _entra_user(scim, **values)
    got = _get(scim, "Users", u["id"])
    assert sorted((p["type"], p["value"]) for p in got["phoneNumbers"]) == sorted(
        (p["type"], p["value"]) for p in values["phoneNumbers"])
    assert got["emails"][0]["value"] == "John.Doe@Example.COM"
    assert got["displayName"] == values["displayName"]
    assert got["title"] == "Engineer\tII"
    assert got[ENTERPRISE_URN]["employeeNumber"] == "007"
    assert got[ENTERPRISE_URN]["costCenter"] == "00.10"
    # And after a PATCH of the same value, nothing changes.
    r = _patch(scim, f"/Users/{u['id']}", [{"op": "Replace", "path": 'phoneNumbers[type eq "work"].value',
                                             "value": "+1 (555) 555-0100 ext. 12"}])
    assert r.status == 200, r
    again = _get(scim, "Users", u["id"])
    assert again["phoneNumbers"] == got["phoneNumbers"]


# =========================================================================== Okta


def test_okta_existence_check_with_paging(scim):
    """O-1: GET /Users?filter=userName eq "..."&startIndex=1&count=100 with Okta's User-Agent [O1]."""
    name = uniq("test.user") + "@okta.local"
    q = f"filter=userName%20eq%20%22{name.replace('@', '%40')}%22&startIndex=1&count=100"
    r = scim.get("/Users?" + q, headers=OKTA_UA)
    body = assert_list_response(r)
    assert body["totalResults"] == 0 and body.get("Resources", []) == []
    r = scim.post("/Users", _okta_user_body(name), headers=OKTA_UA)
    assert r.status == 201, r
    body = assert_list_response(scim.get("/Users?" + q, headers=OKTA_UA))
    assert body["totalResults"] == 1
    assert body["startIndex"] == 1 and body["itemsPerPage"] == 1
    assert resources(body)[0]["id"] == r.json["id"]


def test_okta_create_with_groups_and_password(scim):
    """O-3: create body carries "groups": [] and a plaintext password; password is never returned [O1]."""
    name = uniq("test.user") + "@okta.local"
    r = scim.post("/Users", _okta_user_body(name), headers=OKTA_UA)
    assert r.status == 201, r
    assert_scim_json(r)
    u = r.json
    assert u["userName"] == name and u["locale"] == "en-US" and u["externalId"] == "00ujl29u0le5T6Aj10h7"
    assert "password" not in u
    assert "1mz050nq" not in r.body.decode()
    got = scim.get(f"/Users/{u['id']}")
    assert "password" not in got.json and "1mz050nq" not in got.body.decode()
    listed = scim.get("/Users", params={"filter": f'userName eq "{name}"'})
    assert "1mz050nq" not in listed.body.decode()
    assert not got.json.get("groups")


def test_okta_duplicate_409_uniqueness(scim):
    """O-4: a duplicate create must be 409 with a SCIM error and scimType uniqueness [O1]."""
    name = uniq("dup") + "@okta.local"
    assert scim.post("/Users", _okta_user_body(name)).status == 201
    r = scim.post("/Users", _okta_user_body(name), headers=OKTA_UA)
    body = assert_error(r, 409, "uniqueness")
    assert body.get("detail")


def test_okta_put_full_object_with_id_meta_groups(scim):
    """O-5: OIN apps GET then PUT the whole object incl. id, meta and "groups": [] [O1]."""
    name = uniq("put") + "@okta.local"
    u = scim.post("/Users", _okta_user_body(name)).json
    g = scim.create_group(members=[u["id"]])
    full = _get(scim, "Users", u["id"])
    full["name"] = {"givenName": "Another", "familyName": "User"}
    full["displayName"] = "Another User"
    full["groups"] = []  # read-only: must not drop the membership
    r = scim.put(f"/Users/{u['id']}", full, headers=OKTA_UA)
    assert r.status == 200, r
    got = _get(scim, "Users", u["id"])
    assert got["id"] == u["id"]
    assert got["name"]["givenName"] == "Another"
    assert got["displayName"] == "Another User"
    assert got["meta"]["created"] == u["meta"]["created"]
    assert [x["value"] for x in got.get("groups", [])] == [g["id"]]
    assert scim.member_ids(g["id"]) == [u["id"]]


def test_okta_pathless_active_false(scim):
    """O-6: deactivate is {"op":"replace","value":{"active":false}}; user stays readable (O-7) [O1]."""
    u = scim.post("/Users", _okta_user_body(uniq("deact") + "@okta.local")).json
    r = _patch(scim, f"/Users/{u['id']}", [{"op": "replace", "value": {"active": False}}], headers=OKTA_UA)
    assert r.status in (200, 204), r
    got = _get(scim, "Users", u["id"])
    assert got["active"] is False
    assert got["userName"] == u["userName"]
    r = _patch(scim, f"/Users/{u['id']}", [{"op": "replace", "value": {"active": True}}], headers=OKTA_UA)
    assert r.status in (200, 204), r
    assert _get(scim, "Users", u["id"])["active"] is True


def test_okta_group_rename_with_id_in_value(scim):
    """O-9: rename is path-less replace whose value includes the read-only id [O1]."""
    r = scim.post("/Groups", {"schemas": [GROUP_URN], "displayName": "Test SCIMv2", "members": []}, headers=OKTA_UA)
    assert r.status == 201, r
    g = r.json
    ops = [{"op": "replace", "value": {"id": g["id"], "displayName": "Test SCIMv2 renamed"}}]
    for _ in range(2):  # re-sent on every membership change: idempotent
        r = _patch(scim, f"/Groups/{g['id']}", ops, headers=OKTA_UA)
        assert r.status in (200, 204), r
    got = _get(scim, "Groups", g["id"])
    assert got["id"] == g["id"]
    assert got["displayName"] == "Test SCIMv2 renamed"


def test_okta_member_remove_then_add(scim):
    """O-10: one PATCH removing by filter and adding with display [O1]."""
    a = scim.post("/Users", _okta_user_body(uniq("a") + "@okta.local")).json
    b = scim.post("/Users", _okta_user_body(uniq("b") + "@okta.local")).json
    g = scim.create_group(members=[a["id"]])
    r = _patch(scim, f"/Groups/{g['id']}", [
        {"op": "remove", "path": f'members[value eq "{a["id"]}"]'},
        {"op": "add", "path": "members", "value": [{"value": b["id"], "display": b["userName"]}]},
    ], headers=OKTA_UA)
    assert r.status in (200, 204), r
    assert scim.member_ids(g["id"]) == [b["id"]]
    assert not _get(scim, "Users", a["id"]).get("groups")


def test_okta_replace_all_members(scim):
    """O-10: {"op":"replace","path":"members","value":[...]} and PUT /Groups/{id} with the full list [O1]."""
    a, b, c = (scim.create_user() for _ in range(3))
    g = scim.create_group(members=[a["id"], b["id"]])
    r = _patch(scim, f"/Groups/{g['id']}", [{"op": "replace", "path": "members", "value": [
        {"value": b["id"], "display": b["userName"]}, {"value": c["id"], "display": c["userName"]}]}])
    assert r.status in (200, 204), r
    assert scim.member_ids(g["id"]) == sorted([b["id"], c["id"]])
    r = scim.put(f"/Groups/{g['id']}", {"schemas": [GROUP_URN], "id": g["id"], "displayName": g["displayName"],
                                        "members": [{"value": a["id"]}]})
    assert r.status == 200, r
    assert scim.member_ids(g["id"]) == [a["id"]]


def test_okta_import_paging_stable(scim):
    """O-8: import pages with startIndex=1&count=N, then +N; integers; stable; itemsPerPage = returned."""
    ids = {scim.create_user()["id"] for _ in range(25)}

    def walk():
        seen = []
        start = 1
        while True:
            body = assert_list_response(scim.get("/Users", params={"startIndex": start, "count": 10}, headers=OKTA_UA))
            for key in ("totalResults", "startIndex", "itemsPerPage"):
                assert type(body[key]) is int, (key, body[key])
            assert body["totalResults"] == 25
            assert body["startIndex"] == start
            page = [u["id"] for u in resources(body)]
            assert body["itemsPerPage"] == len(page)
            seen += page
            if not page or start + len(page) > body["totalResults"]:
                break
            start += len(page)
        return seen

    first = walk()
    assert len(first) == 25 and set(first) == ids
    assert walk() == first


# =========================================================================== OneLogin


def test_onelogin_lowercase_ops_and_string_active(scim):
    """OneLogin: admin-templated body renders "active": "{$user.active}" as a string; ops lowercase."""
    r = scim.post("/Users", {"schemas": [USER_URN], "userName": uniq("ol") + "@onelogin.test",
                             "name": {"givenName": "One", "familyName": "Login"}, "active": "true"},
                  content_type="application/json")
    assert r.status == 201, r
    assert r.json["active"] is True
    uid = r.json["id"]
    r = _patch(scim, f"/Users/{uid}", [{"op": "replace", "path": "active", "value": "false"},
                                        {"op": "add", "path": "title", "value": "Ops"}])
    assert r.status == 200, r
    got = _get(scim, "Users", uid)
    assert got["active"] is False and got["title"] == "Ops"


def test_onelogin_id_null_ignored(scim):
    """OneLogin templates may render "id": null; treat as absent."""
    r = scim.post("/Users", {"schemas": [USER_URN], "id": None, "userName": uniq("olnull")})
    assert r.status == 201, r
    assert r.json["id"] and isinstance(r.json["id"], str)
    assert _get(scim, "Users", r.json["id"])["id"] == r.json["id"]


def test_onelogin_scim1_schema_uri_and_manager_subattrs(scim):
    """OneLogin: "urn:scim:schemas:core:1.0" on a v2 endpoint; manager {"managerId","displayName"}."""
    boss = scim.create_user()
    r = scim.post("/Users", {
        "schemas": ["urn:scim:schemas:core:1.0", ENTERPRISE_URN],
        "userName": uniq("olv1"),
        "name": {"givenName": "V", "familyName": "One"},
        ENTERPRISE_URN: {"manager": {"managerId": boss["id"], "displayName": "Boss"}, "department": "D"},
    })
    assert r.status == 201, r
    got = _get(scim, "Users", r.json["id"])
    assert got[ENTERPRISE_URN]["department"] == "D"
    assert got["name"]["givenName"] == "V"


# =========================================================================== JumpCloud


def test_jumpcloud_test_user_create_delete(scim):
    """JumpCloud Test Connection creates a real user and group, then DELETEs both."""
    email = uniq("jc-test") + "@verified.example"
    u = scim.post("/Users", {"schemas": [USER_URN], "userName": email,
                             "emails": [{"value": email, "type": "work", "primary": True}],
                             "name": {"givenName": "Test", "familyName": "User"}, "active": True})
    assert u.status == 201, u
    g = scim.post("/Groups", {"schemas": [GROUP_URN], "displayName": uniq("jc-test-group"),
                              "members": [{"value": u.json["id"]}]})
    assert g.status == 201, g
    assert scim.delete(f"/Groups/{g.json['id']}").status == 204
    assert scim.delete(f"/Users/{u.json['id']}").status == 204
    assert_error(scim.get(f"/Users/{u.json['id']}"), 404)
    assert_error(scim.get(f"/Groups/{g.json['id']}"), 404)
    # The next Test Connection can reuse the same test e-mail.
    assert scim.post("/Users", {"schemas": [USER_URN], "userName": email}).status == 201


def test_jumpcloud_remove_members_legacy(scim):
    """JumpCloud reports removals Azure-legacy style, lowercase: {"op":"remove","path":"members","value":[...]}."""
    a, b = scim.create_user(), scim.create_user()
    g = scim.create_group(members=[a["id"], b["id"]])
    r = _patch(scim, f"/Groups/{g['id']}", [{"op": "remove", "path": "members", "value": [{"value": a["id"]}]}])
    assert r.status in (200, 204), r
    assert scim.member_ids(g["id"]) == [b["id"]]


# =========================================================================== Google, PingOne, Keycloak, AWS, WSO2


def test_google_probe_count_1(scim):
    """Google Workspace setup probe: GET /Users?count=1."""
    for _ in range(3):
        scim.create_user()
    body = assert_list_response(scim.get("/Users", params={"count": 1}))
    assert body["totalResults"] == 3
    assert len(resources(body)) == 1 and body["itemsPerPage"] == 1


def test_pingone_put_updates_and_unfiltered_group_listing(scim):
    """PingFederate: users updated with PUT; groups found by listing all groups unfiltered."""
    u = scim.create_user(title="old")
    body = {"schemas": [USER_URN], "userName": u["userName"], "title": "new",
            "emails": [{"type": "work", "value": "p@ping.example", "primary": True}],
            "name": {"givenName": "Ping", "familyName": "One"}, "active": True}
    r = scim.put(f"/Users/{u['id']}", body)
    assert r.status == 200, r
    got = _get(scim, "Users", u["id"])
    assert got["title"] == "new" and got["emails"][0]["value"] == "p@ping.example"
    names = {scim.create_group()["displayName"] for _ in range(5)}
    body = assert_list_response(scim.get("/Groups"))
    assert {g["displayName"] for g in resources(body)} == names
    seen = set()
    for start in (1, 3, 5):
        page = assert_list_response(scim.get("/Groups", params={"startIndex": start, "count": 2}))
        seen |= {g["displayName"] for g in resources(page)}
    assert seen == names


def test_keycloak_get_users_without_paging_params(scim):
    """Keycloak import: GET /Users with no paging params must return everyone (below maxResults)."""
    max_results = scim.get("/ServiceProviderConfig").json["filter"]["maxResults"]
    n = min(60, max_results)
    ids = {scim.create_user()["id"] for _ in range(n)}
    body = assert_list_response(scim.get("/Users"))
    assert body["totalResults"] == n
    assert {u["id"] for u in resources(body)} == ids


def test_keycloak_put_group_with_all_members(scim):
    """Keycloak/UnboundID: PUT for every update, including the full member list."""
    users = [scim.create_user()["id"] for _ in range(5)]
    g = scim.create_group(members=users[:4])
    r = scim.put(f"/Groups/{g['id']}", {"schemas": [GROUP_URN], "displayName": g["displayName"],
                                        "members": [{"value": x} for x in users]})
    assert r.status == 200, r
    assert scim.member_ids(g["id"]) == sorted(users)


def test_aws_eq_and_filter(scim):
    """AWS IAM Identity Center minimum profile: only eq and and."""
    u = scim.create_user(displayName="Aws Person", externalId=uniq("aws"))
    scim.create_user(displayName="Aws Person")
    flt = f'userName eq "{u["userName"]}" and externalId eq "{u["externalId"]}"'
    body = assert_list_response(scim.get("/Users", params={"filter": flt}))
    assert [x["id"] for x in resources(body)] == [u["id"]]
    body = assert_list_response(scim.get("/Users", params={"filter": 'displayName eq "Aws Person"'}))
    assert body["totalResults"] == 2


def test_uppercase_filter_keywords(scim):
    """WSO2 (product-is #11807): EQ / AND / OR / NOT and PR in upper case."""
    u = scim.create_user(title="Upper")
    flt = f'userName EQ "{u["userName"]}" AND title EQ "Upper"'
    body = assert_list_response(scim.get("/Users", params={"filter": flt}))
    assert [x["id"] for x in resources(body)] == [u["id"]]
    body = assert_list_response(scim.get("/Users", params={"filter": 'title PR OR NOT (title PR)'}))
    assert body["totalResults"] == 1
    body = assert_list_response(scim.get("/Users", params={"filter": 'userName SW "zzz" Or title Eq "Upper"'}))
    assert body["totalResults"] == 1


def test_okta_password_is_never_stored(server):
    """O-3: Okta sends a plaintext password; idsync keeps no credentials, not even on disk."""
    import sqlite3  # Python's own module reads the database file directly
    info = add_connection(server.binary, server.data_dir)
    scim = Scim(server.scim_base, info["token"])
    name = uniq("pw") + "@okta.local"
    body = _okta_user_body(name)
    body["password"] = "S3cret-never-stored-7f4b"
    assert scim.post("/Users", body).status == 201
    if TEST_STORE == "postgresql":
        # Bodies are text in PostgreSQL (TOAST compresses large ones): the rows themselves, and
        # a dump of the whole database.
        assert pg_query(server.data_dir, "SELECT count(*) FROM resources WHERE body LIKE "
                        "'%S3cret-never%'").strip() == "0"
        assert pg_query(server.data_dir, "SELECT count(*) FROM resources WHERE body LIKE "
                        f"'%{name}%'").strip() == "1"
        assert b"S3cret-never" not in stored_bytes(server.data_dir)
        return
    db = sqlite3.connect(os.path.join(server.data_dir, "idsync.db"))
    try:
        rows = db.execute("SELECT count(*) FROM resources WHERE body LIKE '%S3cret-never%'").fetchone()
        assert rows[0] == 0
        assert db.execute("SELECT count(*) FROM resources WHERE body LIKE ?", (f"%{name}%",)).fetchone()[0] == 1
    finally:
        db.close()
