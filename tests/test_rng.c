/* test_rng.c: the ChaCha20 generator: determinism, ranges and moments. */
#include "support/test_support.h"

#include <math.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"

static void test_seeded_streams_repeat_and_differ_by_purpose(void **state)
{
    (void)state;
    p4_rng a, b, c;
    assert_int_equal(p4_rng_init_seeded(&a, 42, "test"), 0);
    assert_int_equal(p4_rng_init_seeded(&b, 42, "test"), 0);
    assert_int_equal(p4_rng_init_seeded(&c, 42, "other"), 0);
    int same_c = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t va = p4_rng_u64(&a), vb = p4_rng_u64(&b), vc = p4_rng_u64(&c);
        assert_true(va == vb);
        same_c += (va == vc);
    }
    assert_true(same_c < 2);
}

/* Long reads come from OpenSSL's ChaCha20, short ones from libsodium's
 * buffer refills: both must be the one original-ChaCha20 stream (64-bit
 * block counter, zero nonce), also where the counter's low word wraps. */
static void test_long_and_short_reads_are_one_chacha20_stream(void **state)
{
    (void)state;
    enum { N = 64 * 1024 + 40 };
    const uint64_t start = 0x1FFFFFFFFull - 5; /* a high word, and a carry into it */
    unsigned char key[32];
    for (int i = 0; i < 32; i++)
        key[i] = (unsigned char)(7 * i + 1);
    unsigned char *bulk = malloc(N), *pieces = malloc(N), *reference = calloc(N, 1);
    assert_non_null(bulk);
    assert_non_null(pieces);
    assert_non_null(reference);

    p4_rng a, b;
    assert_int_equal(p4_rng_init_key(&a, key), 0);
    assert_int_equal(p4_rng_init_key(&b, key), 0);
    a.next_block = b.next_block = start; /* buffer spent: the stream goes on at start */
    a.used = b.used = sizeof a.buffer;
    p4_rng_bytes(&a, bulk, N);
    for (size_t at = 0; at < N; at += 8)
        p4_rng_bytes(&b, pieces + at, N - at < 8 ? N - at : 8);
    static const unsigned char nonce[crypto_stream_chacha20_NONCEBYTES] = {0};
    assert_int_equal(crypto_stream_chacha20_xor_ic(reference, reference, N, nonce, start, key), 0);

    assert_memory_equal(bulk, reference, N);
    assert_memory_equal(pieces, reference, N);
    /* And both generators stand at the same place afterwards. */
    assert_true(p4_rng_u64(&a) == p4_rng_u64(&b));
    free(bulk);
    free(pieces);
    free(reference);
}

static void test_uniform_is_open_interval_with_right_mean(void **state)
{
    (void)state;
    p4_rng r;
    p4_rng_init_seeded(&r, 7, "uniform");
    double sum = 0;
    const int n = 200000;
    for (int i = 0; i < n; i++) {
        double u = p4_rng_uniform(&r);
        assert_true(u > 0.0 && u < 1.0);
        sum += u;
    }
    /* mean 0.5, sd of the mean = sqrt(1/12/n) ~ 6.5e-4; 6 sd bound */
    assert_true(fabs(sum / n - 0.5) < 6 * sqrt(1.0 / 12 / n));
}

static void test_below_is_unbiased_over_small_range(void **state)
{
    (void)state;
    p4_rng r;
    p4_rng_init_seeded(&r, 9, "below");
    int counts[7] = {0};
    const int n = 70000;
    for (int i = 0; i < n; i++) {
        uint64_t v = p4_rng_below(&r, 7);
        assert_true(v < 7);
        counts[v]++;
    }
    /* chi-square with 6 dof; 99.99% quantile is 27.9 */
    double chi = 0;
    for (int k = 0; k < 7; k++)
        chi += (counts[k] - n / 7.0) * (counts[k] - n / 7.0) / (n / 7.0);
    assert_true(chi < 27.9);
}

static void test_gamma_mean_matches_shape(void **state)
{
    (void)state;
    p4_rng r;
    p4_rng_init_seeded(&r, 3, "gamma");
    const double shapes[] = {0.3, 1.0, 4.5};
    for (int s = 0; s < 3; s++) {
        double sum = 0, sumsq = 0;
        const int n = 100000;
        for (int i = 0; i < n; i++) {
            double g = p4_rng_gamma(&r, shapes[s]);
            assert_true(g >= 0.0);
            sum += g;
            sumsq += g * g;
        }
        double mean = sum / n, var = sumsq / n - mean * mean;
        /* Gamma(k,1): mean k, variance k */
        assert_true(fabs(mean - shapes[s]) < 6 * sqrt(shapes[s] / n));
        assert_true(fabs(var - shapes[s]) < 0.05 * shapes[s] + 0.01);
    }
}

static void test_shuffle_is_a_permutation(void **state)
{
    (void)state;
    p4_rng r;
    p4_rng_init_seeded(&r, 5, "shuffle");
    int items[100], seen[100] = {0};
    for (int i = 0; i < 100; i++)
        items[i] = i;
    p4_rng_shuffle_int(&r, items, 100);
    int moved = 0;
    for (int i = 0; i < 100; i++) {
        seen[items[i]]++;
        moved += items[i] != i;
    }
    for (int i = 0; i < 100; i++)
        assert_int_equal(seen[i], 1);
    assert_true(moved > 50);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seeded_streams_repeat_and_differ_by_purpose),
        cmocka_unit_test(test_long_and_short_reads_are_one_chacha20_stream),
        cmocka_unit_test(test_uniform_is_open_interval_with_right_mean),
        cmocka_unit_test(test_below_is_unbiased_over_small_range),
        cmocka_unit_test(test_gamma_mean_matches_shape),
        cmocka_unit_test(test_shuffle_is_a_permutation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
