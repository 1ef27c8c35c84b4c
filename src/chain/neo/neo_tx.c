/* Neo N3 transactions: validation, serialization, strict parsing, hashing and signing.
 * Validation follows the node's own checks (Transaction.DeserializeUnsigned, Signer,
 * WitnessRule/WitnessCondition, the attribute classes), so anything we build or accept
 * is something the network would accept too. */
#include <openssl/sha.h>
#include <string.h>

#include "chain/neo/neo.h"

/* ---- validation ----------------------------------------------------------------------- */

static int cond_validate(const neo_condition_t *c, int depth, err_t *err) {
    switch (c->type) {
    case NEO_COND_BOOLEAN:
    case NEO_COND_SCRIPT_HASH:
    case NEO_COND_CALLED_BY_ENTRY:
    case NEO_COND_CALLED_BY_CONTRACT:
        return 0;
    case NEO_COND_GROUP:
    case NEO_COND_CALLED_BY_GROUP:
        return neo_pubkey_check(c->group, err) == 0
                   ? 0
                   : err_set(err, R3E_EINVAL, "witness condition: group is not a public key");
    case NEO_COND_NOT:
    case NEO_COND_AND:
    case NEO_COND_OR:
        if (depth <= 0)
            return err_set(err, R3E_EINVAL, "witness condition: nested deeper than %d",
                           NEO_CONDITION_MAX_DEPTH);
        if (c->type == NEO_COND_NOT && c->nitems != 1)
            return err_set(err, R3E_EINVAL, "witness condition: Not takes exactly one item");
        if (c->nitems == 0 || c->nitems > NEO_SIGNER_MAX_SUBITEMS)
            return err_set(err, R3E_EINVAL, "witness condition: And/Or needs 1..%d items",
                           NEO_SIGNER_MAX_SUBITEMS);
        for (size_t i = 0; i < c->nitems; i++)
            if (cond_validate(&c->items[i], depth - 1, err) != 0) return -1;
        return 0;
    default:
        return err_set(err, R3E_EINVAL, "witness condition: unknown type 0x%02x", c->type);
    }
}

static int signer_validate(const neo_signer_t *s, err_t *err) {
    const uint8_t known = NEO_SCOPE_CALLED_BY_ENTRY | NEO_SCOPE_CUSTOM_CONTRACTS |
                          NEO_SCOPE_CUSTOM_GROUPS | NEO_SCOPE_WITNESS_RULES | NEO_SCOPE_GLOBAL;
    if (s->scopes & ~known)
        return err_set(err, R3E_EINVAL, "signer: invalid witness scope 0x%02x", s->scopes);
    if ((s->scopes & NEO_SCOPE_GLOBAL) && s->scopes != NEO_SCOPE_GLOBAL)
        return err_set(err, R3E_EINVAL, "signer: Global scope cannot be combined (0x%02x)",
                       s->scopes);
    if (s->ncontracts && !(s->scopes & NEO_SCOPE_CUSTOM_CONTRACTS))
        return err_set(err, R3E_EINVAL, "signer: allowed contracts without CustomContracts");
    if (s->ngroups && !(s->scopes & NEO_SCOPE_CUSTOM_GROUPS))
        return err_set(err, R3E_EINVAL, "signer: allowed groups without CustomGroups");
    if (s->nrules && !(s->scopes & NEO_SCOPE_WITNESS_RULES))
        return err_set(err, R3E_EINVAL, "signer: rules without WitnessRules scope");
    if (s->ncontracts > NEO_SIGNER_MAX_SUBITEMS || s->ngroups > NEO_SIGNER_MAX_SUBITEMS ||
        s->nrules > NEO_SIGNER_MAX_SUBITEMS)
        return err_set(err, R3E_EINVAL, "signer: more than %d contracts, groups or rules",
                       NEO_SIGNER_MAX_SUBITEMS);
    for (size_t i = 0; i < s->ngroups; i++)
        if (neo_pubkey_check(s->groups[i], err) != 0)
            return err_set(err, R3E_EINVAL, "signer: allowed group %zu is not a public key", i);
    for (size_t i = 0; i < s->nrules; i++) {
        if (s->rules[i].action > 1)
            return err_set(err, R3E_EINVAL, "witness rule: invalid action %u", s->rules[i].action);
        if (cond_validate(&s->rules[i].condition, NEO_CONDITION_MAX_DEPTH, err) != 0) return -1;
    }
    return 0;
}

