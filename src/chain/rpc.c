/* JSON-RPC 2.0 client over libcurl (see rpc.h). */
#include "chain/rpc.h"

#include "core/buf.h"
#include "core/util.h"
#include "obs/log.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RPC_POOL 8
#define RPC_MAX_RESPONSE (64u * 1024 * 1024)

struct rpc_client {
    char *url;
    char label[96]; /* names the node in errors: URLs carry API keys and stay out of them */
    int timeout_ms, retries;
    pthread_mutex_t mu;
    CURL *idle[RPC_POOL];
    size_t nidle;
    atomic_long next_id;
    struct curl_slist *headers;
    atomic_ullong n_ok, n_node, n_timeout, n_unavail;
    atomic_ullong buckets[RPC_BUCKETS + 1];
    atomic_ullong sum_us;
};

const double rpc_bucket_s[RPC_BUCKETS] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

static void stats_record(rpc_client_t *c, uint64_t t0, bool ok, const err_t *err) {
    uint64_t us = util_now_us() - t0;
    atomic_fetch_add(&c->sum_us, us);
    size_t b = 0;
    while (b < RPC_BUCKETS && (double)us / 1e6 > rpc_bucket_s[b])
        b++;
    atomic_fetch_add(&c->buckets[b], 1);
    if (ok)
        atomic_fetch_add(&c->n_ok, 1);
    else if (err && err->code == R3E_EUPSTREAM)
        atomic_fetch_add(&c->n_node, 1);
    else if (err && err->code == R3E_ETIMEOUT)
        atomic_fetch_add(&c->n_timeout, 1);
    else
        atomic_fetch_add(&c->n_unavail, 1);
}

void rpc_client_stats(const rpc_client_t *c, rpc_stats_t *out) {
    rpc_client_t *m = (rpc_client_t *)c; /* atomics are read only */
    out->ok = atomic_load(&m->n_ok);
    out->node_error = atomic_load(&m->n_node);
    out->timeout = atomic_load(&m->n_timeout);
    out->unavailable = atomic_load(&m->n_unavail);
    for (size_t i = 0; i <= RPC_BUCKETS; i++)
        out->buckets[i] = atomic_load(&m->buckets[i]);
    out->sum_s = (double)atomic_load(&m->sum_us) / 1e6;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

rpc_client_t *rpc_client_new(const char *url, int timeout_ms, int retries, err_t *err) {
    if (!url || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)) {
        err_set(err, R3E_EINVAL, "node URL must start with http:// or https://, got \"%.200s\"",
                url ? url : "");
        return NULL;
    }
    pthread_once(&curl_once, curl_init_once);
    rpc_client_t *c = calloc(1, sizeof *c);
    if (!c || !(c->url = strdup(url))) {
        free(c);
        err_set(err, R3E_EINTERNAL, "out of memory");
        return NULL;
    }
    snprintf(c->label, sizeof c->label, "the node");
    c->timeout_ms = timeout_ms > 0 ? timeout_ms : 10000;
    c->retries = retries < 0 ? 0 : retries;
    pthread_mutex_init(&c->mu, NULL);
    atomic_init(&c->next_id, 1);
    c->headers = curl_slist_append(NULL, "Content-Type: application/json");
    c->headers = curl_slist_append(c->headers, "Accept: application/json");
    return c;
}

void rpc_client_free(rpc_client_t *c) {
    if (!c) return;
    for (size_t i = 0; i < c->nidle; i++)
        curl_easy_cleanup(c->idle[i]);
    curl_slist_free_all(c->headers);
    pthread_mutex_destroy(&c->mu);
    free(c->url);
    free(c);
}

void rpc_client_set_label(rpc_client_t *c, const char *label) {
    snprintf(c->label, sizeof c->label, "%s", label);
}

const char *rpc_client_url(const rpc_client_t *c) {
    return c->url;
}

static CURL *handle_get(rpc_client_t *c) {
    CURL *h = NULL;
    pthread_mutex_lock(&c->mu);
    if (c->nidle) h = c->idle[--c->nidle];
    pthread_mutex_unlock(&c->mu);
    return h ? h : curl_easy_init();
}

static void handle_put(rpc_client_t *c, CURL *h) {
    pthread_mutex_lock(&c->mu);
    if (c->nidle < RPC_POOL) {
        c->idle[c->nidle++] = h;
        h = NULL;
    }
    pthread_mutex_unlock(&c->mu);
    if (h) curl_easy_cleanup(h);
}

