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
#   7. events (issue 3), on a new server with one custom trigger (filter on type) of a no-op
#      function (bench/events.mjs): batched ingest (1,000 CloudEvents per request) and single
#      structured events with wrk (bench/events_post.lua), each as events/s accepted and
#      deliveries/s until the backlog drained (r3e_deliveries_total, bounded wait); event ->
#      function start latency p50/p99; trigger matching with 10,000 triggers (events_bench)
#   8. chain primitives (issues 5, 6): keccak256 and secp256k1 sign/recover of r3e
#      (eth_tool --bench) vs ethers (tests/eth/gen.mjs --bench); Neo NEP-17 transaction
#      build+sign+serialize of r3e (neo_tool --bench) vs neon-js (tests/neo/bench.mjs)
#   9. Ethereum triggers (issue 5): mined block -> function start latency over 200 blocks
#      (evm_mine every 100 ms on a hardhat node) with the newHeads WebSocket subscription and
#      with polling (bench/eth_events.mjs); log decode rate (ethsrc_bench)
#  10. Neo triggers (issue 6): notification decode rate (neosrc_bench)
#   The tools of 7 and 8 are test-tree programs, built (RelWithDebInfo, no sanitizers) in
#   build-bench-tools; only those targets.
#
# Prints the results and writes them to bench/out/results.md. Every process it starts runs
# in its own process group and is killed on exit. Knobs (environment): R3E_BIN (default
# $BUILD/r3e, BUILD defaulting to build), BENCH_DURATION (10s), BENCH_DEPLOYS (1000),
# BENCH_RSS_FUNCS (1000), BENCH_EV_BATCHES (30), BENCH_EV_DURATION (5s), BENCH_EV_LATENCY (300),
# BENCH_ETH_BLOCKS (200), BENCH_TOOLS_BUILD (build-bench-tools), BENCH_WORKERS (r3e worker
# processes and node cluster size; default nproc, min 2).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
# `make bench BUILD=dir` exports BUILD to this script; R3E_BIN wins over both.
R3E_BIN="${R3E_BIN:-$root/${BUILD:-build}/r3e}"
DURATION="${BENCH_DURATION:-10s}"
N_DEPLOYS="${BENCH_DEPLOYS:-1000}"
N_RSS="${BENCH_RSS_FUNCS:-1000}"
WORKERS="${BENCH_WORKERS:-$(nproc)}"
EV_BATCHES="${BENCH_EV_BATCHES:-30}"
EV_DURATION="${BENCH_EV_DURATION:-5s}"
EV_LATENCY="${BENCH_EV_LATENCY:-300}"
ETH_EV_BLOCKS="${BENCH_ETH_BLOCKS:-200}"
TOOLS="${BENCH_TOOLS_BUILD:-$root/build-bench-tools}"
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

# The test-tree tools of sections 7 and 8, built before any measurement (the first build
# compiles the core once more; later runs are incremental).
log "building events_bench eth_tool neo_tool ethsrc_bench neosrc_bench in $TOOLS"
cmake -S "$root" -B "$TOOLS" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DR3E_TESTS=ON -DR3E_SANITIZE=OFF >"$tmp/tools-cmake.log" 2>&1 ||
  { cat "$tmp/tools-cmake.log" >&2; exit 1; }
cmake --build "$TOOLS" -j"$(nproc)" --target events_bench eth_tool neo_tool ethsrc_bench neosrc_bench >"$tmp/tools-build.log" 2>&1 ||
  { tail -30 "$tmp/tools-build.log" >&2; exit 1; }
for d in eth neo; do
  [ -d "$root/tests/$d/node_modules" ] || npm ci --prefix "$root/tests/$d" --no-audit --no-fund >&2
done
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

