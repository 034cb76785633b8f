/* maxpool.c: darknet's forward_maxpool_layer, interposed (like gemm.c) with
 * a version that checks the image borders once per window instead of once
 * per pixel.  It visits each window's pixels in darknet's order with the
 * same strict '>' so ties pick the same index: output and indexes are
 * identical to darknet's (tests/test_maxpool.c).  darknet's version was a
 * tenth of a CNN1 training step. */
#include <darknet.h>
#include <float.h>

#if defined(__GNUC__) && !defined(__clang__) /* clang vectorises these at -O2 */
#pragma GCC optimize("O3")
#endif

/* The common 2x2, stride 2 pool with every window inside the image: two
 * input rows per output row, four compares in darknet's order. */
static void pool_2x2(const layer l, const float *input)
{
    for (int plane = 0; plane < l.batch * l.c; plane++) {
        const int in_plane = l.w * l.h * plane;
        for (int i = 0; i < l.out_h; i++) {
            const float *r0 = input + in_plane + l.w * (2 * i);
            const float *r1 = r0 + l.w;
            const int base = in_plane + l.w * (2 * i);
            float *out = l.output + (size_t)l.out_w * (i + l.out_h * plane);
            int *index = l.indexes + (size_t)l.out_w * (i + l.out_h * plane);
            for (int j = 0; j < l.out_w; j++) {
                const float v[4] = { r0[2 * j], r0[2 * j + 1], r1[2 * j], r1[2 * j + 1] };
                const int at[4] = { base + 2 * j, base + 2 * j + 1, base + l.w + 2 * j,
                                    base + l.w + 2 * j + 1 };
                float best = -FLT_MAX;
                int best_index = -1;
                for (int m = 0; m < 4; m++)
                    if (v[m] > best) {
                        best = v[m];
                        best_index = at[m];
                    }
                out[j] = best;
                index[j] = best_index;
            }
        }
    }
}

void forward_maxpool_layer(const layer l, network net)
{
    const int offset = -l.pad / 2;
    if (l.size == 2 && l.stride == 2 && offset == 0 && 2 * l.out_w <= l.w && 2 * l.out_h <= l.h) {
        pool_2x2(l, net.input);
        return;
    }
    for (int b = 0; b < l.batch; b++) {
        for (int k = 0; k < l.c; k++) {
            const int plane = l.w * l.h * (k + b * l.c);
            const float *in = net.input + plane;
            for (int i = 0; i < l.out_h; i++) {
                const int top = offset + i * l.stride;
                for (int j = 0; j < l.out_w; j++) {
                    const int left = offset + j * l.stride;
                    const int out = j + l.out_w * (i + l.out_h * (k + l.c * b));
                    float best = -FLT_MAX;
                    int best_index = -1;
                    int inside = top >= 0 && left >= 0 && top + l.size <= l.h && left + l.size <= l.w;
                    for (int n = 0; n < l.size; n++) {
                        const int row = top + n;
                        for (int m = 0; m < l.size; m++) {
                            const int col = left + m;
                            float val;
                            if (inside || (row >= 0 && row < l.h && col >= 0 && col < l.w))
                                val = in[col + l.w * row];
                            else
                                val = -FLT_MAX;
                            if (val > best) {
                                best = val;
                                best_index = plane + col + l.w * row;
                            }
                        }
                    }
                    l.output[out] = best;
                    l.indexes[out] = best_index;
                }
            }
        }
    }
}
