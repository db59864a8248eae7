#!/usr/bin/env bash
# The first README command: install what is missing, build, and serve on the embedded default
# (SQLite in ./data). On the first start it creates a connection named "default" and prints its
# SCIM base URL and bearer token, and the admin console's first user "admin" with a one-time
# password; `idsync serve` prints the console URL on every start. Usage: tools/run.sh [extra `idsync serve` flags]
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh build
# RelWithDebInfo (-O2 -g), the build the test suite checks warning-free with -Werror; GCC 12's
# -O3 reports -Wrestrict false positives inside std::string.
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DIDSYNC_BUILD_TESTS=OFF >/dev/null
cmake --build build --target idsync -j"$(nproc)"
data=${IDSYNC_DATA:-./data}
listen=${IDSYNC_LISTEN:-127.0.0.1:8080}
mkdir -p "$data"
chmod 700 "$data"
# Record the URL before the first connection so that its base URL is right.
if [ ! -f "$data/server.json" ]; then
  printf '{"public_url":"http://%s"}\n' "$listen" >"$data/server.json"
fi
if [ "$(./build/idsync connection list --data "$data" --json | tr -d '[:space:]')" = "[]" ]; then
  echo "First start: creating the connection \"default\" for your identity provider."
  ./build/idsync connection add default --data "$data"
  echo
fi
# The admin console's first user, only while there is none (--if-none prints nothing otherwise).
first_user=$(./build/idsync admin-user add admin --if-none --data "$data")
if [ -n "$first_user" ]; then
  echo "First start: the admin console's first user."
  echo "$first_user"
  echo
fi
exec ./build/idsync serve --data "$data" --listen "$listen" "$@"
