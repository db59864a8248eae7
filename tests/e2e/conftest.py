"""Black-box fixtures for idsync: start the real `idsync serve`, talk SCIM over HTTP.

Every test module gets its own server (module-scoped `server` fixture) on 127.0.0.1:0 with
its own temporary data folder, so modules can run in parallel and never share state.
Most tests use a fresh connection (function-scoped `conn`/`scim`), so the users and groups
one test creates are invisible to the next (connections are isolated from each other).

Only the standard library is used: http.client, ssl, json, subprocess, select, threading.
"""

import http.client
import json
import os
import select
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.parse
import uuid

import sys

import pytest

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEFAULT_BIN = os.path.join(REPO_ROOT, "build", "idsync")

SCIM_JSON = "application/scim+json"
ERROR_URN = "urn:ietf:params:scim:api:messages:2.0:Error"
LIST_URN = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PATCH_URN = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SEARCH_URN = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
BULK_REQ_URN = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
BULK_RESP_URN = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE_URN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
SPC_URN = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"

STARTUP_TIMEOUT = 20.0  # seconds to wait for the "listening" line
STOP_TIMEOUT = 20.0  # seconds to wait for exit after SIGTERM
CLI_TIMEOUT = 30.0
HTTP_TIMEOUT = 30.0


def uniq(prefix="u"):
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def binary_path():
    return os.environ.get("IDSYNC_BIN", DEFAULT_BIN)


# --------------------------------------------------------------------------- store back-end

# IDSYNC_TEST_STORE=postgresql runs every server and CLI command against PostgreSQL: one
# throw-away PostgreSQL 15 cluster per test process (tests/pg/pgcluster.py, started on first
# use, stopped at session end), and one fresh database per data folder, so a data folder and
# its database are one installation (`--data D --store URL`), as isolated as the SQLite ones.
TEST_STORE = os.environ.get("IDSYNC_TEST_STORE", "sqlite")
_pg_cluster = None
_pg_databases = {}


def pg_cluster():
    """The session's PostgreSQL cluster, started on first use."""
    global _pg_cluster
    if _pg_cluster is None:
        sys.path.insert(0, os.path.join(REPO_ROOT, "tests", "pg"))
        import pgcluster  # noqa: E402
        if not pgcluster.available():
            pytest.fail(f"PostgreSQL 15 not found in {pgcluster.PG_BIN} "
                        "(tools/install-deps.sh test installs postgresql-15)", pytrace=False)
        _pg_cluster = pgcluster.new_cluster()
    return _pg_cluster


_pg_template = None


def pg_template():
    """A database the idsync under test has migrated, created once per cluster: every
    installation's database is a copy of it (CREATE DATABASE ... TEMPLATE, a file copy), so a
    test's first server start or CLI command finds the schema instead of applying every
    migration (~90 ms each time, several hundred times a run). Migrations from an empty
    database are still run here, once per test process, and by the store's unit tests."""
    global _pg_template
    if _pg_template is None:
        cluster = pg_cluster()
        name = cluster.create_database("template")
        folder = tempfile.mkdtemp(prefix="idsync-template-")
        try:
            r = subprocess.run([binary_path(), "connection", "list", "--data", folder,
                                "--store", cluster.url(name)],
                               capture_output=True, text=True, timeout=CLI_TIMEOUT)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        if r.returncode != 0:
            pytest.fail(f"migrating the template database failed: {r.stderr}", pytrace=False)
        _pg_template = name
    return _pg_template


def store_url_for(data_dir):
    """The database URL of the installation in `data_dir` (created on first use)."""
    key = os.path.abspath(str(data_dir))
    if key not in _pg_databases:
        cluster = pg_cluster()
        _pg_databases[key] = cluster.url(cluster.create_database(template=pg_template()))
    return _pg_databases[key]


def store_args(args):
    """`args` with `--store URL` added after each `--data D` when the suite runs on PostgreSQL."""
    args = [str(a) for a in args]
    if TEST_STORE != "postgresql" or "--store" in args:
        return args
    out = []
    for i, a in enumerate(args):
        out.append(a)
        if i > 0 and args[i - 1] == "--data":
            out += ["--store", store_url_for(a)]
    return out


