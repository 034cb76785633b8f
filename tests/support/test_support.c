/* test_support.c: see test_support.h. */
#include "support/test_support.h"
#include "support/test_watchdog.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

/* Skipped tests in this program so far: cmocka has no hook for them, and
 * the exit status must know (test_exit_status). */
static int skipped_tests;

void test_note_skip(void)
{
    skipped_tests++;
}

int test_exit_status(int failed)
{
    if (failed != 0)
        return 1; /* not `failed` itself: 77 failures must not read as a skip */
    if (skipped_tests > 0) {
        fprintf(stderr, "%d test%s skipped: exiting with %d (ctest: Skipped)\n", skipped_tests,
                skipped_tests == 1 ? "" : "s", TEST_SKIP_EXIT_CODE);
        return TEST_SKIP_EXIT_CODE;
    }
    return 0;
}

/* Is the environment variable name set to 1? */
static int required(const char *name)
{
    const char *v = getenv(name);
    return v != NULL && strcmp(v, "1") == 0;
}

const char *test_shared_path(const char *relative)
{
    static char path[PATH_MAX];
    /* P4_TEST_SHARED_DIR moves it, e.g. to see these tests skip or fail without it. */
    const char *shared = getenv("P4_TEST_SHARED_DIR");
    snprintf(path, sizeof path, "%s/%s", shared && *shared ? shared : "../shared", relative);
    if (access(path, R_OK) == 0)
        return path;
    if (required("P4_REQUIRE_SHARED"))
        fail_msg("%s is absent, and P4_REQUIRE_SHARED=1 says the shared test material must hold it "
                 "(a test that needs ../shared would otherwise skip)", path);
    return NULL;
}

const char *test_dataset_path(const char *path)
{
    if (access(path, R_OK) == 0)
        return path;
    if (required("P4_REQUIRE_DATASETS"))
        fail_msg("%s is absent, and P4_REQUIRE_DATASETS=1 says it must be installed "
                 "(scripts/install-deps installs it)", path);
    return NULL;
}

char *test_make_temp_dir(void)
{
    const char *base = getenv("TMPDIR");
    char templ[PATH_MAX];
    snprintf(templ, sizeof templ, "%s/p4-test-XXXXXX", base ? base : "/tmp");
    if (mkdtemp(templ) == NULL)
        return NULL;
    return strdup(templ);
}

void test_remove_tree(char *path)
{
    if (path == NULL)
        return;
    if (getenv("P4_TEST_KEEP")) { /* for a post-mortem: the test's files stay */
        fprintf(stderr, "P4_TEST_KEEP: kept %s\n", path);
        free(path);
        return;
    }
    char cmd[PATH_MAX + 32];
    /* The path comes from mkdtemp under our own template: safe to quote. */
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    if (system(cmd) != 0)
        fprintf(stderr, "warning: could not remove %s\n", path);
    free(path);
}

int test_temp_dir_setup(void **state)
{
    *state = test_make_temp_dir();
    return *state == NULL ? -1 : 0;
}

int test_temp_dir_teardown(void **state)
{
    test_remove_tree(*state);
    return 0;
}

void test_path_in(const char *dir, const char *name, char *out, size_t size)
{
    int n = snprintf(out, size, "%s/%s", dir, name);
    assert_true(n > 0 && (size_t)n < size);
}

int test_write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return -1;
    size_t w = fwrite(data, 1, n, f);
    return (fclose(f) == 0 && w == n) ? 0 : -1;
}

void test_write_text(const char *dir, const char *name, const char *text, char *path,
                     size_t size)
{
    test_path_in(dir, name, path, size);
    assert_int_equal(test_write_file(path, text, strlen(text)), 0);
}

int test_spawn(char *const argv[], const char *out, const char *errfile)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (!freopen(out, "w", stdout) || !freopen(errfile, "w", stderr))
            _exit(126);
        execv(argv[0], argv);
        _exit(127);
    }
    /* a hang shows this process's log and kills it (test_watchdog.h) */
    test_watchdog_watch(pid, errfile);
    return (int)pid;
}

char *test_read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return strdup("");
    char *text = calloc(1, 1 << 20);
    assert_non_null(text);
    size_t n = fread(text, 1, (1 << 20) - 1, f);
    text[n] = '\0';
    fclose(f);
    return text;
}

int test_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof a;
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

void test_json_value(const char *json, const char *key, char *out, size_t size)
{
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\":", key);
    const char *s = strstr(json, pattern);
    if (!s)
        fail_msg("no %s in %s", key, json);
    s += strlen(pattern);
    const char *e = strstr(s, ",\"");
    if (!e)
        e = s + strcspn(s, "}");
    snprintf(out, size, "%.*s", (int)(e - s), s);
}
