/* test_admission_nodes.c: attestation-gated admission between live `p4 node`
 * processes (issue 13), on loopback ZeroMQ with CURVE.
 *
 * Six members, all with `[tee] backend = cca`, the same policy (the test
 * issuer's platform key, one allowed realm measurement) and the test token
 * issuer as their evidence command:
 *   nodes 0, 1, 2  good realms: a fresh token per HELLO, allowed measurement;
 *   node 3         a realm whose measurement is not on the allowlist;
 *   node 4         replays a real, well-measured token made for node 0's key
 *                  and another nonce;
 *   node 5         sends garbage as its token.
 * Nodes 0..2 must admit each other, refuse 3, 4 and 5 (logging the failed
 * check and the refused key), group among themselves, and finish training
 * (exit 0); the refused nodes must end by themselves with an error (nobody
 * sends them a warm-up slice), not a crash. */
#include "support/test_support.h"
#include "support/test_nodes.h"
#include "support/cca_test_tools.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cluster/identity.h"
#include "common/rng.h"
#include "tee/cca/evidence.h"

#define FMNIST "/usr/share/datasets/fashion-mnist"
#define NODES 6
#define NODE_SECONDS 900.0 /* bound on the whole run (generous: load 20+) */
#define RIM_GOOD "1111111111111111111111111111111111111111111111111111111111111111"
#define RIM_OTHER "2222222222222222222222222222222222222222222222222222222222222222"

