/* test_membership.c: `p4 node` membership (issue 12), with real node
 * processes on loopback, each run bounded in time:
 *   - bootstrap join: four nodes whose configs list ONE bootstrap peer each
 *     (the other keys in [node] allow) join, learn the member list, and
 *     end with the groups and per-client accuracies of `p4 sim
 *     --reproducible`; the same with trust_bootstrap (no allow list: the
 *     bootstrap peer vouches for the members it lists);
 *   - config checks: a partial peers list without enough admitted keys is
 *     refused; with trust_bootstrap it is accepted;
 *   - a node stopped (SIGSTOP) during a round is dropped from its group for
 *     that round while the others go on, and rejoins when it comes back
 *     (SIGCONT); everyone finishes;
 *   - a node whose grouping view differs (the P4_TEST_SKEW_VIEW hook) is
 *     detected and re-synchronised to the majority's view: `p4 cluster`
 *     still gives `p4 sim`'s groups and accuracies;
 *   - SIGTERM stops a node cleanly between rounds: it ends by SIGTERM,
 *     node.db says "stopped after k of R rounds" with its finished rounds,
 *     and its peer (told by BYE) finishes without waiting for it. */
#include "support/test_support.h"
#include "support/test_nodes.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cluster/identity.h"
#include "common/config.h"
#include "p4node/node.h"
#include "p4node/node_state.h"

#define FMNIST "/usr/share/datasets/fashion-mnist"
#define NODES 4

/* Runs a p4 command to completion (bounded); returns its stdout (free it). */
static char *run_p4(char *const argv[], const char *dir, const char *tag)
{
    return test_run_p4(argv, dir, tag, 0, 900);
}

/* ---- a set of nodes, each with its own config ---------------------------------- */

typedef struct nodes {
    int n;
    char dir[NODES][1100], key[NODES][P4_KEY_Z85_CHARS + 1];
    int port[NODES];
    char config[NODES][1200], out[NODES][1200], err[NODES][1200];
    pid_t pid[NODES];
    int status[NODES];
} nodes;

/* Key pairs and ports for n nodes under dir. */
static void nodes_make(nodes *ns, const char *dir, int n)
{
    memset(ns, 0, sizeof *ns);
    ns->n = n;
    for (int k = 0; k < n; k++) {
        snprintf(ns->dir[k], sizeof ns->dir[k], "%s/node-%d", dir, k);
        test_node_identity(ns->dir[k], ns->key[k], NULL);
        ns->port[k] = test_free_port();
        snprintf(ns->out[k], sizeof ns->out[k], "%s/node-%d.out", dir, k);
        snprintf(ns->err[k], sizeof ns->err[k], "%s/node-%d.err", dir, k);
    }
}

/* Node k's config: the base experiment plus a [node] section whose peers
 * are the ids in `peers` (-1 ends the list) and, when allow_others, every
 * other node's key in allow; `more` goes into [node] too. */
static void nodes_config(nodes *ns, const char *dir, int k, int rounds, const int *peers,
                         int allow_others, const char *more)
{
    char extra[6000];
    size_t used = (size_t)snprintf(extra, sizeof extra,
                                   "[node]\nid = %d\nlisten = tcp://127.0.0.1:%d\nstate = %s\n"
                                   "timeout = 300\n%s", k, ns->port[k], ns->dir[k], more);
    for (int i = 0; peers[i] >= 0; i++)
        used += (size_t)snprintf(extra + used, sizeof extra - used,
                                 "peers = %d@tcp://127.0.0.1:%d@%s\n", peers[i],
                                 ns->port[peers[i]], ns->key[peers[i]]);
    for (int j = 0; j < ns->n && allow_others; j++)
        if (j != k)
            used += (size_t)snprintf(extra + used, sizeof extra - used, "allow = %s\n",
                                     ns->key[j]);
    char name[32];
    snprintf(name, sizeof name, "node-%d.ini", k);
    test_write_node_config(dir, name, ns->n, rounds, extra, ns->config[k], sizeof ns->config[k]);
}

static void nodes_start(nodes *ns, const char *bin)
{
    for (int k = 0; k < ns->n; k++) {
        char *argv[] = { (char *)bin, "node", "--config", ns->config[k], "--reproducible",
                         "--json", NULL };
        ns->pid[k] = test_spawn(argv, ns->out[k], ns->err[k]);
    }
}

