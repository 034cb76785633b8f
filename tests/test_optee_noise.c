/* test_optee_noise.c: the optee TA's seeded noise layout and position
 * (issue 14; P4_TA_SPEC_NOISE_CHUNKED, SEED_NOISE, NOISE_POSITION), through
 * the harness:
 *   - without protected layers (ADD_NOISE), the TA draws the software
 *     backend's --reproducible noise value for value in both [dp]
 *     noise_layouts, and the two layouts differ;
 *   - the stream's position saved by p4_enclave_save_seeded_noise goes on
 *     in a new session (a restarted node) as the unbroken stream does; a
 *     saved state of another seed, layout or backend is refused; a TA that
 *     panics is seeded again where its stream was after the last call that
 *     drew noise;
 *   - the TA refuses layout bits it does not know, a position past its
 *     counter, a spec whose layout disagrees with SEED_NOISE's (the host
 *     refuses it first, by name), and NOISE_POSITION of OS-keyed noise. */
#include "support/test_support.h"
#include "support/test_ta.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <tee_client_api.h>

#include "common/rng.h"
#include "p4_ta.h"
#include "tee/enclave.h"
#include "tee/optee/host/optee.h"

static const size_t sizes[] = { 5000, 3, 70001, 4096 };
#define CALLS (sizeof sizes / sizeof sizes[0])
#define TOTAL (5000 + 3 + 70001 + 4096)

static p4_enclave *optee_enclave(const char *dir, const char *name, int seeded, uint64_t seed,
                                 const char *layout)
{
    char storage[1024];
    test_path_in(dir, name, storage, sizeof storage);
    assert_int_equal(mkdir(storage, 0700), 0);
    p4_enclave_optee_options o = { .seeded = seeded, .seed = seed, .delta = 1e-5,
                                   .target_epsilon = 10, .pp_start = -1, .pp_end = -1,
                                   .storage_dir = storage };
    p4_enclave *e = NULL;
    p4_error err;
    if (p4_enclave_open_optee(&e, &o, &err) != P4_OK ||
        p4_enclave_set_noise_layout(e, layout, &err) != P4_OK)
        fail_msg("optee enclave: %s", err.message);
    return e;
}

/* The noise of the calls of `sizes`, one after the other, into out. */
static void draw(p4_enclave *e, float *out)
{
    p4_error err;
    memset(out, 0, TOTAL * sizeof *out);
    size_t at = 0;
    for (size_t c = 0; c < CALLS; c++) {
        if (p4_enclave_add_gaussian_noise(e, out + at, sizes[c], 0.7, &err) != P4_OK)
            fail_msg("noise: %s", err.message);
        at += sizes[c];
    }
}

static void ta_draws_the_software_noise_in_both_layouts(void **state)
{
    static const char *const layouts[] = { "chunked", "serial" };
    float *want = malloc(TOTAL * sizeof *want), *got[2];
    assert_non_null(want);
    for (int l = 0; l < 2; l++) {
        got[l] = malloc(TOTAL * sizeof *got[l]);
        assert_non_null(got[l]);
        p4_enclave *sw = NULL, *ta = optee_enclave(*state, layouts[l], 1, 9, layouts[l]);
        p4_error err;
        assert_int_equal(p4_enclave_open_software(&sw, 1, 9, &err), P4_OK);
        assert_int_equal(p4_enclave_set_noise_layout(sw, layouts[l], &err), P4_OK);
        draw(sw, want);
        draw(ta, got[l]);
        for (size_t i = 0; i < TOTAL; i++)
            if (want[i] != got[l][i])
                fail_msg("%s: value %zu is %.9g from the TA, %.9g from the software backend",
                         layouts[l], i, got[l][i], want[i]);
        p4_enclave_close(&sw);
        p4_enclave_close(&ta);
    }
    /* the layout is honoured: chunked and serial noise differ */
    assert_memory_not_equal(got[0], got[1], 5000 * sizeof(float));
    free(want);
    free(got[0]);
    free(got[1]);
}

