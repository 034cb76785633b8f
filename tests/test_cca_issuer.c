/* test_cca_issuer.c: tokens from tests/tools/cca_token_issuer in every
 * algorithm and RAK form verify, and the issuer's deliberate faults are
 * caught by the check that should catch them; `p4 attest verify` exits 0
 * for a valid token and 1, naming the check, for an invalid one; `p4 attest
 * fetch` writes a token that then verifies. */
#include "support/test_support.h"

#include <string.h>

#include "support/cca_test_tools.h"
#include "tee/cca/verify.h"

static EVP_PKEY *keygen(const char *dir, const char *options)
{
    char args[1200], path[1100];
    snprintf(args, sizeof args, "keygen %s %s", dir, options);
    assert_int_equal(cca_run_issuer(args), 0);
    test_path_in(dir, "cpak.pub.pem", path, sizeof path);
    EVP_PKEY *cpak = NULL;
    p4_error err = {0};
    assert_int_equal(p4_cca_cpak_load(path, &cpak, &err), P4_OK);
    return cpak;
}

/* Issues with options and returns the verdict under cpak and challenge. */
static p4_cca_check verdict_for(const char *dir, EVP_PKEY *cpak, const char *options,
                                int64_t *platform_alg, int64_t *realm_alg)
{
    uint8_t challenge[64];
    memset(challenge, 0x5e, sizeof challenge);
    size_t len;
    uint8_t *token = cca_issue(dir, "token.cbor", challenge, options, &len);
    p4_cca_verdict v;
    p4_cca_token *t = NULL;
    p4_error err = {0};
    p4_cca_verify(token, len, cpak, challenge, NULL, &v, &t, &err);
    if (t != NULL) {
        if (platform_alg) *platform_alg = t->platform_sign1.alg;
        if (realm_alg) *realm_alg = t->realm_sign1.alg;
    }
    p4_cca_token_destroy(&t);
    free(token);
    return v.failed;
}

static void every_algorithm_and_rak_form_verifies(void **state)
{
    const char *dir = *state;
    static const struct {
        const char *keygen;
        int64_t platform, realm;
    } cases[] = {
        {"--alg ES256 --realm-alg ES256", P4_COSE_ES256, P4_COSE_ES256},
        {"--alg ES384 --realm-alg ES384", P4_COSE_ES384, P4_COSE_ES384},
        {"--alg ES512 --realm-alg ES512", P4_COSE_ES512, P4_COSE_ES512},
        {"--alg ES512 --realm-alg ES256", P4_COSE_ES512, P4_COSE_ES256},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        EVP_PKEY *cpak = keygen(dir, cases[i].keygen);
        for (int cose_key = 0; cose_key < 2; cose_key++) {
            int64_t p = 0, r = 0;
            assert_int_equal(verdict_for(dir, cpak, cose_key ? "--rak-format cose-key" : "",
                                         &p, &r),
                             P4_CCA_PASSED);
            assert_int_equal(p, cases[i].platform);
            assert_int_equal(r, cases[i].realm);
        }
        EVP_PKEY_free(cpak);
    }
}

static void issuer_faults_fail_the_right_check(void **state)
{
    const char *dir = *state;
    EVP_PKEY *cpak = keygen(dir, "");
    assert_int_equal(verdict_for(dir, cpak, "--unbound", NULL, NULL), P4_CCA_FAILED_RAK_BINDING);
    assert_int_equal(verdict_for(dir, cpak, "--lifecycle 0x5000", NULL, NULL),
                     P4_CCA_FAILED_PLATFORM_LIFECYCLE);
    assert_int_equal(verdict_for(dir, cpak, "--lifecycle 0x30ff", NULL, NULL), P4_CCA_PASSED);
    /* Keys made again: the old CPAK no longer matches the new platform key. */
    EVP_PKEY *old = cpak;
    cpak = keygen(dir, "");
    assert_int_equal(verdict_for(dir, old, "", NULL, NULL), P4_CCA_FAILED_PLATFORM_SIGNATURE);
    assert_int_equal(verdict_for(dir, cpak, "", NULL, NULL), P4_CCA_PASSED);
    EVP_PKEY_free(old);
    EVP_PKEY_free(cpak);
}

