/* cmd_budget.c: placeholder until this command lands; it fails loudly. */
#include <stdio.h>
#include "p4node/commands.h"

int p4_cmd_budget(int argc, char **argv)
{
    (void)argc; (void)argv;
    fprintf(stderr, "p4 budget: not available in this build yet\n");
    return 1;
}
