// Ethereum triggers end to end (issue 5): the real r3e binary follows a real hardhat node
// (tests/eth/hardhat.mjs) and turns blocks and contract logs into eth.block / eth.log events
// for functions. Each mined block is delivered once (over the newHeads WebSocket
// subscription, and by polling with --eth-ws off); confirmations hold blocks back; a log
// trigger with an abi delivers decoded args; a reorg made with evm_snapshot/evm_revert
// re-delivers the abandoned logs with removed:true before the new chain's; stopping r3e
// mid-stream while the contract keeps emitting delivers every log exactly once after the
// restart; bad trigger specs are 400s that say what is wrong.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { startServer, uniqueName, assertError, waitFor, metricSum } from './lib/server.mjs';

// scripts/test.sh runs `npm ci` in tests/eth; a bare ctest run may not have.
const ethDir = new URL('../eth/', import.meta.url).pathname;
if (!existsSync(`${ethDir}node_modules/hardhat`)) {
  execFileSync('npm', ['ci', '--prefix', ethDir, '--no-audit', '--no-fund'], { stdio: 'inherit', timeout: 300_000 });
}
const { startHardhat, compileContract, deployContract } = await import('../eth/hardhat.mjs');

const PING = 'event Ping(address indexed from, uint256 indexed n, string note)';
let node, srv, emitter, emitterAddr;

before(async () => {
  node = await startHardhat();
  emitter = await deployContract(node, node.accounts[0], await compileContract('Emitter'), [0n]);
  emitterAddr = await emitter.getAddress();
  srv = await startServer({ workers: 2, args: ['--eth', `local=${node.url}`, '--eth-poll-ms', '100'] });
});
after(async () => {
  await srv?.close();
  await node?.stop();
});

// Appends every event it gets to a KV list; {read:true} returns the list.
const RECORDER = `export default async function (e, ctx) {
  if (e && e.read) return JSON.parse((await ctx.kv.get('seen')) || '[]');
  const seen = JSON.parse((await ctx.kv.get('seen')) || '[]');
  seen.push({ id: e.id, type: e.type, source: e.source, subject: e.subject, data: e.data });
  await ctx.kv.put('seen', JSON.stringify(seen));
  return seen.length;
}`;
const seenOn = async (s, name) => (await s.invoke(name, { read: true })).result;
const seen = (name) => seenOn(srv, name);

async function trigger(s, fn, source) {
  const r = await s.post('/v1/triggers', { function: fn, mode: 'sequential', source: { type: 'eth', ...source } });
  assert.equal(r.status, 201, r.text);
  return r.body;
}

async function mine(n) {
  const hashes = [];
  for (let i = 0; i < n; i++) {
    await node.rpc('evm_mine');
    hashes.push((await node.rpc('eth_getBlockByNumber', ['latest', false])).hash);
  }
  return hashes;
}

async function waitCount(s, name, n, what) {
  return waitFor(async () => {
    const got = await seenOn(s, name);
    return got.length >= n ? got : null;
  }, { timeoutMs: 30000, intervalMs: 100, what: what ?? `${n} deliveries` });
}

async function ping(n, note) {
  const tx = await emitter.ping(BigInt(n), note);
  return tx.wait();
}

