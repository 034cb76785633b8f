/* fs_softmax.h: softmax with temperature over plain arrays, freestanding
 * (the OP-TEE TA's last protected layer; its top-1 is all that leaves). */
#ifndef P4_MODEL_FS_SOFTMAX_H
#define P4_MODEL_FS_SOFTMAX_H

/* out[i] = exp(in[i]/t - max/t) / sum, as darknet's softmax(). */
void p4_softmax(float *out, const float *in, int n, float temperature);

/* Index of the largest of x[0..n), the first on ties; -1 if n < 1. */
int p4_argmax(const float *x, int n);

#endif
