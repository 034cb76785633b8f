/* ta_layers.c: the protected layers: a range of the proxy model
 * (connected, convolutional and max-pool layers, then the softmax or, with
 * P4_TA_SPEC_SOFTMAX_OUTSIDE, the normal world's layers above) held,
 * trained and run inside the TA.  A range ending below the softmax takes
 * LAYERS_FORWARD (its last layer's activations out) and LAYERS_BACKWARD
 * (the gradient at them in) in place of LAYERS_TRAIN.
 *
 * Their weights arrive once (LAYERS_LOAD, the normal world's seeded
 * initialisation) and never leave.  A DP-SGD step is split with the normal
 * world, which runs the layers below:
 *   LAYERS_TRAIN  forward, cross-entropy, backward: per-example squared
 *                 norms of the TA's gradients are kept, the gradient at the
 *                 inputs goes out (the normal world's backward needs it);
 *   LAYERS_CLIP   the normal world's per-example squared norms come in; each
 *                 example's factor min(1, C / ||g_i||) over all layers goes
 *                 out, and the TA adds its clipped per-example gradients up;
 *   LAYERS_STEP   the ledger is charged, the noise is drawn here and added
 *                 to both worlds' sums, the TA's layers take their SGD step.
 * Dense per-example gradients are outer products delta_i x_i^T, so their
 * squared norm is ||delta_i||^2 (||x_i||^2 + 1) and none is materialised
 * (as dp/per_example.c); a convolution's are materialised (ta_conv.c).
 * All memory is one allocation of exactly what
 * p4_ta_layers_bytes() counts, so the host's check at configuration time
 * and the TA agree. */
#include "ta_session.h"
#include "common/fs_math.h"
#include "model/fs_connected.h"
#include "model/fs_sgd.h"
#include "model/fs_softmax.h"
#include "ta_conv.h"
#include "ta_maxpool.h"

struct p4_ta_layers {
    p4_ta_layers_spec spec;
    void *arena;
    size_t arena_bytes;
    float *w[P4_TA_MAX_LAYERS], *b[P4_TA_MAX_LAYERS];
    float *w_grad[P4_TA_MAX_LAYERS], *b_grad[P4_TA_MAX_LAYERS];
    float *w_velocity[P4_TA_MAX_LAYERS], *b_velocity[P4_TA_MAX_LAYERS];
    float *out[P4_TA_MAX_LAYERS], *delta[P4_TA_MAX_LAYERS];
    float *per_pass[P4_TA_MAX_LAYERS]; /* conv: per-example gradients; max-pool: winners */
    float *input, *probs, *targets, *in_delta, *factor, *normal;
    double *norms;
    uint32_t pass;    /* examples of the TRAIN awaiting its CLIP; 0: none */
    uint32_t forwarded; /* examples of a training FORWARD awaiting its BACKWARD */
};

typedef struct p4_ta_layers p4_ta_layers;

static uint32_t weights_of(const p4_ta_dense *d)
{
    return (uint32_t)p4_ta_layer_weights(d);
}

static uint32_t biases_of(const p4_ta_dense *d)
{
    return (uint32_t)p4_ta_layer_biases(d);
}

static uint32_t classes_of(const p4_ta_layers *L)
{
    return L->spec.layer[L->spec.nlayers - 1].outputs;
}

static uint32_t inputs_of(const p4_ta_layers *L)
{
    return L->spec.layer[0].inputs;
}

/* The range ends below the model's softmax: the normal world runs the rest. */
static int softmax_outside(const p4_ta_layers *L)
{
    return (L->spec.flags & P4_TA_SPEC_SOFTMAX_OUTSIDE) != 0;
}

void p4_ta_layers_free(p4_ta_session *s)
{
    if (!s->layers)
        return;
    TEE_MemFill(s->layers->arena, 0, s->layers->arena_bytes); /* the weights */
    TEE_Free(s->layers->arena);
    TEE_Free(s->layers);
    s->layers = NULL;
}

