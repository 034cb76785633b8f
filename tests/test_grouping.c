/* test_grouping.c: peer sampling, P4's grouping steps on constructed
 * distances, and the adjusted Rand index. */
#include "support/test_support.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/grouping.h"
#include "cluster/slice_guard.h"

#define MAXN 64

/* dist[i][j] = L1 distance between 2-D points. */
static void points_to_dist(const double (*p)[2], int n, double *dist)
{
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            dist[i * n + j] = fabs(p[i][0] - p[j][0]) + fabs(p[i][1] - p[j][1]);
}

static void line_to_dist(const double *x, int n, double *dist)
{
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            dist[i * n + j] = fabs(x[i] - x[j]);
}

static int group(const double *dist, const unsigned char *known, int n, int v, uint64_t seed,
                 int *group_of)
{
    p4_rng rng;
    p4_grouping_params params = {.group_size = v};
    int ngroups = -1;
    assert_int_equal(p4_rng_init_seeded(&rng, seed, "grouping-test"), P4_OK);
    p4_error err;
    p4_error_clear(&err);
    int rc = p4_group_clients(dist, known, n, &params, &rng, group_of, &ngroups, &err);
    if (rc != P4_OK)
        fail_msg("p4_group_clients: %s", err.message);
    return ngroups;
}

static void assert_groups(const int *group_of, const int *expected, int n)
{
    for (int i = 0; i < n; i++)
        if (group_of[i] != expected[i])
            fail_msg("client %d in group %d, expected %d", i, group_of[i], expected[i]);
}

/* Invariants every grouping must satisfy: ids 0..g-1 numbered by smallest
 * member, every group of size 2..max(V, 3) (3 only from an odd one out),
 * and no two groups small enough to merge left unmerged. */
static void assert_valid_grouping(const int *group_of, int n, int g, int v)
{
    int size[MAXN] = {0}, next = 0;
    for (int i = 0; i < n; i++) {
        assert_true(group_of[i] >= 0 && group_of[i] < g);
        assert_true(group_of[i] <= next);
        if (group_of[i] == next)
            next++;
        size[group_of[i]]++;
    }
    assert_int_equal(next, g);
    int largest = v > 3 ? v : 3;
    for (int a = 0; a < g; a++) {
        if (n >= 2)
            assert_true(size[a] >= 2);
        assert_true(size[a] <= largest);
        for (int b = a + 1; b < g; b++)
            assert_true(size[a] + size[b] > v);
    }
}

static void test_mutual_nearest_pairs(void **state)
{
    (void)state;
    const double x[6] = {20, 21, 0, 10, 1, 11};
    double dist[36];
    int g_of[6];
    line_to_dist(x, 6, dist);
    assert_int_equal(group(dist, NULL, 6, 2, 1, g_of), 3);
    const int expected[6] = {0, 0, 1, 2, 1, 2};
    assert_groups(g_of, expected, 6);
}

static void test_chain_pairs_closest_first_and_odd_one_joins_nearest(void **state)
{
    (void)state;
    /* nearest: 0->1, 1->2, 2->3, 3<->4; only {3,4} is mutual.  Of 0, 1, 2
     * the closest pair {1,2} goes first (pairing in index order would take
     * {0,1}); 0 is left over and joins {1,2} (mean 5.5) rather than {3,4}
     * (mean 9.5). */
    const double x[5] = {0, 4, 7, 9, 10};
    double dist[25];
    int g_of[5];
    line_to_dist(x, 5, dist);
    assert_int_equal(group(dist, NULL, 5, 2, 1, g_of), 2);
    const int expected[5] = {0, 0, 0, 1, 1};
    assert_groups(g_of, expected, 5);
    /* {0,1,2} + {3,4} exceeds V = 4: no merge */
    assert_int_equal(group(dist, NULL, 5, 4, 1, g_of), 2);
    assert_groups(g_of, expected, 5);
}

