/* test_ledger.c: the durable budget ledger.  Spend survives reopening,
 * a step past the target is refused with spent and allowed in the message,
 * settings cannot silently change, bad files are clear errors, and a DP
 * training process killed with SIGKILL at random points never leaves the
 * ledger counting fewer steps than it actually took.  The ledger holds
 * across handles and processes: each sees the others' records, a run's
 * reservation holds until it ends (however it ends), many processes
 * recording at once never pass the target, and of two `p4 train` runs
 * started together on a budget that pays for one, one finishes and the
 * other is refused. */
#include "support/test_support.h"

#include <dirent.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dp/dpsgd.h"
#include "dp/ledger.h"
#include "model/model.h"
#include "model/optimizer.h"
#include "tee/enclave.h"

static char *path_in(const char *dir, const char *name)
{
    char *p = malloc(strlen(dir) + strlen(name) + 2);
    sprintf(p, "%s/%s", dir, name);
    return p;
}

static void spend_survives_reopen(void **state)
{
    (void)state;
    char *dir = test_make_temp_dir();
    char *db = path_in(dir, "node.db");
    p4_ledger *l = NULL;
    p4_error err = {0};
    assert_int_equal(p4_ledger_open(db, 8.0, 1e-5, &l, &err), P4_OK);
    double spent;
    assert_int_equal(p4_ledger_spent(l, &spent, &err), P4_OK);
    assert_true(spent == 0.0);
    assert_int_equal(p4_ledger_record(l, "proxy", "warmup", 0.01, 1.0, 100, &err), P4_OK);
    assert_int_equal(p4_ledger_record(l, "proxy", "cotrain", 0.02, 1.2, 300, &err), P4_OK);
    assert_int_equal(p4_ledger_record(l, "proxy", "cotrain", 0.02, 1.2, 200, &err), P4_OK);
    double before;
    assert_int_equal(p4_ledger_spent(l, &before, &err), P4_OK);
    p4_ledger_close(&l);
    assert_null(l);

    /* The spend equals the accountant's composition of what was recorded. */
    p4_dp_phase phases[2] = { { 0.01, 1.0, 100 }, { 0.02, 1.2, 500 } };
    double expected;
    p4_rdp_epsilon(phases, 2, 1e-5, NULL, 0, &expected, NULL, NULL);
    assert_true(fabs(before - expected) < 1e-12);

    assert_int_equal(p4_ledger_open(db, 8.0, 1e-5, &l, &err), P4_OK);
    double after;
    long long steps;
    assert_int_equal(p4_ledger_spent(l, &after, &err), P4_OK);
    assert_int_equal(p4_ledger_total_steps(l, &steps, &err), P4_OK);
    assert_true(after == before);
    assert_int_equal(steps, 600);
    p4_dp_phase *got = NULL;
    int n = 0;
    assert_int_equal(p4_ledger_phases(l, 0, &got, &n, &err), P4_OK);
    assert_int_equal(n, 2);
    assert_int_equal(got[1].steps, 500);
    free(got);
    p4_ledger_close(&l);

    /* Opened for a report, it adopts the stored settings. */
    assert_int_equal(p4_ledger_open_existing(db, &l, &err), P4_OK);
    assert_true(p4_ledger_delta(l) == 1e-5 && p4_ledger_target(l) == 8.0);
    char *report = path_in(dir, "report.txt");
    FILE *f = fopen(report, "w+");
    assert_int_equal(p4_ledger_report(l, f, &err), P4_OK);
    rewind(f);
    char text[2048] = "";
    size_t len = fread(text, 1, sizeof text - 1, f);
    text[len] = '\0';
    fclose(f);
    assert_non_null(strstr(text, "warmup"));
    assert_non_null(strstr(text, "cotrain"));
    char total[64];
    snprintf(total, sizeof total, "%.4f", before);
    assert_non_null(strstr(text, total));
    p4_ledger_close(&l);
    free(report);
    free(db);
    test_remove_tree(dir);
}

/* got[0..n) are want[0..n), in order and to the bit. */
static void assert_same_phases(const p4_dp_phase *got, const p4_dp_phase *want, int n)
{
    for (int i = 0; i < n; i++) {
        assert_true(got[i].sample_rate == want[i].sample_rate);
        assert_true(got[i].noise_multiplier == want[i].noise_multiplier);
        assert_int_equal(got[i].steps, want[i].steps);
    }
}

/* Every restart that recalibrates the noise adds a (q, sigma) phase: a
 * ledger of 40 of them (more than callers once had room for) is read whole,
 * in order, with room for the caller's one more. */
