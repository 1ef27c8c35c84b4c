// ctx.eth: Ethereum network I/O for functions (docs/functions.md, "ctx.eth").
//
// Evaluated once per sandbox context (lazily, on the first ctx.eth access); the value is
// `function (host, secrets, eth)`, called per invocation with that invocation's `host`
// (host(svc, args) -> Promise<JSON>, brokered by the server: eth.rpc, eth.batch,
// eth.network, eth.nonce, eth.nonce_release, eth.relay), its frozen `secrets` and a private r3e.eth primitives object
// (src/chain/eth/eth_js.c). Everything that reaches a node goes through the server, which
// enforces the method allow-list; this layer only shapes values:
//   - integers leave as BigInt (block and nonce numbers, indexes and status as Number),
//   - bytes and hashes as lowercase hex strings, addresses checksummed as the node gives them,
//   - node errors reject with the node's message; reverts carry the decoded reason.
(() => {
  'use strict';

  const TAGS = ['latest', 'earliest', 'pending', 'safe', 'finalized'];
  const HEX_RE = /^0x[0-9a-fA-F]*$/;
  const ERROR_SELECTOR = '0x08c379a0'; // Error(string)
  const PANIC_SELECTOR = '0x4e487b71'; // Panic(uint256)
  const PANICS = {
    0x00: 'generic panic', 0x01: 'assert(false)', 0x11: 'arithmetic overflow or underflow',
    0x12: 'division or modulo by zero', 0x21: 'enum value out of range',
    0x22: 'bad storage byte array encoding', 0x31: 'pop() on an empty array',
    0x32: 'array index out of bounds', 0x41: 'out of memory',
    0x51: 'call to a zero-initialised function',
  };
  const ONE_GWEI = 1000000000n;

  const isObj = (v) => v !== null && typeof v === 'object';
  const hexOf = (b) => {
    if (typeof b === 'string') return b;
    if (b instanceof Uint8Array) {
      let s = '0x';
      for (const x of b) s += (x < 16 ? '0' : '') + x.toString(16);
      return s;
    }
    throw new TypeError('expected bytes as a 0x-prefixed hex string or a Uint8Array');
  };
  // JSON-RPC quantity: 0x-prefixed hex without leading zeros.
  const toQ = (v, what) => {
    let n;
    try {
      n = typeof v === 'bigint' ? v : BigInt(v);
    } catch {
      throw new TypeError(`${what}: not an integer: ${String(v).slice(0, 80)}`);
    }
    if (n < 0n) throw new RangeError(`${what}: must not be negative`);
    return '0x' + n.toString(16);
  };
  const big = (v) => (v === null || v === undefined ? v : BigInt(v));
  const num = (v) => (v === null || v === undefined ? v : Number(v));
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  // A block tag for JSON-RPC: a tag name, a number/BigInt/decimal or hex string.
  const blockTag = (t, what = 'blockTag') => {
    if (t === undefined || t === null) return 'latest';
    if (typeof t === 'number' || typeof t === 'bigint') return toQ(t, what);
    if (typeof t === 'string') {
      if (TAGS.includes(t)) return t;
      if (/^0x[0-9a-fA-F]{1,16}$/.test(t)) return toQ(t, what);
      if (/^[0-9]{1,20}$/.test(t)) return toQ(t, what);
    }
    throw new TypeError(`${what}: expected a block number or one of ${TAGS.join(', ')}`);
  };

  // A transaction request in JSON-RPC form (eth_call / eth_estimateGas).
  const rpcTx = (tx, what) => {
    if (!isObj(tx)) throw new TypeError(`${what}: expected a transaction object {to, data, ...}`);
    const o = {};
    if (tx.from !== undefined && tx.from !== null) o.from = String(tx.from);
    if (tx.to !== undefined && tx.to !== null) o.to = String(tx.to);
    const data = tx.data ?? tx.input;
    if (data !== undefined && data !== null) {
      o.data = hexOf(data);
      if (!HEX_RE.test(o.data)) throw new TypeError(`${what}: data must be 0x-prefixed hex`);
    }
    for (const [k, rk] of [['value', 'value'], ['gasLimit', 'gas'], ['gas', 'gas'], ['gasPrice', 'gasPrice'],
      ['maxFeePerGas', 'maxFeePerGas'], ['maxPriorityFeePerGas', 'maxPriorityFeePerGas'], ['nonce', 'nonce']]) {
      if (tx[k] !== undefined && tx[k] !== null) o[rk] = toQ(tx[k], `${what}: ${k}`);
    }
    return o;
  };

  const normLog = (l) => ({
    address: l.address,
    topics: l.topics,
    data: l.data,
    blockNumber: num(l.blockNumber),
    blockHash: l.blockHash,
    transactionHash: l.transactionHash,
    transactionIndex: num(l.transactionIndex),
    index: num(l.logIndex),
    removed: !!l.removed,
  });

  const normTx = (t) => (t === null || typeof t !== 'object' ? t : {
    hash: t.hash,
    type: num(t.type ?? '0x0'),
    blockNumber: num(t.blockNumber),
    blockHash: t.blockHash ?? null,
    index: num(t.transactionIndex),
    from: t.from,
    to: t.to ?? null,
    nonce: num(t.nonce),
    gasLimit: big(t.gas),
    gasPrice: big(t.gasPrice),
    maxFeePerGas: big(t.maxFeePerGas),
    maxPriorityFeePerGas: big(t.maxPriorityFeePerGas),
    value: big(t.value),
    data: t.input ?? t.data,
    chainId: big(t.chainId),
  });

  const normBlock = (b) => (b === null ? null : {
    number: num(b.number),
    hash: b.hash,
    parentHash: b.parentHash,
    timestamp: num(b.timestamp),
    miner: b.miner,
    gasLimit: big(b.gasLimit),
    gasUsed: big(b.gasUsed),
    baseFeePerGas: big(b.baseFeePerGas),
    extraData: b.extraData,
    transactions: (b.transactions || []).map((t) => (typeof t === 'string' ? t : normTx(t))),
  });

  const normReceipt = (r) => (r === null ? null : {
    hash: r.transactionHash,
    transactionHash: r.transactionHash,
    index: num(r.transactionIndex),
    blockNumber: num(r.blockNumber),
    blockHash: r.blockHash,
    from: r.from,
    to: r.to ?? null,
    contractAddress: r.contractAddress ?? null,
    status: num(r.status),
    type: num(r.type ?? '0x0'),
    gasUsed: big(r.gasUsed),
    cumulativeGasUsed: big(r.cumulativeGasUsed),
    effectiveGasPrice: big(r.effectiveGasPrice),
    logsBloom: r.logsBloom,
    logs: (r.logs || []).map(normLog),
  });

  // Revert data from a node error: the JSON-RPC error's data field, or the hex the
  // server's RPC client appends to the message ("message: 0x…").
  const revertData = (e) => {
    if (typeof e.data === 'string' && HEX_RE.test(e.data)) return e.data;
    if (isObj(e.data) && typeof e.data.data === 'string' && HEX_RE.test(e.data.data)) return e.data.data;
    const m = /:\s*(0x[0-9a-fA-F]*)\s*$/.exec(String(e.message || ''));
    return m ? m[1] : null;
  };

  // Decodes revert data: Error(string), Panic(uint256) or a custom error of iface.
  const decodeRevert = (eth, data, iface) => {
    if (!data || data === '0x') return null;
    const sel = data.slice(0, 10).toLowerCase();
    const coder = eth.AbiCoder.defaultAbiCoder();
    try {
      if (sel === ERROR_SELECTOR) return { reason: String(coder.decode(['string'], '0x' + data.slice(10))[0]) };
      if (sel === PANIC_SELECTOR) {
        const code = coder.decode(['uint256'], '0x' + data.slice(10))[0];
        const what = PANICS[Number(code)] || 'unknown panic code';
        return { reason: `panic 0x${code.toString(16)} (${what})`, panic: Number(code) };
      }
      if (iface) {
        const f = iface.fragments.find((x) => x.type === 'error' && x.selector === sel);
        if (f) {
          const args = iface.decodeErrorResult(f, data);
          return { reason: `${f.name}(${Array.from(args, (a) => String(a)).join(', ')})`, errorName: f.name, errorArgs: args };
        }
      }
    } catch {
      /* undecodable: keep the raw data */
    }
    return null;
  };

  // A node or platform error as a JS Error: the node's message, plus code (the platform's
  // machine code, or CALL_EXCEPTION for a revert), rpcCode, and for reverts data and reason.
  const wrapError = (eth, e, what, iface) => {
    const nodeMsg = String((e && e.message) || e);
    const data = revertData(e || {});
    const rev = data ? decodeRevert(eth, data, iface) : null;
    const reverted = rev || /revert/i.test(nodeMsg);
    let msg = nodeMsg;
    if (rev) {
      // Keep the node's wording but drop the raw hex tail the RPC client appended.
      const base = nodeMsg.replace(/:\s*0x[0-9a-fA-F]*\s*$/, '');
      msg = base.includes(rev.reason) ? base : `execution reverted: ${rev.reason} (node: ${base})`;
    }
    const out = new Error(`${what}: ${msg}`);
    out.code = reverted ? 'CALL_EXCEPTION' : ((e && e.code) || 'internal');
    if (e && e.rpcCode !== undefined) out.rpcCode = e.rpcCode;
    if (e && e.code) out.platformCode = e.code;
    if (data) out.data = data;
    if (rev) Object.assign(out, rev);
    out.nodeMessage = nodeMsg;
    return out;
  };

  // A decoded function result: one output -> the value; several -> the array (named members
  // as eth.Interface gives them) with toObject().
  const withToObject = (arr, names) => {
    Object.defineProperty(arr, 'toObject', {
      enumerable: false,
      value: () => {
        const o = {};
        names.forEach((n, i) => { o[n || String(i)] = arr[i]; });
        return o;
      },
    });
    return arr;
  };
  const paramName = (p) => (p && (p.n ?? p.name)) || '';
  const paramType = (p) => (p && (p.t ?? p.baseType ?? p.type)) || '';

  // view/pure from a human-readable fragment or a JSON ABI entry.
  const isViewEntry = (entry) => {
    if (typeof entry === 'string') {
      const s = entry.trim();
      const open = s.indexOf('(');
      if (open < 0) return false;
      let depth = 0, i = open;
      for (; i < s.length; i++) {
        if (s[i] === '(') depth++;
        else if (s[i] === ')' && --depth === 0) break;
      }
      const mods = s.slice(i + 1).split(/\breturns\b/)[0];
      return /\b(view|pure|constant)\b/.test(mods);
    }
    if (isObj(entry)) return entry.stateMutability === 'view' || entry.stateMutability === 'pure' || entry.constant === true;
    return false;
  };
  const abiEntries = (abi) => {
    if (typeof abi === 'string') return abi.trim().startsWith('[') ? JSON.parse(abi) : [abi];
    if (Array.isArray(abi)) return abi;
    throw new TypeError('contract: abi must be an array of human-readable fragments (or a JSON ABI)');
  };
  const entryName = (entry) => {
    if (typeof entry === 'string') {
      const m = /^\s*function\s+([A-Za-z_$][A-Za-z0-9_$]*)/.exec(entry);
      return m ? m[1] : null;
    }
    return isObj(entry) && (entry.type === 'function' || entry.type === undefined) ? entry.name : null;
  };

  return function makeEth(host, secrets, eth) {
    // One api object per network name (undefined = the default network).
    const apis = new Map();
    const make = (network) => {
      if (apis.has(network)) return apis.get(network);
      const netArgs = network === undefined ? {} : { network };
      const label = network === undefined ? 'ctx.eth' : `ctx.eth.network(${JSON.stringify(network)})`;
      let netInfo = null;

      const rpc = async (method, params = [], iface) => {
        if (typeof method !== 'string') throw new TypeError(`${label}.send: method must be a string`);
        if (!Array.isArray(params)) throw new TypeError(`${label}.send: params must be an array`);
        try {
          return await host('eth.rpc', { ...netArgs, method, params });
        } catch (e) {
          throw wrapError(eth, e, method, iface);
        }
      };

      const getNetwork = async () => {
        if (!netInfo) {
          let r;
          try {
            r = await host('eth.network', netArgs);
          } catch (e) {
            throw wrapError(eth, e, `${label}.getNetwork`);
          }
          netInfo = { name: r.name, chainId: BigInt(r.chainId) };
        }
        return { ...netInfo };
      };

      const api = {};
      const call = async (tx, tag, iface) => rpc('eth_call', [rpcTx(tx, 'call'), blockTag(tag)], iface);
      const estimateGas = async (tx, iface) => BigInt(await rpc('eth_estimateGas', [rpcTx(tx, 'estimateGas')], iface));
      const getTransactionReceipt = async (hash) => normReceipt(await rpc('eth_getTransactionReceipt', [String(hash)]));
      const blockNumber = async () => Number(await rpc('eth_blockNumber'));

      const feeData = async () => {
        const [block, gasPrice, prio] = await batch([
          { method: 'eth_getBlockByNumber', params: ['latest', false] },
          { method: 'eth_gasPrice', params: [] },
          { method: 'eth_maxPriorityFeePerGas', params: [] },
        ]);
        if (block instanceof Error) throw block;
        const out = { gasPrice: gasPrice instanceof Error ? null : BigInt(gasPrice), maxFeePerGas: null, maxPriorityFeePerGas: null };
        if (block && block.baseFeePerGas !== undefined && block.baseFeePerGas !== null) {
          const base = BigInt(block.baseFeePerGas);
          const tip = prio instanceof Error ? ONE_GWEI : BigInt(prio);
          out.baseFeePerGas = base;
          out.maxPriorityFeePerGas = tip;
          out.maxFeePerGas = base * 2n + tip;
        }
        return out;
      };

      // batch([{method, params}]) -> results in order; a failed entry is an Error (not thrown).
      const batch = async (calls) => {
        if (!Array.isArray(calls)) throw new TypeError(`${label}.batch: expected an array of {method, params}`);
        const norm = calls.map((c, i) => {
          if (!isObj(c) || typeof c.method !== 'string') throw new TypeError(`${label}.batch: entry ${i} needs a method`);
          return { method: c.method, params: c.params === undefined ? [] : c.params };
        });
        if (norm.length === 0) return [];
        let res;
        try {
          res = await host('eth.batch', { ...netArgs, calls: norm });
        } catch (e) {
          throw wrapError(eth, e, `${label}.batch`);
        }
        return res.map((r, i) => {
          if (r && r.error) {
            const e = { message: r.error.message, data: r.error.data, rpcCode: r.error.code, code: 'upstream_error' };
            return wrapError(eth, e, norm[i].method);
          }
          return r ? r.result : null;
        });
      };

      const waitForTransaction = async (hash, confirmations = 1, timeoutMs) => {
        const deadline = timeoutMs === undefined ? Infinity : Date.now() + Number(timeoutMs);
        let delay = 50;
        for (;;) {
          const rc = await getTransactionReceipt(hash);
          if (rc) {
            if (confirmations <= 1) return rc;
            const head = await blockNumber();
            if (head - rc.blockNumber + 1 >= confirmations) return rc;
          }
          if (Date.now() + delay > deadline) {
            const e = new Error(`transaction ${hash} not ${rc ? 'confirmed' : 'mined'} within ${timeoutMs} ms`);
            e.code = 'TIMEOUT';
            throw e;
          }
          await sleep(delay);
          delay = Math.min(Math.ceil(delay * 1.5), 1000);
        }
      };

      // A sent transaction: its fields plus wait(confirmations?, timeoutMs?) -> receipt;
      // wait rejects with code CALL_EXCEPTION (and .receipt) when the transaction reverted.
      const sentTx = (hash, fields, iface) => ({
        hash,
        ...fields,
        wait: async (confirmations = 1, timeoutMs) => {
          const rc = await waitForTransaction(hash, confirmations, timeoutMs);
          if (rc.status === 0) {
            const e = new Error(`transaction ${hash} reverted (block ${rc.blockNumber})`);
            e.code = 'CALL_EXCEPTION';
            e.receipt = rc;
            throw e;
          }
          if (iface) {
            rc.logs = rc.logs.map((l) => decorateLog(iface, l));
          }
          return rc;
        },
      });

      // ---- wallets: a private key held as a function secret ----
      const wallet = (secretName) => {
        if (typeof secretName !== 'string' || secretName === '') {
          throw new TypeError(`${label}.wallet: expected the name of a function secret`);
        }
        const raw = isObj(secrets) && Object.prototype.hasOwnProperty.call(secrets, secretName) ? secrets[secretName] : undefined;
        if (raw === undefined || raw === null) {
          throw new Error(`${label}.wallet: the function has no secret named "${secretName}" ` +
            `(set it with PUT /v1/functions/{name}/secrets/${secretName})`);
        }
        const text = String(raw).trim();
        const hex = /^0x/i.test(text) ? text.slice(2) : text;
        if (!/^[0-9a-fA-F]{64}$/.test(hex)) {
          throw new Error(`${label}.wallet: secret "${secretName}" is not a private key ` +
            '(expected 32 bytes as 64 hex digits, optionally 0x-prefixed)');
        }
        let w;
        try {
          w = new eth.Wallet('0x' + hex.toLowerCase());
        } catch {
          throw new Error(`${label}.wallet: secret "${secretName}" is not a valid secp256k1 private key`);
        }
        const address = w.address;
        let queue = Promise.resolve(); // populate+send one at a time per wallet

        // sendTransaction takes its nonce from the server's reservation (host "eth.nonce":
        // max(the node's pending count, the last one reserved + 1) per namespace, network and
        // address), so concurrent invocations sending from the same key get distinct nonces. A
        // nonce that never reached the node is given back; a nonce error makes the server
        // forget its reservation and ask the node again.
        const reserveNonce = async () => {
          try {
            return Number((await host('eth.nonce', { ...netArgs, address })).nonce);
          } catch (e) {
            throw wrapError(eth, e, 'eth_getTransactionCount');
          }
        };
        const releaseNonce = async (nonce, resync) => {
          try {
            await host('eth.nonce_release', { ...netArgs, address, nonce, resync });
          } catch {
            // best effort: an unreleased reservation expires on its own
          }
        };
        const NONCE_TOO_HIGH = /nonce too high|nonce gap|future nonce/i;
        const NONCE_TOO_HIGH_TRIES = 30; // x 100 ms
        const NONCE_ERROR = /nonce too low|nonce too high|nonce has already been used|invalid nonce|replacement transaction underpriced|already known|known transaction/i;

        const populate = async (tx, reserve = false) => {
          if (!isObj(tx)) throw new TypeError('sendTransaction: expected a transaction object {to, data, value, ...}');
          if (tx.from !== undefined && tx.from !== null && String(tx.from).toLowerCase() !== address.toLowerCase()) {
            throw new Error(`sendTransaction: from ${tx.from} is not this wallet's address ${address}`);
          }
          const out = {
            to: tx.to === undefined || tx.to === null ? null : String(tx.to),
            data: tx.data === undefined || tx.data === null ? '0x' : hexOf(tx.data),
            value: big(tx.value ?? 0n),
          };
          const chainId = tx.chainId !== undefined && tx.chainId !== null ? BigInt(tx.chainId) : (await getNetwork()).chainId;
          out.chainId = chainId;
          if (tx.nonce !== undefined && tx.nonce !== null) {
            out.nonce = Number(tx.nonce);
          } else if (!reserve) {
            out.nonce = Number(await rpc('eth_getTransactionCount', [address, 'pending']));
          }
          out.gasLimit = tx.gasLimit ?? tx.gas;
          if (out.gasLimit === undefined || out.gasLimit === null) {
            out.gasLimit = await estimateGas({ from: address, to: out.to, data: out.data, value: out.value }, tx.iface);
          }
          out.gasLimit = BigInt(out.gasLimit);
          if (tx.gasPrice !== undefined && tx.gasPrice !== null) {
            out.type = 0;
            out.gasPrice = BigInt(tx.gasPrice);
          } else if (tx.type === 0) {
            out.type = 0;
            out.gasPrice = (await feeData()).gasPrice;
          } else {
            let { maxFeePerGas, maxPriorityFeePerGas } = tx;
            if (maxFeePerGas === undefined || maxFeePerGas === null || maxPriorityFeePerGas === undefined || maxPriorityFeePerGas === null) {
              const f = await feeData();
              if (f.maxFeePerGas === null) {
                // pre-London chain: no base fee, legacy pricing
                out.type = 0;
                out.gasPrice = f.gasPrice;
              } else {
                maxPriorityFeePerGas = maxPriorityFeePerGas ?? f.maxPriorityFeePerGas;
                maxFeePerGas = maxFeePerGas ?? f.baseFeePerGas * 2n + BigInt(maxPriorityFeePerGas);
              }
            }
            if (out.type !== 0) {
              out.type = 2;
              out.maxFeePerGas = BigInt(maxFeePerGas);
              out.maxPriorityFeePerGas = BigInt(maxPriorityFeePerGas);
            }
          }
          // reserved last, so a failing estimate or fee read never holds a nonce
          if (out.nonce === undefined) out.nonce = await reserveNonce();
          return out;
        };

        const signTx = async (tx, reserve = false) => {
          const full = await populate(tx, reserve);
          try {
            return { full, raw: await w.signTransaction(full) };
          } catch (e) {
            if (reserve && (tx.nonce === undefined || tx.nonce === null)) await releaseNonce(full.nonce, false);
            throw e;
          }
        };

        const sendTransaction = (tx) => {
          const run = async () => {
            let full, raw;
            try {
              ({ full, raw } = await signTx(tx, true));
            } catch (e) {
              throw e instanceof Error ? e : new Error(String(e));
            }
            const reserved = tx.nonce === undefined || tx.nonce === null;
            let hash;
            for (let attempt = 0; ; attempt++) {
              try {
                hash = await rpc('eth_sendRawTransaction', [raw], tx && tx.iface);
                break;
              } catch (e) {
                const msg = String((e && e.message) || e);
                // A concurrent sender holds the nonce below ours and has not broadcast it yet:
                // nodes without a queue for future nonces (automining dev nodes, L2
                // sequencers) refuse ours until it lands, so try again for a moment.
                if (reserved && NONCE_TOO_HIGH.test(msg) && attempt < NONCE_TOO_HIGH_TRIES) {
                  await sleep(100);
                  continue;
                }
                if (reserved) await releaseNonce(full.nonce, NONCE_ERROR.test(msg));
                throw e;
              }
            }
            const { iface, ...fields } = { ...full, from: address, iface: tx.iface };
            return sentTx(hash, fields, iface);
          };
          const p = queue.then(run, run);
          queue = p.then(() => undefined, () => undefined);
          return p;
        };

        return Object.freeze({
          address,
          getAddress: async () => address,
          getBalance: async (tag) => BigInt(await rpc('eth_getBalance', [address, blockTag(tag)])),
          getNonce: async (tag = 'pending') => Number(await rpc('eth_getTransactionCount', [address, blockTag(tag)])),
          signMessage: async (m) => w.signMessage(m),
          signTypedData: async (domain, types, value) => w.signTypedData(domain, types, value),
          populateTransaction: async (tx) => populate(tx),
          signTransaction: async (tx) => (await signTx(tx)).raw,
          sendTransaction,
          network: network === undefined ? null : network,
          _isR3eWallet: true,
        });
      };

      // ---- contracts from a human-readable ABI ----
      const decorateLog = (iface, log) => {
        let parsed = null;
        try {
          parsed = iface.parseLog(log);
        } catch {
          parsed = null;
        }
        if (!parsed) return log;
        const names = (parsed.fragment.inputs || []).map(paramName);
        return {
          ...log,
          eventName: parsed.name,
          eventSignature: parsed.signature,
          args: withToObject(parsed.args, names),
        };
      };

      const topicFor = (p, v) => {
        if (v === null || v === undefined) return null;
        if (Array.isArray(v) && !['array', 'tuple'].includes(paramType(p))) return v.map((x) => topicFor(p, x));
        const t = paramType(p);
        const fullType = p.type || t;
        if (t === 'string') return eth.id(String(v));
        if (t === 'bytes') return eth.keccak256(hexOf(v));
        if (t === 'array' || t === 'tuple') throw new TypeError('filters: indexed array/tuple parameters cannot be filtered by value');
        let type = fullType;
        if (p.t) {
          // r3e.eth type trees carry no full type name: derive it from the value's kind
          type = t === 'uint' ? 'uint256' : t === 'int' ? 'int256' : t === 'bytesN' ? 'bytes32' : t;
          if (t === 'bytesN') {
            const h = hexOf(v).slice(2);
            return '0x' + h.padEnd(64, '0').toLowerCase();
          }
        }
        return eth.AbiCoder.defaultAbiCoder().encode([type], [v]);
      };

      const contract = (address, abi, runner) => {
        if (typeof address !== 'string' || !/^0x[0-9a-fA-F]{40}$/.test(address)) {
          throw new TypeError(`${label}.contract: address must be a 0x-prefixed 20-byte hex string`);
        }
        const entries = abiEntries(abi);
        const iface = new eth.Interface(entries);
        const views = new Set();
        for (const e of entries) {
          const n = entryName(e);
          if (n && isViewEntry(e)) views.add(n);
        }
        const c = { target: address, address, interface: iface, runner: runner || null };
        const fns = iface.fragments.filter((f) => f.type === 'function');
        const byName = new Map();
        for (const f of fns) byName.set(f.name, (byName.get(f.name) || 0) + 1);

        const splitArgs = (f, args) => {
          const n = (f.inputs || []).length;
          if (args.length === n + 1 && isObj(args[n]) && !Array.isArray(args[n])) return [args.slice(0, n), args[n]];
          if (args.length !== n) throw new TypeError(`${f.name}: expected ${n} argument(s), got ${args.length}`);
          return [args, {}];
        };
        const decodeResult = (f, data) => {
          const outs = f.outputs || [];
          const r = iface.decodeFunctionResult(f, data);
          if (outs.length === 1) return r[0];
          return withToObject(r, outs.map(paramName));
        };
        const method = (f, isView) => {
          const staticCall = async (...args) => {
            const [vals, ov] = splitArgs(f, args);
            const data = iface.encodeFunctionData(f, vals);
            const from = ov.from ?? (runner ? runner.address : undefined);
            const out = await call({ to: address, data, from, value: ov.value }, ov.blockTag, iface);
            if (out === '0x' && (f.outputs || []).length > 0) {
              const code = await rpc('eth_getCode', [address, blockTag(ov.blockTag)]);
              if (code === '0x') throw new Error(`${f.name}: no contract at ${address} on ${network ?? 'the default network'}`);
            }
            return decodeResult(f, out);
          };
          const populateTransaction = async (...args) => {
            const [vals, ov] = splitArgs(f, args);
            return { ...ov, to: address, data: iface.encodeFunctionData(f, vals) };
          };
          const estimate = async (...args) => {
            const tx = await populateTransaction(...args);
            const from = tx.from ?? (runner ? runner.address : undefined);
            return estimateGas({ ...tx, from }, iface);
          };
          const send = async (...args) => {
            if (!runner || typeof runner.sendTransaction !== 'function') {
              throw new Error(`contract.${f.name}: "${f.name}" sends a transaction and needs a wallet: ` +
                `contract.connect(ctx.eth.wallet("SECRET_NAME")).${f.name}(...)`);
            }
            const tx = await populateTransaction(...args);
            delete tx.blockTag;
            return runner.sendTransaction({ ...tx, iface });
          };
          const fn = (...args) => (isView ? staticCall(...args) : send(...args));
          return Object.assign(fn, { staticCall, send, populateTransaction, estimateGas: estimate, fragment: f });
        };
        for (const f of fns) {
          const m = method(f, views.has(f.name));
          if (byName.get(f.name) === 1 && !(f.name in c)) c[f.name] = m;
          c[f.signature] = m;
        }

        const eventOf = (ev) => {
          const f = iface.getEvent(ev);
          if (!f) throw new Error(`contract: no event ${ev} in the ABI`);
          return f;
        };
        const filters = {};
        for (const f of iface.fragments.filter((x) => x.type === 'event')) {
          filters[f.name] = (...vals) => {
            const indexed = (f.inputs || []).filter((p) => p.indexed);
            if (vals.length > indexed.length) throw new TypeError(`filters.${f.name}: at most ${indexed.length} indexed value(s)`);
            const topics = [f.topicHash, ...indexed.slice(0, vals.length).map((p, i) => topicFor(p, vals[i]))];
            while (topics.length > 1 && topics[topics.length - 1] === null) topics.pop();
            return { address, topics, fragment: f };
          };
        }
        const queryFilter = async (ev = '*', fromBlock = 0, toBlock = 'latest') => {
          let topics;
          if (isObj(ev) && Array.isArray(ev.topics)) topics = ev.topics;
          else if (ev === '*') topics = undefined;
          else topics = [eventOf(ev).topicHash];
          const logs = await getLogs({ address, topics, fromBlock, toBlock });
          return logs.map((l) => decorateLog(iface, l)).filter((l) => ev === '*' || l.eventName);
        };
        Object.assign(c, {
          getAddress: async () => address,
          connect: (r) => contract(address, entries, r),
          filters,
          queryFilter,
          getEvents: queryFilter,
          parseLog: (log) => decorateLog(iface, log),
        });
        return Object.freeze(c);
      };

      const getLogs = async (filter = {}) => {
        if (!isObj(filter)) throw new TypeError('getLogs: expected a filter {address, topics, fromBlock, toBlock}');
        const f = {};
        if (filter.address !== undefined) f.address = filter.address;
        if (filter.topics !== undefined) f.topics = filter.topics;
        if (filter.blockHash !== undefined) {
          f.blockHash = filter.blockHash;
        } else {
          f.fromBlock = blockTag(filter.fromBlock ?? 'latest', 'fromBlock');
          f.toBlock = blockTag(filter.toBlock ?? 'latest', 'toBlock');
        }
        const logs = await rpc('eth_getLogs', [f]);
        return logs.map(normLog);
      };

      const relay = async (tx, what = 'relay') => {
        if (!isObj(tx) || typeof tx.to !== 'string') throw new TypeError(`${label}.${what}: expected {to, data, value?, gasLimit?, speed?, wait?}`);
        const a = { ...netArgs, to: tx.to, data: tx.data === undefined ? '0x' : hexOf(tx.data) };
        if (tx.value !== undefined) a.value = BigInt(tx.value).toString();
        if (tx.gasLimit !== undefined) a.gasLimit = BigInt(tx.gasLimit).toString();
        if (tx.speed !== undefined) a.speed = String(tx.speed);
        if (tx.wait !== undefined) a.wait = !!tx.wait;
        try {
          return await host('eth.relay', a);
        } catch (e) {
          throw wrapError(eth, e, `${label}.${what}`);
        }
      };
      const withRelayWait = (rec) => Object.defineProperty(rec, 'wait', {
        enumerable: false,
        value: async () => {
          try {
            return withRelayWait(await host('eth.relay_get', { ...netArgs, id: rec.id, wait: true }));
          } catch (e) {
            throw wrapError(eth, e, `${label}.sendTransaction.wait`);
          }
        },
      });

      Object.assign(api, {
        name: network === undefined ? null : network,
        getNetwork,
        send: (method, params) => rpc(method, params),
        blockNumber,
        getBlockNumber: blockNumber,
        getBlock: async (at = 'latest', fullTx = false) => {
          const full = !!fullTx;
          if (typeof at === 'string' && /^0x[0-9a-fA-F]{64}$/.test(at)) {
            return normBlock(await rpc('eth_getBlockByHash', [at, full]));
          }
          return normBlock(await rpc('eth_getBlockByNumber', [blockTag(at, 'getBlock'), full]));
        },
        getBalance: async (addr, tag) => BigInt(await rpc('eth_getBalance', [String(addr), blockTag(tag)])),
        getTransactionCount: async (addr, tag) => Number(await rpc('eth_getTransactionCount', [String(addr), blockTag(tag)])),
        getCode: async (addr, tag) => rpc('eth_getCode', [String(addr), blockTag(tag)]),
        getStorage: async (addr, slot, tag) => rpc('eth_getStorageAt', [String(addr), toQ(slot, 'slot'), blockTag(tag)]),
        getTransaction: async (hash) => normTx(await rpc('eth_getTransactionByHash', [String(hash)])),
        getTransactionReceipt,
        waitForTransaction,
        call: async (tx, tag) => call(tx, tag),
        estimateGas: async (tx) => estimateGas(tx),
        getLogs,
        feeData,
        getFeeData: feeData,
        batch,
        contract: (address, abi) => contract(address, abi),
        wallet,
        relay: (tx) => relay(tx),
        // The platform pays: sends through the relayer (DESIGN's `ctx.eth.sendTransaction`),
        // resolving to the relayer's record with wait() for the final one.
        sendTransaction: async (tx) => {
          const rec = await relay(tx, 'sendTransaction');
          return withRelayWait(rec);
        },
        network: (name) => {
          if (typeof name !== 'string' || name === '') throw new TypeError('ctx.eth.network: expected a configured network name');
          return make(name);
        },
      });
      const frozen = Object.freeze(api);
      apis.set(network, frozen);
      return frozen;
    };
    return make(undefined);
  };
})()
