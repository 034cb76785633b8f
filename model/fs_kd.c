/* fs_kd.c: see fs_kd.h. */
#include "model/fs_kd.h"

#include <stddef.h>

double p4_kd_log_sum_exp(const p4_kd_math *math, const float *z, int c, double t)
{
    double top = z[0];
    for (int k = 1; k < c; k++)
        if (z[k] > top)
            top = z[k];
    double sum = 0.0;
    for (int k = 0; k < c; k++)
        sum += math->exp((z[k] - top) / t);
    return top / t + math->log(sum);
}

void p4_kd_softmax_row(const p4_kd_math *math, const float *z, int c, double t, float *out)
{
    double lse = p4_kd_log_sum_exp(math, z, c, t);
    for (int k = 0; k < c; k++)
        out[k] = (float)math->exp(z[k] / t - lse);
}

double p4_kd_loss_rows(const p4_kd_math *math, const float *logits, const float *teacher_probs,
                       const float *onehot, int n, int c, double alpha, double temperature,
                       float *delta)
{
    const double t = temperature;
    double total = 0.0;
    for (int i = 0; i < n; i++) {
        const float *z = logits + (size_t)i * c;
        double lse1 = alpha < 1 ? p4_kd_log_sum_exp(math, z, c, 1.0) : 0.0;
        double lset = alpha > 0 ? p4_kd_log_sum_exp(math, z, c, t) : 0.0;
        double ce = 0.0, kl = 0.0;
        for (int k = 0; k < c; k++) {
            size_t at = (size_t)i * c + k;
            double d = 0.0;
            if (alpha < 1) {
                double log_s = z[k] - lse1;
                ce -= onehot[at] * log_s;
                d += (1 - alpha) * (onehot[at] - math->exp(log_s));
            }
            if (alpha > 0) {
                double log_q = z[k] / t - lset, p = teacher_probs[at];
                if (p > 0) /* 0 log 0 = 0 */
                    kl += p * (math->log(p) - log_q);
                d += alpha * t * (p - math->exp(log_q));
            }
            if (delta != NULL)
                delta[at] = (float)d;
        }
        total += (1 - alpha) * ce + alpha * t * t * kl;
    }
    return total;
}
