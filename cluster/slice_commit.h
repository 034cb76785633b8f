/* slice_commit.h: commit-then-reveal of the grouping's warm-up slices.
 *
 * Without it a peer may wait for a target's slice and send a (noisy) copy
 * as its own, which puts it in the target's group (docs/attacks.md).  With
 * [p4] grouping_commit every peer first sends a commitment to its slice,
 * then an echo (one digest of every commitment it holds), and sends its
 * slice only when every peer's echo equals its own: by then every
 * commitment is fixed for everyone, so nobody can commit to a slice it has
 * not seen, nor give different peers different commitments.  A revealed
 * slice that does not match its sender's commitment is refused (that peer
 * trains alone).
 *
 * The commitment binds the sender's id, so a copied commitment cannot be
 * opened by another peer.  It is a hash without a separate nonce: the slice
 * carries fresh DP noise (OS-keyed in every run with a guarantee) on every
 * coordinate, which no one can guess; a `--reproducible` run's noise is
 * public, and so would a repeated run's slices be. */
#ifndef P4_CLUSTER_SLICE_COMMIT_H
#define P4_CLUSTER_SLICE_COMMIT_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

#define P4_SLICE_COMMIT_BYTES 32

/* BLAKE2b-256 over a domain tag, the sender's id and the slice (its length
 * and its values' little-endian IEEE bits, as they travel on the wire). */
int p4_slice_commitment(int sender, const float *slice, size_t length,
                        uint8_t out[P4_SLICE_COMMIT_BYTES], p4_error *err);

/* 1 when slice (length values) opens commitment c of sender, else 0. */
int p4_slice_commitment_opens(int sender, const float *slice, size_t length,
                              const uint8_t c[P4_SLICE_COMMIT_BYTES]);

/* The echo: BLAKE2b-256 over every (id, commitment) with has[j] set, in id
 * order; commitment j at commitments + 32 j.  Two peers holding the same
 * commitments of the same peers compute the same echo. */
int p4_slice_commitment_echo(const uint8_t *commitments, const unsigned char *has, int n,
                             uint8_t out[P4_SLICE_COMMIT_BYTES], p4_error *err);

#endif
