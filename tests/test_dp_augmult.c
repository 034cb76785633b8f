/* test_dp_augmult.c: augmentation multiplicity ([dp] augmentations) keeps
 * DP-SGD's sensitivity at C per example.
 *
 * With K copies of each example, the step must release, before noise,
 *     S = sum_j clip_C( (1/K) sum_k g_jk ),
 * the mean over an example's copies clipped ONCE.  The reference here is
 * computed the slow way (darknet's plain backward one row at a time, the
 * mean and the clip in double), on a convolution + dense model and on an
 * MLP, at 1 and 3 compute threads; the clip bound is the median of the
 * examples' mean norms, so some are clipped and some not.  Two broken
 * versions must fail: clipping each copy before averaging (the copies
 * differ, and this file checks that the two references differ too), and
 * dividing by the wrong count (identical copies must give exactly the
 * single-copy step).  Both are tests/mutants/ patches (docs/mutants.md). */
#include "support/test_support.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "common/workers.h"
#include "datasets/augment.h"
#include "dp/dpsgd.h"
#include "dp/per_example.h"
#include "model/loss.h"
#include "model/model.h"
#include "model/optimizer.h"
#include "support/dp_fixture.h"
#include "tee/enclave.h"

#define EXAMPLES 4
#define K 3
#define ROWS (EXAMPLES * K)
#define CAPACITY ROWS
#define EXPECTED_BATCH 2.5 /* q N, not EXAMPLES nor ROWS */

typedef struct {
    char *dir;
    p4_model *model;
    p4_sgd *sgd;
    size_t params;
    float x[EXAMPLES * TINY_INPUTS], y[EXAMPLES * TINY_CLASSES];
    float rows_x[ROWS * TINY_INPUTS], rows_y[ROWS * TINY_CLASSES]; /* K shifted copies each */
    float *w0;
} fixture;

static void make_fixture(fixture *f, const char *cfg_text)
{
    memset(f, 0, sizeof *f);
    f->dir = test_make_temp_dir();
    char path[512];
    test_write_text(f->dir, "model.cfg", cfg_text, path, sizeof path);
    p4_error err = {0};
    if (p4_model_new(&f->model, path, &tiny_shape, CAPACITY, 23, &err) != P4_OK)
        fail_msg("%s", err.message);
    assert_int_equal(p4_sgd_new(&f->sgd, f->model, 1.0, 0.0, 0.0, &err), P4_OK);
    f->params = p4_model_param_count(f->model);
    p4_dataset *ds = tiny_dataset(EXAMPLES, 9);
    assert_int_equal(p4_dataset_batch(ds, NULL, EXAMPLES, f->x, f->y), P4_OK);
    p4_dataset_destroy(&ds);
    /* Copies that differ: shifts (0,0), (2,1), (-1,-2), so their gradients do. */
    const int shift[K][2] = { {0, 0}, {2, 1}, {-1, -2} };
    p4_augment a = { TINY_SIDE, TINY_SIDE, 1, 2, 0 };
    for (int i = 0; i < EXAMPLES; i++)
        for (int k = 0; k < K; k++) {
            int row = i * K + k;
            assert_int_equal(p4_augment_apply(&a, shift[k][0], shift[k][1], 0,
                                              f->x + i * TINY_INPUTS,
                                              f->rows_x + row * TINY_INPUTS), P4_OK);
            memcpy(f->rows_y + row * TINY_CLASSES, f->y + i * TINY_CLASSES,
                   TINY_CLASSES * sizeof(float));
        }
    f->w0 = malloc(f->params * sizeof *f->w0);
    assert_non_null(f->w0);
    assert_int_equal(p4_model_get_params(f->model, f->w0, f->params), P4_OK);
}

static void free_fixture(fixture *f)
{
    p4_sgd_destroy(&f->sgd);
    p4_model_destroy(&f->model);
    free(f->w0);
    test_remove_tree(f->dir);
}

/* One row's gradient alone (darknet's sign), by darknet's own backward. */
static void row_gradient(fixture *f, const float *x, const float *y, float *g)
{
    assert_int_equal(p4_model_set_params(f->model, f->w0, f->params), P4_OK);
    assert_int_equal(p4_model_load_inputs(f->model, x, 1), P4_OK);
    p4_model_forward(f->model, 1);
    p4_loss_cross_entropy(p4_model_probabilities(f->model), y, 1, TINY_CLASSES,
                          p4_model_logit_delta(f->model));
    p4_sgd_zero_grad(f->sgd);
    assert_int_equal(p4_model_backward(f->model), P4_OK);
    assert_int_equal(p4_model_get_gradients(f->model, g, f->params), P4_OK);
}