/* Waits for every node; fails unless each exits 0. */
static void nodes_finish(nodes *ns)
{
    for (int k = 0; k < ns->n; k++)
        ns->status[k] = test_wait_bounded(ns->pid[k], 600);
    for (int k = 0; k < ns->n; k++)
        if (!WIFEXITED(ns->status[k]) || WEXITSTATUS(ns->status[k]) != 0) {
            for (int j = 0; j < ns->n; j++) {
                char *other = test_read_all(ns->err[j]);
                print_message("node %d's log:\n%s\n", j, other);
                free(other);
            }
            char *log = test_read_all(ns->err[k]);
            size_t n = strlen(log);
            fail_msg("node %d ended with wait status %#x; its log ends: %s", k, ns->status[k],
                     log + (n > 600 ? n - 600 : 0));
        }
}

/* `p4 sim --reproducible --json` on the experiment the nodes run. */
static char *sim_of(const char *dir, int rounds)
{
    const char *bin = getenv("P4_BIN");
    char config[1024];
    test_write_node_config(dir, "sim.ini", NODES, rounds, "", config, sizeof config);
    char *argv[] = { (char *)bin, "sim", "--config", config, "--reproducible", "--json",
                     "--quiet", NULL };
    return run_p4(argv, dir, "sim");
}

/* Each node's accuracy and groups equal the simulator's. */
static void nodes_match_sim(const nodes *ns, const char *sim)
{
    double a[NODES];
    assert_int_equal(test_json_numbers(sim, "accuracy", a, NODES), NODES);
    char sim_groups[256];
    test_json_value(sim, "groups", sim_groups, sizeof sim_groups);
    assert_true(strlen(sim_groups) > 4);
    for (int k = 0; k < ns->n; k++) {
        char *json = test_read_all(ns->out[k]), v[256];
        test_json_value(json, "accuracy", v, sizeof v);
        if (fabs(strtod(v, NULL) - a[k]) > 1e-6)
            fail_msg("node %d: accuracy %s, p4 sim %.9f\n%s", k, v, a[k], json);
        test_json_value(json, "groups", v, sizeof v);
        if (strcmp(v, sim_groups) != 0)
            fail_msg("node %d: groups %s, p4 sim %s", k, v, sim_groups);
        free(json);
    }
}

/* ---- config checks ------------------------------------------------------------------ */

static void partial_peers_need_admitted_keys(void **state)
{
    const char *dir = *state;
    static const char *key_a = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
    static const char *key_b = "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID";
    static const char *key_c = "3RjQT/L*E(FdbAC4##Hn?2-WS]BKkZm!-t?H+hWY";
    static p4_config cfg;
    char path[1024], extra[1024];
    p4_error err = {0};
    /* one bootstrap peer, no further keys: members 2 and 3 could never be admitted */
    snprintf(extra, sizeof extra, "[node]\nid = 0\nlisten = tcp://127.0.0.1:7000\nstate = s\n"
             "peers = 1@tcp://127.0.0.1:7001@%s\n", key_a);
    test_write_node_config(dir, "a.ini", 4, 2, extra, path, sizeof path);
    assert_int_equal(p4_config_load(path, &cfg, &err), P4_OK);
    assert_int_equal(p4_node_check_config(&cfg, &err), P4_ECONFIG);
    assert_non_null(strstr(err.message, "2 of the 4 clients missing (2, 3)"));
    assert_non_null(strstr(err.message, "allow has 0 other key(s)"));
    /* one more key is not enough for two members (the bootstrap peer's own key does not count) */
    snprintf(extra, sizeof extra, "[node]\nid = 0\nlisten = tcp://127.0.0.1:7000\nstate = s\n"
             "peers = 1@tcp://127.0.0.1:7001@%s\nallow = %s, %s\n", key_a, key_a, key_b);
    test_write_node_config(dir, "b.ini", 4, 2, extra, path, sizeof path);
    assert_int_equal(p4_config_load(path, &cfg, &err), P4_OK);
    assert_int_equal(p4_node_check_config(&cfg, &err), P4_ECONFIG);
    assert_non_null(strstr(err.message, "allow has 1 other key(s)"));
    /* two more keys: a bootstrap config */
    snprintf(extra, sizeof extra, "[node]\nid = 0\nlisten = tcp://127.0.0.1:7000\nstate = s\n"
             "peers = 1@tcp://127.0.0.1:7001@%s\nallow = %s\nallow = %s\n", key_a, key_b, key_c);
    test_write_node_config(dir, "c.ini", 4, 2, extra, path, sizeof path);
    assert_int_equal(p4_config_load(path, &cfg, &err), P4_OK);
    if (p4_node_check_config(&cfg, &err) != P4_OK)
        fail_msg("%s", err.message);
    assert_int_equal(cfg.node_allow_count, 2);
    assert_string_equal(cfg.node_allow[1], key_c);
    /* trust_bootstrap: one peer is enough */
    snprintf(extra, sizeof extra, "[node]\nid = 0\nlisten = tcp://127.0.0.1:7000\nstate = s\n"
             "peers = 1@tcp://127.0.0.1:7001@%s\ntrust_bootstrap = true\n", key_a);
    test_write_node_config(dir, "d.ini", 4, 2, extra, path, sizeof path);
    assert_int_equal(p4_config_load(path, &cfg, &err), P4_OK);
    assert_int_equal(p4_node_check_config(&cfg, &err), P4_OK);
    /* 0.0.0.0 cannot be told to others: advertise is needed to join */
    snprintf(extra, sizeof extra, "[node]\nid = 0\nlisten = tcp://0.0.0.0:7000\nstate = s\n"
             "peers = 1@tcp://127.0.0.1:7001@%s\ntrust_bootstrap = true\n", key_a);
    test_write_node_config(dir, "e.ini", 4, 2, extra, path, sizeof path);
    assert_int_equal(p4_config_load(path, &cfg, &err), P4_OK);
    assert_int_equal(p4_node_check_config(&cfg, &err), P4_ECONFIG);
    assert_non_null(strstr(err.message, "set [node] advertise"));
    /* refusals of the new keys */
    snprintf(extra, sizeof extra, "[node]\nallow = abc\n");
    test_write_node_config(dir, "f.ini", 4, 2, extra, path, sizeof path);
    assert_int_equal(p4_config_load(path, &cfg, &err), P4_ECONFIG);
    assert_non_null(strstr(err.message, "a key is 40 Z85 characters"));
    snprintf(extra, sizeof extra, "[node]\nheartbeat = 2\ndead_after = 1\n");
    test_write_node_config(dir, "g.ini", 4, 2, extra, path, sizeof path);
    assert_int_equal(p4_config_load(path, &cfg, &err), P4_ECONFIG);
    assert_non_null(strstr(err.message, "must exceed heartbeat"));
}

