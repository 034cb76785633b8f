/* fs_math.c: exp, log, log1p, sqrt, erfc and integer lgamma without libm.
 *
 * Methods (textbook, e.g. Muller, "Elementary Functions"):
 *   exp   x = k ln2 + r, |r| <= ln2/2 (ln2 split so k*LN2_HI is exact),
 *         e^r by its Taylor series to degree 14, then scaled by 2^k;
 *   log   x = 2^e m, m in [sqrt(1/2), sqrt(2)), log m = 2 atanh(s) with
 *         s = (m-1)/(m+1), |s| < 0.172, by its odd series;
 *   log1p the same series on s = x/(2+x) for small |x| (no rounding of 1+x);
 *   sqrt  Newton's iteration from a halved exponent;
 *   erfc  x <= 1: 1 - erf(x), with erf's series of positive terms
 *         erf x = 2/sqrt(pi) e^-x^2 sum (2x^2)^n x / (1*3*...*(2n+1));
 *         x > 1: Laplace's continued fraction, evaluated by Lentz's method;
 *         x < 0: 2 - erfc(-x).
 * Freestanding: bit access through a union, no headers but <stdint.h>. */
#include "common/fs_math.h"

#include <stdint.h>

#define LN2_HI 6.93147180369123816490e-01  /* ln 2, top 33 bits     */
#define LN2_LO 1.90821492927058770002e-10  /* ln 2 - LN2_HI         */
#define INV_LN2 1.44269504088896338700e+00
#define SQRT2 1.41421356237309514547
#define INV_SQRT_PI 0.56418958354775628695

typedef union {
    double d;
    uint64_t u;
} bits64;

static double from_bits(uint64_t u)
{
    bits64 b;
    b.u = u;
    return b.d;
}

static uint64_t to_bits(double d)
{
    bits64 b;
    b.d = d;
    return b.u;
}

double p4_fs_inf(void) { return from_bits(0x7FF0000000000000ull); }
double p4_fs_nan(void) { return from_bits(0x7FF8000000000000ull); }

int p4_fs_isfinite(double x)
{
    return (to_bits(x) & 0x7FF0000000000000ull) != 0x7FF0000000000000ull;
}

/* 2^k for k in [-1022, 1023]. */
static double pow2(int k)
{
    return from_bits((uint64_t)(k + 1023) << 52);
}

double p4_fs_exp(double x)
{
    if (x != x) return x;
    if (x > 709.782712893383973096) return p4_fs_inf();
    if (x < -745.13321910194110842) return 0.0;
    int k = (int)(x * INV_LN2 + (x >= 0 ? 0.5 : -0.5));
    double r = (x - k * LN2_HI) - k * LN2_LO;
    /* e^r = 1 + r(1 + r/2(1 + r/3(...))), Horner from degree 14 down. */
    double p = 1.0;
    for (int n = 14; n >= 1; n--)
        p = 1.0 + p * r / n;
    if (k > 1023) return p * pow2(1023) * 2.0;
    if (k < -1021) return p * pow2(k + 60) * pow2(-60);
    return p * pow2(k);
}

/* log(m) for m near 1 as 2 atanh(s), s = f / (2 + f), f = m - 1. */
static double log_near_one(double f)
{
    double s = f / (2.0 + f), s2 = s * s;
    double sum = 0.0;
    for (int n = 25; n >= 3; n -= 2)
        sum = (sum + 1.0 / n) * s2;
    return 2.0 * s + 2.0 * s * sum;
}

double p4_fs_log(double x)
{
    uint64_t u = to_bits(x);
    if (x != x || (u >> 63 && (u << 1) != 0)) return p4_fs_nan();
    if ((u << 1) == 0) return -p4_fs_inf();
    if (!p4_fs_isfinite(x)) return x;
    /* Exponent and mantissa from the bits, so subnormals work also where
     * the FPU treats them as zero (denormals-are-zero mode). */
    int e = (int)((u >> 52) & 0x7FF);
    uint64_t mant = u & 0x000FFFFFFFFFFFFFull;
    if (e == 0) {
        e = 1;
        while (!(mant & 0x0010000000000000ull)) {
            mant <<= 1;
            e--;
        }
        mant &= 0x000FFFFFFFFFFFFFull;
    }
    e -= 1023;
    double m = from_bits(mant | 0x3FF0000000000000ull);
    if (m > SQRT2) {
        m *= 0.5;
        e += 1;
    }
    double lm = log_near_one(m - 1.0); /* m - 1 is exact here */
    return e * LN2_HI + (e * LN2_LO + lm);
}