static bool oracle_code_valid(uint8_t c) {
    static const uint8_t codes[] = {0x00, 0x10, 0x12, 0x14, 0x16, 0x18, 0x1a, 0x1c, 0x1f, 0xff};
    for (size_t i = 0; i < sizeof codes; i++)
        if (codes[i] == c) return true;
    return false;
}

static int attr_validate(const neo_attr_t *a, err_t *err) {
    switch (a->type) {
    case NEO_ATTR_HIGH_PRIORITY:
    case NEO_ATTR_NOT_VALID_BEFORE:
    case NEO_ATTR_CONFLICTS:
        return 0;
    case NEO_ATTR_ORACLE_RESPONSE:
        if (!oracle_code_valid(a->oracle_code))
            return err_set(err, R3E_EINVAL, "oracle response: unknown code 0x%02x", a->oracle_code);
        if (a->result_len > NEO_ORACLE_MAX_RESULT)
            return err_set(err, R3E_EINVAL, "oracle response: result over %d bytes",
                           NEO_ORACLE_MAX_RESULT);
        if (a->oracle_code != 0 && a->result_len != 0)
            return err_set(err, R3E_EINVAL, "oracle response: result with a failure code");
        return 0;
    default:
        return err_set(err, R3E_EINVAL, "attribute: unknown type 0x%02x", a->type);
    }
}

static int attrs_validate(const neo_tx_t *tx, err_t *err) {
    for (size_t i = 0; i < tx->nattrs; i++) {
        if (attr_validate(&tx->attrs[i], err) != 0) return -1;
        if (tx->attrs[i].type == NEO_ATTR_CONFLICTS) continue; /* the only repeatable one */
        for (size_t j = 0; j < i; j++)
            if (tx->attrs[j].type == tx->attrs[i].type)
                return err_set(err, R3E_EINVAL, "attribute: type 0x%02x appears twice",
                               tx->attrs[i].type);
    }
    return 0;
}

int neo_tx_validate(const neo_tx_t *tx, bool with_witnesses, err_t *err) {
    if (tx->version != 0)
        return err_set(err, R3E_EINVAL, "transaction: version %u, only 0 exists", tx->version);
    if (tx->system_fee < 0 || tx->network_fee < 0)
        return err_set(err, R3E_EINVAL, "transaction: negative fee");
    if (tx->system_fee > INT64_MAX - tx->network_fee)
        return err_set(err, R3E_EINVAL, "transaction: fees overflow");
    if (tx->nsigners < 1 || tx->nsigners > NEO_TX_MAX_SIGNERS)
        return err_set(err, R3E_EINVAL, "transaction: %zu signers, need 1..%d", tx->nsigners,
                       NEO_TX_MAX_SIGNERS);
    if (tx->nattrs > (size_t)(NEO_TX_MAX_ATTRIBUTES - tx->nsigners))
        return err_set(err, R3E_EINVAL, "transaction: signers + attributes exceed %d",
                       NEO_TX_MAX_ATTRIBUTES);
    for (size_t i = 0; i < tx->nsigners; i++) {
        if (signer_validate(&tx->signers[i], err) != 0) return -1;
        for (size_t j = 0; j < i; j++)
            if (memcmp(tx->signers[i].account, tx->signers[j].account, 20) == 0)
                return err_set(err, R3E_EINVAL, "transaction: duplicate signer %zu", i);
    }
    if (attrs_validate(tx, err) != 0) return -1;
    if (tx->script_len == 0 || tx->script_len > NEO_TX_MAX_SCRIPT)
        return err_set(err, R3E_EINVAL, "transaction: script must be 1..%d bytes, got %zu",
                       NEO_TX_MAX_SCRIPT, tx->script_len);
    if (!with_witnesses) return 0;
    if (tx->nwitnesses != tx->nsigners)
        return err_set(err, R3E_EINVAL, "transaction: %zu witnesses for %zu signers",
                       tx->nwitnesses, tx->nsigners);
    for (size_t i = 0; i < tx->nwitnesses; i++)
        if (tx->witnesses[i].invocation_len > NEO_MAX_INVOCATION_SCRIPT ||
            tx->witnesses[i].verification_len > NEO_MAX_VERIFICATION_SCRIPT)
            return err_set(err, R3E_EINVAL, "witness %zu: script over %d bytes", i,
                           NEO_MAX_INVOCATION_SCRIPT);
    return 0;
}

