/* ziggurat.h: fast standard normal samples from a p4_rng (the ziggurat
 * method of Marsaglia and Tsang 2000, in Doornik's 2005 formulation with
 * 128 layers and full 53-bit uniforms).
 *
 * DP-SGD adds one Gaussian per model coordinate per step (200,000 for the
 * MLP); Box-Muller's log, sqrt and cos per pair made noise as costly as the
 * training step itself.  The ziggurat accepts about 98.8% of draws with one
 * 64-bit word, a table lookup, a multiply and a compare, and is exact: the
 * rare rejections fall back to the exact density (wedges) and to
 * Marsaglia's exact tail sampler beyond R = 3.4426.  The tables live in a
 * struct the caller owns (no global state). */
#ifndef P4_COMMON_ZIGGURAT_H
#define P4_COMMON_ZIGGURAT_H

#include "common/rng.h"

#define P4_ZIGGURAT_LAYERS 128

typedef struct p4_ziggurat {
    double x[P4_ZIGGURAT_LAYERS + 1];  /* layer edges, x[0] > R = x[1] > ... > x[128] = 0 */
    double ratio[P4_ZIGGURAT_LAYERS];  /* x[i+1] / x[i]: the fast-accept bound */
    double f[P4_ZIGGURAT_LAYERS + 1];  /* the density at each edge, exp(-x[i]^2 / 2) */
} p4_ziggurat;

void p4_ziggurat_init(p4_ziggurat *z);

/* One N(0, 1) sample. */
double p4_ziggurat_normal(const p4_ziggurat *z, p4_rng *rng);

/* values[i] += stddev * N(0, 1) for n values: the DP noise loop, with the
 * random words fetched in blocks. */
void p4_ziggurat_add(const p4_ziggurat *z, p4_rng *rng, float *values, size_t n, double stddev);

/* The same for large n (>= P4_ZIGGURAT_PARALLEL_MIN): two slices, each with
 * a generator keyed from rng, filled on p4's compute threads
 * (common/workers.h).  Deterministic given rng, whatever the thread count. */
#define P4_ZIGGURAT_PARALLEL_MIN 65536
void p4_ziggurat_add_parallel(const p4_ziggurat *z, p4_rng *rng, float *values, size_t n,
                              double stddev);

/* How a tensor's noise is laid out over keystreams ([dp] noise_layout;
 * docs/noise.md):
 *   serial  - p4_ziggurat_add_parallel: one stream below 64Ki values, two
 *             halves from two keys drawn from rng above (the layout before
 *             the option existed; seeded runs match older versions);
 *   chunked - p4_ziggurat_add_chunked: fixed chunks of P4_NOISE_CHUNK
 *             values, each from its own keystream, as many threads as the
 *             pool has.  Seeded runs draw other (identically distributed)
 *             noise than serial. */
typedef enum p4_noise_layout { P4_NOISE_SERIAL = 0, P4_NOISE_CHUNKED = 1 } p4_noise_layout;

/* P4_OK and the layout for "serial" or "chunked", else P4_EINVAL. */
int p4_noise_layout_parse(const char *name, p4_noise_layout *out);

/* values[i] += stddev * N(0, 1) in the given layout. */
void p4_ziggurat_add_layout(const p4_ziggurat *z, p4_rng *rng, p4_noise_layout layout,
                            float *values, size_t n, double stddev);

/* The chunked layout.  One 32-byte call key K is drawn from rng (nothing
 * for n = 0); values [j C, (j+1) C) (C = P4_NOISE_CHUNK, the last chunk
 * shorter) get p4_ziggurat_add on the generator p4_ziggurat_chunk_rng(K, j)
 * makes.  Each chunk depends only on (K, j), so the result is the same at
 * every thread count. */
#define P4_NOISE_CHUNK 4096
void p4_ziggurat_add_chunked(const p4_ziggurat *z, p4_rng *rng, float *values, size_t n,
                             double stddev);

/* Chunk j's generator: ChaCha20 under the call key with nonce j (blocks
 * (K, 0.., j)): distinct chunks never share a keystream block. */
int p4_ziggurat_chunk_rng(p4_rng *out, const unsigned char call_key[32], uint64_t chunk);

#endif
