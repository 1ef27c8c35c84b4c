/* Readable output for the CLI: tables for lists, "key: value" for single records. Kept
 * apart from cli.c so the request logic reads without formatting noise. */
#include "cli/cli_print.h"
#include "core/util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Times arrive as RFC 3339 strings or as epoch milliseconds; both print as RFC 3339. */
static const char *fmt_time(json_t *v, char *buf, size_t n) {
    if (json_is_string(v)) return json_string_value(v);
    if (json_is_integer(v) && json_integer_value(v) > 0) {
        util_rfc3339((uint64_t)json_integer_value(v), buf, n);
        return buf;
    }
    return "-";
}

/* A scalar as text: strings unquoted, everything else as compact JSON. Returns malloc'ed. */
static char *scalar_text(json_t *v) {
    if (!v || json_is_null(v)) return strdup("-");
    if (json_is_string(v)) return strdup(json_string_value(v));
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    return s ? s : strdup("?");
}

static void print_kv(const char *key, const char *val) {
    char k[64];
    snprintf(k, sizeof(k), "%s:", key);
    printf("%-16s %s\n", k, val);
}

/* Keys ending in _at are times and print as RFC 3339 whatever form the server used. */
static void print_kv_json(const char *key, json_t *v) {
    size_t kl = strlen(key);
    if (kl > 3 && strcmp(key + kl - 3, "_at") == 0) {
        char buf[40];
        print_kv(key, fmt_time(v, buf, sizeof(buf)));
        return;
    }
    char *s = scalar_text(v);
    print_kv(key, s);
    free(s);
}

static void print_duration(json_t *us) {
    if (!json_is_integer(us)) return;
    double ms = (double)json_integer_value(us) / 1000.0;
    printf("%.3f ms", ms);
}

void cli_print_deployed(json_t *v) {
    const char *name = json_string_value(json_object_get(v, "name"));
    const char *sha = json_string_value(json_object_get(v, "code_sha256"));
    printf("deployed %s version %" JSON_INTEGER_FORMAT, name ? name : "?",
           json_integer_value(json_object_get(v, "version")));
    if (sha) printf(" (sha256 %.12s)", sha);
    putchar('\n');
}

void cli_print_function_list(json_t *list) {
    json_t *fns = json_object_get(list, "functions");
    size_t i, w = 4;
    json_t *f;
    json_array_foreach(fns, i, f) {
        const char *n = json_string_value(json_object_get(f, "name"));
        if (n && strlen(n) > w) w = strlen(n);
    }
    if (json_array_size(fns) == 0) {
        puts("no functions");
        return;
    }
    printf("%-*s  %-6s  %-6s  %s\n", (int)w, "NAME", "ACTIVE", "LATEST", "UPDATED");
    json_array_foreach(fns, i, f) {
        char buf[40];
        const char *n = json_string_value(json_object_get(f, "name"));
        printf("%-*s  %-6" JSON_INTEGER_FORMAT "  %-6" JSON_INTEGER_FORMAT "  %s\n", (int)w,
               n ? n : "?", json_integer_value(json_object_get(f, "active_version")),
               json_integer_value(json_object_get(f, "latest_version")),
               fmt_time(json_object_get(f, "updated_at"), buf, sizeof(buf)));
    }
}

static void print_versions(json_t *versions, json_int_t active) {
    size_t i;
    json_t *v;
    printf("versions:\n  %-7s  %-6s  %-12s  %-8s  %-7s  %-9s  %s\n", "VERSION", "ACTIVE", "SHA256",
           "TIMEOUT", "MEMORY", "ISOLATION", "CREATED");
    json_array_foreach(versions, i, v) {
        char t[40], tmo[24], mem[24];
        json_int_t num = json_integer_value(json_object_get(v, "version"));
        const char *sha = json_string_value(json_object_get(v, "code_sha256"));
        const char *iso = json_string_value(json_object_get(v, "isolation"));
        snprintf(tmo, sizeof(tmo), "%" JSON_INTEGER_FORMAT "ms",
                 json_integer_value(json_object_get(v, "timeout_ms")));
        snprintf(mem, sizeof(mem), "%" JSON_INTEGER_FORMAT "MB",
                 json_integer_value(json_object_get(v, "memory_mb")));
        printf("  %-7" JSON_INTEGER_FORMAT "  %-6s  %-12.12s  %-8s  %-7s  %-9s  %s\n", num,
               num == active ? "*" : "", sha ? sha : "-", tmo, mem, iso ? iso : "-",
               fmt_time(json_object_get(v, "created_at"), t, sizeof(t)));
    }
}

