/* ta_kd.c: a P4 proxy's distillation loss inside the TA.
 *
 * A P4 proxy trains on (1 - alpha) CE(softmax(z), y) + alpha T^2
 * KL(p || softmax(z / T)), p the private model's softened probabilities on
 * the same batch (distill/kd_loss.h; the private model is the normal
 * world's, so p may cross).  KD_TRAIN is LAYERS_TRAIN with that loss: the
 * proxy's logits z stay in the TA, only the summed loss and the gradient at
 * the protected layers' inputs leave, as with the cross-entropy.  KD_TEACH
 * gives the proxy's own softmax(z / T), which the private model's step
 * learns from (docs/tee.md says what that reveals). */
#include "ta_session.h"
#include "common/fs_math.h"
#include "model/fs_kd.h"

typedef struct {
    p4_ta_kd_args args;
    float *teacher;    /* m x classes, TEE_Malloc'd for the call */
} kd_call;

static int rows_finite(const float *x, uint64_t n, int nonnegative)
{
    for (uint64_t i = 0; i < n; i++)
        if (!p4_ta_finite(x[i]) || (nonnegative && !(x[i] >= 0.0f)))
            return 0;
    return 1;
}

/* p1: the header, m label rows, m teacher rows. */
static TEE_Result kd_load(void *user, const TEE_Param *p, uint32_t m, uint32_t classes,
                          uint32_t capacity, float *targets)
{
    kd_call *call = user;
    uint64_t block = (uint64_t)m * classes * sizeof(float);
    if (!p->memref.buffer || m < 1 || m > capacity ||
        (uint64_t)p->memref.size != sizeof call->args + 2 * block)
        return TEE_ERROR_BAD_PARAMETERS;
    const uint8_t *src = p->memref.buffer;
    TEE_MemMove(&call->args, src, sizeof call->args);
    double alpha = call->args.alpha, t = call->args.temperature;
    if (!(alpha >= 0 && alpha <= 1) || !p4_ta_finite(t) || !(t > 0 && t <= 1e6))
        return TEE_ERROR_BAD_PARAMETERS;
    call->teacher = TEE_Malloc((size_t)block, TEE_MALLOC_FILL_ZERO);
    if (!call->teacher)
        return TEE_ERROR_OUT_OF_MEMORY;
    TEE_MemMove(targets, src + sizeof call->args, (size_t)block);
    TEE_MemMove(call->teacher, src + sizeof call->args + block, (size_t)block);
    uint64_t n = (uint64_t)m * classes;
    if (!rows_finite(targets, n, 0) || !rows_finite(call->teacher, n, 1))
        return TEE_ERROR_BAD_PARAMETERS;
    return TEE_SUCCESS;
}

static const p4_kd_math fs_math = { p4_fs_exp, p4_fs_log };

/* model/fs_kd.c's loss and delta, as distill/kd_loss.c computes them. */
static double kd_loss(void *user, const float *logits, const float *probs, const float *targets,
                      uint32_t m, uint32_t classes, float *delta)
{
    (void)probs;
    const kd_call *call = user;
    return p4_kd_loss_rows(&fs_math, logits, call->teacher, targets, (int)m, (int)classes,
                           call->args.alpha, call->args.temperature, delta);
}

TEE_Result p4_ta_kd_train(p4_ta_session *s, uint32_t types, TEE_Param params[4])
{
    kd_call call = { { 0, 0 }, NULL };
    const p4_ta_loss loss = { kd_load, kd_loss, &call };
    TEE_Result r = p4_ta_layers_pass(s, types, params, &loss);
    TEE_Free(call.teacher);
    return r;
}

TEE_Result p4_ta_kd_teach(p4_ta_session *s, uint32_t types, TEE_Param params[4])
{
    if (types != TEE_PARAM_TYPES(TEE_PARAM_TYPE_MEMREF_INPUT, TEE_PARAM_TYPE_MEMREF_OUTPUT,
                                 TEE_PARAM_TYPE_VALUE_INPUT, TEE_PARAM_TYPE_NONE))
        return TEE_ERROR_BAD_PARAMETERS;
    if (!s->layers)
        return TEE_ERROR_BAD_STATE;
    double t = p4_ta_value_double(params[2].value.a, params[2].value.b);
    if (!p4_ta_finite(t) || !(t > 0 && t <= 1e6))
        return TEE_ERROR_BAD_PARAMETERS;
    const float *logits = NULL;
    uint32_t m = 0, classes = 0;
    TEE_Result r = p4_ta_layers_logits(s, &params[0], &logits, &m, &classes);
    if (r != TEE_SUCCESS)
        return r;
    uint64_t bytes = (uint64_t)m * classes * sizeof(float);
    if ((uint64_t)params[1].memref.size < bytes || !params[1].memref.buffer) {
        params[1].memref.size = (size_t)bytes;
        return TEE_ERROR_SHORT_BUFFER;
    }
    float *row = TEE_Malloc(classes * sizeof(float), TEE_MALLOC_FILL_ZERO);
    if (!row)
        return TEE_ERROR_OUT_OF_MEMORY;
    uint8_t *out = params[1].memref.buffer;
    for (uint32_t i = 0; i < m; i++) {
        p4_kd_softmax_row(&fs_math, logits + (size_t)i * classes, (int)classes, t, row);
        TEE_MemMove(out + (size_t)i * classes * sizeof(float), row, classes * sizeof(float));
    }
    TEE_Free(row);
    params[1].memref.size = (size_t)bytes;
    return TEE_SUCCESS;
}
