/* cmd_cluster.c: `p4 cluster --config F --nodes N [--json] [--reproducible]
 * [--state DIR] [--deadline S] [--quiet]`: N `p4 node` processes of one
 * config on this machine over loopback (p4node/cluster_run.h), summarised
 * as `p4 sim` summarises its run. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dp/guarantee.h"
#include "p4node/cluster_run.h"
#include "p4node/commands.h"
#include "p4node/run_report.h"

static void cluster_usage(FILE *out)
{
    fprintf(out,
            "usage: p4 cluster --config FILE --nodes N [--json] [--reproducible] [--state DIR]\n"
            "                  [--deadline SECONDS] [--timeout SECONDS] [--quiet]\n"
            "  starts N `p4 node` processes on loopback, one per client of the config\n"
            "  (N must equal [data] clients), and prints the run as `p4 sim` does\n"
            "  --state     keep each node's state folder in DIR/node-K (default: a temporary\n"
            "              folder, removed at the end)\n"
            "  --deadline  stop every node if the run takes longer (default 86400 s)\n"
            "  --timeout   seconds a node waits for one exchange (default: the config's [node]\n"
            "              timeout, 60 unless set); N nodes share this machine's cores, so a\n"
            "              large config may need more\n"
            "  --reproducible  draw DP noise and batches from the seed: NOT private\n");
}

int p4_cmd_cluster(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'}, {"nodes", required_argument, NULL, 'n'},
        {"json", no_argument, NULL, 'j'},         {"reproducible", no_argument, NULL, 'r'},
        {"state", required_argument, NULL, 's'},  {"deadline", required_argument, NULL, 'd'},
        {"timeout", required_argument, NULL, 't'},
        {"quiet", no_argument, NULL, 'q'},        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *config = NULL, *nodes = NULL, *deadline = NULL, *timeout = NULL;
    int json = 0, quiet = 0, ch;
    p4_cluster_options opt = { .deadline = 86400 };
    optind = 1;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c': config = optarg; break;
        case 'n': nodes = optarg; break;
        case 'j': json = 1; break;
        case 'r': opt.reproducible = 1; break;
        case 's': opt.state_dir = optarg; break;
        case 'd': deadline = optarg; break;
        case 't': timeout = optarg; break;
        case 'q': quiet = 1; break;
        case 'h': cluster_usage(stdout); return 0;
        default: cluster_usage(stderr); return 2;
        }
    }
    if (!config || !nodes || optind < argc) {
        fprintf(stderr, "p4 cluster: %s\n", optind < argc ? "unexpected argument"
                                            : "--config FILE and --nodes N are required");
        cluster_usage(stderr);
        return 2;
    }
    char *end = NULL;
    long n = strtol(nodes, &end, 10);
    if (end == nodes || *end != '\0' || n < 2 || n > 4096) {
        fprintf(stderr, "p4 cluster: --nodes '%s' must be a whole number >= 2\n", nodes);
        return 2;
    }
    opt.nodes = (int)n;
    if (deadline) {
        opt.deadline = strtod(deadline, &end);
        if (end == deadline || *end != '\0' || !(opt.deadline > 0) || isinf(opt.deadline)) {
            fprintf(stderr, "p4 cluster: --deadline '%s' must be a positive number of seconds\n",
                    deadline);
            return 2;
        }
    }
    /* By its absolute path, so that every path in it is absolute and each
     * node's config (in its own folder) still finds the data and models. */
    char *abs = realpath(config, NULL);
    p4_config cfg;
    p4_error err = {0};
    if (!abs) {
        fprintf(stderr, "p4 cluster: %s: cannot open: no such file\n", config);
        return 2;
    }
    int rc = p4_config_load(abs, &cfg, &err);
    free(abs);
    if (rc != P4_OK) {
        fprintf(stderr, "p4 cluster: %s\n", err.message);
        return 2;
    }
    if (timeout) {
        cfg.node_timeout = strtod(timeout, &end);
        if (end == timeout || *end != '\0' || !(cfg.node_timeout > 0) || cfg.node_timeout > 86400) {
            fprintf(stderr, "p4 cluster: --timeout '%s' must be in (0, 86400] seconds\n", timeout);
            return 2;
        }
    }
    p4_method method;
    if (p4_method_parse(cfg.method, &method) != P4_OK) {
        fprintf(stderr, "p4 cluster: [p4] method '%s' is unknown\n", cfg.method);
        return 2;
    }
    opt.cfg = &cfg;
    opt.log = quiet ? NULL : stderr;
    if (opt.reproducible)
        fprintf(stderr, "p4 cluster: %s\n", P4_REPRODUCIBLE_WARNING);
    p4_sim_result r;
    if (p4_cluster_run(&opt, &r, &err) != P4_OK) {
        fprintf(stderr, "p4 cluster: %s\n", err.message);
        return 1;
    }
    p4_run_report report = { .cfg = &cfg, .method = method,
                             .epsilon_target = cfg.dp_enabled && cfg.target_epsilon > 0
                                                   ? cfg.target_epsilon : INFINITY,
                             .reproducible = opt.reproducible, .result = &r };
    if (json)
        p4_run_report_json(stdout, &report);
    else
        p4_run_report_text(stdout, &report);
    p4_sim_result_free(&r);
    return 0;
}
