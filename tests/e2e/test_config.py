"""The configuration file of `idsync serve` (issue #14): `serve --config FILE`, `config check`,
`config reference`. A file with every key is accepted and each group of keys is observed in the
server's behaviour; unknown keys, wrong types and bad TOML are refused naming file, line and
key; flags override the file and IDSYNC_* environment variables override both."""
import http.client
import json
import os
import re
import select
import signal
import socket
import ssl
import subprocess
import time
import tomllib

import pytest

import conftest
from conftest import (REPO_ROOT, TEST_STORE, ServerProcess, Scim, add_connection, http_request,
                      run_cli, store_url_for, uniq)
import test_console_api
from test_console_api import Browser, add_user


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ConfigServer(ServerProcess):
    """`idsync serve ARGS...` with no --data/--listen of its own: they come from the file."""

    def __init__(self, binary, workdir, args, env=None):  # pylint: disable=super-init-not-called
        self.binary = binary
        self.data_dir = None
        self.args = [binary, "serve", *args]
        self.stderr_path = os.path.join(workdir, f"serve-stderr-{uniq('s')}.log")
        self._stderr_file = open(self.stderr_path, "wb")
        conftest._SERVER_LOGS.append(self.stderr_path)
        self.log_json = True
        self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=self._stderr_file, env=env)
        self.url = None
        self.stdout_lines = []
        self._drain_thread = None


