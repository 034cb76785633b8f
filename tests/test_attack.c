/* test_attack.c: malicious peers (cluster/attack.h): who is chosen, and what
 * each attack does to the proxy it sends, checked exactly (signflip, scaled)
 * or statistically (gaussian: mean and a chi-square bound on the variance). */
#include "support/test_support.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/attack.h"
#include "common/config.h"

static void attackers_are_chosen_from_the_seed(void **state)
{
    (void)state;
    unsigned char a[16], b[16], c[16];
    assert_int_equal(p4_attack_choose(16, 0.25, 7, a, NULL), P4_OK);
    assert_int_equal(p4_attack_choose(16, 0.25, 7, b, NULL), P4_OK);
    int count = 0;
    for (int k = 0; k < 16; k++)
        count += a[k];
    assert_int_equal(count, 4);
    assert_memory_equal(a, b, 16); /* the same seed, the same attackers */
    int differs = 0;
    for (uint64_t seed = 8; seed < 16 && !differs; seed++) {
        assert_int_equal(p4_attack_choose(16, 0.25, seed, c, NULL), P4_OK);
        differs = memcmp(a, c, 16) != 0;
    }
    assert_true(differs);
    assert_int_equal(p4_attack_choose(16, 0.0, 7, c, NULL), P4_OK);
    for (int k = 0; k < 16; k++)
        assert_int_equal(c[k], 0);
    assert_int_equal(p4_attack_choose(10, 0.3, 7, c, NULL), P4_OK); /* round(3.0) */
    count = 0;
    for (int k = 0; k < 10; k++)
        count += c[k];
    assert_int_equal(count, 3);
    assert_int_equal(p4_attack_choose(16, 1.5, 7, c, NULL), P4_EINVAL);
}

static void poisons_are_what_they_say(void **state)
{
    (void)state;
    enum { N = 200000 };
    float *w = malloc(N * sizeof(float)), *w0 = malloc(N * sizeof(float));
    float *orig = malloc(N * sizeof(float));
    for (int j = 0; j < N; j++) {
        w0[j] = (float)sin(j * 0.37);
        orig[j] = w0[j] + (float)(0.01 * cos(j * 1.3));
    }
    memcpy(w, orig, N * sizeof(float));
    assert_int_equal(p4_attack_poison(P4_ATTACK_SIGNFLIP, 2.0, w, w0, N, NULL, NULL, NULL), P4_OK);
    for (int j = 0; j < N; j++)
        assert_true(w[j] == (float)(w0[j] - 2.0 * ((double)orig[j] - w0[j])));
    memcpy(w, orig, N * sizeof(float));
    assert_int_equal(p4_attack_poison(P4_ATTACK_SCALED, 10.0, w, w0, N, NULL, NULL, NULL), P4_OK);
    for (int j = 0; j < N; j++)
        assert_true(w[j] == (float)(w0[j] + 10.0 * ((double)orig[j] - w0[j])));
    for (p4_attack_kind k = P4_ATTACK_NONE; k <= P4_ATTACK_LABELFLIP; k += P4_ATTACK_LABELFLIP) {
        memcpy(w, orig, N * sizeof(float));
        assert_int_equal(p4_attack_poison(k, 5.0, w, w0, N, NULL, NULL, NULL), P4_OK);
        assert_memory_equal(w, orig, N * sizeof(float)); /* labelflip poisons training */
    }
    /* gaussian: N(0, s^2) added; sum of squares / s^2 is chi-square with N
     * degrees of freedom: within 6 standard deviations (sqrt(2N)). */
    memcpy(w, orig, N * sizeof(float));
    p4_rng rng;
    p4_ziggurat z;
    p4_ziggurat_init(&z);
    assert_int_equal(p4_rng_init_seeded(&rng, 3, "test-attack"), P4_OK);
    const double s = 0.5;
    assert_int_equal(p4_attack_poison(P4_ATTACK_GAUSSIAN, s, w, w0, N, &rng, &z, NULL), P4_OK);
    double sum = 0, sq = 0;
    for (int j = 0; j < N; j++) {
        double d = (double)w[j] - orig[j];
        sum += d;
        sq += d * d;
    }
    assert_true(fabs(sum / N) < 6 * s / sqrt(N));
    assert_true(fabs(sq / (s * s) - N) < 6 * sqrt(2.0 * N));
    assert_int_equal(p4_attack_poison(P4_ATTACK_GAUSSIAN, s, w, w0, N, NULL, &z, NULL), P4_EINVAL);
    free(w);
    free(w0);
    free(orig);
}

