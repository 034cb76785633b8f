/* evidence.c: the evidence source interface and the binding challenge; see
 * evidence.h.  The sources live in evidence_tsm.c and evidence_command.c. */
#include "tee/cca/evidence.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "tee/cca/evidence_source.h"

static void put_length(EVP_MD_CTX *ctx, size_t len)
{
    uint8_t be[4] = {(uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8),
                     (uint8_t)len};
    EVP_DigestUpdate(ctx, be, sizeof be);
}

int p4_cca_binding_challenge(const uint8_t *public_key, size_t public_key_len,
                             const uint8_t *nonce, size_t nonce_len, uint8_t challenge[64],
                             p4_error *err)
{
    if (public_key == NULL || nonce == NULL || challenge == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_cca_binding_challenge: NULL argument");
    if (public_key_len == 0 || public_key_len > 1024)
        return p4_error_set(err, P4_EINVAL,
                            "binding challenge: the transport public key is %zu bytes", 
                            public_key_len);
    if (nonce_len < P4_CCA_NONCE_MIN || nonce_len > 1024)
        return p4_error_set(err, P4_EINVAL,
                            "binding challenge: the nonce is %zu bytes; want %d..1024",
                            nonce_len, P4_CCA_NONCE_MIN);
    static const char DOMAIN[] = P4_CCA_BINDING_DOMAIN;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned int n = 0;
    int ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha512(), NULL) == 1 &&
             EVP_DigestUpdate(ctx, DOMAIN, sizeof DOMAIN) == 1; /* with its NUL */
    if (ok) {
        put_length(ctx, public_key_len);
        EVP_DigestUpdate(ctx, public_key, public_key_len);
        put_length(ctx, nonce_len);
        EVP_DigestUpdate(ctx, nonce, nonce_len);
        ok = EVP_DigestFinal_ex(ctx, challenge, &n) == 1 && n == 64;
    }
    EVP_MD_CTX_free(ctx);
    return ok ? P4_OK : p4_error_set(err, P4_ECRYPTO, "binding challenge: SHA-512 failed");
}

static int copy_text(char *dst, size_t cap, const char *src, const char *what, p4_error *err)
{
    size_t n = strlen(src);
    if (n == 0 || n >= cap)
        return p4_error_set(err, P4_EINVAL, "%s: %zu characters; want 1..%zu", what, n,
                            cap - 1);
    memcpy(dst, src, n + 1);
    return P4_OK;
}

int p4_cca_evidence_new_tsm(p4_cca_evidence **out, const char *root, const char *report_name,
                            p4_error *err)
{
    if (out == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_cca_evidence_new_tsm: NULL argument");
    *out = NULL;
    p4_cca_evidence *ev = calloc(1, sizeof *ev);
    if (ev == NULL)
        return p4_error_set(err, P4_ENOMEM, "out of memory");
    int rc = copy_text(ev->root, sizeof ev->root, root ? root : P4_CCA_TSM_ROOT,
                       "configfs-tsm root", err);
    if (rc == P4_OK && report_name != NULL) {
        rc = copy_text(ev->report_name, sizeof ev->report_name, report_name,
                       "configfs-tsm report name", err);
        if (rc == P4_OK && (strchr(report_name, '/') || strcmp(report_name, ".") == 0 ||
                            strcmp(report_name, "..") == 0))
            rc = p4_error_set(err, P4_EINVAL,
                              "configfs-tsm report name '%s' must be one directory name",
                              report_name);
    }
    if (rc != P4_OK) {
        free(ev);
        return rc;
    }
    ev->get = p4_cca_tsm_get;
    snprintf(ev->description, sizeof ev->description, "configfs-tsm at %s", ev->root);
    *out = ev;
    return P4_OK;
}

int p4_cca_evidence_new_command(p4_cca_evidence **out, const char *command, int timeout_ms,
                                p4_error *err)
{
    if (out == NULL || command == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_cca_evidence_new_command: NULL argument");
    *out = NULL;
    if (strspn(command, " ") == strlen(command))
        return p4_error_set(err, P4_EINVAL, "evidence command is empty");
    p4_cca_evidence *ev = calloc(1, sizeof *ev);
    if (ev == NULL)
        return p4_error_set(err, P4_ENOMEM, "out of memory");
    int rc = copy_text(ev->command, sizeof ev->command, command, "evidence command", err);
    if (rc != P4_OK) {
        free(ev);
        return rc;
    }
    ev->timeout_ms = timeout_ms > 0 ? timeout_ms : P4_CCA_COMMAND_TIMEOUT_MS;
    ev->get = p4_cca_command_get;
    snprintf(ev->description, sizeof ev->description, "command %s", ev->command);
    *out = ev;
    return P4_OK;
}

void p4_cca_evidence_destroy(p4_cca_evidence **evidence)
{
    if (evidence == NULL || *evidence == NULL)
        return;
    free(*evidence);
    *evidence = NULL;
}

const char *p4_cca_evidence_describe(const p4_cca_evidence *evidence)
{
    return evidence ? evidence->description : "(none)";
}

int p4_cca_evidence_get(p4_cca_evidence *evidence, const uint8_t challenge[64],
                        uint8_t **token, size_t *token_len, p4_error *err)
{
    if (evidence == NULL || challenge == NULL || token == NULL || token_len == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_cca_evidence_get: NULL argument");
    *token = NULL;
    *token_len = 0;
    return evidence->get(evidence, challenge, token, token_len, err);
}

int p4_cca_evidence_answer(p4_cca_evidence *evidence, const uint8_t own_key[32],
                           const uint8_t nonce[32], uint8_t **token, size_t *token_len,
                           p4_error *err)
{
    uint8_t challenge[64];
    int rc = p4_cca_binding_challenge(own_key, 32, nonce, 32, challenge, err);
    if (rc != P4_OK)
        return rc;
    return p4_cca_evidence_get(evidence, challenge, token, token_len, err);
}
