/* neo_tool: exposes src/chain/neo to tests/e2e/neo_diff.test.mjs. Reads one JSON case per
 * line on stdin, writes one JSON result per line on stdout (same order), so node can
 * compare r3e's bytes with neon-js's. `neo_tool --js` instead evaluates one JS function
 * source per line as fn(r3e.neo) in a JavaScriptCore context and prints its JSON result, so
 * the same neon-js-style code can run against both. `neo_tool --bench N` times N NEP-17
 * transfer transactions built, signed and serialized. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chain/neo/neo.h"
#include "chain/neo/neo_js.h"
#include "core/util.h"

static json_t *fail(const err_t *e) {
    return json_pack("{s:s}", "error", e->msg);
}

static char *hex_of(const uint8_t *p, size_t n) {
    char *h = malloc(2 * n + 1);
    if (!h) abort();
    util_hex_encode(p, n, h);
    return h;
}

static json_t *jhex(const uint8_t *p, size_t n) {
    char *h = hex_of(p, n);
    json_t *j = json_string(h);
    free(h);
    return j;
}

static int get_hex(const json_t *v, uint8_t *out, size_t n, err_t *e) {
    const char *s = json_string_value(v);
    if (!s || strlen(s) != 2 * n || util_hex_decode(s, 2 * n, out, n) != (int)n)
        return err_set(e, R3E_EINVAL, "expected %zu hex bytes", n);
    return 0;
}

/* Variable-length hex into a malloc'd buffer. */
static uint8_t *get_varhex(const json_t *v, size_t *n, err_t *e) {
    const char *s = json_string_value(v);
    size_t len = s ? strlen(s) : 0;
    uint8_t *b = malloc(len / 2 + 1);
    if (!b) abort();
    if (!s || util_hex_decode(s, len, b, len / 2 + 1) < 0) {
        free(b);
        err_set(e, R3E_EINVAL, "expected hex");
        return NULL;
    }
    *n = len / 2;
    return b;
}

static json_t *case_account(const json_t *c, err_t *e) {
    uint8_t priv[32], pub[33], vs[40], h[20], back[32], h2[20];
    char wif[NEO_WIF_LEN + 1], addr[NEO_ADDRESS_LEN + 1], disp[43], disp2[43];
    if (get_hex(json_object_get(c, "priv"), priv, 32, e) != 0 ||
        neo_wif_encode(priv, wif, e) != 0 || neo_pubkey_from_privkey(priv, pub, e) != 0 ||
        neo_wif_decode(wif, back, e) != 0)
        return fail(e);
    neo_verification_script(pub, vs);
    neo_script_hash(vs, sizeof vs, h);
    neo_hash_to_display(h, 20, disp);
    neo_address_from_script_hash(h, addr);
    if (neo_address_to_script_hash(addr, h2, e) != 0) return fail(e);
    neo_hash_to_display(h2, 20, disp2);
    return json_pack("{s:s, s:o, s:o, s:s, s:s, s:o, s:s}", "wif", wif, "pub", jhex(pub, 33),
                     "vscript", jhex(vs, 40), "hash", disp, "address", addr, "wif_priv",
                     jhex(back, 32), "addr_hash", disp2);
}

static json_t *case_script(const json_t *c, err_t *e) {
    neo_buf_t b = {0};
    if (neo_script_from_json(json_object_get(c, "ops"), &b, e) != 0) {
        neo_buf_free(&b);
        return fail(e);
    }
    json_t *r = json_pack("{s:o}", "script", jhex(b.data, b.len));
    neo_buf_free(&b);
    return r;
}

static json_t *case_multisig(const json_t *c, err_t *e) {
    const json_t *arr = json_object_get(c, "pubs");
    size_t n = json_array_size(arr);
    uint8_t(*pubs)[33] = malloc((n ? n : 1) * 33);
    if (!pubs) abort();
    for (size_t i = 0; i < n; i++)
        if (get_hex(json_array_get(arr, i), pubs[i], 33, e) != 0) {
            free(pubs);
            return fail(e);
        }
    neo_buf_t b = {0};
    int rc = neo_multisig_script((int)json_integer_value(json_object_get(c, "m")),
                                 (const uint8_t(*)[33])pubs, n, &b, e);
    free(pubs);
    if (rc != 0) {
        neo_buf_free(&b);
        return fail(e);
    }
    uint8_t h[20];
    char disp[43], addr[NEO_ADDRESS_LEN + 1];
    neo_script_hash(b.data, b.len, h);
    neo_hash_to_display(h, 20, disp);
    neo_address_from_script_hash(h, addr);
    json_t *r =
        json_pack("{s:o, s:s, s:s}", "script", jhex(b.data, b.len), "hash", disp, "address", addr);
    neo_buf_free(&b);
    return r;
}

