#!/usr/bin/python3
"""Durable SCIM writes against SQLite's own ceiling, A/B between builds (issue #13 item 3).

For each round and each binary in turn (alternating, so that a change in the machine's load
hits both alike): a fresh server on a fresh data folder, N creates (POST /Users, 16 wrk
connections), then S seconds of PATCH on them; and, in the same round, the store ceiling
(durable one-row transactions, bench/store_ceiling.cpp). Besides the rates it reports where the
CPU went per write, from /proc per thread (base/thread_name names them): the whole process,
the store's writer thread, and the HTTP handler threads. One thread runs every write, so
1000 / writer_ms is what this server can commit whatever the disk; 1000 * cores /
(process_ms + client_ms) is what the machine's CPU allows, the load client (wrk) sharing the
cores. The ceiling's own CPU per transaction shows how much of it is the disk. It also reports
the 4 KiB pages the writer thread wrote per write (its WAL frames, from /proc per thread), and
the context switches per write of the same thread groups: close to deterministic where the
rates and CPU on shared cores are not, so the check for a change to how requests move between
threads (callgrind, in instructions.py, counts no kernel time).

  python3 bench/write_path.py --bin build/idsync [--bin OTHER/idsync] [--users 20000]
      [--seconds 5] [--rounds 2] [--mirror-only] [--out FILE]

Each run first measures the HTTP floor: GET /bench/static (no SCIM, no store) on the same
connections, the CPU one request and its answer cost the server and wrk. --mirror-only adds,
for each binary, a run of `serve --bench-mirror-only` (SCIM writes stored in the connection's
mirror with their audit record, the effective directory not derived): what the SCIM service
provider's write costs without the policy step of the same transaction.
"""
import argparse
import json
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (the shared phases: server, wrk, ceiling, /proc readings)


def measured(server, phase, count_key):
    """Runs phase() (a wrk phase against `server`) and adds to its result what the server spent
    per request between /proc and /metrics samples taken around it: CPU and context switches by
    thread group, pages the writer wrote, writes per commit, and the load client's CPU."""
    pid = server.proc.pid
    counts, cpu = bench.write_counts(server.port), bench.thread_cpu(pid)
    switches, written = bench.thread_switches(pid), bench.writer_bytes(pid)
    r = phase()
    n = r.get(count_key)
    r["pages_per_write"] = bench.pages_per_write(written, bench.writer_bytes(pid), n)
    r["writes_per_commit"] = bench.writes_per_commit(counts, bench.write_counts(server.port))
    r["cpu_per_write"] = bench.cpu_per_write(cpu, bench.thread_cpu(pid), n)
    r["switches_per_write"] = bench.switches_per_write(switches, bench.thread_switches(pid), n)
    client = r.get("client_cpu_s")  # the load client's (wrk's) CPU during the phase
    r["client_ms_per_write"] = round(client * 1000.0 / n, 3) if client is not None and n else None
    return r


