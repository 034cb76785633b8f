/* accountant.h: Renyi-DP accountant for the Poisson-subsampled Gaussian
 * mechanism (Mironov, Talwar, Zhang 2019), as Opacus computes it.
 *
 * A privacy history is a list of phases; each phase is `steps` applications
 * of the subsampled Gaussian mechanism with sample rate q and noise
 * multiplier sigma (noise std = sigma * clip norm).  RDP composes by adding
 * per order; epsilon at a given delta is the minimum over orders of the
 * conversion of Balle et al. 2020 (Thm 21), exactly as Opacus's
 * privacy_analysis.get_privacy_spent does.  Orders are Opacus's defaults:
 * 1.1, 1.2, ..., 10.9 and 12, 13, ..., 63. */
#ifndef P4_DP_ACCOUNTANT_H
#define P4_DP_ACCOUNTANT_H

#include "common/error.h"
#include "dp/rdp_core.h"

/* p4_dp_phase, p4_rdp_series, p4_rdp_default_orders and P4_RDP_MAX_ORDERS
 * live in dp/rdp_core.h, the arithmetic shared with the OP-TEE TA. */

/* The core's math table filled with libm's functions. */
const p4_rdp_math *p4_rdp_math_libm(void);

/* RDP of `steps` compositions of the subsampled Gaussian at one order
 * (alpha > 1).  sigma == 0 gives +inf; q == 0 gives 0. */
int p4_rdp_at_order(double q, double sigma, long long steps, double order,
                    double *rdp, p4_error *err);
/* The same with a chosen series for fractional orders. */
int p4_rdp_at_order_series(double q, double sigma, long long steps, double order,
                           p4_rdp_series series, double *rdp, p4_error *err);

/* Epsilon at delta for a list of phases, over `orders` (NULL = defaults).
 * best_order, if not NULL, receives the minimising order. */
int p4_rdp_epsilon(const p4_dp_phase *phases, int nphases, double delta,
                   const double *orders, int norders, double *epsilon,
                   double *best_order, p4_error *err);

/* Smallest sigma, to within `tolerance` (<= 1e-3), such that `steps` steps at
 * rate q reach at most target_epsilon at delta, after any already-spent
 * `prior` phases (may be NULL/0).  Binary search as Opacus's
 * get_noise_multiplier; errors if no sigma <= 1e4 reaches the target. */
int p4_rdp_calibrate_sigma(double target_epsilon, double delta, double q,
                           long long steps, const p4_dp_phase *prior,
                           int nprior, double tolerance, double *sigma,
                           p4_error *err);

#endif
