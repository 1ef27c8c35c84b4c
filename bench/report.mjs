// Turns the raw numbers of bench/run.sh into the markdown report (stdout).
// argv[2]: rows file, one line per wrk run:
//   LABEL requests seconds req/s p50_us p99_us socket_errors non2xx cpu_ticks clk_tck
// Environment: WHEN CPU CORES LOAD_START LOAD_END REV WORKERS WRK_CMD DEPLOY_JSON RSS_JSON
// DUR_WARM DUR_FRESH JSC_JSON; events (issue 3): EV_BATCH_JSON EV_SINGLE_JSON EV_LAT_JSON
// EV_MATCH_JSON EV_WRK_CMD EV_BATCHES; chain (issues 5, 6): ETH_R3E_JSON ETH_ETHERS_JSON
// (arrays of {op, ops_per_s}) NEO_R3E_JSON NEO_NEON_JSON.
import fs from "node:fs";

const env = process.env;
const rows = Object.fromEntries(
  fs
    .readFileSync(process.argv[2], "utf8")
    .trim()
    .split("\n")
    .map((l) => l.split(" "))
    .map(([label, reqs, secs, rps, p50, p99, sockErr, non2xx, ticks, hz]) => [
      label,
      {
        reqs: +reqs, secs: +secs, rps: +rps, p50: +p50, p99: +p99, sockErr: +sockErr,
        non2xx: +non2xx, cpuUs: (+ticks / +hz) * 1e6 / +reqs,
      },
    ]),
);
const deploy = JSON.parse(env.DEPLOY_JSON);
const durWarm = JSON.parse(env.DUR_WARM);
const durFresh = JSON.parse(env.DUR_FRESH);
const jsc = JSON.parse(env.JSC_JSON || "null");
const rss = JSON.parse(env.RSS_JSON);

const nginx = rows["nginx"].rps;
const node = rows["node-cluster"].rps; // the reference: same core count as nginx and r3e
const node1 = rows["node-1proc"].rps;
const fmtUs = (us) => (us >= 1000 ? `${(us / 1000).toFixed(2)} ms` : `${us} µs`);
const fmtInt = (x) => Math.round(x).toLocaleString("en-US");
const ratio = (x) => `${x.toFixed(2)}×`;

const descr = {
  nginx: "nginx, static `return 200 \"hello\"`",
  "node-1proc": "node `http`, 1 process",
  "node-cluster": `node \`http\`, cluster of ${env.WORKERS} (reference)`,
  "r3e-healthz": "r3e `GET /healthz` (HTTP layer only, no function)",
  "r3e-warm": "r3e `/fn/hello`, warm isolation",
  "r3e-fresh": "r3e `/fn/hello-fresh`, fresh isolation",
};

