/* The live hub: connections, their subscriptions and bounded outbound queues.
 *
 * One mutex guards the connection list, the subscriptions and the queues. Publishing
 * holds it for one pass over the connections appending message references (no
 * allocation, no I/O besides an eventfd write for a connection not yet woken); a session
 * holds it to pop one message. Messages are built once, outside the lock, and shared by
 * reference, so a thousand subscribers cost a thousand pointer appends, not copies. */
#include "api/livehub.h"

#include "api/api.h"
#include "core/util.h"
#include "obs/log.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

struct livehub_conn {
    struct livehub_conn *next, *prev;
    char ns[64];
    int efd;
    atomic_bool wake_pending;
    livehub_state_t state;
    wsmsg_filter_t *subs;
    size_t nsubs, subs_cap;
    livehub_msg_t **ring; /* queue: ring of references, grown up to max_queue_msgs */
    size_t head, len, cap;
    size_t bytes;
    size_t overflow_msgs, overflow_bytes;
};

typedef struct {
    pthread_mutex_t mu;
    livehub_config_t cfg;
    livehub_conn_t *conns;
    size_t nconns;
    bool closing;
    atomic_int exec_subs, event_subs; /* lets publishers return without the lock */
    atomic_size_t open;
    atomic_ullong queued, rejected, dropped[LIVEHUB_DROP_NKINDS];
} livehub_t;

static _Atomic(livehub_t *) livehub_g;

/* ---- configuration and lifecycle ---------------------------------------------------- */

static size_t livehub_env_size(const char *name, size_t def) {
    const char *v = getenv(name);
    if (!v || !*v) return def;
    char *end;
    unsigned long long n = strtoull(v, &end, 10);
    return (*end || n == 0 || n > (1ULL << 40)) ? def : (size_t)n;
}

void livehub_config_from_env(livehub_config_t *cfg) {
    cfg->max_conns = livehub_env_size("R3E_WS_MAX_CONNECTIONS", 512);
    cfg->max_queue_msgs = livehub_env_size("R3E_WS_QUEUE_MESSAGES", 1000);
    cfg->max_queue_bytes = livehub_env_size("R3E_WS_QUEUE_BYTES", 1024 * 1024);
    cfg->max_subs = 64;
    size_t ping = livehub_env_size("R3E_WS_PING_INTERVAL_MS", 20000);
    cfg->ping_interval_ms = ping > 3600000 ? 3600000 : (unsigned)ping;
}

int livehub_init(const livehub_config_t *cfg, err_t *err) {
    livehub_t *h = calloc(1, sizeof *h);
    if (!h) return err_set(err, R3E_EINTERNAL, "out of memory");
    pthread_mutex_init(&h->mu, NULL);
    h->cfg = *cfg;
    if (!h->cfg.max_subs) h->cfg.max_subs = 64;
    livehub_t *none = NULL;
    if (!atomic_compare_exchange_strong(&livehub_g, &none, h)) {
        pthread_mutex_destroy(&h->mu);
        free(h);
        return err_set(err, R3E_EINTERNAL, "the live hub is already running");
    }
    return 0;
}

static void livehub_wake(livehub_conn_t *c) {
    if (atomic_exchange(&c->wake_pending, true)) return; /* its thread is woken already */
    uint64_t one = 1;
    ssize_t w = write(c->efd, &one, sizeof one);
    (void)w; /* EAGAIN: the counter is already non-zero, which is all a wake needs */
}

void livehub_shutdown(void) {
    livehub_t *h = atomic_load(&livehub_g);
    if (!h) return;
    pthread_mutex_lock(&h->mu);
    h->closing = true;
    for (livehub_conn_t *c = h->conns; c; c = c->next) {
        c->state = LIVEHUB_CLOSING; /* an overflowed one too: it closes with 1001 now */
        livehub_wake(c);
    }
    pthread_mutex_unlock(&h->mu);
}

void livehub_free(void) {
    livehub_t *h = atomic_exchange(&livehub_g, NULL);
    if (!h) return;
    if (h->conns) log_error("livehub: freed with %zu connections attached", h->nconns);
    pthread_mutex_destroy(&h->mu);
    free(h);
}

