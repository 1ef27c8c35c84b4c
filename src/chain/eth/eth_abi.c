/* Contract ABI encoding and decoding (Solidity ABI spec: heads and tails, 32-byte words),
 * calldata, return values and event logs. Values are jansson trees (see eth.h).
 *
 * The decoder is strict where ethers is lax (dirty high bits, bool other than 0/1, nonzero
 * padding are errors, as in Solidity's own decoder), and bounded: offsets and lengths are
 * checked against the data, and a node budget stops offset tricks that would make a small
 * input decode into a huge tree. */
#include "chain/eth/eth.h"

#include <stdio.h>
#include <string.h>

/* ---- encoding ---- */

static int encode_value(const eth_abi_type_t *t, const json_t *v, eth_buf_t *out, const char *what,
                        err_t *err);

static void put_word_len(eth_buf_t *out, size_t n) {
    eth_u256_t w;
    eth_u256_from_u64(n, &w);
    eth_buf_put(out, w.b, 32);
}

static void put_padded(eth_buf_t *out, const void *p, size_t n) {
    static const uint8_t zero[32] = {0};
    eth_buf_put(out, p, n);
    if (n % 32) eth_buf_put(out, zero, 32 - n % 32);
}

/* Component i has type types[i * step]: step 1 for tuples, 0 for arrays (one element type). */
static int encode_seq(eth_abi_type_t *const *types, size_t step, size_t n, const json_t *values,
                      eth_buf_t *out, const char *what, err_t *err) {
    size_t head_len = 0;
    for (size_t i = 0; i < n; i++) {
        const eth_abi_type_t *t = types[i * step];
        head_len += eth_abi_is_dynamic(t) ? 32 : eth_abi_static_size(t);
    }
    eth_buf_t heads = {0}, tails = {0};
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const eth_abi_type_t *t = types[i * step];
        const json_t *v = json_array_get(values, i);
        char sub[160];
        if (t->name)
            snprintf(sub, sizeof sub, "%s.%s", what, t->name);
        else
            snprintf(sub, sizeof sub, "%s[%zu]", what, i);
        if (eth_abi_is_dynamic(t)) {
            put_word_len(&heads, head_len + tails.len);
            rc = encode_value(t, v, &tails, sub, err);
        } else {
            rc = encode_value(t, v, &heads, sub, err);
        }
    }
    if (rc == 0) {
        eth_buf_put(out, heads.data, heads.len);
        eth_buf_put(out, tails.data, tails.len);
    }
    eth_buf_free(&heads);
    eth_buf_free(&tails);
    return rc;
}

/* Tuples accept a JSON array, or an object keyed by component names (ethers accepts both). */
static int tuple_values(const eth_abi_type_t *t, const json_t *v, json_t **arr, const char *what,
                        err_t *err) {
    if (json_is_array(v)) {
        *arr = json_incref((json_t *)v);
    } else if (json_is_object(v)) {
        *arr = json_array();
        for (size_t i = 0; i < t->ncomp; i++) {
            json_t *c = t->comp[i]->name ? json_object_get(v, t->comp[i]->name) : NULL;
            if (!c) {
                json_decref(*arr);
                return err_set(err, R3E_EINVAL, "%s: missing tuple component %zu (%s)", what, i,
                               t->comp[i]->name ? t->comp[i]->name : "unnamed");
            }
            json_array_append(*arr, c);
        }
    } else {
        return err_set(err, R3E_EINVAL, "%s: expected an array for a tuple", what);
    }
    if (json_array_size(*arr) != t->ncomp) {
        size_t got = json_array_size(*arr);
        json_decref(*arr);
        return err_set(err, R3E_EINVAL, "%s: tuple needs %zu values, got %zu", what, t->ncomp, got);
    }
    return 0;
}

