/* eth_tool: exposes src/chain/eth to the ethers differential test
 * (tests/e2e/eth_diff.test.mjs). Reads JSON lines {"id","kind","in"} on stdin and prints one
 * line per case: {"id","out":…} or {"id","error":"message"}. The output shapes match what
 * tests/eth/gen.mjs computes with ethers v6.
 *
 *   eth_tool                    differential mode over the C API (stdin -> stdout)
 *   eth_tool --js CASES_JS      the same cases through r3e.eth inside JavaScriptCore: CASES_JS
 *                               (tests/eth/cases.js) defines ethCompute(E, kind, input) against
 *                               the ethers API and is run with E = r3e.eth
 *   eth_tool --bench            keccak / sign / recover throughput */
#include "chain/eth/eth.h"
#include "chain/eth/eth_js.h"
#include "core/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- small JSON helpers ---- */

static int get_hex(const json_t *in, const char *key, uint8_t **p, size_t *n, err_t *err) {
    return eth_hex_decode(json_string_value(json_object_get(in, key)), p, n, key, err);
}

static int get_fixed(const json_t *in, const char *key, uint8_t *out, size_t n, err_t *err) {
    return eth_hex_decode_fixed(json_string_value(json_object_get(in, key)), out, n, key, err);
}

static json_t *sig_json(const eth_sig_t *sig) {
    uint8_t ser[65];
    eth_sig_serialize(sig, ser);
    return json_pack("{s:o,s:o,s:i,s:o}", "r", eth_json_hex(sig->r, 32), "s",
                     eth_json_hex(sig->s, 32), "yParity", sig->y_parity, "serialized",
                     eth_json_hex(ser, 65));
}

/* ---- cases ---- */

static json_t *do_keccak(const json_t *in, err_t *err) {
    uint8_t *p, h[32];
    size_t n;
    if (get_hex(in, "data", &p, &n, err) < 0) return NULL;
    eth_keccak256(p, n, h);
    free(p);
    return json_pack("{s:o}", "hash", eth_json_hex(h, 32));
}

static json_t *do_key(const json_t *in, err_t *err) {
    uint8_t priv[32], digest[32], pub[65], addr[20], rec[20];
    eth_sig_t sig;
    if (get_fixed(in, "priv", priv, 32, err) < 0 || get_fixed(in, "digest", digest, 32, err) < 0 ||
        eth_key_public(priv, pub, err) < 0 || eth_sign_digest(priv, digest, &sig, err) < 0 ||
        eth_recover_address(digest, &sig, rec, err) < 0)
        return NULL;
    eth_address_from_public(pub, addr);
    return json_pack("{s:o,s:o,s:o,s:o}", "publicKey", eth_json_hex(pub, 65), "address",
                     eth_json_address(addr), "sig", sig_json(&sig), "recovered",
                     eth_json_address(rec));
}

static json_t *do_address(const json_t *in, err_t *err) {
    uint8_t a[20];
    if (eth_address_parse(json_string_value(json_object_get(in, "address")), a, err) < 0)
        return NULL;
    return json_pack("{s:o}", "address", eth_json_address(a));
}

static json_t *do_rlp(arena_t *a, const json_t *in, err_t *err) {
    eth_rlp_t item, back;
    if (eth_rlp_from_json(a, json_object_get(in, "value"), &item, err) < 0) return NULL;
    eth_buf_t b = {0};
    eth_rlp_encode(&b, &item);
    size_t n = b.len;
    uint8_t *copy = arena_alloc(a, n);
    memcpy(copy, b.data, n);
    json_t *enc = eth_json_hex(b.data, n);
    eth_buf_free(&b);
    if (eth_rlp_decode(a, copy, n, &back, err) < 0) {
        json_decref(enc);
        return NULL;
    }
    return json_pack("{s:o,s:o}", "encoded", enc, "decoded", eth_rlp_to_json(&back));
}