test('a block trigger delivers every mined block once, in order, starting after its creation', async () => {
  const name = uniqueName('blk');
  await srv.deploy(name, RECORDER);
  const head = Number(await node.rpc('eth_blockNumber'));
  const t = await trigger(srv, name, { events: 'blocks' });
  assert.equal(t.source.network, 'local');
  assert.equal(t.source.fromBlock, head + 1);
  const hashes = await mine(5);
  const got = await waitCount(srv, name, 5, 'five block events');
  await sleep(500); // nothing more arrives
  const all = await seen(name);
  assert.equal(all.length, 5);
  assert.deepEqual(got.map((e) => e.data.hash), hashes);
  assert.deepEqual(got.map((e) => e.data.number), [1, 2, 3, 4, 5].map((i) => head + i));
  const b = got[0];
  assert.equal(b.type, 'eth.block');
  assert.equal(b.source, 'eth://local');
  assert.equal(b.subject, String(head + 1));
  assert.equal(b.id, `${t.id}:${hashes[0]}`);
  assert.equal(b.data.txCount, 0);
  assert.equal(b.data.removed, false);
  assert.match(b.data.parentHash, /^0x[0-9a-f]{64}$/);
  assert.match(b.data.baseFeePerGas, /^\d+$/);
  assert.equal(b.data.gasUsed, '0');
  assert.equal(typeof b.data.timestamp, 'number');
  for (let i = 1; i < 5; i++) assert.equal(got[i].data.parentHash, got[i - 1].data.hash);
  assert.equal((await srv.del(`/v1/triggers/${t.id}`)).status, 200);
});

test('confirmations: a block is delivered only once N blocks are on top of it', async () => {
  const name = uniqueName('conf');
  await srv.deploy(name, RECORDER);
  await trigger(srv, name, { events: 'blocks', confirmations: 2 });
  const [h1] = await mine(2);
  await sleep(600);
  assert.equal((await seen(name)).length, 0, 'held back with fewer than 2 confirmations');
  await mine(1);
  const got = await waitCount(srv, name, 1);
  assert.equal(got[0].data.hash, h1);
  await sleep(400);
  assert.equal((await seen(name)).length, 1);
});

test('a log trigger with an abi delivers decoded args (other events of the contract are not delivered)', async () => {
  const name = uniqueName('log');
  await srv.deploy(name, RECORDER);
  const t = await trigger(srv, name, { events: 'logs', address: emitterAddr.toLowerCase(), abi: PING });
  assert.equal(t.source.address, emitterAddr.toLowerCase());
  assert.equal(t.source.topics.length, 1, 'topics[0] comes from the abi');
  await (await emitter.set(5n)).wait(); // a Set event: a different topic0
  const rc = await ping(7, 'hello');
  const [ev] = await waitCount(srv, name, 1, 'the Ping event');
  assert.equal(ev.type, 'eth.log');
  assert.equal(ev.source, 'eth://local');
  assert.equal(ev.subject, emitterAddr);
  const d = ev.data;
  assert.equal(d.address, emitterAddr);
  assert.equal(d.event, 'Ping');
  assert.equal(d.signature, 'Ping(address,uint256,string)');
  assert.deepEqual(d.args, { from: node.accounts[0].address, n: '7', note: 'hello' });
  assert.equal(d.removed, false);
  assert.equal(d.transactionHash, rc.hash);
  assert.equal(d.blockHash, rc.blockHash);
  assert.equal(d.blockNumber, rc.blockNumber);
  assert.equal(d.logIndex, rc.logs[0].index);
  assert.equal(d.topics.length, 3);
  assert.equal(ev.id, `${t.id}:${rc.blockHash}:${rc.logs[0].index}`);
  // the execution record of that delivery links the trigger and the event
  const ex = await waitFor(async () => {
    const r = await srv.get(`/v1/functions/${name}/executions`);
    return r.body?.executions?.find((x) => x.trigger_id === t.id && x.status === 'ok');
  }, { what: 'the ok execution record of the delivery' });
  assert.ok(ex.event_id);
  await sleep(400);
  assert.equal((await seen(name)).length, 1);
});

