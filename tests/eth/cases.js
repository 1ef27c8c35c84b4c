// The expected output of each differential case, written once against the ethers v6 API.
// Plain script (no imports), evaluated two ways:
//   - by gen.mjs in node with E = ethers: the reference outputs;
//   - by eth_tool --js inside JavaScriptCore with E = r3e.eth: the JS binding under test.
// The C API is checked separately by eth_tool's native mode against the same outputs.
// eslint-disable-next-line no-unused-vars
function ethCompute(E, kind, input) {
  const dec = (v) => v.toString();
  const hexToBytes = (h) => {
    const b = new Uint8Array((h.length - 2) / 2);
    for (let i = 0; i < b.length; i++) b[i] = parseInt(h.substr(2 + 2 * i, 2), 16);
    return b;
  };
  // Result -> plain JSON in r3e's value representation (BigInt -> decimal string).
  const norm = (v) => {
    if (typeof v === "bigint") return v.toString();
    if (v && typeof v === "object" && v._isIndexed) return v.hash;
    if (Array.isArray(v)) return Array.from(v, norm);
    return v;
  };
  const txFields = (t, signer) => {
    const o = { type: t.type, chainId: dec(t.chainId), nonce: dec(t.nonce), gasLimit: dec(t.gasLimit) };
    if (t.type === 2) {
      o.maxPriorityFeePerGas = dec(t.maxPriorityFeePerGas);
      o.maxFeePerGas = dec(t.maxFeePerGas);
    } else o.gasPrice = dec(t.gasPrice);
    o.to = t.to;
    o.value = dec(t.value);
    o.data = t.data;
    if (t.type !== 0) o.accessList = t.accessList.map((e) => ({ address: e.address, storageKeys: e.storageKeys }));
    if (t.signature) {
      // signer: the already-recovered sender (recovery is the slowest step in ethers)
      Object.assign(o, { r: t.signature.r, s: t.signature.s, yParity: t.signature.yParity, from: signer || t.from, hash: t.hash });
    }
    return o;
  };
  switch (kind) {
    case "keccak":
      return { hash: E.keccak256(input.data) };
    case "key": {
      const k = new E.SigningKey(input.priv);
      const sig = k.sign(input.digest);
      return {
        publicKey: k.publicKey,
        address: E.computeAddress(k.publicKey),
        sig: { r: sig.r, s: sig.s, yParity: sig.yParity, serialized: sig.serialized },
        recovered: E.recoverAddress(input.digest, sig),
      };
    }
    case "address":
      return { address: E.getAddress(input.address) };
    case "rlp": {
      const encoded = E.encodeRlp(input.value);
      return { encoded, decoded: E.decodeRlp(encoded) };
    }
    case "rlp_decode":
      return { decoded: E.decodeRlp(input.data) };
    case "tx": {
      const tx = E.Transaction.from({ ...input.tx, nonce: Number(input.tx.nonce) });
      const unsignedSerialized = tx.unsignedSerialized;
      const unsignedHash = tx.unsignedHash;
      tx.signature = new E.SigningKey(input.priv).sign(unsignedHash);
      const parsed = E.Transaction.from(tx.serialized);
      const from = tx.from;
      return { unsignedSerialized, unsignedHash, serialized: tx.serialized, hash: tx.hash, from, parsed: txFields(parsed, from) };
    }
    case "tx_parse":
      return txFields(E.Transaction.from(input.raw));
    case "abi": {
      const coder = E.AbiCoder.defaultAbiCoder();
      const encoded = coder.encode(input.types, input.values);
      return { canonical: input.types, encoded, decoded: norm(coder.decode(input.types, encoded)) };
    }
    case "function": {
      const iface = new E.Interface([input.sig]);
      const f = iface.fragments[0];
      const result = iface.encodeFunctionResult(f, input.outValues);
      return {
        signature: f.format("sighash"),
        selector: f.selector,
        calldata: iface.encodeFunctionData(f, input.values),
        result,
        decodedResult: norm(iface.decodeFunctionResult(f, result)),
      };
    }
    case "error": {
      const iface = new E.Interface([input.sig]);
      const f = iface.fragments[0];
      const data = iface.encodeErrorResult(f, input.values);
      return { signature: f.format("sighash"), selector: f.selector, data, decoded: norm(iface.decodeErrorResult(f, data)) };
    }
    case "event": {
      // ethers' human-readable parser refuses a trailing "anonymous": use its JSON form there.
      let frag = input.sig;
      if (E.EventFragment) {
        frag = JSON.parse(E.EventFragment.from(input.sig.replace(/ anonymous$/, "")).format("json"));
        frag.anonymous = / anonymous$/.test(input.sig);
      }
      const iface = new E.Interface([frag]);
      const ev = iface.fragments[0];
      const log = iface.encodeEventLog(ev, input.values);
      return {
        signature: ev.format("sighash"),
        topic0: ev.topicHash,
        topics: log.topics,
        data: log.data,
        decoded: norm(iface.decodeEventLog(ev, log.data, log.topics)),
      };
    }
    case "message": {
      const hash = E.hashMessage(input.text !== undefined ? input.text : hexToBytes(input.data));
      return { hash, signature: new E.SigningKey(input.priv).sign(hash).serialized };
    }
    case "typed": {
      const enc = E.TypedDataEncoder.from(input.types);
      const hash = E.TypedDataEncoder.hash(input.domain, input.types, input.message);
      return {
        encodeType: enc.encodeType(input.primaryType),
        domainSeparator: E.TypedDataEncoder.hashDomain(input.domain),
        hashStruct: enc.hashStruct(input.primaryType, input.message),
        hash,
        signature: new E.SigningKey(input.priv).sign(hash).serialized,
      };
    }
  }
  throw new Error("unknown kind " + kind);
}
