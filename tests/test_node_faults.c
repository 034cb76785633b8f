/* test_node_faults.c: nodes killed with SIGKILL (issue 12), as real
 * `p4 node` processes on loopback, each with its own state folder, keys
 * and config, as `p4 cluster` makes them:
 *   - a node killed in the middle of a round and started again resumes from
 *     its checkpoint (node.db: epoch 2, resumed at a round > 0, epoch 1
 *     "interrupted"), catches up with its peers and finishes; everyone
 *     finishes; every ledger holds at least the whole plan's steps, never
 *     passes its target, and `p4 budget --json` and `p4 status --json` say
 *     what the ledger file says;
 *   - in --reproducible mode, a node killed exactly between two rounds
 *     (P4_TEST_KILL_AFTER_CHECKPOINT) and started again ends the run with
 *     every client's accuracy and the groups that `p4 sim --reproducible`
 *     gives the undisturbed run, with [dp] augmentations too;
 *   - a node killed for good is left out and the others finish;
 *   - a checkpoint whose bytes do not hold together, or from another
 *     config, is refused with a message naming it;
 *   - a node restarted from a checkpoint whose proxy averaged its group's
 *     proxies, and whose first round then diverges, goes back to its own
 *     proxy as one that never stopped would instead of stopping, and
 *     node.db's proxy_reverts counts it through a further restart.
 * Every wait is bounded; node processes die with the test (PDEATHSIG). */
#include "support/test_support.h"
#include "support/test_cluster.h"
#include "support/test_nodes.h"

#include <math.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cluster/identity.h"
#include "dp/ledger.h"
#include "p4node/node.h"
#include "p4node/node_state.h"
#include "p4node/private_model.h"

#define FMNIST "/usr/share/datasets/fashion-mnist"
#define NODES 4
#define ROUNDS 5

/* Four clients in two latent clusters, P4 with groups of two, DP at epsilon
 * 8: a round takes a fraction of a second, long enough to be killed in.
 * Key pairs, free ports and one config per node: this base and its [node]. */
static void cluster_make(test_cluster *c, const char *dir, double timeout, int reproducible,
                         const char *dp_extra)
{
    char text[4096];
    snprintf(text, sizeof text,
             "[data]\ndataset = fashion-mnist\npartition = clustered\nclients = %d\nclusters = 2\n"
             "cluster_classes = 0,1,2; 3,4,5\ntrain_per_client = 120\ntest_per_client = 60\n"
             "max_train = 6000\nmax_test = 1000\nseed = 11\n"
             "[model]\ncfg = %s/configs/models/mlp-28x28x1.cfg\n"
             "proxy_cfg = %s/configs/models/logreg-28x28x1.cfg\nbatch = 20\nseed = 11\n"
             "[dp]\ntarget_epsilon = 8\n%s[p4]\nrounds = %d\ngroup_size = 2\n",
             NODES, test_source_dir(), test_source_dir(), dp_extra, ROUNDS);
    test_cluster_make(c, dir, NODES, text, timeout, reproducible);
}

/* Runs a p4 command to completion (bounded); its stdout (free it). */
static char *run_p4(const test_cluster *c, char *const argv[], const char *tag)
{
    return test_run_p4(argv, c->dir, tag, 0, 900);
}

/* One integer column of node.db's runs row of `epoch` (or of checkpoint
 * when epoch is 0); text columns through `text`. */
static void db_query(const char *state, const char *sql, long long epoch, long long *number,
                     char *text, size_t size)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/node.db", state);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    if (epoch > 0)
        sqlite3_bind_int64(s, 1, epoch);
    int row = sqlite3_step(s);
    if (row != SQLITE_ROW)
        fail_msg("%s (epoch %lld): no row", sql, epoch);
    if (number)
        *number = sqlite3_column_type(s, 0) == SQLITE_NULL ? -1 : sqlite3_column_int64(s, 0);
    if (text) {
        const unsigned char *t = sqlite3_column_text(s, 0);
        snprintf(text, size, "%s", t ? (const char *)t : "");
    }
    sqlite3_finalize(s);
    sqlite3_close(db);
}

