/* test_slice_guard.c: the slice guard that reads the grouping's sampled
 * distances and the slices' fingerprints (cluster/slice_guard.h):
 *   - fingerprints: equal slices agree, -0 reads as +0, one changed bit
 *     changes it;
 *   - over all pairs it flags exactly what the all-pairs guard flags (a
 *     planted exact copy, a planted near-copy, honest slices), for several
 *     ratios;
 *   - with sampled pairs: an exact copy is caught through its fingerprint
 *     even when its pair was not sampled; a near-copy only when its pair was;
 *   - bad arguments are refused. */
#include "support/test_support.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/similarity.h"
#include "cluster/slice_guard.h"
#include "common/rng.h"

#define N 12
#define L 300

/* N random slices; slice 7 = slice 3 exactly, slice 9 = slice 5 + 1e-4. */
static void planted(float s[N][L])
{
    p4_rng rng;
    assert_int_equal(p4_rng_init_seeded(&rng, 11, "slice-guard-test"), P4_OK);
    for (int i = 0; i < N; i++)
        for (int k = 0; k < L; k++)
            s[i][k] = (float)(p4_rng_uniform(&rng) - 0.5);
    memcpy(s[7], s[3], sizeof s[3]);
    for (int k = 0; k < L; k++)
        s[9][k] = s[5][k] + 1e-4f;
}

static void distances(float s[N][L], double *dist)
{
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++)
            assert_int_equal(p4_l1_distance(s[i], s[j], 0, L, L, &dist[i * N + j], NULL), P4_OK);
}

static void fingerprints(float s[N][L], uint64_t *fp)
{
    for (int i = 0; i < N; i++)
        assert_int_equal(p4_slice_fingerprint(s[i], L, &fp[i], NULL), P4_OK);
}

static void fingerprint_reads_values(void **state)
{
    (void)state;
    float a[4] = { 1.5f, 0.0f, -2.0f, 3.25f }, b[4];
    memcpy(b, a, sizeof a);
    uint64_t fa, fb;
    assert_int_equal(p4_slice_fingerprint(a, 4, &fa, NULL), P4_OK);
    b[1] = -0.0f;
    assert_int_equal(p4_slice_fingerprint(b, 4, &fb, NULL), P4_OK);
    assert_true(fa == fb);
    b[3] = nextafterf(b[3], 4.0f);
    assert_int_equal(p4_slice_fingerprint(b, 4, &fb, NULL), P4_OK);
    assert_true(fa != fb);
    assert_int_equal(p4_slice_fingerprint(NULL, 4, &fb, NULL), P4_EINVAL);
}

static void all_pairs_agree_with_the_pairwise_guard(void **state)
{
    (void)state;
    static float s[N][L];
    static double dist[N * N];
    planted(s);
    distances(s, dist);
    uint64_t fp[N];
    fingerprints(s, fp);
    const float *rows[N];
    for (int i = 0; i < N; i++)
        rows[i] = s[i];
    const double ratios[] = { 0, 0.01, 0.5, 0.97, 1 };
    for (size_t r = 0; r < sizeof ratios / sizeof *ratios; r++) {
        unsigned char a[N], b[N];
        int ca = -1, cb = -1;
        assert_int_equal(p4_slice_guard_flag(rows, N, L, ratios[r], a, &ca, NULL), P4_OK);
        assert_int_equal(p4_slice_guard_flag_sampled(dist, NULL, fp, NULL, N, ratios[r], b, &cb, NULL),
                         P4_OK);
        assert_memory_equal(a, b, N);
        assert_int_equal(ca, cb);
    }
    /* ratio 0: the exact copy only; 0.01: the near copy too */
    unsigned char f[N];
    int count;
    assert_int_equal(p4_slice_guard_flag_sampled(dist, NULL, fp, NULL, N, 0, f, &count, NULL), P4_OK);
    assert_int_equal(count, 2);
    assert_true(f[3] && f[7]);
    assert_int_equal(p4_slice_guard_flag_sampled(dist, NULL, fp, NULL, N, 0.01, f, &count, NULL), P4_OK);
    assert_int_equal(count, 4);
    assert_true(f[3] && f[7] && f[5] && f[9]);
}

static void sampled_pairs_still_catch_exact_copies(void **state)
{
    (void)state;
    static float s[N][L];
    static double dist[N * N];
    planted(s);
    distances(s, dist);
    uint64_t fp[N];
    fingerprints(s, fp);
    unsigned char known[N * N], f[N];
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++)
            known[i * N + j] = i != j && (i + j) % 2 == 1; /* 3-7 and 5-9 unsampled */
    int count;
    assert_int_equal(p4_slice_guard_flag_sampled(dist, known, fp, NULL, N, 0.01, f, &count, NULL), P4_OK);
    assert_int_equal(count, 2); /* the copy, through its fingerprint; not the near copy */
    assert_true(f[3] && f[7] && !f[5] && !f[9]);
    assert_int_equal(p4_slice_guard_flag_sampled(dist, known, NULL, NULL, N, 0.01, f, &count, NULL), P4_OK);
    assert_int_equal(count, 0); /* no fingerprints: the sampled pairs only */
    known[5 * N + 9] = known[9 * N + 5] = 1;
    assert_int_equal(p4_slice_guard_flag_sampled(dist, known, fp, NULL, N, 0.01, f, &count, NULL), P4_OK);
    assert_int_equal(count, 4);
    assert_true(f[5] && f[9]);

    assert_int_equal(p4_slice_guard_flag_sampled(NULL, known, fp, NULL, N, 0.01, f, &count, NULL),
                     P4_EINVAL);
    assert_int_equal(p4_slice_guard_flag_sampled(dist, known, fp, NULL, N, 1.5, f, &count, NULL),
                     P4_EINVAL);
    assert_int_equal(p4_slice_guard_flag_sampled(dist, known, fp, NULL, 0, 0.01, f, &count, NULL),
                     P4_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fingerprint_reads_values),
        cmocka_unit_test(all_pairs_agree_with_the_pairwise_guard),
        cmocka_unit_test(sampled_pairs_still_catch_exact_copies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
