/* fuzz_cifar.c: libFuzzer target for the CIFAR-10/100 binary loaders.
 * Input: one selector byte (0: CIFAR-10, 1: CIFAR-100 fine, 2: coarse,
 * taken mod 3), then the file. */
#include <stddef.h>
#include <stdint.h>

#include "datasets/loaders.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int kind = data[0] % 3;
    p4_dataset *ds = NULL;
    p4_error err;
    p4_error_clear(&err);
    int rc = kind == 0 ? p4_load_cifar10_buffer("fuzz.bin", data + 1, size - 1, 0, &ds, &err)
                       : p4_load_cifar100_buffer("fuzz.bin", data + 1, size - 1, kind == 1, 0,
                                                 &ds, &err);
    if (rc != P4_OK) {
        if (ds != NULL || err.code != rc || err.message[0] == '\0')
            __builtin_trap();
        return 0;
    }
    int classes = kind == 0 ? 10 : kind == 1 ? 100 : 20;
    if (ds == NULL || ds->classes != classes || ds->width != 32 || ds->channels != 3)
        __builtin_trap();
    for (int i = 0; i < ds->count; i++)
        if (ds->labels[i] >= classes)
            __builtin_trap();
    p4_dataset_destroy(&ds);
    return 0;
}
