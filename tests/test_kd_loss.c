/* test_kd_loss.c: distillation loss value and gradient against a plain
 * double reference and central finite differences. */
#include "support/test_support.h"

#include <math.h>
#include <string.h>

#include "common/rng.h"
#include "distill/kd_loss.h"
#include "model/loss.h"

enum { N = 3, C = 5 };

typedef struct batch {
    float z[N * C], teacher[N * C], y[N * C];
} batch;

static void make_batch(batch *b, uint64_t seed, double teacher_t)
{
    p4_rng rng;
    p4_rng_init_seeded(&rng, seed, "kd");
    float tz[N * C];
    for (int k = 0; k < N * C; k++) {
        b->z[k] = (float)(2 * p4_rng_gaussian(&rng));
        tz[k] = (float)(2 * p4_rng_gaussian(&rng));
        b->y[k] = 0;
    }
    for (int i = 0; i < N; i++)
        b->y[i * C + (int)p4_rng_below(&rng, C)] = 1;
    assert_int_equal(p4_softmax_temperature(tz, N, C, teacher_t, b->teacher), P4_OK);
}

/* The loss written out naively in double, for moderate logits. */
static double reference_loss(const batch *b, double alpha, double t)
{
    double total = 0;
    for (int i = 0; i < N; i++) {
        double s1 = 0, st = 0, ce = 0, kl = 0;
        for (int k = 0; k < C; k++) {
            s1 += exp(b->z[i * C + k]);
            st += exp(b->z[i * C + k] / t);
        }
        for (int k = 0; k < C; k++) {
            double s = exp(b->z[i * C + k]) / s1, q = exp(b->z[i * C + k] / t) / st;
            double p = b->teacher[i * C + k];
            ce -= b->y[i * C + k] * log(s);
            kl += p * log(p / q);
        }
        total += (1 - alpha) * ce + alpha * t * t * kl;
    }
    return total;
}

static void test_value_and_gradient_match_reference_and_finite_differences(void **state)
{
    (void)state;
    const double alphas[3] = {0, 0.5, 1}, temps[3] = {1, 2, 4};
    for (int ai = 0; ai < 3; ai++) {
        for (int ti = 0; ti < 3; ti++) {
            double alpha = alphas[ai], t = temps[ti];
            batch b;
            make_batch(&b, 10 + ai * 3 + ti, t);
            float delta[N * C];
            double loss = p4_kd_loss(b.z, b.teacher, b.y, N, C, alpha, t, delta);
            double ref = reference_loss(&b, alpha, t);
            assert_true(fabs(loss - ref) < 1e-9 * (1 + fabs(ref)));
            for (int k = 0; k < N * C; k++) {
                /* central difference; the step actually taken is whatever
                 * the float perturbation turned out to be */
                batch plus = b, minus = b;
                plus.z[k] = b.z[k] + 1e-3f;
                minus.z[k] = b.z[k] - 1e-3f;
                double step = (double)plus.z[k] - (double)minus.z[k];
                double lp = p4_kd_loss(plus.z, b.teacher, b.y, N, C, alpha, t, NULL);
                double lm = p4_kd_loss(minus.z, b.teacher, b.y, N, C, alpha, t, NULL);
                double grad = (lp - lm) / step;
                if (fabs(-grad - delta[k]) > 1e-4 * (1 + fabs(grad)))
                    fail_msg("alpha %g T %g coord %d: -dL/dz %.8f, delta %.8f", alpha, t, k,
                             -grad, delta[k]);
            }
        }
    }
}

static void test_alpha_zero_is_cross_entropy(void **state)
{
    (void)state;
    batch b;
    make_batch(&b, 1, 1);
    float probs[N * C], ce_delta[N * C], delta[N * C];
    assert_int_equal(p4_softmax_temperature(b.z, N, C, 1.0, probs), P4_OK);
    double ce = p4_loss_cross_entropy(probs, b.y, N, C, ce_delta);
    /* teacher may be NULL: alpha = 0 never reads it; T does not matter */
    double kd = p4_kd_loss(b.z, NULL, b.y, N, C, 0.0, 3.0, delta);
    assert_true(fabs(kd - ce) < 1e-5 * (1 + ce));
    for (int k = 0; k < N * C; k++)
        assert_true(fabs(delta[k] - ce_delta[k]) < 1e-6);
}

