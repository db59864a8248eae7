#!/usr/bin/python3
"""The first requests a new idsync instance answers on PostgreSQL (issue #15: an instance that a
load balancer adds, or one restarted, should answer as fast as the others from its first
request).

    python3 bench/pg_first_requests.py --bin build/idsync [--bin OTHER/idsync] [--rounds 5]

Starts a throw-away durable PostgreSQL 15 cluster (as bench/pg_bench.py), loads 500 users
through one instance, then for each round and each binary in turn (alternating): starts a new
instance on the same database and, as soon as `serve` has printed its address, sends N
concurrent GET /Users/{id} (default 8, one connection each), and reports the slowest and the
median. Before `serve` warmed the store (twentieth session) the first requests each waited for
a new PostgreSQL session and for one round trip per statement they were first to run.
"""
import argparse
import http.client
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "pg"))
import bench  # noqa: E402
import pg_bench  # noqa: E402
import pgcluster  # noqa: E402


def first_requests(port, token, ids, n):
    """Latencies (ms) of n concurrent GETs by id, each on a connection of its own."""
    lat = [None] * n
    errors = []

    def one(i):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        t = time.monotonic()
        c.request("GET", f"/scim/v2/Users/{ids[i % len(ids)]}",
                  headers={"Authorization": f"Bearer {token}"})
        resp = c.getresponse()
        resp.read()
        lat[i] = (time.monotonic() - t) * 1000
        if resp.status != 200:
            errors.append(resp.status)
        c.close()
    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise bench.Abort(f"first requests answered {errors}")
    return lat


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", action="append", help="idsync binary (repeat to compare builds)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--requests", type=int, default=8)
    a = ap.parse_args()
    if not pgcluster.available():
        raise SystemExit("pg_first_requests.py: PostgreSQL 15 not found "
                         "(tools/install-deps.sh test)")
    binaries = [bench.find_binary(b) for b in (a.bin or [None])]
    work = tempfile.mkdtemp(prefix="idsync-pgfirst-")
    os.chmod(work, 0o755)
    cluster = pg_bench.DurableCluster(os.path.join(work, "pg"))
    results = {b: [] for b in binaries}
    try:
        cluster.start()
        store = cluster.url(cluster.create_database("bench"))
        loader_data = os.path.join(work, "loader")
        os.mkdir(loader_data)
        token, prefix = pg_bench.new_connection(binaries[0], store, loader_data)
        loader = bench.Server(binaries[0], loader_data, work, extra_args=["--store", store])
        loader.start()
        try:
            bench.create_phase(f"http://127.0.0.1:{loader.port}",
                               {"BENCH_TOKEN": token, "BENCH_PREFIX": prefix}, 500, work,
                               "load", 300)
            ids = bench.fetch_ids(bench.Client(loader.port, token, prefix, []), 500,
                                  time.monotonic() + 120)["ids"]
        finally:
            loader.stop()
        for r in range(a.rounds):
            for i, b in enumerate(binaries):
                data = os.path.join(work, f"round{r}-{i}")
                os.mkdir(data)
                server = bench.Server(b, data, work, extra_args=["--store", store])
                started = time.monotonic()
                server.start()
                start_s = time.monotonic() - started
                try:
                    lat = first_requests(server.port, token, ids, a.requests)
                finally:
                    server.stop()
                results[b].append({"start_s": start_s, "max_ms": max(lat),
                                   "median_ms": statistics.median(lat)})
                bench.log(f"round {r + 1} {b}: serve ready in {start_s:.2f} s; first "
                          f"{a.requests} GETs slowest {max(lat):.1f} ms, median "
                          f"{statistics.median(lat):.1f} ms")
    finally:
        try:
            cluster.stop()
        finally:
            shutil.rmtree(work, ignore_errors=True)
    print(f"\n{a.requests} concurrent first GET /Users/{{id}} on a new instance, {a.rounds} "
          f"rounds, load {bench.loadavg()}\n")
    print("| binary | slowest of each round, ms | median of the slowest | serve start, s |")
    print("|---|---|---:|---:|")
    for b in binaries:
        xs = results[b]
        slowest = ", ".join("%.1f" % x["max_ms"] for x in xs)
        print(f"| {b} | {slowest} | "
              f"{statistics.median(x['max_ms'] for x in xs):.1f} | "
              f"{statistics.median(x['start_s'] for x in xs):.2f} |")


if __name__ == "__main__":
    try:
        main()
    except bench.Abort as e:
        raise SystemExit(f"pg_first_requests.py: {e}")
