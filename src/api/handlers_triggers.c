/* Trigger and dead-letter routes: POST/GET /v1/triggers, GET/DELETE /v1/triggers/{id},
 * POST /v1/triggers/{id}/enable|disable, GET /v1/dlq, POST /v1/dlq/{id}/replay,
 * DELETE /v1/dlq/{id}. Triggers are stored as meta records (kind "trigger", key
 * ns "/" id... keyed by id alone: ids are ULIDs, and the record carries its ns) and loaded
 * into the live table (evsys) at creation and at start-up. */
#include "api/evsys.h"
#include "api/secrets.h"
#include "api/webhook_secret.h"

#include "chain/eth/eth_source.h"
#include "chain/neo/neo_source.h"
#include "core/util.h"
#include "events/cron.h"
#include "events/pattern.h"
#include "obs/log.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool tr_ready(http_req_t *r) {
    if (r->api->ev) return true;
    http_send_error(r, R3E_EUNAVAIL, "the event system is not running");
    return false;
}

static const char *tr_s(const json_t *o, const char *k) {
    return json_string_value(json_object_get(o, k));
}

/* Checks a destination {"function":name} | {"url":"http(s)://…"}. */
static int tr_check_dest(api_t *api, const char *ns, const char *what, const json_t *d,
                         err_t *err) {
    if (!d) return 0;
    if (!json_is_object(d))
        return err_set(err, R3E_EINVAL, "%s must be {\"function\":name} or {\"url\":…}", what);
    const char *fn = tr_s(d, "function"), *url = tr_s(d, "url");
    if (fn) {
        store_version_t v;
        if (api_active_version_in(api, ns, fn, &v, err) < 0) return -1;
        store_version_free(&v);
        return 0;
    }
    if (url && (strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0)) return 0;
    return err_set(err, R3E_EINVAL, "%s must be {\"function\":name} or {\"url\":\"http(s)://…\"}",
                   what);
}

static int tr_validate(api_t *api, const char *ns, json_t *in, err_t *err) {
    static const char *known[] = {"function",   "source",     "filter",  "mode",       "retry",
                                  "on_success", "on_failure", "enabled", "description"};
    const char *k;
    json_t *v;
    json_object_foreach(in, k, v) {
        bool ok = false;
        for (size_t i = 0; i < sizeof known / sizeof *known; i++)
            ok = ok || strcmp(k, known[i]) == 0;
        if (!ok) return err_set(err, R3E_EINVAL, "unknown field \"%.40s\"", k);
    }
    const char *fn = tr_s(in, "function");
    if (!fn) return err_set(err, R3E_EINVAL, "\"function\" (a function name) is required");
    json_t *src = json_object_get(in, "source");
    const char *type = tr_s(src, "type");
    if (!type)
        return err_set(err, R3E_EINVAL,
                       "\"source.type\" is required: \"custom\", \"schedule\", \"webhook\", "
                       "\"neo\" or \"eth\"");
    if (strcmp(type, "schedule") == 0) {
        cron_t *c = NULL;
        if (!tr_s(src, "cron"))
            return err_set(err, R3E_EINVAL, "source.cron is required for a schedule");
        if (cron_parse(tr_s(src, "cron"), tr_s(src, "tz"), &c, err) < 0) {
            char m[sizeof err->msg];
            snprintf(m, sizeof m, "%s", err->msg);
            return err_set(err, R3E_EINVAL, "source.cron: %s", m);
        }
        cron_free(c);
        const char *missed = tr_s(src, "missed");
        if (missed && strcmp(missed, "skip") != 0 && strcmp(missed, "catch_up") != 0)
            return err_set(err, R3E_EINVAL, "source.missed must be \"skip\" or \"catch_up\"");
    } else if (strcmp(type, "webhook") == 0) {
        json_t *sec = json_object_get(src, "secret");
        if (sec && (!json_is_string(sec) || !*json_string_value(sec)))
            return err_set(err, R3E_EINVAL, "source.secret must be a non-empty string");
    } else if (strcmp(type, "neo") == 0) {
        if (neo_source_check_trigger(api, src, err) < 0) return -1;
    } else if (strcmp(type, "eth") == 0) {
        if (eth_source_check(api->chains, src, err) < 0) return -1;
    } else if (strcmp(type, "custom") != 0) {
        return err_set(err, R3E_EINVAL,
                       "source.type \"%.20s\" is not one of \"custom\", \"schedule\", \"webhook\", "
                       "\"neo\", \"eth\"",
                       type);
    }
    json_t *filter = json_object_get(in, "filter");
    if (filter) {
        pattern_t *p = NULL;
        if (pattern_compile(filter, &p, err) < 0) return -1;
        pattern_free(p);
    }
    const char *mode = tr_s(in, "mode");
    if (json_object_get(in, "mode") &&
        (!mode || (strcmp(mode, "parallel") != 0 && strcmp(mode, "sequential") != 0)))
        return err_set(err, R3E_EINVAL, "mode must be \"parallel\" or \"sequential\"");
    json_t *retry = json_object_get(in, "retry");
    if (retry) {
        if (!json_is_object(retry)) return err_set(err, R3E_EINVAL, "retry must be an object");
        json_object_foreach(retry, k, v) {
            if (strcmp(k, "max_attempts") != 0 && strcmp(k, "backoff_ms") != 0 &&
                strcmp(k, "max_event_age_s") != 0)
                return err_set(err, R3E_EINVAL, "retry.%.40s is not a retry setting", k);
            if (!json_is_integer(v) || json_integer_value(v) < 1 ||
                json_integer_value(v) > 100000000)
                return err_set(err, R3E_EINVAL, "retry.%s must be a positive integer", k);
        }
        json_t *ma = json_object_get(retry, "max_attempts");
        if (ma && json_integer_value(ma) > 100)
            return err_set(err, R3E_EINVAL, "retry.max_attempts must be at most 100");
    }
    if (tr_check_dest(api, ns, "on_success", json_object_get(in, "on_success"), err) < 0 ||
        tr_check_dest(api, ns, "on_failure", json_object_get(in, "on_failure"), err) < 0)
        return -1;
    store_version_t ver;
    if (api_active_version_in(api, ns, fn, &ver, err) < 0) return -1;
    store_version_free(&ver);
    return 0;
}