/* The DP steps the whole plan takes: warm-up and every round. */
static long long plan_steps(void)
{
    /* q = batch / train = 20 / 120: round(1/q) = 6 steps an epoch; one
     * local epoch a round (docs/config.md). */
    return 1 /* the warm-up: one step at its default sample rate of 1 */ + (long long)ROUNDS * 6;
}

/* The ledger of node k: steps and spend, checked against `p4 budget --json`. */
static void ledger_check(const test_cluster *c, int k, long long *steps, double *spent)
{
    char path[1200];
    p4_error err = {0};
    assert_int_equal(p4_node_ledger_path(c->state[k], k, path, sizeof path, &err), P4_OK);
    p4_ledger *ledger = NULL;
    if (p4_ledger_open_existing(path, &ledger, &err) != P4_OK)
        fail_msg("node %d: %s", k, err.message);
    assert_int_equal(p4_ledger_total_steps(ledger, steps, &err), P4_OK);
    assert_int_equal(p4_ledger_spent(ledger, spent, &err), P4_OK);
    p4_ledger_close(&ledger);
    char *argv[] = { (char *)c->bin, "budget", "--state", path, "--json", NULL };
    char tag[32];
    snprintf(tag, sizeof tag, "budget-%d", k);
    char *json = run_p4(c, argv, tag);
    if (fabs(test_json_number(json, "epsilon") - *spent) > 1e-6 ||
        (long long)test_json_number(json, "steps") != *steps)
        fail_msg("node %d: p4 budget says %s; the ledger file %lld steps, epsilon %.9f", k, json,
                 *steps, *spent);
    free(json);
    assert_true(*spent <= 8.0 + 1e-9); /* never past the target */
}

/* ---- a node killed mid-round, started again ---------------------------------------- */

static void killed_node_resumes(void **state)
{
    if (!test_dataset_path(FMNIST)) TEST_SKIP(FMNIST " is absent");
    if (!getenv("P4_BIN")) TEST_SKIP("P4_BIN is not set (run under ctest)");
    static test_cluster c;
    /* long enough for the killed node to come back before its group goes on */
    cluster_make(&c, *state, 300, 0, "");
    for (int k = 0; k < NODES; k++)
        test_cluster_start(&c, k, -1, 0);
    const int victim = 2;
    test_cluster_wait_log(&c, victim, "round 2/5:", 300);
    test_pause_ms(80); /* into the next round: its local training or its exchange */
    kill(c.pid[victim], SIGKILL);
    int status = test_cluster_wait(&c, victim, 120);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    test_cluster_start(&c, victim, -1, 0);
    for (int k = 0; k < NODES; k++)
        test_cluster_wait_ok(&c, k, 600);

    /* node.db: epoch 1 interrupted, epoch 2 resumed at a round > 0 and finished */
    char text[256];
    long long resumed = -1, reached = -1;
    db_query(c.state[victim], "SELECT status FROM runs WHERE epoch = ?", 1, NULL, text, sizeof text);
    assert_string_equal(text, "interrupted");
    db_query(c.state[victim], "SELECT status FROM runs WHERE epoch = ?", 2, NULL, text, sizeof text);
    assert_string_equal(text, "finished");
    db_query(c.state[victim], "SELECT resumed_round FROM runs WHERE epoch = ?", 2, &resumed, NULL, 0);
    db_query(c.state[victim], "SELECT round_reached FROM runs WHERE epoch = ?", 2, &reached, NULL, 0);
    if (resumed < 1 || resumed > ROUNDS)
        fail_msg("epoch 2 resumed at round %lld", resumed);
    assert_int_equal(reached, ROUNDS);
    long long left = -1;
    db_query(c.state[victim], "SELECT COUNT(*) FROM checkpoint", -1, &left, NULL, 0);
    assert_int_equal(left, 0); /* a finished run leaves no checkpoint to resume */
    char *log = test_read_all(c.log[victim]);
    assert_non_null(strstr(log, "resuming from the checkpoint of epoch 1 at round"));
    free(log);

    /* p4 status shows the resumed run */
    char *argv[] = { (char *)c.bin, "status", "--state", c.state[victim], "--json", NULL };
    char *st = run_p4(&c, argv, "status");
    test_json_value(st, "status", text, sizeof text);
    assert_string_equal(text, "\"finished\"");
    assert_int_equal((int)test_json_number(st, "epoch"), 2);
    assert_int_equal((long long)test_json_number(st, "resumed_round"), resumed);
    char *targv[] = { (char *)c.bin, "status", "--state", c.state[victim], NULL };
    char *tst = run_p4(&c, targv, "status-text");
    char expect[96];
    snprintf(expect, sizeof expect, "resumed from its checkpoint at round %lld of %d", resumed + 1,
             ROUNDS);
    if (!strstr(tst, expect))
        fail_msg("p4 status says\n%s\nexpected '%s'", tst, expect);
    free(tst);

    /* ledgers: no lost records (at least the whole plan each), never past
     * the target, and the restarted node's spend at least what its peers'
     * undisturbed plans spent (what they received from it is covered) */
    long long steps[NODES];
    double spent[NODES];
    for (int k = 0; k < NODES; k++) {
        ledger_check(&c, k, &steps[k], &spent[k]);
        if (k != victim)
            assert_int_equal(steps[k], plan_steps());
    }
    if (steps[victim] < plan_steps())
        fail_msg("the restarted node's ledger lost records: %lld steps, the plan takes %lld",
                 steps[victim], plan_steps());
    for (int k = 0; k < NODES; k++)
        if (k != victim && spent[victim] < spent[k] - 1e-3)
            fail_msg("node %d spent %.6f, node %d (restarted) only %.6f", k, spent[k], victim,
                     spent[victim]);
    assert_true(fabs(test_json_number(st, "epsilon") - spent[victim]) < 1e-6);
    free(st);
}

