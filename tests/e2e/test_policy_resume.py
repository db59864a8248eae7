"""A policy apply killed with SIGKILL half-way is resumed by the next `serve` to the end state
an uninterrupted apply reaches (issue #13 item 2).

Two identical data folders (one copied from the other with the server stopped): on one,
`idsync policy set` runs to its end; on the other it is killed with SIGKILL once its apply
record (policy_applies) shows committed batches, and `idsync serve` then resumes it in the
background. The effective users, groups and memberships read through the read API, and the
change feed's entries, must be the same on both, and each folder's change feed, folded from the
start, must rebuild its directory.
"""

import json
import os
import signal
import sqlite3
import subprocess
import time


from conftest import (
    NO_RATE_LIMITS,
    TEST_STORE,
    Scim,
    add_connection,
    cli_json,
    copy_installation,
    pg_query,
    run_cli,
    start_server,
    store_args,
    wait_until,
)
from test_policy import fold_feed, follow, read_all, root_of, strip_group, strip_user

# Fewer on PostgreSQL, where creates and batches cost a round trip each (~100 creates/s on the
# shared CI cores): 600 users are still 60 batches of 10, enough to kill the apply half-way.
USERS = 2000 if TEST_STORE == "sqlite" else 600
BULK_URN = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
POLICY = {
    "attributes": {"displayName": {"sources": ["userName"]},
                   "username": {"sources": ["nickName", "userName"]}},
    "groups": {"exclude": ["^old$"], "default_groups_all_users": ["everyone"]},
}


def apply_record(data):
    """The JSON apply record of directory "users", or None."""
    if TEST_STORE == "postgresql":
        text = pg_query(data, "SELECT record FROM policy_applies WHERE directory = 'users'")
        return json.loads(text) if text.strip() else None
    db = sqlite3.connect(f"file:{os.path.join(data, 'idsync.db')}?mode=ro", uri=True, timeout=10)
    try:
        row = db.execute("SELECT record FROM policy_applies WHERE directory = 'users'").fetchone()
    finally:
        db.close()
    return json.loads(row[0]) if row else None


def load(idp):
    """USERS users through /Bulk (every 7th renamed by the policy through its nickName, two of
    them to the same name), and a group "old" holding every 5th."""
    ids = []
    for start in range(0, USERS, 500):
        ops = []
        for n in range(start, min(USERS, start + 500)):
            user = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": f"person{n}@example.com", "active": True,
                    "emails": [{"value": f"person{n}@example.com", "primary": True}]}
            if n % 7 == 0:
                user["nickName"] = "twin" if n in (7, 14) else f"nick{n}"
            ops.append({"method": "POST", "path": "/Users", "bulkId": f"u{n}", "data": user})
        r = idp.post("/Bulk", {"schemas": [BULK_URN], "Operations": ops})
        assert r.status == 200, r
        for op in r.json["Operations"]:
            assert op["status"] in ("201", 201), op
            ids.append(op["location"].rsplit("/", 1)[1])
    old = idp.create_group(display_name="old")
    for start in range(0, USERS, 500):
        members = [{"value": ids[n]} for n in range(start, min(USERS, start + 500), 5)]
        r = idp.patch_ops(f"/Groups/{old['id']}", [{"op": "add", "path": "members", "value": members}])
        assert r.status in (200, 204), r
    return ids


def directory_of(reader):
    users, groups, members = read_all(reader)
    names = {gid: g["displayName"] for gid, g in groups.items()}
    return ({uid: strip_user(u) for uid, u in users.items()},
            sorted(strip_group(g)["displayName"] for g in groups.values()),
            sorted((names[g], u) for g, u in members))


def feed_summary(changes):
    kinds = {}
    for c in changes:
        key = f"{c['type']} {c['op']}"
        kinds[key] = kinds.get(key, 0) + 1
    return kinds


