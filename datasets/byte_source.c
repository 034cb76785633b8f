/* byte_source.c: sequential reads from a file or buffer, plain or gzip;
 * see byte_source.h. */
#include "datasets/byte_source.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

/* zlib counts in unsigned int; we never ask it for more than this at once. */
#define ZLIB_CHUNK ((size_t)1 << 30)

int p4_byte_source_open_file(p4_byte_source *src, const char *path, p4_error *err)
{
    memset(src, 0, sizeof *src);
    src->name = path;
    errno = 0;
    src->gz = gzopen(path, "rb");
    if (src->gz == NULL)
        return p4_error_set(err, P4_EIO, "%s: cannot open: %s", path,
                            errno ? strerror(errno) : "out of memory");
    gzbuffer(src->gz, 256 * 1024);
    return P4_OK;
}

int p4_byte_source_open_memory(p4_byte_source *src, const char *name,
                               const void *data, size_t len, p4_error *err)
{
    memset(src, 0, sizeof *src);
    src->name = name;
    src->mem = data;
    src->mem_len = data != NULL ? len : 0;
    if (src->mem_len >= 2 && src->mem[0] == 0x1f && src->mem[1] == 0x8b) {
        /* 16 + MAX_WBITS: expect a gzip wrapper. */
        if (inflateInit2(&src->zs, 16 + MAX_WBITS) != Z_OK)
            return p4_error_set(err, P4_ENOMEM, "%s: cannot start gzip decoder", name);
        src->inflating = 1;
    }
    return P4_OK;
}

static int read_file(p4_byte_source *src, uint8_t *buf, size_t n, size_t *got,
                     p4_error *err)
{
    while (*got < n) {
        size_t want = n - *got < ZLIB_CHUNK ? n - *got : ZLIB_CHUNK;
        int r = gzread(src->gz, buf + *got, (unsigned)want);
        int code = Z_OK;
        const char *why = gzerror(src->gz, &code);
        if (r < 0 || (code != Z_OK && code != Z_BUF_ERROR)) {
            if (code == Z_ERRNO)
                return p4_error_set(err, P4_EIO, "%s:%llu: read error: %s", src->name,
                                    (unsigned long long)(src->offset + *got), strerror(errno));
            return p4_error_set(err, P4_EFORMAT, "%s:%llu: corrupt gzip data: %s", src->name,
                                (unsigned long long)(src->offset + *got), why);
        }
        *got += (size_t)r;
        if (code == Z_BUF_ERROR)
            return p4_error_set(err, P4_EFORMAT,
                                "%s:%llu: gzip stream ends early (truncated file)", src->name,
                                (unsigned long long)(src->offset + *got));
        if ((size_t)r < want) {
            src->finished = 1;
            break;
        }
    }
    return P4_OK;
}

static int read_plain_memory(p4_byte_source *src, uint8_t *buf, size_t n, size_t *got)
{
    size_t left = src->mem_len - src->mem_pos;
    size_t take = n < left ? n : left;
    if (take > 0)
        memcpy(buf, src->mem + src->mem_pos, take);
    src->mem_pos += take;
    *got = take;
    if (take < n)
        src->finished = 1;
    return P4_OK;
}

static int read_gzip_memory(p4_byte_source *src, uint8_t *buf, size_t n, size_t *got,
                            p4_error *err)
{
    z_stream *zs = &src->zs;
    while (*got < n && !src->finished) {
        size_t in_left = src->mem_len - src->mem_pos;
        size_t out_left = n - *got;
        zs->next_in = (Bytef *)(src->mem + src->mem_pos);
        zs->avail_in = (uInt)(in_left < ZLIB_CHUNK ? in_left : ZLIB_CHUNK);
        zs->next_out = buf + *got;
        zs->avail_out = (uInt)(out_left < ZLIB_CHUNK ? out_left : ZLIB_CHUNK);
        uInt out_before = zs->avail_out;
        int ret = inflate(zs, Z_NO_FLUSH);
        src->mem_pos = (size_t)(zs->next_in - src->mem);
        *got += out_before - zs->avail_out;
        if (ret == Z_STREAM_END) {
            /* Another gzip member may follow (as gzip -c a b > c makes);
             * anything else after the stream is ignored, as zlib's gzread does. */
            size_t rest = src->mem_len - src->mem_pos;
            if (rest >= 2 && src->mem[src->mem_pos] == 0x1f && src->mem[src->mem_pos + 1] == 0x8b)
                inflateReset(zs);
            else
                src->finished = 1;
        } else if (ret == Z_BUF_ERROR || (ret == Z_OK && zs->avail_in == 0 && zs->avail_out > 0 &&
                                          src->mem_pos == src->mem_len)) {
            return p4_error_set(err, P4_EFORMAT,
                                "%s:%llu: gzip stream ends early (truncated data)", src->name,
                                (unsigned long long)(src->offset + *got));
        } else if (ret != Z_OK) {
            return p4_error_set(err, P4_EFORMAT, "%s:%llu: corrupt gzip data: %s", src->name,
                                (unsigned long long)(src->offset + *got),
                                zs->msg != NULL ? zs->msg : "inflate failed");
        }
    }
    return P4_OK;
}

int p4_byte_source_read(p4_byte_source *src, void *buf, size_t n, size_t *got,
                        p4_error *err)
{
    *got = 0;
    if (n == 0 || src->finished)
        return P4_OK;
    int rc;
    if (src->gz != NULL)
        rc = read_file(src, buf, n, got, err);
    else if (src->inflating)
        rc = read_gzip_memory(src, buf, n, got, err);
    else
        rc = read_plain_memory(src, buf, n, got);
    src->offset += *got;
    return rc;
}

void p4_byte_source_close(p4_byte_source *src)
{
    if (src->gz != NULL)
        gzclose(src->gz);
    if (src->inflating)
        inflateEnd(&src->zs);
    memset(src, 0, sizeof *src);
}
