/* Event routes: POST /v1/events (custom source: CloudEvents in structured, batched and
 * binary mode), GET /v1/events[/{id}], webhooks ANY /hooks/{id}, and async invocation
 * POST /v1/functions/{name}/invoke?async=1. Every accepted event or job is durable (one
 * atomic store write through src/queue) before the 202 goes out. */
#include "api/evsys.h"
#include "api/secrets.h"
#include "api/webhook_secret.h"

#include "core/util.h"
#include "events/cloudevent.h"
#include "obs/log.h"

#include <ctype.h>
#include <microhttpd.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct {
    ce_header_t *h;
    size_t n, cap;
} ev_hdrs_t;

static enum MHD_Result ev_collect(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value) {
    (void)kind;
    ev_hdrs_t *c = cls;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        ce_header_t *nh = realloc(c->h, cap * sizeof *nh);
        if (!nh) return MHD_NO;
        c->h = nh;
        c->cap = cap;
    }
    c->h[c->n++] = (ce_header_t){key, value ? value : ""};
    return MHD_YES;
}

static bool ev_ready(http_req_t *r) {
    if (r->api->ev) return true;
    http_send_error(r, R3E_EUNAVAIL, "the event system is not running");
    return false;
}

void api_h_events_publish(http_req_t *r, const route_match_t *m) {
    (void)m;
    if (!ev_ready(r)) return;
    ev_hdrs_t hs = {0};
    MHD_get_connection_values(r->conn, MHD_HEADER_KIND, ev_collect, &hs);
    ce_batch_t b = {0};
    err_t e;
    int rc = ce_parse_http(hs.h, hs.n, r->body ? r->body : "", r->body_len, &b, &e);
    const char *ct = http_header(r, "Content-Type");
    bool batched = ct && strncasecmp(ct, "application/cloudevents-batch+json", 34) == 0;
    free(hs.h);
    if (rc < 0) {
        http_send_err(r, &e);
        return;
    }
    size_t n = json_array_size(b.events);
    json_t **evs = calloc(n ? n : 1, sizeof *evs);
    evsys_ingest_result_t *res = calloc(n ? n : 1, sizeof *res);
    int status = 202;
    if (!evs || !res) {
        free(evs);
        free(res);
        ce_batch_free(&b);
        http_send_error(r, R3E_EINTERNAL, "out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++)
        evs[i] = json_array_get(b.events, i);
    if (evsys_ingest_many(r->api->ev, r->ns, evs, n, NULL, res, &e) < 0) {
        free(evs);
        free(res);
        ce_batch_free(&b);
        http_send_err(r, &e);
        return;
    }
    json_t *results = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_pack("{s:s,s:s,s:s,s:b}", "id", res[i].event_id, "ce_id",
                              json_string_value(json_object_get(evs[i], "id")), "source",
                              json_string_value(json_object_get(evs[i], "source")), "duplicate",
                              res[i].duplicate);
        if (!res[i].duplicate)
            json_object_set_new(o, "jobs", json_integer((json_int_t)res[i].jobs));
        json_array_append_new(results, o);
    }
    free(evs);
    free(res);
    ce_batch_free(&b);
    if (batched) {
        http_send_json(r, 202, json_pack("{s:o}", "events", results));
        return;
    }
    json_t *one = json_incref(json_array_get(results, 0));
    json_decref(results);
    if (!one) {
        http_send_error(r, R3E_EINVAL, "no event in the request");
        return;
    }
    if (json_is_true(json_object_get(one, "duplicate"))) status = 200;
    http_send_json(r, status, one);
}

void api_h_events_list(http_req_t *r, const route_match_t *m) {
    (void)m;
    long limit, since;
    err_t e;
    if (http_query_int(http_query(r, "limit"), 1, 1000, 100, &limit, &e) < 0 ||
        http_query_int(http_query(r, "since"), 0, 1L << 62, 0, &since, &e) < 0) {
        http_send_err(r, &e);
        return;
    }
    eventlog_filter_t f = {.source = http_query(r, "source"),
                           .type = http_query(r, "type"),
                           .since_ms = (uint64_t)since,
                           .before = http_query(r, "before"),
                           .limit = (size_t)limit};
    char **recs = NULL;
    size_t n = 0;
    char next[EVENTLOG_ID_LEN + 1] = "";
    if (eventlog_list(r->api->store, r->ns, &f, &recs, &n, next, &e) < 0) {
        http_send_err(r, &e);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_loads(recs[i], 0, NULL);
        if (o) json_array_append_new(arr, o);
    }
    store_strv_free(recs, n);
    json_t *out = json_pack("{s:o}", "events", arr);
    if (next[0]) json_object_set_new(out, "next", json_string(next));
    http_send_json(r, 200, out);
}

void api_h_events_get(http_req_t *r, const route_match_t *m) {
    char id[27] = "";
    for (size_t i = 0; i < 26 && m->params[0][i]; i++)
        id[i] = (char)toupper((unsigned char)m->params[0][i]);
    char *rec = NULL;
    err_t e;
    if (eventlog_get(r->api->store, r->ns, id, &rec, &e) < 0) {
        if (e.code == R3E_ENOTFOUND)
            http_send_error(r, R3E_ENOTFOUND, "event \"%.40s\" not found", m->params[0]);
        else
            http_send_err(r, &e);
        return;
    }
    http_send_owned(r, 200, NULL, rec, strlen(rec));
}

/* ---- webhooks ------------------------------------------------------------------------ */

/* GitHub's X-Hub-Signature-256: "sha256=" + hex HMAC-SHA256(secret, raw body). */
static bool ev_hmac_ok(const char *secret, const char *body, size_t len, const char *sig) {
    if (!sig || strncmp(sig, "sha256=", 7) != 0 || strlen(sig) != 7 + 64) return false;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mlen = 0;
    if (!HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)(body ? body : ""),
              len, mac, &mlen) ||
        mlen != 32)
        return false;
    uint8_t given[32];
    char lower[65];
    for (int i = 0; i < 64; i++)
        lower[i] = (char)tolower((unsigned char)sig[7 + i]);
    lower[64] = '\0';
    if (util_hex_decode(lower, 64, given, sizeof given) != 32) return false;
    return CRYPTO_memcmp(given, mac, 32) == 0;
}

