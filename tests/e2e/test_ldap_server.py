"""The LDAP server's protocol, limits and refusals, black-box (issue #10, "What must be shown" 2(c)
and 3): StartTLS and LDAPS with a CA made here, WhoAmI, compare, paging with real cookies,
isolation between directories, anonymous and write refusals, bind throttling, unknown critical
controls, size limits over 10,000 entries, malformed and oversized messages on raw sockets, and
the subschema entry against what entries carry.

One server per module (10,000 users in `users`, a few in `customers`), with python3-ldap3 and
ldap-utils as clients. Tests that fail binds do it from their own loopback addresses
(127.0.0.x), so the throttle they trigger touches no other test.
"""
import json
import os
import re
import select
import socket
import ssl
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import ldap3
import pytest
from ldap3.core.exceptions import LDAPException

import ldaputil as lu
from conftest import GROUP_URN, TEST_STORE, USER_URN, Scim, add_connection, bulk_post

# Fewer on PostgreSQL, where each create is a serializable transaction and a round trip or
# more (~100 creates/s on the shared CI cores, against thousands on SQLite): 3,000 are still
# three times the server's size limit and more than one page of every paged search here.
# Concurrent Bulk requests while provisioning: on PostgreSQL concurrent creates conflict
# (serializable isolation) and are rerun, so more streams add reruns, not speed.
BULK_STREAMS = 8 if TEST_STORE == "sqlite" else 2
N_USERS = 10_000 if TEST_STORE == "sqlite" else 3_000
SIZE_LIMIT = 1000  # the server's --ldap-size-limit here
CTX = "ou=users,dc=idsync"
PEOPLE = "ou=people," + CTX
GROUPS = "ou=groups," + CTX
PAGED_OID = "1.2.840.113556.1.4.319"
NOTICE_OF_DISCONNECTION = "1.3.6.1.4.1.1466.20036"


# --------------------------------------------------------------------------- fixture


