#!/usr/bin/env bash
# r3e benchmark (`make bench`): one run, side by side on this machine, all on 127.0.0.1.
#
#   1. nginx serving a static 200 "hello"                 (the ceiling for an HTTP server)
#   2. node `http` hello: single process and cluster      (the cluster is the reference)
#   3. r3e warm hello through the HTTP trigger /fn/hello  (isolation "warm")
#   4. r3e fresh hello through /fn/hello-fresh            (isolation "fresh": new context
#                                                          per request)
#   (and r3e GET /healthz: the HTTP layer alone, for reference)
#   each with: wrk -t2 -c32 -d10s --latency -s bench/report.lua URL (after a 2 s warm-up)
#   5. deploy -> first result latency over 1,000 deploys  (bench/driver.mjs deploy-latency)
#   6. RSS per warm function instance, 1,000 functions     (bench/driver.mjs warm-rss)
#   plus 500 sequential invokes of each hello, to split a request's time into sandbox
#   (duration_us of the record) and everything around it (bench/driver.mjs durations), and
#   the cost of a bare JavaScriptCore context (bench/jsc_fresh.c), the floor for "fresh"
#
# Prints the results and writes them to bench/out/results.md. Every process it starts runs
# in its own process group and is killed on exit. Knobs (environment): R3E_BIN (default
# $BUILD/r3e, BUILD defaulting to build), BENCH_DURATION (10s), BENCH_DEPLOYS (1000),
# BENCH_RSS_FUNCS (1000), BENCH_WORKERS (r3e worker processes and node cluster size;
# default nproc, min 2).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
# `make bench BUILD=dir` exports BUILD to this script; R3E_BIN wins over both.
R3E_BIN="${R3E_BIN:-$root/${BUILD:-build}/r3e}"
DURATION="${BENCH_DURATION:-10s}"
N_DEPLOYS="${BENCH_DEPLOYS:-1000}"
N_RSS="${BENCH_RSS_FUNCS:-1000}"
WORKERS="${BENCH_WORKERS:-$(nproc)}"
[ "$WORKERS" -lt 2 ] && WORKERS=2
THREADS=2
CONNS=32
WRK_CMD="wrk -t$THREADS -c$CONNS -d$DURATION --latency -s bench/report.lua URL"

for tool in wrk nginx node curl; do
  command -v "$tool" >/dev/null || { echo "bench: $tool not found (scripts/install-deps.sh bench)" >&2; exit 1; }
done
[ -x "$R3E_BIN" ] || { echo "bench: $R3E_BIN not built (make build)" >&2; exit 1; }

tmp="$(mktemp -d /tmp/r3e-bench.XXXXXX)"
groups=()
cleanup() {
  local g
  for g in "${groups[@]}"; do kill -TERM -- "-$g" 2>/dev/null || true; done
  for g in "${groups[@]}"; do
    for _ in $(seq 50); do kill -0 -- "-$g" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$g" 2>/dev/null || true
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf '[bench %s] %s\n' "$(date -u +%T)" "$*" >&2; }

# start NAME CMD...: runs CMD in a new session (its own process group, so the group and
# everything it forks can be killed at once), output to $tmp/NAME.log. Sets $started.
start() {
  local name="$1"
  shift
  setsid "$@" >"$tmp/$name.log" 2>&1 &
  started=$!
  groups+=("$started")
}

# stop PGID: ends one group started by start() and waits for it.
stop() {
  kill -TERM -- "-$1" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 -- "-$1" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL -- "-$1" 2>/dev/null || true
}

