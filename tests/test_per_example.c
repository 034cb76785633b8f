/* test_per_example.c: DP-SGD's per-example gradients, clipping and noise-free
 * equivalence with plain SGD, checked against darknet's own backward pass run
 * one example at a time (the slow, obviously-right way). */
#include "support/test_support.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "dp/dpsgd.h"
#include "dp/per_example.h"
#include "model/loss.h"
#include "model/model.h"
#include "model/optimizer.h"
#include "model/trainer.h"
#include "tee/enclave.h"

#define BATCH 6
#define CLASSES 10

static const p4_cfg_shape gray28 = {28, 28, 1, CLASSES};

typedef struct {
    p4_model *model;
    p4_sgd *sgd;
    size_t params;
    float x[BATCH * 784];
    float y[BATCH * CLASSES];
} fixture;

static void make_fixture(fixture *f, const char *cfg)
{
    p4_error err = {0};
    int rc = p4_model_new(&f->model, cfg, &gray28, BATCH, 11, &err);
    if (rc != 0)
        fail_msg("%s", err.message);
    assert_int_equal(p4_sgd_new(&f->sgd, f->model, 0.1, 0.0, 0.0, &err), 0);
    f->params = p4_model_param_count(f->model);
    p4_rng rng;
    p4_rng_init_seeded(&rng, 5, "test-inputs");
    for (int i = 0; i < BATCH * 784; i++)
        f->x[i] = (float)p4_rng_uniform(&rng);
    memset(f->y, 0, sizeof f->y);
    for (int i = 0; i < BATCH; i++)
        f->y[i * CLASSES + (int)p4_rng_below(&rng, CLASSES)] = 1.0f;
}

static void free_fixture(fixture *f)
{
    p4_sgd_destroy(&f->sgd);
    p4_model_destroy(&f->model);
}

/* Gradient of example i alone, via darknet's ordinary backward. */
static void reference_gradient(fixture *f, int i, float *g)
{
    assert_int_equal(p4_model_load_inputs(f->model, f->x + i * 784, 1), 0);
    p4_model_forward(f->model, 1);
    p4_loss_cross_entropy(p4_model_probabilities(f->model), f->y + i * CLASSES, 1,
                          CLASSES, p4_model_logit_delta(f->model));
    p4_sgd_zero_grad(f->sgd);
    p4_model_backward(f->model);
    assert_int_equal(p4_model_get_gradients(f->model, g, f->params), 0);
}

static double norm_sq(const float *v, size_t n)
{
    double s = 0;
    for (size_t k = 0; k < n; k++)
        s += (double)v[k] * v[k];
    return s;
}

static void check_model(const char *cfg)
{
    fixture f;
    make_fixture(&f, cfg);
    float *g = malloc(BATCH * f.params * sizeof(float));
    for (int i = 0; i < BATCH; i++)
        reference_gradient(&f, i, g + i * f.params);

    /* Batched per-example pass. */
    p4_per_example *pe = NULL;
    assert_int_equal(p4_per_example_new(&pe, f.model, NULL), 0);
    assert_int_equal(p4_model_load_inputs(f.model, f.x, BATCH), 0);
    p4_model_forward(f.model, 1);
    p4_loss_cross_entropy(p4_model_probabilities(f.model), f.y, BATCH, CLASSES,
                          p4_model_logit_delta(f.model));
    double norms[BATCH];
    p4_sgd_zero_grad(f.sgd);
    assert_int_equal(p4_per_example_backward(pe, norms, BATCH), 0);
    for (int i = 0; i < BATCH; i++) {
        double expect = norm_sq(g + i * f.params, f.params);
        assert_true(expect > 0);
        assert_true(fabs(norms[i] - expect) <= 1e-4 * expect);
    }

    /* Clip to half the median norm: some clipped, some not. */
    double sorted[BATCH];
    memcpy(sorted, norms, sizeof sorted);
    for (int a = 0; a < BATCH; a++)
        for (int b = a + 1; b < BATCH; b++)
            if (sorted[b] < sorted[a]) { double t = sorted[a]; sorted[a] = sorted[b]; sorted[b] = t; }
    double clip = sqrt(sorted[BATCH / 2]);
    float factor[BATCH];
    assert_int_equal(p4_clip_factors(norms, BATCH, clip, factor), P4_OK);
    int clipped = 0, unclipped = 0;
    for (int i = 0; i < BATCH; i++) {
        double clipped_norm = factor[i] * sqrt(norms[i]);
        assert_true(clipped_norm <= clip * (1 + 1e-6));
        if (sqrt(norms[i]) <= clip) {
            assert_true(factor[i] == 1.0f); /* below C: the raw gradient */
            unclipped++;
        } else {
            clipped++;
        }
    }
    assert_true(clipped > 0 && unclipped > 0);

    /* The accumulated sum equals sum_i factor_i g_i. */
    assert_int_equal(p4_per_example_accumulate(pe, factor, BATCH), 0);
    float *got = malloc(f.params * sizeof(float));
    assert_int_equal(p4_model_get_gradients(f.model, got, f.params), 0);
    double err_sq = 0, ref_sq = 0;
    for (size_t k = 0; k < f.params; k++) {
        double expect = 0;
        for (int i = 0; i < BATCH; i++)
            expect += factor[i] * g[i * f.params + k];
        err_sq += (got[k] - expect) * (got[k] - expect);
        ref_sq += expect * expect;
    }
    assert_true(sqrt(err_sq) <= 1e-4 * sqrt(ref_sq));

    free(got);
    free(g);
    p4_per_example_destroy(&pe);
    free_fixture(&f);
}

