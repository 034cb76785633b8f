/* cmd_attest.c: `p4 attest verify` checks a CCA attestation token against
 * a trusted platform key, an optional challenge and an optional policy, and
 * prints its claims (JSON with --json).  Exit status: 0 for a valid token,
 * 1 for an invalid one (the failed check is named), 2 for a usage error or
 * an unreadable input.
 * `p4 attest fetch` gets a token from an evidence source (configfs-tsm in a
 * realm, or a command), so the path a node uses can be tried by hand. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json.h"
#include "common/rng.h"
#include "p4node/commands.h"
#include "tee/cca/evidence.h"
#include "tee/cca/hex.h"
#include "tee/cca/settings.h"
#include "tee/cca/verify.h"

#define USAGE "usage: p4 attest verify --token FILE --cpak PEM [--challenge HEX] " \
              "[--policy FILE] [--json]\n" \
              "       p4 attest fetch --out FILE [--challenge HEX] " \
              "[--policy FILE | --tsm-root DIR | --command CMD]\n"

static int read_file(const char *path, uint8_t **out, size_t *len, p4_error *err)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return p4_error_set(err, P4_EIO, "%s: cannot open the token", path);
    size_t cap = P4_CCA_TOKEN_MAX + 1;
    uint8_t *buf = malloc(cap);
    size_t n = buf ? fread(buf, 1, cap, f) : 0;
    int failed = buf == NULL || ferror(f);
    fclose(f);
    if (failed) {
        free(buf);
        return p4_error_set(err, P4_EIO, "%s: cannot read the token", path);
    }
    *out = buf;
    *len = n; /* more than the maximum is the parser's to reject */
    return P4_OK;
}

/* The checks in the order p4_cca_verify applies them. */
static const p4_cca_check ORDER[] = {
    P4_CCA_FAILED_FORMAT, P4_CCA_FAILED_PLATFORM_SIGNATURE, P4_CCA_FAILED_RAK_BINDING,
    P4_CCA_FAILED_REALM_SIGNATURE, P4_CCA_FAILED_PLATFORM_LIFECYCLE,
    P4_CCA_FAILED_REALM_CHALLENGE, P4_CCA_FAILED_INITIAL_MEASUREMENT,
    P4_CCA_FAILED_PERSONALIZATION, P4_CCA_FAILED_SW_COMPONENT};
#define N_CHECKS (sizeof ORDER / sizeof ORDER[0])

/* "passed", "failed", "not checked" (no challenge or allowlist given) or
 * "not reached" (an earlier check failed). */
static const char *check_status(const p4_cca_verdict *v, size_t index, int have_challenge,
                                const p4_cca_policy *policy)
{
    p4_cca_check check = ORDER[index];
    if (v->failed == check)
        return "failed";
    if (v->failed != P4_CCA_PASSED) {
        for (size_t i = 0; i < index; i++)
            if (ORDER[i] == v->failed)
                return "not reached";
    }
    int applies = 1;
    if (check == P4_CCA_FAILED_REALM_CHALLENGE) applies = have_challenge;
    if (check == P4_CCA_FAILED_INITIAL_MEASUREMENT)
        applies = policy && policy->initial_measurements.count > 0;
    if (check == P4_CCA_FAILED_PERSONALIZATION)
        applies = policy && policy->personalization_values.count > 0;
    if (check == P4_CCA_FAILED_SW_COMPONENT)
        applies = policy && policy->sw_components.count > 0;
    return applies ? "passed" : "not checked";
}

static void print_hex_value(FILE *out, const p4_cca_bytes *b, int json)
{
    char hex[2 * P4_CCA_VALUE_MAX + 1];
    p4_hex_encode(b->data, b->len, hex);
    if (json)
        fprintf(out, "\"%s\"", hex);
    else
        fprintf(out, "%s", hex);
}

static void json_key_hex(FILE *out, const char *key, const p4_cca_bytes *b, int comma)
{
    fprintf(out, "%s\"%s\": ", comma ? ", " : "", key);
    print_hex_value(out, b, 1);
}

static void json_key_text(FILE *out, const char *key, const char *text, int comma)
{
    fprintf(out, "%s\"%s\": ", comma ? ", " : "", key);
    p4_json_string(out, text);
}

