"""Real LDAP clients against `idsync serve --ldap-listen/--ldaps-listen` (issue #10, "What must be
shown" 2 (a) and (b)).

(a) tests/ldap_clients/JiraSync.java (compiled here with javac; plain JNDI, the stack under
    Atlassian's Spring-LDAP connector) replays what Jira's user directory of type "OpenLDAP" and
    of type "Microsoft Active Directory" sends: LDAPS bind as a service account, paged user and
    group searches with the attributes Crowd asks for, and the AD incremental sync (token =
    dsServiceName -> invocationId + highestCommittedUSN, GUID diff, uSNChanged>=N+1 searches,
    distinguishedName group lookups, tombstones with the show-deleted control). The header of
    the Java file says what Crowd does and where that comes from.
(b) Apache httpd's mod_authnz_ldap with `Require ldap-group`, for users idsync pulled from a
    real slapd (their passwords checked by pass-through bind), before and after a SCIM PATCH
    of the group.

Two idsync servers, each started once for the module: one for Jira (directory "customers" as
OpenLDAP, "users" with the Active Directory profile), one for Apache ("users", standard).
"""
import json
import os
import select
import shutil
import socket
import subprocess
import tempfile

import pytest

from conftest import (NO_RATE_LIMITS, Scim, add_connection, cli_json, ldap_listening_line,
                      start_server, uniq, wait_until)
from ldap_fixture import Slapd, add_cli

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
JAVA_SOURCE = os.path.join(REPO, "tests", "ldap_clients", "JiraSync.java")
APACHE = "/usr/sbin/apache2"
APACHE_MODULES = "/usr/lib/apache2/modules"
SUFFIX = "dc=idsync"
PAGE = 25  # Jira's page size is configurable (1000 by default); small, so paging is exercised


