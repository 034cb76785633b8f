/* test_activation.c: p4's interposed activate_array/gradient_array give
 * bit-identical results to darknet's own, for the activations p4 speeds up
 * and for one it hands back to darknet; and darknet's calls reach them.
 * The fused convolution steps (model/activation.h) against darknet's
 * add_bias + activate_array and gradient_array + backward_bias, and p4's
 * own add_bias and backward_bias (model/bias.c) against darknet's. */
#define _GNU_SOURCE
#include "support/test_support.h"

#include <darknet.h>
#include <dlfcn.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/activation.h"
#include "model/darknet_helpers.h"

typedef void activate_fn(float *, const int, const ACTIVATION);
typedef void gradient_fn(const float *, const int, const ACTIVATION, float *);

static void fill(float *x, int n, unsigned seed)
{
    for (int i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        x[i] = ((float)(seed >> 8) / 16777216.0f - 0.5f) * 8.0f;
    }
    x[0] = 0.0f;
    x[1] = -0.0f;
    x[2] = 1e-30f;
    x[3] = -1e-30f;
}

static void matches_darknet(void **state)
{
    (void)state;
    activate_fn *ref_activate = (activate_fn *)dlsym(RTLD_NEXT, "activate_array");
    gradient_fn *ref_gradient = (gradient_fn *)dlsym(RTLD_NEXT, "gradient_array");
    if (!ref_activate || !ref_gradient) TEST_SKIP("darknet's activations are not reachable");
    assert_true(dlsym(RTLD_DEFAULT, "activate_array") == (void *)activate_array);
    assert_true(dlsym(RTLD_DEFAULT, "gradient_array") == (void *)gradient_array);
    const ACTIVATION kinds[] = { LINEAR, RELU, LEAKY, LOGISTIC, TANH };
    enum { N = 1031 };
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        float a[N], b[N], da[N], db[N];
        fill(a, N, 3 + (unsigned)k);
        memcpy(b, a, sizeof a);
        activate_array(a, N, kinds[k]);
        ref_activate(b, N, kinds[k]);
        if (memcmp(a, b, sizeof a) != 0) fail_msg("activate differs for activation %d", kinds[k]);
        fill(da, N, 99);
        memcpy(db, da, sizeof da);
        gradient_array(a, N, kinds[k], da);
        ref_gradient(b, N, kinds[k], db);
        if (memcmp(da, db, sizeof da) != 0) fail_msg("gradient differs for activation %d", kinds[k]);
    }
}

typedef void add_bias_fn(float *, float *, int, int, int);
typedef void backward_bias_fn(float *, float *, int, int, int);

/* Shapes with rows shorter than, equal to and longer than the 8 lanes. */
static const int fused_shapes[][2] = { { 6, 784 }, { 16, 196 }, { 3, 7 }, { 2, 8 }, { 5, 13 } };

