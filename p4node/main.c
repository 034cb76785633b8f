/* main.c: the `p4` command-line tool; dispatches to one subcommand. */
#include <stdio.h>
#include <string.h>

#include "p4node/commands.h"

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"data",   p4_cmd_data,   "show the client splits of a config (sizes, label histograms)"},
    {"train",  p4_cmd_train,  "train one client's model on its split (optionally with DP-SGD)"},
    {"dp",     p4_cmd_dp,     "privacy arithmetic: 'dp epsilon' and 'dp noise'"},
    {"budget", p4_cmd_budget, "print the privacy spend recorded in a node's ledger"},
    {"sim",    p4_cmd_sim,    "run N P4 clients (or a baseline) in one process"},
    {"sweep",  p4_cmd_sweep,  "sweep epsilon x method x seed; write a table and a plot"},
    {"attest", p4_cmd_attest, "CCA attestation tokens: 'attest verify', 'attest fetch'"},
    {"audit",  p4_cmd_audit,  "one-run empirical privacy audit: a lower bound on epsilon"},
    {"leakage", p4_cmd_leakage, "membership inference: whole model vs only what leaves the TA"},
    {"node",   p4_cmd_node,   "run one member of a networked P4 run (ZeroMQ, CURVE)"},
    {"status", p4_cmd_status, "show a node's latest run from its state folder"},
    {"cluster", p4_cmd_cluster, "run N p4 node processes of one config on loopback"},
    {"serve",  p4_cmd_serve,  "serve a finished node's model to attested queries (CURVE)"},
    {"query",  p4_cmd_query,  "classify inputs on a p4 serve server after checking its attestation"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: p4 <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-7s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n'p4 <command> --help' describes a command's options.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "p4: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
