/* dense_kernel.c: see dense_kernel.h.
 *
 * The usual blocked product: for each block of KC along k, op(A) is packed
 * into panels of MR rows (k-major: the MR values of one k together) and
 * op(B) into panels of NR columns (the NR values of one k together), both
 * padded with zeros at the edges, so the micro-kernel always runs a full
 * MR x NR block and only its store looks at the edges.  A B panel
 * (at most KC x NR, 32 KiB) stays in L1 while the MC rows of packed A
 * (256 KiB) stream from L2.  k is cut into equal blocks of at most KC
 * (784 = 4 x 196, not 3 x 256 + 16).  Threads take contiguous shares of C's row panels or
 * column panels, whichever are more; each packs what it reads.  With the
 * AVX-512 kernel the transposing packs (A untransposed, B transposed: the
 * forward X W^T has both) move 8 x 8 blocks through ymm registers. */
#include "model/dense_kernel.h"
#include "common/workers.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#define MR 8
#define NR 32
#define KC 256
#define MC 256 /* a multiple of MR; a batch of 250 is one block, so B is packed once */

/* Below this many multiply-adds a product stays on one thread (as in
 * model/gemm.c: a thread's start-up is not worth it). */
#define SPLIT_MIN_MACS (2.0 * 1024 * 1024)

typedef void micro_fn(int kc, const float *ap, const float *bp, float *c, int ldc, int mr,
                      int nr, float alpha, float beta);

#if defined(__x86_64__)
/* dst[c * ldd + r] = src[r * lds + c] for r, c < 8: an 8 x 8 transpose in
 * ymm registers (unpack, shuffle, swap halves).  A copy: the packed panels
 * hold the same floats as the scalar loops write. */
__attribute__((target("avx2"))) static inline void transpose8x8(const float *src, size_t lds,
                                                              float *dst, size_t ldd)
{
    const __m256 r0 = _mm256_loadu_ps(src), r1 = _mm256_loadu_ps(src + lds),
                 r2 = _mm256_loadu_ps(src + 2 * lds), r3 = _mm256_loadu_ps(src + 3 * lds),
                 r4 = _mm256_loadu_ps(src + 4 * lds), r5 = _mm256_loadu_ps(src + 5 * lds),
                 r6 = _mm256_loadu_ps(src + 6 * lds), r7 = _mm256_loadu_ps(src + 7 * lds);
    const __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1),
                 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3),
                 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5),
                 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
    const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE),
                 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE),
                 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE),
                 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    _mm256_storeu_ps(dst, _mm256_permute2f128_ps(u0, u4, 0x20));
    _mm256_storeu_ps(dst + ldd, _mm256_permute2f128_ps(u1, u5, 0x20));
    _mm256_storeu_ps(dst + 2 * ldd, _mm256_permute2f128_ps(u2, u6, 0x20));
    _mm256_storeu_ps(dst + 3 * ldd, _mm256_permute2f128_ps(u3, u7, 0x20));
    _mm256_storeu_ps(dst + 4 * ldd, _mm256_permute2f128_ps(u0, u4, 0x31));
    _mm256_storeu_ps(dst + 5 * ldd, _mm256_permute2f128_ps(u1, u5, 0x31));
    _mm256_storeu_ps(dst + 6 * ldd, _mm256_permute2f128_ps(u2, u6, 0x31));
    _mm256_storeu_ps(dst + 7 * ldd, _mm256_permute2f128_ps(u3, u7, 0x31));
}

/* The transposing packs in 8 x 8 blocks: what the scalar loops below cost
 * in the MLP's forward X W^T (both operands transposed into panels, W^T
 * by every thread) was a tenth of a step's cycles.  Eight rows of src,
 * each kc long, become kc rows of dst (stride ldd: MR for an A panel, NR
 * for a B panel); full blocks only, returning the k done, and the callers
 * finish the edges with the scalar loops. */
