/* conv.c: darknet's convolutional layer forward and backward, interposed
 * (like gemm.c) so that the examples of a batch are spread over p4's
 * compute threads (common/workers.h) instead of over a BLAS call.
 *
 * darknet convolves one example at a time: an im2col and a GEMM of, for
 * CNN1, 6 x 784 x 9 elements.  OpenBLAS cannot spread a product that small
 * over two cores, so its second thread mostly spun (about 40% of a 2-thread
 * CNN1 step, perf).  Here T workers each take a contiguous share of the
 * examples, each with its own im2col buffer, and finish each example
 * (bias, activation, and the max-pool layer that follows, if any: see
 * model/maxpool.h) while it is in cache.  The forward pass and the input
 * deltas are per example, so they are exactly darknet's; the weight
 * gradient is summed per worker and then added, so it differs from
 * darknet's only by float rounding (tests/test_conv.c).  Anything this file
 * does not handle (groups, batch norm, binary weights) goes to darknet's
 * own code. */
#define _GNU_SOURCE
#include "model/activation.h"
#include "model/conv.h"
#include "model/conv_same.h"
#include "model/maxpool.h"
#include "model/small_gemm.h"
#include "common/workers.h"

#include <cblas.h>
#include <darknet.h>
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include "model/darknet_helpers.h"


typedef void layer_fn(layer, network);

void p4_conv_input_delta(const layer *l, const float *flipped, const float *delta, float *col,
                         float *dx)
{
    if (flipped != NULL) {
        p4_conv_same_input_delta(l, flipped, delta, col, dx);
        return;
    }
    const int k = l->size * l->size * l->c, n = l->out_w * l->out_h;
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, k, n, l->n, 1.0f, l->weights, k, delta,
                n, 0.0f, col, n);
    col2im_cpu(col, l->c, l->h, l->w, l->size, l->stride, l->pad, dx);
}

static size_t column_floats(const layer *l)
{
    return (size_t)l->size * l->size * l->c * l->out_w * l->out_h;
}

float *p4_conv_flipped_weights_new(const layer *l)
{
    if (!p4_conv_same_input_delta_applies(l, column_floats(l)))
        return NULL;
    float *flipped = malloc((size_t)l->n * l->size * l->size * l->c * sizeof(float));
    if (flipped != NULL)
        p4_conv_same_flip_weights(l, flipped);
    return flipped;
}

/* A long kernel column (k > P4_SMALL_GEMM_MAX_K) with 16 or more filters:
 * g^T (k x filters) = col (k x n) delta^T (n x filters), a few-rows product
 * whose rows are the column image's (one vector of B per 16 filters), in
 * place of OpenBLAS's small NT product (bench/bench_kernels).  delta^T and
 * g^T live on the stack, so only when they fit. */
enum { BY_COLUMN_ROWS_MAX_FLOATS = 8192 };

static int by_column_rows(const layer *l)
{
    const int k = l->size * l->size * l->c, n = l->out_w * l->out_h;
    return k > P4_SMALL_GEMM_MAX_K && l->n >= 16 && l->n <= 64 &&
           ((size_t)n + k) * l->n <= BY_COLUMN_ROWS_MAX_FLOATS;
}

