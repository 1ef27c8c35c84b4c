/* JSON edges of the Neo module: transactions described the way neon-js describes them
 * (Transaction constructor / export() shape) and RPC stack items from getapplicationlog
 * and invokefunction, turned into plain JSON a function can use. */
#include <nettle/base64.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chain/neo/neo.h"
#include "core/util.h"

/* ---- small readers -------------------------------------------------------------------- */

static int j_hex(arena_t *a, const json_t *v, const char *what, const uint8_t **out, size_t *n,
                 size_t max, err_t *err) {
    const char *s = json_string_value(v);
    if (!s) return err_set(err, R3E_EINVAL, "%s: expected a hex string", what);
    size_t len = strlen(s);
    if (len >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) s += 2, len -= 2;
    if (len / 2 > max) return err_set(err, R3E_ETOOBIG, "%s: longer than %zu bytes", what, max);
    uint8_t *d = arena_alloc(a, len / 2 + 1);
    if (util_hex_decode(s, len, d, len / 2 + 1) != (int)(len / 2))
        return err_set(err, R3E_EINVAL, "%s: invalid hex", what);
    *out = d;
    *n = len / 2;
    return 0;
}

static int j_fixed_hex(const json_t *v, const char *what, uint8_t *out, size_t n, err_t *err) {
    const char *s = json_string_value(v);
    size_t len = s ? strlen(s) : 0;
    if (s && len >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) s += 2, len -= 2;
    if (!s || len != 2 * n || util_hex_decode(s, len, out, n) != (int)n)
        return err_set(err, R3E_EINVAL, "%s: expected %zu hex bytes", what, n);
    return 0;
}

/* Display-order hash ("0x…" big-endian) or, for 20-byte hashes, a Neo address. */
static int j_hash(const json_t *v, const char *what, uint8_t *out, size_t n, err_t *err) {
    const char *s = json_string_value(v);
    if (!s) return err_set(err, R3E_EINVAL, "%s: expected a string", what);
    if (n == 20 && strlen(s) == NEO_ADDRESS_LEN) return neo_address_to_script_hash(s, out, err);
    if (neo_hash_from_display(s, out, n, err) != 0)
        return err_set(err, R3E_EINVAL, "%s: expected a %zu-byte hash", what, n);
    return 0;
}

/* Integers may come as JSON numbers or decimal strings (fees are strings in neon-js). */
static int j_u64(const json_t *v, const char *what, uint64_t max, uint64_t *out, err_t *err) {
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        if (i < 0 || (uint64_t)i > max) return err_set(err, R3E_EINVAL, "%s: out of range", what);
        *out = (uint64_t)i;
        return 0;
    }
    const char *s = json_string_value(v);
    if (!s || !*s || strlen(s) > 20)
        return err_set(err, R3E_EINVAL, "%s: expected an integer", what);
    uint64_t r = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9') return err_set(err, R3E_EINVAL, "%s: expected an integer", what);
        unsigned d = (unsigned)(*p - '0');
        if (r > (UINT64_MAX - d) / 10) return err_set(err, R3E_EINVAL, "%s: out of range", what);
        r = r * 10 + d;
    }
    if (r > max) return err_set(err, R3E_EINVAL, "%s: out of range", what);
    *out = r;
    return 0;
}

/* Enum given as a number or by name (neon-js accepts both). */
static int j_enum(const json_t *v, const char *what, const char *const *names, const int *vals,
                  size_t n, int *out, err_t *err) {
    if (json_is_integer(v)) {
        *out = (int)json_integer_value(v);
        return 0;
    }
    const char *s = json_string_value(v);
    for (size_t i = 0; s && i < n; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = vals[i];
            return 0;
        }
    return err_set(err, R3E_EINVAL, "%s: unknown value", what);
}

/* ---- transaction from JSON ------------------------------------------------------------ */

static int cond_from_json(arena_t *a, const json_t *j, neo_condition_t *c, int depth, err_t *err) {
    static const char *const names[] = {
        "Boolean",          "Not",          "And", "Or", "ScriptHash", "Group", "CalledByEntry",
        "CalledByContract", "CalledByGroup"};
    static const int vals[] = {0x00, 0x01, 0x02, 0x03, 0x18, 0x19, 0x20, 0x28, 0x29};
    int t;
    if (!json_is_object(j)) return err_set(err, R3E_EINVAL, "condition: expected an object");
    if (depth > 8) return err_set(err, R3E_EINVAL, "condition: nested too deep");
    if (j_enum(json_object_get(j, "type"), "condition type", names, vals, 9, &t, err) != 0)
        return -1;
    memset(c, 0, sizeof *c);
    c->type = (uint8_t)t;
    switch (c->type) {
    case NEO_COND_BOOLEAN: {
        const json_t *e = json_object_get(j, "expression");
        if (!json_is_boolean(e))
            return err_set(err, R3E_EINVAL, "condition: expression must be boolean");
        c->expression = json_is_true(e);
        return 0;
    }
    case NEO_COND_NOT:
        c->items = arena_calloc(a, sizeof *c->items);
        c->nitems = 1;
        return cond_from_json(a, json_object_get(j, "expression"), c->items, depth + 1, err);
    case NEO_COND_AND:
    case NEO_COND_OR: {
        const json_t *arr = json_object_get(j, "expressions");
        size_t n = json_array_size(arr);
        if (!json_is_array(arr) || n > NEO_SIGNER_MAX_SUBITEMS)
            return err_set(err, R3E_EINVAL, "condition: expressions must be an array of <= %d",
                           NEO_SIGNER_MAX_SUBITEMS);
        c->items = arena_calloc(a, (n ? n : 1) * sizeof *c->items);
        c->nitems = n;
        for (size_t i = 0; i < n; i++)
            if (cond_from_json(a, json_array_get(arr, i), &c->items[i], depth + 1, err) != 0)
                return -1;
        return 0;
    }
    case NEO_COND_SCRIPT_HASH:
    case NEO_COND_CALLED_BY_CONTRACT:
        return j_hash(json_object_get(j, "hash"), "condition hash", c->hash, 20, err);
    case NEO_COND_GROUP:
    case NEO_COND_CALLED_BY_GROUP:
        return j_fixed_hex(json_object_get(j, "group"), "condition group", c->group, 33, err);
    case NEO_COND_CALLED_BY_ENTRY:
        return 0;
    default:
        return err_set(err, R3E_EINVAL, "condition: unknown type %d", t);
    }
}

