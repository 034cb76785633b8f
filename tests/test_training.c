/* test_training.c: real training on real Fashion-MNIST (Debian's
 * dataset-fashion-mnist): accuracy rises far above chance, seeded runs
 * repeat exactly, and DP-SGD learns too; a step run in passes (model.h)
 * is the step of its summed gradients. */
#include "support/test_support.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "datasets/loaders.h"
#include "dp/dpsgd.h"
#include "model/loss.h"
#include "model/model.h"
#include "model/optimizer.h"
#include "model/trainer.h"
#include "tee/enclave.h"

#define FMNIST "/usr/share/datasets/fashion-mnist"

typedef struct {
    p4_dataset *train, *test;
    int *train_idx, *test_idx;
} data;

static int load(data *d)
{
    if (test_dataset_path(FMNIST) == NULL)
        return -1;
    p4_error err = {0};
    if (p4_load_fashion_mnist(FMNIST, "train", 6000, &d->train, &err) != 0 ||
        p4_load_fashion_mnist(FMNIST, "test", 2000, &d->test, &err) != 0)
        fail_msg("%s", err.message);
    d->train_idx = malloc(d->train->count * sizeof(int));
    d->test_idx = malloc(d->test->count * sizeof(int));
    for (int i = 0; i < d->train->count; i++)
        d->train_idx[i] = i;
    for (int i = 0; i < d->test->count; i++)
        d->test_idx[i] = i;
    return 0;
}

static void unload(data *d)
{
    p4_dataset_destroy(&d->train);
    p4_dataset_destroy(&d->test);
    free(d->train_idx);
    free(d->test_idx);
}

static const p4_cfg_shape gray28 = {28, 28, 1, 10};

/* Trains the MLP for `epochs` plain epochs; returns accuracy, params in *out. */
static double train_plain(data *d, int epochs, uint64_t seed, float **out, size_t *n)
{
    p4_model *m = NULL;
    p4_sgd *s = NULL;
    p4_error err = {0};
    assert_int_equal(p4_model_new(&m, "configs/models/mlp-28x28x1.cfg", &gray28, 32, seed, &err), 0);
    assert_int_equal(p4_sgd_new(&s, m, 0.01, 0.9, 0, &err), 0);
    p4_rng rng;
    p4_rng_init_seeded(&rng, seed, "batch-order");
    double before;
    assert_int_equal(p4_evaluate(m, d->test, d->test_idx, d->test->count, &before, NULL, &err), 0);
    assert_true(before < 0.3); /* untrained: near chance */
    for (int e = 0; e < epochs; e++) {
        p4_epoch_stats st;
        assert_int_equal(p4_train_epoch(m, s, d->train, d->train_idx, d->train->count, &rng,
                                        NULL, NULL, &st, &err), 0);
        assert_true(st.examples == d->train->count);
        assert_true(isfinite(st.mean_loss));
    }
    double acc;
    assert_int_equal(p4_evaluate(m, d->test, d->test_idx, d->test->count, &acc, NULL, &err), 0);
    *n = p4_model_param_count(m);
    *out = malloc(*n * sizeof(float));
    p4_model_get_params(m, *out, *n);
    p4_sgd_destroy(&s);
    p4_model_destroy(&m);
    return acc;
}

static void test_plain_training_learns_and_repeats(void **state)
{
    (void)state;
    data d;
    if (load(&d) != 0)
        TEST_SKIP(FMNIST " is absent (apt-get install dataset-fashion-mnist)");
    float *a, *b;
    size_t n;
    double acc_a = train_plain(&d, 3, 4, &a, &n);
    double acc_b = train_plain(&d, 3, 4, &b, &n);
    print_message("MLP, 6000 examples, 3 epochs: test accuracy %.3f\n", acc_a);
    assert_true(acc_a > 0.75); /* chance is 0.10 */
    assert_true(acc_a == acc_b);
    assert_memory_equal(a, b, n * sizeof(float)); /* seeded runs repeat bit for bit */
    free(a);
    free(b);
    unload(&d);
}

static void test_dp_training_learns(void **state)
{
    (void)state;
    data d;
    if (load(&d) != 0)
        TEST_SKIP(FMNIST " is absent (apt-get install dataset-fashion-mnist)");
    p4_model *m = NULL;
    p4_sgd *s = NULL;
    p4_enclave *enclave = NULL;
    p4_dpsgd *dp = NULL;
    p4_error err = {0};
    assert_int_equal(p4_model_new(&m, "configs/models/mlp-28x28x1.cfg", &gray28, 64, 1, &err), 0);
    assert_int_equal(p4_sgd_new(&s, m, 0.1, 0.9, 0, &err), 0);
    assert_int_equal(p4_enclave_open_software(&enclave, 1, 9, &err), 0);
    p4_dpsgd_params params = {.sample_rate = 64.0 / 6000, .noise_multiplier = 1.0, .clip_norm = 1.0};
    assert_int_equal(p4_dpsgd_new(&dp, m, s, &params, enclave, &err), 0);
    p4_rng rng;
    p4_rng_init_seeded(&rng, 1, "poisson");
    for (int e = 0; e < 3; e++) {
        p4_epoch_stats st;
        assert_int_equal(p4_dpsgd_epoch(dp, d.train, d.train_idx, d.train->count, &rng, NULL,
                                        "model", "train", NULL, NULL, &st, &err), 0);
        assert_true(st.steps == p4_dpsgd_steps_per_epoch(params.sample_rate));
    }
    double acc;
    assert_int_equal(p4_evaluate(m, d.test, d.test_idx, d.test->count, &acc, NULL, &err), 0);
    print_message("DP-SGD MLP (sigma 1, C 1), 3 epochs: test accuracy %.3f\n", acc);
    assert_true(acc > 0.55);
    p4_dpsgd_destroy(&dp);
    p4_enclave_close(&enclave);
    p4_sgd_destroy(&s);
    p4_model_destroy(&m);
    unload(&d);
}

