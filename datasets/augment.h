/* augment.h: random label-preserving image transforms for DP-SGD's
 * augmentation multiplicity (De et al. 2022; [dp] augmentations, dp/dpsgd.h):
 * each example's gradient is averaged over K augmented copies before it is
 * clipped, so the sensitivity stays C per example.
 *
 * The transform: a translation by up to max_shift pixels on each axis (the
 * uncovered border is zero), and, only where the dataset's classes are
 * mirror-symmetric, a horizontal flip with probability 1/2.  Images are
 * floats, channel-planar (all of channel 0, then channel 1, ...), as
 * p4_dataset_batch writes them. */
#ifndef P4_DATASETS_AUGMENT_H
#define P4_DATASETS_AUGMENT_H

#include "common/error.h"
#include "common/rng.h"

#define P4_AUGMENT_SHIFT 2 /* pixels: the shift every image dataset gets */

typedef struct p4_augment {
    int width, height, channels;
    int max_shift; /* translation of at most this many pixels per axis, >= 0 */
    int flip;      /* 1: a random horizontal flip (only for label-preserving data) */
} p4_augment;

/* 1 when mirroring an image keeps its label: clothes and CIFAR's objects
 * (fashion-mnist, cifar10, cifar100); 0 for characters (femnist, mnist) and
 * for any dataset not known to be mirror-symmetric. */
int p4_augment_flip_preserves_labels(const char *dataset);

/* The transform for images of this dataset and shape: shifts of up to
 * P4_AUGMENT_SHIFT pixels, flips where p4_augment_flip_preserves_labels. */
int p4_augment_for_dataset(p4_augment *out, const char *dataset, int width, int height,
                           int channels, p4_error *err);

/* out = the image `in` flipped horizontally (if flip), then moved by dx
 * pixels right and dy down, zero where nothing moved in.  in != out. */
int p4_augment_apply(const p4_augment *a, int dx, int dy, int flip, const float *in,
                     float *out);

/* One random copy of `in` into out: dx, dy uniform in [-max_shift,
 * max_shift], a flip with probability 1/2 when a->flip, all from rng. */
int p4_augment_random(const p4_augment *a, p4_rng *rng, const float *in, float *out);

#endif
