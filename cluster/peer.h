/* peer.h: one participant of the P4 protocol, set up from a config.
 *
 * A peer is a client (private model + DP proxy, distill/client.h) with its
 * own privacy ledger and enclave.  `p4 sim` opens N of them in one process;
 * `p4 node` opens one.  Both go through p4_peer_open, so client k of a config
 * starts from the same models, splits and DP plan wherever it runs.
 *
 * The DP plan: each client's ledger holds its target epsilon.  Logits
 * releases (a quarter of the budget) and P4's warm-up (`warmup_budget` of
 * it) are calibrated on their own shares; co-training's noise is then
 * calibrated so that the whole plan spends exactly the target. */
#ifndef P4_CLUSTER_PEER_H
#define P4_CLUSTER_PEER_H

#include "cluster/attack.h"
#include "cluster/method.h"
#include "common/config.h"
#include "common/error.h"
#include "datasets/workload.h"
#include "distill/client.h"
#include "dp/accountant.h"
#include "dp/guarantee.h"

typedef struct p4_peer_plan {
    double q;                    /* the training rate this plan is for        */
    p4_dp_phase phase[3];        /* logits releases, warm-up, co-training     */
    int nphases;
    p4_dpsgd_params warmup;      /* sample_rate 0 when there is no warm-up    */
    double sigma;                /* co-training noise multiplier              */
    double logit_sigma;          /* logits mode: noise std per entry / clip   */
    int recalibrated;            /* resumed: sigma re-fitted to what the
                                    ledger has left (see p4_peer_setup)       */
} p4_peer_plan;

/* What every client starts from that is computed from the public set
 * alone, once, and handed to every client the caller opens (NULL: not
 * computed yet): [model] proxy_projection's first-layer parameters, and
 * [model] proxy_init / private_init = public-pretrain's weights
 * (cluster/pretrain.c).  The caller owns it: p4_public_cache_free. */
typedef struct p4_public_cache {
    float *params;               /* the projection's layers */
    size_t count;
    float *pretrained[2];        /* [0] private model, [1] proxy */
    size_t pretrained_count[2];
} p4_public_cache;

void p4_public_cache_free(p4_public_cache *cache);

/* What every peer of a run shares. */
typedef struct p4_peer_setup {
    const p4_config *cfg;
    const p4_workload *work;
    p4_method method;
    double epsilon;              /* target per client; INFINITY = no DP       */
    int reproducible;            /* seeded noise and batches: NOT private     */
    const char *state_dir;       /* ledgers: state_dir/client-NNN.db          */
    int public_n;                /* the public set's size ([p4] public_count)  */
    const unsigned char *is_attacker; /* per client, or NULL: nobody attacks   */
    p4_model_pool *model_pool;   /* optional: clients borrow networks from it
                                    and can park (distill/client.h)          */
    /* A node resuming from a checkpoint: warm-up and grouping are done and
     * rounds_done rounds with them.  The ledger is then asked for the rest
     * of the plan only.  When it holds more than the checkpoint knew (the
     * steps of a round that was cut short stay counted), the co-training
     * noise of the remaining rounds is recalibrated so that everything
     * recorded plus what is left still meets the target. */
    int resuming, rounds_done;
    p4_public_cache *public_cache; /* optional: without it each peer computes
                                      its own (the same) projection and
                                      pretrained weights                 */
} p4_peer_setup;

typedef struct p4_peer {
    int id;
    p4_client *client;
    p4_ledger *ledger;           /* NULL without DP */
    p4_enclave *enclave;         /* NULL without DP */
    p4_attack_kind attack;       /* P4_ATTACK_NONE for an honest peer         */
    double attack_strength;
    p4_grouping_lie grouping_lie; /* an attacker's lie in the grouping phase  */
    int lie_target;              /* the honest client it aims at (-1: none)   */
    double lie_noise;
    p4_dataset *flipped;         /* labelflip: the training set with flipped
                                    labels (pixels shared with the real one) */
} p4_peer;

/* 1 when the run trains DP proxies; 1 when it shares logits, not weights. */
int p4_peer_setup_dp(const p4_peer_setup *setup);
int p4_peer_setup_logits(const p4_peer_setup *setup);