static double norm(const double *v, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += v[i] * v[i];
    return sqrt(s);
}

/* means[j] = (1/K) sum_k g_jk over `groups` groups of K rows, in double. */
static void group_means(fixture *f, const float *x, const float *y, int groups, double *means)
{
    float *g = malloc(f->params * sizeof *g);
    assert_non_null(g);
    memset(means, 0, (size_t)groups * f->params * sizeof *means);
    for (int j = 0; j < groups; j++)
        for (int k = 0; k < K; k++) {
            int row = j * K + k;
            row_gradient(f, x + row * TINY_INPUTS, y + row * TINY_CLASSES, g);
            for (size_t p = 0; p < f->params; p++)
                means[j * f->params + p] += g[p] / (double)K;
        }
    free(g);
}

static p4_dpsgd *new_dpsgd(fixture *f, double clip, p4_enclave *enclave)
{
    p4_dpsgd_params params = { .sample_rate = 0.5, .noise_multiplier = 0.0, .clip_norm = clip };
    p4_dpsgd *dp = NULL;
    p4_error err = {0};
    if (p4_dpsgd_new(&dp, f->model, f->sgd, &params, enclave, &err) != P4_OK)
        fail_msg("%s", err.message);
    return dp;
}

/* w - w0 after one noiseless grouped step from w0 (lr 1, no momentum). */
static void grouped_step(fixture *f, p4_dpsgd *dp, const float *x, const float *y, int rows,
                         int group, double *delta)
{
    float *w = malloc(f->params * sizeof *w);
    assert_non_null(w);
    p4_error err = {0};
    assert_int_equal(p4_model_set_params(f->model, f->w0, f->params), P4_OK);
    if (p4_dpsgd_step_grouped(dp, x, y, rows, group, EXPECTED_BATCH, NULL, NULL, NULL, &err) !=
        P4_OK)
        fail_msg("grouped step: %s", err.message);
    assert_int_equal(p4_model_get_params(f->model, w, f->params), P4_OK);
    for (size_t p = 0; p < f->params; p++)
        delta[p] = (double)w[p] - f->w0[p];
    free(w);
}

static double relative_error(const double *got, const double *expect, size_t n)
{
    double e = 0, r = 0;
    for (size_t i = 0; i < n; i++) {
        e += (got[i] - expect[i]) * (got[i] - expect[i]);
        r += expect[i] * expect[i];
    }
    assert_true(r > 0);
    return sqrt(e / r);
}