const out = [];
out.push(`# r3e benchmark results`, ``);
out.push(`- date: ${env.WHEN}, r3e commit ${env.REV}`);
out.push(`- machine: ${env.CORES} × ${env.CPU}; load average ${env.LOAD_START} at start, ${env.LOAD_END} at end`);
out.push(`- command: \`make bench\` (bench/run.sh); r3e and the node cluster with ${env.WORKERS} workers, nginx with ${env.WORKERS} worker processes`);
out.push(`- load generator: \`${env.WRK_CMD}\` after a 2 s warm-up, on the same cores as the server`);
out.push(``);
out.push(`| server | req/s | p50 | p99 | vs nginx | vs node cluster | vs node 1 proc | server CPU per request | errors |`);
out.push(`|---|---:|---:|---:|---:|---:|---:|---:|---:|`);
for (const [label, r] of Object.entries(rows)) {
  const errs = r.sockErr + r.non2xx ? `${r.sockErr} socket / ${r.non2xx} non-2xx` : "0";
  out.push(
    `| ${descr[label] ?? label} | ${fmtInt(r.rps)} | ${fmtUs(r.p50)} | ${fmtUs(r.p99)} | ` +
      `${ratio(r.rps / nginx)} | ${ratio(r.rps / node)} | ${ratio(r.rps / node1)} | ` +
      `${Math.round(r.cpuUs)} µs | ${errs} |`,
  );
}
out.push(``);
out.push(
  `Server CPU per request: user+system time of all the server's processes (nginx master and ` +
    `workers; node primary and workers; r3e server and its worker processes) during the ` +
    `measured run, divided by the requests served. wrk's own CPU is not included. On a busy ` +
    `machine this is steadier than req/s.`,
);
out.push(``);
out.push(
  `One request at a time (${durWarm.n} sequential invokes over one keep-alive connection, ` +
    `POST /v1/functions/NAME/invoke): warm — sandbox p50 ${durWarm.sandbox_p50_us} µs of a ` +
    `${durWarm.roundtrip_p50_us} µs round trip (p99 ${durWarm.sandbox_p99_us} / ${durWarm.roundtrip_p99_us} µs); ` +
    `fresh — sandbox p50 ${durFresh.sandbox_p50_us} µs of ${durFresh.roundtrip_p50_us} µs ` +
    `(p99 ${durFresh.sandbox_p99_us} / ${durFresh.roundtrip_p99_us} µs).`,
);
if (jsc) {
  out.push(``);
  out.push(
    `Engine floor for fresh isolation (bench/jsc_fresh.c, ${jsc.n} bare JavaScriptCore global ` +
      `contexts each running a small script, no r3e code): ${jsc.cpu_us} µs of CPU ` +
      `(${jsc.wall_us} µs wall) per context.`,
  );
}
out.push(``);
out.push(
  `Deploy → first result (${deploy.n} deploys of new functions, each followed by its first ` +
    `invoke, one keep-alive connection): p50 **${deploy.p50_ms} ms**, p99 ${deploy.p99_ms} ms, ` +
    `mean ${deploy.mean_ms} ms, max ${deploy.max_ms} ms (deploy part p50 ${deploy.deploy_p50_ms} ms, ` +
    `first invoke p50 ${deploy.invoke_p50_ms} ms).`,
);
out.push(``);
const kib = (x) => `${(x / 1024).toFixed(1)} MiB`;
out.push(
  `RSS per warm instance (${rss.n} functions deployed then invoked once each, ` +
    `R3E_WARM_CONTEXTS=2000 so none is evicted; sum of VmRSS of the ${rss.workers} worker ` +
    `processes): **${rss.per_instance_kib} KiB** per instance ` +
    `(workers ${kib(rss.before_kib)} after warm-up → ${kib(rss.after_deploy_kib)} after the deploys' ` +
    `syntax checks → ${kib(rss.after_invoke_kib)} after the invokes; invokes alone ` +
    `${rss.per_instance_invoke_only_kib} KiB each; idle workers at start ${kib(rss.idle_kib)}; server ` +
    `process ${kib(rss.server_rss_kib)}). Evicted before a second invoke: ${rss.evicted} of ${rss.n}` +
    (rss.evicted ? " — **the warm-context bound was lower than asked, so this figure understates the cost**." : "."),
);
out.push(``);
out.push(
  `Worker RSS every 100 invokes (KiB): ${rss.series_kib.join(", ")}; slope over the first 200 ` +
    `instances (below the default bound of 256 per worker even if one worker holds them all): ` +
    `${rss.first200_per_instance_kib} KiB per instance.`,
);
out.push(``);

