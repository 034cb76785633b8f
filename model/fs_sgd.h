/* fs_sgd.h: p4's SGD step with momentum and weight decay on one parameter
 * tensor, freestanding, so the normal world (model/optimizer.c) and the
 * OP-TEE TA's protected layers update with the same code:
 *     g = scale * update + decay * value;  v = momentum v + g;  value -= lr v
 * (scale = -1 / divisor: updates hold darknet's summed negative gradient). */
#ifndef P4_MODEL_FS_SGD_H
#define P4_MODEL_FS_SGD_H

#include <stddef.h>

void p4_sgd_tensor_step(float *value, const float *update, float *velocity, size_t count,
                        float scale, float learning_rate, float momentum, float decay);

#endif
