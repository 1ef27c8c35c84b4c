/* The Ethereum relayer (see relayer.h): options and fee arithmetic, the send path (estimate,
 * nonce, sign, record, broadcast) and the tracker thread (receipts, fee bumps, rebroadcasts).
 *
 * One lock per relayer (`mu_send`) serialises everything that assigns a nonce or rewrites a
 * record: sends, and the tracker's per-record decisions (which reload the record under the
 * lock, so the two never overwrite each other's updates). Receipts are fetched outside the
 * lock in JSON-RPC batches. A record is written before each broadcast, so a crash between
 * the write and the broadcast leaves a record the tracker rebroadcasts, and a broadcast is
 * never lost from the record. */
#include "chain/eth/relayer.h"

#include "chain/eth/eth.h"
#include "core/util.h"
#include "obs/log.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define KIND_TX "eth-relayer-tx"
#define KIND_LIVE "eth-relayer-live"
#define VAULT_OWNER "eth-relayer"
#define FEE_BLOCKS "0xa"
#define SEND_TRIES 3
#define BATCH_MAX 100
#define LIVE_MAX 1000

struct eth_relayer {
    chain_net_t *net;
    store_t *store;
    eth_relayer_policy_t pol;
    bool enabled;
    char why[512]; /* when disabled */
    uint8_t *priv; /* sodium_malloc'ed 32 bytes */
    uint8_t addr[20];
    char addr_hex[43];
    pthread_mutex_t mu_send; /* nonce and record updates */
    bool nonce_known;
    uint64_t next_nonce;
    pthread_mutex_t mu; /* stop / kick / generation, for the tracker and waiters */
    pthread_cond_t tick_cv, done_cv;
    bool stop, kick;
    uint64_t gen; /* bumped whenever a record changes state */
    pthread_t thread;
    bool thread_on;
    uint64_t balance_ms; /* tracker: when it last read the balance (for /metrics) */
};

struct eth_relayers {
    eth_relayer_t **v;
    size_t n;
};

/* ---- options ----------------------------------------------------------------------------- */

static bool name_ok(const char *s, size_t n) {
    if (n == 0 || n >= 64) return false;
    for (size_t i = 0; i < n; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '-' || s[i] == '_')) return false;
    return true;
}

static int parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out) {
    if (!s || !*s || !isdigit((unsigned char)*s)) return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

static void policy_defaults(eth_relayer_policy_t *p) {
    memset(p, 0, sizeof *p);
    p->resubmit_blocks = ETH_RELAYER_DEFAULT_RESUBMIT_BLOCKS;
    p->poll_ms = ETH_RELAYER_DEFAULT_POLL_MS;
}

void eth_relayer_policy_free(eth_relayer_policy_t *p) {
    free(p->allow_to);
    p->allow_to = NULL;
    p->nallow = 0;
}

/* Applies "VALUE" of option opt to p. */
static int opt_set(eth_relayer_policy_t *p, const char *opt, const char *flagname, const char *v,
                   err_t *err) {
    uint64_t n;
    if (strcmp(opt, "key-file") == 0) {
        if (!*v || strlen(v) >= sizeof p->key_file)
            return err_set(err, R3E_EINVAL, "%s: the key file path is empty or too long", flagname);
        snprintf(p->key_file, sizeof p->key_file, "%s", v);
    } else if (strcmp(opt, "max-gas-price") == 0) {
        if (parse_u64(v, 1, UINT64_MAX, &n) < 0)
            return err_set(err, R3E_EINVAL, "%s: the max gas price is a positive integer in wei",
                           flagname);
        p->max_gas_price = n;
    } else if (strcmp(opt, "allow-to") == 0) {
        eth_relayer_policy_free(p);
        size_t cap = 1;
        for (const char *c = v; *c; c++)
            cap += *c == ',';
        p->allow_to = calloc(cap, sizeof *p->allow_to);
        if (!p->allow_to) return err_set(err, R3E_EINTERNAL, "out of memory");
        const char *s = v;
        while (*s) {
            const char *e = strchr(s, ',');
            size_t len = e ? (size_t)(e - s) : strlen(s);
            char a[64];
            if (len >= sizeof a) return err_set(err, R3E_EINVAL, "%s: bad address", flagname);
            memcpy(a, s, len);
            a[len] = '\0';
            err_t e2;
            if (eth_address_parse(a, p->allow_to[p->nallow], &e2) < 0)
                return err_set(err, R3E_EINVAL, "%s: \"%s\": %s", flagname, a, e2.msg);
            p->nallow++;
            s += len + (e ? 1 : 0);
        }
    } else if (strcmp(opt, "resubmit-blocks") == 0) {
        if (parse_u64(v, 1, 1000, &n) < 0)
            return err_set(err, R3E_EINVAL, "%s: resubmit-blocks is an integer in 1..1000",
                           flagname);
        p->resubmit_blocks = (uint32_t)n;
    } else if (strcmp(opt, "poll-ms") == 0) {
        if (parse_u64(v, 20, 60000, &n) < 0)
            return err_set(err, R3E_EINVAL, "%s: poll-ms is an integer in 20..60000", flagname);
        p->poll_ms = (uint32_t)n;
    } else {
        return err_set(err, R3E_EINVAL,
                       "unknown option --eth-relayer-%s (key-file, max-gas-price, allow-to, "
                       "resubmit-blocks, poll-ms)",
                       opt);
    }
    return 0;
}

/* "NAME=VALUE" -> name, value. */
static int opt_split(const char *opt, const char *nv, char name[64], const char **val, err_t *err) {
    const char *eq = strchr(nv, '=');
    if (!eq || !name_ok(nv, (size_t)(eq - nv)))
        return err_set(err, R3E_EINVAL, "--eth-relayer-%s wants NAME=VALUE (NAME a network)", opt);
    memcpy(name, nv, (size_t)(eq - nv));
    name[eq - nv] = '\0';
    *val = eq + 1;
    return 0;
}

int eth_relayer_opt_check(const char *opt, const char *value, err_t *err) {
    char name[64], flag[128];
    const char *v;
    if (opt_split(opt, value, name, &v, err) < 0) return -1;
    snprintf(flag, sizeof flag, "--eth-relayer-%.20s %.63s", opt, name);
    eth_relayer_policy_t p;
    policy_defaults(&p);
    int rc = opt_set(&p, opt, flag, v, err);
    eth_relayer_policy_free(&p);
    return rc;
}

int eth_relayer_policy_for(const char *opts, const char *network, eth_relayer_policy_t *p,
                           err_t *err) {
    policy_defaults(p);
    const char *line = opts ? opts : "";
    while (*line) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        char buf[2048], name[64], flag[128];
        if (len >= sizeof buf) return err_set(err, R3E_EINVAL, "relayer option too long");
        memcpy(buf, line, len);
        buf[len] = '\0';
        line += len + (nl ? 1 : 0);
        char *sp = strchr(buf, ' ');
        if (!sp) continue;
        *sp = '\0';
        const char *v;
        if (opt_split(buf, sp + 1, name, &v, err) < 0) goto fail;
        if (strcmp(name, network) != 0) continue;
        snprintf(flag, sizeof flag, "--eth-relayer-%.20s %.63s", buf, name);
        if (opt_set(p, buf, flag, v, err) < 0) goto fail;
    }
    return 0;
fail:
    eth_relayer_policy_free(p);
    return -1;
}

/* ---- fee arithmetic ---------------------------------------------------------------------- */

static const char *const speed_names[] = {"slow", "normal", "fast"};

