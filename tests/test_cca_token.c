/* test_cca_token.c: the CCA token parser and verifier on the TF-RMM token in
 * ../shared (ES384, raw-point RAK): it verifies under its CPAK and is
 * rejected, with the failed check named, under a wrong key, with any byte
 * changed, with a wrong challenge and with a measurement outside the
 * allowlist; truncated, unsigned and malformed inputs are clean errors; the
 * shared claim sets parse or are rejected for the right reason. */
#define _GNU_SOURCE /* memmem */
#include "support/test_support.h"

#include <string.h>

#include <cbor.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#include "support/cca_test_tools.h"
#include "tee/cca/cbor_util.h"
#include "tee/cca/token.h"
#include "tee/cca/settings.h"
#include "tee/cca/verify.h"

#define TOKEN "attestation/cca/tf-rmm-token.cbor"
#define CPAK "attestation/cca/tf-rmm-cpak.pub.pem"
/* What the shared token carries. */
#define SHARED_CHALLENGE_BYTE 0xab
#define SHARED_SW_MEASUREMENT \
    "07060504030201000f0e0d0c0b0a090817161514131211101f1e1d1c1b1a1918"
#define ZERO32 "0000000000000000000000000000000000000000000000000000000000000000"
#define ONES32 "1111111111111111111111111111111111111111111111111111111111111111"

typedef struct {
    uint8_t *token;
    size_t len;
    EVP_PKEY *cpak;
} shared_token;

static int load_shared(shared_token *s)
{
    /* test_shared_path reuses its storage: copy each path before the next. */
    const char *token = test_shared_path(TOKEN);
    char token_path[1024];
    snprintf(token_path, sizeof token_path, "%s", token ? token : "");
    if (token == NULL || test_shared_path(CPAK) == NULL)
        return 0;
    p4_error err = {0};
    assert_int_equal(p4_cca_cpak_load(test_shared_path(CPAK), &s->cpak, &err), P4_OK);
    s->token = cca_read_file(token_path, &s->len);
    return 1;
}

static void free_shared(shared_token *s)
{
    free(s->token);
    EVP_PKEY_free(s->cpak);
}

#define NEED_SHARED(s)                                                                  \
    do {                                                                                \
        if (!load_shared(&(s)))                                                         \
            TEST_SKIP("../shared/" TOKEN " or its CPAK is absent");                    \
    } while (0)

static void shared_token_verifies_under_its_cpak(void **state)
{
    (void)state;
    shared_token s;
    NEED_SHARED(s);
    uint8_t challenge[64];
    memset(challenge, SHARED_CHALLENGE_BYTE, sizeof challenge);
    p4_cca_verdict v;
    p4_cca_token *t = NULL;
    p4_error err = {0};
    assert_int_equal(p4_cca_verify(s.token, s.len, s.cpak, challenge, NULL, &v, &t, &err),
                     P4_OK);
    assert_int_equal(v.failed, P4_CCA_PASSED);
    assert_true(v.challenge_checked);
    assert_non_null(t);
    assert_int_equal(t->platform_sign1.alg, P4_COSE_ES384);
    assert_int_equal(t->realm_sign1.alg, P4_COSE_ES384);
    assert_string_equal(t->platform.profile, "http://arm.com/CCA-SSD/1.0.0");
    assert_int_equal(t->platform.sw_component_count, 4);
    assert_string_equal(t->platform.sw_components[0].type, "BL");
    assert_int_equal(t->platform.lifecycle, 0x3003);
    assert_int_equal(t->realm.public_key.len, 97); /* raw P-384 point */
    assert_int_equal(t->realm.initial_measurement.len, 32);
    p4_cca_token_destroy(&t);
    assert_null(t);
    free_shared(&s);
}

static void wrong_key_is_rejected(void **state)
{
    (void)state;
    shared_token s;
    NEED_SHARED(s);
    const char *curves[] = {"P-384", "P-256", "P-521"};
    for (size_t i = 0; i < 3; i++) {
        EVP_PKEY *other = EVP_EC_gen(curves[i]);
        assert_non_null(other);
        p4_cca_verdict v;
        p4_error err = {0};
        assert_int_equal(p4_cca_verify(s.token, s.len, other, NULL, NULL, &v, NULL, &err),
                         P4_ECRYPTO);
        assert_int_equal(v.failed, P4_CCA_FAILED_PLATFORM_SIGNATURE);
        assert_non_null(strstr(err.message, "platform token"));
        EVP_PKEY_free(other);
    }
    free_shared(&s);
}

