#!/usr/bin/env python3
"""LDAP serving benchmark (issue #10, "What must be shown" 4): idsync's LDAP server against
slapd (back-mdb) serving the same entries, measured in the same run.

    python3 bench/ldap_bench.py [--users 100000] [--rounds 3] [--seconds 10] [--bin PATH]
                                [--out FILE.json] [--keep]
    python3 bench/ldap_bench.py --users 2000 --rounds 1 --seconds 3     # smoke run

Steps:
  1. `idsync serve --ldap-listen 127.0.0.1:P` on a fresh data folder; N users created over
     SCIM with bench/create_users.lua (wrk, 16 connections: the loader of bench/bench.py);
     `idsync ldap-account add bench --directory users` for the bind DN and password.
  2. Export: `ldapsearch -E pr=1000/noprompt` of ou=users,dc=idsync from idsync (`*` plus
     entryUUID, createTimestamp, modifyTimestamp), `slapadd -q -s` into a fresh mdb with the
     core, cosine, inetorgperson and nis schemas (plus idsync's own attribute types and object
     classes, taken from idsync's subschema entry, when the entries use them), slapd started
     on a free loopback port with equality indexes on objectClass, uid, cn, mail and entryUUID,
     the same size limit as idsync (1000; paged searches unlimited in total), a service entry
     bound with a password (not the rootdn, which would skip slapd's access control).
  3. R rounds, alternating which server goes first (idsync first in odd rounds), each:
     a. uid equality: bench/ldap_load eq, 16 connections each bound once, one search
        outstanding per connection, `(uid=<random existing uid>)` under ou=people, all user
        attributes; 1 s warm-up, then --seconds measured: ops/s, p50/p99 latency; every
        search must return exactly one entry.
     b. paged dump: bench/ldap_load dump, `(objectClass=inetOrgPerson)`, `*`, page size
        1000, to the end: entries/s; idsync's VmRSS sampled every 50 ms during the dump
        against the sample just before it.
  4. Table (markdown) and JSON (default bench/results/ldap-latest.json): the median over the
     rounds of each server's figures and of each per-round ratio idsync/slapd.

The load client (bench/ldap_load.cpp, libldap) is built by CMake with -DIDSYNC_BUILD_BENCH=ON
(or with the tests) as build/bench/ldap_load; otherwise this script compiles it with g++ into
the run's temporary folder. The client runs on the same machine: its CPU seconds are in the
JSON. Needs wrk, slapd, slapadd, ldapsearch (ldap-utils), g++ and libldap-dev.
"""

import argparse
import base64
import json
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench as B  # noqa: E402  (the server, connection and SCIM loader of bench/bench.py)

BENCH_DIR = B.BENCH_DIR
REPO = B.REPO
SUFFIX = "dc=idsync"
DIRECTORY = "users"
CONTEXT = f"ou={DIRECTORY},{SUFFIX}"
PEOPLE = f"ou=people,{CONTEXT}"
SIZE_LIMIT = 1000
SLAPD = "/usr/sbin/slapd"
SLAPADD = "/usr/sbin/slapadd"
SCHEMA_DIR = "/etc/ldap/schema"
MODULE_DIR = "/usr/lib/ldap"
SLAPD_SERVICE_DN = f"cn=bench,ou=services,{SUFFIX}"
log = B.log


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, timeout, proc=None, what="server"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise B.Abort(f"{what} exited with status {proc.returncode} before listening")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise B.Abort(f"{what} did not accept connections on port {port} within {timeout}s")


