"""The Policy page's live mapping preview (POST /api/v1/connections/{c}/policy/sample): what a
draft policy makes of one source user, each attribute with the rule that gave it; nothing is
stored. Responses are validated against the OpenAPI document."""

import test_admin_api as adm
from conftest import Scim, cli_json, uniq

RECORDED = []


class Api(adm.Admin):
    def call(self, *args, **kw):
        before = len(adm.RECORDED)
        r = super().call(*args, **kw)
        RECORDED.extend(adm.RECORDED[before:])
        return r


def test_sample_maps_one_source_user_through_the_draft(idsync_bin, server):
    info = cli_json(idsync_bin, "admin-token", "add", uniq("admin"), "--data", server.data_dir,
                    "--json")
    api = Api(server.url, info["token"])
    directory = uniq("d").lower()
    adm.ok(api.post("/directories", {"name": directory}), 201)
    c = adm.ok(api.post("/connections", {"name": uniq("c"), "directory": directory}), 201)
    name = c["name"]
    path = f"/connections/{name}/policy/sample"

    # No source users yet: nothing to map, but the draft is still validated.
    empty = adm.ok(api.post(path, {}))
    assert empty["source_user"] is None and empty["candidates"] == [] and empty["attributes"] == []

    scim = Scim(server.scim_base, c["token"])
    first = scim.create_user(userName="ann@example.com",
                             name={"givenName": "Ann", "familyName": "Archer"})
    second = scim.create_user(userName="bob@example.com",
                              name={"givenName": "Bob", "familyName": "Baker"})

    # Defaults, the first source user.
    got = adm.ok(api.post(path, {}))
    assert got["source_user"] == {"id": first["id"], "name": "ann@example.com"}, got
    assert [x["id"] for x in got["candidates"]] == [first["id"], second["id"]]
    attrs = {a["name"]: a for a in got["attributes"]}
    assert attrs["username"]["value"] == "ann@example.com"
    assert attrs["username"]["rule"] == "attributes.username.sources[0]", attrs["username"]
    assert attrs["displayName"]["value"] == "Given Family"

    # A draft mapping changes the value and names its rule; the other user on request.
    draft = {"attributes": {"displayName": {"sources": [
        {"template": "{name.familyName}, {name.givenName}"}]}}}
    got = adm.ok(api.post(path, draft, params={"user": second["id"]}))
    assert got["source_user"]["name"] == "bob@example.com"
    dn = {a["name"]: a for a in got["attributes"]}["displayName"]
    assert dn["value"] == "Baker, Bob" and dn["rule"] == "attributes.displayName.sources[0]", dn
    assert dn["source"] == "{name.familyName}, {name.givenName}", dn

    # A draft that maps no username: the user would not be imported, and says why.
    got = adm.ok(api.post(path, {"attributes": {"username": {"sources": ["nickName"]}}}))
    assert got["error"] and "nickName" in got["error"] and got["attributes"] == [], got

    # Nothing was stored: the policy is still the defaults.
    assert adm.ok(api.get(f"/connections/{name}/policy"))["version"] == 0

    adm.assert_api_error(api.post(path, {"attributes": {"email": {"sources": ["emial"]}}}), 400,
                         "invalid_value", mentions="attributes.email.sources[0]")
    adm.assert_api_error(api.post(path, {}, params={"user": "no-such-user"}), 404, "not_found",
                         mentions="no-such-user")
    adm.assert_api_error(api.post("/connections/no-such/policy/sample", {}), 404, "not_found")
    adm.assert_api_error(api.get(path), 405, "method_not_allowed")

    doc = adm._load_openapi()
    templates = adm._templates(doc)
    problems = []
    for method, p, body, resp in RECORDED:
        _, found = adm._check(doc, templates, method, p, body, resp)
        problems += found
    assert not problems, "\n".join(problems[:50])