static int encode_value(const eth_abi_type_t *t, const json_t *v, eth_buf_t *out, const char *what,
                        err_t *err) {
    uint8_t word[32] = {0};
    if (!v) return err_set(err, R3E_EINVAL, "%s: missing value", what);
    switch (t->kind) {
    case ETH_ABI_UINT:
    case ETH_ABI_INT: {
        eth_u256_t x;
        if (eth_u256_from_json(v, t->size, t->kind == ETH_ABI_INT, &x, what, err) < 0) return -1;
        eth_buf_put(out, x.b, 32);
        return 0;
    }
    case ETH_ABI_ADDRESS:
        if (!json_is_string(v)) return err_set(err, R3E_EINVAL, "%s: expected an address", what);
        if (eth_address_parse(json_string_value(v), word + 12, err) < 0) return -1;
        eth_buf_put(out, word, 32);
        return 0;
    case ETH_ABI_BOOL:
        if (!json_is_boolean(v))
            return err_set(err, R3E_EINVAL, "%s: expected true or false", what);
        word[31] = json_is_true(v);
        eth_buf_put(out, word, 32);
        return 0;
    case ETH_ABI_FIXED_BYTES:
        if (eth_hex_decode_fixed(json_string_value(v), word, (size_t)t->size, what, err) < 0)
            return -1;
        eth_buf_put(out, word, 32);
        return 0;
    case ETH_ABI_BYTES: {
        uint8_t *p;
        size_t n = 0;
        if (eth_hex_decode(json_string_value(v), &p, &n, what, err) < 0) return -1;
        put_word_len(out, n);
        put_padded(out, p, n);
        free(p);
        return 0;
    }
    case ETH_ABI_STRING:
        if (!json_is_string(v)) return err_set(err, R3E_EINVAL, "%s: expected a string", what);
        put_word_len(out, json_string_length(v));
        put_padded(out, json_string_value(v), json_string_length(v));
        return 0;
    case ETH_ABI_ARRAY:
        if (!json_is_array(v)) return err_set(err, R3E_EINVAL, "%s: expected an array", what);
        put_word_len(out, json_array_size(v));
        return encode_seq(&t->elem, 0, json_array_size(v), v, out, what, err);
    case ETH_ABI_FIXED_ARRAY:
        if (!json_is_array(v)) return err_set(err, R3E_EINVAL, "%s: expected an array", what);
        if (json_array_size(v) != t->length)
            return err_set(err, R3E_EINVAL, "%s: fixed array needs %zu values, got %zu", what,
                           t->length, json_array_size(v));
        return encode_seq(&t->elem, 0, t->length, v, out, what, err);
    case ETH_ABI_TUPLE: {
        json_t *arr = NULL;
        if (tuple_values(t, v, &arr, what, err) < 0) return -1;
        int rc = encode_seq(t->comp, 1, t->ncomp, arr, out, what, err);
        json_decref(arr);
        return rc;
    }
    }
    return err_set(err, R3E_EINTERNAL, "abi: unknown type kind");
}

int eth_abi_encode(eth_abi_type_t *const *types, size_t n, const json_t *values, eth_buf_t *out,
                   err_t *err) {
    if (!types && n) return err_set(err, R3E_EINVAL, "abi: missing types");
    if (!json_is_array(values)) return err_set(err, R3E_EINVAL, "abi: values must be an array");
    if (json_array_size(values) != n)
        return err_set(err, R3E_EINVAL, "abi: expected %zu values, got %zu", n,
                       json_array_size(values));
    return encode_seq(types, 1, n, values, out, "value", err);
}

/* ---- decoding ---- */

typedef struct {
    size_t budget; /* nodes left */
    err_t *err;
} dec_t;

static int dec_fail(dec_t *d, const char *fmt, const char *what, size_t at) {
    char msg[200];
    snprintf(msg, sizeof msg, fmt, what);
    return err_set(d->err, R3E_EINVAL, "abi decode: %s at byte %zu", msg, at);
}

/* Reads a word holding a length or offset; it must fit in the frame. */
static int read_size(dec_t *d, const uint8_t *w, size_t max, size_t *out, const char *what,
                     size_t at) {
    for (int i = 0; i < 24; i++)
        if (w[i]) return dec_fail(d, "%s too large", what, at);
    uint64_t x = 0;
    for (int i = 24; i < 32; i++)
        x = x << 8 | w[i];
    if (x > max) return dec_fail(d, "%s out of bounds", what, at);
    *out = (size_t)x;
    return 0;
}

