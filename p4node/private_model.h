/* private_model.h: a node's personalised private model in its state folder,
 * saved when a run finishes and loaded by `p4 serve`.
 *
 *   state/private.cfg      the darknet model definition, copied verbatim
 *   state/private.weights  its trained weights (p4node/weights_file.h),
 *                          bound to that definition by its digest
 * Both mode 0600, each written to a temporary file and renamed, so a crash
 * leaves the previous pair or none, never half a file.  The private model
 * is what P4 never shares: only this node's own serving process reads it.
 * With [p4] predict = ensemble the node's proxy is saved beside it the same
 * way (p4_served_proxy_save, below). */
#ifndef P4_NODE_PRIVATE_MODEL_H
#define P4_NODE_PRIVATE_MODEL_H

#include <stddef.h>

#include "common/error.h"
#include "model/model.h"

#define P4_PRIVATE_CFG_NAME "private.cfg"
#define P4_PRIVATE_WEIGHTS_NAME "private.weights"
#define P4_PROXY_CFG_NAME "proxy.cfg"
#define P4_PROXY_WEIGHTS_NAME "proxy.weights"
#define P4_ENSEMBLE_NAME "ensemble"

/* Saves the model built from cfg_path (for inputs of shape) with weights
 * params[0..count) into state_dir. */
int p4_private_model_save(const char *state_dir, const char *cfg_path, const p4_cfg_shape *shape,
                          const float *params, size_t count, p4_error *err);

/* Loads state_dir's private model for predictions of up to `batch` inputs
 * at a time.  P4_EIO naming the file when there is none (the node has not
 * finished a run), P4_EFORMAT / P4_EMODEL when the files are damaged or do
 * not belong together.  *shape (may be NULL) gets the input shape. */
int p4_private_model_load(const char *state_dir, int batch, p4_model **out, p4_cfg_shape *shape,
                          p4_error *err);

/* [p4] predict = ensemble: the proxy the node predicts with beside its
 * private model, saved the same way (proxy.cfg, proxy.weights), and the
 * file `ensemble` ("proxy_weight W"), written last.  `p4 serve` then
 * answers with distill/ensemble.h's combination.  proxy_weight < 0: the
 * node predicts with its private model alone, and the ensemble file of an
 * earlier run is removed (the proxy files are then unused). */
int p4_served_proxy_save(const char *state_dir, const char *cfg_path, const p4_cfg_shape *shape,
                         const float *params, size_t count, double proxy_weight, p4_error *err);

/* The saved proxy and its weight when the ensemble file exists; *out NULL
 * and *proxy_weight 0 when it does not; *shape (may be NULL) gets the
 * proxy's input shape.  P4_EFORMAT for a damaged ensemble
 * file, and p4_private_model_load's errors for the proxy's files. */
int p4_served_proxy_load(const char *state_dir, int batch, p4_model **out, double *proxy_weight,
                         p4_cfg_shape *shape, p4_error *err);

#endif
