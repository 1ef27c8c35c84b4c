/* Web-standard globals for function contexts (see webapi.h).
 *
 * Split of work: the byte-level pieces that are slow or awkward in JS (UTF-8, base64,
 * randomness, URL parsing with libcurl's URL API, the fetch transport) are native methods
 * on one hidden helper object; src/runtime/prelude.js receives that object as an argument
 * (it is never reachable from user code) and builds the standard classes on top of it.
 *
 * Cost: contexts are created per function version and, with fresh isolation, per
 * invocation, so the prelude is parsed once per context group (JSScriptRef) and only
 * defines lazy getters; each class is built on first use. */
#include "runtime/webapi.h"

#include <curl/curl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/util.h"
#include "obs/log.h"
#include "runtime/egress.h"
#include "runtime/fetch.h"
#include "runtime/jsc_private.h"

extern const char r3e_js_prelude[];
extern const size_t r3e_js_prelude_len;

struct webapi_env {
    egress_policy_t *policy;
    fetch_client_t *fetch;
    JSClassRef native_class;
    JSContextGroupRef group; /* the group `prelude` was parsed for */
    JSScriptRef prelude;
    /* current invocation */
    bool active;
    int max_fetches;
    int fetch_count;
    size_t max_fetch_bytes;
    uint64_t deadline_us;
};

/* One in-flight fetch: the promise's resolver, kept alive (protected) until settled or
 * dropped. The context is retained so unprotecting is valid even if the worker released
 * its own reference first. */
typedef struct {
    JSGlobalContextRef ctx;
    JSObjectRef resolve;
} pending_t;

/* ---- small JS helpers ---- */

static JSValueRef js_str(JSContextRef ctx, const char *s) {
    JSStringRef js = JSStringCreateWithUTF8CString(s ? s : "");
    JSValueRef v = JSValueMakeString(ctx, js);
    JSStringRelease(js);
    return v;
}

/* Copies a JS value's string form as UTF-8 (malloc'ed). NULL on exception. */
static char *js_cstr(JSContextRef ctx, JSValueRef v, JSValueRef *exc) {
    JSStringRef s = JSValueToStringCopy(ctx, v, exc);
    if (!s) return NULL;
    size_t cap = JSStringGetMaximumUTF8CStringSize(s);
    char *out = malloc(cap);
    if (out) JSStringGetUTF8CString(s, out, cap);
    JSStringRelease(s);
    return out;
}

static void js_throw(JSContextRef ctx, JSValueRef *exc, const char *msg) {
    JSValueRef arg = js_str(ctx, msg);
    *exc = JSObjectMakeError(ctx, 1, &arg, NULL);
}

static void free_bytes(void *bytes, void *ctx) {
    free(bytes);
}

/* Takes ownership of buf (malloc'ed). */
static JSObjectRef js_u8(JSContextRef ctx, uint8_t *buf, size_t n, JSValueRef *exc) {
    return JSObjectMakeTypedArrayWithBytesNoCopy(ctx, kJSTypedArrayTypeUint8Array, buf, n,
                                                 free_bytes, NULL, exc);
}

/* Byte view of any typed array / DataView-free ArrayBuffer argument. */
static bool js_bytes(JSContextRef ctx, JSValueRef v, uint8_t **p, size_t *n) {
    if (!JSValueIsObject(ctx, v)) return false;
    JSObjectRef o = (JSObjectRef)v;
    JSTypedArrayType t = JSValueGetTypedArrayType(ctx, v, NULL);
    if (t == kJSTypedArrayTypeNone) return false;
    if (t == kJSTypedArrayTypeArrayBuffer) {
        *p = JSObjectGetArrayBufferBytesPtr(ctx, o, NULL);
        *n = JSObjectGetArrayBufferByteLength(ctx, o, NULL);
    } else {
        uint8_t *base = JSObjectGetTypedArrayBytesPtr(ctx, o, NULL);
        *p = base ? base + JSObjectGetTypedArrayByteOffset(ctx, o, NULL) : NULL;
        *n = JSObjectGetTypedArrayByteLength(ctx, o, NULL);
    }
    return *p != NULL || *n == 0;
}

