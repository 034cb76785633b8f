/* test_dp_client.c: the DP promises of a P4 client, checked on what it
 * releases rather than on accuracy.
 *   - logits mode: the released logits minus the noiseless ones have
 *     variance (sigma clip)^2 per entry (exact chi-square tail, alpha 1e-9),
 *     and every release is in the ledger before it is returned;
 *   - strict DP: the proxy's DP step does not read the private model, so two
 *     clients that differ only in their private model release bit-identical
 *     proxies (and without strict DP they do not: the comparison can fail);
 *   - secret batches: without reproducible sampling, two clients with the
 *     same seed and the same (seeded) noise draw different Poisson batches,
 *     so their proxies differ (and with it they are identical);
 *   - head-only warm-up: every proxy layer below the output is bit-unchanged
 *     and the output layer moved (and without head-only they all move).
 *   - the co-training step divides by q N, not by the batch it drew;
 *   - cotrain_batches = separate: the ledger charges the proxy's steps as
 *     before, the private model's epoch does not depend on the DP rate, and
 *     strict DP still keeps the private model out of the proxy's steps;
 *   - proxy_learning_rate: 0 is the shared learning rate (bit-identical
 *     proxies), another rate moves the proxy differently, and the ledger
 *     charges the same steps at the same (q, sigma) either way.
 * Each comparison is run both ways, so none of them passes vacuously.
 * scripts/check-mutants runs these against broken copies of the DP code
 * (tests/mutants/, docs/mutants.md). */
#include "support/test_support.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/proxy_share.h"
#include "distill/client.h"
#include "dp/ledger.h"
#include "model/loss.h"
#include "model/model.h"
#include "model/optimizer.h"
#include "support/dp_fixture.h"
#include "support/test_stats.h"
#include "tee/enclave.h"

#define ALPHA 1e-9
#define TRAIN 64
#define TEST 16
#define PUBLIC 400
#define BASE_Q 0.25 /* base_spec's sample rate: 4 steps an epoch */
#define BASE_SIGMA 1.0

typedef struct {
    char *dir;
    char conv_cfg[512], mlp_cfg[512], logreg_cfg[512];
    p4_dataset *data;      /* TRAIN + TEST examples */
    int train_idx[TRAIN], test_idx[TEST];
} world;

/* One client with its own ledger and seeded enclave (closed with it). */
typedef struct {
    p4_client *client;
    p4_ledger *ledger;
    p4_enclave *enclave;
} dp_client;

static int setup(void **state)
{
    world *w = calloc(1, sizeof *w);
    assert_non_null(w);
    w->dir = test_make_temp_dir();
    test_write_text(w->dir, "conv.cfg", tiny_conv_cfg, w->conv_cfg, sizeof w->conv_cfg);
    test_write_text(w->dir, "mlp.cfg", tiny_mlp_cfg, w->mlp_cfg, sizeof w->mlp_cfg);
    test_write_text(w->dir, "logreg.cfg", tiny_logreg_cfg, w->logreg_cfg, sizeof w->logreg_cfg);
    w->data = tiny_dataset(TRAIN + TEST, 4);
    for (int i = 0; i < TRAIN; i++)
        w->train_idx[i] = i;
    for (int i = 0; i < TEST; i++)
        w->test_idx[i] = TRAIN + i;
    *state = w;
    return 0;
}

static int teardown(void **state)
{
    world *w = *state;
    p4_dataset_destroy(&w->data);
    test_remove_tree(w->dir);
    free(w);
    return 0;
}

/* A DP client: conv proxy, MLP private model, q = 0.25 (4 steps an epoch),
 * sigma = 1, C = 1, momentum and weight decay 0, reproducible sampling. */
static p4_client_spec base_spec(const world *w)
{
    p4_client_spec s;
    memset(&s, 0, sizeof s);
    s.id = 3;
    s.train = s.test = w->data;
    s.train_idx = w->train_idx;
    s.train_count = TRAIN;
    s.test_idx = w->test_idx;
    s.test_count = TEST;
    s.private_cfg = w->mlp_cfg;
    s.proxy_cfg = w->conv_cfg;
    s.shape = tiny_shape;
    s.batch = 8;
    s.learning_rate = 0.5;
    s.seed = 42;
    s.dp = 1;
    s.dp_params = (p4_dpsgd_params){ .sample_rate = BASE_Q, .noise_multiplier = BASE_SIGMA,
                                     .clip_norm = 1.0 };
    s.kd_alpha = 0.5;
    s.kd_temperature = 2.0;
    s.strict_dp = 1;
    s.seeded_sampling = 1;
    return s;
}

/* Opens the client's ledger (file `ledger_name` in the world's directory)
 * and an enclave seeded with noise_seed, then the client. */
static void open_client(const world *w, p4_client_spec spec, const char *ledger_name,
                        uint64_t noise_seed, dp_client *out)
{
    char path[512];
    p4_error err = {0};
    memset(out, 0, sizeof *out);
    if (spec.dp) {
        test_path_in(w->dir, ledger_name, path, sizeof path);
        if (p4_ledger_open(path, INFINITY, 1e-5, &out->ledger, &err) != P4_OK)
            fail_msg("%s", err.message);
        assert_int_equal(p4_enclave_open_software(&out->enclave, 1, noise_seed, NULL), P4_OK);
    }
    spec.ledger = out->ledger;
    spec.enclave = out->enclave;
    if (p4_client_new(&out->client, &spec, &err) != P4_OK)
        fail_msg("%s", err.message);
}

static void close_client(dp_client *c)
{
    p4_client_destroy(&c->client);
    p4_ledger_close(&c->ledger);
    p4_enclave_close(&c->enclave);
}