test('a reorg (evm_snapshot / evm_revert) re-delivers the abandoned logs with removed:true, then the new chain', async () => {
  const name = uniqueName('reorg');
  await srv.deploy(name, RECORDER);
  const t = await trigger(srv, name, { events: 'logs', address: emitterAddr, abi: PING });
  const snap = await node.rpc('evm_snapshot');
  const old = [await ping(101, 'a'), await ping(102, 'b')];
  await waitCount(srv, name, 2, 'the two logs of the old chain');
  assert.equal(await node.rpc('evm_revert', [snap]), true);
  const fresh = [await ping(201, 'c'), await ping(202, 'd'), await ping(203, 'e')];
  const got = await waitCount(srv, name, 7, 'removed + new deliveries');
  await sleep(500);
  const all = await seen(name);
  assert.equal(all.length, 7, JSON.stringify(all.map((e) => e.id)));
  assert.deepEqual(all.map((e) => [e.data.args.note, e.data.removed]),
    [['a', false], ['b', false], ['b', true], ['a', true], ['c', false], ['d', false], ['e', false]]);
  assert.equal(got[2].data.blockHash, old[1].blockHash);
  assert.equal(got[3].data.blockHash, old[0].blockHash);
  assert.equal(got[2].id, `${t.id}:${old[1].blockHash}:${old[1].logs[0].index}:removed:e1`);
  assert.deepEqual(got.slice(4).map((e) => e.data.blockHash), fresh.map((r) => r.blockHash));
  assert.ok(got[4].id.endsWith(':e1'), got[4].id);
});

test('/metrics: the eth source\'s head, lag, events by type and reorgs', async () => {
  const l = { chain: 'eth', network: 'local' };
  const head = Number(await node.rpc('eth_blockNumber'));
  const m = await waitFor(async () => {
    const x = await srv.metrics();
    return metricSum(x, 'r3e_chain_head', l) === head ? x : null;
  }, { timeoutMs: 10000, what: 'r3e_chain_head at the node\'s head' });
  assert.ok(metricSum(m, 'r3e_chain_source_events_total', { ...l, type: 'eth.block' }) >= 5);
  assert.ok(metricSum(m, 'r3e_chain_source_events_total', { ...l, type: 'eth.log' }) >= 7, 'logs, the removed ones included');
  assert.ok(metricSum(m, 'r3e_chain_source_reorgs_total', l) >= 1, 'the reorg above');
  assert.ok(m.some((x) => x.name === 'r3e_chain_source_lag_blocks' && x.labels.network === 'local'));
  for (const x of m.filter((x) => x.name.startsWith('r3e_chain_')))
    assert.ok(!Object.values(x.labels).some((v) => /^[0-9A-Z]{26}$/.test(v)), `no trigger ids as labels: ${JSON.stringify(x)}`);
});

test('a disabled trigger keeps its cursor: enabled again, it delivers the blocks mined while it was off', async () => {
  const name = uniqueName('off');
  await srv.deploy(name, RECORDER);
  const t = await trigger(srv, name, { events: 'blocks' });
  const hashes = await mine(2);
  await waitCount(srv, name, 2, 'two blocks');
  const off = await srv.post(`/v1/triggers/${t.id}/disable`, {});
  assert.equal(off.status, 200, off.text);
  await sleep(600); // the source has mirrored the change
  hashes.push(...await mine(3));
  await sleep(700);
  assert.equal((await seen(name)).length, 2, 'nothing is delivered while disabled');
  const on = await srv.post(`/v1/triggers/${t.id}/enable`, {});
  assert.equal(on.status, 200, on.text);
  hashes.push(...await mine(1));
  const got = await waitCount(srv, name, 6, 'the blocks of the pause and the new one');
  await sleep(500);
  assert.equal((await seen(name)).length, 6);
  assert.deepEqual(got.map((e) => e.data.hash), hashes);
  await srv.del(`/v1/triggers/${t.id}`);
});