/* Every byte of the token, changed in two ways, makes it fail: the signed
 * content, the signatures and the CBOR framing alike. */
static void every_flipped_byte_is_rejected(void **state)
{
    (void)state;
    shared_token s;
    NEED_SHARED(s);
    static const uint8_t FLIPS[] = {0x01, 0x80};
    size_t by_check[P4_CCA_FAILED_SW_COMPONENT + 1] = {0};
    for (size_t i = 0; i < s.len; i++)
        for (size_t f = 0; f < sizeof FLIPS; f++) {
            s.token[i] ^= FLIPS[f];
            p4_cca_verdict v;
            p4_error err = {0};
            int rc = p4_cca_verify(s.token, s.len, s.cpak, NULL, NULL, &v, NULL, &err);
            if (rc == P4_OK)
                fail_msg("byte %zu ^ 0x%02x still verifies", i, FLIPS[f]);
            assert_int_not_equal(v.failed, P4_CCA_PASSED);
            assert_true(err.message[0] != '\0');
            by_check[v.failed]++;
            s.token[i] ^= FLIPS[f];
        }
    /* Both signatures are exercised, not only the parser. */
    assert_true(by_check[P4_CCA_FAILED_PLATFORM_SIGNATURE] > 500);
    assert_true(by_check[P4_CCA_FAILED_REALM_SIGNATURE] > 400);
    assert_true(by_check[P4_CCA_FAILED_FORMAT] > 0);
    free_shared(&s);
}

static void wrong_challenge_is_rejected(void **state)
{
    (void)state;
    shared_token s;
    NEED_SHARED(s);
    uint8_t challenge[64];
    memset(challenge, SHARED_CHALLENGE_BYTE, sizeof challenge);
    challenge[63] ^= 1;
    p4_cca_verdict v;
    p4_error err = {0};
    assert_int_equal(p4_cca_verify(s.token, s.len, s.cpak, challenge, NULL, &v, NULL, &err),
                     P4_ECRYPTO);
    assert_int_equal(v.failed, P4_CCA_FAILED_REALM_CHALLENGE);
    assert_non_null(strstr(err.message, "challenge"));
    free_shared(&s);
}

static void allowlists_are_enforced(void **state)
{
    (void)state;
    shared_token s;
    NEED_SHARED(s);
    p4_cca_policy policy;
    memset(&policy, 0, sizeof policy);
    p4_error err = {0};
    p4_cca_verdict v;
    /* A measurement outside the list. */
    assert_int_equal(p4_cca_allowlist_add_hex(&policy.initial_measurements,
                                              ONES32, 0, "rim", &err), P4_OK);
    assert_int_equal(p4_cca_verify(s.token, s.len, s.cpak, NULL, &policy, &v, NULL, &err),
                     P4_ECRYPTO);
    assert_int_equal(v.failed, P4_CCA_FAILED_INITIAL_MEASUREMENT);
    assert_non_null(strstr(err.message, ZERO32)); /* names the measurement found */
    /* Add the token's (all zero) measurement: now it passes. */
    assert_int_equal(p4_cca_allowlist_add_hex(&policy.initial_measurements, ZERO32, 0, "rim",
                                              &err), P4_OK);
    assert_int_equal(p4_cca_verify(s.token, s.len, s.cpak, NULL, &policy, &v, NULL, &err),
                     P4_OK);
    assert_true(v.initial_measurement_checked);
    /* Personalization: a different 64-byte value fails. */
    char other[129];
    memset(other, 'e', 128);
    other[128] = '\0';
    assert_int_equal(p4_cca_allowlist_add_hex(&policy.personalization_values, other, 64, "pv",
                                              &err), P4_OK);
    assert_int_equal(p4_cca_verify(s.token, s.len, s.cpak, NULL, &policy, &v, NULL, &err),
                     P4_ECRYPTO);
    assert_int_equal(v.failed, P4_CCA_FAILED_PERSONALIZATION);
    policy.personalization_values.count = 0;
    /* Software components: each must be listed. */
    assert_int_equal(p4_cca_allowlist_add_hex(&policy.sw_components, ZERO32, 0, "sw", &err),
                     P4_OK);
    assert_int_equal(p4_cca_verify(s.token, s.len, s.cpak, NULL, &policy, &v, NULL, &err),
                     P4_ECRYPTO);
    assert_int_equal(v.failed, P4_CCA_FAILED_SW_COMPONENT);
    assert_int_equal(p4_cca_allowlist_add_hex(&policy.sw_components, SHARED_SW_MEASUREMENT, 0,
                                              "sw", &err), P4_OK);
    assert_int_equal(p4_cca_verify(s.token, s.len, s.cpak, NULL, &policy, &v, NULL, &err),
                     P4_OK);
    assert_true(v.sw_components_checked);
    /* Sizes are checked when the list is made. */
    assert_int_equal(p4_cca_allowlist_add_hex(&policy.initial_measurements, "abcd", 0, "rim",
                                              &err), P4_ECONFIG);
    assert_non_null(strstr(err.message, "32, 48 or 64"));
    free_shared(&s);
}

