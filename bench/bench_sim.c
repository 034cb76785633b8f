/* bench_sim.c: how long a P4 simulation of N clients takes, and its memory.
 *
 *   bench_sim --config F --clients N [--rounds R] [--method p4] [--epsilon E]
 *             [--threads T] [--test-per-client K] [--round-cost] [--json]
 *
 * Loads the config, sets [data] clients = N (train_per_client is kept, so
 * every client has the same data whatever N is), optionally rounds and
 * test_per_client, and runs p4_sim_run exactly as `p4 sim --quiet` does.
 *
 * Default: one run.  "seconds" is its wall time, all of it: loading and
 * splitting the data set, the warm-up and grouping, R rounds and the final
 * evaluation; "seconds_per_round_avg" is simply seconds / R, setup included.
 *
 * --round-cost: the cost of ONE co-training round alone, by difference: two
 * runs with warmup_epochs = 0, one with rounds = 1 and one with rounds =
 * 1 + K (--extra-rounds K, default 8; the rest identical):
 * "round_seconds" = (wall(1 + K rounds) - wall(1 round)) / K.  Loading the
 * data set, setting the clients up and the final evaluation cancel out.  A
 * single extra round (K = 1) is too short to see past the noise of loading
 * the data; every round does the same work, so K rounds divided by K is one
 * round.  The pair is run twice and the smaller difference kept: on a
 * shared machine other work only ever adds time.
 *
 * peak_rss_mib is getrusage's ru_maxrss of this process (MiB) at the end. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "bench/support/sim_setup.h"
#include "common/config.h"
#include "common/error.h"
#include "common/json.h"
#include "p4node/simulation.h"

#define ROUND_COST_REPEATS 2
#define DEFAULT_EXTRA_ROUNDS 8

typedef struct {
    p4_config cfg;
    p4_sim_options opt;
    int json, round_cost, extra_rounds;
} options;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: bench_sim --config FILE --clients N [--rounds R] [--method p4|local|proxyfl|proxyfl-avg|fedavg-dp]\n"
            "                 [--epsilon E|inf] [--threads T] [--test-per-client K]\n"
            "                 [--round-cost [--extra-rounds K]] [--json]\n"
            "  --clients          replaces [data] clients (train_per_client is kept)\n"
            "  --rounds           replaces [p4] rounds\n"
            "  --test-per-client  replaces [data] test_per_client (the test set must hold N times it)\n"
            "  --threads          clients trained at once (default 2, as `p4 sim`)\n"
            "  --round-cost       time one co-training round: runs of 1 and 1+K rounds, no warm-up\n"
            "  --extra-rounds     K (default %d)\n", DEFAULT_EXTRA_ROUNDS);
}

/* Returns -1 to go on, else the exit status. */
static int parse_options(int argc, char **argv, options *o)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'}, {"clients", required_argument, NULL, 'n'},
        {"rounds", required_argument, NULL, 'r'}, {"method", required_argument, NULL, 'm'},
        {"epsilon", required_argument, NULL, 'e'}, {"threads", required_argument, NULL, 't'},
        {"test-per-client", required_argument, NULL, 'k'}, {"round-cost", no_argument, NULL, 'R'},
        {"extra-rounds", required_argument, NULL, 'x'},
        {"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    bench_sim_args a = { .threads = "2" };
    const char *extra = NULL;
    memset(o, 0, sizeof *o);
    int ch;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c': a.config = optarg; break;
        case 'n': a.clients = optarg; break;
        case 'r': a.rounds = optarg; break;
        case 'm': a.method = optarg; break;
        case 'e': a.epsilon = optarg; break;
        case 't': a.threads = optarg; break;
        case 'k': a.test_per_client = optarg; break;
        case 'R': o->round_cost = 1; break;
        case 'x': extra = optarg; break;
        case 'j': o->json = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!a.config || !a.clients || optind < argc) {
        fprintf(stderr, "bench_sim: --config FILE and --clients N are required\n");
        usage(stderr);
        return 2;
    }
    p4_error err = {0};
    if (bench_sim_setup(&a, &o->cfg, &o->opt, &err) != P4_OK) {
        fprintf(stderr, "bench_sim: %s\n", err.message);
        return 2;
    }
    o->extra_rounds = DEFAULT_EXTRA_ROUNDS;
    if (extra && !bench_positive_int(extra, &o->extra_rounds)) {
        fprintf(stderr, "bench_sim: --extra-rounds '%s' must be a positive whole number\n", extra);
        return 2;
    }
    return -1;
}

