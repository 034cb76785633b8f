/* fs_maxpool.h: a max-pool layer as pure functions over plain arrays,
 * freestanding, for the OP-TEE TA's protected layers.  Darknet's max-pool
 * (tests/test_fs_conv.c checks it against the layer p4 runs):
 *   in [batch][c][h][w], out [batch][c][out_h][out_w],
 *   out_h = (h + padding - size) / stride + 1, windows start at
 *   -padding/2; each output is its window's largest value inside the input
 *   (the first on ties), and index records where it came from. */
#ifndef P4_MODEL_FS_MAXPOOL_H
#define P4_MODEL_FS_MAXPOOL_H

#include <stdint.h>

typedef struct {
    int c, h, w;
    int size, stride, padding; /* darknet's `padding` (default size - 1) */
    int out_h, out_w;          /* p4_fs_maxpool_shape_init fills them */
} p4_fs_maxpool_shape;

/* Fills out_h and out_w; 0 if the shape is malformed or a window could lie
 * wholly outside the input. */
int p4_fs_maxpool_shape_init(p4_fs_maxpool_shape *s, int c, int h, int w, int size, int stride,
                             int padding);

static inline int p4_fs_maxpool_outputs(const p4_fs_maxpool_shape *s)
{
    return s->c * s->out_h * s->out_w;
}

/* index[k]: the input element (counted over the whole batch, as darknet's
 * indexes) that output k took. */
void p4_fs_maxpool_forward(float *out, int32_t *index, const float *in, int batch,
                           const p4_fs_maxpool_shape *s);

/* in_delta[index[k]] += delta[k]: each output's gradient goes to the
 * element that won its window. */
void p4_fs_maxpool_backward(const float *delta, const int32_t *index, float *in_delta,
                            int batch, const p4_fs_maxpool_shape *s);

#endif
