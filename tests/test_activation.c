/* test_activation.c: p4's interposed activate_array/gradient_array give
 * bit-identical results to darknet's own, for the activations p4 speeds up
 * and for one it hands back to darknet; and darknet's calls reach them. */
#define _GNU_SOURCE
#include "support/test_support.h"

#include <darknet.h>
#include <dlfcn.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

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

int main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(matches_darknet) };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
