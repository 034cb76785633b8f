/* optimizer.c: SGD with momentum; see optimizer.h. */
#include "model/optimizer.h"
#include "model/fs_sgd.h"
#include "common/workers.h"

#include <darknet.h>
#include <stdlib.h>
#include <string.h>

/* One parameter tensor: where darknet keeps it, its gradient and velocity. */
typedef struct {
    float *value;
    float *update;
    float *velocity;
    size_t count;
    size_t first; /* where it starts in the concatenation of all tensors */
} sgd_tensor;

struct p4_sgd {
    double learning_rate, momentum, weight_decay;
    int ntensors;
    int frozen;   /* the first `frozen` tensors take no step (p4_sgd_freeze) */
    size_t total; /* parameters in all tensors */
    sgd_tensor *tensor;
    /* 1 after a step, which leaves the gradients zero: the next zero_grad
     * has nothing to do (optimizer.h); 0 once that zero_grad has passed,
     * or the optimiser points at another network. */
    int grads_zero;
};

/* The step zeroes each gradient block right after using it, while the
 * block is still in L1, instead of in a pass of its own at the start of
 * the next step (a cold pass over 797 KB for the MLP); blocks of 16 KiB.
 *
 * The zeroing and the step are elementwise, so they are split over p4's
 * threads (common/workers.h) in blocks of the concatenated tensors: each
 * value is the same expression whatever the split, bit for bit.  Besides
 * halving the pass, the split keeps each core's share of the parameters
 * in its own cache for the next forward and backward, which on 2 threads
 * read them again: with the step on one thread the other core fetched its
 * half from the first (MLP plain, 2 threads, quiet machine, medians:
 * update 0.227 -> 0.119 ms, forward 0.590 -> 0.499, backward 0.615 ->
 * 0.542; docs/performance.md). */
enum { STEP_BLOCK = 1 << 12, SPLIT_MIN = 1 << 16 };

typedef struct {
    p4_sgd *sgd;
    int step; /* 1: step and zero; 0: zero only */
    float scale, learning_rate, momentum, decay;
} update_job;

/* Blocks [first, last) of the concatenated tensors. */
static void update_blocks(void *ctx, int first, int last, int worker)
{
    (void)worker;
    const update_job *job = ctx;
    const size_t from = (size_t)first * STEP_BLOCK, to = (size_t)last * STEP_BLOCK;
    for (int t = 0; t < job->sgd->ntensors; t++) {
        const sgd_tensor *x = &job->sgd->tensor[t];
        if (to <= x->first || from >= x->first + x->count)
            continue; /* not in this share */
        const size_t lo = from > x->first ? from - x->first : 0;
        const size_t hi = to - x->first < x->count ? to - x->first : x->count;
        for (size_t at = lo; at < hi; at += STEP_BLOCK) {
            const size_t len = hi - at < STEP_BLOCK ? hi - at : STEP_BLOCK;
            if (job->step && t >= job->sgd->frozen)
                p4_sgd_tensor_step(x->value + at, x->update + at, x->velocity + at, len,
                                   job->scale, job->learning_rate, job->momentum, job->decay);
            memset(x->update + at, 0, len * sizeof(float));
        }
    }
}

static void update_all(const update_job *job)
{
    const size_t total = job->sgd->total;
    if (total == 0)
        return;
    const int blocks = (int)((total + STEP_BLOCK - 1) / STEP_BLOCK);
    const int workers = total >= SPLIT_MIN ? p4_workers_for(blocks) : 1;
    p4_for_examples(blocks, workers, update_blocks, (void *)job);
}

int p4_sgd_new(p4_sgd **out, p4_model *model, double learning_rate,
               double momentum, double weight_decay, p4_error *err)
{
    if (out == NULL || model == NULL || !(learning_rate > 0) || momentum < 0 ||
        momentum >= 1 || weight_decay < 0)
        return p4_error_set(err, P4_EINVAL, "p4_sgd_new: bad arguments");
    network *net = p4_model_network(model);
    p4_sgd *s = calloc(1, sizeof *s);
    if (s == NULL || (s->tensor = calloc((size_t)net->n * 2, sizeof *s->tensor)) == NULL) {
        free(s);
        return p4_error_set(err, P4_ENOMEM, "out of memory");
    }
    s->learning_rate = learning_rate;
    s->momentum = momentum;
    s->weight_decay = weight_decay;
    for (int i = 0; i < net->n; i++) {
        layer *l = &net->layers[i];
        size_t nw, nb;
        if (l->type == CONNECTED) {
            nw = (size_t)l->inputs * l->outputs;
            nb = (size_t)l->outputs;
        } else if (l->type == CONVOLUTIONAL) {
            nw = (size_t)l->c * l->n * l->size * l->size;
            nb = (size_t)l->n;
        } else {
            continue;
        }
        s->tensor[s->ntensors++] = (sgd_tensor){l->weights, l->weight_updates, NULL, nw, 0};
        s->tensor[s->ntensors++] = (sgd_tensor){l->biases, l->bias_updates, NULL, nb, 0};
    }
    for (int t = 0; t < s->ntensors; t++) {
        s->tensor[t].first = s->total;
        s->total += s->tensor[t].count;
        s->tensor[t].velocity = calloc(s->tensor[t].count, sizeof(float));
        if (s->tensor[t].velocity == NULL) {
            p4_sgd_destroy(&s);
            return p4_error_set(err, P4_ENOMEM, "out of memory");
        }
    }
    *out = s;
    return P4_OK;
}

