/* The "eth" event source: per-network follower threads, per-trigger cursors, reorgs
 * (see eth_source.h for the model). */
#include "chain/eth/eth_source.h"

#include "api/evsys.h"
#include "cli/wsclient.h"
#include "core/util.h"
#include "obs/log.h"

#include <ctype.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define ES_CUR "ethcur"
#define ES_BLK "ethblk"
#define ES_RPC_TIMEOUT_MS 5000
#define ES_WS_RETRY_MS 30000
#define ES_WS_CHECK_MS 5000 /* eth_blockNumber also while subscribed and quiet */
#define ES_WS_SLICE_MS 100  /* stop checks while waiting on the socket */
#define ES_LAG_LOG_MS 30000
#define ES_LAG_WARN 50 /* blocks behind the head that are worth a log line */

/* ---- pure pieces ------------------------------------------------------------------------ */

static bool es_is_hex(const char *s, size_t nbytes) {
    if (!s || strncmp(s, "0x", 2) != 0 || strlen(s) != 2 + 2 * nbytes) return false;
    for (size_t i = 2; s[i]; i++)
        if (!isxdigit((unsigned char)s[i])) return false;
    return true;
}

static json_t *es_lower(const char *s) {
    char buf[70];
    size_t n = strlen(s);
    if (n >= sizeof buf) return NULL;
    for (size_t i = 0; i <= n; i++)
        buf[i] = (char)tolower((unsigned char)s[i]);
    return json_string(buf);
}

static int es_topic(const json_t *v, const char *where, json_t **out, err_t *err) {
    if (!es_is_hex(json_string_value(v), 32))
        return err_set(err, R3E_EINVAL,
                       "source.topics%s must be a 32-byte hex string (\"0x\" + 64 hex digits), "
                       "null, or an array of them",
                       where);
    *out = es_lower(json_string_value(v));
    return 0;
}

int eth_topics_parse(const json_t *in, json_t **out, err_t *err) {
    *out = NULL;
    if (!json_is_array(in) || json_array_size(in) > 4)
        return err_set(err, R3E_EINVAL, "source.topics must be an array of at most 4 entries");
    json_t *res = json_array();
    size_t i;
    const json_t *v;
    json_array_foreach(in, i, v) {
        char where[32];
        snprintf(where, sizeof where, "[%zu]", i);
        json_t *t = NULL;
        if (json_is_null(v)) {
            t = json_null();
        } else if (json_is_array(v)) {
            size_t n = json_array_size(v), k;
            const json_t *alt;
            if (n == 0 || n > ETH_SRC_MAX_TOPIC_OR) {
                json_decref(res);
                return err_set(err, R3E_EINVAL,
                               "source.topics%s: an array of alternatives needs 1 to %d topics",
                               where, ETH_SRC_MAX_TOPIC_OR);
            }
            t = json_array();
            json_array_foreach(v, k, alt) {
                json_t *one;
                if (es_topic(alt, where, &one, err) < 0) {
                    json_decref(t);
                    json_decref(res);
                    return -1;
                }
                json_array_append_new(t, one);
            }
        } else if (es_topic(v, where, &t, err) < 0) {
            json_decref(res);
            return -1;
        }
        json_array_append_new(res, t);
    }
    while (json_array_size(res) && json_is_null(json_array_get(res, json_array_size(res) - 1)))
        json_array_remove(res, json_array_size(res) - 1);
    *out = res;
    return 0;
}

static int es_address(const json_t *v, json_t **out, err_t *err) {
    const char *msg = "source.address must be a contract address (\"0x\" + 40 hex digits) or "
                      "an array of them";
    if (json_is_string(v)) {
        uint8_t a[20];
        err_t e2;
        if (eth_address_parse(json_string_value(v), a, &e2) < 0)
            return err_set(err, R3E_EINVAL, "source.address: %s", e2.msg);
        *out = es_lower(json_string_value(v));
        return 0;
    }
    if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > 100)
        return err_set(err, R3E_EINVAL, "%s (1 to 100)", msg);
    json_t *arr = json_array();
    size_t i;
    const json_t *x;
    json_array_foreach(v, i, x) {
        json_t *one;
        if (!json_is_string(x) || es_address(x, &one, err) < 0) {
            json_decref(arr);
            return json_is_string(x) ? -1 : err_set(err, R3E_EINVAL, "%s", msg);
        }
        json_array_append_new(arr, one);
    }
    *out = arr;
    return 0;
}

void eth_filter_free(eth_filter_t *f) {
    json_decref(f->address);
    json_decref(f->topics);
    arena_destroy(f->arena);
    memset(f, 0, sizeof *f);
}

static int es_parse_abi(eth_filter_t *f, const char *text, err_t *err) {
    f->arena = arena_create(0);
    eth_abi_fragment_t *frag = arena_calloc(f->arena, sizeof *frag);
    err_t e2;
    /* the event keyword is required: "Ping(…)" alone would parse as a function */
    while (isspace((unsigned char)*text))
        text++;
    if (strncmp(text, "event", 5) != 0 || !isspace((unsigned char)text[5]))
        return err_set(err, R3E_EINVAL,
                       "source.abi must be one event fragment, e.g. \"event Transfer(address "
                       "indexed from, address indexed to, uint256 value)\"");
    if (eth_abi_parse_fragment(f->arena, text, frag, &e2) < 0)
        return err_set(err, R3E_EINVAL, "source.abi: %s", e2.msg);
    if (frag->kind != ETH_FRAG_EVENT)
        return err_set(err, R3E_EINVAL, "source.abi must be an event fragment");
    size_t nindexed = 0;
    for (size_t i = 0; i < frag->ninputs; i++)
        nindexed += frag->inputs[i]->indexed;
    if (nindexed > (frag->anonymous ? 4u : 3u))
        return err_set(err, R3E_EINVAL, "source.abi: an event has at most %d indexed parameters",
                       frag->anonymous ? 4 : 3);
    const char *sig = eth_abi_fragment_signature(f->arena, frag);
    snprintf(f->signature, sizeof f->signature, "%s", sig);
    if (!frag->anonymous) eth_abi_event_topic(f->arena, frag, f->topic0);
    f->abi = frag;
    return 0;
}

