/* small_gemm.h: the products of a small convolution, computed with a
 * register-blocked loop instead of an OpenBLAS call.
 *
 * CNN1's layers have 6 and 16 filters.  OpenBLAS's kernel works on blocks
 * of 16 rows and packs both operands into its own layout before every
 * call; for these shapes that costs more than it saves.  On one core
 * (bench/bench_kernels, OpenBLAS vs these loops, us): the forward product
 * 6x784x9 1.39 vs 0.54, 16x196x54 3.66 vs 2.00, 6x1024x27 5.17 vs 4.51,
 * 16x256x54 4.74 vs 2.59; the first layer's weight gradient as dots,
 * 6 x 9 of 784 4.27 vs 1.02 and 6 x 27 of 1024 13.0 vs 3.8.  The second
 * layer's weight gradient (16 x 54 dots of 196: 5.1 vs 7.1 as dots) is
 * instead the few-rows product col x delta^T (model/conv.c), and its input
 * delta a few-rows same convolution (model/conv_same.h).  Equal to
 * OpenBLAS's products up to float rounding (tests/test_small_gemm.c). */
#ifndef P4_MODEL_SMALL_GEMM_H
#define P4_MODEL_SMALL_GEMM_H

/* The convolution sends its forward product here when it has at most
 * P4_FEW_ROWS_MAX filters, and its weight gradient when its kernel column
 * (k x k x c) is at most P4_SMALL_GEMM_MAX_K long. */
#define P4_FEW_ROWS_MAX 16
#define P4_SMALL_GEMM_MAX_K 32

/* C[M x N] = A[M x K] B[K x N], row-major (beta 0): the forward product of
 * a layer with few filters, rows of C in blocks of 8 held in registers
 * (8 x 16 columns; on AVX-512 8 x 32 while 32 columns are left). */
void p4_gemm_few_rows(int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                      float *C, int ldc);

/* The same with row k of B starting at b_rows[k] (K pointers; rows may
 * overlap: model/conv_same.c points them into one padded image). */
void p4_gemm_few_rows_at(int M, int N, int K, const float *A, int lda,
                         const float *const *b_rows, float *C, int ldc);

/* C[M x N] = A[M x K] B[K x N] with row i of A starting at a_rows[i] (M
 * pointers): a weight gradient g^T = col delta^T whose column image is
 * given by row pointers (model/conv_same.h).  Blocks as p4_gemm_few_rows,
 * so equal to it, bit for bit, on the same rows. */
void p4_gemm_rows_at(int M, int N, int K, const float *const *a_rows, const float *B, int ldb,
                     float *C, int ldc);

/* C[M x N] = beta C + A[M x K] B[N x K]^T, row-major: M x N dot products
 * of length K (the weight gradient: deltas times the column image). beta
 * is 0 or 1. */
void p4_gemm_dots(int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                  float beta, float *C, int ldc);

/* The same with row j of B starting at b_rows[j] (N pointers). */
void p4_gemm_dots_at(int M, int N, int K, const float *A, int lda, const float *const *b_rows,
                     float beta, float *C, int ldc);

#endif
