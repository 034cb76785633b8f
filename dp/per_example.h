/* per_example.h: per-example gradient norms and the clipped gradient sum,
 * taken from one batched darknet backward pass.
 *
 * DP-SGD clips each example's gradient to norm C before summing.  Darknet
 * only ever holds the batch sum, so p4 runs darknet's backward_network with
 * its own backward functions installed for the layers that have parameters
 * (darknet itself is unchanged).  They compute what darknet computes for the
 * previous layer's delta and, instead of summing weight gradients:
 *   - dense layer: per-example grad of W is the outer product delta_i x_i^T,
 *     so ||g_i||^2 = ||delta_i||^2 (||x_i||^2 + 1) (the +1 is the bias): no
 *     per-example gradient is ever materialised, and the clipped sum is one
 *     matrix product (diag(c) Delta)^T X once the clip factors c are known.
 *   - convolution: g_i = delta_i col(x_i)^T is a small (filters x k*k*c)
 *     matrix, computed with the same im2col + gemm darknet would run for the
 *     batch sum; the clipped sum is one matrix-vector product over them.
 * Cost: about one plain backward pass, plus O(batch * (inputs + outputs)).
 *
 * Usage: forward (train mode), write the logit delta, then
 *   p4_per_example_backward() -> squared norms per example,
 *   choose per-example factors (clip / weights),
 *   p4_per_example_accumulate() adds sum_i factor_i g_i into darknet's
 *   weight_updates/bias_updates (darknet's sign: negative gradient). */
#ifndef P4_DP_PER_EXAMPLE_H
#define P4_DP_PER_EXAMPLE_H

#include "common/error.h"
#include "model/model.h"
#include "model/step_phases.h"

typedef struct p4_per_example p4_per_example;

int p4_per_example_new(p4_per_example **out, p4_model *model, p4_error *err);
void p4_per_example_destroy(p4_per_example **pe);

/* Backward for the last forward of n examples (n = current batch);
 * norms_sq[i] receives ||g_i||^2 over all trainable parameters. */
int p4_per_example_backward(p4_per_example *pe, double *norms_sq, int n);

/* The same for the layers lowest..top only (the normal world's layers
 * above an enclave's range, dp/protected.c): the backward stops before
 * layer lowest - 1, whose delta receives the gradient at lowest's input. */
int p4_per_example_backward_from(p4_per_example *pe, double *norms_sq, int n, int lowest);

/* Layers first..last are held elsewhere (an enclave's protected range):
 * p4_per_example_accumulate leaves them out.  -1, -1: none (the default). */
int p4_per_example_hold(p4_per_example *pe, int first, int last);

/* Rows come in consecutive groups of `group` rows (the augmented copies of
 * one example, [dp] augmentations in dp/dpsgd.h): later backward passes
 * write into norms_sq[j], for j < n / group, the squared norm of the SUM of
 * group j's row gradients (over all trainable parameters), so that the
 * caller can clip each group's mean once.  n must then be a multiple of
 * group.  1, the default: every row is its own example.  The accumulate
 * still takes one factor per row. */
int p4_per_example_set_group(p4_per_example *pe, int group);

/* Adds sum_i factor[i] * g_i to the model's accumulated updates.  Call once
 * per backward (it scales the stored deltas in place). */
int p4_per_example_accumulate(p4_per_example *pe, const float *factor, int n);

/* Profiling (bench_train --profile): later backward passes add their wall
 * time to phases (NULL: stop), split into P4_PHASE_NORMS (per-example
 * gradients of convolutions and every norm) and P4_PHASE_BACKWARD (the
 * deltas).  Work spread over threads is split in proportion to the time
 * the threads spent on each part. */
void p4_per_example_set_phases(p4_per_example *pe, p4_step_phases *phases);

/* Freezes the parametrised layers before `first_trainable` (0 = none):
 * later passes leave them without gradient, norm or delta, so clipping and
 * noise cover only the trainable layers.  P4_EINVAL past the last layer. */
int p4_per_example_freeze_below(p4_per_example *pe, int first_trainable);
/* 1 when darknet layer `layer_index` is a parametrised, unfrozen layer. */
int p4_per_example_trainable(const p4_per_example *pe, int layer_index);

/* factor[i] = min(1, clip / ||g_i||) from the squared norms.  A NaN or
 * infinite norm (a diverged example) is an error, P4_EINVAL: clipping it to
 * factor 1 or 0 would release a gradient whose sensitivity nobody bounded. */
int p4_clip_factors(const double *norms_sq, int n, double clip, float *factor);

#endif