/* The grouping lie's target: an honest client, from the seed or the config. */
static void the_lie_aims_at_an_honest_client(void **state)
{
    (void)state;
    p4_config cfg;
    memset(&cfg, 0, sizeof cfg);
    snprintf(cfg.grouping_lie, sizeof cfg.grouping_lie, "copy-target");
    cfg.attack_target = -1;
    unsigned char attacker[8] = { 1, 0, 1, 0, 0, 0, 0, 1 };
    int seen[8] = {0}, target = -2, again = -2;
    for (uint64_t seed = 1; seed <= 200; seed++) {
        cfg.seed = seed;
        assert_int_equal(p4_attack_choose_target(&cfg, 8, attacker, &target, NULL), P4_OK);
        assert_int_equal(p4_attack_choose_target(&cfg, 8, attacker, &again, NULL), P4_OK);
        assert_int_equal(target, again); /* public: every peer finds the same */
        assert_true(target >= 0 && target < 8);
        assert_int_equal(attacker[target], 0);
        seen[target]++;
    }
    for (int k = 0; k < 8; k++) /* every honest client is a target for some seed */
        assert_true(attacker[k] ? seen[k] == 0 : seen[k] > 0);
    cfg.attack_target = 4;
    assert_int_equal(p4_attack_choose_target(&cfg, 8, attacker, &target, NULL), P4_OK);
    assert_int_equal(target, 4);
    cfg.attack_target = 2; /* an attacker cannot be the target */
    assert_int_equal(p4_attack_choose_target(&cfg, 8, attacker, &target, NULL), P4_ECONFIG);
    cfg.attack_target = 8;
    assert_int_equal(p4_attack_choose_target(&cfg, 8, attacker, &target, NULL), P4_ECONFIG);
    snprintf(cfg.grouping_lie, sizeof cfg.grouping_lie, "none");
    assert_int_equal(p4_attack_choose_target(&cfg, 8, attacker, &target, NULL), P4_OK);
    assert_int_equal(target, -1);
    p4_grouping_lie lie;
    assert_int_equal(p4_grouping_lie_parse("copy-target", &lie), P4_OK);
    assert_int_equal(lie, P4_GROUPING_LIE_COPY_TARGET);
    assert_int_equal(p4_grouping_lie_parse("copy", &lie), P4_EINVAL);
}

/* The lie is the target's slice, exactly without noise, and about
 * N(0, s^2) away from it with. */
static void the_lie_copies_the_target_slice(void **state)
{
    (void)state;
    enum { N = 4000 };
    float *target = malloc(N * sizeof(float)), *lie = malloc(N * sizeof(float));
    assert_non_null(target);
    assert_non_null(lie);
    for (int j = 0; j < N; j++)
        target[j] = (float)(0.001 * j - 1.5);
    assert_int_equal(p4_attack_lie_slice(target, N, 0.0, NULL, NULL, lie, NULL), P4_OK);
    assert_memory_equal(target, lie, N * sizeof(float));
    p4_rng rng;
    p4_ziggurat z;
    p4_ziggurat_init(&z);
    assert_int_equal(p4_rng_init_seeded(&rng, 3, "lie"), P4_OK);
    assert_int_equal(p4_attack_lie_slice(target, N, 0.5, &rng, &z, lie, NULL), P4_OK);
    double sq = 0;
    for (int j = 0; j < N; j++)
        sq += ((double)lie[j] - target[j]) * ((double)lie[j] - target[j]);
    /* sum of N squared N(0, 0.25): mean 0.25 N, sd 0.25 sqrt(2N); 6 sd either side */
    assert_true(fabs(sq - 0.25 * N) < 6 * 0.25 * sqrt(2.0 * N));
    assert_int_equal(p4_attack_lie_slice(target, N, 0.5, NULL, NULL, lie, NULL), P4_EINVAL);
    assert_int_equal(p4_attack_lie_slice(target, N, -1.0, &rng, &z, lie, NULL), P4_EINVAL);
    p4_rng_wipe(&rng);
    free(target);
    free(lie);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(attackers_are_chosen_from_the_seed),
        cmocka_unit_test(poisons_are_what_they_say),
        cmocka_unit_test(the_lie_aims_at_an_honest_client),
        cmocka_unit_test(the_lie_copies_the_target_slice),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