__attribute__((target("avx2"))) static int transpose_rows(const float *src, size_t lds, int kc,
                                                          float *dst, size_t ldd)
{
    int k = 0;
    for (; k + 8 <= kc; k += 8)
        transpose8x8(src + k, lds, dst + (size_t)k * ldd, ldd);
    return k;
}
#endif

/* Rows [i0, i0+mc) and k [k0, k0+kc) of op(A) into ceil(mc/MR) panels. */
static void pack_a(const p4_dense_product *p, int i0, int mc, int k0, int kc, float *dst,
                   int vector)
{
    for (int ip = 0; ip < mc; ip += MR) {
        int rows = mc - ip < MR ? mc - ip : MR;
        float *panel = dst + (size_t)ip * kc;
        if (p->ta) { /* the MR values of one k are adjacent in A */
            for (int k = 0; k < kc; k++) {
                const float *src = p->a + (size_t)(k0 + k) * p->lda + i0 + ip;
                float *out = panel + (size_t)k * MR;
                int r = 0;
                for (; r < rows; r++)
                    out[r] = src[r];
                for (; r < MR; r++)
                    out[r] = 0.0f;
            }
        } else {
            int k_done = 0; /* k below this is packed for every row */
#if defined(__x86_64__)
            if (vector && rows == MR)
                k_done = transpose_rows(p->a + (size_t)(i0 + ip) * p->lda + k0,
                                        (size_t)p->lda, kc, panel, MR);
#else
            (void)vector;
#endif
            for (int r = 0; r < MR; r++) {
                if (r < rows) {
                    const float *src = p->a + (size_t)(i0 + ip + r) * p->lda + k0;
                    for (int k = k_done; k < kc; k++)
                        panel[(size_t)k * MR + r] = src[k];
                } else {
                    for (int k = 0; k < kc; k++)
                        panel[(size_t)k * MR + r] = 0.0f;
                }
            }
        }
    }
}

/* Columns [j0, j0+nr) and k [k0, k0+kc) of op(B) into one NR-wide panel. */
static void pack_b(const p4_dense_product *p, int j0, int nr, int k0, int kc, float *dst,
                   int vector)
{
    if (!p->tb) { /* row k of B holds the panel's columns side by side */
        for (int k = 0; k < kc; k++) {
            const float *src = p->b + (size_t)(k0 + k) * p->ldb + j0;
            float *out = dst + (size_t)k * NR;
            memcpy(out, src, (size_t)nr * sizeof(float));
            if (nr < NR)
                memset(out + nr, 0, (size_t)(NR - nr) * sizeof(float));
        }
        return;
    }
    /* B^T: column j of op(B) is row j0+j of B.  8 x 8 blocks first where
     * asked; then k outer so that the panel is written in order (32 read
     * streams, one line each per 16 k) for what the blocks left. */
    int j_done = 0, k_done = 0; /* columns [0, j_done) are packed for k < k_done */
#if defined(__x86_64__)
    if (vector)
        for (; j_done + 8 <= nr; j_done += 8)
            k_done = transpose_rows(p->b + (size_t)(j0 + j_done) * p->ldb + k0,
                                    (size_t)p->ldb, kc, dst + j_done, NR);
#else
    (void)vector;
#endif
    const float *rows[NR];
    for (int j = 0; j < nr; j++)
        rows[j] = p->b + (size_t)(j0 + j) * p->ldb + k0;
    for (int k = 0; k < kc; k++) {
        float *out = dst + (size_t)k * NR;
        int j = k < k_done ? j_done : 0;
        for (; j < nr; j++)
            out[j] = rows[j][k];
        for (; j < NR; j++)
            out[j] = 0.0f;
    }
}

/* The first mr x nr of a block into C: alpha acc + beta C (beta 0: C is
 * not read, as in cblas). */
static void store_block(const float *acc, float *c, int ldc, int mr, int nr, float alpha,
                        float beta)
{
    for (int r = 0; r < mr; r++) {
        float *row = c + (size_t)r * ldc;
        const float *v = acc + (size_t)r * NR;
        if (beta == 0.0f)
            for (int j = 0; j < nr; j++)
                row[j] = alpha * v[j];
        else
            for (int j = 0; j < nr; j++)
                row[j] = alpha * v[j] + beta * row[j];
    }
}

