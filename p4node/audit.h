/* audit.h: `p4 audit`, the one-run empirical privacy audit of Steinke,
 * Nasr and Jagielski (2023) applied to one client of a config.
 *
 * One client's training set is its split plus the canaries that a fair coin
 * let in (audit_canaries.h).  The client then trains exactly as the
 * config's method does on its own side: P4's DP warm-up, then rounds x
 * local_epochs of co-training (ProxyFL: co-training only; FedAvg-DP: the
 * proxy alone), with its own ledger and the noise calibrated for that
 * training set's size by the peers' own plan (p4_peer_plan_budget).  The
 * released proxy scores every canary; the most and least confident are guessed "in" and
 * "out", and the correct guesses give a lower bound on epsilon
 * (dp/audit_bound.h).  What the group averaging adds to the proxy is
 * post-processing of other clients' DP outputs, so leaving it out can only
 * help the attack.
 *
 * By default the guesses are the best of a fixed ladder of guess counts,
 * each tested at (1 - confidence) / ladder size (a union bound keeps the
 * whole audit at the stated confidence). */
#ifndef P4_NODE_AUDIT_H
#define P4_NODE_AUDIT_H

#include <stdio.h>

#include "common/config.h"
#include "common/error.h"
#include "dp/guarantee.h"
#include "p4node/audit_canaries.h"

typedef struct p4_audit_options {
    double epsilon;            /* the claimed target; INFINITY = no DP     */
    int canaries;              /* m >= 1                                   */
    int client;                /* whose split hosts the canaries           */
    int guesses;               /* 0: the ladder; else this many (half "in",
                                  half "out"), tested at 1 - confidence    */
    double confidence;         /* in (0, 1), e.g. 0.95                     */
    int reproducible;          /* noise, batches and canaries from the
                                  config's seed: no DP guarantee           */
    p4_canary_design design;
    FILE *log;                 /* progress lines (NULL = silent)           */
} p4_audit_options;

/* m = 1000, client 0, the ladder, 95%, OS-random, sparse canaries. */
void p4_audit_options_defaults(p4_audit_options *options);

typedef struct p4_audit_result {
    double epsilon;               /* the claim (INFINITY without DP)        */
    double delta;
    double epsilon_spent;         /* by the audited client's ledger         */
    double epsilon_lower_bound;   /* at the stated confidence               */
    double confidence;
    int canaries, included;
    int guesses, guesses_in, guesses_out, correct;
    int train_count;              /* real examples + included canaries      */
    double noise_multiplier, warmup_noise_multiplier;
    double proxy_accuracy;        /* on the client's own test split         */
    double mean_score_in, mean_score_out; /* the attack's raw separation   */
    p4_dp_guarantee guarantee;    /* what the claim is worth (dp/guarantee.h) */
    p4_dp_run_facts facts;
    double seconds;
} p4_audit_result;

int p4_audit_run(const p4_config *cfg, const p4_audit_options *options, p4_audit_result *result,
                 p4_error *err);

#endif
