/* Ethereum primitives against published vectors (Keccak, EIP-55, RLP wiki examples, EIP-155,
 * EIP-712 "Mail") and against bad input: every malformed value must come back as an error
 * with a message, never a crash. The random differential test against ethers is
 * tests/e2e/eth_diff.test.mjs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "chain/eth/eth.h"

static void assert_hex(const uint8_t *p, size_t n, const char *want) {
    char *s = eth_hex(p, n);
    assert_string_equal(s, want);
    free(s);
}

static void test_keccak_known_vectors(void **state) {
    (void)state;
    uint8_t h[32];
    eth_keccak256("", 0, h);
    assert_hex(h, 32, "0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
    eth_id("abc", h);
    assert_hex(h, 32, "0x4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45");
    eth_id("Transfer(address,address,uint256)", h);
    assert_hex(h, 32, "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef");
}

static void test_eip55_spec_examples(void **state) {
    (void)state;
    static const char *const good[] = {
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
        "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB", "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb"};
    for (size_t i = 0; i < 4; i++) {
        uint8_t a[20];
        char out[43], lower[43];
        err_t err;
        strcpy(lower, good[i]);
        for (char *c = lower + 2; *c; c++)
            if (*c >= 'A' && *c <= 'F') *c = (char)(*c + 32);
        assert_int_equal(eth_address_parse(lower, a, &err), 0);
        eth_address_checksum(a, out);
        assert_string_equal(out, good[i]);
        assert_int_equal(eth_address_parse(good[i], a, &err), 0);
    }
}

static void test_eip55_rejects_bad_checksum_and_shapes(void **state) {
    (void)state;
    uint8_t a[20];
    err_t err;
    assert_int_equal(eth_address_parse("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD", a, &err), -1);
    assert_non_null(strstr(err.msg, "checksum"));
    assert_int_equal(eth_address_parse("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beae", a, &err), -1);
    assert_int_equal(eth_address_parse("5aaeb6053f3e94c9b9a09f33669435e7ef1beaed00", a, &err), -1);
    assert_int_equal(eth_address_parse("0xzaaeb6053f3e94c9b9a09f33669435e7ef1beaed", a, &err), -1);
    assert_int_equal(eth_address_parse(NULL, a, &err), -1);
}

static void rlp_roundtrip(const eth_rlp_t *item, const char *want) {
    eth_buf_t b = {0};
    eth_rlp_encode(&b, item);
    assert_hex(b.data, b.len, want);
    arena_t *a = arena_create(0);
    eth_rlp_t back;
    err_t err;
    assert_int_equal(eth_rlp_decode(a, b.data, b.len, &back, &err), 0);
    eth_buf_t again = {0};
    eth_rlp_encode(&again, &back);
    assert_int_equal(again.len, b.len);
    assert_memory_equal(again.data, b.data, b.len);
    eth_buf_free(&again);
    eth_buf_free(&b);
    arena_destroy(a);
}

static void test_rlp_wiki_examples(void **state) {
    (void)state;
    arena_t *a = arena_create(0);
    eth_rlp_t dog = eth_rlp_bytes((const uint8_t *)"dog", 3);
    rlp_roundtrip(&dog, "0x83646f67");
    eth_rlp_t l = eth_rlp_list(a, 2);
    l.items[0] = eth_rlp_bytes((const uint8_t *)"cat", 3);
    l.items[1] = dog;
    rlp_roundtrip(&l, "0xc88363617483646f67");
    eth_rlp_t empty = eth_rlp_bytes(NULL, 0), elist = eth_rlp_list(a, 0);
    rlp_roundtrip(&empty, "0x80");
    rlp_roundtrip(&elist, "0xc0");
    eth_rlp_t zero = eth_rlp_u64(a, 0), fifteen = eth_rlp_u64(a, 15), k = eth_rlp_u64(a, 1024);
    rlp_roundtrip(&zero, "0x80");
    rlp_roundtrip(&fifteen, "0x0f");
    rlp_roundtrip(&k, "0x820400");
    /* set-theoretic three: [ [], [[]], [ [], [[]] ] ] */
    eth_rlp_t three = eth_rlp_list(a, 3);
    three.items[0] = eth_rlp_list(a, 0);
    three.items[1] = eth_rlp_list(a, 1);
    three.items[1].items[0] = eth_rlp_list(a, 0);
    three.items[2] = eth_rlp_list(a, 2);
    three.items[2].items[0] = eth_rlp_list(a, 0);
    three.items[2].items[1] = three.items[1];
    rlp_roundtrip(&three, "0xc7c0c1c0c3c0c1c0");
    const char *lorem = "Lorem ipsum dolor sit amet, consectetur adipisicing elit";
    eth_rlp_t lo = eth_rlp_bytes((const uint8_t *)lorem, strlen(lorem));
    eth_buf_t b = {0};
    eth_rlp_encode(&b, &lo);
    assert_int_equal(b.data[0], 0xb8);
    assert_int_equal(b.data[1], 56);
    eth_buf_free(&b);
    arena_destroy(a);
}

