/* test_accountant.c: the RDP accountant against published values
 * (../shared/dp/accountant-reference.tsv), its properties, calibration, and
 * the `p4 dp` command line. */
#include "support/test_support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dp/accountant.h"

static double rel_diff(double a, double b) { return fabs(a - b) / fmax(fabs(b), 1e-300); }

/* Every row of the reference file, to its stated relative tolerance.  The
 * file mixes two series for fractional orders: rows from dp_accounting's
 * test use its newer conservative series (the file says so for order 1.5),
 * the rest Opacus's; each row is checked against the series of its source,
 * and the default (Opacus) series must match every Opacus/TF row. */
static void matches_published_values(void **state)
{
    (void)state;
    const char *path = test_shared_path("dp/accountant-reference.tsv");
    if (!path) TEST_SKIP("../shared/dp/accountant-reference.tsv is absent");
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[1024];
    int checked = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || line[0] == '\n') continue;
        char kind[64], delta_text[64], source[512] = "";
        double q, sigma, expected, tol;
        long long steps;
        int n = sscanf(line, "%63s %lf %lf %lld %63s %lf %lf", kind, &q, &sigma, &steps,
                       delta_text, &expected, &tol);
        assert_int_equal(n, 7);
        const char *tab = line;
        for (int field = 0; field < 7 && tab; field++) tab = strchr(tab + 1, '\t');
        if (tab) snprintf(source, sizeof source, "%s", tab + 1);
        double got = NAN;
        p4_error err = {0};
        if (strcmp(kind, "epsilon") == 0) {
            p4_dp_phase ph = { q, sigma, steps };
            assert_int_equal(p4_rdp_epsilon(&ph, 1, atof(delta_text), NULL, 0, &got, NULL, &err), P4_OK);
        } else if (strncmp(kind, "rdp@", 4) == 0) {
            double order = atof(kind + 4);
            p4_rdp_series series = strstr(source, "dp_accounting rdp_privacy_accountant_test")
                                       ? P4_RDP_SERIES_CONSERVATIVE : P4_RDP_SERIES_OPACUS;
            assert_int_equal(p4_rdp_at_order_series(q, sigma, steps, order, series, &got, &err), P4_OK);
            if (order == floor(order)) { /* integer orders: both series are the same sum */
                double other;
                p4_rdp_at_order(q, sigma, steps, order, &other, NULL);
                assert_true(rel_diff(other, got) < 1e-12);
            }
        } else {
            fail_msg("unknown kind '%s' in %s", kind, path);
        }
        if (rel_diff(got, expected) > tol)
            fail_msg("%s q=%g sigma=%g steps=%lld: got %.12g, published %.12g", kind, q, sigma,
                     steps, got, expected);
        checked++;
    }
    fclose(f);
    assert_true(checked >= 8);
}

/* The two series against numerical integration of A_alpha (computed offline
 * with Simpson's rule on 400k points, q=0.01, sigma=2.5, 50 steps): Opacus's
 * is exact, the conservative one is an upper bound. */
static void fractional_series_against_quadrature(void **state)
{
    (void)state;
    const double order[] = { 1.5, 2.5 }, quadrature[] = { 6.500708949e-4, 1.085418056e-3 };
    for (int k = 0; k < 2; k++) {
        double exact, upper;
        p4_rdp_at_order_series(0.01, 2.5, 50, order[k], P4_RDP_SERIES_OPACUS, &exact, NULL);
        p4_rdp_at_order_series(0.01, 2.5, 50, order[k], P4_RDP_SERIES_CONSERVATIVE, &upper, NULL);
        assert_true(rel_diff(exact, quadrature[k]) < 1e-8);
        assert_true(upper > exact);
    }
}

/* Opacus's doctest: two phases, integer orders 2..32, delta 1e-5 ->
 * epsilon 0.336 at order 23. */
static void composes_two_phases(void **state)
{
    (void)state;
    double orders[31];
    for (int k = 0; k < 31; k++) orders[k] = 2 + k;
    p4_dp_phase phases[2] = { { 1e-5, 1.0, 10 }, { 1e-4, 3.0, 4 } };
    double eps, order;
    assert_int_equal(p4_rdp_epsilon(phases, 2, 1e-5, orders, 31, &eps, &order, NULL), P4_OK);
    assert_true(fabs(eps - 0.336) < 5e-4);
    assert_true(order == 23.0);
    /* Composition is additive in RDP: one phase's epsilon is below both. */
    double one;
    assert_int_equal(p4_rdp_epsilon(phases, 1, 1e-5, orders, 31, &one, NULL, NULL), P4_OK);
    assert_true(one < eps);
}