void cli_print_function(json_t *fn) {
    const char *key;
    json_t *v;
    json_object_foreach(fn, key, v) {
        if (json_is_array(v) || json_is_object(v)) continue;
        print_kv_json(key, v);
    }
    json_t *versions = json_object_get(fn, "versions");
    if (json_is_array(versions))
        print_versions(versions, json_integer_value(json_object_get(fn, "active_version")));
}

static void print_logs(json_t *logs) {
    size_t i;
    json_t *l;
    if (json_array_size(logs) == 0) return;
    puts("logs:");
    json_array_foreach(logs, i, l) {
        const char *lvl = json_string_value(json_object_get(l, "level"));
        const char *msg = json_string_value(json_object_get(l, "msg"));
        char t[40];
        printf("  %s %-5s %s\n", fmt_time(json_object_get(l, "t"), t, sizeof(t)), lvl ? lvl : "log",
               msg ? msg : "");
    }
}

static void print_error(json_t *e) {
    if (!json_is_object(e)) return;
    const char *name = json_string_value(json_object_get(e, "name"));
    const char *msg = json_string_value(json_object_get(e, "message"));
    const char *stack = json_string_value(json_object_get(e, "stack"));
    printf("error:\n  %s: %s\n", name ? name : "Error", msg ? msg : "");
    if (stack && *stack) {
        /* Indent every stack line under the error. */
        for (const char *p = stack; *p;) {
            const char *nl = strchr(p, '\n');
            size_t n = nl ? (size_t)(nl - p) : strlen(p);
            printf("    %.*s\n", (int)n, p);
            p += n + (nl ? 1 : 0);
        }
    }
}

void cli_print_execution(json_t *rec, bool from_invoke) {
    const char *status = json_string_value(json_object_get(rec, "status"));
    const char *id = json_string_value(json_object_get(rec, "execution_id"));
    const char *fn = json_string_value(json_object_get(rec, "function"));
    print_kv("status", status ? status : "?");
    print_kv("execution", id ? id : "-");
    printf("%-16s %s (version %" JSON_INTEGER_FORMAT ")\n", "function:", fn ? fn : "?",
           json_integer_value(json_object_get(rec, "version")));
    printf("%-16s ", "duration:");
    print_duration(json_object_get(rec, "duration_us"));
    printf("%s\n", json_is_true(json_object_get(rec, "cold")) ? " (cold start)" : "");
    if (!from_invoke) print_kv_json("started_at", json_object_get(rec, "started_at"));
    print_logs(json_object_get(rec, "logs"));
    if (json_is_true(json_object_get(rec, "logs_truncated")))
        puts("  (console output over the limit was dropped)");
    print_error(json_object_get(rec, "error"));
    json_t *result = json_object_get(rec, "result");
    char *text = json_dumps(result ? result : json_null(), JSON_INDENT(2) | JSON_ENCODE_ANY);
    printf("result:\n%s\n", text ? text : "null");
    free(text);
}

void cli_print_execution_record(json_t *rec) {
    cli_print_execution(rec, false);
}

void cli_print_function_failure(json_t *rec) {
    const char *status = json_string_value(json_object_get(rec, "status"));
    json_t *e = json_object_get(rec, "error");
    const char *name = json_string_value(json_object_get(e, "name"));
    const char *msg = json_string_value(json_object_get(e, "message"));
    fflush(stdout);
    fprintf(stderr, "error: function %s: %s%s%s\n", status ? status : "failed", name ? name : "",
            name ? ": " : "", msg ? msg : "the function did not complete");
}

void cli_print_log_line(const char *line, size_t n) {
    json_t *v = json_loadb(line, n, 0, NULL);
    if (!json_is_object(v)) {
        printf("%.*s\n", (int)n, line);
        json_decref(v);
        return;
    }
    char buf[40];
    const char *lvl = json_string_value(json_object_get(v, "level"));
    const char *msg = json_string_value(json_object_get(v, "msg"));
    const char *id = json_string_value(json_object_get(v, "execution_id"));
    printf("%s %-5s %s %s\n", fmt_time(json_object_get(v, "time"), buf, sizeof(buf)),
           lvl ? lvl : "log", id ? id : "-", msg ? msg : "");
    json_decref(v);
}

/* --- triggers, dead letters, relayers ------------------------------------------------ */

static const char *js(json_t *o, const char *k) {
    return json_string_value(json_object_get(o, k));
}

