/* test_optee_logits.c: [p4] share = logits with protected layers (issue 14,
 * tee/optee/ta/ta_logits.c), through the GlobalPlatform harness.
 *   - A 4-client optee `p4 sim` with the MLP proxy's output layer in each
 *     TA gives, with --reproducible, the software backend's per-round mean
 *     accuracies (within one test example in 1,000) and final accuracies
 *     (one in 250 per client): the TA computes the logits on the public set,
 *     releases them noised with the software mechanism's noise, and runs the
 *     public distillation's step of its layers.
 *   - No weight-returning command crosses during the run (the harness logs
 *     every invoked command id): no LAYERS_EXPORT, no RELEASE_ROWS of logits
 *     computed outside; one LOGITS_RELEASE per client and round.
 *   - Each client's TA ledger (the harness's secure storage, stored as the
 *     plain record there) holds exactly the phases of its SQLite ledger: the
 *     warm-up, the co-training steps and the logits releases.
 *   - A 4-node `p4 cluster` does the same.
 *   - Grouping on a slice of the protected layers (distance_layers = last)
 *     is refused by name: those weights never leave.
 *   - Straight through the host API: layers loaded to stay refuse export;
 *     layers that may leave refuse the public step; a release is the
 *     clipped, centred log-probabilities plus noise, charged before it
 *     leaves, and refused past the budget. */
#include "support/test_support.h"
#include "support/test_nodes.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dp/ledger.h"
#include "dp/rdp_core.h"
#include "p4_ta.h"
#include "tee/optee/host/optee.h"

#define FMNIST "/usr/share/datasets/fashion-mnist"
#define CLIENTS 4
#define ROUNDS 3
#define PUBLIC 200
#define BATCH 20
#define TA_UUID_DIR "991a17f5-56f0-4bd9-8e29-8ff28f926bb4"
/* "p4-privacy-ledger" as the harness names the object's file. */
#define LEDGER_FILE "obj-70342d707269766163792d6c6564676572"

static void write_config_grouped(const char *dir, const char *name, const char *backend,
                                 const char *src, const char *distance, char *path, size_t size)
{
    char text[1800];
    snprintf(text, sizeof text,
             "[data]\ndataset = fashion-mnist\npartition = clustered\nclients = %d\n"
             "clusters = 2\nclasses_per_cluster = 4\ntrain_per_client = 100\n"
             "test_per_client = 250\nseed = 1\n"
             "[model]\ncfg = %s/configs/models/mlp-28x28x1.cfg\n"
             "proxy_cfg = %s/configs/models/mlp-28x28x1.cfg\nbatch = %d\n"
             "learning_rate = 0.05\nmomentum = 0.9\nseed = 1\n"
             /* [dp] noise_layout: the default, chunked, in the TA as in software */
             "[dp]\ntarget_epsilon = 4\ndelta = 1e-5\nclip_norm = 1.0\n"
             "[p4]\nmethod = p4\nrounds = %d\nlocal_epochs = 1\nwarmup_epochs = 1\n"
             "group_size = 2\ndistance_layers = %s\nkd_alpha = 0.25\nkd_temperature = 1\n"
             "share = logits\npublic_count = %d\n"
             "[tee]\nbackend = %s\n%s",
             CLIENTS, src, src, BATCH, ROUNDS, distance, PUBLIC, backend,
             strcmp(backend, "optee") == 0 ? "pp_start = 2\npp_end = 3\n" : "");
    test_write_text(dir, name, text, path, size);
}

static void write_config(const char *dir, const char *name, const char *backend,
                         const char *src, char *path, size_t size)
{
    write_config_grouped(dir, name, backend, src, "first", path, size);
}

/* "round R/N: mean accuracy A" lines of a p4 log, as numbers. */
static int round_means(const char *log, double *out, int most)
{
    int n = 0;
    for (const char *p = log; (p = strstr(p, "mean accuracy ")) && n < most; p++)
        out[n++] = strtod(p + strlen("mean accuracy "), NULL);
    return n;
}

