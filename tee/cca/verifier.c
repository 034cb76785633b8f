/* verifier.c: the admission verifier a node holds; see verifier.h. */
#include "tee/cca/verifier.h"

#include <stdlib.h>
#include <string.h>

struct p4_cca_verifier {
    EVP_PKEY *cpak;
    p4_cca_policy policy;
};

int p4_cca_verifier_new(p4_cca_verifier **out, const p4_cca_settings *settings,
                        p4_error *err)
{
    if (out == NULL || settings == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_cca_verifier_new: NULL argument");
    *out = NULL;
    if (settings->policy.cpak[0] == '\0')
        return p4_error_set(err, P4_ECONFIG,
                            "[tee] cpak is not set: admitting peers needs the platform key "
                            "(CPAK) their tokens are signed with");
    if (settings->policy.initial_measurements.count == 0)
        return p4_error_set(err, P4_ECONFIG,
                            "[tee] realm_initial_measurement is empty: admitting peers needs "
                            "the list of realm images they may run");
    p4_cca_verifier *v = calloc(1, sizeof *v);
    if (v == NULL)
        return p4_error_set(err, P4_ENOMEM, "out of memory");
    int rc = p4_cca_cpak_load(settings->policy.cpak, &v->cpak, err);
    if (rc != P4_OK) {
        free(v);
        return rc;
    }
    v->policy = settings->policy;
    *out = v;
    return P4_OK;
}

void p4_cca_verifier_destroy(p4_cca_verifier **verifier)
{
    if (verifier == NULL || *verifier == NULL)
        return;
    EVP_PKEY_free((*verifier)->cpak);
    free(*verifier);
    *verifier = NULL;
}

int p4_cca_verifier_check(const p4_cca_verifier *verifier, const uint8_t *token, size_t len,
                          const uint8_t peer_key[32], const uint8_t nonce[32],
                          p4_cca_verdict *verdict, p4_error *err)
{
    if (verifier == NULL || peer_key == NULL || nonce == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_cca_verifier_check: NULL argument");
    return p4_cca_verify_peer(token, len, verifier->cpak, &verifier->policy, peer_key, 32,
                              nonce, 32, verdict, err);
}