/* "CalledByEntry,CustomContracts" or a number. */
static int scopes_from_json(const json_t *v, uint8_t *out, err_t *err) {
    static const char *const names[] = {"None",         "CalledByEntry", "CustomContracts",
                                        "CustomGroups", "WitnessRules",  "Global"};
    static const int vals[] = {0x00, 0x01, 0x10, 0x20, 0x40, 0x80};
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        if (i < 0 || i > 0xff) return err_set(err, R3E_EINVAL, "signer: scopes out of range");
        *out = (uint8_t)i;
        return 0;
    }
    const char *s = json_string_value(v);
    if (!s) return err_set(err, R3E_EINVAL, "signer: scopes must be a number or names");
    unsigned acc = 0;
    while (*s) {
        while (*s == ' ' || *s == ',')
            s++;
        size_t len = strcspn(s, ", ");
        if (!len) break;
        size_t i = 0;
        for (; i < 6; i++)
            if (strlen(names[i]) == len && strncmp(s, names[i], len) == 0) break;
        if (i == 6) return err_set(err, R3E_EINVAL, "signer: unknown scope \"%.*s\"", (int)len, s);
        acc |= (unsigned)vals[i];
        s += len;
    }
    *out = (uint8_t)acc;
    return 0;
}

static int signer_from_json(arena_t *a, const json_t *j, neo_signer_t *s, err_t *err) {
    memset(s, 0, sizeof *s);
    if (!json_is_object(j)) return err_set(err, R3E_EINVAL, "signer: expected an object");
    if (j_hash(json_object_get(j, "account"), "signer account", s->account, 20, err) != 0 ||
        scopes_from_json(json_object_get(j, "scopes"), &s->scopes, err) != 0)
        return -1;
    const json_t *c = json_object_get(j, "allowedContracts");
    const json_t *g = json_object_get(j, "allowedGroups");
    const json_t *r = json_object_get(j, "rules");
    size_t nc = json_array_size(c), ng = json_array_size(g), nr = json_array_size(r);
    if (nc > NEO_SIGNER_MAX_SUBITEMS || ng > NEO_SIGNER_MAX_SUBITEMS ||
        nr > NEO_SIGNER_MAX_SUBITEMS)
        return err_set(err, R3E_EINVAL, "signer: more than %d contracts, groups or rules",
                       NEO_SIGNER_MAX_SUBITEMS);
    uint8_t(*cs)[20] = arena_alloc(a, (nc ? nc : 1) * 20);
    uint8_t(*gs)[33] = arena_alloc(a, (ng ? ng : 1) * 33);
    neo_rule_t *rs = arena_calloc(a, (nr ? nr : 1) * sizeof *rs);
    for (size_t i = 0; i < nc; i++)
        if (j_hash(json_array_get(c, i), "allowed contract", cs[i], 20, err) != 0) return -1;
    for (size_t i = 0; i < ng; i++)
        if (j_fixed_hex(json_array_get(g, i), "allowed group", gs[i], 33, err) != 0) return -1;
    for (size_t i = 0; i < nr; i++) {
        static const char *const an[] = {"Deny", "Allow"};
        static const int av[] = {0, 1};
        const json_t *rule = json_array_get(r, i);
        int act;
        if (j_enum(json_object_get(rule, "action"), "rule action", an, av, 2, &act, err) != 0)
            return -1;
        if (act < 0 || act > 1)
            return err_set(err, R3E_EINVAL, "witness rule: invalid action %d", act);
        rs[i].action = (uint8_t)act;
        if (cond_from_json(a, json_object_get(rule, "condition"), &rs[i].condition, 0, err) != 0)
            return -1;
    }
    /* As neon-js: lists only count when their scope bit is set. */
    if (s->scopes & NEO_SCOPE_CUSTOM_CONTRACTS)
        s->contracts = (const uint8_t(*)[20])cs, s->ncontracts = nc;
    if (s->scopes & NEO_SCOPE_CUSTOM_GROUPS) s->groups = (const uint8_t(*)[33])gs, s->ngroups = ng;
    if (s->scopes & NEO_SCOPE_WITNESS_RULES) s->rules = rs, s->nrules = nr;
    return 0;
}

