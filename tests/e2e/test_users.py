"""/Users CRUD: RFC 7644 §3.3 (create), §3.4.1 (read), §3.5.1 (PUT), §3.6 (delete)."""

import datetime
import re

from conftest import (
    ENTERPRISE_URN,
    USER_URN,
    assert_error,
    assert_list_response,
    assert_scim_json,
    new_user,
    resources,
    uniq,
)

ETAG_RE = re.compile(r'^W/"[^"]+"$')


def _rfc3339(value):
    assert isinstance(value, str), value
    return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_create_returns_full_resource_with_location_and_etag(scim, server):
    body = new_user(nickName="nick", title="Engineer", externalId=uniq("ext"))
    r = scim.post("/Users", body)
    assert r.status == 201, r
    assert_scim_json(r)
    u = r.json
    assert u["id"] and isinstance(u["id"], str)
    assert USER_URN in u["schemas"]
    assert u["userName"] == body["userName"]
    assert u["name"]["givenName"] == "Given"
    assert u["nickName"] == "nick"
    assert u["title"] == "Engineer"
    assert u["externalId"] == body["externalId"]
    assert u["active"] is True
    assert u["emails"][0]["value"] == body["userName"]
    meta = u["meta"]
    assert meta["resourceType"] == "User"
    assert meta["location"] == r.headers.get("location"), (meta, r.headers)
    assert meta["location"].startswith(server.scim_base + "/Users/"), meta["location"]
    assert meta["location"].endswith("/Users/" + u["id"])
    assert ETAG_RE.match(r.headers.get("etag", "")), r.headers
    assert meta["version"] == r.headers["etag"]
    created = _rfc3339(meta["created"])
    modified = _rfc3339(meta["lastModified"])
    assert created.tzinfo is not None
    assert modified >= created


def test_get_by_id(scim):
    u = scim.create_user()
    r = scim.get(f"/Users/{u['id']}")
    assert r.status == 200, r
    assert_scim_json(r)
    assert r.json["id"] == u["id"]
    assert r.json["userName"] == u["userName"]
    assert r.headers.get("etag") == u["meta"]["version"]
    assert r.json["meta"]["location"] == u["meta"]["location"]


def test_get_unknown_id_404(scim):
    assert_error(scim.get("/Users/00000000-0000-4000-8000-000000000000"), 404)
    assert_error(scim.get("/Users/not-a-uuid"), 404)


def test_create_with_enterprise_extension_round_trips(scim):
    manager = scim.create_user()
    body = new_user()
    body["schemas"] = [USER_URN, ENTERPRISE_URN]
    body[ENTERPRISE_URN] = {
        "employeeNumber": "701984",
        "costCenter": "4130",
        "organization": "Universal Studios",
        "division": "Theme Park",
        "department": "Tour Operations",
        "manager": {"value": manager["id"]},
    }
    r = scim.post("/Users", body)
    assert r.status == 201, r
    got = scim.get(f"/Users/{r.json['id']}").json
    ext = got[ENTERPRISE_URN]
    assert ENTERPRISE_URN in got["schemas"]
    assert ext["employeeNumber"] == "701984"
    assert ext["department"] == "Tour Operations"
    assert ext["manager"]["value"] == manager["id"]


def test_create_full_core_user_round_trips(scim):
    body = new_user(
        name={"formatted": "Ms. Barbara J Jensen, III", "familyName": "Jensen",
              "givenName": "Barbara", "middleName": "Jane", "honorificPrefix": "Ms.",
              "honorificSuffix": "III"},
        profileUrl="https://login.example.com/bjensen",
        userType="Employee",
        preferredLanguage="en-US",
        locale="en-US",
        timezone="America/Los_Angeles",
        phoneNumbers=[{"value": "555-555-5555", "type": "work"},
                      {"value": "555-555-4444", "type": "mobile"}],
        addresses=[{"type": "work", "streetAddress": "100 Universal City Plaza",
                    "locality": "Hollywood", "region": "CA", "postalCode": "91608",
                    "country": "USA", "primary": True}],
        x509Certificates=[{"value": "MIIDQzCCAqygAwIBAgICEAAwDQYJKoZIhvcNAQEFBQAwTjELMAkGA1UEBhMCVVMx"}],
    )
    u = scim.post("/Users", body)
    assert u.status == 201, u
    got = scim.get(f"/Users/{u.json['id']}").json
    for key in ("name", "profileUrl", "userType", "preferredLanguage", "locale", "timezone"):
        assert got[key] == body[key], key
    assert sorted(p["value"] for p in got["phoneNumbers"]) == ["555-555-4444", "555-555-5555"]
    assert got["addresses"][0]["locality"] == "Hollywood"
    assert got["addresses"][0]["primary"] is True


