/* test_audit_bound.c: the one-run audit's statistics (dp/audit_bound.h)
 * against values derived another way: the binomial built by Pascal's
 * recursion in long double (no lgamma), the closed form of the bound when
 * every guess is right and delta = 0, the large-r limit, and the
 * properties any bound must have (0 at chance, monotone in correct guesses,
 * in delta and in the confidence). */
#include "support/test_support.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dp/audit_bound.h"

/* P[Bin(r, q) = k] for k = 0..r by adding one trial at a time. */
static long double *pascal_pmf(int r, long double q)
{
    long double *p = calloc((size_t)r + 1, sizeof *p);
    assert_non_null(p);
    p[0] = 1;
    for (int n = 1; n <= r; n++)
        for (int k = n; k >= 0; k--)
            p[k] = (k ? p[k - 1] * q : 0) + p[k] * (1 - q);
    return p;
}

/* The theorem's right-hand side, term by term, with every window summed
 * from scratch. */
static double slow_p_value(int m, int r, int v, double eps, double delta)
{
    long double q = expl(eps) / (1 + expl(eps));
    long double *p = pascal_pmf(r, q), tail = 0, alpha = 0;
    for (int k = v; k <= r; k++)
        tail += p[k];
    for (int i = 1; i <= v; i++) {
        long double window = 0;
        for (int k = v - i; k < v; k++)
            window += p[k];
        if (window / i > alpha)
            alpha = window / i;
    }
    free(p);
    long double total = tail + 2.0L * m * delta * alpha;
    return (double)(total < 1 ? total : 1);
}

static double p_value(int m, int r, int v, double eps, double delta)
{
    double p = -1;
    p4_error err = {0};
    assert_int_equal(p4_audit_p_value(m, r, v, eps, delta, &p, &err), P4_OK);
    return p;
}

static double bound(int m, int r, int v, double delta, double beta)
{
    double eps = -1;
    p4_error err = {0};
    if (p4_audit_epsilon_bound(m, r, v, delta, beta, &eps, &err) != P4_OK)
        fail_msg("%s", err.message);
    return eps;
}

static void p_value_matches_the_pascal_binomial(void **state)
{
    (void)state;
    static const struct { int m, r, v; double eps, delta; } cases[] = {
        { 100, 20, 15, 0.5, 0 },     { 100, 20, 15, 0.5, 1e-3 }, { 1000, 100, 80, 1.0, 1e-5 },
        { 1000, 100, 100, 2.0, 1e-5 }, { 1000, 150, 90, 0.2, 1e-4 }, { 50, 50, 26, 0.0, 0.01 },
        { 1000, 120, 119, 3.0, 1e-5 }, { 10, 1, 1, 1.0, 0 },        { 1000, 100, 0, 1.0, 1e-5 },
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        double fast = p_value(cases[c].m, cases[c].r, cases[c].v, cases[c].eps, cases[c].delta);
        double slow = slow_p_value(cases[c].m, cases[c].r, cases[c].v, cases[c].eps, cases[c].delta);
        if (fabs(fast - slow) > 1e-9 * slow + 1e-300)
            fail_msg("case %zu: p-value %.17g, Pascal %.17g", c, fast, slow);
    }
    /* The delta term is there: it is the difference with delta = 0. */
    assert_true(p_value(1000, 100, 80, 1.0, 1e-5) > p_value(1000, 100, 80, 1.0, 0) + 1e-6);
    /* With no guess right the null explains everything. */
    assert_true(p_value(1000, 100, 0, 1.0, 0) == 1.0);
}

/* delta = 0 and v = r: p = q^r, so the bound solves q^r = beta. */
static void all_correct_without_delta_has_a_closed_form(void **state)
{
    (void)state;
    static const int rs[] = { 1, 5, 10, 50, 200, 1000 };
    for (size_t c = 0; c < sizeof rs / sizeof rs[0]; c++) {
        int r = rs[c];
        double q = pow(0.05, 1.0 / r), expected = fmax(0, log(q / (1 - q))); /* r < 5: 0 */
        double got = bound(1000, r, r, 0, 0.05);
        if (fabs(got - expected) > 1e-5)
            fail_msg("r = %d: bound %.8f, closed form %.8f", r, got, expected);
    }
    /* Well-known figure: 100 right of 100 certifies about eps 3.5. */
    double b = bound(1000, 100, 100, 0, 0.05);
    assert_true(b > 3.45 && b < 3.55);
    /* delta makes it smaller, never larger. */
    assert_true(bound(1000, 100, 100, 1e-5, 0.05) < b);
}

static void at_chance_the_bound_is_zero(void **state)
{
    (void)state;
    assert_true(bound(1000, 1000, 500, 1e-5, 0.05) == 0.0);
    assert_true(bound(1000, 100, 50, 0, 0.05) == 0.0);
    assert_true(bound(1000, 100, 30, 0, 0.05) == 0.0);
    assert_true(bound(1000, 0, 0, 1e-5, 0.05) == 0.0);
    /* A little above chance is still explained by eps = 0 at 95%. */
    assert_true(bound(1000, 100, 55, 0, 0.05) == 0.0);
}