static void test_clients_knowing_nobody_pair_at_random(void **state)
{
    (void)state;
    const double x[5] = {0, 1, 2, 3, 4};
    double dist[25];
    unsigned char known[25] = {0};
    int g_of[5];
    line_to_dist(x, 5, dist);
    known[0 * 5 + 1] = known[1 * 5 + 0] = 1;
    /* 2, 3, 4 know nobody: one random pair and a lone one joining a random
     * group; over seeds, every pairing of them shows up */
    int seen_with_2[5] = {0};
    for (uint64_t seed = 0; seed < 64; seed++) {
        int g = group(dist, known, 5, 2, seed, g_of);
        assert_int_equal(g, 2);
        assert_valid_grouping(g_of, 5, g, 2);
        for (int j = 0; j < 5; j++)
            seen_with_2[j] += (j != 2 && g_of[j] == g_of[2]);
    }
    assert_true(seen_with_2[3] > 0 && seen_with_2[4] > 0);
    assert_true(seen_with_2[0] > 0); /* the lone client joined {0,1} */
}

/* 16 clients in 4 far-apart 2-D blobs, listed in scrambled order. */
static void test_merges_recover_four_blobs(void **state)
{
    (void)state;
    const int n = 16, order[16] = {5, 12, 0, 9, 3, 14, 7, 1, 10, 15, 2, 8, 13, 6, 11, 4};
    const double centre[4][2] = {{0, 0}, {100, 0}, {0, 100}, {100, 100}};
    const double offset[4][2] = {{0, 0}, {1.5, 0.2}, {0.3, 2.1}, {2.4, 1.9}};
    double p[16][2], dist[256];
    int truth[16], g_of[16];
    for (int k = 0; k < n; k++) {
        int i = order[k], blob = k / 4;
        p[i][0] = centre[blob][0] + offset[k % 4][0];
        p[i][1] = centre[blob][1] + offset[k % 4][1];
        truth[i] = blob;
    }
    points_to_dist(p, n, dist);
    int g = group(dist, NULL, n, 4, 3, g_of);
    assert_int_equal(g, 4);
    assert_true(p4_adjusted_rand_index(g_of, truth, n) == 1.0);
    /* with V = 2 the blobs split into pairs but never across blobs */
    g = group(dist, NULL, n, 2, 3, g_of);
    assert_int_equal(g, 8);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            if (g_of[i] == g_of[j])
                assert_int_equal(truth[i], truth[j]);
}

static void test_unknown_cross_pairs_merge_last(void **state)
{
    (void)state;
    /* pairs A={0,1} B={2,3} C={4,5} D={6,7}; only A-C cross distances are
     * known, and they are large.  A merges with C anyway (known beats
     * unknown); B and D, knowing nothing of each other, merge last. */
    const int n = 8;
    double dist[64];
    unsigned char known[64] = {0};
    int g_of[8];
    for (int k = 0; k < 64; k++)
        dist[k] = -1; /* unknown entries are never read, so never checked */
    for (int a = 0; a < n; a += 2) {
        known[a * n + a + 1] = known[(a + 1) * n + a] = 1;
        dist[a * n + a + 1] = dist[(a + 1) * n + a] = 1;
    }
    for (int i = 0; i < 2; i++) {
        for (int j = 4; j < 6; j++) {
            known[i * n + j] = known[j * n + i] = 1;
            dist[i * n + j] = dist[j * n + i] = 100;
        }
    }
    assert_int_equal(group(dist, known, n, 4, 1, g_of), 2);
    const int expected[8] = {0, 0, 1, 1, 0, 0, 1, 1};
    assert_groups(g_of, expected, n);
}

static void test_unknown_only_merges_tie_to_lowest_group(void **state)
{
    (void)state;
    const int n = 6;
    double dist[36] = {0};
    unsigned char known[36] = {0};
    int g_of[6];
    for (int a = 0; a < n; a += 2) {
        known[a * n + a + 1] = known[(a + 1) * n + a] = 1;
        dist[a * n + a + 1] = dist[(a + 1) * n + a] = 1;
    }
    assert_int_equal(group(dist, known, n, 4, 1, g_of), 2);
    const int expected[6] = {0, 0, 0, 0, 1, 1};
    assert_groups(g_of, expected, n);
}