static void forty_phases_are_all_read(void **state)
{
    const char *dir = *state;
    char db[1100];
    test_path_in(dir, "forty.db", db, sizeof db);
    p4_ledger *l = NULL;
    p4_error err = {0};
    assert_int_equal(p4_ledger_open(db, 1000.0, 1e-5, &l, &err), P4_OK);
    enum { PHASES = 40 };
    p4_dp_phase want[PHASES + 1];
    for (int i = 0; i < PHASES; i++) {
        want[i] = (p4_dp_phase){ 0.01, 1.0 + 0.05 * i, 10 + i };
        assert_int_equal(p4_ledger_record(l, "proxy", "cotrain", want[i].sample_rate,
                                          want[i].noise_multiplier, want[i].steps, &err),
                         P4_OK);
    }
    p4_dp_phase *got = NULL;
    int n = 0;
    assert_int_equal(p4_ledger_phases(l, 1, &got, &n, &err), P4_OK);
    assert_int_equal(n, PHASES);
    assert_same_phases(got, want, PHASES);
    got[n] = (p4_dp_phase){ 1.0, 2.0, 1 }; /* the spare slot is the caller's */
    /* what the ledger spent is the composition of exactly these phases */
    double spent, expected;
    assert_int_equal(p4_ledger_spent(l, &spent, &err), P4_OK);
    p4_rdp_epsilon(got, n, 1e-5, NULL, 0, &expected, NULL, NULL);
    assert_true(fabs(spent - expected) < 1e-12);
    free(got);
    assert_int_equal(p4_ledger_phases(l, -1, &got, &n, &err), P4_EINVAL);
    p4_ledger_close(&l);
}

/* A ledger once held at most 63 distinct (q, sigma) mechanisms (a fixed
 * array): the 64th was refused, so a node that had recalibrated its noise
 * often enough could no longer train or even report.  Now 100 recorded
 * mechanisms and 72 reserved by 9 runs (8 each, a plan's most) are all
 * counted: read back in order, composed into the spend, checked against the
 * target; and rows written into the file by another writer (the schema is
 * unchanged) are read on reopening. */
static void more_than_63_mechanisms_are_recorded_and_read_back(void **state)
{
    const char *dir = *state;
    char db[1100];
    test_path_in(dir, "many.db", db, sizeof db);
    p4_ledger *l = NULL;
    p4_error err = {0};
    enum { RECORDED = 100, RUNS = 9, PLAN = 8, ADDED = 20 };
    p4_dp_phase want[RECORDED + ADDED];
    for (int i = 0; i < RECORDED + ADDED; i++)
        want[i] = (p4_dp_phase){ 0.001 * (1 + i % 7), 40.0 + 0.5 * i, 1 + i % 5 };
    double expected = 0;
    p4_rdp_epsilon(want, RECORDED, 1e-5, NULL, 0, &expected, NULL, NULL);
    /* room for the 100 and the reservations below, not for the large step */
    assert_int_equal(p4_ledger_open(db, 4 * expected, 1e-5, &l, &err), P4_OK);
    for (int i = 0; i < RECORDED; i++)
        if (p4_ledger_record(l, "proxy", "cotrain", want[i].sample_rate,
                             want[i].noise_multiplier, want[i].steps, &err) != P4_OK)
            fail_msg("mechanism %d: %s", i + 1, err.message);
    p4_dp_phase *got = NULL;
    int n = 0;
    assert_int_equal(p4_ledger_phases(l, 0, &got, &n, &err), P4_OK);
    assert_int_equal(n, RECORDED);
    assert_same_phases(got, want, RECORDED);
    free(got);
    double spent = -1;
    assert_int_equal(p4_ledger_spent(l, &spent, &err), P4_OK);
    assert_true(fabs(spent - expected) <= 1e-12 * expected);
    long long steps = 0;
    assert_int_equal(p4_ledger_total_steps(l, &steps, &err), P4_OK);
    long long want_steps = 0;
    for (int i = 0; i < RECORDED; i++)
        want_steps += want[i].steps;
    assert_int_equal(steps, want_steps);

    /* 9 runs (handles of this process: OFD locks tell them apart) each
     * reserve 8 mechanisms of their own; the first handle sees all 72. */
    p4_ledger *run[RUNS] = { NULL };
    p4_dp_phase reserved[RUNS * PLAN];
    for (int r = 0; r < RUNS; r++) {
        for (int k = 0; k < PLAN; k++)
            reserved[r * PLAN + k] = (p4_dp_phase){ 0.002, 90.0 + r * PLAN + k, 1 };
        assert_int_equal(p4_ledger_open(db, 4 * expected, 1e-5, &run[r], &err), P4_OK);
        if (p4_ledger_reserve_plan(run[r], reserved + r * PLAN, PLAN, NULL, &err) != P4_OK)
            fail_msg("run %d's plan: %s", r, err.message);
    }
    p4_dp_phase all[RECORDED + RUNS * PLAN];
    memcpy(all, want, RECORDED * sizeof all[0]);
    memcpy(all + RECORDED, reserved, sizeof reserved);
    double with_reserved = 0, seen = -1;
    p4_rdp_epsilon(all, RECORDED + RUNS * PLAN, 1e-5, NULL, 0, &with_reserved, NULL, NULL);
    int runs = -1;
    assert_int_equal(p4_ledger_reserved(l, &runs, &seen, &err), P4_OK);
    assert_int_equal(runs, RUNS);
    assert_true(with_reserved > spent);
    assert_true(fabs(seen - with_reserved) <= 1e-12 * with_reserved);
    /* a step past the target is still refused, naming what is spent */
    assert_int_equal(p4_ledger_record(l, "proxy", "cotrain", 1.0, 0.5, 1000, &err), P4_EBUDGET);
    assert_non_null(strstr(err.message, "9 runs in progress"));
    for (int r = 0; r < RUNS; r++)
        p4_ledger_close(&run[r]);
    p4_ledger_close(&l);

    /* 20 more rows written straight into the file, as another writer (any
     * version: the schema is the same) would. */
    sqlite3 *raw = NULL;
    assert_int_equal(sqlite3_open(db, &raw), SQLITE_OK);
    for (int i = RECORDED; i < RECORDED + ADDED; i++) {
        char sql[256];
        assert_true(snprintf(sql, sizeof sql,
                             "INSERT INTO dp_steps(model, phase, sample_rate, noise_multiplier, "
                             "steps) VALUES ('proxy', 'cotrain', %.17g, %.17g, %lld)",
                             want[i].sample_rate, want[i].noise_multiplier,
                             want[i].steps) < (int)sizeof sql);
        assert_int_equal(sqlite3_exec(raw, sql, NULL, NULL, NULL), SQLITE_OK);
    }
    sqlite3_close(raw);
    assert_int_equal(p4_ledger_open_existing(db, &l, &err), P4_OK);
    assert_int_equal(p4_ledger_phases(l, 1, &got, &n, &err), P4_OK);
    assert_int_equal(n, RECORDED + ADDED);
    assert_same_phases(got, want, RECORDED + ADDED);
    free(got);
    p4_rdp_epsilon(want, RECORDED + ADDED, 1e-5, NULL, 0, &expected, NULL, NULL);
    assert_int_equal(p4_ledger_spent(l, &spent, &err), P4_OK);
    assert_true(fabs(spent - expected) <= 1e-12 * expected);
    p4_ledger_row rows[RECORDED + ADDED];
    assert_int_equal(p4_ledger_rows(l, rows, RECORDED + ADDED, &n, &err), P4_OK);
    assert_int_equal(n, RECORDED + ADDED);
    char *json = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&json, &len);
    assert_non_null(f);
    assert_int_equal(p4_ledger_report_json(l, f, &err), P4_OK);
    fclose(f);
    char sigma_last[64];
    snprintf(sigma_last, sizeof sigma_last, "\"noise_multiplier\":%g",
             want[RECORDED + ADDED - 1].noise_multiplier);
    if (!strstr(json, sigma_last))
        fail_msg("p4 budget --json lacks %s", sigma_last);
    free(json);
    p4_ledger_close(&l);
}

