/* r3e.neo inside the sandbox: the Neo primitives with neon-js 5.9.0 shapes (wallet.Account,
 * wallet.sign/verify, sc.ScriptBuilder, sc.ContractParam, sc.Nep17Contract,
 * tx.Transaction). One native entry point takes an op name and a JSON argument and returns
 * JSON; a small JS layer gives it the neon-js shape. JSON is the boundary because the
 * library already speaks it (the differential test drives the same neo_*_from_json code),
 * and these calls are far from the hot path of a function. */
#include <JavaScriptCore/JavaScript.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "chain/neo/neo.h"
#include "chain/neo/neo_js.h"
#include "core/util.h"
#include "obs/log.h"

/* ---- native side ---------------------------------------------------------------------- */

static json_t *hexj(const uint8_t *p, size_t n) {
    char *h = malloc(2 * n + 1);
    if (!h) abort();
    util_hex_encode(p, n, h);
    json_t *j = json_string(h);
    free(h);
    return j;
}

/* neon-js shows script hashes big-endian without 0x. */
static json_t *hash_be(const uint8_t h[20]) {
    char d[43];
    neo_hash_to_display(h, 20, d);
    return json_string(d + 2);
}

static int fixed_hex(const json_t *v, const char *what, uint8_t *out, size_t n, err_t *e) {
    const char *s = json_string_value(v);
    size_t len = s ? strlen(s) : 0;
    if (s && len >= 2 && s[0] == '0' && s[1] == 'x') s += 2, len -= 2;
    if (!s || len != 2 * n || util_hex_decode(s, len, out, n) != (int)n)
        return err_set(e, R3E_EINVAL, "%s: expected %zu hex bytes", what, n);
    return 0;
}

static uint8_t *var_hex(const json_t *v, const char *what, size_t *n, err_t *e) {
    const char *s = json_string_value(v);
    size_t len = s ? strlen(s) : 0;
    if (s && len >= 2 && s[0] == '0' && s[1] == 'x') s += 2, len -= 2;
    uint8_t *b = malloc(len / 2 + 1);
    if (!b) abort();
    if (!s || util_hex_decode(s, len, b, len / 2 + 1) < 0) {
        free(b);
        err_set(e, R3E_EINVAL, "%s: expected a hex string", what);
        return NULL;
    }
    *n = len / 2;
    return b;
}

/* A private key given as 64 hex characters or as a WIF (as neon-js accepts both). */
static int priv_arg(const json_t *v, uint8_t priv[32], err_t *e) {
    const char *s = json_string_value(v);
    if (s && strlen(s) == NEO_WIF_LEN) return neo_wif_decode(s, priv, e);
    if (fixed_hex(v, "private key", priv, 32, e) != 0) return -1;
    return neo_privkey_check(priv, e);
}

static json_t *op_account(const json_t *a, err_t *e) {
    uint8_t priv[32], pub[33], vs[40], h[20];
    char wif[NEO_WIF_LEN + 1], addr[NEO_ADDRESS_LEN + 1];
    if (priv_arg(json_object_get(a, "key"), priv, e) != 0 || neo_wif_encode(priv, wif, e) != 0 ||
        neo_pubkey_from_privkey(priv, pub, e) != 0)
        return NULL;
    neo_verification_script(pub, vs);
    neo_script_hash(vs, sizeof vs, h);
    neo_address_from_script_hash(h, addr);
    return json_pack("{s:o, s:s, s:o, s:o, s:s}", "privateKey", hexj(priv, 32), "WIF", wif,
                     "publicKey", hexj(pub, 33), "scriptHash", hash_be(h), "address", addr);
}

static json_t *op_vscript(const json_t *a, err_t *e) {
    uint8_t pub[33], vs[40];
    if (fixed_hex(json_object_get(a, "pub"), "public key", pub, 33, e) != 0 ||
        neo_pubkey_check(pub, e) != 0)
        return NULL;
    neo_verification_script(pub, vs);
    return json_pack("{s:o}", "script", hexj(vs, sizeof vs));
}

