/* Egress policy: address classification and the operator allow-list (see egress.h).
 * Addresses are normalised to 16-byte IPv6 form (IPv4 as ::ffff:a.b.c.d) so one matcher
 * handles both families, and so an IPv4 entry also matches its IPv4-mapped IPv6 form. */
#include "runtime/egress.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { ENTRY_NET, ENTRY_HOST } entry_kind_t;

typedef struct {
    entry_kind_t kind;
    uint8_t addr[16]; /* ENTRY_NET: network in IPv6 form */
    int prefix;       /* ENTRY_NET: prefix length over the 128-bit form */
    char *host;       /* ENTRY_HOST: lowercase name, or suffix ".example.com" for "*." */
    bool wildcard;
    int port; /* 0 = any */
} entry_t;

struct egress_policy {
    entry_t *v;
    size_t n;
};

static const uint8_t v4mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* Converts sa to 16-byte form and its port; false for non-IP families. */
static bool sa_to_v6(const struct sockaddr *sa, uint8_t out[16], int *port) {
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
        memcpy(out, v4mapped_prefix, 12);
        memcpy(out + 12, &s4->sin_addr, 4);
        if (port) *port = ntohs(s4->sin_port);
        return true;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
        memcpy(out, &s6->sin6_addr, 16);
        if (port) *port = ntohs(s6->sin6_port);
        return true;
    }
    return false;
}

static bool prefix_match(const uint8_t *a, const uint8_t *net, int bits) {
    int full = bits / 8, rest = bits % 8;
    if (memcmp(a, net, (size_t)full) != 0) return false;
    if (rest == 0) return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (a[full] & mask) == (net[full] & mask);
}

/* Classifies an IPv4 address given in network byte order. */
static const char *classify_v4(const uint8_t a[4]) {
    uint32_t x = ((uint32_t)a[0] << 24) | ((uint32_t)a[1] << 16) | ((uint32_t)a[2] << 8) | a[3];
    static const struct {
        uint32_t net;
        int bits;
        const char *why;
    } t[] = {
        {0x00000000, 8, "unspecified/this-network address"},
        {0x7f000000, 8, "loopback address"},
        {0x0a000000, 8, "private address"},
        {0xac100000, 12, "private address"},
        {0xc0a80000, 16, "private address"},
        {0x64400000, 10, "carrier-grade NAT address"},
        {0xa9fe0000, 16, "link-local/metadata address"},
        {0xc0000000, 24, "reserved address (IETF protocol assignments)"},
        {0xc0000200, 24, "reserved address (documentation)"},
        {0xc6336400, 24, "reserved address (documentation)"},
        {0xcb007100, 24, "reserved address (documentation)"},
        {0xc0586300, 24, "reserved address (6to4 relay anycast)"},
        {0xc6120000, 15, "reserved address (benchmarking)"},
        {0xe0000000, 4, "multicast address"},
        {0xf0000000, 4, "reserved address"}, /* includes 255.255.255.255 broadcast */
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        uint32_t mask = t[i].bits ? 0xffffffffu << (32 - t[i].bits) : 0;
        if ((x & mask) == t[i].net) return t[i].why;
    }
    return NULL;
}

static const char *classify_v6(const uint8_t a[16]) {
    static const uint8_t zero[16] = {0};
    static const uint8_t nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
    static const uint8_t metadata[16] = {0xfd, 0, 0x0e, 0xc2, 0, 0, 0,    0,
                                         0,    0, 0,    0,    0, 0, 0x02, 0x54};
    if (memcmp(a, v4mapped_prefix, 12) == 0) return classify_v4(a + 12);
    if (memcmp(a, zero, 15) == 0)
        return a[15] == 1   ? "loopback address"
               : a[15] == 0 ? "unspecified/this-network address"
                            : "reserved address (IPv4-compatible)";
    if (memcmp(a, zero, 12) == 0) return "reserved address (IPv4-compatible)";
    if (memcmp(a, nat64, 12) == 0) return classify_v4(a + 12); /* 64:ff9b::/96 */
    if (a[0] == 0x20 && a[1] == 0x02) {                        /* 6to4 2002:V4ADDR::/48 */
        const char *why = classify_v4(a + 2);
        return why;
    }
    if (memcmp(a, metadata, 16) == 0) return "link-local/metadata address";
    if ((a[0] & 0xfe) == 0xfc) return "private address (unique local)";
    if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80) return "link-local/metadata address";
    if (a[0] == 0xfe && (a[1] & 0xc0) == 0xc0) return "private address (site-local)";
    if (a[0] == 0xff) return "multicast address";
    if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x0d && a[3] == 0xb8)
        return "reserved address (documentation)";
    if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0 && a[3] == 0) return "reserved address (Teredo)";
    if ((a[0] & 0xe0) != 0x20) return "reserved address"; /* outside global unicast 2000::/3 */
    return NULL;
}

