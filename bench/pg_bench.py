#!/usr/bin/python3
"""idsync on PostgreSQL against PostgreSQL's own ceiling, on the same host, in the same run
(issue #15, "What must be shown" item 4).

    python3 bench/pg_bench.py                      # 20,000 users
    python3 bench/pg_bench.py --users 100000 --out bench/results/pg.json

Starts a throw-away PostgreSQL 15 cluster (tests/pg/pgcluster.py) **with durability on**
(fsync, synchronous_commit, full_page_writes: the defaults; the test cluster turns them off),
then, with the same wrk scripts, 2 threads and 16 connections as bench/run.sh:

  ceiling   PostgreSQL's own durable one-row INSERT ... COMMIT (a ~1 KiB row, one transaction
            per row) with pgbench, at 1 client and at 16 clients (16 concurrent commits share
            WAL flushes, which is the fair baseline for 16 SCIM clients); measured before the
            idsync phases and again after them, and the ratios use the mean of the two
  creates   POST /Users (create_users.lua) until --users users exist, one instance
  GET       GET /Users/{random id}: one instance with 16 connections, then two instances on the
            same database with 8 connections each (both at once; requests/s summed). On two
            shared cores two instances cannot double anything: this documents the overhead.
  PATCH     PATCH /Users/{random id} (patch_user.lua), one instance

Prints a table like the README's and writes JSON (--out). Needs wrk and postgresql-15
(tools/install-deps.sh test installs both).
"""
import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "pg"))
import bench  # noqa: E402
import pgcluster  # noqa: E402

CEILING_SQL = "INSERT INTO ceiling(body) VALUES (repeat('x', 1024));\n"


class DurableCluster(pgcluster.PgCluster):
    """The test cluster's layout, with PostgreSQL's durable defaults kept."""

    extra_opts = ""  # e.g. pg_stat_statements for --statements

    def start_server(self):
        opts = (f"-c listen_addresses=127.0.0.1 -c port={self.port} "
                f"-c unix_socket_directories='{self.root}' -c max_connections=300 "
                f"-c shared_buffers=128MB -c max_wal_size=1GB {self.extra_opts}")
        log = os.path.join(self.root, "server.log")
        subprocess.run(pgcluster._as_owner([os.path.join(pgcluster.PG_BIN, "pg_ctl"), "-D",
                                            self.pgdata, "-l", log, "-o", opts, "-w", "-t", "60",
                                            "start"]),
                       check=True, stdout=subprocess.DEVNULL)


def pg_ceiling(cluster, db, clients, seconds, workdir):
    """Durable one-row INSERT ... COMMIT per transaction with pgbench: transactions/s, p99 ms."""
    script = os.path.join(workdir, "ceiling.sql")
    with open(script, "w") as fh:
        fh.write(CEILING_SQL)
    cluster.psql("DROP TABLE IF EXISTS ceiling; "
                 "CREATE TABLE ceiling (id bigserial PRIMARY KEY, body text NOT NULL)", db)
    log_prefix = os.path.join(workdir, f"pgbench-{clients}")
    children = bench.children_cpu_s()
    pg_before = pg_cpu_s(cluster)
    r = subprocess.run([os.path.join(pgcluster.PG_BIN, "pgbench"), "-n", "-M", "prepared",
                        "-c", str(clients), "-j", str(min(clients, 2)), "-T", str(int(seconds)),
                        "-f", script, "-l", "--log-prefix", log_prefix, cluster.url(db)],
                       capture_output=True, text=True, timeout=seconds + 120, cwd=workdir)
    if r.returncode != 0:
        raise bench.Abort(f"pgbench failed: {r.stderr.strip()[-800:]}")
    tps = None
    for line in r.stdout.splitlines():
        if line.startswith("tps =") and tps is None:
            tps = float(line.split()[2])
    # Per-transaction latencies from pgbench's log (column 3: microseconds).
    # pgbench is the only child reaped since `children` was read.
    client = bench.children_cpu_s() - children
    pg_after = pg_cpu_s(cluster)
    lat = []
    for name in os.listdir(workdir):
        if name.startswith(os.path.basename(log_prefix)):
            path = os.path.join(workdir, name)
            with open(path) as fh:
                for line in fh:
                    parts = line.split()
                    if len(parts) >= 3:
                        lat.append(int(parts[2]) / 1000.0)
            os.unlink(path)
    cpu = None
    if pg_before is not None and pg_after is not None and lat:
        cpu = {"postgres_ms": round((pg_after - pg_before) * 1000 / len(lat), 3),
               "client_ms": round(client * 1000 / len(lat), 3)}
    return {"clients": clients, "tps": tps, "transactions": len(lat), "cpu_per_tx": cpu,
            "p50_ms": bench.percentile(lat, 50), "p99_ms": bench.percentile(lat, 99)}


