/* simulation.c: N clients in one process; see simulation.h.
 *
 * The run is a sequence of phases, each a parallel for over clients (local
 * work) followed by a serial exchange (what the network would carry: proxy
 * vectors or noised logits).  Clients never touch each other's state. */
#include "p4node/simulation.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster/grouping.h"
#include "cluster/similarity.h"
#include "common/parallel.h"
#include "common/progress.h"
#include "datasets/workload.h"
#include "distill/aggregate.h"
#include "distill/client.h"
#include "distill/kd_loss.h"
#include "dp/accountant.h"
#include "model/gemm.h"

typedef struct sim {
    const p4_config *cfg;
    const p4_sim_options *opt;
    p4_workload *work;
    int n, dp, logits_mode;
    p4_client **clients;
    p4_ledger **ledgers;
    p4_enclave **enclaves;
    size_t proxy_size;
    float *proxies;          /* n x proxy_size: what the exchange carries */
    float *public_x;         /* logits mode: public inputs            */
    int public_n;
    float *logits;           /* logits mode: n x public_n x classes   */
    double logit_sigma;      /* logits mode: noise multiplier per release */
    double *accuracy;
    p4_local_mode local_mode;
} sim;

static const char *const method_names[] = { "p4", "local", "proxyfl", "fedavg-dp" };

int p4_method_parse(const char *text, p4_method *out)
{
    for (int k = 0; k < 4; k++)
        if (text && strcmp(text, method_names[k]) == 0) {
            *out = (p4_method)k;
            return P4_OK;
        }
    return P4_EINVAL;
}

const char *p4_method_name(p4_method method)
{
    return (int)method >= 0 && (int)method < 4 ? method_names[method] : "?";
}

/* --- per-client phases (run in parallel) --------------------------------- */

static int phase_warmup(void *user, int i, p4_error *err)
{
    sim *s = user;
    return p4_client_warmup(s->clients[i], s->cfg->warmup_epochs, err);
}

static int phase_local(void *user, int i, p4_error *err)
{
    sim *s = user;
    return p4_client_local(s->clients[i], s->local_mode, s->cfg->local_epochs, err);
}

static int phase_evaluate(void *user, int i, p4_error *err)
{
    sim *s = user;
    p4_which_model which = s->opt->method == P4_METHOD_FEDAVG_DP ? P4_MODEL_PROXY : P4_MODEL_PRIVATE;
    return p4_client_evaluate(s->clients[i], which, &s->accuracy[i], err);
}

static int phase_get_proxy(void *user, int i, p4_error *err)
{
    sim *s = user;
    (void)err;
    return p4_client_get_proxy(s->clients[i], s->proxies + (size_t)i * s->proxy_size, s->proxy_size);
}

static int phase_set_proxy(void *user, int i, p4_error *err)
{
    sim *s = user;
    (void)err;
    return p4_client_set_proxy(s->clients[i], s->proxies + (size_t)i * s->proxy_size, s->proxy_size);
}

static int phase_public_logits(void *user, int i, p4_error *err)
{
    sim *s = user;
    int classes = s->work->train->classes;
    return p4_client_public_logits(s->clients[i], s->public_x, s->public_n, 1.0,
                                   s->dp ? s->logit_sigma : 0.0,
                                   s->logits + (size_t)i * s->public_n * classes, err);
}

static int phase_distill_public(void *user, int i, p4_error *err)
{
    sim *s = user;
    int classes = s->work->train->classes;
    return p4_client_distill_public(s->clients[i], s->public_x, s->public_n,
                                    s->logits + (size_t)i * s->public_n * classes, 1, err);
}

static int run_phase(sim *s, p4_item_fn *fn, p4_error *err)
{
    return p4_parallel_for(s->n, s->opt->threads, fn, s, err);
}

/* --- budget --------------------------------------------------------------- */

/* One client's whole DP plan: up to three phases (logits releases, warm-up,
 * co-training) whose composition spends exactly the target epsilon. */
