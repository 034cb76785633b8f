/* ta_store.c: the protected layers in the TA's secure storage, so that a TA
 * that panicked (or a session opened again) resumes them instead of losing
 * them.
 *
 * LAYERS_STORE writes one persistent object in TEE_STORAGE_PRIVATE: a
 * header (the layers' spec and, in a --reproducible session, the seeded
 * noise stream's state, so the noise continues where it was), then every
 * weight, bias and momentum tensor.  The object is created afresh
 * (TEE_DATA_FLAG_OVERWRITE) with the header alone and grown tensor by
 * tensor, so a store cut short leaves an object too short to resume, never
 * a mix of two stores.  LAYERS_RESUME reads it back only for the same spec,
 * and checks every size and value: the normal world's file system holds
 * the harness's (and REE FS's) storage.
 *
 * LAYERS_SNAPSHOT writes the same content into one of two snapshot objects
 * (by the round's parity) under a round number: the node's round
 * checkpoint.  Two, because the node writes the TA's snapshot of round
 * K + 1 before its own checkpoint: killed in between, it resumes at K,
 * whose snapshot is still in the other slot.  LAYERS_RESTORE puts a
 * snapshot back only for the same spec and round.  Neither touches the
 * ledger (a separate object that only grows), nor an OS-keyed noise key
 * (never stored): docs/tee.md, "Restarts". */
#include "ta_session.h"

#define STORE_MAGIC 0x5034534cu    /* "P4SL": the last step's store */
#define SNAPSHOT_MAGIC 0x50345343u /* "P4SC": a round checkpoint's   */
#define STORE_VERSION 1u

static const char store_id[] = "p4-protected-layers";
/* The snapshot slots, by the round's parity (same length). */
static const char *const snapshot_id[2] = { "p4-protected-round-0", "p4-protected-round-1" };
#define SNAPSHOT_ID_LEN 20u

typedef struct {
    uint32_t magic, version;
    uint32_t has_stream, round;    /* round: a snapshot's; 0 in the store */
    uint64_t floats;               /* weights, biases and momentum */
    p4_ta_layers_spec spec;
    p4_fs_stream stream;           /* the seeded noise at the store */
} store_header;

static uint64_t stored_floats(p4_ta_session *s)
{
    uint64_t total = 0;
    uint32_t count = 0;
    for (uint32_t k = 0; p4_ta_layers_tensor(s, k, &count); k++)
        total += count;
    return total;
}

/* The layers, their momentum and (seeded) the noise position into the
 * object `id`, written afresh: a write cut short leaves an object too
 * short to read back, never a mix of two. */
static TEE_Result write_layers(p4_ta_session *s, const char *id, uint32_t id_len,
                               uint32_t magic, uint32_t round)
{
    const p4_ta_layers_spec *spec = p4_ta_layers_spec_of(s);
    if (!spec)
        return TEE_ERROR_BAD_STATE;
    store_header h;
    TEE_MemFill(&h, 0, sizeof h);
    h.magic = magic;
    h.version = STORE_VERSION;
    h.round = round;
    h.floats = stored_floats(s);
    h.spec = *spec;
    if (s->reproducible) {
        h.has_stream = 1;
        h.stream = s->seeded_stream;
    }
    const uint32_t flags = TEE_DATA_FLAG_ACCESS_READ | TEE_DATA_FLAG_ACCESS_WRITE |
                           TEE_DATA_FLAG_OVERWRITE;
    TEE_ObjectHandle obj = TEE_HANDLE_NULL;
    TEE_Result r = TEE_CreatePersistentObject(TEE_STORAGE_PRIVATE, id, id_len, flags,
                                              TEE_HANDLE_NULL, &h, sizeof h, &obj);
    TEE_MemFill(&h, 0, sizeof h); /* the stream's key */
    if (r != TEE_SUCCESS)
        return r;
    /* A new object's data position is 0 (GP): the tensors go after the header. */
    r = TEE_SeekObjectData(obj, (int32_t)sizeof h, TEE_DATA_SEEK_SET);
    uint32_t count = 0;
    const float *t;
    for (uint32_t k = 0; r == TEE_SUCCESS && (t = p4_ta_layers_tensor(s, k, &count)); k++)
        r = TEE_WriteObjectData(obj, t, count * sizeof(float));
    TEE_CloseObject(obj);
    return r;
}

TEE_Result p4_ta_layers_store(p4_ta_session *s, uint32_t types, TEE_Param params[4])
{
    (void)params;
    if (types != TEE_PARAM_TYPES(TEE_PARAM_TYPE_NONE, TEE_PARAM_TYPE_NONE, TEE_PARAM_TYPE_NONE,
                                 TEE_PARAM_TYPE_NONE))
        return TEE_ERROR_BAD_PARAMETERS;
    return write_layers(s, store_id, sizeof store_id - 1, STORE_MAGIC, 0);
}

