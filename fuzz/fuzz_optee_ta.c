/* fuzz_optee_ta.c: p4's TA and the harness's message check, fed bytes the
 * normal world controls.
 *
 * Byte 0 even: the rest is a harness request (tee/optee/emu/wire.h) for
 * p4_emu_request_check.  Odd: a session of the TA: bytes for a stored
 * ledger object (secure storage is the TA's, but a fuzzer may as well try
 * a corrupt one), OPEN_LEDGER's values, then commands with arbitrary
 * parameter types, values and buffers (snapshots it writes are read back
 * by later calls; bit 1 of the ledger's two bytes plants a snapshot of
 * round 0 too: a length in the next two bytes, then its bytes).  A TEE_Panic exits the process,
 * which libFuzzer reports; so does a TEE_Malloc'd byte left after close. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tee_internal_api.h>

#include "p4_ta.h"
#include "tee/optee/emu/tee/ta_runtime.h"
#include "tee/optee/emu/wire.h"

typedef struct {
    const uint8_t *p;
    size_t n;
} bytes;

static size_t take(bytes *b, void *out, size_t want)
{
    size_t k = want < b->n ? want : b->n;
    memset(out, 0, want);
    memcpy(out, b->p, k);
    b->p += k;
    b->n -= k;
    return k;
}

static char storage[64];
static char ledger_path[160];
static char snapshot_path[160];

/* <storage>/obj-<hex id>, as tee_api_storage.c names an object. */
static void object_path(const char *id, char *out, size_t size)
{
    int at = snprintf(out, size, "%s/obj-", storage);
    for (size_t i = 0; id[i]; i++)
        at += snprintf(out + at, size - (size_t)at, "%02x", (uint8_t)id[i]);
}

/* `want` (modulo 2048) of the bytes into the object file at path. */
static void plant(bytes *b, size_t want, const char *path)
{
    uint8_t object[2048];
    size_t len = take(b, object, want % sizeof object);
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(object, 1, len, f);
        fclose(f);
    }
}

/* The storage directory is the fuzzer's own: empty it when the run ends. */
static void remove_storage(void)
{
    char lock[200];
    unlink(snapshot_path);
    unlink(ledger_path);
    snprintf(lock, sizeof lock, "%s.lock", ledger_path);
    unlink(lock);
    snprintf(lock, sizeof lock, "%s.tmp", ledger_path);
    unlink(lock);
    rmdir(storage);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    snprintf(storage, sizeof storage, "/tmp/p4-fuzz-optee-XXXXXX");
    if (!mkdtemp(storage))
        abort();
    p4_ta_runtime_set_storage_dir(storage);
    p4_ta_runtime_set_heap_limit(4u << 20);
    object_path("p4-privacy-ledger", ledger_path, sizeof ledger_path);
    object_path("p4-protected-round-0", snapshot_path, sizeof snapshot_path);
    atexit(remove_storage);
    return 0;
}

static void check_request(bytes *b)
{
    p4_emu_request req;
    uint8_t nfds = 0;
    take(b, &nfds, 1);
    take(b, &req, sizeof req);
    (void)p4_emu_request_check(&req, nfds % 6);
}

static void run_session(bytes *b)
{
    uint16_t stored = 0;
    take(b, &stored, sizeof stored);
    unlink(ledger_path);
    if (stored & 1) /* start from a given ledger object */
        plant(b, stored >> 1, ledger_path);
    unlink(snapshot_path);
    if (stored & 2) { /* and from a given snapshot of round 0 (LAYERS_RESTORE reads it) */
        uint16_t snapshot = 0;
        take(b, &snapshot, sizeof snapshot);
        plant(b, snapshot, snapshot_path);
    }
    void *session = NULL;
    TEE_Param none[4];
    memset(none, 0, sizeof none);
    if (TA_OpenSessionEntryPoint(0, none, &session) != TEE_SUCCESS)
        return;
    for (int call = 0; call < 16 && b->n > 0; call++) {
        uint8_t command = 0;
        uint16_t types = 0;
        uint32_t values[8];
        uint16_t size = 0;
        take(b, &command, 1);
        take(b, &types, sizeof types);
        take(b, values, sizeof values);
        take(b, &size, sizeof size);
        size %= 4096;
        TEE_Param params[4];
        uint8_t *buffers[4] = { 0 };
        for (int i = 0; i < 4; i++) {
            uint32_t t = TEE_PARAM_TYPE_GET(types, i);
            if (t >= 5 && t <= 7) {
                buffers[i] = malloc(size ? size : 1);
                take(b, buffers[i], size);
                params[i].memref.buffer = (values[2 * i] & 1) ? NULL : buffers[i];
                params[i].memref.size = size;
            } else {
                params[i].value.a = values[2 * i];
                params[i].value.b = values[2 * i + 1];
            }
        }
        /* 0..11, then the distillation, exchange and store commands 0x20..0x25,
         * then 0x30..0x35 (round checkpoint, logits mode, a mid range's
         * FORWARD and BACKWARD) */
        uint32_t pick = command % 24u;
        uint32_t id = pick < 12u ? pick : pick < 18u ? 0x20u + pick - 12u : 0x30u + pick - 18u;
        if (command >= 0xf0) /* the round checkpoint's LAYERS_SNAPSHOT, LAYERS_RESTORE */
            id = command & 1 ? P4_TA_CMD_LAYERS_RESTORE : P4_TA_CMD_LAYERS_SNAPSHOT;
        (void)TA_InvokeCommandEntryPoint(session, id, types, params);
        for (int i = 0; i < 4; i++)
            free(buffers[i]);
    }
    TA_CloseSessionEntryPoint(session);
    if (p4_ta_runtime_heap_used() != 0) {
        fprintf(stderr, "the TA leaked %zu bytes of its heap\n", p4_ta_runtime_heap_used());
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    bytes b = { data + 1, size - 1 };
    if (data[0] % 2 == 0)
        check_request(&b);
    else
        run_session(&b);
    return 0;
}