/* ---- bootstrap join ------------------------------------------------------------------ */

static void join_and_compare(const char *dir, int trust)
{
    const char *bin = getenv("P4_BIN");
    nodes ns;
    nodes_make(&ns, dir, NODES);
    /* node 0 knows only node 1; nodes 1..3 know only node 0 */
    static const int via1[] = { 1, -1 }, via0[] = { 0, -1 }, all[] = { 1, 2, 3, -1 };
    for (int k = 0; k < NODES; k++) {
        if (trust) /* node 0, the introducer, lists everyone; the rest trust it */
            nodes_config(&ns, dir, k, 2, k == 0 ? all : via0, 0,
                         k == 0 ? "" : "trust_bootstrap = true\n");
        else
            nodes_config(&ns, dir, k, 2, k == 0 ? via1 : via0, 1, "");
    }
    nodes_start(&ns, bin);
    nodes_finish(&ns);
    char *sim = sim_of(dir, 2);
    nodes_match_sim(&ns, sim);
    free(sim);
    for (int k = 1; k < NODES; k++) {
        if (!test_file_has(ns.err[k], "joined: all 4 members known")) {
            char *log = test_read_all(ns.err[k]);
            fail_msg("node %d's log does not say it joined:\n%s", k, log);
        }
        if (trust && !test_file_has(ns.err[k], "vouches for it (trust_bootstrap)")) {
            char *log = test_read_all(ns.err[k]);
            fail_msg("node %d admitted no vouched key:\n%s", k, log);
        }
    }
    /* node 0 in the trusted case is a static member: it says nothing about joining */
    assert_int_equal(test_file_has(ns.err[0], "joining:"), !trust);
}

static void bootstrap_join_matches_sim(void **state)
{
    if (!test_dataset_path(FMNIST)) TEST_SKIP(FMNIST " is absent");
    if (!getenv("P4_BIN")) TEST_SKIP("P4_BIN is not set (run under ctest)");
    join_and_compare(*state, 0);
}

static void trusted_bootstrap_join_matches_sim(void **state)
{
    if (!test_dataset_path(FMNIST)) TEST_SKIP(FMNIST " is absent");
    if (!getenv("P4_BIN")) TEST_SKIP("P4_BIN is not set (run under ctest)");
    join_and_compare(*state, 1);
}

/* ---- a stalled node ------------------------------------------------------------------- */

