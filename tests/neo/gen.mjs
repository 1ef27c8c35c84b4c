// Seeded differential corpus for r3e's Neo N3 primitives, with @cityofzion/neon-js 5.9.0
// as the reference. Each entry is { case, expect } where `case` is one line for
// <build>/neo_tool and `expect` is what neon-js computed (null when the check needs the
// tool's output first, e.g. r3e signs -> neon-js verifies).
//
//   node tests/neo/gen.mjs [seed] > corpus.jsonl      (or import { generate })
import Neon from "@cityofzion/neon-js";

export { Neon };
const { wallet, sc, tx, u } = Neon;

// splitmix32-style PRNG: the same seed gives the same corpus on every machine.
export function makeRng(seed) {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  const int = (n) => next() % n; // [0, n)
  const bytes = (n) => {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = next() & 0xff;
    return b;
  };
  const hex = (n) => Buffer.from(bytes(n)).toString("hex");
  const pick = (arr) => arr[int(arr.length)];
  const chance = (p) => next() / 4294967296 < p;
  return { next, int, bytes, hex, pick, chance };
}

const N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const hexOfBig = (v, n) => v.toString(16).padStart(2 * n, "0");

function privKey(r) {
  for (;;) {
    const k = BigInt("0x" + r.hex(32));
    if (k > 0n && k < N) return hexOfBig(k, 32);
  }
}

const keyCache = new Map();
function account(priv) {
  if (!keyCache.has(priv)) keyCache.set(priv, new wallet.Account(priv));
  return keyCache.get(priv);
}

// A pool of real public keys (groups, multisig) so key derivation is not repeated.
function keyPool(r, n) {
  const out = [];
  for (let i = 0; i < n; i++) out.push(account(privKey(r)).publicKey);
  return out;
}

// ---------------------------------------------------------------- accounts

function accountCase(priv) {
  const a = account(priv);
  return {
    case: { k: "account", priv },
    expect: {
      wif: a.WIF,
      pub: a.publicKey,
      vscript: wallet.getVerificationScriptFromPublicKey(a.publicKey),
      hash: "0x" + a.scriptHash,
      address: a.address,
      wif_priv: wallet.getPrivateKeyFromWIF(a.WIF),
      addr_hash: "0x" + wallet.getScriptHashFromAddress(a.address),
    },
  };
}

// ---------------------------------------------------------------- scripts

function randomInt(r) {
  const edges = [
    -1n, 0n, 1n, 16n, 17n, -2n, 127n, 128n, -128n, -129n, 255n, 256n, 32767n, 32768n,
    -32768n, -32769n, 65535n, 65536n, 2n ** 31n - 1n, 2n ** 31n, -(2n ** 31n), 2n ** 63n - 1n,
    2n ** 63n, -(2n ** 63n), -(2n ** 63n) - 1n, 2n ** 127n - 1n, 2n ** 127n, -(2n ** 127n),
    2n ** 255n - 1n, -(2n ** 255n), 100000000n, 10n ** 18n,
  ];
  if (r.chance(0.25)) return r.pick(edges);
  if (r.chance(0.3)) return BigInt(r.int(40)) - 20n;
  const len = 1 + r.int(r.chance(0.5) ? 8 : 32);
  let v = BigInt("0x" + r.hex(len)) >> BigInt(r.int(8));
  if (len === 32) v >>= 1n; // keep within signed 256-bit
  return r.chance(0.4) ? -v : v;
}

function randomString(r) {
  const alphabet = ["a", "Z", "0", " ", "é", "ß", "中", "文", "🙂", "\u0000", "\n", "\"", "\\"];
  const len = r.chance(0.05) ? 100 + r.int(400) : r.int(40);
  let s = "";
  for (let i = 0; i < len; i++) s += r.pick(alphabet);
  return s;
}

const SYSCALLS = [
  "System.Runtime.Notify", "System.Runtime.Log", "System.Runtime.CheckWitness",
  "System.Runtime.GetTime", "System.Storage.GetContext", "System.Storage.Get",
  "System.Storage.Put", "System.Contract.Call", "System.Crypto.CheckSig",
  "System.Crypto.CheckMultisig", "System.Iterator.Next", "System.Runtime.GetNetwork",
];
const NATIVE = {
  gas: "d2a4cff31913016155e38e474a2c06d08be276cf",
  neo: "ef4073a0f2b305a38ec4050e4d3d28bc40ea63f5",
};

