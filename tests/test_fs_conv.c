/* test_fs_conv.c: the freestanding convolution and max-pool kernels the
 * OP-TEE TA runs (model/fs_conv.c, model/fs_maxpool.c) against darknet's
 * own layers (libdarknet's, reached past p4's interposed ones with
 * dlsym(RTLD_NEXT)) on random inputs: forward, backward (weight and bias
 * gradients, input deltas), and each example's gradient and its squared
 * norm against darknet's layer run on that example alone.
 * Tolerance: darknet sums in float through OpenBLAS, the kernels in
 * double; every float is compared as |mine - darknet| <= 1e-5 (1 + |darknet|)
 * (a relative 1e-5 on large values, an absolute 1e-5 near 0); max-pool is
 * compared bit for bit. */
#define _GNU_SOURCE
#include "support/test_support.h"

#include <darknet.h>
#include <dlfcn.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "common/rng.h"
#include "model/darknet_helpers.h"
#include "model/fs_conv.h"
#include "model/fs_maxpool.h"

/* libdarknet.so exports it; darknet.h does not declare it. */
layer make_convolutional_layer(int batch, int h, int w, int c, int n, int groups, int size,
                               int stride, int padding, ACTIVATION activation,
                               int batch_normalize, int binary, int xnor, int adam);

typedef void layer_fn(layer, network);

static void fill(p4_rng *rng, float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) x[i] = (float)(2 * p4_rng_uniform(rng) - 1);
}

static double assert_close(const float *got, const float *want, size_t n, const char *what,
                           int shape)
{
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]);
        if (d > 1e-5 * (1 + fabs((double)want[i])))
            fail_msg("shape %d %s[%zu]: %.9g, darknet %.9g", shape, what, i, got[i], want[i]);
        worst = fmax(worst, d / (1 + fabs((double)want[i])));
    }
    return worst;
}

static layer_fn *darknet_own(const char *name)
{
    layer_fn *f = (layer_fn *)dlsym(RTLD_NEXT, name);
    if (!f)
        fail_msg("darknet's %s is not reachable", name);
    return f;
}

typedef struct { int batch, h, w, c, n, size, stride, pad; } conv_case;

