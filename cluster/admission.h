/* admission.h: which peers a node lets in.
 *
 * The one place that decides whether a peer may talk to this node.  Today a
 * peer is admitted when its CURVE public key is on the allowlist (the
 * config's `allow` keys).  The ZeroMQ transport asks it for every incoming
 * connection (from its ZAP handler) and before it connects to a peer.
 * Thread-safe: the ZAP handler runs on its own thread. */
#ifndef P4_CLUSTER_ADMISSION_H
#define P4_CLUSTER_ADMISSION_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

typedef struct p4_admission p4_admission;

/* An allowlist of count keys (may be 0: nobody is admitted until allowed). */
int p4_admission_new(p4_admission **out, const uint8_t (*allow)[32], size_t count,
                     p4_error *err);
void p4_admission_destroy(p4_admission **admission);

/* Adds a key to the allowlist (no effect if it is there). */
int p4_admission_allow(p4_admission *admission, const uint8_t key[32], p4_error *err);

/* 1 when the peer holding `key` (connecting from `address`, for the
 * record; may be NULL) is admitted, else 0 with the reason in reason
 * (reason_size bytes, may be NULL). */
int p4_admission_check(p4_admission *admission, const uint8_t key[32], const char *address,
                       char *reason, size_t reason_size);

#endif
