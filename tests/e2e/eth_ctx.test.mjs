// ctx.eth against a real Ethereum node: hardhat (tests/eth/hardhat.mjs, chain id 1337) and the
// r3e server started with `--eth local=<url>,1337 --eth other=<url>`. Functions read chain
// state, call and decode a solc-compiled contract, decode events from eth_getLogs, and send
// transactions signed with a key held as a function secret; the test checks every effect on
// the node itself through ethers. Also: the node's revert reason reaches the function, an
// unknown network name, a missing or malformed key secret, and test-control methods
// (hardhat_*, evm_*) unreachable through every path.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { startServer, uniqueName } from './lib/server.mjs';

const ethDir = new URL('../eth/', import.meta.url).pathname;
if (!existsSync(`${ethDir}node_modules/hardhat`)) {
  execFileSync('npm', ['ci', '--prefix', ethDir, '--no-audit', '--no-fund'], { stdio: 'inherit', timeout: 300_000 });
}
const { startHardhat, compileContract, deployContract, ethers } = await import('../eth/hardhat.mjs');

const EMITTER_ABI = [
  'constructor(uint256 initial)',
  'function counter() view returns (uint256)',
  'function owner() view returns (address)',
  'function set(uint256 v)',
  'function ping(uint256 n, string note)',
  'function fail(string reason) pure',
  'function failBare() pure',
  'function pair(uint256 a) view returns (uint256 doubled, address who, string tag)',
  'function deny(uint256 code) view',
  'function divide(uint256 a, uint256 b) pure returns (uint256)',
  'error Denied(address who, uint256 code)',
  'event Ping(address indexed from, uint256 indexed n, string note)',
  'event Set(uint256 oldValue, uint256 newValue)',
];

// Function prelude: BigInt-safe JSON for results, and errors as values.
const PRE = `
const J = (v) => JSON.parse(JSON.stringify(v, (k, x) => typeof x === 'bigint' ? x.toString() : x));
const E = (e) => ({ error: String(e && e.message), code: e && e.code, rpcCode: e && e.rpcCode, reason: e && e.reason, data: e && e.data });
const ABI = ${JSON.stringify(EMITTER_ABI)};
`;

let node;
let srv;
let provider;
let emitter; // ethers Contract deployed by accounts[0]
let emitterAddr;

async function run(code, event = {}, spec = {}) {
  const name = uniqueName('eth');
  const { secrets, ...deploySpec } = spec;
  await srv.deploy(name, PRE + code, { timeout_ms: 60000, ...deploySpec });
  if (secrets) {
    for (const [k, v] of Object.entries(secrets)) {
      const r = await srv.put(`/v1/functions/${name}/secrets/${k}`, { value: v });
      assert.ok(r.status === 200 || r.status === 201 || r.status === 204, `secret ${k}: ${r.status} ${r.text}`);
    }
  }
  const r = await srv.post(`/v1/functions/${name}/invoke`, JSON.stringify(event));
  assert.equal(r.status, 200, `invoke ${name}: ${r.text}`);
  assert.equal(r.body.status, 'ok', `invoke ${name}: ${r.text}`);
  return r.body.result;
}

// A new key funded with 1 ETH by accounts[0], so a test counts its nonces from 0.
async function freshWallet() {
  const w = ethers.Wallet.createRandom();
  const funder = new ethers.Wallet(node.accounts[0].privateKey, provider);
  await (await funder.sendTransaction({ to: w.address, value: 10n ** 18n })).wait();
  return w;
}

before(async () => {
  node = await startHardhat();
  provider = node.provider();
  const art = await compileContract('Emitter');
  emitter = await deployContract(node, node.accounts[0], art, [42n]);
  emitterAddr = await emitter.getAddress();
  srv = await startServer({ args: ['--eth', `local=${node.url},1337`, '--eth', `other=${node.url}`,
    // nothing listens on port 1: every call is a transport failure
    '--eth', 'down=http://127.0.0.1:1,1337'] });
});

after(async () => {
  await srv?.close();
  provider?.destroy();
  await node?.stop();
});

