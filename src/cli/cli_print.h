/* Readable rendering of API responses for the CLI (the --json mode bypasses all of this).
 * Every function takes a borrowed JSON value and writes to stdout, except
 * cli_print_function_failure, which writes the one-line error to stderr. Fields the
 * server leaves out are skipped, so newer servers with more fields still print. */
#ifndef R3E_CLI_CLI_PRINT_H
#define R3E_CLI_CLI_PRINT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* A version object from deploy: "deployed NAME version N (sha256 …)". */
void cli_print_deployed(json_t *version);
/* {"functions":[…]} as a table. */
void cli_print_function_list(json_t *list);
/* One function with its versions (key: value, then a versions table). */
void cli_print_function(json_t *fn);
/* An execution record as returned by invoke: status line, logs, then the result (and
 * the error with its stack when the function failed). */
void cli_print_execution(json_t *rec, bool from_invoke);
/* An execution record as returned by GET /v1/executions/{id}. */
void cli_print_execution_record(json_t *rec);
/* "error: <status>: <name>: <message>" on stderr for an execution that did not end ok. */
void cli_print_function_failure(json_t *rec);
/* One NDJSON log line ({time, level, msg, execution_id, function}); non-JSON lines are
 * printed as they are. */
void cli_print_log_line(const char *line, size_t n);

/* A trigger's source in one line: "eth:local logs 0xabc… Transfer (2 confirmations)",
 * "neo:local notifications 0x… Transfer", "schedule @every 30s", "custom"… into out. */
void cli_trigger_source_text(json_t *source, char *out, size_t n);
/* One trigger (key: value) and {"triggers":[…]} as a table. */
void cli_print_trigger(json_t *trigger);
void cli_print_trigger_list(json_t *list);
/* {"dead_letters":[…]} as a table; a dead delivery job (callback / destination POST) gets
 * a second line with its URL. */
void cli_print_dlq(json_t *list);
/* Any flat record (relayer info, a relayed transaction) as key: value; long values cut. */
void cli_print_record(json_t *rec);
/* {"transactions":[…]} of a relayer as a table. */
void cli_print_relayed_list(json_t *list);

/* Splits a byte stream into lines, carrying a partial line between chunks (NDJSON
 * responses). feed() calls emit for each complete line (without its newline) and returns
 * 0, or 1 when out of memory; finish() emits a last line that had no newline and frees. */
typedef struct {
    char *line;
    size_t len, cap;
} cli_lines_t;
typedef void (*cli_line_fn)(void *ud, const char *line, size_t len);
int cli_lines_feed(cli_lines_t *b, const char *data, size_t n, cli_line_fn emit, void *ud);
void cli_lines_finish(cli_lines_t *b, cli_line_fn emit, void *ud); /* emit may be NULL */

#endif
