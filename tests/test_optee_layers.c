/* test_optee_layers.c: the optee backend's protected layers through the
 * harness (tee/enclave.h, dp/protected.c, tee/optee/ta/ta_layers.c):
 *   - DP-SGD with the output layer, CNN1's last two layers, CNN1 from its
 *     second convolution or its second max-pool, the whole of CNN1, or the
 *     whole MLP inside the TA gives the software backend's per-step losses
 *     (--reproducible noise, in the chunked layout, and the whole MLP in
 *     the serial one too) within 1e-4 relative, and the same top-1;
 *   - inference sends only the top-1 class out: the harness's byte count of
 *     what came back is 4 bytes per example;
 *   - layers that do not fit ta_memory_mib are refused before anything moves,
 *     naming the bytes needed and available;
 *   - the memory check counts convolutions' per-example gradients and
 *     max-pools' winners (a hand count of CNN1 pp 2..6);
 *   - ranges that end below the softmax (DarkneTZ's mid ranges: CNN1 pp
 *     2..4, 0..2 and 4..5, the MLP's middle layer) give the software
 *     backend's per-step losses too: the normal world runs the layers
 *     above, the clip uses the norm over all three parts;
 *   - with the softmax outside, inference sends pp_end's activations out
 *     and the TA refuses the top-1 command; the memory check counts no
 *     probabilities or targets for such a range;
 *   - a TA panic is an error, the session is reopened, the ledger keeps its
 *     spend and the lost layers are reported until loaded again. */
#include "support/test_support.h"
#include "support/test_ta.h"
#include "support/test_trainer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "common/rng.h"
#include "dp/dpsgd.h"
#include "model/fs_activation.h"
#include "model/model.h"
#include "model/optimizer.h"
#include "p4_ta.h"
#include "tee/enclave.h"
#include "tee/optee/host/optee.h"

#define CLASSES 10
#define INPUTS (28 * 28)
#define BATCH 40

static const char *cnn1 = "configs/models/cnn1-28x28x1.cfg";
static const char *mlp = "configs/models/mlp-28x28x1.cfg";

/* n synthetic examples (pixels in [0, 1), one-hot targets) from seed. */
static void make_batch(uint64_t seed, int n, float *x, float *y)
{
    p4_rng rng;
    assert_int_equal(p4_rng_init_seeded(&rng, seed, "test-batch"), P4_OK);
    for (int i = 0; i < n * INPUTS; i++)
        x[i] = (float)p4_rng_uniform(&rng);
    memset(y, 0, (size_t)n * CLASSES * sizeof(float));
    for (int i = 0; i < n; i++)
        y[i * CLASSES + (int)p4_rng_below(&rng, CLASSES)] = 1.0f;
}

/* Steps of varied sizes (one larger than a pass, one empty) on both
 * backends; the losses must agree step by step. */
static void same_losses_in(const char *dir, const char *cfg, int pp_start, int pp_end,
                           const char *layout)
{
    static const int sizes[] = { 30, 95, 12, 0, 40, 33, 7, 40 };
    const int steps = (int)(sizeof sizes / sizeof sizes[0]);
    float *x = malloc((size_t)95 * INPUTS * sizeof(float));
    float *y = malloc((size_t)95 * CLASSES * sizeof(float));
    assert_non_null(x);
    assert_non_null(y);
    trainer sw, tee;
    p4_error err;
    if (trainer_open_layout(&sw, dir, cfg, 0, -1, -1, 0, layout, &err) != P4_OK ||
        trainer_open_layout(&tee, dir, cfg, 1, pp_start, pp_end, 10, layout, &err) != P4_OK)
        fail_msg("open: %s", err.message);
    double worst = 0;
    for (int s = 0; s < steps; s++) {
        make_batch(100 + (uint64_t)s, sizes[s], x, y);
        double a = -1, b = -1;
        assert_int_equal(p4_dpsgd_step(sw.dp, x, y, sizes[s], 4.0, NULL, NULL, &a, &err), P4_OK);
        if (p4_dpsgd_step(tee.dp, x, y, sizes[s], 4.0, NULL, NULL, &b, &err) != P4_OK)
            fail_msg("optee step %d: %s", s, err.message);
        double rel = fabs(a - b) / (fabs(a) > 1e-30 ? fabs(a) : 1.0);
        if (rel > worst)
            worst = rel;
        if (rel > 1e-4)
            fail_msg("%s pp %d..%d step %d: loss %.9g (software) vs %.9g (optee)", cfg,
                     pp_start, pp_end, s, a, b);
    }
    print_message("%s pp %d..%d, %s noise: %d steps, largest relative loss difference %.3g\n",
                  cfg, pp_start, pp_end, layout, steps, worst);
    /* The same classes after training (the TA's softmax is inside). */
    make_batch(999, 64, x, y);
    int labels_sw[64], labels_tee[64], same = 0;
    assert_int_equal(p4_model_predict(sw.model, x, 64, NULL, labels_sw), P4_OK);
    assert_int_equal(p4_dpsgd_predict(tee.dp, x, 64, labels_tee, &err), P4_OK);
    for (int i = 0; i < 64; i++)
        same += labels_sw[i] == labels_tee[i];
    assert_true(same >= 63);
    trainer_close(&sw);
    trainer_close(&tee);
    free(x);
    free(y);
}

