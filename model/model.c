/* model.c: a darknet network with p4's initialisation and views; see model.h. */
#define _GNU_SOURCE
#include "model/model.h"
#include "model/dense_kernel.h"
#include "model/gemm.h"
#include "common/rng.h"

#include <darknet.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

struct p4_model {
    network *net;
    p4_cfg_summary summary;
    int capacity;      /* examples per forward/backward pass */
    int batch;         /* examples per training step (>= capacity) */
    int input_size;
    int classes;
    float *inputs;     /* capacity * input_size: darknet reads net->input here */
    char *cfg_path;    /* what it was built from (p4_model_fits) */
    p4_cfg_shape shape;
};

/* darknet's parser is not thread-safe and prints a layer table on stderr;
 * one lock serialises parsing and the temporary silencing of stderr. */
static pthread_mutex_t darknet_parse_lock = PTHREAD_MUTEX_INITIALIZER;

/* darknet reads a cfg only by file name: give it an in-memory file. */
static network *parse_cfg_text(const char *text, p4_error *err)
{
    int fd = memfd_create("p4-model-cfg", MFD_CLOEXEC);
    if (fd < 0) {
        p4_error_set(err, P4_EIO, "cannot create an in-memory file for darknet");
        return NULL;
    }
    size_t len = strlen(text);
    if (write(fd, text, len) != (ssize_t)len) {
        close(fd);
        p4_error_set(err, P4_EIO, "cannot write the model definition for darknet");
        return NULL;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);

    pthread_mutex_lock(&darknet_parse_lock);
    fflush(stderr);
    int saved_stderr = dup(STDERR_FILENO);
    int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (saved_stderr >= 0 && devnull >= 0)
        dup2(devnull, STDERR_FILENO);
    network *net = parse_network_cfg(path);
    fflush(stderr);
    if (saved_stderr >= 0) {
        dup2(saved_stderr, STDERR_FILENO);
        close(saved_stderr);
    }
    if (devnull >= 0)
        close(devnull);
    pthread_mutex_unlock(&darknet_parse_lock);
    close(fd);
    if (net == NULL)
        p4_error_set(err, P4_EMODEL, "darknet could not build the model");
    return net;
}

static size_t layer_weight_count(const layer *l)
{
    if (l->type == CONNECTED)
        return (size_t)l->inputs * (size_t)l->outputs;
    if (l->type == CONVOLUTIONAL)
        return (size_t)l->c * (size_t)l->n * (size_t)l->size * (size_t)l->size;
    return 0;
}

static size_t layer_bias_count(const layer *l)
{
    if (l->type == CONNECTED)
        return (size_t)l->outputs;
    if (l->type == CONVOLUTIONAL)
        return (size_t)l->n;
    return 0;
}

/* He-uniform for ReLU-family layers, Glorot-uniform for the linear logits;
 * biases start at zero.  Drawn from our own seeded stream, layer by layer. */
static void initialise_weights(network *net, uint64_t seed)
{
    p4_rng rng;
    p4_rng_init_seeded(&rng, seed, "model-init");
    for (int i = 0; i < net->n; i++) {
        layer *l = &net->layers[i];
        size_t nw = layer_weight_count(l);
        if (nw == 0)
            continue;
        double fan_in = (double)nw / (l->type == CONNECTED ? l->outputs : l->n);
        double fan_out = l->type == CONNECTED ? l->outputs : l->n;
        double bound = l->activation == LINEAR ? sqrt(6.0 / (fan_in + fan_out))
                                               : sqrt(6.0 / fan_in);
        for (size_t k = 0; k < nw; k++)
            l->weights[k] = (float)((2.0 * p4_rng_uniform(&rng) - 1.0) * bound);
        memset(l->biases, 0, layer_bias_count(l) * sizeof(float));
    }
    p4_rng_wipe(&rng);
}

/* Examples per pass for steps of `batch` (model.h): passes of about equal
 * size within the budget of layer outputs. */
static int pass_examples(const p4_cfg_summary *summary, int batch)
{
    long long outputs = 0; /* floats of layer output per example */
    for (int i = 0; i < summary->layers; i++)
        outputs += (long long)summary->layer[i].out_w * summary->layer[i].out_h *
                   summary->layer[i].out_c;
    long long fit = outputs > 0 ? P4_PASS_BUDGET_FLOATS / outputs : batch;
    if (fit < P4_PASS_MIN_EXAMPLES)
        fit = P4_PASS_MIN_EXAMPLES;
    if (fit >= batch)
        return batch;
    const long long passes = (batch + fit - 1) / fit;
    return (int)((batch + passes - 1) / passes);
}

