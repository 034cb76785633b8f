/* test_conv.c: the convolution spread over BLAS threads (model/conv.c and the
 * DP per-example pass) gives what darknet's one-thread path gives, up to
 * float rounding: outputs, per-example gradient norms and weight gradients.
 * (Not bit for bit: OpenBLAS itself may round differently on one thread and
 * on two, in the dense layers too.) */
#include "support/test_support.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "dp/per_example.h"
#include "model/gemm.h"
#include "model/loss.h"
#include "model/model.h"

#define BATCH 24

typedef struct {
    float probs[BATCH * 10];
    float *grads;
    double norms[BATCH];
} pass_result;

/* One forward and backward of a fresh seeded CNN on fixed inputs, with BLAS
 * (and so the convolution workers) on `threads` threads. */
static void run_pass(const char *cfg, const p4_cfg_shape *shape, int threads, int per_example,
                     pass_result *out, size_t *nparams)
{
    p4_gemm_set_threads(threads);
    p4_model *m = NULL;
    p4_error err = {0};
    if (p4_model_new(&m, cfg, shape, BATCH, 11, &err) != P4_OK) fail_msg("%s", err.message);
    size_t in = (size_t)p4_model_input_size(m);
    float *x = malloc(BATCH * in * sizeof(float)), y[BATCH * 10] = {0};
    p4_rng rng;
    p4_rng_init_seeded(&rng, 5, "conv-test");
    for (size_t i = 0; i < BATCH * in; i++) x[i] = (float)p4_rng_uniform(&rng);
    for (int b = 0; b < BATCH; b++) y[b * 10 + b % 10] = 1;
    assert_int_equal(p4_model_load_inputs(m, x, BATCH), P4_OK);
    p4_model_forward(m, 1);
    memcpy(out->probs, p4_model_probabilities(m), sizeof out->probs);
    p4_loss_cross_entropy(p4_model_probabilities(m), y, BATCH, 10, p4_model_logit_delta(m));
    *nparams = p4_model_param_count(m);
    out->grads = calloc(*nparams, sizeof(float));
    if (per_example) {
        p4_per_example *pe = NULL;
        assert_int_equal(p4_per_example_new(&pe, m, &err), P4_OK);
        assert_int_equal(p4_per_example_backward(pe, out->norms, BATCH), P4_OK);
        p4_per_example_destroy(&pe);
    } else {
        /* gradients accumulate into zeroed updates: fresh model */
        assert_int_equal(p4_model_backward(m), P4_OK);
        p4_model_get_gradients(m, out->grads, *nparams);
    }
    free(x);
    p4_model_destroy(&m);
}

static void same_as_one_thread(const char *cfg, const p4_cfg_shape *shape)
{
    pass_result one, two;
    size_t n;
    run_pass(cfg, shape, 1, 0, &one, &n);
    run_pass(cfg, shape, 2, 0, &two, &n);
    for (int i = 0; i < BATCH * 10; i++)
        if (fabs(one.probs[i] - two.probs[i]) > 1e-6)
            fail_msg("probability %d: %.9g vs %.9g", i, one.probs[i], two.probs[i]);
    double worst = 0, scale = 0;
    for (size_t i = 0; i < n; i++) {
        worst = fmax(worst, fabs((double)one.grads[i] - two.grads[i]));
        scale = fmax(scale, fabs((double)one.grads[i]));
    }
    print_message("%s: largest weight-gradient difference %.3g (largest gradient %.3g)\n", cfg,
                  worst, scale);
    assert_true(scale > 0);
    assert_true(worst <= 1e-5 * scale);
    free(one.grads);
    free(two.grads);

    run_pass(cfg, shape, 1, 1, &one, &n);
    run_pass(cfg, shape, 2, 1, &two, &n);
    for (int b = 0; b < BATCH; b++)
        if (fabs(one.norms[b] - two.norms[b]) > 1e-5 * one.norms[b])
            fail_msg("example %d: norm %.9g vs %.9g", b, one.norms[b], two.norms[b]);
    free(one.grads);
    free(two.grads);
    p4_gemm_set_threads(1);
}

static void cnn1_gray(void **state)
{
    (void)state;
    const p4_cfg_shape shape = { 28, 28, 1, 10 };
    same_as_one_thread("configs/models/cnn1-28x28x1.cfg", &shape);
}

static void lenet_and_cnn1_colour(void **state)
{
    (void)state;
    const p4_cfg_shape gray = { 28, 28, 1, 10 }, colour = { 32, 32, 3, 10 };
    same_as_one_thread("configs/models/lenet5-28x28x1.cfg", &gray);
    same_as_one_thread("configs/models/cnn1-32x32x3.cfg", &colour);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cnn1_gray),
        cmocka_unit_test(lenet_and_cnn1_colour),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