/* ---- UTF-8 ---- */

/* UTF-16 -> UTF-8; lone surrogates become U+FFFD as TextEncoder requires. out >= 3n. */
static size_t utf8_from_utf16(const JSChar *s, size_t n, uint8_t *out) {
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t c = s[i];
        if (c >= 0xD800 && c <= 0xDBFF && i + 1 < n && s[i + 1] >= 0xDC00 && s[i + 1] <= 0xDFFF) {
            c = 0x10000 + ((c - 0xD800) << 10) + (s[i + 1] - 0xDC00);
            i++;
        } else if (c >= 0xD800 && c <= 0xDFFF) {
            c = 0xFFFD;
        }
        if (c < 0x80) {
            out[o++] = (uint8_t)c;
        } else if (c < 0x800) {
            out[o++] = (uint8_t)(0xC0 | (c >> 6));
            out[o++] = (uint8_t)(0x80 | (c & 0x3F));
        } else if (c < 0x10000) {
            out[o++] = (uint8_t)(0xE0 | (c >> 12));
            out[o++] = (uint8_t)(0x80 | ((c >> 6) & 0x3F));
            out[o++] = (uint8_t)(0x80 | (c & 0x3F));
        } else {
            out[o++] = (uint8_t)(0xF0 | (c >> 18));
            out[o++] = (uint8_t)(0x80 | ((c >> 12) & 0x3F));
            out[o++] = (uint8_t)(0x80 | ((c >> 6) & 0x3F));
            out[o++] = (uint8_t)(0x80 | (c & 0x3F));
        }
    }
    return o;
}

/* UTF-8 -> UTF-16 following the WHATWG Encoding decoder (maximal-subpart replacement).
 * Returns units written (out >= n units), or -1 on the first error when fatal. */
static long utf16_from_utf8(const uint8_t *b, size_t n, JSChar *out, bool fatal) {
    size_t o = 0;
    uint32_t cp = 0;
    int needed = 0, seen = 0;
    uint8_t lower = 0x80, upper = 0xBF;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = b[i];
        if (needed == 0) {
            if (c <= 0x7F) {
                out[o++] = c;
            } else if (c >= 0xC2 && c <= 0xDF) {
                needed = 1, cp = c & 0x1F;
            } else if (c >= 0xE0 && c <= 0xEF) {
                if (c == 0xE0) lower = 0xA0;
                if (c == 0xED) upper = 0x9F;
                needed = 2, cp = c & 0x0F;
            } else if (c >= 0xF0 && c <= 0xF4) {
                if (c == 0xF0) lower = 0x90;
                if (c == 0xF4) upper = 0x8F;
                needed = 3, cp = c & 0x07;
            } else {
                if (fatal) return -1;
                out[o++] = 0xFFFD;
            }
            continue;
        }
        if (c < lower || c > upper) {
            cp = 0, needed = seen = 0, lower = 0x80, upper = 0xBF;
            if (fatal) return -1;
            out[o++] = 0xFFFD;
            i--; /* reprocess this byte as a new start */
            continue;
        }
        lower = 0x80, upper = 0xBF;
        cp = (cp << 6) | (c & 0x3F);
        if (++seen == needed) {
            if (cp >= 0x10000) {
                cp -= 0x10000;
                out[o++] = (JSChar)(0xD800 + (cp >> 10));
                out[o++] = (JSChar)(0xDC00 + (cp & 0x3FF));
            } else {
                out[o++] = (JSChar)cp;
            }
            cp = 0, needed = seen = 0;
        }
    }
    if (needed) {
        if (fatal) return -1;
        out[o++] = 0xFFFD;
    }
    return (long)o;
}

