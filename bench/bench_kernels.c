/* bench_kernels.c: the single-core figures quoted in p4's kernel comments.
 *
 *   bench_kernels [--reps N] [--examples]
 *   bench_kernels --dense [--threads N] [--batch N] [--rounds N]
 *
 * On one thread (OpenBLAS and p4's workers both), in microseconds per call:
 *   - the convolution products of CNN1's layers, OpenBLAS against
 *     model/small_gemm.c (forward product and weight-gradient dots);
 *   - one example's backward products of CNN1's and LeNet-5's second
 *     convolutions (model/conv.c), darknet's way (im2col and an OpenBLAS
 *     product, then col2im for the input delta) against p4's;
 *   - the MLP's three products at batch 250 (OpenBLAS, one thread), in
 *     GFLOP/s, with OpenBLAS's kernel family (OPENBLAS_CORETYPE picks it);
 *   - the 2x2 max-pool of one example, in cache, as the convolution calls
 *     it right after computing the example;
 *   - the DP noise sampler, in nanoseconds per sample.
 * Each figure is the fastest of 5 rounds.  Figures, not tests.
 *
 * --examples instead times one example's forward product, weight gradient
 * and input delta of each of CNN1's convolutions (28x28x1 and 32x32x3),
 * through the routes a training step takes: built on two commits, the A/B
 * of a change to those routes.
 *
 * --dense instead times the MLP's eight products at batch N (250) through
 * darknet's gemm (model/gemm.c) on N threads, OpenBLAS against p4's dense
 * kernel (model/dense_kernel.h), in alternation, each the fastest of the
 * rounds (default 40), in GFLOP/s: the A/B behind the kernel's default. */
#include <cblas.h>
#include <darknet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/progress.h"
#include "common/rng.h"
#include "common/workers.h"
#include "common/ziggurat.h"
#include "model/conv.h"
#include "model/conv_same.h"
#include "model/darknet_helpers.h"
#include "model/dense_kernel.h"
#include "model/gemm.h"
#include "model/maxpool.h"
#include "model/small_gemm.h"

enum { ROUNDS = 5 };

typedef void timed_fn(void *ctx);

/* Fastest of ROUNDS rounds of `reps` calls, in seconds per call. */
static double fastest(timed_fn *fn, void *ctx, int reps)
{
    double best = -1;
    for (int r = 0; r < ROUNDS; r++) {
        double start = p4_now_seconds();
        for (int i = 0; i < reps; i++)
            fn(ctx);
        double per_call = (p4_now_seconds() - start) / reps;
        if (best < 0 || per_call < best)
            best = per_call;
    }
    return best;
}

/* Several ways or pieces timed in rotation, each the fastest of `rounds`
 * rounds of `reps` calls (seconds per call). */
static void fastest_each(timed_fn **fn, int count, void *ctx, int reps, int rounds, double *best)
{
    for (int w = 0; w < count; w++)
        best[w] = -1;
    for (int r = 0; r < rounds; r++)
        for (int w = 0; w < count; w++) {
            double start = p4_now_seconds();
            for (int i = 0; i < reps; i++)
                fn[w](ctx);
            double per_call = (p4_now_seconds() - start) / reps;
            if (best[w] < 0 || per_call < best[w])
                best[w] = per_call;
        }
}

/* Two ways of the same work timed in alternation, round after round, each
 * the fastest of `rounds` rounds of `reps` calls (seconds per call): on a
 * loaded machine both then see the same share of the core. */
static void fastest_pair(timed_fn *a, timed_fn *b, void *ctx, int reps, int rounds, double best[2])
{
    timed_fn *fn[2] = { a, b };
    fastest_each(fn, 2, ctx, reps, rounds, best);
}

/* --- products ----------------------------------------------------------------- */

typedef struct {
    int m, n, k;          /* filters, outputs per filter, kernel column */
    float *a, *b, *c;
} product;

static void blas_forward(void *ctx)
{
    product *p = ctx;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, p->m, p->n, p->k, 1.0f, p->a, p->k,
                p->b, p->n, 0.0f, p->c, p->n);
}

static void p4_forward(void *ctx)
{
    product *p = ctx;
    p4_gemm_few_rows(p->m, p->n, p->k, p->a, p->k, p->b, p->n, p->c, p->n);
}

static void blas_dots(void *ctx)
{
    product *p = ctx;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, p->m, p->k, p->n, 1.0f, p->a, p->n,
                p->b, p->n, 0.0f, p->c, p->k);
}

static void p4_dots(void *ctx)
{
    product *p = ctx;
    p4_gemm_dots(p->m, p->k, p->n, p->a, p->n, p->b, p->n, 0.0f, p->c, p->k);
}

