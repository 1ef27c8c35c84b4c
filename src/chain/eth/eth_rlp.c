/* Recursive Length Prefix (Ethereum yellow paper, appendix B). The decoder is strict because
 * transaction hashes are computed over the bytes: two encodings of one value would give two
 * hashes, so non-canonical lengths, wrapped single bytes and trailing data are errors. */
#include "chain/eth/eth.h"

#include <string.h>

/* Header for a payload of n bytes: short form base+n below 56, else base+55+lenlen || len. */
static void rlp_header(eth_buf_t *out, uint8_t base, size_t n) {
    if (n < 56) {
        eth_buf_byte(out, (uint8_t)(base + n));
        return;
    }
    uint8_t len[8];
    int k = 0;
    for (size_t x = n; x; x >>= 8)
        k++;
    for (int i = 0; i < k; i++)
        len[i] = (uint8_t)(n >> (8 * (k - 1 - i)));
    eth_buf_byte(out, (uint8_t)(base + 55 + k));
    eth_buf_put(out, len, (size_t)k);
}

void eth_rlp_encode(eth_buf_t *out, const eth_rlp_t *item) {
    if (!item->is_list) {
        if (item->len == 1 && item->str[0] < 0x80) {
            eth_buf_byte(out, item->str[0]);
            return;
        }
        rlp_header(out, 0x80, item->len);
        eth_buf_put(out, item->str, item->len);
        return;
    }
    eth_buf_t payload = {0};
    for (size_t i = 0; i < item->count; i++)
        eth_rlp_encode(&payload, &item->items[i]);
    rlp_header(out, 0xc0, payload.len);
    eth_buf_put(out, payload.data, payload.len);
    eth_buf_free(&payload);
}

eth_rlp_t eth_rlp_bytes(const uint8_t *p, size_t n) {
    return (eth_rlp_t){.str = p, .len = n};
}

eth_rlp_t eth_rlp_uint(arena_t *a, const eth_u256_t *v) {
    size_t off = eth_u256_min_offset(v);
    uint8_t *p = arena_alloc(a, 32);
    memcpy(p, v->b + off, 32 - off);
    return eth_rlp_bytes(p, 32 - off);
}

eth_rlp_t eth_rlp_u64(arena_t *a, uint64_t v) {
    eth_u256_t x;
    eth_u256_from_u64(v, &x);
    return eth_rlp_uint(a, &x);
}

eth_rlp_t eth_rlp_list(arena_t *a, size_t count) {
    eth_rlp_t l = {.is_list = true, .count = count};
    l.items = arena_calloc(a, count ? count * sizeof(eth_rlp_t) : 1);
    return l;
}

/* Reads one item header at in[*pos]; sets the payload span. */
static int rlp_header_read(const uint8_t *in, size_t n, size_t *pos, bool *is_list, size_t *start,
                           size_t *len, err_t *err) {
    size_t p = *pos;
    uint8_t b = in[p];
    if (b < 0x80) {
        *is_list = false;
        *start = p;
        *len = 1;
        *pos = p + 1;
        return 0;
    }
    *is_list = b >= 0xc0;
    uint8_t base = *is_list ? 0xc0 : 0x80;
    size_t l;
    p++;
    if (b - base < 56) {
        l = (size_t)(b - base);
    } else {
        size_t k = (size_t)(b - base - 55);
        if (k > n - p) return err_set(err, R3E_EINVAL, "rlp: truncated length at offset %zu", *pos);
        if (in[p] == 0)
            return err_set(err, R3E_EINVAL, "rlp: length with leading zero at offset %zu", *pos);
        if (k > sizeof(size_t))
            return err_set(err, R3E_EINVAL, "rlp: length too large at offset %zu", *pos);
        l = 0;
        for (size_t i = 0; i < k; i++)
            l = l << 8 | in[p + i];
        p += k;
        if (l < 56)
            return err_set(err, R3E_EINVAL,
                           "rlp: non-canonical long form for length %zu at offset %zu", l, *pos);
    }
    if (l > n - p)
        return err_set(err, R3E_EINVAL, "rlp: truncated item at offset %zu (needs %zu bytes)", *pos,
                       l);
    if (!*is_list && l == 1 && in[p] < 0x80)
        return err_set(err, R3E_EINVAL,
                       "rlp: single byte below 0x80 must not be wrapped (offset %zu)", *pos);
    *start = p;
    *len = l;
    *pos = p + l;
    return 0;
}

static int rlp_decode_at(arena_t *a, const uint8_t *in, size_t end, size_t *pos, int depth,
                         eth_rlp_t *out, err_t *err) {
    if (depth > ETH_RLP_MAX_DEPTH)
        return err_set(err, R3E_EINVAL, "rlp: nesting deeper than %d", ETH_RLP_MAX_DEPTH);
    bool is_list;
    size_t start = 0, len = 0;
    if (rlp_header_read(in, end, pos, &is_list, &start, &len, err) < 0) return -1;
    memset(out, 0, sizeof *out);
    out->is_list = is_list;
    if (!is_list) {
        out->str = in + start;
        out->len = len;
        return 0;
    }
    /* Items grow geometrically in the arena; old arrays are freed with the arena. */
    size_t count = 0, cap = 8;
    eth_rlp_t *items = arena_alloc(a, cap * sizeof *items);
    size_t p = start, lend = start + len;
    while (p < lend) {
        if (count == cap) {
            eth_rlp_t *bigger = arena_alloc(a, 2 * cap * sizeof *items);
            memcpy(bigger, items, cap * sizeof *items);
            items = bigger;
            cap *= 2;
        }
        if (rlp_decode_at(a, in, lend, &p, depth + 1, &items[count], err) < 0) return -1;
        count++;
    }
    out->items = items;
    out->count = count;
    return 0;
}

int eth_rlp_decode(arena_t *a, const uint8_t *in, size_t n, eth_rlp_t *out, err_t *err) {
    if (n == 0) return err_set(err, R3E_EINVAL, "rlp: empty input");
    size_t pos = 0;
    if (rlp_decode_at(a, in, n, &pos, 0, out, err) < 0) return -1;
    if (pos != n)
        return err_set(err, R3E_EINVAL, "rlp: %zu trailing bytes after the item", n - pos);
    return 0;
}

int eth_rlp_to_u256(const eth_rlp_t *it, eth_u256_t *out, const char *what, err_t *err) {
    if (it->is_list) return err_set(err, R3E_EINVAL, "%s: expected an integer, got a list", what);
    if (it->len > 32) return err_set(err, R3E_EINVAL, "%s: integer longer than 32 bytes", what);
    if (it->len > 0 && it->str[0] == 0)
        return err_set(err, R3E_EINVAL, "%s: integer with leading zero bytes", what);
    memset(out->b, 0, 32);
    if (it->len) memcpy(out->b + 32 - it->len, it->str, it->len);
    return 0;
}

int eth_rlp_to_u64(const eth_rlp_t *it, uint64_t *out, const char *what, err_t *err) {
    eth_u256_t v;
    if (eth_rlp_to_u256(it, &v, what, err) < 0) return -1;
    if (eth_u256_min_offset(&v) < 24)
        return err_set(err, R3E_EINVAL, "%s: integer does not fit in 64 bits", what);
    uint64_t x = 0;
    for (int i = 24; i < 32; i++)
        x = x << 8 | v.b[i];
    *out = x;
    return 0;
}
