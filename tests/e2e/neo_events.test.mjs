// Neo N3 triggers end to end (issue 6): the real r3e binary polls the Neo JSON-RPC test peer
// (tests/neo/peer.mjs) and turns blocks and NEP-17 Transfer notifications into neo.block /
// neo.notification events for functions. Each block is delivered once; a notification
// carries its decoded state (addresses, decimal amounts) and its manifest-typed params; a
// function reacting to a Transfer sends one through ctx.neo.wallet and the peer accepts it;
// stopping r3e while the chain moves on and starting it again delivers every notification
// exactly once; bad trigger specs are 400s that say what is wrong.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startServer, uniqueName, assertError, waitFor, metricSum } from './lib/server.mjs';
import { startNeoPeer } from '../neo/peer.mjs';

let peer, srv;
before(async () => {
  peer = await startNeoPeer({});
  srv = await startServer({ workers: 2, args: ['--neo', `local=${peer.url}`, '--neo-poll-ms', '100'] });
});
after(async () => {
  await srv?.close();
  await peer?.stop();
});

// Appends every event it gets to a KV list; {read:true} returns the list.
const RECORDER = `export default async function (e, ctx) {
  if (e && e.read) return JSON.parse((await ctx.kv.get('seen')) || '[]');
  const seen = JSON.parse((await ctx.kv.get('seen')) || '[]');
  seen.push({ id: e.id, type: e.type, source: e.source, data: e.data });
  await ctx.kv.put('seen', JSON.stringify(seen));
  return seen.length;
}`;
const seen = async (name) => (await srv.invoke(name, { read: true })).result;

async function trigger(fn, source) {
  const r = await srv.post('/v1/triggers', { function: fn, mode: 'sequential', source: { type: 'neo', ...source } });
  assert.equal(r.status, 201, r.text);
  return r.body;
}

test('a block trigger delivers every new block once, in order, starting after its creation', async () => {
  const name = uniqueName('blk');
  await srv.deploy(name, RECORDER);
  const t = await trigger(name, { events: 'blocks' });
  assert.equal(t.source.network, 'local');
  assert.equal(t.source.fromBlock, peer.control.height() + 1);
  const mined = [];
  for (let i = 0; i < 5; i++) mined.push(peer.control.mineBlock());
  const got = await waitFor(async () => {
    const s = await seen(name);
    return s.length >= 5 ? s : null;
  }, { timeoutMs: 20000, what: 'five block events' });
  await sleep(500); // nothing more arrives
  const all = await seen(name);
  assert.equal(all.length, 5);
  assert.deepEqual(got.map((e) => e.data.index), mined.map((b) => b.index));
  assert.deepEqual(got.map((e) => e.data.hash), mined.map((b) => b.hash));
  assert.equal(got[0].type, 'neo.block');
  assert.equal(got[0].id, `neo:local:block:${mined[0].index}`);
  assert.equal(got[0].data.txCount, 0);
  assert.equal(got[0].data.network, 'local');
  await srv.del(`/v1/triggers/${t.id}`);
});

test('a notification trigger delivers the Transfer decoded: addresses, decimal amount, typed params', async () => {
  const name = uniqueName('ntf');
  await srv.deploy(name, RECORDER);
  await trigger(name, { events: 'notifications', contract: peer.tokens.TST.toUpperCase().replace('0X', '0x'), event: 'Transfer' });
  peer.control.mineBlock();
  peer.control.emitTransfer({ from: 0, to: 1, amount: 5, token: 'GAS' }); // another contract: not delivered
  const e = peer.control.emitTransfer({ from: 1, to: 3, amount: 123456789, token: 'TST' });
  const [ev] = await waitFor(async () => {
    const s = await seen(name);
    return s.length ? s : null;
  }, { timeoutMs: 20000, what: 'the Transfer event' });
  assert.equal(ev.type, 'neo.notification');
  assert.equal(ev.id, `neo:local:${e.txid}:0`);
  const d = ev.data;
  assert.equal(d.contract, peer.tokens.TST);
  assert.equal(d.eventname, 'Transfer');
  assert.equal(d.txid, e.txid);
  assert.equal(d.blockIndex, e.blockIndex);
  assert.equal(d.blockHash, e.blockHash);
  assert.equal(d.index, 0);
  assert.deepEqual(d.transfer, { from: peer.accounts[1].address, to: peer.accounts[3].address, amount: '123456789' });
  assert.deepEqual(d.params, { from: peer.accounts[1].address, to: peer.accounts[3].address, amount: '123456789' });
  assert.equal(d.state[0].address, peer.accounts[1].address);
  assert.equal(d.state[2], '123456789');
  assert.deepEqual(d.rawState, e.log.executions[0].notifications[0].state);
  await sleep(500);
  assert.equal((await seen(name)).length, 1);
});