/* The public view: the secret is never returned (only whether there is one). Stored records
 * carry has_secret already; the stripping is for a legacy record the vault could not seal. */
static json_t *tr_public(json_t *rec) {
    json_t *o = json_deep_copy(rec);
    json_t *src = json_object_get(o, "source");
    if (json_object_get(src, "secret")) {
        json_object_del(src, "secret");
        json_object_set_new(src, "has_secret", json_true());
    }
    const char *type = tr_s(src, "type");
    if (type && strcmp(type, "webhook") == 0) {
        char url[80];
        snprintf(url, sizeof url, "/hooks/%s", tr_s(o, "id"));
        json_object_set_new(o, "webhook_url", json_string(url));
    }
    return o;
}

/* Reads a trigger of r's namespace; sends 404 and returns NULL otherwise. */
static json_t *tr_load(http_req_t *r, const char *id_in) {
    char id[27] = "";
    for (size_t i = 0; i < 26 && id_in[i]; i++)
        id[i] = (char)toupper((unsigned char)id_in[i]);
    char *val = NULL;
    size_t len;
    err_t e;
    json_t *rec = NULL;
    if (strlen(id_in) == 26 && store_meta_get(r->api->store, "trigger", id, &val, &len, &e) == 0) {
        rec = json_loads(val, 0, NULL);
        free(val);
    }
    if (rec && strcmp(tr_s(rec, "ns") ? tr_s(rec, "ns") : "", r->ns) != 0) {
        json_decref(rec);
        rec = NULL;
    }
    if (!rec) http_send_error(r, R3E_ENOTFOUND, "trigger \"%.40s\" not found", id_in);
    return rec;
}