static void refused_realms_are_left_out_and_the_rest_finish(void **state)
{
    if (!test_dataset_path(FMNIST)) TEST_SKIP(FMNIST " is absent");
    const char *bin = getenv("P4_BIN");
    if (!bin) TEST_SKIP("P4_BIN is not set (run under ctest)");
    const char *dir = *state;

    char keys_dir[1100], args[1300];
    test_path_in(dir, "issuer", keys_dir, sizeof keys_dir);
    assert_int_equal(mkdir(keys_dir, 0700), 0);
    snprintf(args, sizeof args, "keygen %s", keys_dir);
    assert_int_equal(cca_run_issuer(args), 0);

    char state_dir[NODES][1100], key[NODES][P4_KEY_Z85_CHARS + 1];
    int port[NODES];
    p4_identity id[NODES];
    for (int i = 0; i < NODES; i++) {
        char name[16];
        snprintf(name, sizeof name, "n%d", i);
        test_path_in(dir, name, state_dir[i], sizeof state_dir[i]);
        test_node_identity(state_dir[i], key[i], &id[i]);
        port[i] = test_free_port();
    }

    /* node 4's token: real and well measured, but bound to node 0's key and
     * a nonce of no session of this run */
    uint8_t nonce[32], challenge[64];
    cca_random_bytes(nonce, sizeof nonce);
    p4_error err = {0};
    assert_int_equal(p4_cca_binding_challenge(id[0].public_key, 32, nonce, 32, challenge, &err),
                     P4_OK);
    size_t stolen_len = 0;
    free(cca_issue(keys_dir, "stolen.cbor", challenge, NULL, &stolen_len));
    uint8_t garbage[900];
    cca_random_bytes(garbage, sizeof garbage);
    char garbage_path[1100], replay[1100], garbled[1100], body[1300];
    test_path_in(dir, "garbage.bin", garbage_path, sizeof garbage_path);
    assert_int_equal(test_write_file(garbage_path, garbage, sizeof garbage), 0);
    snprintf(body, sizeof body, "cat %s/stolen.cbor", keys_dir);
    cca_write_script(dir, "replay.sh", body, replay, sizeof replay);
    snprintf(body, sizeof body, "cat %s", garbage_path);
    cca_write_script(dir, "garbled.sh", body, garbled, sizeof garbled);

    char conf[NODES][1100], out[NODES][1100], errlog[NODES][1100];
    pid_t pid[NODES];
    for (int i = 0; i < NODES; i++) {
        char text[16384], command[1300];
        if (i < 3)
            snprintf(command, sizeof command, "%s issue %s", cca_issuer(), keys_dir);
        else if (i == 3)
            snprintf(command, sizeof command, "%s issue %s --rim %s", cca_issuer(), keys_dir,
                     RIM_OTHER);
        else
            snprintf(command, sizeof command, "%s", i == 4 ? replay : garbled);
        size_t used = (size_t)snprintf(
            text, sizeof text,
            "[data]\ndataset = fashion-mnist\npartition = iid\nclients = %d\n"
            "train_per_client = 30\ntest_per_client = 30\nmax_train = 3000\n"
            "max_test = 1000\nseed = 5\n"
            "[model]\ncfg = %s/configs/models/mlp-28x28x1.cfg\n"
            "proxy_cfg = %s/configs/models/logreg-28x28x1.cfg\nbatch = 10\nseed = 5\n"
            "[dp]\ntarget_epsilon = 8\n[p4]\nmethod = p4\nrounds = 2\ngroup_size = 2\n"
            "[node]\nid = %d\nlisten = tcp://127.0.0.1:%d\nstate = %s\ntimeout = 90\n",
            NODES, test_source_dir(), test_source_dir(), i, port[i], state_dir[i]);
        test_append_peers(text, sizeof text, &used, NODES, i, port, key);
        snprintf(text + used, sizeof text - used,
                 "[tee]\nbackend = cca\ncpak = %s/cpak.pub.pem\n"
                 "realm_initial_measurement = %s\nevidence = command\nevidence_command = %s\n",
                 keys_dir, RIM_GOOD, command);
        char name[16];
        snprintf(name, sizeof name, "n%d.ini", i);
        test_write_text(dir, name, text, conf[i], sizeof conf[i]);
        snprintf(out[i], sizeof out[i], "%s/n%d.out", dir, i);
        snprintf(errlog[i], sizeof errlog[i], "%s/n%d.err", dir, i);
    }
    for (int i = 0; i < NODES; i++) {
        char *argv[] = { (char *)bin, "node", "--config", conf[i], "--json", NULL };
        pid[i] = test_spawn(argv, out[i], errlog[i]);
    }
    int status[NODES];
    test_wait_all(pid, status, NODES, NODE_SECONDS);

    char *log[NODES], *json[NODES];
    for (int i = 0; i < NODES; i++) {
        log[i] = test_read_all(errlog[i]);
        json[i] = test_read_all(out[i]);
    }
    for (int i = 0; i < 3; i++) {
        if (status[i] == -1 || !WIFEXITED(status[i]) || WEXITSTATUS(status[i]) != 0)
            fail_msg("good node %d did not finish (wait status %#x):\n%s", i, status[i], log[i]);
        assert_non_null(strstr(json[i], "\"status\":\"finished\""));
        assert_non_null(strstr(json[i], "\"admission\":\"key allowlist and CCA attestation\""));
        assert_non_null(strstr(json[i], "\"refused\":3"));
        /* the groups hold the admitted nodes only, and all three agree */
        const char *g = strstr(json[i], "\"groups\":");
        assert_non_null(g);
        const char *end = strstr(g, "]]");
        assert_non_null(end);
        for (const char *c = g + 9; c < end; c++)
            if (*c >= '3' && *c <= '9')
                fail_msg("node %d grouped a refused node: %.*s", i, (int)(end - g + 2), g);
        if (i > 0) {
            const char *g0 = strstr(json[0], "\"groups\":");
            assert_int_equal(strncmp(g, g0, (size_t)(end - g)), 0);
        }
        const char *want[] = { "admission: key allowlist and CCA attestation",
                               "initial-measurement", "realm-challenge", "check format",
                               "3 refused, 0 silent" };
        for (size_t w = 0; w < sizeof want / sizeof want[0]; w++)
            if (!strstr(log[i], want[w]))
                fail_msg("node %d's log lacks '%s':\n%s", i, want[w], log[i]);
        for (int j = 0; j < NODES; j++) {
            char line[400];
            snprintf(line, sizeof line, j < 3 ? "peer %d (key %s) admitted"
                                              : "refused peer %d (key %s)", j, key[j]);
            if (j != i && !strstr(log[i], line))
                fail_msg("node %d's log lacks '%s':\n%s", i, line, log[i]);
        }
    }
    const char *summary = strstr(log[0], "admission: 2 of 5");
    if (summary)
        print_message("node 0: %.*s\n", (int)strcspn(summary, "\n"), summary);
    print_message("node 0: %s", json[0]);
    for (int i = 3; i < NODES; i++) {
        /* refused: nobody sends them a warm-up slice (or, when they refused
         * every other member themselves, nobody is left); they stop with an
         * error */
        if (status[i] == -1 || !WIFEXITED(status[i]) || WEXITSTATUS(status[i]) != 1)
            fail_msg("refused node %d: wait status %#x (want exit 1):\n%s", i, status[i], log[i]);
        if (!strstr(log[i], "no warm-up slice") && !strstr(log[i], "nobody to learn with"))
            fail_msg("refused node %d stopped for another reason:\n%s", i, log[i]);
    }
    for (int i = 0; i < NODES; i++) {
        free(log[i]);
        free(json[i]);
        p4_identity_wipe(&id[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(refused_realms_are_left_out_and_the_rest_finish,
                                        test_temp_dir_setup, test_temp_dir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
