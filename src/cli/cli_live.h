/* The CLI's live commands over GET /v1/ws (cli_live.c): `r3e logs NAME -f` and
 * `r3e events tail`. They print as the rest of the CLI does (readable lines, or the
 * server's JSON with --json) and return a process exit code (0, 1 failure, 2 usage). */
#ifndef R3E_CLI_CLI_LIVE_H
#define R3E_CLI_CLI_LIVE_H

#include "cli/httpc.h"

#include <stdbool.h>

typedef struct {
    const char *server; /* base URL */
    const char *token;  /* Bearer credential or NULL */
    const char *ns;     /* X-R3E-Namespace or NULL */
    bool json;          /* --json: print the server's JSON lines */
} cli_live_opts_t;

/* Whether the live commands can reach this server (plain http:// only for now). */
bool cli_live_supported(const char *server);

/* `logs NAME -f`: subscribes to NAME's executions with logs, then prints the recent lines
 * (GET …/logs, limit < 0 = the server's default) and every new line as it comes — the
 * same output as the NDJSON follow stream. A line both in the history and the stream is
 * printed once. Ends with 0 when the server shuts down. http is the CLI's configured
 * client (credentials, TLS) used for the history. */
int cli_live_logs_follow(const cli_live_opts_t *o, httpc_t *http, const char *name, long limit);

/* `events tail [--type T] [--source S]`: args are the words after "events". */
int cli_live_events(const cli_live_opts_t *o, char **args, int nargs);

#endif
