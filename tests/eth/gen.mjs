// Seeded differential corpus for r3e's Ethereum primitives, computed with ethers v6 (the
// reference). Prints JSON lines {"id","kind","in","out"} (or "error": true when ethers rejects
// the input); tests/tools/eth_tool.c must print the same "out" for every case.
//
//   node tests/eth/gen.mjs [--seed N] [--scale K]   corpus on stdout
//   node tests/eth/gen.mjs --bench                   ethers keccak/sign/recover throughput
import * as ethers from "ethers";
import { readFileSync } from "node:fs";

const { SigningKey, Transaction, encodeRlp, getAddress, keccak256, recoverAddress, toUtf8Bytes } = ethers;
// ethCompute(E, kind, input): the per-kind ethers calls, shared with the JS-binding run.
const ethCompute = new Function(readFileSync(new URL("./cases.js", import.meta.url), "utf8") + "\nreturn ethCompute;")();

const args = process.argv.slice(2);
const argOf = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};

// xoshiro128** : small, fast, deterministic across platforms.
function makeRng(seed) {
  let s = [0x9e3779b9 ^ seed, 0x243f6a88 + seed, 0xb7e15162 ^ (seed * 7), 0x12345678 + seed * 13].map((x) => x >>> 0);
  const rotl = (x, k) => ((x << k) | (x >>> (32 - k))) >>> 0;
  const next = () => {
    const r = (rotl(Math.imul(s[1], 5) >>> 0, 7) * 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3]; s[2] ^= t; s[3] = rotl(s[3], 11);
    return r >>> 0;
  };
  for (let i = 0; i < 16; i++) next();
  return next;
}

const seed = Number(argOf("--seed", "1"));
const scale = Number(argOf("--scale", "1"));
const next = makeRng(seed);
const int = (n) => next() % n; // 0..n-1
const pick = (arr) => arr[int(arr.length)];
const chance = (p) => next() / 2 ** 32 < p;
const bytes = (n) => {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = next() & 255;
  return b;
};
const hex = (b) => "0x" + Buffer.from(b).toString("hex");
const randHex = (n) => hex(bytes(n));
// Random unsigned integer below 2^bits, biased to edges (0, 1, max, powers of two).
function randUint(bits) {
  const max = (1n << BigInt(bits)) - 1n;
  switch (int(6)) {
    case 0: return pick([0n, 1n, max, max - 1n, 1n << BigInt(bits - 1)]);
    case 1: return BigInt(int(1000)) & max;
    default: {
      const nbits = 1 + int(bits);
      return BigInt(hex(bytes(Math.ceil(nbits / 8)))) & ((1n << BigInt(nbits)) - 1n);
    }
  }
}
function randInt(bits) {
  const half = 1n << BigInt(bits - 1);
  if (chance(0.15)) return pick([-half, half - 1n, -1n, 0n]);
  const v = randUint(bits - 1);
  return chance(0.5) ? -v : v;
}
const STR_PIECES = ["a", "Z", " ", "0", "é", "中文", "😀", "\n", "\"", "\\", "\u0000", "ß", "Ω", "~"];
const randString = () => {
  let s = "";
  const n = pick([0, 1, 5, 31, 32, 33, 70]);
  while (s.length < n) s += pick(STR_PIECES);
  return s;
};
const randAddress = () => getAddress(randHex(20));
const privKey = () => {
  if (chance(0.03)) return pick(["0x" + "00".repeat(31) + "01", "0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364140"]);
  return randHex(32);
};
const dec = (v) => v.toString();

if (args.includes("--bench")) {
  const bench = (op, n, fn) => {
    const t = process.hrtime.bigint();
    for (let i = 0; i < n; i++) fn(i);
    const s = Number(process.hrtime.bigint() - t) / 1e9;
    console.log(JSON.stringify({ op, ops_per_s: Math.round(n / s) }));
  };
  const b32 = new Uint8Array(32).fill(1);
  const kib = new Uint8Array(1024).fill(1);
  bench("keccak256_32B", 100000, () => keccak256(b32));
  bench("keccak256_1KiB", 20000, () => keccak256(kib));
  const key = new SigningKey("0x" + "00".repeat(31) + "07");
  const h = new Uint8Array(32);
  let sig;
  bench("sign", 2000, (i) => { h[0] = i & 255; sig = key.sign(h); });
  bench("recover", 2000, () => recoverAddress(h, sig));
  process.exit(0);
}