static void test_known_mask_hides_true_nearest(void **state)
{
    (void)state;
    /* on the line 0 1 2 3 the pairs would be {0,1} {2,3}; hiding those two
     * distances gives mutual {1,2} and then {0,3} */
    const double x[4] = {0, 1, 2, 3};
    double dist[16];
    unsigned char known[16];
    int g_of[4];
    line_to_dist(x, 4, dist);
    memset(known, 1, sizeof known);
    known[0 * 4 + 1] = known[1 * 4 + 0] = 0;
    known[2 * 4 + 3] = known[3 * 4 + 2] = 0;
    dist[0 * 4 + 1] = dist[1 * 4 + 0] = NAN; /* unknown: never read */
    assert_int_equal(group(dist, known, 4, 2, 1, g_of), 2);
    const int expected[4] = {0, 1, 1, 0};
    assert_groups(g_of, expected, 4);
}

static void test_small_n(void **state)
{
    (void)state;
    double dist[9] = {0};
    int g_of[3];
    assert_int_equal(group(dist, NULL, 1, 2, 1, g_of), 1);
    assert_int_equal(g_of[0], 0);
    const double x2[2] = {0, 5};
    line_to_dist(x2, 2, dist);
    assert_int_equal(group(dist, NULL, 2, 4, 1, g_of), 1);
    assert_true(g_of[0] == 0 && g_of[1] == 0);
    /* n = 3, V = 2: one group of three (a lone client is never left) */
    const double x3[3] = {0, 1, 5};
    line_to_dist(x3, 3, dist);
    for (int v = 2; v <= 4; v++) {
        assert_int_equal(group(dist, NULL, 3, v, 1, g_of), 1);
        assert_true(g_of[0] == 0 && g_of[1] == 0 && g_of[2] == 0);
    }
}

static void random_points(p4_rng *rng, int n, double *dist)
{
    double p[MAXN][2];
    for (int i = 0; i < n; i++) {
        p[i][0] = p4_rng_uniform(rng);
        p[i][1] = p4_rng_uniform(rng);
    }
    points_to_dist((const double (*)[2])p, n, dist);
}

static void test_sizes_when_v_does_not_divide_n(void **state)
{
    (void)state;
    p4_rng rng;
    p4_rng_init_seeded(&rng, 11, "points");
    double dist[MAXN * MAXN];
    unsigned char known[MAXN * MAXN];
    int g_of[MAXN];
    random_points(&rng, 10, dist);
    int g = group(dist, NULL, 10, 4, 1, g_of);
    assert_valid_grouping(g_of, 10, g, 4);
    assert_int_equal(g, 3); /* 5 pairs -> 4 + 4 + 2 */
    /* many n, V, full and sampled knowledge */
    for (int n = 2; n <= 33; n++) {
        for (int v = 2; v <= 6; v++) {
            random_points(&rng, n, dist);
            g = group(dist, NULL, n, v, (uint64_t)n * 7 + v, g_of);
            assert_valid_grouping(g_of, n, g, v);
            assert_int_equal(p4_grouping_sample_peers(n, 2, &rng, known, NULL), P4_OK);
            g = group(dist, known, n, v, (uint64_t)n * 7 + v, g_of);
            assert_valid_grouping(g_of, n, g, v);
        }
    }
}

static void test_deterministic_given_seed(void **state)
{
    (void)state;
    const int n = 40;
    double dist[40 * 40];
    unsigned char known1[40 * 40], known2[40 * 40];
    int g1[40], g2[40];
    p4_rng a, b;
    p4_rng_init_seeded(&a, 5, "points");
    random_points(&a, n, dist);
    p4_rng_init_seeded(&a, 99, "peers");
    p4_rng_init_seeded(&b, 99, "peers");
    assert_int_equal(p4_grouping_sample_peers(n, 3, &a, known1, NULL), P4_OK);
    assert_int_equal(p4_grouping_sample_peers(n, 3, &b, known2, NULL), P4_OK);
    assert_memory_equal(known1, known2, sizeof known1);
    int ga = group(dist, known1, n, 5, 123, g1);
    int gb = group(dist, known2, n, 5, 123, g2);
    assert_int_equal(ga, gb);
    assert_memory_equal(g1, g2, sizeof g1);
}

