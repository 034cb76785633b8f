/* hex.h: hexadecimal text <-> bytes, for claims printed and allowlists and
 * challenges given on the command line or in a config. */
#ifndef P4_TEE_CCA_HEX_H
#define P4_TEE_CCA_HEX_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

/* Decodes hex (upper or lower case, an even number of digits, nothing
 * else) into out (capacity cap); *len = bytes written.  P4_EINVAL naming
 * `what` and the offending position otherwise. */
int p4_hex_decode(const char *hex, const char *what, uint8_t *out, size_t cap, size_t *len,
                  p4_error *err);
/* Writes 2*n lowercase digits and a NUL to out (at least 2*n+1 bytes). */
void p4_hex_encode(const uint8_t *bytes, size_t n, char *out);

#endif
