/* `r3e server`: lifecycle (config, store, runtime, HTTP daemon, signals, drain) and the
 * libmicrohttpd access handler that turns MHD's callback protocol into one call of a
 * route handler per request.
 *
 * Threading: MHD runs a thread per connection. runtime_invoke() blocks for the length of
 * an invocation, and a blocked connection thread costs nothing but its stack, so this is
 * the simple correct model (no suspend/resume hand-off, keep-alive works). */
#include "api/server.h"

#include "api/api.h"
#include "api/secrets.h"
#include "api/evsys.h"
#include "api/handlers_ws.h"
#include "api/handlers_relayer.h"
#include "api/host.h"
#include "api/livehub.h"
#include "api/webhook_secret.h"
#include "chain/eth/eth_source.h"
#include "chain/neo/neo_relayer.h"
#include "chain/neo/neo_source.h"
#include "chain/net.h"
#include "core/util.h"
#include "obs/log.h"
#include "obs/metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define SRV_DRAIN_MS 10000
/* an oversized body is read and dropped (so the client sees the 413) up to this many
 * times the limit; beyond that the connection is cut */
#define SRV_DISCARD_FACTOR 4

#define ROUTE(m, p, h)                                                                             \
    { m, p, (route_fn)(h) }
static const route_t srv_routes[] = {
    ROUTE("GET", "/healthz", api_h_healthz),
    ROUTE("GET", "/readyz", api_h_readyz),
    ROUTE("GET", "/metrics", api_h_metrics),
    ROUTE("POST", "/v1/functions", api_h_deploy),
    ROUTE("GET", "/v1/functions", api_h_list_functions),
    ROUTE("GET", "/v1/functions/{name}", api_h_get_function),
    ROUTE("PUT", "/v1/functions/{name}", api_h_redeploy),
    ROUTE("DELETE", "/v1/functions/{name}", api_h_delete_function),
    ROUTE("PUT", "/v1/functions/{name}/active", api_h_set_active),
    ROUTE("POST", "/v1/functions/{name}/invoke", api_h_invoke),
    ROUTE("GET", "/v1/functions/{name}/executions", api_h_list_executions),
    ROUTE("GET", "/v1/functions/{name}/logs", api_h_logs),
    ROUTE("GET", "/v1/functions/{name}/secrets", api_h_secrets_list),
    ROUTE("PUT", "/v1/functions/{name}/secrets/{key}", api_h_secret_put),
    ROUTE("DELETE", "/v1/functions/{name}/secrets/{key}", api_h_secret_delete),
    ROUTE("POST", "/v1/admin/rotate-master", api_h_rotate_master),
    ROUTE("GET", "/v1/executions/{id}", api_h_get_execution),
    ROUTE("GET", "/v1/ws", api_h_ws),
    ROUTE("*", "/fn/{name}/*", api_h_trigger),
    ROUTE("*", "/ns/{ns}/fn/{name}/*", api_h_trigger_ns),
    ROUTE("POST", "/v1/keys", api_h_keys_create),
    ROUTE("GET", "/v1/keys", api_h_keys_list),
    ROUTE("GET", "/v1/keys/{id}", api_h_keys_get),
    ROUTE("DELETE", "/v1/keys/{id}", api_h_keys_revoke),
    ROUTE("POST", "/v1/auth/token", api_h_auth_token),
    ROUTE("GET", "/v1/audit", api_h_audit),
    ROUTE("POST", "/v1/events", api_h_events_publish),
    ROUTE("GET", "/v1/events", api_h_events_list),
    ROUTE("GET", "/v1/events/{id}", api_h_events_get),
    ROUTE("POST", "/v1/triggers", api_h_triggers_create),
    ROUTE("GET", "/v1/triggers", api_h_triggers_list),
    ROUTE("GET", "/v1/triggers/{id}", api_h_triggers_get),
    ROUTE("DELETE", "/v1/triggers/{id}", api_h_triggers_delete),
    ROUTE("POST", "/v1/triggers/{id}/enable", api_h_triggers_enable),
    ROUTE("POST", "/v1/triggers/{id}/disable", api_h_triggers_disable),
    ROUTE("GET", "/v1/relayer/neo/{network}", api_h_neo_relayer_info),
    ROUTE("POST", "/v1/relayer/neo/{network}/transactions", api_h_neo_relayer_submit),
    ROUTE("GET", "/v1/relayer/neo/{network}/transactions", api_h_neo_relayer_list),
    ROUTE("GET", "/v1/relayer/neo/{network}/transactions/{id}", api_h_neo_relayer_get),
    ROUTE("GET", "/v1/dlq", api_h_dlq_list),
    ROUTE("POST", "/v1/dlq/{id}/replay", api_h_dlq_replay),
    ROUTE("DELETE", "/v1/dlq/{id}", api_h_dlq_delete),
    ROUTE("*", "/hooks/{id}", api_h_hook),
    ROUTE("GET", "/v1/relayer/eth/{network}", api_h_relayer_eth_info),
    ROUTE("POST", "/v1/relayer/eth/{network}/transactions", api_h_relayer_eth_send),
    ROUTE("GET", "/v1/relayer/eth/{network}/transactions", api_h_relayer_eth_list),
    ROUTE("GET", "/v1/relayer/eth/{network}/transactions/{id}", api_h_relayer_eth_get),
};

