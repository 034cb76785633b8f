/* test_conv_backward.c: one example's products of a convolution
 * (model/conv.h) against the convolution summed in double, straight from
 * its definition: the forward through the shifted copies
 * (model/conv_same.h; also bit for bit against im2col's route), the input delta through the flipped weights (a same
 * convolution of the deltas, model/conv_same.h) and through darknet's
 * im2col route, and the weight gradient (the long-column col x delta^T
 * product included), stored (beta 0) and added (beta 1).  Shapes: CNN1's
 * and LeNet-5's second layers, non-square images, 5x5 kernels, 1 and 16
 * input channels, 16, 20 and 64 filters. */
#include "support/test_support.h"

#include <darknet.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/conv.h"
#include "model/conv_same.h"
#include "model/darknet_helpers.h"
#include "model/small_gemm.h"

typedef struct {
    int h, w, c, n, size, pad;
} shape;

static float value(unsigned *seed)
{
    *seed = *seed * 1664525u + 1013904223u;
    return (float)(*seed >> 8) / 16777216.0f * 2.0f - 1.0f;
}

/* The input pixel a tap reads, or 0 in the padding. */
static double pixel(const layer *l, const float *x, int c, int y, int xx)
{
    if (y < 0 || y >= l->h || xx < 0 || xx >= l->w)
        return 0.0;
    return x[((size_t)c * l->h + y) * l->w + xx];
}

/* dx[c][y][x] = sum over filters and taps of w * delta, from the forward's
 * definition out[f][oy][ox] = sum w[f][c][ky][kx] in[c][oy - pad + ky][ox - pad + kx]. */
static void input_delta_in_double(const layer *l, const float *delta, double *dx)
{
    memset(dx, 0, (size_t)l->c * l->h * l->w * sizeof(double));
    for (int f = 0; f < l->n; f++)
        for (int oy = 0; oy < l->out_h; oy++)
            for (int ox = 0; ox < l->out_w; ox++) {
                double d = delta[((size_t)f * l->out_h + oy) * l->out_w + ox];
                for (int c = 0; c < l->c; c++)
                    for (int ky = 0; ky < l->size; ky++)
                        for (int kx = 0; kx < l->size; kx++) {
                            int y = oy - l->pad + ky, x = ox - l->pad + kx;
                            if (y < 0 || y >= l->h || x < 0 || x >= l->w)
                                continue;
                            dx[((size_t)c * l->h + y) * l->w + x] +=
                                d * l->weights[(((size_t)f * l->c + c) * l->size + ky) * l->size + kx];
                        }
            }
}

static double weight_gradient_in_double(const layer *l, const float *x, const float *delta, int f,
                                        int c, int ky, int kx)
{
    double sum = 0;
    for (int oy = 0; oy < l->out_h; oy++)
        for (int ox = 0; ox < l->out_w; ox++)
            sum += (double)delta[((size_t)f * l->out_h + oy) * l->out_w + ox] *
                   pixel(l, x, c, oy - l->pad + ky, ox - l->pad + kx);
    return sum;
}

static double forward_in_double(const layer *l, const float *x, int f, int oy, int ox)
{
    double sum = 0;
    for (int c = 0; c < l->c; c++)
        for (int ky = 0; ky < l->size; ky++)
            for (int kx = 0; kx < l->size; kx++)
                sum += (double)l->weights[(((size_t)f * l->c + c) * l->size + ky) * l->size + kx] *
                       pixel(l, x, c, oy - l->pad + ky, ox - l->pad + kx);
    return sum;
}

/* The weight gradient as before the shifted copies: im2col, then the same
 * products on the column image (dots for short columns, col delta^T for
 * long ones), which the copies' route must equal bit for bit. */
