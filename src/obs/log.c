/* Structured JSON logging to stderr. */
#include "obs/log.h"

#include "core/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static const char *log_proc = "r3e";
static log_level_t log_min = LOG_INFO;
static const char *level_names[] = {"debug", "info", "warn", "error"};

void log_init(const char *proc) {
    log_proc = proc;
    const char *lv = getenv("R3E_LOG_LEVEL");
    if (lv)
        for (int i = 0; i < 4; i++)
            if (strcasecmp(lv, level_names[i]) == 0) log_min = (log_level_t)i;
}

void log_set_level(log_level_t min) {
    log_min = min;
}

int log_enabled(log_level_t level) {
    return level >= log_min;
}

static void log_emit(log_level_t level, const log_ctx_t *ctx, json_t *extra, const char *fmt,
                     va_list ap) {
    if (level < log_min) {
        json_decref(extra);
        return;
    }
    char msg[2048], ts[40];
    vsnprintf(msg, sizeof msg, fmt, ap);
    util_rfc3339(util_wall_ms(), ts, sizeof ts);
    json_t *o = json_object();
    json_object_set_new(o, "time", json_string(ts));
    json_object_set_new(o, "level", json_string(level_names[level]));
    json_object_set_new(o, "msg", json_string(msg));
    json_object_set_new(o, "proc", json_string(log_proc));
    if (ctx) {
        if (ctx->request_id) json_object_set_new(o, "request_id", json_string(ctx->request_id));
        if (ctx->function) json_object_set_new(o, "function", json_string(ctx->function));
        if (ctx->execution_id)
            json_object_set_new(o, "execution_id", json_string(ctx->execution_id));
    }
    if (extra && json_is_object(extra)) json_object_update(o, extra);
    json_decref(extra);
    char *line = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!line) return;
    size_t n = strlen(line);
    line[n] = '\n'; /* replace NUL: one write(2) keeps lines whole across threads */
    ssize_t w = write(STDERR_FILENO, line, n + 1);
    (void)w;
    free(line);
}

void log_msg(log_level_t level, const log_ctx_t *ctx, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    log_emit(level, ctx, NULL, fmt, ap);
    va_end(ap);
}

void log_json(log_level_t level, const log_ctx_t *ctx, json_t *extra, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    log_emit(level, ctx, extra, fmt, ap);
    va_end(ap);
}
