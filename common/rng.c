/* rng.c: ChaCha20-keystream generator; see rng.h.
 *
 * Gaussian samples use the Box-Muller transform on two independent uniforms
 * u1, u2 in (0, 1), each made of 53 keystream bits:
 *     z1 = sqrt(-2 ln u1) cos(2 pi u2),  z2 = sqrt(-2 ln u1) sin(2 pi u2).
 * Why this is safe for DP: the uniforms come from a CSPRNG, so they are
 * unpredictable and independent; the open interval keeps ln() finite; and the
 * transform is exact in real arithmetic, so the samples are N(0,1) up to
 * double rounding.  The remaining gap is the known floating-point one
 * (the set of representable outputs is not the real line); we compute in
 * double and round once to float when noise is added, and we say so in the
 * README rather than claim more. */
#include "common/rng.h"
#include "common/chacha20.h"
#include "common/error.h"

#include <math.h>
#include <openssl/evp.h>
#include <sodium.h>
#include <string.h>

/* Long reads skip the buffer and take whole keystream blocks straight from
 * OpenSSL's ChaCha20, which has AVX-512 code and runs about three times as
 * fast as libsodium's here (DP noise draws 8 bytes per coordinate).  Both
 * compute the same cipher on the same state (key, 64-bit block counter,
 * zero nonce), so the stream does not depend on which one made a byte;
 * tests/test_rng.c checks that they agree. */
#define RNG_BULK_MIN_BYTES 4096

static int sodium_ready(void)
{
    /* sodium_init() is idempotent and thread-safe; < 0 means unusable. */
    return sodium_init() >= 0;
}

/* Writes the n bytes (a multiple of 64) of rng's keystream from block
 * next_block on with libsodium, and moves next_block past them. */
static void keystream_sodium(p4_rng *rng, unsigned char *out, size_t n)
{
    unsigned char nonce[crypto_stream_chacha20_NONCEBYTES];
    for (int i = 0; i < 8; i++)
        nonce[i] = (unsigned char)(rng->nonce >> (8 * i));
    memset(out, 0, n);
    crypto_stream_chacha20_xor_ic(out, out, n, nonce, rng->next_block, rng->key);
    rng->next_block += n / 64;
}

static void keystream_vector(p4_rng *rng, unsigned char *out, size_t n);
static int vector_is_fastest(void);

static void rng_refill(p4_rng *rng)
{
    if (vector_is_fastest())
        keystream_vector(rng, rng->buffer, sizeof rng->buffer);
    else
        keystream_sodium(rng, rng->buffer, sizeof rng->buffer);
    rng->used = 0;
}

/* Writes blocks [first_block, first_block + n/64) of rng's keystream to out
 * (n a multiple of 64) with OpenSSL.  OpenSSL's 16-byte ChaCha20 IV is the
 * state's last four words: the 64-bit counter (its carry included) and
 * the 64-bit nonce (zero but for noise chunks), exactly libsodium's
 * original-ChaCha20 layout.
 * Returns 0, or -1 if OpenSSL could not do it (the caller falls back). */
static int keystream_openssl(const unsigned char key[32], uint64_t first_block, uint64_t nonce,
                             unsigned char *out, size_t n)
{
    unsigned char iv[16];
    for (int i = 0; i < 8; i++) {
        iv[i] = (unsigned char)(first_block >> (8 * i));
        iv[8 + i] = (unsigned char)(nonce >> (8 * i));
    }
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL)
        return -1;
    int ok = EVP_EncryptInit_ex(ctx, EVP_chacha20(), NULL, key, iv) == 1;
    memset(out, 0, n);
    for (size_t done = 0; ok && done < n;) {
        size_t chunk = n - done > (size_t)1 << 30 ? (size_t)1 << 30 : n - done;
        int written = 0;
        ok = EVP_EncryptUpdate(ctx, out + done, &written, out + done, (int)chunk) == 1 &&
             (size_t)written == chunk;
        done += chunk;
    }
    EVP_CIPHER_CTX_free(ctx);
    return ok ? 0 : -1;
}

/* Writes the n bytes (a multiple of 64) of rng's keystream from block
 * next_block on with common/chacha20.c's multi-block code (64-bit counter,
 * 64-bit nonce: the same state libsodium and OpenSSL compute). */
