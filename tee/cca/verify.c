/* verify.c: the checks of a CCA token against a CPAK, a challenge and a
 * policy; see verify.h for the order and what each means. */
#include "tee/cca/verify.h"

#include <stdio.h>
#include <string.h>

#include <openssl/pem.h>

#include "tee/cca/evidence.h"
#include "tee/cca/hex.h"

/* Re-sets err with code and prefix before its current message (copied
 * first: the message cannot be both source and target of the format). */
static int rewrap(p4_error *err, int code, const char *prefix)
{
    char why[P4_ERROR_MESSAGE_MAX];
    snprintf(why, sizeof why, "%s", err ? err->message : "");
    return p4_error_set(err, code, "%s%s", prefix, why);
}

const char *p4_cca_check_name(p4_cca_check check)
{
    switch (check) {
    case P4_CCA_PASSED: return "passed";
    case P4_CCA_FAILED_FORMAT: return "format";
    case P4_CCA_FAILED_PLATFORM_SIGNATURE: return "platform-signature";
    case P4_CCA_FAILED_RAK_BINDING: return "rak-binding";
    case P4_CCA_FAILED_REALM_SIGNATURE: return "realm-signature";
    case P4_CCA_FAILED_PLATFORM_LIFECYCLE: return "platform-lifecycle";
    case P4_CCA_FAILED_REALM_CHALLENGE: return "realm-challenge";
    case P4_CCA_FAILED_INITIAL_MEASUREMENT: return "initial-measurement";
    case P4_CCA_FAILED_PERSONALIZATION: return "personalization";
    case P4_CCA_FAILED_SW_COMPONENT: return "platform-sw-component";
    }
    return "unknown";
}

