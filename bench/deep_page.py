#!/usr/bin/python3
"""Deep paging (issue #13 item 4): GET /Users at startIndex 600,001 of 1,000,000 against the
first page, on one keep-alive connection, the server otherwise idle.

    python3 bench/deep_page.py                       # 1,000,000 users, start 600,001
    python3 bench/deep_page.py --users 20000 --start 12001 --samples 20   # quick run

Loads the users with bench/bulk_users (through the store, mirror only: build it with
-DIDSYNC_BUILD_BENCH=ON or the tests), starts `idsync serve` on the folder and measures, each
page `--count` users (default 100), full bodies:
  first      startIndex=1, repeated
  cold       the first request at --start (a jump with nothing remembered: one index-only
             skip over --start entries, leaving a checkpoint every 8,192)
  repeat     startIndex=--start again (from the nearest checkpoint)
  walk       startIndex=--start, --start+count, ...: a client walking the pages (by key)
  jump       distinct random startIndex values at or below --start (nearest checkpoint)
First and deep samples alternate, so drift in the machine's load falls on both. Reported:
median and p99 ms of each, and each deep median / first median. Every deep page is checked
against the users it must hold (bulk_users' users are in pk order), and totalResults.
"""
import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (Server, Client, new_connection, percentile, loadavg, find_binary)


def user_id(n):
    return f"{n:08x}-b01c-4000-8000-{n:012x}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--users", type=int, default=1_000_000)
    ap.add_argument("--start", type=int, default=600_001)
    ap.add_argument("--count", type=int, default=100)
    ap.add_argument("--samples", type=int, default=50)
    ap.add_argument("--bin", default=None)
    ap.add_argument("--bulk", default=None, help="bulk_users (default: next to the binary's build)")
    ap.add_argument("--out", default=None)
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    binary = bench.find_binary(a.bin)
    bulk = a.bulk or os.path.join(os.path.dirname(binary), "bench", "bulk_users")
    if not os.access(bulk, os.X_OK):
        raise SystemExit(f"deep_page.py: {bulk} not found (cmake -DIDSYNC_BUILD_BENCH=ON)")
    work = tempfile.mkdtemp(prefix="idsync-deep-")
    data = os.path.join(work, "data")
    os.mkdir(data)
    R = {"users": a.users, "start": a.start, "count": a.count, "samples": a.samples,
         "binary": binary, "loadavg_start": bench.loadavg()}
    server = None
    try:
        token, prefix = bench.new_connection(binary, data)
        t0 = time.monotonic()
        load = subprocess.run([bulk, data, "bench", str(a.users)], capture_output=True,
                              text=True, check=True)
        R["load"] = json.loads(load.stdout)
        R["load"]["wall_s"] = round(time.monotonic() - t0, 1)
        bench.log(f"loaded {a.users} users in {R['load']['wall_s']} s")
        server = bench.Server(binary, data, work)
        server.start()
        errors = []
        client = bench.Client(server.port, token, prefix, errors)

        def page(start):
            status, body, dt = client.request("GET", f"/Users?startIndex={start}&count={a.count}")
            if status != 200 or not body:
                raise SystemExit(f"GET startIndex={start}: {status} {errors[-1:]}")
            ids = [r["id"] for r in body.get("Resources", [])]
            want = [user_id(n) for n in range(start - 1, min(a.users, start - 1 + a.count))]
            if ids != want or body.get("totalResults") != a.users:
                raise SystemExit(f"startIndex={start}: wrong page ({ids[:2]} vs {want[:2]}, "
                                 f"totalResults {body.get('totalResults')})")
            return dt * 1000

        for _ in range(5):  # warm up connection, statement caches and the first pages
            page(1)
        cold = page(a.start)
        first, repeat, walk, jump = [], [], [], []
        rng = random.Random(13)
        jumps = rng.sample(range(1, a.start + 1), a.samples)
        for i in range(a.samples):
            first.append(page(1))
            repeat.append(page(a.start))
            first.append(page(1))
            walk.append(page(a.start + (i + 1) * a.count))
            first.append(page(1))
            jump.append(page(jumps[i]))

        def stats(xs):
            return {"median_ms": round(bench.percentile(xs, 50), 3),
                    "p99_ms": round(bench.percentile(xs, 99), 3)}

        R["first"] = stats(first)
        R["cold_ms"] = round(cold, 3)
        for name, xs in (("repeat", repeat), ("walk", walk), ("jump", jump)):
            R[name] = stats(xs)
            R[name]["ratio_to_first"] = round(R[name]["median_ms"] / R["first"]["median_ms"], 2)
        R["cold_ratio_to_first"] = round(cold / R["first"]["median_ms"], 2)
        R["loadavg_end"] = bench.loadavg()
        f = R["first"]["median_ms"]
        print(f"\n{a.users:,} users, page of {a.count}, medians of {a.samples} (p99), "
              f"load {R['loadavg_start']} -> {R['loadavg_end']}\n")
        print("| page | median ms | p99 ms | / first page |")
        print("|---|---:|---:|---:|")
        print(f"| first (startIndex=1) | {f} | {R['first']['p99_ms']} | 1.00 |")
        print(f"| startIndex={a.start:,}, cold (first jump there) | {R['cold_ms']} | | "
              f"{R['cold_ratio_to_first']} |")
        for name, label in (("repeat", f"startIndex={a.start:,} again"),
                            ("walk", f"walking on from {a.start:,}"),
                            ("jump", f"random startIndex <= {a.start:,}")):
            print(f"| {label} | {R[name]['median_ms']} | {R[name]['p99_ms']} | "
                  f"{R[name]['ratio_to_first']} |")
        if a.out:
            with open(a.out, "w") as fh:
                json.dump(R, fh, indent=2)
    finally:
        if server:
            server.stop()
        if a.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
