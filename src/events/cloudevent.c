/* CloudEvents 1.0 parsing and validation (see cloudevent.h for the contract). Every mode
 * ends in ce_normalize, so the three modes cannot disagree on what a valid event is. */
#include "events/cloudevent.h"

#include "core/util.h"

#include <ctype.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------------ small checks */

static bool is_leap(int y) {
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m) {
    static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : d[m - 1];
}

/* Reads exactly n digits at *p, advancing it; -1 when they are not all digits. */
static int read_digits(const char **p, int n) {
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i])) return -1;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    return v;
}

int ce_valid_rfc3339(const char *s) {
    const char *p = s;
    int y = read_digits(&p, 4);
    if (y < 0 || *p++ != '-') return 0;
    int mo = read_digits(&p, 2);
    if (mo < 1 || mo > 12 || *p++ != '-') return 0;
    int d = read_digits(&p, 2);
    if (d < 1 || d > days_in_month(y, mo)) return 0;
    if (*p != 'T' && *p != 't') return 0;
    p++;
    int h = read_digits(&p, 2);
    if (h < 0 || h > 23 || *p++ != ':') return 0;
    int mi = read_digits(&p, 2);
    if (mi < 0 || mi > 59 || *p++ != ':') return 0;
    int sec = read_digits(&p, 2);
    if (sec < 0 || sec > 60) return 0; /* 60: leap second */
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p)) return 0;
        while (isdigit((unsigned char)*p))
            p++;
    }
    if (*p == 'Z' || *p == 'z') return p[1] == '\0';
    if (*p != '+' && *p != '-') return 0;
    p++;
    int oh = read_digits(&p, 2);
    if (oh < 0 || oh > 23 || *p++ != ':') return 0;
    int om = read_digits(&p, 2);
    if (om < 0 || om > 59) return 0;
    return *p == '\0';
}

/* RFC 3986 URI-reference: only the characters the grammar allows, with valid %HH escapes.
 * (Structure is not checked further: any such string parses as a relative reference.) */
static bool valid_uri_ref(const char *s) {
    if (!*s) return false;
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '%') {
            if (!isxdigit((unsigned char)p[1]) || !isxdigit((unsigned char)p[2])) return false;
            p += 2;
            continue;
        }
        if (isalnum(c) || strchr("-._~:/?#[]@!$&'()*+,;=", c)) continue;
        return false;
    }
    return true;
}

/* An absolute URI: a scheme, ':' and URI-reference characters. */
static bool valid_uri(const char *s) {
    if (!isalpha((unsigned char)*s)) return false;
    const char *p = s + 1;
    while (isalnum((unsigned char)*p) || *p == '+' || *p == '-' || *p == '.')
        p++;
    return *p == ':' && valid_uri_ref(s);
}

/* RFC 2046 media type, loosely: type "/" subtype, optional parameters. */
static bool valid_media_type(const char *s) {
    const char *slash = strchr(s, '/');
    const char *semi = strchr(s, ';');
    return slash && slash != s && (!semi || slash < semi) && slash[1] && slash[1] != ';';
}

static bool valid_ext_name(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > CE_MAX_EXT_NAME) return false;
    for (size_t i = 0; i < n; i++)
        if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]))) return false;
    return true;
}

static bool valid_base64(const char *s) {
    size_t n = strlen(s);
    size_t cap = n / 4 * 3 + 3;
    unsigned char *buf = malloc(cap ? cap : 1);
    size_t outlen = 0;
    const char *end = NULL;
    int rc = sodium_base642bin(buf, cap, s, n, NULL, &outlen, &end, sodium_base64_VARIANT_ORIGINAL);
    free(buf);
    return rc == 0 && end == s + n;
}

/* Valid UTF-8 without NUL bytes (what a JSON string can carry losslessly). */
static bool valid_utf8_text(const unsigned char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c == 0) return false;
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        uint32_t cp;
        if ((c & 0xe0) == 0xc0)
            len = 2, cp = c & 0x1f;
        else if ((c & 0xf0) == 0xe0)
            len = 3, cp = c & 0x0f;
        else if ((c & 0xf8) == 0xf0)
            len = 4, cp = c & 0x07;
        else
            return false;
        if (i + len > n) return false;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80) return false;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += len;
    }
    return true;
}

/* ------------------------------------------------------------------ normalize */

static const char *const CONTEXT_ATTRS[] = {
    "specversion",     "id",         "source", "type", "time", "subject",
    "datacontenttype", "dataschema", NULL};

static bool is_context_attr(const char *k) {
    for (int i = 0; CONTEXT_ATTRS[i]; i++)
        if (strcmp(CONTEXT_ATTRS[i], k) == 0) return true;
    return false;
}