static void bench_products(int reps)
{
    const int shapes[][3] = { { 6, 784, 9 }, { 16, 196, 54 }, { 6, 1024, 27 }, { 16, 256, 54 } };
    printf("convolution products, one core, us per call (OpenBLAS / p4):\n");
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        product p = { shapes[s][0], shapes[s][1], shapes[s][2], NULL, NULL, NULL };
        size_t big = (size_t)p.n * (p.m > p.k ? p.m : p.k);
        p.a = malloc(big * sizeof(float));
        p.b = malloc(big * sizeof(float));
        p.c = malloc(big * sizeof(float));
        for (size_t i = 0; i < big; i++) {
            p.a[i] = (float)(i % 17) * 0.1f;
            p.b[i] = (float)(i % 13) * 0.1f;
        }
        printf("  forward   %2d x %4d x %2d: %6.2f / %6.2f\n", p.m, p.n, p.k,
               1e6 * fastest(blas_forward, &p, reps), 1e6 * fastest(p4_forward, &p, reps));
        printf("  dots      %2d x %2d of %4d: %6.2f / %6.2f\n", p.m, p.k, p.n,
               1e6 * fastest(blas_dots, &p, reps), 1e6 * fastest(p4_dots, &p, reps));
        free(p.a);
        free(p.b);
        free(p.c);
    }
}

/* --- a convolution's backward, one example ------------------------------------ */

typedef struct {
    layer l;
    float *input, *delta, *dx, *col, *g, *flipped;
    float *g_out; /* the forward's output */
} conv_bench;

/* One stride-1 layer of shape {h = w, channels, filters, size, pad} with
 * fixed values, and the buffers of one example. */
static void conv_bench_open(conv_bench *c, const int shape[5])
{
    memset(c, 0, sizeof *c);
    layer *l = &c->l;
    l->h = l->w = shape[0];
    l->c = shape[1];
    l->n = shape[2];
    l->size = shape[3];
    l->pad = shape[4];
    l->stride = 1;
    l->groups = 1;
    l->out_h = l->out_w = l->h + 2 * l->pad - l->size + 1;
    l->nweights = l->n * l->c * l->size * l->size;
    const size_t image = (size_t)l->c * l->h * l->w, out = (size_t)l->n * l->out_h * l->out_w;
    const size_t col = (size_t)l->size * l->size * l->c * l->out_h * l->out_w;
    l->weights = malloc((size_t)l->nweights * sizeof(float));
    c->input = malloc(image * sizeof(float));
    c->dx = calloc(image, sizeof(float));
    c->delta = malloc(out * sizeof(float));
    c->g_out = malloc(out * sizeof(float));
    c->col = malloc(col * sizeof(float));
    c->g = malloc((size_t)l->nweights * sizeof(float));
    if (!l->weights || !c->input || !c->dx || !c->delta || !c->g_out || !c->col || !c->g) {
        fprintf(stderr, "bench_kernels: out of memory\n");
        exit(1);
    }
    for (int i = 0; i < l->nweights; i++)
        l->weights[i] = (float)(i % 7) * 0.1f - 0.3f;
    for (size_t i = 0; i < image; i++)
        c->input[i] = (float)(i % 11) * 0.1f;
    for (size_t i = 0; i < out; i++)
        c->delta[i] = (float)(i % 5) * 0.1f - 0.2f;
    c->flipped = p4_conv_flipped_weights_new(l);
}

static void conv_bench_close(conv_bench *c)
{
    free(c->flipped);
    free(c->l.weights);
    free(c->input);
    free(c->dx);
    free(c->delta);
    free(c->g_out);
    free(c->col);
    free(c->g);
}

static void conv_delta_im2col(void *ctx)
{
    conv_bench *c = ctx;
    p4_conv_input_delta(&c->l, NULL, c->delta, c->col, c->dx);
}

static void conv_delta_p4(void *ctx)
{
    conv_bench *c = ctx;
    p4_conv_input_delta(&c->l, c->flipped, c->delta, c->col, c->dx);
}

/* darknet's weight gradient: im2col, then an OpenBLAS NT product. */
static void conv_gradient_blas(void *ctx)
{
    conv_bench *c = ctx;
    const layer *l = &c->l;
    const int k = l->size * l->size * l->c, n = l->out_w * l->out_h;
    im2col_cpu(c->input, l->c, l->h, l->w, l->size, l->stride, l->pad, c->col);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, l->n, k, n, 1.0f, c->delta, n, c->col, n,
                0.0f, c->g, k);
}

