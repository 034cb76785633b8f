/* test_leakage.c: the membership-inference machinery of `p4 leakage` can
 * fail, and its partitioned setting sees only what leaves the TA.
 *
 * - The threshold attack: perfectly separated scores give advantage 1 (in
 *   either direction), scores that ignore membership give about 0 held out
 *   (while the in-sample best is clearly positive: why the threshold is
 *   fitted on the other half), the halves are balanced, the interval is
 *   Student's.
 * - On Fashion-MNIST (skipped without it): a model trained to memorise
 *   random labels loses to the whole-model loss attack (advantage > 0.5);
 *   an untrained one does not (|advantage| < 0.3 for every attack); with
 *   public-pretrain keys, the models attacked are the pretrained ones.
 * - Setting (b): after the partition is in place the normal world's copy of
 *   the protected layers is zero; the view's top-1 classes equal the whole
 *   model's; exactly 4 bytes leave the TA per query; and scrambling the
 *   normal world's copy of the protected layers changes none of the scores
 *   (so none of them is computed from logits in the normal world). */
#include "support/test_support.h"

#include <darknet.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "common/rng.h"
#include "dp/protected.h"
#include "model/model.h"
#include "p4node/leakage.h"
#include "tee/enclave.h"

#define FMNIST "/usr/share/datasets/fashion-mnist"
#define DEFAULT_CONFIG "configs/fmnist-p4.ini"

static void attack_advantage(const double *score, const unsigned char *member, int n,
                             p4_mia_result *r)
{
    unsigned char *half = malloc((size_t)n);
    p4_rng rng;
    p4_rng_init_seeded(&rng, 7, "test-halves");
    p4_error err = {0};
    assert_int_equal(p4_mia_halves(member, n, &rng, half, &err), P4_OK);
    if (p4_mia_advantage(score, member, n, half, r, &err) != P4_OK)
        fail_msg("%s", err.message);
    free(half);
}

static void separated_scores_give_advantage_one_in_either_direction(void **state)
{
    (void)state;
    enum { N = 200 };
    double score[N], reversed[N];
    unsigned char member[N];
    for (int i = 0; i < N; i++) {
        member[i] = i % 2;
        score[i] = member[i] ? 1000 + i : i;   /* every member above every other */
        reversed[i] = -score[i];
    }
    p4_mia_result r;
    attack_advantage(score, member, N, &r);
    assert_float_equal(r.advantage, 1.0, 1e-12);
    assert_float_equal(r.in_sample, 1.0, 1e-12);
    attack_advantage(reversed, member, N, &r);
    assert_float_equal(r.advantage, 1.0, 1e-12);
    /* Label-only scores: correct on every member and half the others. */
    for (int i = 0; i < N; i++)
        score[i] = member[i] ? 1 : (i / 2) % 2;
    attack_advantage(score, member, N, &r);
    assert_float_equal(r.advantage, 0.5, 0.08);
}

static void scores_without_signal_give_about_zero_held_out(void **state)
{
    (void)state;
    enum { N = 4000 };
    double *score = malloc(N * sizeof *score);
    unsigned char *member = malloc(N);
    p4_rng rng;
    p4_rng_init_seeded(&rng, 3, "test-noise");
    for (int i = 0; i < N; i++) {
        member[i] = i < N / 2;
        score[i] = p4_rng_gaussian(&rng);
    }
    p4_mia_result r;
    attack_advantage(score, member, N, &r);
    /* sd of a held-out figure here is about 0.02; in-sample overfits. */
    assert_true(fabs(r.advantage) < 0.08);
    assert_true(r.in_sample > r.advantage);
    assert_true(r.in_sample > 0.0);
    free(score);
    free(member);
}

