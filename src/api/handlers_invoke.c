/* Synchronous invocation: POST /v1/functions/{name}/invoke and the HTTP trigger
 * ANY /fn/{name}/…. Both run through inv_run(), which owns the execution record: it is
 * built once as JSON text (the function's result spliced in without re-parsing), stored,
 * and sent as the response body of /invoke. This is the hot path: no JSON round trip of
 * the result, one allocation for the record. */
#include "api/api.h"
#include "api/evsys.h"
#include "api/livehub.h"
#include "api/trigger.h"

#include "core/util.h"
#include "obs/log.h"
#include "obs/metrics.h"

#include <microhttpd.h>
#include <stdio.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>

/* Growable text buffer for the record; on allocation failure it latches `oom`. */
typedef struct {
    char *p;
    size_t len, cap;
    int oom;
} inv_buf_t;

static void ib_put(inv_buf_t *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 512;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

/* Sizes the buffer once for the whole record (the result dominates it). */
static void ib_reserve(inv_buf_t *b, size_t cap) {
    if (b->oom || cap <= b->cap) return;
    char *np = realloc(b->p, cap);
    if (!np) {
        b->oom = 1;
        return;
    }
    b->p = np;
    b->cap = cap;
}

static void ib_str(inv_buf_t *b, const char *s) {
    ib_put(b, s, strlen(s));
}

static void ib_json(inv_buf_t *b, json_t *v) {
    char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!t) {
        ib_str(b, "null");
        return;
    }
    ib_str(b, t);
    free(t);
}

typedef struct {
    runtime_result_t res;
    char exec_id[27];
    char started_at[40];
    uint64_t started_ms;
    uint32_t version;
    char *record; /* malloc'ed execution record JSON text */
    size_t record_len;
} inv_t;

int api_active_version(api_t *api, const char *name, store_version_t *v, err_t *err) {
    return api_active_version_in(api, API_NS, name, v, err);
}

int api_active_version_in(api_t *api, const char *ns, const char *name, store_version_t *v,
                          err_t *err) {
    if (!util_valid_name(name))
        return err_set(err, R3E_ENOTFOUND, "function \"%.64s\" not found", name);
    if (fncache_active(api->fns, api->store, ns, name, v, err) < 0) {
        if (err->code == R3E_ENOTFOUND)
            return err_set(err, R3E_ENOTFOUND, "function \"%s\" not found", name);
        return -1;
    }
    return 0;
}

/* Every identifier spliced here is from a restricted alphabet (names, ULIDs, checked
 * request ids, status words), so only error and logs need JSON encoding. */
static void inv_build_record(inv_t *iv, const char *name, const char *request_id) {
    runtime_result_t *res = &iv->res;
    inv_buf_t b = {0};
    ib_reserve(&b, res->result_len + 1024);
    char num[64];
    ib_str(&b, "{\"execution_id\":\"");
    ib_str(&b, iv->exec_id);
    ib_str(&b, "\",\"function\":\"");
    ib_str(&b, name);
    snprintf(num, sizeof num, "\",\"version\":%u,\"status\":\"", iv->version);
    ib_str(&b, num);
    ib_str(&b, res->status);
    ib_str(&b, "\",\"result\":");
    if (res->result_json && res->result_len)
        ib_put(&b, res->result_json, res->result_len);
    else
        ib_str(&b, "null");
    if (res->error) {
        ib_str(&b, ",\"error\":");
        ib_json(&b, res->error);
    }
    ib_str(&b, ",\"logs\":");
    if (res->logs)
        ib_json(&b, res->logs);
    else
        ib_str(&b, "[]");
    if (res->logs_truncated) ib_str(&b, ",\"logs_truncated\":true");
    snprintf(num, sizeof num, ",\"duration_us\":%llu,\"cold\":%s,\"started_at\":\"",
             (unsigned long long)res->duration_us, res->cold ? "true" : "false");
    ib_str(&b, num);
    ib_str(&b, iv->started_at);
    ib_str(&b, "\",\"request_id\":\"");
    ib_str(&b, request_id);
    ib_str(&b, "\"}");
    if (b.oom) {
        free(b.p);
        b.p = NULL;
        b.len = 0;
    }
    iv->record = b.p;
    iv->record_len = b.len;
}

/* Publishes the invocation's console lines to followers (only when someone follows). */
static void inv_publish_logs(api_t *api, const char *ns, const char *name, inv_t *iv) {
    if (!logbus_has_subscribers(api->bus, name) || !json_is_array(iv->res.logs)) return;
    char bus_key[132]; /* followers are per namespace: "ns/name" */
    snprintf(bus_key, sizeof bus_key, "%s/%s", ns, name);
    size_t i;
    json_t *entry;
    json_array_foreach(iv->res.logs, i, entry) {
        json_t *line = api_log_line(entry, iv->exec_id, name, iv->started_ms);
        char *text = json_dumps(line, JSON_COMPACT);
        json_decref(line);
        if (!text) continue;
        size_t n = strlen(text);
        text[n] = '\n'; /* replaces the NUL: the bus copies exactly n + 1 bytes */
        logbus_publish(api->bus, bus_key, text, n + 1);
        free(text);
    }
}