def pg_cpu_s(cluster):
    """CPU seconds (user + system) of the PostgreSQL server: the postmaster and every process it
    started (backends, WAL writer, checkpointer). A backend that has exited is no longer counted,
    so sample around phases whose connections stay open."""
    try:
        with open(os.path.join(cluster.pgdata, "postmaster.pid")) as fh:
            postmaster = int(fh.readline())
    except (OSError, ValueError):
        return None
    total = 0.0
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        stat = bench.proc_stat(f"/proc/{name}/stat")
        if stat is None:
            continue
        _, fields, cpu = stat
        if int(name) == postmaster or int(fields[1]) == postmaster:  # fields[1]: ppid
            total += cpu
    return total


class CpuMeter:
    """CPU per write of a phase: idsync's process, PostgreSQL's processes and the load client."""

    def __init__(self, cluster, pid):
        self.cluster, self.pid = cluster, pid
        self.idsync = bench.thread_cpu(pid).get("all")
        self.pg = pg_cpu_s(cluster)

    def per_write(self, writes, client_cpu_s):
        if not writes or self.idsync is None or self.pg is None:
            return None
        idsync = bench.thread_cpu(self.pid).get("all", self.idsync) - self.idsync
        pg = pg_cpu_s(self.cluster) - self.pg
        client = client_cpu_s or 0.0
        return {"idsync_ms": round(idsync * 1000 / writes, 3),
                "postgres_ms": round(pg * 1000 / writes, 3),
                "client_ms": round(client * 1000 / writes, 3),
                "total_ms": round((idsync + pg + client) * 1000 / writes, 3)}