static void refuses_past_target(void **state)
{
    (void)state;
    char *dir = test_make_temp_dir();
    char *db = path_in(dir, "node.db");
    p4_ledger *l = NULL;
    p4_error err = {0};
    assert_int_equal(p4_ledger_open(db, 2.0, 1e-5, &l, &err), P4_OK);
    /* Record in blocks until refused; the spend never passes the target. */
    int rc = P4_OK, blocks = 0;
    while (rc == P4_OK && blocks < 10000) {
        rc = p4_ledger_record(l, "proxy", "train", 0.01, 1.0, 50, &err);
        blocks++;
    }
    assert_int_equal(rc, P4_EBUDGET);
    assert_non_null(strstr(err.message, "spent epsilon"));
    assert_non_null(strstr(err.message, "allowed 2.0000"));
    double spent;
    p4_ledger_spent(l, &spent, NULL);
    assert_true(spent <= 2.0 && spent > 1.9);
    long long steps;
    p4_ledger_total_steps(l, &steps, NULL);
    assert_int_equal(steps, (blocks - 1) * 50LL); /* the refused block is not recorded */
    /* check agrees with record, without writing. */
    assert_int_equal(p4_ledger_check(l, "proxy", 0.01, 1.0, 50, NULL, &err), P4_EBUDGET);
    p4_ledger_close(&l);
    free(db);
    test_remove_tree(dir);
}