const route_t *api_route_table(size_t *n) {
    *n = sizeof srv_routes / sizeof srv_routes[0];
    return srv_routes;
}

/* ---- system endpoints ---------------------------------------------------------------- */

void api_h_healthz(http_req_t *r, const route_match_t *m) {
    (void)m;
    static const char ok[] = "{\"status\":\"ok\"}";
    http_send_static(r, 200, NULL, ok, sizeof ok - 1);
}

void api_h_readyz(http_req_t *r, const route_match_t *m) {
    (void)m;
    runtime_stats_t st = {0};
    runtime_stats(r->api->rt, &st);
    bool ready =
        r->api->store && !atomic_load(&r->api->stopping) && st.workers_idle + st.workers_busy >= 1;
    json_t *o = json_pack("{s:s,s:i,s:i,s:i}", "status", ready ? "ready" : "not_ready",
                          "workers_total", st.workers_total, "workers_idle", st.workers_idle,
                          "workers_busy", st.workers_busy);
    if (ready) {
        http_send_json(r, 200, o);
        return;
    }
    json_decref(o);
    http_send_error(r, R3E_EUNAVAIL, "%s",
                    atomic_load(&r->api->stopping) ? "shutting down" : "no live worker");
}

/* text + extra (both malloc'ed, extra consumed); text survives a failed append. */
static char *append_owned(char *text, char *extra) {
    if (text && extra && *extra) {
        size_t a = strlen(text), b = strlen(extra);
        char *both = realloc(text, a + b + 1);
        if (both) memcpy(both + a, extra, b + 1);
        text = both ? both : text;
    }
    free(extra);
    return text;
}

void api_h_metrics(http_req_t *r, const route_match_t *m) {
    (void)m;
    runtime_stats_t st = {0};
    runtime_stats(r->api->rt, &st);
    char *text = metrics_render(st.workers_total, st.workers_idle);
    text = append_owned(text, livehub_metrics_text());     /* r3e_ws_*: the live stream */
    text = append_owned(text, evsys_metrics_text(r->api)); /* r3e_queue_*, r3e_dlq_*, … */
    text = append_owned(text, chain_nets_metrics_text(r->api->chains)); /* r3e_chain_rpc_* */
    if (!text) {
        http_send_error(r, R3E_EINTERNAL, "could not render metrics");
        return;
    }
    http_send_owned(r, 200, "text/plain; version=0.0.4", text, strlen(text));
}

/* ---- MHD callbacks -------------------------------------------------------------------- */

void api_conn_extend_timeout(http_req_t *r, uint64_t ms) {
    unsigned secs = (unsigned)((ms + 999) / 1000) + (unsigned)r->api->cfg.conn_timeout_s;
    MHD_set_connection_option(r->conn, MHD_CONNECTION_OPTION_TIMEOUT, secs);
    r->timeout_raised = true;
}

/* mTLS: with --tls-client-ca, MHD asks for a client certificate but does not verify it;
 * the chain is checked here against the trusted CA. A request without a valid one is
 * refused with 403 (the TLS session is already up, so the refusal can be explained). */
