/* optimizer.c: SGD with momentum; see optimizer.h. */
#include "model/optimizer.h"
#include "model/fs_sgd.h"

#include <darknet.h>
#include <stdlib.h>
#include <string.h>

/* One parameter tensor: where darknet keeps it, its gradient and velocity. */
typedef struct {
    float *value;
    float *update;
    float *velocity;
    size_t count;
} sgd_tensor;

struct p4_sgd {
    double learning_rate, momentum, weight_decay;
    int ntensors;
    sgd_tensor *tensor;
    /* 1 after a step, which leaves the gradients zero: the next zero_grad
     * has nothing to do (optimizer.h); 0 once that zero_grad has passed,
     * or the optimiser points at another network. */
    int grads_zero;
};

/* The step zeroes each gradient block right after using it, while the
 * block is still in L1, instead of in a pass of its own at the start of
 * the next step (a cold pass over 797 KB for the MLP); blocks of 16 KiB. */
enum { STEP_BLOCK = 1 << 12 };

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
        s->tensor[s->ntensors++] = (sgd_tensor){l->weights, l->weight_updates, NULL, nw};
        s->tensor[s->ntensors++] = (sgd_tensor){l->biases, l->bias_updates, NULL, nb};
    }
    for (int t = 0; t < s->ntensors; t++) {
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
    for (int t = 0; t < sgd->ntensors; t++)
        memset(sgd->tensor[t].update, 0, sgd->tensor[t].count * sizeof(float));
}

int p4_sgd_step(p4_sgd *sgd, double divisor)
{
    if (sgd == NULL || !(divisor > 0))
        return P4_EINVAL;
    const float scale = (float)(-1.0 / divisor);
    const float lr = (float)sgd->learning_rate, mu = (float)sgd->momentum;
    const float decay = (float)sgd->weight_decay;
    for (int t = 0; t < sgd->ntensors; t++) {
        sgd_tensor *x = &sgd->tensor[t];
        for (size_t at = 0; at < x->count; at += STEP_BLOCK) {
            const size_t len = x->count - at < STEP_BLOCK ? x->count - at : STEP_BLOCK;
            p4_sgd_tensor_step(x->value + at, x->update + at, x->velocity + at, len, scale, lr,
                               mu, decay);
            memset(x->update + at, 0, len * sizeof(float));
        }
    }
    sgd->grads_zero = 1;
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
