"""/Bulk: RFC 7644 §3.7 (bulkId references, failOnErrors, limits)."""

import json

import pytest

from conftest import (
    BULK_REQ_URN,
    BULK_RESP_URN,
    ERROR_URN,
    GROUP_URN,
    USER_URN,
    assert_error,
    assert_scim_json,
    new_user,
    uniq,
)


def bulk(scim, ops, fail_on_errors=None, **kw):
    body = {"schemas": [BULK_REQ_URN], "Operations": ops}
    if fail_on_errors is not None:
        body["failOnErrors"] = fail_on_errors
    return scim.post("/Bulk", body, **kw)


def ok_bulk(scim, ops, **kw):
    r = bulk(scim, ops, **kw)
    assert r.status == 200, r
    assert_scim_json(r)
    assert BULK_RESP_URN in r.json["schemas"], r.json
    return r.json["Operations"]


def user_op(bulk_id, **overrides):
    return {"method": "POST", "path": "/Users", "bulkId": bulk_id, "data": new_user(**overrides)}


def _id_from_location(loc):
    return loc.rstrip("/").rsplit("/", 1)[1]


@pytest.fixture(scope="module")
def limits(idsync_bin, server):
    from conftest import Scim, add_connection
    info = add_connection(idsync_bin, server.data_dir)
    spc = Scim(server.scim_base, info["token"]).get("/ServiceProviderConfig").json
    return spc["bulk"]


def test_bulk_create_user_and_group_with_bulk_id(scim, server):
    ops = ok_bulk(scim, [
        user_op("u1"),
        {"method": "POST", "path": "/Groups", "bulkId": "g1",
         "data": {"schemas": [GROUP_URN], "displayName": uniq("bulkgrp"),
                  "members": [{"type": "User", "value": "bulkId:u1"}]}},
    ])
    assert len(ops) == 2
    by_bulk = {o["bulkId"]: o for o in ops}
    for o in ops:
        assert o["status"] == "201", o  # RFC 7644 §3.7.3: status is a string
        assert o["location"].startswith(server.scim_base + "/")
        assert o.get("version", "").startswith('W/"'), o
    uid = _id_from_location(by_bulk["u1"]["location"])
    gid = _id_from_location(by_bulk["g1"]["location"])
    assert by_bulk["u1"]["method"] == "POST"
    assert scim.get(f"/Users/{uid}").status == 200
    assert scim.member_ids(gid) == [uid]
    groups = scim.get(f"/Users/{uid}").json.get("groups") or []
    assert [g["value"] for g in groups] == [gid]


def test_bulk_forward_reference(scim):
    # RFC 7644 §3.7.2: the service provider resolves bulkIds regardless of operation order.
    name = uniq("fwd")
    ops = ok_bulk(scim, [
        {"method": "POST", "path": "/Groups", "bulkId": "g", "data": {
            "schemas": [GROUP_URN], "displayName": name, "members": [{"value": "bulkId:later"}]}},
        user_op("later"),
    ])
    statuses = {o["bulkId"]: o["status"] for o in ops}
    assert statuses == {"g": "201", "later": "201"}, ops
    uid = _id_from_location([o for o in ops if o["bulkId"] == "later"][0]["location"])
    gid = _id_from_location([o for o in ops if o["bulkId"] == "g"][0]["location"])
    assert scim.member_ids(gid) == [uid]


def test_bulk_put_patch_delete(scim):
    a = scim.create_user(title="before")
    b = scim.create_user()
    g = scim.create_group()
    ops = ok_bulk(scim, [
        {"method": "PUT", "path": f"/Users/{a['id']}", "version": a["meta"]["version"],
         "data": new_user(userName=a["userName"], title="after")},
        {"method": "PATCH", "path": f"/Groups/{g['id']}", "data": {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "add", "path": "members", "value": [{"value": a["id"]}]}]}},
        {"method": "DELETE", "path": f"/Users/{b['id']}"},
    ])
    assert [o["status"] for o in ops] == ["200", "200", "204"], ops
    assert scim.get(f"/Users/{a['id']}").json["title"] == "after"
    assert scim.member_ids(g["id"]) == [a["id"]]
    assert scim.get(f"/Users/{b['id']}").status == 404


def test_bulk_patch_members_with_bulk_id(scim):
    g = scim.create_group()
    ops = ok_bulk(scim, [
        user_op("x"),
        {"method": "PATCH", "path": f"/Groups/{g['id']}", "data": {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "add", "path": "members", "value": [{"value": "bulkId:x"}]}]}},
    ])
    assert [o["status"] for o in ops] == ["201", "200"], ops
    uid = _id_from_location(ops[0]["location"])
    assert scim.member_ids(g["id"]) == [uid]


