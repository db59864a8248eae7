"""Browser tests of the console's LDAP connections, Access tokens and Overview activity (issue #12):
tests/browser/ldap.test.mjs drives Debian's chromium with playwright-core against a real `idsync
serve` and a real slapd (ldap_fixture.start_slapd): adding an LDAP connection in the console
(an invalid filter refused next to its field first), Test connection, Test user (raw entry and
what the policy makes of it), Sync now with the progress bar reaching the end, the run history,
a run held by the mass-deprovision guard and confirmed, editing settings with the bind password
never shown; Access: API tokens and LDAP service accounts created (secret shown once), rotated and
revoked; Overview: the activity chart with non-zero counts after SCIM writes, and the console's
first load measured (under 300 KB compressed). Screenshots as in test_console_browser.py
(IDSYNC_SCREENSHOTS=docs/console refreshes the README's).
"""

import json
import os
import shutil
import signal
import subprocess

import pytest

from conftest import NO_RATE_LIMITS, REPO_ROOT, cli_json, start_server
from ldap_fixture import start_slapd
from test_console_browser import BROWSER_DIR, CHROMIUM, ensure_node_modules


@pytest.fixture(scope="module")
def slapd(idsync_bin):
    s = start_slapd(idsync_bin, users=40)
    yield s
    s.close()


def test_ldap_access_and_overview_in_a_browser(idsync_bin, tmp_path, slapd):
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
        scim = cli_json(idsync_bin, "connection", "add", "entra", "--data", data, "--json")
        shots = os.environ.get("IDSYNC_SCREENSHOTS") or str(tmp_path / "screenshots")
        shots = os.path.join(REPO_ROOT, shots) if not os.path.isabs(shots) else shots
        os.makedirs(shots, exist_ok=True)
        env = dict(os.environ, IDSYNC_URL=srv.url, ADMIN_NAME=first["name"],
                   ADMIN_PASSWORD=first["password"], SCREENSHOTS=shots,
                   SCIM_TOKEN=scim["token"], SLAPD=json.dumps(slapd.info))
        r = subprocess.run(["node", "ldap.test.mjs"], cwd=BROWSER_DIR, env=env,
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, (
            f"browser test failed:\n{r.stdout[-3000:]}\n{r.stderr[-5000:]}\n"
            f"server stderr:\n{srv.stderr_text()[-2000:]}")
        steps = [line for line in r.stdout.splitlines() if line.startswith("ok ")]
        assert len(steps) >= 9, r.stdout
        log = srv.stderr_text()
        assert slapd.info["service_password"] not in log
        assert "idsync_admin_" not in log and "idsync_read_" not in log and "idsync_ldap_" not in log
    finally:
        assert srv.stop(signal.SIGTERM) == 0