/* Serializes both forms, hashes, and checks that parsing each form gives the same bytes. */
static json_t *case_tx(arena_t *a, const json_t *c, err_t *e) {
    neo_tx_t tx, back;
    neo_buf_t u = {0}, s = {0}, rt = {0};
    json_t *r = NULL;
    uint8_t h[32];
    char disp[67];
    if (neo_tx_from_json(a, json_object_get(c, "tx"), &tx, e) != 0 ||
        neo_tx_serialize(&tx, false, &u, e) != 0 || neo_tx_hash(&tx, h, e) != 0)
        goto out;
    bool signed_ok = neo_tx_serialize(&tx, true, &s, e) == 0;
    neo_hash_to_display(h, 32, disp);
    bool round = neo_tx_deserialize(a, u.data, u.len, false, &back, e) == 0 &&
                 neo_tx_serialize(&back, false, &rt, e) == 0 && rt.len == u.len &&
                 memcmp(rt.data, u.data, u.len) == 0;
    if (round && signed_ok) {
        rt.len = 0;
        round = neo_tx_deserialize(a, s.data, s.len, true, &back, e) == 0 &&
                neo_tx_serialize(&back, true, &rt, e) == 0 && rt.len == s.len &&
                memcmp(rt.data, s.data, s.len) == 0;
    }
    if (round) { /* JSON form round trip: to_json -> from_json -> same unsigned bytes */
        json_t *j = neo_tx_to_json(&tx);
        neo_tx_t again;
        rt.len = 0;
        round = neo_tx_from_json(a, j, &again, e) == 0 &&
                neo_tx_serialize(&again, false, &rt, e) == 0 && rt.len == u.len &&
                memcmp(rt.data, u.data, u.len) == 0;
        json_decref(j);
    }
    r = json_pack("{s:o, s:s, s:b}", "unsigned", jhex(u.data, u.len), "hash", disp, "roundtrip",
                  round);
    if (signed_ok) json_object_set_new(r, "signed", jhex(s.data, s.len));
    if (!round) json_object_set_new(r, "roundtrip_error", json_string(e->msg));
out:
    neo_buf_free(&u);
    neo_buf_free(&s);
    neo_buf_free(&rt);
    return r ? r : fail(e);
}

static json_t *case_sign(arena_t *a, const json_t *c, err_t *e) {
    uint8_t priv[32], pub[33], sig[64];
    if (get_hex(json_object_get(c, "priv"), priv, 32, e) != 0 ||
        neo_pubkey_from_privkey(priv, pub, e) != 0)
        return fail(e);
    const json_t *txj = json_object_get(c, "tx");
    if (txj) {
        neo_tx_t tx;
        uint32_t magic = (uint32_t)json_integer_value(json_object_get(c, "magic"));
        if (neo_tx_from_json(a, txj, &tx, e) != 0 || neo_tx_sign(&tx, magic, priv, sig, e) != 0)
            return fail(e);
    } else {
        size_t n;
        uint8_t *msg = get_varhex(json_object_get(c, "msg"), &n, e);
        int rc = msg ? neo_sign(priv, msg, n, sig, e) : -1;
        free(msg);
        if (rc != 0) return fail(e);
    }
    return json_pack("{s:o, s:o}", "pub", jhex(pub, 33), "sig", jhex(sig, 64));
}