let id = 0;
const out = [];
function emit(kind, input) {
  let line;
  try {
    line = { id: id++, kind, in: input, out: ethCompute(ethers, kind, input) };
  } catch (e) {
    line = { id: id++, kind, in: input, error: true, reason: String(e.shortMessage || e.message).slice(0, 120) };
  }
  out.push(JSON.stringify(line));
}

// ---- keccak ----
for (let i = 0; i < 300 * scale; i++) {
  const n = i < 20 ? pick([0, 1, 135, 136, 137, 271, 272, 273]) : int(600);
  const data = randHex(n);
  emit("keccak", { data });
}

// ---- keys and signatures ----
for (let i = 0; i < 200 * scale; i++) {
  const priv = privKey();
  const digest = randHex(32);
  emit("key", { priv, digest });
}

// ---- EIP-55 addresses: lower case in, and checksums with one letter's case flipped ----
for (let i = 0; i < 300 * scale; i++) {
  let address = randAddress();
  if (i % 3 === 0) address = address.toLowerCase();
  else if (i % 3 === 1) {
    const letters = [...address.slice(2)].map((c, j) => (/[a-fA-F]/.test(c) ? j + 2 : -1)).filter((j) => j >= 0);
    if (letters.length) {
      const j = pick(letters);
      const c = address[j];
      address = address.slice(0, j) + (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase()) + address.slice(j + 1);
    }
  } else if (i % 9 === 2) address = "0x" + address.slice(2).toUpperCase();
  emit("address", { address });
}

// ---- RLP ----
function randRlp(depth) {
  if (depth < 4 && chance(0.35)) {
    const n = pick([0, 1, 2, 3, 5, 20]);
    return Array.from({ length: n }, () => randRlp(depth + 1));
  }
  const n = pick([0, 1, 1, 1, 2, 55, 56, 57, 100, 255, 256, 1100]);
  const b = bytes(n);
  if (n === 1 && chance(0.5)) b[0] &= 0x7f;
  return hex(b);
}
for (let i = 0; i < 400 * scale; i++) {
  const value = randRlp(0);
  emit("rlp", { value });
}

// Malformed RLP that both sides must reject: strict prefixes and trailing junk.
// (ethers is laxer than r3e on non-canonical forms such as 0x8100, so those are unit-tested.)
for (let i = 0; i < 100 * scale; i++) {
  const enc = encodeRlp(randRlp(0));
  if (enc.length <= 4) continue;
  const nbytes = (enc.length - 2) / 2;
  const data = i % 2 ? enc.slice(0, 2 + 2 * int(nbytes)) : enc + randHex(1 + int(3)).slice(2);
  emit("rlp_decode", { data });
}

// ---- transactions ----
function randAccessList() {
  return Array.from({ length: pick([0, 0, 1, 2, 3]) }, () => ({
    address: randAddress(),
    storageKeys: Array.from({ length: pick([0, 1, 2, 3]) }, () => randHex(32)),
  }));
}
const u = (bits) => dec(randUint(bits));
function randTx() {
  const type = pick([0, 0, 1, 2, 2]);
  const tx = {
    type,
    chainId: type === 0 && chance(0.2) ? "0" : pick(["1", "5", "137", "31337", dec(BigInt(1 + int(2 ** 31))), dec(randUint(48) + 1n)]),
    nonce: pick(["0", "1", dec(BigInt(int(2 ** 31))), dec(randUint(52))]),
    gasLimit: pick(["21000", u(64), u(256)]),
    to: chance(0.15) ? null : randAddress(),
    value: pick(["0", "1000000000000000000", u(256), u(96)]),
    data: randHex(pick([0, 0, 4, 36, 68, 100, 300])),
  };
  if (type === 2) {
    // Mostly valid (priority fee <= max fee); the rest checks that both sides reject.
    const fees = [pick(["0", "1500000000", u(64), u(256)]), pick(["0", "30000000000", u(64), u(256)])];
    if (chance(0.9)) fees.sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : BigInt(a) > BigInt(b) ? 1 : 0));
    [tx.maxPriorityFeePerGas, tx.maxFeePerGas] = fees;
  } else tx.gasPrice = pick(["0", "20000000000", u(64), u(256)]);
  if (type !== 0) tx.accessList = randAccessList();
  return tx;
}
for (let i = 0; i < 500 * scale; i++) {
  const priv = privKey();
  const txIn = randTx();
  emit("tx", { priv, tx: txIn });
  // Parsing the unsigned forms too (legacy EIP-155 unsigned carries [chainId, 0, 0]).
  if (i % 4 === 0) {
    let raw = null;
    try { raw = Transaction.from({ ...txIn, nonce: Number(txIn.nonce) }).unsignedSerialized; } catch { /* invalid fees */ }
    if (raw) emit("tx_parse", { raw });
  }
}