// One op as [name, ...args] for r3e and a ContractParam (or builder action) for neon-js.
function randomParam(r, pubs, depth) {
  const kinds = ["int", "int", "bool", "null", "str", "bytes", "h160", "h256", "pubkey"];
  if (depth < 2) kinds.push("array");
  const kind = r.pick(kinds);
  switch (kind) {
    case "int": {
      const v = randomInt(r).toString();
      return { op: ["int", v], param: sc.ContractParam.integer(v) };
    }
    case "bool": {
      const v = r.chance(0.5);
      return { op: ["bool", v], param: sc.ContractParam.boolean(v) };
    }
    case "null":
      return { op: ["null"], param: sc.ContractParam.any(null) };
    case "str": {
      const s = randomString(r);
      return { op: ["str", s], param: sc.ContractParam.string(s) };
    }
    case "bytes": {
      const big = r.chance(0.03);
      const h = r.hex(big ? 256 + r.int(70000) : r.int(300));
      return { op: ["bytes", h], param: sc.ContractParam.byteArray(u.HexString.fromHex(h, true)) };
    }
    case "h160": {
      const h = r.hex(20);
      if (r.chance(0.3)) {
        const addr = wallet.getAddressFromScriptHash(h);
        return { op: ["h160", addr], param: sc.ContractParam.hash160(addr) };
      }
      return { op: ["h160", "0x" + h], param: sc.ContractParam.hash160(h) };
    }
    case "h256": {
      const h = r.hex(32);
      return { op: ["h256", "0x" + h], param: sc.ContractParam.hash256(h) };
    }
    case "pubkey": {
      const p = r.pick(pubs);
      return { op: ["pubkey", p], param: sc.ContractParam.publicKey(p) };
    }
    case "array": {
      const items = Array.from({ length: r.int(5) }, () => randomParam(r, pubs, depth + 1));
      return {
        op: ["array", items.map((i) => i.op)],
        param: sc.ContractParam.array(...items.map((i) => i.param)),
      };
    }
  }
  throw new Error(kind);
}

function randomScript(r, pubs) {
  const ops = [];
  const sb = new sc.ScriptBuilder();
  const count = 1 + r.int(6);
  for (let i = 0; i < count; i++) {
    const what = r.int(10);
    if (what < 5) {
      const p = randomParam(r, pubs, 0);
      ops.push(p.op);
      sb.emitContractParam(p.param);
    } else if (what === 5) {
      const name = r.pick(SYSCALLS);
      ops.push(["syscall", name]);
      sb.emitSysCall(sc.generateInteropServiceCode(name));
    } else if (what < 8) {
      const hash = r.chance(0.5) ? r.pick(Object.values(NATIVE)) : r.hex(20);
      const method = r.pick(["transfer", "balanceOf", "symbol", "vote", "x", "äöü"]);
      const flags = r.pick([0, 1, 2, 3, 4, 5, 8, 15]);
      const args = Array.from({ length: r.int(4) }, () => randomParam(r, pubs, 1));
      ops.push(["call", "0x" + hash, method, flags, args.map((a) => a.op)]);
      sb.emitContractCall({ scriptHash: hash, operation: method, callFlags: flags, args: args.map((a) => a.param) });
    } else if (what === 8) {
      const token = r.pick(Object.values(NATIVE));
      const from = wallet.getAddressFromScriptHash(r.hex(20));
      const to = r.hex(20);
      const amount = (BigInt("0x" + r.hex(1 + r.int(12)))).toString();
      ops.push(["transfer", "0x" + token, from, "0x" + to, amount]);
      sb.emitContractCall(new sc.Nep17Contract(token).transfer(from, to, amount));
    } else {
      const token = r.pick(Object.values(NATIVE));
      const acct = wallet.getAddressFromScriptHash(r.hex(20));
      ops.push(["balanceOf", "0x" + token, acct]);
      sb.emitContractCall(new sc.Nep17Contract(token).balanceOf(acct));
    }
  }
  return { ops, script: sb.build() };
}