/* Reads exactly n bytes, or CORRUPT_OBJECT. */
static TEE_Result read_exact(TEE_ObjectHandle obj, void *dst, size_t n)
{
    size_t got = 0;
    TEE_Result r = TEE_ReadObjectData(obj, dst, n, &got);
    return r != TEE_SUCCESS ? r : got == n ? TEE_SUCCESS : TEE_ERROR_CORRUPT_OBJECT;
}

static int same_spec(const p4_ta_layers_spec *a, const p4_ta_layers_spec *b)
{
    const uint8_t *x = (const uint8_t *)a, *y = (const uint8_t *)b;
    for (size_t i = 0; i < sizeof *a; i++)
        if (x[i] != y[i])
            return 0;
    return 1;
}

/* What read_layers found. */
enum { READ_NONE = 0, READ_LOADED = 1 };

/* Loads the object `id` if it holds layers of exactly `want` (and, for a
 * snapshot, `round`): *found = READ_LOADED, *stream_back = 1 when the
 * seeded noise position came back too.  Another spec or round, or no
 * object: READ_NONE and the layers untouched.  A corrupt object: an error,
 * and the layers are gone (they were being replaced). */
static TEE_Result read_layers(p4_ta_session *s, const char *id, uint32_t id_len, uint32_t magic,
                              uint32_t round, const p4_ta_layers_spec *want, int *found,
                              int *stream_back)
{
    *found = READ_NONE;
    *stream_back = 0;
    TEE_ObjectHandle obj = TEE_HANDLE_NULL;
    TEE_Result r = TEE_OpenPersistentObject(TEE_STORAGE_PRIVATE, id, id_len,
                                            TEE_DATA_FLAG_ACCESS_READ, &obj);
    if (r == TEE_ERROR_ITEM_NOT_FOUND)
        return TEE_SUCCESS;
    if (r != TEE_SUCCESS)
        return r;
    store_header h;
    r = read_exact(obj, &h, sizeof h);
    if (r == TEE_SUCCESS && (h.magic != magic || h.version != STORE_VERSION))
        r = TEE_ERROR_CORRUPT_OBJECT;
    if (r != TEE_SUCCESS || !same_spec(&h.spec, want) || h.round != round) {
        TEE_CloseObject(obj);
        TEE_MemFill(&h, 0, sizeof h);
        return r; /* another model's layers or another round: none */
    }
    r = p4_ta_layers_alloc(s, want);
    if (r == TEE_SUCCESS && h.floats != stored_floats(s))
        r = TEE_ERROR_CORRUPT_OBJECT;
    uint32_t count = 0;
    float *t;
    for (uint32_t k = 0; r == TEE_SUCCESS && (t = p4_ta_layers_tensor(s, k, &count)); k++) {
        r = read_exact(obj, t, count * sizeof(float));
        for (uint32_t i = 0; r == TEE_SUCCESS && i < count; i++)
            if (!p4_ta_finite(t[i]))
                r = TEE_ERROR_CORRUPT_OBJECT;
    }
    TEE_CloseObject(obj);
    if (r != TEE_SUCCESS) {
        p4_ta_layers_free(s);
        TEE_MemFill(&h, 0, sizeof h);
        return r;
    }
    /* The noise continues where it was only in a session that draws the
     * same seeded stream (SEED_NOISE with the same key): an OS-keyed
     * session's key was never stored and stays the fresh one. */
    int same_key = 1;
    for (int i = 0; i < 32; i++)
        same_key &= h.stream.key[i] == s->seeded_stream.key[i];
    if (h.has_stream && s->reproducible && same_key) {
        s->seeded_stream = h.stream;
        *stream_back = 1;
    }
    TEE_MemFill(&h, 0, sizeof h);
    *found = READ_LOADED;
    return TEE_SUCCESS;
}

/* A spec the normal world sent (p0 of RESUME and RESTORE). */
static TEE_Result spec_in(const TEE_Param *p, p4_ta_layers_spec *want)
{
    if (p->memref.size != sizeof *want || !p->memref.buffer)
        return TEE_ERROR_BAD_PARAMETERS;
    TEE_MemMove(want, p->memref.buffer, sizeof *want);
    return p4_ta_layers_bytes(want) == 0 ? TEE_ERROR_BAD_PARAMETERS : TEE_SUCCESS;
}

