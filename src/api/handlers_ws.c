/* GET /v1/ws: the WebSocket live stream (RFC 6455 framing by wslay, the upgrade by
 * libmicrohttpd).
 *
 * api_h_ws checks the handshake and queues a 101 response made with
 * MHD_create_response_for_upgrade; once it is sent MHD calls ws_upgraded, which attaches
 * the connection to the live hub and starts the session's thread: the socket is ours
 * until MHD_upgrade_action(CLOSE). The access log line (status 101) is written when the
 * handshake completes; "ws: connected" / "ws: closed" lines carry the session.
 *
 * One poll loop per session watches the socket and the hub connection's eventfd. Hub
 * messages move into wslay's queue only while it holds few messages, so the bounded hub
 * queue is where a slow reader's backlog piles up (and overflows into a 1008 close). */
#include "api/handlers_ws.h"

#include "api/api.h"
#include "api/livehub.h"
#include "api/wsmsg.h"

#include "core/util.h"
#include "obs/log.h"

#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include <wslay/wslay.h>

#define WS_FEED_MAX 16              /* messages handed to wslay at a time */
#define WS_QUEUED_MAX 1024          /* frames waiting in wslay (answers, pongs) */
#define WS_DIRECT_MAX (1024 * 1024) /* bytes of answers queued to wslay directly */
#define WS_SNDBUF (128 * 1024)      /* kernel send buffer: bounds a slow reader's share */
#define WS_LINGER_SLOW_MS 5000      /* a dropped slow consumer gets this long to read */
#define WS_LINGER_MS 1000           /* other closes wait this long for the peer's close */
#define WS_DRAIN_MS 500             /* reading leftovers after close so no RST eats it */

enum {
    WS_CLOSE_NORMAL = 1000,
    WS_CLOSE_GOING_AWAY = 1001,
    WS_CLOSE_UNSUPPORTED = 1003,
    WS_CLOSE_POLICY = 1008,
    WS_CLOSE_INTERNAL = 1011,
    WS_CLOSE_TRY_AGAIN = 1013,
};

typedef struct {
    int fd;
    struct MHD_UpgradeResponseHandle *urh;
    const char *extra; /* bytes MHD read past the handshake: consumed before the socket */
    char *extra_copy;
    size_t extra_len, extra_off;
    wslay_event_context_ptr ctx;
    livehub_conn_t *hub;
    char id[27]; /* the session's id in log lines */
    char request_id[132];
    uint64_t start_us, last_pong_us, next_ping_us, close_deadline_us;
    unsigned ping_ms;
    bool closing;
    uint32_t perms;         /* what this principal may subscribe to (auth_perm_t bits) */
    const char *end_reason; /* for the closing log line */
    uint64_t msgs_in, msgs_out;
} ws_session_t;

/* ---- handshake ----------------------------------------------------------------------- */

/* Whether a comma-separated header value holds token (case-insensitive). */
static bool ws_header_has_token(const char *value, const char *token) {
    size_t tn = strlen(token);
    for (const char *p = value; p && *p;) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *end = p;
        while (*end && *end != ',')
            end++;
        const char *e = end;
        while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if ((size_t)(e - p) == tn && strncasecmp(p, token, tn) == 0) return true;
        p = end;
    }
    return false;
}

static void ws_send_426(http_req_t *r, const char *msg) {
    struct MHD_Response *resp = http_error_response("upgrade_required", msg, NULL);
    if (resp) {
        MHD_add_response_header(resp, MHD_HTTP_HEADER_UPGRADE, "websocket");
        MHD_add_response_header(resp, "Sec-WebSocket-Version", "13");
    }
    http_queue(r, 426, resp);
}

static void ws_upgraded(void *cls, struct MHD_Connection *conn, void *con_cls, const char *extra_in,
                        size_t extra_in_size, MHD_socket sock,
                        struct MHD_UpgradeResponseHandle *urh);

