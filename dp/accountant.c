/* accountant.c: RDP of the Poisson-subsampled Gaussian mechanism.
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
 * RDP composes additively, so a history of phases is a per-order sum. */
#include "dp/accountant.h"

#include <math.h>
#include <stddef.h>

/* log(exp(a) + exp(b)) without overflow. */
static double log_add(double a, double b)
{
    double hi = a > b ? a : b, lo = a > b ? b : a;
    if (hi == -INFINITY) return -INFINITY;
    return hi + log1p(exp(lo - hi));
}

/* log(exp(a) - exp(b)) for a >= b; -inf when equal. */
static double log_sub(double a, double b)
{
    if (b == -INFINITY) return a;
    if (a <= b) return -INFINITY;
    return a + log1p(-exp(b - a));
}

/* log(erfc(x)); erfc underflows near x = 27, so large x uses the
 * asymptotic expansion erfc(x) ~ exp(-x^2)/(x sqrt(pi)) (1 - 1/(2x^2) + ...). */
static double log_erfc(double x)
{
    if (x < 25.0) return log(erfc(x));
    double r = 1.0 / (x * x);
    double series = 1.0 - 0.5 * r + 0.75 * r * r - 1.875 * r * r * r + 6.5625 * r * r * r * r;
    return -x * x - log(x) - 0.5 * log(M_PI) + log(series);
}

static double log_a_integer(double q, double sigma, long long alpha)
{
    double log_a = -INFINITY;
    for (long long i = 0; i <= alpha; i++) {
        double log_coef = lgamma((double)alpha + 1) - lgamma((double)i + 1)
                        - lgamma((double)(alpha - i) + 1);
        double term = log_coef + (double)i * log(q) + (double)(alpha - i) * log1p(-q)
                    + ((double)i * (double)i - (double)i) / (2.0 * sigma * sigma);
        log_a = log_add(log_a, term);
    }
    return log_a;
}

static double log_a_fractional(double q, double alpha, double sigma, p4_rdp_series series)
{
    double log_a0 = -INFINITY, log_a1 = -INFINITY;
    double z0 = sigma * sigma * log(1.0 / q - 1.0) + 0.5;
    /* The generalised binomial coefficient C(alpha, i), kept as a sign and a
     * log magnitude and updated by the ratio (alpha - i + 1) / i. */
    double log_coef = 0.0;
    int coef_sign = 1;
    for (long i = 0; i < 100000; i++) {
        if (i > 0) {
            double ratio = (alpha - (double)i + 1.0) / (double)i;
            if (ratio == 0.0) break; /* alpha integral after all: series ends */
            if (ratio < 0) coef_sign = -coef_sign;
            log_coef += log(fabs(ratio));
        }
        double j = alpha - (double)i;
        double log_t0 = log_coef + (double)i * log(q) + j * log1p(-q);
        double log_t1 = log_coef + j * log(q) + (double)i * log1p(-q);
        double log_e0 = log(0.5) + log_erfc(((double)i - z0) / (M_SQRT2 * sigma));
        double log_e1 = log(0.5) + log_erfc((z0 - j) / (M_SQRT2 * sigma));
        double log_s0 = log_t0 + ((double)i * (double)i - (double)i) / (2.0 * sigma * sigma) + log_e0;
        double log_s1 = log_t1 + (j * j - j) / (2.0 * sigma * sigma) + log_e1;
        if (coef_sign > 0 || series == P4_RDP_SERIES_CONSERVATIVE) {
            log_a0 = log_add(log_a0, log_s0);
            log_a1 = log_add(log_a1, log_s1);
        } else {
            log_a0 = log_sub(log_a0, log_s0);
            log_a1 = log_sub(log_a1, log_s1);
        }
        if (fmax(log_s0, log_s1) < -30.0) break;
    }
    return log_add(log_a0, log_a1);
}

int p4_rdp_default_orders(double *orders, int max)
{
    if (!orders || max <= 0) return 0;
    int n = 0;
    for (int tenth = 11; tenth <= 109 && n < max; tenth++) orders[n++] = tenth / 10.0;
    for (int k = 12; k <= 63 && n < max; k++) orders[n++] = (double)k;
    return n;
}

static int check_mechanism(double q, double sigma, long long steps, p4_error *err)
{
    if (!(q >= 0.0 && q <= 1.0))
        return p4_error_set(err, P4_EINVAL, "sample rate %g is outside [0, 1]", q);
    if (!(sigma >= 0.0) || isinf(sigma))
        return p4_error_set(err, P4_EINVAL, "noise multiplier %g must be finite and >= 0", sigma);
    if (steps < 0)
        return p4_error_set(err, P4_EINVAL, "steps %lld must be >= 0", steps);
    return P4_OK;
}

int p4_rdp_at_order(double q, double sigma, long long steps, double order,
                    double *rdp, p4_error *err)
{
    return p4_rdp_at_order_series(q, sigma, steps, order, P4_RDP_SERIES_OPACUS, rdp, err);
}