static int compare(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The per-example pass in groups: norms_sq[j] is ||sum_k g_jk||^2. */
static void check_group_norms(const char *cfg_text)
{
    fixture f;
    make_fixture(&f, cfg_text);
    double *means = malloc(EXAMPLES * f.params * sizeof *means);
    assert_non_null(means);
    group_means(&f, f.rows_x, f.rows_y, EXAMPLES, means);
    p4_per_example *pe = NULL;
    assert_int_equal(p4_per_example_new(&pe, f.model, NULL), P4_OK);
    assert_int_equal(p4_per_example_set_group(pe, 0), P4_EINVAL);
    assert_int_equal(p4_per_example_set_group(pe, K), P4_OK);
    const int threads[2] = { 1, 3 };
    for (int t = 0; t < 2; t++) {
        p4_workers_set_threads(threads[t]);
        assert_int_equal(p4_model_set_params(f.model, f.w0, f.params), P4_OK);
        assert_int_equal(p4_model_load_inputs(f.model, f.rows_x, ROWS), P4_OK);
        p4_model_forward(f.model, 1);
        p4_loss_cross_entropy(p4_model_probabilities(f.model), f.rows_y, ROWS, TINY_CLASSES,
                              p4_model_logit_delta(f.model));
        double norms_sq[ROWS];
        p4_sgd_zero_grad(f.sgd);
        assert_int_equal(p4_per_example_backward(pe, norms_sq, ROWS), P4_OK);
        for (int j = 0; j < EXAMPLES; j++) {
            double sum_norm = K * norm(means + j * f.params, f.params);
            assert_true(sum_norm > 0);
            if (fabs(sqrt(norms_sq[j]) - sum_norm) > 1e-4 * sum_norm)
                fail_msg("%d thread(s), group %d: |sum g| = %g, reference %g", threads[t], j,
                         sqrt(norms_sq[j]), sum_norm);
        }
    }
    p4_workers_set_threads(1);
    /* A batch that is not whole groups is refused. */
    assert_int_equal(p4_model_load_inputs(f.model, f.rows_x, ROWS - 1), P4_OK);
    p4_model_forward(f.model, 1);
    double norms_sq[ROWS];
    assert_int_equal(p4_per_example_backward(pe, norms_sq, ROWS - 1), P4_EINVAL);
    p4_per_example_destroy(&pe);
    free(means);
    free_fixture(&f);
}

static void test_group_norms_are_norms_of_the_sums(void **state)
{
    (void)state;
    check_group_norms(tiny_conv_cfg);
    check_group_norms(tiny_mlp_cfg);
}

/* The step releases sum_j clip_C(mean_j), not sum_j mean_k clip_C(g_jk). */
static void check_mean_clipped_once(const char *cfg_text)
{
    fixture f;
    make_fixture(&f, cfg_text);
    size_t n = f.params;
    double *means = malloc(EXAMPLES * n * sizeof *means);
    double *expect = calloc(n, sizeof *expect), *each = calloc(n, sizeof *each);
    double *delta = malloc(n * sizeof *delta);
    float *g = malloc(n * sizeof *g);
    assert_true(means && expect && each && delta && g);
    group_means(&f, f.rows_x, f.rows_y, EXAMPLES, means);
    double mean_norm[EXAMPLES], sorted[EXAMPLES];
    for (int j = 0; j < EXAMPLES; j++)
        sorted[j] = mean_norm[j] = norm(means + j * n, n);
    qsort(sorted, EXAMPLES, sizeof *sorted, compare);
    double clip = 0.5 * (sorted[EXAMPLES / 2 - 1] + sorted[EXAMPLES / 2]);
    assert_true(sorted[0] < clip && sorted[EXAMPLES - 1] > clip);
    for (int j = 0; j < EXAMPLES; j++) {
        double c = mean_norm[j] > clip ? clip / mean_norm[j] : 1.0;
        for (size_t p = 0; p < n; p++)
            expect[p] += c * means[j * n + p] / EXPECTED_BATCH; /* lr = 1 */
    }
    /* What clipping each copy first would release: it must differ, or this
     * test could not tell the two apart. */
    for (int row = 0; row < ROWS; row++) {
        row_gradient(&f, f.rows_x + row * TINY_INPUTS, f.rows_y + row * TINY_CLASSES, g);
        double gn = 0;
        for (size_t p = 0; p < n; p++)
            gn += (double)g[p] * g[p];
        gn = sqrt(gn);
        double c = gn > clip ? clip / gn : 1.0;
        for (size_t p = 0; p < n; p++)
            each[p] += c * g[p] / K / EXPECTED_BATCH;
    }
    assert_true(relative_error(each, expect, n) > 0.02);

    p4_enclave *enclave = NULL;
    assert_int_equal(p4_enclave_open_software(&enclave, 1, 5, NULL), P4_OK);
    p4_dpsgd *dp = new_dpsgd(&f, clip, enclave);
    const int threads[2] = { 1, 3 };
    for (int t = 0; t < 2; t++) {
        p4_workers_set_threads(threads[t]);
        grouped_step(&f, dp, f.rows_x, f.rows_y, ROWS, K, delta);
        double e = relative_error(delta, expect, n);
        if (e > 1e-4)
            fail_msg("%d thread(s): |update - sum_j clip(mean_j)/(qN)| / |...| = %g "
                     "(clip-each-copy would give %g)", threads[t], e,
                     relative_error(each, expect, n));
    }
    p4_workers_set_threads(1);

    /* One example alone, C well below its mean's norm: its contribution is
     * exactly C long (the mean clipped once; never K C, never C / K). */
    double small = 0.25 * sorted[0];
    p4_dpsgd_params params = { .sample_rate = 0.5, .noise_multiplier = 0.0, .clip_norm = small };
    assert_int_equal(p4_dpsgd_set_params(dp, &params), P4_OK);
    for (int j = 0; j < EXAMPLES; j++) {
        grouped_step(&f, dp, f.rows_x + j * K * TINY_INPUTS, f.rows_y + j * K * TINY_CLASSES, K,
                     K, delta);
        double contribution = norm(delta, n) * EXPECTED_BATCH;
        if (!(contribution <= small * (1 + 1e-4) && contribution >= small * (1 - 1e-4)))
            fail_msg("example %d: its clipped mean has norm %g, C = %g", j, contribution, small);
    }
    p4_dpsgd_destroy(&dp);
    p4_enclave_close(&enclave);
    free(means); free(expect); free(each); free(delta); free(g);
    free_fixture(&f);
}

static void test_step_clips_the_mean_of_the_copies_once(void **state)
{
    (void)state;
    check_mean_clipped_once(tiny_conv_cfg);
    check_mean_clipped_once(tiny_mlp_cfg);
}

/* With an identity augmentation the K copies are equal, so their mean is
 * the single gradient: the step (labels or distillation) must equal the
 * K = 1 step, with C at the median so that some examples are clipped. */
static void test_identity_copies_give_the_single_copy_step(void **state)
{
    (void)state;
    fixture f;
    make_fixture(&f, tiny_conv_cfg);
    size_t n = f.params;
    double *one = malloc(n * sizeof *one), *many = malloc(n * sizeof *many);
    float *w = malloc(n * sizeof *w);
    assert_true(one && many && w);
    float teacher[EXAMPLES * TINY_CLASSES];
    for (int i = 0; i < EXAMPLES * TINY_CLASSES; i++)
        teacher[i] = (0.1f + (float)(i % TINY_CLASSES)) / (0.4f + 6.0f);
    double *means = malloc(EXAMPLES * n * sizeof *means);
    assert_non_null(means);
    float ident_x[EXAMPLES * K * TINY_INPUTS], ident_y[EXAMPLES * K * TINY_CLASSES];
    for (int r = 0; r < EXAMPLES * K; r++) {
        memcpy(ident_x + r * TINY_INPUTS, f.x + (r / K) * TINY_INPUTS, sizeof(float) * TINY_INPUTS);
        memcpy(ident_y + r * TINY_CLASSES, f.y + (r / K) * TINY_CLASSES,
               sizeof(float) * TINY_CLASSES);
    }
    group_means(&f, ident_x, ident_y, EXAMPLES, means);
    double sorted[EXAMPLES];
    for (int j = 0; j < EXAMPLES; j++)
        sorted[j] = norm(means + j * n, n);
    qsort(sorted, EXAMPLES, sizeof *sorted, compare);
    double clip = 0.5 * (sorted[EXAMPLES / 2 - 1] + sorted[EXAMPLES / 2]);

    p4_enclave *enclave = NULL;
    assert_int_equal(p4_enclave_open_software(&enclave, 1, 5, NULL), P4_OK);
    p4_dpsgd *dp = new_dpsgd(&f, clip, enclave);
    p4_augment identity = { TINY_SIDE, TINY_SIDE, 1, 0, 0 };
    p4_rng rng;
    p4_rng_init_seeded(&rng, 1, "test-augmult");
    p4_dpsgd_kd kd = { f.y, teacher, 0.5, 2.0 };
    for (int use_kd = 0; use_kd < 2; use_kd++) {
        for (int pass = 0; pass < 2; pass++) {
            int k = pass == 0 ? 1 : K;
            assert_int_equal(p4_dpsgd_set_augmentations(dp, k, &identity, &rng, NULL), P4_OK);
            assert_int_equal(p4_model_set_params(f.model, f.w0, n), P4_OK);
            p4_error err = {0};
            int rc = use_kd ? p4_dpsgd_step_kd(dp, f.x, EXAMPLES, EXPECTED_BATCH, &kd, NULL, &err)
                            : p4_dpsgd_step(dp, f.x, f.y, EXAMPLES, EXPECTED_BATCH, NULL, NULL,
                                            NULL, &err);
            if (rc != P4_OK)
                fail_msg("%s", err.message);
            assert_int_equal(p4_model_get_params(f.model, w, n), P4_OK);
            double *d = pass == 0 ? one : many;
            for (size_t p = 0; p < n; p++)
                d[p] = (double)w[p] - f.w0[p];
        }
        double e = relative_error(many, one, n);
        if (e > 1e-5)
            fail_msg("%s: %d identical copies moved the model %g (relative) away from one",
                     use_kd ? "distillation" : "labels", K, e);
    }
    p4_dpsgd_destroy(&dp);
    p4_enclave_close(&enclave);
    free(one); free(many); free(w); free(means);
    free_fixture(&f);
}

static double zero_loss(void *user, const float *logits, const float *probs, int first, int n,
                        int classes, float *delta)
{
    (void)user; (void)logits; (void)probs; (void)first;
    memset(delta, 0, (size_t)n * classes * sizeof *delta);
    return 0;
}

/* The public step draws each example's K copies from the generator it was
 * given (example-major), and runs the grouped step on them. */
static void test_augmented_step_uses_its_generator(void **state)
{
    (void)state;
    fixture f;
    make_fixture(&f, tiny_mlp_cfg);
    size_t n = f.params;
    double *direct = malloc(n * sizeof *direct), *via = malloc(n * sizeof *via);
    float *w = malloc(n * sizeof *w);
    assert_true(direct && via && w);
    p4_augment a = { TINY_SIDE, TINY_SIDE, 1, 2, 1 };
    p4_rng rng, twin;
    p4_rng_init_seeded(&rng, 8, "test-augmult");
    p4_rng_init_seeded(&twin, 8, "test-augmult");
    float cx[ROWS * TINY_INPUTS], cy[ROWS * TINY_CLASSES];
    for (int r = 0; r < ROWS; r++) {
        assert_int_equal(p4_augment_random(&a, &twin, f.x + (r / K) * TINY_INPUTS,
                                           cx + r * TINY_INPUTS), P4_OK);
        memcpy(cy + r * TINY_CLASSES, f.y + (r / K) * TINY_CLASSES, sizeof(float) * TINY_CLASSES);
    }
    p4_enclave *enclave = NULL;
    assert_int_equal(p4_enclave_open_software(&enclave, 1, 5, NULL), P4_OK);
    p4_dpsgd *dp = new_dpsgd(&f, 0.05, enclave);
    grouped_step(&f, dp, cx, cy, ROWS, K, direct);
    assert_int_equal(p4_dpsgd_set_augmentations(dp, K, &a, &rng, NULL), P4_OK);
    assert_int_equal(p4_model_set_params(f.model, f.w0, n), P4_OK);
    double loss = 0;
    assert_int_equal(p4_dpsgd_step(dp, f.x, f.y, EXAMPLES, EXPECTED_BATCH, NULL, NULL, &loss,
                                   NULL), P4_OK);
    assert_true(loss > 0 && loss < EXAMPLES * 10.0); /* per example, not per copy */
    assert_int_equal(p4_model_get_params(f.model, w, n), P4_OK);
    for (size_t p = 0; p < n; p++)
        via[p] = (double)w[p] - f.w0[p];
    assert_true(relative_error(via, direct, n) < 1e-6);

    /* Refusals: out of range, too many for the capacity, a wrong shape, a
     * loss callback that would not know about the copies. */
    p4_error err = {0};
    assert_int_equal(p4_dpsgd_set_augmentations(dp, 0, &a, &rng, &err), P4_EINVAL);
    assert_int_equal(p4_dpsgd_set_augmentations(dp, P4_DPSGD_MAX_AUGMENTATIONS + 1, &a, &rng,
                                                 &err), P4_EINVAL);
    assert_int_equal(p4_dpsgd_set_augmentations(dp, CAPACITY + 1, &a, &rng, &err), P4_EINVAL);
    assert_non_null(strstr(err.message, "capacity"));
    p4_augment wrong = { 28, 28, 1, 2, 0 };
    assert_int_equal(p4_dpsgd_set_augmentations(dp, 2, &wrong, &rng, &err), P4_EINVAL);
    assert_int_equal(p4_dpsgd_set_augmentations(dp, 2, &a, NULL, &err), P4_EINVAL);
    assert_int_equal(p4_dpsgd_set_augmentations(dp, 2, &a, &rng, &err), P4_OK);
    assert_int_equal(p4_dpsgd_step(dp, f.x, f.y, EXAMPLES, EXPECTED_BATCH, zero_loss, NULL,
                                   NULL, &err), P4_EUNSUPPORTED);
    assert_int_equal(p4_dpsgd_step_grouped(dp, f.x, f.y, 3, 2, EXPECTED_BATCH, NULL, NULL, NULL,
                                           &err), P4_EINVAL);
    p4_dpsgd_destroy(&dp);
    p4_enclave_close(&enclave);
    free(direct); free(via); free(w);
    free_fixture(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_group_norms_are_norms_of_the_sums),
        cmocka_unit_test(test_step_clips_the_mean_of_the_copies_once),
        cmocka_unit_test(test_identity_copies_give_the_single_copy_step),
        cmocka_unit_test(test_augmented_step_uses_its_generator),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