// ---------------------------------------------------------------- multisig

function multisigCase(r, pubs) {
  const n = 1 + r.int(r.chance(0.2) ? 20 : 7);
  const keys = [];
  while (keys.length < n) {
    const k = r.pick(pubs);
    if (!keys.includes(k)) keys.push(k);
  }
  const m = 1 + r.int(n);
  // neon-js leaves ordering to the caller; the node sorts by X (then Y).
  // Uncompressed form is 04 || X || Y (fixed width), so string order is X-then-Y order.
  const full = (k) => wallet.getPublicKeyUnencoded(k);
  const sorted = [...keys].sort((a, b) => (full(a) < full(b) ? -1 : full(a) > full(b) ? 1 : 0));
  const script = wallet.constructMultiSigVerificationScript(m, sorted);
  const hash = wallet.getScriptHashFromVerificationScript(script);
  return {
    case: { k: "multisig", m, pubs: keys },
    expect: { script, hash: "0x" + hash, address: wallet.getAddressFromScriptHash(hash) },
  };
}

// ---------------------------------------------------------------- transactions

function randomCondition(r, pubs, depth) {
  const leaves = ["Boolean", "ScriptHash", "Group", "CalledByEntry", "CalledByContract", "CalledByGroup"];
  const kinds = depth < 2 ? [...leaves, "Not", "And", "Or", "And"] : leaves;
  const type = r.pick(kinds);
  switch (type) {
    case "Boolean": return { type, expression: r.chance(0.5) };
    case "ScriptHash":
    case "CalledByContract": return { type, hash: r.hex(20) };
    case "Group":
    case "CalledByGroup": return { type, group: r.pick(pubs) };
    case "CalledByEntry": return { type };
    case "Not": return { type, expression: randomCondition(r, pubs, depth + 1) };
    default:
      return { type, expressions: Array.from({ length: 1 + r.int(3) }, () => randomCondition(r, pubs, depth + 1)) };
  }
}

function randomSigner(r, pubs, account) {
  const scopes = r.pick([0x00, 0x01, 0x80, 0x01, 0x10, 0x20, 0x40, 0x11, 0x21, 0x31, 0x41, 0x71, 0x70, 0x50]);
  const s = { account: "0x" + account, scopes };
  if (scopes & 0x10) s.allowedContracts = Array.from({ length: r.int(4) }, () => r.hex(20));
  if (scopes & 0x20) s.allowedGroups = Array.from({ length: r.int(3) }, () => r.pick(pubs));
  if (scopes & 0x40)
    s.rules = Array.from({ length: r.int(4) }, () => ({
      action: r.pick(["Allow", "Deny", 0, 1]),
      condition: randomCondition(r, pubs, 0),
    }));
  return s;
}

const ORACLE_CODES = ["ProtocolNotSupported", "ConsensusUnreachable", "NotFound", "Timeout", "Forbidden",
  "ResponseTooLarge", "InsufficientFunds", "ContentTypeNotSupported", "Error"];

function randomTx(r, pubs, privs) {
  const nsigners = r.chance(0.05) ? 1 + r.int(16) : 1 + r.int(3);
  const signers = [];
  const witnesses = [];
  const seen = new Set();
  while (signers.length < nsigners) {
    const useKey = r.chance(0.7);
    const priv = useKey ? r.pick(privs) : null;
    const vs = useKey ? wallet.getVerificationScriptFromPublicKey(account(priv).publicKey) : r.hex(r.int(60));
    const hash = useKey ? account(priv).scriptHash : r.hex(20);
    if (seen.has(hash)) continue;
    seen.add(hash);
    signers.push(randomSigner(r, pubs, hash));
    witnesses.push({ invocationScript: r.chance(0.5) ? "0c40" + r.hex(64) : r.hex(r.int(120)), verificationScript: vs });
  }
  const attributes = [];
  const room = 16 - nsigners;
  if (room > 0 && r.chance(0.3)) attributes.push({ type: "HighPriority" });
  if (attributes.length < room && r.chance(0.3)) {
    const ok = r.chance(0.6);
    attributes.push({
      type: "OracleResponse",
      id: r.int(2 ** 31) * 65536 + r.int(65536),
      code: ok ? "Success" : r.pick(ORACLE_CODES),
      result: ok ? Buffer.from(r.bytes(r.int(r.chance(0.1) ? 2000 : 80))).toString("base64") : "",
    });
  }
  const script = r.chance(0.6) ? randomScript(r, pubs).script : r.hex(1 + r.int(r.chance(0.1) ? 6000 : 200));
  const fee = () => (r.chance(0.2) ? BigInt(r.int(1000)) : BigInt("0x" + r.hex(8)) >> BigInt(2 + r.int(40))).toString();
  const json = {
    version: 0,
    nonce: r.next(),
    systemFee: fee(),
    networkFee: fee(),
    validUntilBlock: r.next(),
    signers,
    attributes,
    script,
    witnesses,
  };
  return json;
}