typedef struct budget_plan {
    double q;                    /* the training rate this plan is for */
    p4_dp_phase phase[3];
    int nphases;
    p4_dpsgd_params warmup;      /* sample_rate 0 when there is no warm-up */
    double sigma;                /* co-training / training noise multiplier */
} budget_plan;

static double client_sample_rate(const p4_config *cfg, int train_count)
{
    double q = cfg->sample_rate > 0 ? cfg->sample_rate : (double)cfg->batch / train_count;
    return q > 1 ? 1 : q;
}

/* Logits releases (a quarter of the budget) and the P4 warm-up (warmup_budget
 * of it) are calibrated on their own shares; co-training's noise is then
 * calibrated so that everything together spends the target. */
static int plan_budget(sim *s, double q, budget_plan *plan, p4_error *err)
{
    const p4_config *cfg = s->cfg;
    double eps = s->opt->epsilon, sigma;
    int rc;
    memset(plan, 0, sizeof *plan);
    plan->q = q;
    if (s->logits_mode) {
        /* One release per round of the whole public logits matrix; see
         * p4_client_public_logits for its sensitivity. */
        if ((rc = p4_rdp_calibrate_sigma(eps / 4, cfg->delta, 1.0, cfg->rounds, NULL, 0, 1e-4,
                                         &sigma, err)) != P4_OK)
            return rc;
        s->logit_sigma = sigma * 2.0 * sqrt((double)s->public_n);
        plan->phase[plan->nphases++] = (p4_dp_phase){ 1.0, sigma, cfg->rounds };
    }
    if (s->opt->method == P4_METHOD_P4 && cfg->warmup_epochs > 0) {
        double qw = cfg->warmup_sample_rate > 0 ? cfg->warmup_sample_rate : q;
        long long steps = (long long)cfg->warmup_epochs * p4_dpsgd_steps_per_epoch(qw);
        if ((rc = p4_rdp_calibrate_sigma(eps * cfg->warmup_budget, cfg->delta, qw, steps, NULL, 0,
                                         1e-4, &sigma, err)) != P4_OK)
            return rc;
        plan->warmup = (p4_dpsgd_params){ qw, sigma, cfg->clip_norm };
        plan->phase[plan->nphases++] = (p4_dp_phase){ qw, sigma, steps };
    }
    long long steps = (long long)cfg->rounds * cfg->local_epochs * p4_dpsgd_steps_per_epoch(q);
    if ((rc = p4_rdp_calibrate_sigma(eps, cfg->delta, q, steps, plan->phase, plan->nphases, 1e-4,
                                     &plan->sigma, err)) != P4_OK)
        return rc;
    plan->phase[plan->nphases++] = (p4_dp_phase){ q, plan->sigma, steps };
    return P4_OK;
}

/* --- set-up --------------------------------------------------------------- */

/* Logits mode's public reference set: training examples no client holds. */
static int pick_public_set(sim *s, p4_error *err)
{
    const p4_dataset *train = s->work->train;
    unsigned char *used = calloc((size_t)train->count, 1);
    int want = s->cfg->public_count > 0 ? s->cfg->public_count : 500;
    int *chosen = malloc((size_t)want * sizeof(int));
    if (!used || !chosen) {
        free(used); free(chosen);
        return p4_error_set(err, P4_ENOMEM, "out of memory for the public set");
    }
    for (int k = 0; k < s->n; k++)
        for (int j = 0; j < s->work->partition->split[k].train_count; j++)
            used[s->work->partition->split[k].train[j]] = 1;
    int got = 0;
    for (int i = 0; i < train->count && got < want; i++)
        if (!used[i])
            chosen[got++] = i;
    free(used);
    if (got < want) {
        free(chosen);
        return p4_error_set(err, P4_ECONFIG, "%s: logits mode needs %d public examples that no "
                            "client holds; only %d are left", s->cfg->path, want, got);
    }
    s->public_n = want;
    s->public_x = malloc((size_t)want * p4_dataset_example_size(train) * sizeof(float));
    s->logits = malloc((size_t)s->n * want * train->classes * sizeof(float));
    int rc = (s->public_x && s->logits) ? P4_OK : P4_ENOMEM;
    if (rc != P4_OK)
        p4_error_set(err, rc, "out of memory for the public set");
    else if ((rc = p4_dataset_batch(train, chosen, want, s->public_x, NULL)) != P4_OK)
        p4_error_set(err, rc, "%s: cannot load the public set", s->cfg->path);
    free(chosen);
    return rc;
}

