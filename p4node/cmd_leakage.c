/* cmd_leakage.c: `p4 leakage --config F [--client K] [--seeds S]
 * [--epsilon E|inf] [--pp-start P] [--proxy-pp-start P] [--queries Q]
 * [--query-noise S] [--random-labels] [--untrained] [--reproducible]
 * [--json] [--quiet]`: membership-inference advantage against one client's
 * private model and proxy, with the whole model and through the optee
 * partition (p4node/leakage.h), over S seeds with 95% intervals. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/workers.h"
#include "p4node/commands.h"
#include "p4node/leakage.h"
#include "p4node/simulation.h"

#define MAX_SEEDS 100

static void leakage_usage(FILE *out)
{
    fprintf(out,
            "usage: p4 leakage --config FILE [--client K] [--clients N] [--seeds S] [--epsilon E|inf]\n"
            "                  [--pp-start P] [--proxy-pp-start P] [--queries Q]\n"
            "                  [--query-noise S] [--random-labels] [--untrained] [--threads T]\n"
            "                  [--json-file PATH]\n"
            "                  [--reproducible] [--json] [--quiet]\n"
            "  --client          whose split is attacked (default 0)\n"
            "  --seeds           runs, with [model] seed, seed + 1, ... (default 1)\n"
            "  --clients         attack clients K..K+N-1, each trained on its own (default 1);\n"
            "                    the intervals are over all seeds x clients runs (at most 100)\n"
            "  --epsilon         the proxy's budget; default: [dp] target_epsilon if [dp] is\n"
            "                    enabled, else inf (no DP)\n"
            "  --pp-start        the private model's first layer in the TA (default: its output\n"
            "                    layer, the last before the softmax); the TA ends at the softmax\n"
            "  --proxy-pp-start  the same for the proxy\n"
            "  --queries         noisy label-only queries per example (default 16)\n"
            "  --query-noise     their Gaussian pixel noise, pixels in [0, 1] (default 0.1)\n"
            "  --random-labels   give the client's examples random labels (memorisation check)\n"
            "  --untrained       attack the models as initialised (a null check)\n"
            "  --threads         p4's compute threads (default 1)\n"
            "  --json-file PATH  also write the JSON object to PATH (the table to stdout)\n"
            "  --reproducible    DP noise and batches from the seed (no DP guarantee)\n");
}

typedef struct {
    p4_config cfg;
    p4_leakage_options opt;
    int seeds, clients, threads, json, quiet;
    const char *json_file;
    int first_client;
} leakage_cli;

static int parse_int(const char *name, const char *text, int min, int max, int *out)
{
    return p4_cli_parse_int("leakage", name, text, min, max, out);
}

/* Returns -1 to go on, else the exit status. */
static int parse_options(int argc, char **argv, leakage_cli *c)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'}, {"client", required_argument, NULL, 'k'},
        {"seeds", required_argument, NULL, 's'}, {"clients", required_argument, NULL, 'C'},
        {"threads", required_argument, NULL, 't'}, {"json-file", required_argument, NULL, 'J'}, {"epsilon", required_argument, NULL, 'e'},
        {"pp-start", required_argument, NULL, 'p'}, {"proxy-pp-start", required_argument, NULL, 'P'},
        {"queries", required_argument, NULL, 'n'}, {"query-noise", required_argument, NULL, 'N'},
        {"random-labels", no_argument, NULL, 'R'}, {"untrained", no_argument, NULL, 'U'},
        {"reproducible", no_argument, NULL, 'r'}, {"json", no_argument, NULL, 'j'},
        {"quiet", no_argument, NULL, 'q'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *config = NULL, *epsilon = NULL;
    memset(c, 0, sizeof *c);
    p4_leakage_options_defaults(&c->opt);
    c->seeds = 1;
    c->clients = 1;
    c->threads = 1;
    optind = 1;
    int ch, ok = 1;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1 && ok) {
        switch (ch) {
        case 'c': config = optarg; break;
        case 'e': epsilon = optarg; break;
        case 'k': ok = parse_int("client", optarg, 0, 1000000, &c->opt.client); break;
        case 's': ok = parse_int("seeds", optarg, 1, MAX_SEEDS, &c->seeds); break;
        case 'C': ok = parse_int("clients", optarg, 1, MAX_SEEDS, &c->clients); break;
        case 't': ok = parse_int("threads", optarg, 1, 8, &c->threads); break;
        case 'p': ok = parse_int("pp-start", optarg, 0, 1000, &c->opt.pp_start); break;
        case 'P': ok = parse_int("proxy-pp-start", optarg, 0, 1000, &c->opt.proxy_pp_start); break;
        case 'n': ok = parse_int("queries", optarg, 0, 1024, &c->opt.queries); break;
        case 'N': {
            char *end = NULL;
            c->opt.query_noise = strtod(optarg, &end);
            if (end == optarg || *end != '\0' || !(c->opt.query_noise >= 0 && c->opt.query_noise <= 1)) {
                fprintf(stderr, "p4 leakage: --query-noise '%s' must be a number in [0, 1]\n", optarg);
                ok = 0;
            }
            break;
        }
        case 'R': c->opt.random_labels = 1; break;
        case 'U': c->opt.untrained = 1; break;
        case 'r': c->opt.reproducible = 1; break;
        case 'j': c->json = 1; break;
        case 'J': c->json_file = optarg; break;
        case 'q': c->quiet = 1; break;
        case 'h': leakage_usage(stdout); return 0;
        default: leakage_usage(stderr); return 2;
        }
    }
    if (!ok)
        return 2;
    if (c->seeds * c->clients > MAX_SEEDS) {
        fprintf(stderr, "p4 leakage: --seeds x --clients is at most %d runs\n", MAX_SEEDS);
        return 2;
    }
    c->first_client = c->opt.client;
    if (!config || optind < argc) {
        fprintf(stderr, "p4 leakage: %s\n", config ? "unexpected argument" : "--config FILE is required");
        leakage_usage(stderr);
        return 2;
    }
    return p4_cli_config_epsilon("leakage", config, epsilon, &c->cfg, &c->opt.epsilon);
}

