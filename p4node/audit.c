/* audit.c: one client trained on its split plus secret canaries, exactly
 * as the config's method trains it locally, then the one-run audit; see
 * audit.h. */
#include "p4node/audit.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster/method.h"
#include "cluster/peer.h"
#include "common/progress.h"
#include "datasets/workload.h"
#include "distill/client.h"
#include "dp/audit_bound.h"

/* Total guesses tried, as fractions of m (half "in", half "out"). */
static const double guess_ladder[] = { 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0 };
#define LADDER_SIZE ((int)(sizeof guess_ladder / sizeof guess_ladder[0]))

void p4_audit_options_defaults(p4_audit_options *o)
{
    memset(o, 0, sizeof *o);
    o->epsilon = INFINITY;
    o->canaries = 1000;
    o->confidence = 0.95;
    o->design = (p4_canary_design){ P4_CANARY_SPARSE, 16 };
}

/* The client's training rate, as every peer computes it from its own N. */
/* Everything one audit holds; released by audit_close. */
typedef struct audit {
    const p4_config *cfg;
    const p4_audit_options *opt;
    p4_method method;
    p4_workload *work;
    p4_canary_set *set;
    char state_dir[P4_PATH_MAX], ledger_path[P4_PATH_MAX + 16];
    p4_ledger *ledger;
    p4_enclave *enclave;
    p4_client *client;
    p4_peer_plan plan;
} audit;

static void audit_close(audit *a)
{
    p4_client_destroy(&a->client);
    p4_ledger_close(&a->ledger);
    p4_enclave_close(&a->enclave);
    if (a->state_dir[0]) {
        static const char *const suffixes[] = { "", "-wal", "-shm" };
        char path[P4_PATH_MAX + 32];
        for (int j = 0; j < 3; j++) {
            snprintf(path, sizeof path, "%s%s", a->ledger_path, suffixes[j]);
            unlink(path);
        }
        rmdir(a->state_dir);
    }
    p4_canary_set_destroy(&a->set);
    p4_workload_destroy(&a->work);
}

static int check_request(const p4_config *cfg, const p4_audit_options *o, p4_method *method,
                         p4_error *err)
{
    if (!(o->epsilon > 0) || o->canaries < 1 || o->client < 0 || o->guesses < 0 ||
        o->guesses > o->canaries || !(o->confidence > 0 && o->confidence < 1))
        return p4_error_set(err, P4_EINVAL, "audit: epsilon must be > 0, canaries >= 1, guesses "
                            "in [0, canaries] and confidence in (0, 1)");
    if (p4_method_parse(cfg->method, method) != P4_OK)
        return p4_error_set(err, P4_ECONFIG, "%s: [p4] method '%s' is unknown", cfg->path, cfg->method);
    if (*method == P4_METHOD_LOCAL)
        return p4_error_set(err, P4_ECONFIG, "%s: method local releases nothing (no proxy, no DP): "
                            "there is nothing to audit", cfg->path);
    if (strcmp(cfg->share, "logits") == 0)
        return p4_error_set(err, P4_EUNSUPPORTED, "%s: [p4] share = logits releases noised logits, "
                            "not the proxy; the audit covers share = weights only", cfg->path);
    return P4_OK;
}

/* Source rows some client holds, and the public set when the run reads it
 * (a pretrained or projected proxy has seen those rows): mislabelled
 * canaries come from the rest. */
static int taken_rows(const audit *a, unsigned char **out, p4_error *err)
{
    const p4_workload *w = a->work;
    unsigned char *taken = calloc((size_t)w->train->count, 1);
    if (!taken)
        return p4_error_set(err, P4_ENOMEM, "audit: out of memory");
    for (int k = 0; k < w->partition->clients; k++)
        for (int j = 0; j < w->partition->split[k].train_count; j++)
            taken[w->partition->split[k].train[j]] = 1;
    int *public_rows = NULL;
    if (p4_peer_reads_public_set(a->cfg)) {
        int rc = p4_public_set_indices(a->cfg, w, a->cfg->public_count, &public_rows, err);
        if (rc != P4_OK) {
            free(taken);
            return rc;
        }
        for (int j = 0; j < a->cfg->public_count; j++)
            taken[public_rows[j]] = 1;
        free(public_rows);
    }
    *out = taken;
    return P4_OK;
}

static int build_canaries(audit *a, p4_error *err)
{
    const p4_client_split *split = &a->work->partition->split[a->opt->client];
    p4_rng rng;
    /* The coins must be secret unless the run says it is reproducible. */
    int rc = a->opt->reproducible ? p4_rng_init_seeded(&rng, a->cfg->seed, "audit-canaries")
                                  : p4_rng_init_secure(&rng);
    if (rc != P4_OK)
        return p4_error_set(err, rc, "audit: cannot key the canaries' random source");
    unsigned char *taken = NULL;
    rc = taken_rows(a, &taken, err);
    if (rc == P4_OK)
        rc = p4_canary_set_new(&a->set, a->work->train, split->train, split->train_count, taken,
                               a->opt->canaries, &a->opt->design, &rng, err);
    free(taken);
    p4_rng_wipe(&rng);
    return rc;
}