function neonTx(json) {
  const { attributes, ...rest } = json;
  const t = new tx.Transaction(rest);
  // neon-js 5.9.0's constructor ignores `attributes`; set them afterwards.
  t.attributes = attributes.map((a) => tx.TransactionAttribute.fromJson(a));
  return t;
}

function txCase(json) {
  const t = neonTx(json);
  return {
    case: { k: "tx", tx: json },
    expect: { unsigned: t.serialize(false), signed: t.serialize(true), hash: "0x" + t.hash(), roundtrip: true },
  };
}

// ---------------------------------------------------------------- signatures

function signCases(r, privs, pubs) {
  const out = [];
  const MAGICS = [860833102, 894710606, r.next()];
  for (let i = 0; i < 60; i++) {
    const priv = r.pick(privs);
    const msg = r.hex(r.int(200));
    // r3e signs, neon-js verifies (checked in the test once the tool has answered).
    out.push({ case: { k: "sign", priv, msg }, expect: null, check: "neon_verify_msg" });
    // neon-js signs, r3e verifies; a flipped bit must fail.
    const sig = wallet.sign(msg, priv);
    out.push({ case: { k: "verify", pub: account(priv).publicKey, msg, sig }, expect: { valid: true } });
    const bad = sig.slice(0, 10) + ((parseInt(sig[10], 16) ^ 1).toString(16)) + sig.slice(11);
    out.push({ case: { k: "verify", pub: account(priv).publicKey, msg, sig: bad }, expect: { valid: false } });
  }
  for (let i = 0; i < 40; i++) {
    const priv = r.pick(privs);
    const json = randomTx(r, pubs, privs);
    const magic = r.pick(MAGICS);
    out.push({ case: { k: "sign", priv, tx: json, magic }, expect: null, check: "neon_verify_tx" });
    const t = neonTx(json);
    const sig = wallet.sign(t.getMessageForSigning(magic), priv);
    out.push({ case: { k: "verify", pub: account(priv).publicKey, tx: json, magic, sig }, expect: { valid: true } });
    out.push({ case: { k: "verify", pub: account(priv).publicKey, tx: json, magic: (magic + 1) >>> 0, sig }, expect: { valid: false } });
  }
  return out;
}

// Must be rejected: wrong address version, broken checksum, wrong WIF shape.
function negativeCases(r) {
  const out = [];
  for (let i = 0; i < 40; i++) {
    const h = r.hex(20);
    const legacy = wallet.getAddressFromScriptHash(h, 0x17); // Neo Legacy version byte
    out.push({ case: { k: "address", address: legacy }, expect: { valid: wallet.isAddress(legacy, 0x35) } });
    const good = wallet.getAddressFromScriptHash(h);
    const pos = 1 + r.int(good.length - 1);
    const alt = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz".replace(good[pos], "");
    const broken = good.slice(0, pos) + r.pick([...alt]) + good.slice(pos + 1);
    out.push({ case: { k: "address", address: broken }, expect: { valid: wallet.isAddress(broken, 0x35) } });
    out.push({ case: { k: "address", address: good }, expect: { valid: true, hash: "0x" + h } });
  }
  return out;
}

// ---------------------------------------------------------------- network fee