static int open_client(sim *s, int k, budget_plan *plan, p4_error *err)
{
    const p4_config *cfg = s->cfg;
    const p4_client_split *split = &s->work->partition->split[k];
    p4_client_spec spec = {
        .id = k, .train = s->work->train, .test = s->work->test,
        .train_idx = split->train, .train_count = split->train_count,
        .test_idx = split->test, .test_count = split->test_count,
        .private_cfg = cfg->model_cfg, .proxy_cfg = cfg->proxy_cfg[0] ? cfg->proxy_cfg : cfg->model_cfg,
        .shape = { s->work->train->width, s->work->train->height, s->work->train->channels,
                   s->work->train->classes },
        .batch = cfg->batch, .learning_rate = cfg->learning_rate, .momentum = cfg->momentum,
        .weight_decay = cfg->weight_decay, .seed = cfg->seed, .dp = s->dp,
        .kd_alpha = cfg->kd_alpha, .kd_temperature = cfg->kd_temperature,
        .strict_dp = cfg->strict_dp,
        .warmup_head_only = strcmp(cfg->warmup_layers, "last") == 0,
        .seeded_sampling = s->opt->reproducible,
    };
    if (split->train_count < 1)
        return p4_error_set(err, P4_ECONFIG, "%s: client %d has no training examples", cfg->path, k);
    double q = client_sample_rate(cfg, split->train_count);
    spec.dp_params = (p4_dpsgd_params){ q, 0.0, cfg->clip_norm };
    if (s->dp) {
        char path[P4_PATH_MAX + 32];
        snprintf(path, sizeof path, "%s/client-%03d.db", s->opt->state_dir, k);
        int rc = p4_ledger_open(path, s->opt->epsilon, cfg->delta, &s->ledgers[k], err);
        if (rc == P4_OK)
            rc = p4_enclave_open_software(&s->enclaves[k], s->opt->reproducible,
                                          cfg->seed * 7919u + (uint64_t)k, err);
        if (rc != P4_OK)
            return rc;
        /* Clients of equal size share one calibration. */
        if (plan->q != q && (rc = plan_budget(s, q, plan, err)) != P4_OK)
            return rc;
        spec.dp_params.noise_multiplier = plan->sigma;
        spec.warmup_params = plan->warmup;
        spec.ledger = s->ledgers[k];
        spec.enclave = s->enclaves[k];
        /* Refuse to start a run this ledger cannot pay for in full. */
        if ((rc = p4_ledger_check_plan(s->ledgers[k], plan->phase, plan->nphases, NULL, err)) != P4_OK)
            return rc;
    }
    return p4_client_new(&s->clients[k], &spec, err);
}

static void sim_close(sim *s)
{
    for (int k = 0; s->clients && k < s->n; k++) {
        p4_client_destroy(&s->clients[k]);
        p4_ledger_close(&s->ledgers[k]);
        p4_enclave_close(&s->enclaves[k]);
    }
    free(s->clients);
    free(s->ledgers);
    free(s->enclaves);
    free(s->proxies);
    free(s->public_x);
    free(s->logits);
    free(s->accuracy);
    p4_workload_destroy(&s->work);
}

