"""Readiness for systemd's Type=notify (issue #14): `serve` sends READY=1 on $NOTIFY_SOCKET
once its listener accepts connections, and STOPPING=1 when told to stop. The socket here is
the datagram socket systemd itself would pass."""
import os
import signal
import socket

from conftest import NO_RATE_LIMITS, ServerProcess, http_request


def test_ready_then_stopping_on_the_notify_socket(idsync_bin, tmp_path):
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(20)
    data = tmp_path / "data"
    data.mkdir()
    env = dict(os.environ, NOTIFY_SOCKET=path)
    srv = ServerProcess(idsync_bin, str(data), NO_RATE_LIMITS, env=env)
    try:
        message = sock.recv(4096).decode()
        fields = dict(line.split("=", 1) for line in message.splitlines())
        assert fields["READY"] == "1", message
        assert fields["STATUS"].startswith("listening on http://127.0.0.1:"), message
        # Ready means ready: the URL it names answers now.
        url = fields["STATUS"].removeprefix("listening on ")
        assert http_request(url, "GET", "/healthz").status == 200
        srv.wait_ready()
        assert srv.url == url
        srv.proc.send_signal(signal.SIGTERM)
        stopping = sock.recv(4096).decode()
        assert "STOPPING=1" in stopping.splitlines(), stopping
        assert srv.proc.wait(timeout=30) == 0
    finally:
        if srv.proc.poll() is None:
            srv.kill()
        sock.close()

