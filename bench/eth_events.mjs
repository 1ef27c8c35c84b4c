// Ethereum trigger benchmark for bench/run.sh (issue 5): mined block -> function start
// latency. Starts a hardhat node (tests/eth/hardhat.mjs) and an r3e server (R3E_BIN) with
// --eth local=<node>, deploys a function that returns {n: block number, t: Date.now()} and a
// block trigger, then mines N blocks with evm_mine at a steady interval. latency = the
// function's Date.now() at its start - the miner's Date.now() when evm_mine returned (the
// block exists; hardhat has sent newHeads by then). Same machine, same clock.
// Runs twice: with the newHeads WebSocket subscription (default) and with --eth-ws off
// (polling eth_blockNumber every POLL_MS). Prints one JSON line.
//
//   R3E_BIN=build/r3e node bench/eth_events.mjs [N=200] [INTERVAL_MS=100] [POLL_MS=100]
import { existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';

const [n = 200, interval = 100, pollMs = 100] = process.argv.slice(2).map(Number);
const ethDir = new URL('../tests/eth/', import.meta.url).pathname;
if (!existsSync(`${ethDir}node_modules/hardhat`)) {
  execFileSync('npm', ['ci', '--prefix', ethDir, '--no-audit', '--no-fund'], { stdio: 'inherit', timeout: 300_000 });
}
const { startHardhat } = await import('../tests/eth/hardhat.mjs');
const { startServer, waitFor } = await import('../tests/e2e/lib/server.mjs');

const quant = (xs, q) => xs[Math.min(xs.length - 1, Math.floor(q * xs.length))];

async function run(node, mode, count) {
  const args = ['--eth', `local=${node.url}`, '--eth-poll-ms', String(pollMs)];
  if (mode === 'poll') args.push('--eth-ws', 'off');
  const srv = await startServer({ workers: 2, args });
  try {
    const name = `ethlat-${mode}`;
    await srv.deploy(name, 'export default async function (e) { return { n: e.data.number, t: Date.now() }; }');
    const t = await srv.post('/v1/triggers', { function: name, source: { type: 'eth', events: 'blocks' } });
    if (t.status !== 201) throw new Error(`trigger: ${t.status} ${t.text}`);
    await sleep(500); // the follower is up and subscribed
    const mined = new Map();
    const warmup = 5;
    for (let i = 0; i < count + warmup; i++) {
      const t0 = Date.now();
      await node.rpc('evm_mine');
      const at = Date.now();
      const num = Number(await node.rpc('eth_blockNumber'));
      if (i >= warmup) mined.set(num, at);
      const left = interval - (Date.now() - t0);
      if (left > 0) await sleep(left);
    }
    const results = await waitFor(async () => {
      const out = [];
      let before = '';
      for (let page = 0; page < 20; page++) {
        const r = await srv.get(`/v1/functions/${name}/executions?limit=1000${before ? `&before=${before}` : ''}`);
        for (const x of r.body?.executions ?? []) if (x.status === 'ok' && x.result) out.push(x.result);
        before = r.body?.next ?? '';
        if (!before) break;
      }
      const hit = out.filter((x) => mined.has(x.n));
      return hit.length >= mined.size ? hit : null;
    }, { timeoutMs: 60000, intervalMs: 500, what: `${mined.size} executions` });
    const lat = results.map((x) => x.t - mined.get(x.n)).sort((a, b) => a - b);
    return {
      mode, blocks: lat.length, interval_ms: interval,
      p50_ms: quant(lat, 0.5), p90_ms: quant(lat, 0.9), p99_ms: quant(lat, 0.99), max_ms: lat.at(-1),
    };
  } finally {
    await srv.close();
  }
}

const node = await startHardhat();
try {
  const ws = await run(node, 'ws', n);
  const poll = await run(node, 'poll', Math.min(n, 100));
  console.log(JSON.stringify({ ws, poll, poll_ms: pollMs }));
} finally {
  await node.stop();
}