static void test_sample_peers_shape(void **state)
{
    (void)state;
    const int n = 10;
    unsigned char known[100];
    p4_rng rng;
    p4_rng_init_seeded(&rng, 1, "peers");
    assert_int_equal(p4_grouping_sample_peers(n, 3, &rng, known, NULL), P4_OK);
    int edges = 0;
    for (int i = 0; i < n; i++) {
        int row = 0;
        assert_int_equal(known[i * n + i], 0);
        for (int j = 0; j < n; j++) {
            assert_int_equal(known[i * n + j], known[j * n + i]);
            row += known[i * n + j];
        }
        assert_true(row >= 3); /* its own 3 samples, plus those sampling it */
        edges += row;
    }
    assert_true(edges / 2 <= n * 3);
    /* h <= 0 or h >= n - 1: everybody knows everybody, no rng needed */
    for (int h = -1; h <= 12; h += 13) {
        assert_int_equal(p4_grouping_sample_peers(n, h == -1 ? 0 : h, NULL, known, NULL), P4_OK);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                assert_int_equal(known[i * n + j], i != j);
    }
    assert_int_equal(p4_grouping_sample_peers(n, 3, NULL, known, NULL), P4_EINVAL);
    assert_int_equal(p4_grouping_sample_peers(0, 3, &rng, known, NULL), P4_EINVAL);
    assert_int_equal(p4_grouping_sample_peers(1, 3, &rng, known, NULL), P4_OK);
    assert_int_equal(known[0], 0);
}

static void test_sample_peers_uniform(void **state)
{
    (void)state;
    /* n = 5, h = 1: a pair is known unless neither picked the other,
     * P = 1 - (3/4)^2 = 7/16 for every pair */
    const int n = 5, trials = 4000;
    unsigned char known[25];
    int count[25] = {0};
    p4_rng rng;
    p4_rng_init_seeded(&rng, 2, "peers");
    for (int t = 0; t < trials; t++) {
        assert_int_equal(p4_grouping_sample_peers(n, 1, &rng, known, NULL), P4_OK);
        for (int k = 0; k < 25; k++)
            count[k] += known[k];
    }
    double p = 7.0 / 16, sd = sqrt(p * (1 - p) / trials);
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            assert_true(fabs((double)count[i * n + j] / trials - p) < 5 * sd);
}

static void test_rejects_bad_inputs(void **state)
{
    (void)state;
    double dist[9] = {0, 1, 2, 1, 0, 3, 2, 3, 0};
    unsigned char known[9] = {0, 1, 1, 1, 0, 1, 1, 1, 0};
    int g_of[3], g;
    p4_rng rng;
    p4_rng_init_seeded(&rng, 1, "x");
    p4_grouping_params ok = {.group_size = 2}, bad = {.group_size = 1};
    p4_error err;
    p4_error_clear(&err);
    assert_int_equal(p4_group_clients(dist, NULL, 3, &bad, &rng, g_of, &g, &err), P4_EINVAL);
    assert_non_null(strstr(err.message, "V = 1"));
    assert_int_equal(p4_group_clients(dist, NULL, 0, &ok, &rng, g_of, &g, NULL), P4_EINVAL);
    assert_int_equal(p4_group_clients(dist, NULL, 3, &ok, NULL, g_of, &g, NULL), P4_EINVAL);
    dist[1 * 3 + 2] = 4; /* asymmetric */
    assert_int_equal(p4_group_clients(dist, NULL, 3, &ok, &rng, g_of, &g, &err), P4_EINVAL);
    assert_non_null(strstr(err.message, "dist[1][2] = 4"));
    known[1 * 3 + 2] = known[2 * 3 + 1] = 0; /* ... but fine when unknown */
    assert_int_equal(p4_group_clients(dist, known, 3, &ok, &rng, g_of, &g, NULL), P4_OK);
    known[1 * 3 + 2] = 1; /* known itself asymmetric */
    assert_int_equal(p4_group_clients(dist, known, 3, &ok, &rng, g_of, &g, &err), P4_EINVAL);
    assert_non_null(strstr(err.message, "known[1][2]"));
    dist[1 * 3 + 2] = 3;
    dist[0 * 3 + 1] = dist[1 * 3 + 0] = -1;
    assert_int_equal(p4_group_clients(dist, NULL, 3, &ok, &rng, g_of, &g, &err), P4_EINVAL);
    assert_non_null(strstr(err.message, "dist[0][1]"));
    dist[0 * 3 + 1] = dist[1 * 3 + 0] = INFINITY;
    assert_int_equal(p4_group_clients(dist, NULL, 3, &ok, &rng, g_of, &g, NULL), P4_EINVAL);
}

