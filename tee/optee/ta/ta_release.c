/* ta_release.c: what leaves the TA noised.
 *
 * The noise comes from a ChaCha20 keystream keyed by TEE_GenerateRandom at
 * session open (and again long before its 32-bit block counter could wrap);
 * it is drawn and added in TA memory.  Values are first copied out of shared
 * memory, which the normal world can read and write at any time, and only
 * the noised result is copied back: the un-noised (for a release, the
 * clipped) values never sit in shared memory.  The noise itself never
 * leaves the TA. */
#include "ta_session.h"
#include "common/fs_math.h"
#include "dp/clip_rows.h"

#define REKEY_BLOCKS (1ull << 31)
#define MAX_DIM (1u << 24)

void p4_ta_noise_key(p4_ta_session *s)
{
    uint8_t key[32];
    TEE_GenerateRandom(key, sizeof key);
    p4_fs_gaussian_init(&s->noise, key);
    TEE_MemFill(key, 0, sizeof key);
}

void p4_ta_noise_add(p4_ta_session *s, float *values, size_t n, double stddev)
{
    if (s->reproducible) {
        p4_fs_ziggurat_add_layout(&s->seeded_tables, &s->seeded_stream, s->seeded_layout,
                                  values, n, stddev);
        return;
    }
    if (p4_fs_gaussian_blocks(&s->noise) > REKEY_BLOCKS)
        p4_ta_noise_key(s);
    p4_fs_gaussian_add(&s->noise, values, n, stddev);
}

/* The most a seeded stream is sought ahead: ChaCha20's 32-bit block
 * counter (fs_ziggurat.c) covers 256 GiB. */
#define MAX_POSITION (1ull << 38)

TEE_Result p4_ta_seed_noise(p4_ta_session *s, uint32_t types, TEE_Param params[4])
{
    const uint32_t bare = TEE_PARAM_TYPES(TEE_PARAM_TYPE_MEMREF_INPUT, TEE_PARAM_TYPE_NONE,
                                          TEE_PARAM_TYPE_NONE, TEE_PARAM_TYPE_NONE);
    const uint32_t placed = TEE_PARAM_TYPES(TEE_PARAM_TYPE_MEMREF_INPUT,
                                            TEE_PARAM_TYPE_VALUE_INPUT,
                                            TEE_PARAM_TYPE_VALUE_INPUT, TEE_PARAM_TYPE_NONE);
    if ((types != bare && types != placed) || params[0].memref.size != 32 ||
        !params[0].memref.buffer)
        return TEE_ERROR_BAD_PARAMETERS;
    uint32_t flags = 0;
    uint64_t position = 0;
    if (types == placed) {
        flags = params[1].value.a;
        position = (uint64_t)params[2].value.a | (uint64_t)params[2].value.b << 32;
        if ((flags & ~P4_TA_SPEC_NOISE_CHUNKED) || params[1].value.b != 0 ||
            position >= MAX_POSITION)
            return TEE_ERROR_BAD_PARAMETERS;
    }
    uint8_t key[32];
    TEE_MemMove(key, params[0].memref.buffer, sizeof key);
    p4_fs_stream_seek(&s->seeded_stream, key, position);
    p4_fs_ziggurat_init(&s->seeded_tables);
    TEE_MemFill(key, 0, sizeof key);
    s->seeded_layout = flags & P4_TA_SPEC_NOISE_CHUNKED ? P4_NOISE_CHUNKED : P4_NOISE_SERIAL;
    s->reproducible = 1;
    return TEE_SUCCESS;
}

TEE_Result p4_ta_noise_position(p4_ta_session *s, uint32_t types, TEE_Param params[4])
{
    if (types != TEE_PARAM_TYPES(TEE_PARAM_TYPE_VALUE_OUTPUT, TEE_PARAM_TYPE_NONE,
                                 TEE_PARAM_TYPE_NONE, TEE_PARAM_TYPE_NONE))
        return TEE_ERROR_BAD_PARAMETERS;
    if (!s->reproducible)
        return TEE_ERROR_BAD_STATE; /* an OS-keyed stream's position stays inside */
    params[0].value.a = (uint32_t)s->seeded_stream.position;
    params[0].value.b = (uint32_t)(s->seeded_stream.position >> 32);
    return TEE_SUCCESS;
}

int p4_ta_noise_layout_agrees(const p4_ta_session *s, uint32_t spec_flags)
{
    if (!s->reproducible)
        return 1;
    return ((spec_flags & P4_TA_SPEC_NOISE_CHUNKED) != 0) == (s->seeded_layout == P4_NOISE_CHUNKED);
}

