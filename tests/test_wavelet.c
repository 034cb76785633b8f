/* test_wavelet: the fixed front end of [model] proxy_projection = wavelet
 * (model/wavelet.c).
 *   - every band-pass filter (Re and Im, on the luminance) has zero mean and
 *     unit L2 norm; each - part is the + part negated; the low-pass filters
 *     read only their own channel and sum to 1;
 *   - orientation: a grating at angle theta_l, at scale j's frequency,
 *     gives the largest |Re| + |Im| energy in filter (j, l);
 *   - the pool layer averages exactly the four parts of one orientation (or
 *     one low-pass channel) over P x P;
 *   - filter counts that fit no scale count, and wrong sizes, are refused. */
#include "support/test_support.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/wavelet.h"

#define L P4_WAVELET_ORIENTATIONS

typedef struct bank {
    p4_wavelet_shape shape;
    int fa, fb;
    size_t a_count, b_count;
    float *a, *b;
} bank;

static void bank_make(bank *k, int channels, int size, int scales, int pool)
{
    k->shape = (p4_wavelet_shape){ .channels = channels, .size = size, .scales = scales,
                                   .pool = pool };
    k->fa = p4_wavelet_filters_a(&k->shape);
    k->fb = p4_wavelet_filters_b(&k->shape);
    k->a_count = (size_t)k->fa * channels * size * size + k->fa;
    k->b_count = (size_t)k->fb * k->fa * pool * pool + k->fb;
    k->a = malloc(k->a_count * sizeof(float));
    k->b = malloc(k->b_count * sizeof(float));
    assert_non_null(k->a);
    assert_non_null(k->b);
    p4_error err = {0};
    if (p4_wavelet_fill(&k->shape, k->a, k->a_count, k->b, k->b_count, &err) != P4_OK)
        fail_msg("fill: %s", err.message);
}

static void bank_free(bank *k)
{
    free(k->a);
    free(k->b);
}

/* Filter f's weight for channel c at (y, x). */
static double w_at(const bank *k, int f, int c, int y, int x)
{
    int s = k->shape.size;
    return k->a[(((size_t)f * k->shape.channels + c) * s + y) * s + x];
}

static void test_band_pass_zero_mean_unit_norm(void **state)
{
    (void)state;
    int channels[] = { 1, 3 };
    for (int t = 0; t < 2; t++) {
        bank k;
        bank_make(&k, channels[t], 11, 2, 2);
        int S = k.shape.size, C = k.shape.channels;
        for (int f = 0; f < 4 * L * k.shape.scales; f++) {
            double sum = 0, sq = 0;
            for (int y = 0; y < S; y++)
                for (int x = 0; x < S; x++) {
                    double lum = 0; /* the filter on the luminance: the sum over channels */
                    for (int c = 0; c < C; c++) {
                        lum += w_at(&k, f, c, y, x);
                        if (fabs(w_at(&k, f, c, y, x) - w_at(&k, f, 0, y, x)) > 1e-7)
                            fail_msg("filter %d is not the same on every channel", f);
                    }
                    sum += lum;
                    sq += lum * lum;
                    if (f % 2 == 1 && fabs(w_at(&k, f, 0, y, x) + w_at(&k, f - 1, 0, y, x)) > 1e-7)
                        fail_msg("filter %d is not filter %d negated", f, f - 1);
                }
            if (fabs(sum) > 1e-5)
                fail_msg("band-pass filter %d (C = %d) sums to %g", f, C, sum);
            if (fabs(sq - 1.0) > 1e-5)
                fail_msg("band-pass filter %d (C = %d) has squared norm %g", f, C, sq);
        }
        for (int c = 0; c < C; c++) {
            int f = 4 * L * k.shape.scales + c;
            for (int d = 0; d < C; d++) {
                double sum = 0;
                for (int y = 0; y < S; y++)
                    for (int x = 0; x < S; x++) {
                        sum += w_at(&k, f, d, y, x);
                        if (w_at(&k, f, d, y, x) < 0)
                            fail_msg("low-pass %d has a negative weight", c);
                    }
                if (fabs(sum - (c == d)) > 1e-5)
                    fail_msg("low-pass of channel %d sums to %g on channel %d", c, sum, d);
            }
        }
        for (int f = 0; f < k.fa; f++)
            assert_true(k.a[k.a_count - k.fa + f] == 0.0f);
        bank_free(&k);
    }
}

/* |Re| + |Im| energy of filter (j, l) over the valid positions of a
 * grating image at angle theta and angular frequency xi. */
