/* optimizer.h: SGD with momentum and weight decay over a model's layers.
 *
 * p4 applies updates itself instead of darknet's update_network because DP-SGD
 * must divide by the *expected* batch size and add noise before the step,
 * and because the same optimiser must serve private and proxy models alike.
 * Gradients are read from darknet's weight_updates/bias_updates, which hold
 * the summed negative gradient of the batch (darknet's convention):
 *     g = -updates / divisor + decay * w;   v = momentum * v + g;   w -= lr * v. */
#ifndef P4_MODEL_OPTIMIZER_H
#define P4_MODEL_OPTIMIZER_H

#include "common/error.h"
#include "model/model.h"

typedef struct p4_sgd p4_sgd;

int p4_sgd_new(p4_sgd **out, p4_model *model, double learning_rate,
               double momentum, double weight_decay, p4_error *err);
void p4_sgd_destroy(p4_sgd **sgd);

/* Zeroes the accumulated gradients of every layer.  Call it before the
 * gradients of a step are computed (every caller does): a step leaves the
 * gradients zero, so a zero_grad right after one only takes note of that;
 * gradients computed between a step and the next zero_grad would not be
 * cleared by it. */
void p4_sgd_zero_grad(p4_sgd *sgd);
/* One step with the accumulated gradients divided by `divisor` (> 0); the
 * gradients are zero afterwards (each block is zeroed once it is used). */
int p4_sgd_step(p4_sgd *sgd, double divisor);
void p4_sgd_set_learning_rate(p4_sgd *sgd, double learning_rate);
/* From now on the model's first `layers` parametrised layers take no step:
 * no gradient, no weight decay, no momentum (a fixed projection, or the
 * layers below a head-only warm-up); their gradients are still zeroed.
 * 0 unfreezes.  P4_EINVAL unless a layer above them is left to train. */
int p4_sgd_freeze(p4_sgd *sgd, int layers);
/* The step's settings (for layers stepped elsewhere: the OP-TEE TA's). */
int p4_sgd_settings(const p4_sgd *sgd, double *learning_rate, double *momentum,
                    double *weight_decay);

/* Points the optimiser at another model built from the same cfg (a network
 * borrowed from a pool, model/model_pool.h), keeping its momentum: the
 * client's optimiser state stays with the client, not with the network.
 * P4_EINVAL when the model's layers differ. */
int p4_sgd_rebind(p4_sgd *sgd, p4_model *model);

/* The momentum buffers, flattened in the model's parameter order (what a
 * checkpoint keeps so a restarted run steps as the undisturbed one would). */
size_t p4_sgd_velocity_count(const p4_sgd *sgd);
int p4_sgd_get_velocity(const p4_sgd *sgd, float *out, size_t n);
int p4_sgd_set_velocity(p4_sgd *sgd, const float *in, size_t n);

#endif