static void halves_are_balanced_and_bad_input_is_refused(void **state)
{
    (void)state;
    enum { N = 101 };
    unsigned char member[N], half[N];
    for (int i = 0; i < N; i++)
        member[i] = i < 60;
    p4_rng rng;
    p4_rng_init_seeded(&rng, 1, "test");
    assert_int_equal(p4_mia_halves(member, N, &rng, half, NULL), P4_OK);
    int count[2][2] = { { 0, 0 }, { 0, 0 } };
    for (int i = 0; i < N; i++)
        count[half[i]][member[i]]++;
    assert_int_equal(count[0][1], 30);
    assert_int_equal(count[1][1], 30);
    assert_true(abs(count[0][0] - count[1][0]) <= 1);
    double score[N];
    for (int i = 0; i < N; i++)
        score[i] = i;
    int idx[N];
    for (int i = 0; i < N; i++)
        idx[i] = i;
    p4_mia_threshold fit;
    p4_error err = {0};
    assert_int_equal(p4_mia_fit(score, member, idx, 50, &fit, &err), P4_EINVAL); /* members only */
    score[3] = NAN;
    assert_int_equal(p4_mia_fit(score, member, idx, N, &fit, &err), P4_EINVAL);
    assert_non_null(strstr(err.message, "example 3"));
    double v[3] = { 1, 2, 3 }, mean, hw;
    p4_mia_mean_ci(v, 3, &mean, &hw);
    assert_float_equal(mean, 2.0, 1e-12);
    assert_float_equal(hw, 4.303 * 1.0 / sqrt(3.0), 1e-9);
    p4_mia_mean_ci(v, 1, &mean, &hw);
    assert_true(isnan(hw));
}

static void fmnist_request(p4_config *cfg, p4_leakage_options *opt)
{
    p4_error err = {0};
    if (p4_config_load(DEFAULT_CONFIG, cfg, &err) != P4_OK)
        fail_msg("%s", err.message);
    p4_leakage_options_defaults(opt);
    opt->queries = 4;
}

static void run(const p4_config *cfg, const p4_leakage_options *opt, p4_leakage_result *r)
{
    p4_error err = {0};
    if (p4_leakage_run(cfg, opt, r, &err) != P4_OK)
        fail_msg("%s", err.message);
    for (int t = 0; t < 2; t++)
        print_message("leakage %s: loss %.3f confidence %.3f label %.3f label-noise %.3f "
                      "activation %.3f; accuracy %.2f / %.2f\n", r->target[t].name,
                      r->target[t].attack[P4_LEAK_LOSS].advantage,
                      r->target[t].attack[P4_LEAK_CONFIDENCE].advantage,
                      r->target[t].attack[P4_LEAK_LABEL].advantage,
                      r->target[t].attack[P4_LEAK_LABEL_NOISE].advantage,
                      r->target[t].attack[P4_LEAK_ACTIVATION].advantage,
                      r->target[t].train_accuracy, r->target[t].test_accuracy);
}

static void a_memorising_model_loses_to_the_loss_attack(void **state)
{
    (void)state;
    if (!test_dataset_path(FMNIST)) TEST_SKIP(FMNIST " is absent");
    p4_config cfg;
    p4_leakage_options opt;
    fmnist_request(&cfg, &opt);
    opt.random_labels = 1;   /* epsilon inf: nothing stops memorising */
    cfg.rounds = 100;
    p4_leakage_result r;
    run(&cfg, &opt, &r);
    assert_int_equal(r.members, 100);
    assert_int_equal(r.non_members, 100);
    assert_true(r.target[0].train_accuracy > 0.8);      /* memorised */
    assert_true(r.target[0].attack[P4_LEAK_LOSS].advantage > 0.5);
    assert_int_equal(r.target[0].guarantee, P4_DP_NONE);
    assert_int_equal(r.target[0].pp_start, 2);          /* the MLP's output layer */
    assert_int_equal(r.target[0].pp_end, 3);
    assert_int_equal(r.target[1].pp_start, 0);          /* the whole logistic proxy */
}

static void an_untrained_model_gives_the_attacks_nothing(void **state)
{
    (void)state;
    if (!test_dataset_path(FMNIST)) TEST_SKIP(FMNIST " is absent");
    p4_config cfg;
    p4_leakage_options opt;
    fmnist_request(&cfg, &opt);
    opt.untrained = 1;
    opt.epsilon = 4;
    p4_leakage_result r;
    run(&cfg, &opt, &r);
    /* A held-out figure from 50 + 50 examples has sd about 0.1. */
    for (int t = 0; t < 2; t++)
        for (int a = 0; a < P4_LEAK_ATTACKS; a++)
            assert_true(fabs(r.target[t].attack[a].advantage) < 0.3);
    assert_int_equal(r.target[1].guarantee, P4_DP_HOLDS);
}