/* Carves the arena in the order p4_ta_layers_bytes counts it. */
static void carve(p4_ta_layers *L)
{
    uint64_t m = L->spec.capacity;
    L->norms = L->arena;                     /* doubles first: aligned */
    float *p = (float *)(L->norms + m);
    for (uint32_t j = 0; j < L->spec.nlayers; j++) {
        const p4_ta_dense *d = &L->spec.layer[j];
        L->w[j] = p; p += weights_of(d);
        L->b[j] = p; p += biases_of(d);
        L->w_grad[j] = p; p += weights_of(d);
        L->b_grad[j] = p; p += biases_of(d);
        L->w_velocity[j] = p; p += weights_of(d);
        L->b_velocity[j] = p; p += biases_of(d);
        L->out[j] = p; p += m * d->outputs;
        L->delta[j] = p; p += m * d->outputs;
        L->per_pass[j] = p; p += m * p4_ta_layer_pass_floats(d);
    }
    L->input = p; p += m * inputs_of(L);
    L->in_delta = p; p += m * inputs_of(L);
    uint64_t classes = softmax_outside(L) ? 0 : classes_of(L); /* as p4_ta_layers_bytes */
    L->probs = p; p += m * classes;
    L->targets = p; p += m * classes;
    L->factor = p; p += m;
    L->normal = p;
}

static int all_finite(const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!p4_ta_finite(x[i]))
            return 0;
    return 1;
}

TEE_Result p4_ta_layers_alloc(p4_ta_session *s, const p4_ta_layers_spec *spec)
{
    uint64_t bytes = p4_ta_layers_bytes(spec);
    if (bytes == 0)
        return TEE_ERROR_BAD_PARAMETERS;
    p4_ta_layers_free(s);
    if (bytes - P4_TA_RESERVE_BYTES > (size_t)-1)
        return TEE_ERROR_OUT_OF_MEMORY;
    p4_ta_layers *L = TEE_Malloc(sizeof *L, TEE_MALLOC_FILL_ZERO);
    if (!L)
        return TEE_ERROR_OUT_OF_MEMORY;
    L->arena_bytes = (size_t)(bytes - P4_TA_RESERVE_BYTES);
    L->arena = TEE_Malloc(L->arena_bytes, TEE_MALLOC_FILL_ZERO);
    if (!L->arena) {
        TEE_Free(L);
        return TEE_ERROR_OUT_OF_MEMORY;
    }
    L->spec = *spec;
    carve(L);
    s->layers = L;
    return TEE_SUCCESS;
}

TEE_Result p4_ta_layers_load(p4_ta_session *s, uint32_t types, TEE_Param params[4])
{
    if (types != TEE_PARAM_TYPES(TEE_PARAM_TYPE_MEMREF_INPUT, TEE_PARAM_TYPE_MEMREF_INPUT,
                                 TEE_PARAM_TYPE_VALUE_OUTPUT, TEE_PARAM_TYPE_NONE))
        return TEE_ERROR_BAD_PARAMETERS;
    if (!s->ledger_open)
        return TEE_ERROR_BAD_STATE;
    p4_ta_layers_spec spec;
    if (params[0].memref.size != sizeof spec || !params[0].memref.buffer)
        return TEE_ERROR_BAD_PARAMETERS;
    TEE_MemMove(&spec, params[0].memref.buffer, sizeof spec);
    uint64_t bytes = p4_ta_layers_bytes(&spec);
    const uint32_t known = P4_TA_LAYERS_STAY | P4_TA_SPEC_SOFTMAX_OUTSIDE |
                           P4_TA_SPEC_NOISE_CHUNKED;
    if (bytes == 0 || spec.normal_floats > (1u << 28) || (spec.flags & ~known))
        return TEE_ERROR_BAD_PARAMETERS;
    if (!p4_ta_noise_layout_agrees(s, spec.flags))
        return TEE_ERROR_BAD_STATE; /* the host disagrees with its SEED_NOISE */
    uint64_t count = 0;
    for (uint32_t j = 0; j < spec.nlayers; j++) {
        if (spec.layer[j].activation > P4_ACT_LOGISTIC)
            return TEE_ERROR_BAD_PARAMETERS;
        count += (uint64_t)weights_of(&spec.layer[j]) + biases_of(&spec.layer[j]);
    }
    params[2].value.a = (uint32_t)bytes;
    params[2].value.b = (uint32_t)(bytes >> 32);
    if (params[1].memref.size != count * sizeof(float) || !params[1].memref.buffer)
        return TEE_ERROR_BAD_PARAMETERS;
    TEE_Result r = p4_ta_layers_alloc(s, &spec);
    if (r != TEE_SUCCESS)
        return r;
    p4_ta_layers *L = s->layers;
    s->layers = NULL;
    const float *src = params[1].memref.buffer;
    for (uint32_t j = 0; j < spec.nlayers; j++) {
        uint32_t nw = weights_of(&spec.layer[j]), nb = biases_of(&spec.layer[j]);
        TEE_MemMove(L->w[j], src, nw * sizeof(float));
        src += nw;
        TEE_MemMove(L->b[j], src, nb * sizeof(float));
        src += nb;
        if (!all_finite(L->w[j], nw) || !all_finite(L->b[j], nb)) {
            s->layers = L;
            p4_ta_layers_free(s);
            return TEE_ERROR_BAD_PARAMETERS;
        }
    }
    s->layers = L;
    return TEE_SUCCESS;
}

