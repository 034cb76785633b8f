/* client.h: one P4 client: a private model and a DP proxy that co-train.
 *
 * The private model never leaves the client and trains without DP.  The
 * proxy trains with DP-SGD and is the only thing whose knowledge is shared.
 * On each local batch the two distill into each other (Hinton-style KD):
 *   private: (1-a) CE(private, y) + a T^2 KL(softmax(proxy/T) || softmax(private/T))
 *   proxy:   (1-a) CE(proxy, y)   + a T^2 KL(softmax(private/T) || softmax(proxy/T))
 * and the proxy's step is DP-SGD.  The private model saw the same data
 * without DP, so a proxy that distils from it has a guarantee only if that
 * teacher is assumed fixed (`conditional`).  strict_dp = 1, the default,
 * makes a DP proxy learn from labels only, and the guarantee holds outright
 * (the private model still learns from the proxy).  Without DP the proxy
 * always distils, as in the paper.
 *
 * The same client code runs in `p4 sim` (many clients in one process) and
 * in a networked node: it never talks to peers itself; callers move the
 * proxy vectors (or noised logits) between clients. */
#ifndef P4_DISTILL_CLIENT_H
#define P4_DISTILL_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "common/rng.h"
#include "datasets/dataset.h"
#include "dp/dpsgd.h"
#include "dp/ledger.h"
#include "model/cfg.h"
#include "model/model_pool.h"
#include "tee/enclave.h"

typedef struct p4_client_spec {
    int id;
    const p4_dataset *train, *test;
    const int *train_idx;  int train_count;
    const int *test_idx;   int test_count;
    const char *private_cfg, *proxy_cfg;
    p4_cfg_shape shape;
    int batch;                 /* chunk size (model capacity)             */
    double learning_rate, momentum, weight_decay;
    double proxy_learning_rate; /* 0: learning_rate                      */
    uint64_t seed;             /* models and batch order: (seed, id)      */
    int dp;                    /* 0: the proxy trains without DP (eps=inf) */
    p4_dpsgd_params dp_params; /* q, sigma, C when dp                     */
    p4_dpsgd_params warmup_params; /* q, sigma, C of the warm-up (zero: = dp_params) */
    double kd_alpha, kd_temperature;
    int strict_dp;
    /* 0 (the paper's): both models step on the same Poisson batches at q.
     * 1 (cotrain_batches = separate): the private model walks its own
     * shuffled batches of `batch`, and the proxy its own Poisson batches at
     * q, so that the DP batch (and its noise per step) can be chosen for the
     * proxy alone ([dp] sample_rate) without changing the private model's. */
    int separate_batches;
    int seeded_sampling;       /* DP batches from the seed (reproducible, not secret) */
    int warmup_head_only;      /* DP warm-up trains the output layer alone */
    int frozen_layers;         /* the proxy's first frozen_layers parametrised layers take no
                                  DP-SGD step (a fixed projection); 0: none.  The plain
                                  (no-DP) steps still train them */
    int augmentations;         /* [dp] augmentations: K augmented copies per example in
                                  the proxy's DP-SGD steps (0 or 1: none; dp/dpsgd.h) */
    p4_ledger *ledger;         /* required when dp; not owned             */
    p4_enclave *enclave;       /* required when dp; not owned             */
    p4_model_pool *model_pool; /* optional, not owned: networks borrowed from
                                  it, so that the client can park          */
} p4_client_spec;

typedef enum {
    P4_LOCAL_COTRAIN,      /* P4 / ProxyFL: private and proxy distil      */
    P4_LOCAL_PRIVATE_ONLY, /* local-only baseline: private, CE, no DP     */
    P4_LOCAL_PROXY_ONLY    /* FedAvg-DP: the proxy alone, CE, DP-SGD      */
} p4_local_mode;

typedef enum { P4_MODEL_PRIVATE, P4_MODEL_PROXY } p4_which_model;

typedef struct p4_client p4_client;

int p4_client_new(p4_client **out, const p4_client_spec *spec, p4_error *err);
void p4_client_destroy(p4_client **client);

/* DP warm-up: `epochs` epochs of DP-SGD on the proxy with labels only,
 * recorded in the ledger as phase "warmup".  With warmup_head_only, only the
 * output layer trains, so the whole clip bound goes to the layer the grouping
 * distance reads. */
int p4_client_warmup(p4_client *client, int epochs, p4_error *err);

/* `epochs` local epochs in the given mode; DP proxy steps are recorded as
 * phase "cotrain" (or "train" for PROXY_ONLY). */
int p4_client_local(p4_client *client, p4_local_mode mode, int epochs,
                    p4_error *err);

/* Accuracy of one of the models on the client's own test split. */
int p4_client_evaluate(p4_client *client, p4_which_model which, double *accuracy,
                       p4_error *err);

/* [p4] predict = ensemble: accuracy on the client's own test split of
 * (1 - proxy_weight) p_private + proxy_weight p_proxy (distill/ensemble.h).
 * P4_EUNSUPPORTED when the proxy's top layers live in the enclave. */
int p4_client_evaluate_ensemble(p4_client *client, double proxy_weight, double *accuracy,
                                p4_error *err);

/* The proxy as a flat vector (what is shared) and setting it back. */
size_t p4_client_proxy_size(const p4_client *client);
/* With protected layers the proxy's tail comes from the enclave (a weights
 * release), or reads as zeros when they stay there (logits mode). */
