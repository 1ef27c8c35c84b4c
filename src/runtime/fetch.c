/* libcurl multi behind fetch() (see fetch.h). Each transfer owns a `xfer` with its
 * collected body and headers; the egress decision is made in the open-socket callback,
 * which curl calls for every resolved address it tries, redirects included, so the
 * policy sees what will really be connected to. */
#include "runtime/fetch.h"

#include <curl/curl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct xfer {
    struct xfer *prev, *next;
    fetch_client_t *client;
    CURL *easy;
    struct curl_slist *req_headers;
    fetch_done_fn done;
    void *ud;
    size_t max_bytes;
    fetch_redirect_t redirect;
    uint8_t *body;
    size_t body_len, body_cap;
    bool body_over; /* aborted: body cap exceeded */
    char **hdrs;    /* name, value pairs of the latest response */
    size_t nhdrs, hdrs_cap;
    char status_text[128];
    char refused[512]; /* first egress refusal, for the error message */
    char curl_err[CURL_ERROR_SIZE];
} xfer_t;

struct fetch_client {
    const egress_policy_t *policy;
    CURLM *multi;
    xfer_t *head;
    int n;
};

static bool g_curl_ready;

fetch_client_t *fetch_client_create(const egress_policy_t *policy, err_t *err) {
    if (!g_curl_ready) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            err_set(err, R3E_EINTERNAL, "curl_global_init failed");
            return NULL;
        }
        g_curl_ready = true;
    }
    fetch_client_t *c = calloc(1, sizeof *c);
    if (!c || !(c->multi = curl_multi_init())) {
        free(c);
        err_set(err, R3E_EINTERNAL, "curl_multi_init failed");
        return NULL;
    }
    c->policy = policy;
    curl_multi_setopt(c->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, 64L);
    return c;
}

static void xfer_free_headers(xfer_t *x) {
    for (size_t i = 0; i < x->nhdrs * 2; i++)
        free(x->hdrs[i]);
    x->nhdrs = 0;
}

static void xfer_free(xfer_t *x) {
    fetch_client_t *c = x->client;
    if (x->prev)
        x->prev->next = x->next;
    else
        c->head = x->next;
    if (x->next) x->next->prev = x->prev;
    c->n--;
    curl_multi_remove_handle(c->multi, x->easy);
    curl_easy_cleanup(x->easy);
    curl_slist_free_all(x->req_headers);
    xfer_free_headers(x);
    free(x->hdrs);
    free(x->body);
    free(x);
}

void fetch_abort_all(fetch_client_t *c, void (*drop)(void *ud)) {
    while (c && c->head) {
        xfer_t *x = c->head;
        void *ud = x->ud;
        xfer_free(x);
        if (drop) drop(ud);
    }
}

void fetch_client_destroy(fetch_client_t *c) {
    if (!c) return;
    fetch_abort_all(c, NULL);
    curl_multi_cleanup(c->multi);
    free(c);
}

int fetch_pending(const fetch_client_t *c) {
    return c ? c->n : 0;
}

/* Body sink: enforces the response cap while the body streams in (after decoding, so a
 * compressed bomb is stopped too). Returning less than asked aborts the transfer. */
static size_t on_body(char *p, size_t size, size_t nmemb, void *ud) {
    xfer_t *x = ud;
    size_t n = size * nmemb;
    if (x->max_bytes && x->body_len + n > x->max_bytes) {
        x->body_over = true;
        return 0;
    }
    if (x->body_len + n > x->body_cap) {
        size_t cap = x->body_cap ? x->body_cap : 16384;
        while (cap < x->body_len + n)
            cap *= 2;
        uint8_t *nb = realloc(x->body, cap);
        if (!nb) return 0;
        x->body = nb;
        x->body_cap = cap;
    }
    memcpy(x->body + x->body_len, p, n);
    x->body_len += n;
    return n;
}