int eth_filter_parse(const json_t *src, eth_filter_t *f, err_t *err) {
    static const char *known[] = {"type",   "network", "events",        "address",
                                  "topics", "abi",     "confirmations", "fromBlock"};
    memset(f, 0, sizeof *f);
    f->from_block = -1;
    if (!json_is_object(src)) return err_set(err, R3E_EINVAL, "source must be an object");
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)src, k, v) {
        bool ok = false;
        for (size_t i = 0; i < sizeof known / sizeof *known; i++)
            ok = ok || strcmp(k, known[i]) == 0;
        if (!ok)
            return err_set(err, R3E_EINVAL,
                           "source.%.40s is not an eth source field (type, network, events, "
                           "address, topics, abi, confirmations, fromBlock)",
                           k);
    }
    const json_t *net = json_object_get(src, "network");
    if (net && (!json_is_string(net) || !*json_string_value(net) ||
                json_string_length(net) >= sizeof f->network))
        return err_set(err, R3E_EINVAL, "source.network must be a network name");
    if (net) snprintf(f->network, sizeof f->network, "%s", json_string_value(net));
    const char *events = json_string_value(json_object_get(src, "events"));
    if (!events || (strcmp(events, "blocks") != 0 && strcmp(events, "logs") != 0))
        return err_set(err, R3E_EINVAL, "source.events must be \"blocks\" or \"logs\"");
    f->logs = strcmp(events, "logs") == 0;
    const json_t *conf = json_object_get(src, "confirmations");
    if (conf && (!json_is_integer(conf) || json_integer_value(conf) < 0 ||
                 json_integer_value(conf) > ETH_SRC_MAX_CONFIRMATIONS))
        return err_set(err, R3E_EINVAL, "source.confirmations must be an integer 0..%d",
                       ETH_SRC_MAX_CONFIRMATIONS);
    f->confirmations = conf ? (uint32_t)json_integer_value(conf) : 0;
    const json_t *from = json_object_get(src, "fromBlock");
    if (from && (!json_is_integer(from) || json_integer_value(from) < 0))
        return err_set(err, R3E_EINVAL, "source.fromBlock must be a block number (>= 0)");
    if (from) f->from_block = (int64_t)json_integer_value(from);
    const json_t *addr = json_object_get(src, "address"), *topics = json_object_get(src, "topics"),
                 *abi = json_object_get(src, "abi");
    if (!f->logs) {
        if (addr || topics || abi)
            return err_set(err, R3E_EINVAL,
                           "source.address, topics and abi apply to \"events\":\"logs\" only");
        return 0;
    }
    if (addr && es_address(addr, &f->address, err) < 0) goto fail;
    if (topics && eth_topics_parse(topics, &f->topics, err) < 0) goto fail;
    if (abi) {
        if (!json_is_string(abi)) {
            err_set(err, R3E_EINVAL, "source.abi must be a string (one event fragment)");
            goto fail;
        }
        if (es_parse_abi(f, json_string_value(abi), err) < 0) goto fail;
        if (!f->abi->anonymous) {
            json_t *t0 = eth_json_hex(f->topic0, 32);
            json_t *have = json_array_get(f->topics, 0);
            if (have && !json_is_null(have) && !json_equal(have, t0)) {
                err_set(err, R3E_EINVAL,
                        "source.topics[0] is not the topic of the abi event %s (%s)", f->signature,
                        json_string_value(t0));
                json_decref(t0);
                goto fail;
            }
            if (!f->topics) f->topics = json_array();
            if (json_array_size(f->topics) == 0)
                json_array_append_new(f->topics, t0);
            else
                json_array_set_new(f->topics, 0, t0);
        }
    }
    if (!f->address && !json_array_size(f->topics)) {
        err_set(err, R3E_EINVAL,
                "a logs trigger needs source.address, source.topics or source.abi (following "
                "every log of a chain is not supported)");
        goto fail;
    }
    return 0;
fail:
    eth_filter_free(f);
    return -1;
}

void eth_event_id(char *out, size_t cap, const char *trigger_id, const char *block_hash,
                  long log_index, bool removed, uint32_t epoch) {
    int n = snprintf(out, cap, "%s:%s", trigger_id, block_hash);
    if (n > 0 && (size_t)n < cap && log_index >= 0)
        n += snprintf(out + n, cap - (size_t)n, ":%ld", log_index);
    if (n > 0 && (size_t)n < cap && removed) n += snprintf(out + n, cap - (size_t)n, ":removed");
    if (n > 0 && (size_t)n < cap && epoch) snprintf(out + n, cap - (size_t)n, ":e%u", epoch);
}

int eth_reorg_ancestor(const eth_seen_t *win, size_t n, const char (*canon)[67]) {
    for (size_t i = n; i-- > 0;)
        if (canon[i][0] && strcasecmp(canon[i], win[i].hash) == 0) return (int)i;
    return -1;
}

static bool es_hex_u64(const json_t *v, uint64_t *out) {
    const char *s = json_string_value(v);
    if (!s || strncmp(s, "0x", 2) != 0 || !s[2] || strlen(s) > 18) return false;
    char *end;
    *out = strtoull(s + 2, &end, 16);
    return *end == '\0';
}

static json_t *es_u256_dec(const json_t *v) {
    const char *s = json_string_value(v);
    eth_u256_t u;
    err_t e;
    if (!s || eth_u256_parse(s, 256, false, &u, "value", &e) < 0) return json_null();
    char dec[80];
    eth_u256_to_dec(&u, false, dec);
    return json_string(dec);
}

/* The decoded form: {"event","signature","args":{name: value}} merged into data. */
static void es_decode(const eth_filter_t *f, const json_t *log, json_t *data) {
    err_t e;
    arena_t *a = arena_create(0);
    const json_t *topics = json_object_get(log, "topics");
    size_t nt = json_array_size(topics);
    uint8_t(*tb)[32] = arena_calloc(a, (nt ? nt : 1) * 32);
    uint8_t *bytes = NULL;
    size_t len = 0;
    json_t *vals = NULL;
    for (size_t i = 0; i < nt; i++)
        if (eth_hex_decode_fixed(json_string_value(json_array_get(topics, i)), tb[i], 32, "topic",
                                 &e) < 0)
            goto bad;
    if (eth_hex_decode(json_string_value(json_object_get(log, "data")), &bytes, &len, "data", &e) <
        0)
        goto bad;
    if (eth_abi_decode_log(a, f->abi, (const uint8_t(*)[32])tb, nt, bytes, len, &vals, &e) < 0)
        goto bad;
    json_t *args = json_object();
    for (size_t i = 0; i < f->abi->ninputs; i++) {
        const char *name = f->abi->inputs[i]->name;
        char idx[24];
        snprintf(idx, sizeof idx, "%zu", i);
        json_object_set(args, name && *name ? name : idx, json_array_get(vals, i));
    }
    json_object_set_new(data, "event", json_string(f->abi->name));
    json_object_set_new(data, "signature", json_string(f->signature));
    json_object_set_new(data, "args", args);
    json_decref(vals);
    free(bytes);
    arena_destroy(a);
    return;
bad:
    free(bytes);
    arena_destroy(a);
    json_object_set_new(data, "decodeError", json_string(e.msg));
}

json_t *eth_log_data(const eth_filter_t *f, const json_t *log, err_t *err) {
    uint8_t addr[20];
    char cs[43];
    uint64_t bn, li, ti;
    const char *a = json_string_value(json_object_get(log, "address"));
    if (!a || eth_address_parse(a, addr, err) < 0 ||
        !es_hex_u64(json_object_get(log, "blockNumber"), &bn) ||
        !es_hex_u64(json_object_get(log, "logIndex"), &li) ||
        !json_is_array(json_object_get(log, "topics")) ||
        !json_is_string(json_object_get(log, "data")) ||
        !es_is_hex(json_string_value(json_object_get(log, "blockHash")), 32)) {
        err_set(err, R3E_EUPSTREAM, "the node returned a malformed log");
        return NULL;
    }
    if (!es_hex_u64(json_object_get(log, "transactionIndex"), &ti)) ti = 0;
    eth_address_checksum(addr, cs);
    json_t *d = json_object();
    json_object_set_new(d, "address", json_string(cs));
    json_object_set(d, "topics", json_object_get(log, "topics"));
    json_object_set(d, "data", json_object_get(log, "data"));
    json_object_set_new(d, "blockNumber", json_integer((json_int_t)bn));
    json_object_set(d, "blockHash", json_object_get(log, "blockHash"));
    json_t *tx = json_object_get(log, "transactionHash");
    json_object_set(d, "transactionHash", tx ? tx : json_null());
    json_object_set_new(d, "transactionIndex", json_integer((json_int_t)ti));
    json_object_set_new(d, "logIndex", json_integer((json_int_t)li));
    json_object_set_new(d, "removed", json_boolean(json_is_true(json_object_get(log, "removed"))));
    if (f->abi) es_decode(f, log, d);
    return d;
}

