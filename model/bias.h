/* bias.h: p4's row sums, shared by its bias gradients (model/bias.c,
 * model/activation.c). */
#ifndef P4_MODEL_BIAS_H
#define P4_MODEL_BIAS_H

/* x[0] + ... + x[n-1], in eight running lanes: a single running sum (as
 * darknet's sum_array) is a chain of dependent adds the compiler may not
 * reorder; eight lanes make one vector of adds.  Equal to the sequential
 * sum up to float rounding. */
float p4_sum_floats(const float *x, int n);

#endif
