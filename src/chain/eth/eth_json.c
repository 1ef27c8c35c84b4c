/* JSON forms of library values, shared by the JS binding (eth_js.c) and the test tool:
 * transactions in ethers' field names with decimal-string integers and hex bytes. */
#include "chain/eth/eth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

json_t *eth_json_hex(const uint8_t *p, size_t n) {
    char *s = eth_hex(p, n);
    json_t *j = json_string(s);
    free(s);
    return j;
}

json_t *eth_json_address(const uint8_t a[20]) {
    char s[43];
    eth_address_checksum(a, s);
    return json_string(s);
}

static json_t *ju256(const eth_u256_t *v) {
    char s[80];
    eth_u256_to_dec(v, false, s);
    return json_string(s);
}

static json_t *ju64(uint64_t v) {
    char s[32];
    snprintf(s, sizeof s, "%llu", (unsigned long long)v);
    return json_string(s);
}

static int get_u64(const json_t *in, const char *key, uint64_t *out, err_t *err) {
    eth_u256_t v;
    const json_t *j = json_object_get(in, key);
    if (!j) {
        *out = 0;
        return 0;
    }
    if (eth_u256_from_json(j, 64, false, &v, key, err) < 0) return -1;
    uint64_t x = 0;
    for (int i = 24; i < 32; i++)
        x = x << 8 | v.b[i];
    *out = x;
    return 0;
}

/* Missing integer fields are zero, as in ethers. */
static int get_u256(const json_t *in, const char *key, eth_u256_t *out, err_t *err) {
    const json_t *j = json_object_get(in, key);
    if (!j || json_is_null(j)) {
        memset(out->b, 0, 32);
        return 0;
    }
    return eth_u256_from_json(j, 256, false, out, key, err);
}

int eth_tx_from_json(arena_t *a, const json_t *in, eth_tx_t *tx, err_t *err) {
    memset(tx, 0, sizeof *tx);
    if (!json_is_object(in)) return err_set(err, R3E_EINVAL, "transaction: expected an object");
    const json_t *type = json_object_get(in, "type");
    if (type && !json_is_null(type) && !json_is_integer(type))
        return err_set(err, R3E_EINVAL, "transaction: type must be 0, 1 or 2");
    tx->type = type ? (int)json_integer_value(type) : 2;
    if (tx->type < 0 || tx->type > 2)
        return err_set(err, R3E_EINVAL, "transaction: unsupported type %d", tx->type);
    if (get_u64(in, "chainId", &tx->chain_id, err) < 0 ||
        get_u64(in, "nonce", &tx->nonce, err) < 0 ||
        get_u256(in, "gasLimit", &tx->gas_limit, err) < 0 ||
        get_u256(in, "value", &tx->value, err) < 0 ||
        get_u256(in, "gasPrice", &tx->gas_price, err) < 0 ||
        get_u256(in, "maxPriorityFeePerGas", &tx->max_priority_fee_per_gas, err) < 0 ||
        get_u256(in, "maxFeePerGas", &tx->max_fee_per_gas, err) < 0)
        return -1;
    const json_t *to = json_object_get(in, "to");
    if (to && !json_is_null(to)) {
        if (eth_address_parse(json_string_value(to), tx->to, err) < 0) return -1;
        tx->has_to = true;
    }
    const json_t *data = json_object_get(in, "data");
    if (data && !json_is_null(data)) {
        uint8_t *p;
        size_t n;
        if (eth_hex_decode(json_string_value(data), &p, &n, "data", err) < 0) return -1;
        uint8_t *copy = arena_alloc(a, n ? n : 1);
        memcpy(copy, p, n);
        free(p);
        tx->data = copy;
        tx->data_len = n;
    }
    const json_t *al = json_object_get(in, "accessList");
    if (al && !json_is_null(al) && !json_is_array(al))
        return err_set(err, R3E_EINVAL, "transaction: accessList must be an array");
    size_t count = json_array_size(al);
    eth_access_t *list = arena_calloc(a, (count ? count : 1) * sizeof *list);
    for (size_t i = 0; i < count; i++) {
        const json_t *e = json_array_get(al, i);
        const json_t *keys = json_object_get(e, "storageKeys");
        if (eth_address_parse(json_string_value(json_object_get(e, "address")), list[i].address,
                              err) < 0)
            return -1;
        if (keys && !json_is_array(keys))
            return err_set(err, R3E_EINVAL, "transaction: storageKeys must be an array");
        uint8_t(*k)[32] = arena_alloc(a, (json_array_size(keys) + 1) * 32);
        for (size_t j = 0; j < json_array_size(keys); j++)
            if (eth_hex_decode_fixed(json_string_value(json_array_get(keys, j)), k[j], 32,
                                     "storage key", err) < 0)
                return -1;
        list[i].keys = (const uint8_t(*)[32])k;
        list[i].nkeys = json_array_size(keys);
    }
    tx->access_list = list;
    tx->access_count = count;
    const json_t *r = json_object_get(in, "r"), *sv = json_object_get(in, "s"),
                 *y = json_object_get(in, "yParity");
    if (r && sv && y) {
        if (eth_hex_decode_fixed(json_string_value(r), tx->sig.r, 32, "r", err) < 0 ||
            eth_hex_decode_fixed(json_string_value(sv), tx->sig.s, 32, "s", err) < 0)
            return -1;
        if (!json_is_integer(y) || (json_integer_value(y) != 0 && json_integer_value(y) != 1))
            return err_set(err, R3E_EINVAL, "transaction: yParity must be 0 or 1");
        tx->sig.y_parity = (int)json_integer_value(y);
        tx->has_sig = true;
    }
    return 0;
}

