/* Transactions: legacy (with EIP-155 replay protection), EIP-2930 (type 1, access lists) and
 * EIP-1559 (type 2, fee market). Serialization builds an RLP tree in a scratch arena; field
 * order per type follows the EIPs (and ethers' Transaction). */
#include "chain/eth/eth.h"

#include <string.h>

static eth_rlp_t access_list_rlp(arena_t *a, const eth_tx_t *tx) {
    eth_rlp_t l = eth_rlp_list(a, tx->access_count);
    for (size_t i = 0; i < tx->access_count; i++) {
        const eth_access_t *e = &tx->access_list[i];
        eth_rlp_t pair = eth_rlp_list(a, 2);
        pair.items[0] = eth_rlp_bytes(e->address, 20);
        pair.items[1] = eth_rlp_list(a, e->nkeys);
        for (size_t k = 0; k < e->nkeys; k++)
            pair.items[1].items[k] = eth_rlp_bytes(e->keys[k], 32);
        l.items[i] = pair;
    }
    return l;
}

static eth_rlp_t trimmed(arena_t *a, const uint8_t b[32]) {
    eth_u256_t v;
    memcpy(v.b, b, 32);
    return eth_rlp_uint(a, &v);
}

/* Fills the list for tx; returns the item count used. */
static int tx_fields(arena_t *a, const eth_tx_t *tx, bool with_sig, eth_rlp_t *l, err_t *err) {
    eth_rlp_t to = tx->has_to ? eth_rlp_bytes(tx->to, 20) : eth_rlp_bytes(NULL, 0);
    eth_rlp_t data = eth_rlp_bytes(tx->data, tx->data_len);
    size_t n = 0;
    if (tx->type == 0) {
        bool eip155 = tx->chain_id != 0;
        *l = eth_rlp_list(a, with_sig || eip155 ? 9 : 6);
        l->items[n++] = eth_rlp_u64(a, tx->nonce);
        l->items[n++] = eth_rlp_uint(a, &tx->gas_price);
        l->items[n++] = eth_rlp_uint(a, &tx->gas_limit);
        l->items[n++] = to;
        l->items[n++] = eth_rlp_uint(a, &tx->value);
        l->items[n++] = data;
        if (with_sig) {
            uint64_t v;
            if (eip155) {
                if (tx->chain_id > (UINT64_MAX - 36) / 2)
                    return err_set(err, R3E_EINVAL, "transaction: chainId too large for v");
                v = tx->chain_id * 2 + 35 + (uint64_t)tx->sig.y_parity;
            } else {
                v = 27 + (uint64_t)tx->sig.y_parity;
            }
            l->items[n++] = eth_rlp_u64(a, v);
            l->items[n++] = trimmed(a, tx->sig.r);
            l->items[n++] = trimmed(a, tx->sig.s);
        } else if (eip155) {
            l->items[n++] = eth_rlp_u64(a, tx->chain_id);
            l->items[n++] = eth_rlp_u64(a, 0);
            l->items[n++] = eth_rlp_u64(a, 0);
        }
        return 0;
    }
    if (tx->type != 1 && tx->type != 2)
        return err_set(err, R3E_EINVAL, "transaction: unsupported type %d", tx->type);
    size_t count = (tx->type == 1 ? 8 : 9) + (with_sig ? 3 : 0);
    *l = eth_rlp_list(a, count);
    l->items[n++] = eth_rlp_u64(a, tx->chain_id);
    l->items[n++] = eth_rlp_u64(a, tx->nonce);
    if (tx->type == 1) {
        l->items[n++] = eth_rlp_uint(a, &tx->gas_price);
    } else {
        l->items[n++] = eth_rlp_uint(a, &tx->max_priority_fee_per_gas);
        l->items[n++] = eth_rlp_uint(a, &tx->max_fee_per_gas);
    }
    l->items[n++] = eth_rlp_uint(a, &tx->gas_limit);
    l->items[n++] = to;
    l->items[n++] = eth_rlp_uint(a, &tx->value);
    l->items[n++] = data;
    l->items[n++] = access_list_rlp(a, tx);
    if (with_sig) {
        l->items[n++] = eth_rlp_u64(a, (uint64_t)tx->sig.y_parity);
        l->items[n++] = trimmed(a, tx->sig.r);
        l->items[n++] = trimmed(a, tx->sig.s);
    }
    return 0;
}