static double peak_rss_mib(void)
{
    struct rusage ru;
    return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss / 1024.0 : NAN; /* Linux: KiB */
}

/* One p4_sim_run of cfg; its wall time in *seconds. */
static int run_once(const p4_config *cfg, const p4_sim_options *opt, double *seconds,
                    double *accuracy, p4_error *err)
{
    p4_sim_result r;
    int rc = p4_sim_run(cfg, opt, &r, err);
    if (rc != P4_OK)
        return rc;
    *seconds = r.seconds;
    if (accuracy)
        *accuracy = r.mean_accuracy;
    p4_sim_result_free(&r);
    return P4_OK;
}

/* The fields every line shares. */
static void print_head(const options *o, const char *bench)
{
    printf("{\"bench\":\"%s\",\"method\":\"%s\",\"clients\":%d,\"train_per_client\":%d,"
           "\"test_per_client\":%d,\"threads\":%d,\"epsilon\":",
           bench, p4_method_name(o->opt.method), o->cfg.partition.clients,
           o->cfg.partition.train_per_client, o->cfg.partition.test_per_client, o->opt.threads);
    p4_json_number(stdout, o->opt.epsilon);
}

static int whole_run(const options *o, p4_error *err)
{
    double seconds = 0, accuracy = NAN;
    int rc = run_once(&o->cfg, &o->opt, &seconds, &accuracy, err);
    if (rc != P4_OK)
        return rc;
    int rounds = o->cfg.rounds;
    if (!o->json) {
        printf("sim %s, %d clients, %d rounds: %.3f s (%.3f s per round, setup included), "
               "peak RSS %.1f MiB, mean accuracy %.4f\n",
               p4_method_name(o->opt.method), o->cfg.partition.clients, rounds, seconds,
               seconds / rounds, peak_rss_mib(), accuracy);
        return P4_OK;
    }
    print_head(o, "sim");
    printf(",\"rounds\":%d,\"warmup_epochs\":%d,\"seconds\":%.3f,\"seconds_per_round_avg\":%.4f,"
           "\"peak_rss_mib\":%.1f,\"mean_accuracy\":",
           rounds, o->cfg.warmup_epochs, seconds, seconds / rounds, peak_rss_mib());
    p4_json_number(stdout, accuracy);
    printf(",\"note\":\"seconds_per_round_avg = seconds / rounds, setup and warm-up included\"}\n");
    return P4_OK;
}

static int round_cost(const options *o, p4_error *err)
{
    p4_config one = o->cfg, more = o->cfg;
    one.warmup_epochs = more.warmup_epochs = 0;
    one.rounds = 1;
    more.rounds = 1 + o->extra_rounds;
    double best = INFINITY, t1 = 0, t2 = 0;
    for (int k = 0; k < ROUND_COST_REPEATS; k++) {
        double a, b;
        int rc = run_once(&one, &o->opt, &a, NULL, err);
        if (rc == P4_OK)
            rc = run_once(&more, &o->opt, &b, NULL, err);
        if (rc != P4_OK)
            return rc;
        if ((b - a) / o->extra_rounds < best) {
            best = (b - a) / o->extra_rounds;
            t1 = a;
            t2 = b;
        }
    }
    if (best < 0)
        best = 0; /* the round was lost in the noise */
    if (!o->json) {
        printf("sim %s, %d clients: one co-training round %.4f s (runs of 1 and %d rounds without "
               "warm-up: %.3f s and %.3f s), peak RSS %.1f MiB\n",
               p4_method_name(o->opt.method), o->cfg.partition.clients, best, more.rounds, t1, t2,
               peak_rss_mib());
        return P4_OK;
    }
    print_head(o, "sim_round");
    printf(",\"round_seconds\":%.4f,\"rounds\":[1,%d],\"seconds\":[%.3f,%.3f],"
           "\"peak_rss_mib\":%.1f,\"note\":\"round_seconds = (wall(rounds=%d) - wall(rounds=1)) / %d, "
           "warmup_epochs=0, best of %d pairs\"}\n",
           best, more.rounds, t1, t2, peak_rss_mib(), more.rounds, o->extra_rounds,
           ROUND_COST_REPEATS);
    return P4_OK;
}

int main(int argc, char **argv)
{
    options o;
    int rc = parse_options(argc, argv, &o);
    if (rc >= 0)
        return rc;
    p4_error err = {0};
    rc = o.round_cost ? round_cost(&o, &err) : whole_run(&o, &err);
    if (rc != P4_OK) {
        fprintf(stderr, "bench_sim: %s\n", err.message);
        return 1;
    }
    return 0;
}