static double energy(const bank *k, int j, int l, double theta, double xi)
{
    enum { N = 40 };
    int S = k->shape.size;
    double img[N][N], total = 0;
    for (int y = 0; y < N; y++)
        for (int x = 0; x < N; x++)
            img[y][x] = 0.5 + 0.5 * cos(xi * (x * cos(theta) + y * sin(theta)) + 0.3);
    for (int y0 = 0; y0 + S <= N; y0++)
        for (int x0 = 0; x0 + S <= N; x0++) {
            int f = 4 * (j * L + l);
            double re = 0, im = 0;
            for (int y = 0; y < S; y++)
                for (int x = 0; x < S; x++) {
                    re += w_at(k, f, 0, y, x) * img[y0 + y][x0 + x];
                    im += w_at(k, f + 2, 0, y, x) * img[y0 + y][x0 + x];
                }
            /* what relu of the four parts, summed by the pool, gives */
            total += fmax(re, 0) + fmax(-re, 0) + fmax(im, 0) + fmax(-im, 0);
        }
    return total;
}

static void test_grating_peaks_at_its_orientation(void **state)
{
    (void)state;
    bank k;
    bank_make(&k, 1, 11, 2, 2);
    for (int j = 0; j < 2; j++)
        for (int g = 0; g < L; g++) {
            double theta = M_PI * g / L, xi = 0.75 * M_PI / (1 << j);
            int best = -1;
            double best_e = -1, e[L];
            for (int l = 0; l < L; l++) {
                e[l] = energy(&k, j, l, theta, xi);
                if (e[l] > best_e) {
                    best_e = e[l];
                    best = l;
                }
            }
            if (best != g)
                fail_msg("scale %d: a grating at %d/%d pi peaks in orientation %d (%g against %g)",
                         j, g, L, best, e[best], e[g]);
            /* and clearly: the orthogonal orientation responds much less */
            if (e[(g + L / 2) % L] > 0.5 * e[g])
                fail_msg("scale %d orientation %d: orthogonal energy %g against %g", j, g,
                         e[(g + L / 2) % L], e[g]);
        }
    bank_free(&k);
}

static void test_pool_averages_one_orientation(void **state)
{
    (void)state;
    bank k;
    bank_make(&k, 3, 7, 1, 3);
    int P = k.shape.pool, band = L * k.shape.scales;
    for (int o = 0; o < k.fb; o++)
        for (int in = 0; in < k.fa; in++) {
            int mine = o < band ? in / 4 == o : in == 4 * band + (o - band);
            for (int i = 0; i < P * P; i++) {
                float v = k.b[((size_t)o * k.fa + in) * P * P + i];
                if (v != (mine ? 1.0f / (P * P) : 0.0f))
                    fail_msg("pool output %d, input %d: weight %g", o, in, v);
            }
        }
    for (int o = 0; o < k.fb; o++)
        assert_true(k.b[k.b_count - k.fb + o] == 0.0f);
    bank_free(&k);
}

static void test_bad_shapes_refused(void **state)
{
    (void)state;
    int scales = 0;
    p4_error err = {0};
    assert_int_equal(p4_wavelet_scales_for(65, 1, &scales, &err), P4_OK);
    assert_int_equal(scales, 2);
    assert_int_equal(p4_wavelet_scales_for(35, 3, &scales, &err), P4_OK);
    assert_int_equal(scales, 1);
    assert_int_equal(p4_wavelet_scales_for(64, 1, &scales, &err), P4_EMODEL);
    assert_int_equal(p4_wavelet_scales_for(3, 3, &scales, &err), P4_EMODEL);
    p4_wavelet_shape s = { .channels = 1, .size = 5, .scales = 1, .pool = 2 };
    float a[33 * 25 + 33], b[9 * 33 * 4 + 9];
    assert_int_equal(p4_wavelet_fill(&s, a, sizeof a / sizeof a[0], b, sizeof b / sizeof b[0],
                                     &err), P4_OK);
    assert_int_equal(p4_wavelet_fill(&s, a, sizeof a / sizeof a[0] - 1, b,
                                     sizeof b / sizeof b[0], &err), P4_EMODEL);
    s.size = 0;
    assert_int_equal(p4_wavelet_fill(&s, a, sizeof a / sizeof a[0], b, sizeof b / sizeof b[0],
                                     &err), P4_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_band_pass_zero_mean_unit_norm),
        cmocka_unit_test(test_grating_peaks_at_its_orientation),
        cmocka_unit_test(test_pool_averages_one_orientation),
        cmocka_unit_test(test_bad_shapes_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
