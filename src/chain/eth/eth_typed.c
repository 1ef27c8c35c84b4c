/* Signed messages: EIP-191 personal_sign ("\x19Ethereum Signed Message:\n" + length) and
 * EIP-712 typed structured data (encodeType, hashStruct, domain separator, digest). Types and
 * values are jansson trees in the shape ethers' TypedDataEncoder takes. */
#include "chain/eth/eth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TYPED_MAX_DEPTH 64

void eth_message_hash(const uint8_t *msg, size_t len, uint8_t out[32]) {
    eth_buf_t b = {0};
    char prefix[64];
    int n = snprintf(prefix, sizeof prefix,
                     "\x19"
                     "Ethereum Signed Message:\n%zu",
                     len);
    eth_buf_put(&b, prefix, (size_t)n);
    eth_buf_put(&b, msg, len);
    eth_keccak256(b.data, b.len, out);
    eth_buf_free(&b);
}

int eth_message_sign(const uint8_t priv[32], const uint8_t *msg, size_t len, eth_sig_t *sig,
                     err_t *err) {
    uint8_t h[32];
    eth_message_hash(msg, len, h);
    return eth_sign_digest(priv, h, sig, err);
}

/* ---- EIP-712 ---- */

/* "Person[2][]" -> "Person" (everything before the first '['). */
static void base_type(const char *type, char *out, size_t cap) {
    size_t n = strcspn(type, "[");
    if (n >= cap) n = cap - 1;
    memcpy(out, type, n);
    out[n] = '\0';
}

static const json_t *struct_fields(const json_t *types, const char *name) {
    if (!name || !strcmp(name, "EIP712Domain")) return NULL;
    const json_t *f = json_object_get(types, name);
    return json_is_array(f) ? f : NULL;
}

static int field_strings(const json_t *field, const char **name, const char **type, err_t *err) {
    *name = json_string_value(json_object_get(field, "name"));
    *type = json_string_value(json_object_get(field, "type"));
    if (!*name || !*type)
        return err_set(err, R3E_EINVAL, "typed data: each field needs a name and a type");
    return 0;
}

