/* similarity.c: L1 distance over a coordinate range; see similarity.h. */
#include "cluster/similarity.h"

#include <math.h>

int p4_l1_distance(const float *a, const float *b, size_t offset, size_t length,
                   size_t total, double *out, p4_error *err)
{
    if (a == NULL || b == NULL || out == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_l1_distance: NULL vector or output");
    /* written as two comparisons so offset + length cannot wrap around */
    if (offset > total || length > total - offset)
        return p4_error_set(err, P4_EINVAL,
                            "p4_l1_distance: range [%zu, %zu + %zu) exceeds vector length %zu",
                            offset, offset, length, total);
    double sum = 0.0;
    for (size_t k = offset; k < offset + length; k++)
        sum += fabs((double)a[k] - (double)b[k]);
    *out = sum;
    return P4_OK;
}