test('a Transfer triggers a function that sends a transfer through ctx.neo.wallet; the peer accepts it', async () => {
  const name = uniqueName('react');
  await srv.deploy(name, `export default async function (e, ctx) {
    const t = e.data.transfer;
    const w = ctx.neo.wallet('NEO_KEY');
    if (t.to !== w.address) return { skipped: true };
    const sent = await w.transfer('GAS', t.from, 1000n);  // a thank-you in GAS fractions
    await ctx.kv.put('sent', JSON.stringify(sent));
    return sent;
  }`);
  const put = await srv.put(`/v1/functions/${name}/secrets/NEO_KEY`, { value: peer.accounts[2].WIF });
  assert.ok(put.status === 200 || put.status === 201, put.text);
  await trigger(name, { events: 'notifications', contract: peer.tokens.TST });
  const before = peer.control.sent().length;
  peer.control.emitTransfer({ from: 3, to: 2, amount: 42, token: 'TST' });
  const s = await waitFor(() => peer.control.sent().length > before && peer.control.sent().at(-1), { timeoutMs: 20000, what: 'the reply transfer at the peer' });
  assert.equal(s.sender, peer.accounts[2].address);
  assert.deepEqual(s.transfers, [{ token: peer.tokens.GAS, symbol: 'GAS', from: peer.accounts[2].address, to: peer.accounts[3].address, amount: '1000' }]);
  peer.control.mineBlock();
  await waitFor(() => peer.control.sent().at(-1).vmstate === 'HALT', { timeoutMs: 5000, what: 'the reply to be mined' });
});

test('restart mid-stream: notifications emitted while r3e is down are delivered exactly once', async () => {
  const name = uniqueName('rst');
  await srv.deploy(name, RECORDER);
  await trigger(name, { events: 'notifications', contract: peer.tokens.TST, event: 'Transfer' });
  const txids = [];
  for (let i = 0; i < 3; i++) txids.push(peer.control.emitTransfer({ from: 0, to: 1, amount: 100 + i, token: 'TST' }).txid);
  await waitFor(async () => (await seen(name)).length >= 1, { timeoutMs: 20000, what: 'the first delivery' });
  await srv.stop('SIGTERM');
  for (let i = 3; i < 8; i++) {
    // several notifications in one block too
    if (i === 5) {
      const a = peer.control.buildTransfer({ from: 0, to: 1, amount: 100 + i, token: 'TST' });
      const b = peer.control.buildTransfer({ from: 1, to: 0, amount: 200 + i, token: 'TST' });
      const blk = peer.control.mineBlock([a, b]);
      txids.push(...blk.txids);
      i++;
    } else {
      txids.push(peer.control.emitTransfer({ from: 0, to: 1, amount: 100 + i, token: 'TST' }).txid);
    }
  }
  await srv.restart();
  txids.push(peer.control.emitTransfer({ from: 0, to: 1, amount: 999, token: 'TST' }).txid);
  const got = await waitFor(async () => {
    const s = await seen(name);
    return s.length >= txids.length ? s : null;
  }, { timeoutMs: 30000, what: `${txids.length} deliveries` });
  await sleep(700);
  const all = await seen(name);
  assert.equal(all.length, txids.length, JSON.stringify(all.map((e) => e.id)));
  assert.deepEqual(all.map((e) => e.data.txid), txids);
  assert.equal(new Set(all.map((e) => e.id)).size, txids.length);
  void got;
});

