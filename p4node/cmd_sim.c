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

#include "common/json.h"
#include "p4node/commands.h"
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

/* Prints the groups as [[0,1,2],[3,4]]: JSON and human text alike. */
static void print_groups(FILE *out, const p4_sim_result *r)
{
    fputc('[', out);
    for (int g = 0; g < r->ngroups; g++) {
        fprintf(out, "%s[", g ? "," : "");
        int first = 1;
        for (int k = 0; k < r->clients; k++)
            if (r->group_of[k] == g) {
                fprintf(out, "%s%d", first ? "" : ",", k);
                first = 0;
            }
        fputc(']', out);
    }
    fputc(']', out);
}

static void print_json(const p4_sim_cli *c, const p4_sim_result *r)
{
    printf("{\"config\":");
    p4_json_string(stdout, c->cfg.path);
    printf(",\"method\":\"%s\",\"epsilon_target\":", p4_method_name(c->opt.method));
    p4_json_number(stdout, c->opt.epsilon);
    printf(",\"epsilon\":");
    p4_json_number(stdout, r->epsilon);
    printf(",\"delta\":");
    p4_json_number(stdout, c->cfg.delta);
    printf(",\"noise_multiplier\":");
    p4_json_number(stdout, r->noise_multiplier);
    printf(",\"dp_guarantee\":\"%s\",\"reproducible\":%s", p4_dp_guarantee_name(r->guarantee),
           c->opt.reproducible ? "true" : "false");
    printf(",\"seed\":%llu,\"clients\":%d,\"mean_accuracy\":", (unsigned long long)c->cfg.seed,
           r->clients);
    p4_json_number(stdout, r->mean_accuracy);
    printf(",\"std_accuracy\":");
    p4_json_number(stdout, r->std_accuracy);
    printf(",\"accuracy\":[");
    for (int k = 0; k < r->clients; k++) {
        if (k) putchar(',');
        p4_json_number(stdout, r->accuracy[k]);
    }
    printf("],\"groups\":");
    print_groups(stdout, r);
    printf(",\"ari\":");
    p4_json_number(stdout, r->ari);
    if (r->attackers > 0) {
        printf(",\"attack\":{\"kind\":");
        p4_json_string(stdout, c->cfg.attack_kind);
        printf(",\"fraction\":");
        p4_json_number(stdout, c->cfg.attack_fraction);
        printf(",\"strength\":");
        p4_json_number(stdout, c->cfg.attack_strength);
        printf(",\"attackers\":[");
        for (int k = 0, first = 1; k < r->clients; k++)
            if (r->attacker[k]) {
                printf("%s%d", first ? "" : ",", k);
                first = 0;
            }
        printf("]}");
    }
    printf(",\"honest_mean_accuracy\":");
    p4_json_number(stdout, r->honest_mean_accuracy);
    printf(",\"seconds\":");
    p4_json_number(stdout, r->seconds);
    printf("}\n");
}

static void print_text(const p4_sim_cli *c, const p4_sim_result *r)
{
    printf("%-7s %-8s %-6s %9s\n", "client", "cluster", "group", "accuracy");
    for (int k = 0; k < r->clients; k++) {
        char latent[16] = "-";
        if (r->latent[k] >= 0) snprintf(latent, sizeof latent, "%d", r->latent[k]);
        printf("%-7d %-8s %-6d %9.4f\n", k, latent, r->group_of[k], r->accuracy[k]);
    }
    printf("\nmethod %s, %d clients, seed %llu\n", p4_method_name(c->opt.method), r->clients,
           (unsigned long long)c->cfg.seed);
    printf("mean accuracy %.4f (std over clients %.4f)\n", r->mean_accuracy, r->std_accuracy);
    printf("groups (%d): ", r->ngroups);
    print_groups(stdout, r);
    putchar('\n');
    if (!isnan(r->ari))
        printf("adjusted Rand index against the latent clusters: %.3f\n", r->ari);
    if (r->attackers > 0) {
        printf("attack %s (strength %g): %d malicious client(s):", c->cfg.attack_kind,
               c->cfg.attack_strength, r->attackers);
        for (int k = 0; k < r->clients; k++)
            if (r->attacker[k])
                printf(" %d", k);
        printf("; honest clients' mean accuracy %.4f\n", r->honest_mean_accuracy);
    }
    if (isinf(c->opt.epsilon) || c->opt.method == P4_METHOD_LOCAL)
        printf("privacy: no DP (epsilon inf)\n");
    else
        printf("privacy: epsilon %.3f spent of %.3f per client at delta %g (noise multiplier %.4f)\n",
               r->epsilon, c->opt.epsilon, c->cfg.delta, r->noise_multiplier);
    printf("dp_guarantee %s: %s\n", p4_dp_guarantee_name(r->guarantee),
           p4_dp_guarantee_reason(&r->facts));
    printf("time %.1f s\n", r->seconds);
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
    if (c.json)
        print_json(&c, &r);
    else
        print_text(&c, &r);
    p4_sim_result_free(&r);
    return 0;
}
