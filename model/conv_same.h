/* conv_same.h: a stride-1 "same" convolution (CNN1's two layers), computed
 * without its column image.
 *
 * im2col writes k*k shifted copies of each input plane, once forward and
 * again for the weight gradient (for CNN1 28x28x1 with its copies a fifth
 * of a DP step, perf).  Row (c, ky, kx) of the column image is plane c read
 * from flat offset (ky - pad) W + (kx - pad) on: reads above and below the
 * plane fall into zero gaps between the copies, and a read off one end of
 * a row falls on the other end of the neighbouring row, which is zeroed in
 * the copy made for that kx.  So each plane is copied k times (once per
 * kernel column, with |kx - pad| columns zeroed), not k*k, and the products
 * take a pointer per column-image row (model/small_gemm.h).  They read the
 * same values in the same order as after im2col, so the results are the
 * im2col route's, bit for bit (tests/test_conv.c, test_conv_backward.c). */
#ifndef P4_MODEL_CONV_SAME_H
#define P4_MODEL_CONV_SAME_H

#include <stddef.h>

/* Longest kernel column handled (callers keep a row pointer per tap). */
#define P4_CONV_SAME_MAX_TAPS 256

/* (darknet's struct layer; include darknet.h first.) */
struct layer;

/* Whether l is a stride-1 same layer (2 pad = size - 1, pad < width) whose
 * kernel column has at most P4_CONV_SAME_MAX_TAPS taps and whose copies
 * (about size*c planes) fit in `scratch_floats` (callers pass a column
 * image's worth, size*size*c planes). */
int p4_conv_same_rows_apply(const struct layer *l, size_t scratch_floats);

/* The column image of one example (c x h x w) as row pointers: rows gets
 * size*size*c pointers, each to out_h*out_w floats, into copies written to
 * scratch.  Only where p4_conv_same_rows_apply. */
void p4_conv_same_column_rows(const struct layer *l, const float *input, float *scratch,
                              const float **rows);

/* p4_conv_same_rows_apply, and at most P4_FEW_ROWS_MAX filters (the
 * forward's product is a few-rows one). */
int p4_conv_same_applies(const struct layer *l, size_t scratch_floats);

/* One example: out (filters x out_h*out_w) = weights x columns(input),
 * without bias. */
void p4_conv_same_forward(const struct layer *l, const float *input, float *scratch, float *out);

/* The input delta of a stride-1 same layer is itself a same convolution:
 * of the output deltas (filters planes of out_h x out_w), with the weights
 * flipped in both spatial axes and filters and channels swapped, giving
 * c planes.  Computed that way it needs no column image and no col2im
 * pass, and its product is a few-rows one (c rows: the layer's input
 * channels).  Whether l is such a layer (at most P4_FEW_ROWS_MAX input
 * channels) and the deltas' copies fit in `scratch_floats`. */
int p4_conv_same_input_delta_applies(const struct layer *l, size_t scratch_floats);

/* The flipped, swapped weights: c x (filters x size x size) floats, i.e.
 * flipped[c][f][ky][kx] = weights[f][c][size-1-ky][size-1-kx]. */
void p4_conv_same_flip_weights(const struct layer *l, float *flipped);

/* One example: dx (c x h x w) += the input delta of `delta`
 * (filters x out_h*out_w), as darknet's im2col route adds it. */
void p4_conv_same_input_delta(const struct layer *l, const float *flipped, const float *delta,
                              float *scratch, float *dx);

#endif
