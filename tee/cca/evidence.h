/* evidence.h: where a realm gets its attestation token, and the challenge
 * that binds a token to the node's transport.
 *
 * Two sources behind one interface:
 *   configfs-tsm  Linux's report interface (Documentation/ABI/testing/
 *                 configfs-tsm-report): make a report directory under the
 *                 root (default /sys/kernel/config/tsm/report), check that
 *                 `provider` is the CCA guest driver (arm_cca_guest), write
 *                 the 64-byte challenge to `inblob`, read `outblob`, and
 *                 check that `generation` advanced by exactly one, which
 *                 shows no other writer raced ours.
 *   command       an external program (for tests, or a realm agent): run
 *                 with the challenge in hex as its last argument, it prints
 *                 the token on stdout and exits 0 (P4_ETIMEOUT if it takes
 *                 longer than its deadline; it is then killed).
 *
 * The challenge binds the transport: SHA-512 over a domain string, the
 * node's CURVE public key and the verifier's fresh nonce (each length-
 * prefixed).  A token made for another key or another nonce answers
 * another challenge and fails verification. */
#ifndef P4_TEE_CCA_EVIDENCE_H
#define P4_TEE_CCA_EVIDENCE_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

#define P4_CCA_TSM_ROOT "/sys/kernel/config/tsm/report"
#define P4_CCA_TSM_PROVIDER "arm_cca_guest"
#define P4_CCA_BINDING_DOMAIN "p4 cca admission challenge v1"
#define P4_CCA_NONCE_MIN 16
#define P4_CCA_COMMAND_TIMEOUT_MS 10000

/* challenge[64] = SHA-512(domain, 0, len32(key), key, len32(nonce), nonce).
 * The nonce must be at least P4_CCA_NONCE_MIN bytes. */
int p4_cca_binding_challenge(const uint8_t *public_key, size_t public_key_len,
                             const uint8_t *nonce, size_t nonce_len, uint8_t challenge[64],
                             p4_error *err);

typedef struct p4_cca_evidence p4_cca_evidence;

/* configfs-tsm under root (NULL: P4_CCA_TSM_ROOT).  report_name NULL makes
 * a fresh report directory per request and removes it afterwards; a name
 * uses that directory (made if absent, kept). */
int p4_cca_evidence_new_tsm(p4_cca_evidence **out, const char *root, const char *report_name,
                            p4_error *err);
/* An external command: words separated by spaces (no shell, no quoting);
 * the challenge's hex is appended as the last argument.  timeout_ms <= 0
 * means P4_CCA_COMMAND_TIMEOUT_MS. */
int p4_cca_evidence_new_command(p4_cca_evidence **out, const char *command, int timeout_ms,
                                p4_error *err);
void p4_cca_evidence_destroy(p4_cca_evidence **evidence);

/* One line naming the source ("configfs-tsm at /sys/...", "command ..."). */
const char *p4_cca_evidence_describe(const p4_cca_evidence *evidence);

/* Gets a token answering challenge (64 bytes); *token is malloc'd. */
int p4_cca_evidence_get(p4_cca_evidence *evidence, const uint8_t challenge[64],
                        uint8_t **token, size_t *token_len, p4_error *err);

/* The prover's side of admission: a token answering a verifier's 32-byte
 * nonce, bound to this node's own CURVE public key (the key the peer's
 * transport will see).  *token is malloc'd. */
int p4_cca_evidence_answer(p4_cca_evidence *evidence, const uint8_t own_key[32],
                           const uint8_t nonce[32], uint8_t **token, size_t *token_len,
                           p4_error *err);

#endif
