/* activation.h: p4's per-example bias and activation steps of a
 * convolution (model/activation.c), which fuse darknet's separate passes
 * (add_bias then activate_array; gradient_array then backward_bias) into
 * one pass over an example's outputs while they are in cache. */
#ifndef P4_MODEL_ACTIVATION_H
#define P4_MODEL_ACTIVATION_H

#include <darknet.h>

/* out[f][s] = activation(out[f][s] + biases[f]) for `filters` rows of
 * `spatial` outputs: bit for bit darknet's add_bias and activate_array. */
void p4_bias_activate(float *out, const float *biases, int filters, int spatial,
                      ACTIVATION a);

/* delta[f][s] *= activation'(out[f][s]) (darknet's gradient_array, bit for
 * bit), and bias_sums[f] += the sum of row f of the result (darknet's
 * backward_bias, summed in another order: equal up to float rounding). */
void p4_gradient_bias(const float *out, float *delta, int filters, int spatial, ACTIVATION a,
                      float *bias_sums);

#endif