/* p4 leakage opens its client as p4_peer_open does: with [model] proxy_init
 * and private_init = public-pretrain, the untrained models attacked are the
 * pretrained ones, far above the random ones' chance accuracy. */
static void the_pretrained_models_are_the_ones_attacked(void **state)
{
    (void)state;
    if (!test_dataset_path(FMNIST)) TEST_SKIP(FMNIST " is absent");
    p4_config cfg;
    p4_leakage_options opt;
    fmnist_request(&cfg, &opt);
    opt.untrained = 1;
    p4_leakage_result random_init, pretrained;
    run(&cfg, &opt, &random_init);
    snprintf(cfg.proxy_init, sizeof cfg.proxy_init, "public-pretrain");
    snprintf(cfg.private_init, sizeof cfg.private_init, "public-pretrain");
    cfg.public_count = 1000;
    run(&cfg, &opt, &pretrained);
    for (int t = 0; t < 2; t++) {
        print_message("%s: test accuracy %.2f random, %.2f pretrained\n", random_init.target[t].name,
                      random_init.target[t].test_accuracy, pretrained.target[t].test_accuracy);
        assert_true(pretrained.target[t].test_accuracy >
                    random_init.target[t].test_accuracy + 0.3);
    }
}

/* A model, inputs and labels for the partition checks (no dataset needed). */
typedef struct {
    p4_model *model;
    float *x;
    int *y, *top1;
    int n;
} fixture;

static void fixture_open(fixture *f)
{
    p4_cfg_shape shape = { 28, 28, 1, 10 };
    p4_error err = {0};
    if (p4_model_new(&f->model, "configs/models/mlp-28x28x1.cfg", &shape, 20, 5, &err) != P4_OK)
        fail_msg("%s", err.message);
    f->n = 40;
    f->x = malloc((size_t)f->n * 784 * sizeof *f->x);
    f->y = malloc((size_t)f->n * sizeof *f->y);
    f->top1 = malloc((size_t)f->n * sizeof *f->top1);
    p4_rng rng;
    p4_rng_init_seeded(&rng, 11, "test-inputs");
    for (int i = 0; i < f->n * 784; i++)
        f->x[i] = (float)p4_rng_uniform(&rng);
    assert_int_equal(p4_model_predict(f->model, f->x, f->n, NULL, f->top1), P4_OK);
    for (int i = 0; i < f->n; i++)  /* half right, half wrong */
        f->y[i] = i % 2 ? f->top1[i] : (f->top1[i] + 1) % 10;
}

