/* test_small_gemm.c: p4_gemm_few_rows, p4_gemm_rows_at (bit for bit the
 * same) and p4_gemm_dots (model/small_gemm.c)
 * against the same products summed in double, for shapes with rows and
 * columns below, at and above their blocks (8 rows, 16 lanes, and on
 * AVX-512 the few-rows product's 2 x 16 lanes), padded rows (lda, ldb, ldc
 * larger than needed), and the dots' beta 0 (store) and 1 (add); and
 * p4_gemm_few_rows_at with B's rows overlapping, as model/conv_same.c
 * points them, over every row count 1..9 and column counts around the
 * wide block (31, 32, 33, 47, 48, CNN1's 196 and 784). */
#include "support/test_support.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

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

/* Whether C[i][j] (row i at C + i ldc) is A B summed in double, row k of
 * B at b_rows[k]; fails naming the shape otherwise. */
static void expect_double_sums(int M, int N, int K, const float *A, int lda,
                               const float *const *b_rows, const float *C, int ldc,
                               const char *what)
{
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double sum = 0.0, scale = 0.0;
            for (int k = 0; k < K; k++) {
                sum += (double)A[(size_t)i * lda + k] * b_rows[k][j];
                scale += fabs((double)A[(size_t)i * lda + k] * b_rows[k][j]);
            }
            if (fabs(C[(size_t)i * ldc + j] - sum) > 1e-6 * (scale + 1))
                fail_msg("%s, M %d N %d K %d: C[%d][%d] = %.9g, expected %.9g", what, M, N, K,
                         i, j, C[(size_t)i * ldc + j], sum);
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
        const float **b_rows = malloc((size_t)K * sizeof *b_rows);
        assert_non_null(b_rows);
        for (int k = 0; k < K; k++)
            b_rows[k] = B + (size_t)k * ldb;
        expect_double_sums(M, N, K, A, lda, b_rows, C, ldc, "few_rows");
        for (int i = 0; i < M; i++)
            for (int j = N; j < ldc; j++)
                assert_true(C[i * ldc + j] == -7.0f); /* padding untouched */
        free(b_rows); free(A); free(B); free(C);
    }
}

/* Every row count of a block (1..8 and one past), column counts below, at
 * and past one and two vectors, and depths from 1 to past a K slice (256,
 * where the few-rows product adds its second slice onto C). */
static void few_rows_blocks_and_tails(void **state)
{
    (void)state;
    const int ns[] = { 31, 32, 33, 47, 48, 196, 784 }, ks[] = { 1, 9, 54, 300 };
    const int max_m = 9, max_n = 784, max_k = 300, ldc = max_n + 3, shift = 5;
    /* B's rows in one buffer, row k at k shift (+ 1 in the second run):
     * overlapping, as conv_same.c's rows of one padded image are. */
    const size_t b_len = (size_t)(max_k - 1) * (shift + 1) + max_n;
    const size_t c_len = (size_t)(max_m + 1) * ldc; /* a row past M, to see it untouched */
    float *A = malloc((size_t)max_m * max_k * sizeof(float));
    float *B = malloc(b_len * sizeof(float));
    float *C = malloc(c_len * sizeof(float));
    float *C_copy = malloc(c_len * sizeof(float));
    const float **b_rows = malloc((size_t)max_k * sizeof *b_rows);
    assert_non_null(A && B && C && C_copy && b_rows);
    unsigned seed = 16;
    for (int i = 0; i < max_m * max_k; i++) A[i] = value(&seed);
    for (size_t i = 0; i < b_len; i++) B[i] = value(&seed);
    for (size_t n = 0; n < sizeof ns / sizeof ns[0]; n++)
        for (size_t kk = 0; kk < sizeof ks / sizeof ks[0]; kk++)
            for (int M = 1; M <= max_m; M++) {
                const int N = ns[n], K = ks[kk], step = shift + (M & 1);
                for (int k = 0; k < K; k++)
                    b_rows[k] = B + (size_t)k * step;
                for (size_t i = 0; i < c_len; i++) C[i] = -7.0f;
                p4_gemm_few_rows_at(M, N, K, A, K, b_rows, C, ldc);
                expect_double_sums(M, N, K, A, K, b_rows, C, ldc, "few_rows_at");
                for (int i = 0; i < M; i++)
                    for (int j = N; j < ldc; j++)
                        assert_true(C[(size_t)i * ldc + j] == -7.0f); /* past N untouched */
                for (int j = 0; j < ldc; j++)
                    assert_true(C[(size_t)M * ldc + j] == -7.0f); /* past M untouched */
                memcpy(C_copy, C, c_len * sizeof(float));
                /* B with rows step apart as a matrix (ldb = step < N would
                 * overlap too; use N + 1): the slices of K in 256. */
                float *B_matrix = malloc((size_t)K * (N + 1) * sizeof(float));
                assert_non_null(B_matrix);
                for (int k = 0; k < K; k++) {
                    memcpy(B_matrix + (size_t)k * (N + 1), b_rows[k], (size_t)N * sizeof(float));
                    b_rows[k] = B_matrix + (size_t)k * (N + 1);
                }
                for (size_t i = 0; i < c_len; i++) C[i] = -7.0f;
                p4_gemm_few_rows(M, N, K, A, K, B_matrix, N + 1, C, ldc);
                expect_double_sums(M, N, K, A, K, b_rows, C, ldc, "few_rows");
                if (K <= 256) /* one slice: the same sums as few_rows_at, bit for bit */
                    assert_memory_equal(C, C_copy, c_len * sizeof(float));
                free(B_matrix);
            }
    free(A); free(B); free(C); free(C_copy); free(b_rows);
}

int main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(dots_match_double_sums),
                                        cmocka_unit_test(few_rows_match_double_sums),
                                        cmocka_unit_test(few_rows_blocks_and_tails) };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
