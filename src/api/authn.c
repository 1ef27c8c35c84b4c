/* Authentication, authorization, namespaces, rate limits and the audit trail for every
 * request (the per-request sequence of src/auth/README.md), run by srv_dispatch right
 * after the router found a handler.
 *
 * Namespace addressing: a request names its namespace with the X-R3E-Namespace header.
 * Without it, a namespace-scoped credential acts in its own namespace and everything else
 * in "default". Naming a namespace the credential does not reach is a 403 (auth_check).
 * HTTP triggers name it in the path instead (/ns/{ns}/fn/{name}/…; /fn/… is "default"),
 * because webhook senders cannot always add headers. */
#include "api/api.h"

#include "auth/apikey.h"
#include "auth/audit.h"
#include "auth/jwt.h"
#include "auth/ratelimit.h"
#include "auth/rbac.h"
#include "core/util.h"
#include "obs/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define AUTHN_NS_HEADER "X-R3E-Namespace"

/* ---- start-up ------------------------------------------------------------------------ */

static bool authn_loopback(const char *host) {
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, host, &a4) == 1) return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, host, &a6) == 1) return IN6_IS_ADDR_LOOPBACK(&a6);
    return strcmp(host, "localhost") == 0;
}

/* Writes data to path with mode 0600, created fresh (an existing file is replaced). */
static int authn_write_secret(const char *path, const char *data, size_t len, err_t *err) {
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return err_set(err, R3E_EIO, "cannot write %s: %s", tmp, strerror(errno));
    ssize_t w = write(fd, data, len);
    if (close(fd) != 0 || w != (ssize_t)len || rename(tmp, path) != 0)
        return err_set(err, R3E_EIO, "cannot write %s: %s", path, strerror(errno));
    return 0;
}

/* The ES256 server key: read from the file, or generated and persisted there on first
 * start so tokens survive a restart. *pem malloc'ed. */
static int authn_es256_key(const api_config_t *cfg, char **pem, err_t *err) {
    char path[1100];
    if (cfg->jwt_key_file[0])
        snprintf(path, sizeof path, "%s", cfg->jwt_key_file);
    else
        snprintf(path, sizeof path, "%s/jwt-es256.pem", cfg->data);
    size_t len;
    *pem = util_read_file(path, &len);
    if (*pem) return 0;
    if (errno != ENOENT) return err_set(err, R3E_EIO, "cannot read %s: %s", path, strerror(errno));
    if (auth_jwt_generate_es256(pem, err) < 0) return -1;
    if (authn_write_secret(path, *pem, strlen(*pem), err) < 0) {
        free(*pem);
        *pem = NULL;
        return -1;
    }
    log_info("created the JWT signing key %s", path);
    return 0;
}

static int authn_jwt_init(api_t *api, err_t *err) {
    const api_config_t *cfg = &api->cfg;
    char *pem = NULL, *secret = NULL;
    size_t secret_len = 0;
    if (authn_es256_key(cfg, &pem, err) < 0) return -1;
    if (cfg->jwt_secret_file[0]) {
        secret = util_read_file(cfg->jwt_secret_file, &secret_len);
        if (!secret) {
            free(pem);
            return err_set(err, R3E_EINVAL, "cannot read --jwt-secret-file %s",
                           cfg->jwt_secret_file);
        }
        while (secret_len && (secret[secret_len - 1] == '\n' || secret[secret_len - 1] == '\r'))
            secret[--secret_len] = '\0';
    }
    api->jwt = auth_jwt_new(
        &(auth_jwt_config_t){.issuer = cfg->jwt_issuer,
                             .audience = cfg->jwt_audience,
                             .leeway_s = -1,
                             .hs256_secret = (const unsigned char *)secret,
                             .hs256_secret_len = secret_len,
                             .es256_private_pem = pem,
                             .jwks_path = cfg->jwks_file[0] ? cfg->jwks_file : NULL,
                             .jwks_issuer = cfg->jwks_issuer[0] ? cfg->jwks_issuer : NULL},
        err);
    free(pem);
    if (secret) {
        memset(secret, 0, secret_len);
        free(secret);
    }
    return api->jwt ? 0 : -1;
}

/* First start with authentication: the admin key, shown once (stdout and/or a 0600 file). */
static int authn_bootstrap(api_t *api, err_t *err) {
    bool created = false;
    char key[AUTH_APIKEY_BUF];
    if (auth_bootstrap_admin(api->store, &created, key, err) < 0) return -1;
    if (!created) return 0;
    int rc = 0;
    if (api->cfg.admin_key_file[0]) {
        char line[AUTH_APIKEY_BUF + 1];
        int n = snprintf(line, sizeof line, "%s\n", key);
        rc = authn_write_secret(api->cfg.admin_key_file, line, (size_t)n, err);
        if (rc == 0) log_warn("admin API key written to %s (shown once)", api->cfg.admin_key_file);
    }
    printf("Admin API key (shown once, store it safely): %s\n", key);
    fflush(stdout);
    memset(key, 0, sizeof key);
    return rc;
}