describe('reads', () => {
  test('blockNumber, getBalance, getBlock, getTransactionCount, getNetwork and feeData match the node', async () => {
    const acct = node.accounts[0].address;
    const res = await run(`export default async (ev, ctx) => {
      const eth = ctx.eth;
      const bn = await eth.blockNumber();
      const latest = await eth.getBlock('latest');
      const byHash = await eth.getBlock(latest.hash);
      const byNum = await eth.getBlock(latest.number);
      const genesis = await eth.getBlock(0);
      return J({ bn, bnType: typeof bn, latest, sameHash: byHash.hash === latest.hash && byNum.hash === latest.hash,
        genesisNumber: genesis.number, missing: await eth.getBlock(10 ** 9),
        balance: await eth.getBalance(ev.acct), balType: typeof (await eth.getBalance(ev.acct)),
        nonce: await eth.getTransactionCount(ev.acct), net: await eth.getNetwork(),
        fee: await eth.feeData(), code: await eth.getCode(ev.contract) });
    }`, { acct, contract: emitterAddr });
    assert.equal(res.bn, await provider.getBlockNumber());
    assert.equal(res.bnType, 'number');
    const blk = await provider.getBlock(res.latest.number);
    assert.equal(res.latest.hash, blk.hash);
    assert.equal(res.latest.parentHash, blk.parentHash);
    assert.equal(res.latest.timestamp, blk.timestamp);
    assert.equal(res.latest.gasUsed, blk.gasUsed.toString());
    assert.equal(res.latest.baseFeePerGas, blk.baseFeePerGas.toString());
    assert.ok(res.sameHash, 'the same block by tag, hash and number');
    assert.equal(res.genesisNumber, 0);
    assert.equal(res.missing, null);
    assert.equal(res.balType, 'bigint');
    assert.equal(res.balance, (await provider.getBalance(acct)).toString());
    assert.equal(res.nonce, await provider.getTransactionCount(acct));
    assert.deepEqual(res.net, { name: 'local', chainId: '1337' });
    assert.ok(BigInt(res.fee.maxFeePerGas) > BigInt(res.fee.maxPriorityFeePerGas));
    assert.equal(res.code, await provider.getCode(emitterAddr));
  });

  test('call and estimateGas on raw calldata; batch answers in order with per-entry errors', async () => {
    const iface = new ethers.Interface(EMITTER_ABI);
    const data = iface.encodeFunctionData('counter');
    const res = await run(`export default async (ev, ctx) => {
      const out = await ctx.eth.call({ to: ev.to, data: ev.data });
      const gas = await ctx.eth.estimateGas({ to: ev.to, data: ev.setData, from: ev.from });
      const b = await ctx.eth.batch([
        { method: 'eth_chainId' },
        { method: 'eth_getBalance', params: [ev.from, 'latest'] },
        { method: 'eth_getBlockByNumber', params: ['not-a-tag', false] },
      ]);
      return J({ out, gas, gasType: typeof gas, b0: b[0], b1: b[1], b2err: b[2] instanceof Error, b2msg: b[2] && b[2].message });
    }`, { to: emitterAddr, data, setData: iface.encodeFunctionData('set', [5n]), from: node.accounts[1].address });
    assert.equal(BigInt(res.out), await emitter.counter());
    assert.equal(res.gasType, 'bigint');
    assert.equal(res.gas, (await provider.estimateGas({ to: emitterAddr, data: iface.encodeFunctionData('set', [5n]), from: node.accounts[1].address })).toString());
    assert.equal(res.b0, '0x539');
    assert.equal(BigInt(res.b1), await provider.getBalance(node.accounts[1].address));
    assert.equal(res.b2err, true);
    assert.match(res.b2msg, /eth_getBlockByNumber: ./);
  });

  test('ctx.eth.network(name) reaches another configured network; an unknown name is a clear error', async () => {
    const res = await run(`export default async (ev, ctx) => {
      const other = ctx.eth.network('other');
      const out = { net: await other.getNetwork(), bn: await other.blockNumber(), same: ctx.eth.network('other') === other,
        local: (await ctx.eth.network('local').getNetwork()).name };
      try { await ctx.eth.network('nope').blockNumber(); } catch (e) { out.unknown = E(e); }
      try { await ctx.eth.network('down').blockNumber(); } catch (e) { out.down = E(e); }
      return J(out);
    }`);
    assert.deepEqual(res.net, { name: 'other', chainId: '1337' }, 'chain id resolved from eth_chainId');
    assert.equal(res.bn, await provider.getBlockNumber());
    assert.equal(res.same, true);
    assert.equal(res.local, 'local');
    assert.match(res.unknown.error, /no Ethereum network named "nope"/);
    assert.equal(res.unknown.code, 'not_found');
    assert.equal(res.down.code, 'unavailable', JSON.stringify(res.down));
    assert.match(res.down.error, /^eth_blockNumber: eth network "down" unreachable/);
    assert.ok(!res.down.error.includes('127.0.0.1:1'), 'the node URL stays out of errors');
  });
});