/* ---- the source ----------------------------------------------------------------------- */

typedef struct es_trig {
    char id[27], ns[64];
    bool enabled;
    eth_filter_t f;
    int refs;  /* the table's reference + followers working on it */
    bool gone; /* removed from the table */
    /* the cursor: touched only by the network's follower thread */
    bool loaded;
    int64_t num; /* last processed block, -1 = none */
    char hash[67];
    uint32_t epoch;
    eth_seen_t win[ETH_SRC_WINDOW];
    size_t nwin;
    uint64_t lag_logged_ms;
} es_trig_t;

typedef struct es_follower {
    struct eth_source *src;
    chain_net_t *net;
    pthread_t th;
    atomic_bool stop;
    bool exited; /* under src->mu */
    struct es_follower *next;
    /* thread-private */
    wsc_t *ws;
    uint64_t ws_retry_ms;
    bool ws_warned;
    uint64_t head, polled_ms;
    bool head_known;
} es_follower_t;

struct eth_source {
    event_source_t iface;
    chain_nets_t *nets;
    store_t *store;
    eth_source_opts_t o;
    event_emit_fn emit;
    void *emit_ctx;
    bool started;
    pthread_mutex_t mu; /* trigs, followers, exited flags */
    pthread_cond_t cv;  /* polling waits; stop wakes them */
    es_trig_t **trigs;
    size_t n, cap;
    es_follower_t *followers;
    pthread_t sync_th; /* mirrors o.triggers() */
    bool sync_running;
    atomic_bool sync_stop;
};

static void es_trig_unref_locked(es_trig_t *t) {
    if (--t->refs > 0) return;
    eth_filter_free(&t->f);
    free(t);
}

/* ---- cursor persistence --------------------------------------------------------------- */

static void es_blk_key(char *out, size_t cap, const char *id, uint64_t num) {
    snprintf(out, cap, "%s/%020" PRIu64, id, num);
}

static bool es_cursor_load(eth_source_t *s, es_trig_t *t) {
    char *val = NULL;
    size_t len;
    err_t e;
    t->loaded = true;
    t->num = -1;
    t->hash[0] = '\0';
    t->nwin = 0;
    if (store_meta_get(s->store, ES_CUR, t->id, &val, &len, &e) < 0) return false;
    json_t *o = json_loadb(val, len, 0, NULL);
    free(val);
    t->num =
        json_is_integer(json_object_get(o, "n")) ? json_integer_value(json_object_get(o, "n")) : -1;
    snprintf(t->hash, sizeof t->hash, "%s", json_string_value(json_object_get(o, "h")) ?: "");
    t->epoch = (uint32_t)json_integer_value(json_object_get(o, "e"));
    size_t i;
    json_t *w;
    json_array_foreach(json_object_get(o, "w"), i, w) {
        if (t->nwin == ETH_SRC_WINDOW) break;
        eth_seen_t *x = &t->win[t->nwin++];
        x->number = (uint64_t)json_integer_value(json_array_get(w, 0));
        snprintf(x->hash, sizeof x->hash, "%s", json_string_value(json_array_get(w, 1)) ?: "");
        x->has_logs = json_is_true(json_array_get(w, 2));
    }
    json_decref(o);
    return true;
}

static char *es_cursor_text(const es_trig_t *t) {
    json_t *w = json_array();
    for (size_t i = 0; i < t->nwin; i++)
        json_array_append_new(w, json_pack("[I,s,b]", (json_int_t)t->win[i].number, t->win[i].hash,
                                           t->win[i].has_logs));
    json_t *o = json_pack("{s:I,s:s,s:I,s:o}", "n", (json_int_t)t->num, "h", t->hash, "e",
                          (json_int_t)t->epoch, "w", w);
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return text;
}

/* Pending writes of one step: block records to put or delete, then the cursor. */
typedef struct {
    store_meta_op_t *ops;
    char **owned;
    size_t n, cap, nowned;
} es_ops_t;

static void es_ops_add(es_ops_t *w, const char *kind, char *key, char *val) {
    if (w->n == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 16;
        w->ops = realloc(w->ops, w->cap * sizeof *w->ops);
        w->owned = realloc(w->owned, 2 * w->cap * sizeof *w->owned);
        if (!w->ops || !w->owned) abort(); /* as the arena: OOM is fatal */
    }
    w->ops[w->n++] = (store_meta_op_t){kind, key, val, val ? strlen(val) : 0};
    w->owned[w->nowned++] = key;
    if (val) w->owned[w->nowned++] = val;
}

static void es_ops_free(es_ops_t *w) {
    for (size_t i = 0; i < w->nowned; i++)
        free(w->owned[i]);
    free(w->owned);
    free(w->ops);
    memset(w, 0, sizeof *w);
}

/* Adds the cursor to w and writes everything atomically. */
static int es_commit(eth_source_t *s, es_trig_t *t, es_ops_t *w, err_t *err) {
    es_ops_add(w, ES_CUR, strdup(t->id), es_cursor_text(t));
    int rc = store_meta_write(s->store, w->ops, w->n, err);
    es_ops_free(w);
    return rc;
}

/* Appends a processed block to the window; the entry pushed out loses its block record. */
static void es_win_push(es_trig_t *t, uint64_t num, const char *hash, bool has_logs, es_ops_t *w) {
    if (t->nwin == ETH_SRC_WINDOW) {
        if (t->win[0].has_logs) {
            char key[64];
            es_blk_key(key, sizeof key, t->id, t->win[0].number);
            es_ops_add(w, ES_BLK, strdup(key), NULL);
        }
        memmove(t->win, t->win + 1, (ETH_SRC_WINDOW - 1) * sizeof *t->win);
        t->nwin--;
    }
    eth_seen_t *x = &t->win[t->nwin++];
    x->number = num;
    snprintf(x->hash, sizeof x->hash, "%s", hash);
    x->has_logs = has_logs;
}

void eth_source_forget(store_t *store, const char *id) {
    err_t e;
    char *val = NULL;
    size_t len;
    if (store_meta_get(store, ES_CUR, id, &val, &len, &e) == 0) {
        json_t *o = json_loadb(val, len, 0, NULL);
        size_t i;
        json_t *w;
        json_array_foreach(json_object_get(o, "w"), i, w) {
            if (!json_is_true(json_array_get(w, 2))) continue;
            char key[64];
            es_blk_key(key, sizeof key, id, (uint64_t)json_integer_value(json_array_get(w, 0)));
            store_meta_delete(store, ES_BLK, key, &e);
        }
        json_decref(o);
        free(val);
    }
    store_meta_delete(store, ES_CUR, id, &e);
}

/* ---- events --------------------------------------------------------------------------- */

static json_t *es_cloudevent(const char *network, const char *type, const char *id,
                             const char *subject, uint64_t ts_s, json_t *data) {
    char src[96], time[40];
    snprintf(src, sizeof src, "eth://%s", network);
    util_rfc3339(ts_s ? ts_s * 1000 : util_wall_ms(), time, sizeof time);
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:o}", "specversion", "1.0", "id", id, "source",
                     src, "type", type, "subject", subject, "time", time, "datacontenttype",
                     "application/json", "data", data);
}

