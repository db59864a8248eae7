"""PostgreSQL stopped and started again under a serving instance (issue #15, "Operating it").

While the database is away, `/readyz` and every SCIM request answer 503 with Retry-After (identity
providers retry on it) and a SCIM error body; the server keeps running and its log stays JSON.
When the database is back the instance recovers by itself, without a restart, and nothing it
acknowledged is lost. The test runs in the normal (SQLite) suite too: it starts its own
PostgreSQL cluster, so stopping it disturbs no other test.
"""
import os
import sys

import pytest

from conftest import (
    TEST_STORE,
    REPO_ROOT,
    Scim,
    assert_error,
    cli_json,
    http_request,
    new_user,
    resources,
    start_server,
    wait_until,
)

sys.path.insert(0, os.path.join(REPO_ROOT, "tests", "pg"))
import pgcluster  # noqa: E402


# It brings its own PostgreSQL database, so the PostgreSQL run of the suite (IDSYNC_TEST_STORE)
# would repeat exactly what the SQLite run did; tools/test.sh runs it once per build.
pytestmark = pytest.mark.skipif(TEST_STORE == "postgresql",
                                reason="runs against PostgreSQL in the SQLite suite already")


@pytest.fixture(scope="module")
def cluster():
    if not pgcluster.available():
        pytest.fail(f"PostgreSQL 15 not found in {pgcluster.PG_BIN} "
                    "(tools/install-deps.sh test installs postgresql-15)", pytrace=False)
    c = pgcluster.new_cluster()
    yield c
    c.stop()


def readyz(server):
    return http_request(server.url, "GET", "/readyz", None, {})


def test_database_outage_answers_503_with_retry_after_then_recovers(idsync_bin, cluster,
                                                                    tmp_path):
    url = cluster.url(cluster.create_database())
    data = str(tmp_path / "data")
    os.makedirs(data)
    info = cli_json(idsync_bin, "connection", "add", "entra", "--data", data, "--store", url,
                    "--json")
    server = start_server(idsync_bin, data, ["--store", url])
    try:
        scim = Scim(server.scim_base, info["token"])
        acknowledged = []
        for _ in range(10):
            r = scim.post("/Users", new_user())
            assert r.status == 201, r
            acknowledged.append(r.json["id"])
        assert readyz(server).status == 200

        cluster.stop_server("fast")
        r = readyz(server)
        assert r.status == 503 and r.headers.get("retry-after", "").isdigit(), r
        for r in (scim.get("/Users"), scim.post("/Users", new_user()),
                  scim.get(f"/Users/{acknowledged[0]}")):
            assert_error(r, 503)
            assert r.headers.get("retry-after", "").isdigit(), r
        assert server.alive()

        cluster.start_server()
        wait_until(lambda: readyz(server).status == 200, timeout=20,
                   message="readyz back to 200 after the database returned")
        r = scim.post("/Users", new_user())
        assert r.status == 201, r
        acknowledged.append(r.json["id"])
        listed = scim.get("/Users", params={"count": 100})
        assert listed.status == 200, listed
        assert {u["id"] for u in resources(listed.json)} == set(acknowledged)
        r = scim.get(f"/Users/{acknowledged[0]}")
        assert r.status == 200, r
    finally:
        rc = server.stop()
    assert rc == 0, server.stderr_text()[-2000:]
