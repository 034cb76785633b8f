/* ta_maxpool.c: see ta_maxpool.h; the kernels are model/fs_maxpool.c's. */
#include "ta_maxpool.h"

#include "model/fs_maxpool.h"

static p4_fs_maxpool_shape shape_of(const p4_ta_dense *d)
{
    p4_fs_maxpool_shape s = { 0 };
    /* LAYERS_LOAD checked the fields (p4_ta_layer_shape_ok): this holds */
    p4_fs_maxpool_shape_init(&s, (int)d->c, (int)d->h, (int)d->w, (int)d->size, (int)d->stride,
                             (int)d->pad);
    return s;
}

void p4_ta_maxpool_forward(const p4_ta_dense *d, const float *in, float *out, int32_t *winners,
                           uint32_t m)
{
    p4_fs_maxpool_shape s = shape_of(d);
    p4_fs_maxpool_forward(out, winners, in, (int)m, &s);
}

void p4_ta_maxpool_input_delta(const p4_ta_dense *d, const float *delta,
                               const int32_t *winners, float *below, uint32_t m)
{
    p4_fs_maxpool_shape s = shape_of(d);
    p4_fs_maxpool_backward(delta, winners, below, (int)m, &s);
}
