/* Neo N3 block and notification triggers: one poller per network (see neo_source.h). */
#include "chain/neo/neo_source.h"

#include "api/evsys.h"
#include "chain/neo/neo.h"
#include "chain/net.h"
#include "core/util.h"
#include "events/source.h"
#include "obs/log.h"

#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define NEO_SRC_MAX_BLOCK_TXS 4096 /* a Neo block holds at most 512 today (policy) */

typedef struct neo_source neo_source_t;

typedef struct {
    neo_source_t *s;
    chain_net_t *net;
    pthread_t th;
    bool running;
    json_t *cursors; /* trigger id -> next block to read (integer) */
    json_t *abis;    /* contract -> {event name -> parameters} or null (unknown contract) */
    double tokens;   /* catch-up budget (token bucket of max_bps blocks per second) */
    uint64_t tokens_at_us;
} neo_poller_t;

struct neo_source {
    event_source_t base;
    api_t *api;
    event_emit_fn emit;
    void *emit_ctx;
    neo_poller_t *pollers;
    size_t npollers;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
    unsigned poll_ms, max_bps;
};

static const char *jstr(const json_t *o, const char *k) {
    return json_string_value(json_object_get(o, k));
}

/* ---- pure parts ---------------------------------------------------------------------- */

bool neo_source_matches(const json_t *tsrc, const json_t *n) {
    const char *want = jstr(tsrc, "contract"), *have = jstr(n, "contract");
    if (!want || !have || strcasecmp(want, have) != 0) return false;
    const char *ev = jstr(tsrc, "event");
    return !ev || (jstr(n, "eventname") && strcmp(ev, jstr(n, "eventname")) == 0);
}

/* One typed parameter; NULL when the item does not have the manifest's type. */
static json_t *typed_param(const char *type, const json_t *item) {
    json_t *dec = neo_stack_item_decode(item, NULL);
    if (!dec) return NULL;
    const char *itype = jstr(item, "type");
    json_t *out = NULL;
    if (itype && strcmp(itype, "Any") == 0) {
        out = json_null(); /* a null of any type (mint/burn side of a Transfer) */
    } else if (strcmp(type, "Hash160") == 0) {
        char addr[NEO_ADDRESS_LEN + 1];
        if (neo_stack_item_address(item, addr, NULL) == 0) out = json_string(addr);
    } else if (strcmp(type, "Integer") == 0) {
        char dec_s[100];
        if (neo_stack_item_integer(item, dec_s, sizeof dec_s, NULL) == 0) out = json_string(dec_s);
    } else if (strcmp(type, "Boolean") == 0) {
        if (json_is_boolean(dec))
            out = json_incref(dec);
        else if (jstr(item, "value") && itype && strcmp(itype, "Integer") == 0)
            out = json_boolean(strcmp(jstr(item, "value"), "0") != 0);
    } else if (strcmp(type, "String") == 0) {
        if (jstr(dec, "text")) out = json_string(jstr(dec, "text"));
    } else if (strcmp(type, "Hash256") == 0) {
        const char *hex = jstr(dec, "hex");
        uint8_t h[32];
        if (hex && strlen(hex) == 64 && util_hex_decode(hex, 64, h, 32) == 32) {
            char disp[67];
            neo_hash_to_display(h, 32, disp);
            out = json_string(disp);
        }
    } else if (strcmp(type, "ByteArray") == 0 || strcmp(type, "PublicKey") == 0 ||
               strcmp(type, "Signature") == 0) {
        if (jstr(dec, "hex")) out = json_string(jstr(dec, "hex"));
    } else {
        out = json_incref(dec);
    }
    json_decref(dec);
    return out;
}

