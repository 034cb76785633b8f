/* test_nodes.h: running `p4` (and `p4 node` processes) from the tests, each
 * wait bounded in time.  The bounds callers pass are generous on purpose:
 * these tests must hold on a machine at load average 20 and more, so they
 * wait on events (exit, a log line), never on fixed sleeps. */
#ifndef P4_TEST_NODES_H
#define P4_TEST_NODES_H

#include <stddef.h>
#include <sys/types.h>

#include "cluster/identity.h"

/* P4_SOURCE_DIR (set by tests/CMakeLists.txt), else ".". */
const char *test_source_dir(void);

void test_pause_ms(long ms);

/* Writes dir/name (its path in path): the small experiment the node tests
 * share, clustered Fashion-MNIST with `clients` clients in 2 latent
 * clusters (40 training and 40 test examples each), P4 with groups of two
 * at epsilon 8 for `rounds` rounds, then `extra` (still in [p4] unless it
 * opens a section). */
void test_write_node_config(const char *dir, const char *name, int clients, int rounds,
                            const char *extra, char *path, size_t size);

/* Waits for pid at most `seconds`; returns its wait status, or -1 after
 * killing it (and saying so) when it did not end in time. */
int test_wait_bounded(pid_t pid, double seconds);

/* Waits for each of n pids, at most `seconds` in all, into status[i];
 * kills those still running then (their status -1). */
void test_wait_all(const pid_t *pid, int *status, int n, double seconds);

/* 1 if the file holds text now. */
int test_file_has(const char *file, const char *text);

/* Polls the file until it holds text, at most `seconds`; 1 when it did. */
int test_wait_for_text(const char *file, const char *text, double seconds);

/* The same while process pid (a child not yet reaped; 0: none) runs: 1
 * when file holds text, 0 after `seconds`, -1 as soon as pid has ended
 * without writing it (pid stays unreaped: its status is the caller's). */
int test_wait_for_text_of(pid_t pid, const char *file, const char *text, double seconds);

/* Runs argv (a `p4` command) to completion with stdout and stderr in
 * dir/<tag>.out and dir/<tag>.err; fails the test, with its stderr, unless
 * it exits with expect_status within `seconds`.  Returns its stdout (free
 * it). */
char *test_run_p4(char *const argv[], const char *dir, const char *tag, int expect_status,
                  double seconds);

/* The numbers of "key":[a,b,...] in json; how many (-1 if absent or bad). */
int test_json_numbers(const char *json, const char *key, double *v, int max);

/* The number after "key": in json; fails the test if the key is absent. */
double test_json_number(const char *json, const char *key);

/* Makes (or loads) the key pair of a node whose state directory is
 * state_dir; its public key in Z85 into key, and the identity into id
 * when id is not NULL (wipe it after use). */
void test_node_identity(const char *state_dir, char key[P4_KEY_Z85_CHARS + 1],
                        p4_identity *id);

/* Appends "peers = j@tcp://127.0.0.1:<port[j]>@<key[j]>" lines for every
 * j < n other than self at text + *used (size bytes in all); fails the test
 * if they do not fit. */
void test_append_peers(char *text, size_t size, size_t *used, int n, int self, const int *port,
                       char key[][P4_KEY_Z85_CHARS + 1]);

#endif
