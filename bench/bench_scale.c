/* bench_scale.c: `p4 sim` at N clients: wall time, time per round, peak
 * memory and memory per client beyond its data (issue 15).
 *
 *   bench_scale --config F [--clients N] [--rounds R] [--threads T] [--epsilon E|inf] [--json]
 *
 * Runs p4_sim_run as `p4 sim` does (its per-round log on), in this process
 * alone; bench/run starts one process per N, so each peak is its own.
 *
 *   seconds            the whole run: loading, warm-up, grouping, R rounds, evaluation.
 *   seconds_per_round  (time round R ended - time round 1 ended) / (R - 1), from the
 *                      sim's per-round log lines (a round ends when every client has
 *                      trained, exchanged and evaluated); needs R >= 2.
 *   first_round_seconds  start to the end of round 1: loading, set-up, warm-up, grouping
 *                      and one round.
 *   peak_rss_mib       VmHWM of the process at the end.
 *   data_rss_mib       VmRSS after loading the config's data set (the whole data set:
 *                      every client's shard is a view into it) and before any client
 *                      exists, libraries included.
 *   per_client_kib     (peak_rss - data_rss) / N: every byte the run added beyond the
 *                      data, charged to the clients, including the shared networks of
 *                      the computing clients, message queues and the grouping's tables.
 *                      An upper bound on a client's own memory beyond its data. */
#define _GNU_SOURCE
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/support/sim_setup.h"
#include "common/config.h"
#include "common/error.h"
#include "common/json.h"
#include "common/progress.h"
#include "datasets/workload.h"
#include "p4node/simulation.h"

typedef struct {
    p4_config cfg;
    p4_sim_options opt;
    int json;
} options;

/* Times at which the sim's "round r/R" lines arrived. */
typedef struct {
    double *ended;
    int rounds, seen;
    char line[512];
    size_t fill;
} round_clock;

static ssize_t clock_write(void *cookie, const char *buf, size_t size)
{
    round_clock *c = cookie;
    for (size_t i = 0; i < size; i++) {
        if (buf[i] != '\n') {
            if (c->fill + 1 < sizeof c->line)
                c->line[c->fill++] = buf[i];
            continue;
        }
        c->line[c->fill] = '\0';
        c->fill = 0;
        int r = 0, total = 0;
        const char *at = strstr(c->line, " round ");
        if (at && sscanf(at, " round %d/%d", &r, &total) == 2 && r >= 1 && r <= c->rounds) {
            c->ended[r - 1] = p4_now_seconds();
            c->seen++;
        }
    }
    return (ssize_t)size;
}

/* Resident-set figures from /proc/self/status, in MiB ("VmHWM:", "VmRSS:"). */
static double status_mib(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return NAN;
    char line[256];
    double v = NAN;
    size_t n = strlen(key);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, n) == 0) {
            v = strtod(line + n, NULL) / 1024.0; /* kB */
            break;
        }
    fclose(f);
    return v;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: bench_scale --config FILE [--clients N] [--rounds R] [--threads T] "
                 "[--epsilon E|inf] [--json]\n"
                 "  --clients  replaces [data] clients (the shard sizes are kept)\n"
                 "  --rounds   replaces [p4] rounds (>= 2 for a time per round)\n");
}

static int parse_options(int argc, char **argv, options *o)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'}, {"clients", required_argument, NULL, 'n'},
        {"rounds", required_argument, NULL, 'r'}, {"threads", required_argument, NULL, 't'},
        {"epsilon", required_argument, NULL, 'e'}, {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    bench_sim_args a = { .threads = "2" };
    memset(o, 0, sizeof *o);
    int ch;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c': a.config = optarg; break;
        case 'n': a.clients = optarg; break;
        case 'r': a.rounds = optarg; break;
        case 't': a.threads = optarg; break;
        case 'e': a.epsilon = optarg; break;
        case 'j': o->json = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!a.config || optind < argc) {
        usage(stderr);
        return 2;
    }
    p4_error err = {0};
    if (bench_sim_setup(&a, &o->cfg, &o->opt, &err) != P4_OK) {
        fprintf(stderr, "bench_scale: %s\n", err.message);
        return 2;
    }
    return -1;
}

int main(int argc, char **argv)
{
    options o;
    int rc = parse_options(argc, argv, &o);
    if (rc >= 0)
        return rc;
    p4_error err = {0};
    /* The data alone, as the sim will load it. */
    p4_workload *work = NULL;
    if (p4_workload_load(&o.cfg, &work, &err) != P4_OK) {
        fprintf(stderr, "bench_scale: %s\n", err.message);
        return 1;
    }
    double data_mib = status_mib("VmRSS:");
    p4_workload_destroy(&work);

    int rounds = o.cfg.rounds;
    round_clock clock = { .rounds = rounds };
    clock.ended = calloc((size_t)rounds, sizeof(double));
    cookie_io_functions_t io = { .write = clock_write };
    FILE *log = clock.ended ? fopencookie(&clock, "w", io) : NULL;
    if (!log) {
        fprintf(stderr, "bench_scale: out of memory\n");
        return 1;
    }
    setvbuf(log, NULL, _IOLBF, 0);
    o.opt.log = log;
    double start = p4_now_seconds();
    p4_sim_result r;
    rc = p4_sim_run(&o.cfg, &o.opt, &r, &err);
    fclose(log);
    if (rc != P4_OK) {
        fprintf(stderr, "bench_scale: %s\n", err.message);
        free(clock.ended);
        return 1;
    }
    double peak = status_mib("VmHWM:"), n = o.cfg.partition.clients;
    double per_round = rounds >= 2 && clock.seen == rounds
                           ? (clock.ended[rounds - 1] - clock.ended[0]) / (rounds - 1) : NAN;
    double first = clock.seen >= 1 ? clock.ended[0] - start : NAN;
    double per_client_kib = (peak - data_mib) * 1024.0 / n;
    if (o.json) {
        printf("{\"bench\":\"scale\",\"method\":\"%s\",\"clients\":%d,\"train_per_client\":%d,"
               "\"rounds\":%d,\"threads\":%d,\"seconds\":%.3f,\"seconds_per_round\":",
               p4_method_name(o.opt.method), o.cfg.partition.clients,
               o.cfg.partition.train_per_client, rounds, o.opt.threads, r.seconds);
        p4_json_number(stdout, per_round);
        printf(",\"first_round_seconds\":");
        p4_json_number(stdout, first);
        printf(",\"peak_rss_mib\":%.1f,\"data_rss_mib\":%.1f,\"per_client_kib\":%.1f,"
               "\"mean_accuracy\":", peak, data_mib, per_client_kib);
        p4_json_number(stdout, r.mean_accuracy);
        printf(",\"note\":\"per_client_kib = (peak RSS - RSS with the data loaded) / clients\"}\n");
    } else {
        printf("sim %s, %d clients, %d rounds: %.2f s (round 1 ended at %.2f s; %.3f s per later "
               "round), peak RSS %.1f MiB, data %.1f MiB, %.1f KiB per client beyond the data, "
               "mean accuracy %.4f\n",
               p4_method_name(o.opt.method), o.cfg.partition.clients, rounds, r.seconds, first,
               per_round, peak, data_mib, per_client_kib, r.mean_accuracy);
    }
    p4_sim_result_free(&r);
    free(clock.ended);
    return 0;
}
