"""Operations: health, readiness, metrics, request ids, graceful shutdown, TLS."""

import http.client
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import threading

import pytest

from conftest import (
    BULK_REQ_URN,
    Scim,
    add_connection,
    http_request,
    new_user,
    raw_exchange,
    run_cli,
    start_server,
    stderr_lines,
    uniq,
    wait_until,
)


def _metric_total(text, name="idsync_http_requests_total"):
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_healthz(server):
    r = http_request(server.url, "GET", "/healthz")
    assert r.status == 200, r


def test_readyz(server):
    r = http_request(server.url, "GET", "/readyz")
    assert r.status == 200, r


def test_metrics(server, scim):
    before = http_request(server.url, "GET", "/metrics")
    assert before.status == 200, before
    assert before.content_type.startswith("text/plain"), before.content_type
    text = before.body.decode()
    assert "idsync_http_requests_total" in text
    assert re.search(r"^# TYPE idsync_http_requests_total counter$", text, re.M), text[:2000]
    for _ in range(3):
        assert scim.get("/Users").status == 200
    after = http_request(server.url, "GET", "/metrics").body.decode()
    assert _metric_total(after) >= _metric_total(text) + 3


def _metric_value(text, name):
    m = re.search(rf"^{name} (\d+)$", text, re.M)
    assert m, f"{name} missing from /metrics"
    return int(m.group(1))


def test_metrics_count_writes_and_commits(server, scim):
    """Group commit is visible: writes made durable and the commits (fsyncs) that made them."""
    text = http_request(server.url, "GET", "/metrics").body.decode()
    assert re.search(r"^# TYPE idsync_store_commits_total counter$", text, re.M)
    writes0 = _metric_value(text, "idsync_store_committed_writes_total")
    commits0 = _metric_value(text, "idsync_store_commits_total")
    for _ in range(3):
        assert scim.post("/Users", new_user()).status == 201
    text = http_request(server.url, "GET", "/metrics").body.decode()
    writes = _metric_value(text, "idsync_store_committed_writes_total") - writes0
    commits = _metric_value(text, "idsync_store_commits_total") - commits0
    # Other tests may share the server: at least our three, each durable by some commit.
    assert writes >= 3
    assert 1 <= commits <= writes
    # Serialization reruns (PostgreSQL; SQLite's single writer has none).
    assert re.search(r"^# TYPE idsync_store_write_reruns_total counter$", text, re.M)
    reruns = _metric_value(text, "idsync_store_write_reruns_total")
    if os.environ.get("IDSYNC_TEST_STORE", "sqlite") == "sqlite":
        assert reruns == 0


def test_metrics_do_not_leak_tokens(server, scim):
    scim.get("/Users")
    text = http_request(server.url, "GET", "/metrics").body.decode()
    assert scim.token not in text


def test_request_id_echoed(scim):
    rid = "req-" + uniq("")
    r = scim.get("/Users", headers={"X-Request-Id": rid})
    assert r.status == 200
    assert r.headers.get("x-request-id") == rid


def test_request_id_echoed_on_errors(scim):
    rid = "err-" + uniq("")
    r = scim.get("/Users", auth=False, headers={"X-Request-Id": rid})
    assert r.status == 401
    assert r.headers.get("x-request-id") == rid
    r = scim.get("/Users/nope", headers={"X-Request-Id": rid})
    assert r.status == 404
    assert r.headers.get("x-request-id") == rid


def test_request_id_generated(scim):
    a = scim.get("/Users").headers.get("x-request-id")
    b = scim.get("/Users").headers.get("x-request-id")
    assert a and b and a != b


def test_keep_alive_two_requests_one_connection(server, scim):
    c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        for _ in range(3):
            c.request("GET", "/scim/v2/Users", headers={"Authorization": f"Bearer {scim.token}"})
            r = c.getresponse()
            body = r.read()
            assert r.status == 200, body
            json.loads(body)
    finally:
        c.close()


def test_health_endpoints_not_scim(server):
    r = http_request(server.url, "GET", "/healthz")
    assert "scim" not in r.content_type


def test_concurrent_reads(server, scim):
    errors = []

    def worker():
        try:
            for _ in range(10):
                r = scim.get("/Users")
                if r.status != 200:
                    errors.append(r)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors[:3]


# --------------------------------------------------------------------------- shutdown