static size_t on_body(char *p, size_t sz, size_t n, void *ud) {
    buf_t *b = ud;
    if (b->len + sz * n > RPC_MAX_RESPONSE) return 0; /* aborts the transfer */
    buf_append(b, p, sz * n);
    return sz * n;
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

/* POSTs body and parses the JSON answer. Retries transport failures only. */
static json_t *post(rpc_client_t *c, const char *body, size_t len, int timeout_ms, err_t *err) {
    if (timeout_ms <= 0) timeout_ms = c->timeout_ms;
    /* the timeout bounds the whole call, retries included */
    uint64_t end = util_now_us() + (uint64_t)timeout_ms * 1000u;
    for (int attempt = 0;; attempt++) {
        uint64_t now = util_now_us();
        long left_ms = now < end ? (long)((end - now) / 1000) : 0;
        if (left_ms < 1) left_ms = 1;
        CURL *h = handle_get(c);
        if (!h) {
            err_set(err, R3E_EINTERNAL, "curl_easy_init failed");
            return NULL;
        }
        buf_t b = {0};
        char ebuf[CURL_ERROR_SIZE] = "";
        curl_easy_reset(h);
        curl_easy_setopt(h, CURLOPT_URL, c->url);
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, c->headers);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, left_ms);
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, left_ms < 5000 ? left_ms : 5000L);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, ebuf);
        curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
        CURLcode rc = curl_easy_perform(h);
        long status = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
        handle_put(c, h);
        json_t *j = NULL;
        if (rc == CURLE_OK && b.len > 0) {
            json_error_t je;
            j = json_loadb((const char *)b.data, b.len, 0, &je);
        }
        bool transport = rc != CURLE_OK || (!j && (status >= 500 || status == 429));
        if (j) {
            buf_free(&b);
            return j;
        }
        if (!transport) {
            /* the body is not NUL-terminated: print a bounded prefix */
            int shown = b.len < 120 ? (int)b.len : 120;
            err_set(err, R3E_EUPSTREAM, "%s answered HTTP %ld without JSON-RPC: %.*s", c->label,
                    status, b.len ? shown : 7, b.len ? (const char *)b.data : "(empty)");
            buf_free(&b);
            return NULL;
        }
        buf_free(&b);
        long backoff = 50L << (attempt < 4 ? attempt : 4);
        bool out_of_time = util_now_us() + (uint64_t)backoff * 1000u >= end;
        if (attempt >= c->retries || rc == CURLE_OPERATION_TIMEDOUT || out_of_time) {
            if (rc == CURLE_OPERATION_TIMEDOUT)
                err_set(err, R3E_ETIMEOUT, "%s did not answer within %d ms", c->label, timeout_ms);
            else if (rc != CURLE_OK) {
                /* curl's detail names host and port: operators' logs only */
                log_warn("%s (%s) unreachable: %s", c->label, c->url,
                         ebuf[0] ? ebuf : curl_easy_strerror(rc));
                err_set(err, R3E_EUNAVAIL, "%s unreachable: %s", c->label, curl_easy_strerror(rc));
            } else
                err_set(err, R3E_EUNAVAIL, "%s answered HTTP %ld", c->label, status);
            return NULL;
        }
        sleep_ms(backoff);
    }
}

static json_t *request_obj(rpc_client_t *c, const char *method, const json_t *params) {
    json_t *p = params ? json_deep_copy(params) : json_array();
    return json_pack("{s:s,s:I,s:s,s:o}", "jsonrpc", "2.0", "id",
                     (json_int_t)atomic_fetch_add(&c->next_id, 1), "method", method, "params", p);
}

/* Splits one response object into result or error. */
static json_t *take_result(rpc_client_t *c, json_t *resp, json_t **node_error, err_t *err) {
    if (!json_is_object(resp)) {
        err_set(err, R3E_EUPSTREAM, "%s sent a response that is not a JSON-RPC object", c->label);
        return NULL;
    }
    json_t *e = json_object_get(resp, "error");
    if (e && !json_is_null(e)) {
        const char *msg = json_string_value(json_object_get(e, "message"));
        if (node_error) *node_error = json_incref(e);
        json_t *data = json_object_get(e, "data");
        /* a textual detail belongs in the message; hex (revert data) stays in data */
        if (json_is_string(data) && strncmp(json_string_value(data), "0x", 2) != 0)
            err_set(err, R3E_EUPSTREAM, "%s: %s", msg ? msg : "node error",
                    json_string_value(data));
        else
            err_set(err, R3E_EUPSTREAM, "%s", msg ? msg : "node error");
        return NULL;
    }
    json_t *r = json_object_get(resp, "result");
    if (!r) {
        err_set(err, R3E_EUPSTREAM, "%s sent neither result nor error", c->label);
        return NULL;
    }
    return json_incref(r);
}

static json_t *call_ex(rpc_client_t *c, const char *method, const json_t *params, int timeout_ms,
                       json_t **node_error, err_t *err);

