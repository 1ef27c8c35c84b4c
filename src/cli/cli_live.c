/* `r3e logs NAME -f` and `r3e events tail` over the WebSocket live stream (GET /v1/ws).
 *
 * logs -f subscribes first and reads the history second (the same order the NDJSON follow
 * stream uses), so no line is lost in between; lines of executions already printed from
 * the history are skipped when they arrive live. */
#include "cli/cli_live.h"

#include "cli/cli_print.h"
#include "cli/wsclient.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIVE_CONNECT_MS 5000
#define LIVE_ACK_MS 10000

bool cli_live_supported(const char *server) {
    return wsc_supported(server);
}

static int live_fail(const err_t *err) {
    fprintf(stderr, "error: %s: %s\n", err_code_name(err->code), err->msg);
    if (err->code == R3E_EUNAVAIL && strstr(err->msg, "cannot connect"))
        fputs("hint: is `r3e server` running there? Set --server URL or R3E_SERVER.\n", stderr);
    return 1;
}

/* Connects and subscribes with `sub` (a JSON object, consumed); waits for the ack. */
static wsc_t *live_open(const cli_live_opts_t *o, json_t *sub, err_t *err) {
    wsc_t *c = wsc_connect(o->server, "/v1/ws", o->token, o->ns, LIVE_CONNECT_MS, NULL, err);
    json_object_set_new(sub, "id", json_string("cli"));
    char *text = json_dumps(sub, JSON_COMPACT);
    json_decref(sub);
    if (!c || !text || wsc_send_text(c, text, strlen(text), err) < 0) {
        if (c && !text) err_set(err, R3E_EINTERNAL, "out of memory");
        free(text);
        wsc_close(c);
        return NULL;
    }
    free(text);
    char *msg;
    size_t len;
    int rc = wsc_recv(c, &msg, &len, LIVE_ACK_MS, err);
    if (rc <= 0) {
        if (rc == 0) err_set(err, R3E_ETIMEOUT, "the server did not acknowledge the subscription");
        wsc_close(c);
        return NULL;
    }
    json_t *ack = json_loadb(msg, len, 0, NULL);
    free(msg);
    json_t *e = json_object_get(ack, "error");
    if (!json_is_true(json_object_get(ack, "ok"))) {
        const char *m = json_string_value(json_object_get(e, "message"));
        err_set(err, R3E_EINVAL, "subscription refused: %s", m ? m : "unexpected answer");
        json_decref(ack);
        wsc_close(c);
        return NULL;
    }
    json_decref(ack);
    return c;
}

/* Reads messages until the stream ends; on_msg gets each parsed one. 0 when the server
 * ended it normally (1000 / 1001), else 1 after reporting. */
static int live_run(wsc_t *c, void (*on_msg)(json_t *m, void *ud), void *ud) {
    for (;;) {
        char *msg;
        size_t len;
        err_t err;
        int rc = wsc_recv(c, &msg, &len, -1, &err);
        if (rc < 0) {
            uint16_t code = wsc_close_code(c);
            if (code == 1000 || code == 1001) return 0;
            return live_fail(&err);
        }
        json_t *m = json_loadb(msg, len, 0, NULL);
        free(msg);
        if (m) on_msg(m, ud);
        json_decref(m);
    }
}

/* ---- logs -f ------------------------------------------------------------------------ */

typedef struct {
    bool json;
    json_t *seen;      /* execution ids printed from the history: {id: true} */
    cli_lines_t lines; /* partial history line carried between chunks */
} live_logs_t;

/* Prints one NDJSON log line as `r3e logs` always has. */
static void live_emit(live_logs_t *s, const char *line, size_t n) {
    while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == ' '))
        n--;
    if (n == 0) return;
    if (s->json) {
        fwrite(line, 1, n, stdout);
        fputc('\n', stdout);
    } else {
        cli_print_log_line(line, n);
    }
    fflush(stdout);
}

static void live_history_line(live_logs_t *s, const char *line, size_t n) {
    json_t *v = json_loadb(line, n, 0, NULL);
    const char *id = json_string_value(json_object_get(v, "execution_id"));
    if (id) json_object_set_new(s->seen, id, json_true());
    json_decref(v);
    live_emit(s, line, n);
}

static void live_history_emit(void *ud, const char *line, size_t n) {
    live_history_line(ud, line, n);
}

static int live_history_chunk(const char *data, size_t n, void *ud) {
    live_logs_t *s = ud;
    return cli_lines_feed(&s->lines, data, n, live_history_emit, s);
}

static void live_log_msg(json_t *m, void *ud) {
    live_logs_t *s = ud;
    const char *type = json_string_value(json_object_get(m, "type"));
    json_t *line = json_object_get(m, "log");
    if (!type || strcmp(type, "log") != 0 || !json_is_object(line)) return;
    const char *id = json_string_value(json_object_get(line, "execution_id"));
    if (id && json_object_get(s->seen, id)) return; /* printed from the history already */
    char *text = json_dumps(line, JSON_COMPACT);    /* the NDJSON line's exact form */
    if (text) live_emit(s, text, strlen(text));
    free(text);
}

