/* test_step_phases.c: the step profile of bench_train --profile
 * (model/step_phases.h): a profiled step books time to exactly the phases
 * it runs, and profiling changes nothing in what the step computes. */
#include "support/test_support.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "dp/dpsgd.h"
#include "model/model.h"
#include "model/optimizer.h"
#include "model/step_phases.h"
#include "model/trainer.h"
#include "tee/enclave.h"

#define BATCH 40
#define CLASSES 10

static const p4_cfg_shape gray28 = { 28, 28, 1, CLASSES };

typedef struct {
    p4_model *model;
    p4_sgd *sgd;
    p4_enclave *enclave;
    p4_dpsgd *dp;
    float x[BATCH * 784], y[BATCH * CLASSES];
} fixture;

static void open_fixture(fixture *f, const char *cfg)
{
    p4_error err = { 0 };
    memset(f, 0, sizeof *f);
    if (p4_model_new(&f->model, cfg, &gray28, BATCH, 3, &err) != P4_OK)
        fail_msg("%s", err.message);
    assert_int_equal(p4_sgd_new(&f->sgd, f->model, 0.05, 0.0, 0.0, &err), P4_OK);
    assert_int_equal(p4_enclave_open_software(&f->enclave, 1, 9, &err), P4_OK);
    p4_dpsgd_params params = { 0.01, 1.0, 1.0 };
    assert_int_equal(p4_dpsgd_new(&f->dp, f->model, f->sgd, &params, f->enclave, &err), P4_OK);
    p4_rng rng;
    p4_rng_init_seeded(&rng, 5, "test-inputs");
    for (int i = 0; i < BATCH * 784; i++)
        f->x[i] = (float)p4_rng_uniform(&rng);
    memset(f->y, 0, sizeof f->y);
    for (int i = 0; i < BATCH; i++)
        f->y[i * CLASSES + (int)p4_rng_below(&rng, CLASSES)] = 1.0f;
}

static void close_fixture(fixture *f)
{
    p4_dpsgd_destroy(&f->dp);
    p4_enclave_close(&f->enclave);
    p4_sgd_destroy(&f->sgd);
    p4_model_destroy(&f->model);
}

static float *params_of(p4_model *m)
{
    size_t n = p4_model_param_count(m);
    float *p = malloc(n * sizeof *p);
    assert_non_null(p);
    assert_int_equal(p4_model_get_params(m, p, n), P4_OK);
    return p;
}

/* Two fixtures from the same seeds take the same steps, one profiled and
 * one not: the weights must come out bit-identical, and the profiled one
 * must have booked time to its phases and to no other. */
static void check(const char *cfg, int dp)
{
    fixture a, b;
    open_fixture(&a, cfg);
    open_fixture(&b, cfg);
    p4_step_phases phases;
    memset(&phases, 0, sizeof phases);
    for (int step = 0; step < 3; step++) {
        double la = 0, lb = 0;
        if (dp) {
            p4_dpsgd_set_phases(b.dp, &phases);
            assert_int_equal(p4_dpsgd_step(a.dp, a.x, a.y, BATCH, BATCH, NULL, NULL, &la, NULL), P4_OK);
            assert_int_equal(p4_dpsgd_step(b.dp, b.x, b.y, BATCH, BATCH, NULL, NULL, &lb, NULL), P4_OK);
        } else {
            assert_int_equal(p4_train_step(a.model, a.sgd, a.x, a.y, BATCH, &la), P4_OK);
            assert_int_equal(p4_train_step_phases(b.model, b.sgd, b.x, b.y, BATCH, &lb, &phases),
                             P4_OK);
        }
        assert_true(la == lb);
    }
    float *pa = params_of(a.model), *pb = params_of(b.model);
    assert_memory_equal(pa, pb, p4_model_param_count(a.model) * sizeof *pa);
    free(pa);
    free(pb);
    for (int p = 0; p < P4_PHASES; p++) {
        const int runs = dp || p == P4_PHASE_FORWARD || p == P4_PHASE_BACKWARD ||
                         p == P4_PHASE_UPDATE;
        if (runs && !(phases.seconds[p] > 0))
            fail_msg("%s %s: phase %s got no time", cfg, dp ? "dp" : "plain", p4_phase_name(p));
        if (!runs && phases.seconds[p] != 0)
            fail_msg("%s plain: phase %s got %g s", cfg, p4_phase_name(p), phases.seconds[p]);
        assert_true(phases.seconds[p] >= 0 && isfinite(phases.seconds[p]));
    }
    /* Unhooked, the step books nothing more. */
    p4_step_phases before = phases;
    p4_dpsgd_set_phases(b.dp, NULL);
    assert_int_equal(p4_dpsgd_step(b.dp, b.x, b.y, BATCH, BATCH, NULL, NULL, NULL, NULL), P4_OK);
    assert_memory_equal(&before, &phases, sizeof phases);
    close_fixture(&a);
    close_fixture(&b);
}

static void test_dense_plain(void **state) { (void)state; check("configs/models/mlp-28x28x1.cfg", 0); }
static void test_dense_dp(void **state) { (void)state; check("configs/models/mlp-28x28x1.cfg", 1); }
static void test_conv_dp(void **state) { (void)state; check("configs/models/cnn1-28x28x1.cfg", 1); }

static void test_phase_names(void **state)
{
    (void)state;
    assert_string_equal(p4_phase_name(P4_PHASE_NORMS), "norms");
    assert_string_equal(p4_phase_name(P4_PHASE_CLIPPED_SUM), "clipped_sum");
    assert_null(p4_phase_name(P4_PHASES));
    assert_null(p4_phase_name((p4_phase)-1));
    assert_true(p4_phase_start(NULL) == 0.0);
    assert_true(p4_phase_end(NULL, P4_PHASE_NOISE, 1.0) == 0.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dense_plain),
        cmocka_unit_test(test_dense_dp),
        cmocka_unit_test(test_conv_dp),
        cmocka_unit_test(test_phase_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