/* Per seed: each attack's held-out advantage, and the best of a setting. */
/* Every *_per_seed array holds one value per run: seed-major, then client. */
static double best_of_setting(const p4_leakage_target *t, int partitioned)
{
    double best = -INFINITY;
    for (int a = 0; a < P4_LEAK_ATTACKS; a++)
        if (p4_leakage_attack_partitioned(a) == partitioned && t->attack[a].advantage > best)
            best = t->attack[a].advantage;
    return best;
}

/* values[s] = field of run s, target t; as a JSON array. */
static void json_array(FILE *out, const double *v, int n)
{
    fprintf(out, "[");
    for (int s = 0; s < n; s++) {
        if (s)
            fprintf(out, ",");
        p4_json_number(out, v[s]);
    }
    fprintf(out, "]");
}

static void json_summary(FILE *out, const char *name, const double *v, int n)
{
    double mean, hw;
    p4_mia_mean_ci(v, n, &mean, &hw);
    fprintf(out, "\"%s\":", name);
    p4_json_number(out, mean);
    fprintf(out, ",\"%s_ci95\":", name);
    p4_json_number(out, hw);
    fprintf(out, ",\"%s_per_seed\":", name);
    json_array(out, v, n);
}

static void print_json(FILE *out, const leakage_cli *c, const p4_leakage_result *r, int n)
{
    double v[MAX_SEEDS];
    fprintf(out, "{\"config\":");
    p4_json_string(out, c->cfg.path);
    fprintf(out, ",\"method\":");
    p4_json_string(out, c->cfg.method);
    fprintf(out, ",\"epsilon\":");
    p4_json_number(out, c->opt.epsilon);
    fprintf(out, ",\"noise_multiplier\":");
    p4_json_number(out, r[0].noise_multiplier);
    fprintf(out, ",\"runs\":%d,\"seeds\":[", n);
    for (int s = 0; s < c->seeds; s++)
        fprintf(out, "%s%llu", s ? "," : "", (unsigned long long)(c->cfg.seed + (uint64_t)s));
    fprintf(out, "],\"clients\":[");
    for (int k = 0; k < c->clients; k++)
        fprintf(out, "%s%d", k ? "," : "", c->first_client + k);
    fprintf(out, "],\"members\":%d,\"non_members\":%d,\"queries\":%d,\"query_noise\":", r[0].members,
           r[0].non_members, c->opt.queries);
    p4_json_number(out, c->opt.query_noise);
    fprintf(out, ",\"random_labels\":%s,\"untrained\":%s,\"reproducible\":%s,\"targets\":[",
           c->opt.random_labels ? "true" : "false", c->opt.untrained ? "true" : "false",
           c->opt.reproducible ? "true" : "false");
    for (int t = 0; t < 2; t++) {
        const p4_leakage_target *x = &r[0].target[t];
        fprintf(out, "%s{\"model\":\"%s\",\"dp_guarantee\":\"%s\",\"layers\":%d,\"pp_start\":%d,"
               "\"pp_end\":%d,\"ta_bytes_out\":%llu,\"ta_queries\":%lld,", t ? "," : "", x->name,
               p4_dp_guarantee_name(x->guarantee), x->layers, x->pp_start, x->pp_end,
               (unsigned long long)x->ta_bytes_out, x->ta_queries);
        for (int s = 0; s < n; s++)
            v[s] = r[s].target[t].train_accuracy;
        json_summary(out, "member_accuracy", v, n);
        fprintf(out, ",");
        for (int s = 0; s < n; s++)
            v[s] = r[s].target[t].test_accuracy;
        json_summary(out, "non_member_accuracy", v, n);
        for (int setting = 0; setting < 2; setting++) {
            for (int s = 0; s < n; s++)
                v[s] = best_of_setting(&r[s].target[t], setting);
            fprintf(out, ",");
            json_summary(out, setting ? "partition_best" : "whole_model_best", v, n);
        }
        fprintf(out, ",\"attacks\":[");
        for (int a = 0; a < P4_LEAK_ATTACKS; a++) {
            fprintf(out, "%s{\"name\":\"%s\",\"setting\":\"%s\",", a ? "," : "",
                   p4_leakage_attack_name(a), p4_leakage_attack_partitioned(a) ? "partition"
                                                                               : "whole_model");
            for (int s = 0; s < n; s++)
                v[s] = r[s].target[t].attack[a].advantage;
            json_summary(out, "advantage", v, n);
            fprintf(out, ",");
            for (int s = 0; s < n; s++)
                v[s] = r[s].target[t].attack[a].in_sample;
            json_summary(out, "in_sample", v, n);
            fprintf(out, "}");
        }
        fprintf(out, "]}");
    }
    double secs = 0;
    for (int s = 0; s < n; s++)
        secs += r[s].seconds;
    fprintf(out, "],\"seconds\":");
    p4_json_number(out, secs);
    fprintf(out, "}\n");
}