json_t *neo_source_typed_params(const json_t *abi_params, const json_t *state) {
    const json_t *vals = json_object_get(state, "value");
    const char *st = jstr(state, "type");
    if (!json_is_array(abi_params) || !st || (strcmp(st, "Array") != 0 && strcmp(st, "Struct")) ||
        !json_is_array(vals) || json_array_size(vals) != json_array_size(abi_params))
        return NULL;
    json_t *out = json_object();
    size_t i;
    const json_t *p;
    json_array_foreach(abi_params, i, p) {
        const char *name = jstr(p, "name"), *type = jstr(p, "type");
        json_t *v = name && type ? typed_param(type, json_array_get(vals, i)) : NULL;
        if (!v) {
            json_decref(out);
            return NULL;
        }
        json_object_set_new(out, name, v);
    }
    return out;
}

static void block_time(const json_t *block, char ts[40]) {
    json_int_t t = json_integer_value(json_object_get(block, "time"));
    util_rfc3339(t > 0 ? (uint64_t)t : util_wall_ms(), ts, 40);
}

json_t *neo_source_notification_event(const char *network, const char *source,
                                      const json_t *notification, const json_t *abi_params,
                                      const char *txid, size_t n, const json_t *block, err_t *err) {
    json_t *dec = neo_notification_decode(notification, err);
    if (!dec) return NULL;
    char id[160], ts[40];
    snprintf(id, sizeof id, "neo:%s:%s:%zu", network, txid, n);
    block_time(block, ts);
    const char *contract = jstr(notification, "contract");
    json_t *data = json_object();
    json_object_set_new(data, "network", json_string(network));
    json_object_set_new(data, "contract", json_string(contract));
    json_object_set_new(data, "eventname", json_string(jstr(notification, "eventname")));
    json_object_set(data, "state", json_object_get(dec, "state"));
    json_t *typed =
        abi_params ? neo_source_typed_params(abi_params, json_object_get(notification, "state"))
                   : NULL;
    if (typed) json_object_set_new(data, "params", typed);
    if (json_object_get(dec, "transfer"))
        json_object_set(data, "transfer", json_object_get(dec, "transfer"));
    json_object_set(data, "rawState", json_object_get(notification, "state"));
    json_object_set_new(data, "txid", json_string(txid));
    json_object_set_new(data, "index", json_integer((json_int_t)n));
    json_object_set(data, "blockIndex", json_object_get(block, "index"));
    json_object_set(data, "blockHash", json_object_get(block, "hash"));
    json_object_set(data, "blockTime", json_object_get(block, "time"));
    json_decref(dec);
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:o}", "specversion", "1.0", "id", id, "source",
                     source, "type", "neo.notification", "subject", contract, "time", ts, "data",
                     data);
}

json_t *neo_source_block_event(const char *network, const char *source, const json_t *block) {
    char id[120], ts[40];
    json_int_t index = json_integer_value(json_object_get(block, "index"));
    snprintf(id, sizeof id, "neo:%s:block:%lld", network, (long long)index);
    block_time(block, ts);
    json_t *data = json_object();
    json_object_set_new(data, "network", json_string(network));
    json_object_set_new(data, "index", json_integer(index));
    json_object_set(data, "hash", json_object_get(block, "hash"));
    json_object_set(data, "previousHash", json_object_get(block, "previousblockhash"));
    json_object_set(data, "time", json_object_get(block, "time"));
    json_object_set_new(data, "txCount",
                        json_integer((json_int_t)json_array_size(json_object_get(block, "tx"))));
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:o}", "specversion", "1.0", "id", id, "source", source,
                     "type", "neo.block", "time", ts, "data", data);
}

/* ---- trigger validation --------------------------------------------------------------- */