/* utf8Encode(string) -> Uint8Array */
static JSValueRef n_utf8_encode(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
                                const JSValueRef argv[], JSValueRef *exc) {
    JSStringRef s = JSValueToStringCopy(ctx, argc ? argv[0] : JSValueMakeUndefined(ctx), exc);
    if (!s) return NULL;
    size_t n = JSStringGetLength(s);
    uint8_t *buf = malloc(n * 3 + 1);
    if (!buf) {
        JSStringRelease(s);
        js_throw(ctx, exc, "out of memory");
        return NULL;
    }
    size_t len = utf8_from_utf16(JSStringGetCharactersPtr(s), n, buf);
    JSStringRelease(s);
    return js_u8(ctx, buf, len, exc);
}

/* utf8Decode(bytes, fatal) -> string, or null when fatal and the input is malformed */
static JSValueRef n_utf8_decode(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
                                const JSValueRef argv[], JSValueRef *exc) {
    uint8_t *p = NULL;
    size_t n = 0;
    if (argc < 1 || !js_bytes(ctx, argv[0], &p, &n)) {
        js_throw(ctx, exc, "utf8Decode: expected a BufferSource");
        return NULL;
    }
    bool fatal = argc > 1 && JSValueToBoolean(ctx, argv[1]);
    JSChar *out = malloc((n + 1) * sizeof *out);
    if (!out) {
        js_throw(ctx, exc, "out of memory");
        return NULL;
    }
    long len = utf16_from_utf8(p, n, out, fatal);
    if (len < 0) {
        free(out);
        return JSValueMakeNull(ctx);
    }
    JSStringRef s = JSStringCreateWithCharacters(out, (size_t)len);
    free(out);
    JSValueRef v = JSValueMakeString(ctx, s);
    JSStringRelease(s);
    return v;
}

/* ---- base64 (forgiving-base64 of the HTML spec) ---- */

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* b64encode(string) -> string, or null when a code unit is above 0xFF */
static JSValueRef n_b64_encode(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
                               const JSValueRef argv[], JSValueRef *exc) {
    JSStringRef s = JSValueToStringCopy(ctx, argc ? argv[0] : JSValueMakeUndefined(ctx), exc);
    if (!s) return NULL;
    size_t n = JSStringGetLength(s);
    const JSChar *c = JSStringGetCharactersPtr(s);
    JSChar *out = malloc(((n + 2) / 3 * 4 + 1) * sizeof *out);
    if (!out) {
        JSStringRelease(s);
        js_throw(ctx, exc, "out of memory");
        return NULL;
    }
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = 0;
        size_t k = n - i < 3 ? n - i : 3;
        for (size_t j = 0; j < 3; j++) {
            JSChar ch = j < k ? c[i + j] : 0;
            if (ch > 0xFF) {
                free(out);
                JSStringRelease(s);
                return JSValueMakeNull(ctx);
            }
            v = (v << 8) | ch;
        }
        out[o++] = (JSChar)b64_alphabet[(v >> 18) & 63];
        out[o++] = (JSChar)b64_alphabet[(v >> 12) & 63];
        out[o++] = k > 1 ? (JSChar)b64_alphabet[(v >> 6) & 63] : '=';
        out[o++] = k > 2 ? (JSChar)b64_alphabet[v & 63] : '=';
    }
    JSStringRelease(s);
    JSStringRef r = JSStringCreateWithCharacters(out, o);
    free(out);
    JSValueRef v = JSValueMakeString(ctx, r);
    JSStringRelease(r);
    return v;
}

