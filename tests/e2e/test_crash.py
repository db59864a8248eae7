"""Durability and concurrency: SIGKILL under load loses no acknowledged write; races resolve.

Acknowledged means the client received a 2xx response. After a SIGKILL and a restart on the
same data folder every acknowledged user and membership must be there, and SQLite must report
an intact database.
"""

import http.client
import os
import random
import sqlite3
import subprocess
import threading
import time

import pytest

from conftest import (
    GROUP_URN,
    NO_RATE_LIMITS,
    TEST_STORE,
    Scim,
    add_connection,
    assert_error,
    cli_json,
    new_user,
    resources,
    start_server,
    uniq,
)

THREADS = 8
ROUNDS = 5


def _integrity(data_dir):
    if TEST_STORE == "postgresql":
        return  # no database file in the data folder; PostgreSQL recovers its own (WAL)
    db = os.path.join(data_dir, "idsync.db")
    assert os.path.exists(db), f"no {db}; files: {os.listdir(data_dir)}"
    r = subprocess.run(["sqlite3", db, "PRAGMA integrity_check"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ok", r.stdout


def _load(scim_base, token, groups, stop, acked_users, acked_members, lock, seed):
    rnd = random.Random(seed)
    client = Scim(scim_base, token)
    while not stop.is_set():
        name = f"{uniq('crash')}@example.com"
        try:
            r = client.post("/Users", new_user(userName=name))
        except (OSError, http.client.HTTPException):
            return  # the server is gone
        if r.status != 201:
            if r.status >= 500 or r.status == 0:
                return
            continue
        uid = r.json["id"]
        with lock:
            acked_users[uid] = name
        gid = rnd.choice(groups)
        try:
            r = client.patch_ops(f"/Groups/{gid}", [{"op": "add", "path": "members", "value": [{"value": uid}]}],
                                 params={"excludedAttributes": "members"})
        except (OSError, http.client.HTTPException):
            return
        if 200 <= r.status < 300:
            with lock:
                acked_members.add((gid, uid))


def test_sigkill_loses_no_acknowledged_write(idsync_bin, tmp_path):
    data = str(tmp_path)
    srv = start_server(idsync_bin, data, NO_RATE_LIMITS)
    info = add_connection(idsync_bin, data)
    token = info["token"]
    setup = Scim(srv.scim_base, token)
    groups = [setup.create_group(display_name=f"crash-group-{i}")["id"] for i in range(3)]
    acked_users, acked_members, lock = {}, set(), threading.Lock()
    rnd = random.Random()
    try:
        for round_no in range(ROUNDS):
            stop = threading.Event()
            threads = [threading.Thread(target=_load, args=(srv.scim_base, token, groups, stop, acked_users,
                                                            acked_members, lock, rnd.random()), daemon=True)
                       for _ in range(THREADS)]
            before = len(acked_users)
            for t in threads:
                t.start()
            stop.wait(rnd.uniform(0.5, 2.0))
            srv.kill()  # SIGKILL: no chance to flush anything
            stop.set()
            for t in threads:
                t.join(30)
                assert not t.is_alive(), "client thread hung after the server was killed"
            assert len(acked_users) > before, f"round {round_no}: no write was acknowledged under load"
            _integrity(data)
            srv = start_server(idsync_bin, data, NO_RATE_LIMITS)
            check = Scim(srv.scim_base, token)
            with lock:
                users_now = dict(acked_users)
                members_now = set(acked_members)
            listed = check.list("/Users", count=0)["totalResults"]
            assert listed >= len(users_now), (listed, len(users_now))
            for uid, name in users_now.items():
                r = check.get(f"/Users/{uid}")
                assert r.status == 200, f"round {round_no}: acknowledged user {uid} lost: {r}"
                assert r.json["userName"] == name
            for gid in groups:
                present = set(check.member_ids(gid))
                expected = {u for g, u in members_now if g == gid}
                missing = expected - present
                assert not missing, f"round {round_no}: acknowledged members lost from {gid}: {sorted(missing)[:5]}"
                # Members reference real users only.
                for uid in present:
                    assert check.get(f"/Users/{uid}").status == 200
    finally:
        if srv.alive():
            assert srv.stop() == 0
    _integrity(data)


def _blob_count(data_dir, table, column):
    db = sqlite3.connect(f"file:{os.path.join(data_dir, 'idsync.db')}?mode=ro", uri=True, timeout=10)
    try:
        return db.execute(f"SELECT count(*) FROM {table} WHERE typeof({column}) = 'blob'").fetchone()[0]
    finally:
        db.close()


@pytest.mark.skipif(TEST_STORE == "postgresql",
                    reason="dictionary compression is the SQLite store's; PostgreSQL compresses "
                    "large values itself (TOAST), and the test reads the SQLite file")
def test_compressed_bodies_survive_sigkill(idsync_bin, tmp_path):
    """Past 1,000 users the server trains compression dictionaries and stores bodies compressed
    (docs/ARCHITECTURE.md, "Bodies compressed"); after SIGKILL and a restart every user, sampled
    (text) or compressed, reads back exactly as acknowledged, and so does its effective user."""
    data = str(tmp_path)
    srv = start_server(idsync_bin, data, NO_RATE_LIMITS)
    token = add_connection(idsync_bin, data)["token"]
    acked, lock = {}, threading.Lock()

    def create(n, seed):
        client = Scim(srv.scim_base, token)
        for i in range(n):
            name = f"{uniq('zst')}-{seed}-{i}@example.com"
            body = new_user(userName=name, title=f"Title {i % 13}", displayName=f"Person {seed} {i}")
            r = client.post("/Users", body)
            assert r.status == 201, r
            with lock:
                acked[r.json["id"]] = r.json

    def create_parallel(total):
        threads = [threading.Thread(target=create, args=(total // 4, k)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
            assert not t.is_alive()

    try:
        create_parallel(1100)
        deadline = time.monotonic() + 60
        while _blob_count(data, "resources", "body") == 0 or _blob_count(data, "effective_users", "body") == 0:
            assert time.monotonic() < deadline, "no dictionary was trained after 1,100 users"
            create_parallel(40)
        assert len(acked) >= 1100
        srv.kill()
        _integrity(data)
        assert _blob_count(data, "resources", "body") > 0
        srv = start_server(idsync_bin, data, NO_RATE_LIMITS)
        check = Scim(srv.scim_base, token)
        for uid, resource in acked.items():
            r = check.get(f"/Users/{uid}")
            assert r.status == 200, f"acknowledged user {uid} lost: {r}"
            got = {k: v for k, v in r.json.items() if k != "meta"}
            want = {k: v for k, v in resource.items() if k != "meta"}
            assert got == want
        last = list(acked.values())[-1]
        explained = cli_json(idsync_bin, "explain", last["userName"], "--data", data, "--json")
        assert explained["attributes"]["displayName"]["value"] == last["displayName"]
        # Writes after the restart compress at once with the stored dictionary.
        before = _blob_count(data, "resources", "body")
        create(5, 99)
        assert _blob_count(data, "resources", "body") == before + 5
    finally:
        if srv.alive():
            assert srv.stop() == 0
    _integrity(data)


def test_concurrent_member_adds_all_land(idsync_bin, server):
    info = add_connection(idsync_bin, server.data_dir)
    scim = Scim(server.scim_base, info["token"])
    g = scim.create_group()
    per_thread = 10
    user_ids = [[scim.create_user()["id"] for _ in range(per_thread)] for _ in range(THREADS)]
    barrier = threading.Barrier(THREADS)
    failures = []

    def worker(ids):
        client = Scim(server.scim_base, info["token"])
        barrier.wait(30)
        for uid in ids:
            r = client.patch_ops(f"/Groups/{g['id']}", [{"op": "add", "path": "members", "value": [{"value": uid}]}])
            if r.status not in (200, 204):
                failures.append(r)

    threads = [threading.Thread(target=worker, args=(ids,)) for ids in user_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not failures, failures[:3]
    expected = sorted(u for ids in user_ids for u in ids)
    assert scim.member_ids(g["id"]) == expected
    for uid in expected[:5]:
        assert [x["value"] for x in scim.get(f"/Users/{uid}").json.get("groups", [])] == [g["id"]]


def test_concurrent_member_adds_and_removes(idsync_bin, server):
    info = add_connection(idsync_bin, server.data_dir)
    scim = Scim(server.scim_base, info["token"])
    keep = [scim.create_user()["id"] for _ in range(THREADS)]
    drop = [scim.create_user()["id"] for _ in range(THREADS)]
    g = scim.create_group(members=drop)
    barrier = threading.Barrier(THREADS)
    failures = []

    def worker(i):
        client = Scim(server.scim_base, info["token"])
        barrier.wait(30)
        ops = [{"op": "add", "path": "members", "value": [{"value": keep[i]}]},
               {"op": "remove", "path": f'members[value eq "{drop[i]}"]'}]
        r = client.patch_ops(f"/Groups/{g['id']}", ops)
        if r.status not in (200, 204):
            failures.append(r)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not failures, failures[:3]
    assert scim.member_ids(g["id"]) == sorted(keep)


def test_concurrent_creates_same_username_one_wins(idsync_bin, server):
    info = add_connection(idsync_bin, server.data_dir)
    name = uniq("race") + "@example.com"
    n = 20
    barrier = threading.Barrier(n)
    results = [None] * n

    def worker(i):
        client = Scim(server.scim_base, info["token"])
        barrier.wait(30)
        results[i] = client.post("/Users", new_user(userName=name))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    statuses = sorted(r.status for r in results)
    assert statuses.count(201) == 1, statuses
    assert statuses.count(409) == n - 1, statuses
    for r in results:
        if r.status == 409:
            assert_error(r, 409, "uniqueness")
    scim = Scim(server.scim_base, info["token"])
    body = scim.filter("/Users", f'userName eq "{name}"')
    assert body["totalResults"] == 1


def test_concurrent_creates_case_variants_one_wins(idsync_bin, server):
    info = add_connection(idsync_bin, server.data_dir)
    base = uniq("Race") + "@Example.com"
    variants = [base, base.lower(), base.upper(), base.swapcase()] * 3
    barrier = threading.Barrier(len(variants))
    results = [None] * len(variants)

    def worker(i):
        barrier.wait(30)
        results[i] = Scim(server.scim_base, info["token"]).post("/Users", new_user(userName=variants[i]))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(variants))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    statuses = [r.status for r in results]
    assert statuses.count(201) == 1, statuses
    assert statuses.count(409) == len(variants) - 1, statuses


def test_concurrent_group_creates_distinct(idsync_bin, server):
    info = add_connection(idsync_bin, server.data_dir)
    scim = Scim(server.scim_base, info["token"])
    u = scim.create_user()
    n = 12
    barrier = threading.Barrier(n)
    results = [None] * n

    def worker(i):
        barrier.wait(30)
        results[i] = Scim(server.scim_base, info["token"]).post(
            "/Groups", {"schemas": [GROUP_URN], "displayName": uniq("cg"), "members": [{"value": u["id"]}]})

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert [r.status for r in results] == [201] * n
    groups = scim.get(f"/Users/{u['id']}").json.get("groups", [])
    assert sorted(x["value"] for x in groups) == sorted(r.json["id"] for r in results)
    assert scim.list("/Groups", count=0)["totalResults"] == n
    assert len({g["id"] for g in resources(scim.list("/Groups"))}) == n
