/* ta_logits.c: a P4 proxy in logits mode with its top layers in the TA.
 *
 * In logits mode a proxy shares no weights: each round it releases its
 * logits on a public reference set, and distils from the group's mean of
 * those releases.  With the top layers here, both halves run in the TA:
 *   LOGITS_RELEASE  the proxy's mean-centred log-probabilities on the public
 *                   inputs (distill/client.c's p4_client_public_logits),
 *                   computed here from the normal world's activations, then
 *                   RELEASE_ROWS's mechanism (ta_release.c) in TA memory:
 *                   clipped, charged, noised; only the noised rows cross.
 *   PUBLIC_STEP     the plain SGD step of the distillation on public inputs
 *                   (p4_client_distill_public): KD_TRAIN passes with alpha 1,
 *                   LAYERS_CLIP at a bound no example reaches, then this.
 *                   Public data and released values only: post-processing,
 *                   so no noise and no charge.  Allowed only for layers
 *                   loaded with P4_TA_LAYERS_STAY, which never leave as
 *                   weights (LAYERS_EXPORT refuses them). */
#include "ta_session.h"
#include "common/fs_math.h"
#include "model/fs_sgd.h"
#include "model/fs_softmax.h"

#define MAX_RELEASE (1u << 24)

/* log softmax(z) with a floor at 1e-30, minus its mean: the software
 * path's centred log-probabilities, from the probabilities as it has them. */
static void centred_log_probs(const float *z, uint32_t classes, float *probs, float *out)
{
    p4_softmax(probs, z, (int)classes, 1.0f);
    double mean = 0;
    for (uint32_t k = 0; k < classes; k++) {
        double p = probs[k] > 1e-30f ? probs[k] : 1e-30;
        out[k] = (float)p4_fs_log(p);
        mean += out[k];
    }
    mean /= classes;
    for (uint32_t k = 0; k < classes; k++)
        out[k] = (float)(out[k] - mean);
}

TEE_Result p4_ta_logits_release(p4_ta_session *s, uint32_t types, TEE_Param params[4])
{
    if (types != TEE_PARAM_TYPES(TEE_PARAM_TYPE_MEMREF_INPUT, TEE_PARAM_TYPE_MEMREF_OUTPUT,
                                 TEE_PARAM_TYPE_VALUE_INPUT, TEE_PARAM_TYPE_VALUE_INPUT))
        return TEE_ERROR_BAD_PARAMETERS;
    const p4_ta_layers_spec *spec = p4_ta_layers_spec_of(s);
    if (!s->ledger_open || !spec)
        return TEE_ERROR_BAD_STATE;
    if (spec->flags & P4_TA_SPEC_SOFTMAX_OUTSIDE)
        return TEE_ERROR_NOT_SUPPORTED; /* no softmax inside: no log-probabilities */
    double clip = p4_ta_value_double(params[2].value.a, params[2].value.b);
    double sigma = p4_ta_value_double(params[3].value.a, params[3].value.b);
    uint64_t row = (uint64_t)spec->layer[0].inputs * sizeof(float);
    uint32_t classes = spec->layer[spec->nlayers - 1].outputs;
    if (!(clip > 0) || !p4_ta_finite(clip) || !(sigma > 0) || !p4_ta_finite(sigma) ||
        !params[0].memref.buffer || params[0].memref.size == 0 || params[0].memref.size % row)
        return TEE_ERROR_BAD_PARAMETERS;
    uint64_t n = params[0].memref.size / row;
    if (n * classes > MAX_RELEASE)
        return TEE_ERROR_BAD_PARAMETERS;
    size_t count = (size_t)n * classes, bytes = count * sizeof(float);
    if (params[1].memref.size < bytes || !params[1].memref.buffer) {
        params[1].memref.size = bytes;
        return TEE_ERROR_SHORT_BUFFER;
    }
    float *rows = TEE_Malloc(bytes, TEE_MALLOC_FILL_ZERO);
    float *probs = TEE_Malloc(classes * sizeof(float), TEE_MALLOC_FILL_ZERO);
    TEE_Result r = rows && probs ? TEE_SUCCESS : TEE_ERROR_OUT_OF_MEMORY;
    const uint8_t *in = params[0].memref.buffer;
    for (uint64_t first = 0; r == TEE_SUCCESS && first < n; first += spec->capacity) {
        uint64_t m = n - first < spec->capacity ? n - first : spec->capacity;
        TEE_Param pass = params[0];
        pass.memref.buffer = (void *)(in + first * row);
        pass.memref.size = (size_t)(m * row);
        const float *logits = NULL;
        uint32_t got = 0, c = 0;
        r = p4_ta_layers_logits(s, &pass, &logits, &got, &c);
        for (uint32_t i = 0; r == TEE_SUCCESS && i < got; i++)
            centred_log_probs(logits + (size_t)i * c, c, probs,
                              rows + (size_t)(first + i) * classes);
    }
    for (size_t i = 0; r == TEE_SUCCESS && i < count; i++)
        if (!p4_ta_finite(rows[i]))
            r = TEE_ERROR_BAD_PARAMETERS; /* a diverged proxy: nothing to release */
    if (r == TEE_SUCCESS)
        r = p4_ta_release_matrix(s, rows, (uint32_t)n, classes, clip, sigma);
    if (r == TEE_SUCCESS) {
        TEE_MemMove(params[1].memref.buffer, rows, bytes);
        params[1].memref.size = bytes;
    }
    if (rows)
        TEE_MemFill(rows, 0, bytes); /* un-noised on a refusal */
    TEE_Free(rows);
    TEE_Free(probs);
    return r;
}

