/* httpc: blocking HTTP requests over libcurl's easy interface. One easy handle per
 * client is reused across requests so keep-alive connections are reused too. */
#include "cli/httpc.h"

#include <curl/curl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct httpc {
    CURL *curl;
    char *base;
    long connect_timeout_ms;
    char errbuf[CURL_ERROR_SIZE];
    char *auth_hdr, *ns_hdr;   /* "Authorization: Bearer …", "X-R3E-Namespace: …" or NULL */
    char *cacert, *cert, *key; /* TLS files or NULL */
};

/* A growable byte buffer for response bodies. */
typedef struct {
    char *data;
    size_t len, cap;
} buf_t;

static int buf_append(buf_t *b, const char *p, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *d = realloc(b->data, cap);
        if (!d) return -1;
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

void httpc_global_init(void) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

void httpc_global_cleanup(void) {
    curl_global_cleanup();
}

httpc_t *httpc_create(const char *base_url, long connect_timeout_ms, err_t *err) {
    if (!base_url || strncasecmp(base_url, "http://", 7) != 0) {
        if (!base_url || strncasecmp(base_url, "https://", 8) != 0) {
            err_set(err, R3E_EINVAL, "server URL must start with http:// or https:// (got \"%s\")",
                    base_url ? base_url : "");
            return NULL;
        }
    }
    httpc_t *c = calloc(1, sizeof(*c));
    if (!c) {
        err_set(err, R3E_EINTERNAL, "out of memory");
        return NULL;
    }
    c->curl = curl_easy_init();
    c->base = strdup(base_url);
    if (!c->curl || !c->base) {
        httpc_destroy(c);
        err_set(err, R3E_EINTERNAL, "cannot initialise libcurl");
        return NULL;
    }
    size_t n = strlen(c->base);
    while (n > 0 && c->base[n - 1] == '/')
        c->base[--n] = '\0';
    c->connect_timeout_ms = connect_timeout_ms > 0 ? connect_timeout_ms : 5000;
    return c;
}

void httpc_destroy(httpc_t *c) {
    if (!c) return;
    if (c->curl) curl_easy_cleanup(c->curl);
    free(c->base);
    free(c->auth_hdr);
    free(c->ns_hdr);
    free(c->cacert);
    free(c->cert);
    free(c->key);
    free(c);
}

const char *httpc_base_url(const httpc_t *c) {
    return c->base;
}

char *httpc_escape(httpc_t *c, const char *segment) {
    char *e = curl_easy_escape(c->curl, segment, 0);
    if (!e) return NULL;
    char *out = strdup(e);
    curl_free(e);
    return out;
}

static size_t collect_cb(char *p, size_t size, size_t nmemb, void *ud) {
    size_t n = size * nmemb;
    return buf_append(ud, p, n) == 0 ? n : 0;
}

/* Resets the handle to a known state and sets what every request shares. */
static int prepare(httpc_t *c, const char *method, const char *path, err_t *err) {
    curl_easy_reset(c->curl);
    size_t ulen = strlen(c->base) + strlen(path) + 1;
    char *url = malloc(ulen);
    if (!url) return err_set(err, R3E_EINTERNAL, "out of memory");
    snprintf(url, ulen, "%s%s", c->base, path);
    curl_easy_setopt(c->curl, CURLOPT_URL, url); /* libcurl copies the string */
    free(url);
    c->errbuf[0] = '\0';
    curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, c->errbuf);
    curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
    curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c->curl, CURLOPT_USERAGENT, "r3e-cli/0.1");
    curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp(method, "HEAD") == 0) curl_easy_setopt(c->curl, CURLOPT_NOBODY, 1L);
    if (c->cacert) curl_easy_setopt(c->curl, CURLOPT_CAINFO, c->cacert);
    if (c->cert) curl_easy_setopt(c->curl, CURLOPT_SSLCERT, c->cert);
    if (c->key) curl_easy_setopt(c->curl, CURLOPT_SSLKEY, c->key);
    return 0;
}

/* The credential and namespace headers every request carries. */
static struct curl_slist *common_headers(httpc_t *c, struct curl_slist *h) {
    if (c->auth_hdr) h = curl_slist_append(h, c->auth_hdr);
    if (c->ns_hdr) h = curl_slist_append(h, c->ns_hdr);
    return h;
}

static char *hdr_dup(const char *name, const char *v) {
    if (!v || !*v) return NULL;
    size_t n = strlen(name) + strlen(v) + 3;
    char *h = malloc(n);
    if (h) snprintf(h, n, "%s: %s", name, v);
    return h;
}