def bulk_post(scim, ops, rounds=5):
    """POST /Bulk with `ops` (no bulkId references between them); the responses in order.
    Operations answered 503 wrote nothing and are sent again after a pause, as an identity
    provider does on 503: on PostgreSQL, a create among 8 concurrent Bulk streams can lose its
    serialization conflicts more often than the store reruns it (docs/ARCHITECTURE.md,
    "Serializable conflicts on creates")."""
    out = [None] * len(ops)
    pending = list(range(len(ops)))
    for _ in range(rounds):
        r = scim.post("/Bulk", {"schemas": [BULK_REQ_URN],
                                "Operations": [ops[i] for i in pending]})
        assert r.status == 200, r
        again = []
        for i, o in zip(pending, r.json["Operations"]):
            out[i] = o
            if str(o.get("status")) == "503":
                again.append(i)
        if not again:
            break
        pending = again
        time.sleep(0.5)
    return out


def pg_query(data_dir, sql):
    """`sql` run by psql in the PostgreSQL database of the installation in `data_dir` (text,
    one row a line, columns separated by |)."""
    return pg_cluster().psql(sql, db=store_url_for(data_dir).rsplit("/", 1)[1])


def copy_installation(src, dst):
    """A copy of the (stopped) installation in `src` at `dst`: the data folder and, on
    PostgreSQL, its database (CREATE DATABASE ... TEMPLATE, which needs no one connected)."""
    shutil.copytree(src, dst)
    if TEST_STORE == "postgresql":
        cluster = pg_cluster()
        source = store_url_for(src).rsplit("/", 1)[1]
        name = f"t_{uuid.uuid4().hex[:12]}"
        cluster.psql(f'CREATE DATABASE "{name}" TEMPLATE "{source}"')
        _pg_databases[os.path.abspath(str(dst))] = cluster.url(name)


def stored_bytes(data_dir):
    """Everything the installation in `data_dir` keeps: every file of the data folder (the
    SQLite database and its WAL among them) and, on PostgreSQL, a plain pg_dump of its database.
    At-rest checks (no password anywhere) read this on either store."""
    out = b""
    for name in sorted(os.listdir(data_dir)):
        path = os.path.join(data_dir, name)
        if os.path.isfile(path):
            with open(path, "rb") as f:
                out += f.read()
    if TEST_STORE == "postgresql":
        url = store_url_for(data_dir)  # starts the cluster, whose module knows where pg_dump is
        pg_dump = os.path.join(sys.modules["pgcluster"].PG_BIN, "pg_dump")
        r = subprocess.run([pg_dump, "-d", url], capture_output=True, timeout=60)
        assert r.returncode == 0, r.stderr
        out += r.stdout
    return out


def pytest_sessionfinish(session, exitstatus):
    if _pg_cluster is not None:
        _pg_cluster.stop()


# --------------------------------------------------------------------------- server log


def log_records(text):
    """The server log's lines (JSON mode) as dicts; a line that is not a JSON object fails."""
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            raise AssertionError(f"server log line {n} is not JSON: {line!r}")
        assert isinstance(record, dict), f"server log line {n} is not a JSON object: {line!r}"
        out.append(record)
    return out


# What the log checks need, per test process (each pytest-xdist worker has its own):
# every server's log file, the secrets the tests were given (tokens, passwords: none may appear
# in any server log), and the X-Request-Id of every response the helpers received, by server
# port (each must have its access line).
_SERVER_LOGS = []
_SECRETS = set()
_REQUEST_IDS = {}
SECRET_KEYS = ("token", "password", "new_password", "bind_password", "secret")