/* Forward of m examples in L->input: each layer's outputs, then the
 * softmax's probabilities. */
static void forward(p4_ta_layers *L, uint32_t m)
{
    const float *x = L->input;
    for (uint32_t j = 0; j < L->spec.nlayers; j++) {
        const p4_ta_dense *d = &L->spec.layer[j];
        if (d->kind == P4_TA_CONVOLUTIONAL)
            p4_ta_conv_forward(d, L->w[j], L->b[j], x, L->out[j], m);
        else if (d->kind == P4_TA_MAXPOOL)
            p4_ta_maxpool_forward(d, x, L->out[j], (int32_t *)L->per_pass[j], m);
        else
            p4_connected_forward(L->out[j], x, L->w[j], L->b[j], (int)m, (int)d->inputs,
                                 (int)d->outputs, (p4_activation)d->activation);
        x = L->out[j];
    }
    if (softmax_outside(L))
        return;
    uint32_t classes = classes_of(L);
    for (uint32_t i = 0; i < m; i++)
        p4_softmax(L->probs + (size_t)i * classes, x + (size_t)i * classes, (int)classes, 1.0f);
}

/* m rows of `width` floats of an input memref, copied into dst. */
static TEE_Result copy_rows(const TEE_Param *p, uint32_t width, uint32_t capacity, float *dst,
                            uint32_t *m)
{
    size_t row = (size_t)width * sizeof(float);
    if (!p->memref.buffer || p->memref.size == 0 || p->memref.size % row != 0 ||
        p->memref.size / row > capacity)
        return TEE_ERROR_BAD_PARAMETERS;
    *m = (uint32_t)(p->memref.size / row);
    TEE_MemMove(dst, p->memref.buffer, p->memref.size);
    return all_finite(dst, (size_t)*m * width) ? TEE_SUCCESS : TEE_ERROR_BAD_PARAMETERS;
}

static double squared(const float *x, uint32_t n)
{
    double s = 0;
    for (uint32_t k = 0; k < n; k++)
        s += (double)x[k] * x[k];
    return s;
}

/* Backward of the pass of m examples from the last layer's deltas: each
 * example's squared gradient norm over the TA's layers into L->norms, and
 * (if in_delta) the gradient at the inputs into L->in_delta. */
