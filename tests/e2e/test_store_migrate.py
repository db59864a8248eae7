"""`idsync store migrate` (issue #15, "What must be shown" 3).

An SQLite installation with two SCIM connections (users, groups, members, PATCHes, a delete, a
linked person), a policy mapping a custom attribute, an LDAP connection with its sealed bind
password and a finished sync from a real slapd, admin and read tokens and a change feed is
copied into a new PostgreSQL database (conftest.pg_cluster). Served from PostgreSQL, every
answer is the same: the read API (users, groups, the change feed from cursor 0), the SCIM
mirrors, `explain`, the admin API (connections, policy versions, runs, tokens, audit); the old
tokens still authenticate, the sealed password still opens (a new sync run succeeds), and new
writes continue the ids and the feed. A second copy into the same database is refused. Runs in
the SQLite suite only (it brings its own PostgreSQL database).
"""
import json
import os

import pytest

from conftest import (
    ENTERPRISE_URN,
    TEST_STORE,
    Scim,
    add_connection,
    cli_json,
    cli_ok,
    pg_cluster,
    run_cli,
    start_server,
    uniq,
    wait_until,
)
from ldap_fixture import Api, add_cli, start_slapd

pytestmark = pytest.mark.skipif(TEST_STORE == "postgresql",
                                reason="copies into a PostgreSQL database of its own")

EXT_URN = "urn:idsync:params:scim:schemas:extension:2.0:User"


@pytest.fixture(scope="module")
def slapd(idsync_bin):
    s = start_slapd(idsync_bin, users=50)
    yield s
    s.close()


def normalized(value, url):
    """`value` with the server's base URL (its port changes between servers) replaced."""
    return json.loads(json.dumps(value).replace(url, "BASE"))


class Snapshot:
    """What a server answers, read through every face with the installation's tokens."""

    def __init__(self, server, world):
        self.server = server
        self.world = world
        self.out = {}

    def read_api(self, path, params=None):
        scim = Scim(f"{self.server.url}/directory/v2/users", self.world["read"])
        r = scim.get(path, params=params)
        assert r.status == 200, (path, r)
        return r.json

    def admin(self, path, params=None):
        r = Api(self.server.url, self.world["admin"], []).call("GET", path, params=params)
        assert r.status == 200, (path, r)
        return r.json

    def take(self):
        w = self.world
        o = self.out
        o["users"] = self.read_api("/Users", {"count": 1000, "sortBy": "userName"})
        o["groups"] = self.read_api("/Groups", {"count": 1000, "sortBy": "displayName"})
        o["changes"] = self.read_api("/changes", {"since": "0", "limit": 1000})
        for name in ("entra", "okta"):
            scim = Scim(self.server.scim_base, w[name]["token"])
            for kind in ("/Users", "/Groups"):
                r = scim.get(kind, params={"count": 1000})
                assert r.status == 200, r
                o[f"scim {name} {kind}"] = r.json
        for user in w["explained"]:
            o[f"explain {user}"] = self.admin(f"/directories/users/users/{user}/explain")
        o["connections"] = self.admin("/connections")
        o["policy versions"] = self.admin(f"/connections/{w['entra']['name']}/policy/versions")
        o["custom attributes"] = self.admin("/directories/users/custom-attributes")
        o["runs"] = self.admin(f"/connections/{w['ldap']}/runs", {"limit": 10})
        o["api tokens"] = self.admin("/api-tokens")
        o["audit"] = self.admin("/audit", {"limit": 1000})
        o["directories"] = self.admin("/directories")
        return normalized(o, self.server.url)


def run_sync(server, world, full):
    api = Api(server.url, world["admin"], [])
    r = api.call("POST", f"/connections/{world['ldap']}/sync", {"full": full})
    assert r.status == 202, r
    run_id = r.json["run"]["id"]

    def finished():
        runs = api.call("GET", f"/connections/{world['ldap']}/runs", params={"limit": 5})
        assert runs.status == 200, runs
        run = next(x for x in runs.json["runs"] if x["id"] == run_id)
        return run if run["outcome"] != "running" else None

    run = wait_until(finished, timeout=120, message="the sync run")
    assert run["outcome"] == "succeeded", run
    return run


