// ctx.neo end to end (issue 6): the real r3e binary with `--neo local=<peer>` against the Neo
// JSON-RPC test peer (tests/neo/peer.mjs, neon-js based; it stands in for a node, see
// docs/testing-neo-peer.md). Reads, test invocations with decoded stacks, contract proxies,
// wallet(secret).transfer accepted by the peer (checked on the peer's side: deserialized
// transaction, signer, amount, signature against the magic), node errors with Neo's codes,
// a wrong network name and a missing secret. The peer's own validation is tested directly.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, uniqueName } from './lib/server.mjs';
import { startNeoPeer, Neon } from '../neo/peer.mjs';

const { tx, sc, wallet, u } = Neon;

async function rpc(url, method, params = []) {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 7, method, params }) });
  assert.equal(r.status, 200);
  return r.json();
}
const b64 = (hex) => Buffer.from(hex, 'hex').toString('base64');

describe('Neo test peer (validation a node would do)', () => {
  let peer;
  before(async () => { peer = await startNeoPeer({}); });
  after(async () => { await peer?.stop(); });

  test('getversion carries the magic; JSON-RPC error shapes; batch', async () => {
    const v = await rpc(peer.url, 'getversion');
    assert.equal(v.result.protocol.network, peer.magic);
    assert.equal(v.result.protocol.addressversion, 53);
    assert.deepEqual((await rpc(peer.url, 'nosuchmethod')).error.code, -32601);
    assert.equal((await rpc(peer.url, 'getblock', ['zz'])).error.code, -32602);
    assert.equal((await rpc(peer.url, 'getblock', [999999, true])).error.code, -101);
    assert.equal((await rpc(peer.url, 'getapplicationlog', ['0x' + '00'.repeat(32)])).error.code, -103);
    const r = await fetch(peer.url, { method: 'POST', body: JSON.stringify([{ jsonrpc: '2.0', id: 1, method: 'getblockcount' }, { jsonrpc: '2.0', id: 2, method: 'nope' }]) });
    const arr = await r.json();
    assert.equal(arr[0].result, peer.control.height() + 1);
    assert.equal(arr[1].error.code, -32601);
    assert.equal((await (await fetch(peer.url, { method: 'POST', body: '{' })).json()).error.code, -32700);
  });

  test('blocks link by hash; the raw block hashes to its verbose hash; app logs are typed', async () => {
    const e = peer.control.emitTransfer({ from: 0, to: 2, amount: 777, token: 'TST' });
    const b = (await rpc(peer.url, 'getblock', [e.blockIndex, 1])).result;
    const prev = (await rpc(peer.url, 'getblock', [e.blockIndex - 1, 1])).result;
    assert.equal(b.previousblockhash, prev.hash);
    assert.equal(b.hash, e.blockHash);
    assert.equal(b.tx[0].hash, e.txid);
    const raw = Buffer.from((await rpc(peer.url, 'getblock', [e.blockHash, 0])).result, 'base64').toString('hex');
    assert.equal('0x' + u.reverseHex(u.hash256(raw.slice(0, 2 * (4 + 32 + 32 + 8 + 8 + 4 + 1 + 20)))), b.hash);
    // the transaction inside is the real, signed transaction
    const t = tx.Transaction.deserialize(Buffer.from((await rpc(peer.url, 'getrawtransaction', [e.txid, 0])).result, 'base64').toString('hex'));
    assert.equal('0x' + t.hash(), e.txid);
    assert.ok(wallet.verify(t.getMessageForSigning(peer.magic), wallet.getSignaturesFromInvocationScript(t.witnesses[0].invocationScript.toBigEndian())[0], peer.accounts[0].publicKey));
    const log = (await rpc(peer.url, 'getapplicationlog', [e.txid])).result;
    const n = log.executions[0].notifications[0];
    assert.equal(n.contract, peer.tokens.TST);
    assert.equal(n.eventname, 'Transfer');
    assert.deepEqual(n.state.value.map((x) => x.type), ['ByteString', 'ByteString', 'Integer']);
    assert.equal(u.reverseHex(Buffer.from(n.state.value[1].value, 'base64').toString('hex')), peer.accounts[2].scriptHash.slice(2));
    assert.equal(n.state.value[2].value, '777');
  });

  test('sendrawtransaction: bad signature, wrong magic, expired, duplicate, fees, funds', async () => {
    const send = async (t) => (await rpc(peer.url, 'sendrawtransaction', [b64(t.serialize(true))]));
    // a tampered signature
    let t = peer.control.buildTransfer({ from: 0, to: 1, amount: 5 });
    const sig = wallet.getSignaturesFromInvocationScript(t.witnesses[0].invocationScript.toBigEndian())[0];
    const bad = (sig.slice(0, 10) + (sig[10] === '0' ? '1' : '0') + sig.slice(11));
    t.witnesses[0].invocationScript = u.HexString.fromHex('0c40' + bad);
    let r = await send(t);
    assert.equal(r.error.code, -508, JSON.stringify(r));
    assert.match(r.error.message, /^Invalid signature/);
    // signed for another network
    t = peer.control.buildTransfer({ from: 0, to: 1, amount: 5 });
    t.witnesses = [];
    t.sign(new wallet.Account(peer.accounts[0].WIF), peer.magic + 1);
    assert.equal((await send(t)).error.code, -508);
    // a witness of another key
    t = peer.control.buildTransfer({ from: 0, to: 1, amount: 5 });
    t.witnesses = [];
    t.sign(new wallet.Account(peer.accounts[1].WIF), peer.magic);
    assert.equal((await send(t)).error.code, -508);
    // expired / too far
    const resign = (mut) => {
      const x = peer.control.buildTransfer({ from: 0, to: 1, amount: 5 });
      mut(x);
      x.witnesses = [];
      x.sign(new wallet.Account(peer.accounts[0].WIF), peer.magic);
      return x;
    };
    assert.equal((await send(resign((x) => { x.validUntilBlock = peer.control.height(); }))).error.code, -510);
    assert.equal((await send(resign((x) => { x.validUntilBlock = peer.control.height() + 6000; }))).error.code, -510);
    // fees
    assert.equal((await send(resign((x) => { x.systemFee = u.BigInteger.fromNumber(0); }))).error.code, -505);
    assert.equal((await send(resign((x) => { x.networkFee = u.BigInteger.fromNumber(1000); }))).error.code, -504);
    // a sender without GAS
    const poor = new wallet.Account(u.sha256('6e656f6a732d706f6f72'));
    const p = new tx.Transaction({
      signers: [{ account: poor.scriptHash, scopes: tx.WitnessScope.CalledByEntry }],
      validUntilBlock: peer.control.height() + 10,
      script: sc.createScript({ scriptHash: peer.tokens.GAS.slice(2), operation: 'symbol', args: [] }),
      systemFee: 1000000,
      networkFee: 2000000,
    }).sign(poor, peer.magic);
    assert.equal((await send(p)).error.code, -511);
    // garbage and trailing bytes
    assert.equal((await rpc(peer.url, 'sendrawtransaction', ['AAEC'])).error.code, -32602);
    const good = peer.control.buildTransfer({ from: 0, to: 1, amount: 5 });
    assert.equal((await rpc(peer.url, 'sendrawtransaction', [b64(good.serialize(true) + '00')])).error.code, -32602);
    // the good one is accepted once, then AlreadyInPool, then AlreadyExists once mined
    r = await send(good);
    assert.equal(r.result.hash, '0x' + good.hash());
    assert.equal((await send(good)).error.code, -503);
    peer.control.mineBlock();
    assert.equal((await send(good)).error.code, -501);
    const s = peer.control.sent().find((x) => x.hash === r.result.hash);
    assert.equal(s.vmstate, 'HALT');
    assert.deepEqual(s.transfers, [{ token: peer.tokens.GAS, symbol: 'GAS', from: peer.accounts[0].address, to: peer.accounts[1].address, amount: '5' }]);
  });

  test('a neon-js client (NetworkFacade) transfers through it like through a node', async () => {
    const acct = new wallet.Account(peer.accounts[1].WIF);
    const facade = await Neon.api.NetworkFacade.fromConfig({ node: peer.url });
    const hash = await facade.transferToken(
      [{ from: acct, to: peer.accounts[3].address, decimalAmt: 2.5, contractHash: peer.tokens.GAS.slice(2) }],
      { signingCallback: Neon.api.signWithAccount(acct) });
    const s = peer.control.sent().find((x) => x.hash === hash);
    assert.ok(s, 'accepted');
    assert.equal(s.transfers[0].amount, '250000000');
    peer.control.mineBlock();
    assert.equal(peer.control.sent().find((x) => x.hash === hash).vmstate, 'HALT');
  });

  test('invokefunction: typed stack, FAULT for unknown methods and contracts', async () => {
    let r = (await rpc(peer.url, 'invokefunction', [peer.tokens.NEO, 'balanceOf', [{ type: 'Hash160', value: peer.accounts[3].scriptHash }]])).result;
    assert.equal(r.state, 'HALT');
    assert.deepEqual(r.stack, [{ type: 'Integer', value: peer.control.balance('NEO', 3) }]);
    r = (await rpc(peer.url, 'invokefunction', [peer.tokens.GAS, 'mint', []])).result;
    assert.equal(r.state, 'FAULT');
    assert.match(r.exception, /mint/);
    r = (await rpc(peer.url, 'invokefunction', ['0x' + '12'.repeat(20), 'symbol', []])).result;
    assert.equal(r.state, 'FAULT');
    assert.equal((await rpc(peer.url, 'calculatenetworkfee', ['!!'])).error.code, -32602);
  });
});

