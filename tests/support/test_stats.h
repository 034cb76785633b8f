/* test_stats.h: exact tail probabilities for the statistical DP tests.
 *
 * A statistical test of a mechanism fails a correct implementation with
 * some probability; these functions compute that probability instead of
 * guessing a tolerance.  The chi-square tails come from the regularised
 * incomplete gamma function (P(a, x) by its power series below x = a + 1,
 * Q(a, x) by its continued fraction above), so the small tail is always
 * the one computed directly, with no cancellation.  Header-only (static
 * inline) so that any test program can include it without a CMake change. */
#ifndef P4_TEST_STATS_H
#define P4_TEST_STATS_H

#include <math.h>

/* P(a, x) = gamma(a, x) / Gamma(a), lower regularised, by the series
 * e^-x x^a / Gamma(a + 1) * sum_n x^n / ((a + 1) ... (a + n)). */
static inline double test_gamma_p_series(double a, double x)
{
    double term = 1.0, sum = 1.0;
    for (long n = 1; n < 100000000L; n++) {
        term *= x / (a + n);
        sum += term;
        if (term < sum * 1e-17)
            break;
    }
    return exp(-x + a * log(x) - lgamma(a + 1) + log(sum));
}

/* Q(a, x) = 1 - P(a, x), by the continued fraction
 * e^-x x^a / Gamma(a) * 1/(x + 1 - a - 1(1 - a)/(x + 3 - a - 2(2 - a)/(x + 5 - a - ...)))
 * evaluated with the modified Lentz method. */
static inline double test_gamma_q_fraction(double a, double x)
{
    const double tiny = 1e-300;
    double b = x + 1 - a, c = 1 / tiny, d = 1 / b, h = d;
    for (long i = 1; i < 100000000L; i++) {
        double an = -i * (i - a);
        b += 2;
        d = an * d + b;
        if (fabs(d) < tiny)
            d = tiny;
        c = b + an / c;
        if (fabs(c) < tiny)
            c = tiny;
        d = 1 / d;
        double step = d * c;
        h *= step;
        if (fabs(step - 1) < 1e-16)
            break;
    }
    return exp(-x + a * log(x) - lgamma(a) + log(h));
}

/* P(chi-square(k) <= x) and P(chi-square(k) >= x). */
static inline double test_chi_square_lower(double k, double x)
{
    double a = k / 2, h = x / 2;
    if (h <= 0)
        return 0;
    return h < a + 1 ? test_gamma_p_series(a, h) : 1 - test_gamma_q_fraction(a, h);
}

static inline double test_chi_square_upper(double k, double x)
{
    double a = k / 2, h = x / 2;
    if (h <= 0)
        return 1;
    return h < a + 1 ? 1 - test_gamma_p_series(a, h) : test_gamma_q_fraction(a, h);
}

/* Two-sided p-value of x against chi-square(k). */
static inline double test_chi_square_p(double k, double x)
{
    double lo = test_chi_square_lower(k, x), hi = test_chi_square_upper(k, x);
    double p = 2 * (lo < hi ? lo : hi);
    return p > 1 ? 1 : p;
}

/* Two-sided p-value of a standard normal z. */
static inline double test_normal_p(double z)
{
    return erfc(fabs(z) / sqrt(2.0));
}

/* qsort order for doubles (for medians). */
static inline int test_compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

#endif