static void print_json(const char *path, const p4_cca_token *t, const p4_cca_verdict *v,
                       const char *reason, int have_challenge, const p4_cca_policy *policy)
{
    printf("{\"token\": ");
    p4_json_string(stdout, path);
    printf(", \"valid\": %s, \"failed_check\": ", v->failed == P4_CCA_PASSED ? "true" : "false");
    if (v->failed == P4_CCA_PASSED)
        printf("null, \"reason\": null");
    else {
        p4_json_string(stdout, p4_cca_check_name(v->failed));
        printf(", \"reason\": ");
        p4_json_string(stdout, reason);
    }
    printf(", \"checks\": {");
    for (size_t i = 0; i < N_CHECKS; i++)
        printf("%s\"%s\": \"%s\"", i ? ", " : "", p4_cca_check_name(ORDER[i]),
               check_status(v, i, have_challenge, policy));
    printf("}");
    if (t != NULL) {
        const p4_cca_platform_claims *p = &t->platform;
        printf(", \"platform\": {\"alg\": \"%s\"", p4_cose_alg_name(t->platform_sign1.alg));
        json_key_text(stdout, "profile", p->profile, 1);
        json_key_hex(stdout, "challenge", &p->challenge, 1);
        json_key_hex(stdout, "implementation_id", &p->implementation_id, 1);
        json_key_hex(stdout, "instance_id", &p->instance_id, 1);
        json_key_hex(stdout, "config", &p->config, 1);
        printf(", \"lifecycle\": %llu", (unsigned long long)p->lifecycle);
        json_key_text(stdout, "hash_algo", p->hash_algo, 1);
        json_key_text(stdout, "verification_service", p->verification_service, 1);
        printf(", \"sw_components\": [");
        for (size_t i = 0; i < p->sw_component_count; i++) {
            const p4_cca_sw_component *c = &p->sw_components[i];
            printf("%s{", i ? ", " : "");
            json_key_text(stdout, "type", c->type, 0);
            json_key_text(stdout, "version", c->version, 1);
            json_key_hex(stdout, "measurement", &c->measurement, 1);
            json_key_hex(stdout, "signer_id", &c->signer_id, 1);
            json_key_text(stdout, "hash_algo", c->hash_algo, 1);
            printf("}");
        }
        const p4_cca_realm_claims *r = &t->realm;
        printf("]}, \"realm\": {\"alg\": \"%s\"", p4_cose_alg_name(t->realm_sign1.alg));
        json_key_text(stdout, "profile", r->profile, 1);
        json_key_hex(stdout, "challenge", &r->challenge, 1);
        json_key_hex(stdout, "personalization_value", &r->personalization, 1);
        json_key_text(stdout, "hash_algo", r->hash_algo, 1);
        json_key_hex(stdout, "public_key", &r->public_key, 1);
        json_key_text(stdout, "public_key_hash_algo", r->public_key_hash_algo, 1);
        json_key_hex(stdout, "initial_measurement", &r->initial_measurement, 1);
        printf(", \"extensible_measurements\": [");
        for (int i = 0; i < P4_CCA_REM_COUNT; i++) {
            printf("%s", i ? ", " : "");
            print_hex_value(stdout, &r->extensible_measurements[i], 1);
        }
        printf("]}");
    }
    printf("}\n");
}

static void text_hex(const char *label, const p4_cca_bytes *b)
{
    printf("  %-26s ", label);
    print_hex_value(stdout, b, 0);
    printf("\n");
}