static void test_ari_hand_computed(void **state)
{
    (void)state;
    const int a4[4] = {0, 0, 1, 1};
    const int same[4] = {7, 7, -3, -3}, split[4] = {0, 0, 1, 2}, cross[4] = {0, 1, 0, 1};
    const int one[4] = {5, 5, 5, 5}, singles[4] = {0, 1, 2, 3};
    assert_true(p4_adjusted_rand_index(a4, a4, 4) == 1.0);
    assert_true(p4_adjusted_rand_index(a4, same, 4) == 1.0);
    /* I = 1, sum_a = 2, sum_b = 1, C(4,2) = 6: (1 - 1/3) / (3/2 - 1/3) = 4/7 */
    assert_true(fabs(p4_adjusted_rand_index(a4, split, 4) - 4.0 / 7) < 1e-12);
    assert_true(fabs(p4_adjusted_rand_index(split, a4, 4) - 4.0 / 7) < 1e-12);
    /* I = 0, E = 2/3, M = 2: -0.5 */
    assert_true(fabs(p4_adjusted_rand_index(a4, cross, 4) + 0.5) < 1e-12);
    assert_true(fabs(p4_adjusted_rand_index(one, singles, 4)) < 1e-12);
    assert_true(p4_adjusted_rand_index(one, one, 4) == 1.0);
    assert_true(p4_adjusted_rand_index(singles, singles, 4) == 1.0);
    /* I = 2, sum_a = 6, sum_b = 3, C(6,2) = 15: (2 - 1.2) / (4.5 - 1.2) = 8/33 */
    const int a6[6] = {0, 0, 0, 1, 1, 1}, b6[6] = {0, 0, 1, 1, 2, 2};
    assert_true(fabs(p4_adjusted_rand_index(a6, b6, 6) - 8.0 / 33) < 1e-12);
    assert_true(p4_adjusted_rand_index(a4, a4, 1) == 1.0);
    assert_true(isnan(p4_adjusted_rand_index(NULL, a4, 4)));
}

static void test_ari_invariant_under_permutation_and_relabelling(void **state)
{
    (void)state;
    const int n = 30;
    int a[30], b[30], pa[30], pb[30], perm[30];
    p4_rng rng;
    p4_rng_init_seeded(&rng, 8, "ari");
    for (int i = 0; i < n; i++) {
        a[i] = (int)p4_rng_below(&rng, 4);
        b[i] = (int)p4_rng_below(&rng, 5);
        perm[i] = i;
    }
    double ari = p4_adjusted_rand_index(a, b, n);
    p4_rng_shuffle_int(&rng, perm, n);
    for (int i = 0; i < n; i++) {
        pa[i] = 100 - 3 * a[perm[i]]; /* relabelled too */
        pb[i] = b[perm[i]] * 1000;
    }
    assert_true(fabs(p4_adjusted_rand_index(pa, pb, n) - ari) < 1e-12);
    assert_true(fabs(p4_adjusted_rand_index(b, a, n) - ari) < 1e-12);
    assert_true(ari < 0.5); /* independent labelings */
}

/* The slice guard: an exact copy and a near copy (below ratio x median)
 * are flagged, honest slices are not; a copy far enough off evades it. */
