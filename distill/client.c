/* client.c: one P4 client, a private model and a DP proxy; see client.h.
 *
 * A co-training epoch walks round(1/q) Poisson-sampled batches.  On each
 * batch both models first see the batch (the proxy in inference mode, to
 * teach the private model; the private model's own training forward, to
 * teach the proxy), then the private model takes a plain KD step and the
 * proxy a DP-SGD KD step (or a plain one when the run has no DP).  Every DP
 * step is reserved in the ledger before it is taken. */
#include "distill/client.h"
#include "dp/protected.h"

#include <math.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "common/finite.h"
#include "distill/ensemble.h"
#include "distill/kd_loss.h"
#include "dp/clip_rows.h"
#include "model/model.h"
#include "model/optimizer.h"
#include "model/trainer.h"

struct p4_client {
    p4_client_spec spec;
    p4_model *private_model, *proxy;
    p4_sgd *private_sgd, *proxy_sgd;
    p4_dpsgd *dp;            /* NULL when the run has no DP */
    p4_rng batch_rng;        /* batch order and Poisson draws */
    p4_rng augment_rng;      /* the DP proxy's augmented copies (spec.augmentations > 1) */
    int classes, inputs;
    int room;                /* rows the batch buffers hold */
    int *batch;              /* train_count indices */
    float *x, *onehot;       /* room rows */
    float *proxy_teacher;    /* proxy's softened probs: the private model's teacher */
    float *private_teacher;  /* private model's softened probs: the proxy's teacher */
    /* parking (client.h): models and optimisers absent, their state here */
    int parked;
    struct saved_model {
        float *params;       /* the optimisers (and their momentum) stay */
        size_t count;
    } saved[2];              /* [0] private, [1] proxy */
    int proxy_layers;
    size_t *proxy_layer;     /* proxy_layers pairs (offset, length) */
    size_t protected_floats; /* the proxy's tail held by the enclave ([tee] pp_start) */
    size_t protected_offset; /* where they start in its layout (pp_end below the softmax) */
};

/* probs at temperature T from probs at T = 1: softmax(z/T) = p^(1/T) / sum. */
static void soften(float *probs, int n, int classes, double temperature)
{
    if (temperature == 1.0)
        return;
    for (int i = 0; i < n; i++) {
        float *row = probs + (size_t)i * classes;
        double sum = 0;
        for (int k = 0; k < classes; k++) {
            double v = exp(log(fmax(row[k], 1e-30)) / temperature);
            row[k] = (float)v;
            sum += v;
        }
        for (int k = 0; k < classes; k++)
            row[k] = (float)(row[k] / sum);
    }
}

static int grow_buffers(p4_client *c, int rows)
{
    if (rows <= c->room)
        return P4_OK;
    size_t r = (size_t)rows;
    float *x = realloc(c->x, r * c->inputs * sizeof(float));
    if (x) c->x = x;
    float *y = realloc(c->onehot, r * c->classes * sizeof(float));
    if (y) c->onehot = y;
    float *t1 = realloc(c->proxy_teacher, r * c->classes * sizeof(float));
    if (t1) c->proxy_teacher = t1;
    float *t2 = realloc(c->private_teacher, r * c->classes * sizeof(float));
    if (t2) c->private_teacher = t2;
    if (!x || !y || !t1 || !t2)
        return P4_ENOMEM;
    c->room = rows;
    return P4_OK;
}

/* A network for this client: from its pool when it has one. */
static int take_model(p4_client *c, const char *cfg, const uint64_t *seed, p4_model **out,
                      p4_error *err)
{
    if (c->spec.model_pool)
        return p4_model_pool_take(c->spec.model_pool, cfg, &c->spec.shape, c->spec.batch, seed,
                                  out, err);
    return p4_model_new(out, cfg, &c->spec.shape, c->spec.batch, seed ? *seed : 0, err);
}

static void give_model(p4_client *c, p4_model **model)
{
    if (c->spec.model_pool)
        p4_model_pool_give(c->spec.model_pool, model);
    else
        p4_model_destroy(model);
}

/* The proxy's layer table, so that a parked client can still answer
 * p4_client_proxy_layer. */
static int note_proxy_layers(p4_client *c)
{
    size_t offset, length;
    int n = 0;
    while (p4_model_param_layer(c->proxy, n, &offset, &length) == P4_OK)
        n++;
    c->proxy_layer = malloc((size_t)(n > 0 ? n : 1) * 2 * sizeof(size_t));
    if (!c->proxy_layer)
        return P4_ENOMEM;
    for (int k = 0; k < n; k++)
        p4_model_param_layer(c->proxy, k, &c->proxy_layer[2 * k], &c->proxy_layer[2 * k + 1]);
    c->proxy_layers = n;
    c->saved[1].count = p4_model_param_count(c->proxy);
    c->saved[0].count = p4_model_param_count(c->private_model);
    return P4_OK;
}

static int parked_error(const p4_client *c, p4_error *err)
{
    return p4_error_set(err, P4_EINVAL, "client %d is parked: unpark it before it computes",
                        c->spec.id);
}

static void free_buffers(p4_client *c)
{
    free(c->x);
    free(c->onehot);
    free(c->proxy_teacher);
    free(c->private_teacher);
    c->x = c->onehot = c->proxy_teacher = c->private_teacher = NULL;
    c->room = 0;
}

/* [dp] augmentations: the DP proxy averages each example's gradient over
 * K copies shifted (and, for mirror-symmetric data, flipped) at random. */
static int use_augmentations(p4_client *c, p4_error *err)
{
    const p4_client_spec *sp = &c->spec;
    if (c->dp == NULL || sp->augmentations <= 1)
        return P4_OK;
    p4_augment augment;
    int rc = p4_augment_for_dataset(&augment, sp->train->name, sp->train->width,
                                    sp->train->height, sp->train->channels, err);
    return rc == P4_OK ? p4_dpsgd_set_augmentations(c->dp, sp->augmentations, &augment,
                                                    &c->augment_rng, err)
                       : rc;
}