int eth_tx_serialize(const eth_tx_t *tx, bool with_sig, eth_buf_t *out, err_t *err) {
    if (with_sig && !tx->has_sig) return err_set(err, R3E_EINVAL, "transaction: not signed");
    if (with_sig && tx->sig.y_parity != 0 && tx->sig.y_parity != 1)
        return err_set(err, R3E_EINVAL, "transaction: yParity must be 0 or 1");
    /* A tip above the fee cap can never be paid; nodes and ethers refuse such a tx. */
    if (tx->type == 2 && memcmp(tx->max_priority_fee_per_gas.b, tx->max_fee_per_gas.b, 32) > 0)
        return err_set(err, R3E_EINVAL,
                       "transaction: maxPriorityFeePerGas cannot be more than maxFeePerGas");
    arena_t *a = arena_create(0);
    eth_rlp_t l;
    int rc = tx_fields(a, tx, with_sig, &l, err);
    if (rc == 0) {
        if (tx->type != 0) eth_buf_byte(out, (uint8_t)tx->type);
        eth_rlp_encode(out, &l);
    }
    arena_destroy(a);
    return rc;
}

static int tx_keccak(const eth_tx_t *tx, bool with_sig, uint8_t out[32], err_t *err) {
    eth_buf_t b = {0};
    int rc = eth_tx_serialize(tx, with_sig, &b, err);
    if (rc == 0) eth_keccak256(b.data, b.len, out);
    eth_buf_free(&b);
    return rc;
}

int eth_tx_signing_hash(const eth_tx_t *tx, uint8_t out[32], err_t *err) {
    return tx_keccak(tx, false, out, err);
}

int eth_tx_hash(const eth_tx_t *tx, uint8_t out[32], err_t *err) {
    return tx_keccak(tx, true, out, err);
}

int eth_tx_sign(eth_tx_t *tx, const uint8_t priv[32], err_t *err) {
    uint8_t h[32];
    if (eth_tx_signing_hash(tx, h, err) < 0) return -1;
    if (eth_sign_digest(priv, h, &tx->sig, err) < 0) return -1;
    tx->has_sig = true;
    return 0;
}

int eth_tx_recover_sender(const eth_tx_t *tx, uint8_t from[20], err_t *err) {
    if (!tx->has_sig) return err_set(err, R3E_EINVAL, "transaction: not signed");
    uint8_t h[32];
    if (eth_tx_signing_hash(tx, h, err) < 0) return -1;
    return eth_recover_address(h, &tx->sig, from, err);
}

/* ---- parsing ---- */

static int want_bytes(const eth_rlp_t *it, const char *what, err_t *err) {
    if (it->is_list)
        return err_set(err, R3E_EINVAL, "transaction: %s must be bytes, not a list", what);
    return 0;
}

static int parse_to(const eth_rlp_t *it, eth_tx_t *tx, err_t *err) {
    if (want_bytes(it, "to", err) < 0) return -1;
    if (it->len == 0) {
        tx->has_to = false;
        return 0;
    }
    if (it->len != 20) return err_set(err, R3E_EINVAL, "transaction: to must be 20 bytes");
    tx->has_to = true;
    memcpy(tx->to, it->str, 20);
    return 0;
}

static int parse_sig_word(const eth_rlp_t *it, uint8_t out[32], const char *what, err_t *err) {
    eth_u256_t v;
    if (eth_rlp_to_u256(it, &v, what, err) < 0) return -1;
    memcpy(out, v.b, 32);
    return 0;
}

static int parse_access_list(arena_t *a, const eth_rlp_t *it, eth_tx_t *tx, err_t *err) {
    if (!it->is_list) return err_set(err, R3E_EINVAL, "transaction: accessList must be a list");
    eth_access_t *list = arena_calloc(a, (it->count ? it->count : 1) * sizeof *list);
    for (size_t i = 0; i < it->count; i++) {
        const eth_rlp_t *pair = &it->items[i];
        if (!pair->is_list || pair->count != 2 || pair->items[0].is_list ||
            pair->items[0].len != 20 || !pair->items[1].is_list)
            return err_set(err, R3E_EINVAL,
                           "transaction: accessList entry %zu must be [address, [keys]]", i);
        memcpy(list[i].address, pair->items[0].str, 20);
        const eth_rlp_t *keys = &pair->items[1];
        uint8_t(*k)[32] = arena_alloc(a, (keys->count ? keys->count : 1) * 32);
        for (size_t j = 0; j < keys->count; j++) {
            if (keys->items[j].is_list || keys->items[j].len != 32)
                return err_set(err, R3E_EINVAL,
                               "transaction: accessList storage key %zu.%zu must be 32 bytes", i,
                               j);
            memcpy(k[j], keys->items[j].str, 32);
        }
        list[i].keys = (const uint8_t(*)[32])k;
        list[i].nkeys = keys->count;
    }
    tx->access_list = list;
    tx->access_count = it->count;
    return 0;
}

