"""LDAP connections as an administrator runs them (issue #11, items 10-15), through the real
binary against a real slapd (one per module, 50 + 5 users: ldap_fixture.py):

- 10: `connection set` and `PATCH /api/v1/connections/{name}` edit a connection holding users:
  nothing is deprovisioned, the audit log says what changed and who changed it, the next run
  uses the new settings; `connection show` prints the settings, never the password.
- 11: a filter that is not RFC 4515 is refused on save, naming the setting; `ldap test` runs
  both filters against the server.
- 12: an entry with userAccountControl 514 (ACCOUNTDISABLE) is an inactive user; a policy
  without the userAccountControl source imports it active.
- 13: the add's audit record says a bind password is set; change-feed entries of a run name the
  LDAP sync; a run's counts include the memberships removed with a deleted group.
- 14: a username held by two entries: `ldap test` and sync on login name both DNs, 409.
- 15: a schedule under a minute is refused; a scheduled run that changes nothing adds no audit
  record (the run history has it).

Each test uses a directory of its own, so that connections of other tests (same server, same
people) never link to its users. Admin API responses are validated against the OpenAPI document.
"""
import json
import os

import pytest

import test_admin_api as adm
from conftest import cli_json, run_cli, uniq, wait_until
from ldap_fixture import Api, add_cli, ldap_settings, start_slapd

RECORDED = []
USERS = 50 + 5  # --users 50 plus the fixture's special users


@pytest.fixture(scope="module")
def slapd(idsync_bin):
    s = start_slapd(idsync_bin, users=50)
    yield s
    s.close()


@pytest.fixture(scope="module")
def api(idsync_bin, server):
    info = cli_json(idsync_bin, "admin-token", "add", uniq("admin"), "--data", server.data_dir,
                    "--json")
    return Api(server.url, info["token"], RECORDED), info


def new_directory(idsync_bin, data):
    name = uniq("dir")
    r = run_cli(idsync_bin, "directory", "create", name, "--data", data)
    assert r.returncode == 0, r.stderr
    return name


def add_in(idsync_bin, data, slapd, directory, extra=()):
    name = uniq("ldap")
    add_cli(idsync_bin, data, slapd, name, extra=("--directory", directory, *extra))
    return name


def sync(idsync_bin, data, name, *extra):
    run = cli_json(idsync_bin, "sync", name, "--data", data, "--json", *extra)
    assert run["outcome"] == "succeeded", run
    return run


def audit(idsync_bin, data, name):
    return cli_json(idsync_bin, "log", "--data", data, "--connection", name, "--json")


def explain(idsync_bin, data, directory, user):
    r = run_cli(idsync_bin, "explain", user, "--directory", directory, "--data", data, "--json")
    return json.loads(r.stdout) if r.returncode == 0 else None


def show(idsync_bin, data, name):
    return cli_json(idsync_bin, "connection", "show", name, "--data", data, "--json")


def changes(idsync_bin, data, directory):
    r = run_cli(idsync_bin, "changes", "--directory", directory, "--data", data, "--json")
    assert r.returncode == 0, r.stderr
    return [json.loads(line) for line in r.stdout.splitlines() if line.strip()]  # JSON lines


def ldif_user(slapd, uid, extra=""):
    return (f"dn: uid={uid},{slapd.info['people_dn']}\nchangetype: add\n"
            "objectClass: inetOrgPerson\n"
            f"uid: {uid}\ncn: {uid}\nsn: {uid}\nmail: {uid}@example.com\n" +
            (extra.rstrip("\n") + "\n" if extra else "") + "\n")


# ---------------------------------------------------------------- item 10