/* Lines of the harness's command log equal to this command id. */
static int count_command(const char *log, unsigned command)
{
    char want[16];
    snprintf(want, sizeof want, "0x%x\n", command);
    int n = 0;
    for (const char *p = log; (p = strstr(p, want)) != NULL; p += strlen(want))
        if (p == log || p[-1] == '\n')
            n++;
    return n;
}

/* The commands of a logits run with protected layers: the releases came
 * out of the TA's logits command, one per client and round; no weights and
 * no logits computed outside crossed. */
static void check_commands(const char *log_path)
{
    char *log = test_read_all(log_path);
    int exports = count_command(log, P4_TA_CMD_LAYERS_EXPORT);
    int outside = count_command(log, P4_TA_CMD_RELEASE_ROWS);
    int releases = count_command(log, P4_TA_CMD_LOGITS_RELEASE);
    int steps = count_command(log, P4_TA_CMD_PUBLIC_STEP);
    print_message("commands: %d LAYERS_EXPORT, %d RELEASE_ROWS, %d LOGITS_RELEASE, "
                  "%d PUBLIC_STEP\n", exports, outside, releases, steps);
    assert_int_equal(exports, 0);
    assert_int_equal(outside, 0);
    assert_int_equal(releases, CLIENTS * ROUNDS);
    /* one public step per batch of the public set, each client and round */
    assert_int_equal(steps, CLIENTS * ROUNDS * (PUBLIC / BATCH));
    free(log);
}

/* A TA ledger's phases, read from the harness's storage (a board encrypts
 * it; the harness keeps ta_session.h's record as it is: four uint32s,
 * delta, target, then P4_TA_LEDGER_MAX_PHASES p4_dp_phase). */
static int ta_phases(const char *storage, p4_dp_phase *out, int most)
{
    char path[900];
    snprintf(path, sizeof path, "%s/%s/%s", storage, TA_UUID_DIR, LEDGER_FILE);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("no TA ledger at %s", path);
    uint32_t head[4];
    double delta_target[2];
    assert_int_equal(fread(head, sizeof head, 1, f), 1);
    assert_int_equal(fread(delta_target, sizeof delta_target, 1, f), 1);
    int n = (int)head[2];
    assert_true(n >= 0 && n <= most);
    if (n > 0)
        assert_int_equal(fread(out, sizeof *out, (size_t)n, f), (size_t)n);
    fclose(f);
    return n;
}

/* Every TA ledger holds exactly its SQLite ledger's phases (q, sigma,
 * steps): the logits releases were charged in the TA, none left uncharged
 * and none was charged twice. */
static void check_ledgers(const char *state, int per_node)
{
    for (int k = 0; k < CLIENTS; k++) {
        char storage[800], db[800], node[700];
        if (per_node)
            snprintf(node, sizeof node, "%s/node-%d", state, k);
        else
            snprintf(node, sizeof node, "%s", state);
        snprintf(storage, sizeof storage, "%s/client-%03d.optee", node, k);
        snprintf(db, sizeof db, "%s/client-%03d.db", node, k);
        p4_dp_phase ta[P4_TA_LEDGER_MAX_PHASES], *sql = NULL;
        int nta = ta_phases(storage, ta, P4_TA_LEDGER_MAX_PHASES), nsql = 0;
        p4_ledger *ledger = NULL;
        p4_error err;
        assert_int_equal(p4_ledger_open(db, 4, 1e-5, &ledger, &err), P4_OK);
        assert_int_equal(p4_ledger_phases(ledger, 0, &sql, &nsql, &err), P4_OK);
        p4_ledger_close(&ledger);
        int logits = 0;
        for (int i = 0; i < nta; i++)
            if (ta[i].sample_rate == 1.0 && ta[i].steps == ROUNDS)
                logits++;
        print_message("client %d: TA ledger %d phases, SQLite %d; %d of them the logits "
                      "releases\n", k, nta, nsql, logits);
        assert_int_equal(logits, 1);
        assert_int_equal(nta, nsql);
        for (int i = 0; i < nsql; i++) {
            int found = 0;
            for (int j = 0; j < nta && !found; j++)
                found = ta[j].sample_rate == sql[i].sample_rate &&
                        ta[j].noise_multiplier == sql[i].noise_multiplier &&
                        ta[j].steps == sql[i].steps;
            if (!found)
                fail_msg("client %d: the SQLite ledger's phase (q %g, sigma %g, %lld steps) "
                         "is not in the TA's", k, sql[i].sample_rate, sql[i].noise_multiplier,
                         sql[i].steps);
        }
        free(sql);
    }
}

