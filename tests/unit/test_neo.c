/* Neo N3 primitives: known vectors and, mostly, bad input — every malformed key, address,
 * script or transaction must come back as a clear error, never a crash. The byte-exact
 * comparison with neon-js lives in tests/e2e/neo_diff.test.mjs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "chain/neo/neo.h"
#include "core/util.h"

static const char *PRIV1 = "0101010101010101010101010101010101010101010101010101010101010101";

static void hex_to(const char *hex, uint8_t *out, size_t n) {
    assert_int_equal(util_hex_decode(hex, strlen(hex), out, n), (int)n);
}

static void assert_buf_hex(const neo_buf_t *b, const char *hex) {
    char *got = malloc(2 * b->len + 1);
    util_hex_encode(b->data, b->len, got);
    assert_string_equal(got, hex);
    free(got);
}

/* ---- keys and addresses --------------------------------------------------------------- */

static void test_account_vector_matches_neon_js(void **state) {
    (void)state;
    uint8_t priv[32], pub[33], vs[40], h[20], back[32];
    char wif[NEO_WIF_LEN + 1], addr[NEO_ADDRESS_LEN + 1], disp[43];
    err_t e = {0};
    hex_to(PRIV1, priv, 32);
    assert_int_equal(neo_wif_encode(priv, wif, &e), 0);
    assert_string_equal(wif, "KwFfNUhSDaASSAwtG7ssQM1uVX8RgX5GHWnnLfhfiQDigjioWXHH");
    assert_int_equal(neo_wif_decode(wif, back, &e), 0);
    assert_memory_equal(back, priv, 32);
    assert_int_equal(neo_pubkey_from_privkey(priv, pub, &e), 0);
    neo_verification_script(pub, vs);
    neo_script_hash(vs, sizeof vs, h);
    neo_hash_to_display(h, 20, disp);
    assert_string_equal(disp, "0x902e0d38da5e513b6d07c1c55b85e77d3dce8063");
    neo_address_from_script_hash(h, addr);
    assert_string_equal(addr, "NUz6PKTAM7NbPJzkKJFNay3VckQtcDkgWo");
}

static void test_wif_rejects_bad_checksum_prefix_and_range(void **state) {
    (void)state;
    uint8_t priv[32], raw[34];
    char wif[64];
    err_t e = {0};
    /* one character changed: checksum must catch it */
    assert_int_equal(
        neo_wif_decode("KwFfNUhSDaASSAwtG7ssQM1uVX8RgX5GHWnnLfhfiQDigjioWXHJ", priv, &e), -1);
    assert_non_null(strstr(e.msg, "checksum"));
    assert_int_equal(
        neo_wif_decode("KwFfNUhSDaASSAwtG7ssQM1uVX8RgX5GHWnnLfhfiQDigjioWXH0", priv, &e), -1);
    assert_non_null(strstr(e.msg, "base58"));
    assert_int_equal(neo_wif_decode("", priv, &e), -1);
    /* uncompressed-key WIF (no 0x01 flag) is not a Neo N3 WIF */
    raw[0] = 0x80;
    memset(raw + 1, 1, 32);
    assert_int_equal(neo_base58check_encode(raw, 33, wif, sizeof wif, &e), 0);
    assert_int_equal(neo_wif_decode(wif, priv, &e), -1);
    assert_int_equal(e.code, R3E_EINVAL);
    /* key 0 and key >= n are not private keys */
    memset(raw + 1, 0, 32);
    raw[33] = 0x01;
    assert_int_equal(neo_base58check_encode(raw, 34, wif, sizeof wif, &e), 0);
    assert_int_equal(neo_wif_decode(wif, priv, &e), -1);
    memset(priv, 0xff, 32);
    assert_int_equal(neo_wif_encode(priv, wif, &e), -1);
    assert_non_null(strstr(e.msg, "private key"));
}

