/* test_ensemble.c: [p4] predict = ensemble (distill/ensemble.h).
 *   - the combination is (1 - w) p_private + w p_proxy row by row, its
 *     argmax takes the lowest class on a tie, and bad arguments are refused;
 *   - a client's ensemble accuracy at w = 0 is its private model's and at
 *     w = 1 its proxy's, and in between it is the accuracy of the combined
 *     probabilities computed here from both models' own predictions;
 *   - `p4 sim` reports the ensemble's accuracy under predict = ensemble and
 *     the private model's without it, and the ledger is the same either way
 *     (the proxy is a DP output: predicting with it costs nothing); its JSON
 *     names the ensemble only when there is one. */
#include "support/test_support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "distill/client.h"
#include "distill/ensemble.h"
#include "model/model.h"
#include "p4node/run_report.h"
#include "p4node/simulation.h"
#include "support/dp_fixture.h"
#include "support/test_configs.h"

static void rows_mix_and_ties_take_the_lowest_class(void **state)
{
    (void)state;
    const float a[] = {0.7f, 0.2f, 0.1f, /**/ 0.1f, 0.1f, 0.8f, /**/ 0.5f, 0.5f, 0.0f};
    const float b[] = {0.1f, 0.8f, 0.1f, /**/ 0.1f, 0.1f, 0.8f, /**/ 0.0f, 0.5f, 0.5f};
    float out[9];
    int labels[3];
    assert_int_equal(p4_ensemble_combine(a, b, 3, 3, 0.25, out, labels), P4_OK);
    for (int i = 0; i < 9; i++)
        assert_float_equal(out[i], 0.75f * a[i] + 0.25f * b[i], 1e-7);
    assert_int_equal(labels[0], 0);
    assert_int_equal(labels[1], 2);
    assert_int_equal(labels[2], 1); /* 0.375, 0.5, 0.125 */
    assert_int_equal(p4_ensemble_combine(a, b, 3, 3, 0.75, out, labels), P4_OK);
    assert_int_equal(labels[0], 1); /* the proxy's side wins now */
    assert_int_equal(p4_ensemble_combine(a, b, 3, 3, 0.5, out, labels), P4_OK);
    assert_int_equal(labels[2], 1); /* 0.25, 0.5, 0.25 */
    const float tie[] = {0.5f, 0.5f};
    assert_int_equal(p4_ensemble_combine(tie, tie, 1, 2, 0.5, out, labels), P4_OK);
    assert_int_equal(labels[0], 0);
    /* in place, into the first input */
    float inplace[9];
    memcpy(inplace, a, sizeof inplace);
    assert_int_equal(p4_ensemble_combine(inplace, b, 3, 3, 0.25, inplace, NULL), P4_OK);
    for (int i = 0; i < 9; i++)
        assert_float_equal(inplace[i], 0.75f * a[i] + 0.25f * b[i], 1e-7);
    assert_int_equal(p4_ensemble_combine(NULL, b, 3, 3, 0.5, out, labels), P4_EINVAL);
    assert_int_equal(p4_ensemble_combine(a, b, 3, 0, 0.5, out, labels), P4_EINVAL);
    assert_int_equal(p4_ensemble_combine(a, b, -1, 3, 0.5, out, labels), P4_EINVAL);
    assert_int_equal(p4_ensemble_combine(a, b, 3, 3, 1.5, out, labels), P4_EINVAL);
    assert_int_equal(p4_ensemble_combine(a, b, 3, 3, NAN, out, labels), P4_EINVAL);
}

#define TRAIN 64
#define TEST 40

/* A client without DP (conv proxy, MLP private model) trained one epoch, so
 * that its two models disagree on some test examples. */