static void same_accuracies(const char *a, const char *b)
{
    double x[8], y[8];
    int n = test_json_numbers(a, "accuracy", x, 8);
    assert_int_equal(n, CLIENTS);
    assert_int_equal(test_json_numbers(b, "accuracy", y, 8), n);
    for (int k = 0; k < n; k++) {
        print_message("client %d: accuracy %.4f (software), %.4f (optee)\n", k, x[k], y[k]);
        if (fabs(x[k] - y[k]) > 1.0 / 250 + 1e-9)
            fail_msg("client %d: accuracy %.4f (software) vs %.4f (optee)", k, x[k], y[k]);
    }
}

/* The p4 binary and source tree, and the dataset; skips (cmocka's skip()
 * does not return) when one is missing. */
static void need_p4(const char **bin, const char **src)
{
    if (!test_dataset_path(FMNIST))
        TEST_SKIP(FMNIST " is absent");
    *bin = getenv("P4_BIN");
    *src = getenv("P4_SOURCE_DIR");
    if (!*bin || !*src)
        TEST_SKIP("P4_BIN or P4_SOURCE_DIR is not set (run under ctest)");
}

static void logits_sim_and_cluster(void **state)
{
    const char *dir = *state;
    const char *bin, *src;
    need_p4(&bin, &src);
    char sw_ini[512], tee_ini[512], sw_state[512], tee_state[512], cluster_state[512];
    char sim_log[512], cluster_log[512];
    write_config(dir, "software.ini", "software", src, sw_ini, sizeof sw_ini);
    write_config(dir, "optee.ini", "optee", src, tee_ini, sizeof tee_ini);
    test_path_in(dir, "sw", sw_state, sizeof sw_state);
    test_path_in(dir, "tee", tee_state, sizeof tee_state);
    test_path_in(dir, "cluster", cluster_state, sizeof cluster_state);
    test_path_in(dir, "sim-commands.log", sim_log, sizeof sim_log);
    test_path_in(dir, "cluster-commands.log", cluster_log, sizeof cluster_log);
    assert_int_equal(mkdir(sw_state, 0700), 0);
    assert_int_equal(mkdir(tee_state, 0700), 0);
    assert_int_equal(mkdir(cluster_state, 0700), 0);

    char *const sw_argv[] = { (char *)bin, "sim", "--config", sw_ini, "--reproducible", "--json",
                              "--threads", "1", "--state-dir", sw_state, NULL };
    char *const tee_argv[] = { (char *)bin, "sim", "--config", tee_ini, "--reproducible",
                               "--json", "--threads", "1", "--state-dir", tee_state, NULL };
    char *sw = test_run_p4(sw_argv, dir, "sw", 0, 1200);
    assert_int_equal(setenv("P4_TEEC_EMU_COMMAND_LOG", sim_log, 1), 0);
    char *tee = test_run_p4(tee_argv, dir, "tee", 0, 1200);
    char path[600];
    test_path_in(dir, "sw.err", path, sizeof path);
    char *sw_err = test_read_all(path);
    test_path_in(dir, "tee.err", path, sizeof path);
    char *tee_err = test_read_all(path);
    double ms[8], mt[8];
    assert_int_equal(round_means(sw_err, ms, 8), ROUNDS);
    assert_int_equal(round_means(tee_err, mt, 8), ROUNDS);
    for (int r = 0; r < ROUNDS; r++) {
        print_message("round %d: mean accuracy %.4f (software), %.4f (optee, pp 2..3, "
                      "share = logits)\n", r + 1, ms[r], mt[r]);
        assert_true(fabs(ms[r] - mt[r]) <= 0.001 + 1e-9);
    }
    same_accuracies(sw, tee);
    check_commands(sim_log);
    check_ledgers(tee_state, 0);

    assert_int_equal(setenv("P4_TEEC_EMU_COMMAND_LOG", cluster_log, 1), 0);
    char *const cluster_argv[] = { (char *)bin, "cluster", "--config", tee_ini, "--nodes", "4",
                                   "--reproducible", "--json", "--quiet", "--state",
                                   cluster_state, NULL };
    char *cluster = test_run_p4(cluster_argv, dir, "cluster", 0, 1200);
    unsetenv("P4_TEEC_EMU_COMMAND_LOG");
    same_accuracies(sw, cluster);
    check_commands(cluster_log);
    check_ledgers(cluster_state, 1);
    free(sw);
    free(tee);
    free(sw_err);
    free(tee_err);
    free(cluster);
}

