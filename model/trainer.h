/* trainer.h: non-private training and evaluation of one model on a split.
 *
 * One step: load the batch, forward through darknet, write the loss
 * gradient into the logits' delta, darknet backward, SGD step.  An epoch
 * visits the client's examples once in an order drawn from `rng`. */
#ifndef P4_MODEL_TRAINER_H
#define P4_MODEL_TRAINER_H

#include "common/error.h"
#include "common/rng.h"
#include "datasets/dataset.h"
#include "model/model.h"
#include "model/optimizer.h"
#include "model/step_phases.h"

typedef struct p4_epoch_stats {
    double mean_loss;     /* mean cross-entropy over the epoch's examples */
    long long examples;
    long long steps;
    double seconds;
} p4_epoch_stats;

/* Reports progress (done of total examples) during an epoch; may be NULL. */
typedef void p4_progress_fn(void *user, long long done, long long total);

/* One plain step on n examples with target distributions (n x classes),
 * run in passes of the model's capacity. */
int p4_train_step(p4_model *model, p4_sgd *sgd, const float *x,
                  const float *targets, int n, double *loss_sum);
/* The same step, adding each phase's wall time to *phases (forward,
 * backward, update; may be NULL): the profile of bench_train --profile. */
int p4_train_step_phases(p4_model *model, p4_sgd *sgd, const float *x,
                         const float *targets, int n, double *loss_sum,
                         p4_step_phases *phases);

/* One epoch over indices[0..count) of ds in steps of the model's batch. */
int p4_train_epoch(p4_model *model, p4_sgd *sgd, const p4_dataset *ds,
                   const int *indices, int count, p4_rng *rng,
                   p4_progress_fn *progress, void *user,
                   p4_epoch_stats *stats, p4_error *err);

/* Accuracy (fraction correct) and mean cross-entropy on indices of ds. */
int p4_evaluate(p4_model *model, const p4_dataset *ds, const int *indices,
                int count, double *accuracy, double *mean_loss, p4_error *err);

#endif
