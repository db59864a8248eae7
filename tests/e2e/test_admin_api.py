"""Admin API (/api/v1): authentication, directories, custom attributes, connections and their
tokens, policies, explain, conflicts, effective users and groups, memberships by hand,
re-derivation, the change feed, admin and read API tokens, audit.

Every response these tests receive is recorded and, at the end of the module, validated
against the OpenAPI document the server serves (the schema for that path, method and status),
and every documented operation must have been exercised (test_every_response_matches_openapi).
"""

import json
import os
import re

import jsonschema
import pytest

from conftest import (
    REPO_ROOT,
    Scim,
    cli_json,
    encode_query,
    http_request,
    new_user,
    run_cli,
    uniq,
)

OPENAPI_FILE = os.path.join(REPO_ROOT, "src", "http", "admin", "openapi.json")
API = "/api/v1"

# (method, path without query, request body sent or None, Resp), in the order received.
RECORDED = []


class Admin:
    """Admin API client; every response is recorded for the OpenAPI check."""

    def __init__(self, url, token):
        self.url = url
        self.token = token

    def call(self, method, path, body=None, params=None, raw=None, token="default",
             content_type="application/json", headers=None):
        token = self.token if token == "default" else token
        hdrs = {"Accept": "application/json"}
        if token is not None:
            hdrs["Authorization"] = f"Bearer {token}"
        data = None
        if raw is not None:
            data = raw if isinstance(raw, bytes) else raw.encode("utf-8")
        elif body is not None:
            data = json.dumps(body).encode("utf-8")
        if data is not None and content_type:
            hdrs["Content-Type"] = content_type
        hdrs.update(headers or {})
        q = encode_query(params)
        r = http_request(self.url, method, API + path + ("?" + q if q else ""), data, hdrs)
        RECORDED.append((method, API + path, body if raw is None else None, r))
        return r

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.call("POST", path, body, **kw)

    def put(self, path, body=None, **kw):
        return self.call("PUT", path, body, **kw)

    def delete(self, path, **kw):
        return self.call("DELETE", path, **kw)


def assert_api_error(resp, status, code=None, mentions=None):
    assert resp.status == status, f"expected {status}, got {resp}"
    assert resp.content_type.split(";")[0].strip() == "application/json", resp
    err = (resp.json or {}).get("error")
    assert isinstance(err, dict) and isinstance(err.get("message"), str), resp
    if code is not None:
        assert err.get("code") == code, f"code {err.get('code')!r} != {code!r}: {resp}"
    if mentions is not None:
        assert mentions in err["message"], f"{mentions!r} not in {err['message']!r}"
    return err


def ok(resp, status=200):
    assert resp.status == status, resp
    if status != 204:
        assert resp.content_type.split(";")[0].strip() == "application/json", resp
    return resp.json


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def admin_token(idsync_bin, server):
    name = uniq("admin")
    info = cli_json(idsync_bin, "admin-token", "add", name, "--data", server.data_dir, "--json")
    assert info["kind"] == "admin" and info["name"] == name, info
    assert info["token"].startswith("idsync_admin_"), info
    return info


@pytest.fixture(scope="module")
def api(server, admin_token):
    return Admin(server.url, admin_token["token"])


@pytest.fixture
def directory(api):
    """A fresh directory, so that each test's effective users are its own."""
    name = uniq("d").lower()
    ok(api.post("/directories", {"name": name}), 201)
    return name


def new_connection(api, directory):
    c = ok(api.post("/connections", {"name": uniq("c"), "directory": directory}), 201)
    return c


def scim_for(server, connection):
    return Scim(server.scim_base, connection["token"])


# --------------------------------------------------------------------------- tests


def test_openapi_document_is_served_without_token_and_is_the_repository_file(server, api):
    r = api.get("/openapi.json", token=None)
    assert r.status == 200, r
    assert r.content_type.startswith("application/json"), r
    with open(OPENAPI_FILE, "rb") as f:
        assert r.body == f.read(), "served document differs from src/http/admin/openapi.json"
    assert r.json["openapi"].startswith("3.1")


def test_authentication(idsync_bin, server, api):
    r = api.get("/directories", token=None)
    assert_api_error(r, 401, "unauthorized")
    assert r.headers.get("www-authenticate", "").lower().startswith("bearer"), r
    r = api.get("/directories", token="idsync_admin_" + "A" * 43)
    assert_api_error(r, 401, "unauthorized")
    assert "www-authenticate" in r.headers
    # A connection's SCIM token is no admin credential.
    c = ok(api.post("/connections", {"name": uniq("c")}), 201)
    assert_api_error(api.get("/connections", token=c["token"]), 401, "unauthorized")
    # A read token is a valid credential of the wrong kind.
    read = cli_json(idsync_bin, "read-token", "add", uniq("app"), "--directory", "users",
                    "--data", server.data_dir, "--json")
    assert read["kind"] == "read", read
    assert_api_error(api.get("/directories", token=read["token"]), 403, "forbidden")
    assert_api_error(api.post("/directories", {"name": "x" + uniq().lower()},
                              token=read["token"]), 403, "forbidden")
    ok(api.get("/directories"))
    # A removed admin token stops working on the next request.
    extra = cli_json(idsync_bin, "admin-token", "add", uniq("gone"), "--data", server.data_dir,
                     "--json")
    ok(api.get("/connections", token=extra["token"]))
    r = run_cli(idsync_bin, "admin-token", "remove", extra["name"], "--data", server.data_dir)
    assert r.returncode == 0, r.stderr
    assert_api_error(api.get("/connections", token=extra["token"]), 401, "unauthorized")
    # Request ids are echoed.
    r = api.get("/directories", headers={"X-Request-Id": "rid-admin-1"})
    assert r.headers.get("x-request-id") == "rid-admin-1"


