/* protected.c: DP-SGD with protected layers in the enclave; see protected.h. */
#include "dp/protected.h"
#include "distill/kd_loss.h"
#include "model/fs_activation.h"
#include "model/fs_softmax.h"
#include "model/loss.h"

#include <darknet.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* One of the normal world's trainable tensors: its accumulated update. */
typedef struct {
    float *update;
    size_t count;
    int layer;
} outside_tensor;

struct p4_protected {
    p4_model *model;
    p4_enclave *enclave;
    int first;                 /* pp_start: the enclave's first layer       */
    int last;                  /* pp_end: its last (darknet's count)         */
    int nlayers;               /* the whole network's                       */
    int above;                 /* 1: pp_end is below the softmax, whose
                                  layers the normal world runs above it     */
    int above_tensors;         /* the last tensors: those layers'           */
    int classes, capacity;
    outside_tensor tensor[P4_ENCLAVE_MAX_TENSORS];
    size_t tensor_count[P4_ENCLAVE_MAX_TENSORS];
    int ntensors;
    size_t outside_floats;
    size_t inside_floats;      /* the protected layers' parameters          */
    size_t offset;             /* and where they start in the model's layout */
    double *norms_sq;          /* capacity */
    double *above_sq;          /* capacity: the layers above's norms        */
    float *factor;             /* capacity */
    float *sums;               /* outside_floats */
};

static int dense_activation(ACTIVATION a)
{
    return a == LINEAR ? P4_ACT_LINEAR : a == RELU ? P4_ACT_RELU : a == LEAKY ? P4_ACT_LEAKY : -1;
}

static const char *layer_kind(LAYER_TYPE t)
{
    return t == CONVOLUTIONAL ? "convolutional" : t == MAXPOOL ? "max-pool"
         : t == CONNECTED ? "connected" : t == SOFTMAX ? "softmax" : "another kind of";
}

/* A trainable layer's weights and biases as the enclave counts them (0 for
 * a max-pool). */
static size_t weights_of(const layer *l)
{
    return l->type == CONNECTED ? (size_t)l->inputs * l->outputs
         : l->type == CONVOLUTIONAL ? (size_t)l->n * l->size * l->size * l->c : 0;
}

static size_t biases_of(const layer *l)
{
    return l->type == CONNECTED ? (size_t)l->outputs : l->type == CONVOLUTIONAL ? (size_t)l->n : 0;
}

/* The enclave's range as connected, convolutional and max-pool layers,
 * ending in the softmax or (DarkneTZ's mid range) below it, or an error
 * saying which layer cannot go in. */
static int describe(network *net, int first, int last, int capacity, p4_enclave_layers *spec,
                    size_t *count, p4_error *err)
{
    if (net->layers[net->n - 1].type != SOFTMAX)
        return p4_error_set(err, P4_EUNSUPPORTED, "protected layers: the model's last layer "
                            "(%d) must be its softmax", net->n - 1);
    if (first < 0 || first > last)
        return p4_error_set(err, P4_EINVAL, "[tee] pp_start = %d, pp_end = %d: a range "
                            "0 <= pp_start <= pp_end is needed", first, last);
    /* The softmax itself goes in only as the end of the range. */
    int end = last == net->n - 1 ? last : last + 1;
    if (end - first > P4_ENCLAVE_MAX_LAYERS)
        return p4_error_set(err, P4_EUNSUPPORTED, "[tee] pp_start = %d: at most %d layers "
                            "(besides the softmax) in the TA", first, P4_ENCLAVE_MAX_LAYERS);
    if (first >= end)
        return p4_error_set(err, P4_EUNSUPPORTED, "[tee] pp_start = %d: the TA needs at least "
                            "one layer before the softmax", first);
    memset(spec, 0, sizeof *spec);
    spec->softmax_outside = end == last + 1;
    *count = 0;
    for (int i = first; i < end; i++) {
        layer *l = &net->layers[i];
        if (l->type != CONNECTED && l->type != CONVOLUTIONAL && l->type != MAXPOOL)
            return p4_error_set(err, P4_EUNSUPPORTED, "[tee] pp_start = %d: layer %d is a %s "
                                "layer; the TA runs connected, convolutional and max-pool "
                                "layers and the softmax only", first, i, layer_kind(l->type));
        int act = l->type == MAXPOOL ? P4_ACT_LINEAR : dense_activation(l->activation);
        if (act < 0 || l->batch_normalize)
            return p4_error_set(err, P4_EUNSUPPORTED, "layer %d: the TA runs linear, relu and "
                                "leaky activations without batch normalisation", i);
        if (l->type == CONVOLUTIONAL && (l->groups > 1 || l->binary || l->xnor))
            return p4_error_set(err, P4_EUNSUPPORTED, "layer %d: the TA runs plain "
                                "convolutions only (no groups or binary weights)", i);
        spec->layer[spec->count].inputs = l->inputs;
        spec->layer[spec->count].outputs = l->outputs;
        spec->layer[spec->count].activation = act;
        if (l->type != CONNECTED) {
            spec->layer[spec->count].kind = l->type == CONVOLUTIONAL ? P4_ENCLAVE_CONVOLUTIONAL
                                                                      : P4_ENCLAVE_MAXPOOL;
            spec->layer[spec->count].c = l->c;
            spec->layer[spec->count].h = l->h;
            spec->layer[spec->count].w = l->w;
            spec->layer[spec->count].filters = l->type == CONVOLUTIONAL ? l->n : 0;
            spec->layer[spec->count].size = l->size;
            spec->layer[spec->count].stride = l->stride;
            spec->layer[spec->count].pad = l->pad;
        }
        spec->count++;
        *count += weights_of(l) + biases_of(l);
    }
    spec->capacity = capacity;
    return P4_OK;
}