int eth_relayer_speed_parse(const char *s, eth_relayer_speed_t *out, err_t *err) {
    for (int i = 0; i < 3; i++)
        if (s && strcmp(s, speed_names[i]) == 0) {
            *out = (eth_relayer_speed_t)i;
            return 0;
        }
    return err_set(err, R3E_EINVAL, "speed must be \"slow\", \"normal\" or \"fast\"");
}

const char *eth_relayer_speed_name(eth_relayer_speed_t s) {
    return speed_names[s];
}

/* A JSON-RPC quantity ("0x" hex, at most 64 bits). */
static int qty_u64(const json_t *v, uint64_t *out) {
    const char *s = json_string_value(v);
    if (!s || (s[0] != '0' || (s[1] != 'x' && s[1] != 'X')) || !s[2] || strlen(s) > 18) return -1;
    uint64_t x = 0;
    for (const char *p = s + 2; *p; p++) {
        int d = isdigit((unsigned char)*p) ? *p - '0'
                : (*p >= 'a' && *p <= 'f') ? *p - 'a' + 10
                : (*p >= 'A' && *p <= 'F') ? *p - 'A' + 10
                                           : -1;
        if (d < 0) return -1;
        x = x << 4 | (uint64_t)d;
    }
    *out = x;
    return 0;
}