static void settings_and_bad_files(void **state)
{
    (void)state;
    char *dir = test_make_temp_dir();
    char *db = path_in(dir, "node.db");
    p4_ledger *l = NULL;
    p4_error err = {0};
    assert_int_equal(p4_ledger_open(db, 4.0, 1e-5, &l, &err), P4_OK);
    p4_ledger_close(&l);
    assert_int_equal(p4_ledger_open(db, 4.0, 1e-6, &l, &err), P4_ESTATE);
    assert_non_null(strstr(err.message, "delta"));
    assert_int_equal(p4_ledger_open(db, 8.0, 1e-5, &l, &err), P4_ESTATE);
    assert_non_null(strstr(err.message, "target epsilon"));
    assert_int_equal(p4_ledger_open(db, 4.0, 0.0, &l, &err), P4_EINVAL);
    assert_null(l);

    char *garbage = path_in(dir, "garbage.db");
    char junk[4096];
    for (size_t i = 0; i < sizeof junk; i++) junk[i] = (char)(i * 37 + 11);
    assert_int_equal(test_write_file(garbage, junk, sizeof junk), 0);
    assert_int_equal(p4_ledger_open(garbage, 4.0, 1e-5, &l, &err), P4_ESTATE);
    assert_non_null(strstr(err.message, garbage));
    char *missing = path_in(dir, "missing.db");
    assert_int_equal(p4_ledger_open_existing(missing, &l, &err), P4_ESTATE);
    assert_int_equal(access(missing, F_OK), -1); /* a report never creates a ledger */

    assert_int_equal(p4_ledger_open(db, 4.0, 1e-5, &l, &err), P4_OK);
    assert_int_equal(p4_ledger_record(l, "proxy", "train", 1.5, 1.0, 1, &err), P4_EINVAL);
    assert_int_equal(p4_ledger_record(l, "proxy", "train", 0.1, -1.0, 1, &err), P4_EINVAL);
    assert_int_equal(p4_ledger_record(l, "proxy", "train", 0.1, 1.0, 0, &err), P4_EINVAL);
    p4_ledger_close(&l);
    free(garbage);
    free(missing);
    free(db);
    test_remove_tree(dir);
}

/* --- SIGKILL during DP training ------------------------------------------ */

#define KILL_EXAMPLES 400
#define KILL_Q 0.025 /* 40 steps per epoch: (step + 1) * 400 / 40 = 10 (step + 1) */

typedef struct { int fd; } step_pipe;

/* Called after each DP step is taken: tells the parent one more step. */
static void report_step(void *user, long long done, long long total)
{
    (void)done; (void)total;
    const step_pipe *p = user;
    char one = 1;
    if (write(p->fd, &one, 1) != 1) _exit(3);
}

/* The child: DP-SGD epochs on a logistic regression until killed. */
static void child_train(const char *db, int fd, uint64_t seed)
{
    p4_error err = {0};
    p4_dataset *ds = NULL;
    if (p4_dataset_new(&ds, "synthetic", KILL_EXAMPLES, 28, 28, 1, 10, &err)) _exit(4);
    p4_rng rng;
    p4_rng_init_seeded(&rng, seed, "data");
    p4_rng_bytes(&rng, ds->pixels, (size_t)KILL_EXAMPLES * 784);
    int idx[KILL_EXAMPLES];
    for (int i = 0; i < KILL_EXAMPLES; i++) { ds->labels[i] = (uint16_t)(i % 10); idx[i] = i; }
    const p4_cfg_shape shape = { 28, 28, 1, 10 };
    p4_model *m = NULL;
    p4_sgd *sgd = NULL;
    p4_enclave *enclave = NULL;
    p4_dpsgd *dp = NULL;
    p4_ledger *ledger = NULL;
    p4_dpsgd_params params = { KILL_Q, 1.0, 1.0 };
    if (p4_ledger_open(db, INFINITY, 1e-5, &ledger, &err) ||
        p4_model_new(&m, "configs/models/logreg-28x28x1.cfg", &shape, 32, seed, &err) ||
        p4_sgd_new(&sgd, m, 0.05, 0, 0, &err) ||
        p4_enclave_open_software(&enclave, 1, seed, &err) ||
        p4_dpsgd_new(&dp, m, sgd, &params, enclave, &err)) {
        fprintf(stderr, "child: %s\n", err.message);
        _exit(5);
    }
    step_pipe p = { fd };
    for (;;)
        if (p4_dpsgd_epoch(dp, ds, idx, KILL_EXAMPLES, &rng, ledger, "proxy", "train",
                           report_step, &p, NULL, &err))
            _exit(6);
}

static void sigkill_never_undercounts(void **state)
{
    (void)state;
    char *dir = test_make_temp_dir();
    char *db = path_in(dir, "node.db");
    p4_rng rng;
    p4_rng_init_seeded(&rng, (uint64_t)time(NULL), "kill-times");
    long long taken = 0;
    for (int round = 0; round < 8; round++) {
        int fds[2];
        assert_int_equal(pipe(fds), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            child_train(db, fds[1], 100 + (uint64_t)round);
        }
        close(fds[1]);
        /* Let it take a random number of steps (0..60), then kill at once,
         * anywhere in the step, the ledger write or the fsync. */
        int target = (int)p4_rng_below(&rng, 61), seen = 0;
        char one;
        while (seen < target && read(fds[0], &one, 1) == 1) seen++;
        usleep((useconds_t)p4_rng_below(&rng, 3000));
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        while (read(fds[0], &one, 1) == 1) seen++; /* steps reported before death */
        close(fds[0]);
        assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        taken += seen;

        p4_ledger *l = NULL;
        p4_error err = {0};
        long long recorded;
        assert_int_equal(p4_ledger_open(db, INFINITY, 1e-5, &l, &err), P4_OK);
        assert_int_equal(p4_ledger_total_steps(l, &recorded, &err), P4_OK);
        p4_ledger_close(&l);
        print_message("round %d: %lld steps taken so far, %lld recorded\n", round, taken, recorded);
        assert_true(recorded >= taken);
        /* Over-counting is bounded by one reserved block per run. */
        assert_true(recorded <= taken + 16LL * (round + 1));
    }
    free(db);
    test_remove_tree(dir);
}

