/* ziggurat.c: see ziggurat.h.  The normal density f(x) = exp(-x^2/2) is
 * covered by 128 horizontal layers of equal area V: a base strip (with the
 * tail beyond R) and 127 rectangles.  A draw picks a layer i and a point
 * u x[i] in it; if |u| < x[i+1]/x[i] the point lies under the curve for sure
 * and is returned, else the exact density decides. */
#include "common/ziggurat.h"
#include "common/error.h"
#include "common/workers.h"

#include <math.h>
#include <stdatomic.h>
#include <sodium.h>
#include <string.h>

#define ZIG_R 3.442619855899           /* start of the tail  */
#define ZIG_V 9.91256303526217e-3      /* area of each layer */

void p4_ziggurat_init(p4_ziggurat *z)
{
    double f = exp(-0.5 * ZIG_R * ZIG_R);
    z->x[0] = ZIG_V / f;  /* the base strip, as wide as its area demands */
    z->x[1] = ZIG_R;
    z->x[P4_ZIGGURAT_LAYERS] = 0.0;
    for (int i = 2; i < P4_ZIGGURAT_LAYERS; i++) {
        z->x[i] = sqrt(-2.0 * log(ZIG_V / z->x[i - 1] + f));
        f = exp(-0.5 * z->x[i] * z->x[i]);
    }
    for (int i = 0; i < P4_ZIGGURAT_LAYERS; i++)
        z->ratio[i] = z->x[i + 1] / z->x[i];
    for (int i = 0; i <= P4_ZIGGURAT_LAYERS; i++)
        z->f[i] = exp(-0.5 * z->x[i] * z->x[i]);
}

/* Marsaglia's exact sampler for the tail |x| > R. */
static double tail(p4_rng *rng, int negative)
{
    double x, y;
    do {
        x = log(p4_rng_uniform(rng)) / ZIG_R;
        y = log(p4_rng_uniform(rng));
    } while (-2.0 * y < x * x);
    return negative ? x - ZIG_R : ZIG_R - x;
}

/* One attempt from word w: the top 53 bits give u in [-1, 1), the low 7
 * the layer.  Returns 1 and the sample in *out if accepted. */
static int attempt(const p4_ziggurat *z, uint64_t w, p4_rng *rng, double *out)
{
    double u = 2.0 * ((double)(w >> 11) * (1.0 / 9007199254740992.0)) - 1.0;
    int i = (int)(w & (P4_ZIGGURAT_LAYERS - 1));
    if (fabs(u) < z->ratio[i]) {
        *out = u * z->x[i];
        return 1;
    }
    if (i == 0) {
        *out = tail(rng, u < 0);
        return 1;
    }
    /* The wedge between rectangle i and the curve: a height uniform
     * between the layer's edges' densities is accepted under the density
     * at x (one exp: the edges' densities are in the table). */
    double x = u * z->x[i];
    if (z->f[i + 1] + p4_rng_uniform(rng) * (z->f[i] - z->f[i + 1]) < exp(-0.5 * x * x)) {
        *out = x;
        return 1;
    }
    return 0;
}

double p4_ziggurat_normal(const p4_ziggurat *z, p4_rng *rng)
{
    double out;
    while (!attempt(z, p4_rng_u64(rng), rng, &out)) {}
    return out;
}

void p4_ziggurat_add(const p4_ziggurat *z, p4_rng *rng, float *values, size_t n, double stddev)
{
    /* Words are fetched in blocks; a rejected draw takes its retries from the
     * stream after the block, so the result depends only on the rng state.
     * The first pass is branch-free so the compiler can vectorise it: it
     * takes every draw's rectangle sample and marks the ~1% that fall
     * outside their layer's inner rectangle; the second pass replaces just
     * those by the exact wedge/tail decision. */
    enum { BLOCK = 2048 };
    uint64_t words[BLOCK];
    double sample[BLOCK];
    unsigned char outside[BLOCK];
    for (size_t first = 0; first < n; first += BLOCK) {
        size_t m = n - first < BLOCK ? n - first : BLOCK;
        p4_rng_bytes(rng, words, m * 8);
#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
        for (size_t k = 0; k < m; k++) { /* the words are little-endian */
            const unsigned char *b = (const unsigned char *)&words[k];
            uint64_t w = 0;
            for (int j = 0; j < 8; j++)
                w |= (uint64_t)b[j] << (8 * j);
            words[k] = w;
        }
#endif
        for (size_t k = 0; k < m; k++) {
            const uint64_t w = words[k];
            const double u = 2.0 * ((double)(int64_t)(w >> 11) * (1.0 / 9007199254740992.0)) - 1.0;
            const int i = (int)(w & (P4_ZIGGURAT_LAYERS - 1));
            sample[k] = u * z->x[i];
            outside[k] = !(fabs(u) < z->ratio[i]);
        }
        /* About 1% of draws are outside: test eight marks at a time. */
        for (size_t k0 = 0; k0 < m; k0 += 8) {
            /* Marked draws are visited in order, the lowest set byte first. */
            uint64_t marks = 0;
            memcpy(&marks, outside + k0, m - k0 < 8 ? m - k0 : 8);
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
            for (; marks != 0; marks &= marks - 1) {
                size_t k = k0 + (size_t)__builtin_ctzll(marks) / 8;
                if (!attempt(z, words[k], rng, &sample[k]))
                    sample[k] = p4_ziggurat_normal(z, rng);
            }
#else
            for (size_t k = k0; marks != 0 && k < k0 + 8 && k < m; k++)
                if (outside[k] && !attempt(z, words[k], rng, &sample[k]))
                    sample[k] = p4_ziggurat_normal(z, rng);
#endif
        }
        float *out = values + first;
        for (size_t k = 0; k < m; k++)
            out[k] += (float)(stddev * sample[k]);
    }
}