static uint64_t sat_add(uint64_t a, uint64_t b) {
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int eth_relayer_fees_from_history(const json_t *hist, eth_relayer_speed_t speed, uint64_t *base,
                                  uint64_t *max_fee, uint64_t *tip, err_t *err) {
    const json_t *bases = json_object_get(hist, "baseFeePerGas");
    size_t nb = json_array_size(bases);
    if (!nb || qty_u64(json_array_get(bases, nb - 1), base) < 0)
        return err_set(err, R3E_EUPSTREAM,
                       "eth_feeHistory gave no base fee (the network must support EIP-1559)");
    const json_t *rewards = json_object_get(hist, "reward");
    size_t nr = json_array_size(rewards), k = 0;
    uint64_t vals[64];
    for (size_t i = 0; i < nr && k < 64; i++) {
        uint64_t v;
        if (qty_u64(json_array_get(json_array_get(rewards, i), (size_t)speed), &v) == 0)
            vals[k++] = v;
    }
    uint64_t t = 0;
    if (k) {
        qsort(vals, k, sizeof vals[0], cmp_u64);
        t = k % 2 ? vals[k / 2] : vals[k / 2 - 1] / 2 + vals[k / 2] / 2;
    }
    if (t < ETH_RELAYER_MIN_TIP) t = ETH_RELAYER_MIN_TIP;
    *tip = t;
    *max_fee = sat_add(sat_add(*base, *base), t);
    return 0;
}

int eth_relayer_apply_cap(uint64_t cap, uint64_t base, uint64_t *max_fee, uint64_t *tip,
                          err_t *err) {
    if (!cap) return 0;
    if (base >= cap)
        return err_set(err, R3E_EFORBIDDEN,
                       "the network's base fee (%llu wei) is at or above the relayer's max gas "
                       "price (%llu wei): not sending",
                       (unsigned long long)base, (unsigned long long)cap);
    if (*max_fee > cap) *max_fee = cap;
    if (*tip > *max_fee) *tip = *max_fee;
    return 0;
}

uint64_t eth_relayer_bump(uint64_t fee) {
    uint64_t inc = fee / 10 + (fee % 10 != 0);
    if (inc == 0) inc = 1;
    return sat_add(fee, inc);
}

void eth_relayer_bump_fees(uint64_t cap, uint64_t fresh_max, uint64_t fresh_tip, uint64_t *max_fee,
                           uint64_t *tip) {
    uint64_t m = eth_relayer_bump(*max_fee), t = eth_relayer_bump(*tip);
    if (fresh_max > m) m = fresh_max;
    if (fresh_tip > t) t = fresh_tip;
    if (cap && m > cap) m = cap;
    if (cap && m < *max_fee) m = *max_fee; /* already above a lowered cap: keep */
    if (t > m) t = m;
    *max_fee = m;
    *tip = t;
}

static bool has(const char *hay, const char *needle) {
    return strcasestr(hay, needle) != NULL;
}

eth_send_class_t eth_relayer_classify(const char *m) {
    if (!m) return ETH_SEND_ACCEPTED;
    if (has(m, "already known") || has(m, "known transaction") || has(m, "already imported") ||
        has(m, "already in the mempool") || has(m, "already exists"))
        return ETH_SEND_KNOWN;
    if (has(m, "nonce too low") || has(m, "nonce is too low") || has(m, "oldnonce") ||
        has(m, "nonce has already been used"))
        return ETH_SEND_NONCE_LOW;
    if (has(m, "nonce too high") || has(m, "nonce is too high") || has(m, "nonce gap") ||
        has(m, "futurenonce"))
        return ETH_SEND_NONCE_HIGH;
    if (has(m, "replacement transaction underpriced") || has(m, "replacement underpriced") ||
        has(m, "replacement fee too low"))
        return ETH_SEND_REPLACEMENT;
    return ETH_SEND_REJECTED;
}

/* ---- small JSON helpers ------------------------------------------------------------------ */

static const char *js(const json_t *o, const char *k) {
    return json_string_value(json_object_get(o, k));
}

static void set_u64_dec(json_t *o, const char *k, uint64_t v) {
    char b[24];
    snprintf(b, sizeof b, "%llu", (unsigned long long)v);
    json_object_set_new(o, k, json_string(b));
}

static uint64_t get_u64_dec(const json_t *o, const char *k) {
    uint64_t v = 0;
    const json_t *x = json_object_get(o, k);
    if (json_is_integer(x)) return (uint64_t)json_integer_value(x);
    if (parse_u64(json_string_value(x), 0, UINT64_MAX, &v) < 0) return 0;
    return v;
}

static void now_text(char out[40]) {
    util_rfc3339(util_wall_ms(), out, 40);
}

static void touch(json_t *rec) {
    char t[40];
    now_text(t);
    json_object_set_new(rec, "updated", json_string(t));
}

/* "0x" minimal hex quantity of a u256. */
static void u256_qty(const eth_u256_t *v, char out[67]) {
    static const char hx[] = "0123456789abcdef";
    size_t i = 0;
    while (i < 32 && v->b[i] == 0)
        i++;
    char *p = out;
    *p++ = '0', *p++ = 'x';
    if (i == 32) {
        *p++ = '0';
    } else {
        if (v->b[i] >> 4) *p++ = hx[v->b[i] >> 4];
        *p++ = hx[v->b[i] & 15];
        for (i++; i < 32; i++)
            *p++ = hx[v->b[i] >> 4], *p++ = hx[v->b[i] & 15];
    }
    *p = '\0';
}

/* ---- node calls -------------------------------------------------------------------------- */

static json_t *node(eth_relayer_t *r, const char *method, json_t *params, json_t **node_error,
                    err_t *err) {
    json_t *res = rpc_call_ex(r->net->rpc, method, params, 0, node_error, err);
    json_decref(params);
    return res;
}

static int node_u64(eth_relayer_t *r, const char *method, json_t *params, uint64_t *out,
                    err_t *err) {
    json_t *res = node(r, method, params, NULL, err);
    if (!res) return -1;
    int rc = qty_u64(res, out);
    json_decref(res);
    if (rc < 0) return err_set(err, R3E_EUPSTREAM, "%s: the node answered a non-quantity", method);
    return 0;
}

static int fetch_fees(eth_relayer_t *r, eth_relayer_speed_t speed, uint64_t *base,
                      uint64_t *max_fee, uint64_t *tip, err_t *err) {
    json_t *hist = node(r, "eth_feeHistory",
                        json_pack("[s,s,[i,i,i]]", FEE_BLOCKS, "latest", 10, 50, 90), NULL, err);
    if (!hist) return -1;
    int rc = eth_relayer_fees_from_history(hist, speed, base, max_fee, tip, err);
    json_decref(hist);
    return rc;
}

/* ---- records ----------------------------------------------------------------------------- */

static void rec_key(const eth_relayer_t *r, const char *ns, const char *id, char out[200]) {
    snprintf(out, 200, "%s/%s/%s", r->net->name, ns, id);
}

static void live_key(const eth_relayer_t *r, const char *id, char out[120]) {
    snprintf(out, 120, "%s/%s", r->net->name, id);
}

static json_t *rec_load(eth_relayer_t *r, const char *ns, const char *id, err_t *err) {
    char key[200], *val = NULL;
    size_t len;
    rec_key(r, ns, id, key);
    if (store_meta_get(r->store, KIND_TX, key, &val, &len, err) < 0) {
        if (err && err->code == R3E_ENOTFOUND)
            err_set(err, R3E_ENOTFOUND, "no relayed transaction %.40s on network %s", id,
                    r->net->name);
        return NULL;
    }
    json_t *rec = json_loadb(val, len, 0, NULL);
    free(val);
    if (!rec) err_set(err, R3E_EIO, "relayed transaction %.40s: record is corrupt", id);
    return rec;
}

bool eth_relayer_is_final(const char *state) {
    return state && (strcmp(state, "mined") == 0 || strcmp(state, "failed") == 0 ||
                     strcmp(state, "dropped") == 0 || strcmp(state, "error") == 0);
}

/* Counts a record that just became final (r3e_relayer_transactions_final_total). */
static void stats_final(eth_relayer_t *r, const char *state) {
    int i = chain_relayer_final_index(CHAIN_ETH, state);
    if (i >= 0) atomic_fetch_add(&r->net->relayer.final[i], 1);
}

/* Writes the record and its live marker (present while not final) in one atomic write. */
static int rec_save(eth_relayer_t *r, json_t *rec, err_t *err) {
    touch(rec);
    const char *ns = js(rec, "namespace"), *id = js(rec, "id");
    char key[200], lkey[120];
    rec_key(r, ns, id, key);
    live_key(r, id, lkey);
    char *txt = json_dumps(rec, JSON_COMPACT);
    if (!txt) return err_set(err, R3E_EINTERNAL, "out of memory");
    bool final = eth_relayer_is_final(js(rec, "state"));
    store_meta_op_t ops[2] = {
        {KIND_TX, key, txt, strlen(txt)},
        {KIND_LIVE, lkey, final ? NULL : ns, final ? 0 : strlen(ns)},
    };
    int rc = store_meta_write(r->store, ops, 2, err);
    free(txt);
    return rc;
}

static void notify(eth_relayer_t *r, bool kick) {
    pthread_mutex_lock(&r->mu);
    r->gen++;
    if (kick) r->kick = true;
    pthread_cond_broadcast(&r->done_cv);
    if (kick) pthread_cond_signal(&r->tick_cv);
    pthread_mutex_unlock(&r->mu);
}

/* Signs the record's transaction with the given fees: *raw "0x…" (malloc'ed), hash. */
static int rec_sign(eth_relayer_t *r, const json_t *rec, uint64_t max_fee, uint64_t tip, char **raw,
                    char hash[67], err_t *err) {
    uint64_t chain_id;
    if (chain_net_id(r->net, &chain_id, err) < 0) return -1;
    eth_tx_t tx = {
        .type = 2, .chain_id = chain_id, .nonce = get_u64_dec(rec, "nonce"), .has_to = true};
    eth_u256_from_u64(get_u64_dec(rec, "gasLimit"), &tx.gas_limit);
    eth_u256_from_u64(max_fee, &tx.max_fee_per_gas);
    eth_u256_from_u64(tip, &tx.max_priority_fee_per_gas);
    uint8_t *data = NULL;
    size_t dlen = 0;
    if (eth_address_parse(js(rec, "to"), tx.to, err) < 0 ||
        eth_u256_parse(js(rec, "value"), 256, false, &tx.value, "value", err) < 0 ||
        eth_hex_decode(js(rec, "data"), &data, &dlen, "data", err) < 0) {
        free(data);
        return -1;
    }
    tx.data = data;
    tx.data_len = dlen;
    eth_buf_t out = {0};
    uint8_t h[32];
    int rc = eth_tx_sign(&tx, r->priv, err);
    if (rc == 0) rc = eth_tx_serialize(&tx, true, &out, err);
    if (rc == 0) rc = eth_tx_hash(&tx, h, err);
    free(data);
    if (rc < 0) {
        eth_buf_free(&out);
        return -1;
    }
    *raw = eth_hex(out.data, out.len);
    eth_buf_free(&out);
    char *hh = eth_hex(h, 32);
    snprintf(hash, 67, "%s", hh);
    free(hh);
    return 0;
}

/* Broadcasts raw. Returns the class; for ETH_SEND_REJECTED etc. msg holds the node's message.
 * A transport failure returns -1 (err set): the node may or may not have it. */
static int broadcast(eth_relayer_t *r, const char *raw, char msg[300], err_t *err) {
    json_t *nerr = NULL;
    msg[0] = '\0';
    json_t *res = node(r, "eth_sendRawTransaction", json_pack("[s]", raw), &nerr, err);
    if (res) {
        json_decref(res);
        return ETH_SEND_ACCEPTED;
    }
    if (err->code != R3E_EUPSTREAM || !nerr) {
        json_decref(nerr);
        return -1;
    }
    snprintf(msg, 300, "%.299s", js(nerr, "message") ? js(nerr, "message") : err->msg);
    json_decref(nerr);
    return (int)eth_relayer_classify(msg);
}

/* Whether the node has the transaction (pending or mined). Some nodes answer a broadcast
 * with an error yet keep the transaction: hardhat's automine mines a reverting transaction
 * and reports the revert as the eth_sendRawTransaction error. */
static bool node_has_tx(eth_relayer_t *r, const char *hash) {
    err_t e;
    json_t *tx = node(r, "eth_getTransactionByHash", json_pack("[s]", hash), NULL, &e);
    bool has = json_is_object(tx);
    json_decref(tx);
    return has;
}

/* The highest nonce among this relayer's live records + 1 (0 when none). */
static uint64_t live_next_nonce(eth_relayer_t *r) {
    char from[80], to[80];
    snprintf(from, sizeof from, "%s/", r->net->name);
    snprintf(to, sizeof to, "%s0", r->net->name); /* '0' follows '/' */
    char **keys = NULL, **vals = NULL;
    size_t n = 0;
    uint64_t next = 0;
    err_t e;
    if (store_meta_range(r->store, KIND_LIVE, from, to, false, LIVE_MAX, &keys, &vals, &n, &e) < 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        json_t *rec = rec_load(r, vals[i], keys[i] + strlen(from), &e);
        if (rec && json_object_get(rec, "nonce")) {
            uint64_t x = get_u64_dec(rec, "nonce") + 1;
            if (x > next) next = x;
        }
        json_decref(rec);
    }
    store_strv_free(keys, n);
    store_strv_free(vals, n);
    return next;
}

/* With mu_send held: the next nonce from the node's pending count (and, at the first sync,
 * this relayer's own live records, which a node that lost its mempool no longer counts). */
static int nonce_sync(eth_relayer_t *r, bool first, err_t *err) {
    uint64_t pending;
    if (node_u64(r, "eth_getTransactionCount", json_pack("[s,s]", r->addr_hex, "pending"), &pending,
                 err) < 0)
        return -1;
    if (first) {
        uint64_t mine = live_next_nonce(r);
        if (mine > pending) pending = mine;
    }
    if (r->nonce_known && r->next_nonce != pending)
        log_info("eth relayer %s: nonce resynchronised from %llu to %llu", r->net->name,
                 (unsigned long long)r->next_nonce, (unsigned long long)pending);
    r->next_nonce = pending;
    r->nonce_known = true;
    return 0;
}

static json_t *attempt_new(const char *hash, uint64_t max_fee, uint64_t tip) {
    json_t *a = json_object();
    char t[40];
    now_text(t);
    json_object_set_new(a, "hash", json_string(hash));
    set_u64_dec(a, "maxFeePerGas", max_fee);
    set_u64_dec(a, "maxPriorityFeePerGas", tip);
    json_object_set_new(a, "at", json_string(t));
    return a;
}

/* Sets the record's current fees and hash from its last attempt. */
static void rec_current(json_t *rec) {
    json_t *atts = json_object_get(rec, "attempts");
    json_t *last = json_array_get(atts, json_array_size(atts) - 1);
    if (!last) return;
    json_object_set(rec, "hash", json_object_get(last, "hash"));
    json_object_set(rec, "maxFeePerGas", json_object_get(last, "maxFeePerGas"));
    json_object_set(rec, "maxPriorityFeePerGas", json_object_get(last, "maxPriorityFeePerGas"));
}

static void rec_fail(json_t *rec, const char *state, const char *msg) {
    json_object_set_new(rec, "state", json_string(state));
    json_object_set_new(rec, "error", json_string(msg));
}

/* ---- the send path ----------------------------------------------------------------------- */

typedef struct {
    uint8_t to[20];
    char *data_hex; /* lowercase "0x…", malloc'ed */
    eth_u256_t value;
    uint64_t gas_limit; /* 0 = estimate */
    eth_relayer_speed_t speed;
} send_req_t;

static int req_parse(const json_t *req, const char *const *extra, send_req_t *q, err_t *err) {
    memset(q, 0, sizeof *q);
    q->speed = ETH_SPEED_NORMAL;
    if (!json_is_object(req)) return err_set(err, R3E_EINVAL, "the request must be a JSON object");
    static const char *const known[] = {"to", "data", "value", "gasLimit", "speed"};
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)req, k, v) {
        bool ok = false;
        for (size_t i = 0; i < sizeof known / sizeof *known; i++)
            ok = ok || strcmp(k, known[i]) == 0;
        for (const char *const *e = extra; e && *e; e++)
            ok = ok || strcmp(k, *e) == 0;
        if (!ok)
            return err_set(err, R3E_EINVAL,
                           "unknown field \"%.40s\" (to, data, value, gasLimit, speed)", k);
    }
    const char *to = js(req, "to");
    if (!to)
        return err_set(err, R3E_EINVAL,
                       "\"to\" (the 0x address to call) is required; the relayer does not "
                       "deploy contracts");
    err_t e2;
    if (eth_address_parse(to, q->to, &e2) < 0) return err_set(err, R3E_EINVAL, "to: %s", e2.msg);
    const json_t *data = json_object_get(req, "data");
    uint8_t *bytes = NULL;
    size_t n = 0;
    if (data && !json_is_null(data)) {
        if (!json_is_string(data) ||
            eth_hex_decode(json_string_value(data), &bytes, &n, "data", &e2) < 0) {
            free(bytes);
            return err_set(err, R3E_EINVAL, "data must be a 0x-prefixed hex string%s%s",
                           json_is_string(data) ? ": " : "", json_is_string(data) ? e2.msg : "");
        }
        if (n > ETH_RELAYER_DATA_MAX) {
            free(bytes);
            return err_set(err, R3E_ETOOBIG, "data is %zu bytes; the relayer takes at most %d", n,
                           ETH_RELAYER_DATA_MAX);
        }
    }
    q->data_hex = eth_hex(bytes, n);
    free(bytes);
    const json_t *val = json_object_get(req, "value");
    if (val && !json_is_null(val)) {
        if (json_is_integer(val) && json_integer_value(val) < 0)
            return err_set(err, R3E_EINVAL, "value must not be negative");
        if (eth_u256_from_json(val, 256, false, &q->value, "value", &e2) < 0)
            return err_set(err, R3E_EINVAL,
                           "value must be a wei amount as a decimal or 0x string below 2^256: %s",
                           e2.msg);
    }
    const json_t *gl = json_object_get(req, "gasLimit");
    if (gl && !json_is_null(gl)) {
        eth_u256_t g;
        if ((json_is_integer(gl) && json_integer_value(gl) < 0) ||
            eth_u256_from_json(gl, 64, false, &g, "gasLimit", &e2) < 0)
            return err_set(err, R3E_EINVAL, "gasLimit must be an integer in 21000..30000000");
        uint64_t x = 0;
        for (int i = 24; i < 32; i++)
            x = x << 8 | g.b[i];
        if (x < 21000 || x > 30000000)
            return err_set(err, R3E_EINVAL, "gasLimit must be an integer in 21000..30000000");
        q->gas_limit = x;
    }
    const json_t *sp = json_object_get(req, "speed");
    if (sp && !json_is_null(sp) &&
        eth_relayer_speed_parse(json_string_value(sp), &q->speed, err) < 0)
        return -1;
    return 0;
}

