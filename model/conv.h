/* conv.h: what p4's interposed convolutional layer (model/conv.c) shares
 * with the per-example DP pass (dp/per_example.c). */
#ifndef P4_MODEL_CONV_H
#define P4_MODEL_CONV_H

/* One example's input delta of a convolutional layer, added into dx:
 * with flipped weights (p4_conv_flipped_weights_new), as a same
 * convolution of the deltas (model/conv_same.h); with NULL, W^T delta into
 * the column buffer col (k*k*c x out_h*out_w floats), then col2im.  col is
 * the scratch either way.  (darknet's struct layer; include darknet.h
 * first.) */
struct layer;
void p4_conv_input_delta(const struct layer *l, const float *flipped, const float *delta,
                         float *col, float *dx);

/* The layer's weights flipped for p4_conv_input_delta (malloc'd; free()
 * them), or NULL when that route does not apply to l (or no memory): the
 * caller then passes NULL.  Made once per backward pass: they change with
 * every update. */
float *p4_conv_flipped_weights_new(const struct layer *l);

/* One example's weight gradient from its input (c x h x w) and output
 * deltas (filters x out_h*out_w), stored into g (beta 0) or added to it
 * (beta 1): filters x k*k*c floats.  scratch: k*k*c*out_h*out_w floats (a
 * column image's worth). */
void p4_conv_example_weight_gradient(const struct layer *l, const float *input,
                                     const float *delta, float *scratch, float beta, float *g);

#endif
