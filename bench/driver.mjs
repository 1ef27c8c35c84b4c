// Load drivers for bench/run.sh that wrk cannot do (each request depends on the last).
//
//   node driver.mjs deploy-latency URL N
//     N times: deploy a new function (new name, new code) with POST /v1/functions, then
//     invoke it; the latency is from the start of the deploy request to the end of the
//     invoke response. One keep-alive connection, requests strictly sequential.
//     Prints one JSON line: {n, p50_ms, p99_ms, mean_ms, max_ms, deploy_p50_ms, invoke_p50_ms}.
//
//   node driver.mjs durations URL NAME N
//     N sequential invokes of NAME through /v1/functions/NAME/invoke; prints the p50 of the
//     sandbox time the record reports (duration_us) and of the client round trip, which
//     splits a request's cost into engine and everything around it.
//
//   node driver.mjs warm-rss URL SERVER_PID N
//     Deploys N warm functions, then invokes each once (one warm context each), and sums
//     VmRSS of the server's child processes (the workers) before and after.
//     Prints one JSON line with the RSS figures in KiB.
//
// Any unexpected HTTP status or a non-"ok" invocation aborts with exit code 1: a benchmark
// of failing requests would be meaningless.
import http from "node:http";
import fs from "node:fs";

const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });

function request(base, method, path, body) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = http.request(
      new URL(path, base),
      {
        method,
        agent,
        headers: data
          ? { "content-type": "application/json", "content-length": data.length }
          : {},
      },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode, body: Buffer.concat(chunks) }));
      },
    );
    req.on("error", reject);
    req.end(data);
  });
}

function check(res, want, what) {
  if (res.status !== want) {
    throw new Error(`${what}: HTTP ${res.status} ${res.body.toString().slice(0, 300)}`);
  }
  return res;
}

async function deployAndInvoke(base, name, code) {
  check(await request(base, "POST", "/v1/functions", { name, code }), 201, `deploy ${name}`);
  const tDeployed = process.hrtime.bigint();
  const inv = check(
    await request(base, "POST", `/v1/functions/${name}/invoke`, { n: 1 }),
    200,
    `invoke ${name}`,
  );
  const rec = JSON.parse(inv.body);
  if (rec.status !== "ok") throw new Error(`invoke ${name}: status ${rec.status}`);
  return tDeployed;
}

const ms = (ns) => Number(ns) / 1e6;
const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const round = (x) => Math.round(x * 1000) / 1000;

// Distinct code per function so nothing is shared through the content-addressed code store.
const codeFor = (i) => `export default async function (event) { return { ok: true, i: ${i} }; }`;

async function deployLatency(base, n) {
  const run = Date.now().toString(36);
  // Warm the connection and the server's code paths (not counted).
  for (let i = 0; i < 20; i++) await deployAndInvoke(base, `dlw-${run}-${i}`, codeFor(-i));
  const total = [];
  const deploy = [];
  const invoke = [];
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    const tDeployed = await deployAndInvoke(base, `dl-${run}-${i}`, codeFor(i));
    const t1 = process.hrtime.bigint();
    total.push(ms(t1 - t0));
    deploy.push(ms(tDeployed - t0));
    invoke.push(ms(t1 - tDeployed));
  }
  for (const a of [total, deploy, invoke]) a.sort((x, y) => x - y);
  const mean = total.reduce((s, x) => s + x, 0) / n;
  return {
    n,
    p50_ms: round(pct(total, 50)),
    p99_ms: round(pct(total, 99)),
    mean_ms: round(mean),
    max_ms: round(total[n - 1]),
    deploy_p50_ms: round(pct(deploy, 50)),
    invoke_p50_ms: round(pct(invoke, 50)),
  };
}

// Children of pid (all threads' children lists; the workers are fork+exec'ed by the server).
function childPids(pid) {
  const out = new Set();
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    const s = fs.readFileSync(`/proc/${pid}/task/${tid}/children`, "utf8").trim();
    for (const c of s.split(/\s+/)) if (c) out.add(Number(c));
  }
  return [...out];
}

function rssKiB(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) : 0;
}

function workersRss(serverPid) {
  const pids = childPids(serverPid);
  return { pids: pids.length, kib: pids.reduce((s, p) => s + rssKiB(p), 0) };
}