TEE_Result p4_ta_public_step(p4_ta_session *s, uint32_t types, TEE_Param params[4])
{
    if (types != TEE_PARAM_TYPES(TEE_PARAM_TYPE_MEMREF_INPUT, TEE_PARAM_TYPE_NONE,
                                 TEE_PARAM_TYPE_NONE, TEE_PARAM_TYPE_NONE))
        return TEE_ERROR_BAD_PARAMETERS;
    const p4_ta_layers_spec *spec = p4_ta_layers_spec_of(s);
    if (!spec)
        return TEE_ERROR_BAD_STATE;
    if (!(spec->flags & P4_TA_LAYERS_STAY))
        return TEE_ERROR_SECURITY; /* exportable layers move only by DP steps */
    p4_ta_public_step_args a;
    if (params[0].memref.size != sizeof a || !params[0].memref.buffer)
        return TEE_ERROR_BAD_PARAMETERS;
    TEE_MemMove(&a, params[0].memref.buffer, sizeof a);
    if (!(a.divisor > 0) || !p4_ta_finite(a.divisor) || !(a.learning_rate > 0) ||
        !p4_ta_finite(a.learning_rate) || !(a.momentum >= 0 && a.momentum < 1) ||
        !(a.decay >= 0) || !p4_ta_finite(a.decay))
        return TEE_ERROR_BAD_PARAMETERS;
    const float scale = (float)(-1.0 / a.divisor), lr = (float)a.learning_rate;
    const float mu = (float)a.momentum, decay = (float)a.decay;
    uint32_t count = 0, same = 0;
    float *g;
    for (uint32_t k = 0; (g = p4_ta_layers_gradient(s, k, &count)) != NULL; k++) {
        float *value = p4_ta_layers_tensor(s, k, &same);
        float *velocity = p4_ta_layers_tensor(s, k + 2 * spec->nlayers, &same);
        if (count == 0)
            continue; /* a max-pool */
        p4_sgd_tensor_step(value, g, velocity, count, scale, lr, mu, decay);
        TEE_MemFill(g, 0, count * sizeof(float));
    }
    return TEE_SUCCESS;
}