describe('contracts', () => {
  test('view functions encode the call and decode the result (one value, several named values)', async () => {
    const res = await run(`export default async (ev, ctx) => {
      const c = ctx.eth.contract(ev.addr, ABI);
      const counter = await c.counter();
      const p = await c.pair(21n);
      const owner = await c.owner();
      const past = await c.counter({ blockTag: ev.deployBlock });
      const fromJson = await ctx.eth.contract(ev.addr, ev.jsonAbi).counter();
      return J({ counter, counterType: typeof counter, p: [...p], doubled: p.doubled, obj: p.toObject(), owner, past, fromJson,
        staticSet: await c.set.staticCall(9n), populated: await c.set.populateTransaction(9n) });
    }`, { addr: emitterAddr, deployBlock: (await emitter.deploymentTransaction().wait()).blockNumber,
      jsonAbi: JSON.parse(emitter.interface.formatJson()) });
    assert.equal(res.counter, (await emitter.counter()).toString());
    assert.equal(res.counterType, 'bigint');
    assert.deepEqual(res.p, ['42', node.accounts[0].address, 'emitter']);
    assert.equal(res.doubled, '42');
    assert.deepEqual(res.obj, { doubled: '42', who: node.accounts[0].address, tag: 'emitter' });
    assert.equal(res.owner, node.accounts[0].address);
    assert.equal(res.past, '42', 'the counter at the deployment block');
    assert.equal(res.fromJson, res.counter, 'a JSON ABI works too (view from stateMutability)');
    assert.deepEqual(res.staticSet, [], 'a function without outputs decodes to an empty result (as ethers)');
    assert.equal(res.populated.to, emitterAddr);
    assert.equal(res.populated.data, emitter.interface.encodeFunctionData('set', [9n]));
  });

  test('events: getLogs with a filter, queryFilter and parseLog decode the arguments by name', async () => {
    const signer = new ethers.Wallet(node.accounts[2].privateKey, provider);
    const c2 = emitter.connect(signer);
    const from = (await provider.getBlockNumber()) + 1;
    await (await c2.ping(7n, 'hello')).wait();
    await (await c2.ping(8n, 'world')).wait();
    await (await emitter.ping(7n, 'from-zero')).wait();
    const res = await run(`export default async (ev, ctx) => {
      const c = ctx.eth.contract(ev.addr, ABI);
      const f = c.filters.Ping(ev.from);
      const logs = await ctx.eth.getLogs({ address: ev.addr, topics: f.topics, fromBlock: ev.fromBlock, toBlock: 'latest' });
      const parsed = logs.map((l) => c.parseLog(l)).map((l) => ({ name: l.eventName, from: l.args.from, n: l.args.n, note: l.args.note, obj: l.args.toObject(), block: l.blockNumber, index: l.index }));
      const all = await c.queryFilter('Ping', ev.fromBlock);
      const seven = await c.queryFilter(c.filters.Ping(null, 7n), ev.fromBlock);
      return J({ parsed, all: all.map((l) => [l.args.n, l.args.note]), seven: seven.map((l) => l.args.note) });
    }`, { addr: emitterAddr, from: node.accounts[2].address, fromBlock: from });
    assert.equal(res.parsed.length, 2);
    assert.deepEqual(res.parsed.map((p) => [p.name, p.from, p.n, p.note]),
      [['Ping', node.accounts[2].address, '7', 'hello'], ['Ping', node.accounts[2].address, '8', 'world']]);
    assert.deepEqual(res.parsed[0].obj, { from: node.accounts[2].address, n: '7', note: 'hello' });
    const nodeLogs = await provider.getLogs({ address: emitterAddr, fromBlock: from, topics: [emitter.interface.getEvent('Ping').topicHash, ethers.zeroPadValue(node.accounts[2].address, 32)] });
    assert.deepEqual(res.parsed.map((p) => [p.block, p.index]), nodeLogs.map((l) => [l.blockNumber, l.index]));
    assert.deepEqual(res.all, [['7', 'hello'], ['8', 'world'], ['7', 'from-zero']]);
    assert.deepEqual(res.seven, ['hello', 'from-zero']);
  });

  test('a revert reaches the function with the node message and the decoded reason', async () => {
    const res = await run(`export default async (ev, ctx) => {
      const c = ctx.eth.contract(ev.addr, ABI);
      const out = {};
      try { await c.fail('nope, not today'); } catch (e) { out.call = E(e); }
      try { await c.failBare(); } catch (e) { out.bare = E(e); }
      try { await ctx.eth.call({ to: ev.addr, data: ev.failData }); } catch (e) { out.raw = E(e); }
      try { await c.fail.estimateGas('in estimate'); } catch (e) { out.est = E(e); }
      try { await c.divide(1n, 0n); } catch (e) { out.panic = E(e); }
      try { await c.deny(7n, { from: ev.from }); } catch (e) { out.custom = E(e); out.errorName = e.errorName; }
      return J(out);
    }`, { addr: emitterAddr, failData: emitter.interface.encodeFunctionData('fail', ['raw reason']), from: node.accounts[1].address });
    if (process.env.R3E_ETH_DEBUG) console.log(JSON.stringify(res, null, 1));
    assert.match(res.call.error, /nope, not today/);
    assert.match(res.call.error, /revert/i);
    assert.equal(res.call.code, 'CALL_EXCEPTION');
    assert.equal(res.call.reason, 'nope, not today');
    assert.equal(typeof res.call.rpcCode, 'number');
    assert.ok(res.call.data.startsWith('0x08c379a0'), `revert data: ${res.call.data}`);
    assert.match(res.bare.error, /revert/i);
    assert.equal(res.bare.code, 'CALL_EXCEPTION');
    assert.equal(res.raw.reason, 'raw reason');
    assert.match(res.est.error, /^eth_estimateGas: .*in estimate/);
    assert.equal(res.panic.code, 'CALL_EXCEPTION');
    assert.equal(res.panic.reason, 'panic 0x12 (division or modulo by zero)');
    assert.equal(res.custom.code, 'CALL_EXCEPTION');
    assert.equal(res.errorName, 'Denied');
    assert.equal(res.custom.reason, `Denied(${node.accounts[1].address}, 7)`, 'a custom error decoded with the contract ABI');
  });

  test('bad arguments are TypeErrors before anything reaches the node', async () => {
    const res = await run(`export default async (ev, ctx) => {
      const out = {};
      const t = async (k, f) => { try { await f(); out[k] = 'no error'; } catch (e) { out[k] = e.name + ': ' + e.message; } };
      await t('addr', () => ctx.eth.contract('0x1234', ABI));
      await t('tag', () => ctx.eth.getBalance(ev.addr, 'yesterday'));
      await t('neg', () => ctx.eth.getBlock(-1));
      await t('arity', () => ctx.eth.contract(ev.addr, ABI).pair());
      await t('tx', () => ctx.eth.call('0x00'));
      await t('batch', () => ctx.eth.batch('eth_chainId'));
      await t('net', () => ctx.eth.network(''));
      return out;
    }`, { addr: emitterAddr });
    assert.match(res.addr, /^TypeError: ctx.eth.contract: address must be/);
    assert.match(res.tag, /^TypeError: blockTag: expected a block number or one of latest/);
    assert.match(res.neg, /^RangeError: getBlock: must not be negative/);
    assert.match(res.arity, /^TypeError: pair: expected 1 argument\(s\), got 0/);
    assert.match(res.tx, /^TypeError: call: expected a transaction object/);
    assert.match(res.batch, /^TypeError: ctx.eth.batch: expected an array/);
    assert.match(res.net, /^TypeError: ctx.eth.network: expected a configured network name/);
  });
});