static char *dup_trimmed(const char *s, size_t n) {
    while (n && (s[0] == ' ' || s[0] == '\t'))
        s++, n--;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        n--;
    char *r = malloc(n + 1);
    if (r) {
        memcpy(r, s, n);
        r[n] = 0;
    }
    return r;
}

/* Header sink: a status line starts a new response (redirect hops, 1xx), so only the
 * final response's headers survive. */
static size_t on_header(char *p, size_t size, size_t nmemb, void *ud) {
    xfer_t *x = ud;
    size_t n = size * nmemb;
    if (n >= 5 && memcmp(p, "HTTP/", 5) == 0) {
        xfer_free_headers(x);
        x->status_text[0] = 0;
        const char *sp = memchr(p, ' ', n); /* "HTTP/1.1 200 OK" */
        if (sp) sp = memchr(sp + 1, ' ', n - (size_t)(sp + 1 - p));
        if (sp) {
            char *t = dup_trimmed(sp + 1, n - (size_t)(sp + 1 - p));
            if (t) snprintf(x->status_text, sizeof x->status_text, "%s", t);
            free(t);
        }
        return n;
    }
    const char *colon = memchr(p, ':', n);
    if (!colon || colon == p) return n; /* blank line or garbage: ignore */
    if (x->nhdrs >= 1000) return n;     /* a hostile server cannot grow this unbounded */
    if (x->nhdrs + 1 > x->hdrs_cap) {
        size_t cap = x->hdrs_cap ? x->hdrs_cap * 2 : 16;
        char **nh = realloc(x->hdrs, cap * 2 * sizeof *nh);
        if (!nh) return 0;
        x->hdrs = nh;
        x->hdrs_cap = cap;
    }
    char *name = dup_trimmed(p, (size_t)(colon - p));
    char *value = dup_trimmed(colon + 1, n - (size_t)(colon + 1 - p));
    if (!name || !value) {
        free(name);
        free(value);
        return 0;
    }
    for (char *q = name; *q; q++)
        if (*q >= 'A' && *q <= 'Z') *q = (char)(*q + 32);
    x->hdrs[x->nhdrs * 2] = name;
    x->hdrs[x->nhdrs * 2 + 1] = value;
    x->nhdrs++;
    return n;
}

/* The URL host curl is currently connecting for (changes on redirects). */
static void current_host(xfer_t *x, char *out, size_t n) {
    out[0] = 0;
    char *url = NULL;
    if (curl_easy_getinfo(x->easy, CURLINFO_EFFECTIVE_URL, &url) != CURLE_OK || !url) return;
    CURLU *u = curl_url();
    char *host = NULL;
    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
        size_t l = strlen(host);
        if (l >= 2 && host[0] == '[')
            snprintf(out, n, "%.*s", (int)(l - 2), host + 1);
        else
            snprintf(out, n, "%s", host);
    }
    curl_free(host);
    curl_url_cleanup(u);
}

