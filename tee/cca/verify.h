/* verify.h: deciding whether a CCA attestation token is acceptable.
 *
 * Checks, in order (the first that fails is the verdict):
 *   format              the token parses (token.h): shape, claim types, sizes
 *   platform-signature  the platform token verifies under the trusted CPAK
 *   rak-binding         the platform challenge equals the hash, under claim
 *                       44240's algorithm, of the RAK in claim 44237: the
 *                       platform vouches for this realm key
 *   realm-signature     the realm token verifies under that RAK
 *   platform-lifecycle  claim 2395 is "secured" (0x3000..0x30ff): no debug
 *                       or provisioning-state platforms
 *   realm-challenge     claim 10 equals the expected challenge (if given)
 *   initial-measurement claim 44238 is in the allowlist (if one is given)
 *   personalization     claim 44235 is in the allowlist (if one is given)
 *   platform-sw-component every claim 2399 measurement is in the allowlist
 *                       (if one is given)
 * An empty allowlist or a NULL challenge means "not checked", and the
 * verdict says so.  Admission (p4_cca_verify_peer) always checks the
 * challenge and needs a non-empty initial-measurement allowlist. */
#ifndef P4_TEE_CCA_VERIFY_H
#define P4_TEE_CCA_VERIFY_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "common/error.h"
#include "tee/cca/token.h"

#define P4_CCA_ALLOWLIST_MAX 32
#define P4_CCA_PATH_MAX 1024
#define P4_CCA_CHALLENGE_SIZE 64

typedef enum {
    P4_CCA_PASSED = 0,
    P4_CCA_FAILED_FORMAT,
    P4_CCA_FAILED_PLATFORM_SIGNATURE,
    P4_CCA_FAILED_RAK_BINDING,
    P4_CCA_FAILED_REALM_SIGNATURE,
    P4_CCA_FAILED_PLATFORM_LIFECYCLE,
    P4_CCA_FAILED_REALM_CHALLENGE,
    P4_CCA_FAILED_INITIAL_MEASUREMENT,
    P4_CCA_FAILED_PERSONALIZATION,
    P4_CCA_FAILED_SW_COMPONENT
} p4_cca_check;

/* "passed", "format", "platform-signature", ... (the names above). */
const char *p4_cca_check_name(p4_cca_check check);

typedef struct p4_cca_allowlist {
    p4_cca_bytes items[P4_CCA_ALLOWLIST_MAX];
    size_t count;
} p4_cca_allowlist;

/* What a verifier accepts.  cpak is a PEM file path (may be ""). */
typedef struct p4_cca_policy {
    char cpak[P4_CCA_PATH_MAX];
    p4_cca_allowlist initial_measurements;      /* realm_initial_measurement */
    p4_cca_allowlist personalization_values;    /* realm_personalization_value */
    p4_cca_allowlist sw_components;             /* platform_sw_component */
} p4_cca_policy;

typedef struct p4_cca_verdict {
    p4_cca_check failed;                 /* P4_CCA_PASSED for a valid token */
    int challenge_checked;
    int initial_measurement_checked;
    int personalization_checked;
    int sw_components_checked;
} p4_cca_verdict;

/* Adds one hex value to list.  P4_ECONFIG if it is not 32, 48 or 64 bytes
 * (64 for personalization values: pass `exact` 64, else 0) or list is full. */
int p4_cca_allowlist_add_hex(p4_cca_allowlist *list, const char *hex, size_t exact,
                             const char *what, p4_error *err);

/* Reads a trusted platform key (CPAK) from a PEM public key file: an EC key
 * on P-256, P-384 or P-521.  *out must be freed with EVP_PKEY_free. */
int p4_cca_cpak_load(const char *path, EVP_PKEY **out, p4_error *err);

/* Verifies token under cpak.  challenge (64 bytes) and policy may be NULL.
 * Returns P4_OK only for a valid token; P4_EFORMAT for a malformed one,
 * P4_ECRYPTO for any failed check; verdict->failed names the check and err
 * says why.  If claims is not NULL it receives the parsed token whenever it
 * parsed (also when a later check failed); destroy it with
 * p4_cca_token_destroy. */
int p4_cca_verify(const uint8_t *token, size_t len, EVP_PKEY *cpak,
                  const uint8_t *challenge, const p4_cca_policy *policy,
                  p4_cca_verdict *verdict, p4_cca_token **claims, p4_error *err);

/* Admission of a peer: verifies token with the challenge bound to the
 * peer's transport key and the verifier's nonce (p4_cca_binding_challenge),
 * and insists the policy has an initial-measurement allowlist
 * (P4_ECONFIG otherwise). */
int p4_cca_verify_peer(const uint8_t *token, size_t len, EVP_PKEY *cpak,
                       const p4_cca_policy *policy, const uint8_t *peer_public_key,
                       size_t peer_public_key_len, const uint8_t *nonce, size_t nonce_len,
                       p4_cca_verdict *verdict, p4_error *err);

#endif
