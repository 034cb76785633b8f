/* fuzz_checkpoint.c: the parsers of a node.db checkpoint's bytes (a file a
 * crash, a bad disk or a hand may have damaged): the groups blob, a saved
 * generator state and the own proxy.  Whatever the bytes, each either
 * refuses them or gives a state that holds together (groups in range or -1,
 * a generator that draws and saves back to the same bytes, an own proxy of
 * exactly the proxy's size, every weight finite). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "p4node/node_groups.h"
#include "p4node/node_own_proxy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* first byte: the client count the groups blob is read for */
    if (size < 1)
        return 0;
    int clients = 1 + data[0] % 64;
    int *groups = NULL;
    if (p4_node_groups_decode(data + 1, (int)(size - 1), clients, &groups, "fuzz", NULL) == P4_OK) {
        for (int k = 0; k < clients; k++)
            if (groups[k] < -1 || groups[k] >= clients) /* -1: refused at admission */
                abort();
        unsigned char *again = NULL;
        if (p4_node_groups_encode(groups, clients, &again) != P4_OK ||
            memcmp(again, data + 1, (size_t)clients * 4) != 0)
            abort();
        free(again);
    }
    free(groups);

    p4_rng rng;
    if (p4_rng_restore(&rng, data, size) == P4_OK) {
        unsigned char saved[P4_RNG_STATE_BYTES];
        p4_rng_save(&rng, saved);
        /* the spare Gaussian is kept only when flagged */
        if (memcmp(saved, data, 32 + 8 + P4_RNG_BUFFER_BYTES + 8 + 1) != 0)
            abort();
        (void)p4_rng_u64(&rng);
        (void)p4_rng_gaussian(&rng);
        p4_rng_wipe(&rng);
    }

    /* first byte: the proxy's size in floats the own proxy is read for */
    size_t proxy_count = 1 + data[0] % 16;
    float *own = NULL;
    if (p4_node_own_proxy_decode(data + 1, size - 1, proxy_count, &own, "fuzz", NULL) == P4_OK) {
        if (size - 1 != proxy_count * sizeof(float) || memcmp(own, data + 1, size - 1) != 0)
            abort();
        for (size_t j = 0; j < proxy_count; j++)
            if (!isfinite(own[j]))
                abort();
    }
    free(own);
    return 0;
}