static bool srv_tls_client_ok(http_req_t *r) {
    if (!r->api->cfg.tls_client_ca[0]) return true;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    gnutls_session_t tls = ci ? (gnutls_session_t)ci->tls_session : NULL;
    unsigned status = 0;
    unsigned n = 0;
    if (tls && gnutls_certificate_get_peers(tls, &n) && n > 0 &&
        gnutls_certificate_verify_peers2(tls, &status) == 0 && status == 0)
        return true;
    http_send_error(r, R3E_EFORBIDDEN, "a client certificate signed by the trusted CA is required");
    return false;
}

static void srv_dispatch(http_req_t *r) {
    route_match_t m;
    if (atomic_load(&r->api->stopping)) {
        http_send_error(r, R3E_EUNAVAIL, "server is shutting down");
        return;
    }
    switch (
        router_match(srv_routes, sizeof srv_routes / sizeof srv_routes[0], r->method, r->url, &m)) {
    case ROUTE_FOUND:
        if (srv_tls_client_ok(r) && api_authn_request(r, &m))
            ((api_handler_fn)m.route->handler)(r, &m);
        break;
    case ROUTE_BAD_METHOD: {
        char msg[160];
        snprintf(msg, sizeof msg, "method %.16s not allowed (allowed: %s)", r->method, m.allow);
        struct MHD_Response *resp = http_error_response(err_code_name(R3E_EMETHOD), msg, NULL);
        if (resp) MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, m.allow);
        http_queue(r, 405, resp);
        break;
    }
    case ROUTE_NOT_FOUND:
        http_send_error(r, R3E_ENOTFOUND, "no route for %.16s %.200s", r->method, r->url);
        break;
    }
    if (!r->status) http_send_error(r, R3E_EINTERNAL, "the handler sent no response");
}

/* First call: headers only -- set up state and return without queueing (a response
 * queued now would go out with Connection: close). Later calls: body chunks, then a final
 * call with *upload_data_size == 0 where the route handler runs. */
static enum MHD_Result srv_access(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls) {
    (void)version;
    api_t *api = cls;
    http_req_t *r = *con_cls;
    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r) return MHD_NO;
        *con_cls = r;
        atomic_fetch_add(&api->active, 1);
        r->api = api;
        r->conn = conn;
        r->method = method;
        r->url = url;
        r->start_us = util_now_us();
        memcpy(r->ns, API_NS, sizeof API_NS); /* until authn.c picks the request's */
        r->quiet = strcmp(url, "/healthz") == 0 || strcmp(url, "/metrics") == 0 ||
                   strcmp(url, "/readyz") == 0;
        const char *rid = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-Id");
        if (rid && http_request_id_ok(rid))
            snprintf(r->request_id, sizeof r->request_id, "%s", rid);
        else
            util_ulid(r->request_id);
        const char *cl =
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        unsigned long long clen = cl ? strtoull(cl, NULL, 10) : 0;
        if (clen > api->cfg.max_body) {
            /* A client that waits for "100 Continue", or announces an absurd size, is
             * answered now (MHD then closes; nothing was sent that would be lost). A plain
             * client is already uploading: closing on it resets the connection before it
             * reads the 413, so its body is read and dropped and the 413 sent after it. */
            const char *expect =
                MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT);
            if ((expect && strcasecmp(expect, "100-continue") == 0) ||
                clen > SRV_DISCARD_FACTOR * (unsigned long long)api->cfg.max_body)
                http_send_error(r, R3E_ETOOBIG, "request body of %s bytes exceeds the limit of %zu",
                                cl, api->cfg.max_body);
            else
                r->body_too_big = true;
        } else if (clen > 0 && (r->body = malloc(clen + 1)) != NULL) {
            r->body_cap = clen + 1; /* one allocation instead of doubling up to it */
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (r->status) return MHD_YES; /* answered already: discard the rest */
        if (r->body_too_big) {
            /* MHD 0.9.75 refuses a response while the body is still arriving, so the 413
             * goes out after the body is read and dropped; a sender that keeps streaming far
             * past the limit is cut off instead. */
            r->discarded += n;
            return r->discarded > SRV_DISCARD_FACTOR * api->cfg.max_body ? MHD_NO : MHD_YES;
        }
        err_t e;
        if (http_body_append(&r->body, &r->body_len, &r->body_cap, upload_data, n,
                             api->cfg.max_body, &e) < 0) {
            free(r->body);
            r->body = NULL;
            r->body_len = r->body_cap = 0;
            r->body_too_big = true;
        }
        return MHD_YES;
    }
    if (r->status) return MHD_YES;
    if (r->body_too_big)
        http_send_error(r, R3E_ETOOBIG, "request body exceeds the limit of %zu bytes",
                        api->cfg.max_body);
    else
        srv_dispatch(r);
    return MHD_YES;
}

