"""Helpers for the black-box LDAP server tests (test_ldap_differential.py, test_ldap_server.py):
`idsync serve` with its LDAP listeners, service accounts, a slapd of the test's own, ldapsearch
and LDIF parsing, RFC 4514 DN normal form.

Everything runs on 127.0.0.1 with ports chosen by the OS, in the module's temporary folder.
"""
import base64
import functools
import json
import os
import re
import shutil
import socket
import subprocess
import time
import uuid

from conftest import (NO_RATE_LIMITS, ServerProcess, ldap_listening_line, remember_secrets,
                      run_cli)

SLAPD = "/usr/sbin/slapd"
SLAPADD = "/usr/sbin/slapadd"
SCHEMA_DIR = "/etc/ldap/schema"
MODULE_DIR = "/usr/lib/ldap"
SUFFIX = "dc=idsync"


def require_tools(*names):
    """Fails (never skips: a silently skipped suite passes untested) when a tool is missing."""
    import pytest

    for name in names:
        if not shutil.which(name) and not os.access(name, os.X_OK):
            pytest.fail(f"{name} not installed (tools/install-deps.sh test)", pytrace=False)


def free_port():
    """A port that was free on 127.0.0.1 a moment ago (the caller retries if it is taken)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def accepts(port, host="127.0.0.1"):
    try:
        socket.create_connection((host, port), timeout=1).close()
        return True
    except OSError:
        return False


# --------------------------------------------------------------------------- idsync serve


class LdapServe(ServerProcess):
    """`idsync serve` with --ldap-listen (and --ldaps-listen when given a certificate).

    Ready when the "listening on" line is on stdout; the LDAP URLs are on stderr, written before
    it (the JSON log line {"msg": "LDAP listening", "ldap": "ldap://...", "ldaps": ...}).
    """

    def __init__(self, binary, data_dir, extra_args=(), tls=None):
        args = ["--ldap-listen", "127.0.0.1:0", *NO_RATE_LIMITS]
        if tls:
            args += ["--ldaps-listen", "127.0.0.1:0", "--ldap-tls-cert", tls[0],
                     "--ldap-tls-key", tls[1]]
        super().__init__(binary, data_dir, [*args, *extra_args])
        self.wait_ready()
        line = ldap_listening_line(self.stderr_text())
        assert line, f"no 'LDAP listening' line: {self.stderr_text()[-2000:]}"
        self.ldap_url, self.ldaps_url = line.get("ldap"), line.get("ldaps")
        self.ldap_port = int(self.ldap_url.rsplit(":", 1)[1])
        self.ldaps_port = int(self.ldaps_url.rsplit(":", 1)[1]) if self.ldaps_url else None


def add_account(binary, data_dir, name, directory="users"):
    """A service account made with `idsync ldap-account add --json`: (bind DN, password)."""
    r = run_cli(binary, "ldap-account", "add", name, "--directory", directory, "--data", data_dir,
                "--json")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    remember_secrets(info)
    assert info["bind_dn"] == f"cn={name},ou=services,{SUFFIX}" and info["password"], info
    return info["bind_dn"], info["password"]


# --------------------------------------------------------------------------- ldapsearch


class SearchResult:
    def __init__(self, rc, entries, stderr, cmd):
        self.rc, self.entries, self.stderr, self.cmd = rc, entries, stderr, cmd

    def __repr__(self):
        return f"<rc={self.rc} {len(self.entries)} entries {self.stderr.strip()[:300]!r}>"

    def by_dn(self):
        return {e[0]: e[1] for e in self.entries}


def parse_ldif(text):
    """ldapsearch -LLL -o ldif-wrap=no output -> [(dn, {attr: [values]})], values as str
    (bytes that are not UTF-8 stay bytes). Attribute names keep the server's spelling."""
    entries = []
    for block in text.split("\n\n"):
        lines = [ln for ln in block.split("\n") if ln and not ln.startswith("#")]
        if not lines:
            continue
        dn, attrs = None, {}
        for ln in lines:
            if ln.startswith(" "):  # continuation (wrapping is off, but be safe)
                raise AssertionError(f"unexpected LDIF continuation: {ln!r}")
            name, sep, rest = ln.partition(":")
            assert sep, f"not an LDIF line: {ln!r}"
            if rest.startswith(":"):
                raw = base64.b64decode(rest[1:].strip())
                try:
                    value = raw.decode("utf-8")
                except UnicodeDecodeError:
                    value = raw
            else:
                value = rest[1:] if rest.startswith(" ") else rest
            if name.lower() == "dn":
                dn = value
            else:
                attrs.setdefault(name, []).append(value)
        entries.append((dn, attrs))
    return entries


def ldapsearch(url, base, flt="(objectClass=*)", attrs=(), scope="sub", bind=None, extra=(),
               env=None, timeout=120):
    """Runs ldapsearch; the exit status is the LDAP result code (or a client error)."""
    cmd = ["ldapsearch", "-x", "-LLL", "-o", "ldif-wrap=no", "-o", "nettimeout=30", "-H", url,
           "-b", base, "-s", scope]
    if bind:
        cmd += ["-D", bind[0], "-w", bind[1]]
    cmd += list(extra)
    cmd += [flt, *attrs]
    full_env = dict(os.environ)
    full_env.update(env or {})
    r = subprocess.run(cmd, capture_output=True, timeout=timeout, env=full_env)
    out = r.stdout.decode("utf-8", "replace")
    return SearchResult(r.returncode, parse_ldif(out), r.stderr.decode("utf-8", "replace"), cmd)