static void backward(p4_ta_layers *L, uint32_t m, int in_delta)
{
    uint32_t last = L->spec.nlayers - 1;
    for (uint32_t i = 0; i < m; i++)
        L->norms[i] = 0;
    for (uint32_t j = last + 1; j-- > 0;) {
        const p4_ta_dense *d = &L->spec.layer[j];
        const float *x = j ? L->out[j - 1] : L->input;
        if (d->kind == P4_TA_CONVOLUTIONAL) {
            p4_ta_conv_example_gradients(d, x, L->out[j], L->delta[j], L->per_pass[j], L->norms,
                                         m);
        } else if (d->kind == P4_TA_CONNECTED) {
            p4_activation_gradient(L->out[j], (int)(m * d->outputs),
                                   (p4_activation)d->activation, L->delta[j]);
            for (uint32_t i = 0; i < m; i++)
                L->norms[i] += squared(L->delta[j] + (size_t)i * d->outputs, d->outputs) *
                               (squared(x + (size_t)i * d->inputs, d->inputs) + 1.0);
        }
        float *below = j ? L->delta[j - 1] : L->in_delta;
        if (j == 0 && !in_delta)
            break;
        TEE_MemFill(below, 0, (size_t)m * d->inputs * sizeof(float));
        if (d->kind == P4_TA_CONVOLUTIONAL)
            p4_ta_conv_input_delta(d, L->w[j], L->delta[j], below, m);
        else if (d->kind == P4_TA_MAXPOOL)
            p4_ta_maxpool_input_delta(d, L->delta[j], (const int32_t *)L->per_pass[j], below, m);
        else
            p4_connected_input_delta(L->delta[j], L->w[j], below, (int)m, (int)d->inputs,
                                     (int)d->outputs);
    }
}

/* The cross-entropy on target rows (LAYERS_TRAIN's p1). */
static TEE_Result ce_load(void *user, const TEE_Param *p, uint32_t m, uint32_t classes,
                          uint32_t capacity, float *targets)
{
    (void)user;
    uint32_t rows = 0;
    TEE_Result r = copy_rows(p, classes, capacity, targets, &rows);
    return r != TEE_SUCCESS || rows != m ? TEE_ERROR_BAD_PARAMETERS : TEE_SUCCESS;
}

/* model/loss.c's cross-entropy and its delta at the logits in darknet's
 * sign: t - p. */
static double ce_loss(void *user, const float *logits, const float *probs, const float *targets,
                      uint32_t m, uint32_t classes, float *delta)
{
    (void)user;
    (void)logits;
    double loss = 0;
    for (size_t k = 0; k < (size_t)m * classes; k++) {
        float p = probs[k], t = targets[k];
        delta[k] = t - p;
        if (t > 0.0f)
            loss -= t * p4_fs_log(p > 1e-12f ? p : 1e-12f);
    }
    return loss;
}

TEE_Result p4_ta_layers_train(p4_ta_session *s, uint32_t types, TEE_Param params[4])
{
    static const p4_ta_loss cross_entropy = { ce_load, ce_loss, NULL };
    return p4_ta_layers_pass(s, types, params, &cross_entropy);
}

TEE_Result p4_ta_layers_pass(p4_ta_session *s, uint32_t types, TEE_Param params[4],
                             const p4_ta_loss *lf)
{
    uint32_t delta_type = TEE_PARAM_TYPE_GET(types, 2);
    if (types != TEE_PARAM_TYPES(TEE_PARAM_TYPE_MEMREF_INPUT, TEE_PARAM_TYPE_MEMREF_INPUT,
                                 delta_type, TEE_PARAM_TYPE_VALUE_OUTPUT) ||
        (delta_type != TEE_PARAM_TYPE_MEMREF_OUTPUT && delta_type != TEE_PARAM_TYPE_NONE))
        return TEE_ERROR_BAD_PARAMETERS;
    p4_ta_layers *L = s->layers;
    if (!L || softmax_outside(L))
        return TEE_ERROR_BAD_STATE; /* the loss needs the softmax inside */
    L->pass = 0;
    L->forwarded = 0;
    uint32_t m = 0, in0 = inputs_of(L), classes = classes_of(L);
    TEE_Result r = copy_rows(&params[0], in0, L->spec.capacity, L->input, &m);
    if (r == TEE_SUCCESS)
        r = lf->load(lf->user, &params[1], m, classes, L->spec.capacity, L->targets);
    if (r != TEE_SUCCESS)
        return r == TEE_ERROR_OUT_OF_MEMORY ? r : TEE_ERROR_BAD_PARAMETERS;
    if (delta_type == TEE_PARAM_TYPE_MEMREF_OUTPUT &&
        (params[2].memref.size < (size_t)m * in0 * sizeof(float) || !params[2].memref.buffer)) {
        params[2].memref.size = (size_t)m * in0 * sizeof(float);
        return TEE_ERROR_SHORT_BUFFER;
    }
    forward(L, m);
    uint32_t last = L->spec.nlayers - 1;
    double loss = lf->loss(lf->user, L->out[last], L->probs, L->targets, m, classes,
                           L->delta[last]);
    backward(L, m, delta_type == TEE_PARAM_TYPE_MEMREF_OUTPUT);
    if (delta_type == TEE_PARAM_TYPE_MEMREF_OUTPUT) {
        TEE_MemMove(params[2].memref.buffer, L->in_delta, (size_t)m * in0 * sizeof(float));
        params[2].memref.size = (size_t)m * in0 * sizeof(float);
    }
    p4_ta_double_value(loss, &params[3].value.a, &params[3].value.b);
    L->pass = m;
    return TEE_SUCCESS;
}


