/* rdp_core.c: RDP of the Poisson-subsampled Gaussian mechanism.
 *
 * For an order alpha the mechanism's RDP is log(A_alpha) / (alpha - 1)
 * (Mironov, Talwar, Zhang 2019, "Renyi Differential Privacy of the Sampled
 * Gaussian Mechanism").  A_alpha is computed in log space:
 *   - integer alpha: the finite binomial sum (Sec. 3.3);
 *   - fractional alpha: the infinite series of Sec. 3.3 split at
 *     z0 = sigma^2 log(1/q - 1) + 1/2, summed until terms fall below e^-30;
 *     a term whose generalised binomial coefficient is negative is
 *     subtracted, exactly as Opacus does (the default), or added, which
 *     gives dp_accounting's newer, conservative upper bound.
 * RDP composes additively, so a history of phases is a per-order sum.
 * Freestanding (see rdp_core.h): the math comes in through p4_rdp_math. */
#include "dp/rdp_core.h"

#define RDP_INF (__builtin_inf())
#define RDP_SQRT2 1.41421356237309504880
#define RDP_PI 3.14159265358979323846

/* log(exp(a) + exp(b)) without overflow. */
static double log_add(const p4_rdp_math *m, double a, double b)
{
    double hi = a > b ? a : b, lo = a > b ? b : a;
    if (hi == -RDP_INF) return -RDP_INF;
    return hi + m->log1p(m->exp(lo - hi));
}

/* log(exp(a) - exp(b)) for a >= b; -inf when equal. */
static double log_sub(const p4_rdp_math *m, double a, double b)
{
    if (b == -RDP_INF) return a;
    if (a <= b) return -RDP_INF;
    return a + m->log1p(-m->exp(b - a));
}

/* log(erfc(x)); erfc underflows near x = 27, so large x uses the
 * asymptotic expansion erfc(x) ~ exp(-x^2)/(x sqrt(pi)) (1 - 1/(2x^2) + ...). */
static double log_erfc(const p4_rdp_math *m, double x)
{
    if (x < 25.0) return m->log(m->erfc(x));
    double r = 1.0 / (x * x);
    double series = 1.0 - 0.5 * r + 0.75 * r * r - 1.875 * r * r * r + 6.5625 * r * r * r * r;
    return -x * x - m->log(x) - 0.5 * m->log(RDP_PI) + m->log(series);
}

static double log_a_integer(const p4_rdp_math *m, double q, double sigma, long long alpha)
{
    double log_a = -RDP_INF;
    for (long long i = 0; i <= alpha; i++) {
        double log_coef = m->lgamma((double)alpha + 1) - m->lgamma((double)i + 1)
                        - m->lgamma((double)(alpha - i) + 1);
        double term = log_coef + (double)i * m->log(q) + (double)(alpha - i) * m->log1p(-q)
                    + ((double)i * (double)i - (double)i) / (2.0 * sigma * sigma);
        log_a = log_add(m, log_a, term);
    }
    return log_a;
}

static double log_a_fractional(const p4_rdp_math *m, double q, double alpha, double sigma,
                               p4_rdp_series series)
{
    double log_a0 = -RDP_INF, log_a1 = -RDP_INF;
    double z0 = sigma * sigma * m->log(1.0 / q - 1.0) + 0.5;
    /* The generalised binomial coefficient C(alpha, i), kept as a sign and a
     * log magnitude and updated by the ratio (alpha - i + 1) / i. */
    double log_coef = 0.0;
    int coef_sign = 1;
    for (long i = 0; i < 100000; i++) {
        if (i > 0) {
            double ratio = (alpha - (double)i + 1.0) / (double)i;
            if (ratio == 0.0) break; /* alpha integral after all: series ends */
            if (ratio < 0) coef_sign = -coef_sign;
            log_coef += m->log(ratio < 0 ? -ratio : ratio);
        }
        double j = alpha - (double)i;
        double log_t0 = log_coef + (double)i * m->log(q) + j * m->log1p(-q);
        double log_t1 = log_coef + j * m->log(q) + (double)i * m->log1p(-q);
        double log_e0 = m->log(0.5) + log_erfc(m, ((double)i - z0) / (RDP_SQRT2 * sigma));
        double log_e1 = m->log(0.5) + log_erfc(m, (z0 - j) / (RDP_SQRT2 * sigma));
        double log_s0 = log_t0 + ((double)i * (double)i - (double)i) / (2.0 * sigma * sigma) + log_e0;
        double log_s1 = log_t1 + (j * j - j) / (2.0 * sigma * sigma) + log_e1;
        if (coef_sign > 0 || series == P4_RDP_SERIES_CONSERVATIVE) {
            log_a0 = log_add(m, log_a0, log_s0);
            log_a1 = log_add(m, log_a1, log_s1);
        } else {
            log_a0 = log_sub(m, log_a0, log_s0);
            log_a1 = log_sub(m, log_a1, log_s1);
        }
        if ((log_s0 > log_s1 ? log_s0 : log_s1) < -30.0) break;
    }
    return log_add(m, log_a0, log_a1);
}

int p4_rdp_default_orders(double *orders, int max)
{
    if (!orders || max <= 0) return 0;
    int n = 0;
    for (int tenth = 11; tenth <= 109 && n < max; tenth++) orders[n++] = tenth / 10.0;
    for (int k = 12; k <= 63 && n < max; k++) orders[n++] = (double)k;
    return n;
}

double p4_rdp_core_step(const p4_rdp_math *m, double q, double sigma, double order,
                        p4_rdp_series series)
{
    if (q == 0.0) return 0.0;
    if (sigma == 0.0 || order == RDP_INF) return RDP_INF;
    if (q == 1.0) return order / (2.0 * sigma * sigma);
    if (order < 1e6 && order == (double)(long long)order)
        return log_a_integer(m, q, sigma, (long long)order) / (order - 1.0);
    return log_a_fractional(m, q, order, sigma, series) / (order - 1.0);
}

double p4_rdp_core_steps(const p4_rdp_math *m, double q, double sigma, long long steps,
                         double order, p4_rdp_series series)
{
    if (q == 0.0 || steps == 0) return 0.0;
    return p4_rdp_core_step(m, q, sigma, order, series) * (double)steps;
}

double p4_rdp_core_epsilon(const p4_rdp_math *m, const p4_dp_phase *phases, int nphases,
                           double delta, const double *orders, int norders,
                           double *best_order)
{
    double best = RDP_INF, best_alpha = orders[0];
    for (int k = 0; k < norders; k++) {
        double alpha = orders[k], rdp = 0.0;
        for (int p = 0; p < nphases; p++)
            rdp += p4_rdp_core_steps(m, phases[p].sample_rate, phases[p].noise_multiplier,
                                     phases[p].steps, alpha, P4_RDP_SERIES_OPACUS);
        /* Balle et al. 2020, Thm 21, as in Opacus's get_privacy_spent. */
        double eps = rdp - (m->log(delta) + m->log(alpha)) / (alpha - 1.0)
                   + m->log((alpha - 1.0) / alpha);
        if (eps < best) { best = eps; best_alpha = alpha; }
    }
    if (best_order) *best_order = best_alpha;
    return best < 0.0 ? 0.0 : best;
}
