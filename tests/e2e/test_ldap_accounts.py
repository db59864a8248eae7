"""LDAP service accounts and directory LDAP settings (issue #10), through the CLI and the admin
API: `idsync ldap-account add|list|rotate|remove`, `idsync directory ldap NAME`,
/api/v1/ldap-accounts and /api/v1/directories/{name}/ldap.

Passwords are shown once and stored only as argon2id hashes: never in `list`, the audit log
or the database files. Every admin API response is checked against the OpenAPI document, and
every operation tagged "ldap_server" must have answered 2xx (test_every_response_matches_openapi).
One server for the whole module.
"""

import json
import os

import pytest

import test_admin_api as adm
from conftest import cli_json, http_request, run_cli, stored_bytes, uniq

RECORDED = []


class Api:
    def __init__(self, url, token):
        self.url, self.token = url, token

    def call(self, method, path, body=None, raw=None):
        hdrs = {"Accept": "application/json", "Authorization": f"Bearer {self.token}"}
        data = None
        if raw is not None:
            data = raw.encode()
        elif body is not None:
            data = json.dumps(body).encode()
        if data is not None:
            hdrs["Content-Type"] = "application/json"
        r = http_request(self.url, method, "/api/v1" + path, data, hdrs)
        RECORDED.append((method, "/api/v1" + path.split("?")[0], body, r))
        return r

    def get(self, path):
        return self.call("GET", path)

    def post(self, path, body=None, **kw):
        return self.call("POST", path, body, **kw)

    def put(self, path, body=None, **kw):
        return self.call("PUT", path, body, **kw)

    def delete(self, path):
        return self.call("DELETE", path)


@pytest.fixture(scope="module")
def api(idsync_bin, server):
    info = cli_json(idsync_bin, "admin-token", "add", uniq("admin"), "--data", server.data_dir,
                    "--json")
    return Api(server.url, info["token"])


def cli(idsync_bin, server, *args):
    return run_cli(idsync_bin, *args, "--data", server.data_dir)


def error_of(resp, status, code=None):
    assert resp.status == status, resp
    err = resp.json["error"]
    if code:
        assert err["code"] == code, resp
    return err["message"]


def data_bytes(server):
    """Everything the installation keeps: the data folder's files (database, WAL, server.json)
    and, on PostgreSQL, a pg_dump of its database (conftest.stored_bytes)."""
    return stored_bytes(server.data_dir)


# --------------------------------------------------------------------------- CLI


def test_cli_add_list_rotate_remove(idsync_bin, server):
    name = uniq("app")
    r = cli(idsync_bin, server, "ldap-account", "add", name, "--directory", "users")
    assert r.returncode == 0, r.stderr
    password = next(line.split()[-1] for line in r.stdout.splitlines() if "password:" in line)
    assert password.startswith("idsync_ldap_") and len(password) == 12 + 43, r.stdout
    assert f"cn={name},ou=services,dc=idsync" in r.stdout, r.stdout
    assert "shown only this once" in r.stdout and "will not be shown again" in r.stdout, r.stdout

    listed = cli_json(idsync_bin, "ldap-account", "list", "--data", server.data_dir, "--json")
    mine = [a for a in listed if a["name"] == name]
    assert len(mine) == 1, listed
    assert mine[0]["directory"] == "users"
    assert mine[0]["bind_dn"] == f"cn={name},ou=services,dc=idsync"
    assert mine[0]["created"] == mine[0]["rotated"]
    assert "password" not in mine[0] and "hash" not in mine[0]
    text = cli(idsync_bin, server, "ldap-account", "list")
    assert text.returncode == 0 and name in text.stdout and password not in text.stdout

    rotated = cli_json(idsync_bin, "ldap-account", "rotate", name, "--data", server.data_dir,
                       "--json")
    assert rotated["name"] == name and rotated["password"].startswith("idsync_ldap_")
    assert rotated["password"] != password
    assert rotated["rotated"] >= rotated["created"]

    # Neither password is anywhere on disk or in the audit log; the hash is argon2id.
    stored = data_bytes(server)
    assert password.encode() not in stored and rotated["password"].encode() not in stored
    assert b"$argon2id$v=19$m=19456,t=2,p=1$" in stored
    log = cli(idsync_bin, server, "log", "--json")
    assert log.returncode == 0, log.stderr
    assert password not in log.stdout and rotated["password"] not in log.stdout
    assert "ldap_account.add" in log.stdout and "ldap_account.rotate" in log.stdout, log.stdout

    removed = cli(idsync_bin, server, "ldap-account", "remove", name)
    assert removed.returncode == 0, removed.stderr
    listed = cli_json(idsync_bin, "ldap-account", "list", "--data", server.data_dir, "--json")
    assert name not in [a["name"] for a in listed]
    assert "ldap_account.remove" in cli(idsync_bin, server, "log", "--json").stdout


