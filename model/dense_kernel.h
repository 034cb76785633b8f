/* dense_kernel.h: p4's own single-precision matrix product for the dense
 * (connected) layers' products, an alternative to OpenBLAS.
 *
 * This machine's environment sets OPENBLAS_CORETYPE=Haswell, so OpenBLAS
 * runs its AVX2 kernels on an AVX-512 CPU, at most half the FMA peak.  On
 * x86-64 CPUs with AVX-512F this file's kernel multiplies packed panels in
 * a register block of 8 rows by 32 columns (16 zmm accumulators); the
 * choice is made at run time (__builtin_cpu_supports), so one binary runs
 * everywhere.  A portable micro-kernel in plain C computes the same blocks
 * on every CPU (aarch64 included); it is there so that the packing, the
 * edges and the split are tested everywhere, not for speed: without
 * AVX-512 darknet's products stay on OpenBLAS.
 *
 * model/gemm.c sends darknet's products here (the connected layers'
 * forward X W^T, weight gradient D^T X and input delta D W, and the DP
 * pass's clipped sum and deltas, dp/per_example.c) when
 * p4_dense_kernel_wanted() says so.  Results equal OpenBLAS's up to float
 * rounding (the sums run in another order): tests/test_dense_kernel.c
 * checks them against sums in double. */
#ifndef P4_MODEL_DENSE_KERNEL_H
#define P4_MODEL_DENSE_KERNEL_H

#include "common/error.h"

/* C = alpha op(A) op(B) + beta C, row-major, as cblas_sgemm (beta 0: C is
 * written without being read). op(A) is m x k, op(B) k x n. */
typedef struct {
    int ta, tb;           /* 1: the operand is stored transposed */
    int m, n, k;
    float alpha, beta;
    const float *a, *b;
    float *c;
    int lda, ldb, ldc;
} p4_dense_product;

typedef enum {
    P4_DENSE_ISA_BEST = 0, /* AVX-512 where the CPU has it, else portable */
    P4_DENSE_ISA_PORTABLE, /* the plain C micro-kernel                   */
    P4_DENSE_ISA_AVX512    /* P4_EUNSUPPORTED where the CPU lacks it      */
} p4_dense_isa;

/* Which kernel model/gemm.c uses for darknet's products. */
typedef enum {
    P4_DENSE_AUTO = 0, /* p4's where it measured faster (AVX-512 CPUs), else OpenBLAS */
    P4_DENSE_OPENBLAS, /* always OpenBLAS (the old path, for A/B)                   */
    P4_DENSE_P4        /* always p4's kernel (portable where AVX-512 is missing)   */
} p4_dense_choice;

/* 1 if this CPU can run the AVX-512 micro-kernel (always 0 off x86-64). */
int p4_dense_kernel_has_avx512(void);

/* Computes the product on up to `threads` of p4's workers (common/workers.h;
 * 1 = the calling thread only).  Returns P4_OK, P4_EINVAL for a bad shape,
 * stride or NULL pointer, or P4_EUNSUPPORTED for P4_DENSE_ISA_AVX512 on a
 * CPU without it; err (may be NULL) says which. */
int p4_dense_gemm(const p4_dense_product *p, p4_dense_isa isa, int threads, p4_error *err);

/* Sets the process-wide choice (darknet's gemm call carries no context, as
 * for p4_gemm_use_reference).  Until it is called the environment variable
 * P4_DENSE_KERNEL ("auto", "openblas" or "p4") decides, unset meaning auto.
 * Returns P4_OK or P4_EINVAL for an unknown value. */
int p4_dense_kernel_choose(p4_dense_choice choice);

/* Reads P4_DENSE_KERNEL ("auto", "openblas" or "p4"; unset or empty means
 * auto) into the choice, unless p4_dense_kernel_choose already made one.
 * Returns P4_OK, or P4_EINVAL for any other value, with err (may be NULL)
 * naming it.  p4_model_new calls it, so a mistyped value stops a program
 * instead of silently running auto. */
int p4_dense_kernel_from_env(p4_error *err);

/* The current choice (after the environment variable, if it was read). */
p4_dense_choice p4_dense_kernel_choice(void);

/* 1 if model/gemm.c should send the m x n x k product op(A) op(B) (ta, tb:
 * 1 if stored transposed) here under the current choice. */
int p4_dense_kernel_wanted(int ta, int tb, int m, int n, int k);

/* "p4-avx512", "p4-portable" or "openblas": what P4_DENSE_AUTO or the
 * choice gives for a large product on this CPU (for benchmark output). */
const char *p4_dense_kernel_name(void);

#endif
