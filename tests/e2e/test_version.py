"""`idsync version`, `--version` and the idsync_build_info metric (issue #14)."""
import json
import re
import sqlite3
import ssl

from conftest import http_request, run_cli

LIBRARIES = ("sqlite", "openssl", "boost", "libldap", "zstd", "icu", "libarchive")
# The last line names the allocator: tcmalloc in the release build, glibc's own in sanitizer
# builds (their runtime replaces malloc).
ALLOCATORS = ("tcmalloc", "glibc")
VERSION_RE = re.compile(r"^\d+\.\d+\.\d+$")


def _cmake_version():
    import os
    root = os.path.join(os.path.dirname(__file__), "..", "..")
    with open(os.path.join(root, "CMakeLists.txt")) as f:
        m = re.search(r"project\(idsync VERSION (\d+\.\d+\.\d+)", f.read())
    assert m, "CMakeLists.txt has no project(idsync VERSION x.y.z)"
    return m.group(1)


def test_version_text_names_version_commit_and_libraries(idsync_bin):
    r = run_cli(idsync_bin, "version")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    m = re.match(r"^idsync (\S+) \(commit (\S+)\)$", lines[0])
    assert m, lines[0]
    assert m.group(1) == _cmake_version()
    assert m.group(2) == "unknown" or re.match(r"^[0-9a-f]{7,40}(-dirty)?$", m.group(2)), m.group(2)
    named = dict(line.split(" ", 1) for line in lines[1:])
    assert tuple(named)[:-1] == LIBRARIES
    allocator = tuple(named)[-1]
    assert allocator in ALLOCATORS, lines[-1]
    # The versions are the ones the process runs with: Python's own SQLite and OpenSSL are the
    # same Debian shared libraries.
    assert named["sqlite"] == sqlite3.sqlite_version
    assert ssl.OPENSSL_VERSION.split()[1] == named["openssl"]
    for name in LIBRARIES + (allocator,):
        assert re.match(r"^\d+(\.\d+)+$", named[name]), (name, named[name])


def test_dash_dash_version_and_json_agree(idsync_bin):
    text = run_cli(idsync_bin, "version")
    flag = run_cli(idsync_bin, "--version")
    assert flag.returncode == 0, flag.stderr
    assert flag.stdout == text.stdout
    r = run_cli(idsync_bin, "version", "--json")
    assert r.returncode == 0, r.stderr
    j = json.loads(r.stdout)
    assert j["version"] == _cmake_version()
    assert text.stdout.splitlines()[0] == f"idsync {j['version']} (commit {j['commit']})"
    assert sorted(j["libraries"]) == sorted(LIBRARIES + (text.stdout.split()[-2],))


def test_metrics_export_build_info(idsync_bin, server):
    j = json.loads(run_cli(idsync_bin, "version", "--json").stdout)
    body = http_request(server.url, "GET", "/metrics").body.decode()
    lines = [l for l in body.splitlines() if l.startswith("idsync_build_info{")]
    assert len(lines) == 1, body[:2000]
    assert "# TYPE idsync_build_info gauge" in body
    labels = dict(re.findall(r'(\w+)="([^"]*)"', lines[0]))
    assert labels["version"] == j["version"]
    assert labels["commit"] == j["commit"]
    for name, version in j["libraries"].items():
        assert labels[name] == version
    assert lines[0].endswith("} 1")