/* ---- --reproducible: killed between rounds, the same result ------------------------- */

/* Node k's served (private) model file, read whole (free it). */
static unsigned char *served_weights(const test_cluster *c, int k, size_t *size)
{
    char path[1300];
    snprintf(path, sizeof path, "%s/%s", c->state[k], P4_PRIVATE_WEIGHTS_NAME);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        fail_msg("%s: cannot open it", path);
    unsigned char *buf = malloc(1 << 24);
    assert_non_null(buf);
    *size = fread(buf, 1, 1 << 24, f);
    fclose(f);
    return buf;
}

/* With `dp_extra` in the config's [dp] section.  Accuracies on 60 test
 * examples can hide a different generator; the restarted node's private
 * weights must equal, byte for byte, those of the same node in an
 * undisturbed cluster run (its own folder, keys and ports). */
static void restart_matches_sim(const char *dir, const char *dp_extra)
{
    static test_cluster c, undisturbed;
    cluster_make(&c, dir, 300, 1, dp_extra);
    char *sim_argv[] = { (char *)c.bin, "sim", "--config", c.base, "--reproducible", "--json",
                         "--quiet", NULL };
    char *sim = run_p4(&c, sim_argv, "sim");
    const int victim = 1;
    /* It lingers a second after its checkpoint, so that its group-mate's
     * next proxy most likely reaches the process that dies with it: the
     * group-mate must send it again to the restarted one. */
    for (int k = 0; k < NODES; k++)
        test_cluster_start(&c, k, k == victim ? 2 : -1, 1000);
    int status = test_cluster_wait(&c, victim, 300);
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
        test_cluster_fail(&c, "node %d was to kill itself after its checkpoint of round 2 "
                          "(status %#x)", victim, status);
    test_cluster_start(&c, victim, -1, 0);
    for (int k = 0; k < NODES; k++)
        test_cluster_wait_ok(&c, k, 600);
    long long resumed = -1;
    db_query(c.state[victim], "SELECT resumed_round FROM runs WHERE epoch = ?", 2, &resumed, NULL, 0);
    assert_int_equal(resumed, 2);

    /* every client's accuracy and the groups: those of the undisturbed run */
    test_cluster_expect_sim(&c, sim, victim, 2);
    /* the restarted node spent exactly the undisturbed plan */
    long long steps;
    double spent, sim_eps = test_json_number(sim, "epsilon");
    ledger_check(&c, victim, &steps, &spent);
    assert_int_equal(steps, plan_steps());
    assert_true(fabs(spent - sim_eps) < 1e-6);
    free(sim);

    char again[1100];
    snprintf(again, sizeof again, "%s/undisturbed", dir);
    assert_int_equal(mkdir(again, 0700), 0);
    cluster_make(&undisturbed, again, 300, 1, dp_extra);
    for (int k = 0; k < NODES; k++)
        test_cluster_start(&undisturbed, k, -1, 0);
    for (int k = 0; k < NODES; k++)
        test_cluster_wait_ok(&undisturbed, k, 600);
    size_t got_size, want_size;
    unsigned char *got = served_weights(&c, victim, &got_size);
    unsigned char *want = served_weights(&undisturbed, victim, &want_size);
    assert_true(got_size > 0);
    assert_int_equal(got_size, want_size);
    if (memcmp(got, want, got_size) != 0)
        fail_msg("node %d: its private weights after the restart differ from the undisturbed "
                 "run's", victim);
    free(got);
    free(want);
}

