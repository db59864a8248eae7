"""The `idsync` command line: connections against a running server, usage errors, startup errors."""

import json
import os
import signal

import pytest

from conftest import (
    Scim,
    ServerProcess,
    add_connection,
    assert_error,
    cli_json,
    free_port_in_use,
    new_user,
    run_cli,
    start_server,
    stderr_lines,
    uniq,
    wait_until,
)


def _status(server, token):
    return Scim(server.scim_base, token).get("/Users").status


def _one_line_error(r, code=None):
    assert r.returncode != 0, (r.returncode, r.stdout, r.stderr)
    if code is not None:
        assert r.returncode == code, (r.returncode, r.stderr)
    lines = stderr_lines(r)
    assert len(lines) == 1, f"expected one stderr line, got {lines!r}"
    return lines[0]


# --------------------------------------------------------------------------- connection add


def test_add_json(idsync_bin, server):
    name = uniq("okta")
    info = add_connection(idsync_bin, server.data_dir, name=name)
    assert info["name"] == name
    assert info["directory"] == "users"
    assert info["base_url"] == server.url + "/scim/v2"
    assert isinstance(info["token"], str) and len(info["token"]) >= 20
    assert info["id"]
    assert _status(server, info["token"]) == 200  # honoured at once by the running server


def test_add_customers_directory(idsync_bin, server):
    info = add_connection(idsync_bin, server.data_dir, directory="customers")
    assert info["directory"] == "customers"
    assert _status(server, info["token"]) == 200


def test_add_bad_directory(idsync_bin, server):
    r = run_cli(idsync_bin, "connection", "add", uniq("c"), "--data", server.data_dir,
                "--directory", "martians", "--json")
    _one_line_error(r)


def test_add_duplicate_name_fails(idsync_bin, server):
    name = uniq("dup")
    first = add_connection(idsync_bin, server.data_dir, name=name)
    r = run_cli(idsync_bin, "connection", "add", name, "--data", server.data_dir, "--json")
    msg = _one_line_error(r)
    assert name in msg
    assert _status(server, first["token"]) == 200  # the original is untouched


def test_add_without_server_uses_default_url(idsync_bin, tmp_path):
    info = add_connection(idsync_bin, str(tmp_path))
    assert info["base_url"] == "http://127.0.0.1:8080/scim/v2"


def test_tokens_unique(idsync_bin, server):
    tokens = {add_connection(idsync_bin, server.data_dir)["token"] for _ in range(3)}
    assert len(tokens) == 3


# --------------------------------------------------------------------------- list / show


def test_list_json_and_text(idsync_bin, server):
    info = add_connection(idsync_bin, server.data_dir)
    rows = cli_json(idsync_bin, "connection", "list", "--data", server.data_dir, "--json")
    assert isinstance(rows, list)
    row = [x for x in rows if x["name"] == info["name"]]
    assert len(row) == 1, rows
    assert row[0]["id"] == info["id"]
    assert row[0]["directory"] == "users"
    assert row[0]["enabled"] is True
    r = run_cli(idsync_bin, "connection", "list", "--data", server.data_dir)
    assert r.returncode == 0, r.stderr
    assert info["name"] in r.stdout
    # Secrets are shown once, at creation; listings must not leak them.
    assert info["token"] not in r.stdout
    assert info["token"] not in json.dumps(rows)


def test_show(idsync_bin, server):
    info = add_connection(idsync_bin, server.data_dir)
    shown = cli_json(idsync_bin, "connection", "show", info["name"], "--data", server.data_dir, "--json")
    assert shown["name"] == info["name"]
    assert shown["id"] == info["id"]
    assert shown["directory"] == "users"
    assert shown["enabled"] is True
    assert info["token"] not in json.dumps(shown)
    r = run_cli(idsync_bin, "connection", "show", info["name"], "--data", server.data_dir)
    assert r.returncode == 0 and info["name"] in r.stdout


@pytest.mark.parametrize("cmd", ["show", "disable", "enable", "remove", "rotate-token"])
def test_unknown_connection_name(idsync_bin, server, cmd):
    ghost = uniq("ghost")
    r = run_cli(idsync_bin, "connection", cmd, ghost, "--data", server.data_dir)
    msg = _one_line_error(r)
    assert ghost in msg, msg


def test_log_unknown_connection(idsync_bin, server):
    ghost = uniq("ghost")
    r = run_cli(idsync_bin, "log", "--data", server.data_dir, "--connection", ghost, "--json")
    assert r.returncode != 0
    assert ghost in r.stderr


# --------------------------------------------------------------------------- disable / enable / remove