static json_t *es_block_data(const json_t *b) {
    uint64_t num = 0, ts = 0;
    es_hex_u64(json_object_get(b, "number"), &num);
    es_hex_u64(json_object_get(b, "timestamp"), &ts);
    json_t *base = json_object_get(b, "baseFeePerGas");
    json_t *d = json_object();
    json_object_set_new(d, "number", json_integer((json_int_t)num));
    json_object_set(d, "hash", json_object_get(b, "hash"));
    json_object_set(d, "parentHash", json_object_get(b, "parentHash"));
    json_object_set_new(d, "timestamp", json_integer((json_int_t)ts));
    json_object_set_new(d, "baseFeePerGas", base ? es_u256_dec(base) : json_null());
    json_object_set_new(d, "gasUsed", es_u256_dec(json_object_get(b, "gasUsed")));
    json_object_set_new(d, "gasLimit", es_u256_dec(json_object_get(b, "gasLimit")));
    json_t *miner = json_object_get(b, "miner");
    uint8_t a[20];
    err_t e;
    if (json_is_string(miner) && eth_address_parse(json_string_value(miner), a, &e) == 0) {
        char cs[43];
        eth_address_checksum(a, cs);
        json_object_set_new(d, "miner", json_string(cs));
    }
    json_object_set_new(
        d, "txCount",
        json_integer((json_int_t)json_array_size(json_object_get(b, "transactions"))));
    json_object_set_new(d, "removed", json_false());
    return d;
}

/* Emits for trigger t on net (counted in net's source metrics once ingested). */
static int es_emit(eth_source_t *s, chain_net_t *net, es_trig_t *t, json_t *event, err_t *err) {
    const char *type = json_string_value(json_object_get(event, "type"));
    bool block = type && strcmp(type, "eth.block") == 0;
    int rc = s->emit(s->emit_ctx, t->ns, event, t->id, err);
    json_decref(event);
    if (rc == 0) atomic_fetch_add(&net->src.events[block ? CHAIN_EV_BLOCK : CHAIN_EV_ITEM], 1);
    return rc;
}

/* ---- reading the chain ----------------------------------------------------------------- */

static bool es_stopping(es_follower_t *f) {
    return atomic_load(&f->stop);
}

/* Blocks lo..lo+n-1 by number (without transactions' bodies). Returns an array of block
 * objects, cut at the first block the node does not have; NULL with err. */
static json_t *es_blocks(es_follower_t *f, uint64_t lo, size_t n, err_t *err) {
    json_t *calls = json_array();
    for (size_t i = 0; i < n; i++) {
        char num[24];
        snprintf(num, sizeof num, "0x%" PRIx64, lo + i);
        json_array_append_new(
            calls, json_pack("{s:s,s:[s,b]}", "method", "eth_getBlockByNumber", "params", num, 0));
    }
    json_t *res = rpc_batch(f->net->rpc, calls, err);
    json_decref(calls);
    if (!res) return NULL;
    json_t *out = json_array();
    size_t i;
    json_t *r;
    json_array_foreach(res, i, r) {
        json_t *b = json_object_get(r, "result");
        if (!json_is_object(b)) {
            if (i == 0 && json_object_get(r, "error"))
                err_set(err, R3E_EUPSTREAM, "eth_getBlockByNumber: %s",
                        json_string_value(json_object_get(json_object_get(r, "error"), "message"))
                            ?: "error");
            break;
        }
        uint64_t num;
        if (!es_hex_u64(json_object_get(b, "number"), &num) || num != lo + i ||
            !es_is_hex(json_string_value(json_object_get(b, "hash")), 32) ||
            !es_is_hex(json_string_value(json_object_get(b, "parentHash")), 32))
            break;
        json_array_append(out, b);
    }
    json_decref(res);
    return out;
}

static json_t *es_get_logs(es_follower_t *f, const es_trig_t *t, uint64_t lo, uint64_t hi,
                           err_t *err) {
    char a[24], b[24];
    snprintf(a, sizeof a, "0x%" PRIx64, lo);
    snprintf(b, sizeof b, "0x%" PRIx64, hi);
    json_t *q = json_pack("{s:s,s:s}", "fromBlock", a, "toBlock", b);
    if (t->f.address) json_object_set(q, "address", t->f.address);
    if (t->f.topics) json_object_set(q, "topics", t->f.topics);
    json_t *params = json_pack("[o]", q);
    json_t *res = rpc_call_ex(f->net->rpc, "eth_getLogs", params, ES_RPC_TIMEOUT_MS, NULL, err);
    json_decref(params);
    if (res && !json_is_array(res)) {
        json_decref(res);
        err_set(err, R3E_EUPSTREAM, "eth_getLogs did not return an array");
        return NULL;
    }
    return res;
}

static int es_head(es_follower_t *f, err_t *err) {
    json_t *r = rpc_call_ex(f->net->rpc, "eth_blockNumber", NULL, ES_RPC_TIMEOUT_MS, NULL, err);
    uint64_t h;
    bool ok = r && es_hex_u64(r, &h);
    json_decref(r);
    if (!ok) return r ? err_set(err, R3E_EUPSTREAM, "eth_blockNumber: not a quantity") : -1;
    f->head = h;
    f->head_known = true;
    atomic_store(&f->net->src.head, h);
    atomic_store(&f->net->src.head_known, true);
    return 0;
}

/* ---- one trigger ----------------------------------------------------------------------- */

/* Undoes the blocks of the window above the common ancestor: their logs (or the blocks
 * themselves) are delivered again with removed: true, newest first, then the cursor moves
 * back to the ancestor with the next epoch. 1 when it moved the cursor, 0 when the node
 * still has our chain, -1 (nothing persisted). */