def remember_secrets(obj):
    """Records the secret-looking values of a JSON document (tokens, passwords) for the check."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k in SECRET_KEYS and isinstance(v, str) and len(v) >= 8:
                _SECRETS.add(v)
            else:
                remember_secrets(v)
    elif isinstance(obj, list):
        for v in obj:
            remember_secrets(v)


def check_server_log(text, port=None):
    """Every line is a JSON object with time, level and msg; every response the helpers got
    from the server on `port` has its access line (by request id)."""
    records = log_records(text)
    for r in records:
        missing = [k for k in ("time", "level", "msg") if not isinstance(r.get(k), str)]
        assert not missing, f"server log line lacks {missing}: {r}"
        assert r["level"] in ("debug", "info", "warn", "error"), r
    if port is not None:
        logged = {r.get("request_id") for r in records if r["msg"] == "access"}
        unlogged = _REQUEST_IDS.get(port, set()) - logged
        assert not unlogged, f"{len(unlogged)} responses without an access line, e.g. {sorted(unlogged)[:3]}"
    return records


def ldap_listening_line(text):
    """The {"msg": "LDAP listening", "ldap": URL, "ldaps": URL, ...} record, or None."""
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("msg") == "LDAP listening":
            return record
    return None


# --------------------------------------------------------------------------- processes


class ServerProcess:
    """One `idsync serve` child. stdout is read for the listening line, then drained."""

    def __init__(self, binary, data_dir, extra_args=(), listen="127.0.0.1:0", env=None):
        self.binary = binary
        self.data_dir = data_dir
        self.args = store_args([binary, "serve", "--data", data_dir, "--listen", listen,
                                *extra_args])
        self.stderr_path = os.path.join(
            os.path.dirname(os.path.abspath(data_dir)),
            f"serve-stderr-{uuid.uuid4().hex[:8]}.log",
        )
        self._stderr_file = open(self.stderr_path, "wb")
        _SERVER_LOGS.append(self.stderr_path)
        # The log is checked at a clean stop unless the test asked for text logs.
        self.log_json = not any(a == "text" for a in self.args) and \
            (env or os.environ).get("IDSYNC_LOG_FORMAT", "json") == "json"
        self.proc = subprocess.Popen(
            self.args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr_file,
            env=env,
        )
        self.url = None
        self.stdout_lines = []
        self._drain_thread = None

    # The listening line must be the first and only readiness signal; no sleeps.
    def wait_ready(self, timeout=STARTUP_TIMEOUT):
        deadline = time.monotonic() + timeout
        buf = b""
        fd = self.proc.stdout.fileno()
        while b"\n" not in buf:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.kill()
                raise AssertionError(
                    f"idsync serve printed no listening line within {timeout}s; "
                    f"stdout={buf!r} stderr={self.stderr_text()!r}"
                )
            ready, _, _ = select.select([fd], [], [], min(remaining, 0.2))
            if ready:
                chunk = os.read(fd, 4096)
                if not chunk:
                    rc = self.proc.wait(timeout=5)
                    raise AssertionError(
                        f"idsync serve exited ({rc}) before listening; "
                        f"stdout={buf!r} stderr={self.stderr_text()!r}"
                    )
                buf += chunk
        line, _, rest = buf.partition(b"\n")
        text = line.decode("utf-8", "replace")
        self.stdout_lines.append(text)
        prefix = "idsync: listening on "
        assert text.startswith(prefix), f"unexpected first stdout line {text!r}"
        self.url = text[len(prefix):].strip()
        parsed = urllib.parse.urlsplit(self.url)
        _REQUEST_IDS[parsed.port] = set()  # a port may be reused by a later server
        assert parsed.scheme in ("http", "https"), text
        assert parsed.hostname == "127.0.0.1", text
        assert parsed.port and parsed.port > 0, text
        self._extra_stdout = rest
        self._drain_thread = threading.Thread(target=self._drain, daemon=True)
        self._drain_thread.start()
        return self

    def _drain(self):
        data = self._extra_stdout
        try:
            while True:
                chunk = os.read(self.proc.stdout.fileno(), 4096)
                if not chunk:
                    break
                data += chunk
        except OSError:
            pass
        for line in data.decode("utf-8", "replace").splitlines():
            self.stdout_lines.append(line)

    @property
    def port(self):
        return urllib.parse.urlsplit(self.url).port

    @property
    def scheme(self):
        return urllib.parse.urlsplit(self.url).scheme

    @property
    def scim_base(self):
        return self.url + "/scim/v2"

    def alive(self):
        return self.proc.poll() is None

    def stderr_text(self):
        try:
            if not self._stderr_file.closed:
                self._stderr_file.flush()
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def send_signal(self, sig):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=STOP_TIMEOUT):
        """Sends `sig` and returns the exit code (kills and fails if it hangs)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"idsync serve did not exit within {timeout}s of {sig!r}")
        finally:
            self._close()
        if rc == 0 and self.log_json and self.url:
            port = self.port
            check_server_log(self.stderr_text(), port)
            _REQUEST_IDS.pop(port, None)
        return rc

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self._close()

    def _close(self):
        if self._drain_thread is not None:
            self._drain_thread.join(timeout=5)
        try:
            self.proc.stdout.close()
        except Exception:
            pass
        try:
            self._stderr_file.close()
        except Exception:
            pass


# Functional tests send requests as fast as one Python client can, which on a fast machine
# exceeds the default per-connection and per-address rates (1000/s, 2000/s). Rate limiting
# has its own tests (test_limits.py) with their own servers; elsewhere it is switched off so
# that a 429 never masks the behaviour under test.
NO_RATE_LIMITS = ("--rate-per-connection", "0", "--rate-per-address", "0",
                  "--rate-per-api-token", "0")