static void weight_gradient_by_column_rows(const layer *l, const float *const *col_rows,
                                           const float *delta, float beta, float *g)
{
    const int filters = l->n, k = l->size * l->size * l->c, n = l->out_w * l->out_h;
    /* Sized exactly (by_column_rows bounds it). */
    float delta_t[(size_t)n * filters], g_t[(size_t)k * filters];
    for (int p = 0; p < n; p++)
        for (int f = 0; f < filters; f++)
            delta_t[(size_t)p * filters + f] = delta[(size_t)f * n + p];
    /* Every float of delta_t is written above; GCC 12 does not see it
     * through the variable length and warns about the read-only argument. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
    p4_gemm_rows_at(k, filters, n, col_rows, delta_t, filters, g_t, filters);
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
    for (int f = 0; f < filters; f++)
        for (int j = 0; j < k; j++) {
            float *out = g + (size_t)f * k + j;
            *out = (beta != 0.0f ? *out : 0.0f) + g_t[(size_t)j * filters + f];
        }
}

void p4_conv_example_weight_gradient(const layer *l, const float *input, const float *delta,
                                     float *scratch, float beta, float *g)
{
    const int k = l->size * l->size * l->c, n = l->out_w * l->out_h;
    const int short_column = k <= P4_SMALL_GEMM_MAX_K;
    if (short_column || by_column_rows(l)) {
        /* The column image by row pointers: shifted copies of the input
         * (model/conv_same.h) or rows of im2col's image; k is bounded by
         * both conditions. */
        const float *rows[k];
        if (p4_conv_same_rows_apply(l, column_floats(l))) {
            p4_conv_same_column_rows(l, input, scratch, rows);
        } else {
            const float *col = input; /* a 1x1 layer's column image is its input */
            if (l->size != 1) {
                im2col_cpu((float *)input, l->c, l->h, l->w, l->size, l->stride, l->pad,
                           scratch);
                col = scratch;
            }
            for (int j = 0; j < k; j++)
                rows[j] = col + (size_t)j * n;
        }
        if (short_column)
            p4_gemm_dots_at(l->n, k, n, delta, n, rows, beta, g, k);
        else
            weight_gradient_by_column_rows(l, rows, delta, beta, g);
        return;
    }
    const float *col = input;
    if (l->size != 1) {
        im2col_cpu((float *)input, l->c, l->h, l->w, l->size, l->stride, l->pad, scratch);
        col = scratch;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, l->n, k, n, 1.0f, delta, n, col, n, beta,
                g, k);
}

/* --- forward --------------------------------------------------------------- */

typedef struct {
    layer *l;
    network *net;
    const layer *pool; /* forward: the max-pool layer after this one, pooled here */
    int same;          /* forward without a column image (model/conv_same.h) */
    float *workspace[P4_MAX_WORKERS];
    float *updates[P4_MAX_WORKERS]; /* backward: worker w's weight and bias gradients (w > 0) */
    float *flipped; /* backward: p4_conv_flipped_weights_new, or NULL */
} conv_job;

static int handled(const layer *l)
{
    return l->groups <= 1 && !l->batch_normalize && !l->xnor && !l->binary;
}

/* Worker buffers: worker 0 uses darknet's workspace, the others their own. */
static int job_open(conv_job *job, layer *l, network *net, int workers, int with_updates)
{
    memset(job, 0, sizeof *job);
    job->l = l;
    job->net = net;
    job->workspace[0] = net->workspace;
    for (int w = 1; w < workers; w++) {
        job->workspace[w] = malloc(column_floats(l) * sizeof(float));
        if (with_updates) /* weights, then biases */
            job->updates[w] = calloc((size_t)l->nweights + l->n, sizeof(float));
        if (!job->workspace[w] || (with_updates && !job->updates[w]))
            return -1;
    }
    return 0;
}

static void job_close(conv_job *job, int workers)
{
    for (int w = 1; w < workers; w++) {
        free(job->workspace[w]);
        free(job->updates[w]);
    }
}

/* One example at a time, start to finish while its output is in cache:
 * im2col, the product (beta 0: no zeroing pass), bias, activation. */
static void forward_examples(void *ctx, int first, int last, int worker)
{
    conv_job *job = ctx;
    layer *l = job->l;
    const int m = l->n, k = l->size * l->size * l->c, n = l->out_w * l->out_h;
    for (int i = first; i < last; i++) {
        float *im = job->net->input + (size_t)i * l->c * l->h * l->w;
        float *out = l->output + (size_t)i * m * n;
        if (job->same) {
            p4_conv_same_forward(l, im, job->workspace[worker], out);
        } else {
            float *col = im;
            if (l->size != 1) {
                col = job->workspace[worker];
                im2col_cpu(im, l->c, l->h, l->w, l->size, l->stride, l->pad, col);
            }
            if (m <= P4_FEW_ROWS_MAX)
                p4_gemm_few_rows(m, n, k, l->weights, k, col, n, out, n);
            else
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f,
                            l->weights, k, col, n, 0.0f, out, n);
        }
        p4_bias_activate(out, l->biases, m, n, l->activation);
        if (job->pool)
            p4_maxpool_forward_examples(job->pool, l->output, i, i + 1);
    }
}

