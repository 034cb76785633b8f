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

/* log sum_k exp(z_k / t), with the row maximum taken out. */
static double log_sum_exp(const float *z, uint32_t c, double t)
{
    double top = z[0];
    for (uint32_t k = 1; k < c; k++)
        if (z[k] > top)
            top = z[k];
    double sum = 0.0;
    for (uint32_t k = 0; k < c; k++)
        sum += p4_fs_exp((z[k] - top) / t);
    return top / t + p4_fs_log(sum);
}

/* distill/kd_loss.c's loss and delta, term for term. */
static double kd_loss(void *user, const float *logits, const float *probs, const float *targets,
                      uint32_t m, uint32_t classes, float *delta)
{
    (void)probs;
    const kd_call *call = user;
    const double alpha = call->args.alpha, t = call->args.temperature;
    double total = 0.0;
    for (uint32_t i = 0; i < m; i++) {
        const float *z = logits + (size_t)i * classes;
        double lse1 = alpha < 1 ? log_sum_exp(z, classes, 1.0) : 0.0;
        double lset = alpha > 0 ? log_sum_exp(z, classes, t) : 0.0;
        double ce = 0.0, kl = 0.0;
        for (uint32_t k = 0; k < classes; k++) {
            size_t at = (size_t)i * classes + k;
            double d = 0.0;
            if (alpha < 1) {
                double log_s = z[k] - lse1;
                ce -= targets[at] * log_s;
                d += (1 - alpha) * (targets[at] - p4_fs_exp(log_s));
            }
            if (alpha > 0) {
                double log_q = z[k] / t - lset, p = call->teacher[at];
                if (p > 0) /* 0 log 0 = 0 */
                    kl += p * (p4_fs_log(p) - log_q);
                d += alpha * t * (p - p4_fs_exp(log_q));
            }
            delta[at] = (float)d;
        }
        total += (1 - alpha) * ce + alpha * t * t * kl;
    }
    return total;
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
        const float *z = logits + (size_t)i * classes;
        double lse = log_sum_exp(z, classes, t);
        for (uint32_t k = 0; k < classes; k++)
            row[k] = (float)p4_fs_exp(z[k] / t - lse);
        TEE_MemMove(out + (size_t)i * classes * sizeof(float), row, classes * sizeof(float));
    }
    TEE_Free(row);
    params[1].memref.size = (size_t)bytes;
    return TEE_SUCCESS;
}