def test_create_missing_username_400(scim):
    # RFC 7644 §3.12: a missing required value is "invalidValue".
    body = new_user()
    del body["userName"]
    assert_error(scim.post("/Users", body), 400, "invalidValue")


def test_create_wrong_type_400(scim):
    # RFC 7644 §3.12 invalidValue: "not compatible with the ... attribute type".
    assert_error(scim.post("/Users", new_user(emails="not-a-list")), 400, ("invalidValue", "invalidSyntax"))
    assert_error(scim.post("/Users", new_user(active="sometimes")), 400, ("invalidValue", "invalidSyntax"))


def test_duplicate_username_409(scim):
    u = scim.create_user()
    body = new_user(userName=u["userName"])
    assert_error(scim.post("/Users", body), 409, "uniqueness")


def test_username_unique_case_insensitively(scim):
    name = uniq("CaseUser") + "@Example.COM"
    scim.create_user(userName=name)
    assert_error(scim.post("/Users", new_user(userName=name.lower())), 409, "uniqueness")
    assert_error(scim.post("/Users", new_user(userName=name.upper())), 409, "uniqueness")


def test_username_unique_unicode_case_insensitively(scim):
    suffix = uniq("")
    scim.create_user(userName="ÄNNE" + suffix)
    assert_error(scim.post("/Users", new_user(userName="änne" + suffix)), 409, "uniqueness")
    # Different letters are different users.
    assert scim.post("/Users", new_user(userName="anne" + suffix)).status == 201


def test_username_case_preserved(scim):
    name = "Mixed.Case." + uniq("") + "@Example.com"
    u = scim.create_user(userName=name)
    assert u["userName"] == name
    assert scim.get(f"/Users/{u['id']}").json["userName"] == name


def test_client_supplied_id_and_meta_ignored(scim):
    # RFC 7643 §3.1: id is assigned by the service provider; readOnly input is ignored.
    body = new_user(id="client-chosen-id", meta={"created": "2001-01-01T00:00:00Z",
                                                 "resourceType": "User", "version": 'W/"999"'})
    r = scim.post("/Users", body)
    assert r.status == 201, r
    assert r.json["id"] != "client-chosen-id"
    assert not r.json["meta"]["created"].startswith("2001")
    assert scim.get("/Users/client-chosen-id").status == 404


def test_groups_attribute_is_read_only_on_create(scim):
    g = scim.create_group()
    body = new_user(groups=[{"value": g["id"]}])
    r = scim.post("/Users", body)
    assert r.status == 201, r
    assert scim.member_ids(g["id"]) == []
    assert not scim.get(f"/Users/{r.json['id']}").json.get("groups")


def test_password_never_returned(scim):
    body = new_user(password="t1meMa$heen")
    r = scim.post("/Users", body)
    assert r.status == 201, r
    assert "password" not in r.json
    uid = r.json["id"]
    assert "password" not in scim.get(f"/Users/{uid}").json
    assert "password" not in scim.get(f"/Users/{uid}", params={"attributes": "password,userName"}).json
    listed = scim.filter("/Users", f'userName eq "{body["userName"]}"')
    assert all("password" not in u for u in resources(listed))
    assert "t1meMa$heen" not in r.body.decode()


def test_put_replaces_resource(scim):
    u = scim.create_user(nickName="old-nick", title="Old title")
    body = new_user(userName=u["userName"], displayName="New Name")
    body["name"] = {"givenName": "New", "familyName": "Person"}
    r = scim.put(f"/Users/{u['id']}", body)
    assert r.status == 200, r
    assert_scim_json(r)
    got = scim.get(f"/Users/{u['id']}").json
    assert got["id"] == u["id"]
    assert got["displayName"] == "New Name"
    assert got["name"] == {"givenName": "New", "familyName": "Person"} or (
        got["name"]["givenName"] == "New" and got["name"]["familyName"] == "Person")
    # RFC 7644 §3.5.1: attributes omitted from PUT are cleared (readWrite ones).
    assert "nickName" not in got
    assert "title" not in got
    assert got["meta"]["created"] == u["meta"]["created"]
    assert got["meta"]["version"] != u["meta"]["version"]
    assert r.headers.get("etag") == got["meta"]["version"]


