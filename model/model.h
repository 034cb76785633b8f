/* model.h: one neural network, built by libdarknet from a checked .cfg.
 *
 * p4_model owns a darknet `network` and what p4 adds around it: weight
 * initialisation from a p4_rng (darknet's uses rand(), which is neither
 * seedable per model nor thread-safe), a flat view of the parameters for
 * sharing and aggregation, and access to the logits.  Batches of any size up
 * to the capacity given at creation are run by shrinking darknet's batch
 * (set_batch_network), never by padding.  Training steps are in trainer.h and
 * dp/dpsgd.h; they all go through darknet's forward_network/backward_network. */
#ifndef P4_MODEL_MODEL_H
#define P4_MODEL_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "model/cfg.h"

struct network;
typedef struct p4_model p4_model;

/* A training step of a large batch runs in passes of about equal size
 * (p4_model_capacity examples each), their gradients summed: the same
 * step, with each layer's activations for a pass small enough to stay
 * near the core.  A pass holds at most P4_PASS_BUDGET_FLOATS layer outputs
 * (2.5 MiB), and at least P4_PASS_MIN_EXAMPLES examples.  For CNN1 at batch
 * 250 (passes of 63 and 50) that was 8-23% faster than one pass of 250
 * (A/B on this machine, DP-SGD on 28x28x1 and 32x32x3), and it needs a
 * fraction of the memory; the MLP (410 outputs per example) runs in one
 * pass, where splitting cost it 10%. */
#define P4_PASS_BUDGET_FLOATS (640 * 1024)
#define P4_PASS_MIN_EXAMPLES 16

/* Builds the model from cfg_path for inputs of `shape`, for training steps
 * of `batch` examples (p4_model_batch) run in passes (p4_model_capacity,
 * above); weights drawn from (seed, "init"). */
int p4_model_new(p4_model **out, const char *cfg_path, const p4_cfg_shape *shape,
                 int batch, uint64_t seed, p4_error *err);
void p4_model_destroy(p4_model **model);

/* Draws the weights again from (seed, "init") and zeroes the biases: the
 * state p4_model_new(..., seed) leaves. */
void p4_model_initialise(p4_model *model, uint64_t seed);
/* 1 when the model was built from cfg_path for `shape` and `batch`, so it
 * can stand in for another such model once given its parameters. */
int p4_model_fits(const p4_model *model, const char *cfg_path, const p4_cfg_shape *shape,
                  int batch);

/* The darknet network (for the training code in model/ and dp/). */
struct network *p4_model_network(p4_model *model);
const p4_cfg_summary *p4_model_summary(const p4_model *model);
int p4_model_batch(const p4_model *model);      /* examples per training step */
int p4_model_capacity(const p4_model *model);   /* examples per pass, <= batch */
int p4_model_input_size(const p4_model *model);   /* floats per example */
int p4_model_classes(const p4_model *model);

/* Number of trainable floats, and copies to/from one flat vector (layer by
 * layer: weights then biases).  The vector is what proxies share. */
size_t p4_model_param_count(const p4_model *model);
int p4_model_get_params(const p4_model *model, float *out, size_t n);
int p4_model_set_params(p4_model *model, const float *in, size_t n);
/* The accumulated updates in the same layout (darknet's sign: the summed
 * negative gradient of the last backward passes since the last zeroing). */
int p4_model_get_gradients(const p4_model *model, float *out, size_t n);

/* The k-th parametrised layer's slice of the flat vector: its weights and
 * biases occupy [*offset, *offset + *length).  Returns P4_EINVAL past the
 * last one, so `for (k = 0; p4_model_param_layer(m, k, &o, &l) == P4_OK; k++)`
 * visits them all. */
int p4_model_param_layer(const p4_model *model, int k, size_t *offset, size_t *length);

/* Sets the running batch size n (1..capacity) and copies n inputs in. */
int p4_model_load_inputs(p4_model *model, const float *x, int n);

/* Runs forward on n examples (inputs already loaded with
 * p4_model_load_inputs); `train` selects darknet's training mode. */
int p4_model_forward(p4_model *model, int train);

/* After a forward: logits (n x classes) and probabilities (softmax). */
const float *p4_model_logits(const p4_model *model);
const float *p4_model_probabilities(const p4_model *model);
/* After a forward: cfg section `layer`'s outputs (n x *outputs floats,
 * darknet's channel-major layout per example); NULL past the last. */
const float *p4_model_layer_output(const p4_model *model, int layer, int *outputs);
/* After a forward: the delta of the logits, -dLoss/dlogits, for the loss
 * code to fill before backward (n x classes, zeroed by forward). */
float *p4_model_logit_delta(p4_model *model);

/* Predicts n examples (any n; batched internally): probabilities into
 * probs (n x classes) if not NULL, argmax into labels if not NULL. */
int p4_model_predict(p4_model *model, const float *x, int n, float *probs, int *labels);


/* Runs darknet's backward pass for the last forward, using the logit delta
 * the loss code wrote; gradients accumulate into each layer's
 * weight_updates/bias_updates (darknet's sign: the negative gradient). */
int p4_model_backward(p4_model *model);

#endif