livehub_config_t livehub_config(void) {
    livehub_t *h = atomic_load(&livehub_g);
    livehub_config_t none = {0};
    return h ? h->cfg : none;
}

/* ---- messages and queues -------------------------------------------------------------- */

static livehub_msg_t *livehub_msg_new(const char *text, size_t len) {
    livehub_msg_t *m = malloc(sizeof *m + len);
    if (!m) return NULL;
    atomic_init(&m->refs, 1);
    m->len = len;
    memcpy(m->data, text, len);
    return m;
}

/* Serialises and consumes o into a message; NULL when out of memory. */
static livehub_msg_t *livehub_msg_json(json_t *o) {
    char *t = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!t) return NULL;
    livehub_msg_t *m = livehub_msg_new(t, strlen(t));
    free(t);
    return m;
}

void livehub_msg_unref(livehub_msg_t *m) {
    if (m && atomic_fetch_sub(&m->refs, 1) == 1) free(m);
}

static void livehub_queue_clear(livehub_conn_t *c) {
    for (size_t i = 0; i < c->len; i++)
        livehub_msg_unref(c->ring[(c->head + i) % c->cap]);
    c->head = c->len = c->bytes = 0;
}

static int livehub_queue_reserve(livehub_conn_t *c, size_t want) {
    if (want <= c->cap) return 0;
    size_t cap = c->cap ? c->cap : 16;
    while (cap < want)
        cap *= 2;
    livehub_msg_t **r = malloc(cap * sizeof *r);
    if (!r) return -1;
    for (size_t i = 0; i < c->len; i++) /* unwrap into the new ring */
        r[i] = c->ring[(c->head + i) % c->cap];
    free(c->ring);
    c->ring = r;
    c->cap = cap;
    c->head = 0;
    return 0;
}

/* Drops a slow consumer's queue (under the hub lock). */
static void livehub_overflow(livehub_t *h, livehub_conn_t *c, size_t msgs, size_t bytes) {
    c->overflow_msgs = c->len + msgs;
    c->overflow_bytes = c->bytes + bytes;
    livehub_queue_clear(c);
    c->state = LIVEHUB_OVERFLOW;
    atomic_fetch_add(&h->dropped[LIVEHUB_DROP_SLOW], 1);
    livehub_wake(c);
}

/* Appends msgs[0..n) (total `bytes`) to c's queue, all or none (under the hub lock). */
static void livehub_enqueue(livehub_t *h, livehub_conn_t *c, livehub_msg_t **msgs, size_t n,
                            size_t bytes) {
    if (c->len + n > h->cfg.max_queue_msgs || c->bytes + bytes > h->cfg.max_queue_bytes ||
        livehub_queue_reserve(c, c->len + n) < 0) {
        livehub_overflow(h, c, n, bytes);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        atomic_fetch_add(&msgs[i]->refs, 1);
        c->ring[(c->head + c->len++) % c->cap] = msgs[i];
    }
    c->bytes += bytes;
    atomic_fetch_add(&h->queued, n);
    livehub_wake(c);
}

/* ---- publishing ----------------------------------------------------------------------- */

typedef struct {
    const char *ns;
    wsmsg_topic_t topic;
    const char *function;      /* executions */
    const char *type, *source; /* events */
} livehub_target_t;

/* Which of c's subscriptions want this: *main (the execution / event), *logs (log lines). */
static void livehub_wants(const livehub_conn_t *c, const livehub_target_t *t, bool *main,
                          bool *logs) {
    *main = *logs = false;
    if (c->state != LIVEHUB_OPEN || strcmp(c->ns, t->ns) != 0) return;
    for (size_t i = 0; i < c->nsubs; i++) {
        const wsmsg_filter_t *f = &c->subs[i];
        bool hit = t->topic == WSMSG_EXECUTIONS ? wsmsg_match_execution(f, t->function)
                                                : wsmsg_match_event(f, t->type, t->source);
        if (!hit) continue;
        *main = true;
        if (f->logs) *logs = true;
    }
}

