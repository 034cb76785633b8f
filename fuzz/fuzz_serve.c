/* fuzz_serve.c: libFuzzer target for what the inference service parses:
 * the request and reply codec (cluster/serve_wire.c), the private model's
 * weights file (p4node/weights_file.c), `p4 query`'s input files
 * (p4node/query_input.c) and the [serve] settings (p4node/serve_settings.c:
 * [serve] through common/config.c, [tee] through tee/cca/settings.c; the
 * settings load a path, so the input goes to a memfd read as
 * /proc/self/fd/N, as in fuzz_config).
 * The first byte picks the parser; the rest is its input.
 *
 * Whatever the bytes, each must return without crashing, reading out of
 * bounds or leaking, and every refusal carries its code and a message.  A
 * message that decodes must re-encode to exactly the input bytes. */
#define _GNU_SOURCE /* memfd_create */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster/serve_wire.h"
#include "fuzz/fuzz_memfd.h"
#include "p4node/query_input.h"
#include "p4node/serve_settings.h"
#include "p4node/weights_file.h"

static void check_refusal(int rc, const p4_error *err)
{
    if (rc != P4_OK && (err->code != rc || err->message[0] == '\0'))
        abort(); /* every refusal must say why */
}

static void fuzz_codec(const uint8_t *data, size_t size)
{
    p4_serve_message m;
    p4_error err;
    p4_error_clear(&err);
    int rc = p4_serve_decode(data, size, &m, &err);
    check_refusal(rc, &err);
    if (rc != P4_OK)
        return;
    uint8_t *again = NULL;
    size_t length = 0;
    if (p4_serve_encode(&m, &again, &length, &err) != P4_OK)
        abort(); /* accepted by the decoder, refused by the encoder */
    if (length != size || memcmp(again, data, size) != 0)
        abort(); /* not canonical */
    free(again);
    p4_serve_message_clear(&m);
}

static void fuzz_weights(const uint8_t *data, size_t size)
{
    p4_weights_header h;
    p4_error err;
    p4_error_clear(&err);
    int rc = p4_weights_decode(data, size, &h, NULL, &err);
    check_refusal(rc, &err);
    if (rc != P4_OK)
        return;
    float *values = malloc((size_t)h.count * sizeof *values);
    if (values == NULL || p4_weights_decode(data, size, &h, values, &err) != P4_OK)
        abort();
    free(values);
}

static void fuzz_input(const uint8_t *data, size_t size)
{
    float *values = NULL;
    size_t rows = 0, cols = 0;
    p4_error err;
    p4_error_clear(&err);
    int rc = p4_query_input_parse("fuzz", data, size, &values, &rows, &cols, &err);
    check_refusal(rc, &err);
    if (rc == P4_OK && (rows == 0 || cols == 0 || values == NULL))
        abort();
    free(values);
}

static void fuzz_settings(const uint8_t *data, size_t size)
{
    const char *path = fuzz_memfd_path("p4-fuzz-serve", data, size);
    p4_serve_settings s;
    p4_error err;
    p4_error_clear(&err);
    int rc = p4_serve_settings_load(path, &s, &err);
    check_refusal(rc, &err);
    if (rc == P4_OK && (s.max_rows < 1 || s.max_rows > P4_SERVE_MAX_ROWS ||
                        strncmp(s.listen, "tcp://", 6) != 0))
        abort(); /* a bad value was accepted */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    switch (data[0] % 4) {
    case 0: fuzz_codec(data + 1, size - 1); break;
    case 1: fuzz_weights(data + 1, size - 1); break;
    case 2: fuzz_input(data + 1, size - 1); break;
    default: fuzz_settings(data + 1, size - 1); break;
    }
    return 0;
}
