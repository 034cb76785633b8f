/* conv_same.c: see conv_same.h. */
#include "model/conv_same.h"
#include "model/small_gemm.h"

#include <darknet.h>
#include <stddef.h>
#include <string.h>

/* The zeroing loops are a few floats long: loops, not memset calls. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3", "no-tree-loop-distribute-patterns")
#endif

/* The shifted copies of one example's planes. */
typedef struct {
    int channels, h, w, size, pad, taps; /* taps = size * size * channels */
    size_t plane;                        /* h * w                         */
    size_t gap;    /* zeros before, between and after the copies: pad w + pad */
    size_t floats; /* of the copies and their gaps                        */
} geometry;

/* A same convolution over `channels` planes of h x w. */
static geometry grid_of(int channels, int h, int w, int size, int pad)
{
    geometry g;
    g.channels = channels;
    g.h = h;
    g.w = w;
    g.size = size;
    g.pad = pad;
    g.taps = size * size * channels;
    g.plane = (size_t)h * w;
    /* A tap reads at most pad rows and pad columns away from its copy. */
    g.gap = (size_t)pad * w + pad;
    g.floats = (size_t)channels * size * (g.plane + g.gap) + g.gap;
    return g;
}

static geometry geometry_of(const layer *l)
{
    return grid_of(l->c, l->h, l->w, l->size, l->pad);
}

/* A stride-1 same layer (the output grid is the input's), its padding
 * narrower than the image (a wrapped read then lands one row away). */
static int is_same(const layer *l)
{
    return l->size >= 2 && l->stride == 1 && 2 * l->pad == l->size - 1 && l->out_w == l->w &&
           l->out_h == l->h && l->n >= 1 && l->c >= 1 && l->pad < l->w;
}

static int fits(const geometry *g, size_t scratch_floats)
{
    return g->taps <= P4_CONV_SAME_MAX_TAPS && g->floats <= scratch_floats;
}

int p4_conv_same_rows_apply(const layer *l, size_t scratch_floats)
{
    const geometry g = geometry_of(l);
    return is_same(l) && fits(&g, scratch_floats);
}

int p4_conv_same_applies(const layer *l, size_t scratch_floats)
{
    return l->n <= P4_FEW_ROWS_MAX && p4_conv_same_rows_apply(l, scratch_floats);
}

static inline void zero_floats(float *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = 0.0f;
}

/* Row (c, ky, kx) of the column image (darknet's order) is plane c shifted
 * by (dy, dx) = (ky - pad, kx - pad): in flat indices, plane c read from
 * offset dy w + dx on.  Reads above or below the plane land in the zero
 * gaps; a read off the left (right) end of a row lands on the last (first)
 * |dx| columns of the row above (below), which the copy for that dx has
 * zeroed.  So each plane is copied once per kx, not once per tap: one
 * memcpy of the plane (faster than a masked loop per row of 14 or 28
 * floats: bench_kernels --examples), then the |dx| columns zeroed. */
static void shifted_copies(const geometry *g, const float *planes, float *buf,
                           const float **rows)
{
    const size_t stride = g->plane + g->gap;
    zero_floats(buf, g->gap);
    for (int c = 0; c < g->channels; c++)
        for (int kx = 0; kx < g->size; kx++) {
            const int dx = kx - g->pad;
            const int first = dx > 0 ? dx : 0, last = dx < 0 ? g->w + dx : g->w;
            const float *in = planes + (size_t)c * g->plane;
            float *copy = buf + g->gap + ((size_t)c * g->size + kx) * stride;
            memcpy(copy, in, g->plane * sizeof(float));
            for (int y = 0; y < g->h && dx != 0; y++) {
                float *dst = copy + (size_t)y * g->w;
                for (int x = 0; x < first; x++)
                    dst[x] = 0.0f;
                for (int x = last; x < g->w; x++)
                    dst[x] = 0.0f;
            }
            zero_floats(copy + g->plane, g->gap);
        }
    int k = 0;
    for (int c = 0; c < g->channels; c++)
        for (int ky = 0; ky < g->size; ky++)
            for (int kx = 0; kx < g->size; kx++)
                rows[k++] = buf + g->gap + ((size_t)c * g->size + kx) * stride +
                            (ptrdiff_t)(ky - g->pad) * g->w + (kx - g->pad);
}

void p4_conv_same_column_rows(const layer *l, const float *input, float *scratch,
                              const float **rows)
{
    const geometry g = geometry_of(l);
    shifted_copies(&g, input, scratch, rows);
}