TEE_Result p4_ta_layers_clip(p4_ta_session *s, uint32_t types, TEE_Param params[4])
{
    if (types != TEE_PARAM_TYPES(TEE_PARAM_TYPE_MEMREF_INPUT, TEE_PARAM_TYPE_MEMREF_OUTPUT,
                                 TEE_PARAM_TYPE_VALUE_INPUT, TEE_PARAM_TYPE_NONE))
        return TEE_ERROR_BAD_PARAMETERS;
    p4_ta_layers *L = s->layers;
    if (!L || L->pass == 0)
        return TEE_ERROR_BAD_STATE;
    uint32_t m = L->pass;
    double clip = p4_ta_value_double(params[2].value.a, params[2].value.b);
    if (params[0].memref.size != (size_t)m * sizeof(double) || !params[0].memref.buffer ||
        params[1].memref.size < (size_t)m * sizeof(float) || !params[1].memref.buffer ||
        !(clip > 0) || !p4_ta_finite(clip))
        return TEE_ERROR_BAD_PARAMETERS;
    const uint8_t *normal = params[0].memref.buffer;
    for (uint32_t i = 0; i < m; i++) {
        double outside;
        TEE_MemMove(&outside, normal + (size_t)i * sizeof(double), sizeof outside);
        double total = L->norms[i] + outside;
        if (!(outside >= 0) || !p4_ta_finite(total))
            return TEE_ERROR_BAD_PARAMETERS; /* a diverged example: no factor bounds it */
        double norm = p4_fs_sqrt(total);
        L->factor[i] = (float)(norm > clip ? clip / norm : 1.0);
    }
    for (uint32_t j = 0; j < L->spec.nlayers; j++) {
        const p4_ta_dense *d = &L->spec.layer[j];
        if (d->kind == P4_TA_CONVOLUTIONAL)
            p4_ta_conv_add_clipped(d, L->per_pass[j], L->factor, L->w_grad[j], L->b_grad[j], m);
        if (d->kind != P4_TA_CONNECTED)
            continue;
        for (uint32_t i = 0; i < m; i++)
            for (uint32_t o = 0; o < d->outputs; o++)
                L->delta[j][(size_t)i * d->outputs + o] *= L->factor[i];
        p4_connected_weight_gradient(L->delta[j], j ? L->out[j - 1] : L->input, L->w_grad[j],
                                     L->b_grad[j], (int)m, (int)d->inputs, (int)d->outputs);
    }
    TEE_MemMove(params[1].memref.buffer, L->factor, (size_t)m * sizeof(float));
    params[1].memref.size = (size_t)m * sizeof(float);
    L->pass = 0;
    return TEE_SUCCESS;
}

