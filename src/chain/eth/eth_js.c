/* r3e.eth in JavaScriptCore (see eth_js.h). One native function, __ethNative(op, argsJson),
 * runs an eth.h operation on JSON and returns JSON (or throws an Error with the err_t
 * message); the JS layer below gives it ethers v6 shapes. Keeping the boundary at JSON means
 * the C side needs no per-type JS marshalling and the JS side stays small. */
#include "chain/eth/eth_js.h"

#include <stdlib.h>
#include <string.h>

#include "chain/eth/eth.h"

/* ---- native operations: JSON args in, JSON result out ---- */

static const json_t *arg(const json_t *args, size_t i) {
    return json_array_get(args, i);
}

static const char *sarg(const json_t *args, size_t i) {
    return json_string_value(json_array_get(args, i));
}

static json_t *op_bytes_hash(const json_t *args, bool message, err_t *err) {
    const json_t *in = arg(args, 0);
    uint8_t *p = NULL, h[32];
    size_t n;
    const json_t *text = json_object_get(in, "text");
    if (text) {
        if (!json_is_string(text)) return err_set(err, R3E_EINVAL, "expected a string"), NULL;
        n = json_string_length(text);
        p = malloc(n + 1);
        memcpy(p, json_string_value(text), n);
    } else if (eth_hex_decode(json_string_value(json_object_get(in, "data")), &p, &n, "data", err) <
               0) {
        return NULL;
    }
    if (message)
        eth_message_hash(p, n, h);
    else
        eth_keccak256(p, n, h);
    free(p);
    return eth_json_hex(h, 32);
}

static json_t *sig_json(const eth_sig_t *sig) {
    uint8_t ser[65];
    eth_sig_serialize(sig, ser);
    return json_pack("{s:o,s:o,s:i,s:i,s:o}", "r", eth_json_hex(sig->r, 32), "s",
                     eth_json_hex(sig->s, 32), "yParity", sig->y_parity, "v", 27 + sig->y_parity,
                     "serialized", eth_json_hex(ser, 65));
}

/* A signature argument: the 65-byte serialized hex or {r, s, yParity|v}. */
static int sig_from_json(const json_t *j, eth_sig_t *sig, err_t *err) {
    if (json_is_string(j)) {
        uint8_t raw[65];
        if (eth_hex_decode_fixed(json_string_value(j), raw, 65, "signature", err) < 0) return -1;
        return eth_sig_parse(raw, sig, err);
    }
    if (eth_hex_decode_fixed(json_string_value(json_object_get(j, "r")), sig->r, 32, "r", err) <
            0 ||
        eth_hex_decode_fixed(json_string_value(json_object_get(j, "s")), sig->s, 32, "s", err) < 0)
        return -1;
    const json_t *y = json_object_get(j, "yParity"), *v = json_object_get(j, "v");
    long long yp = y ? json_integer_value(y) : json_integer_value(v) - 27;
    if (yp != 0 && yp != 1) return err_set(err, R3E_EINVAL, "signature: bad yParity/v");
    sig->y_parity = (int)yp;
    return 0;
}

/* A 32-byte private key or a 65-byte uncompressed public key -> address and public key. */
static json_t *op_key(const json_t *args, err_t *err) {
    uint8_t priv[32], pub[65], addr[20];
    const char *k = sarg(args, 0);
    if (k && strlen(k) == 132) {
        if (eth_hex_decode_fixed(k, pub, 65, "public key", err) < 0) return NULL;
        if (pub[0] != 4) return err_set(err, R3E_EINVAL, "public key: expected 0x04 prefix"), NULL;
    } else if (eth_hex_decode_fixed(k, priv, 32, "private key", err) < 0 ||
               eth_key_public(priv, pub, err) < 0) {
        return NULL;
    }
    eth_address_from_public(pub, addr);
    return json_pack("{s:o,s:o}", "address", eth_json_address(addr), "publicKey",
                     eth_json_hex(pub, 65));
}

static json_t *op_sign(const json_t *args, err_t *err) {
    uint8_t priv[32], digest[32];
    eth_sig_t sig;
    if (eth_hex_decode_fixed(sarg(args, 0), priv, 32, "private key", err) < 0 ||
        eth_hex_decode_fixed(sarg(args, 1), digest, 32, "digest", err) < 0 ||
        eth_sign_digest(priv, digest, &sig, err) < 0)
        return NULL;
    return sig_json(&sig);
}

