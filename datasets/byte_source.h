/* byte_source.h: a sequential reader over a file or a memory buffer, either
 * plain or gzip-compressed (detected by the gzip magic 1f 8b, not the name).
 *
 * The loaders read through it so that files and in-memory buffers (what the
 * fuzzers feed) go through the same parsing code, and so that every error
 * can name the offset in the uncompressed stream. */
#ifndef P4_DATASETS_BYTE_SOURCE_H
#define P4_DATASETS_BYTE_SOURCE_H

#include <stddef.h>
#include <stdint.h>
#include <zlib.h>

#include "common/error.h"

typedef struct p4_byte_source {
    const char *name;        /* file path or buffer name, for messages      */
    gzFile gz;               /* file source (zlib reads plain files as-is)  */
    const uint8_t *mem;      /* memory source                               */
    size_t mem_len, mem_pos;
    z_stream zs;             /* memory source that is gzip-compressed       */
    int inflating;           /* zs is initialised                           */
    int finished;            /* no more bytes will come                     */
    uint64_t offset;         /* uncompressed bytes delivered so far          */
} p4_byte_source;

/* Opens path for reading; `name` must outlive the source.  P4_EIO on failure. */
int p4_byte_source_open_file(p4_byte_source *src, const char *path, p4_error *err);
/* Reads from data[0..len), which must outlive the source. */
int p4_byte_source_open_memory(p4_byte_source *src, const char *name,
                               const void *data, size_t len, p4_error *err);
/* Reads up to n bytes into buf and stores how many in *got; *got < n only at
 * the end of the stream.  P4_EIO / P4_EFORMAT (corrupt or truncated gzip). */
int p4_byte_source_read(p4_byte_source *src, void *buf, size_t n, size_t *got,
                        p4_error *err);
void p4_byte_source_close(p4_byte_source *src);

#endif