int p4_model_new(p4_model **out, const char *cfg_path, const p4_cfg_shape *shape,
                 int batch, uint64_t seed, p4_error *err)
{
    if (out == NULL || cfg_path == NULL || shape == NULL || batch < 1)
        return p4_error_set(err, P4_EINVAL, "p4_model_new: bad arguments");
    *out = NULL;
    int env_rc = p4_dense_kernel_from_env(err); /* a bad P4_DENSE_KERNEL is an error */
    if (env_rc != P4_OK)
        return env_rc;
    p4_model *m = calloc(1, sizeof *m);
    if (m == NULL)
        return p4_error_set(err, P4_ENOMEM, "out of memory");
    char *text = NULL;
    int rc = p4_cfg_prepare(cfg_path, shape, batch, &text, &m->summary, err);
    const int capacity = rc == P4_OK ? pass_examples(&m->summary, batch) : batch;
    if (rc == P4_OK && capacity != batch) {
        /* The same checked text, with the pass size as darknet's batch
         * (the file is not read again). */
        char *prepared = text;
        text = NULL;
        rc = p4_cfg_prepare_text(cfg_path, prepared, shape, capacity, &text, &m->summary, err);
        free(prepared);
    }
    if (rc != P4_OK) {
        free(text);
        free(m);
        return rc;
    }
    (void)p4_gemm_backend(); /* keeps gemm.o, and so the BLAS route, linked in */
    m->net = parse_cfg_text(text, err);
    free(text);
    if (m->net == NULL) {
        free(m);
        return P4_EMODEL;
    }
    m->capacity = capacity;
    m->batch = batch;
    m->input_size = shape->width * shape->height * shape->channels;
    m->classes = shape->classes;
    /* darknet's own input buffer (capacity x inputs) is ours to fill; its
     * truth buffer goes: with truth NULL the softmax layer leaves the delta
     * to p4, which writes the loss gradient itself. */
    m->inputs = m->net->input;
    free(m->net->truth);
    m->net->truth = NULL;
    m->shape = *shape;
    if ((m->cfg_path = strdup(cfg_path)) == NULL) {
        p4_model_destroy(&m);
        return p4_error_set(err, P4_ENOMEM, "out of memory");
    }
    initialise_weights(m->net, seed);
    *out = m;
    return P4_OK;
}

void p4_model_destroy(p4_model **model)
{
    if (model == NULL || *model == NULL)
        return;
    p4_model *m = *model;
    if (m->net != NULL) {
        /* free_network frees the layers, input and truth; these four it
         * allocates in parse_network_cfg but never frees. */
        free(m->net->seen);
        free(m->net->t);
        free(m->net->cost);
        free(m->net->workspace);
        for (int i = 0; i < m->net->n; i++)
            if (m->net->layers[i].type == SOFTMAX) { /* free_layer misses it */
                free(m->net->layers[i].loss);
                m->net->layers[i].loss = NULL;
            }
        free_network(m->net);
    }
    free(m->cfg_path);
    free(m);
    *model = NULL;
}

void p4_model_initialise(p4_model *model, uint64_t seed)
{
    if (model != NULL)
        initialise_weights(model->net, seed);
}

int p4_model_fits(const p4_model *model, const char *cfg_path, const p4_cfg_shape *shape,
                  int batch)
{
    return model != NULL && cfg_path != NULL && shape != NULL && model->batch == batch &&
           strcmp(model->cfg_path, cfg_path) == 0 && model->shape.width == shape->width &&
           model->shape.height == shape->height && model->shape.channels == shape->channels &&
           model->shape.classes == shape->classes;
}

struct network *p4_model_network(p4_model *model) { return model ? model->net : NULL; }
const p4_cfg_summary *p4_model_summary(const p4_model *model) { return model ? &model->summary : NULL; }
int p4_model_capacity(const p4_model *model) { return model ? model->capacity : 0; }
int p4_model_batch(const p4_model *model) { return model ? model->batch : 0; }
int p4_model_input_size(const p4_model *model) { return model ? model->input_size : 0; }
int p4_model_classes(const p4_model *model) { return model ? model->classes : 0; }

size_t p4_model_param_count(const p4_model *model)
{
    if (model == NULL)
        return 0;
    size_t n = 0;
    for (int i = 0; i < model->net->n; i++)
        n += layer_weight_count(&model->net->layers[i]) + layer_bias_count(&model->net->layers[i]);
    return n;
}

typedef enum { TO_FLAT, TO_MODEL, GRADIENTS_TO_FLAT } copy_direction;

