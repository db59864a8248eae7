"""The read API for applications: /directory/v2/{directory} (issue #3).

Users and groups are provisioned through the real SCIM endpoint (/scim/v2) in the request
shapes Entra ID and Okta send, then read back from the effective directory with read tokens:
mapped attributes, groups and members, filters (core and custom attributes), sort, paging,
projection, ETags, the read-only rule, token scoping, and the change feed with its cursor and
long poll. The module works in a directory of its own (created with the CLI), so its feed and
lists hold only what these tests wrote.
"""

import json
import threading
import time
import uuid

import pytest

from conftest import (
    ENTERPRISE_URN,
    GROUP_URN,
    PATCH_URN,
    USER_URN,
    Scim,
    add_connection,
    assert_error,
    assert_list_response,
    assert_scim_json,
    cli_json,
    cli_ok,
    encode_query,
    http_request,
    resources,
    uniq,
)

EXT_URN = "urn:idsync:params:scim:schemas:extension:2.0:User"
GROUP_EXT_URN = "urn:idsync:params:scim:schemas:extension:2.0:Group"
OKTA_UA = {"User-Agent": "Okta SCIM Client 1.0.0"}


# --------------------------------------------------------------------------- helpers


def read_token(binary, data_dir, directory):
    info = cli_json(binary, "read-token", "add", uniq("app"), "--directory", directory,
                    "--data", data_dir, "--json")
    assert info["kind"] == "read" and info["directory"] == directory, info
    assert info["token"].startswith("idsync_read_"), info
    return info


class Reader:
    """GETs on /directory/v2/{directory} with a bearer token."""

    def __init__(self, server, directory, token):
        self.url = server.url
        self.directory = directory
        self.token = token

    @property
    def base(self):
        return f"{self.url}/directory/v2/{self.directory}"

    def request(self, method, path, params=None, token="default", headers=None, body=None):
        q = encode_query(params)
        full = f"/directory/v2/{self.directory}{path}" + (f"?{q}" if q else "")
        hdrs = {"Accept": "application/scim+json"}
        tok = self.token if token == "default" else token
        if tok:
            hdrs["Authorization"] = f"Bearer {tok}"
        hdrs.update(headers or {})
        data = json.dumps(body).encode() if body is not None else None
        if data is not None:
            hdrs["Content-Type"] = "application/scim+json"
        return http_request(self.url, method, full, data, hdrs)

    def get(self, path, params=None, **kw):
        return self.request("GET", path, params=params, **kw)

    def list(self, path="/Users", **params):
        r = self.get(path, params=params or None)
        return assert_list_response(r)

    def user_by_name(self, user_name):
        body = self.list("/Users", filter=f'userName eq "{user_name}"')
        assert body["totalResults"] == 1, body
        return resources(body)[0]

    def group_by_name(self, name):
        body = self.list("/Groups", filter=f'displayName eq "{name}"')
        assert body["totalResults"] == 1, body
        return resources(body)[0]

    def changes(self, **params):
        r = self.get("/changes", params=params)
        assert r.status == 200, r
        assert r.content_type.startswith("application/json"), r
        body = r.json
        for key in ("changes", "next", "last"):
            assert key in body, body
        return body


def entra_user(scim, user_name=None, cost_center=None, **extra):
    """Entra ID's create-user body (IDP-QUIRKS E1), enterprise extension included."""
    user_name = user_name or f"{uniq('entra')}@contoso.example"
    body = {
        "schemas": [USER_URN, ENTERPRISE_URN],
        "externalId": str(uuid.uuid4()),
        "userName": user_name,
        "active": True,
        "displayName": "Ada Entra",
        "emails": [{"primary": True, "type": "work", "value": user_name}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "Ada Entra", "familyName": "Entra", "givenName": "Ada"},
        "roles": [],
    }
    if cost_center is not None:
        body[ENTERPRISE_URN] = {"costCenter": cost_center, "department": "R&D"}
    body.update(extra)
    r = scim.post("/Users", body)
    assert r.status == 201, r
    return r.json


