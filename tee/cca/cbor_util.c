/* cbor_util.c: see cbor_util.h. */
#include "tee/cca/cbor_util.h"

#include <stdlib.h>
#include <string.h>

/* Deeper than any CCA token (about six levels). */
#define MAX_DEPTH 32

enum { WALK_OK = 0, WALK_TRUNCATED = -1, WALK_MALFORMED = -2 };

/* Walks one item's structure without building it.  libcbor 0.8 allocates
 * an array or map for the count its header declares before reading any
 * element, so a 10-byte input could ask for gigabytes: every count and
 * length must first fit in the bytes that remain (an element takes at
 * least one byte), and nesting stays under MAX_DEPTH. */
static int walk(const uint8_t *b, size_t len, size_t *pos, int depth)
{
    if (depth > MAX_DEPTH)
        return WALK_MALFORMED;
    if (*pos >= len)
        return WALK_TRUNCATED;
    uint8_t initial = b[(*pos)++];
    int major = initial >> 5, info = initial & 31;
    uint64_t arg = (uint64_t)info;
    if (info >= 24 && info <= 27) {
        size_t n = (size_t)1 << (info - 24);
        if (len - *pos < n)
            return WALK_TRUNCATED;
        arg = 0;
        for (size_t i = 0; i < n; i++)
            arg = arg << 8 | b[(*pos)++];
    } else if (info >= 28 && info <= 30) {
        return WALK_MALFORMED;
    }
    if (info == 31) { /* indefinite length: items (or chunks) up to a break */
        if (major == 0 || major == 1 || major == 6 || major == 7)
            return WALK_MALFORMED; /* a lone break, or no such form */
        for (size_t items = 0;; items++) {
            if (*pos >= len)
                return WALK_TRUNCATED;
            if (b[*pos] == 0xff) {
                (*pos)++;
                return major == 5 && items % 2 != 0 ? WALK_MALFORMED : WALK_OK;
            }
            if ((major == 2 || major == 3) && (b[*pos] >> 5) != major)
                return WALK_MALFORMED; /* a chunk of another type */
            int rc = walk(b, len, pos, depth + 1);
            if (rc != WALK_OK)
                return rc;
        }
    }
    size_t left = len - *pos;
    switch (major) {
    case 2:
    case 3:
        if (arg > left)
            return WALK_TRUNCATED;
        *pos += (size_t)arg;
        return WALK_OK;
    case 4:
    case 5: {
        uint64_t items = major == 5 ? arg * 2 : arg;
        if (arg > left || items > left)
            return WALK_TRUNCATED;
        for (uint64_t i = 0; i < items; i++) {
            int rc = walk(b, len, pos, depth + 1);
            if (rc != WALK_OK)
                return rc;
        }
        return WALK_OK;
    }
    case 6:
        return walk(b, len, pos, depth + 1);
    default: /* integers, simple values, floats: the head was all */
        return WALK_OK;
    }
}

int p4_cbor_load(const uint8_t *bytes, size_t len, const char *what, cbor_item_t **out,
                 p4_error *err)
{
    if (out == NULL || what == NULL || (bytes == NULL && len > 0))
        return p4_error_set(err, P4_EINVAL, "p4_cbor_load: NULL argument");
    *out = NULL;
    if (len == 0)
        return p4_error_set(err, P4_EFORMAT, "%s: empty (0 bytes)", what);
    size_t end = 0;
    int walked = walk(bytes, len, &end, 0);
    if (walked == WALK_TRUNCATED)
        return p4_error_set(err, P4_EFORMAT,
                            "%s: truncated: its %zu bytes end before the CBOR item does", what,
                            len);
    if (walked == WALK_MALFORMED)
        return p4_error_set(err, P4_EFORMAT,
                            "%s: malformed CBOR before byte %zu (a reserved or misplaced code, "
                            "or nesting deeper than %d)", what, end, MAX_DEPTH);
    struct cbor_load_result result;
    cbor_item_t *item = cbor_load(bytes, len, &result);
    if (item == NULL) {
        switch (result.error.code) {
        case CBOR_ERR_NOTENOUGHDATA:
        case CBOR_ERR_NODATA:
            return p4_error_set(err, P4_EFORMAT,
                                "%s: truncated: its %zu bytes end before the CBOR item does",
                                what, len);
        case CBOR_ERR_MEMERROR:
            return p4_error_set(err, P4_EFORMAT,
                                "%s: a length in the CBOR does not fit in memory", what);
        default:
            return p4_error_set(err, P4_EFORMAT, "%s: malformed CBOR at byte %zu", what,
                                result.error.position);
        }
    }
    if (result.read != len) {
        cbor_decref(&item);
        return p4_error_set(err, P4_EFORMAT,
                            "%s: %zu unexpected bytes after the CBOR item (which ends at byte %zu)",
                            what, len - result.read, result.read);
    }
    *out = item;
    return P4_OK;
}

