/* test_simulation.c: N clients in one process on real Fashion-MNIST (small):
 * seeded runs repeat exactly, the spend reaches but never passes the target,
 * the baselines behave as specified, logits-mode releases are accounted in
 * the ledger, and a ledger that has already spent its budget stops a run. */
#include "support/test_configs.h"
#include "support/test_support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dp/ledger.h"
#include "p4node/run_report.h"
#include "p4node/simulation.h"

#define FMNIST "/usr/share/datasets/fashion-mnist"

/* Seeded (--reproducible) unless `os_noise`: most tests compare runs. */
static void run_with(const p4_config *cfg, p4_method method, double eps, const char *state,
                     int os_noise, p4_sim_result *r)
{
    p4_sim_options opt = { .method = method, .epsilon = eps, .state_dir = state, .threads = 2,
                           .reproducible = !os_noise };
    p4_error err = {0};
    if (p4_sim_run(cfg, &opt, r, &err) != P4_OK)
        fail_msg("%s", err.message);
}

static void run(const p4_config *cfg, p4_method method, double eps, const char *state,
                p4_sim_result *r)
{
    run_with(cfg, method, eps, state, 0 /* seeded */, r);
}

static void seeded_runs_repeat_and_spend_the_budget(void **state)
{
    if (!test_dataset_path(FMNIST)) TEST_SKIP(FMNIST " is absent");
    const char *dir = *state;
    p4_config cfg;
    test_small_config(&cfg, dir, "");
    p4_sim_result a, b;
    run(&cfg, P4_METHOD_P4, 4.0, NULL, &a);
    run(&cfg, P4_METHOD_P4, 4.0, NULL, &b);
    assert_int_equal(a.clients, 8);
    assert_memory_equal(a.accuracy, b.accuracy, 8 * sizeof(double));
    assert_memory_equal(a.group_of, b.group_of, 8 * sizeof(int));
    assert_true(a.epsilon <= 4.0 && a.epsilon > 3.9);
    assert_true(a.noise_multiplier > 0.5);
    for (int g = 0; g < a.ngroups; g++) { /* every group has 2..V members */
        int size = 0;
        for (int k = 0; k < 8; k++) size += a.group_of[k] == g;
        assert_true(size >= 2 && size <= 4);
    }
    assert_true(a.mean_accuracy > 0.4); /* 3 classes per client: chance is 1/3 */
    /* A reproducible run says that it is not private. */
    assert_int_equal(a.guarantee, P4_DP_NONE);
    assert_true(a.facts.reproducible);
    p4_sim_result_free(&a);
    p4_sim_result_free(&b);
}

/* By default the noise and the batches are keyed by the OS: two runs of one
 * config differ, and the guarantee holds; the paper's private-teacher mode is
 * only conditional, and a run without DP has none. */
static void default_runs_are_private(void **state)
{
    if (!test_dataset_path(FMNIST)) TEST_SKIP(FMNIST " is absent");
    const char *dir = *state;
    p4_config cfg;
    test_small_config(&cfg, dir, "");
    assert_int_equal(cfg.strict_dp, 1);
    p4_sim_result a, b;
    run_with(&cfg, P4_METHOD_P4, 4.0, NULL, 1, &a);
    run_with(&cfg, P4_METHOD_P4, 4.0, NULL, 1, &b);
    assert_int_equal(a.guarantee, P4_DP_HOLDS);
    assert_string_equal(p4_dp_guarantee_name(a.guarantee), "holds");
    int same = memcmp(a.accuracy, b.accuracy, 8 * sizeof(double)) == 0;
    assert_false(same); /* 8 clients x 60 test examples: equal by chance is negligible */
    assert_true(a.epsilon <= 4.0 && a.epsilon > 3.9);
    p4_sim_result_free(&a);
    p4_sim_result_free(&b);

    cfg.strict_dp = 0;
    run_with(&cfg, P4_METHOD_P4, 4.0, NULL, 1, &a);
    assert_int_equal(a.guarantee, P4_DP_CONDITIONAL);
    assert_true(a.facts.private_teacher);
    p4_sim_result_free(&a);
    run_with(&cfg, P4_METHOD_FEDAVG_DP, 4.0, NULL, 1, &a); /* no teacher: holds */
    assert_int_equal(a.guarantee, P4_DP_HOLDS);
    p4_sim_result_free(&a);
    run_with(&cfg, P4_METHOD_P4, INFINITY, NULL, 1, &a);
    assert_int_equal(a.guarantee, P4_DP_NONE);
    p4_sim_result_free(&a);
}