static void test_kl_of_identical_distributions_is_zero(void **state)
{
    (void)state;
    batch b;
    make_batch(&b, 2, 1);
    float p[N * C], delta[N * C];
    for (double t = 0.5; t <= 8; t *= 2) {
        assert_int_equal(p4_softmax_temperature(b.z, N, C, t, p), P4_OK);
        /* onehot may be NULL: alpha = 1 never reads it */
        double loss = p4_kd_loss(b.z, p, NULL, N, C, 1.0, t, delta);
        assert_true(fabs(loss) < 1e-5);
        for (int k = 0; k < N * C; k++)
            assert_true(fabs(delta[k]) < 1e-5);
    }
    /* and a different teacher gives a positive KL */
    assert_int_equal(p4_softmax_temperature(b.z, N, C, 2.0, p), P4_OK);
    assert_true(p4_kd_loss(b.z, p, NULL, N, C, 1.0, 1.0, NULL) > 1e-3);
}

static void test_large_logits_stay_finite(void **state)
{
    (void)state;
    const float z[C] = {1000, -1000, 0, 999, 500};
    const float y[C] = {0, 1, 0, 0, 0};
    float p[C], delta[C];
    assert_int_equal(p4_softmax_temperature(z, 1, C, 1.0, p), P4_OK);
    double sum = 0;
    for (int k = 0; k < C; k++) {
        assert_true(isfinite(p[k]));
        sum += p[k];
    }
    assert_true(fabs(sum - 1) < 1e-6);
    const float teacher[C] = {0, 0.5f, 0.5f, 0, 0}; /* zeros: 0 log 0 = 0 */
    double loss = p4_kd_loss(z, teacher, y, 1, C, 0.5, 2.0, delta);
    assert_true(isfinite(loss));
    /* logsumexp(z) = 1000 + log(1 + e^-1), logsumexp(z/2) = 500 + log(1 + e^-0.5)
     * (the other terms are below e^-500) */
    double lse1 = 1000 + log(1 + exp(-1.0)), lse2 = 500 + log(1 + exp(-0.5));
    double ce = 1000 + lse1;
    double kl = 0.5 * (log(0.5) - (-500 - lse2)) + 0.5 * (log(0.5) - (0 - lse2));
    assert_true(fabs(loss - (0.5 * ce + 0.5 * 4 * kl)) < 1e-9 * loss);
    for (int k = 0; k < C; k++)
        assert_true(isfinite(delta[k]));
}

static void test_softmax_temperature_rows_and_flattening(void **state)
{
    (void)state;
    const float z[2 * 3] = {1, 2, 3, -5, 0, 5};
    float p1[6], p100[6];
    assert_int_equal(p4_softmax_temperature(z, 2, 3, 1.0, p1), P4_OK);
    assert_true(fabs(p1[2] - exp(3.0) / (exp(1.0) + exp(2.0) + exp(3.0))) < 1e-7);
    assert_int_equal(p4_softmax_temperature(z, 2, 3, 100.0, p100), P4_OK);
    for (int k = 0; k < 6; k++)
        assert_true(fabs(p100[k] - 1.0 / 3) < 0.04); /* high T: near uniform */
    assert_true(p100[5] < p1[5]);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    float z[C] = {0}, p[C] = {0.2f, 0.2f, 0.2f, 0.2f, 0.2f}, y[C] = {1, 0, 0, 0, 0};
    assert_true(isnan(p4_kd_loss(z, NULL, y, 1, C, 0.5, 1, NULL)));
    assert_true(isnan(p4_kd_loss(z, p, NULL, 1, C, 0.5, 1, NULL)));
    assert_true(isnan(p4_kd_loss(z, p, y, 1, C, 1.5, 1, NULL)));
    assert_true(isnan(p4_kd_loss(z, p, y, 1, C, NAN, 1, NULL)));
    assert_true(isnan(p4_kd_loss(z, p, y, 1, C, 0.5, 0, NULL)));
    assert_true(isnan(p4_kd_loss(z, p, y, 1, 0, 0.5, 1, NULL)));
    assert_true(isnan(p4_kd_loss(NULL, p, y, 1, C, 0.5, 1, NULL)));
    assert_true(p4_kd_loss(z, p, y, 0, C, 0.5, 1, NULL) == 0.0);
    assert_int_equal(p4_softmax_temperature(z, 1, C, -1, p), P4_EINVAL);
    assert_int_equal(p4_softmax_temperature(z, 1, C, INFINITY, p), P4_EINVAL);
    assert_int_equal(p4_softmax_temperature(NULL, 1, C, 1, p), P4_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_value_and_gradient_match_reference_and_finite_differences),
        cmocka_unit_test(test_alpha_zero_is_cross_entropy),
        cmocka_unit_test(test_kl_of_identical_distributions_is_zero),
        cmocka_unit_test(test_large_logits_stay_finite),
        cmocka_unit_test(test_softmax_temperature_rows_and_flattening),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
