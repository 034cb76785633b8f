/* fuzz_config.c: libFuzzer target for the INI config parser.
 *
 * p4_config_load reads a path, so each input is written to an anonymous
 * in-memory file (memfd) and loaded through /proc/self/fd/N: no temporary
 * files are left behind, even when the fuzzer stops on a crash.  Whatever
 * the bytes, the parser must return without crashing, reading out of bounds
 * or leaking; an error must carry its code and a message, and a success must
 * have the required keys and write back (p4_config_write) without error. */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/config.h"
#include "fuzz/fuzz_memfd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_memfd_path("p4-fuzz-config", data, size);

    p4_config *cfg = malloc(sizeof *cfg);
    if (cfg == NULL)
        return 0;
    p4_error err;
    p4_error_clear(&err);
    int rc = p4_config_load(path, cfg, &err);
    if (rc != P4_OK && (err.code != rc || err.message[0] == '\0'))
        abort(); /* every error must say what went wrong */
    if (rc == P4_OK && (cfg->dataset[0] == '\0' || cfg->model_cfg[0] == '\0'))
        abort(); /* required keys were accepted as missing */
    if (rc == P4_OK) {
        char *text = NULL;
        size_t len = 0;
        FILE *out = open_memstream(&text, &len);
        if (out == NULL || p4_config_write(cfg, out, NULL) != P4_OK)
            abort();
        fclose(out);
        free(text);
    }
    free(cfg);
    return 0;
}
