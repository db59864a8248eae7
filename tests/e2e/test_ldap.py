"""LDAP and Active Directory pull sync (issue #4) through the real binary: `connection add
--kind ldap`, `ldap test`, `sync`, `sync runs`, and the admin API's LDAP routes, against a real
slapd started by build/idsync_slapd_fixture (the C++ test fixture as a process: the same
configuration and seed LDIF as the unit tests: 1,200 + 5 users, size limit 500, nested groups
with a cycle, an AD-style account, a test CA for StartTLS).

Every admin API response is validated against the OpenAPI document, and every operation tagged
"ldap" there must have answered 2xx here (test_admin_api.py leaves those to this module).
"""
import json
import os
import stat
import subprocess
import threading

import pytest

import test_admin_api as adm
from conftest import cli_json, http_request, run_cli, uniq, wait_until

RECORDED = []
USERS = 1200 + 5
GROUPS = 6


class Slapd:
    def __init__(self, binary, users=1200):
        self.proc = subprocess.Popen([binary, "--users", str(users)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("idsync_slapd_fixture did not start")
        self.info = json.loads(line)
        self.lock = threading.Lock()

    def command(self, text):
        with self.lock:
            self.proc.stdin.write(text + "\n")
            self.proc.stdin.flush()
            reply = self.proc.stdout.readline().strip()
        assert reply == "ok", reply
        return reply

    def apply(self, tmp_path, ldif):
        path = os.path.join(str(tmp_path), uniq("change") + ".ldif")
        with open(path, "w") as f:
            f.write(ldif)
        self.command("apply " + path)

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


@pytest.fixture(scope="module")
def slapd(idsync_bin):
    binary = os.path.join(os.path.dirname(idsync_bin), "idsync_slapd_fixture")
    if not os.access(binary, os.X_OK):
        # A failure, not a skip: a suite that silently skips the LDAP tests would pass untested.
        pytest.fail(f"{binary} not built (cmake --build build --target idsync_slapd_fixture)")
    if not os.access("/usr/sbin/slapd", os.X_OK):
        pytest.fail("slapd not installed (tools/install-deps.sh test)")
    s = Slapd(binary)
    yield s
    s.close()


def ldap_settings(slapd):
    i = slapd.info
    return {"url": i["url"], "start_tls": True, "ca_file": i["ca_file"],
            "bind_dn": i["service_dn"], "base_dns": [i["people_dn"], i["groups_dn"]]}


class Api:
    def __init__(self, url, token):
        self.url, self.token = url, token

    def call(self, method, path, body=None, params=None):
        hdrs = {"Accept": "application/json", "Authorization": f"Bearer {self.token}"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        q = "&".join(f"{k}={v}" for k, v in (params or {}).items())
        r = http_request(self.url, method, "/api/v1" + path + ("?" + q if q else ""), data, hdrs)
        RECORDED.append((method, "/api/v1" + path, body, r))
        return r


@pytest.fixture(scope="module")
def api(idsync_bin, server):
    info = cli_json(idsync_bin, "admin-token", "add", uniq("admin"), "--data", server.data_dir,
                    "--json")
    return Api(server.url, info["token"])


def add_cli(idsync_bin, data_dir, slapd, name, password=None, extra=()):
    s = ldap_settings(slapd)
    args = ["connection", "add", name, "--kind", "ldap", "--data", data_dir, "--url", s["url"],
            "--start-tls", "--ca-file", s["ca_file"], "--bind-dn", s["bind_dn"],
            "--base-dn", s["base_dns"][0], "--base-dn", s["base_dns"][1], "--password-stdin",
            "--json", *extra]
    r = run_cli(idsync_bin, *args, input=(password or slapd.info["service_password"]) + "\n")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_cli_connection_test_search_sync_and_runs(idsync_bin, server, slapd):
    data = server.data_dir
    name = uniq("ldap")
    c = add_cli(idsync_bin, data, slapd, name)
    assert c["kind"] == "ldap" and c["settings"]["url"] == slapd.info["url"]
    password = slapd.info["service_password"]
    assert password not in json.dumps(c)
    # The key that seals the password is owner-only; neither the database nor any output
    # holds the password.
    assert stat.S_IMODE(os.stat(os.path.join(data, "secret.key")).st_mode) == 0o600
    shown = run_cli(idsync_bin, "connection", "show", name, "--data", data, "--json")
    listed = run_cli(idsync_bin, "connection", "list", "--data", data, "--json")
    assert password not in shown.stdout + listed.stdout
    with open(os.path.join(data, "idsync.db"), "rb") as f:
        assert password.encode() not in f.read()

    # Test search: the raw entry and what the policy makes of it; nothing written.
    t = cli_json(idsync_bin, "ldap", "test", name, "alice", "--data", data, "--json")
    assert t["ok"] is True, t
    assert t["user"]["entry"]["dn"].startswith("uid=alice,")
    assert t["user"]["effective"]["username"]["value"] == "alice"
    assert set(t["user"]["groups"]) == {"staff", "admins", "devs", "cycle-a", "cycle-b", "parent"}
    assert cli_json(idsync_bin, "sync", "runs", name, "--data", data, "--json") == []
    # A pull connection takes no SCIM writes: it has no token and cannot be given one.
    r = run_cli(idsync_bin, "connection", "rotate-token", name, "--data", data)
    assert r.returncode != 0 and "has no SCIM token" in r.stderr, r.stderr

    # Failures named in words.
    bad = uniq("ldap-bad")
    add_cli(idsync_bin, data, slapd, bad, password="wrong")
    r = run_cli(idsync_bin, "ldap", "test", bad, "--data", data, "--json")
    assert r.returncode == 1
    out = json.loads(r.stdout)
    assert out["ok"] is False and out["failure"] == "bad_credentials", out
    assert "wrong" not in r.stdout

    # Full sync through paging (1,205 users, size limit 500), then an idle incremental one.
    run = cli_json(idsync_bin, "sync", name, "--data", data, "--json")
    assert run["outcome"] == "succeeded", run
    assert run["mode"] == "full"
    assert run["counts"]["created"] == USERS
    assert run["counts"]["groups_created"] == GROUPS
    run2 = cli_json(idsync_bin, "sync", name, "--data", data, "--json")
    assert run2["mode"] == "incremental" and run2["outcome"] == "succeeded", run2
    assert run2["counts"]["created"] == 0 and run2["counts"]["updated"] == 0
    runs = cli_json(idsync_bin, "sync", "runs", name, "--data", data, "--json")
    assert [x["id"] for x in runs] == [run2["id"], run["id"]]
    text = run_cli(idsync_bin, "sync", "runs", name, "--data", data)
    assert "succeeded" in text.stdout and "entries_read" in text.stdout
    # The effective directory has them.
    r = run_cli(idsync_bin, "explain", "alice", "--data", data, "--json")
    assert r.returncode == 0, r.stderr


def test_admin_api_ldap_connection_test_sync_runs_and_login_sync(api, server, slapd, tmp_path):
    name = uniq("ldap-api")
    body = {"name": name, "kind": "ldap", "settings": ldap_settings(slapd),
            "bind_password": slapd.info["service_password"]}
    r = api.call("POST", "/connections", body)
    assert r.status == 201, r
    assert r.json["kind"] == "ldap" and "token" not in r.json
    for resp in (r, api.call("GET", f"/connections/{name}"), api.call("GET", "/connections")):
        assert resp.status == 200 or resp.status == 201
        assert slapd.info["service_password"].encode() not in resp.body

    r = api.call("POST", f"/connections/{name}/test", {"username": "alice"})
    assert r.status == 200 and r.json["ok"] is True, r
    assert r.json["user"]["effective"]["username"]["value"] == "alice"
    r = api.call("POST", f"/connections/{name}/test")
    assert r.status == 200 and r.json["ok"] is True and r.json["user"] is None

    # Sync on login before any sync: the user alone, with its groups, effective at once.
    r = api.call("POST", f"/connections/{name}/login-sync", {"username": "bob"})
    assert r.status == 200, r
    assert r.json["mirror"] == "created"
    assert r.json["effective"]["username"] == "bob"
    r = api.call("POST", f"/connections/{name}/login-sync", {"username": "nobody-here"})
    assert r.status == 404, r

    # A manual run: 202 at once, progress and counts in /runs while and after it runs.
    r = api.call("POST", f"/connections/{name}/sync", {"full": True})
    assert r.status == 202, r
    run_id = r.json["run"]["id"]

    def finished():
        runs = api.call("GET", f"/connections/{name}/runs", params={"limit": 5})
        assert runs.status == 200
        run = next(x for x in runs.json["runs"] if x["id"] == run_id)
        return run if run["outcome"] != "running" else None

    run = wait_until(finished, timeout=120, message="sync run to end")
    assert run["outcome"] == "succeeded", run
    assert run["counts"]["created"] == USERS - 1  # bob came by login
    assert run["progress"]["entries_read"] == USERS + GROUPS

    # A change is picked up by the next (incremental) run.
    slapd.apply(tmp_path, "dn: uid=user0010,ou=people,dc=example,dc=com\nchangetype: modify\n"
                          "replace: mail\nmail: changed0010@example.com\n")
    r = api.call("POST", f"/connections/{name}/sync", {})
    assert r.status == 202, r
    run_id = r.json["run"]["id"]
    run = wait_until(finished, timeout=120, message="incremental run to end")
    assert run["mode"] == "incremental" and run["counts"]["updated"] >= 1, run

    r = api.call("PUT", f"/connections/{name}/bind-password",
                 {"bind_password": slapd.info["service_password"]})
    assert r.status == 204, r
    r = api.call("POST", f"/connections/{name}/test")
    assert r.json["ok"] is True


def test_cli_and_server_runs_never_overlap(idsync_bin, api, server, slapd):
    name = uniq("ldap-both")
    r = api.call("POST", "/connections", {"name": name, "kind": "ldap",
                                          "settings": ldap_settings(slapd),
                                          "bind_password": slapd.info["service_password"]})
    assert r.status == 201, r
    r = api.call("POST", f"/connections/{name}/sync", {"full": True})
    assert r.status == 202, r
    cli = run_cli(idsync_bin, "sync", name, "--full", "--data", server.data_dir, "--json",
                  timeout=300)
    assert cli.returncode == 0, cli.stderr

    def all_done():
        runs = api.call("GET", f"/connections/{name}/runs").json["runs"]
        return runs if len(runs) == 2 and all(x["outcome"] != "running" for x in runs) else None

    runs = sorted(wait_until(all_done, timeout=120, message="both runs"), key=lambda x: x["id"])
    assert all(x["outcome"] == "succeeded" for x in runs), runs
    assert runs[1]["started"] >= runs[0]["ended"], runs


def test_schedule_fires_in_the_server(idsync_bin, api, server, slapd):
    name = uniq("ldap-sched")
    add_cli(idsync_bin, server.data_dir, slapd, name, extra=("--schedule", "1s"))

    def two_runs():
        runs = api.call("GET", f"/connections/{name}/runs").json["runs"]
        done = [x for x in runs if x["outcome"] != "running"]
        return done if len(done) >= 2 else None

    runs = wait_until(two_runs, timeout=120, message="two scheduled runs")
    assert all(x["trigger"] == "schedule" and x["outcome"] == "succeeded" for x in runs), runs
    assert runs[-1]["mode"] == "full" and runs[0]["mode"] == "incremental", runs
    # Stop it firing for the rest of the module.
    r = run_cli(idsync_bin, "connection", "disable", name, "--data", server.data_dir)
    assert r.returncode == 0, r.stderr


def test_every_ldap_response_matches_openapi(request):
    doc = adm._load_openapi()
    templates = adm._templates(doc)
    if not RECORDED:
        pytest.skip("no admin API responses were recorded (run the whole module)")
    problems, seen = [], set()
    for method, path, body, resp in RECORDED:
        template, found = adm._check(doc, templates, method, path, body, resp)
        problems += found
        if template and 200 <= resp.status < 300:
            seen.add((method.lower(), template))
    assert not problems, "\n".join(problems[:50])
    module_tests = {i.name for i in request.session.items if i.module is request.module}
    all_tests = {n for n in dir(request.module) if n.startswith("test_")}
    if module_tests >= all_tests:
        tagged = {(m, t) for t, ops in doc["paths"].items() for m, op in ops.items()
                  if isinstance(op, dict) and "ldap" in op.get("tags", [])}
        assert not sorted(tagged - seen), f"ldap operations never answered 2xx: {tagged - seen}"