/* Adds every struct type reachable from name to deps (a JSON object used as a set). */
static int collect_deps(const json_t *types, const char *name, json_t *deps, err_t *err) {
    if (json_object_get(deps, name)) return 0;
    const json_t *fields = struct_fields(types, name);
    if (!fields) return 0;
    json_object_set_new(deps, name, json_true());
    size_t i;
    const json_t *f;
    json_array_foreach(fields, i, f) {
        const char *fname, *ftype;
        if (field_strings(f, &fname, &ftype, err) < 0) return -1;
        char base[256];
        base_type(ftype, base, sizeof base);
        if (collect_deps(types, base, deps, err) < 0) return -1;
    }
    return 0;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void append_type(eth_buf_t *b, const char *name, const json_t *fields) {
    eth_buf_put(b, name, strlen(name));
    eth_buf_byte(b, '(');
    size_t i;
    const json_t *f;
    json_array_foreach(fields, i, f) {
        if (i) eth_buf_byte(b, ',');
        const char *ft = json_string_value(json_object_get(f, "type"));
        const char *fn = json_string_value(json_object_get(f, "name"));
        eth_buf_put(b, ft, strlen(ft));
        eth_buf_byte(b, ' ');
        eth_buf_put(b, fn, strlen(fn));
    }
    eth_buf_byte(b, ')');
}

int eth_typed_encode_type(const json_t *types, const char *primary, char **out, err_t *err) {
    const json_t *pf = struct_fields(types, primary);
    if (!pf)
        return err_set(err, R3E_EINVAL, "typed data: unknown type \"%s\"",
                       primary ? primary : "(none)");
    json_t *deps = json_object();
    if (collect_deps(types, primary, deps, err) < 0) {
        json_decref(deps);
        return -1;
    }
    size_t n = 0;
    const char **names = malloc((json_object_size(deps) + 1) * sizeof *names);
    const char *key;
    json_t *val;
    json_object_foreach(deps, key, val) {
        if (strcmp(key, primary)) names[n++] = key;
    }
    qsort(names, n, sizeof *names, cmp_str); /* referenced types sorted by name (EIP-712) */
    eth_buf_t b = {0};
    append_type(&b, primary, pf);
    for (size_t i = 0; i < n; i++)
        append_type(&b, names[i], struct_fields(types, names[i]));
    eth_buf_byte(&b, '\0');
    free(names);
    json_decref(deps);
    *out = (char *)b.data;
    return 0;
}

static int hash_struct(const json_t *types, const char *name, const json_t *value, int depth,
                       uint8_t out[32], err_t *err);

/* The 32-byte encodeData word for one field value. */
static int encode_field(const json_t *types, const char *type, const json_t *v, int depth,
                        uint8_t out[32], err_t *err) {
    if (depth > TYPED_MAX_DEPTH) return err_set(err, R3E_EINVAL, "typed data: nested too deeply");
    if (!v) return err_set(err, R3E_EINVAL, "typed data: missing value of type %s", type);
    size_t tl = strlen(type);
    if (tl > 0 && type[tl - 1] == ']') {
        /* Arrays: keccak256 of the concatenated element encodings. */
        const char *open = strrchr(type, '[');
        if (!open) return err_set(err, R3E_EINVAL, "typed data: bad array type %s", type);
        char elem[256];
        size_t el = (size_t)(open - type);
        if (el == 0 || el >= sizeof elem)
            return err_set(err, R3E_EINVAL, "typed data: bad array type %s", type);
        memcpy(elem, type, el);
        elem[el] = '\0';
        if (!json_is_array(v))
            return err_set(err, R3E_EINVAL, "typed data: %s needs an array", type);
        if (open[1] != ']') {
            char *end;
            unsigned long k = strtoul(open + 1, &end, 10);
            if (*end != ']' || k != json_array_size(v))
                return err_set(err, R3E_EINVAL, "typed data: array length mismatch for %s", type);
        }
        eth_buf_t b = {0};
        size_t i;
        const json_t *item;
        json_array_foreach(v, i, item) {
            uint8_t w[32];
            if (encode_field(types, elem, item, depth + 1, w, err) < 0) {
                eth_buf_free(&b);
                return -1;
            }
            eth_buf_put(&b, w, 32);
        }
        eth_keccak256(b.data, b.len, out);
        eth_buf_free(&b);
        return 0;
    }
    if (struct_fields(types, type)) return hash_struct(types, type, v, depth + 1, out, err);
    if (!strcmp(type, "string")) {
        if (!json_is_string(v)) return err_set(err, R3E_EINVAL, "typed data: expected a string");
        eth_keccak256(json_string_value(v), json_string_length(v), out);
        return 0;
    }
    if (!strcmp(type, "bytes")) {
        uint8_t *p;
        size_t n;
        if (eth_hex_decode(json_string_value(v), &p, &n, "typed data bytes", err) < 0) return -1;
        eth_keccak256(p, n, out);
        free(p);
        return 0;
    }
    /* Atomic types share the ABI word encoding. */
    arena_t *a = arena_create(512);
    eth_abi_type_t *t;
    int rc = eth_abi_parse_type(a, type, &t, err);
    if (rc == 0 && t->kind >= ETH_ABI_BYTES)
        rc = err_set(err, R3E_EINVAL, "typed data: unknown type \"%s\"", type);
    if (rc == 0) {
        json_t *one = json_pack("[O]", v);
        eth_buf_t b = {0};
        rc = eth_abi_encode(&t, 1, one, &b, err);
        if (rc == 0) memcpy(out, b.data, 32);
        eth_buf_free(&b);
        json_decref(one);
    }
    arena_destroy(a);
    return rc;
}

static int hash_struct(const json_t *types, const char *name, const json_t *value, int depth,
                       uint8_t out[32], err_t *err) {
    const json_t *fields = struct_fields(types, name);
    if (!fields)
        return err_set(err, R3E_EINVAL, "typed data: unknown type \"%s\"", name ? name : "(none)");
    if (!json_is_object(value))
        return err_set(err, R3E_EINVAL, "typed data: value of %s must be an object", name);
    char *enc;
    if (eth_typed_encode_type(types, name, &enc, err) < 0) return -1;
    eth_buf_t b = {0};
    uint8_t w[32];
    eth_id(enc, w);
    free(enc);
    eth_buf_put(&b, w, 32);
    size_t i;
    const json_t *f;
    json_array_foreach(fields, i, f) {
        const char *fname, *ftype;
        if (field_strings(f, &fname, &ftype, err) < 0 ||
            encode_field(types, ftype, json_object_get(value, fname), depth, w, err) < 0) {
            eth_buf_free(&b);
            return -1;
        }
        eth_buf_put(&b, w, 32);
    }
    eth_keccak256(b.data, b.len, out);
    eth_buf_free(&b);
    return 0;
}

int eth_typed_hash_struct(const json_t *types, const char *primary, const json_t *value,
                          uint8_t out[32], err_t *err) {
    return hash_struct(types, primary, value, 0, out, err);
}

/* ethers derives EIP712Domain from the fields present, always in this order. */
static const char *const domain_fields[][2] = {{"name", "string"},
                                               {"version", "string"},
                                               {"chainId", "uint256"},
                                               {"verifyingContract", "address"},
                                               {"salt", "bytes32"}};

int eth_typed_domain_separator(const json_t *domain, uint8_t out[32], err_t *err) {
    if (!json_is_object(domain))
        return err_set(err, R3E_EINVAL, "typed data: domain must be an object");
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)domain, key, val) {
        bool known = false;
        for (size_t i = 0; i < 5; i++)
            known |= !strcmp(key, domain_fields[i][0]);
        if (!known) return err_set(err, R3E_EINVAL, "typed data: invalid domain key \"%s\"", key);
    }
    /* encodeType is "EIP712Domain(string name,…)" over the present fields. */
    eth_buf_t type = {0}, b = {0};
    eth_buf_put(&type, "EIP712Domain(", 13);
    for (size_t i = 0, n = 0; i < 5; i++) {
        if (!json_object_get(domain, domain_fields[i][0])) continue;
        if (n++) eth_buf_byte(&type, ',');
        eth_buf_put(&type, domain_fields[i][1], strlen(domain_fields[i][1]));
        eth_buf_byte(&type, ' ');
        eth_buf_put(&type, domain_fields[i][0], strlen(domain_fields[i][0]));
    }
    eth_buf_byte(&type, ')');
    uint8_t w[32];
    eth_keccak256(type.data, type.len, w);
    eth_buf_free(&type);
    eth_buf_put(&b, w, 32);
    int rc = 0;
    for (size_t i = 0; i < 5 && rc == 0; i++) {
        const json_t *v = json_object_get(domain, domain_fields[i][0]);
        if (!v) continue;
        rc = encode_field(NULL, domain_fields[i][1], v, 0, w, err);
        eth_buf_put(&b, w, 32);
    }
    if (rc == 0) eth_keccak256(b.data, b.len, out);
    eth_buf_free(&b);
    return rc;
}

