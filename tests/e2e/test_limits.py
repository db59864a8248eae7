"""Limits and abuse (issue 5, "Hostile input and faults"): every case asserts the status code and
that the same server answers a normal request right after.

HTTP limits (413, 431, smuggling, slowloris, connection cap, pipelining, keep-alive), rate
limits per connection and per address, failed-authentication throttling, hostile JSON, hostile
filters (depth, length, SQL/LDAP metacharacters, Unicode case folding), tokens kept out of logs
and data files, data file modes, and overload. Servers with special options are started per test
on their own data folder; every socket has a timeout.
"""

import contextlib
import http.client
import json
import os
import re
import select
import signal
import socket
import stat
import threading
import time
import urllib.parse

import pytest

from conftest import (
    TEST_STORE,
    USER_URN,
    Scim,
    add_connection,
    assert_error,
    assert_list_response,
    new_user,
    raw_exchange,
    resources,
    run_cli,
    start_server,
    uniq,
)

SOCK_TIMEOUT = 10.0


# --------------------------------------------------------------------------- helpers


@contextlib.contextmanager
def serving(idsync_bin, tmp_path, *extra_args):
    """A server of its own with `extra_args`, on a fresh data folder; stopped (exit 0) after."""
    data = tmp_path / uniq("data")
    data.mkdir()
    srv = start_server(idsync_bin, str(data), list(extra_args))
    try:
        yield srv
    finally:
        if srv.alive():
            rc = srv.stop(signal.SIGTERM)
            assert rc == 0, f"serve exited {rc}; stderr: {srv.stderr_text()[-2000:]}"


def client_for(idsync_bin, srv):
    info = add_connection(idsync_bin, srv.data_dir)
    c = Scim(srv.scim_base, info["token"])
    c.conn = info
    return c


def assert_serves(srv, client, msg=""):
    """The server is alive and a normal authenticated request gets 200 (retried briefly, since a
    connection slot or rate token may take a moment to come back)."""
    assert srv.alive(), f"server died {msg}; stderr: {srv.stderr_text()[-2000:]}"
    deadline = time.monotonic() + 5
    while True:
        try:
            r = client.get("/Users", params={"count": 1})
            if r.status == 200:
                assert_list_response(r)
                return
        except OSError as e:
            r = e
        if time.monotonic() > deadline:
            raise AssertionError(f"no normal 200 after {msg}: {r!r}")
        time.sleep(0.1)


def connect(srv):
    return socket.create_connection(("127.0.0.1", srv.port), timeout=SOCK_TIMEOUT)


def read_response(sock, buf=b""):
    """Reads one Content-Length-framed response. Returns (status, headers, body, rest)."""
    while b"\r\n\r\n" not in buf:
        part = sock.recv(65536)
        if not part:
            raise ConnectionError(f"closed before a full head: {buf[:200]!r}")
        buf += part
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        part = sock.recv(65536)
        if not part:
            raise ConnectionError("closed inside a body")
        rest += part
    return status, headers, rest[:length], rest[length:]


def closed_or_refused(sock, wait):
    """True if within `wait` seconds the server closed `sock` or answered it (503); None-status."""
    readable, _, _ = select.select([sock], [], [], wait)
    if not readable:
        return None
    try:
        data = sock.recv(4096)
    except (ConnectionResetError, socket.timeout):
        return "reset"
    if not data:
        return "closed"
    return data.split(b"\r\n", 1)[0].decode("latin-1")


def assert_retry_after(resp_headers):
    value = resp_headers.get("retry-after")
    assert value is not None and re.fullmatch(r"[0-9]+", value), f"Retry-After {value!r}"
    assert int(value) >= 1, value
    return int(value)


def head_for(token, method="GET", path="/scim/v2/Users", extra=""):
    return (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {token}\r\n{extra}").encode()


# --------------------------------------------------------------------------- HTTP limits


def test_body_over_limit_413_then_serves(server, scim):
    body = b'{"schemas":["%s"],"userName":"big","title":"' % USER_URN.encode()
    body += b"x" * (2 * 1024 * 1024 + 10) + b'"}'
    head = head_for(scim.token, "POST") + (
        f"Content-Type: application/scim+json\r\nContent-Length: {len(body)}\r\n\r\n").encode()
    status, _, _ = raw_exchange(server.url, head, body)
    assert status == 413
    assert_serves(server, scim, "413 (Content-Length)")
    # The same without a declared length: a chunked body that grows past the limit.
    chunk = b"y" * 65536
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(40)) + b"0\r\n\r\n"
    head = head_for(scim.token, "POST") + (
        b"Content-Type: application/scim+json\r\nTransfer-Encoding: chunked\r\n\r\n")
    status, _, _ = raw_exchange(server.url, head, chunked)
    assert status == 413
    assert scim.filter("/Users", 'userName eq "big"')["totalResults"] == 0
    assert_serves(server, scim, "413 (chunked)")