static void conv_matches_darknet(void **state)
{
    (void)state;
    layer_fn *forward = darknet_own("forward_convolutional_layer");
    layer_fn *backward = darknet_own("backward_convolutional_layer");
    static const conv_case cases[] = {
        { 3, 14, 14, 6, 16, 3, 1, 1 },   /* CNN1's second convolution */
        { 2, 28, 28, 1, 6, 3, 1, 1 },    /* its first */
        { 2, 7, 9, 3, 4, 3, 2, 1 },      /* odd sizes, stride 2 */
        { 2, 8, 8, 2, 3, 2, 1, 0 },      /* even window, no pad */
        { 1, 6, 5, 2, 2, 5, 1, 2 },      /* window larger than the input's side */
    };
    static const ACTIVATION darknet_act[] = { RELU, LEAKY, LINEAR };
    static const p4_activation mine_act[] = { P4_ACT_RELU, P4_ACT_LEAKY, P4_ACT_LINEAR };
    p4_rng rng;
    assert_int_equal(p4_rng_init_seeded(&rng, 17, "fs-conv"), P4_OK);
    double worst = 0;
    for (int k = 0; k < (int)(sizeof cases / sizeof cases[0]); k++) {
        const conv_case *t = &cases[k];
        int a = k % 3;
        layer l = make_convolutional_layer(t->batch, t->h, t->w, t->c, t->n, 1, t->size,
                                           t->stride, t->pad, darknet_act[a], 0, 0, 0, 0);
        layer one = make_convolutional_layer(1, t->h, t->w, t->c, t->n, 1, t->size, t->stride,
                                             t->pad, darknet_act[a], 0, 0, 0, 0);
        p4_fs_conv_shape s;
        assert_true(p4_fs_conv_shape_init(&s, t->c, t->h, t->w, t->n, t->size, t->stride,
                                          t->pad));
        assert_int_equal(s.out_h, l.out_h);
        assert_int_equal(s.out_w, l.out_w);
        assert_int_equal(p4_fs_conv_outputs(&s), l.outputs);
        size_t nw = (size_t)p4_fs_conv_weights(&s), ni = (size_t)t->batch * l.inputs,
               no = (size_t)t->batch * l.outputs;
        assert_int_equal(nw, (size_t)l.nweights);
        float *in = malloc(ni * sizeof(float)), *out = malloc(no * sizeof(float)),
              *delta = malloc(no * sizeof(float)), *dx = calloc(ni, sizeof(float)),
              *their_dx = calloc(ni, sizeof(float)), *g = malloc((nw + t->n) * sizeof(float)),
              *sum = calloc(nw + t->n, sizeof(float));
        size_t ws = l.workspace_size > one.workspace_size ? l.workspace_size
                                                           : one.workspace_size;
        float *workspace = malloc(ws);
        fill(&rng, in, ni);
        fill(&rng, l.weights, nw);
        fill(&rng, l.biases, t->n);
        memcpy(one.weights, l.weights, nw * sizeof(float));
        memcpy(one.biases, l.biases, t->n * sizeof(float));
        network net;
        memset(&net, 0, sizeof net);
        net.input = in;
        net.train = 1;
        net.workspace = workspace;
        forward(l, net);
        p4_fs_conv_forward(out, in, l.weights, l.biases, t->batch, &s, mine_act[a]);
        worst = fmax(worst, assert_close(out, l.output, no, "forward", k));

        /* The same upstream gradient; darknet's backward turns l.delta
         * into the pre-activation's, sums the gradients, and adds the
         * input deltas into net.delta. */
        fill(&rng, delta, no);
        memcpy(l.delta, delta, no * sizeof(float));
        memset(l.weight_updates, 0, nw * sizeof(float));
        memset(l.bias_updates, 0, t->n * sizeof(float));
        net.delta = their_dx;
        backward(l, net);
        p4_activation_gradient(out, (int)no, mine_act[a], delta);
        worst = fmax(worst, assert_close(delta, l.delta, no, "delta", k));
        for (int i = 0; i < t->batch; i++) {
            const float *xi = in + (size_t)i * l.inputs;
            const float *di = delta + (size_t)i * l.outputs;
            double norm = p4_fs_conv_example_gradient(di, xi, g, &s);
            for (size_t j = 0; j < nw + t->n; j++)
                sum[j] += g[j];
            /* this example alone through darknet */
            network n1 = net;
            n1.input = (float *)xi;
            n1.delta = NULL;
            forward(one, n1);
            memcpy(one.delta, di, l.outputs * sizeof(float));
            memset(one.weight_updates, 0, nw * sizeof(float));
            memset(one.bias_updates, 0, t->n * sizeof(float));
            /* linear: the delta given is already the pre-activation's */
            ACTIVATION saved = one.activation;
            one.activation = LINEAR;
            backward(one, n1);
            one.activation = saved;
            worst = fmax(worst, assert_close(g, one.weight_updates, nw, "example weights", k));
            worst = fmax(worst, assert_close(g + nw, one.bias_updates, t->n, "example biases",
                                             k));
            double theirs = 0;
            for (size_t j = 0; j < nw; j++)
                theirs += (double)one.weight_updates[j] * one.weight_updates[j];
            for (int j = 0; j < t->n; j++)
                theirs += (double)one.bias_updates[j] * one.bias_updates[j];
            if (fabs(norm - theirs) > 1e-5 * theirs)
                fail_msg("shape %d example %d: squared norm %.9g, darknet %.9g", k, i, norm,
                         theirs);
        }
        worst = fmax(worst, assert_close(sum, l.weight_updates, nw, "weight gradient", k));
        worst = fmax(worst, assert_close(sum + nw, l.bias_updates, t->n, "bias gradient", k));
        p4_fs_conv_input_delta(delta, l.weights, dx, t->batch, &s);
        worst = fmax(worst, assert_close(dx, their_dx, ni, "input delta", k));
        free(in); free(out); free(delta); free(dx); free(their_dx); free(g); free(sum);
        free(workspace);
        free_layer(l);
        free_layer(one);
    }
    print_message("convolution: largest difference from darknet %.3g (relative to 1 + |x|)\n",
                  worst);
}

