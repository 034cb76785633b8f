/* protected.h: DP-SGD with the top of the model inside the enclave
 * (DarkneTZ-style protected layers, [tee] pp_start..pp_end, optee backend).
 *
 * The normal world runs darknet's layers below pp_start; the enclave runs
 * the rest (dense layers and the softmax), whose weights it received once
 * at set-up and which the normal world then zeroes.  One step, per pass:
 *   normal forward -> enclave train (loss, gradient at its inputs) ->
 *   normal per-example backward (its norms) -> enclave clip (factors from
 *   the combined norms) -> normal clipped sums;
 * then the enclave charges its ledger, noises both worlds' sums, updates
 * its layers and returns the normal world's noised sums for its SGD step.
 * Inference gives only the top-1 class. */
#ifndef P4_DP_PROTECTED_H
#define P4_DP_PROTECTED_H

#include "common/error.h"
#include "dp/per_example.h"
#include "model/model.h"
#include "model/optimizer.h"
#include "tee/enclave.h"

typedef struct p4_protected p4_protected;

/* Checks that the enclave's range is connected, convolutional and max-pool
 * layers ending in the model's softmax or below it (DarkneTZ's mid range:
 * the normal world runs the layers above pp_end, pp_end's activations
 * leave the enclave, and inference's top-1 is the normal world's), and that
 * they fit the enclave's memory (P4_ENOMEM naming bytes needed and
 * available), then moves their weights into the enclave. */
int p4_protected_new(p4_protected **out, p4_model *model, p4_enclave *enclave, p4_error *err);
void p4_protected_destroy(p4_protected **p);

/* A P4 proxy's distillation targets: the private model's softened
 * probabilities (n x classes), the KD weight and the temperature
 * (distill/kd_loss.h); the enclave computes the loss. */
typedef struct p4_protected_kd {
    const float *teacher;
    double alpha, temperature;
} p4_protected_kd;

/* One DP-SGD step (dp/dpsgd.h's p4_dpsgd_step with the cross-entropy on
 * `targets`, or with kd's distillation loss when kd is not NULL, targets
 * then the label rows); clip and sigma from (clip_norm, noise_multiplier). */
int p4_protected_step(p4_protected *p, p4_per_example *pe, p4_sgd *sgd, double sample_rate,
                      double noise_multiplier, double clip_norm, const float *x,
                      const float *targets, const p4_protected_kd *kd, int n,
                      double expected_batch, double *loss_sum, p4_error *err);

/* softmax(z / T) of the proxy on n examples (the private model's teacher;
 * it leaves the enclave). */
int p4_protected_teach(p4_protected *p, const float *x, int n, double temperature, float *probs,
                       p4_error *err);

/* The protected layers' parameters: floats offset..offset + floats - 1 of
 * p4_model_get_params's layout (its tail when pp_end is the softmax). */
size_t p4_protected_floats(const p4_protected *p);
size_t p4_protected_offset(const p4_protected *p);

/* Top-1 classes of n examples (from the enclave with the softmax inside,
 * else from the normal world's softmax above pp_end). */
int p4_protected_predict(p4_protected *p, const float *x, int n, int *labels, p4_error *err);

/* Logits mode ([p4] share = logits, the enclave's layers loaded to stay):
 * the proxy's noised, mean-centred log-probabilities on n public inputs
 * (n x classes in rows), computed, clipped to clip, charged and noised with
 * N(0, (sigma clip)^2) in the enclave (p4_enclave_layers_release_logits). */
int p4_protected_release_logits(p4_protected *p, const float *x, int n, double clip,
                                double sigma, float *rows, p4_error *err);

/* Logits mode: one epoch of the proxy's plain distillation on n public
 * inputs from teacher (n x classes, rows summing to 1) at temperature T,
 * in steps of `batch` (distill/client.c's p4_client_distill_public): the
 * enclave's layers take their step inside, unnoised and uncharged (public
 * data and released values only), the normal world's through sgd. */
int p4_protected_distill_public(p4_protected *p, p4_sgd *sgd, const float *x, int n,
                                const float *teacher, double temperature, int batch,
                                p4_error *err);

#endif
