/* kd_loss.c: distillation loss and tempered softmax; see kd_loss.h.
 *
 * Everything goes through log-softmax, log q_k = z_k / T - logsumexp(z / T)
 * with the row maximum taken out first, so large logits neither overflow
 * exp() nor turn log(0) into -inf. */
#include "distill/kd_loss.h"

#include <math.h>
#include <stddef.h>

/* log sum_k exp(z_k / t), stable. */
static double log_sum_exp(const float *z, int c, double t)
{
    double top = z[0];
    for (int k = 1; k < c; k++)
        if (z[k] > top)
            top = z[k];
    double sum = 0.0;
    for (int k = 0; k < c; k++)
        sum += exp((z[k] - top) / t);
    return top / t + log(sum);
}

int p4_softmax_temperature(const float *logits, int n, int c, double temperature,
                           float *probs)
{
    if (logits == NULL || probs == NULL || n < 0 || c < 1 || !isfinite(temperature) ||
        temperature <= 0)
        return P4_EINVAL;
    for (int i = 0; i < n; i++) {
        const float *z = logits + (size_t)i * c;
        double lse = log_sum_exp(z, c, temperature);
        for (int k = 0; k < c; k++)
            probs[(size_t)i * c + k] = (float)exp(z[k] / temperature - lse);
    }
    return P4_OK;
}

double p4_kd_loss(const float *logits, const float *teacher_probs, const float *onehot,
                  int n, int c, double alpha, double temperature, float *delta)
{
    if (logits == NULL || n < 0 || c < 1 || !(alpha >= 0 && alpha <= 1) ||
        !isfinite(temperature) || temperature <= 0 ||
        (alpha > 0 && teacher_probs == NULL) || (alpha < 1 && onehot == NULL))
        return NAN;
    const double t = temperature;
    double total = 0.0;
    for (int i = 0; i < n; i++) {
        const float *z = logits + (size_t)i * c;
        double lse1 = alpha < 1 ? log_sum_exp(z, c, 1.0) : 0.0;
        double lset = alpha > 0 ? log_sum_exp(z, c, t) : 0.0;
        double ce = 0.0, kl = 0.0;
        for (int k = 0; k < c; k++) {
            size_t at = (size_t)i * c + k;
            double d = 0.0;
            if (alpha < 1) {
                double log_s = z[k] - lse1;
                ce -= onehot[at] * log_s;
                d += (1 - alpha) * (onehot[at] - exp(log_s));
            }
            if (alpha > 0) {
                double log_q = z[k] / t - lset, p = teacher_probs[at];
                if (p > 0) /* 0 log 0 = 0 */
                    kl += p * (log(p) - log_q);
                d += alpha * t * (p - exp(log_q));
            }
            if (delta != NULL)
                delta[at] = (float)d;
        }
        total += (1 - alpha) * ce + alpha * t * t * kl;
    }
    return total;
}