/* The string value of attribute `name`, or NULL with *err set when present but not a
 * non-empty string. *present tells absent from bad. */
static const char *attr_string(json_t *obj, const char *name, bool *present, err_t *err) {
    json_t *v = json_object_get(obj, name);
    *present = v != NULL;
    if (!v) return NULL;
    if (!json_is_string(v)) {
        err_set(err, R3E_EINVAL, "attribute '%s' must be a string", name);
        return NULL;
    }
    if (json_string_length(v) == 0) {
        err_set(err, R3E_EINVAL, "attribute '%s' must not be empty", name);
        return NULL;
    }
    return json_string_value(v);
}

/* Drops null-valued attributes: the JSON format treats them as absent. */
static void drop_nulls(json_t *obj) {
    const char *k;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(obj, tmp, k, v) {
        if (json_is_null(v) && strcmp(k, "data") != 0) json_object_del(obj, k);
    }
}

static int check_context_attrs(json_t *obj, err_t *err) {
    bool present;
    const char *sv = attr_string(obj, "specversion", &present, err);
    if (!present) return err_set(err, R3E_EINVAL, "missing 'specversion'");
    if (!sv) return -1;
    if (strcmp(sv, "1.0") != 0)
        return err_set(err, R3E_EINVAL, "attribute 'specversion' must be \"1.0\", got \"%.40s\"",
                       sv);
    const char *src = attr_string(obj, "source", &present, err);
    if (!present) return err_set(err, R3E_EINVAL, "missing 'source'");
    if (!src) return -1;
    if (!valid_uri_ref(src))
        return err_set(err, R3E_EINVAL, "attribute 'source' is not a URI-reference: \"%.80s\"",
                       src);
    const char *type = attr_string(obj, "type", &present, err);
    if (!present) return err_set(err, R3E_EINVAL, "missing 'type'");
    if (!type) return -1;
    if (!attr_string(obj, "id", &present, err) && present) return -1;
    const char *t = attr_string(obj, "time", &present, err);
    if (present && !t) return -1;
    if (t && !ce_valid_rfc3339(t))
        return err_set(err, R3E_EINVAL,
                       "attribute 'time' is not RFC 3339: \"%.60s\" (e.g. 2026-01-02T03:04:05Z)",
                       t);
    if (!attr_string(obj, "subject", &present, err) && present) return -1;
    const char *dct = attr_string(obj, "datacontenttype", &present, err);
    if (present && !dct) return -1;
    if (dct && !valid_media_type(dct))
        return err_set(err, R3E_EINVAL,
                       "attribute 'datacontenttype' is not a media type: \"%.80s\"", dct);
    const char *ds = attr_string(obj, "dataschema", &present, err);
    if (present && !ds) return -1;
    if (ds && !valid_uri(ds))
        return err_set(err, R3E_EINVAL, "attribute 'dataschema' is not an absolute URI: \"%.80s\"",
                       ds);
    return 0;
}

static int check_data_and_extensions(json_t *obj, err_t *err) {
    json_t *b64 = json_object_get(obj, "data_base64");
    if (b64) {
        if (json_object_get(obj, "data"))
            return err_set(err, R3E_EINVAL, "attributes 'data' and 'data_base64' are exclusive");
        if (!json_is_string(b64) || !valid_base64(json_string_value(b64)))
            return err_set(err, R3E_EINVAL, "attribute 'data_base64' is not valid base64");
    }
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v) {
        if (is_context_attr(k) || strcmp(k, "data") == 0 || strcmp(k, "data_base64") == 0) continue;
        if (!valid_ext_name(k))
            return err_set(err, R3E_EINVAL,
                           "extension attribute '%.40s': names are 1-%d lowercase letters or "
                           "digits",
                           k, CE_MAX_EXT_NAME);
        if (!(json_is_string(v) || json_is_integer(v) || json_is_boolean(v)))
            return err_set(err, R3E_EINVAL,
                           "extension attribute '%s' must be a string, integer or boolean", k);
    }
    return 0;
}

/* Fills what the platform may generate: id (a ULID) and time (now). */
static void fill_defaults(json_t *obj) {
    if (!json_object_get(obj, "id")) {
        char id[27];
        util_ulid(id);
        json_object_set_new(obj, "id", json_string(id));
    }
    if (!json_object_get(obj, "time")) {
        char t[40];
        util_rfc3339(util_wall_ms(), t, sizeof t);
        json_object_set_new(obj, "time", json_string(t));
    }
}