/* Runs function `name` on event and records the execution. Returns 0 when the function
 * ran (whatever its status; iv filled, release with inv_free), or -1 after sending the
 * error response (404, 429, 503, 500). */
static int inv_run(http_req_t *r, const char *name, const char *event, size_t event_len,
                   inv_t *iv) {
    api_t *api = r->api;
    memset(iv, 0, sizeof *iv);
    snprintf(r->function_buf, sizeof r->function_buf, "%s", name);
    r->function = r->function_buf;
    store_version_t v;
    err_t e;
    if (api_active_version_in(api, r->ns, name, &v, &e) < 0) {
        http_send_err(r, &e);
        return -1;
    }
    iv->version = v.version;
    util_ulid(iv->exec_id);
    iv->started_ms = util_wall_ms();
    util_rfc3339(iv->started_ms, iv->started_at, sizeof iv->started_at);
    runtime_request_t rq = {.version = &v,
                            .exec_id = iv->exec_id,
                            .request_id = r->request_id,
                            .event_json = event,
                            .event_len = event_len};
    api_conn_extend_timeout(r, (uint64_t)v.timeout_ms + (uint64_t)api->cfg.queue_timeout_ms);
    int rc = runtime_invoke(api->rt, &rq, &iv->res, &e);
    store_version_free(&v);
    if (rc < 0) {
        runtime_result_free(&iv->res);
        if (e.code == R3E_ELIMIT)
            http_send_error(r, R3E_ELIMIT, "function \"%s\" is at its concurrency limit", name);
        else
            http_send_err(r, &e);
        return -1;
    }
    memcpy(r->execution_id, iv->exec_id, sizeof r->execution_id); /* it ran: access log */
    metrics_invocation(name, iv->res.status, iv->res.duration_us);
    if (iv->res.cold) metrics_cold_start(name);
    inv_build_record(iv, name, r->request_id);
    if (!iv->record) {
        runtime_result_free(&iv->res);
        http_send_error(r, R3E_EINTERNAL, "out of memory building the execution record");
        return -1;
    }
    /* The id was minted above and never stored, so the write needs none of the read that
     * store_put_execution does to find an older record of the id (~4 us per request): the
     * record and its index entry go in one batch, exactly as durable as before. */
    store_exec_put_t rec = {
        .ns = r->ns, .function = name, .exec_id = iv->exec_id, .record_json = iv->record};
    if (store_meta_write_execs(api->store, NULL, 0, &rec, 1, &e) < 0)
        log_msg(LOG_ERROR,
                &(log_ctx_t){
                    .request_id = r->request_id, .function = name, .execution_id = iv->exec_id},
                "could not store the execution record: %s", e.msg);
    livehub_publish_execution(r->ns, iv->record, iv->record_len);
    inv_publish_logs(api, r->ns, name, iv);
    if (log_enabled(LOG_DEBUG))
        log_json(LOG_DEBUG,
                 &(log_ctx_t){
                     .request_id = r->request_id, .function = name, .execution_id = iv->exec_id},
                 json_pack("{s:s,s:I,s:b}", "status", iv->res.status, "duration_us",
                           (json_int_t)iv->res.duration_us, "cold", iv->res.cold),
                 "invocation finished");
    return 0;
}

static void inv_free(inv_t *iv) {
    runtime_result_free(&iv->res);
    free(iv->record);
    iv->record = NULL;
}

void api_h_invoke(http_req_t *r, const route_match_t *m) {
    if (!util_valid_name(m->params[0])) {
        http_send_error(r, R3E_EINVAL, "function name must match [a-z0-9][a-z0-9-]{0,62}");
        return;
    }
    if (api_invoke_is_async(r)) { /* ?async=1: queued, 202 (handlers_events.c) */
        api_h_invoke_async(r, m);
        return;
    }
    const char *event = "null";
    size_t event_len = 4;
    if (r->body_len) {
        /* validate only; the runtime gets the original text */
        int line, col;
        err_t e;
        json_t *v = http_json_parse(r->body, r->body_len, true, &line, &col, &e);
        if (!v) {
            http_send_error_ex(r, 400, err_code_name(R3E_EINVAL), e.msg,
                               json_pack("{s:i,s:i}", "line", line, "column", col));
            return;
        }
        json_decref(v);
        event = r->body;
        event_len = r->body_len;
    }
    inv_t iv;
    if (inv_run(r, m->params[0], event, event_len, &iv) < 0) return;
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(iv.record_len, iv.record, MHD_RESPMEM_MUST_FREE);
    if (resp) {
        iv.record = NULL; /* MHD frees it */
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
        MHD_add_response_header(resp, "X-R3E-Execution-Id", iv.exec_id);
        http_queue(r, 200, resp);
    }
    inv_free(&iv);
}

