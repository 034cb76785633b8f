/* cmd_sim.c: `p4 sim --config F [--method M] [--epsilon E] [--seed S]
 * [--threads T] [--state-dir DIR] [--json]`: N clients of a config in one
 * process.  Prints a line per round (mean accuracy, epsilon spent) on
 * stderr, then per-client accuracy on each client's own test split, the
 * groups formed and the spend; --json ends with one JSON object instead. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "p4node/commands.h"
#include "p4node/run_report.h"
#include "p4node/simulation.h"

static void sim_usage(FILE *out)
{
    fprintf(out,
            "usage: p4 sim --config FILE [--method p4|local|proxyfl|proxyfl-avg|fedavg-dp] [--epsilon E|inf]\n"
            "              [--seed S] [--threads T] [--state-dir DIR] [--json] [--quiet]\n"
            "              [--reproducible]\n"
            "  --method     default: the config's [p4] method\n"
            "  --epsilon    target epsilon per client; default: [dp] target_epsilon if [dp]\n"
            "               is enabled, else inf (no DP)\n"
            "  --seed       replaces the config's model and split seeds\n"
            "  --threads    clients trained at once (default 2)\n"
            "  --state-dir  keep each client's budget ledger there (default: a temporary folder)\n"
            "  --reproducible  draw DP noise and batches from the seed: the run repeats\n"
            "               exactly and is NOT private (dp_guarantee none)\n");
}

typedef struct {
    p4_config cfg;
    p4_sim_options opt;
    int json, quiet;
} p4_sim_cli;

/* Parses "inf" or a positive number; 0 on failure. */
int p4_parse_epsilon(const char *text, double *out)
{
    if (strcmp(text, "inf") == 0 || strcmp(text, "infinity") == 0) {
        *out = INFINITY;
        return 1;
    }
    char *end = NULL;
    double v = strtod(text, &end);
    if (end == text || *end != '\0' || !(v > 0) || isinf(v))
        return 0;
    *out = v;
    return 1;
}

int p4_cli_parse_int(const char *command, const char *name, const char *text, int min, int max,
                     int *out)
{
    char *end = NULL;
    long v = strtol(text, &end, 10);
    if (end == text || *end != '\0' || v < min || v > max) {
        fprintf(stderr, "p4 %s: --%s '%s' must be a whole number from %d to %d\n", command, name,
                text, min, max);
        return 0;
    }
    *out = (int)v;
    return 1;
}

int p4_cli_config_epsilon(const char *command, const char *config, const char *epsilon,
                          p4_config *cfg, double *out)
{
    p4_error err = {0};
    if (p4_config_load(config, cfg, &err) != P4_OK) {
        fprintf(stderr, "p4 %s: %s\n", command, err.message);
        return 2;
    }
    *out = cfg->dp_enabled && cfg->target_epsilon > 0 ? cfg->target_epsilon : INFINITY;
    if (epsilon && !p4_parse_epsilon(epsilon, out)) {
        fprintf(stderr, "p4 %s: --epsilon '%s' must be a positive number or inf\n", command,
                epsilon);
        return 2;
    }
    return -1;
}

/* Returns -1 to go on, else the exit status. */
static int parse_options(int argc, char **argv, p4_sim_cli *c)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'}, {"method", required_argument, NULL, 'm'},
        {"epsilon", required_argument, NULL, 'e'}, {"seed", required_argument, NULL, 's'},
        {"threads", required_argument, NULL, 't'}, {"state-dir", required_argument, NULL, 'd'},
        {"json", no_argument, NULL, 'j'}, {"quiet", no_argument, NULL, 'q'},
        {"reproducible", no_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    const char *config = NULL, *method = NULL, *epsilon = NULL, *seed = NULL;
    memset(c, 0, sizeof *c);
    c->opt.threads = 2;
    optind = 1;
    int ch;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c': config = optarg; break;
        case 'm': method = optarg; break;
        case 'e': epsilon = optarg; break;
        case 's': seed = optarg; break;
        case 't': c->opt.threads = atoi(optarg); break;
        case 'd': c->opt.state_dir = optarg; break;
        case 'j': c->json = 1; break;
        case 'q': c->quiet = 1; break;
        case 'r': c->opt.reproducible = 1; break;
        case 'h': sim_usage(stdout); return 0;
        default: sim_usage(stderr); return 2;
        }
    }
    if (!config || optind < argc) {
        fprintf(stderr, "p4 sim: %s\n", config ? "unexpected argument" : "--config FILE is required");
        sim_usage(stderr);
        return 2;
    }
    if (c->opt.threads < 1 || c->opt.threads > 256) {
        fprintf(stderr, "p4 sim: --threads must be between 1 and 256\n");
        return 2;
    }
    p4_error err = {0};
    if (p4_config_load(config, &c->cfg, &err) != P4_OK) {
        fprintf(stderr, "p4 sim: %s\n", err.message);
        return 2;
    }
    if (p4_method_parse(method ? method : c->cfg.method, &c->opt.method) != P4_OK) {
        fprintf(stderr, "p4 sim: --method '%s': use p4, local, proxyfl, proxyfl-avg or fedavg-dp\n",
                method);
        return 2;
    }
    c->opt.epsilon = c->cfg.dp_enabled && c->cfg.target_epsilon > 0 ? c->cfg.target_epsilon : INFINITY;
    if (epsilon && !p4_parse_epsilon(epsilon, &c->opt.epsilon)) {
        fprintf(stderr, "p4 sim: --epsilon '%s' must be a positive number or inf\n", epsilon);
        return 2;
    }
    if (seed) {
        char *end = NULL;
        unsigned long long v = strtoull(seed, &end, 10);
        if (end == seed || *end != '\0') {
            fprintf(stderr, "p4 sim: --seed '%s' is not a whole number\n", seed);
            return 2;
        }
        c->cfg.seed = v;
        c->cfg.partition.seed = v;
    }
    return -1;
}

int p4_cmd_sim(int argc, char **argv)
{
    p4_sim_cli c;
    int rc = parse_options(argc, argv, &c);
    if (rc >= 0)
        return rc;
    p4_sim_result r;
    p4_error err = {0};
    c.opt.log = c.quiet ? NULL : stderr;
    if (c.opt.reproducible)
        fprintf(stderr, "p4 sim: %s\n", P4_REPRODUCIBLE_WARNING);
    if (p4_sim_run(&c.cfg, &c.opt, &r, &err) != P4_OK) {
        fprintf(stderr, "p4 sim: %s\n", err.message);
        return 1;
    }
    p4_run_report report = { .cfg = &c.cfg, .method = c.opt.method, .epsilon_target = c.opt.epsilon,
                             .reproducible = c.opt.reproducible, .result = &r };
    char warning[256];
    p4_run_report_krum_warning(&report, warning, sizeof warning);
    if (warning[0]) /* even with --quiet: the run did not do what its config asked */
        fprintf(stderr, "p4 sim: warning: %s\n", warning);
    p4_run_report_revert_warning(&report, warning, sizeof warning);
    if (warning[0]) /* even with --quiet: an honest client's round was lost to its peers */
        fprintf(stderr, "p4 sim: warning: %s\n", warning);
    if (c.json)
        p4_run_report_json(stdout, &report);
    else
        p4_run_report_text(stdout, &report);
    p4_sim_result_free(&r);
    return 0;
}
