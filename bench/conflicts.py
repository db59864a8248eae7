#!/usr/bin/python3
"""SCIM writes in a directory with many pending source users, against one with none.

A pending source user (a conflict: its username is held by another user) is looked for by every
write that might admit one: a username freed, a link key acquired (every create when linking is
on), a tombstone left, a user that lost its source of a connection (every delete of a linked
source). This measures what N of them cost those writes.

One server, two directories with the same policies: in each, connection "hold-DIR" (linking
off) creates N users c0..cN-1 first. Then in "users", connection "idp-users" (linking by
username) creates the same N usernames: N pending source users of idp-users, their names held.
In "customers", "idp-customers" creates N users of other names (the same mirror sizes, no
conflict). Then M creates through idp-DIR, one at a time, alternating between the directories in
blocks of 10, and then the deletes of those M users the same way. Reported per directory:
writes/s (one client, one request at a time: 1 / mean latency), the store writer thread's CPU
per write (/proc, thread "store-writer"), and the ratio users / customers: 1.0 when the
conflicts cost nothing. Only ratios compare across runs: the machine may be shared.

  python3 bench/conflicts.py --bin build/idsync [--bin OTHER/idsync] [--conflicts 3000]
      [--creates 400] [--out FILE]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (the shared phases: server, client, /proc readings)

DIRECTORIES = ("users", "customers")
BLOCK = 10  # writes per directory before switching to the other


def add_connection(binary, data, name, directory):
    out = subprocess.run([binary, "connection", "add", name, "--directory", directory,
                          "--data", data, "--json"], capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise bench.Abort(f"connection add {name} failed: {out.stderr.strip()}")
    c = json.loads(out.stdout)
    prefix = urllib.parse.urlparse(c["base_url"]).path.rstrip("/") or "/scim/v2"
    return c["token"], prefix


def set_policy(binary, data, workdir, name, policy):
    path = os.path.join(workdir, f"policy-{name}.json")
    with open(path, "w") as fh:
        json.dump(policy, fh)
    out = subprocess.run([binary, "policy", "set", name, path, "--data", data],
                         capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        raise bench.Abort(f"policy set {name} failed: {out.stderr.strip()}")


def user(name):
    return {"schemas": [bench.USER_SCHEMA], "userName": name, "displayName": name.upper()}


def fill(port, conn, names, errors, threads=4):
    """Creates `names` through `conn` (token, prefix), a few clients at once."""
    chunks = [names[i::threads] for i in range(threads)]

    def run(chunk):
        client = bench.Client(port, conn[0], conn[1], errors)
        for n in chunk:
            client.request("POST", "/Users", user(n), expect=(201,))

    ts = [threading.Thread(target=run, args=(c,)) for c in chunks]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


def measure(server, clients, make_request, count):
    """`count` requests per directory, alternating in blocks; returns per directory the mean
    latency and the writer's CPU per write."""
    out = {d: {"seconds": 0.0, "writer_s": 0.0, "process_s": 0.0, "n": 0} for d in DIRECTORIES}
    i = 0
    while i < count:
        for d in DIRECTORIES:
            before = bench.thread_cpu(server.proc.pid)
            for k in range(i, min(i + BLOCK, count)):
                method, path, body, expect = make_request(d, k)
                status, parsed, dt = clients[d].request(method, path, body, expect=expect)
                out[d]["seconds"] += dt
                out[d]["n"] += 1
                if status in expect and method == "POST":
                    clients[d].ids.append(parsed["id"])
            after = bench.thread_cpu(server.proc.pid)
            out[d]["writer_s"] += after.get("store-writer", 0.0) - before.get("store-writer", 0.0)
            out[d]["process_s"] += after.get("all", 0.0) - before.get("all", 0.0)
        i += BLOCK
    result = {}
    for d, x in out.items():
        n = max(x["n"], 1)
        result[d] = {"writes": x["n"], "writes_per_s": round(n / x["seconds"], 1),
                     "mean_ms": round(x["seconds"] * 1000 / n, 3),
                     "writer_ms_per_write": round(x["writer_s"] * 1000 / n, 3),
                     "process_ms_per_write": round(x["process_s"] * 1000 / n, 3)}
    result["ratio"] = round(result["users"]["writes_per_s"] / result["customers"]["writes_per_s"],
                            3)
    return result


def one(binary, conflicts, creates, workdir, tag):
    data = os.path.join(workdir, f"data-{tag}")
    os.mkdir(data)
    conns = {}
    for d in DIRECTORIES:
        conns[f"hold-{d}"] = add_connection(binary, data, f"hold-{d}", d)
        conns[f"idp-{d}"] = add_connection(binary, data, f"idp-{d}", d)
        set_policy(binary, data, workdir, f"hold-{d}", {"linking": {"key": "none"}})
        set_policy(binary, data, workdir, f"idp-{d}", {"linking": {"key": "username"}})
    server = bench.Server(binary, data, workdir)
    server.start()
    errors = []
    out = {"binary": binary, "conflicts": conflicts, "creates": creates}
    try:
        t0 = time.monotonic()
        names = [f"c{i}" for i in range(conflicts)]
        for d in DIRECTORIES:
            fill(server.port, conns[f"hold-{d}"], names, errors)
        fill(server.port, conns["idp-users"], names, errors)
        fill(server.port, conns["idp-customers"], [f"d{i}" for i in range(conflicts)], errors)
        out["fill_s"] = round(time.monotonic() - t0, 1)
        server.check("fill")
        clients = {}
        for d in DIRECTORIES:
            clients[d] = bench.Client(server.port, *conns[f"idp-{d}"], errors)
            clients[d].ids = []
        out["create"] = measure(
            server, clients,
            lambda d, k: ("POST", "/Users", user(f"new{k}"), (201,)), creates)
        out["delete"] = measure(
            server, clients,
            lambda d, k: ("DELETE", f"/Users/{clients[d].ids[k]}", None, (204,)),
            min(len(clients["users"].ids), len(clients["customers"].ids)))
        server.check("measure")
    finally:
        server.stop()
        shutil.rmtree(data, ignore_errors=True)
    out["errors"] = errors
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", action="append", required=True)
    ap.add_argument("--conflicts", type=int, default=3000)
    ap.add_argument("--creates", type=int, default=400)
    ap.add_argument("--out")
    args = ap.parse_args()
    workdir = tempfile.mkdtemp(prefix="idsync-conflicts-")
    runs = []
    try:
        for i, b in enumerate(args.bin):
            run = one(os.path.abspath(b), args.conflicts, args.creates, workdir, str(i))
            runs.append(run)
            print_run(run)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if args.out:
        with open(args.out, "w") as fh:
            json.dump({"loadavg": bench.loadavg(), "runs": runs}, fh, indent=2)
    return 1 if any(r["errors"] for r in runs) else 0


def print_run(run):
    print(f"{run['binary']}: {run['conflicts']} conflicts in users, none in customers "
          f"(filled in {run['fill_s']} s)")
    for kind in ("create", "delete"):
        x = run[kind]
        for d in DIRECTORIES:
            y = x[d]
            print(f"  {kind} {d:9}: {y['writes_per_s']:8.1f}/s, {y['mean_ms']:.2f} ms, CPU ms/write "
                  f"writer {y['writer_ms_per_write']:.2f} process {y['process_ms_per_write']:.2f} "
                  f"({y['writes']} writes)")
        print(f"  {kind} ratio users/customers: {x['ratio']:.2f}x")
    for e in run["errors"][:5]:
        print(f"  error: {e}")
    sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
