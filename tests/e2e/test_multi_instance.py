"""Several `idsync serve` instances on one PostgreSQL database (issue #15, "What must be shown" 2).

Each test starts two or three real servers on one fresh database of the session's PostgreSQL
cluster (conftest.pg_cluster) and drives them at once from threads: the guarantees the SQLite
store gives inside one process must hold across processes. Runs in the normal (SQLite) suite
too, since it brings its own database.
"""
import os
import shutil
import signal
import threading
import time

import pytest

from conftest import (
    TEST_STORE,
    Scim,
    cli_json,
    new_user,
    pg_cluster,
    resources,
    start_server,
    uniq,
)


# It brings its own PostgreSQL database, so the PostgreSQL run of the suite (IDSYNC_TEST_STORE)
# would repeat exactly what the SQLite run did; tools/test.sh runs it once per build.
pytestmark = pytest.mark.skipif(TEST_STORE == "postgresql",
                                reason="runs against PostgreSQL in the SQLite suite already")


@pytest.fixture
def instances(idsync_bin, tmp_path):
    """Three servers on one new database, and one connection's token valid on all of them."""
    cluster = pg_cluster()
    url = cluster.url(cluster.create_database())
    data = str(tmp_path / "a")
    os.makedirs(data)
    info = cli_json(idsync_bin, "connection", "add", "entra", "--data", data, "--store", url,
                    "--json")
    servers = []
    for name in ("a", "b", "c"):
        folder = str(tmp_path / name)
        if name != "a":
            # Each instance has its own folder of local files; the sealing key is shared, as an
            # installation copies it to every machine.
            shutil.copytree(data, folder)
        servers.append(start_server(idsync_bin, folder, ["--store", url]))
    clients = [Scim(s.scim_base, info["token"]) for s in servers]
    yield servers, clients
    for s in servers:
        if s.alive():
            rc = s.stop()
            assert rc == 0, s.stderr_text()[-2000:]


def run_all(*calls):
    """Runs the callables at once (started together), returns their results in order."""
    results = [None] * len(calls)
    errors = []
    barrier = threading.Barrier(len(calls))

    def run(i, fn):
        try:
            barrier.wait()
            results[i] = fn()
        except Exception as e:  # reported below, with the others
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i, fn)) for i, fn in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    return results


def test_same_username_on_two_instances_gives_exactly_one_201(instances):
    _, (a, b, _) = instances
    for round_ in range(8):
        body = new_user(userName=f"{uniq('race')}@example.com")
        # The second spelling differs only in case: userName is unique case-folded.
        other = dict(body, userName=body["userName"].upper())
        ra, rb = run_all(lambda: a.post("/Users", body), lambda: b.post("/Users", other))
        statuses = sorted([ra.status, rb.status])
        assert statuses == [201, 409], (round_, ra, rb)
        loser = ra if ra.status == 409 else rb
        assert loser.json.get("scimType") == "uniqueness", loser
    listed = a.filter("/Users", 'userName sw "race"', count=100)
    assert listed["totalResults"] == 8, listed


def test_member_adds_and_removes_across_instances_lose_nothing(instances):
    _, clients = instances
    a = clients[0]
    users = [a.create_user()["id"] for _ in range(30)]
    group = a.create_group(uniq("team"))["id"]
    shares = [users[i::3] for i in range(3)]

    def adder(client, ids):
        def go():
            for uid in ids:
                r = client.patch_ops(f"/Groups/{group}",
                                     [{"op": "add", "path": "members", "value": [{"value": uid}]}])
                assert r.status in (200, 204), r
        return go

    run_all(*(adder(c, ids) for c, ids in zip(clients, shares)))
    assert a.member_ids(group) == sorted(users)

    def remover(client, ids):
        def go():
            for uid in ids:
                r = client.patch_ops(f"/Groups/{group}",
                                     [{"op": "remove", "path": f'members[value eq "{uid}"]'}])
                assert r.status in (200, 204), r
        return go

    # Two instances remove their thirds while the third adds its third again: the removed
    # are gone, the re-added stay.
    run_all(remover(clients[0], shares[0]), remover(clients[1], shares[1]),
            adder(clients[2], shares[2]))
    assert clients[1].member_ids(group) == sorted(shares[2])


def test_concurrent_patches_of_one_user_lose_no_update(instances):
    _, clients = instances
    uid = clients[0].create_user()["id"]
    per_instance = 12

    def patcher(client, tag):
        def go():
            for i in range(per_instance):
                r = client.patch_ops(f"/Users/{uid}", [{
                    "op": "add", "path": "phoneNumbers",
                    "value": [{"value": f"+1555{tag}{i:04d}", "type": "work"}]}])
                assert r.status in (200, 204), r
        return go

    run_all(*(patcher(c, n) for n, c in enumerate(clients)))
    user = clients[2].get(f"/Users/{uid}").json
    numbers = {p["value"] for p in user.get("phoneNumbers", [])}
    expected = {f"+1555{n}{i:04d}" for n in range(3) for i in range(per_instance)}
    assert numbers == expected, sorted(expected - numbers)


