/* fs_activation.h: element-wise activations and their gradients as pure
 * functions over plain arrays, freestanding, so the normal world (darknet's
 * hooks in model/activation.c) and the OP-TEE TA run the same code.  The
 * expressions are darknet's, bit for bit (tests/test_activation.c,
 * tests/test_fs_layers.c). */
#ifndef P4_MODEL_FS_ACTIVATION_H
#define P4_MODEL_FS_ACTIVATION_H

typedef enum {
    P4_ACT_LINEAR,
    P4_ACT_RELU,
    P4_ACT_LEAKY,
    P4_ACT_LOGISTIC
} p4_activation;

/* x[i] = activation(x[i]). */
void p4_activation_forward(float *x, int n, p4_activation a);
/* delta[i] *= activation'(...) given the activated outputs x, as darknet. */
void p4_activation_gradient(const float *x, int n, p4_activation a, float *delta);

#endif