describe('wallet', () => {
  test('sendTransaction fills chain id, nonce, gas and EIP-1559 fees; the node sees the transfer', async () => {
    const sender = node.accounts[5];
    const to = node.accounts[6].address;
    const before6 = await provider.getBalance(to);
    const nonce0 = await provider.getTransactionCount(sender.address);
    const res = await run(`export default async (ev, ctx) => {
      const w = ctx.eth.wallet('PK');
      const tx = await w.sendTransaction({ to: ev.to, value: 10n ** 18n });
      const rc = await tx.wait();
      return J({ address: w.address, hash: tx.hash, nonce: tx.nonce, type: tx.type, chainId: tx.chainId,
        maxFeePerGas: tx.maxFeePerGas, gasLimit: tx.gasLimit, status: rc.status, block: rc.blockNumber, gasUsed: rc.gasUsed,
        receipt: await ctx.eth.getTransactionReceipt(tx.hash) });
    }`, { to }, { secrets: { PK: sender.privateKey } });
    assert.equal(res.address, sender.address);
    assert.equal(res.status, 1);
    assert.equal(res.nonce, nonce0);
    assert.equal(res.type, 2);
    assert.equal(res.chainId, '1337');
    // gas from eth_estimateGas, as ethers would fill it
    assert.equal(res.gasLimit, (await provider.estimateGas({ from: sender.address, to, value: 10n ** 18n })).toString());
    assert.equal(await provider.getBalance(to), before6 + 10n ** 18n);
    const rc = await provider.getTransactionReceipt(res.hash);
    assert.equal(rc.status, 1);
    assert.equal(rc.from, sender.address);
    assert.equal(rc.blockNumber, res.block);
    assert.equal(res.gasUsed, rc.gasUsed.toString());
    assert.equal(res.receipt.status, 1);
    assert.equal(res.receipt.hash, res.hash);
    const tx = await provider.getTransaction(res.hash);
    assert.equal(tx.type, 2);
    assert.equal(tx.maxFeePerGas.toString(), res.maxFeePerGas);
  });

  test('contract.connect(wallet) sends; parallel sends in one invocation get consecutive nonces', async () => {
    const sender = node.accounts[7];
    const nonce0 = await provider.getTransactionCount(sender.address);
    const res = await run(`export default async (ev, ctx) => {
      const w = ctx.eth.wallet('KEY');
      const c = ctx.eth.contract(ev.addr, ABI).connect(w);
      const out = {};
      try { await ctx.eth.contract(ev.addr, ABI).set(1n); } catch (e) { out.noWallet = E(e); }
      const [a, b] = await Promise.all([c.set(777n), c.ping(99n, 'from r3e')]);
      const [ra, rb] = await Promise.all([a.wait(), b.wait()]);
      out.nonces = [a.nonce, b.nonce];
      out.status = [ra.status, rb.status];
      out.pingEvent = rb.logs.map((l) => l.eventName + ':' + l.args.note + ':' + l.args.from);
      out.setEvent = ra.logs.map((l) => l.eventName + ':' + l.args.newValue);
      return J(out);
    }`, { addr: emitterAddr }, { secrets: { KEY: sender.privateKey } });
    assert.match(res.noWallet.error, /needs a wallet/);
    assert.deepEqual(res.nonces, [nonce0, nonce0 + 1]);
    assert.deepEqual(res.status, [1, 1]);
    assert.deepEqual(res.setEvent, ['Set:777']);
    assert.deepEqual(res.pingEvent, [`Ping:from r3e:${sender.address}`]);
    assert.equal(await emitter.counter(), 778n, 'set(777) then ping incremented');
    assert.equal(await provider.getTransactionCount(sender.address), nonce0 + 2);
  });

  test('10 concurrent invocations sending from one wallet secret get distinct nonces and all mine', async () => {
    const sender = await freshWallet();
    const nonce0 = 0;
    const name = uniqueName('ethnonce');
    await srv.deploy(name, PRE + `export default async (ev, ctx) => {
      const w = ctx.eth.wallet('PK');
      const tx = await w.sendTransaction({ to: ev.to, value: 1000n + BigInt(ev.i) });
      const rc = await tx.wait(1, 30000);
      return J({ nonce: tx.nonce, hash: tx.hash, status: rc.status });
    }`, { timeout_ms: 60000 });
    const put = await srv.put(`/v1/functions/${name}/secrets/PK`, { value: sender.privateKey });
    assert.ok(put.status >= 200 && put.status < 300, put.text);
    const to = node.accounts[6].address;
    const runs = await Promise.all(Array.from({ length: 10 }, (_, i) =>
      srv.post(`/v1/functions/${name}/invoke`, JSON.stringify({ to, i }))));
    const results = runs.map((r) => {
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.status, 'ok', r.text);
      return r.body.result;
    });
    const nonces = results.map((x) => x.nonce).sort((a, b) => a - b);
    assert.deepEqual(nonces, Array.from({ length: 10 }, (_, i) => nonce0 + i), 'distinct consecutive nonces');
    assert.ok(results.every((x) => x.status === 1));
    for (const x of results) assert.equal((await provider.getTransactionReceipt(x.hash)).status, 1);
    assert.equal(await provider.getTransactionCount(sender.address), nonce0 + 10);
  });

  test('a send the node refuses gives its nonce back: the next send is not stuck behind a gap', async () => {
    const sender = await freshWallet();
    const nonce0 = 0;
    const res = await run(`export default async (ev, ctx) => {
      const w = ctx.eth.wallet('PK');
      const out = {};
      // gasLimit given: nothing is estimated, the nonce is reserved and the node refuses the value
      try { await w.sendTransaction({ to: ev.to, value: 10n ** 40n, gasLimit: 21000n }); } catch (e) { out.refused = E(e); }
      const tx = await w.sendTransaction({ to: ev.to, value: 1n });
      out.nonce = tx.nonce;
      out.status = (await tx.wait(1, 30000)).status;
      return J(out);
    }`, { to: node.accounts[6].address }, { secrets: { PK: sender.privateKey } });
    assert.match(res.refused.error, /insufficient funds|balance/i);
    assert.equal(res.nonce, nonce0);
    assert.equal(res.status, 1);
    assert.equal(await provider.getTransactionCount(sender.address), nonce0 + 1);
  });

  test('a sent transaction that reverts: wait() rejects with the receipt (status 0)', async () => {
    // With automine, hardhat answers eth_sendRawTransaction itself with the revert; a real
    // network (and hardhat with interval mining) accepts the transaction and mines it failed.
    const sender = node.accounts[3];
    await node.rpc('evm_setAutomine', [false]);
    await node.rpc('evm_setIntervalMining', [200]);
    let res;
    try {
      res = await run(`export default async (ev, ctx) => {
        const c = ctx.eth.contract(ev.addr, ABI).connect(ctx.eth.wallet('K'));
        const out = {};
        try { await c.fail.send('estimate says no'); } catch (e) { out.estimate = E(e); }
        const tx = await c.fail.send('mined anyway', { gasLimit: 100000n });
        try { await tx.wait(1, 30000); } catch (e) { out.wait = E(e); out.status = e.receipt && e.receipt.status; }
        out.hash = tx.hash;
        return J(out);
      }`, { addr: emitterAddr }, { secrets: { K: sender.privateKey } });
    } finally {
      await node.rpc('evm_setIntervalMining', [0]);
      await node.rpc('evm_setAutomine', [true]);
    }
    assert.equal(res.estimate.reason, 'estimate says no');
    assert.match(res.estimate.error, /^eth_estimateGas: /);
    assert.match(res.wait.error, /reverted/);
    assert.equal(res.wait.code, 'CALL_EXCEPTION');
    assert.equal(res.status, 0);
    assert.equal((await provider.getTransactionReceipt(res.hash)).status, 0);
  });

  test('signMessage, signTypedData and signTransaction verify with ethers', async () => {
    const key = node.accounts[8];
    const domain = { name: 'r3e', version: '1', chainId: 1337, verifyingContract: emitterAddr };
    const types = { Mail: [{ name: 'to', type: 'address' }, { name: 'amount', type: 'uint256' }] };
    const value = { to: node.accounts[1].address, amount: '5' };
    const res = await run(`export default async (ev, ctx) => {
      const w = ctx.eth.wallet('K');
      return J({ msg: await w.signMessage('hello r3e'), typed: await w.signTypedData(ev.domain, ev.types, ev.value),
        raw: await w.signTransaction({ to: ev.to, value: 5n, nonce: 0, gasLimit: 21000n, maxFeePerGas: 2n * 10n ** 9n, maxPriorityFeePerGas: 10n ** 9n }) });
    }`, { domain, types, value, to: node.accounts[1].address }, { secrets: { K: key.privateKey } });
    assert.equal(ethers.verifyMessage('hello r3e', res.msg), key.address);
    assert.equal(ethers.verifyTypedData(domain, types, value, res.typed), key.address);
    const tx = ethers.Transaction.from(res.raw);
    assert.equal(tx.from, key.address);
    assert.equal(tx.chainId, 1337n, 'chain id filled from the network');
    assert.equal(tx.value, 5n);
  });

  test('wait(confirmations) waits for later blocks (interval mining)', async () => {
    const sender = node.accounts[9];
    await node.rpc('evm_setAutomine', [false]);
    await node.rpc('evm_setIntervalMining', [300]);
    try {
      const res = await run(`export default async (ev, ctx) => {
        const tx = await ctx.eth.wallet('K').sendTransaction({ to: ev.to, value: 1n });
        const rc = await tx.wait(3, 30000);
        return J({ block: rc.blockNumber, head: await ctx.eth.blockNumber(), status: rc.status });
      }`, { to: node.accounts[1].address }, { secrets: { K: sender.privateKey } });
      assert.equal(res.status, 1);
      assert.ok(res.head >= res.block + 2, `head ${res.head} has 3 confirmations of block ${res.block}`);
    } finally {
      await node.rpc('evm_setIntervalMining', [0]);
      await node.rpc('evm_setAutomine', [true]);
    }
  });

  test('a missing secret and a secret that is not a key give errors naming the secret, never its value', async () => {
    const bad = 'correct horse battery staple';
    const res = await run(`export default async (ev, ctx) => {
      const out = {};
      try { ctx.eth.wallet('NOPE'); } catch (e) { out.missing = E(e); }
      try { ctx.eth.wallet('BAD'); } catch (e) { out.bad = E(e); }
      try { ctx.eth.wallet('ZERO'); } catch (e) { out.zero = E(e); }
      return J(out);
    }`, {}, { secrets: { BAD: bad, ZERO: `0x${'0'.repeat(64)}` } });
    assert.match(res.missing.error, /no secret named "NOPE"/);
    assert.match(res.bad.error, /secret "BAD" is not a private key/);
    assert.ok(!res.bad.error.includes(bad) && !res.bad.error.includes('***'), res.bad.error);
    assert.match(res.zero.error, /secret "ZERO" is not a valid secp256k1 private key/);
  });
});