def start_server(binary, data_dir, extra_args=(), listen="127.0.0.1:0"):
    return ServerProcess(binary, data_dir, extra_args, listen).wait_ready()


def run_cli(binary, *args, timeout=CLI_TIMEOUT, input=None):
    """Runs `idsync ARGS...`; returns CompletedProcess with text stdout/stderr."""
    return subprocess.run(
        store_args([binary, *args]),
        capture_output=True,
        text=True,
        timeout=timeout,
        input=input,
        stdin=None if input is not None else subprocess.DEVNULL,
    )


def cli_ok(binary, *args):
    """Runs `idsync ARGS...` and asserts it succeeded; returns the CompletedProcess."""
    r = run_cli(binary, *args)
    assert r.returncode == 0, f"idsync {' '.join(map(str, args))} -> {r.returncode}: {r.stderr}"
    return r


def cli_json(binary, *args):
    r = cli_ok(binary, *args)
    try:
        out = json.loads(r.stdout)
    except ValueError:
        raise AssertionError(f"idsync {' '.join(map(str, args))}: stdout is not JSON: {r.stdout!r}")
    remember_secrets(out)
    return out


def stderr_lines(r):
    return [line for line in r.stderr.splitlines() if line.strip()]


def add_connection(binary, data_dir, name=None, directory=None):
    name = name or uniq("conn")
    args = ["connection", "add", name, "--data", data_dir]
    if directory:
        args += ["--directory", directory]
    args.append("--json")
    info = cli_json(binary, *args)
    for key in ("name", "id", "directory", "base_url", "token"):
        assert key in info, f"connection add --json lacks {key!r}: {info}"
    return info


# --------------------------------------------------------------------------- HTTP client


class Resp:
    """status, headers (lower-cased names -> last value), raw body, parsed json (or None)."""

    def __init__(self, status, headers, body, header_list=()):
        self.status = status
        self.headers = headers
        self.header_list = list(header_list)
        self.body = body
        self.json = None
        if body:
            try:
                self.json = json.loads(body)
            except ValueError:
                self.json = None

    def __iter__(self):
        return iter((self.status, self.headers, self.json))

    @property
    def content_type(self):
        return self.headers.get("content-type", "")

    def __repr__(self):
        body = self.body[:600] if self.body else b""
        return f"<Resp {self.status} {self.content_type!r} {body!r}>"