static float *proxy_of(const dp_client *c)
{
    size_t n = p4_client_proxy_size(c->client);
    float *v = malloc(n * sizeof *v);
    assert_non_null(v);
    assert_int_equal(p4_client_get_proxy(c->client, v, n), P4_OK);
    return v;
}

/* Every mechanism in the ledger must be the one run: rate q and noise
 * multiplier sigma (a larger recorded sigma or smaller q under-counts). */
static void assert_ledger_holds_only(p4_ledger *ledger, double q, double sigma)
{
    p4_dp_phase *phase = NULL;
    int n = 0;
    assert_int_equal(p4_ledger_phases(ledger, 0, &phase, &n, NULL), P4_OK);
    assert_true(n >= 1);
    for (int i = 0; i < n; i++)
        if (phase[i].sample_rate != q || phase[i].noise_multiplier != sigma)
            fail_msg("the ledger records q = %g, sigma = %g for steps run at q = %g, sigma = %g",
                     phase[i].sample_rate, phase[i].noise_multiplier, q, sigma);
    free(phase);
}

/* One co-training epoch; each of its round(1/q) DP steps must be in the
 * ledger, at the (q, sigma) it ran with, when it returns. */
static void cotrain(dp_client *c, double q, double sigma)
{
    p4_error err = {0};
    long long before = 0, after = 0;
    assert_int_equal(p4_ledger_total_steps(c->ledger, &before, NULL), P4_OK);
    if (p4_client_local(c->client, P4_LOCAL_COTRAIN, 1, &err) != P4_OK)
        fail_msg("co-training: %s", err.message);
    assert_int_equal(p4_ledger_total_steps(c->ledger, &after, NULL), P4_OK);
    if (after - before != p4_dpsgd_steps_per_epoch(q))
        fail_msg("a co-training epoch of %lld DP steps recorded %lld in the ledger",
                 p4_dpsgd_steps_per_epoch(q), after - before);
    assert_ledger_holds_only(c->ledger, q, sigma);
}

/* Trains a and b one co-training epoch each; 1 if their proxies are then
 * bit-identical. */
static int cotrained_proxies_equal(dp_client *a, dp_client *b)
{
    cotrain(a, BASE_Q, BASE_SIGMA);
    cotrain(b, BASE_Q, BASE_SIGMA);
    size_t n = p4_client_proxy_size(a->client);
    assert_true(n == p4_client_proxy_size(b->client));
    float *pa = proxy_of(a), *pb = proxy_of(b);
    int equal = memcmp(pa, pb, n * sizeof *pa) == 0;
    free(pa);
    free(pb);
    return equal;
}

/* Opens a client from each spec (seeded noise 9), trains each one
 * co-training epoch; 1 if their proxies are then bit-identical. */
static int clients_cotrain_equal_proxies(const world *w, p4_client_spec sa, const char *la,
                                         p4_client_spec sb, const char *lb)
{
    dp_client a, b;
    open_client(w, sa, la, 9, &a);
    open_client(w, sb, lb, 9, &b);
    int equal = cotrained_proxies_equal(&a, &b);
    close_client(&a);
    close_client(&b);
    return equal;
}

/* ---- the co-training step's divisor ------------------------------------- */

/* With N identical training examples every clipped gradient is the same g_c,
 * so one co-training step (q = 0.75: one step an epoch) without noise moves
 * the proxy by lr n g_c / (q N) for the n examples it drew.  N = 41 makes
 * q N = 30.75: the update over lr g_c times q N must be a whole number n,
 * whatever batch the secret sampler drew; a step divided by n instead of
 * q N gives 30.75. */
static void test_cotrain_step_divides_by_expected_batch(void **state)
{
    world *w = *state;
    enum { SAME = 41 };
    const double q = 0.75;
    p4_dataset *same = NULL;
    assert_int_equal(p4_dataset_new(&same, "same", SAME, TINY_SIDE, TINY_SIDE, 1, TINY_CLASSES,
                                    NULL), P4_OK);
    for (int i = 0; i < SAME; i++) {
        memcpy(same->pixels + (size_t)i * TINY_INPUTS, w->data->pixels, TINY_INPUTS);
        same->labels[i] = w->data->labels[0];
    }
    int idx[SAME];
    for (int i = 0; i < SAME; i++)
        idx[i] = i;
    p4_client_spec spec = base_spec(w);
    spec.train = same;
    spec.train_idx = idx;
    spec.train_count = SAME;
    spec.seeded_sampling = 0;
    spec.dp_params = (p4_dpsgd_params){ .sample_rate = q, .noise_multiplier = 0.0,
                                        .clip_norm = 0.05 };
    dp_client c;
    open_client(w, spec, "divisor.db", 1, &c);
    size_t n = p4_client_proxy_size(c.client);
    float *w0 = proxy_of(&c);

    /* g_c: the example's gradient (darknet's sign), clipped to C. */
    p4_model *ref = NULL;
    p4_sgd *sgd = NULL;
    float x[TINY_INPUTS], y[TINY_CLASSES];
    float *g = malloc(n * sizeof *g);
    assert_non_null(g);
    assert_int_equal(p4_model_new(&ref, w->conv_cfg, &tiny_shape, 1, 1, NULL), P4_OK);
    assert_int_equal(p4_model_set_params(ref, w0, n), P4_OK);
    assert_int_equal(p4_sgd_new(&sgd, ref, 1.0, 0.0, 0.0, NULL), P4_OK);
    assert_int_equal(p4_dataset_batch(same, NULL, 1, x, y), P4_OK);
    assert_int_equal(p4_model_load_inputs(ref, x, 1), P4_OK);
    p4_model_forward(ref, 1);
    p4_loss_cross_entropy(p4_model_probabilities(ref), y, 1, TINY_CLASSES,
                          p4_model_logit_delta(ref));
    p4_sgd_zero_grad(sgd);
    assert_int_equal(p4_model_backward(ref), P4_OK);
    assert_int_equal(p4_model_get_gradients(ref, g, n), P4_OK);
    double gg = 0;
    for (size_t k = 0; k < n; k++)
        gg += (double)g[k] * g[k];
    double factor = sqrt(gg) > spec.dp_params.clip_norm ? spec.dp_params.clip_norm / sqrt(gg) : 1;
    assert_true(factor < 1); /* clipped: C matters */

    cotrain(&c, q, 0.0);
    float *w1 = proxy_of(&c);
    double dot = 0, dd = 0, gc2 = gg * factor * factor;
    for (size_t k = 0; k < n; k++) {
        double d = (double)w1[k] - w0[k];
        dot += d * factor * g[k];
        dd += d * d;
    }
    double r = dot / (spec.learning_rate * gc2); /* n / (q N) */
    double drawn = r * q * SAME, off = 0;
    for (size_t k = 0; k < n; k++) {
        double d = (double)w1[k] - w0[k] - r * spec.learning_rate * factor * g[k];
        off += d * d;
    }
    if (!(drawn > 0.5 && fabs(drawn - round(drawn)) < 1e-3 && sqrt(off) <= 1e-4 * sqrt(dd)))
        fail_msg("co-training step = %.5f x lr g_c, so n = %.4f examples, not a whole number "
                 "(a divisor other than q N = %.2f?); off the direction of g_c by %g of %g",
                 r, drawn, q * SAME, sqrt(off), sqrt(dd));
    free(g); free(w0); free(w1);
    p4_sgd_destroy(&sgd);
    p4_model_destroy(&ref);
    close_client(&c);
    p4_dataset_destroy(&same);
}

