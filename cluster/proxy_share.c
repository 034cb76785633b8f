/* proxy_share.c: which of a proxy's floats go on the wire; see proxy_share.h. */
#include "cluster/proxy_share.h"

#include <string.h>

#include "common/error.h"

/* The frozen layer holding float `at`, as [*start, *end), or 0 when `at` is
 * in no frozen layer (then *end is where the next frozen layer starts, or
 * the proxy's end). */
static int frozen_span(const p4_client *c, size_t at, size_t *start, size_t *end)
{
    size_t next = p4_client_proxy_size(c);
    for (int k = 0; k < p4_client_frozen_layers(c); k++) {
        size_t offset, length;
        if (p4_client_proxy_layer(c, k, &offset, &length) != P4_OK)
            continue;
        if (at >= offset && at < offset + length) {
            *start = offset;
            *end = offset + length;
            return 1;
        }
        if (offset > at && offset < next)
            next = offset;
    }
    *start = at;
    *end = next;
    return 0;
}

/* Walks the proxy in runs of shared floats: calls copy(run start, run
 * length, position in the shared vector) for each. */
typedef void (*run_fn)(size_t at, size_t length, size_t shared_at, void *user);

static size_t walk(const p4_client *c, run_fn copy, void *user)
{
    size_t size = p4_client_proxy_size(c), at = 0, shared = 0;
    while (at < size) {
        size_t start, end;
        if (frozen_span(c, at, &start, &end)) {
            at = end;
            continue;
        }
        if (copy)
            copy(at, end - at, shared, user);
        shared += end - at;
        at = end;
    }
    return shared;
}

size_t p4_proxy_share_size(const p4_client *client)
{
    return client ? walk(client, NULL, NULL) : 0;
}

typedef struct { float *full; float *shared; int pack; } copy_job;

static void copy_run(size_t at, size_t length, size_t shared_at, void *user)
{
    copy_job *j = user;
    if (j->pack)
        memcpy(j->shared + shared_at, j->full + at, length * sizeof(float));
    else
        memcpy(j->full + at, j->shared + shared_at, length * sizeof(float));
}

int p4_proxy_share_pack(const p4_client *client, const float *proxy, float *shared)
{
    if (!client || !proxy || !shared)
        return P4_EINVAL;
    copy_job j = { (float *)proxy, shared, 1 };
    walk(client, copy_run, &j);
    return P4_OK;
}

int p4_proxy_share_unpack(const p4_client *client, const float *shared, float *proxy)
{
    if (!client || !proxy || !shared)
        return P4_EINVAL;
    copy_job j = { proxy, (float *)shared, 0 };
    walk(client, copy_run, &j);
    return P4_OK;
}
