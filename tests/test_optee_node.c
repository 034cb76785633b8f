/* test_optee_node.c: nodes with [tee] backend = optee (issue 14).
 *
 * A 4-node `p4 cluster` (real p4 node processes on loopback) whose nodes
 * run the optee backend through the harness gives, in --reproducible mode,
 * the accuracies and groups of `p4 sim` with the software backend: the TA
 * draws the same noise.  Each node's TA ledger (its secure storage, in the
 * node's state folder) then holds a spend above zero and at most the
 * node's SQLite ledger (which reserves steps in blocks) and the target:
 * every DP step and logits release was charged in the TA before its noise.
 * With protected layers (the MLP proxy's output layer in the TA, trained on
 * P4's distillation loss there), `p4 sim` and `p4 cluster` agree with the
 * software `p4 sim` too. */
#include "support/test_support.h"
#include "support/test_nodes.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "dp/ledger.h"
#include "tee/optee/host/optee.h"

#define FMNIST "/usr/share/datasets/fashion-mnist"

static void write_config_with(const char *dir, const char *name, const char *backend,
                              const char *src, const char *proxy, const char *tee_extra,
                              char *path, size_t size)
{
    char text[1800];
    snprintf(text, sizeof text,
             "[data]\ndataset = fashion-mnist\npartition = clustered\nclients = 4\n"
             "clusters = 2\nclasses_per_cluster = 4\ntrain_per_client = 100\n"
             "test_per_client = 250\nseed = 1\n"
             "[model]\ncfg = %s/configs/models/mlp-28x28x1.cfg\n"
             "proxy_cfg = %s/configs/models/%s\nbatch = 20\n"
             "learning_rate = 0.05\nmomentum = 0.9\nseed = 1\n"
             /* [dp] noise_layout: the default, chunked, in the TA as in software */
             "[dp]\ntarget_epsilon = 4\ndelta = 1e-5\nclip_norm = 1.0\n"
             "[p4]\nmethod = p4\nrounds = 3\nlocal_epochs = 1\nwarmup_epochs = 1\n"
             "group_size = 2\ndistance_layers = last\nkd_alpha = 0.25\nkd_temperature = 1\n"
             "[tee]\nbackend = %s\n%s", src, src, proxy, backend, tee_extra);
    test_write_text(dir, name, text, path, size);
}

static void write_config(const char *dir, const char *name, const char *backend,
                         const char *src, char *path, size_t size)
{
    write_config_with(dir, name, backend, src, "logreg-28x28x1.cfg", "", path, size);
}

/* Runs `p4 sim` (one thread) or `p4 cluster` (4 node processes) on ini with
 * --reproducible --json and a new state folder dir/<tag> (its path in
 * state); stdout and stderr go to dir/<tag>.out and .err, the round log
 * too unless quiet.  Returns the JSON (free it). */
static char *run_seeded(const char *dir, const char *tag, const char *command, const char *ini,
                        int quiet, char *state, size_t size)
{
    test_path_in(dir, tag, state, size);
    assert_int_equal(mkdir(state, 0700), 0);
    int cluster = strcmp(command, "cluster") == 0;
    const char *argv[16];
    int n = 0;
    argv[n++] = getenv("P4_BIN");
    argv[n++] = command;
    argv[n++] = "--config";
    argv[n++] = ini;
    argv[n++] = cluster ? "--nodes" : "--threads";
    argv[n++] = cluster ? "4" : "1";
    argv[n++] = cluster ? "--state" : "--state-dir";
    argv[n++] = state;
    argv[n++] = "--reproducible";
    argv[n++] = "--json";
    if (quiet)
        argv[n++] = "--quiet";
    argv[n] = NULL;
    return test_run_p4((char *const *)argv, dir, tag, 0, 1200);
}

/* dir/<tag>.err, the run's log (free it). */
static char *run_log(const char *dir, const char *tag)
{
    char name[64], path[600];
    snprintf(name, sizeof name, "%s.err", tag);
    test_path_in(dir, name, path, sizeof path);
    return test_read_all(path);
}