static int sim_open(sim *s, const p4_config *cfg, const p4_sim_options *opt, p4_sim_result *r,
                    p4_error *err)
{
    memset(s, 0, sizeof *s);
    s->cfg = cfg;
    s->opt = opt;
    s->dp = !isinf(opt->epsilon) && opt->method != P4_METHOD_LOCAL;
    s->logits_mode = strcmp(cfg->share, "logits") == 0 && opt->method == P4_METHOD_P4;
    int rc = p4_workload_load(cfg, &s->work, err);
    if (rc != P4_OK)
        return rc;
    s->n = s->work->partition->clients;
    s->clients = calloc((size_t)s->n, sizeof *s->clients);
    s->ledgers = calloc((size_t)s->n, sizeof *s->ledgers);
    s->enclaves = calloc((size_t)s->n, sizeof *s->enclaves);
    s->accuracy = calloc((size_t)s->n, sizeof *s->accuracy);
    if (!s->clients || !s->ledgers || !s->enclaves || !s->accuracy)
        return p4_error_set(err, P4_ENOMEM, "out of memory for %d clients", s->n);
    if (s->logits_mode && (rc = pick_public_set(s, err)) != P4_OK)
        return rc;
    budget_plan plan = { .q = -1 };
    for (int k = 0; k < s->n; k++)
        if ((rc = open_client(s, k, &plan, err)) != P4_OK)
            return rc;
    r->noise_multiplier = s->dp ? plan.sigma : 0.0;
    r->warmup_noise_multiplier = s->dp ? plan.warmup.noise_multiplier : 0.0;
    s->proxy_size = p4_client_proxy_size(s->clients[0]);
    for (int k = 1; k < s->n; k++)
        if (p4_client_proxy_size(s->clients[k]) != s->proxy_size)
            return p4_error_set(err, P4_EMODEL, "proxies differ in size");
    s->proxies = malloc((size_t)s->n * s->proxy_size * sizeof(float));
    return s->proxies ? P4_OK : p4_error_set(err, P4_ENOMEM, "out of memory for the proxies");
}

/* --- exchanges (serial: what the network would carry) --------------------- */

/* The proxy coordinates the grouping distance covers. */
static int distance_range(const sim *s, size_t *offset, size_t *length, p4_error *err)
{
    const char *which = s->cfg->distance_layers;
    if (strcmp(which, "all") == 0) {
        *offset = 0;
        *length = s->proxy_size;
        return P4_OK;
    }
    int k = 0;
    size_t o, l;
    if (strcmp(which, "output-bias") == 0) {
        /* Weights come before biases in the flat vector, so the output
         * layer's biases are its last `classes` floats. */
        *length = (size_t)s->work->train->classes;
        *offset = s->proxy_size - *length;
        return P4_OK;
    }
    if (strcmp(which, "first") == 0)
        return p4_client_proxy_layer(s->clients[0], 0, offset, length);
    while (p4_client_proxy_layer(s->clients[0], k, &o, &l) == P4_OK) {
        *offset = o;
        *length = l;
        k++;
    }
    return k > 0 ? P4_OK : p4_error_set(err, P4_EMODEL, "the proxy has no parametrised layer");
}

/* Private grouping on the warm-up proxies (each one a DP output). */
static int group_clients(sim *s, p4_sim_result *r, p4_error *err)
{
    size_t offset, length;
    int rc = distance_range(s, &offset, &length, err);
    if (rc != P4_OK)
        return rc;
    int n = s->n;
    double *dist = calloc((size_t)n * n, sizeof *dist);
    unsigned char *known = calloc((size_t)n * n, 1);
    if (!dist || !known) {
        free(dist); free(known);
        return p4_error_set(err, P4_ENOMEM, "out of memory for distances");
    }
    /* The grouping's tie-breaks are public: every node must compute the same groups. */
    p4_rng rng;
    rc = p4_rng_init_seeded(&rng, s->cfg->seed, "grouping");
    if (rc != P4_OK)
        p4_error_set(err, rc, "cannot seed the grouping");
    else
        rc = p4_grouping_sample_peers(n, s->cfg->sample_peers, &rng, known, err);
    for (int i = 0; i < n && rc == P4_OK; i++)
        for (int j = i + 1; j < n && rc == P4_OK; j++) {
            if (!known[(size_t)i * n + j])
                continue;
            rc = p4_l1_distance(s->proxies + (size_t)i * s->proxy_size,
                                s->proxies + (size_t)j * s->proxy_size, offset, length,
                                s->proxy_size, &dist[(size_t)i * n + j], err);
            dist[(size_t)j * n + i] = dist[(size_t)i * n + j];
        }
    p4_grouping_params params = { s->cfg->group_size };
    if (rc == P4_OK)
        rc = p4_group_clients(dist, known, n, &params, &rng, r->group_of, &r->ngroups, err);
    free(dist);
    free(known);
    return rc;
}