int api_authn_init(api_t *api, err_t *err) {
    api_config_t *cfg = &api->cfg;
    bool loop = authn_loopback(cfg->host);
    if (cfg->auth == 0 && !(cfg->dev && loop))
        return err_set(err, R3E_EINVAL,
                       "--auth off is allowed only with --dev on a loopback address (listening "
                       "on %s)",
                       cfg->host);
    api->auth_on = cfg->auth == 1 || (cfg->auth == -1 && !(cfg->dev && loop));
    if (authn_jwt_init(api, err) < 0) return -1;
    api->rl_key = auth_ratelimit_new(
        &(auth_ratelimit_config_t){.rate = cfg->rl_key_rate, .burst = cfg->rl_key_burst}, err);
    if (!api->rl_key) return -1;
    api->rl_ns = auth_ratelimit_new(
        &(auth_ratelimit_config_t){.rate = cfg->rl_ns_rate, .burst = cfg->rl_ns_burst}, err);
    if (!api->rl_ns) return -1;
    /* unauthenticated traffic per client IP: on by default except where auth is off by
     * default (--dev on loopback), where e2e suites and benchmarks fire anonymous bursts */
    bool ip_on = cfg->rl_ip == 1 || (cfg->rl_ip == -1 && !(cfg->dev && loop));
    if (ip_on) {
        api->rl_ip = auth_ratelimit_new(
            &(auth_ratelimit_config_t){.rate = cfg->rl_ip_rate, .burst = cfg->rl_ip_burst}, err);
        if (!api->rl_ip) return -1;
        log_info("unauthenticated requests are limited to %g/s, burst %g, per client IP",
                 cfg->rl_ip_rate, cfg->rl_ip_burst);
    }
    if (cfg->audit_retention_days && api->store) {
        api->audit_pruner =
            auth_audit_pruner_start(api->store, cfg->audit_retention_days, NULL, err);
        if (!api->audit_pruner) return -1;
    }
    if (!api->auth_on) {
        log_warn("authentication is OFF (--dev on loopback %s): every local client has full "
                 "access; use --auth on to require API keys",
                 cfg->host);
        return 0;
    }
    log_info("authentication is on");
    return authn_bootstrap(api, err);
}

void api_authn_stop(api_t *api) {
    auth_audit_pruner_stop(api->audit_pruner);
    api->audit_pruner = NULL;
}

void api_authn_free(api_t *api) {
    api_authn_stop(api);
    auth_jwt_free(api->jwt);
    auth_ratelimit_free(api->rl_key);
    auth_ratelimit_free(api->rl_ns);
    auth_ratelimit_free(api->rl_ip);
    api->jwt = NULL;
    api->rl_key = api->rl_ns = api->rl_ip = NULL;
}

/* ---- per request --------------------------------------------------------------------- */

/* The client's address: ip (text, no port) and port; family 0 when unknown. */
static int authn_client(http_req_t *r, char ip[INET6_ADDRSTRLEN], unsigned *port) {
    ip[0] = '\0';
    *port = 0;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!ci || !ci->client_addr) return 0;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &s4->sin_addr, ip, INET6_ADDRSTRLEN);
        *port = ntohs(s4->sin_port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &s6->sin6_addr, ip, INET6_ADDRSTRLEN);
        *port = ntohs(s6->sin6_port);
    } else {
        return 0;
    }
    return sa->sa_family;
}

static void authn_source(http_req_t *r, char *out, size_t cap) {
    char ip[INET6_ADDRSTRLEN];
    unsigned port;
    int fam = authn_client(r, ip, &port);
    if (fam == AF_INET)
        snprintf(out, cap, "%s:%u", ip, port);
    else if (fam == AF_INET6)
        snprintf(out, cap, "[%s]:%u", ip, port);
    else
        out[0] = '\0';
}

static void authn_audit(http_req_t *r, const char *result, int status) {
    char source[80], action[300];
    authn_source(r, source, sizeof source);
    snprintf(action, sizeof action, "%s %s", r->method, r->url);
    err_t e;
    if (auth_audit_record(r->api->store,
                          &(auth_audit_event_t){.who = r->principal_id[0] ? r->principal_id : NULL,
                                                .ns = r->ns,
                                                .action = action,
                                                .target = r->function,
                                                .source = source,
                                                .result = result,
                                                .status = status,
                                                .request_id = r->request_id},
                          NULL, &e) < 0)
        log_msg(LOG_ERROR, &(log_ctx_t){.request_id = r->request_id},
                "could not write the audit record: %s", e.msg);
}