static void weight_gradient_by_im2col(const layer *l, const float *x, const float *delta,
                                      float *col, float *g)
{
    const int k = l->size * l->size * l->c, n = l->out_h * l->out_w;
    im2col_cpu((float *)x, l->c, l->h, l->w, l->size, l->stride, l->pad, col);
    if (k <= P4_SMALL_GEMM_MAX_K) {
        p4_gemm_dots(l->n, k, n, delta, n, col, n, 0.0f, g, k);
        return;
    }
    float *delta_t = malloc((size_t)n * l->n * sizeof(float));
    float *g_t = malloc((size_t)k * l->n * sizeof(float));
    assert_non_null(delta_t && g_t);
    for (int f = 0; f < l->n; f++)
        for (int p = 0; p < n; p++)
            delta_t[(size_t)p * l->n + f] = delta[(size_t)f * n + p];
    p4_gemm_few_rows(k, l->n, n, col, n, delta_t, l->n, g_t, l->n);
    for (int f = 0; f < l->n; f++)
        for (int j = 0; j < k; j++)
            g[(size_t)f * k + j] = g_t[(size_t)j * l->n + f];
    free(delta_t);
    free(g_t);
}

/* terms: how many products of values in [-1, 1] the sum has. */
static void check_close(double want, float got, double terms, const char *what, int i)
{
    if (!(fabs(want - got) <= 1e-6 * terms + 1e-6)) /* NaN fails too */
        fail_msg("%s %d: %.9g, in double %.9g", what, i, got, want);
}

/* How many shapes took the shifted copies' forward and weight gradient. */
static int forwards_checked, gradients_checked;

static void one_shape(const shape *s, int expect_flipped)
{
    layer l;
    memset(&l, 0, sizeof l);
    l.h = s->h;
    l.w = s->w;
    l.c = s->c;
    l.n = s->n;
    l.size = s->size;
    l.pad = s->pad;
    l.stride = 1;
    l.groups = 1;
    l.out_h = l.h + 2 * l.pad - l.size + 1;
    l.out_w = l.w + 2 * l.pad - l.size + 1;
    l.nweights = l.n * l.c * l.size * l.size;
    const size_t image = (size_t)l.c * l.h * l.w, out = (size_t)l.n * l.out_h * l.out_w;
    const int k = l.size * l.size * l.c;
    const size_t col = (size_t)k * l.out_h * l.out_w;
    unsigned seed = (unsigned)(s->h * 131 + s->c * 17 + s->n);
    l.weights = malloc((size_t)l.nweights * sizeof(float));
    float *x = malloc(image * sizeof(float)), *delta = malloc(out * sizeof(float));
    float *scratch = malloc(col * sizeof(float)), *g = malloc((size_t)l.nweights * sizeof(float));
    float *dx = malloc(image * sizeof(float));
    double *want = malloc(image * sizeof(double));
    assert_non_null(l.weights && x && delta && scratch && g && dx && want);
    for (int i = 0; i < l.nweights; i++) l.weights[i] = value(&seed);
    for (size_t i = 0; i < image; i++) x[i] = value(&seed);
    for (size_t i = 0; i < out; i++) delta[i] = value(&seed);

    /* Input delta, both routes, added onto what dx holds (as col2im adds). */
    input_delta_in_double(&l, delta, want);
    float *flipped = p4_conv_flipped_weights_new(&l);
    assert_int_equal(flipped != NULL, expect_flipped);
    for (int route = 0; route < 2; route++) {
        for (size_t i = 0; i < image; i++) dx[i] = (float)(i % 3);
        p4_conv_input_delta(&l, route ? flipped : NULL, delta, scratch, dx);
        for (size_t i = 0; i < image; i++)
            check_close(want[i] + (double)(i % 3), dx[i], (double)l.n * l.size * l.size + 3,
                        "input delta", (int)i);
    }
    free(flipped);

    /* The forward product through the shifted copies, where it applies:
     * against the sum in double, and bit for bit against im2col and the
     * same few-rows product. */
    const int n_out = l.out_h * l.out_w;
    float *y = malloc(out * sizeof(float)), *y_col = malloc(out * sizeof(float));
    float *g_col = malloc((size_t)l.nweights * sizeof(float));
    assert_non_null(y && y_col && g_col);
    if (p4_conv_same_applies(&l, col)) {
        p4_conv_same_forward(&l, x, scratch, y);
        for (int f = 0; f < l.n; f++)
            for (int oy = 0; oy < l.out_h; oy++)
                for (int ox = 0; ox < l.out_w; ox++) {
                    const int i = (f * l.out_h + oy) * l.out_w + ox;
                    check_close(forward_in_double(&l, x, f, oy, ox), y[i], k, "forward", i);
                }
        im2col_cpu(x, l.c, l.h, l.w, l.size, l.stride, l.pad, scratch);
        p4_gemm_few_rows(l.n, n_out, k, l.weights, k, scratch, n_out, y_col, n_out);
        assert_memory_equal(y, y_col, out * sizeof(float));
        forwards_checked++;
    }

    /* Weight gradient, stored and added. */
    for (int beta = 0; beta <= 1; beta++) {
        for (int i = 0; i < l.nweights; i++) g[i] = beta ? (float)(i % 5) : NAN;
        p4_conv_example_weight_gradient(&l, x, delta, scratch, (float)beta, g);
        int i = 0;
        for (int f = 0; f < l.n; f++)
            for (int c = 0; c < l.c; c++)
                for (int ky = 0; ky < l.size; ky++)
                    for (int kx = 0; kx < l.size; kx++, i++)
                        check_close(weight_gradient_in_double(&l, x, delta, f, c, ky, kx) +
                                        (beta ? (double)(i % 5) : 0.0),
                                    g[i], (double)l.out_h * l.out_w + 5, "weight gradient", i);
    }
    if (p4_conv_same_rows_apply(&l, col) &&
        (k <= P4_SMALL_GEMM_MAX_K || (l.n >= 16 && l.n <= 64))) {
        p4_conv_example_weight_gradient(&l, x, delta, scratch, 0.0f, g);
        weight_gradient_by_im2col(&l, x, delta, scratch, g_col);
        assert_memory_equal(g, g_col, (size_t)l.nweights * sizeof(float));
        gradients_checked++;
    }
    free(y);
    free(y_col);
    free(g_col);
    free(l.weights);
    free(x);
    free(delta);
    free(scratch);
    free(g);
    free(dx);
    free(want);
}

