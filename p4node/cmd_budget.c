/* cmd_budget.c: `p4 budget --state DB`: the privacy spend a node's ledger
 * holds, per phase and in total, at the ledger's own delta. */
#include <getopt.h>
#include <stdio.h>

#include "dp/ledger.h"
#include "p4node/commands.h"

int p4_cmd_budget(int argc, char **argv)
{
    static const struct option options[] = {
        {"state", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *state = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (c == 's') state = optarg;
        else if (c == 'h') { printf("usage: p4 budget --state DB\n"); return 0; }
        else { fprintf(stderr, "usage: p4 budget --state DB\n"); return 2; }
    }
    if (!state) {
        fprintf(stderr, "p4 budget: --state DB is required (the node's ledger file)\n");
        return 2;
    }
    p4_ledger *ledger = NULL;
    p4_error err = {0};
    if (p4_ledger_open_existing(state, &ledger, &err) != P4_OK ||
        p4_ledger_report(ledger, stdout, &err) != P4_OK) {
        fprintf(stderr, "p4 budget: %s\n", err.message);
        p4_ledger_close(&ledger);
        return 1;
    }
    p4_ledger_close(&ledger);
    return 0;
}
