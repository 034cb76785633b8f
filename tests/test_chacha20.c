/* test_chacha20.c: the freestanding ChaCha20 (common/chacha20.h) against
 * RFC 8439's test vectors, its block function one block at a time, and
 * libsodium's IETF ChaCha20, and the polar
 * Gaussian sampler on it (common/fs_gaussian.h) statistically. */
#include "support/test_support.h"

#include <math.h>
#include <sodium.h>
#include <string.h>

#include "common/chacha20.h"
#include "common/fs_gaussian.h"

static void fill_counting(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) p[i] = (uint8_t)i;
}

/* RFC 8439 section 2.3.2. */
static void block_matches_rfc_2_3_2(void **state)
{
    (void)state;
    uint8_t key[32], out[64];
    const uint8_t nonce[12] = { 0, 0, 0, 0x09, 0, 0, 0, 0x4a, 0, 0, 0, 0 };
    const uint8_t want[64] = {
        0x10, 0xf1, 0xe7, 0xe4, 0xd1, 0x3b, 0x59, 0x15, 0x50, 0x0f, 0xdd, 0x1f, 0xa3, 0x20, 0x71, 0xc4,
        0xc7, 0xd1, 0xf4, 0xc7, 0x33, 0xc0, 0x68, 0x03, 0x04, 0x22, 0xaa, 0x9a, 0xc3, 0xd4, 0x6c, 0x4e,
        0xd2, 0x82, 0x64, 0x46, 0x07, 0x9f, 0xaa, 0x09, 0x14, 0xc2, 0xd7, 0x05, 0xd9, 0x8b, 0x02, 0xa2,
        0xb5, 0x12, 0x9c, 0xd1, 0xde, 0x16, 0x4e, 0xb9, 0xcb, 0xd0, 0x83, 0xe8, 0xa2, 0x50, 0x3c, 0x4e,
    };
    fill_counting(key, sizeof key);
    p4_chacha20_block(key, 1, nonce, out);
    assert_memory_equal(out, want, 64);
}

/* RFC 8439 appendix A.1, test vector 1: all-zero key and nonce, block 0. */
static void block_matches_rfc_a_1(void **state)
{
    (void)state;
    const uint8_t key[32] = { 0 }, nonce[12] = { 0 };
    const uint8_t want[16] = { 0x76, 0xb8, 0xe0, 0xad, 0xa0, 0xf1, 0x3d, 0x90,
                               0x40, 0x5d, 0x6a, 0xe5, 0x53, 0x86, 0xbd, 0x28 };
    uint8_t out[64];
    p4_chacha20_block(key, 0, nonce, out);
    assert_memory_equal(out, want, 16);
}

/* RFC 8439 section 2.4.2: the keystream from block 1 encrypts the sunscreen text. */
static void keystream_matches_rfc_2_4_2(void **state)
{
    (void)state;
    uint8_t key[32];
    const uint8_t nonce[12] = { 0, 0, 0, 0, 0, 0, 0, 0x4a, 0, 0, 0, 0 };
    const char *text = "Ladies and Gentlemen of the class of '99: If I could offer you only one "
                       "tip for the future, sunscreen would be it.";
    const uint8_t want[16] = { 0x6e, 0x2e, 0x35, 0x9a, 0x25, 0x68, 0xf9, 0x80,
                               0x41, 0xba, 0x07, 0x28, 0xdd, 0x0d, 0x69, 0x81 };
    fill_counting(key, sizeof key);
    p4_chacha20 s;
    p4_chacha20_init(&s, key, nonce, 1);
    uint8_t ks[114];
    assert_int_equal(strlen(text), sizeof ks);
    p4_chacha20_keystream(&s, ks, sizeof ks);
    for (size_t i = 0; i < 16; i++) ks[i] ^= (uint8_t)text[i];
    assert_memory_equal(ks, want, 16);
    assert_int_equal(p4_chacha20_blocks(&s), 2);
}

/* Long keystreams, in odd-sized pieces, against libsodium's IETF ChaCha20. */
static void keystream_matches_libsodium(void **state)
{
    (void)state;
    assert_true(sodium_init() >= 0);
    for (int trial = 0; trial < 20; trial++) {
        uint8_t key[32], nonce[12], mine[4099], theirs[4099];
        randombytes_buf(key, sizeof key);
        randombytes_buf(nonce, sizeof nonce);
        uint32_t counter = trial == 0 ? 0 : randombytes_uniform(1000);
        p4_chacha20 s;
        p4_chacha20_init(&s, key, nonce, counter);
        for (size_t at = 0, piece = 1; at < sizeof mine; at += piece, piece = piece * 3 % 97 + 1)
            p4_chacha20_keystream(&s, mine + at, piece < sizeof mine - at ? piece : sizeof mine - at);
        memset(theirs, 0, sizeof theirs);
        crypto_stream_chacha20_ietf_xor_ic(theirs, theirs, sizeof theirs, nonce, counter, key);
        assert_memory_equal(mine, theirs, sizeof mine);
    }
}

