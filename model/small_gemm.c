/* small_gemm.c: see small_gemm.h.
 *
 * Both products keep a block of C in registers: up to ROWS rows of A at
 * once, against one vector of LANES floats of B (the few-rows product, on
 * AVX-512, against two: see WIDE below).  The row count is a compile-time
 * constant in each copy of the kernels (row_block_* are always inlined
 * into a switch on it), so the compiler can hold the block in vector
 * registers; a loop bound it cannot see would send the block to memory on
 * every step. */
#include "model/small_gemm.h"

#include <stddef.h>

/* Loops the compiler must vectorise, whatever the build type. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3")
#endif

enum { LANES = 16, ROWS = 8 };

#define ALWAYS_INLINE static inline __attribute__((always_inline))

/* A build without -march (the default build type) targets the oldest
 * x86-64, where LANES floats are four SSE registers: OpenBLAS, which picks
 * its kernels at run time, was then faster.  So on x86-64 GCC these entry
 * points are compiled for AVX-512, AVX2 and the baseline, and the loader
 * picks the one the machine runs (the kernels are inlined into each). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__AVX2__)
#define CLONED_BY_MACHINE 1
#define BY_MACHINE __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define BY_MACHINE
#endif

/* --- C = A B, for few rows --------------------------------------------------- */

/* LANES floats as one value (GCC/clang vector extension): the compiler
 * maps it onto the machine's vectors (one AVX-512 register, two AVX ones,
 * four SSE or NEON ones). */
typedef float lanes_vec __attribute__((vector_size(LANES * sizeof(float))));

/* Unaligned loads and stores of LANES floats.  (Macros: a function taking
 * or returning a vector this wide has no fixed ABI without AVX-512.) */
#define LOAD_LANES(v, p) __builtin_memcpy(&(v), (p), sizeof(lanes_vec))
#define STORE_LANES(p, v) __builtin_memcpy((p), &(v), sizeof(lanes_vec))

/* The few-rows product's wide block: ROWS rows x WIDE vectors, 16
 * accumulators that share each broadcast of A (8 broadcasts and 2 loads
 * for 16 FMAs, against 8 and 1 for 8).  It needs 32 vector registers to
 * stay out of memory: AVX-512 has them; AVX2 (two ymm per vector) and
 * NEON (four q per vector) do not, and keep the one-vector block.  The
 * target_clones copies are not told apart by the preprocessor, so a build
 * without -march asks the CPU (as model/dense_kernel.c does) the question
 * the loader asked to pick the clone: the AVX-512 copy runs the wide
 * block, the others (compiled with it, never sent there) the narrow one. */
enum { WIDE = 2 };

ALWAYS_INLINE int wide_blocks_fit(void)
{
#if defined(__AVX512F__)
    return 1;
#elif defined(CLONED_BY_MACHINE)
    return __builtin_cpu_supports("x86-64-v4"); /* what picks the AVX-512 clone */
#else
    return 0;
#endif
}

/* Rows [0, rows) of C, columns [j0, j0 + vecs LANES) of the product:
 * stored into out (row i at out + i ldo), or added to it.  Element k of
 * row i of A is at a_rows[i][k] (a_step 1), or packed at a_rows[0][k ROWS
 * + i] (a_step ROWS); row k of B at b_rows[k].  vecs (1 or WIDE) vectors
 * per row share each broadcast of A; every element is still one FMA per k,
 * k in order, so the block width does not change a bit of C. */