/* Prints the server's error for a failed history request as the CLI does elsewhere. */
static int live_history_error(const cli_live_opts_t *o, long status, const char *body) {
    if (o->json && body && *body) printf("%s%s", body, body[strlen(body) - 1] == '\n' ? "" : "\n");
    json_t *root = body ? json_loads(body, 0, NULL) : NULL;
    json_t *e = json_object_get(root, "error");
    const char *code = json_string_value(json_object_get(e, "code"));
    const char *msg = json_string_value(json_object_get(e, "message"));
    if (code && msg)
        fprintf(stderr, "error: %s: %s\n", code, msg);
    else
        fprintf(stderr, "error: http_%ld: %.200s\n", status, body && *body ? body : "(empty)");
    json_decref(root);
    return 1;
}

int cli_live_logs_follow(const cli_live_opts_t *o, httpc_t *http, const char *name, long limit) {
    err_t err = {0};
    json_t *sub =
        json_pack("{s:s,s:s,s:b}", "subscribe", "executions", "function", name, "logs", 1);
    wsc_t *c = sub ? live_open(o, sub, &err) : NULL;
    if (!c) return live_fail(&err);
    live_logs_t s = {.json = o->json, .seen = json_object()};
    char *esc = httpc_escape(http, name);
    char path[512];
    snprintf(path, sizeof path, "/v1/functions/%s/logs", esc ? esc : name);
    free(esc);
    if (limit >= 0) {
        size_t k = strlen(path);
        snprintf(path + k, sizeof path - k, "?limit=%ld", limit);
    }
    long status = 0;
    char *errbody = NULL;
    int rc = httpc_stream(http, path, live_history_chunk, &s, &status, &errbody, &err);
    if (rc != 0) {
        rc = live_fail(&err);
    } else if (status >= 400) {
        rc = live_history_error(o, status, errbody);
    } else {
        cli_lines_finish(&s.lines, live_history_emit, &s); /* a last line without '\n' */
        rc = live_run(c, live_log_msg, &s);
    }
    free(errbody);
    cli_lines_finish(&s.lines, NULL, NULL);
    json_decref(s.seen);
    wsc_close(c);
    return rc;
}

/* ---- events tail ---------------------------------------------------------------------- */

/* "TIME TYPE SOURCE ID DATA" (DATA as compact JSON), or the event JSON with --json. */
static void live_event_msg(json_t *m, void *ud) {
    const cli_live_opts_t *o = ud;
    const char *type = json_string_value(json_object_get(m, "type"));
    json_t *ev = json_object_get(m, "event");
    if (!type || strcmp(type, "event") != 0 || !json_is_object(ev)) return;
    if (o->json) {
        char *t = json_dumps(ev, JSON_COMPACT);
        if (t) puts(t);
        free(t);
    } else {
        const char *f[4] = {"time", "type", "source", "id"};
        for (int i = 0; i < 4; i++) {
            const char *v = json_string_value(json_object_get(ev, f[i]));
            printf("%s ", v ? v : "-");
        }
        json_t *data = json_object_get(ev, "data");
        char *t = data ? json_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
        printf("%s\n", t ? t : "-");
        free(t);
    }
    fflush(stdout);
}

static int live_usage(const char *what) {
    fprintf(stderr, "error: usage: %s\n(run `r3e --help` for usage)\n", what);
    return 2;
}

int cli_live_events(const cli_live_opts_t *o, char **args, int nargs) {
    static const char usage[] = "events tail [--type T] [--source S]";
    if (nargs < 1 || strcmp(args[0], "tail") != 0) return live_usage(usage);
    json_t *sub = json_pack("{s:s}", "subscribe", "events");
    for (int i = 1; i < nargs; i++) {
        const char *a = args[i], *key = NULL, *val = NULL;
        if (strncmp(a, "--type", 6) == 0 || strncmp(a, "--source", 8) == 0) {
            key = a[2] == 't' ? "type" : "source";
            size_t kl = a[2] == 't' ? 6 : 8;
            if (a[kl] == '=')
                val = a + kl + 1;
            else if (a[kl] == '\0' && i + 1 < nargs)
                val = args[++i];
        }
        if (!key || !val || !*val) {
            json_decref(sub);
            return live_usage(usage);
        }
        json_object_set_new(sub, key, json_string(val));
    }
    if (!cli_live_supported(o->server)) {
        json_decref(sub);
        err_t err;
        err_set(&err, R3E_EINVAL,
                "events tail needs an http:// server URL (wss is not supported "
                "by the CLI yet)");
        return live_fail(&err);
    }
    err_t err = {0};
    wsc_t *c = live_open(o, sub, &err);
    if (!c) return live_fail(&err);
    int rc = live_run(c, live_event_msg, (void *)o);
    wsc_close(c);
    return rc;
}