def env_without_idsync(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDSYNC_") or k == "IDSYNC_BIN"}
    env.update(extra)
    return env


def reference(binary):
    r = run_cli(binary, "config", "reference")
    assert r.returncode == 0, r.stderr
    return r.stdout


def reference_keys(binary):
    """The keys the reference lists, as dotted TOML keys (`[tls] cert` is tls.cert)."""
    keys = []
    for line in reference(binary).splitlines()[2:]:
        cell = line.split("|")[1].strip().strip("`")
        m = re.fullmatch(r"\[(\w+)\] (\w+)", cell)
        keys.append(f"{m.group(1)}.{m.group(2)}" if m else cell)
    return keys


def flatten(doc, prefix=""):
    out = []
    for k, v in doc.items():
        if isinstance(v, dict):
            out += flatten(v, prefix + k + ".")
        else:
            out.append(prefix + k)
    return out


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    d = tmp_path_factory.mktemp("config-certs")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
                    "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    return str(cert), str(key)


def full_config(data, cert, key, port, ldap_port, ldaps_port):
    # The suite's own store: "" is SQLite in the data folder.
    store = store_url_for(data) if TEST_STORE == "postgresql" else ""
    return f"""# every key of idsync serve
data = "{data}"
store = "{store}"
listen = "127.0.0.1:{port}"
public_url = "https://idsync.example.test:8443/"

[tls]
cert = "{cert}"
key = "{key}"

[limits]
rate_per_connection = 5
rate_per_address = 1000.0
rate_per_api_token = 1000
auth_failures_per_address = 3
max_connections = 8
header_timeout = 1

[console]
idle_timeout = "2s"
session_lifetime = "1h"

[log]
format = "json"
level = "info"

[ldap]
listen = "127.0.0.1:{ldap_port}"
ldaps_listen = "127.0.0.1:{ldaps_port}"
tls_cert = "{cert}"
tls_key = "{key}"
allow_plaintext = false
suffix = "dc=example,dc=test"
size_limit = 500
time_limit = 30
max_connections = 16
idle_timeout = 600

[bench]
mirror_only = false
routes = true
"""


@pytest.fixture(scope="module")
def full(idsync_bin, tmp_path_factory, certs):
    d = tmp_path_factory.mktemp("config-full")
    data = str(d / "data")
    os.mkdir(data, 0o700)
    ports = (free_port(), free_port(), free_port())
    path = d / "idsync.toml"
    path.write_text(full_config(data, *certs, *ports))
    srv = ConfigServer(idsync_bin, str(d), ["--config", str(path)],
                       env=env_without_idsync()).wait_ready()
    srv.ports, srv.path, srv.data_dir = ports, str(path), data
    srv.ctx = ssl.create_default_context(cafile=certs[0])
    yield srv
    if srv.alive():
        assert srv.stop(signal.SIGTERM) == 0, srv.stderr_text()[-2000:]


# --------------------------------------------------------------------------- reference


def test_readme_reference_is_the_generated_one(idsync_bin):
    readme = open(os.path.join(REPO_ROOT, "README.md"), encoding="utf-8").read()
    m = re.search(r"<!-- config-reference:begin[^>]*-->\n(.*?)<!-- config-reference:end -->",
                  readme, re.S)
    assert m, "README has no configuration reference section"
    assert m.group(1) == reference(idsync_bin), "regenerate it: idsync config reference"


def test_reference_lists_every_serve_flag(idsync_bin):
    text = reference(idsync_bin)
    help_text = run_cli(idsync_bin, "serve", "--help").stdout
    flags = set(re.findall(r"^\s+(--[a-z-]+)", help_text, re.M)) - {"--help", "--config"}
    listed = set(re.findall(r"`(--[a-z-]+)`", text))
    assert flags == listed
    for line in text.splitlines()[2:]:
        env = re.search(r"`(IDSYNC_[A-Z_]+)`", line).group(1)
        assert env.startswith("IDSYNC_"), line


# --------------------------------------------------------------------------- a file with every key


def test_full_file_has_every_key_and_is_accepted(idsync_bin, full):
    with open(full.path, "rb") as f:
        keys = flatten(tomllib.load(f))
    assert sorted(keys) == sorted(reference_keys(idsync_bin))
    r = run_cli(idsync_bin, "config", "check", full.path)
    assert r.returncode == 0 and "OK" in r.stdout, r.stderr


def test_listen_data_and_tls_from_file(full):
    assert full.url == f"https://127.0.0.1:{full.ports[0]}"
    r = http_request(full.url, "GET", "/healthz", ssl_context=full.ctx)
    assert r.status == 200
    with open(os.path.join(full.data_dir, "server.json")) as f:
        written = json.load(f)
    assert written["public_url"] == "https://idsync.example.test:8443"


def test_public_url_from_file(idsync_bin, full):
    info = add_connection(idsync_bin, full.data_dir)
    assert info["base_url"] == "https://idsync.example.test:8443/scim/v2"


def test_console_timeouts_from_file(idsync_bin, full):
    # Before test_limits_from_file, whose failed authentications throttle this address's
    # sign-ins for a minute.
    name, otp = add_user(idsync_bin, full.data_dir)
    b = Browser(full)
    # Browser calls http_request without a TLS context; this server's CA is given to it.
    orig = test_console_api.http_request
    test_console_api.http_request = lambda *a, **kw: orig(*a, ssl_context=full.ctx, **kw)
    try:
        assert b.login(name, otp).status == 200
        assert b.call("GET", "/console/api/session").status == 200
        time.sleep(2.5)  # idle_timeout = "2s"
        assert b.call("GET", "/console/api/session").status == 401
    finally:
        test_console_api.http_request = orig


def test_limits_from_file(idsync_bin, full):
    # rate_per_connection = 5: a burst on one connection's token gets 429s.
    info = add_connection(idsync_bin, full.data_dir)
    c = http.client.HTTPSConnection("127.0.0.1", full.port, timeout=10, context=full.ctx)
    statuses = []
    for _ in range(20):
        c.request("GET", "/scim/v2/Users?count=1", headers={"Authorization": f"Bearer {info['token']}"})
        r = c.getresponse()
        r.read()
        statuses.append(r.status)
    c.close()
    assert statuses[0] == 200 and 429 in statuses, statuses
    # auth_failures_per_address = 3: the fourth failed authentication is throttled (the
    # console test's expired session counted as one already; the default would allow 10).
    bad = [Scim(full.scim_base, f"idsync_scim_wrong{i}{'A' * 30}", ssl_context=full.ctx)
           .get("/Users").status for i in range(5)]
    assert bad.count(401) <= 3 and bad[3:] == [429, 429], bad
    # max_connections = 8: of 16 idle connections, the 8 past the cap are closed at once
    # (well before header_timeout cuts off the others).
    socks = [socket.create_connection(("127.0.0.1", full.port), timeout=10) for _ in range(16)]
    try:
        closed, deadline = set(), time.monotonic() + 0.7
        while time.monotonic() < deadline and len(closed) < 8:
            readable, _, _ = select.select([s for s in socks if s not in closed], [], [], 0.1)
            closed.update(readable)
        assert len(closed) >= 8, len(closed)
        # header_timeout = 1: the held ones, which send nothing, are cut off soon after.
        held = [s for s in socks if s not in closed]
        assert held
        start = time.monotonic()
        readable, _, _ = select.select(held[:1], [], [], 8)
        assert readable and time.monotonic() - start < 8, "idle client never cut off"
    finally:
        for s in socks:
            s.close()


def test_ldap_from_file(full):
    text = full.stderr_text()
    ldap_port, ldaps_port = full.ports[1], full.ports[2]
    assert f"ldap://127.0.0.1:{ldap_port}" in text, text
    assert f"ldaps://127.0.0.1:{ldaps_port}" in text, text
    assert "dc=example,dc=test" in text, text
    with open(os.path.join(full.data_dir, "server.json")) as f:
        assert json.load(f)["ldap_suffix"] == "dc=example,dc=test"
    socket.create_connection(("127.0.0.1", ldap_port), timeout=5).close()


def test_bench_routes_from_file(full):
    assert http_request(full.url, "GET", "/bench/static", ssl_context=full.ctx).status == 200


# --------------------------------------------------------------------------- refused files


def refused(idsync_bin, tmp_path, text):
    path = tmp_path / f"{uniq('c')}.toml"
    path.write_text(text)
    check = run_cli(idsync_bin, "config", "check", path)
    assert check.returncode != 0, check.stdout
    serve = subprocess.run([idsync_bin, "serve", "--config", str(path), "--data", str(tmp_path / "d")],
                           capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL,
                           env=env_without_idsync())
    assert serve.returncode != 0 and "listening" not in serve.stdout
    assert serve.stderr == check.stderr
    return str(path), check.stderr


def test_unknown_key_refused_with_file_line_and_key(idsync_bin, tmp_path):
    path, err = refused(idsync_bin, tmp_path,
                        'listen = "127.0.0.1:0"\n\n[limits]\nrate_per_adress = 5\n')
    assert f"{path}:4:" in err and 'unknown key "limits.rate_per_adress"' in err, err
    assert "rate_per_address" in err  # what to write instead
    path, err = refused(idsync_bin, tmp_path, 'lisen = "127.0.0.1:0"\n')
    assert f"{path}:1:" in err and '"lisen"' in err and "listen" in err, err
    path, err = refused(idsync_bin, tmp_path, '[tsl]\ncert = "x"\n')
    assert f"{path}:1:" in err and '"tsl"' in err and "[tls]" in err, err


def test_wrong_type_refused_with_file_line_and_key(idsync_bin, tmp_path):
    path, err = refused(idsync_bin, tmp_path, '[limits]\n\nmax_connections = "many"\n')
    assert f"{path}:3:" in err and '"limits.max_connections"' in err and "whole number" in err, err
    path, err = refused(idsync_bin, tmp_path, '[bench]\nroutes = "yes"\n')
    assert f"{path}:2:" in err and '"bench.routes"' in err and "true or false" in err, err
    path, err = refused(idsync_bin, tmp_path, 'listen = 8080\n')
    assert f"{path}:1:" in err and '"listen"' in err and "string" in err, err
    path, err = refused(idsync_bin, tmp_path, '[console]\nidle_timeout = "soon"\n')
    assert f"{path}:2:" in err and "duration" in err, err
    path, err = refused(idsync_bin, tmp_path, '[limits]\nmax_connections = 0\n')
    assert f"{path}:2:" in err and "from 1" in err, err
    path, err = refused(idsync_bin, tmp_path, '[log]\nlevel = "loud"\n')
    assert f"{path}:2:" in err and "debug, info, warn or error" in err, err


def test_bad_toml_refused_with_line(idsync_bin, tmp_path):
    path, err = refused(idsync_bin, tmp_path, 'listen = "127.0.0.1:0"\n[limits\n')
    assert f"{path}:2:" in err and "TOML" in err, err
    missing = run_cli(idsync_bin, "config", "check", tmp_path / "absent.toml")
    assert missing.returncode != 0 and "absent.toml" in missing.stderr


# --------------------------------------------------------------------------- precedence


def test_flags_override_file_and_environment_overrides_both(idsync_bin, tmp_path):
    a, b, c = free_port(), free_port(), free_port()
    path = tmp_path / "idsync.toml"
    os.mkdir(tmp_path / "data", 0o700)
    path.write_text(f'data = "{tmp_path / "data"}"\nlisten = "127.0.0.1:{a}"\n'
                    '[bench]\nroutes = true\n')
    cases = [([], {}, a), (["--listen", f"127.0.0.1:{b}"], {}, b),
             (["--listen", f"127.0.0.1:{b}"], {"IDSYNC_LISTEN": f"127.0.0.1:{c}"}, c)]
    for flags, env, port in cases:
        srv = ConfigServer(idsync_bin, str(tmp_path), ["--config", str(path), *flags],
                           env=env_without_idsync(**env)).wait_ready()
        try:
            assert srv.port == port, (flags, env, srv.url)
            assert http_request(srv.url, "GET", "/bench/static").status == 200
        finally:
            assert srv.stop() == 0
    # The file named by IDSYNC_CONFIG; IDSYNC_BENCH_ROUTES=false turns the file's true off.
    srv = ConfigServer(idsync_bin, str(tmp_path), [],
                       env=env_without_idsync(IDSYNC_CONFIG=str(path),
                                              IDSYNC_BENCH_ROUTES="false")).wait_ready()
    try:
        assert srv.port == a
        assert http_request(srv.url, "GET", "/bench/static").status == 404
    finally:
        assert srv.stop() == 0
    bad = subprocess.run([idsync_bin, "serve", "--config", str(path)], capture_output=True,
                         text=True, timeout=30, stdin=subprocess.DEVNULL,
                         env=env_without_idsync(IDSYNC_LIMITS_MAX_CONNECTIONS="lots"))
    assert bad.returncode != 0 and "IDSYNC_LIMITS_MAX_CONNECTIONS" in bad.stderr, bad.stderr
