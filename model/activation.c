/* activation.c: darknet's activate_array and gradient_array, interposed
 * (like gemm.c) with loops the compiler can vectorise for the activations
 * p4's models use (linear, relu, leaky); any other activation goes to
 * darknet's own code.
 *
 * darknet calls a switch-based function per element; in CNN1 training those
 * calls were a quarter of the step (perf).  The expressions are darknet's,
 * so results are bit-identical (tests/test_activation.c). */
#define _GNU_SOURCE
#include <darknet.h>
#include <dlfcn.h>

#include "model/activation.h"
#include "model/bias.h"
#include "model/darknet_helpers.h"

/* These loops are the point of the file: let the compiler vectorise them
 * whatever the build type. */
#if defined(__GNUC__) && !defined(__clang__) /* clang vectorises these at -O2 */
#pragma GCC optimize("O3", "no-trapping-math")
#endif

typedef void activate_fn(float *, const int, const ACTIVATION);
typedef void gradient_fn(const float *, const int, const ACTIVATION, float *);

void activate_array(float *x, const int n, const ACTIVATION a)
{
    switch (a) {
    case LINEAR:
        return;
    case RELU: /* as Debian's darknet computes it: +0 for every x <= 0 */
        for (int i = 0; i < n; i++)
            x[i] = x[i] > 0 ? x[i] : 0.0f;
        return;
    case LEAKY:
        for (int i = 0; i < n; i++)
            x[i] = (x[i] > 0) ? x[i] : (float)(.1 * x[i]); /* darknet: double .1 */
        return;
    default: {
        activate_fn *reference = (activate_fn *)dlsym(RTLD_NEXT, "activate_array");
        if (reference)
            reference(x, n, a);
        return;
    }
    }
}

void gradient_array(const float *x, const int n, const ACTIVATION a, float *delta)
{
    switch (a) {
    case LINEAR:
        return; /* darknet multiplies by 1 */
    case RELU: /* = darknet's delta * (float)(x > 0) */
        for (int i = 0; i < n; i++)
            delta[i] = x[i] > 0 ? delta[i] : delta[i] * 0.0f;
        return;
    case LEAKY:
        for (int i = 0; i < n; i++)
            delta[i] *= (x[i] > 0) ? 1 : .1f;
        return;
    default: {
        gradient_fn *reference = (gradient_fn *)dlsym(RTLD_NEXT, "gradient_array");
        if (reference)
            reference(x, n, a, delta);
        return;
    }
    }
}

/* --- one convolution example: bias and activation fused ------------------ */

void p4_bias_activate(float *out, const float *biases, int filters, int spatial, ACTIVATION a)
{
    if (a != LINEAR && a != RELU && a != LEAKY) {
        add_bias(out, (float *)biases, 1, filters, spatial);
        activate_array(out, filters * spatial, a);
        return;
    }
    for (int f = 0; f < filters; f++) {
        float *row = out + (size_t)f * spatial;
        const float b = biases[f];
        if (a == LINEAR) {
            for (int s = 0; s < spatial; s++)
                row[s] += b;
        } else if (a == RELU) {
            for (int s = 0; s < spatial; s++) {
                const float v = row[s] + b;
                row[s] = v > 0 ? v : 0.0f;
            }
        } else {
            for (int s = 0; s < spatial; s++) {
                const float v = row[s] + b;
                row[s] = v > 0 ? v : (float)(.1 * v);
            }
        }
    }
}

void p4_gradient_bias(const float *out, float *delta, int filters, int spatial, ACTIVATION a,
                      float *bias_sums)
{
    if (a != LINEAR && a != RELU) {
        gradient_array(out, filters * spatial, a, delta);
        backward_bias(bias_sums, delta, 1, filters, spatial);
        return;
    }
    for (int f = 0; f < filters; f++) {
        const float *x = out + (size_t)f * spatial;
        float *d = delta + (size_t)f * spatial;
        if (a == RELU) /* as gradient_array above */
            for (int s = 0; s < spatial; s++)
                d[s] = x[s] > 0 ? d[s] : d[s] * 0.0f;
        bias_sums[f] += p4_sum_floats(d, spatial);
    }
}
