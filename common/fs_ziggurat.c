/* fs_ziggurat.c: see fs_ziggurat.h.  The method, the order in which random
 * words are taken, and the two-slice split of long tensors follow
 * common/ziggurat.c exactly (and the chunked layout's chunk streams,
 * p4_ziggurat_add_chunked's); only the arithmetic library differs
 * (common/fs_math.h for exp, log and sqrt), which can move a value by an
 * ulp of a double, and flip an accept/reject decision with odds far below
 * one in a trillion. */
#include "common/fs_ziggurat.h"
#include "common/fs_math.h"

#define ZIG_R 3.442619855899
#define ZIG_V 9.91256303526217e-3
#define BLOCK 2048

static void stream_bytes(p4_fs_stream *s, uint8_t *out, size_t n)
{
    p4_chacha20_keystream(&s->chacha, out, n);
    s->position += n;
}

/* s positioned `position` bytes into the stream of (key, nonce): p4_rng's
 * original ChaCha20 (64-bit counter, 64-bit nonce) on RFC 8439's block
 * function, whose 96-bit nonce is the high counter word (0) then the
 * 64-bit nonce.  The two agree until block 2^32 (256 GiB, far past a
 * TA's use and past any chunk's). */
static void stream_seek_nonce(p4_fs_stream *s, const uint8_t key[32], uint64_t nonce,
                              uint64_t position)
{
    uint8_t words[12] = { 0 };
    for (int i = 0; i < 8; i++)
        words[4 + i] = (uint8_t)(nonce >> (8 * i));
    for (int i = 0; i < 32; i++)
        s->key[i] = key[i];
    p4_chacha20_init(&s->chacha, key, words, (uint32_t)(position / 64));
    s->position = position - position % 64;
    uint8_t skip[64];
    stream_bytes(s, skip, (size_t)(position % 64));
}

/* The stream's nonce, as stream_seek_nonce put it in the state (words 14
 * and 15; RFC 8439's nonce words 1 and 2). */
static uint64_t stream_nonce(const p4_fs_stream *s)
{
    return (uint64_t)s->chacha.state[14] | (uint64_t)s->chacha.state[15] << 32;
}

void p4_fs_stream_init(p4_fs_stream *s, const uint8_t key[32])
{
    stream_seek_nonce(s, key, 0, 0);
}

void p4_fs_stream_seek(p4_fs_stream *s, const uint8_t key[32], uint64_t position)
{
    stream_seek_nonce(s, key, 0, position);
}

void p4_fs_stream_wipe(p4_fs_stream *s)
{
    volatile uint8_t *p = (volatile uint8_t *)s;
    for (size_t i = 0; i < sizeof *s; i++)
        p[i] = 0;
}

static uint64_t next_word(p4_fs_stream *s)
{
    uint8_t b[8];
    stream_bytes(s, b, sizeof b);
    uint64_t w = 0;
    for (int i = 0; i < 8; i++)
        w |= (uint64_t)b[i] << (8 * i);
    return w;
}

/* p4_rng_uniform: 52 bits, centred in their cell. */
static double uniform(p4_fs_stream *s)
{
    uint64_t k = next_word(s) >> 12;
    return ((double)k + 0.5) * (1.0 / 4503599627370496.0);
}

static double absolute(double x)
{
    return x < 0 ? -x : x;
}

void p4_fs_ziggurat_init(p4_ziggurat *z)
{
    double f = p4_fs_exp(-0.5 * ZIG_R * ZIG_R);
    z->x[0] = ZIG_V / f;
    z->x[1] = ZIG_R;
    z->x[P4_ZIGGURAT_LAYERS] = 0.0;
    for (int i = 2; i < P4_ZIGGURAT_LAYERS; i++) {
        z->x[i] = p4_fs_sqrt(-2.0 * p4_fs_log(ZIG_V / z->x[i - 1] + f));
        f = p4_fs_exp(-0.5 * z->x[i] * z->x[i]);
    }
    for (int i = 0; i < P4_ZIGGURAT_LAYERS; i++)
        z->ratio[i] = z->x[i + 1] / z->x[i];
    for (int i = 0; i <= P4_ZIGGURAT_LAYERS; i++)
        z->f[i] = p4_fs_exp(-0.5 * z->x[i] * z->x[i]);
}

static double tail(p4_fs_stream *s, int negative)
{
    double x, y;
    do {
        x = p4_fs_log(uniform(s)) / ZIG_R;
        y = p4_fs_log(uniform(s));
    } while (-2.0 * y < x * x);
    return negative ? x - ZIG_R : ZIG_R - x;
}

