#!/usr/bin/env bash
# Runs every built fuzz target for SECONDS each over its seed corpus and regression inputs,
# JOBS targets at a time (default: one per core; each target is one process on one core).
# Usage: tools/fuzz.sh BUILD_DIR [SECONDS] [JOBS]   e.g. tools/fuzz.sh build-fuzz 3600 for a long run
# New corpus entries go to a scratch directory, so the checked-in corpus only grows by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:?usage: tools/fuzz.sh BUILD_DIR [SECONDS] [JOBS]}
seconds=${2:-20}
jobs=${3:-$(nproc)}
results=$(mktemp -d)

run_one() {  # name bin: writes results/name.ok or results/name.failed (with the log's tail)
  local name=$1 bin=$2 scratch
  scratch=$(mktemp -d)
  local dirs=("$scratch")
  [ -d "fuzz/corpus/$name" ] && dirs+=("fuzz/corpus/$name")
  [ -d "fuzz/regressions/$name" ] && dirs+=("fuzz/regressions/$name")
  if "$bin" -max_total_time="$seconds" -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="$scratch/" "${dirs[@]}" 2>"$scratch/log"; then
    { echo "-- $name: ${seconds}s"
      grep -E "^#[0-9]+.*DONE|Done [0-9]+ runs" "$scratch/log" | tail -1 || true; } \
      >"$results/$name.ok"
    rm -rf "$scratch"
  else
    { echo "-- $name: ${seconds}s"
      tail -40 "$scratch/log"
      echo "fuzz target $name found a problem; the input is in $scratch"; } >"$results/$name.failed"
  fi
}

running=0
started=0
for bin in "$build"/fuzz/*_fuzz; do
  [ -x "$bin" ] || continue
  if [ "$running" -ge "$jobs" ]; then
    wait -n || true
    running=$((running - 1))
  fi
  run_one "$(basename "$bin" _fuzz)" "$bin" &
  running=$((running + 1))
  started=$((started + 1))
done
wait || true

status=0
for f in "$results"/*; do
  [ -e "$f" ] || continue
  cat "$f"
  case "$f" in *.failed) status=1 ;; esac
done
finished=$(find "$results" -type f | wc -l)
if [ "$finished" -ne "$started" ]; then
  echo "only $finished of $started fuzz targets reported a result" >&2
  status=1
fi
rm -rf "$results"
exit $status