/* Grouping on the output layer's weights needs them out of the TA: refused
 * by name before any training. */
static void grouping_on_protected_layers_refused(void **state)
{
    const char *dir = *state;
    const char *bin, *src;
    need_p4(&bin, &src);
    char ini[512], run_state[512], path[600];
    write_config_grouped(dir, "last.ini", "optee", src, "last", ini, sizeof ini);
    test_path_in(dir, "last", run_state, sizeof run_state);
    assert_int_equal(mkdir(run_state, 0700), 0);
    char *const argv[] = { (char *)bin, "sim", "--config", ini, "--reproducible", "--threads",
                           "1", "--state-dir", run_state, NULL };
    free(test_run_p4(argv, dir, "last", 1, 300));
    test_path_in(dir, "last.err", path, sizeof path);
    char *log = test_read_all(path);
    assert_non_null(strstr(log, "distance_layers = last reads the proxy's protected layers"));
    free(log);
}

/* ---- the commands straight through the host API ---------------------------- */

#define IN 4
#define OUT 3

/* One connected layer (IN -> OUT, linear) with zero weights and biases b:
 * every input's logits are b. */
static p4_optee *open_layers(const char *dir, double target, int stay, const float *bias)
{
    p4_optee_options o = { .delta = 1e-5, .target_epsilon = target, .ta_memory_mib = 10,
                           .storage_dir = dir };
    p4_optee *t = NULL;
    p4_error err;
    if (p4_optee_open(&t, &o, &err) != P4_OK)
        fail_msg("%s", err.message);
    p4_ta_layers_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.nlayers = 1;
    spec.capacity = 2;
    spec.flags = stay ? P4_TA_LAYERS_STAY : 0;
    spec.layer[0].inputs = IN;
    spec.layer[0].outputs = OUT;
    float params[IN * OUT + OUT] = { 0 };
    memcpy(params + IN * OUT, bias, OUT * sizeof(float));
    if (p4_optee_layers_load(t, &spec, params, IN * OUT + OUT, &err) != P4_OK)
        fail_msg("%s", err.message);
    return t;
}

