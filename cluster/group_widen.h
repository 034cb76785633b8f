/* group_widen.h: does a grouping find structure, or would any groups do?
 *
 * P4 groups peers by the L1 distances between their warm-up proxies.  Those
 * proxies are DP-noised, so every distance is mostly noise and all of them
 * are close to their mean (at epsilon 4 on fmnist-p4, the peers grouped
 * together are only 2% closer than the average pair even when the groups
 * are the true clusters).  What tells clusters apart is how far below the
 * mean the grouped pairs sit in units of the spread of all distances: the
 * separation
 *     s = (mean over all known pairs - mean over known pairs in a group)
 *         / (standard deviation over all known pairs).
 * Measured at warm-up (reproducible seeds, docs/results/p4-margin.md):
 * fmnist-p4 (4 latent clusters) 1.2 at epsilon 4 and 1.5 at 8, cifar10-p4
 * 1.6 at 8, femnist-p4 (writers, no latent clusters) 0.01 at 8.  When the
 * data have no clusters, a small group only limits how many peers each
 * proxy learns from; [p4] widen_group_size and widen_separation regroup
 * wider then.  The inputs are the public distances every peer already
 * holds, so every peer reaches the same decision. */
#ifndef P4_CLUSTER_GROUP_WIDEN_H
#define P4_CLUSTER_GROUP_WIDEN_H

#include "common/error.h"

/* *separation = s above for the n x n row-major dist (only entries with
 * known[i*n+j] != 0 are read; known NULL: all) and the grouping group_of.
 * 0 when no pair inside a group is known or all known distances are equal
 * (nothing tells groups apart).  P4_EINVAL for bad arguments or a known
 * distance that is negative or not finite. */
int p4_group_separation(const double *dist, const unsigned char *known, int n,
                        const int *group_of, double *separation, p4_error *err);

#endif