/* The one struct type that no other type references (ethers' getPrimaryType). */
int eth_typed_primary_type(const json_t *types, const char **out, err_t *err) {
    if (!json_is_object(types))
        return err_set(err, R3E_EINVAL, "typed data: types must be an object");
    const char *name, *found = NULL;
    json_t *fields;
    json_object_foreach((json_t *)types, name, fields) {
        if (!strcmp(name, "EIP712Domain")) continue;
        bool referenced = false;
        const char *other;
        json_t *ofields;
        json_object_foreach((json_t *)types, other, ofields) {
            if (!strcmp(other, name) || !strcmp(other, "EIP712Domain") || !json_is_array(ofields))
                continue;
            size_t i;
            json_t *f;
            json_array_foreach(ofields, i, f) {
                char base[256];
                const char *t = json_string_value(json_object_get(f, "type"));
                if (!t) continue;
                base_type(t, base, sizeof base);
                if (!strcmp(base, name)) referenced = true;
            }
        }
        if (referenced) continue;
        if (found)
            return err_set(err, R3E_EINVAL, "typed data: ambiguous primary types %s and %s", found,
                           name);
        found = name;
    }
    if (!found) return err_set(err, R3E_EINVAL, "typed data: no primary type");
    *out = found;
    return 0;
}

int eth_typed_hash(const json_t *domain, const json_t *types, const char *primary,
                   const json_t *message, uint8_t out[32], err_t *err) {
    if (!json_is_object(types))
        return err_set(err, R3E_EINVAL, "typed data: types must be an object");
    if (!primary && eth_typed_primary_type(types, &primary, err) < 0) return -1;
    uint8_t buf[66] = {0x19, 0x01};
    if (eth_typed_domain_separator(domain, buf + 2, err) < 0 ||
        eth_typed_hash_struct(types, primary, message, buf + 34, err) < 0)
        return -1;
    eth_keccak256(buf, sizeof buf, out);
    return 0;
}

int eth_typed_sign(const uint8_t priv[32], const json_t *domain, const json_t *types,
                   const char *primary, const json_t *message, eth_sig_t *sig, err_t *err) {
    uint8_t h[32];
    if (eth_typed_hash(domain, types, primary, message, h, err) < 0) return -1;
    return eth_sign_digest(priv, h, sig, err);
}