/* ---- serialization -------------------------------------------------------------------- */

static void put_le(neo_buf_t *b, uint64_t v, size_t n) {
    uint8_t t[8];
    for (size_t i = 0; i < n; i++)
        t[i] = (uint8_t)(v >> (8 * i));
    neo_buf_append(b, t, n);
}

static void put_varbytes(neo_buf_t *b, const uint8_t *p, size_t n) {
    neo_buf_varint(b, n);
    neo_buf_append(b, p, n);
}

static void put_condition(neo_buf_t *b, const neo_condition_t *c) {
    neo_buf_byte(b, c->type);
    switch (c->type) {
    case NEO_COND_BOOLEAN:
        neo_buf_byte(b, c->expression ? 1 : 0);
        break;
    case NEO_COND_NOT:
        put_condition(b, &c->items[0]);
        break;
    case NEO_COND_AND:
    case NEO_COND_OR:
        neo_buf_varint(b, c->nitems);
        for (size_t i = 0; i < c->nitems; i++)
            put_condition(b, &c->items[i]);
        break;
    case NEO_COND_SCRIPT_HASH:
    case NEO_COND_CALLED_BY_CONTRACT:
        neo_buf_append(b, c->hash, 20);
        break;
    case NEO_COND_GROUP:
    case NEO_COND_CALLED_BY_GROUP:
        neo_buf_append(b, c->group, 33);
        break;
    default:
        break; /* CalledByEntry: type byte only */
    }
}

static void put_signer(neo_buf_t *b, const neo_signer_t *s) {
    neo_buf_append(b, s->account, 20);
    neo_buf_byte(b, s->scopes);
    if (s->scopes & NEO_SCOPE_CUSTOM_CONTRACTS) {
        neo_buf_varint(b, s->ncontracts);
        for (size_t i = 0; i < s->ncontracts; i++)
            neo_buf_append(b, s->contracts[i], 20);
    }
    if (s->scopes & NEO_SCOPE_CUSTOM_GROUPS) {
        neo_buf_varint(b, s->ngroups);
        for (size_t i = 0; i < s->ngroups; i++)
            neo_buf_append(b, s->groups[i], 33);
    }
    if (s->scopes & NEO_SCOPE_WITNESS_RULES) {
        neo_buf_varint(b, s->nrules);
        for (size_t i = 0; i < s->nrules; i++) {
            neo_buf_byte(b, s->rules[i].action);
            put_condition(b, &s->rules[i].condition);
        }
    }
}

static void put_attr(neo_buf_t *b, const neo_attr_t *a) {
    neo_buf_byte(b, a->type);
    switch (a->type) {
    case NEO_ATTR_ORACLE_RESPONSE:
        put_le(b, a->oracle_id, 8);
        neo_buf_byte(b, a->oracle_code);
        put_varbytes(b, a->result, a->result_len);
        break;
    case NEO_ATTR_NOT_VALID_BEFORE:
        put_le(b, a->height, 4);
        break;
    case NEO_ATTR_CONFLICTS:
        neo_buf_append(b, a->hash, 32);
        break;
    default:
        break;
    }
}