/* In [dp] noise_layout's default, chunked. */
static void same_losses(const char *dir, const char *cfg, int pp_start, int pp_end)
{
    same_losses_in(dir, cfg, pp_start, pp_end, "chunked");
}

static void output_layer_matches_software(void **state)
{
    same_losses(*state, cnn1, 5, 6);
}

static void last_two_layers_match_software(void **state)
{
    same_losses(*state, cnn1, 4, 6);
}

static void whole_mlp_matches_software(void **state)
{
    same_losses(*state, mlp, 0, 3);
}

/* The serial layout too: the MLP's 784 x 200 weights (156,800 values)
 * take its two-halves split, the small tensors one stream. */
static void whole_mlp_matches_software_serial(void **state)
{
    same_losses_in(*state, mlp, 0, 3, "serial");
}

/* CNN1's second convolution, its max-pool, both connected layers and the
 * softmax in the TA (the normal world keeps conv 0 and max-pool 1). */
static void last_conv_and_pool_match_software(void **state)
{
    same_losses(*state, cnn1, 2, 6);
}

/* Only the max-pool in front of the connected layers joins them. */
static void pool_and_dense_match_software(void **state)
{
    same_losses(*state, cnn1, 3, 6);
}

/* The whole of CNN1 in the TA: no normal-world layers at all. */
static void whole_cnn1_matches_software(void **state)
{
    same_losses(*state, cnn1, 0, 6);
}

/* The normal world's copy of the protected weights is gone once loaded. */
static void protected_weights_leave_the_normal_world(void **state)
{
    trainer t;
    p4_error err;
    if (trainer_open(&t, *state, cnn1, 1, 4, 6, 10, &err) != P4_OK)
        fail_msg("open: %s", err.message);
    size_t offset, length;
    /* Parametrised layers: conv, conv, fc64, fc10: k = 2 and 3 are inside. */
    float *params = malloc(p4_model_param_count(t.model) * sizeof(float));
    assert_non_null(params);
    assert_int_equal(p4_model_get_params(t.model, params, p4_model_param_count(t.model)), P4_OK);
    for (int k = 0; k < 4; k++) {
        assert_int_equal(p4_model_param_layer(t.model, k, &offset, &length), P4_OK);
        double sum = 0;
        for (size_t i = 0; i < length; i++)
            sum += fabs(params[offset + i]);
        if (k >= 2)
            assert_true(sum == 0);
        else
            assert_true(sum > 0);
    }
    free(params);
    trainer_close(&t);
}

/* Classes of n examples through the trainer; the bytes that crossed
 * into and out of the enclave meanwhile. */
static void predict_traffic(trainer *t, const float *x, int n, int *labels, uint64_t *in,
                            uint64_t *out)
{
    p4_error err;
    uint64_t in0, out0, in1, out1;
    p4_enclave_traffic(t->enclave, &in0, &out0);
    if (p4_dpsgd_predict(t->dp, x, n, labels, &err) != P4_OK)
        fail_msg("predict: %s", err.message);
    p4_enclave_traffic(t->enclave, &in1, &out1);
    *in = in1 - in0;
    *out = out1 - out0;
    for (int i = 0; i < n; i++)
        assert_true(labels[i] >= 0 && labels[i] < CLASSES);
}