static void test_dense_per_example_norms_and_clipped_sum(void **state)
{
    (void)state;
    check_model("configs/models/mlp-28x28x1.cfg");
}

static void test_conv_per_example_norms_and_clipped_sum(void **state)
{
    (void)state;
    check_model("configs/models/cnn1-28x28x1.cfg");
    check_model("configs/models/lenet5-28x28x1.cfg");
}

/* With sigma = 0 and a clip norm no gradient reaches, one DP-SGD step is
 * exactly one plain SGD step on the same batch. */
static void test_dpsgd_without_noise_or_clipping_is_sgd(void **state)
{
    (void)state;
    const char *cfgs[] = {"configs/models/mlp-28x28x1.cfg", "configs/models/cnn1-28x28x1.cfg"};
    for (int c = 0; c < 2; c++) {
        fixture a, b;
        make_fixture(&a, cfgs[c]);
        make_fixture(&b, cfgs[c]);
        assert_int_equal(p4_train_step(a.model, a.sgd, a.x, a.y, BATCH, NULL), 0);

        p4_enclave *enclave = NULL;
        assert_int_equal(p4_enclave_open_software(&enclave, 1, 1, NULL), 0);
        p4_dpsgd_params params = {.sample_rate = 0.5, .noise_multiplier = 0.0, .clip_norm = 1e9};
        p4_dpsgd *dp = NULL;
        assert_int_equal(p4_dpsgd_new(&dp, b.model, b.sgd, &params, enclave, NULL), 0);
        assert_int_equal(p4_dpsgd_step(dp, b.x, b.y, BATCH, BATCH, NULL, NULL, NULL, NULL), 0);

        float *pa = malloc(a.params * sizeof(float)), *pb = malloc(b.params * sizeof(float));
        p4_model_get_params(a.model, pa, a.params);
        p4_model_get_params(b.model, pb, b.params);
        double diff = 0, moved = 0;
        float *p0 = malloc(a.params * sizeof(float));
        fixture fresh;
        make_fixture(&fresh, cfgs[c]);
        p4_model_get_params(fresh.model, p0, a.params);
        for (size_t k = 0; k < a.params; k++) {
            diff = fmax(diff, fabs(pa[k] - pb[k]));
            moved = fmax(moved, fabs(pa[k] - p0[k]));
        }
        assert_true(moved > 1e-4);          /* the step did something */
        assert_true(diff <= 1e-5 + 1e-3 * moved);
        free(pa); free(pb); free(p0);
        free_fixture(&fresh);
        p4_dpsgd_destroy(&dp);
        p4_enclave_close(&enclave);
        free_fixture(&a);
        free_fixture(&b);
    }
}

/* A diverged example (NaN or infinite input, so NaN/inf loss and norms) is
 * an error: nothing is released and the model keeps its parameters. */