static json_t *op_script_hash(const json_t *a, err_t *e) {
    size_t n;
    uint8_t h[20], *s = var_hex(json_object_get(a, "script"), "script", &n, e);
    if (!s) return NULL;
    neo_script_hash(s, n, h);
    free(s);
    return json_pack("{s:o}", "scriptHash", hash_be(h));
}

static json_t *op_hash_to_address(const json_t *a, err_t *e) {
    uint8_t h[20];
    char addr[NEO_ADDRESS_LEN + 1];
    if (neo_hash_from_display(json_string_value(json_object_get(a, "hash")), h, 20, e) != 0)
        return NULL;
    neo_address_from_script_hash(h, addr);
    return json_pack("{s:s}", "address", addr);
}

static json_t *op_address_to_hash(const json_t *a, err_t *e) {
    uint8_t h[20];
    if (neo_address_to_script_hash(json_string_value(json_object_get(a, "address")), h, e) != 0)
        return NULL;
    return json_pack("{s:o}", "scriptHash", hash_be(h));
}

static json_t *op_sign(const json_t *a, err_t *e) {
    uint8_t priv[32], sig[64];
    size_t n;
    if (priv_arg(json_object_get(a, "key"), priv, e) != 0) return NULL;
    uint8_t *msg = var_hex(json_object_get(a, "hex"), "message", &n, e);
    int rc = msg ? neo_sign(priv, msg, n, sig, e) : -1;
    free(msg);
    return rc == 0 ? json_pack("{s:o}", "sig", hexj(sig, 64)) : NULL;
}

static json_t *op_verify(const json_t *a, err_t *e) {
    uint8_t pub[33], sig[64];
    size_t n;
    if (fixed_hex(json_object_get(a, "pub"), "public key", pub, 33, e) != 0 ||
        fixed_hex(json_object_get(a, "sig"), "signature", sig, 64, e) != 0)
        return NULL;
    uint8_t *msg = var_hex(json_object_get(a, "hex"), "message", &n, e);
    int v = msg ? neo_verify(pub, msg, n, sig, e) : -1;
    free(msg);
    return v < 0 ? NULL : json_pack("{s:b}", "valid", v == 1);
}

static json_t *op_multisig(const json_t *a, err_t *e) {
    const json_t *keys = json_object_get(a, "keys");
    size_t n = json_array_size(keys);
    if (n < 1 || n > 1024) {
        err_set(e, R3E_EINVAL, "multisig: need 1..1024 public keys");
        return NULL;
    }
    uint8_t(*pubs)[33] = malloc(n * 33);
    if (!pubs) abort();
    neo_buf_t b = {0};
    json_t *r = NULL;
    for (size_t i = 0; i < n; i++)
        if (fixed_hex(json_array_get(keys, i), "public key", pubs[i], 33, e) != 0) goto out;
    if (neo_multisig_script((int)json_integer_value(json_object_get(a, "m")),
                            (const uint8_t(*)[33])pubs, n, &b, e) == 0)
        r = json_pack("{s:o}", "script", hexj(b.data, b.len));
out:
    free(pubs);
    neo_buf_free(&b);
    return r;
}

static json_t *op_script(const json_t *a, err_t *e) {
    neo_buf_t b = {0};
    json_t *r = NULL;
    if (neo_script_from_json(json_object_get(a, "ops"), &b, e) == 0)
        r = json_pack("{s:o}", "script", hexj(b.data, b.len));
    neo_buf_free(&b);
    return r;
}

