/* cmd_audit.c: `p4 audit --config F [--epsilon E|inf] [--canaries M]
 * [--client K] [--guesses R] [--confidence C] [--canary sparse|mislabelled]
 * [--canary-pixels S] [--reproducible] [--json] [--quiet]`: the one-run empirical privacy audit of one client
 * (p4node/audit.h).  Prints the claimed epsilon and the audited lower
 * bound; --json ends with one JSON object instead. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "p4node/audit.h"
#include "p4node/commands.h"
#include "p4node/simulation.h"

static void audit_usage(FILE *out)
{
    fprintf(out,
            "usage: p4 audit --config FILE [--epsilon E|inf] [--canaries M] [--client K]\n"
            "                [--guesses R] [--confidence C] [--canary sparse|mislabelled]\n"
            "                [--canary-pixels S] [--reproducible] [--json] [--quiet]\n"
            "  --epsilon       the claimed budget per client; default: [dp] target_epsilon if\n"
            "                  [dp] is enabled, else inf (no DP)\n"
            "  --canaries      canaries, each included with probability 1/2 (default 1000)\n"
            "  --client        whose split hosts the canaries (default 0)\n"
            "  --guesses       guess on exactly R canaries (default: the best of a fixed\n"
            "                  ladder, each rung tested at (1 - C) / its size)\n"
            "  --confidence    of the lower bound (default 0.95)\n"
            "  --canary        sparse (default): a few random pixels lit on black, with random\n"
            "                  labels; mislabelled: unused real examples with wrong labels\n"
            "  --canary-pixels lit pixels per sparse canary (default 16)\n"
            "  --reproducible  noise, batches and canaries from the config's seed (no DP\n"
            "                  guarantee: anyone with the seed can remove the noise)\n");
}

typedef struct {
    p4_config cfg;
    p4_audit_options opt;
    int json, quiet;
} audit_cli;

static int parse_count(const char *name, const char *text, int min, int *out)
{
    return p4_cli_parse_int("audit", name, text, min, 1000000, out);
}

/* Returns -1 to go on, else the exit status. */
static int parse_options(int argc, char **argv, audit_cli *c)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'}, {"epsilon", required_argument, NULL, 'e'},
        {"canaries", required_argument, NULL, 'm'}, {"client", required_argument, NULL, 'k'},
        {"guesses", required_argument, NULL, 'g'}, {"canary", required_argument, NULL, 'a'},
        {"reproducible", no_argument, NULL, 'r'}, {"json", no_argument, NULL, 'j'},
        {"quiet", no_argument, NULL, 'q'}, {"canary-pixels", required_argument, NULL, 'p'},
        {"confidence", required_argument, NULL, 'C'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *config = NULL, *epsilon = NULL;
    memset(c, 0, sizeof *c);
    p4_audit_options_defaults(&c->opt);
    optind = 1;
    int ch, ok = 1;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1 && ok) {
        switch (ch) {
        case 'c': config = optarg; break;
        case 'e': epsilon = optarg; break;
        case 'm': ok = parse_count("canaries", optarg, 1, &c->opt.canaries); break;
        case 'k': ok = parse_count("client", optarg, 0, &c->opt.client); break;
        case 'g': ok = parse_count("guesses", optarg, 1, &c->opt.guesses); break;
        case 'a':
            if (strcmp(optarg, "sparse") == 0)
                c->opt.design.kind = P4_CANARY_SPARSE;
            else if (strcmp(optarg, "mislabelled") == 0)
                c->opt.design.kind = P4_CANARY_MISLABELLED;
            else {
                fprintf(stderr, "p4 audit: --canary '%s': use sparse or mislabelled\n", optarg);
                ok = 0;
            }
            break;
        case 'r': c->opt.reproducible = 1; break;
        case 'p': ok = parse_count("canary-pixels", optarg, 1, &c->opt.design.pixels); break;
        case 'C': {
            char *end = NULL;
            c->opt.confidence = strtod(optarg, &end);
            if (end == optarg || *end != '\0' || !(c->opt.confidence > 0 && c->opt.confidence < 1)) {
                fprintf(stderr, "p4 audit: --confidence '%s' must be a number in (0, 1)\n", optarg);
                ok = 0;
            }
            break;
        }
        case 'j': c->json = 1; break;
        case 'q': c->quiet = 1; break;
        case 'h': audit_usage(stdout); return 0;
        default: audit_usage(stderr); return 2;
        }
    }
    if (!ok)
        return 2;
    if (!config || optind < argc) {
        fprintf(stderr, "p4 audit: %s\n", config ? "unexpected argument" : "--config FILE is required");
        audit_usage(stderr);
        return 2;
    }
    if (c->opt.guesses > c->opt.canaries) {
        fprintf(stderr, "p4 audit: --guesses %d is more than the %d canaries\n", c->opt.guesses,
                c->opt.canaries);
        return 2;
    }
    return p4_cli_config_epsilon("audit", config, epsilon, &c->cfg, &c->opt.epsilon);
}