def test_sqlite_installation_served_from_postgresql_answers_the_same(idsync_bin, tmp_path,
                                                                    slapd):
    data = str(tmp_path / "data")
    os.makedirs(data)
    defs = tmp_path / "custom.json"
    defs.write_text(json.dumps([{"name": "costCenter", "type": "string", "multi_valued": False}]))
    cli_ok(idsync_bin, "directory", "custom-attributes", "users", str(defs), "--data", data)
    entra = add_connection(idsync_bin, data)
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"attributes": {"costCenter": {"sources": [
        f"{ENTERPRISE_URN}:costCenter"]}}}))
    cli_ok(idsync_bin, "policy", "set", entra["name"], str(policy), "--data", data)
    okta = add_connection(idsync_bin, data)
    ldap = uniq("ldap")
    add_cli(idsync_bin, data, slapd, ldap)
    admin = cli_json(idsync_bin, "admin-token", "add", uniq("admin"), "--data", data, "--json")
    read = cli_json(idsync_bin, "read-token", "add", uniq("app"), "--directory", "users",
                    "--data", data, "--json")
    world = {"entra": entra, "okta": okta, "ldap": ldap, "admin": admin["token"],
             "read": read["token"], "explained": []}

    srv = start_server(idsync_bin, data)
    try:
        e = Scim(srv.scim_base, entra["token"])
        o = Scim(srv.scim_base, okta["token"])
        ids = []
        for i in range(12):
            u = e.create_user(userName=f"{uniq('m')}@example.com",
                              **{ENTERPRISE_URN: {"costCenter": f"cc{i}"}})
            ids.append(u["id"])
        # One person in both identity providers: linked into one effective user.
        both = e.create_user(userName=f"{uniq('both')}@example.com")
        o.create_user(userName=both["userName"])
        world["explained"] = [both["userName"], e.get(f"/Users/{ids[0]}").json["userName"]]
        group = e.create_group(members=ids[:6])
        o.create_group(members=[])
        r = e.patch_ops(f"/Users/{ids[1]}", [{"op": "replace", "path": "active", "value": False}])
        assert r.status == 200, r
        r = e.patch_ops(f"/Groups/{group['id']}",
                        [{"op": "remove", "path": f'members[value eq "{ids[0]}"]'}])
        assert r.status in (200, 204), r
        assert e.delete(f"/Users/{ids[11]}").status == 204
        run_sync(srv, world, full=True)
        before = Snapshot(srv, world).take()
    finally:
        assert srv.stop() == 0, srv.stderr_text()[-2000:]
    assert len(before["users"]["Resources"]) >= 12 + 50 - 1, before["users"]["totalResults"]
    explained = {u: cli_json(idsync_bin, "explain", u, "--directory", "users", "--data", data,
                             "--json") for u in world["explained"]}
    assert before["changes"]["changes"], before["changes"]

    cluster = pg_cluster()
    url = cluster.url(cluster.create_database())
    report = cli_json(idsync_bin, "store", "migrate", "--from", data, "--to", url, "--json")
    tables = {t["table"]: t for t in report["tables"]}
    assert tables["resources"]["rows"] >= 12 + 2 + 50, tables["resources"]
    assert all(len(t["sha256"]) == 64 for t in report["tables"]), report
    # The human form names the command to serve from it.
    r = run_cli(idsync_bin, "store", "migrate", "--from", data, "--to", url)
    assert r.returncode == 1 and "not empty" in r.stderr, r.stderr  # a second copy: refused
    assert "nothing was copied" in r.stderr, r.stderr

    srv = start_server(idsync_bin, data, ["--store", url])
    try:
        after = Snapshot(srv, world).take()
        assert sorted(after) == sorted(before)
        for key in before:
            assert after[key] == before[key], key
        # The CLI's explain on the new store, as on the old one.
        for user, why in explained.items():
            assert why["sources"], why
            assert cli_json(idsync_bin, "explain", user, "--directory", "users", "--data", data,
                            "--store", url, "--json") == why, user
        # The old tokens write, and the feed and ids continue after the copied ones.
        e = Scim(srv.scim_base, entra["token"])
        last = before["changes"]["next"]
        e.create_user(userName=f"{uniq('new')}@example.com")
        feed = Snapshot(srv, world).read_api("/changes", {"since": last, "limit": 100})
        assert feed["changes"], feed
        assert all(c["seq"] > max(x["seq"] for x in before["changes"]["changes"])
                   for c in feed["changes"]), feed
        # The sealed bind password opens on the new store: an incremental run succeeds.
        run = run_sync(srv, world, full=False)
        assert run["id"] > max(x["id"] for x in before["runs"]["runs"]), run
    finally:
        assert srv.stop() == 0, srv.stderr_text()[-2000:]