void api_h_ws(http_req_t *r, const route_match_t *m) {
    (void)m;
    const char *upgrade = http_header(r, MHD_HTTP_HEADER_UPGRADE);
    const char *connection = http_header(r, MHD_HTTP_HEADER_CONNECTION);
    const char *version = http_header(r, "Sec-WebSocket-Version");
    const char *key = http_header(r, "Sec-WebSocket-Key");
    if (!upgrade || !ws_header_has_token(upgrade, "websocket") || !connection ||
        !ws_header_has_token(connection, "upgrade")) {
        ws_send_426(r, "GET /v1/ws is a WebSocket endpoint: send Upgrade: websocket");
        return;
    }
    if (!version || strcmp(version, "13") != 0) {
        ws_send_426(r, "unsupported Sec-WebSocket-Version (this server speaks 13)");
        return;
    }
    if (!wsmsg_key_ok(key)) {
        http_send_error(r, R3E_EINVAL, "Sec-WebSocket-Key must be base64 of 16 bytes");
        return;
    }
    livehub_config_t cfg = livehub_config();
    if (livehub_count() >= cfg.max_conns) {
        livehub_count_rejected();
        http_send_error(r, R3E_EUNAVAIL, "too many WebSocket connections (limit %zu)",
                        cfg.max_conns);
        return;
    }
    char accept[29];
    if (wsmsg_accept_key(key, accept) < 0) {
        http_send_error(r, R3E_EINTERNAL, "could not compute Sec-WebSocket-Accept");
        return;
    }
    struct MHD_Response *resp = MHD_create_response_for_upgrade(ws_upgraded, r->api);
    if (!resp) {
        http_send_error(r, R3E_EINTERNAL, "could not create the upgrade response");
        return;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_UPGRADE, "websocket");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "Upgrade");
    MHD_add_response_header(resp, "Sec-WebSocket-Accept", accept);
    http_queue(r, MHD_HTTP_SWITCHING_PROTOCOLS, resp);
}

/* ---- wslay callbacks ------------------------------------------------------------------ */