ALWAYS_INLINE void row_block_product(int rows, int vecs, int K, const float *const *a_rows, int a_step,
                                     const float *const *b_rows, int j0, float *out, int ldo,
                                     int add)
{
    lanes_vec acc[ROWS][WIDE];
    for (int i = 0; i < rows; i++)
        for (int v = 0; v < vecs; v++) {
            if (add)
                LOAD_LANES(acc[i][v], out + (size_t)i * ldo + v * LANES);
            else
                acc[i][v] = (lanes_vec){ 0 };
        }
    for (int k = 0; k < K; k++) {
        lanes_vec b[WIDE];
        for (int v = 0; v < vecs; v++)
            LOAD_LANES(b[v], b_rows[k] + j0 + v * LANES);
        for (int i = 0; i < rows; i++) {
            const float a = a_step == 1 ? a_rows[i][k] : a_rows[0][(size_t)k * ROWS + i];
            for (int v = 0; v < vecs; v++)
                acc[i][v] += a * b[v];
        }
    }
    for (int i = 0; i < rows; i++)
        for (int v = 0; v < vecs; v++)
            STORE_LANES(out + (size_t)i * ldo + v * LANES, acc[i][v]);
}

/* The columns past the last whole vector, one at a time. */
ALWAYS_INLINE void product_tail(int rows, int N, int K, const float *const *a_rows,
                                const float *const *b_rows, float *C, int ldc, int j0, int add)
{
    for (int i = 0; i < rows; i++)
        for (int j = j0; j < N; j++) {
            float sum = add ? C[(size_t)i * ldc + j] : 0.0f;
            for (int k = 0; k < K; k++)
                sum += a_rows[i][k] * b_rows[k][j];
            C[(size_t)i * ldc + j] = sum;
        }
}

/* Columns [j0, j0 + vecs LANES) of `rows` (1..ROWS) rows; the switch
 * makes rows a constant (vecs is a constant at each call site). */
ALWAYS_INLINE void column_block(int rows, int vecs, int K, const float *const *a_rows, int a_step,
                                const float *const *b_rows, int j0, float *out, int ldo, int add)
{
    switch (rows) {
    case 1: row_block_product(1, vecs, K, a_rows, a_step, b_rows, j0, out, ldo, add); break;
    case 2: row_block_product(2, vecs, K, a_rows, a_step, b_rows, j0, out, ldo, add); break;
    case 3: row_block_product(3, vecs, K, a_rows, a_step, b_rows, j0, out, ldo, add); break;
    case 4: row_block_product(4, vecs, K, a_rows, a_step, b_rows, j0, out, ldo, add); break;
    case 5: row_block_product(5, vecs, K, a_rows, a_step, b_rows, j0, out, ldo, add); break;
    case 6: row_block_product(6, vecs, K, a_rows, a_step, b_rows, j0, out, ldo, add); break;
    case 7: row_block_product(7, vecs, K, a_rows, a_step, b_rows, j0, out, ldo, add); break;
    default: row_block_product(8, vecs, K, a_rows, a_step, b_rows, j0, out, ldo, add); break;
    }
}

/* The wide blocks of one block of rows, A packed (a_step ROWS, below):
 * columns [0, j) for the largest multiple j of WIDE LANES up to N;
 * returns j.  A function of its own, not inlined: inside the entry points
 * the compiler sent one of the 16 accumulators or a vector of B to the
 * stack at every step, here it keeps them all in registers.  It runs only
 * where wide_blocks_fit(), so a build without -march compiles it for the
 * x86-64-v4 that the check asks for. */
#if defined(CLONED_BY_MACHINE)
#define WIDE_TARGET __attribute__((noinline, target("arch=x86-64-v4")))
#else
#define WIDE_TARGET __attribute__((noinline))
#endif

WIDE_TARGET static int wide_column_blocks(int rows, int N, int K, const float *packed,
                                          const float *const *b_rows, float *C, int ldc, int add)
{
    const float *const a_packed[1] = { packed };
    int j0 = 0;
    for (; j0 + WIDE * LANES <= N; j0 += WIDE * LANES)
        column_block(rows, WIDE, K, a_packed, ROWS, b_rows, j0, C + j0, ldc, add);
    return j0;
}

/* One block of rows, all columns: stored, or added to C (a later slice of
 * K).  With `wide` (A packed), WIDE vectors at a time while they fit,
 * then one. */
