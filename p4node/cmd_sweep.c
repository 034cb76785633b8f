/* cmd_sweep.c: `p4 sweep --config F --epsilon 1,2,4,8,inf --seeds 3
 * --method p4,local,proxyfl,proxyfl-avg,fedavg-dp --out DIR [--shard K/N]`:
 * every (method, epsilon, seed) cell is one simulation.  Writes
 * DIR/results.csv (one row per cell), DIR/sweep-plan.txt, DIR/summary.csv
 * (mean and std over seeds), DIR/sweep.gp and, with gnuplot, DIR/sweep.png
 * and DIR/sweep.svg, and prints the summary table.
 *
 * With --shard K/N only the K-th of N slices of the cells runs and only
 * results.csv and the plan are written; `p4 sweep merge --out DIR DIR1 ...`
 * combines the slices into what one whole run writes (sweep_table.h). */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "p4node/commands.h"
#include "p4node/run_report.h"
#include "p4node/simulation.h"
#include "p4node/sweep_table.h"

typedef struct {
    p4_config cfg;
    p4_sweep_plan plan;
    int threads;
    const char *out;
} sweep_args;

static void sweep_usage(FILE *out)
{
    fprintf(out, "usage: p4 sweep --config FILE --epsilon 1,2,4,8,inf --seeds N\n"
                 "                --method p4,local,proxyfl,proxyfl-avg,fedavg-dp --out DIR\n"
                 "                [--threads T] [--shard K/N] [--attack-fraction 0,0.1,0.2,0.3]\n"
                 "                [--reproducible]   (seeded noise: repeatable, NOT private)\n"
                 "       p4 sweep merge --out DIR SLICE_DIR...\n");
}

static int parse_fraction(const char *text, double *out)
{
    char *end = NULL;
    *out = strtod(text, &end);
    return end != text && *end == '\0' && *out >= 0 && *out <= 1;
}

static int parse_list(const char *text, const char *what, p4_sweep_plan *p)
{
    char copy[512];
    snprintf(copy, sizeof copy, "%s", text);
    for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        int ok;
        if (strcmp(what, "epsilon") == 0) {
            ok = p->neps < P4_SWEEP_MAX_LIST && p4_parse_epsilon(tok, &p->epsilon[p->neps]);
            p->neps += ok;
        } else if (strcmp(what, "attack-fraction") == 0) {
            ok = p->nfractions < P4_SWEEP_MAX_LIST &&
                 parse_fraction(tok, &p->fraction[p->nfractions]);
            p->nfractions += ok;
        } else {
            ok = p->nmethods < P4_SWEEP_MAX_LIST &&
                 p4_method_parse(tok, &p->method[p->nmethods]) == P4_OK;
            p->nmethods += ok;
        }
        if (!ok) {
            fprintf(stderr, "p4 sweep: --%s: '%s' is not valid (or more than %d items)\n", what,
                    tok, P4_SWEEP_MAX_LIST);
            return 0;
        }
    }
    return 1;
}

static int make_dir(const char *dir)
{
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "p4 sweep: cannot make %s: %s\n", dir, strerror(errno));
        return 0;
    }
    return 1;
}

