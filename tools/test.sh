#!/usr/bin/env bash
# The second README command: install what the tests need, then build and run every test:
#   1. release build with -Werror, unit tests (ctest) and black-box tests (pytest, real server;
#      test files run in parallel, two per core: pytest-xdist --dist loadfile, since each file
#      starts its own servers and fixtures once, and a file spends about half its time waiting
#      on its servers, fixtures and timers)
#   2. AddressSanitizer + UndefinedBehaviorSanitizer build, unit and black-box tests again
#   3. libFuzzer targets (clang), each run briefly over its seed corpus and regressions
# Usage: tools/test.sh [--quick]   (--quick: step 1 only)
# The PostgreSQL store's unit tests run in ctest against a throw-away PostgreSQL 15
# (tools/pg-test-cluster.sh); the black-box suite runs a second time against PostgreSQL 15
# (IDSYNC_TEST_STORE=postgresql: one throw-away cluster per test process, a database per data
# folder) in step 1 only: the sanitizer stage checks the server's own code, which the SQLite run
# already covers, and the time budget has no room for a third run.
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0
[ "${1:-}" = "--quick" ] && quick=1
tools/install-deps.sh test
jobs=$(nproc)
# Black-box test processes: two per core. Measured (release, SQLite): one per core kept the two
# cores 52% busy (271 s of CPU in 263 s); two per core ran the same suite in 165 s.
e2e_jobs=$((2 * jobs))
py=/usr/bin/python3
# Each stage's start, in seconds since the script began (the CI time budget is per stage).
stage() { echo "== $1 (at ${SECONDS}s)"; }
# LLVM's linker (Debian lld): links each test binary ~5x faster than GNU ld (2.2 vs 11 s for
# idsync_sync_test, measured), which is minutes over the three builds' ~70 executables.
link=()
if command -v ld.lld >/dev/null; then
  link=(-DCMAKE_EXE_LINKER_FLAGS=-fuse-ld=lld -DCMAKE_SHARED_LINKER_FLAGS=-fuse-ld=lld)
fi

# Unity builds (CMake compiles a target's sources 16 to a file): each file's headers (the JSON
# library, gtest, Boost) are parsed once per batch instead of once per source. Line tables only
# (-g1: file and line in every backtrace and sanitizer report, no variable info): a third less
# compile time than -g. Measured on this machine: see docs/ARCHITECTURE.md, "Build and CI".
fast=(-DCMAKE_UNITY_BUILD=ON -DCMAKE_UNITY_BUILD_BATCH_SIZE=16)

stage "release build"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DIDSYNC_WERROR=ON -DIDSYNC_BUILD_TESTS=ON \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" "${fast[@]}" "${link[@]}" >/dev/null
cmake --build build -j"$jobs"
stage "unit tests"
ctest --test-dir build --output-on-failure -j"$jobs"
stage "black-box tests"
IDSYNC_BIN="$PWD/build/idsync" $py -m pytest -q -p no:cacheprovider --durations=10 -n "$e2e_jobs" \
  --dist loadfile tests/e2e
stage "black-box tests (PostgreSQL store)"
IDSYNC_BIN="$PWD/build/idsync" IDSYNC_TEST_STORE=postgresql $py -m pytest -q -p no:cacheprovider \
  --durations=10 -n "$e2e_jobs" --dist loadfile tests/e2e

if [ $quick = 1 ]; then exit 0; fi

# Debug (assertions on) at -O1: the sanitizers' usual level, and the tests run about twice as
# fast as at -O0. No benchmark clients (the release build compiles them).
stage "ASan+UBSan build"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g1" \
  -DIDSYNC_SANITIZE=address,undefined -DIDSYNC_WERROR=ON -DIDSYNC_BUILD_TESTS=ON "${fast[@]}" \
  "${link[@]}" >/dev/null
cmake --build build-asan -j"$jobs"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# The randomised re-derivation test runs its 2,500 steps in the release build above; here it
# looks for memory errors, which the first hundred steps reach.
export IDSYNC_PROPERTY_STEPS=100
stage "unit tests (ASan+UBSan)"
# fuzz_regressions_test is left to the fuzz stage below, which replays the same corpus and
# regression inputs under ASan+UBSan through libFuzzer (it took 250 s here at -O0).
ctest --test-dir build-asan --output-on-failure -j"$jobs" -E '^fuzz_regressions_test$'
stage "black-box tests (ASan+UBSan)"
IDSYNC_BIN="$PWD/build-asan/idsync" IDSYNC_SANITIZED=1 $py -m pytest -q -p no:cacheprovider \
  --durations=10 -n "$e2e_jobs" --dist loadfile tests/e2e

if [ -f fuzz/CMakeLists.txt ]; then
  stage "fuzz targets (short runs)"
  CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" -DIDSYNC_BUILD_FUZZ=ON \
    -DIDSYNC_BUILD_TESTS=OFF "${fast[@]}" "${link[@]}" >/dev/null
  cmake --build build-fuzz -j"$jobs" --target fuzz_all
  tools/fuzz.sh build-fuzz "${IDSYNC_FUZZ_SECONDS:-20}"
fi
stage "all tests passed"