/* spec.frozen_layers: DP-SGD leaves the proxy's first layers alone (no
 * gradient, no noise, no step) from creation on, a fixed projection. */
static int freeze_projection(p4_client *c, p4_error *err)
{
    int frozen = c->spec.frozen_layers;
    if (frozen < 0 || (frozen > 0 && c->dp && p4_dpsgd_freeze_below(c->dp, frozen) != P4_OK))
        return p4_error_set(err, P4_EMODEL, "client %d: cannot freeze the proxy's first %d "
                            "layer(s): it needs a trainable layer above them", c->spec.id, frozen);
    return P4_OK;
}

int p4_client_new(p4_client **out, const p4_client_spec *spec, p4_error *err)
{
    if (!out || !spec || !spec->train || !spec->test || !spec->train_idx || !spec->test_idx ||
        spec->train_count < 1 || spec->test_count < 0 || !spec->private_cfg || !spec->proxy_cfg)
        return p4_error_set(err, P4_EINVAL, "client: bad specification");
    if (spec->batch < 1 || !(spec->learning_rate > 0) || !(spec->proxy_learning_rate >= 0) ||
        !(spec->kd_alpha >= 0 && spec->kd_alpha <= 1) || !(spec->kd_temperature > 0))
        return p4_error_set(err, P4_EINVAL, "client %d: batch, learning rate, kd_alpha or "
                            "kd_temperature out of range", spec->id);
    if (spec->dp && (!spec->ledger || !spec->enclave))
        return p4_error_set(err, P4_EINVAL, "client %d: DP needs a ledger and an enclave", spec->id);
    *out = NULL;
    p4_client *c = calloc(1, sizeof *c);
    if (!c)
        return p4_error_set(err, P4_ENOMEM, "client: out of memory");
    c->spec = *spec;
    /* Private models start from their own seed; every proxy starts from the
     * same public initialisation, so averaged proxies and L1 distances
     * between them compare what the data did, not where the weights began. */
    uint64_t private_seed = spec->seed * 1000003u + (uint64_t)spec->id * 7919u + 1u;
    int rc = take_model(c, spec->private_cfg, &private_seed, &c->private_model, err);
    if (rc == P4_OK)
        rc = take_model(c, spec->proxy_cfg, &spec->seed, &c->proxy, err);
    if (rc == P4_OK)
        rc = p4_sgd_new(&c->private_sgd, c->private_model, spec->learning_rate, spec->momentum,
                        spec->weight_decay, err);
    if (rc == P4_OK)
        rc = p4_sgd_new(&c->proxy_sgd, c->proxy,
                        spec->proxy_learning_rate > 0 ? spec->proxy_learning_rate
                                                      : spec->learning_rate, spec->momentum,
                        spec->weight_decay, err);
    if (rc == P4_OK && spec->dp)
        rc = p4_dpsgd_new(&c->dp, c->proxy, c->proxy_sgd, &spec->dp_params, spec->enclave, err);
    if (rc == P4_OK)
        rc = freeze_projection(c, err);
    if (rc == P4_OK && p4_model_classes(c->private_model) != p4_model_classes(c->proxy))
        rc = p4_error_set(err, P4_EMODEL, "client %d: private (%s) and proxy (%s) models have "
                          "different class counts", spec->id, spec->private_cfg, spec->proxy_cfg);
    if (rc != P4_OK) {
        p4_client_destroy(&c);
        return rc;
    }
    c->protected_floats = p4_dpsgd_protected_floats(c->dp);
    c->protected_offset = p4_dpsgd_protected_offset(c->dp);
    c->classes = p4_model_classes(c->proxy);
    c->inputs = p4_model_input_size(c->proxy);
    /* Privacy amplification by subsampling assumes the batches are secret:
     * with DP they come from the OS-keyed generator unless the run asked for
     * reproducible (seeded, not secret) noise. */
    rc = spec->dp && !spec->seeded_sampling
             ? p4_rng_init_secure(&c->batch_rng)
             : p4_rng_init_seeded(&c->batch_rng, spec->seed * 1000003u + (uint64_t)spec->id,
                                  "client-batches");
    if (rc != P4_OK) {
        p4_client_destroy(&c);
        return p4_error_set(err, rc, "client %d: cannot key the batch sampler", spec->id);
    }
    /* The copies' randomness: the client's own stream, keyed like its batches. */
    if (spec->dp && spec->augmentations > 1) {
        rc = spec->seeded_sampling
                 ? p4_rng_init_seeded(&c->augment_rng, spec->seed * 1000003u + (uint64_t)spec->id,
                                      "client-augmentations")
                 : p4_rng_init_secure(&c->augment_rng);
        if (rc != P4_OK) {
            p4_client_destroy(&c);
            return p4_error_set(err, rc, "client %d: cannot key the augmentations", spec->id);
        }
        if ((rc = use_augmentations(c, err)) != P4_OK) {
            p4_client_destroy(&c);
            return rc;
        }
    }
    c->batch = malloc((size_t)spec->train_count * sizeof(int));
    if (!c->batch || grow_buffers(c, spec->batch) != P4_OK || note_proxy_layers(c) != P4_OK) {
        p4_client_destroy(&c);
        return p4_error_set(err, P4_ENOMEM, "client: out of memory");
    }
    *out = c;
    return P4_OK;
}

void p4_client_destroy(p4_client **client)
{
    if (!client || !*client)
        return;
    p4_client *c = *client;
    p4_dpsgd_destroy(&c->dp);
    p4_sgd_destroy(&c->private_sgd);
    p4_sgd_destroy(&c->proxy_sgd);
    give_model(c, &c->private_model);
    give_model(c, &c->proxy);
    free(c->batch);
    free_buffers(c);
    for (int m = 0; m < 2; m++)
        free(c->saved[m].params);
    free(c->proxy_layer);
    p4_rng_wipe(&c->batch_rng);
    p4_rng_wipe(&c->augment_rng);
    free(c);
    *client = NULL;
}

