#!/usr/bin/env bash
# Runs every built fuzz target for SECONDS each over its seed corpus and regression inputs.
# Usage: tools/fuzz.sh BUILD_DIR [SECONDS]     e.g. tools/fuzz.sh build-fuzz 3600 for a long run
# New corpus entries go to a scratch directory, so the checked-in corpus only grows by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:?usage: tools/fuzz.sh BUILD_DIR [SECONDS]}
seconds=${2:-20}
status=0
for bin in "$build"/fuzz/*_fuzz; do
  [ -x "$bin" ] || continue
  name=$(basename "$bin" _fuzz)
  scratch=$(mktemp -d)
  dirs=("$scratch")
  [ -d "fuzz/corpus/$name" ] && dirs+=("fuzz/corpus/$name")
  [ -d "fuzz/regressions/$name" ] && dirs+=("fuzz/regressions/$name")
  echo "-- $name: ${seconds}s"
  if ! "$bin" -max_total_time="$seconds" -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="$scratch/" "${dirs[@]}" 2>"$scratch/log"; then
    tail -40 "$scratch/log"
    echo "fuzz target $name found a problem; the input is in $scratch" >&2
    status=1
  else
    grep -E "^#[0-9]+.*DONE|Done [0-9]+ runs" "$scratch/log" | tail -1 || true
    rm -rf "$scratch"
  fi
done
exit $status