static int attr_from_json(arena_t *a, const json_t *j, neo_attr_t *at, err_t *err) {
    static const char *const names[] = {"HighPriority", "OracleResponse", "NotValidBefore",
                                        "Conflicts"};
    static const int vals[] = {0x01, 0x11, 0x20, 0x21};
    int t;
    uint64_t v;
    memset(at, 0, sizeof *at);
    if (j_enum(json_object_get(j, "type"), "attribute type", names, vals, 4, &t, err) != 0)
        return -1;
    at->type = (uint8_t)t;
    switch (at->type) {
    case NEO_ATTR_HIGH_PRIORITY:
        return 0;
    case NEO_ATTR_ORACLE_RESPONSE: {
        static const char *const cn[] = {"Success",
                                         "ProtocolNotSupported",
                                         "ConsensusUnreachable",
                                         "NotFound",
                                         "Timeout",
                                         "Forbidden",
                                         "ResponseTooLarge",
                                         "InsufficientFunds",
                                         "ContentTypeNotSupported",
                                         "Error"};
        static const int cv[] = {0x00, 0x10, 0x12, 0x14, 0x16, 0x18, 0x1a, 0x1c, 0x1f, 0xff};
        int code;
        if (j_u64(json_object_get(j, "id"), "oracle id", UINT64_MAX, &at->oracle_id, err) != 0 ||
            j_enum(json_object_get(j, "code"), "oracle code", cn, cv, 10, &code, err) != 0)
            return -1;
        if (code < 0 || code > 0xff) return err_set(err, R3E_EINVAL, "oracle code: out of range");
        at->oracle_code = (uint8_t)code;
        const char *res = json_string_value(json_object_get(j, "result"));
        size_t cap = res ? strlen(res) / 4 * 3 + 3 : 1;
        uint8_t *buf = arena_alloc(a, cap);
        int n = res ? neo_base64_decode(res, buf, cap, err) : 0;
        if (n < 0) return -1;
        at->result = buf;
        at->result_len = (size_t)n;
        return 0;
    }
    case NEO_ATTR_NOT_VALID_BEFORE:
        if (j_u64(json_object_get(j, "height"), "height", UINT32_MAX, &v, err) != 0) return -1;
        at->height = (uint32_t)v;
        return 0;
    case NEO_ATTR_CONFLICTS:
        return j_hash(json_object_get(j, "hash"), "conflicts hash", at->hash, 32, err);
    default:
        return err_set(err, R3E_EINVAL, "attribute: unknown type %d", t);
    }
}

int neo_tx_from_json(arena_t *a, const json_t *j, neo_tx_t *tx, err_t *err) {
    uint64_t v;
    memset(tx, 0, sizeof *tx);
    if (!json_is_object(j)) return err_set(err, R3E_EINVAL, "transaction: expected an object");
    const json_t *f;
    if ((f = json_object_get(j, "version")) && j_u64(f, "version", 255, &v, err) != 0) return -1;
    tx->version = f ? (uint8_t)v : 0;
    if (j_u64(json_object_get(j, "nonce"), "nonce", UINT32_MAX, &v, err) != 0) return -1;
    tx->nonce = (uint32_t)v;
    if ((f = json_object_get(j, "systemFee")) && j_u64(f, "systemFee", INT64_MAX, &v, err) != 0)
        return -1;
    tx->system_fee = f ? (int64_t)v : 0;
    if ((f = json_object_get(j, "networkFee")) && j_u64(f, "networkFee", INT64_MAX, &v, err) != 0)
        return -1;
    tx->network_fee = f ? (int64_t)v : 0;
    if (j_u64(json_object_get(j, "validUntilBlock"), "validUntilBlock", UINT32_MAX, &v, err) != 0)
        return -1;
    tx->valid_until_block = (uint32_t)v;

    const json_t *arr = json_object_get(j, "signers");
    size_t n = json_array_size(arr);
    if (n > NEO_TX_MAX_SIGNERS)
        return err_set(err, R3E_EINVAL, "transaction: more than %d signers", NEO_TX_MAX_SIGNERS);
    neo_signer_t *signers = arena_calloc(a, (n ? n : 1) * sizeof *signers);
    for (size_t i = 0; i < n; i++)
        if (signer_from_json(a, json_array_get(arr, i), &signers[i], err) != 0) return -1;
    tx->signers = signers;
    tx->nsigners = n;

    arr = json_object_get(j, "attributes");
    n = json_array_size(arr);
    if (n > NEO_TX_MAX_ATTRIBUTES)
        return err_set(err, R3E_EINVAL, "transaction: too many attributes");
    neo_attr_t *attrs = arena_calloc(a, (n ? n : 1) * sizeof *attrs);
    for (size_t i = 0; i < n; i++)
        if (attr_from_json(a, json_array_get(arr, i), &attrs[i], err) != 0) return -1;
    tx->attrs = attrs;
    tx->nattrs = n;

    if (j_hex(a, json_object_get(j, "script"), "script", &tx->script, &tx->script_len,
              NEO_TX_MAX_SCRIPT, err) != 0)
        return -1;

    arr = json_object_get(j, "witnesses");
    n = json_array_size(arr);
    if (n > NEO_TX_MAX_SIGNERS) return err_set(err, R3E_EINVAL, "transaction: too many witnesses");
    neo_witness_t *w = arena_calloc(a, (n ? n : 1) * sizeof *w);
    for (size_t i = 0; i < n; i++) {
        const json_t *wj = json_array_get(arr, i);
        if (j_hex(a, json_object_get(wj, "invocationScript"), "invocationScript", &w[i].invocation,
                  &w[i].invocation_len, NEO_MAX_INVOCATION_SCRIPT, err) != 0 ||
            j_hex(a, json_object_get(wj, "verificationScript"), "verificationScript",
                  &w[i].verification, &w[i].verification_len, NEO_MAX_VERIFICATION_SCRIPT,
                  err) != 0)
            return -1;
    }
    tx->witnesses = w;
    tx->nwitnesses = n;
    return 0;
}

