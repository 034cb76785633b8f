/* test_dp_ta_noise.c: the OP-TEE TA's seeded noise (common/fs_ziggurat.h,
 * the freestanding copy the TA builds from) draws exactly the values of the
 * normal world's noise (common/ziggurat.h) in both [dp] noise_layouts, so
 * a --reproducible run with layers in the TA equals one without:
 *   - chunked: one call key from the stream, chunk j from (key, nonce j),
 *     at sizes below, at and off a multiple of the chunk, and across the
 *     serial layout's 64Ki split; the stream goes on where the normal
 *     world's does (two calls in a row);
 *   - serial: the same, below and above the two-halves split;
 *   - the chunks are different streams (no chunk repeats chunk 0's noise);
 *   - a stream seeked to a position goes on as the unbroken one (a
 *     restarted TA session).
 * The tables are the normal world's in the value checks (the TA's own,
 * from fs_math, may differ by an ulp: checked separately, to 1e-12). */
#include "support/test_support.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/fs_ziggurat.h"
#include "common/rng.h"
#include "common/ziggurat.h"

static const size_t sizes[] = { 1, 7, 4095, 4096, 4097, 3 * 4096 + 5, 65536, 70001 };

static void key_of(unsigned char key[32], int salt)
{
    for (int i = 0; i < 32; i++)
        key[i] = (unsigned char)(11 * i + 3 * salt + 1);
}

/* Two calls of n values in a row, the normal world's way and the TA's. */
static void compare(p4_noise_layout layout, size_t n, int salt)
{
    p4_ziggurat z;
    p4_ziggurat_init(&z);
    unsigned char key[32];
    key_of(key, salt);
    p4_rng rng;
    assert_int_equal(p4_rng_init_key(&rng, key), P4_OK);
    p4_fs_stream s;
    p4_fs_stream_init(&s, key);
    float *want = calloc(2 * n, sizeof *want), *got = calloc(2 * n, sizeof *got);
    assert_non_null(want);
    assert_non_null(got);
    for (int call = 0; call < 2; call++) {
        p4_ziggurat_add_layout(&z, &rng, layout, want + call * n, n, 1.5);
        p4_fs_ziggurat_add_layout(&z, &s, layout, got + call * n, n, 1.5);
    }
    size_t zeros = 0;
    for (size_t i = 0; i < 2 * n; i++) {
        if (want[i] != got[i])
            fail_msg("%s layout, %zu values, call %zu: value %zu is %.9g in the TA, %.9g in the "
                     "normal world", layout == P4_NOISE_CHUNKED ? "chunked" : "serial", n,
                     i / n, i % n, got[i], want[i]);
        zeros += want[i] == 0.0f;
    }
    assert_true(zeros < 2); /* every value got noise */
    free(want);
    free(got);
    p4_rng_wipe(&rng);
    p4_fs_stream_wipe(&s);
}

static void chunked_equals_the_normal_world(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++)
        compare(P4_NOISE_CHUNKED, sizes[k], (int)k);
}

static void serial_equals_the_normal_world(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++)
        compare(P4_NOISE_SERIAL, sizes[k], (int)k);
}

/* Chunked noise is not serial noise (the layout is honoured), and no chunk
 * draws chunk 0's values (each chunk has a stream of its own). */
static void chunks_have_streams_of_their_own(void **state)
{
    (void)state;
    p4_ziggurat z;
    p4_ziggurat_init(&z);
    unsigned char key[32];
    key_of(key, 40);
    enum { CHUNKS = 5, N = CHUNKS * P4_NOISE_CHUNK };
    float *chunked = calloc(N, sizeof *chunked), *serial = calloc(N, sizeof *serial);
    assert_non_null(chunked);
    assert_non_null(serial);
    p4_fs_stream s;
    p4_fs_stream_init(&s, key);
    p4_fs_ziggurat_add_layout(&z, &s, P4_NOISE_CHUNKED, chunked, N, 1.0);
    p4_fs_stream_init(&s, key);
    p4_fs_ziggurat_add_layout(&z, &s, P4_NOISE_SERIAL, serial, N, 1.0);
    assert_memory_not_equal(chunked, serial, P4_NOISE_CHUNK * sizeof(float));
    for (int j = 1; j < CHUNKS; j++) {
        int same = 0;
        for (int i = 0; i < P4_NOISE_CHUNK; i++)
            same += chunked[j * P4_NOISE_CHUNK + i] == chunked[i];
        if (same > 8)
            fail_msg("chunk %d repeats %d of chunk 0's %d values", j, same, P4_NOISE_CHUNK);
    }
    free(chunked);
    free(serial);
    p4_fs_stream_wipe(&s);
}

/* A stream seeked to where another stopped goes on with the same noise. */
static void seeked_stream_goes_on(void **state)
{
    (void)state;
    p4_ziggurat z;
    p4_ziggurat_init(&z);
    unsigned char key[32];
    key_of(key, 50);
    float a[300] = { 0 }, b[300] = { 0 };
    p4_fs_stream s, t;
    p4_fs_stream_init(&s, key);
    p4_fs_ziggurat_add_chunked(&z, &s, a, 100, 1.0);
    p4_fs_ziggurat_add(&z, &s, a + 100, 77, 1.0);
    uint64_t at = s.position;
    assert_true(at > 32 + 8 * 77 - 1);
    p4_fs_stream_seek(&t, key, at);
    p4_fs_ziggurat_add_chunked(&z, &s, a + 177, 123, 1.0);
    p4_fs_ziggurat_add_chunked(&z, &t, b + 177, 123, 1.0);
    assert_memory_equal(a + 177, b + 177, 123 * sizeof(float));
    assert_true(s.position == t.position);
    p4_fs_stream_wipe(&s);
    p4_fs_stream_wipe(&t);
}

/* The TA's own tables (fs_math's exp, log and sqrt) against libm's. */
static void ta_tables_match(void **state)
{
    (void)state;
    p4_ziggurat want, got;
    p4_ziggurat_init(&want);
    p4_fs_ziggurat_init(&got);
    for (int i = 0; i <= P4_ZIGGURAT_LAYERS; i++) {
        assert_true(fabs(got.x[i] - want.x[i]) <= 1e-12 * (fabs(want.x[i]) + 1e-300));
        assert_true(fabs(got.f[i] - want.f[i]) <= 1e-12 * (fabs(want.f[i]) + 1e-300));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(chunked_equals_the_normal_world),
        cmocka_unit_test(serial_equals_the_normal_world),
        cmocka_unit_test(chunks_have_streams_of_their_own),
        cmocka_unit_test(seeked_stream_goes_on),
        cmocka_unit_test(ta_tables_match),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