/* One half of a parallel fill: its own generator, its own slice. */
typedef struct {
    const p4_ziggurat *z;
    p4_rng rng;
    float *values;
    size_t n;
    double stddev;
} noise_slice;

/* Slices [first, last) of the two (p4_for_examples' share function). */
static void fill_slices(void *ctx, int first, int last, int worker)
{
    (void)worker;
    noise_slice *slices = ctx;
    for (int t = first; t < last; t++)
        p4_ziggurat_add(slices[t].z, &slices[t].rng, slices[t].values, slices[t].n,
                        slices[t].stddev);
}

void p4_ziggurat_add_parallel(const p4_ziggurat *z, p4_rng *rng, float *values, size_t n,
                              double stddev)
{
    if (n < P4_ZIGGURAT_PARALLEL_MIN) {
        p4_ziggurat_add(z, rng, values, n, stddev);
        return;
    }
    /* Two slices, each from a generator keyed with 32 fresh bytes of rng:
     * the result depends only on rng's state, not on the machine. */
    noise_slice half[2];
    size_t first = n / 2;
    for (int t = 0; t < 2; t++) {
        unsigned char key[32];
        p4_rng_bytes(rng, key, sizeof key);
        p4_rng_init_key(&half[t].rng, key);
        sodium_memzero(key, sizeof key);
        half[t].z = z;
        half[t].stddev = stddev;
        half[t].values = values + (t ? first : 0);
        half[t].n = t ? n - first : first;
    }
    /* On p4's compute threads (common/workers.h): a thread started per
     * call cost 30-50 us, a tenth of an MLP DP step's noise.  With one
     * thread the slices are filled in turn: the same result. */
    p4_for_examples(2, p4_workers_for(2), fill_slices, half);
    p4_rng_wipe(&half[0].rng);
    p4_rng_wipe(&half[1].rng);
}

int p4_noise_layout_parse(const char *name, p4_noise_layout *out)
{
    if (name == NULL || out == NULL)
        return P4_EINVAL;
    if (strcmp(name, "serial") == 0)
        *out = P4_NOISE_SERIAL;
    else if (strcmp(name, "chunked") == 0)
        *out = P4_NOISE_CHUNKED;
    else
        return P4_EINVAL;
    return P4_OK;
}

void p4_ziggurat_add_layout(const p4_ziggurat *z, p4_rng *rng, p4_noise_layout layout,
                            float *values, size_t n, double stddev)
{
    if (layout == P4_NOISE_CHUNKED)
        p4_ziggurat_add_chunked(z, rng, values, n, stddev);
    else
        p4_ziggurat_add_parallel(z, rng, values, n, stddev);
}

int p4_ziggurat_chunk_rng(p4_rng *out, const unsigned char call_key[32], uint64_t chunk)
{
    /* The nonce is the chunk's index itself: injective, and ChaCha20 never
     * feeds two chunks the same (key, counter, nonce) block input. */
    return p4_rng_init_key_nonce(out, call_key, chunk);
}

/* One call's chunks.  Threads claim chunks from a shared counter rather
 * than taking fixed shares: a thread the OS runs late (a loaded machine)
 * then leaves its chunks to the others instead of holding up the call.
 * Who draws a chunk does not change it. */
typedef struct {
    const p4_ziggurat *z;
    unsigned char key[32];
    float *values;
    size_t n;
    uint64_t chunks;
    atomic_uint_fast64_t next;
    double stddev;
} noise_chunks;

static void fill_chunks(void *ctx, int first, int last, int worker)
{
    (void)first;
    (void)last;
    (void)worker;
    noise_chunks *c = ctx;
    p4_rng rng;
    for (;;) {
        uint64_t j = atomic_fetch_add(&c->next, 1);
        if (j >= c->chunks)
            break;
        size_t start = (size_t)j * P4_NOISE_CHUNK;
        size_t m = c->n - start < P4_NOISE_CHUNK ? c->n - start : P4_NOISE_CHUNK;
        p4_ziggurat_chunk_rng(&rng, c->key, j);
        p4_ziggurat_add(c->z, &rng, c->values + start, m, c->stddev);
    }
    p4_rng_wipe(&rng);
}

void p4_ziggurat_add_chunked(const p4_ziggurat *z, p4_rng *rng, float *values, size_t n,
                             double stddev)
{
    if (n == 0)
        return;
    noise_chunks c = { .z = z, .values = values, .n = n, .stddev = stddev };
    p4_rng_bytes(rng, c.key, sizeof c.key);
    c.chunks = ((uint64_t)n + P4_NOISE_CHUNK - 1) / P4_NOISE_CHUNK;
    atomic_init(&c.next, 0);
    int workers = p4_workers_for(c.chunks < P4_MAX_WORKERS ? (int)c.chunks : P4_MAX_WORKERS);
    p4_for_examples(workers, workers, fill_chunks, &c);
    sodium_memzero(c.key, sizeof c.key);
}