# Beast 1.74's header_limit bounds the bytes not yet consumed by one parse call, not the whole
# head, so the server also checks the whole head's size (fixed after this test found it).
@pytest.mark.parametrize("shape", [
    "one_big_header",
    "many_small_headers",
    "twenty_1k_headers",
])
def test_header_over_16k_431_then_serves(server, scim, shape):
    if shape == "one_big_header":
        extra = f"X-Big: {'a' * (16 * 1024 + 1)}\r\n"
    elif shape == "many_small_headers":
        extra = "".join(f"X-H{i}: {'b' * 100}\r\n" for i in range(200))  # ~21 KiB
    else:
        extra = "".join(f"X-K{i}: {'k' * 1000}\r\n" for i in range(20))  # ~20 KiB
    status, _, _ = raw_exchange(server.url, head_for(scim.token, extra=extra + "\r\n"))
    assert status == 431
    assert_serves(server, scim, "431")


def test_header_just_under_limit_is_served(server, scim):
    # The limit is the head (16 KiB), not something smaller.
    extra = f"X-Pad: {'p' * (12 * 1024)}\r\nConnection: close\r\n\r\n"
    status, _, _ = raw_exchange(server.url, head_for(scim.token, extra=extra))
    assert status == 200


@pytest.mark.parametrize("framing", [
    "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
    "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
    "Content-Length: 5\r\nTransfer-Encoding: gzip, chunked\r\n",
])
def test_content_length_and_transfer_encoding_400_then_serves(server, scim, framing):
    # Classic request smuggling: the second request must never be executed.
    smuggled = (f"GET /scim/v2/Users/nope HTTP/1.1\r\nHost: x\r\n"
                f"Authorization: Bearer {scim.token}\r\n\r\n").encode()
    head = head_for(scim.token, "POST", extra=framing + "\r\n")
    status, headers, body = raw_exchange(server.url, head, b"0\r\n\r\n" + smuggled)
    assert status == 400, body
    assert_serves(server, scim, "CL+TE")


@pytest.mark.parametrize("coding", [
    "Transfer-Encoding: gzip\r\n",
    "Transfer-Encoding: gzip, chunked\r\n",  # would decode as chunked, ignoring gzip
    "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n",
])
def test_unsupported_transfer_coding_400(server, scim, coding):
    head = head_for(scim.token, "POST", extra=coding + "\r\n")
    status, _, _ = raw_exchange(server.url, head, b"0\r\n\r\n")
    assert status == 400
    assert_serves(server, scim, "TE " + coding)