def test_cli_errors_say_what_to_fix(idsync_bin, server):
    bad = cli(idsync_bin, server, "ldap-account", "add", "has space", "--directory", "users")
    assert bad.returncode != 0 and "1-64 letters, digits" in bad.stderr, bad.stderr
    unknown_dir = cli(idsync_bin, server, "ldap-account", "add", uniq("a"), "--directory", "nope")
    assert unknown_dir.returncode != 0 and "no directory named \"nope\"" in unknown_dir.stderr
    name = uniq("dup")
    assert cli(idsync_bin, server, "ldap-account", "add", name, "--directory", "users").returncode == 0
    dup = cli(idsync_bin, server, "ldap-account", "add", name.upper(), "--directory", "users")
    assert dup.returncode != 0 and "already exists" in dup.stderr, dup.stderr
    for sub in ("remove", "rotate"):
        missing = cli(idsync_bin, server, "ldap-account", sub, "ghost")
        assert missing.returncode != 0 and "no LDAP account named \"ghost\"" in missing.stderr
        assert "ldap-account list" in missing.stderr
    no_dir_option = cli(idsync_bin, server, "ldap-account", "add", uniq("a"))
    assert no_dir_option.returncode != 0 and "--directory" in no_dir_option.stderr


def test_cli_bind_dn_uses_the_suffix_the_server_last_ran_with(idsync_bin, server):
    path = os.path.join(server.data_dir, "server.json")
    with open(path) as f:
        original = f.read()
    try:
        info = json.loads(original)
        info["ldap_suffix"] = "dc=example,dc=com"
        with open(path, "w") as f:
            json.dump(info, f)
        name = uniq("suffixed")
        made = cli_json(idsync_bin, "ldap-account", "add", name, "--directory", "users",
                        "--data", server.data_dir, "--json")
        assert made["bind_dn"] == f"cn={name},ou=services,dc=example,dc=com", made
    finally:
        with open(path, "w") as f:
            f.write(original)


