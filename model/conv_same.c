/* conv_same.c: see conv_same.h. */
#include "model/conv_same.h"
#include "model/small_gemm.h"

#include <darknet.h>
#include <string.h>

/* Longest kernel column handled (row pointers live on the stack). */
enum { MAX_TAPS = 256 };

/* The padded grid of one example. */
typedef struct {
    int channels, h, w, size, taps; /* taps = size * size * channels */
    int wp;                         /* padded width, w + 2 pad        */
    size_t plane;                   /* (h + 2 pad) * wp               */
    size_t padded;                  /* floats of the padded planes    */
    size_t grid;                    /* outputs per filter on the grid: h * wp */
} geometry;

/* The grid of a same convolution over `channels` planes of h x w. */
static geometry grid_of(int channels, int h, int w, int size, int pad)
{
    geometry g;
    g.channels = channels;
    g.h = h;
    g.w = w;
    g.size = size;
    g.taps = size * size * channels;
    g.wp = w + 2 * pad;
    g.plane = (size_t)(h + 2 * pad) * g.wp;
    /* The last tap's row reads size - 1 floats past the last plane (into
     * the extra columns of the last output row): zeros. */
    g.padded = (size_t)channels * g.plane + (size_t)(size - 1);
    g.grid = (size_t)h * g.wp;
    return g;
}

static geometry geometry_of(const layer *l)
{
    return grid_of(l->c, l->h, l->w, l->size, l->pad);
}

/* The input delta's grid: the output deltas (filters planes) padded. */
static geometry delta_geometry_of(const layer *l)
{
    return grid_of(l->n, l->out_h, l->out_w, l->size, l->pad);
}

/* A stride-1 same layer (the output grid is the input's). */
static int is_same(const layer *l)
{
    return l->size >= 2 && l->stride == 1 && 2 * l->pad == l->size - 1 && l->out_w == l->w &&
           l->out_h == l->h && l->n >= 1 && l->c >= 1;
}

int p4_conv_same_applies(const layer *l, size_t scratch_floats)
{
    if (!is_same(l) || l->n > P4_FEW_ROWS_MAX)
        return 0;
    /* The wider grid costs 2 pad / w more multiply-adds.  On CNN1's 28- and
     * 14-wide layers that outweighed the copies saved (A/B: -3% for a
     * CNN1 28x28x1 DP step); at 32 wide (2 / 32) it did not (+6%). */
    if (32 * l->pad > l->w)
        return 0;
    const geometry g = geometry_of(l);
    return g.taps <= MAX_TAPS && g.padded + (size_t)l->n * g.grid <= scratch_floats;
}

/* The input in zero-bordered planes, and a pointer per column-image row
 * (darknet's order: channel, then kernel row, then kernel column). */
static void pad_input(const geometry *g, int pad, const float *input, float *padded,
                      const float **rows)
{
    memset(padded, 0, g->padded * sizeof(float));
    for (int c = 0; c < g->channels; c++)
        for (int y = 0; y < g->h; y++)
            memcpy(padded + c * g->plane + (size_t)(y + pad) * g->wp + pad,
                   input + ((size_t)c * g->h + y) * g->w, (size_t)g->w * sizeof(float));
    int k = 0;
    for (int c = 0; c < g->channels; c++)
        for (int ky = 0; ky < g->size; ky++)
            for (int kx = 0; kx < g->size; kx++)
                rows[k++] = padded + c * g->plane + (size_t)ky * g->wp + kx;
}

void p4_conv_same_forward(const layer *l, const float *input, float *scratch, float *out)
{
    const geometry g = geometry_of(l);
    float *padded = scratch, *grid = scratch + g.padded;
    const float *rows[MAX_TAPS];
    pad_input(&g, l->pad, input, padded, rows);
    p4_gemm_few_rows_at(l->n, (int)g.grid, g.taps, l->weights, g.taps, rows, grid, (int)g.grid);
    for (int f = 0; f < l->n; f++) /* drop the extra columns */
        for (int y = 0; y < g.h; y++)
            memcpy(out + ((size_t)f * g.h + y) * g.w, grid + f * g.grid + (size_t)y * g.wp,
                   (size_t)g.w * sizeof(float));
}

void p4_conv_same_weight_gradient(const layer *l, const float *input, const float *delta,
                                  float *scratch, float beta, float *g_out)
{
    const geometry g = geometry_of(l);
    float *padded = scratch, *grid = scratch + g.padded;
    const float *rows[MAX_TAPS];
    pad_input(&g, l->pad, input, padded, rows);
    /* The deltas on the wider grid, zero in the extra columns. */
    for (int f = 0; f < l->n; f++)
        for (int y = 0; y < g.h; y++) {
            float *row = grid + f * g.grid + (size_t)y * g.wp;
            memcpy(row, delta + ((size_t)f * g.h + y) * g.w, (size_t)g.w * sizeof(float));
            memset(row + g.w, 0, (size_t)(g.wp - g.w) * sizeof(float));
        }
    p4_gemm_dots_at(l->n, g.taps, (int)g.grid, grid, (int)g.grid, rows, beta, g_out, g.taps);
}

/* --- the input delta, as a same convolution of the deltas ---------------- */

int p4_conv_same_input_delta_applies(const layer *l, size_t scratch_floats)
{
    /* No rule on the width here (unlike the forward): the other way is an
     * OpenBLAS product and a col2im pass, not only copies. */
    if (!is_same(l) || l->c > P4_FEW_ROWS_MAX)
        return 0;
    const geometry g = delta_geometry_of(l);
    return g.taps <= MAX_TAPS && g.padded + (size_t)l->c * g.grid <= scratch_floats;
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
    const geometry g = delta_geometry_of(l);
    float *padded = scratch, *grid = scratch + g.padded;
    const float *rows[MAX_TAPS];
    pad_input(&g, l->pad, delta, padded, rows);
    p4_gemm_few_rows_at(l->c, (int)g.grid, g.taps, flipped, g.taps, rows, grid, (int)g.grid);
    for (int c = 0; c < l->c; c++) /* added, as col2im adds; the extra columns dropped */
        for (int y = 0; y < g.h; y++) {
            float *out = dx + ((size_t)c * g.h + y) * g.w;
            const float *in = grid + c * g.grid + (size_t)y * g.wp;
            for (int x = 0; x < g.w; x++)
                out[x] += in[x];
        }
}
