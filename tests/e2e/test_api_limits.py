"""Limits on the admin API (/api/v1) and the read API (/directory/v2), issue 5: the same policy as
SCIM (test_limits.py), from the one set of limits the three APIs share.

- Failed authentication (no token, an unknown one, a token of another kind) is counted per client
  address, the three APIs together; past 10 in a minute such requests get 429 with Retry-After,
  while a request with a valid token, from the same address, is served at once.
- Rate limits per admin/read token (--rate-per-api-token) and per client address
  (--rate-per-address, shared with SCIM): 429 with Retry-After, then served again after waiting.
- The change feed's long poll costs one request however long it waits.

Every server is started per test on its own data folder; 429 answers of the admin API are checked
against its OpenAPI document, those of the read API are SCIM errors.
"""

import http.client
import time

from conftest import (
    Resp,
    Scim,
    add_connection,
    assert_error,
    assert_list_response,
    cli_json,
    uniq,
)
from test_admin_api import _check, _load_openapi, _templates, assert_api_error
from test_limits import SOCK_TIMEOUT, assert_retry_after, serving

ADMIN = "/api/v1"
READ = "/directory/v2/users"  # the directory every data folder starts with


def admin_token(idsync_bin, srv):
    return cli_json(idsync_bin, "admin-token", "add", uniq("admin"), "--data", srv.data_dir,
                    "--json")["token"]


def read_token(idsync_bin, srv, directory="users"):
    return cli_json(idsync_bin, "read-token", "add", uniq("app"), "--directory", directory,
                    "--data", srv.data_dir, "--json")["token"]


def get(srv, path, token=None):
    """One GET on a connection of its own."""
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=SOCK_TIMEOUT)
    try:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        c.request("GET", path, headers=headers)
        r = c.getresponse()
        header_list = [(k.lower(), v) for k, v in r.getheaders()]
        return Resp(r.status, dict(header_list), r.read(), header_list)
    finally:
        c.close()


def burst(srv, path, token, n):
    """n GETs back to back on one keep-alive connection; returns [Resp]."""
    out = []
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=SOCK_TIMEOUT)
    try:
        for _ in range(n):
            c.request("GET", path, headers={"Authorization": f"Bearer {token}"})
            r = c.getresponse()
            header_list = [(k.lower(), v) for k, v in r.getheaders()]
            out.append(Resp(r.status, dict(header_list), r.read(), header_list))
    finally:
        c.close()
    return out


def assert_matches_openapi(path, resp):
    doc = _load_openapi()
    _, problems = _check(doc, _templates(doc), "GET", path, None, resp)
    assert not problems, problems


def assert_admin_429(path, resp):
    assert_api_error(resp, 429, "rate_limited")
    assert_matches_openapi(path, resp)
    return assert_retry_after(resp.headers)


def assert_read_429(resp):
    assert_error(resp, 429)
    return assert_retry_after(resp.headers)


def limited(results):
    """The 429s of a burst, after checking it holds only 200s and 429s, 200s first."""
    statuses = [r.status for r in results]
    assert 429 in statuses and set(statuses) <= {200, 429}, statuses
    assert statuses[0] == 200, statuses
    return [r for r in results if r.status == 429]


def served_within(srv, path, token, seconds):
    deadline = time.monotonic() + seconds
    while True:
        r = get(srv, path, token)
        if r.status == 200 or time.monotonic() > deadline:
            return r
        time.sleep(0.1)


# --------------------------------------------------------------------------- failed authentication


def test_admin_failed_auth_throttled_valid_token_still_served(idsync_bin, tmp_path):
    with serving(idsync_bin, tmp_path) as srv:
        good = admin_token(idsync_bin, srv)
        reader = read_token(idsync_bin, srv)
        scim = add_connection(idsync_bin, srv.data_dir)
        path = f"{ADMIN}/directories"
        # No token, unknown admin tokens, and a SCIM token (the wrong kind) all fail.
        attempts = [None, scim["token"]] + [
            f"idsync_admin_wrong{i:02d}{'A' * 30}" for i in range(12)]
        statuses, throttled = [], None
        for token in attempts:
            r = get(srv, path, token)
            statuses.append(r.status)
            if r.status == 401:
                assert_api_error(r, 401, "unauthorized")
                assert_matches_openapi(path, r)
            else:
                throttled = r
        assert statuses[:10] == [401] * 10, statuses
        assert set(statuses[10:]) == {429}, statuses
        assert_admin_429(path, throttled)
        # The valid admin token from the same address is served at once.
        t0 = time.monotonic()
        r = get(srv, path, good)
        assert r.status == 200, r
        assert time.monotonic() - t0 < 2.0
        # A read token is a valid credential of another kind: still 403, not counted.
        assert_api_error(get(srv, path, reader), 403, "forbidden")
        # The allowance is the address's, whichever API: a bad SCIM token is throttled too,
        # while the connection's own token works.
        assert_error(Scim(srv.scim_base, "idsync_scim_still_wrong").get("/Users"), 429)
        assert Scim(srv.scim_base, scim["token"]).get("/Users").status == 200
        # ...and the attacker is still throttled after all that.
        assert_admin_429(path, get(srv, path, "idsync_admin_still_wrong"))


