/* test_dp_mechanism.c: the DP-SGD step released what the mechanism promises.
 *
 * Not accuracy: the released update itself.  On a fixed batch the clipped
 * gradient sum S is computed here the slow, obviously right way (darknet's
 * plain backward one example at a time, clipped in double), so that with
 * momentum 0 and weight decay 0 one step must move the parameters by exactly
 *     lr * (S + Z) / (q N),   Z ~ N(0, (sigma C)^2) on every coordinate.
 * The batch has n = 6 examples and q N = 4, so a step that divides by the
 * realised batch size is off by a third.  With sigma = 0 the update must be
 * lr S / (q N) to float precision; with sigma > 0, over many repetitions of
 * the same step from the same state, the residual r = update - lr S / (q N)
 * must be N(0, (lr sigma C / (q N))^2) on every tensor, weights and biases
 * of every layer: sum r^2 / s^2 against chi-square(k) and the per-coordinate
 * means against chi-square(coordinates), with exact tail probabilities
 * (support/test_stats.h).  Each check fails a correct step with probability
 * at most ALPHA = 1e-9; this file makes fewer than 80 such checks (the
 * noise checks run in both [dp] noise_layouts).
 *
 * These are the tests scripts/check-mutants runs against broken copies of
 * the DP code (tests/mutants/, docs/mutants.md). */
#include "support/test_support.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "common/workers.h"
#include "dp/dpsgd.h"
#include "model/loss.h"
#include "model/model.h"
#include "model/optimizer.h"
#include "support/dp_fixture.h"
#include "support/test_stats.h"
#include "tee/enclave.h"

#define ALPHA 1e-9
#define N_BATCH 6
#define EXPECTED_BATCH 4.0 /* q N; deliberately not N_BATCH */
#define REPS 500
#define MAX_TENSORS 16

typedef struct {
    size_t offset, count;
    char name[32];
} tensor;

typedef struct {
    char *dir;
    p4_model *model;
    p4_sgd *sgd;
    double lr;
    size_t params;
    int ntensors;
    tensor t[MAX_TENSORS];
    float x[N_BATCH * TINY_INPUTS];
    float y[N_BATCH * TINY_CLASSES];
    float *w0;         /* the state every repetition starts from */
    double norm[N_BATCH];
    double clip;       /* C: the median per-example norm, so some are clipped */
    double *clipped_sum; /* S, darknet's sign (negative gradient) */
} fixture;

/* The model's tensors, in the flat parameter layout: each parametrised
 * layer's weights, then its biases (one per output channel). */
static void find_tensors(fixture *f)
{
    const p4_cfg_summary *s = p4_model_summary(f->model);
    size_t offset = 0;
    int k = 0;
    for (int i = 0; i < s->layers; i++) {
        const p4_cfg_layer *l = &s->layer[i];
        if (l->params == 0)
            continue;
        size_t off, len;
        assert_int_equal(p4_model_param_layer(f->model, k, &off, &len), P4_OK);
        assert_true(off == offset && len == (size_t)l->params);
        size_t biases = (size_t)l->out_c;
        assert_true(f->ntensors + 2 <= MAX_TENSORS);
        tensor *w = &f->t[f->ntensors++], *b = &f->t[f->ntensors++];
        *w = (tensor){ off, len - biases, "" };
        *b = (tensor){ off + len - biases, biases, "" };
        snprintf(w->name, sizeof w->name, "layer %d weights", k);
        snprintf(b->name, sizeof b->name, "layer %d biases", k);
        offset += len;
        k++;
    }
    assert_true(offset == f->params);
}

/* Example i's gradient alone (darknet's sign), by darknet's own backward. */
static void example_gradient(fixture *f, const float *x, const float *y, float *g)
{
    assert_int_equal(p4_model_load_inputs(f->model, x, 1), P4_OK);
    p4_model_forward(f->model, 1);
    p4_loss_cross_entropy(p4_model_probabilities(f->model), y, 1, TINY_CLASSES,
                          p4_model_logit_delta(f->model));
    p4_sgd_zero_grad(f->sgd);
    assert_int_equal(p4_model_backward(f->model), P4_OK);
    assert_int_equal(p4_model_get_gradients(f->model, g, f->params), P4_OK);
}

