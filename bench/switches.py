#!/usr/bin/python3
"""Context switches and CPU per SCIM write, by thread, A/B between builds (issue #13 item 3).

For a change to how requests move between threads, the rate on shared cores is too noisy and
callgrind sees no kernel; the switches each write costs are close to deterministic. For each
round and each binary in turn (alternating): a fresh server on a fresh data folder, N creates
(POST /Users, 16 wrk connections), then S seconds of PATCH on them; for each phase, from
/proc/PID/task/*/status and stat, the voluntary and involuntary context switches and the CPU per
write of every thread name (base/thread_name: http-io, http-worker, store-writer,
store-checkpt), and their total. Environment variables are passed to the servers unchanged.

  python3 bench/switches.py --bin build/idsync [--bin OTHER/idsync] [--users 10000]
      [--seconds 6] [--rounds 3]
"""
import argparse
import collections
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (the shared phases: server, wrk, /proc readings)


def threads(pid):
    """{thread name: [voluntary switches, involuntary switches, CPU seconds]} over its threads."""
    out = collections.defaultdict(lambda: [0, 0, 0.0])
    tick = os.sysconf("SC_CLK_TCK")
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                name = f.read().strip()
            voluntary = int(bench.proc_field(f"/proc/{pid}/task/{tid}/status",
                                             "voluntary_ctxt_switches"))
            involuntary = int(bench.proc_field(f"/proc/{pid}/task/{tid}/status",
                                               "nonvoluntary_ctxt_switches"))
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            cpu = (int(fields[11]) + int(fields[12])) / tick
        except (OSError, ValueError, TypeError, IndexError):
            continue  # a thread that ended meanwhile
        row = out[name]
        row[0] += voluntary
        row[1] += involuntary
        row[2] += cpu
    return out


def per_write(before, after, writes):
    rows = {}
    total = [0.0, 0.0, 0.0]
    for name in sorted(set(before) | set(after)):
        b, a = before.get(name, [0, 0, 0.0]), after.get(name, [0, 0, 0.0])
        d = [(a[i] - b[i]) / max(writes, 1) for i in range(3)]
        # Nothing done, or threads of that name that ended between the readings.
        if (d[0] == 0 and d[1] == 0 and d[2] == 0) or min(d) < 0:
            continue
        rows[name] = d
        total = [t + x for t, x in zip(total, d)]
    rows["total"] = total
    return rows


def show(label, rate, rows):
    print(f"  {label}: {rate:,.0f}/s")
    for name, (vol, invol, cpu) in rows.items():
        print(f"    {name:14s} switches {vol + invol:5.2f} (voluntary {vol:4.2f}), "
              f"CPU {cpu * 1000:6.3f} ms")


def one(binary, users, seconds, workdir, tag):
    data = os.path.join(workdir, f"data-{tag}")
    os.mkdir(data)
    server = bench.Server(binary, data, workdir)
    server.start()
    try:
        token, prefix = bench.new_connection(binary, data)
        url = f"http://127.0.0.1:{server.port}"
        lua_env = {"BENCH_TOKEN": token, "BENCH_PREFIX": prefix}
        time.sleep(0.5)
        pid = server.proc.pid
        before = threads(pid)
        c = bench.create_phase(url, lua_env, users, workdir, tag, 600)
        show("create", c.get("rps", 0), per_write(before, threads(pid), c.get("created") or users))
        client = bench.Client(server.port, token, prefix, [])
        ids = bench.fetch_ids(client, users, time.monotonic() + 300)["ids"]
        ids_file = os.path.join(workdir, f"ids-{tag}.txt")
        bench.write_lines(ids_file, ids[:bench.PICK_SAMPLE])
        before = threads(pid)
        p = bench.run_wrk("patch_user.lua", f"patch-{tag}", url,
                          dict(lua_env, BENCH_IDS_FILE=ids_file), seconds)
        show("PATCH", p.get("rps", 0), per_write(before, threads(pid), p.get("requests") or 0))
    finally:
        server.stop()
        shutil.rmtree(data, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", action="append", required=True)
    ap.add_argument("--users", type=int, default=10000)
    ap.add_argument("--seconds", type=float, default=6)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    workdir = tempfile.mkdtemp(prefix="switches-")
    try:
        for r in range(1, args.rounds + 1):
            for i, binary in enumerate(args.bin):
                print(f"round {r}: {binary}")
                one(binary, args.users, args.seconds, workdir, f"{r}-{i}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
