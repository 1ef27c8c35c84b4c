/* The CLI's WebSocket client: non-blocking socket + poll, the upgrade handshake by hand
 * (it is one request and one response), wslay for frames. Every wait is bounded by the
 * caller's timeout, so a silent server cannot hang the handshake. */
#include "cli/wsclient.h"

#include "api/wsmsg.h"
#include "core/util.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netdb.h>
#include <openssl/evp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include <wslay/wslay.h>

#define WSC_HEAD_MAX (16 * 1024)
#define WSC_ERROR_BODY_MAX (64 * 1024)

typedef struct wsc_msg {
    struct wsc_msg *next;
    size_t len;
    char text[];
} wsc_msg_t;

struct wsc {
    int fd;
    wslay_event_context_ptr ctx;
    char *pre; /* bytes read past the handshake response, fed to wslay first */
    size_t pre_len, pre_off;
    wsc_msg_t *head, *tail;
    uint16_t close_code;
    char close_reason[128];
    bool ended;
};

bool wsc_supported(const char *base_url) {
    return base_url && strncasecmp(base_url, "http://", 7) == 0;
}

/* ---- URL and connect ----------------------------------------------------------------- */

typedef struct {
    char host[256];
    char port[8];
    char prefix[512]; /* path prefix of the base URL, without a trailing '/' */
} wsc_url_t;

static int wsc_parse_url(const char *url, wsc_url_t *u, err_t *err) {
    if (!wsc_supported(url))
        return err_set(err, R3E_EINVAL,
                       "live streams need an http:// server URL (got \"%.200s\"; wss is not "
                       "supported by the CLI yet)",
                       url ? url : "");
    const char *p = url + 7, *end = p + strcspn(p, "/");
    const char *colon = NULL;
    memset(u, 0, sizeof *u);
    if (*p == '[') { /* [v6]:port */
        const char *rb = memchr(p, ']', (size_t)(end - p));
        if (!rb) return err_set(err, R3E_EINVAL, "bad server URL \"%.200s\"", url);
        snprintf(u->host, sizeof u->host, "%.*s", (int)(rb - p - 1), p + 1);
        colon = rb[1] == ':' ? rb + 1 : NULL;
    } else {
        colon = memchr(p, ':', (size_t)(end - p));
        snprintf(u->host, sizeof u->host, "%.*s", (int)((colon ? colon : end) - p), p);
    }
    snprintf(u->port, sizeof u->port, "%.*s", colon ? (int)(end - colon - 1) : 2,
             colon ? colon + 1 : "80");
    snprintf(u->prefix, sizeof u->prefix, "%s", end);
    size_t n = strlen(u->prefix);
    while (n && u->prefix[n - 1] == '/')
        u->prefix[--n] = '\0';
    if (!u->host[0] || !u->port[0])
        return err_set(err, R3E_EINVAL, "bad server URL \"%.200s\"", url);
    return 0;
}

static int wsc_wait(int fd, short events, uint64_t deadline_us) {
    for (;;) {
        uint64_t now = util_now_us();
        if (now >= deadline_us) return 0;
        struct pollfd p = {.fd = fd, .events = events};
        int n = poll(&p, 1, (int)((deadline_us - now + 999) / 1000));
        if (n < 0 && errno == EINTR) continue;
        return n;
    }
}

static int wsc_dial(const wsc_url_t *u, uint64_t deadline, const char *url, err_t *err) {
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    int rc = getaddrinfo(u->host, u->port, &hints, &res);
    if (rc != 0)
        return err_set(err, R3E_EUNAVAIL, "%s: cannot resolve %s: %s", url, u->host,
                       gai_strerror(rc));
    int fd = -1, last = 0;
    for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) continue;
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) break;
        int soerr = errno;
        if (soerr == EINPROGRESS && wsc_wait(fd, POLLOUT, deadline) > 0) {
            socklen_t sl = sizeof soerr;
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
            if (soerr == 0) break;
        } else if (soerr == EINPROGRESS) {
            soerr = ETIMEDOUT;
        }
        last = soerr;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        return err_set(err, R3E_EUNAVAIL, "%s: cannot connect: %s", url,
                       strerror(last ? last : ECONNREFUSED));
    return fd;
}

static int wsc_write_all(int fd, const char *p, size_t n, uint64_t deadline, err_t *err) {
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) &&
            wsc_wait(fd, POLLOUT, deadline) > 0)
            continue;
        return err_set(err, R3E_EUNAVAIL, "cannot send to the server: %s",
                       w < 0 ? strerror(errno) : "timed out");
    }
    return 0;
}