test('a disabled trigger keeps its cursor: enabled again, it delivers the blocks produced while it was off', async () => {
  const name = uniqueName('off');
  await srv.deploy(name, RECORDER);
  const t = await trigger(name, { events: 'blocks' });
  const mined = [peer.control.mineBlock(), peer.control.mineBlock()];
  await waitFor(async () => (await seen(name)).length >= 2, { timeoutMs: 20000, what: 'two block events' });
  const off = await srv.post(`/v1/triggers/${t.id}/disable`, {});
  assert.equal(off.status, 200, off.text);
  await sleep(500); // the poller has seen it disabled
  for (let i = 0; i < 3; i++) mined.push(peer.control.mineBlock());
  await sleep(700);
  assert.equal((await seen(name)).length, 2, 'nothing is delivered while disabled');
  const on = await srv.post(`/v1/triggers/${t.id}/enable`, {});
  assert.equal(on.status, 200, on.text);
  mined.push(peer.control.mineBlock());
  const got = await waitFor(async () => {
    const s = await seen(name);
    return s.length >= 6 ? s : null;
  }, { timeoutMs: 20000, what: 'the blocks of the pause and the new one' });
  await sleep(500);
  assert.equal((await seen(name)).length, 6);
  assert.deepEqual(got.map((e) => e.data.index), mined.map((b) => b.index));
  await srv.del(`/v1/triggers/${t.id}`);
});

test('/metrics: the Neo source\'s head, lag and events by type', async () => {
  const m = await srv.metrics();
  const l = { chain: 'neo', network: 'local' };
  await waitFor(async () => metricSum(await srv.metrics(), 'r3e_chain_head', l) === peer.control.height(),
    { timeoutMs: 10000, what: 'r3e_chain_head at the peer\'s height' });
  // counted since the restart above: the notifications delivered after it, the six blocks
  assert.ok(metricSum(m, 'r3e_chain_source_events_total', { ...l, type: 'neo.block' }) >= 6);
  assert.ok(metricSum(m, 'r3e_chain_source_events_total', { ...l, type: 'neo.notification' }) >= 1);
  assert.ok(m.some((x) => x.name === 'r3e_chain_source_lag_blocks' && x.labels.chain === 'neo' && x.labels.network === 'local'));
  // no eth series on a Neo-only server, and never a trigger id as a label value
  assert.ok(!m.some((x) => x.name === 'r3e_chain_source_reorgs_total'));
  for (const x of m.filter((x) => x.name.startsWith('r3e_chain_') || x.name.startsWith('r3e_relayer_')))
    assert.ok(!Object.values(x.labels).some((v) => /^[0-9A-Z]{26}$/.test(v)), `no trigger ids as labels: ${JSON.stringify(x)}`);
});

test('bad trigger specs are 400s that name the problem', async () => {
  const name = uniqueName('bad');
  await srv.deploy(name, RECORDER);
  const bad = async (source, re) => {
    const r = await srv.post('/v1/triggers', { function: name, source: { type: 'neo', ...source } });
    assertError(r, 400, 'invalid_argument');
    assert.match(r.body.error.message, re);
  };
  await bad({ network: 'nope', events: 'blocks' }, /no Neo N3 network named "nope"/);
  await bad({ events: 'logs' }, /events must be "blocks" or "notifications"/);
  await bad({}, /events must be/);
  await bad({ events: 'notifications' }, /contract must be .*0x/);
  await bad({ events: 'notifications', contract: '0x1234' }, /contract must be/);
  await bad({ events: 'notifications', contract: peer.tokens.TST.slice(2) }, /contract must be/);
  await bad({ events: 'notifications', contract: peer.tokens.TST, event: '' }, /event must be an event name of 1 to 32/);
  await bad({ events: 'notifications', contract: peer.tokens.TST, event: 'x'.repeat(33) }, /1 to 32/);
  await bad({ events: 'blocks', contract: peer.tokens.TST }, /apply to "notifications" only/);
  await bad({ events: 'blocks', fromBlock: -1 }, /fromBlock/);
  await bad({ events: 'blocks', filter: 1 }, /not a neo setting/);
});