// ---- ABI types and values ----
const ELEMENTARY = ["uint", "int", "address", "bool", "bytesN", "bytes", "string"];
function randType(depth) {
  const r = int(10);
  if (depth < 3 && r === 0) return { kind: "array", elem: randType(depth + 1) };
  if (depth < 3 && r === 1) return { kind: "fixed", elem: randType(depth + 1), length: 1 + int(3) };
  if (depth < 3 && r === 2) return { kind: "tuple", comps: Array.from({ length: 1 + int(4) }, () => randType(depth + 1)) };
  const k = pick(ELEMENTARY);
  if (k === "uint" || k === "int") return { kind: k, bits: 8 * (1 + int(32)) };
  if (k === "bytesN") return { kind: k, size: 1 + int(32) };
  return { kind: k };
}
// aliases: when true, uint256 may be written "uint" (human-readable only)
function typeStr(t, named, alias) {
  switch (t.kind) {
    case "uint": case "int": return alias && t.bits === 256 && chance(0.5) ? t.kind : t.kind + t.bits;
    case "bytesN": return "bytes" + t.size;
    case "array": return typeStr(t.elem, named, alias) + "[]";
    case "fixed": return typeStr(t.elem, named, alias) + "[" + t.length + "]";
    case "tuple": {
      const inner = t.comps.map((c, i) => typeStr(c, named, alias) + (named ? " c" + i : "")).join(named ? ", " : ",");
      return (named && chance(0.5) ? "tuple(" : "(") + inner + ")";
    }
    default: return t.kind;
  }
}
function randValue(t) {
  switch (t.kind) {
    case "uint": return dec(randUint(t.bits));
    case "int": return dec(randInt(t.bits));
    case "address": return randAddress();
    case "bool": return chance(0.5);
    case "bytesN": return randHex(t.size);
    case "bytes": return randHex(pick([0, 1, 31, 32, 33, 64, 100]));
    case "string": return randString();
    case "array": return Array.from({ length: pick([0, 1, 2, 3, 5]) }, () => randValue(t.elem));
    case "fixed": return Array.from({ length: t.length }, () => randValue(t.elem));
    case "tuple": return t.comps.map(randValue);
  }
}
for (let i = 0; i < 700 * scale; i++) {
  const ts = Array.from({ length: int(5) }, () => randType(0));
  const types = ts.map((t) => typeStr(t, false, false));
  const values = ts.map(randValue);
  emit("abi", { types, values });
}

// ---- human-readable functions and events ----
const LOCATIONS = { bytes: " memory", string: " calldata", array: " memory", fixed: " memory", tuple: " memory" };
function paramStr(t, name, extra) {
  const loc = LOCATIONS[t.kind] && chance(0.4) ? LOCATIONS[t.kind] : "";
  return typeStr(t, true, true) + (extra || "") + loc + (name ? " " + name : "");
}
for (let i = 0; i < 250 * scale; i++) {
  const ins = Array.from({ length: int(5) }, () => randType(1));
  const outs = Array.from({ length: int(3) }, () => randType(1));
  const name = "f" + i.toString(36);
  const mods = pick(["", " external", " view", " external view", " public pure", " payable"]);
  const sig = `function ${name}(${ins.map((t, j) => paramStr(t, chance(0.7) ? "a" + j : "")).join(", ")})${mods}` +
    (outs.length ? ` returns (${outs.map((t, j) => paramStr(t, chance(0.5) ? "r" + j : "")).join(", ")})` : "");
  const values = ins.map(randValue);
  const outValues = outs.map(randValue);
  emit("function", { sig, values, outValues });
}
for (let i = 0; i < 250 * scale; i++) {
  const ins = Array.from({ length: int(6) }, () => randType(1));
  const name = "E" + i.toString(36);
  // At most 3 indexed (4 with anonymous); arrays/tuples are never indexed (ethers cannot encode them).
  let budget = 3;
  const indexed = ins.map((t) => !["array", "fixed", "tuple"].includes(t.kind) && budget > 0 && chance(0.5) && budget-- > 0);
  const anonymous = chance(0.1);
  const sig = `event ${name}(${ins.map((t, j) => paramStr(t, "p" + j, indexed[j] ? " indexed" : "").replace(/ (memory|calldata)/, "")).join(", ")})${anonymous ? " anonymous" : ""}`;
  const values = ins.map(randValue);
  emit("event", { sig, values });
}