int p4_rdp_at_order_series(double q, double sigma, long long steps, double order,
                           p4_rdp_series series, double *rdp, p4_error *err)
{
    if (!rdp) return p4_error_set(err, P4_EINVAL, "rdp output is NULL");
    int rc = check_mechanism(q, sigma, steps, err);
    if (rc) return rc;
    if (!(order > 1.0))
        return p4_error_set(err, P4_EINVAL, "RDP order %g must be > 1", order);
    double per_step;
    if (q == 0.0 || steps == 0) per_step = 0.0;
    else if (sigma == 0.0 || isinf(order)) per_step = INFINITY;
    else if (q == 1.0) per_step = order / (2.0 * sigma * sigma);
    else if (order == floor(order) && order < 1e6)
        per_step = log_a_integer(q, sigma, (long long)order) / (order - 1.0);
    else
        per_step = log_a_fractional(q, order, sigma, series) / (order - 1.0);
    *rdp = per_step * (double)steps;
    return P4_OK;
}

int p4_rdp_epsilon(const p4_dp_phase *phases, int nphases, double delta,
                   const double *orders, int norders, double *epsilon,
                   double *best_order, p4_error *err)
{
    double default_orders[P4_RDP_MAX_ORDERS];
    if (!epsilon) return p4_error_set(err, P4_EINVAL, "epsilon output is NULL");
    if (nphases < 0 || (nphases > 0 && !phases))
        return p4_error_set(err, P4_EINVAL, "invalid phase list");
    if (!(delta > 0.0 && delta < 1.0))
        return p4_error_set(err, P4_EINVAL, "delta %g is outside (0, 1)", delta);
    if (!orders) {
        norders = p4_rdp_default_orders(default_orders, P4_RDP_MAX_ORDERS);
        orders = default_orders;
    }
    if (norders <= 0) return p4_error_set(err, P4_EINVAL, "no RDP orders given");

    double best = INFINITY, best_alpha = orders[0];
    for (int k = 0; k < norders; k++) {
        double alpha = orders[k], rdp = 0.0;
        for (int p = 0; p < nphases; p++) {
            double r;
            int rc = p4_rdp_at_order(phases[p].sample_rate, phases[p].noise_multiplier,
                                     phases[p].steps, alpha, &r, err);
            if (rc) return rc;
            rdp += r;
        }
        /* Balle et al. 2020, Thm 21, as in Opacus's get_privacy_spent. */
        double eps = rdp - (log(delta) + log(alpha)) / (alpha - 1.0) + log((alpha - 1.0) / alpha);
        if (eps < best) { best = eps; best_alpha = alpha; }
    }
    *epsilon = best < 0.0 ? 0.0 : best;
    if (best_order) *best_order = best_alpha;
    return P4_OK;
}

/* Epsilon after the prior phases plus `steps` at (q, sigma). */
static int epsilon_with(double q, double sigma, long long steps, double delta,
                        const p4_dp_phase *prior, int nprior, double *eps, p4_error *err)
{
    p4_dp_phase phases[64];
    if (nprior > 63) return p4_error_set(err, P4_EINVAL, "too many prior phases (%d)", nprior);
    for (int k = 0; k < nprior; k++) phases[k] = prior[k];
    phases[nprior] = (p4_dp_phase){ q, sigma, steps };
    return p4_rdp_epsilon(phases, nprior + 1, delta, NULL, 0, eps, NULL, err);
}

int p4_rdp_calibrate_sigma(double target_epsilon, double delta, double q,
                           long long steps, const p4_dp_phase *prior,
                           int nprior, double tolerance, double *sigma,
                           p4_error *err)
{
    const double max_sigma = 1e4;
    if (!sigma) return p4_error_set(err, P4_EINVAL, "sigma output is NULL");
    if (!(target_epsilon > 0.0) || isinf(target_epsilon))
        return p4_error_set(err, P4_EINVAL, "target epsilon %g must be finite and > 0", target_epsilon);
    if (!(tolerance > 0.0 && tolerance <= 1e-3))
        return p4_error_set(err, P4_EINVAL, "sigma tolerance %g must be in (0, 1e-3]", tolerance);
    if (!(q > 0.0 && q <= 1.0))
        return p4_error_set(err, P4_EINVAL, "sample rate %g is outside (0, 1]", q);
    if (steps <= 0) return p4_error_set(err, P4_EINVAL, "steps %lld must be > 0", steps);
    if (nprior < 0 || (nprior > 0 && !prior))
        return p4_error_set(err, P4_EINVAL, "invalid prior phases");

    /* Grow the upper end until it meets the target, as Opacus does. */
    double low = 0.0, high = 10.0, eps_high;
    for (;;) {
        int rc = epsilon_with(q, high, steps, delta, prior, nprior, &eps_high, err);
        if (rc) return rc;
        if (eps_high <= target_epsilon) break;
        if (high >= max_sigma)
            return p4_error_set(err, P4_EBUDGET,
                                "no noise multiplier up to %g reaches epsilon %g at delta %g "
                                "(%lld steps at q=%g%s): the budget is too small",
                                max_sigma, target_epsilon, delta, steps, q,
                                nprior ? " after the spend so far" : "");
        high = fmin(2.0 * high, max_sigma);
    }
    /* Bisect; `high` always meets the target, so the answer is safe. */
    while (high - low > tolerance) {
        double mid = 0.5 * (low + high), eps_mid;
        int rc = epsilon_with(q, mid, steps, delta, prior, nprior, &eps_mid, err);
        if (rc) return rc;
        if (eps_mid <= target_epsilon) high = mid;
        else low = mid;
    }
    *sigma = high;
    return P4_OK;
}