def test_edit_filter_and_schedule_keeps_users_and_the_next_run_uses_them(
        idsync_bin, server, slapd, api):
    api, token = api
    data = server.data_dir
    directory = new_directory(idsync_bin, data)
    name = add_in(idsync_bin, data, slapd, directory)
    first = sync(idsync_bin, data, name)
    assert first["counts"]["created"] == USERS

    # `connection show`: the settings, whether a password is set, never the password.
    shown = show(idsync_bin, data, name)
    assert shown["settings"]["user_filter"] == "(objectClass=inetOrgPerson)"
    assert shown["bind_password"] == "(set)" and "base_url" not in shown
    text = run_cli(idsync_bin, "connection", "show", name, "--data", data)
    assert "  user_filter: (objectClass=inetOrgPerson)" in text.stdout, text.stdout
    assert slapd.info["service_password"] not in text.stdout + json.dumps(shown)

    # Edit the filter (user0001 leaves the scope) and the schedule: nothing is deprovisioned.
    new_filter = "(&(objectClass=inetOrgPerson)(!(uid=user0001)))"
    r = run_cli(idsync_bin, "connection", "set", name, "--data", data, "--json",
                "--user-filter", new_filter, "--schedule", "6h")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["changed"] == ["schedule", "user_filter"], out
    shown = show(idsync_bin, data, name)
    assert shown["users"] == USERS
    assert shown["settings"]["user_filter"] == new_filter
    assert shown["settings"]["schedule"] == "6h"
    assert explain(idsync_bin, data, directory, "user0001")["state"] == "active"
    # Audited: what changed (old and new), by whom; never the password.
    record = [a for a in audit(idsync_bin, data, name) if a["operation"] == "connection.update"]
    assert len(record) == 1, record
    assert record[0]["actor"] == "cli"
    assert "user_filter: \"(objectClass=inetOrgPerson)\" -> \"" + new_filter in record[0]["detail"]
    assert "schedule: \"0\" -> \"6h\"" in record[0]["detail"]

    # The next run uses the new filter; it is full because the scope changed.
    run = sync(idsync_bin, data, name)
    assert run["mode"] == "full", run
    assert run["counts"]["removed"] + run["counts"]["disabled"] == 1, run
    assert show(idsync_bin, data, name)["users"] == USERS - 1

    # The admin API's update route: validated, audited with the token's name, 200 with the
    # connection and the settings changed.
    r = api.call("PATCH", f"/connections/{name}",
                 {"settings": {"user_filter": None, "schedule": "15m"}})
    assert r.status == 200, r
    assert r.json["changed"] == ["schedule", "user_filter"], r.json
    assert r.json["settings"]["user_filter"] == "(objectClass=inetOrgPerson)"  # the default
    records = [a for a in audit(idsync_bin, data, name) if a["operation"] == "connection.update"]
    assert len(records) == 2 and records[-1]["actor"] != "cli", records
    assert "schedule: \"6h\" -> \"15m\"" in "".join(a["detail"] for a in records)
    run = sync(idsync_bin, data, name)
    assert run["counts"]["created"] == 1, run  # user0001 is back in scope
    # Unchanged settings record nothing.
    r = api.call("PATCH", f"/connections/{name}", {"settings": {"schedule": "15m"}})
    assert r.status == 200 and r.json["changed"] == [], r
    assert len([a for a in audit(idsync_bin, data, name)
                if a["operation"] == "connection.update"]) == 2
    # A SCIM connection has no settings to change.
    scim = uniq("scim")
    assert run_cli(idsync_bin, "connection", "add", scim, "--data", data).returncode == 0
    r = api.call("PATCH", f"/connections/{scim}", {"settings": {"schedule": "1h"}})
    assert r.status == 400 and "not ldap" in r.json["error"]["message"], r
    r = api.call("PATCH", f"/connections/{uniq('nope')}", {"settings": {}})
    assert r.status == 404, r


# ---------------------------------------------------------------- item 11


