/* test_group_widen.c: the grouping's structure ratio ([p4] widen_group_size,
 * widen_ratio): groups found in clustered distances are much tighter than
 * random pairs and are not widened; groups found in distances without
 * structure (all pairs about equally far, as high-dimensional DP-noised
 * proxies with no latent clusters give) are, at the default widen_ratio. */
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

static double structure(const double *dist, const unsigned char *known, const int *group_of)
{
    double ratio = -1;
    p4_error err = {0};
    if (p4_group_structure(dist, known, N, group_of, &ratio, &err) != P4_OK)
        fail_msg("p4_group_structure: %s", err.message);
    return ratio;
}

/* The default widen_ratio, as a config without the key gets it. */
static double default_widen_ratio(void)
{
    p4_config cfg;
    p4_config_defaults(&cfg);
    return cfg.widen_ratio;
}

/* Four blobs of four on a line, 100 apart, jitter 1 inside: the grouping
 * recovers them and the ratio is far below the threshold (no widening). */
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
    double ratio = structure(dist, NULL, group_of);
    if (!(ratio < 0.05))
        fail_msg("clustered distances: within/overall ratio %g, expected < 0.05", ratio);
    assert_true(ratio < default_widen_ratio());
}

/* Every pair about equally far (1 plus a jitter of at most 2%): the groups
 * are no tighter than random pairs, the ratio is near 1, and widening
 * happens at the default threshold. */
static void test_uniform_distances_are_widened(void **state)
{
    (void)state;
    double dist[N * N];
    p4_rng rng;
    assert_int_equal(p4_rng_init_seeded(&rng, 11, "uniform"), P4_OK);
    for (int i = 0; i < N; i++) {
        dist[i * N + i] = 0;
        for (int j = i + 1; j < N; j++)
            dist[i * N + j] = dist[j * N + i] = 1.0 + 0.02 * p4_rng_uniform(&rng);
    }
    int group_of[N];
    assert_int_equal(group(dist, 4, group_of), 4);
    double ratio = structure(dist, NULL, group_of);
    if (!(ratio > 0.98 && ratio <= 1.0))
        fail_msg("uniform distances: ratio %g, expected in (0.98, 1]", ratio);
    assert_true(ratio >= default_widen_ratio());
}

/* Only known pairs count: hiding every cross-blob pair leaves nothing but
 * within-group pairs, so the ratio is exactly 1 (nothing to compare with). */
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
    assert_true(fabs(structure(dist, known, group_of) - 1.0) < 1e-12);
    for (int i = 0; i < N * N; i++)
        known[i] = i / N != i % N;
    /* within mean 1, overall mean (24 * 1 + 96 * 50) / 120 = 40.2 */
    assert_true(fabs(structure(dist, known, group_of) - 1.0 / 40.2) < 1e-12);
}

static void test_rejects_bad_input(void **state)
{
    (void)state;
    double dist[N * N] = {0}, ratio = 0;
    int group_of[N] = {0};
    dist[1] = dist[N] = -1;
    assert_int_equal(p4_group_structure(dist, NULL, N, group_of, &ratio, NULL), P4_EINVAL);
    dist[1] = dist[N] = NAN;
    assert_int_equal(p4_group_structure(dist, NULL, N, group_of, &ratio, NULL), P4_EINVAL);
    assert_int_equal(p4_group_structure(NULL, NULL, N, group_of, &ratio, NULL), P4_EINVAL);
    assert_int_equal(p4_group_structure(dist, NULL, 0, group_of, &ratio, NULL), P4_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clustered_distances_are_not_widened),
        cmocka_unit_test(test_uniform_distances_are_widened),
        cmocka_unit_test(test_only_known_pairs_count),
        cmocka_unit_test(test_rejects_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