static json_t *do_rlp_decode(arena_t *a, const json_t *in, err_t *err) {
    uint8_t *p;
    size_t n;
    eth_rlp_t it;
    if (get_hex(in, "data", &p, &n, err) < 0) return NULL;
    json_t *res = NULL;
    if (eth_rlp_decode(a, p, n, &it, err) == 0)
        res = json_pack("{s:o}", "decoded", eth_rlp_to_json(&it));
    free(p);
    return res;
}

static json_t *do_tx(arena_t *a, const json_t *in, err_t *err) {
    eth_tx_t tx, parsed;
    uint8_t priv[32], uh[32], h[32], from[20];
    if (eth_tx_from_json(a, json_object_get(in, "tx"), &tx, err) < 0 ||
        get_fixed(in, "priv", priv, 32, err) < 0)
        return NULL;
    eth_buf_t u = {0}, s = {0};
    json_t *res = NULL;
    if (eth_tx_serialize(&tx, false, &u, err) == 0 && eth_tx_signing_hash(&tx, uh, err) == 0 &&
        eth_tx_sign(&tx, priv, err) == 0 && eth_tx_serialize(&tx, true, &s, err) == 0 &&
        eth_tx_hash(&tx, h, err) == 0 && eth_tx_recover_sender(&tx, from, err) == 0 &&
        eth_tx_parse(a, s.data, s.len, &parsed, err) == 0) {
        json_t *pj = eth_tx_to_json(&parsed, err);
        if (pj)
            res = json_pack("{s:o,s:o,s:o,s:o,s:o,s:o}", "unsignedSerialized",
                            eth_json_hex(u.data, u.len), "unsignedHash", eth_json_hex(uh, 32),
                            "serialized", eth_json_hex(s.data, s.len), "hash", eth_json_hex(h, 32),
                            "from", eth_json_address(from), "parsed", pj);
    }
    eth_buf_free(&u);
    eth_buf_free(&s);
    return res;
}

static json_t *do_tx_parse(arena_t *a, const json_t *in, err_t *err) {
    uint8_t *p;
    size_t n;
    eth_tx_t tx;
    if (get_hex(in, "raw", &p, &n, err) < 0) return NULL;
    json_t *res = NULL;
    if (eth_tx_parse(a, p, n, &tx, err) == 0) res = eth_tx_to_json(&tx, err);
    free(p);
    return res;
}

static int parse_types(arena_t *a, const json_t *arr, eth_abi_type_t ***types, size_t *n,
                       err_t *err) {
    *n = json_array_size(arr);
    *types = arena_alloc(a, (*n + 1) * sizeof **types);
    for (size_t i = 0; i < *n; i++)
        if (eth_abi_parse_type(a, json_string_value(json_array_get(arr, i)), &(*types)[i], err) < 0)
            return -1;
    return 0;
}

static json_t *do_abi(arena_t *a, const json_t *in, err_t *err) {
    eth_abi_type_t **types;
    size_t n;
    if (parse_types(a, json_object_get(in, "types"), &types, &n, err) < 0) return NULL;
    json_t *canon = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(canon, json_string(eth_abi_type_string(a, types[i])));
    eth_buf_t b = {0};
    json_t *dec = NULL, *res = NULL;
    if (eth_abi_encode(types, n, json_object_get(in, "values"), &b, err) == 0 &&
        eth_abi_decode(types, n, b.data, b.len, &dec, err) == 0)
        res = json_pack("{s:o,s:o,s:o}", "canonical", json_incref(canon), "encoded",
                        eth_json_hex(b.data, b.len), "decoded", dec);
    json_decref(canon);
    eth_buf_free(&b);
    return res;
}

static json_t *do_abi_decode(arena_t *a, const json_t *in, err_t *err) {
    eth_abi_type_t **types;
    size_t n;
    uint8_t *p;
    size_t len;
    json_t *dec = NULL;
    if (parse_types(a, json_object_get(in, "types"), &types, &n, err) < 0 ||
        get_hex(in, "data", &p, &len, err) < 0)
        return NULL;
    int rc = eth_abi_decode(types, n, p, len, &dec, err);
    free(p);
    return rc == 0 ? json_pack("{s:o}", "decoded", dec) : NULL;
}