static void test_address_rejects_wrong_version_checksum_and_length(void **state) {
    (void)state;
    uint8_t h[20], raw[21];
    char legacy[64];
    err_t e = {0};
    assert_int_equal(neo_address_to_script_hash("NUz6PKTAM7NbPJzkKJFNay3VckQtcDkgWo", h, &e), 0);
    assert_int_equal(neo_address_to_script_hash("NUz6PKTAM7NbPJzkKJFNay3VckQtcDkgWp", h, &e), -1);
    assert_non_null(strstr(e.msg, "checksum"));
    assert_int_equal(neo_address_to_script_hash("NUz6PKTAM7NbPJzkKJFNay3VckQtcDkgW", h, &e), -1);
    assert_int_equal(neo_address_to_script_hash(NULL, h, &e), -1);
    raw[0] = 0x17; /* Neo Legacy */
    memset(raw + 1, 7, 20);
    assert_int_equal(neo_base58check_encode(raw, 21, legacy, sizeof legacy, &e), 0);
    assert_int_equal(neo_address_to_script_hash(legacy, h, &e), -1);
    assert_non_null(strstr(e.msg, "version"));
}

static void test_pubkey_check_rejects_off_curve_and_uncompressed(void **state) {
    (void)state;
    uint8_t pub[33];
    err_t e = {0};
    hex_to("026ff03b949241ce1dadd43519e6960e0a85b41a69a05c328103aa2bce1594ca16", pub, 33);
    assert_int_equal(neo_pubkey_check(pub, &e), 0);
    pub[0] = 0x04;
    assert_int_equal(neo_pubkey_check(pub, &e), -1);
    memset(pub + 1, 0xff, 32); /* X >= p */
    pub[0] = 0x02;
    assert_int_equal(neo_pubkey_check(pub, &e), -1);
}

static void test_sign_verify_roundtrip_and_tamper(void **state) {
    (void)state;
    uint8_t priv[32], pub[33], sig[64], bad[33];
    const uint8_t msg[] = "hello neo";
    err_t e = {0};
    hex_to(PRIV1, priv, 32);
    assert_int_equal(neo_pubkey_from_privkey(priv, pub, &e), 0);
    assert_int_equal(neo_sign(priv, msg, sizeof msg, sig, &e), 0);
    assert_int_equal(neo_verify(pub, msg, sizeof msg, sig, &e), 1);
    assert_int_equal(neo_verify(pub, msg, sizeof msg - 1, sig, &e), 0);
    sig[5] ^= 1;
    assert_int_equal(neo_verify(pub, msg, sizeof msg, sig, &e), 0);
    memset(sig, 0, 64); /* r = s = 0 is never valid */
    assert_int_equal(neo_verify(pub, msg, sizeof msg, sig, &e), 0);
    memset(bad, 0, sizeof bad);
    assert_int_equal(neo_verify(bad, msg, sizeof msg, sig, &e), -1);
    /* a parsed key signs the same way and reports the same public key */
    neo_key_t *k = neo_key_new(priv, &e);
    assert_non_null(k);
    assert_memory_equal(neo_key_pubkey(k), pub, 33);
    assert_int_equal(neo_key_sign(k, msg, sizeof msg, sig, &e), 0);
    assert_int_equal(neo_verify(pub, msg, sizeof msg, sig, &e), 1);
    neo_key_free(k);
    neo_key_free(NULL);
    memset(priv, 0, sizeof priv);
    assert_null(neo_key_new(priv, &e));
}

static void test_multisig_rejects_bad_threshold(void **state) {
    (void)state;
    uint8_t pubs[2][33];
    neo_buf_t b = {0};
    err_t e = {0};
    hex_to("026ff03b949241ce1dadd43519e6960e0a85b41a69a05c328103aa2bce1594ca16", pubs[0], 33);
    memcpy(pubs[1], pubs[0], 33);
    assert_int_equal(neo_multisig_script(3, (const uint8_t(*)[33])pubs, 2, &b, &e), -1);
    assert_int_equal(neo_multisig_script(0, (const uint8_t(*)[33])pubs, 2, &b, &e), -1);
    pubs[1][0] = 0x05;
    assert_int_equal(neo_multisig_script(1, (const uint8_t(*)[33])pubs, 2, &b, &e), -1);
    assert_int_equal(b.len, 0);
    neo_buf_free(&b);
}

/* ---- script builder ------------------------------------------------------------------- */

static void push_dec(const char *dec, const char *want) {
    neo_buf_t b = {0};
    err_t e = {0};
    assert_int_equal(neo_sb_push_int_dec(&b, dec, &e), 0);
    assert_buf_hex(&b, want);
    neo_buf_free(&b);
}

