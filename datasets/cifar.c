/* cifar.c: the CIFAR-10 and CIFAR-100 binary formats; see loaders.h.
 *
 * The files have no header: a file is a run of fixed-size records, each the
 * label byte(s) followed by 3072 pixel bytes (32x32 red, then green, then
 * blue plane).  The real file size therefore fixes the record count before
 * anything is allocated. */
#include "datasets/loaders.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define CIFAR_SIDE 32
#define CIFAR_CHANNELS 3
#define CIFAR_PIXELS (CIFAR_SIDE * CIFAR_SIDE * CIFAR_CHANNELS)

typedef struct cifar_format {
    const char *name;        /* dataset name                              */
    int label_bytes;         /* 1 (CIFAR-10) or 2 (CIFAR-100)             */
    int limit[2];            /* each label byte must be below its limit   */
    int selected;            /* which label byte becomes the label        */
} cifar_format;

static const cifar_format CIFAR10 = {"cifar10", 1, {10, 0}, 0};
static const cifar_format CIFAR100_FINE = {"cifar100", 2, {20, 100}, 1};
static const cifar_format CIFAR100_COARSE = {"cifar100-coarse", 2, {20, 100}, 0};

static size_t record_size(const cifar_format *fmt)
{
    return (size_t)fmt->label_bytes + CIFAR_PIXELS;
}

/* Records in a file of `size` bytes, or an error naming the file. */
static int count_records(const cifar_format *fmt, const char *name, unsigned long long size,
                         unsigned long long *records, p4_error *err)
{
    size_t rec = record_size(fmt);
    if (size % rec != 0)
        return p4_error_set(err, P4_EFORMAT,
                            "%s: size %llu bytes is not a multiple of the %zu-byte %s record",
                            name, size, rec, fmt->name);
    *records = size / rec;
    return P4_OK;
}

/* Checks the record's labels and stores it as example i. */
static int take_record(const cifar_format *fmt, const uint8_t *rec, const char *name,
                       unsigned long long offset, p4_dataset *ds, int i, p4_error *err)
{
    for (int b = 0; b < fmt->label_bytes; b++)
        if (rec[b] >= fmt->limit[b])
            return p4_error_set(err, P4_EFORMAT,
                                "%s:%llu: record %llu has %s label %u, out of range [0, %d)",
                                name, offset + (unsigned long long)b, offset / record_size(fmt),
                                fmt->label_bytes == 1 ? "the" : b == 0 ? "coarse" : "fine",
                                rec[b], fmt->limit[b]);
    ds->labels[i] = rec[fmt->selected];
    memcpy(ds->pixels + (size_t)i * CIFAR_PIXELS, rec + fmt->label_bytes, CIFAR_PIXELS);
    return P4_OK;
}

static int new_cifar_set(const cifar_format *fmt, unsigned long long total, int max_examples,
                         p4_dataset **out, p4_error *err)
{
    unsigned long long count = total;
    if (max_examples > 0 && (unsigned long long)max_examples < count)
        count = (unsigned long long)max_examples;
    if (count > INT_MAX)
        return p4_error_set(err, P4_EFORMAT, "%s: %llu records are too many", fmt->name, count);
    return p4_dataset_new(out, fmt->name, (int)count, CIFAR_SIDE, CIFAR_SIDE, CIFAR_CHANNELS,
                          fmt->limit[fmt->selected], err);
}

static int load_buffer(const cifar_format *fmt, const char *name, const void *data, size_t len,
                       int max_examples, p4_dataset **out, p4_error *err)
{
    if (out == NULL || name == NULL || (data == NULL && len > 0) || max_examples < 0)
        return p4_error_set(err, P4_EINVAL, "load %s buffer: bad argument", fmt->name);
    *out = NULL;
    unsigned long long records = 0;
    int rc = count_records(fmt, name, len, &records, err);
    p4_dataset *ds = NULL;
    if (rc == P4_OK)
        rc = new_cifar_set(fmt, records, max_examples, &ds, err);
    size_t rec = record_size(fmt);
    for (int i = 0; rc == P4_OK && i < (ds != NULL ? ds->count : 0); i++)
        rc = take_record(fmt, (const uint8_t *)data + (size_t)i * rec, name,
                         (unsigned long long)i * rec, ds, i, err);
    if (rc != P4_OK) {
        p4_dataset_destroy(&ds);
        return rc;
    }
    *out = ds;
    return P4_OK;
}

