"""The admin console's server side (issue #12): local admin users (CLI and /api/v1/admin-users),
sign-in, sessions and their security rules, over HTTP with the real binary.

Covers what "What must be shown" 2 asks of the console: every console and /api/v1 route refuses
a request without a session or token; a cross-origin POST with the session cookie is refused;
cookies carry HttpOnly, SameSite=Strict (and Secure with the __Host- prefix over TLS); the
security headers are on every console response; failed sign-ins are throttled per address and
per user; a session ends on logout, on idle timeout, when its user is removed and when its
password is reset; a viewer is refused every write; no password or session id is stored in
clear in the data folder. The admin-user routes' responses are checked against the OpenAPI
document (test_every_response_matches_openapi).
"""

import glob
import http.client
import json
import os
import re
import signal
import subprocess
import time
import urllib.parse

import pytest

import test_admin_api as adm
from conftest import (
    NO_RATE_LIMITS,
    REPO_ROOT,
    cli_json,
    http_request,
    run_cli,
    start_server,
    uniq,
)

RECORDED = []  # (method, path, body, Resp) of /api/v1 calls, for the OpenAPI check

HEADERS_REQUIRED = {
    "content-security-policy",
    "x-content-type-options",
    "referrer-policy",
}


def json_body(obj):
    return json.dumps(obj).encode()


def login_from(url, source, name, password):
    """A sign-in from another loopback address (127.0.0.0/8 is all ours), so that per-address
    and per-user throttling can be told apart."""
    parsed = urllib.parse.urlsplit(url)
    c = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=10,
                                   source_address=(source, 0))
    try:
        c.request("POST", "/console/api/login", body=json_body({"name": name, "password": password}),
                  headers={"Content-Type": "application/json", "Origin": url,
                           "Connection": "close"})
        r = c.getresponse()
        r.read()
        return r.status
    finally:
        c.close()


class Browser:
    """A cookie jar and the headers a same-origin fetch sends (Origin, CSRF token)."""

    def __init__(self, server):
        self.server = server
        self.url = server.url
        self.origin = server.url
        self.cookie = None
        self.csrf = None
        self.set_cookie = None

    def call(self, method, path, body=None, origin="own", csrf="own", cookie="own", headers=None):
        hdrs = {"Accept": "application/json"}
        if body is not None:
            hdrs["Content-Type"] = "application/json"
        if origin == "own":
            hdrs["Origin"] = self.origin
        elif origin is not None:
            hdrs["Origin"] = origin
        if csrf == "own" and self.csrf and method not in ("GET", "HEAD"):
            hdrs["X-CSRF-Token"] = self.csrf
        elif csrf not in ("own", None):
            hdrs["X-CSRF-Token"] = csrf
        if cookie == "own" and self.cookie:
            hdrs["Cookie"] = self.cookie
        elif cookie not in ("own", None):
            hdrs["Cookie"] = cookie
        hdrs.update(headers or {})
        raw = None if body is None else json_body(body)
        r = http_request(self.url, method, path, body=raw, headers=hdrs)
        if path.startswith("/api/v1"):
            RECORDED.append((method, path.split("?")[0], body, r))
        return r

    def login(self, name, password, **kw):
        r = self.call("POST", "/console/api/login", {"name": name, "password": password}, **kw)
        if r.status == 200:
            self.set_cookie = r.headers["set-cookie"]
            self.cookie = self.set_cookie.split(";")[0]
            self.csrf = r.json["csrf_token"]
        return r

    def change_password(self, current, new):
        r = self.call("POST", "/console/api/password",
                      {"current_password": current, "new_password": new})
        return r


def add_user(binary, data, name=None, role="admin"):
    name = name or uniq("adm")
    info = cli_json(binary, "admin-user", "add", name, "--role", role, "--data", data, "--json")
    assert info["name"] == name and info["role"] == role, info
    assert info["must_change_password"] is True, info
    assert len(info["password"]) >= 12, info
    assert info["console_url"].endswith("/console/"), info
    return name, info["password"]