static json_t *srv_json_str(const char *s) {
    json_t *v = json_string(s);
    return v ? v : json_string("(not UTF-8)");
}

static const char *srv_toe_name(enum MHD_RequestTerminationCode toe) {
    switch (toe) {
    case MHD_REQUEST_TERMINATED_COMPLETED_OK:
        return "completed";
    case MHD_REQUEST_TERMINATED_WITH_ERROR:
        return "error";
    case MHD_REQUEST_TERMINATED_TIMEOUT_REACHED:
        return "timeout";
    case MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN:
        return "shutdown";
    case MHD_REQUEST_TERMINATED_READ_ERROR:
        return "read_error";
    case MHD_REQUEST_TERMINATED_CLIENT_ABORT:
        return "client_abort";
    }
    return "unknown";
}

static void srv_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                          enum MHD_RequestTerminationCode toe) {
    api_t *api = cls;
    http_req_t *r = *con_cls;
    if (!r) return;
    *con_cls = NULL;
    uint64_t dur = util_now_us() - r->start_us;
    log_level_t lvl = r->quiet ? LOG_DEBUG : LOG_INFO;
    if (log_enabled(lvl)) {
        json_t *x = json_object();
        json_object_set_new(x, "method", srv_json_str(r->method));
        json_object_set_new(x, "path", srv_json_str(r->url));
        json_object_set_new(x, "status", json_integer(r->status));
        json_object_set_new(x, "duration_us", json_integer((json_int_t)dur));
        if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
            json_object_set_new(x, "terminated", json_string(srv_toe_name(toe)));
        log_json(lvl,
                 &(log_ctx_t){.request_id = r->request_id,
                              .function = r->function,
                              .execution_id = r->execution_id[0] ? r->execution_id : NULL},
                 x, "request");
    }
    if (r->status) metrics_http_request(r->status); /* 0: the client left unanswered */
    api_authn_audit(r);
    if (r->timeout_raised)
        MHD_set_connection_option(conn, MHD_CONNECTION_OPTION_TIMEOUT,
                                  (unsigned)api->cfg.conn_timeout_s);
    free(r->body);
    free(r);
    atomic_fetch_sub(&api->active, 1);
}

static void srv_mhd_log(void *cls, const char *fmt, va_list ap) {
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    /* a log follower that left ends its stream this way: routine, not a warning */
    bool routine = strstr(msg, "application error generating response") != NULL;
    log_msg(routine ? LOG_DEBUG : LOG_WARN, NULL, "http: %s", msg);
}

/* ---- signals: a self-pipe, so no signal mask games leak into forked workers ------------ */

static int srv_sig_pipe[2] = {-1, -1};
static volatile sig_atomic_t srv_sig_count;

static void srv_on_signal(int sig) {
    int saved = errno;
    if (++srv_sig_count >= 2) {
        static const char m[] = "second signal: exiting without draining\n";
        ssize_t w = write(STDERR_FILENO, m, sizeof m - 1);
        (void)w;
        _exit(130);
    }
    unsigned char b = (unsigned char)sig;
    ssize_t w = write(srv_sig_pipe[1], &b, 1);
    (void)w;
    errno = saved;
}

static int srv_signals_install(void) {
    if (pipe2(srv_sig_pipe, O_CLOEXEC | O_NONBLOCK) < 0) return -1;
    struct sigaction sa = {0};
    sa.sa_handler = srv_on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN); /* a vanished client must not kill the server */
    return 0;
}

static int srv_signals_wait(void) {
    for (;;) {
        struct pollfd p = {.fd = srv_sig_pipe[0], .events = POLLIN};
        if (poll(&p, 1, -1) < 0 && errno != EINTR) return -1;
        unsigned char b;
        if (read(srv_sig_pipe[0], &b, 1) == 1) return b;
    }
}

/* ---- lifecycle ------------------------------------------------------------------------ */

static int srv_mkdirs(const char *path) {
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(buf, 0700) < 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    return mkdir(buf, 0700) < 0 && errno != EEXIST ? -1 : 0;
}