static p4_client *trained_client(const char *dir, p4_dataset *data, int *train_idx,
                                 int *test_idx)
{
    char conv[512], mlp[512];
    test_write_text(dir, "conv.cfg", tiny_conv_cfg, conv, sizeof conv);
    test_write_text(dir, "mlp.cfg", tiny_mlp_cfg, mlp, sizeof mlp);
    for (int i = 0; i < TRAIN; i++)
        train_idx[i] = i;
    for (int i = 0; i < TEST; i++)
        test_idx[i] = TRAIN + i;
    p4_client_spec s;
    memset(&s, 0, sizeof s);
    s.id = 1;
    s.train = s.test = data;
    s.train_idx = train_idx;
    s.train_count = TRAIN;
    s.test_idx = test_idx;
    s.test_count = TEST;
    s.private_cfg = mlp;
    s.proxy_cfg = conv;
    s.shape = tiny_shape;
    s.batch = 8;
    s.learning_rate = 0.1;
    s.seed = 5;
    s.kd_alpha = 0.5;
    s.kd_temperature = 1.0;
    s.seeded_sampling = 1;
    s.dp_params.sample_rate = 8.0 / TRAIN; /* the batches' Poisson rate, also without DP */
    p4_client *c = NULL;
    p4_error err = {0};
    if (p4_client_new(&c, &s, &err) != P4_OK || p4_client_local(c, P4_LOCAL_COTRAIN, 1, &err))
        fail_msg("%s", err.message);
    return c;
}

/* Both models' probabilities on the client's test rows, combined at w. */
static double accuracy_by_hand(const char *dir, p4_client *c, const p4_dataset *data,
                               const int *test_idx, double w)
{
    float x[TEST * TINY_INPUTS], pa[TEST * TINY_CLASSES], pb[TEST * TINY_CLASSES];
    assert_int_equal(p4_dataset_batch(data, test_idx, TEST, x, NULL), P4_OK);
    size_t np = p4_client_model_size(c, P4_MODEL_PRIVATE), nq = p4_client_proxy_size(c);
    float *wp = malloc(np * sizeof *wp), *wq = malloc(nq * sizeof *wq);
    assert_int_equal(p4_client_get_model(c, P4_MODEL_PRIVATE, wp, np), P4_OK);
    assert_int_equal(p4_client_get_proxy(c, wq, nq), P4_OK);
    p4_model *mp = NULL, *mq = NULL;
    char mlp[512], conv[512]; /* trained_client wrote them */
    test_path_in(dir, "mlp.cfg", mlp, sizeof mlp);
    test_path_in(dir, "conv.cfg", conv, sizeof conv);
    p4_error err = {0};
    assert_int_equal(p4_model_new(&mp, mlp, &tiny_shape, 8, 1, &err), P4_OK);
    assert_int_equal(p4_model_new(&mq, conv, &tiny_shape, 8, 1, &err), P4_OK);
    assert_int_equal(p4_model_set_params(mp, wp, np), P4_OK);
    assert_int_equal(p4_model_set_params(mq, wq, nq), P4_OK);
    assert_int_equal(p4_model_predict(mp, x, TEST, pa, NULL), P4_OK);
    assert_int_equal(p4_model_predict(mq, x, TEST, pb, NULL), P4_OK);
    int right = 0;
    for (int i = 0; i < TEST; i++) {
        int best = 0;
        for (int k = 1; k < TINY_CLASSES; k++) {
            double vk = (1 - w) * pa[i * TINY_CLASSES + k] + w * pb[i * TINY_CLASSES + k];
            double vb = (1 - w) * pa[i * TINY_CLASSES + best] + w * pb[i * TINY_CLASSES + best];
            if (vk > vb)
                best = k;
        }
        right += best == data->labels[test_idx[i]];
    }
    p4_model_destroy(&mp);
    p4_model_destroy(&mq);
    free(wp);
    free(wq);
    return (double)right / TEST;
}

static void a_clients_ensemble_accuracy_is_both_models(void **state)
{
    const char *dir = *state;
    p4_dataset *data = tiny_dataset(TRAIN + TEST, 9);
    int train_idx[TRAIN], test_idx[TEST];
    p4_client *c = trained_client(dir, data, train_idx, test_idx);
    p4_error err = {0};
    double private_acc, proxy_acc, at0, at1, mid;
    assert_int_equal(p4_client_evaluate(c, P4_MODEL_PRIVATE, &private_acc, &err), P4_OK);
    assert_int_equal(p4_client_evaluate(c, P4_MODEL_PROXY, &proxy_acc, &err), P4_OK);
    assert_int_equal(p4_client_evaluate_ensemble(c, 0.0, &at0, &err), P4_OK);
    assert_int_equal(p4_client_evaluate_ensemble(c, 1.0, &at1, &err), P4_OK);
    assert_true(at0 == private_acc);
    assert_true(at1 == proxy_acc);
    assert_true(private_acc != proxy_acc); /* else w = 0 and 1 could not be told apart */
    /* in between, the combination; at some weight neither model alone */
    int neither = 0;
    for (double w = 0.1; w < 0.95; w += 0.1) {
        assert_int_equal(p4_client_evaluate_ensemble(c, w, &mid, &err), P4_OK);
        print_message("w %.1f: ensemble %.3f (private %.3f, proxy %.3f)\n", w, mid, private_acc,
                      proxy_acc);
        assert_true(fabs(mid - accuracy_by_hand(dir, c, data, test_idx, w)) < 1e-12);
        neither += mid != private_acc && mid != proxy_acc;
    }
    assert_true(neither > 0);
    assert_int_equal(p4_client_evaluate_ensemble(c, -0.1, &mid, &err), P4_EINVAL);
    assert_int_equal(p4_client_evaluate_ensemble(NULL, 0.5, &mid, &err), P4_EINVAL);
    p4_client_destroy(&c);
    p4_dataset_destroy(&data);
}