/* Copies between the model and a flat vector (weights then biases, layer by
 * layer), in the given direction. */
static int copy_params(p4_model *model, float *flat, size_t n, copy_direction dir)
{
    if (model == NULL || flat == NULL || n != p4_model_param_count(model))
        return P4_EINVAL;
    size_t at = 0;
    for (int i = 0; i < model->net->n; i++) {
        layer *l = &model->net->layers[i];
        size_t nw = layer_weight_count(l), nb = layer_bias_count(l);
        if (nw + nb == 0)
            continue; /* pooling, softmax: no parameters (and NULL arrays) */
        if (dir == TO_MODEL) {
            memcpy(l->weights, flat + at, nw * sizeof(float));
            memcpy(l->biases, flat + at + nw, nb * sizeof(float));
        } else {
            memcpy(flat + at, dir == TO_FLAT ? l->weights : l->weight_updates, nw * sizeof(float));
            memcpy(flat + at + nw, dir == TO_FLAT ? l->biases : l->bias_updates, nb * sizeof(float));
        }
        at += nw + nb;
    }
    return P4_OK;
}

int p4_model_param_layer(const p4_model *model, int k, size_t *offset, size_t *length)
{
    if (model == NULL || offset == NULL || length == NULL || k < 0)
        return P4_EINVAL;
    size_t at = 0;
    for (int i = 0, seen = 0; i < model->net->n; i++) {
        const layer *l = &model->net->layers[i];
        size_t count = layer_weight_count(l) + layer_bias_count(l);
        if (count == 0)
            continue;
        if (seen++ == k) {
            *offset = at;
            *length = count;
            return P4_OK;
        }
        at += count;
    }
    return P4_EINVAL;
}

int p4_model_get_params(const p4_model *model, float *out, size_t n)
{
    return copy_params((p4_model *)model, out, n, TO_FLAT);
}

int p4_model_set_params(p4_model *model, const float *in, size_t n)
{
    return copy_params(model, (float *)in, n, TO_MODEL);
}

int p4_model_get_gradients(const p4_model *model, float *out, size_t n)
{
    return copy_params((p4_model *)model, out, n, GRADIENTS_TO_FLAT);
}

int p4_model_load_inputs(p4_model *model, const float *x, int n)
{
    if (model == NULL || x == NULL || n < 1 || n > model->capacity)
        return P4_EINVAL;
    set_batch_network(model->net, n);
    memcpy(model->inputs, x, (size_t)n * (size_t)model->input_size * sizeof(float));
    return P4_OK;
}

int p4_model_forward(p4_model *model, int train)
{
    if (model == NULL)
        return P4_EINVAL;
    model->net->input = model->inputs;
    model->net->truth = NULL;
    model->net->train = train ? 1 : 0;
    forward_network(model->net);
    return P4_OK;
}

const float *p4_model_logits(const p4_model *model)
{
    return model->net->layers[model->net->n - 2].output;
}

const float *p4_model_layer_output(const p4_model *model, int layer, int *outputs)
{
    if (model == NULL || layer < 0 || layer >= model->net->n)
        return NULL;
    if (outputs)
        *outputs = model->net->layers[layer].outputs;
    return model->net->layers[layer].output;
}

const float *p4_model_probabilities(const p4_model *model)
{
    return model->net->layers[model->net->n - 1].output;
}

float *p4_model_logit_delta(p4_model *model)
{
    return model->net->layers[model->net->n - 1].delta;
}

int p4_model_predict(p4_model *model, const float *x, int n, float *probs, int *labels)
{
    if (model == NULL || x == NULL || n < 0)
        return P4_EINVAL;
    int C = model->classes;
    for (int start = 0; start < n; start += model->capacity) {
        int count = n - start < model->capacity ? n - start : model->capacity;
        int rc = p4_model_load_inputs(model, x + (size_t)start * model->input_size, count);
        if (rc != P4_OK)
            return rc;
        p4_model_forward(model, 0);
        const float *p = p4_model_probabilities(model);
        if (probs != NULL)
            memcpy(probs + (size_t)start * C, p, (size_t)count * C * sizeof(float));
        if (labels != NULL)
            for (int i = 0; i < count; i++) {
                int best = 0;
                for (int k = 1; k < C; k++)
                    if (p[(size_t)i * C + k] > p[(size_t)i * C + best])
                        best = k;
                labels[start + i] = best;
            }
    }
    return P4_OK;
}

int p4_model_backward(p4_model *model)
{
    if (model == NULL)
        return P4_EINVAL;
    model->net->delta = NULL; /* the input layer needs no delta */
    backward_network(model->net);
    return P4_OK;
}