static json_t *decode_value(dec_t *d, const eth_abi_type_t *t, const uint8_t *frame, size_t len,
                            size_t off);

/* Decodes n components (types[i * step], as in encode_seq) whose heads start at frame[off];
 * offsets are relative to frame[off]. */
static json_t *decode_seq(dec_t *d, eth_abi_type_t *const *types, size_t step, size_t n,
                          const uint8_t *frame, size_t len, size_t off) {
    const uint8_t *base = frame + off;
    size_t blen = len - off;
    json_t *arr = json_array();
    size_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        const eth_abi_type_t *t = types[i * step];
        json_t *v;
        if (eth_abi_is_dynamic(t)) {
            size_t rel = 0;
            if (pos + 32 > blen) {
                dec_fail(d, "%s: data too short for offset", "tuple", off + pos);
                goto fail;
            }
            if (read_size(d, base + pos, blen, &rel, "offset", off + pos) < 0) goto fail;
            v = decode_value(d, t, base, blen, rel);
            pos += 32;
        } else {
            v = decode_value(d, t, base, blen, pos);
            pos += eth_abi_static_size(t);
        }
        if (!v) goto fail;
        json_array_append_new(arr, v);
    }
    return arr;
fail:
    json_decref(arr);
    return NULL;
}

static bool all_zero(const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i]) return false;
    return true;
}

static json_t *hex_json(const uint8_t *p, size_t n) {
    char *s = eth_hex(p, n);
    json_t *j = json_string(s);
    free(s);
    return j;
}

static json_t *decode_word(dec_t *d, const eth_abi_type_t *t, const uint8_t *w, size_t at) {
    char buf[80];
    eth_u256_t x;
    memcpy(x.b, w, 32);
    switch (t->kind) {
    case ETH_ABI_UINT:
        if (!all_zero(w, (size_t)(32 - t->size / 8)))
            return dec_fail(d, "%s: value has dirty high bits", "uint", at), NULL;
        eth_u256_to_dec(&x, false, buf);
        return json_string(buf);
    case ETH_ABI_INT: {
        size_t hi = (size_t)(32 - t->size / 8);
        uint8_t ext = (w[hi] & 0x80) ? 0xff : 0x00;
        for (size_t i = 0; i < hi; i++)
            if (w[i] != ext) return dec_fail(d, "%s: value not sign-extended", "int", at), NULL;
        eth_u256_to_dec(&x, true, buf);
        return json_string(buf);
    }
    case ETH_ABI_ADDRESS:
        if (!all_zero(w, 12)) return dec_fail(d, "%s: dirty high bytes", "address", at), NULL;
        eth_address_checksum(w + 12, buf);
        return json_string(buf);
    case ETH_ABI_BOOL:
        if (!all_zero(w, 31) || w[31] > 1)
            return dec_fail(d, "%s: must be 0 or 1", "bool", at), NULL;
        return json_boolean(w[31]);
    case ETH_ABI_FIXED_BYTES:
        if (!all_zero(w + t->size, (size_t)(32 - t->size)))
            return dec_fail(d, "%s: nonzero padding", "bytesN", at), NULL;
        return hex_json(w, (size_t)t->size);
    default:
        return dec_fail(d, "%s: not a word type", "internal", at), NULL;
    }
}