/* Transaction ops share parsing; `what` picks the output. */
static json_t *op_tx(arena_t *ar, const char *what, const json_t *a, err_t *e) {
    neo_tx_t tx;
    if (neo_tx_from_json(ar, json_object_get(a, "tx"), &tx, e) != 0) return NULL;
    uint32_t magic = (uint32_t)json_integer_value(json_object_get(a, "magic"));
    if (strcmp(what, "txSerialize") == 0) {
        neo_buf_t b = {0};
        json_t *r = NULL;
        if (neo_tx_serialize(&tx, json_is_true(json_object_get(a, "signed")), &b, e) == 0)
            r = json_pack("{s:o}", "hex", hexj(b.data, b.len));
        neo_buf_free(&b);
        return r;
    }
    if (strcmp(what, "txHash") == 0 || strcmp(what, "txMessage") == 0) {
        uint8_t data[36];
        char d[67];
        if (neo_tx_sign_data(&tx, magic, data, e) != 0) return NULL;
        neo_hash_to_display(data + 4, 32, d);
        return what[2] == 'H' ? json_pack("{s:s}", "hash", d + 2)
                              : json_pack("{s:o}", "hex", hexj(data, sizeof data));
    }
    if (strcmp(what, "txNetworkFee") == 0) {
        int64_t fee;
        char buf[24];
        if (neo_tx_network_fee(&tx, json_integer_value(json_object_get(a, "feePerByte")),
                               json_integer_value(json_object_get(a, "execFeeFactor")), &fee,
                               e) != 0)
            return NULL;
        snprintf(buf, sizeof buf, "%lld", (long long)fee);
        return json_pack("{s:s}", "fee", buf);
    }
    if (strcmp(what, "txSign") == 0) {
        uint8_t priv[32], pub[33], sig[64], inv[66], vs[40];
        if (priv_arg(json_object_get(a, "key"), priv, e) != 0 ||
            neo_pubkey_from_privkey(priv, pub, e) != 0 ||
            neo_tx_sign(&tx, magic, priv, sig, e) != 0)
            return NULL;
        neo_invocation_script(sig, inv);
        neo_verification_script(pub, vs);
        return json_pack("{s:o, s:o, s:o}", "sig", hexj(sig, 64), "invocationScript",
                         hexj(inv, sizeof inv), "verificationScript", hexj(vs, sizeof vs));
    }
    return NULL;
}

/* Signed form first (what getrawtransaction returns), then the unsigned form. */
static json_t *op_tx_deserialize(arena_t *ar, const json_t *a, err_t *e) {
    size_t n;
    neo_tx_t tx;
    uint8_t *p = var_hex(json_object_get(a, "hex"), "transaction", &n, e);
    if (!p) return NULL;
    int rc = neo_tx_deserialize(ar, p, n, true, &tx, e);
    if (rc != 0) {
        err_t e2 = {0};
        rc = neo_tx_deserialize(ar, p, n, false, &tx, &e2);
    }
    free(p);
    return rc == 0 ? json_pack("{s:o}", "tx", neo_tx_to_json(&tx)) : NULL;
}

static json_t *dispatch(arena_t *ar, const char *op, const json_t *a, err_t *e) {
    if (strcmp(op, "account") == 0) return op_account(a, e);
    if (strcmp(op, "vscript") == 0) return op_vscript(a, e);
    if (strcmp(op, "scriptHash") == 0) return op_script_hash(a, e);
    if (strcmp(op, "hashToAddress") == 0) return op_hash_to_address(a, e);
    if (strcmp(op, "addressToHash") == 0) return op_address_to_hash(a, e);
    if (strcmp(op, "isAddress") == 0) {
        uint8_t h[20];
        const char *s = json_string_value(json_object_get(a, "address"));
        return json_pack("{s:b}", "valid", neo_address_to_script_hash(s, h, NULL) == 0);
    }
    if (strcmp(op, "sign") == 0) return op_sign(a, e);
    if (strcmp(op, "verify") == 0) return op_verify(a, e);
    if (strcmp(op, "multisig") == 0) return op_multisig(a, e);
    if (strcmp(op, "script") == 0) return op_script(a, e);
    if (strcmp(op, "txDeserialize") == 0) return op_tx_deserialize(ar, a, e);
    if (strncmp(op, "tx", 2) == 0) {
        json_t *r = op_tx(ar, op, a, e);
        if (!r && !e->msg[0]) err_set(e, R3E_EINVAL, "neo: unknown op \"%.32s\"", op);
        return r;
    }
    if (strcmp(op, "decodeStackItem") == 0) {
        json_t *v = neo_stack_item_decode(json_object_get(a, "item"), e);
        return v ? json_pack("{s:o}", "value", v) : NULL;
    }
    if (strcmp(op, "decodeNotification") == 0) {
        json_t *v = neo_notification_decode(json_object_get(a, "n"), e);
        return v ? json_pack("{s:o}", "value", v) : NULL;
    }
    err_set(e, R3E_EINVAL, "neo: unknown op \"%.32s\"", op);
    return NULL;
}

