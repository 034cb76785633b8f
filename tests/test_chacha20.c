/* test_chacha20.c: the freestanding ChaCha20 (common/chacha20.h) against
 * RFC 8439's test vectors and libsodium's IETF ChaCha20, and the polar
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
        cmocka_unit_test(gaussian_is_standard_normal),
        cmocka_unit_test(gaussian_add_scales_and_differs_by_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
