/* test_attack_nodes.c: the grouping lie (issue 15, docs/attacks.md) between
 * real `p4 node` processes: `p4 cluster --nodes 4` starts four nodes that
 * swap their warm-up slices over loopback ZeroMQ (CURVE), each bounded in
 * time.  Four clients in two latent clusters, {0, 2} and {1, 3}; the seed
 * makes client 1 the attacker, and its target is client 2, of the other
 * cluster:
 *   - attacker honest (grouping_lie = none): every node groups 1 apart
 *     from 2 (the control: the latent clusters win);
 *   - grouping_lie = copy-target: client 1 waits for 2's slice and sends a
 *     copy as its own; every node puts 1 in 2's group, and the nodes' groups
 *     equal `p4 sim`'s for the same config;
 *   - the same lie with [p4] duplicate_slice_ratio = 0.05: every node
 *     refuses the exact copy it received over the wire (1 and 2 each train
 *     alone, and every node's log says so);
 *   - the same lie with [p4] grouping_commit = true (COMMIT and ECHO on the
 *     wire before any SLICE): client 1 had to commit to its own slice, so
 *     every node refuses the copy as not matching that commitment; 1 trains
 *     alone, 2 keeps a group, and `p4 sim` finds the same groups. */
#include "support/test_support.h"
#include "support/test_nodes.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define FMNIST "/usr/share/datasets/fashion-mnist"
#define CLIENTS 4
#define ATTACKER 1
#define TARGET 2

/* One round of clustered Fashion-MNIST with 4 clients, one attacker (the
 * seed picks client 1) aiming at client 2; `lie`, `guard` and `commit` vary. */
static void write_config(const char *dir, const char *name, const char *lie, double guard,
                         int commit, char *path, size_t size)
{
    char extra[320];
    snprintf(extra, sizeof extra,
             "duplicate_slice_ratio = %g\n"
             "grouping_commit = %s\n"
             "[attack]\nfraction = 0.25\nkind = none\ngrouping_lie = %s\ntarget = %d\n"
             "[node]\ntimeout = 300\n",
             guard, commit ? "true" : "false", lie, TARGET);
    test_write_node_config(dir, name, CLIENTS, 1, extra, path, size);
}

/* Runs a p4 command (killed after 600 s); fails unless it exits 0; returns
 * its stdout (free it). */
static char *run_p4(char *const argv[], const char *dir, const char *tag)
{
    return test_run_p4(argv, dir, tag, 0, 600);
}

/* group_of[k] from the "groups":[[0,2],[1,3]] of json; fails the test
 * unless every client is in exactly one group. */
static void groups_of(const char *json, int *group_of)
{
    char text[256];
    test_json_value(json, "groups", text, sizeof text);
    for (int k = 0; k < CLIENTS; k++)
        group_of[k] = -1;
    int group = -1, depth = 0;
    for (const char *s = text; *s; s++) {
        if (*s == '[' && ++depth == 2)
            group++;
        else if (*s == ']')
            depth--;
        else if (*s >= '0' && *s <= '9' && depth == 2) {
            char *end;
            long k = strtol(s, &end, 10);
            if (k >= CLIENTS || group_of[k] != -1)
                fail_msg("bad groups %s", text);
            group_of[k] = group;
            s = end - 1;
        }
    }
    for (int k = 0; k < CLIENTS; k++)
        if (group_of[k] < 0)
            fail_msg("client %d is in no group of %s", k, text);
}

static int group_size_of(const int *group_of, int k)
{
    int size = 0;
    for (int j = 0; j < CLIENTS; j++)
        size += group_of[j] == group_of[k];
    return size;
}

/* Runs the four nodes on the config; each node's own groups into
 * group_of[node][client], which must be the same at every node. */
static void run_nodes(const char *dir, const char *config, const char *tag,
                      int group_of[CLIENTS][CLIENTS])
{
    const char *bin = getenv("P4_BIN");
    char states[1100];
    snprintf(states, sizeof states, "%s/%s", dir, tag);
    char *argv[] = { (char *)bin, "cluster", "--config", (char *)config, "--nodes", "4",
                     "--reproducible", "--json", "--quiet", "--state", states,
                     "--deadline", "600", NULL };
    char *json = run_p4(argv, dir, tag);
    /* a config with neither a kind nor a lie makes no attacker at all */
    if (strcmp(tag, "honest") != 0 && !strstr(json, "\"attackers\":[1]"))
        fail_msg("expected client 1 as the attacker: %s", json);
    free(json);
    for (int node = 0; node < CLIENTS; node++) {
        char path[1200];
        snprintf(path, sizeof path, "%s/node-%d/node.out", states, node);
        char *mine = test_read_all(path);
        groups_of(mine, group_of[node]);
        free(mine);
        assert_memory_equal(group_of[node], group_of[0], sizeof group_of[0]);
    }
}

