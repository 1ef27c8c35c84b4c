// The Ethereum relayer against a real node: hardhat (tests/eth/hardhat.mjs, chain id 1337)
// and the r3e server with three networks on that node:
//   local   relayer key imported from a file (a funded hardhat account)
//   strict  relayer key created by r3e and sealed in the vault; --eth-relayer-allow-to = the
//           Emitter contract only
//   cheap   --eth-relayer-max-gas-price 1 wei (below any base fee)
// Every effect is checked on the node itself through ethers: state written by relayed
// transactions, the sender, nonces, receipts, fee bumps after a dropped transaction, and a
// restart with a transaction still pending.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { assertError, startServer, uniqueName, waitFor, metricSum } from './lib/server.mjs';

const ethDir = new URL('../eth/', import.meta.url).pathname;
if (!existsSync(`${ethDir}node_modules/hardhat`)) {
  execFileSync('npm', ['ci', '--prefix', ethDir, '--no-audit', '--no-fund'], { stdio: 'inherit', timeout: 300_000 });
}
const { startHardhat, compileContract, deployContract, ethers } = await import('../eth/hardhat.mjs');

const BASE = '/v1/relayer/eth';
let node;
let srv;
let provider;
let emitter;
let emitterAddr;
let iface;
let keyDir;
let relayerAccount;

const FINAL = new Set(['mined', 'failed', 'dropped', 'error']);

// Polls GET …/transactions/{id} until the record is final; returns it.
async function untilFinal(network, id, opts = {}) {
  return waitFor(async () => {
    const r = await srv.get(`${BASE}/${network}/transactions/${id}`, opts);
    assert.equal(r.status, 200, r.text);
    return FINAL.has(r.body.state) ? r.body : null;
  }, { timeoutMs: 60000, intervalMs: 100, what: `relayed transaction ${id} to be final` });
}

async function relay(network, body, opts) {
  return srv.post(`${BASE}/${network}/transactions`, body, opts);
}

before(async () => {
  node = await startHardhat();
  provider = node.provider();
  const art = await compileContract('Emitter');
  emitter = await deployContract(node, node.accounts[0], art, [1n]);
  emitterAddr = await emitter.getAddress();
  iface = emitter.interface;
  relayerAccount = node.accounts[1];
  keyDir = await mkdtemp(join(tmpdir(), 'r3e-relayer-key-'));
  const keyFile = join(keyDir, 'local.key');
  await writeFile(keyFile, `${relayerAccount.privateKey}\n`, { mode: 0o600 });
  srv = await startServer({
    args: [
      '--eth', `local=${node.url},1337`,
      '--eth', `strict=${node.url},1337`,
      '--eth', `cheap=${node.url},1337`,
      '--eth-relayer-key-file', `local=${keyFile}`,
      '--eth-relayer-poll-ms', 'local=100',
      '--eth-relayer-poll-ms', 'strict=100',
      '--eth-relayer-allow-to', `strict=${emitterAddr}`,
      '--eth-relayer-max-gas-price', 'cheap=1',
      '--eth-poll-ms', '100',
    ],
  });
});

after(async () => {
  await srv?.close();
  await node?.stop();
  if (keyDir) await rm(keyDir, { recursive: true, force: true });
});