/* ---- logits mode ---------------------------------------------------------- */

static void test_logits_noise_is_sigma_clip_and_is_recorded(void **state)
{
    world *w = *state;
    const double sigma = 1.5;
    const int reps = 5;
    p4_client_spec spec = base_spec(w);
    dp_client priv, twin;
    open_client(w, spec, "logits.db", 31, &priv);
    spec.dp = 0; /* the same proxy, released without noise */
    open_client(w, spec, "unused.db", 0, &twin);
    float *proxy = proxy_of(&priv);
    assert_int_equal(p4_client_set_proxy(twin.client, proxy, p4_client_proxy_size(priv.client)),
                     P4_OK);
    free(proxy);

    p4_dataset *pub = tiny_dataset(PUBLIC, 77);
    float *x = malloc((size_t)PUBLIC * TINY_INPUTS * sizeof *x);
    float *clean = malloc((size_t)PUBLIC * TINY_CLASSES * sizeof *clean);
    float *noisy = malloc((size_t)PUBLIC * TINY_CLASSES * sizeof *noisy);
    assert_true(x && clean && noisy);
    assert_int_equal(p4_dataset_batch(pub, NULL, PUBLIC, x, NULL), P4_OK);
    p4_error err = {0};
    /* Rows before clipping (a bound none reaches), then clip at their
     * median norm: each released row must be the raw one scaled to norm at
     * most C, the sensitivity the accounting below relies on. */
    float *raw = malloc((size_t)PUBLIC * TINY_CLASSES * sizeof *raw);
    double norm[PUBLIC], sorted[PUBLIC];
    assert_non_null(raw);
    if (p4_client_public_logits(twin.client, x, PUBLIC, 1e30, 0.0, raw, &err) != P4_OK)
        fail_msg("%s", err.message);
    for (int i = 0; i < PUBLIC; i++) {
        double sq = 0;
        for (int k = 0; k < TINY_CLASSES; k++)
            sq += (double)raw[i * TINY_CLASSES + k] * raw[i * TINY_CLASSES + k];
        norm[i] = sorted[i] = sqrt(sq);
    }
    qsort(sorted, PUBLIC, sizeof *sorted, test_compare_doubles);
    const double clip = sorted[PUBLIC / 2];
    assert_true(clip > 0 && sorted[0] < clip && sorted[PUBLIC - 1] > clip);
    if (p4_client_public_logits(twin.client, x, PUBLIC, clip, 0.0, clean, &err) != P4_OK)
        fail_msg("%s", err.message);
    for (int i = 0; i < PUBLIC; i++) {
        double scale = norm[i] > clip ? clip / norm[i] : 1.0;
        for (int k = 0; k < TINY_CLASSES; k++) {
            double expect = scale * raw[i * TINY_CLASSES + k];
            if (fabs(clean[i * TINY_CLASSES + k] - expect) > 1e-5 * clip)
                fail_msg("logits row %d (norm %g, C = %g): entry %d released as %g, expected %g",
                         i, norm[i], clip, k, clean[i * TINY_CLASSES + k], expect);
        }
    }
    free(raw);

    double ss = 0, sum = 0, spent_before = 0, spent_after = 0;
    long long steps_before = 0, steps_after = 0;
    for (int r = 0; r < reps; r++) {
        assert_int_equal(p4_ledger_total_steps(priv.ledger, &steps_before, NULL), P4_OK);
        assert_int_equal(p4_ledger_spent(priv.ledger, &spent_before, NULL), P4_OK);
        if (p4_client_public_logits(priv.client, x, PUBLIC, clip, sigma, noisy, &err) != P4_OK)
            fail_msg("%s", err.message);
        assert_int_equal(p4_ledger_total_steps(priv.ledger, &steps_after, NULL), P4_OK);
        assert_int_equal(p4_ledger_spent(priv.ledger, &spent_after, NULL), P4_OK);
        if (steps_after != steps_before + 1 || !(spent_after > spent_before))
            fail_msg("release %d: ledger steps %lld -> %lld, epsilon %g -> %g", r, steps_before,
                     steps_after, spent_before, spent_after);
        for (int k = 0; k < PUBLIC * TINY_CLASSES; k++) {
            double z = ((double)noisy[k] - clean[k]) / (sigma * clip);
            ss += z * z;
            sum += z;
        }
    }
    double k = (double)reps * PUBLIC * TINY_CLASSES;
    double p = test_chi_square_p(k, ss);
    if (p < ALPHA)
        fail_msg("logits noise: variance ratio %.4f over %.0f entries, p = %.3g < %g", ss / k, k,
                 p, ALPHA);
    p = test_normal_p(sum / sqrt(k));
    if (p < ALPHA)
        fail_msg("logits noise: mean %.4f sd, p = %.3g < %g", sum / k, p, ALPHA);
    /* Accounting: one Gaussian release of the n x classes matrix at q = 1.
     * Each row is clipped to `clip` and moves by at most 2 clip, so the L2
     * sensitivity is at most 2 clip sqrt(n) and the noise multiplier at
     * most sigma clip / (2 clip sqrt(n)); a larger one under-counts. */
    p4_dp_phase *phase = NULL;
    int phases = 0;
    assert_int_equal(p4_ledger_phases(priv.ledger, 0, &phase, &phases, NULL), P4_OK);
    assert_true(phases >= 1);
    for (int i = 0; i < phases; i++)
        if (phase[i].sample_rate != 1.0 ||
            !(phase[i].noise_multiplier <= sigma / (2 * sqrt((double)PUBLIC)) * (1 + 1e-12)))
            fail_msg("logits release recorded at q = %g, sigma = %g; at most sigma = %g is sound",
                     phase[i].sample_rate, phase[i].noise_multiplier,
                     sigma / (2 * sqrt((double)PUBLIC)));
    free(phase);
    /* The same release without sigma is refused for a DP client. */
    assert_int_equal(p4_client_public_logits(priv.client, x, PUBLIC, clip, 0.0, noisy, &err),
                     P4_EINVAL);
    free(x); free(clean); free(noisy);
    p4_dataset_destroy(&pub);
    close_client(&priv);
    close_client(&twin);
}