/* One plain (non-private) KD step of `model` on the n loaded rows, in
 * chunks of the model's capacity; the model's own softened probabilities
 * before the step go to own_probs (may be NULL). */
static int plain_kd_step(p4_client *c, p4_model *model, p4_sgd *sgd, const float *teacher,
                         int n, float *own_probs)
{
    int capacity = p4_model_capacity(model), classes = c->classes;
    p4_sgd_zero_grad(sgd);
    for (int first = 0; first < n; first += capacity) {
        int m = n - first < capacity ? n - first : capacity;
        size_t at = (size_t)first * classes;
        int rc = p4_model_load_inputs(model, c->x + (size_t)first * c->inputs, m);
        if (rc != P4_OK)
            return rc;
        p4_model_forward(model, 1);
        if (own_probs)
            memcpy(own_probs + at, p4_model_probabilities(model), (size_t)m * classes * sizeof(float));
        double loss = p4_kd_loss(p4_model_logits(model), teacher ? teacher + at : NULL,
                                 c->onehot + at, m, classes, teacher ? c->spec.kd_alpha : 0.0,
                                 c->spec.kd_temperature, p4_model_logit_delta(model));
        if (!isfinite(loss))
            return P4_EDIVERGED; /* a diverged step must not train on NaN */
        p4_model_backward(model);
    }
    return n > 0 ? p4_sgd_step(sgd, n) : P4_OK;
}

/* One co-training batch: private KD step, then the proxy's (DP) KD step. */
/* The proxy's softened probabilities on the batch in c->x, the private
 * model's teacher: from the enclave when the proxy's top layers live there. */
static int proxy_teaching(p4_client *c, int n, p4_error *err)
{
    int rc;
    if (c->protected_floats) {
        rc = p4_dpsgd_teach(c->dp, c->x, n, c->spec.kd_temperature, c->proxy_teacher, err);
    } else if ((rc = p4_model_predict(c->proxy, c->x, n, c->proxy_teacher, NULL)) != P4_OK) {
        return p4_error_set(err, rc, "client %d: proxy forward failed", c->spec.id);
    } else {
        soften(c->proxy_teacher, n, c->classes, c->spec.kd_temperature);
    }
    /* The KD loss skips a teacher's non-positive (and so NaN) entries but
     * not their gradient: a diverged proxy would put NaN in the private
     * model with a finite loss.  Refuse it here instead. */
    size_t outputs = (size_t)n * c->classes;
    if (rc == P4_OK && p4_first_non_finite(c->proxy_teacher, outputs) < outputs)
        return p4_error_set(err, P4_EDIVERGED, "client %d: the proxy's outputs are not finite "
                            "(diverged); the private model does not learn from them",
                            c->spec.id);
    return rc;
}

static int cotrain_batch(p4_client *c, int n, double expected, p4_error *err)
{
    int rc = P4_OK;
    if (n > 0) {
        if ((rc = p4_dataset_batch(c->spec.train, c->batch, n, c->x, c->onehot)) != P4_OK)
            return p4_error_set(err, rc, "client %d: cannot load a batch", c->spec.id);
        if ((rc = proxy_teaching(c, n, err)) != P4_OK)
            return rc;
        rc = plain_kd_step(c, c->private_model, c->private_sgd, c->proxy_teacher, n,
                           c->private_teacher);
        if (rc != P4_OK)
            return p4_error_set(err, rc, "client %d: private step failed", c->spec.id);
        soften(c->private_teacher, n, c->classes, c->spec.kd_temperature);
    }
    /* strict_dp: a DP proxy learns from labels only, so its guarantee does
     * not rest on the private teacher being fixed.  Without DP there is no
     * guarantee to keep, and the proxy distils as in the paper. */
    const float *teacher = c->dp && c->spec.strict_dp ? NULL : c->private_teacher;
    if (c->dp && teacher) {
        p4_dpsgd_kd kd = { c->onehot, teacher, c->spec.kd_alpha, c->spec.kd_temperature };
        return p4_dpsgd_step_kd(c->dp, c->x, n, expected, &kd, NULL, err);
    }
    if (c->dp)
        return p4_dpsgd_step(c->dp, c->x, c->onehot, n, expected, NULL, NULL, NULL, err);
    rc = plain_kd_step(c, c->proxy, c->proxy_sgd, teacher, n, NULL);
    return rc == P4_OK ? P4_OK : p4_error_set(err, rc, "client %d: proxy step failed", c->spec.id);
}

/* cotrain_batches = separate, the private half: a plain KD epoch over a
 * shuffle of the client's data in batches of `batch`, the proxy (as it is
 * now) the teacher.  Nothing leaves the client, so nothing is charged. */
static int private_kd_epoch(p4_client *c, p4_error *err)
{
    int count = c->spec.train_count, per = c->spec.batch, rc = P4_OK;
    memcpy(c->batch, c->spec.train_idx, (size_t)count * sizeof(int));
    p4_rng_shuffle_int(&c->batch_rng, c->batch, (size_t)count);
    if (grow_buffers(c, per) != P4_OK)
        return p4_error_set(err, P4_ENOMEM, "client %d: out of memory for a batch of %d",
                            c->spec.id, per);
    for (int at = 0; at < count && rc == P4_OK; at += per) {
        int n = count - at < per ? count - at : per;
        if ((rc = p4_dataset_batch(c->spec.train, c->batch + at, n, c->x, c->onehot)) != P4_OK)
            return p4_error_set(err, rc, "client %d: cannot load a batch", c->spec.id);
        if ((rc = proxy_teaching(c, n, err)) != P4_OK)
            return rc;
        if ((rc = plain_kd_step(c, c->private_model, c->private_sgd, c->proxy_teacher, n,
                                NULL)) != P4_OK)
            return p4_error_set(err, rc, "client %d: private step failed", c->spec.id);
    }
    return P4_OK;
}

