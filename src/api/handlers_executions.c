/* Execution records and logs: GET /v1/executions/{id}, GET …/{name}/executions,
 * GET …/{name}/logs (NDJSON, ?follow=1 streams from the log bus). Records are stored as
 * JSON text and returned as stored (spliced, not re-encoded). */
#include "api/api.h"

#include "core/util.h"
#include "obs/log.h"

#include <ctype.h>
#include <microhttpd.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LOGS_FOLLOW_KEEPALIVE_MS 5000
#define LOGS_FOLLOW_QUEUE 1024
#define LOGS_FOLLOW_POLL_MS 1000
/* records per store read when collecting log history: records carry results of up to
 * 6 MiB, so pages stay small */
#define LOGS_PAGE 16

static bool exec_id_ok(const char *id) {
    size_t n = strlen(id);
    if (n != 26) return false;
    for (size_t i = 0; i < n; i++)
        if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'A' && id[i] <= 'Z'))) return false;
    return true;
}

void api_h_get_execution(http_req_t *r, const route_match_t *m) {
    char id[27] = ""; /* ULIDs are case-insensitive; stored upper-case */
    for (size_t i = 0; i < sizeof id - 1 && m->params[0][i]; i++)
        id[i] = (char)toupper((unsigned char)m->params[0][i]);
    if (strlen(m->params[0]) != 26) id[0] = '\0';
    char *rec = NULL;
    err_t e;
    if (!exec_id_ok(id)) {
        http_send_error(r, R3E_EINVAL, "execution ids are 26-character ULIDs");
        return;
    }
    if (store_get_execution(r->api->store, r->ns, id, &rec, &e) < 0) {
        if (e.code == R3E_ENOTFOUND)
            http_send_error(r, R3E_ENOTFOUND, "execution \"%.40s\" not found", id);
        else
            http_send_err(r, &e);
        return;
    }
    http_send_owned(r, 200, NULL, rec, strlen(rec));
}

/* Function must exist, or have left execution records behind (they outlive deletes). */
static int exec_fn_known(http_req_t *r, const char *name, size_t nrecords) {
    store_function_t f;
    err_t e;
    if (!util_valid_name(name)) {
        http_send_error(r, R3E_EINVAL, "function name must match [a-z0-9][a-z0-9-]{0,62}");
        return -1;
    }
    if (nrecords) return 0;
    if (store_get_function(r->api->store, r->ns, name, &f, &e) < 0) {
        if (e.code == R3E_ENOTFOUND)
            http_send_error(r, R3E_ENOTFOUND, "function \"%s\" not found", name);
        else
            http_send_err(r, &e);
        return -1;
    }
    return 0;
}

void api_h_list_executions(http_req_t *r, const route_match_t *m) {
    const char *name = m->params[0];
    long limit;
    err_t e;
    if (http_query_int(http_query(r, "limit"), 1, 1000, 50, &limit, &e) < 0) {
        http_send_error(r, R3E_EINVAL, "limit: %s", e.msg);
        return;
    }
    const char *before = http_query(r, "before");
    if (before && !exec_id_ok(before)) {
        http_send_error(r, R3E_EINVAL, "before must be an execution id");
        return;
    }
    if (!util_valid_name(name)) {
        exec_fn_known(r, name, 0);
        return;
    }
    char **recs = NULL;
    size_t n = 0;
    /* one extra tells whether there is a next page */
    if (store_list_executions(r->api->store, r->ns, name, before, (size_t)limit + 1, &recs, &n,
                              &e) < 0) {
        http_send_err(r, &e);
        return;
    }
    if (exec_fn_known(r, name, n) < 0) {
        store_strv_free(recs, n);
        return;
    }
    size_t shown = n > (size_t)limit ? (size_t)limit : n;
    size_t total = 64;
    for (size_t i = 0; i < shown; i++)
        total += strlen(recs[i]) + 1;
    char next[32] = "";
    if (n > shown) {
        json_t *last = json_loads(recs[shown - 1], JSON_ALLOW_NUL, NULL);
        const char *id = json_string_value(json_object_get(last, "execution_id"));
        if (id && exec_id_ok(id)) snprintf(next, sizeof next, "%s", id);
        json_decref(last);
    }
    char *out = malloc(total);
    if (!out) {
        store_strv_free(recs, n);
        http_send_error(r, R3E_EINTERNAL, "out of memory");
        return;
    }
    size_t len = 0;
    len += (size_t)sprintf(out, "{\"executions\":[");
    for (size_t i = 0; i < shown; i++) {
        if (i) out[len++] = ',';
        size_t l = strlen(recs[i]);
        memcpy(out + len, recs[i], l);
        len += l;
    }
    if (next[0])
        len += (size_t)sprintf(out + len, "],\"next\":\"%s\"}", next);
    else
        len += (size_t)sprintf(out + len, "],\"next\":null}");
    store_strv_free(recs, n);
    http_send_owned(r, 200, NULL, out, len);
}

