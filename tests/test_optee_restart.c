/* test_optee_restart.c: a node with protected layers ([tee] backend = optee,
 * pp_start >= 0) restarted from its round checkpoint (issue 14), through
 * the harness (tee/optee/emu):
 *   - the TA's snapshot of a round (LAYERS_SNAPSHOT) comes back in a new
 *     session (LAYERS_RESTORE): seeded, the run then equals one that was
 *     never interrupted, step for step and weight for weight; the TA's
 *     ledger keeps the spend of the step lost with the kill;
 *   - an OS-keyed TA never replays its noise: the same step from the same
 *     restored snapshot gives other weights (a seeded TA gives the same);
 *   - a round the TA holds no snapshot of, another model's layers, an empty
 *     store and a corrupt snapshot are refused with messages naming what
 *     the TA holds; malformed parameters get GP codes straight from the TA;
 *   - four `p4 node` processes (loopback) with the MLP proxy's output layer
 *     in the TA, one killed right after its checkpoint of round 2 and
 *     started again, finish in --reproducible mode with the accuracies
 *     and groups of `p4 sim --reproducible` on the same config; the
 *     restarted node's TA ledger holds at least its spend before the kill,
 *     above half and at most its SQLite ledger (which reserves steps in
 *     blocks), as test_optee_node checks;
 *   - the same without protected layers (the TA draws the seeded noise but
 *     holds no snapshot; the checkpoint keeps the stream's position), in
 *     the chunked layout and in the serial one. */
#include "support/test_support.h"
#include "support/test_cluster.h"
#include "support/test_nodes.h"
#include "support/test_ta.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <tee_client_api.h>
#include <unistd.h>

#include "dp/ledger.h"
#include "p4_ta.h"
#include "tee/optee/host/optee.h"

#define FMNIST "/usr/share/datasets/fashion-mnist"

/* ---- the TA's snapshots through the host API ----------------------------------- */

/* A 4 -> `outputs` dense layer, as test_optee_layers drives it. */
static p4_ta_layers_spec dense_spec(uint32_t outputs)
{
    return test_ta_dense_spec(4, outputs, 4, 5);
}

static double spent(p4_optee *t)
{
    double eps = -1;
    p4_error err;
    assert_int_equal(p4_optee_spent(t, &eps, &err), P4_OK);
    return eps;
}

static void weights(p4_optee *t, float w[15])
{
    p4_error err;
    assert_int_equal(p4_optee_layers_export(t, w, 15, &err), P4_OK);
}

static void make_dir(const char *parent, const char *name, char *path, size_t size)
{
    test_path_in(parent, name, path, size);
    assert_int_equal(mkdir(path, 0700), 0);
}

/* Seeded: A runs 5 steps unbroken; B snapshots round 2 after 2 steps, takes
 * a third (the round the kill cuts short), dies, and restarts from round
 * 2's snapshot.  Its next 3 steps equal A's 3rd to 5th bit for bit; its
 * TA ledger never fell (the lost step stays counted: it holds A's spend
 * and one step more). */
static void seeded_restart_equals_the_unbroken_run(void **state)
{
    char dir_a[600], dir_b[600];
    make_dir(*state, "a", dir_a, sizeof dir_a);
    make_dir(*state, "b", dir_b, sizeof dir_b);
    p4_optee *a = test_ta_dense_open(dir_a, 1), *b = test_ta_dense_open(dir_b, 1);
    p4_error err;
    for (int s = 0; s < 2; s++)
        assert_true(test_ta_dense_step(a, s) == test_ta_dense_step(b, s));
    assert_int_equal(p4_optee_layers_snapshot(b, 2, &err), P4_OK);
    (void)test_ta_dense_step(b, 2); /* lost with the kill */
    double before_kill = spent(b);
    p4_optee_close(&b);

    b = test_ta_dense_open(dir_b, 1); /* the restarted node: fresh session, initial weights */
    assert_true(spent(b) >= before_kill);
    int noise_back = 0;
    if (p4_optee_layers_restore(b, 2, &noise_back, &err) != P4_OK)
        fail_msg("%s", err.message);
    assert_int_equal(noise_back, 1);
    double after_restore = spent(b);
    print_message("TA ledger: %.9f before the kill, %.9f after the restore\n", before_kill,
                  after_restore);
    assert_true(after_restore >= before_kill);
    for (int s = 2; s < 5; s++) {
        double la = test_ta_dense_step(a, s), lb = test_ta_dense_step(b, s);
        if (la != lb)
            fail_msg("step %d after the restart: loss %.17g (unbroken) vs %.17g", s, la, lb);
    }
    float wa[15], wb[15], w0[15];
    weights(a, wa);
    weights(b, wb);
    test_ta_dense_weights(w0, 15);
    assert_memory_equal(wa, wb, sizeof wa);
    assert_memory_not_equal(wa, w0, sizeof wa); /* they trained */
    /* B charged one step more than A: the one the kill cut short. */
    assert_true(spent(b) > spent(a));
    p4_optee_close(&a);
    p4_optee_close(&b);
}