/* Averages (mean or multi-Krum) the proxies of each group in place. */
static int aggregate_groups(sim *s, const int *group_of, int ngroups, p4_error *err)
{
    const float **members = malloc((size_t)s->n * sizeof *members);
    float *out = malloc(s->proxy_size * sizeof(float));
    int rc = (members && out) ? P4_OK : p4_error_set(err, P4_ENOMEM, "out of memory");
    for (int g = 0; g < ngroups && rc == P4_OK; g++) {
        int k = 0;
        for (int i = 0; i < s->n; i++)
            if (group_of[i] == g)
                members[k++] = s->proxies + (size_t)i * s->proxy_size;
        int f = s->cfg->krum_f;
        if (strcmp(s->cfg->aggregate, "multikrum") == 0 && k > 2 * f + 2)
            rc = p4_aggregate_multi_krum(members, k, s->proxy_size, f, k - f, out, NULL, err);
        else
            rc = p4_aggregate_mean(members, k, s->proxy_size, out, err);
        for (int i = 0; i < s->n && rc == P4_OK; i++)
            if (group_of[i] == g)
                memcpy(s->proxies + (size_t)i * s->proxy_size, out, s->proxy_size * sizeof(float));
    }
    free(members);
    free(out);
    return rc;
}

/* ProxyFL's exponential graph: in round r each client averages its proxy
 * with the one pushed by client (i - 2^(r mod log2 n)) mod n. */
static int exchange_exponential(sim *s, int round, p4_error *err)
{
    int hops = 0;
    while ((1 << (hops + 1)) <= s->n - 1)
        hops++;
    int shift = 1 << (round % (hops + 1));
    size_t d = s->proxy_size;
    float *received = malloc((size_t)s->n * d * sizeof(float));
    if (!received)
        return p4_error_set(err, P4_ENOMEM, "out of memory");
    for (int i = 0; i < s->n; i++) {
        int from = ((i - shift) % s->n + s->n) % s->n;
        memcpy(received + (size_t)i * d, s->proxies + (size_t)from * d, d * sizeof(float));
    }
    for (size_t j = 0; j < (size_t)s->n * d; j++)
        s->proxies[j] = 0.5f * (s->proxies[j] + received[j]);
    free(received);
    return P4_OK;
}

/* Logits mode: each group member distils from softmax of the group's mean
 * noised logits. */
static int exchange_logits(sim *s, const int *group_of, int ngroups, p4_error *err)
{
    int rc = run_phase(s, phase_public_logits, err);
    if (rc != P4_OK)
        return rc;
    int classes = s->work->train->classes;
    size_t per = (size_t)s->public_n * classes;
    double *sum = malloc(per * sizeof(double));
    float *teacher = malloc(per * sizeof(float));
    if (!sum || !teacher) {
        free(sum); free(teacher);
        return p4_error_set(err, P4_ENOMEM, "out of memory");
    }
    for (int g = 0; g < ngroups; g++) {
        int k = 0;
        memset(sum, 0, per * sizeof(double));
        for (int i = 0; i < s->n; i++)
            if (group_of[i] == g) {
                for (size_t j = 0; j < per; j++)
                    sum[j] += s->logits[(size_t)i * per + j];
                k++;
            }
        for (size_t j = 0; j < per; j++)
            teacher[j] = (float)(sum[j] / k);
        p4_softmax_temperature(teacher, s->public_n, classes, s->cfg->kd_temperature, teacher);
        for (int i = 0; i < s->n; i++)
            if (group_of[i] == g)
                memcpy(s->logits + (size_t)i * per, teacher, per * sizeof(float));
    }
    free(sum);
    free(teacher);
    return run_phase(s, phase_distill_public, err);
}