const warm = rows["r3e-warm"].rps;
const fresh = rows["r3e-fresh"].rps;
const evBatch = JSON.parse(env.EV_BATCH_JSON);
const evSingle = JSON.parse(env.EV_SINGLE_JSON);
const evLat = JSON.parse(env.EV_LAT_JSON);
const evMatch = JSON.parse(env.EV_MATCH_JSON);
out.push(`## Events (issue 3)`, ``);
out.push(
  `A new server (${env.WORKERS} workers) with one custom trigger (filter on \`type\`) of a no-op ` +
    `function; dispatch runs while events are ingested, on the same cores. Accepted = answered ` +
    `202 (durable). Deliveries/s = deliveries finished (\`r3e_deliveries_total\` ok + failed) ` +
    `from the first POST until the backlog drained (bounded wait: 120 s).`,
);
out.push(``);
out.push(`| ingest mode | events | events/s accepted | deliveries/s completed | backlog drained | notes |`);
out.push(`|---|---:|---:|---:|:---:|---|`);
out.push(
  `| batched, 1,000 per request (\`application/cloudevents-batch+json\`), ${env.EV_BATCHES} requests, one client | ` +
    `${fmtInt(evBatch.events)} | **${fmtInt(evBatch.events_per_s)}** | ${fmtInt(evBatch.drain_deliveries_per_s)} | ` +
    `${evBatch.drain_drained ? "yes" : `**no** (${evBatch.drain_delivered} of ${evBatch.drain_expected})`} | ` +
    `accepted in ${evBatch.seconds} s, drained after ${evBatch.drain_seconds} s |`,
);
const sd = evSingle.drain;
const accepted = evSingle.requests - evSingle.non2xx;
out.push(
  `| structured, one per request, \`${env.EV_WRK_CMD}\` | ${fmtInt(accepted)} | ` +
    `**${fmtInt(accepted / evSingle.seconds)}** | ${fmtInt(sd.deliveries_per_s)} | ` +
    `${sd.drained ? "yes" : `**no** (${sd.delivered} of ${sd.expected})`} | p50 ${fmtUs(evSingle.p50_us)}, ` +
    `p99 ${fmtUs(evSingle.p99_us)}; errors ${evSingle.socket_errors} socket / ${evSingle.non2xx} non-2xx; ` +
    `server CPU ${evSingle.cpu_us_per_event} µs per accepted event (ingest + the dispatch done meanwhile); drained after ${sd.seconds} s |`,
);
out.push(``);
out.push(
  `Event → function start (${evLat.events} events one at a time on an idle queue, after 5 ` +
    `unrecorded warm-up events; the publisher sets the event's \`time\` just before the POST, the ` +
    `function returns \`Date.now()\` at its start; both wall clocks of this machine, ` +
    `**${evLat.resolution_ms} ms resolution**): p50 **${evLat.fn_p50_ms} ms**, p99 **${evLat.fn_p99_ms} ms**, ` +
    `max ${evLat.fn_max_ms} ms (${evLat.fn_samples} samples). The record's \`started_at\` (server, ` +
    `just before the run is handed to a worker) minus \`time\`: p50 ${evLat.started_p50_ms} ms, p99 ${evLat.started_p99_ms} ms.`,
);
out.push(``);
out.push(
  `Trigger matching (\`build-bench-tools/events_bench ${evMatch.triggers} ${evMatch.events} 1\`, ` +
    `the matcher alone, one thread): **${fmtInt(evMatch.events_per_s)} events/s**, ` +
    `**${fmtInt(evMatch.matches_per_s)} matches/s** (${evMatch.matches_per_event} matching triggers ` +
    `and ${evMatch.evaluated_per_event} evaluated per event; linear scan ${fmtInt(evMatch.linear_events_per_s)} ` +
    `events/s; index and scan disagreed ${evMatch.mismatches} times).`,
);
out.push(``);

const ethR = Object.fromEntries(JSON.parse(env.ETH_R3E_JSON).map((x) => [x.op, x.ops_per_s]));
const ethE = Object.fromEntries(JSON.parse(env.ETH_ETHERS_JSON).map((x) => [x.op, x.ops_per_s]));
const neoR = JSON.parse(env.NEO_R3E_JSON);
const neoN = JSON.parse(env.NEO_NEON_JSON);
out.push(`## Chain primitives (issues 5, 6)`, ``);
out.push(
  `One thread on each side (per-core rates): \`build-bench-tools/eth_tool --bench\` vs ` +
    `\`node tests/eth/gen.mjs --bench\` (ethers), \`build-bench-tools/neo_tool --bench ${neoR.txs}\` vs ` +
    `\`node tests/neo/bench.mjs ${neoN.txs}\` (${neoN.impl}, node ${neoN.node}).`,
);
out.push(``);
out.push(`| operation | r3e ops/s | reference ops/s | ratio | target |`);
out.push(`|---|---:|---:|---:|---|`);
const chainTargets = [];
for (const op of Object.keys(ethR)) {
  if (!(op in ethE)) continue;
  const r = ethR[op] / ethE[op];
  out.push(`| ${op} (vs ethers) | ${fmtInt(ethR[op])} | ${fmtInt(ethE[op])} | ${ratio(r)} | ≥ 20× |`);
  chainTargets.push([`${op}: r3e ≥ 20× ethers per core`, r >= 20, ratio(r)]);
}
const neoRatio = neoR.tx_per_s / neoN.tx_per_s;
out.push(
  `| Neo NEP-17 tx build+sign+serialize (vs neon-js) | ${fmtInt(neoR.tx_per_s)} | ${fmtInt(neoN.tx_per_s)} | ` +
    `${ratio(neoRatio)} | ≥ 10× |`,
);
chainTargets.push([`Neo tx build+sign+serialize ≥ 10× neon-js`, neoRatio >= 10, ratio(neoRatio)]);
out.push(``);

