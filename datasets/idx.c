/* idx.c: the IDX format of MNIST and Fashion-MNIST; see loaders.h.
 *
 * An IDX file is a big-endian header (a magic number whose low byte is the
 * number of dimensions, then one 32-bit size per dimension) followed by the
 * data.  Images: magic 0x00000803, dims (count, rows, cols), one byte per
 * pixel.  Labels: magic 0x00000801, dims (count), one byte per label.
 *
 * A gzip file's size says nothing about the data inside, so header sizes are
 * first checked against fixed sane bounds, and memory then grows only as
 * data really arrives: a lying header cannot make us allocate much more than
 * the input it came with. */
#include "datasets/loaders.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/byte_source.h"

#define IDX_IMAGES_MAGIC 0x00000803u
#define IDX_LABELS_MAGIC 0x00000801u
#define IDX_MAX_COUNT 10000000u      /* 10 M examples   */
#define IDX_MAX_SIDE 4096u           /* rows, cols      */
#define IDX_CLASSES 10
#define IDX_FIRST_CHUNK_BYTES (1u << 20)

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Reads exactly n bytes or fails naming what was being read. */
static int read_exact(p4_byte_source *src, void *buf, size_t n, const char *what,
                      p4_error *err)
{
    size_t got = 0;
    uint64_t start = src->offset;
    int rc = p4_byte_source_read(src, buf, n, &got, err);
    if (rc != P4_OK)
        return rc;
    if (got < n)
        return p4_error_set(err, P4_EFORMAT,
                            "%s:%llu: truncated: %s needs %zu bytes from offset %llu, the data ends after %zu",
                            src->name, (unsigned long long)src->offset, what, n,
                            (unsigned long long)start, got);
    return P4_OK;
}

/* Reads a header of `dims` sizes after the magic into sizes[]. */
static int read_header(p4_byte_source *src, uint32_t magic, int dims, uint32_t *sizes,
                       p4_error *err)
{
    uint8_t head[16];
    size_t n = 4 + 4 * (size_t)dims;
    int rc = read_exact(src, head, n, "the IDX header", err);
    if (rc != P4_OK)
        return rc;
    uint32_t got = be32(head);
    if (got != magic)
        return p4_error_set(err, P4_EFORMAT,
                            "%s:0: bad magic 0x%08x, expected 0x%08x (IDX %s)", src->name,
                            (unsigned)got, (unsigned)magic,
                            magic == IDX_IMAGES_MAGIC ? "images" : "labels");
    for (int d = 0; d < dims; d++)
        sizes[d] = be32(head + 4 + 4 * d);
    if (sizes[0] > IDX_MAX_COUNT)
        return p4_error_set(err, P4_EFORMAT, "%s:4: absurd example count %u (limit %u)",
                            src->name, (unsigned)sizes[0], IDX_MAX_COUNT);
    for (int d = 1; d < dims; d++)
        if (sizes[d] == 0 || sizes[d] > IDX_MAX_SIDE)
            return p4_error_set(err, P4_EFORMAT, "%s:%d: absurd dimension %u (must be 1..%u)",
                                src->name, 4 + 4 * d, (unsigned)sizes[d], IDX_MAX_SIDE);
    return P4_OK;
}

/* After the last wanted byte: when everything was read, nothing may follow. */
static int expect_end(p4_byte_source *src, p4_error *err)
{
    uint8_t extra;
    size_t got = 0;
    int rc = p4_byte_source_read(src, &extra, 1, &got, err);
    if (rc != P4_OK)
        return rc;
    if (got != 0)
        return p4_error_set(err, P4_EFORMAT,
                            "%s:%llu: unexpected data after the last example", src->name,
                            (unsigned long long)(src->offset - 1));
    return P4_OK;
}

/* Reads n labels into dst, checking each is a class. */
static int read_labels(p4_byte_source *src, uint16_t *dst, int n, p4_error *err)
{
    uint8_t chunk[4096];
    for (int done = 0; done < n;) {
        size_t take = (size_t)(n - done) < sizeof chunk ? (size_t)(n - done) : sizeof chunk;
        uint64_t at = src->offset;
        int rc = read_exact(src, chunk, take, "the labels", err);
        if (rc != P4_OK)
            return rc;
        for (size_t i = 0; i < take; i++) {
            if (chunk[i] >= IDX_CLASSES)
                return p4_error_set(err, P4_EFORMAT, "%s:%llu: label %u out of range [0, %d)",
                                    src->name, (unsigned long long)(at + i), chunk[i],
                                    IDX_CLASSES);
            dst[done + (int)i] = chunk[i];
        }
        done += (int)take;
    }
    return P4_OK;
}

/* The shared body once both sources are open.  Labels and images are read
 * side by side in chunks, and the dataset doubles only when a chunk has
 * really arrived. */
