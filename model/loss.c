/* loss.c: cross-entropy in darknet's delta convention; see loss.h. */
#include "model/loss.h"

#include <math.h>
#include <stddef.h>

double p4_loss_cross_entropy(const float *probs, const float *targets, int n,
                             int classes, float *delta)
{
    double total = 0.0;
    for (int i = 0; i < n; i++) {
        const float *p = probs + (size_t)i * classes;
        const float *t = targets + (size_t)i * classes;
        float *d = delta + (size_t)i * classes;
        for (int k = 0; k < classes; k++) {
            d[k] = t[k] - p[k];
            if (t[k] > 0.0f)
                total -= t[k] * log(p[k] > 1e-12f ? p[k] : 1e-12f);
        }
    }
    return total;
}