def reruns(port):
    """idsync_store_write_reruns_total from the server's /metrics (None if unreadable)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
            text = resp.read().decode()
    except (OSError, ValueError):
        return None
    for line in text.splitlines():
        if line.startswith("idsync_store_write_reruns_total "):
            return int(float(line.split()[1]))
    return None


def new_connection(binary, store, data, name="bench"):
    r = subprocess.run([binary, "--store", store, "connection", "add", name, "--data", data,
                        "--json"], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise bench.Abort(f"connection add failed ({r.returncode}): {r.stderr.strip()}")
    c = json.loads(r.stdout)
    prefix = urllib.parse.urlparse(c["base_url"]).path.rstrip("/") or "/scim/v2"
    return c["token"], prefix


def statement_times(cluster, db, writes):
    """PostgreSQL's execution time by statement since the last reset (pg_stat_statements):
    [(calls per write, ms per write, share of the total, statement)], largest first."""
    out = cluster.psql(
        "SELECT calls, total_exec_time, regexp_replace(query, '\\s+', ' ', 'g') "
        "FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database "
        "WHERE datname = current_database()) ORDER BY total_exec_time DESC", db)
    rows = []
    for line in out.splitlines():
        calls, ms, query = line.split("|", 2)
        rows.append((int(calls) / writes, float(ms) / writes, query))
    total = sum(r[1] for r in rows) or 1.0
    return [(c, ms, ms / total, q) for c, ms, q in rows]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--users", type=int, default=20_000)
    ap.add_argument("--bin", default=None)
    ap.add_argument("--seconds", type=float, default=8, help="length of each timed phase")
    ap.add_argument("--create-timeout", type=float, default=1800)
    ap.add_argument("--out", default=None)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--statements", action="store_true",
                    help="load pg_stat_statements and print where PostgreSQL's time went "
                         "during the PATCH phase, statement by statement")
    a = ap.parse_args()
    if not pgcluster.available():
        raise SystemExit("pg_bench.py: PostgreSQL 15 not found (tools/install-deps.sh test)")
    binary = bench.find_binary(a.bin)
    work = tempfile.mkdtemp(prefix="idsync-pgbench-")
    os.chmod(work, 0o755)
    cluster = DurableCluster(os.path.join(work, "pg"))
    if a.statements:
        cluster.extra_opts = ("-c shared_preload_libraries=pg_stat_statements "
                              "-c pg_stat_statements.track=all")
    servers = []
    R = {"users": a.users, "binary": binary, "nproc": os.cpu_count(),
         "loadavg_start": bench.loadavg(), "phases": {}, "errors": []}
    P = R["phases"]
    secs = a.seconds
    try:
        cluster.start()
        db = cluster.create_database("bench")
        store = cluster.url(db)
        bench.log(f"PostgreSQL on port {cluster.port} (durable); database {db}")
        bench.log("ceiling: pgbench, one-row INSERT ... COMMIT, 1 and 16 clients")
        P["ceiling_before"] = [pg_ceiling(cluster, db, c, secs, work) for c in (1, 16)]

        datas = [os.path.join(work, f"data{i}") for i in (1, 2)]
        for d in datas:
            os.mkdir(d)
        token, prefix = new_connection(binary, store, datas[0])
        for i, d in enumerate(datas):
            s = bench.Server(binary, d, work, extra_args=["--store", store])
            s.out_path = os.path.join(work, f"server{i + 1}.stdout")
            s.err_path = os.path.join(work, f"server{i + 1}.stderr")
            servers.append(s)
        servers[0].start()
        url = f"http://127.0.0.1:{servers[0].port}"
        lua_env = {"BENCH_TOKEN": token, "BENCH_PREFIX": prefix}
        client = bench.Client(servers[0].port, token, prefix, R["errors"])

        bench.log(f"creates: POST /Users until {a.users} users exist")
        before = reruns(servers[0].port)
        meter = CpuMeter(cluster, servers[0].proc.pid)
        r = bench.create_phase(url, lua_env, a.users, work, "pg", a.create_timeout)
        P["create"] = bench.phase_summary(r) | {"created": r.get("created"),
                                                "failed": r.get("failed"),
                                                "reruns": reruns(servers[0].port) - before}
        P["create"]["cpu_per_write"] = meter.per_write(r.get("created"), r.get("client_cpu_s"))
        servers[0].check("creates")

        f = bench.fetch_ids(client, a.users, time.monotonic() + 300)
        ids = f["ids"]
        if not ids:
            raise bench.Abort("paging returned no users")
        ids_file = os.path.join(work, "ids.txt")
        bench.write_lines(ids_file, random.Random(20261205).sample(
            ids, min(len(ids), bench.PICK_SAMPLE)))

        bench.log("GET /Users/{id}, one instance")
        P["get_one"] = bench.phase_summary(bench.run_wrk(
            "get_by_id.lua", "get_one", url, dict(lua_env, BENCH_IDS_FILE=ids_file), secs))
        servers[0].check("GET one instance")

        bench.log("GET /Users/{id}, two instances, 8 connections each")
        servers[1].start()
        results = [None, None]
        saved = bench.CONNECTIONS
        bench.CONNECTIONS = saved // 2
        # The first instance is warm from the phases before; the second gets one second of
        # the same load first. Its first requests open its PostgreSQL sessions, which warm
        # their catalog caches and prepare every statement: measured cold, 1-2% of the
        # two-instance requests took 0.7-2.3 s, warm they take a few milliseconds.
        bench.run_wrk("get_by_id.lua", "get_two_warmup", f"http://127.0.0.1:{servers[1].port}",
                      dict(lua_env, BENCH_IDS_FILE=ids_file), 1)

        def run(i):
            results[i] = bench.run_wrk("get_by_id.lua", f"get_two_{i}",
                                       f"http://127.0.0.1:{servers[i].port}",
                                       dict(lua_env, BENCH_IDS_FILE=ids_file), secs)
        try:
            threads = [threading.Thread(target=run, args=(i,)) for i in (0, 1)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        finally:
            bench.CONNECTIONS = saved
        for s in servers:
            s.check("GET two instances")
        P["get_two"] = {"rps": sum(x["rps"] for x in results),
                        "p99_ms": max(x["p99_ms"] for x in results),
                        "per_instance": [bench.phase_summary(x) for x in results]}
        servers[1].stop()

        bench.log("PATCH /Users/{id}")
        if a.statements:
            cluster.psql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements; "
                         "SELECT pg_stat_statements_reset()", db)
        before = reruns(servers[0].port)
        meter = CpuMeter(cluster, servers[0].proc.pid)
        r = bench.run_wrk("patch_user.lua", "patch_pg", url, dict(lua_env, BENCH_IDS_FILE=ids_file),
                          secs)
        P["patch"] = bench.phase_summary(r)
        P["patch"]["reruns"] = reruns(servers[0].port) - before
        P["patch"]["cpu_per_write"] = meter.per_write(r.get("requests"), r.get("client_cpu_s"))
        servers[0].check("PATCH")
        servers[0].stop()
        if a.statements:
            R["statements"] = statement_times(cluster, db, r.get("requests") or 1)

        bench.log("ceiling again")
        P["ceiling_after"] = [pg_ceiling(cluster, db, c, secs, work) for c in (1, 16)]
    finally:
        for s in servers:
            s.stop()
        try:
            cluster.stop()
        except Exception as e:  # noqa: BLE001  (report the benchmark's own error first)
            bench.log(f"stopping PostgreSQL: {e}")
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)
    R["loadavg_end"] = bench.loadavg()

    def ceiling(clients):
        xs = [c["tps"] for c in P["ceiling_before"] + P["ceiling_after"]
              if c["clients"] == clients and c["tps"]]
        return sum(xs) / len(xs)

    c1, c16 = ceiling(1), ceiling(16)
    R["ceiling_tps"] = {"1": c1, "16": c16}
    rows = [
        ("PostgreSQL one-row INSERT ... COMMIT, 1 client", P["ceiling_before"][0], None),
        ("PostgreSQL one-row INSERT ... COMMIT, 16 clients", P["ceiling_before"][1], None),
        ("SCIM creates (POST /Users), 16 connections", P["create"], c16),
        ("SCIM PATCH one user, 16 connections", P["patch"], c16),
        ("GET /Users/{id}, one instance", P["get_one"], None),
        ("GET /Users/{id}, two instances (8 + 8 connections)", P["get_two"], None),
    ]
    print(f"\n{a.users:,} users on PostgreSQL 15 (durable), {os.cpu_count()} cores, "
          f"load {R['loadavg_start']} -> {R['loadavg_end']}\n")
    print("| measure | per second | p99 ms | vs 16-client ceiling | vs 1-client ceiling | "
          "reruns |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, r, base in rows:
        rate = r.get("rps", r.get("tps"))
        ratio16 = f"{rate / c16:.2f}x" if base else ""
        ratio1 = f"{rate / c1:.2f}x" if base else ""
        p99 = r.get("p99_ms")
        rr = r.get("reruns", "")
        print(f"| {name} | {rate:,.0f} | {p99:.1f} | {ratio16} | {ratio1} | {rr} |")
    # What the machine's CPU allows: at 1x of a ceiling, every write may cost idsync, PostgreSQL
    # and the load client together at most cores / ceiling of CPU.
    cores = os.cpu_count() or 1
    print(f"\nCPU per write, ms (at 1x of the 1-client ceiling, {cores} cores allow "
          f"{1000.0 * cores / c1:.3f} ms for everything; at 1x of the 16-client ceiling, "
          f"{1000.0 * cores / c16:.3f}):\n")
    print("| measure | idsync | PostgreSQL | load client | total |")
    print("|---|---:|---:|---:|---:|")
    for name, r in (("ceiling, 1 client (per transaction)", P["ceiling_before"][0]),
                    ("ceiling, 16 clients (per transaction)", P["ceiling_before"][1]),
                    ("SCIM create", P["create"]), ("SCIM PATCH", P["patch"])):
        c = r.get("cpu_per_write") or r.get("cpu_per_tx")
        if not c:
            continue
        total = c.get("total_ms", c.get("postgres_ms", 0) + c.get("client_ms", 0))
        print(f"| {name} | {c.get('idsync_ms', '')} | {c['postgres_ms']} | {c['client_ms']} | "
              f"{total:.3f} |")
    after = P["ceiling_after"]
    print(f"\nceiling after the idsync phases: {after[0]['tps']:,.0f}/s (1 client), "
          f"{after[1]['tps']:,.0f}/s (16 clients); ratios use the mean of before and after")
    if R.get("statements"):
        print("\nPostgreSQL's execution time per PATCH, by statement (pg_stat_statements; "
              "planning, parsing and COMMIT's WAL flush not included):\n")
        print("| calls per PATCH | ms per PATCH | share | statement |")
        print("|---:|---:|---:|---|")
        for calls, ms, share, query in R["statements"][:15]:
            text = query if len(query) <= 110 else query[:107] + "..."
            print(f"| {calls:.2f} | {ms:.4f} | {share:.0%} | `{text}` |")
    if R["errors"]:
        print(f"unexpected responses: {R['errors'][:3]}")
    if a.out:
        with open(a.out, "w") as fh:
            json.dump(R, fh, indent=1)


if __name__ == "__main__":
    main()