static void default_orders_are_opacus(void **state)
{
    (void)state;
    double o[P4_RDP_MAX_ORDERS];
    int n = p4_rdp_default_orders(o, P4_RDP_MAX_ORDERS);
    assert_int_equal(n, 99 + 52);
    assert_true(fabs(o[0] - 1.1) < 1e-12 && fabs(o[98] - 10.9) < 1e-12);
    assert_true(o[99] == 12.0 && o[n - 1] == 63.0);
}

/* Fractional orders between integers: RDP is nondecreasing in the order
 * (a property of Renyi divergence) and continuous across an integer. */
static void fractional_orders_are_consistent(void **state)
{
    (void)state;
    double prev = 0;
    for (double a = 1.5; a <= 12.0; a += 0.25) {
        double r;
        assert_int_equal(p4_rdp_at_order(0.02, 1.1, 1, a, &r, NULL), P4_OK);
        assert_true(r >= prev * (1 - 1e-9));
        prev = r;
    }
    double below, at, above;
    p4_rdp_at_order(0.02, 1.1, 1, 3.0 - 1e-7, &below, NULL);
    p4_rdp_at_order(0.02, 1.1, 1, 3.0, &at, NULL);
    p4_rdp_at_order(0.02, 1.1, 1, 3.0 + 1e-7, &above, NULL);
    assert_true(rel_diff(below, at) < 1e-5 && rel_diff(above, at) < 1e-5);
}

static void edge_cases(void **state)
{
    (void)state;
    double r;
    assert_int_equal(p4_rdp_at_order(0.0, 1.0, 100, 2.0, &r, NULL), P4_OK);
    assert_true(r == 0.0);
    assert_int_equal(p4_rdp_at_order(0.1, 0.0, 1, 2.0, &r, NULL), P4_OK);
    assert_true(isinf(r));
    assert_int_equal(p4_rdp_at_order(1.0, 2.0, 3, 4.0, &r, NULL), P4_OK);
    assert_true(rel_diff(r, 3 * 4.0 / 8.0) < 1e-12); /* full batch: alpha/(2 sigma^2) */
    p4_error err = {0};
    assert_int_equal(p4_rdp_at_order(1.5, 1.0, 1, 2.0, &r, &err), P4_EINVAL);
    assert_non_null(strstr(err.message, "sample rate"));
    assert_int_equal(p4_rdp_at_order(0.1, -1.0, 1, 2.0, &r, &err), P4_EINVAL);
    assert_int_equal(p4_rdp_at_order(0.1, 1.0, 1, 1.0, &r, &err), P4_EINVAL);
    p4_dp_phase ph = { 0.1, 1.0, 10 };
    double eps;
    assert_int_equal(p4_rdp_epsilon(&ph, 1, 0.0, NULL, 0, &eps, NULL, &err), P4_EINVAL);
    assert_int_equal(p4_rdp_epsilon(&ph, 1, 1.0, NULL, 0, &eps, NULL, &err), P4_EINVAL);
    /* More noise, less epsilon; more steps, more epsilon. */
    double e1, e2, e3;
    p4_dp_phase a = { 0.01, 1.0, 1000 }, b = { 0.01, 2.0, 1000 }, c = { 0.01, 1.0, 2000 };
    p4_rdp_epsilon(&a, 1, 1e-5, NULL, 0, &e1, NULL, NULL);
    p4_rdp_epsilon(&b, 1, 1e-5, NULL, 0, &e2, NULL, NULL);
    p4_rdp_epsilon(&c, 1, 1e-5, NULL, 0, &e3, NULL, NULL);
    assert_true(e2 < e1 && e1 < e3);
}

/* Calibration returns a sigma that meets the target, and one 1e-3 smaller
 * does not: the smallest to within the tolerance. */
