#!/usr/bin/env python3
"""Instructions per SCIM write, A/B between builds (callgrind; issue #13 item 3).

    python3 bench/instructions.py --bin BEFORE --bin AFTER [--users 200] [--patches 400]

On these shared cores the rate of a change that saves a few percent of the CPU per write is
lost in the noise of `write_path.py`. Instructions are not: each build's `serve` runs under
callgrind (all threads), the counters are zeroed before and dumped after each phase
(`callgrind_control`), and the phases send the same requests one at a time: creates, then
PATCHes of random users alternating displayName and active as `patch_user.lua` does. A warm-up
of uncounted creates (instrumentation off) first takes the store past its compression
dictionaries' trainings, and the tool waits for the server to go idle. The
figure is every instruction of the server process per request, the writer's and the HTTP
threads' alike. One write per commit (one client), so a commit's fixed cost counts whole here,
where group commit shares it under load.
"""
import argparse
import glob
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def callgrind_control(*args):
    subprocess.run(["callgrind_control", *args], check=True, capture_output=True, timeout=120)


def dumped_total(out_prefix, pid, before):
    """The instruction total of the newest dump of `pid` not among `before`."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        files = set(glob.glob(f"{out_prefix}.{pid}*")) - before
        for path in files:
            with open(path, errors="replace") as f:
                m = re.search(r"^(?:totals|summary): (\d+)", f.read(), re.M)
            if m:
                return int(m.group(1))
        time.sleep(0.2)
    raise bench.Abort("callgrind wrote no dump")


def wait_idle(pid, quiet_s=2.0, timeout_s=300):
    """Returns once the process has used no CPU for `quiet_s` (a training finished)."""
    def cpu_s():
        stat = bench.proc_stat(f"/proc/{pid}/stat")
        if stat is None:
            raise bench.Abort("the server exited during the warm-up")
        return stat[2]

    tick = 1.0 / os.sysconf("SC_CLK_TCK")
    deadline = time.monotonic() + timeout_s
    last, since = cpu_s(), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.25)
        now = cpu_s()
        if now - last > 1.5 * tick:  # a tick is the server's idle housekeeping
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            return
    raise bench.Abort("the server did not go idle after the warm-up")


def measure(binary, users, patches, seed, warmup, keep=None):
    work = tempfile.mkdtemp(prefix="instr-")
    data = os.path.join(work, "data")
    os.mkdir(data)
    out_prefix = os.path.join(work, "callgrind.out")
    wrapper = os.path.join(work, "serve-under-callgrind")
    with open(wrapper, "w") as f:
        f.write(f"#!/bin/sh\nexec valgrind --tool=callgrind --instr-atstart=no "
                f"--callgrind-out-file={out_prefix}.%p "
                f"{os.path.abspath(binary)} \"$@\"\n")
    os.chmod(wrapper, 0o755)
    token, prefix = bench.new_connection(binary, data)
    server = bench.Server(wrapper, data, work)
    server.start(timeout=180)
    try:
        errors = []
        client = bench.Client(server.port, token, prefix, errors)
        pid = server.proc.pid
        rng = random.Random(seed)
        result = {}
        ids = []

        def send(requests):
            """Sends each request; keeps the ids that creates answer with. Returns the count."""
            n = 0
            for method, path, body, expect in requests:
                _, answer, _ = client.request(method, path, body, expect=expect)
                if method == "POST" and answer:
                    ids.append(answer["id"])
                n += 1
            return n

        def phase(name, requests):
            """Instructions per request of one phase."""
            callgrind_control("-z", str(pid))
            before = set(glob.glob(f"{out_prefix}.{pid}*"))
            n = send(requests)
            callgrind_control("-d", str(pid))
            result[name] = dumped_total(out_prefix, pid, before) / max(n, 1)

        def creates(count, tag):
            for i in range(count):
                name = f"{tag}{seed}-{i:06d}"
                yield ("POST", "/Users", {
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": name, "externalId": f"ext-{name}", "active": True,
                    "displayName": f"User {i}", "name": {"givenName": "User", "familyName": str(i)},
                    "emails": [{"value": f"{name}@example.com", "type": "work", "primary": True}],
                    "title": "Engineer"}, (201,))

        def patches_of_random_users():
            for n in range(patches):
                if n % 2 == 0:
                    op = {"op": "replace", "value": {"displayName": f"Patched {n}"}}
                else:
                    op = {"op": "Replace", "path": "active", "value": n % 4 == 1}
                yield ("PATCH", f"/Users/{rng.choice(ids)}",
                       {"schemas": [PATCH_OP], "Operations": [op]}, (200,))

        # Warm-up, not counted: past the 1,000 bodies of each kind after which the store trains
        # its compression dictionaries (a training in a measured phase would count ~150 M
        # instructions), then until the server's CPU is idle.
        send(creates(warmup, "warm"))
        wait_idle(pid)
        callgrind_control("-i", "on", str(pid))
        phase("create", creates(users, "instr"))
        phase("patch", patches_of_random_users())
        if errors:
            raise bench.Abort(f"unexpected answers: {errors[:3]}")
        return result
    finally:
        server.stop()
        if keep:
            os.makedirs(keep, exist_ok=True)
            for path in glob.glob(f"{out_prefix}.*"):
                shutil.copy(path, keep)
        shutil.rmtree(work, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", action="append", required=True)
    ap.add_argument("--users", type=int, default=200)
    ap.add_argument("--patches", type=int, default=400)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--warmup", type=int, default=1100,
                    help="creates before measuring (past the dictionary trainings)")
    ap.add_argument("--keep", help="copy the callgrind dumps here (callgrind_annotate reads them)")
    args = ap.parse_args()
    if not shutil.which("callgrind_control"):
        sys.exit("instructions.py needs valgrind (Debian package valgrind)")
    rows = []
    for binary in args.bin:
        r = measure(binary, args.users, args.patches, args.seed, args.warmup, args.keep)
        rows.append((binary, r))
        print(f"{binary}: {r['create'] / 1e6:.3f} M instructions per create, "
              f"{r['patch'] / 1e6:.3f} M per PATCH ({args.users} creates, {args.patches} PATCHes, "
              f"one at a time)", flush=True)
    if len(rows) > 1:
        base = rows[0][1]
        for binary, r in rows[1:]:
            print(f"{binary} against {rows[0][0]}: create {r['create'] / base['create']:.3f}x, "
                  f"PATCH {r['patch'] / base['patch']:.3f}x")


if __name__ == "__main__":
    main()