/* "Transfer" from "event Transfer(address indexed from, …)"; the text itself otherwise. */
static void abi_event_name(const char *abi, char *out, size_t n) {
    const char *p = abi;
    if (strncmp(p, "event ", 6) == 0) p += 6;
    while (*p == ' ')
        p++;
    size_t len = strcspn(p, "( ");
    snprintf(out, n, "%.*s", (int)len, p);
}

void cli_trigger_source_text(json_t *src, char *out, size_t n) {
    const char *type = js(src, "type");
    const char *net = js(src, "network");
    const char *events = js(src, "events");
    if (!type) {
        snprintf(out, n, "-");
    } else if (strcmp(type, "schedule") == 0) {
        snprintf(out, n, "schedule %s", js(src, "cron") ? js(src, "cron") : "?");
    } else if (strcmp(type, "eth") == 0 || strcmp(type, "neo") == 0) {
        int k = snprintf(out, n, "%s:%s %s", type, net ? net : "default", events ? events : "?");
        char more[200] = "";
        if (strcmp(type, "eth") == 0) {
            const char *addr = js(src, "address"), *abi = js(src, "abi");
            json_t *topics = json_object_get(src, "topics");
            char ev[64] = "";
            if (abi) abi_event_name(abi, ev, sizeof ev);
            snprintf(more, sizeof more, "%s%s%s%s", addr ? " " : "", addr ? addr : "",
                     abi ? " " : "", ev);
            if (!abi && json_is_string(json_array_get(topics, 0))) {
                size_t m = strlen(more);
                snprintf(more + m, sizeof more - m, " topic0=%.10s…",
                         json_string_value(json_array_get(topics, 0)));
            }
            json_int_t conf = json_integer_value(json_object_get(src, "confirmations"));
            if (conf > 0) {
                size_t m = strlen(more);
                snprintf(more + m, sizeof more - m, " (%" JSON_INTEGER_FORMAT " confirmations)",
                         conf);
            }
        } else {
            const char *c = js(src, "contract"), *ev = js(src, "event");
            snprintf(more, sizeof more, "%s%s%s%s", c ? " " : "", c ? c : "", ev ? " " : "",
                     ev ? ev : "");
        }
        if (k > 0 && (size_t)k < n) snprintf(out + k, n - (size_t)k, "%s", more);
    } else {
        snprintf(out, n, "%s", type);
    }
}

void cli_print_trigger(json_t *t) {
    char src[400];
    cli_trigger_source_text(json_object_get(t, "source"), src, sizeof src);
    print_kv("id", js(t, "id") ? js(t, "id") : "?");
    print_kv("function", js(t, "function") ? js(t, "function") : "?");
    print_kv("source", src);
    json_t *from = json_object_get(json_object_get(t, "source"), "fromBlock");
    if (from) print_kv_json("from_block", from);
    print_kv("enabled", json_is_false(json_object_get(t, "enabled")) ? "no" : "yes");
    if (js(t, "mode")) print_kv("mode", js(t, "mode"));
    if (js(t, "webhook_url")) print_kv("webhook_url", js(t, "webhook_url"));
}

void cli_print_trigger_list(json_t *list) {
    json_t *ts = json_object_get(list, "triggers");
    if (json_array_size(ts) == 0) {
        puts("no triggers");
        return;
    }
    size_t i, w = 8;
    json_t *t;
    json_array_foreach(ts, i, t) {
        const char *f = js(t, "function");
        if (f && strlen(f) > w) w = strlen(f);
    }
    printf("%-26s  %-*s  %-7s  %s\n", "ID", (int)w, "FUNCTION", "ENABLED", "SOURCE");
    json_array_foreach(ts, i, t) {
        char src[400];
        cli_trigger_source_text(json_object_get(t, "source"), src, sizeof src);
        const char *f = js(t, "function");
        printf("%-26s  %-*s  %-7s  %s\n", js(t, "id") ? js(t, "id") : "?", (int)w, f ? f : "?",
               json_is_false(json_object_get(t, "enabled")) ? "no" : "yes", src);
    }
}