static void print_text(const char *path, const p4_cca_token *t, const p4_cca_verdict *v,
                       const char *reason, int have_challenge, const p4_cca_policy *policy)
{
    printf("token: %s\n", path);
    if (t != NULL) {
        const p4_cca_platform_claims *p = &t->platform;
        printf("platform token (%s)\n", p4_cose_alg_name(t->platform_sign1.alg));
        printf("  %-26s %s\n", "profile", p->profile);
        text_hex("challenge (RAK hash)", &p->challenge);
        text_hex("implementation id", &p->implementation_id);
        text_hex("instance id", &p->instance_id);
        text_hex("config", &p->config);
        printf("  %-26s 0x%04llx\n", "security lifecycle", (unsigned long long)p->lifecycle);
        printf("  %-26s %s\n", "hash algorithm", p->hash_algo[0] ? p->hash_algo : "(absent)");
        printf("  %-26s %s\n", "verification service",
               p->verification_service[0] ? p->verification_service : "(absent)");
        for (size_t i = 0; i < p->sw_component_count; i++) {
            const p4_cca_sw_component *c = &p->sw_components[i];
            printf("  software component %zu: type '%s' version '%s' (%s)\n", i, c->type,
                   c->version, c->hash_algo[0] ? c->hash_algo : "hash unnamed");
            text_hex("  measurement", &c->measurement);
            text_hex("  signer id", &c->signer_id);
        }
        const p4_cca_realm_claims *r = &t->realm;
        printf("realm token (%s)\n", p4_cose_alg_name(t->realm_sign1.alg));
        if (r->profile[0])
            printf("  %-26s %s\n", "profile", r->profile);
        text_hex("challenge", &r->challenge);
        text_hex("personalization value", &r->personalization);
        printf("  %-26s %s\n", "hash algorithm", r->hash_algo);
        text_hex("public key (RAK)", &r->public_key);
        printf("  %-26s %s\n", "public key hash algorithm", r->public_key_hash_algo);
        text_hex("initial measurement", &r->initial_measurement);
        for (int i = 0; i < P4_CCA_REM_COUNT; i++) {
            char label[40];
            snprintf(label, sizeof label, "extensible measurement %d", i);
            text_hex(label, &r->extensible_measurements[i]);
        }
    }
    printf("checks\n");
    for (size_t i = 0; i < N_CHECKS; i++)
        printf("  %-26s %s\n", p4_cca_check_name(ORDER[i]),
               check_status(v, i, have_challenge, policy));
    if (v->failed == P4_CCA_PASSED)
        printf("verdict: valid\n");
    else
        printf("verdict: INVALID (%s): %s\n", p4_cca_check_name(v->failed), reason);
}

/* --challenge HEX into out (64 bytes); 0 on success, else prints why. */
static int parse_challenge(const char *hex, uint8_t out[P4_CCA_CHALLENGE_SIZE],
                           const char *command)
{
    p4_error err = {0};
    size_t len = 0;
    if (p4_hex_decode(hex, "--challenge", out, P4_CCA_CHALLENGE_SIZE, &len, &err) != P4_OK ||
        (len != P4_CCA_CHALLENGE_SIZE &&
         p4_error_set(&err, P4_EINVAL, "--challenge: %zu bytes; a realm challenge is 64 "
                                       "(128 hex digits)", len))) {
        fprintf(stderr, "p4 attest %s: %s\n", command, err.message);
        return -1;
    }
    return 0;
}