ALWAYS_INLINE void rows_product(int rows, int wide, int N, int K, const float *const *a_rows,
                                const float *const *a_packed, int a_step,
                                const float *const *b_rows, float *C, int ldc, int add)
{
    int j0 = wide ? wide_column_blocks(rows, N, K, a_packed[0], b_rows, C, ldc, add) : 0;
    for (; j0 + LANES <= N; j0 += LANES)
        column_block(rows, 1, K, a_packed, a_step, b_rows, j0, C + j0, ldc, add);
    if (j0 == N)
        return;
    if (!add && N >= LANES) /* the last LANES columns again: the overlap gets the same values */
        column_block(rows, 1, K, a_packed, a_step, b_rows, N - LANES, C + N - LANES, ldc, 0);
    else /* too narrow, or adding (an overlap would add twice): one at a time */
        product_tail(rows, N, K, a_rows, b_rows, C, ldc, j0, add);
}

/* The register blocks read A from a copy of the block's rows, k-major
 * (element k of row i at packed[k ROWS + i]): one pointer for all the
 * rows, where eight of them left too few integer registers and the
 * compiler sent an accumulator of the wide block to memory.  The same
 * values in the same order.  Only where a wide block runs: with one
 * column block (a weight gradient's 16 filters) the copy costs as much as
 * the product saves.  Depths past PACKED_K (few_rows_at only; the others
 * come in slices of 256) read the rows in place, in one-vector blocks. */
enum { PACKED_K = 256 };

/* All of C, in blocks of ROWS rows, over depths [k0, k0 + K) of A's rows
 * (row i at A + i lda, or at a_rows[i] when a_rows is not NULL). */
ALWAYS_INLINE void product(int M, int N, int K, const float *A, int lda,
                           const float *const *a_rows, int k0, const float *const *b_rows,
                           float *C, int ldc, int add)
{
    const int wide = wide_blocks_fit();
    float packed[PACKED_K * ROWS];
    for (int i0 = 0; i0 < M; i0 += ROWS) {
        const int rows = M - i0 < ROWS ? M - i0 : ROWS;
        const float *block_rows[ROWS];
        for (int i = 0; i < rows; i++)
            block_rows[i] = (a_rows ? a_rows[i0 + i] : A + (size_t)(i0 + i) * lda) + k0;
        if (wide && N >= WIDE * LANES && K <= PACKED_K) {
            const float *const packed_rows[1] = { packed };
            for (int i = 0; i < rows; i++)
                for (int k = 0; k < K; k++)
                    packed[(size_t)k * ROWS + i] = block_rows[i][k];
            rows_product(rows, 1, N, K, block_rows, packed_rows, ROWS, b_rows,
                         C + (size_t)i0 * ldc, ldc, add);
        } else {
            rows_product(rows, 0, N, K, block_rows, block_rows, 1, b_rows,
                         C + (size_t)i0 * ldc, ldc, add);
        }
    }
}

BY_MACHINE void p4_gemm_few_rows_at(int M, int N, int K, const float *A, int lda,
                                    const float *const *b_rows, float *C, int ldc)
{
    product(M, N, K, A, lda, NULL, 0, b_rows, C, ldc, 0);
}

/* Rows of B named by pointer, a slice of K at a time (the first slice
 * stores, the others add). */
enum { K_SLICE = 256 };

ALWAYS_INLINE void product_in_slices(int M, int N, int K, const float *A, int lda,
                                     const float *const *a_rows, const float *B, int ldb,
                                     float *C, int ldc)
{
    const float *b_rows[K_SLICE];
    int k0 = 0;
    do { /* once at least: K = 0 stores zeros */
        const int depth = K - k0 < K_SLICE ? (K - k0 > 0 ? K - k0 : 0) : K_SLICE;
        for (int k = 0; k < depth; k++)
            b_rows[k] = B + (size_t)(k0 + k) * ldb;
        product(M, N, depth, A, lda, a_rows, k0, b_rows, C, ldc, k0 > 0);
        k0 += K_SLICE;
    } while (k0 < K);
}

