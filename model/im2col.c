/* im2col.c: darknet's im2col_cpu and col2im_cpu, interposed (as gemm.c
 * interposes gemm) with versions that work a row at a time.
 *
 * darknet's own versions fetch every pixel through a bounds-checked helper;
 * for CNN1 that was over half of a training step (perf, 1 thread).  These
 * compute, once per output row, which columns fall inside the image, zero
 * (or skip) the padding, and copy (or add) the rest; stride 1 rows are a
 * memcpy.  The loops visit pixels in darknet's order, so col2im's sums are
 * bit-identical to darknet's (tests/test_im2col.c checks both against the
 * originals, fetched with dlsym(RTLD_NEXT)). */
#include <string.h>

/* The rows are short (28 and 14 floats for CNN1) and the padding one or two
 * floats: loops beat memset/memcpy calls, which were a third of im2col's
 * time (perf).  GCC would turn the loops back into those calls. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3", "no-tree-loop-distribute-patterns")
#endif

static inline void zero_floats(float *out, int n)
{
    for (int i = 0; i < n; i++)
        out[i] = 0.0f;
}

/* Columns w of an output row whose image column w_offset + w*stride - pad
 * lies in [0, width): [*first, *last). */
static void valid_columns(int width, int width_col, int w_offset, int stride, int pad,
                          int *first, int *last)
{
    int lo = 0, hi = width_col;
    while (lo < hi && w_offset + lo * stride - pad < 0)
        lo++;
    while (hi > lo && w_offset + (hi - 1) * stride - pad >= width)
        hi--;
    *first = lo;
    *last = hi;
}

void im2col_cpu(float *data_im, int channels, int height, int width, int ksize, int stride,
                int pad, float *data_col)
{
    int height_col = (height + 2 * pad - ksize) / stride + 1;
    int width_col = (width + 2 * pad - ksize) / stride + 1;
    int channels_col = channels * ksize * ksize;
    for (int c = 0; c < channels_col; c++) {
        int w_offset = c % ksize, h_offset = (c / ksize) % ksize, c_im = c / ksize / ksize;
        int first, last;
        valid_columns(width, width_col, w_offset, stride, pad, &first, &last);
        for (int h = 0; h < height_col; h++) {
            float *out = data_col + ((size_t)c * height_col + h) * width_col;
            int row = h_offset + h * stride - pad;
            if (row < 0 || row >= height || first >= last) {
                zero_floats(out, width_col);
                continue;
            }
            const float *in = data_im + ((size_t)c_im * height + row) * width;
            zero_floats(out, first);
            if (stride == 1) {
                const float *src = in + w_offset - pad;
                for (int w = first; w < last; w++)
                    out[w] = src[w];
            } else {
                for (int w = first; w < last; w++)
                    out[w] = in[w_offset + w * stride - pad];
            }
            zero_floats(out + last, width_col - last);
        }
    }
}

void col2im_cpu(float *data_col, int channels, int height, int width, int ksize, int stride,
                int pad, float *data_im)
{
    int height_col = (height + 2 * pad - ksize) / stride + 1;
    int width_col = (width + 2 * pad - ksize) / stride + 1;
    int channels_col = channels * ksize * ksize;
    for (int c = 0; c < channels_col; c++) {
        int w_offset = c % ksize, h_offset = (c / ksize) % ksize, c_im = c / ksize / ksize;
        int first, last;
        valid_columns(width, width_col, w_offset, stride, pad, &first, &last);
        for (int h = 0; h < height_col; h++) {
            int row = h_offset + h * stride - pad;
            if (row < 0 || row >= height)
                continue;
            const float *in = data_col + ((size_t)c * height_col + h) * width_col;
            float *out = data_im + ((size_t)c_im * height + row) * width + w_offset - pad;
            for (int w = first; w < last; w++)
                out[w * stride] += in[w];
        }
    }
}