/* ---- strict DP ------------------------------------------------------------ */

/* Two clients that differ only in the private model (an MLP and a logistic
 * regression, so its outputs differ), same seed and same seeded noise. */
static int proxies_equal_with_private_models_apart(const world *w, int strict)
{
    p4_client_spec a = base_spec(w);
    a.strict_dp = strict;
    p4_client_spec b = a;
    b.private_cfg = w->logreg_cfg;
    return strict ? clients_cotrain_equal_proxies(w, a, "strict-a.db", b, "strict-b.db")
                  : clients_cotrain_equal_proxies(w, a, "loose-a.db", b, "loose-b.db");
}

static void test_strict_dp_proxy_does_not_read_the_private_model(void **state)
{
    world *w = *state;
    if (!proxies_equal_with_private_models_apart(w, 1))
        fail_msg("strict DP: the proxy depends on the private model");
    if (proxies_equal_with_private_models_apart(w, 0))
        fail_msg("without strict DP the private model should teach the proxy "
                 "(the check above would then prove nothing)");
}

/* ---- cotrain_batches = separate ------------------------------------------- */

/* The private model after one co-training epoch at DP rate q (and sigma). */
static float *private_after_epoch(const world *w, int separate, double q, double sigma,
                                  const char *ledger_name, size_t *count)
{
    p4_client_spec spec = base_spec(w);
    spec.separate_batches = separate;
    spec.dp_params.sample_rate = q;
    spec.dp_params.noise_multiplier = sigma;
    dp_client c;
    open_client(w, spec, ledger_name, 9, &c);
    *count = p4_client_model_size(c.client, P4_MODEL_PRIVATE);
    float *before = malloc(*count * sizeof *before), *v = malloc(*count * sizeof *v);
    assert_true(before && v);
    assert_int_equal(p4_client_get_model(c.client, P4_MODEL_PRIVATE, before, *count), P4_OK);
    cotrain(&c, q, sigma); /* the ledger holds exactly the proxy's steps at (q, sigma) */
    assert_int_equal(p4_client_get_model(c.client, P4_MODEL_PRIVATE, v, *count), P4_OK);
    if (memcmp(before, v, *count * sizeof *v) == 0)
        fail_msg("the private model did not train in a co-training epoch");
    free(before);
    close_client(&c);
    return v;
}

/* Separate batches: the ledger charges round(1/q) steps at (q, sigma) as in
 * the shared walk, and the private model's epoch no longer depends on the
 * proxy's DP rate (it walks its own batches of `batch`), so two clients
 * whose proxies run at q = 0.25 and q = 1 end the epoch with bit-identical
 * private models.  With shared batches they differ (the check can fail). */
static void test_separate_batches_decouple_the_private_model(void **state)
{
    world *w = *state;
    for (int separate = 1; separate >= 0; separate--) {
        size_t na = 0, nb = 0;
        float *a = private_after_epoch(w, separate, BASE_Q, BASE_SIGMA,
                                       separate ? "sep-a.db" : "shared-a.db", &na);
        float *b = private_after_epoch(w, separate, 1.0, 3.0,
                                       separate ? "sep-b.db" : "shared-b.db", &nb);
        assert_true(na == nb && na > 0);
        int equal = memcmp(a, b, na * sizeof *a) == 0;
        free(a);
        free(b);
        if (separate && !equal)
            fail_msg("separate batches: the private model depends on the proxy's DP rate");
        if (!separate && equal)
            fail_msg("shared batches: the private model should follow the DP batches "
                     "(the check above would then prove nothing)");
    }
}

/* Separate batches keep strict DP: the proxy's steps do not read the
 * private model (and without strict DP they do). */