/* cotrain_batches = separate, the proxy's half: its DP-SGD steps on its own
 * Poisson batches at rate q, reserved in the ledger exactly as the shared
 * walk reserves them; a proxy that distils (strict_dp off) reads the
 * private model's softened probabilities on its own batch. */
static int proxy_cotrain_batch(p4_client *c, int n, double expected, p4_error *err)
{
    int rc = P4_OK;
    if (n > 0 && (rc = p4_dataset_batch(c->spec.train, c->batch, n, c->x, c->onehot)) != P4_OK)
        return p4_error_set(err, rc, "client %d: cannot load a batch", c->spec.id);
    const float *teacher = c->dp && c->spec.strict_dp ? NULL : c->private_teacher;
    if (n > 0 && teacher) {
        if ((rc = p4_model_predict(c->private_model, c->x, n, c->private_teacher, NULL)) != P4_OK)
            return p4_error_set(err, rc, "client %d: private forward failed", c->spec.id);
        soften(c->private_teacher, n, c->classes, c->spec.kd_temperature);
    }
    if (c->dp && teacher) {
        p4_dpsgd_kd kd = { c->onehot, teacher, c->spec.kd_alpha, c->spec.kd_temperature };
        return p4_dpsgd_step_kd(c->dp, c->x, n, expected, &kd, NULL, err);
    }
    if (c->dp)
        return p4_dpsgd_step(c->dp, c->x, c->onehot, n, expected, NULL, NULL, NULL, err);
    rc = plain_kd_step(c, c->proxy, c->proxy_sgd, teacher, n, NULL);
    return rc == P4_OK ? P4_OK : p4_error_set(err, rc, "client %d: proxy step failed", c->spec.id);
}

static int cotrain_epoch(p4_client *c, p4_error *err)
{
    if (c->spec.separate_batches) {
        int rc = private_kd_epoch(c, err);
        if (rc != P4_OK)
            return rc;
    }
    double q = c->spec.dp_params.sample_rate;
    long long steps = p4_dpsgd_steps_per_epoch(q), reserved = 0;
    double expected = q * c->spec.train_count;
    for (long long step = 0; step < steps; step++) {
        int rc = P4_OK, n = 0;
        if (c->dp)
            rc = p4_dpsgd_reserve(c->dp, c->spec.ledger, "proxy", "cotrain", step, steps,
                                  &reserved, err);
        if (rc != P4_OK)
            return rc;
        if ((rc = p4_poisson_sample(&c->batch_rng, c->spec.train_idx, c->spec.train_count, q,
                                    c->batch, &n)) != P4_OK)
            return p4_error_set(err, rc, "client %d: Poisson sampling failed", c->spec.id);
        if (grow_buffers(c, n) != P4_OK)
            return p4_error_set(err, P4_ENOMEM, "client %d: out of memory for a batch of %d",
                                c->spec.id, n);
        rc = c->spec.separate_batches ? proxy_cotrain_batch(c, n, expected, err)
                                      : cotrain_batch(c, n, expected, err);
        if (rc != P4_OK)
            return rc;
    }
    return P4_OK;
}

/* The proxy alone, labels only: DP-SGD epochs, or plain ones without DP. */
static int proxy_epoch(p4_client *c, const char *phase, p4_error *err)
{
    if (c->dp)
        return p4_dpsgd_epoch(c->dp, c->spec.train, c->spec.train_idx, c->spec.train_count,
                              &c->batch_rng, c->spec.ledger, "proxy", phase, NULL, NULL, NULL, err);
    return p4_train_epoch(c->proxy, c->proxy_sgd, c->spec.train, c->spec.train_idx,
                          c->spec.train_count, &c->batch_rng, NULL, NULL, NULL, err);
}

int p4_client_warmup(p4_client *client, int epochs, p4_error *err)
{
    if (!client || epochs < 0)
        return p4_error_set(err, P4_EINVAL, "client warm-up: bad arguments");
    if (client->parked)
        return parked_error(client, err);
    int last = 0;
    size_t offset, length;
    while (p4_model_param_layer(client->proxy, last + 1, &offset, &length) == P4_OK)
        last++;
    int head_only = client->dp && client->spec.warmup_head_only;
    if (head_only && p4_dpsgd_freeze_below(client->dp, last) != P4_OK)
        return p4_error_set(err, P4_EMODEL, "client %d: cannot freeze the proxy below its output "
                            "layer", client->spec.id);
    /* The warm-up may run at its own (q, sigma); they compose in the ledger. */
    int own_params = client->dp && client->spec.warmup_params.sample_rate > 0;
    if (own_params && p4_dpsgd_set_params(client->dp, &client->spec.warmup_params) != P4_OK)
        return p4_error_set(err, P4_EINVAL, "client %d: bad warm-up DP parameters", client->spec.id);
    int rc = P4_OK;
    for (int e = 0; e < epochs && rc == P4_OK; e++)
        rc = proxy_epoch(client, "warmup", err);
    if (own_params)
        p4_dpsgd_set_params(client->dp, &client->spec.dp_params);
    if (head_only)
        p4_dpsgd_freeze_below(client->dp, client->spec.frozen_layers);
    return rc;
}

int p4_client_local(p4_client *client, p4_local_mode mode, int epochs, p4_error *err)
{
    if (!client || epochs < 0)
        return p4_error_set(err, P4_EINVAL, "client local training: bad arguments");
    if (client->parked)
        return parked_error(client, err);
    for (int e = 0; e < epochs; e++) {
        int rc;
        switch (mode) {
        case P4_LOCAL_COTRAIN:
            rc = cotrain_epoch(client, err);
            break;
        case P4_LOCAL_PRIVATE_ONLY:
            rc = p4_train_epoch(client->private_model, client->private_sgd, client->spec.train,
                                client->spec.train_idx, client->spec.train_count,
                                &client->batch_rng, NULL, NULL, NULL, err);
            break;
        case P4_LOCAL_PROXY_ONLY:
            rc = proxy_epoch(client, "train", err);
            break;
        default:
            return p4_error_set(err, P4_EINVAL, "client: unknown local mode %d", (int)mode);
        }
        if (rc != P4_OK)
            return rc;
    }
    return P4_OK;
}