static void reproducible_restart_matches_sim(void **state)
{
    if (!test_dataset_path(FMNIST)) TEST_SKIP(FMNIST " is absent");
    if (!getenv("P4_BIN")) TEST_SKIP("P4_BIN is not set (run under ctest)");
    restart_matches_sim(*state, "");
}

/* The augmented copies' generator ([dp] augmentations) is checkpointed too:
 * without it the restarted node would draw other copies from round 2 on. */
static void reproducible_restart_with_augmentations_matches_sim(void **state)
{
    if (!test_dataset_path(FMNIST)) TEST_SKIP(FMNIST " is absent");
    if (!getenv("P4_BIN")) TEST_SKIP("P4_BIN is not set (run under ctest)");
    restart_matches_sim(*state, "augmentations = 2\n");
}

/* ---- a node that never comes back -------------------------------------------------- */

static void dead_node_is_left_out(void **state)
{
    if (!test_dataset_path(FMNIST)) TEST_SKIP(FMNIST " is absent");
    if (!getenv("P4_BIN")) TEST_SKIP("P4_BIN is not set (run under ctest)");
    static test_cluster c;
    /* each exchange the dead node belongs to waits this long, once */
    cluster_make(&c, *state, 2, 0, "");
    for (int k = 0; k < NODES; k++)
        test_cluster_start(&c, k, -1, 0);
    const int victim = 3;
    test_cluster_wait_log(&c, victim, "round 1/5:", 300);
    kill(c.pid[victim], SIGKILL);
    test_cluster_wait(&c, victim, 120);
    int missing = 0;
    for (int k = 0; k < NODES; k++) {
        if (k == victim)
            continue;
        test_cluster_wait_ok(&c, k, 600);
        char *out = test_read_all(c.out[k]);
        char text[64];
        test_json_value(out, "status", text, sizeof text);
        assert_string_equal(text, "\"finished\"");
        missing += (int)test_json_number(out, "missing");
        free(out);
    }
    /* its group-mate went on without it in the rounds it missed */
    if (missing < 1)
        test_cluster_fail(&c, "nobody missed the dead node");
    char text[64];
    db_query(c.state[victim], "SELECT status FROM runs WHERE epoch = ?", 1, NULL, text, sizeof text);
    assert_string_equal(text, "running"); /* nobody is left to say otherwise */
    long long next = -1;
    db_query(c.state[victim], "SELECT next_round FROM checkpoint", -1, &next, NULL, 0);
    assert_true(next >= 0); /* what a restart would resume from */
}

/* ---- checkpoints that must be refused ---------------------------------------------- */

