/* identity.h: a node's CURVE key pair, kept in its state directory, and the
 * Z85 text form of keys used in configs (`peers`, `allow`) and logs.
 *
 * state_dir/node.key holds the secret key and state_dir/node.pub the public
 * key, each as 40 Z85 characters and a newline, both mode 0600.  They are
 * made on first start and read afterwards; a secret key file that group or
 * others may read, that is not a regular file, or that is malformed is
 * refused, and so is a node.pub that does not belong to node.key. */
#ifndef P4_CLUSTER_IDENTITY_H
#define P4_CLUSTER_IDENTITY_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

#define P4_KEY_BYTES 32
#define P4_KEY_Z85_CHARS 40  /* a Z85 key in text, without the NUL */

typedef struct p4_identity {
    uint8_t public_key[P4_KEY_BYTES];
    uint8_t secret_key[P4_KEY_BYTES];
} p4_identity;

/* Loads the key pair from state_dir, or makes it there (and state_dir, mode
 * 0700, if missing) on first start.  *created (may be NULL) says which. */
int p4_identity_load_or_create(const char *state_dir, p4_identity *identity, int *created,
                               p4_error *err);

/* Overwrites the secret key with zeros. */
void p4_identity_wipe(p4_identity *identity);

/* key -> 40 Z85 characters and a NUL in text. */
void p4_key_to_z85(const uint8_t key[P4_KEY_BYTES], char text[P4_KEY_Z85_CHARS + 1]);

/* Exactly 40 Z85 characters -> key; P4_EINVAL naming what is wrong. */
int p4_key_from_z85(const char *text, uint8_t key[P4_KEY_BYTES], p4_error *err);

/* A list of Z85 keys separated by commas and/or white space (a config's
 * `allow` or `peers` value) into keys[0..max); *count = keys read. */
int p4_key_list_parse(const char *text, uint8_t (*keys)[P4_KEY_BYTES], size_t max, size_t *count,
                      p4_error *err);

#endif