static int parse_legacy(const eth_rlp_t *l, eth_tx_t *tx, err_t *err) {
    if (!l->is_list || (l->count != 6 && l->count != 9))
        return err_set(err, R3E_EINVAL, "transaction: legacy tx needs 6 or 9 fields");
    const eth_rlp_t *f = l->items;
    if (eth_rlp_to_u64(&f[0], &tx->nonce, "nonce", err) < 0 ||
        eth_rlp_to_u256(&f[1], &tx->gas_price, "gasPrice", err) < 0 ||
        eth_rlp_to_u256(&f[2], &tx->gas_limit, "gasLimit", err) < 0 ||
        parse_to(&f[3], tx, err) < 0 || eth_rlp_to_u256(&f[4], &tx->value, "value", err) < 0 ||
        want_bytes(&f[5], "data", err) < 0)
        return -1;
    tx->data = f[5].str;
    tx->data_len = f[5].len;
    if (l->count == 6) return 0;
    uint64_t v;
    if (eth_rlp_to_u64(&f[6], &v, "v", err) < 0 || parse_sig_word(&f[7], tx->sig.r, "r", err) < 0 ||
        parse_sig_word(&f[8], tx->sig.s, "s", err) < 0)
        return -1;
    static const uint8_t zero[32] = {0};
    if (!memcmp(tx->sig.r, zero, 32) && !memcmp(tx->sig.s, zero, 32)) {
        tx->chain_id = v; /* unsigned EIP-155 form: [chainId, 0, 0] */
        return 0;
    }
    if (v == 27 || v == 28) {
        tx->chain_id = 0;
        tx->sig.y_parity = (int)(v - 27);
    } else if (v >= 37) {
        tx->chain_id = (v - 35) / 2;
        tx->sig.y_parity = (int)((v - 35) & 1);
    } else {
        return err_set(err, R3E_EINVAL, "transaction: non-canonical legacy v %llu",
                       (unsigned long long)v);
    }
    tx->has_sig = true;
    return 0;
}

static int parse_typed(arena_t *a, int type, const eth_rlp_t *l, eth_tx_t *tx, err_t *err) {
    size_t base = type == 1 ? 8 : 9;
    if (!l->is_list || (l->count != base && l->count != base + 3))
        return err_set(err, R3E_EINVAL, "transaction: type %d tx needs %zu or %zu fields", type,
                       base, base + 3);
    const eth_rlp_t *f = l->items;
    size_t n = 0;
    if (eth_rlp_to_u64(&f[n++], &tx->chain_id, "chainId", err) < 0 ||
        eth_rlp_to_u64(&f[n++], &tx->nonce, "nonce", err) < 0)
        return -1;
    if (type == 1) {
        if (eth_rlp_to_u256(&f[n++], &tx->gas_price, "gasPrice", err) < 0) return -1;
    } else if (eth_rlp_to_u256(&f[n++], &tx->max_priority_fee_per_gas, "maxPriorityFeePerGas",
                               err) < 0 ||
               eth_rlp_to_u256(&f[n++], &tx->max_fee_per_gas, "maxFeePerGas", err) < 0) {
        return -1;
    }
    if (eth_rlp_to_u256(&f[n++], &tx->gas_limit, "gasLimit", err) < 0 ||
        parse_to(&f[n++], tx, err) < 0 || eth_rlp_to_u256(&f[n++], &tx->value, "value", err) < 0 ||
        want_bytes(&f[n], "data", err) < 0)
        return -1;
    tx->data = f[n].str;
    tx->data_len = f[n].len;
    n++;
    if (parse_access_list(a, &f[n++], tx, err) < 0) return -1;
    if (l->count == base) return 0;
    uint64_t y;
    if (eth_rlp_to_u64(&f[n++], &y, "yParity", err) < 0) return -1;
    if (y > 1) return err_set(err, R3E_EINVAL, "transaction: yParity must be 0 or 1");
    if (parse_sig_word(&f[n++], tx->sig.r, "r", err) < 0 ||
        parse_sig_word(&f[n++], tx->sig.s, "s", err) < 0)
        return -1;
    tx->sig.y_parity = (int)y;
    tx->has_sig = true;
    return 0;
}

int eth_tx_parse(arena_t *a, const uint8_t *raw, size_t n, eth_tx_t *tx, err_t *err) {
    memset(tx, 0, sizeof *tx);
    if (n == 0) return err_set(err, R3E_EINVAL, "transaction: empty input");
    eth_rlp_t l;
    if (raw[0] >= 0xc0) {
        if (eth_rlp_decode(a, raw, n, &l, err) < 0) return -1;
        tx->type = 0;
        return parse_legacy(&l, tx, err);
    }
    if (raw[0] != 1 && raw[0] != 2)
        return err_set(err, R3E_EINVAL, "transaction: unsupported type 0x%02x", raw[0]);
    tx->type = raw[0];
    if (eth_rlp_decode(a, raw + 1, n - 1, &l, err) < 0) return -1;
    return parse_typed(a, tx->type, &l, tx, err);
}
