/* trainer.c: plain training and evaluation; see trainer.h. */
#include "model/trainer.h"
#include "model/loss.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <math.h>

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int p4_train_step(p4_model *model, p4_sgd *sgd, const float *x,
                  const float *targets, int n, double *loss_sum)
{
    return p4_train_step_phases(model, sgd, x, targets, n, loss_sum, NULL);
}

int p4_train_step_phases(p4_model *model, p4_sgd *sgd, const float *x,
                         const float *targets, int n, double *loss_sum,
                         p4_step_phases *phases)
{
    if (model == NULL || sgd == NULL || x == NULL || targets == NULL || n < 1)
        return P4_EINVAL;
    /* One step on n examples, in passes of the model's capacity whose
     * gradients add up in the layers' update buffers. */
    const int capacity = p4_model_capacity(model), classes = p4_model_classes(model);
    const size_t inputs = (size_t)p4_model_input_size(model);
    double loss = 0;
    double t = p4_phase_start(phases);
    p4_sgd_zero_grad(sgd);
    t = p4_phase_end(phases, P4_PHASE_UPDATE, t);
    for (int first = 0; first < n; first += capacity) {
        const int m = n - first < capacity ? n - first : capacity;
        int rc = p4_model_load_inputs(model, x + (size_t)first * inputs, m);
        if (rc != P4_OK)
            return rc;
        p4_model_forward(model, 1);
        loss += p4_loss_cross_entropy(p4_model_probabilities(model),
                                      targets + (size_t)first * classes, m, classes,
                                      p4_model_logit_delta(model));
        t = p4_phase_end(phases, P4_PHASE_FORWARD, t);
        p4_model_backward(model);
        t = p4_phase_end(phases, P4_PHASE_BACKWARD, t);
    }
    int rc = p4_sgd_step(sgd, n);
    p4_phase_end(phases, P4_PHASE_UPDATE, t);
    if (loss_sum != NULL)
        *loss_sum = loss;
    return rc;
}

/* Scratch for one batch of floats: inputs and one-hot targets. */
typedef struct {
    float *x, *y;
    int *order;
} batch_buffers;

static int buffers_new(batch_buffers *b, const p4_model *model, int count)
{
    size_t cap = (size_t)p4_model_batch(model);
    b->x = malloc(cap * p4_model_input_size(model) * sizeof(float));
    b->y = malloc(cap * p4_model_classes(model) * sizeof(float));
    b->order = malloc((count > 0 ? count : 1) * sizeof(int));
    return (b->x && b->y && b->order) ? P4_OK : P4_ENOMEM;
}

static void buffers_free(batch_buffers *b)
{
    free(b->x);
    free(b->y);
    free(b->order);
}

static int check_split(const p4_model *model, const p4_dataset *ds,
                       const int *indices, int count, p4_error *err)
{
    if (model == NULL || ds == NULL || (indices == NULL && count > 0) || count < 0)
        return p4_error_set(err, P4_EINVAL, "training: bad arguments");
    if ((int)p4_dataset_example_size(ds) != p4_model_input_size(model) ||
        ds->classes != p4_model_classes(model))
        return p4_error_set(err, P4_EINVAL,
                            "dataset %s (%d inputs, %d classes) does not fit the model (%d inputs, %d classes)",
                            ds->name, (int)p4_dataset_example_size(ds), ds->classes,
                            p4_model_input_size(model), p4_model_classes(model));
    for (int i = 0; i < count; i++)
        if (indices[i] < 0 || indices[i] >= ds->count)
            return p4_error_set(err, P4_EINVAL, "example index %d out of range", indices[i]);
    return P4_OK;
}

int p4_train_epoch(p4_model *model, p4_sgd *sgd, const p4_dataset *ds,
                   const int *indices, int count, p4_rng *rng,
                   p4_progress_fn *progress, void *user,
                   p4_epoch_stats *stats, p4_error *err)
{
    int rc = check_split(model, ds, indices, count, err);
    if (rc != P4_OK)
        return rc;
    if (sgd == NULL || rng == NULL)
        return p4_error_set(err, P4_EINVAL, "training: no optimiser or generator");
    batch_buffers b;
    if (buffers_new(&b, model, count) != P4_OK) {
        buffers_free(&b);
        return p4_error_set(err, P4_ENOMEM, "out of memory for a training batch");
    }
    memcpy(b.order, indices, (size_t)count * sizeof(int));
    p4_rng_shuffle_int(rng, b.order, (size_t)count);

    double start = now_seconds(), loss_total = 0;
    long long steps = 0;
    int cap = p4_model_batch(model);
    for (int at = 0; at < count; at += cap) {
        int n = count - at < cap ? count - at : cap;
        double loss = 0;
        p4_dataset_batch(ds, b.order + at, n, b.x, b.y);
        rc = p4_train_step(model, sgd, b.x, b.y, n, &loss);
        if (rc != P4_OK)
            break;
        loss_total += loss;
        steps++;
        if (progress != NULL)
            progress(user, at + n, count);
    }
    buffers_free(&b);
    if (rc != P4_OK)
        return p4_error_set(err, rc, "training step failed");
    if (stats != NULL) {
        stats->mean_loss = count > 0 ? loss_total / count : 0;
        stats->examples = count;
        stats->steps = steps;
        stats->seconds = now_seconds() - start;
    }
    return P4_OK;
}

int p4_evaluate(p4_model *model, const p4_dataset *ds, const int *indices,
                int count, double *accuracy, double *mean_loss, p4_error *err)
{
    int rc = check_split(model, ds, indices, count, err);
    if (rc != P4_OK)
        return rc;
    batch_buffers b;
    if (buffers_new(&b, model, 1) != P4_OK) {
        buffers_free(&b);
        return p4_error_set(err, P4_ENOMEM, "out of memory for an evaluation batch");
    }
    int cap = p4_model_capacity(model), classes = p4_model_classes(model);
    long long correct = 0;
    double loss_total = 0;
    for (int at = 0; at < count; at += cap) {
        int n = count - at < cap ? count - at : cap;
        p4_dataset_batch(ds, indices + at, n, b.x, NULL);
        p4_model_load_inputs(model, b.x, n);
        p4_model_forward(model, 0);
        const float *p = p4_model_probabilities(model);
        for (int i = 0; i < n; i++) {
            const float *row = p + (size_t)i * classes;
            int best = 0, label = ds->labels[indices[at + i]];
            for (int k = 1; k < classes; k++)
                if (row[k] > row[best])
                    best = k;
            correct += best == label;
            loss_total -= log(row[label] > 1e-12f ? row[label] : 1e-12f);
        }
    }
    buffers_free(&b);
    if (accuracy != NULL)
        *accuracy = count > 0 ? (double)correct / count : 0;
    if (mean_loss != NULL)
        *mean_loss = count > 0 ? loss_total / count : 0;
    return P4_OK;
}
