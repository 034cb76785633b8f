/* dataset.h: an in-memory labelled image set, as every loader produces it.
 *
 * Pixels are stored as bytes (0..255), row-major, channel-planar (all of
 * channel 0, then channel 1, ...), exactly as IDX and CIFAR store them;
 * FEMNIST's k/255 floats are stored as k.  Storing bytes keeps the full
 * Fashion-MNIST training set at 47 MB instead of 188 MB; p4_dataset_batch()
 * turns rows into floats in [0, 1] when a batch is assembled. */
#ifndef P4_DATASETS_DATASET_H
#define P4_DATASETS_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

typedef struct p4_dataset {
    char name[64];          /* "fashion-mnist", "femnist", "cifar10", ... */
    int count;              /* number of examples                         */
    int width, height, channels;
    int classes;            /* labels are in [0, classes)                  */
    uint8_t *pixels;        /* count * width * height * channels bytes     */
    uint16_t *labels;       /* count labels                                */
    int *writer;            /* FEMNIST: writer index per example; else NULL */
    int writers;            /* number of distinct writers (0 if none)      */
    char **writer_names;    /* writers names, FEMNIST only                 */
} p4_dataset;

/* Bytes per example: width * height * channels. */
size_t p4_dataset_example_size(const p4_dataset *ds);

/* Allocates an empty dataset with room for `count` examples. */
int p4_dataset_new(p4_dataset **out, const char *name, int count, int width,
                   int height, int channels, int classes, p4_error *err);
void p4_dataset_destroy(p4_dataset **ds);

/* Writes examples indices[0..n) as floats in [0,1] into x (n * example_size
 * floats) and one-hot labels into y (n * classes floats); either may be NULL.
 * indices == NULL means examples 0..n-1.  P4_EINVAL on an index out of range. */
int p4_dataset_batch(const p4_dataset *ds, const int *indices, int n,
                     float *x, float *y);

/* Per-class counts of the listed examples into hist[classes]
 * (indices == NULL means examples 0..n-1). */
int p4_dataset_histogram(const p4_dataset *ds, const int *indices, int n,
                         int *hist);

/* Changes the number of examples to `count`, keeping the first
 * min(old, count) examples; new examples are zero (and writer -1).
 * Loaders use it to grow as data actually arrives. */
int p4_dataset_resize(p4_dataset *ds, int count, p4_error *err);

/* Gives ds a per-example writer array (all -1) if it has none. */
int p4_dataset_add_writers(p4_dataset *ds, p4_error *err);

#endif