static void truncated_tokens_are_rejected(void **state)
{
    (void)state;
    shared_token s;
    NEED_SHARED(s);
    for (size_t len = 0; len < s.len; len++) {
        p4_cca_verdict v;
        p4_error err = {0};
        uint8_t *copy = malloc(len > 0 ? len : 1); /* exact size: ASan sees overreads */
        memcpy(copy, s.token, len);
        int rc = p4_cca_verify(copy, len, s.cpak, NULL, NULL, &v, NULL, &err);
        if (rc != P4_EFORMAT)
            fail_msg("truncated to %zu bytes: rc %d (%s)", len, rc, err.message);
        assert_int_equal(v.failed, P4_CCA_FAILED_FORMAT);
        assert_true(err.message[0] != '\0');
        free(copy);
    }
    p4_error err = {0};
    p4_cca_token *t = NULL;
    assert_int_equal(p4_cca_token_parse(s.token, 10, &t, &err), P4_EFORMAT);
    assert_null(t);
    assert_non_null(strstr(err.message, "truncated"));
    free_shared(&s);
}

static void shared_claim_sets(void **state)
{
    (void)state;
    if (test_shared_path("attestation/cca/platform-claims.cbor") == NULL ||
        test_shared_path("attestation/cca/realm-claims-missing-challenge.cbor") == NULL ||
        test_shared_path("attestation/cca/realm-claims.cbor") == NULL)
        TEST_SKIP("../shared/attestation/cca claim sets are absent");
    const char *path = test_shared_path("attestation/cca/realm-claims.cbor");
    size_t len;
    uint8_t *bytes = cca_read_file(path, &len);
    p4_cca_realm_claims realm;
    p4_error err = {0};
    assert_int_equal(p4_cca_realm_claims_parse(bytes, len, &realm, &err), P4_OK);
    assert_int_equal(realm.challenge.len, 64);
    assert_int_equal(realm.challenge.data[0], 0xab);
    assert_int_equal(realm.public_key.len, 97);
    assert_string_equal(realm.public_key_hash_algo, "sha-256");
    /* A claim set is not a token: no tag 399, no signature. */
    p4_cca_token *t = NULL;
    assert_int_equal(p4_cca_token_parse(bytes, len, &t, &err), P4_EFORMAT);
    assert_non_null(strstr(err.message, "tag 399"));
    free(bytes);

    bytes = cca_read_file(test_shared_path("attestation/cca/platform-claims.cbor"), &len);
    p4_cca_platform_claims platform;
    assert_int_equal(p4_cca_platform_claims_parse(bytes, len, &platform, &err), P4_OK);
    assert_int_equal(platform.sw_component_count, 2);
    assert_int_equal(platform.lifecycle, 0x3000);
    assert_int_equal(platform.challenge.len, 64);
    assert_int_equal(platform.sw_components[0].measurement.len, 64);
    assert_string_equal(platform.sw_components[0].version, "1.0.0");
    /* The realm parser refuses the platform's claims, naming what is missing. */
    assert_int_equal(p4_cca_realm_claims_parse(bytes, len, &realm, &err), P4_EFORMAT);
    assert_non_null(strstr(err.message, "realm token"));
    /* Text claims are printable ASCII: an escape sequence is refused. */
    uint8_t *version = memmem(bytes, len, "1.0.0", 5);
    assert_non_null(version);
    version[1] = 0x1b;
    assert_int_equal(p4_cca_platform_claims_parse(bytes, len, &platform, &err), P4_EFORMAT);
    assert_non_null(strstr(err.message, "byte 0x1b"));
    free(bytes);

    bytes = cca_read_file(test_shared_path("attestation/cca/realm-claims-missing-challenge.cbor"),
                          &len);
    assert_int_equal(p4_cca_realm_claims_parse(bytes, len, &realm, &err), P4_EFORMAT);
    assert_string_equal(err.message, "realm token: claim 10 (challenge) is missing");
    free(bytes);
}

