/* The worker process: `r3e __worker --fd N`. Owns one JavaScriptCore VM (context group),
 * a code cache and an LRU of warm contexts per function version; serves invoke/check
 * requests from the server over the socket (ipc.h). Never forks; touches no store. */
#ifndef R3E_RUNTIME_WORKER_H
#define R3E_RUNTIME_WORKER_H

/* argv after "__worker". Returns the process exit code. */
int worker_main(int argc, char **argv);

#endif