static void test_integer_pushes_use_smallest_opcode(void **state) {
    (void)state;
    push_dec("0", "10");
    push_dec("-1", "0f");
    push_dec("16", "20");
    push_dec("17", "0011");
    push_dec("-2", "00fe");
    push_dec("128", "018000");
    push_dec("-129", "017fff");
    push_dec("65536", "0200000100");
    push_dec("-9223372036854775808", "030000000000000080");
    push_dec("9223372036854775808", "040000000000000080"
                                    "0000000000000000");
    push_dec("57896044618658097711785492504343953926634992332820282019728792003956564819967",
             "05ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f");
}

static void test_integer_push_rejects_garbage_and_overflow(void **state) {
    (void)state;
    neo_buf_t b = {0};
    err_t e = {0};
    assert_int_equal(neo_sb_push_int_dec(&b, "", &e), -1);
    assert_int_equal(neo_sb_push_int_dec(&b, "-", &e), -1);
    assert_int_equal(neo_sb_push_int_dec(&b, "12a", &e), -1);
    assert_int_equal(neo_sb_push_int_dec(&b, "1.5", &e), -1);
    assert_int_equal(neo_sb_push_int_dec(&b, NULL, &e), -1);
    /* 2^255 needs 33 bytes of two's complement */
    assert_int_equal(
        neo_sb_push_int_dec(
            &b, "57896044618658097711785492504343953926634992332820282019728792003956564819968",
            &e),
        -1);
    assert_non_null(strstr(e.msg, "PUSHINT256"));
    assert_int_equal(b.len, 0);
    neo_buf_free(&b);
}

static void test_pushdata_widths_and_syscall_ids(void **state) {
    (void)state;
    static uint8_t big[65536];
    neo_buf_t b = {0};
    err_t e = {0};
    assert_int_equal(neo_sb_push_bytes(&b, big, 255, &e), 0);
    assert_int_equal(b.data[0], NEO_OP_PUSHDATA1);
    assert_int_equal(b.data[1], 255);
    b.len = 0;
    assert_int_equal(neo_sb_push_bytes(&b, big, 256, &e), 0);
    assert_int_equal(b.data[0], NEO_OP_PUSHDATA2);
    assert_int_equal(b.data[1] | b.data[2] << 8, 256);
    b.len = 0;
    assert_int_equal(neo_sb_push_bytes(&b, big, sizeof big, &e), 0);
    assert_int_equal(b.data[0], NEO_OP_PUSHDATA4);
    assert_int_equal(b.len, 5 + sizeof big);
    b.len = 0;
    neo_sb_syscall(&b, "System.Contract.Call");
    assert_buf_hex(&b, "41627d5b52");
    assert_int_equal(neo_interop_id("System.Crypto.CheckSig"), 0x27b3e756u);
    b.len = 0;
    uint8_t h[20] = {0};
    assert_int_equal(neo_sb_contract_call(&b, h, "", NEO_CALL_ALL, 0, &e), -1);
    assert_int_equal(neo_sb_contract_call(&b, h, "x", 0x10, 0, &e), -1);
    neo_buf_free(&b);
}

/* ---- transactions --------------------------------------------------------------------- */

typedef struct {
    neo_signer_t signer;
    neo_attr_t attrs[3];
    uint8_t script[3];
    uint8_t inv[66], vs[40];
    neo_witness_t w;
    neo_tx_t tx;
} fixture_t;

static void fixture_init(fixture_t *f) {
    memset(f, 0, sizeof *f);
    memset(f->signer.account, 0xab, 20);
    f->signer.scopes = NEO_SCOPE_CALLED_BY_ENTRY;
    f->script[0] = 0x11;
    f->script[1] = 0x40; /* PUSH1 RET */
    f->w = (neo_witness_t){f->inv, sizeof f->inv, f->vs, sizeof f->vs};
    f->tx = (neo_tx_t){.nonce = 7,
                       .system_fee = 100,
                       .network_fee = 200,
                       .valid_until_block = 1000,
                       .signers = &f->signer,
                       .nsigners = 1,
                       .script = f->script,
                       .script_len = 2,
                       .witnesses = &f->w,
                       .nwitnesses = 1};
}

