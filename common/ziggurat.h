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

#endif
