/* chacha20.h: the ChaCha20 block function and keystream of RFC 8439
 * (32-bit block counter, 96-bit nonce), freestanding, for code that cannot
 * use libsodium: the OP-TEE TA's noise generator.  Normal-world code draws
 * its randomness from common/rng.h. */
#ifndef P4_COMMON_CHACHA20_H
#define P4_COMMON_CHACHA20_H

#include <stddef.h>
#include <stdint.h>

/* Keystream blocks p4_chacha20_keystream computes at a time (a small
 * multiple of the vector lanes: the stream lives on a TA's small stack). */
#define P4_CHACHA20_AHEAD 4

typedef struct p4_chacha20 {
    uint32_t state[16];       /* constants, key, the next block's counter, nonce */
    uint8_t block[64 * P4_CHACHA20_AHEAD]; /* keystream computed ahead           */
    unsigned used, held;      /* bytes of block handed out, bytes computed      */
    uint64_t handed;          /* bytes handed out since init                    */
} p4_chacha20;

/* The block counter's width: RFC 8439's 32 bits (word 12; word 13 is
 * nonce), or the original ChaCha20's 64 bits (words 12-13, the carry
 * included; libsodium's crypto_stream_chacha20 and OpenSSL's EVP_chacha20). */
typedef enum { P4_CHACHA20_COUNTER32, P4_CHACHA20_COUNTER64 } p4_chacha20_counter;

/* Blocks number counter, counter + 1, ... (nblocks of them) of the state
 * `input` (constants, key, counter, nonce as 16 words) written to out,
 * 64 bytes each: the same bytes as one block at a time, computed several
 * blocks at once in vector registers (GCC vector extensions: AVX-512 or
 * AVX2 on x86, NEON on aarch64, plain scalar code elsewhere). */
void p4_chacha20_stream_blocks(const uint32_t input[16], p4_chacha20_counter width,
                               uint8_t *out, size_t nblocks);

/* Blocks p4_chacha20_stream_blocks computes at once (1: one at a time). */
int p4_chacha20_lanes(void);

/* RFC 8439 section 2.3: one 64-byte keystream block. */
void p4_chacha20_block(const uint8_t key[32], uint32_t counter, const uint8_t nonce[12],
                       uint8_t out[64]);

/* A keystream starting at block `counter`.  p4_chacha20_keystream hands
 * out the same bytes however n splits them: whole blocks straight into
 * out, the rest from blocks computed P4_CHACHA20_AHEAD at a time. */
void p4_chacha20_init(p4_chacha20 *s, const uint8_t key[32], const uint8_t nonce[12],
                      uint32_t counter);
void p4_chacha20_keystream(p4_chacha20 *s, uint8_t *out, size_t n);
uint64_t p4_chacha20_u64(p4_chacha20 *s);
/* Blocks handed out (wholly or partly) since init: a caller rekeys long
 * before 2^32 (the 32-bit counter would wrap and repeat the stream; at most
 * P4_CHACHA20_AHEAD - 1 more blocks have been computed ahead). */
uint64_t p4_chacha20_blocks(const p4_chacha20 *s);
void p4_chacha20_wipe(p4_chacha20 *s);

#endif