static json_t *decode_value(dec_t *d, const eth_abi_type_t *t, const uint8_t *frame, size_t len,
                            size_t off) {
    if (d->budget == 0) return dec_fail(d, "%s: too many values", "data", off), NULL;
    d->budget--;
    switch (t->kind) {
    case ETH_ABI_BYTES:
    case ETH_ABI_STRING: {
        size_t n = 0;
        if (off + 32 > len) return dec_fail(d, "%s: data too short for length", "bytes", off), NULL;
        if (read_size(d, frame + off, len - off - 32, &n, "length", off) < 0) return NULL;
        size_t padded = (n + 31) / 32 * 32;
        if (padded > len - off - 32)
            return dec_fail(d, "%s: data too short for padding", "bytes", off), NULL;
        const uint8_t *p = frame + off + 32;
        if (!all_zero(p + n, padded - n))
            return dec_fail(d, "%s: nonzero padding", "bytes", off), NULL;
        if (t->kind == ETH_ABI_BYTES) return hex_json(p, n);
        json_t *s = json_stringn((const char *)p, n);
        if (!s) dec_fail(d, "%s: not valid UTF-8", "string", off);
        return s;
    }
    case ETH_ABI_ARRAY: {
        size_t n = 0;
        if (off + 32 > len) return dec_fail(d, "%s: data too short for length", "array", off), NULL;
        size_t head = eth_abi_is_dynamic(t->elem) ? 32 : eth_abi_static_size(t->elem);
        size_t room = len - off - 32;
        if (read_size(d, frame + off, head ? room / head : d->budget, &n, "array length", off) < 0)
            return NULL;
        return decode_seq(d, &t->elem, 0, n, frame, len, off + 32);
    }
    case ETH_ABI_FIXED_ARRAY:
    case ETH_ABI_TUPLE:
        if (!eth_abi_is_dynamic(t) && eth_abi_static_size(t) > len - off)
            return dec_fail(d, "%s: data too short", "tuple", off), NULL;
        if (t->kind == ETH_ABI_FIXED_ARRAY)
            return decode_seq(d, &t->elem, 0, t->length, frame, len, off);
        return decode_seq(d, t->comp, 1, t->ncomp, frame, len, off);
    default:
        if (off + 32 > len) return dec_fail(d, "%s: data too short", "value", off), NULL;
        return decode_word(d, t, frame + off, off);
    }
}

int eth_abi_decode(eth_abi_type_t *const *types, size_t n, const uint8_t *data, size_t len,
                   json_t **out, err_t *err) {
    if (!types && n) return err_set(err, R3E_EINVAL, "abi: missing types");
    dec_t d = {.budget = 1024 + len, .err = err};
    eth_abi_type_t tuple = {.kind = ETH_ABI_TUPLE, .comp = (eth_abi_type_t **)types, .ncomp = n};
    static const uint8_t empty[1] = {0};
    *out = decode_value(&d, &tuple, data ? data : empty, len, 0);
    return *out ? 0 : -1;
}

/* ---- calls and logs ---- */

int eth_abi_encode_call(arena_t *a, const eth_abi_fragment_t *f, const json_t *values,
                        eth_buf_t *out, err_t *err) {
    uint8_t sel[4];
    eth_abi_selector(a, f, sel);
    eth_buf_t args = {0};
    int rc = eth_abi_encode(f->inputs, f->ninputs, values, &args, err);
    if (rc == 0) {
        eth_buf_put(out, sel, 4);
        eth_buf_put(out, args.data, args.len);
    }
    eth_buf_free(&args);
    return rc;
}

int eth_abi_decode_result(const eth_abi_fragment_t *f, const uint8_t *data, size_t len,
                          json_t **out, err_t *err) {
    return eth_abi_decode(f->outputs, f->noutputs, data, len, out, err);
}

static bool hashed_when_indexed(const eth_abi_type_t *t) {
    return t->kind == ETH_ABI_STRING || t->kind == ETH_ABI_BYTES || t->kind == ETH_ABI_ARRAY ||
           t->kind == ETH_ABI_FIXED_ARRAY || t->kind == ETH_ABI_TUPLE;
}