static int load_idx_sources(p4_byte_source *images, p4_byte_source *labels, int max_examples,
                            p4_dataset **out, p4_error *err)
{
    uint32_t isize[3] = {0}, lsize[1] = {0};
    int rc = read_header(images, IDX_IMAGES_MAGIC, 3, isize, err);
    if (rc == P4_OK)
        rc = read_header(labels, IDX_LABELS_MAGIC, 1, lsize, err);
    if (rc != P4_OK)
        return rc;
    if (isize[0] != lsize[0])
        return p4_error_set(err, P4_EFORMAT,
                            "%s:4: %u images but %s:4 has %u labels", images->name,
                            (unsigned)isize[0], labels->name, (unsigned)lsize[0]);
    int total = (int)isize[0];
    int count = (max_examples > 0 && max_examples < total) ? max_examples : total;

    p4_dataset *ds = NULL;
    rc = p4_dataset_new(&ds, "mnist", 0, (int)isize[2], (int)isize[1], 1, IDX_CLASSES, err);
    if (rc != P4_OK)
        return rc;
    size_t example = p4_dataset_example_size(ds);
    int first = (int)(IDX_FIRST_CHUNK_BYTES / example);
    if (first < 1)
        first = 1;
    int filled = 0;
    while (rc == P4_OK && filled < count) {
        int next = filled == 0 ? first : 2 * filled;
        rc = p4_dataset_resize(ds, next < count ? next : count, err);
        int n = ds->count - filled;
        if (rc == P4_OK)
            rc = read_labels(labels, ds->labels + filled, n, err);
        if (rc == P4_OK)
            rc = read_exact(images, ds->pixels + (size_t)filled * example, (size_t)n * example,
                            "the images", err);
        filled = ds->count;
    }
    if (rc == P4_OK && count == total) {
        rc = expect_end(images, err);
        if (rc == P4_OK)
            rc = expect_end(labels, err);
    }
    if (rc == P4_OK) {
        *out = ds;
        return P4_OK;
    }
    p4_dataset_destroy(&ds);
    return rc;
}

int p4_load_idx_buffers(const void *images, size_t images_len, const void *labels,
                        size_t labels_len, int max_examples, p4_dataset **out, p4_error *err)
{
    if (out == NULL || max_examples < 0)
        return p4_error_set(err, P4_EINVAL, "p4_load_idx_buffers: bad argument");
    *out = NULL;
    p4_byte_source isrc, lsrc;
    int rc = p4_byte_source_open_memory(&isrc, "<images>", images, images_len, err);
    if (rc != P4_OK)
        return rc;
    rc = p4_byte_source_open_memory(&lsrc, "<labels>", labels, labels_len, err);
    if (rc == P4_OK) {
        rc = load_idx_sources(&isrc, &lsrc, max_examples, out, err);
        p4_byte_source_close(&lsrc);
    }
    p4_byte_source_close(&isrc);
    return rc;
}

int p4_load_idx(const char *images_path, const char *labels_path, int max_examples,
                p4_dataset **out, p4_error *err)
{
    if (out == NULL || images_path == NULL || labels_path == NULL || max_examples < 0)
        return p4_error_set(err, P4_EINVAL, "p4_load_idx: bad argument");
    *out = NULL;
    p4_byte_source isrc, lsrc;
    int rc = p4_byte_source_open_file(&isrc, images_path, err);
    if (rc != P4_OK)
        return rc;
    rc = p4_byte_source_open_file(&lsrc, labels_path, err);
    if (rc == P4_OK) {
        rc = load_idx_sources(&isrc, &lsrc, max_examples, out, err);
        p4_byte_source_close(&lsrc);
    }
    p4_byte_source_close(&isrc);
    return rc;
}

/* dir/base.gz if it exists, else dir/base; false if neither does. */
static int find_split_file(char *path, size_t size, const char *dir, const char *base)
{
    const char *forms[] = {"%s/%s.gz", "%s/%s"};
    for (int i = 0; i < 2; i++) {
        int n = snprintf(path, size, forms[i], dir, base);
        if (n < 0 || (size_t)n >= size)
            return 0;
        FILE *f = fopen(path, "rb");
        if (f != NULL) {
            fclose(f);
            return 1;
        }
    }
    return 0;
}

int p4_load_fashion_mnist(const char *dir, const char *split, int max_examples,
                          p4_dataset **out, p4_error *err)
{
    if (dir == NULL || split == NULL || out == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_load_fashion_mnist: NULL argument");
    const char *prefix;
    if (strcmp(split, "train") == 0)
        prefix = "train";
    else if (strcmp(split, "test") == 0)
        prefix = "t10k";
    else
        return p4_error_set(err, P4_EINVAL,
                            "p4_load_fashion_mnist: split \"%s\" is not \"train\" or \"test\"", split);
    char base[64], images[PATH_MAX], labels[PATH_MAX];
    snprintf(base, sizeof base, "%s-images-idx3-ubyte", prefix);
    if (!find_split_file(images, sizeof images, dir, base))
        return p4_error_set(err, P4_EIO, "%s/%s[.gz]: not found", dir, base);
    snprintf(base, sizeof base, "%s-labels-idx1-ubyte", prefix);
    if (!find_split_file(labels, sizeof labels, dir, base))
        return p4_error_set(err, P4_EIO, "%s/%s[.gz]: not found", dir, base);
    int rc = p4_load_idx(images, labels, max_examples, out, err);
    if (rc == P4_OK)
        snprintf((*out)->name, sizeof (*out)->name, "fashion-mnist");
    return rc;
}
