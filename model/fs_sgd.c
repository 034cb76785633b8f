/* fs_sgd.c: see fs_sgd.h. */
#include "model/fs_sgd.h"

void p4_sgd_tensor_step(float *value, const float *update, float *velocity, size_t count,
                        float scale, float learning_rate, float momentum, float decay)
{
    for (size_t k = 0; k < count; k++) {
        float g = scale * update[k] + decay * value[k];
        velocity[k] = momentum * velocity[k] + g;
        value[k] -= learning_rate * velocity[k];
    }
}
