/* cbor_util.c: see cbor_util.h. */
#include "tee/cca/cbor_util.h"

#include <stdlib.h>
#include <string.h>

int p4_cbor_load(const uint8_t *bytes, size_t len, const char *what, cbor_item_t **out,
                 p4_error *err)
{
    if (out == NULL || what == NULL || (bytes == NULL && len > 0))
        return p4_error_set(err, P4_EINVAL, "p4_cbor_load: NULL argument");
    *out = NULL;
    if (len == 0)
        return p4_error_set(err, P4_EFORMAT, "%s: empty (0 bytes)", what);
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