static int b64_value(JSChar c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

/* b64decode(string) -> binary string (one code unit per byte), or null when invalid */
static JSValueRef n_b64_decode(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
                               const JSValueRef argv[], JSValueRef *exc) {
    JSStringRef s = JSValueToStringCopy(ctx, argc ? argv[0] : JSValueMakeUndefined(ctx), exc);
    if (!s) return NULL;
    size_t n = JSStringGetLength(s);
    const JSChar *c = JSStringGetCharactersPtr(s);
    JSChar *in = malloc((n + 1) * sizeof *in);
    JSChar *out = malloc((n + 1) * sizeof *out);
    JSValueRef result = JSValueMakeNull(ctx);
    if (!in || !out) {
        js_throw(ctx, exc, "out of memory");
        result = NULL;
        goto done;
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (c[i] != ' ' && c[i] != '\t' && c[i] != '\n' && c[i] != '\f' && c[i] != '\r')
            in[m++] = c[i];
    if (m % 4 == 0 && m >= 1 && in[m - 1] == '=') {
        m--;
        if (m >= 1 && in[m - 1] == '=') m--;
    }
    if (m % 4 == 1) goto done;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < m; i++) {
        int v = b64_value(in[i]);
        if (v < 0) goto done;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (JSChar)((acc >> bits) & 0xFF);
        }
    }
    JSStringRef r = JSStringCreateWithCharacters(out, o);
    result = JSValueMakeString(ctx, r);
    JSStringRelease(r);
done:
    free(in);
    free(out);
    JSStringRelease(s);
    return result;
}

/* randomFill(view) fills an integer typed array with CSPRNG bytes and returns it; null for
 * float arrays, DataView and non-views (the JS side turns that into TypeMismatchError and
 * checks the 65536-byte quota first). */
static JSValueRef n_random_fill(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
                                const JSValueRef argv[], JSValueRef *exc) {
    if (argc < 1) return JSValueMakeNull(ctx);
    JSTypedArrayType t = JSValueGetTypedArrayType(ctx, argv[0], NULL);
    uint8_t *p = NULL;
    size_t n = 0;
    if (t == kJSTypedArrayTypeNone || t == kJSTypedArrayTypeArrayBuffer ||
        t == kJSTypedArrayTypeFloat32Array || t == kJSTypedArrayTypeFloat64Array ||
        !js_bytes(ctx, argv[0], &p, &n))
        return JSValueMakeNull(ctx);
    if (n) util_random(p, n);
    return argv[0];
}

/* randomUUID() -> RFC 9562 version 4 UUID string */
static JSValueRef n_random_uuid(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
                                const JSValueRef argv[], JSValueRef *exc) {
    uint8_t b[16];
    util_random(b, sizeof b);
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    char hex[33], out[37];
    util_hex_encode(b, sizeof b, hex);
    snprintf(out, sizeof out, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16,
             hex + 20);
    return js_str(ctx, out);
}

/* ---- URL parsing with libcurl's URL API ---- */

/* urlParse(input, base?) -> [scheme, user, password, host, port, path, query, fragment]
 * (null for absent parts), or a string describing why the input is not a URL. */
static JSValueRef n_url_parse(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
                              const JSValueRef argv[], JSValueRef *exc) {
    char *input = argc > 0 ? js_cstr(ctx, argv[0], exc) : NULL;
    if (!input) return NULL;
    char *base = NULL;
    if (argc > 1 && !JSValueIsUndefined(ctx, argv[1]) && !JSValueIsNull(ctx, argv[1])) {
        base = js_cstr(ctx, argv[1], exc);
        if (!base) {
            free(input);
            return NULL;
        }
    }
    const unsigned flags = CURLU_NON_SUPPORT_SCHEME;
    CURLU *u = curl_url();
    CURLUcode rc = CURLUE_OUT_OF_MEMORY;
    if (u) {
        rc = base ? curl_url_set(u, CURLUPART_URL, base, flags) : CURLUE_OK;
        if (rc == CURLUE_OK) rc = curl_url_set(u, CURLUPART_URL, input, flags);
    }
    free(input);
    free(base);
    if (rc != CURLUE_OK) {
        JSValueRef r = js_str(ctx, curl_url_strerror(rc));
        curl_url_cleanup(u);
        return r;
    }
    static const CURLUPart parts[] = {CURLUPART_SCHEME, CURLUPART_USER,    CURLUPART_PASSWORD,
                                      CURLUPART_HOST,   CURLUPART_PORT,    CURLUPART_PATH,
                                      CURLUPART_QUERY,  CURLUPART_FRAGMENT};
    JSValueRef vals[8];
    for (size_t i = 0; i < 8; i++) {
        char *part = NULL;
        if (curl_url_get(u, parts[i], &part, 0) == CURLUE_OK && part)
            vals[i] = js_str(ctx, part);
        else
            vals[i] = JSValueMakeNull(ctx);
        curl_free(part);
    }
    curl_url_cleanup(u);
    return JSObjectMakeArray(ctx, 8, vals, exc);
}