def test_bulk_errors_reported_per_operation(scim):
    taken = scim.create_user()
    ops = ok_bulk(scim, [
        user_op("a"),
        user_op("dup", userName=taken["userName"]),
        {"method": "DELETE", "path": "/Users/00000000-0000-4000-8000-000000000000"},
        user_op("b"),
    ])
    assert [o["status"] for o in ops] == ["201", "409", "404", "201"], ops
    dup = ops[1]
    assert ERROR_URN in dup["response"]["schemas"]
    assert dup["response"]["scimType"] == "uniqueness"
    assert dup["response"]["status"] == "409"


def test_bulk_fail_on_errors_stops(scim):
    taken = scim.create_user()
    n1, n3 = uniq("f1") + "@example.com", uniq("f3") + "@example.com"
    r = bulk(scim, [
        user_op("one", userName=n1),
        user_op("two", userName=taken["userName"]),
        user_op("three", userName=n3),
    ], fail_on_errors=1)
    assert r.status == 200, r
    ops = r.json["Operations"]
    # RFC 7644 §3.7.3: after failOnErrors errors, the remaining operations are not processed.
    assert [o["status"] for o in ops] == ["201", "409"], ops
    assert scim.filter("/Users", f'userName eq "{n1}"')["totalResults"] == 1
    assert scim.filter("/Users", f'userName eq "{n3}"')["totalResults"] == 0


def test_bulk_unresolvable_bulk_id(scim):
    ops = ok_bulk(scim, [
        {"method": "POST", "path": "/Groups", "bulkId": "g", "data": {
            "schemas": [GROUP_URN], "displayName": uniq("g"), "members": [{"value": "bulkId:missing"}]}},
    ])
    assert len(ops) == 1
    assert ops[0]["status"].startswith("4"), ops
    assert ERROR_URN in ops[0]["response"]["schemas"]


def test_bulk_version_mismatch_412(scim):
    a = scim.create_user()
    ops = ok_bulk(scim, [{"method": "PUT", "path": f"/Users/{a['id']}", "version": 'W/"stale-0"',
                          "data": new_user(userName=a["userName"], title="x")}])
    assert ops[0]["status"] == "412", ops
    assert "title" not in scim.get(f"/Users/{a['id']}").json


def test_bulk_too_many_operations_413(scim, limits):
    n = limits["maxOperations"] + 1
    ops = [user_op(f"b{i}", userName=f"{uniq('m')}-{i}@example.com") for i in range(n)]
    r = bulk(scim, ops)
    body = assert_error(r, 413)
    assert str(limits["maxOperations"]) in body.get("detail", ""), body
    # Nothing of an over-limit request is applied.
    assert scim.list("/Users", count=0)["totalResults"] == 0


def test_bulk_payload_too_large_413(scim, limits):
    max_payload = limits["maxPayloadSize"]
    if max_payload > 8 * 1024 * 1024:
        pytest.skip(f"maxPayloadSize {max_payload} too large to exercise")
    pad = "x" * (max_payload + 1024)
    raw = json.dumps({"schemas": [BULK_REQ_URN], "Operations": [user_op("p", title=pad)]})
    r = scim.post("/Bulk", raw=raw)
    assert_error(r, 413)


def test_bulk_just_under_limits_ok(scim, limits):
    n = min(limits["maxOperations"], 50)
    ops = ok_bulk(scim, [user_op(f"k{i}", userName=f"{uniq('k')}-{i}@example.com") for i in range(n)])
    assert [o["status"] for o in ops] == ["201"] * n


def test_bulk_invalid_json_and_shape(scim):
    assert_error(scim.post("/Bulk", raw='{"schemas": ["x"], "Operations": ['), 400, "invalidSyntax")
    assert_error(scim.post("/Bulk", {"schemas": [BULK_REQ_URN], "Operations": "nope"}), 400, "invalidSyntax")


def test_bulk_requires_auth(scim):
    r = scim.post("/Bulk", {"schemas": [BULK_REQ_URN], "Operations": [user_op("z")]}, auth=False)
    assert_error(r, 401)
    assert scim.list("/Users", count=0)["totalResults"] == 0


def test_bulk_operation_body_uses_user_schema(scim):
    ops = ok_bulk(scim, [{"method": "POST", "path": "/Users", "bulkId": "s",
                          "data": {"schemas": [USER_URN], "userName": uniq("s")}}])
    assert ops[0]["status"] == "201"