json_t *api_log_line(json_t *entry, const char *exec_id, const char *function,
                     uint64_t started_ms) {
    json_t *t = json_object_get(entry, "t");
    json_t *time;
    if (json_is_string(t)) {
        time = json_incref(t);
    } else {
        double v = json_number_value(t); /* 0 when absent */
        uint64_t ms = v >= 1e11 ? (uint64_t)v : started_ms + (uint64_t)(v > 0 ? v : 0);
        char ts[40];
        util_rfc3339(ms, ts, sizeof ts);
        time = json_string(ts);
    }
    json_t *level = json_object_get(entry, "level");
    json_t *msg = json_object_get(entry, "msg");
    json_t *o = json_object();
    json_object_set_new(o, "time", time);
    json_object_set_new(o, "level", level ? json_incref(level) : json_string("info"));
    json_object_set_new(o, "msg", msg ? json_incref(msg) : json_string(""));
    json_object_set_new(o, "execution_id", json_string(exec_id));
    json_object_set_new(o, "function", json_string(function));
    return o;
}

/* Serialises lines (newest first) as NDJSON text, oldest first. *out malloc'ed. */
static int exec_ndjson(json_t *lines, char **out, size_t *out_len) {
    size_t cap = 256, len = 0;
    char *buf = malloc(cap);
    if (!buf) return -1;
    for (size_t i = json_array_size(lines); i > 0; i--) {
        char *t = json_dumps(json_array_get(lines, i - 1), JSON_COMPACT);
        if (!t) continue;
        size_t l = strlen(t);
        if (len + l + 2 > cap) {
            while (len + l + 2 > cap)
                cap *= 2;
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(t);
                free(buf);
                return -1;
            }
            buf = nb;
        }
        memcpy(buf + len, t, l);
        buf[len + l] = '\n';
        len += l + 1;
        free(t);
    }
    *out = buf;
    *out_len = len;
    return 0;
}

/* Collects the newest `limit` log lines of `name` as NDJSON, oldest first. Walks records
 * newest first, a page at a time, and stops once enough lines are gathered. */
static int exec_recent_logs(api_t *api, const char *ns, const char *name, size_t limit, char **out,
                            size_t *out_len, err_t *err) {
    json_t *lines = json_array(); /* newest first while collecting */
    char before[32] = "";
    bool more = true;
    /* bounded: records without logs must not turn one request into a full scan */
    for (int page = 0; more && page < 10000 / LOGS_PAGE && json_array_size(lines) < limit; page++) {
        char **recs = NULL;
        size_t n = 0;
        if (store_list_executions(api->store, ns, name, before[0] ? before : NULL, LOGS_PAGE, &recs,
                                  &n, err) < 0) {
            json_decref(lines);
            return -1;
        }
        more = n == LOGS_PAGE;
        for (size_t i = 0; i < n && json_array_size(lines) < limit; i++) {
            json_t *rec = json_loads(recs[i], JSON_ALLOW_NUL, NULL);
            const char *id = json_string_value(json_object_get(rec, "execution_id"));
            if (id) snprintf(before, sizeof before, "%s", id);
            json_t *logs = json_object_get(rec, "logs");
            uint64_t started =
                util_rfc3339_parse(json_string_value(json_object_get(rec, "started_at")));
            for (size_t k = json_array_size(logs); k > 0 && json_array_size(lines) < limit; k--)
                json_array_append_new(
                    lines, api_log_line(json_array_get(logs, k - 1), id ? id : "", name, started));
            json_decref(rec);
        }
        store_strv_free(recs, n);
        if (!before[0]) break;
    }
    int rc = exec_ndjson(lines, out, out_len);
    json_decref(lines);
    if (rc < 0) return err_set(err, R3E_EINTERNAL, "out of memory");
    return 0;
}