static int step_args_valid(const p4_ta_step_args *a, const p4_ta_layers *L)
{
    if (!(a->clip > 0) || !p4_ta_finite(a->clip) || !(a->divisor > 0) ||
        !p4_ta_finite(a->divisor) || !(a->learning_rate > 0) ||
        !p4_ta_finite(a->learning_rate) || !(a->momentum >= 0 && a->momentum < 1) ||
        !(a->decay >= 0) || !p4_ta_finite(a->decay) || a->ntensors > P4_TA_MAX_TENSORS ||
        a->above_tensors > a->ntensors || (a->above_tensors && !softmax_outside(L)))
        return 0;
    uint64_t sum = 0;
    for (uint32_t t = 0; t < a->ntensors; t++)
        sum += a->tensor[t] & ~P4_TA_TENSOR_FROZEN;
    return sum == L->spec.normal_floats;
}

/* Noise on the normal world's tensors [from, to) starting at x; returns
 * where the next tensor starts. */
static float *noise_normal(p4_ta_session *s, const p4_ta_step_args *a, uint32_t from,
                           uint32_t to, float *x, double stddev)
{
    for (uint32_t t = from; t < to; t++) {
        uint32_t count = a->tensor[t] & ~P4_TA_TENSOR_FROZEN;
        if (!(a->tensor[t] & P4_TA_TENSOR_FROZEN))
            p4_ta_noise_add(s, x, count, stddev);
        x += count;
    }
    return x;
}

TEE_Result p4_ta_layers_step(p4_ta_session *s, uint32_t types, TEE_Param params[4])
{
    uint32_t sums_type = TEE_PARAM_TYPE_GET(types, 0);
    if (types != TEE_PARAM_TYPES(sums_type, TEE_PARAM_TYPE_MEMREF_INPUT,
                                 TEE_PARAM_TYPE_VALUE_OUTPUT, TEE_PARAM_TYPE_NONE) ||
        (sums_type != TEE_PARAM_TYPE_MEMREF_INOUT && sums_type != TEE_PARAM_TYPE_NONE))
        return TEE_ERROR_BAD_PARAMETERS;
    p4_ta_layers *L = s->layers;
    if (!L)
        return TEE_ERROR_BAD_STATE;
    p4_ta_step_args a;
    if (params[1].memref.size != sizeof a || !params[1].memref.buffer)
        return TEE_ERROR_BAD_PARAMETERS;
    TEE_MemMove(&a, params[1].memref.buffer, sizeof a);
    size_t normal_bytes = (size_t)L->spec.normal_floats * sizeof(float);
    if (!step_args_valid(&a, L) || (sums_type == TEE_PARAM_TYPE_NONE) != (normal_bytes == 0) ||
        (normal_bytes && (params[0].memref.size != normal_bytes || !params[0].memref.buffer)))
        return TEE_ERROR_BAD_PARAMETERS;
    if (normal_bytes) {
        TEE_MemMove(L->normal, params[0].memref.buffer, normal_bytes);
        if (!all_finite(L->normal, L->spec.normal_floats))
            return TEE_ERROR_BAD_PARAMETERS;
    }
    /* Charged before any noised value leaves or any weight moves. */
    double after = 0;
    TEE_Result r = p4_ta_ledger_charge(s, a.q, a.sigma, 1, &after);
    if (r != TEE_SUCCESS)
        return r;
    /* The software backend's order (dp/dpsgd.c): layer by layer from the
     * bottom, weights then biases; the normal world's layers come first. */
    double stddev = a.sigma * a.clip;
    float *x = noise_normal(s, &a, 0, a.ntensors - a.above_tensors, L->normal, stddev);
    const float scale = (float)(-1.0 / a.divisor), lr = (float)a.learning_rate;
    const float mu = (float)a.momentum, decay = (float)a.decay;
    for (uint32_t j = 0; j < L->spec.nlayers; j++) {
        uint32_t nw = weights_of(&L->spec.layer[j]), nb = biases_of(&L->spec.layer[j]);
        if (nw + nb == 0)
            continue; /* a max-pool */
        p4_ta_noise_add(s, L->w_grad[j], nw, stddev);
        p4_ta_noise_add(s, L->b_grad[j], nb, stddev);
        p4_sgd_tensor_step(L->w[j], L->w_grad[j], L->w_velocity[j], nw, scale, lr, mu, decay);
        p4_sgd_tensor_step(L->b[j], L->b_grad[j], L->b_velocity[j], nb, scale, lr, mu, decay);
        TEE_MemFill(L->w_grad[j], 0, nw * sizeof(float));
        TEE_MemFill(L->b_grad[j], 0, nb * sizeof(float));
    }
    /* The normal world's layers above the TA's come last (softmax outside). */
    noise_normal(s, &a, a.ntensors - a.above_tensors, a.ntensors, x, stddev);
    if (normal_bytes)
        TEE_MemMove(params[0].memref.buffer, L->normal, normal_bytes);
    p4_ta_double_value(after, &params[2].value.a, &params[2].value.b);
    return TEE_SUCCESS;
}