def test_disable_takes_effect_at_once(idsync_bin, server):
    info = add_connection(idsync_bin, server.data_dir)
    scim = Scim(server.scim_base, info["token"])
    u = scim.create_user()
    r = run_cli(idsync_bin, "connection", "disable", info["name"], "--data", server.data_dir)
    assert r.returncode == 0, r.stderr
    # "at once": the very next request is refused, no polling.
    r = scim.get(f"/Users/{u['id']}")
    assert r.status in (401, 403), r
    assert_error(r, r.status)
    assert scim.post("/Users", new_user()).status in (401, 403)
    rows = cli_json(idsync_bin, "connection", "list", "--data", server.data_dir, "--json")
    assert [x["enabled"] for x in rows if x["name"] == info["name"]] == [False]
    r = run_cli(idsync_bin, "connection", "enable", info["name"], "--data", server.data_dir)
    assert r.returncode == 0, r.stderr
    got = scim.get(f"/Users/{u['id']}")
    assert got.status == 200, got  # data kept while disabled
    rows = cli_json(idsync_bin, "connection", "list", "--data", server.data_dir, "--json")
    assert [x["enabled"] for x in rows if x["name"] == info["name"]] == [True]


def test_disable_one_does_not_affect_other(idsync_bin, server):
    a = add_connection(idsync_bin, server.data_dir)
    b = add_connection(idsync_bin, server.data_dir)
    assert run_cli(idsync_bin, "connection", "disable", a["name"], "--data", server.data_dir).returncode == 0
    assert _status(server, a["token"]) in (401, 403)
    assert _status(server, b["token"]) == 200


def test_remove(idsync_bin, server):
    info = add_connection(idsync_bin, server.data_dir)
    Scim(server.scim_base, info["token"]).create_user()
    r = run_cli(idsync_bin, "connection", "remove", info["name"], "--data", server.data_dir)
    assert r.returncode == 0, r.stderr
    assert _status(server, info["token"]) == 401
    rows = cli_json(idsync_bin, "connection", "list", "--data", server.data_dir, "--json")
    assert info["name"] not in [x["name"] for x in rows]
    assert run_cli(idsync_bin, "connection", "show", info["name"], "--data", server.data_dir).returncode != 0
    # The name can be used again and the new connection starts empty.
    again = add_connection(idsync_bin, server.data_dir, name=info["name"])
    assert Scim(server.scim_base, again["token"]).list("/Users")["totalResults"] == 0


# --------------------------------------------------------------------------- rotate-token


def test_rotate_token_immediately_revokes_old(idsync_bin, server):
    info = add_connection(idsync_bin, server.data_dir)
    out = cli_json(idsync_bin, "connection", "rotate-token", info["name"], "--data", server.data_dir, "--json")
    assert out["name"] == info["name"]
    assert out["token"] and out["token"] != info["token"]
    assert _status(server, out["token"]) == 200
    assert _status(server, info["token"]) == 401


def test_rotate_token_keeps_data(idsync_bin, server):
    info = add_connection(idsync_bin, server.data_dir)
    u = Scim(server.scim_base, info["token"]).create_user()
    out = cli_json(idsync_bin, "connection", "rotate-token", info["name"], "--data", server.data_dir, "--json")
    assert Scim(server.scim_base, out["token"]).get(f"/Users/{u['id']}").status == 200


def test_rotate_token_overlap(idsync_bin, server):
    info = add_connection(idsync_bin, server.data_dir)
    out = cli_json(idsync_bin, "connection", "rotate-token", info["name"], "--data", server.data_dir,
                   "--keep-old-for", "10m", "--json")
    assert _status(server, out["token"]) == 200
    assert _status(server, info["token"]) == 200
    # Both tokens address the same connection.
    u = Scim(server.scim_base, info["token"]).create_user()
    assert Scim(server.scim_base, out["token"]).get(f"/Users/{u['id']}").status == 200


def test_rotate_token_overlap_expires(idsync_bin, server):
    info = add_connection(idsync_bin, server.data_dir)
    out = cli_json(idsync_bin, "connection", "rotate-token", info["name"], "--data", server.data_dir,
                   "--keep-old-for", "2s", "--json")
    assert _status(server, out["token"]) == 200
    wait_until(lambda: _status(server, info["token"]) == 401, timeout=15, interval=0.2,
               message="old token to expire after --keep-old-for 2s")
    assert _status(server, out["token"]) == 200


def test_rotate_twice_without_overlap(idsync_bin, server):
    info = add_connection(idsync_bin, server.data_dir)
    t1 = cli_json(idsync_bin, "connection", "rotate-token", info["name"], "--data", server.data_dir,
                  "--keep-old-for", "1h", "--json")["token"]
    t2 = cli_json(idsync_bin, "connection", "rotate-token", info["name"], "--data", server.data_dir, "--json")["token"]
    assert _status(server, t2) == 200
    assert _status(server, t1) == 401
    assert _status(server, info["token"]) == 401


def test_rotate_bad_duration(idsync_bin, server):
    info = add_connection(idsync_bin, server.data_dir)
    r = run_cli(idsync_bin, "connection", "rotate-token", info["name"], "--data", server.data_dir,
                "--keep-old-for", "forever")
    _one_line_error(r)
    assert _status(server, info["token"]) == 200  # not rotated


# --------------------------------------------------------------------------- usage errors