void api_h_triggers_create(http_req_t *r, const route_match_t *m) {
    (void)m;
    if (!tr_ready(r)) return;
    json_t *in = http_require_json_object(r);
    if (!in) return;
    err_t e;
    if (tr_validate(r->api, r->ns, in, &e) < 0) {
        json_decref(in);
        http_send_err(r, &e);
        return;
    }
    char id[27], ts[40];
    util_ulid(id);
    util_rfc3339(util_wall_ms(), ts, sizeof ts);
    json_object_set_new(in, "id", json_string(id));
    json_object_set_new(in, "ns", json_string(r->ns));
    json_object_set_new(in, "created_at", json_string(ts));
    if (!json_object_get(in, "mode")) json_object_set_new(in, "mode", json_string("parallel"));
    if (!json_is_boolean(json_object_get(in, "enabled")))
        json_object_set_new(in, "enabled", json_true());
    /* a webhook secret goes to the vault first; the record only says has_secret */
    if (webhook_secret_seal(api_secrets_vault(), in, &e) < 0) {
        json_decref(in);
        http_send_err(r, &e);
        return;
    }
    char *text = json_dumps(in, JSON_COMPACT);
    if (!text || store_meta_put(r->api->store, "trigger", id, text, strlen(text), &e) < 0 ||
        evsys_trig_load(r->api->ev, in, &e) < 0) {
        if (!text) err_set(&e, R3E_EINTERNAL, "out of memory");
        free(text);
        err_t de;
        store_meta_delete(r->api->store, "trigger", id, &de);
        webhook_secret_delete(api_secrets_vault(), id, &de);
        json_decref(in);
        http_send_err(r, &e);
        return;
    }
    free(text);
    http_send_json(r, 201, tr_public(in));
    json_decref(in);
}

void api_h_triggers_list(http_req_t *r, const route_match_t *m) {
    (void)m;
    json_t *arr = json_array();
    char *after = NULL;
    err_t e;
    for (;;) {
        char **keys = NULL, **vals = NULL;
        size_t n = 0;
        if (store_meta_list(r->api->store, "trigger", after, 500, &keys, &vals, &n, &e) < 0) {
            free(after);
            json_decref(arr);
            http_send_err(r, &e);
            return;
        }
        const char *fn = http_query(r, "function");
        for (size_t i = 0; i < n; i++) {
            json_t *rec = json_loads(vals[i], 0, NULL);
            if (rec && strcmp(tr_s(rec, "ns") ? tr_s(rec, "ns") : "", r->ns) == 0 &&
                (!fn || strcmp(fn, tr_s(rec, "function") ? tr_s(rec, "function") : "") == 0))
                json_array_append_new(arr, tr_public(rec));
            json_decref(rec);
        }
        free(after);
        after = n ? strdup(keys[n - 1]) : NULL;
        store_strv_free(keys, n);
        store_strv_free(vals, n);
        if (n < 500) break;
    }
    free(after);
    http_send_json(r, 200, json_pack("{s:o}", "triggers", arr));
}

void api_h_triggers_get(http_req_t *r, const route_match_t *m) {
    json_t *rec = tr_load(r, m->params[0]);
    if (!rec) return;
    http_send_json(r, 200, tr_public(rec));
    json_decref(rec);
}

void api_h_triggers_delete(http_req_t *r, const route_match_t *m) {
    if (!tr_ready(r)) return;
    json_t *rec = tr_load(r, m->params[0]);
    if (!rec) return;
    const char *id = tr_s(rec, "id");
    err_t e;
    evsys_trig_unload(r->api->ev, id);
    if (store_meta_delete(r->api->store, "trigger", id, &e) < 0) {
        json_decref(rec);
        http_send_err(r, &e);
        return;
    }
    if (webhook_secret_delete(api_secrets_vault(), id, &e) < 0)
        log_warn("trigger %s: its webhook secret was not deleted: %s", id, e.msg);
    store_meta_delete(r->api->store, "trigfire", id, &e);
    store_meta_delete(r->api->store, NEO_SOURCE_CURSOR_KIND, id, &e);
    eth_source_forget(r->api->store, id);
    http_send_json(r, 200, json_pack("{s:s,s:b}", "id", id, "deleted", 1));
    json_decref(rec);
}

static void tr_set_enabled(http_req_t *r, const route_match_t *m, bool on) {
    if (!tr_ready(r)) return;
    json_t *rec = tr_load(r, m->params[0]);
    if (!rec) return;
    json_object_set_new(rec, "enabled", json_boolean(on));
    char *text = json_dumps(rec, JSON_COMPACT);
    err_t e;
    if (!text ||
        store_meta_put(r->api->store, "trigger", tr_s(rec, "id"), text, strlen(text), &e) < 0 ||
        evsys_trig_load(r->api->ev, rec, &e) < 0) {
        if (!text) err_set(&e, R3E_EINTERNAL, "out of memory");
        free(text);
        json_decref(rec);
        http_send_err(r, &e);
        return;
    }
    free(text);
    http_send_json(r, 200, tr_public(rec));
    json_decref(rec);
}