# Issue 13 item 6: requests RFC 9112/9110 require refusing. Each is sent raw (no client library
# would send them), the user it would create must not exist, and the server serves after.
@pytest.mark.parametrize("head", [
    "POST /scim/v2/Users HTTP/1.1\r\n",                              # §3.2: no Host
    "POST /scim/v2/Users HTTP/1.1\r\nHost: a\r\nHost: b\r\n",        # §3.2: two Host
    "POST /scim/v2/Users HTTP/1.1\r\nHost: a b\r\n",                 # §3.2: invalid Host
    "POST /scim/v2/Users HTTP/1.1\r\nHost: x\r\nX-Note: one\r\n two\r\n",  # §5.2: obs-fold
    "POST /scim/v2/Users HTTP/1.1\r\n Host: x\r\n",                  # §2.2: leading whitespace
    "POST /scim/v2/Users HTTP/1.1\r\nHost: x\r\nNo colon here\r\n",  # §5.1: no colon
], ids=["no_host", "two_hosts", "bad_host", "obs_fold", "leading_space", "no_colon"])
def test_head_the_rfc_refuses_400_then_serves(server, scim, head):
    name = uniq("head") + "@example.com"
    body = json.dumps(new_user(userName=name)).encode()
    wire = (head + f"Authorization: Bearer {scim.token}\r\nContent-Type: application/scim+json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    status, _, resp = raw_exchange(server.url, wire, body)
    assert status == 400, resp
    assert scim.filter("/Users", f'userName eq "{name}"')["totalResults"] == 0
    assert_serves(server, scim, "400 for " + head)


def test_http10_without_host_is_served(server, scim):
    # §3.2 requires Host of HTTP/1.1 requests only.
    wire = (f"GET /scim/v2/Users?count=1 HTTP/1.0\r\nAuthorization: Bearer {scim.token}\r\n\r\n").encode()
    status, _, _ = raw_exchange(server.url, wire)
    assert status == 200


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br", "identity, gzip"])
def test_unsupported_content_encoding_415_then_serves(server, scim, coding):
    # RFC 9110 §8.4/§15.5.16: the server decodes no content coding, so a coded body is refused
    # (and not read as JSON), with Accept-Encoding naming what would have been accepted.
    name = uniq("coded") + "@example.com"
    body = json.dumps(new_user(userName=name)).encode()
    wire = head_for(scim.token, "POST", extra=(
        f"Content-Type: application/scim+json\r\nContent-Encoding: {coding}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"))
    status, headers, _ = raw_exchange(server.url, wire, body)
    assert status == 415
    assert headers.get("accept-encoding") == "identity", headers
    assert scim.filter("/Users", f'userName eq "{name}"')["totalResults"] == 0
    assert_serves(server, scim, "415 for " + coding)
    # "identity" is no coding at all, so it is accepted.
    r = scim.post("/Users", new_user(userName=name), headers={"Content-Encoding": "identity"})
    assert r.status == 201, r


@pytest.mark.parametrize("schemas", [None, [], ["urn:ietf:params:scim:api:messages:2.0:PatchOp"]],
                         ids=["absent", "empty", "other_message"])
def test_bulk_without_its_schemas_400_invalid_syntax(server, scim, schemas):
    name = uniq("bulk") + "@example.com"
    body = {"Operations": [{"method": "POST", "path": "/Users", "bulkId": "a",
                            "data": new_user(userName=name)}]}
    if schemas is not None:
        body["schemas"] = schemas
    assert_error(scim.post("/Bulk", body), 400, "invalidSyntax")
    assert scim.filter("/Users", f'userName eq "{name}"')["totalResults"] == 0
    assert_serves(server, scim, "Bulk without schemas")


def test_pipelining_three_requests_one_write_in_order(server, scim):
    ids = [scim.create_user()["id"] for _ in range(3)]
    wire = b"".join(
        head_for(scim.token, path=f"/scim/v2/Users/{uid}", extra=f"X-Request-Id: pipe-{i}\r\n\r\n")
        for i, uid in enumerate(ids))
    with connect(server) as s:
        s.sendall(wire)
        rest = b""
        for i, uid in enumerate(ids):
            status, headers, body, rest = read_response(s, rest)
            assert status == 200, body
            assert headers.get("x-request-id") == f"pipe-{i}"
            assert json.loads(body)["id"] == uid
        assert rest == b""
        # And the connection is still usable after the pipelined batch.
        s.sendall(head_for(scim.token, path=f"/scim/v2/Users/{ids[0]}", extra="\r\n"))
        status, _, body, _ = read_response(s)
        assert status == 200 and json.loads(body)["id"] == ids[0]
    assert_serves(server, scim, "pipelining")


def test_pipelined_write_and_reads_keep_order(server, scim):
    # A POST (which waits for a group commit) followed by a GET of the list: the GET's answer
    # must come second and must already see the user.
    name = uniq("pipe") + "@example.com"
    body = json.dumps(new_user(userName=name)).encode()
    post = head_for(scim.token, "POST", extra=(f"Content-Type: application/scim+json\r\n"
                                               f"Content-Length: {len(body)}\r\n\r\n")) + body
    flt = urllib.parse.quote(f'userName eq "{name}"', safe="")
    get = head_for(scim.token, path=f"/scim/v2/Users?filter={flt}", extra="\r\n")
    with connect(server) as s:
        s.sendall(post + get)
        status, _, _, rest = read_response(s)
        assert status == 201
        status, _, body2, _ = read_response(s, rest)
        assert status == 200 and json.loads(body2)["totalResults"] == 1


def test_keep_alive_reuses_one_connection(server, scim):
    c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=SOCK_TIMEOUT)
    auth = {"Authorization": f"Bearer {scim.token}", "Content-Type": "application/scim+json"}
    try:
        c.connect()
        first_sock = c.sock
        local = c.sock.getsockname()
        statuses = []
        for method, path, body in [
            ("GET", "/scim/v2/Users", None),
            ("POST", "/scim/v2/Users", json.dumps(new_user())),
            ("GET", "/scim/v2/Users/does-not-exist", None),  # an error keeps the connection
            ("POST", "/scim/v2/Users", "{not json"),
            ("GET", "/scim/v2/ServiceProviderConfig", None),
        ]:
            c.request(method, path, body=body, headers=auth)
            r = c.getresponse()
            r.read()
            statuses.append(r.status)
            assert c.sock is first_sock and c.sock.getsockname() == local, "connection not reused"
        assert statuses == [200, 201, 404, 400, 200]
    finally:
        c.close()
    assert_serves(server, scim, "keep-alive")