const char *egress_classify(const struct sockaddr *sa) {
    uint8_t a[16];
    if (!sa || !sa_to_v6(sa, a, NULL)) return "non-IP address";
    return classify_v6(a);
}

void egress_addr_str(const struct sockaddr *sa, char *buf, size_t n) {
    if (!n) return;
    buf[0] = 0;
    if (!sa) return;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, buf, (socklen_t)n);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, buf, (socklen_t)n);
    else
        snprintf(buf, n, "(family %d)", sa->sa_family);
}

/* ---- allow-list parsing ---- */

static bool parse_uint(const char *s, size_t len, long max, long *out) {
    if (len == 0 || len > 6) return false;
    long v = 0;
    for (size_t i = 0; i < len; i++) {
        if (!isdigit((unsigned char)s[i])) return false;
        v = v * 10 + (s[i] - '0');
    }
    if (v > max) return false;
    *out = v;
    return true;
}

/* "addr" or "addr/prefix" (IPv4 or IPv6) into a network entry. */
static bool parse_net(const char *s, size_t len, entry_t *e) {
    char buf[INET6_ADDRSTRLEN + 8];
    if (len == 0 || len >= sizeof buf) return false;
    memcpy(buf, s, len);
    buf[len] = 0;
    char *slash = strchr(buf, '/');
    long prefix = -1;
    if (slash) {
        *slash = 0;
        if (!parse_uint(slash + 1, strlen(slash + 1), 128, &prefix)) return false;
    }
    uint8_t v4[4];
    if (inet_pton(AF_INET, buf, v4) == 1) {
        if (prefix > 32) return false;
        memcpy(e->addr, v4mapped_prefix, 12);
        memcpy(e->addr + 12, v4, 4);
        e->prefix = 96 + (prefix < 0 ? 32 : (int)prefix);
    } else if (inet_pton(AF_INET6, buf, e->addr) == 1) {
        e->prefix = prefix < 0 ? 128 : (int)prefix;
    } else {
        return false;
    }
    e->kind = ENTRY_NET;
    return true;
}

static bool looks_numeric(const char *s, size_t len) {
    for (size_t i = 0; i < len; i++)
        if (!isdigit((unsigned char)s[i]) && s[i] != '.' && s[i] != '/') return false;
    return true;
}

/* Hostname or "*.suffix": labels of letters, digits, '-' and '_' that neither start nor
 * end with '-', at most 63 chars each and 253 in all. */
static bool parse_host(const char *s, size_t len, entry_t *e) {
    bool wildcard = len > 2 && s[0] == '*' && s[1] == '.';
    if (wildcard) {
        s += 1; /* keep the dot: matched as a suffix */
        len -= 1;
    }
    if (len == 0 || len > 253) return false;
    size_t label = 0;
    for (size_t i = wildcard ? 1 : 0; i <= len; i++) {
        char c = i < len ? s[i] : '.';
        if (c == '.') {
            if (label == 0 || s[i - 1] == '-') return false;
            label = 0;
        } else if (isalnum((unsigned char)c) || c == '_' || (c == '-' && label > 0)) {
            if (++label > 63) return false;
        } else {
            return false;
        }
    }
    e->kind = ENTRY_HOST;
    e->wildcard = wildcard;
    e->host = malloc(len + 1);
    if (!e->host) return false;
    for (size_t i = 0; i < len; i++)
        e->host[i] = (char)tolower((unsigned char)s[i]);
    e->host[len] = 0;
    return true;
}