static char *js_cstr(JSContextRef ctx, JSValueRef v, JSValueRef *exc) {
    JSStringRef s = JSValueToStringCopy(ctx, v, exc);
    if (!s) return NULL;
    size_t cap = JSStringGetMaximumUTF8CStringSize(s);
    char *out = malloc(cap);
    if (!out) abort();
    JSStringGetUTF8CString(s, out, cap);
    JSStringRelease(s);
    return out;
}

static void js_throw(JSContextRef ctx, JSValueRef *exc, const char *msg) {
    JSStringRef s = JSStringCreateWithUTF8CString(msg);
    JSValueRef arg = JSValueMakeString(ctx, s);
    JSStringRelease(s);
    *exc = JSObjectMakeError(ctx, 1, &arg, NULL);
}

/* native(op, argsJson) -> resultJson; throws Error(message) on bad input. */
static JSValueRef n_neo(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
                        const JSValueRef argv[], JSValueRef *exc) {
    (void)fn;
    (void)self;
    if (argc < 2) {
        js_throw(ctx, exc, "neo: internal call needs (op, json)");
        return NULL;
    }
    char *op = js_cstr(ctx, argv[0], exc);
    char *args = op ? js_cstr(ctx, argv[1], exc) : NULL;
    if (!args) {
        free(op);
        return NULL;
    }
    json_error_t je;
    json_t *a = json_loads(args, JSON_ALLOW_NUL, &je);
    err_t e = {0};
    arena_t *ar = arena_create(0);
    json_t *r = a ? dispatch(ar, op, a, &e) : NULL;
    JSValueRef out = NULL;
    if (r) {
        char *s = json_dumps(r, JSON_COMPACT | JSON_ENCODE_ANY);
        JSStringRef js = JSStringCreateWithUTF8CString(s);
        out = JSValueMakeString(ctx, js);
        JSStringRelease(js);
        free(s);
    } else {
        js_throw(ctx, exc, a ? e.msg : je.text);
    }
    json_decref(r);
    json_decref(a);
    arena_destroy(ar);
    free(op);
    free(args);
    return out;
}

/* ---- JS side -------------------------------------------------------------------------- */

