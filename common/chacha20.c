/* chacha20.c: RFC 8439's ChaCha20, written from the RFC's pseudocode.
 * Freestanding: <stdint.h> and <stddef.h> only. */
#include "common/chacha20.h"

static uint32_t rotl(uint32_t x, int n)
{
    return (x << n) | (x >> (32 - n));
}

static uint32_t load32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void store32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

#define QUARTER(a, b, c, d)                 \
    do {                                    \
        a += b; d ^= a; d = rotl(d, 16);    \
        c += d; b ^= c; b = rotl(b, 12);    \
        a += b; d ^= a; d = rotl(d, 8);     \
        c += d; b ^= c; b = rotl(b, 7);     \
    } while (0)

static void setup(uint32_t state[16], const uint8_t key[32], uint32_t counter,
                  const uint8_t nonce[12])
{
    state[0] = 0x61707865u; /* "expand 32-byte k" */
    state[1] = 0x3320646eu;
    state[2] = 0x79622d32u;
    state[3] = 0x6b206574u;
    for (int i = 0; i < 8; i++)
        state[4 + i] = load32(key + 4 * i);
    state[12] = counter;
    for (int i = 0; i < 3; i++)
        state[13 + i] = load32(nonce + 4 * i);
}

static void block_from_state(const uint32_t state[16], uint8_t out[64])
{
    uint32_t x[16];
    for (int i = 0; i < 16; i++)
        x[i] = state[i];
    for (int round = 0; round < 10; round++) {
        QUARTER(x[0], x[4], x[8], x[12]);   /* columns   */
        QUARTER(x[1], x[5], x[9], x[13]);
        QUARTER(x[2], x[6], x[10], x[14]);
        QUARTER(x[3], x[7], x[11], x[15]);
        QUARTER(x[0], x[5], x[10], x[15]);  /* diagonals */
        QUARTER(x[1], x[6], x[11], x[12]);
        QUARTER(x[2], x[7], x[8], x[13]);
        QUARTER(x[3], x[4], x[9], x[14]);
    }
    for (int i = 0; i < 16; i++)
        store32(out + 4 * i, x[i] + state[i]);
}

void p4_chacha20_block(const uint8_t key[32], uint32_t counter, const uint8_t nonce[12],
                       uint8_t out[64])
{
    uint32_t state[16];
    setup(state, key, counter, nonce);
    block_from_state(state, out);
}

void p4_chacha20_init(p4_chacha20 *s, const uint8_t key[32], const uint8_t nonce[12],
                      uint32_t counter)
{
    setup(s->state, key, counter, nonce);
    s->used = 64;
    s->blocks = 0;
}

void p4_chacha20_keystream(p4_chacha20 *s, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s->used == 64) {
            block_from_state(s->state, s->block);
            s->state[12]++;
            s->blocks++;
            s->used = 0;
        }
        out[i] = s->block[s->used++];
    }
}

uint64_t p4_chacha20_u64(p4_chacha20 *s)
{
    uint8_t b[8];
    p4_chacha20_keystream(s, b, sizeof b);
    return (uint64_t)load32(b) | (uint64_t)load32(b + 4) << 32;
}

uint64_t p4_chacha20_blocks(const p4_chacha20 *s)
{
    return s->blocks;
}

void p4_chacha20_wipe(p4_chacha20 *s)
{
    volatile uint8_t *p = (volatile uint8_t *)s;
    for (size_t i = 0; i < sizeof *s; i++)
        p[i] = 0;
}