static void test_slice_guard_flags_copies(void **state)
{
    (void)state;
    enum { N = 6, L = 50 };
    float s[N][L];
    const float *slice[N];
    p4_rng rng;
    assert_int_equal(p4_rng_init_seeded(&rng, 11, "guard"), P4_OK);
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < L; j++)
            s[i][j] = (float)p4_rng_uniform(&rng); /* pairwise L1 about L / 3 */
        slice[i] = s[i];
    }
    unsigned char flagged[N];
    int count = -1;
    assert_int_equal(p4_slice_guard_flag(slice, N, L, 0.1, flagged, &count, NULL), P4_OK);
    assert_int_equal(count, 0);
    memcpy(s[4], s[1], sizeof s[1]); /* 4 copies 1 exactly */
    assert_int_equal(p4_slice_guard_flag(slice, N, L, 0.0, flagged, &count, NULL), P4_OK);
    assert_int_equal(count, 2);
    assert_true(flagged[1] && flagged[4]);
    for (int j = 0; j < L; j++) /* off by 0.01 per coordinate: L1 0.5, far below 0.1 x ~16 */
        s[4][j] = s[1][j] + 0.01f;
    assert_int_equal(p4_slice_guard_flag(slice, N, L, 0.1, flagged, &count, NULL), P4_OK);
    assert_int_equal(count, 2);
    assert_true(flagged[1] && flagged[4] && !flagged[0]);
    assert_int_equal(p4_slice_guard_flag(slice, N, L, 0.0, flagged, &count, NULL), P4_OK);
    assert_int_equal(count, 0); /* ratio 0: exact copies only */
    for (int j = 0; j < L; j++) /* off by 0.2: L1 10, above 0.1 x median: the limit */
        s[4][j] = s[1][j] + 0.2f;
    assert_int_equal(p4_slice_guard_flag(slice, N, L, 0.1, flagged, &count, NULL), P4_OK);
    assert_int_equal(count, 0);
    assert_int_equal(p4_slice_guard_flag(slice, N, L, 1.5, flagged, &count, NULL), P4_EINVAL);
    p4_rng_wipe(&rng);
}

/* Guarded grouping: the flagged clients are alone, the others grouped as
 * p4_group_clients groups them; with nobody flagged it is p4_group_clients. */
static void test_guarded_grouping_isolates_flagged(void **state)
{
    (void)state;
    enum { N = 8 };
    double x[N] = { 0, 0.1, 5, 5.1, 10, 10.1, 15, 15.1 }, dist[N * N];
    line_to_dist(x, N, dist);
    p4_grouping_params params = { 2 };
    int plain[N], guarded[N], g_plain, g_guarded;
    unsigned char alone[N] = {0};
    p4_rng a, b;
    assert_int_equal(p4_rng_init_seeded(&a, 4, "g"), P4_OK);
    assert_int_equal(p4_rng_init_seeded(&b, 4, "g"), P4_OK);
    assert_int_equal(p4_group_clients(dist, NULL, N, &params, &a, plain, &g_plain, NULL), P4_OK);
    assert_int_equal(p4_group_clients_guarded(dist, NULL, N, &params, &b, alone, guarded,
                                              &g_guarded, NULL), P4_OK);
    assert_int_equal(g_plain, g_guarded);
    assert_memory_equal(plain, guarded, sizeof plain);
    alone[2] = alone[3] = 1; /* 2 and 3 were a pair: now each alone */
    assert_int_equal(p4_group_clients_guarded(dist, NULL, N, &params, &b, alone, guarded,
                                              &g_guarded, NULL), P4_OK);
    int expected[N] = { 0, 0, 1, 2, 3, 3, 4, 4 };
    assert_int_equal(g_guarded, 5);
    assert_groups(guarded, expected, N);
    p4_rng_wipe(&a);
    p4_rng_wipe(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mutual_nearest_pairs),
        cmocka_unit_test(test_chain_pairs_closest_first_and_odd_one_joins_nearest),
        cmocka_unit_test(test_clients_knowing_nobody_pair_at_random),
        cmocka_unit_test(test_merges_recover_four_blobs),
        cmocka_unit_test(test_unknown_cross_pairs_merge_last),
        cmocka_unit_test(test_unknown_only_merges_tie_to_lowest_group),
        cmocka_unit_test(test_known_mask_hides_true_nearest),
        cmocka_unit_test(test_small_n),
        cmocka_unit_test(test_sizes_when_v_does_not_divide_n),
        cmocka_unit_test(test_deterministic_given_seed),
        cmocka_unit_test(test_sample_peers_shape),
        cmocka_unit_test(test_sample_peers_uniform),
        cmocka_unit_test(test_rejects_bad_inputs),
        cmocka_unit_test(test_ari_hand_computed),
        cmocka_unit_test(test_ari_invariant_under_permutation_and_relabelling),
        cmocka_unit_test(test_slice_guard_flags_copies),
        cmocka_unit_test(test_guarded_grouping_isolates_flagged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