static void top1_only_crosses(void **state)
{
    trainer t;
    p4_error err;
    if (trainer_open(&t, *state, cnn1, 1, 5, 6, 10, &err) != P4_OK)
        fail_msg("open: %s", err.message);
    enum { N = 37 };
    float *x = malloc((size_t)N * INPUTS * sizeof(float));
    float y[N * CLASSES];
    assert_non_null(x);
    make_batch(7, N, x, y);
    uint64_t in0, out0, in1, out1;
    int labels[N];
    predict_traffic(&t, x, N, labels, &in0, &out0);
    /* In: the 64 activations of fc64 per example; out: one int32 each. */
    assert_int_equal(in0, (uint64_t)N * 64 * sizeof(float));
    assert_int_equal(out0, (uint64_t)N * sizeof(int32_t));
    /* A training step, for contrast, sends the gradient at the TA's inputs
     * back (and the clip factors, the loss, the noised normal-world sums). */
    p4_enclave_traffic(t.enclave, &in0, &out0);
    double loss;
    assert_int_equal(p4_dpsgd_step(t.dp, x, y, N, 4.0, NULL, NULL, &loss, &err), P4_OK);
    p4_enclave_traffic(t.enclave, &in1, &out1);
    assert_true(out1 - out0 >= (uint64_t)N * 64 * sizeof(float));
    print_message("top-1 of %d: %llu bytes in, %llu out; a DP step of %d: %llu in, %llu out\n",
                  N, (unsigned long long)N * 64 * 4, (unsigned long long)N * 4, N,
                  (unsigned long long)(in1 - in0), (unsigned long long)(out1 - out0));
    free(x);
    trainer_close(&t);
}

static void too_big_for_the_ta_is_refused(void **state)
{
    trainer t;
    p4_error err;
    /* The whole MLP: 199,210 parameters, x3 (weights, gradients, momentum)
     * is 2.4 MB, more than 2 MiB. */
    int rc = trainer_open(&t, *state, mlp, 1, 0, 3, 2, &err);
    assert_int_equal(rc, P4_ENOMEM);
    print_message("refused: %s\n", err.message);
    assert_non_null(strstr(err.message, "but the TA has 2097152 bytes ([tee] ta_memory_mib = 2)"));
    const char *need = strstr(err.message, "need ");
    assert_non_null(need);
    assert_true(strtoull(need + 5, NULL, 10) > 2097152ull);
    /* Nothing moved: the normal world still holds every weight. */
    size_t offset, length;
    float *params = malloc(p4_model_param_count(t.model) * sizeof(float));
    assert_non_null(params);
    assert_int_equal(p4_model_get_params(t.model, params, p4_model_param_count(t.model)), P4_OK);
    assert_int_equal(p4_model_param_layer(t.model, 2, &offset, &length), P4_OK);
    double sum = 0;
    for (size_t i = 0; i < length; i++)
        sum += fabs(params[offset + i]);
    assert_true(sum > 0);
    free(params);
    trainer_close(&t);
    /* With room it loads. */
    if (trainer_open(&t, *state, mlp, 1, 0, 3, 4, &err) != P4_OK)
        fail_msg("4 MiB: %s", err.message);
    trainer_close(&t);
}

/* `p4 train` refuses such a config before training: exit 2, the bytes. */
static void p4_train_refuses_layers_that_do_not_fit(void **state)
{
    const char *dir = *state;
    if (!test_dataset_path("/usr/share/datasets/fashion-mnist"))
        TEST_SKIP("/usr/share/datasets/fashion-mnist is absent");
    const char *bin = getenv("P4_BIN"), *src = getenv("P4_SOURCE_DIR");
    if (!bin || !src)
        TEST_SKIP("P4_BIN or P4_SOURCE_DIR is not set (run under ctest)");
    char text[1024], path[512], out[512], errfile[512];
    snprintf(text, sizeof text,
             "[data]\ndataset = fashion-mnist\nmax_train = 200\nmax_test = 50\n"
             "[model]\ncfg = %s/configs/models/mlp-28x28x1.cfg\nepochs = 1\nbatch = 40\n"
             "[dp]\ntarget_epsilon = 8\ndelta = 1e-5\nstate = ledger.db\n"
             "[tee]\nbackend = optee\npp_start = 0\npp_end = 3\nta_memory_mib = 2\n", src);
    test_write_text(dir, "big.ini", text, path, sizeof path);
    test_path_in(dir, "out.txt", out, sizeof out);
    test_path_in(dir, "err.txt", errfile, sizeof errfile);
    char *const argv[] = { (char *)bin, "train", "--config", path, "--reproducible", NULL };
    int status;
    pid_t pid = test_spawn(argv, out, errfile);
    assert_true(pid > 0);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    char *stderr_text = test_read_all(errfile);
    print_message("p4 train: %s", stderr_text);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 2);
    assert_non_null(strstr(stderr_text, "but the TA has 2097152 bytes ([tee] ta_memory_mib = 2)"));
    free(stderr_text);
}

