/* p4_ta.c: p4's trusted application: entry points and command dispatch.
 * The commands and their parameters are documented in include/p4_ta.h.
 * Every command checks its parameter types and values first and answers a
 * malformed call with a GP error code; the normal world may send anything. */
#include "ta_session.h"
#include "common/fs_math.h"

int p4_ta_finite(double x)
{
    return p4_fs_isfinite(x);
}

TEE_Result TA_CreateEntryPoint(void)
{
    return TEE_SUCCESS;
}

void TA_DestroyEntryPoint(void)
{
}

TEE_Result TA_OpenSessionEntryPoint(uint32_t paramTypes, TEE_Param params[4],
                                    void **sessionContext)
{
    (void)params;
    if (paramTypes != TEE_PARAM_TYPES(TEE_PARAM_TYPE_NONE, TEE_PARAM_TYPE_NONE,
                                      TEE_PARAM_TYPE_NONE, TEE_PARAM_TYPE_NONE))
        return TEE_ERROR_BAD_PARAMETERS;
    p4_ta_session *s = TEE_Malloc(sizeof *s, TEE_MALLOC_FILL_ZERO);
    if (!s)
        return TEE_ERROR_OUT_OF_MEMORY;
    s->ledger_object = TEE_HANDLE_NULL;
    p4_ta_noise_key(s);
    *sessionContext = s;
    return TEE_SUCCESS;
}

void TA_CloseSessionEntryPoint(void *sessionContext)
{
    p4_ta_session *s = sessionContext;
    if (!s)
        return;
    p4_ta_layers_free(s);
    p4_ta_ledger_close(s);
    p4_fs_gaussian_wipe(&s->noise);
    p4_fs_stream_wipe(&s->seeded_stream);
    TEE_Free(s);
}

static double in_double(const TEE_Param *p)
{
    return p4_ta_value_double(p->value.a, p->value.b);
}

static void out_double(TEE_Param *p, double d)
{
    p4_ta_double_value(d, &p->value.a, &p->value.b);
}

static TEE_Result open_ledger(p4_ta_session *s, uint32_t types, TEE_Param params[4])
{
    if (types != TEE_PARAM_TYPES(TEE_PARAM_TYPE_VALUE_INPUT, TEE_PARAM_TYPE_VALUE_INPUT,
                                 TEE_PARAM_TYPE_VALUE_OUTPUT, TEE_PARAM_TYPE_VALUE_OUTPUT))
        return TEE_ERROR_BAD_PARAMETERS;
    TEE_Result r = p4_ta_ledger_open(s, in_double(&params[0]), in_double(&params[1]));
    if (r == TEE_SUCCESS) {
        out_double(&params[2], s->ledger.delta);
        out_double(&params[3], s->ledger.target);
    }
    return r;
}

static TEE_Result charge(p4_ta_session *s, uint32_t types, TEE_Param params[4])
{
    if (types != TEE_PARAM_TYPES(TEE_PARAM_TYPE_VALUE_INPUT, TEE_PARAM_TYPE_VALUE_INPUT,
                                 TEE_PARAM_TYPE_VALUE_INPUT, TEE_PARAM_TYPE_VALUE_OUTPUT))
        return TEE_ERROR_BAD_PARAMETERS;
    uint64_t steps = (uint64_t)params[2].value.a | (uint64_t)params[2].value.b << 32;
    if (steps > (uint64_t)1 << 62)
        return TEE_ERROR_BAD_PARAMETERS;
    double after = 0;
    TEE_Result r = p4_ta_ledger_charge(s, in_double(&params[0]), in_double(&params[1]),
                                       (long long)steps, &after);
    if (r == TEE_SUCCESS)
        out_double(&params[3], after);
    return r;
}

static TEE_Result spent(p4_ta_session *s, uint32_t types, TEE_Param params[4])
{
    if (types != TEE_PARAM_TYPES(TEE_PARAM_TYPE_VALUE_OUTPUT, TEE_PARAM_TYPE_VALUE_OUTPUT,
                                 TEE_PARAM_TYPE_NONE, TEE_PARAM_TYPE_NONE))
        return TEE_ERROR_BAD_PARAMETERS;
    if (!s->ledger_open)
        return TEE_ERROR_BAD_STATE;
    out_double(&params[0], p4_ta_ledger_spent(s));
    out_double(&params[1], s->ledger.target);
    return TEE_SUCCESS;
}

