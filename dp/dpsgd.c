/* dpsgd.c: DP-SGD steps and epochs; see dpsgd.h. */
#include "dp/dpsgd.h"
#include "dp/protected.h"
#include "distill/kd_loss.h"
#include "model/loss.h"

#include <darknet.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Steps reserved in the ledger at a time: one fsync'd commit per block
 * keeps the ledger off the hot path; a crash over-counts at most a block. */
#define LEDGER_BLOCK_STEPS 16

struct p4_dpsgd {
    p4_model *model;
    p4_sgd *sgd;
    p4_enclave *enclave;
    p4_dpsgd_params params;
    p4_per_example *per_example;
    double *norms_sq;     /* capacity */
    float *factor;        /* capacity */
    float *scratch_noise; /* largest parameter tensor */
    p4_step_phases *phases; /* profiling, or NULL */
    p4_protected *protected_layers; /* the enclave's layers ([tee] pp_start..pp_end) */
    /* Augmentation multiplicity (p4_dpsgd_set_augmentations): k copies per
     * example, the transform, its generator (not owned) and the copies. */
    int augmentations;
    p4_augment augment;
    p4_rng *augment_rng;
    float *copies_x, *copies_targets, *copies_teacher;
    int copies_room;      /* rows the three buffers hold */
};