def test_slowloris_cut_off_while_normal_client_served(idsync_bin, tmp_path):
    with serving(idsync_bin, tmp_path, "--header-timeout", "1") as srv:
        client = client_for(idsync_bin, srv)
        s = connect(srv)
        try:
            s.sendall(b"GET /scim/v2/Users HTTP/1.1\r\n")
            start = time.monotonic()
            outcome, served_meanwhile = None, 0
            trickle = iter(b"Host: 127.0.0.1\r\nX-Slow: " + b"z" * 100)
            while time.monotonic() - start < 6:
                try:
                    s.send(bytes([next(trickle)]))
                except (BrokenPipeError, ConnectionResetError):
                    outcome = "reset"
                    break
                if client.get("/Users").status == 200:  # the server works meanwhile
                    served_meanwhile += 1
                outcome = closed_or_refused(s, 0.5)
                if outcome is not None:
                    break
            elapsed = time.monotonic() - start
        finally:
            s.close()
        assert outcome is not None, "slow client was never cut off"
        # Cut off (closed, reset, or answered 408) after about the header timeout.
        assert outcome in ("closed", "reset") or " 408" in outcome, outcome
        assert elapsed < 3.5, elapsed
        assert served_meanwhile >= 1
        assert_serves(srv, client, "slowloris")


def test_connection_cap_refuses_extra_and_recovers(idsync_bin, tmp_path):
    with serving(idsync_bin, tmp_path, "--max-connections", "20") as srv:
        client = client_for(idsync_bin, srv)
        socks = []
        try:
            for _ in range(40):
                socks.append(connect(srv))
            deadline = time.monotonic() + 3
            refused = {}
            while time.monotonic() < deadline and len(refused) < 20:
                pending = [s for s in socks if s not in refused]
                readable, _, _ = select.select(pending, [], [], 0.2)
                for s in readable:
                    refused[s] = closed_or_refused(s, 0)
            assert len(refused) >= 20, f"only {len(refused)} of 40 refused: {set(refused.values())}"
            for outcome in refused.values():
                assert outcome in ("closed", "reset") or " 503" in outcome, outcome
            held = [s for s in socks if s not in refused]
            assert held, "every connection was refused, the cap let none through"
            # The held ones are real: one of them is served.
            held[0].sendall(head_for(client.token, extra="\r\n"))
            status, _, _, _ = read_response(held[0])
            assert status == 200
            # While the cap is reached, a new client is refused too.
            with connect(srv) as extra:
                outcome = closed_or_refused(extra, 3)
                assert outcome is not None and (outcome in ("closed", "reset") or " 503" in outcome)
        finally:
            for s in socks:
                s.close()
        assert_serves(srv, client, "connection cap")


# --------------------------------------------------------------------------- rate limits


def burst(srv, token, n):
    """n requests back to back on one keep-alive connection; returns [(status, headers, body)]."""
    out = []
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=SOCK_TIMEOUT)
    try:
        for _ in range(n):
            c.request("GET", "/scim/v2/Users?count=1", headers={"Authorization": f"Bearer {token}"})
            r = c.getresponse()
            body = r.read()
            out.append((r.status, {k.lower(): v for k, v in r.getheaders()}, body))
    finally:
        c.close()
    return out


def assert_429s(results):
    limited = [r for r in results if r[0] == 429]
    assert limited, f"no 429 in {[r[0] for r in results]}"
    assert {r[0] for r in results} <= {200, 429}, [r[0] for r in results]
    retry = 1
    for _, headers, body in limited:
        retry = max(retry, assert_retry_after(headers))
        err = json.loads(body)
        assert err.get("status") == "429", err
        assert "urn:ietf:params:scim:api:messages:2.0:Error" in err.get("schemas", []), err
        assert headers.get("content-type", "").startswith("application/scim+json")
    return retry


def test_rate_per_connection_429_other_connection_unaffected(idsync_bin, tmp_path):
    # One request a second (burst 2): at 5 a second a token came back every 200 ms, and under
    # ASan with two test processes per core the request after the burst sometimes took longer.
    with serving(idsync_bin, tmp_path, "--rate-per-connection", "1",
                 "--rate-per-address", "1000") as srv:
        a = client_for(idsync_bin, srv)
        b = client_for(idsync_bin, srv)
        results = burst(srv, a.token, 30)
        retry = assert_429s(results)
        assert results[0][0] == 200
        # `a` is still limited right after its burst (asked first), and the other connection's
        # token, same address, same moment, is unaffected.
        assert a.get("/Users").status == 429
        assert b.get("/Users").status == 200
        time.sleep(retry + 0.2)
        assert a.get("/Users").status == 200
        assert_serves(srv, b, "per-connection rate limit")


