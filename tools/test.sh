#!/usr/bin/env bash
# The second README command: install what the tests need, then build and run every test:
#   1. release build with -Werror, unit tests (ctest) and black-box tests (pytest, real server;
#      test files run in parallel, one per core: pytest-xdist --dist loadfile, since each file
#      starts its own servers and fixtures once)
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
py=/usr/bin/python3
# Each stage's start, in seconds since the script began (the CI time budget is per stage).
stage() { echo "== $1 (at ${SECONDS}s)"; }
# LLVM's linker (Debian lld): links each test binary ~5x faster than GNU ld (2.2 vs 11 s for
# idsync_sync_test, measured), which is minutes over the three builds' ~70 executables.
link=()
if command -v ld.lld >/dev/null; then
  link=(-DCMAKE_EXE_LINKER_FLAGS=-fuse-ld=lld -DCMAKE_SHARED_LINKER_FLAGS=-fuse-ld=lld)
fi

stage "release build"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DIDSYNC_WERROR=ON -DIDSYNC_BUILD_TESTS=ON \
  "${link[@]}" >/dev/null
cmake --build build -j"$jobs"
stage "unit tests"
ctest --test-dir build --output-on-failure -j"$jobs"
stage "black-box tests"
IDSYNC_BIN="$PWD/build/idsync" $py -m pytest -q -p no:cacheprovider -n "$jobs" --dist loadfile tests/e2e
stage "black-box tests (PostgreSQL store)"
IDSYNC_BIN="$PWD/build/idsync" IDSYNC_TEST_STORE=postgresql $py -m pytest -q -p no:cacheprovider \
  -n "$jobs" --dist loadfile tests/e2e

if [ $quick = 1 ]; then exit 0; fi

stage "ASan+UBSan build"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DIDSYNC_SANITIZE=address,undefined \
  -DIDSYNC_WERROR=ON -DIDSYNC_BUILD_TESTS=ON "${link[@]}" >/dev/null
cmake --build build-asan -j"$jobs"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# The randomised re-derivation test runs its 2,000 steps in the release build above.
export IDSYNC_PROPERTY_STEPS=300
stage "unit tests (ASan+UBSan)"
ctest --test-dir build-asan --output-on-failure -j"$jobs"
stage "black-box tests (ASan+UBSan)"
IDSYNC_BIN="$PWD/build-asan/idsync" IDSYNC_SANITIZED=1 $py -m pytest -q -p no:cacheprovider \
  -n "$jobs" --dist loadfile tests/e2e

if [ -f fuzz/CMakeLists.txt ]; then
  stage "fuzz targets (short runs)"
  CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DIDSYNC_BUILD_FUZZ=ON -DIDSYNC_BUILD_TESTS=OFF "${link[@]}" >/dev/null
  cmake --build build-fuzz -j"$jobs" --target fuzz_all
  tools/fuzz.sh build-fuzz "${IDSYNC_FUZZ_SECONDS:-20}"
fi
stage "all tests passed"