static ssize_t ws_recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
                          void *ud) {
    (void)flags;
    ws_session_t *s = ud;
    if (s->extra_off < s->extra_len) {
        size_t n = s->extra_len - s->extra_off;
        if (n > len) n = len;
        memcpy(buf, s->extra + s->extra_off, n);
        s->extra_off += n;
        return (ssize_t)n;
    }
    ssize_t n;
    do
        n = recv(s->fd, buf, len, MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
        wslay_event_set_error(ctx, errno == EAGAIN || errno == EWOULDBLOCK
                                       ? WSLAY_ERR_WOULDBLOCK
                                       : WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    if (n == 0) { /* the peer went away without a close frame */
        if (!s->end_reason) s->end_reason = "peer closed the connection";
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    return n;
}

static ssize_t ws_send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
                          void *ud) {
    ws_session_t *s = ud;
    int f = MSG_DONTWAIT | MSG_NOSIGNAL | ((flags & WSLAY_MSG_MORE) ? MSG_MORE : 0);
    ssize_t n;
    do
        n = send(s->fd, data, len, f);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
        wslay_event_set_error(ctx, errno == EAGAIN || errno == EWOULDBLOCK
                                       ? WSLAY_ERR_WOULDBLOCK
                                       : WSLAY_ERR_CALLBACK_FAILURE);
        return -1;
    }
    return n;
}

/* Starts the closing handshake once; the session ends when the peer answers or at the
 * deadline. */
static void ws_close(ws_session_t *s, uint16_t code, const char *reason, unsigned linger_ms) {
    if (s->closing) return;
    s->closing = true;
    if (!s->end_reason) s->end_reason = reason;
    s->close_deadline_us = util_now_us() + (uint64_t)linger_ms * 1000;
    wslay_event_queue_close(s->ctx, code, (const uint8_t *)reason, strlen(reason));
}

/* Answers go straight to wslay (not through the hub queue); a client that keeps sending
 * requests without reading the answers is a slow consumer too. */
static void ws_answer(ws_session_t *s, char *text, size_t len) {
    if (!text) {
        ws_close(s, WS_CLOSE_INTERNAL, "out of memory", WS_LINGER_MS);
        return;
    }
    if (wslay_event_get_queued_msg_length(s->ctx) + len > WS_DIRECT_MAX) {
        free(text);
        livehub_count_drop(LIVEHUB_DROP_SLOW);
        ws_close(s, WS_CLOSE_POLICY, "slow consumer", WS_LINGER_SLOW_MS);
        return;
    }
    struct wslay_event_msg m = {WSLAY_TEXT_FRAME, (const uint8_t *)text, len};
    wslay_event_queue_msg(s->ctx, &m); /* copies */
    free(text);
}

/* The upgrade needs events:read (the route table); each subscription also needs the
 * permission its HTTP counterpart needs, so the stream shows nothing the REST API would
 * refuse: executions:read, logs:read for "logs":true, events:read. */
static uint32_t ws_permissions(http_req_t *r) {
    const uint32_t all = AUTH_PERM_EXECUTIONS_READ | AUTH_PERM_LOGS_READ | AUTH_PERM_EVENTS_READ;
    if (!r || !r->api->auth_on) return all;
    auth_principal_t p;
    api_authn_principal(r, &p);
    uint32_t ok = 0;
    for (uint32_t bit = 1; bit; bit <<= 1) {
        err_t e;
        if ((all & bit) && auth_check(&p, bit, r->ns, &e) == 0) ok |= bit;
    }
    return ok;
}

static int ws_allowed(const ws_session_t *s, const wsmsg_filter_t *f, err_t *err) {
    uint32_t need = f->topic == WSMSG_EVENTS ? AUTH_PERM_EVENTS_READ : AUTH_PERM_EXECUTIONS_READ;
    if (f->topic == WSMSG_EXECUTIONS && f->logs) need |= AUTH_PERM_LOGS_READ;
    uint32_t missing = need & ~s->perms;
    if (!missing) return 0;
    uint32_t bit = missing & (~missing + 1); /* name the first one missing */
    return err_set(err, R3E_EFORBIDDEN, "this credential lacks %s for this subscription",
                   auth_perm_name(bit));
}

static void ws_client_message(ws_session_t *s, const char *text, size_t len) {
    wsmsg_t m;
    err_t e;
    size_t n = 0;
    char *answer;
    if (wsmsg_parse(text, len, &m, &e) < 0) {
        answer = wsmsg_error(err_code_name(e.code), e.msg, m.id_json, &n);
    } else if (m.op == WSMSG_SUBSCRIBE) {
        if (ws_allowed(s, &m.filter, &e) < 0 || livehub_subscribe(s->hub, &m.filter, &e) < 0)
            answer = wsmsg_error(err_code_name(e.code), e.msg, m.id_json, &n);
        else
            answer = wsmsg_ack(&m, 0, &n);
    } else {
        int removed = livehub_unsubscribe(s->hub, &m);
        answer = wsmsg_ack(&m, removed, &n);
    }
    ws_answer(s, answer, n);
}

static void ws_on_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
                      void *ud) {
    (void)ctx;
    ws_session_t *s = ud;
    switch (arg->opcode) {
    case WSLAY_PONG:
        s->last_pong_us = util_now_us();
        break;
    case WSLAY_BINARY_FRAME:
        ws_close(s, WS_CLOSE_UNSUPPORTED, "binary messages are not supported", WS_LINGER_MS);
        break;
    case WSLAY_TEXT_FRAME: /* wslay checked UTF-8 (1007 otherwise) and the size (1009) */
        s->msgs_in++;
        if (!s->closing) ws_client_message(s, (const char *)arg->msg, arg->msg_length);
        break;
    case WSLAY_CONNECTION_CLOSE:
        if (!s->end_reason) s->end_reason = "client closed";
        break;
    default: /* pings are answered by wslay */
        break;
    }
}

