/* test_optee_kd.c: a P4 proxy's distillation loss and weights exchange
 * with protected layers in the TA (tee/optee/ta/ta_kd*.c, issue 14):
 *   - DP-SGD steps on the KD loss ((1 - alpha) CE + alpha T^2 KL towards a
 *     teacher) with the MLP's output layer, or the whole MLP, in the TA give
 *     the software backend's per-step losses (--reproducible noise) within
 *     1e-4 relative, and the TA's teaching probabilities softmax(z / T)
 *     equal the software proxy's within 1e-5;
 *   - the exported protected weights are the software model's (same steps),
 *     an import comes back out unchanged, a non-finite one is refused;
 *   - a TA panic mid-training resumes the stored layers, momentum and seeded
 *     noise position: the run continues exactly as one that never panicked;
 *   - the TA refuses the new commands' parameters of malformed types, sizes
 *     and values with GP codes, straight through the Client API. */
#include "support/test_support.h"
#include "support/test_ta.h"
#include "support/test_trainer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <tee_client_api.h>

#include "common/rng.h"
#include "dp/dpsgd.h"
#include "model/model.h"
#include "model/optimizer.h"
#include "p4_ta.h"
#include "tee/enclave.h"
#include "tee/optee/host/optee.h"

#define CLASSES 10
#define INPUTS (28 * 28)
#define BATCH 40
#define ALPHA 0.25
#define TEMPERATURE 2.0

static const char *mlp = "configs/models/mlp-28x28x1.cfg";


/* n synthetic examples, one-hot labels and a teacher distribution. */
static void make_batch(uint64_t seed, int n, float *x, float *y, float *teacher)
{
    p4_rng rng;
    assert_int_equal(p4_rng_init_seeded(&rng, seed, "test-kd-batch"), P4_OK);
    for (int i = 0; i < n * INPUTS; i++)
        x[i] = (float)p4_rng_uniform(&rng);
    memset(y, 0, (size_t)n * CLASSES * sizeof(float));
    for (int i = 0; i < n; i++) {
        y[i * CLASSES + (int)p4_rng_below(&rng, CLASSES)] = 1.0f;
        double sum = 0;
        for (int k = 0; k < CLASSES; k++)
            sum += teacher[i * CLASSES + k] = (float)(p4_rng_uniform(&rng) + 0.01);
        for (int k = 0; k < CLASSES; k++)
            teacher[i * CLASSES + k] = (float)(teacher[i * CLASSES + k] / sum);
    }
}

/* softmax(z / T) from the probabilities at T = 1, as distill/client.c's
 * soften does for a proxy in the normal world. */
static void soften(float *p, int n)
{
    for (int i = 0; i < n; i++) {
        double sum = 0;
        for (int k = 0; k < CLASSES; k++)
            sum += p[i * CLASSES + k] = (float)exp(log(fmax(p[i * CLASSES + k], 1e-30)) /
                                                   TEMPERATURE);
        for (int k = 0; k < CLASSES; k++)
            p[i * CLASSES + k] = (float)(p[i * CLASSES + k] / sum);
    }
}

/* The largest |a[i] - b[i]|.  A plain loop with a branch: aarch64 GCC 12
 * crashed (internal compiler error in vect_transform_reduction) vectorising
 * the same reduction written with fmax at -O2. */
static double largest_difference(const float *a, const float *b, size_t n)
{
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (d > worst)
            worst = d;
    }
    return worst;
}