static int srv_resolve(const api_config_t *cfg, struct sockaddr_storage *ss, err_t *err) {
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    int rc = getaddrinfo(cfg->host, NULL, &hints, &res);
    if (rc != 0 || !res)
        return err_set(err, R3E_EINVAL, "cannot resolve listen address \"%s\": %s", cfg->host,
                       gai_strerror(rc));
    memset(ss, 0, sizeof *ss);
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    if (ss->ss_family == AF_INET)
        ((struct sockaddr_in *)ss)->sin_port = htons(cfg->port);
    else
        ((struct sockaddr_in6 *)ss)->sin6_port = htons(cfg->port);
    return 0;
}

static int srv_write_port_file(const char *path, unsigned port) {
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return -1;
    fprintf(f, "%u\n", port);
    if (fclose(f) != 0) return -1;
    return rename(tmp, path); /* readers never see a half-written file */
}

/* Reads the TLS PEM files (MHD wants them in memory, NUL-terminated). */
static int srv_tls_load(api_t *api, err_t *err) {
    const api_config_t *c = &api->cfg;
    if (!c->tls_cert[0]) return 0;
    size_t len;
    api->tls_cert_pem = util_read_file(c->tls_cert, &len);
    api->tls_key_pem = util_read_file(c->tls_key, &len);
    if (!api->tls_cert_pem || !api->tls_key_pem)
        return err_set(err, R3E_EINVAL, "cannot read --tls-cert %s or --tls-key %s", c->tls_cert,
                       c->tls_key);
    if (c->tls_client_ca[0] && !(api->tls_ca_pem = util_read_file(c->tls_client_ca, &len)))
        return err_set(err, R3E_EINVAL, "cannot read --tls-client-ca %s", c->tls_client_ca);
    log_info("TLS on%s", api->tls_ca_pem ? ", client certificates required" : "");
    return 0;
}

static struct MHD_Daemon *srv_start_http(api_t *api, err_t *err) {
    struct sockaddr_storage ss;
    if (srv_resolve(&api->cfg, &ss, err) < 0) return NULL;
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_POLL | MHD_USE_ERROR_LOG | MHD_USE_ITC | MHD_ALLOW_UPGRADE;
    if (ss.ss_family == AF_INET6) flags |= MHD_USE_IPv6;
    /* TLS and per-IP limits are optional, so they travel as an option array */
    struct MHD_OptionItem opts[6];
    size_t no = 0;
    if (api->cfg.per_ip_connections)
        opts[no++] = (struct MHD_OptionItem){MHD_OPTION_PER_IP_CONNECTION_LIMIT,
                                             (intptr_t)api->cfg.per_ip_connections, NULL};
    if (api->tls_cert_pem) {
        flags |= MHD_USE_TLS;
        opts[no++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, api->tls_cert_pem};
        opts[no++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, api->tls_key_pem};
        if (api->tls_ca_pem)
            opts[no++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_TRUST, 0, api->tls_ca_pem};
    }
    opts[no] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, api->cfg.port, NULL, NULL, srv_access, api, MHD_OPTION_EXTERNAL_LOGGER, srv_mhd_log,
        api, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)api->cfg.max_connections, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)api->cfg.conn_timeout_s, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(32 * 1024),
        MHD_OPTION_NOTIFY_COMPLETED, srv_completed, api, MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
    if (!d)
        err_set(err, R3E_EIO, "cannot listen on %s (address in use or not permitted?)",
                api->cfg.listen);
    return d;
}

static void srv_log_listening(const api_config_t *cfg, unsigned port) {
    char addr[300];
    if (strchr(cfg->host, ':'))
        snprintf(addr, sizeof addr, "[%s]:%u", cfg->host, port);
    else
        snprintf(addr, sizeof addr, "%s:%u", cfg->host, port);
    log_json(LOG_INFO, NULL, json_pack("{s:s}", "addr", addr), "listening");
}

