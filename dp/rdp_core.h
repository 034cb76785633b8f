/* rdp_core.h: the RDP arithmetic of the subsampled Gaussian mechanism, one
 * copy for both worlds.
 *
 * dp/accountant.c (the normal world, libm) and p4's OP-TEE trusted
 * application (no libm: common/fs_math.h) run this same code; each passes
 * the elementary functions it has.  The core checks nothing: its callers
 * validate their inputs (accountant.c with messages, the TA with GP codes).
 * Freestanding: no headers but <stddef.h>. */
#ifndef P4_DP_RDP_CORE_H
#define P4_DP_RDP_CORE_H

#include <stddef.h>

#define P4_RDP_MAX_ORDERS 160

typedef struct p4_dp_phase {
    double sample_rate;       /* q in (0, 1]  */
    double noise_multiplier;  /* sigma >= 0   */
    long long steps;          /* >= 0         */
} p4_dp_phase;

/* How fractional orders sum their series: Opacus subtracts the terms with a
 * negative generalised binomial coefficient (accurate, agrees with numerical
 * integration; the accountant's default, so epsilons match Opacus);
 * dp_accounting's newer code adds them all, an upper bound that is slightly
 * larger (e.g. 3% at order 1.5, q=0.01, sigma=2.5). */
typedef enum { P4_RDP_SERIES_OPACUS, P4_RDP_SERIES_CONSERVATIVE } p4_rdp_series;

/* The elementary functions the core needs.  lgamma is only evaluated at
 * positive integers (log-factorials of binomial coefficients). */
typedef struct p4_rdp_math {
    double (*exp)(double);
    double (*log)(double);
    double (*log1p)(double);
    double (*erfc)(double);
    double (*lgamma)(double);
} p4_rdp_math;

/* Opacus's default orders; returns how many were written (<= max). */
int p4_rdp_default_orders(double *orders, int max);

/* RDP of one application at `order` (> 1), for q in [0, 1], sigma >= 0.
 * sigma == 0 or an infinite order gives +inf; q == 0 gives 0. */
double p4_rdp_core_step(const p4_rdp_math *m, double q, double sigma, double order,
                        p4_rdp_series series);

/* RDP of `steps` applications (0 steps: 0, whatever sigma). */
double p4_rdp_core_steps(const p4_rdp_math *m, double q, double sigma, long long steps,
                         double order, p4_rdp_series series);

/* Epsilon at delta of the composed phases, minimised over orders[0..norders)
 * (norders >= 1) with the conversion of Balle et al. 2020, Thm 21, as
 * Opacus's get_privacy_spent; never below 0.  best_order may be NULL. */
double p4_rdp_core_epsilon(const p4_rdp_math *m, const p4_dp_phase *phases, int nphases,
                           double delta, const double *orders, int norders,
                           double *best_order);

#endif