/* Reads records of one file into ds from example *filled on, up to ds->count. */
static int read_file_records(const cifar_format *fmt, const char *path, p4_dataset *ds,
                             int *filled, p4_error *err)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return p4_error_set(err, P4_EIO, "%s: cannot open: %s", path, strerror(errno));
    uint8_t rec[2 + CIFAR_PIXELS];
    size_t size = record_size(fmt);
    int rc = P4_OK;
    for (unsigned long long offset = 0; rc == P4_OK && *filled < ds->count; offset += size) {
        size_t got = fread(rec, 1, size, f);
        if (got == 0 && feof(f))
            break;
        if (got < size)
            rc = ferror(f) ? p4_error_set(err, P4_EIO, "%s:%llu: read error", path, offset + got)
                           : p4_error_set(err, P4_EFORMAT, "%s:%llu: truncated record (file shrank?)",
                                          path, offset + got);
        else if ((rc = take_record(fmt, rec, path, offset, ds, *filled, err)) == P4_OK)
            (*filled)++;
    }
    fclose(f);
    return rc;
}

static int load_files(const cifar_format *fmt, const char *const *paths, int npaths,
                      int max_examples, p4_dataset **out, p4_error *err)
{
    if (out == NULL || paths == NULL || npaths <= 0 || max_examples < 0)
        return p4_error_set(err, P4_EINVAL, "load %s: bad argument", fmt->name);
    *out = NULL;
    unsigned long long total = 0;
    for (int p = 0; p < npaths; p++) {
        struct stat st;
        unsigned long long records = 0;
        if (paths[p] == NULL)
            return p4_error_set(err, P4_EINVAL, "load %s: path %d is NULL", fmt->name, p);
        if (stat(paths[p], &st) != 0)
            return p4_error_set(err, P4_EIO, "%s: cannot open: %s", paths[p], strerror(errno));
        if (!S_ISREG(st.st_mode))
            return p4_error_set(err, P4_EIO, "%s: not a regular file", paths[p]);
        int rc = count_records(fmt, paths[p], (unsigned long long)st.st_size, &records, err);
        if (rc != P4_OK)
            return rc;
        total += records;
    }
    p4_dataset *ds = NULL;
    int rc = new_cifar_set(fmt, total, max_examples, &ds, err);
    int filled = 0;
    for (int p = 0; rc == P4_OK && p < npaths && filled < ds->count; p++)
        rc = read_file_records(fmt, paths[p], ds, &filled, err);
    if (rc == P4_OK && filled < ds->count)
        rc = p4_error_set(err, P4_EFORMAT, "%s: files shrank while reading (%d of %d records)",
                          paths[npaths - 1], filled, ds->count);
    if (rc != P4_OK) {
        p4_dataset_destroy(&ds);
        return rc;
    }
    *out = ds;
    return P4_OK;
}

int p4_load_cifar10(const char *const *paths, int npaths, int max_examples,
                    p4_dataset **out, p4_error *err)
{
    return load_files(&CIFAR10, paths, npaths, max_examples, out, err);
}

int p4_load_cifar100(const char *const *paths, int npaths, int fine, int max_examples,
                     p4_dataset **out, p4_error *err)
{
    return load_files(fine ? &CIFAR100_FINE : &CIFAR100_COARSE, paths, npaths, max_examples,
                      out, err);
}

int p4_load_cifar10_buffer(const char *name, const void *data, size_t len, int max_examples,
                           p4_dataset **out, p4_error *err)
{
    return load_buffer(&CIFAR10, name, data, len, max_examples, out, err);
}

int p4_load_cifar100_buffer(const char *name, const void *data, size_t len, int fine,
                            int max_examples, p4_dataset **out, p4_error *err)
{
    return load_buffer(fine ? &CIFAR100_FINE : &CIFAR100_COARSE, name, data, len, max_examples,
                       out, err);
}
