#include "api/server.h"
#include <stdio.h>
int server_main(int argc, char **argv) {
    (void)argc; (void)argv;
    fprintf(stderr, "server: under construction\n");
    return 1;
}