// Ethereum triggers (issue 5): bench/eth_events.mjs and ethsrc_bench, when run.sh measured them.
if (env.ETH_EV_JSON && env.ETH_DEC_JSON) {
  const ev = JSON.parse(env.ETH_EV_JSON);
  const dec = JSON.parse(env.ETH_DEC_JSON);
  out.push(`## Ethereum triggers (issue 5)`, ``);
  out.push(`| measure | p50 | p90 | p99 | max | blocks |`, `|---|---:|---:|---:|---:|---:|`);
  for (const r of [ev.ws, ev.poll]) {
    const what = r.mode === "ws" ? "newHeads over WebSocket" : `polling every ${ev.poll_ms} ms (--eth-ws off)`;
    out.push(`| mined block → function start, ${what} | ${r.p50_ms} ms | ${r.p90_ms} ms | ${r.p99_ms} ms | ${r.max_ms} ms | ${r.blocks} |`);
  }
  out.push(``, `Log decode (node log → eth.log data with abi-decoded args, one core): ${fmtInt(dec.logs_per_s)} logs/s.`, ``);
  chainTargets.push([`mined block → function start p99 ≤ 50 ms (WebSocket)`, ev.ws.p99_ms <= 50, `${ev.ws.p99_ms} ms`]);
}

// Neo triggers (issue 6): neosrc_bench.
if (env.NEO_DEC_JSON) {
  const dec = JSON.parse(env.NEO_DEC_JSON);
  out.push(`## Neo triggers (issue 6)`, ``);
  out.push(`Notification decode (getapplicationlog notification → neo.notification event, one core): ` +
    `${fmtInt(dec.per_s)} notifications/s (${dec.us_each} µs each).`, ``);
}

const targets = [
  ["warm hello ≥ 0.8× nginx req/s", warm / nginx >= 0.8, ratio(warm / nginx)],
  ["warm hello ≥ 1.5× node req/s (cluster)", warm / node >= 1.5, ratio(warm / node)],
  ["fresh ≥ 10,000 req/s", fresh >= 10000, fmtInt(fresh)],
  ["deploy → first result p50 ≤ 1 ms", deploy.p50_ms <= 1, `${deploy.p50_ms} ms`],
  // With evictions the average over N is diluted; the slope over the first 200 instances
  // (below the default bound of 256 per worker) is then the figure to trust.
  rss.evicted && rss.first200_per_instance_kib !== null
    ? ["≤ 1 MB RSS per warm instance", rss.first200_per_instance_kib <= 1024,
       `${rss.first200_per_instance_kib} KiB (first 200; the ${rss.n}-instance run evicted ${rss.evicted})`]
    : ["≤ 1 MB RSS per warm instance", rss.per_instance_kib <= 1024 && !rss.evicted,
       `${rss.per_instance_kib} KiB${rss.evicted ? ` (${rss.evicted} evicted: invalid)` : ""}`],
  ["event ingest ≥ 50,000 events/s (batched, accepted)", evBatch.events_per_s >= 50000, `${fmtInt(evBatch.events_per_s)} events/s`],
  ["event ingest ≥ 50,000 events/s (batched, delivered)", evBatch.drain_deliveries_per_s >= 50000, `${fmtInt(evBatch.drain_deliveries_per_s)} deliveries/s`],
  ["event ingest ≥ 50,000 events/s (structured, wrk, accepted)", accepted / evSingle.seconds >= 50000, `${fmtInt(accepted / evSingle.seconds)} events/s`],
  ["event → function start p99 ≤ 2 ms", evLat.fn_p99_ms <= 2, `${evLat.fn_p99_ms} ms (1 ms resolution)`],
  ...chainTargets,
];
out.push(`## Targets`, ``);
out.push(`| target | measured | met |`, `|---|---:|:---:|`);
for (const [t, ok, v] of targets) out.push(`| ${t} | ${v} | ${ok ? "yes" : "**no**"} |`);
out.push(``);
console.log(out.join("\n"));
