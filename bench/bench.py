#!/usr/bin/env python3
"""End-to-end benchmark of idsync: one command, bounded in time, rerunnable by anyone.

    bench/run.sh [--users N] [--out FILE.json] [--bin PATH] [--keep]
                 [--derive-users M] [--only main,explorer,policy,derive]

Starts `idsync serve --bench-routes` on a fresh data folder, creates a connection, drives
the server with wrk (bench/*.lua, 2 threads, 16 connections) and with sequential requests
from this script, then prints a table (metric, value, baseline, ratio, target) and writes
JSON (default bench/results/latest.json). Phases, in order:

  a. HTTP ceiling: GET /bench/static (fixed ~1 KiB body, no store)
  b. store ceiling: bench/store_ceiling (sqlite3, WAL, synchronous=FULL, 1 row/transaction)
  c. creates: POST /Users, Entra ID-like ~1 KB bodies, until N users exist
  d. paging: ids via GET /Users?count=1000&attributes=id,userName, then users/s when paging
     100 at a time through all users
  e. GET /Users/{random id}
  f. GET /Users?filter=userName eq "<random existing>"
  g. PATCH /Users/{random id} replace displayName / active
  h. groups: fill "big" to N members with 100-member PATCH adds (first vs last PATCH time),
     "small" with 10 members; one-member add/remove on each; lookup with
     excludedAttributes=members
  i. server VmRSS after start and after loading; data folder size vs payload bytes sent
  j. load average at start and end, nproc
  k. policy preview/apply, on the N users with "big" and "small": a policy that changes every
     user (displayName from userName, default group "everyone" for all, follow_active off,
     source group "small" excluded); `idsync policy preview` then `idsync policy set` through
     the CLI while the server runs (wall time, CPU, peak RSS of the CLI; server RSS). The
     preview's counts must equal the apply's "applied" counts; a second preview must show no
     change, and so must one after a SCIM PATCH sent to the running server after the apply.
  l. derivation cost: fresh servers on fresh data folders, `serve --bench-mirror-only` (SCIM
     writes skip the effective directory: the write as it was before policy derivation) and
     normal, each loaded with --derive-users users by create_users.lua and then PATCHed by
     patch_user.lua for --seconds; --derive-rounds rounds, alternating which goes first.
     The main server is stopped before this part.

  explorer. the console's user search (GET /api/v1/directories/users/user-search) by name,
     e-mail, group, state and combinations, p50/p95 per kind (issue #12: p95 < 200 ms).

--only main,explorer,policy,derive selects parts (main = a-j). explorer or policy without main
still loads N users and the groups (c, id paging, h) but measures nothing else.

Standard library only. Every wait has a timeout; --max-seconds bounds the whole run.
"""

import argparse
import http.client
import json
import os
import random
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH_DIR)
THREADS = 2
# The wrk phases pick ids and userNames from a uniform random sample of at most this many, so
# that the load client's own memory and garbage collection are the same at every --users: with
# 1,000,000 strings to pick from, wrk's p99 doubled even against /bench/static (no store).
PICK_SAMPLE = 100000
CONNECTIONS = 16
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


class Abort(Exception):
    """The run cannot continue (server died, watchdog fired, a phase produced nothing)."""


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def percentile(values, p):
    """Nearest-rank percentile of a list (p in 0..100); None for an empty list."""
    if not values:
        return None
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(round(p / 100.0 * len(s) + 0.5)) - 1))
    return s[k]


def loadavg():
    with open("/proc/loadavg") as f:
        a = f.read().split()
    return [float(a[0]), float(a[1]), float(a[2])]


def proc_field(path, key):
    """The number after `key:` in a /proc file of such lines (status, io); None when the file
    is gone or has no such line."""
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def vm_rss_kib(pid):
    return proc_field(f"/proc/{pid}/status", "VmRSS")


