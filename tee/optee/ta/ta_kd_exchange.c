/* ta_kd_exchange.c: the protected layers' weights in a P4 proxy-weights
 * exchange.  A P4 group averages its members' proxies every round, so the
 * protected part of the proxy must leave (LAYERS_EXPORT) and the average
 * come back (LAYERS_IMPORT).  What leaves is a DP release: the weights
 * began as the public seeded initialisation or an imported aggregate, and
 * since then only LAYERS_STEP moved them, with noise drawn here after the
 * ledger was charged.  Momentum stays in the TA, as the normal world's
 * optimiser keeps its own across an exchange. */
#include "ta_session.h"

/* Tensors in LAYERS_LOAD's layout (weights and biases; momentum follows). */
static uint32_t layout_tensors(const p4_ta_session *s)
{
    const p4_ta_layers_spec *spec = p4_ta_layers_spec_of(s);
    return spec ? 2 * spec->nlayers : 0;
}

/* Floats in LAYERS_LOAD's layout; 0 without layers. */
static uint64_t layout_floats(p4_ta_session *s)
{
    uint64_t total = 0;
    uint32_t count = 0;
    for (uint32_t k = 0; k < layout_tensors(s) && p4_ta_layers_tensor(s, k, &count); k++)
        total += count;
    return total;
}

TEE_Result p4_ta_layers_export(p4_ta_session *s, uint32_t types, TEE_Param params[4])
{
    if (types != TEE_PARAM_TYPES(TEE_PARAM_TYPE_MEMREF_OUTPUT, TEE_PARAM_TYPE_NONE,
                                 TEE_PARAM_TYPE_NONE, TEE_PARAM_TYPE_NONE))
        return TEE_ERROR_BAD_PARAMETERS;
    uint64_t bytes = layout_floats(s) * sizeof(float);
    if (bytes == 0)
        return TEE_ERROR_BAD_STATE;
    /* Layers that stay (logits mode) took un-noised public steps. */
    if (p4_ta_layers_spec_of(s)->flags & P4_TA_LAYERS_STAY)
        return TEE_ERROR_SECURITY;
    if ((uint64_t)params[0].memref.size < bytes || !params[0].memref.buffer) {
        params[0].memref.size = (size_t)bytes;
        return TEE_ERROR_SHORT_BUFFER;
    }
    uint8_t *dst = params[0].memref.buffer;
    uint32_t count = 0;
    const float *t;
    for (uint32_t k = 0; k < layout_tensors(s) && (t = p4_ta_layers_tensor(s, k, &count)); k++) {
        TEE_MemMove(dst, t, count * sizeof(float));
        dst += (size_t)count * sizeof(float);
    }
    params[0].memref.size = (size_t)bytes;
    return TEE_SUCCESS;
}

TEE_Result p4_ta_layers_import(p4_ta_session *s, uint32_t types, TEE_Param params[4])
{
    if (types != TEE_PARAM_TYPES(TEE_PARAM_TYPE_MEMREF_INPUT, TEE_PARAM_TYPE_NONE,
                                 TEE_PARAM_TYPE_NONE, TEE_PARAM_TYPE_NONE))
        return TEE_ERROR_BAD_PARAMETERS;
    uint64_t bytes = layout_floats(s) * sizeof(float);
    if (bytes == 0)
        return TEE_ERROR_BAD_STATE;
    if ((uint64_t)params[0].memref.size != bytes || !params[0].memref.buffer)
        return TEE_ERROR_BAD_PARAMETERS;
    /* Copied first and checked in TA memory (shared memory may change under
     * us); a refused import leaves the layers zeroed, not half replaced. */
    const uint8_t *src = params[0].memref.buffer;
    uint32_t count = 0;
    float *t;
    int finite = 1;
    for (uint32_t k = 0; k < layout_tensors(s) && (t = p4_ta_layers_tensor(s, k, &count)); k++) {
        TEE_MemMove(t, src, count * sizeof(float));
        src += (size_t)count * sizeof(float);
        for (uint32_t i = 0; i < count; i++)
            finite &= p4_ta_finite(t[i]);
    }
    if (!finite) {
        for (uint32_t k = 0; k < layout_tensors(s) && (t = p4_ta_layers_tensor(s, k, &count)); k++)
            TEE_MemFill(t, 0, count * sizeof(float));
        return TEE_ERROR_BAD_PARAMETERS;
    }
    return TEE_SUCCESS;
}
