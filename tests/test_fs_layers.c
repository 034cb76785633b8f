/* test_fs_layers.c: the freestanding layer kernels the OP-TEE TA runs
 * (model/fs_connected.c, fs_softmax.c, fs_activation.c) against darknet's
 * own connected layer, its update and its softmax. */
#include "support/test_support.h"

#include <darknet.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/rng.h"
#include "model/fs_connected.h"
#include "model/fs_softmax.h"

/* libdarknet.so exports these; darknet.h does not declare them. */
layer make_connected_layer(int batch, int inputs, int outputs, ACTIVATION activation,
                           int batch_normalize, int adam);
void forward_connected_layer(layer l, network net);
void backward_connected_layer(layer l, network net);

static void fill(p4_rng *rng, float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) x[i] = (float)(2 * p4_rng_uniform(rng) - 1);
}

static void assert_close(const float *got, const float *want, size_t n, double tol,
                         const char *what)
{
    for (size_t i = 0; i < n; i++)
        if (fabs((double)got[i] - want[i]) > tol * (1 + fabs((double)want[i])))
            fail_msg("%s[%zu]: %.9g, darknet %.9g", what, i, got[i], want[i]);
}

static void connected_matches_darknet(void **state)
{
    (void)state;
    p4_rng rng;
    assert_int_equal(p4_rng_init_seeded(&rng, 11, "fs-layers"), P4_OK);
    const ACTIVATION darknet_act[] = { LINEAR, RELU, LEAKY, LOGISTIC };
    const p4_activation mine_act[] = { P4_ACT_LINEAR, P4_ACT_RELU, P4_ACT_LEAKY,
                                       P4_ACT_LOGISTIC };
    const int batch = 5, inputs = 37, outputs = 11;
    for (int a = 0; a < 4; a++) {
        layer l = make_connected_layer(batch, inputs, outputs, darknet_act[a], 0, 0);
        size_t nw = (size_t)inputs * outputs, no = (size_t)batch * outputs,
               ni = (size_t)batch * inputs;
        float *in = malloc(ni * sizeof *in), *w = malloc(nw * sizeof *w),
              *b = malloc(outputs * sizeof *b), *out = malloc(no * sizeof *out),
              *delta = malloc(no * sizeof *delta), *wg = calloc(nw, sizeof *wg),
              *bg = calloc(outputs, sizeof *bg), *in_delta = calloc(ni, sizeof *in_delta),
              *their_in_delta = calloc(ni, sizeof *their_in_delta);
        fill(&rng, in, ni);
        fill(&rng, w, nw);
        fill(&rng, b, outputs);
        memcpy(l.weights, w, nw * sizeof *w);
        memcpy(l.biases, b, outputs * sizeof *b);

        network net;
        memset(&net, 0, sizeof net);
        net.input = in;
        net.train = 1;
        forward_connected_layer(l, net);
        p4_connected_forward(out, in, w, b, batch, inputs, outputs, mine_act[a]);
        assert_close(out, l.output, no, 1e-5, "forward");

        /* Same upstream gradient for both; darknet's delta lives in l.delta. */
        fill(&rng, delta, no);
        memcpy(l.delta, delta, no * sizeof *delta);
        memset(l.weight_updates, 0, nw * sizeof(float));
        memset(l.bias_updates, 0, outputs * sizeof(float));
        net.delta = their_in_delta;
        backward_connected_layer(l, net);
        p4_connected_backward(delta, l.output, in, w, wg, bg, in_delta, batch, inputs, outputs,
                              mine_act[a]);
        assert_close(delta, l.delta, no, 1e-6, "delta");
        assert_close(bg, l.bias_updates, outputs, 1e-5, "bias gradient");
        assert_close(wg, l.weight_updates, nw, 1e-5, "weight gradient");
        assert_close(in_delta, their_in_delta, ni, 1e-5, "input delta");

        update_args args;
        memset(&args, 0, sizeof args);
        args.batch = batch;
        args.learning_rate = 0.05f;
        args.momentum = 0.9f;
        args.decay = 0.0005f;
        l.update(l, args);
        p4_connected_update(w, b, wg, bg, inputs, outputs, batch, 0.05f, 0.9f, 0.0005f);
        assert_close(w, l.weights, nw, 1e-5, "updated weights");
        assert_close(b, l.biases, outputs, 1e-5, "updated biases");
        assert_close(wg, l.weight_updates, nw, 1e-5, "momentum");

        free_layer(l);
        free(in); free(w); free(b); free(out); free(delta); free(wg); free(bg);
        free(in_delta); free(their_in_delta);
    }
}

static void softmax_matches_darknet(void **state)
{
    (void)state;
    p4_rng rng;
    assert_int_equal(p4_rng_init_seeded(&rng, 12, "fs-softmax"), P4_OK);
    float in[100], mine[100], theirs[100];
    const float temps[] = { 1.0f, 3.0f, 0.5f };
    for (int t = 0; t < 3; t++) {
        fill(&rng, in, 100);
        for (int i = 0; i < 100; i++) in[i] *= 20;
        softmax(in, 100, temps[t], 1, theirs);
        p4_softmax(mine, in, 100, temps[t]);
        assert_close(mine, theirs, 100, 1e-6, "softmax");
        int top = p4_argmax(mine, 100);
        for (int i = 0; i < 100; i++) assert_true(mine[i] <= mine[top]);
    }
    assert_int_equal(p4_argmax(in, 0), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(connected_matches_darknet),
        cmocka_unit_test(softmax_matches_darknet),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