/* ---- the session loop ---------------------------------------------------------------- */

/* Moves hub messages into wslay while it holds few; returns how many moved. */
static size_t ws_feed(ws_session_t *s) {
    size_t moved = 0;
    while (!s->closing && wslay_event_get_queued_msg_count(s->ctx) < WS_FEED_MAX) {
        livehub_msg_t *m = livehub_conn_pop(s->hub);
        if (!m) break;
        struct wslay_event_msg wm = {WSLAY_TEXT_FRAME, (const uint8_t *)m->data, m->len};
        wslay_event_queue_msg(s->ctx, &wm);
        livehub_msg_unref(m);
        s->msgs_out++;
        moved++;
    }
    return moved;
}

/* Feeds and sends until the hub queue is empty or the socket is full. */
static int ws_pump(ws_session_t *s) {
    for (;;) {
        size_t moved = ws_feed(s);
        if (wslay_event_want_write(s->ctx) && wslay_event_send(s->ctx) < 0) return -1;
        if (!moved || wslay_event_want_write(s->ctx)) return 0;
    }
}

/* Hub state changes: slow consumer (1008) or server shutdown (1001). */
static void ws_check_hub(ws_session_t *s, uint64_t now) {
    livehub_state_t st = livehub_conn_state(s->hub);
    if (s->closing) {
        /* shutdown does not wait out a slow consumer's longer linger */
        if (st == LIVEHUB_CLOSING && s->close_deadline_us > now + WS_LINGER_MS * 1000)
            s->close_deadline_us = now + WS_LINGER_MS * 1000;
        return;
    }
    if (st == LIVEHUB_OVERFLOW) {
        size_t msgs = 0, bytes = 0;
        livehub_conn_overflow_info(s->hub, &msgs, &bytes);
        log_json(LOG_WARN, &(log_ctx_t){.request_id = s->request_id},
                 json_pack("{s:s,s:s,s:I,s:I}", "ws_id", s->id, "reason", "slow_consumer",
                           "queued_messages", (json_int_t)msgs, "queued_bytes", (json_int_t)bytes),
                 "ws: client dropped");
        ws_close(s, WS_CLOSE_POLICY, "slow consumer", WS_LINGER_SLOW_MS);
    } else if (st == LIVEHUB_CLOSING) {
        ws_close(s, WS_CLOSE_GOING_AWAY, "server shutting down", WS_LINGER_MS);
    }
}

/* Pings every ping_ms; a client silent to pings for two intervals is dropped. */
static void ws_keepalive(ws_session_t *s, uint64_t now) {
    if (s->closing || now < s->next_ping_us) return;
    if (now - s->last_pong_us > 2ULL * s->ping_ms * 1000) {
        livehub_count_drop(LIVEHUB_DROP_PING);
        log_json(LOG_WARN, &(log_ctx_t){.request_id = s->request_id},
                 json_pack("{s:s,s:s}", "ws_id", s->id, "reason", "ping_timeout"),
                 "ws: client dropped");
        ws_close(s, WS_CLOSE_POLICY, "ping timeout", WS_LINGER_MS);
        return;
    }
    char payload[24];
    int n = snprintf(payload, sizeof payload, "%llu", (unsigned long long)now);
    struct wslay_event_msg m = {WSLAY_PING, (const uint8_t *)payload, (size_t)n};
    wslay_event_queue_msg(s->ctx, &m);
    s->next_ping_us = now + (uint64_t)s->ping_ms * 1000;
}

static int ws_poll_timeout(const ws_session_t *s, uint64_t now) {
    uint64_t until = s->closing ? s->close_deadline_us : s->next_ping_us;
    if (until <= now) return 0;
    uint64_t ms = (until - now + 999) / 1000;
    return ms > 60000 ? 60000 : (int)ms;
}

