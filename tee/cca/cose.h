/* cose.h: COSE_Sign1 (RFC 9052) with the ECDSA algorithms a CCA token uses.
 *
 * A COSE_Sign1 is [protected: bstr, unprotected: map, payload: bstr,
 * signature: bstr], optionally under CBOR tag 18.  The signature covers the
 * Sig_structure ["Signature1", protected, external_aad (empty here),
 * payload], built from the exact bytes of the protected header and payload
 * as they appear in the message, so nothing is re-encoded before verifying.
 * Only the protected header's algorithm (label 1) is trusted.  EC signatures
 * are r||s, each the size of the curve's coordinates (RFC 9053 2.1). */
#ifndef P4_TEE_CCA_COSE_H
#define P4_TEE_CCA_COSE_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "common/error.h"

enum {
    P4_COSE_ES256 = -7,   /* ECDSA P-256 with SHA-256 */
    P4_COSE_ES384 = -35,  /* ECDSA P-384 with SHA-384 */
    P4_COSE_ES512 = -36   /* ECDSA P-521 with SHA-512 */
};

#define P4_COSE_SIGN1_TAG 18

/* One decoded COSE_Sign1; the three byte fields are heap copies. */
typedef struct p4_cose_sign1 {
    int64_t alg;                    /* from the protected header */
    uint8_t *protected_header;      /* the protected bstr's content */
    size_t protected_len;
    uint8_t *payload;
    size_t payload_len;
    uint8_t *signature;             /* r||s */
    size_t signature_len;
} p4_cose_sign1;

/* "ES256", "ES384", "ES512" or NULL for an algorithm p4 does not accept. */
const char *p4_cose_alg_name(int64_t alg);

/* Decodes bytes (one CBOR item, nothing after it) into out.  `what` names
 * the message in errors ("platform token").  P4_EFORMAT for anything that is
 * not a COSE_Sign1 with a supported algorithm and a signature of its size;
 * out is then cleared. */
int p4_cose_sign1_decode(const uint8_t *bytes, size_t len, const char *what,
                         p4_cose_sign1 *out, p4_error *err);
/* Frees the byte fields and zeroes s. */
void p4_cose_sign1_clear(p4_cose_sign1 *s);

/* The CBOR Sig_structure the signature covers; *out is malloc'd. */
int p4_cose_sig_structure(const p4_cose_sign1 *s, uint8_t **out, size_t *out_len,
                          p4_error *err);

/* Verifies s under key.  The key must be EC on the curve s->alg names.
 * P4_ECRYPTO if the signature does not verify or the key does not fit. */
int p4_cose_sign1_verify(const p4_cose_sign1 *s, EVP_PKEY *key, const char *what,
                         p4_error *err);

/* Signs payload with key (a private EC key on alg's curve) and writes the
 * tagged COSE_Sign1 encoding to *out (malloc'd).  Used by the test token
 * issuer and the benchmark; a verifier never signs. */
int p4_cose_sign1_sign(int64_t alg, const uint8_t *payload, size_t payload_len,
                       EVP_PKEY *key, uint8_t **out, size_t *out_len, p4_error *err);

/* The algorithm that matches an EC key's curve (P-256 -> ES256, ...). */
int p4_cose_alg_for_key(EVP_PKEY *key, int64_t *alg, p4_error *err);

/* A public EC key from either form a realm token carries in claim 44237:
 * a COSE_Key map (kty 2, crv 1/2/3, x, y) or a raw uncompressed point
 * (0x04 || x || y, as older TF-RMM tokens have).  The point must be on the
 * curve.  P4_EFORMAT otherwise. */
int p4_cose_public_key_decode(const uint8_t *bytes, size_t len, EVP_PKEY **out,
                              p4_error *err);
/* The raw uncompressed point (0x04 || x || y) of an EC key; *out malloc'd. */
int p4_cose_public_key_point(EVP_PKEY *key, uint8_t **out, size_t *out_len, p4_error *err);
/* The COSE_Key map (kty, crv, x, y) of an EC public key; *out malloc'd. */
int p4_cose_public_key_encode(EVP_PKEY *key, uint8_t **out, size_t *out_len, p4_error *err);

#endif