/* The max-pool layer that darknet's forward_network runs next on this
 * layer's output, when there is one (model/maxpool.h). */
static const layer *pool_after(const layer *l, const network *net)
{
    const int next = net->index + 1;
    if (net->layers == NULL || net->index < 0 || next >= net->n)
        return NULL;
    const layer *pool = &net->layers[next];
    if (pool->type != MAXPOOL || pool->batch != l->batch || pool->inputs != l->outputs ||
        net->layers[net->index].output != l->output)
        return NULL;
    return pool;
}

/* Opens a job with its workers; 0 when the layer should go to darknet's own
 * code instead (a layer this file does not handle, no memory).  One worker
 * takes this path too: it pools as it goes. */
static int job_start(conv_job *job, layer *l, network *net, int with_updates)
{
    int workers = p4_workers_for(l->batch);
    if (!handled(l))
        return 0;
    if (job_open(job, l, net, workers, with_updates) != 0) {
        job_close(job, workers);
        return 0;
    }
    return workers;
}

static void run_darknet(const char *name, layer l, network net)
{
    layer_fn *reference = (layer_fn *)dlsym(RTLD_NEXT, name);
    if (reference)
        reference(l, net);
}

void forward_convolutional_layer(layer l, network net)
{
    conv_job job;
    int workers = job_start(&job, &l, &net, 0);
    if (workers == 0) {
        run_darknet("forward_convolutional_layer", l, net);
        return;
    }
    job.pool = pool_after(&l, &net);
    job.same = p4_conv_same_applies(&l, column_floats(&l));
    p4_for_examples(l.batch, workers, forward_examples, &job);
    if (job.pool)
        p4_maxpool_mark_pooled(job.pool, l.output);
    job_close(&job, workers);
}

/* --- backward -------------------------------------------------------------- */

static void backward_examples(void *ctx, int first, int last, int worker)
{
    conv_job *job = ctx;
    layer *l = job->l;
    network *net = job->net;
    const int m = l->n, k = l->size * l->size * l->c, n = l->out_w * l->out_h;
    const size_t image = (size_t)l->c * l->h * l->w;
    float *updates = worker == 0 ? l->weight_updates : job->updates[worker];
    float *bias_updates = worker == 0 ? l->bias_updates : job->updates[worker] + l->nweights;
    for (int i = first; i < last; i++) {
        float *delta = l->delta + (size_t)i * m * n;
        p4_gradient_bias(l->output + (size_t)i * m * n, delta, m, n, l->activation, bias_updates);
        p4_conv_example_weight_gradient(l, net->input + (size_t)i * image, delta,
                                        job->workspace[worker], 1.0f, updates);
        if (net->delta) {
            float *imd = net->delta + (size_t)i * image;
            if (l->size == 1) /* darknet writes a 1x1 layer's delta in place */
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, k, n, m, 1.0f, l->weights,
                            k, delta, n, 0.0f, imd, n);
            else
                p4_conv_input_delta(l, job->flipped, delta, job->workspace[worker], imd);
        }
    }
}

void backward_convolutional_layer(layer l, network net)
{
    conv_job job;
    int workers = job_start(&job, &l, &net, 1);
    if (workers == 0) {
        run_darknet("backward_convolutional_layer", l, net);
        return;
    }
    if (net.delta)
        job.flipped = p4_conv_flipped_weights_new(&l); /* NULL: the im2col route */
    p4_for_examples(l.batch, workers, backward_examples, &job);
    free(job.flipped);
    for (int w = 1; w < workers; w++) {
        cblas_saxpy(l.nweights, 1.0f, job.updates[w], 1, l.weight_updates, 1);
        cblas_saxpy(l.n, 1.0f, job.updates[w] + l.nweights, 1, l.bias_updates, 1);
    }
    job_close(&job, workers);
}