/* The portable micro-kernel: plain C the compiler may vectorise. */
static void micro_portable(int kc, const float *ap, const float *bp, float *c, int ldc, int mr,
                           int nr, float alpha, float beta)
{
    float acc[MR * NR] = { 0 };
    for (int k = 0; k < kc; k++) {
        const float *a = ap + (size_t)k * MR, *b = bp + (size_t)k * NR;
        for (int r = 0; r < MR; r++) {
            float ar = a[r];
            for (int j = 0; j < NR; j++)
                acc[r * NR + j] += ar * b[j];
        }
    }
    store_block(acc, c, ldc, mr, nr, alpha, beta);
}

#if defined(__x86_64__)
/* 8 rows x 2 zmm: 16 accumulators, per k two loads of B, eight broadcasts
 * of A and sixteen FMAs. */
__attribute__((target("avx512f"))) static void micro_avx512(int kc, const float *ap,
                                                            const float *bp, float *c, int ldc,
                                                            int mr, int nr, float alpha,
                                                            float beta)
{
    __m512 c00 = _mm512_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00,
           c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00, c60 = c00,
           c61 = c00, c70 = c00, c71 = c00;
    for (int k = 0; k < kc; k++) {
        __m512 b0 = _mm512_loadu_ps(bp), b1 = _mm512_loadu_ps(bp + 16), a;
#define P4_DENSE_ROW(r)                                                                          \
    a = _mm512_set1_ps(ap[r]);                                                                   \
    c##r##0 = _mm512_fmadd_ps(a, b0, c##r##0);                                                   \
    c##r##1 = _mm512_fmadd_ps(a, b1, c##r##1);
        P4_DENSE_ROW(0) P4_DENSE_ROW(1) P4_DENSE_ROW(2) P4_DENSE_ROW(3)
        P4_DENSE_ROW(4) P4_DENSE_ROW(5) P4_DENSE_ROW(6) P4_DENSE_ROW(7)
#undef P4_DENSE_ROW
        ap += MR;
        bp += NR;
    }
    const __m512 acc[MR][2] = { { c00, c01 }, { c10, c11 }, { c20, c21 }, { c30, c31 },
                                { c40, c41 }, { c50, c51 }, { c60, c61 }, { c70, c71 } };
    const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    const int n0 = nr < 16 ? nr : 16, n1 = nr - n0;
    const __mmask16 m0 = (__mmask16)((1u << n0) - 1), m1 = (__mmask16)((1u << n1) - 1);
    for (int r = 0; r < mr; r++) {
        float *row = c + (size_t)r * ldc;
        __m512 v0 = _mm512_mul_ps(va, acc[r][0]), v1 = _mm512_mul_ps(va, acc[r][1]);
        if (beta != 0.0f) {
            v0 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m0, row), v0);
            v1 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m1, row + 16), v1);
        }
        _mm512_mask_storeu_ps(row, m0, v0);
        _mm512_mask_storeu_ps(row + 16, m1, v1);
    }
}
#endif

int p4_dense_kernel_has_avx512(void)
{
#if defined(__x86_64__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") ? 1 : 0;
#else
    return 0;
#endif
}

typedef struct {
    const p4_dense_product *p;
    micro_fn *micro;
    int by_rows;
    int vector_pack; /* the AVX2 transposing packs (with the AVX-512 kernel) */
} dense_job;