def http_request(url, method, path, body=None, headers=None, timeout=HTTP_TIMEOUT, ssl_context=None):
    """One request on a fresh connection (Connection: close). `path` may include a query."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme == "https":
        ctx = ssl_context or ssl._create_unverified_context()
        c = http.client.HTTPSConnection(parsed.hostname, parsed.port, timeout=timeout, context=ctx)
    else:
        c = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=timeout)
    hdrs = {"Connection": "close"}
    hdrs.update(headers or {})
    full_path = parsed.path.rstrip("/") + path if path.startswith("/") else parsed.path + "/" + path
    try:
        c.request(method, full_path, body=body, headers=hdrs)
        r = c.getresponse()
        data = r.read()
        header_list = [(k.lower(), v) for k, v in r.getheaders()]
        resp = Resp(r.status, dict(header_list), data, header_list)
        if "x-request-id" in resp.headers and parsed.port in _REQUEST_IDS:
            _REQUEST_IDS[parsed.port].add(resp.headers["x-request-id"])
        if resp.json is not None:
            remember_secrets(resp.json)
        return resp
    finally:
        c.close()


def encode_query(params):
    """dict/list of pairs -> query string. A value of None gives a bare flag (`?aadOptscim062020`)."""
    if params is None:
        return ""
    if isinstance(params, str):
        return params
    items = params.items() if isinstance(params, dict) else params
    parts = []
    for k, v in items:
        if v is None:
            parts.append(urllib.parse.quote(k, safe=""))
        else:
            parts.append(
                urllib.parse.quote(k, safe="") + "=" + urllib.parse.quote(str(v), safe="")
            )
    return "&".join(parts)


class Scim:
    """Tiny SCIM client. Every call returns Resp (iterable as (status, headers, json))."""

    def __init__(self, base_url, token, ssl_context=None, default_headers=None):
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.ssl_context = ssl_context
        self.default_headers = dict(default_headers or {})

    def request(self, method, path, body=None, params=None, headers=None, raw=None,
                content_type=SCIM_JSON, auth=True):
        q = encode_query(params)
        if q:
            path = path + ("&" if "?" in path else "?") + q
        hdrs = dict(self.default_headers)
        if auth and self.token is not None:
            hdrs["Authorization"] = f"Bearer {self.token}"
        data = None
        if raw is not None:
            data = raw if isinstance(raw, bytes) else raw.encode("utf-8")
        elif body is not None:
            data = json.dumps(body).encode("utf-8")
        if data is not None and content_type:
            hdrs["Content-Type"] = content_type
        hdrs["Accept"] = "application/scim+json, application/json"
        hdrs.update(headers or {})
        return http_request(self.base_url, method, path, data, hdrs, ssl_context=self.ssl_context)

    def get(self, path, params=None, **kw):
        return self.request("GET", path, params=params, **kw)

    def post(self, path, body=None, params=None, **kw):
        return self.request("POST", path, body=body, params=params, **kw)

    def put(self, path, body=None, params=None, **kw):
        return self.request("PUT", path, body=body, params=params, **kw)

    def patch(self, path, body=None, params=None, **kw):
        return self.request("PATCH", path, body=body, params=params, **kw)

    def delete(self, path, params=None, **kw):
        return self.request("DELETE", path, params=params, **kw)

    # --- conveniences that assert success
    def create_user(self, **overrides):
        r = self.post("/Users", new_user(**overrides))
        assert r.status == 201, r
        return r.json

    def create_group(self, display_name=None, members=(), **extra):
        body = {"schemas": [GROUP_URN], "displayName": display_name or uniq("group")}
        if members:
            body["members"] = [{"value": m} for m in members]
        body.update(extra)
        r = self.post("/Groups", body)
        assert r.status == 201, r
        return r.json

    def patch_ops(self, path, ops, params=None, **kw):
        return self.patch(path, {"schemas": [PATCH_URN], "Operations": ops}, params=params, **kw)

    def list(self, resource="/Users", **params):
        r = self.get(resource, params=params or None)
        assert r.status == 200, r
        return r.json

    def filter(self, resource, flt, **params):
        params["filter"] = flt
        return self.list(resource, **params)

    def member_ids(self, group_id):
        r = self.get(f"/Groups/{group_id}")
        assert r.status == 200, r
        return sorted(m["value"] for m in (r.json.get("members") or []))


def new_user(**overrides):
    """A valid core User body with a unique userName; keyword arguments override fields."""
    name = overrides.pop("userName", None) or f"{uniq('user')}@example.com"
    body = {
        "schemas": [USER_URN],
        "userName": name,
        "name": {"givenName": "Given", "familyName": "Family"},
        "displayName": "Given Family",
        "active": True,
        "emails": [{"value": name, "type": "work", "primary": True}],
    }
    for k, v in overrides.items():
        if v is None:
            body.pop(k, None)
        else:
            body[k] = v
    return body


# --------------------------------------------------------------------------- assertions


def is_scim_json(resp):
    ct = resp.content_type.split(";")[0].strip().lower()
    return ct == SCIM_JSON


def assert_scim_json(resp):
    assert is_scim_json(resp), f"Content-Type {resp.content_type!r} is not {SCIM_JSON}: {resp}"


def assert_error(resp, status, scim_type=None):
    """RFC 7644 §3.12 error: given HTTP status, SCIM error body with status as a string."""
    assert resp.status == status, f"expected {status}, got {resp}"
    assert_scim_json(resp)
    body = resp.json
    assert isinstance(body, dict), f"error body is not a JSON object: {resp}"
    assert ERROR_URN in body.get("schemas", []), f"error lacks Error schema: {body}"
    assert body.get("status") == str(status), f"error status must be the string {str(status)!r}: {body}"
    if scim_type is not None:
        if isinstance(scim_type, (tuple, list, set)):
            assert body.get("scimType") in scim_type, f"scimType {body.get('scimType')!r} not in {scim_type}: {body}"
        else:
            assert body.get("scimType") == scim_type, f"scimType {body.get('scimType')!r} != {scim_type!r}: {body}"
    return body


def assert_list_response(resp):
    assert resp.status == 200, resp
    assert_scim_json(resp)
    body = resp.json
    assert LIST_URN in body.get("schemas", []), body
    assert isinstance(body.get("totalResults"), int), body
    resources = body.get("Resources", [])
    assert isinstance(resources, list), body
    if "itemsPerPage" in body:
        assert body["itemsPerPage"] == len(resources), f"itemsPerPage != returned: {body}"
    if "startIndex" in body:
        assert isinstance(body["startIndex"], int), body
    return body


def resources(body):
    return body.get("Resources") or []


def wait_until(predicate, timeout=10.0, interval=0.05, message="condition"):
    """Bounded polling; returns the predicate's last truthy value or raises."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


