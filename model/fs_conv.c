/* fs_conv.c: see fs_conv.h.  Direct loops (the TA has no BLAS and no room
 * for darknet's column image); the forward sums in double, as
 * fs_connected.c, since darknet's gemm order is not reproducible anyway. */
#include "model/fs_conv.h"

#include <stddef.h>

int p4_fs_conv_shape_init(p4_fs_conv_shape *s, int c, int h, int w, int filters, int size,
                          int stride, int pad)
{
    const int most = 1 << 14; /* keeps every product below in 32-bit range checks */
    if (c < 1 || h < 1 || w < 1 || filters < 1 || size < 1 || stride < 1 || pad < 0 ||
        c > most || h > most || w > most || filters > most || size > 64 || stride > 64 ||
        pad >= size || h + 2 * pad < size || w + 2 * pad < size)
        return 0;
    *s = (p4_fs_conv_shape){ .c = c, .h = h, .w = w, .filters = filters, .size = size,
                             .stride = stride, .pad = pad };
    s->out_h = (h + 2 * pad - size) / stride + 1;
    s->out_w = (w + 2 * pad - size) / stride + 1;
    return 1;
}

/* The input pixel under kernel tap (ky, kx) of output (oy, ox), or -1 in
 * the zero padding. */
static inline int tap(const p4_fs_conv_shape *s, int oy, int ox, int ky, int kx)
{
    int y = oy * s->stride + ky - s->pad, x = ox * s->stride + kx - s->pad;
    return y < 0 || y >= s->h || x < 0 || x >= s->w ? -1 : y * s->w + x;
}

void p4_fs_conv_forward(float *out, const float *in, const float *w, const float *b,
                        int batch, const p4_fs_conv_shape *s, p4_activation act)
{
    const size_t plane = (size_t)s->h * s->w, out_plane = (size_t)s->out_h * s->out_w;
    const int k2 = s->size * s->size;
    for (int i = 0; i < batch; i++) {
        const float *x = in + (size_t)i * s->c * plane;
        float *y = out + (size_t)i * s->filters * out_plane;
        for (int f = 0; f < s->filters; f++) {
            const float *wf = w + (size_t)f * s->c * k2;
            for (int oy = 0; oy < s->out_h; oy++)
                for (int ox = 0; ox < s->out_w; ox++) {
                    double sum = 0;
                    for (int c = 0; c < s->c; c++)
                        for (int ky = 0; ky < s->size; ky++)
                            for (int kx = 0; kx < s->size; kx++) {
                                int at = tap(s, oy, ox, ky, kx);
                                if (at >= 0)
                                    sum += (double)wf[(c * s->size + ky) * s->size + kx] *
                                           x[(size_t)c * plane + at];
                            }
                    /* darknet adds the bias after the product */
                    y[f * out_plane + (size_t)oy * s->out_w + ox] = (float)sum + b[f];
                }
        }
    }
    p4_activation_forward(out, batch * p4_fs_conv_outputs(s), act);
}

double p4_fs_conv_example_gradient(const float *delta, const float *in, float *g,
                                   const p4_fs_conv_shape *s)
{
    const size_t plane = (size_t)s->h * s->w, out_plane = (size_t)s->out_h * s->out_w;
    const int k2 = s->size * s->size;
    float *bias = g + p4_fs_conv_weights(s);
    double norm_sq = 0;
    for (int f = 0; f < s->filters; f++) {
        const float *d = delta + f * out_plane;
        double sb = 0;
        for (size_t o = 0; o < out_plane; o++)
            sb += d[o];
        bias[f] = (float)sb;
        norm_sq += (double)bias[f] * bias[f];
        for (int c = 0; c < s->c; c++)
            for (int ky = 0; ky < s->size; ky++)
                for (int kx = 0; kx < s->size; kx++) {
                    double sum = 0;
                    for (int oy = 0; oy < s->out_h; oy++)
                        for (int ox = 0; ox < s->out_w; ox++) {
                            int at = tap(s, oy, ox, ky, kx);
                            if (at >= 0)
                                sum += (double)d[(size_t)oy * s->out_w + ox] *
                                       in[(size_t)c * plane + at];
                        }
                    float v = (float)sum;
                    g[(size_t)f * s->c * k2 + (c * s->size + ky) * s->size + kx] = v;
                    norm_sq += (double)v * v;
                }
    }
    return norm_sq;
}

void p4_fs_conv_input_delta(const float *delta, const float *w, float *in_delta, int batch,
                            const p4_fs_conv_shape *s)
{
    const size_t plane = (size_t)s->h * s->w, out_plane = (size_t)s->out_h * s->out_w;
    const int k2 = s->size * s->size;
    for (int i = 0; i < batch; i++) {
        const float *d = delta + (size_t)i * s->filters * out_plane;
        float *dx = in_delta + (size_t)i * s->c * plane;
        for (int f = 0; f < s->filters; f++) {
            const float *wf = w + (size_t)f * s->c * k2;
            for (int oy = 0; oy < s->out_h; oy++)
                for (int ox = 0; ox < s->out_w; ox++) {
                    float v = d[f * out_plane + (size_t)oy * s->out_w + ox];
                    if (v == 0.0f)
                        continue; /* relu's dead outputs: most of them */
                    for (int c = 0; c < s->c; c++)
                        for (int ky = 0; ky < s->size; ky++)
                            for (int kx = 0; kx < s->size; kx++) {
                                int at = tap(s, oy, ox, ky, kx);
                                if (at >= 0)
                                    dx[(size_t)c * plane + at] +=
                                        v * wf[(c * s->size + ky) * s->size + kx];
                            }
                }
        }
    }
}
