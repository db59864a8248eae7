"""LDAP pull sync against a real Active Directory (issue #11, item 16): a Samba AD DC
(sambaad.py) provisioned once for this module, read over LDAPS with the settings README's
"LDAP and Active Directory" section gives (objectGUID, sAMAccountName, uSNChanged, the
`(&(objectCategory=person)(objectClass=user))` filter), checked as an administrator would: the
run's counts, the read API (/directory/v2) and `idsync explain`.

The domain: OU=Staff holds 1,600 bulk users in the group all-staff (more than AD's 1,500
values per read: ranged retrieval), six named people (alice, bob, carol, dave disabled with
`samba-tool user disable`, erin, frank), the groups devs (alice, carol), ops (bob) and
engineering (holding devs: nested) and a computer account (objectClass user, objectCategory
computer: not a person). idsync binds as an ordinary domain user in OU=Service.

The tests run in order and share the connection: a full sync, then changes made with
samba-tool (a rename, an attribute change, a new user, a membership added and one removed, a
deletion), an incremental run that must pick up exactly those, an idle run, and a full run
that must agree.
"""
import base64
import json
import os
import subprocess
import time
import uuid

import pytest

from conftest import cli_json, run_cli, uniq
from sambaad import BASE, SambaAD, SambaUnavailable, bulk_ldif, ou_ldif
from test_read_api import Reader, read_token

BULK = 1600
NAMED = ["alice", "bob", "carol", "dave", "erin", "frank"]
STAFF = f"OU=Staff,{BASE}"
SERVICE_DN = f"CN=idsync-svc,OU=Service,{BASE}"
SERVICE_PASSWORD = "Svc-" + uuid.uuid4().hex[:12] + "-1a"
TIMINGS = {}


def person(name, given, surname, *extra):
    return ["user", "add", name, f"P4ss-{uuid.uuid4().hex[:10]}", "--userou=OU=Staff",
            f"--given-name={given}", f"--surname={surname}",
            f"--mail-address={name}@idsync.test", *extra]


@pytest.fixture(scope="module")
def ad(tmp_path_factory):
    t = time.monotonic()
    try:
        dc = SambaAD(str(tmp_path_factory.mktemp("samba-ad")),
                     ldif=bulk_ldif("Staff", "all-staff", "bulk", BULK) + ou_ldif("Service"))
        fill = time.monotonic()
        dc.tool(["user", "add", "idsync-svc", SERVICE_PASSWORD, "--userou=OU=Service",
                 "--use-username-as-cn"],
                person("alice", "Alice", "Liddell"), person("bob", "Bob", "Builder"),
                person("carol", "Carol", "Danvers"), person("dave", "Dave", "Bowman"),
                person("erin", "Erin", "Brockovich"), person("frank", "Frank", "Poole"),
                ["group", "add", "devs", "--groupou=OU=Staff"],
                ["group", "add", "ops", "--groupou=OU=Staff"],
                ["group", "add", "engineering", "--groupou=OU=Staff"],
                ["group", "addmembers", "devs", "alice,carol"],
                ["group", "addmembers", "ops", "bob"],
                ["group", "addmembers", "engineering", "devs"],
                ["user", "disable", "dave"],
                ["computer", "add", "ws01", "--computerou=OU=Staff"])
        dc.timings["samba-tool fill"] = time.monotonic() - fill
        dc.start()
    except SambaUnavailable as e:
        # A failure, never a skip: a suite that silently skips AD passes untested.
        pytest.fail(f"the Samba AD DC fixture cannot run here: {e}", pytrace=False)
    dc.timings["fixture total"] = time.monotonic() - t
    TIMINGS.update(dc.timings)
    yield dc
    dc.stop()
    # Seen with `pytest -s`: what the fixture and each run cost.
    print("\nsamba AD timings (s): " + ", ".join(f"{k} {v:.1f}" for k, v in TIMINGS.items()))


def settings(ad, **over):
    s = {"url": ad.ldaps_url, "ca_file": ad.ca_file, "bind_dn": SERVICE_DN,
         "base_dns": [STAFF],
         "user_filter": "(&(objectCategory=person)(objectClass=user))",
         "group_filter": "(objectClass=group)",
         "id_attribute": "objectGUID", "username_attribute": "sAMAccountName",
         "change_attribute": "uSNChanged"}
    s.update(over)
    return s


