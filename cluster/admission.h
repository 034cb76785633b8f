/* admission.h: which peers a node lets in.
 *
 * The one place that decides whether a peer may talk to this node.  A peer
 * is admitted when its CURVE public key is on the allowlist (the config's
 * `allow` keys).  The ZeroMQ transport asks it for every incoming
 * connection (from its ZAP handler) and before it connects to a peer.
 *
 * With attestation required (`[tee] backend = cca`), a listed key is only
 * half-way in: its connection is accepted so that the handshake
 * (cluster/handshake.h) can exchange nonces and tokens, but the peer takes
 * part in the protocol only once its token verified
 * (p4_admission_admitted).  A key whose token failed is refused from then
 * on, by the ZAP handler and before dialling, with the reason recorded.
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

/* Listed keys must also pass attestation (`what` names it in messages and
 * in p4_admission_describe, e.g. "CCA attestation"). */
int p4_admission_require_attestation(p4_admission *admission, const char *what, p4_error *err);

/* Records the outcome of a listed key's attestation: passed (1) or refused
 * (0) with `reason` (kept, truncated to 160 bytes).  P4_EINVAL for a key
 * not on the allowlist.  A refusal is final for this run. */
int p4_admission_record(p4_admission *admission, const uint8_t key[32], int passed,
                        const char *reason, p4_error *err);

/* 1 when the peer holding `key` may take part in the protocol: listed, and
 * attested when attestation is required; else 0 with the reason. */
int p4_admission_admitted(p4_admission *admission, const uint8_t key[32], char *reason,
                          size_t reason_size);

/* One line for logs and results: "key allowlist only, no attestation" or
 * "key allowlist and CCA attestation". */
const char *p4_admission_describe(const p4_admission *admission);

#endif
