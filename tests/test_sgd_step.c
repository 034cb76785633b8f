/* test_sgd_step.c: p4_sgd_step (model/optimizer.c) steps in blocks split
 * over p4's threads and zeroes each gradient block once it is used, so
 * that the next p4_sgd_zero_grad has nothing to do.  Checked: at 1, 2, 3
 * and 5 threads the parameters and velocities equal, bit for bit, one
 * p4_sgd_tensor_step over the whole flattened model (tensors of odd sizes,
 * shares and blocks that start and end inside tensors); the gradients are
 * zero after a step; and zero_grad (split too) still clears gradients
 * written after it skipped its pass, after a rebind to another network,
 * and on a fresh optimiser; frozen layers (p4_sgd_freeze) take no step,
 * not even weight decay. */
#include "support/test_support.h"

#include <darknet.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "common/workers.h"
#include "model/fs_sgd.h"
#include "model/model.h"
#include "model/optimizer.h"

/* Tensors of 102,704, 131, 8,777, 67, 670 and 10 floats (112,359 in all,
 * enough to be split): none a multiple of the step's 4,096-float block. */
static const char odd_cfg[] = "[net]\nwidth=28\nheight=28\nchannels=1\n\n"
                              "[connected]\noutput=131\nactivation=relu\n\n"
                              "[connected]\noutput=67\nactivation=relu\n\n"
                              "[connected]\noutput=classes\nactivation=linear\n\n"
                              "[softmax]\ngroups=1\n";
static const p4_cfg_shape odd_shape = { 28, 28, 1, 10 };

/* The model of odd_cfg, its cfg written into the test's folder dir. */
static void odd_model(const char *dir, p4_model **out, uint64_t seed)
{
    char path[1100];
    test_write_text(dir, "odd.cfg", odd_cfg, path, sizeof path);
    p4_error err = { 0 };
    if (p4_model_new(out, path, &odd_shape, 4, seed, &err) != P4_OK)
        fail_msg("%s", err.message);
}

static void fill(p4_rng *rng, float *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        v[i] = (float)(2 * p4_rng_uniform(rng) - 1);
}

/* Writes values into every gradient of the model (darknet's buffers). */
static void dirty_gradients(p4_model *model, p4_rng *rng)
{
    network *net = p4_model_network(model);
    for (int i = 0; i < net->n; i++) {
        layer *l = &net->layers[i];
        if (l->type != CONNECTED)
            continue;
        fill(rng, l->weight_updates, (size_t)l->inputs * l->outputs);
        fill(rng, l->bias_updates, (size_t)l->outputs);
    }
}

static void assert_gradients_zero(p4_model *model)
{
    size_t n = p4_model_param_count(model);
    float *g = malloc(n * sizeof(float));
    assert_non_null(g);
    assert_int_equal(p4_model_get_gradients(model, g, n), P4_OK);
    for (size_t k = 0; k < n; k++)
        if (g[k] != 0.0f)
            fail_msg("gradient %zu of %zu is %g, not zero", k, n, g[k]);
    free(g);
}

static void test_step_matches_flat_step(void **state)
{
    const char *dir = *state;
    p4_model *model = NULL;
    p4_sgd *sgd = NULL;
    p4_error err = { 0 };
    odd_model(dir, &model, 3);
    const double lr = 0.05, mu = 0.9, decay = 1e-3, divisor = 37;
    assert_int_equal(p4_sgd_new(&sgd, model, lr, mu, decay, &err), P4_OK);
    const size_t n = p4_model_param_count(model);
    assert_int_equal(p4_sgd_velocity_count(sgd), n);
    float *value = malloc(n * sizeof(float)), *grad = malloc(n * sizeof(float));
    float *velocity = malloc(n * sizeof(float)), *got = malloc(n * sizeof(float));
    assert_true(value && grad && velocity && got);
    p4_rng rng;
    p4_rng_init_seeded(&rng, 5, "sgd-step");
    fill(&rng, velocity, n);
    assert_int_equal(p4_sgd_set_velocity(sgd, velocity, n), P4_OK);
    const int threads[] = { 1, 2, 3, 5 };
    for (int step = 0; step < 4; step++) {
        p4_workers_set_threads(threads[step]);
        p4_sgd_zero_grad(sgd);
        dirty_gradients(model, &rng);
        assert_int_equal(p4_model_get_params(model, value, n), P4_OK);
        assert_int_equal(p4_model_get_gradients(model, grad, n), P4_OK);
        /* the reference: one pass over everything, the same expression */
        p4_sgd_tensor_step(value, grad, velocity, n, (float)(-1.0 / divisor), (float)lr,
                           (float)mu, (float)decay);
        assert_int_equal(p4_sgd_step(sgd, divisor), P4_OK);
        assert_int_equal(p4_model_get_params(model, got, n), P4_OK);
        assert_memory_equal(got, value, n * sizeof(float));
        assert_int_equal(p4_sgd_get_velocity(sgd, got, n), P4_OK);
        assert_memory_equal(got, velocity, n * sizeof(float));
        assert_gradients_zero(model);
    }
    p4_rng_wipe(&rng);
    free(value);
    free(grad);
    free(velocity);
    free(got);
    p4_sgd_destroy(&sgd);
    p4_model_destroy(&model);
}