def signed_in(server, binary, role="admin"):
    """A browser signed in as a new user whose one-time password has been changed."""
    name, otp = add_user(binary, server.data_dir, role=role)
    b = Browser(server)
    assert b.login(name, otp).status == 200
    new = "pw-" + uniq("x") + "-long-enough"
    r = b.change_password(otp, new)
    assert r.status == 200, r
    b.name, b.password = name, new
    return b


def assert_security_headers(r):
    missing = HEADERS_REQUIRED - set(r.headers)
    assert not missing, f"{r.status} lacks {missing}: {r.headers}"
    csp = r.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp, csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, csp
    assert "script-src 'self'" in csp, csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "no-referrer"


@pytest.fixture(scope="module")
def server(idsync_bin, data_dir):
    # The default failed-authentication allowance (10 a minute) is part of what is tested, so
    # each throttling test uses addresses and users of its own... except the address: all
    # requests come from 127.0.0.1. The throttling tests therefore run on a server of their own.
    srv = start_server(idsync_bin, data_dir, NO_RATE_LIMITS + ("--auth-failures-per-address", "0"))
    yield srv
    if srv.alive():
        assert srv.stop(signal.SIGTERM) == 0, srv.stderr_text()[-2000:]


# --------------------------------------------------------------------------- admin users


def test_admin_user_cli_add_list_reset_remove(idsync_bin, server):
    data = server.data_dir
    name, otp = add_user(idsync_bin, data, role="viewer")
    listed = cli_json(idsync_bin, "admin-user", "list", "--data", data, "--json")
    mine = [u for u in listed if u["name"] == name]
    assert mine and mine[0]["role"] == "viewer" and "password" not in mine[0], listed
    assert all("hash" not in u for u in listed)

    again = run_cli(idsync_bin, "admin-user", "add", name, "--data", data)
    assert again.returncode == 1 and "already exists" in again.stderr, again.stderr
    bad = run_cli(idsync_bin, "admin-user", "add", "bad name", "--data", data)
    assert bad.returncode == 1 and "not valid" in bad.stderr, bad.stderr
    bad_role = run_cli(idsync_bin, "admin-user", "add", uniq("a"), "--role", "root", "--data", data)
    assert bad_role.returncode == 2, bad_role.stderr

    # Plain output prints the console URL and the one-time password once.
    text = run_cli(idsync_bin, "admin-user", "reset-password", name, "--data", data)
    assert text.returncode == 0, text.stderr
    new_otp = re.search(r"One-time password:\s+(\S+)", text.stdout).group(1)
    assert new_otp != otp and "/console/" in text.stdout
    b = Browser(server)
    assert b.login(name, otp).status == 401  # the old one-time password is gone
    assert b.login(name, new_otp).status == 200

    removed = run_cli(idsync_bin, "admin-user", "remove", name, "--data", data)
    assert removed.returncode == 0, removed.stderr
    assert run_cli(idsync_bin, "admin-user", "remove", name, "--data", data).returncode == 1

    # --if-none: first-start scripts add a user only when there is none.
    add_user(idsync_bin, data)
    quiet = run_cli(idsync_bin, "admin-user", "add", uniq("a"), "--if-none", "--data", data)
    assert quiet.returncode == 0 and quiet.stdout == "", quiet

    # Every change is in the audit log under the actor that made it.
    log = cli_json(idsync_bin, "log", "--data", data, "--json")
    ops = [(r["operation"], r["actor"]) for r in log if r["resource_id"] == name]
    assert ("admin_user.add", "cli") in ops and ("admin_user.reset_password", "cli") in ops
    assert ("admin_user.remove", "cli") in ops and ("console.login", f"console:{name}") in ops


def test_the_last_admin_cannot_be_removed(idsync_bin, tmp_path):
    data = str(tmp_path)
    name, _ = add_user(idsync_bin, data, role="admin")
    viewer, _ = add_user(idsync_bin, data, role="viewer")
    r = run_cli(idsync_bin, "admin-user", "remove", name, "--data", data)
    assert r.returncode == 1 and "last admin" in r.stderr, r.stderr
    assert run_cli(idsync_bin, "admin-user", "remove", viewer, "--data", data).returncode == 0