int p4_client_evaluate(p4_client *client, p4_which_model which, double *accuracy, p4_error *err)
{
    if (!client || !accuracy)
        return p4_error_set(err, P4_EINVAL, "client evaluate: bad arguments");
    if (client->parked)
        return parked_error(client, err);
    if (client->spec.test_count == 0)
        return p4_error_set(err, P4_EINVAL, "client %d has no test examples", client->spec.id);
    if (which == P4_MODEL_PROXY && client->protected_floats) /* top-1 from the enclave */
        return p4_dpsgd_evaluate(client->dp, client->spec.test, client->spec.test_idx,
                                 client->spec.test_count, accuracy, err);
    p4_model *m = which == P4_MODEL_PRIVATE ? client->private_model : client->proxy;
    return p4_evaluate(m, client->spec.test, client->spec.test_idx, client->spec.test_count,
                       accuracy, NULL, err);
}

int p4_client_evaluate_ensemble(p4_client *client, double proxy_weight, double *accuracy,
                                p4_error *err)
{
    if (!client || !accuracy || !(proxy_weight >= 0 && proxy_weight <= 1))
        return p4_error_set(err, P4_EINVAL, "client ensemble evaluate: bad arguments");
    if (client->parked)
        return parked_error(client, err);
    if (client->protected_floats)
        return p4_error_set(err, P4_EUNSUPPORTED, "client %d: its proxy's top layers are in the "
                            "enclave, which gives top-1 classes, not probabilities",
                            client->spec.id);
    int n = client->spec.test_count, classes = client->classes;
    if (n == 0)
        return p4_error_set(err, P4_EINVAL, "client %d has no test examples", client->spec.id);
    float *x = malloc((size_t)n * client->inputs * sizeof(float));
    float *a = malloc((size_t)n * classes * sizeof(float));
    float *b = malloc((size_t)n * classes * sizeof(float));
    int *labels = malloc((size_t)n * sizeof(int));
    int rc = x && a && b && labels ? P4_OK : P4_ENOMEM;
    if (rc == P4_OK)
        rc = p4_dataset_batch(client->spec.test, client->spec.test_idx, n, x, NULL);
    if (rc == P4_OK)
        rc = p4_model_predict(client->private_model, x, n, a, NULL);
    if (rc == P4_OK)
        rc = p4_model_predict(client->proxy, x, n, b, NULL);
    if (rc == P4_OK)
        rc = p4_ensemble_combine(a, b, n, classes, proxy_weight, a, labels);
    if (rc == P4_OK) {
        int right = 0;
        for (int i = 0; i < n; i++)
            right += labels[i] == client->spec.test->labels[client->spec.test_idx[i]];
        *accuracy = (double)right / n;
    }
    free(x); free(a); free(b); free(labels);
    return rc == P4_OK ? P4_OK
                       : p4_error_set(err, rc, "client %d: ensemble evaluation failed",
                                      client->spec.id);
}

size_t p4_client_proxy_size(const p4_client *client)
{
    return client ? client->saved[1].count : 0;
}

int p4_client_get_proxy(const p4_client *client, float *out, size_t n)
{
    if (!client || !out)
        return P4_EINVAL;
    int rc;
    if (!client->parked) {
        rc = p4_model_get_params(client->proxy, out, n);
    } else if (n != client->saved[1].count) {
        rc = P4_EINVAL;
    } else {
        memcpy(out, client->saved[1].params, n * sizeof(float));
        rc = P4_OK;
    }
    /* The protected tail comes from the enclave: a weights release of
     * values only its noised, charged steps moved (ta_kd_exchange.c). */
    size_t pf = client->protected_floats, at = client->protected_offset;
    if (rc == P4_OK && pf && at + pf > n)
        rc = P4_EINVAL;
    if (rc == P4_OK && pf && p4_enclave_layers_stay(client->spec.enclave))
        memset(out + at, 0, pf * sizeof(float)); /* logits mode: they never leave */
    else if (rc == P4_OK && pf)
        rc = p4_enclave_layers_export(client->spec.enclave, out + at, pf, NULL);
    return rc;
}

size_t p4_client_protected_floats(const p4_client *client)
{
    return client ? client->protected_floats : 0;
}

size_t p4_client_model_size(const p4_client *client, p4_which_model which)
{
    if (client == NULL)
        return 0;
    return p4_model_param_count(which == P4_MODEL_PROXY ? client->proxy : client->private_model);
}

int p4_client_get_model(const p4_client *client, p4_which_model which, float *out, size_t n)
{
    if (client == NULL)
        return P4_EINVAL;
    return p4_model_get_params(which == P4_MODEL_PROXY ? client->proxy : client->private_model,
                               out, n);
}

int p4_client_set_private(p4_client *client, const float *in, size_t n)
{
    if (!client || !in || n != client->saved[0].count)
        return P4_EINVAL;
    if (!client->parked)
        return p4_model_set_params(client->private_model, in, n);
    if (!client->saved[0].params)
        return P4_EINVAL;
    memcpy(client->saved[0].params, in, n * sizeof(float));
    return P4_OK;
}

int p4_client_set_proxy(p4_client *client, const float *in, size_t n)
{
    if (!client || !in)
        return P4_EINVAL;
    size_t pf = client->protected_floats, at = client->protected_offset;
    if (n != client->saved[1].count || pf > n || at + pf > n)
        return P4_EINVAL;
    if (pf) {
        /* The protected part goes into the enclave; the normal world keeps
         * zeroes there. */
        int rc = p4_enclave_layers_import(client->spec.enclave, in + at, pf, NULL);
        if (rc == P4_OK) /* a TA that dies later resumes the aggregate */
            rc = p4_enclave_layers_store(client->spec.enclave, NULL);
        if (rc != P4_OK)
            return rc;
    }
    float *dst = client->saved[1].params;
    if (!client->parked) {
        if (!pf)
            return p4_model_set_params(client->proxy, in, n);
        if (!(dst = malloc(n * sizeof(float))))
            return P4_ENOMEM;
    }
    memcpy(dst, in, n * sizeof(float));
    memset(dst + at, 0, pf * sizeof(float));
    int rc = client->parked ? P4_OK : p4_model_set_params(client->proxy, dst, n);
    if (!client->parked)
        free(dst);
    return rc;
}