static int policy_check_to(const eth_relayer_t *r, const uint8_t to[20], err_t *err) {
    if (!r->pol.nallow) return 0;
    for (size_t i = 0; i < r->pol.nallow; i++)
        if (memcmp(r->pol.allow_to[i], to, 20) == 0) return 0;
    char a[43];
    eth_address_checksum(to, a);
    return err_set(err, R3E_EFORBIDDEN,
                   "the relayer of network %s may only send to the addresses its operator allowed "
                   "(--eth-relayer-allow-to); %s is not one of them",
                   r->net->name, a);
}

static int estimate_gas(eth_relayer_t *r, const send_req_t *q, uint64_t *gas, json_t **rpc_error,
                        err_t *err) {
    char to[43], val[67];
    eth_address_checksum(q->to, to);
    u256_qty(&q->value, val);
    json_t *nerr = NULL;
    json_t *res = node(r, "eth_estimateGas",
                       json_pack("[{s:s,s:s,s:s,s:s}]", "from", r->addr_hex, "to", to, "data",
                                 q->data_hex, "value", val),
                       &nerr, err);
    if (!res) {
        if (err->code == R3E_EUPSTREAM) {
            char m[sizeof err->msg];
            snprintf(m, sizeof m, "%s", err->msg);
            err_set(err, R3E_EUPSTREAM, "gas estimation failed: %s", m);
            if (rpc_error) *rpc_error = nerr, nerr = NULL;
        }
        json_decref(nerr);
        return -1;
    }
    int rc = qty_u64(res, gas);
    json_decref(res);
    if (rc < 0) return err_set(err, R3E_EUPSTREAM, "eth_estimateGas: not a quantity");
    return 0;
}

/* With mu_send held: assigns the nonce, signs, writes, broadcasts; retries with a resynced
 * nonce when the node says the nonce is wrong. Leaves rec in its resulting state. */