/* ---- handshake ------------------------------------------------------------------------ */

/* The value of header `name` in the response head (case-insensitive), copied to out. */
static bool wsc_header(const char *head, const char *name, char *out, size_t cap) {
    size_t n = strlen(name);
    for (const char *p = strstr(head, "\r\n"); p && p[2]; p = strstr(p + 2, "\r\n")) {
        const char *line = p + 2;
        if (strncasecmp(line, name, n) != 0 || line[n] != ':') continue;
        const char *v = line + n + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        size_t len = strcspn(v, "\r\n");
        while (len && (v[len - 1] == ' ' || v[len - 1] == '\t'))
            len--;
        snprintf(out, cap, "%.*s", (int)len, v);
        return true;
    }
    return false;
}

static err_code_t wsc_status_code(long status) {
    switch (status) {
    case 400:
        return R3E_EINVAL;
    case 401:
        return R3E_EUNAUTH;
    case 403:
        return R3E_EFORBIDDEN;
    case 404:
        return R3E_ENOTFOUND;
    case 429:
        return R3E_ELIMIT;
    case 503:
        return R3E_EUNAVAIL;
    default:
        return R3E_EIO;
    }
}

/* A refused upgrade: the server's {"error":{code,message}} when it sent one. */
static int wsc_refused(int fd, long status, char *buf, size_t have, size_t head_len,
                       uint64_t deadline, err_t *err) {
    char cl[32] = "";
    buf[head_len - 2] = '\0'; /* headers end at the first of the two CRLFs */
    size_t want = wsc_header(buf, "Content-Length", cl, sizeof cl) ? strtoul(cl, NULL, 10) : 0;
    if (want > WSC_ERROR_BODY_MAX) want = WSC_ERROR_BODY_MAX;
    char *body = malloc(want + 1);
    size_t got = have - head_len < want ? have - head_len : want;
    if (body) memcpy(body, buf + head_len, got);
    while (body && got < want && wsc_wait(fd, POLLIN, deadline) > 0) {
        ssize_t n = recv(fd, body + got, want - got, 0);
        if (n <= 0) break;
        got += (size_t)n;
    }
    json_t *root = body ? json_loadb(body, got, 0, NULL) : NULL;
    json_t *e = json_object_get(root, "error");
    const char *msg = json_string_value(json_object_get(e, "message"));
    err_set(err, wsc_status_code(status), "%s",
            msg ? msg : "the server refused the WebSocket upgrade");
    if (!msg)
        snprintf(err->msg, sizeof err->msg, "http_%ld: the server refused the upgrade", status);
    json_decref(root);
    free(body);
    return -1;
}