int p4_client_proxy_layer(const p4_client *client, int k, size_t *offset, size_t *length)
{
    if (!client || !offset || !length || k < 0 || k >= client->proxy_layers)
        return P4_EINVAL;
    *offset = client->proxy_layer[2 * k];
    *length = client->proxy_layer[2 * k + 1];
    return P4_OK;
}

int p4_client_frozen_layers(const p4_client *client)
{
    return client && client->dp ? client->spec.frozen_layers : 0;
}

/* Mean-centred log-probabilities: logits up to the shift softmax ignores. */
static void centred_log_probs(float *rows, int n, int classes)
{
    for (int i = 0; i < n; i++) {
        float *z = rows + (size_t)i * classes;
        double mean = 0;
        for (int k = 0; k < classes; k++) {
            z[k] = (float)log(fmax(z[k], 1e-30));
            mean += z[k];
        }
        mean /= classes;
        for (int k = 0; k < classes; k++)
            z[k] = (float)(z[k] - mean);
    }
}

int p4_client_public_logits(p4_client *c, const float *x, int n, double clip, double sigma,
                            float *logits_out, p4_error *err)
{
    if (!c || !x || n < 1 || !logits_out || !(clip > 0) || !(sigma >= 0) || isinf(sigma))
        return p4_error_set(err, P4_EINVAL, "public logits: bad arguments");
    if (c->parked)
        return parked_error(c, err);
    if (c->dp && sigma == 0)
        return p4_error_set(err, P4_EINVAL, "client %d: a DP client must noise its logits "
                            "(sigma > 0)", c->spec.id);
    int rc;
    if (c->protected_floats) {
        /* Computed, clipped, charged and noised in the enclave; the normal
         * world's ledger records the same release first. */
        if (sigma == 0)
            return p4_error_set(err, P4_EINVAL, "client %d: protected layers release their "
                                "logits only noised", c->spec.id);
        if (c->spec.ledger && (rc = p4_ledger_record(c->spec.ledger, "proxy", "logits", 1.0,
                                                     sigma / (2.0 * sqrt(n)), 1, err)) != P4_OK)
            return rc;
        return p4_protected_release_logits(p4_dpsgd_protected(c->dp), x, n, clip, sigma,
                                           logits_out, err);
    }
    rc = p4_model_predict(c->proxy, x, n, logits_out, NULL);
    if (rc != P4_OK)
        return p4_error_set(err, rc, "client %d: proxy forward on public data failed", c->spec.id);
    centred_log_probs(logits_out, n, c->classes);
    if (sigma == 0) {
        p4_clip_rows(logits_out, (size_t)n, (size_t)c->classes, clip);
        return P4_OK;
    }
    /* Accounted as one Gaussian release of the whole n x classes matrix:
     * its L2 sensitivity is at most 2 clip sqrt(n) (each row moves by at most
     * 2 clip, whatever one training example did to the proxy), so the noise
     * multiplier relative to it is sigma / (2 sqrt(n)).  Conservative: it
     * does not lean on the proxy's own DP-SGD guarantee. */
    if (c->spec.ledger) {
        rc = p4_ledger_record(c->spec.ledger, "proxy", "logits", 1.0, sigma / (2.0 * sqrt(n)), 1, err);
        if (rc != P4_OK)
            return rc;
    }
    if (!c->spec.enclave)
        return p4_error_set(err, P4_EINVAL, "client %d: noised logits need an enclave", c->spec.id);
    /* Clipped and noised behind the enclave (the optee TA also charges its
     * own ledger first). */
    return p4_enclave_release_rows(c->spec.enclave, logits_out, n, c->classes, clip, sigma, err);
}

/* The proxy's optimiser leaves frozen layers (a fixed projection) alone
 * here too: p4_dpsgd_freeze_below froze them in it (p4_sgd_freeze). */
static int distill_public_epochs(p4_client *c, const float *x, int n, const float *teacher_probs,
                                 int epochs, int batch, int capacity, p4_error *err)
{
    int classes = c->classes;
    for (int e = 0; e < epochs; e++) {
        for (int step = 0; step < n; step += batch) {
            int in_step = n - step < batch ? n - step : batch;
            p4_sgd_zero_grad(c->proxy_sgd);
            for (int first = step; first < step + in_step; first += capacity) {
                int m = step + in_step - first < capacity ? step + in_step - first : capacity;
                int rc = p4_model_load_inputs(c->proxy, x + (size_t)first * c->inputs, m);
                if (rc != P4_OK)
                    return p4_error_set(err, rc, "client %d: cannot load public inputs",
                                        c->spec.id);
                p4_model_forward(c->proxy, 1);
                double loss = p4_kd_loss(p4_model_logits(c->proxy),
                                         teacher_probs + (size_t)first * classes, NULL, m, classes,
                                         1.0, c->spec.kd_temperature,
                                         p4_model_logit_delta(c->proxy));
                if (!isfinite(loss))
                    return p4_error_set(err, P4_EINVAL, "client %d: bad teacher distribution",
                                        c->spec.id);
                p4_model_backward(c->proxy);
            }
            int rc = p4_sgd_step(c->proxy_sgd, in_step);
            if (rc != P4_OK)
                return p4_error_set(err, rc, "client %d: proxy step failed", c->spec.id);
        }
    }
    return P4_OK;
}