/* The same step from the same restored snapshot, twice: OS-keyed, the noise
 * differs (a replayed snapshot never replays its noise, so no difference
 * of two releases cancels it); seeded, it is the same noise again (the
 * seed's holder knows it anyway).  Each step is charged either way. */
static void restore_replays_noise_only_when_seeded(void **state)
{
    for (int seeded = 0; seeded <= 1; seeded++) {
        char dir[600];
        make_dir(*state, seeded ? "seeded" : "os-keyed", dir, sizeof dir);
        p4_optee *t = test_ta_dense_open(dir, seeded);
        p4_error err;
        (void)test_ta_dense_step(t, 0);
        assert_int_equal(p4_optee_layers_snapshot(t, 1, &err), P4_OK);
        (void)test_ta_dense_step(t, 1);
        float first[15], second[15];
        weights(t, first);
        double spend_first = spent(t);
        p4_optee_close(&t); /* killed; started again */
        t = test_ta_dense_open(dir, seeded);
        int noise_back = -1;
        assert_int_equal(p4_optee_layers_restore(t, 1, &noise_back, &err), P4_OK);
        assert_int_equal(noise_back, seeded);
        (void)test_ta_dense_step(t, 1);
        weights(t, second);
        print_message("%s: the replayed step's weights %s\n", seeded ? "seeded" : "OS-keyed",
                      memcmp(first, second, sizeof first) ? "differ" : "are equal");
        if (seeded)
            assert_memory_equal(first, second, sizeof first);
        else
            assert_memory_not_equal(first, second, sizeof first);
        assert_true(spent(t) > spend_first); /* the replayed step was charged again */
        p4_optee_close(&t);
    }
}

/* The message names the round asked for and what the TA holds. */
static void refused(p4_optee *t, int round, const char *holds)
{
    p4_error err;
    float w_before[15], w_after[15];
    weights(t, w_before);
    assert_int_equal(p4_optee_layers_restore(t, round, NULL, &err), P4_ESTATE);
    char asked[32];
    snprintf(asked, sizeof asked, "round %d", round);
    if (!strstr(err.message, asked) || !strstr(err.message, holds))
        fail_msg("restore of round %d: '%s' (expected '%s' and '%s')", round, err.message, asked,
                 holds);
    weights(t, w_after);
    assert_memory_equal(w_before, w_after, sizeof w_before); /* nothing changed */
}