/* Stride-1 same layers: the input delta goes through the flipped weights. */
static void same_layers(void **state)
{
    (void)state;
    const shape shapes[] = {
        { 14, 14, 6, 16, 3, 1 }, /* CNN1's second layer, 28x28 inputs */
        { 16, 16, 6, 16, 3, 1 }, /* the same, 32x32 inputs */
        { 7, 11, 3, 5, 3, 1 },   /* non-square, few filters */
        { 9, 6, 16, 20, 3, 1 },  /* 16 input channels (the most), 20 filters */
        { 8, 10, 2, 6, 5, 2 },   /* 5x5 */
        { 28, 28, 1, 6, 3, 1 },  /* CNN1's first layer */
        { 4, 3, 2, 6, 5, 2 },    /* 5x5 on rows of 3: |dx| = 2 wraps */
        { 1, 5, 3, 4, 3, 1 },    /* one row */
    };
    forwards_checked = gradients_checked = 0;
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        one_shape(&shapes[i], 1);
    /* All but the 16-channel one (20 filters) take the copies forward; all
     * but the two 5x5 ones of 2 channels (50 taps, 6 filters: OpenBLAS)
     * their gradient. */
    assert_int_equal(forwards_checked, 7);
    assert_int_equal(gradients_checked, 6);
}

/* Not same (no padding), more than 16 input channels, or too many taps:
 * darknet's route
 * for the input delta; the weight gradient's products as they fall. */
static void other_layers(void **state)
{
    (void)state;
    const shape shapes[] = {
        { 14, 14, 6, 16, 5, 0 }, /* LeNet-5's second layer */
        { 6, 8, 17, 16, 3, 1 },  /* 17 input channels */
        { 8, 8, 4, 32, 3, 0 },   /* 32 filters, no padding */
        { 5, 5, 1, 64, 3, 1 },   /* same, but 9 x 64 taps of the deltas: too many */
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        one_shape(&shapes[i], 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(same_layers),
        cmocka_unit_test(other_layers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