def need(path, package):
    # A failure, not a skip: a suite that silently skips these would pass untested.
    if not os.access(path, os.X_OK):
        pytest.fail(f"{path} not found: tools/install-deps.sh test installs {package}")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    d = tmp_path_factory.mktemp("ldap-certs")
    cert, key, store = d / "cert.pem", d / "key.pem", d / "trust.p12"
    r = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
         "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    need("/usr/bin/keytool", "openjdk-17-jdk-headless")
    r = subprocess.run(
        ["keytool", "-importcert", "-noprompt", "-alias", "idsync", "-file", str(cert),
         "-keystore", str(store), "-storetype", "PKCS12", "-storepass", "changeit"],
        capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    return {"cert": str(cert), "key": str(key), "truststore": str(store)}


def ldap_urls(srv):
    line = wait_until(lambda: ldap_listening_line(srv.stderr_text()), timeout=10,
                      message="the LDAP listening line")
    return {k: line[k] for k in ("ldap", "ldaps") if k in line}


def start_ldap_server(idsync_bin, data, certs):
    srv = start_server(idsync_bin, data, [
        *NO_RATE_LIMITS, "--ldap-listen", "127.0.0.1:0", "--ldaps-listen", "127.0.0.1:0",
        "--ldap-tls-cert", certs["cert"], "--ldap-tls-key", certs["key"]])
    srv.ldap = ldap_urls(srv)
    return srv


@pytest.fixture(scope="module")
def server(idsync_bin, data_dir, certs):
    srv = start_ldap_server(idsync_bin, data_dir, certs)
    yield srv
    if srv.alive():
        assert srv.stop() == 0, srv.stderr_text()[-2000:]


@pytest.fixture(scope="module")
def java_classes(tmp_path_factory):
    need("/usr/bin/javac", "openjdk-17-jdk-headless")
    out = tmp_path_factory.mktemp("jirasync-classes")
    r = subprocess.run(["javac", "-Xlint:all", "-Werror", "-d", str(out), JAVA_SOURCE],
                       capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr
    return str(out)


def account(idsync_bin, data, directory):
    a = cli_json(idsync_bin, "ldap-account", "add", uniq("jira"), "--directory", directory,
                 "--data", data, "--json")
    assert a["bind_dn"].endswith(",ou=services," + SUFFIX), a
    return a


class JiraSync:
    """The Java program as a child: one command per line in, one JSON object per line out."""

    def __init__(self, classes, certs, url, acct, base, kind):
        env = dict(os.environ, JIRASYNC_PASSWORD=acct["password"])
        self.proc = subprocess.Popen(
            ["java", "-XX:TieredStopAtLevel=1", "-Xshare:auto",
             "-Djavax.net.ssl.trustStore=" + certs["truststore"],
             "-Djavax.net.ssl.trustStorePassword=changeit",
             "-Djavax.net.ssl.trustStoreType=PKCS12", "-cp", classes, "JiraSync",
             "--url", url, "--bind-dn", acct["bind_dn"], "--base", base, "--type", kind,
             "--page-size", str(PAGE)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)

    def run(self, command, timeout=60):
        self.proc.stdin.write((command + "\n").encode())
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        assert ready, f"JiraSync {command}: no answer within {timeout}s"
        line = self.proc.stdout.readline()
        assert line, f"JiraSync exited: {self.proc.stderr.read().decode()}"
        out = json.loads(line)
        assert "error" not in out, f"JiraSync {command}: {out['error']}"
        return out

    def close(self):
        try:
            self.proc.stdin.write(b"quit\n")
            self.proc.stdin.close()
            self.proc.wait(timeout=20)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()


@pytest.fixture
def jira(java_classes, certs, server):
    clients = []

    def make(acct, directory, kind):
        c = JiraSync(java_classes, certs, server.ldap["ldaps"], acct, f"ou={directory},{SUFFIX}",
                     kind)
        clients.append(c)
        return c

    yield make
    for c in clients:
        c.close()


# Names that need escaping in a DN (RFC 4514), non-ASCII, and a leading '#'.
SPECIAL = ['Doe, John+1 "q" <x>;=', "#hash\\back", "Ünïcødé-Ωmega", "trailing.dot."]


def make_users(scim, tag, count):
    names = [f"{tag}-{i:03d}" for i in range(count)] + [f"{s}-{tag}" for s in SPECIAL]
    ids = {}
    for n in names:
        ids[n] = scim.create_user(userName=n, displayName=f"Display {n}")["id"]
    return ids


def by_name(cache):
    return {u["name"]: (uid, u) for uid, u in cache["users"].items()}


def group_members_by_name(cache):
    names = {uid: u["name"] for uid, u in cache["users"].items()}
    names.update({gid: g["name"] for gid, g in cache["groups"].items()})
    return {g["name"]: sorted(names[m] for m in g["members"]) for g in cache["groups"].values()}


def comparable(cache):
    """A cache as Crowd keeps it: users and groups by external id, members by id."""
    users = {k: {f: v[f] for f in ("name", "dn", "mail", "displayName", "givenName", "sn",
                                      "active")}
             for k, v in cache["users"].items()}
    groups = {k: {"name": v["name"], "members": sorted(v["members"])}
              for k, v in cache["groups"].items()}
    return users, groups


# --------------------------------------------------------------------------- (a) Jira


def test_jira_openldap_directory_type(idsync_bin, server, make_scim, jira):
    """Directory type "OpenLDAP": (objectclass=inetorgperson) / (objectclass=groupOfUniqueNames)
    with uniqueMember, entryUUID as the unique ID, paged; a SCIM rename keeps the entryUUID."""
    scim = make_scim(directory="customers")
    tag = uniq("ol")
    ids = make_users(scim, tag, 70)
    names = sorted(ids)
    disabled = names[5]
    r = scim.patch_ops(f"/Users/{ids[disabled]}", [{"op": "replace", "path": "active",
                                                    "value": False}])
    assert r.status == 200, r
    g_all = scim.create_group(f"all-{tag}", members=[ids[n] for n in names])
    g_special = scim.create_group(f"special-{tag}",
                                  members=[ids[n] for n in names if not n.startswith(tag)])
    scim.create_group(f"empty-{tag}")
    acct = account(idsync_bin, server.data_dir, "customers")
    client = jira(acct, "customers", "openldap")

    first = client.run("full")
    cache = first["cache"]
    assert first["pages"] >= 2 + len(names) // PAGE, first["pages"]
    users = by_name(cache)
    visible = [n for n in names if n != disabled]  # disabled users are hidden by default
    assert sorted(users) == visible
    for n in visible:
        uid, u = users[n]
        assert u["mail"] == n and u["displayName"] == f"Display {n}", u
    # Every uniqueMember value is string-equal to a returned user DN (naive DN matching).
    user_dns = {u["dn"] for _, u in users.values()}
    assert cache["unresolved"] == []
    for g in cache["groups"].values():
        assert set(g["memberDns"]) <= user_dns, g
    got = group_members_by_name(cache)
    assert got[f"all-{tag}"] == visible
    assert got[f"special-{tag}"] == sorted(n for n in visible if not n.startswith(tag))
    # A group without members has no effective group (memberships make groups), so none.
    assert f"empty-{tag}" not in got
    assert len(user_dns) == len(visible)

    # A SCIM rename: the same entryUUID comes back with the new uid (and a new DN).
    old = names[0]
    new = f"renamed-{tag}"
    r = scim.patch_ops(f"/Users/{ids[old]}", [{"op": "replace", "path": "userName",
                                               "value": new}])
    assert r.status == 200, r
    second = client.run("full")["cache"]
    entry_uuid, before = users[old]
    after = second["users"][entry_uuid]
    assert after["name"] == new and before["name"] == old
    assert after["dn"] != before["dn"] and after["dn"].startswith(f"uid={new},")
    assert set(second["users"]) == set(cache["users"])
    assert second["unresolved"] == []
    assert group_members_by_name(second)[f"all-{tag}"] == sorted(
        [new] + [n for n in visible if n != old])


def test_jira_active_directory_incremental_sync(idsync_bin, server, make_scim, jira):
    """Directory type "Microsoft Active Directory" over the AD profile: full sync and token,
    SCIM changes, then Crowd's incremental sync (default GUID mode, and the legacy tombstone
    mode) sees exactly those changes: its cache equals a fresh full sync."""
    s = cli_json(idsync_bin, "directory", "ldap", "users", "--profile", "active_directory",
                 "--data", server.data_dir, "--json")
    assert s["profile"] == "active_directory", s
    scim = make_scim(directory="users")
    tag = uniq("ad")
    ids = make_users(scim, tag, 40)
    n = lambda i: f"{tag}-{i:03d}"  # noqa: E731
    g1 = scim.create_group(f"g1-{tag}", members=[ids[n(i)] for i in range(0, 10)])
    g2 = scim.create_group(f"g2-{tag}", members=[ids[n(i)] for i in range(10, 20)])
    g3 = scim.create_group(f"g3-{tag}", members=[ids[n(i)] for i in range(30, 40)])
    scim.create_group(f"empty-{tag}")
    acct = account(idsync_bin, server.data_dir, "users")
    client = jira(acct, "users", "ad")

    root = client.run("rootdse")
    assert int(root["highestCommittedUSN"]) > 0, root
    assert root["dsServiceName"] and root["defaultNamingContext"] == f"ou=users,{SUFFIX}"
    full = client.run("full")
    assert full["invocationId"] and full["lastUsnChanged"] >= int(root["highestCommittedUSN"])
    base = full["cache"]
    assert base["unresolved"] == []
    users = by_name(base)
    assert set(ids) <= set(users)
    for name, (guid, u) in users.items():
        assert u["active"] is True and u["guid"] == guid_text(guid), u
    assert group_members_by_name(base)[f"g1-{tag}"] == sorted(n(i) for i in range(10))

    # Between the two runs: create, update, rename, disable, delete, membership changes.
    created = f"new-{tag}"
    scim.create_user(userName=created, displayName="New")
    upd, ren, dis, gone = n(25), n(26), n(31), n(32)
    renamed = f"renamed-{tag}"
    assert scim.patch_ops(f"/Users/{ids[upd]}", [
        {"op": "replace", "path": "displayName", "value": "Updated"}]).status == 200
    assert scim.patch_ops(f"/Users/{ids[ren]}", [
        {"op": "replace", "path": "userName", "value": renamed}]).status == 200
    assert scim.patch_ops(f"/Users/{ids[dis]}", [
        {"op": "replace", "path": "active", "value": False}]).status == 200
    assert scim.delete(f"/Users/{ids[gone]}").status == 204
    joined, left = n(20), n(10)
    assert scim.patch_ops(f"/Groups/{g1['id']}", [
        {"op": "add", "path": "members", "value": [{"value": ids[joined]}]}]).status in (200, 204)
    assert scim.patch_ops(f"/Groups/{g2['id']}", [
        {"op": "remove", "path": f'members[value eq "{ids[left]}"]'}]).status in (200, 204)

    inc = client.run("incremental")
    assert inc["mode"] == "incremental", inc
    assert inc["since"] == full["lastUsnChanged"] and inc["nextUsn"] > inc["since"]
    assert inc["added"] == [created]
    assert inc["removed"] == sorted([dis, gone])  # a disabled user is hidden, as if deleted
    assert inc["fetchedByGuid"] == []
    # Users whose own attributes changed; a membership change may also touch its members.
    assert {upd, renamed} <= set(inc["updated"]) <= {upd, renamed, joined, left}, inc["updated"]
    assert set(inc["groupsUpdated"]) >= {g1["displayName"], g2["displayName"]}
    assert set(inc["groupsUpdated"]) <= {g1["displayName"], g2["displayName"],
                                         g3["displayName"]}  # g3 lost dis and gone
    assert inc["groupsAdded"] == [] and inc["groupsRemoved"] == []
    assert inc["cache"]["unresolved"] == []

    legacy = client.run("incremental-legacy")
    assert legacy["mode"] == "incremental-legacy", legacy
    assert legacy["tombstoneBase"] == f"ou=users,{SUFFIX}"  # no rootDomainNamingContext
    assert legacy["removed"] == sorted([dis, gone])
    assert len(legacy["tombstones"]) == 2
    assert all("\nDEL:" in dn or "\\0ADEL:" in dn for dn in legacy["tombstones"]), legacy
    assert legacy["added"] == [created]

    # The renamed user kept its objectGUID.
    guid = users[ren][0]
    assert inc["cache"]["users"][guid]["name"] == renamed

    # What the incremental runs built equals a fresh full sync.
    fresh = client.run("full")
    assert comparable(inc["cache"]) == comparable(fresh["cache"])
    assert comparable(legacy["cache"])[0] == comparable(fresh["cache"])[0]
    got = group_members_by_name(fresh["cache"])
    assert got[f"g1-{tag}"] == sorted([n(i) for i in range(10)] + [joined])
    assert got[f"g2-{tag}"] == sorted(n(i) for i in range(11, 20))
    assert got[f"g3-{tag}"] == sorted(n(i) for i in range(30, 40) if i not in (31, 32))
    # Nothing changed since: the next incremental run finds nothing.
    client.run("full")
    quiet = client.run("incremental")
    assert (quiet["added"], quiet["removed"], quiet["updated"], quiet["groupsUpdated"]) == \
        ([], [], [], []), quiet


def guid_text(raw_hex):
    """GuidHelper.convertToADGUID of the raw bytes: the entryUUID text for idsync."""
    h = raw_hex
    rev = lambda s: "".join(reversed([s[i:i + 2] for i in range(0, len(s), 2)]))  # noqa: E731
    return f"{rev(h[0:8])}-{rev(h[8:12])}-{rev(h[12:16])}-{h[16:20]}-{h[20:32]}"


# --------------------------------------------------------------------------- (b) Apache


@pytest.fixture(scope="module")
def slapd(idsync_bin, tmp_path_factory):
    binary = os.path.join(os.path.dirname(idsync_bin), "idsync_slapd_fixture")
    need(binary, "idsync_slapd_fixture (cmake --build build --target idsync_slapd_fixture)")
    need("/usr/sbin/slapd", "slapd")
    s = Slapd(binary, users=0)
    # The seeded people have no password; give alice and bob one.
    s.apply(tmp_path_factory.mktemp("ldif"), "".join(
        f"dn: uid={u},{s.info['people_dn']}\nchangetype: modify\nreplace: userPassword\n"
        f"userPassword: {u}-secret\n\n" for u in ("alice", "bob")))
    yield s
    s.close()


@pytest.fixture(scope="module")
def apache_idsync(idsync_bin, tmp_path_factory, certs, slapd):
    data = str(tmp_path_factory.mktemp("apache-idsync"))
    srv = start_ldap_server(idsync_bin, data, certs)
    conn = add_cli(idsync_bin, data, slapd, uniq("ldap-src"))
    run = cli_json(idsync_bin, "sync", conn["name"], "--data", data, "--json")
    assert run["outcome"] == "succeeded", run
    yield srv
    if srv.alive():
        assert srv.stop() == 0, srv.stderr_text()[-2000:]


class Httpd:
    def __init__(self, root, ldap_url, acct, groups):
        need(APACHE, "apache2-bin")
        self.root = root
        self.port = free_port()
        # As root httpd serves as nobody, who cannot enter pytest's 0700 folders: the documents
        # go to a folder of their own that anyone may read.
        os.makedirs(root, exist_ok=True)
        self.docs = tempfile.mkdtemp(prefix="idsync-httpd-")
        os.chmod(self.docs, 0o755)
        locations = ""
        for path, (group, attribute) in groups.items():
            os.makedirs(os.path.join(self.docs, path), mode=0o755)
            with open(os.path.join(self.docs, path, "index.html"), "w") as f:
                f.write("ok\n")
            os.chmod(os.path.join(self.docs, path, "index.html"), 0o644)
            locations += f"""
<Location /{path}>
  AuthType Basic
  AuthName "idsync"
  AuthBasicProvider ldap
  AuthLDAPURL "{ldap_url}/ou=people,ou=users,{SUFFIX}?uid"
  AuthLDAPBindDN "{acct['bind_dn']}"
  AuthLDAPBindPassword "{acct['password']}"
  AuthLDAPGroupAttribute {attribute}
  AuthLDAPGroupAttributeIsDN on
  Require ldap-group {group}
</Location>
"""
        mods = ["mpm_prefork", "authn_core", "authz_core", "auth_basic", "ldap", "authnz_ldap"]
        conf = "".join(f"LoadModule {m}_module {APACHE_MODULES}/mod_{m}.so\n" for m in mods)
        conf += f"""ServerRoot {root}
ServerName 127.0.0.1
Listen 127.0.0.1:{self.port}
PidFile {root}/httpd.pid
ErrorLog {root}/error.log
LogLevel warn authnz_ldap:debug
DocumentRoot {self.docs}
<Directory />
  AllowOverride None
</Directory>
# No caching of searches, binds and compares: each request asks idsync again.
LDAPCacheEntries 0
LDAPCacheTTL 1
LDAPOpCacheEntries 0
LDAPOpCacheTTL 1
"""
        if os.geteuid() == 0:
            conf += "User nobody\nGroup nogroup\n"
        conf += locations
        self.conf = os.path.join(root, "httpd.conf")
        with open(self.conf, "w") as f:
            f.write(conf)
        # -X: one process in the foreground, stopped with SIGTERM like any child.
        self.proc = subprocess.Popen([APACHE, "-X", "-f", self.conf], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        wait_until(self._listening, timeout=20, message="httpd to listen")

    def _listening(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"httpd exited: {self.proc.stdout.read().decode()} "
                                 f"{self.error_log()}")
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            return True
        except OSError:
            return False

    def error_log(self):
        try:
            with open(os.path.join(self.root, "error.log")) as f:
                return f.read()[-3000:]
        except OSError:
            return ""

    def status(self, path, user, password):
        r = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-u",
                            f"{user}:{password}", f"http://127.0.0.1:{self.port}/{path}/index.html"],
                           capture_output=True, text=True, timeout=30)
        return int(r.stdout)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        shutil.rmtree(self.docs, ignore_errors=True)


def test_apache_require_ldap_group_follows_scim_patch(idsync_bin, apache_idsync, tmp_path):
    srv = apache_idsync
    data = srv.data_dir
    acct = account(idsync_bin, data, "users")
    # A SCIM identity provider in the same directory knows alice and bob too (linked to the
    # people pulled from slapd by username) and owns the group that decides access.
    info = add_connection(idsync_bin, data, directory="users")
    scim = Scim(srv.scim_base, info["token"])
    alice = scim.create_user(userName="alice")["id"]
    bob = scim.create_user(userName="bob")["id"]
    carol = scim.create_user(userName=uniq("carol"))  # SCIM only: no password anywhere
    group = scim.create_group(uniq("web"), members=[alice])
    groups_dn = f"ou=groups,ou=users,{SUFFIX}"
    web = f"cn={group['displayName']},{groups_dn}"
    root = str(tmp_path / "httpd")
    httpd = Httpd(root, srv.ldap["ldap"], acct, {
        "web": (web, "uniqueMember"),
        "web-member": (web, "member"),
        "admins": (f"cn=admins,{groups_dn}", "uniqueMember"),  # from slapd: alice only
    })
    try:
        for path in ("web", "web-member", "admins"):
            assert httpd.status(path, "alice", "alice-secret") == 200, httpd.error_log()
            assert httpd.status(path, "bob", "bob-secret") == 401, httpd.error_log()
        assert httpd.status("web", "alice", "wrong") == 401
        assert httpd.status("web", carol["userName"], "anything") == 401
        # The identity provider moves access from alice to bob.
        r = scim.patch_ops(f"/Groups/{group['id']}", [
            {"op": "add", "path": "members", "value": [{"value": bob}]},
            {"op": "remove", "path": f'members[value eq "{alice}"]'}])
        assert r.status in (200, 204), r
        for path in ("web", "web-member"):
            assert httpd.status(path, "bob", "bob-secret") == 200, httpd.error_log()
            assert httpd.status(path, "alice", "alice-secret") == 401, httpd.error_log()
        assert httpd.status("admins", "alice", "alice-secret") == 200
    finally:
        httpd.stop()