def test_unknown_routes_methods_and_bodies(api):
    assert_api_error(api.get("/nothing-here"), 404, "not_found")
    assert_api_error(api.get("/directories/users/unknown-thing"), 404, "not_found")
    r = api.delete("/directories")
    assert_api_error(r, 405, "method_not_allowed")
    assert set(r.headers.get("allow", "").replace(" ", "").split(",")) == {"GET", "POST"}
    assert_api_error(api.post("/directories", raw="{not json"), 400, "invalid_syntax")
    assert_api_error(api.post("/directories", raw='{"name": "a", "name": "b"}'), 400,
                     "invalid_syntax")
    assert_api_error(api.post("/directories", raw="name=x", content_type="text/plain"), 400,
                     "invalid_syntax")
    assert_api_error(api.post("/directories", raw=""), 400, "invalid_syntax")
    assert_api_error(api.post("/directories", [1, 2]), 400, "invalid_syntax")
    assert_api_error(api.post("/directories", {"name": "ok", "nmae": "typo"}), 400,
                     "invalid_value", mentions="nmae")


def test_directories(api):
    listed = ok(api.get("/directories"))
    names = {d["name"] for d in listed["directories"]}
    assert {"users", "customers"} <= names, listed
    name = uniq("staff").lower()
    r = api.post("/directories", {"name": name})
    created = ok(r, 201)
    assert created["name"] == name and created["custom_attributes"] == []
    assert r.headers["location"].endswith(f"{API}/directories/{name}"), r.headers
    assert name in {d["name"] for d in ok(api.get("/directories"))["directories"]}
    assert_api_error(api.post("/directories", {"name": name}), 409, "uniqueness")
    assert_api_error(api.post("/directories", {"name": "Not A Name"}), 400, "invalid_value")
    assert_api_error(api.post("/directories", {}), 400, "invalid_value", mentions="name")
    assert_api_error(api.post("/directories", {"name": 7}), 400, "invalid_value",
                     mentions="name")
    detail = ok(api.get(f"/directories/{name}"))
    assert detail["name"] == name
    assert detail["connections"] == [] and detail["users"] == 0 and detail["groups"] == 0
    c = new_connection(api, name)
    assert ok(api.get(f"/directories/{name}"))["connections"] == [c["name"]]
    assert_api_error(api.get("/directories/no-such-dir"), 404, "not_found")


