/* maxpool.c: darknet's forward_maxpool_layer and backward_maxpool_layer,
 * interposed (like gemm.c).
 *
 * Forward checks the image borders once per window instead of once per
 * pixel and has a branch-free 2x2 case; it visits each window's pixels in
 * darknet's order with the same strict '>', so ties pick the same index
 * and output and indexes are identical to darknet's.  Both directions
 * spread the batch's examples over p4's threads (common/workers.h): an
 * example's windows only read, and its deltas only reach, that example's
 * own input, so the split changes no result (tests/test_maxpool.c).
 * darknet's forward ran on one core while the other waited, a seventh of
 * a CNN1 training step (perf). */
#include <darknet.h>
#include <float.h>

#include "model/darknet_helpers.h"
#include "model/maxpool.h"
#include "common/workers.h"

#if defined(__GNUC__) && !defined(__clang__) /* clang vectorises these at -O2 */
#pragma GCC optimize("O3", "no-trapping-math")
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

/* The common 2x2, stride 2 pool over an even-sized plane, in two passes
 * that the compiler vectorises.  Rows of 14 and 7 outputs (CNN1) are too
 * short for one pass per output row: its vector loop hardly ran and the
 * scalar remainder was 13% of a CNN1 DP step (perf).
 *
 * With even width and height, the input is a sequence of "row pairs" (the
 * two input rows under one output row), across planes and examples alike:
 * row pair g starts at 2 g w and its window j at 2 g w + 2 j.  Pass 1 takes
 * darknet's first two steps, over the left and right pixel of every
 * horizontal pair of a chunk of row pairs, as one flat loop; pass 2 joins
 * each window's top and bottom pair.  Joining (B, ib) after (A, ia) as
 * "B > A ? (B, ib) : (A, ia)" is exactly darknet's third and fourth steps:
 * a later pixel wins only when strictly greater, so ties, -FLT_MAX and NaN
 * come out as darknet's sequential loop leaves them. */
enum { PAIR_CHUNK = 2048 }; /* horizontal pairs per pass-1 chunk: 16 KiB of stack */

/* darknet's first two steps over one horizontal pair, from (-FLT_MAX, -1):
 * the larger value and 0 (left), 1 (right) or -1 (neither above -FLT_MAX). */
static void pass1_pairs(const float *in, long pairs, float *best, int *at)
{
    for (long t = 0; t < pairs; t++) {
        const float left = in[2 * t], right = in[2 * t + 1];
        const int left_counts = left > -FLT_MAX;
        const float b = left_counts ? left : -FLT_MAX;
        const int right_wins = right > b;
        best[t] = right_wins ? right : b;
        at[t] = right_wins ? 1 : left_counts - 1;
    }
}

/* Pass 2 over a whole chunk as one flat loop: position u joins pair u
 * with the pair out_w later.  Where u is in a row pair's top row (its first
 * out_w positions) that is the window's top and bottom pair; elsewhere the
 * result is unused.  Twice the work of joining only the top rows, but with
 * rows of 7 and 14 outputs (CNN1) a loop per row ran mostly in its scalar
 * remainder, and this loop is all vectors.  base: the flat input index of
 * the chunk's first pixel; a window's index is then linear in u.
 *
 * Selects by masks, not "?:", which GCC compiles to branches in a loop's
 * scalar remainder, and on ReLU outputs those mispredict about half the
 * time. */
static void pass2_joined(const float *best, const int *at, long count, int out_w, int w,
                         int base, float *joined, int *joined_at)
{
    for (long u = 0; u < count; u++) {
        const float top = best[u], bottom = best[u + out_w];
        const int lower = -(int)(bottom > top); /* all ones or zero */
        const int local = (at[u + out_w] & lower) | (at[u] & ~lower);
        joined[u] = bottom > top ? bottom : top; /* one max instruction */
        /* local is -1 (no winner) or 0/1: or-ing its sign keeps -1 */
        joined_at[u] = (base + 2 * (int)u + (w & lower) + local) | (local >> 31);
    }
}

static void pool_2x2(const layer *l, const float *input, int first_plane, int last_plane)
{
    const int w = l->w, out_w = l->out_w;
    const long pairs_per_plane = l->out_h;
    long g = first_plane * pairs_per_plane;
    const long g_end = last_plane * pairs_per_plane;
    const long chunk_pairs = PAIR_CHUNK / w; /* >= 1: the caller checked w */
    float best[PAIR_CHUNK], joined[PAIR_CHUNK];
    int at[PAIR_CHUNK], joined_at[PAIR_CHUNK];
    while (g < g_end) {
        const long n = g_end - g < chunk_pairs ? g_end - g : chunk_pairs;
        pass1_pairs(input + 2 * g * w, n * w, best, at);
        pass2_joined(best, at, n * w - out_w, out_w, w, (int)(2 * g * w), joined, joined_at);
        for (long r = 0; r < n; r++) { /* keep each row pair's top row */
            float *out = l->output + (g + r) * out_w;
            int *index = l->indexes + (g + r) * out_w;
            for (int j = 0; j < out_w; j++) {
                out[j] = joined[r * w + j];
                index[j] = joined_at[r * w + j];
            }
        }
        g += n;
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

void p4_maxpool_forward_examples(const layer *l, const float *input, int first, int last)
{
    const int offset = -l->pad / 2;
    if (l->size == 2 && l->stride == 2 && offset == 0 && 2 * l->out_w == l->w &&
        2 * l->out_h == l->h && l->w <= PAIR_CHUNK)
        pool_2x2(l, input, first * l->c, last * l->c);
    else
        pool_general(l, input, first * l->c, last * l->c);
}

static void forward_examples(void *ctx, int first, int last, int worker)
{
    (void)worker;
    const pool_job *job = ctx;
    p4_maxpool_forward_examples(job->l, job->net->input, first, last);
}

/* The batch the convolution in front pooled on this thread, if any
 * (darknet's layer calls carry no context to put it in). */
static _Thread_local struct {
    const float *output, *input;
} pooled;

void p4_maxpool_mark_pooled(const layer *l, const float *input)
{
    pooled.output = l->output;
    pooled.input = input;
}

void forward_maxpool_layer(const layer l, network net)
{
    const int done = pooled.output == l.output && pooled.input == net.input && l.output;
    pooled.output = pooled.input = NULL; /* one use only */
    if (done)
        return;
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
