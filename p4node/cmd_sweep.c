/* cmd_sweep.c: `p4 sweep --config F --epsilon 1,2,4,8,inf --seeds 3
 * --method p4,local,proxyfl,proxyfl-avg,fedavg-dp --out DIR`: every (method, epsilon,
 * seed) cell is one simulation.  Writes DIR/results.csv (one row per cell),
 * DIR/summary.csv (mean and std over seeds), DIR/sweep.gp and, with gnuplot,
 * DIR/sweep.png and DIR/sweep.svg (accuracy against epsilon, one line per
 * method, error bars = std over seeds), and prints the summary table.
 *
 * local-only uses no DP, so its accuracy does not depend on epsilon: it runs
 * once per seed and its row is repeated for every epsilon. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "p4node/commands.h"
#include "p4node/simulation.h"

#define MAX_LIST 16

typedef struct {
    p4_config cfg;
    double epsilon[MAX_LIST];
    int neps;
    p4_method method[MAX_LIST];
    int nmethods, seeds, threads, reproducible;
    const char *out;
} sweep_args;

static void sweep_usage(FILE *out)
{
    fprintf(out, "usage: p4 sweep --config FILE --epsilon 1,2,4,8,inf --seeds N\n"
                 "                --method p4,local,proxyfl,proxyfl-avg,fedavg-dp --out DIR [--threads T]\n"
                 "                [--reproducible]   (seeded noise: repeatable, NOT private)\n");
}

static int parse_list(const char *text, const char *what, sweep_args *a)
{
    char copy[512];
    snprintf(copy, sizeof copy, "%s", text);
    for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        int ok;
        if (strcmp(what, "epsilon") == 0) {
            ok = a->neps < MAX_LIST && p4_parse_epsilon(tok, &a->epsilon[a->neps]);
            a->neps += ok;
        } else {
            ok = a->nmethods < MAX_LIST && p4_method_parse(tok, &a->method[a->nmethods]) == P4_OK;
            a->nmethods += ok;
        }
        if (!ok) {
            fprintf(stderr, "p4 sweep: --%s: '%s' is not valid (or more than %d items)\n", what,
                    tok, MAX_LIST);
            return 0;
        }
    }
    return 1;
}

static int parse_args(int argc, char **argv, sweep_args *a)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'}, {"epsilon", required_argument, NULL, 'e'},
        {"seeds", required_argument, NULL, 's'}, {"method", required_argument, NULL, 'm'},
        {"out", required_argument, NULL, 'o'}, {"threads", required_argument, NULL, 't'},
        {"reproducible", no_argument, NULL, 'r'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *config = NULL, *eps = "1,2,4,8,inf";
    const char *methods = "p4,local,proxyfl,proxyfl-avg,fedavg-dp";
    memset(a, 0, sizeof *a);
    a->seeds = 3;
    a->threads = 2;
    optind = 1;
    int ch;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c': config = optarg; break;
        case 'e': eps = optarg; break;
        case 's': a->seeds = atoi(optarg); break;
        case 'm': methods = optarg; break;
        case 'o': a->out = optarg; break;
        case 't': a->threads = atoi(optarg); break;
        case 'r': a->reproducible = 1; break;
        case 'h': sweep_usage(stdout); return 0;
        default: sweep_usage(stderr); return 2;
        }
    }
    if (!config || !a->out) {
        fprintf(stderr, "p4 sweep: --config and --out are required\n");
        sweep_usage(stderr);
        return 2;
    }
    if (a->seeds < 1 || a->seeds > 100 || a->threads < 1 || a->threads > 256) {
        fprintf(stderr, "p4 sweep: --seeds must be 1..100 and --threads 1..256\n");
        return 2;
    }
    if (!parse_list(eps, "epsilon", a) || !parse_list(methods, "method", a))
        return 2;
    p4_error err = {0};
    if (p4_config_load(config, &a->cfg, &err) != P4_OK) {
        fprintf(stderr, "p4 sweep: %s\n", err.message);
        return 2;
    }
    if (mkdir(a->out, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "p4 sweep: cannot make %s: %s\n", a->out, strerror(errno));
        return 1;
    }
    return -1;
}

static FILE *open_out(const sweep_args *a, const char *name, char *path, size_t n)
{
    snprintf(path, n, "%s/%s", a->out, name);
    FILE *f = fopen(path, "w");
    if (!f)
        fprintf(stderr, "p4 sweep: cannot write %s: %s\n", path, strerror(errno));
    return f;
}

/* Writes the gnuplot script and runs it; infinity is drawn at 2x the
 * largest finite epsilon and labelled "inf". */