static int es_reorg(es_follower_t *f, es_trig_t *t, err_t *err) {
    eth_source_t *s = f->src;
    if (t->nwin == 0) {
        t->hash[0] = '\0'; /* nothing remembered: accept the chain as it is now */
        return 1;
    }
    json_t *calls = json_array();
    for (size_t i = 0; i < t->nwin; i++) {
        char num[24];
        snprintf(num, sizeof num, "0x%" PRIx64, t->win[i].number);
        json_array_append_new(
            calls, json_pack("{s:s,s:[s,b]}", "method", "eth_getBlockByNumber", "params", num, 0));
    }
    json_t *res = rpc_batch(f->net->rpc, calls, err);
    json_decref(calls);
    if (!res) return -1;
    char(*canon)[67] = calloc(t->nwin, sizeof *canon);
    for (size_t i = 0; i < t->nwin; i++) {
        const char *h = json_string_value(
            json_object_get(json_object_get(json_array_get(res, i), "result"), "hash"));
        snprintf(canon[i], sizeof canon[i], "%s", h ? h : "");
    }
    json_decref(res);
    int anc = eth_reorg_ancestor(t->win, t->nwin, (const char(*)[67])canon);
    free(canon);
    if (anc == (int)t->nwin - 1) return 0; /* our chain is still there */
    uint32_t epoch = t->epoch + 1;
    size_t first = (size_t)(anc + 1);
    if (anc < 0 && t->nwin == ETH_SRC_WINDOW)
        log_error("eth %s: trigger %s: reorg deeper than %d blocks; blocks below %" PRIu64
                  " are not undone",
                  f->net->name, t->id, ETH_SRC_WINDOW, t->win[0].number);
    else
        log_warn("eth %s: trigger %s: reorg: %zu processed blocks from %" PRIu64
                 " are no longer canonical",
                 f->net->name, t->id, t->nwin - first, t->win[first].number);
    es_ops_t w = {0};
    for (size_t i = t->nwin; i-- > first;) {
        const eth_seen_t *x = &t->win[i];
        char id[200], key[64];
        if (!t->f.logs) {
            eth_event_id(id, sizeof id, t->id, x->hash, -1, true, epoch);
            char subj[24];
            snprintf(subj, sizeof subj, "%" PRIu64, x->number);
            json_t *d = json_pack("{s:I,s:s,s:b}", "number", (json_int_t)x->number, "hash", x->hash,
                                  "removed", 1);
            if (es_emit(s, f->net, t, es_cloudevent(f->net->name, "eth.block", id, subj, 0, d),
                        err) < 0)
                goto fail;
            continue;
        }
        if (!x->has_logs) continue;
        es_blk_key(key, sizeof key, t->id, x->number);
        char *val = NULL;
        size_t len;
        err_t e2;
        if (store_meta_get(s->store, ES_BLK, key, &val, &len, &e2) < 0) continue;
        json_t *rec = json_loadb(val, len, 0, NULL);
        free(val);
        json_t *logs = json_object_get(rec, "logs");
        uint64_t ts = (uint64_t)json_integer_value(json_object_get(rec, "ts"));
        for (size_t k = json_array_size(logs); k-- > 0;) {
            json_t *d = json_deep_copy(json_array_get(logs, k));
            json_object_set_new(d, "removed", json_true());
            eth_event_id(id, sizeof id, t->id, x->hash,
                         (long)json_integer_value(json_object_get(d, "logIndex")), true, epoch);
            const char *subj = json_string_value(json_object_get(d, "address"));
            if (es_emit(s, f->net, t,
                        es_cloudevent(f->net->name, "eth.log", id, subj ? subj : "", ts, d),
                        err) < 0) {
                json_decref(rec);
                goto fail;
            }
        }
        json_decref(rec);
        es_ops_add(&w, ES_BLK, strdup(key), NULL);
    }
    if (anc < 0) {
        t->num = (int64_t)t->win[0].number - 1;
        t->hash[0] = '\0';
        t->nwin = 0;
    } else {
        t->num = (int64_t)t->win[anc].number;
        snprintf(t->hash, sizeof t->hash, "%s", t->win[anc].hash);
        t->nwin = first;
    }
    t->epoch = epoch;
    if (es_commit(s, t, &w, err) < 0) {
        t->loaded = false;
        return -1;
    }
    atomic_fetch_add(&f->net->src.reorgs, 1);
    return 1;
fail:
    es_ops_free(&w);
    t->loaded = false; /* reload the persisted cursor: nothing of this attempt counts */
    return -1;
}

/* Emits the events of the blocks in `blocks` (consecutive, already linked to the cursor),
 * with `logs` (the trigger's logs of that range, NULL for block triggers), then persists the
 * cursor. 0 or -1: the cursor is reloaded from the store and the step is retried later. */
static int es_deliver(es_follower_t *f, es_trig_t *t, json_t *blocks, json_t *logs, err_t *err) {
    eth_source_t *s = f->src;
    es_ops_t w = {0};
    size_t li = 0, nb = json_array_size(blocks);
    for (size_t i = 0; i < nb; i++) {
        json_t *b = json_array_get(blocks, i);
        const char *hash = json_string_value(json_object_get(b, "hash"));
        uint64_t num = 0, ts = 0;
        es_hex_u64(json_object_get(b, "number"), &num);
        es_hex_u64(json_object_get(b, "timestamp"), &ts);
        char id[200];
        bool has_logs = false;
        if (!t->f.logs) {
            char subj[24];
            snprintf(subj, sizeof subj, "%" PRIu64, num);
            eth_event_id(id, sizeof id, t->id, hash, -1, false, t->epoch);
            if (es_emit(s, f->net, t,
                        es_cloudevent(f->net->name, "eth.block", id, subj, ts, es_block_data(b)),
                        err) < 0)
                goto fail;
        } else {
            json_t *delivered = json_array();
            for (; li < json_array_size(logs); li++) {
                json_t *lg = json_array_get(logs, li);
                uint64_t ln;
                es_hex_u64(json_object_get(lg, "blockNumber"), &ln);
                if (ln != num) break;
                json_t *d = eth_log_data(&t->f, lg, err);
                if (!d) {
                    json_decref(delivered);
                    goto fail;
                }
                eth_event_id(id, sizeof id, t->id, hash,
                             (long)json_integer_value(json_object_get(d, "logIndex")), false,
                             t->epoch);
                json_array_append(delivered, d);
                const char *subj = json_string_value(json_object_get(d, "address"));
                if (es_emit(s, f->net, t, es_cloudevent(f->net->name, "eth.log", id, subj, ts, d),
                            err) < 0) {
                    json_decref(delivered);
                    goto fail;
                }
            }
            has_logs = json_array_size(delivered) > 0;
            if (has_logs) {
                char key[64];
                es_blk_key(key, sizeof key, t->id, num);
                json_t *rec = json_pack("{s:I,s:o}", "ts", (json_int_t)ts, "logs", delivered);
                es_ops_add(&w, ES_BLK, strdup(key), json_dumps(rec, JSON_COMPACT));
                json_decref(rec);
            } else {
                json_decref(delivered);
            }
        }
        t->num = (int64_t)num;
        snprintf(t->hash, sizeof t->hash, "%s", hash);
        es_win_push(t, num, hash, has_logs, &w);
    }
    if (es_commit(s, t, &w, err) < 0) {
        t->loaded = false;
        return -1;
    }
    return 0;
fail:
    es_ops_free(&w);
    t->loaded = false;
    return -1;
}

/* The first cursor of a trigger without one: the block before fromBlock, or the current
 * head minus the confirmations. Persisted at once so a restart does not move it. */
static void es_cursor_init(es_follower_t *f, es_trig_t *t) {
    int64_t target = (int64_t)f->head - (int64_t)t->f.confirmations;
    t->num = t->f.from_block >= 0 ? t->f.from_block - 1 : target;
    t->hash[0] = '\0';
    t->nwin = 0;
    es_ops_t w = {0};
    err_t e;
    if (es_commit(f->src, t, &w, &e) < 0)
        log_warn("eth %s: trigger %s: cannot persist the cursor: %s", f->net->name, t->id, e.msg);
}

/* One step for one trigger: at most ETH_SRC_BATCH blocks. true when it is still behind the
 * head (the follower runs again without waiting). */