def test_cli_directory_ldap_settings(idsync_bin, server, api):
    directory = uniq("dl").lower()
    assert api.post("/directories", {"name": directory}).status == 201
    shown = cli_json(idsync_bin, "directory", "ldap", directory, "--data", server.data_dir,
                     "--json")
    assert shown == {"profile": "standard", "disabled_users": "hide", "posix": False,
                     "uid_base": 10000, "gid_base": 10000, "home_template": "/home/{uid}",
                     "login_shell": "/bin/bash", "attribute_names": {}, "tombstone_days": 180}
    changed = cli_json(idsync_bin, "directory", "ldap", directory, "--posix", "on",
                       "--uid-base", "20000", "--disabled-users", "show", "--profile",
                       "active_directory", "--home", "/srv/{uid}", "--shell", "/bin/zsh",
                       "--tombstone-days", "30", "--data", server.data_dir, "--json")
    assert changed["posix"] is True and changed["uid_base"] == 20000
    assert changed["gid_base"] == 10000  # untouched options keep their values
    assert changed["profile"] == "active_directory" and changed["disabled_users"] == "show"
    assert changed["home_template"] == "/srv/{uid}" and changed["tombstone_days"] == 30
    # Merged, not replaced: a later change keeps the earlier ones.
    again = cli_json(idsync_bin, "directory", "ldap", directory, "--gid-base", "30000",
                     "--data", server.data_dir, "--json")
    assert again["uid_base"] == 20000 and again["gid_base"] == 30000 and again["posix"] is True
    text = cli(idsync_bin, server, "directory", "ldap", directory)
    assert text.returncode == 0 and "uid_base: 20000" in text.stdout, text.stdout

    for args, mention in [
        (("--uid-base", "5"), "--uid-base: expected an integer from 1000"),
        (("--posix", "maybe"), "--posix: expected on or off"),
        (("--profile", "ad"), "--profile:"),
        (("--home", "relative/{uid}"), "--home:"),
        (("--attribute", "badge=badgeNumber"), "no custom attribute \"badge\""),
        (("--attribute", "badge"), "--attribute: expected CUSTOM=LDAPNAME"),
    ]:
        r = cli(idsync_bin, server, "directory", "ldap", directory, *args)
        assert r.returncode != 0 and mention in r.stderr, (args, r.stderr)
    # A custom attribute of the directory can be mapped, and unmapped with CUSTOM=.
    put = api.put(f"/directories/{directory}/custom-attributes",
                  {"custom_attributes": [{"name": "badge", "type": "string"}]})
    assert put.status == 200, put
    mapped = cli_json(idsync_bin, "directory", "ldap", directory, "--attribute",
                      "badge=badgeNumber", "--data", server.data_dir, "--json")
    assert mapped["attribute_names"] == {"badge": "badgeNumber"}
    served = cli(idsync_bin, server, "directory", "ldap", directory, "--attribute", "badge=mail")
    assert served.returncode != 0 and "idsync serves itself" in served.stderr, served.stderr
    unmapped = cli_json(idsync_bin, "directory", "ldap", directory, "--attribute", "badge=",
                        "--data", server.data_dir, "--json")
    assert unmapped["attribute_names"] == {}
    missing = cli(idsync_bin, server, "directory", "ldap", "nope")
    assert missing.returncode != 0 and "no directory named \"nope\"" in missing.stderr


# --------------------------------------------------------------------------- admin API


def test_api_accounts_lifecycle(idsync_bin, server, api):
    name = uniq("web")
    created = api.post("/ldap-accounts", {"name": name, "directory": "users"})
    assert created.status == 201, created
    body = created.json
    assert body["name"] == name and body["directory"] == "users"
    assert body["bind_dn"] == f"cn={name},ou=services,dc=idsync"
    assert body["password"].startswith("idsync_ldap_")
    assert created.headers["location"].endswith(f"/api/v1/ldap-accounts/{name}")
    assert created.headers["cache-control"] == "no-store"

    listed = api.get("/ldap-accounts")
    assert listed.status == 200, listed
    mine = [a for a in listed.json["ldap_accounts"] if a["name"] == name]
    assert len(mine) == 1 and "password" not in mine[0], listed.json
    names = [a["name"] for a in listed.json["ldap_accounts"]]
    assert names == sorted(names)

    rotated = api.post(f"/ldap-accounts/{name}/rotate")
    assert rotated.status == 200, rotated
    assert rotated.json["password"] != body["password"]
    assert rotated.headers["cache-control"] == "no-store"
    stored = data_bytes(server)
    assert body["password"].encode() not in stored
    assert rotated.json["password"].encode() not in stored

    # The CLI and the API see the same accounts; the audit names the admin token.
    cli_names = [a["name"] for a in cli_json(idsync_bin, "ldap-account", "list", "--data",
                                             server.data_dir, "--json")]
    assert name in cli_names
    audit = api.call("GET", "/audit?limit=1000")
    assert audit.status == 200, audit
    mine = [r for r in audit.json["records"] if r["resource_id"] == name]
    assert [r["operation"] for r in mine] == ["ldap_account.add", "ldap_account.rotate"], mine
    assert all(r["actor"].startswith("admin:") and "users" in r["detail"] for r in mine), mine
    assert body["password"] not in audit.body.decode()
    assert rotated.json["password"] not in audit.body.decode()

    assert api.delete(f"/ldap-accounts/{name}").status == 204
    error_of(api.delete(f"/ldap-accounts/{name}"), 404, "not_found")
    error_of(api.post(f"/ldap-accounts/{name}/rotate"), 404, "not_found")