# --- 7. events (issue 3) -------------------------------------------------------------------
# A new server: the queue holds nothing but these events. The trigger matches types
# "bench" (ingest) and "lat" (latency); the function returns Date.now() at its start.
start_r3e r3e-ev
node "$here/events.mjs" setup "$r3e_url" >/dev/null
log "events batched: $EV_BATCHES x 1000; load $(cut -d' ' -f1-3 /proc/loadavg)"
ev_batch_json="$(timeout 150 node "$here/events.mjs" batched "$r3e_url" "$EV_BATCHES" 120)"
log "events batched: $ev_batch_json"
log "events single (wrk $EV_DURATION); load $(cut -d' ' -f1-3 /proc/loadavg)"
d0="$(node "$here/events.mjs" delivered "$r3e_url")"
t0="$(date +%s%3N)"
c0="$(sess_cpu_ticks "$r3e_pid")"
wrk -t$THREADS -c$CONNS -d"$EV_DURATION" --latency -s "$here/events_post.lua" "$r3e_url/" >"$tmp/wrk-events.txt"
c1="$(sess_cpu_ticks "$r3e_pid")"
r="$(grep '^RESULT ' "$tmp/wrk-events.txt")" || { cat "$tmp/wrk-events.txt" >&2; exit 1; }
read -r _ w_reqs w_secs w_rps w_p50 w_p99 w_sock w_non2xx <<<"$r"
# Accepted = answered 202 (wrk counts non-2xx separately); each one is a delivery to wait for.
ev_drain_json="$(timeout 150 node "$here/events.mjs" drain "$r3e_url" "$d0" "$((w_reqs - w_non2xx))" "$t0" 120)"
ev_single_json="{\"requests\":$w_reqs,\"seconds\":$w_secs,\"req_per_s\":$w_rps,\"p50_us\":$w_p50,\"p99_us\":$w_p99,\"socket_errors\":$w_sock,\"non2xx\":$w_non2xx,\"cpu_us_per_event\":$(((c1 - c0) * 1000000 / $(getconf CLK_TCK) / (w_reqs > 0 ? w_reqs : 1))),\"drain\":$ev_drain_json}"
log "events single: $ev_single_json"
log "event -> function start latency: $EV_LATENCY events one at a time"
ev_lat_json="$(timeout 120 node "$here/events.mjs" latency "$r3e_url" "$EV_LATENCY")"
log "event -> function start latency: $ev_lat_json"
stop "$r3e_pid"
log "trigger matching: events_bench 10000 triggers, 200000 events"
ev_match_json="$(timeout 120 "$TOOLS/events_bench" 10000 200000 1)"
log "trigger matching: $ev_match_json"

# --- 8. chain primitives (issues 5, 6) -------------------------------------------------------
# Single-threaded on both sides: per-core rates. One JSON line per op, gathered in arrays.
jsonl_array() { printf '['; paste -sd, -; printf ']'; }
log "eth: r3e eth_tool --bench vs ethers tests/eth/gen.mjs --bench; load $(cut -d' ' -f1-3 /proc/loadavg)"
eth_r3e_json="$(timeout 120 "$TOOLS/eth_tool" --bench | jsonl_array)"
eth_ethers_json="$(cd "$root/tests/eth" && timeout 120 node gen.mjs --bench | jsonl_array)"
log "eth: r3e $eth_r3e_json ethers $eth_ethers_json"
log "neo: r3e neo_tool --bench 20000 vs neon-js tests/neo/bench.mjs 2000"
neo_r3e_json="$(timeout 120 "$TOOLS/neo_tool" --bench 20000)"
neo_neon_json="$(cd "$root/tests/neo" && timeout 120 node bench.mjs 2000)"
log "neo: r3e $neo_r3e_json neon-js $neo_neon_json"

# --- 9. Ethereum triggers (issue 5) ------------------------------------------------------------
# A hardhat node and a fresh r3e with --eth: mined block -> function start latency with the
# newHeads subscription and with polling (bench/eth_events.mjs), and the log decode rate.
log "eth triggers: block -> function start, $ETH_EV_BLOCKS blocks every 100 ms; load $(cut -d' ' -f1-3 /proc/loadavg)"
eth_ev_json="$(R3E_BIN="$R3E_BIN" timeout 300 node "$here/eth_events.mjs" "$ETH_EV_BLOCKS" 100 100)"
log "eth triggers: $eth_ev_json"
eth_dec_json="$(timeout 120 "$TOOLS/ethsrc_bench" 200000)"
log "eth log decode: $eth_dec_json"

# --- 10. Neo triggers (issue 6) ----------------------------------------------------------------
neo_dec_json="$(timeout 120 "$TOOLS/neosrc_bench" 200000)"
log "neo notification decode: $neo_dec_json"

# --- report ------------------------------------------------------------------------------
mkdir -p "$here/out"
WHEN="$when" CPU="$cpu" CORES="$cores" LOAD_START="$load_start" LOAD_END="$(cut -d' ' -f1-3 /proc/loadavg)" \
REV="$rev" WORKERS="$WORKERS" WRK_CMD="$WRK_CMD" DEPLOY_JSON="$deploy_json" RSS_JSON="$rss_json" \
DUR_WARM="$dur_warm" DUR_FRESH="$dur_fresh" JSC_JSON="$jsc_json" \
EV_BATCH_JSON="$ev_batch_json" EV_SINGLE_JSON="$ev_single_json" EV_LAT_JSON="$ev_lat_json" \
EV_MATCH_JSON="$ev_match_json" EV_WRK_CMD="wrk -t$THREADS -c$CONNS -d$EV_DURATION --latency -s bench/events_post.lua URL/" \
EV_BATCHES="$EV_BATCHES" ETH_R3E_JSON="$eth_r3e_json" ETH_ETHERS_JSON="$eth_ethers_json" \
NEO_R3E_JSON="$neo_r3e_json" NEO_NEON_JSON="$neo_neon_json" \
ETH_EV_JSON="$eth_ev_json" ETH_DEC_JSON="$eth_dec_json" NEO_DEC_JSON="$neo_dec_json" \
  node "$here/report.mjs" "$tmp/rows" | tee "$here/out/results.md"
