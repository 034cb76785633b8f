/* fs_gaussian.c: Marsaglia's polar method (1964): draw (u, v) uniform in the
 * square (-1, 1)^2 until s = u^2 + v^2 lies in (0, 1); then
 * u sqrt(-2 ln s / s) and v sqrt(-2 ln s / s) are independent N(0, 1).
 * Uniforms carry 53 random bits each.  Freestanding. */
#include "common/fs_gaussian.h"
#include "common/fs_math.h"

void p4_fs_gaussian_init(p4_fs_gaussian *g, const uint8_t key[32])
{
    static const uint8_t nonce[12] = { 0 };
    p4_chacha20_init(&g->stream, key, nonce, 0);
    g->has_spare = 0;
    g->spare = 0.0;
}

uint64_t p4_fs_gaussian_blocks(const p4_fs_gaussian *g)
{
    return p4_chacha20_blocks(&g->stream);
}

/* Uniform in (-1, 1): the midpoints of 2^53 equal cells, so never +-1. */
static double uniform_signed(p4_fs_gaussian *g)
{
    uint64_t bits = p4_chacha20_u64(&g->stream) >> 11;
    return ((double)bits + 0.5) * (2.0 / 9007199254740992.0) - 1.0;
}

double p4_fs_gaussian_next(p4_fs_gaussian *g)
{
    if (g->has_spare) {
        g->has_spare = 0;
        return g->spare;
    }
    double u, v, s;
    do {
        u = uniform_signed(g);
        v = uniform_signed(g);
        s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    double f = p4_fs_sqrt(-2.0 * p4_fs_log(s) / s);
    g->spare = v * f;
    g->has_spare = 1;
    return u * f;
}

void p4_fs_gaussian_add(p4_fs_gaussian *g, float *values, size_t n, double stddev)
{
    for (size_t i = 0; i < n; i++)
        values[i] = (float)((double)values[i] + stddev * p4_fs_gaussian_next(g));
}

void p4_fs_gaussian_wipe(p4_fs_gaussian *g)
{
    p4_chacha20_wipe(&g->stream);
    volatile double *spare = &g->spare;
    *spare = 0.0;
    g->has_spare = 0;
}
