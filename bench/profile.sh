#!/usr/bin/env bash
# Where does r3e spend its time under the bench loads? Samples the server and its worker
# processes with `perf record -g` while one load runs, and writes the top costs to
# bench/out/profile-MODE.txt (and the raw bench/out/perf-MODE.data for `perf report -i`).
#
#   bench/profile.sh warm     wrk on /fn/hello (warm isolation) for 5 s
#   bench/profile.sh fresh    wrk on /fn/hello-fresh (fresh isolation) for 5 s
#   bench/profile.sh deploy   300 deploy -> first result rounds (bench/driver.mjs)
#
# Needs perf (linux-perf) and a build with symbols (make build is RelWithDebInfo).
set -euo pipefail

mode="${1:-warm}"
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
R3E_BIN="${R3E_BIN:-$root/build/r3e}"
command -v perf >/dev/null || { echo "profile: perf not found" >&2; exit 1; }

tmp="$(mktemp -d /tmp/r3e-prof.XXXXXX)"
group=""
cleanup() {
  [ -n "$group" ] && kill -TERM -- "-$group" 2>/dev/null || true
  sleep 0.5
  [ -n "$group" ] && kill -KILL -- "-$group" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

setsid env R3E_LOG_LEVEL=warn "$R3E_BIN" server --dev --data "$tmp/data" --listen 127.0.0.1:0 \
  --port-file "$tmp/port" >"$tmp/r3e.log" 2>&1 &
group=$!
for _ in $(seq 150); do [ -s "$tmp/port" ] && break; sleep 0.1; done
url="http://127.0.0.1:$(cat "$tmp/port")"
for _ in $(seq 150); do curl -fs -o /dev/null "$url/readyz" && break; sleep 0.1; done

code='export default async function () { return { status: 200, headers: { "content-type": "text/plain" }, body: "hello" }; }'
for spec in "hello warm" "hello-fresh fresh"; do
  set -- $spec
  node -e 'console.log(JSON.stringify({name: process.argv[1], isolation: process.argv[2], code: process.argv[3]}))' "$1" "$2" "$code" |
    curl -fs -X POST "$url/v1/functions" -H 'content-type: application/json' -d @- >/dev/null
done

pids="$group,$(ps -o pid= --ppid "$group" | tr -s ' \n' ',' | sed 's/^,//; s/,$//')"
mkdir -p "$here/out"
data="$here/out/perf-$mode.data"
case "$mode" in
  warm | fresh)
    path=/fn/hello
    [ "$mode" = fresh ] && path=/fn/hello-fresh
    wrk -t2 -c32 -d2s "$url$path" >/dev/null # warm-up
    perf record -F 999 -g -o "$data" -p "$pids" -- sleep 5 2>"$tmp/perf.err" &
    perf_pid=$!
    wrk -t2 -c32 -d5s --latency "$url$path" >"$tmp/wrk.txt"
    wait "$perf_pid"
    ;;
  deploy)
    perf record -F 999 -g -o "$data" -p "$pids" 2>"$tmp/perf.err" &
    perf_pid=$!
    sleep 0.5
    node "$here/driver.mjs" deploy-latency "$url" 300 >"$tmp/wrk.txt"
    kill -INT "$perf_pid"
    wait "$perf_pid" || true
    ;;
  *) echo "usage: $0 warm|fresh|deploy" >&2; exit 2 ;;
esac

out="$here/out/profile-$mode.txt"
{
  echo "# profile $mode ($(date -u '+%F %T UTC'), pids $pids)"
  cat "$tmp/wrk.txt"
  echo
  echo "## by process and shared object (self time)"
  perf report -i "$data" --no-children --sort comm,dso --stdio -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -25
  echo
  echo "## top symbols (self time)"
  perf report -i "$data" --no-children --sort comm,sym --stdio -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -50
  echo
  echo "## top symbols including callees (children)"
  perf report -i "$data" --children --sort sym --stdio -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -50
} >"$out"
echo "profile: $out" >&2
