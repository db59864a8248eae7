"""SIGHUP and the server log (issue #14): a reload swaps the TLS certificate of the HTTPS and
LDAPS listeners for new handshakes while connections opened before keep working, applies rate
limits and the log level, names what needs a restart, and refuses an invalid file whole; the
log is JSON lines (or text) with an access line per HTTP request and LDAP operation."""
import hashlib
import http.client
import os
import shutil
import signal
import socket
import ssl
import subprocess

import pytest

import conftest
from conftest import (ServerProcess, add_connection, http_request, ldap_listening_line,
                      log_records, uniq, wait_until)

# An anonymous simple bind (messageID 1), and the start of its bindResponse.
ANON_BIND = bytes.fromhex("300c020101600702010304008000")


def make_cert(d, name):
    cert, key = os.path.join(d, f"{name}.crt"), os.path.join(d, f"{name}.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", f"/CN={name}", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    der = ssl.PEM_cert_to_DER_cert(open(cert).read())
    return cert, key, hashlib.sha256(der).hexdigest()


def config(cert, key, level="info", rate=0, extra=""):
    return f"""[tls]
cert = "{cert}"
key = "{key}"
[limits]
rate_per_connection = {rate}
rate_per_address = 0
rate_per_api_token = 0
[log]
level = "{level}"
[ldap]
ldaps_listen = "127.0.0.1:0"
{extra}"""


def tls_socket(port):
    ctx = ssl._create_unverified_context()
    return ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10),
                           server_hostname="127.0.0.1")


def fingerprint(sock):
    return hashlib.sha256(sock.getpeercert(binary_form=True)).hexdigest()


def ldap_bind(sock):
    sock.sendall(ANON_BIND)
    reply = sock.recv(4096)
    assert reply[:1] == b"\x30" and b"\x61" in reply[:8], reply  # bindResponse
    return reply


def records(srv):
    return log_records(srv.stderr_text())


def hup_and_wait(srv, final_msg):
    before = len(records(srv))
    srv.send_signal(signal.SIGHUP)
    return wait_until(lambda: [r for r in records(srv)[before:] if r["msg"] == final_msg],
                      timeout=10, message=final_msg)


@pytest.fixture
def reloadable(idsync_bin, tmp_path):
    d = str(tmp_path)
    a, b = make_cert(d, "a"), make_cert(d, "b")
    live_cert, live_key = os.path.join(d, "live.crt"), os.path.join(d, "live.key")
    shutil.copy(a[0], live_cert)
    shutil.copy(a[1], live_key)
    path = os.path.join(d, "idsync.toml")
    with open(path, "w") as f:
        f.write(config(live_cert, live_key))
    data = os.path.join(d, "data")
    os.mkdir(data, 0o700)
    srv = ServerProcess(idsync_bin, data, ["--config", path]).wait_ready()
    srv.a, srv.b, srv.path, srv.live = a, b, path, (live_cert, live_key)
    srv.ldaps_port = int(ldap_listening_line(srv.stderr_text())["ldaps"].rsplit(":", 1)[1])
    yield srv
    if srv.alive():
        assert srv.stop() == 0, srv.stderr_text()[-2000:]


def test_sighup_swaps_certificate_open_connections_keep_working(reloadable):
    srv = reloadable
    old_https = http.client.HTTPSConnection("127.0.0.1", srv.port, timeout=10,
                                            context=ssl._create_unverified_context())
    old_https.request("GET", "/healthz")
    assert old_https.getresponse().read() and True
    assert fingerprint(old_https.sock) == srv.a[2]
    old_ldaps = tls_socket(srv.ldaps_port)
    assert fingerprint(old_ldaps) == srv.a[2]
    ldap_bind(old_ldaps)

    shutil.copy(srv.b[0], srv.live[0])  # a renewed certificate, written over the old file
    shutil.copy(srv.b[1], srv.live[1])
    done = hup_and_wait(srv, "configuration reloaded")
    replaced = [r for r in records(srv) if r["msg"] == "TLS certificate replaced"]
    assert replaced and replaced[-1]["sha256"].replace(":", "") == srv.b[2], replaced
    assert replaced[-1]["listeners"] == "http,ldap", replaced
    assert done[-1]["needs_restart"] == "", done

    # New handshakes see the new certificate, on both listeners.
    with tls_socket(srv.port) as s:
        assert fingerprint(s) == srv.b[2]
    with tls_socket(srv.ldaps_port) as s:
        assert fingerprint(s) == srv.b[2]
        ldap_bind(s)
    assert http_request(srv.url, "GET", "/healthz").status == 200
    # The connections opened before keep working, on the certificate they began with.
    old_https.request("GET", "/healthz")
    r = old_https.getresponse()
    assert r.status == 200 and r.read()
    assert fingerprint(old_https.sock) == srv.a[2]
    ldap_bind(old_ldaps)
    old_https.close()
    old_ldaps.close()
    # Each LDAP operation has its access line. The line is written after the response is sent,
    # so the last bind's may reach the log a moment after the client has its answer: wait for it
    # (CI saw 2 of 3 when reading at once).
    def bind_lines():
        return [x for x in records(srv) if x["msg"] == "access" and x.get("op") == "bind"]
    try:
        wait_until(lambda: len(bind_lines()) >= 3, timeout=10, message="three bind access lines")
    except AssertionError:
        pass  # the assertion below names what was logged
    ldap_lines = bind_lines()
    assert len(ldap_lines) >= 3 and all(x["proto"] == "ldaps" and x["result"] == "0"
                                        for x in ldap_lines), ldap_lines


