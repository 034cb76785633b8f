/* finite.c: see finite.h. */
#include "common/finite.h"

#include <math.h>

size_t p4_first_non_finite(const float *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return i;
    return n;
}