/* --- the run ---------------------------------------------------------------- */

static void summarise(const sim *s, p4_sim_result *r)
{
    double sum = 0, sq = 0;
    for (int k = 0; k < s->n; k++) {
        r->accuracy[k] = s->accuracy[k];
        sum += s->accuracy[k];
    }
    r->mean_accuracy = sum / s->n;
    for (int k = 0; k < s->n; k++)
        sq += (s->accuracy[k] - r->mean_accuracy) * (s->accuracy[k] - r->mean_accuracy);
    r->std_accuracy = s->n > 1 ? sqrt(sq / (s->n - 1)) : 0.0;
    /* What leaves a client: the warm-up proxy (labels only) and then either
     * noised logits, whose sensitivity bound holds whatever the proxy learnt
     * from, or proxy weights, which carry the private teacher unless strict. */
    int shares_weights = !s->logits_mode && (s->opt->method == P4_METHOD_P4 ||
                                             s->opt->method == P4_METHOD_PROXYFL);
    r->facts = (p4_dp_run_facts){ .dp = s->dp, .reproducible = s->opt->reproducible,
                                  .private_teacher = shares_weights && !s->cfg->strict_dp,
                                  .ledger = s->dp };
    r->guarantee = p4_dp_guarantee_of(&r->facts);
    r->epsilon = 0;
    for (int k = 0; k < s->n && s->dp; k++) {
        double e = 0;
        if (p4_ledger_spent(s->ledgers[k], &e, NULL) == P4_OK && e > r->epsilon)
            r->epsilon = e;
    }
}

static int one_round(sim *s, int round, const int *group_of, int ngroups, p4_error *err)
{
    int rc = run_phase(s, phase_local, err);
    if (rc != P4_OK || s->opt->method == P4_METHOD_LOCAL)
        return rc;
    if (s->logits_mode)
        return exchange_logits(s, group_of, ngroups, err);
    if ((rc = run_phase(s, phase_get_proxy, err)) != P4_OK)
        return rc;
    if (s->opt->method == P4_METHOD_PROXYFL)
        rc = exchange_exponential(s, round, err);
    else
        rc = aggregate_groups(s, group_of, ngroups, err);
    return rc == P4_OK ? run_phase(s, phase_set_proxy, err) : rc;
}

static int allocate_result(p4_sim_result *r, int n)
{
    r->clients = n;
    r->accuracy = calloc((size_t)n, sizeof *r->accuracy);
    r->group_of = calloc((size_t)n, sizeof *r->group_of);
    r->latent = calloc((size_t)n, sizeof *r->latent);
    return (r->accuracy && r->group_of && r->latent) ? P4_OK : P4_ENOMEM;
}

/* A private temporary folder for ledgers nobody asked to keep. */
static char *make_temp_state(p4_error *err)
{
    const char *base = getenv("TMPDIR");
    char *dir = malloc(P4_PATH_MAX);
    if (!dir)
        return NULL;
    snprintf(dir, P4_PATH_MAX, "%s/p4-sim-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(dir)) {
        p4_error_set(err, P4_EIO, "cannot make a temporary state folder %s: %s", dir, strerror(errno));
        free(dir);
        return NULL;
    }
    return dir;
}

static void remove_temp_state(char *dir, int clients)
{
    char path[P4_PATH_MAX + 64];
    static const char *const suffixes[] = { "", "-wal", "-shm" };
    for (int k = 0; k < clients; k++)
        for (int j = 0; j < 3; j++) {
            snprintf(path, sizeof path, "%s/client-%03d.db%s", dir, k, suffixes[j]);
            unlink(path);
        }
    rmdir(dir);
    free(dir);
}