def free_port_in_use():
    """A listening socket on 127.0.0.1 with an OS-chosen port; caller closes it."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    return s


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session", autouse=True)
def no_secret_in_server_logs():
    """At the end of the session: no token, password or bind secret any test was given appears
    in any server's log (issue #14)."""
    yield
    found = []
    for path in _SERVER_LOGS:
        try:
            with open(path, "rb") as f:
                content = f.read()
        except OSError:
            continue
        for s in _SECRETS:
            if s.encode() in content:
                found.append(f"{s[:10]}... in {path}")
    assert not found, f"secrets in server logs: {found[:5]}"


@pytest.fixture(scope="session")
def idsync_bin():
    path = binary_path()
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.fail(f"idsync binary not found at {path} (build it or set IDSYNC_BIN)", pytrace=False)
    return path


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("idsync-data"))


@pytest.fixture(scope="module")
def server(idsync_bin, data_dir):
    srv = start_server(idsync_bin, data_dir, NO_RATE_LIMITS)
    yield srv
    if srv.alive():
        rc = srv.stop(signal.SIGTERM)
        assert rc == 0, f"idsync serve exited {rc} on SIGTERM; stderr: {srv.stderr_text()[-2000:]}"


@pytest.fixture
def conn(idsync_bin, server):
    """A fresh connection on the module's server: dict from `connection add --json`."""
    info = add_connection(idsync_bin, server.data_dir)
    info["server"] = server
    return info


@pytest.fixture
def scim(conn, server):
    # The server's own URL is used for transport so that a wrong base_url in the CLI output
    # fails only test_cli, not every test; its path must still be /scim/v2.
    return Scim(server.scim_base, conn["token"])


@pytest.fixture
def make_scim(idsync_bin, server):
    """Factory for extra isolated connections in one test."""

    def make(directory=None):
        info = add_connection(idsync_bin, server.data_dir, directory=directory)
        client = Scim(server.scim_base, info["token"])
        client.conn = info
        return client

    return make


# --------------------------------------------------------------------------- raw sockets


def raw_exchange(url, request_head, body=b"", chunk=65536, timeout=20.0):
    """Sends a hand-made request and returns (status, headers, body) of the first response.

    The server may answer (413/431) and close before it has read everything we send; we stop
    sending as soon as a response is readable and tolerate EPIPE/ECONNRESET while sending.
    Returns status None if the connection closed without a response.
    """
    parsed = urllib.parse.urlsplit(url)
    s = socket.create_connection((parsed.hostname, parsed.port), timeout=timeout)
    try:
        data = request_head + body
        sent = 0
        try:
            while sent < len(data):
                readable, _, _ = select.select([s], [], [], 0)
                if readable:
                    break
                n = s.send(data[sent:sent + chunk])
                sent += n
        except (BrokenPipeError, ConnectionResetError):
            pass
        buf = b""
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                part = s.recv(65536)
                if not part:
                    break
                buf += part
                if b"\r\n\r\n" in buf:
                    head, _, rest = buf.partition(b"\r\n\r\n")
                    length = 0
                    for line in head.split(b"\r\n")[1:]:
                        k, _, v = line.partition(b":")
                        if k.strip().lower() == b"content-length":
                            length = int(v.strip())
                    if len(rest) >= length:
                        break
        except (ConnectionResetError, socket.timeout):
            pass
    finally:
        s.close()
    if not buf:
        return None, {}, b""
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return status, headers, rest


# --------------------------------------------------------------------------- order

# Files whose module fixtures take long to start (the Samba AD domain controller: provisioned
# and filled in 15-40 s) are collected first, so that pytest-xdist (--dist loadfile) starts them
# while the other worker runs the rest, instead of last and alone (measured: +53 s of wall time
# for the whole suite when test_ldap_ad.py ran in its alphabetical place). The scheduler failover
# test and test_ldap_admin's schedule floor wait out a one-minute schedule (86 s and 62 s in CI):
# started first, they overlap everything else too.
SLOW_START_FILES = ("test_ldap_ad.py", "test_scheduler_failover.py", "test_ldap_admin.py")


def pytest_collection_modifyitems(session, config, items):
    items.sort(key=lambda item: 0 if os.path.basename(str(item.fspath)) in SLOW_START_FILES else 1)