free_port() {
  node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# wait_http URL: until it answers 2xx, at most 15 s.
wait_http() {
  for _ in $(seq 150); do
    curl -fs -o /dev/null "$1" && return 0
    sleep 0.1
  done
  echo "bench: $1 did not come up" >&2
  return 1
}

# sess_cpu_ticks SID: user+system CPU time (clock ticks) of every process in session SID,
# all threads included (/proc/PID/stat fields 14 and 15, counted after the ")" of comm).
sess_cpu_ticks() {
  local pid total=0 t
  for pid in $(ps -o pid= --sid "$1"); do
    t="$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | awk '{print $12 + $13}')" || continue
    total=$((total + ${t:-0}))
  done
  echo "$total"
}

# bench_url LABEL URL SID: warm-up, then the measured wrk run; appends a row to $tmp/rows
# with the server's CPU time per request (all processes of session SID), a figure that the
# machine's other load disturbs far less than req/s.
bench_url() {
  local label="$1" url="$2" sid="$3" want="${4:-hello}" body c0 c1
  body="$(curl -fs "$url")" || { echo "bench: $url failed" >&2; return 1; }
  [[ "$body" == *"$want"* ]] || { echo "bench: $url answered '$body', not $want" >&2; return 1; }
  wrk -t$THREADS -c$CONNS -d2s "$url" >/dev/null
  log "$label: $(cut -d' ' -f1-3 /proc/loadavg) load; wrk $DURATION"
  c0="$(sess_cpu_ticks "$sid")"
  wrk -t$THREADS -c$CONNS -d"$DURATION" --latency -s "$here/report.lua" "$url" >"$tmp/wrk-$label.txt"
  c1="$(sess_cpu_ticks "$sid")"
  local r
  r="$(grep '^RESULT ' "$tmp/wrk-$label.txt")" || { cat "$tmp/wrk-$label.txt" >&2; return 1; }
  echo "$label ${r#RESULT } $((c1 - c0)) $(getconf CLK_TCK)" >>"$tmp/rows"
  log "$label: ${r#RESULT }"
}

# --- machine --------------------------------------------------------------------------
cpu="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
cores="$(nproc)"
load_start="$(cut -d' ' -f1-3 /proc/loadavg)"
when="$(date -u '+%Y-%m-%d %H:%M UTC')"
rev="$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
log "machine: $cores x $cpu; load $load_start; r3e $rev; workers $WORKERS"
: >"$tmp/rows"

# --- 1. nginx --------------------------------------------------------------------------
port="$(free_port)"
mkdir -p "$tmp/nginx"
cat >"$tmp/nginx/nginx.conf" <<EOF
worker_processes $WORKERS;
daemon off;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $tmp/nginx/body;
  proxy_temp_path $tmp/nginx/proxy;
  fastcgi_temp_path $tmp/nginx/fastcgi;
  uwsgi_temp_path $tmp/nginx/uwsgi;
  scgi_temp_path $tmp/nginx/scgi;
  server {
    listen 127.0.0.1:$port;
    location / { default_type text/plain; return 200 "hello"; }
  }
}
EOF
start nginx nginx -p "$tmp/nginx" -e "$tmp/nginx/error.log" -c "$tmp/nginx/nginx.conf"
g=$started
wait_http "http://127.0.0.1:$port/"
bench_url nginx "http://127.0.0.1:$port/" "$g"
stop "$g"

# --- 2. node ---------------------------------------------------------------------------
port="$(free_port)"
start node1 node "$here/node_hello.mjs" "$port" 0
g=$started
wait_http "http://127.0.0.1:$port/"
bench_url node-1proc "http://127.0.0.1:$port/" "$g"
stop "$g"

port="$(free_port)"
start nodeN node "$here/node_hello.mjs" "$port" "$WORKERS"
g=$started
wait_http "http://127.0.0.1:$port/"
bench_url node-cluster "http://127.0.0.1:$port/" "$g"
stop "$g"