def entra_group(scim, name=None):
    body = {"schemas": [GROUP_URN], "externalId": str(uuid.uuid4()),
            "displayName": name or uniq("EntraGroup"), "meta": {"resourceType": "Group"},
            "members": []}
    r = scim.post("/Groups", body)
    assert r.status == 201, r
    return r.json


def entra_add_member(scim, group_id, user_id):
    r = scim.patch(f"/Groups/{group_id}", {"schemas": [PATCH_URN], "Operations": [
        {"op": "Add", "path": "members", "value": [{"value": user_id}]}]})
    assert r.status in (200, 204), r


def okta_user(scim, user_name=None, **extra):
    """Okta's create-user body (IDP-QUIRKS O1): password and read-only groups included."""
    user_name = user_name or f"{uniq('okta')}@okta.example"
    body = {
        "schemas": [USER_URN],
        "userName": user_name,
        "name": {"givenName": "Olga", "familyName": "Okta"},
        "emails": [{"primary": True, "value": user_name, "type": "work"}],
        "displayName": "Olga Okta",
        "locale": "en-US",
        "externalId": "00u" + uuid.uuid4().hex[:17],
        "groups": [],
        "password": "1mz050nq",
        "active": True,
    }
    body.update(extra)
    r = scim.post("/Users", body, headers=OKTA_UA)
    assert r.status == 201, r
    return r.json


def okta_group(scim, name, member_ids):
    body = {"schemas": [GROUP_URN], "displayName": name,
            "members": [{"value": m, "display": m} for m in member_ids]}
    r = scim.post("/Groups", body, headers=OKTA_UA)
    assert r.status == 201, r
    return r.json


def okta_deactivate(scim, user_id):
    r = scim.patch(f"/Users/{user_id}", {"schemas": [PATCH_URN], "Operations": [
        {"op": "replace", "value": {"active": False}}]}, headers=OKTA_UA)
    assert r.status in (200, 204), r


def all_changes(reader, since=0):
    """Follows the feed from `since` until caught up; returns (changes, next)."""
    out = []
    cursor = since
    for _ in range(1000):
        page = reader.changes(since=cursor, limit=1000)
        out += page["changes"]
        assert page["next"] >= cursor
        if page["next"] == cursor or page["next"] == page["last"]:
            return out, page["next"]
        cursor = page["next"]
    raise AssertionError("change feed did not end")


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def world(idsync_bin, server, tmp_path_factory):
    """A directory of its own with a custom attribute, an Entra-like connection whose policy
    maps it, an Okta-like connection with the default policy, and tokens."""
    data = server.data_dir
    directory = uniq("ra").lower().replace("-", "")
    cli_ok(idsync_bin, "directory", "create", directory, "--data", data)
    defs = tmp_path_factory.mktemp("read-api") / "custom.json"
    defs.write_text(json.dumps([{"name": "costCenter", "type": "string", "multi_valued": False}]))
    cli_ok(idsync_bin, "directory", "custom-attributes", directory, str(defs), "--data", data)

    entra = add_connection(idsync_bin, data, directory=directory)
    policy = defs.parent / "policy.json"
    policy.write_text(json.dumps({"attributes": {"costCenter": {"sources": [
        f"{ENTERPRISE_URN}:costCenter"]}}}))
    cli_ok(idsync_bin, "policy", "set", entra["name"], str(policy), "--data", data)
    okta = add_connection(idsync_bin, data, directory=directory)

    admin = cli_json(idsync_bin, "admin-token", "add", uniq("admin"), "--data", data, "--json")
    assert admin["kind"] == "admin" and admin["token"].startswith("idsync_admin_"), admin
    mine = read_token(idsync_bin, data, directory)
    staff = read_token(idsync_bin, data, "users")
    return {
        "directory": directory,
        "entra": Scim(server.scim_base, entra["token"]),
        "okta": Scim(server.scim_base, okta["token"]),
        "entra_conn": entra,
        "admin": admin["token"],
        "read": mine["token"],
        "read_info": mine,
        "staff_read": staff["token"],
        "reader": Reader(server, directory, mine["token"]),
    }