static int parse_args(int argc, char **argv, sweep_args *a)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'}, {"epsilon", required_argument, NULL, 'e'},
        {"seeds", required_argument, NULL, 's'}, {"method", required_argument, NULL, 'm'},
        {"out", required_argument, NULL, 'o'}, {"threads", required_argument, NULL, 't'},
        {"reproducible", no_argument, NULL, 'r'}, {"shard", required_argument, NULL, 'k'},
        {"attack-fraction", required_argument, NULL, 'a'},
        {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    const char *config = NULL, *eps = "1,2,4,8,inf";
    const char *methods = "p4,local,proxyfl,proxyfl-avg,fedavg-dp", *fractions = NULL;
    memset(a, 0, sizeof *a);
    p4_sweep_plan *p = &a->plan;
    p->seeds = 3;
    p->shard = p->shards = 1;
    a->threads = 2;
    optind = 1;
    int ch;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c': config = optarg; break;
        case 'e': eps = optarg; break;
        case 's': p->seeds = atoi(optarg); break;
        case 'm': methods = optarg; break;
        case 'o': a->out = optarg; break;
        case 't': a->threads = atoi(optarg); break;
        case 'r': p->reproducible = 1; break;
        case 'a': fractions = optarg; break;
        case 'k':
            if (p4_sweep_parse_shard(optarg, &p->shard, &p->shards) != P4_OK) {
                fprintf(stderr, "p4 sweep: --shard '%s': expected K/N with 1 <= K <= N\n", optarg);
                return 2;
            }
            break;
        case 'h': sweep_usage(stdout); return 0;
        default: sweep_usage(stderr); return 2;
        }
    }
    if (!config || !a->out || optind < argc) {
        fprintf(stderr, "p4 sweep: --config and --out are required (and nothing else)\n");
        sweep_usage(stderr);
        return 2;
    }
    if (p->seeds < 1 || p->seeds > P4_SWEEP_MAX_SEEDS || a->threads < 1 || a->threads > 256) {
        fprintf(stderr, "p4 sweep: --seeds must be 1..%d and --threads 1..256\n", P4_SWEEP_MAX_SEEDS);
        return 2;
    }
    if (!parse_list(eps, "epsilon", p) || !parse_list(methods, "method", p))
        return 2;
    p4_error err = {0};
    if (p4_config_load(config, &a->cfg, &err) != P4_OK) {
        fprintf(stderr, "p4 sweep: %s\n", err.message);
        return 2;
    }
    if (fractions && !parse_list(fractions, "attack-fraction", p))
        return 2;
    if (fractions && strcmp(a->cfg.attack_kind, "none") == 0) {
        fprintf(stderr, "p4 sweep: --attack-fraction needs an [attack] kind in %s\n", a->cfg.path);
        return 2;
    }
    if (!fractions)
        p->fraction[p->nfractions++] = a->cfg.attack_fraction; /* the config's own */
    snprintf(p->config, sizeof p->config, "%s", a->cfg.path);
    p->delta = a->cfg.delta;
    p->model_seed = a->cfg.seed;
    p->partition_seed = a->cfg.partition.seed;
    return make_dir(a->out) ? -1 : 1;
}

/* Runs unit u: one simulation, whose row local-only repeats for every epsilon. */
static int run_unit(const sweep_args *a, p4_sweep_table *t, int u)
{
    const p4_sweep_plan *p = &a->plan;
    int m, e, f, s;
    p4_sweep_unit_cell(p, u, &m, &e, &f, &s);
    p4_config cfg = a->cfg;
    cfg.seed = p->model_seed + (uint64_t)s;
    cfg.partition.seed = p->partition_seed + (uint64_t)s;
    cfg.attack_fraction = p->fraction[f];
    p4_sim_options opt = { .method = p->method[m], .epsilon = p->epsilon[e], .threads = a->threads,
                           .reproducible = p->reproducible };
    p4_sim_result r = {0};
    p4_error err = {0};
    fprintf(stderr, "p4 sweep: %s epsilon %g attack fraction %g seed %llu ...\n",
            p4_method_name(p->method[m]), p->epsilon[e], p->fraction[f],
            (unsigned long long)cfg.seed);
    if (p4_sim_run(&cfg, &opt, &r, &err) != P4_OK) {
        fprintf(stderr, "p4 sweep: %s\n", err.message);
        return 0;
    }
    p4_sweep_row row = { .present = 1, .mean_accuracy = r.mean_accuracy,
                         .honest_mean_accuracy = r.honest_mean_accuracy,
                         .std_accuracy = r.std_accuracy, .epsilon_spent = r.epsilon, .ari = r.ari,
                         .seconds = r.seconds };
    snprintf(row.guarantee, sizeof row.guarantee, "%s", p4_dp_guarantee_name(r.guarantee));
    p4_run_report report = { .cfg = &cfg, .method = p->method[m], .result = &r };
    char warning[256];
    p4_run_report_revert_warning(&report, warning, sizeof warning);
    if (warning[0])
        fprintf(stderr, "p4 sweep: warning: %s\n", warning);
    p4_sim_result_free(&r);
    if (p->method[m] != P4_METHOD_LOCAL) {
        *p4_sweep_row_at(t, m, e, f, s) = row;
        return 1;
    }
    for (int k = 0; k < p->neps; k++) { /* local-only: no DP, the same for every epsilon */
        p4_sweep_row *slot = p4_sweep_row_at(t, m, k, f, s);
        *slot = row;
        if (k > 0) {
            slot->epsilon_spent = 0;
            slot->ari = NAN;
            slot->seconds = 0;
        }
    }
    return 1;
}

