/* ta_conv.h: a protected convolutional layer's share of the TA's pass
 * (ta_layers.c dispatches on p4_ta_dense.kind). */
#ifndef P4_TA_CONV_H
#define P4_TA_CONV_H

#include <stdint.h>

#include "p4_ta.h"

void p4_ta_conv_forward(const p4_ta_dense *d, const float *w, const float *b, const float *in,
                        float *out, uint32_t m);

/* delta (at the outputs, darknet's sign) becomes the gradient at the
 * pre-activation; each example's gradient is stored in per_example
 * (weights then biases, p4_ta_layer_pass_floats each) and its squared norm
 * added to norms[i]. */
void p4_ta_conv_example_gradients(const p4_ta_dense *d, const float *in, const float *out,
                                  float *delta, float *per_example, double *norms, uint32_t m);

/* below += the gradient at the layer's inputs. */
void p4_ta_conv_input_delta(const p4_ta_dense *d, const float *w, const float *delta,
                            float *below, uint32_t m);

/* w_grad, b_grad += sum_i factor[i] g_i: the pass's clipped gradients. */
void p4_ta_conv_add_clipped(const p4_ta_dense *d, const float *per_example, const float *factor,
                            float *w_grad, float *b_grad, uint32_t m);

#endif