int p4_client_distill_public(p4_client *c, const float *x, int n, const float *teacher_probs,
                             int epochs, p4_error *err)
{
    if (!c || !x || n < 1 || !teacher_probs || epochs < 0)
        return p4_error_set(err, P4_EINVAL, "public distillation: bad arguments");
    if (c->parked)
        return parked_error(c, err);
    /* Steps of the proxy's batch, each in passes of its capacity. */
    int batch = p4_model_batch(c->proxy), capacity = p4_model_capacity(c->proxy);
    if (c->protected_floats) { /* the top layers step inside the enclave */
        for (int e = 0; e < epochs; e++) {
            int rc = p4_protected_distill_public(p4_dpsgd_protected(c->dp), c->proxy_sgd, x, n,
                                                 teacher_probs, c->spec.kd_temperature, batch,
                                                 err);
            if (rc != P4_OK)
                return rc;
        }
        return P4_OK;
    }
    return distill_public_epochs(c, x, n, teacher_probs, epochs, batch, capacity, err);
}

int p4_client_id(const p4_client *client)
{
    return client ? client->spec.id : -1;
}

/* ---- parking ------------------------------------------------------------------ */

int p4_client_park(p4_client *c, p4_error *err)
{
    if (!c || !c->spec.model_pool)
        return p4_error_set(err, P4_EINVAL, "client park: a client without a model pool cannot park");
    if (c->parked)
        return P4_OK;
    p4_model *model[2] = { c->private_model, c->proxy };
    for (int m = 0; m < 2; m++) {
        struct saved_model *v = &c->saved[m];
        if (!v->params && !(v->params = malloc(v->count * sizeof(float))))
            return p4_error_set(err, P4_ENOMEM, "client %d: out of memory to park", c->spec.id);
        if (p4_model_get_params(model[m], v->params, v->count) != P4_OK)
            return p4_error_set(err, P4_EMODEL, "client %d: cannot save its models", c->spec.id);
    }
    p4_dpsgd_destroy(&c->dp);
    give_model(c, &c->private_model);
    give_model(c, &c->proxy);
    free_buffers(c);
    c->parked = 1;
    return P4_OK;
}

int p4_client_unpark(p4_client *c, p4_error *err)
{
    if (!c)
        return p4_error_set(err, P4_EINVAL, "client unpark: NULL client");
    if (!c->parked)
        return P4_OK;
    const p4_client_spec *sp = &c->spec;
    int rc = take_model(c, sp->private_cfg, NULL, &c->private_model, err);
    if (rc == P4_OK)
        rc = take_model(c, sp->proxy_cfg, NULL, &c->proxy, err);
    p4_model *model[2] = { c->private_model, c->proxy };
    p4_sgd *sgd[2] = { c->private_sgd, c->proxy_sgd };
    for (int m = 0; m < 2 && rc == P4_OK; m++)
        if (p4_model_set_params(model[m], c->saved[m].params, c->saved[m].count) != P4_OK ||
            p4_sgd_rebind(sgd[m], model[m]) != P4_OK)
            rc = p4_error_set(err, P4_EMODEL, "client %d: a borrowed network does not fit its "
                              "saved parameters", sp->id);
    if (rc == P4_OK && sp->dp)
        rc = p4_dpsgd_new(&c->dp, c->proxy, c->proxy_sgd, &sp->dp_params, sp->enclave, err);
    if (rc == P4_OK)
        rc = freeze_projection(c, err);
    if (rc == P4_OK)
        rc = use_augmentations(c, err);
    if (rc == P4_OK && grow_buffers(c, sp->batch) != P4_OK)
        rc = p4_error_set(err, P4_ENOMEM, "client %d: out of memory to unpark", sp->id);
    if (rc != P4_OK) { /* back to a clean parked state */
        p4_dpsgd_destroy(&c->dp);
        give_model(c, &c->private_model);
        give_model(c, &c->proxy);
        free_buffers(c);
        return rc;
    }
    c->parked = 0;
    return P4_OK;
}

int p4_client_parked(const p4_client *client)
{
    return client ? client->parked : 0;
}

size_t p4_client_parked_bytes(const p4_client *c)
{
    if (!c)
        return 0;
    /* parameters here, momentum in the optimisers */
    return 2 * (c->saved[0].count + c->saved[1].count) * sizeof(float) +
           (size_t)c->proxy_layers * 2 * sizeof(size_t);
}

const float *p4_client_parked_private(const p4_client *c, size_t *count)
{
    if (count)
        *count = c ? c->saved[0].count : 0;
    return c ? c->saved[0].params : NULL;
}

/* ---- checkpoints ------------------------------------------------------------- */

void p4_client_state_free(p4_client_state *s)
{
    if (s == NULL)
        return;
    free(s->private_params);
    free(s->proxy_params);
    free(s->private_velocity);
    free(s->proxy_velocity);
    sodium_memzero(s->batch_rng, sizeof s->batch_rng);
    sodium_memzero(s->augment_rng, sizeof s->augment_rng);
    memset(s, 0, sizeof *s);
}

/* The batch sampler is seeded (so it may be saved) exactly when p4_client_new
 * did not key it from the OS. */
static int sampler_is_seeded(const p4_client *c)
{
    return !c->spec.dp || c->spec.seeded_sampling;
}

/* The augmented copies' generator exists with DP and augmentations > 1; it
 * is seeded (so it may be saved) exactly when the sampler is. */
static int augmenter_is_seeded(const p4_client *c)
{
    return c->spec.dp && c->spec.augmentations > 1 && c->spec.seeded_sampling;
}

int p4_client_save(const p4_client *c, p4_client_state *s, p4_error *err)
{
    return p4_client_save_at(c, -1, s, err);
}