static void test_nonfinite_step_is_refused(void **state)
{
    (void)state;
    double norms[3] = {1.0, NAN, 4.0};
    float factor[3];
    assert_int_equal(p4_clip_factors(norms, 3, 1.0, factor), P4_EINVAL);
    norms[1] = INFINITY;
    assert_int_equal(p4_clip_factors(norms, 3, 1.0, factor), P4_EINVAL);
    norms[1] = 9.0;
    assert_int_equal(p4_clip_factors(norms, 3, 1.0, factor), P4_OK);
    assert_true(factor[0] == 1.0f && fabsf(factor[1] - 1.0f / 3.0f) < 1e-7f);

    const float poison[2] = {NAN, INFINITY};
    for (int k = 0; k < 2; k++) {
        fixture f;
        make_fixture(&f, "configs/models/mlp-28x28x1.cfg");
        float *before = malloc(f.params * sizeof(float)), *after = malloc(f.params * sizeof(float));
        p4_model_get_params(f.model, before, f.params);
        p4_enclave *enclave = NULL;
        assert_int_equal(p4_enclave_open_software(&enclave, 1, 1, NULL), 0);
        p4_dpsgd_params params = {.sample_rate = 0.5, .noise_multiplier = 1.0, .clip_norm = 1.0};
        p4_dpsgd *dp = NULL;
        assert_int_equal(p4_dpsgd_new(&dp, f.model, f.sgd, &params, enclave, NULL), 0);
        f.x[3] = poison[k];
        p4_error err = {0};
        assert_int_equal(p4_dpsgd_step(dp, f.x, f.y, BATCH, BATCH, NULL, NULL, NULL, &err),
                         P4_EDIVERGED);
        assert_non_null(strstr(err.message, "no update is released"));
        p4_model_get_params(f.model, after, f.params);
        assert_memory_equal(before, after, f.params * sizeof(float));
        free(before); free(after);
        p4_dpsgd_destroy(&dp);
        p4_enclave_close(&enclave);
        free_fixture(&f);
    }
}

/* A batch larger than the model's capacity is run in chunks and gives the
 * same result as computing it whole (clipping is per example). */
static void test_chunked_batch_matches_whole_batch(void **state)
{
    (void)state;
    p4_error err = {0};
    p4_model *small = NULL, *whole = NULL;
    assert_int_equal(p4_model_new(&small, "configs/models/mlp-28x28x1.cfg", &gray28, 2, 3, &err), 0);
    assert_int_equal(p4_model_new(&whole, "configs/models/mlp-28x28x1.cfg", &gray28, BATCH, 3, &err), 0);
    p4_sgd *s1 = NULL, *s2 = NULL;
    p4_sgd_new(&s1, small, 0.1, 0.9, 0.0, NULL);
    p4_sgd_new(&s2, whole, 0.1, 0.9, 0.0, NULL);
    p4_enclave *enclave = NULL;
    p4_enclave_open_software(&enclave, 1, 1, NULL);
    p4_dpsgd_params params = {.sample_rate = 0.1, .noise_multiplier = 0.0, .clip_norm = 0.5};
    p4_dpsgd *d1 = NULL, *d2 = NULL;
    assert_int_equal(p4_dpsgd_new(&d1, small, s1, &params, enclave, NULL), 0);
    assert_int_equal(p4_dpsgd_new(&d2, whole, s2, &params, enclave, NULL), 0);
    fixture f;
    make_fixture(&f, "configs/models/mlp-28x28x1.cfg");
    assert_int_equal(p4_dpsgd_step(d1, f.x, f.y, BATCH, 4.0, NULL, NULL, NULL, NULL), 0);
    assert_int_equal(p4_dpsgd_step(d2, f.x, f.y, BATCH, 4.0, NULL, NULL, NULL, NULL), 0);
    size_t n = p4_model_param_count(small);
    float *a = malloc(n * sizeof(float)), *b = malloc(n * sizeof(float));
    p4_model_get_params(small, a, n);
    p4_model_get_params(whole, b, n);
    for (size_t k = 0; k < n; k++)
        assert_true(fabs(a[k] - b[k]) <= 1e-5);
    free(a); free(b);
    free_fixture(&f);
    p4_dpsgd_destroy(&d1); p4_dpsgd_destroy(&d2);
    p4_sgd_destroy(&s1); p4_sgd_destroy(&s2);
    p4_model_destroy(&small); p4_model_destroy(&whole);
    p4_enclave_close(&enclave);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dense_per_example_norms_and_clipped_sum),
        cmocka_unit_test(test_conv_per_example_norms_and_clipped_sum),
        cmocka_unit_test(test_dpsgd_without_noise_or_clipping_is_sgd),
        cmocka_unit_test(test_chunked_batch_matches_whole_batch),
        cmocka_unit_test(test_nonfinite_step_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
