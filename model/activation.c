/* activation.c: darknet's activate_array and gradient_array, interposed
 * (like gemm.c) with loops the compiler can vectorise for the activations
 * p4's models use (linear, relu, leaky: model/fs_activation.c, shared with
 * the OP-TEE TA); any other activation goes to darknet's own code.
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
#include "model/fs_activation.h"

/* These loops are the point of the file: let the compiler vectorise them
 * whatever the build type. */
#if defined(__GNUC__) && !defined(__clang__) /* clang vectorises these at -O2 */
#pragma GCC optimize("O3", "no-trapping-math")
#endif

typedef void activate_fn(float *, const int, const ACTIVATION);
typedef void gradient_fn(const float *, const int, const ACTIVATION, float *);

/* The activations p4's models use, as model/fs_activation.c computes them
 * (the same code the OP-TEE TA runs); -1 for the others. */
static int p4_kind(ACTIVATION a)
{
    return a == LINEAR ? P4_ACT_LINEAR : a == RELU ? P4_ACT_RELU : a == LEAKY ? P4_ACT_LEAKY : -1;
}

void activate_array(float *x, const int n, const ACTIVATION a)
{
    int kind = p4_kind(a);
    if (kind >= 0) {
        p4_activation_forward(x, n, (p4_activation)kind);
        return;
    }
    activate_fn *reference = (activate_fn *)dlsym(RTLD_NEXT, "activate_array");
    if (reference)
        reference(x, n, a);
}

void gradient_array(const float *x, const int n, const ACTIVATION a, float *delta)
{
    int kind = p4_kind(a);
    if (kind >= 0) {
        p4_activation_gradient(x, n, (p4_activation)kind, delta);
        return;
    }
    gradient_fn *reference = (gradient_fn *)dlsym(RTLD_NEXT, "gradient_array");
    if (reference)
        reference(x, n, a, delta);
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
