/* aggregate.h: combining k peers' flat vectors (proxy weights) into one.
 *
 * A P4 group averages its members' proxies.  Plain averaging lets one bad
 * peer drag the result anywhere; multi-Krum (Blanchard et al., NeurIPS 2017)
 * averages only the vectors that sit closest to the others. */
#ifndef P4_DISTILL_AGGREGATE_H
#define P4_DISTILL_AGGREGATE_H

#include <stddef.h>

#include "common/error.h"

/* out[j] = mean over the k vectors of vectors[i][j] (accumulated in double).
 * out may be one of the inputs.  Returns P4_OK or P4_EINVAL. */
int p4_aggregate_mean(const float *const *vectors, int k, size_t d, float *out,
                      p4_error *err);

/* Multi-Krum assuming at most f of the k vectors are Byzantine: each vector's
 * score is the sum of squared L2 distances to its k - f - 2 nearest others
 * (a vector with a non-finite coordinate is infinitely far from all); the m
 * lowest-scoring vectors (lowest index on ties) are averaged into out, and
 * selected[i] (if not NULL) is set to 1 for them and 0 otherwise.  Needs
 * f >= 0, k > 2f + 2 and 1 <= m <= k - f; otherwise returns P4_EINVAL with a
 * message (use p4_aggregate_mean for groups too small for that f).
 * out may be one of the inputs.  Returns P4_OK, P4_EINVAL or P4_ENOMEM. */
int p4_aggregate_multi_krum(const float *const *vectors, int k, size_t d, int f, int m,
                            float *out, int *selected, p4_error *err);

#endif
