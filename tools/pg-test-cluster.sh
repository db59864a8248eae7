#!/usr/bin/env bash
# Runs a command with a throw-away PostgreSQL 15 cluster (tests/pg/pgcluster.py) for the
# PostgreSQL store's C++ tests: starts it in a temporary folder on a free loopback port,
# exports IDSYNC_TEST_PG_URL (postgresql://USER@127.0.0.1:PORT, no database: the tests create
# one each from template1), runs the command, stops the cluster whatever the command did.
# Usage: tools/pg-test-cluster.sh ctest --test-dir build -R Postgres
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
dir=$(mktemp -d /tmp/idsync-pg-XXXXXX)
trap '/usr/bin/python3 "$here/tests/pg/pgcluster.py" stop "$dir"' EXIT
IDSYNC_TEST_PG_URL=$(/usr/bin/python3 "$here/tests/pg/pgcluster.py" start "$dir")
export IDSYNC_TEST_PG_URL
"$@"