static json_t *op_recover(const json_t *args, err_t *err) {
    uint8_t digest[32], addr[20];
    eth_sig_t sig;
    if (eth_hex_decode_fixed(sarg(args, 0), digest, 32, "digest", err) < 0 ||
        sig_from_json(arg(args, 1), &sig, err) < 0 ||
        eth_recover_address(digest, &sig, addr, err) < 0)
        return NULL;
    return eth_json_address(addr);
}

static json_t *op_get_address(const json_t *args, err_t *err) {
    uint8_t a[20];
    if (eth_address_parse(sarg(args, 0), a, err) < 0) return NULL;
    return eth_json_address(a);
}

/* ABI type tree for the JS side: {t, n?, e?, c?, len?, indexed?}. */
static json_t *type_json(const eth_abi_type_t *t) {
    static const char *const names[] = {"uint",  "int",    "address", "bool",  "bytesN",
                                        "bytes", "string", "array",   "array", "tuple"};
    json_t *o = json_pack("{s:s}", "t", names[t->kind]);
    if (t->name) json_object_set_new(o, "n", json_string(t->name));
    if (t->indexed) json_object_set_new(o, "indexed", json_true());
    if (t->elem) json_object_set_new(o, "e", type_json(t->elem));
    if (t->kind == ETH_ABI_TUPLE) {
        json_t *c = json_array();
        for (size_t i = 0; i < t->ncomp; i++)
            json_array_append_new(c, type_json(t->comp[i]));
        json_object_set_new(o, "c", c);
    }
    return o;
}

static json_t *types_json(eth_abi_type_t *const *ts, size_t n) {
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, type_json(ts[i]));
    return arr;
}

static int parse_type_list(arena_t *a, const json_t *list, eth_abi_type_t ***out, size_t *n,
                           err_t *err) {
    if (!json_is_array(list)) return err_set(err, R3E_EINVAL, "abi: types must be an array");
    *n = json_array_size(list);
    *out = arena_alloc(a, (*n + 1) * sizeof **out);
    for (size_t i = 0; i < *n; i++)
        if (eth_abi_parse_type(a, json_string_value(json_array_get(list, i)), &(*out)[i], err) < 0)
            return -1;
    return 0;
}

static json_t *buf_hex(eth_buf_t *b) {
    json_t *j = eth_json_hex(b->data, b->len);
    eth_buf_free(b);
    return j;
}

static json_t *op_abi(arena_t *a, const char *op, const json_t *args, err_t *err) {
    eth_abi_type_t **ts = NULL;
    size_t n = 0;
    if (parse_type_list(a, arg(args, 0), &ts, &n, err) < 0) return NULL;
    if (!strcmp(op, "abiTypes")) return types_json(ts, n);
    if (!strcmp(op, "abiEncode")) {
        eth_buf_t b = {0};
        if (eth_abi_encode(ts, n, arg(args, 1), &b, err) < 0) return eth_buf_free(&b), NULL;
        return buf_hex(&b);
    }
    uint8_t *p;
    size_t len;
    json_t *out = NULL;
    if (eth_hex_decode(sarg(args, 1), &p, &len, "data", err) < 0) return NULL;
    eth_abi_decode(ts, n, p, len, &out, err);
    free(p);
    return out;
}

static json_t *fragment_json(arena_t *a, const eth_abi_fragment_t *f) {
    static const char *const kinds[] = {"function", "event", "error", "constructor"};
    json_t *o =
        json_pack("{s:s,s:s,s:s,s:o,s:o,s:b}", "type", kinds[f->kind], "name", f->name, "signature",
                  eth_abi_fragment_signature(a, f), "inputs", types_json(f->inputs, f->ninputs),
                  "outputs", types_json(f->outputs, f->noutputs), "anonymous", f->anonymous);
    uint8_t h[32];
    eth_abi_event_topic(a, f, h);
    if (f->kind == ETH_FRAG_EVENT)
        json_object_set_new(o, "topicHash", eth_json_hex(h, 32));
    else
        json_object_set_new(o, "selector", eth_json_hex(h, 4));
    return o;
}