void cli_print_dlq(json_t *list) {
    json_t *ds = json_object_get(list, "dead_letters");
    if (json_array_size(ds) == 0) {
        puts("no dead letters");
        return;
    }
    size_t i, w = 8;
    json_t *d;
    json_array_foreach(ds, i, d) {
        const char *f = js(d, "function");
        if (f && strlen(f) > w) w = strlen(f);
    }
    printf("%-26s  %-*s  %-11s  %-26s  %-8s  %-24s  %s\n", "ID", (int)w, "FUNCTION", "KIND",
           "EXECUTION", "ATTEMPTS", "DEAD_AT", "LAST_ERROR");
    json_array_foreach(ds, i, d) {
        char t[40];
        const char *f = js(d, "function"), *err = js(d, "last_error");
        const char *kind = js(d, "delivery") ? js(d, "delivery") : "run";
        printf("%-26s  %-*s  %-11s  %-26s  %-8" JSON_INTEGER_FORMAT "  %-24s  %.80s\n",
               js(d, "id") ? js(d, "id") : "?", (int)w, f ? f : "?", kind,
               js(d, "execution_id") ? js(d, "execution_id") : "-",
               json_integer_value(json_object_get(d, "attempts")),
               fmt_time(json_object_get(d, "dead_at"), t, sizeof t), err ? err : "-");
        if (js(d, "url")) printf("  %s POST to %s\n", kind, js(d, "url"));
    }
}

/* Long hex fields (calldata, scripts) are cut to keep one record on one screen; --json has
 * them whole. */
#define CLI_VALUE_MAX 100

/* key: value at an indent; a value longer than CLI_VALUE_MAX is cut. Times (keys ending in
 * At, "created", "updated") given as epoch milliseconds print as RFC 3339. */
static void print_field(int indent, const char *key, json_t *v) {
    size_t kl = strlen(key);
    char k[80], *s = NULL;
    snprintf(k, sizeof k, "%*s%s:", indent, "", key);
    if (json_is_integer(v) && ((kl > 2 && strcmp(key + kl - 2, "At") == 0) ||
                               strcmp(key, "created") == 0 || strcmp(key, "updated") == 0)) {
        char buf[40];
        printf("%-16s %s\n", k, fmt_time(v, buf, sizeof buf));
        return;
    }
    if (json_is_array(v) && strcmp(key, "attempts") == 0) {
        printf("%-16s %zu\n", k, json_array_size(v));
        return;
    }
    s = json_is_string(v) ? strdup(json_string_value(v))
                          : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!s) return;
    size_t len = strlen(s);
    if (len > CLI_VALUE_MAX)
        printf("%-16s %.*s… (%zu characters)\n", k, CLI_VALUE_MAX - 20, s, len);
    else
        printf("%-16s %s\n", k, s);
    free(s);
}

void cli_print_record(json_t *rec) {
    const char *key, *sub;
    json_t *v, *w;
    json_object_foreach(rec, key, v) {
        if (!json_is_object(v)) {
            print_field(0, key, v);
            continue;
        }
        printf("%s:\n", key); /* one level of nesting (receipt, policy, request) */
        json_object_foreach(v, sub, w) print_field(2, sub, w);
    }
}

void cli_print_relayed_list(json_t *list) {
    json_t *txs = json_object_get(list, "transactions");
    if (json_array_size(txs) == 0) {
        puts("no transactions");
        return;
    }
    printf("%-26s  %-9s  %-24s  %s\n", "ID", "STATE", "CREATED", "HASH");
    size_t i;
    json_t *t;
    json_array_foreach(txs, i, t) {
        char buf[40];
        json_t *created = json_object_get(t, "created");
        if (!created) created = json_object_get(t, "createdAt");
        const char *hash = js(t, "hash");
        printf("%-26s  %-9s  %-24s  %s\n", js(t, "id") ? js(t, "id") : "?",
               js(t, "state") ? js(t, "state") : "?", fmt_time(created, buf, sizeof buf),
               hash ? hash : "-");
    }
}

int cli_lines_feed(cli_lines_t *b, const char *data, size_t n, cli_line_fn emit, void *ud) {
    for (size_t i = 0; i < n; i++) {
        if (data[i] == '\n') {
            emit(ud, b->line ? b->line : "", b->len);
            b->len = 0;
            continue;
        }
        if (b->len + 1 >= b->cap) {
            size_t cap = b->cap ? b->cap * 2 : 1024;
            char *p = realloc(b->line, cap);
            if (!p) return 1;
            b->line = p;
            b->cap = cap;
        }
        b->line[b->len++] = data[i];
    }
    return 0;
}

void cli_lines_finish(cli_lines_t *b, cli_line_fn emit, void *ud) {
    if (emit && b->len) emit(ud, b->line, b->len);
    free(b->line);
    *b = (cli_lines_t){0};
}