/* ---- HTTP trigger -------------------------------------------------------------------- */

typedef struct {
    trigger_kv_t *kv;
    size_t n, cap;
} trig_kvs_t;

static enum MHD_Result trig_collect(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value) {
    (void)kind;
    trig_kvs_t *c = cls;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        trigger_kv_t *nk = realloc(c->kv, cap * sizeof *nk);
        if (!nk) return MHD_NO;
        c->kv = nk;
        c->cap = cap;
    }
    c->kv[c->n++] = (trigger_kv_t){key, value};
    return MHD_YES;
}

static void trig_send_result(http_req_t *r, inv_t *iv) {
    trigger_resp_t tr;
    if (trigger_response(iv->res.result_json ? iv->res.result_json : "null",
                         iv->res.result_json ? iv->res.result_len : 4, &tr) < 0) {
        http_send_error(r, R3E_EINTERNAL, "out of memory");
        return;
    }
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(tr.body_len, tr.body ? tr.body : (char *)"",
                                        tr.body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        trigger_resp_free(&tr);
        http_send_error(r, R3E_EINTERNAL, "could not create the response");
        return;
    }
    tr.body = NULL; /* MHD owns it now */
    bool has_ctype = false;
    const char *k;
    json_t *v;
    json_object_foreach(tr.headers, k, v) {
        const char *s = json_string_value(v);
        if (!s || !trigger_header_allowed(k, s)) continue;
        if (strcasecmp(k, "content-type") == 0) has_ctype = true;
        MHD_add_response_header(resp, k, s);
    }
    if (!has_ctype && tr.content_type)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, tr.content_type);
    MHD_add_response_header(resp, "X-R3E-Execution-Id", iv->exec_id);
    http_queue(r, tr.status, resp);
    trigger_resp_free(&tr);
}

/* The function's trigger auth setting (public | key | jwt), checked before the event is
 * built. The version comes from the cache, so this costs no store read when warm. */
static bool trig_authorized(http_req_t *r, const char *name) {
    store_version_t v;
    err_t e;
    if (api_active_version_in(r->api, r->ns, name, &v, &e) < 0) {
        http_send_err(r, &e);
        return false;
    }
    char mode[8];
    snprintf(mode, sizeof mode, "%s", v.trigger_auth);
    store_version_free(&v);
    return api_authn_trigger(r, mode);
}

static void trig_run(http_req_t *r, const char *name, const char *rest);

void api_h_trigger(http_req_t *r, const route_match_t *m) {
    trig_run(r, m->params[0], m->rest);
}

/* ANY /ns/{ns}/fn/{name}/…: the HTTP trigger of a function outside "default". */
void api_h_trigger_ns(http_req_t *r, const route_match_t *m) {
    if (!util_valid_name(m->params[0])) {
        http_send_error(r, R3E_ENOTFOUND, "namespace \"%.64s\" not found", m->params[0]);
        return;
    }
    snprintf(r->ns, sizeof r->ns, "%s", m->params[0]);
    trig_run(r, m->params[1], m->rest);
}

static void trig_run(http_req_t *r, const char *name, const char *rest) {
    if (!trig_authorized(r, name)) return;
    trig_kvs_t q = {0}, h = {0};
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, trig_collect, &q);
    MHD_get_connection_values(r->conn, MHD_HEADER_KIND, trig_collect, &h);
    size_t event_len;
    char *event =
        trigger_event_json(r->method, rest, q.kv, q.n, h.kv, h.n, r->body, r->body_len, &event_len);
    free(q.kv);
    free(h.kv);
    if (!event) {
        http_send_error(r, R3E_EINTERNAL, "out of memory building the event");
        return;
    }
    inv_t iv;
    int rc = inv_run(r, name, event, event_len, &iv);
    free(event);
    if (rc < 0) return;
    if (strcmp(iv.res.status, "ok") == 0) {
        trig_send_result(r, &iv);
    } else {
        bool timeout = strcmp(iv.res.status, "timeout") == 0;
        const char *ename = json_string_value(json_object_get(iv.res.error, "name"));
        const char *emsg = json_string_value(json_object_get(iv.res.error, "message"));
        char text[1024];
        if (ename && emsg)
            snprintf(text, sizeof text, "%s: %s", ename, emsg);
        else
            snprintf(text, sizeof text, "%s", emsg ? emsg : iv.res.status);
        struct MHD_Response *resp = http_error_response(
            timeout ? "function_timeout" : "function_error", text,
            json_pack("{s:s,s:s}", "execution_id", iv.exec_id, "status", iv.res.status));
        if (resp) MHD_add_response_header(resp, "X-R3E-Execution-Id", iv.exec_id);
        http_queue(r, timeout ? 504 : 502, resp);
    }
    inv_free(&iv);
}