static void conv_gradient_p4(void *ctx)
{
    conv_bench *c = ctx;
    p4_conv_example_weight_gradient(&c->l, c->input, c->delta, c->col, 0.0f, c->g);
}

static void bench_conv_backward(int reps)
{
    /* h = w, channels, filters, size, pad: CNN1's second layer at 28 and
     * 32 wide inputs, LeNet-5's second layer. */
    const int shapes[][5] = { { 14, 6, 16, 3, 1 }, { 16, 6, 16, 3, 1 }, { 14, 6, 16, 5, 0 } };
    printf("a convolution's backward, one example, one core, us per call (darknet's way / p4;\n"
           "the two alternate, each the fastest of %d rounds):\n", 8 * ROUNDS);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        conv_bench c;
        conv_bench_open(&c, shapes[s]);
        layer *l = &c.l;
        printf("  %dx%dx%d, %d filters %dx%d pad %d:\n", l->h, l->w, l->c, l->n, l->size,
               l->size, l->pad);
        double best[2];
        const int rounds = 8 * ROUNDS, per_round = reps / 8 > 0 ? reps / 8 : 1;
        if (c.flipped) {
            fastest_pair(conv_delta_im2col, conv_delta_p4, &c, per_round, rounds, best);
            printf("    input delta       %6.2f / %6.2f\n", 1e6 * best[0], 1e6 * best[1]);
        }
        fastest_pair(conv_gradient_blas, conv_gradient_p4, &c, per_round, rounds, best);
        printf("    weight gradient   %6.2f / %6.2f\n", 1e6 * best[0], 1e6 * best[1]);
        conv_bench_close(&c);
    }
}

/* --- one example through a convolution, as the training step runs it ------ */

/* The forward product as model/conv.c makes it (without bias and pooling). */
static void conv_forward_as_trained(void *ctx)
{
    conv_bench *c = ctx;
    const layer *l = &c->l;
    const size_t col = (size_t)l->size * l->size * l->c * l->out_h * l->out_w;
    if (p4_conv_same_applies(l, col)) {
        p4_conv_same_forward(l, c->input, c->col, c->g_out);
        return;
    }
    const int k = l->size * l->size * l->c, n = l->out_w * l->out_h;
    im2col_cpu(c->input, l->c, l->h, l->w, l->size, l->stride, l->pad, c->col);
    p4_gemm_few_rows(l->n, n, k, l->weights, k, c->col, n, c->g_out, n);
}

static void conv_delta_as_trained(void *ctx)
{
    conv_bench *c = ctx;
    p4_conv_input_delta(&c->l, c->flipped, c->delta, c->col, c->dx);
}

/* One example of each of CNN1's convolutions (28x28x1 and 32x32x3): the
 * forward product, the weight gradient and the input delta, each through
 * the route a training step takes, us per call (fastest of 8 x ROUNDS
 * rounds).  The same file built on two commits is their A/B. */
static void bench_conv_examples(int reps)
{
    const int shapes[][5] = { { 28, 1, 6, 3, 1 }, { 14, 6, 16, 3, 1 },
                              { 32, 3, 6, 3, 1 }, { 16, 6, 16, 3, 1 } };
    printf("one example through CNN1's convolutions, one core, us per call (fastest of %d "
           "rounds):\n", 8 * ROUNDS);
    double total[3] = { 0, 0, 0 };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        conv_bench c;
        conv_bench_open(&c, shapes[s]);
        layer *l = &c.l;
        const int rounds = 8 * ROUNDS, per_round = reps / 8 > 0 ? reps / 8 : 1;
        /* A first layer has no input delta in training; it is timed anyway. */
        timed_fn *pieces[3] = { conv_forward_as_trained, conv_gradient_p4, conv_delta_as_trained };
        double best[3];
        fastest_each(pieces, 3, &c, per_round, rounds, best);
        printf("  %2dx%2dx%d, %2d filters: forward %6.2f  weight gradient %6.2f  input delta "
               "%6.2f%s\n", l->h, l->w, l->c, l->n, 1e6 * best[0], 1e6 * best[1], 1e6 * best[2],
               c.flipped ? "" : " (im2col route)");
        for (int i = 0; i < 3; i++)
            total[i] += best[i];
        conv_bench_close(&c);
    }
    printf("  all four: forward %.2f  weight gradient %.2f  input delta %.2f\n", 1e6 * total[0],
           1e6 * total[1], 1e6 * total[2]);
}

/* --- the MLP's products ---------------------------------------------------------- */

typedef struct {
    int ta, tb, m, n, k;
    const float *a, *b;
    float *c;
} dense_product;

