/* test_fs_math.c: p4's freestanding math (common/fs_math.h) against libm,
 * and the RDP core on that math (the OP-TEE TA's accountant) against
 * dp/accountant.c's libm results. */
#include "support/test_support.h"

#include <math.h>
#include <stdint.h>

#include "common/fs_math.h"
#include "common/rng.h"
#include "dp/accountant.h"
#include "dp/rdp_freestanding.h"

static double rel_err(double got, double want)
{
    if (got == want) return 0;
    return fabs(got - want) / fabs(want);
}

typedef struct {
    double (*fs)(double);
    double (*libm)(double);
    const char *name;
    double lo, hi;      /* arguments drawn uniformly here ...          */
    int log_scale;      /* ... or as exp(uniform) when set              */
    double tolerance;   /* largest relative error allowed               */
} function_case;

static void check_function(const function_case *c)
{
    p4_rng rng;
    assert_int_equal(p4_rng_init_seeded(&rng, 7, c->name), P4_OK);
    double worst = 0, worst_x = 0;
    for (int i = 0; i < 200000; i++) {
        double u = c->lo + (c->hi - c->lo) * p4_rng_uniform(&rng);
        double x = c->log_scale ? exp(u) : u;
        double want = c->libm(x);
        if (fabs(want) < 1e-300) continue; /* underflowed: nothing relative to test */
        double e = rel_err(c->fs(x), want);
        if (e > worst) { worst = e; worst_x = x; }
    }
    if (worst > c->tolerance)
        fail_msg("%s: relative error %.3g at x = %.17g (allowed %.3g)", c->name, worst,
                 worst_x, c->tolerance);
}

static void elementary_functions_match_libm(void **state)
{
    (void)state;
    const function_case cases[] = {
        { p4_fs_exp, exp, "exp", -745, 709.7, 0, 4e-16 },
        { p4_fs_exp, exp, "exp small", -1e-3, 1e-3, 0, 4e-16 },
        { p4_fs_log, log, "log", -740, 709, 1, 4e-16 },
        { p4_fs_log, log, "log near 1", 0.9, 1.1, 0, 4e-16 },
        { p4_fs_log1p, log1p, "log1p", -0.999999, 5, 0, 4e-16 },
        { p4_fs_log1p, log1p, "log1p tiny", -1e-9, 1e-9, 0, 4e-16 },
        { p4_fs_sqrt, sqrt, "sqrt", -740, 709, 1, 2.3e-16 },
        { p4_fs_erfc, erfc, "erfc", -6, 27, 0, 1e-14 },
        { p4_fs_erfc, erfc, "erfc near 0", -1.5, 1.5, 0, 1e-14 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_function(&cases[i]);
}

static void special_values_follow_c(void **state)
{
    (void)state;
    assert_true(isnan(p4_fs_log(-1)));
    assert_true(isinf(p4_fs_log(0)) && p4_fs_log(0) < 0);
    assert_true(isinf(p4_fs_exp(710)));
    assert_true(p4_fs_exp(-746) == 0);
    assert_true(p4_fs_exp(0) == 1);
    assert_true(p4_fs_log(1) == 0);
    assert_true(isinf(p4_fs_log1p(-1)) && p4_fs_log1p(-1) < 0);
    assert_true(isnan(p4_fs_sqrt(-1)));
    assert_true(p4_fs_sqrt(4) == 2);
    assert_true(p4_fs_erfc(-30) == 2);
    assert_true(isnan(p4_fs_exp(NAN)) && isnan(p4_fs_erfc(NAN)));
    assert_true(p4_fs_isfinite(1e308) && !p4_fs_isfinite(INFINITY) && !p4_fs_isfinite(NAN));
    assert_true(isnan(p4_fs_lgamma_int(2.5)) && isnan(p4_fs_lgamma_int(0)));
    /* The smallest subnormal, 2^-1074: its log is -1074 ln 2 (computed from
     * the bits; libm is not the reference here, as p4 may run with
     * denormals-are-zero set, which changes what libm sees). */
    volatile double tiny = 5e-324;
    double want = -1074.0 * 0.69314718055994530942;
    if (rel_err(p4_fs_log(tiny), want) >= 4e-16)
        fail_msg("log(2^-1074): %.17g, want %.17g", p4_fs_log(tiny), want);
}

static void integer_lgamma_matches_libm(void **state)
{
    (void)state;
    assert_true(p4_fs_lgamma_int(1) == 0 && p4_fs_lgamma_int(2) == 0);
    for (int n = 3; n < 5000; n++) {
        double e = rel_err(p4_fs_lgamma_int(n), lgamma(n));
        if (e > 1e-15) fail_msg("lgamma(%d): relative error %.3g", n, e);
    }
}

/* The TA's accountant (the core on freestanding math) against the normal
 * world's (the core on libm, through dp/accountant.c). */
static void freestanding_accountant_matches_libm(void **state)
{
    (void)state;
    const double qs[] = { 0.001, 0.01, 0.05, 0.3, 1.0 };
    const double sigmas[] = { 0.5, 0.8, 1.1, 2.5, 10.0 };
    const long long steps[] = { 1, 100, 10000 };
    const double deltas[] = { 1e-5, 1e-8 };
    double orders[P4_RDP_MAX_ORDERS];
    int norders = p4_rdp_default_orders(orders, P4_RDP_MAX_ORDERS);
    double worst = 0;
    for (size_t a = 0; a < 5; a++)
        for (size_t b = 0; b < 5; b++)
            for (size_t c = 0; c < 3; c++)
                for (size_t d = 0; d < 2; d++) {
                    p4_dp_phase phases[2] = { { qs[a], sigmas[b], steps[c] },
                                              { 0.02, 1.3, 50 } };
                    double want;
                    assert_int_equal(p4_rdp_epsilon(phases, 2, deltas[d], NULL, 0, &want, NULL,
                                                     NULL), P4_OK);
                    double got = p4_rdp_core_epsilon(p4_rdp_math_freestanding(), phases, 2,
                                                     deltas[d], orders, norders, NULL);
                    double e = rel_err(got, want);
                    if (e > worst) worst = e;
                    if (e > 1e-11)
                        fail_msg("q %g sigma %g steps %lld delta %g: TA eps %.17g, libm %.17g",
                                 qs[a], sigmas[b], steps[c], deltas[d], got, want);
                }
    print_message("largest relative difference TA vs libm accountant: %.3g\n", worst);
    /* Each fractional and integer order on its own, too. */
    for (int k = 0; k < norders; k++) {
        double want;
        assert_int_equal(p4_rdp_at_order(0.01, 1.1, 1, orders[k], &want, NULL), P4_OK);
        double got = p4_rdp_core_steps(p4_rdp_math_freestanding(), 0.01, 1.1, 1, orders[k],
                                       P4_RDP_SERIES_OPACUS);
        if (rel_err(got, want) > 1e-11)
            fail_msg("order %g: TA rdp %.17g, libm %.17g", orders[k], got, want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(elementary_functions_match_libm),
        cmocka_unit_test(special_values_follow_c),
        cmocka_unit_test(integer_lgamma_matches_libm),
        cmocka_unit_test(freestanding_accountant_matches_libm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