describe('allow-list', () => {
  test('test-control and admin methods are unreachable through send and batch; the node is unchanged', async () => {
    const victim = node.accounts[4].address;
    const before4 = await provider.getBalance(victim);
    const bn0 = await provider.getBlockNumber();
    const res = await run(`export default async (ev, ctx) => {
      const out = {};
      try { await ctx.eth.send('hardhat_setBalance', [ev.victim, '0x1']); } catch (e) { out.send = E(e); }
      try { await ctx.eth.batch([{ method: 'eth_blockNumber' }, { method: 'hardhat_setBalance', params: [ev.victim, '0x1'] }]); } catch (e) { out.batch = E(e); }
      try { await ctx.eth.network('other').send('evm_mine', []); } catch (e) { out.mine = E(e); }
      try { await ctx.eth.send('eth_sendTransaction', [{ from: ev.victim, to: ev.victim, value: '0x1' }]); } catch (e) { out.unlocked = E(e); }
      try { await ctx.eth.send('personal_listAccounts', []); } catch (e) { out.personal = E(e); }
      return J(out);
    }`, { victim });
    for (const k of ['send', 'batch', 'mine', 'unlocked', 'personal']) {
      assert.match(res[k].error, /is not available to functions/, `${k}: ${JSON.stringify(res[k])}`);
      assert.equal(res[k].code, 'permission_denied', k);
    }
    assert.equal(await provider.getBalance(victim), before4);
    assert.equal(await provider.getBlockNumber(), bn0);
  });
});