static int attest_verify(int argc, char **argv)
{
    static const struct option options[] = {
        {"token", required_argument, NULL, 't'},  {"cpak", required_argument, NULL, 'k'},
        {"challenge", required_argument, NULL, 'c'}, {"policy", required_argument, NULL, 'p'},
        {"json", no_argument, NULL, 'j'},         {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *token_path = NULL, *cpak_path = NULL, *challenge_hex = NULL, *policy_path = NULL;
    int json = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (c) {
        case 't': token_path = optarg; break;
        case 'k': cpak_path = optarg; break;
        case 'c': challenge_hex = optarg; break;
        case 'p': policy_path = optarg; break;
        case 'j': json = 1; break;
        case 'h': printf(USAGE); return 0;
        default: fprintf(stderr, USAGE); return 2;
        }
    }
    if (optind != argc || token_path == NULL) {
        fprintf(stderr, "p4 attest verify: --token FILE is required\n" USAGE);
        return 2;
    }
    p4_error err = {0};
    p4_cca_settings settings;
    p4_cca_settings_defaults(&settings);
    if (policy_path && p4_cca_settings_load(policy_path, &settings, &err) != P4_OK) {
        fprintf(stderr, "p4 attest verify: %s\n", err.message);
        return 2;
    }
    if (cpak_path == NULL && settings.policy.cpak[0] != '\0')
        cpak_path = settings.policy.cpak;
    if (cpak_path == NULL) {
        fprintf(stderr, "p4 attest verify: --cpak PEM is required (or cpak = in the "
                        "policy's [tee] section)\n" USAGE);
        return 2;
    }
    uint8_t challenge[P4_CCA_CHALLENGE_SIZE];
    if (challenge_hex != NULL && parse_challenge(challenge_hex, challenge, "verify") != 0)
        return 2;
    EVP_PKEY *cpak = NULL;
    uint8_t *token = NULL;
    size_t token_len = 0;
    if (p4_cca_cpak_load(cpak_path, &cpak, &err) != P4_OK ||
        read_file(token_path, &token, &token_len, &err) != P4_OK) {
        fprintf(stderr, "p4 attest verify: %s\n", err.message);
        EVP_PKEY_free(cpak);
        return 2;
    }
    p4_cca_verdict verdict;
    p4_cca_token *claims = NULL;
    const p4_cca_policy *policy = policy_path ? &settings.policy : NULL;
    p4_cca_verify(token, token_len, cpak, challenge_hex ? challenge : NULL, policy, &verdict,
                  &claims, &err);
    if (json)
        print_json(token_path, claims, &verdict, err.message, challenge_hex != NULL, policy);
    else
        print_text(token_path, claims, &verdict, err.message, challenge_hex != NULL, policy);
    if (verdict.failed != P4_CCA_PASSED)
        fprintf(stderr, "p4 attest verify: %s: invalid token: %s\n", token_path, err.message);
    p4_cca_token_destroy(&claims);
    free(token);
    EVP_PKEY_free(cpak);
    return verdict.failed == P4_CCA_PASSED ? 0 : 1;
}

static int attest_fetch(int argc, char **argv)
{
    static const struct option options[] = {
        {"out", required_argument, NULL, 'o'},      {"challenge", required_argument, NULL, 'c'},
        {"policy", required_argument, NULL, 'p'},   {"tsm-root", required_argument, NULL, 'r'},
        {"command", required_argument, NULL, 'x'},  {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *out = NULL, *challenge_hex = NULL, *policy = NULL, *root = NULL, *cmd = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'c': challenge_hex = optarg; break;
        case 'p': policy = optarg; break;
        case 'r': root = optarg; break;
        case 'x': cmd = optarg; break;
        case 'h': printf(USAGE); return 0;
        default: fprintf(stderr, USAGE); return 2;
        }
    }
    if (optind != argc || out == NULL || (policy != NULL) + (root != NULL) + (cmd != NULL) > 1) {
        fprintf(stderr, "p4 attest fetch: --out FILE is required, and at most one of --policy, "
                        "--tsm-root and --command\n" USAGE);
        return 2;
    }
    uint8_t challenge[P4_CCA_CHALLENGE_SIZE];
    if (challenge_hex != NULL) {
        if (parse_challenge(challenge_hex, challenge, "fetch") != 0)
            return 2;
    } else {
        p4_rng rng;
        if (p4_rng_init_secure(&rng) != P4_OK) {
            fprintf(stderr, "p4 attest fetch: the OS random generator failed\n");
            return 1;
        }
        p4_rng_bytes(&rng, challenge, sizeof challenge);
        p4_rng_wipe(&rng);
    }
    p4_error err = {0};
    p4_cca_evidence *ev = NULL;
    int rc;
    if (policy != NULL) {
        p4_cca_settings settings;
        rc = p4_cca_settings_load(policy, &settings, &err);
        if (rc == P4_OK)
            rc = p4_cca_settings_evidence(&settings, &ev, &err);
    } else if (cmd != NULL) {
        rc = p4_cca_evidence_new_command(&ev, cmd, 0, &err);
    } else {
        rc = p4_cca_evidence_new_tsm(&ev, root, NULL, &err);
    }
    if (rc != P4_OK) {
        fprintf(stderr, "p4 attest fetch: %s\n", err.message);
        return 2;
    }
    uint8_t *token = NULL;
    size_t len = 0;
    rc = p4_cca_evidence_get(ev, challenge, &token, &len, &err);
    if (rc == P4_OK) {
        FILE *f = fopen(out, "wb");
        if (f == NULL || fwrite(token, 1, len, f) != len || fclose(f) != 0)
            rc = p4_error_set(&err, P4_EIO, "%s: cannot write the token", out);
    }
    if (rc == P4_OK) {
        char hex[2 * P4_CCA_CHALLENGE_SIZE + 1];
        p4_hex_encode(challenge, sizeof challenge, hex);
        printf("token: %s (%zu bytes) from %s\nchallenge: %s\n", out, len,
               p4_cca_evidence_describe(ev), hex);
    } else {
        fprintf(stderr, "p4 attest fetch: %s: %s\n", p4_cca_evidence_describe(ev), err.message);
    }
    free(token);
    p4_cca_evidence_destroy(&ev);
    return rc == P4_OK ? 0 : 1;
}

int p4_cmd_attest(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "verify") == 0)
        return attest_verify(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "fetch") == 0)
        return attest_fetch(argc - 1, argv + 1);
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf(USAGE);
        return 0;
    }
    fprintf(stderr, USAGE);
    return 2;
}