/* ---- fetch ---- */

static void pending_drop(void *ud) {
    pending_t *p = ud;
    JSValueUnprotect(p->ctx, p->resolve);
    JSGlobalContextRelease(p->ctx);
    free(p);
}

/* Settles a fetch promise: with [status, statusText, url, redirected, headers, body] on
 * success, or with the error message string (the prelude turns it into a TypeError). */
static void on_fetch_done(void *ud, fetch_result_t *r) {
    pending_t *p = ud;
    JSContextRef ctx = p->ctx;
    JSValueRef arg;
    if (r->error) {
        arg = js_str(ctx, r->error);
    } else {
        JSValueRef *hv = malloc((r->nheaders * 2 + 1) * sizeof *hv);
        for (size_t i = 0; hv && i < r->nheaders * 2; i++)
            hv[i] = js_str(ctx, r->headers[i]);
        JSObjectRef headers = JSObjectMakeArray(ctx, hv ? r->nheaders * 2 : 0, hv, NULL);
        free(hv);
        uint8_t *body = r->body ? r->body : malloc(1);
        JSObjectRef buf =
            JSObjectMakeArrayBufferWithBytesNoCopy(ctx, body, r->body_len, free_bytes, NULL, NULL);
        r->body = NULL; /* owned by the ArrayBuffer now */
        JSValueRef v[6] = {JSValueMakeNumber(ctx, (double)r->status),
                           js_str(ctx, r->status_text),
                           js_str(ctx, r->url),
                           JSValueMakeBoolean(ctx, r->redirected),
                           headers,
                           buf};
        arg = JSObjectMakeArray(ctx, 6, v, NULL);
    }
    JSValueRef exc = NULL;
    JSObjectCallAsFunction(ctx, p->resolve, NULL, 1, &arg, &exc);
    pending_drop(p);
}

/* fetch(method, url, headerLines[], body|null, redirectMode) -> Promise, or a string
 * saying why the request is refused before it starts (the prelude throws a TypeError). */