/* Writes without validating: callers validate once, hashing reuses this. */
static void put_unsigned(neo_buf_t *b, const neo_tx_t *tx) {
    neo_buf_byte(b, tx->version);
    put_le(b, tx->nonce, 4);
    put_le(b, (uint64_t)tx->system_fee, 8);
    put_le(b, (uint64_t)tx->network_fee, 8);
    put_le(b, tx->valid_until_block, 4);
    neo_buf_varint(b, tx->nsigners);
    for (size_t i = 0; i < tx->nsigners; i++)
        put_signer(b, &tx->signers[i]);
    neo_buf_varint(b, tx->nattrs);
    for (size_t i = 0; i < tx->nattrs; i++)
        put_attr(b, &tx->attrs[i]);
    put_varbytes(b, tx->script, tx->script_len);
}

int neo_tx_serialize(const neo_tx_t *tx, bool with_witnesses, neo_buf_t *out, err_t *err) {
    if (neo_tx_validate(tx, with_witnesses, err) != 0) return -1;
    size_t start = out->len;
    put_unsigned(out, tx);
    if (with_witnesses) {
        neo_buf_varint(out, tx->nwitnesses);
        for (size_t i = 0; i < tx->nwitnesses; i++) {
            put_varbytes(out, tx->witnesses[i].invocation, tx->witnesses[i].invocation_len);
            put_varbytes(out, tx->witnesses[i].verification, tx->witnesses[i].verification_len);
        }
    }
    if (out->len - start > NEO_TX_MAX_SIZE) {
        size_t n = out->len - start;
        out->len = start;
        return err_set(err, R3E_ETOOBIG, "transaction: %zu bytes exceeds %d", n, NEO_TX_MAX_SIZE);
    }
    return 0;
}

int neo_tx_hash(const neo_tx_t *tx, uint8_t hash[32], err_t *err) {
    neo_buf_t b = {0};
    if (neo_tx_serialize(tx, false, &b, err) != 0) {
        neo_buf_free(&b);
        return -1;
    }
    SHA256(b.data, b.len, hash);
    neo_buf_free(&b);
    return 0;
}

int neo_tx_sign_data(const neo_tx_t *tx, uint32_t magic, uint8_t out[36], err_t *err) {
    for (int i = 0; i < 4; i++)
        out[i] = (uint8_t)(magic >> (8 * i));
    return neo_tx_hash(tx, out + 4, err);
}

int neo_tx_sign(const neo_tx_t *tx, uint32_t magic, const uint8_t priv[32], uint8_t sig[64],
                err_t *err) {
    uint8_t data[36];
    if (neo_tx_sign_data(tx, magic, data, err) != 0) return -1;
    return neo_sign(priv, data, sizeof data, sig, err);
}

int neo_tx_sign_key(const neo_tx_t *tx, uint32_t magic, const neo_key_t *key, uint8_t sig[64],
                    err_t *err) {
    uint8_t data[36];
    if (neo_tx_sign_data(tx, magic, data, err) != 0) return -1;
    return neo_key_sign(key, data, sizeof data, sig, err);
}

int neo_tx_verify(const neo_tx_t *tx, uint32_t magic, const uint8_t pub[33], const uint8_t sig[64],
                  err_t *err) {
    uint8_t data[36];
    if (neo_tx_sign_data(tx, magic, data, err) != 0) return -1;
    return neo_verify(pub, data, sizeof data, sig, err);
}

void neo_invocation_script(const uint8_t sig[64], uint8_t out[66]) {
    out[0] = NEO_OP_PUSHDATA1;
    out[1] = 64;
    memcpy(out + 2, sig, 64);
}

/* ---- strict parsing ------------------------------------------------------------------- */

typedef struct {
    const uint8_t *p;
    size_t n, off;
    arena_t *a;
    err_t *err;
} reader_t;

static int rd_need(reader_t *r, size_t k, const char *what) {
    if (r->n - r->off < k)
        return err_set(r->err, R3E_EINVAL, "transaction: truncated in %s at byte %zu", what,
                       r->off);
    return 0;
}

static int rd_le(reader_t *r, size_t k, uint64_t *v, const char *what) {
    if (rd_need(r, k, what) != 0) return -1;
    *v = 0;
    for (size_t i = 0; i < k; i++)
        *v |= (uint64_t)r->p[r->off + i] << (8 * i);
    r->off += k;
    return 0;
}