def test_custom_attributes(server, api, directory):
    got = ok(api.get(f"/directories/{directory}/custom-attributes"))
    assert got["directory"] == directory and got["custom_attributes"] == []
    defs = [{"name": "costCenter", "type": "string"},
            {"name": "badges", "type": "string", "multi_valued": True}]
    put = ok(api.put(f"/directories/{directory}/custom-attributes", {"custom_attributes": defs}))
    assert [d["name"] for d in put["custom_attributes"]] == ["costCenter", "badges"]
    assert put["custom_attributes"][0]["multi_valued"] is False
    assert put["version"] > got["version"]
    assert ok(api.get(f"/directories/{directory}/custom-attributes")) == put

    bad = [{"name": "ok", "type": "string"}, {"name": "weight", "type": "float"}]
    r = api.put(f"/directories/{directory}/custom-attributes", {"custom_attributes": bad})
    assert_api_error(r, 400, "invalid_value", mentions="custom_attributes[1].type")
    r = api.put(f"/directories/{directory}/custom-attributes",
                {"custom_attributes": [{"name": "username", "type": "string"}]})
    assert_api_error(r, 400, "invalid_value", mentions="custom_attributes[0].name")
    r = api.put(f"/directories/{directory}/custom-attributes",
                {"custom_attributes": [{"name": "x", "type": "string", "color": "red"}]})
    assert_api_error(r, 400, "invalid_value", mentions="custom_attributes[0]")
    assert_api_error(api.put(f"/directories/{directory}/custom-attributes", {"attrs": []}),
                     400, "invalid_value", mentions="attrs")
    assert_api_error(api.put(f"/directories/{directory}/custom-attributes", {}), 400,
                     "invalid_value", mentions="custom_attributes")
    assert_api_error(api.get("/directories/no-such-dir/custom-attributes"), 404, "not_found")

    # A policy maps the custom attribute; the read side shows it under idsync's extension.
    c = new_connection(api, directory)
    policy = {"attributes": {"costCenter": {"sources": [
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter"]}}}
    ok(api.put(f"/connections/{c['name']}/policy", policy))
    scim = scim_for(server, c)
    body = new_user()
    body["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"] = {"costCenter": "CC-7"}
    assert scim.post("/Users", body).status == 201
    explained = ok(api.get(f"/directories/{directory}/users/{body['userName']}/explain"))
    assert explained["attributes"]["costCenter"]["value"] == "CC-7", explained
    users = ok(api.get(f"/directories/{directory}/users",
                       params={"filter": 'costCenter eq "CC-7"'}))
    assert users["totalResults"] == 1, users


def test_connection_lifecycle_through_the_api_is_seen_by_scim_at_once(server, api, directory):
    name = uniq("conn")
    r = api.post("/connections", {"name": name, "directory": directory})
    c = ok(r, 201)
    assert c["name"] == name and c["directory"] == directory and c["enabled"] is True
    assert c["token"].startswith("idsync_scim_")
    assert c["base_url"].endswith("/scim/v2")
    assert r.headers["location"].endswith(f"{API}/connections/{name}")
    scim = scim_for(server, c)
    assert scim.get("/Users").status == 200

    assert name in {x["name"] for x in ok(api.get("/connections"))["connections"]}
    shown = ok(api.get(f"/connections/{name}"))
    assert shown["id"] == c["id"] and "token" not in shown
    assert len(shown["tokens"]) == 1 and shown["tokens"][0]["expires"] is None
    assert shown["users"] == 0 and shown["groups"] == 0
    scim.create_user()
    assert ok(api.get(f"/connections/{name}"))["users"] == 1

    assert_api_error(api.post("/connections", {"name": name}), 409, "uniqueness")
    assert_api_error(api.post("/connections", {"name": "bad name!"}), 400, "invalid_value")
    assert_api_error(api.post("/connections", {"name": uniq("c"), "directory": "nope-nope"}),
                     400, "invalid_value")
    assert_api_error(api.post("/connections", {"directory": directory}), 400, "invalid_value",
                     mentions="name")

    off = ok(api.post(f"/connections/{name}/disable"))
    assert off["enabled"] is False
    assert scim.get("/Users").status == 403  # SCIM: a disabled connection's token is forbidden
    assert ok(api.post(f"/connections/{name}/enable"))["enabled"] is True
    assert scim.get("/Users").status == 200
    assert_api_error(api.get(f"/connections/{name}/enable"), 405, "method_not_allowed")

    rotated = ok(api.post(f"/connections/{name}/rotate-token", {"keep_old_for": "1h"}))
    assert rotated["token"].startswith("idsync_scim_") and rotated["token"] != c["token"]
    assert rotated["old_token_expires"] is not None
    new_scim = Scim(server.scim_base, rotated["token"])
    assert new_scim.get("/Users").status == 200
    assert scim.get("/Users").status == 200  # still within the hour
    tokens = ok(api.get(f"/connections/{name}"))["tokens"]
    assert len(tokens) == 2 and sum(t["expires"] is not None for t in tokens) == 1, tokens
    assert_api_error(api.post(f"/connections/{name}/rotate-token", {"keep_old_for": "soon"}),
                     400, "invalid_value", mentions="keep_old_for")
    # Without a body the previous tokens stop at once.
    again = ok(api.post(f"/connections/{name}/rotate-token"))
    assert again["old_token_expires"] is not None
    assert scim.get("/Users").status == 401
    assert new_scim.get("/Users").status == 401
    assert Scim(server.scim_base, again["token"]).get("/Users").status == 200

    assert api.delete(f"/connections/{name}").status == 204
    assert Scim(server.scim_base, again["token"]).get("/Users").status == 401
    assert_api_error(api.get(f"/connections/{name}"), 404, "not_found")
    assert_api_error(api.delete(f"/connections/{name}"), 404, "not_found")
    assert_api_error(api.post(f"/connections/{name}/disable"), 404, "not_found")
    assert_api_error(api.post(f"/connections/{name}/rotate-token"), 404, "not_found")


def test_policy_get_validate_preview_apply_versions(server, api, admin_token, directory):
    c = new_connection(api, directory)
    name = c["name"]
    doc = ok(api.get(f"/connections/{name}/policy"))
    assert doc["version"] == 0 and doc["connection"] == name
    defaults = doc["policy"]
    assert defaults["users"]["import_new"] is True
    assert defaults["attributes"]["username"]["sources"] == ["userName"], defaults
    assert defaults["groups"]["mode"] == "on_the_fly"

    bad = {"attributes": {"email": {"sources": ["emial"]}}}
    assert_api_error(api.post(f"/connections/{name}/policy/validate", bad), 400,
                     "invalid_value", mentions="attributes.email.sources[0]")
    assert_api_error(api.post(f"/connections/{name}/policy/validate", {"userz": {}}), 400,
                     "invalid_value", mentions="userz")
    assert_api_error(api.post(f"/connections/{name}/policy/preview", bad), 400,
                     "invalid_value", mentions="attributes.email.sources[0]")
    assert_api_error(api.put(f"/connections/{name}/policy", bad), 400, "invalid_value",
                     mentions="attributes.email.sources[0]")
    assert_api_error(api.post(f"/connections/{name}/policy/validate", raw="[}"), 400,
                     "invalid_syntax")
    assert ok(api.get(f"/connections/{name}/policy"))["version"] == 0  # nothing stored

    change = {"attributes": {"displayName": {"sources": ["userName"],
                                             "transforms": ["lower"]}}}
    valid = ok(api.post(f"/connections/{name}/policy/validate", change))
    assert valid["valid"] is True
    assert valid["policy"]["attributes"]["displayName"]["sources"] == ["userName"]
    assert valid["policy"]["users"] == defaults["users"]  # omitted settings: defaults

    scim = scim_for(server, c)
    users = [scim.create_user(displayName="Shown Name") for _ in range(3)]
    preview = ok(api.post(f"/connections/{name}/policy/preview", change))
    assert preview["counts"]["updated"] == 3, preview
    assert preview["counts"]["created"] == 0 and preview["counts"]["removed"] == 0
    small = ok(api.post(f"/connections/{name}/policy/preview", change,
                        params={"max_items": 1}))
    assert small["counts"] == preview["counts"] and len(small["updated"]) == 1, small
    assert_api_error(api.post(f"/connections/{name}/policy/preview", change,
                              params={"max_items": "many"}), 400, "invalid_value",
                     mentions="max_items")
    # Preview writes nothing.
    assert ok(api.get(f"/connections/{name}/policy"))["version"] == 0

    applied = ok(api.put(f"/connections/{name}/policy", change,
                         headers={"X-Request-Id": "rid-apply-1"}))
    assert applied["version"] == 1
    assert applied["counts"] == preview["counts"], (applied, preview)
    doc = ok(api.get(f"/connections/{name}/policy"))
    assert doc["version"] == 1 and doc["actor"] == f"admin:{admin_token['name']}", doc
    assert doc["policy"]["attributes"]["displayName"]["transforms"] == ["lower"]
    u = users[0]
    explained = ok(api.get(f"/directories/{directory}/users/{u['userName']}/explain"))
    assert explained["attributes"]["displayName"]["value"] == u["userName"].lower(), explained
    # Applying the same policy again changes nothing.
    assert ok(api.post(f"/connections/{name}/policy/preview", change))["counts"]["updated"] == 0

    ok(api.put(f"/connections/{name}/policy", {}))  # back to the defaults: version 2
    versions = ok(api.get(f"/connections/{name}/policy/versions"))
    assert [v["version"] for v in versions["versions"]] == [2, 1], versions
    assert all(v["actor"] == f"admin:{admin_token['name']}" for v in versions["versions"])
    assert versions["versions"][1]["policy"]["attributes"]["displayName"]["sources"] == \
        ["userName"]

    for path in ("/policy", "/policy/versions"):
        assert_api_error(api.get(f"/connections/no-such-conn{path}"), 404, "not_found")
    assert_api_error(api.post("/connections/no-such-conn/policy/validate", {}), 404, "not_found")
    assert_api_error(api.delete(f"/connections/{name}/policy"), 405, "method_not_allowed")


def test_explain_and_effective_users_and_groups(server, api, directory):
    c = new_connection(api, directory)
    scim = scim_for(server, c)
    u = scim.create_user()
    g = scim.create_group(display_name=uniq("Team"), members=[u["id"]])

    by_name = ok(api.get(f"/directories/{directory}/users/{u['userName'].upper()}/explain"))
    assert by_name["username"].lower() == u["userName"].lower()
    assert by_name["state"] == "active"
    assert by_name["attributes"]["username"]["connection_name"] == c["name"], by_name
    assert [s["connection_name"] for s in by_name["sources"]] == [c["name"]], by_name
    assert any(m.get("group") == g["displayName"] for m in by_name["memberships"]), by_name
    by_id = ok(api.get(f"/directories/{directory}/users/{by_name['id']}/explain"))
    assert by_id["id"] == by_name["id"]
    assert_api_error(api.get(f"/directories/{directory}/users/nobody-at-all/explain"), 404,
                     "not_found")
    assert_api_error(api.get(f"/directories/no-such-dir/users/{u['userName']}/explain"), 404,
                     "not_found")

    listed = ok(api.get(f"/directories/{directory}/users"))
    assert listed["totalResults"] == 1 and listed["Resources"][0]["id"] == by_name["id"]
    found = ok(api.get(f"/directories/{directory}/users",
                       params={"filter": f'userName eq "{u["userName"]}"', "startIndex": 1,
                               "count": 10}))
    assert [x["id"] for x in found["Resources"]] == [by_name["id"]]
    none = ok(api.get(f"/directories/{directory}/users",
                      params={"filter": 'userName eq "nobody"'}))
    assert none["totalResults"] == 0 and none["Resources"] == []
    one = api.get(f"/directories/{directory}/users/{by_name['id']}")
    user = ok(one)
    assert user["userName"] == by_name["username"] and one.headers.get("etag")
    assert any(gr["display"] == g["displayName"] for gr in user.get("groups", [])), user
    slim = ok(api.get(f"/directories/{directory}/users/{by_name['id']}",
                      params={"attributes": "userName"}))
    assert "emails" not in slim and slim["userName"] == user["userName"]

    groups = ok(api.get(f"/directories/{directory}/groups",
                        params={"filter": f'displayName eq "{g["displayName"]}"'}))
    assert groups["totalResults"] == 1, groups
    gid = groups["Resources"][0]["id"]
    group = ok(api.get(f"/directories/{directory}/groups/{gid}"))
    assert [m["value"] for m in group["members"]] == [by_name["id"]], group
    assert ok(api.get(f"/directories/{directory}/groups"))["totalResults"] == 1

    assert_api_error(api.get(f"/directories/{directory}/users", params={"filter": "userName eq"}),
                     400, "invalid_filter")
    assert_api_error(api.get(f"/directories/{directory}/users", params={"count": "x"}), 400,
                     "invalid_value", mentions="count")
    assert_api_error(api.get(f"/directories/{directory}/users/not-an-id"), 404, "not_found")
    assert_api_error(api.get(f"/directories/{directory}/groups/not-an-id"), 404, "not_found")
    assert_api_error(api.get("/directories/no-such-dir/users"), 404, "not_found")
    assert_api_error(api.post(f"/directories/{directory}/users", {}), 405, "method_not_allowed")


def test_conflicts_when_linking_is_off(server, api, directory):
    a = new_connection(api, directory)
    b = new_connection(api, directory)
    for c in (a, b):
        ok(api.put(f"/connections/{c['name']}/policy", {"linking": {"key": "none"}}))
    assert ok(api.get(f"/directories/{directory}/conflicts")) == {"directory": directory,
                                                                  "conflicts": []}
    name = f"{uniq('same')}@example.com"
    scim_for(server, a).create_user(userName=name)
    second = scim_for(server, b).create_user(userName=name)
    conflicts = ok(api.get(f"/directories/{directory}/conflicts"))["conflicts"]
    assert len(conflicts) == 1, conflicts
    assert conflicts[0]["username"].lower() == name.lower()
    assert conflicts[0]["source_user"] == second["id"]
    assert conflicts[0]["connection_name"] == b["name"], conflicts
    # The first source keeps the user; nothing was overwritten.
    explained = ok(api.get(f"/directories/{directory}/users/{name}/explain"))
    assert [s["connection_name"] for s in explained["sources"]] == [a["name"]]
    # The conflict names the holder, for the console to link to.
    assert conflicts[0]["detail"]["held_by"] == explained["id"], conflicts
    assert conflicts[0]["detail"]["held_by_username"] == explained["username"], conflicts
    assert_api_error(api.get("/directories/no-such-dir/conflicts"), 404, "not_found")


def test_audit(api, admin_token, directory):
    c = new_connection(api, directory)
    ok(api.post(f"/connections/{c['name']}/disable"))
    ok(api.post(f"/connections/{c['name']}/enable"))
    page = ok(api.get("/audit", params={"connection": c["name"]}))
    records = page["records"]
    assert len(records) >= 3, page
    assert all(r["connection"] == c["name"] for r in records)
    assert all(r["actor"] == f"admin:{admin_token['name']}" for r in records), records
    seqs = [r["seq"] for r in records]
    assert seqs == sorted(seqs)
    assert page["next_after"] is None

    first = ok(api.get("/audit", params={"connection": c["name"], "limit": 1}))
    assert len(first["records"]) == 1 and first["next_after"] == first["records"][0]["seq"]
    rest = ok(api.get("/audit", params={"connection": c["name"], "after": first["next_after"]}))
    assert [r["seq"] for r in rest["records"]] == seqs[1:]
    since = ok(api.get("/audit", params={"connection": c["name"], "since": records[-1]["time"]}))
    assert records[-1]["seq"] in [r["seq"] for r in since["records"]]
    future = ok(api.get("/audit", params={"since": "2200-01-01T00:00:00Z"}))
    assert future["records"] == []
    ok(api.get("/audit", params={"limit": 5}))

    assert_api_error(api.get("/audit", params={"since": "yesterday"}), 400, "invalid_value",
                     mentions="since")
    assert_api_error(api.get("/audit", params={"limit": 0}), 400, "invalid_value",
                     mentions="limit")
    assert_api_error(api.get("/audit", params={"limit": 5000}), 400, "invalid_value")
    assert_api_error(api.get("/audit", params={"connection": "no-such-conn"}), 404,
                     "not_found")


def test_api_tokens(server, api, admin_token, directory):
    listed = ok(api.get("/api-tokens"))["api_tokens"]
    mine = [t for t in listed if t["name"] == admin_token["name"]]
    assert mine and mine[0]["kind"] == "admin" and mine[0]["directory"] == "", listed
    assert all("token" not in t for t in listed)

    # An admin token made through the API works on the API at once.
    name = uniq("console")
    r = api.post("/api-tokens", {"name": name, "kind": "admin"})
    made = ok(r, 201)
    assert made["name"] == name and made["kind"] == "admin" and made["directory"] == ""
    assert made["token"].startswith("idsync_admin_"), made
    assert r.headers.get("cache-control") == "no-store", r.headers
    assert r.headers["location"].endswith(f"{API}/api-tokens/{name}"), r.headers
    ok(api.get("/directories", token=made["token"]))

    # A read token reads its directory through the read API and is refused by the admin API.
    reader = ok(api.post("/api-tokens", {"name": uniq("app"), "kind": "read",
                                         "directory": directory}), 201)
    assert reader["token"].startswith("idsync_read_") and reader["directory"] == directory
    root = server.scim_base[: -len("/scim/v2")]
    assert Scim(f"{root}/directory/v2/{directory}", reader["token"]).get("/Users").status == 200
    assert Scim(f"{root}/directory/v2/users", reader["token"]).get("/Users").status == 403
    assert_api_error(api.get("/directories", token=reader["token"]), 403, "forbidden")
    names = {t["name"]: t for t in ok(api.get("/api-tokens"))["api_tokens"]}
    assert names[reader["name"]]["kind"] == "read"
    assert names[reader["name"]]["directory"] == directory

    # The CLI sees what the API made (one home for tokens).
    cli = run_cli(server.binary, "read-token", "list", "--data", server.data_dir, "--json")
    assert cli.returncode == 0, cli.stderr
    assert reader["name"] in {t["name"] for t in json.loads(cli.stdout)}

    assert_api_error(api.post("/api-tokens", {"name": name, "kind": "admin"}), 409, "uniqueness")
    assert_api_error(api.post("/api-tokens", {"name": uniq("x"), "kind": "root"}), 400,
                     "invalid_value", mentions="kind")
    assert_api_error(api.post("/api-tokens", {"name": uniq("x"), "kind": "admin",
                                              "directory": directory}), 400, "invalid_value",
                     mentions="directory")
    assert_api_error(api.post("/api-tokens", {"name": uniq("x"), "kind": "read"}), 400,
                     "invalid_value", mentions="directory")
    assert_api_error(api.post("/api-tokens", {"name": uniq("x"), "kind": "read",
                                              "directory": "no-such-dir"}), 400, "invalid_value",
                     mentions="no-such-dir")
    assert_api_error(api.post("/api-tokens", {"name": "bad name!", "kind": "admin"}), 400,
                     "invalid_value")
    assert_api_error(api.post("/api-tokens", {"kind": "admin"}), 400, "invalid_value",
                     mentions="name")
    assert_api_error(api.post("/api-tokens", {"name": uniq("x"), "kind": "admin", "secret": "s"}),
                     400, "invalid_value", mentions="secret")
    assert_api_error(api.put("/api-tokens", {}), 405, "method_not_allowed")
    assert_api_error(api.get(f"/api-tokens/{name}"), 405, "method_not_allowed")

    # Removed: it stops working on the next request.
    assert api.delete(f"/api-tokens/{name}").status == 204
    assert_api_error(api.get("/directories", token=made["token"]), 401, "unauthorized")
    assert api.delete(f"/api-tokens/{reader['name']}").status == 204
    assert Scim(f"{root}/directory/v2/{directory}", reader["token"]).get("/Users").status == 401
    assert_api_error(api.delete(f"/api-tokens/{name}"), 404, "not_found", mentions=name)
    assert name not in {t["name"] for t in ok(api.get("/api-tokens"))["api_tokens"]}


def test_activity_filters_audit_and_changes_by_user_and_time(server, api, directory):
    """The console's Activity filters, server-side: audit ?user= and ?until=, changes ?user=."""
    c = new_connection(api, directory)
    scim = scim_for(server, c)
    users = [scim.create_user() for _ in range(2)]
    ids = [ok(api.get(f"/directories/{directory}/users/{u['userName']}/explain"))["id"]
           for u in users]
    group = "Activity " + uniq()
    for verb in ("grant", "revoke"):
        ok(api.post(f"/directories/{directory}/memberships/{verb}",
                    {"user": ids[0], "group": group}, headers={"X-Request-Id": "rid-" + verb}))
    ok(api.post(f"/directories/{directory}/memberships/grant", {"user": ids[1], "group": group}))
    # The audit log of one user: the SCIM create of its linked source user (test_activity_user.py
    # covers that part), then its grant and revoke with their request ids; nobody else's.
    mine = ok(api.get("/audit", params={"user": ids[0]}))["records"]
    assert [r["request_id"] for r in mine[1:]] == ["rid-grant", "rid-revoke"], mine
    assert mine[0]["resource_id"] == users[0]["id"] and mine[0]["operation"] == "create", mine
    assert all(r["resource_id"] in (ids[0], users[0]["id"]) for r in mine)
    # until: before the first record nothing; a page cut by limit pages on with next_after.
    assert ok(api.get("/audit", params={"user": ids[0], "until": "2000-01-01T00:00:00Z"}))[
        "records"] == []
    first = ok(api.get("/audit", params={"user": ids[0], "limit": 2}))
    assert len(first["records"]) == 2 and first["next_after"] == first["records"][1]["seq"]
    rest = ok(api.get("/audit", params={"user": ids[0], "after": first["next_after"]}))
    assert [r["request_id"] for r in rest["records"]] == ["rid-revoke"], rest
    assert_api_error(api.get("/audit", params={"until": "yesterday"}), 400, "invalid_value",
                     mentions="until")
    # The change feed of one user: its own upsert and its membership add and remove, and the
    # page that is not full reports the client caught up (next == last).
    page = ok(api.get(f"/directories/{directory}/changes", params={"user": ids[0]}))
    kinds = [(ch["type"], ch["op"]) for ch in page["changes"]]
    assert ("User", "upsert") in kinds and ("Membership", "add") in kinds, kinds
    assert ("Membership", "remove") in kinds, kinds
    assert all(ch["id"] == ids[0] or ch.get("member") == ids[0] for ch in page["changes"]), page
    assert page["next"] == page["last"], page
    everything = ok(api.get(f"/directories/{directory}/changes"))["changes"]
    assert len(page["changes"]) < len(everything)
    assert_api_error(api.get("/directories/no-such-dir/changes", params={"user": ids[0]}), 404)


def test_memberships_by_hand_rederive_and_change_feed(server, api, admin_token, directory):
    c = new_connection(api, directory)
    scim = scim_for(server, c)
    u = scim.create_user()
    username = u["userName"]
    user_id = ok(api.get(f"/directories/{directory}/users/{username}/explain"))["id"]
    start = ok(api.get(f"/directories/{directory}/changes"))
    assert start["directory"] == directory and start["next"] == start["last"], start
    assert [ch["type"] for ch in start["changes"]].count("User") >= 1, start

    group = "Hand / Picked " + uniq()
    granted = ok(api.post(f"/directories/{directory}/memberships/grant",
                          {"user": username.upper(), "group": group},
                          headers={"X-Request-Id": "rid-grant-1"}))
    assert granted["id"] == user_id
    hand = [m for m in granted["memberships"] if m["group"] == group]
    assert len(hand) == 1 and [g["rule"] for g in hand[0]["grants"]] == ["existing"], granted
    # What applications see: the group exists with the user in it.
    groups = ok(api.get(f"/directories/{directory}/groups",
                        params={"filter": f'displayName eq "{group}"'}))
    assert groups["totalResults"] == 1, groups
    assert [m["value"] for m in groups["Resources"][0]["members"]] == [user_id]
    # Granting again changes nothing and still answers the explanation.
    assert ok(api.post(f"/directories/{directory}/memberships/grant",
                       {"user": user_id, "group": group}))["id"] == user_id

    # The change feed shows the membership, caused by this admin token and request.
    feed = ok(api.get(f"/directories/{directory}/changes", params={"since": start["next"]}))
    adds = [ch for ch in feed["changes"] if ch["type"] == "Membership" and ch["op"] == "add"]
    assert len(adds) == 1 and adds[0]["member"] == user_id, feed
    assert adds[0]["cause"]["actor"] == f"admin:{admin_token['name']}", adds[0]
    assert adds[0]["cause"]["request_id"] == "rid-grant-1", adds[0]
    assert feed["next"] == feed["changes"][-1]["seq"] and feed["last"] >= feed["next"]
    # Paging: one at a time reaches the same entries.
    seen, since = [], start["next"]
    while True:
        page = ok(api.get(f"/directories/{directory}/changes", params={"since": since, "limit": 1}))
        if not page["changes"]:
            assert page["next"] == since == page["last"], page
            break
        assert len(page["changes"]) == 1
        seen.append(page["changes"][0]["seq"])
        since = page["next"]
    assert seen == [ch["seq"] for ch in feed["changes"]]
    audit, after = [], 0
    while after is not None:
        page = ok(api.get("/audit", params={"after": after, "limit": 1000}))
        audit += page["records"]
        after = page["next_after"]
    assert any(a["operation"] == "membership.grant" and a["request_id"] == "rid-grant-1"
               and a["resource_id"] == user_id for a in audit), audit[-5:]

    revoked = ok(api.post(f"/directories/{directory}/memberships/revoke",
                          {"user": username, "group": group.lower()}))
    assert all(m["group"] != group for m in revoked["memberships"]), revoked
    assert_api_error(api.post(f"/directories/{directory}/memberships/revoke",
                              {"user": username, "group": group}), 404, "not_found",
                     mentions=group)

    # After writes through SCIM and by hand, a re-derivation changes nothing.
    result = ok(api.post(f"/directories/{directory}/rederive"))
    assert all(v == 0 for v in result["counts"].values()), result
    ok(api.post(f"/directories/{directory}/rederive", {}))

    # Errors.
    grant = f"/directories/{directory}/memberships/grant"
    assert_api_error(api.post(grant, {"user": "nobody-at-all", "group": "G"}), 404, "not_found")
    assert_api_error(api.post("/directories/no-such-dir/memberships/grant",
                              {"user": username, "group": "G"}), 404, "not_found")
    assert_api_error(api.post(grant, {"user": username}), 400, "invalid_value", mentions="group")
    assert_api_error(api.post(grant, {"user": username, "group": ""}), 400, "invalid_value")
    assert_api_error(api.post(grant, {"group": "G"}), 400, "invalid_value", mentions="user")
    assert_api_error(api.post(grant, {"user": username, "group": "G", "why": "x"}), 400,
                     "invalid_value", mentions="why")
    assert_api_error(api.post(grant, raw="{"), 400, "invalid_syntax")
    assert_api_error(api.get(grant), 405, "method_not_allowed")
    assert_api_error(api.post(f"/directories/{directory}/memberships/steal",
                              {"user": username, "group": "G"}), 404, "not_found")
    assert_api_error(api.post("/directories/no-such-dir/rederive"), 404, "not_found")
    assert_api_error(api.post(f"/directories/{directory}/rederive", {"full": True}), 400,
                     "invalid_value", mentions="full")
    assert_api_error(api.get(f"/directories/{directory}/rederive"), 405, "method_not_allowed")
    changes = f"/directories/{directory}/changes"
    assert_api_error(api.get(changes, params={"limit": 0}), 400, "invalid_value", mentions="limit")
    assert_api_error(api.get(changes, params={"limit": 1001}), 400, "invalid_value")
    assert_api_error(api.get(changes, params={"since": -1}), 400, "invalid_value",
                     mentions="since")
    assert_api_error(api.get(changes, params={"since": "latest"}), 400, "invalid_value")
    assert_api_error(api.get("/directories/no-such-dir/changes"), 404, "not_found")
    assert_api_error(api.post(changes, {}), 405, "method_not_allowed")


# --------------------------------------------------------------------------- OpenAPI check


def _load_openapi():
    with open(OPENAPI_FILE, "rb") as f:
        return json.loads(f.read())


def _resolve(doc, node):
    """Follows a local $ref (#/a/b) to its target."""
    while isinstance(node, dict) and set(node) == {"$ref"}:
        target = doc
        for part in node["$ref"][2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def _templates(doc):
    out = []
    for template in doc["paths"]:
        pattern = "^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)) + "$"
        out.append((template.count("{"), template, re.compile(pattern)))
    return sorted(out)  # fewest parameters first: literal segments win


def _operation(doc, templates, method, path):
    for _, template, rx in templates:
        if rx.match(path):
            return template, doc["paths"][template].get(method.lower())
    return None, None


def _schema_validator(doc, schema):
    # The schema is checked with the document's components beside it, so that local
    # "#/components/..." references resolve without a resolver (works on any jsonschema 4.x).
    root = dict(schema)
    root["components"] = doc["components"]
    return jsonschema.Draft202012Validator(root, format_checker=jsonschema.FormatChecker())


def _check(doc, templates, method, path, body, resp):
    problems = []
    where = f"{method} {path} -> {resp.status}"
    template, op = _operation(doc, templates, method, path)
    if op is None:
        # Only 404/405 answers may come from undocumented paths or methods.
        if resp.status not in (404, 405):
            problems.append(f"{where}: no operation documented for {template or path}")
        schema = _resolve(doc, doc["components"]["responses"]["Error"])
        schema = schema["content"]["application/json"]["schema"]
        if resp.json is None or _schema_validator(doc, schema).is_valid(resp.json) is False:
            problems.append(f"{where}: not an Error body: {resp.body[:200]!r}")
        return template, problems
    responses = op["responses"]
    spec = responses.get(str(resp.status)) or responses.get("default")
    if spec is None:
        return template, [f"{where}: status not documented"]
    spec = _resolve(doc, spec)
    content = spec.get("content")
    if not content:
        if resp.body:
            problems.append(f"{where}: documented without content but has a body")
        return template, problems
    if resp.content_type.split(";")[0].strip() not in content:
        problems.append(f"{where}: Content-Type {resp.content_type!r} not in {list(content)}")
        return template, problems
    schema = content[resp.content_type.split(";")[0].strip()]["schema"]
    if resp.json is None:
        return template, [f"{where}: body is not JSON: {resp.body[:200]!r}"]
    for err in _schema_validator(doc, schema).iter_errors(resp.json):
        problems.append(f"{where}: {'/'.join(map(str, err.absolute_path))}: {err.message[:300]}")
    for name in spec.get("headers", {}):
        if name.lower() not in resp.headers:
            problems.append(f"{where}: documented header {name} missing")
    # A request the server accepted must match the documented request body.
    if 200 <= resp.status < 300 and body is not None and "requestBody" in op:
        req_schema = op["requestBody"]["content"]["application/json"]["schema"]
        for err in _schema_validator(doc, req_schema).iter_errors(body):
            problems.append(f"{where}: accepted request body does not match the document: "
                            f"{err.message[:300]}")
    return template, problems


def test_every_response_matches_openapi(request):
    doc = _load_openapi()
    templates = _templates(doc)
    if not RECORDED:
        pytest.skip("no admin API responses were recorded (run the whole module)")
    problems = []
    seen = set()
    for method, path, body, resp in RECORDED:
        template, found = _check(doc, templates, method, path, body, resp)
        problems += found
        if template and 200 <= resp.status < 300:
            seen.add((method.lower(), template))
    assert not problems, f"{len(problems)} responses differ from the OpenAPI document:\n" + \
        "\n".join(problems[:50])
    # Every answer, success or error, is JSON a browser must neither sniff nor frame.
    unguarded = [f"{method} {path} -> {resp.status}" for method, path, _, resp in RECORDED
                 if resp.headers.get("x-content-type-options") != "nosniff"
                 or "default-src 'none'" not in resp.headers.get("content-security-policy", "")
                 or "frame-ancestors 'none'" not in resp.headers.get("content-security-policy", "")]
    assert not unguarded, f"responses without nosniff and CSP: {unguarded[:20]}"

    # Every documented operation was exercised with success when the whole module ran.
    module_tests = {item.name for item in request.session.items
                    if item.module is request.module}
    all_tests = {name for name in dir(request.module) if name.startswith("test_")}
    if module_tests >= all_tests:
        # Operations tagged "ldap" need a slapd; test_ldap.py exercises and checks them. Those
        # tagged "ldap_server" (service accounts, directory LDAP settings) are exercised and
        # checked by test_ldap_accounts.py; "overview" (the console's activity route) by
        # test_console_ldap.py; "explorer" (the console's user search) by test_user_search.py;
        # "mapping_sample" (the live mapping preview) by test_policy_sample.py.
        documented = {(m, t) for t, ops in doc["paths"].items() for m in ops
                      if m in ("get", "put", "post", "delete", "patch")
                      and not {"ldap", "ldap_server", "console", "overview", "explorer",
                             "mapping_sample"}
                      & set(ops[m].get("tags", []))}
        missing = sorted(documented - seen)
        assert not missing, f"documented operations never answered 2xx in these tests: {missing}"
