// The Neo relayer end to end (issue 6): the real r3e binary with `--neo local=<peer>` relays
// invocations to the Neo JSON-RPC test peer, which checks what a node checks (witness
// signature against the magic, system fee covering execution, network fee, sender GAS).
// A relayed transfer ends "executed" with its notifications; a transaction the network loses
// is re-signed with a new validUntilBlock once the old one passed, also across a restart of
// r3e; the key is generated once, sealed in the vault, and stays the same across restarts;
// --neo-relayer-key-file imports one; a FAULTing script is refused before anything is sent.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { startServer, uniqueName, assertError, waitFor, metricSum, BIN } from './lib/server.mjs';
import { startNeoPeer } from '../neo/peer.mjs';

let peer, srv, relayer;
const ENV = { R3E_NEO_RELAYER_WINDOW: '3', R3E_NEO_RELAYER_POLL_MS: '100' };
before(async () => {
  peer = await startNeoPeer({});
  srv = await startServer({ workers: 2, args: ['--neo', `local=${peer.url}`], env: ENV });
  const r = await srv.get('/v1/relayer/neo/local');
  assert.equal(r.status, 200, r.text);
  relayer = r.body;
  // fund the generated relayer account: GAS for fees, TST to send
  peer.control.emitTransfer({ from: 0, to: relayer.address, amount: 1000n * 10n ** 8n, token: 'GAS' });
  peer.control.emitTransfer({ from: 0, to: relayer.address, amount: 10n ** 8n, token: 'TST' });
});
after(async () => {
  await srv?.close();
  await peer?.stop();
});

const transferReq = (to, amount) => ({
  contract: peer.tokens.TST,
  method: 'transfer',
  args: [{ type: 'Hash160', value: relayer.address }, { type: 'Hash160', value: to }, { type: 'Integer', value: String(amount) }, null],
});
const get = async (id) => {
  const r = await srv.get(`/v1/relayer/neo/local/transactions/${id}`);
  assert.equal(r.status, 200, r.text);
  return r.body;
};

test('the relayer has its own key, sealed in the vault: same address after a restart', async () => {
  assert.match(relayer.address, /^N[1-9A-HJ-NP-Za-km-z]{33}$/);
  assert.match(relayer.scriptHash, /^0x[0-9a-f]{40}$/);
  assert.equal(relayer.network, 'local');
  assert.equal(relayer.pending, 0);
  await srv.restart();
  assert.equal((await srv.get('/v1/relayer/neo/local')).body.address, relayer.address);
});

test('a relayed invocation is signed by the relayer, accepted by the peer and ends executed', async () => {
  const to = peer.accounts[1].address;
  const before = BigInt(peer.control.balance('TST', 1));
  const r = await srv.post('/v1/relayer/neo/local/transactions', transferReq(to, 1234));
  assert.equal(r.status, 202, r.text);
  const rec = r.body;
  assert.equal(rec.state, 'submitted');
  assert.equal(rec.sender, relayer.address);
  assert.ok(BigInt(rec.systemFee) > 0n && BigInt(rec.networkFee) > 0n);
  assert.equal(rec.attempts.length, 1);
  assert.equal(rec.raw, undefined);
  const s = peer.control.sent().at(-1);
  assert.equal(s.hash, rec.hash);
  assert.equal(s.sender, relayer.address);
  assert.deepEqual(s.signers.map((x) => [x.address, x.scopes]), [[relayer.address, 'CalledByEntry']]);
  assert.equal(s.systemFee, rec.systemFee);
  assert.equal(s.validUntilBlock, rec.validUntilBlock);
  peer.control.mineBlock();
  const done = await waitFor(async () => {
    const g = await get(rec.id);
    return g.state !== 'submitted' ? g : null;
  }, { timeoutMs: 15000, what: 'the relayed transaction to be executed' });
  assert.equal(done.state, 'executed', JSON.stringify(done));
  assert.equal(done.vmstate, 'HALT');
  assert.equal(done.blockIndex, peer.control.height());
  assert.deepEqual(done.notifications[0].transfer, { from: relayer.address, to, amount: '1234' });
  assert.equal(BigInt(peer.control.balance('TST', 1)), before + 1234n);
  assert.equal((await srv.get('/v1/relayer/neo/local')).body.pending, 0);
});

test('a lost transaction is re-signed with a new validUntilBlock once it expired', async () => {
  const r = await srv.post('/v1/relayer/neo/local/transactions', transferReq(peer.accounts[2].address, 7));
  assert.equal(r.status, 202, r.text);
  const first = r.body;
  assert.deepEqual(peer.control.dropMempool(), [first.hash]);
  for (let i = 0; i < 4; i++) peer.control.mineBlock(); // past validUntilBlock (window 3)
  const again = await waitFor(async () => {
    const g = await get(first.id);
    return g.attempts.length >= 2 ? g : null;
  }, { timeoutMs: 15000, what: 'the resend' });
  assert.notEqual(again.hash, first.hash);
  assert.ok(again.validUntilBlock > first.validUntilBlock);
  assert.deepEqual(again.attempts.map((a) => a.hash), [first.hash, again.hash]);
  assert.deepEqual(peer.control.mempool(), [again.hash]);
  peer.control.mineBlock();
  const done = await waitFor(async () => {
    const g = await get(first.id);
    return g.state === 'executed' ? g : null;
  }, { timeoutMs: 15000, what: 'execution of the resend' });
  assert.equal(done.hash, again.hash);
});