/* The summary is always made from results.csv as written, so a whole run
 * and merged slices summarise the same numbers. */
static int finish(const p4_sweep_plan *plan, const char *out)
{
    p4_error err = {0};
    if (plan->shards > 1) {
        printf("slice %d of %d: wrote %s/results.csv and %s/sweep-plan.txt; combine the slices with\n"
               "  p4 sweep merge --out DIR SLICE_DIR...\n", plan->shard, plan->shards, out, out);
        return 0;
    }
    p4_sweep_table t = {0};
    int shard, rc = p4_sweep_read(&t, out, &shard, &err);
    if (rc == P4_OK)
        rc = p4_sweep_summarise(&t, out, stdout, &err);
    p4_sweep_table_free(&t);
    if (rc != P4_OK) {
        fprintf(stderr, "p4 sweep: %s\n", err.message);
        return 1;
    }
    printf("\nwrote %s/results.csv, %s/summary.csv and %s/sweep.{png,svg}\n", out, out, out);
    return 0;
}

static int sweep_merge(int argc, char **argv)
{
    const char *out = NULL;
    int first = 1;
    if (argc >= 3 && strcmp(argv[1], "--out") == 0) {
        out = argv[2];
        first = 3;
    }
    if (!out || first >= argc) {
        sweep_usage(stderr);
        return 2;
    }
    p4_sweep_table t = {0};
    p4_error err = {0};
    unsigned char seen[10001] = {0};
    int rc = 0;
    for (int k = first; k < argc && rc == 0; k++) {
        int shard = 0;
        if (p4_sweep_read(&t, argv[k], &shard, &err) != P4_OK) {
            fprintf(stderr, "p4 sweep merge: %s\n", err.message);
            rc = 2;
        } else if (seen[shard]++) {
            fprintf(stderr, "p4 sweep merge: %s: slice %d of %d is given twice\n", argv[k], shard,
                    t.plan.shards);
            rc = 2;
        }
    }
    if (rc == 0 && argc - first != t.plan.shards) {
        fprintf(stderr, "p4 sweep merge: the sweep has %d slices, %d given\n", t.plan.shards,
                argc - first);
        rc = 2;
    }
    if (rc == 0 && !make_dir(out))
        rc = 1;
    if (rc == 0) {
        t.plan.shard = t.plan.shards = 1;
        if (p4_sweep_write(&t, out, &err) != P4_OK) {
            fprintf(stderr, "p4 sweep merge: %s\n", err.message);
            rc = 1;
        } else {
            rc = finish(&t.plan, out);
        }
    }
    p4_sweep_table_free(&t);
    return rc;
}

int p4_cmd_sweep(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "merge") == 0)
        return sweep_merge(argc - 1, argv + 1);
    sweep_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0)
        return rc;
    if (a.plan.reproducible)
        fprintf(stderr, "p4 sweep: %s\n", P4_REPRODUCIBLE_WARNING);
    p4_sweep_table t;
    p4_error err = {0};
    if (p4_sweep_table_new(&t, &a.plan, &err) != P4_OK) {
        fprintf(stderr, "p4 sweep: %s\n", err.message);
        return 1;
    }
    int units = p4_sweep_units(&a.plan);
    rc = 0;
    for (int u = 0; u < units && rc == 0; u++) {
        if (!p4_sweep_unit_in_shard(&a.plan, u))
            continue;
        if (!run_unit(&a, &t, u))
            rc = 1;
        /* Written after every cell: a stopped sweep keeps what it measured. */
        if (p4_sweep_write(&t, a.out, &err) != P4_OK) {
            fprintf(stderr, "p4 sweep: %s\n", err.message);
            rc = 1;
        }
    }
    if (rc == 0)
        rc = finish(&a.plan, a.out);
    p4_sweep_table_free(&t);
    return rc;
}