static void kd_matches_software(const char *dir, int pp_start, int pp_end)
{
    static const int sizes[] = { 30, 95, 12, 0, 40, 33, 7, 40 };
    const int steps = (int)(sizeof sizes / sizeof sizes[0]);
    float *x = malloc((size_t)95 * INPUTS * sizeof(float));
    float *y = malloc((size_t)95 * CLASSES * sizeof(float));
    float *teacher = malloc((size_t)95 * CLASSES * sizeof(float));
    float *probs_sw = malloc((size_t)64 * CLASSES * sizeof(float));
    float *probs_tee = malloc((size_t)64 * CLASSES * sizeof(float));
    assert_true(x && y && teacher && probs_sw && probs_tee);
    trainer sw, tee;
    p4_error err;
    if (trainer_open(&sw, dir, mlp, 0, -1, -1, 0, &err) != P4_OK ||
        trainer_open(&tee, dir, mlp, 1, pp_start, pp_end, 10, &err) != P4_OK)
        fail_msg("open: %s", err.message);
    assert_true(p4_dpsgd_protected_floats(tee.dp) > 0);
    assert_int_equal(p4_dpsgd_protected_floats(sw.dp), 0);
    double worst = 0;
    for (int s = 0; s < steps; s++) {
        make_batch(200 + (uint64_t)s, sizes[s], x, y, teacher);
        p4_dpsgd_kd kd = { y, teacher, ALPHA, TEMPERATURE };
        double a = -1, b = -1;
        assert_int_equal(p4_dpsgd_step_kd(sw.dp, x, sizes[s], 4.0, &kd, &a, &err), P4_OK);
        if (p4_dpsgd_step_kd(tee.dp, x, sizes[s], 4.0, &kd, &b, &err) != P4_OK)
            fail_msg("optee KD step %d: %s", s, err.message);
        double rel = fabs(a - b) / (fabs(a) > 1e-30 ? fabs(a) : 1.0);
        if (rel > worst)
            worst = rel;
        if (rel > 1e-4)
            fail_msg("pp %d..%d KD step %d: loss %.9g (software) vs %.9g (optee)", pp_start,
                     pp_end, s, a, b);
    }
    print_message("KD pp %d..%d: %d steps, largest relative loss difference %.3g\n", pp_start,
                  pp_end, steps, worst);
    /* The teaching probabilities at T. */
    make_batch(999, 64, x, y, teacher);
    assert_int_equal(p4_model_predict(sw.model, x, 64, probs_sw, NULL), P4_OK);
    soften(probs_sw, 64);
    assert_int_equal(p4_dpsgd_teach(tee.dp, x, 64, TEMPERATURE, probs_tee, &err), P4_OK);
    double far = largest_difference(probs_sw, probs_tee, (size_t)64 * CLASSES);
    print_message("KD pp %d..%d: teaching probabilities differ by at most %.3g\n", pp_start,
                  pp_end, far);
    assert_true(far < 1e-5);
    /* The exported protected weights are the software model's, at the
     * protected layers' offset (its tail when the softmax is inside). */
    size_t total = p4_model_param_count(sw.model), pf = p4_dpsgd_protected_floats(tee.dp);
    float *w_sw = malloc(total * sizeof(float)), *w_tee = malloc(pf * sizeof(float));
    assert_true(w_sw && w_tee);
    assert_int_equal(p4_model_get_params(sw.model, w_sw, total), P4_OK);
    assert_int_equal(p4_enclave_layers_export(tee.enclave, w_tee, pf, &err), P4_OK);
    size_t at = p4_dpsgd_protected_offset(tee.dp);
    assert_true(pp_end < 3 ? at + pf < total : at + pf == total);
    double wfar = largest_difference(w_sw + at, w_tee, pf);
    print_message("KD pp %d..%d: exported weights differ by at most %.3g\n", pp_start, pp_end,
                  wfar);
    assert_true(wfar < 1e-5);
    /* An import comes back unchanged; a non-finite one is refused. */
    for (size_t i = 0; i < pf; i++)
        w_sw[i] = (float)(i % 7) * 0.01f;
    assert_int_equal(p4_enclave_layers_import(tee.enclave, w_sw, pf, &err), P4_OK);
    assert_int_equal(p4_enclave_layers_export(tee.enclave, w_tee, pf, &err), P4_OK);
    assert_memory_equal(w_sw, w_tee, pf * sizeof(float));
    w_sw[pf / 2] = NAN;
    assert_int_not_equal(p4_enclave_layers_import(tee.enclave, w_sw, pf, &err), P4_OK);
    assert_int_not_equal(p4_enclave_layers_import(tee.enclave, w_sw, pf - 1, &err), P4_OK);
    free(w_sw);
    free(w_tee);
    trainer_close(&sw);
    trainer_close(&tee);
    free(x);
    free(y);
    free(teacher);
    free(probs_sw);
    free(probs_tee);
}

static void output_layer_kd_matches_software(void **state)
{
    kd_matches_software(*state, 2, 3);
}

static void whole_mlp_kd_matches_software(void **state)
{
    kd_matches_software(*state, 0, 3);
}

/* The MLP's middle layer: the distillation loss and the teaching softmax
 * are the normal world's (the softmax is outside the TA). */
static void mid_range_kd_matches_software(void **state)
{
    kd_matches_software(*state, 1, 1);
}

