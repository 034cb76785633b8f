/* dataset.c: the in-memory labelled image set; see dataset.h. */
#include "datasets/dataset.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

size_t p4_dataset_example_size(const p4_dataset *ds)
{
    if (ds == NULL)
        return 0;
    return (size_t)ds->width * (size_t)ds->height * (size_t)ds->channels;
}

/* Bytes for count examples of example_size, or 0 if that overflows. */
static size_t pixel_bytes(size_t example_size, int count)
{
    if (count > 0 && example_size > SIZE_MAX / (size_t)count)
        return 0;
    return example_size * (size_t)count;
}

int p4_dataset_new(p4_dataset **out, const char *name, int count, int width,
                   int height, int channels, int classes, p4_error *err)
{
    if (out == NULL || name == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_dataset_new: NULL argument");
    *out = NULL;
    if (count < 0 || width <= 0 || height <= 0 || channels <= 0)
        return p4_error_set(err, P4_EINVAL,
                            "p4_dataset_new: bad shape %d x %dx%dx%d", count,
                            width, height, channels);
    if (classes <= 0 || classes > UINT16_MAX)
        return p4_error_set(err, P4_EINVAL,
                            "p4_dataset_new: bad class count %d", classes);
    if (strlen(name) >= sizeof((p4_dataset *)0)->name)
        return p4_error_set(err, P4_EINVAL, "p4_dataset_new: name too long");
    if ((size_t)width > SIZE_MAX / (size_t)height ||
        (size_t)width * (size_t)height > SIZE_MAX / (size_t)channels)
        return p4_error_set(err, P4_EINVAL, "p4_dataset_new: example too large");
    size_t example = (size_t)width * (size_t)height * (size_t)channels;
    if (count > 0 && pixel_bytes(example, count) == 0)
        return p4_error_set(err, P4_EINVAL, "p4_dataset_new: %d examples too large", count);

    p4_dataset *ds = calloc(1, sizeof *ds);
    if (ds == NULL)
        return p4_error_set(err, P4_ENOMEM, "p4_dataset_new: out of memory");
    strcpy(ds->name, name);
    ds->count = count;
    ds->width = width;
    ds->height = height;
    ds->channels = channels;
    ds->classes = classes;
    /* At least one element each so an empty set still has valid pointers. */
    ds->pixels = calloc(count > 0 ? pixel_bytes(example, count) : 1, 1);
    ds->labels = calloc(count > 0 ? (size_t)count : 1, sizeof *ds->labels);
    if (ds->pixels == NULL || ds->labels == NULL) {
        p4_dataset_destroy(&ds);
        return p4_error_set(err, P4_ENOMEM,
                            "p4_dataset_new: out of memory for %d examples", count);
    }
    *out = ds;
    return P4_OK;
}

void p4_dataset_destroy(p4_dataset **ds)
{
    if (ds == NULL || *ds == NULL)
        return;
    p4_dataset *d = *ds;
    free(d->pixels);
    free(d->labels);
    free(d->writer);
    if (d->writer_names != NULL) {
        for (int i = 0; i < d->writers; i++)
            free(d->writer_names[i]);
        free(d->writer_names);
    }
    free(d);
    *ds = NULL;
}

int p4_dataset_resize(p4_dataset *ds, int count, p4_error *err)
{
    if (ds == NULL || count < 0)
        return p4_error_set(err, P4_EINVAL, "p4_dataset_resize: bad argument");
    size_t example = p4_dataset_example_size(ds);
    size_t bytes = count > 0 ? pixel_bytes(example, count) : 1;
    if (bytes == 0)
        return p4_error_set(err, P4_EINVAL, "p4_dataset_resize: %d examples too large", count);
    size_t slots = count > 0 ? (size_t)count : 1;

    uint8_t *pixels = realloc(ds->pixels, bytes);
    if (pixels == NULL)
        return p4_error_set(err, P4_ENOMEM, "p4_dataset_resize: out of memory for %d examples", count);
    ds->pixels = pixels;
    uint16_t *labels = realloc(ds->labels, slots * sizeof *labels);
    if (labels == NULL)
        return p4_error_set(err, P4_ENOMEM, "p4_dataset_resize: out of memory for %d labels", count);
    ds->labels = labels;
    if (ds->writer != NULL) {
        int *writer = realloc(ds->writer, slots * sizeof *writer);
        if (writer == NULL)
            return p4_error_set(err, P4_ENOMEM, "p4_dataset_resize: out of memory for %d writers", count);
        ds->writer = writer;
    }
    if (count > ds->count) {
        size_t old = (size_t)ds->count;
        memset(ds->pixels + old * example, 0, ((size_t)count - old) * example);
        memset(ds->labels + old, 0, ((size_t)count - old) * sizeof *ds->labels);
        if (ds->writer != NULL)
            for (size_t i = old; i < (size_t)count; i++)
                ds->writer[i] = -1;
    }
    ds->count = count;
    return P4_OK;
}

int p4_dataset_add_writers(p4_dataset *ds, p4_error *err)
{
    if (ds == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_dataset_add_writers: NULL dataset");
    if (ds->writer != NULL)
        return P4_OK;
    ds->writer = malloc((ds->count > 0 ? (size_t)ds->count : 1) * sizeof *ds->writer);
    if (ds->writer == NULL)
        return p4_error_set(err, P4_ENOMEM, "p4_dataset_add_writers: out of memory");
    for (int i = 0; i < ds->count; i++)
        ds->writer[i] = -1;
    return P4_OK;
}

/* The i-th listed example, or -1 if it is out of range. */
static int listed_example(const p4_dataset *ds, const int *indices, int i)
{
    int e = indices != NULL ? indices[i] : i;
    return (e >= 0 && e < ds->count) ? e : -1;
}

int p4_dataset_batch(const p4_dataset *ds, const int *indices, int n,
                     float *x, float *y)
{
    if (ds == NULL || n < 0)
        return P4_EINVAL;
    size_t example = p4_dataset_example_size(ds);
    for (int i = 0; i < n; i++) {
        int e = listed_example(ds, indices, i);
        if (e < 0 || ds->labels[e] >= ds->classes)
            return P4_EINVAL;
        if (x != NULL) {
            const uint8_t *src = ds->pixels + (size_t)e * example;
            float *dst = x + (size_t)i * example;
            for (size_t j = 0; j < example; j++)
                dst[j] = (float)src[j] / 255.0f;
        }
        if (y != NULL) {
            float *row = y + (size_t)i * (size_t)ds->classes;
            memset(row, 0, (size_t)ds->classes * sizeof *row);
            row[ds->labels[e]] = 1.0f;
        }
    }
    return P4_OK;
}

int p4_dataset_histogram(const p4_dataset *ds, const int *indices, int n,
                         int *hist)
{
    if (ds == NULL || hist == NULL || n < 0)
        return P4_EINVAL;
    memset(hist, 0, (size_t)ds->classes * sizeof *hist);
    for (int i = 0; i < n; i++) {
        int e = listed_example(ds, indices, i);
        if (e < 0 || ds->labels[e] >= ds->classes)
            return P4_EINVAL;
        hist[ds->labels[e]]++;
    }
    return P4_OK;
}