int neo_source_check_trigger(api_t *api, json_t *src, err_t *err) {
    static const char *known[] = {"type", "network", "events", "contract", "event", "fromBlock"};
    const char *k;
    json_t *v;
    json_object_foreach(src, k, v) {
        bool ok = false;
        for (size_t i = 0; i < sizeof known / sizeof *known; i++)
            ok = ok || strcmp(k, known[i]) == 0;
        if (!ok)
            return err_set(err, R3E_EINVAL,
                           "source.%.40s is not a neo setting (network, events, contract, event, "
                           "fromBlock)",
                           k);
    }
    json_t *nv = json_object_get(src, "network");
    if (nv && !json_is_string(nv))
        return err_set(err, R3E_EINVAL, "source.network must be a network name");
    const char *name = json_string_value(nv);
    chain_net_t *net = api->chains ? chain_nets_find(api->chains, CHAIN_NEO, name) : NULL;
    if (!net) {
        if (name && *name)
            return err_set(err, R3E_EINVAL,
                           "source.network: no Neo N3 network named \"%.63s\" is "
                           "configured on this server",
                           name);
        return err_set(err, R3E_EINVAL,
                       "no Neo N3 network is configured on this server (start "
                       "it with --neo NAME=URL)");
    }
    const char *events = jstr(src, "events");
    bool blocks = events && strcmp(events, "blocks") == 0;
    if (!events || (!blocks && strcmp(events, "notifications") != 0))
        return err_set(err, R3E_EINVAL, "source.events must be \"blocks\" or \"notifications\"");
    json_t *cv = json_object_get(src, "contract"), *evv = json_object_get(src, "event");
    if (blocks && (cv || evv))
        return err_set(err, R3E_EINVAL,
                       "source.contract and source.event apply to \"notifications\" only");
    if (!blocks) {
        const char *c = json_string_value(cv);
        bool ok = c && strlen(c) == 42 && c[0] == '0' && (c[1] == 'x' || c[1] == 'X');
        for (size_t i = 2; ok && i < 42; i++)
            ok = isxdigit((unsigned char)c[i]) != 0;
        if (!ok)
            return err_set(err, R3E_EINVAL,
                           "source.contract must be a contract script hash \"0x\" + 40 hex "
                           "digits, as Neo shows it (big-endian)");
        char low[43];
        for (size_t i = 0; i < 43; i++)
            low[i] = (char)tolower((unsigned char)c[i]);
        json_object_set_new(src, "contract", json_string(low));
        const char *e = json_string_value(evv);
        if (evv && (!e || !*e || strlen(e) > 32))
            return err_set(err, R3E_EINVAL,
                           "source.event must be an event name of 1 to 32 "
                           "characters");
    }
    json_t *fb = json_object_get(src, "fromBlock");
    if (fb &&
        (!json_is_integer(fb) || json_integer_value(fb) < 0 || json_integer_value(fb) > UINT32_MAX))
        return err_set(err, R3E_EINVAL, "source.fromBlock must be a block index (>= 0)");
    json_object_set_new(src, "network", json_string(net->name));
    if (!fb) {
        err_t e2;
        json_t *count = rpc_call(net->rpc, "getblockcount", NULL, NULL, &e2);
        if (!json_is_integer(count)) {
            json_decref(count);
            return err_set(err, count ? R3E_EUPSTREAM : e2.code,
                           "cannot read the height of Neo network %s to start the trigger at "
                           "(give source.fromBlock): %s",
                           net->name, count ? "getblockcount is not a number" : e2.msg);
        }
        json_object_set_new(src, "fromBlock", json_integer(json_integer_value(count)));
        json_decref(count);
    }
    return 0;
}

/* ---- the poller ------------------------------------------------------------------------ */

typedef struct {
    json_t *rec; /* borrowed from the round's snapshot */
    const char *id, *ns;
    const json_t *src;
    bool blocks, enabled;
    bool sweep;    /* served by the current sweep (see neo_round) */
    uint32_t next; /* next block to read */
} neo_trig_t;

/* Sleeps up to ms or until stop; returns true when stopping. */
static bool neo_wait(neo_source_t *s, unsigned ms) {
    pthread_mutex_lock(&s->mu);
    if (!s->stop && ms) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += ms / 1000;
        ts.tv_nsec += (long)(ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&s->cv, &s->mu, &ts);
    }
    bool stop = s->stop;
    pthread_mutex_unlock(&s->mu);
    return stop;
}

static bool neo_stopping(neo_source_t *s) {
    pthread_mutex_lock(&s->mu);
    bool stop = s->stop;
    pthread_mutex_unlock(&s->mu);
    return stop;
}