def test_admin_user_routes(idsync_bin, server):
    b = signed_in(server, idsync_bin)
    name = uniq("u")
    made = b.call("POST", "/api/v1/admin-users", {"name": name, "role": "viewer"})
    assert made.status == 201, made
    assert made.headers["cache-control"] == "no-store"
    assert made.json["password"] and made.json["must_change_password"] is True
    listed = b.call("GET", "/api/v1/admin-users")
    assert listed.status == 200 and name in [u["name"] for u in listed.json["admin_users"]]
    assert b.call("POST", "/api/v1/admin-users", {"name": name}).status == 409
    assert b.call("POST", "/api/v1/admin-users", {"name": "x y"}).status == 400
    assert b.call("POST", "/api/v1/admin-users", {"name": uniq("u"), "role": "root"}).status == 400
    assert b.call("POST", "/api/v1/admin-users", {"name": uniq("u"), "colour": 1}).status == 400
    reset = b.call("POST", f"/api/v1/admin-users/{name}/reset-password")
    assert reset.status == 200 and reset.json["password"] != made.json["password"], reset
    assert b.call("POST", "/api/v1/admin-users/nobody/reset-password").status == 404
    assert b.call("DELETE", f"/api/v1/admin-users/{name}").status == 204
    assert b.call("DELETE", f"/api/v1/admin-users/{name}").status == 404
    assert b.call("PUT", "/api/v1/admin-users").status == 405

    # The changes are audited under the console user who made them.
    log = cli_json(idsync_bin, "log", "--data", server.data_dir, "--json")
    ops = {(r["operation"], r["actor"]) for r in log if r["resource_id"] == name}
    assert {("admin_user.add", f"console:{b.name}"), ("admin_user.reset_password", f"console:{b.name}"),
            ("admin_user.remove", f"console:{b.name}")} <= ops, ops


# --------------------------------------------------------------------------- sign-in and sessions


def test_first_sign_in_forces_a_password_change(idsync_bin, server):
    name, otp = add_user(idsync_bin, server.data_dir)
    b = Browser(server)
    r = b.login(name, otp)
    assert r.status == 200, r
    assert r.json["user"] == name and r.json["role"] == "admin"
    assert r.json["must_change_password"] is True
    assert_security_headers(r)
    assert r.headers["cache-control"] == "no-store"
    # Until the one-time password is changed, the admin API refuses the session.
    refused = b.call("GET", "/api/v1/connections")
    assert refused.status == 403 and "one-time password" in refused.json["error"]["message"]
    # The new password is checked: length, and the current one must be right.
    short = b.change_password(otp, "short")
    assert short.status == 400 and "at least 12" in short.json["error"]["message"], short
    wrong = b.change_password("not-the-otp-at-all", "a-good-long-password")
    assert wrong.status == 400 and wrong.json["error"]["message"].startswith("current_password")
    same = b.change_password(otp, otp)
    assert same.status == 400
    changed = b.change_password(otp, "a-good-long-password-1")
    assert changed.status == 200 and changed.json["must_change_password"] is False, changed
    # The session that changed it goes on, now with access to the API.
    assert b.call("GET", "/api/v1/connections").status == 200
    session = b.call("GET", "/console/api/session")
    assert session.status == 200 and session.json["must_change_password"] is False
    # The one-time password no longer signs in; the new one does.
    assert Browser(server).login(name, otp).status == 401
    assert Browser(server).login(name, "a-good-long-password-1").status == 200


def test_cookie_flags_over_plain_http(idsync_bin, server):
    b = signed_in(server, idsync_bin)
    cookie = b.set_cookie
    assert cookie.startswith("idsync_session=idsync_session_"), cookie
    attrs = [a.strip().lower() for a in cookie.split(";")[1:]]
    assert "httponly" in attrs and "samesite=strict" in attrs and "path=/" in attrs, cookie
    assert "secure" not in attrs  # browsers drop Secure cookies over http
    assert "max-age" not in cookie.lower() and "expires" not in cookie.lower()


