/* kd_loss.c: distillation loss and tempered softmax; see kd_loss.h.  The
 * maths is model/fs_kd.c's, shared with the OP-TEE TA; here it runs on
 * libm's exp and log and gets its arguments checked. */
#include "distill/kd_loss.h"

#include <math.h>
#include <stddef.h>

#include "model/fs_kd.h"

static const p4_kd_math libm_math = { exp, log };

int p4_softmax_temperature(const float *logits, int n, int c, double temperature,
                           float *probs)
{
    if (logits == NULL || probs == NULL || n < 0 || c < 1 || !isfinite(temperature) ||
        temperature <= 0)
        return P4_EINVAL;
    for (int i = 0; i < n; i++)
        p4_kd_softmax_row(&libm_math, logits + (size_t)i * c, c, temperature,
                          probs + (size_t)i * c);
    return P4_OK;
}

double p4_kd_loss(const float *logits, const float *teacher_probs, const float *onehot,
                  int n, int c, double alpha, double temperature, float *delta)
{
    if (logits == NULL || n < 0 || c < 1 || !(alpha >= 0 && alpha <= 1) ||
        !isfinite(temperature) || temperature <= 0 ||
        (alpha > 0 && teacher_probs == NULL) || (alpha < 1 && onehot == NULL))
        return NAN;
    return p4_kd_loss_rows(&libm_math, logits, teacher_probs, onehot, n, c, alpha, temperature,
                           delta);
}