static int neo_cursor_put(neo_poller_t *p, const char *id, uint32_t next, err_t *err) {
    char v[16];
    snprintf(v, sizeof v, "%u", next);
    if (store_meta_put(p->s->api->store, NEO_SOURCE_CURSOR_KIND, id, v, strlen(v), err) < 0)
        return -1;
    json_object_set_new(p->cursors, id, json_integer(next));
    return 0;
}

/* The trigger's next block: cached, persisted, or its fromBlock (then persisted). */
static uint32_t neo_cursor_get(neo_poller_t *p, const char *id, const json_t *src, uint32_t count) {
    json_t *c = json_object_get(p->cursors, id);
    if (c) return (uint32_t)json_integer_value(c);
    char *val = NULL;
    size_t len;
    err_t e;
    uint32_t next;
    if (store_meta_get(p->s->api->store, NEO_SOURCE_CURSOR_KIND, id, &val, &len, &e) == 0) {
        next = (uint32_t)strtoul(val, NULL, 10);
        free(val);
        json_object_set_new(p->cursors, id, json_integer(next));
        return next;
    }
    json_t *fb = json_object_get(src, "fromBlock");
    next = json_is_integer(fb) ? (uint32_t)json_integer_value(fb) : count;
    if (neo_cursor_put(p, id, next, &e) < 0)
        json_object_set_new(p->cursors, id, json_integer(next));
    return next;
}

/* The event's manifest parameters for contract/event, fetched once per contract. */
static const json_t *neo_abi_params(neo_poller_t *p, const char *contract, const char *event) {
    json_t *c = json_object_get(p->abis, contract);
    if (!c) {
        json_t *params = json_pack("[s]", contract);
        err_t e;
        json_t *st = rpc_call(p->net->rpc, "getcontractstate", params, NULL, &e);
        json_decref(params);
        const json_t *evs =
            json_object_get(json_object_get(json_object_get(st, "manifest"), "abi"), "events");
        c = json_is_array(evs) ? json_object() : json_null();
        size_t i;
        const json_t *ev;
        json_array_foreach(evs, i, ev) {
            if (jstr(ev, "name") && json_is_array(json_object_get(ev, "parameters")))
                json_object_set(c, jstr(ev, "name"), json_object_get(ev, "parameters"));
        }
        json_decref(st);
        /* a transport failure is retried with the next notification; a contract the node
         * does not know (destroyed) is remembered as untyped */
        if (st || e.code == R3E_EUPSTREAM)
            json_object_set_new(p->abis, contract, c);
        else {
            json_decref(c);
            return NULL;
        }
        if (json_object_size(p->abis) > 1000) json_object_clear(p->abis); /* bounded cache */
        c = json_object_get(p->abis, contract);
    }
    return json_object_get(c, event);
}

static int neo_emit(neo_poller_t *p, const neo_trig_t *t, json_t *event, err_t *err) {
    const char *type = json_string_value(json_object_get(event, "type"));
    bool block = type && strcmp(type, "neo.block") == 0;
    int rc = p->s->emit(p->s->emit_ctx, t->ns, event, t->id, err);
    json_decref(event);
    if (rc == 0) atomic_fetch_add(&p->net->src.events[block ? CHAIN_EV_BLOCK : CHAIN_EV_ITEM], 1);
    return rc;
}

/* Delivers block b (getblock JSON) and its app logs (array parallel to block.tx, or NULL)
 * to trigger t. 0, or -1 when an event could not be ingested (retried next round). */