def test_api_account_errors(api):
    msg = error_of(api.post("/ldap-accounts", {"name": "bad name", "directory": "users"}), 400,
                   "invalid_value")
    assert "1-64 letters" in msg
    error_of(api.post("/ldap-accounts", {"name": uniq("a"), "directory": "nope"}), 404,
             "not_found")
    error_of(api.post("/ldap-accounts", {"name": uniq("a")}), 400, "invalid_value")
    error_of(api.post("/ldap-accounts", {"name": uniq("a"), "directory": "users", "x": 1}), 400,
             "invalid_value")
    name = uniq("twice")
    assert api.post("/ldap-accounts", {"name": name, "directory": "users"}).status == 201
    error_of(api.post("/ldap-accounts", {"name": name, "directory": "customers"}), 409,
             "uniqueness")
    error_of(api.post(f"/ldap-accounts/{name}/rotate", raw='{"x": 1}'), 400)
    r = api.call("PUT", "/ldap-accounts")
    assert r.status == 405 and "GET, POST" in r.headers["allow"]
    assert api.call("GET", f"/ldap-accounts/{name}").status == 405
    assert api.call("GET", f"/ldap-accounts/{name}/rotate").status == 405
    assert api.call("GET", f"/ldap-accounts/{name}/other").status == 404


def test_api_directory_ldap_settings(api):
    directory = uniq("dl").lower()
    assert api.post("/directories", {"name": directory}).status == 201
    got = api.get(f"/directories/{directory}/ldap")
    assert got.status == 200, got
    assert got.json["profile"] == "standard" and got.json["attribute_names"] == {}

    settings = dict(got.json, posix=True, uid_base=50000, profile="active_directory")
    put = api.put(f"/directories/{directory}/ldap", settings)
    assert put.status == 200, put
    assert put.json == settings
    assert api.get(f"/directories/{directory}/ldap").json == settings
    # PUT is the full form: what is left out returns to its default.
    partial = api.put(f"/directories/{directory}/ldap", {"posix": True})
    assert partial.status == 200 and partial.json["uid_base"] == 10000
    assert partial.json["profile"] == "standard"

    for body, field in [({"uid_base": 1}, "uid_base:"),
                        ({"profile": "ad"}, "profile:"),
                        ({"colour": "blue"}, "colour: unknown setting"),
                        ({"attribute_names": {"badge": "badgeNumber"}},
                         "attribute_names.badge:"),
                        ({"tombstone_days": -1}, "tombstone_days:")]:
        msg = error_of(api.put(f"/directories/{directory}/ldap", body), 400, "invalid_value")
        assert msg.startswith(field), (body, msg)
    error_of(api.put(f"/directories/{directory}/ldap", raw="[1"), 400)
    error_of(api.get("/directories/nope/ldap"), 404, "not_found")
    error_of(api.put("/directories/nope/ldap", {}), 404, "not_found")
    assert api.call("DELETE", f"/directories/{directory}/ldap").status == 405


def test_every_response_matches_openapi(request):
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
                  if isinstance(op, dict) and "ldap_server" in op.get("tags", [])}
        assert not sorted(tagged - seen), f"operations never answered 2xx: {tagged - seen}"