static json_t *op_fragment(arena_t *a, const char *op, const json_t *args, err_t *err) {
    eth_abi_fragment_t f;
    if (eth_abi_parse_fragment(a, sarg(args, 0), &f, err) < 0) return NULL;
    if (!strcmp(op, "fragment")) return fragment_json(a, &f);
    eth_buf_t b = {0}, topics = {0};
    if (!strcmp(op, "encodeFunctionData") || !strcmp(op, "encodeErrorResult")) {
        if (eth_abi_encode_call(a, &f, arg(args, 1), &b, err) < 0) return eth_buf_free(&b), NULL;
        return buf_hex(&b);
    }
    if (!strcmp(op, "encodeFunctionResult")) {
        if (eth_abi_encode(f.outputs, f.noutputs, arg(args, 1), &b, err) < 0)
            return eth_buf_free(&b), NULL;
        return buf_hex(&b);
    }
    if (!strcmp(op, "encodeEventLog")) {
        if (eth_abi_encode_log(a, &f, arg(args, 1), &topics, &b, err) < 0) {
            eth_buf_free(&topics);
            eth_buf_free(&b);
            return NULL;
        }
        json_t *tj = json_array();
        for (size_t i = 0; i < topics.len / 32; i++)
            json_array_append_new(tj, eth_json_hex(topics.data + 32 * i, 32));
        eth_buf_free(&topics);
        return json_pack("{s:o,s:o}", "data", buf_hex(&b), "topics", tj);
    }
    uint8_t *p;
    size_t len;
    json_t *out = NULL;
    if (eth_hex_decode(sarg(args, 1), &p, &len, "data", err) < 0) return NULL;
    if (!strcmp(op, "decodeFunctionResult")) {
        eth_abi_decode_result(&f, p, len, &out, err);
    } else if (!strcmp(op, "decodeFunctionData") || !strcmp(op, "decodeErrorResult")) {
        uint8_t sel[4];
        eth_abi_selector(a, &f, sel);
        if (len < 4 || memcmp(p, sel, 4))
            err_set(err, R3E_EINVAL, "abi: data does not start with the selector of %s", f.name);
        else
            eth_abi_decode(f.inputs, f.ninputs, p + 4, len - 4, &out, err);
    } else if (!strcmp(op, "decodeEventLog")) {
        const json_t *tl = arg(args, 2);
        size_t nt = json_array_size(tl);
        uint8_t(*topics32)[32] = arena_alloc(a, (nt + 1) * 32);
        int rc = 0;
        for (size_t i = 0; i < nt && rc == 0; i++)
            rc = eth_hex_decode_fixed(json_string_value(json_array_get(tl, i)), topics32[i], 32,
                                      "topic", err);
        if (rc == 0)
            eth_abi_decode_log(a, &f, (const uint8_t(*)[32])topics32, nt, p, len, &out, err);
    } else {
        err_set(err, R3E_EINVAL, "unknown operation %s", op);
    }
    free(p);
    return out;
}

static json_t *op_tx(arena_t *a, const char *op, const json_t *args, err_t *err) {
    eth_tx_t tx;
    if (!strcmp(op, "txParse")) {
        uint8_t *p;
        size_t n;
        if (eth_hex_decode(sarg(args, 0), &p, &n, "transaction", err) < 0) return NULL;
        uint8_t *copy = arena_alloc(a, n ? n : 1);
        memcpy(copy, p, n);
        free(p);
        if (eth_tx_parse(a, copy, n, &tx, err) < 0) return NULL;
        return eth_tx_to_json(&tx, err);
    }
    if (eth_tx_from_json(a, arg(args, 0), &tx, err) < 0) return NULL;
    /* txEncode: every derived field ethers' Transaction exposes */
    eth_buf_t u = {0}, s = {0};
    uint8_t uh[32];
    if (eth_tx_serialize(&tx, false, &u, err) < 0 || eth_tx_signing_hash(&tx, uh, err) < 0)
        return eth_buf_free(&u), NULL;
    json_t *o = json_pack("{s:o,s:o}", "unsignedSerialized", buf_hex(&u), "unsignedHash",
                          eth_json_hex(uh, 32));
    if (tx.has_sig) {
        uint8_t h[32], from[20];
        if (eth_tx_serialize(&tx, true, &s, err) < 0 || eth_tx_hash(&tx, h, err) < 0 ||
            eth_tx_recover_sender(&tx, from, err) < 0) {
            eth_buf_free(&s);
            json_decref(o);
            return NULL;
        }
        json_object_set_new(o, "serialized", buf_hex(&s));
        json_object_set_new(o, "hash", eth_json_hex(h, 32));
        json_object_set_new(o, "from", eth_json_address(from));
    }
    return o;
}