static json_t *case_verify(arena_t *a, const json_t *c, err_t *e) {
    uint8_t pub[33], sig[64];
    int v;
    if (get_hex(json_object_get(c, "pub"), pub, 33, e) != 0 ||
        get_hex(json_object_get(c, "sig"), sig, 64, e) != 0)
        return fail(e);
    const json_t *txj = json_object_get(c, "tx");
    if (txj) {
        neo_tx_t tx;
        uint32_t magic = (uint32_t)json_integer_value(json_object_get(c, "magic"));
        if (neo_tx_from_json(a, txj, &tx, e) != 0) return fail(e);
        v = neo_tx_verify(&tx, magic, pub, sig, e);
    } else {
        size_t n;
        uint8_t *msg = get_varhex(json_object_get(c, "msg"), &n, e);
        v = msg ? neo_verify(pub, msg, n, sig, e) : -1;
        free(msg);
    }
    return v < 0 ? fail(e) : json_pack("{s:b}", "valid", v == 1);
}

static json_t *run_case(arena_t *a, const json_t *c) {
    err_t e = {0};
    const char *k = json_string_value(json_object_get(c, "k"));
    if (!k) return json_pack("{s:s}", "error", "case without \"k\"");
    if (strcmp(k, "account") == 0) return case_account(c, &e);
    if (strcmp(k, "script") == 0) return case_script(c, &e);
    if (strcmp(k, "multisig") == 0) return case_multisig(c, &e);
    if (strcmp(k, "tx") == 0) return case_tx(a, c, &e);
    if (strcmp(k, "sign") == 0) return case_sign(a, c, &e);
    if (strcmp(k, "verify") == 0) return case_verify(a, c, &e);
    if (strcmp(k, "stack") == 0) {
        json_t *d = neo_stack_item_decode(json_object_get(c, "item"), &e);
        return d ? json_pack("{s:o}", "decoded", d) : fail(&e);
    }
    if (strcmp(k, "notification") == 0) {
        json_t *d = neo_notification_decode(json_object_get(c, "n"), &e);
        return d ? json_pack("{s:o}", "decoded", d) : fail(&e);
    }
    if (strcmp(k, "netfee") == 0) {
        neo_tx_t tx;
        int64_t fee;
        char buf[24];
        if (neo_tx_from_json(a, json_object_get(c, "tx"), &tx, &e) != 0 ||
            neo_tx_network_fee(&tx, json_integer_value(json_object_get(c, "feePerByte")),
                               json_integer_value(json_object_get(c, "execFeeFactor")), &fee,
                               &e) != 0)
            return fail(&e);
        snprintf(buf, sizeof buf, "%lld", (long long)fee);
        return json_pack("{s:s}", "fee", buf);
    }
    if (strcmp(k, "address") == 0) {
        uint8_t h[20];
        char disp[43];
        if (neo_address_to_script_hash(json_string_value(json_object_get(c, "address")), h, &e) !=
            0)
            return json_pack("{s:b, s:s}", "valid", 0, "error", e.msg);
        neo_hash_to_display(h, 20, disp);
        return json_pack("{s:b, s:s}", "valid", 1, "hash", disp);
    }
    if (strcmp(k, "parse") == 0) { /* strict parser on arbitrary bytes: must not crash */
        size_t n;
        neo_tx_t tx;
        uint8_t *p = get_varhex(json_object_get(c, "hex"), &n, &e);
        int rc =
            p ? neo_tx_deserialize(a, p, n, json_is_true(json_object_get(c, "signed")), &tx, &e)
              : -1;
        free(p);
        return rc == 0 ? json_pack("{s:b}", "ok", 1) : fail(&e);
    }
    return json_pack("{s:s}", "error", "unknown case kind");
}