def write_counts(port):
    """(committed writes, commits) from the server's /metrics; (None, None) if unreadable."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
            text = resp.read().decode()
    except (OSError, ValueError):
        return None, None
    found = {}
    for line in text.splitlines():
        for name in ("idsync_store_committed_writes_total", "idsync_store_commits_total"):
            if line.startswith(name + " "):
                found[name] = int(float(line.split()[1]))
    return (found.get("idsync_store_committed_writes_total"),
            found.get("idsync_store_commits_total"))


def proc_stat(path):
    """(name, fields after the name, CPU seconds user + system) from a /proc/.../stat file;
    None when it is gone. fields[1] is the parent's pid."""
    try:
        with open(path) as f:
            stat = f.read()
    except OSError:
        return None
    name = stat[stat.index("(") + 1:stat.rindex(")")]
    fields = stat[stat.rindex(")") + 2:].split()
    return name, fields, (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu_s():
    """CPU seconds (user + system) of this process's reaped children so far: the difference
    around one subprocess is that subprocess's own."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def _sum_by_thread_group(pid, measure):
    """Sums measure(task_dir, stat) over the threads of process `pid`, by thread name (the
    groups base/thread_name gives: "store-writer", "http-worker", ...), with "all" for every
    thread; a thread for which measure returns None (it ended meanwhile) is left out. Empty
    when the process is gone."""
    out = {"all": 0}
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return {}
    for tid in tasks:
        task = f"/proc/{pid}/task/{tid}"
        stat = proc_stat(f"{task}/stat")
        if stat is None:
            continue
        value = measure(task, stat)
        if value is None:
            continue
        out[stat[0]] = out.get(stat[0], 0) + value
        out["all"] += value
    return out


def thread_cpu(pid):
    """CPU seconds (user + system) of each named thread group of process `pid`: the store's
    writer is "store-writer", the SCIM handlers "http-worker" (base/thread_name); "all" sums
    every thread. Empty when the process is gone."""
    return _sum_by_thread_group(pid, lambda task, stat: stat[2])


def thread_switches(pid):
    """Context switches (voluntary + involuntary, from /proc/PID/task/TID/status) of each named
    thread group of process `pid`, as thread_cpu() groups them; "all" sums every thread. Empty
    when the process is gone."""
    def switches(task, stat):
        voluntary = proc_field(f"{task}/status", "voluntary_ctxt_switches")
        involuntary = proc_field(f"{task}/status", "nonvoluntary_ctxt_switches")
        if voluntary is None or involuntary is None:
            return None
        return voluntary + involuntary
    return _sum_by_thread_group(pid, switches)


def writer_bytes(pid):
    """Bytes the store's writer thread ("store-writer") has handed to write system calls
    (`wchar` of /proc/PID/task/TID/io): its WAL frames, a commit's pages in one run, plus the
    pages of the checkpoints it runs itself past 2,000 WAL pages. None when not found."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return None
    for tid in tasks:
        stat = proc_stat(f"/proc/{pid}/task/{tid}/stat")
        if stat is not None and stat[0] == "store-writer":
            return proc_field(f"/proc/{pid}/task/{tid}/io", "wchar")
    return None


def pages_per_write(before, after, writes, page_size=4096):
    """4 KiB pages the writer wrote per write between two writer_bytes() samples."""
    if before is None or after is None or not writes:
        return None
    return round((after - before) / page_size / writes, 2)


def cpu_per_write(before, after, writes):
    """Milliseconds of CPU per write between two thread_cpu() samples: the whole process, the
    store's writer thread, and the HTTP handler threads. The writer's share bounds throughput:
    one thread runs every write (group commit), so 1000 / writer_ms is the most writes per
    second this server can commit however fast the disk is."""
    if not before or not after or not writes:
        return None
    def d(name):
        return round((after.get(name, 0.0) - before.get(name, 0.0)) * 1000.0 / writes, 3)
    return {"process_ms": d("all"), "writer_ms": d("store-writer"),
            "http_worker_ms": d("http-worker"), "http_io_ms": d("http-io")}


def switches_per_write(before, after, writes):
    """Context switches per write between two thread_switches() samples, by the same thread
    groups as cpu_per_write(). Close to deterministic where CPU and rates on shared cores are
    not: the check for a change to how requests move between threads, whose kernel time
    callgrind (instructions.py) does not see."""
    if not before or not after or not writes:
        return None
    def d(name):
        return round((after.get(name, 0) - before.get(name, 0)) / writes, 2)
    return {"process": d("all"), "writer": d("store-writer"), "http_worker": d("http-worker"),
            "http_io": d("http-io")}


def writes_per_commit(before, after):
    """Group commit: writes made durable per commit between two write_counts() samples."""
    if None in before or None in after or after[1] <= before[1]:
        return None
    return (after[0] - before[0]) / (after[1] - before[1])


def folder_size(path):
    """(bytes allocated on disk, apparent bytes) of every file under path."""
    blocks = apparent = 0
    files = {}
    for root, _, names in os.walk(path):
        for n in names:
            try:
                st = os.stat(os.path.join(root, n))
            except OSError:
                continue
            blocks += st.st_blocks * 512
            apparent += st.st_size
            files[os.path.relpath(os.path.join(root, n), path)] = st.st_size
    return blocks, apparent, files


# ---------------------------------------------------------------------------------------------
# Server process


class Server:
    def __init__(self, binary, data, workdir, extra_args=()):
        self.binary = binary
        self.data = data
        self.extra_args = list(extra_args)
        self.out_path = os.path.join(workdir, "server.stdout")
        self.err_path = os.path.join(workdir, "server.stderr")
        self.proc = None
        self.port = None

    def start(self, timeout=30):
        # Output goes to files, not pipes: a server that logs a lot must never block on us.
        out = open(self.out_path, "wb")
        err = open(self.err_path, "wb")
        self.proc = subprocess.Popen(
            # Rate limits off: the benchmark measures capacity, not the limiter.
            [self.binary, "serve", "--data", self.data, "--listen", "127.0.0.1:0",
             "--bench-routes", "--rate-per-connection", "0", "--rate-per-address", "0"] +
            self.extra_args,
            stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        out.close()
        err.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with open(self.out_path, "r", errors="replace") as f:
                m = re.search(r"listening on https?://[^\s:]+:(\d+)", f.read())
            if m:
                self.port = int(m.group(1))
                return
            if self.proc.poll() is not None:
                raise Abort(f"server exited with status {self.proc.returncode} before listening: "
                            f"{self.tail()}")
            time.sleep(0.05)
        raise Abort(f"server did not print 'listening on' within {timeout}s: {self.tail()}")

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def check(self, where, rss_log=None):
        if rss_log is not None and self.alive():
            rss_log[where] = vm_rss_kib(self.proc.pid)
        if not self.alive():
            raise Abort(f"server died during {where} (exit status {self.proc.returncode}): "
                        f"{self.tail()}")

    def tail(self, n=2000):
        parts = []
        for p in (self.out_path, self.err_path):
            try:
                with open(p, "r", errors="replace") as f:
                    t = f.read()[-n:]
                if t.strip():
                    parts.append(f"{os.path.basename(p)}: {t.strip()}")
            except OSError:
                pass
        return " | ".join(parts) or "(no output)"

    def stop(self, timeout=15):
        if not self.alive():
            return None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            log(f"server did not stop within {timeout}s of SIGTERM; killing pid {self.proc.pid}")
            self.proc.kill()
            self.proc.wait(timeout=10)
            return "killed"


# ---------------------------------------------------------------------------------------------
# Sequential HTTP client (paging, groups); keep-alive, one connection.


class Client:
    def __init__(self, port, token, prefix, errors):
        self.port = port
        self.prefix = prefix
        self.headers = {"Authorization": f"Bearer {token}", "Accept": "application/scim+json"}
        self.conn = None
        self.errors = errors  # shared list of first error responses, for the report

    def request(self, method, path, body=None, expect=(200,)):
        """Returns (status, parsed JSON or None, seconds). Records unexpected statuses."""
        headers = dict(self.headers)
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/scim+json"
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            t0 = time.perf_counter()
            try:
                self.conn.request(method, self.prefix + path, body=data, headers=headers)
                resp = self.conn.getresponse()
                raw = resp.read()
                dt = time.perf_counter() - t0
                break
            except (OSError, http.client.HTTPException) as e:
                self.conn.close()
                self.conn = None
                if attempt == 1:
                    self.note(method, path, "no response", repr(e))
                    return None, None, time.perf_counter() - t0
        parsed = None
        if raw:
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = None
        if resp.status not in expect:
            self.note(method, path, resp.status, raw[:400].decode(errors="replace"))
        return resp.status, parsed, dt

    def note(self, method, path, status, body):
        if len(self.errors) < 20:
            self.errors.append({"request": f"{method} {self.prefix}{path}"[:300],
                                "status": status, "body": body})


# ---------------------------------------------------------------------------------------------
# wrk


def run_wrk(script, phase, url, env_extra, duration_s, done_dir=None, expect_done=0,
            stall_s=30):
    """Runs wrk with bench/<script>; returns the BENCHJSON dict plus wrk's text output.

    With done_dir/expect_done, wrk gets SIGINT as soon as expect_done threads have written
    done.<tid> (the create phase), or when their progress files stop advancing for stall_s.
    """
    env = dict(os.environ)
    env.update({"BENCH_DIR": BENCH_DIR, "BENCH_PHASE": phase, "BENCH_THREADS": str(THREADS)})
    env.update({k: str(v) for k, v in env_extra.items()})
    cmd = ["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{int(duration_s)}s", "--timeout", "10s",
           "--latency", "-s", os.path.join(BENCH_DIR, script), url]
    out_path = os.path.join(tempfile.gettempdir(), f"idsync-bench-wrk-{os.getpid()}-{phase}.out")
    # wrk's own CPU time: the children reaped during this call are wrk alone.
    children = children_cpu_s()
    with open(out_path, "wb") as out:
        p = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL)
    hard_deadline = time.monotonic() + duration_s + 30
    stalled = False
    last_progress, last_change = -1, time.monotonic()
    try:
        while p.poll() is None:
            if time.monotonic() > hard_deadline:
                log(f"wrk ({phase}) overran; interrupting pid {p.pid}")
                p.send_signal(signal.SIGINT)
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
                break
            if done_dir and expect_done:
                names = os.listdir(done_dir)
                if sum(1 for n in names if n.startswith("done.")) >= expect_done:
                    p.send_signal(signal.SIGINT)
                    p.wait(timeout=30)
                    break
                progress = 0
                for n in names:
                    try:
                        with open(os.path.join(done_dir, n)) as f:
                            progress += int(f.read().strip() or 0)
                    except (OSError, ValueError):
                        pass
                # Once a thread is done the others are close behind, so wait less for them.
                limit = stall_s if not any(n.startswith("done.") for n in names) else 5
                if progress != last_progress:
                    last_progress, last_change = progress, time.monotonic()
                elif time.monotonic() - last_change > limit:
                    log(f"wrk ({phase}): no progress for {limit}s; interrupting")
                    stalled = True
                    p.send_signal(signal.SIGINT)
                    p.wait(timeout=30)
                    break
            time.sleep(0.05)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(timeout=10)
    with open(out_path, "r", errors="replace") as f:
        text = f.read()
    os.unlink(out_path)
    result = None
    for line in text.splitlines():
        if line.startswith("BENCHJSON "):
            result = json.loads(line[len("BENCHJSON "):])
    if result is None:
        raise Abort(f"wrk ({phase}) printed no result; output: {text[-2000:]}")
    result["stalled"] = stalled
    result["client_cpu_s"] = round(children_cpu_s() - children, 3)
    result["wrk_output"] = "\n".join(l for l in text.splitlines() if not l.startswith("BENCHJSON"))
    return result


def phase_summary(r):
    keys = ("rps", "p50_ms", "p90_ms", "p99_ms", "max_ms", "requests", "duration_s", "status_2xx",
            "status_other", "status_codes", "err_timeout", "err_connect", "err_read")
    return {k: r.get(k) for k in keys}


# ---------------------------------------------------------------------------------------------
# Store ceiling


def store_ceiling(workdir, seconds):
    exe = None
    for cand in (os.path.join(REPO, "build", "bench", "store_ceiling"),
                 os.path.join(REPO, "build-bench", "bench", "store_ceiling")):
        if os.access(cand, os.X_OK) and os.path.getmtime(cand) >= os.path.getmtime(
                os.path.join(BENCH_DIR, "store_ceiling.cpp")):
            exe = cand
            break
    if exe is None:
        exe = os.path.join(workdir, "store_ceiling")
        subprocess.run(["g++", "-O2", "-o", exe, os.path.join(BENCH_DIR, "store_ceiling.cpp"),
                        "-lsqlite3"], check=True, timeout=120)
    d = os.path.join(workdir, "ceiling")
    os.mkdir(d)
    out = subprocess.run([exe, d, str(seconds), "1024"], capture_output=True, text=True,
                         timeout=seconds + 60)
    shutil.rmtree(d, ignore_errors=True)
    if out.returncode != 0:
        raise Abort(f"store_ceiling failed: {out.stderr.strip()}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------------
# Phases run from Python


def fetch_ids(client, n_expected, deadline):
    """All (id, userName) pairs, 1000 per page (the server's maxResults)."""
    ids, names, seen = [], [], set()
    start = 1
    t0 = time.perf_counter()
    pages = 0
    total = None
    while time.monotonic() < deadline:
        status, body, _ = client.request("GET", f"/Users?startIndex={start}&count=1000"
                                         "&attributes=id,userName")
        pages += 1
        if status != 200 or not isinstance(body, dict):
            break
        total = body.get("totalResults", total)
        res = body.get("Resources") or []
        for r in res:
            if r.get("id") and r["id"] not in seen:
                seen.add(r["id"])
                ids.append(r["id"])
                names.append(r.get("userName", ""))
        if not res:
            break
        start += len(res)
        if total is not None and start > total:
            break
    return {"ids": ids, "names": names, "pages": pages, "totalResults": total,
            "seconds": time.perf_counter() - t0, "complete": total is not None and
            len(ids) >= total, "duplicates_or_missing": (total or 0) - len(ids)}


def measure_paging(client, deadline, page=100):
    """Users delivered per second paging `page` at a time through everything, sequentially."""
    start, delivered, times = 1, 0, []
    total = None
    t0 = time.perf_counter()
    complete = False
    while time.monotonic() < deadline:
        status, body, dt = client.request("GET", f"/Users?startIndex={start}&count={page}")
        if status != 200 or not isinstance(body, dict):
            break
        times.append(dt)
        total = body.get("totalResults", total)
        res = body.get("Resources") or []
        delivered += len(res)
        start += len(res)
        if not res or (total is not None and start > total):
            complete = True
            break
    elapsed = time.perf_counter() - t0
    tenth = max(1, len(times) // 10)
    return {"users_per_s": delivered / elapsed if elapsed > 0 else 0, "users": delivered,
            "pages": len(times), "seconds": elapsed, "complete": complete,
            "totalResults": total,
            "page_p50_ms": ms(percentile(times, 50)), "page_p99_ms": ms(percentile(times, 99)),
            "first_pages_p50_ms": ms(percentile(times[:tenth], 50)),
            "last_pages_p50_ms": ms(percentile(times[-tenth:], 50))}


def ms(s):
    return None if s is None else s * 1000.0


def patch_body(ops):
    return {"schemas": [PATCH_SCHEMA], "Operations": ops}


def groups_phase(client, ids, fill_deadline, op_seconds, lookup_seconds, suffix=""):
    out = {}
    big_name, small_name = "big" + suffix, "small" + suffix
    status, big, _ = client.request("POST", "/Groups",
                                    {"schemas": [GROUP_SCHEMA], "displayName": big_name},
                                    expect=(201,))
    if status != 201:
        raise Abort(f"POST /Groups big answered {status}")
    big_id = big["id"]

    # Fill "big" 100 members per PATCH, timing each: the last PATCHes must cost what the
    # first did (adding to a large group must not read or rewrite the whole member list).
    times, statuses = [], {}
    filled = 0
    t0 = time.perf_counter()
    for i in range(0, len(ids), 100):
        if time.monotonic() > fill_deadline:
            break
        chunk = ids[i:i + 100]
        st, _, dt = client.request(
            "PATCH", f"/Groups/{big_id}",
            patch_body([{"op": "add", "path": "members",
                         "value": [{"value": x} for x in chunk]}]), expect=(200, 204))
        statuses[st] = statuses.get(st, 0) + 1
        times.append(dt)
        if st in (200, 204):
            filled += len(chunk)
    fill_s = time.perf_counter() - t0
    tenth = max(1, min(len(times) // 10, 50))
    out["fill"] = {
        "members_added": filled, "patches": len(times), "seconds": fill_s,
        "complete": filled == len(ids), "statuses": {str(k): v for k, v in statuses.items()},
        "first_p50_ms": ms(percentile(times[:tenth], 50)),
        "last_p50_ms": ms(percentile(times[-tenth:], 50)),
        "window_patches": tenth,
        "p99_ms": ms(percentile(times, 99)),
    }
    f = out["fill"]
    f["last_over_first"] = (f["last_p50_ms"] / f["first_p50_ms"]) if f["first_p50_ms"] else None

    # Check the server's count of big's members (without transferring them).
    st, body, _ = client.request(
        "GET", "/Groups?filter=" + urllib.parse.quote(f'displayName eq "{big_name}"') +
        "&attributes=id")
    out["big_lookup_ok"] = st == 200 and isinstance(body, dict) and body.get("totalResults") == 1

    status, small, _ = client.request(
        "POST", "/Groups",
        {"schemas": [GROUP_SCHEMA], "displayName": small_name,
         "members": [{"value": x} for x in ids[:10]]}, expect=(201,))
    if status != 201:
        raise Abort(f"POST /Groups small answered {status}")
    small_id = small["id"]

    # One-member changes, big and small interleaved so both see the same machine noise.
    # big holds every user: remove X then add X back. small holds ids[:10]: add then remove
    # an outsider. Sequential on one connection: this is per-operation latency, not load.
    members_of_big = ids[:filled]
    outsiders = ids[10:] or ids
    lat = {"big": {"add": [], "remove": []}, "small": {"add": [], "remove": []}}
    bad = {"big": 0, "small": 0}
    rnd = random.Random(7)

    def one(group, gid, op, x):
        if op == "add":
            ops = [{"op": "add", "path": "members", "value": [{"value": x}]}]
        else:
            ops = [{"op": "remove", "path": f'members[value eq "{x}"]'}]
        st, _, dt = client.request("PATCH", f"/Groups/{gid}", patch_body(ops), expect=(200, 204))
        if st in (200, 204):
            lat[group][op].append(dt)
        else:
            bad[group] += 1

    end = time.monotonic() + op_seconds
    pairs = 0
    while time.monotonic() < end and pairs < 5000 and members_of_big:
        x = rnd.choice(members_of_big)
        one("big", big_id, "remove", x)
        one("big", big_id, "add", x)
        y = rnd.choice(outsiders)
        one("small", small_id, "add", y)
        one("small", small_id, "remove", y)
        pairs += 1
    for g in ("big", "small"):
        both = lat[g]["add"] + lat[g]["remove"]
        out[f"member_{g}"] = {
            "ops": len(both), "errors": bad[g],
            "p50_ms": ms(percentile(both, 50)), "p99_ms": ms(percentile(both, 99)),
            "add_p50_ms": ms(percentile(lat[g]["add"], 50)),
            "add_p99_ms": ms(percentile(lat[g]["add"], 99)),
            "remove_p50_ms": ms(percentile(lat[g]["remove"], 50)),
            "remove_p99_ms": ms(percentile(lat[g]["remove"], 99)),
        }
    b, s = out["member_big"]["p50_ms"], out["member_small"]["p50_ms"]
    out["member_p50_ratio"] = (b / s) if b and s else None

    # Group lookup the way Entra ID does it before a PATCH: by displayName, without members.
    path = ("/Groups?filter=" + urllib.parse.quote(f'displayName eq "{big_name}"') +
            "&excludedAttributes=members")
    times, wrong = [], 0
    end = time.monotonic() + lookup_seconds
    while time.monotonic() < end and len(times) < 20000:
        st, body, dt = client.request("GET", path)
        if st == 200:
            times.append(dt)
            res = (body or {}).get("Resources") or []
            if len(res) != 1 or "members" in res[0]:
                wrong += 1
        else:
            wrong += 1
    out["lookup"] = {"requests": len(times), "p50_ms": ms(percentile(times, 50)),
                     "p99_ms": ms(percentile(times, 99)), "wrong_answers": wrong}
    return out


# ---------------------------------------------------------------------------------------------
# Helpers shared by the main server and the derivation-cost servers


def explorer_phase(binary, data, port, client, ids, names, seconds, errors):
    """The console explorer's user search (GET /api/v1/directories/users/user-search) on the
    loaded users, sequential on one keep-alive connection: p50/p95 per kind of search. First a
    group "explorer-team" of 1,000 users and 1 user in 200 deactivated, so that the group and
    state criteria select something."""
    out = {}
    r = subprocess.run([binary, "admin-token", "add", "bench-explorer", "--data", data, "--json"],
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise Abort(f"admin-token add failed ({r.returncode}): {r.stderr.strip()}")
    admin = Client(port, json.loads(r.stdout)["token"], "/api/v1", errors)
    admin.headers["Accept"] = "application/json"
    t0 = time.perf_counter()
    status, team, _ = client.request("POST", "/Groups", {"schemas": [GROUP_SCHEMA],
                                                         "displayName": "explorer-team"},
                                     expect=(201,))
    if status != 201:
        raise Abort(f"POST /Groups explorer-team answered {status}")
    members = ids[:1000]
    for i in range(0, len(members), 100):
        client.request("PATCH", f"/Groups/{team['id']}", patch_body(
            [{"op": "add", "path": "members",
              "value": [{"value": x} for x in members[i:i + 100]]}]), expect=(200, 204))
    disabled = ids[::200]
    for x in disabled:
        client.request("PATCH", f"/Users/{x}",
                       patch_body([{"op": "replace", "path": "active", "value": False}]),
                       expect=(200, 204))
    out["setup_seconds"] = time.perf_counter() - t0
    out["team_members"], out["disabled_users"] = len(members), len(disabled)

    rng = random.Random(20261204)
    sample = [n for n in names if n]

    def name_prefix():  # "bench.t1.u123": the user and the ones whose number continues it
        n = rng.choice(sample)
        return n[:n.index("@")][:-1] if "@" in n else n[:-1]

    cursors = {}

    def paged(key, params):
        """Follows `next` from page to page (wrapping to the first), so deep pages count."""
        q = dict(params)
        if cursors.get(key):
            q["after"] = cursors[key]
        return q

    kinds = {
        "name prefix": lambda: {"name": name_prefix()},
        "e-mail prefix": lambda: {"email": rng.choice(sample)[:-4]},
        "group (1,000 members, paged)": lambda: paged("group", {"group": "explorer-team"}),
        "state disabled (paged)": lambda: paged("disabled", {"state": "disabled"}),
        "state active (paged)": lambda: paged("active", {"state": "active"}),
        "name prefix + state + group": lambda: {"name": name_prefix()[:-1], "state": "active",
                                                "group": "explorer-team"},
        "no criterion (paged)": lambda: paged("all", {}),
        # The worst case the design names: a group drives and a rare residual filters it (the
        # group "big" holds every user, 1 in 200 is disabled: ~5,000 member rows per page).
        "group of all users + state disabled (paged)":
            lambda: paged("big-disabled", {"group": "big", "state": "disabled"}),
    }
    cursor_key = {"group (1,000 members, paged)": "group", "state disabled (paged)": "disabled",
                  "state active (paged)": "active", "no criterion (paged)": "all",
                  "group of all users + state disabled (paged)": "big-disabled"}
    for kind, make in kinds.items():
        times, bad, found = [], 0, 0
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline or len(times) < 20:
            q = make()
            st, body, dt = admin.request(
                "GET", "/directories/users/user-search?count=25&" + urllib.parse.urlencode(q))
            times.append(dt)
            if st != 200 or not isinstance(body, dict):
                bad += 1
                continue
            found += len(body.get("users") or [])
            if kind in cursor_key:
                cursors[cursor_key[kind]] = body.get("next")
            if len(times) >= 5000:
                break
        out[kind] = {"requests": len(times), "errors": bad,
                     "users_per_page": found / max(1, len(times) - bad),
                     "p50_ms": percentile(times, 50) * 1000,
                     "p95_ms": percentile(times, 95) * 1000,
                     "max_ms": max(times) * 1000}
    return out



def new_connection(binary, data, name="bench"):
    """`idsync connection add NAME`: returns (token, SCIM path prefix)."""
    conn = subprocess.run([binary, "connection", "add", name, "--data", data, "--json"],
                          capture_output=True, text=True, timeout=60)
    if conn.returncode != 0:
        raise Abort(f"connection add failed ({conn.returncode}): {conn.stderr.strip()}")
    c = json.loads(conn.stdout)
    prefix = urllib.parse.urlparse(c["base_url"]).path.rstrip("/") or "/scim/v2"
    return c["token"], prefix


def create_phase(url, lua_env, users, workdir, tag, timeout):
    """Phase c: POST /Users (create_users.lua) until `users` users exist."""
    done_dir = os.path.join(workdir, f"create-done-{tag}")
    os.mkdir(done_dir)
    try:
        return run_wrk("create_users.lua", f"create-{tag}", url,
                       dict(lua_env, BENCH_USERS=users, BENCH_DONE_DIR=done_dir),
                       timeout, done_dir=done_dir, expect_done=THREADS)
    finally:
        shutil.rmtree(done_dir, ignore_errors=True)


def write_lines(path, lines):
    with open(path, "w") as fh:
        fh.write("\n".join(lines) + "\n")


def run_cli(cmd, timeout, workdir, tag, watch_pid=None):
    """Runs an idsync CLI command; returns a dict with its wall time, CPU time and peak RSS
    (from wait4, this child only), exit status, stdout parsed as JSON (or None), stderr tail,
    and the peak VmRSS of `watch_pid` (the server) sampled while the command ran."""
    out_path = os.path.join(workdir, f"cli-{tag}.stdout")
    err_path = os.path.join(workdir, f"cli-{tag}.stderr")
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
    reaped = False
    server_peak = vm_rss_kib(watch_pid) if watch_pid else None
    deadline = time.monotonic() + timeout
    try:
        while True:
            pid, status, ru = os.wait4(p.pid, os.WNOHANG)
            if pid:
                reaped = True
                break
            if watch_pid:
                r = vm_rss_kib(watch_pid)
                if r is not None and (server_peak is None or r > server_peak):
                    server_peak = r
            if time.monotonic() > deadline:
                raise Abort(f"`{' '.join(cmd[1:4])}` did not finish within {timeout:.0f}s")
            time.sleep(0.05)
    finally:
        if not reaped:
            p.kill()
            try:
                os.wait4(p.pid, 0)
            except ChildProcessError:
                pass
        p.returncode = -1  # reaped here, not by Popen
    wall = time.perf_counter() - t0
    code = os.waitstatus_to_exitcode(status)
    with open(out_path, "r", errors="replace") as f:
        text = f.read()
    with open(err_path, "r", errors="replace") as f:
        err_text = f.read()
    os.unlink(out_path)
    os.unlink(err_path)
    parsed = None
    try:
        parsed = json.loads(text)
    except ValueError:
        pass
    return {"seconds": wall, "exit": code, "user_cpu_s": ru.ru_utime, "sys_cpu_s": ru.ru_stime,
            "max_rss_kib": ru.ru_maxrss, "json": parsed,
            "stderr": err_text[-2000:].strip(), "server_rss_peak_kib": server_peak}


# ---------------------------------------------------------------------------------------------
# Policy preview / apply on the loaded directory

# Changes something for every user (displayName from userName; everyone joins "everyone"),
# re-enables the users the PATCH phase deactivated (follow_active off), and drops the
# memberships of the source group "small" (excluded): every kind of count but created/removed.
BENCH_POLICY = {
    "users": {"follow_active": False},
    "attributes": {"displayName": {"sources": ["userName"]}},
    "groups": {"exclude": ["^small$"], "default_groups_all_users": ["everyone"]},
}
USER_COUNTS = ("created", "updated", "disabled", "enabled", "removed", "memberships_added",
               "memberships_removed")
ALL_COUNTS = USER_COUNTS + ("groups_created", "groups_emptied")


def policy_phase(binary, data, workdir, server, client, ids, timeout, out):
    """Fills `out` as it goes, so that an abort still reports what was measured."""
    out["policy"] = BENCH_POLICY
    path = os.path.join(workdir, "bench-policy.json")
    with open(path, "w") as fh:
        json.dump(BENCH_POLICY, fh)
    pid = server.proc.pid
    preview_cmd = [binary, "policy", "preview", "bench", path, "--data", data, "--json"]
    set_cmd = [binary, "policy", "set", "bench", path, "--data", data, "--json"]

    def step(name, cmd):
        r = run_cli(cmd, timeout, workdir, name, watch_pid=pid)
        server.check(f"policy {name}")
        r["server_rss_after_kib"] = vm_rss_kib(pid)
        if r["exit"] != 0 or not isinstance(r["json"], dict):
            raise Abort(f"`idsync {' '.join(cmd[1:3])}` ({name}) exited {r['exit']}: "
                        f"{r['stderr'][-800:]}")
        body = r.pop("json")
        r["counts"] = body.get("counts", {})
        r["conflicts"] = body.get("conflicts")
        if "applied" in body:
            r["applied"] = body["applied"]
            r["version"] = body.get("version")
        return r

    out["server_rss_before_kib"] = vm_rss_kib(pid)
    log("policy: preview")
    out["preview"] = step("preview", preview_cmd)
    log(f"policy: preview {out['preview']['seconds']:.1f}s {out['preview']['counts']}; set")
    out["apply"] = step("set", set_cmd)
    log(f"policy: set {out['apply']['seconds']:.1f}s applied {out['apply'].get('applied')}")
    pc, ac = out["preview"]["counts"], out["apply"].get("applied") or {}
    out["mismatches"] = {k: {"preview": pc.get(k), "applied": ac.get(k)}
                         for k in ALL_COUNTS if k in ac and pc.get(k) != ac.get(k)}
    out["preview_equals_applied"] = all(pc.get(k) == ac.get(k) for k in USER_COUNTS)
    # The apply's own preview (its "counts") must also be what the separate preview said.
    out["apply_counts_equal_preview"] = all(
        out["apply"]["counts"].get(k) == pc.get(k) for k in ALL_COUNTS)

    log("policy: second preview (must change nothing)")
    out["second_preview"] = step("preview2", preview_cmd)
    sc = out["second_preview"]["counts"]
    out["second_preview_changes"] = sum(int(sc.get(k) or 0) for k in ALL_COUNTS)

    # The running server derives its next SCIM write with the new policy: PATCH a user's
    # title (outside the policy's attributes), then a preview must still change nothing.
    x = ids[len(ids) // 2]
    st, _, dt = client.request("PATCH", f"/Users/{x}", patch_body(
        [{"op": "replace", "path": "title", "value": "Principal Engineer"}]), expect=(200, 204))
    out["scim_patch_after_apply"] = {"status": st, "ms": ms(dt)}
    out["third_preview"] = step("preview3", preview_cmd)
    tc = out["third_preview"]["counts"]
    out["third_preview_changes"] = sum(int(tc.get(k) or 0) for k in ALL_COUNTS)
    out["server_rss_after_kib"] = vm_rss_kib(pid)


# ---------------------------------------------------------------------------------------------
# Derivation cost: the same writes on a server that derives and on one that only mirrors


def derive_run(binary, workdir, mode, tag, users, secs, create_timeout, keep):
    """One fresh server on a fresh data folder: load `users` users, then PATCH for `secs`."""
    d = os.path.join(workdir, f"derive-{tag}")
    data = os.path.join(d, "data")
    os.makedirs(data)
    extra = ["--bench-mirror-only"] if mode == "mirror_only" else []
    srv = Server(binary, data, d, extra)
    out = {"mode": mode, "server_args": extra}
    try:
        srv.start()
        token, prefix = new_connection(binary, data)
        url = f"http://127.0.0.1:{srv.port}"
        time.sleep(0.5)
        out["rss_start_kib"] = vm_rss_kib(srv.proc.pid)
        lua_env = {"BENCH_TOKEN": token, "BENCH_PREFIX": prefix}
        c = create_phase(url, lua_env, users, d, tag, create_timeout)
        srv.check(f"derive {tag} creates")
        out["create"] = dict(phase_summary(c), created=c.get("created"), failed=c.get("failed"),
                             creates_per_s=c.get("creates_per_s"),
                             create_seconds=c.get("create_seconds"), stalled=c.get("stalled"),
                             err_sample=c.get("err_sample"))
        time.sleep(1)
        out["rss_loaded_kib"] = vm_rss_kib(srv.proc.pid)
        errors = []
        f = fetch_ids(Client(srv.port, token, prefix, errors), users, time.monotonic() + 300)
        if not f["ids"]:
            raise Abort(f"derive {tag}: paging returned no users ({errors[:2]})")
        ids_file = os.path.join(d, "ids.txt")
        write_lines(ids_file, f["ids"])
        p = run_wrk("patch_user.lua", f"patch-{tag}", url, dict(lua_env, BENCH_IDS_FILE=ids_file),
                    secs)
        srv.check(f"derive {tag} PATCH")
        out["patch"] = dict(phase_summary(p), err_sample=p.get("err_sample"))
        out["rss_end_kib"] = vm_rss_kib(srv.proc.pid)
        out["disk_bytes"] = folder_size(data)[0]
    finally:
        out["server_stop"] = srv.stop()
        if srv.proc is not None and srv.proc.returncode not in (0, None):
            out["server_log_tail"] = srv.tail(1500)
        if not keep:
            shutil.rmtree(d, ignore_errors=True)
    return out


def derive_phase(binary, workdir, users, secs, rounds, create_timeout, keep, out):
    """Rounds alternate the order (mirror, derive), (derive, mirror), … so that drift in the
    machine's load falls on both sides. Fills `out` as it goes."""
    runs = out["runs"] = []
    out.update({"users": users, "seconds": secs, "rounds": rounds})
    for r in range(rounds):
        order = ("mirror_only", "derive") if r % 2 == 0 else ("derive", "mirror_only")
        for mode in order:
            log(f"derivation cost: round {r + 1}/{rounds}, {mode}: fresh server, "
                f"{users} creates, PATCH {secs:.0f}s")
            runs.append(dict(derive_run(binary, workdir, mode, f"{r + 1}-{mode}", users, secs,
                                        create_timeout, keep), round=r + 1))

    def mean(xs):
        xs = [x for x in xs if x is not None]
        return sum(xs) / len(xs) if xs else None

    for mode in ("mirror_only", "derive"):
        rs = [x for x in runs if x["mode"] == mode]
        out[mode] = {
            "creates_per_s": mean([x["create"].get("creates_per_s") for x in rs]),
            "create_p50_ms": mean([x["create"].get("p50_ms") for x in rs]),
            "create_p99_ms": mean([x["create"].get("p99_ms") for x in rs]),
            "create_errors": sum((x["create"].get("failed") or 0) for x in rs),
            "patch_per_s": mean([x["patch"].get("rps") for x in rs]),
            "patch_p50_ms": mean([x["patch"].get("p50_ms") for x in rs]),
            "patch_p99_ms": mean([x["patch"].get("p99_ms") for x in rs]),
            "patch_errors": sum((x["patch"].get("status_other") or 0) for x in rs),
            "rss_loaded_mib": mean([(x.get("rss_loaded_kib") or 0) / 1024 for x in rs]),
            "disk_mib": mean([(x.get("disk_bytes") or 0) / 2**20 for x in rs]),
        }
    m, dv = out["mirror_only"], out["derive"]
    for k in ("creates_per_s", "patch_per_s"):
        out[f"{k}_ratio"] = (dv[k] / m[k]) if dv[k] and m[k] else None


# ---------------------------------------------------------------------------------------------
# Report


def fmt(v, unit=""):
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}" + unit
    if abs(v) >= 1000:
        s = f"{v:,.0f}"
    elif abs(v) >= 100:
        s = f"{v:.0f}"
    elif abs(v) >= 10:
        s = f"{v:.1f}"
    else:
        s = f"{v:.2f}"
    return s + unit


def cpu_row(c):
    if not c:
        return None
    return f"{fmt(c.get('process_ms'))} / {fmt(c.get('writer_ms'))}"


def build_table(R):
    """Rows of (metric, value, baseline, ratio, target, verdict)."""
    rows = []

    def ratio(a, b):
        return (a / b) if (a is not None and b) else None

    def verdict(ok):
        return "-" if ok is None else ("PASS" if ok else "FAIL")

    def row(metric, value, baseline=None, r=None, target="", ok=None, unit="", bunit=None):
        rows.append((metric, fmt(value, unit), fmt(baseline, unit if bunit is None else bunit),
                     "-" if r is None else f"{r:.2f}x", target, verdict(ok)))

    P = R.get("phases", {})
    st = P.get("static", {})
    ceil = P.get("store_ceiling", {}).get("inserts_per_s")
    row("HTTP ceiling GET /bench/static req/s", st.get("rps"))
    row("HTTP ceiling p50 / p99 ms", f"{fmt(st.get('p50_ms'))} / {fmt(st.get('p99_ms'))}")
    row("store ceiling durable inserts/s", ceil)

    c = P.get("create", {})
    if c:
        r = ratio(c.get("creates_per_s"), ceil)
        row("creates/s (POST /Users)", c.get("creates_per_s"), ceil, r, ">= 1x store",
            None if r is None else r >= 1.0)
        row("creates p50 / p99 ms", f"{fmt(c.get('p50_ms'))} / {fmt(c.get('p99_ms'))}")
        row("creates 201 / errors", f"{c.get('created')} / {c.get('failed')}")
        row("creates per commit (group commit)", c.get("writes_per_commit"))
        row("CPU ms per create: process / writer thread", cpu_row(c.get("cpu_per_write")))

    g = P.get("get_by_id", {})
    if g:
        r = ratio(g.get("rps"), st.get("rps"))
        row("GET /Users/{id} req/s", g.get("rps"), st.get("rps"), r, ">= 0.5x HTTP",
            None if r is None else r >= 0.5)
        row("GET /Users/{id} p50 / p99 ms", f"{fmt(g.get('p50_ms'))} / {fmt(g.get('p99_ms'))}",
            target="p99 < 10 ms", ok=None if g.get("p99_ms") is None else g["p99_ms"] < 10)

    f = P.get("filter_username", {})
    if f:
        r = ratio(f.get("rps"), g.get("rps"))
        row('userName eq "x" req/s', f.get("rps"), g.get("rps"), r, ">= 0.8x GET id",
            None if r is None else r >= 0.8)
        row('userName eq "x" p50 / p99 ms', f"{fmt(f.get('p50_ms'))} / {fmt(f.get('p99_ms'))}")

    pu = P.get("patch_user", {})
    if pu:
        r = ratio(pu.get("rps"), ceil)
        row("PATCH /Users/{id} req/s", pu.get("rps"), ceil, r, ">= 1x store",
            None if r is None else r >= 1.0)
        row("PATCH /Users/{id} p50 / p99 ms",
            f"{fmt(pu.get('p50_ms'))} / {fmt(pu.get('p99_ms'))}")
        row("PATCHes per commit (group commit)", pu.get("writes_per_commit"))
        row("CPU ms per PATCH: process / writer thread", cpu_row(pu.get("cpu_per_write")))

    pg = P.get("paging", {})
    if pg:
        r = ratio(pg.get("users_per_s"), g.get("rps"))
        row("paging users/s (count=100)", pg.get("users_per_s"), g.get("rps"), r,
            ">= 1x GET id", None if r is None else r >= 1.0)
        row("paging page p50 first/last 10% ms",
            f"{fmt(pg.get('first_pages_p50_ms'))} / {fmt(pg.get('last_pages_p50_ms'))}")

    gr = P.get("groups", {})
    if gr:
        fl = gr.get("fill", {})
        r = fl.get("last_over_first")
        row("group fill 100-member PATCH p50 ms, last vs first", fl.get("last_p50_ms"),
            fl.get("first_p50_ms"), r, "<= 1.2x", None if r is None else r <= 1.2)
        mb, ms_ = gr.get("member_big", {}), gr.get("member_small", {})
        r = gr.get("member_p50_ratio")
        row(f"1-member PATCH p50 ms, big ({fl.get('members_added')}) vs small (10)",
            mb.get("p50_ms"), ms_.get("p50_ms"), r, "<= 1.2x", None if r is None else r <= 1.2)
        row("1-member PATCH p99 ms, big vs small", mb.get("p99_ms"), ms_.get("p99_ms"),
            ratio(mb.get("p99_ms"), ms_.get("p99_ms")), "big p99 < 5 ms",
            None if mb.get("p99_ms") is None else mb["p99_ms"] < 5)
        lk = gr.get("lookup", {})
        row("group by displayName, excl. members p50/p99 ms",
            f"{fmt(lk.get('p50_ms'))} / {fmt(lk.get('p99_ms'))}", target="p99 < 5 ms",
            ok=None if lk.get("p99_ms") is None else lk["p99_ms"] < 5)

    po = P.get("policy", {})
    if po.get("preview"):
        n = po.get("users")
        pv, ap = po["preview"], po.get("apply", {})
        row(f"policy preview s ({n} users)", pv.get("seconds"))
        if ap:
            row("policy apply (policy set) s", ap.get("seconds"), pv.get("seconds"),
                ratio(ap.get("seconds"), pv.get("seconds")))
        pc = pv.get("counts", {})
        row("preview cre/upd/dis/ena/rem/m+/m-",
            "/".join(str(pc.get(k, "?")) for k in USER_COUNTS))
        if ap:
            ac = ap.get("applied") or {}
            row("applied cre/upd/dis/ena/rem/m+/m-",
                "/".join(str(ac.get(k, "?")) for k in USER_COUNTS), target="= preview",
                ok=po.get("preview_equals_applied"))
            applied_groups = ("not reported" if "groups_created" not in ac else
                              f"{ac.get('groups_created')}/{ac.get('groups_emptied')}")
            row("groups created/emptied, preview vs applied",
                f"{pc.get('groups_created')}/{pc.get('groups_emptied')} vs {applied_groups}")
        if "second_preview_changes" in po:
            row("second preview after apply: changes", po["second_preview_changes"],
                target="0", ok=po["second_preview_changes"] == 0)
        if "third_preview_changes" in po:
            row("preview after a SCIM PATCH post-apply: changes", po["third_preview_changes"],
                target="0", ok=po["third_preview_changes"] == 0)
        row("CLI CPU s user+sys, preview / apply",
            f"{fmt(pv.get('user_cpu_s', 0) + pv.get('sys_cpu_s', 0))} / "
            f"{fmt(ap.get('user_cpu_s', 0) + ap.get('sys_cpu_s', 0)) if ap else '-'}")
        row("CLI peak RSS MiB, preview / apply",
            f"{fmt((pv.get('max_rss_kib') or 0) / 1024)} / "
            f"{fmt((ap.get('max_rss_kib') or 0) / 1024) if ap else '-'}")
        row("server RSS MiB before / after apply",
            f"{fmt((po.get('server_rss_before_kib') or 0) / 1024)} / "
            f"{fmt((ap.get('server_rss_after_kib') or 0) / 1024) if ap else '-'}")

    dc = P.get("derive_cost", {})
    if dc.get("derive") and dc.get("mirror_only"):
        dv, mo = dc["derive"], dc["mirror_only"]
        n = dc.get("users")
        row(f"creates/s with derivation vs mirror only ({n} users)", dv.get("creates_per_s"),
            mo.get("creates_per_s"), dc.get("creates_per_s_ratio"))
        row("creates p50 ms, derivation vs mirror only", dv.get("create_p50_ms"),
            mo.get("create_p50_ms"), ratio(dv.get("create_p50_ms"), mo.get("create_p50_ms")))
        row("creates p99 ms, derivation vs mirror only", dv.get("create_p99_ms"),
            mo.get("create_p99_ms"), ratio(dv.get("create_p99_ms"), mo.get("create_p99_ms")))
        row("PATCH/s with derivation vs mirror only", dv.get("patch_per_s"),
            mo.get("patch_per_s"), dc.get("patch_per_s_ratio"))
        row("PATCH p50 ms, derivation vs mirror only", dv.get("patch_p50_ms"),
            mo.get("patch_p50_ms"), ratio(dv.get("patch_p50_ms"), mo.get("patch_p50_ms")))
        row("PATCH p99 ms, derivation vs mirror only", dv.get("patch_p99_ms"),
            mo.get("patch_p99_ms"), ratio(dv.get("patch_p99_ms"), mo.get("patch_p99_ms")))
        row("RSS MiB loaded, derivation vs mirror only", dv.get("rss_loaded_mib"),
            mo.get("rss_loaded_mib"), ratio(dv.get("rss_loaded_mib"), mo.get("rss_loaded_mib")))
        row("data folder MiB, derivation vs mirror only", dv.get("disk_mib"),
            mo.get("disk_mib"), ratio(dv.get("disk_mib"), mo.get("disk_mib")))
        row("write errors, derivation / mirror only",
            f"{dv.get('create_errors', 0) + dv.get('patch_errors', 0)} / "
            f"{mo.get('create_errors', 0) + mo.get('patch_errors', 0)}", target="0 / 0",
            ok=(dv.get('create_errors', 0) + dv.get('patch_errors', 0) +
                mo.get('create_errors', 0) + mo.get('patch_errors', 0)) == 0)

    ex = P.get("explorer") or {}
    for kind, x in ex.items():
        if isinstance(x, dict) and "p95_ms" in x:
            row(f"explorer search, {kind}: p50 / p95 ms",
                f"{fmt(x['p50_ms'])} / {fmt(x['p95_ms'])}", target="p95 < 200 ms",
                ok=(x["p95_ms"] < 200 and not x["errors"]))

    # Below 20,000 users the fixed costs (SQLite caches, the WAL) dominate; per-user
    # extrapolations are shown but not judged.
    created = (P.get("create") or {}).get("created") or 0
    judge = created >= 20000
    m = R.get("memory", {})
    if m.get("mib_per_100k_users") is not None:
        row("RSS growth MiB per 100,000 users, after creates", m.get("mib_per_100k_users"),
            target="<= 64 MiB", ok=(m["mib_per_100k_users"] <= 64) if judge else None)
    if m.get("mib_per_100k_users_end") is not None:
        row("RSS growth MiB per 100,000 users, at end", m.get("mib_per_100k_users_end"),
            target="<= 64 MiB", ok=(m["mib_per_100k_users_end"] <= 64) if judge else None)
    if m.get("rss_start_kib") and m.get("rss_end_kib"):
        above = (m["rss_end_kib"] - m["rss_start_kib"]) / 1024
        row("RSS MiB above idle after the workload", above, target="<= 64 MiB",
            ok=(above <= 64) if judge else None)
    runs = m.get("rss_end_of_run_kib") or []
    if m.get("rss_start_kib") and len(runs) > 1 and all(runs):
        last = (runs[-1] - m["rss_start_kib"]) / 1024
        growth = (runs[-1] - runs[0]) / 1024
        row(f"RSS MiB above idle after run {len(runs)} (growth since run 1)",
            f"{fmt(last)} ({growth:+.1f})", target="<= 64 MiB, growth <= 8",
            ok=(last <= 64 and growth <= 8) if judge else None)
    if m.get("rss_start_kib"):
        row("RSS MiB after start / creates / end",
            " / ".join(fmt((m.get(k) or 0) / 1024)
                       for k in ("rss_start_kib", "rss_loaded_kib", "rss_end_kib")))
    d = R.get("disk", {})
    if d.get("ratio") is not None:
        row("data folder MiB vs raw payload MiB", d["on_disk_bytes"] / 2**20,
            d["payload_bytes"] / 2**20, d["ratio"], "<= 2x",
            (d["ratio"] <= 2.0) if judge else None)
    env = R.get("environment", {})
    row("load average start / end (nproc)",
        f"{env.get('loadavg_start', ['?'])[0]} / {env.get('loadavg_end', ['?'])[0]} "
        f"({env.get('nproc')})")
    return rows


def print_table(rows, users):
    head = ("metric", "value", "baseline", "ratio", "target", "")
    widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(6)]
    line = "  ".join("-" * w for w in widths)
    print(f"\nidsync benchmark, {users} users")
    print("  ".join(str(h).ljust(w) for h, w in zip(head, widths)))
    print(line)
    for r in rows:
        print("  ".join((str(c).ljust(w) if i in (0, 4, 5) else str(c).rjust(w))
                        for i, (c, w) in enumerate(zip(r, widths))))
    print()


# ---------------------------------------------------------------------------------------------


def find_binary(arg):
    cands = [arg] if arg else []
    if os.environ.get("IDSYNC_BIN"):
        cands.append(os.environ["IDSYNC_BIN"])
    cands += [os.path.join(REPO, "build", "idsync"), os.path.join(REPO, "build-bench", "idsync")]
    for c in cands:
        if c and os.access(c, os.X_OK):
            return os.path.abspath(c)
    raise Abort("no idsync binary; build one (see bench/README.md) or pass --bin PATH; tried " +
                ", ".join(c for c in cands if c))


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", type=int, default=100000, help="users to create (default 100000)")
    ap.add_argument("--out", default=os.path.join(BENCH_DIR, "results", "latest.json"),
                    help="JSON output (default bench/results/latest.json)")
    ap.add_argument("--bin", help="idsync binary (default build/idsync, then build-bench/idsync)")
    ap.add_argument("--seconds", type=float, default=6, help="length of each timed phase")
    ap.add_argument("--create-timeout", type=float, default=900,
                    help="give up creating after this many seconds")
    ap.add_argument("--max-seconds", type=float, default=2400, help="bound on the whole run")
    ap.add_argument("--runs", type=int, default=2,
                    help="run the workload after the creates (paging, reads, PATCHes, a group "
                         "filled with every user) this many times; resident memory above idle "
                         "is reported after each (default 2)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary data folder")
    ap.add_argument("--derive-users", type=int, default=10000,
                    help="users loaded into each derivation-cost server (default 10000)")
    ap.add_argument("--derive-rounds", type=int, default=2,
                    help="derivation cost: rounds of (mirror-only, derive) servers, order "
                         "alternating (default 2)")
    ap.add_argument("--policy-timeout", type=float, default=1800,
                    help="give up on one `idsync policy preview|set` after this many seconds")
    ap.add_argument("--only", default="main,explorer,policy,derive",
                    help="comma-separated parts to run: main (phases a-h), explorer (the "
                         "console's user search), policy (preview and apply; without main "
                         "these load --users users and the groups first), derive (derivation "
                         "cost). Default: all")
    args = ap.parse_args()
    if args.users < 20:
        ap.error("--users must be at least 20")
    if args.derive_users < 20:
        ap.error("--derive-users must be at least 20")
    parts = {x.strip() for x in args.only.split(",") if x.strip()}
    if not parts or parts - {"main", "policy", "derive", "explorer"}:
        ap.error("--only takes a comma-separated subset of: main, policy, derive, explorer")

    run_start = time.monotonic()
    R = {"users_requested": args.users, "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
         "parts": sorted(parts), "phases": {}, "server_errors": [], "notes": []}
    env = R["environment"] = {
        "nproc": len(os.sched_getaffinity(0)), "loadavg_start": loadavg(),
        "threads": THREADS, "connections": CONNECTIONS}
    try:
        env["git_commit"] = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"],
                                           capture_output=True, text=True,
                                           timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        pass

    def watchdog(signum, frame):
        raise Abort(f"--max-seconds {args.max_seconds:.0f} reached")

    signal.signal(signal.SIGALRM, watchdog)
    signal.alarm(int(args.max_seconds))

    workdir = tempfile.mkdtemp(prefix="idsync-bench-")
    data = os.path.join(workdir, "data")
    os.mkdir(data)
    server = None
    P = R["phases"]
    secs = args.seconds
    ok = False
    try:
        binary = find_binary(args.bin)
        R["binary"] = binary
        R["binary_mtime"] = time.strftime("%Y-%m-%dT%H:%M:%S%z",
                                          time.localtime(os.path.getmtime(binary)))
        if parts & {"main", "policy", "explorer"}:
            log(f"binary {binary}; data {data}; {args.users} users; parts {','.join(sorted(parts))}")
            server = Server(binary, data, workdir)
            server.start()
            token, prefix = new_connection(binary, data)
            url = f"http://127.0.0.1:{server.port}"
            time.sleep(0.5)
            R["memory"] = {"rss_start_kib": vm_rss_kib(server.proc.pid), "rss_after_phase_kib": {}}
            rss_log = R["memory"]["rss_after_phase_kib"]
            lua_env = {"BENCH_TOKEN": token, "BENCH_PREFIX": prefix}
            client = Client(server.port, token, prefix, R["server_errors"])

            if "main" in parts:
                log("a. HTTP ceiling: GET /bench/static")
                r = run_wrk("static.lua", "static", url, lua_env, secs)
                P["static"] = r
                server.check("GET /bench/static", rss_log)

                log("b. store ceiling: sqlite3 WAL synchronous=FULL, 1 row per transaction")
                P["store_ceiling"] = store_ceiling(workdir, 5)

            log(f"c. creates: POST /Users until {args.users} users exist")
            counts = write_counts(server.port)
            cpu = thread_cpu(server.proc.pid)
            r = create_phase(url, lua_env, args.users, workdir, "main", args.create_timeout)
            r["writes_per_commit"] = writes_per_commit(counts, write_counts(server.port))
            r["cpu_per_write"] = cpu_per_write(cpu, thread_cpu(server.proc.pid), r.get("created"))
            P["create"] = r
            server.check("POST /Users", rss_log)
            if r.get("created", 0) < args.users:
                R["notes"].append(f"only {r.get('created')} of {args.users} creates succeeded "
                                  f"(failed {r.get('failed')}, stalled {r.get('stalled')})")
            time.sleep(1)
            R["memory"]["rss_loaded_kib"] = vm_rss_kib(server.proc.pid)
            blocks, apparent, files = folder_size(data)
            R["disk"] = {"on_disk_bytes": blocks, "apparent_bytes": apparent, "files": files,
                         "payload_bytes": r.get("payload_bytes", 0)}

            log("d. paging: fetch ids (count=1000, attributes=id,userName)")
            f = fetch_ids(client, args.users, time.monotonic() + 300)
            P["fetch_ids"] = {k: v for k, v in f.items() if k not in ("ids", "names")}
            server.check("GET /Users paging", rss_log)
            ids, names = f["ids"], f["names"]
            if not ids:
                raise Abort("paging returned no users; cannot run the read phases")
            if not f["complete"]:
                R["notes"].append(f"id paging got {len(ids)} of {f['totalResults']} users")
            ids_file = os.path.join(workdir, "ids.txt")
            names_file = os.path.join(workdir, "names.txt")
            rng = random.Random(20261123)
            write_lines(ids_file, rng.sample(ids, min(len(ids), PICK_SAMPLE)))
            write_lines(names_file, rng.sample(names, min(len(names), PICK_SAMPLE)))

            if "main" in parts:
                log("d. paging: count=100 through all users")
                P["paging"] = measure_paging(client, time.monotonic() + max(120, secs * 10))
                server.check("GET /Users paging count=100", rss_log)
                if not P["paging"]["complete"]:
                    R["notes"].append(f"paging (count=100) stopped after "
                                      f"{P['paging']['users']} users (time bound)")

                log("e. GET /Users/{id}")
                P["get_by_id"] = run_wrk("get_by_id.lua", "get_by_id", url,
                                         dict(lua_env, BENCH_IDS_FILE=ids_file), secs)
                server.check("GET /Users/{id}", rss_log)

                log('f. GET /Users?filter=userName eq "..."')
                P["filter_username"] = run_wrk("filter_username.lua", "filter_username", url,
                                               dict(lua_env, BENCH_NAMES_FILE=names_file), secs)
                server.check("GET /Users?filter", rss_log)

                log("g. PATCH /Users/{id}")
                counts = write_counts(server.port)
                cpu = thread_cpu(server.proc.pid)
                P["patch_user"] = run_wrk("patch_user.lua", "patch_user", url,
                                          dict(lua_env, BENCH_IDS_FILE=ids_file), secs)
                P["patch_user"]["writes_per_commit"] = writes_per_commit(
                    counts, write_counts(server.port))
                P["patch_user"]["cpu_per_write"] = cpu_per_write(
                    cpu, thread_cpu(server.proc.pid), P["patch_user"].get("requests"))
                server.check("PATCH /Users/{id}", rss_log)

            log(f"h. groups: fill 'big' with {len(ids)} members, 100 per PATCH")
            if "main" in parts:
                P["groups"] = groups_phase(client, ids, time.monotonic() + 600, secs * 2, secs)
            else:  # only the groups the policy phase needs; no latency windows
                P["groups"] = groups_phase(client, ids, time.monotonic() + 600, 0.5, 0.5)
            server.check("groups", rss_log)
            if not P["groups"]["fill"]["complete"]:
                R["notes"].append(f"group fill stopped at {P['groups']['fill']['members_added']} "
                                  "members (time bound or errors)")
            R["memory"]["rss_end_kib"] = vm_rss_kib(server.proc.pid)

            # The same workload again on the same users (without the creates, which would
            # change the store's size): resident memory must stay flat, not grow per run.
            if "main" in parts and args.runs > 1:
                R["memory"]["rss_end_of_run_kib"] = [R["memory"]["rss_end_kib"]]
                for run in range(2, args.runs + 1):
                    log(f"run {run}: paging, reads, PATCHes, groups 'big-{run}' and 'small-{run}'")
                    tag = f"run{run}"
                    f2 = fetch_ids(client, args.users, time.monotonic() + 300)
                    P[f"fetch_ids_{tag}"] = {k: v for k, v in f2.items()
                                             if k not in ("ids", "names")}
                    P[f"paging_{tag}"] = measure_paging(client,
                                                        time.monotonic() + max(120, secs * 10))
                    for script, name, extra in (
                            ("get_by_id.lua", "get_by_id", dict(BENCH_IDS_FILE=ids_file)),
                            ("filter_username.lua", "filter_username",
                             dict(BENCH_NAMES_FILE=names_file)),
                            ("patch_user.lua", "patch_user", dict(BENCH_IDS_FILE=ids_file))):
                        P[f"{name}_{tag}"] = run_wrk(script, f"{name}_{tag}", url,
                                                     dict(lua_env, **extra), secs)
                    P[f"groups_{tag}"] = groups_phase(client, ids, time.monotonic() + 600,
                                                      secs * 2, secs, suffix=f"-{run}")
                    server.check(f"run {run}", rss_log)
                    R["memory"]["rss_end_of_run_kib"].append(vm_rss_kib(server.proc.pid))

            if "explorer" in parts:
                log(f"explorer: the console's user search on {len(ids)} users")
                P["explorer"] = explorer_phase(binary, data, server.port, client, ids, names,
                                               max(2.0, secs / 2), R["server_errors"])
                server.check("explorer", rss_log)

            if "policy" in parts:
                log(f"policy: preview and apply on {len(ids)} users (CLI, server running)")
                P["policy"] = dict(users=len(ids))
                policy_phase(binary, data, workdir, server, client, ids, args.policy_timeout,
                             P["policy"])
                server.check("policy", rss_log)

            # The derivation-cost servers must not share the machine with this one.
            R["server_alive_at_end"] = server.alive()
            R["server_stop"] = server.stop()
            R["server_log_tail"] = server.tail(1000)
            server = None

        if "derive" in parts:
            P["derive_cost"] = {}
            derive_phase(binary, workdir, args.derive_users, secs, max(1, args.derive_rounds),
                         args.create_timeout, args.keep, P["derive_cost"])
            for run in P["derive_cost"]["runs"]:
                for ph in ("create", "patch"):
                    x = run.get(ph, {})
                    if x.get("status_other"):
                        R["server_errors"].append({"phase": f"derive {run['mode']} {ph}",
                                                   "status_codes": x.get("status_codes"),
                                                   "sample": x.get("err_sample")})
        ok = True
    except Abort as e:
        R["aborted"] = str(e)
        log(f"ABORTED: {e}")
    except Exception as e:  # report what we have rather than nothing
        R["aborted"] = f"{type(e).__name__}: {e}"
        log(f"ABORTED: {type(e).__name__}: {e}")
    finally:
        signal.alarm(0)
        if server is not None:
            R["server_alive_at_end"] = server.alive()
            R["server_stop"] = server.stop()
            R["server_log_tail"] = server.tail(4000 if not ok else 1000)
        env["loadavg_end"] = loadavg()
        R["seconds"] = time.monotonic() - run_start

        created = P.get("create", {}).get("created") or 0
        m = R.get("memory", {})
        if created and m.get("rss_loaded_kib") and m.get("rss_start_kib"):
            m["mib_per_100k_users"] = ((m["rss_loaded_kib"] - m["rss_start_kib"]) / 1024 *
                                       100000 / created)
        if created and m.get("rss_end_kib") and m.get("rss_start_kib"):
            # After the reads and the groups: includes SQLite page caches of the read pool.
            m["mib_per_100k_users_end"] = ((m["rss_end_kib"] - m["rss_start_kib"]) / 1024 *
                                           100000 / created)
        d = R.get("disk", {})
        if d.get("payload_bytes"):
            d["ratio"] = d["on_disk_bytes"] / d["payload_bytes"]
        for name, ph in P.items():
            if isinstance(ph, dict) and ph.get("status_other"):
                R["server_errors"].append({"phase": name, "status_codes": ph.get("status_codes"),
                                           "sample": ph.get("err_sample")})
        if 0 < created < 20000:
            R["notes"].append("memory and disk per user are not judged below 20,000 users "
                              "(fixed costs dominate)")
        rows = build_table(R)
        R["table"] = [dict(zip(("metric", "value", "baseline", "ratio", "target", "verdict"), r))
                      for r in rows]
        print_table(rows, created or args.users)
        for n in R["notes"]:
            print(f"note: {n}")
        for e in R["server_errors"]:
            print(f"server error: {json.dumps(e)[:600]}")
        if R.get("aborted"):
            print(f"ABORTED: {R['aborted']}")
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as fh:
            json.dump(R, fh, indent=2)
        print(f"results: {args.out}")
        if args.keep:
            print(f"data kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
