/* test_optee_harness.c: p4's TA through the GlobalPlatform harness, at the
 * TEE Client API level: shared memory in each form, malformed operations
 * answered with GP codes (never a crash), TEE_Malloc's bound, a panic seen
 * as TEEC_ERROR_TARGET_DEAD, and the ledger object held by one session. */
#include "support/test_support.h"
#include "support/test_ta.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <tee_client_api.h>
#include <tee_client_emu.h>

#include "p4_ta.h"

typedef struct {
    char *dir;
    TEEC_Context ctx;
    TEEC_Session sess;
} harness;

static const TEEC_UUID ta_uuid = P4_TA_UUID;

static TEEC_Operation op_of(uint32_t types)
{
    TEEC_Operation op;
    memset(&op, 0, sizeof op);
    op.paramTypes = types;
    return op;
}

static void put(TEEC_Value *v, double d) { p4_ta_double_value(d, &v->a, &v->b); }
static double get(const TEEC_Value *v) { return p4_ta_value_double(v->a, v->b); }

static TEEC_Result open_ledger(TEEC_Session *s, double delta, double target, uint32_t *origin)
{
    return test_ta_open_ledger(s, delta, target, origin);
}

static void start(harness *h, uint32_t mib)
{
    test_ta_session_open(&h->ctx, &h->sess, h->dir, mib);
}

static int setup(void **state)
{
    harness *h = calloc(1, sizeof *h);
    h->dir = test_make_temp_dir();
    *state = h;
    return h->dir ? 0 : -1;
}

static int teardown(void **state)
{
    harness *h = *state;
    test_remove_tree(h->dir);
    free(h);
    return 0;
}

static void stop(harness *h)
{
    test_ta_session_close(&h->ctx, &h->sess);
}

/* ADD_NOISE with stddev 0 returns the values unchanged: a round trip
 * through each kind of memory reference. */
static void shared_memory_round_trips(void **state)
{
    harness *h = *state;
    start(h, 10);
    uint32_t origin;
    assert_int_equal(open_ledger(&h->sess, 1e-5, 8.0, &origin), TEEC_SUCCESS);
    float want[64];
    for (int i = 0; i < 64; i++) want[i] = (float)i * 0.5f - 3.0f;

    float temp[64];
    memcpy(temp, want, sizeof temp);
    TEEC_Operation op = op_of(TEEC_PARAM_TYPES(TEEC_MEMREF_TEMP_INOUT, TEEC_VALUE_INPUT,
                                               TEEC_NONE, TEEC_NONE));
    op.params[0].tmpref.buffer = temp;
    op.params[0].tmpref.size = sizeof temp;
    put(&op.params[1].value, 0.0);
    assert_int_equal(TEEC_InvokeCommand(&h->sess, P4_TA_CMD_ADD_NOISE, &op, &origin), TEEC_SUCCESS);
    assert_memory_equal(temp, want, sizeof want);

    TEEC_SharedMemory alloc = { .size = sizeof want, .flags = TEEC_MEM_INPUT | TEEC_MEM_OUTPUT };
    assert_int_equal(TEEC_AllocateSharedMemory(&h->ctx, &alloc), TEEC_SUCCESS);
    memcpy(alloc.buffer, want, sizeof want);
    op = op_of(TEEC_PARAM_TYPES(TEEC_MEMREF_WHOLE, TEEC_VALUE_INPUT, TEEC_NONE, TEEC_NONE));
    op.params[0].memref.parent = &alloc;
    put(&op.params[1].value, 1.0);
    assert_int_equal(TEEC_InvokeCommand(&h->sess, P4_TA_CMD_ADD_NOISE, &op, &origin), TEEC_SUCCESS);
    assert_memory_not_equal(alloc.buffer, want, sizeof want); /* noised in place */
    TEEC_ReleaseSharedMemory(&alloc);
    assert_null(alloc.buffer);

    float registered[64];
    memcpy(registered, want, sizeof want);
    TEEC_SharedMemory reg = { .buffer = registered, .size = sizeof registered,
                              .flags = TEEC_MEM_INPUT | TEEC_MEM_OUTPUT };
    assert_int_equal(TEEC_RegisterSharedMemory(&h->ctx, &reg), TEEC_SUCCESS);
    op = op_of(TEEC_PARAM_TYPES(TEEC_MEMREF_PARTIAL_INOUT, TEEC_VALUE_INPUT, TEEC_NONE,
                                TEEC_NONE));
    op.params[0].memref.parent = &reg;
    op.params[0].memref.offset = 16 * sizeof(float);
    op.params[0].memref.size = 8 * sizeof(float);
    put(&op.params[1].value, 1.0);
    assert_int_equal(TEEC_InvokeCommand(&h->sess, P4_TA_CMD_ADD_NOISE, &op, &origin), TEEC_SUCCESS);
    /* Only floats 16..23 were noised, and they came back to the caller's buffer. */
    assert_memory_equal(registered, want, 16 * sizeof(float));
    assert_memory_not_equal(registered + 16, want + 16, 8 * sizeof(float));
    assert_memory_equal(registered + 24, want + 24, 40 * sizeof(float));
    TEEC_ReleaseSharedMemory(&reg);
    stop(h);
}