double p4_fs_log1p(double x)
{
    if (x != x || x < -1.0) return p4_fs_nan();
    if (x == -1.0) return -p4_fs_inf();
    if (x > -0.2928 && x < 0.4142)
        return log_near_one(x);
    double u = 1.0 + x;
    /* log(1 + x) = log(u) + log(1 + (x - (u - 1)) / u): u's rounding. */
    return p4_fs_log(u) + (x - (u - 1.0)) / u;
}

double p4_fs_sqrt(double x)
{
    if (x != x || x < 0) return p4_fs_nan();
    if (x == 0 || !p4_fs_isfinite(x)) return x;
    double scale = 1.0;
    if (x < 1e-300) { /* keep the estimate and the iterates normal */
        x *= 1.2676506002282294e30; /* 2^100 */
        scale = 8.8817841970012523e-16; /* 2^-50 */
    }
    double y = from_bits((to_bits(x) >> 1) + 0x1FF8000000000000ull);
    for (int i = 0; i < 6; i++)
        y = 0.5 * (y + x / y);
    /* Newton from above settles within an ulp; pick the closer neighbour. */
    double lo = from_bits(to_bits(y) - 1), hi = from_bits(to_bits(y) + 1);
    double err = y * y - x, err_lo = lo * lo - x, err_hi = hi * hi - x;
    if (err_lo < 0) err_lo = -err_lo;
    if (err_hi < 0) err_hi = -err_hi;
    if (err < 0) err = -err;
    if (err_lo < err) { y = lo; err = err_lo; }
    if (err_hi < err) y = hi;
    return y * scale;
}

/* e^(-x^2) with x^2 split as xh^2 (exact: xh has 26 bits) + xl (x + xh),
 * so the rounding of x^2 does not cost accuracy when x^2 is large. */
static double exp_minus_square(double x)
{
    double xh = from_bits(to_bits(x) & 0xFFFFFFFFF8000000ull), xl = x - xh;
    return p4_fs_exp(-xh * xh) * p4_fs_exp(-xl * (x + xh));
}

/* erf(x) for 0 <= x <= 1 by the series of positive terms. */
static double erf_series(double x)
{
    double x2 = 2.0 * x * x, term = x, sum = x;
    for (int n = 1; n < 200; n++) {
        term *= x2 / (2 * n + 1);
        sum += term;
        if (term < sum * 1e-17) break;
    }
    return 2.0 * INV_SQRT_PI * exp_minus_square(x) * sum;
}

/* erfc(x) for x > 1: e^-x^2 / sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))),
 * by the modified Lentz method. */
static double erfc_fraction(double x)
{
    const double tiny = 1e-300;
    double f = x, c = x, d = 0.0;
    for (int n = 1; n < 5000; n++) {
        double a = 0.5 * n;
        d = x + a * d;
        if (d == 0) d = tiny;
        c = x + a / c;
        if (c == 0) c = tiny;
        d = 1.0 / d;
        double delta = c * d;
        f *= delta;
        double off = delta - 1.0;
        if (off < 0) off = -off;
        if (off < 1e-16) break;
    }
    return INV_SQRT_PI * exp_minus_square(x) / f;
}

double p4_fs_erfc(double x)
{
    if (x != x) return x;
    if (x < 0) return 2.0 - p4_fs_erfc(-x);
    if (x > 27.3) return 0.0;
    if (x <= 1.0) return 1.0 - erf_series(x);
    return erfc_fraction(x);
}

double p4_fs_lgamma_int(double x)
{
    if (!(x >= 1.0) || x > 9007199254740992.0 || x != (double)(int64_t)x)
        return p4_fs_nan();
    double n = x - 1.0; /* log(n!) */
    if (n < 64.0) {
        double sum = 0.0;
        for (int k = 2; k <= (int)n; k++)
            sum += p4_fs_log((double)k);
        return sum;
    }
    /* Stirling's series; the next term, 1/(1188 n^9), is below 1e-19 here. */
    double inv = 1.0 / n, inv2 = inv * inv;
    double series = inv * (1.0 / 12 - inv2 * (1.0 / 360 - inv2 * (1.0 / 1260 - inv2 / 1680)));
    return n * p4_fs_log(n) - n + 0.5 * p4_fs_log(2.0 * 3.14159265358979323846 * n) + series;
}
