/* gemm.c: darknet's gemm() interposed onto OpenBLAS; see gemm.h. */
#define _GNU_SOURCE
#include "model/gemm.h"
#include "common/error.h"

#include <cblas.h>
#include <dlfcn.h>
#include <stdatomic.h>
#include <stddef.h>

typedef void gemm_fn(int, int, int, int, int, float, float *, int, float *, int,
                     float, float *, int);

static atomic_int use_reference;

static void blas_gemm(int TA, int TB, int M, int N, int K, float ALPHA, float *A,
                      int lda, float *B, int ldb, float BETA, float *C, int ldc)
{
    if (M <= 0 || N <= 0)
        return;
    if (K <= 0) { /* cblas would not touch C; darknet scales it by BETA */
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++)
                C[(size_t)i * ldc + j] *= BETA;
        return;
    }
    cblas_sgemm(CblasRowMajor, TA ? CblasTrans : CblasNoTrans,
                TB ? CblasTrans : CblasNoTrans, M, N, K, ALPHA, A, lda, B, ldb,
                BETA, C, ldc);
}

static gemm_fn *darknet_gemm_cpu(void)
{
    return (gemm_fn *)dlsym(RTLD_NEXT, "gemm_cpu");
}

void gemm(int TA, int TB, int M, int N, int K, float ALPHA, float *A, int lda,
          float *B, int ldb, float BETA, float *C, int ldc)
{
    gemm_cpu(TA, TB, M, N, K, ALPHA, A, lda, B, ldb, BETA, C, ldc);
}

void gemm_cpu(int TA, int TB, int M, int N, int K, float ALPHA, float *A,
              int lda, float *B, int ldb, float BETA, float *C, int ldc)
{
    if (atomic_load_explicit(&use_reference, memory_order_relaxed)) {
        gemm_fn *reference = darknet_gemm_cpu();
        if (reference != NULL) {
            reference(TA, TB, M, N, K, ALPHA, A, lda, B, ldb, BETA, C, ldc);
            return;
        }
    }
    blas_gemm(TA, TB, M, N, K, ALPHA, A, lda, B, ldb, BETA, C, ldc);
}

int p4_gemm_use_reference(int on)
{
    if (on && darknet_gemm_cpu() == NULL)
        return P4_EUNSUPPORTED;
    atomic_store(&use_reference, on ? 1 : 0);
    return P4_OK;
}

const char *p4_gemm_backend(void)
{
    return atomic_load(&use_reference) ? "darknet" : "openblas";
}

void p4_gemm_set_threads(int threads)
{
    openblas_set_num_threads(threads < 1 ? 1 : threads);
}