static int neo_deliver(neo_poller_t *p, const neo_trig_t *t, const json_t *block,
                       const json_t *logs, err_t *err) {
    char source[200];
    snprintf(source, sizeof source, "r3e://neo/%s/triggers/%s", p->net->name, t->id);
    if (t->blocks) return neo_emit(p, t, neo_source_block_event(p->net->name, source, block), err);
    size_t i;
    const json_t *log;
    json_array_foreach(logs, i, log) {
        const char *txid = jstr(log, "txid");
        size_t n = 0, k;
        const json_t *exe;
        json_array_foreach(json_object_get(log, "executions"), k, exe) {
            const json_t *ns = json_object_get(exe, "notifications");
            const char *vm = jstr(exe, "vmstate"), *trig = jstr(exe, "trigger");
            /* a FAULTed execution's notifications never happened */
            bool live = vm && strcmp(vm, "HALT") == 0 && trig && strcmp(trig, "Application") == 0;
            size_t j;
            const json_t *nt;
            json_array_foreach(ns, j, nt) {
                size_t idx = n++;
                if (!live || !neo_source_matches(t->src, nt)) continue;
                const json_t *abi = neo_abi_params(
                    p, jstr(nt, "contract"), jstr(nt, "eventname") ? jstr(nt, "eventname") : "");
                err_t de;
                json_t *ev = neo_source_notification_event(p->net->name, source, nt, abi,
                                                           txid ? txid : "", idx, block, &de);
                if (!ev) {
                    log_warn("neo %s: skipping an undecodable notification of %s: %s", p->net->name,
                             txid ? txid : "?", de.msg);
                    continue;
                }
                if (neo_emit(p, t, ev, err) < 0) return -1;
            }
        }
    }
    return 0;
}

/* getblock b plus, when wanted, the app logs of its transactions (one batch). */
static int neo_fetch(neo_poller_t *p, uint32_t b, bool want_logs, json_t **block, json_t **logs,
                     err_t *err) {
    *block = *logs = NULL;
    json_t *params = json_pack("[I,b]", (json_int_t)b, 1);
    *block = rpc_call(p->net->rpc, "getblock", params, NULL, err);
    json_decref(params);
    if (!json_is_object(*block)) {
        if (*block) err_set(err, R3E_EUPSTREAM, "getblock %u: not a block object", b);
        json_decref(*block);
        *block = NULL;
        return -1;
    }
    *logs = json_array();
    const json_t *txs = json_object_get(*block, "tx");
    if (!want_logs || json_array_size(txs) == 0) return 0;
    if (json_array_size(txs) > NEO_SRC_MAX_BLOCK_TXS)
        return err_set(err, R3E_EUPSTREAM, "block %u: too many transactions", b);
    json_t *calls = json_array();
    size_t i;
    const json_t *tx;
    json_array_foreach(txs, i, tx) {
        json_array_append_new(calls, json_pack("{s:s,s:[s]}", "method", "getapplicationlog",
                                               "params", jstr(tx, "hash") ? jstr(tx, "hash") : ""));
    }
    json_t *res = rpc_batch(p->net->rpc, calls, err);
    json_decref(calls);
    if (!res) return -1;
    json_array_foreach(res, i, tx) {
        const json_t *r = json_object_get(tx, "result");
        if (!json_is_object(r)) {
            const char *m = jstr(json_object_get(tx, "error"), "message");
            err_set(err, R3E_EUPSTREAM, "getapplicationlog for block %u: %s", b,
                    m ? m : "no result");
            json_decref(res);
            return -1;
        }
        json_array_append(*logs, (json_t *)r);
    }
    json_decref(res);
    return 0;
}

/* Refills the catch-up budget; returns the whole blocks available. */
static unsigned neo_budget(neo_poller_t *p) {
    uint64_t now = util_now_us();
    double cap = p->s->max_bps;
    p->tokens += (double)(now - p->tokens_at_us) / 1e6 * cap;
    if (p->tokens > cap) p->tokens = cap;
    p->tokens_at_us = now;
    return (unsigned)p->tokens;
}

/* Reads blocks *b.. (up to count, within *budget) and delivers each to the triggers of this
 * sweep whose cursor it is. 0, or -1 after an error (logged; retried next round). */