static void malformed_conv_shapes_are_refused(void **state)
{
    (void)state;
    p4_fs_conv_shape s;
    assert_false(p4_fs_conv_shape_init(&s, 0, 5, 5, 1, 3, 1, 1));
    assert_false(p4_fs_conv_shape_init(&s, 1, 2, 2, 1, 5, 1, 1)); /* window past the pad */
    assert_false(p4_fs_conv_shape_init(&s, 1, 5, 5, 1, 3, 0, 1)); /* stride 0 */
    assert_false(p4_fs_conv_shape_init(&s, 1, 5, 5, 1, 3, 1, 3)); /* pad beyond the window */
    assert_true(p4_fs_conv_shape_init(&s, 1, 5, 5, 1, 3, 1, 1));
    p4_fs_maxpool_shape p;
    assert_false(p4_fs_maxpool_shape_init(&p, 1, 1, 1, 3, 1, 0));
    assert_false(p4_fs_maxpool_shape_init(&p, 1, 4, 4, 2, 0, 1));
    assert_true(p4_fs_maxpool_shape_init(&p, 1, 4, 4, 2, 2, 1));
}

static void maxpool_matches_darknet(void **state)
{
    (void)state;
    layer_fn *forward = darknet_own("forward_maxpool_layer");
    layer_fn *backward = darknet_own("backward_maxpool_layer");
    static const int shapes[][6] = { /* batch, h, w, c, size, stride */
        { 3, 28, 28, 6, 2, 2 }, { 2, 14, 14, 16, 2, 2 }, { 2, 7, 9, 3, 3, 2 },
        { 1, 5, 5, 2, 3, 1 },   { 2, 8, 8, 4, 2, 1 },    { 1, 9, 7, 1, 4, 3 },
    };
    p4_rng rng;
    assert_int_equal(p4_rng_init_seeded(&rng, 23, "fs-maxpool"), P4_OK);
    for (int k = 0; k < (int)(sizeof shapes / sizeof shapes[0]); k++) {
        const int *t = shapes[k];
        layer l = make_maxpool_layer(t[0], t[1], t[2], t[3], t[4], t[5], t[4] - 1);
        p4_fs_maxpool_shape s;
        assert_true(p4_fs_maxpool_shape_init(&s, t[3], t[1], t[2], t[4], t[5], t[4] - 1));
        assert_int_equal(p4_fs_maxpool_outputs(&s), l.outputs);
        size_t ni = (size_t)l.batch * l.inputs, no = (size_t)l.batch * l.outputs;
        float *in = malloc(ni * sizeof(float)), *out = malloc(no * sizeof(float)),
              *dx = malloc(ni * sizeof(float)), *their_dx = malloc(ni * sizeof(float));
        int32_t *index = malloc(no * sizeof(int32_t));
        for (size_t i = 0; i < ni; i++) /* few values: ties, where the first must win */
            in[i] = (float)(int)(7 * p4_rng_uniform(&rng)) - 3.0f;
        network net;
        memset(&net, 0, sizeof net);
        net.input = in;
        forward(l, net);
        p4_fs_maxpool_forward(out, index, in, l.batch, &s);
        for (size_t i = 0; i < no; i++)
            if (out[i] != l.output[i] || index[i] != l.indexes[i])
                fail_msg("shape %d output %zu: %g at %d, darknet %g at %d", k, i, out[i],
                         index[i], l.output[i], l.indexes[i]);
        fill(&rng, l.delta, no);
        fill(&rng, dx, ni);
        memcpy(their_dx, dx, ni * sizeof(float));
        net.delta = their_dx;
        backward(l, net);
        p4_fs_maxpool_backward(l.delta, index, dx, l.batch, &s);
        if (memcmp(dx, their_dx, ni * sizeof(float)) != 0)
            fail_msg("shape %d: max-pool input deltas differ from darknet's", k);
        free(in); free(out); free(dx); free(their_dx); free(index);
        free_layer(l);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(conv_matches_darknet),
        cmocka_unit_test(malformed_conv_shapes_are_refused),
        cmocka_unit_test(maxpool_matches_darknet),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