static void expect_rlp_error(const char *hex, const char *fragment) {
    uint8_t *p;
    size_t n;
    err_t err;
    assert_int_equal(eth_hex_decode(hex, &p, &n, "test", &err), 0);
    arena_t *a = arena_create(0);
    eth_rlp_t it;
    assert_int_equal(eth_rlp_decode(a, p, n, &it, &err), -1);
    if (!strstr(err.msg, fragment))
        fail_msg("rlp %s: got \"%s\", want \"%s\"", hex, err.msg, fragment);
    arena_destroy(a);
    free(p);
}

static void test_rlp_rejects_malformed(void **state) {
    (void)state;
    expect_rlp_error("0x", "empty");
    expect_rlp_error("0x8100", "must not be wrapped");       /* single byte < 0x80 wrapped */
    expect_rlp_error("0xb80100", "non-canonical long form"); /* long form for length 1 */
    expect_rlp_error("0xb9003800", "leading zero");          /* length with leading zero */
    expect_rlp_error("0x83646f", "truncated");               /* 3 bytes announced, 2 given */
    expect_rlp_error("0x83646f6700", "trailing");            /* extra byte after the item */
    expect_rlp_error("0xc483646f", "truncated");             /* list item runs past list */
    expect_rlp_error("0xbf", "truncated");                   /* length-of-length missing */
    expect_rlp_error("0xf8", "truncated");
    expect_rlp_error("0xbfffffffffffffffff00", "truncated"); /* absurd length */
}

/* EIP-155's worked example: key 0x46…46, nonce 9, 20 gwei, 21000 gas, to 0x35…35, 1 ether. */
static void test_eip155_spec_example(void **state) {
    (void)state;
    uint8_t priv[32], h[32], from[20];
    memset(priv, 0x46, 32);
    eth_tx_t tx = {.type = 0, .chain_id = 1, .nonce = 9, .has_to = true};
    eth_u256_from_u64(20000000000ull, &tx.gas_price);
    eth_u256_from_u64(21000, &tx.gas_limit);
    eth_u256_from_u64(1000000000000000000ull, &tx.value);
    memset(tx.to, 0x35, 20);
    err_t err;
    eth_buf_t u = {0}, s = {0};
    assert_int_equal(eth_tx_serialize(&tx, false, &u, &err), 0);
    assert_hex(u.data, u.len,
               "0xec098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a7640"
               "00080018080");
    assert_int_equal(eth_tx_signing_hash(&tx, h, &err), 0);
    assert_hex(h, 32, "0xdaf5a779ae972f972197303d7b574746c7ef83eadac0f2791ad23db92e4c8e53");
    assert_int_equal(eth_tx_sign(&tx, priv, &err), 0);
    assert_int_equal(eth_tx_serialize(&tx, true, &s, &err), 0);
    assert_hex(s.data, s.len,
               "0xf86c098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a7640"
               "0008025a028ef61340bd939bc2195fe537567866003e1a15d3c71ff63e1590620aa636276a067cbe9d8"
               "997f761aecb703304b3800ccf555c9f3dc64214b297fb1966a3b6d83");
    arena_t *a = arena_create(0);
    eth_tx_t parsed;
    assert_int_equal(eth_tx_parse(a, s.data, s.len, &parsed, &err), 0);
    assert_int_equal(parsed.chain_id, 1);
    assert_int_equal(parsed.nonce, 9);
    assert_int_equal(eth_tx_recover_sender(&parsed, from, &err), 0);
    char addr[43];
    eth_address_checksum(from, addr);
    assert_string_equal(addr, "0x9d8A62f656a8d1615C1294fd71e9CFb3E4855A4F");
    arena_destroy(a);
    eth_buf_free(&u);
    eth_buf_free(&s);
}