@pytest.fixture(scope="module")
def reader(world):
    return world["reader"]


# --------------------------------------------------------------------------- auth


def test_auth_needs_a_read_token_of_the_directory_or_an_admin_token(idsync_bin, server, world,
                                                                     reader):
    r = reader.get("/Users", token=None)
    assert_error(r, 401)
    assert r.headers.get("www-authenticate", "").lower().startswith("bearer"), r
    assert_error(reader.get("/Users", token="idsync_read_" + "A" * 43), 401)
    assert_error(reader.get("/Users", token="not-even-a-token"), 401)
    # A connection's SCIM token is no read credential.
    assert_error(reader.get("/Users", token=world["entra"].token), 401)
    # A read token of another directory: valid, but not here.
    body = assert_error(reader.get("/Users", token=world["staff_read"]), 403)
    assert world["directory"] in body["detail"]
    assert_error(reader.get("/changes", token=world["staff_read"]), 403)
    # The right read token, and any admin token.
    assert_list_response(reader.get("/Users"))
    assert_list_response(reader.get("/Users", token=world["admin"]))
    assert reader.changes()["next"] >= 0
    # Request ids are echoed.
    r = reader.get("/Users", headers={"X-Request-Id": "rid-read-1"})
    assert r.headers.get("x-request-id") == "rid-read-1"
    # Removing a token stops it at once (the server caches by configuration generation).
    extra = read_token(idsync_bin, server.data_dir, world["directory"])
    assert reader.get("/Users", token=extra["token"]).status == 200
    cli_ok(idsync_bin, "read-token", "remove", extra["name"], "--data", server.data_dir)
    assert_error(reader.get("/Users", token=extra["token"]), 401)


def test_unknown_directory_and_endpoint(server, world):
    admin = Reader(server, "nosuchdirectory", world["admin"])
    assert_error(admin.get("/Users"), 404)
    assert_error(admin.get("/changes"), 404)
    r = Reader(server, world["directory"], world["admin"])
    assert_error(r.get("/Nope"), 404)
    assert_error(r.get("/Users/a/b/c"), 404)


def test_read_only(reader, world):
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        for path in ("/Users", "/Users/x", "/Groups", "/Groups/x", "/changes", "/Users/.search"):
            r = reader.request(method, path, body={"schemas": [USER_URN], "userName": "x"})
            body = assert_error(r, 405)
            assert "GET" in r.headers.get("allow", ""), r
            assert "scimType" not in body
    # Even with an admin token.
    assert_error(reader.request("DELETE", "/Users/x", token=world["admin"]), 405)


# --------------------------------------------------------------------------- SCIM in, read out