void httpc_set_credentials(httpc_t *c, const char *token, const char *ns) {
    free(c->auth_hdr);
    free(c->ns_hdr);
    char bearer[8192];
    snprintf(bearer, sizeof bearer, "Bearer %s", token ? token : "");
    c->auth_hdr = token && *token ? hdr_dup("Authorization", bearer) : NULL;
    c->ns_hdr = hdr_dup("X-R3E-Namespace", ns);
}

void httpc_set_tls(httpc_t *c, const char *cacert, const char *cert, const char *key) {
    free(c->cacert);
    free(c->cert);
    free(c->key);
    c->cacert = cacert && *cacert ? strdup(cacert) : NULL;
    c->cert = cert && *cert ? strdup(cert) : NULL;
    c->key = key && *key ? strdup(key) : NULL;
}

/* Turns a transport failure into an error that names the server and the reason. */
static int transport_error(httpc_t *c, CURLcode rc, err_t *err) {
    const char *why = c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc);
    return err_set(err, R3E_EUNAVAIL, "cannot reach server at %s: %s", c->base, why);
}

int httpc_request(httpc_t *c, const char *method, const char *path, const char *content_type,
                  const char *body, size_t body_len, httpc_response_t *out, err_t *err) {
    memset(out, 0, sizeof(*out));
    if (prepare(c, method, path, err) != 0) return -1;
    struct curl_slist *hdrs = NULL;
    if (body) {
        char ct[192];
        snprintf(ct, sizeof(ct), "Content-Type: %s", content_type ? content_type : "");
        hdrs = curl_slist_append(hdrs, ct);
        /* curl otherwise sends "Expect: 100-continue" for large bodies and waits for it. */
        hdrs = curl_slist_append(hdrs, "Expect:");
        curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    }
    hdrs = curl_slist_append(hdrs, "Accept: application/json");
    hdrs = common_headers(c, hdrs);
    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, hdrs);
    buf_t b = {0};
    curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, collect_cb);
    curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &b);
    CURLcode rc = curl_easy_perform(c->curl);
    curl_slist_free_all(hdrs);
    if (rc != CURLE_OK) {
        free(b.data);
        return transport_error(c, rc, err);
    }
    if (!b.data && buf_append(&b, "", 0) != 0) return err_set(err, R3E_EINTERNAL, "out of memory");
    out->body = b.data;
    out->len = b.len;
    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &out->status);
    char *ct = NULL;
    curl_easy_getinfo(c->curl, CURLINFO_CONTENT_TYPE, &ct);
    if (ct) snprintf(out->content_type, sizeof(out->content_type), "%s", ct);
    return 0;
}

typedef struct {
    httpc_t *c;
    httpc_chunk_fn cb;
    void *ud;
    buf_t errbody; /* body of a >= 400 response, collected instead of streamed */
    bool stopped;
} stream_t;

static size_t stream_cb(char *p, size_t size, size_t nmemb, void *ud) {
    stream_t *s = ud;
    size_t n = size * nmemb;
    long status = 0;
    curl_easy_getinfo(s->c->curl, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 400) return buf_append(&s->errbody, p, n) == 0 ? n : 0;
    if (s->cb(p, n, s->ud) != 0) {
        s->stopped = true;
        return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
    }
    return n;
}

int httpc_stream(httpc_t *c, const char *path, httpc_chunk_fn cb, void *ud, long *status,
                 char **err_body, err_t *err) {
    *status = 0;
    if (err_body) *err_body = NULL;
    if (prepare(c, "GET", path, err) != 0) return -1;
    struct curl_slist *hdrs = curl_slist_append(NULL, "Accept: application/x-ndjson");
    hdrs = common_headers(c, hdrs);
    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, hdrs);
    stream_t s = {.c = c, .cb = cb, .ud = ud};
    curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, stream_cb);
    curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &s);
    CURLcode rc = curl_easy_perform(c->curl);
    curl_slist_free_all(hdrs);
    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, status);
    if (rc != CURLE_OK && !(rc == CURLE_WRITE_ERROR && s.stopped)) {
        free(s.errbody.data);
        /* A stream the server ends abruptly after a good start is still a finished stream. */
        if (*status > 0 && *status < 400 && rc == CURLE_PARTIAL_FILE) return 0;
        return transport_error(c, rc, err);
    }
    if (err_body)
        *err_body = s.errbody.data;
    else
        free(s.errbody.data);
    return 0;
}

void httpc_response_free(httpc_response_t *r) {
    if (!r) return;
    free(r->body);
    r->body = NULL;
    r->len = 0;
}