void p4_conv_same_forward(const layer *l, const float *input, float *scratch, float *out)
{
    const geometry g = geometry_of(l);
    const float *rows[P4_CONV_SAME_MAX_TAPS];
    shifted_copies(&g, input, scratch, rows);
    p4_gemm_few_rows_at(l->n, (int)g.plane, g.taps, l->weights, g.taps, rows, out, (int)g.plane);
}

/* --- the input delta, as a same convolution of the deltas ---------------- *
 * Here the deltas are copied once into zero-bordered planes of width
 * w + 2 pad and the product runs on that wider grid (2 pad extra columns
 * per row, dropped when adding): with 16 delta planes per example, copying
 * each plane once beats the shifted copies' once per kernel column (A/B,
 * bench_kernels --examples: 3.5 against 5.8 us at 14x14x6). */

typedef struct {
    int channels, h, w, size, taps; /* taps = size * size * channels */
    int wp;                         /* padded width, w + 2 pad        */
    size_t plane;                   /* (h + 2 pad) * wp               */
    size_t padded;                  /* floats of the padded planes    */
    size_t grid;                    /* outputs per channel on the grid: h * wp */
} padded_geometry;

static padded_geometry padded_delta_geometry_of(const layer *l)
{
    padded_geometry g;
    g.channels = l->n;
    g.h = l->out_h;
    g.w = l->out_w;
    g.size = l->size;
    g.taps = l->size * l->size * l->n;
    g.wp = g.w + 2 * l->pad;
    g.plane = (size_t)(g.h + 2 * l->pad) * g.wp;
    /* The last tap's row reads size - 1 floats past the last plane (into
     * the extra columns of the last output row): zeros. */
    g.padded = (size_t)g.channels * g.plane + (size_t)(g.size - 1);
    g.grid = (size_t)g.h * g.wp;
    return g;
}

int p4_conv_same_input_delta_applies(const layer *l, size_t scratch_floats)
{
    /* No rule on the filters here (unlike the forward): the product has
     * the layer's input channels as rows. */
    if (!is_same(l) || l->c > P4_FEW_ROWS_MAX)
        return 0;
    const padded_geometry g = padded_delta_geometry_of(l);
    return g.taps <= P4_CONV_SAME_MAX_TAPS && g.padded + (size_t)l->c * g.grid <= scratch_floats;
}

/* The deltas in zero-bordered planes, and a pointer per tap. */
static void pad_planes(const padded_geometry *g, int pad, const float *planes, float *padded,
                       const float **rows)
{
    memset(padded, 0, g->padded * sizeof(float));
    for (int c = 0; c < g->channels; c++)
        for (int y = 0; y < g->h; y++)
            memcpy(padded + c * g->plane + (size_t)(y + pad) * g->wp + pad,
                   planes + ((size_t)c * g->h + y) * g->w, (size_t)g->w * sizeof(float));
    int k = 0;
    for (int c = 0; c < g->channels; c++)
        for (int ky = 0; ky < g->size; ky++)
            for (int kx = 0; kx < g->size; kx++)
                rows[k++] = padded + c * g->plane + (size_t)ky * g->wp + kx;
}

void p4_conv_same_flip_weights(const layer *l, float *flipped)
{
    const int s = l->size, n = l->n, c = l->c;
    for (int ci = 0; ci < c; ci++)
        for (int f = 0; f < n; f++)
            for (int ky = 0; ky < s; ky++)
                for (int kx = 0; kx < s; kx++)
                    flipped[(((size_t)ci * n + f) * s + ky) * s + kx] =
                        l->weights[(((size_t)f * c + ci) * s + (s - 1 - ky)) * s + (s - 1 - kx)];
}

void p4_conv_same_input_delta(const layer *l, const float *flipped, const float *delta,
                              float *scratch, float *dx)
{
    const padded_geometry g = padded_delta_geometry_of(l);
    float *padded = scratch, *grid = scratch + g.padded;
    const float *rows[P4_CONV_SAME_MAX_TAPS];
    pad_planes(&g, l->pad, delta, padded, rows);
    p4_gemm_few_rows_at(l->c, (int)g.grid, g.taps, flipped, g.taps, rows, grid, (int)g.grid);
    for (int c = 0; c < l->c; c++) /* added, as col2im adds; the extra columns dropped */
        for (int y = 0; y < g.h; y++) {
            float *out = dx + ((size_t)c * g.h + y) * g.w;
            const float *in = grid + c * g.grid + (size_t)y * g.wp;
            for (int x = 0; x < g.w; x++)
                out[x] += in[x];
        }
}