void api_h_triggers_enable(http_req_t *r, const route_match_t *m) {
    tr_set_enabled(r, m, true);
}

void api_h_triggers_disable(http_req_t *r, const route_match_t *m) {
    tr_set_enabled(r, m, false);
}

/* ---- dead letters -------------------------------------------------------------------- */

static json_t *tr_job_json(const queue_job_t *j) {
    json_t *o = json_pack("{s:s,s:s,s:I,s:s}", "id", j->id, "function", j->function, "attempts",
                          (json_int_t)j->attempt, "state", queue_state_name(j->state));
    if (j->trigger_id[0]) json_object_set_new(o, "trigger_id", json_string(j->trigger_id));
    if (j->event_id[0]) json_object_set_new(o, "event_id", json_string(j->event_id));
    if (j->last_error) json_object_set_new(o, "last_error", json_string(j->last_error));
    if (j->dead_ms) {
        char ts[40];
        util_rfc3339(j->dead_ms, ts, sizeof ts);
        json_object_set_new(o, "dead_at", json_string(ts));
    }
    /* A delivery job (a callback or url-destination POST) is not an execution of its own: it
     * belongs to execution parent_id, and its url is what an operator needs to see. */
    if (j->url) {
        json_object_set_new(o, "delivery", json_string(j->delivery[0] ? j->delivery : "callback"));
        json_object_set_new(o, "url", json_string(j->url));
        json_object_set_new(o, "parent_id", json_string(j->parent_id));
    }
    json_object_set_new(o, "execution_id", json_string(j->url ? j->parent_id : j->id));
    json_t *p = j->payload ? json_loads(j->payload, JSON_DECODE_ANY, NULL) : NULL;
    json_object_set_new(o, "payload", p ? p : json_null());
    return o;
}

void api_h_dlq_list(http_req_t *r, const route_match_t *m) {
    (void)m;
    if (!tr_ready(r)) return;
    long limit;
    err_t e;
    if (http_query_int(http_query(r, "limit"), 1, 1000, 100, &limit, &e) < 0) {
        http_send_err(r, &e);
        return;
    }
    queue_job_t *jobs = NULL;
    size_t n = 0;
    if (queue_dlq_list(evsys_queue(r->api), r->ns, http_query(r, "after"), (size_t)limit, &jobs, &n,
                       &e) < 0) {
        http_send_err(r, &e);
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, tr_job_json(&jobs[i]));
    queue_jobs_free(jobs, n);
    http_send_json(r, 200, json_pack("{s:o}", "dead_letters", arr));
}

static void tr_upper(const char *in, char out[27]) {
    memset(out, 0, 27);
    for (size_t i = 0; i < 26 && in[i]; i++)
        out[i] = (char)toupper((unsigned char)in[i]);
}

void api_h_dlq_replay(http_req_t *r, const route_match_t *m) {
    if (!tr_ready(r)) return;
    char id[27];
    tr_upper(m->params[0], id);
    queue_job_t job;
    err_t e;
    if (queue_dlq_get(evsys_queue(r->api), r->ns, id, &job, &e) < 0) {
        http_send_err(r, &e);
        return;
    }
    job.attempt = 0;
    /* before the replay: a dispatcher may claim it at once. A delivery job has no record of
     * its own (its state lives in its parent execution's record). */
    if (!job.url) evsys_record_queued(r->api, &job);
    char exec_id[27];
    snprintf(exec_id, sizeof exec_id, "%s", job.url ? job.parent_id : id);
    queue_job_free(&job);
    if (queue_dlq_replay(evsys_queue(r->api), r->ns, id, &e) < 0) {
        http_send_err(r, &e);
        return;
    }
    http_send_json(r, 202, json_pack("{s:s,s:s}", "id", id, "execution_id", exec_id));
}

void api_h_dlq_delete(http_req_t *r, const route_match_t *m) {
    if (!tr_ready(r)) return;
    char id[27];
    tr_upper(m->params[0], id);
    err_t e;
    if (queue_dlq_delete(evsys_queue(r->api), r->ns, id, &e) < 0) {
        http_send_err(r, &e);
        return;
    }
    http_send_json(r, 200, json_pack("{s:s,s:b}", "id", id, "deleted", 1));
}