/* Whether anyone wants it at all (and the log lines), before building messages. */
static void livehub_any(livehub_t *h, const livehub_target_t *t, bool *main, bool *logs) {
    *main = *logs = false;
    pthread_mutex_lock(&h->mu);
    for (livehub_conn_t *c = h->conns; c; c = c->next) {
        bool m, l;
        livehub_wants(c, t, &m, &l);
        *main |= m;
        *logs |= l;
    }
    pthread_mutex_unlock(&h->mu);
}

/* msgs[0..nlogs) are log lines, msgs[nlogs] the execution or event itself. */
static void livehub_deliver(livehub_t *h, const livehub_target_t *t, livehub_msg_t **msgs,
                            size_t nlogs) {
    size_t all_bytes = 0;
    for (size_t i = 0; i <= nlogs; i++)
        all_bytes += msgs[i]->len;
    pthread_mutex_lock(&h->mu);
    for (livehub_conn_t *c = h->conns; c; c = c->next) {
        bool want_main, want_logs;
        livehub_wants(c, t, &want_main, &want_logs);
        if (!want_main) continue;
        /* lines and execution go in one batch: a client never sees half of them */
        if (want_logs)
            livehub_enqueue(h, c, msgs, nlogs + 1, all_bytes);
        else
            livehub_enqueue(h, c, &msgs[nlogs], 1, msgs[nlogs]->len);
    }
    pthread_mutex_unlock(&h->mu);
}

/* One {"type":"log","log":…} per entry of the record's logs (when want_logs), followed
 * by a free slot for the execution message; *n gets the number of log messages. */
static livehub_msg_t **livehub_log_msgs(json_t *rec, const char *function, bool want_logs,
                                        size_t *n) {
    *n = 0;
    json_t *logs = json_object_get(rec, "logs");
    size_t count = want_logs ? json_array_size(logs) : 0;
    livehub_msg_t **out = calloc(count + 1, sizeof *out);
    if (!out) return NULL;
    const char *id = json_string_value(json_object_get(rec, "execution_id"));
    uint64_t started = util_rfc3339_parse(json_string_value(json_object_get(rec, "started_at")));
    for (size_t i = 0; i < count; i++) {
        json_t *line = api_log_line(json_array_get(logs, i), id ? id : "", function, started);
        livehub_msg_t *m = livehub_msg_json(json_pack("{s:s,s:o}", "type", "log", "log", line));
        if (m) out[(*n)++] = m;
    }
    return out;
}

void livehub_publish_execution(const char *ns, const char *record, size_t len) {
    livehub_t *h = atomic_load(&livehub_g);
    if (!h || atomic_load(&h->exec_subs) == 0 || !record) return;
    json_t *rec = json_loadb(record, len, JSON_ALLOW_NUL, NULL);
    const char *function = json_string_value(json_object_get(rec, "function"));
    livehub_target_t t = {.ns = ns, .topic = WSMSG_EXECUTIONS, .function = function};
    bool any, any_logs;
    if (!json_is_object(rec) || !function || (livehub_any(h, &t, &any, &any_logs), !any)) {
        json_decref(rec);
        return;
    }
    size_t nlogs = 0;
    livehub_msg_t **msgs = livehub_log_msgs(rec, function, any_logs, &nlogs);
    /* the summary: results can be megabytes and logs come as their own messages */
    json_t *summary = json_deep_copy(rec);
    json_object_del(summary, "result");
    json_object_del(summary, "logs");
    livehub_msg_t *main =
        livehub_msg_json(json_pack("{s:s,s:o}", "type", "execution", "execution", summary));
    if (msgs && main) {
        msgs[nlogs] = main;
        livehub_deliver(h, &t, msgs, nlogs);
    }
    livehub_msg_unref(main);
    for (size_t i = 0; msgs && i < nlogs; i++)
        livehub_msg_unref(msgs[i]);
    free(msgs);
    json_decref(rec);
}

void livehub_publish_event(const char *ns, const char *event, size_t len) {
    livehub_t *h = atomic_load(&livehub_g);
    if (!h || atomic_load(&h->event_subs) == 0 || !event) return;
    json_t *ev = json_loadb(event, len, JSON_ALLOW_NUL, NULL);
    livehub_target_t t = {.ns = ns,
                          .topic = WSMSG_EVENTS,
                          .type = json_string_value(json_object_get(ev, "type")),
                          .source = json_string_value(json_object_get(ev, "source"))};
    bool any, any_logs;
    if (json_is_object(ev) && (livehub_any(h, &t, &any, &any_logs), any)) {
        livehub_msg_t *m = livehub_msg_json(json_pack("{s:s,s:O}", "type", "event", "event", ev));
        if (m) livehub_deliver(h, &t, &m, 0);
        livehub_msg_unref(m);
    }
    json_decref(ev);
}

