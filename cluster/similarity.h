/* similarity.h: distances between clients' flattened model vectors.
 *
 * P4 groups clients by how alike their proxy models are; a client compares
 * one layer (a coordinate range of the flat vector) with a peer's. */
#ifndef P4_CLUSTER_SIMILARITY_H
#define P4_CLUSTER_SIMILARITY_H

#include <stddef.h>

#include "common/error.h"

/* L1 distance sum |a[k] - b[k]| over k in [offset, offset + length) of two
 * vectors of `total` floats each, accumulated in double.  Fails with
 * P4_EINVAL when the range does not lie inside [0, total) or a pointer is
 * NULL; a length of 0 gives 0. */
int p4_l1_distance(const float *a, const float *b, size_t offset, size_t length,
                   size_t total, double *out, p4_error *err);

#endif
