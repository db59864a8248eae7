"""One throw-away PostgreSQL 15 cluster for a test session, and a database per test.

The cluster lives in a temporary folder, listens only on 127.0.0.1 on a free port (no Unix
socket outside the folder), trusts local connections, and is owned by an unprivileged system
user: PostgreSQL refuses to run as root, and the tests often run as root. When the tests run
as root the server runs as the `postgres` user (Debian's postgresql-15 creates it; `runuser`
switches to it); otherwise it runs as whoever runs the tests.

Durability is off (fsync=off, synchronous_commit=off, full_page_writes=off): these only
matter when the machine or PostgreSQL itself crashes, and no test crashes either (the outage
test stops the server with a "fast" shutdown, which writes everything out first). What the
tests check, the store's transactions, isolation and retries, is unchanged; a commit no longer
waits for a disk flush, which is most of a small write's time on a shared CI disk. The WAL
size is small to keep the folder small.

Creating a database per test copies `template1` (CREATE DATABASE ... TEMPLATE), about 10 ms.

Used by tests/e2e/conftest.py (session fixture) and, as a script, by tools/pg-test-cluster.sh
for the C++ tests:
    python3 tests/pg/pgcluster.py start DIR   -> prints the base URL, leaves the server running
    python3 tests/pg/pgcluster.py stop DIR
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid

PG_BIN = os.environ.get("IDSYNC_PG_BIN", "/usr/lib/postgresql/15/bin")
SUPERUSER = "idsync_test"


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_owner(cmd):
    """`cmd` run as the cluster's owner: `postgres` when we are root, else ourselves."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


def available():
    return os.path.exists(os.path.join(PG_BIN, "initdb"))


class PgCluster:
    def __init__(self, root):
        self.root = root
        self.pgdata = os.path.join(root, "data")
        self.port_file = os.path.join(root, "port")
        self.port = None

    @property
    def base_url(self):
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}"

    def url(self, db):
        return f"{self.base_url}/{db}"

    def start(self):
        os.makedirs(self.root, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        os.chmod(self.root, 0o700)
        subprocess.run(_as_owner([os.path.join(PG_BIN, "initdb"), "-D", self.pgdata, "-U",
                                  SUPERUSER, "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8",
                                  "--no-instructions"]),
                       check=True, stdout=subprocess.DEVNULL)
        self.port = _free_port()
        self.start_server()
        with open(self.port_file, "w") as f:
            f.write(str(self.port))
        return self

    def start_server(self):
        """Starts the cluster's server (again, after stop_server) on its port."""
        opts = (f"-c listen_addresses=127.0.0.1 -c port={self.port} "
                f"-c unix_socket_directories='{self.root}' -c max_connections=300 "
                f"-c max_wal_size=256MB -c shared_buffers=64MB "
                f"-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
        log = os.path.join(self.root, "server.log")
        subprocess.run(_as_owner([os.path.join(PG_BIN, "pg_ctl"), "-D", self.pgdata, "-l", log,
                                  "-o", opts, "-w", "-t", "60", "start"]),
                       check=True, stdout=subprocess.DEVNULL)

    def stop_server(self, mode="fast"):
        """Stops the server and keeps the cluster (an outage: start_server brings it back)."""
        subprocess.run(_as_owner([os.path.join(PG_BIN, "pg_ctl"), "-D", self.pgdata, "-m", mode,
                                  "-w", "-t", "60", "stop"]),
                       check=True, stdout=subprocess.DEVNULL)

    def load(self):
        with open(self.port_file) as f:
            self.port = int(f.read())
        return self

    def psql(self, sql, db="postgres"):
        r = subprocess.run([os.path.join(PG_BIN, "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1",
                            "-d", self.url(db), "-At", "-c", sql],
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError(f"psql failed: {r.stderr}")
        return r.stdout

    def create_database(self, prefix="t", template="template1"):
        """A new database, a copy of `template` (which must have no open connections)."""
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        self.psql(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        return name

    def drop_database(self, name):
        self.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self):
        if os.path.exists(os.path.join(self.pgdata, "postmaster.pid")):
            subprocess.run(_as_owner([os.path.join(PG_BIN, "pg_ctl"), "-D", self.pgdata, "-m",
                                      "immediate", "-w", "stop"]),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(self.root, ignore_errors=True)


def new_cluster():
    """A started cluster in a fresh temporary folder (the caller stops it)."""
    root = tempfile.mkdtemp(prefix="idsync-pg-")
    return PgCluster(root).start()


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("start", "stop", "createdb"):
        sys.exit("usage: pgcluster.py start|stop|createdb DIR")
    cmd, root = sys.argv[1], sys.argv[2]
    if cmd == "start":
        print(PgCluster(root).start().base_url)
    elif cmd == "createdb":
        cluster = PgCluster(root).load()
        print(cluster.url(cluster.create_database()))
    else:
        PgCluster(root).stop()