/* ---- transaction to JSON -------------------------------------------------------------- */

static json_t *hex_json(const uint8_t *p, size_t n) {
    char *h = malloc(2 * n + 1);
    if (!h) abort();
    util_hex_encode(p, n, h);
    json_t *j = json_string(h);
    free(h);
    return j;
}

/* neon-js export() shows hashes big-endian without 0x. */
static json_t *be_json(const uint8_t *h, size_t n) {
    char d[67];
    neo_hash_to_display(h, n, d);
    return json_string(d + 2);
}

static json_t *cond_to_json(const neo_condition_t *c) {
    switch (c->type) {
    case NEO_COND_BOOLEAN:
        return json_pack("{s:s, s:b}", "type", "Boolean", "expression", c->expression);
    case NEO_COND_NOT:
        return json_pack("{s:s, s:o}", "type", "Not", "expression", cond_to_json(&c->items[0]));
    case NEO_COND_AND:
    case NEO_COND_OR: {
        json_t *arr = json_array();
        for (size_t i = 0; i < c->nitems; i++)
            json_array_append_new(arr, cond_to_json(&c->items[i]));
        return json_pack("{s:s, s:o}", "type", c->type == NEO_COND_AND ? "And" : "Or",
                         "expressions", arr);
    }
    case NEO_COND_SCRIPT_HASH:
    case NEO_COND_CALLED_BY_CONTRACT:
        return json_pack("{s:s, s:o}", "type",
                         c->type == NEO_COND_SCRIPT_HASH ? "ScriptHash" : "CalledByContract",
                         "hash", be_json(c->hash, 20));
    case NEO_COND_GROUP:
    case NEO_COND_CALLED_BY_GROUP:
        return json_pack("{s:s, s:o}", "type",
                         c->type == NEO_COND_GROUP ? "Group" : "CalledByGroup", "group",
                         hex_json(c->group, 33));
    default:
        return json_pack("{s:s}", "type", "CalledByEntry");
    }
}

static json_t *signer_to_json(const neo_signer_t *s) {
    json_t *o = json_pack("{s:o, s:i}", "account", be_json(s->account, 20), "scopes", s->scopes);
    if (s->scopes & NEO_SCOPE_CUSTOM_CONTRACTS) {
        json_t *arr = json_array();
        for (size_t i = 0; i < s->ncontracts; i++)
            json_array_append_new(arr, be_json(s->contracts[i], 20));
        json_object_set_new(o, "allowedContracts", arr);
    }
    if (s->scopes & NEO_SCOPE_CUSTOM_GROUPS) {
        json_t *arr = json_array();
        for (size_t i = 0; i < s->ngroups; i++)
            json_array_append_new(arr, hex_json(s->groups[i], 33));
        json_object_set_new(o, "allowedGroups", arr);
    }
    if (s->scopes & NEO_SCOPE_WITNESS_RULES) {
        json_t *arr = json_array();
        for (size_t i = 0; i < s->nrules; i++)
            json_array_append_new(arr, json_pack("{s:s, s:o}", "action",
                                                 s->rules[i].action ? "Allow" : "Deny", "condition",
                                                 cond_to_json(&s->rules[i].condition)));
        json_object_set_new(o, "rules", arr);
    }
    return o;
}

static const char *oracle_code_name(uint8_t c) {
    static const char *const cn[] = {"Success",
                                     "ProtocolNotSupported",
                                     "ConsensusUnreachable",
                                     "NotFound",
                                     "Timeout",
                                     "Forbidden",
                                     "ResponseTooLarge",
                                     "InsufficientFunds",
                                     "ContentTypeNotSupported",
                                     "Error"};
    static const uint8_t cv[] = {0x00, 0x10, 0x12, 0x14, 0x16, 0x18, 0x1a, 0x1c, 0x1f, 0xff};
    for (size_t i = 0; i < sizeof cv; i++)
        if (cv[i] == c) return cn[i];
    return NULL;
}

