/* test_optee_ledger.c: p4's OP-TEE backend through the harness, at the host
 * API (tee/optee/host/optee.h): the TA's ledger refuses past its target and
 * loses no spend to a panic or a reopen; ADD_NOISE's noise has the asked
 * mean and variance and differs per session; RELEASE_ROWS clips and charges
 * before it returns; TEE_Malloc's bound gives P4_ENOMEM, not a crash. */
#include "support/test_support.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dp/accountant.h"
#include "p4_ta.h"
#include "tee/optee/host/optee.h"

static p4_optee *open_ta(const char *dir, double target, int mib)
{
    p4_optee_options opt = { .delta = 1e-5, .target_epsilon = target, .ta_memory_mib = mib,
                             .storage_dir = dir };
    p4_optee *t = NULL;
    p4_error err;
    int rc = p4_optee_open(&t, &opt, &err);
    if (rc != P4_OK) fail_msg("p4_optee_open: %s", err.message);
    return t;
}

static double epsilon_of(const p4_dp_phase *phases, int n)
{
    double eps;
    assert_int_equal(p4_rdp_epsilon(phases, n, 1e-5, NULL, 0, &eps, NULL, NULL), P4_OK);
    return eps;
}

static void ledger_refuses_past_target(void **state)
{
    const char *dir = *state;
    p4_optee *t = open_ta(dir, 2.0, 0);
    p4_error err;
    double after = 0, spent = -1;
    assert_int_equal(p4_optee_charge(t, 0.01, 1.0, 100, &after, &err), P4_OK);
    p4_dp_phase phase = { 0.01, 1.0, 100 };
    assert_true(fabs(after - epsilon_of(&phase, 1)) < 1e-11 * after);
    long long steps = 100;
    int rc;
    for (int i = 0; i < 200 && (rc = p4_optee_charge(t, 0.01, 1.0, 500, &after, &err)) == P4_OK; i++)
        steps += 500; /* 2.0 is reached within ~40 charges */
    assert_int_equal(rc, P4_EBUDGET);
    assert_non_null(strstr(err.message, "refuses"));
    assert_int_equal(p4_optee_spent(t, &spent, &err), P4_OK);
    phase.steps = steps;
    assert_true(fabs(spent - epsilon_of(&phase, 1)) < 1e-11 * spent);
    assert_true(spent <= 2.0);
    phase.steps = steps + 500;
    assert_true(epsilon_of(&phase, 1) > 2.0); /* the refused charge would have passed it */
    /* A smaller charge that fits is still allowed. */
    assert_int_equal(p4_optee_charge(t, 0.01, 1.0, 1, &after, &err), P4_OK);
    p4_optee_close(&t);
    assert_null(t);
}

static void spend_survives_panic_and_reopen(void **state)
{
    const char *dir = *state;
    p4_optee *t = open_ta(dir, 5.0, 0);
    p4_error err;
    double before, after;
    assert_int_equal(p4_optee_charge(t, 0.02, 1.2, 300, NULL, &err), P4_OK);
    assert_int_equal(p4_optee_charge(t, 0.05, 2.0, 100, NULL, &err), P4_OK);
    assert_int_equal(p4_optee_spent(t, &before, &err), P4_OK);
    assert_true(before > 0);

    assert_int_equal(p4_optee_test_command(t, P4_TA_CMD_TEST_PANIC, 0, &err), P4_ESTATE);
    assert_non_null(strstr(err.message, "reopened"));
    assert_int_equal(p4_optee_reopens(t), 1);
    assert_int_equal(p4_optee_spent(t, &after, &err), P4_OK);
    assert_true(after == before);
    /* The reopened session keeps charging on top of the stored spend. */
    assert_int_equal(p4_optee_charge(t, 0.02, 1.2, 10, NULL, &err), P4_OK);
    assert_int_equal(p4_optee_spent(t, &before, &err), P4_OK);
    p4_dp_phase phases[2] = { { 0.02, 1.2, 310 }, { 0.05, 2.0, 100 } };
    assert_true(fabs(before - epsilon_of(phases, 2)) < 1e-11 * before);
    p4_optee_close(&t);

    /* A new process (session) reads the same ledger from secure storage. */
    t = open_ta(dir, 5.0, 0);
    assert_int_equal(p4_optee_spent(t, &after, &err), P4_OK);
    assert_true(after == before);
    p4_optee_close(&t);

    /* The target is fixed at creation: asking for another is refused. */
    p4_optee_options opt = { .delta = 1e-5, .target_epsilon = 50.0, .storage_dir = dir };
    assert_int_equal(p4_optee_open(&t, &opt, &err), P4_ESTATE);
    assert_null(t);
    assert_non_null(strstr(err.message, "target epsilon 5"));
}

