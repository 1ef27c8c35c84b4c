/* NeoVM script builder. Hand-written because no C library exists; every push mirrors
 * neon-js 5.9.0 ScriptBuilder so scripts (and so transaction hashes) are byte-identical. */
#include <openssl/sha.h>
#include <string.h>

#include "chain/neo/neo.h"

void neo_sb_emit(neo_buf_t *b, uint8_t op) {
    neo_buf_byte(b, op);
}

void neo_sb_push_bool(neo_buf_t *b, bool v) {
    neo_buf_byte(b, v ? NEO_OP_PUSHT : NEO_OP_PUSHF);
}

void neo_sb_push_null(neo_buf_t *b) {
    neo_buf_byte(b, NEO_OP_PUSHNULL);
}

/* Integers: -1..16 get one-byte opcodes; everything else is the shortest two's complement
 * widened (sign-extended) to 1, 2, 4, 8, 16 or 32 bytes behind PUSHINT8..PUSHINT256. */
int neo_sb_push_int_le(neo_buf_t *b, const uint8_t *le, size_t n, err_t *err) {
    bool neg = n > 0 && (le[n - 1] & 0x80);
    uint8_t fill = neg ? 0xff : 0x00;
    while (n > 1 && le[n - 1] == fill && ((le[n - 2] & 0x80) != 0) == neg)
        n--;
    if (n == 1 && le[0] == fill) n = neg ? 1 : 0;
    if (n == 0) {
        neo_buf_byte(b, NEO_OP_PUSH0);
        return 0;
    }
    if (n == 1) {
        int v = (int8_t)le[0];
        if (v >= -1 && v <= 16) {
            neo_buf_byte(b, (uint8_t)(NEO_OP_PUSH0 + v));
            return 0;
        }
    }
    static const size_t widths[] = {1, 2, 4, 8, 16, 32};
    for (size_t w = 0; w < 6; w++) {
        if (n > widths[w]) continue;
        neo_buf_byte(b, (uint8_t)(NEO_OP_PUSHINT8 + w));
        neo_buf_append(b, le, n);
        for (size_t i = n; i < widths[w]; i++)
            neo_buf_byte(b, fill);
        return 0;
    }
    return err_set(err, R3E_EINVAL, "integer: %zu bytes does not fit PUSHINT256", n);
}

void neo_sb_push_int(neo_buf_t *b, int64_t v) {
    uint8_t le[8];
    for (int i = 0; i < 8; i++)
        le[i] = (uint8_t)((uint64_t)v >> (8 * i));
    (void)neo_sb_push_int_le(b, le, sizeof le, NULL); /* 8 bytes always fit */
}

int neo_sb_push_int_dec(neo_buf_t *b, const char *dec, err_t *err) {
    /* Magnitude in 34 little-endian bytes: room for a 256-bit value plus a sign byte. */
    uint8_t le[34] = {0};
    const char *p = dec;
    if (!p) return err_set(err, R3E_EINVAL, "integer: missing value");
    bool neg = *p == '-';
    if (neg) p++;
    if (!*p || strlen(p) > 100)
        return err_set(err, R3E_EINVAL, "integer: \"%.40s\" is not a decimal integer", dec);
    for (; *p; p++) {
        if (*p < '0' || *p > '9')
            return err_set(err, R3E_EINVAL, "integer: \"%.40s\" is not a decimal integer", dec);
        unsigned carry = (unsigned)(*p - '0');
        for (size_t i = 0; i < sizeof le; i++) {
            carry += 10u * le[i];
            le[i] = (uint8_t)carry;
            carry >>= 8;
        }
        if (carry || (le[33] & 0x80))
            return err_set(err, R3E_EINVAL, "integer: %.40s… is too large for PUSHINT256", dec);
    }
    if (neg) { /* two's complement negate */
        unsigned carry = 1;
        for (size_t i = 0; i < sizeof le; i++) {
            carry += (uint8_t)~le[i];
            le[i] = (uint8_t)carry;
            carry >>= 8;
        }
    }
    return neo_sb_push_int_le(b, le, sizeof le, err);
}