/* Stop accepting, let in-flight requests finish (bounded), then tear down in reverse. */
static void srv_shutdown(api_t *api, struct MHD_Daemon *d) {
    log_info("shutdown: no longer accepting connections");
    atomic_store(&api->stopping, true);
    MHD_socket lfd = MHD_quiesce_daemon(d);
    /* closed now, not after the drain: a listening socket nobody accepts on would park new
     * clients in the backlog instead of refusing them */
    if (lfd != MHD_INVALID_SOCKET) close(lfd);
    logbus_close(api->bus); /* ends log followers, which would otherwise never finish */
    evsys_quiesce(api);     /* sources, then dispatchers: in-flight async runs finish */
    log_info("shutdown: event sources and dispatchers stopped");
    /* WebSocket sessions get 1001 and must hand their sockets back before MHD stops */
    int ws_left = api_ws_shutdown(5000);
    if (ws_left) log_warn("shutdown: %d WebSocket sessions did not close in time", ws_left);
    uint64_t deadline = util_now_us() + (uint64_t)SRV_DRAIN_MS * 1000;
    while (atomic_load(&api->active) > 0 && util_now_us() < deadline)
        usleep(10 * 1000);
    int left = atomic_load(&api->active);
    if (left > 0) {
        /* Invocations can run for minutes and MHD_stop_daemon joins their threads: end
         * them now (they finish as "crashed") so the bound holds. */
        log_warn("shutdown: %d requests still running after %d ms; stopping their workers", left,
                 SRV_DRAIN_MS);
        int pids[1024];
        int n = runtime_worker_pids(api->rt, pids, 1024);
        for (int i = 0; i < n; i++)
            kill(pids[i], SIGKILL);
        deadline = util_now_us() + 2000 * 1000;
        while (atomic_load(&api->active) > 0 && util_now_us() < deadline)
            usleep(10 * 1000);
    } else {
        log_info("shutdown: in-flight requests finished");
    }
    MHD_stop_daemon(d);
    log_info("shutdown: http stopped");
    evsys_stop(api);      /* the queue, once no request can reach it */
    neo_source_free(api); /* stopped by evsys_quiesce */
    neo_relayer_stop(api);
    eth_source_stop_free(api);
    runtime_stop(api->rt, 2000);
    api->rt = NULL;
    log_info("shutdown: workers stopped");
    api_relayer_stop(api);            /* trackers write records: before the store closes */
    api_authn_stop(api);              /* audit retention writes to the store */
    vault_close(api_secrets_vault()); /* before the store it reads */
    store_close(api->store);
    api->store = NULL;
    log_info("shutdown: store closed");
}