/* A private copy of an INOUT float buffer, or NULL with *result set. */
static float *copy_in(const TEE_Param *p, size_t count, TEE_Result *result)
{
    float *copy = TEE_Malloc(count * sizeof(float) + 1, TEE_MALLOC_NO_FILL);
    if (!copy) {
        *result = TEE_ERROR_OUT_OF_MEMORY;
        return NULL;
    }
    TEE_MemMove(copy, p->memref.buffer, count * sizeof(float));
    return copy;
}

TEE_Result p4_ta_add_noise(p4_ta_session *s, uint32_t types, TEE_Param params[4])
{
    if (types != TEE_PARAM_TYPES(TEE_PARAM_TYPE_MEMREF_INOUT, TEE_PARAM_TYPE_VALUE_INPUT,
                                 TEE_PARAM_TYPE_NONE, TEE_PARAM_TYPE_NONE))
        return TEE_ERROR_BAD_PARAMETERS;
    if (!s->ledger_open)
        return TEE_ERROR_BAD_STATE;
    double stddev = p4_ta_value_double(params[1].value.a, params[1].value.b);
    size_t bytes = params[0].memref.size;
    if (!(stddev >= 0) || !p4_ta_finite(stddev) || bytes % sizeof(float) != 0 ||
        (bytes && !params[0].memref.buffer))
        return TEE_ERROR_BAD_PARAMETERS;
    size_t n = bytes / sizeof(float);
    if (n == 0)
        return TEE_SUCCESS;
    TEE_Result r = TEE_SUCCESS;
    float *values = copy_in(&params[0], n, &r);
    if (!values)
        return r;
    p4_ta_noise_add(s, values, n, stddev);
    TEE_MemMove(params[0].memref.buffer, values, bytes);
    TEE_Free(values);
    return TEE_SUCCESS;
}

TEE_Result p4_ta_release_matrix(p4_ta_session *s, float *rows, uint32_t n, uint32_t classes,
                                double clip, double sigma)
{
    p4_clip_rows(rows, n, classes, clip);
    /* One Gaussian release of the whole matrix: each row moves by at most
     * 2 clip, so the L2 sensitivity is 2 clip sqrt(n) and the noise
     * multiplier relative to it sigma / (2 sqrt(n)).  Charged before any
     * value leaves. */
    double epsilon_after;
    TEE_Result r = p4_ta_ledger_charge(s, 1.0, sigma / (2.0 * p4_fs_sqrt((double)n)), 1,
                                       &epsilon_after);
    if (r == TEE_SUCCESS)
        p4_ta_noise_add(s, rows, (size_t)n * classes, sigma * clip);
    return r;
}

TEE_Result p4_ta_release_rows(p4_ta_session *s, uint32_t types, TEE_Param params[4])
{
    if (types != TEE_PARAM_TYPES(TEE_PARAM_TYPE_MEMREF_INOUT, TEE_PARAM_TYPE_VALUE_INPUT,
                                 TEE_PARAM_TYPE_VALUE_INPUT, TEE_PARAM_TYPE_VALUE_INPUT))
        return TEE_ERROR_BAD_PARAMETERS;
    if (!s->ledger_open)
        return TEE_ERROR_BAD_STATE;
    uint32_t n = params[1].value.a, classes = params[1].value.b;
    double clip = p4_ta_value_double(params[2].value.a, params[2].value.b);
    double sigma = p4_ta_value_double(params[3].value.a, params[3].value.b);
    if (n < 1 || classes < 1 || n > MAX_DIM || classes > MAX_DIM || (uint64_t)n * classes > MAX_DIM ||
        !(clip > 0) || !p4_ta_finite(clip) || !(sigma > 0) || !p4_ta_finite(sigma))
        return TEE_ERROR_BAD_PARAMETERS;
    size_t count = (size_t)n * classes, bytes = count * sizeof(float);
    if (params[0].memref.size < bytes || !params[0].memref.buffer) {
        params[0].memref.size = bytes;
        return TEE_ERROR_SHORT_BUFFER;
    }
    TEE_Result r = TEE_SUCCESS;
    float *rows = copy_in(&params[0], count, &r);
    if (!rows)
        return r;
    for (size_t i = 0; i < count; i++)
        if (!p4_ta_finite(rows[i])) {
            TEE_Free(rows);
            return TEE_ERROR_BAD_PARAMETERS;
        }
    r = p4_ta_release_matrix(s, rows, n, classes, clip, sigma);
    if (r == TEE_SUCCESS) {
        TEE_MemMove(params[0].memref.buffer, rows, bytes);
        params[0].memref.size = bytes;
    }
    TEE_MemFill(rows, 0, bytes); /* clipped values on refusal */
    TEE_Free(rows);
    return r;
}