def test_rate_per_address_429_whatever_the_token(idsync_bin, tmp_path):
    with serving(idsync_bin, tmp_path, "--rate-per-address", "1") as srv:  # as above
        a = client_for(idsync_bin, srv)
        b = client_for(idsync_bin, srv)
        results = burst(srv, a.token, 30)
        retry = assert_429s(results)
        r = b.get("/Users")  # another token from the same address is limited as well
        assert_error(r, 429)
        assert_retry_after(r.headers)
        time.sleep(retry + 0.2)
        assert_serves(srv, b, "per-address rate limit")


def test_failed_auth_throttled_valid_token_not_slowed(idsync_bin, tmp_path):
    with serving(idsync_bin, tmp_path) as srv:
        good = client_for(idsync_bin, srv)
        statuses, throttled = [], None
        for i in range(14):
            bad = Scim(srv.scim_base, f"idsync_scim_wrong{i:02d}{'A' * 30}")
            r = bad.get("/Users")
            statuses.append(r.status)
            if r.status == 429:
                throttled = r
        assert statuses[:10] == [401] * 10, statuses
        assert set(statuses[10:]) == {429}, statuses
        assert_error(throttled, 429)
        assert_retry_after(throttled.headers)
        # No token at all counts as failed authentication too.
        assert Scim(srv.scim_base, None).get("/Users").status in (401, 429)
        # The legitimate client from the same address is served at once.
        t0 = time.monotonic()
        assert good.get("/Users").status == 200
        assert good.create_user()["id"]
        assert time.monotonic() - t0 < 2.0
        # ...and the attacker is still throttled after that.
        assert Scim(srv.scim_base, "idsync_scim_still_wrong").get("/Users").status == 429
        assert_serves(srv, good, "failed auth throttling")


# --------------------------------------------------------------------------- hostile JSON


def user_raw(fragment):
    """A user body (bytes) with `fragment` (bytes) spliced in as extra members."""
    return (b'{"schemas": ["' + USER_URN.encode() + b'"], "userName": "'
            + uniq("hostile").encode() + b'@example.com", ' + fragment + b"}")


HOSTILE_JSON = {
    "invalid_utf8_key": user_raw(b'"display\xc3Name": "x"'),
    "overlong_utf8": user_raw(b'"displayName": "\xc0\xaf"'),
    "utf8_encoded_surrogate": user_raw(b'"displayName": "\xed\xa0\x80"'),
    "truncated_utf8": user_raw(b'"displayName": "\xe2\x82"'),
    "lone_high_surrogate": user_raw(b'"displayName": "\\ud800"'),
    "lone_low_surrogate": user_raw(b'"displayName": "x\\udc00y"'),
    "surrogate_pair_reversed": user_raw(b'"displayName": "\\udc00\\ud800"'),
    "duplicate_keys": user_raw(b'"displayName": "a", "displayName": "b"'),
    "duplicate_nested_keys": user_raw(b'"name": {"givenName": "a", "givenName": "b"}'),
    "duplicate_username": (b'{"schemas": ["' + USER_URN.encode()
                           + b'"], "userName": "dup1@x", "userName": "dup2@x"}'),
    "nesting_10000_arrays": user_raw(b'"x": ' + b"[" * 10000 + b"]" * 10000),
    "nesting_10000_objects": user_raw(b'"x": ' + b'{"a":' * 10000 + b"1" + b"}" * 10000),
    "nesting_unclosed": user_raw(b'"x": ' + b"[" * 10000),
    "number_1e400": user_raw(b'"x": 1e400'),
    "number_minus_1e400": user_raw(b'"x": -1e400'),
    "number_20_digits": user_raw(b'"x": 99999999999999999999'),
    "number_huge_in_known_attr": user_raw(b'"name": {"givenName": 1e400}'),
    "nul_in_key": user_raw(b'"display\\u0000Name": "x"'),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_JSON))
def test_hostile_json_400_invalid_syntax_then_create_works(server, scim, case):
    r = scim.post("/Users", raw=HOSTILE_JSON[case])
    if case == "nul_in_key":
        # An escaped NUL is valid JSON; the key is then an unknown attribute (dropped) or refused.
        assert r.status in (201, 400), r
    else:
        assert_error(r, 400, "invalidSyntax")
    assert server.alive()
    scim.create_user()


