"""`idsync backup` and `idsync restore` (issue #14): an online backup taken while 16 clients
create users restores into a folder that passes integrity_check, holds every write acknowledged
before the backup started, accepts the same SCIM token and still opens the sealed LDAP bind
password; damaged archives and non-empty targets are refused and leave nothing behind."""
import http.client
import json
import os
import sqlite3
import subprocess
import tarfile
import threading
import time
import urllib.parse

import pytest

from conftest import (NO_RATE_LIMITS, TEST_STORE, Scim, add_connection, cli_json, new_user,
                      run_cli, start_server, uniq)
from ldap_fixture import add_cli, start_slapd

pytestmark = pytest.mark.skipif(
    TEST_STORE == "postgresql",
    reason="backup/restore copy the SQLite data folder and refuse a PostgreSQL store; "
    "PostgreSQL is backed up with pg_dump or base backups")

LOAD_CLIENTS = 16
LOAD_BEFORE_BACKUP = 3.0  # seconds of writes before the backup starts
LOAD_AFTER_BACKUP = 1.0
LOAD_BOUND = 20.0  # the load never runs longer than this


@pytest.fixture(scope="module")
def slapd(idsync_bin):
    s = start_slapd(idsync_bin, users=5)
    yield s
    s.close()


@pytest.fixture(scope="module")
def backed_up(idsync_bin, server, slapd, tmp_path_factory):
    """One backup of the module server's data folder taken under load, and what was
    acknowledged before it started."""
    data = server.data_dir
    conn = add_connection(idsync_bin, data)
    ldap_name = uniq("ldap")
    add_cli(idsync_bin, data, slapd, ldap_name)
    first = cli_json(idsync_bin, "sync", ldap_name, "--data", data, "--json")
    assert first["outcome"] == "succeeded", first

    acked = []  # (monotonic time of the 201, id, userName)
    errors = []
    lock = threading.Lock()
    stop = threading.Event()
    url = urllib.parse.urlsplit(server.scim_base)

    def client():
        c = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
        headers = {"Authorization": f"Bearer {conn['token']}",
                   "Content-Type": "application/scim+json"}
        while not stop.is_set():
            body = new_user()
            try:
                c.request("POST", url.path + "/Users", json.dumps(body), headers)
                r = c.getresponse()
                payload = r.read()
            except (OSError, http.client.HTTPException) as e:
                with lock:
                    errors.append(repr(e))
                c.close()
                c = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
                continue
            now = time.monotonic()
            if r.status != 201:
                with lock:
                    errors.append(f"{r.status} {payload[:200]!r}")
                continue
            with lock:
                acked.append((now, json.loads(payload)["id"], body["userName"]))
        c.close()

    threads = [threading.Thread(target=client, daemon=True) for _ in range(LOAD_CLIENTS)]
    started = time.monotonic()
    for t in threads:
        t.start()
    time.sleep(LOAD_BEFORE_BACKUP)
    archive = str(tmp_path_factory.mktemp("backup") / "idsync.tar.zst")
    backup_started = time.monotonic()
    r = run_cli(idsync_bin, "backup", "--data", data, "--to", archive, "--json")
    backup_finished = time.monotonic()
    time.sleep(max(0.0, min(LOAD_AFTER_BACKUP, started + LOAD_BOUND - time.monotonic())))
    stop.set()
    for t in threads:
        t.join(timeout=30)
    assert r.returncode == 0, r.stderr
    assert not errors, errors[:5]
    before = [(i, n) for t, i, n in acked if t < backup_started]
    during = [i for t, i, n in acked if backup_started <= t < backup_finished]
    print(f"load: {len(acked)} users created by {LOAD_CLIENTS} clients; {len(before)} "
          f"acknowledged before the backup, {len(during)} during its "
          f"{backup_finished - backup_started:.2f} s")
    assert len(before) > 50, "the load client wrote too little to show anything"
    assert len(acked) > len(before), "no write was acknowledged after the backup started"
    return {"archive": archive, "description": json.loads(r.stdout), "before": before,
            "token": conn["token"], "ldap": ldap_name}


def test_backup_describes_its_contents(backed_up):
    d = backed_up["description"]
    assert d["format"] == 1
    # It holds the sealing key: readable by its owner only, whatever the umask.
    assert os.stat(backed_up["archive"]).st_mode & 0o077 == 0
    assert set(d["files"]) == {"idsync.db", "secret.key", "server.json"}
    listing = subprocess.run(["tar", "--zstd", "-tf", backed_up["archive"]], capture_output=True,
                             text=True, check=True).stdout.split()
    assert listing[0] == "idsync-backup.json" and listing[-1] == "SHA256SUMS"
    assert sorted(listing[1:-1]) == ["idsync.db", "secret.key", "server.json"]