static int attempt(const p4_ziggurat *z, uint64_t w, p4_fs_stream *s, double *out)
{
    double u = 2.0 * ((double)(w >> 11) * (1.0 / 9007199254740992.0)) - 1.0;
    int i = (int)(w & (P4_ZIGGURAT_LAYERS - 1));
    if (absolute(u) < z->ratio[i]) {
        *out = u * z->x[i];
        return 1;
    }
    if (i == 0) {
        *out = tail(s, u < 0);
        return 1;
    }
    double x = u * z->x[i];
    if (z->f[i + 1] + uniform(s) * (z->f[i] - z->f[i + 1]) < p4_fs_exp(-0.5 * x * x)) {
        *out = x;
        return 1;
    }
    return 0;
}

/* p4_ziggurat_add: a block's words first, then its rejected draws' retries
 * from the stream after the block.  Without room for the block's words (a
 * TA's stack is small), a second stream seeked past the block serves the
 * retries, and takes over at the block's end. */
static void add_serial(const p4_ziggurat *z, p4_fs_stream *s, float *values, size_t n,
                       double stddev)
{
    p4_fs_stream retry;
    for (size_t first = 0; first < n; first += BLOCK) {
        size_t m = n - first < BLOCK ? n - first : BLOCK;
        uint64_t end = s->position + 8 * (uint64_t)m;
        int retried = 0;
        for (size_t k = 0; k < m; k++) {
            uint64_t w = next_word(s);
            double sample;
            if (!(absolute(2.0 * ((double)(w >> 11) * (1.0 / 9007199254740992.0)) - 1.0) <
                  z->ratio[w & (P4_ZIGGURAT_LAYERS - 1)])) {
                if (!retried) {
                    stream_seek_nonce(&retry, s->key, stream_nonce(s), end);
                    retried = 1;
                }
                if (!attempt(z, w, &retry, &sample))
                    while (!attempt(z, next_word(&retry), &retry, &sample)) {}
            } else {
                attempt(z, w, s, &sample); /* the fast path: draws nothing more */
            }
            values[first + k] += (float)(stddev * sample);
        }
        if (retried)
            *s = retry;
    }
    p4_fs_stream_wipe(&retry);
}

void p4_fs_ziggurat_add(const p4_ziggurat *z, p4_fs_stream *s, float *values, size_t n,
                        double stddev)
{
    if (n < P4_ZIGGURAT_PARALLEL_MIN) {
        add_serial(z, s, values, n, stddev);
        return;
    }
    /* Two slices, each from a stream keyed with the next 32 bytes. */
    p4_fs_stream half[2];
    for (int t = 0; t < 2; t++) {
        uint8_t key[32];
        stream_bytes(s, key, sizeof key);
        p4_fs_stream_init(&half[t], key);
        for (int i = 0; i < 32; i++)
            ((volatile uint8_t *)key)[i] = 0;
    }
    size_t first = n / 2;
    add_serial(z, &half[0], values, first, stddev);
    add_serial(z, &half[1], values + first, n - first, stddev);
    p4_fs_stream_wipe(&half[0]);
    p4_fs_stream_wipe(&half[1]);
}

void p4_fs_ziggurat_add_chunked(const p4_ziggurat *z, p4_fs_stream *s, float *values, size_t n,
                                double stddev)
{
    if (n == 0)
        return;
    /* One call key from the stream, then chunk j from (key, nonce j) from
     * its start: p4_ziggurat_chunk_rng's streams, one after the other. */
    uint8_t key[32];
    stream_bytes(s, key, sizeof key);
    p4_fs_stream chunk;
    for (uint64_t j = 0; j * P4_NOISE_CHUNK < n; j++) {
        size_t first = (size_t)j * P4_NOISE_CHUNK;
        size_t m = n - first < P4_NOISE_CHUNK ? n - first : P4_NOISE_CHUNK;
        stream_seek_nonce(&chunk, key, j, 0);
        add_serial(z, &chunk, values + first, m, stddev);
    }
    p4_fs_stream_wipe(&chunk);
    for (int i = 0; i < 32; i++)
        ((volatile uint8_t *)key)[i] = 0;
}

void p4_fs_ziggurat_add_layout(const p4_ziggurat *z, p4_fs_stream *s, p4_noise_layout layout,
                               float *values, size_t n, double stddev)
{
    if (layout == P4_NOISE_CHUNKED)
        p4_fs_ziggurat_add_chunked(z, s, values, n, stddev);
    else
        p4_fs_ziggurat_add(z, s, values, n, stddev);
}