int p4_dpsgd_new(p4_dpsgd **out, p4_model *model, p4_sgd *sgd,
                 const p4_dpsgd_params *params, p4_enclave *enclave, p4_error *err)
{
    if (out == NULL || model == NULL || sgd == NULL || params == NULL || enclave == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_dpsgd_new: bad arguments");
    if (!(params->sample_rate > 0 && params->sample_rate <= 1))
        return p4_error_set(err, P4_EINVAL, "DP-SGD: sample rate %g is not in (0, 1]", params->sample_rate);
    if (!(params->noise_multiplier >= 0) || !(params->clip_norm > 0))
        return p4_error_set(err, P4_EINVAL, "DP-SGD: noise multiplier must be >= 0 and clip norm > 0");
    p4_dpsgd *dp = calloc(1, sizeof *dp);
    if (dp == NULL)
        return p4_error_set(err, P4_ENOMEM, "out of memory");
    dp->model = model;
    dp->sgd = sgd;
    dp->enclave = enclave;
    dp->params = *params;
    dp->augmentations = 1;
    int capacity = p4_model_capacity(model);
    int rc = p4_per_example_new(&dp->per_example, model, err);
    dp->norms_sq = malloc((size_t)capacity * sizeof(double));
    dp->factor = malloc((size_t)capacity * sizeof(float));
    if (rc != P4_OK || dp->norms_sq == NULL || dp->factor == NULL) {
        p4_dpsgd_destroy(&dp);
        return rc != P4_OK ? rc : p4_error_set(err, P4_ENOMEM, "out of memory");
    }
    if (p4_enclave_protected_range(enclave, NULL, NULL) &&
        (rc = p4_protected_new(&dp->protected_layers, model, enclave, err)) != P4_OK) {
        p4_dpsgd_destroy(&dp);
        return rc;
    }
    *out = dp;
    return P4_OK;
}

void p4_dpsgd_destroy(p4_dpsgd **dp)
{
    if (dp == NULL || *dp == NULL)
        return;
    p4_per_example_destroy(&(*dp)->per_example);
    p4_protected_destroy(&(*dp)->protected_layers);
    free((*dp)->norms_sq);
    free((*dp)->factor);
    free((*dp)->scratch_noise);
    free((*dp)->copies_x);
    free((*dp)->copies_targets);
    free((*dp)->copies_teacher);
    free(*dp);
    *dp = NULL;
}

int p4_poisson_sample(p4_rng *rng, const int *indices, int count, double q,
                      int *out, int *n_out)
{
    if (rng == NULL || (indices == NULL && count > 0) || out == NULL || n_out == NULL ||
        !(q > 0 && q <= 1))
        return P4_EINVAL;
    int n = 0;
    for (int i = 0; i < count; i++)
        if (p4_rng_bernoulli(rng, q))
            out[n++] = indices[i];
    *n_out = n;
    return P4_OK;
}

long long p4_dpsgd_steps_per_epoch(double q)
{
    long long steps = llround(1.0 / q);
    return steps < 1 ? 1 : steps;
}

/* Adds N(0, (sigma C)^2) to every accumulated gradient coordinate. */
static int add_noise(p4_dpsgd *dp, p4_error *err)
{
    double stddev = dp->params.noise_multiplier * dp->params.clip_norm;
    /* The enclave's own ledger first (the optee TA's; software: none). */
    int charged = p4_enclave_charge(dp->enclave, dp->params.sample_rate,
                                    dp->params.noise_multiplier, 1, err);
    if (charged != P4_OK)
        return charged;
    network *net = p4_model_network(dp->model);
    for (int i = 0; i < net->n; i++) {
        layer *l = &net->layers[i];
        size_t nw, nb;
        if (!p4_per_example_trainable(dp->per_example, i))
            continue; /* frozen: no gradient, so no noise and no step */
        if (l->type == CONNECTED) {
            nw = (size_t)l->inputs * l->outputs;
            nb = (size_t)l->outputs;
        } else if (l->type == CONVOLUTIONAL) {
            nw = (size_t)l->n * l->size * l->size * l->c;
            nb = (size_t)l->n;
        } else {
            continue;
        }
        int rc = p4_enclave_add_gaussian_noise(dp->enclave, l->weight_updates, nw, stddev, err);
        if (rc == P4_OK)
            rc = p4_enclave_add_gaussian_noise(dp->enclave, l->bias_updates, nb, stddev, err);
        if (rc != P4_OK)
            return rc;
    }
    return P4_OK;
}

/* Groups of `group` rows, the copies of one example: norms_sq[j] is the
 * squared norm of group j's gradient SUM (p4_per_example_set_group).  The
 * factor that clips the group's MEAN to C, divided by group, goes to each
 * of its rows: their weighted sum is then clip(mean), of norm at most C. */
static int clip_group_means(double *norms_sq, int groups, int group, double clip, float *factor)
{
    for (int j = 0; j < groups; j++)
        norms_sq[j] /= (double)group * group; /* the mean's squared norm */
    int rc = p4_clip_factors(norms_sq, groups, clip, factor);
    if (rc != P4_OK)
        return rc;
    /* Spread in place from the last group down: row j*group + c >= j. */
    for (int j = groups - 1; j >= 0; j--) {
        float per_row = factor[j] / (float)group;
        for (int c = group - 1; c >= 0; c--)
            factor[(size_t)j * group + c] = per_row;
    }
    return P4_OK;
}

/* Fills dp->copies_* with k = dp->augmentations augmented copies of each
 * of the n examples x (rows of `inputs` floats) and k repeats of each
 * example's rows of targets and teacher (n x classes each; either NULL). */
static int make_copies(p4_dpsgd *dp, const float *x, const float *targets, const float *teacher,
                       int n, p4_error *err)
{
    const int k = dp->augmentations, inputs = p4_model_input_size(dp->model);
    const int classes = p4_model_classes(dp->model);
    if (n > INT32_MAX / k)
        return p4_error_set(err, P4_EINVAL, "DP-SGD: %d examples x %d copies is too many", n, k);
    int rows = n * k;
    if (rows > dp->copies_room) {
        float *cx = realloc(dp->copies_x, (size_t)rows * inputs * sizeof(float));
        if (cx != NULL)
            dp->copies_x = cx;
        float *ct = realloc(dp->copies_targets, (size_t)rows * classes * sizeof(float));
        if (ct != NULL)
            dp->copies_targets = ct;
        float *ch = realloc(dp->copies_teacher, (size_t)rows * classes * sizeof(float));
        if (ch != NULL)
            dp->copies_teacher = ch;
        if (cx == NULL || ct == NULL || ch == NULL)
            return p4_error_set(err, P4_ENOMEM, "DP-SGD: out of memory for %d copies", rows);
        dp->copies_room = rows;
    }
    for (int i = 0; i < n; i++)
        for (int c = 0; c < k; c++) {
            size_t row = (size_t)i * k + c;
            int rc = p4_augment_random(&dp->augment, dp->augment_rng, x + (size_t)i * inputs,
                                       dp->copies_x + row * inputs);
            if (rc != P4_OK)
                return p4_error_set(err, rc, "DP-SGD: cannot augment example %d", i);
            if (targets != NULL)
                memcpy(dp->copies_targets + row * classes, targets + (size_t)i * classes,
                       (size_t)classes * sizeof(float));
            if (teacher != NULL)
                memcpy(dp->copies_teacher + row * classes, teacher + (size_t)i * classes,
                       (size_t)classes * sizeof(float));
        }
    return P4_OK;
}

int p4_dpsgd_set_augmentations(p4_dpsgd *dp, int k, const p4_augment *augment, p4_rng *rng,
                               p4_error *err)
{
    if (dp == NULL || k < 1 || k > P4_DPSGD_MAX_AUGMENTATIONS)
        return p4_error_set(err, P4_EINVAL, "DP-SGD: augmentations must be in 1..%d",
                            P4_DPSGD_MAX_AUGMENTATIONS);
    if (k == 1) {
        dp->augmentations = 1;
        return P4_OK;
    }
    if (augment == NULL || rng == NULL)
        return p4_error_set(err, P4_EINVAL, "DP-SGD: augmentations need a transform and a "
                            "generator");
    if (dp->protected_layers != NULL)
        return p4_error_set(err, P4_EUNSUPPORTED, "DP-SGD: augmentations = %d is not supported "
                            "with protected layers (the TA clips whole examples, not the mean "
                            "of augmented copies)", k);
    if ((size_t)augment->width * augment->height * augment->channels !=
        (size_t)p4_model_input_size(dp->model))
        return p4_error_set(err, P4_EINVAL, "DP-SGD: the augmentation's %dx%dx%d images do not "
                            "fit the model's %d inputs", augment->width, augment->height,
                            augment->channels, p4_model_input_size(dp->model));
    if (k > p4_model_capacity(dp->model))
        return p4_error_set(err, P4_EINVAL, "DP-SGD: augmentations = %d exceeds the model's "
                            "batch capacity %d (one example's copies run together)", k,
                            p4_model_capacity(dp->model));
    dp->augmentations = k;
    dp->augment = *augment;
    dp->augment_rng = rng;
    return P4_OK;
}

int p4_dpsgd_step(p4_dpsgd *dp, const float *x, const float *targets, int n,
                  double expected_batch, p4_delta_fn *loss, void *loss_user,
                  double *loss_sum, p4_error *err)
{
    if (dp == NULL || (x == NULL && n > 0) || n < 0 || !(expected_batch > 0) ||
        (loss == NULL && targets == NULL && n > 0))
        return p4_error_set(err, P4_EINVAL, "DP-SGD step: bad arguments");
    if (dp->augmentations > 1) {
        if (loss != NULL)
            return p4_error_set(err, P4_EUNSUPPORTED, "DP-SGD with augmentations: a loss "
                                "given as a function cannot see the copies (use "
                                "p4_dpsgd_step_kd or p4_dpsgd_step_grouped)");
        int rc = make_copies(dp, x, targets, NULL, n, err);
        if (rc != P4_OK)
            return rc;
        return p4_dpsgd_step_grouped(dp, dp->copies_x, dp->copies_targets,
                                     n * dp->augmentations, dp->augmentations, expected_batch,
                                     NULL, NULL, loss_sum, err);
    }
    return p4_dpsgd_step_grouped(dp, x, targets, n, 1, expected_batch, loss, loss_user,
                                 loss_sum, err);
}

int p4_dpsgd_step_grouped(p4_dpsgd *dp, const float *x, const float *targets, int n,
                          int group, double expected_batch, p4_delta_fn *loss, void *loss_user,
                          double *loss_sum, p4_error *err)
{
    if (dp == NULL || (x == NULL && n > 0) || n < 0 || !(expected_batch > 0) ||
        (loss == NULL && targets == NULL && n > 0) || group < 1 || n % group != 0)
        return p4_error_set(err, P4_EINVAL, "DP-SGD step: bad arguments");
    if (dp->protected_layers != NULL && group > 1)
        return p4_error_set(err, P4_EUNSUPPORTED, "DP-SGD with protected layers: the TA "
                            "clips whole examples, not groups of copies");
    if (dp->protected_layers != NULL) {
        if (loss != NULL)
            return p4_error_set(err, P4_EUNSUPPORTED, "DP-SGD with protected layers: the TA "
                                "computes the cross-entropy or the distillation loss "
                                "(p4_dpsgd_step_kd), not a loss given as a function");
        return p4_protected_step(dp->protected_layers, dp->per_example, dp->sgd,
                                 dp->params.sample_rate, dp->params.noise_multiplier,
                                 dp->params.clip_norm, x, targets, NULL, n, expected_batch,
                                 loss_sum, err);
    }
    /* Chunks hold whole groups: a group's copies are clipped together. */
    int capacity = p4_model_capacity(dp->model) / group * group;
    if (capacity < 1)
        return p4_error_set(err, P4_EINVAL, "DP-SGD: groups of %d rows exceed the model's "
                            "batch capacity %d", group, p4_model_capacity(dp->model));
    int classes = p4_model_classes(dp->model), inputs = p4_model_input_size(dp->model);
    double total_loss = 0;
    p4_step_phases *phases = dp->phases;
    double t = p4_phase_start(phases);
    p4_sgd_zero_grad(dp->sgd);
    t = p4_phase_end(phases, P4_PHASE_UPDATE, t);
    int rc = p4_per_example_set_group(dp->per_example, group);
    if (rc != P4_OK)
        return p4_error_set(err, rc, "DP-SGD: bad group size %d", group);
    /* An empty Poisson batch is a valid draw: the step is then pure noise. */
    for (int first = 0; first < n; first += capacity) {
        int m = n - first < capacity ? n - first : capacity;
        rc = p4_model_load_inputs(dp->model, x + (size_t)first * inputs, m);
        if (rc != P4_OK)
            return p4_error_set(err, rc, "DP-SGD: cannot load a batch");
        p4_model_forward(dp->model, 1);
        float *delta = p4_model_logit_delta(dp->model);
        double chunk_loss = loss != NULL
            ? loss(loss_user, p4_model_logits(dp->model), p4_model_probabilities(dp->model),
                   first, m, classes, delta)
            : p4_loss_cross_entropy(p4_model_probabilities(dp->model),
                                    targets + (size_t)first * classes, m, classes, delta);
        if (!isfinite(chunk_loss))
            return p4_error_set(err, P4_EDIVERGED, "DP-SGD: the loss is %g (diverged); "
                                "no update is released", chunk_loss);
        total_loss += chunk_loss;
        p4_phase_end(phases, P4_PHASE_FORWARD, t);
        /* The per-example pass books its own time (backward and norms). */
        if ((rc = p4_per_example_backward(dp->per_example, dp->norms_sq, m)) != P4_OK)
            return p4_error_set(err, rc, "DP-SGD: per-example backward failed");
        t = p4_phase_start(phases);
        rc = group == 1 ? p4_clip_factors(dp->norms_sq, m, dp->params.clip_norm, dp->factor)
                        : clip_group_means(dp->norms_sq, m / group, group,
                                           dp->params.clip_norm, dp->factor);
        if (rc != P4_OK)
            return p4_error_set(err, P4_EDIVERGED, "DP-SGD: a per-example gradient norm is not "
                                "finite (diverged); no update is released");
        if ((rc = p4_per_example_accumulate(dp->per_example, dp->factor, m)) != P4_OK)
            return p4_error_set(err, rc, "DP-SGD: accumulation failed");
        t = p4_phase_end(phases, P4_PHASE_CLIPPED_SUM, t);
    }
    rc = add_noise(dp, err);
    if (rc != P4_OK)
        return rc;
    t = p4_phase_end(phases, P4_PHASE_NOISE, t);
    if (loss_sum != NULL)
        *loss_sum = total_loss / group;
    rc = p4_sgd_step(dp->sgd, expected_batch);
    p4_phase_end(phases, P4_PHASE_UPDATE, t);
    return rc;
}

void p4_dpsgd_set_phases(p4_dpsgd *dp, p4_step_phases *phases)
{
    if (dp == NULL)
        return;
    dp->phases = phases;
    p4_per_example_set_phases(dp->per_example, phases);
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int p4_dpsgd_reserve(const p4_dpsgd *dp, p4_ledger *ledger, const char *model_name,
                     const char *phase, long long step, long long steps,
                     long long *reserved, p4_error *err)
{
    if (dp == NULL || reserved == NULL)
        return p4_error_set(err, P4_EINVAL, "DP reserve: bad arguments");
    if (ledger == NULL || step < *reserved)
        return P4_OK;
    long long block = steps - step < LEDGER_BLOCK_STEPS ? steps - step : LEDGER_BLOCK_STEPS;
    int rc = p4_ledger_record(ledger, model_name, phase, dp->params.sample_rate,
                              dp->params.noise_multiplier, block, err);
    if (rc == P4_OK)
        *reserved = step + block;
    return rc;
}

int p4_dpsgd_epoch(p4_dpsgd *dp, const p4_dataset *ds, const int *indices,
                   int count, p4_rng *sample_rng, p4_ledger *ledger,
                   const char *model_name, const char *phase,
                   p4_progress_fn *progress, void *user,
                   p4_epoch_stats *stats, p4_error *err)
{
    if (dp == NULL || ds == NULL || indices == NULL || count < 1 || sample_rng == NULL ||
        model_name == NULL || phase == NULL)
        return p4_error_set(err, P4_EINVAL, "DP epoch: bad arguments");
    const double q = dp->params.sample_rate;
    const long long steps = p4_dpsgd_steps_per_epoch(q);
    const double expected = q * count;
    int classes = p4_model_classes(dp->model);
    size_t example = p4_dataset_example_size(ds);
    /* Room for a typical Poisson batch; grown on the rare larger draw. */
    int room = (int)(expected + 6.0 * sqrt(expected) + 16.0);
    if (room > count)
        room = count;
    int *batch = malloc((size_t)count * sizeof(int));
    float *x = malloc((size_t)room * example * sizeof(float));
    float *y = malloc((size_t)room * classes * sizeof(float));
    if (batch == NULL || x == NULL || y == NULL) {
        free(batch); free(x); free(y);
        return p4_error_set(err, P4_ENOMEM, "out of memory for a DP epoch");
    }
    double start = now_seconds(), loss_total = 0;
    long long reserved = 0, examples = 0, step;
    int rc = P4_OK;
    for (step = 0; step < steps && rc == P4_OK; step++) {
        if ((rc = p4_dpsgd_reserve(dp, ledger, model_name, phase, step, steps, &reserved,
                                   err)) != P4_OK)
            break;
        int n = 0;
        if ((rc = p4_poisson_sample(sample_rng, indices, count, q, batch, &n)) != P4_OK) {
            p4_error_set(err, rc, "DP epoch: Poisson sampling failed");
            break;
        }
        if (n > room) {
            float *bigger_x = realloc(x, (size_t)n * example * sizeof(float));
            if (bigger_x != NULL)
                x = bigger_x;
            float *bigger_y = realloc(y, (size_t)n * classes * sizeof(float));
            if (bigger_y != NULL)
                y = bigger_y;
            if (bigger_x == NULL || bigger_y == NULL) {
                rc = p4_error_set(err, P4_ENOMEM, "out of memory for a batch of %d", n);
                break;
            }
            room = n;
        }
        if ((rc = p4_dataset_batch(ds, batch, n, x, y)) != P4_OK) {
            p4_error_set(err, rc, "DP epoch: cannot load a batch");
            break;
        }
        double loss = 0;
        rc = p4_dpsgd_step(dp, x, y, n, expected, NULL, NULL, &loss, err);
        loss_total += loss;
        examples += n;
        if (progress != NULL)
            progress(user, (step + 1) * count / steps, count);
    }
    free(batch); free(x); free(y);
    if (stats != NULL) {
        stats->mean_loss = examples > 0 ? loss_total / examples : 0;
        stats->examples = examples;
        stats->steps = step;
        stats->seconds = now_seconds() - start;
    }
    return rc;
}

int p4_dpsgd_set_params(p4_dpsgd *dp, const p4_dpsgd_params *params)
{
    if (dp == NULL || params == NULL || !(params->sample_rate > 0 && params->sample_rate <= 1) ||
        !(params->noise_multiplier >= 0) || !(params->clip_norm > 0))
        return P4_EINVAL;
    dp->params = *params;
    return P4_OK;
}

int p4_dpsgd_freeze_below(p4_dpsgd *dp, int first_trainable)
{
    if (dp == NULL)
        return P4_EINVAL;
    int rc = p4_per_example_freeze_below(dp->per_example, first_trainable);
    /* and no step at all below it: weight decay would move them too */
    return rc == P4_OK ? p4_sgd_freeze(dp->sgd, first_trainable) : rc;
}

int p4_dpsgd_predict(p4_dpsgd *dp, const float *x, int n, int *labels, p4_error *err)
{
    if (dp == NULL)
        return p4_error_set(err, P4_EINVAL, "DP-SGD predict: no trainer");
    if (dp->protected_layers != NULL)
        return p4_protected_predict(dp->protected_layers, x, n, labels, err);
    int rc = p4_model_predict(dp->model, x, n, NULL, labels);
    return rc == P4_OK ? P4_OK : p4_error_set(err, rc, "DP-SGD predict: bad arguments");
}

int p4_dpsgd_evaluate(p4_dpsgd *dp, const p4_dataset *ds, const int *indices, int count,
                      double *accuracy, p4_error *err)
{
    if (dp == NULL || ds == NULL || indices == NULL || count < 1 || accuracy == NULL)
        return p4_error_set(err, P4_EINVAL, "DP-SGD evaluate: bad arguments");
    if (dp->protected_layers == NULL)
        return p4_evaluate(dp->model, ds, indices, count, accuracy, NULL, err);
    int cap = p4_model_capacity(dp->model);
    float *x = malloc((size_t)cap * p4_dataset_example_size(ds) * sizeof(float));
    int *labels = malloc((size_t)cap * sizeof(int));
    int rc = x && labels ? P4_OK : p4_error_set(err, P4_ENOMEM, "out of memory");
    long long correct = 0;
    for (int at = 0; rc == P4_OK && at < count; at += cap) {
        int n = count - at < cap ? count - at : cap;
        rc = p4_dataset_batch(ds, indices + at, n, x, NULL);
        if (rc != P4_OK)
            p4_error_set(err, rc, "DP-SGD evaluate: cannot load a batch");
        else
            rc = p4_dpsgd_predict(dp, x, n, labels, err);
        for (int i = 0; rc == P4_OK && i < n; i++)
            correct += labels[i] == ds->labels[indices[at + i]];
    }
    free(x);
    free(labels);
    if (rc == P4_OK)
        *accuracy = (double)correct / count;
    return rc;
}

const p4_dpsgd_params *p4_dpsgd_get_params(const p4_dpsgd *dp)
{
    return dp ? &dp->params : NULL;
}

/* p4_dpsgd_step's loss callback for the distillation loss in the normal world. */
static double kd_delta(void *user, const float *logits, const float *probs, int first, int n,
                       int classes, float *delta)
{
    (void)probs;
    const p4_dpsgd_kd *kd = user;
    size_t at = (size_t)first * (size_t)classes;
    return p4_kd_loss(logits, kd->teacher + at, kd->onehot + at, n, classes, kd->alpha,
                      kd->temperature, delta);
}

int p4_dpsgd_step_kd(p4_dpsgd *dp, const float *x, int n, double expected_batch,
                     const p4_dpsgd_kd *kd, double *loss_sum, p4_error *err)
{
    if (dp == NULL || kd == NULL || (n > 0 && (kd->onehot == NULL || kd->teacher == NULL)))
        return p4_error_set(err, P4_EINVAL, "DP-SGD distillation step: bad arguments");
    if (dp->protected_layers == NULL && dp->augmentations > 1) {
        if ((x == NULL && n > 0) || n < 0)
            return p4_error_set(err, P4_EINVAL, "DP-SGD distillation step: bad arguments");
        int rc = make_copies(dp, x, kd->onehot, kd->teacher, n, err);
        if (rc != P4_OK)
            return rc;
        p4_dpsgd_kd copies = { dp->copies_targets, dp->copies_teacher, kd->alpha,
                               kd->temperature };
        return p4_dpsgd_step_grouped(dp, dp->copies_x, dp->copies_targets,
                                     n * dp->augmentations, dp->augmentations, expected_batch,
                                     kd_delta, &copies, loss_sum, err);
    }
    if (dp->protected_layers == NULL)
        return p4_dpsgd_step(dp, x, kd->onehot, n, expected_batch, kd_delta, (void *)kd,
                             loss_sum, err);
    if ((x == NULL && n > 0) || n < 0 || !(expected_batch > 0))
        return p4_error_set(err, P4_EINVAL, "DP-SGD distillation step: bad arguments");
    p4_protected_kd in = { kd->teacher, kd->alpha, kd->temperature };
    return p4_protected_step(dp->protected_layers, dp->per_example, dp->sgd,
                             dp->params.sample_rate, dp->params.noise_multiplier,
                             dp->params.clip_norm, x, kd->onehot, &in, n, expected_batch,
                             loss_sum, err);
}

int p4_dpsgd_teach(p4_dpsgd *dp, const float *x, int n, double temperature, float *probs,
                   p4_error *err)
{
    if (dp == NULL || dp->protected_layers == NULL)
        return p4_error_set(err, P4_EINVAL, "DP-SGD teacher: no protected layers");
    return p4_protected_teach(dp->protected_layers, x, n, temperature, probs, err);
}

size_t p4_dpsgd_protected_floats(const p4_dpsgd *dp)
{
    return dp ? p4_protected_floats(dp->protected_layers) : 0;
}

p4_protected *p4_dpsgd_protected(p4_dpsgd *dp)
{
    return dp ? dp->protected_layers : NULL;
}

size_t p4_dpsgd_protected_offset(const p4_dpsgd *dp)
{
    return dp ? p4_protected_offset(dp->protected_layers) : 0;
}