/* The egress gate: called for every address curl is about to connect to. */
static curl_socket_t on_open_socket(void *ud, curlsocktype purpose, struct curl_sockaddr *a) {
    xfer_t *x = ud;
    char host[256], why[128];
    current_host(x, host, sizeof host);
    if (purpose != CURLSOCKTYPE_IPCXN ||
        !egress_check(x->client->policy, host, &a->addr, why, sizeof why)) {
        if (purpose != CURLSOCKTYPE_IPCXN) snprintf(why, sizeof why, "unsupported socket type");
        if (!x->refused[0]) {
            char addr[64];
            egress_addr_str(&a->addr, addr, sizeof addr);
            if (host[0] && strcmp(host, addr) != 0)
                snprintf(x->refused, sizeof x->refused,
                         "fetch to %s (%s) refused by egress policy (%s)", host, addr, why);
            else
                snprintf(x->refused, sizeof x->refused, "fetch to %s refused by egress policy (%s)",
                         addr, why);
        }
        return CURL_SOCKET_BAD;
    }
    return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

static bool header_line_ok(const char *h) {
    return !strpbrk(h, "\r\n") && strchr(h, ':');
}

static bool has_header(const fetch_request_t *r, const char *name) {
    size_t l = strlen(name);
    for (size_t i = 0; i < r->nheaders; i++)
        if (strncasecmp(r->headers[i], name, l) == 0 && r->headers[i][l] == ':') return true;
    return false;
}

static int xfer_setup(xfer_t *x, const fetch_request_t *r, err_t *err) {
    CURL *e = x->easy;
    curl_easy_setopt(e, CURLOPT_URL, r->url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, r->redirect == FETCH_REDIRECT_FOLLOW ? 1L : 0L);
    curl_easy_setopt(e, CURLOPT_MAXREDIRS, (long)FETCH_MAX_REDIRECTS);
    curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(e, CURLOPT_PROXY, "");
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(e, CURLOPT_USERAGENT, "r3e-fetch/1");
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, r->timeout_ms > 0 ? r->timeout_ms : 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, r->timeout_ms > 0 ? r->timeout_ms : 1L);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->curl_err);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, x);
    if (r->max_bytes) curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)r->max_bytes);
    curl_easy_setopt(e, CURLOPT_PRIVATE, x);

    const char *m = r->method ? r->method : "GET";
    if (strcmp(m, "GET") == 0 && !r->body) {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(m, "HEAD") == 0) {
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else {
        /* POST keeps curl's 301/302/303 -> GET switch on redirects, as fetch does. */
        if (strcmp(m, "POST") != 0) curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, m);
        if (r->body || strcmp(m, "POST") == 0) {
            curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
            curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, r->body ? r->body : "");
        }
    }
    for (size_t i = 0; i < r->nheaders; i++) {
        if (!header_line_ok(r->headers[i]))
            return err_set(err, R3E_EINVAL, "invalid request header");
        struct curl_slist *l = curl_slist_append(x->req_headers, r->headers[i]);
        if (!l) return err_set(err, R3E_EINTERNAL, "out of memory");
        x->req_headers = l;
    }
    /* Suppress curl's own defaults that fetch would not send. */
    const char *defaults[] = {"Expect:", "Content-Type:", "Accept:"};
    const char *names[] = {"expect", "content-type", "accept"};
    for (size_t i = 0; i < 3; i++) {
        if (has_header(r, names[i])) continue;
        const char *line = i == 2 ? "Accept: */*" : defaults[i];
        struct curl_slist *l = curl_slist_append(x->req_headers, line);
        if (!l) return err_set(err, R3E_EINTERNAL, "out of memory");
        x->req_headers = l;
    }
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->req_headers);
    return 0;
}

int fetch_start(fetch_client_t *c, const fetch_request_t *req, fetch_done_fn done, void *ud,
                err_t *err) {
    xfer_t *x = calloc(1, sizeof *x);
    if (!x || !(x->easy = curl_easy_init())) {
        free(x);
        return err_set(err, R3E_EINTERNAL, "curl_easy_init failed");
    }
    x->client = c;
    x->done = done;
    x->ud = ud;
    x->max_bytes = req->max_bytes;
    x->redirect = req->redirect;
    x->next = c->head;
    if (c->head) c->head->prev = x;
    c->head = x;
    c->n++;
    if (xfer_setup(x, req, err) != 0) {
        xfer_free(x);
        return -1;
    }
    CURLMcode mc = curl_multi_add_handle(c->multi, x->easy);
    if (mc != CURLM_OK) {
        xfer_free(x);
        return err_set(err, R3E_EINTERNAL, "curl_multi_add_handle: %s", curl_multi_strerror(mc));
    }
    return 0;
}