/* A COSE_Sign1 around payload with the given protected header bytes and
 * signature, encoded with libcbor (tag 18 written by hand: see cose.c). */
static uint8_t *sign1_bytes(const uint8_t *protected_header, size_t protected_len,
                            const uint8_t *payload, size_t payload_len, size_t signature_len,
                            size_t *out_len)
{
    uint8_t signature[132];
    memset(signature, 0x5c, sizeof signature);
    cbor_item_t *a = cbor_new_definite_array(4);
    cbor_array_push(a, cbor_move(cbor_build_bytestring(protected_header, protected_len)));
    cbor_array_push(a, cbor_move(cbor_new_definite_map(0)));
    cbor_array_push(a, cbor_move(cbor_build_bytestring(payload, payload_len)));
    cbor_array_push(a, cbor_move(cbor_build_bytestring(signature, signature_len)));
    uint8_t *body = NULL;
    size_t body_len = 0;
    assert_int_equal(p4_cbor_serialize(a, &body, &body_len, NULL), P4_OK);
    cbor_decref(&a);
    uint8_t *out = malloc(body_len + 1);
    out[0] = 0xd2;
    memcpy(out + 1, body, body_len);
    free(body);
    *out_len = body_len + 1;
    return out;
}

static void unsigned_tokens_are_rejected(void **state)
{
    (void)state;
    static const uint8_t ES384_HEADER[] = {0xa1, 0x01, 0x38, 0x22};
    static const uint8_t PAYLOAD[] = {0xa0};
    p4_cose_sign1 s;
    p4_error err = {0};
    size_t len;
    /* Empty signature. */
    uint8_t *b = sign1_bytes(ES384_HEADER, sizeof ES384_HEADER, PAYLOAD, 1, 0, &len);
    assert_int_equal(p4_cose_sign1_decode(b, len, "realm token", &s, &err), P4_EFORMAT);
    assert_non_null(strstr(err.message, "unsigned"));
    assert_null(s.payload);
    free(b);
    /* No protected header: nothing says which algorithm was signed. */
    b = sign1_bytes(NULL, 0, PAYLOAD, 1, 96, &len);
    assert_int_equal(p4_cose_sign1_decode(b, len, "realm token", &s, &err), P4_EFORMAT);
    assert_non_null(strstr(err.message, "unsigned"));
    free(b);
    /* A signature of the wrong size for ES384. */
    b = sign1_bytes(ES384_HEADER, sizeof ES384_HEADER, PAYLOAD, 1, 64, &len);
    assert_int_equal(p4_cose_sign1_decode(b, len, "realm token", &s, &err), P4_EFORMAT);
    assert_non_null(strstr(err.message, "want 96"));
    free(b);
    /* An algorithm p4 does not accept (EdDSA, -8). */
    static const uint8_t EDDSA_HEADER[] = {0xa1, 0x01, 0x27};
    b = sign1_bytes(EDDSA_HEADER, sizeof EDDSA_HEADER, PAYLOAD, 1, 64, &len);
    assert_int_equal(p4_cose_sign1_decode(b, len, "realm token", &s, &err), P4_EFORMAT);
    assert_non_null(strstr(err.message, "-8"));
    free(b);
    /* The right shape and size, but a made-up signature. */
    b = sign1_bytes(ES384_HEADER, sizeof ES384_HEADER, PAYLOAD, 1, 96, &len);
    assert_int_equal(p4_cose_sign1_decode(b, len, "realm token", &s, &err), P4_OK);
    EVP_PKEY *key = EVP_EC_gen("P-384");
    assert_int_equal(p4_cose_sign1_verify(&s, key, "realm token", &err), P4_ECRYPTO);
    assert_non_null(strstr(err.message, "does not verify"));
    EVP_PKEY_free(key);
    p4_cose_sign1_clear(&s);
    free(b);
}