static void ws_loop(ws_session_t *s) {
    if (s->extra_len && wslay_event_recv(s->ctx) < 0) return;
    for (;;) {
        uint64_t now = util_now_us();
        ws_check_hub(s, now);
        ws_keepalive(s, now);
        if (ws_pump(s) < 0) return;
        if (!s->closing && wslay_event_get_queued_msg_count(s->ctx) > WS_QUEUED_MAX) {
            /* e.g. a ping flood from a client that does not read the pongs */
            livehub_count_drop(LIVEHUB_DROP_SLOW);
            ws_close(s, WS_CLOSE_POLICY, "slow consumer", WS_LINGER_MS);
        }
        if (!wslay_event_want_read(s->ctx) && !wslay_event_want_write(s->ctx)) return;
        if (s->closing && now >= s->close_deadline_us) {
            if (!s->end_reason) s->end_reason = "close timed out";
            return;
        }
        struct pollfd p[2] = {
            {.fd = s->fd,
             .events = (short)((wslay_event_want_read(s->ctx) ? POLLIN : 0) |
                               (wslay_event_want_write(s->ctx) ? POLLOUT : 0))},
            {.fd = livehub_conn_fd(s->hub), .events = POLLIN},
        };
        int n = poll(p, 2, ws_poll_timeout(s, now));
        if (n < 0 && errno != EINTR) return;
        if (n <= 0) continue;
        if (p[1].revents) livehub_conn_clear_wake(s->hub);
        if ((p[0].revents & (POLLIN | POLLHUP | POLLERR)) && wslay_event_recv(s->ctx) < 0) return;
        if ((p[0].revents & POLLOUT) && wslay_event_send(s->ctx) < 0) return;
    }
}

/* After the closing handshake: stop sending and read what the peer still sends (e.g. the
 * rest of an oversized message), so the close does not turn into a reset that could make
 * the peer's kernel drop our close frame unread. */
static void ws_drain(int fd) {
    shutdown(fd, SHUT_WR);
    uint64_t deadline = util_now_us() + WS_DRAIN_MS * 1000;
    char buf[4096];
    for (;;) {
        uint64_t now = util_now_us();
        if (now >= deadline) return;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, (int)((deadline - now) / 1000) + 1) <= 0) return;
        ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) return;
    }
}

static void ws_set_socket(int fd) {
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0) fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    int one = 1, sndbuf = WS_SNDBUF;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
}

/* A session the hub refused (limit raced, or shutdown): a close frame and done. */
static void ws_refuse(int fd, uint16_t code, const char *reason) {
    uint8_t frame[2 + 2 + 64];
    size_t rn = strlen(reason);
    if (rn > 64) rn = 64;
    frame[0] = 0x88; /* FIN + close */
    frame[1] = (uint8_t)(2 + rn);
    frame[2] = (uint8_t)(code >> 8);
    frame[3] = (uint8_t)(code & 0xff);
    memcpy(frame + 4, reason, rn);
    ssize_t w = send(fd, frame, 4 + rn, MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)w;
    ws_drain(fd);
}

static void ws_log_end(ws_session_t *s) {
    uint16_t sent = wslay_event_get_status_code_sent(s->ctx);
    uint16_t recv = wslay_event_get_status_code_received(s->ctx);
    log_json(LOG_INFO, &(log_ctx_t){.request_id = s->request_id},
             json_pack("{s:s,s:i,s:i,s:I,s:I,s:I,s:s}", "ws_id", s->id, "close_sent", (int)sent,
                       "close_received", (int)recv, "messages_out", (json_int_t)s->msgs_out,
                       "messages_in", (json_int_t)s->msgs_in, "duration_us",
                       (json_int_t)(util_now_us() - s->start_us), "reason",
                       s->end_reason                         ? s->end_reason
                       : sent != WSLAY_CODE_ABNORMAL_CLOSURE ? "closed by the framing layer"
                                                             : "connection error"),
             "ws: closed");
}

/* Sessions whose thread has not yet handed the socket back to MHD: shutdown waits for
 * them before MHD_stop_daemon (which must not find an upgraded socket still in use). */
static atomic_int ws_sessions;