int ce_normalize(json_t *obj, err_t *err) {
    if (!json_is_object(obj)) return err_set(err, R3E_EINVAL, "an event must be a JSON object");
    drop_nulls(obj);
    if (check_context_attrs(obj, err) != 0) return -1;
    if (check_data_and_extensions(obj, err) != 0) return -1;
    fill_defaults(obj);
    return 0;
}

static int check_size(const json_t *obj, err_t *err) {
    char *s = json_dumps(obj, JSON_COMPACT);
    size_t n = s ? strlen(s) : 0;
    free(s);
    if (n > CE_MAX_EVENT_BYTES)
        return err_set(err, R3E_ETOOBIG, "event is %zu bytes, the limit is %d", n,
                       CE_MAX_EVENT_BYTES);
    return 0;
}

/* ------------------------------------------------------------------ structured & batch */

static json_t *load_json(const char *body, size_t len, size_t cap, err_t *err) {
    if (len > cap)
        return err_set(err, R3E_ETOOBIG, "body is %zu bytes, the limit is %zu", len, cap), NULL;
    json_error_t je;
    json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (!j) err_set(err, R3E_EINVAL, "invalid JSON at position %d: %s", je.position, je.text);
    return j;
}

int ce_parse_structured(const char *body, size_t len, ce_event_t *out, err_t *err) {
    out->obj = NULL;
    /* Whitespace may make the text bigger than the compact form: allow slack here, the
     * exact cap is applied to the normalized event. */
    json_t *j = load_json(body, len, 4 * (size_t)CE_MAX_EVENT_BYTES, err);
    if (!j) return -1;
    if (ce_normalize(j, err) != 0 || check_size(j, err) != 0) {
        json_decref(j);
        return -1;
    }
    out->obj = j;
    return 0;
}

/* Re-sets *err as "batch item i: <message>". */
static int item_error(err_t *err, size_t i) {
    if (!err) return -1;
    char msg[sizeof err->msg];
    snprintf(msg, sizeof msg, "%s", err->msg);
    return err_set(err, err->code, "batch item %zu: %s", i, msg);
}

int ce_parse_batch(const char *body, size_t len, ce_batch_t *out, err_t *err) {
    out->events = NULL;
    json_t *j = load_json(body, len, 4 * (size_t)CE_MAX_EVENT_BYTES * CE_MAX_BATCH, err);
    if (!j) return -1;
    if (!json_is_array(j)) {
        json_decref(j);
        return err_set(err, R3E_EINVAL, "a batch must be a JSON array of events");
    }
    if (json_array_size(j) > CE_MAX_BATCH) {
        size_t n = json_array_size(j);
        json_decref(j);
        return err_set(err, R3E_ETOOBIG, "batch has %zu events, the limit is %d", n, CE_MAX_BATCH);
    }
    size_t i;
    json_t *ev;
    json_array_foreach(j, i, ev) {
        if (ce_normalize(ev, err) != 0 || check_size(ev, err) != 0) {
            json_decref(j);
            return item_error(err, i);
        }
    }
    out->events = j;
    return 0;
}

/* ------------------------------------------------------------------ binary mode */

static const char *find_header(const ce_header_t *h, size_t n, const char *name) {
    for (size_t i = 0; i < n; i++)
        if (h[i].name && strcasecmp(h[i].name, name) == 0) return h[i].value;
    return NULL;
}

/* The media type of a Content-Type value, lowercased and without parameters. */
static void media_type(const char *ct, char *out, size_t cap) {
    size_t n = 0;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    for (; *ct && *ct != ';' && *ct != ' ' && *ct != '\t' && n + 1 < cap; ct++)
        out[n++] = (char)tolower((unsigned char)*ct);
    out[n] = '\0';
}

static bool is_json_media(const char *mt) {
    size_t n = strlen(mt);
    return strcmp(mt, "application/json") == 0 || strcmp(mt, "text/json") == 0 ||
           (n > 5 && strcmp(mt + n - 5, "+json") == 0);
}

/* Percent-decodes a header value into a new JSON string; NULL when malformed. */
static json_t *percent_decode(const char *v) {
    size_t n = strlen(v), o = 0;
    char *buf = malloc(n + 1);
    for (size_t i = 0; i < n; i++) {
        if (v[i] != '%') {
            buf[o++] = v[i];
            continue;
        }
        uint8_t b;
        /* isxdigit stops at the terminating NUL, so a short escape fails here */
        if (!isxdigit((unsigned char)v[i + 1]) || !isxdigit((unsigned char)v[i + 2]) ||
            util_hex_decode(v + i + 1, 2, &b, 1) != 1) {
            free(buf);
            return NULL;
        }
        buf[o++] = (char)b;
        i += 2;
    }
    json_t *s = valid_utf8_text((unsigned char *)buf, o) ? json_stringn(buf, o) : NULL;
    free(buf);
    return s;
}