static int send_locked(eth_relayer_t *r, json_t *rec, uint64_t max_fee, uint64_t tip, err_t *err) {
    if (!r->nonce_known && nonce_sync(r, true, err) < 0) return -1;
    for (int t = 0; t < SEND_TRIES; t++) {
        json_object_set_new(rec, "nonce", json_integer((json_int_t)r->next_nonce));
        char *raw = NULL, hash[67];
        if (rec_sign(r, rec, max_fee, tip, &raw, hash, err) < 0) return -1;
        json_object_set_new(rec, "attempts", json_pack("[o]", attempt_new(hash, max_fee, tip)));
        rec_current(rec);
        json_object_set_new(rec, "state", json_string("queued"));
        if (rec_save(r, rec, err) < 0) {
            free(raw);
            return -1;
        }
        char msg[300];
        err_t be;
        int cls = broadcast(r, raw, msg, &be);
        free(raw);
        if (cls == ETH_SEND_REJECTED && node_has_tx(r, hash)) cls = ETH_SEND_KNOWN;
        if (cls < 0) { /* unreachable: keep it queued; the tracker rebroadcasts */
            r->next_nonce++;
            json_object_set_new(rec, "lastError", json_string(be.msg));
            return rec_save(r, rec, err);
        }
        if (cls == ETH_SEND_ACCEPTED || cls == ETH_SEND_KNOWN) {
            r->next_nonce++;
            json_object_set_new(rec, "state", json_string("submitted"));
            return rec_save(r, rec, err);
        }
        if (cls == ETH_SEND_REJECTED || t == SEND_TRIES - 1) {
            rec_fail(rec, "error", msg);
            log_info("eth relayer %s: transaction %s refused by the node: %s", r->net->name,
                     js(rec, "id"), msg);
            return rec_save(r, rec, err);
        }
        log_info("eth relayer %s: nonce %llu refused (%s); resynchronising", r->net->name,
                 (unsigned long long)r->next_nonce, msg);
        if (nonce_sync(r, false, err) < 0) {
            rec_fail(rec, "error", msg);
            return rec_save(r, rec, err);
        }
    }
    return 0;
}

json_t *eth_relayer_send(eth_relayer_t *r, const eth_relayer_caller_t *who, const json_t *req,
                         const char *const *extra, json_t **rpc_error, err_t *err) {
    if (!r->enabled) {
        err_set(err, R3E_EUNAVAIL, "%s", r->why);
        return NULL;
    }
    send_req_t q;
    json_t *rec = NULL;
    if (req_parse(req, extra, &q, err) < 0 || policy_check_to(r, q.to, err) < 0) goto out;
    uint64_t chain_id, base, max_fee, tip;
    if (chain_net_id(r->net, &chain_id, err) < 0) goto out;
    if (!q.gas_limit && estimate_gas(r, &q, &q.gas_limit, rpc_error, err) < 0) goto out;
    if (fetch_fees(r, q.speed, &base, &max_fee, &tip, err) < 0 ||
        eth_relayer_apply_cap(r->pol.max_gas_price, base, &max_fee, &tip, err) < 0)
        goto out;

    char id[27], to[43], value[80], t[40];
    util_ulid(id);
    eth_address_checksum(q.to, to);
    eth_u256_to_dec(&q.value, false, value);
    now_text(t);
    rec = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "id", id, "network", r->net->name,
                    "namespace", who && who->ns && *who->ns ? who->ns : "default", "state",
                    "queued", "from", r->addr_hex, "to", to, "data", q.data_hex, "value", value,
                    "speed", eth_relayer_speed_name(q.speed), "created", t);
    set_u64_dec(rec, "gasLimit", q.gas_limit);
    set_u64_dec(rec, "chainId", chain_id);
    if (who && who->function) json_object_set_new(rec, "function", json_string(who->function));
    if (who && who->exec_id) json_object_set_new(rec, "execution", json_string(who->exec_id));

    pthread_mutex_lock(&r->mu_send);
    int rc = send_locked(r, rec, max_fee, tip, err);
    pthread_mutex_unlock(&r->mu_send);
    if (rc == 0 && eth_relayer_is_final(js(rec, "state"))) stats_final(r, js(rec, "state"));
    if (rc < 0) {
        json_decref(rec);
        rec = NULL;
        goto out;
    }
    notify(r, true);
out:
    free(q.data_hex);
    return rec;
}

json_t *eth_relayer_get(eth_relayer_t *r, const char *ns, const char *id, err_t *err) {
    if (!id || !*id || strlen(id) > 40 || strchr(id, '/')) {
        err_set(err, R3E_ENOTFOUND, "no relayed transaction %.40s", id ? id : "");
        return NULL;
    }
    return rec_load(r, ns && *ns ? ns : "default", id, err);
}

json_t *eth_relayer_wait(eth_relayer_t *r, const char *ns, const char *id, uint64_t deadline_us,
                         err_t *err) {
    for (;;) {
        pthread_mutex_lock(&r->mu);
        uint64_t gen = r->gen;
        bool stop = r->stop;
        pthread_mutex_unlock(&r->mu);
        json_t *rec = eth_relayer_get(r, ns, id, err);
        if (!rec || eth_relayer_is_final(js(rec, "state")) || stop ||
            util_now_us() + 1000 >= deadline_us)
            return rec;
        json_decref(rec);
        /* wake on any state change, and at least every 200 ms */
        uint64_t wait_us = deadline_us - util_now_us();
        if (wait_us > 200000) wait_us = 200000;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t ns_total = (uint64_t)ts.tv_nsec + wait_us * 1000;
        ts.tv_sec += (time_t)(ns_total / 1000000000);
        ts.tv_nsec = (long)(ns_total % 1000000000);
        pthread_mutex_lock(&r->mu);
        while (r->gen == gen && !r->stop)
            if (pthread_cond_timedwait(&r->done_cv, &r->mu, &ts) != 0) break;
        pthread_mutex_unlock(&r->mu);
    }
}

json_t *eth_relayer_list(eth_relayer_t *r, const char *ns, size_t limit, err_t *err) {
    char from[200], to[200];
    if (!ns || !*ns) ns = "default";
    snprintf(from, sizeof from, "%s/%s/", r->net->name, ns);
    snprintf(to, sizeof to, "%s/%s0", r->net->name, ns);
    char **keys = NULL, **vals = NULL;
    size_t n = 0;
    if (store_meta_range(r->store, KIND_TX, from, to, true, limit, &keys, &vals, &n, err) < 0)
        return NULL;
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *rec = json_loads(vals[i], 0, NULL);
        if (rec) json_array_append_new(arr, rec);
    }
    store_strv_free(keys, n);
    store_strv_free(vals, n);
    return json_pack("{s:o}", "transactions", arr);
}

static size_t live_count(eth_relayer_t *r) {
    char from[80], to[80];
    snprintf(from, sizeof from, "%s/", r->net->name);
    snprintf(to, sizeof to, "%s0", r->net->name);
    char **keys = NULL;
    size_t n = 0;
    err_t e;
    if (store_meta_range(r->store, KIND_LIVE, from, to, false, LIVE_MAX, &keys, NULL, &n, &e) < 0)
        return 0;
    store_strv_free(keys, n);
    return n;
}