#ifdef P4_TA_TEST_COMMANDS
static TEE_Result test_alloc(uint32_t types, TEE_Param params[4])
{
    if (types != TEE_PARAM_TYPES(TEE_PARAM_TYPE_VALUE_INPUT, TEE_PARAM_TYPE_NONE,
                                 TEE_PARAM_TYPE_NONE, TEE_PARAM_TYPE_NONE))
        return TEE_ERROR_BAD_PARAMETERS;
    uint64_t bytes = (uint64_t)params[0].value.a | (uint64_t)params[0].value.b << 32;
    if (bytes > (size_t)-1)
        return TEE_ERROR_OUT_OF_MEMORY;
    void *p = TEE_Malloc((size_t)bytes, TEE_MALLOC_FILL_ZERO);
    if (!p)
        return TEE_ERROR_OUT_OF_MEMORY;
    TEE_Free(p);
    return TEE_SUCCESS;
}
#endif

TEE_Result TA_InvokeCommandEntryPoint(void *sessionContext, uint32_t commandID,
                                      uint32_t paramTypes, TEE_Param params[4])
{
    p4_ta_session *s = sessionContext;
    switch (commandID) {
    case P4_TA_CMD_OPEN_LEDGER:
        return open_ledger(s, paramTypes, params);
    case P4_TA_CMD_CHARGE:
        return charge(s, paramTypes, params);
    case P4_TA_CMD_ADD_NOISE:
        return p4_ta_add_noise(s, paramTypes, params);
    case P4_TA_CMD_RELEASE_ROWS:
        return p4_ta_release_rows(s, paramTypes, params);
    case P4_TA_CMD_SPENT:
        return spent(s, paramTypes, params);
    case P4_TA_CMD_LAYERS_LOAD:
        return p4_ta_layers_load(s, paramTypes, params);
    case P4_TA_CMD_LAYERS_TRAIN:
        return p4_ta_layers_train(s, paramTypes, params);
    case P4_TA_CMD_LAYERS_CLIP:
        return p4_ta_layers_clip(s, paramTypes, params);
    case P4_TA_CMD_LAYERS_STEP:
        return p4_ta_layers_step(s, paramTypes, params);
    case P4_TA_CMD_LAYERS_TOP1:
        return p4_ta_layers_top1(s, paramTypes, params);
    case P4_TA_CMD_KD_TRAIN:
        return p4_ta_kd_train(s, paramTypes, params);
    case P4_TA_CMD_KD_TEACH:
        return p4_ta_kd_teach(s, paramTypes, params);
    case P4_TA_CMD_LAYERS_EXPORT:
        return p4_ta_layers_export(s, paramTypes, params);
    case P4_TA_CMD_LAYERS_IMPORT:
        return p4_ta_layers_import(s, paramTypes, params);
    case P4_TA_CMD_LAYERS_STORE:
        return p4_ta_layers_store(s, paramTypes, params);
    case P4_TA_CMD_LAYERS_RESUME:
        return p4_ta_layers_resume(s, paramTypes, params);
    case P4_TA_CMD_LAYERS_SNAPSHOT:
        return p4_ta_layers_snapshot(s, paramTypes, params);
    case P4_TA_CMD_LAYERS_RESTORE:
        return p4_ta_layers_restore(s, paramTypes, params);
    case P4_TA_CMD_LOGITS_RELEASE:
        return p4_ta_logits_release(s, paramTypes, params);
    case P4_TA_CMD_PUBLIC_STEP:
        return p4_ta_public_step(s, paramTypes, params);
    case P4_TA_CMD_LAYERS_FORWARD:
        return p4_ta_layers_forward(s, paramTypes, params);
    case P4_TA_CMD_LAYERS_BACKWARD:
        return p4_ta_layers_backward(s, paramTypes, params);
#if defined(P4_TA_TEST_COMMANDS) || defined(P4_TA_ALLOW_SEEDED_NOISE)
    case P4_TA_CMD_SEED_NOISE:
        /* A normal world that may seed the noise can predict it: only the
         * harness's TA and TAs built for reproducible research accept it. */
        return p4_ta_seed_noise(s, paramTypes, params);
    case P4_TA_CMD_NOISE_POSITION:
        return p4_ta_noise_position(s, paramTypes, params);
#endif
#ifdef P4_TA_TEST_COMMANDS
    case P4_TA_CMD_TEST_PANIC:
        TEE_Panic(0x70345441u);
        return TEE_ERROR_GENERIC; /* not reached */
    case P4_TA_CMD_TEST_ALLOC:
        return test_alloc(paramTypes, params);
#endif
    default:
        return TEE_ERROR_NOT_SUPPORTED;
    }
}
