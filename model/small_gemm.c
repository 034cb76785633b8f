/* small_gemm.c: see small_gemm.h. */
#include "model/small_gemm.h"

#include <stddef.h>

/* Loops the compiler must vectorise, whatever the build type. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3")
#endif

/* One dot product in sixteen running lanes, so the adds form vectors
 * rather than one chain the compiler may not reorder. */
enum { LANES = 16 };

static float dot(const float *a, const float *b, int n)
{
    float lanes[LANES] = { 0 };
    int k = 0;
    for (; k + LANES <= n; k += LANES)
        for (int l = 0; l < LANES; l++)
            lanes[l] += a[k + l] * b[k + l];
    for (; k < n; k++)
        lanes[k % LANES] += a[k] * b[k];
    float sum = 0.0f;
    for (int l = 0; l < LANES; l++)
        sum += lanes[l];
    return sum;
}

void p4_gemm_dots(int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                  float beta, float *C, int ldc)
{
    for (int i = 0; i < M; i++) {
        for (int j = 0; j < N; j++) {
            const float d = dot(A + (size_t)i * lda, B + (size_t)j * ldb, K);
            float *c = C + (size_t)i * ldc + j;
            *c = beta == 0.0f ? d : *c + d;
        }
    }
}