int p4_protected_new(p4_protected **out, p4_model *model, p4_enclave *enclave, p4_error *err)
{
    int first, last;
    if (out == NULL || model == NULL || enclave == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_protected_new: bad arguments");
    if (!p4_enclave_protected_range(enclave, &first, &last))
        return p4_error_set(err, P4_EINVAL, "p4_protected_new: the enclave protects no layers");
    network *net = p4_model_network(model);
    if (last >= net->n)
        return p4_error_set(err, P4_EINVAL, "[tee] pp_end = %d: the model has layers 0..%d",
                            last, net->n - 1);
    p4_enclave_layers spec;
    size_t count = 0;
    int rc = describe(net, first, last, p4_model_capacity(model), &spec, &count, err);
    if (rc != P4_OK)
        return rc;
    p4_protected *p = calloc(1, sizeof *p);
    if (p == NULL)
        return p4_error_set(err, P4_ENOMEM, "out of memory");
    p->model = model;
    p->enclave = enclave;
    p->first = first;
    p->last = last;
    p->nlayers = net->n;
    p->above = spec.softmax_outside;
    p->inside_floats = count;
    for (int i = 0; i < first; i++)
        p->offset += weights_of(&net->layers[i]) + biases_of(&net->layers[i]);
    p->classes = p4_model_classes(model);
    p->capacity = p4_model_capacity(model);
    for (int i = 0; i < net->n; i++) {
        if (i >= first && i <= last)
            continue; /* the enclave's */
        layer *l = &net->layers[i];
        size_t nw;
        if (l->type == CONNECTED)
            nw = (size_t)l->inputs * l->outputs;
        else if (l->type == CONVOLUTIONAL)
            nw = (size_t)l->n * l->size * l->size * l->c;
        else
            continue;
        if (p->ntensors + 2 > P4_ENCLAVE_MAX_TENSORS) {
            free(p);
            return p4_error_set(err, P4_EUNSUPPORTED, "more than %d normal-world tensors",
                                P4_ENCLAVE_MAX_TENSORS);
        }
        if (i > last)
            p->above_tensors += 2;
        p->tensor[p->ntensors++] = (outside_tensor){ l->weight_updates, nw, i };
        p->tensor[p->ntensors++] = (outside_tensor){ l->bias_updates, (size_t)l->n, i };
        if (l->type == CONNECTED)
            p->tensor[p->ntensors - 1].count = (size_t)l->outputs;
    }
    for (int t = 0; t < p->ntensors; t++) {
        p->tensor_count[t] = p->tensor[t].count;
        p->outside_floats += p->tensor[t].count;
    }
    spec.outside_floats = p->outside_floats;
    p->norms_sq = calloc((size_t)p->capacity, sizeof(double));
    p->above_sq = calloc((size_t)p->capacity, sizeof(double));
    p->factor = calloc((size_t)p->capacity, sizeof(float));
    p->sums = calloc(p->outside_floats ? p->outside_floats : 1, sizeof(float));
    float *params = malloc(count * sizeof(float));
    if (p->norms_sq == NULL || p->above_sq == NULL || p->factor == NULL || p->sums == NULL ||
        params == NULL) {
        free(params);
        p4_protected_destroy(&p);
        return p4_error_set(err, P4_ENOMEM, "out of memory");
    }
    /* The configuration-time check first: nothing moves if it fails. */
    rc = p4_enclave_layers_check(enclave, &spec, err);
    float *dst = params;
    for (int i = first; rc == P4_OK && i <= last; i++) {
        layer *l = &net->layers[i];
        if (weights_of(l) + biases_of(l) == 0)
            continue;
        memcpy(dst, l->weights, weights_of(l) * sizeof(float));
        dst += weights_of(l);
        memcpy(dst, l->biases, biases_of(l) * sizeof(float));
        dst += biases_of(l);
    }
    /* A client unparked (its dpsgd made again) finds its layers still in
     * the enclave: they stay, and the normal world's zeroes are not loaded. */
    if (rc == P4_OK && !p4_enclave_layers_held(enclave, &spec)) {
        rc = p4_enclave_layers_load(enclave, &spec, params, count, err);
        /* Stored at once, so that a TA that dies resumes this run's layers. */
        if (rc == P4_OK)
            rc = p4_enclave_layers_store(enclave, err);
    }
    memset(params, 0, count * sizeof(float));
    free(params);
    if (rc != P4_OK) {
        p4_protected_destroy(&p);
        return rc;
    }
    /* From here the enclave's copy is the only one. */
    for (int i = first; i <= last; i++) {
        layer *l = &net->layers[i];
        if (weights_of(l) + biases_of(l) == 0)
            continue;
        memset(l->weights, 0, weights_of(l) * sizeof(float));
        memset(l->biases, 0, biases_of(l) * sizeof(float));
    }
    *out = p;
    return P4_OK;
}

void p4_protected_destroy(p4_protected **p)
{
    if (p == NULL || *p == NULL)
        return;
    free((*p)->norms_sq);
    free((*p)->above_sq);
    free((*p)->factor);
    free((*p)->sums);
    free(*p);
    *p = NULL;
}

/* Loads m examples and runs the normal world's layers (darknet's forward
 * on the network cut below the enclave's first layer); returns what the
 * enclave's first layer takes in. */
static const float *forward_below(p4_protected *p, const float *x, int m, int train)
{
    network *net = p4_model_network(p->model);
    if (p4_model_load_inputs(p->model, x, m) != P4_OK)
        return NULL;
    if (p->first == 0)
        return net->input;
    p4_model_forward(p->model, train);
    return net->layers[p->first - 1].output;
}

/* The network cut at the enclave's first layer for the life of a call. */
typedef struct {
    network *net;
    int n;
} cut;

static cut cut_network(p4_protected *p)
{
    network *net = p4_model_network(p->model);
    cut c = { net, net->n };
    net->n = p->first;
    return c;
}

static void restore(cut c)
{
    c.net->n = c.n;
}

/* darknet's forward over the normal world's layers above the enclave's
 * (pp_end below the softmax), from the enclave's outputs, which the caller
 * put in layer pp_end's output buffer.  Returns the softmax's layer. */
static layer *forward_above(p4_protected *p, int m, int train)
{
    network *net = p4_model_network(p->model);
    network view = *net;
    view.input = net->layers[p->last].output;
    view.truth = NULL;
    view.train = train;
    for (int i = p->last + 1; i < p->nlayers; i++) {
        layer *l = &net->layers[i];
        l->batch = m; /* set_batch_network saw only the network cut below */
        view.index = i;
        if (l->delta)
            memset(l->delta, 0, (size_t)l->outputs * m * sizeof(float));
        l->forward(*l, view);
        view.input = l->output;
    }
    return &net->layers[p->nlayers - 1];
}

/* Normal world below, enclave, normal world above (pp_end below the
 * softmax): inference's forward, the softmax's layer out. */
static int forward_through(p4_protected *p, const float *x, int m, layer **softmax,
                           p4_error *err)
{
    network *net = p4_model_network(p->model);
    const float *in = forward_below(p, x, m, 0);
    if (in == NULL)
        return p4_error_set(err, P4_EINVAL, "protected layers: cannot load inputs");
    int rc = p4_enclave_layers_forward(p->enclave, in, m, 0, net->layers[p->last].output, err);
    if (rc == P4_OK)
        *softmax = forward_above(p, m, 0);
    return rc;
}

static const float *net_logits(p4_protected *p)
{
    return p4_model_network(p->model)->layers[p->nlayers - 2].output;
}

/* One pass with pp_end below the softmax: the loss and the layers above's
 * backward in the normal world, the enclave's backward from the delta at
 * its outputs, the layers below's; the clip factors come from the norms
 * of all three, and the normal world's clipped sums cover below and above. */
static int mid_pass(p4_protected *p, p4_per_example *pe, double clip, const float *x,
                    const float *targets, const p4_protected_kd *kd, int first_row, int m,
                    double *loss, p4_error *err)
{
    network *net = p4_model_network(p->model);
    const float *in = forward_below(p, x, m, 1);
    if (in == NULL)
        return p4_error_set(err, P4_EINVAL, "protected step: cannot load a batch");
    layer *top = &net->layers[p->last];
    int rc = p4_enclave_layers_forward(p->enclave, in, m, 1, top->output, err);
    if (rc != P4_OK)
        return rc;
    layer *softmax = forward_above(p, m, 1);
    const float *logits = net->layers[p->nlayers - 2].output;
    *loss = kd ? p4_kd_loss(logits, kd->teacher + (size_t)first_row * p->classes, targets, m,
                            p->classes, kd->alpha, kd->temperature, softmax->delta)
               : p4_loss_cross_entropy(softmax->output, targets, m, p->classes, softmax->delta);
    if (!isfinite(*loss))
        return p4_error_set(err, P4_EDIVERGED, "DP-SGD: the loss is %g (diverged); no update is "
                            "released", *loss);
    memset(top->delta, 0, (size_t)top->outputs * m * sizeof(float));
    net->n = p->nlayers;
    rc = p4_per_example_backward_from(pe, p->above_sq, m, p->last + 1);
    net->n = p->first;
    if (rc != P4_OK)
        return p4_error_set(err, rc, "DP-SGD: per-example backward (above the TA) failed");
    float *in_delta = p->first > 0 ? net->layers[p->first - 1].delta : NULL;
    if ((rc = p4_enclave_layers_backward(p->enclave, top->delta, m, in_delta, err)) != P4_OK)
        return rc;
    if (p->first > 0) {
        if ((rc = p4_per_example_backward(pe, p->norms_sq, m)) != P4_OK)
            return p4_error_set(err, rc, "DP-SGD: per-example backward failed");
    } else {
        memset(p->norms_sq, 0, (size_t)m * sizeof(double));
    }
    /* The normal world's share of each example's norm: below and above. */
    for (int i = 0; i < m; i++)
        p->norms_sq[i] += p->above_sq[i];
    if ((rc = p4_enclave_layers_clip(p->enclave, p->norms_sq, m, clip, p->factor, err)) != P4_OK)
        return rc;
    net->n = p->nlayers; /* the enclave's layers are held: skipped */
    rc = p4_per_example_accumulate(pe, p->factor, m);
    net->n = p->first;
    return rc == P4_OK ? P4_OK : p4_error_set(err, rc, "DP-SGD: accumulation failed");
}

static int one_pass(p4_protected *p, p4_per_example *pe, double clip, const float *x,
                    const float *targets, const p4_protected_kd *kd, int first_row, int m,
                    double *loss, p4_error *err)
{
    if (p->above)
        return mid_pass(p, pe, clip, x, targets, kd, first_row, m, loss, err);
    network *net = p4_model_network(p->model);
    const float *in = forward_below(p, x, m, 1);
    if (in == NULL)
        return p4_error_set(err, P4_EINVAL, "protected step: cannot load a batch");
    float *in_delta = p->first > 0 ? net->layers[p->first - 1].delta : NULL;
    int rc = kd ? p4_enclave_layers_kd_train(p->enclave, in, m, targets,
                                             kd->teacher + (size_t)first_row * p->classes,
                                             kd->alpha, kd->temperature, in_delta, loss, err)
                : p4_enclave_layers_train(p->enclave, in, m, targets, in_delta, loss, err);
    if (rc != P4_OK)
        return rc;
    if (!isfinite(*loss))
        return p4_error_set(err, P4_EDIVERGED, "DP-SGD: the loss is %g (diverged); no update is "
                            "released", *loss);
    if (p->first > 0) {
        if ((rc = p4_per_example_backward(pe, p->norms_sq, m)) != P4_OK)
            return p4_error_set(err, rc, "DP-SGD: per-example backward failed");
    } else {
        memset(p->norms_sq, 0, (size_t)m * sizeof(double));
    }
    if ((rc = p4_enclave_layers_clip(p->enclave, p->norms_sq, m, clip, p->factor, err)) != P4_OK)
        return rc;
    if (p->first > 0 && (rc = p4_per_example_accumulate(pe, p->factor, m)) != P4_OK)
        return p4_error_set(err, rc, "DP-SGD: accumulation failed");
    return P4_OK;
}

int p4_protected_step(p4_protected *p, p4_per_example *pe, p4_sgd *sgd, double sample_rate,
                      double noise_multiplier, double clip_norm, const float *x,
                      const float *targets, const p4_protected_kd *kd, int n,
                      double expected_batch, double *loss_sum, p4_error *err)
{
    if (p == NULL || pe == NULL || sgd == NULL || (n > 0 && (x == NULL || targets == NULL)) ||
        (kd && n > 0 && kd->teacher == NULL) ||
        n < 0 || !(expected_batch > 0))
        return p4_error_set(err, P4_EINVAL, "protected step: bad arguments");
    p4_enclave_step st = { .sample_rate = sample_rate, .noise_multiplier = noise_multiplier,
                           .clip_norm = clip_norm, .divisor = expected_batch,
                           .above_tensors = p->above_tensors };
    int rc = p4_sgd_settings(sgd, &st.learning_rate, &st.momentum, &st.weight_decay);
    if (rc != P4_OK)
        return p4_error_set(err, rc, "protected step: no optimiser settings");
    size_t inputs = (size_t)p4_model_input_size(p->model);
    double total = 0;
    p4_sgd_zero_grad(sgd);
    if ((rc = p4_per_example_hold(pe, p->first, p->last)) != P4_OK)
        return p4_error_set(err, rc, "protected step: layers %d..%d are not the model's",
                            p->first, p->last);
    cut c = cut_network(p);
    for (int first = 0; rc == P4_OK && first < n; first += p->capacity) {
        int m = n - first < p->capacity ? n - first : p->capacity;
        double loss = 0;
        rc = one_pass(p, pe, clip_norm, x + (size_t)first * inputs,
                      targets + (size_t)first * p->classes, kd, first, m, &loss, err);
        total += loss;
    }
    restore(c); /* the whole network: the layers above pp_end are trainable too */
    size_t at = 0;
    for (int t = 0; rc == P4_OK && t < p->ntensors; t++) {
        /* A frozen layer (a head-only warm-up) has no update and gets no
         * noise, as in dp/dpsgd.c. */
        int frozen = !p4_per_example_trainable(pe, p->tensor[t].layer);
        p->tensor_count[t] = p->tensor[t].count | (frozen ? P4_ENCLAVE_TENSOR_FROZEN : 0);
        memcpy(p->sums + at, p->tensor[t].update, p->tensor[t].count * sizeof(float));
        at += p->tensor[t].count;
    }
    if (rc != P4_OK)
        return rc;
    rc = p4_enclave_layers_step(p->enclave, &st, p->sums, p->tensor_count, p->ntensors, err);
    /* Each step persisted (weights, momentum, noise position) before its
     * result is used: a TA panic resumes from exactly here. */
    if (rc == P4_OK)
        rc = p4_enclave_layers_store(p->enclave, err);
    if (rc != P4_OK)
        return rc;
    at = 0;
    for (int t = 0; t < p->ntensors; t++) {
        memcpy(p->tensor[t].update, p->sums + at, p->tensor[t].count * sizeof(float));
        at += p->tensor[t].count;
    }
    if (loss_sum != NULL)
        *loss_sum = total;
    /* The enclave's layers are zero here, with zero updates: they stay zero. */
    return p4_sgd_step(sgd, expected_batch);
}

int p4_protected_predict(p4_protected *p, const float *x, int n, int *labels, p4_error *err)
{
    if (p == NULL || (x == NULL && n > 0) || (labels == NULL && n > 0) || n < 0)
        return p4_error_set(err, P4_EINVAL, "protected predict: bad arguments");
    size_t inputs = (size_t)p4_model_input_size(p->model);
    int rc = P4_OK;
    cut c = cut_network(p);
    for (int first = 0; rc == P4_OK && first < n; first += p->capacity) {
        int m = n - first < p->capacity ? n - first : p->capacity;
        if (p->above) {
            /* The softmax is the normal world's: so is the top-1, and the
             * logits it comes from are in the normal world too. */
            layer *softmax = NULL;
            if ((rc = forward_through(p, x + (size_t)first * inputs, m, &softmax, err)) != P4_OK)
                break;
            for (int i = 0; i < m; i++)
                labels[first + i] = p4_argmax(softmax->output + (size_t)i * p->classes,
                                              p->classes);
            continue;
        }
        const float *in = forward_below(p, x + (size_t)first * inputs, m, 0);
        rc = in == NULL ? p4_error_set(err, P4_EINVAL, "protected predict: cannot load inputs")
                        : p4_enclave_layers_top1(p->enclave, in, m, labels + first, err);
    }
    restore(c);
    return rc;
}

int p4_protected_teach(p4_protected *p, const float *x, int n, double temperature, float *probs,
                       p4_error *err)
{
    if (p == NULL || (n > 0 && (x == NULL || probs == NULL)) || n < 0)
        return p4_error_set(err, P4_EINVAL, "protected teacher: bad arguments");
    size_t inputs = (size_t)p4_model_input_size(p->model);
    int rc = P4_OK;
    cut c = cut_network(p);
    for (int first = 0; rc == P4_OK && first < n; first += p->capacity) {
        int m = n - first < p->capacity ? n - first : p->capacity;
        if (p->above) {
            layer *softmax = NULL;
            rc = forward_through(p, x + (size_t)first * inputs, m, &softmax, err);
            if (rc == P4_OK && p4_softmax_temperature(net_logits(p), m, p->classes, temperature,
                                                      probs + (size_t)first * p->classes) != P4_OK)
                rc = p4_error_set(err, P4_EINVAL, "protected teacher: bad temperature %g",
                                  temperature);
            continue;
        }
        const float *in = forward_below(p, x + (size_t)first * inputs, m, 0);
        rc = in == NULL ? p4_error_set(err, P4_EINVAL, "protected teacher: cannot load inputs")
                        : p4_enclave_layers_teach(p->enclave, in, m, temperature,
                                                  probs + (size_t)first * p->classes, err);
    }
    restore(c);
    return rc;
}

size_t p4_protected_floats(const p4_protected *p)
{
    return p ? p->inside_floats : 0;
}

/* ---- logits mode ([p4] share = logits; ta_logits.c) ------------------------------ */

/* Floats per example the enclave's first layer takes in. */
static size_t enclave_inputs(p4_protected *p)
{
    network *net = p4_model_network(p->model);
    return p->first == 0 ? (size_t)p4_model_input_size(p->model)
                         : (size_t)net->layers[p->first - 1].outputs;
}

int p4_protected_release_logits(p4_protected *p, const float *x, int n, double clip,
                                double sigma, float *rows, p4_error *err)
{
    if (p == NULL || x == NULL || rows == NULL || n < 1 || !(clip > 0) || !(sigma > 0))
        return p4_error_set(err, P4_EINVAL, "protected logits release: bad arguments");
    if (p->above)
        return p4_error_set(err, P4_EUNSUPPORTED, "[p4] share = logits with protected layers "
                            "needs the softmax inside the TA ([tee] pp_end at the model's last "
                            "layer): the TA computes the released log-probabilities");
    size_t inputs = (size_t)p4_model_input_size(p->model), width = enclave_inputs(p);
    float *below = malloc((size_t)n * width * sizeof(float));
    if (below == NULL)
        return p4_error_set(err, P4_ENOMEM, "out of memory for %d public activations", n);
    int rc = P4_OK;
    cut c = cut_network(p);
    for (int first = 0; rc == P4_OK && first < n; first += p->capacity) {
        int m = n - first < p->capacity ? n - first : p->capacity;
        const float *in = forward_below(p, x + (size_t)first * inputs, m, 0);
        if (in == NULL)
            rc = p4_error_set(err, P4_EINVAL, "protected logits release: cannot load inputs");
        else
            memcpy(below + (size_t)first * width, in, (size_t)m * width * sizeof(float));
    }
    restore(c);
    if (rc == P4_OK)
        rc = p4_enclave_layers_release_logits(p->enclave, below, n, clip, sigma, rows, err);
    free(below);
    return rc;
}

/* One pass of the public distillation: the normal world's forward, the
 * enclave's KD_TRAIN (alpha 1: the teacher only), the normal world's plain
 * backward, and the enclave's gathering of its gradients, unclipped. */
static int public_pass(p4_protected *p, const float *x, const float *teacher, const float *zeros,
                       double temperature, int m, p4_error *err)
{
    network *net = p4_model_network(p->model);
    const float *in = forward_below(p, x, m, 1);
    if (in == NULL)
        return p4_error_set(err, P4_EINVAL, "protected distillation: cannot load inputs");
    float *in_delta = p->first > 0 ? net->layers[p->first - 1].delta : NULL;
    double loss = 0;
    int rc = p4_enclave_layers_kd_train(p->enclave, in, m, zeros, teacher, 1.0, temperature,
                                        in_delta, &loss, err);
    if (rc != P4_OK)
        return rc;
    if (!isfinite(loss))
        return p4_error_set(err, P4_EINVAL, "protected distillation: bad teacher distribution");
    if (p->first > 0)
        p4_model_backward(p->model);
    /* A bound no finite gradient reaches: every factor is 1, the sums plain. */
    memset(p->norms_sq, 0, (size_t)m * sizeof(double));
    return p4_enclave_layers_clip(p->enclave, p->norms_sq, m, 1e300, p->factor, err);
}

int p4_protected_distill_public(p4_protected *p, p4_sgd *sgd, const float *x, int n,
                                const float *teacher, double temperature, int batch,
                                p4_error *err)
{
    if (p == NULL || sgd == NULL || x == NULL || teacher == NULL || n < 1 || batch < 1 ||
        !(temperature > 0))
        return p4_error_set(err, P4_EINVAL, "protected distillation: bad arguments");
    double lr, momentum, decay;
    int rc = p4_sgd_settings(sgd, &lr, &momentum, &decay);
    if (rc != P4_OK)
        return p4_error_set(err, rc, "protected distillation: no optimiser settings");
    size_t inputs = (size_t)p4_model_input_size(p->model);
    float *zeros = calloc((size_t)p->capacity * p->classes, sizeof(float));
    if (zeros == NULL)
        return p4_error_set(err, P4_ENOMEM, "out of memory");
    for (int step = 0; rc == P4_OK && step < n; step += batch) {
        int in_step = n - step < batch ? n - step : batch;
        p4_sgd_zero_grad(sgd);
        cut c = cut_network(p);
        for (int first = step; rc == P4_OK && first < step + in_step; first += p->capacity) {
            int m = step + in_step - first < p->capacity ? step + in_step - first : p->capacity;
            rc = public_pass(p, x + (size_t)first * inputs, teacher + (size_t)first * p->classes,
                             zeros, temperature, m, err);
        }
        restore(c);
        if (rc == P4_OK)
            rc = p4_enclave_layers_public_step(p->enclave, in_step, lr, momentum, decay, err);
        if (rc == P4_OK)
            rc = p4_enclave_layers_store(p->enclave, err);
        if (rc == P4_OK && (rc = p4_sgd_step(sgd, in_step)) != P4_OK)
            p4_error_set(err, rc, "protected distillation: the normal world's step failed");
    }
    free(zeros);
    return rc;
}

size_t p4_protected_offset(const p4_protected *p)
{
    return p ? p->offset : 0;
}