TEE_Result p4_ta_layers_logits(p4_ta_session *s, const TEE_Param *inputs, const float **logits,
                               uint32_t *m, uint32_t *classes)
{
    p4_ta_layers *L = s->layers;
    if (!L || softmax_outside(L))
        return TEE_ERROR_BAD_STATE; /* its last layer's outputs are not logits */
    L->pass = 0; /* the forward below replaces a pending pass's activations */
    L->forwarded = 0;
    if (copy_rows(inputs, inputs_of(L), L->spec.capacity, L->input, m) != TEE_SUCCESS)
        return TEE_ERROR_BAD_PARAMETERS;
    forward(L, *m);
    *logits = L->out[L->spec.nlayers - 1];
    *classes = classes_of(L);
    return TEE_SUCCESS;
}

float *p4_ta_layers_tensor(p4_ta_session *s, uint32_t k, uint32_t *count)
{
    p4_ta_layers *L = s->layers;
    if (!L || k / 2 >= 2 * L->spec.nlayers)
        return NULL;
    int velocity = k / 2 >= L->spec.nlayers;
    uint32_t j = k / 2 % L->spec.nlayers;
    const p4_ta_dense *d = &L->spec.layer[j];
    *count = k % 2 ? biases_of(d) : weights_of(d);
    if (velocity)
        return k % 2 ? L->b_velocity[j] : L->w_velocity[j];
    return k % 2 ? L->b[j] : L->w[j];
}

float *p4_ta_layers_gradient(p4_ta_session *s, uint32_t k, uint32_t *count)
{
    p4_ta_layers *L = s->layers;
    if (!L || k / 2 >= L->spec.nlayers)
        return NULL;
    const p4_ta_dense *d = &L->spec.layer[k / 2];
    *count = k % 2 ? biases_of(d) : weights_of(d);
    return k % 2 ? L->b_grad[k / 2] : L->w_grad[k / 2];
}

const p4_ta_layers_spec *p4_ta_layers_spec_of(const p4_ta_session *s)
{
    return s->layers ? &s->layers->spec : NULL;
}

TEE_Result p4_ta_layers_top1(p4_ta_session *s, uint32_t types, TEE_Param params[4])
{
    if (types != TEE_PARAM_TYPES(TEE_PARAM_TYPE_MEMREF_INPUT, TEE_PARAM_TYPE_MEMREF_OUTPUT,
                                 TEE_PARAM_TYPE_NONE, TEE_PARAM_TYPE_NONE))
        return TEE_ERROR_BAD_PARAMETERS;
    p4_ta_layers *L = s->layers;
    if (!L || softmax_outside(L))
        return TEE_ERROR_BAD_STATE; /* no softmax inside: the top-1 is the normal world's */
    L->pass = 0; /* the forward below replaces a pending pass's activations */
    L->forwarded = 0;
    uint32_t m = 0, classes = classes_of(L);
    if (copy_rows(&params[0], inputs_of(L), L->spec.capacity, L->input, &m) != TEE_SUCCESS)
        return TEE_ERROR_BAD_PARAMETERS;
    if (params[1].memref.size < (size_t)m * sizeof(int32_t) || !params[1].memref.buffer) {
        params[1].memref.size = (size_t)m * sizeof(int32_t);
        return TEE_ERROR_SHORT_BUFFER;
    }
    forward(L, m);
    uint8_t *labels = params[1].memref.buffer;
    for (uint32_t i = 0; i < m; i++) {
        int32_t best = p4_argmax(L->probs + (size_t)i * classes, (int)classes);
        TEE_MemMove(labels + (size_t)i * sizeof best, &best, sizeof best);
    }
    params[1].memref.size = (size_t)m * sizeof(int32_t);
    return TEE_SUCCESS;
}