def test_sigterm_finishes_in_flight_request(idsync_bin, tmp_path):
    data = str(tmp_path)
    srv = start_server(idsync_bin, data)
    try:
        info = add_connection(idsync_bin, data)
        scim = Scim(srv.scim_base, info["token"])
        max_ops = scim.get("/ServiceProviderConfig").json["bulk"]["maxOperations"]
        n = min(max_ops, 300)
        ops = [{"method": "POST", "path": "/Users", "bulkId": f"b{i}",
                "data": new_user(userName=f"inflight{i}@example.com")} for i in range(n)]
        body = json.dumps({"schemas": [BULK_REQ_URN], "Operations": ops}).encode()
        head = (f"POST /scim/v2/Bulk HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Authorization: Bearer {info['token']}\r\nContent-Type: application/scim+json\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=30)
        s.sendall(head + body)
        # The server treats a request as in flight once it has read it (a half-read request is
        # dropped at shutdown, which is fair). Wait, by bounded polling, until the server-side
        # socket's receive queue is empty: then the whole request has been consumed.
        client_port = s.getsockname()[1]
        wait_until(lambda: _server_side_rx_queue(srv.port, client_port) == 0, timeout=10, interval=0.001,
                   message="server to read the whole request")
        srv.send_signal(signal.SIGTERM)  # the request is now in flight
        buf = b""
        while True:
            part = s.recv(65536)
            if not part:
                break
            buf += part
        s.close()
        status_line = buf.split(b"\r\n", 1)[0]
        assert b" 200 " in status_line + b" ", buf[:300]
        resp = json.loads(buf.partition(b"\r\n\r\n")[2])
        assert [o["status"] for o in resp["Operations"]] == ["201"] * n
        rc = srv.proc.wait(timeout=20)
        assert rc == 0, srv.stderr_text()
    finally:
        srv.kill()
    # Everything the server acknowledged was committed.
    srv2 = start_server(idsync_bin, data)
    try:
        body = Scim(srv2.scim_base, info["token"]).list("/Users", count=0)
        assert body["totalResults"] == n
    finally:
        assert srv2.stop() == 0


def _server_side_rx_queue(server_port, client_port):
    """Bytes the server has not read yet on its end of our connection (Linux /proc/net/tcp)."""
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            parts = line.split()
            local_port = int(parts[1].split(":")[1], 16)
            remote_port = int(parts[2].split(":")[1], 16)
            if local_port == server_port and remote_port == client_port:
                return int(parts[4].split(":")[1], 16)
    return None


def test_sigint_exits_zero(idsync_bin, tmp_path):
    srv = start_server(idsync_bin, str(tmp_path))
    assert srv.stop(signal.SIGINT) == 0


def test_sigterm_right_after_ready_exits_zero(idsync_bin, tmp_path):
    # The stop signals must be handled from the moment the listening line is printed: a
    # supervisor may stop the service at any time after readiness.
    rcs = []
    for i in range(30):  # the race window is small; 30 starts catch it reliably
        d = tmp_path / f"d{i}"
        d.mkdir()
        rcs.append(start_server(idsync_bin, str(d)).stop(signal.SIGTERM))
    assert rcs == [0] * len(rcs), rcs


def test_stopped_server_refuses_connections(idsync_bin, tmp_path):
    srv = start_server(idsync_bin, str(tmp_path))
    port = srv.port
    assert srv.stop() == 0
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


def test_idle_keepalive_connection_does_not_block_shutdown(idsync_bin, tmp_path):
    srv = start_server(idsync_bin, str(tmp_path))
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    c.request("GET", "/healthz")
    c.getresponse().read()
    try:
        assert srv.stop(timeout=15) == 0
    finally:
        c.close()


# --------------------------------------------------------------------------- TLS


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    d = tmp_path_factory.mktemp("certs")
    cert, key = d / "cert.pem", d / "key.pem"
    r = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
         "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    other_key = d / "other-key.pem"
    r = subprocess.run(["openssl", "genrsa", "-out", str(other_key), "2048"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return {"cert": str(cert), "key": str(key), "other_key": str(other_key), "dir": d}


@pytest.fixture(scope="module")
def tls_server(idsync_bin, tmp_path_factory, certs):
    data = str(tmp_path_factory.mktemp("tls-data"))
    srv = start_server(idsync_bin, data, ["--tls-cert", certs["cert"], "--tls-key", certs["key"]])
    yield srv
    if srv.alive():
        assert srv.stop() == 0


def _verifying_ctx(certs):
    ctx = ssl.create_default_context(cafile=certs["cert"])
    return ctx


def test_tls_listening_line_is_https(tls_server):
    assert tls_server.url.startswith("https://127.0.0.1:")


def test_tls_serves_scim(idsync_bin, tls_server, certs):
    info = add_connection(idsync_bin, tls_server.data_dir)
    assert info["base_url"] == tls_server.url + "/scim/v2"
    assert info["base_url"].startswith("https://")
    scim = Scim(tls_server.scim_base, info["token"], ssl_context=_verifying_ctx(certs))
    r = scim.post("/Users", new_user())
    assert r.status == 201, r
    assert r.json["meta"]["location"].startswith("https://")
    assert http_request(tls_server.url, "GET", "/healthz", ssl_context=_verifying_ctx(certs)).status == 200


def test_tls12_accepted(tls_server, certs):
    ctx = _verifying_ctx(certs)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    with socket.create_connection(("127.0.0.1", tls_server.port), timeout=10) as s:
        with ctx.wrap_socket(s, server_hostname="127.0.0.1") as t:
            assert t.version() == "TLSv1.2"


def _legacy_client_ctx():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    ctx.minimum_version = ssl.TLSVersion.TLSv1_1
    ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    return ctx


def _client_can_speak_tls11(certs):
    """Proves our client can do TLS 1.1 against a local Python server that allows it."""
    try:
        sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        sctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        sctx.minimum_version = ssl.TLSVersion.TLSv1_1
        sctx.maximum_version = ssl.TLSVersion.TLSv1_1
        sctx.load_cert_chain(certs["cert"], certs["key"])
        cctx = _legacy_client_ctx()
    except (ssl.SSLError, ValueError):
        return False
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(1)
    result = {}

    def serve():
        try:
            conn, _ = lsock.accept()
            conn.settimeout(5)
            with sctx.wrap_socket(conn, server_side=True) as t:
                result["server"] = t.version()
        except Exception as e:  # noqa: BLE001
            result["server_error"] = e

    th = threading.Thread(target=serve, daemon=True)
    th.start()
    ok = False
    try:
        with socket.create_connection(lsock.getsockname(), timeout=5) as s:
            with cctx.wrap_socket(s) as t:
                ok = t.version() == "TLSv1.1"
    except (ssl.SSLError, OSError):
        ok = False
    th.join(5)
    lsock.close()
    return ok


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated:DeprecationWarning")
def test_tls11_refused(tls_server, certs):
    if not _client_can_speak_tls11(certs):
        pytest.skip("this Python/OpenSSL cannot negotiate TLS 1.1 even with a permissive peer")
    with pytest.raises((ssl.SSLError, ConnectionResetError, BrokenPipeError)):
        with socket.create_connection(("127.0.0.1", tls_server.port), timeout=10) as s:
            with _legacy_client_ctx().wrap_socket(s) as t:
                t.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                t.recv(100)


def test_plain_http_to_tls_port_not_served(tls_server):
    status, _, _ = raw_exchange("http://127.0.0.1:%d" % tls_server.port,
                                b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
                                timeout=10)
    assert status != 200


def _one_line_failure(r, needle=None):
    assert r.returncode != 0, (r.stdout, r.stderr)
    lines = stderr_lines(r)
    assert len(lines) == 1, lines
    if needle:
        assert needle in lines[0], lines[0]


def test_missing_cert_file_one_line(idsync_bin, tmp_path, certs):
    missing = str(tmp_path / "missing-cert.pem")
    r = run_cli(idsync_bin, "serve", "--data", str(tmp_path), "--listen", "127.0.0.1:0",
                "--tls-cert", missing, "--tls-key", certs["key"])
    _one_line_failure(r, "missing-cert.pem")


def test_garbage_cert_file_one_line(idsync_bin, tmp_path, certs):
    bad = tmp_path / "garbage.pem"
    bad.write_text("-----BEGIN CERTIFICATE-----\nnot base64!!\n-----END CERTIFICATE-----\n")
    r = run_cli(idsync_bin, "serve", "--data", str(tmp_path), "--listen", "127.0.0.1:0",
                "--tls-cert", str(bad), "--tls-key", certs["key"])
    _one_line_failure(r, "garbage.pem")


def test_unreadable_key_one_line(idsync_bin, tmp_path, certs):
    r = run_cli(idsync_bin, "serve", "--data", str(tmp_path), "--listen", "127.0.0.1:0",
                "--tls-cert", certs["cert"], "--tls-key", str(tmp_path / "nokey.pem"))
    _one_line_failure(r, "nokey.pem")


def test_mismatched_key_one_line(idsync_bin, tmp_path, certs):
    r = run_cli(idsync_bin, "serve", "--data", str(tmp_path), "--listen", "127.0.0.1:0",
                "--tls-cert", certs["cert"], "--tls-key", certs["other_key"])
    _one_line_failure(r)
