/* cmd_train.c: placeholder until this command lands; it fails loudly. */
#include <stdio.h>
#include "p4node/commands.h"

int p4_cmd_train(int argc, char **argv)
{
    (void)argc; (void)argv;
    fprintf(stderr, "p4 train: not available in this build yet\n");
    return 1;
}
