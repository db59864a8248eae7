#!/usr/bin/env bash
# A long fuzzing campaign (issue #13 item 11): runs each built libFuzzer target until it has used
# CPU_SECONDS of processor time (user + system, measured, not wall-clock: a campaign runs niced in
# the background while other work proceeds), in chunks of at most CHUNK seconds, over a working
# corpus kept in STATE_DIR so that a campaign interrupted or continued later adds up. Then merges
# what the working corpus adds in coverage into fuzz/corpus/NAME (libFuzzer -merge=1) and prints
# one row per target for the README's fuzzing table.
#
# Usage: tools/fuzz_campaign.sh BUILD_DIR CPU_SECONDS [TARGET...]
#   e.g. nice -n 19 tools/fuzz_campaign.sh build-fuzz 3600            every target, one CPU-hour
#        tools/fuzz_campaign.sh build-fuzz 0 ldap_dn                   only merge and report
# Environment: IDSYNC_FUZZ_STATE (default /var/tmp/idsync-fuzz), IDSYNC_FUZZ_CHUNK (default 600).
# A finding (a crash, a leak, or a timeout that still times out when replayed) is copied to STATE_DIR/NAME/findings and ends that target's
# campaign with a non-zero exit status; reproduce it with BUILD_DIR/fuzz/NAME_fuzz FILE.
# Never pause a campaign with SIGSTOP (to free the CPU for a benchmark): libFuzzer's -timeout
# counts wall-clock time, so the unit it was running is then reported as a timeout. Run it niced
# (nice -n 19 yields to everything else) instead.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:?usage: tools/fuzz_campaign.sh BUILD_DIR CPU_SECONDS [TARGET...]}
budget=${2:?usage: tools/fuzz_campaign.sh BUILD_DIR CPU_SECONDS [TARGET...]}
shift 2
state=${IDSYNC_FUZZ_STATE:-/var/tmp/idsync-fuzz}
chunk=${IDSYNC_FUZZ_CHUNK:-600}
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for bin in "$build"/fuzz/*_fuzz; do [ -x "$bin" ] && targets+=("$(basename "$bin" _fuzz)"); done
fi

# True when every artifact in DIR is a timeout input that BIN runs within the timeout on replay.
only_slow_timeouts() {
  local bin=$1 dir=$2 f any=0
  for f in "$dir"/*; do
    [ -e "$f" ] || continue
    case "$(basename "$f")" in timeout-*) ;; *) return 1 ;; esac
    "$bin" -timeout=10 -rss_limit_mb=2048 "$f" >/dev/null 2>&1 || return 1
    any=1
  done
  [ "$any" = 1 ]
}

status=0
rows=()
for name in "${targets[@]}"; do
  bin="$build/fuzz/${name}_fuzz"
  [ -x "$bin" ] || { echo "no built target $bin" >&2; exit 2; }
  dir="$state/$name"
  mkdir -p "$dir/corpus" "$dir/findings"
  [ -f "$dir/cpu" ] || echo 0 >"$dir/cpu"
  [ -f "$dir/runs" ] || echo 0 >"$dir/runs"
  seeds=()
  [ -d "fuzz/corpus/$name" ] && seeds+=("fuzz/corpus/$name")
  [ -d "fuzz/regressions/$name" ] && seeds+=("fuzz/regressions/$name")
  while [ "$(cut -d. -f1 <"$dir/cpu")" -lt "$budget" ]; do
    log="$dir/last.log"
    scratch=$(mktemp -d)
    set +e
    /usr/bin/time -f "%U %S" -o "$dir/time" "$bin" -max_total_time="$chunk" -max_len=8192 \
      -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$scratch/" -print_final_stats=1 \
      "$dir/corpus" "${seeds[@]}" >"$log" 2>&1
    rc=$?
    set -e
    used=$(awk 'END { print $1 + $2 }' "$dir/time")
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    awk -v a="$(cat "$dir/cpu")" -v b="$used" 'BEGIN { printf "%.0f\n", a + b }' >"$dir/cpu"
    echo $(( $(cat "$dir/runs") + ${runs:-0} )) >"$dir/runs"
    echo "-- $name: +${used}s CPU, +${runs:-0} runs (total $(cat "$dir/cpu") s, $(cat "$dir/runs") runs)"
    if [ "$rc" -ne 0 ] && only_slow_timeouts "$bin" "$scratch"; then
      # libFuzzer's -timeout is wall-clock time: a niced fuzzer starved for 10 s by other work
      # reports whatever it was running. An input that runs in time when replayed is not a
      # finding; it is kept aside (STATE_DIR/NAME/starved) and the campaign goes on.
      mkdir -p "$dir/starved"
      cp "$scratch"/timeout-* "$dir/starved/"
      echo "-- $name: a timeout that replays in time (starved, not a finding); continuing"
      rc=0
    fi
    if [ "$rc" -ne 0 ]; then
      cp "$scratch"/* "$dir/findings/" 2>/dev/null || true
      tail -30 "$log"
      echo "fuzz target $name found a problem (commit $commit); inputs in $dir/findings" >&2
      status=1
      rm -rf "$scratch"
      break
    fi
    rm -rf "$scratch"
  done
  # Keep only what adds coverage to the committed corpus.
  if [ -n "$(ls -A "$dir/corpus")" ]; then
    mkdir -p "fuzz/corpus/$name"
    "$bin" -merge=1 -max_len=8192 -timeout=10 "fuzz/corpus/$name" "$dir/corpus" >"$dir/merge.log" 2>&1 ||
      { tail -20 "$dir/merge.log"; status=1; }
  fi
  findings=$(find "$dir/findings" -type f | wc -l)
  rows+=("| $name | $(awk -v s="$(cat "$dir/cpu")" 'BEGIN { printf "%.2f", s / 3600 }') | $(cat "$dir/runs") | $commit | $findings |")
done

echo
echo "| target | CPU hours | runs | commit | findings |"
echo "|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
exit $status