int p4_cbor_int(const cbor_item_t *item, int64_t *out)
{
    if (item == NULL || out == NULL)
        return -1;
    if (cbor_isa_uint(item)) {
        uint64_t v = cbor_get_int(item);
        if (v > (uint64_t)INT64_MAX)
            return -1;
        *out = (int64_t)v;
        return 0;
    }
    if (cbor_isa_negint(item)) {
        uint64_t n = cbor_get_int(item); /* the value is -1 - n */
        if (n > (uint64_t)INT64_MAX)
            return -1;
        *out = -1 - (int64_t)n;
        return 0;
    }
    return -1;
}

cbor_item_t *p4_cbor_map_get(const cbor_item_t *map, int64_t label, int *duplicate)
{
    if (duplicate != NULL)
        *duplicate = 0;
    if (map == NULL || !cbor_isa_map(map))
        return NULL;
    struct cbor_pair *pairs = cbor_map_handle(map);
    size_t n = cbor_map_size(map);
    cbor_item_t *found = NULL;
    for (size_t i = 0; i < n; i++) {
        int64_t key;
        if (p4_cbor_int(pairs[i].key, &key) != 0 || key != label)
            continue;
        if (found != NULL) {
            if (duplicate != NULL)
                *duplicate = 1;
            return found;
        }
        found = pairs[i].value;
    }
    return found;
}

cbor_item_t *p4_cbor_build_int(int64_t v)
{
    int negative = v < 0;
    uint64_t magnitude = negative ? (uint64_t)(-1 - v) : (uint64_t)v;
    cbor_item_t *item;
    if (magnitude <= UINT8_MAX)
        item = negative ? cbor_build_negint8((uint8_t)magnitude)
                        : cbor_build_uint8((uint8_t)magnitude);
    else if (magnitude <= UINT16_MAX)
        item = negative ? cbor_build_negint16((uint16_t)magnitude)
                        : cbor_build_uint16((uint16_t)magnitude);
    else if (magnitude <= UINT32_MAX)
        item = negative ? cbor_build_negint32((uint32_t)magnitude)
                        : cbor_build_uint32((uint32_t)magnitude);
    else
        item = negative ? cbor_build_negint64(magnitude) : cbor_build_uint64(magnitude);
    return item;
}

int p4_cbor_is_bytes(const cbor_item_t *item)
{
    return item != NULL && cbor_isa_bytestring(item) && cbor_bytestring_is_definite(item);
}

int p4_cbor_is_text(const cbor_item_t *item)
{
    return item != NULL && cbor_isa_string(item) && cbor_string_is_definite(item);
}

int p4_cbor_serialize(const cbor_item_t *item, uint8_t **out, size_t *out_len, p4_error *err)
{
    if (item == NULL || out == NULL || out_len == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_cbor_serialize: NULL argument");
    unsigned char *buffer = NULL;
    size_t capacity = 0;
    size_t n = cbor_serialize_alloc(item, &buffer, &capacity);
    if (n == 0) {
        free(buffer);
        return p4_error_set(err, P4_ENOMEM, "out of memory encoding CBOR");
    }
    *out = buffer;
    *out_len = n;
    return P4_OK;
}