static void test_zero_grad_after_skipping(void **state)
{
    const char *dir = *state;
    p4_model *a = NULL, *b = NULL;
    p4_sgd *sgd = NULL;
    p4_error err = { 0 };
    odd_model(dir, &a, 3);
    odd_model(dir, &b, 4);
    p4_rng rng;
    p4_rng_init_seeded(&rng, 6, "sgd-zero");
    p4_workers_set_threads(3);
    /* a fresh optimiser zeroes what is there */
    dirty_gradients(a, &rng);
    assert_int_equal(p4_sgd_new(&sgd, a, 0.1, 0.5, 0.0, &err), P4_OK);
    p4_sgd_zero_grad(sgd);
    assert_gradients_zero(a);
    /* step; a zero_grad with nothing to do; gradients written after it
     * are cleared by the next one */
    dirty_gradients(a, &rng);
    assert_int_equal(p4_sgd_step(sgd, 2), P4_OK);
    p4_sgd_zero_grad(sgd);
    assert_gradients_zero(a);
    dirty_gradients(a, &rng);
    p4_sgd_zero_grad(sgd);
    assert_gradients_zero(a);
    /* a step, then another network (a borrowed one): its gradients are
     * not the ones the step zeroed */
    dirty_gradients(a, &rng);
    assert_int_equal(p4_sgd_step(sgd, 2), P4_OK);
    dirty_gradients(b, &rng);
    assert_int_equal(p4_sgd_rebind(sgd, b), P4_OK);
    p4_sgd_zero_grad(sgd);
    assert_gradients_zero(b);
    p4_rng_wipe(&rng);
    p4_sgd_destroy(&sgd);
    p4_model_destroy(&a);
    p4_model_destroy(&b);
}

/* p4_sgd_freeze: the first layers take no step, not even weight decay or
 * momentum, while the layers above step as before and every gradient is
 * zeroed; 0 unfreezes; freezing every layer is refused. */
static void test_frozen_layers_take_no_step(void **state)
{
    const char *dir = *state;
    p4_model *model = NULL;
    odd_model(dir, &model, 3);
    p4_sgd *sgd = NULL;
    p4_error err = {0};
    assert_int_equal(p4_sgd_new(&sgd, model, 0.1, 0.9, 0.01, &err), P4_OK);
    assert_int_equal(p4_sgd_freeze(sgd, 3), P4_EINVAL); /* nothing left to train */
    assert_int_equal(p4_sgd_freeze(sgd, -1), P4_EINVAL);
    assert_int_equal(p4_sgd_freeze(sgd, 2), P4_OK);
    size_t n = p4_model_param_count(model), o2, l2;
    assert_int_equal(p4_model_param_layer(model, 2, &o2, &l2), P4_OK);
    float *before = malloc(n * sizeof(float)), *after = malloc(n * sizeof(float));
    assert_non_null(before);
    assert_non_null(after);
    assert_int_equal(p4_model_get_params(model, before, n), P4_OK);
    p4_rng rng;
    p4_rng_init_seeded(&rng, 5, "test_sgd_step freeze");
    for (int step = 0; step < 3; step++) {
        dirty_gradients(model, &rng);
        assert_int_equal(p4_sgd_step(sgd, 4.0), P4_OK);
        assert_gradients_zero(model);
    }
    assert_int_equal(p4_model_get_params(model, after, n), P4_OK);
    assert_memory_equal(before, after, o2 * sizeof(float)); /* layers 0 and 1 */
    assert_memory_not_equal(before + o2, after + o2, l2 * sizeof(float));
    /* unfrozen, the first layers step again (weight decay alone moves them) */
    assert_int_equal(p4_sgd_freeze(sgd, 0), P4_OK);
    assert_int_equal(p4_sgd_step(sgd, 4.0), P4_OK);
    assert_int_equal(p4_model_get_params(model, before, n), P4_OK);
    assert_memory_not_equal(before, after, o2 * sizeof(float));
    free(before);
    free(after);
    p4_sgd_destroy(&sgd);
    p4_model_destroy(&model);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_step_matches_flat_step, test_temp_dir_setup,
                                        test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(test_frozen_layers_take_no_step, test_temp_dir_setup,
                                        test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(test_zero_grad_after_skipping, test_temp_dir_setup,
                                        test_temp_dir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