static bool authn_is_write(const char *method) {
    return strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0 &&
           strcmp(method, "OPTIONS") != 0;
}

/* Invocations and trigger calls are not administrative writes: the execution record is
 * their trail. Auth failures on them are still audited. */
static bool authn_is_invocation(const char *url) {
    size_t n = strlen(url);
    return strncmp(url, "/fn/", 4) == 0 || strncmp(url, "/ns/", 4) == 0 ||
           strncmp(url, "/hooks/", 7) == 0 || /* webhook deliveries: the event log */
           (n > 7 && strcmp(url + n - 7, "/invoke") == 0);
}

void api_authn_audit(http_req_t *r) {
    if (!r->status || !r->api->store) return;
    /* an anonymous 429 is the per-IP limiter shedding a flood: recording each one would let
     * the flood grow the log it is kept out of */
    if (r->status == 429 && !r->principal_id[0]) return;
    bool failure = r->status == 401 || r->status == 403;
    if (!failure && !(authn_is_write(r->method) && !authn_is_invocation(r->url))) return;
    const char *result = r->status == 401   ? "unauthenticated"
                         : r->status == 403 ? "denied"
                         : r->status == 429 ? "rate_limited"
                         : r->status < 400  ? "ok"
                                            : "error";
    authn_audit(r, result, r->status);
}

static void authn_send_401(http_req_t *r, const char *msg) {
    struct MHD_Response *resp = http_error_response(err_code_name(R3E_EUNAUTH), msg, NULL);
    if (resp)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"r3e\"");
    http_queue(r, 401, resp);
}

static void authn_send_429(http_req_t *r, uint32_t retry_after_s) {
    char msg[96], secs[16];
    snprintf(msg, sizeof msg, "rate limit exceeded; retry in %u s", retry_after_s);
    snprintf(secs, sizeof secs, "%u", retry_after_s);
    struct MHD_Response *resp = http_error_response(err_code_name(R3E_ELIMIT), msg, NULL);
    if (resp) MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, secs);
    http_queue(r, 429, resp);
}

/* Unauthenticated traffic (public routes without a valid credential, failed
 * authentication) takes a token from its client's bucket: one per IPv4 address, one per
 * IPv6 /64 (a single host is routinely given a whole /64, so per-address buckets would
 * let it spray). The limiter's table is bounded (LRU), so spraying addresses costs
 * memory only up to that bound. false after queueing 429. */
static bool authn_ip_ok(http_req_t *r) {
    if (!r->api->rl_ip) return true;
    char ip[INET6_ADDRSTRLEN], key[INET6_ADDRSTRLEN + 8];
    unsigned port;
    if (authn_client(r, ip, &port) == AF_INET6) {
        struct in6_addr a;
        if (inet_pton(AF_INET6, ip, &a) == 1 && !IN6_IS_ADDR_V4MAPPED(&a)) {
            memset(a.s6_addr + 8, 0, 8);
            inet_ntop(AF_INET6, &a, ip, sizeof ip);
        }
    }
    snprintf(key, sizeof key, "ip:%s", ip);
    uint32_t ra = 0;
    if (auth_ratelimit_take(r->api->rl_ip, key, &ra)) return true;
    authn_send_429(r, ra);
    return false;
}

/* Health probes are never limited: an orchestrator's probes share one address and a
 * refused probe would restart a healthy server. */
static bool authn_is_probe(const char *url) {
    return strcmp(url, "/healthz") == 0 || strcmp(url, "/readyz") == 0;
}

/* The credential after "Bearer " (NULL when absent or another scheme). */
static const char *authn_bearer(http_req_t *r) {
    const char *h = http_header(r, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h || strncasecmp(h, "Bearer ", 7) != 0) return NULL;
    h += 7;
    while (*h == ' ')
        h++;
    return *h ? h : NULL;
}

/* A JWT, and the API key it was made from still in force: revoking (or the expiry of) a
 * key recalls its tokens at once instead of at their exp, for one store point read. A sub
 * that names no key (external issuers) is not affected. */
