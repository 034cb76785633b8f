/* token.h: the Arm CCA attestation token (draft-ffm-rats-cca-token, the Arm
 * CCA Security Model and RMM specification).
 *
 * A token is CBOR tag 399 around a map of two byte strings:
 *     44234 -> the platform token, a COSE_Sign1 signed by the platform's
 *              attestation key (CPAK);
 *     44241 -> the realm token, a COSE_Sign1 signed by the realm attestation
 *              key (RAK), whose public half the realm token carries (44237)
 *              and whose hash the platform token's challenge is.
 * Parsing checks the shape, the claims' types and sizes, and that every
 * mandatory claim is there; it verifies no signature (verify.h does).
 * Unknown claims are ignored so that newer tokens still parse. */
#ifndef P4_TEE_CCA_TOKEN_H
#define P4_TEE_CCA_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "tee/cca/cose.h"

#define P4_CCA_TOKEN_TAG 399
#define P4_CCA_PLATFORM_TOKEN 44234
#define P4_CCA_REALM_TOKEN 44241
/* Larger than any real token (the kernel's outblob limit is 32 KiB). */
#define P4_CCA_TOKEN_MAX (64 * 1024)

/* Realm claims. */
#define P4_CCA_CHALLENGE 10
#define P4_CCA_REALM_PROFILE 44233
#define P4_CCA_REALM_PERSONALIZATION 44235
#define P4_CCA_REALM_HASH_ALGO 44236
#define P4_CCA_REALM_PUBLIC_KEY 44237
#define P4_CCA_REALM_INITIAL_MEASUREMENT 44238
#define P4_CCA_REALM_EXTENSIBLE_MEASUREMENTS 44239
#define P4_CCA_REALM_PUBLIC_KEY_HASH_ALGO 44240
/* Platform claims. */
#define P4_CCA_PLATFORM_PROFILE 265
#define P4_CCA_PLATFORM_INSTANCE_ID 256
#define P4_CCA_PLATFORM_LIFECYCLE 2395
#define P4_CCA_PLATFORM_IMPLEMENTATION_ID 2396
#define P4_CCA_PLATFORM_SW_COMPONENTS 2399
#define P4_CCA_PLATFORM_VERIFICATION_SERVICE 2400
#define P4_CCA_PLATFORM_CONFIG 2401
#define P4_CCA_PLATFORM_HASH_ALGO 2402

#define P4_CCA_VALUE_MAX 256       /* largest byte-string claim kept */
#define P4_CCA_TEXT_MAX 128        /* largest text claim kept */
#define P4_CCA_SW_COMPONENTS_MAX 32
#define P4_CCA_REM_COUNT 4

typedef struct p4_cca_bytes {
    uint8_t data[P4_CCA_VALUE_MAX];
    size_t len;
} p4_cca_bytes;

typedef struct p4_cca_sw_component {
    char type[P4_CCA_TEXT_MAX];          /* "" if absent (optional) */
    p4_cca_bytes measurement;            /* 32, 48 or 64 bytes */
    char version[P4_CCA_TEXT_MAX];       /* "" if absent */
    p4_cca_bytes signer_id;              /* 32, 48 or 64 bytes */
    char hash_algo[P4_CCA_TEXT_MAX];     /* "" if absent */
} p4_cca_sw_component;

typedef struct p4_cca_platform_claims {
    char profile[P4_CCA_TEXT_MAX];
    p4_cca_bytes challenge;              /* hash of the RAK: 32, 48 or 64 bytes */
    p4_cca_bytes implementation_id;      /* 32 bytes */
    p4_cca_bytes instance_id;            /* 33 bytes, first 0x01 */
    p4_cca_bytes config;
    uint64_t lifecycle;
    p4_cca_sw_component sw_components[P4_CCA_SW_COMPONENTS_MAX];
    size_t sw_component_count;
    char verification_service[P4_CCA_TEXT_MAX]; /* "" if absent */
    char hash_algo[P4_CCA_TEXT_MAX];            /* "" if absent */
} p4_cca_platform_claims;

typedef struct p4_cca_realm_claims {
    char profile[P4_CCA_TEXT_MAX];       /* "" if absent (older tokens) */
    p4_cca_bytes challenge;              /* 64 bytes */
    p4_cca_bytes personalization;        /* 64 bytes */
    char hash_algo[P4_CCA_TEXT_MAX];     /* of the measurements */
    p4_cca_bytes public_key;             /* the RAK as carried: COSE_Key or raw point */
    char public_key_hash_algo[P4_CCA_TEXT_MAX];
    p4_cca_bytes initial_measurement;    /* RIM: 32, 48 or 64 bytes */
    p4_cca_bytes extensible_measurements[P4_CCA_REM_COUNT];
} p4_cca_realm_claims;

typedef struct p4_cca_token {
    p4_cose_sign1 platform_sign1;
    p4_cose_sign1 realm_sign1;
    p4_cca_platform_claims platform;
    p4_cca_realm_claims realm;
} p4_cca_token;

/* Parses a whole token.  P4_EFORMAT naming the part and claim on any
 * malformed, truncated or incomplete input; *out is then NULL. */
int p4_cca_token_parse(const uint8_t *bytes, size_t len, p4_cca_token **out, p4_error *err);
void p4_cca_token_destroy(p4_cca_token **token);

/* Parse one claim set (a COSE payload, or a claims file). */
int p4_cca_platform_claims_parse(const uint8_t *bytes, size_t len,
                                 p4_cca_platform_claims *out, p4_error *err);
int p4_cca_realm_claims_parse(const uint8_t *bytes, size_t len, p4_cca_realm_claims *out,
                              p4_error *err);

/* "sha-256" -> its digest size (32, 48 for "sha-384", 64 for "sha-512"),
 * 0 for a name p4 does not know. */
size_t p4_cca_hash_size(const char *name);

#endif