/* The JSON array after "key": in text, as written. */
static void json_array(const char *text, const char *key, char *out, size_t size)
{
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\":[", key);
    const char *at = strstr(text, pattern);
    assert_non_null(at);
    at += strlen(pattern) - 1;
    int depth = 0;
    size_t n = 0;
    do {
        if (*at == '[')
            depth++;
        else if (*at == ']')
            depth--;
        assert_true(n + 1 < size);
        out[n++] = *at++;
    } while (depth > 0 && *at);
    out[n] = '\0';
}

/* Each node's TA ledger charged its releases: above zero, at most the
 * node's SQLite ledger (which reserves steps in blocks) and the target. */
static void check_ta_ledgers(const char *cluster_state)
{
    for (int k = 0; k < 4; k++) {
        char storage[768], ledger_path[768];
        snprintf(storage, sizeof storage, "%s/node-%d/client-%03d.optee", cluster_state, k, k);
        snprintf(ledger_path, sizeof ledger_path, "%s/node-%d/client-%03d.db", cluster_state, k,
                 k);
        p4_optee_options o = { .delta = 1e-5, .target_epsilon = 4, .storage_dir = storage };
        p4_optee *t = NULL;
        p4_error err;
        if (p4_optee_open(&t, &o, &err) != P4_OK)
            fail_msg("node %d's TA: %s", k, err.message);
        double ta_spent = -1, sqlite_spent = -1;
        assert_int_equal(p4_optee_spent(t, &ta_spent, &err), P4_OK);
        p4_optee_close(&t);
        p4_ledger *ledger = NULL;
        assert_int_equal(p4_ledger_open(ledger_path, 4, 1e-5, &ledger, &err), P4_OK);
        assert_int_equal(p4_ledger_spent(ledger, &sqlite_spent, &err), P4_OK);
        p4_ledger_close(&ledger);
        print_message("node %d: TA ledger %.6f, SQLite ledger %.6f (target 4)\n", k, ta_spent,
                      sqlite_spent);
        assert_true(ta_spent > 0.5 * sqlite_spent);
        assert_true(ta_spent <= sqlite_spent + 1e-9);
        assert_true(ta_spent <= 4.0);
    }
}

/* The numbers of a JSON array of numbers, as written. */
static int numbers(const char *array, double *out, int most)
{
    int n = 0;
    for (const char *p = array; *p && n < most; p++)
        if ((*p >= '0' && *p <= '9') || *p == '-')
            out[n++] = strtod(p, (char **)&p);
    return n;
}

/* The accuracies of two runs agree client by client within one test
 * example of 250 (the TA's float sums differ from OpenBLAS's in the last
 * bits, so a near-tie may fall the other way). */
static void same_accuracies(const char *a, const char *b)
{
    double x[8], y[8];
    int n = numbers(a, x, 8);
    assert_int_equal(n, 4);
    assert_int_equal(numbers(b, y, 8), n);
    for (int k = 0; k < n; k++)
        if (fabs(x[k] - y[k]) > 1.0 / 250 + 1e-9)
            fail_msg("client %d: accuracy %.4f (software) vs %.4f (optee)", k, x[k], y[k]);
}

/* "round R/N: mean accuracy A" lines of a p4 sim log, as numbers. */
static int round_means(const char *log, double *out, int most)
{
    int n = 0;
    for (const char *p = log; (p = strstr(p, "mean accuracy ")) && n < most; p++)
        out[n++] = strtod(p + strlen("mean accuracy "), NULL);
    return n;
}

/* P4_SOURCE_DIR; the test skips unless Fashion-MNIST, P4_BIN and
 * P4_SOURCE_DIR are there. */
static const char *source_or_skip(void)
{
    if (!test_dataset_path(FMNIST))
        TEST_SKIP(FMNIST " is absent");
    const char *bin = getenv("P4_BIN"), *src = getenv("P4_SOURCE_DIR");
    if (!bin || !src)
        TEST_SKIP("P4_BIN or P4_SOURCE_DIR is not set (run under ctest)");
    return src;
}