static json_t *do_function(arena_t *a, const json_t *in, err_t *err) {
    eth_abi_fragment_t f;
    if (eth_abi_parse_fragment(a, json_string_value(json_object_get(in, "sig")), &f, err) < 0)
        return NULL;
    uint8_t sel[4];
    eth_abi_selector(a, &f, sel);
    eth_buf_t call = {0}, ret = {0};
    json_t *dec = NULL, *res = NULL;
    if (eth_abi_encode_call(a, &f, json_object_get(in, "values"), &call, err) == 0 &&
        eth_abi_encode(f.outputs, f.noutputs, json_object_get(in, "outValues"), &ret, err) == 0 &&
        eth_abi_decode_result(&f, ret.data, ret.len, &dec, err) == 0)
        res = json_pack("{s:s,s:o,s:o,s:o,s:o}", "signature", eth_abi_fragment_signature(a, &f),
                        "selector", eth_json_hex(sel, 4), "calldata",
                        eth_json_hex(call.data, call.len), "result",
                        eth_json_hex(ret.data, ret.len), "decodedResult", dec);
    eth_buf_free(&call);
    eth_buf_free(&ret);
    return res;
}

/* Custom errors: selector || abi(inputs), like calldata. */
static json_t *do_error(arena_t *a, const json_t *in, err_t *err) {
    eth_abi_fragment_t f;
    if (eth_abi_parse_fragment(a, json_string_value(json_object_get(in, "sig")), &f, err) < 0)
        return NULL;
    uint8_t sel[4];
    eth_abi_selector(a, &f, sel);
    eth_buf_t data = {0};
    json_t *dec = NULL, *res = NULL;
    if (eth_abi_encode_call(a, &f, json_object_get(in, "values"), &data, err) == 0 &&
        eth_abi_decode(f.inputs, f.ninputs, data.data + 4, data.len - 4, &dec, err) == 0)
        res = json_pack("{s:s,s:o,s:o,s:o}", "signature", eth_abi_fragment_signature(a, &f),
                        "selector", eth_json_hex(sel, 4), "data", eth_json_hex(data.data, data.len),
                        "decoded", dec);
    eth_buf_free(&data);
    return res;
}

static json_t *do_event(arena_t *a, const json_t *in, err_t *err) {
    eth_abi_fragment_t f;
    if (eth_abi_parse_fragment(a, json_string_value(json_object_get(in, "sig")), &f, err) < 0)
        return NULL;
    uint8_t t0[32];
    eth_abi_event_topic(a, &f, t0);
    eth_buf_t topics = {0}, data = {0};
    json_t *dec = NULL, *res = NULL;
    if (eth_abi_encode_log(a, &f, json_object_get(in, "values"), &topics, &data, err) == 0 &&
        eth_abi_decode_log(a, &f, (const uint8_t(*)[32])topics.data, topics.len / 32, data.data,
                           data.len, &dec, err) == 0) {
        json_t *tj = json_array();
        for (size_t i = 0; i < topics.len / 32; i++)
            json_array_append_new(tj, eth_json_hex(topics.data + 32 * i, 32));
        res = json_pack("{s:s,s:o,s:o,s:o,s:o}", "signature", eth_abi_fragment_signature(a, &f),
                        "topic0", eth_json_hex(t0, 32), "topics", tj, "data",
                        eth_json_hex(data.data, data.len), "decoded", dec);
    }
    eth_buf_free(&topics);
    eth_buf_free(&data);
    return res;
}

static json_t *do_message(const json_t *in, err_t *err) {
    uint8_t priv[32], h[32];
    eth_sig_t sig;
    uint8_t *p;
    size_t n;
    const json_t *text = json_object_get(in, "text");
    if (get_fixed(in, "priv", priv, 32, err) < 0) return NULL;
    if (text) {
        n = json_string_length(text);
        p = malloc(n + 1);
        memcpy(p, json_string_value(text), n);
    } else if (get_hex(in, "data", &p, &n, err) < 0) {
        return NULL;
    }
    eth_message_hash(p, n, h);
    int rc = eth_message_sign(priv, p, n, &sig, err);
    free(p);
    if (rc < 0) return NULL;
    uint8_t ser[65];
    eth_sig_serialize(&sig, ser);
    return json_pack("{s:o,s:o}", "hash", eth_json_hex(h, 32), "signature", eth_json_hex(ser, 65));
}