#define FMNIST "/usr/share/datasets/fashion-mnist"

/* tests/support's small clustered fashion-mnist job with `predict` lines
 * in [p4], run seeded at epsilon 8; *cfg keeps the config. */
static void sim(const char *dir, const char *predict, p4_method method, p4_config *cfg,
                p4_sim_result *r)
{
    assert_int_equal(test_small_config(cfg, dir, predict), 0);
    p4_sim_options opt = {.method = method, .epsilon = 8, .threads = 1, .reproducible = 1};
    p4_error err = {0};
    if (p4_sim_run(cfg, &opt, r, &err) != P4_OK)
        fail_msg("%s", err.message);
}

static void sim_reports_what_the_clients_predict_with(void **state)
{
    const char *dir = *state;
    if (!test_dataset_path(FMNIST)) TEST_SKIP(FMNIST " is absent");
    p4_sim_result priv, at0, mix, local_priv, local_mix;
    p4_config priv_cfg, mix_cfg, other_cfg;
    sim(dir, "", P4_METHOD_P4, &priv_cfg, &priv);
    sim(dir, "predict = ensemble\nensemble_weight = 0\n", P4_METHOD_P4, &other_cfg, &at0);
    sim(dir, "predict = ensemble\n", P4_METHOD_P4, &mix_cfg, &mix);
    int differ = 0;
    for (int k = 0; k < priv.clients; k++) {
        assert_true(at0.accuracy[k] == priv.accuracy[k]);
        differ += mix.accuracy[k] != priv.accuracy[k];
    }
    print_message("P4: private %.4f, ensemble %.4f (%d of %d clients differ)\n",
                  priv.mean_accuracy, mix.mean_accuracy, differ, priv.clients);
    assert_true(differ > 0);
    assert_true(mix.epsilon == priv.epsilon && mix.noise_multiplier == priv.noise_multiplier);
    /* the JSON says so, and only then */
    for (int ensemble = 0; ensemble <= 1; ensemble++) {
        p4_run_report report = {.cfg = ensemble ? &mix_cfg : &priv_cfg,
                                .method = P4_METHOD_P4, .epsilon_target = 8,
                                .reproducible = 1, .result = ensemble ? &mix : &priv};
        char *json = NULL;
        size_t len = 0;
        FILE *out = open_memstream(&json, &len);
        assert_non_null(out);
        p4_run_report_json(out, &report);
        fclose(out);
        assert_int_equal(strstr(json, "\"predict\":\"ensemble\",\"ensemble_weight\":0.5") != NULL,
                         ensemble);
        free(json);
    }
    /* local has no proxy: it predicts with its private model either way */
    sim(dir, "", P4_METHOD_LOCAL, &other_cfg, &local_priv);
    sim(dir, "predict = ensemble\n", P4_METHOD_LOCAL, &other_cfg, &local_mix);
    for (int k = 0; k < priv.clients; k++)
        assert_true(local_mix.accuracy[k] == local_priv.accuracy[k]);
    p4_sim_result *all[] = {&priv, &at0, &mix, &local_priv, &local_mix};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        p4_sim_result_free(all[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rows_mix_and_ties_take_the_lowest_class),
        cmocka_unit_test_setup_teardown(a_clients_ensemble_accuracy_is_both_models,
                                        test_temp_dir_setup, test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(sim_reports_what_the_clients_predict_with,
                                        test_temp_dir_setup, test_temp_dir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
