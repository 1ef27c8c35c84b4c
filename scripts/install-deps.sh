#!/usr/bin/env bash
# Installs the Debian packages r3e needs to build, test and benchmark.
# Idempotent: does nothing (and never calls apt-get) when everything is present.
set -euo pipefail

BUILD_PKGS=(
  build-essential cmake pkg-config clang clang-format
  libjavascriptcoregtk-4.1-dev libmicrohttpd-dev librocksdb-dev libjansson-dev
  libcurl4-openssl-dev libssl-dev nettle-dev libsecp256k1-dev libsodium-dev
  libseccomp-dev libjwt-dev libwslay-dev libhiredis-dev libpq-dev libcmocka-dev libgnutls28-dev
  tzdata # /usr/share/zoneinfo: cron schedules in named time zones (src/events/cron.c)
)
TEST_PKGS=(nodejs npm valgrind curl openssl libclang-rt-14-dev) # openssl: test certificates; clang-rt: libFuzzer
BENCH_PKGS=(wrk nginx-light)

want=("${BUILD_PKGS[@]}")
case "${1:-build}" in
  build) ;;
  test) want+=("${TEST_PKGS[@]}") ;;
  bench) want+=("${TEST_PKGS[@]}" "${BENCH_PKGS[@]}") ;;
  *) echo "usage: $0 [build|test|bench]" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
  # node may come from outside Debian (nodesource, nvm); accept any working binary.
  if [ "$p" = nodejs ] && command -v node >/dev/null 2>&1; then continue; fi
  if [ "$p" = npm ] && command -v npm >/dev/null 2>&1; then continue; fi
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
