/* cmd_status.c: `p4 status --state DIR [--json]`: what a node's state
 * folder says about its latest run (node.db, opened read-only) and the
 * epsilon its privacy ledger holds now (so a running node's spend is
 * current, not the copy node.db keeps at the end). */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/config.h"
#include "dp/ledger.h"
#include "p4node/commands.h"
#include "p4node/node.h"
#include "p4node/node_report.h"

static void status_usage(FILE *out)
{
    fprintf(out, "usage: p4 status --state DIR [--json]\n"
                 "  the latest run of the node whose [node] state folder is DIR: epoch,\n"
                 "  status (running, finished, failed, stopped, interrupted), round reached,\n"
                 "  the round it resumed at after a restart, group,\n"
                 "  accuracy, and the epsilon spent according to its ledger\n");
}

int p4_cmd_status(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"state", required_argument, NULL, 's'}, {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0}};
    const char *state = NULL;
    int json = 0, ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (ch) {
        case 's': state = optarg; break;
        case 'j': json = 1; break;
        case 'h': status_usage(stdout); return 0;
        default: status_usage(stderr); return 2;
        }
    }
    if (!state || optind < argc) {
        fprintf(stderr, "p4 status: %s\n", state ? "unexpected argument" : "--state DIR is required");
        status_usage(stderr);
        return 2;
    }
    p4_error err = {0};
    p4_node_record rec;
    if (p4_node_state_read(state, &rec, &err) != P4_OK) {
        fprintf(stderr, "p4 status: %s\n", err.message);
        return 1;
    }
    double delta = NAN;
    char path[P4_PATH_MAX + 32];
    p4_ledger *ledger = NULL;
    if (p4_node_ledger_path(state, rec.client, path, sizeof path, &err) == P4_OK &&
        p4_ledger_open_existing(path, &ledger, NULL) == P4_OK) {
        double eps = 0;
        if (p4_ledger_spent(ledger, &eps, &err) == P4_OK)
            rec.epsilon = eps;
        delta = p4_ledger_delta(ledger);
        p4_ledger_close(&ledger);
    } /* no ledger: a run without DP, or one that failed before opening it */
    if (json)
        p4_node_report_json(stdout, &rec, delta, state);
    else
        p4_node_report_text(stdout, &rec, delta, state);
    p4_node_record_free(&rec);
    return 0;
}