static void print_cell(const double *v, int n)
{
    double mean, hw;
    p4_mia_mean_ci(v, n, &mean, &hw);
    if (n > 1)
        printf("%7.3f +- %.3f", mean, hw);
    else
        printf("%7.3f        ", mean);
}

static void print_text(const leakage_cli *c, const p4_leakage_result *r, int n)
{
    double v[MAX_SEEDS];
    printf("method %s, clients %d..%d x seeds %llu..%llu (%d run%s): %d members, %d "
           "non-members each;\nadvantage = TPR - FPR, threshold fitted on the other half",
           c->cfg.method, c->first_client, c->first_client + c->clients - 1,
           (unsigned long long)c->cfg.seed, (unsigned long long)(c->cfg.seed + (uint64_t)c->seeds - 1),
           n, n == 1 ? "" : "s", r[0].members, r[0].non_members);
    printf(n > 1 ? "; mean +- 95%% CI\n" : "\n");
    if (isinf(c->opt.epsilon))
        printf("proxy epsilon inf (no DP)\n");
    else
        printf("proxy epsilon %g (noise multiplier %.4f)\n", c->opt.epsilon, r[0].noise_multiplier);
    printf("%-8s %-11s %-5s %-16s %-16s %s\n", "model", "guarantee", "in TA", "setting",
           "attack", "advantage");
    for (int t = 0; t < 2; t++) {
        const p4_leakage_target *x = &r[0].target[t];
        char range[32];
        snprintf(range, sizeof range, "%d..%d", x->pp_start, x->pp_end);
        for (int a = 0; a < P4_LEAK_ATTACKS; a++) {
            int part = p4_leakage_attack_partitioned(a);
            for (int s = 0; s < n; s++)
                v[s] = r[s].target[t].attack[a].advantage;
            printf("%-8s %-11s %-5s %-16s %-16s ", x->name, p4_dp_guarantee_name(x->guarantee),
                   part ? range : "-", part ? "(b) partition" : "(a) whole model",
                   p4_leakage_attack_name(a));
            print_cell(v, n);
            printf("\n");
        }
        for (int s = 0; s < n; s++)
            v[s] = r[s].target[t].train_accuracy;
        printf("%-8s accuracy on members ", x->name);
        print_cell(v, n);
        for (int s = 0; s < n; s++)
            v[s] = r[s].target[t].test_accuracy;
        printf(", non-members ");
        print_cell(v, n);
        printf("; %llu bytes left the TA for %lld queries\n",
               (unsigned long long)x->ta_bytes_out, x->ta_queries);
    }
}