int p4_sgd_rebind(p4_sgd *sgd, p4_model *model)
{
    if (sgd == NULL || model == NULL)
        return P4_EINVAL;
    network *net = p4_model_network(model);
    int t = 0;
    for (int i = 0; i < net->n; i++) {
        layer *l = &net->layers[i];
        if (l->type != CONNECTED && l->type != CONVOLUTIONAL)
            continue;
        size_t nw = l->type == CONNECTED ? (size_t)l->inputs * l->outputs
                                         : (size_t)l->c * l->n * l->size * l->size;
        size_t nb = l->type == CONNECTED ? (size_t)l->outputs : (size_t)l->n;
        if (t + 2 > sgd->ntensors || sgd->tensor[t].count != nw || sgd->tensor[t + 1].count != nb)
            return P4_EINVAL;
        t += 2;
    }
    if (t != sgd->ntensors)
        return P4_EINVAL;
    t = 0;
    sgd->grads_zero = 0; /* another network's gradients */
    for (int i = 0; i < net->n; i++) {
        layer *l = &net->layers[i];
        if (l->type != CONNECTED && l->type != CONVOLUTIONAL)
            continue;
        sgd->tensor[t].value = l->weights;
        sgd->tensor[t++].update = l->weight_updates;
        sgd->tensor[t].value = l->biases;
        sgd->tensor[t++].update = l->bias_updates;
    }
    return P4_OK;
}

void p4_sgd_destroy(p4_sgd **sgd)
{
    if (sgd == NULL || *sgd == NULL)
        return;
    for (int t = 0; t < (*sgd)->ntensors; t++)
        free((*sgd)->tensor[t].velocity);
    free((*sgd)->tensor);
    free(*sgd);
    *sgd = NULL;
}

void p4_sgd_zero_grad(p4_sgd *sgd)
{
    if (sgd == NULL)
        return;
    if (sgd->grads_zero) { /* the last step zeroed them */
        sgd->grads_zero = 0;
        return;
    }
    const update_job job = { sgd, 0, 0.0f, 0.0f, 0.0f, 0.0f };
    update_all(&job);
}

int p4_sgd_step(p4_sgd *sgd, double divisor)
{
    if (sgd == NULL || !(divisor > 0))
        return P4_EINVAL;
    const update_job job = { sgd, 1, (float)(-1.0 / divisor), (float)sgd->learning_rate,
                             (float)sgd->momentum, (float)sgd->weight_decay };
    update_all(&job);
    sgd->grads_zero = 1;
    return P4_OK;
}

int p4_sgd_freeze(p4_sgd *sgd, int layers)
{
    if (sgd == NULL || layers < 0 || 2 * layers >= sgd->ntensors)
        return P4_EINVAL;
    sgd->frozen = 2 * layers; /* a weight and a bias tensor per layer */
    return P4_OK;
}

int p4_sgd_settings(const p4_sgd *sgd, double *learning_rate, double *momentum,
                    double *weight_decay)
{
    if (sgd == NULL || learning_rate == NULL || momentum == NULL || weight_decay == NULL)
        return P4_EINVAL;
    *learning_rate = sgd->learning_rate;
    *momentum = sgd->momentum;
    *weight_decay = sgd->weight_decay;
    return P4_OK;
}

void p4_sgd_set_learning_rate(p4_sgd *sgd, double learning_rate)
{
    if (sgd != NULL && learning_rate > 0)
        sgd->learning_rate = learning_rate;
}

size_t p4_sgd_velocity_count(const p4_sgd *sgd)
{
    size_t n = 0;
    for (int t = 0; sgd != NULL && t < sgd->ntensors; t++)
        n += sgd->tensor[t].count;
    return n;
}

int p4_sgd_get_velocity(const p4_sgd *sgd, float *out, size_t n)
{
    if (sgd == NULL || out == NULL || n != p4_sgd_velocity_count(sgd))
        return P4_EINVAL;
    for (int t = 0; t < sgd->ntensors; t++) {
        memcpy(out, sgd->tensor[t].velocity, sgd->tensor[t].count * sizeof(float));
        out += sgd->tensor[t].count;
    }
    return P4_OK;
}

int p4_sgd_set_velocity(p4_sgd *sgd, const float *in, size_t n)
{
    if (sgd == NULL || in == NULL || n != p4_sgd_velocity_count(sgd))
        return P4_EINVAL;
    for (int t = 0; t < sgd->ntensors; t++) {
        memcpy(sgd->tensor[t].velocity, in, sgd->tensor[t].count * sizeof(float));
        in += sgd->tensor[t].count;
    }
    return P4_OK;
}
