/* test_aggregate.c: mean and multi-Krum aggregation of flat vectors. */
#include "support/test_support.h"

#include <math.h>
#include <string.h>

#include "common/rng.h"
#include "distill/aggregate.h"

static void test_mean_is_exact_on_small_vectors(void **state)
{
    (void)state;
    const float a[3] = {1, 2, 3}, b[3] = {4, 5, 6}, c[3] = {7, 8, 10};
    const float *v[3] = {a, b, c};
    float out[3];
    assert_int_equal(p4_aggregate_mean(v, 3, 3, out, NULL), P4_OK);
    assert_true(out[0] == 4.0f && out[1] == 5.0f && out[2] == (float)(19.0 / 3));
    /* a float accumulator would lose both ones next to 2^24 */
    const float big[1] = {16777216.0f}, one[1] = {1.0f};
    const float *w[3] = {big, one, one};
    assert_int_equal(p4_aggregate_mean(w, 3, 1, out, NULL), P4_OK);
    assert_true(out[0] == (float)(16777218.0 / 3));
}

static void test_mean_spans_blocks_and_may_write_over_an_input(void **state)
{
    (void)state;
    enum { D = 1300 }; /* more than one accumulation block, not a multiple */
    static float a[D], b[D], expected[D];
    for (int j = 0; j < D; j++) {
        a[j] = (float)j;
        b[j] = (float)(3 * j + 1);
        expected[j] = (float)((4.0 * j + 1) / 2);
    }
    const float *v[2] = {a, b};
    assert_int_equal(p4_aggregate_mean(v, 2, D, a, NULL), P4_OK);
    assert_memory_equal(a, expected, sizeof a);
}

enum { K = 6, D = 8 };

/* K vectors near a centre, vector `outlier` moved far away. */
static void make_cloud(float x[K][D], int outlier, float shift)
{
    p4_rng rng;
    p4_rng_init_seeded(&rng, 4, "cloud");
    for (int i = 0; i < K; i++)
        for (int j = 0; j < D; j++)
            x[i][j] = (float)(j + 0.1 * p4_rng_gaussian(&rng)) + (i == outlier ? shift : 0.0f);
}

static void honest_mean(float x[K][D], int outlier, float *mean)
{
    for (int j = 0; j < D; j++) {
        double s = 0;
        for (int i = 0; i < K; i++)
            if (i != outlier)
                s += x[i][j];
        mean[j] = (float)(s / (K - 1));
    }
}

static void test_multi_krum_drops_planted_outlier(void **state)
{
    (void)state;
    float x[K][D], out[D], mean_all[D], honest[D];
    const float *v[K];
    int selected[K];
    for (int i = 0; i < K; i++)
        v[i] = x[i];
    make_cloud(x, 2, 100.0f);
    honest_mean(x, 2, honest);
    assert_int_equal(p4_aggregate_multi_krum(v, K, D, 1, K - 1, out, selected, NULL), P4_OK);
    for (int i = 0; i < K; i++)
        assert_int_equal(selected[i], i != 2);
    for (int j = 0; j < D; j++)
        assert_true(fabsf(out[j] - honest[j]) < 1e-5f);
    /* the plain mean is dragged ~100/6 away */
    assert_int_equal(p4_aggregate_mean(v, K, D, mean_all, NULL), P4_OK);
    assert_true(fabsf(mean_all[0] - honest[0]) > 10.0f);
    /* m = 1 is Krum: one honest vector, copied */
    assert_int_equal(p4_aggregate_multi_krum(v, K, D, 1, 1, out, selected, NULL), P4_OK);
    int count = 0, chosen = -1;
    for (int i = 0; i < K; i++) {
        count += selected[i];
        if (selected[i])
            chosen = i;
    }
    assert_int_equal(count, 1);
    assert_true(chosen != 2);
    assert_memory_equal(out, x[chosen], sizeof out);
}