int p4_cca_allowlist_add_hex(p4_cca_allowlist *list, const char *hex, size_t exact,
                             const char *what, p4_error *err)
{
    if (list == NULL || hex == NULL || what == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_cca_allowlist_add_hex: NULL argument");
    if (list->count == P4_CCA_ALLOWLIST_MAX)
        return p4_error_set(err, P4_ECONFIG, "%s: more than %d values", what,
                            P4_CCA_ALLOWLIST_MAX);
    p4_cca_bytes *item = &list->items[list->count];
    if (p4_hex_decode(hex, what, item->data, sizeof item->data, &item->len, err) != P4_OK)
        return rewrap(err, P4_ECONFIG, "");
    int size_ok = exact ? item->len == exact
                        : (item->len == 32 || item->len == 48 || item->len == 64);
    if (!size_ok) {
        if (exact)
            return p4_error_set(err, P4_ECONFIG, "%s: %zu bytes; want %zu (%zu hex digits)",
                                what, item->len, exact, 2 * exact);
        return p4_error_set(err, P4_ECONFIG,
                            "%s: %zu bytes; a measurement is 32, 48 or 64 bytes (64, 96 or "
                            "128 hex digits)", what, item->len);
    }
    list->count++;
    return P4_OK;
}

int p4_cca_cpak_load(const char *path, EVP_PKEY **out, p4_error *err)
{
    if (path == NULL || out == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_cca_cpak_load: NULL argument");
    *out = NULL;
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return p4_error_set(err, P4_EIO, "%s: cannot open the platform key (CPAK)", path);
    EVP_PKEY *key = PEM_read_PUBKEY(f, NULL, NULL, NULL);
    fclose(f);
    if (key == NULL)
        return p4_error_set(err, P4_EFORMAT,
                            "%s: not a PEM public key (want '-----BEGIN PUBLIC KEY-----')",
                            path);
    int64_t alg;
    if (p4_cose_alg_for_key(key, &alg, err) != P4_OK) {
        EVP_PKEY_free(key);
        char prefix[P4_CCA_PATH_MAX + 4];
        snprintf(prefix, sizeof prefix, "%s: ", path);
        return rewrap(err, P4_EFORMAT, prefix);
    }
    *out = key;
    return P4_OK;
}

static const EVP_MD *digest_named(const char *name)
{
    switch (p4_cca_hash_size(name)) {
    case 32: return EVP_sha256();
    case 48: return EVP_sha384();
    case 64: return EVP_sha512();
    default: return NULL;
    }
}

static int fail(p4_cca_verdict *verdict, p4_cca_check check, int code)
{
    verdict->failed = check;
    return code;
}

static int in_allowlist(const p4_cca_allowlist *list, const p4_cca_bytes *value)
{
    for (size_t i = 0; i < list->count; i++)
        if (list->items[i].len == value->len &&
            memcmp(list->items[i].data, value->data, value->len) == 0)
            return 1;
    return 0;
}

/* The platform challenge must be the hash of the RAK as the realm token
 * carries it: that is how the platform vouches for the realm's key. */
static int check_rak_binding(const p4_cca_token *t, p4_error *err)
{
    const EVP_MD *md = digest_named(t->realm.public_key_hash_algo);
    uint8_t digest[EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;
    if (md == NULL || EVP_Digest(t->realm.public_key.data, t->realm.public_key.len, digest,
                                 &digest_len, md, NULL) != 1)
        return p4_error_set(err, P4_ECRYPTO, "rak-binding: cannot hash the RAK with %s",
                            t->realm.public_key_hash_algo);
    if (digest_len != t->platform.challenge.len ||
        memcmp(digest, t->platform.challenge.data, digest_len) != 0)
        return p4_error_set(err, P4_ECRYPTO,
                            "rak-binding: the platform token's challenge is not the %s of the "
                            "realm token's public key (claim 44237): the platform did not "
                            "vouch for this realm key", t->realm.public_key_hash_algo);
    return P4_OK;
}

static int check_signatures(const p4_cca_token *t, EVP_PKEY *cpak, p4_cca_verdict *verdict,
                            p4_error *err)
{
    int rc = p4_cose_sign1_verify(&t->platform_sign1, cpak, "platform token", err);
    if (rc != P4_OK)
        return fail(verdict, P4_CCA_FAILED_PLATFORM_SIGNATURE, P4_ECRYPTO);
    if (check_rak_binding(t, err) != P4_OK)
        return fail(verdict, P4_CCA_FAILED_RAK_BINDING, P4_ECRYPTO);
    EVP_PKEY *rak = NULL;
    rc = p4_cose_public_key_decode(t->realm.public_key.data, t->realm.public_key.len, &rak,
                                   err);
    if (rc != P4_OK) {
        rewrap(err, P4_ECRYPTO, "realm-signature: the RAK (claim 44237) is unusable: ");
        return fail(verdict, P4_CCA_FAILED_REALM_SIGNATURE, P4_ECRYPTO);
    }
    rc = p4_cose_sign1_verify(&t->realm_sign1, rak, "realm token", err);
    EVP_PKEY_free(rak);
    if (rc != P4_OK)
        return fail(verdict, P4_CCA_FAILED_REALM_SIGNATURE, P4_ECRYPTO);
    return P4_OK;
}

static int check_policy(const p4_cca_token *t, const uint8_t *challenge,
                        const p4_cca_policy *policy, p4_cca_verdict *verdict, p4_error *err)
{
    if ((t->platform.lifecycle & 0xff00) != 0x3000)
        return fail(verdict, P4_CCA_FAILED_PLATFORM_LIFECYCLE,
                    p4_error_set(err, P4_ECRYPTO,
                                 "platform-lifecycle: the platform's security lifecycle is "
                                 "0x%04llx, not secured (0x3000..0x30ff)",
                                 (unsigned long long)t->platform.lifecycle));
    if (challenge != NULL) {
        verdict->challenge_checked = 1;
        if (t->realm.challenge.len != P4_CCA_CHALLENGE_SIZE ||
            memcmp(t->realm.challenge.data, challenge, P4_CCA_CHALLENGE_SIZE) != 0)
            return fail(verdict, P4_CCA_FAILED_REALM_CHALLENGE,
                        p4_error_set(err, P4_ECRYPTO,
                                     "realm-challenge: the realm token answers another "
                                     "challenge (claim 10): a replayed token, or one made for "
                                     "another key or nonce"));
    }
    if (policy == NULL)
        return P4_OK;
    if (policy->initial_measurements.count > 0) {
        verdict->initial_measurement_checked = 1;
        if (!in_allowlist(&policy->initial_measurements, &t->realm.initial_measurement)) {
            char hex[2 * P4_CCA_VALUE_MAX + 1];
            p4_hex_encode(t->realm.initial_measurement.data, t->realm.initial_measurement.len,
                          hex);
            return fail(verdict, P4_CCA_FAILED_INITIAL_MEASUREMENT,
                        p4_error_set(err, P4_ECRYPTO,
                                     "initial-measurement: realm initial measurement %s is "
                                     "not in the policy's realm_initial_measurement list", hex));
        }
    }
    if (policy->personalization_values.count > 0) {
        verdict->personalization_checked = 1;
        if (!in_allowlist(&policy->personalization_values, &t->realm.personalization))
            return fail(verdict, P4_CCA_FAILED_PERSONALIZATION,
                        p4_error_set(err, P4_ECRYPTO,
                                     "personalization: the realm personalization value (claim "
                                     "44235) is not in the policy's "
                                     "realm_personalization_value list"));
    }
    if (policy->sw_components.count > 0) {
        verdict->sw_components_checked = 1;
        for (size_t i = 0; i < t->platform.sw_component_count; i++) {
            const p4_cca_sw_component *c = &t->platform.sw_components[i];
            if (!in_allowlist(&policy->sw_components, &c->measurement)) {
                char hex[2 * P4_CCA_VALUE_MAX + 1];
                p4_hex_encode(c->measurement.data, c->measurement.len, hex);
                return fail(verdict, P4_CCA_FAILED_SW_COMPONENT,
                            p4_error_set(err, P4_ECRYPTO,
                                         "platform-sw-component: software component %zu "
                                         "('%s' version '%s') measures %s, which is not in the "
                                         "policy's platform_sw_component list", i, c->type,
                                         c->version, hex));
            }
        }
    }
    return P4_OK;
}

int p4_cca_verify(const uint8_t *token, size_t len, EVP_PKEY *cpak,
                  const uint8_t *challenge, const p4_cca_policy *policy,
                  p4_cca_verdict *verdict, p4_cca_token **claims, p4_error *err)
{
    if (claims != NULL)
        *claims = NULL;
    if (verdict != NULL) {
        memset(verdict, 0, sizeof *verdict);
        verdict->failed = P4_CCA_FAILED_FORMAT; /* until the checks have run */
    }
    if ((token == NULL && len > 0) || cpak == NULL || verdict == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_cca_verify: NULL argument");
    p4_cca_token *t = NULL;
    int rc = p4_cca_token_parse(token, len, &t, err);
    if (rc != P4_OK)
        return fail(verdict, P4_CCA_FAILED_FORMAT, rc == P4_ENOMEM ? rc : P4_EFORMAT);
    verdict->failed = P4_CCA_PASSED; /* each check sets what fails */
    rc = check_signatures(t, cpak, verdict, err);
    if (rc == P4_OK)
        rc = check_policy(t, challenge, policy, verdict, err);
    if (claims != NULL)
        *claims = t;
    else
        p4_cca_token_destroy(&t);
    return rc;
}

int p4_cca_verify_peer(const uint8_t *token, size_t len, EVP_PKEY *cpak,
                       const p4_cca_policy *policy, const uint8_t *peer_public_key,
                       size_t peer_public_key_len, const uint8_t *nonce, size_t nonce_len,
                       p4_cca_verdict *verdict, p4_error *err)
{
    if (verdict != NULL) {
        memset(verdict, 0, sizeof *verdict);
        verdict->failed = P4_CCA_FAILED_FORMAT; /* until p4_cca_verify has run */
    }
    if (policy == NULL || verdict == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_cca_verify_peer: NULL argument");
    if (policy->initial_measurements.count == 0)
        return p4_error_set(err, P4_ECONFIG,
                            "[tee] realm_initial_measurement is empty: admitting a peer needs "
                            "the list of realm images it may run");
    uint8_t challenge[P4_CCA_CHALLENGE_SIZE];
    int rc = p4_cca_binding_challenge(peer_public_key, peer_public_key_len, nonce, nonce_len,
                                      challenge, err);
    if (rc != P4_OK)
        return rc;
    return p4_cca_verify(token, len, cpak, challenge, policy, verdict, NULL, err);
}
