/* test_group_widen.c: the grouping's separation ([p4] widen_group_size,
 * widen_separation): groups found in clustered distances sit far below the
 * mean pair distance and are not widened; groups found in distances without
 * clusters (each pair's distance the sum of two per-client scales plus
 * noise, the shape FEMNIST's noised proxies give: separation 0.01) are
 * widened at the default threshold. */
#include "support/test_support.h"

#include <math.h>
#include <stdlib.h>

#include "cluster/group_widen.h"
#include "cluster/grouping.h"
#include "common/config.h"

#define N 16

static int group(const double *dist, int v, int *group_of)
{
    p4_rng rng;
    p4_grouping_params params = {.group_size = v};
    int ngroups = -1;
    p4_error err = {0};
    assert_int_equal(p4_rng_init_seeded(&rng, 5, "widen-test"), P4_OK);
    if (p4_group_clients(dist, NULL, N, &params, &rng, group_of, &ngroups, &err) != P4_OK)
        fail_msg("p4_group_clients: %s", err.message);
    return ngroups;
}

static double separation(const double *dist, const unsigned char *known, const int *group_of)
{
    double s = -1;
    p4_error err = {0};
    if (p4_group_separation(dist, known, N, group_of, &s, &err) != P4_OK)
        fail_msg("p4_group_separation: %s", err.message);
    return s;
}

/* The default widen_separation, as a config without the key gets it. */
static double default_threshold(void)
{
    p4_config cfg;
    p4_config_defaults(&cfg);
    return cfg.widen_separation;
}

/* Four blobs of four on a line, 100 apart, 0.25 apart inside: the grouping
 * recovers them and the separation is far above the threshold. */
static void test_clustered_distances_are_not_widened(void **state)
{
    (void)state;
    double x[N], dist[N * N];
    for (int i = 0; i < N; i++)
        x[i] = 100.0 * (i / 4) + 0.25 * (i % 4);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++)
            dist[i * N + j] = fabs(x[i] - x[j]);
    int group_of[N];
    assert_int_equal(group(dist, 4, group_of), 4);
    double s = separation(dist, NULL, group_of);
    if (!(s > 1.0))
        fail_msg("clustered distances: separation %g, expected > 1", s);
    assert_true(s >= default_threshold());
}

/* No clusters: d(i, j) = a_i + a_j + a small jitter, a_i a per-client scale
 * (how much noise its proxy carries).  Grouping then pairs clients of
 * similar scale, but a group's mean distance is that of any pair: the
 * separation is near 0 and widening happens at the default threshold. */
static void test_distances_without_clusters_are_widened(void **state)
{
    (void)state;
    double a[N], dist[N * N];
    p4_rng rng;
    assert_int_equal(p4_rng_init_seeded(&rng, 11, "no-clusters"), P4_OK);
    for (int i = 0; i < N; i++)
        a[i] = 10.0 + 2.0 * p4_rng_uniform(&rng);
    for (int i = 0; i < N; i++) {
        dist[i * N + i] = 0;
        for (int j = i + 1; j < N; j++)
            dist[i * N + j] = dist[j * N + i] = a[i] + a[j] + 0.05 * p4_rng_uniform(&rng);
    }
    int group_of[N];
    assert_int_equal(group(dist, 4, group_of), 4);
    double s = separation(dist, NULL, group_of);
    if (!(fabs(s) < 0.3))
        fail_msg("distances without clusters: separation %g, expected within 0.3 of 0", s);
    assert_true(s < default_threshold());
}

/* Only known pairs count: hiding every cross-blob pair leaves nothing but
 * within-group pairs, all equal, so the separation is 0 (nothing to compare
 * with); with every pair known it is the hand-computed value. */
static void test_only_known_pairs_count(void **state)
{
    (void)state;
    double dist[N * N];
    unsigned char known[N * N];
    int group_of[N];
    for (int i = 0; i < N; i++) {
        group_of[i] = i / 4;
        for (int j = 0; j < N; j++) {
            dist[i * N + j] = i == j ? 0 : i / 4 == j / 4 ? 1 : 50;
            known[i * N + j] = i != j && i / 4 == j / 4;
        }
    }
    assert_true(separation(dist, known, group_of) == 0.0);
    for (int i = 0; i < N * N; i++)
        known[i] = i / N != i % N;
    /* 24 pairs at 1, 96 at 50: mean 40.2, sd sqrt(0.2 * 0.8) * 49 = 19.6 */
    double want = (40.2 - 1.0) / 19.6;
    if (fabs(separation(dist, known, group_of) - want) > 1e-9)
        fail_msg("separation %.12g, expected %.12g", separation(dist, known, group_of), want);
}

static void test_rejects_bad_input(void **state)
{
    (void)state;
    double dist[N * N] = {0}, ratio = 0;
    int group_of[N] = {0};
    dist[1] = dist[N] = -1;
    assert_int_equal(p4_group_separation(dist, NULL, N, group_of, &ratio, NULL), P4_EINVAL);
    dist[1] = dist[N] = NAN;
    assert_int_equal(p4_group_separation(dist, NULL, N, group_of, &ratio, NULL), P4_EINVAL);
    assert_int_equal(p4_group_separation(NULL, NULL, N, group_of, &ratio, NULL), P4_EINVAL);
    assert_int_equal(p4_group_separation(dist, NULL, 0, group_of, &ratio, NULL), P4_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clustered_distances_are_not_widened),
        cmocka_unit_test(test_distances_without_clusters_are_widened),
        cmocka_unit_test(test_only_known_pairs_count),
        cmocka_unit_test(test_rejects_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
