/* The client CLI: every subcommand except `server` talks to the REST API
 * (--server URL or R3E_SERVER, default http://127.0.0.1:8080). */
#ifndef R3E_CLI_CLI_H
#define R3E_CLI_CLI_H

/* argv[0] is the subcommand. Returns the process exit code. */
int cli_main(int argc, char **argv);
void cli_usage(void);

#endif
