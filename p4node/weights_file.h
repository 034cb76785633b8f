/* weights_file.h: the file a finished node leaves its private model's
 * weights in (state/private.weights, beside state/private.cfg, the copy of
 * the model definition they belong to); `p4 serve` reads it.
 *
 * Little-endian, fixed layout (docs/serve.md):
 *    0  "P4WEIGHT"                       8 bytes
 *    8  version = 1                      u32
 *   12  width, height, channels, classes u32 each: the input shape and classes
 *   28  BLAKE2b-256 of private.cfg       32 bytes: the definition it fits
 *   60  count                            u64: trainable floats
 *   68  count float32, all finite        p4_model_get_params' layout
 *   ..  BLAKE2b-256 of all bytes before  32 bytes
 * A file that is truncated, padded, corrupted or implausible is refused with
 * P4_EFORMAT naming the field; nothing is allocated from an unchecked size. */
#ifndef P4_NODE_WEIGHTS_FILE_H
#define P4_NODE_WEIGHTS_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "model/cfg.h"

#define P4_WEIGHTS_VERSION 1
#define P4_WEIGHTS_DIGEST_BYTES 32
#define P4_WEIGHTS_HEADER_BYTES 68
#define P4_WEIGHTS_MAX_FLOATS (1u << 28)   /* 1 GiB of floats: far above any p4 model */
#define P4_WEIGHTS_MAX_SIDE 4096           /* width, height, channels */
#define P4_WEIGHTS_MAX_CLASSES 4096

typedef struct p4_weights_header {
    p4_cfg_shape shape;
    uint8_t cfg_digest[P4_WEIGHTS_DIGEST_BYTES];
    uint64_t count;
} p4_weights_header;

/* BLAKE2b-256 of bytes (the cfg digest, and the file's own check). */
int p4_weights_digest(const void *bytes, size_t len, uint8_t out[P4_WEIGHTS_DIGEST_BYTES],
                      p4_error *err);

/* Bytes a file of count floats takes. */
size_t p4_weights_file_size(uint64_t count);

/* Encodes into buf (p4_weights_file_size(count) bytes). */
int p4_weights_encode(const p4_weights_header *header, const float *values, uint8_t *buf,
                      size_t capacity, p4_error *err);

/* Checks a whole file image and fills *header; values (may be NULL) gets
 * header->count floats, allocated by the caller after a first call with
 * values NULL has returned the header. */
int p4_weights_decode(const uint8_t *bytes, size_t len, p4_weights_header *header,
                      float *values, p4_error *err);

#endif
