"""A real Active Directory domain controller for the AD tests (test_ldap_ad.py): Samba's
`samba` daemon (Debian's samba-ad-dc), provisioned as a throwaway domain in a temporary folder.

Everything lives under the folder: its own smb.conf, private, state, cache, lock and pid
directories, log and TLS key; nothing in /etc/samba, /var/lib/samba or /run/samba is read or
changed. Samba's LDAP ports are fixed (389, 636 and the global catalog's 3268/3269), so the
daemon binds only to a loopback address of its own, 127.0.0.X, picked where those ports are
free (`interfaces = 127.0.0.X/8` + `bind interfaces only`; Linux answers on all of 127/8).

Filling it, as fast as it stays real (measured, see docs/ARCHITECTURE.md "Tests"):
- the OUs, the 1,600 users of the big group and the group itself are one LDIF added with
  `ldbadd` to the domain's sam.ldb before the daemon starts (through Samba's own module stack,
  which assigns objectGUID, objectSid, uSNChanged, memberOf... as for any other write):
  about 6 s, where the same LDIF over LDAPS takes nearly 2 minutes (one commit per entry);
- the named people and groups are made with `samba-tool` commands (user add, group add,
  addmembers, user disable, computer add, later rename and delete), all of one step run in
  one Python process the way /usr/bin/samba-tool runs one (`cmd_sambatool()._run`), against
  the local sam.ldb as an administrator does on a DC: ~0.1 s a command instead of ~0.9 s.

The daemon runs in the foreground (`samba -i -M single`, only the `ldap` service: no KDC, DNS,
SMB or winbind) and serves LDAPS with a certificate made here for its address. It must run as
root (ports below 1024). If it cannot be run, the caller fails with the reason (never skips).
"""
import json
import os
import random
import secrets
import socket
import subprocess
import textwrap
import time

SAMBA = "/usr/sbin/samba"
SAMBA_TOOL = "/usr/bin/samba-tool"
LDBADD = "/usr/bin/ldbadd"
PROVISION_SETUP = "/usr/share/samba/setup"  # samba-ad-provision
REALM = "IDSYNC.TEST"
DOMAIN = "IDSYNC"
BASE = "DC=idsync,DC=test"
PORTS = (389, 636, 3268, 3269)

# Runs samba-tool command lines (one JSON list of argument lists on stdin) in one process, each
# exactly as /usr/bin/samba-tool runs its command line; stops at the first failure.
_BATCH = textwrap.dedent("""\
    import json, sys
    from samba.netcmd.main import cmd_sambatool
    for argv in json.load(sys.stdin):
        try:
            rc = cmd_sambatool()._run("samba-tool", *argv)
        except SystemExit as e:
            rc = e.code
        except Exception as e:
            cmd_sambatool().show_command_error(e)
            rc = 1
        if rc:
            print("samba-tool " + " ".join(argv) + f" failed ({rc})", file=sys.stderr)
            sys.exit(1)
    """)


class SambaUnavailable(Exception):
    """The fixture cannot run here; the message says why."""


def missing_requirements():
    """None, or why a Samba AD DC cannot run on this machine."""
    for path, package in ((SAMBA, "samba"), (SAMBA_TOOL, "samba-common-bin"),
                          (LDBADD, "ldb-tools"), (PROVISION_SETUP, "samba-ad-provision"),
                          ("/usr/bin/openssl", "openssl")):
        if not os.path.exists(path):
            return f"{path} is missing (package {package}; tools/install-deps.sh test)"
    if os.geteuid() != 0:
        return "the Samba AD DC binds ports 389/636 and must run as root"
    return None


def _ports_free(address):
    for port in PORTS:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind((address, port))
        except OSError:
            return False
        finally:
            s.close()
    return True


def _accepts(address, port):
    try:
        socket.create_connection((address, port), timeout=1).close()
        return True
    except OSError:
        return False


def _run(cmd, log, timeout=300, **kw):
    with open(log, "ab") as out:
        out.write(("$ " + " ".join(cmd) + "\n").encode())
        out.flush()
        rc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, timeout=timeout,
                            **kw).returncode
    if rc != 0:
        with open(log, "rb") as f:
            tail = f.read()[-4000:].decode("utf-8", "replace")
        raise SambaUnavailable(f"{cmd[0]} {cmd[1] if len(cmd) > 1 else ''} failed ({rc}):\n{tail}")


