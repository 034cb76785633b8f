/* fs_activation.c: see fs_activation.h.  Freestanding (logistic's exp is
 * common/fs_math.c's). */
#include "model/fs_activation.h"
#include "common/fs_math.h"

/* These loops are the point of the file: let the compiler vectorise them
 * whatever the build type. */
#if defined(__GNUC__) && !defined(__clang__) /* clang vectorises these at -O2 */
#pragma GCC optimize("O3", "no-trapping-math")
#endif

void p4_activation_forward(float *x, int n, p4_activation a)
{
    switch (a) {
    case P4_ACT_LINEAR:
        return;
    case P4_ACT_RELU: /* as Debian's darknet computes it: +0 for every x <= 0 */
        for (int i = 0; i < n; i++)
            x[i] = x[i] > 0 ? x[i] : 0.0f;
        return;
    case P4_ACT_LEAKY:
        for (int i = 0; i < n; i++)
            x[i] = (x[i] > 0) ? x[i] : (float)(.1 * x[i]); /* darknet: double .1 */
        return;
    case P4_ACT_LOGISTIC: /* darknet: 1./(1. + exp(-x)) in double */
        for (int i = 0; i < n; i++)
            x[i] = (float)(1. / (1. + p4_fs_exp(-(double)x[i])));
        return;
    default:
        return;
    }
}

void p4_activation_gradient(const float *x, int n, p4_activation a, float *delta)
{
    switch (a) {
    case P4_ACT_LINEAR:
        return; /* darknet multiplies by 1 */
    case P4_ACT_RELU: /* = darknet's delta * (float)(x > 0) */
        for (int i = 0; i < n; i++)
            delta[i] = x[i] > 0 ? delta[i] : delta[i] * 0.0f;
        return;
    case P4_ACT_LEAKY:
        for (int i = 0; i < n; i++)
            delta[i] *= (x[i] > 0) ? 1 : .1f;
        return;
    case P4_ACT_LOGISTIC:
        for (int i = 0; i < n; i++)
            delta[i] *= (1 - x[i]) * x[i];
        return;
    default:
        return;
    }
}