/* The run as a p4_peer_setup: the same calibration and client spec as every
 * peer of `p4 sim` or `p4 node`, for this client's actual training set. */
static p4_peer_setup audit_setup(const audit *a)
{
    return (p4_peer_setup){ .cfg = a->cfg, .work = a->work, .method = a->method,
                            .epsilon = a->opt->epsilon, .reproducible = a->opt->reproducible,
                            .state_dir = a->state_dir, .public_n = a->cfg->public_count };
}

static int open_privacy(audit *a, p4_error *err)
{
    const char *base = getenv("TMPDIR");
    snprintf(a->state_dir, sizeof a->state_dir, "%s/p4-audit-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(a->state_dir)) {
        int e = errno;
        p4_error_set(err, P4_EIO, "audit: cannot make a temporary folder %s: %s", a->state_dir,
                     strerror(e));
        a->state_dir[0] = '\0';
        return P4_EIO;
    }
    snprintf(a->ledger_path, sizeof a->ledger_path, "%s/audit.db", a->state_dir);
    int rc = p4_ledger_open(a->ledger_path, a->opt->epsilon, a->cfg->delta, &a->ledger, err);
    if (rc == P4_OK)
        rc = p4_enclave_open_software(&a->enclave, a->opt->reproducible,
                                      a->cfg->seed * 7919u + (uint64_t)a->opt->client, err);
    if (rc == P4_OK)
        rc = p4_enclave_set_noise_layout(a->enclave, a->cfg->noise_layout, err);
    p4_peer_setup setup = audit_setup(a);
    if (rc == P4_OK)
        rc = p4_peer_plan_budget(&setup, p4_peer_sample_rate(a->cfg, a->set->train_count),
                                 &a->plan, err);
    if (rc == P4_OK)
        rc = p4_ledger_check_plan(a->ledger, a->plan.phase, a->plan.nphases, NULL, err);
    return rc;
}

/* The client as p4_peer_open opens it, on the canary set's rows. */
static int open_client(audit *a, p4_error *err)
{
    p4_peer_setup setup = audit_setup(a);
    int dp = p4_peer_setup_dp(&setup);
    p4_client_spec spec;
    p4_peer_client_spec(&setup, a->opt->client, a->set->data, a->set->train_idx,
                        a->set->train_count, &spec);
    if (dp) {
        int rc = open_privacy(a, err);
        if (rc != P4_OK)
            return rc;
        spec.dp_params.noise_multiplier = a->plan.sigma;
        spec.warmup_params = a->plan.warmup;
        spec.ledger = a->ledger;
        spec.enclave = a->enclave;
    }
    return p4_peer_client_new(&setup, &spec, &a->client, err);
}

/* The method's local schedule for this one client. */
static int train(audit *a, p4_error *err)
{
    const p4_config *cfg = a->cfg;
    int rc = P4_OK;
    if (a->method == P4_METHOD_P4)
        rc = p4_client_warmup(a->client, cfg->warmup_epochs, err);
    p4_local_mode mode = a->method == P4_METHOD_FEDAVG_DP ? P4_LOCAL_PROXY_ONLY : P4_LOCAL_COTRAIN;
    for (int round = 0; round < cfg->rounds && rc == P4_OK; round++) {
        rc = p4_client_local(a->client, mode, cfg->local_epochs, err);
        if (rc == P4_OK && a->opt->log)
            fprintf(a->opt->log, "audit: round %d/%d\n", round + 1, cfg->rounds);
    }
    return rc;
}

/* The attacker's view: a model holding only the released proxy vector. */
static int score_released_proxy(audit *a, double *scores, p4_error *err)
{
    const p4_config *cfg = a->cfg;
    const p4_dataset *train = a->work->train;
    p4_cfg_shape shape = { train->width, train->height, train->channels, train->classes };
    size_t n = p4_client_proxy_size(a->client);
    float *released = malloc(n * sizeof *released);
    p4_model *model = NULL;
    int rc = released ? p4_client_get_proxy(a->client, released, n) : P4_ENOMEM;
    if (rc != P4_OK) {
        free(released);
        return p4_error_set(err, rc, "audit: cannot read the released proxy");
    }
    rc = p4_model_new(&model, cfg->proxy_cfg[0] ? cfg->proxy_cfg : cfg->model_cfg, &shape,
                      cfg->batch, cfg->seed, err);
    if (rc == P4_OK && (rc = p4_model_set_params(model, released, n)) != P4_OK)
        p4_error_set(err, rc, "audit: the released proxy does not fit its own model");
    if (rc == P4_OK)
        rc = p4_canary_scores(a->set, model, scores, err);
    p4_model_destroy(&model);
    free(released);
    return rc;
}

