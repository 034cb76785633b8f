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

int test_write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return -1;
    size_t w = fwrite(data, 1, n, f);
    return (fclose(f) == 0 && w == n) ? 0 : -1;
}