/* C's rows [i0, i1) x columns [j0, j1), the whole of k. */
static void dense_block(const p4_dense_product *p, micro_fn *micro, int vector_pack, int i0,
                        int i1, int j0, int j1)
{
    /* 288 KiB on the stack: no allocation per call, nothing kept between */
    float a_pack[MC * KC] __attribute__((aligned(64)));
    float b_pack[KC * NR] __attribute__((aligned(64)));
    const int k_blocks = (p->k + KC - 1) / KC, k_step = (p->k + k_blocks - 1) / k_blocks;
    for (int k0 = 0; k0 < p->k; k0 += k_step) {
        const int kc = p->k - k0 < k_step ? p->k - k0 : k_step;
        const float beta = k0 == 0 ? p->beta : 1.0f, alpha = p->alpha;
        /* the later blocks of k add alpha (their part) onto C */
        for (int ic = i0; ic < i1; ic += MC) {
            const int mc = i1 - ic < MC ? i1 - ic : MC;
            pack_a(p, ic, mc, k0, kc, a_pack, vector_pack);
            for (int jc = j0; jc < j1; jc += NR) {
                const int nr = j1 - jc < NR ? j1 - jc : NR;
                pack_b(p, jc, nr, k0, kc, b_pack, vector_pack);
                for (int ir = 0; ir < mc; ir += MR)
                    micro(kc, a_pack + (size_t)ir * kc, b_pack,
                          p->c + (size_t)(ic + ir) * p->ldc + jc, p->ldc,
                          mc - ir < MR ? mc - ir : MR, nr, alpha, beta);
            }
        }
    }
}

static void dense_share(void *ctx, int first, int last, int worker)
{
    (void)worker;
    const dense_job *job = ctx;
    const p4_dense_product *p = job->p;
    if (job->by_rows) {
        int i1 = last * MR < p->m ? last * MR : p->m;
        dense_block(p, job->micro, job->vector_pack, first * MR, i1, 0, p->n);
    } else {
        int j1 = last * NR < p->n ? last * NR : p->n;
        dense_block(p, job->micro, job->vector_pack, 0, p->m, first * NR, j1);
    }
}

int p4_dense_gemm(const p4_dense_product *p, p4_dense_isa isa, int threads, p4_error *err)
{
    if (p == NULL)
        return p4_error_set(err, P4_EINVAL, "dense product: no product given");
    if (p->m < 0 || p->n < 0 || p->k < 0)
        return p4_error_set(err, P4_EINVAL, "dense product: negative shape %d x %d x %d", p->m,
                            p->n, p->k);
    if (p->m == 0 || p->n == 0)
        return P4_OK;
    const int a_cols = p->ta ? p->m : p->k, b_cols = p->tb ? p->k : p->n;
    if (p->c == NULL || (p->k > 0 && (p->a == NULL || p->b == NULL)))
        return p4_error_set(err, P4_EINVAL, "dense product: a NULL operand");
    if (p->ldc < p->n || (p->k > 0 && (p->lda < a_cols || p->ldb < b_cols)) || p->lda < 1 ||
        p->ldb < 1)
        return p4_error_set(err, P4_EINVAL,
                            "dense product: leading dimensions %d, %d, %d too small for "
                            "%d x %d x %d (ta %d, tb %d)",
                            p->lda, p->ldb, p->ldc, p->m, p->n, p->k, p->ta, p->tb);
    micro_fn *micro = micro_portable;
    if (isa != P4_DENSE_ISA_PORTABLE) {
#if defined(__x86_64__)
        if (p4_dense_kernel_has_avx512())
            micro = micro_avx512;
        else
#endif
        if (isa == P4_DENSE_ISA_AVX512)
            return p4_error_set(err, P4_EUNSUPPORTED,
                                "dense product: this CPU has no AVX-512F (ask for the "
                                "portable kernel instead)");
    }
    if (p->k == 0) { /* C = beta C, as cblas (nothing to add) */
        for (int i = 0; i < p->m; i++)
            for (int j = 0; j < p->n; j++) {
                float *c = p->c + (size_t)i * p->ldc + j;
                *c = p->beta == 0.0f ? 0.0f : p->beta * *c;
            }
        return P4_OK;
    }
    const int row_panels = (p->m + MR - 1) / MR, col_panels = (p->n + NR - 1) / NR;
    int vector_pack = 0;
#if defined(__x86_64__)
    vector_pack = micro == micro_avx512 && __builtin_cpu_supports("avx2");
#endif
    dense_job job = { p, micro, row_panels >= col_panels, vector_pack };
    const int items = job.by_rows ? row_panels : col_panels;
    int workers = 1;
    if (threads > 1 && (double)p->m * p->n * p->k >= SPLIT_MIN_MACS) {
        workers = p4_workers_for(items);
        if (workers > threads)
            workers = threads;
    }
    p4_for_examples(items, workers, dense_share, &job);
    return P4_OK;
}