describe('ctx.neo against the test peer', () => {
  let peer;
  let srv;
  before(async () => {
    peer = await startNeoPeer({ autoMine: true });
    srv = await startServer({ workers: 2, args: ['--neo', `local=${peer.url}`] });
  });
  after(async () => {
    await srv?.close();
    await peer?.stop();
  });

  async function run(src, { secrets = {}, event = {} } = {}) {
    const name = uniqueName('neo');
    await srv.deploy(name, src);
    for (const [k, v] of Object.entries(secrets)) {
      const r = await srv.put(`/v1/functions/${name}/secrets/${k}`, { value: v });
      assert.equal(r.status, 201, r.text);
    }
    return srv.invoke(name, event);
  }

  test('network, block count, blocks and decoded application logs', async () => {
    const e = peer.control.emitTransfer({ from: 1, to: 3, amount: 4242, token: 'GAS' });
    const r = await run(`export default async (ev, ctx) => {
      const info = await ctx.neo.info();
      const count = await ctx.neo.getBlockCount();
      const block = await ctx.neo.getBlock(ev.index);
      const raw = await ctx.neo.getBlock(ev.index, false);
      const log = await ctx.neo.getApplicationLog(ev.txid);
      const bal = await ctx.neo.getNep17Balances(ev.addr);
      return { info, count, hash: block.hash, txs: block.tx.map((t) => t.hash), rawType: typeof raw,
        x: log.executions[0], bal };
    }`, { event: { index: e.blockIndex, txid: e.txid, addr: peer.accounts[3].address } });
    assert.equal(r.status, 'ok', JSON.stringify(r));
    const v = r.result;
    assert.deepEqual(v.info, { name: 'local', magic: String(peer.magic) });
    assert.equal(v.count, peer.control.height() + 1);
    assert.equal(v.hash, e.blockHash);
    assert.deepEqual(v.txs, [e.txid]);
    assert.equal(v.rawType, 'string');
    assert.equal(v.x.vmstate, 'HALT');
    assert.deepEqual(v.x.stack, [true]);
    const n = v.x.notifications[0];
    assert.equal(n.eventname, 'Transfer');
    assert.deepEqual(n.transfer, { from: peer.accounts[1].address, to: peer.accounts[3].address, amount: '4242' });
    assert.equal(n.state[0].address, peer.accounts[1].address);
    assert.equal(n.state[2], '4242');
    assert.equal(v.x.raw.notifications[0].state.type, 'Array');
    const gas = v.bal.balance.find((b) => b.assethash === peer.tokens.GAS);
    assert.equal(gas.amount, peer.control.balance('GAS', 3));
  });

  test('invokeFunction and contract(hash) read calls decode the stack', async () => {
    const r = await run(`export default async (ev, ctx) => {
      const sym = await ctx.neo.invokeFunction('GAS', 'symbol');
      const bal = await ctx.neo.invokeFunction(ev.tst, 'balanceOf', [ev.addr]);
      const tst = ctx.neo.contract(ev.tst);
      const fault = await ctx.neo.invokeFunction('NEO', 'mint', [1]);
      let proxyErr;
      try { await tst.nope(); } catch (e) { proxyErr = { message: e.message, code: e.code }; }
      return { sym, bal: bal.stack[0], decimals: await tst.decimals(), symbol: await tst.symbol(),
        proxyBal: await tst.balanceOf(ev.addr), hash: tst.hash, fault: { state: fault.state, exception: fault.exception }, proxyErr };
    }`, { event: { tst: peer.tokens.TST, addr: peer.accounts[2].address } });
    assert.equal(r.status, 'ok', JSON.stringify(r));
    const v = r.result;
    assert.equal(v.sym.state, 'HALT');
    assert.equal(v.sym.stack[0].text, 'GAS');
    assert.deepEqual(v.sym.raw.stack, [{ type: 'ByteString', value: Buffer.from('GAS').toString('base64') }]);
    assert.ok(Number(v.sym.gasconsumed) > 0);
    assert.equal(v.bal, peer.control.balance('TST', 2));
    assert.equal(v.proxyBal, v.bal);
    assert.equal(v.decimals, '8');
    assert.equal(v.symbol.text, 'TST');
    assert.equal(v.hash, peer.tokens.TST);
    assert.equal(v.fault.state, 'FAULT');
    assert.match(v.fault.exception, /mint/);
    assert.equal(v.proxyErr.code, 'execution_failed');
  });

  test('wallet(secret).transfer is signed, fee-priced, accepted and mined', async () => {
    const before = BigInt(peer.control.balance('GAS', 2));
    const sentBefore = peer.control.sent().length;
    const r = await run(`export default async (ev, ctx) => {
      const w = ctx.neo.wallet('NEO_KEY');
      const sent = await w.transfer('GAS', ev.to, 150000000n);
      const log = await ctx.neo.waitForTransaction(sent.hash, { timeoutMs: 20000, intervalMs: 100 });
      return { address: w.address, scriptHash: w.scriptHash, sent, vm: log.executions[0].vmstate,
        transfer: log.executions[0].notifications[0].transfer };
    }`, { secrets: { NEO_KEY: peer.accounts[0].WIF }, event: { to: peer.accounts[2].address } });
    assert.equal(r.status, 'ok', JSON.stringify(r));
    const v = r.result;
    assert.equal(v.address, peer.accounts[0].address);
    assert.equal(v.scriptHash, peer.accounts[0].scriptHash);
    assert.equal(v.vm, 'HALT');
    assert.deepEqual(v.transfer, { from: peer.accounts[0].address, to: peer.accounts[2].address, amount: '150000000' });
    // what the peer received: deserialized by neon-core, signature checked against the magic
    const sent = peer.control.sent();
    assert.equal(sent.length, sentBefore + 1);
    const s = sent.at(-1);
    assert.equal(s.hash, v.sent.hash);
    assert.equal(s.sender, peer.accounts[0].address);
    assert.deepEqual(s.signers.map((x) => [x.address, x.scopes]), [[peer.accounts[0].address, 'CalledByEntry']]);
    assert.deepEqual(s.transfers, [{ token: peer.tokens.GAS, symbol: 'GAS', from: peer.accounts[0].address, to: peer.accounts[2].address, amount: '150000000' }]);
    assert.equal(s.systemFee, v.sent.systemFee);
    assert.ok(BigInt(s.systemFee) > 0n && BigInt(s.networkFee) > 0n);
    const t = tx.Transaction.deserialize(s.raw);
    assert.ok(wallet.verify(t.getMessageForSigning(peer.magic), wallet.getSignaturesFromInvocationScript(t.witnesses[0].invocationScript.toBigEndian())[0], peer.accounts[0].publicKey));
    assert.ok(t.validUntilBlock > peer.control.height() - 5);
    assert.equal(BigInt(peer.control.balance('GAS', 2)), before + 150000000n);
  });

  test('wallet(secret).invoke with a hex private key; a transfer that would fail is not sent', async () => {
    const sentBefore = peer.control.sent().length;
    const r = await run(`export default async (ev, ctx) => {
      const w = ctx.neo.wallet('HEX_KEY');
      const sent = await w.invoke(ev.tst, 'transfer', [w.address, ev.to, 25, null]);
      await ctx.neo.waitForTransaction(sent.hash, { timeoutMs: 20000, intervalMs: 100 });
      let tooMuch;
      try { await w.transfer('NEO', ev.to, '999999999999'); } catch (e) { tooMuch = { message: e.message, code: e.code }; }
      const sig = w.signMessage('hello');
      return { sent, tooMuch, sig };
    }`, { secrets: { HEX_KEY: peer.accounts[3].privateKey }, event: { tst: peer.tokens.TST, to: peer.accounts[1].address } });
    assert.equal(r.status, 'ok', JSON.stringify(r));
    const v = r.result;
    const sent = peer.control.sent();
    assert.equal(sent.length, sentBefore + 1, 'only the invoke reached the peer');
    assert.deepEqual(sent.at(-1).transfers, [{ token: peer.tokens.TST, symbol: 'TST', from: peer.accounts[3].address, to: peer.accounts[1].address, amount: '25' }]);
    assert.equal(sent.at(-1).vmstate, 'HALT');
    assert.equal(v.tooMuch.code, 'execution_failed');
    assert.match(v.tooMuch.message, /returned false/);
    assert.equal(v.sig.publicKey, peer.accounts[3].publicKey);
    assert.ok(wallet.verify(Buffer.from('hello').toString('hex'), v.sig.signature, peer.accounts[3].publicKey));
  });

  test('node errors keep Neo\'s code and message; a tampered transaction is rejected with -508', async () => {
    const t = peer.control.buildTransfer({ from: 1, to: 0, amount: 3 });
    const hex = t.serialize(true);
    const flip = (h, at) => h.slice(0, at) + (h[at] === 'a' ? 'b' : 'a') + h.slice(at + 1);
    const tampered = flip(hex, hex.length - 2 * (41 + 10)); // inside the signature
    const badVerification = flip(hex, hex.length - 10); // inside the verification script
    const r = await run(`export default async (ev, ctx) => {
      const out = {};
      try { await ctx.neo.getBlock(987654); } catch (e) { out.block = { message: e.message, code: e.code, rpcCode: e.rpcCode }; }
      try { await ctx.neo.sendRawTransaction(ev.tampered); } catch (e) { out.send = { message: e.message, rpcCode: e.rpcCode }; }
      try { await ctx.neo.sendRawTransaction(ev.badVerification); } catch (e) { out.send2 = { message: e.message, rpcCode: e.rpcCode }; }
      try { await ctx.neo.waitForTransaction('0x' + '11'.repeat(32), { timeoutMs: 300, intervalMs: 100 }); } catch (e) { out.wait = e.code; }
      return out;
    }`, { event: { tampered, badVerification } });
    assert.equal(r.status, 'ok', JSON.stringify(r));
    assert.equal(r.result.block.rpcCode, -101);
    assert.match(r.result.block.message, /Unknown block/);
    assert.equal(r.result.block.code, 'upstream_error');
    assert.equal(r.result.send.rpcCode, -508);
    assert.match(r.result.send.message, /Invalid signature/);
    assert.equal(r.result.send2.rpcCode, -508);
    assert.equal(peer.control.sent().some((x) => x.hash === '0x' + t.hash()), false);
    assert.equal(r.result.wait, 'timeout');
  });

  test('a wrong network name, a missing secret and a secret that is not a key', async () => {
    const r = await run(`export default async (ev, ctx) => {
      const out = {};
      try { await ctx.neo.network('mainnet-nope').getBlockCount(); } catch (e) { out.net = { message: e.message, code: e.code }; }
      try { ctx.neo.wallet('MISSING'); } catch (e) { out.missing = { message: e.message, code: e.code }; }
      try { ctx.neo.wallet('NOT_A_KEY'); } catch (e) { out.notKey = { message: e.message, code: e.code }; }
      try { await ctx.neo.invokeFunction('not-a-hash', 'symbol'); } catch (e) { out.badHash = e.code; }
      out.ok = await ctx.neo.network('local').getBlockCount();
      return out;
    }`, { secrets: { NOT_A_KEY: 'hunter2' } });
    assert.equal(r.status, 'ok', JSON.stringify(r));
    const v = r.result;
    assert.equal(v.net.code, 'not_found');
    assert.match(v.net.message, /mainnet-nope/);
    assert.equal(v.missing.code, 'not_found');
    assert.match(v.missing.message, /MISSING/);
    assert.equal(v.notKey.code, 'invalid_argument');
    assert.ok(!JSON.stringify(r).includes('hunter2'));
    assert.equal(v.badHash, 'invalid_argument');
    assert.equal(v.ok, peer.control.height() + 1);
  });
});