static json_t *attr_to_json(const neo_attr_t *a) {
    switch (a->type) {
    case NEO_ATTR_HIGH_PRIORITY:
        return json_pack("{s:s}", "type", "HighPriority");
    case NEO_ATTR_ORACLE_RESPONSE: {
        char *b64 = malloc(BASE64_ENCODE_RAW_LENGTH(a->result_len) + 1);
        if (!b64) abort();
        base64_encode_raw(b64, a->result_len, a->result);
        b64[BASE64_ENCODE_RAW_LENGTH(a->result_len)] = '\0';
        const char *name = oracle_code_name(a->oracle_code);
        /* ids above 2^53 would lose precision in JS numbers: give those as strings */
        char idbuf[24];
        snprintf(idbuf, sizeof idbuf, "%llu", (unsigned long long)a->oracle_id);
        json_t *id = a->oracle_id <= (1ull << 53) ? json_integer((json_int_t)a->oracle_id)
                                                  : json_string(idbuf);
        json_t *o = json_pack("{s:s, s:o, s:s, s:s}", "type", "OracleResponse", "id", id, "code",
                              name ? name : "Error", "result", b64);
        free(b64);
        return o;
    }
    case NEO_ATTR_NOT_VALID_BEFORE:
        return json_pack("{s:s, s:I}", "type", "NotValidBefore", "height", (json_int_t)a->height);
    default: {
        char d[67];
        neo_hash_to_display(a->hash, 32, d);
        return json_pack("{s:s, s:s}", "type", "Conflicts", "hash", d);
    }
    }
}

json_t *neo_tx_to_json(const neo_tx_t *tx) {
    char fee[24], net[24];
    snprintf(fee, sizeof fee, "%lld", (long long)tx->system_fee);
    snprintf(net, sizeof net, "%lld", (long long)tx->network_fee);
    json_t *signers = json_array(), *attrs = json_array(), *wits = json_array();
    for (size_t i = 0; i < tx->nsigners; i++)
        json_array_append_new(signers, signer_to_json(&tx->signers[i]));
    for (size_t i = 0; i < tx->nattrs; i++)
        json_array_append_new(attrs, attr_to_json(&tx->attrs[i]));
    for (size_t i = 0; i < tx->nwitnesses; i++)
        json_array_append_new(
            wits,
            json_pack("{s:o, s:o}", "invocationScript",
                      hex_json(tx->witnesses[i].invocation, tx->witnesses[i].invocation_len),
                      "verificationScript",
                      hex_json(tx->witnesses[i].verification, tx->witnesses[i].verification_len)));
    return json_pack("{s:i, s:I, s:s, s:s, s:I, s:o, s:o, s:o, s:o}", "version", tx->version,
                     "nonce", (json_int_t)tx->nonce, "systemFee", fee, "networkFee", net,
                     "validUntilBlock", (json_int_t)tx->valid_until_block, "signers", signers,
                     "attributes", attrs, "script", hex_json(tx->script, tx->script_len),
                     "witnesses", wits);
}

/* ---- scripts from JSON ---------------------------------------------------------------- */

/* Variable-length hex into a malloc'd buffer (caller frees). */
static uint8_t *script_hex(const json_t *v, size_t *n, err_t *e) {
    const char *s = json_string_value(v);
    size_t len = s ? strlen(s) : 0;
    if (s && len >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) s += 2, len -= 2;
    uint8_t *b = malloc(len / 2 + 1);
    if (!b) abort();
    if (!s || util_hex_decode(s, len, b, len / 2 + 1) < 0) {
        free(b);
        err_set(e, R3E_EINVAL, "script: expected a hex string");
        return NULL;
    }
    *n = len / 2;
    return b;
}

static int emit_op(neo_buf_t *b, const json_t *op, int depth, err_t *e);

static int emit_list_reversed(neo_buf_t *b, const json_t *items, int depth, err_t *e) {
    if (!json_is_array(items)) return err_set(e, R3E_EINVAL, "script: expected an array of ops");
    for (size_t i = json_array_size(items); i-- > 0;)
        if (emit_op(b, json_array_get(items, i), depth + 1, e) != 0) return -1;
    return 0;
}

/* A 20-byte hash may also be given as a Neo address (as neon-js ContractParam.hash160). */
static int hash_arg(const json_t *v, uint8_t *out, size_t n, err_t *e) {
    const char *s = json_string_value(v);
    if (s && n == 20 && strlen(s) == NEO_ADDRESS_LEN) return neo_address_to_script_hash(s, out, e);
    return neo_hash_from_display(s, out, n, e);
}

static int emit_hex(neo_buf_t *b, const json_t *v, err_t *e) {
    size_t n;
    uint8_t *p = script_hex(v, &n, e);
    int rc = p ? neo_sb_push_bytes(b, p, n, e) : -1;
    free(p);
    return rc;
}

static int emit_b64(neo_buf_t *b, const json_t *v, err_t *e) {
    const char *s = json_string_value(v);
    size_t cap = s ? strlen(s) / 4 * 3 + 3 : 1;
    uint8_t *p = malloc(cap);
    if (!p) abort();
    int n = s ? neo_base64_decode(s, p, cap, e) : err_set(e, R3E_EINVAL, "b64: expected a string");
    int rc = n >= 0 ? neo_sb_push_bytes(b, p, (size_t)n, e) : -1;
    free(p);
    return rc;
}

static int emit_call(neo_buf_t *b, const json_t *op, int depth, err_t *e) {
    uint8_t h[20];
    const json_t *args = json_array_get(op, 4);
    const json_t *flags = json_array_get(op, 3);
    if (!json_is_integer(flags) || json_integer_value(flags) < 0 || json_integer_value(flags) > 255)
        return err_set(e, R3E_EINVAL, "call: flags must be a CallFlags number");
    if (hash_arg(json_array_get(op, 1), h, 20, e) != 0 ||
        emit_list_reversed(b, args, depth, e) != 0)
        return -1;
    const char *method = json_string_value(json_array_get(op, 2));
    if (!method) return err_set(e, R3E_EINVAL, "call: method must be a string");
    return neo_sb_contract_call(b, h, method, (uint8_t)json_integer_value(flags),
                                json_array_size(args), e);
}

