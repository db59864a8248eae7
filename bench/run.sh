#!/bin/sh
# One-command end-to-end benchmark of idsync. See bench/bench.py for the phases.
#   bench/run.sh [--users N] [--out FILE.json] [--bin PATH] [--seconds S] [--keep]
# Needs: wrk, g++ and libsqlite3-dev (for bench/store_ceiling), python3 (standard library).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
for tool in wrk g++; do
  command -v "$tool" >/dev/null 2>&1 || { echo "bench/run.sh: $tool is required (apt-get install $tool)" >&2; exit 2; }
done
py=/usr/bin/python3
[ -x "$py" ] || py=python3
exec "$py" "$here/bench.py" "$@"