async function warmRss(base, serverPid, n) {
  const run = Date.now().toString(36);
  const idle = workersRss(serverPid);
  // Engine start-up is paid once per worker, not per instance: warm every worker first with
  // concurrent invocations of one function so that each worker has run JavaScript.
  await deployAndInvoke(base, `rssw-${run}`, codeFor(-1));
  for (let r = 0; r < 10; r++) {
    await Promise.all(
      Array.from({ length: 8 }, () => request(base, "POST", `/v1/functions/rssw-${run}/invoke`, {})),
    );
  }
  const before = workersRss(serverPid);
  const names = [];
  for (let i = 0; i < n; i++) {
    const name = `rss-${run}-${i}`;
    check(await request(base, "POST", "/v1/functions", { name, code: codeFor(i) }), 201, name);
    names.push(name);
  }
  const deployed = workersRss(serverPid);
  // RSS every 100 instances: the slope over the first 200 stays valid even when a worker's
  // warm-context bound (256 by default) is below N and later instances evict earlier ones.
  const series = [deployed.kib];
  for (const [i, name] of names.entries()) {
    const inv = check(await request(base, "POST", `/v1/functions/${name}/invoke`, {}), 200, name);
    const rec = JSON.parse(inv.body);
    if (rec.status !== "ok") throw new Error(`invoke ${name}: status ${rec.status}`);
    if ((i + 1) % 100 === 0) series.push(workersRss(serverPid).kib);
  }
  const after = workersRss(serverPid);
  // Second pass: every instance must still be warm, or the per-instance figure would be
  // diluted by evictions (the warm-context LRU bound is R3E_WARM_CONTEXTS per worker).
  let evicted = 0;
  for (const name of names) {
    const inv = check(await request(base, "POST", `/v1/functions/${name}/invoke`, {}), 200, name);
    if (JSON.parse(inv.body).cold) evicted++;
  }
  return {
    evicted,
    n,
    workers: after.pids,
    idle_kib: idle.kib,
    before_kib: before.kib,
    after_deploy_kib: deployed.kib,
    after_invoke_kib: after.kib,
    per_instance_kib: round((after.kib - before.kib) / n),
    per_instance_invoke_only_kib: round((after.kib - deployed.kib) / n),
    first200_per_instance_kib: series.length > 2 ? round((series[2] - series[0]) / 200) : null,
    series_kib: series,
    server_rss_kib: rssKiB(serverPid),
  };
}

async function durations(base, name, n) {
  const sandbox = [];
  const trip = [];
  for (let i = 0; i < n + 20; i++) {
    const t0 = process.hrtime.bigint();
    const inv = check(await request(base, "POST", `/v1/functions/${name}/invoke`, {}), 200, name);
    const t1 = process.hrtime.bigint();
    const rec = JSON.parse(inv.body);
    if (rec.status !== "ok") throw new Error(`invoke ${name}: status ${rec.status}`);
    if (i < 20) continue; // warm-up
    sandbox.push(rec.duration_us);
    trip.push(Number(t1 - t0) / 1000);
  }
  sandbox.sort((a, b) => a - b);
  trip.sort((a, b) => a - b);
  return {
    name,
    n,
    sandbox_p50_us: pct(sandbox, 50),
    sandbox_p99_us: pct(sandbox, 99),
    roundtrip_p50_us: Math.round(pct(trip, 50)),
    roundtrip_p99_us: Math.round(pct(trip, 99)),
  };
}

async function main() {
  const [cmd, base, a, b] = process.argv.slice(2);
  let out;
  if (cmd === "deploy-latency") out = await deployLatency(base, Number(a));
  else if (cmd === "warm-rss") out = await warmRss(base, Number(a), Number(b));
  else if (cmd === "durations") out = await durations(base, a, Number(b));
  else {
    console.error(
      "usage: driver.mjs deploy-latency URL N | warm-rss URL SERVER_PID N | durations URL NAME N",
    );
    process.exit(2);
  }
  console.log(JSON.stringify(out));
  agent.destroy();
}

main().catch((e) => {
  console.error(`driver: ${e.message}`);
  process.exit(1);
});