static void partition_view_reads_no_logits(void **state)
{
    char *dir = *state;
    fixture f;
    fixture_open(&f);
    p4_enclave_optee_options o = { .delta = 1e-5, .target_epsilon = 1, .pp_start = 2,
                                   .pp_end = 3, .storage_dir = dir };
    p4_enclave *ta = NULL;
    p4_protected *prot = NULL;
    p4_error err = {0};
    if (p4_enclave_open_optee(&ta, &o, &err) != P4_OK ||
        p4_protected_new(&prot, f.model, ta, &err) != P4_OK)
        fail_msg("%s", err.message);
    /* The normal world's copy of the protected layer is gone. */
    layer *top = &p4_model_network(f.model)->layers[2];
    for (int j = 0; j < top->inputs * top->outputs; j++)
        assert_true(top->weights[j] == 0.0f);
    enum { QUERIES = 3 };
    double label[40], noisy[40], act[40], label2[40], noisy2[40], act2[40];
    uint64_t in0, out0, in1, out1;
    p4_rng rng;
    p4_enclave_traffic(ta, &in0, &out0);
    p4_rng_init_seeded(&rng, 2, "test-queries");
    if (p4_leakage_partition_view(f.model, prot, 2, f.x, f.y, f.n, QUERIES, 0.1, &rng, label,
                                  noisy, act, &err) != P4_OK)
        fail_msg("%s", err.message);
    p4_enclave_traffic(ta, &in1, &out1);
    /* One int32 per query leaves the TA, nothing else. */
    assert_int_equal(out1 - out0, (uint64_t)4 * f.n * (1 + QUERIES));
    for (int i = 0; i < f.n; i++) {
        assert_true(label[i] == (i % 2 ? 1.0 : 0.0));   /* the TA's top-1 is the model's */
        assert_true(noisy[i] >= 0 && noisy[i] <= 1);
        assert_true(act[i] > 0);
    }
    /* Garbage in the normal world's copy of the protected layers changes
     * nothing: the view never runs them. */
    for (int j = 0; j < top->inputs * top->outputs; j++)
        top->weights[j] = (float)(j % 7) - 3.0f;
    for (int j = 0; j < top->outputs; j++)
        top->biases[j] = 100.0f * (float)j;
    p4_rng_init_seeded(&rng, 2, "test-queries");
    if (p4_leakage_partition_view(f.model, prot, 2, f.x, f.y, f.n, QUERIES, 0.1, &rng, label2,
                                  noisy2, act2, &err) != P4_OK)
        fail_msg("%s", err.message);
    assert_memory_equal(label, label2, sizeof label);
    assert_memory_equal(noisy, noisy2, sizeof noisy);
    assert_memory_equal(act, act2, sizeof act);
    assert_int_equal(p4_leakage_partition_view(f.model, prot, 2, f.x, f.y, f.n, QUERIES, 0.1,
                                               NULL, label, noisy, act, &err), P4_EINVAL);
    p4_protected_destroy(&prot);
    p4_enclave_close(&ta);
    p4_model_destroy(&f.model);
    free(f.x);
    free(f.y);
    free(f.top1);
}

static void the_command_prints_its_fields(void **state)
{
    char *dir = *state;
    if (!test_dataset_path(FMNIST)) TEST_SKIP(FMNIST " is absent");
    const char *bin = getenv("P4_BIN");
    if (!bin) TEST_SKIP("P4_BIN is not set");
    char out[4200], errf[4200], json[4200];
    test_path_in(dir, "out", out, sizeof out);
    test_path_in(dir, "err", errf, sizeof errf);
    test_path_in(dir, "run.json", json, sizeof json);
    char *argv[] = { (char *)bin, "leakage", "--config", DEFAULT_CONFIG, "--queries", "2",
                     "--quiet", "--json-file", json, NULL };
    int pid = test_spawn(argv, out, errf);
    int status = 0;
    assert_true(pid > 0);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    char *text = test_read_all(out), *js = test_read_all(json), value[64];
    assert_non_null(strstr(text, "(a) whole model"));
    assert_non_null(strstr(text, "(b) partition"));
    test_json_value(js, "members", value, sizeof value);
    assert_string_equal(value, "100");
    test_json_value(js, "dp_guarantee", value, sizeof value);
    assert_string_equal(value, "\"none\"");            /* the private model comes first */
    assert_non_null(strstr(js, "\"dp_guarantee\":\"holds\"")); /* the proxy at epsilon 4 */
    assert_non_null(strstr(js, "\"name\":\"label-noise\",\"setting\":\"partition\""));
    free(text);
    free(js);
    char *bad[] = { (char *)bin, "leakage", "--config", DEFAULT_CONFIG, "--queries", "x", NULL };
    pid = test_spawn(bad, out, errf);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(separated_scores_give_advantage_one_in_either_direction),
        cmocka_unit_test(scores_without_signal_give_about_zero_held_out),
        cmocka_unit_test(halves_are_balanced_and_bad_input_is_refused),
        cmocka_unit_test(a_memorising_model_loses_to_the_loss_attack),
        cmocka_unit_test(an_untrained_model_gives_the_attacks_nothing),
        cmocka_unit_test(the_pretrained_models_are_the_ones_attacked),
        cmocka_unit_test_setup_teardown(partition_view_reads_no_logits, test_temp_dir_setup,
                                        test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(the_command_prints_its_fields, test_temp_dir_setup,
                                        test_temp_dir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL); /* the macro already maps skips to 77 */
}