static bool es_follow(es_follower_t *f, es_trig_t *t) {
    eth_source_t *s = f->src;
    err_t e;
    if (!t->loaded && !es_cursor_load(s, t)) es_cursor_init(f, t);
    int64_t target = (int64_t)f->head - (int64_t)t->f.confirmations;
    if (t->num > (int64_t)f->head && t->nwin) { /* the chain got shorter: a reorg */
        if (es_reorg(f, t, &e) < 0)
            log_warn("eth %s: trigger %s: reorg handling failed: %s", f->net->name, t->id, e.msg);
        return false;
    }
    if (target <= t->num) return false;
    uint64_t lo = (uint64_t)(t->num + 1);
    size_t want =
        (size_t)(target - t->num) < ETH_SRC_BATCH ? (size_t)(target - t->num) : ETH_SRC_BATCH;
    json_t *blocks = es_blocks(f, lo, want, &e);
    if (!blocks) {
        log_warn("eth %s: reading blocks from %" PRIu64 ": %s", f->net->name, lo, e.msg);
        return false;
    }
    size_t nb = json_array_size(blocks);
    if (nb == 0) {
        json_decref(blocks);
        return false;
    }
    const char *parent0 =
        json_string_value(json_object_get(json_array_get(blocks, 0), "parentHash"));
    if (t->hash[0] && strcasecmp(parent0, t->hash) != 0) {
        json_decref(blocks);
        int rc = es_reorg(f, t, &e);
        if (rc < 0)
            log_warn("eth %s: trigger %s: reorg handling failed: %s", f->net->name, t->id, e.msg);
        return rc == 1;
    }
    for (size_t i = 1; i < nb; i++) { /* a reorg while reading: keep the linked prefix */
        const char *ph =
            json_string_value(json_object_get(json_array_get(blocks, i), "parentHash"));
        const char *prev =
            json_string_value(json_object_get(json_array_get(blocks, i - 1), "hash"));
        if (strcasecmp(ph, prev) != 0) {
            while (json_array_size(blocks) > i)
                json_array_remove(blocks, i);
            nb = i;
            break;
        }
    }
    json_t *logs = NULL;
    if (t->f.logs) {
        logs = es_get_logs(f, t, lo, lo + nb - 1, &e);
        if (!logs) {
            log_warn("eth %s: trigger %s: eth_getLogs %" PRIu64 "..%" PRIu64 ": %s", f->net->name,
                     t->id, lo, lo + nb - 1, e.msg);
            json_decref(blocks);
            return false;
        }
        /* every log must belong to the blocks just read (else the chain moved in between);
         * order by (block, logIndex) */
        size_t i;
        json_t *lg;
        json_array_foreach(logs, i, lg) {
            uint64_t bn;
            const char *bh = json_string_value(json_object_get(lg, "blockHash"));
            const char *want_h =
                es_hex_u64(json_object_get(lg, "blockNumber"), &bn) && bn >= lo && bn < lo + nb
                    ? json_string_value(json_object_get(json_array_get(blocks, bn - lo), "hash"))
                    : NULL;
            if (!bh || !want_h || strcasecmp(bh, want_h) != 0) {
                json_decref(logs);
                json_decref(blocks);
                return false; /* retried at the next wake-up */
            }
        }
    }
    int rc = es_deliver(f, t, blocks, logs, &e);
    json_decref(blocks);
    json_decref(logs);
    if (rc < 0) {
        log_warn("eth %s: trigger %s: delivery of blocks from %" PRIu64 " failed: %s", f->net->name,
                 t->id, lo, e.msg);
        return false;
    }
    uint64_t lag = (uint64_t)(target - t->num);
    uint64_t now = util_wall_ms();
    if (lag >= ES_LAG_WARN && now - t->lag_logged_ms >= ES_LAG_LOG_MS) {
        t->lag_logged_ms = now;
        log_info("eth %s: trigger %s catching up: block %" PRId64 ", head %" PRIu64 ", lag %" PRIu64
                 " blocks",
                 f->net->name, t->id, t->num, f->head, lag);
    }
    return t->num < target;
}

/* ---- the follower thread --------------------------------------------------------------- */

static void es_ws_close(es_follower_t *f) {
    wsc_close(f->ws);
    f->ws = NULL;
}

/* ws:// form of the node URL: the same host and port; "" when it is not http://. */
static bool es_ws_split(const char *url, char *base, size_t bcap, char *path, size_t pcap) {
    if (strncasecmp(url, "http://", 7) != 0) return false;
    const char *slash = strchr(url + 7, '/');
    size_t blen = slash ? (size_t)(slash - url) : strlen(url);
    snprintf(base, bcap, "%.*s", (int)blen, url);
    snprintf(path, pcap, "%s", slash ? slash : "/");
    return true;
}

/* Connects and subscribes to newHeads; on failure falls back to polling for a while. */
static void es_ws_open(es_follower_t *f) {
    char base[512], path[512];
    err_t e;
    if (!es_ws_split(f->net->url, base, sizeof base, path, sizeof path)) {
        f->ws_retry_ms = UINT64_MAX; /* https: wsc has no TLS; poll */
        return;
    }
    f->ws = wsc_connect(base, path, NULL, NULL, 2000, NULL, &e);
    if (f->ws) {
        const char *sub = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_subscribe\","
                          "\"params\":[\"newHeads\"]}";
        char *msg = NULL;
        size_t len;
        bool ok = wsc_send_text(f->ws, sub, strlen(sub), &e) == 0 &&
                  wsc_recv(f->ws, &msg, &len, 2000, &e) == 1;
        json_t *ans = ok ? json_loadb(msg, len, 0, NULL) : NULL;
        free(msg);
        ok = ok && json_is_string(json_object_get(ans, "result"));
        if (!ok && ans)
            err_set(&e, R3E_EUPSTREAM, "eth_subscribe: %s",
                    json_string_value(json_object_get(json_object_get(ans, "error"), "message"))
                        ?: "no subscription id");
        else if (!ok && !msg)
            err_set(&e, R3E_EUNAVAIL, "eth_subscribe: no answer");
        json_decref(ans);
        if (ok) {
            log_info("eth %s: following new heads over WebSocket (%s%s)", f->net->name, base, path);
            f->ws_warned = false;
            return;
        }
        es_ws_close(f);
    }
    if (!f->ws_warned)
        log_warn("eth %s: no WebSocket subscription (%s); polling every %d ms", f->net->name, e.msg,
                 f->src->o.poll_ms);
    f->ws_warned = true;
    f->ws_retry_ms = util_wall_ms() + ES_WS_RETRY_MS;
}

/* Reads subscription messages for up to ms; true when a new head arrived (f->head set to the
 * newest one). */
static bool es_ws_wait(es_follower_t *f, int ms) {
    uint64_t deadline = util_now_us() + (uint64_t)ms * 1000;
    bool got = false;
    while (!es_stopping(f)) {
        char *msg = NULL;
        size_t len;
        err_t e;
        uint64_t now = util_now_us();
        int slice = got ? 0 : (now >= deadline ? 0 : (int)((deadline - now) / 1000));
        if (slice > ES_WS_SLICE_MS) slice = ES_WS_SLICE_MS;
        int rc = wsc_recv(f->ws, &msg, &len, slice, &e);
        if (rc < 0) {
            log_warn("eth %s: WebSocket subscription ended (%s); polling", f->net->name, e.msg);
            es_ws_close(f);
            f->ws_retry_ms = util_wall_ms() + ES_WS_RETRY_MS;
            return got;
        }
        if (rc == 0) {
            if (got || util_now_us() >= deadline) return got;
            continue;
        }
        json_t *m = json_loadb(msg, len, 0, NULL);
        free(msg);
        uint64_t num;
        json_t *head = json_object_get(json_object_get(m, "params"), "result");
        if (es_hex_u64(json_object_get(head, "number"), &num)) {
            f->head = num;
            f->head_known = true;
            got = true;
        }
        json_decref(m);
    }
    return got;
}

