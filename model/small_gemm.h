/* small_gemm.h: the products of a small convolution, computed with a
 * register-blocked loop instead of an OpenBLAS call.
 *
 * CNN1's layers have 6 and 16 filters.  OpenBLAS's kernel works on blocks
 * of 16 rows and packs both operands into its own layout before every
 * call; for these shapes that costs more than it saves.  Timed on one core
 * (/tmp-style microbenchmark, kept in the commit message), OpenBLAS vs
 * these loops: the forward product 6x784x9 1.71 vs 0.61 us, 6x1024x27 5.9
 * vs 4.6, 16x196x54 4.0 vs 2.9; the first layer's weight gradient (6 x 9
 * dots of 784) 4.8 vs 1.1 us, (6 x 27 dots of 1024) 14.2 vs 4.1.  The
 * second layer's weight gradient (16 x 54 dots of 196) was no faster, so
 * it stays with OpenBLAS.  Equal to OpenBLAS's products up to float
 * rounding (tests/test_small_gemm.c). */
#ifndef P4_MODEL_SMALL_GEMM_H
#define P4_MODEL_SMALL_GEMM_H

/* The convolution sends its forward product here when it has at most
 * P4_FEW_ROWS_MAX filters, and its weight gradient when its kernel column
 * (k x k x c) is at most P4_SMALL_GEMM_MAX_K long. */
#define P4_FEW_ROWS_MAX 16
#define P4_SMALL_GEMM_MAX_K 32

/* C[M x N] = A[M x K] B[K x N], row-major (beta 0): the forward product of
 * a layer with few filters, rows of C in blocks of 8 held in registers. */
void p4_gemm_few_rows(int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                      float *C, int ldc);

/* The same with row k of B starting at b_rows[k] (K pointers; rows may
 * overlap: model/conv_same.c points them into one padded image). */
void p4_gemm_few_rows_at(int M, int N, int K, const float *A, int lda,
                         const float *const *b_rows, float *C, int ldc);

/* C[M x N] = beta C + A[M x K] B[N x K]^T, row-major: M x N dot products
 * of length K (the weight gradient: deltas times the column image). beta
 * is 0 or 1. */
void p4_gemm_dots(int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                  float beta, float *C, int ldc);

/* The same with row j of B starting at b_rows[j] (N pointers). */
void p4_gemm_dots_at(int M, int N, int K, const float *A, int lda, const float *const *b_rows,
                     float beta, float *C, int ldc);

#endif