def test_an_instance_killed_under_load_loses_no_acknowledged_write(instances):
    servers, (a, b, c) = instances
    acknowledged = []
    lock = threading.Lock()
    stop = threading.Event()

    def writer(client):
        def go():
            while not stop.is_set():
                try:
                    r = client.post("/Users", new_user())
                except OSError:
                    return  # the killed instance's client: its connection is gone
                if r.status == 201:
                    with lock:
                        acknowledged.append(r.json["id"])
        return go

    threads = [threading.Thread(target=writer(cl)) for cl in (a, b)]
    for t in threads:
        t.start()
    # Kill instance a once both have acknowledged some writes.
    deadline = time.monotonic() + 30
    while len(acknowledged) < 40 and time.monotonic() < deadline:
        time.sleep(0.02)
    servers[0].stop(signal.SIGKILL)
    time.sleep(0.5)  # b keeps writing after the kill
    stop.set()
    for t in threads:
        t.join(timeout=60)
    assert len(acknowledged) >= 40, len(acknowledged)
    # Every acknowledged create is on the database, seen from an instance still serving.
    found = set()
    start = 1
    while True:
        page = c.get("/Users", params={"startIndex": start, "count": 500}).json
        found |= {u["id"] for u in resources(page)}
        start += 500
        if start > page["totalResults"]:
            break
    assert set(acknowledged) <= found, len(set(acknowledged) - found)
    r = b.post("/Users", new_user())
    assert r.status == 201, r


def test_change_feed_followed_while_instances_write_rebuilds_the_read_api(idsync_bin, instances):
    servers, (a, b, c) = instances
    read = cli_json(idsync_bin, "read-token", "add", uniq("app"), "--directory", "users",
                    "--data", servers[0].data_dir, "--store", servers[0].args[
                        servers[0].args.index("--store") + 1], "--json")
    feed = Scim(servers[2].url + "/directory/v2/users", read["token"])

    def page(since):
        r = feed.get("/changes", params={"since": since, "limit": 200})
        assert r.status == 200, r
        return r.json

    stop = threading.Event()
    followed = []

    def follow():
        cursor = 0
        while True:
            last_round = stop.is_set()
            body = page(cursor)
            followed.extend(body["changes"])
            cursor = body["next"]
            if last_round and body["next"] == body["last"]:
                return

    def write(client):
        def go():
            users = [client.create_user()["id"] for _ in range(12)]
            group = client.create_group(uniq("feed"), members=users[:4])["id"]
            for uid in users[4:8]:
                r = client.patch_ops(f"/Groups/{group}",
                                     [{"op": "add", "path": "members", "value": [{"value": uid}]}])
                assert r.status in (200, 204), r
            for uid in users[8:10]:
                r = client.patch_ops(f"/Users/{uid}",
                                     [{"op": "replace", "path": "displayName", "value": "Renamed"}])
                assert r.status == 200, r
            r = client.delete(f"/Users/{users[10]}")
            assert r.status == 204, r
        return go

    follower = threading.Thread(target=follow)
    follower.start()
    run_all(write(a), write(b), write(c))
    stop.set()
    follower.join(timeout=60)
    assert not follower.is_alive()

    # One order, nothing skipped: what the follower saw while the writes went on is exactly
    # what a reader from cursor 0 sees afterwards.
    seqs = [ch["seq"] for ch in followed]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    everything, cursor = [], 0
    while True:
        body = page(cursor)
        everything += body["changes"]
        if body["next"] == body["last"] or not body["changes"]:
            break
        cursor = body["next"]
    assert seqs == [ch["seq"] for ch in everything]

    # Replaying the feed rebuilds the read API's users and memberships.
    users, members = {}, {}
    for ch in followed:
        if ch["type"] == "User":
            if ch["op"] == "upsert":
                users[ch["id"]] = ch["resource"].get("displayName")
            else:
                users.pop(ch["id"], None)
        elif ch["type"] == "Membership":
            ids = members.setdefault(ch["id"], set())
            if ch["op"] == "add":
                ids.add(ch["member"])
            else:
                ids.discard(ch["member"])
        elif ch["type"] == "Group" and ch["op"] != "upsert":
            members.pop(ch["id"], None)
    # (A SCIM DELETE leaves the effective user, disabled, under the default policy.)
    assert len(users) == 3 * 12 and sum(len(m) for m in members.values()) == 3 * 8, \
        (len(users), {g: len(m) for g, m in members.items()})
    listed = feed.get("/Users", params={"count": 1000}).json
    assert {u["id"]: u.get("displayName") for u in resources(listed)} == users
    groups = feed.get("/Groups", params={"count": 1000}).json
    for g in resources(groups):
        assert {m["value"] for m in g.get("members", [])} == members.get(g["id"], set()), g
