/* ensemble.h: predicting with both of a client's models ([p4] predict =
 * ensemble): the class probabilities (1 - w) p_private + w p_proxy, and
 * their argmax.  The proxy is a DP output and the private model never
 * leaves the client, so predicting with both costs no privacy; the group's
 * proxy knows what the client's own data could not teach its private model.
 * `p4 sim`, `p4 node` and `p4 serve` all combine through this one function. */
#ifndef P4_DISTILL_ENSEMBLE_H
#define P4_DISTILL_ENSEMBLE_H

#include "common/error.h"

/* out[i][k] = (1 - proxy_weight) private_probs[i][k] + proxy_weight
 * proxy_probs[i][k] for n rows of `classes`, and labels[i] (may be NULL) its
 * argmax, the lowest class on a tie.  out may be either input.  P4_EINVAL
 * for NULL inputs, n < 0, classes < 1 or a weight outside [0, 1]. */
int p4_ensemble_combine(const float *private_probs, const float *proxy_probs, int n, int classes,
                        double proxy_weight, float *out, int *labels);

#endif