static JSValueRef n_fetch(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
                          const JSValueRef argv[], JSValueRef *exc) {
    webapi_env_t *env = JSObjectGetPrivate(self);
    if (!env || argc < 5) {
        js_throw(ctx, exc, "fetch: bad native call");
        return NULL;
    }
    if (!env->active) return js_str(ctx, "fetch is only available while handling an invocation");
    if (env->fetch_count >= env->max_fetches) {
        char msg[128];
        snprintf(msg, sizeof msg, "fetch limit of %d requests per invocation reached",
                 env->max_fetches);
        return js_str(ctx, msg);
    }
    uint64_t now = util_now_us();
    if (env->deadline_us && now >= env->deadline_us)
        return js_str(ctx, "fetch refused: invocation deadline reached");
    long timeout_ms = env->deadline_us ? (long)((env->deadline_us - now + 999) / 1000) : 30000;

    JSValueRef result = NULL;
    char *method = js_cstr(ctx, argv[0], exc);
    char *url = method ? js_cstr(ctx, argv[1], exc) : NULL;
    char **lines = NULL;
    size_t nlines = 0;
    if (url && JSValueIsObject(ctx, argv[2])) {
        JSObjectRef arr = (JSObjectRef)argv[2];
        JSStringRef lenname = JSStringCreateWithUTF8CString("length");
        double len = JSValueToNumber(ctx, JSObjectGetProperty(ctx, arr, lenname, NULL), NULL);
        JSStringRelease(lenname);
        if (len > 1000) {
            result = js_str(ctx, "fetch: more than 1000 request headers");
            goto out;
        }
        if (len > 0) {
            lines = calloc((size_t)len, sizeof *lines);
            for (size_t i = 0; lines && i < (size_t)len; i++) {
                lines[i] =
                    js_cstr(ctx, JSObjectGetPropertyAtIndex(ctx, arr, (unsigned)i, NULL), exc);
                if (!lines[i]) break;
                nlines++;
            }
        }
    }
    if (!url || *exc) goto out;
    fetch_request_t req = {.method = method,
                           .url = url,
                           .headers = (const char *const *)lines,
                           .nheaders = nlines,
                           .redirect = (fetch_redirect_t)JSValueToNumber(ctx, argv[4], NULL),
                           .max_bytes = env->max_fetch_bytes,
                           .timeout_ms = timeout_ms};
    uint8_t *body = NULL;
    size_t body_len = 0;
    if (!JSValueIsNull(ctx, argv[3]) && !JSValueIsUndefined(ctx, argv[3])) {
        if (!js_bytes(ctx, argv[3], &body, &body_len)) {
            js_throw(ctx, exc, "fetch: body must be bytes");
            goto out;
        }
        req.body = body ? (const void *)body : (const void *)"";
        req.body_len = body_len;
    }
    pending_t *p = calloc(1, sizeof *p);
    JSObjectRef reject = NULL;
    JSObjectRef promise = p ? JSObjectMakeDeferredPromise(ctx, &p->resolve, &reject, exc) : NULL;
    if (!promise) {
        free(p);
        if (!*exc) js_throw(ctx, exc, "out of memory");
        goto out;
    }
    p->ctx = JSGlobalContextRetain(JSContextGetGlobalContext(ctx));
    JSValueProtect(p->ctx, p->resolve);
    err_t err = {0};
    if (fetch_start(env->fetch, &req, on_fetch_done, p, &err) != 0) {
        pending_drop(p);
        result = js_str(ctx, err.msg);
        goto out;
    }
    env->fetch_count++;
    result = promise;
out:
    for (size_t i = 0; i < nlines; i++)
        free(lines[i]);
    free(lines);
    free(url);
    free(method);
    return result;
}

/* ---- installation ---- */

static JSClassRef native_class(void) {
    static const JSStaticFunction fns[] = {
        {"utf8Encode", n_utf8_encode, kJSPropertyAttributeReadOnly},
        {"utf8Decode", n_utf8_decode, kJSPropertyAttributeReadOnly},
        {"b64encode", n_b64_encode, kJSPropertyAttributeReadOnly},
        {"b64decode", n_b64_decode, kJSPropertyAttributeReadOnly},
        {"randomFill", n_random_fill, kJSPropertyAttributeReadOnly},
        {"randomUUID", n_random_uuid, kJSPropertyAttributeReadOnly},
        {"urlParse", n_url_parse, kJSPropertyAttributeReadOnly},
        {"fetch", n_fetch, kJSPropertyAttributeReadOnly},
        {NULL, NULL, 0},
    };
    JSClassDefinition def = kJSClassDefinitionEmpty;
    def.className = "R3eNative";
    def.staticFunctions = fns;
    return JSClassCreate(&def);
}