static void calibration_is_tight(void **state)
{
    (void)state;
    const double targets[] = { 0.5, 1, 2, 4, 8 };
    for (size_t k = 0; k < sizeof targets / sizeof targets[0]; k++) {
        double sigma, eps, eps_less;
        assert_int_equal(p4_rdp_calibrate_sigma(targets[k], 1e-5, 0.004, 2500, NULL, 0, 1e-4,
                                                &sigma, NULL), P4_OK);
        p4_dp_phase ph = { 0.004, sigma, 2500 }, less = { 0.004, sigma - 1e-3, 2500 };
        p4_rdp_epsilon(&ph, 1, 1e-5, NULL, 0, &eps, NULL, NULL);
        p4_rdp_epsilon(&less, 1, 1e-5, NULL, 0, &eps_less, NULL, NULL);
        assert_true(eps <= targets[k]);
        assert_true(eps_less > targets[k]);
    }
    /* With a prior spend, the remaining steps need more noise. */
    double alone, after;
    p4_dp_phase prior = { 0.01, 1.0, 100 };
    p4_rdp_calibrate_sigma(2.0, 1e-5, 0.01, 500, NULL, 0, 1e-4, &alone, NULL);
    assert_int_equal(p4_rdp_calibrate_sigma(2.0, 1e-5, 0.01, 500, &prior, 1, 1e-4, &after, NULL), P4_OK);
    assert_true(after > alone);
    p4_error err = {0};
    double s;
    assert_int_equal(p4_rdp_calibrate_sigma(1e-9, 1e-5, 1.0, 100000, NULL, 0, 1e-4, &s, &err), P4_EBUDGET);
    assert_int_equal(p4_rdp_calibrate_sigma(1.0, 1e-5, 0.01, 10, NULL, 0, 0.01, &s, &err), P4_EINVAL);
}

/* Runs a shell command, returns its first stdout line in out and its status. */
static int run_command(const char *cmd, char *out, size_t n)
{
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    out[0] = '\0';
    if (!fgets(out, (int)n, p)) out[0] = '\0';
    char rest[256];
    while (fgets(rest, sizeof rest, p)) {}
    return pclose(p);
}

static void command_line(void **state)
{
    (void)state;
    const char *bin = getenv("P4_BIN");
    if (!bin) TEST_SKIP("P4_BIN is not set (run under ctest)");
    char cmd[1024], out[256];
    snprintf(cmd, sizeof cmd, "%s dp epsilon --sample-rate 0.04 --noise-multiplier 1.5 "
             "--steps 2250 --delta 1e-5", bin);
    assert_int_equal(run_command(cmd, out, sizeof out), 0);
    assert_true(rel_diff(atof(out), 7.32911117143) < 1e-6);
    snprintf(cmd, sizeof cmd, "%s dp noise --sample-rate 0.04 --steps 2250 --delta 1e-5 "
             "--epsilon 7.32911117143", bin);
    assert_int_equal(run_command(cmd, out, sizeof out), 0);
    assert_true(fabs(atof(out) - 1.5) < 1e-3);
    const char *bad[] = {
        "dp epsilon --sample-rate 0 --noise-multiplier 1 --steps 10 --delta 1e-5",
        "dp epsilon --sample-rate 1.5 --noise-multiplier 1 --steps 10 --delta 1e-5",
        "dp epsilon --sample-rate 0.1 --noise-multiplier -1 --steps 10 --delta 1e-5",
        "dp epsilon --sample-rate 0.1 --noise-multiplier 1 --steps 10 --delta 1",
        "dp epsilon --sample-rate 0.1 --noise-multiplier 1 --steps 10 --delta 0",
        "dp epsilon --sample-rate abc --noise-multiplier 1 --steps 10 --delta 1e-5",
        "dp noise --sample-rate 0.1 --steps 10 --delta 1e-5",
        "dp frobnicate",
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        snprintf(cmd, sizeof cmd, "%s %s 2>&1", bin, bad[k]);
        int status = run_command(cmd, out, sizeof out);
        if (status == 0) fail_msg("'p4 %s' succeeded", bad[k]);
        assert_non_null(strstr(out, "p4 dp"));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(matches_published_values),
        cmocka_unit_test(fractional_series_against_quadrature),
        cmocka_unit_test(composes_two_phases),
        cmocka_unit_test(default_orders_are_opacus),
        cmocka_unit_test(fractional_orders_are_consistent),
        cmocka_unit_test(edge_cases),
        cmocka_unit_test(calibration_is_tight),
        cmocka_unit_test(command_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