def add_connection(idsync_bin, data_dir, tmp_path_factory, name, s, *extra):
    path = os.path.join(str(tmp_path_factory.mktemp("settings")), "ad.json")
    with open(path, "w") as f:
        json.dump(s, f)
    r = run_cli(idsync_bin, "connection", "add", name, "--kind", "ldap", "--settings", path,
                "--data", data_dir, "--password-stdin", "--json", *extra, input=SERVICE_PASSWORD + "\n")
    assert r.returncode == 0, r.stderr


def sync(idsync_bin, data_dir, name, *extra):
    t = time.monotonic()
    r = run_cli(idsync_bin, "sync", name, "--data", data_dir, "--json", *extra, timeout=600)
    TIMINGS[f"sync #{sum(k.startswith('sync') for k in TIMINGS) + 1}"] = time.monotonic() - t
    assert r.returncode == 0, r.stdout + r.stderr
    run = json.loads(r.stdout)
    assert run["outcome"] == "succeeded", run
    return run


def dc_values(ad, sam, attr):
    """The raw values of `attr` of the entry with this sAMAccountName, read from the DC."""
    r = subprocess.run(["ldapsearch", "-x", "-LLL", "-o", "ldif-wrap=no", "-H", ad.ldaps_url,
                        "-D", ad.admin[0], "-w", ad.admin[1], "-b", BASE,
                        f"(sAMAccountName={sam})", attr],
                       capture_output=True, text=True, timeout=60,
                       env={**os.environ, "LDAPTLS_CACERT": ad.ca_file})
    assert r.returncode == 0, r.stderr
    out = []
    for line in r.stdout.splitlines():
        if line.lower().startswith(attr.lower() + ":: "):
            out.append(base64.b64decode(line.split(" ", 1)[1]))
        elif line.lower().startswith(attr.lower() + ": "):
            out.append(line.split(" ", 1)[1])
    return out


def guid_of(ad, sam):
    """objectGUID of the entry with this sAMAccountName, in the text form idsync uses."""
    [raw] = dc_values(ad, sam, "objectGUID")
    return str(uuid.UUID(bytes_le=raw))


class World:
    pass


@pytest.fixture(scope="module")
def world(idsync_bin, server, ad, tmp_path_factory):
    w = World()
    w.bin, w.data = idsync_bin, server.data_dir
    w.name = uniq("ad")
    add_connection(idsync_bin, server.data_dir, tmp_path_factory, w.name, settings(ad))
    token = read_token(idsync_bin, server.data_dir, "users")["token"]
    w.reader = Reader(server, "users", token)
    w.guids = {}
    return w


def members_of(reader, group):
    """The userNames of a group's members (read API: members by id, users by id)."""
    g = reader.group_by_name(group)
    names = {u["id"]: name for name, u in user_names(reader).items()}
    return {names.get(m["value"], m["value"]) for m in g.get("members", [])}, g


def user_names(reader):
    """Every user of the directory by userName, read page by page."""
    out, start = {}, 1
    while True:
        body = reader.list("/Users", startIndex=start, count=1000)
        page = body.get("Resources", [])
        out.update((u["userName"], u) for u in page)
        start += len(page)
        if not page or start > body["totalResults"]:
            return out


# --------------------------------------------------------------------------- tests


def test_ldap_test_reads_the_domain(world, ad):
    t = cli_json(world.bin, "ldap", "test", world.name, "alice", "--data", world.data, "--json")
    assert t["ok"] is True, t
    assert t["user"]["entry"]["dn"] == f"CN=Alice Liddell,{STAFF}", t["user"]["entry"]
    assert t["user"]["effective"]["username"]["value"] == "alice", t["user"]
    assert set(t["user"]["groups"]) == {"devs", "engineering"}, t["user"]["groups"]


