/* dpsgd.h: DP-SGD (Abadi et al. 2016) on a p4_model.
 *
 * One step: a batch drawn by Poisson subsampling (each example of the split
 * joins independently with probability q), per-example gradients clipped to
 * L2 norm C, summed, Gaussian noise N(0, sigma^2 C^2) added to every
 * coordinate inside the enclave, divided by the EXPECTED batch size q*N,
 * then the SGD step.  Batches larger than the model's capacity are run in
 * chunks; clipping is per example, so chunking changes nothing.
 *
 * Every step is recorded in the budget ledger before it is taken: steps are
 * reserved in blocks, so a crash can only over-count, never under-count. */
#ifndef P4_DP_DPSGD_H
#define P4_DP_DPSGD_H

#include "common/error.h"
#include "common/rng.h"
#include "datasets/augment.h"
#include "datasets/dataset.h"
#include "dp/ledger.h"
#include "dp/per_example.h"
#include "model/model.h"
#include "model/optimizer.h"
#include "model/trainer.h"
#include "tee/enclave.h"

typedef struct p4_dpsgd_params {
    double sample_rate;        /* q in (0, 1]            */
    double noise_multiplier;   /* sigma >= 0             */
    double clip_norm;          /* C > 0                  */
} p4_dpsgd_params;

/* Writes the loss gradient (-dL/dlogits, darknet's sign) for rows
 * [first, first + n) of the current batch; returns the summed loss. */
typedef double p4_delta_fn(void *user, const float *logits, const float *probs,
                           int first, int n, int classes, float *delta);

typedef struct p4_dpsgd p4_dpsgd;

int p4_dpsgd_new(p4_dpsgd **out, p4_model *model, p4_sgd *sgd,
                 const p4_dpsgd_params *params, p4_enclave *enclave,
                 p4_error *err);
void p4_dpsgd_destroy(p4_dpsgd **dp);

/* Poisson subsampling: each of indices[0..count) joins `out` independently
 * with probability q; *n_out receives the batch size (out has count room). */
int p4_poisson_sample(p4_rng *rng, const int *indices, int count, double q,
                      int *out, int *n_out);

/* One DP-SGD step on the n examples x (targets: n x classes soft labels,
 * used when loss is NULL; else loss computes the delta).  expected_batch
 * is q * N.  Returns the summed loss in *loss_sum (may be NULL). */
int p4_dpsgd_step(p4_dpsgd *dp, const float *x, const float *targets, int n,
                  double expected_batch, p4_delta_fn *loss, void *loss_user,
                  double *loss_sum, p4_error *err);

/* The same step on rows that come in groups: rows = n * group, and rows
 * j*group .. (j+1)*group - 1 (of x, of targets, and as the loss callback
 * sees them) are copies of example j.  The MEAN of each group's row
 * gradients is clipped to C once, so one example still moves the sum by at
 * most C whatever its copies are: the noise, the accountant and the
 * guarantee are those of group = 1, which is p4_dpsgd_step exactly.
 * The loss reported is per example (the row losses / group). */
int p4_dpsgd_step_grouped(p4_dpsgd *dp, const float *x, const float *targets, int rows,
                          int group, double expected_batch, p4_delta_fn *loss, void *loss_user,
                          double *loss_sum, p4_error *err);

/* Augmentation multiplicity (De et al. 2022; [dp] augmentations): from now
 * on every step (p4_dpsgd_step, _step_kd, _epoch) replaces each example by
 * k copies, each transformed by p4_augment_random(augment, rng), and runs
 * p4_dpsgd_step_grouped on them; labels and teachers are repeated per copy.
 * rng is not owned and must outlive dp.  k = 1 (the default) turns it off;
 * k in 1..P4_DPSGD_MAX_AUGMENTATIONS and at most the model's capacity.
 * P4_EUNSUPPORTED with protected layers (the TA takes whole examples) and,
 * while k > 1, for p4_dpsgd_step with a loss callback (its rows would be
 * copies it does not know of). */
#define P4_DPSGD_MAX_AUGMENTATIONS 16
int p4_dpsgd_set_augmentations(p4_dpsgd *dp, int k, const p4_augment *augment, p4_rng *rng,
                               p4_error *err);