/* A 4-node `p4 cluster` (quiet) on tee_ini in dir/cluster: its accuracies
 * are those of the software `p4 sim` whose JSON is sim (exactly, or within
 * one example when not exact), its groups the same, and each node's TA
 * ledger was charged.  `what` names the cluster's backend in the output. */
static void cluster_agrees_with_sim(const char *dir, const char *tee_ini, const char *sim,
                                    int exact, const char *what)
{
    char cluster_state[512];
    char *cluster = run_seeded(dir, "cluster", "cluster", tee_ini, 1, cluster_state,
                               sizeof cluster_state);
    char a[256], b[256];
    json_array(sim, "accuracy", a, sizeof a);
    json_array(cluster, "accuracy", b, sizeof b);
    print_message("software p4 sim %s, %s p4 cluster %s\n", a, what, b);
    if (exact)
        assert_string_equal(a, b);
    else
        same_accuracies(a, b);
    json_array(sim, "groups", a, sizeof a);
    json_array(cluster, "groups", b, sizeof b);
    assert_string_equal(a, b);
    free(cluster);
    check_ta_ledgers(cluster_state);
}

/* Protected layers in nodes (issue 14): the MLP proxy's output layer (and
 * its softmax) in each client's TA, trained there on P4's distillation
 * loss.  A software `p4 sim` and an optee `p4 sim` give the same per-round
 * mean accuracies (within one example in 1,000) and final accuracies (one
 * in 250 per client); an optee `p4 cluster` (4 node processes, loopback)
 * agrees too, and each node's TA ledger was charged. */
static void protected_layers_in_sim_and_cluster(void **state)
{
    const char *dir = *state, *src = source_or_skip();
    char sw_ini[512], tee_ini[512], sw_state[512], tee_state[512];
    write_config_with(dir, "software.ini", "software", src, "mlp-28x28x1.cfg", "", sw_ini,
                      sizeof sw_ini);
    write_config_with(dir, "optee.ini", "optee", src, "mlp-28x28x1.cfg",
                      "pp_start = 2\npp_end = 3\n", tee_ini, sizeof tee_ini);
    char *sw = run_seeded(dir, "sw", "sim", sw_ini, 0, sw_state, sizeof sw_state);
    char *tee = run_seeded(dir, "tee", "sim", tee_ini, 0, tee_state, sizeof tee_state);
    char *sw_log = run_log(dir, "sw"), *tee_log = run_log(dir, "tee");
    double ms[8], mt[8];
    int rounds = round_means(sw_log, ms, 8);
    assert_int_equal(rounds, 3);
    assert_int_equal(round_means(tee_log, mt, 8), rounds);
    for (int r = 0; r < rounds; r++) {
        print_message("round %d: mean accuracy %.4f (software), %.4f (optee, pp 2..3)\n",
                      r + 1, ms[r], mt[r]);
        assert_true(fabs(ms[r] - mt[r]) <= 0.001 + 1e-9);
    }
    char a[256], b[256];
    json_array(sw, "accuracy", a, sizeof a);
    json_array(tee, "accuracy", b, sizeof b);
    same_accuracies(a, b);

    cluster_agrees_with_sim(dir, tee_ini, sw, 0, "optee (pp 2..3)");
    free(sw);
    free(tee);
    free(sw_log);
    free(tee_log);
}

static void optee_cluster_equals_software_sim(void **state)
{
    const char *dir = *state, *src = source_or_skip();
    char sw_ini[512], tee_ini[512], sim_state[512];
    write_config(dir, "software.ini", "software", src, sw_ini, sizeof sw_ini);
    write_config(dir, "optee.ini", "optee", src, tee_ini, sizeof tee_ini);
    char *sim = run_seeded(dir, "sim", "sim", sw_ini, 1, sim_state, sizeof sim_state);
    cluster_agrees_with_sim(dir, tee_ini, sim, 1, "optee");
    free(sim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(optee_cluster_equals_software_sim, test_temp_dir_setup,
                                        test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(protected_layers_in_sim_and_cluster, test_temp_dir_setup,
                                        test_temp_dir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