static void test_multi_krum_drops_a_nan_vector(void **state)
{
    (void)state;
    float x[K][D], out[D], honest[D];
    const float *v[K];
    int selected[K];
    for (int i = 0; i < K; i++)
        v[i] = x[i];
    make_cloud(x, -1, 0.0f);
    x[4][3] = NAN;
    honest_mean(x, 4, honest);
    assert_int_equal(p4_aggregate_multi_krum(v, K, D, 1, K - 1, out, selected, NULL), P4_OK);
    assert_int_equal(selected[4], 0);
    for (int j = 0; j < D; j++)
        assert_true(fabsf(out[j] - honest[j]) < 1e-5f);
}

static void test_multi_krum_selection_flags_count_m(void **state)
{
    (void)state;
    float x[K][D], out[D];
    const float *v[K];
    int selected[K];
    for (int i = 0; i < K; i++)
        v[i] = x[i];
    make_cloud(x, 0, 50.0f);
    for (int m = 1; m <= K - 1; m++) {
        memset(selected, 0x7f, sizeof selected);
        assert_int_equal(p4_aggregate_multi_krum(v, K, D, 1, m, out, selected, NULL), P4_OK);
        int count = 0;
        for (int i = 0; i < K; i++) {
            assert_true(selected[i] == 0 || selected[i] == 1);
            count += selected[i];
        }
        assert_int_equal(count, m);
        assert_int_equal(selected[0], 0);
    }
    /* selected may be NULL */
    assert_int_equal(p4_aggregate_multi_krum(v, K, D, 1, 3, out, NULL, NULL), P4_OK);
}

static void test_invalid_arguments(void **state)
{
    (void)state;
    float x[K][D] = {{0}}, out[D];
    const float *v[K];
    for (int i = 0; i < K; i++)
        v[i] = x[i];
    p4_error err;
    p4_error_clear(&err);
    /* k = 6 needs f <= 1: 6 > 2*2 + 2 is false */
    assert_int_equal(p4_aggregate_multi_krum(v, K, D, 2, 1, out, NULL, &err), P4_EINVAL);
    assert_non_null(strstr(err.message, "k > 2f + 2"));
    assert_non_null(strstr(err.message, "k = 6, f = 2"));
    assert_int_equal(p4_aggregate_multi_krum(v, 4, D, 1, 1, out, NULL, NULL), P4_EINVAL);
    assert_int_equal(p4_aggregate_multi_krum(v, K, D, -1, 1, out, NULL, NULL), P4_EINVAL);
    assert_int_equal(p4_aggregate_multi_krum(v, K, D, 1, 0, out, NULL, NULL), P4_EINVAL);
    assert_int_equal(p4_aggregate_multi_krum(v, K, D, 1, K, out, NULL, &err), P4_EINVAL);
    assert_non_null(strstr(err.message, "m = 6"));
    assert_int_equal(p4_aggregate_multi_krum(v, K, D, 0, K, out, NULL, NULL), P4_OK);
    v[3] = NULL;
    assert_int_equal(p4_aggregate_multi_krum(v, K, D, 1, 1, out, NULL, &err), P4_EINVAL);
    assert_non_null(strstr(err.message, "vector 3"));
    assert_int_equal(p4_aggregate_mean(v, K, D, out, NULL), P4_EINVAL);
    assert_int_equal(p4_aggregate_mean(v, 0, D, out, NULL), P4_EINVAL);
    assert_int_equal(p4_aggregate_mean(NULL, 1, D, out, NULL), P4_EINVAL);
    assert_int_equal(p4_aggregate_mean(v, 1, D, NULL, NULL), P4_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mean_is_exact_on_small_vectors),
        cmocka_unit_test(test_mean_spans_blocks_and_may_write_over_an_input),
        cmocka_unit_test(test_multi_krum_drops_planted_outlier),
        cmocka_unit_test(test_multi_krum_drops_a_nan_vector),
        cmocka_unit_test(test_multi_krum_selection_flags_count_m),
        cmocka_unit_test(test_invalid_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