def run(cmd, timeout, what, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    if r.returncode != 0:
        raise B.Abort(f"{what} failed ({r.returncode}): {r.stderr.strip()[-2000:]}")
    return r


# ---------------------------------------------------------------------------------------------
# The load client


def load_client(workdir):
    src = os.path.join(BENCH_DIR, "ldap_load.cpp")
    for cand in (os.path.join(REPO, "build", "bench", "ldap_load"),
                 os.path.join(REPO, "build-bench", "bench", "ldap_load")):
        if os.access(cand, os.X_OK) and os.path.getmtime(cand) >= os.path.getmtime(src):
            return cand
    exe = os.path.join(workdir, "ldap_load")
    log("compiling bench/ldap_load.cpp (g++ -O2 -lldap -llber)")
    run(["g++", "-std=c++20", "-O2", "-o", exe, src, "-lldap", "-llber", "-lpthread"], 300,
        "compiling bench/ldap_load.cpp (needs g++ and libldap-dev)")
    return exe


class Target:
    """One LDAP server as the load client sees it."""

    def __init__(self, name, url, bind_dn, password, pid):
        self.name, self.url, self.bind_dn, self.password, self.pid = (name, url, bind_dn,
                                                                     password, pid)


def client_run(exe, mode, target, args, timeout):
    env = dict(os.environ, LDAP_BENCH_PASSWORD=target.password)
    cmd = [exe, mode, "--url", target.url, "--bind-dn", target.bind_dn,
           "--password-env", "LDAP_BENCH_PASSWORD"] + [str(a) for a in args]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    if r.returncode != 0:
        raise B.Abort(f"ldap_load {mode} against {target.name} failed ({r.returncode}): "
                      f"{r.stderr.strip()[-1000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


class RssSampler:
    """VmRSS of one process every `interval` seconds, in a thread."""

    def __init__(self, pid, interval=0.05):
        self.pid, self.interval = pid, interval
        self.samples = []
        self.stop_ev = threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True)

    def loop(self):
        while not self.stop_ev.is_set():
            v = B.vm_rss_kib(self.pid)
            if v is not None:
                self.samples.append(v)
            self.stop_ev.wait(self.interval)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop_ev.set()
        self.thread.join(timeout=5)


def cpu_seconds(pid):
    """utime + stime of a process (all threads), in seconds; None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def measure_eq(exe, target, names_file, args):
    cpu0 = cpu_seconds(target.pid)
    r = client_run(exe, "eq", target,
                   ["--base", PEOPLE, "--names", names_file, "--connections", args.connections,
                    "--depth", args.depth, "--seconds", args.seconds, "--warmup", args.warmup,
                    "--filter", args.eq_filter, "--attrs", args.eq_attrs],
                   timeout=args.seconds + args.warmup + 120)
    cpu1 = cpu_seconds(target.pid)
    # The server's CPU per search (warm-up included in both counts): steadier than ops/s when
    # other work shares the machine.
    ops = r["ops"] + r["warmup_ops"]
    r["server_cpu_s"] = cpu1 - cpu0 if cpu0 is not None and cpu1 is not None else None
    r["server_cpu_us_per_op"] = r["server_cpu_s"] / ops * 1e6 if r["server_cpu_s"] and ops else None
    return r


def measure_dump(exe, target, args):
    before = B.vm_rss_kib(target.pid)
    cpu0 = cpu_seconds(target.pid)
    with RssSampler(target.pid) as s:
        r = client_run(exe, "dump", target,
                       ["--base", CONTEXT, "--filter", "(objectClass=inetOrgPerson)",
                        "--attrs", "*", "--page", args.page, "--max-seconds",
                        args.dump_timeout], timeout=args.dump_timeout + 60)
    after = B.vm_rss_kib(target.pid)
    cpu1 = cpu_seconds(target.pid)
    r["server_cpu_s"] = cpu1 - cpu0 if cpu0 is not None and cpu1 is not None else None
    r["server_cpu_us_per_entry"] = (r["server_cpu_s"] / r["entries"] * 1e6
                                    if r["server_cpu_s"] and r["entries"] else None)
    samples = [x for x in s.samples if x is not None]
    r["rss_before_kib"] = before
    r["rss_peak_kib"] = max(samples + [before or 0, after or 0])
    r["rss_after_kib"] = after
    r["rss_samples"] = len(samples)
    r["rss_delta_mib"] = (r["rss_peak_kib"] - before) / 1024.0 if before else None
    return r


# ---------------------------------------------------------------------------------------------
# Export from idsync, import into slapd


def ldif_records(text):
    """LDIF text -> list of records (list of unfolded lines), comments and version dropped."""
    records, cur = [], []
    for line in text.split("\n"):
        if line.startswith(" ") and cur:
            cur[-1] += line[1:]
        elif line == "":
            if cur:
                records.append(cur)
                cur = []
        elif line.startswith("#") or line.startswith("version:"):
            continue
        else:
            cur.append(line)
    if cur:
        records.append(cur)
    return records


def ldif_value(line):
    name, _, rest = line.partition(":")
    if rest.startswith(":"):
        return name, base64.b64decode(rest[1:].strip()).decode("utf-8", "replace")
    return name, rest[1:] if rest.startswith(" ") else rest


def rdn_count(dn):
    return len(re.split(r"(?<!\\),", dn)) if dn else 0


def schema_names(text):
    """Lower-cased NAMEs defined in slapd .schema text or in subschema values."""
    names = set()
    for m in re.finditer(r"NAME\s+(\(\s*(?:'[^']*'\s*)+\)|'[^']*')", text):
        names.update(n.lower() for n in re.findall(r"'([^']*)'", m.group(1)))
    return names


def extra_schema(ldif_records_, subschema_text, schemas):
    """slapd schema text for attribute types and object classes the entries use that the
    standard schemas lack, from idsync's own subschema entry."""
    known = set()
    for s in schemas:
        with open(os.path.join(SCHEMA_DIR, s + ".schema")) as f:
            known |= schema_names(f.read())
    # operational attributes slapd defines itself
    known |= {"entryuuid", "createtimestamp", "modifytimestamp", "objectclass"}
    used_attrs, used_classes = set(), set()
    for rec in ldif_records_:
        for line in rec[1:]:
            name, value = ldif_value(line)
            used_attrs.add(name.lower())
            if name.lower() == "objectclass":
                used_classes.add(value.lower())
    missing = (used_attrs | used_classes) - known
    out, found = [], set()
    for rec in ldif_records(subschema_text):
        for line in rec[1:]:
            name, value = ldif_value(line)
            kind = name.lower()
            if kind not in ("attributetypes", "objectclasses"):
                continue
            defined = schema_names(value)
            if defined & missing:
                out.append(("attributetype " if kind == "attributetypes" else "objectclass ") +
                           value)
                found |= defined & missing
    # attribute types first: object classes refer to them
    out.sort(key=lambda x: not x.startswith("attributetype"))
    return "\n".join(out) + "\n", sorted(missing - found)


def export_idsync(target, workdir):
    """LDIF of ou=users,dc=idsync from idsync (paged), and the idsync subschema entry."""
    pwfile = os.path.join(workdir, "idsync.pw")
    with open(pwfile, "w") as f:
        f.write(target.password)
    common = ["ldapsearch", "-LLL", "-o", "ldif-wrap=no", "-x", "-H", target.url]
    r = run(common + ["-D", target.bind_dn, "-y", pwfile, "-b", CONTEXT, "-s", "sub",
                      "-E", f"pr={SIZE_LIMIT}/noprompt", "(objectClass=*)", "*", "entryUUID",
                      "createTimestamp", "modifyTimestamp"], 1800, "ldapsearch export from idsync")
    sub = run(common + ["-b", "cn=Subschema", "-s", "base", "(objectClass=*)", "attributeTypes",
                        "objectClasses"], 120, "ldapsearch of idsync's subschema entry")
    return r.stdout, sub.stdout


class Slapd:
    def __init__(self, workdir):
        self.dir = os.path.join(workdir, "slapd")
        os.makedirs(os.path.join(self.dir, "db"))
        self.proc = None
        self.port = None
        self.password = "bench-" + "".join(random.choice("abcdefghjkmnpqrstuvwxyz23456789")
                                           for _ in range(20))

    def setup(self, records, subschema_text):
        schemas = ["core", "cosine", "inetorgperson", "nis"]
        extra, unknown = extra_schema(records, subschema_text, schemas)
        with open(os.path.join(self.dir, "idsync.schema"), "w") as f:
            f.write(extra)
        conf = [f"include {SCHEMA_DIR}/{s}.schema" for s in schemas]
        conf += [f"include {self.dir}/idsync.schema",
                 f"pidfile {self.dir}/slapd.pid", f"argsfile {self.dir}/slapd.args",
                 f"modulepath {MODULE_DIR}", "moduleload back_mdb",
                 f"sizelimit size.soft={SIZE_LIMIT} size.hard={SIZE_LIMIT} "
                 "size.prtotal=unlimited",
                 "database mdb", "maxsize 8589934592", f'suffix "{SUFFIX}"',
                 f'rootdn "cn=admin,{SUFFIX}"', "rootpw admin-not-used",
                 f"directory {self.dir}/db",
                 "index objectClass eq", "index uid,cn,mail,entryUUID eq",
                 "access to attrs=userPassword by anonymous auth by * none",
                 "access to * by users read"]
        self.conf = os.path.join(self.dir, "slapd.conf")
        with open(self.conf, "w") as f:
            f.write("\n".join(conf) + "\n")
        # Parents first (slapadd needs them); the entries idsync has under the suffix plus the
        # suffix itself and the service entry.
        head = [["dn: " + SUFFIX, "objectClass: domain", "dc: idsync"],
                ["dn: ou=services," + SUFFIX, "objectClass: organizationalUnit", "ou: services"],
                ["dn: " + SLAPD_SERVICE_DN, "objectClass: organizationalRole",
                 "objectClass: simpleSecurityObject", "cn: bench",
                 "userPassword: " + self.password]]

        def depth(rec):
            _, dn = ldif_value(rec[0])
            return rdn_count(dn)

        body = sorted(records, key=depth)
        ldif = os.path.join(self.dir, "seed.ldif")
        with open(ldif, "w") as f:
            for rec in head + body:
                f.write("\n".join(rec) + "\n\n")
        t0 = time.monotonic()
        run([SLAPADD, "-q", "-s", "-f", self.conf, "-l", ldif], 1800, "slapadd")
        return {"slapadd_s": time.monotonic() - t0, "entries": len(head) + len(body),
                "extra_schema": extra.strip().count("\n") + 1 if extra.strip() else 0,
                "attributes_without_schema": unknown,
                "ldif_bytes": os.path.getsize(ldif)}

    def start(self):
        self.port = free_port()
        self.log = open(os.path.join(self.dir, "slapd.log"), "wb")
        self.proc = subprocess.Popen([SLAPD, "-h", f"ldap://127.0.0.1:{self.port}/", "-f",
                                      self.conf, "-d", "0"], stdout=self.log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        wait_port(self.port, 20, self.proc, "slapd")
        return Target("slapd", f"ldap://127.0.0.1:{self.port}", SLAPD_SERVICE_DN,
                      self.password, self.proc.pid)

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.log.close()


# ---------------------------------------------------------------------------------------------
# Report


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def summarize(rounds):
    def col(server, phase, key):
        return [r[server][phase].get(key) for r in rounds if r.get(server, {}).get(phase)]

    def ratios(phase, key, invert=False):
        out = []
        for r in rounds:
            a = r.get("idsync", {}).get(phase, {}).get(key)
            b = r.get("slapd", {}).get(phase, {}).get(key)
            if a and b:
                out.append(b / a if invert else a / b)
        return out

    S = {}
    for server in ("idsync", "slapd"):
        S[server] = {
            "eq_ops_per_s": median(col(server, "eq", "ops_per_s")),
            "eq_p50_ms": median(col(server, "eq", "p50_ms")),
            "eq_p99_ms": median(col(server, "eq", "p99_ms")),
            "eq_client_cpu_share": median([c / s for c, s in zip(col(server, "eq", "client_cpu_s"),
                                                                 col(server, "eq", "seconds"))]),
            "eq_server_cpu_us_per_op": median(col(server, "eq", "server_cpu_us_per_op")),
            "dump_entries_per_s": median(col(server, "dump", "entries_per_s")),
            "dump_server_cpu_us_per_entry": median(col(server, "dump",
                                                       "server_cpu_us_per_entry")),
            "dump_seconds": median(col(server, "dump", "seconds")),
            "dump_entries": min(col(server, "dump", "entries"), default=None),
            "dump_values": min(col(server, "dump", "values"), default=None),
            "dump_rss_before_mib": median([x / 1024 for x in col(server, "dump", "rss_before_kib")
                                           if x]),
            "dump_rss_peak_mib": median([x / 1024 for x in col(server, "dump", "rss_peak_kib")
                                         if x]),
            "dump_rss_delta_mib": median(col(server, "dump", "rss_delta_mib")),
            "dump_rss_delta_max_mib": max([x for x in col(server, "dump", "rss_delta_mib")
                                           if x is not None], default=None),
        }
    S["ratio"] = {
        "eq_ops_per_s": median(ratios("eq", "ops_per_s")),
        "eq_ops_per_s_rounds": ratios("eq", "ops_per_s"),
        # slapd p99 / idsync p99: above 1 means idsync's p99 is lower
        "eq_p99_slapd_over_idsync": median(ratios("eq", "p99_ms", invert=True)),
        "dump_entries_per_s": median(ratios("dump", "entries_per_s")),
        "dump_entries_per_s_rounds": ratios("dump", "entries_per_s"),
    }
    return S


def fmt(v, nd=1):
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.{nd}f}"
    return f"{v:,}"


def table(S, R):
    i, s, r = S["idsync"], S["slapd"], S["ratio"]
    users = R.get("users_loaded")
    rounds = len(R.get("rounds", []))

    def verdict(ok):
        return "" if ok is None else ("PASS" if ok else "FAIL")

    eq_ok = r["eq_ops_per_s"] >= 0.5 if r["eq_ops_per_s"] is not None else None
    dump_ok = r["dump_entries_per_s"] >= 0.5 if r["dump_entries_per_s"] is not None else None
    rss_ok = (S["idsync"]["dump_rss_delta_max_mib"] <= 32
              if S["idsync"]["dump_rss_delta_max_mib"] is not None else None)
    same = (i["dump_entries"] == s["dump_entries"] == users) if users else None

    def cpu_ratio(key):
        return s[key] / i[key] if s.get(key) and i.get(key) else None

    rows = [
        ("uid equality, ops/s (16 connections)", fmt(i["eq_ops_per_s"]), fmt(s["eq_ops_per_s"]),
         fmt(r["eq_ops_per_s"], 2), ">= 0.5", verdict(eq_ok)),
        ("uid equality, p50 ms", fmt(i["eq_p50_ms"], 3), fmt(s["eq_p50_ms"], 3), "", "", ""),
        ("uid equality, p99 ms", fmt(i["eq_p99_ms"], 3), fmt(s["eq_p99_ms"], 3),
         fmt(r["eq_p99_slapd_over_idsync"], 2) + " (slapd/idsync)", "", ""),
        ("uid equality, server CPU µs per search", fmt(i["eq_server_cpu_us_per_op"]),
         fmt(s["eq_server_cpu_us_per_op"]), fmt(cpu_ratio("eq_server_cpu_us_per_op"), 2) +
         " (slapd/idsync)", "", ""),
        ("uid equality, load client CPU / wall", fmt(i["eq_client_cpu_share"], 2),
         fmt(s["eq_client_cpu_share"], 2), "", "", ""),
        (f"paged dump, entries/s (page {SIZE_LIMIT}, `*`)", fmt(i["dump_entries_per_s"]),
         fmt(s["dump_entries_per_s"]), fmt(r["dump_entries_per_s"], 2), ">= 0.5",
         verdict(dump_ok)),
        ("paged dump, server CPU µs per entry", fmt(i["dump_server_cpu_us_per_entry"]),
         fmt(s["dump_server_cpu_us_per_entry"]),
         fmt(cpu_ratio("dump_server_cpu_us_per_entry"), 2) + " (slapd/idsync)", "", ""),
        ("paged dump, entries / attribute values", f"{fmt(i['dump_entries'])} / "
         f"{fmt(i['dump_values'])}", f"{fmt(s['dump_entries'])} / {fmt(s['dump_values'])}", "",
         f"= {fmt(users)} users", verdict(same)),
        ("RSS before dump, MiB", fmt(i["dump_rss_before_mib"]), fmt(s["dump_rss_before_mib"]),
         "", "", ""),
        ("RSS peak during dump, MiB", fmt(i["dump_rss_peak_mib"]), fmt(s["dump_rss_peak_mib"]),
         "", "", ""),
        ("RSS peak - before, MiB (worst round)", fmt(i["dump_rss_delta_max_mib"]),
         fmt(s["dump_rss_delta_max_mib"]), "", "<= 32 (idsync)", verdict(rss_ok)),
    ]
    lines = [f"idsync LDAP vs slapd (mdb), {fmt(users)} users, median of {rounds} round(s)", "",
             "| metric | idsync | slapd | ratio idsync/slapd | target | |",
             "|---|---:|---:|---:|---|---|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines), {"eq": eq_ok, "dump": dump_ok, "rss": rss_ok, "same_entries": same}


# ---------------------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", type=int, default=100000, help="users to create (default 100000)")
    ap.add_argument("--rounds", type=int, default=3,
                    help="rounds of (idsync, slapd), order alternating; medians reported")
    ap.add_argument("--seconds", type=float, default=10, help="measured seconds of each eq run")
    ap.add_argument("--warmup", type=float, default=1, help="unmeasured seconds before each")
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--depth", type=int, default=1, help="searches outstanding per connection")
    ap.add_argument("--eq-filter", default="(uid=%s)", help="%%s: a random existing uid")
    ap.add_argument("--eq-attrs", default="", help="comma-separated; empty: all user attributes")
    ap.add_argument("--page", type=int, default=SIZE_LIMIT)
    ap.add_argument("--only", default="eq,dump", help="eq, dump or both (default)")
    ap.add_argument("--dump-timeout", type=float, default=900)
    ap.add_argument("--create-timeout", type=float, default=1800)
    ap.add_argument("--max-seconds", type=float, default=5400, help="bound on the whole run")
    ap.add_argument("--bin", help="idsync binary (default build/idsync, then build-bench/idsync)")
    ap.add_argument("--out", default=os.path.join(BENCH_DIR, "results", "ldap-latest.json"))
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = ap.parse_args()
    if args.users < 20:
        ap.error("--users must be at least 20")
    parts = {x.strip() for x in args.only.split(",") if x.strip()}
    if not parts or parts - {"eq", "dump"}:
        ap.error("--only takes eq, dump or eq,dump")
    for tool in ("wrk", "ldapsearch", SLAPD, SLAPADD):
        if not shutil.which(tool):
            ap.error(f"{tool} is required (apt-get install wrk slapd ldap-utils)")

    run_start = time.monotonic()
    R = {"users_requested": args.users, "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
         "options": vars(args), "rounds": [], "notes": []}
    env = R["environment"] = {"nproc": len(os.sched_getaffinity(0)), "loadavg_start": B.loadavg()}
    try:
        env["git_commit"] = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"],
                                           capture_output=True, text=True,
                                           timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        pass

    def watchdog(signum, frame):
        raise B.Abort(f"--max-seconds {args.max_seconds:.0f} reached")

    signal.signal(signal.SIGALRM, watchdog)
    signal.alarm(int(args.max_seconds))
    workdir = tempfile.mkdtemp(prefix="idsync-ldap-bench-")
    data = os.path.join(workdir, "data")
    os.mkdir(data)
    server = slapd = None
    ok = False
    try:
        binary = B.find_binary(args.bin)
        R["binary"] = binary
        R["binary_mtime"] = time.strftime("%Y-%m-%dT%H:%M:%S%z",
                                          time.localtime(os.path.getmtime(binary)))
        exe = load_client(workdir)
        R["load_client"] = exe
        ldap_port = free_port()
        log(f"binary {binary}; data {data}; {args.users} users; LDAP port {ldap_port}")
        server = B.Server(binary, data, workdir,
                          ["--ldap-listen", f"127.0.0.1:{ldap_port}",
                           "--ldap-size-limit", str(SIZE_LIMIT)])
        server.start()
        wait_port(ldap_port, 20, server.proc, "idsync LDAP")
        token, prefix = B.new_connection(binary, data)
        url = f"http://127.0.0.1:{server.port}"
        log(f"loading {args.users} users over SCIM (create_users.lua, 16 connections)")
        c = B.create_phase(url, {"BENCH_TOKEN": token, "BENCH_PREFIX": prefix}, args.users,
                           workdir, "ldap", args.create_timeout)
        R["create"] = {k: c.get(k) for k in ("created", "failed", "creates_per_s",
                                             "create_seconds", "stalled")}
        server.check("creates")
        log(f"created {c.get('created')} users at {c.get('creates_per_s', 0):.0f}/s")
        acct = json.loads(run([binary, "ldap-account", "add", "bench", "--directory", DIRECTORY,
                               "--data", data, "--json"], 60, "idsync ldap-account add").stdout)
        bind_dn = acct.get("bind_dn") or acct.get("dn")
        password = acct.get("password")
        if not bind_dn or not password:
            raise B.Abort(f"ldap-account add printed no bind_dn/password: {sorted(acct)}")
        idsync = Target("idsync", f"ldap://127.0.0.1:{ldap_port}", bind_dn, password,
                        server.proc.pid)

        log("exporting ou=users,dc=idsync from idsync with ldapsearch (paged)")
        t0 = time.monotonic()
        ldif_text, subschema = export_idsync(idsync, workdir)
        records = ldif_records(ldif_text)
        R["export"] = {"seconds": time.monotonic() - t0, "records": len(records),
                       "bytes": len(ldif_text)}
        uids = []
        for rec in records:
            for line in rec[1:]:
                name, value = ldif_value(line)
                if name.lower() == "uid":
                    uids.append(value)
        R["users_loaded"] = len(uids)
        if not uids:
            raise B.Abort("the export holds no uid values")
        if len(uids) != c.get("created"):
            R["notes"].append(f"export has {len(uids)} uids, {c.get('created')} creates")
        names_file = os.path.join(workdir, "uids.txt")
        rng = random.Random(20261123)
        B.write_lines(names_file, rng.sample(uids, min(len(uids), B.PICK_SAMPLE)))
        del ldif_text

        log(f"slapadd of {len(records)} entries into a fresh mdb")
        slapd = Slapd(workdir)
        R["slapd_setup"] = slapd.setup(records, subschema)
        del records
        slapd_t = slapd.start()
        log(f"slapd on {slapd_t.url}")
        targets = {"idsync": idsync, "slapd": slapd_t}

        for rnd in range(args.rounds):
            order = ["idsync", "slapd"] if rnd % 2 == 0 else ["slapd", "idsync"]
            rr = {"order": order, "loadavg": B.loadavg()}
            if "eq" in parts:
                for name in order:
                    log(f"round {rnd + 1}/{args.rounds}: {name} uid equality, "
                        f"{args.connections} connections, {args.seconds:g} s")
                    rr.setdefault(name, {})["eq"] = measure_eq(exe, targets[name], names_file,
                                                               args)
                    e = rr[name]["eq"]
                    log(f"  {e['ops_per_s']:.0f} ops/s, p99 {e['p99_ms']:.2f} ms, errors "
                        f"{e['errors']}, not one entry {e['not_one_entry']}")
                    if name == "idsync":
                        server.check("uid equality")
            if "dump" in parts:
                for name in order:
                    log(f"round {rnd + 1}/{args.rounds}: {name} paged dump")
                    rr.setdefault(name, {})["dump"] = measure_dump(exe, targets[name], args)
                    d = rr[name]["dump"]
                    log(f"  {d['entries']} entries in {d['seconds']:.2f} s = "
                        f"{d['entries_per_s']:.0f}/s; RSS {d['rss_before_kib']} -> peak "
                        f"{d['rss_peak_kib']} KiB {d['error']}")
                    if name == "idsync":
                        server.check("paged dump")
            R["rounds"].append(rr)
        ok = True
    except B.Abort as e:
        R["aborted"] = str(e)
        log(f"ABORTED: {e}")
    except Exception as e:  # report what we have rather than nothing
        R["aborted"] = f"{type(e).__name__}: {e}"
        log(f"ABORTED: {type(e).__name__}: {e}")
    finally:
        signal.alarm(0)
        if slapd is not None:
            slapd.stop()
        if server is not None:
            R["server_alive_at_end"] = server.alive()
            R["server_stop"] = server.stop()
            R["server_log_tail"] = server.tail(1000)
        env["loadavg_end"] = B.loadavg()
        R["seconds"] = time.monotonic() - run_start
        if R["rounds"]:
            R["summary"] = summarize(R["rounds"])
            text, verdicts = table(R["summary"], R)
            R["table_markdown"] = text
            R["verdicts"] = verdicts
            print()
            print(text)
            print()
        for n in R["notes"]:
            print(f"note: {n}")
        if R.get("aborted"):
            print(f"ABORTED: {R['aborted']}")
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as fh:
            json.dump(R, fh, indent=2)
        print(json.dumps({"summary": R.get("summary"), "verdicts": R.get("verdicts")}))
        print(f"results: {args.out}")
        if args.keep:
            print(f"data kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
