/* slice_board.h: the grouping's warm-up slices, shared by peers in one
 * process.
 *
 * Over a network every peer sends the slice of its warm-up proxy that the
 * grouping distance reads (a DP output) to every other peer, so each holds
 * all N slices: N^2 copies in all.  `p4 sim` runs every peer in one process,
 * where that is N^2 floats of memory (32 GiB at 1,024 clients with a
 * logistic-regression proxy) and N times the same N^2/2 distances.  A board
 * holds each published slice once, read-only, and the distances between
 * them once: every peer still runs the grouping itself
 * (cluster/protocol.c), from the same published slices and distances, and
 * every peer still compares the digest of the groups it found with every
 * other peer's, here on the board instead of in N^2 DIGEST messages.
 * Thread-safe; in-process only (`p4 node` passes no board). */
#ifndef P4_CLUSTER_SLICE_BOARD_H
#define P4_CLUSTER_SLICE_BOARD_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

typedef struct p4_slice_board p4_slice_board;

int p4_slice_board_new(p4_slice_board **out, int n, p4_error *err);
void p4_slice_board_destroy(p4_slice_board **board);

/* Peer `self` publishes its slice of `length` floats (copied); every slice
 * must have the same length. */
int p4_slice_board_publish(p4_slice_board *board, int self, const float *slice, size_t length,
                           p4_error *err);

/* Waits until all n slices are published (P4_OK), the deadline
 * (p4_now_seconds clock) passes (P4_ETIMEOUT) or the board is aborted
 * (P4_ENET). */
int p4_slice_board_wait(p4_slice_board *board, double deadline, p4_error *err);

/* After p4_slice_board_wait: the n x n L1 distances between the slices for
 * the pairs with known[i*n+j] set (0 elsewhere), computed once by the first
 * caller; a later caller's `known` must be the same matrix (the grouping
 * samples it from the public seed), else P4_EPEER.  The matrix belongs to
 * the board. */
int p4_slice_board_distances(p4_slice_board *board, const unsigned char *known,
                             const double **dist, p4_error *err);

/* After p4_slice_board_wait: each slice's p4_slice_fingerprint
 * (cluster/slice_guard.h), computed once by its publisher; n values in peer
 * order, owned by the board. */
int p4_slice_board_fingerprints(p4_slice_board *board, const uint64_t **fingerprints,
                                p4_error *err);

/* The grouping's digest check without N^2 messages: peer `self` publishes
 * the 32-byte digest of the groups it found; p4_slice_board_wait_digests
 * waits until all n are there (P4_ETIMEOUT / P4_ENET as above) and points
 * *digests at them, n x 32 bytes in peer order, owned by the board. */
int p4_slice_board_publish_digest(p4_slice_board *board, int self, const uint8_t digest[32],
                                  p4_error *err);
int p4_slice_board_wait_digests(p4_slice_board *board, double deadline, const uint8_t **digests,
                                p4_error *err);

/* Ends every wait at once (a peer failed and will never publish). */
void p4_slice_board_abort(p4_slice_board *board);

/* Bytes the board holds (slices, distances, known pairs). */
size_t p4_slice_board_bytes(const p4_slice_board *board);

#endif
