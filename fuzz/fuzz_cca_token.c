/* fuzz_cca_token.c: libFuzzer target for the CCA attestation token parser
 * and the COSE pieces it uses.  Input: one selector byte (taken mod 5), then
 * the bytes for 0: a whole token, 1: a realm claim set, 2: a platform claim
 * set, 3: a COSE_Sign1, 4: a realm public key (COSE_Key or raw point).
 * Every rejection must carry a message; every accepted token must hold
 * claims of the sizes the parser promises. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tee/cca/cose.h"
#include "tee/cca/token.h"

static void check_rejection(int rc, const p4_error *err)
{
    if (rc != P4_OK && (err->code != rc || err->message[0] == '\0'))
        __builtin_trap();
}

static void check_realm(const p4_cca_realm_claims *r)
{
    if (r->challenge.len != 64 || r->personalization.len != 64 || r->public_key.len == 0 ||
        p4_cca_hash_size(r->hash_algo) != r->initial_measurement.len)
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int kind = data[0] % 5;
    const uint8_t *bytes = data + 1;
    size_t len = size - 1;
    p4_error err;
    p4_error_clear(&err);
    int rc;
    if (kind == 0) {
        p4_cca_token *t = NULL;
        rc = p4_cca_token_parse(bytes, len, &t, &err);
        if ((rc == P4_OK) != (t != NULL))
            __builtin_trap();
        if (t != NULL) {
            check_realm(&t->realm);
            if (p4_cose_alg_name(t->platform_sign1.alg) == NULL ||
                t->platform.sw_component_count == 0 ||
                t->platform.sw_component_count > P4_CCA_SW_COMPONENTS_MAX)
                __builtin_trap();
            EVP_PKEY *rak = NULL;
            if (p4_cose_public_key_decode(t->realm.public_key.data, t->realm.public_key.len,
                                          &rak, &err) == P4_OK) {
                p4_cose_sign1_verify(&t->realm_sign1, rak, "realm token", &err);
                EVP_PKEY_free(rak);
            }
        }
        p4_cca_token_destroy(&t);
    } else if (kind == 1) {
        p4_cca_realm_claims r;
        rc = p4_cca_realm_claims_parse(bytes, len, &r, &err);
        if (rc == P4_OK)
            check_realm(&r);
    } else if (kind == 2) {
        p4_cca_platform_claims p;
        rc = p4_cca_platform_claims_parse(bytes, len, &p, &err);
        if (rc == P4_OK && (p.instance_id.len != 33 || p.sw_component_count == 0))
            __builtin_trap();
    } else if (kind == 3) {
        p4_cose_sign1 s;
        rc = p4_cose_sign1_decode(bytes, len, "fuzz", &s, &err);
        if (rc == P4_OK && (s.signature_len == 0 || p4_cose_alg_name(s.alg) == NULL))
            __builtin_trap();
        p4_cose_sign1_clear(&s);
    } else {
        EVP_PKEY *key = NULL;
        rc = p4_cose_public_key_decode(bytes, len, &key, &err);
        if ((rc == P4_OK) != (key != NULL))
            __builtin_trap();
        EVP_PKEY_free(key);
    }
    check_rejection(rc, &err);
    return 0;
}
