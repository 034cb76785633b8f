/* fs_maxpool.c: see fs_maxpool.h (darknet's loop: windows clipped to the
 * input, strict > so the first largest wins). */
#include "model/fs_maxpool.h"

#include <stddef.h>

int p4_fs_maxpool_shape_init(p4_fs_maxpool_shape *s, int c, int h, int w, int size, int stride,
                             int padding)
{
    const int most = 1 << 14;
    if (c < 1 || h < 1 || w < 1 || size < 1 || stride < 1 || padding < 0 || c > most ||
        h > most || w > most || size > 64 || stride > 64 || padding >= 2 * size ||
        h + padding < size || w + padding < size)
        return 0;
    *s = (p4_fs_maxpool_shape){ .c = c, .h = h, .w = w, .size = size, .stride = stride,
                                .padding = padding };
    s->out_h = (h + padding - size) / stride + 1;
    s->out_w = (w + padding - size) / stride + 1;
    /* The last window must still touch the input, so every output has a
     * winner (darknet would record index -1 and later read out of range). */
    int offset = -padding / 2;
    if (offset + (s->out_h - 1) * stride >= h || offset + (s->out_w - 1) * stride >= w ||
        offset + size <= 0)
        return 0;
    return 1;
}

void p4_fs_maxpool_forward(float *out, int32_t *index, const float *in, int batch,
                           const p4_fs_maxpool_shape *s)
{
    const int offset = -s->padding / 2;
    const size_t plane = (size_t)s->h * s->w, out_plane = (size_t)s->out_h * s->out_w;
    for (size_t p = 0; p < (size_t)batch * s->c; p++) {
        const float *x = in + p * plane;
        for (int oy = 0; oy < s->out_h; oy++)
            for (int ox = 0; ox < s->out_w; ox++) {
                float best = 0;
                int32_t at = -1;
                for (int ky = 0; ky < s->size; ky++)
                    for (int kx = 0; kx < s->size; kx++) {
                        int y = offset + oy * s->stride + ky, xx = offset + ox * s->stride + kx;
                        if (y < 0 || y >= s->h || xx < 0 || xx >= s->w)
                            continue;
                        float v = x[(size_t)y * s->w + xx];
                        if (at < 0 || v > best) {
                            best = v;
                            at = (int32_t)(p * plane + (size_t)y * s->w + xx);
                        }
                    }
                out[p * out_plane + (size_t)oy * s->out_w + ox] = best;
                index[p * out_plane + (size_t)oy * s->out_w + ox] = at;
            }
    }
}

void p4_fs_maxpool_backward(const float *delta, const int32_t *index, float *in_delta,
                            int batch, const p4_fs_maxpool_shape *s)
{
    size_t n = (size_t)batch * p4_fs_maxpool_outputs(s);
    for (size_t k = 0; k < n; k++)
        if (index[k] >= 0)
            in_delta[index[k]] += delta[k];
}