def test_restore_under_load_backup(idsync_bin, backed_up, tmp_path):
    target = str(tmp_path / "restored")
    r = run_cli(idsync_bin, "restore", "--from", backed_up["archive"], "--data", target)
    assert r.returncode == 0, r.stderr
    for name in ("idsync.db", "secret.key", "server.json"):
        assert os.path.isfile(os.path.join(target, name)), name
    assert os.stat(os.path.join(target, "secret.key")).st_mode & 0o077 == 0
    db = sqlite3.connect(f"file:{target}/idsync.db?mode=ro", uri=True)
    assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    db.close()

    restored = start_server(idsync_bin, target, NO_RATE_LIMITS)
    try:
        scim = Scim(restored.scim_base, backed_up["token"])  # the same token still works
        seen = {}
        start = 1
        while True:
            page = scim.list("/Users", startIndex=start, count=500, attributes="userName")
            for u in page.get("Resources", []):
                seen[u["id"]] = u["userName"]
            if start + page["itemsPerPage"] > page["totalResults"] or not page["itemsPerPage"]:
                break
            start += page["itemsPerPage"]
        missing = [(i, n) for i, n in backed_up["before"] if seen.get(i) != n]
        assert not missing, f"{len(missing)} acknowledged writes missing, e.g. {missing[:3]}"
        # The sealed LDAP bind password opens with the restored secret.key: a sync binds.
        run = cli_json(idsync_bin, "sync", backed_up["ldap"], "--data", target, "--json")
        assert run["outcome"] == "succeeded", run
    finally:
        assert restored.stop() == 0


def _staging_left(parent):
    return [n for n in os.listdir(parent) if ".restore-" in n]


def test_corrupted_archive_is_refused(idsync_bin, backed_up, tmp_path):
    with open(backed_up["archive"], "rb") as f:
        blob = bytearray(f.read())
    truncated = tmp_path / "truncated.tar.zst"
    truncated.write_bytes(bytes(blob[: len(blob) // 2]))
    flipped = tmp_path / "flipped.tar.zst"
    blob[len(blob) // 2] ^= 0xFF
    flipped.write_bytes(bytes(blob))
    for bad in (truncated, flipped):
        target = tmp_path / ("from-" + bad.name)
        r = run_cli(idsync_bin, "restore", "--from", str(bad), "--data", str(target))
        assert r.returncode == 1, (bad, r.stdout)
        assert "not a readable idsync backup" in r.stderr or "not a valid idsync backup" in r.stderr
        assert "nothing was restored" in r.stderr, r.stderr
        assert not target.exists()
        assert not _staging_left(tmp_path)


def test_altered_member_fails_its_checksum(idsync_bin, backed_up, tmp_path):
    """An archive whose compression is intact but whose database was changed (re-packed as a
    plain tar) is refused by SHA256SUMS, not by the decompressor."""
    unpacked = tmp_path / "unpacked"
    unpacked.mkdir()
    subprocess.run(["tar", "--zstd", "-xf", backed_up["archive"], "-C", str(unpacked)], check=True)
    db = unpacked / "idsync.db"
    blob = bytearray(db.read_bytes())
    blob[len(blob) // 2] ^= 0x01
    db.write_bytes(bytes(blob))
    altered = tmp_path / "altered.tar"
    with tarfile.open(altered, "w") as tar:
        for name in ("idsync-backup.json", "idsync.db", "secret.key", "server.json", "SHA256SUMS"):
            tar.add(unpacked / name, arcname=name)
    target = tmp_path / "target"
    r = run_cli(idsync_bin, "restore", "--from", str(altered), "--data", str(target))
    assert r.returncode == 1
    assert "checksum mismatch for idsync.db" in r.stderr, r.stderr
    assert not target.exists() and not _staging_left(tmp_path)


def test_restore_into_a_non_empty_folder_is_refused(idsync_bin, backed_up, tmp_path):
    target = tmp_path / "busy"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    r = run_cli(idsync_bin, "restore", "--from", backed_up["archive"], "--data", str(target))
    assert r.returncode == 1
    assert "not empty" in r.stderr, r.stderr
    assert os.listdir(target) == ["keep.txt"] and (target / "keep.txt").read_text() == "mine"
    # An existing empty folder is fine (e.g. a mounted volume).
    empty = tmp_path / "empty"
    empty.mkdir()
    r = run_cli(idsync_bin, "restore", "--from", backed_up["archive"], "--data", str(empty))
    assert r.returncode == 0, r.stderr
    assert (empty / "idsync.db").is_file()


def test_backup_refuses_to_overwrite_and_needs_a_database(idsync_bin, backed_up, server, tmp_path):
    r = run_cli(idsync_bin, "backup", "--data", server.data_dir, "--to", backed_up["archive"])
    assert r.returncode == 1 and "already exists" in r.stderr
    r = run_cli(idsync_bin, "backup", "--data", str(tmp_path), "--to", str(tmp_path / "x.tar.zst"))
    assert r.returncode == 1 and "no database" in r.stderr
    assert not (tmp_path / "x.tar.zst").exists()