/* The policy file: the [tee] section, lists, relative cpak, clear errors. */
static void policy_file(void **state)
{
    const char *dir = *state;
    char path[1024];
    test_write_text(dir, "node.ini",
                    "[node]\nid = 3\n"
                    "[tee]\nbackend = cca\ncpak = keys/cpak.pem\n"
                    "realm_initial_measurement = " ZERO32 ", 11" ZERO32 "\n"
                    "realm_initial_measurement = 22" ZERO32 "\n"
                    "platform_sw_component = " SHARED_SW_MEASUREMENT "\n"
                    "evidence = command\nevidence_command = /bin/echo hello\n",
                    path, sizeof path);
    /* "11" ZERO32 is 66 digits: 33 bytes, not a measurement size. */
    p4_cca_settings settings;
    p4_error err = {0};
    assert_int_equal(p4_cca_settings_load(path, &settings, &err), P4_ECONFIG);
    assert_non_null(strstr(err.message, "realm_initial_measurement"));
    assert_non_null(strstr(err.message, "33 bytes"));
    test_write_text(dir, "node.ini",
                    "[node]\nid = 3\n"
                    "[tee]\nbackend = cca\ncpak = keys/cpak.pem\n"
                    "realm_initial_measurement = " ZERO32 ", " SHARED_SW_MEASUREMENT "\n"
                    "realm_initial_measurement = " SHARED_SW_MEASUREMENT ZERO32 "\n"
                    "platform_sw_component = " SHARED_SW_MEASUREMENT "\n"
                    "evidence = command\nevidence_command = /bin/echo hello\n",
                    path, sizeof path);
    assert_int_equal(p4_cca_settings_load(path, &settings, &err), P4_OK);
    assert_string_equal(settings.backend, "cca");
    char want[1100];
    snprintf(want, sizeof want, "%s/keys/cpak.pem", dir);
    assert_string_equal(settings.policy.cpak, want);
    assert_int_equal(settings.policy.initial_measurements.count, 3);
    assert_int_equal(settings.policy.initial_measurements.items[2].len, 64);
    assert_int_equal(settings.policy.sw_components.count, 1);
    assert_string_equal(settings.evidence, "command");
    assert_string_equal(settings.evidence_command, "/bin/echo hello");

    test_write_text(dir, "bad.ini", "[tee]\nbackend = cca\nrealm_measurement = 00\n", path,
                    sizeof path);
    assert_int_equal(p4_cca_settings_load(path, &settings, &err), P4_ECONFIG);
    assert_non_null(strstr(err.message, "bad.ini:3: [tee] realm_measurement: unknown key"));
    test_write_text(dir, "bad.ini", "[tee]\nrealm_personalization_value = zz\n", path,
                    sizeof path);
    assert_int_equal(p4_cca_settings_load(path, &settings, &err), P4_ECONFIG);
    assert_non_null(strstr(err.message, "not a hex digit"));
    test_write_text(dir, "bad.ini", "[tee]\nevidence = tpm\n", path, sizeof path);
    assert_int_equal(p4_cca_settings_load(path, &settings, &err), P4_ECONFIG);
    assert_non_null(strstr(err.message, "configfs-tsm or command"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(shared_token_verifies_under_its_cpak),
        cmocka_unit_test(wrong_key_is_rejected),
        cmocka_unit_test(every_flipped_byte_is_rejected),
        cmocka_unit_test(wrong_challenge_is_rejected),
        cmocka_unit_test(allowlists_are_enforced),
        cmocka_unit_test(truncated_tokens_are_rejected),
        cmocka_unit_test(shared_claim_sets),
        cmocka_unit_test(unsigned_tokens_are_rejected),
        cmocka_unit_test_setup_teardown(policy_file, test_temp_dir_setup,
                                        test_temp_dir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
