/* test_nodes.c: running `p4` and `p4 node` processes from the tests (see
 * test_nodes.h). */
#include "support/test_nodes.h"
#include "support/test_support.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "common/error.h"

const char *test_source_dir(void)
{
    return getenv("P4_SOURCE_DIR") ? getenv("P4_SOURCE_DIR") : ".";
}

void test_write_node_config(const char *dir, const char *name, int clients, int rounds,
                            const char *extra, char *path, size_t size)
{
    char text[8192];
    snprintf(text, sizeof text,
             "[data]\ndataset = fashion-mnist\npartition = clustered\nclients = %d\nclusters = 2\n"
             "cluster_classes = 0,1,2; 3,4,5\ntrain_per_client = 40\ntest_per_client = 40\n"
             "max_train = 3000\nmax_test = 1000\nseed = 5\n"
             "[model]\ncfg = %s/configs/models/mlp-28x28x1.cfg\n"
             "proxy_cfg = %s/configs/models/logreg-28x28x1.cfg\nbatch = 10\nseed = 5\n"
             "[dp]\ntarget_epsilon = 8\n[p4]\nrounds = %d\ngroup_size = 2\n%s",
             clients, test_source_dir(), test_source_dir(), rounds, extra);
    test_write_text(dir, name, text, path, size);
}

void test_pause_ms(long ms)
{
    nanosleep(&(struct timespec){ ms / 1000, (ms % 1000) * 1000000L }, NULL);
}

int test_wait_bounded(pid_t pid, double seconds)
{
    int status = -1;
    test_wait_all(&pid, &status, 1, seconds);
    if (status == -1)
        print_message("process %d did not end within %.0f s: killed\n", (int)pid, seconds);
    return status;
}

void test_wait_all(const pid_t *pid, int *status, int n, double seconds)
{
    int left = n;
    for (int i = 0; i < n; i++)
        status[i] = -2; /* still running */
    for (double waited = 0; left > 0 && waited < seconds; waited += 0.05) {
        for (int i = 0; i < n; i++)
            if (status[i] == -2 && waitpid(pid[i], &status[i], WNOHANG) == pid[i])
                left--;
        if (left > 0)
            test_pause_ms(50);
    }
    for (int i = 0; i < n; i++)
        if (status[i] == -2) {
            kill(pid[i], SIGKILL);
            waitpid(pid[i], NULL, 0);
            status[i] = -1;
        }
}

int test_file_has(const char *file, const char *text)
{
    char *s = test_read_all(file);
    int found = strstr(s, text) != NULL;
    free(s);
    return found;
}

int test_wait_for_text_of(pid_t pid, const char *file, const char *text, double seconds)
{
    for (double waited = 0; waited < seconds; waited += 0.05) {
        if (test_file_has(file, text))
            return 1;
        siginfo_t info;
        memset(&info, 0, sizeof info);
        if (pid > 0 && waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
            info.si_pid == pid)
            return test_file_has(file, text) ? 1 : -1; /* it may have written it and ended */
        test_pause_ms(50);
    }
    return 0;
}

int test_wait_for_text(const char *file, const char *text, double seconds)
{
    return test_wait_for_text_of(0, file, text, seconds) == 1;
}

char *test_run_p4(char *const argv[], const char *dir, const char *tag, int expect_status,
                  double seconds)
{
    char out[1200], errfile[1200];
    snprintf(out, sizeof out, "%s/%s.out", dir, tag);
    snprintf(errfile, sizeof errfile, "%s/%s.err", dir, tag);
    int status = test_wait_bounded(test_spawn(argv, out, errfile), seconds);
    if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != expect_status) {
        char *e = test_read_all(errfile);
        fail_msg("%s: wait status %#x (want exit %d, within %.0f s); stderr:\n%s", tag, status,
                 expect_status, seconds, e);
    }
    return test_read_all(out);
}

int test_json_numbers(const char *json, const char *key, double *v, int max)
{
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\":[", key);
    const char *s = strstr(json, pattern);
    if (!s)
        return -1;
    s += strlen(pattern);
    int n = 0;
    while (*s && *s != ']' && n < max) {
        char *end;
        v[n++] = strtod(s, &end);
        if (end == s)
            return -1;
        s = end + (*end == ',');
    }
    return n;
}

double test_json_number(const char *json, const char *key)
{
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\":", key);
    const char *s = strstr(json, pattern);
    if (!s)
        fail_msg("no %s in %s", key, json);
    return strtod(s + strlen(pattern), NULL);
}

void test_node_identity(const char *state_dir, char key[P4_KEY_Z85_CHARS + 1], p4_identity *id)
{
    p4_identity own;
    p4_error err = {0};
    if (p4_identity_load_or_create(state_dir, &own, NULL, &err) != P4_OK)
        fail_msg("%s", err.message);
    p4_key_to_z85(own.public_key, key);
    if (id)
        *id = own;
    else
        p4_identity_wipe(&own);
}

void test_append_peers(char *text, size_t size, size_t *used, int n, int self, const int *port,
                       char key[][P4_KEY_Z85_CHARS + 1])
{
    for (int j = 0; j < n; j++) {
        if (j == self)
            continue;
        int w = snprintf(text + *used, size - *used, "peers = %d@tcp://127.0.0.1:%d@%s\n", j,
                         port[j], key[j]);
        if (w < 0 || (size_t)w >= size - *used)
            fail_msg("the peers lines do not fit in %zu bytes", size);
        *used += (size_t)w;
    }
}
