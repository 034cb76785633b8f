/* conv_same.h: a stride-1 "same" convolution with few filters (CNN1's two
 * layers), computed without its column image.
 *
 * im2col writes k*k copies of the input (110 KB per example for CNN1's first
 * layer on 32x32x3 images), once forward and again for the weight gradient:
 * with the products now quick (model/small_gemm.c), those copies were 18% of
 * a CNN1 32x32x3 DP step (perf).  Instead the input is copied once into
 * zero-bordered planes of width W + 2 pad, and row (c, ky, kx) of the
 * column image becomes a pointer into them, offset by ky (W + 2 pad) + kx.
 * Computed on that wider grid, an output row has 2 pad extra columns; the
 * forward drops them, and the weight gradient zeroes them in a copy of the
 * deltas so they add nothing.  Equal to the im2col products up to float
 * rounding (tests/test_conv.c against darknet's layers). */
#ifndef P4_MODEL_CONV_SAME_H
#define P4_MODEL_CONV_SAME_H

#include <stddef.h>

/* (darknet's struct layer; include darknet.h first.) */
struct layer;

/* Whether l is such a layer (stride 1, 2 pad = size - 1, at most
 * P4_FEW_ROWS_MAX filters, 32 pad <= width so the wider grid costs little)
 * and its scratch fits in `scratch_floats`. */
int p4_conv_same_applies(const struct layer *l, size_t scratch_floats);

/* One example: out (filters x out_h*out_w) = weights x columns(input),
 * without bias. */
void p4_conv_same_forward(const struct layer *l, const float *input, float *scratch, float *out);

/* One example's weight gradient: g (filters x k*k*c) = beta g + delta x
 * columns(input)^T; beta is 0 or 1. */
void p4_conv_same_weight_gradient(const struct layer *l, const float *input, const float *delta,
                                  float *scratch, float beta, float *g);

/* The input delta of a stride-1 same layer is itself a same convolution:
 * of the output deltas (filters planes of out_h x out_w), with the weights
 * flipped in both spatial axes and filters and channels swapped, giving
 * c planes.  Computed that way it needs no column image and no col2im
 * pass, and its product is a few-rows one (c rows: the layer's input
 * channels).  Whether l is such a layer (at most P4_FEW_ROWS_MAX input
 * channels) and its scratch fits in `scratch_floats`. */
int p4_conv_same_input_delta_applies(const struct layer *l, size_t scratch_floats);

/* The flipped, swapped weights: c x (filters x size x size) floats, i.e.
 * flipped[c][f][ky][kx] = weights[f][c][size-1-ky][size-1-kx]. */
void p4_conv_same_flip_weights(const struct layer *l, float *flipped);

/* One example: dx (c x h x w) += the input delta of `delta`
 * (filters x out_h*out_w), as darknet's im2col route adds it. */
void p4_conv_same_input_delta(const struct layer *l, const float *flipped, const float *delta,
                              float *scratch, float *dx);

#endif