static void test_tx_roundtrip_and_every_truncation_fails_cleanly(void **state) {
    (void)state;
    fixture_t f;
    fixture_init(&f);
    f.attrs[0].type = NEO_ATTR_NOT_VALID_BEFORE;
    f.attrs[0].height = 0x01020304;
    f.attrs[1].type = NEO_ATTR_CONFLICTS;
    memset(f.attrs[1].hash, 0x5a, 32);
    f.attrs[2].type = NEO_ATTR_CONFLICTS; /* Conflicts may repeat */
    f.tx.attrs = f.attrs;
    f.tx.nattrs = 3;
    neo_buf_t b = {0}, again = {0};
    err_t e = {0};
    assert_int_equal(neo_tx_serialize(&f.tx, true, &b, &e), 0);
    arena_t *a = arena_create(0);
    neo_tx_t back;
    assert_int_equal(neo_tx_deserialize(a, b.data, b.len, true, &back, &e), 0);
    assert_int_equal(back.attrs[0].height, 0x01020304);
    assert_int_equal(neo_tx_serialize(&back, true, &again, &e), 0);
    assert_int_equal(again.len, b.len);
    assert_memory_equal(again.data, b.data, b.len);
    /* the JSON form carries NotValidBefore/Conflicts too */
    json_t *j = neo_tx_to_json(&back);
    neo_tx_t fromj;
    again.len = 0;
    assert_int_equal(neo_tx_from_json(a, j, &fromj, &e), 0);
    assert_int_equal(neo_tx_serialize(&fromj, true, &again, &e), 0);
    assert_int_equal(again.len, b.len);
    assert_memory_equal(again.data, b.data, b.len);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(j, "attributes"), 0), "type")),
                        "NotValidBefore");
    json_decref(j);
    for (size_t n = 0; n < b.len; n++) {
        assert_int_equal(neo_tx_deserialize(a, b.data, n, true, &back, &e), -1);
        assert_int_equal(e.code, R3E_EINVAL);
    }
    uint8_t *longer = malloc(b.len + 1);
    memcpy(longer, b.data, b.len);
    longer[b.len] = 0;
    assert_int_equal(neo_tx_deserialize(a, longer, b.len + 1, true, &back, &e), -1);
    assert_non_null(strstr(e.msg, "trailing"));
    free(longer);
    arena_destroy(a);
    neo_buf_free(&b);
    neo_buf_free(&again);
}

static void expect_invalid(neo_tx_t *tx, const char *needle) {
    neo_buf_t b = {0};
    err_t e = {0};
    assert_int_equal(neo_tx_serialize(tx, true, &b, &e), -1);
    if (!strstr(e.msg, needle)) fail_msg("error \"%s\" lacks \"%s\"", e.msg, needle);
    assert_int_equal(b.len, 0);
    neo_buf_free(&b);
}

static void test_tx_rejects_invalid_scopes_and_signers(void **state) {
    (void)state;
    fixture_t f;
    fixture_init(&f);
    f.signer.scopes = 0x02;
    expect_invalid(&f.tx, "invalid witness scope");
    f.signer.scopes = NEO_SCOPE_GLOBAL | NEO_SCOPE_CALLED_BY_ENTRY;
    expect_invalid(&f.tx, "Global");
    f.signer.scopes = NEO_SCOPE_CALLED_BY_ENTRY;
    f.tx.nsigners = 0;
    expect_invalid(&f.tx, "signers");
    neo_signer_t many[17];
    neo_witness_t ws[17];
    for (int i = 0; i < 17; i++) {
        many[i] = f.signer;
        many[i].account[0] = (uint8_t)i;
        ws[i] = f.w;
    }
    f.tx.signers = many;
    f.tx.witnesses = ws;
    f.tx.nsigners = f.tx.nwitnesses = 17;
    expect_invalid(&f.tx, "signers");
    f.tx.nsigners = f.tx.nwitnesses = 2;
    many[1].account[0] = 0;
    expect_invalid(&f.tx, "duplicate signer");
    fixture_init(&f);
    f.tx.nwitnesses = 0;
    expect_invalid(&f.tx, "witnesses");
}