def test_cookie_flags_over_tls(idsync_bin, tmp_path):
    key, cert = str(tmp_path / "key.pem"), str(tmp_path / "cert.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1"],
                   check=True, capture_output=True)
    data = str(tmp_path / "data")
    os.mkdir(data)
    srv = start_server(idsync_bin, data, ("--tls-cert", cert, "--tls-key", key))
    try:
        name, otp = add_user(idsync_bin, data)
        b = Browser(srv)
        r = b.login(name, otp)
        assert r.status == 200, r
        cookie = r.headers["set-cookie"]
        assert cookie.startswith("__Host-idsync_session="), cookie
        attrs = [a.strip().lower() for a in cookie.split(";")[1:]]
        assert {"httponly", "samesite=strict", "secure", "path=/"} <= set(attrs), cookie
        assert "domain" not in cookie.lower()
        assert b.call("GET", "/console/api/session").status == 200
        # Over TLS a cookie without the prefix is not a session.
        plain = "idsync_session=" + b.cookie.split("=", 1)[1]
        assert b.call("GET", "/console/api/session", cookie=plain).status == 401
    finally:
        assert srv.stop(signal.SIGTERM) == 0


def test_every_console_and_api_route_refuses_without_session(idsync_bin, server):
    anon = Browser(server)
    for method, path in [("GET", "/console/api/session"), ("POST", "/console/api/logout"),
                         ("POST", "/console/api/password"), ("GET", "/api/v1/connections"),
                         ("GET", "/api/v1/directories"), ("GET", "/api/v1/admin-users"),
                         ("POST", "/api/v1/admin-users"), ("DELETE", "/api/v1/admin-users/x"),
                         ("POST", "/api/v1/connections"), ("GET", "/api/v1/audit")]:
        body = {} if method == "POST" else None
        r = anon.call(method, path, body)
        assert r.status in (401, 403), (method, path, r)
        if path.startswith("/console"):
            assert_security_headers(r)
        # A made-up or stale session id is no better.
        r = anon.call(method, path, body, cookie="idsync_session=idsync_session_forged")
        assert r.status in (401, 403), (method, path, r)
    # The pages themselves are the sign-in form and hold no data; they are served to anyone,
    # with the headers.
    for path in ("/console/", "/console/assets/app.js", "/console/assets/app.css"):
        r = http_request(server.url, "GET", path)
        assert r.status == 200, (path, r)
        assert_security_headers(r)
    assert http_request(server.url, "GET", "/console").status == 308
    missing = http_request(server.url, "GET", "/console/assets/nope.js")
    assert missing.status == 404
    assert_security_headers(missing)


def _documented_operations(conn):
    """Every operation of the admin API's OpenAPI document as (method, concrete path), the path
    parameters naming things that exist (so a refusal is the credential's, not a 404)."""
    doc = adm._load_openapi()
    names = {"directory": "users", "connection": conn, "id": "x", "user": "x",
             "account": "x", "admin_user": "x", "token": "x"}
    out = []
    for template, item in doc["paths"].items():
        for method, op in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            if op.get("security") == []:  # the OpenAPI document itself is public
                continue
            path = re.sub(r"\{([^}]+)\}", lambda m: names[m.group(1)], template)
            out.append((method.upper(), path))
    return out


def test_every_documented_api_operation_refuses_without_session_or_token(idsync_bin, server):
    """Not a sample: every operation the OpenAPI document lists (the console's user search and
    mapping preview included) answers 401 without a credential, with a forged session cookie
    and with a forged admin token, and 403 to a viewer for every write."""
    admin = signed_in(server, idsync_bin)
    conn = uniq("c")
    assert admin.call("POST", "/api/v1/connections", {"name": conn}).status == 201
    ops = _documented_operations(conn)
    paths = {p for _, p in ops}
    assert "/api/v1/directories/users/user-search" in paths
    assert f"/api/v1/connections/{conn}/policy/sample" in paths
    assert len(ops) >= 50, len(ops)
    anon = Browser(server)
    viewer = signed_in(server, idsync_bin, role="viewer")
    for method, path in ops:
        body = None if method in ("GET", "DELETE") else {}
        for how in ({}, {"cookie": "idsync_session=idsync_session_forged"},
                    {"headers": {"Authorization": "Bearer idsync_admin_forged"}}):
            r = anon.call(method, path, body, **how)
            assert r.status == 401, (method, path, how, r.status, r.body[:200])
            assert r.json["error"]["code"] == "unauthorized", (method, path, r.json)
        if method != "GET":
            r = viewer.call(method, path, body)
            assert r.status == 403 and "viewer" in r.json["error"]["message"], (method, path, r)
    # Nothing the viewer or the anonymous calls sent changed the connection.
    detail = admin.call("GET", f"/api/v1/connections/{conn}").json
    assert detail["enabled"] is True and len(detail["tokens"]) == 1, detail


