/* verifier.h: what a node holds to admit peers by CCA attestation: the
 * trusted platform key and the policy from its [tee] settings, loaded once.
 *
 * Admission of a peer (see docs/attestation.md): this node sent a 32-byte
 * nonce; the peer answered with a token in its HELLO's evidence; the
 * transport authenticated the peer's CURVE key.  p4_cca_verifier_check
 * accepts the token only if it is valid under the CPAK and policy and
 * answers the challenge bound to exactly that key and nonce.
 * The verifier is read-only after p4_cca_verifier_new, so several threads
 * (the ZAP handler and the protocol) may check with one verifier at once. */
#ifndef P4_TEE_CCA_VERIFIER_H
#define P4_TEE_CCA_VERIFIER_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "tee/cca/settings.h"
#include "tee/cca/verify.h"

typedef struct p4_cca_verifier p4_cca_verifier;

/* Loads settings->policy.cpak and copies the policy.  P4_ECONFIG if the
 * settings name no cpak or no realm_initial_measurement; the CPAK file's
 * own errors (P4_EIO, P4_EFORMAT) otherwise. */
int p4_cca_verifier_new(p4_cca_verifier **out, const p4_cca_settings *settings,
                        p4_error *err);
void p4_cca_verifier_destroy(p4_cca_verifier **verifier);

/* Admits or refuses one peer; see p4_cca_verify_peer for the codes. */
int p4_cca_verifier_check(const p4_cca_verifier *verifier, const uint8_t *token, size_t len,
                          const uint8_t peer_key[32], const uint8_t nonce[32],
                          p4_cca_verdict *verdict, p4_error *err);

#endif
