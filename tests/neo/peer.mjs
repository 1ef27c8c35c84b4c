// A small Neo N3 JSON-RPC test peer built on @cityofzion/neon-js 5.9.0 (neon-core).
//
// It STANDS IN FOR A NODE in r3e's tests: no Neo N3 node installs from Debian or npm on the
// build box. It is not a node: there is no consensus, no P2P, no real NeoVM and no contract
// storage. What it does do (see docs/testing-neo-peer.md for the full list):
//   - keeps a chain of generated blocks with real Neo header serialization, hashes, prevhash
//     linkage, merkle roots and a validator witness signed over magic ‖ hash;
//   - holds real, signed transactions (neon-core serialization) and their application logs;
//   - evaluates scripts with a tiny VM that understands the push opcodes, PACK and
//     System.Contract.Call into NEO, GAS and one test token (symbol, decimals, totalSupply,
//     balanceOf, transfer), so invokefunction/invokescript answer with typed stacks and
//     NEP-17 transfers emit real Transfer notifications;
//   - validates every sendrawtransaction: strict deserialization, one witness per signer whose
//     verification script hashes to the signer, every signature checked against
//     magic ‖ tx hash, validUntilBlock window, duplicates, system fee > 0, network fee ≥ the
//     size+verification fee, sender GAS balance — rejecting with Neo's (NEP-23) error codes.
//
//   import { startNeoPeer } from "./peer.mjs";  const peer = await startNeoPeer({ port: 0 });
//   node tests/neo/peer.mjs --port 20332 [--magic N] [--block-ms MS] [--auto-mine]
import http from "node:http";
import { pathToFileURL } from "node:url";
import Neon from "@cityofzion/neon-js";

export { Neon }; // the same neon-js instance, for tests that check what the peer holds
const { wallet, sc, tx, u, api, CONST } = Neon;

export const NEO_HASH = CONST.NATIVE_CONTRACT_HASH.NeoToken; // big-endian hex, no 0x
export const GAS_HASH = CONST.NATIVE_CONTRACT_HASH.GasToken;
export const TEST_TOKEN_HASH = u.reverseHex(u.hash160(u.str2hexstring("r3e-test-token")));

const FEE_PER_BYTE = 1000n;
const EXEC_FEE_FACTOR = 30;
const MAX_VUB_INCREMENT = 5760;
const MAX_TX_SIZE = 102400;
const CONTRACT_CALL = sc.InteropServiceCode.SYSTEM_CONTRACT_CALL; // "627d5b52"
const CHECKSIG = sc.InteropServiceCode.SYSTEM_CRYPTO_CHECKSIG;

// NEP-23 / Neo 3.x RpcServer error codes and messages.
export const ERR = {
  BadRequest: [-32700, "Bad request"],
  InvalidRequest: [-32600, "Invalid request"],
  MethodNotFound: [-32601, "Method not found"],
  InvalidParams: [-32602, "Invalid params"],
  InternalServerError: [-32603, "Internal server RpcError"],
  UnknownBlock: [-101, "Unknown block"],
  UnknownContract: [-102, "Unknown contract"],
  UnknownTransaction: [-103, "Unknown transaction"],
  UnknownHeight: [-109, "Unknown height"],
  VerificationFailed: [-500, "Inventory verification failed"],
  AlreadyExists: [-501, "Inventory already exists"],
  AlreadyInPool: [-503, "Already in pool"],
  InsufficientNetworkFee: [-504, "Insufficient network fee"],
  PolicyFailed: [-505, "Policy check failed"],
  InvalidScript: [-506, "Invalid transaction script"],
  InvalidAttribute: [-507, "Invalid transaction attribute"],
  InvalidSignature: [-508, "Invalid signature"],
  InvalidSize: [-509, "Invalid inventory size"],
  ExpiredTransaction: [-510, "Expired transaction"],
  InsufficientFunds: [-511, "Insufficient funds for fee"],
  InvalidContractVerification: [-512, "Invalid contract verification function"],
};

class RpcError extends Error {
  constructor([code, message], data) {
    super(data ? `${message} - ${data}` : message);
    this.code = code;
    this.data = data;
  }
  toJson() {
    return { code: this.code, message: this.message };
  }
}
const fail = (kind, data) => {
  throw new RpcError(kind, data);
};

// ---------- small helpers ----------
const strip0x = (h) => (typeof h === "string" && /^0x/i.test(h) ? h.slice(2) : h);
const isHex = (h, bytes) =>
  typeof h === "string" && /^[0-9a-f]*$/i.test(h) && h.length % 2 === 0 && (bytes === undefined || h.length === 2 * bytes);
const b64ToHex = (b) => Buffer.from(b, "base64").toString("hex");
const hexToB64 = (h) => Buffer.from(h, "hex").toString("base64");
const le32 = (n) => u.num2hexstring(n, 4, true);
const le64 = (n) => BigInt.asUintN(64, BigInt(n)).toString(16).padStart(16, "0").match(/../g).reverse().join("");

// Accepts an address, "0x"+BE hex or BE hex; returns BE script hash hex (lower case).
function toScriptHash(v, what = "account") {
  if (typeof v !== "string") fail(ERR.InvalidParams, `${what} must be a string`);
  const s = strip0x(v);
  if (isHex(s, 20)) return s.toLowerCase();
  if (wallet.isAddress(v, 53)) return wallet.getScriptHashFromAddress(v);
  fail(ERR.InvalidParams, `invalid ${what}: ${v}`);
}
const addressOf = (beHash) => wallet.getAddressFromScriptHash(beHash, 53);