/* KD_TRAIN straight through the Client API: sizes and values the TA must refuse. */
static void kd_train_refuses_malformed_parameters(void **state)
{
    p4_optee_options o = { .delta = 1e-5, .target_epsilon = 20, .storage_dir = *state };
    p4_optee *t = NULL;
    p4_error err;
    assert_int_equal(p4_optee_open(&t, &o, &err), P4_OK);
    p4_ta_layers_spec spec = test_ta_dense_spec(3, 2, 4, 0);
    float w[8] = { 0.1f, -0.2f, 0.3f, 0.4f, -0.5f, 0.6f, 0.0f, 0.1f };
    assert_int_equal(p4_optee_layers_load(t, &spec, w, 8, &err), P4_OK);
    float in[6] = { 1, 2, 3, 4, 5, 6 }, y[4] = { 1, 0, 0, 1 }, teacher[4] = { 0.3f, 0.7f, 0.5f, 0.5f };
    double loss = 0;
    assert_int_equal(p4_optee_layers_kd_train(t, in, 2, y, teacher, 0.5, 2.0, NULL, &loss, &err),
                     P4_OK);
    assert_true(isfinite(loss) && loss > 0);
    /* Values: alpha outside [0, 1] (the host checks first, so skip it) are
     * refused by the host; a negative or NaN teacher by the TA. */
    assert_int_not_equal(p4_optee_layers_kd_train(t, in, 2, y, teacher, 1.5, 2.0, NULL, &loss,
                                                  &err), P4_OK);
    float bad[4] = { 0.3f, -0.7f, 0.5f, 0.5f };
    assert_int_equal(p4_optee_layers_kd_train(t, in, 2, y, bad, 0.5, 2.0, NULL, &loss, &err),
                     P4_EINVAL);
    bad[1] = NAN;
    assert_int_equal(p4_optee_layers_kd_train(t, in, 2, y, bad, 0.5, 2.0, NULL, &loss, &err),
                     P4_EINVAL);
    /* Sizes: more rows than the layers' capacity. */
    float big_in[15] = { 0 }, big_y[10] = { 0 }, big_t[10] = { 0 };
    assert_int_not_equal(p4_optee_layers_kd_train(t, big_in, 5, big_y, big_t, 0.5, 2.0, NULL,
                                                  &loss, &err), P4_OK);
    /* The teacher may cross only at a temperature the TA accepts. */
    float probs[4];
    assert_int_equal(p4_optee_layers_kd_teach(t, in, 2, 2.0, probs, &err), P4_OK);
    assert_true(fabsf(probs[0] + probs[1] - 1.0f) < 1e-6f);
    assert_int_not_equal(p4_optee_layers_kd_teach(t, in, 2, INFINITY, probs, &err), P4_OK);
    p4_optee_close(&t);
}

/* One raw call through the harness's Client API. */
static TEEC_Result raw(TEEC_Session *sess, uint32_t cmd, uint32_t types, void *b0, size_t n0,
                       void *b1, size_t n1, TEEC_Operation *out)
{
    TEEC_Operation op;
    memset(&op, 0, sizeof op);
    op.paramTypes = types;
    op.params[0].tmpref.buffer = b0;
    op.params[0].tmpref.size = n0;
    op.params[1].tmpref.buffer = b1;
    op.params[1].tmpref.size = n1;
    if (TEEC_PARAM_TYPE_GET(types, 2) == TEEC_VALUE_INPUT)
        p4_ta_double_value(2.0, &op.params[2].value.a, &op.params[2].value.b);
    uint32_t origin = 0;
    TEEC_Result r = TEEC_InvokeCommand(sess, cmd, &op, &origin);
    if (out)
        *out = op;
    return r;
}

#define MEM_IN TEEC_MEMREF_TEMP_INPUT
#define MEM_OUT TEEC_MEMREF_TEMP_OUTPUT