static int neo_sweep(neo_poller_t *p, neo_trig_t *ts, size_t nt, uint32_t *b, uint32_t count,
                     unsigned *budget) {
    neo_source_t *s = p->s;
    err_t e;
    for (; *b<count && * budget> 0 && !neo_stopping(s); (*b)++, (*budget)--, p->tokens -= 1) {
        bool want_logs = false;
        for (size_t k = 0; k < nt; k++)
            want_logs |= ts[k].sweep && !ts[k].blocks && ts[k].next <= *b;
        json_t *block, *logs;
        if (neo_fetch(p, *b, want_logs, &block, &logs, &e) < 0) {
            log_warn("neo %s: block %u: %s", p->net->name, *b, e.msg);
            json_decref(logs);
            return -1;
        }
        for (size_t k = 0; k < nt; k++) {
            neo_trig_t *t = &ts[k];
            if (!t->sweep || t->next != *b) continue;
            if (neo_deliver(p, t, block, logs, &e) < 0 ||
                neo_cursor_put(p, t->id, *b + 1, &e) < 0) {
                log_warn("neo %s: trigger %s, block %u: %s (retried)", p->net->name, t->id, *b,
                         e.msg);
                json_decref(block);
                json_decref(logs);
                return -1;
            }
            t->next = *b + 1;
        }
        json_decref(block);
        json_decref(logs);
    }
    return 0;
}

/* One round: returns 1 when blocks are left to read (behind the tip), 0 when caught up or
 * idle, -1 after an error (logged). */
static int neo_round(neo_poller_t *p) {
    neo_source_t *s = p->s;
    if (!s->api->ev) return 0;
    json_t *recs = evsys_trig_records(s->api->ev, "neo");
    neo_trig_t *ts = calloc(json_array_size(recs) + 1, sizeof *ts);
    size_t nt = 0, i;
    json_t *rec;
    json_t *live = json_object();
    json_array_foreach(recs, i, rec) {
        const json_t *src = json_object_get(rec, "source");
        const char *net = jstr(src, "network");
        if (!net || strcmp(net, p->net->name) != 0 || !jstr(rec, "id")) continue;
        neo_trig_t *t = &ts[nt++];
        t->rec = rec;
        t->id = jstr(rec, "id");
        t->ns = jstr(rec, "ns") ? jstr(rec, "ns") : API_NS;
        t->src = src;
        t->blocks = jstr(src, "events") && strcmp(jstr(src, "events"), "blocks") == 0;
        t->enabled = !json_is_false(json_object_get(rec, "enabled"));
        json_object_set_new(live, t->id, json_true());
    }
    /* forget the cursors of deleted triggers */
    const char *key;
    json_t *val;
    void *tmp;
    json_object_foreach_safe(p->cursors, tmp, key, val) {
        if (!json_object_get(live, key)) json_object_del(p->cursors, key);
    }
    json_decref(live);
    int rc = 0;
    if (nt == 0) {
        atomic_store(&p->net->src.lag, 0);
        goto out;
    }
    err_t e;
    json_t *cnt = rpc_call(p->net->rpc, "getblockcount", NULL, NULL, &e);
    if (!json_is_integer(cnt) || json_integer_value(cnt) < 1) {
        log_warn("neo %s: getblockcount: %s", p->net->name, cnt ? "not a number" : e.msg);
        json_decref(cnt);
        rc = -1;
        goto out;
    }
    uint32_t count = (uint32_t)json_integer_value(cnt);
    json_decref(cnt);
    atomic_store(&p->net->src.head, count - 1);
    atomic_store(&p->net->src.head_known, true);
    /* A disabled trigger keeps its cursor: enabled again, it resumes where it stopped and
     * catches up on what happened meanwhile (bounded by --neo-blocks-per-s). */
    for (size_t k = 0; k < nt; k++)
        ts[k].next = neo_cursor_get(p, ts[k].id, ts[k].src, count);
    /* Two sweeps so a trigger far behind (re-enabled after a long pause, or an old
     * fromBlock) cannot hold up the ones at the tip: first the triggers within one second of
     * catch-up of the tip, then the others with the budget that is left. */
    unsigned budget = neo_budget(p);
    bool behind = false;
    for (int sweep = 0; sweep < 2 && rc == 0; sweep++) {
        uint32_t lo = UINT32_MAX;
        for (size_t k = 0; k < nt; k++) {
            bool near = ts[k].next >= count || count - ts[k].next <= s->max_bps;
            ts[k].sweep = ts[k].enabled && ts[k].next < count && (sweep == 0) == near;
            if (ts[k].sweep && ts[k].next < lo) lo = ts[k].next;
        }
        if (lo == UINT32_MAX) continue;
        uint32_t b = lo;
        rc = neo_sweep(p, ts, nt, &b, count, &budget);
        behind |= b < count;
    }
    uint64_t lag = 0;
    for (size_t k = 0; k < nt; k++)
        if (ts[k].enabled && ts[k].next < count && count - ts[k].next > lag)
            lag = count - ts[k].next;
    atomic_store(&p->net->src.lag, lag);
    if (rc == 0) rc = behind ? 1 : 0;
out:
    free(ts);
    json_decref(recs);
    return rc;
}