def test_hostile_json_on_patch_and_put(server, scim):
    u = scim.create_user()
    for raw in (b'{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": '
                b'[{"op": "replace", "path": "displayName", "value": "\\ud800"}]}',
                b'{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": '
                b'[{"op": "replace", "op": "remove", "path": "displayName"}]}',
                b'{"Operations": ' + b"[" * 10000):
        assert_error(scim.patch(f"/Users/{u['id']}", raw=raw), 400, "invalidSyntax")
    assert_error(scim.put(f"/Users/{u['id']}", raw=user_raw(b'"x": 1e400')), 400, "invalidSyntax")
    assert scim.get(f"/Users/{u['id']}").json["displayName"] == u["displayName"]


# --------------------------------------------------------------------------- hostile filters


def test_filter_1000_nested_parentheses_400_quickly(server, scim):
    for flt in ("(" * 1000 + 'userName eq "a"' + ")" * 1000,
                "not (" * 1000 + 'userName eq "a"' + ")" * 1000,
                "emails[" * 1000 + 'value eq "a"' + "]" * 1000):
        t0 = time.monotonic()
        r = scim.get("/Users", params={"filter": flt})
        assert time.monotonic() - t0 < 2.0
        assert_error(r, 400, "invalidFilter")
    assert_serves(server, scim, "deep filter")


def test_filter_100kb(server, scim):
    flt = " or ".join(f'userName eq "{i:020d}"' for i in range(100 * 1024 // 36))
    assert len(flt) > 100 * 1000
    # In the URL the request head is over 16 KiB.
    q = urllib.parse.quote(flt, safe="")
    status, _, _ = raw_exchange(server.url, head_for(scim.token, path=f"/scim/v2/Users?filter={q}",
                                                     extra="\r\n"))
    assert status in (400, 414, 431), status
    assert_serves(server, scim, "100 KB filter in the URL")
    # In a .search body it reaches the filter parser, which refuses it by length.
    r = scim.post("/Users/.search", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                                     "filter": flt})
    assert_error(r, 400, "invalidFilter")
    assert_serves(server, scim, "100 KB filter in .search")


LITERAL_NAMES = [
    "x' OR '1'='1", "*)(uid=*", "a%", "_", "%", "a", "ab", "abc", "a%b", "b_c",
    "uid=*", "x", "back\\slash", "*", "a*", "); DROP TABLE resources; --",
]


@pytest.fixture
def literal_users(scim):
    ids = {}
    for name in LITERAL_NAMES:
        ids[name] = scim.create_user(userName=name, emails=None)["id"]
    return ids


@pytest.mark.parametrize("name", [
    "x' OR '1'='1", "*)(uid=*", "a%", "_", "%", "*", "a*", "back\\slash",
    "); DROP TABLE resources; --",
])
def test_metacharacters_in_filter_values_match_literally(server, scim, literal_users, name):
    for flt in (f"userName eq {json.dumps(name)}", f"userName EQ {json.dumps(name.upper())}"):
        body = scim.filter("/Users", flt)
        got = [u["id"] for u in resources(body)]
        assert got == [literal_users[name]], (flt, [u["userName"] for u in resources(body)])
    # Also via .search (the filter travels in JSON instead of the URL).
    r = scim.post("/Users/.search", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                                     "filter": f"userName eq {json.dumps(name)}"})
    assert r.status == 200 and [u["id"] for u in resources(r.json)] == [literal_users[name]]


@pytest.mark.parametrize("flt, expected", [
    ('userName co "%"', {"a%", "%", "a%b"}),
    ('userName sw "_"', {"_"}),
    ('userName co "_"', {"_", "b_c"}),
    ('userName sw "a%"', {"a%", "a%b"}),
    ('userName ew "*"', {"*", "a*", "uid=*", "*)(uid=*"}),
    ('userName sw "*"', {"*", "*)(uid=*"}),
    ('userName co "\'"', {"x' OR '1'='1"}),
    ('userName co "\\\\"', {"back\\slash"}),
    ('userName sw "a" and userName ew "b"', {"ab", "a%b"}),
])
def test_metacharacters_in_co_sw_ew_match_literally(scim, literal_users, flt, expected):
    body = scim.filter("/Users", flt)
    assert {u["userName"] for u in resources(body)} == expected, flt
    assert body["totalResults"] == len(expected)


UNICODE_USERS = ["ÄNNE@x", "anne@x", "straße@x", "ПРИВЕТ@x", "\u01c5emal@x", "Ωmega@x"]


