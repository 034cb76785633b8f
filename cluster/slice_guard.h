/* slice_guard.h: a guard for P4's grouping against copied warm-up slices.
 *
 * In the grouping phase every peer sends the slice of its DP warm-up proxy
 * that the distance reads, and all peers group from the same slices.  An
 * attacker that waits for a target's slice and sends a copy of it as its own
 * is at distance 0 from the target and is grouped with it (docs/attacks.md).
 * Honest slices are never that close: each carries its own DP noise.  The
 * guard takes any two slices whose L1 distance is below `ratio` times the
 * median distance over all pairs (or exactly 0) as a copy and puts both
 * clients in groups of their own: the attacker gains nothing, and the
 * target trains alone (so the lie can still deny it a group).  It cannot
 * tell a copy plus enough noise from an honest neighbour.
 *
 * Two ways to run it: p4_slice_guard_flag compares all n (n - 1) / 2 pairs of
 * slices (n^2 L / 2 work for slices of L values); p4_slice_guard_flag_sampled
 * reads only the distances the grouping computed anyway (the pairs it
 * samples, [p4] sample_peers) and catches exact copies among all pairs from
 * 64-bit fingerprints, sorted: O(K log K + n L + n log n) for K sampled pairs.
 * Over all pairs (sample_peers = 0) the two flag the same clients; the
 * protocol runs the second. */
#ifndef P4_CLUSTER_SLICE_GUARD_H
#define P4_CLUSTER_SLICE_GUARD_H

#include <stddef.h>
#include <stdint.h>

#include "cluster/grouping.h"
#include "common/error.h"
#include "common/rng.h"

/* Flags (flagged[i] = 1) every client i whose slice is a near-copy of
 * another's: L1 distance 0, or below ratio x the median over all n (n - 1) / 2
 * pairs.  slice[i] holds `length` floats.  *count receives how many were
 * flagged.  ratio in [0, 1]; 0 flags exact copies only. */
int p4_slice_guard_flag(const float *const *slice, int n, size_t length, double ratio,
                        unsigned char *flagged, int *count, p4_error *err);

/* A slice's fingerprint: the first 8 bytes of BLAKE2b over its values
 * (little-endian IEEE bits, -0 read as +0, so that two slices at L1
 * distance 0 have the same fingerprint). */
int p4_slice_fingerprint(const float *slice, size_t length, uint64_t *out, p4_error *err);

/* The guard from the grouping's own distances: flags every client i in a
 * sampled pair (known[i*n+j], dist[i*n+j] symmetric) at distance 0 or below
 * ratio x the median over the sampled pairs, and every client whose
 * fingerprint equals another's (fingerprint may be NULL: sampled pairs
 * only).  known NULL means every pair.  A client with skip[i] set (skip may
 * be NULL) takes part in no fingerprint comparison: a slice refused already
 * (it did not open its commitment, cluster/slice_commit.h) must not take
 * the client it copied down with it; its pairs are left out through known.
 * *count: how many were flagged. */
int p4_slice_guard_flag_sampled(const double *dist, const unsigned char *known,
                                const uint64_t *fingerprint, const unsigned char *skip, int n,
                                double ratio, unsigned char *flagged, int *count, p4_error *err);

/* p4_group_clients over the clients not `alone`, each alone client in a
 * group of its own; groups numbered in the order of their smallest member.
 * With nobody alone it is exactly p4_group_clients. */
int p4_group_clients_guarded(const double *dist, const unsigned char *known, int n,
                             const p4_grouping_params *params, p4_rng *rng,
                             const unsigned char *alone, int *group_of, int *ngroups,
                             p4_error *err);

#endif