/* CNN1's (28x28x1, 10 classes) layers from its second convolution, as the
 * TA sees them at passes of 64: the convolution (6 -> 16 filters of 3x3 on
 * 14x14), the max-pool (2, stride 2, to 7x7), fc64 and, when nlayers is 4,
 * the fc10 under the softmax; the first nlayers of them. */
static p4_ta_layers_spec cnn1_from_second_conv(uint32_t nlayers, uint32_t normal_floats,
                                               uint32_t flags)
{
    p4_ta_layers_spec spec = { .nlayers = nlayers, .capacity = 64,
                               .normal_floats = normal_floats, .flags = flags };
    const p4_ta_dense layer[4] = {
        { .inputs = 6 * 14 * 14, .outputs = 16 * 14 * 14, .activation = P4_ACT_RELU,
          .kind = P4_TA_CONVOLUTIONAL, .c = 6, .h = 14, .w = 14, .filters = 16, .size = 3,
          .stride = 1, .pad = 1 },
        { .inputs = 16 * 14 * 14, .outputs = 16 * 7 * 7, .kind = P4_TA_MAXPOOL, .c = 16,
          .h = 14, .w = 14, .size = 2, .stride = 2, .pad = 1 },
        { .inputs = 784, .outputs = 64, .activation = P4_ACT_RELU },
        { .inputs = 64, .outputs = 10 },
    };
    assert_true(nlayers >= 1 && nlayers <= 4);
    memcpy(spec.layer, layer, nlayers * sizeof layer[0]);
    return spec;
}

/* A conv range that does not fit is refused before anything moves, and
 * the bytes counted include the convolutions' per-example gradients. */
static void conv_range_too_big_is_refused(void **state)
{
    trainer t;
    p4_error err;
    /* The whole of CNN1 at passes of 40: its first convolution's outputs
     * and deltas alone (28x28x6 floats an example) are 1.5 MB, and the
     * whole is 4.6 MB, more than 2 MiB. */
    int rc = trainer_open(&t, *state, cnn1, 1, 0, 6, 2, &err);
    assert_int_equal(rc, P4_ENOMEM);
    print_message("refused: %s\n", err.message);
    assert_non_null(strstr(err.message, "but the TA has 2097152 bytes ([tee] ta_memory_mib = 2)"));
    trainer_close(&t);
    /* The count by hand: CNN1 (28x28x1, 10 classes), pp 2..6, pass of 64. */
    p4_ta_layers_spec spec = cnn1_from_second_conv(4, 60, 0);
    uint64_t params = (16 * 54 + 16) + (784 * 64 + 64) + (64 * 10 + 10);
    uint64_t m = 64, act = 2 * m * (3136 + 784 + 64 + 10) + m * (16 * 54 + 16) + m * 784;
    uint64_t want = (3 * params + act + 2 * m * 1176 + 2 * m * 10 + m + 60) * 4 + m * 8 +
                    P4_TA_RESERVE_BYTES;
    assert_int_equal(p4_ta_layers_bytes(&spec), want);
    assert_int_equal(p4_optee_layers_check(&spec, 1, &err), P4_ENOMEM);
    char needed[64];
    snprintf(needed, sizeof needed, "need %llu bytes", (unsigned long long)want);
    assert_non_null(strstr(err.message, needed));
    assert_int_equal(p4_optee_layers_check(&spec, 4, &err), P4_OK);
    /* A convolution whose sizes disagree with darknet's is malformed. */
    spec.layer[0].outputs += 1;
    assert_int_equal(p4_ta_layers_bytes(&spec), 0);
    assert_int_equal(p4_optee_layers_check(&spec, 10, &err), P4_EINVAL);
}

/* Mid ranges: the normal world below and above the TA. */
static void cnn1_mid_conv_range_matches_software(void **state)
{
    same_losses(*state, cnn1, 2, 4); /* conv, max-pool, fc64 inside */
}

static void cnn1_bottom_range_matches_software(void **state)
{
    same_losses(*state, cnn1, 0, 2); /* conv, max-pool, conv: nothing below */
}

static void cnn1_logits_range_matches_software(void **state)
{
    same_losses(*state, cnn1, 4, 5); /* the logits leave; only the softmax above */
}

