#!/usr/bin/python3
"""Policy preview and apply at scale (issue #13 items 1-2): peak memory, time and counts of
`idsync policy preview` and `idsync policy set` on a large directory, and the latency of a
SCIM client PATCHing one user at a time while the apply runs.

    python3 bench/policy_scale.py                     # 100,000 users
    python3 bench/policy_scale.py --users 1000000
    python3 bench/policy_scale.py --users 20000       # quick run
    python3 bench/policy_scale.py --underived         # no user linked yet (see below)
    python3 bench/policy_scale.py --unlink 100        # 100 sources pending (see below)

Loads the users with `bench/bulk_users --derive` (through the store, each batch derived into
the effective directory as a SCIM create derives it; build it with -DIDSYNC_BUILD_BENCH=ON or
the tests), starts `idsync serve` on the folder, then through the CLI (a separate process, as
an administrator runs it, while the server serves):
  preview   `idsync policy preview` of bench.BENCH_POLICY's user-level part (displayName from
            userName, every user in the default group "everyone"): wall time, CPU, peak RSS
  apply     `idsync policy set` of the same policy, while a client PATCHes (replace title) a
            random user, one request at a time, on one keep-alive connection: the apply's wall
            time, CPU and peak RSS; the PATCHes' count, statuses, median, p99 and max
  after     a second preview, which must show no change
With --underived the users are loaded into the mirror only (bulk_users without --derive): no
source user is linked, the non-steady case at its largest. The preview and the apply then make
the linking decision for every source (linking_plan.cpp) and create every effective user (the
apply's phase 3); a PATCH during the apply derives its user live, so the apply creates fewer.
With --unlink K, K links of derived users are deleted from the database before the server
starts (as if K sources were pending): every stored user then enters the linking decision's
model (the non-steady case with a few unlinked sources on a large directory), and each of the K
sources joins back the user holding its link key.
The preview's counts equal the apply's, less the users the client PATCHed before the apply's
batch reached them (those writes derived them with the new policy: the apply finds them done);
the report gives both numbers. Without concurrent writes they are equal (unit test
streamed_apply_test, e2e test_policy_resume.py).
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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (Server, Client, new_connection, run_cli, percentile, find_binary)

POLICY = {
    "attributes": {"displayName": {"sources": ["userName"]}},
    "groups": {"default_groups_all_users": ["everyone"]},
}


def user_id(n):
    return f"{n:08x}-b01c-4000-8000-{n:012x}"


def patcher(client, users, stop, out):
    """PATCHes random users until `stop` is set; appends (seconds, status) to `out`."""
    rng = random.Random(7)
    body = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "title", "value": ""}]}
    i = 0
    while not stop.is_set():
        i += 1
        body["Operations"][0]["value"] = f"Engineer {i}"
        n = rng.randrange(users)
        status, _, dt = client.request("PATCH", f"/Users/{user_id(n)}", body)
        out.append((dt, status, n))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--users", type=int, default=100_000)
    ap.add_argument("--bin", default=None)
    ap.add_argument("--bulk", default=None, help="bulk_users (default: next to the binary's build)")
    ap.add_argument("--timeout", type=float, default=7200, help="per CLI step, seconds")
    ap.add_argument("--out", default=None)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--batch", type=int, default=None,
                    help="most users per apply batch (policy set --batch; default: the CLI's)")
    ap.add_argument("--batch-ms", type=int, default=None,
                    help="passed to policy set (default: the CLI's, 40 ms of work per batch)")
    ap.add_argument("--underived", action="store_true",
                    help="load the mirror only: every source user unlinked (the linking decision)")
    ap.add_argument("--unlink", type=int, default=0,
                    help="delete this many links before serving: sources pending")
    a = ap.parse_args()
    binary = bench.find_binary(a.bin)
    bulk = a.bulk or os.path.join(os.path.dirname(binary), "bench", "bulk_users")
    if not os.access(bulk, os.X_OK):
        raise SystemExit(f"policy_scale.py: {bulk} not found (cmake -DIDSYNC_BUILD_BENCH=ON)")
    work = tempfile.mkdtemp(prefix="idsync-policy-")
    data = os.path.join(work, "data")
    os.mkdir(data)
    policy_path = os.path.join(work, "policy.json")
    with open(policy_path, "w") as fh:
        json.dump(POLICY, fh)
    R = {"users": a.users, "underived": a.underived, "unlink": a.unlink, "policy": POLICY, "binary": binary, "loadavg_start": bench.loadavg()}
    server = None
    try:
        token, prefix = bench.new_connection(binary, data)
        t0 = time.monotonic()
        load = subprocess.run([bulk, data, "bench", str(a.users), "5000"] +
                              ([] if a.underived else ["--derive"]),
                              capture_output=True, text=True, check=True)
        R["load"] = json.loads(load.stdout)
        R["load"]["wall_s"] = round(time.monotonic() - t0, 1)
        bench.log(f"loaded and derived {a.users} users in {R['load']['wall_s']} s")
        if a.unlink:
            import sqlite3
            db = sqlite3.connect(os.path.join(data, "idsync.db"))
            n = db.execute("DELETE FROM source_links WHERE (connection_id, source_user_id) IN "
                           "(SELECT connection_id, source_user_id FROM source_links "
                           "ORDER BY source_user_id LIMIT ?)", (a.unlink,)).rowcount
            db.commit()
            db.close()
            R["unlinked"] = n
            bench.log(f"deleted {n} links: those sources are unlinked")
        server = bench.Server(binary, data, work)
        server.start()
        R["server_rss_start_kib"] = bench.vm_rss_kib(server.proc.pid)
        preview_cmd = [binary, "policy", "preview", "bench", policy_path, "--data", data, "--json"]
        set_cmd = [binary, "policy", "set", "bench", policy_path, "--data", data, "--json"]
        if a.batch:
            set_cmd += ["--batch", str(a.batch)]
        R["batch"] = a.batch
        if a.batch_ms is not None:
            set_cmd += ["--batch-ms", str(a.batch_ms)]
        R["batch_ms"] = a.batch_ms

        def step(tag, cmd):
            r = bench.run_cli(cmd, a.timeout, work, tag, watch_pid=server.proc.pid)
            server.check(tag)
            if r["exit"] != 0 or not isinstance(r["json"], dict):
                raise SystemExit(f"{tag}: exit {r['exit']}: {r['stderr']}")
            j = r.pop("json")
            r["counts"] = j.get("counts")
            r["conflicts"] = j.get("conflicts")
            if "applied" in j:
                r["applied"] = j["applied"]
            r["max_rss_mib"] = round(r["max_rss_kib"] / 1024, 1)
            r["seconds"] = round(r["seconds"], 2)
            return r

        bench.log("preview")
        R["preview"] = step("preview", preview_cmd)
        bench.log(f"preview {R['preview']['seconds']} s, {R['preview']['max_rss_mib']} MiB, "
                  f"{R['preview']['counts']}")
        errors = []
        client = bench.Client(server.port, token, prefix, errors)
        # Warm-up PATCHes before the apply, as the baseline of the same client.
        idle = []
        stop = threading.Event()
        t = threading.Thread(target=patcher, args=(client, a.users, stop, idle))
        t.start()
        time.sleep(5)
        stop.set()
        t.join()
        during = []
        stop = threading.Event()
        t = threading.Thread(target=patcher, args=(client, a.users, stop, during))
        t.start()
        bench.log("apply (policy set), PATCHing meanwhile")
        try:
            R["apply"] = step("apply", set_cmd)
        finally:
            stop.set()
            t.join()
        bench.log(f"apply {R['apply']['seconds']} s, {R['apply']['max_rss_mib']} MiB, "
                  f"{R['apply']['counts']}")

        def lat(samples):
            xs = [dt * 1000 for dt, _, _ in samples]
            statuses = {}
            for _, s, _ in samples:
                statuses[str(s)] = statuses.get(str(s), 0) + 1
            if not xs:
                return {"n": 0}
            # Where the waits fall: requests per latency bucket (upper bounds in ms).
            bounds = (5, 10, 25, 50, 100, 250, 1000)
            hist = {f"<{b}": sum(1 for x in xs if lo <= x < b)
                    for lo, b in zip((0,) + bounds, bounds)}
            hist[f">={bounds[-1]}"] = sum(1 for x in xs if x >= bounds[-1])
            return {"n": len(xs), "statuses": statuses, "histogram_ms": hist,
                    "median_ms": round(bench.percentile(xs, 50), 2),
                    "p99_ms": round(bench.percentile(xs, 99), 2), "max_ms": round(max(xs), 2)}

        R["patch_idle"] = lat(idle)
        R["patch_during_apply"] = lat(during)
        R["patch_errors"] = errors[:5]
        bench.log("second preview (must show no change)")
        R["after"] = step("after", preview_cmd)
        pc, ac = R["preview"]["counts"], R["apply"]["counts"]
        applied = R["apply"].get("applied") or {}
        # A user PATCHed during the apply before its batch was derived whole by that write,
        # under the new policy: the apply then finds it done and does not count it.
        R["users_patched_during_apply"] = len({n for _, _, n in during})
        R["preview_minus_apply_updated"] = pc["updated"] - ac["updated"]
        R["preview_minus_apply_created"] = pc["created"] - ac["created"]
        R["apply_counts_equal_preview"] = pc == ac
        R["applied_equal_preview"] = all(applied.get(k) == pc.get(k) for k in bench.USER_COUNTS)
        R["after_changes"] = sum(int(v or 0) for v in R["after"]["counts"].values())
        R["loadavg_end"] = bench.loadavg()
        p, s, d = R["preview"], R["apply"], R["patch_during_apply"]
        print(f"\n{a.users:,} users{' (underived: none linked)' if a.underived else ''}"
              f"{f' ({a.unlink} links deleted)' if a.unlink else ''}, load {R['loadavg_start']} -> {R['loadavg_end']}, "
              f"loaded and derived in {R['load']['wall_s']} s\n")
        print("| step | wall s | CPU s | peak RSS MiB | counts |")
        print("|---|---:|---:|---:|---|")
        for name, r in (("preview", p), ("apply", s), ("preview after", R["after"])):
            c = {k: v for k, v in (r["counts"] or {}).items() if v}
            print(f"| {name} | {r['seconds']} | {round(r['user_cpu_s'] + r['sys_cpu_s'], 1)} | "
                  f"{r['max_rss_mib']} | {json.dumps(c)} |")
        print(f"\nPATCH one user during the apply: {d.get('n')} requests {d.get('statuses')}, "
              f"median {d.get('median_ms')} ms, p99 {d.get('p99_ms')} ms, max {d.get('max_ms')} ms"
              f" (idle before: median {R['patch_idle'].get('median_ms')} ms, p99 "
              f"{R['patch_idle'].get('p99_ms')} ms)")
        print(f"histogram during the apply (ms: requests): {d.get('histogram_ms')}")
        print(f"preview counts = apply counts: {R['apply_counts_equal_preview']}; = applied: "
              f"{R['applied_equal_preview']}; preview - apply updated: "
              f"{R['preview_minus_apply_updated']}, created: {R['preview_minus_apply_created']} "
              f"(distinct users PATCHed during the apply, "
              f"derived by those writes: {R['users_patched_during_apply']}); changes left after: "
              f"{R['after_changes']}")
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