/* Verifies X-Hub-Signature-256 when the trigger has a secret: sealed in the vault (read
 * and wiped per delivery), or a legacy plain-text one the vault could not take. Fails
 * closed: a sealed secret that cannot be read is 503, never an unsigned delivery. false
 * after queueing the error. */
static bool ev_hook_signature_ok(http_req_t *r, const evsys_trig_t *t) {
    char *sealed = NULL;
    const char *secret = t->secret && *t->secret ? t->secret : NULL;
    if (!secret && t->secret_sealed) {
        err_t e;
        if (webhook_secret_get(api_secrets_vault(), t->id, &sealed, NULL, &e) < 0) {
            log_error("webhook %s: cannot read its secret: %s", t->id, e.msg);
            http_send_error(r, R3E_EUNAVAIL, "this webhook's secret cannot be read right now");
            return false;
        }
        secret = sealed;
    }
    if (!secret) return true;
    const char *sig = http_header(r, "X-Hub-Signature-256");
    bool ok = sig && ev_hmac_ok(secret, r->body, r->body_len, sig);
    vault_plaintext_free(sealed);
    if (!ok)
        http_send_error(r, R3E_EUNAUTH, "%s",
                        sig ? "X-Hub-Signature-256 does not match the body"
                            : "missing X-Hub-Signature-256 (sha256=HMAC of the body)");
    return ok;
}

void api_h_hook(http_req_t *r, const route_match_t *m) {
    if (!ev_ready(r)) return;
    evsys_trig_t t;
    err_t e;
    if (evsys_trig_get(r->api->ev, m->params[0], &t, &e) < 0) {
        http_send_error(r, R3E_ENOTFOUND, "webhook \"%.40s\" not found", m->params[0]);
        return;
    }
    if (strcmp(t.source_type, "webhook") != 0) {
        evsys_trig_free(&t);
        http_send_error(r, R3E_ENOTFOUND, "webhook \"%.40s\" not found", m->params[0]);
        return;
    }
    if (!ev_hook_signature_ok(r, &t)) {
        evsys_trig_free(&t);
        return;
    }
    snprintf(r->ns, sizeof r->ns, "%s", t.ns);
    char ceid[27], src[80];
    util_ulid(ceid);
    snprintf(src, sizeof src, "r3e://hooks/%s", t.id);
    json_t *data = NULL;
    if (r->body_len) data = json_loadb(r->body, r->body_len, JSON_DECODE_ANY, NULL);
    if (!data && r->body_len) data = json_stringn_nocheck(r->body, r->body_len);
    const char *delivery = http_header(r, "X-GitHub-Delivery");
    json_t *ev = json_pack("{s:s,s:s,s:s,s:s,s:o}", "specversion", "1.0", "id",
                           delivery && *delivery && strlen(delivery) < 128 ? delivery : ceid,
                           "source", src, "type", "r3e.webhook", "data", data ? data : json_null());
    json_object_set_new(ev, "method", json_string(r->method));
    err_t ne;
    if (ce_normalize(ev, &ne) < 0) {
        json_decref(ev);
        evsys_trig_free(&t);
        http_send_err(r, &ne);
        return;
    }
    char eid[27];
    bool dup = false;
    size_t njobs = 0;
    int rc = evsys_ingest(r->api->ev, t.ns, ev, &t, eid, &dup, &njobs, &e);
    json_decref(ev);
    evsys_trig_free(&t);
    if (rc < 0) {
        http_send_err(r, &e);
        return;
    }
    http_send_json(r, dup ? 200 : 202, json_pack("{s:s,s:b}", "event_id", eid, "duplicate", dup));
}