static void dense_blas(void *ctx)
{
    dense_product *p = ctx;
    cblas_sgemm(CblasRowMajor, p->ta ? CblasTrans : CblasNoTrans, p->tb ? CblasTrans : CblasNoTrans,
                p->m, p->n, p->k, 1.0f, p->a, p->ta ? p->m : p->k, p->b, p->tb ? p->k : p->n,
                1.0f, p->c, p->n);
}

static void bench_mlp_products(int reps)
{
    /* darknet's connected layer, batch 250, 784-200: forward X W^T (NT),
     * the input delta D W (NN), the weight gradient D^T X (TN). */
    const struct { const char *name; int ta, tb, m, n, k; } shapes[] = {
        { "forward     X W^T", 0, 1, 250, 200, 784 },
        { "input delta D W  ", 0, 0, 250, 784, 200 },
        { "clipped sum D^T X", 1, 0, 200, 784, 250 },
    };
    const size_t big = 250 * 784;
    float *a = malloc(big * sizeof(float)), *b = malloc(big * sizeof(float)),
          *c = calloc(big, sizeof(float));
    for (size_t i = 0; i < big; i++) {
        a[i] = (float)(i % 17) * 0.01f;
        b[i] = (float)(i % 13) * 0.01f;
    }
    printf("MLP products, batch 250, one core, OpenBLAS core %s, GFLOP/s (fastest of %d rounds):\n",
           openblas_get_corename(), ROUNDS);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        dense_product p = { shapes[s].ta, shapes[s].tb, shapes[s].m, shapes[s].n, shapes[s].k,
                            a, b, c };
        double t = fastest(dense_blas, &p, reps / 20 > 0 ? reps / 20 : 1);
        printf("  %s %3d x %3d x %3d: %6.1f\n", shapes[s].name, p.m, p.n, p.k,
               2.0 * p.m * p.n * p.k / t / 1e9);
    }
    free(a);
    free(b);
    free(c);
}

/* --- the MLP's products, OpenBLAS against p4's dense kernel ---------------- */

typedef struct {
    int ta, tb, m, n, k;
    float *a, *b, *c;
} routed_product;

static void routed(const routed_product *p)
{
    gemm(p->ta, p->tb, p->m, p->n, p->k, 1.0f, p->a, p->ta ? p->m : p->k, p->b,
         p->tb ? p->k : p->n, 1.0f, p->c, p->n);
}

static void routed_openblas(void *ctx)
{
    p4_dense_kernel_choose(P4_DENSE_OPENBLAS);
    routed(ctx);
}

static void routed_p4(void *ctx)
{
    p4_dense_kernel_choose(P4_DENSE_P4);
    routed(ctx);
}

static void bench_dense_ab(int threads, int rounds, int batch)
{
    /* darknet's connected layers of the MLP 784-200-200-10 at a batch:
     * forward X W^T (NT), weight gradient D^T X (TN; DP: the clipped sum),
     * input delta D W (NN; none for the first layer) */
    const struct { const char *name; int ta, tb, m, n, k; } shapes[] = {
        { "fc1 forward ", 0, 1, batch, 200, 784 }, { "fc2 forward ", 0, 1, batch, 200, 200 },
        { "fc3 forward ", 0, 1, batch, 10, 200 },  { "fc3 wgrad   ", 1, 0, 10, 200, batch },
        { "fc2 wgrad   ", 1, 0, 200, 200, batch }, { "fc1 wgrad   ", 1, 0, 200, 784, batch },
        { "fc3 delta   ", 0, 0, batch, 200, 10 },  { "fc2 delta   ", 0, 0, batch, 200, 200 },
    };
    const size_t big = (size_t)(batch > 200 ? batch : 200) * 784;
    float *a = malloc(big * sizeof(float)), *b = malloc(big * sizeof(float)),
          *c = calloc(big, sizeof(float));
    for (size_t i = 0; i < big; i++) {
        a[i] = (float)(i % 17) * 0.01f - 0.08f;
        b[i] = (float)(i % 13) * 0.01f - 0.06f;
    }
    p4_workers_set_threads(threads);
    printf("MLP products at batch %d through darknet's gemm, %d thread(s), OpenBLAS core %s,\n"
           "alternated, fastest of %d rounds: GFLOP/s OpenBLAS / p4 (%s), ratio\n",
           batch, threads, openblas_get_corename(), rounds,
           p4_dense_kernel_has_avx512() ? "AVX-512" : "portable");
    double total[2] = { 0, 0 };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        routed_product p = { shapes[s].ta, shapes[s].tb, shapes[s].m, shapes[s].n, shapes[s].k,
                             a, b, c };
        const double flops = 2.0 * p.m * p.n * p.k;
        int reps = (int)(2e8 / flops / threads); /* about 1 ms of work per round */
        double best[2];
        fastest_pair(routed_openblas, routed_p4, &p, reps > 0 ? reps : 1, rounds, best);
        total[0] += best[0];
        total[1] += best[1];
        printf("  %s %3d x %3d x %3d: %6.1f / %6.1f  %.2fx\n", shapes[s].name, p.m, p.n, p.k,
               flops / best[0] / 1e9, flops / best[1] / 1e9, best[0] / best[1]);
    }
    printf("  all eight, us per step: %.1f / %.1f  %.2fx\n", 1e6 * total[0], 1e6 * total[1],
           total[0] / total[1]);
    p4_dense_kernel_choose(P4_DENSE_AUTO);
    free(a);
    free(b);
    free(c);
}

