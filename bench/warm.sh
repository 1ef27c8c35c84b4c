#!/usr/bin/env bash
# Warm-path A/B benchmark: nginx, the node cluster and one or more r3e binaries, measured
# in interleaved rounds on the same machine, so that a before/after comparison sees the
# same background load.
#
#   bench/warm.sh [LABEL=path/to/r3e ...]
#
# Default: one binary, build/r3e. Each round runs, for every server in turn, a 1 s wrk
# warm-up and then `wrk -t2 -c32 -d$BENCH_DURATION` on nginx's static hello, node's
# cluster hello (bench/node_hello.mjs) and GET /fn/hello of each r3e (the bench's warm
# hello function). Per run it prints req/s and server CPU per request (user + system of
# every process of the server's session, from /proc, divided by requests); at the end min,
# median and max over the rounds. On a shared machine CPU per request is steadier than
# req/s but still moves with other load (caches, preemption): compare builds by many
# interleaved rounds, not one. (Hardware instruction counters would be steadier still;
# this VM does not expose them to perf.) Knobs: BENCH_ROUNDS (3), BENCH_DURATION (10s), BENCH_WORKERS
# (nproc, min 2), BENCH_REFS (1; 0 skips nginx and node), BENCH_PATH (/fn/hello; e.g. /v1/functions/hello/invoke is POST-only and
# not supported here). Everything listens on 127.0.0.1; every process it starts is in its
# own session and is killed on exit.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
ROUNDS="${BENCH_ROUNDS:-3}"
DURATION="${BENCH_DURATION:-10s}"
WORKERS="${BENCH_WORKERS:-$(nproc)}"
[ "$WORKERS" -lt 2 ] && WORKERS=2
FPATH="${BENCH_PATH:-/fn/hello}"
bins=("$@")
[ ${#bins[@]} -eq 0 ] && bins=("r3e=$root/build/r3e")

tmp="$(mktemp -d /tmp/r3e-warm.XXXXXX)"
groups=()
cleanup() {
  local g
  for g in "${groups[@]}"; do kill -TERM -- "-$g" 2>/dev/null || true; done
  sleep 0.5
  for g in "${groups[@]}"; do kill -KILL -- "-$g" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start() { # NAME CMD...: own session; sets $started
  local name="$1"
  shift
  setsid "$@" >"$tmp/$name.log" 2>&1 &
  started=$!
  groups+=("$started")
}
free_port() {
  node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}
wait_http() {
  for _ in $(seq 150); do
    curl -fs -o /dev/null "$1" && return 0
    sleep 0.1
  done
  echo "warm: $1 did not come up" >&2
  return 1
}
sess_cpu_ticks() {
  local pid total=0 t
  for pid in $(ps -o pid= --sid "$1"); do
    t="$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | awk '{print $12 + $13}')" || continue
    total=$((total + ${t:-0}))
  done
  echo "$total"
}

names=()
urls=()
sids=()

if [ "${BENCH_REFS:-1}" = 1 ]; then
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
names+=(nginx) urls+=("http://127.0.0.1:$port/") sids+=("$started")

port="$(free_port)"
start node node "$here/node_hello.mjs" "$port" "$WORKERS"
names+=(node-cluster) urls+=("http://127.0.0.1:$port/") sids+=("$started")
fi

code='export default async function () { return { status: 200, headers: { "content-type": "text/plain" }, body: "hello" }; }'
body="$(node -e 'console.log(JSON.stringify({name: "hello", code: process.argv[1]}))' "$code")"
for spec in "${bins[@]}"; do
  label="${spec%%=*}"
  bin="${spec#*=}"
  [ -x "$bin" ] || { echo "warm: $bin not built" >&2; exit 1; }
  start "$label" env R3E_LOG_LEVEL=warn "$bin" server --dev --data "$tmp/$label-data" \
    --listen 127.0.0.1:0 --port-file "$tmp/$label.port" --workers "$WORKERS"
  sid=$started
  for _ in $(seq 150); do [ -s "$tmp/$label.port" ] && break; sleep 0.1; done
  url="http://127.0.0.1:$(cat "$tmp/$label.port")"
  wait_http "$url/readyz"
  curl -fs -X POST "$url/v1/functions" -H 'content-type: application/json' -d "$body" >/dev/null
  names+=("$label") urls+=("$url$FPATH") sids+=("$sid")
done
for u in "${urls[@]}"; do wait_http "$u"; done

echo "# $(date -u '+%F %T UTC'), $(nproc) x $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), commit $(git -C "$root" rev-parse --short HEAD)"
echo "# wrk -t2 -c32 -d$DURATION, $ROUNDS rounds; columns: round server req/s cpu_us_per_req load1"
for round in $(seq "$ROUNDS"); do
  for i in "${!names[@]}"; do
    wrk -t2 -c32 -d1s "${urls[$i]}" >/dev/null
    c0="$(sess_cpu_ticks "${sids[$i]}")"
    wrk -t2 -c32 -d"$DURATION" -s "$here/report.lua" "${urls[$i]}" >"$tmp/wrk.txt"
    c1="$(sess_cpu_ticks "${sids[$i]}")"
    read -r _ reqs _ rps _ _ errs non2xx < <(grep '^RESULT ' "$tmp/wrk.txt")
    cpu_us="$(awk -v t=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" -v n="$reqs" 'BEGIN{printf "%.1f", t*1e6/hz/n}')"
    [ "$errs" = 0 ] && [ "$non2xx" = 0 ] || echo "# ${names[$i]}: $errs socket errors, $non2xx non-2xx" >&2
    echo "$round ${names[$i]} $rps $cpu_us $(cut -d' ' -f1 /proc/loadavg)" | tee -a "$tmp/rows"
  done
done
echo "# over $ROUNDS rounds, min median max of: req/s | CPU us per request"
med() { sort -g | awk '{v[NR]=$1} END{if(NR%2)print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }
stat3() { # COLUMN NAME
  local v
  v="$(awk -v n="$2" -v c="$1" '$2==n && $c!="-"{print $c}' "$tmp/rows" | sort -g)"
  [ -n "$v" ] || { echo "- - -"; return; }
  echo "$(head -1 <<<"$v") $(med <<<"$v") $(tail -1 <<<"$v")"
}
for n in "${names[@]}"; do
  echo "$n | $(stat3 3 "$n") | $(stat3 4 "$n")"
done
