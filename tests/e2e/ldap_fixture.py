"""The slapd fixture of the LDAP e2e tests: build/idsync_slapd_fixture (the C++ test fixture as a
process: the same configuration and seed LDIF as the unit tests) started once per test module,
and small helpers shared by test_ldap.py and test_ldap_admin.py.
"""
import json
import os
import subprocess
import threading

import pytest

from conftest import http_request, run_cli, uniq


class Slapd:
    def __init__(self, binary, users=1200):
        self.proc = subprocess.Popen([binary, "--users", str(users)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("idsync_slapd_fixture did not start")
        self.info = json.loads(line)
        self.lock = threading.Lock()

    def command(self, text):
        with self.lock:
            self.proc.stdin.write(text + "\n")
            self.proc.stdin.flush()
            reply = self.proc.stdout.readline().strip()
        assert reply == "ok", reply
        return reply

    def apply(self, tmp_path, ldif):
        path = os.path.join(str(tmp_path), uniq("change") + ".ldif")
        with open(path, "w") as f:
            f.write(ldif)
        self.command("apply " + path)

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def start_slapd(idsync_bin, users=1200):
    """A Slapd for one module; a failure, never a skip, when it cannot run."""
    binary = os.path.join(os.path.dirname(idsync_bin), "idsync_slapd_fixture")
    if not os.access(binary, os.X_OK):
        # A failure, not a skip: a suite that silently skips the LDAP tests would pass untested.
        pytest.fail(f"{binary} not built (cmake --build build --target idsync_slapd_fixture)")
    if not os.access("/usr/sbin/slapd", os.X_OK):
        pytest.fail("slapd not installed (tools/install-deps.sh test)")
    return Slapd(binary, users=users)


def ldap_settings(slapd):
    i = slapd.info
    return {"url": i["url"], "start_tls": True, "ca_file": i["ca_file"],
            "bind_dn": i["service_dn"], "base_dns": [i["people_dn"], i["groups_dn"]]}


class Api:
    """Admin API calls, each recorded in `recorded` for the OpenAPI check."""

    def __init__(self, url, token, recorded):
        self.url, self.token, self.recorded = url, token, recorded

    def call(self, method, path, body=None, params=None):
        hdrs = {"Accept": "application/json", "Authorization": f"Bearer {self.token}"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        q = "&".join(f"{k}={v}" for k, v in (params or {}).items())
        r = http_request(self.url, method, "/api/v1" + path + ("?" + q if q else ""), data, hdrs)
        self.recorded.append((method, "/api/v1" + path, body, r))
        return r


def add_cli(idsync_bin, data_dir, slapd, name, password=None, extra=()):
    s = ldap_settings(slapd)
    args = ["connection", "add", name, "--kind", "ldap", "--data", data_dir, "--url", s["url"],
            "--start-tls", "--ca-file", s["ca_file"], "--bind-dn", s["bind_dn"],
            "--base-dn", s["base_dns"][0], "--base-dn", s["base_dns"][1], "--password-stdin",
            "--json", *extra]
    r = run_cli(idsync_bin, *args, input=(password or slapd.info["service_password"]) + "\n")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)
