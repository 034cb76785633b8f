/* fuzz_sweep.c: libFuzzer target for the sweep files `p4 sweep merge`
 * reads (DIR/sweep-plan.txt and DIR/results.csv, p4node/sweep_table.c).
 *
 * The input is split at its first NUL byte: what comes before is the plan,
 * what follows is results.csv.  Both go into one private folder made once.
 * Whatever the bytes, reading must return without crashing or leaking; an
 * error must carry its code and a message. */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "p4node/sweep_table.h"

static void write_file(const char *dir, const char *name, const uint8_t *data, size_t size)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char dir[64];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/p4-fuzz-sweep-XXXXXX");
        if (!mkdtemp(dir))
            abort();
    }
    const uint8_t *nul = memchr(data, 0, size);
    size_t plan = nul ? (size_t)(nul - data) : size;
    write_file(dir, "sweep-plan.txt", data, plan);
    write_file(dir, "results.csv", nul ? nul + 1 : data + size, nul ? size - plan - 1 : 0);
    p4_sweep_table t;
    memset(&t, 0, sizeof t);
    p4_error err;
    p4_error_clear(&err);
    int shard = 0;
    int rc = p4_sweep_read(&t, dir, &shard, &err);
    if (rc != P4_OK && (err.code != rc || err.message[0] == '\0'))
        abort(); /* every error must say what went wrong */
    p4_sweep_table_free(&t);
    return 0;
}
