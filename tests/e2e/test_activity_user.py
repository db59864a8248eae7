"""The console Activity page's user filter (GET /api/v1/audit?user=ID) covers the identity
provider's SCIM requests: their audit records name the source resource, and the filter follows
the effective user's links to every source resource it was made from."""

import test_admin_api as adm
from conftest import Scim, cli_json, uniq


def test_user_filter_includes_scim_requests_of_linked_source_users(idsync_bin, server):
    info = cli_json(idsync_bin, "admin-token", "add", uniq("admin"), "--data", server.data_dir,
                    "--json")
    api = adm.Admin(server.url, info["token"])
    directory = uniq("d").lower()
    adm.ok(api.post("/directories", {"name": directory}), 201)
    conns = [adm.ok(api.post("/connections", {"name": uniq("c"), "directory": directory}), 201)
             for _ in range(2)]
    for c in conns:
        adm.ok(api.put(f"/connections/{c['name']}/policy", {"linking": {"key": "email"}}))
    a, b = (Scim(server.scim_base, c["token"]) for c in conns)
    email = f"{uniq('mail')}@example.com"
    ua = a.create_user(userName=uniq("a"), emails=[{"value": email, "primary": True}])
    ub = b.create_user(userName=uniq("b"), emails=[{"value": email, "primary": True}])
    other = a.create_user()
    r = a.patch_ops(f"/Users/{ua['id']}",
                    [{"op": "replace", "path": "displayName", "value": "Renamed"}],
                    headers={"X-Request-Id": "rid-patch-a"})
    assert r.status == 200, r
    assert a.patch_ops(f"/Users/{other['id']}",
                       [{"op": "replace", "path": "displayName", "value": "X"}]).status == 200

    # One effective user made from both (linked by e-mail); which username wins is not the point.
    found = adm.ok(api.get(f"/directories/{directory}/user-search", params={"email": email}))
    assert len(found["users"]) == 1, found
    uid = found["users"][0]["id"]
    explained = adm.ok(api.get(f"/directories/{directory}/users/{uid}/explain"))
    assert len(explained["sources"]) == 2, explained["sources"]

    records = adm.ok(api.get("/audit", params={"user": uid}))["records"]
    got = [(r["connection"], r["operation"], r["resource_id"]) for r in records]
    assert got == [(conns[0]["name"], "create", ua["id"]), (conns[1]["name"], "create", ub["id"]),
                   (conns[0]["name"], "patch", ua["id"])], got
    assert records[2]["request_id"] == "rid-patch-a"
    assert [r["seq"] for r in records] == sorted(r["seq"] for r in records)
    # The other user's requests are not there; a connection filter keeps that connection's.
    assert all(r["resource_id"] != other["id"] for r in records)
    only_b = adm.ok(api.get("/audit", params={"user": uid, "connection": conns[1]["name"]}))
    assert [(r["operation"], r["resource_id"]) for r in only_b["records"]] == [
        ("create", ub["id"])], only_b
    # Paging over the merged records: one at a time, each once, in order.
    seen, after = [], 0
    while True:
        page = adm.ok(api.get("/audit", params={"user": uid, "limit": 1, "after": after}))
        seen += [r["seq"] for r in page["records"]]
        if page["next_after"] is None:
            break
        after = page["next_after"]
    assert seen == [r["seq"] for r in records]
    # A source user's own id still filters to its own records.
    own = adm.ok(api.get("/audit", params={"user": ub["id"]}))["records"]
    assert [(r["operation"], r["resource_id"]) for r in own] == [("create", ub["id"])]