int p4_client_get_proxy(const p4_client *client, float *out, size_t n);
/* The proxy's floats the enclave holds (its tail), 0 without protected layers. */
size_t p4_client_protected_floats(const p4_client *client);
int p4_client_set_proxy(p4_client *client, const float *in, size_t n);
/* Replaces the private model's weights (p4_client_get_model's layout):
 * [model] private_init = public-pretrain, before any training. */
int p4_client_set_private(p4_client *client, const float *in, size_t n);
/* Either model's weights as one flat vector (p4_model_get_params' layout):
 * what a finished node saves of the model it serves. */
size_t p4_client_model_size(const p4_client *client, p4_which_model which);
int p4_client_get_model(const p4_client *client, p4_which_model which, float *out, size_t n);

/* The proxy's parametrised layer k as [offset, offset + length). */
int p4_client_proxy_layer(const p4_client *client, int k, size_t *offset, size_t *length);
/* How many of the proxy's first parametrised layers no step of this client
 * trains: p4_client_spec.frozen_layers (a fixed projection) when the proxy
 * trains with DP-SGD, which leaves them alone; 0 without DP (plain SGD
 * trains every layer) and for NULL. */
int p4_client_frozen_layers(const p4_client *client);

/* Logits mode: the proxy's logits on n public inputs, each row clipped to
 * L2 norm `clip` and noised with N(0, (sigma clip)^2) inside the enclave;
 * recorded in the ledger as one release (phase "logits", q = 1) before it
 * is returned.  sigma = 0 and no ledger only when the client has no DP. */
int p4_client_public_logits(p4_client *client, const float *x, int n, double clip,
                            double sigma, float *logits_out, p4_error *err);

/* Logits mode: the proxy distils for `epochs` epochs on the public inputs
 * from a teacher distribution (n x classes, rows sum to 1).  Public data and
 * DP outputs only: no privacy cost. */
int p4_client_distill_public(p4_client *client, const float *x, int n,
                             const float *teacher_probs, int epochs, p4_error *err);

int p4_client_id(const p4_client *client);

/* Parking (only for a client with a model_pool): p4_client_park keeps both
 * models' parameters and momentum as flat vectors and gives their networks,
 * optimisers and batch buffers back; p4_client_unpark borrows networks again
 * and restores them exactly, so a parked-and-unparked client computes bit
 * for bit what one that never parked would.  Parked, the proxy calls above
 * (size, get, set, layer) still work; training, evaluation and logits return
 * P4_EINVAL until unparked.  Both are no-ops in the state they leave. */
int p4_client_park(p4_client *client, p4_error *err);
int p4_client_unpark(p4_client *client, p4_error *err);
int p4_client_parked(const p4_client *client);
/* Bytes a parked client holds for its models (parameters, momentum and the
 * proxy's layer table), for memory accounting. */
size_t p4_client_parked_bytes(const p4_client *client);
/* The private model's parameters as the client last parked them, or NULL
 * if it never parked.  While a parking client computes (unparked), that is
 * its private model as the computation began: a copy the protocol's revert
 * can use without taking its own. */
const float *p4_client_parked_private(const p4_client *client, size_t *count);

/* What a checkpoint keeps of a client so a restart trains on as the
 * undisturbed run would: both models' weights, both optimisers' momentum,
 * and the batch sampler's position when it is seeded (reproducible runs and
 * runs without DP), and so the augmented copies' generator ([dp]
 * augmentations > 1, reproducible runs).  A secret (OS-keyed) generator is
 * never saved: a restart keys a fresh one, which keeps it just as secret. */
typedef struct p4_client_state {
    float *private_params, *proxy_params;
    size_t private_count, proxy_count;
    float *private_velocity, *proxy_velocity;
    size_t private_velocity_count, proxy_velocity_count;
    int has_batch_rng;
    unsigned char batch_rng[P4_RNG_STATE_BYTES];
    int has_augment_rng;
    unsigned char augment_rng[P4_RNG_STATE_BYTES];
} p4_client_state;

/* Fills *state (allocating; free with p4_client_state_free). */
int p4_client_save(const p4_client *client, p4_client_state *state, p4_error *err);
/* The same for a round checkpoint (round >= 0, the round it resumes at):
 * with the proxy's top in the TA ([tee] pp_start), the TA also snapshots
 * its layers, their momentum and (--reproducible) its noise position under
 * that round (p4_enclave_layers_snapshot).  Call it before committing the
 * checkpoint.  round -1: p4_client_save. */
int p4_client_save_at(const p4_client *client, int round, p4_client_state *state,
                      p4_error *err);
/* Puts a saved state back: P4_ESTATE, naming the part, when a size does not
 * match this client's models or a value is not finite; a saved sampler is
 * ignored by a client whose sampler is secret.  With the proxy's top in the
 * TA, restore_at also puts back the TA's snapshot of `round` (the round
 * given to save_at), and P4_ESTATE, nothing changed, when the TA holds
 * none; the TA's ledger keeps every spend, the lost partial round's too.
 * p4_client_restore (round -1) refuses such a client (P4_EUNSUPPORTED). */
int p4_client_restore(p4_client *client, const p4_client_state *state, p4_error *err);
int p4_client_restore_at(p4_client *client, const p4_client_state *state, int round,
                         p4_error *err);
void p4_client_state_free(p4_client_state *state);


#endif