// Two's-complement little-endian (NeoVM integer encoding).
function bigFromLE(buf) {
  if (buf.length === 0) return 0n;
  let v = 0n;
  for (let i = buf.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(buf[i]);
  if (buf[buf.length - 1] & 0x80) v -= 1n << BigInt(buf.length * 8);
  return v;
}

// ---------- stack items ----------
// VM values: {type:"Integer", value:BigInt} | {type:"ByteString", value:Buffer} |
// {type:"Boolean", value:bool} | {type:"Array", value:[...]} | {type:"Any"}
const I = (v) => ({ type: "Integer", value: BigInt(v) });
const B = (buf) => ({ type: "ByteString", value: Buffer.from(buf) });
const Bool = (v) => ({ type: "Boolean", value: !!v });
const Any = () => ({ type: "Any" });
function itemJson(it) {
  switch (it.type) {
    case "Integer":
      return { type: "Integer", value: it.value.toString() };
    case "ByteString":
      return { type: "ByteString", value: it.value.toString("base64") };
    case "Boolean":
      return { type: "Boolean", value: it.value };
    case "Array":
      return { type: "Array", value: it.value.map(itemJson) };
    default:
      return { type: "Any" };
  }
}
const hashItem = (beHash) => B(Buffer.from(u.reverseHex(beHash), "hex")); // Hash160 as the VM holds it (LE)
const itemToHash = (it) => (it.type === "ByteString" && it.value.length === 20 ? u.reverseHex(it.value.toString("hex")) : null);
function itemToInt(it) {
  if (it.type === "Integer") return it.value;
  if (it.type === "Boolean") return it.value ? 1n : 0n;
  if (it.type === "ByteString" && it.value.length <= 32) return bigFromLE(it.value);
  throw new Error(`cannot convert ${it.type} to Integer`);
}

// ContractParameter JSON (invokefunction params) -> VM item.
function paramToItem(p, depth = 0) {
  if (depth > 8 || !p || typeof p !== "object") fail(ERR.InvalidParams, "bad contract parameter");
  const v = p.value;
  switch (p.type) {
    case "Any":
      return Any();
    case "Boolean":
      return Bool(v === true || v === "true");
    case "Integer":
      try {
        return I(BigInt(v));
      } catch {
        return fail(ERR.InvalidParams, `bad Integer parameter ${v}`);
      }
    case "Hash160":
      return hashItem(toScriptHash(v, "Hash160 parameter"));
    case "Hash256":
      if (!isHex(strip0x(v), 32)) fail(ERR.InvalidParams, "bad Hash256 parameter");
      return B(Buffer.from(u.reverseHex(strip0x(v)), "hex"));
    case "PublicKey":
      if (!isHex(v, 33)) fail(ERR.InvalidParams, "bad PublicKey parameter");
      return B(Buffer.from(v, "hex"));
    case "String":
      return B(Buffer.from(String(v), "utf8"));
    case "ByteArray":
    case "Signature":
      return B(Buffer.from(String(v ?? ""), "base64"));
    case "Array":
      if (!Array.isArray(v)) fail(ERR.InvalidParams, "Array parameter needs an array value");
      return { type: "Array", value: v.map((x) => paramToItem(x, depth + 1)) };
    default:
      return fail(ERR.InvalidParams, `unsupported parameter type ${p.type}`);
  }
}

// ---------- the tiny VM ----------
const TOKENS = {
  [NEO_HASH]: { name: "NeoToken", symbol: "NEO", decimals: 0n, id: -5 },
  [GAS_HASH]: { name: "GasToken", symbol: "GAS", decimals: 8n, id: -6 },
  [TEST_TOKEN_HASH]: { name: "R3eTestToken", symbol: "TST", decimals: 8n, id: 1 },
};

class Fault extends Error {}

// Runs `scriptHex` against `ledger` (balances). signers: [BE hash]. Mutations go to an overlay
// which the caller commits (or not, for test invocations).
function execute(scriptHex, signers, ledger) {
  const script = Buffer.from(scriptHex, "hex");
  const overlay = new Map(); // "token:account" -> BigInt
  const bal = (tok, acct) => {
    const k = `${tok}:${acct}`;
    return overlay.has(k) ? overlay.get(k) : ledger.balance(tok, acct);
  };
  const notifications = [];
  const stack = [];
  let gas = 0n;
  let state = "HALT";
  let exception = null;
  const pop = () => {
    if (!stack.length) throw new Fault("stack underflow");
    return stack.pop();
  };
  try {
    let pc = 0;
    let steps = 0;
    while (pc < script.length) {
      if (++steps > 10000) throw new Fault("too many instructions");
      const op = script[pc++];
      gas += 8n * BigInt(EXEC_FEE_FACTOR);
      const need = (n) => {
        if (pc + n > script.length) throw new Fault("script ends inside an instruction");
        const b = script.subarray(pc, pc + n);
        pc += n;
        return b;
      };
      if (op <= 0x05) stack.push(I(bigFromLE(need(1 << op))));
      else if (op === 0x08) stack.push(Bool(true));
      else if (op === 0x09) stack.push(Bool(false));
      else if (op === 0x0b) stack.push(Any());
      else if (op === 0x0c) stack.push(B(need(need(1)[0])));
      else if (op === 0x0d) stack.push(B(need(need(2).readUInt16LE(0))));
      else if (op === 0x0e) stack.push(B(need(need(4).readUInt32LE(0))));
      else if (op === 0x0f) stack.push(I(-1));
      else if (op >= 0x10 && op <= 0x20) stack.push(I(op - 0x10));
      else if (op === 0x21) continue; // NOP
      else if (op === 0x40) break; // RET
      else if (op === 0x45) pop(); // DROP
      else if (op === 0x39) {
        // ASSERT
        if (itemToInt(pop()) === 0n) throw new Fault("ASSERT is executed with false result.");
      } else if (op === 0xc2) stack.push({ type: "Array", value: [] }); // NEWARRAY0
      else if (op === 0xc0) {
        // PACK
        const n = Number(itemToInt(pop()));
        if (n < 0 || n > stack.length) throw new Fault("PACK count out of range");
        const arr = [];
        for (let i = 0; i < n; i++) arr.push(pop());
        stack.push({ type: "Array", value: arr });
      } else if (op === 0x41) {
        const id = need(4).toString("hex");
        if (id !== CONTRACT_CALL) throw new Fault(`syscall ${id} is not supported by the test peer`);
        gas += 32768n * BigInt(EXEC_FEE_FACTOR);
        const hash = itemToHash(pop());
        const method = pop();
        pop(); // call flags
        const args = pop();
        if (!hash) throw new Fault("System.Contract.Call needs a 20-byte contract hash");
        if (method.type !== "ByteString") throw new Fault("method name must be a ByteString");
        if (args.type !== "Array") throw new Fault("arguments must be an Array");
        stack.push(callContract(hash, method.value.toString("utf8"), args.value));
      } else throw new Fault(`opcode 0x${op.toString(16).padStart(2, "0")} is not supported by the test peer`);
    }
  } catch (e) {
    if (!(e instanceof Fault) && !(e instanceof Error)) throw e;
    state = "FAULT";
    exception = e.message;
  }
  return { state, exception, gasconsumed: gas, stack, notifications, overlay: state === "HALT" ? overlay : new Map() };

  function callContract(hash, method, args) {
    const tok = TOKENS[hash];
    if (!tok) throw new Fault(`Called Contract Does Not Exist: 0x${hash}.${method}`);
    const arity = { symbol: 0, decimals: 0, totalSupply: 0, balanceOf: 1, transfer: 4 }[method];
    if (arity === undefined || args.length !== arity)
      throw new Fault(`Method "${method}" with ${args.length} parameter(s) doesn't exist in the contract 0x${hash}.`);
    switch (method) {
      case "symbol":
        return B(Buffer.from(tok.symbol));
      case "decimals":
        return I(tok.decimals);
      case "totalSupply":
        gas += 1n << 15n;
        return I(ledger.totalSupply(hash));
      case "balanceOf": {
        gas += 1n << 15n;
        const acct = itemToHash(args[0]);
        if (!acct) throw new Fault("The argument `account` should be a 20-byte hash");
        return I(bal(hash, acct));
      }
      case "transfer": {
        gas += 1n << 17n;
        const from = itemToHash(args[0]);
        const to = itemToHash(args[1]);
        if (!from || !to) throw new Fault("The argument `from`/`to` should be a 20-byte hash");
        const amount = itemToInt(args[2]);
        if (amount < 0n) throw new Fault("The amount must be a positive number.");
        if (!signers.includes(from)) return Bool(false); // no witness for `from`
        const have = bal(hash, from);
        if (have < amount) return Bool(false);
        overlay.set(`${hash}:${from}`, have - amount);
        overlay.set(`${hash}:${to}`, bal(hash, to) + amount);
        notifications.push({
          contract: "0x" + hash,
          eventname: "Transfer",
          state: { type: "Array", value: [hashItem(from), hashItem(to), I(amount)] },
        });
        return Bool(true);
      }
    }
    throw new Fault("unreachable");
  }
}
const notificationJson = (n) => ({ contract: n.contract, eventname: n.eventname, state: itemJson(n.state) });

// Decodes the NEP-17 transfer calls a script makes (for sent()): [{token, from, to, amount}].
function decodeTransfers(scriptHex) {
  const out = [];
  try {
    const toks = sc.OpToken.fromScript(scriptHex);
    for (let i = 0; i < toks.length; i++) {
      const t = toks[i];
      if (t.code !== sc.OpCode.SYSCALL || t.params !== CONTRACT_CALL || i < 9) continue;
      const method = u.hexstring2str(toks[i - 2].params ?? "");
      if (method !== "transfer") continue;
      const tokenHash = u.reverseHex(toks[i - 1].params);
      // data, amount, to, from, PUSH4, PACK, flags, method, hash, SYSCALL
      const amountTok = toks[i - 8];
      let amount;
      if (amountTok.code >= sc.OpCode.PUSH0 && amountTok.code <= sc.OpCode.PUSH16) amount = BigInt(amountTok.code - sc.OpCode.PUSH0);
      else if (amountTok.code <= sc.OpCode.PUSHINT256) amount = bigFromLE(Buffer.from(amountTok.params, "hex"));
      else continue;
      const to = u.reverseHex(toks[i - 7].params ?? "");
      const from = u.reverseHex(toks[i - 6].params ?? "");
      if (from.length !== 40 || to.length !== 40) continue;
      out.push({
        token: "0x" + tokenHash,
        symbol: TOKENS[tokenHash]?.symbol ?? null,
        from: addressOf(from),
        to: addressOf(to),
        amount: amount.toString(),
      });
    }
  } catch {
    /* not a script the structural decoder understands */
  }
  return out;
}

// ---------- fees ----------
const dummyVerification = wallet.getVerificationScriptFromPublicKey(
  "02" + "11".repeat(32) // shape only: a 33-byte key in a single-sig verification script
);
function requiredNetworkFee(t) {
  const witnesses = t.signers.map((s, i) => {
    const w = t.witnesses[i];
    if (w && w.verificationScript.byteLength > 0) return w;
    return new tx.Witness({ invocationScript: "", verificationScript: dummyVerification });
  });
  const clone = new tx.Transaction(t);
  clone.witnesses = witnesses;
  try {
    return BigInt(api.calculateNetworkFee(clone, Number(FEE_PER_BYTE), EXEC_FEE_FACTOR).toString());
  } catch (e) {
    return fail(ERR.InvalidContractVerification, `cannot price the verification script: ${e.message}`);
  }
}

// ---------- blocks ----------
function merkleRoot(hashesLE) {
  if (hashesLE.length === 0) return "00".repeat(32);
  let level = hashesLE;
  while (level.length > 1) {
    const next = [];
    for (let i = 0; i < level.length; i += 2) next.push(u.hash256(level[i] + (level[i + 1] ?? level[i])));
    level = next;
  }
  return level[0];
}

export async function startNeoPeer(opts = {}) {
  const magic = opts.magic ?? 0x72336531; // "1e3r" little-endian; any u32 works
  const blockTimeMs = opts.blockTimeMs ?? 0;
  const autoMine = opts.autoMine ?? false;

  // Deterministic keys: the same accounts every run (test material, never real funds).
  const mk = (label) => new wallet.Account(u.sha256(u.str2hexstring(`r3e-neo-peer:${label}`)));
  const validator = mk("validator");
  const accts = [0, 1, 2, 3].map((i) => mk(`account-${i}`));
  const accounts = accts.map((a) => ({
    address: a.address,
    scriptHash: "0x" + a.scriptHash,
    WIF: a.WIF,
    privateKey: a.privateKey,
    publicKey: a.publicKey,
  }));

  // Ledger state.
  const balances = new Map(); // token -> Map(account BE hash -> BigInt)
  const supply = new Map();
  const credit = (tok, acct, delta) => {
    if (!balances.has(tok)) balances.set(tok, new Map());
    const m = balances.get(tok);
    m.set(acct, (m.get(acct) ?? 0n) + delta);
  };
  const ledger = {
    balance: (tok, acct) => balances.get(tok)?.get(acct) ?? 0n,
    totalSupply: (tok) => supply.get(tok) ?? 0n,
  };
  const genesisFunds = { [NEO_HASH]: 1_000_000n, [GAS_HASH]: 100_000n * 10n ** 8n, [TEST_TOKEN_HASH]: 1_000_000n * 10n ** 8n };
  for (const [tok, amt] of Object.entries(genesisFunds)) {
    supply.set(tok, amt * BigInt(accts.length));
    for (const a of accts) credit(tok, a.scriptHash, amt);
  }

  const blocks = []; // {index, hash (BE), header fields, txs: [Transaction], raw, size, time}
  const blockByHash = new Map();
  const txIndex = new Map(); // BE hash -> {tx, block}
  const appLogs = new Map(); // BE tx hash or block hash -> log json
  const transfers = new Map(); // account -> [{...}] for getnep17transfers
  const mempool = []; // [{tx, raw}]
  const sentLog = [];

  function execAndLog(t, block) {
    const txid = t.hash();
    const signers = t.signers.map((s) => s.account.toBigEndian());
    const sender = signers[0];
    // Fees are burned from the sender first, like the node's OnPersist.
    credit(GAS_HASH, sender, -(BigInt(t.systemFee.toString()) + BigInt(t.networkFee.toString())));
    const r = execute(t.script.toBigEndian(), signers, ledger);
    let { state, exception } = r;
    if (state === "HALT" && r.gasconsumed > BigInt(t.systemFee.toString())) {
      state = "FAULT";
      exception = "Insufficient GAS.";
    }
    if (state === "HALT") {
      for (const [k, v] of r.overlay) {
        const [tok, acct] = k.split(":");
        credit(tok, acct, v - ledger.balance(tok, acct));
      }
      r.notifications.forEach((n, idx) => {
        if (n.eventname !== "Transfer") return;
        const [f, to, amt] = n.state.value;
        const from = itemToHash(f);
        const toH = itemToHash(to);
        const rec = (acct, other, amount, list) =>
          list.push({
            timestamp: block.time,
            assethash: n.contract,
            transferaddress: other ? addressOf(other) : null,
            amount: amount.toString(),
            blockindex: block.index,
            transfernotifyindex: idx,
            txhash: "0x" + txid,
          });
        const get = (a) => {
          if (!transfers.has(a)) transfers.set(a, { sent: [], received: [] });
          return transfers.get(a);
        };
        if (from) rec(from, toH, amt.value, get(from).sent);
        if (toH) rec(toH, from, amt.value, get(toH).received);
      });
    }
    appLogs.set(txid, {
      txid: "0x" + txid,
      executions: [
        {
          trigger: "Application",
          vmstate: state,
          exception,
          gasconsumed: r.gasconsumed.toString(),
          stack: state === "HALT" ? r.stack.map(itemJson) : [],
          notifications: state === "HALT" ? r.notifications.map(notificationJson) : [],
        },
      ],
    });
    const s = sentLog.find((e) => e.hash === "0x" + txid);
    if (s) Object.assign(s, { blockIndex: block.index, vmstate: state });
  }

  function produceBlock(extraTxs = []) {
    const index = blocks.length;
    const prev = index ? blocks[index - 1] : null;
    const txs = [...mempool.splice(0).map((m) => m.tx), ...extraTxs];
    const time = Math.max(Date.now(), prev ? prev.time + 1 : 0);
    const nonce = BigInt("0x" + u.sha256(le32(index) + u.str2hexstring(String(time))).slice(0, 16));
    const prevLE = prev ? u.reverseHex(prev.hash) : "00".repeat(32);
    const merkle = merkleRoot(txs.map((t) => u.reverseHex(t.hash())));
    const nextConsensus = validator.scriptHash; // BE
    const unsigned = le32(0) + prevLE + merkle + le64(time) + le64(nonce) + le32(index) + "00" + u.reverseHex(nextConsensus);
    const hashLE = u.hash256(unsigned);
    const hash = u.reverseHex(hashLE);
    const sig = wallet.sign(le32(magic) + hashLE, validator.privateKey);
    const witness = new tx.Witness({
      invocationScript: "0c40" + sig,
      verificationScript: wallet.getVerificationScriptFromPublicKey(validator.publicKey),
    });
    const headerRaw = unsigned + "01" + witness.serialize();
    const raw = headerRaw + u.serializeArrayOf(txs.map((t) => t.serialize(true)));
    const block = {
      index,
      hash,
      prevhash: prev ? prev.hash : "00".repeat(32),
      merkleroot: u.reverseHex(merkle),
      time,
      nonce,
      nextConsensus,
      witness,
      txs,
      raw,
      headerRaw,
    };
    blocks.push(block);
    blockByHash.set(hash, block);
    for (const t of txs) {
      txIndex.set(t.hash(), { tx: t, block });
      execAndLog(t, block);
    }
    appLogs.set(hash, {
      blockhash: "0x" + hash,
      executions: ["OnPersist", "PostPersist"].map((trigger) => ({
        trigger,
        vmstate: "HALT",
        gasconsumed: "0",
        stack: [],
        notifications: [],
      })),
    });
    return { index, hash: "0x" + hash, txids: txs.map((t) => "0x" + t.hash()) };
  }

  // ---------- JSON shapes ----------
  const height = () => blocks.length - 1;
  const txJson = (t) => {
    const j = t.toJson();
    const sender = t.signers[0]?.account.toBigEndian();
    return { hash: "0x" + t.hash(), ...j, sender: sender ? addressOf(sender) : "" };
  };
  const witnessJson = (w) => ({
    invocation: hexToB64(w.invocationScript.toBigEndian()),
    verification: hexToB64(w.verificationScript.toBigEndian()),
  });
  function headerJson(b) {
    const j = {
      hash: "0x" + b.hash,
      size: b.headerRaw.length / 2,
      version: 0,
      previousblockhash: "0x" + b.prevhash,
      merkleroot: "0x" + b.merkleroot,
      time: b.time,
      nonce: b.nonce.toString(16).toUpperCase().padStart(16, "0"),
      index: b.index,
      primary: 0,
      nextconsensus: addressOf(b.nextConsensus),
      witnesses: [witnessJson(b.witness)],
      confirmations: height() - b.index + 1,
    };
    if (blocks[b.index + 1]) j.nextblockhash = "0x" + blocks[b.index + 1].hash;
    return j;
  }
  function findBlock(p) {
    if (typeof p === "number" || (typeof p === "string" && /^\d+$/.test(p))) {
      const i = Number(p);
      if (!Number.isSafeInteger(i) || i < 0) fail(ERR.InvalidParams, "bad block index");
      return blocks[i] ?? fail(ERR.UnknownBlock);
    }
    if (typeof p === "string" && isHex(strip0x(p), 32)) return blockByHash.get(strip0x(p).toLowerCase()) ?? fail(ERR.UnknownBlock);
    return fail(ERR.InvalidParams, "expected a block index or hash");
  }
  const verboseArg = (v) => v === true || v === 1 || v === "1" || v === "true";
  const txHashArg = (p) => {
    if (typeof p !== "string" || !isHex(strip0x(p), 32)) fail(ERR.InvalidParams, "expected a transaction hash");
    return strip0x(p).toLowerCase();
  };
  function parseSigners(list) {
    if (list === undefined || list === null) return [];
    if (!Array.isArray(list)) fail(ERR.InvalidParams, "signers must be an array");
    return list.map((s) => toScriptHash(typeof s === "string" ? s : s?.account, "signer account"));
  }
  function invokeResult(scriptHex, signers) {
    const r = execute(scriptHex, signers, ledger);
    return {
      script: hexToB64(scriptHex),
      state: r.state,
      gasconsumed: r.gasconsumed.toString(),
      exception: r.exception,
      notifications: r.notifications.map(notificationJson),
      stack: r.state === "HALT" ? r.stack.map(itemJson) : [],
    };
  }

  function parseTx(b64) {
    if (typeof b64 !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length === 0)
      fail(ERR.InvalidParams, "Invalid Transaction Format: not base64");
    const hex = b64ToHex(b64);
    let t;
    try {
      t = tx.Transaction.deserialize(hex);
    } catch (e) {
      fail(ERR.InvalidParams, `Invalid Transaction Format: ${e.message}`);
    }
    let again;
    try {
      again = t.serialize(true);
    } catch (e) {
      fail(ERR.InvalidParams, `Invalid Transaction Format: ${e.message}`);
    }
    if (again !== hex.toLowerCase()) fail(ERR.InvalidParams, "Invalid Transaction Format: trailing or non-canonical bytes");
    if (t.signers.length === 0) fail(ERR.InvalidParams, "Invalid Transaction Format: no signers");
    return { t, hex };
  }

  function verifyWitnesses(t) {
    if (t.witnesses.length !== t.signers.length)
      fail(ERR.InvalidSignature, `${t.witnesses.length} witness(es) for ${t.signers.length} signer(s)`);
    const msg = t.getMessageForSigning(magic);
    t.signers.forEach((s, i) => {
      const w = t.witnesses[i];
      const ver = w.verificationScript.toBigEndian();
      const inv = w.invocationScript.toBigEndian();
      const account = s.account.toBigEndian();
      if (wallet.getScriptHashFromVerificationScript(ver) !== account)
        fail(ERR.InvalidSignature, `witness ${i} does not belong to signer ${addressOf(account)}`);
      let sigs;
      try {
        sigs = wallet.getSignaturesFromInvocationScript(inv);
      } catch {
        sigs = [];
      }
      if (sc.isSignatureContract(w.verificationScript)) {
        const pub = wallet.getPublicKeyFromVerificationScript(ver);
        if (sigs.length !== 1 || inv.length !== 132 || !wallet.verify(msg, sigs[0], pub))
          fail(ERR.InvalidSignature, `signature of ${addressOf(account)} does not verify against network ${magic}`);
      } else if (sc.isMultisigContract(w.verificationScript)) {
        const keys = wallet.getPublicKeysFromVerificationScript(ver);
        const m = wallet.getSigningThresholdFromVerificationScript(ver);
        if (sigs.length !== m) fail(ERR.InvalidSignature, `multisig witness ${i} needs ${m} signatures`);
        let k = 0; // signatures in key order, as the node's CheckMultisig expects
        for (const sig of sigs) {
          while (k < keys.length && !wallet.verify(msg, sig, keys[k])) k++;
          if (k++ >= keys.length) fail(ERR.InvalidSignature, `multisig witness ${i} does not verify`);
        }
      } else {
        fail(ERR.InvalidContractVerification, `witness ${i}: only signature and multisig contracts are supported by the test peer`);
      }
    });
  }

  function sendRaw(b64) {
    const { t, hex } = parseTx(b64);
    const txid = t.hash();
    if (hex.length / 2 > MAX_TX_SIZE) fail(ERR.InvalidSize);
    if (txIndex.has(txid)) fail(ERR.AlreadyExists);
    if (mempool.some((m) => m.tx.hash() === txid)) fail(ERR.AlreadyInPool);
    const h = height();
    if (t.validUntilBlock <= h || t.validUntilBlock > h + MAX_VUB_INCREMENT)
      fail(ERR.ExpiredTransaction, `validUntilBlock ${t.validUntilBlock} outside (${h}, ${h + MAX_VUB_INCREMENT}]`);
    if (t.script.byteLength === 0) fail(ERR.InvalidScript, "empty script");
    if (t.attributes.length > 0) fail(ERR.InvalidAttribute, "the test peer accepts no attributes");
    const sysfee = BigInt(t.systemFee.toString());
    const netfee = BigInt(t.networkFee.toString());
    if (sysfee <= 0n) fail(ERR.PolicyFailed, "system fee is zero (take it from a test invocation's gasconsumed)");
    verifyWitnesses(t);
    const need = requiredNetworkFee(t);
    if (netfee < need) fail(ERR.InsufficientNetworkFee, `network fee ${netfee} < required ${need}`);
    const sender = t.signers[0].account.toBigEndian();
    const pending = mempool
      .filter((m) => m.tx.signers[0].account.toBigEndian() === sender)
      .reduce((a, m) => a + BigInt(m.tx.systemFee.toString()) + BigInt(m.tx.networkFee.toString()), 0n);
    if (ledger.balance(GAS_HASH, sender) < sysfee + netfee + pending)
      fail(ERR.InsufficientFunds, `sender ${addressOf(sender)} has ${ledger.balance(GAS_HASH, sender)} GAS fractions`);
    mempool.push({ tx: t, raw: hex });
    sentLog.push({
      hash: "0x" + txid,
      raw: hex,
      tx: txJson(t),
      sender: addressOf(sender),
      signers: t.signers.map((s) => ({ account: "0x" + s.account.toBigEndian(), address: addressOf(s.account.toBigEndian()), scopes: s.toJson().scopes })),
      systemFee: sysfee.toString(),
      networkFee: netfee.toString(),
      validUntilBlock: t.validUntilBlock,
      transfers: decodeTransfers(t.script.toBigEndian()),
      blockIndex: null,
      vmstate: null,
    });
    if (autoMine) setImmediate(() => produceBlock());
    return { hash: "0x" + txid };
  }

  const methods = {
    getversion: () => ({
      tcpport: 0,
      wsport: 0,
      nonce: 1234567,
      useragent: "/r3e-neo-test-peer:0.1/",
      protocol: {
        addressversion: 53,
        network: magic,
        validatorscount: 1,
        msperblock: blockTimeMs || 15000,
        maxtraceableblocks: 2102400,
        maxvaliduntilblockincrement: MAX_VUB_INCREMENT,
        maxtransactionsperblock: 512,
        memorypoolmaxtransactions: 50000,
        initialgasdistribution: 5200000000000000,
        hardforks: [],
      },
    }),
    getblockcount: () => blocks.length,
    getbestblockhash: () => "0x" + blocks[blocks.length - 1].hash,
    getblockhash: ([i]) => {
      if (!Number.isSafeInteger(Number(i)) || Number(i) < 0 || i === null || i === "") fail(ERR.InvalidParams, "bad block index");
      const b = blocks[Number(i)];
      if (!b) fail(ERR.UnknownHeight);
      return "0x" + b.hash;
    },
    getblock: ([p, verbose]) => {
      const b = findBlock(p);
      if (!verboseArg(verbose)) return hexToB64(b.raw);
      return { ...headerJson(b), size: b.raw.length / 2, tx: b.txs.map(txJson) };
    },
    getblockheader: ([p, verbose]) => {
      const b = findBlock(p);
      if (!verboseArg(verbose)) return hexToB64(b.headerRaw);
      return headerJson(b);
    },
    getblockheadercount: () => blocks.length,
    getapplicationlog: ([h]) => {
      const k = txHashArg(h);
      return appLogs.get(k) ?? fail(ERR.UnknownTransaction);
    },
    getrawtransaction: ([h, verbose]) => {
      const k = txHashArg(h);
      const e = txIndex.get(k);
      const pooled = mempool.find((m) => m.tx.hash() === k);
      if (!e && !pooled) fail(ERR.UnknownTransaction);
      const t = e ? e.tx : pooled.tx;
      if (!verboseArg(verbose)) return hexToB64(t.serialize(true));
      const j = txJson(t);
      if (e) Object.assign(j, { blockhash: "0x" + e.block.hash, confirmations: height() - e.block.index + 1, blocktime: e.block.time, vmstate: appLogs.get(k)?.executions[0].vmstate });
      return j;
    },
    gettransactionheight: ([h]) => {
      const e = txIndex.get(txHashArg(h));
      return e ? e.block.index : fail(ERR.UnknownTransaction);
    },
    invokefunction: ([hash, operation, params = [], signers]) => {
      const contract = toScriptHash(hash, "script hash");
      if (typeof operation !== "string" || !operation) fail(ERR.InvalidParams, "operation must be a string");
      if (!Array.isArray(params)) fail(ERR.InvalidParams, "params must be an array");
      const items = params.map((p) => paramToItem(p));
      // Build the call the way the node does: args reversed, PACK, flags All, method, hash, SYSCALL.
      const sb = new sc.ScriptBuilder();
      const script = emitCall(sb, contract, operation, items);
      return invokeResult(script, parseSigners(signers));
    },
    invokescript: ([script, signers]) => {
      if (typeof script !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(script) || !script) fail(ERR.InvalidParams, "script must be base64");
      return invokeResult(b64ToHex(script), parseSigners(signers));
    },
    getnep17balances: ([addr]) => {
      const acct = toScriptHash(addr, "address");
      const balance = [];
      for (const [tok, info] of Object.entries(TOKENS)) {
        const amount = ledger.balance(tok, acct);
        if (amount === 0n) continue;
        balance.push({ assethash: "0x" + tok, name: info.name, symbol: info.symbol, decimals: info.decimals.toString(), amount: amount.toString(), lastupdatedblock: height() });
      }
      return { balance, address: addressOf(acct) };
    },
    getnep17transfers: ([addr]) => {
      const acct = toScriptHash(addr, "address");
      const t = transfers.get(acct) ?? { sent: [], received: [] };
      return { sent: t.sent, received: t.received, address: addressOf(acct) };
    },
    calculatenetworkfee: ([b64]) => {
      if (typeof b64 !== "string" || !b64) fail(ERR.InvalidParams, "expected a base64 transaction");
      let t;
      try {
        t = tx.Transaction.deserialize(b64ToHex(b64));
      } catch (e) {
        fail(ERR.InvalidParams, `Invalid Transaction Format: ${e.message}`);
      }
      if (t.signers.length === 0) fail(ERR.InvalidParams, "Invalid Transaction Format: no signers");
      return { networkfee: requiredNetworkFee(t).toString() };
    },
    sendrawtransaction: ([b64]) => sendRaw(b64),
    validateaddress: ([a]) => ({ address: a, isvalid: typeof a === "string" && wallet.isAddress(a, 53) }),
    getcontractstate: ([h]) => {
      const hash = typeof h === "string" ? strip0x(h).toLowerCase() : "";
      const info = TOKENS[hash] ?? Object.values(TOKENS).find((x) => x.name === h);
      if (!info) fail(ERR.UnknownContract);
      const key = Object.keys(TOKENS).find((k) => TOKENS[k] === info);
      return {
        id: info.id,
        updatecounter: 0,
        hash: "0x" + key,
        manifest: {
          name: info.name,
          supportedstandards: ["NEP-17"],
          abi: {
            methods: [
              { name: "symbol", parameters: [], returntype: "String", safe: true },
              { name: "decimals", parameters: [], returntype: "Integer", safe: true },
              { name: "totalSupply", parameters: [], returntype: "Integer", safe: true },
              { name: "balanceOf", parameters: [{ name: "account", type: "Hash160" }], returntype: "Integer", safe: true },
              {
                name: "transfer",
                parameters: [
                  { name: "from", type: "Hash160" },
                  { name: "to", type: "Hash160" },
                  { name: "amount", type: "Integer" },
                  { name: "data", type: "Any" },
                ],
                returntype: "Boolean",
                safe: false,
              },
            ],
            events: [{ name: "Transfer", parameters: [{ name: "from", type: "Hash160" }, { name: "to", type: "Hash160" }, { name: "amount", type: "Integer" }] }],
          },
        },
      };
    },
  };

  function emitCall(sb, contract, method, items) {
    const emitItem = (it) => {
      switch (it.type) {
        case "Integer":
          sb.emitNumber(it.value.toString());
          break;
        case "Boolean":
          sb.emit(it.value ? sc.OpCode.PUSHT : sc.OpCode.PUSHF);
          break;
        case "ByteString":
          sb.emitHexString(it.value.toString("hex"));
          break;
        case "Array":
          for (let i = it.value.length - 1; i >= 0; i--) emitItem(it.value[i]);
          sb.emitNumber(it.value.length);
          sb.emit(sc.OpCode.PACK);
          break;
        default:
          sb.emit(sc.OpCode.PUSHNULL);
      }
    };
    emitItem({ type: "Array", value: items });
    sb.emitNumber(15); // CallFlags.All
    sb.emitString(method);
    sb.emitHexString(u.reverseHex(contract));
    sb.emitSysCall(CONTRACT_CALL);
    return sb.build();
  }

  function dispatch(req) {
    const id = req && typeof req === "object" && "id" in req ? req.id : null;
    try {
      if (!req || typeof req !== "object" || Array.isArray(req) || typeof req.method !== "string") fail(ERR.InvalidRequest);
      const fn = Object.hasOwn(methods, req.method) ? methods[req.method] : null;
      if (!fn) fail(ERR.MethodNotFound, req.method);
      const params = req.params === undefined ? [] : req.params;
      if (!Array.isArray(params)) fail(ERR.InvalidParams, "params must be an array");
      return { jsonrpc: "2.0", id, result: fn(params) };
    } catch (e) {
      const err = e instanceof RpcError ? e : new RpcError(ERR.InternalServerError, e.message);
      return { jsonrpc: "2.0", id, error: err.toJson() };
    }
  }

  produceBlock(); // genesis
  const stats = { requests: 0 };

  const server = http.createServer((req, res) => {
    const send = (status, body) => {
      const s = JSON.stringify(body);
      res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(s) });
      res.end(s);
    };
    if (req.method !== "POST") return send(405, { jsonrpc: "2.0", id: null, error: new RpcError(ERR.InvalidRequest, "POST only").toJson() });
    const chunks = [];
    let size = 0;
    req.on("data", (c) => {
      size += c.length;
      if (size <= 4 << 20) chunks.push(c);
    });
    req.on("end", () => {
      if (size > 4 << 20) return send(413, { jsonrpc: "2.0", id: null, error: new RpcError(ERR.InvalidRequest, "body too large").toJson() });
      let body;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      } catch {
        return send(200, { jsonrpc: "2.0", id: null, error: new RpcError(ERR.BadRequest).toJson() });
      }
      stats.requests++;
      if (Array.isArray(body)) {
        if (body.length === 0) return send(200, { jsonrpc: "2.0", id: null, error: new RpcError(ERR.InvalidRequest).toJson() });
        return send(200, body.map(dispatch));
      }
      send(200, dispatch(body));
    });
  });
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, "127.0.0.1", resolve);
  });
  const timer = blockTimeMs > 0 ? setInterval(() => produceBlock(), blockTimeMs) : null;
  timer?.unref?.();

  function accountFor(v) {
    if (typeof v === "number") return accts[v] ?? null;
    if (v && typeof v === "object" && v.WIF) return new wallet.Account(v.WIF);
    if (typeof v === "string") {
      if (wallet.isWIF(v)) return new wallet.Account(v);
      const h = toScriptHash(v);
      return accts.find((a) => a.scriptHash === h) ?? null;
    }
    return null;
  }
  function tokenHash(t) {
    if (t === undefined || t === null || t === "GAS") return GAS_HASH;
    if (t === "NEO") return NEO_HASH;
    if (t === "TST") return TEST_TOKEN_HASH;
    return toScriptHash(t, "token");
  }

  // Builds a real, signed transfer transaction from one of the peer's accounts (or a WIF).
  function buildTransfer({ from = 0, to = 1, amount = 1, token } = {}) {
    const acct = accountFor(from);
    if (!acct) throw new Error("emitTransfer: `from` must be a peer account (index, address, script hash) or a WIF");
    const toHash = typeof to === "number" ? accts[to].scriptHash : toScriptHash(to, "to");
    const tok = tokenHash(token);
    const script = sc.createScript({
      scriptHash: tok,
      operation: "transfer",
      args: [sc.ContractParam.hash160(acct.scriptHash), sc.ContractParam.hash160(toHash), sc.ContractParam.integer(String(amount)), sc.ContractParam.any(null)],
    });
    const probe = execute(script, [acct.scriptHash], ledger);
    if (probe.state !== "HALT" || !probe.stack[0]?.value) throw new Error(`emitTransfer: transfer would fail (${probe.exception ?? "insufficient balance"})`);
    const t = new tx.Transaction({
      signers: [{ account: acct.scriptHash, scopes: tx.WitnessScope.CalledByEntry }],
      validUntilBlock: height() + 100,
      script,
      systemFee: Number(probe.gasconsumed),
    });
    t.networkFee = u.BigInteger.fromNumber(requiredNetworkFee(t).toString());
    t.sign(acct, magic);
    return t;
  }

  const control = {
    mineBlock(txs = []) {
      const list = txs.map((x) => (typeof x === "string" ? tx.Transaction.deserialize(x) : x));
      return produceBlock(list);
    },
    emitTransfer(o = {}) {
      const t = buildTransfer(o);
      const b = produceBlock([t]);
      return { txid: "0x" + t.hash(), blockIndex: b.index, blockHash: b.hash, log: appLogs.get(t.hash()) };
    },
    buildTransfer, // signed, not sent: for tests that post it themselves
    height,
    sent: () => sentLog.map((e) => ({ ...e })),
    mempool: () => mempool.map((m) => "0x" + m.tx.hash()),
    // Forgets every pooled transaction, as a node that evicted them (or a lost broadcast):
    // they are never mined, so a sender must resend once validUntilBlock has passed.
    dropMempool: () => mempool.splice(0).map((m) => "0x" + m.tx.hash()),
    balance: (token, who) => ledger.balance(tokenHash(token), typeof who === "number" ? accts[who].scriptHash : toScriptHash(who)).toString(),
    stats: () => ({ ...stats }),
  };

  const addr = server.address();
  return {
    url: `http://127.0.0.1:${addr.port}`,
    port: addr.port,
    magic,
    accounts,
    tokens: { NEO: "0x" + NEO_HASH, GAS: "0x" + GAS_HASH, TST: "0x" + TEST_TOKEN_HASH },
    control,
    stop: () =>
      new Promise((resolve) => {
        if (timer) clearInterval(timer);
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}

// CLI: node tests/neo/peer.mjs --port N [--magic N] [--block-ms MS] [--auto-mine]
if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const args = process.argv.slice(2);
  const opt = (name) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const peer = await startNeoPeer({
    port: opt("--port") ? Number(opt("--port")) : 0,
    magic: opt("--magic") ? Number(opt("--magic")) : undefined,
    blockTimeMs: opt("--block-ms") ? Number(opt("--block-ms")) : 0,
    autoMine: args.includes("--auto-mine"),
  });
  // One JSON line on stdout so a parent process can read url, magic and the funded accounts.
  process.stdout.write(JSON.stringify({ url: peer.url, magic: peer.magic, accounts: peer.accounts, tokens: peer.tokens }) + "\n");
  const bye = () => peer.stop().then(() => process.exit(0));
  process.on("SIGTERM", bye);
  process.on("SIGINT", bye);
}