int server_main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "init") == 0) return api_authn_init_main(argc - 1, argv + 1);
    log_init("server");
    api_t *api = calloc(1, sizeof *api);
    if (!api) return 1;
    err_t err;
    if (api_config_parse(&api->cfg, argc, argv, &err) < 0) {
        /* the error last, where the operator (and a log tail) sees it, after the long usage */
        api_config_usage();
        fprintf(stderr, "\nr3e server: %s\n", err.msg);
        free(api);
        return 2;
    }
    if (api->cfg.help) {
        api_config_usage();
        free(api);
        return 0;
    }
    int rc = 1;
    struct MHD_Daemon *d = NULL;
    metrics_init();
    livehub_config_t hub_cfg;
    livehub_config_from_env(&hub_cfg);
    if (livehub_init(&hub_cfg, &err) < 0) {
        log_error("cannot start the live hub: %s", err.msg);
        goto out;
    }
    api->bus = logbus_new();
    api->fns = fncache_new(1000);
    if (srv_signals_install() < 0 || !api->bus || !api->fns) {
        log_error("cannot set up signal handling");
        goto out;
    }
    if (srv_mkdirs(api->cfg.data) < 0) {
        log_error("cannot create data directory %s: %s", api->cfg.data, strerror(errno));
        goto out;
    }
    api->store = store_open(api->cfg.data, &err);
    if (!api->store) {
        log_error("cannot open the store in %s: %s", api->cfg.data, err.msg);
        goto out;
    }
    log_info("store opened at %s", api->cfg.data);
    if (api_authn_init(api, &err) < 0 || srv_tls_load(api, &err) < 0) {
        log_error("%s", err.msg);
        goto out;
    }
    vault_t *vault = NULL;
    if (api_vault_open(api->cfg.master_key_file, api->cfg.dev, api->cfg.data, api->store, &vault,
                       &err) < 0) {
        log_error("cannot open the secret vault: %s", err.msg);
        fprintf(stderr, "r3e server: cannot open the secret vault: %s\n", err.msg);
        goto out;
    }
    api->chains = chain_nets_new();
    if (!api->chains || chain_nets_add_list(api->chains, CHAIN_ETH, api->cfg.eth_nets, &err) < 0 ||
        chain_nets_add_list(api->chains, CHAIN_NEO, api->cfg.neo_nets, &err) < 0 ||
        api_host_chain_register(api, &err) < 0) {
        log_error("cannot set up the blockchain networks: %s", err.msg);
        goto out;
    }
    for (size_t i = 0; i < chain_nets_count(api->chains, CHAIN_ETH); i++)
        log_info("eth network %s at %s", chain_nets_at(api->chains, CHAIN_ETH, i)->name,
                 chain_nets_at(api->chains, CHAIN_ETH, i)->url);
    for (size_t i = 0; i < chain_nets_count(api->chains, CHAIN_NEO); i++)
        log_info("neo network %s at %s", chain_nets_at(api->chains, CHAIN_NEO, i)->name,
                 chain_nets_at(api->chains, CHAIN_NEO, i)->url);
    runtime_config_t rc_cfg = {
        .host = api_host_dispatch,
        .host_ud = api,
        .vault = vault,
        .workers = api->cfg.workers,
        .store = api->store,
        .egress_allow = api->cfg.egress_allow[0] ? api->cfg.egress_allow : NULL,
        .queue_timeout_ms = api->cfg.queue_timeout_ms,
        .default_concurrency = api->cfg.default_concurrency,
        .warm_contexts = 0, /* runtime default, R3E_WARM_CONTEXTS */
    };
    api->rt = runtime_start(&rc_cfg, &err);
    if (!api->rt) {
        log_error("cannot start the worker pool: %s", err.msg);
        goto out;
    }
    log_info("runtime started");
    if (api_relayer_start(api, vault, &err) < 0) {
        log_error("cannot start the Ethereum relayers: %s", err.msg);
        goto out;
    }
    size_t sealed = 0, unsealed = 0; /* before evsys loads the records */
    if (webhook_secret_migrate(api->store, vault, &sealed, &unsealed, &err) < 0) {
        log_error("cannot seal the webhook secrets in the vault: %s", err.msg);
        goto out;
    }
    if (sealed) log_info("sealed %zu plain-text webhook secrets in the vault", sealed);
    if (unsealed)
        log_warn("%zu webhook triggers keep a plain-text secret in the store: configure a master "
                 "key so the next start seals them",
                 unsealed);
    if (evsys_start(api, &err) < 0) {
        log_error("cannot start the event system: %s", err.msg);
        goto out;
    }
    if (neo_source_start(api, &err) < 0 || neo_relayer_start(api, &err) < 0) {
        log_error("cannot start the Neo event source or relayer: %s", err.msg);
        goto out;
    }
    if (eth_source_start(api, &err) < 0) {
        log_error("cannot start the Ethereum event source: %s", err.msg);
        goto out;
    }
    d = srv_start_http(api, &err);
    if (!d) {
        log_error("%s", err.msg);
        goto out;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    unsigned port = di ? di->port : api->cfg.port;
    srv_log_listening(&api->cfg, port);
    if (api->cfg.port_file[0] && srv_write_port_file(api->cfg.port_file, port) < 0)
        log_warn("cannot write the port file %s: %s", api->cfg.port_file, strerror(errno));
    int sig = srv_signals_wait();
    log_info("received %s, shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
    srv_shutdown(api, d);
    d = NULL;
    rc = 0;
out:
    if (d) MHD_stop_daemon(d);
    evsys_stop(api);
    neo_source_free(api);
    neo_relayer_stop(api);
    eth_source_stop_free(api);
    runtime_stop(api->rt, 0);
    api_relayer_stop(api);
    api_authn_stop(api);
    if (api->store) vault_close(api_secrets_vault()); /* srv_shutdown closed both otherwise */
    store_close(api->store);
    logbus_free(api->bus);
    fncache_free(api->fns);
    livehub_free();
    api_authn_free(api);
    api_host_chain_free(api);
    api_host_free(api);
    chain_nets_free(api->chains);
    free(api->tls_cert_pem);
    free(api->tls_key_pem);
    free(api->tls_ca_pem);
    metrics_shutdown();
    if (rc == 0) log_info("stopped");
    free(api);
    return rc;
}
