/* group_widen.c: the grouping's structure ratio; see group_widen.h. */
#include "cluster/group_widen.h"

#include <math.h>
#include <stddef.h>

int p4_group_structure(const double *dist, const unsigned char *known, int n,
                       const int *group_of, double *ratio, p4_error *err)
{
    if (!dist || !group_of || !ratio || n < 1)
        return p4_error_set(err, P4_EINVAL, "group structure: bad arguments");
    double within = 0, all = 0;
    long long nwithin = 0, nall = 0;
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++) {
            size_t at = (size_t)i * n + j;
            if (known && !known[at])
                continue;
            if (!isfinite(dist[at]) || dist[at] < 0)
                return p4_error_set(err, P4_EINVAL, "group structure: distance (%d, %d) is %g",
                                    i, j, dist[at]);
            all += dist[at];
            nall++;
            if (group_of[i] == group_of[j]) {
                within += dist[at];
                nwithin++;
            }
        }
    *ratio = nwithin == 0 || all <= 0 ? 1.0 : (within / nwithin) / (all / nall);
    return P4_OK;
}
