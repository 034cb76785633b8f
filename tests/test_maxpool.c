/* test_maxpool.c: p4's interposed forward_maxpool_layer gives the same
 * outputs and argmax indexes as darknet's own, and backward_maxpool_layer
 * the same input deltas, for p4's pool shapes, odd sizes, padding and
 * ties, on one thread and with the examples spread over three; and
 * darknet's layers call them. */
#define _GNU_SOURCE
#include "support/test_support.h"

#include <darknet.h>
#include <dlfcn.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/darknet_helpers.h"
#include "common/workers.h"

typedef void forward_fn(const layer, network);

/* p4's forward against darknet's on the same input: outputs bit for bit,
 * the same winner indexes. Leaves darknet's indexes in l. */
static void forward_matches(layer l, network net, forward_fn *reference, float *out, int *idx,
                            size_t s, int threads)
{
    size_t nout = (size_t)l.batch * l.outputs;
    forward_maxpool_layer(l, net);
    memcpy(out, l.output, nout * sizeof(float));
    memcpy(idx, l.indexes, nout * sizeof(int));
    reference(l, net);
    for (size_t i = 0; i < nout; i++) {
        if (memcmp(&out[i], &l.output[i], sizeof(float)) || idx[i] != l.indexes[i]) {
            print_message("output %zu: p4 %g at %d, darknet %g at %d\n", i, out[i], idx[i],
                          l.output[i], l.indexes[i]);
            break;
        }
    }
    if (memcmp(out, l.output, nout * sizeof(float)) || memcmp(idx, l.indexes, nout * sizeof(int)))
        fail_msg("maxpool forward differs for shape %zu at %d threads", s, threads);
}

static void matches_darknet(void **state)
{
    (void)state;
    forward_fn *reference = (forward_fn *)dlsym(RTLD_NEXT, "forward_maxpool_layer");
    forward_fn *reference_backward = (forward_fn *)dlsym(RTLD_NEXT, "backward_maxpool_layer");
    if (!reference || !reference_backward)
        TEST_SKIP("darknet's maxpool layer is not reachable");
    for (int threads = 1; threads <= 3; threads += 2) {
    p4_workers_set_threads(threads); /* p4's workers: one, or one per example */
    const int shapes[][6] = { /* batch, h, w, c, size, stride */
        {3, 28, 28, 6, 2, 2}, {2, 14, 14, 16, 2, 2}, {2, 7, 9, 3, 3, 2}, {1, 5, 5, 2, 3, 1},
        {2, 8, 8, 4, 2, 1},   {1, 9, 7, 1, 4, 3},
    };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        layer l = make_maxpool_layer(shapes[s][0], shapes[s][1], shapes[s][2], shapes[s][3],
                                             shapes[s][4], shapes[s][5], shapes[s][4] - 1);
        assert_true(l.forward == forward_maxpool_layer); /* darknet's layers call p4's */
        assert_true(l.backward == backward_maxpool_layer);
        size_t nin = (size_t)l.batch * l.inputs, nout = (size_t)l.batch * l.outputs;
        float *in = malloc(nin * sizeof(float));
        unsigned seed = 5 + (unsigned)s;
        for (size_t i = 0; i < nin; i++) {
            seed = seed * 1664525u + 1013904223u;
            in[i] = (float)((seed >> 16) % 7) - 3.0f; /* few values: many ties */
        }
        network net;
        memset(&net, 0, sizeof net);
        net.input = in;
        float *out = malloc(nout * sizeof(float));
        int *idx = malloc(nout * sizeof(int));
        forward_matches(l, net, reference, out, idx, s, threads);

        /* Backward: each output delta added to its winner's input delta,
         * onto input deltas that already hold something. */
        float *mine = malloc(nin * sizeof(float)), *theirs = malloc(nin * sizeof(float));
        for (size_t i = 0; i < nout; i++)
            l.delta[i] = (float)(i % 11) - 5.0f;
        for (size_t i = 0; i < nin; i++)
            mine[i] = theirs[i] = 0.25f * (float)(i % 5);
        net.delta = mine;
        backward_maxpool_layer(l, net);
        net.delta = theirs;
        reference_backward(l, net);
        if (memcmp(mine, theirs, nin * sizeof(float)))
            fail_msg("maxpool backward differs for shape %zu at %d threads", s, threads);
        /* Then values darknet's strict '>' from -FLT_MAX treats specially: a
         * window may hold no value above -FLT_MAX (index -1).  Not NaN:
         * Debian builds darknet with -Ofast, so what its loop does with NaN
         * is up to the compiler. */
        const float special[] = { -FLT_MAX, -INFINITY, 0.0f };
        for (size_t i = 0; i < nin; i += 7)
            in[i] = special[(i / 7) % 3];
        for (size_t i = 0; i + l.w + 1 < nin && i < 4 * (size_t)l.w; i += 2 * (size_t)l.w) {
            in[i] = in[i + 1] = -FLT_MAX; /* a whole 2x2 window without a winner */
            in[i + l.w] = in[i + l.w + 1] = -INFINITY;
        }
        forward_matches(l, net, reference, out, idx, s, threads);
        /* darknet's backward would write before the array for index -1;
         * p4's passes nothing to such a window. */
        memcpy(theirs, mine, nin * sizeof(float));
        net.delta = mine;
        backward_maxpool_layer(l, net);
        for (size_t i = 0; i < nout; i++) {
            if (l.indexes[i] >= 0)
                theirs[l.indexes[i]] += l.delta[i];
        }
        if (memcmp(mine, theirs, nin * sizeof(float)))
            fail_msg("maxpool backward with winnerless windows, shape %zu", s);
        free(mine); free(theirs);
        free(in); free(out); free(idx);
        free(l.output); free(l.delta); free(l.indexes);
    }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(matches_darknet) };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