json_t *eth_relayer_info(eth_relayer_t *r, err_t *err) {
    if (!r->enabled) {
        err_set(err, R3E_EUNAVAIL, "%s", r->why);
        return NULL;
    }
    uint64_t chain_id;
    if (chain_net_id(r->net, &chain_id, err) < 0) return NULL;
    json_t *bal = node(r, "eth_getBalance", json_pack("[s,s]", r->addr_hex, "latest"), NULL, err);
    if (!bal) return NULL;
    eth_u256_t b;
    char bdec[80];
    int rc = eth_u256_parse(json_string_value(bal), 256, false, &b, "balance", err);
    json_decref(bal);
    if (rc < 0) return NULL;
    eth_u256_to_dec(&b, false, bdec);
    pthread_mutex_lock(&r->mu_send);
    rc = r->nonce_known ? 0 : nonce_sync(r, true, err);
    uint64_t nonce = r->next_nonce;
    pthread_mutex_unlock(&r->mu_send);
    if (rc < 0) return NULL;
    json_t *allow = json_array();
    for (size_t i = 0; i < r->pol.nallow; i++) {
        char a[43];
        eth_address_checksum(r->pol.allow_to[i], a);
        json_array_append_new(allow, json_string(a));
    }
    json_t *pol = json_pack("{s:o,s:o,s:i}", "maxGasPrice", json_null(), "allowTo", allow,
                            "resubmitBlocks", (json_int_t)r->pol.resubmit_blocks);
    if (r->pol.max_gas_price) set_u64_dec(pol, "maxGasPrice", r->pol.max_gas_price);
    json_t *o = json_pack("{s:s,s:s,s:s,s:I,s:s,s:o}", "network", r->net->name, "address",
                          r->addr_hex, "chainId", "", "pending", (json_int_t)live_count(r),
                          "balance", bdec, "policy", pol);
    set_u64_dec(o, "chainId", chain_id);
    json_object_set_new(o, "nonce", json_integer((json_int_t)nonce));
    return o;
}

/* ---- the tracker ------------------------------------------------------------------------- */

typedef struct {
    char ns[64], id[40];
    json_t *hashes;  /* the attempt hashes asked for */
    json_t *receipt; /* the first receipt found, or NULL */
} live_t;

static json_t *receipt_summary(const json_t *rc) {
    uint64_t bn = 0, gas = 0, st = 0, egp = 0;
    qty_u64(json_object_get(rc, "blockNumber"), &bn);
    qty_u64(json_object_get(rc, "gasUsed"), &gas);
    qty_u64(json_object_get(rc, "status"), &st);
    qty_u64(json_object_get(rc, "effectiveGasPrice"), &egp);
    json_t *o = json_pack("{s:O,s:I,s:O,s:i}", "hash", json_object_get(rc, "transactionHash"),
                          "blockNumber", (json_int_t)bn, "blockHash",
                          json_object_get(rc, "blockHash"), "status", (int)st);
    set_u64_dec(o, "gasUsed", gas);
    set_u64_dec(o, "effectiveGasPrice", egp);
    return o;
}

/* Under mu_send: what happens to one live record this tick. live[] counts the records left
 * queued / submitted. */
static void track_one(eth_relayer_t *r, live_t *l, uint64_t head, bool *changed,
                      uint64_t live[CHAIN_TX_LIVE_N]) {
    err_t e;
    json_t *rec = rec_load(r, l->ns, l->id, &e);
    if (!rec) {
        char lkey[120];
        live_key(r, l->id, lkey);
        store_meta_delete(r->store, KIND_LIVE, lkey, &e); /* orphaned marker */
        return;
    }
    const char *state = js(rec, "state");
    bool was_final = eth_relayer_is_final(state);
    if (was_final) goto save;
    if (l->receipt) {
        json_t *sum = receipt_summary(l->receipt);
        bool ok = json_integer_value(json_object_get(sum, "status")) == 1;
        json_object_set_new(rec, "receipt", sum);
        json_object_set_new(rec, "state", json_string(ok ? "mined" : "failed"));
        json_object_set(rec, "hash", json_object_get(sum, "hash"));
        if (!ok) json_object_set_new(rec, "error", json_string("the transaction reverted"));
        log_info("eth relayer %s: %s %s in block %lld", r->net->name, l->id,
                 ok ? "mined" : "reverted",
                 json_integer_value(json_object_get(sum, "blockNumber")));
        *changed = true;
        goto save;
    }
    json_t *atts = json_object_get(rec, "attempts");
    json_t *last = json_array_get(atts, json_array_size(atts) - 1);
    if (!last) goto done;
    if (!json_object_get(last, "sentBlock")) { /* first sight: count blocks from here */
        json_object_set_new(last, "sentBlock", json_integer((json_int_t)head));
        if (strcmp(state, "submitted") == 0) goto save;
    }
    uint64_t sent = (uint64_t)json_integer_value(json_object_get(last, "sentBlock"));
    const json_t *low = json_object_get(rec, "nonceUsedAt");
    if (low && head >= (uint64_t)json_integer_value(low) + r->pol.resubmit_blocks) {
        rec_fail(rec, "dropped",
                 "the nonce was used by another transaction (none of this record's hashes was "
                 "mined)");
        log_warn("eth relayer %s: %s dropped: nonce %llu used elsewhere", r->net->name, l->id,
                 (unsigned long long)get_u64_dec(rec, "nonce"));
        *changed = true;
        goto save;
    }
    bool queued = strcmp(state, "queued") == 0;
    if (!queued && head < sent + r->pol.resubmit_blocks) goto done;

    /* rebroadcast: queued ones as they are; stale ones with higher fees */
    uint64_t max_fee = get_u64_dec(last, "maxFeePerGas"),
             tip = get_u64_dec(last, "maxPriorityFeePerGas");
    uint64_t fm = 0, ft = 0, base;
    eth_relayer_speed_t sp = ETH_SPEED_NORMAL;
    eth_relayer_speed_parse(js(rec, "speed"), &sp, &e);
    if (!queued) {
        if (fetch_fees(r, sp, &base, &fm, &ft, &e) < 0) fm = ft = 0;
        if (json_array_size(atts) < ETH_RELAYER_MAX_ATTEMPTS)
            eth_relayer_bump_fees(r->pol.max_gas_price, fm, ft, &max_fee, &tip);
    }
    char *raw = NULL, hash[67];
    if (rec_sign(r, rec, max_fee, tip, &raw, hash, &e) < 0) {
        log_error("eth relayer %s: cannot re-sign %s: %s", r->net->name, l->id, e.msg);
        goto done;
    }
    bool fresh = strcmp(hash, js(last, "hash")) != 0;
    if (fresh) { /* recorded before the broadcast, so a crash cannot lose the hash */
        json_array_append_new(atts, attempt_new(hash, max_fee, tip));
        rec_current(rec);
        if (rec_save(r, rec, &e) < 0) {
            free(raw);
            goto done;
        }
        log_info("eth relayer %s: %s not mined within %u blocks; resubmitting nonce %llu with "
                 "maxFeePerGas %llu (+10%%)",
                 r->net->name, l->id, r->pol.resubmit_blocks,
                 (unsigned long long)get_u64_dec(rec, "nonce"), (unsigned long long)max_fee);
        atomic_fetch_add(&r->net->relayer.resubmits, 1);
    }
    char msg[300];
    int cls = broadcast(r, raw, msg, &e);
    free(raw);
    if (cls == ETH_SEND_REJECTED && node_has_tx(r, hash)) cls = ETH_SEND_KNOWN;
    json_t *cur = json_array_get(atts, json_array_size(atts) - 1);
    if (cls == ETH_SEND_ACCEPTED || cls == ETH_SEND_KNOWN || cls < 0) {
        json_object_set_new(cur, "sentBlock", json_integer((json_int_t)head));
        if (cls >= 0) {
            json_object_set_new(rec, "state", json_string("submitted"));
            json_object_del(rec, "lastError");
        } else {
            json_object_set_new(rec, "lastError", json_string(e.msg));
        }
        goto save;
    }
    /* refused: this attempt never existed for the node */
    if (fresh) {
        json_array_remove(atts, json_array_size(atts) - 1);
        rec_current(rec);
    }
    json_object_set_new(json_array_get(atts, json_array_size(atts) - 1), "sentBlock",
                        json_integer((json_int_t)head));
    json_object_set_new(rec, "lastError", json_string(msg));
    if (cls == ETH_SEND_NONCE_LOW) {
        /* one of our own attempts may have just been mined: give its receipt a few blocks
         * before calling the record dropped */
        if (!json_object_get(rec, "nonceUsedAt"))
            json_object_set_new(rec, "nonceUsedAt", json_integer((json_int_t)head));
        r->nonce_known = false; /* resync at the next send */
    } else if (queued && cls == ETH_SEND_REJECTED) {
        rec_fail(rec, "error", msg);
        *changed = true;
    }
save:
    if (rec_save(r, rec, &e) < 0) log_error("eth relayer %s: %s", r->net->name, e.msg);
done:
    state = js(rec, "state");
    if (!was_final && eth_relayer_is_final(state)) stats_final(r, state);
    if (state && strcmp(state, "queued") == 0) live[CHAIN_TX_QUEUED]++;
    if (state && strcmp(state, "submitted") == 0) live[CHAIN_TX_SUBMITTED]++;
    json_decref(rec);
}