def test_no_scim_read_or_ldap_credential_is_a_console_credential(idsync_bin, server):
    data = server.data_dir
    scim = cli_json(idsync_bin, "connection", "add", uniq("c"), "--data", data, "--json")["token"]
    read = cli_json(idsync_bin, "read-token", "add", uniq("r"), "--data", data, "--json")["token"]
    admin = cli_json(idsync_bin, "admin-token", "add", uniq("a"), "--data", data, "--json")["token"]
    ldap = cli_json(idsync_bin, "ldap-account", "add", uniq("l"), "--directory", "users",
                    "--data", data, "--json")
    b = Browser(server)
    for secret in (scim, read, admin, ldap["password"]):
        assert b.login(ldap["name"], secret).status == 401
        r = b.call("GET", "/console/api/session", headers={"Authorization": f"Bearer {secret}"})
        assert r.status == 401, r
        r = b.call("GET", "/console/api/session", cookie=f"idsync_session={secret}")
        assert r.status == 401, r


def test_csrf_token_and_same_origin_required_for_writes(idsync_bin, server):
    b = signed_in(server, idsync_bin)
    body = {"name": uniq("c")}
    # A cross-origin POST that carries the cookie (a browser would not, SameSite=Strict; this
    # is the second line) is refused even with the right token.
    r = b.call("POST", "/api/v1/connections", body, origin="https://evil.example")
    assert r.status == 403 and "cross-origin" in r.json["error"]["message"], r
    r = b.call("POST", "/api/v1/connections", body, origin=None)
    assert r.status == 403, r
    r = b.call("POST", "/api/v1/connections", body, origin=None,
               headers={"Sec-Fetch-Site": "cross-site"})
    assert r.status == 403, r
    r = b.call("POST", "/console/api/logout", origin="http://127.0.0.1:1")
    assert r.status == 403, r
    r = b.call("POST", "/console/api/login", {"name": b.name, "password": b.password},
               origin="https://evil.example")
    assert r.status == 403, r  # login CSRF
    # Same origin without the token, or with another session's token: refused.
    r = b.call("POST", "/api/v1/connections", body, csrf=None)
    assert r.status == 403 and "CSRF" in r.json["error"]["message"], r
    other = signed_in(server, idsync_bin)
    r = b.call("POST", "/api/v1/connections", body, csrf=other.csrf)
    assert r.status == 403, r
    # Nothing was created by the refused requests.
    assert b.call("GET", f"/api/v1/connections/{body['name']}").status == 404
    # With both, the write goes through and is audited under the console user.
    r = b.call("POST", "/api/v1/connections", body)
    assert r.status == 201, r
    r = b.call("GET", "/api/v1/audit", headers={})
    assert any(rec["actor"] == f"console:{b.name}" and rec["operation"] == "connection.add"
               for rec in r.json["records"]), r.json
    # Sec-Fetch-Site: same-origin stands in for a missing Origin (older browsers on GET-like
    # forms); the token is still needed.
    r = b.call("POST", f"/api/v1/connections/{body['name']}/disable", origin=None,
               headers={"Sec-Fetch-Site": "same-origin"})
    assert r.status == 200, r


