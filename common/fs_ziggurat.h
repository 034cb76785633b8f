/* fs_ziggurat.h: the normal world's DP noise stream (common/ziggurat.h over
 * common/rng.h), reproduced without libc or libm for the OP-TEE TA.
 *
 * Only --reproducible runs use it: there the normal world derives the noise
 * key from the config's seed (as the software backend does) and hands it to
 * the TA, which then draws exactly the values p4_ziggurat_add_parallel
 * would (p4_ziggurat_add_chunked's in the chunked layout), so a run with
 * layers in the TA can be compared with one without.
 * (Such a run has no DP guarantee anyway: the seed gives the noise away.)
 * Private runs key the TA's own polar sampler (common/fs_gaussian.h) from
 * TEE_GenerateRandom instead: their noise has no layout to match.
 * tests/test_dp_ta_noise.c checks the values of both layouts against
 * common/ziggurat.c. */
#ifndef P4_COMMON_FS_ZIGGURAT_H
#define P4_COMMON_FS_ZIGGURAT_H

#include <stddef.h>
#include <stdint.h>

#include "common/chacha20.h"
#include "common/ziggurat.h"

/* p4_rng's keystream: ChaCha20, zero nonce, from block 0, bytes in order
 * (a chunk's stream: nonce j). */
typedef struct p4_fs_stream {
    uint8_t key[32];
    uint64_t position;     /* bytes handed out */
    p4_chacha20 chacha;
} p4_fs_stream;

void p4_fs_stream_init(p4_fs_stream *s, const uint8_t key[32]);
/* The stream of key (nonce 0) from byte `position` on: where a stream
 * whose position was saved goes on (a restarted node). */
void p4_fs_stream_seek(p4_fs_stream *s, const uint8_t key[32], uint64_t position);
void p4_fs_stream_wipe(p4_fs_stream *s);

/* p4_ziggurat_init's tables, on common/fs_math.h. */
void p4_fs_ziggurat_init(p4_ziggurat *z);

/* values[i] += stddev N(0, 1), the same draws as p4_ziggurat_add_parallel
 * on a p4_rng in the same state. */
void p4_fs_ziggurat_add(const p4_ziggurat *z, p4_fs_stream *s, float *values, size_t n,
                        double stddev);

/* The same draws as p4_ziggurat_add_chunked on a p4_rng in the same state
 * ([dp] noise_layout = chunked): one 32-byte call key from s, then chunk
 * j's values from the stream (call key, nonce j), one chunk after another
 * (the TA has one thread; a chunk's values do not depend on who draws it). */
void p4_fs_ziggurat_add_chunked(const p4_ziggurat *z, p4_fs_stream *s, float *values, size_t n,
                                double stddev);

/* p4_ziggurat_add_layout's counterpart: chunked or serial. */
void p4_fs_ziggurat_add_layout(const p4_ziggurat *z, p4_fs_stream *s, p4_noise_layout layout,
                               float *values, size_t n, double stddev);

#endif