static int rd_copy(reader_t *r, void *dst, size_t k, const char *what) {
    if (rd_need(r, k, what) != 0) return -1;
    memcpy(dst, r->p + r->off, k);
    r->off += k;
    return 0;
}

/* Canonical varint no larger than max (the node bounds every count and length). */
static int rd_varint(reader_t *r, uint64_t max, uint64_t *v, const char *what) {
    uint64_t fb;
    if (rd_le(r, 1, &fb, what) != 0) return -1;
    uint64_t min = 0;
    if (fb == 0xfd) {
        if (rd_le(r, 2, v, what) != 0) return -1;
        min = 0xfd;
    } else if (fb == 0xfe) {
        if (rd_le(r, 4, v, what) != 0) return -1;
        min = 0x10000;
    } else if (fb == 0xff) {
        if (rd_le(r, 8, v, what) != 0) return -1;
        min = 0x100000000ull;
    } else {
        *v = fb;
    }
    if (*v < min)
        return err_set(r->err, R3E_EINVAL, "transaction: non-canonical varint in %s", what);
    if (*v > max)
        return err_set(r->err, R3E_EINVAL, "transaction: %s count/length %llu exceeds %llu", what,
                       (unsigned long long)*v, (unsigned long long)max);
    return 0;
}

static int rd_varbytes(reader_t *r, size_t max, const uint8_t **out, size_t *len,
                       const char *what) {
    uint64_t n;
    if (rd_varint(r, max, &n, what) != 0 || rd_need(r, (size_t)n, what) != 0) return -1;
    uint8_t *d = arena_alloc(r->a, n ? (size_t)n : 1);
    memcpy(d, r->p + r->off, (size_t)n);
    r->off += (size_t)n;
    *out = d;
    *len = (size_t)n;
    return 0;
}

static int rd_condition(reader_t *r, neo_condition_t *c, int depth) {
    uint64_t t;
    if (rd_le(r, 1, &t, "witness condition") != 0) return -1;
    memset(c, 0, sizeof *c);
    c->type = (uint8_t)t;
    switch (c->type) {
    case NEO_COND_BOOLEAN: {
        uint64_t v;
        if (rd_le(r, 1, &v, "witness condition") != 0) return -1;
        if (v > 1)
            return err_set(r->err, R3E_EINVAL, "witness condition: boolean byte 0x%02x",
                           (unsigned)v);
        c->expression = v == 1;
        return 0;
    }
    case NEO_COND_NOT:
    case NEO_COND_AND:
    case NEO_COND_OR: {
        if (depth <= 0)
            return err_set(r->err, R3E_EINVAL, "witness condition: nested deeper than %d",
                           NEO_CONDITION_MAX_DEPTH);
        uint64_t n = 1;
        if (c->type != NEO_COND_NOT &&
            rd_varint(r, NEO_SIGNER_MAX_SUBITEMS, &n, "witness condition items") != 0)
            return -1;
        if (n == 0) return err_set(r->err, R3E_EINVAL, "witness condition: empty And/Or");
        c->items = arena_calloc(r->a, (size_t)n * sizeof *c->items);
        c->nitems = (size_t)n;
        for (size_t i = 0; i < n; i++)
            if (rd_condition(r, &c->items[i], depth - 1) != 0) return -1;
        return 0;
    }
    case NEO_COND_SCRIPT_HASH:
    case NEO_COND_CALLED_BY_CONTRACT:
        return rd_copy(r, c->hash, 20, "witness condition");
    case NEO_COND_GROUP:
    case NEO_COND_CALLED_BY_GROUP:
        if (rd_copy(r, c->group, 33, "witness condition") != 0) return -1;
        return neo_pubkey_check(c->group, r->err);
    case NEO_COND_CALLED_BY_ENTRY:
        return 0;
    default:
        return err_set(r->err, R3E_EINVAL, "witness condition: unknown type 0x%02x", c->type);
    }
}