/* ---- connections ---------------------------------------------------------------------- */

livehub_conn_t *livehub_attach(const char *ns, err_t *err) {
    livehub_t *h = atomic_load(&livehub_g);
    if (!h) {
        err_set(err, R3E_EUNAVAIL, "the live stream is not running");
        return NULL;
    }
    livehub_conn_t *c = calloc(1, sizeof *c);
    if (!c) {
        err_set(err, R3E_EINTERNAL, "out of memory");
        return NULL;
    }
    snprintf(c->ns, sizeof c->ns, "%s", ns);
    c->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (c->efd < 0) {
        err_set(err, R3E_EINTERNAL, "eventfd: %s", strerror(errno));
        free(c);
        return NULL;
    }
    pthread_mutex_lock(&h->mu);
    if (h->closing || h->nconns >= h->cfg.max_conns) {
        bool closing = h->closing;
        pthread_mutex_unlock(&h->mu);
        close(c->efd);
        free(c);
        if (closing)
            err_set(err, R3E_EUNAVAIL, "server is shutting down");
        else
            err_set(err, R3E_ELIMIT, "too many WebSocket connections (limit %zu)",
                    h->cfg.max_conns);
        return NULL;
    }
    c->next = h->conns;
    if (h->conns) h->conns->prev = c;
    h->conns = c;
    h->nconns++;
    atomic_store(&h->open, h->nconns);
    pthread_mutex_unlock(&h->mu);
    return c;
}

static void livehub_count_subs(livehub_t *h, const wsmsg_filter_t *f, int delta) {
    atomic_fetch_add(f->topic == WSMSG_EVENTS ? &h->event_subs : &h->exec_subs, delta);
}

void livehub_detach(livehub_conn_t *c) {
    livehub_t *h = atomic_load(&livehub_g);
    if (!c || !h) return;
    pthread_mutex_lock(&h->mu);
    if (c->prev)
        c->prev->next = c->next;
    else
        h->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    h->nconns--;
    atomic_store(&h->open, h->nconns);
    for (size_t i = 0; i < c->nsubs; i++)
        livehub_count_subs(h, &c->subs[i], -1);
    livehub_queue_clear(c);
    pthread_mutex_unlock(&h->mu);
    close(c->efd);
    free(c->ring);
    free(c->subs);
    free(c);
}

size_t livehub_count(void) {
    livehub_t *h = atomic_load(&livehub_g);
    return h ? atomic_load(&h->open) : 0;
}

int livehub_conn_fd(const livehub_conn_t *c) {
    return c->efd;
}

void livehub_conn_clear_wake(livehub_conn_t *c) {
    atomic_store(&c->wake_pending, false); /* before the read: a racing wake re-arms it */
    uint64_t v;
    ssize_t r = read(c->efd, &v, sizeof v);
    (void)r;
}

livehub_state_t livehub_conn_state(livehub_conn_t *c) {
    livehub_t *h = atomic_load(&livehub_g);
    if (!h) return LIVEHUB_CLOSING;
    pthread_mutex_lock(&h->mu);
    livehub_state_t s = c->state;
    pthread_mutex_unlock(&h->mu);
    return s;
}

void livehub_conn_overflow_info(livehub_conn_t *c, size_t *msgs, size_t *bytes) {
    livehub_t *h = atomic_load(&livehub_g);
    if (!h) return;
    pthread_mutex_lock(&h->mu);
    *msgs = c->overflow_msgs;
    *bytes = c->overflow_bytes;
    pthread_mutex_unlock(&h->mu);
}

livehub_msg_t *livehub_conn_pop(livehub_conn_t *c) {
    livehub_t *h = atomic_load(&livehub_g);
    if (!h) return NULL;
    livehub_msg_t *m = NULL;
    pthread_mutex_lock(&h->mu);
    if (c->len) {
        m = c->ring[c->head];
        c->head = (c->head + 1) % c->cap;
        c->len--;
        c->bytes -= m->len;
    }
    pthread_mutex_unlock(&h->mu);
    return m;
}