static void saved_position_goes_on_in_a_new_session(void **state)
{
    p4_error err;
    float first[TOTAL], unbroken[TOTAL], resumed[TOTAL];
    unsigned char saved[P4_RNG_STATE_BYTES];
    p4_enclave *e = optee_enclave(*state, "a", 1, 4, "chunked");
    draw(e, first);
    assert_int_equal(p4_enclave_save_seeded_noise(e, saved, sizeof saved, &err), P4_OK);
    draw(e, unbroken);
    p4_enclave_close(&e);

    e = optee_enclave(*state, "b", 1, 4, "chunked");
    assert_int_equal(p4_enclave_restore_seeded_noise(e, saved, sizeof saved, &err), P4_OK);
    draw(e, resumed);
    assert_memory_equal(resumed, unbroken, sizeof resumed);
    assert_memory_not_equal(resumed, first, sizeof resumed);
    p4_enclave_close(&e);

    /* another layout, another seed, another backend's state, a stray byte */
    e = optee_enclave(*state, "c", 1, 4, "serial");
    assert_int_equal(p4_enclave_restore_seeded_noise(e, saved, sizeof saved, &err), P4_EINVAL);
    assert_non_null(strstr(err.message, "chunked layout"));
    p4_enclave_close(&e);
    e = optee_enclave(*state, "d", 1, 5, "chunked");
    assert_int_equal(p4_enclave_restore_seeded_noise(e, saved, sizeof saved, &err), P4_EINVAL);
    assert_non_null(strstr(err.message, "another seed"));
    p4_enclave *sw = NULL;
    unsigned char other[P4_RNG_STATE_BYTES];
    assert_int_equal(p4_enclave_open_software(&sw, 1, 4, &err), P4_OK);
    assert_int_equal(p4_enclave_save_seeded_noise(sw, other, sizeof other, &err), P4_OK);
    assert_int_equal(p4_enclave_restore_seeded_noise(e, other, sizeof other, &err), P4_EINVAL);
    p4_enclave_close(&sw);
    saved[P4_RNG_STATE_BYTES - 1] ^= 1;
    assert_int_equal(p4_enclave_restore_seeded_noise(e, saved, sizeof saved, &err), P4_EINVAL);
    p4_enclave_close(&e);

    /* OS-keyed: nothing to save */
    e = optee_enclave(*state, "e", 0, 0, "chunked");
    assert_int_equal(p4_enclave_save_seeded_noise(e, saved, sizeof saved, &err), P4_EINVAL);
    p4_enclave_close(&e);
}

/* A seeded TA without layers that panics is seeded again where its stream
 * was after the last call that drew noise, not at the stream's start. */
static void panic_goes_on_from_the_last_position(void **state)
{
    p4_error err;
    float want[TOTAL], got[TOTAL];
    p4_enclave *sw = NULL;
    assert_int_equal(p4_enclave_open_software(&sw, 1, 6, &err), P4_OK);
    assert_int_equal(p4_enclave_set_noise_layout(sw, "chunked", &err), P4_OK);
    draw(sw, want);
    p4_enclave_close(&sw);
    p4_rng key;
    assert_int_equal(p4_rng_init_seeded(&key, 6, "dp-noise"), P4_OK);
    p4_optee_options o = { .delta = 1e-5, .target_epsilon = 10, .storage_dir = *state };
    p4_optee *t = NULL;
    assert_int_equal(p4_optee_open(&t, &o, &err), P4_OK);
    assert_int_equal(p4_optee_seed_noise_at(t, key.key, 1, 0, &err), P4_OK);
    memset(got, 0, sizeof got);
    size_t at = 0;
    for (size_t c = 0; c < CALLS; c++) {
        assert_int_equal(p4_optee_add_noise(t, got + at, sizes[c], 0.7, &err), P4_OK);
        at += sizes[c];
        if (c == 1) /* after two calls: the TA dies and is reopened */
            assert_int_equal(p4_optee_test_command(t, P4_TA_CMD_TEST_PANIC, 0, &err), P4_ESTATE);
    }
    assert_int_equal(p4_optee_reopens(t), 1);
    assert_memory_equal(got, want, sizeof got);
    p4_optee_close(&t);
    p4_rng_wipe(&key);
}

/* One command with values in p1 and p2 (p0 the key or a value out). */
static uint32_t seed_raw(TEEC_Session *s, uint32_t flags, uint32_t b, uint64_t position)
{
    unsigned char key[32] = { 1, 2, 3 };
    TEEC_Operation op;
    memset(&op, 0, sizeof op);
    op.paramTypes = TEEC_PARAM_TYPES(TEEC_MEMREF_TEMP_INPUT, TEEC_VALUE_INPUT, TEEC_VALUE_INPUT,
                                     TEEC_NONE);
    op.params[0].tmpref.buffer = key;
    op.params[0].tmpref.size = sizeof key;
    op.params[1].value.a = flags;
    op.params[1].value.b = b;
    op.params[2].value.a = (uint32_t)position;
    op.params[2].value.b = (uint32_t)(position >> 32);
    uint32_t origin = 0;
    return TEEC_InvokeCommand(s, P4_TA_CMD_SEED_NOISE, &op, &origin);
}