// Standard witnesses only, no attributes. neon-js 5.9.0's offline api.calculateNetworkFee
// has three gaps r3e does not copy (r3e follows the node; unit tests cover those cases):
// it drops attributes (its Transaction constructor ignores them), its isMultisigContract
// inverts the PUSH1..PUSH16 range check (so only 1-of-n and 16-of-n are seen as multisig),
// and it prices CheckMultisig by m where the node charges n. So: single-sig and 1-of-1.
function netFeeCase(r, pubs, privs) {
  const json = randomTx(r, pubs, privs);
  json.attributes = [];
  const seen = new Set();
  json.signers = json.signers.slice(0, 1 + r.int(3));
  json.witnesses = [];
  for (const s of json.signers) {
    let vs;
    if (r.chance(0.7)) {
      vs = wallet.getVerificationScriptFromPublicKey(account(r.pick(privs)).publicKey);
    } else {
      const n = 1;
      const keys = [];
      while (keys.length < n) {
        const k = r.pick(pubs);
        if (!keys.includes(k)) keys.push(k);
      }
      const full = (k) => wallet.getPublicKeyUnencoded(k);
      keys.sort((a, b) => (full(a) < full(b) ? -1 : full(a) > full(b) ? 1 : 0));
      vs = wallet.constructMultiSigVerificationScript(n, keys);
    }
    const hash = wallet.getScriptHashFromVerificationScript(vs);
    if (seen.has(hash)) continue;
    seen.add(hash);
    s.account = "0x" + hash;
    json.witnesses.push({ invocationScript: "", verificationScript: vs });
  }
  json.signers = json.signers.filter((s) => json.witnesses.some((w) => "0x" + wallet.getScriptHashFromVerificationScript(w.verificationScript) === s.account));
  const feePerByte = r.pick([1000, 1, 0, 20000]);
  const execFeeFactor = r.pick([30, 1, 0, 1000]);
  const fee = Neon.api.calculateNetworkFee(neonTx(json), feePerByte, execFeeFactor).toString();
  return { case: { k: "netfee", tx: json, feePerByte, execFeeFactor }, expect: { fee } };
}

// ---------------------------------------------------------------- JS API (r3e.neo vs neon-js)

// Random neon-js-style code using only the API r3e.neo shares with neon-js. Each source is
// a function of the namespace; it runs as fn(Neon) here and as fn(r3e.neo) in the sandbox.
function jsPrimitive(r, depth) {
  const k = r.int(depth < 2 ? 6 : 5);
  if (k === 0) return String(r.int(2) ? r.int(100000) - 50000 : r.int(40) - 20);
  if (k === 1) return JSON.stringify(randomString(r).replace(/\u0000/g, ""));
  if (k === 2) return r.chance(0.5) ? "true" : "false";
  if (k === 3) return "null";
  if (k === 4) return `sc.ContractParam.integer(${JSON.stringify(randomInt(r).toString())})`;
  return `[${Array.from({ length: r.int(4) }, () => jsPrimitive(r, depth + 1)).join(", ")}]`;
}