static void new_commands_refuse_malformed_sizes(void **state)
{
    TEEC_Context ctx;
    TEEC_Session sess;
    test_ta_session_open(&ctx, &sess, *state, 10);
    assert_int_equal(test_ta_open_ledger(&sess, 1e-5, 20, NULL), TEEC_SUCCESS);
    TEEC_Operation op;
    uint32_t origin = 0;

    const uint32_t kd_types = TEEC_PARAM_TYPES(MEM_IN, MEM_IN, TEEC_NONE, TEEC_VALUE_OUTPUT);
    const uint32_t teach_types = TEEC_PARAM_TYPES(MEM_IN, MEM_OUT, TEEC_VALUE_INPUT, TEEC_NONE);
    const uint32_t out_types = TEEC_PARAM_TYPES(MEM_OUT, TEEC_NONE, TEEC_NONE, TEEC_NONE);
    const uint32_t in_types = TEEC_PARAM_TYPES(MEM_IN, TEEC_NONE, TEEC_NONE, TEEC_NONE);
    float in[6] = { 1, 2, 3, 4, 5, 6 }, w[8] = { 0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f, 0, 0 };
    /* p1 of KD_TRAIN for 2 examples of 2 classes: header, labels, teacher. */
    unsigned char p1[sizeof(p4_ta_kd_args) + 8 * sizeof(float)];
    p4_ta_kd_args args = { 0.5, 2.0 };
    float rows[8] = { 1, 0, 0, 1, 0.3f, 0.7f, 0.5f, 0.5f };
    memcpy(p1, &args, sizeof args);
    memcpy(p1 + sizeof args, rows, sizeof rows);
    float probs[4], export[8];

    /* Before LAYERS_LOAD: no layers. */
    assert_int_equal(raw(&sess, P4_TA_CMD_KD_TRAIN, kd_types, in, sizeof in, p1, sizeof p1, NULL),
                     TEEC_ERROR_BAD_STATE);
    assert_int_equal(raw(&sess, P4_TA_CMD_LAYERS_EXPORT, out_types, export, sizeof export, NULL,
                         0, NULL), TEEC_ERROR_BAD_STATE);
    p4_ta_layers_spec spec = test_ta_dense_spec(3, 2, 4, 0);
    memset(&op, 0, sizeof op);
    op.paramTypes = TEEC_PARAM_TYPES(MEM_IN, MEM_IN, TEEC_VALUE_OUTPUT, TEEC_NONE);
    op.params[0].tmpref.buffer = &spec;
    op.params[0].tmpref.size = sizeof spec;
    op.params[1].tmpref.buffer = w;
    op.params[1].tmpref.size = sizeof w;
    assert_int_equal(TEEC_InvokeCommand(&sess, P4_TA_CMD_LAYERS_LOAD, &op, &origin), TEEC_SUCCESS);

    /* KD_TRAIN: the well-formed call, then each malformed one. */
    assert_int_equal(raw(&sess, P4_TA_CMD_KD_TRAIN, kd_types, in, sizeof in, p1, sizeof p1, NULL),
                     TEEC_SUCCESS);
    assert_int_equal(raw(&sess, P4_TA_CMD_KD_TRAIN, kd_types, in, sizeof in, p1, sizeof p1 - 4,
                         NULL), TEEC_ERROR_BAD_PARAMETERS);
    assert_int_equal(raw(&sess, P4_TA_CMD_KD_TRAIN, kd_types, in, sizeof in, p1, sizeof args,
                         NULL), TEEC_ERROR_BAD_PARAMETERS);
    assert_int_equal(raw(&sess, P4_TA_CMD_KD_TRAIN, kd_types, in, sizeof in - 4, p1, sizeof p1,
                         NULL), TEEC_ERROR_BAD_PARAMETERS);
    assert_int_equal(raw(&sess, P4_TA_CMD_KD_TRAIN, kd_types, in, sizeof in / 2, p1, sizeof p1,
                         NULL), TEEC_ERROR_BAD_PARAMETERS); /* 1 input, 2 rows of targets */
    assert_int_equal(raw(&sess, P4_TA_CMD_KD_TRAIN, TEEC_PARAM_TYPES(MEM_IN, MEM_IN, TEEC_NONE,
                                                                     TEEC_NONE),
                         in, sizeof in, p1, sizeof p1, NULL), TEEC_ERROR_BAD_PARAMETERS);
    args.temperature = 0;
    memcpy(p1, &args, sizeof args);
    assert_int_equal(raw(&sess, P4_TA_CMD_KD_TRAIN, kd_types, in, sizeof in, p1, sizeof p1, NULL),
                     TEEC_ERROR_BAD_PARAMETERS);
    /* KD_TEACH: a short output buffer is told the size it needs. */
    TEEC_Operation back;
    assert_int_equal(raw(&sess, P4_TA_CMD_KD_TEACH, teach_types, in, sizeof in, probs,
                         sizeof probs, NULL), TEEC_SUCCESS);
    assert_int_equal(raw(&sess, P4_TA_CMD_KD_TEACH, teach_types, in, sizeof in, probs,
                         sizeof probs - 4, &back), TEEC_ERROR_SHORT_BUFFER);
    assert_int_equal(back.params[1].tmpref.size, sizeof probs);
    assert_int_equal(raw(&sess, P4_TA_CMD_KD_TEACH, teach_types, in, 5, probs, sizeof probs,
                         NULL), TEEC_ERROR_BAD_PARAMETERS);
    assert_int_equal(raw(&sess, P4_TA_CMD_KD_TEACH, TEEC_PARAM_TYPES(MEM_IN, MEM_OUT, TEEC_NONE,
                                                                     TEEC_NONE),
                         in, sizeof in, probs, sizeof probs, NULL), TEEC_ERROR_BAD_PARAMETERS);
    /* LAYERS_EXPORT / IMPORT: 8 floats exactly. */
    assert_int_equal(raw(&sess, P4_TA_CMD_LAYERS_EXPORT, out_types, export, sizeof export - 4,
                         NULL, 0, &back), TEEC_ERROR_SHORT_BUFFER);
    assert_int_equal(back.params[0].tmpref.size, sizeof export);
    assert_int_equal(raw(&sess, P4_TA_CMD_LAYERS_EXPORT, out_types, export, sizeof export, NULL,
                         0, NULL), TEEC_SUCCESS);
    assert_int_equal(raw(&sess, P4_TA_CMD_LAYERS_IMPORT, in_types, export, sizeof export - 4,
                         NULL, 0, NULL), TEEC_ERROR_BAD_PARAMETERS);
    float longer[9] = { 0 }; /* one float more than the layers hold, from a buffer that has it */
    assert_int_equal(raw(&sess, P4_TA_CMD_LAYERS_IMPORT, in_types, longer, sizeof longer,
                         NULL, 0, NULL), TEEC_ERROR_BAD_PARAMETERS);
    assert_int_equal(raw(&sess, P4_TA_CMD_LAYERS_IMPORT, out_types, export, sizeof export, NULL,
                         0, NULL), TEEC_ERROR_BAD_PARAMETERS);
    assert_int_equal(raw(&sess, P4_TA_CMD_LAYERS_IMPORT, in_types, export, sizeof export, NULL, 0,
                         NULL), TEEC_SUCCESS);
    test_ta_session_close(&ctx, &sess);
}