int p4_client_save_at(const p4_client *c, int round, p4_client_state *s, p4_error *err)
{
    if (c == NULL || s == NULL || round < -1)
        return p4_error_set(err, P4_EINVAL, "client save: bad arguments");
    if (c->parked)
        return p4_error_set(err, P4_EINVAL, "client %d: a parked client has no models to save; "
                            "unpark it first", c->spec.id);
    memset(s, 0, sizeof *s);
    s->private_count = p4_model_param_count(c->private_model);
    s->proxy_count = p4_model_param_count(c->proxy);
    s->private_velocity_count = p4_sgd_velocity_count(c->private_sgd);
    s->proxy_velocity_count = p4_sgd_velocity_count(c->proxy_sgd);
    s->private_params = malloc(s->private_count * sizeof(float));
    s->proxy_params = malloc(s->proxy_count * sizeof(float));
    s->private_velocity = malloc(s->private_velocity_count * sizeof(float));
    s->proxy_velocity = malloc(s->proxy_velocity_count * sizeof(float));
    if (!s->private_params || !s->proxy_params || !s->private_velocity || !s->proxy_velocity) {
        p4_client_state_free(s);
        return p4_error_set(err, P4_ENOMEM, "client %d: out of memory for a checkpoint",
                            c->spec.id);
    }
    if (p4_model_get_params(c->private_model, s->private_params, s->private_count) != P4_OK ||
        p4_model_get_params(c->proxy, s->proxy_params, s->proxy_count) != P4_OK ||
        p4_sgd_get_velocity(c->private_sgd, s->private_velocity, s->private_velocity_count) != P4_OK ||
        p4_sgd_get_velocity(c->proxy_sgd, s->proxy_velocity, s->proxy_velocity_count) != P4_OK) {
        p4_client_state_free(s);
        return p4_error_set(err, P4_EMODEL, "client %d: cannot read its models", c->spec.id);
    }
    if ((s->has_batch_rng = sampler_is_seeded(c)))
        p4_rng_save(&c->batch_rng, s->batch_rng);
    if ((s->has_augment_rng = augmenter_is_seeded(c)))
        p4_rng_save(&c->augment_rng, s->augment_rng);
    /* The protected layers' own checkpoint, in the enclave, under the
     * round: written before the caller commits its own, so that a kill in
     * between finds the previous round's snapshot still there. */
    int rc = P4_OK;
    if (c->protected_floats && round >= 0 &&
        (rc = p4_enclave_layers_snapshot(c->spec.enclave, round, err)) != P4_OK)
        p4_client_state_free(s);
    return rc;
}

static int check_part(const p4_client *c, const char *what, const float *v, size_t n,
                      size_t want, p4_error *err)
{
    if (v == NULL || n != want)
        return p4_error_set(err, P4_ESTATE, "client %d: the checkpoint's %s hold %zu values, "
                            "this client's %zu (a checkpoint of another model?)", c->spec.id,
                            what, n, want);
    size_t i = p4_first_non_finite(v, n);
    if (i < n)
        return p4_error_set(err, P4_ESTATE, "client %d: the checkpoint's %s hold a value "
                            "that is not finite (at %zu)", c->spec.id, what, i);
    return P4_OK;
}

int p4_client_restore(p4_client *c, const p4_client_state *s, p4_error *err)
{
    return p4_client_restore_at(c, s, -1, err);
}

int p4_client_restore_at(p4_client *c, const p4_client_state *s, int round, p4_error *err)
{
    if (c == NULL || s == NULL || round < -1)
        return p4_error_set(err, P4_EINVAL, "client restore: bad arguments");
    if (c->parked)
        return p4_error_set(err, P4_EINVAL, "client %d: a parked client cannot take a "
                            "checkpoint; unpark it first", c->spec.id);
    if (c->protected_floats && round < 0)
        return p4_error_set(err, P4_EUNSUPPORTED, "client %d: the proxy's protected layers "
                            "([tee] pp_start) live only in the TA: a checkpoint without the "
                            "round of the TA's snapshot cannot bring them back "
                            "(p4_client_restore_at)", c->spec.id);
    int rc = check_part(c, "private weights", s->private_params, s->private_count,
                        p4_model_param_count(c->private_model), err);
    if (rc == P4_OK)
        rc = check_part(c, "proxy weights", s->proxy_params, s->proxy_count,
                        p4_model_param_count(c->proxy), err);
    if (rc == P4_OK)
        rc = check_part(c, "private momentum", s->private_velocity, s->private_velocity_count,
                        p4_sgd_velocity_count(c->private_sgd), err);
    if (rc == P4_OK)
        rc = check_part(c, "proxy momentum", s->proxy_velocity, s->proxy_velocity_count,
                        p4_sgd_velocity_count(c->proxy_sgd), err);
    p4_rng sampler, augmenter;
    if (rc == P4_OK && s->has_batch_rng && sampler_is_seeded(c) &&
        p4_rng_restore(&sampler, s->batch_rng, sizeof s->batch_rng) != P4_OK)
        rc = p4_error_set(err, P4_ESTATE, "client %d: the checkpoint's batch sampler is not a "
                          "generator state", c->spec.id);
    if (rc == P4_OK && s->has_augment_rng && augmenter_is_seeded(c) &&
        p4_rng_restore(&augmenter, s->augment_rng, sizeof s->augment_rng) != P4_OK)
        rc = p4_error_set(err, P4_ESTATE, "client %d: the checkpoint's augmentation generator "
                          "is not a generator state", c->spec.id);
    /* The protected layers first: if the enclave holds no snapshot of the
     * round, nothing here has changed. */
    if (rc == P4_OK && c->protected_floats)
        rc = p4_enclave_layers_restore(c->spec.enclave, round, err);
    if (rc != P4_OK) {
        p4_rng_wipe(&sampler);
        p4_rng_wipe(&augmenter);
        return rc;
    }
    p4_model_set_params(c->private_model, s->private_params, s->private_count);
    p4_model_set_params(c->proxy, s->proxy_params, s->proxy_count);
    p4_sgd_set_velocity(c->private_sgd, s->private_velocity, s->private_velocity_count);
    p4_sgd_set_velocity(c->proxy_sgd, s->proxy_velocity, s->proxy_velocity_count);
    if (s->has_batch_rng && sampler_is_seeded(c))
        c->batch_rng = sampler;
    if (s->has_augment_rng && augmenter_is_seeded(c))
        c->augment_rng = augmenter;
    p4_rng_wipe(&sampler);
    p4_rng_wipe(&augmenter);
    return P4_OK;
}
