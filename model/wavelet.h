/* wavelet.h: a fixed, data-independent wavelet front end for a proxy
 * (Tramer & Boneh 2021: DP learning needs better features; the filters are
 * Morlet wavelets as in Mallat's scattering transform), written into two
 * darknet [convolutional] layers that DP-SGD then keeps frozen.
 *
 * Layer A, [convolutional] size S, stride 1 or more, activation=relu, with
 * F_A = 4 L J + C filters (L = P4_WAVELET_ORIENTATIONS, J scales, C input
 * channels), in this order:
 *   for scale j = 0..J-1, orientation l = 0..L-1 (theta = pi l / L):
 *     +Re psi, -Re psi, +Im psi, -Im psi   on the luminance (the channels'
 *                                          mean: each channel gets w / C)
 *   then for each input channel c: a Gaussian low-pass phi of channel c.
 * ReLU of each +/- pair sums to |.|, so layer B can form moduli.
 * psi_{j,l}(u) = exp(-(a^2 + s^2 p^2) / (2 sigma_j^2)) (exp(i xi_j a) - beta),
 * a = u . (cos theta, sin theta), p the coordinate across it, sigma_j =
 * 0.8 2^j, xi_j = (3 pi / 4) / 2^j, slant s = 4 / L; beta makes each part
 * sum to zero (band-pass).  Re and Im are each scaled to unit L2 norm.
 * phi is a Gaussian of sigma 0.8 2^J scaled to sum 1 (a local mean).  u is
 * in pixels from the kernel's centre, x to the right, y down.
 *
 * Layer B, [convolutional] size P, stride P, pad 0, activation=linear, with
 * F_B = L J + C filters: an average pool of P x P that sums each
 * orientation's four rectified parts (|Re| + |Im|, a modulus up to a factor
 * in [1, sqrt 2]) and passes each low-pass channel through.  Biases zero. */
#ifndef P4_MODEL_WAVELET_H
#define P4_MODEL_WAVELET_H

#include "common/error.h"

#define P4_WAVELET_ORIENTATIONS 8

typedef struct p4_wavelet_shape {
    int channels;  /* C: input channels */
    int size;      /* S: layer A's kernel side */
    int scales;    /* J >= 1 */
    int pool;      /* P: layer B's kernel side (= its stride) */
} p4_wavelet_shape;

/* Filter counts of layers A and B for a shape. */
int p4_wavelet_filters_a(const p4_wavelet_shape *shape);
int p4_wavelet_filters_b(const p4_wavelet_shape *shape);

/* The scale count J for which layer A has filters_a filters over
 * `channels` inputs, or P4_EMODEL when no J >= 1 fits. */
int p4_wavelet_scales_for(int filters_a, int channels, int *scales, p4_error *err);

/* Fills layer A's parameters (weights F_A x C x S x S in darknet's
 * [filter][channel][row][column] order, then F_A zero biases) and layer B's
 * (F_B x F_A x P x P, then F_B zero biases): a_count and b_count must be
 * exactly those sizes. */
int p4_wavelet_fill(const p4_wavelet_shape *shape, float *a, size_t a_count, float *b,
                    size_t b_count, p4_error *err);

#endif
