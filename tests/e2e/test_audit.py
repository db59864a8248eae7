"""`idsync log`: the audit trail of writes made through each connection."""

import datetime
import json

from conftest import (
    BULK_REQ_URN,
    cli_json,
    new_user,
    run_cli,
    uniq,
    wait_until,
)

KEYS = {"time", "connection", "request_id", "operation", "resource_type", "resource_id", "status"}


def _log(idsync_bin, server, *extra):
    return cli_json(idsync_bin, "log", "--data", server.data_dir, *extra, "--json")


def _for(conn, records):
    return [r for r in records if r["connection"] in (conn["name"], conn["id"])]


def _parse_time(t):
    return datetime.datetime.fromisoformat(t.replace("Z", "+00:00"))


def test_writes_are_audited_with_request_ids(idsync_bin, server, conn, scim):
    rid_create, rid_patch, rid_delete = (uniq("req") for _ in range(3))
    r = scim.post("/Users", new_user(), headers={"X-Request-Id": rid_create})
    assert r.status == 201
    uid = r.json["id"]
    assert scim.patch_ops(f"/Users/{uid}", [{"op": "replace", "path": "title", "value": "t"}],
                          headers={"X-Request-Id": rid_patch}).status == 200
    assert scim.delete(f"/Users/{uid}", headers={"X-Request-Id": rid_delete}).status == 204

    def records():
        recs = _log(idsync_bin, server, "--connection", conn["name"])
        by_rid = {x["request_id"]: x for x in recs}
        return (recs, by_rid) if {rid_create, rid_patch, rid_delete} <= set(by_rid) else None

    recs, by_rid = wait_until(records, timeout=5, message="audit records for the three writes")
    for rec in recs:
        assert KEYS <= set(rec), rec
        assert rec["connection"] in (conn["name"], conn["id"])
        assert _parse_time(rec["time"]).tzinfo is not None, rec
    c, p, d = by_rid[rid_create], by_rid[rid_patch], by_rid[rid_delete]
    for rec in (c, p, d):
        assert rec["resource_id"] == uid, rec
        assert rec["resource_type"].lower() == "user", rec
    assert str(c["status"]) == "201"
    assert str(p["status"]) == "200"
    assert str(d["status"]) == "204"
    assert len({c["operation"], p["operation"], d["operation"]}) == 3, (c, p, d)
    assert _parse_time(c["time"]) <= _parse_time(p["time"]) <= _parse_time(d["time"])


def test_group_writes_audited(idsync_bin, server, conn, scim):
    u = scim.create_user()
    rid = uniq("grp")
    r = scim.post("/Groups", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                              "displayName": uniq("g"), "members": [{"value": u["id"]}]},
                  headers={"X-Request-Id": rid})
    assert r.status == 201
    recs = wait_until(lambda: [x for x in _log(idsync_bin, server, "--connection", conn["name"])
                               if x["request_id"] == rid], timeout=5, message="group audit record")
    assert recs[0]["resource_type"].lower() == "group"
    assert recs[0]["resource_id"] == r.json["id"]


def test_log_connection_filter(idsync_bin, server, make_scim):
    a = make_scim()
    b = make_scim()
    ua = a.create_user()
    ub = b.create_user()
    recs_a = wait_until(lambda: _log(idsync_bin, server, "--connection", a.conn["name"]), timeout=5,
                        message="records for a")
    assert all(r["connection"] in (a.conn["name"], a.conn["id"]) for r in recs_a), recs_a
    ids_a = {r["resource_id"] for r in recs_a}
    assert ua["id"] in ids_a and ub["id"] not in ids_a
    everything = _log(idsync_bin, server)
    ids = {r["resource_id"] for r in everything}
    assert {ua["id"], ub["id"]} <= ids


def test_log_since(idsync_bin, server, make_scim):
    a = make_scim()
    a.create_user()
    past = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    future = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    got = wait_until(lambda: _log(idsync_bin, server, "--connection", a.conn["name"], "--since", past),
                     timeout=5, message="records since an hour ago")
    assert len(got) >= 1
    assert _log(idsync_bin, server, "--connection", a.conn["name"], "--since", future) == []
    # RFC 3339 with an offset is accepted too.
    off = (datetime.datetime.now(datetime.timezone(datetime.timedelta(hours=2))) - datetime.timedelta(hours=1)).isoformat(timespec="seconds")
    assert len(_log(idsync_bin, server, "--connection", a.conn["name"], "--since", off)) >= 1


def test_log_text_output(idsync_bin, server, make_scim):
    a = make_scim()
    u = a.create_user()
    wait_until(lambda: _log(idsync_bin, server, "--connection", a.conn["name"]), timeout=5)
    r = run_cli(idsync_bin, "log", "--data", server.data_dir, "--connection", a.conn["name"])
    assert r.returncode == 0, r.stderr
    assert u["id"] in r.stdout


def test_a_log_cut_by_its_limit_says_so_and_where_to_go_on(idsync_bin, server, make_scim):
    a = make_scim()
    for _ in range(3):
        a.create_user()
    every = wait_until(lambda: (lambda r: r if len(r) >= 3 else None)(
        _log(idsync_bin, server, "--connection", a.conn["name"])), timeout=5)
    r = run_cli(idsync_bin, "log", "--data", server.data_dir, "--connection", a.conn["name"],
                "--limit", "2", "--json")
    assert r.returncode == 0, r.stderr
    shown = json.loads(r.stdout)
    assert len(shown) == 2 and shown == every[:2], (shown, every)
    # The records are oldest first: the notice names the time of the first one left out.
    assert "more follow" in r.stderr and f"--since {every[2]['time']}" in r.stderr, r.stderr
    r = run_cli(idsync_bin, "log", "--data", server.data_dir, "--connection", a.conn["name"],
                "--limit", str(len(every)), "--json")
    assert r.returncode == 0 and r.stderr == "", r.stderr
    r = run_cli(idsync_bin, "log", "--data", server.data_dir, "--limit", "0")
    assert r.returncode != 0 and "--limit must be 1 or more" in r.stderr, r


def test_generated_request_id_is_logged(idsync_bin, server, make_scim):
    a = make_scim()
    r = a.post("/Users", new_user())
    rid = r.headers.get("x-request-id")
    assert rid, r.headers
    recs = wait_until(lambda: _log(idsync_bin, server, "--connection", a.conn["name"]), timeout=5)
    assert rid in {x["request_id"] for x in recs}


def test_bulk_operations_audited(idsync_bin, server, make_scim):
    a = make_scim()
    r = a.post("/Bulk", {"schemas": [BULK_REQ_URN], "Operations": [
        {"method": "POST", "path": "/Users", "bulkId": "x", "data": new_user()},
        {"method": "POST", "path": "/Users", "bulkId": "y", "data": new_user()}]})
    assert r.status == 200, r
    ids = {o["location"].rsplit("/", 1)[1] for o in r.json["Operations"]}
    recs = wait_until(lambda: _log(idsync_bin, server, "--connection", a.conn["name"]), timeout=5)
    assert ids <= {x["resource_id"] for x in recs}, recs


def test_failed_reads_do_not_create_resource_records(idsync_bin, server, make_scim):
    a = make_scim()
    assert a.get("/Users/00000000-0000-4000-8000-000000000000").status == 404
    recs = _log(idsync_bin, server, "--connection", a.conn["name"])
    assert all(x["resource_id"] != "00000000-0000-4000-8000-000000000000" or str(x["status"]) == "404"
               for x in recs)
