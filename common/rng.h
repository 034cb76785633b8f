/* rng.h: p4's one random number generator, a ChaCha20 keystream (libsodium, and
 * OpenSSL for long reads: the same stream, faster; see rng.c).
 *
 * Everything random in p4 (data partitions, weight initialisation, Poisson
 * subsampling, DP noise, peer sampling) draws from a p4_rng.  The generator
 * is a cryptographically secure stream cipher keyed with 256 bits:
 *   - p4_rng_init_secure() keys it from the operating system (libsodium's
 *     randombytes_buf), which is what DP noise uses by default: noise an
 *     attacker can predict protects nothing.
 *   - p4_rng_init_seeded() derives the key from a 64-bit seed and a purpose
 *     string with BLAKE2b, so seeded research runs are reproducible and the
 *     streams for different purposes are independent.  A seeded stream is
 *     only as secret as its seed.
 * A p4_rng is not shared between threads: each owner holds its own. */
#ifndef P4_COMMON_RNG_H
#define P4_COMMON_RNG_H

#include <stddef.h>
#include <stdint.h>

#define P4_RNG_BUFFER_BYTES 1024

typedef struct p4_rng {
    unsigned char key[32];
    uint64_t next_block;               /* ChaCha20 block counter */
    uint64_t nonce;                    /* ChaCha20's 64-bit nonce; 0 but for noise chunks */
    unsigned char buffer[P4_RNG_BUFFER_BYTES];
    size_t used;                       /* bytes of buffer already handed out */
    int has_spare_gaussian;            /* Box-Muller makes two at a time */
    double spare_gaussian;
} p4_rng;

/* Keys rng from the OS CSPRNG. Returns P4_OK or P4_ECRYPTO. */
int p4_rng_init_secure(p4_rng *rng);
/* Keys rng from (seed, purpose). Returns P4_OK or P4_EINVAL. */
int p4_rng_init_seeded(p4_rng *rng, uint64_t seed, const char *purpose);
/* Wipes the key. */
void p4_rng_wipe(p4_rng *rng);

/* A generator's whole state as bytes (key, block counter, buffered stream,
 * spare Gaussian), for a checkpoint that continues a *seeded* stream after a
 * restart.  Never save an OS-keyed generator: its key is the secret. */
#define P4_RNG_STATE_BYTES (32 + 8 + P4_RNG_BUFFER_BYTES + 8 + 1 + 8)
void p4_rng_save(const p4_rng *rng, unsigned char out[P4_RNG_STATE_BYTES]);
/* The inverse; P4_EINVAL when n is not P4_RNG_STATE_BYTES or the bytes do
 * not describe a state (buffer position past its end, bad flag). */
int p4_rng_restore(p4_rng *rng, const unsigned char *in, size_t n);
/* Keys a generator with 32 bytes (e.g. drawn from another p4_rng). */
int p4_rng_init_key(p4_rng *rng, const unsigned char key[32]);
/* The same with a nonce: the stream of ChaCha20 blocks (key, counter 0, 1,
 * ..., nonce).  Streams with one key and different nonces never share a
 * block input (the DP noise's chunks, common/ziggurat.h).  Such a generator
 * is not saved: p4_rng_save keeps no nonce and p4_rng_restore sets it to 0. */
int p4_rng_init_key_nonce(p4_rng *rng, const unsigned char key[32], uint64_t nonce);

void p4_rng_bytes(p4_rng *rng, void *out, size_t n);
uint64_t p4_rng_u64(p4_rng *rng);
/* Uniform integer in [0, n), without modulo bias; n > 0. */
uint64_t p4_rng_below(p4_rng *rng, uint64_t n);
/* Uniform double in the open interval (0, 1), 53 random bits. */
double p4_rng_uniform(p4_rng *rng);
/* Standard normal N(0, 1); see rng.c for the method. */
double p4_rng_gaussian(p4_rng *rng);
/* Gamma(shape, 1) for shape > 0 (Marsaglia-Tsang); used for Dirichlet. */
double p4_rng_gamma(p4_rng *rng, double shape);
/* Bernoulli(p): 1 with probability p. */
int p4_rng_bernoulli(p4_rng *rng, double p);
/* Fisher-Yates shuffle of n ints. */
void p4_rng_shuffle_int(p4_rng *rng, int *items, size_t n);

#endif
