/* fuzz_leaf.c: libFuzzer target for the streaming LEAF (FEMNIST json)
 * loader.  The input is one json file (or a gzip of one). */
#include <stddef.h>
#include <stdint.h>

#include "datasets/loaders.h"

static void check(int rc, const p4_dataset *ds, const p4_error *err)
{
    if (rc != P4_OK) {
        if (ds != NULL || err->code != rc || err->message[0] == '\0')
            __builtin_trap();
        return;
    }
    if (ds == NULL || ds->count < 0 || ds->classes != 62 || ds->writer == NULL ||
        (ds->writers > 0 && ds->writer_names == NULL))
        __builtin_trap();
    for (int i = 0; i < ds->count; i++)
        if (ds->labels[i] >= 62 || ds->writer[i] < 0 || ds->writer[i] >= ds->writers)
            __builtin_trap();
    for (int w = 0; w < ds->writers; w++)
        if (ds->writer_names[w] == NULL)
            __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const int caps[] = {0, 1};
    for (int c = 0; c < 2; c++) {
        p4_dataset *ds = NULL;
        p4_error err;
        p4_error_clear(&err);
        int rc = p4_load_leaf_buffer("fuzz.json", data, size, caps[c], &ds, &err);
        check(rc, ds, &err);
        if (rc == P4_OK && caps[c] > 0 && ds->count > caps[c])
            __builtin_trap();
        p4_dataset_destroy(&ds);
    }
    return 0;
}
