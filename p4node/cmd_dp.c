/* cmd_dp.c: `p4 dp epsilon|noise`: the accountant from the command line.
 *
 *   p4 dp epsilon --sample-rate Q --noise-multiplier S --steps T --delta D
 *   p4 dp noise   --sample-rate Q --steps T --delta D --epsilon E
 *
 * Each prints one decimal number alone on stdout, so scripts can use it;
 * --verbose adds the best RDP order (epsilon) or the epsilon reached (noise)
 * on stderr.  Bad arguments exit 2 with a message naming the option. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dp/accountant.h"
#include "p4node/commands.h"

typedef struct {
    double q, sigma, delta, epsilon;
    long long steps;
    int verbose;
} dp_args;

static void dp_usage(FILE *out)
{
    fprintf(out,
            "usage: p4 dp epsilon --sample-rate Q --noise-multiplier S --steps T --delta D\n"
            "       p4 dp noise   --sample-rate Q --steps T --delta D --epsilon E\n"
            "Poisson-subsampled Gaussian mechanism, RDP accountant (Opacus's orders and\n"
            "conversion). 'noise' finds the smallest noise multiplier within 1e-4.\n");
}

/* Parses a whole-string decimal; returns 0 on failure. */
static int parse_number(const char *option, const char *text, double *out)
{
    char *end = NULL;
    double v = strtod(text, &end);
    if (end == text || *end != '\0' || isnan(v)) {
        fprintf(stderr, "p4 dp: --%s: '%s' is not a number\n", option, text);
        return 0;
    }
    *out = v;
    return 1;
}

static int parse_args(int argc, char **argv, dp_args *a)
{
    static const struct option options[] = {
        {"sample-rate", required_argument, NULL, 'q'},
        {"noise-multiplier", required_argument, NULL, 's'},
        {"steps", required_argument, NULL, 't'},
        {"delta", required_argument, NULL, 'd'},
        {"epsilon", required_argument, NULL, 'e'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    double steps = NAN;
    *a = (dp_args){ NAN, NAN, NAN, NAN, 0, 0 };
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
        int ok = 1;
        switch (c) {
        case 'q': ok = parse_number("sample-rate", optarg, &a->q); break;
        case 's': ok = parse_number("noise-multiplier", optarg, &a->sigma); break;
        case 't': ok = parse_number("steps", optarg, &steps); break;
        case 'd': ok = parse_number("delta", optarg, &a->delta); break;
        case 'e': ok = parse_number("epsilon", optarg, &a->epsilon); break;
        case 'v': a->verbose = 1; break;
        case 'h': dp_usage(stdout); return 1;
        default: dp_usage(stderr); return 2;
        }
        if (!ok) return 2;
    }
    if (isnan(a->q) || !(a->q > 0 && a->q <= 1)) {
        fprintf(stderr, "p4 dp: --sample-rate must be given and lie in (0, 1]\n");
        return 2;
    }
    if (isnan(steps) || steps < 1 || steps != floor(steps) || steps > 1e15) {
        fprintf(stderr, "p4 dp: --steps must be given as a whole number >= 1\n");
        return 2;
    }
    a->steps = (long long)steps;
    if (isnan(a->delta) || !(a->delta > 0 && a->delta < 1)) {
        fprintf(stderr, "p4 dp: --delta must be given and lie in (0, 1)\n");
        return 2;
    }
    return 0;
}

static int run_epsilon(const dp_args *a)
{
    if (isnan(a->sigma) || a->sigma < 0 || isinf(a->sigma)) {
        fprintf(stderr, "p4 dp epsilon: --noise-multiplier must be given, finite and >= 0\n");
        return 2;
    }
    p4_dp_phase phase = { a->q, a->sigma, a->steps };
    double eps, order;
    p4_error err = {0};
    if (p4_rdp_epsilon(&phase, 1, a->delta, NULL, 0, &eps, &order, &err) != P4_OK) {
        fprintf(stderr, "p4 dp epsilon: %s\n", err.message);
        return 1;
    }
    printf("%.10g\n", eps);
    if (a->verbose) fprintf(stderr, "best RDP order %g\n", order);
    return 0;
}

static int run_noise(const dp_args *a)
{
    if (isnan(a->epsilon) || !(a->epsilon > 0) || isinf(a->epsilon)) {
        fprintf(stderr, "p4 dp noise: --epsilon must be given, finite and > 0\n");
        return 2;
    }
    double sigma;
    p4_error err = {0};
    if (p4_rdp_calibrate_sigma(a->epsilon, a->delta, a->q, a->steps, NULL, 0, 1e-4, &sigma, &err)) {
        fprintf(stderr, "p4 dp noise: %s\n", err.message);
        return 1;
    }
    printf("%.6f\n", sigma);
    if (a->verbose) {
        p4_dp_phase phase = { a->q, sigma, a->steps };
        double eps;
        if (p4_rdp_epsilon(&phase, 1, a->delta, NULL, 0, &eps, NULL, &err) == P4_OK)
            fprintf(stderr, "epsilon at this noise: %.6f\n", eps);
    }
    return 0;
}

int p4_cmd_dp(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        dp_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *verb = argv[1];
    if (strcmp(verb, "epsilon") != 0 && strcmp(verb, "noise") != 0) {
        fprintf(stderr, "p4 dp: unknown verb '%s' (epsilon or noise)\n", verb);
        return 2;
    }
    dp_args a;
    int rc = parse_args(argc - 1, argv + 1, &a);
    if (rc == 1) return 0;
    if (rc) return rc;
    return strcmp(verb, "epsilon") == 0 ? run_epsilon(&a) : run_noise(&a);
}