/* S = sum_i min(1, C / ||g_i||) g_i over the n examples, in double. */
static void reference_clipped_sum(fixture *f, const float *x, const float *y, int n,
                                  double clip, double *sum, double *norms)
{
    float *g = malloc(f->params * sizeof *g);
    assert_non_null(g);
    memset(sum, 0, f->params * sizeof *sum);
    for (int i = 0; i < n; i++) {
        example_gradient(f, x + (size_t)i * TINY_INPUTS, y + (size_t)i * TINY_CLASSES, g);
        double nsq = 0;
        for (size_t k = 0; k < f->params; k++)
            nsq += (double)g[k] * g[k];
        double norm = sqrt(nsq), factor = norm > clip ? clip / norm : 1.0;
        if (norms)
            norms[i] = norm;
        for (size_t k = 0; k < f->params; k++)
            sum[k] += factor * g[k];
    }
    free(g);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->dir = test_make_temp_dir();
    char path[512];
    test_write_text(f->dir, "tiny-conv.cfg", tiny_conv_cfg, path, sizeof path);
    p4_error err = {0};
    if (p4_model_new(&f->model, path, &tiny_shape, N_BATCH, 17, &err) != P4_OK)
        fail_msg("%s", err.message);
    f->params = p4_model_param_count(f->model);
    find_tensors(f);

    p4_dataset *ds = tiny_dataset(N_BATCH, 3);
    assert_int_equal(p4_dataset_batch(ds, NULL, N_BATCH, f->x, f->y), P4_OK);
    p4_dataset_destroy(&ds);

    f->w0 = malloc(f->params * sizeof *f->w0);
    f->clipped_sum = malloc(f->params * sizeof *f->clipped_sum);
    assert_true(f->w0 != NULL && f->clipped_sum != NULL);
    assert_int_equal(p4_model_get_params(f->model, f->w0, f->params), P4_OK);

    /* C = the median norm: examples above it are clipped, those below not. */
    assert_int_equal(p4_sgd_new(&f->sgd, f->model, 1.0, 0.0, 0.0, &err), P4_OK);
    reference_clipped_sum(f, f->x, f->y, N_BATCH, INFINITY, f->clipped_sum, f->norm);
    double sorted[N_BATCH];
    memcpy(sorted, f->norm, sizeof sorted);
    qsort(sorted, N_BATCH, sizeof *sorted, test_compare_doubles);
    f->clip = 0.5 * (sorted[N_BATCH / 2 - 1] + sorted[N_BATCH / 2]);
    assert_true(sorted[0] > 0 && sorted[0] < f->clip && sorted[N_BATCH - 1] > f->clip);
    reference_clipped_sum(f, f->x, f->y, N_BATCH, f->clip, f->clipped_sum, NULL);

    /* lr so that the noise per coordinate of the update, lr sigma C / (q N),
     * is about 1 at sigma = 1: well above float rounding of the weights. */
    f->lr = EXPECTED_BATCH / f->clip;
    p4_sgd_destroy(&f->sgd);
    assert_int_equal(p4_sgd_new(&f->sgd, f->model, f->lr, 0.0, 0.0, &err), P4_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    p4_sgd_destroy(&f->sgd);
    p4_model_destroy(&f->model);
    free(f->w0);
    free(f->clipped_sum);
    test_remove_tree(f->dir);
    free(f);
    return 0;
}

/* One DP-SGD step from w0 on the fixed batch; delta = w - w0. */
static void dp_step(fixture *f, p4_dpsgd *dp, float *w, double *delta)
{
    p4_error err = {0};
    assert_int_equal(p4_model_set_params(f->model, f->w0, f->params), P4_OK);
    int rc = p4_dpsgd_step(dp, f->x, f->y, N_BATCH, EXPECTED_BATCH, NULL, NULL, NULL, &err);
    if (rc != P4_OK)
        fail_msg("DP-SGD step: %s", err.message);
    assert_int_equal(p4_model_get_params(f->model, w, f->params), P4_OK);
    for (size_t k = 0; k < f->params; k++)
        delta[k] = (double)w[k] - f->w0[k];
}

static p4_dpsgd *new_dpsgd(fixture *f, double sigma, p4_enclave *enclave)
{
    p4_dpsgd_params params = { .sample_rate = 0.5, .noise_multiplier = sigma,
                               .clip_norm = f->clip };
    p4_dpsgd *dp = NULL;
    p4_error err = {0};
    if (p4_dpsgd_new(&dp, f->model, f->sgd, &params, enclave, &err) != P4_OK)
        fail_msg("%s", err.message);
    return dp;
}

/* Without noise the step is lr S / (q N) on every tensor, to float
 * precision, on one compute thread and on three (the per-example work is
 * split between threads: common/workers.h). */
static void test_noiseless_step_is_clipped_sum_over_expected_batch(void **state)
{
    fixture *f = *state;
    p4_enclave *enclave = NULL;
    assert_int_equal(p4_enclave_open_software(&enclave, 1, 5, NULL), P4_OK);
    p4_dpsgd *dp = new_dpsgd(f, 0.0, enclave);
    float *w = malloc(f->params * sizeof *w);
    double *delta = malloc(f->params * sizeof *delta);
    assert_true(w != NULL && delta != NULL);
    const int threads[2] = { 1, 3 };
    for (int r = 0; r < 2; r++) {
        p4_workers_set_threads(threads[r]);
        dp_step(f, dp, w, delta);
        for (int t = 0; t < f->ntensors; t++) {
            double err_sq = 0, ref_sq = 0;
            for (size_t k = f->t[t].offset; k < f->t[t].offset + f->t[t].count; k++) {
                double expect = f->lr * f->clipped_sum[k] / EXPECTED_BATCH;
                err_sq += (delta[k] - expect) * (delta[k] - expect);
                ref_sq += expect * expect;
            }
            if (!(ref_sq > 0 && sqrt(err_sq) <= 1e-4 * sqrt(ref_sq)))
                fail_msg("%d thread(s), %s: |update - lr S/(qN)| = %g, |lr S/(qN)| = %g",
                         threads[r], f->t[t].name, sqrt(err_sq), sqrt(ref_sq));
        }
    }
    p4_workers_set_threads(1);
    free(w);
    free(delta);
    p4_dpsgd_destroy(&dp);
    p4_enclave_close(&enclave);
}

/* Runs REPS noisy steps and checks each tensor's residual against
 * N(0, s^2), s = lr sigma C / (q N).  Tensors before first_checked must
 * not move at all (frozen layers). */
static void check_noisy_steps(fixture *f, p4_dpsgd *dp, double sigma, int first_checked)
{
    const double s = f->lr * sigma * f->clip / EXPECTED_BATCH;
    float *w = malloc(f->params * sizeof *w);
    double *delta = malloc(f->params * sizeof *delta);
    double *coord_sum = calloc(f->params, sizeof *coord_sum);
    double ss[MAX_TENSORS] = {0};
    assert_true(w != NULL && delta != NULL && coord_sum != NULL);
    for (int r = 0; r < REPS; r++) {
        dp_step(f, dp, w, delta);
        for (int t = 0; t < f->ntensors; t++)
            for (size_t k = f->t[t].offset; k < f->t[t].offset + f->t[t].count; k++) {
                if (t < first_checked) {
                    if (delta[k] != 0)
                        fail_msg("%s is frozen but moved by %g", f->t[t].name, delta[k]);
                    continue;
                }
                double z = (delta[k] - f->lr * f->clipped_sum[k] / EXPECTED_BATCH) / s;
                ss[t] += z * z;
                coord_sum[k] += z;
            }
    }
    for (int t = first_checked; t < f->ntensors; t++) {
        double k = (double)REPS * f->t[t].count;
        double p = test_chi_square_p(k, ss[t]);
        if (p < ALPHA)
            fail_msg("%s: sum r^2/s^2 = %.1f over %.0f draws (variance ratio %.4f), "
                     "p = %.3g < %g", f->t[t].name, ss[t], k, ss[t] / k, p, ALPHA);
        /* Per coordinate, the mean of REPS residuals is N(0, s^2 / REPS). */
        double means = 0;
        for (size_t c = f->t[t].offset; c < f->t[t].offset + f->t[t].count; c++)
            means += coord_sum[c] * coord_sum[c] / REPS;
        p = test_chi_square_upper((double)f->t[t].count, means);
        if (p < ALPHA)
            fail_msg("%s: the residual has a mean (chi-square %.1f on %zu coordinates, "
                     "p = %.3g < %g)", f->t[t].name, means, f->t[t].count, p, ALPHA);
    }
    free(w);
    free(delta);
    free(coord_sum);
}

/* sigma = 1 and sigma = 0.4 (noise below the signal, so a wrong divisor
 * shows in the mean as well as in the noiseless test). */
static void test_noise_has_sigma_c_variance_on_every_tensor(void **state)
{
    fixture *f = *state;
    const double sigmas[] = { 1.0, 0.4 };
    const char *const layouts[] = { "serial", "chunked" }; /* [dp] noise_layout */
    for (int i = 0; i < 4; i++) {
        p4_enclave *enclave = NULL;
        assert_int_equal(p4_enclave_open_software(&enclave, 1, 100 + i, NULL), P4_OK);
        assert_int_equal(p4_enclave_set_noise_layout(enclave, layouts[i / 2], NULL), P4_OK);
        p4_dpsgd *dp = new_dpsgd(f, sigmas[i % 2], enclave);
        check_noisy_steps(f, dp, sigmas[i % 2], 0);
        p4_dpsgd_destroy(&dp);
        p4_enclave_close(&enclave);
    }
}

/* The tail probabilities agree with closed forms: chi-square(2) has
 * P(X >= x) = exp(-x/2), chi-square(1) has P(X >= x) = erfc(sqrt(x/2)), and
 * the normal's two-sided tail is erfc(|z|/sqrt 2). */
static void test_tail_probabilities_are_exact(void **state)
{
    (void)state;
    const double xs[] = { 0.01, 0.5, 2.0, 3.0, 10.0, 50.0, 90.0 };
    for (int i = 0; i < 7; i++) {
        double x = xs[i];
        double up2 = exp(-x / 2), up1 = erfc(sqrt(x / 2));
        assert_true(fabs(test_chi_square_upper(2, x) - up2) <= 1e-12 * up2 + 1e-300);
        assert_true(fabs(test_chi_square_lower(2, x) - (1 - up2)) <= 1e-12);
        assert_true(fabs(test_chi_square_upper(1, x) - up1) <= 1e-10 * up1 + 1e-300);
    }
    /* Many degrees of freedom: mean k, sd sqrt(2k); 6.1 sd out is ~1e-9
     * (slightly more above the mean, the chi-square leans right). */
    double k = 1e5, sd = sqrt(2 * k);
    assert_true(fabs(test_chi_square_lower(k, k) - 0.5) < 0.01);
    double hi = test_chi_square_upper(k, k + 6.1 * sd), lo = test_chi_square_lower(k, k - 6.1 * sd);
    assert_true(hi > 1e-10 && hi < 1e-8 && lo > 1e-11 && lo < 1e-9 && lo < hi);
    assert_true(fabs(test_normal_p(6.1) / 1.06e-9 - 1) < 0.01);
}

/* The checks have the power the mutants need: on the smallest tensor
 * (the convolution's 3 biases, REPS x 3 draws) they reject a variance
 * half or twice what it should be and a missing noise; on the largest
 * they reject a variance 10% off; at sigma = 0.4 the per-coordinate means
 * reject a divisor of n instead of q N on the tensor where S is largest. */
static double scaled_chi_square(p4_rng *rng, size_t k, double ratio)
{
    double ss = 0;
    for (size_t i = 0; i < k; i++) {
        double z = p4_rng_gaussian(rng);
        ss += ratio * z * z;
    }
    return ss;
}

static void test_checks_reject_wrong_residuals(void **state)
{
    fixture *f = *state;
    p4_rng rng;
    p4_rng_init_seeded(&rng, 8, "wrong-residuals");
    size_t small = (size_t)REPS * f->t[1].count, large = 0;
    for (int t = 0; t < f->ntensors; t++)
        if ((size_t)REPS * f->t[t].count > large)
            large = (size_t)REPS * f->t[t].count;
    assert_true(test_chi_square_p((double)small, scaled_chi_square(&rng, small, 0.5)) < ALPHA);
    assert_true(test_chi_square_p((double)small, scaled_chi_square(&rng, small, 2.0)) < ALPHA);
    assert_true(test_chi_square_p((double)small, 0.0) < ALPHA);
    assert_true(test_chi_square_p((double)small, scaled_chi_square(&rng, small, 1.0)) >= ALPHA);
    assert_true(test_chi_square_p((double)large, scaled_chi_square(&rng, large, 1.1)) < ALPHA);
    assert_true(test_chi_square_p((double)large, scaled_chi_square(&rng, large, 0.9)) < ALPHA);
    assert_true(test_chi_square_p((double)large, scaled_chi_square(&rng, large, 1.0)) >= ALPHA);
    /* The tensor where S is largest: the dense layer's weights here. */
    int most = 0;
    double most_sq = 0;
    for (int t = 0; t < f->ntensors; t++) {
        double sq = 0;
        for (size_t c = f->t[t].offset; c < f->t[t].offset + f->t[t].count; c++)
            sq += f->clipped_sum[c] * f->clipped_sum[c];
        if (sq > most_sq) {
            most_sq = sq;
            most = t;
        }
    }
    double s = f->lr * 0.4 * f->clip / EXPECTED_BATCH, means = 0;
    for (size_t c = f->t[most].offset; c < f->t[most].offset + f->t[most].count; c++) {
        double bias = f->lr * f->clipped_sum[c] * (1.0 / N_BATCH - 1.0 / EXPECTED_BATCH) / s;
        double mean = bias + p4_rng_gaussian(&rng) / sqrt((double)REPS);
        means += mean * mean * REPS;
    }
    assert_true(test_chi_square_upper((double)f->t[most].count, means) < ALPHA);
}

/* Frozen layers get no gradient and no noise; the trainable ones still get
 * the full N(0, (sigma C)^2). */
static void frozen_layers_get_no_noise(fixture *f, const char *layout)
{
    p4_enclave *enclave = NULL;
    assert_int_equal(p4_enclave_open_software(&enclave, 1, 7, NULL), P4_OK);
    assert_int_equal(p4_enclave_set_noise_layout(enclave, layout, NULL), P4_OK);
    p4_dpsgd *dp = new_dpsgd(f, 1.0, enclave);
    int last = f->ntensors / 2 - 1;
    assert_int_equal(p4_dpsgd_freeze_below(dp, last), P4_OK);
    /* The head's clipped sum, clipped on the head's norm alone. */
    double *full = f->clipped_sum;
    f->clipped_sum = malloc(f->params * sizeof *f->clipped_sum);
    assert_non_null(f->clipped_sum);
    float *g = malloc(f->params * sizeof *g);
    assert_non_null(g);
    memset(f->clipped_sum, 0, f->params * sizeof *f->clipped_sum);
    size_t head = f->t[2 * last].offset;
    for (int i = 0; i < N_BATCH; i++) {
        example_gradient(f, f->x + (size_t)i * TINY_INPUTS, f->y + (size_t)i * TINY_CLASSES, g);
        double nsq = 0;
        for (size_t k = head; k < f->params; k++)
            nsq += (double)g[k] * g[k];
        double factor = sqrt(nsq) > f->clip ? f->clip / sqrt(nsq) : 1.0;
        for (size_t k = head; k < f->params; k++)
            f->clipped_sum[k] += factor * g[k];
    }
    check_noisy_steps(f, dp, 1.0, 2 * last);
    free(g);
    free(f->clipped_sum);
    f->clipped_sum = full;
    p4_dpsgd_destroy(&dp);
    p4_enclave_close(&enclave);
}

/* One layout per test: freezing stays on the fixture's model. */
static void test_frozen_layers_get_no_noise(void **state)
{
    frozen_layers_get_no_noise(*state, "serial");
}

static void test_frozen_layers_get_no_chunked_noise(void **state)
{
    frozen_layers_get_no_noise(*state, "chunked");
}

/* A DP epoch divides by q N too, not by the size of the batch it drew.
 * q = 0.75 gives one step per epoch; N = 41 makes q N = 30.75, which no
 * batch size equals.  The batch is redrawn here from a copy of the
 * sampling generator. */
static void test_epoch_divides_by_expected_batch(void **state)
{
    fixture *f = *state;
    const int count = 41;
    const double q = 0.75;
    p4_dataset *ds = tiny_dataset(count, 12);
    int indices[41], batch[41], n = 0;
    for (int i = 0; i < count; i++)
        indices[i] = i;
    p4_rng rng, copy;
    p4_rng_init_seeded(&rng, 21, "batch-order");
    copy = rng;
    assert_int_equal(p4_poisson_sample(&copy, indices, count, q, batch, &n), P4_OK);
    assert_true(n > 0);
    float *x = malloc((size_t)n * TINY_INPUTS * sizeof *x);
    float *y = malloc((size_t)n * TINY_CLASSES * sizeof *y);
    double *sum = malloc(f->params * sizeof *sum);
    float *w = malloc(f->params * sizeof *w);
    assert_true(x && y && sum && w);
    assert_int_equal(p4_dataset_batch(ds, batch, n, x, y), P4_OK);
    assert_int_equal(p4_model_set_params(f->model, f->w0, f->params), P4_OK);
    reference_clipped_sum(f, x, y, n, f->clip, sum, NULL);

    p4_enclave *enclave = NULL;
    assert_int_equal(p4_enclave_open_software(&enclave, 1, 5, NULL), P4_OK);
    p4_dpsgd_params params = { .sample_rate = q, .noise_multiplier = 0.0, .clip_norm = f->clip };
    p4_dpsgd *dp = NULL;
    p4_model *model = NULL;
    p4_sgd *sgd = NULL;
    char path[512];
    test_path_in(f->dir, "tiny-conv.cfg", path, sizeof path);
    assert_int_equal(p4_model_new(&model, path, &tiny_shape, n, 17, NULL), P4_OK);
    assert_int_equal(p4_model_set_params(model, f->w0, f->params), P4_OK);
    assert_int_equal(p4_sgd_new(&sgd, model, f->lr, 0.0, 0.0, NULL), P4_OK);
    assert_int_equal(p4_dpsgd_new(&dp, model, sgd, &params, enclave, NULL), P4_OK);
    p4_epoch_stats stats;
    p4_error err = {0};
    if (p4_dpsgd_epoch(dp, ds, indices, count, &rng, NULL, "proxy", "train", NULL, NULL,
                       &stats, &err) != P4_OK)
        fail_msg("%s", err.message);
    assert_true(stats.steps == 1 && stats.examples == n);
    assert_int_equal(p4_model_get_params(model, w, f->params), P4_OK);
    double err_sq = 0, ref_sq = 0;
    for (size_t k = 0; k < f->params; k++) {
        double expect = f->lr * sum[k] / (q * count);
        double d = (double)w[k] - f->w0[k] - expect;
        err_sq += d * d;
        ref_sq += expect * expect;
    }
    if (!(ref_sq > 0 && sqrt(err_sq) <= 1e-4 * sqrt(ref_sq)))
        fail_msg("epoch of one step with %d examples: |update - lr S/(qN)| = %g of %g", n,
                 sqrt(err_sq), sqrt(ref_sq));
    p4_dpsgd_destroy(&dp);
    p4_sgd_destroy(&sgd);
    p4_model_destroy(&model);
    p4_enclave_close(&enclave);
    p4_dataset_destroy(&ds);
    free(x); free(y); free(sum); free(w);
}

/* ---- non-finite values must stop a step, not be released ---------------- */

static int all_finite(const float *v, size_t n)
{
    for (size_t k = 0; k < n; k++)
        if (!isfinite(v[k]))
            return 0;
    return 1;
}

static double nan_loss(void *user, const float *logits, const float *probs, int first, int n,
                       int classes, float *delta)
{
    (void)user; (void)logits; (void)probs; (void)first;
    for (int i = 0; i < n * classes; i++)
        delta[i] = NAN;
    return NAN;
}

/* A NaN input (or a loss that goes NaN) makes the per-example norms NaN;
 * NaN > C is false, so the clip factor would stay 1 and the NaN would be
 * released into the weights.  The step must fail instead. */
static void test_non_finite_gradients_are_an_error(void **state)
{
    fixture *f = *state;
    p4_enclave *enclave = NULL;
    assert_int_equal(p4_enclave_open_software(&enclave, 1, 5, NULL), P4_OK);
    p4_dpsgd *dp = new_dpsgd(f, 1.0, enclave);
    float *w = malloc(f->params * sizeof *w);
    assert_non_null(w);
    float x[N_BATCH * TINY_INPUTS];
    memcpy(x, f->x, sizeof x);
    x[2 * TINY_INPUTS + 5] = NAN;
    p4_error err = {0};
    assert_int_equal(p4_model_set_params(f->model, f->w0, f->params), P4_OK);
    int rc = p4_dpsgd_step(dp, x, f->y, N_BATCH, EXPECTED_BATCH, NULL, NULL, NULL, &err);
    assert_int_equal(p4_model_get_params(f->model, w, f->params), P4_OK);
    if (rc == P4_OK || !all_finite(w, f->params))
        fail_msg("a NaN input: step returned %d, parameters %s", rc,
                 all_finite(w, f->params) ? "finite" : "NOT finite");

    assert_int_equal(p4_model_set_params(f->model, f->w0, f->params), P4_OK);
    rc = p4_dpsgd_step(dp, f->x, f->y, N_BATCH, EXPECTED_BATCH, nan_loss, NULL, NULL, &err);
    assert_int_equal(p4_model_get_params(f->model, w, f->params), P4_OK);
    if (rc == P4_OK || !all_finite(w, f->params))
        fail_msg("a NaN loss: step returned %d, parameters %s", rc,
                 all_finite(w, f->params) ? "finite" : "NOT finite");
    free(w);
    p4_dpsgd_destroy(&dp);
    p4_enclave_close(&enclave);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_noiseless_step_is_clipped_sum_over_expected_batch,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_noise_has_sigma_c_variance_on_every_tensor, setup,
                                        teardown),
        cmocka_unit_test(test_tail_probabilities_are_exact),
        cmocka_unit_test_setup_teardown(test_checks_reject_wrong_residuals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_frozen_layers_get_no_noise, setup, teardown),
        cmocka_unit_test_setup_teardown(test_frozen_layers_get_no_chunked_noise, setup, teardown),
        cmocka_unit_test_setup_teardown(test_epoch_divides_by_expected_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_non_finite_gradients_are_an_error, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