static void stalled_node_is_dropped_then_rejoins(void **state)
{
    if (!test_dataset_path(FMNIST)) TEST_SKIP(FMNIST " is absent");
    const char *bin = getenv("P4_BIN");
    if (!bin) TEST_SKIP("P4_BIN is not set (run under ctest)");
    const char *dir = *state;
    const int rounds = 8, victim = 3;
    nodes ns;
    nodes_make(&ns, dir, NODES);
    for (int k = 0; k < NODES; k++) {
        int peers[NODES], p = 0;
        for (int j = 0; j < NODES; j++)
            if (j != k)
                peers[p++] = j;
        peers[p] = -1;
        nodes_config(&ns, dir, k, rounds, peers, 0, "heartbeat = 0.2\ndead_after = 1.5\n");
    }
    nodes_start(&ns, bin);
    /* stop the victim once it has finished round 2: it is then in round 3 */
    if (!test_wait_for_text(ns.err[victim], "round 2/8", 300)) {
        for (int k = 0; k < NODES; k++)
            kill(ns.pid[k], SIGKILL);
        fail_msg("node %d never reached round 2", victim);
    }
    kill(ns.pid[victim], SIGSTOP);
    char dropped[128], back[128];
    snprintf(dropped, sizeof dropped, "peer %d silent for", victim);
    snprintf(back, sizeof back, "peer %d is back after", victim);
    /* wait until some member leaves it out of an exchange, then let it go on */
    int partner = -1;
    for (double waited = 0; waited < 120 && partner < 0; waited += 0.05) {
        for (int k = 0; k < NODES && partner < 0; k++)
            if (k != victim && test_file_has(ns.err[k], dropped))
                partner = k;
        test_pause_ms(50);
    }
    kill(ns.pid[victim], SIGCONT);
    nodes_finish(&ns);
    if (partner < 0)
        fail_msg("no node left the stopped node %d out of an exchange", victim);
    char *log = test_read_all(ns.err[partner]);
    if (!strstr(log, "dropped from this exchange; its group goes on without it") ||
        !strstr(log, back))
        fail_msg("node %d's log lacks the drop or the rejoin of node %d:\n%s", partner, victim,
                 log);
    free(log);
    if (!test_file_has(ns.err[victim], "this node itself was stalled for")) {
        log = test_read_all(ns.err[victim]);
        fail_msg("node %d did not notice its own stall:\n%s", victim, log);
    }
    /* The partner missed the victim in some rounds, not in all that were left. */
    char *json = test_read_all(ns.out[partner]), v[64];
    test_json_value(json, "missing", v, sizeof v);
    long missing = strtol(v, NULL, 10);
    if (missing < 1 || missing >= rounds - 2)
        fail_msg("node %d missed %ld messages (want 1 .. %d): %s", partner, missing,
                 rounds - 3, json);
    print_message("node %d left node %d out of %ld exchange(s) and took it back\n", partner,
                  victim, missing);
    free(json);
}

/* ---- a grouping view that differs ------------------------------------------------------- */

static void differing_view_is_resynchronised(void **state)
{
    if (!test_dataset_path(FMNIST)) TEST_SKIP(FMNIST " is absent");
    const char *bin = getenv("P4_BIN");
    if (!bin) TEST_SKIP("P4_BIN is not set (run under ctest)");
    const char *dir = *state;
    char config[1024], states[1100];
    test_write_node_config(dir, "four.ini", NODES, 2, "[node]\ntimeout = 300\n", config, sizeof config);
    snprintf(states, sizeof states, "%s/nodes", dir);
    char *sim = sim_of(dir, 2);
    setenv("P4_TEST_SKEW_VIEW", "2", 1); /* node 2 moves itself to another group */
    char *argv[] = { (char *)bin, "cluster", "--config", config, "--nodes", "4",
                     "--reproducible", "--json", "--quiet", "--state", states,
                     "--deadline", "600", NULL };
    char *cl = run_p4(argv, dir, "cluster");
    unsetenv("P4_TEST_SKEW_VIEW");
    double a[NODES], b[NODES];
    assert_int_equal(test_json_numbers(sim, "accuracy", a, NODES), NODES);
    assert_int_equal(test_json_numbers(cl, "accuracy", b, NODES), NODES);
    for (int k = 0; k < NODES; k++)
        if (fabs(a[k] - b[k]) > 1e-6)
            fail_msg("client %d: sim %.9f, cluster %.9f", k, a[k], b[k]);
    char ga[256], gb[256];
    test_json_value(sim, "groups", ga, sizeof ga);
    test_json_value(cl, "groups", gb, sizeof gb);
    assert_string_equal(ga, gb);
    char log2[1200];
    snprintf(log2, sizeof log2, "%s/node-2/node.log", states);
    if (!test_file_has(log2, "test hook: moved itself to group") ||
        !test_file_has(log2, "its grouping view differs from the majority's (3 of 4 views agree") ||
        !test_file_has(log2, "re-synchronised: adopted the majority's grouping view")) {
        char *log = test_read_all(log2);
        fail_msg("node 2's log does not show the re-synchronisation:\n%s", log);
    }
    char log0[1200];
    snprintf(log0, sizeof log0, "%s/node-0/node.log", states);
    assert_true(test_file_has(log0, "peer 2 computed different groups (3 of 4 views agree with this "
                              "one); sending it the majority's view"));
    free(sim);
    free(cl);
}