static void test_separate_batches_keep_strict_dp(void **state)
{
    world *w = *state;
    for (int strict = 1; strict >= 0; strict--) {
        p4_client_spec spec = base_spec(w);
        spec.separate_batches = 1;
        spec.strict_dp = strict;
        dp_client a, b;
        open_client(w, spec, strict ? "sep-strict-a.db" : "sep-loose-a.db", 9, &a);
        spec.private_cfg = w->logreg_cfg;
        open_client(w, spec, strict ? "sep-strict-b.db" : "sep-loose-b.db", 9, &b);
        int equal = cotrained_proxies_equal(&a, &b);
        close_client(&a);
        close_client(&b);
        if (strict && !equal)
            fail_msg("separate batches, strict DP: the proxy depends on the private model");
        if (!strict && equal)
            fail_msg("separate batches without strict DP: the private model should teach "
                     "the proxy");
    }
}

/* ---- proxy_learning_rate --------------------------------------------------- */

/* Two clients whose proxies train at rates ra and rb (0 = the shared rate),
 * same seed and seeded noise: 1 if their proxies end the co-training epoch
 * bit-identical.  cotrain() checks the ledger: the same round(1/q) steps at
 * (q, sigma) whatever the rate, since the rate changes no release. */
static int proxies_equal_at_rates(const world *w, double ra, double rb, const char *tag)
{
    p4_client_spec a = base_spec(w), b = base_spec(w);
    a.proxy_learning_rate = ra;
    b.proxy_learning_rate = rb;
    char la[64], lb[64];
    snprintf(la, sizeof la, "plr-%s-a.db", tag);
    snprintf(lb, sizeof lb, "plr-%s-b.db", tag);
    return clients_cotrain_equal_proxies(w, a, la, b, lb);
}

static void test_proxy_learning_rate_sets_only_the_proxys_rate(void **state)
{
    world *w = *state;
    double lr = base_spec(w).learning_rate;
    if (!proxies_equal_at_rates(w, 0.0, lr, "default"))
        fail_msg("proxy_learning_rate = 0 should train the proxy at learning_rate");
    if (proxies_equal_at_rates(w, 0.0, lr / 4, "quarter"))
        fail_msg("a proxy_learning_rate of learning_rate / 4 left the proxy unchanged");
}

/* ---- secret Poisson batches ----------------------------------------------- */

static void test_batches_are_secret_unless_reproducible(void **state)
{
    world *w = *state;
    for (int reproducible = 0; reproducible <= 1; reproducible++) {
        p4_client_spec spec = base_spec(w);
        spec.seeded_sampling = reproducible;
        dp_client a, b;
        open_client(w, spec, reproducible ? "seeded-a.db" : "secret-a.db", 5, &a);
        open_client(w, spec, reproducible ? "seeded-b.db" : "secret-b.db", 5, &b);
        int equal = cotrained_proxies_equal(&a, &b);
        close_client(&a);
        close_client(&b);
        if (reproducible && !equal)
            fail_msg("reproducible sampling: same seed and noise, different proxies");
        if (!reproducible && equal)
            fail_msg("secret sampling: two clients with the same seed drew the same batches "
                     "(the batches come from the public seed)");
    }
    /* Secret batches also differ from the ones the public seed gives. */
    p4_client_spec spec = base_spec(w);
    dp_client secret, seeded;
    spec.seeded_sampling = 0;
    open_client(w, spec, "secret-c.db", 5, &secret);
    spec.seeded_sampling = 1;
    open_client(w, spec, "seeded-c.db", 5, &seeded);
    int equal = cotrained_proxies_equal(&secret, &seeded);
    close_client(&secret);
    close_client(&seeded);
    if (equal)
        fail_msg("secret sampling drew the batches of the public seed");
}

/* ---- head-only warm-up ---------------------------------------------------- */

/* Warms up a fresh client one epoch; moved[k] = 1 if parametrised layer k
 * of the proxy changed.  Returns the number of layers. */
static int warmup_moves(const world *w, int head_only, int *moved, int max)
{
    p4_client_spec spec = base_spec(w);
    spec.warmup_head_only = head_only;
    spec.weight_decay = 0.01; /* decay must not move the layers below the head either */
    dp_client c;
    open_client(w, spec, head_only ? "head.db" : "all.db", 13, &c);
    float *before = proxy_of(&c);
    p4_error err = {0};
    long long steps = 0;
    if (p4_client_warmup(c.client, 1, &err) != P4_OK)
        fail_msg("warm-up: %s", err.message);
    assert_int_equal(p4_ledger_total_steps(c.ledger, &steps, NULL), P4_OK);
    assert_true(steps == 4); /* round(1/q) DP steps, recorded */
    assert_ledger_holds_only(c.ledger, BASE_Q, BASE_SIGMA);
    float *after = proxy_of(&c);
    int layers = 0;
    size_t offset, length;
    while (layers < max && p4_client_proxy_layer(c.client, layers, &offset, &length) == P4_OK) {
        moved[layers] = memcmp(before + offset, after + offset, length * sizeof *before) != 0;
        layers++;
    }
    free(before);
    free(after);
    close_client(&c);
    return layers;
}

static void test_head_only_warmup_leaves_lower_layers_alone(void **state)
{
    world *w = *state;
    int moved[8];
    int layers = warmup_moves(w, 1, moved, 8);
    assert_int_equal(layers, 3);
    for (int k = 0; k < layers - 1; k++)
        if (moved[k])
            fail_msg("head-only warm-up changed proxy layer %d of %d", k, layers);
    if (!moved[layers - 1])
        fail_msg("head-only warm-up did not train the output layer");
    layers = warmup_moves(w, 0, moved, 8);
    for (int k = 0; k < layers; k++)
        if (!moved[k])
            fail_msg("a full warm-up left proxy layer %d unchanged (the check above would "
                     "then prove nothing)", k);
}

