/* bias.c: darknet's add_bias and backward_bias, interposed (like gemm.c).
 *
 * A dense layer calls them with size 1 (one bias per output, batch x
 * outputs values), and darknet's loops then run an inner loop of length
 * one per value: 2.5% of an MLP DP step (perf), serial while the other
 * core waited.  These loops run along the long dimension instead.  add_bias
 * and the size-1 backward_bias add in darknet's order (bit-identical);
 * longer rows are summed in lanes (p4_sum_floats), equal up to rounding
 * (tests/test_activation.c). */
#include <darknet.h>
#include <stddef.h>

#include "model/bias.h"
#include "model/darknet_helpers.h"

/* Loops the compiler must vectorise, whatever the build type. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3")
#endif

enum { LANES = 8 };

float p4_sum_floats(const float *x, int n)
{
    float lanes[LANES] = { 0 };
    int i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int k = 0; k < LANES; k++)
            lanes[k] += x[i + k];
    for (; i < n; i++)
        lanes[i % LANES] += x[i];
    return ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) +
           ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
}

void add_bias(float *output, float *biases, int batch, int n, int size)
{
    for (int b = 0; b < batch; b++) {
        float *out = output + (size_t)b * n * size;
        if (size == 1) {
            for (int i = 0; i < n; i++)
                out[i] += biases[i];
            continue;
        }
        for (int i = 0; i < n; i++) {
            float *row = out + (size_t)i * size;
            const float bias = biases[i];
            for (int j = 0; j < size; j++)
                row[j] += bias;
        }
    }
}

void backward_bias(float *bias_updates, float *delta, int batch, int n, int size)
{
    for (int b = 0; b < batch; b++) {
        const float *d = delta + (size_t)b * n * size;
        if (size == 1) {
            for (int i = 0; i < n; i++)
                bias_updates[i] += d[i];
            continue;
        }
        for (int i = 0; i < n; i++)
            bias_updates[i] += p4_sum_floats(d + (size_t)i * size, size);
    }
}