static void malformed_operations_get_gp_codes(void **state)
{
    harness *h = *state;
    start(h, 10);
    uint32_t origin = 0;
    /* Before the ledger is open. */
    TEEC_Operation op = op_of(TEEC_PARAM_TYPES(TEEC_VALUE_OUTPUT, TEEC_VALUE_OUTPUT, TEEC_NONE,
                                               TEEC_NONE));
    assert_int_equal(TEEC_InvokeCommand(&h->sess, P4_TA_CMD_SPENT, &op, &origin),
                     TEEC_ERROR_BAD_STATE);
    assert_int_equal(origin, TEEC_ORIGIN_TRUSTED_APP);
    /* A ledger with no budget or a bad delta is refused. */
    assert_int_equal(open_ledger(&h->sess, 1e-5, INFINITY, &origin), TEEC_ERROR_BAD_PARAMETERS);
    assert_int_equal(open_ledger(&h->sess, 1.5, 3.0, &origin), TEEC_ERROR_BAD_PARAMETERS);
    assert_int_equal(open_ledger(&h->sess, 1e-5, 3.0, &origin), TEEC_SUCCESS);
    /* Wrong parameter types. */
    op = op_of(TEEC_PARAM_TYPES(TEEC_VALUE_INPUT, TEEC_NONE, TEEC_NONE, TEEC_NONE));
    assert_int_equal(TEEC_InvokeCommand(&h->sess, P4_TA_CMD_CHARGE, &op, &origin),
                     TEEC_ERROR_BAD_PARAMETERS);
    assert_int_equal(origin, TEEC_ORIGIN_TRUSTED_APP);
    /* A type nibble GP does not define never reaches the TA. */
    op = op_of(0x4);
    assert_int_equal(TEEC_InvokeCommand(&h->sess, P4_TA_CMD_SPENT, &op, &origin),
                     TEEC_ERROR_BAD_PARAMETERS);
    assert_int_equal(origin, TEEC_ORIGIN_API);
    /* Bad values: q > 1, sigma NaN, zero steps, subnormal q, tiny sigma. */
    double bad[5][2] = { { 1.5, 1.0 }, { 0.1, NAN }, { 0.1, 1.0 }, { 1e-311, 1.0 }, { 0.1, 1e-300 } };
    for (int i = 0; i < 5; i++) {
        op = op_of(TEEC_PARAM_TYPES(TEEC_VALUE_INPUT, TEEC_VALUE_INPUT, TEEC_VALUE_INPUT,
                                    TEEC_VALUE_OUTPUT));
        put(&op.params[0].value, bad[i][0]);
        put(&op.params[1].value, bad[i][1]);
        op.params[2].value.a = i == 2 ? 0 : 1;
        assert_int_equal(TEEC_InvokeCommand(&h->sess, P4_TA_CMD_CHARGE, &op, &origin),
                         TEEC_ERROR_BAD_PARAMETERS);
    }
    /* ADD_NOISE on 3 bytes (not whole floats). */
    char three[3] = { 0 };
    op = op_of(TEEC_PARAM_TYPES(TEEC_MEMREF_TEMP_INOUT, TEEC_VALUE_INPUT, TEEC_NONE, TEEC_NONE));
    op.params[0].tmpref.buffer = three;
    op.params[0].tmpref.size = 3;
    assert_int_equal(TEEC_InvokeCommand(&h->sess, P4_TA_CMD_ADD_NOISE, &op, &origin),
                     TEEC_ERROR_BAD_PARAMETERS);
    /* RELEASE_ROWS with a buffer shorter than rows x classes says how much it needs. */
    float rows[6] = { 0 };
    op = op_of(TEEC_PARAM_TYPES(TEEC_MEMREF_TEMP_INOUT, TEEC_VALUE_INPUT, TEEC_VALUE_INPUT,
                                TEEC_VALUE_INPUT));
    op.params[0].tmpref.buffer = rows;
    op.params[0].tmpref.size = sizeof rows;
    op.params[1].value.a = 4;
    op.params[1].value.b = 3;
    put(&op.params[2].value, 1.0);
    put(&op.params[3].value, 2.0);
    assert_int_equal(TEEC_InvokeCommand(&h->sess, P4_TA_CMD_RELEASE_ROWS, &op, &origin),
                     TEEC_ERROR_SHORT_BUFFER);
    assert_int_equal(op.params[0].tmpref.size, 12 * sizeof(float));
    /* A partial reference past its shared memory is refused by the API. */
    TEEC_SharedMemory shm = { .size = 16, .flags = TEEC_MEM_INPUT | TEEC_MEM_OUTPUT };
    assert_int_equal(TEEC_AllocateSharedMemory(&h->ctx, &shm), TEEC_SUCCESS);
    op = op_of(TEEC_PARAM_TYPES(TEEC_MEMREF_PARTIAL_INOUT, TEEC_VALUE_INPUT, TEEC_NONE, TEEC_NONE));
    op.params[0].memref.parent = &shm;
    op.params[0].memref.offset = 8;
    op.params[0].memref.size = 16;
    assert_int_equal(TEEC_InvokeCommand(&h->sess, P4_TA_CMD_ADD_NOISE, &op, &origin),
                     TEEC_ERROR_BAD_PARAMETERS);
    assert_int_equal(origin, TEEC_ORIGIN_API);
    TEEC_ReleaseSharedMemory(&shm);
    /* An unknown command, then the session still answers. */
    op = op_of(0);
    assert_int_equal(TEEC_InvokeCommand(&h->sess, 0x7777, &op, &origin), TEEC_ERROR_NOT_SUPPORTED);
    op = op_of(TEEC_PARAM_TYPES(TEEC_VALUE_OUTPUT, TEEC_VALUE_OUTPUT, TEEC_NONE, TEEC_NONE));
    assert_int_equal(TEEC_InvokeCommand(&h->sess, P4_TA_CMD_SPENT, &op, &origin), TEEC_SUCCESS);
    assert_true(get(&op.params[0].value) == 0.0);
    assert_true(get(&op.params[1].value) == 3.0);
    stop(h);
}