static int rd_signer(reader_t *r, neo_signer_t *s) {
    uint64_t v;
    memset(s, 0, sizeof *s);
    if (rd_copy(r, s->account, 20, "signer") != 0 || rd_le(r, 1, &v, "signer") != 0) return -1;
    s->scopes = (uint8_t)v;
    if (s->scopes & NEO_SCOPE_CUSTOM_CONTRACTS) {
        if (rd_varint(r, NEO_SIGNER_MAX_SUBITEMS, &v, "allowed contracts") != 0) return -1;
        uint8_t(*c)[20] = arena_alloc(r->a, v ? v * 20 : 1);
        for (size_t i = 0; i < v; i++)
            if (rd_copy(r, c[i], 20, "allowed contracts") != 0) return -1;
        s->contracts = (const uint8_t(*)[20])c;
        s->ncontracts = (size_t)v;
    }
    if (s->scopes & NEO_SCOPE_CUSTOM_GROUPS) {
        if (rd_varint(r, NEO_SIGNER_MAX_SUBITEMS, &v, "allowed groups") != 0) return -1;
        uint8_t(*g)[33] = arena_alloc(r->a, v ? v * 33 : 1);
        for (size_t i = 0; i < v; i++)
            if (rd_copy(r, g[i], 33, "allowed groups") != 0) return -1;
        s->groups = (const uint8_t(*)[33])g;
        s->ngroups = (size_t)v;
    }
    if (s->scopes & NEO_SCOPE_WITNESS_RULES) {
        if (rd_varint(r, NEO_SIGNER_MAX_SUBITEMS, &v, "witness rules") != 0) return -1;
        neo_rule_t *rules = arena_calloc(r->a, v ? v * sizeof *rules : 1);
        for (size_t i = 0; i < v; i++) {
            uint64_t act;
            if (rd_le(r, 1, &act, "witness rule") != 0) return -1;
            rules[i].action = (uint8_t)act;
            if (act > 1)
                return err_set(r->err, R3E_EINVAL, "witness rule: invalid action %u",
                               (unsigned)act);
            if (rd_condition(r, &rules[i].condition, NEO_CONDITION_MAX_DEPTH) != 0) return -1;
        }
        s->rules = rules;
        s->nrules = (size_t)v;
    }
    return signer_validate(s, r->err);
}

static int rd_attr(reader_t *r, neo_attr_t *a) {
    uint64_t v;
    memset(a, 0, sizeof *a);
    if (rd_le(r, 1, &v, "attribute") != 0) return -1;
    a->type = (uint8_t)v;
    switch (a->type) {
    case NEO_ATTR_HIGH_PRIORITY:
        break;
    case NEO_ATTR_ORACLE_RESPONSE:
        if (rd_le(r, 8, &a->oracle_id, "oracle response") != 0 ||
            rd_le(r, 1, &v, "oracle response") != 0)
            return -1;
        a->oracle_code = (uint8_t)v;
        if (rd_varbytes(r, NEO_ORACLE_MAX_RESULT, &a->result, &a->result_len, "oracle result") != 0)
            return -1;
        break;
    case NEO_ATTR_NOT_VALID_BEFORE:
        if (rd_le(r, 4, &v, "not-valid-before") != 0) return -1;
        a->height = (uint32_t)v;
        break;
    case NEO_ATTR_CONFLICTS:
        if (rd_copy(r, a->hash, 32, "conflicts") != 0) return -1;
        break;
    default:
        return err_set(r->err, R3E_EINVAL, "attribute: unknown type 0x%02x", a->type);
    }
    return attr_validate(a, r->err);
}

