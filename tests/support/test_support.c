/* test_support.c: see test_support.h. */
#include "support/test_support.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *test_shared_path(const char *relative)
{
    static char path[PATH_MAX];
    snprintf(path, sizeof path, "../shared/%s", relative);
    return access(path, R_OK) == 0 ? path : NULL;
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
