/* node_groups.h: a run's groups as node.db stores them (the result of a
 * finished run, and the checkpoint's): one little-endian int32 per client.
 * Decoding reads bytes from a file, so it checks everything (fuzzed by
 * fuzz/fuzz_checkpoint.c). */
#ifndef P4_NODE_NODE_GROUPS_H
#define P4_NODE_NODE_GROUPS_H

#include "common/error.h"

/* Decoding checks the size and that every group is in [0, clients), or -1
 * for a peer refused at admission (stored as 0xffffffff); `what`
 * names the blob in errors.  Both allocate *out (free with free()). */
int p4_node_groups_encode(const int *group_of, int clients, unsigned char **out);
int p4_node_groups_decode(const void *blob, int bytes, int clients, int **out, const char *what,
                          p4_error *err);

#endif