def check_feed_rebuilds(reader):
    changes, _ = follow(reader, 0)
    users, groups, members = fold_feed(changes)
    want_users, want_groups, want_members = read_all(reader)
    assert {k: strip_user(v) for k, v in users.items()} == \
        {k: strip_user(v) for k, v in want_users.items()}
    assert {k: strip_group(v) for k, v in groups.items()} == \
        {k: strip_group(v) for k, v in want_groups.items()}
    assert members == want_members
    seqs = [c["seq"] for c in changes]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    return changes


def test_policy_apply_killed_is_resumed_to_the_uninterrupted_end_state(idsync_bin, tmp_path):
    a = str(tmp_path / "a" / "data")
    b = str(tmp_path / "b" / "data")
    os.makedirs(a)
    srv = start_server(idsync_bin, a, NO_RATE_LIMITS)
    try:
        info = add_connection(idsync_bin, a, name="idp")
        token = cli_json(idsync_bin, "read-token", "add", "feed", "--data", a, "--json")["token"]
        load(Scim(srv.scim_base, info["token"]))
    finally:
        srv.stop(signal.SIGTERM)
    copy_installation(a, b)
    policy = str(tmp_path / "policy.json")
    with open(policy, "w") as fh:
        json.dump(POLICY, fh)

    # b: uninterrupted. Small batches, so that a's apply runs long enough to be caught.
    r = run_cli(idsync_bin, "policy", "set", "idp", policy, "--data", b, "--json", "--batch", "10",
                timeout=600)
    assert r.returncode == 0, r.stderr
    whole = json.loads(r.stdout)
    assert whole["counts"]["updated"] == USERS and whole["counts"]["groups_created"] == 1
    assert whole["conflicts"] == 1  # the second "twin"
    assert apply_record(b) is None

    # a: killed once the record shows committed batches of the first pass.
    p = subprocess.Popen(store_args([idsync_bin, "policy", "set", "idp", policy, "--data", a,
                                     "--json", "--batch", "10"]),
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        seen = None
        while time.monotonic() < deadline and p.poll() is None:
            try:
                seen = apply_record(a)
            except (sqlite3.OperationalError, RuntimeError):  # locked file; psql failed
                seen = None
            if seen and seen["phase"] == 1 and seen["after"] > 0:
                p.send_signal(signal.SIGKILL)
                break
            time.sleep(0.01)
        p.wait(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == -signal.SIGKILL, f"the apply ended before it was killed ({seen})"
    left = apply_record(a)
    assert left is not None and left["phase"] == 1 and left["after"] > 0, left
    assert left["version"] == 1

    # The next serve resumes it in the background, while serving.
    srv_a = start_server(idsync_bin, a, NO_RATE_LIMITS)
    srv_b = start_server(idsync_bin, b, NO_RATE_LIMITS)
    try:
        wait_until(lambda: apply_record(a) is None, timeout=300, message="the resumed apply ended")
        reader_a = Scim(f"{root_of(srv_a)}/directory/v2/users", token)
        reader_b = Scim(f"{root_of(srv_b)}/directory/v2/users", token)
        users_a, groups_a, members_a = directory_of(reader_a)
        users_b, groups_b, members_b = directory_of(reader_b)
        assert len(users_a) == USERS
        assert groups_a == groups_b and "everyone" in groups_a
        assert users_a == users_b
        assert members_a == members_b
        assert sum(1 for u in users_a.values() if u["userName"].startswith("nick")) == USERS // 7 - 1
        # The feeds rebuild their directories and hold the same entries: the killed batch's
        # transaction left none of its own.
        assert feed_summary(check_feed_rebuilds(reader_a)) == \
            feed_summary(check_feed_rebuilds(reader_b))
        # One audit entry for the apply, written when the resumed apply finished.
        log = cli_json(idsync_bin, "log", "--data", a, "--json", "--limit", "100000")
        assert [e["operation"] for e in log].count("policy.apply") == 1
    finally:
        srv_a.stop(signal.SIGTERM)
        srv_b.stop(signal.SIGTERM)
