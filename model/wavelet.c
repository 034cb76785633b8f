/* wavelet.c: the Morlet filter bank and pooling of wavelet.h. */
#include "model/wavelet.h"

#include <math.h>
#include <string.h>

#define L P4_WAVELET_ORIENTATIONS
#define MAX_SIDE 31 /* the cfg parser's largest kernel */

int p4_wavelet_filters_a(const p4_wavelet_shape *s)
{
    return s ? 4 * L * s->scales + s->channels : 0;
}

int p4_wavelet_filters_b(const p4_wavelet_shape *s)
{
    return s ? L * s->scales + s->channels : 0;
}

int p4_wavelet_scales_for(int filters_a, int channels, int *scales, p4_error *err)
{
    if (!scales || channels < 1 || filters_a <= channels || (filters_a - channels) % (4 * L))
        return p4_error_set(err, P4_EMODEL, "wavelet: %d filters over %d channels is not "
                            "4 x %d orientations x J scales + %d low-pass", filters_a, channels,
                            L, channels);
    *scales = (filters_a - channels) / (4 * L);
    return P4_OK;
}

/* One Morlet wavelet's real and imaginary parts (S x S each), zero-mean
 * and each of unit L2 norm. */
static void morlet(int size, int j, int l, double *re, double *im)
{
    double sigma = 0.8 * ldexp(1.0, j), xi = 0.75 * M_PI / ldexp(1.0, j);
    double slant = 4.0 / L, theta = M_PI * l / L, c = cos(theta), sn = sin(theta);
    double centre = (size - 1) / 2.0, env_sum = 0, re_sum = 0, im_sum = 0;
    int n = size * size;
    double env[MAX_SIDE * MAX_SIDE];
    for (int y = 0; y < size; y++)
        for (int x = 0; x < size; x++) {
            double u = x - centre, v = y - centre;
            double along = u * c + v * sn, across = -u * sn + v * c;
            int i = y * size + x;
            env[i] = exp(-(along * along + slant * slant * across * across) / (2 * sigma * sigma));
            re[i] = env[i] * cos(xi * along);
            im[i] = env[i] * sin(xi * along);
            env_sum += env[i];
            re_sum += re[i];
            im_sum += im[i];
        }
    double re_norm = 0, im_norm = 0;
    for (int i = 0; i < n; i++) {
        re[i] -= re_sum / env_sum * env[i]; /* Morlet's correction: no DC response */
        im[i] -= im_sum / env_sum * env[i];
        re_norm += re[i] * re[i];
        im_norm += im[i] * im[i];
    }
    for (int i = 0; i < n; i++) {
        re[i] = re_norm > 0 ? re[i] / sqrt(re_norm) : 0;
        im[i] = im_norm > 0 ? im[i] / sqrt(im_norm) : 0;
    }
}

static void gaussian(int size, int scales, double *phi)
{
    double sigma = 0.8 * ldexp(1.0, scales), centre = (size - 1) / 2.0, sum = 0;
    for (int y = 0; y < size; y++)
        for (int x = 0; x < size; x++) {
            double u = x - centre, v = y - centre;
            sum += phi[y * size + x] = exp(-(u * u + v * v) / (2 * sigma * sigma));
        }
    for (int i = 0; i < size * size; i++)
        phi[i] /= sum;
}

int p4_wavelet_fill(const p4_wavelet_shape *s, float *a, size_t a_count, float *b,
                    size_t b_count, p4_error *err)
{
    if (!s || !a || !b || s->channels < 1 || s->size < 1 || s->size > MAX_SIDE || s->scales < 1 ||
        s->scales > 6 || s->pool < 1)
        return p4_error_set(err, P4_EINVAL, "wavelet: bad shape");
    int C = s->channels, S = s->size, P = s->pool;
    int fa = p4_wavelet_filters_a(s), fb = p4_wavelet_filters_b(s);
    size_t kernel = (size_t)S * S, a_need = (size_t)fa * C * kernel + fa;
    size_t b_need = (size_t)fb * fa * P * P + fb;
    if (a_count != a_need || b_count != b_need)
        return p4_error_set(err, P4_EMODEL, "wavelet: layers of %zu and %zu floats, the shape "
                            "(%d channels, size %d, %d scales, pool %d) needs %zu and %zu",
                            a_count, b_count, C, S, s->scales, P, a_need, b_need);
    memset(a, 0, a_need * sizeof(float));
    memset(b, 0, b_need * sizeof(float));
    double re[MAX_SIDE * MAX_SIDE], im[MAX_SIDE * MAX_SIDE];
    for (int j = 0; j < s->scales; j++)
        for (int l = 0; l < L; l++) {
            morlet(S, j, l, re, im);
            int f = 4 * (j * L + l);
            for (int part = 0; part < 4; part++) {
                const double *w = part < 2 ? re : im;
                double sign = part % 2 ? -1.0 : 1.0;
                for (int c = 0; c < C; c++)
                    for (size_t i = 0; i < kernel; i++)
                        a[((size_t)(f + part) * C + c) * kernel + i] = (float)(sign * w[i] / C);
            }
        }
    gaussian(S, s->scales, re);
    for (int c = 0; c < C; c++) {
        int f = 4 * L * s->scales + c;
        for (size_t i = 0; i < kernel; i++)
            a[((size_t)f * C + c) * kernel + i] = (float)re[i];
    }
    /* Layer B: output o averages its inputs' P x P blocks. */
    float mean = 1.0f / (float)(P * P);
    for (int o = 0; o < fb; o++) {
        int first = o < L * s->scales ? 4 * o : 4 * L * s->scales + (o - L * s->scales);
        int count = o < L * s->scales ? 4 : 1;
        for (int in = first; in < first + count; in++)
            for (int i = 0; i < P * P; i++)
                b[((size_t)o * fa + in) * P * P + i] = mean;
    }
    return P4_OK;
}