static void layers_that_stay_never_leave(void **state)
{
    const char *dir = *state;
    char a[512], b[512];
    test_path_in(dir, "stay", a, sizeof a);
    test_path_in(dir, "leave", b, sizeof b);
    assert_int_equal(mkdir(a, 0700), 0);
    assert_int_equal(mkdir(b, 0700), 0);
    const float bias[OUT] = { 1, 0, -1 };
    p4_error err;
    float out[IN * OUT + OUT];
    p4_ta_public_step_args step = { 1, 0.1, 0, 0 };

    p4_optee *t = open_layers(a, 10, 1, bias);
    assert_int_equal(p4_optee_layers_export(t, out, IN * OUT + OUT, &err), P4_EUNSUPPORTED);
    print_message("export of layers that stay: %s\n", err.message);
    assert_int_equal(p4_optee_layers_public_step(t, &step, &err), P4_OK);
    p4_optee_close(&t);

    t = open_layers(b, 10, 0, bias);
    assert_int_equal(p4_optee_layers_export(t, out, IN * OUT + OUT, &err), P4_OK);
    assert_true(out[IN * OUT] == 1.0f && out[IN * OUT + 2] == -1.0f);
    assert_int_not_equal(p4_optee_layers_public_step(t, &step, &err), P4_OK);
    p4_optee_close(&t);
}

static void a_release_is_clipped_noised_and_charged(void **state)
{
    const char *dir = *state;
    const float bias[OUT] = { 2, 0, -2 };
    p4_error err;
    const int n = 3;
    const double clip = 0.5, sigma = 0.02;
    p4_optee *t = open_layers(dir, 1e6, 1, bias);
    double one = 0;
    const float x[3 * IN] = { 1, 2, 3, 4, -1, 0, 1, 0, 5, 5, 5, 5 };
    float rows[3 * OUT];
    if (p4_optee_layers_release_logits(t, x, n, clip, sigma, rows, &err) != P4_OK)
        fail_msg("%s", err.message);
    assert_int_equal(p4_optee_spent(t, &one, &err), P4_OK);
    print_message("one release of %d rows at sigma %g: epsilon %g\n", n, sigma, one);
    assert_true(one > 0);
    /* Centred log softmax of the bias: bias - mean(bias), clipped to 0.5. */
    double centred[OUT], norm = 0;
    for (int k = 0; k < OUT; k++) {
        double lse = log(exp(2.0) + exp(0.0) + exp(-2.0));
        centred[k] = bias[k] - lse;
    }
    double mean = (centred[0] + centred[1] + centred[2]) / 3;
    for (int k = 0; k < OUT; k++) {
        centred[k] -= mean;
        norm += centred[k] * centred[k];
    }
    norm = sqrt(norm);
    for (int i = 0; i < n; i++)
        for (int k = 0; k < OUT; k++) {
            double want = centred[k] * clip / norm;
            if (fabs(rows[i * OUT + k] - want) > 10 * sigma * clip)
                fail_msg("row %d class %d: %g, expected %g plus noise of std %g", i, k,
                         rows[i * OUT + k], want, sigma * clip);
        }
    int moved = 0;
    for (int k = 0; k < n * OUT; k++)
        moved += rows[k] != (float)(centred[k % OUT] * clip / norm);
    assert_true(moved > 0); /* noised */
    p4_optee_close(&t);

    /* Reopened with a target just above the one release: the next refused. */
    char again[512];
    test_path_in(dir, "budget", again, sizeof again);
    assert_int_equal(mkdir(again, 0700), 0);
    t = open_layers(again, one * 1.5, 1, bias);
    assert_int_equal(p4_optee_layers_release_logits(t, x, n, clip, sigma, rows, &err), P4_OK);
    for (int k = 0; k < n * OUT; k++)
        rows[k] = 42.0f;
    assert_int_equal(p4_optee_layers_release_logits(t, x, n, clip, sigma, rows, &err),
                     P4_EBUDGET);
    for (int k = 0; k < n * OUT; k++)
        assert_true(rows[k] == 42.0f); /* nothing left the TA */
    p4_optee_close(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(layers_that_stay_never_leave, test_temp_dir_setup,
                                        test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(a_release_is_clipped_noised_and_charged,
                                        test_temp_dir_setup, test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(grouping_on_protected_layers_refused, test_temp_dir_setup,
                                        test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(logits_sim_and_cluster, test_temp_dir_setup,
                                        test_temp_dir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
