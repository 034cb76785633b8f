/* im2col.c: darknet's im2col_cpu and col2im_cpu, interposed (as gemm.c
 * interposes gemm) with versions that work a row at a time.
 *
 * darknet's own versions fetch every pixel through a bounds-checked helper;
 * for CNN1 that was over half of a training step (perf, 1 thread).  These
 * compute, once per output row, which columns fall inside the image, zero
 * (or skip) the padding, and copy (or add) the rest; stride-1 "same"
 * convolutions copy (or add) whole shifted planes.  The loops visit pixels
 * in darknet's order, so col2im's sums are bit-identical to darknet's
 * (tests/test_im2col.c checks both against the originals, fetched with
 * dlsym(RTLD_NEXT)). */
#include <darknet.h>
#include <string.h>

#include "model/darknet_helpers.h"

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

/* Output rows or columns of a convolution over `size` input rows or columns. */
static int col_extent(int size, int ksize, int stride, int pad)
{
    return (size + 2 * pad - ksize) / stride + 1;
}

/* Row c of the column matrix: input channel c_im at kernel offset
 * (h_offset, w_offset), in darknet's order. */
typedef struct {
    int c_im, h_offset, w_offset;
} kernel_tap;

static kernel_tap tap_of(int c, int ksize)
{
    return (kernel_tap){ c / ksize / ksize, (c / ksize) % ksize, c % ksize };
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

/* Shifts of a "same" stride-1 kernel tap (see im2col_same_stride1): the
 * rows [h0, h1) of the column image that read the input, the flat shift
 * dy W + dx, the columns that wrapped in from the neighbouring row, and the
 * flat range [first, last) to copy or add, clipped to the plane. */
typedef struct {
    int h0, h1, wrapped;
    long shift, first, last;
} same_shift;

static same_shift same_shift_of(kernel_tap tap, int height, int width, int pad)
{
    const int dx = tap.w_offset - pad, dy = tap.h_offset - pad;
    const long plane = (long)height * width;
    same_shift s;
    s.h0 = dy < 0 ? (-dy < height ? -dy : height) : 0;
    s.h1 = dy > 0 ? height - dy : height;
    if (s.h1 < s.h0) /* a kernel taller than the image: no row reads it */
        s.h1 = s.h0;
    s.wrapped = dx < 0 ? (-dx < width ? -dx : width) : (dx < width ? dx : width);
    s.shift = (long)dy * width + dx;
    s.first = (long)s.h0 * width;
    s.last = (long)s.h1 * width;
    if (s.first + s.shift < 0)
        s.first = -s.shift;
    if (s.last + s.shift > plane)
        s.last = plane - s.shift;
    return s;
}

/* The wrapped columns of rows [h0, h1) of one column-image row. */
static void zero_wrapped(float *out, same_shift s, int dx, int width)
{
    for (int h = s.h0; h < s.h1 && s.wrapped > 0; h++) {
        float *row = out + (size_t)h * width;
        zero_floats(dx > 0 ? row + width - s.wrapped : row, s.wrapped);
    }
}

/* Stride 1 with "same" padding: the output is as large as the input. */
static int is_same_stride1(int ksize, int stride, int pad)
{
    return stride == 1 && 2 * pad == ksize - 1;
}

/* Stride 1 with "same" padding (2 pad = ksize - 1, so the column image
 * is as large as the input): each row of the column matrix is the input
 * plane shifted by (dy, dx) = (ky - pad, kx - pad).  In flat indices that is
 * one contiguous copy, out[i] = in[i + dy W + dx], after which the dx
 * columns that wrapped around from the neighbouring row, and the |dy| rows
 * outside the image, are zeroed.  Three calls per kernel tap instead of a
 * few per output row: im2col was a quarter of a CNN1 DP step (perf). */
static void im2col_same_stride1(const float *data_im, int channels, int height, int width,
                                int ksize, int pad, float *data_col)
{
    const size_t plane = (size_t)height * width;
    for (int c = 0; c < channels * ksize * ksize; c++) {
        const kernel_tap tap = tap_of(c, ksize);
        const same_shift s = same_shift_of(tap, height, width, pad);
        const float *in = data_im + (size_t)tap.c_im * plane;
        float *out = data_col + (size_t)c * plane;
        /* Rows outside the image are zero; output [h0 W, h1 W) reads input
         * from (h0 + dy) W + dx on.  The few reads that would fall outside
         * the plane are wrapped columns, zeroed after, so they are skipped. */
        zero_floats(out, s.h0 * width);
        zero_floats(out + (size_t)s.h1 * width, (height - s.h1) * width);
        if (s.last > s.first)
            memcpy(out + s.first, in + s.first + s.shift,
                   (size_t)(s.last - s.first) * sizeof(float));
        zero_wrapped(out, s, tap.w_offset - pad, width);
    }
}

void im2col_cpu(float *data_im, int channels, int height, int width, int ksize, int stride,
                int pad, float *data_col)
{
    if (is_same_stride1(ksize, stride, pad)) {
        im2col_same_stride1(data_im, channels, height, width, ksize, pad, data_col);
        return;
    }
    const int height_col = col_extent(height, ksize, stride, pad);
    const int width_col = col_extent(width, ksize, stride, pad);
    for (int c = 0; c < channels * ksize * ksize; c++) {
        const kernel_tap tap = tap_of(c, ksize);
        int first, last;
        valid_columns(width, width_col, tap.w_offset, stride, pad, &first, &last);
        for (int h = 0; h < height_col; h++) {
            float *out = data_col + ((size_t)c * height_col + h) * width_col;
            int row = tap.h_offset + h * stride - pad;
            if (row < 0 || row >= height || first >= last) {
                zero_floats(out, width_col);
                continue;
            }
            const float *in = data_im + ((size_t)tap.c_im * height + row) * width;
            zero_floats(out, first);
            if (stride == 1) {
                const float *src = in + tap.w_offset - pad;
                for (int w = first; w < last; w++)
                    out[w] = src[w];
            } else {
                for (int w = first; w < last; w++)
                    out[w] = in[tap.w_offset + w * stride - pad];
            }
            zero_floats(out + last, width_col - last);
        }
    }
}

/* col2im's inverse of im2col_same_stride1: each tap's row is added back
 * shifted, as one flat loop.  The wrapped columns, which darknet skips, are
 * zeroed in data_col first (it is scratch: every caller, darknet's too,
 * passes the workspace it has just filled), so adding them adds +0.  Taps
 * are added in darknet's order, so the sums are darknet's. */
static void col2im_same_stride1(float *data_col, int channels, int height, int width, int ksize,
                                int pad, float *restrict data_im)
{
    const size_t plane = (size_t)height * width;
    for (int c = 0; c < channels * ksize * ksize; c++) {
        const kernel_tap tap = tap_of(c, ksize);
        const same_shift s = same_shift_of(tap, height, width, pad);
        float *restrict in = data_col + (size_t)c * plane;
        float *restrict out = data_im + (size_t)tap.c_im * plane;
        zero_wrapped(in, s, tap.w_offset - pad, width);
        for (long i = s.first; i < s.last; i++)
            out[i + s.shift] += in[i];
    }
}

void col2im_cpu(float *data_col, int channels, int height, int width, int ksize, int stride,
                int pad, float *data_im)
{
    if (is_same_stride1(ksize, stride, pad)) {
        col2im_same_stride1(data_col, channels, height, width, ksize, pad, data_im);
        return;
    }
    const int height_col = col_extent(height, ksize, stride, pad);
    const int width_col = col_extent(width, ksize, stride, pad);
    for (int c = 0; c < channels * ksize * ksize; c++) {
        const kernel_tap tap = tap_of(c, ksize);
        int first, last;
        valid_columns(width, width_col, tap.w_offset, stride, pad, &first, &last);
        for (int h = 0; h < height_col; h++) {
            int row = tap.h_offset + h * stride - pad;
            if (row < 0 || row >= height)
                continue;
            const float *in = data_col + ((size_t)c * height_col + h) * width_col;
            float *out = data_im + ((size_t)tap.c_im * height + row) * width + tap.w_offset - pad;
            for (int w = first; w < last; w++)
                out[w * stride] += in[w];
        }
    }
}
