/* cmd_budget.c: `p4 budget --state DB [--json]`: the privacy spend a node's
 * ledger holds, per phase and in total, at the ledger's own delta, as a
 * table or as one JSON object. */
#include <getopt.h>
#include <stdio.h>

#include "dp/ledger.h"
#include "p4node/commands.h"

#define BUDGET_USAGE "usage: p4 budget --state DB [--json]\n"

int p4_cmd_budget(int argc, char **argv)
{
    static const struct option options[] = {
        {"state", required_argument, NULL, 's'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *state = NULL;
    int c, json = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (c == 's') state = optarg;
        else if (c == 'j') json = 1;
        else if (c == 'h') { printf(BUDGET_USAGE); return 0; }
        else { fprintf(stderr, BUDGET_USAGE); return 2; }
    }
    if (optind < argc) {
        fprintf(stderr, "p4 budget: unexpected argument '%s'\n" BUDGET_USAGE, argv[optind]);
        return 2;
    }
    if (!state) {
        fprintf(stderr, "p4 budget: --state DB is required (the node's ledger file)\n");
        return 2;
    }
    p4_ledger *ledger = NULL;
    p4_error err = {0};
    int rc = p4_ledger_open_existing(state, &ledger, &err);
    if (rc == P4_OK)
        rc = json ? p4_ledger_report_json(ledger, stdout, &err) : p4_ledger_report(ledger, stdout, &err);
    p4_ledger_close(&ledger);
    if (rc != P4_OK) {
        fprintf(stderr, "p4 budget: %s\n", err.message);
        return 1;
    }
    return 0;
}