/* One NEP-17 transfer: script, tx, sign, witness, serialize — the path a relayer runs. */
static int bench(long n) {
    uint8_t priv[32], pub[33], vs[40], acct[20], sig[64], inv[66], to[20], gas[20];
    err_t e = {0};
    memset(priv, 0x11, sizeof priv);
    memset(to, 0x22, sizeof to);
    if (neo_hash_from_display("0xd2a4cff31913016155e38e474a2c06d08be276cf", gas, 20, &e) != 0 ||
        neo_pubkey_from_privkey(priv, pub, &e) != 0)
        return fprintf(stderr, "%s\n", e.msg), 1;
    /* A relayer parses its key once and signs many transactions with it. */
    neo_key_t *key = neo_key_new(priv, &e);
    if (!key) return fprintf(stderr, "%s\n", e.msg), 1;
    neo_verification_script(pub, vs);
    neo_script_hash(vs, sizeof vs, acct);
    size_t total = 0;
    uint64_t t0 = util_now_us();
    for (long i = 0; i < n; i++) {
        neo_buf_t script = {0}, out = {0};
        char amount[24];
        snprintf(amount, sizeof amount, "%ld", 100000000L + i);
        if (neo_sb_nep17_transfer(&script, gas, acct, to, amount, &e) != 0) return 1;
        neo_signer_t signer = {.scopes = NEO_SCOPE_CALLED_BY_ENTRY};
        memcpy(signer.account, acct, 20);
        neo_witness_t w = {inv, sizeof inv, vs, sizeof vs};
        neo_tx_t tx = {.nonce = (uint32_t)i,
                       .system_fee = 997775,
                       .network_fee = 1234570,
                       .valid_until_block = 5000000,
                       .signers = &signer,
                       .nsigners = 1,
                       .script = script.data,
                       .script_len = script.len,
                       .witnesses = &w,
                       .nwitnesses = 1};
        if (neo_tx_sign_key(&tx, NEO_MAINNET_MAGIC, key, sig, &e) != 0)
            return fprintf(stderr, "%s\n", e.msg), 1;
        neo_invocation_script(sig, inv);
        if (neo_tx_serialize(&tx, true, &out, &e) != 0) return fprintf(stderr, "%s\n", e.msg), 1;
        total += out.len;
        neo_buf_free(&script);
        neo_buf_free(&out);
    }
    double secs = (double)(util_now_us() - t0) / 1e6;
    neo_key_free(key);
    printf("{\"impl\":\"r3e\",\"txs\":%ld,\"seconds\":%.3f,\"tx_per_s\":%.0f,\"bytes\":%zu}\n", n,
           secs, (double)n / secs, total);
    return 0;
}

static char *js_string(JSContextRef ctx, JSValueRef v) {
    JSStringRef s = JSValueToStringCopy(ctx, v, NULL);
    if (!s) return strdup("(unprintable)");
    size_t cap = JSStringGetMaximumUTF8CStringSize(s);
    char *out = malloc(cap);
    if (!out) abort();
    JSStringGetUTF8CString(s, out, cap);
    JSStringRelease(s);
    return out;
}

/* Each line: a JS function source taking the neo namespace. Output: {"ok": result} or
 * {"error": message}, one line each. */
static int js_mode(void) {
    JSContextGroupRef group = JSContextGroupCreate();
    JSGlobalContextRef ctx = JSGlobalContextCreateInGroup(group, NULL);
    neo_js_install(ctx);
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, stdin) > 0) {
        size_t n = strlen(line) + 96;
        char *src = malloc(n);
        if (!src) abort();
        snprintf(src, n, "JSON.stringify({ ok: (%s)(r3e.neo) })", line);
        JSStringRef js = JSStringCreateWithUTF8CString(src);
        JSValueRef exc = NULL;
        JSValueRef v = JSEvaluateScript(ctx, js, NULL, NULL, 1, &exc);
        JSStringRelease(js);
        free(src);
        char *out = js_string(ctx, v ? v : exc);
        if (v) {
            puts(out);
        } else {
            json_t *e = json_pack("{s:s}", "error", out);
            char *d = json_dumps(e, JSON_COMPACT);
            puts(d);
            free(d);
            json_decref(e);
        }
        free(out);
    }
    free(line);
    fflush(stdout);
    JSGlobalContextRelease(ctx);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "--bench") == 0) return bench(atol(argv[2]));
    if (argc == 2 && strcmp(argv[1], "--js") == 0) return js_mode();
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    arena_t *a = arena_create(0);
    while ((len = getline(&line, &cap, stdin)) > 0) {
        json_error_t je;
        json_t *c = json_loadb(line, (size_t)len, JSON_ALLOW_NUL, &je);
        json_t *r = c ? run_case(a, c) : json_pack("{s:s}", "error", je.text);
        char *out = json_dumps(r, JSON_COMPACT);
        puts(out);
        free(out);
        json_decref(r);
        json_decref(c);
        arena_reset(a);
    }
    fflush(stdout);
    free(line);
    arena_destroy(a);
    return 0;
}