static void expect_tx_error(const char *hex, const char *fragment) {
    uint8_t *p;
    size_t n;
    err_t err;
    assert_int_equal(eth_hex_decode(hex, &p, &n, "test", &err), 0);
    arena_t *a = arena_create(0);
    eth_tx_t tx;
    assert_int_equal(eth_tx_parse(a, p, n, &tx, &err), -1);
    if (!strstr(err.msg, fragment))
        fail_msg("tx %s: got \"%s\", want \"%s\"", hex, err.msg, fragment);
    arena_destroy(a);
    free(p);
}

static void test_tx_parse_rejects_malformed(void **state) {
    (void)state;
    expect_tx_error("0x", "empty");
    expect_tx_error("0x03c0", "unsupported type");
    expect_tx_error("0xc0", "6 or 9 fields");
    expect_tx_error("0x02c0", "9 or 12 fields");
    /* nonce encoded with a leading zero byte */
    expect_tx_error("0xc88200098080808080", "leading zero");
    /* to of 2 bytes */
    expect_tx_error("0xc80980808212348080", "20 bytes");
    /* v = 30 is neither 27/28 nor EIP-155 */
    expect_tx_error("0xc90980808080801e0101", "non-canonical legacy v");
}

static void test_signature_rejects_high_s(void **state) {
    (void)state;
    uint8_t priv[32], digest[32], addr[20];
    memset(priv, 0x11, 32);
    memset(digest, 0x22, 32);
    eth_sig_t sig;
    err_t err;
    assert_int_equal(eth_sign_digest(priv, digest, &sig, &err), 0);
    assert_int_equal(eth_recover_address(digest, &sig, addr, &err), 0);
    /* s' = n - s is the same signature's malleable twin: must be refused (EIP-2). */
    static const uint8_t n[32] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                  0xff, 0xff, 0xff, 0xff, 0xfe, 0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48,
                                  0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41};
    eth_sig_t high = sig;
    int borrow = 0;
    for (int i = 31; i >= 0; i--) {
        int d = n[i] - sig.s[i] - borrow;
        borrow = d < 0;
        high.s[i] = (uint8_t)(d + (borrow ? 256 : 0));
    }
    high.y_parity ^= 1;
    assert_int_equal(eth_recover_address(digest, &high, addr, &err), -1);
    assert_non_null(strstr(err.msg, "non-canonical s"));
    eth_sig_t zero = sig;
    memset(zero.r, 0, 32);
    assert_int_equal(eth_recover_address(digest, &zero, addr, &err), -1);
    uint8_t bad_priv[32] = {0};
    assert_int_equal(eth_sign_digest(bad_priv, digest, &sig, &err), -1);
    memset(bad_priv, 0xff, 32); /* above the curve order */
    assert_int_equal(eth_key_address(bad_priv, addr, &err), -1);
}

static void test_hex_and_integer_bad_input(void **state) {
    (void)state;
    uint8_t *p;
    size_t n;
    err_t err;
    eth_u256_t v;
    assert_int_equal(eth_hex_decode("0x123", &p, &n, "data", &err), -1);
    assert_non_null(strstr(err.msg, "odd-length"));
    assert_int_equal(eth_hex_decode("123456", &p, &n, "data", &err), -1);
    assert_int_equal(eth_hex_decode("0x12zz", &p, &n, "data", &err), -1);
    assert_int_equal(eth_u256_parse("256", 8, false, &v, "x", &err), -1);
    assert_non_null(strstr(err.msg, "out of range"));
    assert_int_equal(eth_u256_parse("255", 8, false, &v, "x", &err), 0);
    assert_int_equal(eth_u256_parse("-1", 8, false, &v, "x", &err), -1);
    assert_int_equal(eth_u256_parse("-129", 8, true, &v, "x", &err), -1);
    assert_int_equal(eth_u256_parse("128", 8, true, &v, "x", &err), -1);
    assert_int_equal(eth_u256_parse("-128", 8, true, &v, "x", &err), 0);
    char dec[80];
    eth_u256_to_dec(&v, true, dec);
    assert_string_equal(dec, "-128");
    assert_int_equal(
        eth_u256_parse("1157920892373161954235709850086879078532699846656405640394575840"
                       "07913129639936",
                       256, false, &v, "x", &err),
        -1); /* 2^256 */
    assert_int_equal(eth_u256_parse("12a", 256, false, &v, "x", &err), -1);
    assert_int_equal(eth_u256_parse("", 256, false, &v, "x", &err), -1);
}