/* --- across handles and processes --------------------------------------- */

static double spent_of(p4_ledger *l)
{
    double eps = -1;
    p4_error err = {0};
    if (p4_ledger_spent(l, &eps, &err) != P4_OK) fail_msg("%s", err.message);
    return eps;
}

static long long steps_of(p4_ledger *l)
{
    long long steps = -1;
    p4_error err = {0};
    if (p4_ledger_total_steps(l, &steps, &err) != P4_OK) fail_msg("%s", err.message);
    return steps;
}

/* Rows of a table, read with a connection of its own. */
static long long count_rows(const char *db, const char *table)
{
    sqlite3 *c = NULL;
    sqlite3_stmt *st = NULL;
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM %s", table);
    assert_int_equal(sqlite3_open_v2(db, &c, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(c, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    long long n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(c);
    return n;
}

static void two_handles_see_each_other(void **state)
{
    char db[PATH_MAX];
    test_path_in(*state, "node.db", db, sizeof db);
    p4_ledger *a = NULL, *b = NULL;
    p4_error err = {0};
    assert_int_equal(p4_ledger_open(db, 2.0, 1e-5, &a, &err), P4_OK);
    assert_int_equal(p4_ledger_open(db, 2.0, 1e-5, &b, &err), P4_OK);
    assert_int_equal(p4_ledger_record(a, "proxy", "train", 0.01, 1.0, 100, &err), P4_OK);
    /* b opened before a recorded: it still sees the record. */
    assert_true(spent_of(b) == spent_of(a) && spent_of(b) > 0);
    p4_dp_phase *ph = NULL;
    int n = 0;
    assert_int_equal(p4_ledger_phases(b, 0, &ph, &n, &err), P4_OK);
    assert_int_equal(n, 1);
    assert_int_equal(ph[0].steps, 100);
    free(ph);

    /* b records until refused, counting a's steps too. */
    int rc = P4_OK, blocks = 0;
    while (rc == P4_OK && blocks < 10000) {
        rc = p4_ledger_record(b, "proxy", "train", 0.01, 1.0, 50, &err);
        blocks++;
    }
    assert_int_equal(rc, P4_EBUDGET);
    assert_non_null(strstr(err.message, "spent epsilon"));
    assert_non_null(strstr(err.message, "of allowed 2.0000"));
    assert_int_equal(steps_of(b), 100 + (blocks - 1) * 50LL);

    /* a's view is the file's, not a copy from before b's records: refused
     * too, and the refusal leaves the file as it was. */
    double before = spent_of(a);
    long long steps_before = steps_of(a), rows_before = count_rows(db, "dp_steps");
    assert_true(before <= 2.0);
    assert_int_equal(p4_ledger_check(a, "proxy", 0.01, 1.0, 50, NULL, &err), P4_EBUDGET);
    assert_int_equal(p4_ledger_record(a, "proxy", "train", 0.01, 1.0, 50, &err), P4_EBUDGET);
    assert_non_null(strstr(err.message, "spent epsilon"));
    assert_true(spent_of(a) == before && spent_of(b) == before);
    assert_int_equal(steps_of(a), steps_before);
    assert_int_equal(count_rows(db, "dp_steps"), rows_before);
    p4_ledger_close(&a);
    p4_ledger_close(&b);
}

/* Steps at (0.01, 1.0) that fit in a target, found by recording blocks of
 * `block` into a scratch ledger. */
static long long steps_that_fit(const char *dir, double target, long long block)
{
    char db[PATH_MAX];
    test_path_in(dir, "scratch.db", db, sizeof db);
    p4_ledger *l = NULL;
    assert_int_equal(p4_ledger_open(db, target, 1e-5, &l, NULL), P4_OK);
    long long steps = 0;
    while (p4_ledger_record(l, "proxy", "train", 0.01, 1.0, block, NULL) == P4_OK)
        steps += block;
    p4_ledger_close(&l);
    return steps;
}

static void reservation_holds_for_others(void **state)
{
    char db[PATH_MAX];
    test_path_in(*state, "node.db", db, sizeof db);
    const long long fit = steps_that_fit(*state, 2.0, 10);
    const long long planned = fit * 2 / 3; /* one run fits, two do not */
    p4_ledger *a = NULL, *b = NULL;
    p4_error err = {0};
    assert_int_equal(p4_ledger_open(db, 2.0, 1e-5, &a, &err), P4_OK);
    assert_int_equal(p4_ledger_open(db, 2.0, 1e-5, &b, &err), P4_OK);
    const p4_dp_phase plan = { 0.01, 1.0, planned };
    double after = 0;
    assert_int_equal(p4_ledger_check_plan(b, &plan, 1, NULL, &err), P4_OK);
    assert_int_equal(p4_ledger_reserve_plan(a, &plan, 1, &after, &err), P4_OK);
    assert_true(after > 0 && after <= 2.0);
    assert_true(spent_of(b) == 0.0); /* reserved is not spent */
    int runs = 0;
    double reserved = 0;
    assert_int_equal(p4_ledger_reserved(b, &runs, &reserved, &err), P4_OK);
    assert_int_equal(runs, 1);
    assert_true(reserved == after);

    /* The same plan no longer fits for b, by check, reserve or records. */
    assert_int_equal(p4_ledger_check_plan(b, &plan, 1, NULL, &err), P4_EBUDGET);
    assert_non_null(strstr(err.message, "spent epsilon 0.0000 of allowed 2.0000"));
    assert_non_null(strstr(err.message, "1 run in progress reserved"));
    assert_int_equal(p4_ledger_reserve_plan(b, &plan, 1, NULL, &err), P4_EBUDGET);
    long long b_steps = 0;
    while (p4_ledger_record(b, "proxy", "train", 0.01, 1.0, 10, &err) == P4_OK)
        b_steps += 10;
    assert_int_equal(err.code, P4_EBUDGET);
    assert_true(b_steps < fit - planned + 10); /* b got only what a did not reserve */

    /* a's reservation pays for all of its steps. */
    for (long long done = 0; done < planned; done += 10) {
        long long block = planned - done < 10 ? planned - done : 10;
        if (p4_ledger_record(a, "proxy", "train", 0.01, 1.0, block, &err) != P4_OK)
            fail_msg("a's reserved block at %lld refused: %s", done, err.message);
    }
    assert_true(spent_of(a) <= 2.0);
    /* Used up: a's next block beyond the plan is refused like anyone's. */
    assert_int_equal(p4_ledger_record(a, "proxy", "train", 0.01, 1.0, 10, &err), P4_EBUDGET);

    /* Released (or closed), nothing is reserved any more. */
    assert_int_equal(p4_ledger_release(a, &err), P4_OK);
    assert_int_equal(p4_ledger_reserved(b, &runs, NULL, &err), P4_OK);
    assert_int_equal(runs, 0);
    assert_int_equal(count_rows(db, "dp_runs"), 0);
    p4_ledger_close(&a);
    p4_ledger_close(&b);

    /* A run that reserves and closes without recording gives it all back. */
    char db2[PATH_MAX];
    test_path_in(*state, "second.db", db2, sizeof db2);
    assert_int_equal(p4_ledger_open(db2, 2.0, 1e-5, &a, &err), P4_OK);
    assert_int_equal(p4_ledger_reserve_plan(a, &plan, 1, NULL, &err), P4_OK);
    p4_ledger_close(&a);
    assert_int_equal(p4_ledger_open(db2, 2.0, 1e-5, &b, &err), P4_OK);
    assert_int_equal(p4_ledger_reserve_plan(b, &plan, 1, NULL, &err), P4_OK);
    p4_ledger_close(&b);
}

static void dead_runs_reservation_is_dropped(void **state)
{
    char db[PATH_MAX];
    test_path_in(*state, "node.db", db, sizeof db);
    const long long planned = steps_that_fit(*state, 2.0, 10) * 2 / 3;
    const p4_dp_phase plan = { 0.01, 1.0, planned };
    int ready[2], hold[2];
    assert_int_equal(pipe(ready), 0);
    assert_int_equal(pipe(hold), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* Reserve, say so, and wait to be killed. */
        close(ready[0]);
        close(hold[1]);
        p4_ledger *l = NULL;
        char one = 1, byte;
        if (p4_ledger_open(db, 2.0, 1e-5, &l, NULL) || p4_ledger_reserve_plan(l, &plan, 1, NULL, NULL))
            _exit(3);
        if (write(ready[1], &one, 1) != 1) _exit(4);
        while (read(hold[0], &byte, 1) > 0) {}
        _exit(5);
    }
    close(ready[1]);
    close(hold[0]);
    char byte;
    assert_int_equal(read(ready[0], &byte, 1), 1);
    p4_ledger *l = NULL;
    p4_error err = {0};
    assert_int_equal(p4_ledger_open(db, 2.0, 1e-5, &l, &err), P4_OK);
    assert_int_equal(p4_ledger_reserve_plan(l, &plan, 1, NULL, &err), P4_EBUDGET);
    assert_non_null(strstr(err.message, "1 run in progress reserved"));

    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    close(ready[0]);
    close(hold[1]);
    /* The kernel dropped the dead run's lock: its reservation no longer
     * counts, and the next write deletes it. */
    int runs = -1;
    assert_int_equal(p4_ledger_reserved(l, &runs, NULL, &err), P4_OK);
    assert_int_equal(runs, 0);
    assert_int_equal(p4_ledger_reserve_plan(l, &plan, 1, NULL, &err), P4_OK);
    assert_int_equal(count_rows(db, "dp_runs"), 1);
    p4_ledger_close(&l);
    assert_int_equal(count_rows(db, "dp_runs"), 0);
}

#define RACERS 6
#define RACE_BLOCK 4
#define RACE_SIGMA 2.0

/* One racer: records blocks until refused; writes how many it recorded. */
static void race_child(const char *db, int go, int out)
{
    char byte;
    p4_ledger *l = NULL;
    p4_error err = {0};
    if (p4_ledger_open(db, 1.5, 1e-5, &l, &err)) _exit(3);
    if (read(go, &byte, 1) != 0) _exit(4); /* all start when the parent closes it */
    long long recorded = 0;
    int rc;
    while ((rc = p4_ledger_record(l, "proxy", "train", 0.02, RACE_SIGMA, RACE_BLOCK, &err)) == P4_OK)
        recorded++;
    if (rc != P4_EBUDGET || !strstr(err.message, "spent epsilon")) {
        fprintf(stderr, "racer: %s\n", err.message);
        _exit(5);
    }
    p4_ledger_close(&l);
    _exit(write(out, &recorded, sizeof recorded) == sizeof recorded ? 0 : 6);
}

static void many_processes_never_pass_the_target(void **state)
{
    char db[PATH_MAX];
    test_path_in(*state, "node.db", db, sizeof db);
    p4_ledger *l = NULL;
    p4_error err = {0};
    assert_int_equal(p4_ledger_open(db, 1.5, 1e-5, &l, &err), P4_OK); /* create before the race */
    int go[2], counts[2];
    assert_int_equal(pipe(go), 0);
    assert_int_equal(pipe(counts), 0);
    pid_t pids[RACERS];
    for (int k = 0; k < RACERS; k++) {
        pids[k] = fork();
        assert_true(pids[k] >= 0);
        if (pids[k] == 0) {
            close(go[1]);
            close(counts[0]);
            race_child(db, go[0], counts[1]);
        }
    }
    close(go[0]);
    close(counts[1]);
    close(go[1]); /* go */
    long long blocks = 0, one;
    for (int k = 0; k < RACERS; k++) {
        int status;
        waitpid(pids[k], &status, 0);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    int got = 0;
    while (read(counts[0], &one, sizeof one) == sizeof one) {
        blocks += one;
        got++;
    }
    close(counts[0]);
    assert_int_equal(got, RACERS);
    /* Every block a racer was told was recorded is in the file, no more,
     * the total is within the target, and the budget really is used up. */
    print_message("%d processes recorded %lld blocks of %d steps\n", RACERS, blocks, RACE_BLOCK);
    assert_int_equal(steps_of(l), blocks * RACE_BLOCK);
    assert_true(spent_of(l) <= 1.5);
    assert_int_equal(p4_ledger_check(l, "proxy", 0.02, RACE_SIGMA, RACE_BLOCK, NULL, &err), P4_EBUDGET);
    p4_ledger_close(&l);
}

/* --- two `p4 train` runs on one ledger ----------------------------------- */

#define FMNIST "/usr/share/datasets/fashion-mnist"

/* Has process pid, running program exe, opened the file at path?  (Before
 * its exec, a forked child still holds its parent's files.) */
static int has_open(pid_t pid, const char *exe, const char *path)
{
    char fd_dir[64], link[PATH_MAX], target[PATH_MAX];
    snprintf(link, sizeof link, "/proc/%d/exe", (int)pid);
    ssize_t len = readlink(link, target, sizeof target - 1);
    if (len <= 0) return 0;
    target[len] = '\0';
    if (strcmp(target, exe) != 0) return 0;
    snprintf(fd_dir, sizeof fd_dir, "/proc/%d/fd", (int)pid);
    DIR *d = opendir(fd_dir);
    if (!d) return 0;
    int found = 0;
    struct dirent *e;
    while (!found && (e = readdir(d)) != NULL) {
        snprintf(link, sizeof link, "%s/%s", fd_dir, e->d_name);
        ssize_t n = readlink(link, target, sizeof target - 1);
        if (n > 0) {
            target[n] = '\0';
            found = strcmp(target, path) == 0;
        }
    }
    closedir(d);
    return found;
}

static pid_t start_train(const char *bin, const char *ini, const char *db, const char *out)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (!freopen(out, "w", stdout) || dup2(fileno(stdout), 2) < 0) _exit(126);
        execl(bin, bin, "train", "--config", ini, "--state", db, (char *)NULL);
        _exit(127);
    }
    return pid;
}

static char *read_all(const char *path)
{
    static char text[16384];
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    return text;
}

/* The number after "key": in a JSON object (NAN if absent or null). */
static double json_number(const char *json, const char *key)
{
    char quoted[64];
    snprintf(quoted, sizeof quoted, "\"%s\":", key);
    const char *at = strstr(json, quoted);
    if (!at || strncmp(at + strlen(quoted), "null", 4) == 0) return NAN;
    return strtod(at + strlen(quoted), NULL);
}

static void two_trainings_one_budget(void **state)
{
    const char *bin = getenv("P4_BIN");
    if (!bin) TEST_SKIP("P4_BIN is not set (run through ctest)");
    if (!test_dataset_path(FMNIST)) TEST_SKIP(FMNIST " is absent (apt-get install dataset-fashion-mnist)");
    const char *dir = *state;
    char model[PATH_MAX], ini[PATH_MAX], db[PATH_MAX], out[2][PATH_MAX], text[PATH_MAX + 512];
    assert_non_null(realpath("configs/models/mlp-28x28x1.cfg", model));
    /* Each run is calibrated to spend the whole target alone: one fits, two cannot. */
    snprintf(text, sizeof text,
             "[data]\ndataset = fashion-mnist\npath = " FMNIST "\npartition = iid\nclients = 1\n"
             "seed = 1\nmax_train = 4000\nmax_test = 500\n"
             "[model]\ncfg = %s\nepochs = 3\nbatch = 64\nlearning_rate = 0.1\nseed = 1\n"
             "[dp]\ntarget_epsilon = 2\ndelta = 1e-5\nclip_norm = 1.0\n", model);
    test_write_text(dir, "two.ini", text, ini, sizeof ini);
    test_path_in(dir, "node.db", db, sizeof db);
    test_path_in(dir, "run0.txt", out[0], sizeof out[0]);
    test_path_in(dir, "run1.txt", out[1], sizeof out[1]);

    /* Hold the ledger's writer lock while both start, so both have loaded
     * their data and wait at the ledger together; then let them race. */
    p4_ledger *l = NULL;
    assert_int_equal(p4_ledger_open(db, 2.0, 1e-5, &l, NULL), P4_OK);
    p4_ledger_close(&l);
    char db_real[PATH_MAX], bin_real[PATH_MAX];
    assert_non_null(realpath(db, db_real));
    assert_non_null(realpath(bin, bin_real));
    sqlite3 *gate = NULL;
    assert_int_equal(sqlite3_open(db, &gate), SQLITE_OK);
    assert_int_equal(sqlite3_exec(gate, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    pid_t pid[2] = { start_train(bin, ini, db, out[0]), start_train(bin, ini, db, out[1]) };
    for (int waited = 0; waited < 6000; waited++) { /* at most 60 s */
        if (has_open(pid[0], bin_real, db_real) && has_open(pid[1], bin_real, db_real)) break;
        for (int k = 0; k < 2; k++) {
            if (waitpid(pid[k], NULL, WNOHANG) == 0) continue;
            kill(pid[1 - k], SIGKILL);
            waitpid(pid[1 - k], NULL, 0);
            fail_msg("run %d ended before reaching the ledger: %s", k, read_all(out[k]));
        }
        usleep(10000);
    }
    assert_int_equal(sqlite3_exec(gate, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(gate);

    int status[2], finished = -1, refused = -1;
    for (int k = 0; k < 2; k++) {
        assert_int_equal(waitpid(pid[k], &status[k], 0), pid[k]);
        assert_true(WIFEXITED(status[k]));
        print_message("run %d: exit %d\n%s", k, WEXITSTATUS(status[k]), read_all(out[k]));
        if (WEXITSTATUS(status[k]) == 0) finished = k;
        else if (WEXITSTATUS(status[k]) == 2) refused = k;
    }
    assert_true(finished >= 0 && refused >= 0); /* exactly one of each */
    const char *why = read_all(out[refused]);
    assert_non_null(strstr(why, "privacy budget: spent epsilon"));
    assert_non_null(strstr(why, "of allowed 2.0000"));
    assert_null(strstr(why, "epoch 1/")); /* refused before it took a step */
    assert_non_null(strstr(read_all(out[finished]), "test accuracy"));

    char cmd[3 * PATH_MAX];
    snprintf(cmd, sizeof cmd, "'%s' budget --state '%s' --json", bin, db);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char json[8192];
    size_t n = fread(json, 1, sizeof json - 1, p);
    json[n] = '\0';
    assert_int_equal(pclose(p), 0);
    print_message("p4 budget --json: %s", json);
    double eps = json_number(json, "epsilon"), allowed = json_number(json, "allowed");
    assert_true(json[0] == '{' && strstr(json, "\"phases\":["));
    assert_true(allowed == 2.0);
    assert_true(eps > 1.9 && eps <= allowed);
    assert_true(json_number(json, "delta") == 1e-5);
    assert_true(json_number(json, "steps") > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(spend_survives_reopen),
        cmocka_unit_test_setup_teardown(forty_phases_are_all_read, test_temp_dir_setup,
                                        test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(more_than_63_mechanisms_are_recorded_and_read_back,
                                        test_temp_dir_setup, test_temp_dir_teardown),
        cmocka_unit_test(refuses_past_target),
        cmocka_unit_test(settings_and_bad_files),
        cmocka_unit_test(sigkill_never_undercounts),
        cmocka_unit_test_setup_teardown(two_handles_see_each_other, test_temp_dir_setup,
                                        test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(reservation_holds_for_others, test_temp_dir_setup,
                                        test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(dead_runs_reservation_is_dropped, test_temp_dir_setup,
                                        test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(many_processes_never_pass_the_target, test_temp_dir_setup,
                                        test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(two_trainings_one_budget, test_temp_dir_setup,
                                        test_temp_dir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