for (let i = 0; i < 80 * scale; i++) {
  const ins = Array.from({ length: int(4) }, () => randType(1));
  const sig = `error Err${i.toString(36)}(${ins.map((t, j) => paramStr(t, chance(0.5) ? "e" + j : "").replace(/ (memory|calldata)/, "")).join(", ")})`;
  emit("error", { sig, values: ins.map(randValue) });
}

// ---- EIP-191 messages ----
for (let i = 0; i < 150 * scale; i++) {
  const priv = privKey();
  const input = chance(0.5) ? { priv, text: randString() } : { priv, data: randHex(pick([0, 1, 32, 65, 200])) };
  emit("message", input);
}

// ---- EIP-712 typed data ----
const TYPED_ATOMIC = ["uint256", "uint8", "int64", "int256", "address", "bool", "bytes32", "bytes4", "bytes", "string"];
function typedValue(types, type) {
  const m = type.match(/^(.*)\[(\d*)\]$/);
  if (m) return Array.from({ length: m[2] ? Number(m[2]) : pick([0, 1, 2, 3]) }, () => typedValue(types, m[1]));
  if (types[type]) return Object.fromEntries(types[type].map((f) => [f.name, typedValue(types, f.type)]));
  const t = { uint256: { kind: "uint", bits: 256 }, uint8: { kind: "uint", bits: 8 }, int64: { kind: "int", bits: 64 },
    int256: { kind: "int", bits: 256 }, bytes32: { kind: "bytesN", size: 32 }, bytes4: { kind: "bytesN", size: 4 } }[type] || { kind: type };
  return randValue(t);
}
function randTyped(i) {
  // Struct names chosen so sorting matters: the primary is "Zmain", references sort A.., B.., C..
  const names = ["Zmain", "Cthird", "Asub", "Bother"].slice(0, 1 + int(4));
  const types = {};
  for (let k = names.length - 1; k >= 0; k--) {
    const fields = [];
    const nf = 1 + int(4);
    for (let j = 0; j < nf; j++) {
      let ft = pick(TYPED_ATOMIC);
      // Reference only later names (no cycles); the first name stays the unique root.
      const later = names.slice(k + 1);
      if (later.length && chance(0.5)) ft = pick(later);
      if (chance(0.2)) ft += pick(["[]", "[2]", "[][2]", "[1][]"]);
      fields.push({ name: "f" + j, type: ft });
    }
    types[names[k]] = fields;
  }
  // Make every secondary type reachable from the root so the primary type is unique.
  for (let k = 1; k < names.length; k++) types[names[0]].push({ name: "ref" + k, type: names[k] });
  const domain = {};
  if (chance(0.8)) domain.name = "r3e-" + i;
  if (chance(0.6)) domain.version = String(1 + int(3));
  if (chance(0.7)) domain.chainId = pick(["1", "137", dec(randUint(64))]);
  if (chance(0.7)) domain.verifyingContract = randAddress();
  if (chance(0.3)) domain.salt = randHex(32);
  return { domain, types, primaryType: names[0], message: typedValue(types, names[0]) };
}
for (let i = 0; i < 200 * scale; i++) {
  const td = randTyped(i);
  const priv = privKey();
  emit("typed", { priv, ...td });
}
// The EIP-712 specification's own example ("Mail"), with its published digest.
{
  const types = {
    Person: [{ name: "name", type: "string" }, { name: "wallet", type: "address" }],
    Mail: [{ name: "from", type: "Person" }, { name: "to", type: "Person" }, { name: "contents", type: "string" }],
  };
  const domain = { name: "Ether Mail", version: "1", chainId: "1", verifyingContract: "0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC" };
  const message = {
    from: { name: "Cow", wallet: "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826" },
    to: { name: "Bob", wallet: "0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB" },
    contents: "Hello, Bob!",
  };
  const priv = keccak256(toUtf8Bytes("cow"));
  emit("typed", { priv, domain, types, primaryType: "Mail", message });
}

process.stdout.write(out.join("\n") + "\n");
