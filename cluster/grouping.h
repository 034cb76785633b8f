/* grouping.h: P4's private grouping of clients into small peer groups.
 *
 * Each client measures its distance (e.g. p4_l1_distance of proxy layers)
 * only to a few sampled peers; from that partial distance matrix the
 * clients are grouped so that similar clients end up co-training together,
 * in groups of at most V (P4, arXiv 2405.17697):
 *   (a) mutual nearest known peers form pairs;
 *   (b) remaining clients pair with their nearest remaining known peer,
 *       closest pairs first;
 *   (c) clients with no remaining known peer pair at random; an odd one out
 *       joins the group nearest to it (mean known distance; a random group
 *       if it knows nobody in any group);
 *   (d) groups merge, smallest average-linkage distance first (mean over the
 *       known cross pairs; groups with no known cross pair merge last),
 *       while the merged size stays <= V, until no merge fits.
 * Groups smaller than V (when V does not divide n) stay as they are, but no
 * client is ever alone when n >= 2.  V = 2 with n odd leaves one group of 3.
 * Ties always go to the lower index; the result depends only on the inputs
 * and the rng state. */
#ifndef P4_CLUSTER_GROUPING_H
#define P4_CLUSTER_GROUPING_H

#include "cluster/rand_index.h"
#include "common/error.h"
#include "common/rng.h"

/* Peer sampling: each of n clients samples min(h, n - 1) distinct other
 * clients uniformly (h <= 0: all of them).  known is an n x n row-major
 * matrix, written completely: known[i*n+j] = known[j*n+i] = 1 when i sampled
 * j or j sampled i, else 0 (diagonal 0).  rng may be NULL only when nobody
 * needs sampling (h <= 0 or h >= n - 1). */
int p4_grouping_sample_peers(int n, int h, p4_rng *rng, unsigned char *known,
                             p4_error *err);

typedef struct p4_grouping_params {
    int group_size; /* V >= 2: the largest group merging may build */
} p4_grouping_params;

/* Groups n clients from the n x n row-major distance matrix dist, of which
 * only the entries with known[i*n+j] != 0 are read (known NULL: all are
 * known).  Known entries must be finite, >= 0 and symmetric, and known must
 * be symmetric.  Writes group_of[i] in 0..g-1 (groups numbered in the order
 * of their smallest member) and *ngroups = g.  rng (required) breaks step
 * (c).  Returns P4_OK, P4_EINVAL (naming the bad entry) or P4_ENOMEM. */
int p4_group_clients(const double *dist, const unsigned char *known, int n,
                     const p4_grouping_params *params, p4_rng *rng, int *group_of,
                     int *ngroups, p4_error *err);

#endif