static int run_with_state(const p4_config *cfg, const p4_sim_options *opt, p4_sim_result *r,
                          p4_error *err);

int p4_sim_run(const p4_config *cfg, const p4_sim_options *opt, p4_sim_result *r, p4_error *err)
{
    if (!cfg || !opt || !r || opt->threads < 1 || !(opt->epsilon > 0))
        return p4_error_set(err, P4_EINVAL, "simulation: bad arguments");
    if (opt->state_dir)
        return run_with_state(cfg, opt, r, err);
    char *dir = make_temp_state(err);
    if (!dir)
        return P4_EIO;
    p4_sim_options with_dir = *opt;
    with_dir.state_dir = dir;
    int rc = run_with_state(cfg, &with_dir, r, err);
    remove_temp_state(dir, cfg->partition.clients);
    return rc;
}

static int run_with_state(const p4_config *cfg, const p4_sim_options *opt, p4_sim_result *r,
                          p4_error *err)
{
    memset(r, 0, sizeof *r);
    r->ari = NAN;
    double start = p4_now_seconds();
    p4_gemm_set_threads(1); /* parallelism comes from running clients at once */
    sim s;
    int rc = sim_open(&s, cfg, opt, r, err);
    if (rc == P4_OK && allocate_result(r, s.n) != P4_OK)
        rc = p4_error_set(err, P4_ENOMEM, "out of memory");
    /* One group of everyone (FedAvg) unless grouping says otherwise. */
    int *group_of = r->group_of, ngroups = 1;
    if (rc == P4_OK && opt->method == P4_METHOD_P4) {
        if ((rc = run_phase(&s, phase_warmup, err)) == P4_OK &&
            (rc = run_phase(&s, phase_get_proxy, err)) == P4_OK)
            rc = group_clients(&s, r, err);
        ngroups = r->ngroups;
    } else if (rc == P4_OK) {
        r->ngroups = opt->method == P4_METHOD_FEDAVG_DP ? 1 : s.n;
        for (int k = 0; k < s.n; k++)
            group_of[k] = opt->method == P4_METHOD_FEDAVG_DP ? 0 : k;
    }
    s.local_mode = opt->method == P4_METHOD_LOCAL       ? P4_LOCAL_PRIVATE_ONLY
                 : opt->method == P4_METHOD_FEDAVG_DP ? P4_LOCAL_PROXY_ONLY
                                                        : P4_LOCAL_COTRAIN;
    for (int round = 0; rc == P4_OK && round < cfg->rounds; round++) {
        rc = one_round(&s, round, group_of, ngroups, err);
        if (rc == P4_OK && opt->log && (rc = run_phase(&s, phase_evaluate, err)) == P4_OK) {
            summarise(&s, r);
            fprintf(opt->log, "%s round %d/%d: mean accuracy %.4f, epsilon %.3f\n",
                    p4_method_name(opt->method), round + 1, cfg->rounds, r->mean_accuracy, r->epsilon);
            fflush(opt->log);
        }
    }
    if (rc == P4_OK && (rc = run_phase(&s, phase_evaluate, err)) == P4_OK) {
        summarise(&s, r);
        int have_latent = cfg->partition.kind == P4_PARTITION_CLUSTERED;
        for (int k = 0; k < s.n; k++)
            r->latent[k] = have_latent ? s.work->partition->split[k].cluster : -1;
        if (have_latent && opt->method == P4_METHOD_P4)
            r->ari = p4_adjusted_rand_index(r->group_of, r->latent, s.n);
    }
    sim_close(&s);
    r->seconds = p4_now_seconds() - start;
    if (rc != P4_OK)
        p4_sim_result_free(r);
    return rc;
}

void p4_sim_result_free(p4_sim_result *r)
{
    if (!r)
        return;
    free(r->accuracy);
    free(r->group_of);
    free(r->latent);
    r->accuracy = NULL;
    r->group_of = NULL;
    r->latent = NULL;
}