BY_MACHINE void p4_gemm_few_rows(int M, int N, int K, const float *A, int lda, const float *B,
                                 int ldb, float *C, int ldc)
{
    product_in_slices(M, N, K, A, lda, NULL, B, ldb, C, ldc);
}

BY_MACHINE void p4_gemm_rows_at(int M, int N, int K, const float *const *a_rows, const float *B,
                                int ldb, float *C, int ldc)
{
    product_in_slices(M, N, K, NULL, 0, a_rows, B, ldb, C, ldc);
}

/* --- C = beta C + A B^T: dot products ------------------------------------- */

/* Row j of B against rows [0, rows) of A: `rows` dot products of length K,
 * each in LANES running lanes (one chain of adds per lane, not one in all). */
ALWAYS_INLINE void row_block_dots(int rows, int K, const float *A, int lda, const float *b,
                                  float *out)
{
    lanes_vec acc[ROWS];
    for (int i = 0; i < rows; i++)
        acc[i] = (lanes_vec){ 0 };
    int k = 0;
    for (; k + LANES <= K; k += LANES) {
        lanes_vec bv, av;
        LOAD_LANES(bv, b + k);
        for (int i = 0; i < rows; i++) {
            LOAD_LANES(av, A + (size_t)i * lda + k);
            acc[i] += av * bv;
        }
    }
    for (int i = 0; i < rows; i++) {
        float sum = 0.0f;
        for (int l = 0; l < LANES; l++)
            sum += acc[i][l];
        for (int kk = k; kk < K; kk++)
            sum += A[(size_t)i * lda + kk] * b[kk];
        out[i] = sum;
    }
}

ALWAYS_INLINE void rows_dots(int rows, int K, const float *A, int lda, const float *b, float *out)
{
    switch (rows) {
    case 1: row_block_dots(1, K, A, lda, b, out); break;
    case 2: row_block_dots(2, K, A, lda, b, out); break;
    case 3: row_block_dots(3, K, A, lda, b, out); break;
    case 4: row_block_dots(4, K, A, lda, b, out); break;
    case 5: row_block_dots(5, K, A, lda, b, out); break;
    case 6: row_block_dots(6, K, A, lda, b, out); break;
    case 7: row_block_dots(7, K, A, lda, b, out); break;
    default: row_block_dots(8, K, A, lda, b, out); break;
    }
}

/* The dot products against row j of B, which starts at b_rows ? b_rows[j]
 * : B + j ldb. */
ALWAYS_INLINE void dots(int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                 const float *const *b_rows, float beta, float *C, int ldc)
{
    for (int i0 = 0; i0 < M; i0 += ROWS) {
        const int rows = M - i0 < ROWS ? M - i0 : ROWS;
        for (int j = 0; j < N; j++) {
            float d[ROWS] = { 0 };
            const float *b = b_rows ? b_rows[j] : B + (size_t)j * ldb;
            rows_dots(rows, K, A + (size_t)i0 * lda, lda, b, d);
            for (int i = 0; i < rows; i++) {
                float *c = C + (size_t)(i0 + i) * ldc + j;
                *c = beta == 0.0f ? d[i] : *c + d[i];
            }
        }
    }
}

BY_MACHINE void p4_gemm_dots(int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                  float beta, float *C, int ldc)
{
    dots(M, N, K, A, lda, B, ldb, NULL, beta, C, ldc);
}

BY_MACHINE void p4_gemm_dots_at(int M, int N, int K, const float *A, int lda, const float *const *b_rows,
                     float beta, float *C, int ldc)
{
    dots(M, N, K, A, lda, NULL, 0, b_rows, beta, C, ldc);
}