def test_put_can_rename_username(scim):
    u = scim.create_user()
    new_name = uniq("renamed") + "@example.com"
    r = scim.put(f"/Users/{u['id']}", new_user(userName=new_name))
    assert r.status == 200, r
    assert scim.get(f"/Users/{u['id']}").json["userName"] == new_name
    # The old name is free again.
    assert scim.post("/Users", new_user(userName=u["userName"])).status == 201


def test_put_to_taken_username_409(scim):
    a = scim.create_user()
    b = scim.create_user()
    assert_error(scim.put(f"/Users/{b['id']}", new_user(userName=a["userName"])), 409, "uniqueness")
    assert scim.get(f"/Users/{b['id']}").json["userName"] == b["userName"]


def test_put_same_username_other_case_is_not_a_conflict_with_itself(scim):
    u = scim.create_user(userName=uniq("self") + "@example.com")
    r = scim.put(f"/Users/{u['id']}", new_user(userName=u["userName"].upper()))
    assert r.status == 200, r
    assert r.json["userName"] == u["userName"].upper()


def test_put_unknown_id_404(scim):
    assert_error(scim.put("/Users/00000000-0000-4000-8000-000000000001", new_user()), 404)


def test_delete(scim):
    u = scim.create_user()
    r = scim.delete(f"/Users/{u['id']}")
    assert r.status == 204, r
    assert not r.body
    assert_error(scim.get(f"/Users/{u['id']}"), 404)
    assert_error(scim.delete(f"/Users/{u['id']}"), 404)
    # The userName can be reused after a hard delete.
    assert scim.post("/Users", new_user(userName=u["userName"])).status == 201


def test_list_users_envelope(scim):
    ids = {scim.create_user()["id"] for _ in range(3)}
    body = assert_list_response(scim.get("/Users"))
    assert body["totalResults"] == 3
    assert body.get("startIndex") == 1
    assert {u["id"] for u in resources(body)} == ids
    for u in resources(body):
        assert u["meta"]["resourceType"] == "User"
        assert u["meta"]["location"].endswith("/Users/" + u["id"])


def test_get_attributes_projection(scim):
    u = scim.create_user(title="T")
    got = scim.get(f"/Users/{u['id']}", params={"attributes": "userName"}).json
    assert got["id"] == u["id"]  # returned "always"
    assert got["userName"] == u["userName"]
    assert "title" not in got and "name" not in got and "emails" not in got
    got = scim.get(f"/Users/{u['id']}", params={"attributes": "name.givenName"}).json
    assert got["name"] == {"givenName": "Given"}
    assert "userName" not in got or got.get("userName") == u["userName"]


def test_get_excluded_attributes(scim):
    u = scim.create_user(title="T")
    got = scim.get(f"/Users/{u['id']}", params={"excludedAttributes": "emails,name"}).json
    assert "emails" not in got and "name" not in got
    assert got["title"] == "T"
    assert got["id"] == u["id"]
    # id cannot be excluded (returned "always").
    got = scim.get(f"/Users/{u['id']}", params={"excludedAttributes": "id"}).json
    assert got["id"] == u["id"]


def test_application_json_accepted(scim):
    r = scim.post("/Users", new_user(), content_type="application/json")
    assert r.status == 201, r
    assert_scim_json(r)
    r = scim.post("/Users", new_user(), content_type="application/scim+json; charset=utf-8")
    assert r.status == 201, r
    r = scim.post("/Users", new_user(), content_type="application/json; charset=UTF-8")
    assert r.status == 201, r


def test_null_attribute_means_absent(scim):
    # RFC 7643 §2.5: null is equivalent to unassigned.
    r = scim.post("/Users", new_user(nickName=None, title=None) | {"nickName": None})
    assert r.status == 201, r
    assert "nickName" not in r.json


def test_inactive_user_stays_readable(scim):
    u = scim.create_user(active=False)
    got = scim.get(f"/Users/{u['id']}").json
    assert got["active"] is False
    listed = scim.filter("/Users", f'userName eq "{u["userName"]}"')
    assert listed["totalResults"] == 1