static int node_log_has(const char *dir, const char *tag, int node, const char *text)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s/node-%d/node.log", dir, tag, node);
    char *s = test_read_all(path);
    int found = strstr(s, text) != NULL;
    free(s);
    return found;
}

/* `p4 sim` on the same config finds the groups the nodes found. */
static void assert_sim_groups(const char *dir, char *config, const char *tag,
                              const int *node_group_of)
{
    char *sim_argv[] = { (char *)getenv("P4_BIN"), "sim", "--config", config, "--reproducible",
                         "--json", "--quiet", "--threads", "1", NULL };
    char *sim = run_p4(sim_argv, dir, tag);
    int sim_group_of[CLIENTS];
    groups_of(sim, sim_group_of);
    free(sim);
    assert_memory_equal(sim_group_of, node_group_of, sizeof sim_group_of);
}

static void copy_target_joins_the_target_over_zeromq_and_the_guard_refuses_it(void **state)
{
    if (!test_dataset_path(FMNIST)) TEST_SKIP(FMNIST " is absent");
    if (!getenv("P4_BIN")) TEST_SKIP("P4_BIN is not set (run under ctest)");
    const char *dir = *state;
    char config[1024];
    int g[CLIENTS][CLIENTS];

    /* control: the attacker takes part honestly, and the clusters separate it from 2 */
    write_config(dir, "honest.ini", "none", 0, 0, config, sizeof config);
    run_nodes(dir, config, "honest", g);
    assert_int_not_equal(g[0][ATTACKER], g[0][TARGET]);

    /* the lie, with no guard: the copy is at distance 0 from 2, so 1 joins 2 */
    write_config(dir, "lie.ini", "copy-target", 0, 0, config, sizeof config);
    run_nodes(dir, config, "lie", g);
    assert_int_equal(g[0][ATTACKER], g[0][TARGET]);
    /* the nodes found what the simulator finds from the same config */
    assert_sim_groups(dir, config, "sim-lie", g[0]);

    /* the lie against the guard: every node refuses the exact copy it received */
    write_config(dir, "guard.ini", "copy-target", 0.05, 0, config, sizeof config);
    run_nodes(dir, config, "guard", g);
    assert_int_not_equal(g[0][ATTACKER], g[0][TARGET]);
    assert_int_equal(group_size_of(g[0], ATTACKER), 1);
    assert_int_equal(group_size_of(g[0], TARGET), 1);
    assert_int_equal(group_size_of(g[0], 0), 2); /* the honest others still group */
    for (int node = 0; node < CLIENTS; node++) {
        assert_true(node_log_has(dir, "guard", node,
                                 "peer 1's warm-up slice is a near-copy of another's"));
        assert_true(node_log_has(dir, "guard", node,
                                 "peer 2's warm-up slice is a near-copy of another's"));
    }
}

static void committed_slices_refuse_the_copy_over_zeromq(void **state)
{
    if (!test_dataset_path(FMNIST)) TEST_SKIP(FMNIST " is absent");
    if (!getenv("P4_BIN")) TEST_SKIP("P4_BIN is not set (run under ctest)");
    const char *dir = *state;
    char config[1024];
    int g[CLIENTS][CLIENTS];
    write_config(dir, "commit.ini", "copy-target", 0, 1, config, sizeof config);
    run_nodes(dir, config, "commit", g);
    assert_int_not_equal(g[0][ATTACKER], g[0][TARGET]);
    assert_int_equal(group_size_of(g[0], ATTACKER), 1);
    assert_true(group_size_of(g[0], TARGET) > 1);
    for (int node = 0; node < CLIENTS; node++)
        assert_true(node_log_has(dir, "commit", node,
                                 "peer 1's warm-up slice does not match its commitment"));
    assert_sim_groups(dir, config, "sim-commit", g[0]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            copy_target_joins_the_target_over_zeromq_and_the_guard_refuses_it,
            test_temp_dir_setup, test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(committed_slices_refuse_the_copy_over_zeromq,
                                        test_temp_dir_setup, test_temp_dir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
