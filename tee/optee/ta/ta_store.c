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
 * the harness's (and REE FS's) storage. */
#include "ta_session.h"

#define STORE_MAGIC 0x5034534cu /* "P4SL" */
#define STORE_VERSION 1u

static const char store_id[] = "p4-protected-layers";

typedef struct {
    uint32_t magic, version;
    uint32_t has_stream, reserved;
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

TEE_Result p4_ta_layers_store(p4_ta_session *s, uint32_t types, TEE_Param params[4])
{
    (void)params;
    if (types != TEE_PARAM_TYPES(TEE_PARAM_TYPE_NONE, TEE_PARAM_TYPE_NONE, TEE_PARAM_TYPE_NONE,
                                 TEE_PARAM_TYPE_NONE))
        return TEE_ERROR_BAD_PARAMETERS;
    const p4_ta_layers_spec *spec = p4_ta_layers_spec_of(s);
    if (!spec)
        return TEE_ERROR_BAD_STATE;
    store_header h;
    TEE_MemFill(&h, 0, sizeof h);
    h.magic = STORE_MAGIC;
    h.version = STORE_VERSION;
    h.floats = stored_floats(s);
    h.spec = *spec;
    if (s->reproducible) {
        h.has_stream = 1;
        h.stream = s->seeded_stream;
    }
    const uint32_t flags = TEE_DATA_FLAG_ACCESS_READ | TEE_DATA_FLAG_ACCESS_WRITE |
                           TEE_DATA_FLAG_OVERWRITE;
    TEE_ObjectHandle obj = TEE_HANDLE_NULL;
    TEE_Result r = TEE_CreatePersistentObject(TEE_STORAGE_PRIVATE, store_id, sizeof store_id - 1,
                                              flags, TEE_HANDLE_NULL, &h, sizeof h, &obj);
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

TEE_Result p4_ta_layers_resume(p4_ta_session *s, uint32_t types, TEE_Param params[4])
{
    if (types != TEE_PARAM_TYPES(TEE_PARAM_TYPE_MEMREF_INPUT, TEE_PARAM_TYPE_VALUE_OUTPUT,
                                 TEE_PARAM_TYPE_NONE, TEE_PARAM_TYPE_NONE))
        return TEE_ERROR_BAD_PARAMETERS;
    if (!s->ledger_open)
        return TEE_ERROR_BAD_STATE;
    p4_ta_layers_spec want;
    if (params[0].memref.size != sizeof want || !params[0].memref.buffer)
        return TEE_ERROR_BAD_PARAMETERS;
    TEE_MemMove(&want, params[0].memref.buffer, sizeof want);
    if (p4_ta_layers_bytes(&want) == 0)
        return TEE_ERROR_BAD_PARAMETERS;
    params[1].value.a = 0;
    params[1].value.b = 0;
    TEE_ObjectHandle obj = TEE_HANDLE_NULL;
    TEE_Result r = TEE_OpenPersistentObject(TEE_STORAGE_PRIVATE, store_id, sizeof store_id - 1,
                                            TEE_DATA_FLAG_ACCESS_READ, &obj);
    if (r == TEE_ERROR_ITEM_NOT_FOUND)
        return TEE_SUCCESS; /* nothing stored: a = 0 */
    if (r != TEE_SUCCESS)
        return r;
    store_header h;
    r = read_exact(obj, &h, sizeof h);
    if (r == TEE_SUCCESS && (h.magic != STORE_MAGIC || h.version != STORE_VERSION))
        r = TEE_ERROR_CORRUPT_OBJECT;
    if (r != TEE_SUCCESS || !same_spec(&h.spec, &want)) {
        TEE_CloseObject(obj);
        TEE_MemFill(&h, 0, sizeof h);
        return r; /* another model's layers: a = 0 */
    }
    r = p4_ta_layers_alloc(s, &want);
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
    /* The noise continues where it was, if this session draws the same
     * seeded stream (SEED_NOISE with the same key). */
    int same_key = 1;
    for (int i = 0; i < 32; i++)
        same_key &= h.stream.key[i] == s->seeded_stream.key[i];
    if (h.has_stream && s->reproducible && same_key) {
        s->seeded_stream = h.stream;
        params[1].value.b = 1;
    }
    TEE_MemFill(&h, 0, sizeof h);
    params[1].value.a = 1;
    return TEE_SUCCESS;
}