static void test_abi_function_and_event(void **state) {
    (void)state;
    arena_t *a = arena_create(0);
    eth_abi_fragment_t f;
    err_t err;
    assert_int_equal(eth_abi_parse_fragment(a,
                                            "function transfer(address to, uint256 amount) "
                                            "external returns (bool)",
                                            &f, &err),
                     0);
    uint8_t sel[4];
    eth_abi_selector(a, &f, sel);
    assert_hex(sel, 4, "0xa9059cbb");
    json_t *vals = json_pack("[ss]", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "1000");
    eth_buf_t call = {0};
    assert_int_equal(eth_abi_encode_call(a, &f, vals, &call, &err), 0);
    assert_int_equal(call.len, 4 + 64);
    eth_buf_free(&call);
    json_decref(vals);
    /* wrong arity is an error naming both counts */
    vals = json_pack("[s]", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed");
    assert_int_equal(eth_abi_encode_call(a, &f, vals, &call, &err), -1);
    assert_non_null(strstr(err.msg, "expected 2 values, got 1"));
    json_decref(vals);
    eth_buf_free(&call);

    eth_abi_fragment_t ev;
    assert_int_equal(eth_abi_parse_fragment(a,
                                            "event Transfer(address indexed from, address "
                                            "indexed to, uint256 value)",
                                            &ev, &err),
                     0);
    uint8_t t0[32];
    eth_abi_event_topic(a, &ev, t0);
    assert_hex(t0, 32, "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef");
    assert_int_equal(eth_abi_parse_fragment(a, "function f(uint256 indexed x)", &f, &err), -1);
    assert_int_equal(eth_abi_parse_fragment(a, "function f(uint7 x)", &f, &err), -1);
    assert_int_equal(eth_abi_parse_fragment(a, "function f(bytes33 x)", &f, &err), -1);
    assert_int_equal(eth_abi_parse_fragment(a, "function f(uint256 x", &f, &err), -1);
    assert_int_equal(eth_abi_parse_fragment(a, "function f(uint256[0] x)", &f, &err), -1);
    arena_destroy(a);
}

static void test_abi_strict_decode(void **state) {
    (void)state;
    arena_t *a = arena_create(0);
    eth_abi_type_t *t;
    err_t err;
    json_t *out;
    uint8_t w[32] = {0};
    assert_int_equal(eth_abi_parse_type(a, "uint8", &t, &err), 0);
    w[30] = 1; /* 256: dirty bits above uint8 */
    assert_int_equal(eth_abi_decode(&t, 1, w, 32, &out, &err), -1);
    assert_non_null(strstr(err.msg, "dirty"));
    assert_int_equal(eth_abi_parse_type(a, "bool", &t, &err), 0);
    memset(w, 0, 32);
    w[31] = 2;
    assert_int_equal(eth_abi_decode(&t, 1, w, 32, &out, &err), -1);
    assert_int_equal(eth_abi_decode(&t, 1, w, 31, &out, &err), -1); /* short */
    assert_int_equal(eth_abi_parse_type(a, "bytes", &t, &err), 0);
    memset(w, 0xff, 32); /* offset far out of bounds */
    assert_int_equal(eth_abi_decode(&t, 1, w, 32, &out, &err), -1);
    assert_int_equal(eth_abi_parse_type(a, "uint256[]", &t, &err), 0);
    uint8_t arr[64] = {0};
    arr[31] = 32;
    memset(arr + 32, 0x7f, 32); /* length 2^255-ish: must not allocate */
    assert_int_equal(eth_abi_decode(&t, 1, arr, 64, &out, &err), -1);
    /* encoding out-of-range values */
    assert_int_equal(eth_abi_parse_type(a, "int8", &t, &err), 0);
    json_t *v = json_pack("[s]", "-129");
    eth_buf_t b = {0};
    assert_int_equal(eth_abi_encode(&t, 1, v, &b, &err), -1);
    json_decref(v);
    assert_int_equal(eth_abi_parse_type(a, "bytes4", &t, &err), 0);
    v = json_pack("[s]", "0x1234");
    assert_int_equal(eth_abi_encode(&t, 1, v, &b, &err), -1);
    json_decref(v);
    eth_buf_free(&b);
    arena_destroy(a);
}

/* EIP-712's own example (Mail from Cow to Bob) and its published hashes and signature. */
static void test_eip712_spec_mail(void **state) {
    (void)state;
    json_error_t jerr;
    json_t *types = json_loads(
        "{\"Person\":[{\"name\":\"name\",\"type\":\"string\"},{\"name\":\"wallet\",\"type\":"
        "\"address\"}],\"Mail\":[{\"name\":\"from\",\"type\":\"Person\"},{\"name\":\"to\","
        "\"type\":\"Person\"},{\"name\":\"contents\",\"type\":\"string\"}]}",
        0, &jerr);
    json_t *domain =
        json_loads("{\"name\":\"Ether Mail\",\"version\":\"1\",\"chainId\":1,"
                   "\"verifyingContract\":\"0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC\"}",
                   0, &jerr);
    json_t *msg = json_loads(
        "{\"from\":{\"name\":\"Cow\",\"wallet\":\"0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826\"},"
        "\"to\":{\"name\":\"Bob\",\"wallet\":\"0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB\"},"
        "\"contents\":\"Hello, Bob!\"}",
        0, &jerr);
    assert_non_null(types);
    assert_non_null(domain);
    assert_non_null(msg);
    err_t err;
    char *enc;
    assert_int_equal(eth_typed_encode_type(types, "Mail", &enc, &err), 0);
    assert_string_equal(enc,
                        "Mail(Person from,Person to,string contents)Person(string name,address "
                        "wallet)");
    free(enc);
    uint8_t h[32];
    assert_int_equal(eth_typed_hash_struct(types, "Mail", msg, h, &err), 0);
    assert_hex(h, 32, "0xc52c0ee5d84264471806290a3f2c4cecfc5490626bf912d01f240d7a274b371e");
    assert_int_equal(eth_typed_domain_separator(domain, h, &err), 0);
    assert_hex(h, 32, "0xf2cee375fa42b42143804025fc449deafd50cc031ca257e0b194a650a912090f");
    assert_int_equal(eth_typed_hash(domain, types, NULL, msg, h, &err), 0);
    assert_hex(h, 32, "0xbe609aee343fb3c4b28e1df9e632fca64fcfaede20f02e86244efddf30957bd2");
    uint8_t priv[32];
    eth_id("cow", priv);
    eth_sig_t sig;
    assert_int_equal(eth_typed_sign(priv, domain, types, NULL, msg, &sig, &err), 0);
    assert_int_equal(sig.y_parity + 27, 28);
    assert_hex(sig.r, 32, "0x4355c47d63924e8a72e509b65029052eb6c299d53a04e167c5775fd466751c9d");
    assert_hex(sig.s, 32, "0x07299936d304c153f6443dfa05f40ff007d72911b6f72307f996231605b91562");
    /* a missing field and an unknown domain key are errors */
    json_object_del(msg, "contents");
    assert_int_equal(eth_typed_hash(domain, types, NULL, msg, h, &err), -1);
    json_object_set_new(domain, "bogus", json_true());
    assert_int_equal(eth_typed_domain_separator(domain, h, &err), -1);
    json_decref(types);
    json_decref(domain);
    json_decref(msg);
}

static void test_personal_sign_hash(void **state) {
    (void)state;
    uint8_t h[32];
    eth_message_hash((const uint8_t *)"hello", 5, h);
    /* ethers.hashMessage("hello") */
    assert_hex(h, 32, "0x50b2c43fd39106bafbba0da34fc430e1f91e3c96ea2acee2bc34119f92b37750");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keccak_known_vectors),
        cmocka_unit_test(test_eip55_spec_examples),
        cmocka_unit_test(test_eip55_rejects_bad_checksum_and_shapes),
        cmocka_unit_test(test_rlp_wiki_examples),
        cmocka_unit_test(test_rlp_rejects_malformed),
        cmocka_unit_test(test_eip155_spec_example),
        cmocka_unit_test(test_tx_parse_rejects_malformed),
        cmocka_unit_test(test_signature_rejects_high_s),
        cmocka_unit_test(test_hex_and_integer_bad_input),
        cmocka_unit_test(test_abi_function_and_event),
        cmocka_unit_test(test_abi_strict_decode),
        cmocka_unit_test(test_eip712_spec_mail),
        cmocka_unit_test(test_personal_sign_hash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