def test_sighup_rate_limit_and_log_level(idsync_bin, reloadable):
    srv = reloadable
    conn = add_connection(idsync_bin, srv.data_dir)
    auth = {"Authorization": f"Bearer {conn['token']}"}
    assert all(http_request(srv.url, "GET", "/scim/v2/Users", headers=auth).status == 200
               for _ in range(8))
    with open(srv.path, "w") as f:
        f.write(config(*srv.live, level="warn", rate=1,
                       extra="max_connections = 7\n"))  # [ldap] max_connections: a restart
    hup_and_wait(srv, "configuration reloaded")
    recs = records(srv)
    applied = {r["key"] for r in recs if r["msg"] == "configuration change applied"}
    assert {"limits.rate_per_connection", "log.level"} <= applied, recs[-6:]
    restart = [r for r in recs if r["msg"] == "configuration change needs a restart, not applied"]
    assert [r["key"] for r in restart] == ["ldap.max_connections"], restart
    before = len(recs)
    statuses = [http_request(srv.url, "GET", "/scim/v2/Users", headers=auth).status
                for _ in range(6)]
    assert 429 in statuses, statuses
    # At level warn the access lines (info) are no longer written (so the fixture's check of
    # one access line per response must not count these).
    assert not [r for r in records(srv)[before:] if r["msg"] == "access"]
    conftest._REQUEST_IDS[srv.port].clear()


def test_sighup_invalid_file_keeps_running_configuration(reloadable):
    srv = reloadable
    with open(srv.path, "w") as f:
        f.write("[limits]\nrate_per_connection = \"fast\"\n")
    done = hup_and_wait(srv, "configuration reload refused, the running configuration is kept")
    assert srv.path in done[-1]["detail"] and "rate_per_connection" in done[-1]["detail"], done
    # A certificate that does not match its key is refused too, before anything is applied.
    with open(srv.path, "w") as f:
        f.write(config(srv.b[0], srv.a[1], level="warn"))
    done = hup_and_wait(srv, "configuration reload refused, the running configuration is kept")
    assert "invalid TLS key" in done[-1]["detail"] and "mismatch" in done[-1]["detail"], done
    assert srv.alive()
    assert http_request(srv.url, "GET", "/healthz").status == 200
    with tls_socket(srv.port) as s:
        assert fingerprint(s) == srv.a[2]
    # Still at level info. The access line is written after the response is sent, so wait.
    wait_until(lambda: any(r["msg"] == "access" for r in records(srv)[-3:]), timeout=10,
               message="an access line at level info")


def test_text_log_format(idsync_bin, tmp_path):
    data = str(tmp_path / "data")
    os.mkdir(data, 0o700)
    srv = ServerProcess(idsync_bin, data, ["--log-format", "text"]).wait_ready()
    try:
        assert http_request(srv.url, "GET", "/healthz").status == 200
        wait_until(lambda: " info access " in srv.stderr_text(), timeout=5, message="access line")
    finally:
        assert srv.stop() == 0
    lines = [l for l in srv.stderr_text().splitlines() if l.strip()]
    assert lines and not any(l.startswith("{") for l in lines), lines
    access = [l for l in lines if " info access " in l]
    assert access and "method=GET" in access[0] and "path=/healthz" in access[0], access