def test_read_api_failed_auth_throttled_valid_token_still_served(idsync_bin, tmp_path):
    with serving(idsync_bin, tmp_path) as srv:
        good = read_token(idsync_bin, srv)
        other_directory = read_token(idsync_bin, srv, "customers")  # exists from the start
        admin = admin_token(idsync_bin, srv)
        scim = add_connection(idsync_bin, srv.data_dir)
        path = f"{READ}/Users"
        attempts = [None, scim["token"], "not-even-a-token"] + [
            f"idsync_read_wrong{i:02d}{'A' * 30}" for i in range(11)]
        statuses, throttled = [], None
        for token in attempts:
            r = get(srv, path, token)
            statuses.append(r.status)
            if r.status == 401:
                assert_error(r, 401)
            else:
                throttled = r
        assert statuses[:10] == [401] * 10, statuses
        assert set(statuses[10:]) == {429}, statuses
        assert_read_429(throttled)
        t0 = time.monotonic()
        assert_list_response(get(srv, path, good))
        assert_list_response(get(srv, path, admin))
        r = get(srv, f"{READ}/changes", good)
        assert r.status == 200 and "changes" in r.json, r
        assert time.monotonic() - t0 < 2.0
        # A read token of another directory is valid: still 403, not counted.
        assert_error(get(srv, path, other_directory), 403)
        assert_read_429(get(srv, path, "idsync_read_still_wrong"))


# --------------------------------------------------------------------------- rate limits


def test_admin_rate_per_token_429_then_recovers(idsync_bin, tmp_path):
    with serving(idsync_bin, tmp_path, "--rate-per-api-token", "5") as srv:
        a, b = admin_token(idsync_bin, srv), admin_token(idsync_bin, srv)
        path = f"{ADMIN}/directories"
        refused = limited(burst(srv, path, a, 30))
        retry = max(assert_admin_429(path, r) for r in refused)
        assert "too many requests for token" in refused[0].json["error"]["message"], refused[0]
        # Another admin token has its own bucket.
        assert get(srv, path, b).status == 200
        time.sleep(retry + 0.2)
        assert served_within(srv, path, a, 3).status == 200


def test_read_api_rate_per_token_429_then_recovers(idsync_bin, tmp_path):
    with serving(idsync_bin, tmp_path, "--rate-per-api-token", "5") as srv:
        app, admin = read_token(idsync_bin, srv), admin_token(idsync_bin, srv)
        path = f"{READ}/Users"
        retry = max(assert_read_429(r) for r in limited(burst(srv, path, app, 30)))
        # Another token (here an admin token) has its own bucket.
        assert_list_response(get(srv, path, admin))
        time.sleep(retry + 0.2)
        assert_list_response(served_within(srv, path, app, 3))


def test_rate_per_address_one_budget_for_all_three_apis(idsync_bin, tmp_path):
    # One request a second (burst 2): slow enough that the checks after the burst still find
    # the address over its budget on a busy machine.
    with serving(idsync_bin, tmp_path, "--rate-per-address", "1") as srv:
        admin, app = admin_token(idsync_bin, srv), read_token(idsync_bin, srv)
        scim = Scim(srv.scim_base, add_connection(idsync_bin, srv.data_dir)["token"])
        path = f"{ADMIN}/directories"
        retry = max(assert_admin_429(path, r) for r in limited(burst(srv, path, admin, 30)))
        # The address is over its budget on every API, whatever the token.
        assert_read_429(get(srv, f"{READ}/Users", app))
        assert_error(scim.get("/Users"), 429)
        time.sleep(retry + 0.2)
        assert_list_response(served_within(srv, f"{READ}/Users", app, 3))
        assert served_within(srv, path, admin, 3).status == 200


def test_long_polling_consumer_is_never_limited(idsync_bin, tmp_path):
    # Two requests a second per token: a consumer long-polling with wait=1 in a loop spends one
    # per wait, so it stays under the limit indefinitely; a short poll loop would not.
    with serving(idsync_bin, tmp_path, "--rate-per-api-token", "2") as srv:
        app = read_token(idsync_bin, srv)
        since, polls = 0, 0
        stop_at = time.monotonic() + 3.5
        while time.monotonic() < stop_at:
            r = get(srv, f"{READ}/changes?wait=1&since={since}", app)
            assert r.status == 200, (polls, r)
            since = r.json["next"]
            polls += 1
        assert polls >= 3