static int rd_unsigned(reader_t *r, neo_tx_t *tx) {
    uint64_t v;
    if (rd_le(r, 1, &v, "version") != 0) return -1;
    tx->version = (uint8_t)v;
    if (tx->version != 0)
        return err_set(r->err, R3E_EINVAL, "transaction: version %u, only 0 exists", tx->version);
    if (rd_le(r, 4, &v, "nonce") != 0) return -1;
    tx->nonce = (uint32_t)v;
    if (rd_le(r, 8, &v, "system fee") != 0) return -1;
    tx->system_fee = (int64_t)v;
    if (rd_le(r, 8, &v, "network fee") != 0) return -1;
    tx->network_fee = (int64_t)v;
    if (rd_le(r, 4, &v, "valid until block") != 0) return -1;
    tx->valid_until_block = (uint32_t)v;
    if (rd_varint(r, NEO_TX_MAX_SIGNERS, &v, "signers") != 0) return -1;
    neo_signer_t *signers = arena_calloc(r->a, v ? v * sizeof *signers : 1);
    tx->signers = signers;
    tx->nsigners = (size_t)v;
    for (size_t i = 0; i < tx->nsigners; i++)
        if (rd_signer(r, &signers[i]) != 0) return -1;
    size_t max_attrs =
        tx->nsigners <= NEO_TX_MAX_ATTRIBUTES ? NEO_TX_MAX_ATTRIBUTES - tx->nsigners : 0;
    if (rd_varint(r, max_attrs, &v, "attributes") != 0) return -1;
    neo_attr_t *attrs = arena_calloc(r->a, v ? v * sizeof *attrs : 1);
    tx->attrs = attrs;
    tx->nattrs = (size_t)v;
    for (size_t i = 0; i < tx->nattrs; i++)
        if (rd_attr(r, &attrs[i]) != 0) return -1;
    return rd_varbytes(r, NEO_TX_MAX_SCRIPT, &tx->script, &tx->script_len, "script");
}

int neo_tx_deserialize(arena_t *a, const uint8_t *p, size_t n, bool with_witnesses, neo_tx_t *tx,
                       err_t *err) {
    reader_t r = {.p = p, .n = n, .a = a, .err = err};
    memset(tx, 0, sizeof *tx);
    if (n > NEO_TX_MAX_SIZE)
        return err_set(err, R3E_ETOOBIG, "transaction: %zu bytes exceeds %d", n, NEO_TX_MAX_SIZE);
    if (rd_unsigned(&r, tx) != 0) return -1;
    if (with_witnesses) {
        uint64_t v;
        if (rd_varint(&r, NEO_TX_MAX_SIGNERS, &v, "witnesses") != 0) return -1;
        neo_witness_t *w = arena_calloc(a, v ? v * sizeof *w : 1);
        tx->witnesses = w;
        tx->nwitnesses = (size_t)v;
        for (size_t i = 0; i < v; i++)
            if (rd_varbytes(&r, NEO_MAX_INVOCATION_SCRIPT, &w[i].invocation, &w[i].invocation_len,
                            "invocation script") != 0 ||
                rd_varbytes(&r, NEO_MAX_VERIFICATION_SCRIPT, &w[i].verification,
                            &w[i].verification_len, "verification script") != 0)
                return -1;
    }
    if (r.off != n) return err_set(err, R3E_EINVAL, "transaction: %zu trailing bytes", n - r.off);
    return neo_tx_validate(tx, with_witnesses, err);
}

/* ---- network fee ---------------------------------------------------------------------- */

/* NeoVM prices (ApplicationEngine.OpCodePriceTable / CheckSigPrice), in units that the
 * policy's execFeeFactor multiplies. Only what standard witnesses use. */
#define PRICE_PUSHDATA1 8
#define PRICE_PUSHINT_SMALL 1 /* PUSH0..PUSH16, PUSHINT8, PUSHINT16 */
#define PRICE_SYSCALL 0
#define PRICE_CHECKSIG 32768

/* Reads the small integer push a multisig script starts and ends with. */
static int read_small_int(const uint8_t *s, size_t n, size_t *off, int *v) {
    if (*off >= n) return -1;
    uint8_t op = s[*off];
    if (op >= NEO_OP_PUSH0 && op <= NEO_OP_PUSH0 + 16) {
        *v = op - NEO_OP_PUSH0;
        *off += 1;
    } else if (op == NEO_OP_PUSHINT8 && *off + 2 <= n) {
        *v = s[*off + 1];
        *off += 2;
    } else if (op == NEO_OP_PUSHINT8 + 1 && *off + 3 <= n) {
        *v = s[*off + 1] | s[*off + 2] << 8;
        *off += 3;
    } else {
        return -1;
    }
    return 0;
}