static void unknown_rounds_are_refused(void **state)
{
    char dir[600];
    make_dir(*state, "ta", dir, sizeof dir);
    p4_optee *t = test_ta_dense_open(dir, 0);
    p4_error err;
    refused(t, 0, "hold nothing and nothing"); /* an empty store */
    (void)test_ta_dense_step(t, 0);
    assert_int_equal(p4_optee_layers_snapshot(t, 3, &err), P4_OK);
    (void)test_ta_dense_step(t, 1);
    assert_int_equal(p4_optee_layers_snapshot(t, 4, &err), P4_OK);
    refused(t, 5, "hold round 4 and round 3");
    refused(t, 2, "hold round 4 and round 3"); /* round 4 took its slot */
    assert_int_equal(p4_optee_layers_restore(t, 3, NULL, &err), P4_OK);
    assert_int_equal(p4_optee_layers_restore(t, 4, NULL, &err), P4_OK);
    /* out of range, before anything is sent */
    assert_int_equal(p4_optee_layers_restore(t, -1, NULL, &err), P4_EINVAL);
    assert_int_equal(p4_optee_layers_snapshot(t, (int)P4_TA_MAX_ROUND + 1, &err), P4_EINVAL);
    p4_optee_close(&t);

    /* another model's layers (4 -> 2): round 4 of the 4 -> 3 layers is not theirs */
    p4_optee_options o = { .delta = 1e-5, .target_epsilon = 50, .storage_dir = dir };
    assert_int_equal(p4_optee_open(&t, &o, &err), P4_OK);
    p4_ta_layers_spec other = dense_spec(2);
    float w[10] = { 0 };
    other.normal_floats = 5;
    assert_int_equal(p4_optee_layers_load(t, &other, w, 10, &err), P4_OK);
    assert_int_equal(p4_optee_layers_restore(t, 4, NULL, &err), P4_ESTATE);
    assert_non_null(strstr(err.message, "another model's"));
    p4_optee_close(&t);

    /* a snapshot cut short (the normal world's file system holds it: the
     * harness's <storage>/<uuid>/obj-<hex id>) */
    char object[800];
    int at = snprintf(object, sizeof object, "%s/%s/obj-", dir, P4_TA_UUID_TEXT);
    static const char id[] = "p4-protected-round-0";
    for (size_t i = 0; i + 1 < sizeof id; i++)
        at += snprintf(object + at, sizeof object - (size_t)at, "%02x", (unsigned char)id[i]);
    struct stat st;
    if (stat(object, &st) != 0)
        fail_msg("the harness keeps round 4's snapshot elsewhere than %s", object);
    assert_int_equal(truncate(object, st.st_size - 8), 0);
    t = test_ta_dense_open(dir, 0);
    assert_int_equal(p4_optee_layers_restore(t, 4, NULL, &err), P4_ESTATE);
    print_message("a snapshot cut short: %s\n", err.message);
    assert_non_null(strstr(err.message, "round 4 does not hold together"));
    assert_int_equal(p4_optee_layers_restore(t, 3, NULL, &err), P4_ESTATE); /* layers lost */
    p4_optee_close(&t);
}

/* The new commands' parameters, straight through the Client API. */
static uint32_t raw(TEEC_Session *s, uint32_t cmd, uint32_t types, const void *spec,
                    uint32_t round_a, uint32_t round_b)
{
    TEEC_Operation op;
    memset(&op, 0, sizeof op);
    op.paramTypes = types;
    if (TEEC_PARAM_TYPE_GET(types, 0) == TEEC_MEMREF_TEMP_INPUT) {
        op.params[0].tmpref.buffer = (void *)spec;
        op.params[0].tmpref.size = spec ? sizeof(p4_ta_layers_spec) : 0;
        op.params[1].value.a = round_a;
        op.params[1].value.b = round_b;
    } else {
        op.params[0].value.a = round_a;
        op.params[0].value.b = round_b;
    }
    uint32_t origin = 0;
    return TEEC_InvokeCommand(s, cmd, &op, &origin);
}

