/* Byte buffers, strict hex, 256-bit integers and Keccak-256: the pieces every other eth_*
 * file builds on. */
#include "chain/eth/eth.h"

#include <nettle/sha3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void eth_buf_put(eth_buf_t *b, const void *p, size_t n) {
    buf_append(b, p, n);
}

void eth_buf_byte(eth_buf_t *b, uint8_t c) {
    buf_byte(b, c);
}

void eth_buf_free(eth_buf_t *b) {
    buf_free(b);
}

char *eth_hex(const uint8_t *p, size_t n) {
    static const char digits[] = "0123456789abcdef";
    char *s = malloc(2 * n + 3);
    if (!s) abort();
    s[0] = '0';
    s[1] = 'x';
    for (size_t i = 0; i < n; i++) {
        s[2 + 2 * i] = digits[p[i] >> 4];
        s[3 + 2 * i] = digits[p[i] & 15];
    }
    s[2 * n + 2] = '\0';
    return s;
}

static int hex_nibble(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Checks the 0x prefix and the digits; returns the digit count or -1. */
static int hex_check(const char *s, const char *what, bool allow_odd, err_t *err) {
    if (!s) return err_set(err, R3E_EINVAL, "%s: expected a hex string", what);
    if (s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
        return err_set(err, R3E_EINVAL, "%s: hex string must start with 0x", what);
    size_t n = strlen(s + 2);
    for (size_t i = 0; i < n; i++)
        if (hex_nibble(s[2 + i]) < 0)
            return err_set(err, R3E_EINVAL, "%s: invalid hex digit '%c'", what, s[2 + i]);
    if (!allow_odd && n % 2) return err_set(err, R3E_EINVAL, "%s: odd-length hex string", what);
    if (n > (size_t)1 << 30) return err_set(err, R3E_EINVAL, "%s: hex string too long", what);
    return (int)n;
}

int eth_hex_decode(const char *s, uint8_t **out, size_t *len, const char *what, err_t *err) {
    int nd = hex_check(s, what, false, err);
    if (nd < 0) return -1;
    size_t n = (size_t)nd / 2;
    uint8_t *p = malloc(n ? n : 1);
    if (!p) abort();
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(hex_nibble(s[2 + 2 * i]) << 4 | hex_nibble(s[3 + 2 * i]));
    *out = p;
    *len = n;
    return 0;
}

int eth_hex_decode_fixed(const char *s, uint8_t *out, size_t n, const char *what, err_t *err) {
    int nd = hex_check(s, what, false, err);
    if (nd < 0) return -1;
    if ((size_t)nd != 2 * n)
        return err_set(err, R3E_EINVAL, "%s: expected %zu bytes, got %d", what, n, nd / 2);
    for (size_t i = 0; i < n; i++)
        out[i] = (uint8_t)(hex_nibble(s[2 + 2 * i]) << 4 | hex_nibble(s[3 + 2 * i]));
    return 0;
}

/* ---- 256-bit integers ---- */

void eth_u256_from_u64(uint64_t x, eth_u256_t *out) {
    memset(out->b, 0, 32);
    for (int i = 0; i < 8; i++)
        out->b[31 - i] = (uint8_t)(x >> (8 * i));
}

bool eth_u256_is_zero(const eth_u256_t *v) {
    for (int i = 0; i < 32; i++)
        if (v->b[i]) return false;
    return true;
}

size_t eth_u256_min_offset(const eth_u256_t *v) {
    size_t i = 0;
    while (i < 32 && v->b[i] == 0)
        i++;
    return i;
}

static void u256_negate(eth_u256_t *v) {
    unsigned carry = 1;
    for (int i = 31; i >= 0; i--) {
        unsigned x = (uint8_t)~v->b[i] + carry;
        v->b[i] = (uint8_t)x;
        carry = x >> 8;
    }
}

/* v = v * mul + add; returns false on overflow past 256 bits. */
static bool u256_muladd(eth_u256_t *v, unsigned mul, unsigned add) {
    unsigned carry = add;
    for (int i = 31; i >= 0; i--) {
        unsigned x = v->b[i] * mul + carry;
        v->b[i] = (uint8_t)x;
        carry = x >> 8;
    }
    return carry == 0;
}

/* Number of significant bits. */
static int u256_bitlen(const eth_u256_t *v) {
    for (int i = 0; i < 32; i++)
        if (v->b[i]) {
            int bits = 8;
            while (!(v->b[i] & (1u << (bits - 1))))
                bits--;
            return (31 - i) * 8 + bits;
        }
    return 0;
}

static int u256_popcount(const eth_u256_t *v) {
    int n = 0;
    for (int i = 0; i < 32; i++)
        n += __builtin_popcount(v->b[i]);
    return n;
}

int eth_u256_parse(const char *s, int bits, bool is_signed, eth_u256_t *out, const char *what,
                   err_t *err) {
    if (!s || !*s) return err_set(err, R3E_EINVAL, "%s: empty number", what);
    bool neg = false;
    if (*s == '-') {
        neg = true;
        s++;
    }
    memset(out->b, 0, 32);
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        s += 2;
        if (!*s) return err_set(err, R3E_EINVAL, "%s: empty hex number", what);
        for (; *s; s++) {
            int d = hex_nibble(*s);
            if (d < 0) return err_set(err, R3E_EINVAL, "%s: invalid hex digit '%c'", what, *s);
            if (!u256_muladd(out, 16, (unsigned)d))
                return err_set(err, R3E_EINVAL, "%s: value out of range (over 256 bits)", what);
        }
    } else {
        if (!*s) return err_set(err, R3E_EINVAL, "%s: empty number", what);
        for (; *s; s++) {
            if (*s < '0' || *s > '9')
                return err_set(err, R3E_EINVAL, "%s: invalid decimal digit '%c'", what, *s);
            if (!u256_muladd(out, 10, (unsigned)(*s - '0')))
                return err_set(err, R3E_EINVAL, "%s: value out of range (over 256 bits)", what);
        }
    }
    int len = u256_bitlen(out);
    if (neg && !eth_u256_is_zero(out)) {
        if (!is_signed) return err_set(err, R3E_EINVAL, "%s: negative value for unsigned", what);
        /* -2^(bits-1) is the smallest: the magnitude may be exactly 2^(bits-1). */
        if (len > bits || (len == bits && u256_popcount(out) != 1))
            return err_set(err, R3E_EINVAL, "%s: value out of range for int%d", what, bits);
        u256_negate(out);
        return 0;
    }
    if (len > (is_signed ? bits - 1 : bits))
        return err_set(err, R3E_EINVAL, "%s: value out of range for %s%d", what,
                       is_signed ? "int" : "uint", bits);
    return 0;
}

int eth_u256_from_json(const json_t *v, int bits, bool is_signed, eth_u256_t *out, const char *what,
                       err_t *err) {
    if (json_is_string(v))
        return eth_u256_parse(json_string_value(v), bits, is_signed, out, what, err);
    if (json_is_integer(v)) {
        char buf[32];
        snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v));
        return eth_u256_parse(buf, bits, is_signed, out, what, err);
    }
    return err_set(err, R3E_EINVAL, "%s: expected an integer (decimal or 0x string)", what);
}

