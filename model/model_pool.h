/* model_pool.h: built networks lent to whichever client is computing.
 *
 * Many clients in one process (`p4 sim`) each own their parameters, but only
 * a few compute at once.  A parked client keeps its parameters as flat
 * vectors (distill/client.h) and borrows a network built from the same cfg,
 * shape and batch only while it trains or evaluates, so the process holds
 * about as many darknet networks (and their layer buffers) as clients
 * compute at once, not one per client.  Thread-safe. */
#ifndef P4_MODEL_MODEL_POOL_H
#define P4_MODEL_MODEL_POOL_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "model/model.h"

typedef struct p4_model_pool p4_model_pool;

int p4_model_pool_new(p4_model_pool **out, p4_error *err);
/* Frees the idle models; every lent model must have been given back. */
void p4_model_pool_destroy(p4_model_pool **pool);

/* A model for (cfg_path, shape, batch): an idle one or a new one.  With a
 * seed its weights are drawn from it as p4_model_new draws them; with seed
 * NULL an idle model keeps whatever weights it had (the caller sets them).
 * The caller owns it until p4_model_pool_give. */
int p4_model_pool_take(p4_model_pool *pool, const char *cfg_path, const p4_cfg_shape *shape,
                       int batch, const uint64_t *seed, p4_model **out, p4_error *err);
/* Gives a model back (sets *model = NULL); its contents are left as they are. */
void p4_model_pool_give(p4_model_pool *pool, p4_model **model);

/* Models built so far, and how many of them are lent now. */
void p4_model_pool_counts(p4_model_pool *pool, int *built, int *lent);

#endif
