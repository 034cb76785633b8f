/* test_cluster.c: `p4 node` processes a test kills and restarts (see
 * test_cluster.h). */
#include "support/test_cluster.h"
#include "support/test_watchdog.h"
#include "support/test_nodes.h"
#include "support/test_support.h"

#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cluster/identity.h"

/* snprintf into a buffer that must hold it all. */
__attribute__((format(printf, 3, 4)))
static void format_path(char *out, size_t size, const char *format, ...)
{
    va_list ap;
    va_start(ap, format);
    int w = vsnprintf(out, size, format, ap);
    va_end(ap);
    if (w < 0 || (size_t)w >= size)
        fail_msg("a path does not fit in %zu bytes: %s...", size, out);
}

void test_cluster_make(test_cluster *c, const char *dir, int n, const char *base_text,
                       double timeout, int reproducible)
{
    assert_true(n > 0 && n <= TEST_CLUSTER_MAX);
    memset(c, 0, sizeof *c);
    c->bin = getenv("P4_BIN");
    c->n = n;
    c->reproducible = reproducible;
    format_path(c->dir, sizeof c->dir, "%s", dir);
    test_write_text(dir, "base.ini", base_text, c->base, sizeof c->base);
    char key[TEST_CLUSTER_MAX][P4_KEY_Z85_CHARS + 1];
    int port[TEST_CLUSTER_MAX];
    for (int k = 0; k < n; k++) {
        format_path(c->state[k], sizeof c->state[k], "%s/node-%d", dir, k);
        test_node_identity(c->state[k], key[k], NULL);
        port[k] = test_free_port();
        format_path(c->out[k], sizeof c->out[k], "%s/node.out", c->state[k]);
        format_path(c->log[k], sizeof c->log[k], "%s/node.log", c->state[k]);
    }
    for (int k = 0; k < n; k++) {
        char text[8192];
        /* A reproducible run is compared with p4 sim, so a restarted peer
         * must never be left out as silent: its restart (a new process, the
         * data, a TA session) can take longer than the default dead_after
         * of 10 s under ASan on a loaded machine. */
        double dead_after = reproducible ? (timeout > 30 ? timeout : 30) : 10;
        int w = snprintf(text, sizeof text, "%s[node]\nid = %d\nlisten = tcp://127.0.0.1:%d\n"
                         "state = %s\ntimeout = %g\ndead_after = %g\n", base_text, k, port[k],
                         c->state[k], timeout, dead_after);
        if (w < 0 || (size_t)w >= sizeof text)
            fail_msg("node %d's config does not fit in %zu bytes", k, sizeof text);
        size_t used = (size_t)w;
        test_append_peers(text, sizeof text, &used, n, k, port, key);
        char name[32];
        snprintf(name, sizeof name, "node-%d.ini", k);
        test_write_text(dir, name, text, c->config[k], sizeof c->config[k]);
    }
}

void test_cluster_start(test_cluster *c, int k, int kill_at, int linger_ms)
{
    char *argv[] = { (char *)c->bin, "node", "--config", c->config[k], "--json",
                     c->reproducible ? "--reproducible" : NULL, NULL };
    unlink(c->out[k]);
    /* the log is appended to, so the first run's lines stay for a failure message */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (kill_at >= 0) {
            char v[32];
            snprintf(v, sizeof v, "%d:%d", kill_at, linger_ms);
            setenv("P4_TEST_KILL_AFTER_CHECKPOINT", v, 1);
        }
        if (!freopen(c->out[k], "w", stdout) || !freopen(c->log[k], "a", stderr))
            _exit(126);
        execv(argv[0], argv);
        _exit(127);
    }
    c->pid[k] = pid;
    /* a hang shows this process's log and kills it (test_watchdog.h) */
    test_watchdog_watch(pid, c->log[k]);
}

void test_cluster_dump_logs(const test_cluster *c)
{
    for (int k = 0; k < c->n; k++) {
        char *l = test_read_all(c->log[k]);
        fprintf(stderr, "---- node %d's log ----\n%s", k, l);
        free(l);
    }
}

void test_cluster_kill_all(test_cluster *c)
{
    for (int k = 0; k < c->n; k++)
        if (c->pid[k] > 0) {
            kill(c->pid[k], SIGKILL);
            waitpid(c->pid[k], NULL, 0);
            c->pid[k] = 0;
        }
}

void test_cluster_fail(test_cluster *c, const char *format, ...)
{
    char message[4096];
    va_list ap;
    va_start(ap, format);
    vsnprintf(message, sizeof message, format, ap);
    va_end(ap);
    test_cluster_dump_logs(c);
    test_cluster_kill_all(c);
    fail_msg("%s", message);
}

int test_cluster_wait(test_cluster *c, int k, double seconds)
{
    int status = test_wait_bounded(c->pid[k], seconds);
    c->pid[k] = 0;
    if (status == -1)
        test_cluster_fail(c, "node %d did not end within %.0f s", k, seconds);
    return status;
}

void test_cluster_wait_ok(test_cluster *c, int k, double seconds)
{
    int status = test_cluster_wait(c, k, seconds);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        test_cluster_fail(c, "node %d ended with wait status %#x", k, status);
}

void test_cluster_wait_log(test_cluster *c, int k, const char *text, double seconds)
{
    if (!test_wait_for_text(c->log[k], text, seconds))
        test_cluster_fail(c, "node %d never logged '%s' within %.0f s", k, text, seconds);
}

void test_cluster_expect_sim(test_cluster *c, const char *sim, int restarted, int resumed)
{
    double want[TEST_CLUSTER_MAX];
    assert_int_equal(test_json_numbers(sim, "accuracy", want, c->n), c->n);
    char groups_sim[256];
    test_json_value(sim, "groups", groups_sim, sizeof groups_sim);
    for (int k = 0; k < c->n; k++) {
        char *out = test_read_all(c->out[k]);
        double got = test_json_number(out, "accuracy");
        char groups[256];
        test_json_value(out, "groups", groups, sizeof groups);
        print_message("client %d: accuracy %.4f (p4 sim %.4f)%s\n", k, got, want[k],
                      k == restarted ? ", restarted" : "");
        if (fabs(got - want[k]) > 1e-6 || strcmp(groups, groups_sim) != 0)
            test_cluster_fail(c, "client %d: accuracy %.9f, groups %s; p4 sim: %.9f, %s\n%s", k,
                              got, groups, want[k], groups_sim, out);
        if (k == restarted)
            assert_int_equal((int)test_json_number(out, "resumed_round"), resumed);
        free(out);
    }
}
