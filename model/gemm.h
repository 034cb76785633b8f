/* gemm.h: darknet's matrix multiply, routed to OpenBLAS.
 *
 * darknet computes every layer with gemm() (and gemm_cpu()), a plain triple
 * loop.  libdarknet.so calls both through its PLT, so a definition in the
 * p4 executable takes precedence at load time (ELF symbol interposition):
 * p4 defines them here and forwards to cblas_sgemm, without touching darknet.
 *
 * p4_gemm_use_reference(1) sends calls back to darknet's own loop (found with
 * dlsym(RTLD_NEXT)); tests use it to check the fast path gives the same
 * results, and benchmarks to measure the difference.  It is process-wide
 * because darknet's call has no context to carry it. */
#ifndef P4_MODEL_GEMM_H
#define P4_MODEL_GEMM_H

/* darknet's signature: C = ALPHA * op(A) * op(B) + BETA * C, row-major. */
void gemm(int TA, int TB, int M, int N, int K, float ALPHA, float *A, int lda,
          float *B, int ldb, float BETA, float *C, int ldc);
void gemm_cpu(int TA, int TB, int M, int N, int K, float ALPHA, float *A,
              int lda, float *B, int ldb, float BETA, float *C, int ldc);

/* 1: use darknet's reference loop; 0: OpenBLAS (default).  Returns P4_OK,
 * or P4_EUNSUPPORTED if darknet's own gemm cannot be found. */
int p4_gemm_use_reference(int on);

/* "openblas" or "darknet": which one is in use. */
const char *p4_gemm_backend(void);

/* Threads p4's training may use (>= 1): OpenBLAS itself stays on one
 * thread, and p4 splits its work (common/workers.h). */
void p4_gemm_set_threads(int threads);

#endif
