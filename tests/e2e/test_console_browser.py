"""Browser tests of the admin console (issue #12): tests/browser/console.test.mjs drives Debian's
chromium with playwright-core against a real `idsync serve`, as a new administrator would (first
sign-in and password change, an Entra ID connection and its token, a SCIM client's users in the
Overview, token rotation, disable/enable, removal with its confirmation, a viewer who can change
nothing, a cross-origin POST refused, sign-out, a removed user signed out). It saves a
screenshot of each page into the test's temporary folder; with IDSYNC_SCREENSHOTS=docs/console
it refreshes the ones the README links (a run changes tokens and times, so a normal test run
leaves the committed pictures alone).

The node modules come from tests/browser/package-lock.json (`npm ci`, run here when missing).
"""

import os
import re
import shutil
import signal
import subprocess

import pytest

from conftest import NO_RATE_LIMITS, REPO_ROOT, cli_json, start_server

BROWSER_DIR = os.path.join(REPO_ROOT, "tests", "browser")
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
        shots = os.environ.get("IDSYNC_SCREENSHOTS") or str(tmp_path / "screenshots")
        shots = os.path.join(REPO_ROOT, shots) if not os.path.isabs(shots) else shots
        os.makedirs(shots, exist_ok=True)
        env = dict(os.environ, IDSYNC_URL=srv.url, ADMIN_NAME=first["name"],
                   ADMIN_PASSWORD=first["password"], SCREENSHOTS=shots)
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


def test_readme_links_every_screenshot_and_each_page_has_one():
    """What must be shown 3: the screenshots the browser tests take are linked from the README's
    console section, every link there names a committed picture, and each page has one."""
    with open(os.path.join(REPO_ROOT, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    section = readme.split("## The admin console", 1)[1].split("\n## ", 1)[0]
    linked = set(re.findall(r"\(docs/console/([\w.-]+\.png)\)", section))
    folder = os.path.join(REPO_ROOT, "docs", "console")
    committed = {n for n in os.listdir(folder) if n.endswith(".png")}
    assert linked - committed == set(), "linked but missing"
    assert committed - linked == set(), "taken but not linked from the console section"
    taken = set()
    for script in ("console.test.mjs", "ldap.test.mjs", "policy.test.mjs"):
        with open(os.path.join(BROWSER_DIR, script), encoding="utf-8") as f:
            text = f.read()
        taken |= {m + ".png" for m in re.findall(r"shot\(page, '([\w-]+)'\)", text)}
        taken |= {m + ".png" for m in re.findall(r"'([\w-]+-phone)'", text)}
    assert taken - committed == set(), "a browser test takes a picture that is not committed"
    for page in ("sign-in", "overview", "connections", "ldap-sync", "access", "policy",
                 "explorer", "explorer-user", "explorer-group", "activity"):
        assert page + ".png" in linked, page