def _make_ca_and_cert(d):
    """A CA and a certificate for 127.0.0.1 signed by it (openssl), in folder d."""
    def run(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=d)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
        "-days", "2", "-subj", "/CN=idsync test CA", "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
        "-subj", "/CN=127.0.0.1")
    with open(os.path.join(d, "ext.cnf"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf")
    return os.path.join(d, "ca.pem"), os.path.join(d, "server.pem"), os.path.join(d, "server.key")


def _bulk_users(scim, bodies, chunk=100):
    def post(start):
        ops = [{"method": "POST", "path": "/Users", "bulkId": f"u{start + k}", "data": b}
               for k, b in enumerate(bodies[start:start + chunk])]
        out = bulk_post(scim, ops)
        bad = [o for o in out if o.get("status") != "201"]
        assert not bad, bad[:3]
        return [o["location"].rsplit("/", 1)[1] for o in out]

    with ThreadPoolExecutor(max_workers=BULK_STREAMS) as pool:
        return [i for ids in pool.map(post, range(0, len(bodies), chunk)) for i in ids]


def _user(name, mail=None):
    body = {"schemas": [USER_URN], "userName": name, "active": True,
            "name": {"givenName": "Given", "familyName": "Family"}}
    if mail:
        body["emails"] = [{"value": mail, "type": "work", "primary": True}]
    return body


class Env:
    pass


@pytest.fixture(scope="module")
def env(idsync_bin, tmp_path_factory):
    lu.require_tools("ldapsearch", "ldapwhoami", "ldapcompare", "openssl")
    e = Env()
    root = str(tmp_path_factory.mktemp("ldap-server"))
    data = os.path.join(root, "data")
    os.makedirs(data)
    e.ca, cert, key = _make_ca_and_cert(root)
    staff = add_connection(idsync_bin, data, name="staff-idp")
    cust = add_connection(idsync_bin, data, name="customer-idp", directory="customers")
    e.reader = lu.add_account(idsync_bin, data, "reader")
    e.customers = lu.add_account(idsync_bin, data, "shop", directory="customers")
    e.srv = lu.LdapServe(idsync_bin, data, ["--ldap-size-limit", str(SIZE_LIMIT)],
                         tls=(cert, key))
    try:
        scim = Scim(e.srv.scim_base, staff["token"])
        ids = _bulk_users(scim, [_user(f"user{i:05d}", f"u{i}@example.org")
                                 for i in range(N_USERS)])
        r = scim.post("/Groups", {"schemas": [GROUP_URN], "displayName": "admins",
                                  "members": [{"value": i} for i in ids[:3]]})
        assert r.status == 201, r
        cscim = Scim(e.srv.scim_base, cust["token"])
        _bulk_users(cscim, [_user(f"customer{i}", f"c{i}@shop.example") for i in range(5)])
        e.host, e.port, e.tls_port = "127.0.0.1", e.srv.ldap_port, e.srv.ldaps_port
        e.url, e.ldaps_url = e.srv.ldap_url, e.srv.ldaps_url
        e.tls_env = {"LDAPTLS_CACERT": e.ca, "LDAPTLS_REQCERT": "demand"}
        yield e
    finally:
        rc = e.srv.stop()
        assert rc == 0, f"idsync serve exited {rc}: {e.srv.stderr_text()[-3000:]}"


def connect(e, bind=None, source=None, tls=False, start_tls=False):
    """An ldap3 connection (bound when `bind` is given); result codes are read, not raised."""
    t = ldap3.Tls(ca_certs_file=e.ca, validate=ssl.CERT_REQUIRED)
    server = ldap3.Server(e.host, port=e.tls_port if tls else e.port, use_ssl=tls, tls=t,
                          get_info=ldap3.NONE, connect_timeout=10)
    kw = {"source_address": source} if source else {}
    c = ldap3.Connection(server, user=bind[0] if bind else None,
                         password=bind[1] if bind else None, receive_timeout=30,
                         raise_exceptions=False, **kw)
    c.open()
    if start_tls:
        assert c.start_tls(), c.result
    if bind:
        c.bind()
    return c


def code(c):
    return c.result["result"]


# --------------------------------------------------------------------------- TLS and WhoAmI


def test_starttls_with_the_servers_certificate(env):
    r = lu.ldapsearch(env.url, PEOPLE, "(uid=user00001)", ["uid"], bind=env.reader,
                      extra=["-ZZ"], env=env.tls_env)
    assert r.rc == 0, r
    assert [a["uid"] for _, a in r.entries] == [["user00001"]]
    # Without trusting the CA the handshake fails: the certificate is really checked.
    r = lu.ldapsearch(env.url, PEOPLE, "(uid=user00001)", ["uid"], bind=env.reader,
                      extra=["-ZZ"], env={"LDAPTLS_CACERT": "/dev/null",
                                          "LDAPTLS_REQCERT": "demand"})
    assert r.rc != 0 and not r.entries, r


def test_ldaps(env):
    r = lu.ldapsearch(env.ldaps_url, PEOPLE, "(uid=user00002)", ["uid", "mail"],
                      bind=env.reader, env=env.tls_env)
    assert r.rc == 0, r
    assert r.entries[0][1]["mail"] == ["u2@example.org"]
    c = connect(env, env.reader, tls=True)
    assert c.bound and c.search(PEOPLE, "(uid=user00003)", attributes=["uid"]), c.result
    c.unbind()


def _whoami(env, *args, tls=True):
    cmd = ["ldapwhoami", "-x", "-H", env.url, *(["-ZZ"] if tls else []), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=30,
                          env={**os.environ, **env.tls_env})


def test_whoami_anonymous_and_bound(env):
    r = _whoami(env)
    assert r.returncode == 0 and r.stdout.strip() == "anonymous", r
    r = _whoami(env, "-D", env.reader[0], "-w", env.reader[1])
    assert r.returncode == 0 and r.stdout.strip() == "dn:" + env.reader[0], r
    c = connect(env, env.customers, start_tls=True)
    assert c.extend.standard.who_am_i() == "dn:" + env.customers[0]
    c.unbind()


# --------------------------------------------------------------------------- compare


def _compare(env, dn, assertion, bind=None):
    bind = bind or env.reader
    return subprocess.run(["ldapcompare", "-x", "-H", env.url, "-D", bind[0], "-w", bind[1],
                           dn, assertion], capture_output=True, text=True, timeout=30)


def test_compare_true_false_and_no_such_attribute(env):
    dn = f"uid=user00004,{PEOPLE}"
    r = _compare(env, dn, "mail:U4@EXAMPLE.org")  # caseIgnoreIA5Match
    assert r.returncode == 6 and "TRUE" in r.stdout, r  # compareTrue
    r = _compare(env, dn, "mail:u5@example.org")
    assert r.returncode == 5 and "FALSE" in r.stdout, r  # compareFalse
    r = _compare(env, dn, "description:anything")  # a known type the entry lacks
    assert r.returncode == 16, r  # noSuchAttribute
    r = _compare(env, dn, "noSuchType:x")
    assert r.returncode == 17, r  # undefinedAttributeType
    r = _compare(env, f"uid=nobody,{PEOPLE}", "uid:nobody")
    assert r.returncode == 32, r  # noSuchObject
    # Apache's Require ldap-group: a compare of the group's member attribute.
    r = _compare(env, f"cn=admins,{GROUPS}", f"uniqueMember:uid=user00001,{PEOPLE}")
    assert r.returncode == 6, r
    r = _compare(env, f"cn=admins,{GROUPS}", f"member:uid=user00009,{PEOPLE}")
    assert r.returncode == 5, r
    # Anonymous: refused.
    r = subprocess.run(["ldapcompare", "-x", "-H", env.url, dn, "uid:user00004"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 50, r  # insufficientAccessRights


# --------------------------------------------------------------------------- paging


def _paged(c, base, flt, size, cookie=None, attributes=("uid",)):
    c.search(base, flt, attributes=list(attributes), paged_size=size, paged_cookie=cookie)
    ctl = c.result.get("controls", {}).get(PAGED_OID)
    return code(c), list(c.response or []), (ctl["value"]["cookie"] if ctl else None)


def test_paging_across_requests_with_real_cookies(env):
    c = connect(env, env.reader)
    seen, cookie, pages = [], None, 0
    while True:
        rc, entries, cookie = _paged(c, PEOPLE, "(objectClass=inetOrgPerson)", 700, cookie)
        assert rc == 0, c.result
        assert len(entries) <= 700
        seen += [x["dn"] for x in entries if x["type"] == "searchResEntry"]
        pages += 1
        if not cookie:
            break
    assert pages == -(-N_USERS // 700)
    assert len(seen) == len(set(seen)) == N_USERS

    # A cookie belongs to its search: another filter, base or account is refused.
    rc, _, cookie = _paged(c, PEOPLE, "(objectClass=inetOrgPerson)", 10)
    assert rc == 0 and cookie
    rc, entries, _ = _paged(c, PEOPLE, "(uid=user0*)", 10, cookie)
    assert rc != 0 and not entries, c.result
    rc, entries, _ = _paged(c, CTX, "(objectClass=inetOrgPerson)", 10, cookie)
    assert rc != 0 and not entries, c.result
    other = connect(env, env.customers)
    rc, entries, _ = _paged(other, PEOPLE, "(objectClass=inetOrgPerson)", 10, cookie)
    assert rc != 0 and not entries, other.result
    # Garbage and tampered cookies are refused too.
    for bad in (b"garbage", cookie[:-1] + bytes([cookie[-1] ^ 1])):
        rc, entries, _ = _paged(c, PEOPLE, "(objectClass=inetOrgPerson)", 10, bad)
        assert rc != 0 and not entries, (bad, c.result)
    # The same search on a new connection of the same account continues where it stopped.
    again = connect(env, env.reader)
    rc, entries, _ = _paged(again, PEOPLE, "(objectClass=inetOrgPerson)", 10, cookie)
    assert rc == 0 and len(entries) == 10, again.result
    assert entries[0]["dn"] not in {x["dn"] for x in _paged(c, PEOPLE,
                                                              "(objectClass=inetOrgPerson)",
                                                              10)[1]}
    for x in (c, other, again):
        x.unbind()


# --------------------------------------------------------------------------- limits


def test_size_limits_answer_4_never_a_short_success(env):
    # The client's limit.
    r = lu.ldapsearch(env.url, PEOPLE, "(objectClass=*)", ["1.1"], bind=env.reader,
                      extra=["-z", "100"])
    assert r.rc == 4 and len(r.entries) == 100, r
    # The server's (--ldap-size-limit 1000) below the client's.
    r = lu.ldapsearch(env.url, PEOPLE, "(objectClass=*)", ["1.1"], bind=env.reader,
                      extra=["-z", "5000"])
    assert r.rc == 4 and len(r.entries) <= SIZE_LIMIT, r
    r = lu.ldapsearch(env.url, CTX, "(objectClass=inetOrgPerson)", ["1.1"], bind=env.reader)
    assert r.rc == 4 and len(r.entries) <= SIZE_LIMIT, r
    # Paged, everything comes, even with pages larger than the server's limit.
    r = lu.ldapsearch(env.url, CTX, "(objectClass=inetOrgPerson)", ["1.1"], bind=env.reader,
                      extra=["-E", "pr=2000/noprompt"])
    assert r.rc == 0 and len(r.entries) == N_USERS, r
    # RFC 2696: a client size limit applies to the paged search as a whole.
    r = lu.ldapsearch(env.url, PEOPLE, "(objectClass=*)", ["1.1"], bind=env.reader,
                      extra=["-z", "1500", "-E", "pr=500/noprompt"])
    assert r.rc == 4 and len(r.entries) == 1500, r
    # Within the limits: success.
    r = lu.ldapsearch(env.url, PEOPLE, "(uid=user0000*)", ["1.1"], bind=env.reader,
                      extra=["-z", "10"])
    assert r.rc == 0 and len(r.entries) == 10, r


def test_unknown_critical_control_answers_12(env):
    c = connect(env, env.reader)
    c.search(PEOPLE, "(uid=user00001)", attributes=["uid"],
             controls=[("1.3.6.1.4.1.99999.1", True, None)])
    assert code(c) == 12 and not c.response, c.result
    # Not critical: ignored.
    c.search(PEOPLE, "(uid=user00001)", attributes=["uid"],
             controls=[("1.3.6.1.4.1.99999.1", False, None)])
    assert code(c) == 0 and len(c.response) == 1, c.result
    # A critical control on a compare, too.
    c.compare(f"uid=user00001,{PEOPLE}", "uid", "user00001",
              controls=[("1.3.6.1.4.1.99999.1", True, None)])
    assert code(c) == 12, c.result
    c.unbind()


# --------------------------------------------------------------------------- refusals


def test_every_write_answers_53(env):
    c = connect(env, env.reader)
    dn = f"uid=user00005,{PEOPLE}"
    c.add(f"uid=new,{PEOPLE}", ["inetOrgPerson"], {"cn": "new", "sn": "new", "uid": "new"})
    assert code(c) == 53, c.result
    c.modify(dn, {"mail": [(ldap3.MODIFY_REPLACE, ["x@example.org"])]})
    assert code(c) == 53, c.result
    c.delete(dn)
    assert code(c) == 53, c.result
    c.modify_dn(dn, "uid=renamed")
    assert code(c) == 53, c.result
    assert "managed by idsync" in c.result["message"], c.result
    c.unbind()
    # Nothing changed.
    r = lu.ldapsearch(env.url, PEOPLE, "(|(uid=user00005)(uid=renamed)(uid=new))", ["mail"],
                      bind=env.reader)
    assert [a["mail"] for _, a in r.entries] == [["u5@example.org"]], r
    # Anonymous writes too (ldap-utils): 53 or refused for access, never success.
    r = subprocess.run(["ldapdelete", "-x", "-H", env.url, dn], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode in (50, 53), r


def test_anonymous_search_below_the_root_dse_is_refused(env):
    r = lu.ldapsearch(env.url, "", "(objectClass=*)", ["namingContexts", "supportedControl",
                                                        "supportedExtension"], scope="base")
    assert r.rc == 0, r
    dse = r.entries[0][1]
    assert CTX in dse["namingContexts"] and "ou=customers,dc=idsync" in dse["namingContexts"]
    assert PAGED_OID in dse["supportedControl"]
    assert {"1.3.6.1.4.1.1466.20037", "1.3.6.1.4.1.4203.1.11.3"} <= set(dse["supportedExtension"])
    r = lu.ldapsearch(env.url, "cn=Subschema", "(objectClass=*)", ["attributeTypes"],
                      scope="base")
    assert r.rc == 0 and r.entries[0][1]["attributeTypes"], r
    for base, scope in ((CTX, "sub"), (PEOPLE, "one"), (f"uid=user00001,{PEOPLE}", "base"),
                        ("dc=idsync", "sub"), ("", "sub")):
        r = lu.ldapsearch(env.url, base, "(objectClass=*)", ["1.1"], scope=scope)
        assert r.rc != 0 and not r.entries, (base, scope, r)
    r = lu.ldapsearch(env.url, CTX, "(objectClass=*)", ["1.1"])
    assert r.rc == 50, r  # insufficientAccessRights


def test_customers_account_sees_no_staff_entry(env):
    r = lu.ldapsearch(env.url, "ou=customers,dc=idsync", "(objectClass=inetOrgPerson)", ["uid"],
                      bind=env.customers)
    assert r.rc == 0 and sorted(a["uid"][0] for _, a in r.entries) == \
        [f"customer{i}" for i in range(5)], r
    for base in (CTX, PEOPLE, f"uid=user00001,{PEOPLE}", GROUPS, "dc=idsync"):
        for scope in ("base", "one", "sub"):
            r = lu.ldapsearch(env.url, base, "(objectClass=*)", ["*", "+"], scope=scope,
                              bind=env.customers)
            leaked = [dn for dn, _ in r.entries if "ou=users" in dn.lower()]
            assert not leaked and r.rc != 0 or not r.entries, (base, scope, r)
    r = lu.ldapsearch(env.url, CTX, "(uid=user00001)", ["uid"], bind=env.customers)
    assert r.rc == 32 and not r.entries, r  # noSuchObject: not even its existence
    r = _compare(env, f"uid=user00001,{PEOPLE}", "uid:user00001", bind=env.customers)
    assert r.returncode == 32, r
    # And the other way round.
    r = lu.ldapsearch(env.url, "ou=customers,dc=idsync", "(objectClass=*)", ["1.1"],
                      bind=env.reader)
    assert r.rc == 32 and not r.entries, r


def test_wrong_password_49_then_throttled_51_per_address(env):
    wrong = (env.reader[0], "wrong-password")
    codes = []
    for _ in range(12):
        c = connect(env, wrong, source="127.0.0.3")
        codes.append(code(c))
        c.unbind()
    assert codes[0] == 49 and 51 in codes, codes
    first = codes.index(51)
    assert set(codes[:first]) == {49} and set(codes[first:]) == {51}, codes
    assert first <= 11, codes
    # Unknown accounts and unparseable DNs count the same, and say nothing more.
    c = connect(env, (f"cn=nobody,ou=services,dc=idsync", "x"), source="127.0.0.5")
    assert code(c) == 49, c.result
    c.unbind()
    # Another address is not affected, nor is the right password from it.
    c = connect(env, wrong, source="127.0.0.4")
    assert code(c) == 49, c.result
    c.unbind()
    c = connect(env, env.reader, source="127.0.0.4")
    assert code(c) == 0 and c.bound, c.result
    c.unbind()


# --------------------------------------------------------------------------- raw sockets


def _len(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def tlv(tag, content):
    return bytes([tag]) + _len(len(content)) + content


def ber_int(v, tag=0x02):
    return tlv(tag, v.to_bytes(max(1, (v.bit_length() + 8) // 8), "big", signed=True))


def search_request(msgid, base, flt, attrs=(), scope=2):
    body = (tlv(0x04, base.encode()) + ber_int(scope, 0x0A) + ber_int(0, 0x0A) + ber_int(0) +
            ber_int(0) + tlv(0x01, b"\x00") + flt +
            tlv(0x30, b"".join(tlv(0x04, a.encode()) for a in attrs)))
    return tlv(0x30, ber_int(msgid) + tlv(0x63, body))


PRESENT = tlv(0x87, b"objectClass")


def _raw(env):
    return socket.create_connection((env.host, env.port), timeout=10)


def _read_until_closed(s, timeout=10.0):
    """Everything the server sends until it closes; raises if it does not close in time."""
    s.settimeout(timeout)
    data = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:
            return data
        except socket.timeout:
            break
        if not chunk:
            return data
        data += chunk
    raise AssertionError(f"the server did not close the connection in {timeout}s: {data[:200]!r}")


@pytest.fixture
def bystander(env):
    """A bound connection opened before the bad one: it must keep working."""
    c = connect(env, env.reader)
    yield c
    assert c.search(PEOPLE, "(uid=user00042)", attributes=["uid"]), c.result
    assert len(c.response) == 1
    c.unbind()
    fresh = connect(env, env.reader)
    assert fresh.search(PEOPLE, "(uid=user00043)", attributes=["uid"]), fresh.result
    fresh.unbind()
    assert env.srv.alive()


def _is_notice_of_disconnection(data):
    return NOTICE_OF_DISCONNECTION.encode() in data


def test_garbage_closes_the_connection(env, bystander):
    s = _raw(env)
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    data = _read_until_closed(s)
    s.close()
    assert data == b"" or _is_notice_of_disconnection(data), data


def test_two_gigabyte_length_prefix_closes_at_once(env, bystander):
    s = _raw(env)
    t0 = time.monotonic()
    s.sendall(b"\x30\x84\x80\x00\x00\x00" + b"\x02\x01\x01" + b"A" * 1000)
    data = _read_until_closed(s, timeout=5)
    s.close()
    # Refused from the length alone: no waiting for 2 GB, nor for the message timeout.
    assert time.monotonic() - t0 < 3
    assert data == b"" or _is_notice_of_disconnection(data), data


def test_oversized_message_closes(env, bystander):
    s = _raw(env)
    msg = search_request(1, PEOPLE, tlv(0xA3, tlv(0x04, b"uid") + tlv(0x04, b"x" * 20_000_000)))
    try:
        s.sendall(msg)
    except (BrokenPipeError, ConnectionResetError):
        pass  # closed while we were still sending: that is the point
    data = _read_until_closed(s)
    s.close()
    assert b"x" * 100 not in data


def test_truncated_message_closes(env, bystander):
    s = _raw(env)
    msg = search_request(1, PEOPLE, PRESENT, ["uid"])
    s.sendall(msg[:len(msg) // 2])
    s.shutdown(socket.SHUT_WR)  # the rest never comes
    data = _read_until_closed(s)
    s.close()
    assert b"uid=" not in data, data


def _read_message(s):
    """One whole LDAPMessage from a raw socket (tag, length, content)."""
    buf = b""
    while True:
        if len(buf) >= 2:
            n = buf[1]
            head = 2 if n < 0x80 else 2 + (n & 0x7F)
            if len(buf) >= head:
                size = n if n < 0x80 else int.from_bytes(buf[2:head], "big")
                if len(buf) >= head + size:
                    return buf[:head + size]
        chunk = s.recv(65536)
        assert chunk, f"closed mid-message: {buf!r}"
        buf += chunk


def _result_code(msg):
    m = re.search(rb"[\x61-\x6f\x78].{1,5}?\x0a\x01(.)", msg, re.S)
    assert m, msg
    return m.group(1)[0]


def test_deep_filter_is_refused_and_the_session_goes_on(env, bystander):
    flt = PRESENT
    for _ in range(5000):
        flt = tlv(0xA2, flt)  # (!(!(!...(objectClass=*))))
    s = _raw(env)
    s.settimeout(10)
    s.sendall(search_request(7, "", flt, scope=0))
    msg = _read_message(s)
    assert msg[msg.index(b"\x02\x01\x07") + 3] == 0x65, msg  # a SearchResultDone, no entry
    assert _result_code(msg) == 2 and b"too deeply" in msg, msg  # protocolError
    s.sendall(search_request(8, "", PRESENT, ["supportedLDAPVersion"], scope=0))
    assert b"supportedLDAPVersion" in _read_message(s)
    s.close()


def test_undecodable_request_with_an_id_is_answered_and_the_session_goes_on(env, bystander):
    s = _raw(env)
    s.settimeout(10)
    # A search request whose scope is a string: the id (9) and the op are readable.
    body = tlv(0x04, b"") + tlv(0x04, b"bad") + ber_int(0, 0x0A)
    s.sendall(tlv(0x30, ber_int(9) + tlv(0x63, body)))
    msg = _read_message(s)
    assert b"\x02\x01\x09\x65" in msg and _result_code(msg) == 2, msg  # protocolError
    # The same connection still answers: the root DSE, anonymously.
    s.sendall(search_request(10, "", PRESENT, ["supportedLDAPVersion"], scope=0))
    assert b"supportedLDAPVersion" in _read_message(s)
    s.close()


def test_many_bad_connections_at_once_leave_the_server_serving(env, bystander):
    socks = []
    for i in range(60):
        s = _raw(env)
        s.sendall([b"\xff" * 10, b"\x30\x84\xff\xff\xff\xff", b"\x30\x03\x02\x01"][i % 3])
        if i % 3 == 2:
            s.shutdown(socket.SHUT_WR)  # truncated, and the rest never comes
        socks.append(s)
    for s in socks:
        _read_until_closed(s)
        s.close()


# --------------------------------------------------------------------------- subschema


def _schema_names(env):
    r = lu.ldapsearch(env.url, "cn=Subschema", "(objectClass=*)",
                      ["attributeTypes", "objectClasses"], scope="base")
    assert r.rc == 0, r
    attrs = r.entries[0][1]
    types = set()
    for d in attrs["attributeTypes"]:
        m = re.search(r"NAME \( ([^)]*) \)|NAME '([^']*)'", d)
        assert m, d
        names = m.group(1) or f"'{m.group(2)}'"
        types |= {n.lower() for n in re.findall(r"'([^']*)'", names)}
    classes = set()
    for d in attrs["objectClasses"]:
        m = re.search(r"NAME '([^']*)'", d)
        assert m, d
        classes.add(m.group(1).lower())
    return types, classes


def test_subschema_lists_every_attribute_type_and_class_served(env):
    types, classes = _schema_names(env)
    seen_types, seen_classes = set(), set()
    for base, scope, bind in ((f"uid=user00001,{PEOPLE}", "base", env.reader),
                              (f"cn=admins,{GROUPS}", "base", env.reader),
                              (CTX, "one", env.reader), (CTX, "base", env.reader),
                              (f"uid=customer1,ou=people,ou=customers,dc=idsync", "base",
                               env.customers)):
        r = lu.ldapsearch(env.url, base, "(objectClass=*)", ["*", "+"], scope=scope, bind=bind)
        assert r.rc == 0 and r.entries, r
        for _, a in r.entries:
            seen_types |= {n.lower() for n in a}
            seen_classes |= {v.lower() for v in a.get("objectClass", [])}
    for base in ("", "cn=Subschema"):
        r = lu.ldapsearch(env.url, base, "(objectClass=*)", ["*", "+"], scope="base")
        assert r.rc == 0, r
        seen_types |= {n.lower() for n in r.entries[0][1]}
    assert not seen_types - types, f"served but not in attributeTypes: {seen_types - types}"
    assert not seen_classes - classes, f"served but not in objectClasses: {seen_classes - classes}"
    # The memberOf, entryUUID and timestamps consumers rely on are there.
    assert {"memberof", "entryuuid", "createtimestamp", "modifytimestamp", "uniquemember",
            "member"} <= seen_types


# --------------------------------------------------------------------------- audit and revocation


def test_every_bind_is_audited_without_the_password(env, idsync_bin):
    # To the millisecond: the module's fixture wrote thousands of records in the last second,
    # and `idsync log` lists the oldest first (CI once found no bind among its first 1,000).
    now = time.time() - 0.05
    since = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z"
    good = connect(env, env.reader, source="127.0.0.6")
    assert code(good) == 0
    good.unbind()
    bad = connect(env, (env.reader[0], "not-the-password-x"), source="127.0.0.6")
    assert code(bad) == 49
    bad.unbind()
    r = lu.run_cli(idsync_bin, "log", "--data", env.srv.data_dir, "--since", since, "--json")
    assert r.returncode == 0, r.stderr
    assert env.reader[1] not in r.stdout and "not-the-password-x" not in r.stdout
    binds = [a for a in json.loads(r.stdout) if a["operation"] == "ldap.bind"
             and "127.0.0.6" in a["detail"]]
    assert {a["status"] for a in binds} >= {200, 401}, (since, r.stdout[-3000:])
    assert all(a["actor"] == "ldap:reader" for a in binds), binds


def test_a_removed_or_rotated_account_loses_its_open_sessions(env, idsync_bin):
    data = env.srv.data_dir
    dn, password = lu.add_account(idsync_bin, data, "short-lived")
    c = connect(env, (dn, password))
    assert code(c) == 0
    assert c.search(PEOPLE, "(uid=user00001)", attributes=["uid"]) and len(c.entries) == 1
    r = lu.run_cli(idsync_bin, "ldap-account", "rotate", "short-lived", "--data", data, "--json")
    assert r.returncode == 0, r.stderr
    c.search(PEOPLE, "(uid=user00001)", attributes=["uid"])
    assert code(c) == 50 and not c.entries, c.result
    c.unbind()
    new_password = json.loads(r.stdout)["password"]
    c = connect(env, (dn, new_password))
    assert c.search(PEOPLE, "(uid=user00001)", attributes=["uid"]) and len(c.entries) == 1
    r = lu.run_cli(idsync_bin, "ldap-account", "remove", "short-lived", "--data", data)
    assert r.returncode == 0, r.stderr
    c.search(PEOPLE, "(uid=user00001)", attributes=["uid"])
    assert code(c) == 50, c.result
    c.unbind()