/* Turns curl's outcome into the message a user sees. */
static void xfer_error(xfer_t *x, CURLcode rc, long status, char *buf, size_t n, const char **out) {
    *out = NULL;
    if (x->refused[0] && rc != CURLE_OK) {
        *out = x->refused;
    } else if (x->body_over || rc == CURLE_FILESIZE_EXCEEDED) {
        snprintf(buf, n, "response body exceeds %zu bytes", x->max_bytes);
        *out = buf;
    } else if (rc == CURLE_OPERATION_TIMEDOUT) {
        snprintf(buf, n, "fetch timed out (invocation deadline reached)");
        *out = buf;
    } else if (rc == CURLE_TOO_MANY_REDIRECTS) {
        snprintf(buf, n, "fetch failed: more than %d redirects", FETCH_MAX_REDIRECTS);
        *out = buf;
    } else if (rc == CURLE_UNSUPPORTED_PROTOCOL) {
        snprintf(buf, n, "fetch failed: only http and https URLs are allowed (%s)",
                 x->curl_err[0] ? x->curl_err : curl_easy_strerror(rc));
        *out = buf;
    } else if (rc != CURLE_OK) {
        snprintf(buf, n, "fetch failed: %s", x->curl_err[0] ? x->curl_err : curl_easy_strerror(rc));
        *out = buf;
    } else if (x->redirect == FETCH_REDIRECT_ERROR && status >= 300 && status < 400) {
        snprintf(buf, n, "fetch failed: redirect (%ld) with redirect mode \"error\"", status);
        *out = buf;
    }
}

static void xfer_finish(xfer_t *x, CURLcode rc) {
    long status = 0, redirects = 0;
    char *url = NULL;
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(x->easy, CURLINFO_REDIRECT_COUNT, &redirects);
    curl_easy_getinfo(x->easy, CURLINFO_EFFECTIVE_URL, &url);
    char msg[512];
    fetch_result_t res = {0};
    xfer_error(x, rc, status, msg, sizeof msg, &res.error);
    if (!res.error) {
        res.status = status;
        res.status_text = x->status_text;
        res.url = url ? url : "";
        res.redirected = redirects > 0;
        res.headers = (const char *const *)x->hdrs;
        res.nheaders = x->nhdrs;
        res.body = x->body;
        res.body_len = x->body_len;
    }
    x->done(x->ud, &res);
    if (res.body != x->body) x->body = NULL; /* the callback took it */
    xfer_free(x);
}

int fetch_wait(fetch_client_t *c, int extra_fd, int timeout_ms) {
    struct curl_waitfd w = {.fd = extra_fd, .events = CURL_WAIT_POLLIN};
    int ready = 0, numfds = 0;
    if (c->n == 0) { /* nothing for curl to do: a plain poll is cheaper */
        struct pollfd p = {.fd = extra_fd, .events = POLLIN};
        int r = poll(&p, extra_fd >= 0 ? 1 : 0, timeout_ms);
        return r > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR)) ? 1 : 0;
    }
    curl_multi_poll(c->multi, extra_fd >= 0 ? &w : NULL, extra_fd >= 0 ? 1 : 0, timeout_ms,
                    &numfds);
    if (extra_fd >= 0 && (w.revents & (CURL_WAIT_POLLIN | CURL_WAIT_POLLPRI))) ready = 1;
    int running = 0;
    curl_multi_perform(c->multi, &running);
    CURLMsg *m;
    int left = 0;
    while ((m = curl_multi_info_read(c->multi, &left))) {
        if (m->msg != CURLMSG_DONE) continue;
        xfer_t *x = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        CURLcode rc = m->data.result;
        if (x) xfer_finish(x, rc); /* runs JS via the callback; m is not used after */
    }
    if (extra_fd >= 0 && !ready) { /* curl_multi_poll may not report POLLHUP */
        struct pollfd p = {.fd = extra_fd, .events = POLLIN};
        if (poll(&p, 1, 0) > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR))) ready = 1;
    }
    return ready;
}
