/* test_gemm.c: darknet's gemm routed to OpenBLAS gives darknet's results.
 * Checks every transpose combination, alpha/beta handling and strides
 * against darknet's own loop (reached with p4_gemm_use_reference), and a
 * whole training step on both paths. */
#include "support/test_support.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "model/gemm.h"
#include "model/model.h"
#include "model/optimizer.h"
#include "model/trainer.h"

static void fill(p4_rng *rng, float *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        v[i] = (float)(2 * p4_rng_uniform(rng) - 1);
}

/* gemm on p4's path against darknet's loop, every transpose and beta case,
 * with padded strides, p4 on `threads` threads. */
static void check_against_darknet(int M, int N, int K, int threads)
{
    p4_rng rng;
    p4_rng_init_seeded(&rng, 1, "gemm");
    const int pad = 3, big = (M > N ? M : N) > K ? (M > N ? M : N) : K;
    const size_t cap = (size_t)(big + pad) * (big + pad);
    float *A = malloc(cap * sizeof(float)), *B = malloc(cap * sizeof(float));
    float *C0 = malloc(cap * sizeof(float)), *fast = malloc(cap * sizeof(float));
    float *slow = malloc(cap * sizeof(float));
    assert_true(A && B && C0 && fast && slow);
    p4_gemm_set_threads(threads);
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++)
            for (int beta_case = 0; beta_case < 2; beta_case++) {
                int lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
                float beta = beta_case ? 0.5f : 0.0f, alpha = 1.5f;
                fill(&rng, A, cap);
                fill(&rng, B, cap);
                fill(&rng, C0, cap);
                memcpy(fast, C0, cap * sizeof(float));
                memcpy(slow, C0, cap * sizeof(float));
                p4_gemm_use_reference(0);
                assert_string_equal(p4_gemm_backend(), "openblas");
                gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, fast, ldc);
                p4_gemm_use_reference(1);
                assert_string_equal(p4_gemm_backend(), "darknet");
                gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, slow, ldc);
                p4_gemm_use_reference(0);
                int changed = 0;
                for (int i = 0; i < M; i++)
                    for (int j = 0; j < N; j++) {
                        float f = fast[i * ldc + j], s = slow[i * ldc + j];
                        if (!(fabsf(f - s) <= 1e-4f * (1 + fabsf(s))))
                            fail_msg("%dx%dx%d ta %d tb %d at %d threads: C[%d][%d] %g, darknet %g",
                                     M, N, K, ta, tb, threads, i, j, f, s);
                        changed += f != C0[i * ldc + j];
                    }
                assert_true(changed > M * N / 2);
                /* padding columns beyond N and rows beyond M are untouched */
                for (int i = 0; i < M; i++)
                    for (int j = N; j < ldc; j++)
                        assert_true(fast[i * ldc + j] == C0[i * ldc + j]);
                for (size_t at = (size_t)M * ldc; at < cap; at++)
                    assert_true(fast[at] == C0[at]);
            }
    p4_gemm_set_threads(1);
    free(A); free(B); free(C0); free(fast); free(slow);
}

static void test_blas_gemm_matches_darknet_loop(void **state)
{
    (void)state;
    if (p4_gemm_use_reference(1) != 0)
        TEST_SKIP("darknet's own gemm_cpu is not reachable");
    p4_gemm_use_reference(0);
    check_against_darknet(13, 17, 11, 1);
}

/* Products large enough to be split over p4's threads: by rows of C (M >= N)
 * and by columns, into shares that do not divide evenly. */
static void test_split_gemm_matches_darknet_loop(void **state)
{
    (void)state;
    if (p4_gemm_use_reference(1) != 0)
        TEST_SKIP("darknet's own gemm_cpu is not reachable");
    p4_gemm_use_reference(0);
    check_against_darknet(250, 64, 200, 3);
    check_against_darknet(40, 301, 200, 3);
}

static void test_training_step_same_on_both_paths(void **state)
{
    (void)state;
    if (p4_gemm_use_reference(1) != 0)
        TEST_SKIP("darknet's own gemm_cpu is not reachable");
    p4_gemm_use_reference(0);
    const p4_cfg_shape shape = {28, 28, 1, 10};
    const char *cfgs[] = {"configs/models/mlp-28x28x1.cfg", "configs/models/cnn1-28x28x1.cfg"};
    p4_rng rng;
    p4_rng_init_seeded(&rng, 2, "gemm-step");
    float x[16 * 784], y[16 * 10] = {0};
    fill(&rng, x, 16 * 784);
    for (int i = 0; i < 16; i++)
        y[i * 10 + i % 10] = 1;
    for (int c = 0; c < 2; c++) {
        float *params[2];
        size_t n = 0;
        for (int path = 0; path < 2; path++) {
            p4_model *m = NULL;
            p4_sgd *s = NULL;
            assert_int_equal(p4_model_new(&m, cfgs[c], &shape, 16, 3, NULL), 0);
            assert_int_equal(p4_sgd_new(&s, m, 0.1, 0.9, 1e-4, NULL), 0);
            p4_gemm_use_reference(path);
            for (int step = 0; step < 3; step++)
                assert_int_equal(p4_train_step(m, s, x, y, 16, NULL), 0);
            p4_gemm_use_reference(0);
            n = p4_model_param_count(m);
            params[path] = malloc(n * sizeof(float));
            p4_model_get_params(m, params[path], n);
            p4_sgd_destroy(&s);
            p4_model_destroy(&m);
        }
        for (size_t k = 0; k < n; k++)
            assert_true(fabsf(params[0][k] - params[1][k]) <= 1e-4f);
        free(params[0]);
        free(params[1]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blas_gemm_matches_darknet_loop),
        cmocka_unit_test(test_split_gemm_matches_darknet_loop),
        cmocka_unit_test(test_training_step_same_on_both_paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
