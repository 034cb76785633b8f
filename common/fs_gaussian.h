/* fs_gaussian.h: standard normal draws from a ChaCha20 keystream, without
 * libm (Marsaglia's polar method over common/fs_math.h), for the OP-TEE TA.
 * The normal world's noise is common/ziggurat.h over common/rng.h. */
#ifndef P4_COMMON_FS_GAUSSIAN_H
#define P4_COMMON_FS_GAUSSIAN_H

#include <stddef.h>

#include "common/chacha20.h"

typedef struct p4_fs_gaussian {
    p4_chacha20 stream;
    int has_spare;        /* the polar method makes two at a time */
    double spare;
} p4_fs_gaussian;

/* Keys the sampler (nonce zero, counter zero: use each key once). */
void p4_fs_gaussian_init(p4_fs_gaussian *g, const uint8_t key[32]);
/* Blocks of keystream used since the key was set (rekey before 2^32). */
uint64_t p4_fs_gaussian_blocks(const p4_fs_gaussian *g);
double p4_fs_gaussian_next(p4_fs_gaussian *g);
/* values[i] += stddev * N(0, 1), each independent. */
void p4_fs_gaussian_add(p4_fs_gaussian *g, float *values, size_t n, double stddev);
void p4_fs_gaussian_wipe(p4_fs_gaussian *g);

#endif