static void bad_checkpoints_are_refused(void **state)
{
    if (!test_dataset_path(FMNIST)) TEST_SKIP(FMNIST " is absent");
    if (!getenv("P4_BIN")) TEST_SKIP("P4_BIN is not set (run under ctest)");
    static test_cluster c;
    cluster_make(&c, *state, 2, 0, "");
    /* all four kill themselves after their checkpoint of round 1 */
    for (int k = 0; k < NODES; k++)
        test_cluster_start(&c, k, 1, 0);
    for (int k = 0; k < NODES; k++)
        test_cluster_wait(&c, k, 300);
    char path[1200];
    snprintf(path, sizeof path, "%s/node.db", c.state[0]);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    /* truncated proxy weights */
    assert_int_equal(sqlite3_exec(db, "UPDATE checkpoint SET proxy_params = "
                                      "substr(proxy_params, 1, 10)", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    test_cluster_start(&c, 0, -1, 0);
    int status = test_cluster_wait(&c, 0, 300);
    char *log = test_read_all(c.log[0]);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 1 ||
        !strstr(log, "the checkpoint's proxy weights hold 10 bytes, not a whole number of floats"))
        fail_msg("expected a refusal of the truncated checkpoint (status %#x):\n%s", status, log);
    free(log);
    /* another config's checkpoint: node 1's state with more rounds */
    char *text = test_read_all(c.config[1]);
    char *r = strstr(text, "rounds = 5");
    assert_non_null(r);
    r[9] = '7';
    char changed[1200];
    test_write_text(c.dir, "node-1-changed.ini", text, changed, sizeof changed);
    free(text);
    snprintf(c.config[1], sizeof c.config[1], "%s", changed);
    test_cluster_start(&c, 1, -1, 0);
    status = test_cluster_wait(&c, 1, 300);
    log = test_read_all(c.log[1]);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 1 ||
        !strstr(log, "node.db holds a checkpoint of another run (client 1 of 4, p4, 5 rounds"))
        fail_msg("expected a refusal of another run's checkpoint (status %#x):\n%s", status, log);
    free(log);
}

/* ---- a restart whose first round diverges from an average ------------------------ */

/* The checkpoint's proxy and own proxy of node.db in `state` (PROXY floats
 * each): the proxy is replaced by `poison` when that is not NULL. */
enum { PROXY = 7850 }; /* logreg-28x28x1: 784 x 10 + 10 */

static void checkpoint_proxies(const char *state, float *proxy, float *own, const float *poison)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/node.db", state);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT proxy_params, own_proxy FROM checkpoint",
                                        -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    for (int col = 0; col < 2; col++) {
        const void *b = sqlite3_column_blob(s, col);
        if (b == NULL || sqlite3_column_bytes(s, col) != PROXY * (int)sizeof(float))
            fail_msg("the checkpoint's %s holds %d bytes, not %d floats",
                     col ? "own_proxy" : "proxy_params", sqlite3_column_bytes(s, col), PROXY);
        memcpy(col ? own : proxy, b, PROXY * sizeof(float));
    }
    sqlite3_finalize(s);
    if (poison) {
        assert_int_equal(sqlite3_prepare_v2(db, "UPDATE checkpoint SET proxy_params = ?", -1, &s,
                                            NULL), SQLITE_OK);
        sqlite3_bind_blob(s, 1, poison, PROXY * sizeof(float), SQLITE_STATIC);
        assert_int_equal(sqlite3_step(s), SQLITE_DONE);
        sqlite3_finalize(s);
    }
    sqlite3_close(db);
}

/* Node 0 kills itself after its checkpoint of round 2, whose proxy is the
 * average of its group's proxies.  That average is then made one that a
 * poisoned peer's proxy could have made: so large that the next DP-SGD
 * step meets non-finite values (test_protocol and test_simulation get it
 * from a gaussian attacker of strength 3e37; [attack] strength stops at
 * 1e6 in a config).  Restarted, the node trains round 2 from it and
 * diverges: like a node that never stopped, it goes back to its own proxy
 * from round 1 and counts it.  It kills itself again after round 3 and is
 * restarted once more: the count goes on from the checkpoint, so the run's
 * final row in node.db says proxy_reverts 1, as an undisturbed run's would;
 * its group-mate, which gets that own proxy, never reverts. */
