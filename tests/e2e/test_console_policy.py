"""Browser tests of the console's Directory explorer, Policy and Activity pages (issue #12):
tests/browser/policy.test.mjs drives Debian's chromium with playwright-core against a real
`idsync serve`. A SCIM client (the connection's token, passed in the environment) creates users
and groups; the test finds them in the explorer, edits the policy in its forms (an attribute
mapping, a manual group mapping, a default group), checks that Preview's counts are what Apply
then does (through the API), reads a user's provenance, grants and revokes a membership, and
filters the Activity page to one user. Screenshots go to the test's temporary folder, or to
IDSYNC_SCREENSHOTS (docs/console) to refresh the README's pictures.
"""

import os
import shutil
import signal
import subprocess

import pytest

from conftest import NO_RATE_LIMITS, REPO_ROOT, add_connection, cli_json, start_server
from test_console_browser import BROWSER_DIR, CHROMIUM, ensure_node_modules


def test_policy_explorer_activity_in_a_browser(idsync_bin, tmp_path):
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
        conn = add_connection(idsync_bin, data, name="okta")
        shots = os.environ.get("IDSYNC_SCREENSHOTS") or str(tmp_path / "screenshots")
        shots = os.path.join(REPO_ROOT, shots) if not os.path.isabs(shots) else shots
        os.makedirs(shots, exist_ok=True)
        env = dict(os.environ, IDSYNC_URL=srv.url, ADMIN_NAME=first["name"],
                   ADMIN_PASSWORD=first["password"], SCREENSHOTS=shots,
                   SCIM_TOKEN=conn["token"], CONNECTION=conn["name"])
        r = subprocess.run(["node", "policy.test.mjs"], cwd=BROWSER_DIR, env=env,
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, (
            f"browser test failed:\n{r.stdout[-3000:]}\n{r.stderr[-5000:]}\n"
            f"server stderr:\n{srv.stderr_text()[-2000:]}")
        steps = [line for line in r.stdout.splitlines() if line.startswith("ok ")]
        assert len(steps) >= 7, r.stdout
    finally:
        assert srv.stop(signal.SIGTERM) == 0