/* Evaluated once per context; receives the native function, returns the namespace. */
static const char NEO_SHIM[] =
    "(function (native) {\n"
    "'use strict';\n"
    "const call = (op, args) => JSON.parse(native(op, JSON.stringify(args, (k, v) =>\n"
    "  typeof v === 'bigint' ? v.toString() : v)));\n"
    "const MAGIC_NUMBER = Object.freeze({ MainNet: 860833102, TestNet: 894710606 });\n"
    "const CallFlags = Object.freeze({ None: 0, ReadStates: 1, WriteStates: 2, AllowCall: 4,\n"
    "  AllowNotify: 8, States: 3, ReadOnly: 5, All: 15 });\n"
    "const WitnessScope = Object.freeze({ None: 0, CalledByEntry: 1, CustomContracts: 16,\n"
    "  CustomGroups: 32, WitnessRules: 64, Global: 128 });\n"
    "class Account {\n"
    "  constructor(key) { Object.assign(this, call('account', { key: String(key) }));\n"
    "    Object.freeze(this); }\n"
    "}\n"
    "const wallet = Object.freeze({\n"
    "  Account,\n"
    "  getPublicKeyFromPrivateKey: (k) => call('account', { key: k }).publicKey,\n"
    "  getWIFFromPrivateKey: (k) => call('account', { key: k }).WIF,\n"
    "  getPrivateKeyFromWIF: (w) => call('account', { key: w }).privateKey,\n"
    "  getVerificationScriptFromPublicKey: (p) => call('vscript', { pub: p }).script,\n"
    "  getScriptHashFromVerificationScript: (s) => call('scriptHash', { script: s }).scriptHash,\n"
    "  getScriptHashFromPublicKey: (p) =>\n"
    "    call('scriptHash', { script: call('vscript', { pub: p }).script }).scriptHash,\n"
    "  getAddressFromScriptHash: (h) => call('hashToAddress', { hash: h }).address,\n"
    "  getScriptHashFromAddress: (a) => call('addressToHash', { address: a }).scriptHash,\n"
    "  isAddress: (a) => call('isAddress', { address: String(a) }).valid,\n"
    "  sign: (hex, key) => call('sign', { hex, key: key instanceof Account ? key.privateKey : key "
    "}).sig,\n"
    "  verify: (hex, sig, pub) => call('verify', { hex, sig, pub }).valid,\n"
    "  // Keys are sorted as the node sorts them (neon-js leaves that to the caller).\n"
    "  constructMultiSigVerificationScript: (m, keys) => call('multisig', { m, keys }).script,\n"
    "});\n"
    "const ContractParam = Object.freeze({\n"
    "  any: (value = null) => ({ type: 'Any', value }),\n"
    "  string: (value) => ({ type: 'String', value: String(value) }),\n"
    "  boolean: (value) => ({ type: 'Boolean', value: !!value }),\n"
    "  integer: (value) => ({ type: 'Integer', value: typeof value === 'number' ?\n"
    "    String(Math.round(value)) : String(value).split('.')[0] }),\n"
    "  hash160: (value) => ({ type: 'Hash160', value: String(value) }),\n"
    "  hash256: (value) => ({ type: 'Hash256', value: String(value) }),\n"
    "  publicKey: (value) => ({ type: 'PublicKey', value: String(value) }),\n"
    "  byteArray: (base64) => ({ type: 'ByteArray', value: String(base64) }),\n"
    "  array: (...value) => ({ type: 'Array', value }),\n"
    "});\n"
    "// One value -> one builder op, with neon-js emitPush semantics (null pushes false).\n"
    "function toOp(v) {\n"
    "  switch (typeof v) {\n"
    "    case 'boolean': return ['bool', v];\n"
    "    case 'string': return ['str', v];\n"
    "    case 'number': case 'bigint': return ['int', String(v)];\n"
    "    case 'undefined': return ['bool', false];\n"
    "  }\n"
    "  if (v === null) return ['bool', false];\n"
    "  if (Array.isArray(v)) return ['array', v.map(toOp)];\n"
    "  switch (v.type) {\n"
    "    case 'Any': return v.value === null || v.value === undefined ? ['null'] : ['bytes', "
    "v.value];\n"
    "    case 'String': return ['str', v.value];\n"
    "    case 'Boolean': return ['bool', !!v.value];\n"
    "    case 'Integer': return ['int', String(v.value)];\n"
    "    case 'Hash160': return ['h160', v.value];\n"
    "    case 'Hash256': return ['h256', v.value];\n"
    "    case 'PublicKey': return ['pubkey', v.value];\n"
    "    case 'ByteArray': return ['b64', v.value];\n"
    "    case 'Array': return ['array', v.value.map(toOp)];\n"
    "  }\n"
    "  throw new TypeError('neo: cannot push ' + JSON.stringify(v));\n"
    "}\n"
    "class ScriptBuilder {\n"
    "  #ops = [];\n"
    "  emitPush(v) { this.#ops.push(toOp(v)); return this; }\n"
    "  emitNumber(n) { this.#ops.push(['int', String(n)]); return this; }\n"
    "  emitString(s) { this.#ops.push(['str', String(s)]); return this; }\n"
    "  emitBoolean(b) { this.#ops.push(['bool', !!b]); return this; }\n"
    "  emitHexString(h) { this.#ops.push(['bytes', String(h)]); return this; }\n"
    "  emitPublicKey(p) { this.#ops.push(['pubkey', String(p)]); return this; }\n"
    "  emitContractParam(p) { this.#ops.push(toOp(p)); return this; }\n"
    "  // By interop name, e.g. 'System.Runtime.Notify'.\n"
    "  emitSysCall(name, ...args) { for (let i = args.length - 1; i >= 0; i--) "
    "this.emitPush(args[i]);\n"
    "    this.#ops.push(['syscall', String(name)]); return this; }\n"
    "  emitAppCall(scriptHash, operation, args = [], callFlags = CallFlags.All) {\n"
    "    this.#ops.push(['call', String(scriptHash), String(operation), callFlags, "
    "args.map(toOp)]);\n"
    "    return this; }\n"
    "  emitContractCall(c) { return this.emitAppCall(c.scriptHash, c.operation, c.args ?? [],\n"
    "    c.callFlags ?? CallFlags.All); }\n"
    "  build() { return call('script', { ops: this.#ops }).script; }\n"
    "}\n"
    "class Nep17Contract {\n"
    "  constructor(scriptHash) { this.scriptHash = String(scriptHash); }\n"
    "  #call(operation, ...args) { return { scriptHash: this.scriptHash, operation,\n"
    "    callFlags: CallFlags.All, args }; }\n"
    "  symbol() { return this.#call('symbol'); }\n"
    "  decimals() { return this.#call('decimals'); }\n"
    "  totalSupply() { return this.#call('totalSupply'); }\n"
    "  balanceOf(address) { return this.#call('balanceOf', ContractParam.hash160(address)); }\n"
    "  transfer(from, to, amount, data) { return this.#call('transfer', "
    "ContractParam.hash160(from),\n"
    "    ContractParam.hash160(to), ContractParam.integer(amount), ContractParam.any(data ?? "
    "null)); }\n"
    "}\n"
    "class Transaction {\n"
    "  constructor(t = {}) {\n"
    "    this.version = t.version ?? 0;\n"
    "    this.nonce = t.nonce ?? Math.floor(Math.random() * 4294967296);\n"
    "    this.systemFee = String(t.systemFee ?? 0);\n"
    "    this.networkFee = String(t.networkFee ?? 0);\n"
    "    this.validUntilBlock = t.validUntilBlock ?? 0;\n"
    "    this.signers = (t.signers ?? []).map((s) => ({ ...s }));\n"
    "    this.attributes = (t.attributes ?? []).map((a) => ({ ...a }));\n"
    "    this.script = t.script ?? '';\n"
    "    this.witnesses = (t.witnesses ?? []).map((w) => ({ ...w }));\n"
    "  }\n"
    "  export() { return { version: this.version, nonce: this.nonce, systemFee: this.systemFee,\n"
    "    networkFee: this.networkFee, validUntilBlock: this.validUntilBlock,\n"
    "    signers: this.signers, attributes: this.attributes, script: this.script,\n"
    "    witnesses: this.witnesses }; }\n"
    "  serialize(signed = true) { return call('txSerialize', { tx: this.export(), signed }).hex; "
    "}\n"
    "  hash() { return call('txHash', { tx: this.export() }).hash; }\n"
    "  getMessageForSigning(magic) { return call('txMessage', { tx: this.export(), magic }).hex; "
    "}\n"
    "  static deserialize(hex) { return new Transaction(call('txDeserialize', { hex }).tx); }\n"
    "  addSigner(s) { this.signers.push({ ...s }); return this; }\n"
    "  addWitness(w) { this.witnesses.push({ ...w }); return this; }\n"
    "  // Signs and puts the witness at its signer's position, as neon-js does.\n"
    "  sign(key, magic = MAGIC_NUMBER.MainNet) {\n"
    "    const k = key instanceof Account ? key.privateKey : key;\n"
    "    const r = call('txSign', { tx: this.export(), key: k, magic });\n"
    "    const w = { invocationScript: r.invocationScript, verificationScript: "
    "r.verificationScript };\n"
    "    const hash = wallet.getScriptHashFromVerificationScript(w.verificationScript);\n"
    "    const same = this.witnesses.findIndex((x) => x.verificationScript === "
    "w.verificationScript);\n"
    "    if (same >= 0) this.witnesses.splice(same, 1);\n"
    "    const at = this.signers.findIndex((s) => String(s.account).replace(/^0x/, '') === hash);\n"
    "    if (at >= 0 && at <= this.witnesses.length) this.witnesses.splice(at, 0, w);\n"
    "    else this.witnesses.push(w);\n"
    "    return this;\n"
    "  }\n"
    "}\n"
    "// Offline network fee for standard (single-sig / multisig) witnesses, as the node\n"
    "// computes it; returns a decimal string. Witnesses give each signer's verification script.\n"
    "const api = Object.freeze({\n"
    "  calculateNetworkFee: (t, feePerByte, execFeeFactor) => call('txNetworkFee', {\n"
    "    tx: t instanceof Transaction ? t.export() : t, feePerByte: Number(feePerByte),\n"
    "    execFeeFactor: Number(execFeeFactor) }).fee,\n"
    "});\n"
    "return Object.freeze({\n"
    "  wallet, api,\n"
    "  sc: Object.freeze({ ScriptBuilder, ContractParam, CallFlags, Nep17Contract }),\n"
    "  tx: Object.freeze({ Transaction, WitnessScope }),\n"
    "  CONST: Object.freeze({ MAGIC_NUMBER, DEFAULT_ADDRESS_VERSION: 0x35 }),\n"
    "  decodeStackItem: (item) => call('decodeStackItem', { item }).value,\n"
    "  decodeNotification: (n) => call('decodeNotification', { n }).value,\n"
    "});\n"
    "})";

