/* test_im2col.c: p4's interposed im2col_cpu/col2im_cpu give exactly what
 * darknet's own give, over kernel sizes, strides, paddings and odd shapes. */
#define _GNU_SOURCE
#include "support/test_support.h"

#include <darknet.h>
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include "model/darknet_helpers.h"

typedef void convert_fn(float *, int, int, int, int, int, int, float *);

static void matches_darknet(void **state)
{
    (void)state;
    convert_fn *ref_im2col = (convert_fn *)dlsym(RTLD_NEXT, "im2col_cpu");
    convert_fn *ref_col2im = (convert_fn *)dlsym(RTLD_NEXT, "col2im_cpu");
    if (!ref_im2col || !ref_col2im) TEST_SKIP("darknet's im2col_cpu is not reachable with dlsym");
    assert_true(ref_im2col != im2col_cpu);
    /* darknet's own calls resolve to p4's versions (exported by this binary). */
    assert_true(dlsym(RTLD_DEFAULT, "im2col_cpu") == (void *)im2col_cpu);
    assert_true(dlsym(RTLD_DEFAULT, "col2im_cpu") == (void *)col2im_cpu);
    const int shapes[][6] = { /* channels, height, width, ksize, stride, pad */
        {1, 28, 28, 3, 1, 1}, {3, 32, 32, 3, 1, 1}, {6, 14, 14, 3, 1, 1}, {2, 7, 9, 5, 1, 2},
        {2, 8, 8, 3, 2, 1},   {1, 9, 7, 2, 2, 0},   {3, 5, 5, 1, 1, 0},   {2, 6, 11, 3, 3, 2},
        {1, 4, 4, 5, 1, 2},   {4, 10, 10, 3, 1, 0},  {2, 1, 6, 3, 1, 1},   {1, 3, 1, 3, 1, 1},
        {1, 2, 2, 7, 1, 3},   {2, 5, 3, 5, 1, 2},
    };
    unsigned seed = 7;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int c = shapes[s][0], h = shapes[s][1], w = shapes[s][2], k = shapes[s][3];
        int stride = shapes[s][4], pad = shapes[s][5];
        int hc = (h + 2 * pad - k) / stride + 1, wc = (w + 2 * pad - k) / stride + 1;
        size_t nim = (size_t)c * h * w, ncol = (size_t)c * k * k * hc * wc;
        float *im = malloc(nim * sizeof(float)), *a = malloc(ncol * sizeof(float));
        float *b = malloc(ncol * sizeof(float)), *back_a = calloc(nim, sizeof(float));
        float *back_b = calloc(nim, sizeof(float));
        for (size_t i = 0; i < nim; i++) {
            seed = seed * 1103515245u + 12345u;
            im[i] = (float)((seed >> 8) % 2001) / 1000.0f - 1.0f;
        }
        memset(a, 0x7f, ncol * sizeof(float)); /* garbage: every cell must be written */
        memset(b, 0x7f, ncol * sizeof(float));
        im2col_cpu(im, c, h, w, k, stride, pad, a);
        ref_im2col(im, c, h, w, k, stride, pad, b);
        if (memcmp(a, b, ncol * sizeof(float)) != 0)
            fail_msg("im2col differs for shape %zu", s);
        /* col2im on any column image (not only an im2col's, whose padding
         * and wrapped cells are zero), added onto an image that holds
         * something: p4's may zero the cells darknet skips, so each gets
         * its own copy. */
        for (size_t i = 0; i < ncol; i++) {
            seed = seed * 1103515245u + 12345u;
            a[i] = b[i] = (float)((seed >> 8) % 2001) / 1000.0f - 1.0f;
        }
        for (size_t i = 0; i < nim; i++)
            back_a[i] = back_b[i] = 0.5f * im[i];
        col2im_cpu(a, c, h, w, k, stride, pad, back_a);
        ref_col2im(b, c, h, w, k, stride, pad, back_b);
        if (memcmp(back_a, back_b, nim * sizeof(float)) != 0)
            fail_msg("col2im differs for shape %zu", s);
        free(im); free(a); free(b); free(back_a); free(back_b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(matches_darknet) };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
