/* admission.c: the allowlist behind p4_admission_check; see admission.h. */
#include "cluster/admission.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/wire.h"

#define REASON_MAX 160

enum { ATTEST_PENDING = 0, ATTEST_PASSED = 1, ATTEST_REFUSED = 2 };

typedef struct verdict {
    int state;                 /* ATTEST_*                                 */
    char reason[REASON_MAX];   /* why it was refused                       */
} verdict;

struct p4_admission {
    pthread_mutex_t lock;  /* the ZAP thread reads while the node may add */
    uint8_t (*keys)[32];
    verdict *verdicts;     /* one per key                                  */
    size_t count, capacity;
    int attestation;       /* 1: listed keys must also pass attestation    */
    char describe[96];
};

int p4_admission_new(p4_admission **out, const uint8_t (*allow)[32], size_t count,
                     p4_error *err)
{
    if (out == NULL || (allow == NULL && count > 0))
        return p4_error_set(err, P4_EINVAL, "p4_admission_new: NULL argument");
    *out = NULL;
    if (count > P4_WIRE_MAX_NODES)
        return p4_error_set(err, P4_EINVAL, "allowlist of %zu keys (limit %d)", count,
                            P4_WIRE_MAX_NODES);
    p4_admission *a = calloc(1, sizeof *a);
    if (a == NULL)
        return p4_error_set(err, P4_ENOMEM, "admission: no memory");
    pthread_mutex_init(&a->lock, NULL);
    snprintf(a->describe, sizeof a->describe, "key allowlist only, no attestation");
    *out = a;
    for (size_t i = 0; i < count; i++) {
        int rc = p4_admission_allow(a, allow[i], err);
        if (rc != P4_OK) {
            p4_admission_destroy(out);
            return rc;
        }
    }
    return P4_OK;
}

void p4_admission_destroy(p4_admission **admission)
{
    if (admission == NULL || *admission == NULL)
        return;
    pthread_mutex_destroy(&(*admission)->lock);
    free((*admission)->keys);
    free((*admission)->verdicts);
    free(*admission);
    *admission = NULL;
}

/* Index of key on the allowlist, or -1. */
static long find(const p4_admission *a, const uint8_t key[32])
{
    for (size_t i = 0; i < a->count; i++)
        if (memcmp(a->keys[i], key, 32) == 0)
            return (long)i;
    return -1;
}

static int listed(const p4_admission *a, const uint8_t key[32])
{
    return find(a, key) >= 0;
}

int p4_admission_allow(p4_admission *admission, const uint8_t key[32], p4_error *err)
{
    if (admission == NULL || key == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_admission_allow: NULL argument");
    int rc = P4_OK;
    pthread_mutex_lock(&admission->lock);
    if (!listed(admission, key)) {
        if (admission->count == P4_WIRE_MAX_NODES) {
            rc = p4_error_set(err, P4_EINVAL, "allowlist is full (%d keys)", P4_WIRE_MAX_NODES);
        } else if (admission->count == admission->capacity) {
            size_t cap = admission->capacity ? 2 * admission->capacity : 16;
            void *grown = realloc(admission->keys, cap * sizeof *admission->keys);
            if (grown != NULL)
                admission->keys = grown;
            void *more = grown ? realloc(admission->verdicts, cap * sizeof *admission->verdicts)
                               : NULL;
            if (grown == NULL || more == NULL)
                rc = p4_error_set(err, P4_ENOMEM, "allowlist: no memory for %zu keys", cap);
            else {
                admission->verdicts = more;
                admission->capacity = cap;
            }
        }
        if (rc == P4_OK) {
            memset(&admission->verdicts[admission->count], 0, sizeof(verdict));
            memcpy(admission->keys[admission->count++], key, 32);
        }
    }
    pthread_mutex_unlock(&admission->lock);
    return rc;
}

int p4_admission_check(p4_admission *admission, const uint8_t key[32], const char *address,
                       char *reason, size_t reason_size)
{
    if (reason != NULL && reason_size > 0)
        reason[0] = '\0';
    if (admission == NULL || key == NULL) {
        if (reason != NULL)
            snprintf(reason, reason_size, "no admission policy or no key");
        return 0;
    }
    /* Every rule of the connection level lives here, so that the ZAP
     * handler and outgoing connections agree.  A key still waiting for its
     * attestation is let in: its token arrives over this connection. */
    (void)address;
    pthread_mutex_lock(&admission->lock);
    long i = find(admission, key);
    int ok = i >= 0 && admission->verdicts[i].state != ATTEST_REFUSED;
    if (reason != NULL && i < 0)
        snprintf(reason, reason_size, "key not in the allowlist");
    else if (reason != NULL && !ok)
        snprintf(reason, reason_size, "attestation refused: %s", admission->verdicts[i].reason);
    pthread_mutex_unlock(&admission->lock);
    return ok;
}

int p4_admission_require_attestation(p4_admission *admission, const char *what, p4_error *err)
{
    if (admission == NULL || what == NULL || what[0] == '\0')
        return p4_error_set(err, P4_EINVAL, "p4_admission_require_attestation: bad arguments");
    pthread_mutex_lock(&admission->lock);
    admission->attestation = 1;
    snprintf(admission->describe, sizeof admission->describe, "key allowlist and %.64s", what);
    pthread_mutex_unlock(&admission->lock);
    return P4_OK;
}

int p4_admission_record(p4_admission *admission, const uint8_t key[32], int passed,
                        const char *reason, p4_error *err)
{
    if (admission == NULL || key == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_admission_record: NULL argument");
    int rc = P4_OK;
    pthread_mutex_lock(&admission->lock);
    long i = find(admission, key);
    if (i < 0) {
        rc = p4_error_set(err, P4_EINVAL, "admission: cannot record attestation of a key that "
                          "is not on the allowlist");
    } else if (admission->verdicts[i].state != ATTEST_REFUSED) { /* a refusal is final */
        verdict *v = &admission->verdicts[i];
        v->state = passed ? ATTEST_PASSED : ATTEST_REFUSED;
        snprintf(v->reason, sizeof v->reason, "%s", passed || !reason ? "" : reason);
    }
    pthread_mutex_unlock(&admission->lock);
    return rc;
}

int p4_admission_admitted(p4_admission *admission, const uint8_t key[32], char *reason,
                          size_t reason_size)
{
    if (!p4_admission_check(admission, key, NULL, reason, reason_size))
        return 0;
    pthread_mutex_lock(&admission->lock);
    long i = find(admission, key);
    int ok = i >= 0 && (!admission->attestation || admission->verdicts[i].state == ATTEST_PASSED);
    pthread_mutex_unlock(&admission->lock);
    if (!ok && reason != NULL)
        snprintf(reason, reason_size, "no attestation verified yet");
    return ok;
}

const char *p4_admission_describe(const p4_admission *admission)
{
    return admission ? admission->describe : "no admission policy";
}