/* ---- async invocation ---------------------------------------------------------------- */

bool api_invoke_is_async(http_req_t *r) {
    const char *a = http_query(r, "async");
    return a && (strcmp(a, "1") == 0 || strcmp(a, "true") == 0);
}

static void ev_send_accepted(http_req_t *r, const char *exec_id, bool repeated) {
    json_t *o = json_pack("{s:s,s:s}", "execution_id", exec_id, "status_url", "");
    char url[80];
    snprintf(url, sizeof url, "/v1/executions/%s", exec_id);
    json_object_set_new(o, "status_url", json_string(url));
    if (repeated) json_object_set_new(o, "idempotent_replay", json_true());
    struct MHD_Response *resp = NULL;
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (text) resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(text);
        http_send_error(r, R3E_EINTERNAL, "out of memory");
        return;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    MHD_add_response_header(resp, "X-R3E-Execution-Id", exec_id);
    memcpy(r->execution_id, exec_id, 27);
    http_queue(r, 202, resp);
}

void api_h_invoke_async(http_req_t *r, const route_match_t *m) {
    if (!ev_ready(r)) return;
    const char *name = m->params[0];
    if (r->body_len) {
        int line, col;
        err_t pe;
        json_t *v = http_json_parse(r->body, r->body_len, true, &line, &col, &pe);
        if (!v) {
            http_send_error_ex(r, 400, err_code_name(R3E_EINVAL), pe.msg,
                               json_pack("{s:i,s:i}", "line", line, "column", col));
            return;
        }
        json_decref(v);
    }
    store_version_t v;
    err_t e;
    if (api_active_version_in(r->api, r->ns, name, &v, &e) < 0) {
        http_send_err(r, &e);
        return;
    }
    store_version_free(&v);
    snprintf(r->function_buf, sizeof r->function_buf, "%s", name);
    r->function = r->function_buf;
    const char *cb = http_header(r, "X-Callback-Url");
    if (cb && strncmp(cb, "http://", 7) != 0 && strncmp(cb, "https://", 8) != 0) {
        http_send_error(r, R3E_EINVAL, "X-Callback-Url must be an http(s) URL");
        return;
    }
    queue_t *q = evsys_queue(r->api);
    queue_job_t job = {0};
    util_ulid(job.id);
    const char *key = http_header(r, "Idempotency-Key");
    if (key) {
        if (!*key || strlen(key) > 255) {
            http_send_error(r, R3E_EINVAL, "Idempotency-Key must be 1..255 characters");
            return;
        }
        char existing[129];
        int rc = queue_idem_put(q, r->ns, key, job.id, 0, existing, &e);
        if (rc < 0) {
            http_send_err(r, &e);
            return;
        }
        if (rc == 1) {
            ev_send_accepted(r, existing, true);
            return;
        }
        job.idempotency_key = (char *)key;
    }
    snprintf(job.ns, sizeof job.ns, "%s", r->ns);
    snprintf(job.function, sizeof job.function, "%s", name);
    job.payload = r->body_len ? r->body : (char *)"null";
    job.callback_url = (char *)cb;
    /* the job and its "queued" record in one write: a dispatcher's "running" comes after */
    if (evsys_enqueue_async(r->api, &job, &e) < 0) {
        http_send_err(r, &e);
        return;
    }
    ev_send_accepted(r, job.id, false);
}