/* A TA that panics mid-training resumes its stored layers, momentum and
 * seeded noise position: the run then equals one that never panicked,
 * bit for bit (the same TA code on the same values). */
static void panic_mid_training_resumes_the_layers(void **state)
{
    char dir_a[600], dir_b[600];
    test_path_in(*state, "a", dir_a, sizeof dir_a);
    test_path_in(*state, "b", dir_b, sizeof dir_b);
    assert_int_equal(mkdir(dir_a, 0700), 0);
    assert_int_equal(mkdir(dir_b, 0700), 0);
    /* both seeded alike, the 4 -> 3 layer loaded */
    p4_optee *a = test_ta_dense_open(dir_a, 1), *b = test_ta_dense_open(dir_b, 1);
    p4_error err;
    float w[15];
    test_ta_dense_weights(w, 15);
    for (int s = 0; s < 3; s++)
        assert_true(test_ta_dense_step(a, s) == test_ta_dense_step(b, s));
    assert_int_equal(p4_optee_test_command(b, P4_TA_CMD_TEST_PANIC, 0, &err), P4_ESTATE);
    if (!strstr(err.message, "resumed"))
        fail_msg("not resumed: %s", err.message);
    assert_int_equal(p4_optee_reopens(b), 1);
    for (int s = 3; s < 6; s++) {
        double la = test_ta_dense_step(a, s), lb = test_ta_dense_step(b, s);
        if (la != lb)
            fail_msg("step %d after the panic: loss %.17g (uninterrupted) vs %.17g", s, la, lb);
    }
    float wa[15], wb[15];
    assert_int_equal(p4_optee_layers_export(a, wa, 15, &err), P4_OK);
    assert_int_equal(p4_optee_layers_export(b, wb, 15, &err), P4_OK);
    assert_memory_equal(wa, wb, sizeof wa);
    assert_memory_not_equal(wa, w, sizeof wa); /* they trained */
    p4_optee_close(&a);
    p4_optee_close(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(output_layer_kd_matches_software, test_temp_dir_setup,
                                        test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(whole_mlp_kd_matches_software, test_temp_dir_setup,
                                        test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(mid_range_kd_matches_software, test_temp_dir_setup,
                                        test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(kd_train_refuses_malformed_parameters,
                                        test_temp_dir_setup, test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(new_commands_refuse_malformed_sizes,
                                        test_temp_dir_setup, test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(panic_mid_training_resumes_the_layers,
                                        test_temp_dir_setup, test_temp_dir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL); /* the macro already maps skips to 77 */
}