static json_t *do_typed(const json_t *in, err_t *err) {
    uint8_t priv[32], ds[32], hs[32], h[32];
    const json_t *domain = json_object_get(in, "domain"), *types = json_object_get(in, "types"),
                 *msg = json_object_get(in, "message");
    const char *primary = json_string_value(json_object_get(in, "primaryType"));
    char *enc;
    eth_sig_t sig;
    if (get_fixed(in, "priv", priv, 32, err) < 0 ||
        eth_typed_encode_type(types, primary, &enc, err) < 0)
        return NULL;
    json_t *res = NULL;
    if (eth_typed_domain_separator(domain, ds, err) == 0 &&
        eth_typed_hash_struct(types, primary, msg, hs, err) == 0 &&
        eth_typed_hash(domain, types, NULL, msg, h, err) == 0 &&
        eth_typed_sign(priv, domain, types, NULL, msg, &sig, err) == 0) {
        uint8_t ser[65];
        eth_sig_serialize(&sig, ser);
        res = json_pack("{s:s,s:o,s:o,s:o,s:o}", "encodeType", enc, "domainSeparator",
                        eth_json_hex(ds, 32), "hashStruct", eth_json_hex(hs, 32), "hash",
                        eth_json_hex(h, 32), "signature", eth_json_hex(ser, 65));
    }
    free(enc);
    return res;
}

static json_t *run_case(arena_t *a, const char *kind, const json_t *in, err_t *err) {
    if (!strcmp(kind, "keccak")) return do_keccak(in, err);
    if (!strcmp(kind, "key")) return do_key(in, err);
    if (!strcmp(kind, "address")) return do_address(in, err);
    if (!strcmp(kind, "rlp")) return do_rlp(a, in, err);
    if (!strcmp(kind, "rlp_decode")) return do_rlp_decode(a, in, err);
    if (!strcmp(kind, "tx")) return do_tx(a, in, err);
    if (!strcmp(kind, "tx_parse")) return do_tx_parse(a, in, err);
    if (!strcmp(kind, "abi")) return do_abi(a, in, err);
    if (!strcmp(kind, "abi_decode")) return do_abi_decode(a, in, err);
    if (!strcmp(kind, "function")) return do_function(a, in, err);
    if (!strcmp(kind, "event")) return do_event(a, in, err);
    if (!strcmp(kind, "error")) return do_error(a, in, err);
    if (!strcmp(kind, "message")) return do_message(in, err);
    if (!strcmp(kind, "typed")) return do_typed(in, err);
    err_set(err, R3E_EINVAL, "unknown kind \"%s\"", kind);
    return NULL;
}

static int diff_mode(void) {
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, stdin)) > 0) {
        json_error_t jerr;
        json_t *c = json_loadb(line, (size_t)len, JSON_ALLOW_NUL, &jerr);
        if (!c) {
            fprintf(stderr, "eth_tool: bad input line: %s\n", jerr.text);
            free(line);
            return 1;
        }
        err_t err = {0};
        arena_t *a = arena_create(0);
        json_t *out = run_case(a, json_string_value(json_object_get(c, "kind")),
                               json_object_get(c, "in"), &err);
        json_t *res =
            out ? json_pack("{s:O,s:o}", "id", json_object_get(c, "id"), "out", out)
                : json_pack("{s:O,s:s}", "id", json_object_get(c, "id"), "error", err.msg);
        char *s = json_dumps(res, JSON_COMPACT | JSON_PRESERVE_ORDER);
        puts(s);
        free(s);
        json_decref(res);
        json_decref(c);
        arena_destroy(a);
    }
    free(line);
    return 0;
}

/* ---- JS binding mode ---- */