static int emit_op(neo_buf_t *b, const json_t *op, int depth, err_t *e) {
    const char *name = json_string_value(json_array_get(op, 0));
    const json_t *a1 = json_array_get(op, 1);
    if (!name) return err_set(e, R3E_EINVAL, "script: each op is [name, ...args]");
    if (depth > 32) return err_set(e, R3E_EINVAL, "script: arrays nested deeper than 32");
    if (strcmp(name, "int") == 0) {
        char buf[32];
        const char *s = json_string_value(a1);
        if (!s && json_is_integer(a1)) {
            snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(a1));
            s = buf;
        }
        return neo_sb_push_int_dec(b, s, e);
    }
    if (strcmp(name, "bool") == 0) return neo_sb_push_bool(b, json_is_true(a1)), 0;
    if (strcmp(name, "null") == 0) return neo_sb_push_null(b), 0;
    if (strcmp(name, "str") == 0) { /* may contain U+0000: use the JSON length */
        if (!json_is_string(a1)) return err_set(e, R3E_EINVAL, "str: expected a string");
        return neo_sb_push_bytes(b, (const uint8_t *)json_string_value(a1), json_string_length(a1),
                                 e);
    }
    if (strcmp(name, "bytes") == 0) return emit_hex(b, a1, e);
    if (strcmp(name, "b64") == 0) return emit_b64(b, a1, e);
    if (strcmp(name, "h160") == 0 || strcmp(name, "h256") == 0) {
        uint8_t h[32];
        bool is160 = name[1] == '1';
        if (hash_arg(a1, h, is160 ? 20 : 32, e) != 0) return -1;
        if (is160)
            neo_sb_push_hash160(b, h);
        else
            neo_sb_push_hash256(b, h);
        return 0;
    }
    if (strcmp(name, "pubkey") == 0) {
        uint8_t pub[33];
        if (j_fixed_hex(a1, "pubkey", pub, 33, e) != 0 || neo_pubkey_check(pub, e) != 0) return -1;
        return neo_sb_push_pubkey(b, pub), 0;
    }
    if (strcmp(name, "array") == 0) {
        if (emit_list_reversed(b, a1, depth, e) != 0) return -1;
        return neo_sb_pack(b, json_array_size(a1)), 0;
    }
    if (strcmp(name, "syscall") == 0) {
        if (!json_is_string(a1)) return err_set(e, R3E_EINVAL, "syscall: expected a name");
        return neo_sb_syscall(b, json_string_value(a1)), 0;
    }
    if (strcmp(name, "call") == 0) return emit_call(b, op, depth, e);
    if (strcmp(name, "transfer") == 0) { /* ["transfer", token, from, to, amount] */
        uint8_t t[20], f[20], to[20];
        if (hash_arg(a1, t, 20, e) != 0 || hash_arg(json_array_get(op, 2), f, 20, e) != 0 ||
            hash_arg(json_array_get(op, 3), to, 20, e) != 0)
            return -1;
        return neo_sb_nep17_transfer(b, t, f, to, json_string_value(json_array_get(op, 4)), e);
    }
    if (strcmp(name, "balanceOf") == 0) {
        uint8_t t[20], acct[20];
        if (hash_arg(a1, t, 20, e) != 0 || hash_arg(json_array_get(op, 2), acct, 20, e) != 0)
            return -1;
        return neo_sb_nep17_balance_of(b, t, acct, e);
    }
    return err_set(e, R3E_EINVAL, "script: unknown op \"%.32s\"", name);
}

int neo_script_from_json(const json_t *ops, neo_buf_t *out, err_t *err) {
    size_t i;
    const json_t *op;
    if (!json_is_array(ops)) return err_set(err, R3E_EINVAL, "script: ops must be an array");
    json_array_foreach(ops, i, op) {
        if (emit_op(out, op, 0, err) != 0) return -1;
    }
    return 0;
}

/* ---- stack items ---------------------------------------------------------------------- */

static bool utf8_valid(const uint8_t *s, size_t n) {
    for (size_t i = 0; i < n;) {
        uint8_t c = s[i];
        size_t k;
        uint32_t cp;
        if (c < 0x80)
            k = 0, cp = c;
        else if ((c & 0xe0) == 0xc0)
            k = 1, cp = c & 0x1fu;
        else if ((c & 0xf0) == 0xe0)
            k = 2, cp = c & 0x0fu;
        else if ((c & 0xf8) == 0xf0)
            k = 3, cp = c & 0x07u;
        else
            return false;
        if (n - i <= k) return false;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xc0) != 0x80) return false;
            cp = cp << 6 | (s[i + j] & 0x3fu);
        }
        /* reject overlong forms, surrogates and values past U+10FFFF */
        if ((k == 1 && cp < 0x80) || (k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += k + 1;
    }
    return true;
}

