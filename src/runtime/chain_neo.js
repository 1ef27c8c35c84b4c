// ctx.neo: Neo N3 network I/O for functions (docs/functions.md, "ctx.neo").
//
// Evaluated lazily by the sandbox to a factory that is called per invocation with that
// invocation's `host` (host(svc, args) -> Promise, brokered by the server: neo.rpc,
// neo.batch, neo.network, neo.relay), the frozen `secrets` object and `neo` = r3e.neo
// (keys, scripts, transactions and stack-item decoding implemented in C, src/chain/neo).
(function (host, secrets, neo) {
  'use strict';

  const VALID_BLOCKS = 1000; // validUntilBlock = current height + this
  const NEO_HASH = '0xef4073a0f2b305a38ec4050e4d3d28bc40ea63f5';
  const GAS_HASH = '0xd2a4cff31913016155e38e474a2c06d08be276cf';
  const HEX = /^(0x)?([0-9a-fA-F]{2})*$/;

  function fail(message, code) {
    const e = new Error(message);
    e.code = code || 'invalid_argument';
    return e;
  }

  // ---- encodings ----
  const strip0x = (h) => (/^0x/i.test(h) ? h.slice(2) : h);
  function hexToB64(hex) {
    const h = strip0x(String(hex));
    if (!HEX.test(h)) throw fail('ctx.neo: expected a hex string');
    let bin = '';
    for (let i = 0; i < h.length; i += 2) bin += String.fromCharCode(parseInt(h.slice(i, i + 2), 16));
    return btoa(bin);
  }
  function utf8Hex(s) {
    const b = new TextEncoder().encode(String(s));
    let out = '';
    for (const x of b) out += x.toString(16).padStart(2, '0');
    return out;
  }
  const isHash160 = (s) => typeof s === 'string' && /^(0x)?[0-9a-fA-F]{40}$/.test(s);
  const isHash256 = (s) => typeof s === 'string' && /^0x[0-9a-fA-F]{64}$/.test(s);
  const isAddress = (s) => typeof s === 'string' && s.length === 34 && neo.wallet.isAddress(s);

  // Address or (0x) hex script hash -> "0x" + big-endian hex, as the node's RPC expects.
  function scriptHash(v, what) {
    if (isHash160(v)) return '0x' + strip0x(v).toLowerCase();
    if (isAddress(v)) return '0x' + neo.wallet.getScriptHashFromAddress(v);
    throw fail(`ctx.neo: ${what || 'account'} must be a Neo address or a 20-byte script hash, got ${JSON.stringify(v)}`);
  }
  // "NEO" / "GAS" name the native tokens; anything else is an address or script hash.
  function tokenHash(t, what) {
    if (t === 'NEO' || t === 'neo') return NEO_HASH;
    if (t === 'GAS' || t === 'gas') return GAS_HASH;
    return scriptHash(t, what || 'token');
  }
  function integerString(v, what) {
    if (typeof v === 'bigint') return v.toString();
    if (typeof v === 'number' && Number.isSafeInteger(v)) return String(v);
    if (typeof v === 'string' && /^-?\d+$/.test(v)) return v;
    throw fail(`ctx.neo: ${what} must be an integer (bigint, safe integer or decimal string) in the token's smallest unit`);
  }

  // Plain JS value -> ContractParameter JSON the node understands. {type, value} objects pass
  // through (Hash160 values may be addresses). Strings that are addresses or 0x+40 hex become
  // Hash160, 0x+64 hex Hash256, other strings String.
  function param(v, depth) {
    if (depth > 16) throw fail('ctx.neo: arguments nested too deeply');
    if (v === null || v === undefined) return { type: 'Any' };
    switch (typeof v) {
      case 'boolean':
        return { type: 'Boolean', value: v };
      case 'number':
        if (!Number.isSafeInteger(v)) throw fail('ctx.neo: numeric arguments must be safe integers (use a bigint or a decimal string)');
        return { type: 'Integer', value: String(v) };
      case 'bigint':
        return { type: 'Integer', value: v.toString() };
      case 'string':
        if (isAddress(v) || /^0x[0-9a-fA-F]{40}$/.test(v)) return { type: 'Hash160', value: scriptHash(v) };
        if (isHash256(v)) return { type: 'Hash256', value: v.toLowerCase() };
        return { type: 'String', value: v };
    }
    if (Array.isArray(v)) return { type: 'Array', value: v.map((x) => param(x, depth + 1)) };
    if (v instanceof Uint8Array) {
      let bin = '';
      for (const x of v) bin += String.fromCharCode(x);
      return { type: 'ByteArray', value: btoa(bin) };
    }
    if (typeof v === 'object' && typeof v.type === 'string') {
      if (v.type === 'Hash160') return { type: 'Hash160', value: scriptHash(String(v.value), 'Hash160 argument') };
      if (v.type === 'Array') return { type: 'Array', value: (v.value || []).map((x) => param(x, depth + 1)) };
      if (v.type === 'Any') return { type: 'Any' };
      return { type: v.type, value: v.value };
    }
    throw fail('ctx.neo: cannot pass ' + Object.prototype.toString.call(v) + ' as a contract argument');
  }
  const params = (args) => {
    if (args === undefined || args === null) return [];
    if (!Array.isArray(args)) throw fail('ctx.neo: contract arguments must be an array');
    return args.map((a) => param(a, 0));
  };
  function signersParam(signers) {
    if (signers === undefined || signers === null) return undefined;
    if (!Array.isArray(signers)) throw fail('ctx.neo: signers must be an array');
    return signers.map((s) => {
      if (typeof s === 'string') return { account: scriptHash(s, 'signer'), scopes: 'CalledByEntry' };
      if (!s || typeof s !== 'object') throw fail('ctx.neo: a signer is an address, a script hash or {account, scopes}');
      const out = { account: scriptHash(s.account, 'signer account'), scopes: typeof s.scopes === 'string' ? s.scopes : 'CalledByEntry' };
      if (s.allowedcontracts) out.allowedcontracts = s.allowedcontracts.map((c) => scriptHash(c, 'allowed contract'));
      if (s.allowedgroups) out.allowedgroups = s.allowedgroups;
      return out;
    });
  }

  // ---- decoding (r3e.neo's C decoders) ----
  function decodeExecution(x) {
    return {
      trigger: x.trigger,
      vmstate: x.vmstate,
      exception: x.exception ?? null,
      gasconsumed: x.gasconsumed,
      stack: (x.stack || []).map((it) => neo.decodeStackItem(it)),
      notifications: (x.notifications || []).map((n) => {
        const d = neo.decodeNotification(n);
        return { contract: d.contract, eventname: d.event, state: d.state, ...(d.transfer ? { transfer: d.transfer } : {}) };
      }),
      raw: { stack: x.stack || [], notifications: x.notifications || [] },
    };
  }
  function decodeInvoke(r) {
    return {
      state: r.state,
      gasconsumed: r.gasconsumed,
      exception: r.exception ?? null,
      script: r.script,
      stack: r.state === 'HALT' ? (r.stack || []).map((it) => neo.decodeStackItem(it)) : [],
      notifications: (r.notifications || []).map((n) => neo.decodeNotification(n)),
      raw: { stack: r.stack || [], notifications: r.notifications || [] },
    };
  }

  // ---- one network ----
  function make(network) {
    const rpc = (method, p) => host('neo.rpc', { network, method, params: p || [] });
    async function batch(calls) {
      const res = await host('neo.batch', { network, calls });
      return res.map((r, i) => {
        if (r && r.error) {
          const e = new Error(r.error.message);
          e.code = 'upstream_error';
          e.rpcCode = r.error.code;
          e.method = calls[i].method;
          throw e;
        }
        return r.result;
      });
    }
    let info = null; // {name, magic}, cached for this api object
    const networkInfo = () => (info = info || host('neo.network', { network }));
    const magicOf = async () => Number((await networkInfo()).magic);

    const invokeFunction = async (contract, method, args, signers) => {
      if (typeof method !== 'string' || !method) throw fail('ctx.neo.invokeFunction: method must be a non-empty string');
      const p = [tokenHash(contract, 'contract'), method, params(args)];
      const s = signersParam(signers);
      if (s) p.push(s);
      return decodeInvoke(await rpc('invokefunction', p));
    };
    const invokeScript = async (script, signers) => {
      const p = [hexToB64(script)];
      const s = signersParam(signers);
      if (s) p.push(s);
      return decodeInvoke(await rpc('invokescript', p));
    };
    const txB64 = (t) => hexToB64(typeof t === 'string' ? t : t.serialize(true));

    async function waitForTransaction(hash, opts) {
      if (!isHash256(hash)) throw fail('ctx.neo.waitForTransaction: expected a 0x-prefixed transaction hash');
      const o = opts || {};
      const timeoutMs = Number.isFinite(o.timeoutMs) ? o.timeoutMs : 60000;
      const intervalMs = Number.isFinite(o.intervalMs) ? Math.max(50, o.intervalMs) : 1000;
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        try {
          const log = await rpc('getapplicationlog', [hash]);
          return { txid: log.txid, executions: (log.executions || []).map(decodeExecution) };
        } catch (e) {
          if (e.rpcCode !== -103 && e.rpcCode !== -100) throw e; // anything but "unknown transaction"
        }
        if (Date.now() + intervalMs > deadline) throw fail(`ctx.neo.waitForTransaction: ${hash} not in a block after ${timeoutMs} ms`, 'timeout');
        await new Promise((r) => setTimeout(r, intervalMs));
      }
    }

    function contract(hash) {
      const h = tokenHash(hash, 'contract');
      const call = async (method, ...args) => {
        const r = await invokeFunction(h, method, args);
        if (r.state !== 'HALT') {
          const e = new Error(`${h}.${method}: ${r.exception || r.state}`);
          e.code = 'execution_failed';
          throw e;
        }
        return r.stack.length === 1 ? r.stack[0] : r.stack;
      };
      const base = { hash: h, call, invoke: (method, args, signers) => invokeFunction(h, method, args, signers) };
      // Any other property is a read call: ctx.neo.contract(h).balanceOf(addr).
      return new Proxy(Object.freeze(base), {
        get(t, name) {
          if (typeof name !== 'string' || name === 'then' || name === 'toJSON') return undefined;
          if (Object.prototype.hasOwnProperty.call(t, name)) return t[name];
          return (...args) => call(name, ...args);
        },
      });
    }

    function wallet(secretName) {
      if (typeof secretName !== 'string' || !secretName) throw fail('ctx.neo.wallet: expected the name of a secret holding a WIF or hex private key');
      const key = secrets && Object.prototype.hasOwnProperty.call(secrets, secretName) ? secrets[secretName] : undefined;
      if (typeof key !== 'string' || !key) throw fail(`ctx.neo.wallet: no secret named "${secretName}" (PUT /v1/functions/{name}/secrets/${secretName})`, 'not_found');
      let acct;
      try {
        acct = new neo.wallet.Account(key.trim());
      } catch (e) {
        throw fail(`ctx.neo.wallet: secret "${secretName}" is not a WIF or hex private key`);
      }
      const account = '0x' + acct.scriptHash;
      const priv = acct.privateKey;

      async function send(script, opts) {
        const o = opts || {};
        const signers = [{ account, scopes: 'CalledByEntry' }];
        const [netInfo, [count, test]] = await Promise.all([
          networkInfo(),
          batch([
            { method: 'getblockcount', params: [] },
            { method: 'invokescript', params: [hexToB64(script), signers] },
          ]),
        ]);
        if (test.state !== 'HALT') {
          const e = new Error(`ctx.neo: test invocation failed: ${test.exception || test.state}`);
          e.code = 'execution_failed';
          e.gasconsumed = test.gasconsumed;
          throw e;
        }
        if (o.requireTrue && !(test.stack && test.stack[0] && test.stack[0].type === 'Boolean' && test.stack[0].value === true)) {
          const e = new Error(`ctx.neo: ${o.requireTrue} returned false in the test invocation (insufficient balance?)`);
          e.code = 'execution_failed';
          throw e;
        }
        const magic = Number(netInfo.magic);
        const t = new neo.tx.Transaction({
          signers,
          script,
          validUntilBlock: Number(count) - 1 + (Number.isSafeInteger(o.validBlocks) && o.validBlocks > 0 ? o.validBlocks : VALID_BLOCKS),
          systemFee: test.gasconsumed,
        });
        t.sign(priv, magic); // a real witness so the node can size it
        const fee = await rpc('calculatenetworkfee', [txB64(t)]);
        t.networkFee = String(fee.networkfee);
        t.witnesses = [];
        t.sign(priv, magic);
        const sent = await rpc('sendrawtransaction', [txB64(t)]);
        return {
          hash: sent.hash,
          network: netInfo.name,
          sender: acct.address,
          systemFee: t.systemFee,
          networkFee: t.networkFee,
          validUntilBlock: t.validUntilBlock,
        };
      }

      return Object.freeze({
        address: acct.address,
        scriptHash: account,
        publicKey: acct.publicKey,
        transfer(token, to, amount, opts) {
          const tok = tokenHash(token);
          const toHash = scriptHash(to, 'recipient');
          const amt = integerString(amount, 'amount');
          if (amt.startsWith('-')) return Promise.reject(fail('ctx.neo: amount must not be negative'));
          const data = opts && 'data' in opts ? opts.data : null;
          const script = new neo.sc.ScriptBuilder()
            .emitAppCall(tok, 'transfer', [
              neo.sc.ContractParam.hash160(account),
              neo.sc.ContractParam.hash160(toHash),
              neo.sc.ContractParam.integer(amt),
              data === null || data === undefined ? neo.sc.ContractParam.any(null) : data,
            ])
            .build();
          return send(script, { ...(opts || {}), requireTrue: 'transfer' });
        },
        invoke(contractHash, method, args, opts) {
          if (typeof method !== 'string' || !method) return Promise.reject(fail('ctx.neo.wallet.invoke: method must be a non-empty string'));
          const h = tokenHash(contractHash, 'contract');
          const script = new neo.sc.ScriptBuilder().emitAppCall(h, method, params(args)).build();
          return send(script, opts);
        },
        // ECDSA P-256 over SHA-256 of the message bytes (strings are UTF-8), as neon-js wallet.sign
        // and CryptoLib.verifyWithECDsa(secp256r1, SHA256) expect.
        signMessage(message) {
          const hex = typeof message === 'string' ? utf8Hex(message) : Array.from(message, (x) => x.toString(16).padStart(2, '0')).join('');
          return { message: hex, publicKey: acct.publicKey, signature: neo.wallet.sign(hex, priv) };
        },
      });
    }

    return Object.freeze({
      // raw access (the server allow-lists the methods)
      request: rpc,
      rpc,
      batch: (calls) => host('neo.batch', { network, calls }),
      info: networkInfo,
      getNetwork: networkInfo,
      network: (name) => make(String(name)),

      getBlockCount: () => rpc('getblockcount'),
      getBlock: (indexOrHash, verbose) => rpc('getblock', [indexOrHash, verbose === false ? 0 : 1]),
      getBlockHash: (index) => rpc('getblockhash', [index]),
      getBlockHeader: (indexOrHash, verbose) => rpc('getblockheader', [indexOrHash, verbose === false ? 0 : 1]),
      getRawTransaction: (hash, verbose) => rpc('getrawtransaction', [hash, verbose === false ? 0 : 1]),
      getTransactionHeight: (hash) => rpc('gettransactionheight', [hash]),
      getApplicationLog: async (txid) => {
        const log = await rpc('getapplicationlog', [txid]);
        const out = { executions: (log.executions || []).map(decodeExecution) };
        if (log.txid) out.txid = log.txid;
        if (log.blockhash) out.blockhash = log.blockhash;
        return out;
      },
      invokeFunction,
      invokeScript,
      getNep17Balances: (address) => rpc('getnep17balances', [neo.wallet.getAddressFromScriptHash(strip0x(scriptHash(address, 'address')))]),
      getNep17Transfers: (address, ...rest) => rpc('getnep17transfers', [neo.wallet.getAddressFromScriptHash(strip0x(scriptHash(address, 'address'))), ...rest]),
      getContractState: (hash) => rpc('getcontractstate', [scriptHash(hash, 'contract')]),
      calculateNetworkFee: async (t) => String((await rpc('calculatenetworkfee', [txB64(t)])).networkfee),
      sendRawTransaction: (t) => rpc('sendrawtransaction', [txB64(t)]),
      waitForTransaction,
      contract,
      wallet,
      relay: (req) => host('neo.relay', { ...(req || {}), network }),
    });
  }

  return make(undefined);
})