describe('eth relayer', () => {
  test('GET /v1/relayer/eth/{network}: the imported key\'s address, chain id, nonce and balance', async () => {
    const r = await srv.get(`${BASE}/local`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.address, relayerAccount.address);
    assert.equal(r.body.chainId, '1337');
    assert.equal(r.body.nonce, await provider.getTransactionCount(relayerAccount.address, 'pending'));
    assert.equal(BigInt(r.body.balance), await provider.getBalance(relayerAccount.address));
    assert.equal(r.body.pending, 0);
    assert.deepEqual(r.body.policy, { maxGasPrice: null, allowTo: [], resubmitBlocks: 3 });
    // the key itself is never shown
    assert.ok(!r.text.includes(relayerAccount.privateKey.slice(2)));
  });

  test('one relayed set(uint256) is mined with status 1 and changes the contract', async () => {
    const data = iface.encodeFunctionData('set', [77n]);
    const r = await relay('local', { to: emitterAddr, data });
    assert.equal(r.status, 202, r.text);
    assert.match(r.body.id, /^[0-9A-Z]{26}$/);
    assert.equal(r.body.state, 'submitted');
    assert.equal(typeof r.body.nonce, 'number');
    assert.match(r.body.hash, /^0x[0-9a-f]{64}$/);
    const rec = await untilFinal('local', r.body.id);
    assert.equal(rec.state, 'mined', JSON.stringify(rec));
    assert.equal(rec.receipt.status, 1);
    assert.equal(rec.receipt.hash, r.body.hash);
    assert.ok(rec.receipt.blockNumber > 0);
    assert.ok(BigInt(rec.receipt.gasUsed) > 21000n);
    assert.ok(BigInt(rec.receipt.effectiveGasPrice) > 0n);
    assert.equal(rec.attempts.length, 1);
    assert.equal(await emitter.counter(), 77n);
    const tx = await provider.getTransaction(r.body.hash);
    assert.equal(tx.from, relayerAccount.address);
    assert.equal(tx.type, 2);
    assert.equal(tx.nonce, r.body.nonce);
    assert.equal(tx.to, emitterAddr);
    assert.equal(tx.data, data);
    assert.equal(tx.maxFeePerGas, BigInt(rec.maxFeePerGas));
    const rc = await provider.getTransactionReceipt(r.body.hash);
    assert.equal(rc.status, 1);
    assert.equal(rc.blockNumber, rec.receipt.blockNumber);
  });

  test('a value transfer (decimal and hex amounts) reaches the recipient', async () => {
    const to = ethers.Wallet.createRandom().address;
    const a = await relay('local', { to, value: '1000000000000000', speed: 'fast' });
    assert.equal(a.status, 202, a.text);
    const b = await relay('local', { to, value: '0x38d7ea4c68000', gasLimit: 21000, speed: 'slow' });
    assert.equal(b.status, 202, b.text);
    assert.equal((await untilFinal('local', a.body.id)).state, 'mined');
    const rb = await untilFinal('local', b.body.id);
    assert.equal(rb.state, 'mined');
    assert.equal(rb.gasLimit, '21000');
    assert.equal(rb.speed, 'slow');
    assert.equal(await provider.getBalance(to), 2n * 10n ** 15n);
  });

  test('50 concurrent relayed sends all mine, with distinct consecutive nonces', { timeout: 180_000 }, async () => {
    const before = await emitter.counter();
    const start = await provider.getTransactionCount(relayerAccount.address, 'pending');
    const posts = await Promise.all(Array.from({ length: 50 }, (_, i) =>
      relay('local', { to: emitterAddr, data: iface.encodeFunctionData('ping', [BigInt(i), `n${i}`]) })));
    for (const p of posts) assert.equal(p.status, 202, p.text);
    const recs = await Promise.all(posts.map((p) => untilFinal('local', p.body.id)));
    for (const rec of recs) {
      assert.equal(rec.state, 'mined', JSON.stringify(rec));
      assert.equal(rec.receipt.status, 1);
    }
    const nonces = recs.map((r) => r.nonce).sort((x, y) => x - y);
    assert.deepEqual(nonces, Array.from({ length: 50 }, (_, i) => start + i));
    assert.equal(new Set(recs.map((r) => r.hash)).size, 50);
    assert.equal(await emitter.counter(), before + 50n);
    assert.equal(await provider.getTransactionCount(relayerAccount.address, 'latest'), start + 50);
  });

  test('a function sends through ctx.eth.relay; the record names it and lives in its namespace', async () => {
    const name = uniqueName('relay');
    const data = iface.encodeFunctionData('set', [4242n]);
    await srv.deploy(name, `export default async function (event, ctx) {
      const rec = await ctx.eth.relay({ to: event.to, data: event.data });
      return { id: rec.id, state: rec.state, nonce: rec.nonce, from: rec.from };
    }`, { timeout_ms: 30000 });
    const inv = await srv.invoke(name, { to: emitterAddr, data });
    assert.equal(inv.status, 'ok', JSON.stringify(inv));
    const out = inv.result;
    assert.equal(out.state, 'submitted');
    assert.equal(out.from, relayerAccount.address);
    const rec = await untilFinal('local', out.id);
    assert.equal(rec.state, 'mined');
    assert.equal(rec.function, name);
    assert.equal(rec.namespace, 'default');
    assert.ok(rec.execution);
    assert.equal(await emitter.counter(), 4242n);
    // another namespace does not see it
    assertError(await srv.get(`${BASE}/local/transactions/${out.id}`, { namespace: 'other' }), 404, 'not_found');
  });

  test('ctx.eth.relay with wait: true resolves with the final record', async () => {
    const name = uniqueName('relay-wait');
    const data = iface.encodeFunctionData('set', [5151n]);
    await srv.deploy(name, `export default async function (event, ctx) {
      const rec = await ctx.eth.relay({ to: event.to, data: event.data, wait: true });
      return { state: rec.state, status: rec.receipt && rec.receipt.status, hash: rec.hash };
    }`, { timeout_ms: 30000 });
    const inv = await srv.invoke(name, { to: emitterAddr, data });
    assert.equal(inv.status, 'ok', JSON.stringify(inv));
    assert.deepEqual([inv.result.state, inv.result.status], ['mined', 1]);
    assert.equal((await provider.getTransactionReceipt(inv.result.hash)).status, 1);
    assert.equal(await emitter.counter(), 5151n);
  });

  test('ctx.eth.sendTransaction goes through the relayer; wait() resolves with the final record', async () => {
    const name = uniqueName('relay-send');
    const data = iface.encodeFunctionData('set', [6161n]);
    await srv.deploy(name, `export default async function (event, ctx) {
      const sent = await ctx.eth.sendTransaction({ to: event.to, data: event.data });
      const done = await sent.wait();
      let bad;
      try { await ctx.eth.network('local').sendTransaction({ data: '0x' }); } catch (e) { bad = e.name + ': ' + e.message; }
      return { first: sent.state, from: sent.from, state: done.state, status: done.receipt && done.receipt.status, id: done.id === sent.id, bad };
    }`, { timeout_ms: 30000 });
    const inv = await srv.invoke(name, { to: emitterAddr, data });
    assert.equal(inv.status, 'ok', JSON.stringify(inv));
    assert.equal(inv.result.from, relayerAccount.address);
    assert.deepEqual([inv.result.state, inv.result.status, inv.result.id], ['mined', 1, true]);
    assert.match(inv.result.bad, /^TypeError: .*sendTransaction: expected \{to, data/);
    assert.equal(await emitter.counter(), 6161n);
  });

  test('a function triggered by a contract log sends a transaction through the relayer: mined, status 1', async () => {
    const name = uniqueName('onlog');
    const selector = iface.getFunction('set').selector;
    await srv.deploy(name, `export default async function (e, ctx) {
      if (e && e.read) return JSON.parse((await ctx.kv.get('relayed')) || 'null');
      const n = BigInt(e.data.args.n) * 10n;
      const rec = await ctx.eth.relay({ to: e.data.address, data: '${selector}' + n.toString(16).padStart(64, '0') });
      await ctx.kv.put('relayed', JSON.stringify({ id: rec.id, state: rec.state, tx: e.data.transactionHash }));
      return rec.id;
    }`, { timeout_ms: 30000 });
    const t = await srv.post('/v1/triggers', {
      function: name,
      source: { type: 'eth', network: 'local', events: 'logs', address: emitterAddr, abi: 'event Ping(address indexed from, uint256 indexed n, string note)' },
    });
    assert.equal(t.status, 201, t.text);
    const rc = await (await emitter.ping(31n, 'relay me')).wait();
    const relayed = await waitFor(async () => (await srv.invoke(name, { read: true })).result,
      { timeoutMs: 30000, intervalMs: 100, what: 'the triggered function to relay' });
    assert.equal(relayed.tx, rc.hash);
    const rec = await untilFinal('local', relayed.id);
    assert.equal(rec.state, 'mined', JSON.stringify(rec));
    assert.equal(rec.receipt.status, 1);
    assert.equal(rec.function, name);
    assert.equal((await provider.getTransactionReceipt(rec.hash)).status, 1);
    assert.equal(await emitter.counter(), 310n);
    assert.equal((await srv.del(`/v1/triggers/${t.body.id}`)).status, 200);
  });

  test('a relay error reaches the function as a rejection with the code', async () => {
    const name = uniqueName('relay-bad');
    await srv.deploy(name, `export default async function (event, ctx) {
      try { await ctx.eth.network('strict').relay({ to: event.to, data: '0x' }); return 'sent'; }
      catch (e) { return { message: e.message, code: e.code }; }
    }`);
    const inv = await srv.invoke(name, { to: ethers.Wallet.createRandom().address });
    assert.equal(inv.result.code, 'permission_denied', JSON.stringify(inv.result));
    assert.match(inv.result.message, /allow/);
  });

  test('listing is newest first, bounded by limit, and scoped by namespace', async () => {
    const ns = 'relay-ns';
    const ids = [];
    for (let i = 0; i < 3; i++) {
      const r = await relay('local', { to: emitterAddr, data: iface.encodeFunctionData('ping', [100n + BigInt(i), 'ns']) }, { namespace: ns });
      assert.equal(r.status, 202, r.text);
      ids.push(r.body.id);
    }
    const l = await srv.get(`${BASE}/local/transactions?limit=2`, { namespace: ns });
    assert.equal(l.status, 200, l.text);
    assert.deepEqual(l.body.transactions.map((t) => t.id), [ids[2], ids[1]]);
    const all = await srv.get(`${BASE}/local/transactions?limit=100`, { namespace: ns });
    assert.equal(all.body.transactions.length, 3);
    for (const t of all.body.transactions) assert.equal(t.namespace, ns);
    const d = await srv.get(`${BASE}/local/transactions?limit=100`);
    assert.ok(!d.body.transactions.some((t) => ids.includes(t.id)));
    assertError(await srv.get(`${BASE}/local/transactions?limit=0`), 400, 'invalid_argument');
    for (const id of ids) await untilFinal('local', id, { namespace: ns });
  });

  test('policies: allow-to and max gas price answer 403 permission_denied', async () => {
    const stranger = ethers.Wallet.createRandom().address;
    const a = await relay('strict', { to: stranger, data: '0x' });
    assertError(a, 403, 'permission_denied');
    assert.match(a.body.error.message, /--eth-relayer-allow-to/);
    assert.ok(a.body.error.message.includes(stranger));
    const b = await relay('cheap', { to: emitterAddr, data: iface.encodeFunctionData('set', [1n]) });
    assertError(b, 403, 'permission_denied');
    assert.match(b.body.error.message, /max gas price/);
  });

  test('the vault-sealed key of a network without a key file: funded, it sends to the allowed contract', async () => {
    const info = await srv.get(`${BASE}/strict`);
    assert.equal(info.status, 200, info.text);
    assert.match(info.body.address, /^0x[0-9a-fA-F]{40}$/);
    assert.notEqual(info.body.address, relayerAccount.address);
    assert.deepEqual(info.body.policy.allowTo, [emitterAddr]);
    const funder = new ethers.Wallet(node.accounts[2].privateKey, provider);
    await (await funder.sendTransaction({ to: info.body.address, value: 10n ** 18n })).wait();
    const r = await relay('strict', { to: emitterAddr, data: iface.encodeFunctionData('set', [9n]) });
    assert.equal(r.status, 202, r.text);
    const rec = await untilFinal('strict', r.body.id);
    assert.equal(rec.state, 'mined');
    assert.equal((await provider.getTransaction(rec.hash)).from, info.body.address);
    assert.equal(await emitter.counter(), 9n);
    // the other network keys differ: one key per network
    const cheap = await srv.get(`${BASE}/cheap`);
    assert.notEqual(cheap.body.address, info.body.address);
  });

  test('a reverting call: gas estimation fails with the node\'s reason (502), nothing is recorded', async () => {
    const before = (await srv.get(`${BASE}/local/transactions?limit=100`)).body.transactions.length;
    const r = await relay('local', { to: emitterAddr, data: iface.encodeFunctionData('fail', ['nope']) });
    assertError(r, 502, 'upstream_error');
    assert.match(r.body.error.message, /gas estimation failed.*nope/);
    // with an explicit gas limit it is sent and mined as failed (status 0)
    const s = await relay('local', { to: emitterAddr, data: iface.encodeFunctionData('fail', ['nope']), gasLimit: '100000' });
    assert.equal(s.status, 202, s.text);
    const rec = await untilFinal('local', s.body.id);
    assert.equal(rec.state, 'failed');
    assert.equal(rec.receipt.status, 0);
    assert.equal((await srv.get(`${BASE}/local/transactions?limit=100`)).body.transactions.length, before + 1);
  });

  test('bad input: clear 400s, unknown network 404, unknown id 404', async () => {
    const url = `${BASE}/local/transactions`;
    const raw = await srv.post(url, '{"to": ', { headers: { 'content-type': 'application/json' } });
    assertError(raw, 400, 'invalid_argument');
    assertError(await srv.post(url, 'x', { headers: { 'content-type': 'text/plain' } }), 415);
    const cases = [
      [{}, /"to"/],
      [{ to: '0x1234' }, /to:/],
      [{ to: 42 }, /"to"/],
      [{ to: emitterAddr.toLowerCase(), data: '0xzz' }, /data/],
      [{ to: emitterAddr, data: 'abcd' }, /data/],
      [{ to: emitterAddr, value: (2n ** 256n).toString() }, /value/],
      [{ to: emitterAddr, value: '-1' }, /value/],
      [{ to: emitterAddr, value: -1 }, /value/],
      [{ to: emitterAddr, value: '1.5' }, /value/],
      [{ to: emitterAddr, gasLimit: 5 }, /gasLimit/],
      [{ to: emitterAddr, gasLimit: '99999999999999999999999' }, /gasLimit/],
      [{ to: emitterAddr, speed: 'warp' }, /speed/],
      [{ to: emitterAddr, from: emitterAddr }, /unknown field "from"/],
      [{ to: emitterAddr, nonce: 1 }, /unknown field "nonce"/],
    ];
    for (const [body, re] of cases) {
      const r = await relay('local', body);
      assertError(r, 400, 'invalid_argument');
      assert.match(r.body.error.message, re, JSON.stringify(body));
    }
    // a bad EIP-55 checksum is refused rather than guessed
    const bad = emitterAddr.slice(0, 2) + [...emitterAddr.slice(2)].map((c) => (/[a-f]/.test(c) ? c.toUpperCase() : /[A-F]/.test(c) ? c.toLowerCase() : c)).join('');
    if (bad !== emitterAddr && /[a-fA-F]/.test(emitterAddr.slice(2))) assertError(await relay('local', { to: bad }), 400, 'invalid_argument');
    assertError(await relay('nowhere', { to: emitterAddr }), 404, 'not_found');
    assertError(await srv.get(`${BASE}/nowhere`), 404, 'not_found');
    assertError(await srv.get(`${BASE}/local/transactions/01ARZ3NDEKTSV4RRFFQ69G5FAV`), 404, 'not_found');
    assertError(await srv.get(`${BASE}/local/transactions/..%2F..%2Fx`), 404);
  });

  test('a transaction dropped from the mempool is re-signed with +10% fees and mined', { timeout: 180_000 }, async () => {
    await node.rpc('evm_setAutomine', [false]);
    try {
      const r = await relay('local', { to: emitterAddr, data: iface.encodeFunctionData('set', [555n]) });
      assert.equal(r.status, 202, r.text);
      assert.equal(r.body.state, 'submitted');
      const first = r.body.hash;
      assert.ok(await node.rpc('hardhat_dropTransaction', [first]), 'the node had the transaction');
      // empty blocks until the relayer notices (3 blocks without a receipt) and resubmits
      const rec = await waitFor(async () => {
        const g = await srv.get(`${BASE}/local/transactions/${r.body.id}`);
        if (g.body.attempts.length >= 2) return g.body;
        await node.rpc('evm_mine', []);
        await sleep(150);
        return null;
      }, { timeoutMs: 60000, intervalMs: 50, what: 'a resubmission' });
      const [a0, a1] = rec.attempts;
      assert.equal(a0.hash, first);
      assert.notEqual(a1.hash, first);
      assert.ok(BigInt(a1.maxFeePerGas) * 10n >= BigInt(a0.maxFeePerGas) * 11n, JSON.stringify(rec.attempts));
      assert.ok(BigInt(a1.maxPriorityFeePerGas) * 10n >= BigInt(a0.maxPriorityFeePerGas) * 11n);
      assert.equal(rec.hash, a1.hash);
      await node.rpc('evm_mine', []);
      const done = await untilFinal('local', r.body.id);
      assert.equal(done.state, 'mined', JSON.stringify(done));
      assert.equal(done.receipt.hash, a1.hash);
      assert.equal(done.nonce, r.body.nonce);
      assert.equal(await emitter.counter(), 555n);
      assert.equal(await provider.getTransaction(first), null);
    } finally {
      await node.rpc('evm_setAutomine', [true]);
    }
  });

  test('/metrics: relayed transactions by state, final states, fee-bump resubmissions and the balance', async () => {
    const l = { chain: 'eth', network: 'local' };
    const m = await waitFor(async () => {
      const x = await srv.metrics();
      return metricSum(x, 'r3e_relayer_transactions', l) === 0 && metricSum(x, 'r3e_relayer_balance_wei', l) > 0 ? x : null;
    }, { timeoutMs: 40000, intervalMs: 250, what: 'no live record and a known balance' });
    assert.ok(metricSum(m, 'r3e_relayer_transactions_final_total', { ...l, state: 'mined' }) >= 50, 'the 50 concurrent sends and more');
    assert.ok(metricSum(m, 'r3e_relayer_resubmits_total', l) >= 1, 'the dropped transaction');
    assert.deepEqual(m.filter((x) => x.name === 'r3e_relayer_transactions' && x.labels.network === 'local').map((x) => x.labels.state).sort(), ['queued', 'submitted']);
    assert.deepEqual(m.filter((x) => x.name === 'r3e_relayer_transactions_final_total' && x.labels.network === 'local').map((x) => x.labels.state).sort(), ['dropped', 'error', 'failed', 'mined']);
    // the balance is the tracker's last reading (at most 30 s old), never a node call per scrape
    const bal = Number(await provider.getBalance((await srv.get(`${BASE}/local`)).body.address));
    assert.ok(Math.abs(metricSum(m, 'r3e_relayer_balance_wei', l) - bal) / bal < 0.01);
  });

  test('a restart with a transaction pending resumes tracking it; nonces and keys carry on', { timeout: 180_000 }, async () => {
    const strictAddr = (await srv.get(`${BASE}/strict`)).body.address;
    await node.rpc('evm_setAutomine', [false]);
    let r;
    try {
      r = await relay('local', { to: emitterAddr, data: iface.encodeFunctionData('set', [808n]) });
      assert.equal(r.status, 202, r.text);
      assert.equal(r.body.state, 'submitted');
      await srv.restart();
      const info = await srv.get(`${BASE}/local`);
      assert.equal(info.body.pending, 1);
      assert.equal(info.body.nonce, r.body.nonce + 1);
      await node.rpc('evm_mine', []);
    } finally {
      await node.rpc('evm_setAutomine', [true]);
    }
    const rec = await untilFinal('local', r.body.id);
    assert.equal(rec.state, 'mined');
    assert.equal(rec.receipt.hash, r.body.hash);
    assert.equal(await emitter.counter(), 808n);
    const next = await relay('local', { to: emitterAddr, data: iface.encodeFunctionData('set', [809n]) });
    assert.equal(next.status, 202, next.text);
    assert.equal(next.body.nonce, r.body.nonce + 1);
    assert.equal((await untilFinal('local', next.body.id)).state, 'mined');
    // the vault-sealed key survived the restart
    assert.equal((await srv.get(`${BASE}/strict`)).body.address, strictAddr);
  });
});