/* [dp] augmentations = 4: the warm-up and every co-training epoch charge the
 * ledger the steps and the (q, sigma) of K = 1 (the copies do not change the
 * mechanism's sensitivity); two seeded clients draw the same copies, and the
 * copies are used (the proxy differs from the K = 1 client's). */
static void test_augmented_client_charges_as_one_copy(void **state)
{
    world *w = *state;
    p4_client_spec plain = base_spec(w), augmented = base_spec(w);
    augmented.augmentations = 4;
    dp_client c;
    open_client(w, augmented, "aug.db", 9, &c);
    p4_error err = {0};
    long long steps = 0;
    if (p4_client_warmup(c.client, 1, &err) != P4_OK)
        fail_msg("warm-up: %s", err.message);
    assert_int_equal(p4_ledger_total_steps(c.ledger, &steps, NULL), P4_OK);
    assert_true(steps == p4_dpsgd_steps_per_epoch(BASE_Q));
    assert_ledger_holds_only(c.ledger, BASE_Q, BASE_SIGMA);
    cotrain(&c, BASE_Q, BASE_SIGMA);
    close_client(&c);
    assert_true(clients_cotrain_equal_proxies(w, augmented, "aug-a.db", augmented, "aug-b.db"));
    assert_false(clients_cotrain_equal_proxies(w, plain, "one.db", augmented, "four.db"));
    /* More copies than the proxy's capacity (batch) is refused when the client is made. */
    augmented.augmentations = 9;
    augmented.ledger = NULL;
    p4_client *bad = NULL;
    char path[512];
    test_path_in(w->dir, "bad.db", path, sizeof path);
    assert_int_equal(p4_ledger_open(path, INFINITY, 1e-5, &augmented.ledger, &err), P4_OK);
    assert_int_equal(p4_enclave_open_software(&augmented.enclave, 1, 9, NULL), P4_OK);
    assert_int_equal(p4_client_new(&bad, &augmented, &err), P4_EINVAL);
    assert_non_null(strstr(err.message, "capacity"));
    assert_null(bad);
    p4_ledger_close(&augmented.ledger);
    p4_enclave_close(&augmented.enclave);
}

/* The DP path releases logits through the enclave, which clips each row to
 * C before it adds noise: with sigma = 0 (which only the enclave itself
 * accepts) a row above C comes out scaled to norm C exactly, and a row below
 * C unchanged.  Without the clip the sensitivity the ledger records is
 * unbounded. */
static void test_enclave_release_clips_every_row(void **state)
{
    (void)state;
    p4_enclave *e = NULL;
    p4_error err = {0};
    assert_int_equal(p4_enclave_open_software(&e, 1, 3, &err), P4_OK);
    enum { ROWS = 4, COLS = 3 };
    const double clip = 2.0;
    float rows[ROWS * COLS] = { 3, 4, 0,   0.5f, 0.5f, 0.5f,   -6, 0, 8,   1, 1, 1 };
    float want[ROWS * COLS];
    for (int i = 0; i < ROWS; i++) {
        double sq = 0;
        for (int k = 0; k < COLS; k++)
            sq += (double)rows[i * COLS + k] * rows[i * COLS + k];
        double scale = sqrt(sq) > clip ? clip / sqrt(sq) : 1.0;
        for (int k = 0; k < COLS; k++)
            want[i * COLS + k] = (float)(scale * rows[i * COLS + k]);
    }
    assert_int_equal(p4_enclave_release_rows(e, rows, ROWS, COLS, clip, 0.0, &err), P4_OK);
    for (int j = 0; j < ROWS * COLS; j++)
        if (fabs(rows[j] - want[j]) > 1e-6)
            fail_msg("released entry %d = %g, the row clipped to C = %g gives %g", j, rows[j],
                     clip, want[j]);
    p4_enclave_close(&e);
}

/* [model] proxy_projection's client half, spec.frozen_layers = 1: the
 * proxy's first layer (a fixed projection) is byte-identical after a DP
 * warm-up (all layers) and DP co-training epochs, label-only and with KD,
 * while the head moves; the ledger charges the same steps at the same
 * (q, sigma) as the unfrozen proxy's.  The unfrozen client moves the first
 * layer, so the check can fail. */
static const char projection_cfg[] =
    "[net]\nbatch=8\nwidth=8\nheight=8\nchannels=1\n\n"
    "[connected]\noutput=6\nactivation=linear\n\n"
    "[connected]\noutput=classes\nactivation=linear\n\n[softmax]\ngroups=1\n";

/* [model] proxy_projection = wavelet's shape, spec.frozen_layers = 2: two
 * [convolutional] layers (filter bank, then a pool of size = stride) under
 * the head. */
static const char wavelet_cfg[] =
    "[net]\nbatch=8\nwidth=8\nheight=8\nchannels=1\n\n"
    "[convolutional]\nfilters=33\nsize=3\nstride=1\npad=1\nactivation=relu\n\n"
    "[convolutional]\nfilters=9\nsize=2\nstride=2\npad=0\nactivation=linear\n\n"
    "[connected]\noutput=classes\nactivation=linear\n\n[softmax]\ngroups=1\n";

/* wavelet-pca: the same with a frozen [connected] projection above the
 * pool, spec.frozen_layers = 3. */
static const char wavelet_pca_cfg[] =
    "[net]\nbatch=8\nwidth=8\nheight=8\nchannels=1\n\n"
    "[convolutional]\nfilters=33\nsize=3\nstride=1\npad=1\nactivation=relu\n\n"
    "[convolutional]\nfilters=9\nsize=2\nstride=2\npad=0\nactivation=linear\n\n"
    "[connected]\noutput=5\nactivation=linear\n\n"
    "[connected]\noutput=classes\nactivation=linear\n\n[softmax]\ngroups=1\n";