static void restarted_node_reverts_a_diverging_average(void **state)
{
    if (!test_dataset_path(FMNIST)) TEST_SKIP(FMNIST " is absent");
    if (!getenv("P4_BIN")) TEST_SKIP("P4_BIN is not set (run under ctest)");
    static test_cluster c;
    /* long enough for the killed node to come back before its group goes on */
    cluster_make(&c, *state, 300, 0, "");
    const int victim = 0;
    for (int k = 0; k < NODES; k++)
        test_cluster_start(&c, k, k == victim ? 2 : -1, 0);
    int status = test_cluster_wait(&c, victim, 300);
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
        test_cluster_fail(&c, "node %d was to kill itself after its checkpoint of round 2 "
                          "(status %#x)", victim, status);
    static float proxy[PROXY], own[PROXY], poison[PROXY];
    checkpoint_proxies(c.state[victim], proxy, own, NULL);
    /* the checkpoint knows the proxy is an average, not its own */
    assert_memory_not_equal(proxy, own, sizeof proxy);
    for (int j = 0; j < PROXY; j++) /* finite, but every logit overflows */
        poison[j] = 3e37f;
    checkpoint_proxies(c.state[victim], proxy, own, poison);
    test_cluster_start(&c, victim, 3, 0);
    status = test_cluster_wait(&c, victim, 300);
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
        test_cluster_fail(&c, "node %d was to revert in round 2, then kill itself after its "
                          "checkpoint of round 3 (status %#x)", victim, status);
    long long reverts = -1, resumed = -1;
    db_query(c.state[victim], "SELECT proxy_reverts FROM checkpoint", -1, &reverts, NULL, 0);
    if (reverts != 1)
        test_cluster_fail(&c, "the checkpoint of round 3 counts %lld proxy reverts, not 1", reverts);
    test_cluster_start(&c, victim, -1, 0);
    for (int k = 0; k < NODES; k++)
        test_cluster_wait_ok(&c, k, 600);

    char text[256];
    db_query(c.state[victim], "SELECT status FROM runs WHERE epoch = ?", 3, NULL, text, sizeof text);
    assert_string_equal(text, "finished");
    db_query(c.state[victim], "SELECT resumed_round FROM runs WHERE epoch = ?", 3, &resumed, NULL, 0);
    assert_int_equal(resumed, 3);
    db_query(c.state[victim], "SELECT proxy_reverts FROM runs WHERE epoch = ?", 3, &reverts, NULL,
             0);
    if (reverts != 1)
        test_cluster_fail(&c, "the node's finished run recorded %lld proxy reverts, not 1", reverts);
    char *log = test_read_all(c.log[victim]);
    if (!strstr(log, "round 2: ") || !strstr(log, "so it goes back to its own from round 1"))
        test_cluster_fail(&c, "no revert in round 2 in node %d's log", victim);
    free(log);
    /* p4 status says it too, as p4 sim's summary would */
    char *argv[] = { (char *)c.bin, "status", "--state", c.state[victim], "--json", NULL };
    char *st = run_p4(&c, argv, "status");
    if ((int)test_json_number(st, "proxy_reverts") != 1)
        test_cluster_fail(&c, "p4 status --json does not say proxy_reverts 1:\n%s", st);
    free(st);
    char *targv[] = { (char *)c.bin, "status", "--state", c.state[victim], NULL };
    char *tst = run_p4(&c, targv, "status-text");
    if (!strstr(tst, "warning: a proxy diverged after averaging peers' proxies in 1 round(s)"))
        test_cluster_fail(&c, "p4 status does not warn of the revert:\n%s", tst);
    free(tst);
    for (int k = 0; k < NODES; k++) {
        if (k == victim)
            continue;
        db_query(c.state[k], "SELECT proxy_reverts FROM runs WHERE epoch = ?", 1, &reverts, NULL,
                 0);
        assert_int_equal(reverts, 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(killed_node_resumes, test_temp_dir_setup,
                                        test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(reproducible_restart_matches_sim, test_temp_dir_setup,
                                        test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(reproducible_restart_with_augmentations_matches_sim,
                                        test_temp_dir_setup, test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(dead_node_is_left_out, test_temp_dir_setup,
                                        test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(bad_checkpoints_are_refused, test_temp_dir_setup,
                                        test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(restarted_node_reverts_a_diverging_average,
                                        test_temp_dir_setup, test_temp_dir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
