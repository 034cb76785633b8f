/* enclave.h: the boundary between p4's normal world and its trusted one.
 *
 * Whatever must not be observable by the host, above all the DP noise that
 * protects a release, is drawn and applied behind this interface.  Backends:
 *   software  - runs everywhere, in the normal process; it gives NO hardware
 *               protection and says so (p4_enclave_protection()).
 *   cca, optee - hardware backends (tee/cca/, tee/optee/), to come.
 * Callers never touch the noise: they hand over the values to release, and
 * get them back noised. */
#ifndef P4_TEE_ENCLAVE_H
#define P4_TEE_ENCLAVE_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

typedef struct p4_enclave p4_enclave;

/* The software backend.  seeded = 0 draws noise keys from the OS CSPRNG
 * (the default); seeded = 1 derives them from `seed` so research runs can
 * be reproduced, at the cost that anyone with the seed can remove the noise. */
int p4_enclave_open_software(p4_enclave **out, int seeded, uint64_t seed,
                             p4_error *err);
void p4_enclave_close(p4_enclave **enclave);

/* "software", "cca", "optee". */
const char *p4_enclave_kind(const p4_enclave *enclave);
/* One line a user can read about what this backend protects. */
const char *p4_enclave_protection(const p4_enclave *enclave);

/* A reproducible (seeded) backend's position in its noise stream, so a node
 * restarted from a checkpoint continues the stream it would have drawn.
 * Backends keyed from the OS refuse (P4_EINVAL): their key never leaves
 * them, and a restart draws fresh noise, which is just as private. */
int p4_enclave_save_seeded_noise(const p4_enclave *enclave, unsigned char *out, size_t size,
                                 p4_error *err);
int p4_enclave_restore_seeded_noise(p4_enclave *enclave, const unsigned char *in, size_t size,
                                    p4_error *err);

/* Adds independent N(0, stddev^2) noise to each of values[0..n). */
int p4_enclave_add_gaussian_noise(p4_enclave *enclave, float *values, size_t n,
                                  double stddev, p4_error *err);

#endif