static int wsc_handshake(wsc_t *c, const wsc_url_t *u, const char *path, const char *token,
                         const char *ns, uint64_t deadline, long *http_status, err_t *err) {
    uint8_t raw[16];
    char key[32], expect[29];
    util_random(raw, sizeof raw);
    EVP_EncodeBlock((unsigned char *)key, raw, sizeof raw);
    if (wsmsg_accept_key(key, expect) < 0) return err_set(err, R3E_EINTERNAL, "SHA-1 failed");
    bool v6 = strchr(u->host, ':') != NULL;
    char *req = NULL;
    int n = asprintf(&req,
                     "GET %s%s HTTP/1.1\r\nHost: %s%s%s:%s\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
                     "User-Agent: r3e-cli/0.1\r\n%s%s%s%s%s%s\r\n",
                     u->prefix, path, v6 ? "[" : "", u->host, v6 ? "]" : "", u->port, key,
                     token && *token ? "Authorization: Bearer " : "", token && *token ? token : "",
                     token && *token ? "\r\n" : "", ns && *ns ? "X-R3E-Namespace: " : "",
                     ns && *ns ? ns : "", ns && *ns ? "\r\n" : "");
    if (n < 0) return err_set(err, R3E_EINTERNAL, "out of memory");
    int rc = wsc_write_all(c->fd, req, (size_t)n, deadline, err);
    free(req);
    if (rc < 0) return -1;
    char *buf = malloc(WSC_HEAD_MAX + 1);
    if (!buf) return err_set(err, R3E_EINTERNAL, "out of memory");
    size_t have = 0;
    char *end = NULL;
    while (!end) {
        if (have == WSC_HEAD_MAX || wsc_wait(c->fd, POLLIN, deadline) <= 0) {
            free(buf);
            return err_set(err, R3E_EUNAVAIL, "no WebSocket handshake answer from the server");
        }
        ssize_t r = recv(c->fd, buf + have, WSC_HEAD_MAX - have, 0);
        if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (r <= 0) {
            free(buf);
            return err_set(err, R3E_EUNAVAIL,
                           "the server closed the connection during the "
                           "WebSocket handshake");
        }
        have += (size_t)r;
        buf[have] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    size_t head_len = (size_t)(end - buf) + 4;
    long status = 0;
    sscanf(buf, "HTTP/1.%*d %ld", &status);
    if (http_status) *http_status = status;
    if (status != 101) {
        wsc_refused(c->fd, status, buf, have, head_len, deadline, err);
        free(buf);
        return -1;
    }
    char accept[64] = "";
    buf[head_len - 2] = '\0';
    if (!wsc_header(buf, "Sec-WebSocket-Accept", accept, sizeof accept) ||
        strcmp(accept, expect) != 0) {
        free(buf);
        return err_set(err, R3E_EUNAVAIL, "the server's Sec-WebSocket-Accept does not match");
    }
    if (have > head_len && (c->pre = malloc(have - head_len)) != NULL) {
        memcpy(c->pre, buf + head_len, have - head_len);
        c->pre_len = have - head_len;
    }
    free(buf);
    return 0;
}

/* ---- wslay callbacks ------------------------------------------------------------------ */

static ssize_t wsc_recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
                           void *ud) {
    (void)flags;
    wsc_t *c = ud;
    if (c->pre_off < c->pre_len) {
        size_t n = c->pre_len - c->pre_off < len ? c->pre_len - c->pre_off : len;
        memcpy(buf, c->pre + c->pre_off, n);
        c->pre_off += n;
        return (ssize_t)n;
    }
    ssize_t n = recv(c->fd, buf, len, MSG_DONTWAIT);
    if (n > 0) return n;
    wslay_event_set_error(ctx, n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                                   ? WSLAY_ERR_WOULDBLOCK
                                   : WSLAY_ERR_CALLBACK_FAILURE);
    return -1;
}

static ssize_t wsc_send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
                           void *ud) {
    (void)flags;
    wsc_t *c = ud;
    ssize_t n = send(c->fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n >= 0) return n;
    wslay_event_set_error(ctx, errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR
                                   ? WSLAY_ERR_WOULDBLOCK
                                   : WSLAY_ERR_CALLBACK_FAILURE);
    return -1;
}

/* Client frames are masked with fresh random keys (RFC 6455 5.3). */
static int wsc_genmask_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *ud) {
    (void)ctx;
    (void)ud;
    util_random(buf, len);
    return 0;
}

static void wsc_on_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
                       void *ud) {
    (void)ctx;
    wsc_t *c = ud;
    if (arg->opcode == WSLAY_CONNECTION_CLOSE) {
        c->close_code = arg->status_code ? arg->status_code : WSLAY_CODE_NO_STATUS_RCVD;
        if (arg->msg_length > 2)
            snprintf(c->close_reason, sizeof c->close_reason, "%.*s", (int)(arg->msg_length - 2),
                     (const char *)arg->msg + 2);
        return;
    }
    if (arg->opcode != WSLAY_TEXT_FRAME) return;
    wsc_msg_t *m = malloc(sizeof *m + arg->msg_length + 1);
    if (!m) return;
    m->next = NULL;
    m->len = arg->msg_length;
    memcpy(m->text, arg->msg, arg->msg_length);
    m->text[m->len] = '\0';
    if (c->tail)
        c->tail->next = m;
    else
        c->head = m;
    c->tail = m;
}

/* ---- public --------------------------------------------------------------------------- */

wsc_t *wsc_connect(const char *base_url, const char *path, const char *token, const char *ns,
                   int timeout_ms, long *http_status, err_t *err) {
    wsc_url_t u;
    if (http_status) *http_status = 0;
    if (wsc_parse_url(base_url, &u, err) < 0) return NULL;
    uint64_t deadline = util_now_us() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 5000) * 1000;
    wsc_t *c = calloc(1, sizeof *c);
    if (!c) {
        err_set(err, R3E_EINTERNAL, "out of memory");
        return NULL;
    }
    c->fd = wsc_dial(&u, deadline, base_url, err);
    if (c->fd < 0 || wsc_handshake(c, &u, path, token, ns, deadline, http_status, err) < 0) {
        if (c->fd >= 0) close(c->fd);
        free(c->pre);
        free(c);
        return NULL;
    }
    struct wslay_event_callbacks cb = {.recv_callback = wsc_recv_cb,
                                       .send_callback = wsc_send_cb,
                                       .genmask_callback = wsc_genmask_cb,
                                       .on_msg_recv_callback = wsc_on_msg};
    if (wslay_event_context_client_init(&c->ctx, &cb, c) != 0) {
        close(c->fd);
        free(c->pre);
        free(c);
        err_set(err, R3E_EINTERNAL, "out of memory");
        return NULL;
    }
    return c;
}