int eth_abi_encode_log(arena_t *a, const eth_abi_fragment_t *f, const json_t *values,
                       eth_buf_t *topics, eth_buf_t *data, err_t *err) {
    if (f->kind != ETH_FRAG_EVENT) return err_set(err, R3E_EINVAL, "abi: not an event fragment");
    if (!json_is_array(values) || json_array_size(values) != f->ninputs)
        return err_set(err, R3E_EINVAL, "abi: event %s needs %zu values", f->name, f->ninputs);
    if (!f->anonymous) {
        uint8_t t0[32];
        eth_abi_event_topic(a, f, t0);
        eth_buf_put(topics, t0, 32);
    }
    eth_abi_type_t **plain = arena_alloc(a, (f->ninputs + 1) * sizeof *plain);
    json_t *plain_values = json_array();
    size_t np = 0;
    int rc = 0;
    for (size_t i = 0; i < f->ninputs && rc == 0; i++) {
        const eth_abi_type_t *t = f->inputs[i];
        const json_t *v = json_array_get(values, i);
        if (!t->indexed) {
            plain[np++] = f->inputs[i];
            json_array_append(plain_values, (json_t *)v);
            continue;
        }
        uint8_t h[32];
        if (t->kind == ETH_ABI_STRING) {
            if (!json_is_string(v)) {
                rc = err_set(err, R3E_EINVAL, "abi: indexed %s must be a string",
                             t->name ? t->name : "value");
                break;
            }
            eth_keccak256(json_string_value(v), json_string_length(v), h);
        } else if (t->kind == ETH_ABI_BYTES) {
            uint8_t *p;
            size_t n = 0;
            if ((rc = eth_hex_decode(json_string_value(v), &p, &n, "indexed bytes", err)) < 0)
                break;
            eth_keccak256(p, n, h);
            free(p);
        } else if (hashed_when_indexed(t)) {
            rc = err_set(err, R3E_EINVAL, "abi: indexed arrays and tuples are not supported");
            break;
        } else {
            eth_buf_t w = {0};
            rc = encode_value(t, v, &w, t->name ? t->name : "value", err);
            if (rc == 0) memcpy(h, w.data, 32);
            eth_buf_free(&w);
            if (rc < 0) break;
        }
        eth_buf_put(topics, h, 32);
    }
    if (rc == 0) rc = eth_abi_encode(plain, np, plain_values, data, err);
    json_decref(plain_values);
    return rc;
}

int eth_abi_decode_log(arena_t *a, const eth_abi_fragment_t *f, const uint8_t (*topics)[32],
                       size_t ntopics, const uint8_t *data, size_t len, json_t **out, err_t *err) {
    if (f->kind != ETH_FRAG_EVENT) return err_set(err, R3E_EINVAL, "abi: not an event fragment");
    size_t first = 0;
    if (!f->anonymous) {
        uint8_t t0[32];
        eth_abi_event_topic(a, f, t0);
        if (ntopics == 0 || memcmp(topics[0], t0, 32))
            return err_set(err, R3E_EINVAL, "abi: log topic0 does not match event %s", f->name);
        first = 1;
    }
    size_t nindexed = 0;
    eth_abi_type_t **plain = arena_alloc(a, (f->ninputs + 1) * sizeof *plain);
    size_t np = 0;
    for (size_t i = 0; i < f->ninputs; i++) {
        if (f->inputs[i]->indexed)
            nindexed++;
        else
            plain[np++] = f->inputs[i];
    }
    if (ntopics != first + nindexed)
        return err_set(err, R3E_EINVAL, "abi: event %s expects %zu topics, log has %zu", f->name,
                       first + nindexed, ntopics);
    json_t *plain_values;
    if (eth_abi_decode(plain, np, data, len, &plain_values, err) < 0) return -1;
    json_t *res = json_array();
    size_t ti = first, pi = 0;
    for (size_t i = 0; i < f->ninputs; i++) {
        const eth_abi_type_t *t = f->inputs[i];
        if (!t->indexed) {
            json_array_append(res, json_array_get(plain_values, pi++));
            continue;
        }
        const uint8_t *topic = topics[ti++];
        if (hashed_when_indexed(t)) {
            json_array_append_new(res, hex_json(topic, 32));
            continue;
        }
        dec_t d = {.budget = 1, .err = err};
        json_t *v = decode_word(&d, t, topic, 0);
        if (!v) {
            json_decref(plain_values);
            json_decref(res);
            return -1;
        }
        json_array_append_new(res, v);
    }
    json_decref(plain_values);
    *out = res;
    return 0;
}
