#!/usr/bin/env bash
# Installs the Debian packages idsync needs. Usage: tools/install-deps.sh [build|test]
#   build: what `idsync` needs to compile and run (the default)
#   test:  build + what the test suite and benchmark need
# Idempotent: packages already present are skipped, so a second run costs one dpkg query.
set -euo pipefail
mode=${1:-build}
build_pkgs=(build-essential cmake pkg-config git ca-certificates
  libboost-dev libboost-system-dev libssl-dev libsqlite3-dev nlohmann-json3-dev
  libfmt-dev libspdlog-dev libcli11-dev libre2-dev libicu-dev libldap2-dev libzstd-dev libargon2-dev
  libarchive-dev libsystemd-dev libtomlplusplus-dev libpq-dev libgoogle-perftools-dev libsimdjson-dev help2man dpkg-dev file
  openssl nodejs npm)
test_pkgs=(libgtest-dev libgmock-dev libbenchmark-dev python3 python3-pytest clang lld
  libclang-rt-14-dev wrk sqlite3 curl procps slapd ldap-utils python3-jsonschema
  python3-pytest-xdist openjdk-17-jdk-headless apache2-bin python3-ldap3 chromium chromium-driver
  samba samba-ad-dc samba-ad-provision samba-dsdb-modules ldb-tools postgresql-15
  systemd)
pkgs=("${build_pkgs[@]}")
[ "$mode" = test ] && pkgs+=("${test_pkgs[@]}")
missing=()
for p in "${pkgs[@]}"; do
  # The console's front-end build needs node and npm (Debian 12: nodejs 18, npm 9). A machine
  # with Node.js from elsewhere (NodeSource's nodejs bundles npm and conflicts with Debian's npm
  # package) already has them.
  if [ "$p" = nodejs ] && command -v node >/dev/null; then continue; fi
  if [ "$p" = npm ] && command -v npm >/dev/null; then continue; fi
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq </dev/null
  # slapd's postinst would otherwise create and start a default server on port 389; the
  # LDAP tests run their own slapd on a free loopback port.
  if printf '%s\n' "${missing[@]}" | grep -qx slapd; then
    echo "slapd slapd/no_configuration boolean true" | $SUDO debconf-set-selections
  fi
  # samba-ad-dc: the AD tests' domain controller (tests/e2e/sambaad.py), which provisions a
  # domain of its own in a temporary folder and uses nothing in /etc/samba or /var/lib/samba.
  # On a host with systemd the packages may start smbd/nmbd/winbind (file server, not a DC);
  # the tests need none of them. samba-ad-provision (the provisioning templates) is only a
  # Recommends of samba, so it is named.
  # postgresql-15: the PostgreSQL store's tests start their own throw-away cluster
  # (tests/pg/pgcluster.py); on a host with systemd the package may also start Debian's default
  # cluster on port 5432, which the tests do not use.
  # apache2-bin (not apache2) carries httpd and mod_ldap/mod_authnz_ldap without a postinst
  # that starts a system server on port 80; the LDAP client tests run their own httpd.
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
fi