static void keystream_vector(p4_rng *rng, unsigned char *out, size_t n)
{
    uint32_t state[16] = { 0x61707865u, 0x3320646eu, 0x79622d32u, 0x6b206574u };
    for (int i = 0; i < 8; i++)
        state[4 + i] = (uint32_t)rng->key[4 * i] | (uint32_t)rng->key[4 * i + 1] << 8 |
                       (uint32_t)rng->key[4 * i + 2] << 16 | (uint32_t)rng->key[4 * i + 3] << 24;
    state[12] = (uint32_t)rng->next_block;
    state[13] = (uint32_t)(rng->next_block >> 32);
    state[14] = (uint32_t)rng->nonce;
    state[15] = (uint32_t)(rng->nonce >> 32);
    p4_chacha20_stream_blocks(state, P4_CHACHA20_COUNTER64, out, n / 64);
    rng->next_block += n / 64;
}

/* The vector code is the fastest where it was built for AVX-512 (16 blocks
 * at once: 1.1x OpenSSL's AVX-512 code on 16 KiB reads, 2.3x libsodium's
 * on the 1 KiB refills, measured A/B on this machine); elsewhere OpenSSL
 * (which picks its code for the CPU at run time) takes long reads and
 * libsodium the buffer. */
static int vector_is_fastest(void)
{
    return p4_chacha20_lanes() >= 16;
}

/* The same as keystream_sodium, faster: the vector code, else OpenSSL, or
 * libsodium if that fails. */
static void keystream_blocks(p4_rng *rng, unsigned char *out, size_t n)
{
    if (vector_is_fastest())
        keystream_vector(rng, out, n);
    else if (keystream_openssl(rng->key, rng->next_block, rng->nonce, out, n) == 0)
        rng->next_block += n / 64;
    else
        keystream_sodium(rng, out, n);
}

static void rng_start(p4_rng *rng)
{
    rng->next_block = 0;
    rng->has_spare_gaussian = 0;
    rng->spare_gaussian = 0.0;
    rng_refill(rng);
}

int p4_rng_init_secure(p4_rng *rng)
{
    if (rng == NULL)
        return P4_EINVAL;
    if (!sodium_ready())
        return P4_ECRYPTO;
    randombytes_buf(rng->key, sizeof rng->key);
    rng->nonce = 0;
    rng_start(rng);
    return P4_OK;
}

int p4_rng_init_seeded(p4_rng *rng, uint64_t seed, const char *purpose)
{
    unsigned char material[8];
    crypto_generichash_state hash;

    if (rng == NULL || purpose == NULL)
        return P4_EINVAL;
    if (!sodium_ready())
        return P4_ECRYPTO;
    for (int i = 0; i < 8; i++)
        material[i] = (unsigned char)(seed >> (8 * i));
    crypto_generichash_init(&hash, NULL, 0, sizeof rng->key);
    crypto_generichash_update(&hash, (const unsigned char *)"p4-rng-v1", 9);
    crypto_generichash_update(&hash, material, sizeof material);
    crypto_generichash_update(&hash, (const unsigned char *)purpose, strlen(purpose));
    crypto_generichash_final(&hash, rng->key, sizeof rng->key);
    rng->nonce = 0;
    rng_start(rng);
    return P4_OK;
}

int p4_rng_init_key(p4_rng *rng, const unsigned char key[32])
{
    return p4_rng_init_key_nonce(rng, key, 0);
}

int p4_rng_init_key_nonce(p4_rng *rng, const unsigned char key[32], uint64_t nonce)
{
    if (rng == NULL || key == NULL)
        return P4_EINVAL;
    memcpy(rng->key, key, sizeof rng->key);
    rng->nonce = nonce;
    rng_start(rng);
    return P4_OK;
}

void p4_rng_wipe(p4_rng *rng)
{
    if (rng != NULL)
        sodium_memzero(rng, sizeof *rng);
}

void p4_rng_bytes(p4_rng *rng, void *out, size_t n)
{
    unsigned char *dst = out;
    while (n > 0) {
        if (rng->used == sizeof rng->buffer && n >= RNG_BULK_MIN_BYTES) {
            /* The buffer is spent, so the stream goes on at next_block. */
            size_t whole = n - n % 64;
            keystream_blocks(rng, dst, whole);
            dst += whole;
            n -= whole;
            continue;
        }
        if (rng->used == sizeof rng->buffer)
            rng_refill(rng);
        size_t take = sizeof rng->buffer - rng->used;
        if (take > n)
            take = n;
        memcpy(dst, rng->buffer + rng->used, take);
        rng->used += take;
        dst += take;
        n -= take;
    }
}

uint64_t p4_rng_u64(p4_rng *rng)
{
    unsigned char b[8];
    const unsigned char *src = b;
    if (rng->used + sizeof b <= sizeof rng->buffer) { /* the common case: no refill */
        src = rng->buffer + rng->used;
        rng->used += sizeof b;
    } else {
        p4_rng_bytes(rng, b, sizeof b);
    }
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)src[i] << (8 * i);
    return v;
}