export function jsCases(r, privs, pubs, count) {
  const out = [];
  for (let i = 0; i < count; i++) {
    const priv = r.pick(privs);
    const acct = account(priv);
    let src;
    switch (r.int(7)) {
      case 0: {
        const key = r.chance(0.5) ? priv : acct.WIF;
        src = `(neo) => { const a = new neo.wallet.Account("${key}"); return [a.WIF, a.publicKey, a.scriptHash, a.address, a.privateKey]; }`;
        break;
      }
      case 1: {
        const h = r.hex(20);
        const addr = wallet.getAddressFromScriptHash(h);
        src = `(neo) => { const w = neo.wallet; return [w.getScriptHashFromAddress("${addr}"), w.getAddressFromScriptHash("${h}"), w.isAddress("${addr}"), w.getScriptHashFromPublicKey("${acct.publicKey}"), w.getVerificationScriptFromPublicKey("${acct.publicKey}"), w.getPublicKeyFromPrivateKey("${priv}"), w.getWIFFromPrivateKey("${priv}"), w.getPrivateKeyFromWIF("${acct.WIF}")]; }`;
        break;
      }
      case 2: {
        const pushes = Array.from({ length: 1 + r.int(5) }, () => `.emitPush(${jsPrimitive(r, 0)})`).join("");
        src = `(neo) => { const sc = neo.sc; return new sc.ScriptBuilder()${pushes}.build(); }`;
        break;
      }
      case 3: {
        const token = r.pick(Object.values(NATIVE));
        const to = wallet.getAddressFromScriptHash(r.hex(20));
        const amount = BigInt("0x" + r.hex(1 + r.int(10))).toString();
        src = `(neo) => { const sc = neo.sc; const c = new sc.Nep17Contract("${token}"); return [new sc.ScriptBuilder().emitContractCall(c.transfer("${acct.address}", "${to}", "${amount}")).build(), new sc.ScriptBuilder().emitContractCall(c.balanceOf("${to}")).build(), new sc.ScriptBuilder().emitAppCall("${token}", "symbol", [], sc.CallFlags.ReadOnly).build()]; }`;
        break;
      }
      case 4: {
        const script = randomScript(r, pubs).script;
        const signers = [{ account: acct.scriptHash, scopes: r.pick([0, 1, 0x80]) }];
        src = `(neo) => { const t = new neo.tx.Transaction({ nonce: ${r.next()}, systemFee: "${r.int(1e9)}", networkFee: "${r.int(1e7)}", validUntilBlock: ${r.next()}, signers: ${JSON.stringify(signers)}, script: "${script}" }); return [t.serialize(false), t.hash(), t.getMessageForSigning(${r.pick([860833102, 894710606])})]; }`;
        break;
      }
      case 5: {
        const vs = wallet.getVerificationScriptFromPublicKey(acct.publicKey);
        const t = `{ nonce: ${r.next()}, validUntilBlock: ${r.next()}, signers: [{ account: "${acct.scriptHash}", scopes: 1 }], script: "${randomScript(r, pubs).script}", witnesses: [{ invocationScript: "", verificationScript: "${vs}" }] }`;
        src = `(neo) => String(neo.api.calculateNetworkFee(new neo.tx.Transaction(${t}), ${r.pick([1000, 1, 5000])}, ${r.pick([30, 1, 100])}))`;
        break;
      }
      default: {
        const msg = r.hex(r.int(100));
        const sig = wallet.sign(msg, priv);
        const bad = sig.slice(0, 20) + (sig[20] === "0" ? "1" : "0") + sig.slice(21);
        src = `(neo) => [neo.wallet.verify("${msg}", "${sig}", "${acct.publicKey}"), neo.wallet.verify("${msg}", "${bad}", "${acct.publicKey}")]`;
      }
    }
    // eslint-disable-next-line no-eval
    out.push({ src, expect: (0, eval)(src)(Neon) });
  }
  return out;
}

// ---------------------------------------------------------------- corpus

export function generate(seed = 1, scale = 1) {
  const r = makeRng(seed);
  const cases = [];
  const edgeKeys = ["01", "02", hexOfBig(N - 1n, 32)].map((k) => k.padStart(64, "0"));
  const privs = [...edgeKeys];
  for (let i = 0; i < 800 * scale; i++) privs.push(privKey(r));
  for (const p of privs) cases.push(accountCase(p));
  const pubs = privs.slice(0, 64).map((p) => account(p).publicKey);
  for (let i = 0; i < 1500 * scale; i++) {
    const s = randomScript(r, pubs);
    cases.push({ case: { k: "script", ops: s.ops }, expect: { script: s.script } });
  }
  for (let i = 0; i < 200 * scale; i++) cases.push(multisigCase(r, pubs));
  for (let i = 0; i < 1500 * scale; i++) cases.push(txCase(randomTx(r, pubs, privs.slice(0, 64))));
  for (let i = 0; i < 150 * scale; i++) cases.push(netFeeCase(r, pubs, privs.slice(0, 64)));
  cases.push(...signCases(r, privs.slice(0, 64), pubs));
  cases.push(...negativeCases(r));
  return cases;
}

// The JS-API corpus: `count` snippets with neon-js's answers.
export function generateJs(seed = 1, count = 600) {
  const r = makeRng(seed ^ 0x5eed);
  const privs = Array.from({ length: 32 }, () => privKey(r));
  const pubs = privs.map((p) => account(p).publicKey);
  return jsCases(r, privs, pubs, count);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const seed = Number(process.argv[2] ?? 1);
  for (const c of generate(seed)) process.stdout.write(JSON.stringify(c) + "\n");
}
