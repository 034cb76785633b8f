/* maxpool.c: darknet's forward_maxpool_layer and backward_maxpool_layer,
 * interposed (like gemm.c).
 *
 * Forward checks the image borders once per window instead of once per
 * pixel and has a branch-free 2x2 case; it visits each window's pixels in
 * darknet's order with the same strict '>', so ties pick the same index
 * and output and indexes are identical to darknet's.  Both directions
 * spread the batch's examples over p4's threads (model/workers.h): an
 * example's windows only read, and its deltas only reach, that example's
 * own input, so the split changes no result (tests/test_maxpool.c).
 * darknet's forward ran on one core while the other waited, a seventh of
 * a CNN1 training step (perf). */
#include <darknet.h>
#include <float.h>

#include "model/darknet_helpers.h"
#include "model/workers.h"

#if defined(__GNUC__) && !defined(__clang__) /* clang vectorises these at -O2 */
#pragma GCC optimize("O3")
#endif

typedef struct {
    const layer *l;
    const network *net;
} pool_job;

/* darknet's step for each pixel of a window: a strictly greater value
 * takes the lead, so ties keep the earlier pixel.  "v > best ? v : best" is
 * one max instruction; the index is picked with a mask because GCC turns
 * its select into a branch, and on random data that branch mispredicts
 * about half the time. */
static inline void take_if_greater(float v, int where, float *best, int *at)
{
    const int mask = -(int)(v > *best);
    *at = (*at & ~mask) | (where & mask);
    *best = v > *best ? v : *best;
}

/* The common 2x2, stride 2 pool with every window inside the image: two
 * input rows per output row, four compares in darknet's order. */
static void pool_row_2x2(const float *r0, const float *r1, int base, int w, int out_w,
                         float *out, int *index)
{
    for (int j = 0; j < out_w; j++) {
        const int at0 = base + 2 * j;
        float best = -FLT_MAX;
        int at = -1;
        take_if_greater(r0[2 * j], at0, &best, &at);
        take_if_greater(r0[2 * j + 1], at0 + 1, &best, &at);
        take_if_greater(r1[2 * j], at0 + w, &best, &at);
        take_if_greater(r1[2 * j + 1], at0 + w + 1, &best, &at);
        out[j] = best;
        index[j] = at;
    }
}

static void pool_2x2(const layer *l, const float *input, int first_plane, int last_plane)
{
    const int w = l->w, h = l->h, out_w = l->out_w, out_h = l->out_h;
    for (int plane = first_plane; plane < last_plane; plane++) {
        for (int i = 0; i < out_h; i++) {
            const int base = w * h * plane + w * (2 * i);
            const size_t at = (size_t)out_w * (i + (size_t)out_h * plane);
            pool_row_2x2(input + base, input + base + w, base, w, out_w, l->output + at,
                         l->indexes + at);
        }
    }
}

/* Any size, stride and padding: darknet's loop, borders checked per window. */
static void pool_general(const layer *l, const float *input, int first_plane, int last_plane)
{
    const int offset = -l->pad / 2;
    for (int p = first_plane; p < last_plane; p++) {
        const int plane = l->w * l->h * p;
        const float *in = input + plane;
        for (int i = 0; i < l->out_h; i++) {
            const int top = offset + i * l->stride;
            for (int j = 0; j < l->out_w; j++) {
                const int left = offset + j * l->stride;
                const int out = j + l->out_w * (i + l->out_h * p);
                float best = -FLT_MAX;
                int best_index = -1;
                int inside = top >= 0 && left >= 0 && top + l->size <= l->h && left + l->size <= l->w;
                for (int n = 0; n < l->size; n++) {
                    const int row = top + n;
                    for (int m = 0; m < l->size; m++) {
                        const int col = left + m;
                        float val;
                        if (inside || (row >= 0 && row < l->h && col >= 0 && col < l->w))
                            val = in[col + l->w * row];
                        else
                            val = -FLT_MAX;
                        take_if_greater(val, plane + col + l->w * row, &best, &best_index);
                    }
                }
                l->output[out] = best;
                l->indexes[out] = best_index;
            }
        }
    }
}

static void forward_examples(void *ctx, int first, int last, int worker)
{
    (void)worker;
    const pool_job *job = ctx;
    const layer *l = job->l;
    const int offset = -l->pad / 2;
    if (l->size == 2 && l->stride == 2 && offset == 0 && 2 * l->out_w <= l->w &&
        2 * l->out_h <= l->h)
        pool_2x2(l, job->net->input, first * l->c, last * l->c);
    else
        pool_general(l, job->net->input, first * l->c, last * l->c);
}

void forward_maxpool_layer(const layer l, network net)
{
    pool_job job = { &l, &net };
    p4_for_examples(l.batch, p4_workers_for(l.batch), forward_examples, &job);
}

/* Each output's delta goes back to the input pixel that won its window. */
static void backward_examples(void *ctx, int first, int last, int worker)
{
    (void)worker;
    const pool_job *job = ctx;
    const layer *l = job->l;
    float *input_delta = job->net->delta;
    for (size_t i = (size_t)first * l->outputs; i < (size_t)last * l->outputs; i++) {
        const int at = l->indexes[i];
        if (at >= 0) /* -1: a window with no finite input (darknet would index out of range) */
            input_delta[at] += l->delta[i];
    }
}

void backward_maxpool_layer(const layer l, network net)
{
    if (net.delta == NULL) /* the first layer: nothing to pass back */
        return;
    pool_job job = { &l, &net };
    p4_for_examples(l.batch, p4_workers_for(l.batch), backward_examples, &job);
}