static void malformed_parameters_are_refused(void **state)
{
    TEEC_Context ctx;
    TEEC_Session sess;
    test_ta_session_open(&ctx, &sess, *state, 10);
    const uint32_t snap = TEEC_PARAM_TYPES(TEEC_VALUE_INPUT, TEEC_NONE, TEEC_NONE, TEEC_NONE);
    const uint32_t rest = TEEC_PARAM_TYPES(TEEC_MEMREF_TEMP_INPUT, TEEC_VALUE_INPUT,
                                           TEEC_VALUE_OUTPUT, TEEC_VALUE_OUTPUT);
    p4_ta_layers_spec spec = dense_spec(3);
    /* before the ledger is open, and without layers */
    assert_int_equal(raw(&sess, P4_TA_CMD_LAYERS_RESTORE, rest, &spec, 1, 0),
                     TEEC_ERROR_BAD_STATE);
    assert_int_equal(raw(&sess, P4_TA_CMD_LAYERS_SNAPSHOT, snap, NULL, 1, 0),
                     TEEC_ERROR_BAD_STATE);
    assert_int_equal(test_ta_open_ledger(&sess, 1e-5, 20, NULL), TEEC_SUCCESS);
    /* wrong types, rounds out of range or with a high word, a spec of the wrong size or shape */
    assert_int_equal(raw(&sess, P4_TA_CMD_LAYERS_SNAPSHOT, rest, &spec, 1, 0),
                     TEEC_ERROR_BAD_PARAMETERS);
    assert_int_equal(raw(&sess, P4_TA_CMD_LAYERS_RESTORE, snap, NULL, 1, 0),
                     TEEC_ERROR_BAD_PARAMETERS);
    assert_int_equal(raw(&sess, P4_TA_CMD_LAYERS_SNAPSHOT, snap, NULL, P4_TA_MAX_ROUND + 1, 0),
                     TEEC_ERROR_BAD_PARAMETERS);
    assert_int_equal(raw(&sess, P4_TA_CMD_LAYERS_SNAPSHOT, snap, NULL, 1, 1),
                     TEEC_ERROR_BAD_PARAMETERS);
    assert_int_equal(raw(&sess, P4_TA_CMD_LAYERS_RESTORE, rest, &spec, P4_TA_MAX_ROUND + 1, 0),
                     TEEC_ERROR_BAD_PARAMETERS);
    assert_int_equal(raw(&sess, P4_TA_CMD_LAYERS_RESTORE, rest, &spec, 1, 1),
                     TEEC_ERROR_BAD_PARAMETERS);
    p4_ta_layers_spec bad = spec;
    bad.nlayers = 0;
    assert_int_equal(raw(&sess, P4_TA_CMD_LAYERS_RESTORE, rest, &bad, 1, 0),
                     TEEC_ERROR_BAD_PARAMETERS);
    TEEC_Operation op;
    memset(&op, 0, sizeof op);
    op.paramTypes = rest;
    op.params[0].tmpref.buffer = &spec;
    op.params[0].tmpref.size = sizeof spec - 1;
    uint32_t origin = 0;
    assert_int_equal(TEEC_InvokeCommand(&sess, P4_TA_CMD_LAYERS_RESTORE, &op, &origin),
                     TEEC_ERROR_BAD_PARAMETERS);
    /* still without layers: nothing to snapshot; nothing stored to restore */
    assert_int_equal(raw(&sess, P4_TA_CMD_LAYERS_SNAPSHOT, snap, NULL, 1, 0),
                     TEEC_ERROR_BAD_STATE);
    assert_int_equal(raw(&sess, P4_TA_CMD_LAYERS_RESTORE, rest, &spec, 1, 0), TEEC_SUCCESS);
    test_ta_session_close(&ctx, &sess);
}

/* ---- four p4 node processes, one killed after its checkpoint of round 2 ------------- */

#define NODES 4
#define VICTIM 1

/* Key pairs, free ports and one config per node: this base and its [node];
 * tee: the [tee] section's keys (the protected range, or none). */
static void nodes_make(test_cluster *c, const char *dir, const char *tee)
{
    char text[4096];
    snprintf(text, sizeof text,
             "[data]\ndataset = fashion-mnist\npartition = clustered\nclients = %d\n"
             "clusters = 2\nclasses_per_cluster = 4\ntrain_per_client = 100\n"
             "test_per_client = 250\nseed = 1\n"
             "[model]\ncfg = %s/configs/models/mlp-28x28x1.cfg\n"
             "proxy_cfg = %s/configs/models/mlp-28x28x1.cfg\nbatch = 20\n"
             "learning_rate = 0.05\nmomentum = 0.9\nseed = 1\n"
             "[dp]\ntarget_epsilon = 4\ndelta = 1e-5\nclip_norm = 1.0\n"
             "[p4]\nmethod = p4\nrounds = 4\nlocal_epochs = 1\nwarmup_epochs = 1\n"
             "group_size = 2\ndistance_layers = last\nkd_alpha = 0.25\nkd_temperature = 1\n"
             "[tee]\nbackend = optee\n%s",
             NODES, test_source_dir(), test_source_dir(), tee);
    test_cluster_make(c, dir, NODES, text, 300, 1);
}

/* The TA ledger (its secure storage in the node's state folder) and the
 * SQLite ledger of node k. */
static void node_ledgers(const test_cluster *c, int k, double *ta, double *sqlite)
{
    char name[32], storage[1200], ledger_path[1200];
    snprintf(name, sizeof name, "client-%03d.optee", k);
    test_path_in(c->state[k], name, storage, sizeof storage);
    snprintf(name, sizeof name, "client-%03d.db", k);
    test_path_in(c->state[k], name, ledger_path, sizeof ledger_path);
    p4_optee_options o = { .delta = 1e-5, .target_epsilon = 4, .storage_dir = storage };
    p4_optee *t = NULL;
    p4_error err;
    if (p4_optee_open(&t, &o, &err) != P4_OK)
        fail_msg("node %d's TA: %s", k, err.message);
    assert_int_equal(p4_optee_spent(t, ta, &err), P4_OK);
    p4_optee_close(&t);
    p4_ledger *ledger = NULL;
    assert_int_equal(p4_ledger_open(ledger_path, 4, 1e-5, &ledger, &err), P4_OK);
    assert_int_equal(p4_ledger_spent(ledger, sqlite, &err), P4_OK);
    p4_ledger_close(&ledger);
}