json_t *eth_tx_to_json(const eth_tx_t *tx, err_t *err) {
    json_t *o = json_object();
    json_object_set_new(o, "type", json_integer(tx->type));
    json_object_set_new(o, "chainId", ju64(tx->chain_id));
    json_object_set_new(o, "nonce", ju64(tx->nonce));
    json_object_set_new(o, "gasLimit", ju256(&tx->gas_limit));
    if (tx->type == 2) {
        json_object_set_new(o, "maxPriorityFeePerGas", ju256(&tx->max_priority_fee_per_gas));
        json_object_set_new(o, "maxFeePerGas", ju256(&tx->max_fee_per_gas));
    } else {
        json_object_set_new(o, "gasPrice", ju256(&tx->gas_price));
    }
    json_object_set_new(o, "to", tx->has_to ? eth_json_address(tx->to) : json_null());
    json_object_set_new(o, "value", ju256(&tx->value));
    json_object_set_new(o, "data", eth_json_hex(tx->data, tx->data_len));
    if (tx->type != 0) {
        json_t *al = json_array();
        for (size_t i = 0; i < tx->access_count; i++) {
            json_t *keys = json_array();
            for (size_t j = 0; j < tx->access_list[i].nkeys; j++)
                json_array_append_new(keys, eth_json_hex(tx->access_list[i].keys[j], 32));
            json_array_append_new(al, json_pack("{s:o,s:o}", "address",
                                                eth_json_address(tx->access_list[i].address),
                                                "storageKeys", keys));
        }
        json_object_set_new(o, "accessList", al);
    }
    if (tx->has_sig) {
        uint8_t from[20], h[32];
        if (eth_tx_recover_sender(tx, from, err) < 0 || eth_tx_hash(tx, h, err) < 0) {
            json_decref(o);
            return NULL;
        }
        json_object_set_new(o, "r", eth_json_hex(tx->sig.r, 32));
        json_object_set_new(o, "s", eth_json_hex(tx->sig.s, 32));
        json_object_set_new(o, "yParity", json_integer(tx->sig.y_parity));
        json_object_set_new(o, "from", eth_json_address(from));
        json_object_set_new(o, "hash", eth_json_hex(h, 32));
    }
    return o;
}

/* RLP values are nested JSON arrays of hex strings (ethers' RlpStructuredData). */
static int rlp_from_json_at(arena_t *a, const json_t *v, int depth, eth_rlp_t *out, err_t *err) {
    if (depth > ETH_RLP_MAX_DEPTH)
        return err_set(err, R3E_EINVAL, "rlp: nesting deeper than %d", ETH_RLP_MAX_DEPTH);
    if (json_is_array(v)) {
        *out = eth_rlp_list(a, json_array_size(v));
        for (size_t i = 0; i < out->count; i++)
            if (rlp_from_json_at(a, json_array_get(v, i), depth + 1, &out->items[i], err) < 0)
                return -1;
        return 0;
    }
    uint8_t *p;
    size_t n;
    if (eth_hex_decode(json_string_value(v), &p, &n, "rlp value", err) < 0) return -1;
    uint8_t *copy = arena_alloc(a, n ? n : 1);
    memcpy(copy, p, n);
    free(p);
    *out = eth_rlp_bytes(copy, n);
    return 0;
}

int eth_rlp_from_json(arena_t *a, const json_t *v, eth_rlp_t *out, err_t *err) {
    return rlp_from_json_at(a, v, 0, out, err);
}

json_t *eth_rlp_to_json(const eth_rlp_t *it) {
    if (!it->is_list) return eth_json_hex(it->str, it->len);
    json_t *arr = json_array();
    for (size_t i = 0; i < it->count; i++)
        json_array_append_new(arr, eth_rlp_to_json(&it->items[i]));
    return arr;
}