def test_full_sync(world, ad):
    run = sync(world.bin, world.data, world.name)
    assert run["mode"] == "full", run
    # Every person in OU=Staff, not the computer (objectClass user, objectCategory computer),
    # not the service account (outside the base DN).
    assert run["counts"]["created"] == BULK + len(NAMED), run
    assert run["counts"]["groups_created"] == 4, run
    assert run["counts"]["errors"] == 0, run
    users = user_names(world.reader)
    assert set(users) == set(NAMED) | {f"bulk{i:04d}" for i in range(BULK)}
    assert users["alice"]["emails"][0]["value"] == "alice@idsync.test", users["alice"]
    assert users["alice"]["displayName"] == "Alice Liddell", users["alice"]
    assert users["alice"]["active"] is True
    # The source id is the objectGUID, in its canonical text form.
    for name in ("alice", "carol", "erin"):
        world.guids[name] = guid_of(ad, name)
    ex = cli_json(world.bin, "explain", "alice", "--data", world.data, "--json")
    assert world.guids["alice"] in json.dumps(ex), ex
    # Nested groups are flattened; the 1,600-member group is complete.
    devs, _ = members_of(world.reader, "devs")
    assert devs == {"alice", "carol"}, devs
    engineering, _ = members_of(world.reader, "engineering")
    assert engineering == {"alice", "carol"}, engineering
    ops, _ = members_of(world.reader, "ops")
    assert ops == {"bob"}, ops
    big, _ = members_of(world.reader, "all-staff")
    assert big == {f"bulk{i:04d}" for i in range(BULK)}, len(big)


def test_disabled_account_is_inactive(world, ad):
    # dave: `samba-tool user disable` set userAccountControl 514 (ACCOUNTDISABLE, 0x2).
    assert dc_values(ad, "dave", "userAccountControl") == ["514"]
    users = user_names(world.reader)
    assert users["dave"]["active"] is False, users["dave"]
    assert users["bob"]["active"] is True, users["bob"]


def test_incremental_sync_picks_up_exactly_the_changes(world, ad):
    before = world.reader.changes(since=0, limit=1)["last"]
    ad.tool(["user", "rename", "carol", "--samaccountname=caroline",
             "--given-name=Caroline"],
            ["user", "rename", "frank", "--mail-address=frank.poole@idsync.test"],
            person("grace", "Grace", "Hopper"),
            ["group", "addmembers", "devs", "grace"],
            ["group", "removemembers", "ops", "bob"],
            ["user", "delete", "erin"])
    run = sync(world.bin, world.data, world.name)
    assert run["mode"] == "incremental", run
    c = run["counts"]
    assert (c["created"], c["updated"]) == (1, 2), c  # grace; caroline, frank
    assert c["disabled"] + c["removed"] == 1, c  # erin
    # grace joins devs and, through it, engineering; bob leaves ops.
    assert (c["memberships_added"], c["memberships_removed"]) == (2, 1), c
    # Only what changed was read, not the 1,600 users.
    assert run["progress"]["entries_read"] < 50, run

    users = user_names(world.reader)
    assert "carol" not in users and "caroline" in users
    ex = cli_json(world.bin, "explain", "caroline", "--data", world.data, "--json")
    assert world.guids["carol"] in json.dumps(ex), ex  # the same person, renamed
    assert users["frank"]["emails"][0]["value"] == "frank.poole@idsync.test", users["frank"]
    assert users["grace"]["active"] is True
    assert users["erin"]["active"] is False, users["erin"]  # on_delete: disable (default)
    devs, _ = members_of(world.reader, "devs")
    assert devs == {"alice", "caroline", "grace"}, devs
    engineering, _ = members_of(world.reader, "engineering")
    assert engineering == {"alice", "caroline", "grace"}, engineering
    ops, _ = members_of(world.reader, "ops")
    assert ops == set(), ops

    # The change feed names exactly the people who changed (bob by his membership alone).
    feed = world.reader.changes(since=before, limit=1000)["changes"]
    names = {u["id"]: name for name, u in users.items()}
    touched = set()
    for ch in feed:
        if ch["type"] == "User":
            touched.add(names.get(ch["id"], ch["id"]))
        elif ch["type"] == "Membership":
            touched.add(names.get(ch["member"], ch["member"]))
    assert touched == {"caroline", "frank", "grace", "erin", "bob"}, feed[:20]


