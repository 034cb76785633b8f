/* query_input.c: `p4 query`'s input formats; see query_input.h. */
#include "p4node/query_input.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static int parse_idx(const char *name, const uint8_t *b, size_t len, float **values,
                     size_t *rows, size_t *cols, p4_error *err)
{
    if (len < 16)
        return p4_error_set(err, P4_EFORMAT, "%s: IDX header truncated (%zu of 16 bytes)", name,
                            len);
    uint32_t n = be32(b + 4), h = be32(b + 8), w = be32(b + 12);
    if (n < 1 || n > P4_QUERY_INPUT_MAX_ROWS || h < 1 || w < 1 ||
        (uint64_t)h * w > P4_QUERY_INPUT_MAX_COLS)
        return p4_error_set(err, P4_EFORMAT, "%s: IDX of %u images of %ux%u (want 1..%u images "
                            "of at most %d pixels)", name, n, h, w, P4_QUERY_INPUT_MAX_ROWS,
                            P4_QUERY_INPUT_MAX_COLS);
    uint64_t pixels = (uint64_t)n * h * w;
    if (len - 16 != pixels)
        return p4_error_set(err, P4_EFORMAT, "%s: IDX header says %llu pixel bytes, the file "
                            "has %zu after it", name, (unsigned long long)pixels, len - 16);
    float *v = malloc((size_t)pixels * sizeof *v);
    if (v == NULL)
        return p4_error_set(err, P4_ENOMEM, "%s: out of memory", name);
    for (uint64_t i = 0; i < pixels; i++)
        v[i] = (float)b[16 + i] / 255.0f;
    *values = v;
    *rows = n;
    *cols = (size_t)h * w;
    return P4_OK;
}

/* One value of a text row at *p (within end); advances *p. */
static int parse_value(const char **p, const char *end, float *out)
{
    char word[64];
    size_t n = 0;
    while (*p + n < end && n < sizeof word - 1 && (*p)[n] != ',' && (*p)[n] != ' ' &&
           (*p)[n] != '\t' && (*p)[n] != '\r')
        n++;
    if (n == 0 || n >= sizeof word - 1)
        return -1;
    memcpy(word, *p, n);
    word[n] = '\0';
    if (strlen(word) != n)
        return -1; /* a NUL byte: not text */
    char *stop;
    errno = 0;
    double d = strtod(word, &stop);
    if (*stop != '\0' || !isfinite(d) || fabs(d) > 3.0e38)
        return -1;
    *out = (float)d;
    *p += n;
    return 0;
}