/* What a peer's DP guarantee rests on: what leaves a client is the warm-up
 * proxy (labels only) and then either noised logits, whose sensitivity
 * bound holds whatever the proxy learnt from, or proxy weights, which carry
 * the private teacher unless strict_dp. */
p4_dp_run_facts p4_peer_setup_facts(const p4_peer_setup *setup);

/* Client k's DP-SGD sampling rate q: [dp] sample_rate, else batch / its
 * training-set size, at most 1. */
double p4_peer_sample_rate(const p4_config *cfg, int train_count);

/* The client spec p4_peer_open gives client k, training on rows train_idx
 * of `train` (p4 audit: client k's split plus its canaries): every field
 * but the DP noise multipliers, ledger and enclave, which the caller adds. */
void p4_peer_client_spec(const p4_peer_setup *setup, int k, const p4_dataset *train,
                         const int *train_idx, int train_count, p4_client_spec *spec);

/* The plan for a client training at rate q (see above). */
int p4_peer_plan_budget(const p4_peer_setup *setup, double q, p4_peer_plan *plan, p4_error *err);

/* Opens client k.  *plan caches the last calibration: clients of equal size
 * share one (initialise it with q = -1).  Refuses a run whose whole plan the
 * client's ledger cannot pay for. */
int p4_peer_open(p4_peer *peer, const p4_peer_setup *setup, int k, p4_peer_plan *plan,
                 p4_error *err);
void p4_peer_close(p4_peer *peer);

/* The public set: the first `count` training examples no client holds,
 * the same for every peer, as indices into work->train (free with free()). */
int p4_public_set_indices(const p4_config *cfg, const p4_workload *work, int count,
                          int **indices, p4_error *err);
/* Logits mode's public reference set: those examples' inputs (n x inputs
 * floats; free with free()). */
int p4_public_set_pick(const p4_config *cfg, const p4_workload *work, int count, float **x,
                       p4_error *err);

/* How many of the proxy's first parametrised layers [model] proxy_projection
 * fixes (and the client keeps out of DP-SGD): 0 none, 1 public-pca(-whiten),
 * 2 wavelet, 3 wavelet-pca. */
int p4_peer_projection_layers(const p4_config *cfg);
/* [model] proxy_projection: writes the public set's principal directions
 * (public-pca), the wavelet front end (wavelet), or both in turn
 * (wavelet-pca) into the client's proxy's first layer(s)
 * (cluster/projection.c); P4_OK and nothing done when the key is none. */
int p4_peer_install_projection(const p4_peer_setup *setup, p4_client *client, p4_error *err);

/* [model] proxy_init / private_init = public-pretrain: writes weights
 * trained with plain SGD on the labeled public set into the client's proxy
 * and / or private model (cluster/pretrain.c), the same in every client;
 * P4_OK and nothing done when both are random. */
int p4_peer_install_pretrained(const p4_peer_setup *setup, p4_client *client, p4_error *err);

/* p4_client_new, then what the client starts from that comes from the
 * public set (p4_peer_install_projection, then p4_peer_install_pretrained):
 * the one way p4_peer_open, `p4 audit` and `p4 leakage` make a client, so
 * that they audit the model a run trains.  *out is NULL on error. */
int p4_peer_client_new(const p4_peer_setup *setup, const p4_client_spec *spec, p4_client **out,
                       p4_error *err);

/* 1 when the config's run reads the public set (p4_public_set_indices):
 * logits mode, a projection computed from it (public-pca, wavelet-pca), or
 * weights pretrained on it.  `p4 audit` keeps its canaries off those rows. */
int p4_peer_reads_public_set(const p4_config *cfg);

/* How many of the proxy's first parametrised layers DP-SGD leaves alone:
 * [model] proxy_frozen_layers, and at least the projection's layers
 * (p4_peer_projection_layers). */
int p4_peer_frozen_layers(const p4_config *cfg);

/* The proxy coordinates the grouping distance covers ([dp] distance_layers). */
int p4_peer_distance_range(const p4_config *cfg, const p4_client *client, int classes,
                           size_t *offset, size_t *length, p4_error *err);

#endif