uint64_t p4_rng_below(p4_rng *rng, uint64_t n)
{
    if (n <= 1)
        return 0;
    /* Reject the top partial copy of [0, n) so every value is equally likely. */
    uint64_t limit = UINT64_MAX - (UINT64_MAX % n);
    uint64_t v;
    do {
        v = p4_rng_u64(rng);
    } while (v >= limit);
    return v % n;
}

double p4_rng_uniform(p4_rng *rng)
{
    /* 52 bits k in [0, 2^52): k + 0.5 is exact in a double, so
     * (k + 0.5) / 2^52 lies strictly inside (0, 1).  (With 53 bits, k + 0.5
     * rounds up to 2^53 for the largest k and the result would be 1.0.) */
    uint64_t k = p4_rng_u64(rng) >> 12;
    return ((double)k + 0.5) * (1.0 / 4503599627370496.0);
}

double p4_rng_gaussian(p4_rng *rng)
{
    if (rng->has_spare_gaussian) {
        rng->has_spare_gaussian = 0;
        return rng->spare_gaussian;
    }
    double u1 = p4_rng_uniform(rng);
    double u2 = p4_rng_uniform(rng);
    double radius = sqrt(-2.0 * log(u1));
    double angle = 2.0 * M_PI * u2;
    rng->spare_gaussian = radius * sin(angle);
    rng->has_spare_gaussian = 1;
    return radius * cos(angle);
}

double p4_rng_gamma(p4_rng *rng, double shape)
{
    if (!(shape > 0.0))
        return NAN;
    if (shape < 1.0) {
        /* Gamma(a) = Gamma(a + 1) * U^(1/a). */
        double u = p4_rng_uniform(rng);
        return p4_rng_gamma(rng, shape + 1.0) * pow(u, 1.0 / shape);
    }
    double d = shape - 1.0 / 3.0;
    double c = 1.0 / sqrt(9.0 * d);
    for (;;) {
        double x = p4_rng_gaussian(rng);
        double v = 1.0 + c * x;
        if (v <= 0.0)
            continue;
        v = v * v * v;
        double u = p4_rng_uniform(rng);
        if (log(u) < 0.5 * x * x + d - d * v + d * log(v))
            return d * v;
    }
}

int p4_rng_bernoulli(p4_rng *rng, double p)
{
    return p4_rng_uniform(rng) < p;
}

void p4_rng_shuffle_int(p4_rng *rng, int *items, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)p4_rng_below(rng, i);
        int t = items[i - 1];
        items[i - 1] = items[j];
        items[j] = t;
    }
}

/* ---- saved state: little-endian, field by field ------------------------------ */

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

void p4_rng_save(const p4_rng *rng, unsigned char out[P4_RNG_STATE_BYTES])
{
    if (rng == NULL || out == NULL)
        return;
    unsigned char *p = out;
    memcpy(p, rng->key, 32);
    p += 32;
    put_u64(p, rng->next_block);
    p += 8;
    memcpy(p, rng->buffer, P4_RNG_BUFFER_BYTES);
    p += P4_RNG_BUFFER_BYTES;
    put_u64(p, (uint64_t)rng->used);
    p += 8;
    *p++ = (unsigned char)(rng->has_spare_gaussian != 0);
    uint64_t bits;
    memcpy(&bits, &rng->spare_gaussian, sizeof bits);
    put_u64(p, bits);
}

int p4_rng_restore(p4_rng *rng, const unsigned char *in, size_t n)
{
    if (rng == NULL || in == NULL || n != P4_RNG_STATE_BYTES)
        return P4_EINVAL;
    const unsigned char *p = in;
    uint64_t used = get_u64(p + 32 + 8 + P4_RNG_BUFFER_BYTES);
    unsigned char spare = p[32 + 8 + P4_RNG_BUFFER_BYTES + 8];
    uint64_t bits = get_u64(p + 32 + 8 + P4_RNG_BUFFER_BYTES + 8 + 1);
    double gaussian;
    memcpy(&gaussian, &bits, sizeof gaussian);
    if (used > P4_RNG_BUFFER_BYTES || spare > 1 || !isfinite(gaussian))
        return P4_EINVAL;
    memcpy(rng->key, p, 32);
    rng->next_block = get_u64(p + 32);
    rng->nonce = 0;
    memcpy(rng->buffer, p + 40, P4_RNG_BUFFER_BYTES);
    rng->used = (size_t)used;
    rng->has_spare_gaussian = spare;
    rng->spare_gaussian = spare ? gaussian : 0.0;
    return P4_OK;
}