/* The balance gauge: one eth_getBalance at most every 30 s, from the tracker, so a scrape
 * never waits for the node. */
static void balance_refresh(eth_relayer_t *r) {
    uint64_t now = util_now_us() / 1000;
    if (r->balance_ms && now - r->balance_ms < 30000) return;
    r->balance_ms = now;
    err_t e;
    json_t *bal = node(r, "eth_getBalance", json_pack("[s,s]", r->addr_hex, "latest"), NULL, &e);
    const char *hex = json_string_value(bal);
    if (hex && strncmp(hex, "0x", 2) == 0 && hex[2] && strlen(hex) <= 66) {
        double v = 0;
        bool ok = true;
        for (const char *p = hex + 2; *p && ok; p++) {
            int d = isdigit((unsigned char)*p) ? *p - '0'
                    : (*p >= 'a' && *p <= 'f') ? *p - 'a' + 10
                    : (*p >= 'A' && *p <= 'F') ? *p - 'A' + 10
                                               : -1;
            ok = d >= 0;
            v = v * 16 + d;
        }
        if (ok) {
            atomic_store(&r->net->relayer.balance, v);
            atomic_store(&r->net->relayer.balance_known, true);
        }
    }
    json_decref(bal);
}

static void tick(eth_relayer_t *r) {
    char from[80], to[80];
    snprintf(from, sizeof from, "%s/", r->net->name);
    snprintf(to, sizeof to, "%s0", r->net->name);
    char **keys = NULL, **vals = NULL;
    size_t n = 0;
    err_t e;
    if (store_meta_range(r->store, KIND_LIVE, from, to, false, LIVE_MAX, &keys, &vals, &n, &e) <
        0) {
        log_warn("eth relayer %s: tracker: %s", r->net->name, e.msg);
        return;
    }
    if (n == 0) {
        atomic_store(&r->net->relayer.live[CHAIN_TX_QUEUED], 0);
        atomic_store(&r->net->relayer.live[CHAIN_TX_SUBMITTED], 0);
        store_strv_free(keys, n);
        store_strv_free(vals, n);
        return;
    }
    uint64_t head;
    live_t *ls = calloc(n, sizeof *ls);
    json_t *calls = json_array();
    if (!ls || node_u64(r, "eth_blockNumber", NULL, &head, &e) < 0) {
        log_debug("eth relayer %s: tracker: %s", r->net->name, e.msg);
        goto out;
    }
    /* one receipt query per attempt hash of every live record, in batches */
    for (size_t i = 0; i < n; i++) {
        snprintf(ls[i].ns, sizeof ls[i].ns, "%s", vals[i]);
        snprintf(ls[i].id, sizeof ls[i].id, "%s", keys[i] + strlen(from));
        json_t *rec = rec_load(r, ls[i].ns, ls[i].id, &e);
        ls[i].hashes = json_array();
        size_t k;
        json_t *a;
        json_array_foreach(json_object_get(rec, "attempts"), k, a) {
            json_array_append(ls[i].hashes, json_object_get(a, "hash"));
            json_array_append_new(calls,
                                  json_pack("{s:s,s:[O]}", "method", "eth_getTransactionReceipt",
                                            "params", json_object_get(a, "hash")));
        }
        json_decref(rec);
    }
    size_t total = json_array_size(calls), li = 0, hi = 0;
    for (size_t off = 0; off < total; off += BATCH_MAX) {
        json_t *chunk = json_array();
        for (size_t j = off; j < total && j < off + BATCH_MAX; j++)
            json_array_append(chunk, json_array_get(calls, j));
        json_t *res = rpc_batch(r->net->rpc, chunk, &e);
        json_decref(chunk);
        if (!res) {
            log_debug("eth relayer %s: receipts: %s", r->net->name, e.msg);
            goto out;
        }
        for (size_t j = 0; j < json_array_size(res); j++) {
            while (li < n && hi >= json_array_size(ls[li].hashes))
                li++, hi = 0;
            if (li == n) break;
            json_t *rc = json_object_get(json_array_get(res, j), "result");
            if (json_is_object(rc) && !ls[li].receipt) ls[li].receipt = json_incref(rc);
            hi++;
        }
        json_decref(res);
    }
    bool changed = false;
    uint64_t live[CHAIN_TX_LIVE_N] = {0};
    for (size_t i = 0; i < n; i++) {
        pthread_mutex_lock(&r->mu_send);
        track_one(r, &ls[i], head, &changed, live);
        pthread_mutex_unlock(&r->mu_send);
    }
    for (int k = 0; k < CHAIN_TX_LIVE_N; k++)
        atomic_store(&r->net->relayer.live[k], live[k]);
    if (changed) notify(r, false);
out:
    for (size_t i = 0; ls && i < n; i++) {
        json_decref(ls[i].hashes);
        json_decref(ls[i].receipt);
    }
    free(ls);
    json_decref(calls);
    store_strv_free(keys, n);
    store_strv_free(vals, n);
}