static void fused_steps_match_darknet(void **state)
{
    (void)state;
    activate_fn *ref_activate = (activate_fn *)dlsym(RTLD_NEXT, "activate_array");
    gradient_fn *ref_gradient = (gradient_fn *)dlsym(RTLD_NEXT, "gradient_array");
    add_bias_fn *ref_add_bias = (add_bias_fn *)dlsym(RTLD_NEXT, "add_bias");
    backward_bias_fn *ref_backward_bias = (backward_bias_fn *)dlsym(RTLD_NEXT, "backward_bias");
    if (!ref_activate || !ref_gradient || !ref_add_bias || !ref_backward_bias)
        TEST_SKIP("darknet's bias and activation functions are not reachable");
    const ACTIVATION kinds[] = { LINEAR, RELU, LEAKY, LOGISTIC };
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        for (size_t s = 0; s < sizeof fused_shapes / sizeof fused_shapes[0]; s++) {
            const int filters = fused_shapes[s][0], spatial = fused_shapes[s][1];
            const int n = filters * spatial;
            float *a = malloc(n * sizeof(float)), *b = malloc(n * sizeof(float));
            float *da = malloc(n * sizeof(float)), *db = malloc(n * sizeof(float));
            float biases[16], sums_a[16], sums_b[16];
            fill(a, n, 7 + (unsigned)s);
            memcpy(b, a, n * sizeof(float));
            fill(biases, filters < 4 ? 4 : filters, 11);
            p4_bias_activate(a, biases, filters, spatial, kinds[k]);
            ref_add_bias(b, biases, 1, filters, spatial);
            ref_activate(b, n, kinds[k]);
            if (memcmp(a, b, n * sizeof(float)) != 0)
                fail_msg("bias+activation differs: activation %d, %d x %d", kinds[k], filters,
                         spatial);
            fill(da, n, 5 + (unsigned)k);
            memcpy(db, da, n * sizeof(float));
            for (int f = 0; f < filters; f++)
                sums_a[f] = sums_b[f] = 0.5f * (float)f; /* sums add onto what is there */
            p4_gradient_bias(a, da, filters, spatial, kinds[k], sums_a);
            ref_gradient(b, n, kinds[k], db);
            ref_backward_bias(sums_b, db, 1, filters, spatial);
            if (memcmp(da, db, n * sizeof(float)) != 0)
                fail_msg("gradient differs: activation %d, %d x %d", kinds[k], filters, spatial);
            for (int f = 0; f < filters; f++) {
                double scale = 0; /* rounding of a sum: relative to its terms */
                for (int i = 0; i < spatial; i++)
                    scale += fabs(db[f * spatial + i]);
                if (fabs((double)sums_a[f] - sums_b[f]) > 1e-6 * (scale + 1))
                    fail_msg("bias sum %d differs: %.9g vs %.9g (activation %d, %d x %d)", f,
                             sums_a[f], sums_b[f], kinds[k], filters, spatial);
            }
            free(a); free(b); free(da); free(db);
        }
    }
}

/* p4's add_bias and backward_bias (model/bias.c) against darknet's: dense
 * layers' size 1 bit for bit, longer rows' sums up to rounding. */
static void bias_functions_match_darknet(void **state)
{
    (void)state;
    add_bias_fn *ref_add_bias = (add_bias_fn *)dlsym(RTLD_NEXT, "add_bias");
    backward_bias_fn *ref_backward_bias = (backward_bias_fn *)dlsym(RTLD_NEXT, "backward_bias");
    if (!ref_add_bias || !ref_backward_bias)
        TEST_SKIP("darknet's bias functions are not reachable");
    assert_true(dlsym(RTLD_DEFAULT, "add_bias") == (void *)add_bias);
    assert_true(dlsym(RTLD_DEFAULT, "backward_bias") == (void *)backward_bias);
    const int shapes[][3] = { /* batch, n, size */
        { 250, 200, 1 }, { 3, 10, 1 }, { 2, 16, 196 }, { 3, 6, 13 }, { 1, 5, 7 },
    };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int batch = shapes[s][0], n = shapes[s][1], size = shapes[s][2];
        const int total = batch * n * size;
        float *a = malloc(total * sizeof(float)), *b = malloc(total * sizeof(float));
        float *biases = malloc(n * sizeof(float));
        float *sums_a = malloc(n * sizeof(float)), *sums_b = malloc(n * sizeof(float));
        fill(a, total, 21 + (unsigned)s);
        memcpy(b, a, total * sizeof(float));
        fill(biases, n < 4 ? 4 : n, 3);
        add_bias(a, biases, batch, n, size);
        ref_add_bias(b, biases, batch, n, size);
        if (memcmp(a, b, total * sizeof(float)) != 0)
            fail_msg("add_bias differs for %d x %d x %d", batch, n, size);
        for (int i = 0; i < n; i++)
            sums_a[i] = sums_b[i] = (float)i;
        backward_bias(sums_a, a, batch, n, size);
        ref_backward_bias(sums_b, b, batch, n, size);
        for (int i = 0; i < n; i++) {
            double scale = fabs((double)i);
            for (int k = 0; k < batch; k++)
                for (int j = 0; j < size; j++)
                    scale += fabs(b[((size_t)k * n + i) * size + j]);
            const double tolerance = size == 1 ? 0.0 : 1e-6 * scale;
            if (fabs((double)sums_a[i] - sums_b[i]) > tolerance)
                fail_msg("backward_bias %d differs for %d x %d x %d: %.9g vs %.9g", i, batch, n,
                         size, sums_a[i], sums_b[i]);
        }
        free(a); free(b); free(biases); free(sums_a); free(sums_b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(matches_darknet),
                                        cmocka_unit_test(fused_steps_match_darknet),
                                        cmocka_unit_test(bias_functions_match_darknet) };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