static void mlp_middle_layer_matches_software(void **state)
{
    same_losses(*state, mlp, 1, 1);
}

/* With the softmax outside, what leaves an inference is pp_end's
 * activations (DarkneTZ's design), and the TA refuses the top-1 command
 * (it has no softmax to take it from). */
static void mid_range_inference_sends_activations(void **state)
{
    trainer t;
    p4_error err;
    if (trainer_open(&t, *state, cnn1, 1, 2, 4, 10, &err) != P4_OK)
        fail_msg("open: %s", err.message);
    enum { N = 21 };
    float *x = malloc((size_t)N * INPUTS * sizeof(float));
    float y[N * CLASSES];
    assert_non_null(x);
    make_batch(3, N, x, y);
    uint64_t in, out;
    int labels[N];
    predict_traffic(&t, x, N, labels, &in, &out);
    /* In: max-pool 1's 6x14x14 outputs (and the 8-byte inference flag);
     * out: fc64's 64 activations. */
    assert_int_equal(in, (uint64_t)N * 6 * 14 * 14 * sizeof(float) + 8);
    assert_int_equal(out, (uint64_t)N * 64 * sizeof(float));
    float act[6 * 14 * 14] = { 0 };
    assert_int_not_equal(p4_enclave_layers_top1(t.enclave, act, 1, labels, &err), P4_OK);
    print_message("softmax outside, top-1 refused: %s\n", err.message);
    free(x);
    trainer_close(&t);
}

/* The memory count of a mid range: CNN1 pp 2..4 at passes of 64, by hand;
 * no probabilities or targets (the softmax is outside). */
static void mid_range_memory_is_counted(void **state)
{
    p4_ta_layers_spec spec = cnn1_from_second_conv(3, 60 + 650, P4_TA_SPEC_SOFTMAX_OUTSIDE);
    uint64_t params = (16 * 54 + 16) + (784 * 64 + 64);
    uint64_t m = 64, act = 2 * m * (3136 + 784 + 64) + m * (16 * 54 + 16) + m * 784;
    uint64_t want = (3 * params + act + 2 * m * 1176 + m + 710) * 4 + m * 8 +
                    P4_TA_RESERVE_BYTES;
    assert_int_equal(p4_ta_layers_bytes(&spec), want);
    p4_error err;
    assert_int_equal(p4_optee_layers_check(&spec, 1, &err), P4_ENOMEM);
    /* The noise layout's flag is known; an unknown flag is malformed. */
    spec.flags |= P4_TA_SPEC_NOISE_CHUNKED;
    assert_int_equal(p4_ta_layers_bytes(&spec), want);
    spec.flags = 0x80;
    assert_int_equal(p4_ta_layers_bytes(&spec), 0);
    /* Through the trainer: a mid range that does not fit is refused. */
    trainer t;
    assert_int_equal(trainer_open(&t, *state, cnn1, 1, 0, 4, 2, &err), P4_ENOMEM);
    assert_non_null(strstr(err.message, "but the TA has 2097152 bytes"));
    trainer_close(&t);
}

static void bad_ranges_are_refused(void **state)
{
    trainer t;
    p4_error err;
    assert_int_equal(trainer_open(&t, *state, cnn1, 1, 4, 3, 10, &err), P4_EINVAL);
    assert_non_null(strstr(err.message, "pp_start <= pp_end"));
    trainer_close(&t);
    /* The softmax alone is no range. */
    assert_int_equal(trainer_open(&t, *state, cnn1, 1, 6, 6, 10, &err), P4_EUNSUPPORTED);
    trainer_close(&t);
    /* The software backend has no layers to hold. */
    assert_int_equal(p4_enclave_open_software(&t.enclave, 1, 1, &err), P4_OK);
    p4_enclave_layers spec = { .count = 1, .layer = { { 4, 2, 0 } }, .capacity = 1 };
    assert_int_equal(p4_enclave_layers_check(t.enclave, &spec, &err), P4_EUNSUPPORTED);
    p4_enclave_close(&t.enclave);
}