/* --- the choice ----------------------------------------------------------------- */

/* -1: not decided yet (the environment is read on first use). */
static atomic_int chosen = -1;

int p4_dense_kernel_choose(p4_dense_choice choice)
{
    if (choice != P4_DENSE_AUTO && choice != P4_DENSE_OPENBLAS && choice != P4_DENSE_P4)
        return P4_EINVAL;
    atomic_store(&chosen, (int)choice);
    return P4_OK;
}

/* P4_DENSE_KERNEL's value as a choice; -1 if it is none of the names. */
static int choice_of(const char *value)
{
    if (value == NULL || value[0] == '\0' || strcmp(value, "auto") == 0)
        return P4_DENSE_AUTO;
    if (strcmp(value, "openblas") == 0)
        return P4_DENSE_OPENBLAS;
    if (strcmp(value, "p4") == 0)
        return P4_DENSE_P4;
    return -1;
}

int p4_dense_kernel_from_env(p4_error *err)
{
    const char *env = getenv("P4_DENSE_KERNEL");
    const int c = choice_of(env);
    if (c < 0)
        return p4_error_set(err, P4_EINVAL,
                            "P4_DENSE_KERNEL=%s: unknown dense kernel (use auto, openblas or p4, "
                            "or leave it unset for auto)", env);
    int expected = -1; /* a choice made from code stays */
    atomic_compare_exchange_strong(&chosen, &expected, c);
    return P4_OK;
}

p4_dense_choice p4_dense_kernel_choice(void)
{
    int c = atomic_load_explicit(&chosen, memory_order_relaxed);
    if (c >= 0)
        return (p4_dense_choice)c;
    /* darknet's gemm has no way to report a bad value: p4_model_new checks
     * it first (p4_dense_kernel_from_env); a program that never makes a
     * model gets auto for an unknown value. */
    c = choice_of(getenv("P4_DENSE_KERNEL"));
    int expected = -1;
    atomic_compare_exchange_strong(&chosen, &expected, c < 0 ? P4_DENSE_AUTO : c);
    return (p4_dense_choice)atomic_load(&chosen);
}

/* Auto sends a product here when the AVX-512 kernel measured faster than
 * OpenBLAS's AVX2 kernels (bench_kernels --dense, docs/performance.md):
 * at least one full column panel (the output layer's forward, n = 10,
 * measured 0.3-0.6x), and for the forward X W^T at least 32 rows (packing
 * W^T costs as much as the product of a few rows: 0.9x at batch 20, 1.15x
 * at 40). */
#define AUTO_MIN_N 32
#define AUTO_MIN_NT_ROWS 32
#define AUTO_MIN_MACS (64.0 * 1024)

int p4_dense_kernel_wanted(int ta, int tb, int m, int n, int k)
{
    switch (p4_dense_kernel_choice()) {
    case P4_DENSE_P4:
        return 1;
    case P4_DENSE_OPENBLAS:
        return 0;
    case P4_DENSE_AUTO:
    default: {
        static atomic_int avx512 = -1;
        int has = atomic_load_explicit(&avx512, memory_order_relaxed);
        if (has < 0) {
            has = p4_dense_kernel_has_avx512();
            atomic_store(&avx512, has);
        }
        return has && n >= AUTO_MIN_N && (double)m * n * k >= AUTO_MIN_MACS &&
               !(tb && !ta && m < AUTO_MIN_NT_ROWS);
    }
    }
}

const char *p4_dense_kernel_name(void)
{
    if (!p4_dense_kernel_wanted(0, 0, 1 << 10, 1 << 10, 1 << 10))
        return "openblas";
    return p4_dense_kernel_has_avx512() ? "p4-avx512" : "p4-portable";
}