/* --- max-pool ------------------------------------------------------------------- */

typedef struct {
    layer l;
    const float *in;
} pool_bench;

static void pool_example(void *ctx)
{
    pool_bench *p = ctx;
    p4_maxpool_forward_examples(&p->l, p->in, 0, 1);
}

static void bench_pool(int reps)
{
    const int shapes[][2] = { { 28, 6 }, { 14, 16 }, { 32, 6 }, { 16, 16 } }; /* side, channels */
    printf("2x2 max-pool of one example, in cache (as the convolution calls it), us:\n");
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        pool_bench p;
        p.l = make_maxpool_layer(1, shapes[s][0], shapes[s][0], shapes[s][1], 2, 2, 1);
        float *in = malloc((size_t)p.l.inputs * sizeof(float));
        for (int i = 0; i < p.l.inputs; i++)
            in[i] = (float)((i * 7919) % 1000) / 100.0f - 3.0f;
        p.in = in;
        double t = fastest(pool_example, &p, reps);
        printf("  %2dx%2dx%2d: %5.2f\n", shapes[s][0], shapes[s][0], shapes[s][1], 1e6 * t);
        free(in);
        free(p.l.output);
        free(p.l.delta);
        free(p.l.indexes);
    }
}

/* --- noise ---------------------------------------------------------------------- */

typedef struct {
    p4_ziggurat z;
    p4_rng rng;
    float *values;
    size_t n;
} noise_bench;

static void noise_fill(void *ctx)
{
    noise_bench *b = ctx;
    p4_ziggurat_add(&b->z, &b->rng, b->values, b->n, 1.0);
}

static void bench_noise(int reps)
{
    noise_bench b;
    p4_ziggurat_init(&b.z);
    p4_rng_init_seeded(&b.rng, 1, "bench-noise");
    b.n = 199210; /* the MLP's coordinates */
    b.values = calloc(b.n, sizeof(float));
    double t = fastest(noise_fill, &b, reps / 200 + 1);
    printf("DP noise (ziggurat on ChaCha20), one core: %.2f ns per sample\n", 1e9 * t / b.n);
    free(b.values);
    p4_rng_wipe(&b.rng);
}

int main(int argc, char **argv)
{
    int reps = 2000, dense = 0, examples = 0, threads = 1, rounds = 40, batch = 250;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
            reps = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--dense") == 0) {
            dense = 1;
        } else if (strcmp(argv[i], "--examples") == 0) {
            examples = 1;
        } else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
            threads = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc) {
            batch = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) {
            rounds = atoi(argv[++i]);
        } else {
            fprintf(stderr, "usage: bench_kernels [--reps N] [--examples] | --dense [--threads N] "
                            "[--batch N] [--rounds N]\n");
            return 2;
        }
    }
    if (dense) {
        if (threads < 1 || threads > P4_MAX_WORKERS || rounds < 1 || batch < 1 || batch > 4096) {
            fprintf(stderr, "bench_kernels: --threads must be 1-%d, --rounds at least 1 and "
                            "--batch 1-4096\n", P4_MAX_WORKERS);
            return 2;
        }
        bench_dense_ab(threads, rounds, batch);
        return 0;
    }
    if (reps < 1) {
        fprintf(stderr, "bench_kernels: --reps must be at least 1\n");
        return 2;
    }
    p4_workers_set_threads(1); /* and OpenBLAS on one thread */
    if (examples) {
        bench_conv_examples(reps);
        return 0;
    }
    bench_products(reps);
    bench_conv_backward(reps);
    bench_mlp_products(reps);
    bench_pool(reps);
    bench_noise(reps);
    return 0;
}
