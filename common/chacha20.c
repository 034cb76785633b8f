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

/* The next block's state: the counter moves on by `blocks`, carrying into
 * word 13 only when the counter is 64 bits wide. */
static void advance(uint32_t state[16], p4_chacha20_counter width, uint32_t blocks)
{
    uint32_t before = state[12];
    state[12] += blocks;
    if (width == P4_CHACHA20_COUNTER64 && state[12] < before)
        state[13]++;
}

/* Blocks computed at once, one per vector lane: 16 fill AVX-512's 32
 * registers, 8 AVX2's 16; 4 are one NEON (or SSE) register per state
 * word.  -DP4_CHACHA20_LANES=N overrides (tests build the generic path). */
#ifndef P4_CHACHA20_LANES
#if defined(__AVX512F__)
#define P4_CHACHA20_LANES 16
#elif defined(__AVX2__)
#define P4_CHACHA20_LANES 8
#else
#define P4_CHACHA20_LANES 4
#endif
#endif

#if defined(__GNUC__) && P4_CHACHA20_LANES > 1
typedef uint32_t chacha_lanes __attribute__((vector_size(4 * P4_CHACHA20_LANES)));

/* Interleaving two vectors a, b: the low halves (a0 b0 a1 b1 ...) and the
 * high halves. */
#if P4_CHACHA20_LANES == 16
#define LANES_LOW ((chacha_lanes){ 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23 })
#define LANES_HIGH ((chacha_lanes){ 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31 })
#elif P4_CHACHA20_LANES == 8
#define LANES_LOW ((chacha_lanes){ 0, 8, 1, 9, 2, 10, 3, 11 })
#define LANES_HIGH ((chacha_lanes){ 4, 12, 5, 13, 6, 14, 7, 15 })
#elif P4_CHACHA20_LANES == 4
#define LANES_LOW ((chacha_lanes){ 0, 4, 1, 5 })
#define LANES_HIGH ((chacha_lanes){ 2, 6, 3, 7 })
#else
#error "P4_CHACHA20_LANES must be 1, 4, 8 or 16"
#endif

#define LANES_QUARTER(a, b, c, d)                                    \
    do {                                                             \
        a += b; d ^= a; d = (d << 16) | (d >> 16);                   \
        c += d; b ^= c; b = (b << 12) | (b >> 20);                   \
        a += b; d ^= a; d = (d << 8) | (d >> 24);                    \
        c += d; b ^= c; b = (b << 7) | (b >> 25);                    \
    } while (0)

/* P4_CHACHA20_LANES consecutive blocks of `state`, lane j computing block
 * counter + j, each word the same sum of the same rounds as in
 * block_from_state. */
static void lanes_of_blocks(const uint32_t state[16], p4_chacha20_counter width, uint8_t *out)
{
    chacha_lanes in[16], x[16], lane;
    for (int j = 0; j < P4_CHACHA20_LANES; j++)
        lane[j] = (uint32_t)j;
    for (int i = 0; i < 16; i++)
        in[i] = (chacha_lanes){ 0 } + state[i];
    in[12] += lane;
    if (width == P4_CHACHA20_COUNTER64) /* a lane whose counter wrapped carries */
        in[13] -= (chacha_lanes)(in[12] < ((chacha_lanes){ 0 } + state[12]));
    for (int i = 0; i < 16; i++)
        x[i] = in[i];
    for (int round = 0; round < 10; round++) {
        LANES_QUARTER(x[0], x[4], x[8], x[12]);
        LANES_QUARTER(x[1], x[5], x[9], x[13]);
        LANES_QUARTER(x[2], x[6], x[10], x[14]);
        LANES_QUARTER(x[3], x[7], x[11], x[15]);
        LANES_QUARTER(x[0], x[5], x[10], x[15]);
        LANES_QUARTER(x[1], x[6], x[11], x[12]);
        LANES_QUARTER(x[2], x[7], x[8], x[13]);
        LANES_QUARTER(x[3], x[4], x[9], x[14]);
    }
    for (int i = 0; i < 16; i++)
        x[i] += in[i];
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && !defined(__clang__)
    /* (GCC only: clang has no __builtin_shuffle, and the fuzz builds use
     * clang; they take the plain stores below, which write the same bytes.)
     * Lane j of the 16 word vectors is block j: transpose each square of
     * LANES x LANES words in log2(LANES) rounds of interleaving (each
     * round rotates the bits of a word's (vector, lane) index by one) and
     * store the rows whole. */
    for (int group = 0; group < 16; group += P4_CHACHA20_LANES) {
        chacha_lanes *v = x + group, t[P4_CHACHA20_LANES];
        for (int stage = 1; stage < P4_CHACHA20_LANES; stage *= 2) {
            for (int i = 0; i < P4_CHACHA20_LANES / 2; i++) {
                t[2 * i] = __builtin_shuffle(v[i], v[i + P4_CHACHA20_LANES / 2], LANES_LOW);
                t[2 * i + 1] = __builtin_shuffle(v[i], v[i + P4_CHACHA20_LANES / 2], LANES_HIGH);
            }
            for (int i = 0; i < P4_CHACHA20_LANES; i++)
                v[i] = t[i];
        }
        for (int j = 0; j < P4_CHACHA20_LANES; j++)
            __builtin_memcpy(out + 64 * j + 4 * group, &v[j], sizeof v[j]);
    }
#else
    for (int j = 0; j < P4_CHACHA20_LANES; j++)
        for (int i = 0; i < 16; i++)
            store32(out + 64 * j + 4 * i, x[i][j]);
#endif
}
#endif