static void without_dp_grouping_finds_the_clusters(void **state)
{
    if (!test_dataset_path(FMNIST)) TEST_SKIP(FMNIST " is absent");
    const char *dir = *state;
    p4_config cfg;
    test_small_config(&cfg, dir, "");
    p4_sim_result r;
    run(&cfg, P4_METHOD_P4, INFINITY, NULL, &r);
    assert_true(r.epsilon == 0.0);
    assert_true(r.ari == 1.0); /* disjoint class sets: the proxies separate cleanly */
    assert_true(r.mean_accuracy > 0.7);
    p4_sim_result_free(&r);
}

static void baselines(void **state)
{
    if (!test_dataset_path(FMNIST)) TEST_SKIP(FMNIST " is absent");
    const char *dir = *state;
    p4_config cfg;
    test_small_config(&cfg, dir, "");
    p4_sim_result local, fedavg, proxyfl;
    run(&cfg, P4_METHOD_LOCAL, 4.0, NULL, &local);
    assert_true(local.epsilon == 0.0);
    assert_int_equal(local.ngroups, 8);
    run(&cfg, P4_METHOD_FEDAVG_DP, 4.0, NULL, &fedavg);
    assert_int_equal(fedavg.ngroups, 1);
    assert_true(fedavg.epsilon <= 4.0 && fedavg.epsilon > 3.9);
    run(&cfg, P4_METHOD_PROXYFL, 4.0, NULL, &proxyfl);
    assert_true(proxyfl.epsilon <= 4.0 && proxyfl.epsilon > 3.9);
    p4_sim_result avg;
    run(&cfg, P4_METHOD_PROXYFL_AVG, 4.0, NULL, &avg);
    assert_true(avg.epsilon <= 4.0 && avg.epsilon > 3.9);
    assert_int_equal(avg.guarantee, P4_DP_NONE); /* seeded: --reproducible */
    /* the two variants exchange differently: their results differ */
    assert_memory_not_equal(avg.accuracy, proxyfl.accuracy, 8 * sizeof(double));
    p4_sim_result_free(&avg);
    /* FedAvg evaluates one global model: on clients of one cluster with the
     * same test distribution the accuracies are close; local models differ. */
    assert_true(isnan(local.ari) && isnan(fedavg.ari));
    p4_sim_result_free(&local);
    p4_sim_result_free(&fedavg);
    p4_sim_result_free(&proxyfl);
}

static void logits_mode_is_accounted(void **state)
{
    if (!test_dataset_path(FMNIST)) TEST_SKIP(FMNIST " is absent");
    const char *dir = *state;
    p4_config cfg;
    test_small_config(&cfg, dir, "share = logits\npublic_count = 100\nwarmup_sample_rate = 0\n");
    p4_sim_result r;
    run(&cfg, P4_METHOD_P4, 8.0, dir, &r);
    assert_true(r.epsilon <= 8.0 && r.epsilon > 7.9);
    p4_sim_result_free(&r);
    /* Every client's ledger holds one q = 1 release per round (the warm-up
     * runs at the training rate here, so it is not counted). */
    for (int k = 0; k < 8; k++) {
        char path[1200];
        snprintf(path, sizeof path, "%s/client-%03d.db", dir, k);
        p4_ledger *l = NULL;
        p4_error err = {0};
        assert_int_equal(p4_ledger_open_existing(path, &l, &err), P4_OK);
        p4_dp_phase *ph = NULL;
        int n = 0;
        assert_int_equal(p4_ledger_phases(l, 0, &ph, &n, &err), P4_OK);
        long long releases = 0;
        for (int i = 0; i < n; i++)
            if (ph[i].sample_rate == 1.0) releases += ph[i].steps;
        free(ph);
        assert_int_equal(releases, 3);
        p4_ledger_close(&l);
    }
}

/* The JSON summary of a run, as `p4 sim --json` prints it (free it). */
static char *report_json(const p4_config *cfg, const p4_sim_result *r)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    assert_non_null(out);
    p4_run_report report = { .cfg = cfg, .method = P4_METHOD_P4, .epsilon_target = 4,
                             .reproducible = 1, .result = r };
    p4_run_report_json(out, &report);
    fclose(out);
    return text;
}

/* Multi-Krum needs more than 2f + 2 members; in groups of at most 4 with
 * krum_f = 1 every aggregation is the mean.  The run says so (counts and the
 * JSON's warnings) and computes exactly what aggregate = mean does. */
