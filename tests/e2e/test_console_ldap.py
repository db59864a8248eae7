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

import test_admin_api as adm
from conftest import NO_RATE_LIMITS, REPO_ROOT, cli_json, http_request, start_server
from ldap_fixture import Api, add_cli, start_slapd
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
        # The first-load measurement, shown with `pytest -rP` (README, "The admin console").
        print("\n".join(x for x in r.stdout.splitlines() if x.startswith("first load")))
        log = srv.stderr_text()
        assert slapd.info["service_password"] not in log
        assert "idsync_admin_" not in log and "idsync_read_" not in log and "idsync_ldap_" not in log
    finally:
        assert srv.stop(signal.SIGTERM) == 0


def test_activity_route_counts_from_the_store_and_matches_openapi(idsync_bin, tmp_path, slapd):
    """GET /connections/{c}/activity: requests and errors from the audit log, changes from the
    directory's change feed, last request and last sync; a restart keeps them (they are derived
    from the store); bad input is refused; every answer matches the OpenAPI document."""
    data = str(tmp_path / "data")
    os.mkdir(data)
    recorded = []
    srv = start_server(idsync_bin, data, NO_RATE_LIMITS)
    try:
        token = cli_json(idsync_bin, "admin-token", "add", "ops", "--data", data, "--json")["token"]
        scim = cli_json(idsync_bin, "connection", "add", "okta", "--data", data, "--json")
        api = Api(srv.url, token, recorded)
        empty = api.call("GET", "/connections/okta/activity")
        assert empty.status == 200, empty
        assert empty.json["hours"] == 24 and len(empty.json["buckets"]) == 24
        assert empty.json["totals"] == {"requests": 0, "errors": 0, "changes": 0}
        assert empty.json["last_request"] is None and empty.json["last_sync"] is None

        hdrs = {"Authorization": "Bearer " + scim["token"], "Content-Type": "application/scim+json"}
        user = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "active": True}
        for i in range(3):
            body = json.dumps({**user, "userName": f"act{i}@example.com"}).encode()
            assert http_request(srv.url, "POST", "/scim/v2/Users", body, hdrs).status == 201
        bad = json.dumps({**user, "userName": "act0@example.com"}).encode()  # taken: 409
        assert http_request(srv.url, "POST", "/scim/v2/Users", bad, hdrs).status == 409
        r = api.call("GET", "/connections/okta/activity", params={"hours": 3})
        assert r.status == 200, r
        assert len(r.json["buckets"]) == 3
        t = r.json["totals"]
        assert t["requests"] == 4 and t["errors"] == 1 and t["changes"] >= 3, r.json
        assert sum(b["requests"] for b in r.json["buckets"]) == 4
        assert r.json["buckets"][-1]["requests"] == 4  # all in the current hour
        assert r.json["last_request"] is not None

        add_cli(idsync_bin, data, slapd, "corp")
        run = cli_json(idsync_bin, "sync", "corp", "--data", data, "--json")
        assert run["outcome"] == "succeeded", run
        r = api.call("GET", "/connections/corp/activity")
        assert r.status == 200 and r.json["last_sync"]["outcome"] == "succeeded", r
        assert r.json["totals"]["changes"] >= 40, r.json  # the directory's feed: okta's and corp's

        for q in ({"hours": 0}, {"hours": 169}, {"hours": "x"}):
            assert api.call("GET", "/connections/okta/activity", params=q).status == 400
        assert api.call("GET", "/connections/nope/activity").status == 404
        assert api.call("POST", "/connections/okta/activity", {}).status == 405
    finally:
        assert srv.stop(signal.SIGTERM) == 0
    # Derived from the store: a new server process reports the same counts.
    srv = start_server(idsync_bin, data, NO_RATE_LIMITS)
    try:
        api = Api(srv.url, token, recorded)
        r = api.call("GET", "/connections/okta/activity", params={"hours": 3})
        assert r.json["totals"]["requests"] == 4 and r.json["totals"]["errors"] == 1, r.json
    finally:
        assert srv.stop(signal.SIGTERM) == 0
    doc = adm._load_openapi()
    templates = adm._templates(doc)
    problems = []
    for method, path, body, resp in recorded:
        _, found = adm._check(doc, templates, method, path, body, resp)
        problems += found
    assert not problems, "\n".join(problems[:50])