def test_bad_filter_is_refused_on_save_naming_the_setting(idsync_bin, server, slapd, api):
    api, _ = api
    data = server.data_dir
    directory = new_directory(idsync_bin, data)
    name = uniq("ldap-bad")
    s = ldap_settings(slapd)
    r = run_cli(idsync_bin, "connection", "add", name, "--kind", "ldap", "--data", data,
                "--directory", directory, "--url", s["url"], "--base-dn", s["base_dns"][0],
                "--user-filter", "(&(objectClass=inetOrgPerson)(uid=a)")
    assert r.returncode != 0
    assert "user_filter" in r.stderr and "RFC 4515" in r.stderr, r.stderr
    assert run_cli(idsync_bin, "connection", "show", name, "--data", data).returncode != 0

    r = api.call("POST", "/connections",
                 {"name": name, "kind": "ldap", "directory": directory,
                  "settings": {**s, "group_filter": "objectClass=groupOfNames)"},
                  "bind_password": slapd.info["service_password"]})
    assert r.status == 400 and r.json["error"]["message"].startswith("group_filter"), r

    name = add_in(idsync_bin, data, slapd, directory)
    before = show(idsync_bin, data, name)["settings"]
    r = run_cli(idsync_bin, "connection", "set", name, "--data", data,
                "--group-filter", "(|(cn=a)(cn=b)")
    assert r.returncode != 0 and "group_filter" in r.stderr, r.stderr
    r = api.call("PATCH", f"/connections/{name}", {"settings": {"user_filter": "uid=*)("}})
    assert r.status == 400 and r.json["error"]["message"].startswith("user_filter"), r
    assert show(idsync_bin, data, name)["settings"] == before

    # `ldap test` searches with both filters. (slapd answers every filter that parses, an
    # unknown matching rule included, with success: the server-side rejection this catches on
    # Active Directory cannot be provoked here.)
    t = cli_json(idsync_bin, "ldap", "test", name, "--data", data, "--json")
    assert t["ok"] is True and "both filters" in t["message"], t
    r = api.call("PATCH", f"/connections/{name}",
                 {"settings": {"group_filter": "(cn:1.2.3.4.5.6.7:=x)"}})
    assert r.status == 200 and r.json["changed"] == ["group_filter"], r
    t = cli_json(idsync_bin, "ldap", "test", name, "--data", data, "--json")
    assert t["ok"] is True, t


# ---------------------------------------------------------------- item 12


def test_disabled_active_directory_account_is_inactive(idsync_bin, server, slapd, tmp_path):
    data = server.data_dir
    directory = new_directory(idsync_bin, data)
    off, on = uniq("uac-off"), uniq("uac-on")
    slapd.apply(tmp_path, ldif_user(slapd, off, "objectClass: idsyncAdUser\n"
                                                "userAccountControl: 514") +
                ldif_user(slapd, on, "objectClass: idsyncAdUser\nuserAccountControl: 512"))
    name = add_in(idsync_bin, data, slapd, directory)
    sync(idsync_bin, data, name)
    disabled = explain(idsync_bin, data, directory, off)
    assert disabled is not None and disabled["state"] == "disabled", disabled
    assert explain(idsync_bin, data, directory, on)["state"] == "active"
    assert explain(idsync_bin, data, directory, "alice")["state"] == "active"  # no flag at all

    # A policy can turn the rule off: `active` from no source, so every entry is active.
    policy = cli_json(idsync_bin, "policy", "get", name, "--data", data, "--json")
    body = policy.get("policy", policy)
    assert body["attributes"]["active"]["sources"] == ["userAccountControl"], body
    assert body["attributes"]["active"]["transforms"] == ["account_enabled"], body
    body["attributes"]["active"] = {"sources": []}
    path = os.path.join(str(tmp_path), "policy.json")
    with open(path, "w") as f:
        json.dump(body, f)
    r = run_cli(idsync_bin, "policy", "set", name, path, "--data", data)
    assert r.returncode == 0, r.stderr
    assert explain(idsync_bin, data, directory, off)["state"] == "active"


# ---------------------------------------------------------------- item 13


def test_audit_and_change_feed_name_what_happened(idsync_bin, server, slapd, tmp_path):
    data = server.data_dir
    directory = new_directory(idsync_bin, data)
    group = uniq("grp")
    members = [uniq("member") for _ in range(3)]
    slapd.apply(tmp_path, "".join(ldif_user(slapd, m) for m in members) +
                f"dn: cn={group},{slapd.info['groups_dn']}\nchangetype: add\n"
                f"objectClass: groupOfNames\ncn: {group}\n" +
                "".join(f"member: uid={m},{slapd.info['people_dn']}\n" for m in members) + "\n")
    name = add_in(idsync_bin, data, slapd, directory)
    added = [a for a in audit(idsync_bin, data, name) if a["operation"] == "connection.add"]
    assert len(added) == 1 and "bind_password=(set)" in added[0]["detail"], added

    sync(idsync_bin, data, name)
    feed = changes(idsync_bin, data, directory)
    assert feed, "the run changed the directory"
    reasons = {c["cause"]["reason"] for c in feed}
    assert reasons == {"ldap sync"}, reasons

    slapd.apply(tmp_path, f"dn: cn={group},{slapd.info['groups_dn']}\nchangetype: delete\n\n")
    run = sync(idsync_bin, data, name, "--full")
    assert run["counts"]["groups_removed"] == 1, run
    assert run["counts"]["memberships_removed"] == 3, run


