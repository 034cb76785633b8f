/* test_cluster.h: `p4 node` processes on loopback that a test starts,
 * kills and starts again one by one (test_node_faults, test_optee_restart):
 * each node has its own state folder, key pair, port and config (a shared
 * base config and its [node] section), as `p4 cluster` makes them.  Nodes
 * die with the test (PDEATHSIG); every wait is bounded. */
#ifndef P4_TEST_CLUSTER_H
#define P4_TEST_CLUSTER_H

#include <stddef.h>
#include <sys/types.h>

#define TEST_CLUSTER_MAX 8

typedef struct test_cluster {
    const char *bin;          /* P4_BIN */
    int n;                    /* nodes */
    int reproducible;         /* started with --reproducible */
    char dir[1024];           /* the test's folder */
    char base[1100];          /* dir/base.ini: the config without [node], for p4 sim */
    char state[TEST_CLUSTER_MAX][1100], config[TEST_CLUSTER_MAX][1200];
    char out[TEST_CLUSTER_MAX][1200], log[TEST_CLUSTER_MAX][1200]; /* stdout, stderr */
    pid_t pid[TEST_CLUSTER_MAX]; /* 0: not running */
} test_cluster;

/* Writes base_text as dir/base.ini, makes n nodes' key pairs (in
 * dir/node-<k>) and free ports, and writes dir/node-<k>.ini: the base and
 * a [node] section with its id, listen endpoint, state folder, `timeout`
 * and every other node as a peer. */
void test_cluster_make(test_cluster *c, const char *dir, int n, const char *base_text,
                       double timeout, int reproducible);

/* Starts node k (again: its log is appended to, its stdout replaced);
 * kill_at >= 0 sets P4_TEST_KILL_AFTER_CHECKPOINT to kill_at:linger_ms, so
 * the node SIGKILLs itself linger_ms after its checkpoint that resumes at
 * round kill_at (cmd_node.c's fault hook). */
void test_cluster_start(test_cluster *c, int k, int kill_at, int linger_ms);

/* Every node's log on stderr, before a failure message. */
void test_cluster_dump_logs(const test_cluster *c);

/* SIGKILLs and reaps every node still running. */
void test_cluster_kill_all(test_cluster *c);

/* Dumps the logs, kills every node and fails the test with the message. */
void test_cluster_fail(test_cluster *c, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

/* Waits at most `seconds` for node k to end; its wait status (fails the
 * test if it did not end). */
int test_cluster_wait(test_cluster *c, int k, double seconds);

/* The same, and fails the test unless node k exited 0. */
void test_cluster_wait_ok(test_cluster *c, int k, double seconds);

/* Waits (bounded) until node k's log holds `text`; fails the test if not. */
void test_cluster_wait_log(test_cluster *c, int k, const char *text, double seconds);

/* Fails the test unless every node's accuracy (within 1e-6) and groups are
 * those of `p4 sim --json` output sim, and node `restarted` says it resumed
 * at round `resumed`. */
void test_cluster_expect_sim(test_cluster *c, const char *sim, int restarted, int resumed);

#endif