int livehub_subscribe(livehub_conn_t *c, const wsmsg_filter_t *f, err_t *err) {
    livehub_t *h = atomic_load(&livehub_g);
    if (!h) return err_set(err, R3E_EUNAVAIL, "the live stream is not running");
    int rc = 0;
    pthread_mutex_lock(&h->mu);
    for (size_t i = 0; i < c->nsubs; i++) {
        if (wsmsg_filter_same(&c->subs[i], f)) {
            c->subs[i] = *f; /* same filters: only `logs` can change */
            goto out;
        }
    }
    if (c->nsubs >= h->cfg.max_subs) {
        rc = err_set(err, R3E_ELIMIT, "at most %zu subscriptions per connection", h->cfg.max_subs);
        goto out;
    }
    if (c->nsubs == c->subs_cap) {
        size_t cap = c->subs_cap ? c->subs_cap * 2 : 4;
        wsmsg_filter_t *s = realloc(c->subs, cap * sizeof *s);
        if (!s) {
            rc = err_set(err, R3E_EINTERNAL, "out of memory");
            goto out;
        }
        c->subs = s;
        c->subs_cap = cap;
    }
    c->subs[c->nsubs++] = *f;
    livehub_count_subs(h, f, 1);
out:
    pthread_mutex_unlock(&h->mu);
    return rc;
}

int livehub_unsubscribe(livehub_conn_t *c, const wsmsg_t *m) {
    livehub_t *h = atomic_load(&livehub_g);
    if (!h) return 0;
    int removed = 0;
    pthread_mutex_lock(&h->mu);
    size_t k = 0;
    for (size_t i = 0; i < c->nsubs; i++) {
        if (wsmsg_unsubscribe_matches(m, &c->subs[i])) {
            livehub_count_subs(h, &c->subs[i], -1);
            removed++;
        } else {
            c->subs[k++] = c->subs[i];
        }
    }
    c->nsubs = k;
    pthread_mutex_unlock(&h->mu);
    return removed;
}

/* ---- counters ------------------------------------------------------------------------- */

void livehub_count_drop(livehub_drop_t why) {
    livehub_t *h = atomic_load(&livehub_g);
    if (h && why < LIVEHUB_DROP_NKINDS) atomic_fetch_add(&h->dropped[why], 1);
}

void livehub_count_rejected(void) {
    livehub_t *h = atomic_load(&livehub_g);
    if (h) atomic_fetch_add(&h->rejected, 1);
}

char *livehub_metrics_text(void) {
    livehub_t *h = atomic_load(&livehub_g);
    if (!h) return strdup("");
    char *out = NULL;
    int n = asprintf(
        &out,
        "# HELP r3e_ws_connections Open WebSocket connections on GET /v1/ws.\n"
        "# TYPE r3e_ws_connections gauge\n"
        "r3e_ws_connections %zu\n"
        "# HELP r3e_ws_messages_total Messages queued to WebSocket clients.\n"
        "# TYPE r3e_ws_messages_total counter\n"
        "r3e_ws_messages_total %llu\n"
        "# HELP r3e_ws_dropped_total WebSocket clients dropped by the server.\n"
        "# TYPE r3e_ws_dropped_total counter\n"
        "r3e_ws_dropped_total{reason=\"slow_consumer\"} %llu\n"
        "r3e_ws_dropped_total{reason=\"ping_timeout\"} %llu\n"
        "# HELP r3e_ws_rejected_total WebSocket upgrades refused at the connection limit.\n"
        "# TYPE r3e_ws_rejected_total counter\n"
        "r3e_ws_rejected_total %llu\n",
        atomic_load(&h->open), (unsigned long long)atomic_load(&h->queued),
        (unsigned long long)atomic_load(&h->dropped[LIVEHUB_DROP_SLOW]),
        (unsigned long long)atomic_load(&h->dropped[LIVEHUB_DROP_PING]),
        (unsigned long long)atomic_load(&h->rejected));
    return n < 0 ? NULL : out;
}
