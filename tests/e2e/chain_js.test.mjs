// The chain helpers inside a real function: r3e.eth and r3e.neo are there on first use and
// give the answers ethers 6 and neon-js 5.9 give for the same keys (values checked with both);
// a function may still declare its own `r3e` binding.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, uniqueName } from './lib/server.mjs';

let srv;
before(async () => { srv = await startServer({ workers: 2 }); });
after(async () => { await srv?.close(); });

test('r3e.eth and r3e.neo are available in functions', async () => {
  const name = uniqueName('chain');
  await srv.deploy(name, `
    export default async function () {
      const w = new r3e.eth.Wallet("0x" + "46".repeat(32));
      const neo = new r3e.neo.wallet.Account("L1QqQJnpBwbsPGAuutuzPTac8piqvbR1HRjrY5qHup48TBCBFe4g");
      return { eth: w.address, empty: r3e.eth.keccak256("0x"), neo: neo.address };
    }`);
  const rec = await srv.invoke(name, {});
  assert.equal(rec.status, 'ok', JSON.stringify(rec.error));
  assert.equal(rec.result.eth, '0x9d8A62f656a8d1615C1294fd71e9CFb3E4855A4F');
  assert.equal(rec.result.empty, '0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470');
  assert.equal(rec.result.neo, 'NPTmAHDxo6Pkyic8Nvu3kwyXoYJCvcCB6i');
});

test('a function can shadow or overwrite the r3e global', async () => {
  const a = uniqueName('shadow');
  await srv.deploy(a, 'const r3e = 5; module.exports = () => r3e;');
  assert.equal((await srv.invoke(a, {})).result, 5);
  const b = uniqueName('overwrite');
  await srv.deploy(b, 'module.exports = () => { globalThis.r3e = 7; return globalThis.r3e; };');
  assert.equal((await srv.invoke(b, {})).result, 7);
});
