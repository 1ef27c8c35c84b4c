/* The one logger: one JSON object per line on stderr, e.g.
 * {"time":"…","level":"info","msg":"…","proc":"server","request_id":"…","function":"…",
 *  "execution_id":"…", …extra fields}. Thread-safe; a line is written with one write(2). */
#ifndef R3E_OBS_LOG_H
#define R3E_OBS_LOG_H

#include <jansson.h>

typedef enum { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR } log_level_t;

typedef struct {
    const char *request_id;
    const char *function;
    const char *execution_id;
} log_ctx_t;

/* proc names the process role ("server", "worker", "cli"); level from R3E_LOG_LEVEL
 * (debug|info|warn|error) when set. */
void log_init(const char *proc);
void log_set_level(log_level_t min);
int log_enabled(log_level_t level);

void log_msg(log_level_t level, const log_ctx_t *ctx, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Like log_msg with extra fields; `extra` (an object or NULL) is consumed. */
void log_json(log_level_t level, const log_ctx_t *ctx, json_t *extra, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define log_debug(...) log_msg(LOG_DEBUG, NULL, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, NULL, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, NULL, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, NULL, __VA_ARGS__)

#endif