static uint32_t position_raw(TEEC_Session *s, uint64_t *position)
{
    TEEC_Operation op;
    memset(&op, 0, sizeof op);
    op.paramTypes = TEEC_PARAM_TYPES(TEEC_VALUE_OUTPUT, TEEC_NONE, TEEC_NONE, TEEC_NONE);
    uint32_t origin = 0;
    uint32_t r = TEEC_InvokeCommand(s, P4_TA_CMD_NOISE_POSITION, &op, &origin);
    *position = (uint64_t)op.params[0].value.a | (uint64_t)op.params[0].value.b << 32;
    return r;
}

static uint32_t load_raw(TEEC_Session *s, uint32_t flags)
{
    p4_ta_layers_spec spec = test_ta_dense_spec(4, 3, 4, 5);
    spec.flags = flags;
    float w[15] = { 0 };
    TEEC_Operation op;
    memset(&op, 0, sizeof op);
    op.paramTypes = TEEC_PARAM_TYPES(TEEC_MEMREF_TEMP_INPUT, TEEC_MEMREF_TEMP_INPUT,
                                     TEEC_VALUE_OUTPUT, TEEC_NONE);
    op.params[0].tmpref.buffer = &spec;
    op.params[0].tmpref.size = sizeof spec;
    op.params[1].tmpref.buffer = w;
    op.params[1].tmpref.size = sizeof w;
    uint32_t origin = 0;
    return TEEC_InvokeCommand(s, P4_TA_CMD_LAYERS_LOAD, &op, &origin);
}

static void ta_refuses_what_it_does_not_know(void **state)
{
    TEEC_Context ctx;
    TEEC_Session sess;
    test_ta_session_open(&ctx, &sess, *state, 10);
    assert_int_equal(test_ta_open_ledger(&sess, 1e-5, 10, NULL), TEEC_SUCCESS);
    uint64_t at = 7;
    assert_int_equal(position_raw(&sess, &at), TEEC_ERROR_BAD_STATE); /* OS-keyed */
    assert_int_equal(seed_raw(&sess, 0x80, 0, 0), TEEC_ERROR_BAD_PARAMETERS);
    assert_int_equal(seed_raw(&sess, P4_TA_SPEC_NOISE_CHUNKED | 1, 0, 0),
                     TEEC_ERROR_BAD_PARAMETERS);
    assert_int_equal(seed_raw(&sess, P4_TA_SPEC_NOISE_CHUNKED, 1, 0), TEEC_ERROR_BAD_PARAMETERS);
    assert_int_equal(seed_raw(&sess, 0, 0, 1ull << 38), TEEC_ERROR_BAD_PARAMETERS);
    assert_int_equal(position_raw(&sess, &at), TEEC_ERROR_BAD_STATE); /* still not seeded */
    assert_int_equal(seed_raw(&sess, P4_TA_SPEC_NOISE_CHUNKED, 0, 100), TEEC_SUCCESS);
    assert_int_equal(position_raw(&sess, &at), TEEC_SUCCESS);
    assert_true(at == 100);
    /* a spec of the other layout, or with an unknown flag */
    assert_int_equal(load_raw(&sess, 0), TEEC_ERROR_BAD_STATE);
    assert_int_equal(load_raw(&sess, P4_TA_SPEC_NOISE_CHUNKED | 0x80), TEEC_ERROR_BAD_PARAMETERS);
    assert_int_equal(load_raw(&sess, P4_TA_SPEC_NOISE_CHUNKED), TEEC_SUCCESS);
    test_ta_session_close(&ctx, &sess);

    /* The host names the disagreement before the TA sees it. */
    p4_optee_options o = { .delta = 1e-5, .target_epsilon = 10, .storage_dir = *state };
    p4_optee *t = NULL;
    p4_error err;
    assert_int_equal(p4_optee_open(&t, &o, &err), P4_OK);
    unsigned char key[32] = { 9 };
    assert_int_equal(p4_optee_seed_noise_at(t, key, 1, 0, &err), P4_OK);
    p4_ta_layers_spec spec = test_ta_dense_spec(4, 3, 4, 5);
    float w[15] = { 0 };
    assert_int_equal(p4_optee_layers_load(t, &spec, w, 15, &err), P4_ESTATE);
    assert_non_null(strstr(err.message, "noise layout"));
    spec.flags = P4_TA_SPEC_NOISE_CHUNKED;
    assert_int_equal(p4_optee_layers_load(t, &spec, w, 15, &err), P4_OK);
    assert_int_equal(p4_optee_seed_noise_at(t, key, 0, 0, &err), P4_ESTATE);
    p4_optee_close(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(ta_draws_the_software_noise_in_both_layouts,
                                        test_temp_dir_setup, test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(saved_position_goes_on_in_a_new_session,
                                        test_temp_dir_setup, test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(ta_refuses_what_it_does_not_know, test_temp_dir_setup,
                                        test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(panic_goes_on_from_the_last_position,
                                        test_temp_dir_setup, test_temp_dir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