def test_entra_user_and_group_are_read_back_mapped(world, reader):
    scim = world["entra"]
    u = entra_user(scim, cost_center="CC-42")
    g = entra_group(scim)
    entra_add_member(scim, g["id"], u["id"])

    got = reader.user_by_name(u["userName"])
    assert got["id"] != u["id"]  # an effective user, not the mirror resource
    assert USER_URN in got["schemas"]
    assert got["userName"] == u["userName"]
    assert got["displayName"] == "Ada Entra"
    assert got["name"] == {"givenName": "Ada", "familyName": "Entra"}
    assert [e["value"] for e in got["emails"]] == [u["userName"]]
    assert got["active"] is True
    assert got[EXT_URN]["costCenter"] == "CC-42"
    assert ENTERPRISE_URN not in got  # the source's extension is not the read representation
    assert "password" not in got
    assert [x["display"] for x in got["groups"]] == [g["displayName"]]
    meta = got["meta"]
    assert meta["resourceType"] == "User"
    assert meta["location"] == f"{reader.base}/Users/{got['id']}"
    assert got["groups"][0]["$ref"] == f"{reader.base}/Groups/{got['groups'][0]['value']}"

    one = reader.get(f"/Users/{got['id']}")
    assert one.status == 200, one
    assert_scim_json(one)
    assert one.json == got
    assert one.headers.get("etag") == meta["version"]
    again = reader.get(f"/Users/{got['id']}", headers={"If-None-Match": meta["version"]})
    assert again.status == 304, again
    # If-None-Match is a list of entity tags compared whole (RFC 9110 §13.1.2), not a substring
    # search: the version inside a longer tag is no match, the version in a list is.
    opaque = meta["version"][2:]  # '"n"' of 'W/"n"'
    listed = reader.get(f"/Users/{got['id']}", headers={"If-None-Match": f'W/"x", {opaque}'})
    assert listed.status == 304, listed
    inside = f'W/"1{opaque[1:-1]}1"'
    longer = reader.get(f"/Users/{got['id']}", headers={"If-None-Match": inside})
    assert longer.status == 200, longer
    junk = reader.get(f"/Users/{got['id']}", headers={"If-None-Match": f"x{opaque}x"})
    assert junk.status == 200, junk
    assert_error(reader.get("/Users/00000000-0000-0000-0000-000000000000"), 404)

    group = reader.group_by_name(g["displayName"])
    assert group["id"] == got["groups"][0]["value"]
    assert [m["value"] for m in group["members"]] == [got["id"]]
    assert group["members"][0]["type"] == "User"
    assert group["members"][0]["$ref"] == f"{reader.base}/Users/{got['id']}"
    assert group["meta"]["location"] == f"{reader.base}/Groups/{group['id']}"
    single = reader.get(f"/Groups/{group['id']}")
    assert single.status == 200 and single.json == group, single


def test_okta_user_group_and_deactivation(world, reader):
    scim = world["okta"]
    u1 = okta_user(scim)
    u2 = okta_user(scim)
    g = okta_group(scim, uniq("OktaGroup"), [u1["id"], u2["id"]])
    eff1 = reader.user_by_name(u1["userName"])
    eff2 = reader.user_by_name(u2["userName"])
    assert eff1["displayName"] == "Olga Okta" and eff1["active"] is True
    assert EXT_URN not in eff1  # no custom attribute mapped for this connection
    group = reader.group_by_name(g["displayName"])
    assert sorted(m["value"] for m in group["members"]) == sorted([eff1["id"], eff2["id"]])

    okta_deactivate(scim, u1["id"])
    assert reader.user_by_name(u1["userName"])["active"] is False
    inactive = reader.list("/Users", filter="active eq false")
    assert eff1["id"] in [x["id"] for x in resources(inactive)]
    assert eff2["id"] not in [x["id"] for x in resources(inactive)]