@pytest.mark.parametrize("flt, expected", [
    ('userName eq "änne@x"', {"ÄNNE@x"}),
    ('userName eq "ÄNNE@X"', {"ÄNNE@x"}),
    ('userName eq "anne@x"', {"anne@x"}),
    ('userName co "änn"', {"ÄNNE@x"}),
    ('userName sw "Än"', {"ÄNNE@x"}),
    ('userName ew "NNE@X"', {"ÄNNE@x", "anne@x"}),
    ('userName eq "привет@X"', {"ПРИВЕТ@x"}),
    ('userName sw "при"', {"ПРИВЕТ@x"}),
    ('userName co "ВЕТ"', {"ПРИВЕТ@x"}),
    ('userName eq "STRASSE@x"', {"straße@x"}),
    ('userName eq "\u01c6emal@x"', {"\u01c5emal@x"}),  # titlecase DŽ folds to dž
    ('userName eq "\u01c4EMAL@X"', {"\u01c5emal@x"}),
    ('userName sw "ωM"', {"Ωmega@x"}),
])
def test_unicode_case_insensitive_filters(scim, flt, expected):
    for name in UNICODE_USERS:
        scim.create_user(userName=name, emails=None)
    body = scim.filter("/Users", flt)
    assert {u["userName"] for u in resources(body)} == expected, flt


def test_unicode_case_variant_username_conflicts(scim):
    scim.create_user(userName="ÄNNE@x", emails=None)
    assert_error(scim.post("/Users", new_user(userName="änne@X", emails=None)), 409, "uniqueness")


# --------------------------------------------------------------------------- tokens and files


def test_tokens_never_in_logs_or_data_files(idsync_bin, tmp_path):
    wrong = [f"idsync_scim_{uniq('wrong')}{'Q' * 20}", "idsync_scim_", "not-a-token-" + uniq("x")]
    with serving(idsync_bin, tmp_path) as srv:
        a = client_for(idsync_bin, srv)
        tokens = [a.token]
        u = a.create_user()
        a.patch_ops(f"/Users/{u['id']}", [{"op": "replace", "path": "displayName", "value": "P"}])
        assert_error(a.post("/Users", new_user(userName=u["userName"])), 409)
        for w in wrong:
            Scim(srv.scim_base, w).get("/Users")
            Scim(srv.scim_base, w).post("/Users", new_user())
            http_basic = Scim(srv.scim_base, None, default_headers={"Authorization": f"Basic {w}"})
            http_basic.get("/Users")
        r = run_cli(idsync_bin, "connection", "rotate-token", a.conn["name"], "--data",
                    srv.data_dir, "--keep-old-for", "1h", "--json")
        assert r.returncode == 0, r.stderr
        new_token = re.search(r"idsync_scim_[A-Za-z0-9_\-]+", r.stdout).group(0)
        assert new_token != a.token
        tokens.append(new_token)
        b = Scim(srv.scim_base, new_token)
        assert b.get(f"/Users/{u['id']}").status == 200
        assert a.get(f"/Users/{u['id']}").status == 200  # old one still in its overlap
        b.delete(f"/Users/{u['id']}")
        # Token-like text in other headers and in the query is not echoed into logs either.
        b.get("/Users", params={"filter": f'userName eq "{a.token}"'})
        r = run_cli(idsync_bin, "connection", "rotate-token", a.conn["name"], "--data", srv.data_dir)
        assert r.returncode == 0, r.stderr
        tokens.append(re.search(r"idsync_scim_[A-Za-z0-9_\-]+", r.stdout).group(0))
        log_json = run_cli(idsync_bin, "log", "--data", srv.data_dir, "--json")
        log_text = run_cli(idsync_bin, "log", "--data", srv.data_dir)
        assert log_json.returncode == 0 and log_text.returncode == 0
        assert log_json.stdout.strip(), "the audit log should hold the writes above"
        show = run_cli(idsync_bin, "connection", "show", a.conn["name"], "--data", srv.data_dir,
                       "--json")
        listing = run_cli(idsync_bin, "connection", "list", "--data", srv.data_dir, "--json")
        files_while_running = read_data_files(srv.data_dir)
    stderr = srv.stderr_text()
    files_after = read_data_files(srv.data_dir)
    haystacks = {
        "serve stderr": stderr.encode(),
        "serve stdout": "\n".join(srv.stdout_lines).encode(),
        "idsync log --json": log_json.stdout.encode() + log_json.stderr.encode(),
        "idsync log": log_text.stdout.encode() + log_text.stderr.encode(),
        "connection show/list": (show.stdout + show.stderr + listing.stdout).encode(),
    }
    haystacks.update({f"{k} (running)": v for k, v in files_while_running.items()})
    haystacks.update({f"{k} (stopped)": v for k, v in files_after.items()})
    needles = tokens + [w for w in wrong if len(w) > len("idsync_scim_")]
    for needle in needles:
        secret = needle[len("idsync_scim_"):] if needle.startswith("idsync_scim_") else needle
        for where, data in haystacks.items():
            for form in {needle, secret}:
                assert form.encode() not in data, f"token {needle[:16]}... found in {where}"