static void test_tx_rejects_bad_witness_rules(void **state) {
    (void)state;
    fixture_t f;
    fixture_init(&f);
    neo_condition_t leaf = {.type = NEO_COND_CALLED_BY_ENTRY};
    neo_condition_t l1 = {.type = NEO_COND_NOT, .items = &leaf, .nitems = 1};
    neo_condition_t l2 = {.type = NEO_COND_AND, .items = &l1, .nitems = 1};
    neo_condition_t l3 = {.type = NEO_COND_OR, .items = &l2, .nitems = 1};
    neo_rule_t rule = {.action = 1, .condition = l2};
    f.signer.scopes = NEO_SCOPE_WITNESS_RULES;
    f.signer.rules = &rule;
    f.signer.nrules = 1;
    neo_buf_t b = {0};
    err_t e = {0};
    assert_int_equal(neo_tx_serialize(&f.tx, true, &b, &e), 0); /* depth 2 is allowed */
    neo_buf_free(&b);
    rule.condition = l3;
    expect_invalid(&f.tx, "nested deeper");
    rule.condition = (neo_condition_t){.type = NEO_COND_AND, .nitems = 0};
    expect_invalid(&f.tx, "And/Or");
    rule.condition = leaf;
    rule.action = 2;
    expect_invalid(&f.tx, "action");
    rule.action = 0;
    rule.condition = (neo_condition_t){.type = 0x77};
    expect_invalid(&f.tx, "unknown type");
    f.signer.scopes = NEO_SCOPE_CALLED_BY_ENTRY;
    rule.condition = leaf;
    expect_invalid(&f.tx, "without WitnessRules");
}

static void test_tx_rejects_oversized_script_and_tx(void **state) {
    (void)state;
    fixture_t f;
    fixture_init(&f);
    uint8_t *big = calloc(1, 70000);
    f.tx.script = big;
    f.tx.script_len = 65536;
    expect_invalid(&f.tx, "script");
    f.tx.script_len = 65000;
    f.attrs[0] = (neo_attr_t){.type = NEO_ATTR_ORACLE_RESPONSE, .result = big, .result_len = 40000};
    f.tx.attrs = f.attrs;
    f.tx.nattrs = 1;
    neo_buf_t b = {0};
    err_t e = {0};
    assert_int_equal(neo_tx_serialize(&f.tx, true, &b, &e), -1);
    assert_int_equal(e.code, R3E_ETOOBIG);
    assert_int_equal(b.len, 0);
    f.attrs[0].result_len = 10;
    f.attrs[0].oracle_code = 0x14; /* NotFound with a result */
    expect_invalid(&f.tx, "failure code");
    f.attrs[0].oracle_code = 0x13;
    expect_invalid(&f.tx, "unknown code");
    f.attrs[0] = (neo_attr_t){.type = NEO_ATTR_HIGH_PRIORITY};
    f.attrs[1] = f.attrs[0];
    f.tx.nattrs = 2;
    expect_invalid(&f.tx, "twice");
    neo_buf_free(&b);
    free(big);
}

static void test_tx_parser_rejects_noncanonical_and_bad_bytes(void **state) {
    (void)state;
    fixture_t f;
    fixture_init(&f);
    neo_buf_t b = {0};
    err_t e = {0};
    assert_int_equal(neo_tx_serialize(&f.tx, false, &b, &e), 0);
    arena_t *a = arena_create(0);
    neo_tx_t back;
    /* header is 25 bytes; then signer count, account (20), scope */
    uint8_t *p = malloc(b.len + 2);
    memcpy(p, b.data, b.len);
    p[25 + 1 + 20] = 0x81; /* Global | CalledByEntry */
    assert_int_equal(neo_tx_deserialize(a, p, b.len, false, &back, &e), -1);
    assert_non_null(strstr(e.msg, "Global"));
    memcpy(p, b.data, b.len);
    p[0] = 1; /* version */
    assert_int_equal(neo_tx_deserialize(a, p, b.len, false, &back, &e), -1);
    assert_non_null(strstr(e.msg, "version"));
    /* signer count 1 written as 0xfd 0x01 0x00 is non-canonical */
    memcpy(p, b.data, 25);
    p[25] = 0xfd;
    p[26] = 1;
    p[27] = 0;
    memcpy(p + 28, b.data + 26, b.len - 26);
    assert_int_equal(neo_tx_deserialize(a, p, b.len + 2, false, &back, &e), -1);
    assert_non_null(strstr(e.msg, "canonical"));
    /* negative system fee */
    memcpy(p, b.data, b.len);
    p[5 + 7] = 0x80;
    assert_int_equal(neo_tx_deserialize(a, p, b.len, false, &back, &e), -1);
    assert_non_null(strstr(e.msg, "negative"));
    free(p);
    arena_destroy(a);
    neo_buf_free(&b);
}

