/* r3e: one binary (the Vault/Nomad model). `r3e server …` runs the platform,
 * `r3e __worker …` is a sandbox worker started by the server, everything else is the CLI. */
#include "api/server.h"
#include "cli/cli.h"
#include "runtime/worker.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "help") == 0) {
        cli_usage();
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "server") == 0) return server_main(argc - 1, argv + 1);
    if (strcmp(argv[1], "__worker") == 0) return worker_main(argc - 1, argv + 1);
    if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
        printf("r3e 0.1.0\n");
        return 0;
    }
    return cli_main(argc - 1, argv + 1);
}