int p4_chacha20_lanes(void)
{
#if defined(__GNUC__) && P4_CHACHA20_LANES > 1
    return P4_CHACHA20_LANES;
#else
    return 1;
#endif
}

void p4_chacha20_stream_blocks(const uint32_t input[16], p4_chacha20_counter width,
                               uint8_t *out, size_t nblocks)
{
    uint32_t state[16];
    for (int i = 0; i < 16; i++)
        state[i] = input[i];
#if defined(__GNUC__) && P4_CHACHA20_LANES > 1
    for (; nblocks >= P4_CHACHA20_LANES; nblocks -= P4_CHACHA20_LANES) {
        lanes_of_blocks(state, width, out);
        advance(state, width, P4_CHACHA20_LANES);
        out += 64 * P4_CHACHA20_LANES;
    }
    if (nblocks > 1) { /* a last, partial group: the lanes cost less than the blocks one by one */
        uint8_t group[64 * P4_CHACHA20_LANES];
        lanes_of_blocks(state, width, group);
        __builtin_memcpy(out, group, 64 * nblocks);
        return;
    }
#endif
    for (; nblocks > 0; nblocks--) {
        block_from_state(state, out);
        advance(state, width, 1);
        out += 64;
    }
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
    s->used = s->held = 0;
    s->handed = 0;
}

/* nblocks blocks from the state's counter on into out; the counter moves
 * past them (32 bits, wrapping as RFC 8439's). */
static void next_blocks(p4_chacha20 *s, uint8_t *out, size_t nblocks)
{
    p4_chacha20_stream_blocks(s->state, P4_CHACHA20_COUNTER32, out, nblocks);
    s->state[12] += (uint32_t)nblocks;
}

void p4_chacha20_keystream(p4_chacha20 *s, uint8_t *out, size_t n)
{
    s->handed += n;
    while (n > 0) {
        if (s->used == s->held) {
            if (n >= 64) { /* whole blocks: no copy through the buffer */
                size_t whole = n / 64;
                next_blocks(s, out, whole);
                out += 64 * whole;
                n -= 64 * whole;
                continue;
            }
            next_blocks(s, s->block, P4_CHACHA20_AHEAD);
            s->used = 0;
            s->held = sizeof s->block;
        }
        size_t take = s->held - s->used < n ? s->held - s->used : n;
        __builtin_memcpy(out, s->block + s->used, take);
        s->used += (unsigned)take;
        out += take;
        n -= take;
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
    return (s->handed + 63) / 64;
}

void p4_chacha20_wipe(p4_chacha20 *s)
{
    volatile uint8_t *p = (volatile uint8_t *)s;
    for (size_t i = 0; i < sizeof *s; i++)
        p[i] = 0;
}
