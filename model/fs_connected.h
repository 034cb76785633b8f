/* fs_connected.h: a fully connected layer as pure functions over plain
 * arrays (llm.c style), freestanding, for the OP-TEE TA's protected layers.
 * Shapes and conventions are darknet's connected layer, so results agree
 * with it (tests/test_fs_layers.c):
 *   in  [batch][inputs], w [outputs][inputs], b [outputs],
 *   out [batch][outputs] = activation(in w^T + b);
 *   delta is darknet's: the *negative* loss gradient, and update *adds*. */
#ifndef P4_MODEL_FS_CONNECTED_H
#define P4_MODEL_FS_CONNECTED_H

#include "model/fs_activation.h"

void p4_connected_forward(float *out, const float *in, const float *w, const float *b,
                          int batch, int inputs, int outputs, p4_activation act);

/* delta [batch][outputs] holds d(-loss)/d(out) and becomes the gradient at
 * the pre-activation; w_grad and b_grad accumulate (+=) over the batch;
 * in_delta (may be NULL) accumulates the gradient for the layer below. */
void p4_connected_backward(float *delta, const float *out, const float *in, const float *w,
                           float *w_grad, float *b_grad, float *in_delta, int batch,
                           int inputs, int outputs, p4_activation act);

/* The two halves of the backward after the activation gradient (delta is
 * then the gradient at the pre-activation): w_grad, b_grad += the batch's
 * sums; in_delta += delta w.  DP-SGD scales each example's delta by its
 * clip factor between the two. */
void p4_connected_weight_gradient(const float *delta, const float *in, float *w_grad,
                                  float *b_grad, int batch, int inputs, int outputs);
void p4_connected_input_delta(const float *delta, const float *w, float *in_delta, int batch,
                              int inputs, int outputs);

/* darknet's SGD step with momentum and weight decay for one layer:
 *   b += lr/batch b_grad;  b_grad *= momentum;
 *   w_grad -= decay batch w;  w += lr/batch w_grad;  w_grad *= momentum. */
void p4_connected_update(float *w, float *b, float *w_grad, float *b_grad, int inputs,
                         int outputs, int batch, float learning_rate, float momentum,
                         float decay);

#endif
