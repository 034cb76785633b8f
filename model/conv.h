/* conv.h: what p4's interposed convolutional layer (model/conv.c) shares
 * with the per-example DP pass (dp/per_example.c). */
#ifndef P4_MODEL_CONV_H
#define P4_MODEL_CONV_H

/* One example's input delta of a convolutional layer: W^T delta into the
 * column buffer col (k*k*c x out_h*out_w floats), then col2im added into
 * dx.  (darknet's struct layer; include darknet.h first.) */
struct layer;
void p4_conv_input_delta(const struct layer *l, const float *delta, float *col, float *dx);

#endif
