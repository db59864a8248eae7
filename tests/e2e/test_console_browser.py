"""Browser tests of the admin console (issue #12): tests/browser/console.test.mjs drives Debian's
chromium with playwright-core against a real `idsync serve`, as a new administrator would (first
sign-in and password change, an Entra ID connection and its token, a SCIM client's users in the
Overview, token rotation, disable/enable, removal with its confirmation, a viewer who can change
nothing, a cross-origin POST refused, sign-out, a removed user signed out). It saves a
screenshot of each page into docs/console/, which the README links.

The node modules come from tests/browser/package-lock.json (`npm ci`, run here when missing).
"""

import os
import shutil
import signal
import subprocess

import pytest

from conftest import NO_RATE_LIMITS, REPO_ROOT, cli_json, start_server

BROWSER_DIR = os.path.join(REPO_ROOT, "tests", "browser")
SCREENSHOTS = os.path.join(REPO_ROOT, "docs", "console")
CHROMIUM = "/usr/bin/chromium"


def ensure_node_modules():
    if os.path.isdir(os.path.join(BROWSER_DIR, "node_modules", "playwright-core")):
        return
    r = subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--prefer-offline"],
                       cwd=BROWSER_DIR, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, f"npm ci in tests/browser failed: {r.stderr[-2000:]}"


def test_console_in_a_browser(idsync_bin, tmp_path):
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: run tools/install-deps.sh test", pytrace=False)
    if shutil.which("node") is None:
        pytest.fail("node is missing: run tools/install-deps.sh test", pytrace=False)
    ensure_node_modules()
    data = str(tmp_path / "data")
    os.mkdir(data)
    srv = start_server(idsync_bin, data, NO_RATE_LIMITS)
    try:
        first = cli_json(idsync_bin, "admin-user", "add", "admin", "--data", data, "--json")
        os.makedirs(SCREENSHOTS, exist_ok=True)
        env = dict(os.environ, IDSYNC_URL=srv.url, ADMIN_NAME=first["name"],
                   ADMIN_PASSWORD=first["password"], SCREENSHOTS=SCREENSHOTS)
        r = subprocess.run(["node", "console.test.mjs"], cwd=BROWSER_DIR, env=env,
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, (
            f"browser test failed:\n{r.stdout[-3000:]}\n{r.stderr[-5000:]}\n"
            f"server stderr:\n{srv.stderr_text()[-2000:]}")
        steps = [line for line in r.stdout.splitlines() if line.startswith("ok ")]
        assert len(steps) >= 14, r.stdout
        # No secret the console showed is in the server's log.
        log = srv.stderr_text()
        assert first["password"] not in log
        assert "idsync_scim_" not in log and "idsync_session_" not in log
    finally:
        assert srv.stop(signal.SIGTERM) == 0