def test_filters(world, reader):
    tag = uniq("flt").lower()
    a = entra_user(world["entra"], user_name=f"{tag}-a@corp.example", cost_center="F-1")
    b = entra_user(world["entra"], user_name=f"{tag}-b@other.example", cost_center="F-2")
    c = okta_user(world["okta"], user_name=f"{tag}-c@corp.example")
    g = entra_group(world["entra"], name=uniq("FilterGroup"))
    entra_add_member(world["entra"], g["id"], b["id"])
    okta_deactivate(world["okta"], c["id"])
    name = {x["userName"]: x for x in (a, b, c)}

    def names(flt, **params):
        body = reader.list("/Users", filter=flt, **params)
        return sorted(x["userName"] for x in resources(body))

    # userName eq is case-insensitive (the index holds folded names).
    assert names(f'userName eq "{a["userName"].upper()}"') == [a["userName"]]
    assert names(f'userName eq "{tag}-nobody@corp.example"') == []
    assert names(f'userName sw "{tag}" and emails.value co "@corp."') == sorted(
        [a["userName"], c["userName"]])
    assert names(f'userName sw "{tag}" and active eq false') == [c["userName"]]
    assert names(f'userName sw "{tag}" and not (active eq false)') == sorted(
        [a["userName"], b["userName"]])
    # Custom attributes, with the extension URN or bare.
    assert names(f'{EXT_URN}:costCenter eq "F-1"') == [a["userName"]]
    assert names('costCenter eq "f-2"') == [b["userName"]]  # caseExact false
    assert names(f'userName sw "{tag}" and costCenter pr') == sorted([a["userName"], b["userName"]])
    # Memberships.
    assert names(f'groups.display eq "{g["displayName"]}"') == [b["userName"]]
    assert names(f'userName sw "{tag}" and displayName eq "Olga Okta"') == [c["userName"]]
    assert names(f'userName sw "{tag}" and meta.lastModified gt "2000-01-01T00:00:00Z"') == sorted(name)

    # Groups: displayName eq uses the name index; other filters scan.
    body = reader.list("/Groups", filter=f'displayName eq "{g["displayName"].lower()}"')
    assert [x["displayName"] for x in resources(body)] == [g["displayName"]]
    body = reader.list("/Groups", filter=f'displayName sw "{g["displayName"][:12]}"')
    assert g["displayName"] in [x["displayName"] for x in resources(body)]

    for bad in ('userName eq', 'nosuch eq "x"', 'department eq "R&D"', 'password eq "x"'):
        assert_error(reader.get("/Users", params={"filter": bad}), 400, "invalidFilter")
    assert_error(reader.get("/Users", params={"sortBy": "nosuch"}), 400, "invalidValue")
    assert_error(reader.get("/Users", params={"sortOrder": "up"}), 400, "invalidValue")
    assert_error(reader.get("/Users", params={"count": "x"}), 400, "invalidValue")


def test_sort_and_paging(world, reader):
    tag = uniq("pg").lower()
    created = [okta_user(world["okta"], user_name=f"{tag}-{i}@okta.example") for i in (3, 1, 4, 0, 2)]
    flt = f'userName sw "{tag}"'
    body = reader.list("/Users", filter=flt, sortBy="userName")
    assert [x["userName"] for x in resources(body)] == [f"{tag}-{i}@okta.example" for i in range(5)]
    body = reader.list("/Users", filter=flt, sortBy="userName", sortOrder="descending",
                       startIndex=2, count=2)
    assert body["totalResults"] == 5
    assert body["startIndex"] == 2 and body["itemsPerPage"] == 2
    assert [x["userName"] for x in resources(body)] == [f"{tag}-{i}@okta.example" for i in (3, 2)]
    # Without sortBy, creation order.
    body = reader.list("/Users", filter=flt)
    assert [x["userName"] for x in resources(body)] == [u["userName"] for u in created]
    # Unfiltered pages come straight from the store; paging through them sees every user once.
    total = reader.list("/Users", count=0)
    assert total["totalResults"] >= 5 and resources(total) == []
    seen = []
    start = 1
    while start <= total["totalResults"]:
        page = reader.list("/Users", startIndex=start, count=3)
        assert page["totalResults"] == total["totalResults"]
        seen += [x["id"] for x in resources(page)]
        start += 3
    assert len(seen) == len(set(seen)) == total["totalResults"]


