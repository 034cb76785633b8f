/* cbor_util.h: the few libcbor helpers the CCA token code shares: loading
 * one complete item with an error a person can act on, reading integer
 * labels, and finding a map entry by integer label. */
#ifndef P4_TEE_CCA_CBOR_UTIL_H
#define P4_TEE_CCA_CBOR_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include <cbor.h>

#include "common/error.h"

/* Decodes exactly one CBOR item from bytes[0..len): P4_EFORMAT naming
 * `what` and the offset if the bytes are empty, truncated, malformed or
 * followed by anything.  *out is then the item (cbor_decref it). */
int p4_cbor_load(const uint8_t *bytes, size_t len, const char *what, cbor_item_t **out,
                 p4_error *err);

/* *out = the item's integer value if it is a CBOR integer that fits an
 * int64; returns 0 on success, -1 otherwise. */
int p4_cbor_int(const cbor_item_t *item, int64_t *out);

/* The value under integer label `label` in map (not referenced: valid while
 * map lives), or NULL.  *duplicate is set if the label occurs twice. */
cbor_item_t *p4_cbor_map_get(const cbor_item_t *map, int64_t label, int *duplicate);

/* A CBOR integer item of value v in its shortest encoding (libcbor keeps
 * the width it is given, and COSE headers and claim keys should be
 * preferred-encoded).  NULL if out of memory. */
cbor_item_t *p4_cbor_build_int(int64_t v);

/* 1 if item is a definite-length byte string, else 0. */
int p4_cbor_is_bytes(const cbor_item_t *item);
/* 1 if item is a definite-length text string, else 0. */
int p4_cbor_is_text(const cbor_item_t *item);

/* Serializes item into a malloc'd buffer; P4_ENOMEM on failure. */
int p4_cbor_serialize(const cbor_item_t *item, uint8_t **out, size_t *out_len, p4_error *err);

#endif