int neo_sb_push_bytes(neo_buf_t *b, const uint8_t *p, size_t n, err_t *err) {
    uint8_t hdr[5];
    size_t hl;
    if (n < 0x100) {
        hdr[0] = NEO_OP_PUSHDATA1;
        hl = 2;
    } else if (n < 0x10000) {
        hdr[0] = NEO_OP_PUSHDATA2;
        hl = 3;
    } else if (n <= 0xffffffffu) {
        hdr[0] = NEO_OP_PUSHDATA4;
        hl = 5;
    } else {
        return err_set(err, R3E_ETOOBIG, "push: %zu bytes is too big for PUSHDATA4", n);
    }
    for (size_t i = 1; i < hl; i++)
        hdr[i] = (uint8_t)(n >> (8 * (i - 1)));
    neo_buf_append(b, hdr, hl);
    neo_buf_append(b, p, n);
    return 0;
}

int neo_sb_push_string(neo_buf_t *b, const char *s, err_t *err) {
    return neo_sb_push_bytes(b, (const uint8_t *)s, strlen(s), err);
}

void neo_sb_push_hash160(neo_buf_t *b, const uint8_t h[20]) {
    (void)neo_sb_push_bytes(b, h, 20, NULL);
}

void neo_sb_push_hash256(neo_buf_t *b, const uint8_t h[32]) {
    (void)neo_sb_push_bytes(b, h, 32, NULL);
}

void neo_sb_push_pubkey(neo_buf_t *b, const uint8_t pub[33]) {
    (void)neo_sb_push_bytes(b, pub, 33, NULL);
}

void neo_sb_pack(neo_buf_t *b, size_t count) {
    neo_sb_push_int(b, (int64_t)count);
    neo_buf_byte(b, NEO_OP_PACK);
}

uint32_t neo_interop_id(const char *name) {
    uint8_t h[32];
    SHA256((const uint8_t *)name, strlen(name), h);
    return (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 24;
}

void neo_sb_syscall(neo_buf_t *b, const char *name) {
    uint8_t h[32];
    SHA256((const uint8_t *)name, strlen(name), h);
    neo_buf_byte(b, NEO_OP_SYSCALL);
    neo_buf_append(b, h, 4);
}

int neo_sb_contract_call(neo_buf_t *b, const uint8_t contract[20], const char *method,
                         uint8_t call_flags, size_t nargs, err_t *err) {
    if (!method || !*method) return err_set(err, R3E_EINVAL, "contract call: empty method name");
    if (call_flags & ~NEO_CALL_ALL)
        return err_set(err, R3E_EINVAL, "contract call: invalid call flags 0x%02x", call_flags);
    if (nargs == 0)
        neo_buf_byte(b, NEO_OP_NEWARRAY0);
    else
        neo_sb_pack(b, nargs);
    neo_sb_push_int(b, call_flags);
    if (neo_sb_push_string(b, method, err) != 0) return -1;
    neo_sb_push_hash160(b, contract);
    neo_sb_syscall(b, "System.Contract.Call");
    return 0;
}

int neo_sb_nep17_transfer(neo_buf_t *b, const uint8_t token[20], const uint8_t from[20],
                          const uint8_t to[20], const char *amount_dec, err_t *err) {
    neo_sb_push_null(b); /* data: ContractParam.any(null) */
    if (neo_sb_push_int_dec(b, amount_dec, err) != 0) return -1;
    neo_sb_push_hash160(b, to);
    neo_sb_push_hash160(b, from);
    return neo_sb_contract_call(b, token, "transfer", NEO_CALL_ALL, 4, err);
}

int neo_sb_nep17_balance_of(neo_buf_t *b, const uint8_t token[20], const uint8_t account[20],
                            err_t *err) {
    neo_sb_push_hash160(b, account);
    return neo_sb_contract_call(b, token, "balanceOf", NEO_CALL_ALL, 1, err);
}