/* The ladder (or the one requested guess count): the largest bound. */
static int guess(const audit *a, const double *scores, p4_audit_result *r, p4_error *err)
{
    const p4_audit_options *o = a->opt;
    int m = a->set->canaries, tries = o->guesses ? 1 : LADDER_SIZE;
    double beta = (1 - o->confidence) / tries;
    r->epsilon_lower_bound = -1;
    for (int t = 0; t < tries; t++) {
        int total = o->guesses ? o->guesses : (int)lround(guess_ladder[t] * m);
        if (total < 1)
            total = 1;
        int k_in = (total + 1) / 2, k_out = total - k_in, correct;
        double bound;
        int rc = p4_audit_count_correct(scores, a->set->included, m, k_in, k_out, &correct, err);
        if (rc == P4_OK)
            rc = p4_audit_epsilon_bound(m, total, correct, a->cfg->delta, beta, &bound, err);
        if (rc != P4_OK)
            return rc;
        if (o->log)
            fprintf(o->log, "audit: %d guesses (%d in, %d out): %d correct, bound %.3f\n", total,
                    k_in, k_out, correct, bound);
        if (bound >= r->epsilon_lower_bound) { /* ties: the most guesses */
            r->epsilon_lower_bound = bound;
            r->guesses = total;
            r->guesses_in = k_in;
            r->guesses_out = k_out;
            r->correct = correct;
        }
    }
    return P4_OK;
}

static void separation(const audit *a, const double *scores, p4_audit_result *r)
{
    double sum[2] = { 0, 0 };
    int count[2] = { 0, 0 };
    for (int j = 0; j < a->set->canaries; j++) {
        int in = a->set->included[j] != 0;
        sum[in] += scores[j];
        count[in]++;
    }
    r->mean_score_in = count[1] ? sum[1] / count[1] : NAN;
    r->mean_score_out = count[0] ? sum[0] / count[0] : NAN;
    r->included = count[1];
}

int p4_audit_run(const p4_config *cfg, const p4_audit_options *opt, p4_audit_result *r,
                 p4_error *err)
{
    if (!cfg || !opt || !r)
        return p4_error_set(err, P4_EINVAL, "audit: bad arguments");
    memset(r, 0, sizeof *r);
    double start = p4_now_seconds();
    audit a = { .cfg = cfg, .opt = opt };
    int rc = check_request(cfg, opt, &a.method, err);
    if (rc == P4_OK)
        rc = p4_workload_load(cfg, &a.work, err);
    if (rc == P4_OK && opt->client >= a.work->partition->clients)
        rc = p4_error_set(err, P4_EINVAL, "audit: client %d does not exist (%s has %d)",
                          opt->client, cfg->path, a.work->partition->clients);
    if (rc == P4_OK)
        rc = build_canaries(&a, err);
    if (rc == P4_OK)
        rc = open_client(&a, err);
    if (rc == P4_OK && opt->log)
        fprintf(opt->log, "audit: client %d trains on %d real examples and %d of %d canaries "
                "(method %s, q %.4f, noise multiplier %.4f)\n", opt->client, a.set->real,
                a.set->train_count - a.set->real, a.set->canaries, p4_method_name(a.method),
                a.plan.q, a.plan.sigma);
    if (rc == P4_OK)
        rc = train(&a, err);
    double *scores = rc == P4_OK ? malloc((size_t)opt->canaries * sizeof *scores) : NULL;
    if (rc == P4_OK && !scores)
        rc = p4_error_set(err, P4_ENOMEM, "audit: out of memory for %d scores", opt->canaries);
    if (rc == P4_OK)
        rc = score_released_proxy(&a, scores, err);
    if (rc == P4_OK)
        rc = guess(&a, scores, r, err);
    if (rc == P4_OK) {
        separation(&a, scores, r);
        r->epsilon = opt->epsilon;
        r->delta = cfg->delta;
        r->confidence = opt->confidence;
        r->canaries = opt->canaries;
        r->train_count = a.set->train_count;
        r->noise_multiplier = a.plan.sigma;
        r->warmup_noise_multiplier = a.plan.warmup.noise_multiplier;
        /* The released proxy carries the private teacher when it distils
         * from it: co-training without DP, or with DP but not strict_dp. */
        int dp = !isinf(opt->epsilon);
        r->facts = (p4_dp_run_facts){ .dp = dp, .reproducible = opt->reproducible,
                                      .private_teacher = a.method != P4_METHOD_FEDAVG_DP &&
                                                         (!dp || !cfg->strict_dp),
                                      .ledger = dp };
        r->guarantee = p4_dp_guarantee_of(&r->facts);
        if (a.ledger)
            rc = p4_ledger_spent(a.ledger, &r->epsilon_spent, err);
        if (rc == P4_OK && a.work->partition->split[opt->client].test_count > 0)
            rc = p4_client_evaluate(a.client, P4_MODEL_PROXY, &r->proxy_accuracy, err);
    }
    free(scores);
    audit_close(&a);
    r->seconds = p4_now_seconds() - start;
    return rc;
}