static void plot(const sweep_args *a, const char *summary)
{
    char path[P4_PATH_MAX + 32];
    FILE *gp = open_out(a, "sweep.gp", path, sizeof path);
    if (!gp)
        return;
    double largest = 1;
    for (int e = 0; e < a->neps; e++)
        if (!isinf(a->epsilon[e]) && a->epsilon[e] > largest) largest = a->epsilon[e];
    fprintf(gp, "# made by p4 sweep; run with: gnuplot %s\n", path);
    fprintf(gp, "set datafile separator ','\nset logscale x 2\nset key center right\n"
                "set xlabel 'epsilon per client (delta %g)'\nset ylabel 'mean personalised test accuracy'\n"
                "set title '%s'\nset grid\ninf_x = %g\n", a->cfg.delta, a->cfg.path, 2 * largest);
    double smallest = largest;
    for (int e = 0; e < a->neps; e++)
        if (!isinf(a->epsilon[e]) && a->epsilon[e] < smallest) smallest = a->epsilon[e];
    fprintf(gp, "set xrange [%g:%g]\nset xtics (", smallest / 1.25, 2.5 * largest);
    int first = 1;
    for (int e = 0; e < a->neps; e++) {
        if (isinf(a->epsilon[e]))
            fprintf(gp, "%s\"inf\" %g", first ? "" : ", ", 2 * largest);
        else
            fprintf(gp, "%s\"%g\" %g", first ? "" : ", ", a->epsilon[e], a->epsilon[e]);
        first = 0;
    }
    fprintf(gp, ")\nx(e) = (e eq 'inf') ? inf_x : real(e)\n");
    for (int t = 0; t < 2; t++) {
        fprintf(gp, "set terminal %s size 800,520\nset output '%s/sweep.%s'\nplot ",
                t ? "svg" : "png", a->out, t ? "svg" : "png");
        for (int m = 0; m < a->nmethods; m++)
            fprintf(gp, "%s'%s' using (strcol(1) eq '%s' ? x(strcol(2)) : NaN):3:4 skip 1 "
                        "with yerrorlines title '%s'", m ? ", " : "", summary,
                    p4_method_name(a->method[m]), p4_method_name(a->method[m]));
        fprintf(gp, "\n");
    }
    fclose(gp);
    char cmd[2 * P4_PATH_MAX];
    snprintf(cmd, sizeof cmd, "gnuplot '%s' 2>&1", path);
    if (system(cmd) != 0)
        fprintf(stderr, "p4 sweep: gnuplot failed or is missing (apt-get install gnuplot-nox); "
                        "the script is %s\n", path);
}

int p4_cmd_sweep(int argc, char **argv)
{
    sweep_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0)
        return rc;
    char results_path[P4_PATH_MAX + 32], summary_path[P4_PATH_MAX + 32];
    FILE *results = open_out(&a, "results.csv", results_path, sizeof results_path);
    FILE *summary = open_out(&a, "summary.csv", summary_path, sizeof summary_path);
    if (!results || !summary) {
        if (results) fclose(results);
        if (summary) fclose(summary);
        return 1;
    }
    if (a.reproducible)
        fprintf(stderr, "p4 sweep: %s\n", P4_REPRODUCIBLE_WARNING);
    fprintf(results, "method,epsilon,seed,mean_accuracy,std_accuracy,epsilon_spent,ari,seconds,"
                     "dp_guarantee\n");
    fprintf(summary, "method,epsilon,mean_accuracy,std_over_seeds,seeds,mean_ari,dp_guarantee\n");
    printf("%-10s %8s %10s %8s %6s  %s\n", "method", "epsilon", "accuracy", "std", "ari",
           "dp_guarantee");
    for (int m = 0; m < a.nmethods; m++) {
        double local_acc[100] = {0}, local_std[100] = {0};
        for (int e = 0; e < a.neps; e++) {
            double sum = 0, sq = 0, ari_sum = 0;
            const char *guarantee = "none"; /* local-only's reused rows: no DP */
            for (int s = 0; s < a.seeds; s++) {
                p4_config cfg = a.cfg;
                cfg.seed = a.cfg.seed + (uint64_t)s;
                cfg.partition.seed = a.cfg.partition.seed + (uint64_t)s;
                p4_sim_result r = {0};
                int reuse = a.method[m] == P4_METHOD_LOCAL && e > 0;
                if (!reuse) {
                    p4_sim_options opt = { .method = a.method[m], .epsilon = a.epsilon[e],
                                           .threads = a.threads, .reproducible = a.reproducible };
                    p4_error err = {0};
                    fprintf(stderr, "p4 sweep: %s epsilon %g seed %llu ...\n",
                            p4_method_name(a.method[m]), a.epsilon[e], (unsigned long long)cfg.seed);
                    if (p4_sim_run(&cfg, &opt, &r, &err) != P4_OK) {
                        fprintf(stderr, "p4 sweep: %s\n", err.message);
                        fclose(results);
                        fclose(summary);
                        return 1;
                    }
                    local_acc[s] = r.mean_accuracy;
                    local_std[s] = r.std_accuracy;
                    guarantee = p4_dp_guarantee_name(r.guarantee);
                    fprintf(results, "%s,%g,%llu,%.6f,%.6f,%.6f,%.6f,%.2f,%s\n",
                            p4_method_name(a.method[m]), a.epsilon[e], (unsigned long long)cfg.seed,
                            r.mean_accuracy, r.std_accuracy, r.epsilon, r.ari, r.seconds, guarantee);
                    ari_sum += isnan(r.ari) ? 0 : r.ari;
                    p4_sim_result_free(&r);
                } else {
                    fprintf(results, "%s,%g,%llu,%.6f,%.6f,0,nan,0,%s\n", p4_method_name(a.method[m]),
                            a.epsilon[e], (unsigned long long)cfg.seed, local_acc[s], local_std[s],
                            guarantee);
                }
                fflush(results);
                sum += local_acc[s];
                sq += local_acc[s] * local_acc[s];
            }
            double mean = sum / a.seeds;
            double sd = a.seeds > 1 ? sqrt(fmax(0, (sq - a.seeds * mean * mean) / (a.seeds - 1))) : 0;
            double ari = a.method[m] == P4_METHOD_P4 ? ari_sum / a.seeds : NAN;
            fprintf(summary, "%s,%g,%.6f,%.6f,%d,%.4f,%s\n", p4_method_name(a.method[m]),
                    a.epsilon[e], mean, sd, a.seeds, ari, guarantee);
            printf("%-10s %8g %10.4f %8.4f %6.3f  %s\n", p4_method_name(a.method[m]), a.epsilon[e],
                   mean, sd, ari, guarantee);
            fflush(stdout);
        }
    }
    fclose(results);
    fclose(summary);
    plot(&a, summary_path);
    printf("\nwrote %s, %s and %s/sweep.{png,svg}\n", results_path, summary_path, a.out);
    return 0;
}
