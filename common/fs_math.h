/* fs_math.h: the few elementary functions p4's freestanding code needs, in
 * p4's own code, for places without libm (an OP-TEE trusted application).
 *
 * Accuracy: exp, log, log1p and sqrt within a few ulp of libm's correctly
 * rounded results; erfc to ~1e-14 relative where it is above 1e-300; see
 * tests/test_fs_math.c.  Special values follow C's conventions (NaN in,
 * NaN out; log(0) = -inf; exp overflow = +inf).  Only <stdint.h>. */
#ifndef P4_COMMON_FS_MATH_H
#define P4_COMMON_FS_MATH_H

double p4_fs_exp(double x);
double p4_fs_log(double x);
double p4_fs_log1p(double x);
double p4_fs_sqrt(double x);
double p4_fs_erfc(double x);
/* log((x - 1)!) = lgamma(x) for x a positive integer (x <= 2^53); other
 * arguments give NaN.  The accountant's binomials need nothing more. */
double p4_fs_lgamma_int(double x);

double p4_fs_inf(void);
double p4_fs_nan(void);
int p4_fs_isfinite(double x);

#endif