# --------------------------------------------------------------------------- DN normal form

_HEX = "0123456789abcdef"


def _unescape_value(s):
    out = bytearray()
    i = 0
    b = s.encode("utf-8")
    while i < len(b):
        c = b[i]
        if c == 0x5C and i + 1 < len(b):  # backslash
            n = b[i + 1:i + 3]
            if len(n) == 2 and all(chr(x).lower() in _HEX for x in n):
                out.append(int(n.decode(), 16))
                i += 3
                continue
            out.append(b[i + 1])
            i += 2
            continue
        out.append(c)
        i += 1
    return out.decode("utf-8")


def split_dn(dn):
    """RFC 4514 string -> [[(type, value)]] (unescaped values); hex-string (#...) values are
    not used by either server here and are kept as written."""
    rdns, avas, cur, i = [], [], "", 0
    typ = None
    while i < len(dn):
        c = dn[i]
        if c == "\\" and i + 1 < len(dn):
            cur += dn[i:i + 2]
            i += 2
            continue
        if c == "=" and typ is None:
            typ, cur = cur.strip(), ""
        elif c in ",+":
            avas.append((typ, cur))
            typ, cur = None, ""
            if c == ",":
                rdns.append(avas)
                avas = []
        else:
            cur += c
        i += 1
    if typ is not None:
        avas.append((typ, cur))
        rdns.append(avas)
    return [[(t.lower(), _unescape_value(v)) for t, v in rdn] for rdn in rdns]


@functools.lru_cache(maxsize=None)
def norm_dn(dn):
    """A comparable form: types lower-cased, values unescaped, case-folded and space-squeezed
    (every naming attribute here is caseIgnoreMatch), multi-valued RDNs sorted."""
    if not isinstance(dn, str):
        return dn
    parts = []
    for rdn in split_dn(dn):
        avas = sorted((t, " ".join(v.split()).casefold()) for t, v in rdn)
        parts.append("+".join(f"{t}={v!r}" for t, v in avas))
    return ",".join(parts)


# --------------------------------------------------------------------------- slapd


class Slapd:
    """A slapd (mdb) of the test's own, loaded with `slapadd` from an LDIF, serving `suffix`
    on a free 127.0.0.1 port; stopped with stop()."""

    def __init__(self, workdir, suffix, ldif, extra_conf="", size_limit="unlimited"):
        self.dir = workdir
        os.makedirs(os.path.join(workdir, "db"), exist_ok=True)
        self.suffix = suffix
        self.root_dn = "cn=admin," + suffix
        self.root_pw = uuid.uuid4().hex
        self.conf = os.path.join(workdir, "slapd.conf")
        conf = "".join(f"include {SCHEMA_DIR}/{s}.schema\n"
                       for s in ("core", "cosine", "inetorgperson", "nis", "dyngroup"))
        conf += (f"pidfile {workdir}/slapd.pid\nargsfile {workdir}/slapd.args\n"
                 f"modulepath {MODULE_DIR}\nmoduleload back_mdb\nmoduleload dynlist\n"
                 f"sizelimit {size_limit}\n"
                 f"database mdb\nmaxsize 1073741824\nsuffix \"{suffix}\"\n"
                 f"rootdn \"{self.root_dn}\"\nrootpw {self.root_pw}\n"
                 f"directory {workdir}/db\n"
                 "index objectClass,uid,cn,member,uniqueMember eq\n"
                 "access to * by * read\n" + extra_conf)
        with open(self.conf, "w") as f:
            f.write(conf)
        ldif_path = os.path.join(workdir, "load.ldif")
        with open(ldif_path, "w") as f:
            f.write(ldif)
        log = os.path.join(workdir, "slapadd.log")
        with open(log, "wb") as out:
            rc = subprocess.run([SLAPADD, "-q", "-s", "-f", self.conf, "-l", ldif_path],
                                stdout=out, stderr=subprocess.STDOUT, timeout=120).returncode
        assert rc == 0, f"slapadd failed ({rc}):\n{open(log).read()[-3000:]}"
        self.log = os.path.join(workdir, "slapd.log")
        self.proc = None
        for _ in range(5):
            self.port = free_port()
            self.url = f"ldap://127.0.0.1:{self.port}/"
            self._log = open(self.log, "ab")
            self.proc = subprocess.Popen([SLAPD, "-h", self.url, "-f", self.conf, "-d", "0"],
                                         stdin=subprocess.DEVNULL, stdout=self._log,
                                         stderr=subprocess.STDOUT)
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and self.proc.poll() is None:
                if accepts(self.port):
                    return
                time.sleep(0.05)
            self.stop()
        raise AssertionError(f"slapd did not start:\n{open(self.log).read()[-3000:]}")

    @property
    def bind(self):
        return (self.root_dn, self.root_pw)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        if self.proc:
            self._log.close()