static JSValueRef js_eval(JSGlobalContextRef ctx, const char *src, const char *url) {
    JSStringRef s = JSStringCreateWithUTF8CString(src), u = JSStringCreateWithUTF8CString(url);
    JSValueRef exc = NULL;
    JSValueRef v = JSEvaluateScript(ctx, s, NULL, u, 1, &exc);
    JSStringRelease(s);
    JSStringRelease(u);
    if (!v) {
        JSStringRef m = JSValueToStringCopy(ctx, exc, NULL);
        char buf[512];
        JSStringGetUTF8CString(m, buf, sizeof buf);
        JSStringRelease(m);
        fprintf(stderr, "eth_tool: %s: %s\n", url, buf);
    }
    return v;
}

static int js_mode(const char *cases_path) {
    size_t len;
    char *cases = util_read_file(cases_path, &len);
    if (!cases) {
        fprintf(stderr, "eth_tool: cannot read %s\n", cases_path);
        return 1;
    }
    JSGlobalContextRef ctx = JSGlobalContextCreate(NULL);
    eth_js_install(ctx);
    JSValueRef ok = js_eval(ctx, cases, cases_path);
    free(cases);
    JSValueRef runner =
        ok ? js_eval(ctx,
                     "(function (line) { const c = JSON.parse(line); try { return "
                     "JSON.stringify({ id: c.id, out: ethCompute(r3e.eth, c.kind, c.in) }); } "
                     "catch (e) { return JSON.stringify({ id: c.id, error: String(e && e.message "
                     "|| e) }); } })",
                     "eth_tool:runner")
           : NULL;
    if (!runner || !JSValueIsObject(ctx, runner)) {
        JSGlobalContextRelease(ctx);
        return 1;
    }
    JSValueProtect(ctx, runner);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, stdin)) > 0) {
        JSStringRef s = JSStringCreateWithUTF8CString(line);
        JSValueRef arg = JSValueMakeString(ctx, s);
        JSStringRelease(s);
        JSValueRef exc = NULL;
        JSValueRef r = JSObjectCallAsFunction(ctx, (JSObjectRef)runner, NULL, 1, &arg, &exc);
        JSStringRef rs = JSValueToStringCopy(ctx, r ? r : exc, NULL);
        size_t max = JSStringGetMaximumUTF8CStringSize(rs);
        char *out = malloc(max);
        JSStringGetUTF8CString(rs, out, max);
        JSStringRelease(rs);
        puts(out);
        free(out);
    }
    free(line);
    JSValueUnprotect(ctx, runner);
    JSGlobalContextRelease(ctx);
    return 0;
}

/* ---- micro-benchmark ---- */

static double rate(uint64_t start, long n) {
    return (double)n * 1e6 / (double)(util_now_us() - start);
}

static int bench_mode(void) {
    uint8_t buf[1024] = {1}, h[32], priv[32] = {0}, addr[20];
    priv[31] = 7;
    long n = 200000;
    uint64_t t = util_now_us();
    for (long i = 0; i < n; i++)
        eth_keccak256(buf, 32, buf);
    printf("{\"op\":\"keccak256_32B\",\"ops_per_s\":%.0f}\n", rate(t, n));
    n = 20000;
    t = util_now_us();
    for (long i = 0; i < n; i++)
        eth_keccak256(buf, 1024, h);
    printf("{\"op\":\"keccak256_1KiB\",\"ops_per_s\":%.0f}\n", rate(t, n));
    eth_sig_t sig;
    err_t err;
    n = 5000;
    t = util_now_us();
    for (long i = 0; i < n; i++) {
        h[0] = (uint8_t)i;
        eth_sign_digest(priv, h, &sig, &err);
    }
    printf("{\"op\":\"sign\",\"ops_per_s\":%.0f}\n", rate(t, n));
    t = util_now_us();
    for (long i = 0; i < n; i++)
        eth_recover_address(h, &sig, addr, &err);
    printf("{\"op\":\"recover\",\"ops_per_s\":%.0f}\n", rate(t, n));
    return 0;
}

int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "--bench")) return bench_mode();
    if (argc > 2 && !strcmp(argv[1], "--js")) return js_mode(argv[2]);
    return diff_mode();
}
