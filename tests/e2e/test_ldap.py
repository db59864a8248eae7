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

import pytest

import test_admin_api as adm
from conftest import cli_json, run_cli, stored_bytes, uniq, wait_until
from ldap_fixture import Api, add_cli, ldap_settings, start_slapd

RECORDED = []
USERS = 1200 + 5
GROUPS = 6


@pytest.fixture(scope="module")
def slapd(idsync_bin):
    s = start_slapd(idsync_bin)
    yield s
    s.close()


@pytest.fixture(scope="module")
def api(idsync_bin, server):
    info = cli_json(idsync_bin, "admin-token", "add", uniq("admin"), "--data", server.data_dir,
                    "--json")
    return Api(server.url, info["token"], RECORDED)


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
    assert password.encode() not in stored_bytes(data)  # SQLite file, or a pg_dump

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

    # Settings are edited in place (test_ldap_admin.py has the details).
    r = api.call("PATCH", f"/connections/{name}", {"settings": {"page_size": 200}})
    assert r.status == 200 and r.json["changed"] == ["page_size"], r
    assert r.json["settings"]["page_size"] == 200


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
    # The first run of a schedule is due at once; the next one a schedule later (at least 1m:
    # test_ldap_admin.py waits for it).
    name = uniq("ldap-sched")
    add_cli(idsync_bin, server.data_dir, slapd, name, extra=("--schedule", "1m"))

    def first_run():
        runs = api.call("GET", f"/connections/{name}/runs").json["runs"]
        done = [x for x in runs if x["outcome"] != "running"]
        return done if done else None

    runs = wait_until(first_run, timeout=120, message="the first scheduled run")
    assert all(x["trigger"] == "schedule" and x["outcome"] == "succeeded" for x in runs), runs
    assert runs[-1]["mode"] == "full", runs
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
