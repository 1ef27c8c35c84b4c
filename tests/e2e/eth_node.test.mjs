// Smoke test of the local Ethereum node harness (tests/eth/hardhat.mjs) that the ctx.eth,
// relayer and event-source suites build on: hardhat starts on 127.0.0.1 with chain id 1337
// and the fixed mnemonic's accounts, a solc-js-compiled contract deploys and answers calls,
// interval mining can be switched on, and stop() ends the node.
import test from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

// scripts/test.sh runs `npm ci` in tests/eth; a bare ctest run may not have.
const ethDir = new URL('../eth/', import.meta.url).pathname;
if (!existsSync(`${ethDir}node_modules/hardhat`)) {
  execFileSync('npm', ['ci', '--prefix', ethDir, '--no-audit', '--no-fund'], { stdio: 'inherit', timeout: 300_000 });
}
const { startHardhat, compileContract, deployContract, rpcCall } = await import('../eth/hardhat.mjs');

test('hardhat node: start, deploy Emitter, call, events, stop', { timeout: 180_000 }, async () => {
  const node = await startHardhat();
  try {
    assert.equal(await node.rpc('eth_chainId'), '0x539');
    assert.equal(node.accounts.length, 10);
    assert.equal(node.accounts[0].address, '0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266');
    assert.equal(BigInt(await node.rpc('eth_getBalance', [node.accounts[0].address, 'latest'])), 10000n * 10n ** 18n);

    const art = await compileContract('Emitter');
    assert.ok(art.bytecode.length > 100 && Array.isArray(art.abi));
    const c = await deployContract(node, node.accounts[0], art, [42n]);
    assert.equal(await c.counter(), 42n);
    const tx = await c.ping(7n, 'hello');
    const rc = await tx.wait();
    assert.equal(rc.status, 1);
    const ev = c.interface.parseLog(rc.logs[0]);
    assert.equal(ev.name, 'Ping');
    assert.equal(ev.args.n, 7n);
    assert.equal(ev.args.note, 'hello');
    assert.equal(await c.counter(), 43n);
    await assert.rejects(c.fail.staticCall('nope'), /nope/);

    // Interval mining: blocks appear without transactions.
    await node.rpc('evm_setAutomine', [false]);
    await node.rpc('evm_setIntervalMining', [200]);
    const b0 = Number(await node.rpc('eth_blockNumber'));
    const deadline = Date.now() + 20000;
    while (Number(await node.rpc('eth_blockNumber')) <= b0) {
      assert.ok(Date.now() < deadline, 'no block mined by interval mining');
      await new Promise((r) => setTimeout(r, 100));
    }
    await node.rpc('evm_setIntervalMining', [0]);
    await node.rpc('evm_setAutomine', [true]);
  } finally {
    await node.stop();
  }
  await assert.rejects(rpcCall(node.url, 'eth_chainId'), 'the node is gone after stop()');
});
