/* fuzz_idx.c: libFuzzer target for the IDX loader (plain and gzip).
 * Input: 2 bytes big-endian n, then the images file (n bytes, clipped to
 * what is there), then the labels file (the rest). */
#include <stddef.h>
#include <stdint.h>

#include "datasets/loaders.h"

/* Any success must be a consistent dataset; any failure must say why. */
static void check(int rc, const p4_dataset *ds, const p4_error *err)
{
    if (rc != P4_OK) {
        if (ds != NULL || err->code != rc || err->message[0] == '\0')
            __builtin_trap();
        return;
    }
    if (ds == NULL || ds->count < 0 || ds->classes != 10 || ds->channels != 1)
        __builtin_trap();
    for (int i = 0; i < ds->count; i++)
        if (ds->labels[i] >= 10)
            __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t split = (size_t)data[0] << 8 | data[1];
    data += 2;
    size -= 2;
    if (split > size)
        split = size;
    const int caps[] = {0, 1};
    for (int c = 0; c < 2; c++) {
        p4_dataset *ds = NULL;
        p4_error err;
        p4_error_clear(&err);
        int rc = p4_load_idx_buffers(data, split, data + split, size - split, caps[c], &ds, &err);
        check(rc, ds, &err);
        if (rc == P4_OK && caps[c] > 0 && ds->count > caps[c])
            __builtin_trap();
        p4_dataset_destroy(&ds);
    }
    return 0;
}