static int authn_jwt(http_req_t *r, const char *tok, auth_principal_t *p, err_t *e) {
    uint64_t now = util_wall_ms();
    if (auth_jwt_verify(r->api->jwt, tok, (int64_t)(now / 1000), p, e) < 0) return -1;
    auth_apikey_t k;
    err_t ge;
    if (auth_apikey_get(r->api->store, p->id, &k, &ge) < 0)
        return ge.code == R3E_EIO ? (*e = ge, -1) : 0;
    if (k.revoked || (k.expires_ms && k.expires_ms <= now))
        return err_set(e, R3E_EUNAUTH,
                       "the API key this token was issued for is revoked or expired");
    return 0;
}

/* Verifies the bearer credential without answering: 0 with r->principal_* filled, or -1
 * with *e (R3E_EUNAUTH for a missing or bad credential). want: 0 = any, 1 = API key only,
 * 2 = JWT only. */
static int authn_verify(http_req_t *r, int want, err_t *e) {
    const char *cred = authn_bearer(r);
    if (!cred)
        return err_set(e, R3E_EUNAUTH,
                       "authentication required: send Authorization: Bearer <API key or token>");
    auth_principal_t p;
    bool is_key = auth_apikey_looks_like(cred);
    int rc;
    if ((want == 1 && !is_key) || (want == 2 && is_key))
        rc = err_set(e, R3E_EUNAUTH, want == 1 ? "an API key is required" : "a JWT is required");
    else if (is_key)
        rc = auth_apikey_verify(r->api->store, cred, util_wall_ms(), &p, NULL, e);
    else if (r->api->jwt)
        rc = authn_jwt(r, cred, &p, e);
    else
        rc = err_set(e, R3E_EUNAUTH, "invalid token");
    if (rc < 0) return -1;
    r->authed = true;
    r->principal_jwt = p.via_jwt;
    r->principal_role = (int)p.role;
    snprintf(r->principal_id, sizeof r->principal_id, "%s", p.id);
    snprintf(r->principal_ns, sizeof r->principal_ns, "%s", p.ns);
    return 0;
}

/* authn_verify, answering a failure: 401, or 429 once the client IP has used up its
 * allowance of unauthenticated requests (so failed attempts cannot be flooded), or 500
 * when the store failed. */
static int authn_identify(http_req_t *r, int want) {
    err_t e;
    if (authn_verify(r, want, &e) == 0) return 0;
    if (e.code != R3E_EUNAUTH)
        http_send_err(r, &e);
    else if (authn_ip_ok(r))
        authn_send_401(r, e.msg);
    return -1;
}

void api_authn_principal(const http_req_t *r, auth_principal_t *p) {
    memset(p, 0, sizeof *p);
    snprintf(p->id, sizeof p->id, "%s", r->principal_id);
    snprintf(p->ns, sizeof p->ns, "%s", r->principal_ns);
    p->role = (auth_role_t)r->principal_role;
    p->via_jwt = r->principal_jwt;
}

/* The request's namespace from the header; a namespace-scoped principal defaults to its
 * own. false after queueing 400 for a malformed name. */
static bool authn_pick_ns(http_req_t *r) {
    const char *h = http_header(r, AUTHN_NS_HEADER);
    if (h) {
        if (!util_valid_name(h)) {
            http_send_error(r, R3E_EINVAL, "%s must match [a-z0-9][a-z0-9-]{0,62}",
                            AUTHN_NS_HEADER);
            return false;
        }
        snprintf(r->ns, sizeof r->ns, "%s", h);
    } else if (r->authed && strcmp(r->principal_ns, AUTH_NS_ANY) != 0 && r->principal_ns[0]) {
        snprintf(r->ns, sizeof r->ns, "%s", r->principal_ns);
    } else {
        snprintf(r->ns, sizeof r->ns, "default");
    }
    return true;
}

/* Global resources are checked against "*" (only a global admin reaches them). */
static const char *authn_check_ns(http_req_t *r) {
    if (strcmp(r->url, "/metrics") == 0 || strncmp(r->url, "/v1/audit", 9) == 0 ||
        strncmp(r->url, "/v1/admin/", 10) == 0) /* server-wide operations (master key) */
        return AUTH_NS_ANY;
    return r->ns;
}

/* Takes a token from the principal's bucket (unless !per_key) and the namespace's (unless
 * !per_ns: a public route's namespace is known only to its handler). */
static bool authn_rate_take(http_req_t *r, bool per_key, bool per_ns) {
    uint32_t ra = 0;
    char key[96];
    snprintf(key, sizeof key, "key:%s", r->principal_id);
    bool ok = !per_key || auth_ratelimit_take(r->api->rl_key, key, &ra);
    if (ok && per_ns) {
        snprintf(key, sizeof key, "ns:%s", r->ns);
        ok = auth_ratelimit_take(r->api->rl_ns, key, &ra);
    }
    if (ok) return true;
    authn_send_429(r, ra);
    return false;
}