/* Four nodes with the TA's [tee] keys tee, node VICTIM killed after its
 * checkpoint of round 2 and restarted: as p4 sim --reproducible. */
static void killed_node_resumes(const char *dir, const char *tee)
{
    static test_cluster c;
    nodes_make(&c, dir, tee);
    char sim_state[800];
    make_dir(dir, "sim", sim_state, sizeof sim_state);
    char *sim_argv[] = { (char *)c.bin, "sim", "--config", c.base, "--reproducible", "--json",
                         "--quiet", "--threads", "1", "--state-dir", sim_state, NULL };
    char *sim = test_run_p4(sim_argv, c.dir, "sim", 0, 1200);

    for (int k = 0; k < NODES; k++)
        test_cluster_start(&c, k, k == VICTIM ? 2 : -1, 1000);
    int status = test_cluster_wait(&c, VICTIM, 600);
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
        test_cluster_fail(&c, "node %d was to kill itself after its checkpoint of round 2 "
                          "(wait status %#x)", VICTIM, status);
    double ta_before = -1, sqlite_before = -1;
    node_ledgers(&c, VICTIM, &ta_before, &sqlite_before);
    test_cluster_start(&c, VICTIM, -1, 0);
    for (int k = 0; k < NODES; k++)
        test_cluster_wait_ok(&c, k, 900);
    char *log = test_read_all(c.log[VICTIM]);
    assert_non_null(strstr(log, "resuming from the checkpoint of epoch 1 at round 3/4"));
    free(log);

    /* --reproducible: every client's accuracy and the groups of p4 sim */
    test_cluster_expect_sim(&c, sim, VICTIM, 2);
    /* the TA's ledger never fell, and agrees with SQLite's */
    double ta_after = -1, sqlite_after = -1;
    node_ledgers(&c, VICTIM, &ta_after, &sqlite_after);
    print_message("node %d: TA ledger %.6f before the kill, %.6f at the end; SQLite %.6f\n",
                  VICTIM, ta_before, ta_after, sqlite_after);
    assert_true(ta_before > 0);
    assert_true(ta_after >= ta_before);
    assert_true(ta_after > 0.5 * sqlite_after);
    assert_true(ta_after <= sqlite_after + 1e-9);
    assert_true(ta_after <= 4.0);
    free(sim);
}

static void killed_node_with_protected_layers_resumes(void **state)
{
    if (!test_dataset_path(FMNIST))
        TEST_SKIP(FMNIST " is absent");
    if (!getenv("P4_BIN"))
        TEST_SKIP("P4_BIN is not set (run under ctest)");
    killed_node_resumes(*state, "pp_start = 2\npp_end = 3\n");
}

/* Without protected layers the TA still draws the seeded noise (ADD_NOISE,
 * RELEASE_ROWS) but holds no snapshot: the node's checkpoint keeps the
 * stream's position (NOISE_POSITION) and the restart seeds the TA there,
 * not at the stream's start.  In the serial layout too. */
static void killed_node_without_protected_layers_resumes(void **state)
{
    if (!test_dataset_path(FMNIST))
        TEST_SKIP(FMNIST " is absent");
    if (!getenv("P4_BIN"))
        TEST_SKIP("P4_BIN is not set (run under ctest)");
    killed_node_resumes(*state, "");
}

static void killed_node_without_protected_layers_resumes_serial(void **state)
{
    if (!test_dataset_path(FMNIST))
        TEST_SKIP(FMNIST " is absent");
    if (!getenv("P4_BIN"))
        TEST_SKIP("P4_BIN is not set (run under ctest)");
    killed_node_resumes(*state, "[dp]\nnoise_layout = serial\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(seeded_restart_equals_the_unbroken_run,
                                        test_temp_dir_setup, test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(restore_replays_noise_only_when_seeded,
                                        test_temp_dir_setup, test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(unknown_rounds_are_refused, test_temp_dir_setup,
                                        test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(malformed_parameters_are_refused, test_temp_dir_setup,
                                        test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(killed_node_with_protected_layers_resumes,
                                        test_temp_dir_setup, test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(killed_node_without_protected_layers_resumes,
                                        test_temp_dir_setup, test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(killed_node_without_protected_layers_resumes_serial,
                                        test_temp_dir_setup, test_temp_dir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
