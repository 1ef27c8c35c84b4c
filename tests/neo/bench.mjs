// neon-js side of the Neo tx throughput comparison: build a NEP-17 transfer script, a
// transaction with one CalledByEntry signer, sign it (TestNet magic) and serialize it —
// the same work as `<build>/neo_tool --bench N`. Usage: node tests/neo/bench.mjs [N]
import Neon from "@cityofzion/neon-js";

const { wallet, sc, tx } = Neon;
const n = Number(process.argv[2] ?? 2000);
const acct = new wallet.Account("11".repeat(32));
const to = "22".repeat(20);
const gas = new sc.Nep17Contract("d2a4cff31913016155e38e474a2c06d08be276cf");
let bytes = 0;
const t0 = process.hrtime.bigint();
for (let i = 0; i < n; i++) {
  const script = new sc.ScriptBuilder().emitContractCall(gas.transfer(acct.address, to, String(100000000 + i))).build();
  const t = new tx.Transaction({
    nonce: i, systemFee: 997775, networkFee: 1234570, validUntilBlock: 5000000,
    signers: [{ account: acct.scriptHash, scopes: 1 }], script,
  });
  t.sign(acct, 860833102);
  bytes += t.serialize(true).length / 2;
}
const secs = Number(process.hrtime.bigint() - t0) / 1e9;
console.log(JSON.stringify({ impl: "neon-js@5.9.0", node: process.version, txs: n, seconds: +secs.toFixed(3), tx_per_s: Math.round(n / secs), bytes }));