static void test_tx_sign_verify_and_hash(void **state) {
    (void)state;
    fixture_t f;
    fixture_init(&f);
    uint8_t priv[32], pub[33], sig[64], h[32], data[36];
    err_t e = {0};
    hex_to(PRIV1, priv, 32);
    assert_int_equal(neo_pubkey_from_privkey(priv, pub, &e), 0);
    assert_int_equal(neo_tx_sign(&f.tx, NEO_TESTNET_MAGIC, priv, sig, &e), 0);
    assert_int_equal(neo_tx_verify(&f.tx, NEO_TESTNET_MAGIC, pub, sig, &e), 1);
    assert_int_equal(neo_tx_verify(&f.tx, NEO_MAINNET_MAGIC, pub, sig, &e), 0);
    assert_int_equal(neo_tx_hash(&f.tx, h, &e), 0);
    assert_int_equal(neo_tx_sign_data(&f.tx, NEO_TESTNET_MAGIC, data, &e), 0);
    assert_memory_equal(data + 4, h, 32);
    assert_int_equal(data[0] | data[1] << 8 | data[2] << 16 | (uint32_t)data[3] << 24,
                     NEO_TESTNET_MAGIC);
}

/* The node's fee: size with placeholder signatures x feePerByte + verification cost x
 * execFeeFactor. Single-sig agrees with neon-js (1143520); multisig follows the node's
 * MultiSignatureContractCost (CheckSig priced per key), which neon-js 5.9.0 does not. */
static void test_network_fee_single_and_multisig(void **state) {
    (void)state;
    fixture_t f;
    fixture_init(&f);
    uint8_t priv[32], pubs[3][33];
    int64_t fee;
    err_t e = {0};
    hex_to(PRIV1, priv, 32);
    assert_int_equal(neo_pubkey_from_privkey(priv, pubs[0], &e), 0);
    neo_verification_script(pubs[0], f.vs);
    f.w.invocation_len = 0; /* ignored: placeholders are used */
    assert_int_equal(neo_tx_network_fee(&f.tx, 1000, 30, &fee, &e), 0);
    assert_int_equal(fee, 1143520);

    for (int i = 0; i < 3; i++) {
        memset(priv, 0, 32);
        priv[31] = (uint8_t)(i + 1);
        assert_int_equal(neo_pubkey_from_privkey(priv, pubs[i], &e), 0);
    }
    neo_buf_t ms = {0};
    assert_int_equal(neo_multisig_script(2, (const uint8_t(*)[33])pubs, 3, &ms, &e), 0);
    assert_int_equal(ms.len, 112);
    f.w.verification = ms.data;
    f.w.verification_len = ms.len;
    /* size 298 bytes; cost 8*(2+3) + 1 + 1 + 0 + 32768*3 = 98346 */
    assert_int_equal(neo_tx_network_fee(&f.tx, 1000, 30, &fee, &e), 0);
    assert_int_equal(fee, 298 * 1000 + 98346 * 30);

    ms.data[ms.len - 1] ^= 1; /* not CheckMultisig any more */
    assert_int_equal(neo_tx_network_fee(&f.tx, 1000, 30, &fee, &e), -1);
    assert_non_null(strstr(e.msg, "not a standard"));
    f.tx.nwitnesses = 0;
    assert_int_equal(neo_tx_network_fee(&f.tx, 1000, 30, &fee, &e), -1);
    assert_int_equal(neo_tx_network_fee(&f.tx, -1, 30, &fee, &e), -1);
    neo_buf_free(&ms);
}

/* ---- application logs ----------------------------------------------------------------- */

static json_t *decode(const char *text, err_t *e) {
    json_t *in = json_loads(text, 0, NULL);
    assert_non_null(in);
    json_t *out = neo_stack_item_decode(in, e);
    json_decref(in);
    return out;
}

static void test_stack_items_decode_every_type(void **state) {
    (void)state;
    err_t e = {0};
    json_t *d =
        decode("{\"type\":\"Struct\",\"value\":["
               "{\"type\":\"Any\"},"
               "{\"type\":\"Boolean\",\"value\":true},"
               "{\"type\":\"Integer\",\"value\":\"-42\"},"
               "{\"type\":\"ByteString\",\"value\":\"aGk=\"},"
               "{\"type\":\"Buffer\",\"value\":\"4rZTInKT6ZxPKQbVNVOrtKZy34Y=\"},"
               "{\"type\":\"Pointer\",\"value\":12},"
               "{\"type\":\"InteropInterface\"},"
               "{\"type\":\"Map\",\"value\":[{\"key\":{\"type\":\"ByteString\",\"value\":\"YQ==\"},"
               "\"value\":{\"type\":\"Integer\",\"value\":\"1\"}}]}]}",
               &e);
    assert_non_null(d);
    char *s = json_dumps(d, JSON_COMPACT);
    assert_string_equal(
        s, "[null,true,\"-42\",{\"type\":\"ByteString\",\"hex\":\"6869\",\"text\":\"hi\"},"
           "{\"type\":\"Buffer\",\"hex\":\"e2b653227293e99c4f2906d53553abb4a672df86\","
           "\"address\":\"NgaiKFjurmNmiRzDRQGs44yzByXuSkdGPF\"},12,"
           "{\"type\":\"InteropInterface\"},[{\"key\":{\"type\":\"ByteString\",\"hex\":"
           "\"61\",\"text\":\"a\"},\"value\":\"1\"}]]");
    free(s);
    json_decref(d);
}