static TEEC_Result alloc_in_ta(TEEC_Session *s, uint64_t bytes)
{
    TEEC_Operation op = op_of(TEEC_PARAM_TYPES(TEEC_VALUE_INPUT, TEEC_NONE, TEEC_NONE, TEEC_NONE));
    op.params[0].value.a = (uint32_t)bytes;
    op.params[0].value.b = (uint32_t)(bytes >> 32);
    uint32_t origin;
    return TEEC_InvokeCommand(s, P4_TA_CMD_TEST_ALLOC, &op, &origin);
}

static void tee_malloc_is_bounded(void **state)
{
    harness *h = *state;
    start(h, 2);
    assert_int_equal(alloc_in_ta(&h->sess, 1u << 20), TEEC_SUCCESS);
    assert_int_equal(alloc_in_ta(&h->sess, (2u << 20) - (64u << 10)), TEEC_SUCCESS); /* the session holds a few KiB */
    assert_int_equal(alloc_in_ta(&h->sess, (2u << 20) + 1), TEEC_ERROR_OUT_OF_MEMORY);
    assert_int_equal(alloc_in_ta(&h->sess, 1ull << 40), TEEC_ERROR_OUT_OF_MEMORY);
    /* Freed memory counts no more. */
    assert_int_equal(alloc_in_ta(&h->sess, 1u << 20), TEEC_SUCCESS);
    stop(h);
}

