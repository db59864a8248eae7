"""Content negotiation (issue #11 item 9; RFC 7644 §3.8): a client whose Accept asks for
application/json, and not application/scim+json, gets its responses, errors included, as
Content-Type: application/json with the same body. OneLogin documents that it requires this.
application/scim+json stays the default: without Accept, with */*, or when both are asked for
alike. The read API (/directory/v2) negotiates the same way.
"""

import pytest

from conftest import (
    ERROR_URN,
    SCIM_JSON,
    Scim,
    cli_json,
    http_request,
    uniq,
)

PLAIN = "application/json"


def media_type(resp):
    return resp.content_type.split(";")[0].strip().lower()


def as_client(scim, accept):
    """The same connection, sending this Accept (None: no Accept header at all)."""
    client = Scim(scim.base_url, scim.token)

    def request(method, path, body=None, params=None, headers=None, **kw):
        hdrs = dict(headers or {})
        hdrs["Accept"] = accept
        return Scim.request(client, method, path, body=body, params=params, headers=hdrs, **kw)

    client.request = request
    return client


@pytest.mark.parametrize("accept", ["application/json", "application/json; charset=utf-8",
                                    "application/json, */*;q=0.1"])
def test_application_json_clients_get_application_json(scim, accept):
    json_client = as_client(scim, accept)
    created = json_client.post("/Users", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                                          "userName": uniq("onelogin") + "@example.com"})
    assert created.status == 201, created
    assert media_type(created) == PLAIN, created
    assert "accept" in created.headers.get("vary", "").lower(), created.headers
    uid = created.json["id"]

    got = json_client.get(f"/Users/{uid}")
    assert got.status == 200 and media_type(got) == PLAIN, got
    # Same body as the SCIM media type gives.
    scim_got = scim.get(f"/Users/{uid}")
    assert media_type(scim_got) == SCIM_JSON, scim_got
    assert got.body == scim_got.body

    listed = json_client.get("/Users", params={"filter": f'id eq "{uid}"'})
    assert listed.status == 200 and media_type(listed) == PLAIN, listed
    assert listed.json["totalResults"] == 1
    spc = json_client.get("/ServiceProviderConfig")
    assert spc.status == 200 and media_type(spc) == PLAIN, spc

    # Errors too: not found, conflict, bad filter, no token.
    for r, status in ((json_client.get("/Users/00000000-0000-0000-0000-000000000000"), 404),
                      (json_client.post("/Users", {"schemas": [
                          "urn:ietf:params:scim:schemas:core:2.0:User"],
                          "userName": created.json["userName"]}), 409),
                      (json_client.get("/Users", params={"filter": "userName eq"}), 400),
                      (json_client.get("/Users", auth=False), 401)):
        assert r.status == status, r
        assert media_type(r) == PLAIN, r
        assert ERROR_URN in r.json["schemas"], r


@pytest.mark.parametrize("accept", [None, "*/*", "application/*", SCIM_JSON,
                                    "application/scim+json, application/json",
                                    "application/json, application/scim+json",
                                    "application/json;q=0.5, application/scim+json",
                                    "text/html"])
def test_scim_json_stays_the_default(scim, accept):
    headers = {"Authorization": f"Bearer {scim.token}"}
    if accept is not None:
        headers["Accept"] = accept
    for path, status in (("/Users", 200), ("/Users/00000000-0000-0000-0000-000000000000", 404)):
        r = http_request(scim.base_url, "GET", path, None, headers)
        assert r.status == status, r
        assert media_type(r) == SCIM_JSON, (accept, r)


def test_read_api_negotiates_alike(idsync_bin, server, scim):
    token = cli_json(idsync_bin, "read-token", "add", uniq("app"), "--directory", "users",
                     "--data", server.data_dir, "--json")["token"]
    base = server.scim_base[: -len("/scim/v2")] + "/directory/v2/users"
    read = Scim(base, token)
    plain = as_client(read, PLAIN)
    r = plain.get("/Users", params={"count": 1})
    assert r.status == 200 and media_type(r) == PLAIN, r
    assert media_type(read.get("/Users", params={"count": 1})) == SCIM_JSON
    err = plain.get("/Users/not-a-user")
    assert err.status == 404 and media_type(err) == PLAIN, err
    # The change feed is plain JSON whatever the client asks.
    feed = read.get("/changes", params={"limit": 1})
    assert feed.status == 200 and media_type(feed) == PLAIN, feed