TEE_Result p4_ta_layers_forward(p4_ta_session *s, uint32_t types, TEE_Param params[4])
{
    if (types != TEE_PARAM_TYPES(TEE_PARAM_TYPE_MEMREF_INPUT, TEE_PARAM_TYPE_MEMREF_OUTPUT,
                                 TEE_PARAM_TYPE_VALUE_INPUT, TEE_PARAM_TYPE_NONE) ||
        params[2].value.a > 1)
        return TEE_ERROR_BAD_PARAMETERS;
    p4_ta_layers *L = s->layers;
    if (!L || !softmax_outside(L))
        return TEE_ERROR_BAD_STATE; /* with the softmax inside, only TRAIN and TOP1 */
    L->pass = 0; /* the forward below replaces a pending pass's activations */
    L->forwarded = 0;
    uint32_t m = 0, width = L->spec.layer[L->spec.nlayers - 1].outputs;
    if (copy_rows(&params[0], inputs_of(L), L->spec.capacity, L->input, &m) != TEE_SUCCESS)
        return TEE_ERROR_BAD_PARAMETERS;
    size_t out_bytes = (size_t)m * width * sizeof(float);
    if (params[1].memref.size < out_bytes || !params[1].memref.buffer) {
        params[1].memref.size = out_bytes;
        return TEE_ERROR_SHORT_BUFFER;
    }
    forward(L, m);
    /* DarkneTZ's split: the last protected layer's activations leave. */
    TEE_MemMove(params[1].memref.buffer, L->out[L->spec.nlayers - 1], out_bytes);
    params[1].memref.size = out_bytes;
    L->forwarded = params[2].value.a ? m : 0;
    return TEE_SUCCESS;
}

TEE_Result p4_ta_layers_backward(p4_ta_session *s, uint32_t types, TEE_Param params[4])
{
    uint32_t delta_type = TEE_PARAM_TYPE_GET(types, 1);
    if (types != TEE_PARAM_TYPES(TEE_PARAM_TYPE_MEMREF_INPUT, delta_type, TEE_PARAM_TYPE_NONE,
                                 TEE_PARAM_TYPE_NONE) ||
        (delta_type != TEE_PARAM_TYPE_MEMREF_OUTPUT && delta_type != TEE_PARAM_TYPE_NONE))
        return TEE_ERROR_BAD_PARAMETERS;
    p4_ta_layers *L = s->layers;
    if (!L || !softmax_outside(L) || L->forwarded == 0)
        return TEE_ERROR_BAD_STATE; /* no training FORWARD to go back through */
    uint32_t m = L->forwarded, last = L->spec.nlayers - 1, rows = 0, in0 = inputs_of(L);
    size_t in_bytes = (size_t)m * in0 * sizeof(float);
    if (copy_rows(&params[0], L->spec.layer[last].outputs, L->spec.capacity, L->delta[last],
                  &rows) != TEE_SUCCESS || rows != m)
        return TEE_ERROR_BAD_PARAMETERS;
    if (delta_type == TEE_PARAM_TYPE_MEMREF_OUTPUT &&
        (params[1].memref.size < in_bytes || !params[1].memref.buffer)) {
        params[1].memref.size = in_bytes;
        return TEE_ERROR_SHORT_BUFFER;
    }
    L->forwarded = 0;
    backward(L, m, delta_type == TEE_PARAM_TYPE_MEMREF_OUTPUT);
    if (delta_type == TEE_PARAM_TYPE_MEMREF_OUTPUT) {
        TEE_MemMove(params[1].memref.buffer, L->in_delta, in_bytes);
        params[1].memref.size = in_bytes;
    }
    L->pass = m;
    return TEE_SUCCESS;
}