class SambaAD:
    """A provisioned, running Samba AD DC. `ldaps_url`, `ca_file`, `admin` (bind DN, password)
    and `tool()` for more samba-tool commands; `timings` holds the seconds each step took."""

    def __init__(self, workdir, ldif=""):
        why = missing_requirements()
        if why:
            raise SambaUnavailable(why)
        self.dir = workdir
        self.log = os.path.join(workdir, "samba-fixture.log")
        self.timings = {}
        self.admin_password = "Adm1n-" + secrets.token_hex(8)
        self.admin = (f"CN=Administrator,CN=Users,{BASE}", self.admin_password)
        self.proc = None
        self.address = self.ldaps_url = None
        t = time.monotonic()
        self._provision()
        self.timings["provision"] = time.monotonic() - t
        if ldif:
            t = time.monotonic()
            path = os.path.join(workdir, "bulk.ldif")
            with open(path, "w") as f:
                f.write(ldif)
            _run([LDBADD, "--nosync", f"--configfile={self.conf}", "-H", self.sam, path],
                 self.log)
            self.timings["ldbadd"] = time.monotonic() - t

    # ------------------------------------------------------------------ provision

    def _provision(self):
        d = self.dir
        self.target = os.path.join(d, "dc")
        self.conf = os.path.join(self.target, "etc", "smb.conf")
        self.sam = os.path.join(self.target, "private", "sam.ldb")
        os.makedirs(os.path.join(d, "run"))
        self.ca_file = os.path.join(d, "tls-cert.pem")
        self.key_file = os.path.join(d, "tls-key.pem")
        # The listening address and its certificate are chosen by start().
        options = {
            "bind interfaces only": "yes",
            "server services": "ldap",
            "log file": os.path.join(d, "samba.log"),
            "pid directory": os.path.join(d, "run"),
            "tls keyfile": self.key_file,
            "tls certfile": self.ca_file,
            "tls cafile": "",
        }
        cmd = [SAMBA_TOOL, "domain", "provision", f"--targetdir={self.target}",
               f"--realm={REALM}", f"--domain={DOMAIN}", "--server-role=dc",
               "--host-name=DC1", "--dns-backend=NONE", f"--adminpass={self.admin_password}"]
        cmd += [f"--option={k}={v}" for k, v in options.items()]
        _run(cmd, self.log)

    # ------------------------------------------------------------------ daemon

    def start(self):
        """Starts the DC on a free 127.0.0.X (another address if that one was taken meanwhile)."""
        t = time.monotonic()
        tail = ""
        for attempt in range(3):
            candidates = [f"127.0.0.{n}" for n in random.sample(range(2, 255), 253)]
            self.address = next((a for a in candidates if _ports_free(a)), None)
            if not self.address:
                raise SambaUnavailable("no loopback address 127.0.0.2-254 has ports 389/636 free")
            self.ldaps_url = f"ldaps://{self.address}"
            _run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                  "-subj", f"/CN={self.address}", "-addext", f"subjectAltName=IP:{self.address}",
                  "-keyout", self.key_file, "-out", self.ca_file], self.log)
            os.chmod(self.key_file, 0o600)
            out_path = os.path.join(self.dir, f"samba-stdout-{attempt}.log")
            self._out = open(out_path, "ab")
            # --maximum-runtime: a DC orphaned by a killed test run ends by itself within the
            # hour.
            self.proc = subprocess.Popen(
                [SAMBA, "-i", "-M", "single", "--maximum-runtime=3600", "-s", self.conf,
                 f"--option=interfaces={self.address}/8"],
                stdin=subprocess.DEVNULL, stdout=self._out, stderr=subprocess.STDOUT,
                start_new_session=True)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and self.proc.poll() is None:
                if _accepts(self.address, 636):
                    self.timings["start"] = time.monotonic() - t
                    return self
                time.sleep(0.1)
            self.stop()
            with open(out_path, "rb") as f:
                tail = f.read()[-3000:].decode("utf-8", "replace")
        raise SambaUnavailable(f"samba did not listen on 127.0.0.X:636:\n{tail}")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self.proc:
            self._out.close()

    # ------------------------------------------------------------------ samba-tool

    def tool(self, *commands):
        """Runs samba-tool command lines (lists of arguments, without "samba-tool") against
        the DC's sam.ldb, in one process; raises with samba-tool's output on a failure."""
        argvs = [[*c, "-H", self.sam, "-s", self.conf] for c in commands]
        log = os.path.join(self.dir, "samba-tool.log")
        with open(log, "ab") as out:
            r = subprocess.run(["/usr/bin/python3", "-c", _BATCH], input=json.dumps(argvs).encode(),
                               stdout=out, stderr=subprocess.STDOUT, timeout=300)
        if r.returncode != 0:
            with open(log, "rb") as f:
                raise AssertionError("samba-tool failed:\n" +
                                     f.read()[-4000:].decode("utf-8", "replace"))


def bulk_ldif(ou, group, prefix, count):
    """OU `ou` (under BASE), `count` enabled users `prefix0000`... in it (given name, surname,
    mail, no password: userAccountControl 544 = normal account, password not required) and
    the group `group` holding all of them."""
    base = f"OU={ou},{BASE}"
    parts = [f"dn: {base}\nobjectClass: organizationalUnit\n\n"]
    for i in range(count):
        name = f"{prefix}{i:04d}"
        parts.append(f"dn: CN={name},{base}\nobjectClass: user\nsAMAccountName: {name}\n"
                     f"userAccountControl: 544\ngivenName: Bulk\nsn: User {i:04d}\n"
                     f"mail: {name}@idsync.test\n\n")
    parts.append(f"dn: CN={group},{base}\nobjectClass: group\nsAMAccountName: {group}\n")
    parts.extend(f"member: CN={prefix}{i:04d},{base}\n" for i in range(count))
    parts.append("\n")
    return "".join(parts)


def ou_ldif(*ous):
    return "".join(f"dn: OU={ou},{BASE}\nobjectClass: organizationalUnit\n\n" for ou in ous)