webapi_env_t *webapi_env_create(const char *egress_allow, char *errbuf, size_t errlen) {
    err_t err = {0};
    webapi_env_t *env = calloc(1, sizeof *env);
    if (!env) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    env->policy = egress_policy_parse(egress_allow, &err);
    if (env->policy) env->fetch = fetch_client_create(env->policy, &err);
    if (!env->policy || !env->fetch) {
        if (errbuf && errlen) snprintf(errbuf, errlen, "%s", err.msg);
        webapi_env_destroy(env);
        return NULL;
    }
    env->native_class = native_class();
    env->max_fetches = 50;
    env->max_fetch_bytes = 10u << 20;
    return env;
}

void webapi_env_destroy(webapi_env_t *env) {
    if (!env) return;
    if (env->fetch) fetch_abort_all(env->fetch, pending_drop);
    fetch_client_destroy(env->fetch);
    egress_policy_free(env->policy);
    if (env->prelude) JSScriptRelease(env->prelude);
    if (env->group) JSContextGroupRelease(env->group);
    if (env->native_class) JSClassRelease(env->native_class);
    free(env);
}

/* The prelude parsed once per context group; evaluating a parsed script in a new context
 * skips parsing and reuses the group's bytecode cache. */
static JSScriptRef prelude_script(webapi_env_t *env, JSContextGroupRef group) {
    if (env->prelude && env->group == group) return env->prelude;
    if (env->prelude) JSScriptRelease(env->prelude);
    if (env->group) JSContextGroupRelease(env->group);
    env->prelude = NULL;
    env->group = JSContextGroupRetain(group);
    JSStringRef url = JSStringCreateWithUTF8CString("r3e:prelude.js");
    JSStringRef msg = NULL;
    int line = 0;
    JSStringRef src = JSStringCreateWithUTF8CString(r3e_js_prelude);
    env->prelude = JSScriptCreateFromString(group, url, 1, src, &msg, &line);
    JSStringRelease(src);
    JSStringRelease(url);
    if (!env->prelude) {
        char buf[256] = "?";
        if (msg) JSStringGetUTF8CString(msg, buf, sizeof buf);
        log_error("webapi: prelude does not parse: line %d: %s", line, buf);
        if (msg) JSStringRelease(msg);
    }
    return env->prelude;
}

void webapi_install(webapi_env_t *env, JSGlobalContextRef ctx) {
    JSScriptRef script = prelude_script(env, JSContextGetGroup(ctx));
    if (!script) return;
    JSValueRef exc = NULL;
    JSValueRef fn = JSScriptEvaluate(ctx, script, NULL, &exc);
    if (fn && JSValueIsObject(ctx, fn) && JSObjectIsFunction(ctx, (JSObjectRef)fn)) {
        JSValueRef native = JSObjectMake(ctx, env->native_class, env);
        JSObjectCallAsFunction(ctx, (JSObjectRef)fn, NULL, 1, &native, &exc);
    }
    if (exc) {
        char *m = js_cstr(ctx, exc, NULL);
        log_error("webapi: prelude failed: %s", m ? m : "?");
        free(m);
    }
}

void webapi_begin(webapi_env_t *env, JSGlobalContextRef ctx, int max_fetches,
                  size_t max_fetch_bytes, long deadline_ms_from_now) {
    (void)ctx;
    env->active = true;
    env->fetch_count = 0;
    env->max_fetches = max_fetches;
    env->max_fetch_bytes = max_fetch_bytes;
    env->deadline_us =
        deadline_ms_from_now > 0 ? util_now_us() + (uint64_t)deadline_ms_from_now * 1000 : 0;
}

void webapi_end(webapi_env_t *env) {
    fetch_abort_all(env->fetch, pending_drop);
    env->active = false;
}

int webapi_pending(webapi_env_t *env) {
    return env ? fetch_pending(env->fetch) : 0;
}

int webapi_wait(webapi_env_t *env, int extra_fd, int timeout_ms) {
    return fetch_wait(env->fetch, extra_fd, timeout_ms);
}