def one(binary, users, seconds, workdir, tag, mirror_only=False):
    data = os.path.join(workdir, f"data-{tag}")
    os.mkdir(data)
    server = bench.Server(binary, data, workdir,
                          ["--bench-mirror-only"] if mirror_only else [])
    server.start()
    out = {"binary": binary, "mirror_only": mirror_only}
    try:
        token, prefix = bench.new_connection(binary, data)
        url = f"http://127.0.0.1:{server.port}"
        lua_env = {"BENCH_TOKEN": token, "BENCH_PREFIX": prefix}
        time.sleep(0.5)
        # The HTTP floor: GET /bench/static (~1 KiB body, no store, no SCIM) on the same 16
        # connections. What one request and its answer cost this server and the load client
        # before any SCIM or store work, out of the CPU the cores give each write at 1x.
        out["static"] = measured(server, lambda: bench.run_wrk(
            "static.lua", f"static-{tag}", url, lua_env, min(seconds, 4)), "requests")
        load = bench.loadavg()
        c = measured(server, lambda: bench.create_phase(url, lua_env, users, workdir, tag, 600),
                     "created")
        c["loadavg_start"] = load
        out["create"] = c
        errors = []
        client = bench.Client(server.port, token, prefix, errors)
        f = bench.fetch_ids(client, users, time.monotonic() + 300)
        ids_file = os.path.join(workdir, f"ids-{tag}.txt")
        bench.write_lines(ids_file, f["ids"][:bench.PICK_SAMPLE])
        out["patch"] = measured(server, lambda: bench.run_wrk(
            "patch_user.lua", f"patch-{tag}", url, dict(lua_env, BENCH_IDS_FILE=ids_file),
            seconds), "requests")
    finally:
        server.stop()
        shutil.rmtree(data, ignore_errors=True)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", action="append", required=True)
    ap.add_argument("--users", type=int, default=20000)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--mirror-only", action="store_true",
                    help="also run each binary with serve --bench-mirror-only (SCIM writes skip "
                    "the effective directory), in the same rounds")
    ap.add_argument("--out")
    args = ap.parse_args()
    runs = [(os.path.abspath(b), mo) for b in args.bin
            for mo in ((False, True) if args.mirror_only else (False,))]
    workdir = tempfile.mkdtemp(prefix="idsync-write-path-")
    rounds = []
    try:
        for r in range(args.rounds):
            row = {"ceiling": bench.store_ceiling(workdir, 5), "runs": []}
            for i, (b, mo) in enumerate(runs):
                row["runs"].append(one(b, args.users, args.seconds, workdir, f"{r}-{i}", mo))
            rounds.append(row)
            print_round(r, row)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if args.out:
        with open(args.out, "w") as fh:
            json.dump({"users": args.users, "seconds": args.seconds, "rounds": rounds}, fh,
                      indent=2)
    return 0


def print_round(r, row):
    ceil = row["ceiling"].get("inserts_per_s")
    cores = os.cpu_count() or 1
    # At 1x of the ceiling every write may cost the whole machine (server, load client and
    # kernel together) at most this much CPU.
    budget = 1000.0 * cores / ceil if ceil else 0
    print(f"round {r + 1}: store ceiling {ceil:.0f} durable one-row transactions/s "
          f"({row['ceiling'].get('cpu_ms_per_insert', 0):.3f} ms CPU each); at 1x, {cores} cores "
          f"give each write {budget:.3f} ms CPU")
    for run in row["runs"]:
        name = run["binary"] + (" --bench-mirror-only" if run.get("mirror_only") else "")
        st = run.get("static", {})
        st_cpu = st.get("cpu_per_write") or {}
        print(f"  {name}: HTTP floor GET /bench/static {st.get('rps') or 0:.0f}/s, "
              f"CPU ms/request: process {st_cpu.get('process_ms')} http-worker "
              f"{st_cpu.get('http_worker_ms')} http-io {st_cpu.get('http_io_ms')}, load client "
              f"(wrk) {st.get('client_ms_per_write')}")
        for kind, rate_key, n_key in (("create", "creates_per_s", "created"),
                                      ("patch", "rps", "requests")):
            x = run.get(kind, {})
            rate = x.get(rate_key) or 0
            cpu = x.get("cpu_per_write") or {}
            sw = x.get("switches_per_write") or {}
            print(f"  {name}: {kind} {rate:.0f}/s ({rate / ceil:.2f}x), "
                  f"p50 {x.get('p50_ms', 0):.1f} p99 {x.get('p99_ms', 0):.1f} ms, "
                  f"{x.get(n_key)} writes, {x.get('writes_per_commit') or 0:.1f} per commit, "
                  f"{x.get('pages_per_write')} pages written per write, "
                  f"CPU ms/write: process {cpu.get('process_ms')} writer {cpu.get('writer_ms')} "
                  f"http-worker {cpu.get('http_worker_ms')} http-io {cpu.get('http_io_ms')}, "
                  f"load client (wrk) {x.get('client_ms_per_write')}; context switches/write: "
                  f"process {sw.get('process')} writer {sw.get('writer')} http-worker "
                  f"{sw.get('http_worker')} http-io {sw.get('http_io')}")
    sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