json_t *rpc_call_ex(rpc_client_t *c, const char *method, const json_t *params, int timeout_ms,
                    json_t **node_error, err_t *err) {
    uint64_t t0 = util_now_us();
    err_t local = {0};
    if (!err) err = &local;
    json_t *r = call_ex(c, method, params, timeout_ms, node_error, err);
    stats_record(c, t0, r != NULL, err);
    return r;
}

static json_t *call_ex(rpc_client_t *c, const char *method, const json_t *params, int timeout_ms,
                       json_t **node_error, err_t *err) {
    if (node_error) *node_error = NULL;
    if (params && !json_is_array(params)) {
        err_set(err, R3E_EINVAL, "JSON-RPC params must be an array");
        return NULL;
    }
    json_t *req = request_obj(c, method, params);
    char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    if (!body) {
        err_set(err, R3E_EINVAL, "could not encode the JSON-RPC request");
        return NULL;
    }
    json_t *resp = post(c, body, strlen(body), timeout_ms, err);
    free(body);
    if (!resp) return NULL;
    json_t *r = take_result(c, resp, node_error, err);
    json_decref(resp);
    return r;
}

json_t *rpc_call(rpc_client_t *c, const char *method, const json_t *params, long *node_code,
                 err_t *err) {
    json_t *ne = NULL;
    json_t *r = rpc_call_ex(c, method, params, 0, node_code ? &ne : NULL, err);
    if (node_code) *node_code = ne ? (long)json_integer_value(json_object_get(ne, "code")) : 0;
    json_decref(ne);
    return r;
}

json_t *rpc_batch(rpc_client_t *c, const json_t *calls, err_t *err) {
    return rpc_batch_ex(c, calls, 0, err);
}

static json_t *batch_ex(rpc_client_t *c, const json_t *calls, int timeout_ms, err_t *err);

json_t *rpc_batch_ex(rpc_client_t *c, const json_t *calls, int timeout_ms, err_t *err) {
    uint64_t t0 = util_now_us();
    err_t local = {0};
    if (!err) err = &local;
    json_t *r = batch_ex(c, calls, timeout_ms, err);
    stats_record(c, t0, r != NULL, err);
    return r;
}

static json_t *batch_ex(rpc_client_t *c, const json_t *calls, int timeout_ms, err_t *err) {
    size_t n = json_array_size(calls);
    if (!json_is_array(calls) || n == 0) {
        err_set(err, R3E_EINVAL, "a batch needs a non-empty array of calls");
        return NULL;
    }
    /* ids within one batch are its positions: the answer may come in any order */
    json_t *reqs = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *call = json_array_get(calls, i);
        const char *m = json_string_value(json_object_get(call, "method"));
        json_t *p = json_object_get(call, "params");
        if (!m || (p && !json_is_array(p))) {
            json_decref(reqs);
            err_set(err, R3E_EINVAL, "batch call %zu needs a string method and array params", i);
            return NULL;
        }
        json_array_append_new(reqs, json_pack("{s:s,s:I,s:s,s:o}", "jsonrpc", "2.0", "id",
                                              (json_int_t)i, "method", m, "params",
                                              p ? json_deep_copy(p) : json_array()));
    }
    char *body = json_dumps(reqs, JSON_COMPACT);
    json_decref(reqs);
    if (!body) {
        err_set(err, R3E_EINVAL, "could not encode the JSON-RPC batch");
        return NULL;
    }
    json_t *resp = post(c, body, strlen(body), timeout_ms, err);
    free(body);
    if (!resp) return NULL;
    if (!json_is_array(resp)) {
        /* a node without batch support answers one error object */
        json_t *r = take_result(c, resp, NULL, err);
        if (r) err_set(err, R3E_EUPSTREAM, "%s did not answer the batch as an array", c->label);
        json_decref(r);
        json_decref(resp);
        return NULL;
    }
    json_t *out = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(out, json_null());
    size_t k;
    json_t *r;
    json_array_foreach(resp, k, r) {
        json_t *idv = json_object_get(r, "id");
        if (!json_is_integer(idv)) continue;
        json_int_t id = json_integer_value(idv);
        if (id < 0 || (size_t)id >= n) continue;
        json_t *e = json_object_get(r, "error");
        json_t *res = json_object_get(r, "result");
        json_t *slot = e && !json_is_null(e)
                           ? json_pack("{s:O}", "error", e)
                           : json_pack("{s:O}", "result", res ? res : json_null());
        json_array_set_new(out, (size_t)id, slot);
    }
    json_decref(resp);
    for (size_t i = 0; i < n; i++) {
        if (json_is_null(json_array_get(out, i))) {
            json_decref(out);
            err_set(err, R3E_EUPSTREAM, "%s left batch call %zu unanswered", c->label, i);
            return NULL;
        }
    }
    return out;
}
