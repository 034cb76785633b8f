/* node_own_proxy.c: the checkpoint's own proxy; see node_own_proxy.h. */
#include "p4node/node_own_proxy.h"

#include <stdlib.h>
#include <string.h>

#include "common/finite.h"

int p4_node_own_proxy_decode(const void *blob, size_t bytes, size_t proxy_count, float **out,
                             const char *what, p4_error *err)
{
    if (out == NULL || what == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_node_own_proxy_decode: bad arguments");
    *out = NULL;
    if (proxy_count == 0 || blob == NULL || bytes != proxy_count * sizeof(float))
        return p4_error_set(err, P4_ESTATE, "%s: the checkpoint's own_proxy holds %zu bytes, "
                            "not the proxy's %zu floats (%zu bytes)", what, bytes, proxy_count,
                            proxy_count * sizeof(float));
    float *v = malloc(bytes);
    if (v == NULL)
        return p4_error_set(err, P4_ENOMEM, "checkpoint: out of memory");
    memcpy(v, blob, bytes);
    size_t j = p4_first_non_finite(v, proxy_count);
    if (j < proxy_count) { /* a revert to it could not go on */
        free(v);
        return p4_error_set(err, P4_ESTATE, "%s: the checkpoint's own_proxy holds a "
                            "non-finite weight (float %zu of %zu)", what, j, proxy_count);
    }
    *out = v;
    return P4_OK;
}