/* Little-endian two's complement -> decimal (NeoVM integer semantics, <= 32 bytes). */
static int le_to_decimal(const uint8_t *le, size_t n, char *out, size_t outcap, err_t *err) {
    uint8_t mag[32];
    char digits[90];
    size_t nd = 0;
    if (n > 32) return err_set(err, R3E_EINVAL, "integer: %zu bytes is over 256 bits", n);
    bool neg = n > 0 && (le[n - 1] & 0x80);
    memcpy(mag, le, n);
    if (neg) {
        unsigned carry = 1;
        for (size_t i = 0; i < n; i++) {
            carry += (uint8_t)~mag[i];
            mag[i] = (uint8_t)carry;
            carry >>= 8;
        }
    }
    size_t len = n;
    while (len > 0 && mag[len - 1] == 0)
        len--;
    while (len > 0) { /* repeated division by 10, most significant byte first */
        unsigned rem = 0;
        for (size_t i = len; i-- > 0;) {
            unsigned cur = rem << 8 | mag[i];
            mag[i] = (uint8_t)(cur / 10);
            rem = cur % 10;
        }
        digits[nd++] = (char)('0' + rem);
        while (len > 0 && mag[len - 1] == 0)
            len--;
    }
    if (nd == 0) digits[nd++] = '0';
    if (nd + (neg ? 1 : 0) + 1 > outcap)
        return err_set(err, R3E_EINVAL, "integer: output too small");
    size_t o = 0;
    if (neg) out[o++] = '-';
    while (nd)
        out[o++] = digits[--nd];
    out[o] = '\0';
    return 0;
}

static bool decimal_valid(const char *s) {
    if (*s == '-') s++;
    if (!*s || strlen(s) > 80) return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9') return false;
    return true;
}

/* Decodes a ByteString/Buffer value into a malloc'd buffer (caller frees). */
static uint8_t *item_bytes(const json_t *item, size_t *n, err_t *err) {
    const char *v = json_string_value(json_object_get(item, "value"));
    if (!v) {
        err_set(err, R3E_EINVAL, "stack item: ByteString without a base64 value");
        return NULL;
    }
    size_t cap = strlen(v) / 4 * 3 + 3;
    uint8_t *buf = malloc(cap);
    if (!buf) abort();
    int r = neo_base64_decode(v, buf, cap, err);
    if (r < 0) {
        free(buf);
        return NULL;
    }
    *n = (size_t)r;
    return buf;
}

static const char *item_type(const json_t *item) {
    return json_string_value(json_object_get(item, "type"));
}

static json_t *decode_bytes(const json_t *item, const char *type, err_t *err) {
    size_t n;
    uint8_t *b = item_bytes(item, &n, err);
    if (!b) return NULL;
    char *hex = malloc(2 * n + 1);
    if (!hex) abort();
    util_hex_encode(b, n, hex);
    json_t *o = json_pack("{s:s, s:s}", "type", type, "hex", hex);
    free(hex);
    if (utf8_valid(b, n)) json_object_set_new(o, "text", json_stringn((const char *)b, n));
    if (n == 20) {
        char addr[NEO_ADDRESS_LEN + 1];
        neo_address_from_script_hash(b, addr);
        json_object_set_new(o, "address", json_string(addr));
    }
    free(b);
    return o;
}

static json_t *decode_item(const json_t *item, int depth, err_t *err);

static json_t *decode_list(const json_t *v, int depth, bool map, err_t *err) {
    if (!json_is_array(v)) {
        err_set(err, R3E_EINVAL, "stack item: %s value must be an array", map ? "Map" : "Array");
        return NULL;
    }
    json_t *out = json_array();
    size_t i;
    const json_t *e;
    json_array_foreach(v, i, e) {
        json_t *d;
        if (map) {
            json_t *k = decode_item(json_object_get(e, "key"), depth + 1, err);
            json_t *val = k ? decode_item(json_object_get(e, "value"), depth + 1, err) : NULL;
            d = val ? json_pack("{s:o, s:o}", "key", k, "value", val) : NULL;
            if (!val) json_decref(k);
        } else {
            d = decode_item(e, depth + 1, err);
        }
        if (!d) {
            json_decref(out);
            return NULL;
        }
        json_array_append_new(out, d);
    }
    return out;
}

static json_t *decode_item(const json_t *item, int depth, err_t *err) {
    const char *t = item_type(item);
    const json_t *v = json_object_get(item, "value");
    if (!t) {
        err_set(err, R3E_EINVAL, "stack item: missing \"type\"");
        return NULL;
    }
    if (depth > 64) {
        err_set(err, R3E_EINVAL, "stack item: nested deeper than 64");
        return NULL;
    }
    if (strcmp(t, "Any") == 0) return json_null();
    if (strcmp(t, "Boolean") == 0) {
        if (json_is_boolean(v)) return json_boolean(json_is_true(v));
        const char *s = json_string_value(v);
        if (s && (strcmp(s, "true") == 0 || strcmp(s, "false") == 0))
            return json_boolean(s[0] == 't');
        err_set(err, R3E_EINVAL, "stack item: Boolean value must be true or false");
        return NULL;
    }
    if (strcmp(t, "Integer") == 0) {
        const char *s = json_string_value(v);
        char buf[32];
        if (!s && json_is_integer(v)) {
            snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(v));
            s = buf;
        }
        if (!s || !decimal_valid(s)) {
            err_set(err, R3E_EINVAL, "stack item: Integer value must be a decimal string");
            return NULL;
        }
        return json_string(s);
    }
    if (strcmp(t, "ByteString") == 0 || strcmp(t, "Buffer") == 0) return decode_bytes(item, t, err);
    if (strcmp(t, "Array") == 0 || strcmp(t, "Struct") == 0)
        return decode_list(v, depth, false, err);
    if (strcmp(t, "Map") == 0) return decode_list(v, depth, true, err);
    if (strcmp(t, "Pointer") == 0) {
        if (!json_is_integer(v)) {
            err_set(err, R3E_EINVAL, "stack item: Pointer value must be a number");
            return NULL;
        }
        return json_integer(json_integer_value(v));
    }
    if (strcmp(t, "InteropInterface") == 0) return json_pack("{s:s}", "type", "InteropInterface");
    err_set(err, R3E_EINVAL, "stack item: unknown type \"%.40s\"", t);
    return NULL;
}

