/* leakage.h: `p4 leakage`, what a DarkneTZ-style partition hides from a
 * membership-inference attacker (issue 14).
 *
 * One client of a config trains exactly as the config's method trains it
 * locally (p4 audit's schedule: P4's DP warm-up, then rounds x local_epochs
 * of co-training), on its own split.  Members are its training examples;
 * non-members as many examples of its test split (the same classes, never
 * trained on).  Two models are attacked: the private model (no DP, what a
 * node keeps) and the DP proxy (what it shares), each in two settings:
 *
 *  (a) whole model: the attacker holds every weight, so the loss and the
 *      probabilities on any input.  Attacks: loss threshold (Yeom et al.
 *      2018) and top-1 confidence threshold.
 *  (b) partition: layers pp_start..end (the softmax included) run in the
 *      optee TA, through the harness, with the same p4_protected code that
 *      `p4 train` uses; the attacker holds the normal world's layers and
 *      activations and whatever leaves the TA: one top-1 class per query.
 *      Attacks: label-only (the top-1 is right), label-only under noisy
 *      queries (the share of `queries` Gaussian-perturbed copies classified
 *      right: members sit further from the decision boundary), and a
 *      threshold on the L2 norm of the last normal-world activations.
 *
 * Every attack's advantage (TPR - FPR) is fitted on one half of the
 * examples and measured on the other (leakage_attack.h). */
#ifndef P4_NODE_LEAKAGE_H
#define P4_NODE_LEAKAGE_H

#include <stdint.h>
#include <stdio.h>

#include "common/config.h"
#include "common/error.h"
#include "dp/guarantee.h"
#include "p4node/leakage_attack.h"

typedef enum {
    P4_LEAK_LOSS,              /* (a) -loss of the true label              */
    P4_LEAK_CONFIDENCE,        /* (a) the largest probability              */
    P4_LEAK_LABEL,             /* (b) 1 if the TA's top-1 is the label     */
    P4_LEAK_LABEL_NOISE,       /* (b) share of noisy queries answered right */
    P4_LEAK_ACTIVATION,        /* (b) norm of the last normal-world output */
    P4_LEAK_ATTACKS
} p4_leakage_attack;

/* "loss", "confidence", "label", "label-noise", "activation-norm". */
const char *p4_leakage_attack_name(p4_leakage_attack attack);
/* 1 for the attacks of setting (b), which see only what leaves the TA. */
int p4_leakage_attack_partitioned(p4_leakage_attack attack);

typedef struct p4_leakage_options {
    int client;
    double epsilon;            /* the proxy's budget; INFINITY = no DP      */
    int pp_start;              /* the private model's first protected layer;
                                  -1: its output layer (last connected)    */
    int proxy_pp_start;        /* the same for the proxy                    */
    int queries;               /* noisy queries per example (label-noise)   */
    double query_noise;        /* their pixel noise std (pixels in [0, 1])  */
    int random_labels;         /* the client's examples get uniform random
                                  labels (the memorisation check)          */
    int untrained;             /* attack the models as initialised          */
    int reproducible;          /* DP noise and batches from the seed        */
    uint64_t seed;             /* models, batches, halves, query noise      */
    const char *ta_dir;        /* the harness's TA directory; NULL: build's */
    FILE *log;                 /* progress lines (NULL = silent)            */
} p4_leakage_options;

/* Client 0, epsilon inf, output layers protected, 16 queries at 0.1. */
void p4_leakage_options_defaults(p4_leakage_options *options);

typedef struct p4_leakage_target {
    const char *name;          /* "private" or "proxy"                      */
    int pp_start, pp_end;      /* the partition of setting (b)              */
    int layers;                /* the model's layer count                   */
    p4_mia_result attack[P4_LEAK_ATTACKS];
    double train_accuracy, test_accuracy; /* on members, non-members       */
    uint64_t ta_bytes_out;     /* what left the TA in setting (b)           */
    long long ta_queries;      /* examples the TA classified                */
    p4_dp_guarantee guarantee;
    p4_dp_run_facts facts;
} p4_leakage_target;

typedef struct p4_leakage_result {
    int members, non_members;
    double epsilon, noise_multiplier;
    p4_leakage_target target[2];   /* private, proxy */
    double seconds;
} p4_leakage_result;

int p4_leakage_run(const p4_config *cfg, const p4_leakage_options *options,
                   p4_leakage_result *result, p4_error *err);

/* Setting (b)'s view of n examples x (with labels y) through a partition
 * already in place: `model`'s layers below pp_start in the normal world,
 * the rest in `enclave` (p4_protected_new has moved them in).  Fills the
 * three partitioned scores (any may be NULL); it reads the normal world's
 * activations below pp_start and the TA's top-1 classes, nothing else. */
struct p4_model;
struct p4_protected;
int p4_leakage_partition_view(struct p4_model *model, struct p4_protected *protected_layers,
                              int pp_start, const float *x, const int *y, int n, int queries,
                              double query_noise, p4_rng *rng, double *label, double *label_noise,
                              double *activation_norm, p4_error *err);

#endif
