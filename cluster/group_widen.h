/* group_widen.h: does a grouping find structure, or would random groups do?
 *
 * P4 groups peers by the L1 distances between their warm-up proxies.  When
 * the data have latent clusters, the peers grouped together are much closer
 * than the average pair; when they have none (FEMNIST split by writer), a
 * group is about as far apart as any pair, and a small group only limits
 * how many peers each proxy learns from.  The ratio below tells the two
 * apart, from the same public distances every peer already holds, so every
 * peer reaches the same decision ([p4] widen_group_size, widen_ratio). */
#ifndef P4_CLUSTER_GROUP_WIDEN_H
#define P4_CLUSTER_GROUP_WIDEN_H

#include "common/error.h"

/* *ratio = (mean distance over the known pairs inside a group) / (mean over
 * all known pairs), for the n x n row-major dist (only entries with
 * known[i*n+j] != 0 are read; known NULL: all) and the grouping group_of.
 * Near 1: groups no tighter than random pairs; well below 1: clusters.  1
 * when no pair inside a group is known or all known distances are 0 (nothing
 * to tell groups apart by).  P4_EINVAL for bad arguments or a known
 * distance that is negative or not finite. */
int p4_group_structure(const double *dist, const unsigned char *known, int n,
                       const int *group_of, double *ratio, p4_error *err);

#endif