/* Mean and variance of the TA's noise: chi-square bound at ~6 standard errors. */
static void add_noise_has_the_asked_distribution(void **state)
{
    const char *dir = *state;
    p4_optee *t = open_ta(dir, 5.0, 0);
    p4_error err;
    const size_t n = 200000;
    const double stddev = 2.5;
    float *v = malloc(n * sizeof *v), *w = malloc(n * sizeof *w);
    for (size_t i = 0; i < n; i++) v[i] = (float)(i % 7) - 3.0f;
    memcpy(w, v, n * sizeof *v);
    assert_int_equal(p4_optee_add_noise(t, v, n, stddev, &err), P4_OK);
    double sum = 0, sum2 = 0;
    size_t unchanged = 0;
    for (size_t i = 0; i < n; i++) {
        double z = ((double)v[i] - w[i]) / stddev;
        sum += z;
        sum2 += z * z;
        unchanged += v[i] == w[i];
    }
    assert_true(fabs(sum / n) < 6.0 / sqrt((double)n));
    assert_true(fabs(sum2 - n) < 6.0 * sqrt(2.0 * n));
    assert_true(unchanged < 10); /* every value came back noised */
    double spent;
    assert_int_equal(p4_optee_spent(t, &spent, &err), P4_OK);
    assert_true(spent == 0.0); /* ADD_NOISE charges nothing by itself */
    p4_optee_close(&t);

    /* Another session draws other noise on the same values: its key comes
     * from TEE_GenerateRandom, nothing the normal world chose or saw. */
    float *again = malloc(n * sizeof *again);
    memcpy(again, w, n * sizeof *w);
    t = open_ta(dir, 5.0, 0);
    assert_int_equal(p4_optee_add_noise(t, again, n, stddev, &err), P4_OK);
    size_t same = 0;
    for (size_t i = 0; i < n; i++) same += again[i] == v[i];
    assert_true(same < n / 100);
    p4_optee_close(&t);
    free(v);
    free(w);
    free(again);
}

static void release_rows_clips_and_charges(void **state)
{
    const char *dir = *state;
    p4_optee *t = open_ta(dir, 100.0, 0);
    p4_error err;
    enum { N = 400, C = 10 };
    const double clip = 1.0, sigma = 4.0;
    static float rows[N * C];
    for (int i = 0; i < N; i++)
        for (int k = 0; k < C; k++) rows[i * C + k] = k == 0 ? 1000.0f : 0.0f;
    assert_int_equal(p4_optee_release_rows(t, rows, N, C, clip, sigma, &err), P4_OK);
    /* Clipped to [1, 0, ...] before noise of stddev sigma * clip: column 0
     * averages 1, not 1000; every column varies by sigma^2. */
    for (int k = 0; k < C; k++) {
        double s = 0, s2 = 0;
        for (int i = 0; i < N; i++) s += rows[i * C + k];
        double mean = s / N, want = k == 0 ? 1.0 : 0.0;
        for (int i = 0; i < N; i++) s2 += (rows[i * C + k] - want) * (rows[i * C + k] - want);
        if (fabs(mean - want) > 6.0 * sigma * clip / sqrt(N))
            fail_msg("column %d averages %g, want %g", k, mean, want);
        assert_true(fabs(s2 / (sigma * sigma) - N) < 6.0 * sqrt(2.0 * N));
    }
    /* Charged as one Gaussian release with noise multiplier sigma / (2 sqrt N). */
    double spent;
    assert_int_equal(p4_optee_spent(t, &spent, &err), P4_OK);
    p4_dp_phase release = { 1.0, sigma / (2.0 * sqrt(N)), 1 };
    assert_true(fabs(spent - epsilon_of(&release, 1)) < 1e-11 * spent);
    p4_optee_close(&t);
}

