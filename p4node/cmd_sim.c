/* cmd_sim.c: placeholder until this command lands; it fails loudly. */
#include <stdio.h>
#include "p4node/commands.h"

int p4_cmd_sim(int argc, char **argv)
{
    (void)argc; (void)argv;
    fprintf(stderr, "p4 sim: not available in this build yet\n");
    return 1;
}
