#!/usr/bin/env python3
"""LDAP sync figures (issue #4): a full sync of N users and M groups, and incremental syncs
with no changes, against the real slapd of the unit tests (build/idsync_slapd_fixture: mdb,
size limit 500, so every read is paged), through the real CLI (`idsync sync`).

    python3 bench/ldap_sync.py [--bin build/idsync] [--users 20000] [--groups 500]

Prints one line per measurement and a JSON summary. Each run's own row (`idsync sync runs`)
gives the counts. Two connections are measured, in two directories so they do not link:
`id_scan` (the default: an incremental run also scans ids to find deletions) and `full_only`
(deletions left to the next full run).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time


def run(cmd, **kw):
    t0 = time.monotonic()
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    dt = time.monotonic() - t0
    if r.returncode != 0:
        sys.exit(f"{' '.join(cmd)} -> {r.returncode}\n{r.stdout}\n{r.stderr}")
    return r, dt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(os.path.dirname(__file__), "..", "build",
                                                  "idsync"))
    ap.add_argument("--users", type=int, default=20000)
    ap.add_argument("--groups", type=int, default=500)
    ap.add_argument("--only", choices=["id_scan", "full_only"], help="measure one mode only")
    a = ap.parse_args()
    fixture_bin = os.path.join(os.path.dirname(os.path.abspath(a.bin)), "idsync_slapd_fixture")
    t0 = time.monotonic()
    fx = subprocess.Popen([fixture_bin, "--users", str(a.users), "--groups", str(a.groups),
                           "--no-tls"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    info = json.loads(fx.stdout.readline())
    print(f"slapd seeded with {a.users} + 5 users, {a.groups} + 6 groups in "
          f"{time.monotonic() - t0:.1f} s at {info['url']}")
    summary = {"users": a.users + 5, "groups": a.groups + 6}
    with tempfile.TemporaryDirectory() as data:
        for mode, directory in (("id_scan", "users"), ("full_only", "customers")):
            if a.only and a.only != mode:
                continue
            name = "bench-" + mode.replace("_", "-")
            settings = {"url": info["url"], "bind_dn": info["service_dn"],
                        "base_dns": [info["people_dn"], info["groups_dn"]],
                        "incremental_deletions": mode}
            path = os.path.join(data, name + ".json")
            with open(path, "w") as f:
                json.dump(settings, f)
            run([a.bin, "connection", "add", name, "--kind", "ldap", "--directory", directory,
                 "--settings", path, "--password-stdin", "--data", data],
                input=info["service_password"] + "\n")
            # The seed's timestamps must be older than the clock-skew allowance (2 s), or the
            # first incremental run reads them again (see docs/ARCHITECTURE.md, LDAP sync).
            time.sleep(3)
            r, full = run([a.bin, "sync", name, "--full", "--data", data, "--json"])
            full_run = json.loads(r.stdout)
            assert full_run["outcome"] == "succeeded", full_run
            print(f"[{mode}] full sync: {full:.2f} s  counts {full_run['counts']}")
            times = []
            for _ in range(3):
                r, dt = run([a.bin, "sync", name, "--data", data, "--json"])
                inc = json.loads(r.stdout)
                assert inc["mode"] == "incremental" and inc["outcome"] == "succeeded", inc
                assert inc["counts"]["updated"] == 0 and inc["counts"]["created"] == 0, inc
                times.append(dt)
                print(f"[{mode}] incremental, no changes: {dt:.3f} s  entries read "
                      f"{inc['progress']['entries_read']}")
            r, again = run([a.bin, "sync", name, "--full", "--data", data, "--json"])
            print(f"[{mode}] full sync again, no changes: {again:.2f} s")
            summary[mode] = {"full_s": round(full, 2), "full_unchanged_s": round(again, 2),
                             "incremental_s": [round(t, 3) for t in times]}
    fx.stdin.close()
    fx.wait(timeout=60)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
