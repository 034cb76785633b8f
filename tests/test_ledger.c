/* test_ledger.c: the durable budget ledger.  Spend survives reopening,
 * a step past the target is refused with spent and allowed in the message,
 * settings cannot silently change, bad files are clear errors, and a DP
 * training process killed with SIGKILL at random points never leaves the
 * ledger counting fewer steps than it actually took. */
#include "support/test_support.h"

#include <math.h>
#include <signal.h>
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
    p4_dp_phase got[4];
    int n = 0;
    assert_int_equal(p4_ledger_phases(l, got, 4, &n, &err), P4_OK);
    assert_int_equal(n, 2);
    assert_int_equal(got[1].steps, 500);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(spend_survives_reopen),
        cmocka_unit_test(refuses_past_target),
        cmocka_unit_test(settings_and_bad_files),
        cmocka_unit_test(sigkill_never_undercounts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