def test_viewer_reads_everything_and_changes_nothing(idsync_bin, server):
    admin = signed_in(server, idsync_bin)
    conn = uniq("c")
    assert admin.call("POST", "/api/v1/connections", {"name": conn}).status == 201
    viewer = signed_in(server, idsync_bin, role="viewer")
    for path in ("/api/v1/connections", f"/api/v1/connections/{conn}", "/api/v1/directories",
                 "/api/v1/admin-users", "/api/v1/audit", "/api/v1/directories/users/users"):
        assert viewer.call("GET", path).status == 200, path
    for method, path, body in [("POST", "/api/v1/connections", {"name": uniq("c")}),
                               ("POST", f"/api/v1/connections/{conn}/disable", None),
                               ("POST", f"/api/v1/connections/{conn}/rotate-token", {}),
                               ("DELETE", f"/api/v1/connections/{conn}", None),
                               ("POST", "/api/v1/admin-users", {"name": uniq("u")}),
                               ("POST", f"/api/v1/admin-users/{admin.name}/reset-password", None),
                               ("DELETE", f"/api/v1/admin-users/{admin.name}", None),
                               ("PUT", "/api/v1/directories/users/custom-attributes",
                                {"custom_attributes": []}),
                               ("POST", "/api/v1/directories", {"name": uniq("d")})]:
        r = viewer.call(method, path, body)
        assert r.status == 403 and "viewer" in r.json["error"]["message"], (method, path, r)
    detail = admin.call("GET", f"/api/v1/connections/{conn}").json
    assert detail["enabled"] is True and len(detail["tokens"]) == 1
    # A viewer may change their own password (it is their credential, not configuration).
    assert viewer.change_password(viewer.password, viewer.password + "-2").status == 200


def test_signed_out_page_loads_do_not_use_up_the_allowance(idsync_bin, tmp_path):
    # The application asks /console/api/session on every load; without a cookie that is not a
    # failed authentication, so reloading the sign-in page never throttles the address.
    data = str(tmp_path)
    srv = start_server(idsync_bin, data, ("--auth-failures-per-address", "3"))
    try:
        name, otp = add_user(idsync_bin, data)
        anon = Browser(srv)
        for _ in range(10):
            assert anon.call("GET", "/console/api/session").status == 401
        # A session that has ended is counted once, and the answer drops the cookie.
        r = anon.call("GET", "/console/api/session", cookie="idsync_session=idsync_session_old")
        assert r.status == 401 and "max-age=0" in r.headers["set-cookie"].lower(), r
        assert anon.login(name, otp).status == 200
    finally:
        assert srv.stop(signal.SIGTERM) == 0


def test_logout_ends_the_session(idsync_bin, server):
    b = signed_in(server, idsync_bin)
    stale_cookie = b.cookie
    r = b.call("POST", "/console/api/logout")
    assert r.status == 204, r
    assert "max-age=0" in r.headers["set-cookie"].lower()
    assert_security_headers(r)
    # The id the browser held (or a copy of it) opens nothing any more.
    assert b.call("GET", "/console/api/session", cookie=stale_cookie).status == 401
    assert b.call("GET", "/api/v1/connections", cookie=stale_cookie).status == 401


def test_removed_user_and_reset_password_end_sessions(idsync_bin, server):
    removed = signed_in(server, idsync_bin)
    assert removed.call("GET", "/api/v1/connections").status == 200
    r = run_cli(idsync_bin, "admin-user", "remove", removed.name, "--data", server.data_dir)
    assert r.returncode == 0, r.stderr  # by another process: the CLI
    assert removed.call("GET", "/api/v1/connections").status == 401
    assert removed.call("GET", "/console/api/session").status == 401

    reset = signed_in(server, idsync_bin)
    admin = signed_in(server, idsync_bin)
    assert admin.call("POST", f"/api/v1/admin-users/{reset.name}/reset-password").status == 200
    assert reset.call("GET", "/console/api/session").status == 401
    assert admin.call("GET", "/console/api/session").status == 200


def test_password_change_ends_the_users_other_sessions(idsync_bin, server):
    first = signed_in(server, idsync_bin)
    second = Browser(server)
    assert second.login(first.name, first.password).status == 200
    assert first.change_password(first.password, first.password + "-new").status == 200
    assert first.call("GET", "/console/api/session").status == 200
    assert second.call("GET", "/console/api/session").status == 401