static json_t *op_typed(const char *op, const json_t *args, err_t *err) {
    uint8_t h[32];
    if (!strcmp(op, "typedHash")) {
        if (eth_typed_hash(arg(args, 0), arg(args, 1), NULL, arg(args, 2), h, err) < 0) return NULL;
    } else if (!strcmp(op, "typedDomain")) {
        if (eth_typed_domain_separator(arg(args, 0), h, err) < 0) return NULL;
    } else if (!strcmp(op, "typedStruct")) {
        if (eth_typed_hash_struct(arg(args, 0), sarg(args, 1), arg(args, 2), h, err) < 0)
            return NULL;
    } else if (!strcmp(op, "typedPrimary")) {
        const char *primary;
        if (eth_typed_primary_type(arg(args, 0), &primary, err) < 0) return NULL;
        return json_string(primary);
    } else {
        char *enc;
        if (!sarg(args, 1)) return err_set(err, R3E_EINVAL, "typed data: missing type name"), NULL;
        if (eth_typed_encode_type(arg(args, 0), sarg(args, 1), &enc, err) < 0) return NULL;
        json_t *j = json_string(enc);
        free(enc);
        return j;
    }
    return eth_json_hex(h, 32);
}

static json_t *op_rlp(arena_t *a, const char *op, const json_t *args, err_t *err) {
    eth_rlp_t it;
    if (!strcmp(op, "rlpEncode")) {
        if (eth_rlp_from_json(a, arg(args, 0), &it, err) < 0) return NULL;
        eth_buf_t b = {0};
        eth_rlp_encode(&b, &it);
        return buf_hex(&b);
    }
    uint8_t *p;
    size_t n;
    if (eth_hex_decode(sarg(args, 0), &p, &n, "rlp data", err) < 0) return NULL;
    json_t *out = eth_rlp_decode(a, p, n, &it, err) == 0 ? eth_rlp_to_json(&it) : NULL;
    free(p);
    return out;
}

static json_t *dispatch(arena_t *a, const char *op, const json_t *args, err_t *err) {
    if (!strncmp(op, "rlp", 3)) return op_rlp(a, op, args, err);
    if (!strcmp(op, "keccak256")) return op_bytes_hash(args, false, err);
    if (!strcmp(op, "hashMessage")) return op_bytes_hash(args, true, err);
    if (!strcmp(op, "key")) return op_key(args, err);
    if (!strcmp(op, "sign")) return op_sign(args, err);
    if (!strcmp(op, "recover")) return op_recover(args, err);
    if (!strcmp(op, "getAddress")) return op_get_address(args, err);
    if (!strncmp(op, "abi", 3)) return op_abi(a, op, args, err);
    if (!strcmp(op, "fragment") || strstr(op, "Function") || strstr(op, "EventLog") ||
        strstr(op, "ErrorResult"))
        return op_fragment(a, op, args, err);
    if (!strncmp(op, "tx", 2)) return op_tx(a, op, args, err);
    if (!strncmp(op, "typed", 5)) return op_typed(op, args, err);
    return err_set(err, R3E_EINVAL, "unknown operation %s", op), NULL;
}

/* ---- the JSC boundary ---- */

static char *js_to_utf8(JSContextRef c, JSValueRef v, JSValueRef *exc) {
    JSStringRef s = JSValueToStringCopy(c, v, exc);
    if (!s) return NULL;
    size_t max = JSStringGetMaximumUTF8CStringSize(s);
    char *buf = malloc(max);
    if (!buf) abort();
    JSStringGetUTF8CString(s, buf, max);
    JSStringRelease(s);
    return buf;
}

static JSValueRef js_string_value(JSContextRef c, const char *s) {
    JSStringRef js = JSStringCreateWithUTF8CString(s);
    JSValueRef v = JSValueMakeString(c, js);
    JSStringRelease(js);
    return v;
}