/* ---- follow: a streaming response fed from the log bus ------------------------------- */

typedef struct {
    logbus_sub_t *sub;
    int fd;        /* the client socket, watched for hang-up while waiting */
    char *backlog; /* recent lines sent first */
    size_t backlog_len, backlog_off;
} follow_t;

/* A client that went away shows up as RDHUP/HUP on its socket; checking that while idle
 * frees the follower within a second instead of after two failed keep-alive writes. */
static bool follow_client_gone(int fd) {
    if (fd < 0) return false;
    struct pollfd p = {.fd = fd, .events = POLLRDHUP};
    return poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

static ssize_t follow_read(void *cls, uint64_t pos, char *buf, size_t max) {
    (void)pos;
    follow_t *f = cls;
    if (f->backlog_off < f->backlog_len) {
        size_t n = f->backlog_len - f->backlog_off;
        if (n > max) n = max;
        memcpy(buf, f->backlog + f->backlog_off, n);
        f->backlog_off += n;
        return (ssize_t)n;
    }
    /* thread-per-connection: blocking here holds only this connection's thread */
    for (int waited = 0; waited < LOGS_FOLLOW_KEEPALIVE_MS; waited += LOGS_FOLLOW_POLL_MS) {
        long n = logbus_read(f->sub, buf, max, LOGS_FOLLOW_POLL_MS);
        if (n < 0) return MHD_CONTENT_READER_END_OF_STREAM;
        if (n > 0) return (ssize_t)n;
        if (follow_client_gone(f->fd)) return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    /* keep-alive: also makes a write to a silently vanished peer fail eventually */
    buf[0] = '\n';
    return 1;
}

static void follow_free(void *cls) {
    follow_t *f = cls;
    logbus_unsubscribe(f->sub);
    free(f->backlog);
    free(f);
}

void api_h_logs(http_req_t *r, const route_match_t *m) {
    const char *name = m->params[0];
    long limit, follow;
    err_t e;
    if (http_query_int(http_query(r, "limit"), 0, 10000, 100, &limit, &e) < 0) {
        http_send_error(r, R3E_EINVAL, "limit: %s", e.msg);
        return;
    }
    const char *fq = http_query(r, "follow");
    follow = fq && (strcmp(fq, "1") == 0 || strcmp(fq, "true") == 0 || *fq == '\0');
    if (exec_fn_known(r, name, 0) < 0) return;
    logbus_sub_t *sub = NULL;
    if (follow) {          /* subscribe before reading history: a line may repeat, none is lost */
        char bus_key[132]; /* followers are per namespace: "ns/name" */
        snprintf(bus_key, sizeof bus_key, "%s/%s", r->ns, name);
        sub = logbus_subscribe(r->api->bus, bus_key, LOGS_FOLLOW_QUEUE);
        if (!sub) {
            http_send_error(r, R3E_EUNAVAIL, "server is shutting down");
            return;
        }
    }
    char *text = NULL;
    size_t len = 0;
    if (limit > 0 && exec_recent_logs(r->api, r->ns, name, (size_t)limit, &text, &len, &e) < 0) {
        logbus_unsubscribe(sub);
        http_send_err(r, &e);
        return;
    }
    if (!follow) {
        http_send_owned(r, 200, "application/x-ndjson", text, len);
        return;
    }
    follow_t *f = calloc(1, sizeof *f);
    if (!f) {
        free(text);
        logbus_unsubscribe(sub);
        http_send_error(r, R3E_EINTERNAL, "out of memory");
        return;
    }
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    *f =
        (follow_t){.sub = sub, .fd = ci ? ci->connect_fd : -1, .backlog = text, .backlog_len = len};
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, follow_read, f, follow_free);
    if (!resp) {
        follow_free(f);
        http_send_error(r, R3E_EINTERNAL, "could not create the stream");
        return;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/x-ndjson");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    log_msg(LOG_DEBUG, &(log_ctx_t){.request_id = r->request_id, .function = name},
            "log follower attached");
    http_queue(r, 200, resp);
}