static void panic_is_target_dead(void **state)
{
    harness *h = *state;
    start(h, 10);
    uint32_t origin = 0;
    TEEC_Operation op = op_of(0);
    assert_int_equal(TEEC_InvokeCommand(&h->sess, P4_TA_CMD_TEST_PANIC, &op, &origin),
                     TEEC_ERROR_TARGET_DEAD);
    assert_int_equal(origin, TEEC_ORIGIN_TEE);
    assert_int_equal(TEEC_InvokeCommand(&h->sess, P4_TA_CMD_TEST_PANIC, &op, &origin),
                     TEEC_ERROR_TARGET_DEAD);
    TEEC_CloseSession(&h->sess);
    /* A new session is a new instance. */
    assert_int_equal(TEEC_OpenSession(&h->ctx, &h->sess, &ta_uuid, TEEC_LOGIN_PUBLIC, NULL, NULL,
                                      &origin), TEEC_SUCCESS);
    assert_int_equal(open_ledger(&h->sess, 1e-5, 3.0, &origin), TEEC_SUCCESS);
    stop(h);
}

static void one_session_holds_the_ledger(void **state)
{
    harness *h = *state;
    start(h, 10);
    uint32_t origin;
    assert_int_equal(open_ledger(&h->sess, 1e-5, 3.0, &origin), TEEC_SUCCESS);
    TEEC_Session second;
    assert_int_equal(TEEC_OpenSession(&h->ctx, &second, &ta_uuid, TEEC_LOGIN_PUBLIC, NULL, NULL,
                                      &origin), TEEC_SUCCESS);
    assert_int_equal(open_ledger(&second, 1e-5, 3.0, &origin), TEEC_ERROR_ACCESS_CONFLICT);
    TEEC_CloseSession(&h->sess);
    assert_int_equal(open_ledger(&second, 1e-5, 3.0, &origin), TEEC_SUCCESS);
    TEEC_CloseSession(&second);
    TEEC_FinalizeContext(&h->ctx);
}

static void missing_ta_or_setup_is_an_error(void **state)
{
    harness *h = *state;
    assert_int_equal(TEEC_InitializeContext(NULL, &h->ctx), TEEC_SUCCESS);
    uint32_t origin;
    /* No storage directory configured yet. */
    assert_int_equal(TEEC_OpenSession(&h->ctx, &h->sess, &ta_uuid, TEEC_LOGIN_PUBLIC, NULL, NULL,
                                      &origin), TEEC_ERROR_BAD_STATE);
    assert_int_equal(p4_teec_emu_configure(&h->ctx, NULL, h->dir, 0), TEEC_ERROR_BAD_PARAMETERS);
    assert_int_equal(p4_teec_emu_configure(&h->ctx, h->dir, h->dir, 10), TEEC_SUCCESS);
    assert_int_equal(TEEC_OpenSession(&h->ctx, &h->sess, &ta_uuid, TEEC_LOGIN_PUBLIC, NULL, NULL,
                                      &origin), TEEC_ERROR_ITEM_NOT_FOUND);
    TEEC_FinalizeContext(&h->ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(shared_memory_round_trips, setup, teardown),
        cmocka_unit_test_setup_teardown(malformed_operations_get_gp_codes, setup, teardown),
        cmocka_unit_test_setup_teardown(tee_malloc_is_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(panic_is_target_dead, setup, teardown),
        cmocka_unit_test_setup_teardown(one_session_holds_the_ledger, setup, teardown),
        cmocka_unit_test_setup_teardown(missing_ta_or_setup_is_an_error, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