/* One round of I/O: waits up to timeout_ms for the socket, then reads and writes what
 * wslay wants. -1 once the connection ended. */
static int wsc_step(wsc_t *c, int timeout_ms) {
    if (c->pre_off < c->pre_len && wslay_event_recv(c->ctx) < 0) goto ended;
    short ev = (short)((wslay_event_want_read(c->ctx) ? POLLIN : 0) |
                       (wslay_event_want_write(c->ctx) ? POLLOUT : 0));
    if (!ev) goto ended;
    struct pollfd p = {.fd = c->fd, .events = ev};
    int n = poll(&p, 1, timeout_ms);
    if (n < 0 && errno != EINTR) goto ended;
    if (n <= 0) return 0;
    if ((p.revents & (POLLIN | POLLHUP | POLLERR)) && wslay_event_recv(c->ctx) < 0) goto ended;
    if (wslay_event_want_write(c->ctx) && wslay_event_send(c->ctx) < 0) goto ended;
    return 0;
ended:
    c->ended = true;
    if (!c->close_code) c->close_code = WSLAY_CODE_ABNORMAL_CLOSURE;
    return -1;
}

int wsc_send_text(wsc_t *c, const char *text, size_t len, err_t *err) {
    struct wslay_event_msg m = {WSLAY_TEXT_FRAME, (const uint8_t *)text, len};
    if (c->ended || wslay_event_queue_msg(c->ctx, &m) != 0)
        return err_set(err, R3E_EUNAVAIL, "the WebSocket connection is closed");
    uint64_t deadline = util_now_us() + 5000 * 1000;
    while (wslay_event_want_write(c->ctx)) {
        if (wslay_event_send(c->ctx) < 0 || util_now_us() > deadline)
            return err_set(err, R3E_EUNAVAIL, "cannot send to the server");
        if (wslay_event_want_write(c->ctx) && wsc_wait(c->fd, POLLOUT, deadline) <= 0)
            return err_set(err, R3E_EUNAVAIL, "cannot send to the server");
    }
    return 0;
}

int wsc_recv(wsc_t *c, char **msg, size_t *len, int timeout_ms, err_t *err) {
    uint64_t deadline = timeout_ms < 0 ? UINT64_MAX : util_now_us() + (uint64_t)timeout_ms * 1000;
    for (;;) {
        if (c->head) {
            wsc_msg_t *m = c->head;
            c->head = m->next;
            if (!c->head) c->tail = NULL;
            *len = m->len;
            *msg = malloc(m->len + 1);
            if (*msg) memcpy(*msg, m->text, m->len + 1);
            free(m);
            if (!*msg) return err_set(err, R3E_EINTERNAL, "out of memory");
            return 1;
        }
        if (c->ended) break;
        uint64_t now = util_now_us();
        if (now >= deadline) return 0;
        uint64_t left_ms = deadline == UINT64_MAX ? 1000 : (deadline - now + 999) / 1000;
        if (wsc_step(c, left_ms > 1000 ? 1000 : (int)left_ms) < 0 && !c->head) break;
    }
    if (c->close_code == WSLAY_CODE_ABNORMAL_CLOSURE)
        err_set(err, R3E_EUNAVAIL, "the connection to the server broke");
    else
        err_set(err, R3E_EUNAVAIL, "the server closed the stream (%u%s%s)", c->close_code,
                c->close_reason[0] ? " " : "", c->close_reason);
    return -1;
}

uint16_t wsc_close_code(const wsc_t *c) {
    return c->close_code;
}

const char *wsc_close_reason(const wsc_t *c) {
    return c->close_reason;
}

void wsc_close(wsc_t *c) {
    if (!c) return;
    if (!c->ended && wslay_event_queue_close(c->ctx, 1000, NULL, 0) == 0) {
        uint64_t deadline = util_now_us() + 1000 * 1000; /* the server's close answer */
        while (!c->ended && util_now_us() < deadline)
            wsc_step(c, 100);
    }
    while (c->head) {
        wsc_msg_t *m = c->head;
        c->head = m->next;
        free(m);
    }
    wslay_event_context_free(c->ctx);
    close(c->fd);
    free(c->pre);
    free(c);
}
