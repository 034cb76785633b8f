/* node_groups.c: the groups as node.db keeps them; see node_groups.h. */
#include "p4node/node_groups.h"

#include <stdint.h>
#include <stdlib.h>

int p4_node_groups_encode(const int *group_of, int clients, unsigned char **out)
{
    if (group_of == NULL || clients < 1 || out == NULL)
        return P4_EINVAL;
    unsigned char *b = malloc((size_t)clients * 4);
    if (b == NULL)
        return P4_ENOMEM;
    for (int k = 0; k < clients; k++) { /* little-endian int32 each */
        uint32_t g = (uint32_t)group_of[k];
        for (int i = 0; i < 4; i++)
            b[4 * k + i] = (unsigned char)(g >> (8 * i));
    }
    *out = b;
    return P4_OK;
}

int p4_node_groups_decode(const void *blob, int bytes, int clients, int **out, const char *what,
                          p4_error *err)
{
    const unsigned char *b = blob;
    if (out == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_node_groups_decode: bad arguments");
    *out = NULL;
    if (b == NULL || clients < 1 || bytes != clients * 4)
        return p4_error_set(err, P4_ESTATE, "%s: the groups hold %d bytes, not %d", what, bytes,
                            clients * 4);
    int *g = malloc((size_t)clients * sizeof *g);
    if (g == NULL)
        return p4_error_set(err, P4_ENOMEM, "node state: out of memory");
    for (int k = 0; k < clients; k++) {
        uint32_t v = 0;
        for (int i = 0; i < 4; i++)
            v |= (uint32_t)b[4 * k + i] << (8 * i);
        if (v >= (uint32_t)clients && v != UINT32_MAX) {
            free(g);
            return p4_error_set(err, P4_ESTATE, "%s: client %d's group %u is out of range", what,
                                k, v);
        }
        g[k] = v == UINT32_MAX ? -1 : (int)v; /* -1: refused at admission, in no group */
    }
    *out = g;
    return P4_OK;
}