json_t *neo_stack_item_decode(const json_t *item, err_t *err) {
    if (!json_is_object(item)) {
        err_set(err, R3E_EINVAL, "stack item: expected an object");
        return NULL;
    }
    return decode_item(item, 0, err);
}

int neo_stack_item_address(const json_t *item, char out[NEO_ADDRESS_LEN + 1], err_t *err) {
    const char *t = item_type(item);
    if (!t || (strcmp(t, "ByteString") != 0 && strcmp(t, "Buffer") != 0))
        return err_set(err, R3E_EINVAL, "stack item: an address must be a ByteString");
    size_t n;
    uint8_t *b = item_bytes(item, &n, err);
    if (!b) return -1;
    if (n != 20) {
        free(b);
        return err_set(err, R3E_EINVAL, "stack item: %zu bytes is not a script hash (20)", n);
    }
    neo_address_from_script_hash(b, out);
    free(b);
    return 0;
}

int neo_stack_item_integer(const json_t *item, char *out, size_t outcap, err_t *err) {
    const char *t = item_type(item);
    if (t && strcmp(t, "Integer") == 0) {
        const char *s = json_string_value(json_object_get(item, "value"));
        if (!s || !decimal_valid(s))
            return err_set(err, R3E_EINVAL, "stack item: Integer value must be a decimal string");
        if (strlen(s) + 1 > outcap) return err_set(err, R3E_EINVAL, "integer: output too small");
        memcpy(out, s, strlen(s) + 1);
        return 0;
    }
    if (t && (strcmp(t, "ByteString") == 0 || strcmp(t, "Buffer") == 0)) {
        size_t n;
        uint8_t *b = item_bytes(item, &n, err);
        if (!b) return -1;
        int rc = le_to_decimal(b, n, out, outcap, err);
        free(b);
        return rc;
    }
    if (t && strcmp(t, "Boolean") == 0) {
        const json_t *v = json_object_get(item, "value");
        bool on =
            json_is_true(v) || (json_is_string(v) && strcmp(json_string_value(v), "true") == 0);
        return snprintf(out, outcap, "%d", on ? 1 : 0) < (int)outcap
                   ? 0
                   : err_set(err, R3E_EINVAL, "integer: output too small");
    }
    return err_set(err, R3E_EINVAL, "stack item: %s is not convertible to an integer",
                   t ? t : "(untyped)");
}

/* NEP-17 Transfer(from, to, amount): from/to are null for mint/burn. */
static json_t *nep17_transfer(const json_t *state) {
    const json_t *v = json_object_get(state, "value");
    const char *t = item_type(state);
    if (!t || strcmp(t, "Array") != 0 || json_array_size(v) != 3) return NULL;
    json_t *o = json_object();
    static const char *const keys[] = {"from", "to"};
    for (size_t i = 0; i < 2; i++) {
        const json_t *it = json_array_get(v, i);
        const char *it_t = item_type(it);
        char addr[NEO_ADDRESS_LEN + 1];
        if (it_t && strcmp(it_t, "Any") == 0) {
            json_object_set_new(o, keys[i], json_null());
        } else if (neo_stack_item_address(it, addr, NULL) == 0) {
            json_object_set_new(o, keys[i], json_string(addr));
        } else {
            json_decref(o);
            return NULL;
        }
    }
    char amount[96];
    if (neo_stack_item_integer(json_array_get(v, 2), amount, sizeof amount, NULL) != 0) {
        json_decref(o);
        return NULL;
    }
    json_object_set_new(o, "amount", json_string(amount));
    return o;
}

json_t *neo_notification_decode(const json_t *n, err_t *err) {
    const char *contract = json_string_value(json_object_get(n, "contract"));
    const char *event = json_string_value(json_object_get(n, "eventname"));
    uint8_t h[20];
    if (!contract || neo_hash_from_display(contract, h, 20, NULL) != 0) {
        err_set(err, R3E_EINVAL, "notification: contract must be a 0x… script hash");
        return NULL;
    }
    if (!event) {
        err_set(err, R3E_EINVAL, "notification: missing eventname");
        return NULL;
    }
    const json_t *state = json_object_get(n, "state");
    json_t *decoded = neo_stack_item_decode(state, err);
    if (!decoded) return NULL;
    json_t *o =
        json_pack("{s:s, s:s, s:o}", "contract", contract, "event", event, "state", decoded);
    if (strcmp(event, "Transfer") == 0) {
        json_t *tr = nep17_transfer(state);
        if (tr) json_object_set_new(o, "transfer", tr);
    }
    return o;
}
