/* fs_conv.h: a convolutional layer as pure functions over plain arrays,
 * freestanding, for the OP-TEE TA's protected layers.  Shapes and
 * conventions are darknet's convolutional layer without batch
 * normalisation, groups or binarisation (CNN1's), so results agree with it
 * (tests/test_fs_conv.c):
 *   in  [batch][c][h][w], w [filters][c][size][size], b [filters],
 *   out [batch][filters][out_h][out_w] = activation(conv(in, w) + b),
 *   out_h = (h + 2 pad - size) / stride + 1 (likewise out_w);
 *   delta is darknet's: the *negative* loss gradient. */
#ifndef P4_MODEL_FS_CONV_H
#define P4_MODEL_FS_CONV_H

#include "model/fs_activation.h"

typedef struct {
    int c, h, w;              /* input channels, height, width */
    int filters, size, stride, pad;
    int out_h, out_w;         /* p4_fs_conv_shape fills them */
} p4_fs_conv_shape;

/* Fills out_h and out_w; 0 if the shape is malformed (a dimension below
 * 1, a window larger than the padded input, a pad beyond the window). */
int p4_fs_conv_shape_init(p4_fs_conv_shape *s, int c, int h, int w, int filters, int size,
                          int stride, int pad);

static inline int p4_fs_conv_weights(const p4_fs_conv_shape *s)
{
    return s->filters * s->c * s->size * s->size;
}

static inline int p4_fs_conv_outputs(const p4_fs_conv_shape *s)
{
    return s->filters * s->out_h * s->out_w;
}

void p4_fs_conv_forward(float *out, const float *in, const float *w, const float *b,
                        int batch, const p4_fs_conv_shape *s, p4_activation act);

/* One example's gradient from its input [c][h][w] and its delta at the
 * pre-activation [filters][out_h][out_w], *stored* into g: the weights'
 * (p4_fs_conv_weights floats, w's layout) then the biases' (filters).
 * Returns its squared L2 norm (DP-SGD clips with it). */
double p4_fs_conv_example_gradient(const float *delta, const float *in, float *g,
                                   const p4_fs_conv_shape *s);

/* in_delta [batch][c][h][w] += the gradient at the inputs, from delta at
 * the pre-activation: the transposed convolution with w. */
void p4_fs_conv_input_delta(const float *delta, const float *w, float *in_delta, int batch,
                            const p4_fs_conv_shape *s);

#endif