def test_idle_incremental_writes_nothing(world):
    run = sync(world.bin, world.data, world.name)
    assert run["mode"] == "incremental", run
    c = run["counts"]
    assert all(c[k] == 0 for k in ("created", "updated", "disabled", "removed",
                                   "memberships_added", "memberships_removed")), c


def test_full_sync_agrees_with_the_incremental_runs(world):
    run = sync(world.bin, world.data, world.name, "--full")
    c = run["counts"]
    assert (c["created"], c["disabled"], c["removed"]) == (0, 0, 0), c
    assert (c["memberships_added"], c["memberships_removed"]) == (0, 0), c
    assert c["groups_created"] == 0 and c["groups_removed"] == 0, c
    # The live directory equals a derivation of the whole mirror.
    r = cli_json(world.bin, "rederive", "--data", world.data, "--json")
    assert all(v == 0 for v in r["counts"].values()), r
    assert all(v == 0 for k, v in r["applied"].items() if k != "conflicts"), r


def test_big_group_from_member_values_alone(idsync_bin, server, ad, tmp_path_factory):
    # Without memberOf on the users, the 1,600 members come from the group's member values
    # alone: read in windows (member;range=0-1499, then 1500-...), as AD hands out large groups.
    # A directory of its own, so that nothing of the first connection is counted.
    directory = "adrange"
    r = run_cli(idsync_bin, "directory", "create", directory, "--data", server.data_dir)
    assert r.returncode == 0, r.stderr
    name = uniq("ad-member")
    attrs = ["sAMAccountName", "mail", "givenName", "sn", "displayName", "userAccountControl"]
    add_connection(idsync_bin, server.data_dir, tmp_path_factory, name,
                   settings(ad, attributes=attrs), "--directory", directory)
    run = sync(idsync_bin, server.data_dir, name)
    assert run["counts"]["errors"] == 0, run
    reader = Reader(server, directory, read_token(idsync_bin, server.data_dir, directory)["token"])
    big, _ = members_of(reader, "all-staff")
    assert big == {f"bulk{i:04d}" for i in range(BULK)}, len(big)
    devs, _ = members_of(reader, "engineering")
    assert devs == {"alice", "caroline", "grace"}, devs


def test_domain_root_needs_ignore_search_references(idsync_bin, server, ad, tmp_path_factory):
    # From the domain root, AD answers a subtree search with continuation references to its
    # other naming contexts (CN=Configuration, ...). idsync treats a reference as a scan cut
    # short: the run fails in words and deprovisions nobody, until the administrator says the
    # references may be ignored.
    directory = "adroot"
    r = run_cli(idsync_bin, "directory", "create", directory, "--data", server.data_dir)
    assert r.returncode == 0, r.stderr
    name = uniq("ad-root")
    add_connection(idsync_bin, server.data_dir, tmp_path_factory, name,
                   settings(ad, base_dns=[BASE]), "--directory", directory)
    r = run_cli(idsync_bin, "sync", name, "--data", server.data_dir, "--json", timeout=600)
    run = json.loads(r.stdout)
    assert r.returncode != 0 and run["outcome"] == "failed", run
    assert "referral" in run["error"] and "CN=Configuration" in run["error"], run
    r = run_cli(idsync_bin, "connection", "remove", name, "--data", server.data_dir)
    assert r.returncode == 0, r.stderr
    name = uniq("ad-root")
    add_connection(idsync_bin, server.data_dir, tmp_path_factory, name,
                   settings(ad, base_dns=[BASE], ignore_search_references=True),
                   "--directory", directory)
    run = sync(idsync_bin, server.data_dir, name)
    reader = Reader(server, directory, read_token(idsync_bin, server.data_dir, directory)["token"])
    users = user_names(reader)
    # The people of CN=Users come too (Administrator, the service account; Guest and krbtgt
    # are disabled accounts); the domain controller's and ws01's computer accounts do not.
    assert {"Administrator", "idsync-svc", "alice", "bulk0000"} <= set(users), sorted(users)[:20]
    assert not {n for n in users if n.endswith("$")}, [n for n in users if n.endswith("$")]