static JSValueRef native_call(JSContextRef c, JSObjectRef fn, JSObjectRef self, size_t argc,
                              const JSValueRef argv[], JSValueRef *exc) {
    if (argc < 2) {
        JSValueRef m = js_string_value(c, "eth: native call needs (op, args)");
        *exc = JSObjectMakeError(c, 1, &m, NULL);
        return JSValueMakeUndefined(c);
    }
    char *op = js_to_utf8(c, argv[0], exc), *json = op ? js_to_utf8(c, argv[1], exc) : NULL;
    if (!op || !json) {
        free(op);
        return JSValueMakeUndefined(c);
    }
    json_error_t jerr;
    json_t *args = json_loads(json, JSON_ALLOW_NUL, &jerr);
    err_t err = {0};
    json_t *res = NULL;
    arena_t *a = arena_create(0);
    if (!args)
        err_set(&err, R3E_EINVAL, "eth: bad arguments: %s", jerr.text);
    else
        res = dispatch(a, op, args, &err);
    arena_destroy(a);
    json_decref(args);
    free(op);
    free(json);
    if (!res) {
        JSValueRef m = js_string_value(c, err.msg[0] ? err.msg : "eth: operation failed");
        *exc = JSObjectMakeError(c, 1, &m, NULL);
        return JSValueMakeUndefined(c);
    }
    char *out = json_dumps(res, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
    json_decref(res);
    JSValueRef v = js_string_value(c, out);
    free(out);
    return v;
}

/* The ethers-shaped layer. Integers leave as BigInt (guided by the ABI type trees the native
 * side returns), bytes as lowercase hex; BigInt and Uint8Array inputs are accepted anywhere. */
static const char eth_js_source[] =
    "(function (native) {\n"
    "'use strict';\n"
    "const hexlify = (b) => { let s = '0x'; for (const x of b) s += (x < 16 ? '0' : '') + "
    "x.toString(16); return s; };\n"
    "const replacer = (k, v) => typeof v === 'bigint' ? v.toString() : (v instanceof Uint8Array "
    "? hexlify(v) : v);\n"
    "const { parse: jsonParse, stringify: jsonStringify } = JSON; /* immune to user patches */\n"
    "const call = (op, ...args) => jsonParse(native(op, jsonStringify(args, replacer)));\n"
    "const hexOf = (x) => x instanceof Uint8Array ? hexlify(x) : String(x);\n"
    "class Indexed { constructor(hash) { this.hash = hash; this._isIndexed = true; } }\n"
    "const named = (arr, names) => { names.forEach((n, i) => { if (n && !(n in arr)) "
    "Object.defineProperty(arr, n, { value: arr[i], enumerable: false }); }); return arr; };\n"
    "const toJs = (t, v) => {\n"
    "  switch (t.t) {\n"
    "    case 'uint': case 'int': return BigInt(v);\n"
    "    case 'array': return v.map((x) => toJs(t.e, x));\n"
    "    case 'tuple': return named(v.map((x, i) => toJs(t.c[i], x)), t.c.map((c) => c.n));\n"
    "    default: return v;\n"
    "  }\n"
    "};\n"
    "const result = (ts, vs, indexedHashes) => named(vs.map((v, i) => (indexedHashes && "
    "ts[i].indexed && ['string', 'bytes', 'array', 'tuple'].includes(ts[i].t)) ? new "
    "Indexed(v) : toJs(ts[i], v)), ts.map((t) => t.n));\n"
    "const keccak256 = (data) => call('keccak256', { data: hexOf(data) });\n"
    "const id = (text) => call('keccak256', { text: String(text) });\n"
    "const hashMessage = (m) => call('hashMessage', typeof m === 'string' ? { text: m } : { "
    "data: hexOf(m) });\n"
    "const getAddress = (a) => call('getAddress', a);\n"
    "const recoverAddress = (digest, sig) => call('recover', hexOf(digest), sig);\n"
    "const verifyMessage = (m, sig) => recoverAddress(hashMessage(m), sig);\n"
    "class SigningKey {\n"
    "  #priv;\n"
    "  constructor(priv) { this.#priv = hexOf(priv); this.publicKey = call('key', "
    "this.#priv).publicKey; }\n"
    "  get privateKey() { return this.#priv; }\n"
    "  sign(digest) { return call('sign', this.#priv, hexOf(digest)); }\n"
    "}\n"
    "const computeAddress = (key) => key instanceof SigningKey ? call('key', "
    "key.privateKey).address : call('key', hexOf(key)).address;\n"
    "const encodeRlp = (v) => call('rlpEncode', v);\n"
    "const decodeRlp = (data) => call('rlpDecode', hexOf(data));\n"
    "const typeTrees = (types) => call('abiTypes', types.map(String));\n"
    "class AbiCoder {\n"
    "  static defaultAbiCoder() { return defaultCoder; }\n"
    "  encode(types, values) { return call('abiEncode', types.map(String), values); }\n"
    "  decode(types, data) { return result(typeTrees(types), call('abiDecode', "
    "types.map(String), hexOf(data))); }\n"
    "}\n"
    "const defaultCoder = new AbiCoder();\n"
    "const fmtParam = (p) => (p.type.startsWith('tuple') ? '(' + "
    "(p.components || []).map(fmtParam).join(',') + ')' + p.type.slice(5) : p.type) + "
    "(p.indexed ? ' indexed' : '') + (p.name ? ' ' + p.name : '');\n"
    "const fmtFragment = (f) => {\n"
    "  if (typeof f === 'string') return f;\n"
    "  const ins = (f.inputs || []).map(fmtParam).join(', ');\n"
    "  if (f.type === 'event') return `event ${f.name}(${ins})${f.anonymous ? ' anonymous' : "
    "''}`;\n"
    "  if (f.type === 'error' || f.type === 'constructor') return f.type === 'error' ? `error "
    "${f.name}(${ins})` : `constructor(${ins})`;\n"
    "  if (f.type && f.type !== 'function') return null;\n"
    "  const outs = (f.outputs || []).map(fmtParam).join(', ');\n"
    "  return `function ${f.name}(${ins})` + (outs ? ` returns (${outs})` : '');\n"
    "};\n"
    "class Interface {\n"
    "  constructor(abi) {\n"
    "    const list = typeof abi === 'string' ? (abi.trim().startsWith('[') ? JSON.parse(abi) : "
    "[abi]) : abi;\n"
    "    this.fragments = list.map(fmtFragment).filter((s) => s).map((sig) => { const f = "
    "call('fragment', sig); f.sig = sig; f.format = () => f.signature; return f; });\n"
    "  }\n"
    "  #find(key, type) {\n"
    "    if (typeof key === 'object' && key && key.sig) return key;\n"
    "    const hits = this.fragments.filter((f) => f.type === type && (f.name === key || "
    "f.signature === key || f.selector === key || f.topicHash === key));\n"
    "    if (hits.length === 1) return hits[0];\n"
    "    throw new Error(hits.length ? `ambiguous ${type} ${key}` : `no ${type} ${key}`);\n"
    "  }\n"
    "  getFunction(key) { try { return this.#find(key, 'function'); } catch { return null; } }\n"
    "  getEvent(key) { try { return this.#find(key, 'event'); } catch { return null; } }\n"
    "  encodeFunctionData(key, values = []) { return call('encodeFunctionData', this.#find(key, "
    "'function').sig, values); }\n"
    "  decodeFunctionData(key, data) { const f = this.#find(key, 'function'); return "
    "result(f.inputs, call('decodeFunctionData', f.sig, hexOf(data))); }\n"
    "  encodeFunctionResult(key, values = []) { return call('encodeFunctionResult', "
    "this.#find(key, 'function').sig, values); }\n"
    "  decodeFunctionResult(key, data) { const f = this.#find(key, 'function'); return "
    "result(f.outputs, call('decodeFunctionResult', f.sig, hexOf(data))); }\n"
    "  getError(key) { try { return this.#find(key, 'error'); } catch { return null; } }\n"
    "  encodeErrorResult(key, values = []) { return call('encodeErrorResult', this.#find(key, "
    "'error').sig, values); }\n"
    "  decodeErrorResult(key, data) { const f = this.#find(key, 'error'); return "
    "result(f.inputs, call('decodeErrorResult', f.sig, hexOf(data))); }\n"
    "  encodeEventLog(key, values) { return call('encodeEventLog', this.#find(key, "
    "'event').sig, values); }\n"
    "  decodeEventLog(key, data, topics) { const f = this.#find(key, 'event'); return "
    "result(f.inputs, call('decodeEventLog', f.sig, hexOf(data), topics.map(hexOf)), true); }\n"
    "  parseLog(log) {\n"
    "    const f = this.fragments.find((x) => x.type === 'event' && !x.anonymous && x.topicHash "
    "=== String(log.topics[0]).toLowerCase());\n"
    "    if (!f) return null;\n"
    "    return { name: f.name, signature: f.signature, topic: f.topicHash, fragment: f, args: "
    "this.decodeEventLog(f, log.data, log.topics) };\n"
    "  }\n"
    "  parseTransaction(tx) {\n"
    "    const data = hexOf(tx.data);\n"
    "    const f = this.fragments.find((x) => x.type === 'function' && data.slice(0, "
    "10).toLowerCase() === x.selector);\n"
    "    if (!f) return null;\n"
    "    return { name: f.name, signature: f.signature, selector: f.selector, fragment: f, "
    "value: BigInt(tx.value || 0), args: this.decodeFunctionData(f, data) };\n"
    "  }\n"
    "}\n"
    "const splitSig = (h) => { const v = parseInt(h.slice(130, 132), 16); return { r: '0x' + "
    "h.slice(2, 66), s: '0x' + h.slice(66, 130), yParity: v >= 27 ? v - 27 : v }; };\n"
    "const TX_BIG = ['chainId', 'gasLimit', 'gasPrice', 'maxFeePerGas', "
    "'maxPriorityFeePerGas', 'value'];\n"
    "class Transaction {\n"
    "  constructor() { Object.assign(this, { type: null, chainId: 0n, nonce: 0, gasLimit: 0n, "
    "gasPrice: null, maxFeePerGas: null, maxPriorityFeePerGas: null, to: null, value: 0n, "
    "data: '0x', accessList: null, signature: null }); }\n"
    "  static from(x) {\n"
    "    const tx = new Transaction();\n"
    "    if (typeof x === 'string') {\n"
    "      const p = call('txParse', x);\n"
    "      for (const k of Object.keys(p)) if (!['r', 's', 'yParity', 'from', 'hash'].includes(k)) "
    "tx[k] = p[k];\n"
    "      if (p.r) tx.signature = { r: p.r, s: p.s, yParity: p.yParity, v: 27 + p.yParity };\n"
    "    } else if (x) {\n"
    "      for (const k of Object.keys(tx)) if (x[k] !== undefined) tx[k] = x[k];\n"
    "    }\n"
    "    for (const k of TX_BIG) if (tx[k] !== null && tx[k] !== undefined) tx[k] = "
    "BigInt(tx[k]);\n"
    "    tx.nonce = Number(tx.nonce);\n"
    "    if (tx.to) tx.to = getAddress(tx.to);\n"
    "    if (tx.type === null) tx.type = (tx.maxFeePerGas !== null || tx.maxPriorityFeePerGas "
    "!== null) ? 2 : (tx.accessList ? 1 : (tx.gasPrice !== null ? 0 : 2));\n"
    "    tx.type = Number(tx.type);\n"
    "    return tx;\n"
    "  }\n"
    "  #json(withSig) {\n"
    "    const o = { type: this.type, chainId: this.chainId, nonce: this.nonce, gasLimit: "
    "this.gasLimit, gasPrice: this.gasPrice, maxFeePerGas: this.maxFeePerGas, "
    "maxPriorityFeePerGas: this.maxPriorityFeePerGas, to: this.to, value: this.value, data: "
    "hexOf(this.data), accessList: this.accessList || [] };\n"
    "    if (withSig && this.signature) { const s = typeof this.signature === 'string' ? "
    "splitSig(this.signature) : this.signature; Object.assign(o, { r: s.r, s: s.s, yParity: "
    "s.yParity !== undefined ? s.yParity : Number(s.v) - 27 }); }\n"
    "    return o;\n"
    "  }\n"
    "  #enc() { return call('txEncode', this.#json(true)); }\n"
    "  get unsignedSerialized() { return call('txEncode', this.#json(false)).unsignedSerialized; "
    "}\n"
    "  get unsignedHash() { return call('txEncode', this.#json(false)).unsignedHash; }\n"
    "  get serialized() { const e = this.#enc(); if (!e.serialized) throw new "
    "Error('transaction is not signed'); return e.serialized; }\n"
    "  get hash() { return this.signature ? this.#enc().hash : null; }\n"
    "  get from() { return this.signature ? this.#enc().from : null; }\n"
    "  get isSigned() { return this.signature !== null; }\n"
    "}\n"
    "class TypedDataEncoder {\n"
    "  constructor(types) { this.types = types; }\n"
    "  static from(types) { return new TypedDataEncoder(types); }\n"
    "  static hash(domain, types, value) { return call('typedHash', domain, types, value); }\n"
    "  static hashDomain(domain) { return call('typedDomain', domain); }\n"
    "  get primaryType() { return call('typedPrimary', this.types); }\n"
    "  hash(value) { return call('typedStruct', this.types, this.primaryType, value); }\n"
    "  hashStruct(name, value) { return call('typedStruct', this.types, name, value); }\n"
    "  encodeType(name) { return call('typedEncodeType', this.types, name); }\n"
    "}\n"
    "class Wallet {\n"
    "  constructor(priv) { this.signingKey = new SigningKey(priv); this.address = "
    "computeAddress(this.signingKey); }\n"
    "  get privateKey() { return this.signingKey.privateKey; }\n"
    "  get publicKey() { return this.signingKey.publicKey; }\n"
    "  signMessageSync(m) { return this.signingKey.sign(hashMessage(m)).serialized; }\n"
    "  async signMessage(m) { return this.signMessageSync(m); }\n"
    "  signTransactionSync(t) {\n"
    "    const tx = Transaction.from(t);\n"
    "    if (t && t.from && getAddress(t.from) !== this.address) throw new "
    "Error('transaction from address mismatch');\n"
    "    tx.signature = this.signingKey.sign(tx.unsignedHash);\n"
    "    return tx.serialized;\n"
    "  }\n"
    "  async signTransaction(t) { return this.signTransactionSync(t); }\n"
    "  signTypedDataSync(domain, types, value) { return "
    "this.signingKey.sign(TypedDataEncoder.hash(domain, types, value)).serialized; }\n"
    "  async signTypedData(domain, types, value) { return this.signTypedDataSync(domain, types, "
    "value); }\n"
    "}\n"
    "return Object.freeze({ keccak256, id, hashMessage, getAddress, computeAddress, encodeRlp, "
    "decodeRlp, "
    "recoverAddress, verifyMessage, SigningKey, Wallet, Transaction, AbiCoder, Interface, "
    "Indexed, TypedDataEncoder });\n"
    "})";

JSValueRef eth_js_make(JSGlobalContextRef ctx) {
    JSStringRef src = JSStringCreateWithUTF8CString(eth_js_source);
    JSStringRef url = JSStringCreateWithUTF8CString("r3e:eth.js");
    JSValueRef exc = NULL;
    JSValueRef factory = JSEvaluateScript(ctx, src, NULL, url, 1, &exc);
    JSStringRelease(src);
    JSStringRelease(url);
    if (!factory || !JSValueIsObject(ctx, factory)) return NULL; /* a bug in the source above */
    JSStringRef name = JSStringCreateWithUTF8CString("__ethNative");
    JSValueRef native = JSObjectMakeFunctionWithCallback(ctx, name, native_call);
    JSStringRelease(name);
    return JSObjectCallAsFunction(ctx, (JSObjectRef)factory, NULL, 1, &native, &exc);
}

void eth_js_install(JSGlobalContextRef ctx) {
    JSObjectRef global = JSContextGetGlobalObject(ctx);
    JSValueRef eth = eth_js_make(ctx);
    if (!eth) return;
    JSStringRef r3e = JSStringCreateWithUTF8CString("r3e");
    JSValueRef holder = JSObjectGetProperty(ctx, global, r3e, NULL);
    if (!holder || !JSValueIsObject(ctx, holder)) {
        holder = JSObjectMake(ctx, NULL, NULL);
        JSObjectSetProperty(ctx, global, r3e, holder, kJSPropertyAttributeDontEnum, NULL);
    }
    JSStringRef key = JSStringCreateWithUTF8CString("eth");
    JSObjectSetProperty(ctx, (JSObjectRef)holder, key, eth,
                        kJSPropertyAttributeReadOnly | kJSPropertyAttributeDontDelete, NULL);
    JSStringRelease(key);
    JSStringRelease(r3e);
}