/* Whether any of the proxy's first `below` parametrised layers moved in a
 * DP warm-up and two co-training epochs; the layer above them must move. */
static int lower_layers_move(const world *w, const char *cfg_text, int below, int frozen,
                             int strict, const char *ledger, long long *steps)
{
    char path[512];
    test_write_text(w->dir, "projection.cfg", cfg_text, path, sizeof path);
    p4_client_spec spec = base_spec(w);
    spec.proxy_cfg = path;
    spec.frozen_layers = frozen;
    spec.strict_dp = strict;
    spec.weight_decay = 0.01; /* decay must not move frozen layers either */
    spec.warmup_head_only = !strict; /* the head-only warm-up must re-freeze, not unfreeze */
    dp_client c;
    open_client(w, spec, ledger, 9, &c);
    size_t off0, len0, off1, len1;
    assert_int_equal(p4_client_proxy_layer(c.client, 0, &off0, &len0), P4_OK);
    assert_int_equal(p4_client_proxy_layer(c.client, below, &off1, &len1), P4_OK);
    float *before = proxy_of(&c);
    p4_error err = {0};
    if (p4_client_warmup(c.client, 1, &err) != P4_OK)
        fail_msg("warm-up: %s", err.message);
    cotrain(&c, BASE_Q, BASE_SIGMA);
    cotrain(&c, BASE_Q, BASE_SIGMA);
    float *after = proxy_of(&c);
    if (memcmp(before + off1, after + off1, len1 * sizeof(float)) == 0)
        fail_msg("the head did not move (frozen %d, strict %d)", frozen, strict);
    assert_int_equal(p4_ledger_total_steps(c.ledger, steps, NULL), P4_OK);
    /* *steps becomes the total steps plus a checksum of the ledger's rows
     * (q, sigma and steps of each (phase, model, q, sigma) row, weighted by
     * position): a different q or sigma anywhere gives a different value */
    p4_ledger_row rows[16];
    int nrows = 0;
    assert_int_equal(p4_ledger_rows(c.ledger, rows, 16, &nrows, NULL), P4_OK);
    for (int r = 0; r < nrows; r++)
        *steps += (long long)(1e6 * (r + 1) * (rows[r].sample_rate + rows[r].noise_multiplier)) +
                  1000 * rows[r].steps;
    int moved = memcmp(before + off0, after + off0, (off1 - off0) * sizeof(float)) != 0;
    free(before);
    free(after);
    close_client(&c);
    return moved;
}

static int first_layer_moves(const world *w, int frozen, int strict, const char *ledger,
                             long long *steps)
{
    return lower_layers_move(w, projection_cfg, 1, frozen, strict, ledger, steps);
}

static void test_frozen_projection_takes_no_dp_step(void **state)
{
    world *w = *state;
    long long frozen_steps = 0, free_steps = 0, kd_steps = 0;
    if (first_layer_moves(w, 1, 1, "frozen.db", &frozen_steps))
        fail_msg("DP-SGD changed the frozen projection layer (labels only)");
    if (first_layer_moves(w, 1, 0, "frozen-kd.db", &kd_steps))
        fail_msg("DP-SGD changed the frozen projection layer (KD steps)");
    if (!first_layer_moves(w, 0, 1, "unfrozen.db", &free_steps))
        fail_msg("the unfrozen first layer did not move: the check above proves nothing");
    if (frozen_steps != free_steps || kd_steps != free_steps)
        fail_msg("the ledger (steps and q, sigma checksum) is %lld / %lld with the projection "
                 "frozen, %lld without",
                 frozen_steps, kd_steps, free_steps);
}

/* Logits mode's public distillation (plain SGD towards the group's noised
 * logits) leaves a frozen projection alone too, while the head moves; an
 * unfrozen first layer moves, so the check can fail. */
static void test_public_distillation_keeps_frozen_layers(void **state)
{
    world *w = *state;
    char path[512];
    test_write_text(w->dir, "projection.cfg", projection_cfg, path, sizeof path);
    enum { ROWS = 12, PIXELS = 64, KINDS = 4 };
    float x[ROWS * PIXELS], teacher[ROWS * KINDS];
    for (int i = 0; i < ROWS * PIXELS; i++)
        x[i] = (float)((i * 37) % 11) / 11.0f;
    for (int i = 0; i < ROWS; i++)
        for (int k = 0; k < KINDS; k++)
            teacher[i * KINDS + k] = k == i % KINDS ? 0.7f : 0.1f;
    for (int frozen = 1; frozen >= 0; frozen--) {
        p4_client_spec spec = base_spec(w);
        spec.proxy_cfg = path;
        spec.frozen_layers = frozen;
        dp_client c;
        open_client(w, spec, frozen ? "public1.db" : "public0.db", 9, &c);
        size_t off0, len0, off1, len1;
        assert_int_equal(p4_client_proxy_layer(c.client, 0, &off0, &len0), P4_OK);
        assert_int_equal(p4_client_proxy_layer(c.client, 1, &off1, &len1), P4_OK);
        float *before = proxy_of(&c);
        p4_error err = {0};
        if (p4_client_distill_public(c.client, x, ROWS, teacher, 2, &err) != P4_OK)
            fail_msg("%s", err.message);
        float *after = proxy_of(&c);
        assert_memory_not_equal(before + off1, after + off1, len1 * sizeof(float));
        int moved = memcmp(before + off0, after + off0, len0 * sizeof(float)) != 0;
        if (moved == frozen)
            fail_msg("public distillation %s the first layer with frozen_layers = %d",
                     moved ? "moved" : "did not move", frozen);
        free(before);
        free(after);
        close_client(&c);
    }
}