@pytest.mark.parametrize("args", [
    [],
    ["frobnicate"],
    ["connection"],
    ["connection", "frobnicate"],
    ["connection", "add"],
    ["serve", "--listen"],
    ["serve", "--data"],
    ["connection", "list", "--bogus-flag"],
    ["log", "--since"],
])
def test_bad_usage_exit_2_one_line(idsync_bin, args):
    r = run_cli(idsync_bin, *args)
    _one_line_error(r, code=2)


def test_log_bad_since(idsync_bin, server):
    r = run_cli(idsync_bin, "log", "--data", server.data_dir, "--since", "yesterday-ish")
    _one_line_error(r)


# --------------------------------------------------------------------------- serve startup errors


def test_serve_missing_data_folder(idsync_bin, tmp_path):
    missing = str(tmp_path / "does-not-exist")
    r = run_cli(idsync_bin, "serve", "--data", missing, "--listen", "127.0.0.1:0")
    msg = _one_line_error(r)
    assert "does-not-exist" in msg
    assert not os.path.exists(missing)


def test_connection_commands_missing_data_folder(idsync_bin, tmp_path):
    missing = str(tmp_path / "nope")
    r = run_cli(idsync_bin, "connection", "add", "x", "--data", missing, "--json")
    _one_line_error(r)
    r = run_cli(idsync_bin, "connection", "list", "--data", missing)
    _one_line_error(r)


def test_serve_port_in_use(idsync_bin, tmp_path):
    sock = free_port_in_use()
    try:
        port = sock.getsockname()[1]
        r = run_cli(idsync_bin, "serve", "--data", str(tmp_path), "--listen", f"127.0.0.1:{port}")
        msg = _one_line_error(r)
        assert str(port) in msg
    finally:
        sock.close()


def test_serve_port_of_running_server(idsync_bin, server, tmp_path):
    r = run_cli(idsync_bin, "serve", "--data", str(tmp_path), "--listen", f"127.0.0.1:{server.port}")
    _one_line_error(r)
    assert _status(server, add_connection(idsync_bin, server.data_dir)["token"]) == 200


def test_serve_bad_listen_address(idsync_bin, tmp_path):
    r = run_cli(idsync_bin, "serve", "--data", str(tmp_path), "--listen", "not-an-address")
    _one_line_error(r)


def test_serve_tls_cert_without_key(idsync_bin, tmp_path):
    cert = tmp_path / "c.pem"
    cert.write_text("x")
    r = run_cli(idsync_bin, "serve", "--data", str(tmp_path), "--listen", "127.0.0.1:0",
                "--tls-cert", str(cert))
    _one_line_error(r)


# --------------------------------------------------------------------------- public URL


def test_public_url_used_in_base_url_and_locations(idsync_bin, tmp_path):
    data = str(tmp_path)
    public = "https://idsync.example.test"
    srv = start_server(idsync_bin, data, ["--public-url", public])
    try:
        info = add_connection(idsync_bin, data)
        assert info["base_url"] == public + "/scim/v2"
        r = Scim(srv.scim_base, info["token"]).post("/Users", new_user())
        assert r.status == 201, r
        assert r.json["meta"]["location"] == f"{public}/scim/v2/Users/{r.json['id']}"
        assert r.headers["location"] == r.json["meta"]["location"]
    finally:
        assert srv.stop(signal.SIGTERM) == 0


def test_data_survives_restart(idsync_bin, tmp_path):
    data = str(tmp_path)
    srv = start_server(idsync_bin, data)
    info = add_connection(idsync_bin, data)
    u = Scim(srv.scim_base, info["token"]).create_user(title="persist")
    assert srv.stop() == 0
    srv2 = start_server(idsync_bin, data)
    try:
        got = Scim(srv2.scim_base, info["token"]).get(f"/Users/{u['id']}")
        assert got.status == 200 and got.json["title"] == "persist"
        # The recorded URL follows the newest run.
        again = add_connection(idsync_bin, data)
        assert again["base_url"] == srv2.url + "/scim/v2"
    finally:
        assert srv2.stop() == 0


def test_connection_added_while_stopped_works_after_start(idsync_bin, tmp_path):
    data = str(tmp_path)
    info = add_connection(idsync_bin, data)
    srv = start_server(idsync_bin, data)
    try:
        assert _status(srv, info["token"]) == 200
    finally:
        assert srv.stop() == 0


def test_two_servers_same_port_zero_get_distinct_ports(idsync_bin, tmp_path):
    d1, d2 = tmp_path / "a", tmp_path / "b"
    d1.mkdir()
    d2.mkdir()
    s1 = start_server(idsync_bin, str(d1))
    s2 = start_server(idsync_bin, str(d2))
    try:
        assert s1.port != s2.port
    finally:
        assert s1.stop() == 0
        assert s2.stop() == 0


def test_serve_stdout_has_exactly_one_line(idsync_bin, tmp_path):
    srv = ServerProcess(idsync_bin, str(tmp_path)).wait_ready()
    assert srv.stop() == 0
    assert srv.stdout_lines[0].startswith("idsync: listening on http://127.0.0.1:")
    # Contract: exactly one line on stdout (scripts read it to find the port).
    assert [x for x in srv.stdout_lines if x.strip()] == [srv.stdout_lines[0]], srv.stdout_lines
