#include "cli/cli.h"
#include <stdio.h>
void cli_usage(void) { fprintf(stderr, "usage: r3e COMMAND\n"); }
int cli_main(int argc, char **argv) { (void)argc; (void)argv; cli_usage(); return 2; }