/* At the host API: one dense layer of 4 -> 3, driven by hand. */
static void one_step(p4_optee *t, p4_error *err)
{
    float in[2 * 4] = { 1, 0, 0.5f, -1, 0, 2, 1, 1 };
    float targets[2 * 3] = { 1, 0, 0, 0, 0, 1 }, delta[8];
    double loss, norms[2] = { 0.25, 4.0 };
    float factor[2];
    assert_int_equal(p4_optee_layers_train(t, in, 2, targets, delta, &loss, err), P4_OK);
    assert_true(loss > 0);
    assert_int_equal(p4_optee_layers_clip(t, norms, 2, 1.0, factor, err), P4_OK);
    assert_true(factor[1] <= 0.5f); /* the normal world's norm of 2 alone passes clip 1 */
    p4_ta_step_args a = { .q = 0.1, .sigma = 1.0, .clip = 1.0, .divisor = 2, .learning_rate = 0.1,
                          .momentum = 0.9, .decay = 0, .ntensors = 1, .tensor = { 5 } };
    float sums[5] = { 0, 0, 0, 0, 0 };
    double after;
    assert_int_equal(p4_optee_layers_step(t, &a, sums, 5, &after, err), P4_OK);
    assert_true(after > 0);
    double moved = 0;
    for (int i = 0; i < 5; i++)
        moved += fabs(sums[i]);
    assert_true(moved > 0); /* noised inside */
}

static void panic_reopens_and_keeps_the_spend(void **state)
{
    p4_optee_options o = { .delta = 1e-5, .target_epsilon = 20, .storage_dir = *state };
    p4_optee *t = NULL;
    p4_error err;
    assert_int_equal(p4_optee_open(&t, &o, &err), P4_OK);
    p4_ta_layers_spec spec = test_ta_dense_spec(4, 3, 4, 5);
    float w[15];
    test_ta_dense_weights(w, 15);
    assert_int_equal(p4_optee_layers_load(t, &spec, w, 15, &err), P4_OK);
    one_step(t, &err);
    double before, after;
    assert_int_equal(p4_optee_spent(t, &before, &err), P4_OK);
    assert_true(before > 0);

    assert_int_equal(p4_optee_test_command(t, P4_TA_CMD_TEST_PANIC, 0, &err), P4_ESTATE);
    assert_non_null(strstr(err.message, "reopened"));
    assert_int_equal(p4_optee_reopens(t), 1);
    assert_int_equal(p4_optee_spent(t, &after, &err), P4_OK);
    assert_true(after == before);
    /* The layers died with the TA: said plainly, until loaded again. */
    float in[4] = { 0 }, targets[3] = { 1, 0, 0 };
    double loss;
    assert_int_equal(p4_optee_layers_train(t, in, 1, targets, NULL, &loss, &err), P4_ESTATE);
    assert_non_null(strstr(err.message, "lost"));
    assert_int_equal(p4_optee_layers_load(t, &spec, w, 15, &err), P4_OK);
    one_step(t, &err);
    assert_int_equal(p4_optee_spent(t, &after, &err), P4_OK);
    assert_true(after > before);
    p4_optee_close(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(output_layer_matches_software, test_temp_dir_setup,
                                        test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(last_two_layers_match_software, test_temp_dir_setup,
                                        test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(last_conv_and_pool_match_software, test_temp_dir_setup,
                                        test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(pool_and_dense_match_software, test_temp_dir_setup,
                                        test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(whole_cnn1_matches_software, test_temp_dir_setup,
                                        test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(conv_range_too_big_is_refused, test_temp_dir_setup,
                                        test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(whole_mlp_matches_software, test_temp_dir_setup,
                                        test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(whole_mlp_matches_software_serial, test_temp_dir_setup,
                                        test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(protected_weights_leave_the_normal_world,
                                        test_temp_dir_setup, test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(top1_only_crosses, test_temp_dir_setup,
                                        test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(too_big_for_the_ta_is_refused, test_temp_dir_setup,
                                        test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(p4_train_refuses_layers_that_do_not_fit,
                                        test_temp_dir_setup, test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(cnn1_mid_conv_range_matches_software,
                                        test_temp_dir_setup, test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(cnn1_bottom_range_matches_software, test_temp_dir_setup,
                                        test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(cnn1_logits_range_matches_software, test_temp_dir_setup,
                                        test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(mlp_middle_layer_matches_software, test_temp_dir_setup,
                                        test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(mid_range_inference_sends_activations,
                                        test_temp_dir_setup, test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(mid_range_memory_is_counted, test_temp_dir_setup,
                                        test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(bad_ranges_are_refused, test_temp_dir_setup,
                                        test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(panic_reopens_and_keeps_the_spend, test_temp_dir_setup,
                                        test_temp_dir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL); /* the macro already maps skips to 77 */
}