test('restart resumes tracking: expiry while r3e is down is resent after the restart', async () => {
  const r = await srv.post('/v1/relayer/neo/local/transactions', transferReq(peer.accounts[3].address, 9));
  assert.equal(r.status, 202, r.text);
  peer.control.dropMempool();
  await srv.stop('SIGTERM');
  for (let i = 0; i < 4; i++) peer.control.mineBlock();
  await srv.restart();
  const again = await waitFor(async () => {
    const g = await get(r.body.id);
    return g.attempts.length >= 2 && g.state === 'submitted' ? g : null;
  }, { timeoutMs: 15000, what: 'the resend after restart' });
  peer.control.mineBlock();
  const done = await waitFor(async () => {
    const g = await get(r.body.id);
    return g.state === 'executed' ? g : null;
  }, { timeoutMs: 15000, what: 'execution after restart' });
  assert.equal(done.hash, again.hash);
});

test('ctx.neo.relay from a function returns the record; bad requests and FAULTs are refused', async () => {
  const name = uniqueName('relay');
  await srv.deploy(name, `export default async (ev, ctx) => {
    const rec = await ctx.neo.relay(ev.req);
    let fault;
    try { await ctx.neo.relay({ contract: ev.neo, method: 'mint', args: [1] }); } catch (e) { fault = { message: e.message, code: e.code }; }
    return { rec, fault };
  }`);
  const inv = await srv.invoke(name, { req: transferReq(peer.accounts[1].address, 5), neo: peer.tokens.NEO });
  assert.equal(inv.status, 'ok', JSON.stringify(inv));
  assert.equal(inv.result.rec.state, 'submitted');
  assert.equal(inv.result.rec.function, name);
  assert.equal(inv.result.fault.code, 'invalid_argument');
  assert.match(inv.result.fault.message, /FAULTs in a test invocation.*mint/);
  peer.control.mineBlock();
  await waitFor(async () => (await get(inv.result.rec.id)).state === 'executed', { timeoutMs: 15000, what: 'the function\'s relay' });

  const bad = async (body, status, code, re) => {
    const res = await srv.post('/v1/relayer/neo/local/transactions', body);
    assertError(res, status, code);
    assert.match(res.body.error.message, re);
  };
  await bad({ contract: peer.tokens.NEO, method: 'mint', args: [1] }, 400, 'invalid_argument', /FAULT/);
  await bad({}, 400, 'invalid_argument', /script|contract/);
  await bad({ script: 'zz' }, 400, 'invalid_argument', /hex or base64/);
  await bad({ script: '00', contract: peer.tokens.TST }, 400, 'invalid_argument', /either script or/);
  await bad({ contract: peer.tokens.TST, method: 'x', args: [{ type: 'Nope', value: 1 }] }, 400, 'invalid_argument', /ContractParam/);
  await bad({ contract: peer.tokens.TST, method: 'symbol', extra: 1 }, 400, 'invalid_argument', /unknown field "extra"/);
  const nf = await srv.post('/v1/relayer/neo/nope/transactions', { script: '00' });
  assertError(nf, 404, 'not_found');
  assertError(await srv.get('/v1/relayer/neo/local/transactions/01ARZ3NDEKTSV4RRFFQ69G5FAV'), 404, 'not_found');
});

test('listing is newest first, bounded by limit, and scoped by namespace', async () => {
  const ns = 'neo-relay-ns';
  const ids = [];
  for (let i = 0; i < 3; i++) {
    const r = await srv.post('/v1/relayer/neo/local/transactions', { contract: peer.tokens.GAS, method: 'symbol' }, { namespace: ns });
    assert.equal(r.status, 202, r.text);
    ids.push(r.body.id);
  }
  const l = await srv.get('/v1/relayer/neo/local/transactions?limit=2', { namespace: ns });
  assert.equal(l.status, 200, l.text);
  assert.deepEqual(l.body.transactions.map((t) => t.id), [ids[2], ids[1]]);
  assert.ok(l.body.transactions.every((t) => t.raw === undefined && t.ns === ns));
  const all = await srv.get('/v1/relayer/neo/local/transactions?limit=100', { namespace: ns });
  assert.deepEqual(all.body.transactions.map((t) => t.id), [...ids].reverse());
  const d = await srv.get('/v1/relayer/neo/local/transactions');
  assert.equal(d.status, 200, d.text);
  assert.ok(d.body.transactions.length >= 1 && d.body.transactions.length <= 20);
  assert.ok(!d.body.transactions.some((t) => ids.includes(t.id)));
  assertError(await srv.get('/v1/relayer/neo/local/transactions?limit=0'), 400, 'invalid_argument');
  assertError(await srv.get('/v1/relayer/neo/local/transactions?limit=101'), 400, 'invalid_argument');
  assertError(await srv.get('/v1/relayer/neo/nope/transactions'), 404, 'not_found');
  peer.control.mineBlock();
  for (const id of ids) {
    await waitFor(async () => {
      const g = await srv.get(`/v1/relayer/neo/local/transactions/${id}`, { namespace: ns });
      return g.body.state === 'executed';
    }, { timeoutMs: 15000, what: `${id} executed` });
  }
});