/* Standard verification scripts: 1 = single signature, m-of-n multisig (sets *m, *n),
 * 0 = anything else. */
static int witness_kind(const uint8_t *s, size_t n, int *m, int *keys) {
    uint8_t single[40], pub[33] = {0};
    if (n == 40 && s[0] == NEO_OP_PUSHDATA1 && s[1] == 33) {
        memcpy(pub, s + 2, 33);
        neo_verification_script(pub, single);
        if (memcmp(single, s, 40) == 0) return 1;
    }
    size_t off = 0;
    int mm, nn, count = 0;
    if (read_small_int(s, n, &off, &mm) != 0) return 0;
    while (off + 35 <= n && s[off] == NEO_OP_PUSHDATA1 && s[off + 1] == 33)
        off += 35, count++;
    if (read_small_int(s, n, &off, &nn) != 0 || off + 5 != n || s[off] != NEO_OP_SYSCALL) return 0;
    uint32_t id = neo_interop_id("System.Crypto.CheckMultisig");
    for (int i = 0; i < 4; i++)
        if (s[off + 1 + i] != (uint8_t)(id >> (8 * i))) return 0;
    if (nn != count || mm < 1 || mm > nn || nn > 1024) return 0;
    *m = mm;
    *keys = nn;
    return 2;
}

int neo_tx_network_fee(const neo_tx_t *tx, int64_t fee_per_byte, int64_t exec_fee_factor,
                       int64_t *fee, err_t *err) {
    if (fee_per_byte < 0 || exec_fee_factor < 0)
        return err_set(err, R3E_EINVAL, "network fee: negative policy value");
    if (tx->nwitnesses != tx->nsigners)
        return err_set(err, R3E_EINVAL,
                       "network fee: need one witness (verification script) per signer");
    /* Placeholder invocation scripts of the final size: m pushes of a 64-byte signature
     * (m <= 15 fits the 1024-byte limit); every witness shares this buffer's prefix. */
    uint8_t inv[66 * 16];
    memset(inv, 0, sizeof inv);
    for (int k = 0; k < 16; k++)
        inv[66 * k] = NEO_OP_PUSHDATA1, inv[66 * k + 1] = 64;
    neo_witness_t w[NEO_TX_MAX_SIGNERS];
    int64_t exec = 0;
    for (size_t i = 0; i < tx->nwitnesses && i < NEO_TX_MAX_SIGNERS; i++) {
        const neo_witness_t *src = &tx->witnesses[i];
        int m = 1, n = 1, kind = witness_kind(src->verification, src->verification_len, &m, &n);
        if (kind == 0)
            return err_set(err, R3E_EINVAL,
                           "network fee: witness %zu is not a standard signature or multisig "
                           "account (ask the node: calculatenetworkfee)",
                           i);
        size_t inv_len = (size_t)m * 66;
        if (inv_len > NEO_MAX_INVOCATION_SCRIPT)
            return err_set(err, R3E_EINVAL,
                           "network fee: %d signatures exceed the invocation script limit", m);
        w[i] = (neo_witness_t){inv, inv_len, src->verification, src->verification_len};
        if (kind == 1)
            exec += PRICE_PUSHDATA1 * 2 + PRICE_SYSCALL + PRICE_CHECKSIG;
        else /* Helper.MultiSignatureContractCost: the node charges CheckSig per key (n) */
            exec += PRICE_PUSHDATA1 * (int64_t)(m + n) + 2 * PRICE_PUSHINT_SMALL + PRICE_SYSCALL +
                    (int64_t)PRICE_CHECKSIG * n;
    }
    neo_tx_t t = *tx;
    t.witnesses = w;
    neo_buf_t b = {0};
    int rc = neo_tx_serialize(&t, true, &b, err);
    if (rc == 0) {
        __int128 total = (__int128)b.len * fee_per_byte + (__int128)exec * exec_fee_factor;
        if (total > INT64_MAX)
            rc = err_set(err, R3E_EINVAL, "network fee: overflows int64");
        else
            *fee = (int64_t)total;
    }
    neo_buf_free(&b);
    return rc;
}
