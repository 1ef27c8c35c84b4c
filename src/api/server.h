/* `r3e server …`: parses settings (flags and R3E_* environment), opens the store, starts
 * the worker pool and the HTTP API, and runs until SIGINT/SIGTERM. */
#ifndef R3E_API_SERVER_H
#define R3E_API_SERVER_H

/* argv[0] is "server". Returns the process exit code. */
int server_main(int argc, char **argv);

#endif
