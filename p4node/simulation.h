/* simulation.h: N clients of one config in one process (`p4 sim`, and each
 * cell of `p4 sweep`), running P4 or one of its baselines through the same
 * round protocol (cluster/protocol.h) a networked node runs.
 *
 *   p4        DP warm-up, private grouping on the warm-up proxies, then rounds
 *             of co-training and proxy aggregation inside each group;
 *   local     each private model alone, no sharing, no DP;
 *   proxyfl   co-training, proxies averaged with one peer per round over an
 *             exponential graph (ProxyFL), no grouping;
 *   fedavg-dp every client's DP proxy averaged with all others each round
 *             (one global model, evaluated on each client's test split).
 *
 * Budget: each client has its own ledger (state_dir/client-NNN.db) with the
 * target epsilon.  P4's warm-up runs at its own rate and noise, calibrated to
 * spend `warmup_budget` of the target alone; the training noise is then
 * calibrated so that the client's whole plan (warm-up, rounds x local
 * epochs, logits releases) spends exactly the target at the config's delta.
 * epsilon = INFINITY runs without DP. */
#ifndef P4_NODE_SIMULATION_H
#define P4_NODE_SIMULATION_H

#include <stdio.h>

#include "cluster/method.h"
#include "common/config.h"
#include "common/error.h"
#include "dp/guarantee.h"


/* Parses "inf" or a positive finite number (a target epsilon); 1 on success. */
int p4_parse_epsilon(const char *text, double *out);

/* Reads option --name's value `text` as a whole number in min..max into
 * *out; otherwise prints "p4 <command>: --<name> '<text>' must be a whole
 * number from <min> to <max>" and returns 0.  Returns 1 on success. */
int p4_cli_parse_int(const char *command, const char *name, const char *text, int min, int max,
                     int *out);

/* `p4 audit` and `p4 leakage`: loads config into cfg and sets *out to the
 * --epsilon text if given, else [dp] target_epsilon when [dp] is enabled,
 * else INFINITY.  Returns -1 to go on, or 2 after printing the error as
 * "p4 <command>: ...". */
int p4_cli_config_epsilon(const char *command, const char *config, const char *epsilon,
                          p4_config *cfg, double *out);

typedef struct p4_sim_options {
    p4_method method;
    double epsilon;          /* target per client; INFINITY = no DP        */
    const char *state_dir;   /* ledgers go here (kept); NULL = a temporary
                                folder removed at the end                  */
    int threads;             /* clients trained at once (>= 1)              */
    int reproducible;        /* noise and batches from the seed: NOT private */
    FILE *log;               /* per-round lines (NULL = silent)             */
} p4_sim_options;

typedef struct p4_sim_result {
    int clients;
    double *accuracy;        /* per client, on its own test split            */
    double mean_accuracy, std_accuracy;
    double epsilon;          /* largest spend over clients (0 without DP)    */
    double noise_multiplier; /* the calibrated sigma (0 without DP)          */
    double warmup_noise_multiplier; /* P4's warm-up sigma (0 if none)       */
    int *group_of;           /* per client; NULL unless the method groups    */
    int ngroups;
    int *latent;             /* per client latent cluster, or NULL           */
    double ari;              /* adjusted Rand index of groups vs latent, NAN */
    double seconds;
    p4_dp_run_facts facts;   /* what the run's DP guarantee rests on         */
    unsigned char *attacker; /* per client: 1 if [attack] made it malicious  */
    int attackers;
    double honest_mean_accuracy; /* over the clients that are not attackers  */
    int krum_fallbacks;      /* client-rounds where aggregate = multikrum used
                                the mean (group too small); 0 = none         */
    int krum_smallest;       /* the smallest such group                      */
    int proxy_reverts;       /* client-rounds whose training diverged from an
                                average of peers' proxies and went back to
                                the client's own proxy (protocol.h); 0 = none */
    p4_dp_guarantee guarantee;
} p4_sim_result;

/* Runs one simulation of cfg; on success fills *result (free with
 * p4_sim_result_free). */
int p4_sim_run(const p4_config *cfg, const p4_sim_options *options, p4_sim_result *result,
               p4_error *err);
void p4_sim_result_free(p4_sim_result *result);

/* From accuracy[] (and attacker[], which may be NULL): the mean and std
 * over clients, the attackers and the honest clients' mean. */
void p4_sim_result_summarise_accuracy(p4_sim_result *result);

#endif