test('/metrics: relayed transactions by state, final states and resends', async () => {
  const l = { chain: 'neo', network: 'local' };
  const m = await waitFor(async () => {
    const x = await srv.metrics();
    return metricSum(x, 'r3e_relayer_transactions', l) === 0 ? x : null;
  }, { timeoutMs: 10000, what: 'no live relayed transaction left' });
  // counted since the restart above: the function's relay and the three listed ones at least
  assert.ok(metricSum(m, 'r3e_relayer_transactions_final_total', { ...l, state: 'executed' }) >= 4);
  assert.ok(metricSum(m, 'r3e_relayer_resubmits_total', l) >= 1, 'the resend after the restart');
  assert.deepEqual(m.filter((x) => x.name === 'r3e_relayer_transactions' && x.labels.chain === 'neo').map((x) => x.labels.state).sort(), ['queued', 'submitted']);
  assert.deepEqual(m.filter((x) => x.name === 'r3e_relayer_transactions_final_total' && x.labels.chain === 'neo').map((x) => x.labels.state).sort(), ['error', 'executed', 'faulted']);
});

test('--neo-relayer-window / --neo-relayer-poll-ms set per network; the environment still works; bad values stop start-up', async () => {
  assert.equal(relayer.validBlocks, 3, 'R3E_NEO_RELAYER_WINDOW from the environment');
  const s2 = await startServer({ workers: 1, args: ['--neo', `local=${peer.url}`, '--neo-relayer-window', 'local=7', '--neo-relayer-poll-ms', '100', '--neo-poll-ms', '50'] });
  try {
    assert.equal((await s2.get('/v1/relayer/neo/local')).body.validBlocks, 7);
  } finally {
    await s2.close();
  }
  const s3 = await startServer({ workers: 1, args: ['--neo', `local=${peer.url}`, '--neo-relayer-window', '9'] });
  try {
    assert.equal((await s3.get('/v1/relayer/neo/local')).body.validBlocks, 9, 'no NAME: every network');
  } finally {
    await s3.close();
  }
  await assert.rejects(startServer({ workers: 1, args: ['--neo', `local=${peer.url}`, '--neo-relayer-window', 'nope=3'] }),
    /--neo-relayer-window names network .*nope.*, which is not configured with --neo/);
  // settings errors stop the server before it opens anything, with the flag (or variable) named
  const refused = (args, env = {}) => {
    const r = spawnSync(BIN, ['server', '--data', join(tmpdir(), 'r3e-never-created'), '--neo', `local=${peer.url}`, ...args],
      { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 20000 });
    assert.notEqual(r.status, 0);
    return r.stderr;
  };
  for (const [args, re] of [
    [['--neo-relayer-window', '0'], /--neo-relayer-window must be an integer in 1\.\.5760/],
    [['--neo-relayer-poll-ms', 'local=5'], /--neo-relayer-poll-ms must be an integer in 10\.\.60000/],
    [['--neo-relayer-window', '=3'], /--neo-relayer-window wants \[NAME=\]N/],
    [['--neo-poll-ms', 'fast'], /--neo-poll-ms must be an integer/],
  ]) {
    assert.match(refused(args), re);
  }
  assert.match(refused([], { R3E_NEO_RELAYER_POLL_MS: 'x' }), /R3E_NEO_RELAYER_POLL_MS: --neo-relayer-poll-ms must be an integer/);
});

test('--neo-relayer-key-file imports the relayer key (WIF)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'r3e-neokey-'));
  const file = join(dir, 'local.wif');
  await writeFile(file, peer.accounts[3].WIF + '\n', { mode: 0o600 });
  const s2 = await startServer({ workers: 1, args: ['--neo', `local=${peer.url}`, '--neo-relayer-key-file', `local=${file}`], env: ENV });
  try {
    const info = (await s2.get('/v1/relayer/neo/local')).body;
    assert.equal(info.address, peer.accounts[3].address);
    const r = await s2.post('/v1/relayer/neo/local/transactions', { contract: peer.tokens.GAS, method: 'symbol' });
    assert.equal(r.status, 202, r.text);
    assert.equal(peer.control.sent().at(-1).sender, peer.accounts[3].address);
  } finally {
    await s2.close();
    await rm(dir, { recursive: true, force: true });
  }
});