void eth_u256_to_dec(const eth_u256_t *v, bool is_signed, char out[80]) {
    eth_u256_t x = *v;
    bool neg = is_signed && (x.b[0] & 0x80);
    if (neg) u256_negate(&x);
    char tmp[80];
    int n = 0;
    do {
        unsigned rem = 0;
        for (int i = 0; i < 32; i++) {
            unsigned cur = rem << 8 | x.b[i];
            x.b[i] = (uint8_t)(cur / 10);
            rem = cur % 10;
        }
        tmp[n++] = (char)('0' + rem);
    } while (!eth_u256_is_zero(&x));
    int k = 0;
    if (neg) out[k++] = '-';
    while (n > 0)
        out[k++] = tmp[--n];
    out[k] = '\0';
}

/* ---- Keccak-256 ---- */

#define KECCAK_RATE 136 /* 1600 - 2*256 bits */

static void keccak_absorb(struct sha3_state *st, const uint8_t *p) {
    for (int i = 0; i < KECCAK_RATE / 8; i++) {
        uint64_t lane = 0;
        for (int j = 7; j >= 0; j--)
            lane = lane << 8 | p[8 * i + j];
        st->a[i] ^= lane;
    }
    sha3_permute(st);
}

/* Keccak as submitted to the SHA-3 competition pads with 0x01…0x80; FIPS 202 SHA3-256 uses
 * 0x06…0x80, which is why nettle's sha3_256 cannot be used directly. */
void eth_keccak256(const void *data, size_t n, uint8_t out[32]) {
    struct sha3_state st;
    memset(&st, 0, sizeof st);
    const uint8_t *p = data;
    for (; n >= KECCAK_RATE; p += KECCAK_RATE, n -= KECCAK_RATE)
        keccak_absorb(&st, p);
    uint8_t last[KECCAK_RATE] = {0};
    if (n) memcpy(last, p, n);
    last[n] ^= 0x01;
    last[KECCAK_RATE - 1] ^= 0x80;
    keccak_absorb(&st, last);
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 8; j++)
            out[8 * i + j] = (uint8_t)(st.a[i] >> (8 * j));
}

void eth_id(const char *text, uint8_t out[32]) {
    eth_keccak256(text, strlen(text), out);
}