static void multikrum_in_small_groups_says_it_used_the_mean(void **state)
{
    if (!test_dataset_path(FMNIST)) TEST_SKIP(FMNIST " is absent");
    const char *dir = *state;
    p4_config mean_cfg, krum_cfg;
    assert_int_equal(test_small_config(&mean_cfg, dir, "aggregate = mean\n"), 0);
    assert_int_equal(test_small_config(&krum_cfg, dir, "aggregate = multikrum\nkrum_f = 1\n"), 0);
    p4_sim_result mean, krum;
    run(&mean_cfg, P4_METHOD_P4, 4, dir, &mean);
    char krum_state[1100];
    test_path_in(dir, "krum", krum_state, sizeof krum_state);
    assert_int_equal(mkdir(krum_state, 0700), 0);
    run(&krum_cfg, P4_METHOD_P4, 4, krum_state, &krum);

    assert_int_equal(mean.krum_fallbacks, 0);
    assert_int_equal(krum.krum_fallbacks, 8 * 3); /* every client, every round */
    assert_true(krum.krum_smallest >= 1 && krum.krum_smallest <= 4);
    for (int k = 0; k < 8; k++)
        assert_true(krum.accuracy[k] == mean.accuracy[k]);
    char *mj = report_json(&mean_cfg, &mean), *kj = report_json(&krum_cfg, &krum);
    assert_null(strstr(mj, "\"warnings\""));
    if (!strstr(kj, "\"warnings\":[\"aggregate = multikrum fell back to the mean in 24 "
                    "client-round(s): multi-Krum needs more than 2 krum_f + 2 = 4 group members"))
        fail_msg("no fallback warning in %s", kj);
    free(mj);
    free(kj);
    p4_sim_result_free(&mean);
    p4_sim_result_free(&krum);
}

/* A gaussian attacker so strong that averaging its proxy makes the honest
 * clients' next DP-SGD step meet non-finite values: in `p4 sim`, whose
 * clients park between rounds, the run still completes, says how many
 * client-rounds went back to their own proxy, and every honest client ends
 * with a finite accuracy.  (The config caps the strength; the test sets it.) */
static void a_proxy_made_to_diverge_goes_back_in_sim(void **state)
{
    if (!test_dataset_path(FMNIST)) TEST_SKIP(FMNIST " is absent");
    const char *dir = *state;
    p4_config cfg;
    assert_int_equal(test_small_config(&cfg, dir, "[attack]\nfraction = 0.25\nkind = gaussian\n"), 0);
    cfg.attack_strength = 3e37;
    p4_sim_result r;
    run(&cfg, P4_METHOD_P4, 4, dir, &r);
    if (!(r.proxy_reverts > 0))
        fail_msg("no client-round went back to its own proxy (%d)", r.proxy_reverts);
    for (int k = 0; k < 8; k++)
        assert_true(isfinite(r.accuracy[k]));
    char *json = report_json(&cfg, &r);
    if (!strstr(json, "a proxy diverged after averaging peers' proxies in "))
        fail_msg("no revert warning in %s", json);
    free(json);
    p4_sim_result_free(&r);
}

static void spent_ledger_stops_the_run(void **state)
{
    if (!test_dataset_path(FMNIST)) TEST_SKIP(FMNIST " is absent");
    const char *dir = *state;
    p4_config cfg;
    test_small_config(&cfg, dir, "");
    p4_sim_result r;
    run(&cfg, P4_METHOD_P4, 4.0, dir, &r); /* spends the whole budget */
    p4_sim_result_free(&r);
    p4_sim_options opt = { .method = P4_METHOD_P4, .epsilon = 4.0, .state_dir = dir,
                           .threads = 2, .reproducible = 1 };
    p4_error err = {0};
    assert_int_equal(p4_sim_run(&cfg, &opt, &r, &err), P4_EBUDGET);
    assert_non_null(strstr(err.message, "spent epsilon"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(seeded_runs_repeat_and_spend_the_budget, test_temp_dir_setup,
                                        test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(default_runs_are_private, test_temp_dir_setup,
                                        test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(without_dp_grouping_finds_the_clusters, test_temp_dir_setup,
                                        test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(baselines, test_temp_dir_setup,
                                        test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(logits_mode_is_accounted, test_temp_dir_setup,
                                        test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(multikrum_in_small_groups_says_it_used_the_mean,
                                        test_temp_dir_setup, test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(a_proxy_made_to_diverge_goes_back_in_sim,
                                        test_temp_dir_setup, test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(spent_ledger_stops_the_run, test_temp_dir_setup,
                                        test_temp_dir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