def test_projection(world, reader):
    u = entra_user(world["entra"], cost_center="P-1")
    g = entra_group(world["entra"])
    entra_add_member(world["entra"], g["id"], u["id"])
    flt = f'userName eq "{u["userName"]}"'

    body = reader.list("/Users", filter=flt, attributes="userName")
    x = resources(body)[0]
    assert x["userName"] == u["userName"] and "id" in x
    assert "emails" not in x and "groups" not in x and "meta" not in x and EXT_URN not in x

    body = reader.list("/Users", filter=flt, attributes=f"{EXT_URN}:costCenter,emails.value")
    x = resources(body)[0]
    assert x[EXT_URN] == {"costCenter": "P-1"}
    assert x["emails"] == [{"value": u["userName"]}]

    body = reader.list("/Users", filter=flt, excludedAttributes="groups,name")
    x = resources(body)[0]
    assert "groups" not in x and "name" not in x and x["userName"] == u["userName"]

    eff_id = resources(body)[0]["id"]
    one = reader.get(f"/Users/{eff_id}", params={"attributes": "displayName"})
    assert one.status == 200 and set(one.json) <= {"id", "schemas", "displayName"}, one

    group = reader.group_by_name(g["displayName"])
    r = reader.get(f"/Groups/{group['id']}", params={"excludedAttributes": "members"})
    assert r.status == 200 and "members" not in r.json and r.json["displayName"] == g["displayName"]
    body = reader.list("/Groups", filter=f'displayName eq "{g["displayName"]}"',
                       excludedAttributes="members")
    assert "members" not in resources(body)[0]

    assert_error(reader.get("/Users", params={"attributes": "nosuch"}), 400, "invalidValue")
    assert_error(reader.get("/Groups", params={"excludedAttributes": "memebers"}), 400,
                 "invalidValue")


def test_discovery_lists_the_custom_attribute(reader):
    body = reader.list("/Schemas")
    ids = [s["id"] for s in resources(body)]
    assert USER_URN in ids and GROUP_URN in ids and EXT_URN in ids and GROUP_EXT_URN in ids
    assert ENTERPRISE_URN not in ids
    ext = [s for s in resources(body) if s["id"] == EXT_URN][0]
    assert [a["name"] for a in ext["attributes"]] == ["costCenter"]
    rt = reader.get("/ResourceTypes/User")
    assert rt.status == 200
    assert [e["schema"] for e in rt.json["schemaExtensions"]] == [EXT_URN]
    spc = reader.get("/ServiceProviderConfig")
    assert spc.status == 200 and spc.json["patch"]["supported"] is False


def test_customers_directory_is_kept_apart(idsync_bin, server, world, reader):
    shop = add_connection(idsync_bin, server.data_dir, directory="customers")
    scim = Scim(server.scim_base, shop["token"])
    customer = okta_user(scim, user_name=f"{uniq('cust')}@shop.example")
    staff = okta_user(world["okta"], user_name=f"{uniq('staff')}@corp.example")

    customers = Reader(server, "customers",
                       read_token(idsync_bin, server.data_dir, "customers")["token"])
    assert customers.user_by_name(customer["userName"])["userName"] == customer["userName"]
    body = customers.list("/Users", filter=f'userName eq "{staff["userName"]}"')
    assert body["totalResults"] == 0
    body = reader.list("/Users", filter=f'userName eq "{customer["userName"]}"')
    assert body["totalResults"] == 0
    # Tokens do not cross directories either way.
    assert_error(customers.get("/Users", token=world["read"]), 403)
    assert_error(reader.get("/Users", token=customers.token), 403)
    # Nor do ids.
    cust_id = customers.user_by_name(customer["userName"])["id"]
    assert_error(reader.get(f"/Users/{cust_id}"), 404)
    assert all(c.get("id") != cust_id for c in all_changes(reader)[0])


# --------------------------------------------------------------------------- change feed