static int parse_text(const char *name, const uint8_t *bytes, size_t len, float **values,
                      size_t *rows, size_t *cols, p4_error *err)
{
    const char *text = (const char *)bytes, *end = text + len;
    size_t cap = 0, count = 0, width = 0, line_no = 0;
    float *v = NULL;
    int rc = P4_OK;
    for (const char *line = text; line < end && rc == P4_OK;) {
        const char *eol = memchr(line, '\n', (size_t)(end - line));
        if (eol == NULL)
            eol = end;
        line_no++;
        const char *p = line;
        while (p < eol && (*p == ' ' || *p == '\t' || *p == '\r'))
            p++;
        size_t in_row = 0;
        if (p < eol && *p != '#') {
            if (count >= P4_QUERY_INPUT_MAX_ROWS) {
                rc = p4_error_set(err, P4_EFORMAT, "%s:%zu: more than %u rows", name, line_no,
                                  P4_QUERY_INPUT_MAX_ROWS);
                break;
            }
            while (p < eol) {
                float x;
                if (parse_value(&p, eol, &x) != 0) {
                    rc = p4_error_set(err, P4_EFORMAT, "%s:%zu: value %zu is not a finite "
                                      "number", name, line_no, in_row + 1);
                    break;
                }
                if ((width > 0 && in_row >= width) || in_row >= P4_QUERY_INPUT_MAX_COLS) {
                    rc = p4_error_set(err, P4_EFORMAT, "%s:%zu: more than %zu values", name,
                                      line_no, width > 0 ? width : (size_t)P4_QUERY_INPUT_MAX_COLS);
                    break;
                }
                if (count * (width ? width : P4_QUERY_INPUT_MAX_COLS) + in_row >= cap) {
                    size_t grow = cap ? cap * 2 : 4096;
                    float *bigger = realloc(v, grow * sizeof *v);
                    if (bigger == NULL) {
                        rc = p4_error_set(err, P4_ENOMEM, "%s: out of memory", name);
                        break;
                    }
                    v = bigger;
                    cap = grow;
                }
                v[(width ? count * width : 0) + in_row] = x;
                in_row++;
                while (p < eol && (*p == ' ' || *p == '\t' || *p == '\r' || *p == ','))
                    p++;
            }
            if (rc == P4_OK && width == 0)
                width = in_row;
            else if (rc == P4_OK && in_row != width)
                rc = p4_error_set(err, P4_EFORMAT, "%s:%zu: %zu values, the first row has %zu",
                                  name, line_no, in_row, width);
            if (rc == P4_OK)
                count++;
        }
        line = eol + 1;
    }
    if (rc == P4_OK && count == 0)
        rc = p4_error_set(err, P4_EFORMAT, "%s: no input rows (want one input per line, or an "
                          "IDX images file)", name);
    if (rc != P4_OK) {
        free(v);
        return rc;
    }
    *values = v;
    *rows = count;
    *cols = width;
    return P4_OK;
}

int p4_query_input_parse(const char *name, const uint8_t *bytes, size_t len, float **values,
                         size_t *rows, size_t *cols, p4_error *err)
{
    if (name == NULL || (bytes == NULL && len > 0) || values == NULL || rows == NULL ||
        cols == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_query_input_parse: NULL argument");
    *values = NULL;
    *rows = *cols = 0;
    if (len > P4_QUERY_INPUT_MAX_BYTES)
        return p4_error_set(err, P4_EFORMAT, "%s: %zu bytes (limit %u)", name, len,
                            P4_QUERY_INPUT_MAX_BYTES);
    if (len >= 4 && be32(bytes) == 0x00000803u)
        return parse_idx(name, bytes, len, values, rows, cols, err);
    if (len >= 4 && bytes[0] == 0 && bytes[1] == 0 && bytes[2] == 8)
        return p4_error_set(err, P4_EFORMAT, "%s: IDX of type 0x%02x, dimension %u: only "
                            "unsigned-byte images (0x00000803) are read", name, bytes[2],
                            bytes[3]);
    return parse_text(name, bytes, len, values, rows, cols, err);
}

int p4_query_input_load(const char *path, float **values, size_t *rows, size_t *cols,
                        p4_error *err)
{
    if (path == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_query_input_load: no path");
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return p4_error_set(err, P4_EIO, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 1 << 16, len = 0;
    uint8_t *buf = malloc(cap);
    int rc = buf ? P4_OK : p4_error_set(err, P4_ENOMEM, "%s: out of memory", path);
    while (rc == P4_OK) {
        if (len == cap) {
            if (cap > P4_QUERY_INPUT_MAX_BYTES) {
                rc = p4_error_set(err, P4_EFORMAT, "%s: larger than %u bytes", path,
                                  P4_QUERY_INPUT_MAX_BYTES);
                break;
            }
            uint8_t *bigger = realloc(buf, cap * 2);
            if (bigger == NULL) {
                rc = p4_error_set(err, P4_ENOMEM, "%s: out of memory", path);
                break;
            }
            buf = bigger;
            cap *= 2;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0) {
            if (ferror(f))
                rc = p4_error_set(err, P4_EIO, "%s: read error", path);
            break;
        }
    }
    fclose(f);
    if (rc == P4_OK)
        rc = p4_query_input_parse(path, buf, len, values, rows, cols, err);
    free(buf);
    return rc;
}
