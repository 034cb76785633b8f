/* test_small_gemm.c: p4_gemm_few_rows, p4_gemm_rows_at (bit for bit the
 * same) and p4_gemm_dots (model/small_gemm.c)
 * against the same products summed in double, for shapes with rows and
 * columns below, at and above their blocks (8 rows, 16 lanes), padded
 * rows (lda, ldb, ldc larger than needed), and the dots' beta 0 (store)
 * and 1 (add). */
#include "support/test_support.h"

#include <math.h>
#include <stdlib.h>

#include "model/small_gemm.h"

static float value(unsigned *seed)
{
    *seed = *seed * 1664525u + 1013904223u;
    return (float)(*seed >> 8) / 16777216.0f * 2.0f - 1.0f;
}

static void dots_match_double_sums(void **state)
{
    (void)state;
    const int shapes[][5] = { /* M, N, K, lda - K, ldb - K */
        { 6, 9, 784, 0, 0 }, { 16, 27, 1024, 0, 0 }, { 3, 5, 15, 1, 2 },
        { 2, 3, 16, 0, 3 },  { 1, 1, 1, 0, 0 },      { 4, 7, 33, 5, 0 },
    };
    unsigned seed = 3;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        const int lda = K + shapes[s][3], ldb = K + shapes[s][4], ldc = N + 1;
        float *A = malloc((size_t)M * lda * sizeof(float));
        float *B = malloc((size_t)N * ldb * sizeof(float));
        float *C = malloc((size_t)M * ldc * sizeof(float));
        for (int i = 0; i < M * lda; i++) A[i] = value(&seed);
        for (int i = 0; i < N * ldb; i++) B[i] = value(&seed);
        for (int beta = 0; beta <= 1; beta++) {
            for (int i = 0; i < M * ldc; i++) C[i] = (float)i; /* what beta 1 adds onto */
            p4_gemm_dots(M, N, K, A, lda, B, ldb, (float)beta, C, ldc);
            for (int i = 0; i < M; i++) {
                for (int j = 0; j < N; j++) {
                    double sum = beta ? (double)(i * ldc + j) : 0.0, scale = fabs(sum);
                    for (int k = 0; k < K; k++) {
                        sum += (double)A[i * lda + k] * B[j * ldb + k];
                        scale += fabs((double)A[i * lda + k] * B[j * ldb + k]);
                    }
                    if (fabs(C[i * ldc + j] - sum) > 1e-6 * (scale + 1))
                        fail_msg("shape %zu, beta %d, C[%d][%d] = %.9g, expected %.9g", s, beta,
                                 i, j, C[i * ldc + j], sum);
                }
                assert_true(C[i * ldc + N] == (float)(i * ldc + N)); /* padding untouched */
            }
        }
        free(A); free(B); free(C);
    }
}

static void few_rows_match_double_sums(void **state)
{
    (void)state;
    const int shapes[][6] = { /* M, N, K, lda - K, ldb - N, ldc - N */
        { 6, 784, 9, 0, 0, 0 }, { 16, 196, 54, 0, 0, 0 }, { 6, 1024, 27, 0, 0, 0 },
        { 9, 37, 5, 2, 3, 1 },  { 1, 15, 1, 0, 0, 0 },    { 17, 16, 8, 1, 0, 2 },
        { 3, 20, 600, 0, 1, 0 }, /* K in slices of 256 */
    };
    unsigned seed = 9;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        const int lda = K + shapes[s][3], ldb = N + shapes[s][4], ldc = N + shapes[s][5];
        float *A = malloc((size_t)M * lda * sizeof(float));
        float *B = malloc((size_t)K * ldb * sizeof(float));
        float *C = malloc((size_t)M * ldc * sizeof(float));
        for (int i = 0; i < M * lda; i++) A[i] = value(&seed);
        for (int i = 0; i < K * ldb; i++) B[i] = value(&seed);
        for (int i = 0; i < M * ldc; i++) C[i] = -7.0f; /* every cell of C is written */
        p4_gemm_few_rows(M, N, K, A, lda, B, ldb, C, ldc);
        /* A's rows by pointer, in reverse order in memory: the same sums. */
        const float **a_rows = malloc((size_t)M * sizeof *a_rows);
        float *A_rev = malloc((size_t)M * lda * sizeof(float));
        float *C_rows = malloc((size_t)M * ldc * sizeof(float));
        assert_non_null(a_rows && A_rev && C_rows);
        for (int i = 0; i < M; i++) {
            for (int k = 0; k < K; k++)
                A_rev[(size_t)(M - 1 - i) * lda + k] = A[(size_t)i * lda + k];
            a_rows[i] = A_rev + (size_t)(M - 1 - i) * lda;
        }
        for (int i = 0; i < M * ldc; i++) C_rows[i] = -7.0f;
        p4_gemm_rows_at(M, N, K, a_rows, B, ldb, C_rows, ldc);
        assert_memory_equal(C, C_rows, (size_t)M * ldc * sizeof(float));
        free(a_rows); free(A_rev); free(C_rows);
        for (int i = 0; i < M; i++) {
            for (int j = 0; j < N; j++) {
                double sum = 0.0, scale = 0.0;
                for (int k = 0; k < K; k++) {
                    sum += (double)A[i * lda + k] * B[k * ldb + j];
                    scale += fabs((double)A[i * lda + k] * B[k * ldb + j]);
                }
                if (fabs(C[i * ldc + j] - sum) > 1e-6 * (scale + 1))
                    fail_msg("shape %zu, C[%d][%d] = %.9g, expected %.9g", s, i, j,
                             C[i * ldc + j], sum);
            }
            for (int j = N; j < ldc; j++)
                assert_true(C[i * ldc + j] == -7.0f); /* padding untouched */
        }
        free(A); free(B); free(C);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(dots_match_double_sums),
                                        cmocka_unit_test(few_rows_match_double_sums) };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