static void release_past_target_leaves_rows(void **state)
{
    const char *dir = *state;
    p4_optee *t = open_ta(dir, 1.0, 0);
    p4_error err;
    float rows[4 * 3], before[4 * 3];
    for (int i = 0; i < 12; i++) rows[i] = before[i] = (float)i;
    /* sigma 0.5 over 4 rows: noise multiplier 0.125, far past epsilon 1. */
    assert_int_equal(p4_optee_release_rows(t, rows, 4, 3, 1.0, 0.5, &err), P4_EBUDGET);
    assert_memory_equal(rows, before, sizeof rows);
    double spent;
    assert_int_equal(p4_optee_spent(t, &spent, &err), P4_OK);
    assert_true(spent == 0.0);
    /* Non-finite values are refused before any charge. */
    rows[5] = NAN;
    assert_int_equal(p4_optee_release_rows(t, rows, 4, 3, 1.0, 100.0, &err), P4_EINVAL);
    assert_int_equal(p4_optee_spent(t, &spent, &err), P4_OK);
    assert_true(spent == 0.0);
    p4_optee_close(&t);
}

static void ta_memory_bound_refuses_cleanly(void **state)
{
    const char *dir = *state;
    p4_optee *t = open_ta(dir, 5.0, 1);
    p4_error err;
    const size_t n = 512 * 1024; /* 2 MiB of floats in a 1 MiB TA */
    float *v = calloc(n, sizeof *v);
    assert_int_equal(p4_optee_add_noise(t, v, n, 1.0, &err), P4_ENOMEM);
    assert_non_null(strstr(err.message, "ta_memory_mib"));
    for (size_t i = 0; i < n; i++) assert_true(v[i] == 0.0f); /* left as it was */
    assert_int_equal(p4_optee_add_noise(t, v, 1000, 1.0, &err), P4_OK);
    assert_int_equal(p4_optee_reopens(t), 0); /* a refusal, not a crash */
    free(v);
    p4_optee_close(&t);
}

static void bad_arguments_are_refused(void **state)
{
    const char *dir = *state;
    p4_error err;
    p4_optee *t = NULL;
    p4_optee_options opt = { .delta = 1e-5, .target_epsilon = INFINITY, .storage_dir = dir };
    assert_int_equal(p4_optee_open(&t, &opt, &err), P4_EINVAL);
    opt.target_epsilon = 3.0;
    opt.storage_dir = NULL;
    assert_int_equal(p4_optee_open(&t, &opt, &err), P4_EINVAL);
    opt.storage_dir = dir;
    opt.ta_dir = "/nonexistent";
    assert_int_equal(p4_optee_open(&t, &opt, &err), P4_EUNSUPPORTED);
    assert_non_null(strstr(err.message, P4_TA_UUID_TEXT));
    assert_non_null(strstr(p4_optee_protection(), "harness"));
    t = open_ta(dir, 3.0, 0);
    assert_int_equal(p4_optee_charge(t, 0, 1.0, 1, NULL, &err), P4_EINVAL);
    assert_int_equal(p4_optee_charge(t, 0.1, INFINITY, 1, NULL, &err), P4_EINVAL);
    assert_int_equal(p4_optee_add_noise(t, NULL, 3, 1.0, &err), P4_EINVAL);
    assert_int_equal(p4_optee_release_rows(t, NULL, 1, 1, 1.0, 1.0, &err), P4_EINVAL);
    p4_optee_close(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(ledger_refuses_past_target, test_temp_dir_setup,
                                        test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(spend_survives_panic_and_reopen, test_temp_dir_setup,
                                        test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(add_noise_has_the_asked_distribution, test_temp_dir_setup,
                                        test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(release_rows_clips_and_charges, test_temp_dir_setup,
                                        test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(release_past_target_leaves_rows, test_temp_dir_setup,
                                        test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(ta_memory_bound_refuses_cleanly, test_temp_dir_setup,
                                        test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(bad_arguments_are_refused, test_temp_dir_setup,
                                        test_temp_dir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
