/* test_conv.c: p4's convolution layer (model/conv.c: examples spread over
 * p4's workers, the following max-pool layer pooled as each example is
 * done) and the DP per-example pass give what darknet's own convolution
 * and max-pool layers give, up to float rounding: outputs, per-example
 * gradient norms and weight gradients, on one thread and on two.  (Not bit
 * for bit: OpenBLAS itself may round differently on one thread and on two,
 * in the dense layers too.) */
#define _GNU_SOURCE
#include "support/test_support.h"

#include <darknet.h>
#include <dlfcn.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "dp/per_example.h"
#include "model/gemm.h"
#include "model/darknet_helpers.h"
#include "model/loss.h"
#include "model/model.h"

#define BATCH 24

typedef struct {
    float probs[BATCH * 10];
    float *grads;
    double norms[BATCH];
} pass_result;

typedef void layer_fn(layer, network);

/* Points the network's convolution and max-pool layers at darknet's own
 * functions instead of p4's. */
static void use_darknet_layers(network *net)
{
    layer_fn *conv_forward = (layer_fn *)dlsym(RTLD_NEXT, "forward_convolutional_layer");
    layer_fn *conv_backward = (layer_fn *)dlsym(RTLD_NEXT, "backward_convolutional_layer");
    layer_fn *pool_forward = (layer_fn *)dlsym(RTLD_NEXT, "forward_maxpool_layer");
    layer_fn *pool_backward = (layer_fn *)dlsym(RTLD_NEXT, "backward_maxpool_layer");
    assert_true(conv_forward && conv_backward && pool_forward && pool_backward);
    assert_true(conv_forward != (layer_fn *)forward_convolutional_layer);
    for (int i = 0; i < net->n; i++) {
        layer *l = &net->layers[i];
        if (l->type == CONVOLUTIONAL) {
            assert_true(l->forward == forward_convolutional_layer); /* p4's, by default */
            l->forward = conv_forward;
            l->backward = conv_backward;
        } else if (l->type == MAXPOOL) {
            l->forward = pool_forward;
            l->backward = pool_backward;
        }
    }
}

enum { P4_LAYERS, DARKNET_LAYERS };

/* One forward and backward of a fresh seeded CNN on fixed inputs, with p4's
 * workers and BLAS on `threads` threads. */
static void run_pass(const char *cfg, const p4_cfg_shape *shape, int threads, int layers,
                     int per_example, pass_result *out, size_t *nparams)
{
    p4_gemm_set_threads(threads);
    p4_model *m = NULL;
    p4_error err = {0};
    if (p4_model_new(&m, cfg, shape, BATCH, 11, &err) != P4_OK) fail_msg("%s", err.message);
    if (layers == DARKNET_LAYERS)
        use_darknet_layers(p4_model_network(m));
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

/* p4's layers at `threads` threads against darknet's on one. */
static void same_as_darknet(const char *cfg, const p4_cfg_shape *shape, int threads)
{
    pass_result theirs, mine;
    size_t n;
    run_pass(cfg, shape, 1, DARKNET_LAYERS, 0, &theirs, &n);
    run_pass(cfg, shape, threads, P4_LAYERS, 0, &mine, &n);
    for (int i = 0; i < BATCH * 10; i++)
        if (fabs(theirs.probs[i] - mine.probs[i]) > 1e-6)
            fail_msg("probability %d: %.9g vs %.9g", i, theirs.probs[i], mine.probs[i]);
    double worst = 0, scale = 0;
    for (size_t i = 0; i < n; i++) {
        worst = fmax(worst, fabs((double)theirs.grads[i] - mine.grads[i]));
        scale = fmax(scale, fabs((double)theirs.grads[i]));
    }
    print_message("%s, %d thread(s): largest weight-gradient difference %.3g (largest "
                  "gradient %.3g)\n", cfg, threads, worst, scale);
    assert_true(scale > 0);
    assert_true(worst <= 1e-5 * scale);
    free(theirs.grads);
    free(mine.grads);

    /* The DP pass has its own backward; its forward is the layers'. */
    run_pass(cfg, shape, 1, DARKNET_LAYERS, 1, &theirs, &n);
    run_pass(cfg, shape, threads, P4_LAYERS, 1, &mine, &n);
    for (int b = 0; b < BATCH; b++)
        if (fabs(theirs.norms[b] - mine.norms[b]) > 1e-5 * theirs.norms[b])
            fail_msg("example %d: norm %.9g vs %.9g", b, theirs.norms[b], mine.norms[b]);
    free(theirs.grads);
    free(mine.grads);
    p4_gemm_set_threads(1);
}

static void same_as_one_thread(const char *cfg, const p4_cfg_shape *shape)
{
    same_as_darknet(cfg, shape, 1);
    same_as_darknet(cfg, shape, 2);
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