test('restart mid-stream: every log is delivered exactly once', async () => {
  const name = uniqueName('rst');
  await srv.deploy(name, RECORDER);
  await trigger(srv, name, { events: 'logs', address: emitterAddr, abi: PING });
  const TOTAL = 20;
  const sent = [];
  let stopped = false;
  const emitting = (async () => {
    for (let i = 1; i <= TOTAL; i++) {
      sent.push(await ping(1000 + i, `r${i}`));
      await sleep(i > 12 ? 0 : 60);
    }
  })();
  await waitCount(srv, name, 3, 'the first deliveries');
  const res = await srv.stop('SIGTERM'); // mid-stream: the emitter keeps going
  stopped = true;
  assert.equal(res.code, 0);
  await sleep(800);
  await srv.restart();
  await emitting;
  const got = await waitCount(srv, name, TOTAL, `${TOTAL} deliveries`);
  await sleep(800);
  const all = await seen(name);
  assert.ok(stopped);
  assert.equal(all.length, TOTAL, JSON.stringify(all.map((e) => e.data.args.n)));
  assert.deepEqual(all.map((e) => e.data.args.n), sent.map((_, i) => String(1000 + i + 1)));
  assert.equal(new Set(all.map((e) => e.id)).size, TOTAL);
  void got;
});

test('polling (--eth-ws off) delivers the same blocks', async () => {
  const s2 = await startServer({ workers: 1, args: ['--eth', `local=${node.url}`, '--eth-ws', 'off', '--eth-poll-ms', '100'] });
  try {
    const name = uniqueName('poll');
    await s2.deploy(name, RECORDER);
    await trigger(s2, name, { events: 'blocks' });
    const hashes = await mine(3);
    const got = await waitCount(s2, name, 3);
    assert.deepEqual(got.map((e) => e.data.hash), hashes);
  } finally {
    await s2.close();
  }
});

test('bad trigger specs are 400s that name the problem', async () => {
  const name = uniqueName('bad');
  await srv.deploy(name, RECORDER);
  const bad = async (source, re) => {
    const r = await srv.post('/v1/triggers', { function: name, source: { type: 'eth', ...source } });
    assertError(r, 400, 'invalid_argument');
    assert.match(r.body.error.message, re);
  };
  await bad({ network: 'nope', events: 'blocks' }, /network "nope" is not configured \(configured: "local"\)/);
  await bad({ events: 'transactions' }, /events must be "blocks" or "logs"/);
  await bad({}, /events must be/);
  await bad({ events: 'logs' }, /needs source.address, source.topics or source.abi/);
  await bad({ events: 'logs', address: '0x1234' }, /source.address/);
  const i = [...emitterAddr].findIndex((c, k) => k > 1 && /[a-fA-F]/.test(c));
  const badSum = emitterAddr.slice(0, i) + (emitterAddr[i] === emitterAddr[i].toLowerCase() ? emitterAddr[i].toUpperCase() : emitterAddr[i].toLowerCase()) + emitterAddr.slice(i + 1);
  await bad({ events: 'logs', address: badSum }, /source.address: .*checksum/i);
  await bad({ events: 'logs', address: [] }, /source.address/);
  await bad({ events: 'logs', topics: [null, null, null, null, null] }, /at most 4/);
  await bad({ events: 'logs', topics: ['0x12'] }, /topics\[0\] must be a 32-byte hex/);
  await bad({ events: 'logs', topics: [null, []] }, /topics\[1\]: an array of alternatives/);
  await bad({ events: 'logs', address: emitterAddr, abi: 'event Broken(uint257 x)' }, /source.abi/);
  await bad({ events: 'logs', address: emitterAddr, abi: 'function f(uint256)' }, /one event fragment/);
  await bad({ events: 'logs', address: emitterAddr, abi: 42 }, /source.abi must be a string/);
  await bad({ events: 'logs', abi: PING, topics: [`0x${'00'.repeat(32)}`] }, /topics\[0\] is not the topic of the abi event Ping/);
  await bad({ events: 'blocks', confirmations: 129 }, /confirmations must be an integer 0..128/);
  await bad({ events: 'blocks', confirmations: -1 }, /confirmations/);
  await bad({ events: 'blocks', address: emitterAddr }, /apply to "events":"logs" only/);
  await bad({ events: 'blocks', fromBlock: 'latest' }, /fromBlock/);
  await bad({ events: 'blocks', contract: emitterAddr }, /source.contract is not an eth source field/);
});
