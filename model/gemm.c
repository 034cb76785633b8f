/* gemm.c: darknet's gemm() interposed onto OpenBLAS; see gemm.h. */
#define _GNU_SOURCE
#include "model/gemm.h"
#include "common/error.h"
#include "common/workers.h"
#include "model/dense_kernel.h"

#include <cblas.h>
#include <dlfcn.h>
#include <stdatomic.h>
#include <stddef.h>

typedef void gemm_fn(int, int, int, int, int, float, float *, int, float *, int,
                     float, float *, int);

static atomic_int use_reference;

/* A product smaller than this (M*N*K multiply-adds, about 60 us on one
 * core) is not worth a thread's start-up. */
#define SPLIT_MIN_MACS (2.0 * 1024 * 1024)

typedef struct {
    CBLAS_TRANSPOSE ta, tb;
    int m, n, k, lda, ldb, ldc, by_rows;
    float alpha, beta;
    const float *a, *b;
    float *c;
} gemm_job;

/* One share of C: rows [first, last) (the matching rows of op(A)), or
 * columns (the matching columns of op(B)).  Each element of C is the same
 * dot product as in the whole call. */
static void gemm_share(void *ctx, int first, int last, int worker)
{
    (void)worker;
    const gemm_job *g = ctx;
    if (g->by_rows) {
        const float *a = g->ta == CblasTrans ? g->a + first : g->a + (size_t)first * g->lda;
        cblas_sgemm(CblasRowMajor, g->ta, g->tb, last - first, g->n, g->k, g->alpha, a, g->lda,
                    g->b, g->ldb, g->beta, g->c + (size_t)first * g->ldc, g->ldc);
    } else {
        const float *b = g->tb == CblasTrans ? g->b + (size_t)first * g->ldb : g->b + first;
        cblas_sgemm(CblasRowMajor, g->ta, g->tb, g->m, last - first, g->k, g->alpha, g->a,
                    g->lda, b, g->ldb, g->beta, g->c + first, g->ldc);
    }
}

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
    /* p4's own kernel where it measured faster (model/dense_kernel.h;
     * P4_DENSE_KERNEL=openblas forces the old path). */
    if (p4_dense_kernel_wanted(TA != 0, TB != 0, M, N, K)) {
        p4_dense_product p = { TA != 0, TB != 0, M, N, K, ALPHA, BETA, A, B, C, lda, ldb, ldc };
        if (p4_dense_gemm(&p, P4_DENSE_ISA_BEST, P4_MAX_WORKERS, NULL) == P4_OK)
            return;
        /* a stride cblas accepts and p4 does not: OpenBLAS below */
    }
    /* OpenBLAS is on one thread (common/workers.h); a large product is
     * split into blocks of C's rows or columns, whichever are more, over
     * p4's threads. */
    const int by_rows = M >= N, blocks = by_rows ? M : N;
    gemm_job job = { TA ? CblasTrans : CblasNoTrans, TB ? CblasTrans : CblasNoTrans,
                     M, N, K, lda, ldb, ldc, by_rows, ALPHA, BETA, A, B, C };
    int workers = (double)M * N * K >= SPLIT_MIN_MACS ? p4_workers_for(blocks) : 1;
    p4_for_examples(blocks, workers, gemm_share, &job);
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
    p4_workers_set_threads(threads);
}