/* ,"name":v with non-finite numbers as null. */
static void json_number_field(const char *name, double v)
{
    printf(",\"%s\":", name);
    p4_json_number(stdout, v);
}

static void print_json(const audit_cli *c, const p4_audit_result *r)
{
    printf("{\"config\":");
    p4_json_string(stdout, c->cfg.path);
    printf(",\"method\":");
    p4_json_string(stdout, c->cfg.method);
    printf(",\"client\":%d", c->opt.client);
    json_number_field("epsilon", r->epsilon);
    json_number_field("delta", r->delta);
    json_number_field("epsilon_spent", r->epsilon_spent);
    json_number_field("epsilon_lower_bound", r->epsilon_lower_bound);
    json_number_field("confidence", r->confidence);
    printf(",\"canaries\":%d,\"included\":%d,\"guesses\":%d,\"guesses_in\":%d,"
           "\"guesses_out\":%d,\"correct\":%d,\"train_count\":%d", r->canaries, r->included,
           r->guesses, r->guesses_in, r->guesses_out, r->correct, r->train_count);
    json_number_field("noise_multiplier", r->noise_multiplier);
    json_number_field("warmup_noise_multiplier", r->warmup_noise_multiplier);
    json_number_field("proxy_accuracy", r->proxy_accuracy);
    json_number_field("mean_score_in", r->mean_score_in);
    json_number_field("mean_score_out", r->mean_score_out);
    printf(",\"dp_guarantee\":\"%s\",\"reproducible\":%s", p4_dp_guarantee_name(r->guarantee),
           c->opt.reproducible ? "true" : "false");
    json_number_field("seconds", r->seconds);
    printf("}\n");
}

static void print_text(const audit_cli *c, const p4_audit_result *r)
{
    printf("method %s, client %d: %d training examples (%d of %d canaries included)\n",
           c->cfg.method, c->opt.client, r->train_count, r->included, r->canaries);
    if (isinf(r->epsilon))
        printf("claimed epsilon   inf (no DP)\n");
    else
        printf("claimed epsilon   %.3f at delta %g (spent %.3f, noise multiplier %.4f)\n",
               r->epsilon, r->delta, r->epsilon_spent, r->noise_multiplier);
    printf("audited epsilon   >= %.3f at %.0f%% confidence (%d of %d guesses correct: %d in, "
           "%d out)\n", r->epsilon_lower_bound, 100 * r->confidence, r->correct, r->guesses,
           r->guesses_in, r->guesses_out);
    printf("dp guarantee      %s: %s\n", p4_dp_guarantee_name(r->guarantee),
           p4_dp_guarantee_reason(&r->facts));
    printf("proxy accuracy    %.4f on the client's test split; time %.1f s\n", r->proxy_accuracy,
           r->seconds);
}

int p4_cmd_audit(int argc, char **argv)
{
    audit_cli c;
    int rc = parse_options(argc, argv, &c);
    if (rc >= 0)
        return rc;
    c.opt.log = c.quiet ? NULL : stderr;
    if (c.opt.reproducible)
        fprintf(stderr, "p4 audit: %s\n", P4_REPRODUCIBLE_WARNING);
    p4_audit_result r;
    p4_error err = {0};
    if ((rc = p4_audit_run(&c.cfg, &c.opt, &r, &err)) != P4_OK) {
        fprintf(stderr, "p4 audit: %s\n", err.message);
        return rc == P4_EINVAL || rc == P4_ECONFIG || rc == P4_EUNSUPPORTED ? 2 : 1;
    }
    if (c.json)
        print_json(&c, &r);
    else
        print_text(&c, &r);
    return 0;
}