/* The TA's keystream hands out whole blocks straight into the caller's
 * buffer and the rest from blocks computed ahead: the bytes must be RFC
 * 8439's block function's, one block at a time, however the requests
 * split them (empty, 8-byte words as the ziggurat draws, pieces across
 * block edges, many whole blocks at once), also across the 32-bit
 * counter's wrap; and the blocks count is the blocks handed out. */
static void keystream_pieces_match_single_blocks(void **state)
{
    (void)state;
    enum { BLOCKS = 70, BYTES = 64 * BLOCKS };
    static const size_t pieces[] = { 0, 8, 8, 1, 63, 64, 65, 0, 8, 256, 700, 3, 129, 8, 2048 };
    static const uint32_t counters[] = { 0, 7, 0xFFFFFFF0u };
    for (size_t c = 0; c < sizeof counters / sizeof counters[0]; c++) {
        uint8_t key[32], nonce[12], want[BYTES], got[BYTES];
        for (size_t i = 0; i < sizeof key; i++) key[i] = (uint8_t)(31 * i + c);
        for (size_t i = 0; i < sizeof nonce; i++) nonce[i] = (uint8_t)(7 * i + 1);
        for (uint32_t b = 0; b < BLOCKS; b++)
            p4_chacha20_block(key, counters[c] + b, nonce, want + 64 * b); /* wraps */
        for (size_t start = 0; start < sizeof pieces / sizeof pieces[0]; start++) {
            p4_chacha20 s;
            p4_chacha20_init(&s, key, nonce, counters[c]);
            size_t at = 0;
            for (size_t k = start; at < BYTES; k++) {
                size_t piece = pieces[k % (sizeof pieces / sizeof pieces[0])];
                if (piece > BYTES - at)
                    piece = BYTES - at;
                p4_chacha20_keystream(&s, got + at, piece);
                at += piece;
                assert_int_equal(p4_chacha20_blocks(&s), (at + 63) / 64);
            }
            if (memcmp(got, want, BYTES) != 0)
                fail_msg("counter %u, pieces from %zu: the keystream differs from the blocks",
                         counters[c], start);
        }
    }
}

/* The 16 input words of key, counter and nonce words n13..n15. */
static void input_state(uint32_t st[16], const uint8_t key[32], uint32_t counter, uint32_t n13,
                        uint32_t n14, uint32_t n15)
{
    static const uint32_t sigma[4] = { 0x61707865u, 0x3320646eu, 0x79622d32u, 0x6b206574u };
    for (int i = 0; i < 4; i++)
        st[i] = sigma[i];
    for (int i = 0; i < 8; i++)
        st[4 + i] = (uint32_t)key[4 * i] | (uint32_t)key[4 * i + 1] << 8 |
                    (uint32_t)key[4 * i + 2] << 16 | (uint32_t)key[4 * i + 3] << 24;
    st[12] = counter;
    st[13] = n13;
    st[14] = n14;
    st[15] = n15;
}

/* Block counts around the vector width (16, 8, 4 lanes or one at a time),
 * so that whole groups, a partial last group and single blocks all run. */
static const size_t block_counts[] = { 0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 100 };

/* The multi-block keystream with a 64-bit counter is the original ChaCha20
 * (libsodium's crypto_stream_chacha20), also where the counter's low word
 * carries into the high one inside a group of lanes. */
static void stream_blocks_64_match_libsodium(void **state)
{
    (void)state;
    assert_true(sodium_init() >= 0);
    static const uint64_t starts[] = { 0, 1, 0xFFFFFFFFull - 5, 0xFFFFFFFFull, 0x1FFFFFFFFull - 16,
                                       0x123456789ull };
    uint8_t key[32], mine[64 * 100 + 1], theirs[64 * 100];
    for (size_t s = 0; s < sizeof starts / sizeof starts[0]; s++)
        for (size_t c = 0; c < sizeof block_counts / sizeof block_counts[0]; c++) {
            const size_t nb = block_counts[c];
            uint32_t st[16];
            randombytes_buf(key, sizeof key);
            input_state(st, key, (uint32_t)starts[s], (uint32_t)(starts[s] >> 32), 0, 0);
            mine[64 * nb] = 0xA5; /* a guard byte after the last block */
            p4_chacha20_stream_blocks(st, P4_CHACHA20_COUNTER64, mine, nb);
            assert_int_equal(mine[64 * nb], 0xA5);
            static const uint8_t nonce[crypto_stream_chacha20_NONCEBYTES] = { 0 };
            memset(theirs, 0, sizeof theirs);
            crypto_stream_chacha20_xor_ic(theirs, theirs, 64 * nb, nonce, starts[s], key);
            if (nb > 0 && memcmp(mine, theirs, 64 * nb) != 0)
                fail_msg("%zu blocks from counter %#llx differ from libsodium (%d lanes)", nb,
                         (unsigned long long)starts[s], p4_chacha20_lanes());
        }
}