# --- 3./4. r3e -------------------------------------------------------------------------
# start_r3e NAME: a dev server on a free port with its own data dir; sets $r3e_url, $r3e_pid.
# Logging at warn (nginx runs with access_log off); the warm-context LRU is raised to 2000
# per worker so that 1,000 warm functions all stay resident for the RSS measurement.
start_r3e() {
  rm -f "$tmp/$1.port"
  start "$1" env R3E_LOG_LEVEL=warn R3E_WARM_CONTEXTS=2000 "$R3E_BIN" server --dev \
    --data "$tmp/$1-data" --listen 127.0.0.1:0 --port-file "$tmp/$1.port" --workers "$WORKERS"
  r3e_pid=$started
  for _ in $(seq 150); do [ -s "$tmp/$1.port" ] && break; sleep 0.1; done
  [ -s "$tmp/$1.port" ] || { cat "$tmp/$1.log" >&2; echo "bench: r3e did not start" >&2; return 1; }
  r3e_url="http://127.0.0.1:$(cat "$tmp/$1.port")"
  wait_http "$r3e_url/readyz"
}

deploy() { # NAME ISOLATION
  local code='export default async function () { return { status: 200, headers: { "content-type": "text/plain" }, body: "hello" }; }'
  local body
  body="$(node -e 'console.log(JSON.stringify({name: process.argv[1], isolation: process.argv[2], code: process.argv[3]}))' "$1" "$2" "$code")"
  curl -fs -X POST "$r3e_url/v1/functions" -H 'content-type: application/json' -d "$body" >/dev/null ||
    { echo "bench: deploy $1 failed" >&2; return 1; }
}

start_r3e r3e
deploy hello warm
deploy hello-fresh fresh
# r3e's HTTP layer alone (no function, no store): what the server costs before invoking.
bench_url r3e-healthz "$r3e_url/healthz" "$r3e_pid" '"ok"'
bench_url r3e-warm "$r3e_url/fn/hello" "$r3e_pid"
bench_url r3e-fresh "$r3e_url/fn/hello-fresh" "$r3e_pid"
# Where the time of one request goes: sandbox time (duration_us) vs the whole round trip.
dur_warm="$(node "$here/driver.mjs" durations "$r3e_url" hello 500)"
dur_fresh="$(node "$here/driver.mjs" durations "$r3e_url" hello-fresh 500)"
log "sequential invokes: $dur_warm $dur_fresh"

# The engine's floor for fresh isolation: a bare JavaScriptCore context + small script.
jsc_json='null'
if cc -O2 -std=c17 -I "$root/src" "$here/jsc_fresh.c" -o "$tmp/jsc_fresh" \
  $(pkg-config --cflags --libs javascriptcoregtk-4.1) 2>"$tmp/jsc_fresh.err"; then
  jsc_json="$("$tmp/jsc_fresh" 3000)"
  log "bare JavaScriptCore context: $jsc_json"
else
  log "jsc_fresh did not build (see $tmp/jsc_fresh.err); skipped"
fi

# --- 5. deploy -> first result -----------------------------------------------------------
log "deploy->first result: $N_DEPLOYS deploys"
deploy_json="$(node "$here/driver.mjs" deploy-latency "$r3e_url" "$N_DEPLOYS")"
log "deploy->first result: $deploy_json"
stop "$r3e_pid"

# --- 6. RSS per warm instance (on a new server: nothing resident but the warm-up) ----------
start_r3e r3e-rss
log "warm RSS: $N_RSS functions"
rss_json="$(node "$here/driver.mjs" warm-rss "$r3e_url" "$r3e_pid" "$N_RSS")"
log "warm RSS: $rss_json"
stop "$r3e_pid"

# --- report ------------------------------------------------------------------------------
mkdir -p "$here/out"
WHEN="$when" CPU="$cpu" CORES="$cores" LOAD_START="$load_start" LOAD_END="$(cut -d' ' -f1-3 /proc/loadavg)" \
REV="$rev" WORKERS="$WORKERS" WRK_CMD="$WRK_CMD" DEPLOY_JSON="$deploy_json" RSS_JSON="$rss_json" \
DUR_WARM="$dur_warm" DUR_FRESH="$dur_fresh" JSC_JSON="$jsc_json" \
  node "$here/report.mjs" "$tmp/rows" | tee "$here/out/results.md"