static void the_bound_is_monotone(void **state)
{
    (void)state;
    double last = 0;
    for (int v = 50; v <= 200; v += 5) {
        double b = bound(1000, 200, v, 1e-5, 0.05);
        assert_true(b >= last);
        last = b;
    }
    assert_true(last > 2);
    /* More delta or more confidence can only lower it. */
    assert_true(bound(1000, 200, 180, 1e-3, 0.05) < bound(1000, 200, 180, 1e-6, 0.05));
    assert_true(bound(1000, 200, 180, 1e-5, 0.001) < bound(1000, 200, 180, 1e-5, 0.05));
    /* More canaries make the delta term larger, the bound smaller. */
    assert_true(bound(100000, 200, 180, 1e-5, 0.05) < bound(1000, 200, 180, 1e-5, 0.05));
}

/* The returned eps is the edge: rejected just below, not just above. */
static void the_bound_sits_at_the_rejection_edge(void **state)
{
    (void)state;
    double b = bound(1000, 300, 240, 1e-5, 0.05);
    assert_true(b > 0.5);
    assert_true(p_value(1000, 300, 240, b, 1e-5) < 0.05);
    assert_true(p_value(1000, 300, 240, b + 1e-5, 1e-5) >= 0.05);
}

/* r large at a fixed accuracy a: the bound tends to log(a / (1 - a)), and
 * the normal approximation of the binomial tail says how far below. */
static void large_r_approaches_the_accuracy_limit(void **state)
{
    (void)state;
    int r = 100000, v = 80000;
    double q = 0.8 - 1.6449 * sqrt(0.8 * 0.2 / r); /* one-sided 95% normal */
    double approx = log(q / (1 - q));
    double b = bound(r, r, v, 0, 0.05);
    assert_true(b < log(4.0));
    if (fabs(b - approx) > 2e-3)
        fail_msg("r = %d: bound %.6f, normal approximation %.6f", r, b, approx);
}

static void bad_counts_are_refused(void **state)
{
    (void)state;
    double out;
    p4_error err = {0};
    assert_int_equal(p4_audit_p_value(100, 10, 11, 1, 0, &out, &err), P4_EINVAL);
    assert_non_null(strstr(err.message, "correct"));
    assert_int_equal(p4_audit_p_value(100, 101, 50, 1, 0, &out, NULL), P4_EINVAL);
    assert_int_equal(p4_audit_p_value(100, 10, 5, -1, 0, &out, NULL), P4_EINVAL);
    assert_int_equal(p4_audit_p_value(100, 10, 5, NAN, 0, &out, NULL), P4_EINVAL);
    assert_int_equal(p4_audit_p_value(100, 10, 5, 1, 2, &out, NULL), P4_EINVAL);
    assert_int_equal(p4_audit_epsilon_bound(100, 10, 5, 0, 0, &out, NULL), P4_EINVAL);
    assert_int_equal(p4_audit_epsilon_bound(100, 10, 5, 0, 1, &out, NULL), P4_EINVAL);
    assert_int_equal(p4_audit_epsilon_bound(0, 0, 0, 0, 0.05, &out, NULL), P4_EINVAL);
    /* epsilon = inf is a legal null: every guess may be right. */
    assert_int_equal(p4_audit_p_value(100, 10, 10, INFINITY, 0, &out, NULL), P4_OK);
    assert_true(out == 1.0);
}

static void guesses_take_the_extremes(void **state)
{
    (void)state;
    /*                     0    1    2    3    4    5    6    7 */
    double scores[] = { 0.9, 0.1, 0.5, 0.8, 0.2, 0.5, 0.7, 0.0 };
    unsigned char in[] = { 1, 0, 1, 0, 0, 0, 1, 1 };
    int correct = -1;
    /* top 2 "in": 0 (in) and 3 (out); bottom 2 "out": 7 (in) and 1 (out). */
    assert_int_equal(p4_audit_count_correct(scores, in, 8, 2, 2, &correct, NULL), P4_OK);
    assert_int_equal(correct, 2);
    /* top 3 adds 6 (in); bottom 3 adds 4 (out). */
    assert_int_equal(p4_audit_count_correct(scores, in, 8, 3, 3, &correct, NULL), P4_OK);
    assert_int_equal(correct, 4);
    /* The tie at 0.5 goes to the lower index (2, in) first, not 5 (out). */
    assert_int_equal(p4_audit_count_correct(scores, in, 8, 4, 0, &correct, NULL), P4_OK);
    assert_int_equal(correct, 3);
    assert_int_equal(p4_audit_count_correct(scores, in, 8, 0, 0, &correct, NULL), P4_OK);
    assert_int_equal(correct, 0);
    assert_int_equal(p4_audit_count_correct(scores, in, 8, 5, 4, &correct, NULL), P4_EINVAL);
    scores[4] = NAN;
    assert_int_equal(p4_audit_count_correct(scores, in, 8, 1, 1, &correct, NULL), P4_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(p_value_matches_the_pascal_binomial),
        cmocka_unit_test(all_correct_without_delta_has_a_closed_form),
        cmocka_unit_test(at_chance_the_bound_is_zero),
        cmocka_unit_test(the_bound_is_monotone),
        cmocka_unit_test(the_bound_sits_at_the_rejection_edge),
        cmocka_unit_test(large_r_approaches_the_accuracy_limit),
        cmocka_unit_test(bad_counts_are_refused),
        cmocka_unit_test(guesses_take_the_extremes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