/* With RFC 8439's 32-bit counter, block i is p4_chacha20_block at counter
 * + i modulo 2^32: the nonce words never take a carry. */
static void stream_blocks_32_match_single_blocks(void **state)
{
    (void)state;
    static const uint32_t starts[] = { 0, 1, 0xFFFFFFFFu - 20, 0xFFFFFFFFu };
    uint8_t key[32], nonce[12], mine[64 * 100], one[64];
    fill_counting(key, sizeof key);
    for (size_t i = 0; i < sizeof nonce; i++)
        nonce[i] = (uint8_t)(0xF0 + i);
    for (size_t s = 0; s < sizeof starts / sizeof starts[0]; s++)
        for (size_t c = 0; c < sizeof block_counts / sizeof block_counts[0]; c++) {
            const size_t nb = block_counts[c];
            uint32_t st[16];
            input_state(st, key, starts[s], 0xF3F2F1F0u, 0xF7F6F5F4u, 0xFBFAF9F8u);
            p4_chacha20_stream_blocks(st, P4_CHACHA20_COUNTER32, mine, nb);
            for (size_t b = 0; b < nb; b++) {
                p4_chacha20_block(key, starts[s] + (uint32_t)b, nonce, one);
                if (memcmp(mine + 64 * b, one, 64) != 0)
                    fail_msg("block %zu of %zu from counter %#x differs (%d lanes)", b, nb,
                             starts[s], p4_chacha20_lanes());
            }
        }
}

/* Mean, variance (chi-square), tails and the spare's independence of a
 * million draws; bounds at about 6 standard errors. */
static void gaussian_is_standard_normal(void **state)
{
    (void)state;
    uint8_t key[32];
    fill_counting(key, sizeof key);
    p4_fs_gaussian g;
    p4_fs_gaussian_init(&g, key);
    const int n = 1000000;
    double sum = 0, sum2 = 0, sum4 = 0, lag = 0, prev = 0;
    int beyond2 = 0;
    for (int i = 0; i < n; i++) {
        double x = p4_fs_gaussian_next(&g);
        sum += x;
        sum2 += x * x;
        sum4 += x * x * x * x;
        lag += x * prev;
        prev = x;
        beyond2 += fabs(x) > 2.0;
    }
    assert_true(fabs(sum / n) < 6.0 / sqrt(n));
    assert_true(fabs(sum2 - n) < 6.0 * sqrt(2.0 * n));  /* chi-square with n dof */
    assert_true(fabs(sum4 / n - 3.0) < 6.0 * sqrt(96.0 / n));
    assert_true(fabs(lag / n) < 6.0 / sqrt(n));
    double p2 = 0.0455002638963584; /* P(|Z| > 2) */
    assert_true(fabs(beyond2 - n * p2) < 6.0 * sqrt(n * p2 * (1 - p2)));
}

static void gaussian_add_scales_and_differs_by_key(void **state)
{
    (void)state;
    uint8_t key1[32] = { 1 }, key2[32] = { 2 };
    p4_fs_gaussian a, b, c;
    p4_fs_gaussian_init(&a, key1);
    p4_fs_gaussian_init(&b, key1);
    p4_fs_gaussian_init(&c, key2);
    float va[1000], vb[1000], vc[1000];
    for (int i = 0; i < 1000; i++) va[i] = vb[i] = vc[i] = 5.0f;
    p4_fs_gaussian_add(&a, va, 1000, 3.0);
    p4_fs_gaussian_add(&b, vb, 1000, 3.0);
    p4_fs_gaussian_add(&c, vc, 1000, 3.0);
    assert_memory_equal(va, vb, sizeof va);   /* same key, same noise */
    assert_memory_not_equal(va, vc, sizeof va);
    double s = 0, s2 = 0;
    for (int i = 0; i < 1000; i++) { s += va[i] - 5.0; s2 += (va[i] - 5.0) * (va[i] - 5.0); }
    assert_true(fabs(s / 1000) < 6 * 3.0 / sqrt(1000));
    assert_true(fabs(s2 / 9.0 - 1000) < 6 * sqrt(2000.0));
    p4_fs_gaussian_wipe(&a);
    uint8_t zero[sizeof a.stream.state] = { 0 };
    assert_memory_equal(a.stream.state, zero, sizeof zero);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(block_matches_rfc_2_3_2),
        cmocka_unit_test(block_matches_rfc_a_1),
        cmocka_unit_test(keystream_matches_rfc_2_4_2),
        cmocka_unit_test(keystream_matches_libsodium),
        cmocka_unit_test(stream_blocks_64_match_libsodium),
        cmocka_unit_test(keystream_pieces_match_single_blocks),
        cmocka_unit_test(stream_blocks_32_match_single_blocks),
        cmocka_unit_test(gaussian_is_standard_normal),
        cmocka_unit_test(gaussian_add_scales_and_differs_by_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