def test_change_feed_cursor(world, reader):
    changes, cursor = all_changes(reader)
    for c in changes:
        for key in ("seq", "time", "type", "op", "id", "cause"):
            assert key in c, c
    seqs = [c["seq"] for c in changes]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)

    u = okta_user(world["okta"])
    g = okta_group(world["okta"], uniq("FeedGroup"), [u["id"]])
    eff = reader.user_by_name(u["userName"])
    group = reader.group_by_name(g["displayName"])
    new = reader.changes(since=cursor)
    assert new["next"] == new["last"] and new["next"] > cursor
    kinds = [(c["type"], c["op"], c["id"]) for c in new["changes"]]
    assert ("User", "upsert", eff["id"]) in kinds, kinds
    assert ("Group", "upsert", group["id"]) in kinds, kinds
    assert ("Membership", "add", group["id"]) in kinds, kinds
    upsert = [c for c in new["changes"] if c["type"] == "User" and c["id"] == eff["id"]][-1]
    assert upsert["resource"]["userName"] == u["userName"]
    member = [c for c in new["changes"] if c["type"] == "Membership"][0]
    assert member["member"] == eff["id"]
    # From zero, the creates are there too, in the same order.
    everything, end = all_changes(reader, 0)
    assert end == new["last"]
    assert [c["seq"] for c in everything][-len(new["changes"]):] == [c["seq"] for c in new["changes"]]
    # limit pages; next is the last seq returned.
    page = reader.changes(since=cursor, limit=1)
    assert len(page["changes"]) == 1 and page["next"] == page["changes"][0]["seq"]
    # A cursor past the end is simply caught up.
    assert reader.changes(since=end + 1000)["changes"] == []

    for bad in ("-1", "abc", "1.5", ""):
        assert_error(reader.get("/changes", params={"since": bad}), 400, "invalidValue")
    assert_error(reader.get("/changes", params={"limit": "0"}), 400, "invalidValue")
    assert_error(reader.get("/changes", params={"wait": "-3"}), 400, "invalidValue")


def test_change_feed_long_poll(world, reader):
    _, cursor = all_changes(reader)
    result = {}

    def poll():
        t0 = time.monotonic()
        result["body"] = reader.changes(since=cursor, wait=20)
        result["elapsed"] = time.monotonic() - t0

    t = threading.Thread(target=poll)
    t.start()
    time.sleep(0.5)  # let the poll start waiting; correctness does not depend on it
    u = okta_user(world["okta"])
    t.join(timeout=25)
    assert not t.is_alive(), "long poll did not return after a write"
    assert result["elapsed"] < 10, result
    body = result["body"]
    assert any(c.get("resource", {}).get("userName") == u["userName"] for c in body["changes"]), body

    # Nothing happens: the poll returns empty after `wait`, cursor unchanged.
    _, cursor = all_changes(reader)
    t0 = time.monotonic()
    body = reader.changes(since=cursor, wait=1)
    elapsed = time.monotonic() - t0
    assert body["changes"] == [] and body["next"] == cursor, body
    assert 0.9 <= elapsed < 10, elapsed
    # wait=0 (the default) answers at once.
    t0 = time.monotonic()
    assert reader.changes(since=cursor)["changes"] == []
    assert time.monotonic() - t0 < 5


def test_long_polls_never_starve_scim(world, reader):
    """Many long polls at once: the excess is answered at once, SCIM keeps being served."""
    _, cursor = all_changes(reader)
    done = []
    lock = threading.Lock()

    def poll():
        t0 = time.monotonic()
        r = reader.get("/changes", params={"since": cursor, "wait": 4})
        with lock:
            done.append((r.status, time.monotonic() - t0, r.headers.get("retry-after")))

    threads = [threading.Thread(target=poll) for _ in range(14)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    t0 = time.monotonic()
    r = world["okta"].get("/Users", params={"count": 1})
    assert r.status == 200, r
    assert time.monotonic() - t0 < 3, "SCIM request waited behind long polls"
    for t in threads:
        t.join(timeout=15)
    assert len(done) == 14
    assert all(status == 200 for status, _, _ in done), done
    quick = [d for d in done if d[2] is not None]
    assert quick, f"no long poll was refused a slot: {done}"
    assert all(elapsed < 3 for _, elapsed, _ in quick), done
