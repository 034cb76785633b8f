/* kd_loss.h: Hinton-style knowledge distillation loss on a batch of logits.
 *
 * P4's private model and DP proxy teach each other on every local batch
 * (see distill/client.h).  For a student's logits z, labels y and a
 * teacher's softened distribution p = softmax(teacher / T), each row costs
 *   (1 - alpha) CE(softmax(z), y) + alpha T^2 KL(p || softmax(z / T)).
 * The T^2 keeps the KD gradient's scale independent of T (Hinton et al.
 * 2015).  Gradients follow darknet's convention: delta = -dL/dz. */
#ifndef P4_DISTILL_KD_LOSS_H
#define P4_DISTILL_KD_LOSS_H

#include "common/error.h"

/* Returns the loss summed over the n rows of c logits and, if delta is not
 * NULL, writes delta = (1 - alpha)(y - softmax(z)) + alpha T (p - softmax(z/T)),
 * which is -dL/dz when the rows of y and p sum to 1.  teacher_probs may be
 * NULL when alpha == 0, onehot may be NULL when alpha == 1.  Returns NAN for
 * bad arguments (NULL logits, n < 0, c < 1, alpha outside [0, 1], T not a
 * finite positive number, or a missing input the weights need). */
double p4_kd_loss(const float *logits, const float *teacher_probs, const float *onehot,
                  int n, int c, double alpha, double temperature, float *delta);

/* probs = softmax(logits / T) row by row, computed stably (what a teacher
 * hands to p4_kd_loss).  Returns P4_OK or P4_EINVAL. */
int p4_softmax_temperature(const float *logits, int n, int c, double temperature,
                           float *probs);

#endif
