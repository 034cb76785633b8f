/* ta_conv.c: see ta_conv.h.  The kernels are model/fs_conv.c's (shared
 * with the normal world's tests against darknet); this file only maps the
 * TA's layer description onto them and keeps the per-example gradients a
 * convolution's DP clipping needs: unlike a dense layer's, a
 * convolution's per-example gradient norm does not factor into norms of
 * the delta and the input, so each is materialised (as dp/per_example.c
 * does in the normal world). */
#include "ta_conv.h"

#include "model/fs_conv.h"

#include <stddef.h>

static p4_fs_conv_shape shape_of(const p4_ta_dense *d)
{
    p4_fs_conv_shape s = { 0 };
    /* LAYERS_LOAD checked the fields (p4_ta_layer_shape_ok): this holds */
    p4_fs_conv_shape_init(&s, (int)d->c, (int)d->h, (int)d->w, (int)d->filters, (int)d->size,
                          (int)d->stride, (int)d->pad);
    return s;
}

void p4_ta_conv_forward(const p4_ta_dense *d, const float *w, const float *b, const float *in,
                        float *out, uint32_t m)
{
    p4_fs_conv_shape s = shape_of(d);
    p4_fs_conv_forward(out, in, w, b, (int)m, &s, (p4_activation)d->activation);
}

void p4_ta_conv_example_gradients(const p4_ta_dense *d, const float *in, const float *out,
                                  float *delta, float *per_example, double *norms, uint32_t m)
{
    p4_fs_conv_shape s = shape_of(d);
    p4_activation_gradient(out, (int)(m * d->outputs), (p4_activation)d->activation, delta);
    size_t stride = (size_t)p4_ta_layer_pass_floats(d);
    for (uint32_t i = 0; i < m; i++)
        norms[i] += p4_fs_conv_example_gradient(delta + (size_t)i * d->outputs,
                                                in + (size_t)i * d->inputs,
                                                per_example + i * stride, &s);
}

void p4_ta_conv_input_delta(const p4_ta_dense *d, const float *w, const float *delta,
                            float *below, uint32_t m)
{
    p4_fs_conv_shape s = shape_of(d);
    p4_fs_conv_input_delta(delta, w, below, (int)m, &s);
}

void p4_ta_conv_add_clipped(const p4_ta_dense *d, const float *per_example, const float *factor,
                            float *w_grad, float *b_grad, uint32_t m)
{
    size_t nw = (size_t)p4_ta_layer_weights(d), stride = (size_t)p4_ta_layer_pass_floats(d);
    for (size_t k = 0; k < stride; k++) {
        double sum = 0;
        for (uint32_t i = 0; i < m; i++)
            sum += (double)factor[i] * per_example[i * stride + k];
        if (k < nw)
            w_grad[k] += (float)sum;
        else
            b_grad[k - nw] += (float)sum;
    }
}
