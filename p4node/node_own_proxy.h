/* node_own_proxy.h: the checkpoint's own proxy as node.db stores it: the
 * client's proxy from before the last averaging, kept when the saved proxy
 * took in peers' proxies, so that a restart can still revert a divergence
 * (cluster/protocol.h, resume_own_proxy).  One float per weight in the
 * machine's layout (every p4 target is little-endian IEEE 754), as the
 * other weight blobs.  Decoding reads bytes from a file, so it checks
 * everything (fuzzed by fuzz/fuzz_checkpoint.c). */
#ifndef P4_NODE_NODE_OWN_PROXY_H
#define P4_NODE_NODE_OWN_PROXY_H

#include <stddef.h>

#include "common/error.h"

/* A blob of exactly proxy_count finite floats, copied into *out (free it
 * with free()); anything else is P4_ESTATE naming the own_proxy column and
 * `what` (the file). */
int p4_node_own_proxy_decode(const void *blob, size_t bytes, size_t proxy_count, float **out,
                             const char *what, p4_error *err);

#endif