def read_data_files(data_dir):
    out = {}
    for root, _, names in os.walk(data_dir):
        for name in names:
            path = os.path.join(root, name)
            try:
                with open(path, "rb") as f:
                    out[os.path.relpath(path, data_dir)] = f.read()
            except FileNotFoundError:  # -shm/-wal removed while we walk
                pass
    return out


def test_data_files_owner_only_and_token_works(idsync_bin, tmp_path):
    with serving(idsync_bin, tmp_path) as srv:
        info = add_connection(idsync_bin, srv.data_dir)
        assert info["token"].startswith("idsync_scim_")
        c = Scim(srv.scim_base, info["token"])
        c.create_user()  # a write, so that -wal and -shm exist
        assert c.get("/Users").status == 200
        names = set(os.listdir(srv.data_dir))
        assert "server.json" in names, names
        if TEST_STORE == "sqlite":  # on PostgreSQL the database is not in the data folder
            assert {"idsync.db", "idsync.db-wal", "idsync.db-shm"} <= names, names
        for name in names:
            path = os.path.join(srv.data_dir, name)
            if os.path.isfile(path):
                mode = stat.S_IMODE(os.stat(path).st_mode)
                assert mode & 0o077 == 0, f"{name} has mode {oct(mode)}"
        assert_serves(srv, c, "mode check")
    for name in os.listdir(srv.data_dir):
        path = os.path.join(srv.data_dir, name)
        if os.path.isfile(path):
            assert stat.S_IMODE(os.stat(path).st_mode) & 0o077 == 0, name


def test_data_files_owner_only_under_permissive_umask(idsync_bin, tmp_path):
    # A umask of 000 must not make the database world-readable (files are created 0600).
    data = tmp_path / "umask-data"
    data.mkdir()
    old = os.umask(0)
    try:
        info = add_connection(idsync_bin, str(data))
        srv = start_server(idsync_bin, str(data))
    finally:
        os.umask(old)
    try:
        c = Scim(srv.scim_base, info["token"])
        c.create_user()
        for name in os.listdir(data):
            mode = stat.S_IMODE(os.stat(data / name).st_mode)
            assert mode & 0o077 == 0, f"{name} has mode {oct(mode)}"
        assert_serves(srv, c, "umask 0")
    finally:
        assert srv.stop() == 0


# --------------------------------------------------------------------------- overload


def test_overload_300_clients_200_429_503_then_recovers(idsync_bin, tmp_path):
    with serving(idsync_bin, tmp_path) as srv:
        client = client_for(idsync_bin, srv)
        for _ in range(20):
            client.create_user()
        statuses, missing_retry, errors = {}, [], []
        lock = threading.Lock()
        stop_at = time.monotonic() + 3.0
        start = threading.Barrier(301, timeout=30)

        def hammer():
            c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=SOCK_TIMEOUT)
            local = {}
            try:
                start.wait()
                while time.monotonic() < stop_at:
                    try:
                        c.request("GET", "/scim/v2/Users",
                                  headers={"Authorization": f"Bearer {client.token}"})
                        r = c.getresponse()
                        r.read()
                    except (http.client.RemoteDisconnected, ConnectionResetError,
                            BrokenPipeError) as e:
                        # Allowed only right after a 503/429 that closed the connection.
                        if not (local.get(503) or local.get(429)):
                            with lock:
                                errors.append(repr(e))
                        c.close()
                        continue
                    local[r.status] = local.get(r.status, 0) + 1
                    if r.status in (429, 503) and not r.getheader("Retry-After"):
                        with lock:
                            missing_retry.append(r.status)
                    if r.will_close:
                        c.close()
            except Exception as e:  # noqa: BLE001 - reported below
                with lock:
                    errors.append(repr(e))
            finally:
                c.close()
                with lock:
                    for k, v in local.items():
                        statuses[k] = statuses.get(k, 0) + v

        threads = [threading.Thread(target=hammer, daemon=True) for _ in range(300)]
        for t in threads:
            t.start()
        start.wait()
        for t in threads:
            t.join(30)
        assert not any(t.is_alive() for t in threads)
        assert not errors, errors[:5]
        assert set(statuses) <= {200, 429, 503}, statuses
        assert statuses.get(200, 0) > 0, statuses
        assert not missing_retry
        assert srv.alive()
        assert_serves(srv, client, f"overload {statuses}")