/* One step of 150 examples on a model that runs it in passes equals one
 * step on the 150 one-example gradients summed. */
static void test_step_in_passes_is_the_summed_step(void **state)
{
    (void)state;
    enum { N = 150 };
    const char *cfg = "configs/models/cnn1-28x28x1.cfg";
    p4_model *whole = NULL, *single = NULL;
    p4_sgd *sw = NULL, *ss = NULL;
    p4_error err = {0};
    assert_int_equal(p4_model_new(&whole, cfg, &gray28, N, 5, &err), 0);
    assert_int_equal(p4_model_new(&single, cfg, &gray28, 1, 5, &err), 0);
    assert_int_equal(p4_model_batch(whole), N);
    assert_true(p4_model_capacity(whole) < N); /* several passes */
    assert_true(p4_model_capacity(whole) >= P4_PASS_MIN_EXAMPLES);
    assert_int_equal(p4_sgd_new(&sw, whole, 0.05, 0.0, 0.0, &err), 0);
    assert_int_equal(p4_sgd_new(&ss, single, 0.05, 0.0, 0.0, &err), 0);
    float *x = malloc((size_t)N * 784 * sizeof(float)), *y = calloc((size_t)N * 10, sizeof(float));
    for (int i = 0; i < N * 784; i++)
        x[i] = (float)((i * 7919) % 256) / 255.0f;
    for (int b = 0; b < N; b++)
        y[b * 10 + (b * 3) % 10] = 1.0f;
    double loss_whole = 0, loss_single = 0;
    assert_int_equal(p4_train_step(whole, sw, x, y, N, &loss_whole), 0);
    p4_sgd_zero_grad(ss);
    for (int b = 0; b < N; b++) {
        assert_int_equal(p4_model_load_inputs(single, x + (size_t)b * 784, 1), 0);
        p4_model_forward(single, 1);
        loss_single += p4_loss_cross_entropy(p4_model_probabilities(single), y + b * 10, 1, 10,
                                             p4_model_logit_delta(single));
        p4_model_backward(single);
    }
    assert_int_equal(p4_sgd_step(ss, N), 0);
    assert_true(fabs(loss_whole - loss_single) <= 1e-4 * fabs(loss_single));
    size_t n = p4_model_param_count(whole);
    float *pw = malloc(n * sizeof(float)), *ps = malloc(n * sizeof(float));
    assert_int_equal(p4_model_get_params(whole, pw, n), 0);
    assert_int_equal(p4_model_get_params(single, ps, n), 0);
    double worst = 0;
    for (size_t i = 0; i < n; i++)
        worst = fmax(worst, fabs((double)pw[i] - ps[i]));
    print_message("largest parameter difference after the step: %.3g\n", worst);
    assert_true(worst <= 1e-6);
    free(x); free(y); free(pw); free(ps);
    /* The MLP's outputs (410 floats an example) fit the budget in one pass
     * of 250; CNN1's (about 9,900) take passes of about equal size. */
    p4_model *mlp = NULL, *cnn = NULL;
    assert_int_equal(p4_model_new(&mlp, "configs/models/mlp-28x28x1.cfg", &gray28, 250, 1, &err), 0);
    assert_int_equal(p4_model_new(&cnn, cfg, &gray28, 250, 1, &err), 0);
    assert_int_equal(p4_model_capacity(mlp), 250);
    const int cap = p4_model_capacity(cnn), passes = (250 + cap - 1) / cap;
    assert_true(cap < 250 && passes * cap >= 250 && (passes - 1) * cap < 250);
    assert_true((long long)cap * 9884 <= P4_PASS_BUDGET_FLOATS);
    p4_model_destroy(&mlp);
    p4_model_destroy(&cnn);
    p4_sgd_destroy(&sw);
    p4_sgd_destroy(&ss);
    p4_model_destroy(&whole);
    p4_model_destroy(&single);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_training_learns_and_repeats),
        cmocka_unit_test(test_dp_training_learns),
        cmocka_unit_test(test_step_in_passes_is_the_summed_step),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