/* Waits for the next head: a subscription message, or the polling interval. */
static void es_wait_head(es_follower_t *f) {
    eth_source_t *s = f->src;
    if (s->o.ws && !f->ws && util_wall_ms() >= f->ws_retry_ms) es_ws_open(f);
    if (f->ws) {
        if (es_ws_wait(f, s->o.poll_ms)) return;
        /* quiet chain: nothing new, but a silently dead subscription must not stall us */
        if (f->ws && f->head_known && util_wall_ms() - f->polled_ms < ES_WS_CHECK_MS) return;
    } else {
        pthread_mutex_lock(&s->mu);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += s->o.poll_ms / 1000;
        ts.tv_nsec += (long)(s->o.poll_ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        if (!es_stopping(f)) pthread_cond_timedwait(&s->cv, &s->mu, &ts);
        pthread_mutex_unlock(&s->mu);
    }
    if (es_stopping(f)) return;
    err_t e;
    f->polled_ms = util_wall_ms();
    if (es_head(f, &e) < 0)
        log_msg(LOG_DEBUG, NULL, "eth %s: eth_blockNumber: %s", f->net->name, e.msg);
}

/* One pass over this network's enabled triggers; true when one of them is still behind. */
static bool es_pass(es_follower_t *f) {
    eth_source_t *s = f->src;
    pthread_mutex_lock(&s->mu);
    es_trig_t **mine = calloc(s->n ? s->n : 1, sizeof *mine);
    size_t n = 0;
    for (size_t i = 0; mine && i < s->n; i++) {
        es_trig_t *t = s->trigs[i];
        if (t->enabled && strcmp(t->f.network, f->net->name) == 0) {
            t->refs++;
            mine[n++] = t;
        }
    }
    pthread_mutex_unlock(&s->mu);
    bool behind = false;
    for (size_t i = 0; i < n && !es_stopping(f); i++)
        if (!mine[i]->gone && f->head_known) behind |= es_follow(f, mine[i]);
    /* the lag gauge: blocks the furthest-behind trigger still has to process */
    uint64_t lag = 0;
    for (size_t i = 0; i < n && f->head_known; i++) {
        const es_trig_t *t = mine[i];
        int64_t target = (int64_t)f->head - (int64_t)t->f.confirmations;
        if (t->loaded && !t->gone && target > t->num && (uint64_t)(target - t->num) > lag)
            lag = (uint64_t)(target - t->num);
    }
    atomic_store(&f->net->src.lag, lag);
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < n; i++)
        es_trig_unref_locked(mine[i]);
    pthread_mutex_unlock(&s->mu);
    free(mine);
    return behind;
}

static void *es_follower_main(void *arg) {
    es_follower_t *f = arg;
    err_t e;
    if (es_head(f, &e) < 0)
        log_warn("eth %s: the node does not answer yet: %s", f->net->name, e.msg);
    bool behind = false;
    for (;;) {
        while (!es_stopping(f)) {
            if (!behind) es_wait_head(f);
            if (es_stopping(f)) break;
            behind = es_pass(f);
        }
        /* decided under the lock: a trigger added meanwhile may have cancelled the stop */
        pthread_mutex_lock(&f->src->mu);
        bool stop = atomic_load(&f->stop);
        if (stop) f->exited = true;
        pthread_mutex_unlock(&f->src->mu);
        if (stop) atomic_store(&f->net->src.lag, 0); /* no enabled trigger left here */
        if (stop) break;
    }
    es_ws_close(f);
    return NULL;
}

/* ---- followers come and go with the triggers --------------------------------------------- */

static bool es_net_wanted_locked(eth_source_t *s, const char *net) {
    for (size_t i = 0; i < s->n; i++)
        if (s->trigs[i]->enabled && strcmp(s->trigs[i]->f.network, net) == 0) return true;
    return false;
}

/* Starts the follower of net if needed (joining an exited one first). Caller holds mu. */
static void es_follower_ensure_locked(eth_source_t *s, const char *name) {
    es_follower_t **pp = &s->followers;
    for (; *pp; pp = &(*pp)->next) {
        es_follower_t *f = *pp;
        if (strcmp(f->net->name, name) != 0) continue;
        if (!f->exited) {
            atomic_store(&f->stop, false); /* a stop that was not acted on yet is cancelled */
            return;
        }
        pthread_join(f->th, NULL);
        *pp = f->next;
        free(f);
        break;
    }
    chain_net_t *net = chain_nets_find(s->nets, CHAIN_ETH, name);
    if (!net) {
        log_warn("eth: network %s is not configured; its triggers are not followed", name);
        return;
    }
    es_follower_t *f = calloc(1, sizeof *f);
    if (!f) return;
    f->src = s;
    f->net = net;
    if (pthread_create(&f->th, NULL, es_follower_main, f) != 0) {
        log_error("eth %s: cannot start the follower thread", name);
        free(f);
        return;
    }
    f->next = s->followers;
    s->followers = f;
}

/* Tells followers whose network has no enabled trigger left to stop (they exit on their
 * own; joined later). Caller holds mu. */
static void es_followers_trim_locked(eth_source_t *s) {
    for (es_follower_t *f = s->followers; f; f = f->next)
        if (!es_net_wanted_locked(s, f->net->name)) atomic_store(&f->stop, true);
    pthread_cond_broadcast(&s->cv);
}

static void es_remove_locked(eth_source_t *s, const char *id) {
    for (size_t i = 0; i < s->n; i++) {
        if (strcmp(s->trigs[i]->id, id) != 0) continue;
        es_trig_t *t = s->trigs[i];
        s->trigs[i] = s->trigs[--s->n];
        t->gone = true;
        es_trig_unref_locked(t);
        return;
    }
}

int eth_source_add(eth_source_t *s, const char *id, const char *ns, const json_t *source,
                   bool enabled, err_t *err) {
    es_trig_t *t = calloc(1, sizeof *t);
    if (!t) return err_set(err, R3E_EINTERNAL, "out of memory");
    if (eth_filter_parse(source, &t->f, err) < 0) {
        free(t);
        return -1;
    }
    if (!t->f.network[0]) {
        chain_net_t *def = chain_nets_find(s->nets, CHAIN_ETH, NULL);
        snprintf(t->f.network, sizeof t->f.network, "%s", def ? def->name : "");
    }
    snprintf(t->id, sizeof t->id, "%s", id);
    snprintf(t->ns, sizeof t->ns, "%s", ns);
    t->enabled = enabled;
    t->refs = 1;
    pthread_mutex_lock(&s->mu);
    es_remove_locked(s, id);
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        es_trig_t **nt = realloc(s->trigs, cap * sizeof *nt);
        if (!nt) {
            pthread_mutex_unlock(&s->mu);
            eth_filter_free(&t->f);
            free(t);
            return err_set(err, R3E_EINTERNAL, "out of memory");
        }
        s->trigs = nt;
        s->cap = cap;
    }
    s->trigs[s->n++] = t;
    if (s->started && enabled) es_follower_ensure_locked(s, t->f.network);
    if (s->started) es_followers_trim_locked(s);
    pthread_mutex_unlock(&s->mu);
    return 0;
}

void eth_source_remove(eth_source_t *s, const char *id) {
    pthread_mutex_lock(&s->mu);
    es_remove_locked(s, id);
    if (s->started) es_followers_trim_locked(s);
    pthread_mutex_unlock(&s->mu);
}

/* ---- lifecycle ------------------------------------------------------------------------- */

static bool es_has_same(eth_source_t *s, const char *id, bool enabled) {
    pthread_mutex_lock(&s->mu);
    bool same = false;
    for (size_t i = 0; i < s->n && !same; i++)
        same = strcmp(s->trigs[i]->id, id) == 0 && s->trigs[i]->enabled == enabled;
    pthread_mutex_unlock(&s->mu);
    return same;
}

/* Mirrors the trigger table: new and changed (enabled/disabled) triggers are added, those
 * that are gone removed. A trigger's source object never changes after creation. */