static bool parse_entry(const char *s, size_t len, entry_t *e) {
    memset(e, 0, sizeof *e);
    long port = 0;
    if (s[0] == '[') { /* [v6 or v6/n] optionally followed by :port */
        const char *close = memchr(s, ']', len);
        if (!close) return false;
        size_t rest = len - (size_t)(close - s) - 1;
        if (rest > 0) {
            if (close[1] != ':' || !parse_uint(close + 2, rest - 1, 65535, &port) || port == 0)
                return false;
        }
        if (!memchr(s, ':', (size_t)(close - s))) return false; /* "[1.2.3.4]" */
        if (!parse_net(s + 1, (size_t)(close - s) - 1, e)) return false;
        e->port = (int)port;
        return true;
    }
    const char *colon = memchr(s, ':', len);
    if (colon && memchr(colon + 1, ':', len - (size_t)(colon - s) - 1))
        return parse_net(s, len, e); /* bare IPv6, no port possible */
    size_t hostlen = len;
    if (colon) {
        hostlen = (size_t)(colon - s);
        if (!parse_uint(colon + 1, len - hostlen - 1, 65535, &port) || port == 0) return false;
    }
    if (hostlen == 0) return false;
    if (looks_numeric(s, hostlen)) {
        if (!parse_net(s, hostlen, e)) return false;
    } else if (!parse_host(s, hostlen, e)) {
        return false;
    }
    e->port = (int)port;
    return true;
}

egress_policy_t *egress_policy_parse(const char *allow, err_t *err) {
    egress_policy_t *p = calloc(1, sizeof *p);
    if (!p) {
        err_set(err, R3E_EINTERNAL, "out of memory");
        return NULL;
    }
    const char *s = allow ? allow : "";
    while (*s) {
        const char *end = strchr(s, ',');
        if (!end) end = s + strlen(s);
        const char *a = s, *b = end;
        while (a < b && isspace((unsigned char)*a))
            a++;
        while (b > a && isspace((unsigned char)b[-1]))
            b--;
        if (b > a) {
            entry_t e;
            if (!parse_entry(a, (size_t)(b - a), &e)) {
                err_set(err, R3E_EINVAL, "malformed egress allow-list entry \"%.*s\"",
                        (int)(b - a > 200 ? 200 : b - a), a);
                free(e.host);
                egress_policy_free(p);
                return NULL;
            }
            entry_t *nv = realloc(p->v, (p->n + 1) * sizeof *nv);
            if (!nv) {
                free(e.host);
                egress_policy_free(p);
                err_set(err, R3E_EINTERNAL, "out of memory");
                return NULL;
            }
            p->v = nv;
            p->v[p->n++] = e;
        }
        s = *end ? end + 1 : end;
    }
    return p;
}

void egress_policy_free(egress_policy_t *p) {
    if (!p) return;
    for (size_t i = 0; i < p->n; i++)
        free(p->v[i].host);
    free(p->v);
    free(p);
}

size_t egress_policy_count(const egress_policy_t *p) {
    return p ? p->n : 0;
}

static bool host_match(const entry_t *e, const char *host) {
    size_t hl = strlen(host), el = strlen(e->host);
    if (hl && host[hl - 1] == '.') hl--; /* "example.com." is the same name */
    if (e->wildcard) return hl > el && strncasecmp(host + hl - el, e->host, el) == 0;
    return hl == el && strncasecmp(host, e->host, el) == 0;
}

bool egress_check(const egress_policy_t *p, const char *host, const struct sockaddr *sa, char *why,
                  size_t whylen) {
    uint8_t a[16];
    int port = 0;
    if (!sa || !sa_to_v6(sa, a, &port)) {
        snprintf(why, whylen, "non-IP address");
        return false;
    }
    for (size_t i = 0; p && i < p->n; i++) {
        const entry_t *e = &p->v[i];
        if (e->port && e->port != port) continue;
        if (e->kind == ENTRY_NET ? prefix_match(a, e->addr, e->prefix)
                                 : (host && host_match(e, host)))
            return true;
    }
    const char *c = classify_v6(a);
    if (!c) return true;
    snprintf(why, whylen, "%s", c);
    return false;
}