int p4_cmd_leakage(int argc, char **argv)
{
    leakage_cli c;
    int rc = parse_options(argc, argv, &c);
    if (rc >= 0)
        return rc;
    c.opt.log = c.quiet ? NULL : stderr;
    p4_workers_set_threads(c.threads);
    if (c.opt.reproducible)
        fprintf(stderr, "p4 leakage: %s\n", P4_REPRODUCIBLE_WARNING);
    int runs = c.seeds * c.clients;
    p4_leakage_result *r = calloc((size_t)runs, sizeof *r);
    if (!r) {
        fprintf(stderr, "p4 leakage: out of memory\n");
        return 1;
    }
    p4_error err = {0};
    for (int s = 0; s < runs; s++) {
        c.opt.seed = c.cfg.seed + (uint64_t)(s / c.clients);
        c.opt.client = c.first_client + s % c.clients;
        if (c.opt.log)
            fprintf(c.opt.log, "leakage: seed %llu, client %d (run %d of %d)\n",
                    (unsigned long long)c.opt.seed, c.opt.client, s + 1, runs);
        if ((rc = p4_leakage_run(&c.cfg, &c.opt, &r[s], &err)) != P4_OK) {
            fprintf(stderr, "p4 leakage: %s\n", err.message);
            free(r);
            return rc == P4_EINVAL || rc == P4_ECONFIG || rc == P4_EUNSUPPORTED ? 2 : 1;
        }
    }
    if (c.json_file) {
        FILE *f = fopen(c.json_file, "w");
        if (f)
            print_json(f, &c, r, runs);
        if (!f || fclose(f) != 0) {
            fprintf(stderr, "p4 leakage: cannot write %s\n", c.json_file);
            free(r);
            return 1;
        }
    }
    if (c.json)
        print_json(stdout, &c, r, runs);
    else
        print_text(&c, r, runs);
    free(r);
    return 0;
}
