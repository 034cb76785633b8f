/* weights_file.c: the private model's weights file; see weights_file.h. */
#include "p4node/weights_file.h"

#include <math.h>
#include <sodium.h>
#include <string.h>

static const char magic[8] = {'P', '4', 'W', 'E', 'I', 'G', 'H', 'T'};

int p4_weights_digest(const void *bytes, size_t len, uint8_t out[P4_WEIGHTS_DIGEST_BYTES],
                      p4_error *err)
{
    if ((bytes == NULL && len > 0) || out == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_weights_digest: NULL argument");
    if (sodium_init() < 0 ||
        crypto_generichash(out, P4_WEIGHTS_DIGEST_BYTES, bytes, len, NULL, 0) != 0)
        return p4_error_set(err, P4_ECRYPTO, "libsodium's BLAKE2b failed");
    return P4_OK;
}

size_t p4_weights_file_size(uint64_t count)
{
    return P4_WEIGHTS_HEADER_BYTES + (size_t)count * 4 + P4_WEIGHTS_DIGEST_BYTES;
}

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int check_header(const p4_weights_header *h, p4_error *err)
{
    const p4_cfg_shape *s = &h->shape;
    if (s->width < 1 || s->width > P4_WEIGHTS_MAX_SIDE || s->height < 1 ||
        s->height > P4_WEIGHTS_MAX_SIDE || s->channels < 1 || s->channels > P4_WEIGHTS_MAX_SIDE)
        return p4_error_set(err, P4_EFORMAT, "weights file: input shape %dx%dx%d (each side "
                            "1..%d)", s->width, s->height, s->channels, P4_WEIGHTS_MAX_SIDE);
    if ((uint64_t)s->width * s->height * s->channels > P4_WEIGHTS_MAX_FLOATS)
        return p4_error_set(err, P4_EFORMAT, "weights file: input of %dx%dx%d floats is too "
                            "large", s->width, s->height, s->channels);
    if (s->classes < 2 || s->classes > P4_WEIGHTS_MAX_CLASSES)
        return p4_error_set(err, P4_EFORMAT, "weights file: %d classes (want 2..%d)",
                            s->classes, P4_WEIGHTS_MAX_CLASSES);
    if (h->count < 1 || h->count > P4_WEIGHTS_MAX_FLOATS)
        return p4_error_set(err, P4_EFORMAT, "weights file: %llu floats (want 1..%u)",
                            (unsigned long long)h->count, P4_WEIGHTS_MAX_FLOATS);
    return P4_OK;
}

int p4_weights_encode(const p4_weights_header *h, const float *values, uint8_t *buf,
                      size_t capacity, p4_error *err)
{
    if (h == NULL || values == NULL || buf == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_weights_encode: NULL argument");
    int rc = check_header(h, err);
    if (rc != P4_OK)
        return rc;
    size_t size = p4_weights_file_size(h->count);
    if (capacity < size)
        return p4_error_set(err, P4_EINVAL, "weights file needs %zu bytes, buffer has %zu", size,
                            capacity);
    memcpy(buf, magic, 8);
    put_u32(buf + 8, P4_WEIGHTS_VERSION);
    put_u32(buf + 12, (uint32_t)h->shape.width);
    put_u32(buf + 16, (uint32_t)h->shape.height);
    put_u32(buf + 20, (uint32_t)h->shape.channels);
    put_u32(buf + 24, (uint32_t)h->shape.classes);
    memcpy(buf + 28, h->cfg_digest, P4_WEIGHTS_DIGEST_BYTES);
    put_u32(buf + 60, (uint32_t)h->count);
    put_u32(buf + 64, (uint32_t)(h->count >> 32));
    for (uint64_t i = 0; i < h->count; i++) {
        if (!isfinite(values[i]))
            return p4_error_set(err, P4_EMODEL, "weight %llu is not finite: the model diverged",
                                (unsigned long long)i);
        uint32_t bits;
        memcpy(&bits, &values[i], 4);
        put_u32(buf + P4_WEIGHTS_HEADER_BYTES + 4 * i, bits);
    }
    size_t body = size - P4_WEIGHTS_DIGEST_BYTES;
    return p4_weights_digest(buf, body, buf + body, err);
}

int p4_weights_decode(const uint8_t *bytes, size_t len, p4_weights_header *h, float *values,
                      p4_error *err)
{
    if (bytes == NULL || h == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_weights_decode: NULL argument");
    memset(h, 0, sizeof *h);
    if (len < P4_WEIGHTS_HEADER_BYTES + P4_WEIGHTS_DIGEST_BYTES)
        return p4_error_set(err, P4_EFORMAT, "weights file: %zu bytes (a header alone is %d)",
                            len, P4_WEIGHTS_HEADER_BYTES + P4_WEIGHTS_DIGEST_BYTES);
    if (memcmp(bytes, magic, 8) != 0)
        return p4_error_set(err, P4_EFORMAT, "weights file: bad magic (not a p4 weights file)");
    uint32_t version = get_u32(bytes + 8);
    if (version != P4_WEIGHTS_VERSION)
        return p4_error_set(err, P4_EFORMAT, "weights file: version %u (this p4 reads %d)",
                            version, P4_WEIGHTS_VERSION);
    uint32_t side[4];
    for (int i = 0; i < 4; i++) {
        side[i] = get_u32(bytes + 12 + 4 * i);
        if (side[i] > P4_WEIGHTS_MAX_SIDE)
            side[i] = P4_WEIGHTS_MAX_SIDE + 1; /* refused below, no int overflow */
    }
    h->shape = (p4_cfg_shape){(int)side[0], (int)side[1], (int)side[2], (int)side[3]};
    memcpy(h->cfg_digest, bytes + 28, P4_WEIGHTS_DIGEST_BYTES);
    h->count = (uint64_t)get_u32(bytes + 60) | (uint64_t)get_u32(bytes + 64) << 32;
    int rc = check_header(h, err);
    if (rc != P4_OK)
        return rc;
    if (len != p4_weights_file_size(h->count))
        return p4_error_set(err, P4_EFORMAT, "weights file: %zu bytes for %llu floats (want "
                            "%zu): truncated or padded", len, (unsigned long long)h->count,
                            p4_weights_file_size(h->count));
    uint8_t digest[P4_WEIGHTS_DIGEST_BYTES];
    size_t body = len - P4_WEIGHTS_DIGEST_BYTES;
    if ((rc = p4_weights_digest(bytes, body, digest, err)) != P4_OK)
        return rc;
    if (sodium_memcmp(digest, bytes + body, P4_WEIGHTS_DIGEST_BYTES) != 0)
        return p4_error_set(err, P4_EFORMAT, "weights file: checksum mismatch (corrupted)");
    for (uint64_t i = 0; i < h->count; i++) {
        uint32_t bits = get_u32(bytes + P4_WEIGHTS_HEADER_BYTES + 4 * i);
        float v;
        memcpy(&v, &bits, 4);
        if (!isfinite(v))
            return p4_error_set(err, P4_EFORMAT, "weights file: weight %llu is not finite",
                                (unsigned long long)i);
        if (values != NULL)
            values[i] = v;
    }
    return P4_OK;
}
