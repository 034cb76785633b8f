/* rand_index.h: agreement between two partitions (adjusted Rand index).
 *
 * Used to score a grouping against the clients' true clusters. */
#ifndef P4_CLUSTER_RAND_INDEX_H
#define P4_CLUSTER_RAND_INDEX_H

/* Hubert-Arabie adjusted Rand index of two labelings of n items (labels are
 * any ints; only equality matters).  1.0 for identical partitions up to
 * relabelling, including the degenerate cases where both put everything in
 * one cluster or both make every item its own cluster (and n < 2); about 0
 * for independent partitions; may be negative.  NAN for NULL labels, n < 0
 * or when memory runs out. */
double p4_adjusted_rand_index(const int *a, const int *b, int n);

#endif