/* Runs p4 with args, stdout to dir/out.txt; returns the exit status. */
static int run_p4(const char *dir, const char *args, char *out, size_t out_size)
{
    const char *p4 = getenv("P4_BIN");
    assert_non_null(p4);
    char command[10000], path[1100];
    test_path_in(dir, "out.txt", path, sizeof path);
    snprintf(command, sizeof command, "%s %s >%s 2>&1", p4, args, path);
    int status = system(command);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(out, 1, out_size - 1, f);
    out[n] = '\0';
    fclose(f);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void attest_verify_command(void **state)
{
    const char *dir = *state;
    const char *shared = test_shared_path("attestation/cca/tf-rmm-token.cbor");
    if (shared == NULL)
        TEST_SKIP("../shared/attestation/cca is absent");
    char token[1100], cpak[1100], args[8192], policy[1100];
    static char out[65536];
    snprintf(token, sizeof token, "%s", shared);
    snprintf(cpak, sizeof cpak, "%s", test_shared_path("attestation/cca/tf-rmm-cpak.pub.pem"));
    char ab[129];
    memset(ab, 'a', 128);
    for (int i = 1; i < 128; i += 2)
        ab[i] = 'b';
    ab[128] = '\0';

    snprintf(args, sizeof args, "attest verify --token %s --cpak %s --challenge %s --json",
             token, cpak, ab);
    assert_int_equal(run_p4(dir, args, out, sizeof out), 0);
    assert_non_null(strstr(out, "\"valid\": true"));
    assert_non_null(strstr(out, "\"realm-challenge\": \"passed\""));
    assert_non_null(strstr(out, "\"profile\": \"http://arm.com/CCA-SSD/1.0.0\""));

    /* A wrong key: exit 1, the check named. */
    EVP_PKEY *other = keygen(dir, "");
    EVP_PKEY_free(other);
    snprintf(args, sizeof args, "attest verify --token %s --cpak %s/cpak.pub.pem", token, dir);
    assert_int_equal(run_p4(dir, args, out, sizeof out), 1);
    assert_non_null(strstr(out, "INVALID (platform-signature)"));

    /* A wrong challenge. */
    ab[0] = 'c';
    snprintf(args, sizeof args, "attest verify --token %s --cpak %s --challenge %s", token,
             cpak, ab);
    assert_int_equal(run_p4(dir, args, out, sizeof out), 1);
    assert_non_null(strstr(out, "INVALID (realm-challenge)"));

    /* A measurement outside the policy's allowlist, then inside it. */
    test_write_text(dir, "policy.ini",
                    "[tee]\nrealm_initial_measurement = "
                    "1111111111111111111111111111111111111111111111111111111111111111\n",
                    policy, sizeof policy);
    snprintf(args, sizeof args, "attest verify --token %s --cpak %s --policy %s --json", token,
             cpak, policy);
    assert_int_equal(run_p4(dir, args, out, sizeof out), 1);
    assert_non_null(strstr(out, "\"failed_check\": \"initial-measurement\""));
    test_write_text(dir, "policy.ini",
                    "[tee]\nrealm_initial_measurement = "
                    "0000000000000000000000000000000000000000000000000000000000000000\n",
                    policy, sizeof policy);
    assert_int_equal(run_p4(dir, args, out, sizeof out), 0);

    /* A flipped byte in the signed content (the realm token's payload). */
    size_t len;
    uint8_t *bytes = cca_read_file(token, &len);
    bytes[len - 180] ^= 0x01; /* inside an extensible measurement */
    char flipped[1100];
    test_path_in(dir, "flipped.cbor", flipped, sizeof flipped);
    assert_int_equal(test_write_file(flipped, bytes, len), 0);
    free(bytes);
    snprintf(args, sizeof args, "attest verify --token %s --cpak %s", flipped, cpak);
    assert_int_equal(run_p4(dir, args, out, sizeof out), 1);
    assert_non_null(strstr(out, "INVALID (realm-signature)"));

    /* Usage and input errors are 2, not 1. */
    assert_int_equal(run_p4(dir, "attest verify --cpak x.pem", out, sizeof out), 2);
    snprintf(args, sizeof args, "attest verify --token %s --cpak %s --challenge abc", token,
             cpak);
    assert_int_equal(run_p4(dir, args, out, sizeof out), 2);
    snprintf(args, sizeof args, "attest verify --token %s --cpak %s", token, token);
    assert_int_equal(run_p4(dir, args, out, sizeof out), 2);
    assert_non_null(strstr(out, "not a PEM public key"));
}

/* `p4 attest fetch` through the command source, then `p4 attest verify` of
 * what it wrote, with the same challenge; no configfs-tsm is exit 1. */
static void attest_fetch_command(void **state)
{
    const char *dir = *state;
    EVP_PKEY *cpak = keygen(dir, "--alg ES256");
    EVP_PKEY_free(cpak);
    static char out[65536];
    char args[8192], challenge[129];
    memset(challenge, '7', 128);
    challenge[128] = '\0';
    snprintf(args, sizeof args,
             "attest fetch --out %s/fetched.cbor --challenge %s --command '%s issue %s'", dir,
             challenge, cca_issuer(), dir);
    assert_int_equal(run_p4(dir, args, out, sizeof out), 0);
    assert_non_null(strstr(out, challenge));
    snprintf(args, sizeof args,
             "attest verify --token %s/fetched.cbor --cpak %s/cpak.pub.pem --challenge %s", dir,
             dir, challenge);
    assert_int_equal(run_p4(dir, args, out, sizeof out), 0);
    assert_non_null(strstr(out, "verdict: valid"));
    snprintf(args, sizeof args, "attest fetch --out %s/x.cbor --tsm-root %s/no-tsm", dir, dir);
    assert_int_equal(run_p4(dir, args, out, sizeof out), 1);
    assert_non_null(strstr(out, "does not exist"));
    snprintf(args, sizeof args, "attest fetch --out %s/x.cbor --tsm-root a --command b", dir);
    assert_int_equal(run_p4(dir, args, out, sizeof out), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(every_algorithm_and_rak_form_verifies,
                                        test_temp_dir_setup, test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(issuer_faults_fail_the_right_check,
                                        test_temp_dir_setup, test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(attest_verify_command, test_temp_dir_setup,
                                        test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(attest_fetch_command, test_temp_dir_setup,
                                        test_temp_dir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
