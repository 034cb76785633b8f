/* admission.c: the allowlist behind p4_admission_check; see admission.h. */
#include "cluster/admission.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/wire.h"

struct p4_admission {
    pthread_mutex_t lock;  /* the ZAP thread reads while the node may add */
    uint8_t (*keys)[32];
    size_t count, capacity;
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
    free(*admission);
    *admission = NULL;
}

static int listed(const p4_admission *a, const uint8_t key[32])
{
    for (size_t i = 0; i < a->count; i++)
        if (memcmp(a->keys[i], key, 32) == 0)
            return 1;
    return 0;
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
            if (grown == NULL)
                rc = p4_error_set(err, P4_ENOMEM, "allowlist: no memory for %zu keys", cap);
            else {
                admission->keys = grown;
                admission->capacity = cap;
            }
        }
        if (rc == P4_OK)
            memcpy(admission->keys[admission->count++], key, 32);
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
    pthread_mutex_lock(&admission->lock);
    int ok = listed(admission, key);
    pthread_mutex_unlock(&admission->lock);
    if (!ok) {
        if (reason != NULL)
            snprintf(reason, reason_size, "key not in the allowlist");
        return 0;
    }
    /* Issue 13 (CCA attestation) plugs in here: besides being listed, the
     * key must belong to a peer whose attestation evidence (sent in its
     * HELLO, or fetched for `address` by a challenge) was verified against
     * the expected realm measurements.  Keep every admission rule in this
     * function so that the ZAP handler and outgoing connections agree. */
    (void)address;
    return 1;
}