# ---------------------------------------------------------------- item 14


def test_a_username_held_by_two_entries_is_a_conflict_naming_both(
        idsync_bin, server, slapd, api, tmp_path):
    api, _ = api
    data = server.data_dir
    directory = new_directory(idsync_bin, data)
    dup = uniq("dup")
    other = f"cn={dup}-second,{slapd.info['people_dn']}"
    slapd.apply(tmp_path, ldif_user(slapd, dup) +
                f"dn: {other}\nchangetype: add\nobjectClass: inetOrgPerson\n"
                f"uid: {dup}\ncn: {dup}-second\nsn: x\n\n")
    name = add_in(idsync_bin, data, slapd, directory)
    first = f"uid={dup},{slapd.info['people_dn']}"
    r = run_cli(idsync_bin, "ldap", "test", name, dup, "--data", data, "--json")
    out = json.loads(r.stdout)
    assert r.returncode == 1 and out["failure"] == "ambiguous", out
    assert first in out["message"] and other in out["message"], out
    r = api.call("POST", f"/connections/{name}/login-sync", {"username": dup})
    assert r.status == 409 and r.json["error"]["code"] == "conflict", r
    assert first in r.json["error"]["message"] and other in r.json["error"]["message"], r


# ---------------------------------------------------------------- item 15


def test_schedule_floor_and_idle_scheduled_runs_leave_no_audit_record(
        idsync_bin, server, slapd, api):
    api, _ = api
    data = server.data_dir
    directory = new_directory(idsync_bin, data)
    name = uniq("ldap-fast")
    s = ldap_settings(slapd)
    r = run_cli(idsync_bin, "connection", "add", name, "--kind", "ldap", "--data", data,
                "--directory", directory, "--url", s["url"], "--base-dn", s["base_dns"][0],
                "--schedule", "30s")
    assert r.returncode != 0 and "schedule" in r.stderr and "one minute" in r.stderr, r.stderr

    name = add_in(idsync_bin, data, slapd, directory)
    r = api.call("PATCH", f"/connections/{name}", {"settings": {"schedule": "59s"}})
    assert r.status == 400 and r.json["error"]["message"].startswith("schedule"), r
    # The server's scheduler: the first run is due at once, the second a minute later; the
    # second changes nothing and is in the run history only.
    r = api.call("PATCH", f"/connections/{name}", {"settings": {"schedule": "1m"}})
    assert r.status == 200, r

    def two_runs():
        runs = api.call("GET", f"/connections/{name}/runs").json["runs"]
        done = [x for x in runs if x["outcome"] != "running"]
        return done if len(done) >= 2 else None

    runs = wait_until(two_runs, timeout=150, interval=1, message="two scheduled runs")
    assert all(x["trigger"] == "schedule" and x["outcome"] == "succeeded" for x in runs), runs
    assert runs[-1]["mode"] == "full" and runs[0]["mode"] == "incremental", runs
    r = run_cli(idsync_bin, "connection", "disable", name, "--data", data)
    assert r.returncode == 0, r.stderr
    syncs = [a for a in audit(idsync_bin, data, name) if a["operation"].startswith("sync.")]
    assert [a["operation"] for a in syncs] == ["sync.full"], syncs
    assert syncs[0]["actor"] == "schedule"


def test_every_response_matches_openapi():
    doc = adm._load_openapi()
    templates = adm._templates(doc)
    if not RECORDED:
        pytest.skip("no admin API responses were recorded (run the whole module)")
    problems = []
    for method, path, body, resp in RECORDED:
        _, found = adm._check(doc, templates, method, path, body, resp)
        problems += found
    assert not problems, "\n".join(problems[:50])