/* ---- a clean stop ------------------------------------------------------------------------- */

static void sigterm_stops_between_rounds(void **state)
{
    if (!test_dataset_path(FMNIST)) TEST_SKIP(FMNIST " is absent");
    const char *bin = getenv("P4_BIN");
    if (!bin) TEST_SKIP("P4_BIN is not set (run under ctest)");
    const char *dir = *state;
    const int rounds = 40;
    nodes ns;
    nodes_make(&ns, dir, 2);
    static const int to1[] = { 1, -1 }, to0[] = { 0, -1 };
    nodes_config(&ns, dir, 0, rounds, to1, 0, "");
    nodes_config(&ns, dir, 1, rounds, to0, 0, "");
    nodes_start(&ns, bin);
    if (!test_wait_for_text(ns.err[1], "round 2/40", 300)) {
        kill(ns.pid[0], SIGKILL);
        kill(ns.pid[1], SIGKILL);
        fail_msg("node 1 never reached round 2");
    }
    kill(ns.pid[1], SIGTERM);
    int s1 = test_wait_bounded(ns.pid[1], 300), s0 = test_wait_bounded(ns.pid[0], 600);
    char *log1 = test_read_all(ns.err[1]), *log0 = test_read_all(ns.err[0]);
    if (!WIFSIGNALED(s1) || WTERMSIG(s1) != SIGTERM)
        fail_msg("node 1: expected an end by SIGTERM, got %#x:\n%s", s1, log1);
    if (!WIFEXITED(s0) || WEXITSTATUS(s0) != 0)
        fail_msg("node 0 did not finish (%#x):\n%s", s0, log0);
    assert_non_null(strstr(log1, "SIGTERM: stopping after the current step"));
    assert_non_null(strstr(log0, "peer 1 said BYE"));
    p4_node_record rec;
    p4_error err = {0};
    assert_int_equal(p4_node_state_read(ns.dir[1], &rec, &err), P4_OK);
    assert_string_equal(rec.status, "stopped");
    int k = -1;
    if (sscanf(rec.error, "stopped by SIGTERM after %d of 40 rounds", &k) != 1)
        fail_msg("node.db says: %s", rec.error);
    /* the rounds it finished are recorded; it stopped between rounds, not at the end */
    if (k < 2 || k >= rounds || rec.round_reached != k)
        fail_msg("stopped after %d rounds, node.db's round_reached %d (want 2 <= k < %d)", k,
                 rec.round_reached, rounds);
    p4_node_record_free(&rec);
    /* p4 status: stopped, the rounds it finished, and what its ledger holds */
    char *argv[] = { (char *)bin, "status", "--state", ns.dir[1], "--json", NULL };
    char *st = run_p4(argv, dir, "status"), v[64];
    test_json_value(st, "status", v, sizeof v);
    assert_string_equal(v, "\"stopped\"");
    test_json_value(st, "round_reached", v, sizeof v);
    assert_int_equal(strtol(v, NULL, 10), k);
    test_json_value(st, "epsilon", v, sizeof v);
    assert_true(strtod(v, NULL) > 0 && strtod(v, NULL) <= 8.0);
    print_message("node 1 stopped cleanly after %d of %d rounds (epsilon %s)\n", k, rounds, v);
    free(st);
    free(log0);
    free(log1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(partial_peers_need_admitted_keys, test_temp_dir_setup,
                                        test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(bootstrap_join_matches_sim, test_temp_dir_setup,
                                        test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(trusted_bootstrap_join_matches_sim, test_temp_dir_setup,
                                        test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(stalled_node_is_dropped_then_rejoins, test_temp_dir_setup,
                                        test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(differing_view_is_resynchronised, test_temp_dir_setup,
                                        test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(sigterm_stops_between_rounds, test_temp_dir_setup,
                                        test_temp_dir_teardown),
    };
    /* P4_TEST_FILTER=pattern runs only the matching tests (while debugging). */
    if (getenv("P4_TEST_FILTER"))
        cmocka_set_test_filter(getenv("P4_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