TEE_Result p4_ta_layers_resume(p4_ta_session *s, uint32_t types, TEE_Param params[4])
{
    if (types != TEE_PARAM_TYPES(TEE_PARAM_TYPE_MEMREF_INPUT, TEE_PARAM_TYPE_VALUE_OUTPUT,
                                 TEE_PARAM_TYPE_NONE, TEE_PARAM_TYPE_NONE))
        return TEE_ERROR_BAD_PARAMETERS;
    if (!s->ledger_open)
        return TEE_ERROR_BAD_STATE;
    p4_ta_layers_spec want;
    TEE_Result r = spec_in(&params[0], &want);
    if (r != TEE_SUCCESS)
        return r;
    params[1].value.a = 0;
    params[1].value.b = 0;
    int found = 0, stream_back = 0;
    r = read_layers(s, store_id, sizeof store_id - 1, STORE_MAGIC, 0, &want, &found,
                    &stream_back);
    if (r == TEE_SUCCESS) {
        params[1].value.a = (uint32_t)found;
        params[1].value.b = (uint32_t)stream_back;
    }
    return r;
}

/* A round from the normal world: a in 0..P4_TA_MAX_ROUND, b zero. */
static TEE_Result round_in(const TEE_Param *p, uint32_t *round)
{
    if (p->value.b != 0 || p->value.a > P4_TA_MAX_ROUND)
        return TEE_ERROR_BAD_PARAMETERS;
    *round = p->value.a;
    return TEE_SUCCESS;
}

TEE_Result p4_ta_layers_snapshot(p4_ta_session *s, uint32_t types, TEE_Param params[4])
{
    if (types != TEE_PARAM_TYPES(TEE_PARAM_TYPE_VALUE_INPUT, TEE_PARAM_TYPE_NONE,
                                 TEE_PARAM_TYPE_NONE, TEE_PARAM_TYPE_NONE))
        return TEE_ERROR_BAD_PARAMETERS;
    uint32_t round = 0;
    TEE_Result r = round_in(&params[0], &round);
    if (r != TEE_SUCCESS)
        return r;
    return write_layers(s, snapshot_id[round & 1], SNAPSHOT_ID_LEN, SNAPSHOT_MAGIC, round);
}

/* The round a snapshot slot holds (P4_TA_NO_ROUND if none or unreadable),
 * for the normal world's message when a restore finds nothing. */
static uint32_t slot_round(uint32_t slot)
{
    TEE_ObjectHandle obj = TEE_HANDLE_NULL;
    if (TEE_OpenPersistentObject(TEE_STORAGE_PRIVATE, snapshot_id[slot], SNAPSHOT_ID_LEN,
                                 TEE_DATA_FLAG_ACCESS_READ, &obj) != TEE_SUCCESS)
        return P4_TA_NO_ROUND;
    store_header h;
    uint32_t round = P4_TA_NO_ROUND;
    if (read_exact(obj, &h, sizeof h) == TEE_SUCCESS && h.magic == SNAPSHOT_MAGIC &&
        h.version == STORE_VERSION && h.round <= P4_TA_MAX_ROUND && (h.round & 1) == slot)
        round = h.round;
    TEE_CloseObject(obj);
    TEE_MemFill(&h, 0, sizeof h);
    return round;
}

TEE_Result p4_ta_layers_restore(p4_ta_session *s, uint32_t types, TEE_Param params[4])
{
    if (types != TEE_PARAM_TYPES(TEE_PARAM_TYPE_MEMREF_INPUT, TEE_PARAM_TYPE_VALUE_INPUT,
                                 TEE_PARAM_TYPE_VALUE_OUTPUT, TEE_PARAM_TYPE_VALUE_OUTPUT))
        return TEE_ERROR_BAD_PARAMETERS;
    if (!s->ledger_open)
        return TEE_ERROR_BAD_STATE;
    p4_ta_layers_spec want;
    uint32_t round = 0;
    TEE_Result r = spec_in(&params[0], &want);
    if (r == TEE_SUCCESS)
        r = round_in(&params[1], &round);
    if (r != TEE_SUCCESS)
        return r;
    params[2].value.a = 0;
    params[2].value.b = 0;
    params[3].value.a = slot_round(0);
    params[3].value.b = slot_round(1);
    int found = 0, stream_back = 0;
    r = read_layers(s, snapshot_id[round & 1], SNAPSHOT_ID_LEN, SNAPSHOT_MAGIC, round, &want,
                    &found, &stream_back);
    /* The last step's store follows: a panic from here resumes the
     * restored layers, not the ones of before the restart. */
    if (r == TEE_SUCCESS && found)
        r = write_layers(s, store_id, sizeof store_id - 1, STORE_MAGIC, 0);
    if (r == TEE_SUCCESS) {
        params[2].value.a = (uint32_t)found;
        params[2].value.b = (uint32_t)stream_back;
    }
    return r;
}
