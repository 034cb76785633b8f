/* loss.h: the losses p4 trains with, written as the gradient darknet wants.
 *
 * darknet's backward pass starts from each layer's `delta`, which holds the
 * NEGATIVE gradient of the loss with respect to that layer's output.  For a
 * softmax output p = softmax(z) and targets t (one-hot labels, or any
 * distribution), cross-entropy L = -sum_k t_k log p_k has dL/dz = p - t, so
 * the delta of the logits is t - p. */
#ifndef P4_MODEL_LOSS_H
#define P4_MODEL_LOSS_H

/* Writes delta[i][k] = t[i][k] - p[i][k] for n rows of `classes` and returns
 * the summed cross-entropy (not averaged). */
double p4_loss_cross_entropy(const float *probs, const float *targets, int n,
                             int classes, float *delta);

#endif
