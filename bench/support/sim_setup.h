/* sim_setup.h: the set-up bench_sim and bench_scale share: a config with a
 * benchmark's overrides (clients, rounds, test_per_client, threads, method,
 * epsilon) applied, and the p4_sim_options `p4 sim` would use for it. */
#ifndef P4_BENCH_SIM_SETUP_H
#define P4_BENCH_SIM_SETUP_H

#include "common/config.h"
#include "p4node/simulation.h"

/* The command-line texts of the overrides; NULL keeps the config's value
 * (threads NULL means 2, as `p4 sim`). */
typedef struct {
    const char *config, *clients, *rounds, *test_per_client, *threads, *method, *epsilon;
} bench_sim_args;

/* text as a whole number in 1..1000000 into *out; 1 if it was one. */
int bench_positive_int(const char *text, int *out);

/* Loads args->config into cfg, applies the overrides and fills opt (method,
 * threads, epsilon: the config's target, or inf without DP).  Returns
 * P4_OK, or an error whose message names the option or config at fault. */
int bench_sim_setup(const bench_sim_args *args, p4_config *cfg, p4_sim_options *opt,
                    p4_error *err);

#endif