def test_idle_timeout_and_lifetime(idsync_bin, tmp_path):
    data = str(tmp_path)
    srv = start_server(idsync_bin, data, NO_RATE_LIMITS + ("--console-idle-timeout", "2s",
                                                           "--console-session-lifetime", "1h"))
    try:
        b = signed_in(srv, idsync_bin)
        assert b.call("GET", "/console/api/session").status == 200
        # Idle for longer than the timeout: the next request finds the session over. (An
        # end-to-end wait of a few seconds; the rule itself is a comparison of two times.)
        time.sleep(2.5)
        assert b.call("GET", "/console/api/session").status == 401
    finally:
        assert srv.stop(signal.SIGTERM) == 0
    bad = run_cli(idsync_bin, "serve", "--data", data, "--console-idle-timeout", "soon")
    assert bad.returncode == 2 and "--console-idle-timeout" in bad.stderr, bad.stderr


def test_failed_sign_ins_are_throttled_per_address_and_per_user(idsync_bin, tmp_path):
    data = str(tmp_path)
    srv = start_server(idsync_bin, data, ("--auth-failures-per-address", "5"))
    try:
        name, otp = add_user(idsync_bin, data)
        b = Browser(srv)
        statuses = [b.login(name, f"wrong-{i}").status for i in range(5)]
        assert statuses == [401] * 5, statuses
        r = b.login(name, f"wrong-6")
        assert r.status == 429 and int(r.headers["retry-after"]) >= 1, r
        assert_security_headers(r)
        # Past the allowance even the right password is refused, without being checked.
        r = b.login(name, otp)
        assert r.status == 429, r
        # The same address is throttled on the admin API too (one allowance for all APIs).
        assert http_request(srv.url, "GET", "/api/v1/connections").status == 429
        # Refused sign-ins are audited with the name tried, never the password.
        log = cli_json(idsync_bin, "log", "--data", data, "--json")
        refused = [(r["status"], r["actor"]) for r in log
                   if r["operation"] == "console.login" and r["resource_id"] == name]
        assert refused.count((401, "console")) == 5 and (429, "console") in refused, refused
        assert not any("wrong-" in json.dumps(r) or otp in json.dumps(r) for r in log)
    finally:
        assert srv.stop(signal.SIGTERM) == 0
    # Per user: failures for one user count wherever they come from. Each address fails once
    # (far below its allowance), yet the user is throttled after its allowance; another user
    # from a fresh address is not.
    srv = start_server(idsync_bin, data, ("--auth-failures-per-address", "3"))
    try:
        other, other_otp = add_user(idsync_bin, data)
        statuses = [login_from(srv.url, f"127.0.0.{10 + i}", name, "wrong") for i in range(3)]
        assert statuses == [401, 401, 401], statuses
        assert login_from(srv.url, "127.0.0.20", name, otp) == 429
        assert login_from(srv.url, "127.0.0.21", other, other_otp) == 200
    finally:
        assert srv.stop(signal.SIGTERM) == 0


def test_no_secret_in_clear_in_the_data_folder_or_log(idsync_bin, tmp_path):
    data = str(tmp_path)
    srv = start_server(idsync_bin, data, NO_RATE_LIMITS)
    try:
        name, otp = add_user(idsync_bin, data)
        b = Browser(srv)
        assert b.login(name, otp).status == 200
        new = "a-secret-" + uniq("pw")
        assert b.change_password(otp, new).status == 200
        session_id = b.cookie.split("=", 1)[1]
        made = b.call("POST", "/api/v1/connections", {"name": uniq("c")}).json
        token = made["token"]
        stderr = srv.stderr_text()
    finally:
        assert srv.stop(signal.SIGTERM) == 0
    secrets = [otp, new, session_id, token, b.csrf]
    for path in glob.glob(os.path.join(data, "*")):
        with open(path, "rb") as f:
            content = f.read()
        for s in secrets:
            assert s.encode() not in content, f"{s[:8]}... in clear in {path}"
    for s in secrets:
        assert s not in stderr


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
                  if isinstance(op, dict) and "console" in op.get("tags", [])}
        assert not sorted(tagged - seen), f"operations never answered 2xx: {tagged - seen}"