static void *tracker(void *arg) {
    eth_relayer_t *r = arg;
    pthread_mutex_lock(&r->mu);
    while (!r->stop) {
        if (!r->kick) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            uint64_t ns_total = (uint64_t)ts.tv_nsec + (uint64_t)r->pol.poll_ms * 1000000;
            ts.tv_sec += (time_t)(ns_total / 1000000000);
            ts.tv_nsec = (long)(ns_total % 1000000000);
            pthread_cond_timedwait(&r->tick_cv, &r->mu, &ts);
        }
        if (r->stop) break;
        r->kick = false;
        pthread_mutex_unlock(&r->mu);
        balance_refresh(r);
        tick(r);
        pthread_mutex_lock(&r->mu);
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

/* ---- keys and lifecycle ------------------------------------------------------------------ */

static int key_from_hex(const char *text, size_t len, uint8_t *priv, err_t *err) {
    while (len && isspace((unsigned char)text[len - 1]))
        len--;
    while (len && isspace((unsigned char)*text))
        text++, len--;
    if (len >= 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) text += 2, len -= 2;
    if (len != 64 || util_hex_decode(text, 64, priv, 32) != 32)
        return err_set(err, R3E_EINVAL, "a relayer key is 64 hex digits (a secp256k1 private key)");
    uint8_t pub[65];
    return eth_key_public(priv, pub, err);
}

/* The key: from the key file, else from the vault (created on first start). */
static int relayer_key(eth_relayer_t *r, vault_t *vault, err_t *err) {
    if (r->pol.key_file[0]) {
        size_t len = 0;
        char *txt = util_read_file(r->pol.key_file, &len);
        if (!txt)
            return err_set(err, R3E_EINVAL, "--eth-relayer-key-file %s: cannot read %s: %s",
                           r->net->name, r->pol.key_file, strerror(errno));
        err_t e2;
        int rc = key_from_hex(txt, len, r->priv, &e2);
        sodium_memzero(txt, len);
        free(txt);
        if (rc < 0)
            return err_set(err, R3E_EINVAL, "--eth-relayer-key-file %s: %s", r->net->name, e2.msg);
        return 0;
    }
    if (!vault) {
        snprintf(r->why, sizeof r->why,
                 "the relayer of network %s is disabled: the secret vault is off, so there is "
                 "nowhere to keep its key sealed (start the server with a master key, or give "
                 "--eth-relayer-key-file %s=PATH)",
                 r->net->name, r->net->name);
        log_warn("%s", r->why);
        return 1;
    }
    char *val = NULL;
    size_t len = 0;
    err_t e2;
    if (vault_get_system(vault, VAULT_OWNER, r->net->name, &val, &len, &e2) == 0) {
        int rc = key_from_hex(val, len, r->priv, err);
        vault_plaintext_free(val);
        return rc;
    }
    if (e2.code != R3E_ENOTFOUND) return err_set(err, e2.code, "relayer key: %s", e2.msg);
    uint8_t pub[65];
    do
        randombytes_buf(r->priv, 32);
    while (eth_key_public(r->priv, pub, &e2) < 0);
    char hex[65];
    util_hex_encode(r->priv, 32, hex);
    int rc = vault_put_system(vault, VAULT_OWNER, r->net->name, hex, 64, err);
    sodium_memzero(hex, sizeof hex);
    if (rc < 0) return -1;
    eth_address_from_public(pub, r->addr);
    char a[43];
    eth_address_checksum(r->addr, a);
    log_info("eth relayer %s: created a new relayer key (address %s), sealed in the vault; "
             "fund this address to send transactions",
             r->net->name, a);
    return 0;
}

static void relayer_free(eth_relayer_t *r) {
    if (!r) return;
    if (r->enabled) atomic_store(&r->net->relayer.on, false);
    if (r->thread_on) {
        pthread_mutex_lock(&r->mu);
        r->stop = true;
        pthread_cond_broadcast(&r->tick_cv);
        pthread_cond_broadcast(&r->done_cv);
        pthread_mutex_unlock(&r->mu);
        pthread_join(r->thread, NULL);
    }
    if (r->priv) sodium_free(r->priv);
    eth_relayer_policy_free(&r->pol);
    pthread_mutex_destroy(&r->mu_send);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->tick_cv);
    pthread_cond_destroy(&r->done_cv);
    free(r);
}

static eth_relayer_t *relayer_new(chain_net_t *net, store_t *store, vault_t *vault,
                                  const char *opts, err_t *err) {
    eth_relayer_t *r = calloc(1, sizeof *r);
    if (!r) {
        err_set(err, R3E_EINTERNAL, "out of memory");
        return NULL;
    }
    r->net = net;
    r->store = store;
    pthread_mutex_init(&r->mu_send, NULL);
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->tick_cv, NULL);
    pthread_cond_init(&r->done_cv, NULL);
    r->priv = sodium_malloc(32);
    if (!r->priv || eth_relayer_policy_for(opts, net->name, &r->pol, err) < 0) {
        if (!r->priv) err_set(err, R3E_EINTERNAL, "out of memory");
        relayer_free(r);
        return NULL;
    }
    int k = relayer_key(r, vault, err);
    if (k < 0) {
        relayer_free(r);
        return NULL;
    }
    if (k > 0) return r; /* disabled, r->why says why */
    if (eth_key_address(r->priv, r->addr, err) < 0) {
        relayer_free(r);
        return NULL;
    }
    eth_address_checksum(r->addr, r->addr_hex);
    r->enabled = true;
    r->kick = true; /* resume tracking what a previous run left */
    if (pthread_create(&r->thread, NULL, tracker, r) != 0) {
        err_set(err, R3E_EINTERNAL, "cannot start the relayer tracker");
        relayer_free(r);
        return NULL;
    }
    r->thread_on = true;
    atomic_store(&net->relayer.on, true);
    log_info("eth relayer %s: address %s (resubmit after %u blocks, max gas price %s)", net->name,
             r->addr_hex, r->pol.resubmit_blocks, r->pol.max_gas_price ? "set" : "none");
    return r;
}

int eth_relayers_start(chain_nets_t *nets, store_t *store, vault_t *vault, const char *opts,
                       eth_relayers_t **out, err_t *err) {
    *out = NULL;
    /* every option must name a configured network */
    for (const char *line = opts ? opts : ""; *line;) {
        const char *sp = strchr(line, ' '), *eq = sp ? strchr(sp, '=') : NULL;
        const char *nl = strchr(line, '\n');
        if (sp && eq && (!nl || eq < nl)) {
            char name[64];
            size_t len = (size_t)(eq - sp - 1);
            snprintf(name, sizeof name, "%.*s", (int)(len < 63 ? len : 63), sp + 1);
            if (!chain_nets_find(nets, CHAIN_ETH, name) || !*name)
                return err_set(err, R3E_EINVAL,
                               "--eth-relayer-%.*s names network \"%s\", which is not configured "
                               "with --eth",
                               (int)(sp - line), line, name);
        }
        if (!nl) break;
        line = nl + 1;
    }
    eth_relayers_t *set = calloc(1, sizeof *set);
    size_t n = chain_nets_count(nets, CHAIN_ETH);
    if (!set || (n && !(set->v = calloc(n, sizeof *set->v)))) {
        free(set);
        return err_set(err, R3E_EINTERNAL, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        set->v[i] = relayer_new(chain_nets_at(nets, CHAIN_ETH, i), store, vault, opts, err);
        if (!set->v[i]) {
            eth_relayers_stop(set);
            return -1;
        }
        set->n++;
    }
    *out = set;
    return 0;
}

void eth_relayers_stop(eth_relayers_t *set) {
    if (!set) return;
    for (size_t i = 0; i < set->n; i++)
        relayer_free(set->v[i]);
    free(set->v);
    free(set);
}

eth_relayer_t *eth_relayers_find(eth_relayers_t *set, const char *network, err_t *err) {
    for (size_t i = 0; set && i < set->n; i++) {
        eth_relayer_t *r = set->v[i];
        if (!network || !*network || strcmp(r->net->name, network) == 0) {
            if (!r->enabled) {
                err_set(err, R3E_EUNAVAIL, "%s", r->why);
                return NULL;
            }
            return r;
        }
    }
    if (network && *network)
        err_set(err, R3E_ENOTFOUND, "no Ethereum network named \"%.63s\" is configured", network);
    else
        err_set(err, R3E_EUNAVAIL,
                "no Ethereum network is configured on this server (start it with --eth NAME=URL)");
    return NULL;
}
