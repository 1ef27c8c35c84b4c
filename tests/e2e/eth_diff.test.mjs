// Differential test: r3e's Ethereum primitives must produce byte-identical outputs to ethers v6
// on a seeded random corpus (tests/eth/gen.mjs: keccak, keys and signatures, EIP-55, RLP,
// transactions, ABI, human-readable functions and events, EIP-191, EIP-712). Checked twice:
// the C API (src/chain/eth through <build>/eth_tool) and the JS binding r3e.eth running the
// same ethers-API code (tests/eth/cases.js) inside JavaScriptCore (eth_tool --js).
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";

const root = path.resolve(import.meta.dirname, "../..");
const ethDir = path.join(root, "tests/eth");
const buildDir = process.env.R3E_BUILD_DIR || path.join(root, "build");
const tool = path.join(buildDir, "eth_tool");
const seed = process.env.R3E_ETH_SEED || "1";
let cases = [];

before(() => {
  assert.ok(existsSync(tool), `missing ${tool}: build the eth_tool target`);
  if (!existsSync(path.join(ethDir, "node_modules/ethers")))
    execFileSync("npm", ["ci", "--prefix", ethDir, "--no-audit", "--no-fund"], { stdio: "inherit", timeout: 180_000 });
  const gen = spawnSync("node", [path.join(ethDir, "gen.mjs"), "--seed", seed], {
    encoding: "utf8", maxBuffer: 1 << 28, timeout: 120_000,
  });
  assert.equal(gen.status, 0, `gen.mjs failed: ${gen.stderr}`);
  cases = gen.stdout.trim().split("\n").map((l) => JSON.parse(l));
  const kinds = {};
  for (const c of cases) kinds[c.kind] = (kinds[c.kind] || 0) + 1;
  console.log(`corpus (seed ${seed}): ${cases.length} cases ${JSON.stringify(kinds)}, ` +
    `${cases.filter((c) => c.error).length} of them rejected by ethers (r3e must reject too)`);
});

function runAndCompare(args) {
  const input = cases.map((c) => JSON.stringify({ id: c.id, kind: c.kind, in: c.in })).join("\n") + "\n";
  const run = spawnSync(tool, args, { input, encoding: "utf8", maxBuffer: 1 << 28, timeout: 120_000 });
  assert.equal(run.status, 0, `eth_tool ${args.join(" ")} failed (status ${run.status}, signal ${run.signal}): ${run.stderr.slice(0, 2000)}`);
  const got = new Map(run.stdout.trim().split("\n").map((l) => {
    const r = JSON.parse(l);
    return [r.id, r];
  }));
  const mismatches = [];
  for (const c of cases) {
    const r = got.get(c.id);
    let why = null;
    if (!r) why = "no output";
    else if (c.error && !r.error) why = `ethers rejects (${c.reason}) but r3e accepted`;
    else if (!c.error && r.error) why = `r3e rejected: ${r.error}`;
    else if (!c.error && JSON.stringify(r.out) !== JSON.stringify(c.out)) why = "different output";
    if (why) mismatches.push({ c, r, why });
  }
  for (const { c, r, why } of mismatches.slice(0, 5)) {
    console.log(`\n--- mismatch #${c.id} (${c.kind}): ${why}`);
    console.log("input:   ", JSON.stringify(c.in).slice(0, 800));
    console.log("ethers:  ", JSON.stringify(c.error ? { error: c.reason } : c.out).slice(0, 800));
    console.log("r3e:     ", JSON.stringify(r ? (r.error ? { error: r.error } : r.out) : null).slice(0, 800));
  }
  assert.equal(mismatches.length, 0, `${mismatches.length} of ${cases.length} cases differ from ethers`);
}

test("C API (src/chain/eth) matches ethers v6 byte for byte", { timeout: 180_000 }, () => {
  runAndCompare([]);
});

test("JS binding r3e.eth in JavaScriptCore matches ethers v6 byte for byte", { timeout: 180_000 }, () => {
  runAndCompare(["--js", path.join(ethDir, "cases.js")]);
});