static void *neo_poller_main(void *arg) {
    neo_poller_t *p = arg;
    neo_source_t *s = p->s;
    p->tokens_at_us = util_now_us();
    p->tokens = s->max_bps;
    for (;;) {
        int rc = neo_round(p);
        /* behind the tip: wait only for the next catch-up token */
        unsigned ms = rc == 1 ? 1000 / s->max_bps + 1 : s->poll_ms;
        if (neo_wait(s, ms)) break;
    }
    return NULL;
}

static int neo_src_start(event_source_t *base, event_emit_fn emit, void *ctx, err_t *err) {
    neo_source_t *s = base->impl;
    s->emit = emit;
    s->emit_ctx = ctx;
    for (size_t i = 0; i < s->npollers; i++) {
        if (pthread_create(&s->pollers[i].th, NULL, neo_poller_main, &s->pollers[i]) != 0)
            return err_set(err, R3E_EINTERNAL, "cannot start the Neo poller thread");
        s->pollers[i].running = true;
    }
    return 0;
}

static void neo_src_stop(event_source_t *base) {
    neo_source_t *s = base->impl;
    pthread_mutex_lock(&s->mu);
    s->stop = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    for (size_t i = 0; i < s->npollers; i++)
        if (s->pollers[i].running) {
            pthread_join(s->pollers[i].th, NULL);
            s->pollers[i].running = false;
        }
}

int neo_source_start(api_t *api, err_t *err) {
    size_t n = api->chains ? chain_nets_count(api->chains, CHAIN_NEO) : 0;
    if (n == 0 || !api->ev) return 0;
    neo_source_t *s = calloc(1, sizeof *s);
    if (!s || !(s->pollers = calloc(n, sizeof *s->pollers))) {
        free(s);
        return err_set(err, R3E_EINTERNAL, "out of memory");
    }
    s->api = api;
    s->npollers = n;
    s->max_bps = api->cfg.neo_blocks_per_s ? api->cfg.neo_blocks_per_s : NEO_SOURCE_DEFAULT_BPS;
    s->poll_ms = api->cfg.neo_poll_ms ? api->cfg.neo_poll_ms : NEO_SOURCE_DEFAULT_POLL_MS;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    for (size_t i = 0; i < n; i++) {
        s->pollers[i] = (neo_poller_t){.s = s,
                                       .net = chain_nets_at(api->chains, CHAIN_NEO, i),
                                       .cursors = json_object(),
                                       .abis = json_object()};
    }
    s->base =
        (event_source_t){.type = "neo", .start = neo_src_start, .stop = neo_src_stop, .impl = s};
    api->neo_src = s;
    if (evsys_source_add(api, &s->base, err) < 0) {
        neo_source_free(api);
        return -1;
    }
    log_info("neo: event source polling %zu network(s) every %u ms, catch-up %u blocks/s", n,
             s->poll_ms, s->max_bps);
    return 0;
}

void neo_source_free(api_t *api) {
    neo_source_t *s = api->neo_src;
    if (!s) return;
    neo_src_stop(&s->base);
    for (size_t i = 0; i < s->npollers; i++) {
        json_decref(s->pollers[i].cursors);
        json_decref(s->pollers[i].abis);
    }
    free(s->pollers);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
    api->neo_src = NULL;
}