static void test_stack_items_reject_malformed(void **state) {
    (void)state;
    err_t e = {0};
    assert_null(decode("{\"type\":\"Bogus\"}", &e));
    assert_non_null(strstr(e.msg, "unknown type"));
    assert_null(decode("{\"type\":\"ByteString\",\"value\":\"!!!\"}", &e));
    assert_null(decode("{\"type\":\"Integer\",\"value\":\"12x\"}", &e));
    assert_null(decode("{\"type\":\"Array\",\"value\":{}}", &e));
    assert_null(decode("{\"value\":1}", &e));
    /* deep nesting is bounded */
    static char deep[4000];
    deep[0] = 0;
    for (int i = 0; i < 80; i++)
        strcat(deep, "{\"type\":\"Array\",\"value\":[");
    strcat(deep, "{\"type\":\"Any\"}");
    for (int i = 0; i < 80; i++)
        strcat(deep, "]}");
    assert_null(decode(deep, &e));
    assert_non_null(strstr(e.msg, "deeper"));
}

static void test_stack_item_integer_reads_bytestrings_as_neovm_does(void **state) {
    (void)state;
    char out[96];
    err_t e = {0};
    json_t *i = json_loads("{\"type\":\"ByteString\",\"value\":\"AAE=\"}", 0, NULL);
    assert_int_equal(neo_stack_item_integer(i, out, sizeof out, &e), 0);
    assert_string_equal(out, "256");
    json_decref(i);
    i = json_loads("{\"type\":\"ByteString\",\"value\":\"/w==\"}", 0, NULL);
    assert_int_equal(neo_stack_item_integer(i, out, sizeof out, &e), 0);
    assert_string_equal(out, "-1");
    json_decref(i);
    i = json_loads("{\"type\":\"ByteString\",\"value\":\"\"}", 0, NULL);
    assert_int_equal(neo_stack_item_integer(i, out, sizeof out, &e), 0);
    assert_string_equal(out, "0");
    char addr[NEO_ADDRESS_LEN + 1];
    assert_int_equal(neo_stack_item_address(i, addr, &e), -1); /* 0 bytes is no address */
    json_decref(i);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_account_vector_matches_neon_js),
        cmocka_unit_test(test_wif_rejects_bad_checksum_prefix_and_range),
        cmocka_unit_test(test_address_rejects_wrong_version_checksum_and_length),
        cmocka_unit_test(test_pubkey_check_rejects_off_curve_and_uncompressed),
        cmocka_unit_test(test_sign_verify_roundtrip_and_tamper),
        cmocka_unit_test(test_multisig_rejects_bad_threshold),
        cmocka_unit_test(test_integer_pushes_use_smallest_opcode),
        cmocka_unit_test(test_integer_push_rejects_garbage_and_overflow),
        cmocka_unit_test(test_pushdata_widths_and_syscall_ids),
        cmocka_unit_test(test_tx_roundtrip_and_every_truncation_fails_cleanly),
        cmocka_unit_test(test_tx_rejects_invalid_scopes_and_signers),
        cmocka_unit_test(test_tx_rejects_bad_witness_rules),
        cmocka_unit_test(test_tx_rejects_oversized_script_and_tx),
        cmocka_unit_test(test_tx_parser_rejects_noncanonical_and_bad_bytes),
        cmocka_unit_test(test_tx_sign_verify_and_hash),
        cmocka_unit_test(test_network_fee_single_and_multisig),
        cmocka_unit_test(test_stack_items_decode_every_type),
        cmocka_unit_test(test_stack_items_reject_malformed),
        cmocka_unit_test(test_stack_item_integer_reads_bytestrings_as_neovm_does),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