static int binary_attrs(json_t *obj, const ce_header_t *h, size_t n, err_t *err) {
    for (size_t i = 0; i < n; i++) {
        if (!h[i].name || strncasecmp(h[i].name, "ce-", 3) != 0) continue;
        char name[64];
        size_t k = 0;
        for (const char *p = h[i].name + 3; *p && k + 1 < sizeof name; p++)
            name[k++] = (char)tolower((unsigned char)*p);
        name[k] = '\0';
        if (strcmp(name, "data") == 0 || strcmp(name, "data_base64") == 0)
            return err_set(err, R3E_EINVAL, "header '%s': data travels in the body in binary mode",
                           h[i].name);
        if (json_object_get(obj, name))
            return err_set(err, R3E_EINVAL, "header 'ce-%s' given twice", name);
        json_t *v = percent_decode(h[i].value ? h[i].value : "");
        if (!v)
            return err_set(err, R3E_EINVAL,
                           "header '%.60s': bad percent-encoding or not UTF-8 text", h[i].name);
        json_object_set_new(obj, name, v);
    }
    return 0;
}

static int binary_data(json_t *obj, const char *ct, const void *body, size_t len, err_t *err) {
    if (len > CE_MAX_EVENT_BYTES)
        return err_set(err, R3E_ETOOBIG, "event data is %zu bytes, the limit is %d", len,
                       CE_MAX_EVENT_BYTES);
    char mt[128] = "";
    if (ct) {
        json_object_set_new(obj, "datacontenttype", json_string(ct));
        media_type(ct, mt, sizeof mt);
    }
    if (len == 0) return 0;
    if (is_json_media(mt)) {
        json_error_t je;
        json_t *d = json_loadb(body, len, JSON_DECODE_ANY, &je);
        if (!d)
            return err_set(err, R3E_EINVAL, "body is not valid JSON (Content-Type %s): %s", mt,
                           je.text);
        json_object_set_new(obj, "data", d);
    } else if (strcmp(mt, "application/octet-stream") == 0 || !valid_utf8_text(body, len)) {
        size_t cap = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
        char *b64 = malloc(cap);
        sodium_bin2base64(b64, cap, body, len, sodium_base64_VARIANT_ORIGINAL);
        json_object_set_new(obj, "data_base64", json_string(b64));
        free(b64);
    } else {
        json_object_set_new(obj, "data", json_stringn(body, len));
    }
    return 0;
}

int ce_parse_binary(const ce_header_t *headers, size_t nheaders, const void *body, size_t len,
                    ce_event_t *out, err_t *err) {
    out->obj = NULL;
    json_t *obj = json_object();
    const char *ct = find_header(headers, nheaders, "content-type");
    if (ct && !*ct) ct = NULL;
    if (binary_attrs(obj, headers, nheaders, err) != 0 ||
        binary_data(obj, ct, body, len, err) != 0 || ce_normalize(obj, err) != 0) {
        json_decref(obj);
        return -1;
    }
    out->obj = obj;
    return 0;
}

/* ------------------------------------------------------------------ dispatch */

int ce_parse_http(const ce_header_t *headers, size_t nheaders, const void *body, size_t len,
                  ce_batch_t *out, err_t *err) {
    out->events = NULL;
    const char *ct = find_header(headers, nheaders, "content-type");
    char mt[128] = "";
    if (ct) media_type(ct, mt, sizeof mt);
    if (strcmp(mt, "application/cloudevents-batch+json") == 0)
        return ce_parse_batch(body, len, out, err);
    ce_event_t ev;
    int rc;
    if (strcmp(mt, "application/cloudevents+json") == 0)
        rc = ce_parse_structured(body, len, &ev, err);
    else if (find_header(headers, nheaders, "ce-specversion"))
        rc = ce_parse_binary(headers, nheaders, body, len, &ev, err);
    else if (strcmp(mt, "application/json") == 0)
        rc = ce_parse_structured(body, len, &ev, err);
    else
        return err_set(err, R3E_EMEDIA,
                       "not a CloudEvent: use Content-Type application/cloudevents+json, "
                       "application/cloudevents-batch+json, or ce-* headers (binary mode)");
    if (rc != 0) return -1;
    out->events = json_array();
    json_array_append_new(out->events, ev.obj);
    return 0;
}

void ce_event_free(ce_event_t *ev) {
    if (!ev) return;
    json_decref(ev->obj);
    ev->obj = NULL;
}

void ce_batch_free(ce_batch_t *b) {
    if (!b) return;
    json_decref(b->events);
    b->events = NULL;
}
