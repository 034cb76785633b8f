/* group_widen.c: the grouping's separation; see group_widen.h. */
#include "cluster/group_widen.h"

#include <math.h>
#include <stddef.h>

int p4_group_separation(const double *dist, const unsigned char *known, int n,
                        const int *group_of, double *separation, p4_error *err)
{
    if (!dist || !group_of || !separation || n < 1)
        return p4_error_set(err, P4_EINVAL, "group separation: bad arguments");
    double within = 0, all = 0, all2 = 0;
    long long nwithin = 0, nall = 0;
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++) {
            size_t at = (size_t)i * n + j;
            if (known && !known[at])
                continue;
            double d = dist[at];
            if (!isfinite(d) || d < 0)
                return p4_error_set(err, P4_EINVAL, "group separation: distance (%d, %d) is %g",
                                    i, j, d);
            all += d;
            all2 += d * d;
            nall++;
            if (group_of[i] == group_of[j]) {
                within += d;
                nwithin++;
            }
        }
    double mean = nall ? all / nall : 0, var = nall ? all2 / nall - mean * mean : 0;
    double sd = var > 0 ? sqrt(var) : 0;
    *separation = nwithin == 0 || !(sd > 1e-12 * (mean > 0 ? mean : 1))
                      ? 0.0
                      : (mean - within / nwithin) / sd;
    return P4_OK;
}
