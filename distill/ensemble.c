/* ensemble.c: see ensemble.h. */
#include "distill/ensemble.h"

#include <stddef.h>

int p4_ensemble_combine(const float *private_probs, const float *proxy_probs, int n, int classes,
                        double proxy_weight, float *out, int *labels)
{
    if (!private_probs || !proxy_probs || !out || n < 0 || classes < 1 ||
        !(proxy_weight >= 0 && proxy_weight <= 1))
        return P4_EINVAL;
    for (int i = 0; i < n; i++) {
        size_t row = (size_t)i * classes;
        int best = 0;
        for (int k = 0; k < classes; k++) {
            out[row + k] = (float)((1 - proxy_weight) * private_probs[row + k] +
                                   proxy_weight * proxy_probs[row + k]);
            if (out[row + k] > out[row + best])
                best = k;
        }
        if (labels)
            labels[i] = best;
    }
    return P4_OK;
}
