/* test_ta.c: p4's TA in the harness, for the tests (see test_ta.h). */
#include "support/test_ta.h"
#include "support/test_support.h"

#include <string.h>
#ifdef P4_TEEC_EMU
#include <tee_client_emu.h>
#endif

void test_ta_session_open(TEEC_Context *ctx, TEEC_Session *sess, const char *storage_dir,
                          uint32_t ta_memory_mib)
{
    const TEEC_UUID uuid = P4_TA_UUID;
    assert_int_equal(TEEC_InitializeContext(NULL, ctx), TEEC_SUCCESS);
#ifdef P4_TEEC_EMU
    assert_int_equal(p4_teec_emu_configure(ctx, NULL, storage_dir, ta_memory_mib), TEEC_SUCCESS);
#else
    (void)storage_dir; /* a real TEE keeps its own storage and memory bound */
    (void)ta_memory_mib;
#endif
    uint32_t origin = 0;
    assert_int_equal(TEEC_OpenSession(ctx, sess, &uuid, TEEC_LOGIN_PUBLIC, NULL, NULL, &origin),
                     TEEC_SUCCESS);
}

void test_ta_session_close(TEEC_Context *ctx, TEEC_Session *sess)
{
    TEEC_CloseSession(sess);
    TEEC_FinalizeContext(ctx);
}

TEEC_Result test_ta_open_ledger(TEEC_Session *sess, double delta, double target,
                                uint32_t *origin)
{
    TEEC_Operation op;
    memset(&op, 0, sizeof op);
    op.paramTypes = TEEC_PARAM_TYPES(TEEC_VALUE_INPUT, TEEC_VALUE_INPUT, TEEC_VALUE_OUTPUT,
                                     TEEC_VALUE_OUTPUT);
    p4_ta_double_value(delta, &op.params[0].value.a, &op.params[0].value.b);
    p4_ta_double_value(target, &op.params[1].value.a, &op.params[1].value.b);
    uint32_t ignored = 0;
    return TEEC_InvokeCommand(sess, P4_TA_CMD_OPEN_LEDGER, &op, origin ? origin : &ignored);
}

p4_ta_layers_spec test_ta_dense_spec(uint32_t inputs, uint32_t outputs, uint32_t capacity,
                                     uint32_t normal_floats)
{
    p4_ta_layers_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.nlayers = 1;
    spec.capacity = capacity;
    spec.normal_floats = normal_floats;
    spec.layer[0].inputs = inputs;
    spec.layer[0].outputs = outputs;
    return spec;
}

void test_ta_dense_weights(float *w, int n)
{
    for (int i = 0; i < n; i++)
        w[i] = 0.1f * (float)(i % 7) - 0.3f;
}

p4_optee *test_ta_dense_open(const char *storage_dir, int seeded)
{
    p4_optee_options o = { .delta = 1e-5, .target_epsilon = 50, .storage_dir = storage_dir };
    p4_optee *t = NULL;
    p4_error err;
    if (p4_optee_open(&t, &o, &err) != P4_OK)
        fail_msg("%s", err.message);
    unsigned char key[32];
    for (int i = 0; i < 32; i++)
        key[i] = (unsigned char)(5 * i + 3);
    if (seeded)
        assert_int_equal(p4_optee_seed_noise(t, key, &err), P4_OK);
    p4_ta_layers_spec spec = test_ta_dense_spec(4, 3, 4, 5);
    float w[15];
    test_ta_dense_weights(w, 15);
    assert_int_equal(p4_optee_layers_load(t, &spec, w, 15, &err), P4_OK);
    return t;
}

double test_ta_dense_step(p4_optee *t, int b)
{
    float in[2 * 4] = { 1, 0, 0.5f, -1, 0, 2, 1, (float)b };
    float targets[2 * 3] = { 1, 0, 0, 0, 0, 1 };
    double loss = 0, norms[2] = { 0.25, 4.0 }, after;
    float factor[2], sums[5] = { 0 };
    p4_error err;
    p4_ta_step_args a = { .q = 0.1, .sigma = 1.0, .clip = 1.0, .divisor = 2, .learning_rate = 0.1,
                          .momentum = 0.9, .decay = 0, .ntensors = 1, .tensor = { 5 } };
    if (p4_optee_layers_train(t, in, 2, targets, NULL, &loss, &err) != P4_OK ||
        p4_optee_layers_clip(t, norms, 2, 1.0, factor, &err) != P4_OK ||
        p4_optee_layers_step(t, &a, sums, 5, &after, &err) != P4_OK ||
        p4_optee_layers_store(t, &err) != P4_OK)
        fail_msg("step %d: %s", b, err.message);
    return loss;
}