JSValueRef neo_js_make(JSGlobalContextRef ctx) {
    JSValueRef exc = NULL;
    JSStringRef src = JSStringCreateWithUTF8CString(NEO_SHIM);
    JSStringRef url = JSStringCreateWithUTF8CString("r3e:neo");
    JSValueRef factory = JSEvaluateScript(ctx, src, NULL, url, 1, &exc);
    JSStringRelease(src);
    JSStringRelease(url);
    JSObjectRef native = JSObjectMakeFunctionWithCallback(ctx, NULL, n_neo);
    JSValueRef ns = NULL;
    if (factory && JSValueIsObject(ctx, factory)) {
        JSValueRef arg = native;
        ns = JSObjectCallAsFunction(ctx, (JSObjectRef)factory, NULL, 1, &arg, &exc);
    }
    if (!ns) {
        char *m = exc ? js_cstr(ctx, exc, NULL) : NULL;
        log_error("neo: installing r3e.neo failed: %s", m ? m : "unknown error");
        free(m);
    }
    return ns;
}

void neo_js_install(JSGlobalContextRef ctx) {
    JSValueRef ns = neo_js_make(ctx);
    if (!ns) return;
    JSValueRef exc = NULL;
    /* globalThis.r3e may already exist (other services); add or replace only .neo. */
    JSObjectRef global = JSContextGetGlobalObject(ctx);
    JSStringRef r3e = JSStringCreateWithUTF8CString("r3e");
    JSStringRef neo = JSStringCreateWithUTF8CString("neo");
    JSValueRef holder = JSObjectGetProperty(ctx, global, r3e, NULL);
    if (!holder || !JSValueIsObject(ctx, holder)) {
        holder = JSObjectMake(ctx, NULL, NULL);
        JSObjectSetProperty(ctx, global, r3e, holder, kJSPropertyAttributeDontEnum, NULL);
    }
    JSObjectSetProperty(ctx, (JSObjectRef)holder, neo, ns,
                        kJSPropertyAttributeReadOnly | kJSPropertyAttributeDontDelete, &exc);
    JSStringRelease(r3e);
    JSStringRelease(neo);
}