static void *ws_session_main(void *arg) {
    ws_session_t *s = arg;
    struct wslay_event_callbacks cb = {.recv_callback = ws_recv_cb,
                                       .send_callback = ws_send_cb,
                                       .on_msg_recv_callback = ws_on_msg};
    if (wslay_event_context_server_init(&s->ctx, &cb, s) != 0) {
        livehub_detach(s->hub);
        ws_refuse(s->fd, WS_CLOSE_INTERNAL, "out of memory");
    } else {
        wslay_event_config_set_max_recv_msg_length(s->ctx, WSMSG_MAX_LEN);
        s->start_us = s->last_pong_us = util_now_us();
        s->next_ping_us = s->start_us + (uint64_t)s->ping_ms * 1000;
        log_json(LOG_INFO, &(log_ctx_t){.request_id = s->request_id},
                 json_pack("{s:s}", "ws_id", s->id), "ws: connected");
        ws_loop(s);
        livehub_detach(s->hub);
        ws_log_end(s);
        wslay_event_context_free(s->ctx);
        ws_drain(s->fd);
    }
    MHD_upgrade_action(s->urh, MHD_UPGRADE_ACTION_CLOSE);
    free(s->extra_copy);
    free(s);
    atomic_fetch_sub(&ws_sessions, 1);
    return NULL;
}

/* Called by MHD on the connection's thread once the 101 went out. The session gets its
 * own thread: with TLS, MHD's connection thread must return to forward the encrypted
 * stream to the socket pair handed to us, so blocking here would stall the session. */
static void ws_upgraded(void *cls, struct MHD_Connection *conn, void *con_cls, const char *extra_in,
                        size_t extra_in_size, MHD_socket sock,
                        struct MHD_UpgradeResponseHandle *urh) {
    (void)cls;
    (void)conn;
    http_req_t *r = con_cls; /* freed by MHD's completion callback right after we return */
    ws_set_socket(sock);
    MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CORK_OFF);
    err_t e;
    ws_session_t *s = calloc(1, sizeof *s);
    /* the namespace authn picked for the upgrade request scopes everything it receives */
    livehub_conn_t *hub = s ? livehub_attach(r && r->ns[0] ? r->ns : API_NS, &e) : NULL;
    if (!s || !hub) {
        if (s && e.code == R3E_ELIMIT) livehub_count_rejected();
        ws_refuse(sock,
                  !s                     ? WS_CLOSE_INTERNAL
                  : e.code == R3E_ELIMIT ? WS_CLOSE_TRY_AGAIN
                                         : WS_CLOSE_GOING_AWAY,
                  s ? e.msg : "out of memory");
        free(s);
        MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
        return;
    }
    *s = (ws_session_t){
        .fd = sock, .hub = hub, .urh = urh, .ping_ms = livehub_config().ping_interval_ms};
    if (!s->ping_ms) s->ping_ms = 20000;
    s->perms = ws_permissions(r);
    snprintf(s->request_id, sizeof s->request_id, "%s", r ? r->request_id : "");
    util_ulid(s->id);
    if (extra_in_size && (s->extra_copy = malloc(extra_in_size)) != NULL) {
        memcpy(s->extra_copy, extra_in, extra_in_size);
        s->extra = s->extra_copy;
        s->extra_len = extra_in_size;
    }
    atomic_fetch_add(&ws_sessions, 1);
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&t, &attr, ws_session_main, s);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        atomic_fetch_sub(&ws_sessions, 1);
        livehub_detach(hub);
        ws_refuse(sock, WS_CLOSE_INTERNAL, "cannot start the session thread");
        free(s->extra_copy);
        free(s);
        MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
    }
}

int api_ws_shutdown(unsigned wait_ms) {
    livehub_shutdown();
    uint64_t deadline = util_now_us() + (uint64_t)wait_ms * 1000;
    while (atomic_load(&ws_sessions) > 0 && util_now_us() < deadline)
        usleep(10 * 1000);
    return atomic_load(&ws_sessions);
}