/* A P4 proxy's distillation targets (distill/kd_loss.h): label rows, the
 * private model's softened probabilities (n x classes each), kd weight
 * alpha and temperature T. */
typedef struct p4_dpsgd_kd {
    const float *onehot, *teacher;
    double alpha, temperature;
} p4_dpsgd_kd;

/* p4_dpsgd_step with the distillation loss: in the normal world through
 * p4_kd_loss, or computed by the enclave when it holds the top layers. */
int p4_dpsgd_step_kd(p4_dpsgd *dp, const float *x, int n, double expected_batch,
                     const p4_dpsgd_kd *kd, double *loss_sum, p4_error *err);

/* With protected layers: softmax(z / T) of the proxy on n examples, from
 * the enclave (the private model's teacher).  P4_EINVAL without them. */
int p4_dpsgd_teach(p4_dpsgd *dp, const float *x, int n, double temperature, float *probs,
                   p4_error *err);

/* The protected layers' parameter count, 0 without them, and where they
 * start in the model's p4_model_get_params layout (its tail when the
 * softmax is inside the enclave; before the layers above pp_end if not). */
size_t p4_dpsgd_protected_floats(const p4_dpsgd *dp);
/* The protected layers (dp/protected.h) for logits mode, NULL without. */
struct p4_protected;
struct p4_protected *p4_dpsgd_protected(p4_dpsgd *dp);
size_t p4_dpsgd_protected_offset(const p4_dpsgd *dp);

/* One epoch of DP-SGD: round(1/q) Poisson-sampled steps over the split,
 * each recorded in `ledger` (may be NULL only when sigma is reported as
 * non-private by the caller) under (model_name, phase) before it is taken. */
int p4_dpsgd_epoch(p4_dpsgd *dp, const p4_dataset *ds, const int *indices,
                   int count, p4_rng *sample_rng, p4_ledger *ledger,
                   const char *model_name, const char *phase,
                   p4_progress_fn *progress, void *user,
                   p4_epoch_stats *stats, p4_error *err);

/* Before taking step `step` (0-based) of `steps`: if it is not yet
 * reserved (step >= *reserved), durably records the next block of up to 16
 * steps in the ledger and advances *reserved.  A NULL ledger records nothing
 * (non-private runs only).  P4_EBUDGET when the block would pass the target. */
int p4_dpsgd_reserve(const p4_dpsgd *dp, p4_ledger *ledger, const char *model_name,
                     const char *phase, long long step, long long steps,
                     long long *reserved, p4_error *err);

/* Changes (q, sigma, C), e.g. between the warm-up and co-training phases. */
int p4_dpsgd_set_params(p4_dpsgd *dp, const p4_dpsgd_params *params);

/* Trains only the parametrised layers from `first_trainable` on (0 = all):
 * the clip bound and the noise then cover those layers alone, and the
 * optimiser steps them alone (p4_sgd_freeze: no weight decay below). */
int p4_dpsgd_freeze_below(p4_dpsgd *dp, int first_trainable);

/* Profiling (bench_train --profile): later steps add each phase's wall
 * time to *phases (model/step_phases.h); NULL stops it. */
void p4_dpsgd_set_phases(p4_dpsgd *dp, p4_step_phases *phases);

/* Top-1 classes of n examples: through the enclave when it holds the top
 * layers (only the class leaves it), else the model's own forward. */
int p4_dpsgd_predict(p4_dpsgd *dp, const float *x, int n, int *labels, p4_error *err);

/* Test accuracy (top-1) through p4_dpsgd_predict. */
int p4_dpsgd_evaluate(p4_dpsgd *dp, const p4_dataset *ds, const int *indices, int count,
                      double *accuracy, p4_error *err);

/* The parameters this DP-SGD runs with. */
const p4_dpsgd_params *p4_dpsgd_get_params(const p4_dpsgd *dp);

/* Steps in one DP epoch at rate q: round(1/q), at least 1. */
long long p4_dpsgd_steps_per_epoch(double q);

#endif