/* What the round protocol sends of a proxy (cluster/proxy_share.h): with
 * its first two of three layers frozen, only the third layer's floats, in
 * order; unpacking writes them back and leaves the frozen layers as they
 * were; with nothing frozen, the whole proxy. */
static const char three_layer_cfg[] =
    "[net]\nbatch=8\nwidth=8\nheight=8\nchannels=1\n\n"
    "[connected]\noutput=6\nactivation=linear\n\n"
    "[connected]\noutput=5\nactivation=relu\n\n"
    "[connected]\noutput=classes\nactivation=linear\n\n[softmax]\ngroups=1\n";

static void test_only_unfrozen_layers_are_shared(void **state)
{
    world *w = *state;
    char path[512];
    test_write_text(w->dir, "three.cfg", three_layer_cfg, path, sizeof path);
    for (int frozen = 0; frozen <= 2; frozen += 2) {
        p4_client_spec spec = base_spec(w);
        spec.proxy_cfg = path;
        spec.frozen_layers = frozen;
        dp_client c;
        open_client(w, spec, frozen ? "share2.db" : "share0.db", 9, &c);
        size_t size = p4_client_proxy_size(c.client), off2, len2;
        assert_int_equal(p4_client_proxy_layer(c.client, 2, &off2, &len2), P4_OK);
        assert_int_equal(p4_client_frozen_layers(c.client), frozen);
        size_t shared = p4_proxy_share_size(c.client);
        assert_int_equal(shared, frozen ? len2 : size);
        float *proxy = proxy_of(&c), *packed = malloc(shared * sizeof(float));
        float *back = malloc(size * sizeof(float));
        assert_int_equal(p4_proxy_share_pack(c.client, proxy, packed), P4_OK);
        assert_memory_equal(packed, proxy + (frozen ? off2 : 0), shared * sizeof(float));
        for (size_t i = 0; i < shared; i++)
            packed[i] += 1.0f;
        memcpy(back, proxy, size * sizeof(float));
        assert_int_equal(p4_proxy_share_unpack(c.client, packed, back), P4_OK);
        for (size_t i = 0; i < size; i++) {
            int is_shared = !frozen || (i >= off2 && i < off2 + len2);
            assert_true(back[i] == (is_shared ? proxy[i] + 1.0f : proxy[i]));
        }
        assert_int_equal(p4_proxy_share_pack(NULL, proxy, packed), P4_EINVAL);
        assert_int_equal(p4_proxy_share_unpack(c.client, NULL, back), P4_EINVAL);
        free(proxy);
        free(packed);
        free(back);
        close_client(&c);
    }
}

/* The same for the wavelet front end's two frozen [convolutional] layers:
 * byte-identical, bank and pool, while the head moves; freezing only the
 * bank lets the pool move, so the check can fail; the ledger is unchanged. */
static void test_frozen_wavelet_layers_take_no_dp_step(void **state)
{
    world *w = *state;
    long long frozen_steps = 0, free_steps = 0, kd_steps = 0, one_steps = 0;
    if (lower_layers_move(w, wavelet_cfg, 2, 2, 1, "wfrozen.db", &frozen_steps))
        fail_msg("DP-SGD changed the frozen wavelet layers (labels only)");
    if (lower_layers_move(w, wavelet_cfg, 2, 2, 0, "wfrozen-kd.db", &kd_steps))
        fail_msg("DP-SGD changed the frozen wavelet layers (KD steps)");
    if (!lower_layers_move(w, wavelet_cfg, 2, 1, 1, "wone.db", &one_steps))
        fail_msg("with only the bank frozen the pool did not move: the check proves nothing");
    if (!lower_layers_move(w, wavelet_cfg, 2, 0, 1, "wunfrozen.db", &free_steps))
        fail_msg("the unfrozen wavelet layers did not move");
    if (frozen_steps != free_steps || kd_steps != free_steps)
        fail_msg("the ledger (steps and q, sigma checksum) is %lld / %lld with the wavelet "
                 "layers frozen, %lld without", frozen_steps, kd_steps, free_steps);
    long long pca_steps = 0, pca_kd_steps = 0, two_steps = 0;
    if (lower_layers_move(w, wavelet_pca_cfg, 3, 3, 1, "wpca.db", &pca_steps) ||
        lower_layers_move(w, wavelet_pca_cfg, 3, 3, 0, "wpca-kd.db", &pca_kd_steps))
        fail_msg("DP-SGD changed the frozen wavelet-pca layers");
    if (!lower_layers_move(w, wavelet_pca_cfg, 3, 2, 1, "wpca-two.db", &two_steps))
        fail_msg("with two layers frozen the projection did not move: the check proves nothing");
    if (pca_steps != free_steps || pca_kd_steps != free_steps)
        fail_msg("the ledger (steps and q, sigma checksum) is %lld / %lld with the "
                 "wavelet-pca layers frozen, %lld without", pca_steps, pca_kd_steps, free_steps);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cotrain_step_divides_by_expected_batch, setup,
                                        teardown),
        cmocka_unit_test(test_enclave_release_clips_every_row),
        cmocka_unit_test_setup_teardown(test_logits_noise_is_sigma_clip_and_is_recorded, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_strict_dp_proxy_does_not_read_the_private_model,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_batches_are_secret_unless_reproducible, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_separate_batches_decouple_the_private_model, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_separate_batches_keep_strict_dp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_proxy_learning_rate_sets_only_the_proxys_rate, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_augmented_client_charges_as_one_copy, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_head_only_warmup_leaves_lower_layers_alone, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_frozen_projection_takes_no_dp_step, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_only_unfrozen_layers_are_shared, setup, teardown),
        cmocka_unit_test_setup_teardown(test_public_distillation_keeps_frozen_layers, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_frozen_wavelet_layers_take_no_dp_step, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
