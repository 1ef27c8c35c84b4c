// Differential test: r3e's Neo N3 primitives (src/chain/neo via <build>/neo_tool) must
// produce byte-identical keys, addresses, scripts, transactions and hashes to
// @cityofzion/neon-js 5.9.0, and signatures must verify across the two (ECDSA nonces differ,
// so signatures are cross-checked rather than compared).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const neoDir = path.resolve(here, "../neo");
const buildDir = process.env.R3E_BUILD_DIR ?? path.resolve(here, "../../build");
const tool = path.join(buildDir, "neo_tool");
const SEED = Number(process.env.R3E_NEO_SEED ?? 20261130);

// neon-js is a pinned reference dependency; install it (bounded) only when missing.
if (!existsSync(path.join(neoDir, "node_modules/@cityofzion/neon-js"))) {
  const r = spawnSync("npm", ["ci", "--prefix", neoDir, "--no-audit", "--no-fund"], {
    stdio: "inherit",
    timeout: 300_000,
  });
  if (r.status !== 0) throw new Error("npm ci for tests/neo failed");
}
// gen.mjs re-exports the neon-js it resolved from tests/neo/node_modules.
const { generate, generateJs, Neon } = await import(path.join(neoDir, "gen.mjs"));
const { wallet } = Neon;

function runTool(cases) {
  const input = cases.map((c) => JSON.stringify(c)).join("\n") + "\n";
  const r = spawnSync(tool, [], {
    input,
    maxBuffer: 1 << 30,
    timeout: 120_000,
    env: { ...process.env, ASAN_OPTIONS: "detect_leaks=1" },
  });
  assert.equal(r.status, 0, `neo_tool exited ${r.status}: ${r.stderr}`);
  const lines = r.stdout.toString().trim().split("\n");
  assert.equal(lines.length, cases.length, "one answer per case");
  return lines.map((l) => JSON.parse(l));
}

const HALF_N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n >> 1n;

test("neo_tool exists", () => {
  assert.ok(existsSync(tool), `build neo_tool first (${tool})`);
});

const corpus = generate(SEED);

test(`r3e matches neon-js 5.9.0 byte for byte (${corpus.length} seeded cases, seed ${SEED})`, () => {
  const got = runTool(corpus.map((c) => c.case));
  const counts = {};
  let failures = [];
  corpus.forEach((c, i) => {
    const kind = c.case.k;
    counts[kind] = (counts[kind] ?? 0) + 1;
    const out = got[i];
    try {
      if (c.expect) {
        for (const [key, want] of Object.entries(c.expect))
          assert.deepEqual(out[key], want, `${kind}.${key}`);
      } else if (c.check === "neon_verify_msg") {
        assert.ok(!out.error, out.error);
        assert.ok(wallet.verify(c.case.msg, out.sig, out.pub), "neon-js rejects r3e message signature");
        assert.ok(BigInt("0x" + out.sig.slice(64)) <= HALF_N, "s is not low");
      } else if (c.check === "neon_verify_tx") {
        assert.ok(!out.error, out.error);
        const { tx } = Neon;
        const { attributes, ...rest } = c.case.tx;
        const t = new tx.Transaction(rest);
        t.attributes = attributes.map((a) => tx.TransactionAttribute.fromJson(a));
        assert.ok(wallet.verify(t.getMessageForSigning(c.case.magic), out.sig, out.pub),
          "neon-js rejects r3e transaction signature");
      }
    } catch (e) {
      failures.push({ i, kind, message: e.message, case: JSON.stringify(c.case).slice(0, 400), got: JSON.stringify(out).slice(0, 400) });
    }
  });
  console.log("cases by kind:", JSON.stringify(counts));
  if (failures.length) {
    const byKind = {};
    for (const f of failures) byKind[f.kind + ": " + f.message.split("\n")[0]] = (byKind[f.kind + ": " + f.message.split("\n")[0]] ?? 0) + 1;
    console.log("mismatches:", JSON.stringify(byKind, null, 1));
    console.log(JSON.stringify(failures.slice(0, 3), null, 1));
  }
  assert.equal(failures.length, 0, `${failures.length} mismatches`);
});

test("getapplicationlog example from the Neo RPC docs decodes to the documented transfer", () => {
  const fx = JSON.parse(readFileSync(path.join(neoDir, "fixtures/getapplicationlog_transfer.json"), "utf8"));
  const n = fx.result.executions[0].notifications[0];
  const [out] = runTool([{ k: "notification", n }]);
  assert.equal(out.decoded.event, "Transfer");
  assert.equal(out.decoded.contract, "0x70e2301955bf1e74cbb31d18c2f96972abadb328");
  assert.deepEqual(out.decoded.transfer, fx._expect);
  // Same conversion as neon-js: base64 ByteString (script hash LE) -> address.
  const fromHex = Buffer.from(n.state.value[0].value, "base64").toString("hex");
  assert.equal(wallet.getAddressFromScriptHash(Neon.u.reverseHex(fromHex)), fx._expect.from);
  assert.equal(out.decoded.state[2], "10000000000");
});

test("transactions neon-js signs verify in r3e as a whole signed transaction", () => {
  const r = generate(SEED + 1, 0.02).filter((c) => c.case.k === "tx").slice(0, 20);
  const priv = "0101010101010101010101010101010101010101010101010101010101010101";
  const acct = new wallet.Account(priv);
  const cases = [];
  for (const c of r) {
    const json = { ...c.case.tx, signers: [{ account: "0x" + acct.scriptHash, scopes: 1 }], witnesses: [] };
    const { attributes, ...rest } = json;
    const t = new Neon.tx.Transaction(rest);
    t.attributes = attributes.map((a) => Neon.tx.TransactionAttribute.fromJson(a));
    t.sign(acct, 894710606);
    const signed = t.serialize(true);
    const w = t.witnesses[0];
    const sig = w.invocationScript.toBigEndian().slice(4);
    cases.push({ k: "verify", pub: acct.publicKey, tx: { ...json, witnesses: [] }, magic: 894710606, sig });
    cases.push({ k: "parse", hex: signed, signed: true });
  }
  const out = runTool(cases);
  out.forEach((o, i) => assert.ok(o.valid === true || o.ok === true, JSON.stringify(o)));
});

test("r3e.neo in JavaScriptCore answers neon-js-style code exactly as neon-js does", () => {
  const cases = generateJs(SEED, 300);
  const r = spawnSync(tool, ["--js"], {
    input: cases.map((c) => c.src).join("\n") + "\n",
    maxBuffer: 1 << 28,
    timeout: 120_000,
    // JavaScriptCore leaks a little at exit by itself; the C side is leak-checked above.
    env: { ...process.env, ASAN_OPTIONS: "detect_leaks=0" },
  });
  assert.equal(r.status, 0, String(r.stderr));
  const lines = r.stdout.toString().trim().split("\n").map((l) => JSON.parse(l));
  assert.equal(lines.length, cases.length);
  const bad = [];
  cases.forEach((c, i) => {
    try {
      assert.deepEqual(lines[i].ok, c.expect);
    } catch (e) {
      bad.push({ src: c.src.slice(0, 300), got: JSON.stringify(lines[i]).slice(0, 300), want: JSON.stringify(c.expect).slice(0, 300) });
    }
  });
  if (bad.length) console.log(JSON.stringify(bad.slice(0, 3), null, 1));
  assert.equal(bad.length, 0, `${bad.length} of ${cases.length} snippets differ`);
});
