/* accountant.c: the RDP accountant's checked, libm-backed interface.
 *
 * The arithmetic (the series for A_alpha, composition, the conversion to
 * epsilon) is dp/rdp_core.c, shared with the OP-TEE trusted application;
 * this file validates inputs with messages a person can act on, supplies
 * libm, and calibrates sigma. */
#include "dp/accountant.h"

#include <math.h>
#include <stddef.h>

static const p4_rdp_math libm_math = { exp, log, log1p, erfc, lgamma };

const p4_rdp_math *p4_rdp_math_libm(void)
{
    return &libm_math;
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
    *rdp = p4_rdp_core_steps(&libm_math, q, sigma, steps, order, series);
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

    for (int p = 0; p < nphases; p++) {
        int rc = check_mechanism(phases[p].sample_rate, phases[p].noise_multiplier,
                                 phases[p].steps, err);
        if (rc) return rc;
    }
    for (int k = 0; k < norders; k++)
        if (!(orders[k] > 1.0))
            return p4_error_set(err, P4_EINVAL, "RDP order %g must be > 1", orders[k]);
    *epsilon = p4_rdp_core_epsilon(&libm_math, phases, nphases, delta, orders, norders,
                                   best_order);
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
