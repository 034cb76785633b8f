/* small_gemm.h: the weight gradient of a convolution with a short kernel
 * column (k x k x c <= P4_SMALL_GEMM_MAX_K, e.g. CNN1's first layer: 3x3
 * on one channel) as plain dot products instead of an OpenBLAS call.
 *
 * That product is filters x K outputs, each a sum over the whole image:
 * OpenBLAS packs both operands (the column image is 28 KB for CNN1) to
 * make 54 dot products.  CNN1's first layer took 4.2 us per example
 * backward, against 7.9 for the second layer's four times as many
 * multiply-adds; on one core, OpenBLAS took 5.2 us for 6 x 9 dots of 784
 * and these loops 2.3 (16 x 27 dots of 1024: 17.0 and 18.2, so the limit).
 * The forward product of such a layer stays with OpenBLAS, which was
 * faster there than plain loops.  Equal to OpenBLAS's product up to float
 * rounding (tests/test_small_gemm.c). */
#ifndef P4_MODEL_SMALL_GEMM_H
#define P4_MODEL_SMALL_GEMM_H

/* Longest kernel column the convolution sends here. */
#define P4_SMALL_GEMM_MAX_K 32

/* C[M x N] = beta C + A[M x K] B[N x K]^T, row-major: M x N dot products
 * of length K (the weight gradient: deltas times the column image). beta
 * is 0 or 1. */
void p4_gemm_dots(int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                  float beta, float *C, int ldc);

#endif