static bool authn_rate_ok(http_req_t *r) {
    return authn_rate_take(r, true, true);
}

bool api_authn_request(http_req_t *r, const route_match_t *m) {
    (void)m;
    uint32_t perm = 0;
    err_t e;
    if (auth_route_permission(r->method, r->url, &perm, &e) < 0) {
        /* deny by default: a served route without an RBAC entry is a bug caught here */
        http_send_error(r, R3E_ENOTFOUND, "no route for %.16s %.200s", r->method, r->url);
        return false;
    }
    r->perm = perm;
    /* public routes (health, HTTP triggers) take their namespace from the path, never
     * from the header: /fn/… is "default", /ns/{ns}/fn/… sets it in its handler */
    if (perm == AUTH_PUBLIC) {
        if (authn_is_probe(r->url)) return true;
        /* a valid credential makes it authenticated traffic: its key's bucket here, its
         * namespace's in api_authn_trigger once the handler knows it; anything else is
         * the client IP's */
        if (r->api->auth_on && authn_bearer(r)) {
            if (authn_verify(r, 0, &e) == 0) return authn_rate_take(r, true, false);
            if (e.code != R3E_EUNAUTH) {
                http_send_err(r, &e);
                return false;
            }
        }
        return authn_ip_ok(r);
    }
    if (!r->api->auth_on) return authn_pick_ns(r);
    if (authn_identify(r, 0) < 0) return false;
    if (!authn_pick_ns(r)) return false;
    auth_principal_t p;
    api_authn_principal(r, &p);
    if (auth_check(&p, perm, authn_check_ns(r), &e) < 0) {
        http_send_err(r, &e);
        return false;
    }
    return authn_rate_ok(r);
}

bool api_authn_trigger(http_req_t *r, const char *mode) {
    if (!r->api->auth_on || !mode[0] || strcmp(mode, "public") == 0) return true;
    int want = strcmp(mode, "key") == 0 ? 1 : 2;
    /* r->authed: verified (and rate-limited) by api_authn_request already */
    bool pre = r->authed;
    if (pre && (want == 1) == r->principal_jwt) {
        authn_send_401(r, want == 1 ? "an API key is required" : "a JWT is required");
        return false;
    }
    if (!pre && authn_identify(r, want) < 0) return false;
    auth_principal_t p;
    api_authn_principal(r, &p);
    err_t e;
    if (auth_check(&p, AUTH_PERM_FUNCTIONS_INVOKE, r->ns, &e) < 0) {
        http_send_err(r, &e);
        return false;
    }
    return authn_rate_take(r, !pre, true); /* pre: the key's token is taken */
}

/* `r3e server init --data DIR [--admin-key-file PATH]`: creates the admin key without
 * starting the server (for provisioning scripts), printed once like on a first start. */
int api_authn_init_main(int argc, char **argv) {
    log_init("server");
    api_t api = {0};
    err_t err;
    if (api_config_parse(&api.cfg, argc, argv, &err) < 0) {
        fprintf(stderr, "r3e server init: %s\n", err.msg);
        return 2;
    }
    if (api.cfg.help) {
        fprintf(stderr, "usage: r3e server init --data DIR [--admin-key-file PATH]\n");
        return 0;
    }
    if (mkdir(api.cfg.data, 0700) < 0 && errno != EEXIST) {
        fprintf(stderr, "r3e server init: cannot create %s: %s\n", api.cfg.data, strerror(errno));
        return 1;
    }
    api.store = store_open(api.cfg.data, &err);
    if (!api.store) {
        fprintf(stderr, "r3e server init: cannot open the store in %s: %s\n", api.cfg.data,
                err.msg);
        return 1;
    }
    bool created = false;
    char key[AUTH_APIKEY_BUF];
    int rc = auth_bootstrap_admin(api.store, &created, key, &err);
    if (rc == 0 && created && api.cfg.admin_key_file[0]) {
        char line[AUTH_APIKEY_BUF + 1];
        int n = snprintf(line, sizeof line, "%s\n", key);
        rc = authn_write_secret(api.cfg.admin_key_file, line, (size_t)n, &err);
    }
    if (rc < 0)
        fprintf(stderr, "r3e server init: %s\n", err.msg);
    else if (created)
        printf("Admin API key (shown once, store it safely): %s\n", key);
    else
        fprintf(stderr, "r3e server init: %s already has API keys; nothing to do\n", api.cfg.data);
    memset(key, 0, sizeof key);
    store_close(api.store);
    return rc < 0 ? 1 : 0;
}