static void es_sync(eth_source_t *s) {
    json_t *recs = s->o.triggers(s->o.ud);
    json_t *live = json_object();
    size_t i;
    json_t *rec;
    json_array_foreach(recs, i, rec) {
        const char *id = json_string_value(json_object_get(rec, "id"));
        const char *ns = json_string_value(json_object_get(rec, "ns"));
        if (!id) continue;
        bool enabled = !json_is_false(json_object_get(rec, "enabled"));
        json_object_set_new(live, id, json_true());
        if (es_has_same(s, id, enabled)) continue;
        err_t e;
        if (eth_source_add(s, id, ns ? ns : "default", json_object_get(rec, "source"), enabled,
                           &e) < 0)
            log_warn("eth: trigger %s not followed: %s", id, e.msg);
    }
    json_decref(recs);
    char **dead = NULL;
    size_t nd = 0;
    pthread_mutex_lock(&s->mu);
    dead = calloc(s->n ? s->n : 1, sizeof *dead);
    for (size_t k = 0; dead && k < s->n; k++)
        if (!json_object_get(live, s->trigs[k]->id)) dead[nd++] = strdup(s->trigs[k]->id);
    pthread_mutex_unlock(&s->mu);
    for (size_t k = 0; k < nd; k++) {
        eth_source_remove(s, dead[k]);
        free(dead[k]);
    }
    free(dead);
    json_decref(live);
}

static void *es_sync_main(void *arg) {
    eth_source_t *s = arg;
    while (!atomic_load(&s->sync_stop)) {
        es_sync(s);
        pthread_mutex_lock(&s->mu);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += ETH_SRC_SYNC_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        if (!atomic_load(&s->sync_stop)) pthread_cond_timedwait(&s->cv, &s->mu, &ts);
        pthread_mutex_unlock(&s->mu);
    }
    return NULL;
}

static int es_start(event_source_t *iface, event_emit_fn emit, void *ctx, err_t *err) {
    eth_source_t *s = iface->impl;
    pthread_mutex_lock(&s->mu);
    s->emit = emit;
    s->emit_ctx = ctx;
    s->started = true;
    for (size_t i = 0; i < s->n; i++)
        if (s->trigs[i]->enabled) es_follower_ensure_locked(s, s->trigs[i]->f.network);
    pthread_mutex_unlock(&s->mu);
    if (s->o.triggers) {
        es_sync(s); /* the stored triggers are followed from the start */
        atomic_store(&s->sync_stop, false);
        if (pthread_create(&s->sync_th, NULL, es_sync_main, s) != 0)
            return err_set(err, R3E_EINTERNAL, "cannot start the eth trigger sync thread");
        s->sync_running = true;
    }
    return 0;
}

static void es_stop(event_source_t *iface) {
    eth_source_t *s = iface->impl;
    if (s->sync_running) {
        pthread_mutex_lock(&s->mu);
        atomic_store(&s->sync_stop, true);
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->sync_th, NULL);
        s->sync_running = false;
    }
    pthread_mutex_lock(&s->mu);
    s->started = false;
    for (es_follower_t *f = s->followers; f; f = f->next)
        atomic_store(&f->stop, true);
    pthread_cond_broadcast(&s->cv);
    es_follower_t *list = s->followers;
    s->followers = NULL;
    pthread_mutex_unlock(&s->mu);
    while (list) {
        es_follower_t *next = list->next;
        pthread_join(list->th, NULL);
        free(list);
        list = next;
    }
}

eth_source_t *eth_source_new(chain_nets_t *nets, store_t *store, const eth_source_opts_t *opts,
                             err_t *err) {
    eth_source_t *s = calloc(1, sizeof *s);
    if (!s) {
        err_set(err, R3E_EINTERNAL, "out of memory");
        return NULL;
    }
    s->nets = nets;
    s->store = store;
    s->o.poll_ms = opts && opts->poll_ms > 0 ? opts->poll_ms : 1000;
    s->o.ws = opts ? opts->ws : true;
    s->o.triggers = opts ? opts->triggers : NULL;
    s->o.ud = opts ? opts->ud : NULL;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->iface = (event_source_t){.type = "eth", .start = es_start, .stop = es_stop, .impl = s};
    return s;
}

event_source_t *eth_source_iface(eth_source_t *s) {
    return &s->iface;
}

void eth_source_free(eth_source_t *s) {
    if (!s) return;
    es_stop(&s->iface);
    for (size_t i = 0; i < s->n; i++) {
        s->trigs[i]->gone = true;
        es_trig_unref_locked(s->trigs[i]);
    }
    free(s->trigs);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}

/* ---- validation at trigger creation --------------------------------------------------- */

int eth_source_check(chain_nets_t *nets, json_t *source, err_t *err) {
    eth_filter_t f;
    if (eth_filter_parse(source, &f, err) < 0) return -1;
    size_t count = nets ? chain_nets_count(nets, CHAIN_ETH) : 0;
    if (count == 0) {
        eth_filter_free(&f);
        return err_set(err, R3E_EINVAL,
                       "no Ethereum network is configured (start the server with --eth "
                       "NAME=URL)");
    }
    chain_net_t *net = chain_nets_find(nets, CHAIN_ETH, f.network[0] ? f.network : NULL);
    if (!net) {
        char names[512] = "";
        size_t used = 0;
        for (size_t i = 0; i < count && used < sizeof names; i++)
            used += (size_t)snprintf(names + used, sizeof names - used, "%s\"%s\"", i ? ", " : "",
                                     chain_nets_at(nets, CHAIN_ETH, i)->name);
        err_set(err, R3E_EINVAL, "source.network \"%.64s\" is not configured (configured: %s)",
                f.network, names);
        eth_filter_free(&f);
        return -1;
    }
    json_object_set_new(source, "network", json_string(net->name));
    if (f.address) json_object_set(source, "address", f.address);
    if (f.topics) json_object_set(source, "topics", f.topics);
    if (f.from_block < 0) {
        err_t e2;
        json_t *r = rpc_call_ex(net->rpc, "eth_blockNumber", NULL, 2000, NULL, &e2);
        uint64_t h;
        if (r && es_hex_u64(r, &h))
            json_object_set_new(source, "fromBlock", json_integer((json_int_t)h + 1));
        json_decref(r);
    }
    eth_filter_free(&f);
    return 0;
}

/* ---- server wiring ---------------------------------------------------------------------- */

static json_t *es_evsys_triggers(void *ud) {
    api_t *api = ud;
    return api->ev ? evsys_trig_records(api->ev, "eth") : json_array();
}

int eth_source_start(api_t *api, err_t *err) {
    if (!api->chains || chain_nets_count(api->chains, CHAIN_ETH) == 0) return 0;
    eth_source_opts_t o = {.poll_ms = api->cfg.eth_poll_ms,
                           .ws = !api->cfg.eth_ws_off,
                           .triggers = es_evsys_triggers,
                           .ud = api};
    eth_source_t *s = eth_source_new(api->chains, api->store, &o, err);
    if (!s) return -1;
    api->eth_src = s;
    if (evsys_source_add(api, &s->iface, err) < 0) {
        eth_source_stop_free(api);
        return -1;
    }
    log_info("eth: event source started (%s, poll interval %d ms)",
             o.ws ? "newHeads over WebSocket when offered" : "polling", s->o.poll_ms);
    return 0;
}

void eth_source_stop_free(api_t *api) {
    eth_source_free(api->eth_src);
    api->eth_src = NULL;
}
