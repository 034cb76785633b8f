/* leakage.c: one client trained as its method trains it, then threshold
 * membership-inference attacks on its private model and its proxy, with the
 * whole model and through the optee partition; see leakage.h. */
#define _XOPEN_SOURCE 700
#include "p4node/leakage.h"

#include <darknet.h>
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cluster/method.h"
#include "cluster/peer.h"
#include "common/progress.h"
#include "datasets/workload.h"
#include "distill/client.h"
#include "dp/protected.h"
#include "model/model.h"
#include "tee/enclave.h"

static const char *const attack_names[P4_LEAK_ATTACKS] = {
    "loss", "confidence", "label", "label-noise", "activation-norm"
};

const char *p4_leakage_attack_name(p4_leakage_attack attack)
{
    return attack >= 0 && attack < P4_LEAK_ATTACKS ? attack_names[attack] : "unknown";
}

int p4_leakage_attack_partitioned(p4_leakage_attack attack)
{
    return attack == P4_LEAK_LABEL || attack == P4_LEAK_LABEL_NOISE ||
           attack == P4_LEAK_ACTIVATION;
}

void p4_leakage_options_defaults(p4_leakage_options *o)
{
    memset(o, 0, sizeof *o);
    o->epsilon = INFINITY;
    o->pp_start = -1;
    o->proxy_pp_start = -1;
    o->queries = 16;
    o->query_noise = 0.1;
    o->seed = 1;
}

/* Everything one run holds; released by leakage_close. */
typedef struct leakage {
    p4_config cfg;             /* the caller's, with the run's seed         */
    const p4_leakage_options *opt;
    p4_method method;
    p4_workload *work;
    char state_dir[P4_PATH_MAX], ledger_path[P4_PATH_MAX + 16];
    p4_ledger *ledger;
    p4_enclave *enclave;
    p4_client *client;
    p4_peer_plan plan;
    /* The attacked examples: members first, then non-members. */
    int n, members;
    float *x;
    int *y;
    unsigned char *member, *half;
    p4_rng rng;                /* halves and query noise                     */
} leakage;

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    remove(path); /* best effort: our own temporary folder */
    return 0;
}

static void leakage_close(leakage *l)
{
    p4_client_destroy(&l->client);
    p4_ledger_close(&l->ledger);
    p4_enclave_close(&l->enclave);
    if (l->state_dir[0])
        nftw(l->state_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    p4_workload_destroy(&l->work);
    free(l->x);
    free(l->y);
    free(l->member);
    free(l->half);
    p4_rng_wipe(&l->rng);
}

static p4_peer_setup setup_of(const leakage *l)
{
    return (p4_peer_setup){ .cfg = &l->cfg, .work = l->work, .method = l->method,
                            .epsilon = l->opt->epsilon, .reproducible = l->opt->reproducible,
                            .state_dir = l->state_dir, .public_n = l->cfg.public_count };
}

static int make_state_dir(leakage *l, p4_error *err)
{
    const char *base = getenv("TMPDIR");
    snprintf(l->state_dir, sizeof l->state_dir, "%s/p4-leakage-XXXXXX",
             base && *base ? base : "/tmp");
    if (!mkdtemp(l->state_dir)) {
        int e = errno;
        p4_error_set(err, P4_EIO, "leakage: cannot make a temporary folder %s: %s",
                     l->state_dir, strerror(e));
        l->state_dir[0] = '\0';
        return P4_EIO;
    }
    snprintf(l->ledger_path, sizeof l->ledger_path, "%s/leakage.db", l->state_dir);
    return P4_OK;
}

/* The memorisation check: the client's examples get labels that carry no
 * information about their pixels, so only memorising them fits them. */
static void randomise_labels(leakage *l)
{
    const p4_client_split *s = &l->work->partition->split[l->opt->client];
    p4_rng rng;
    p4_rng_init_seeded(&rng, l->cfg.seed, "leakage-random-labels");
    for (int j = 0; j < s->train_count; j++)
        l->work->train->labels[s->train[j]] =
            (uint16_t)p4_rng_below(&rng, (uint64_t)l->work->train->classes);
    for (int j = 0; j < s->test_count; j++)
        l->work->test->labels[s->test[j]] =
            (uint16_t)p4_rng_below(&rng, (uint64_t)l->work->test->classes);
    p4_rng_wipe(&rng);
}

/* The client as p4_peer_open opens it (p4 audit does the same). */
static int open_client(leakage *l, p4_error *err)
{
    p4_peer_setup setup = setup_of(l);
    const p4_client_split *s = &l->work->partition->split[l->opt->client];
    p4_client_spec spec;
    p4_peer_client_spec(&setup, l->opt->client, l->work->train, s->train, s->train_count, &spec);
    if (p4_peer_setup_dp(&setup)) {
        int rc = p4_ledger_open(l->ledger_path, l->opt->epsilon, l->cfg.delta, &l->ledger, err);
        if (rc == P4_OK)
            rc = p4_enclave_open_software(&l->enclave, l->opt->reproducible,
                                          l->cfg.seed * 7919u + (uint64_t)l->opt->client, err);
        if (rc == P4_OK)
            rc = p4_enclave_set_noise_layout(l->enclave, l->cfg.noise_layout, err);
        if (rc == P4_OK)
            rc = p4_peer_plan_budget(&setup, p4_peer_sample_rate(&l->cfg, s->train_count),
                                     &l->plan, err);
        if (rc == P4_OK)
            rc = p4_ledger_check_plan(l->ledger, l->plan.phase, l->plan.nphases, NULL, err);
        if (rc != P4_OK)
            return rc;
        spec.dp_params.noise_multiplier = l->plan.sigma;
        spec.warmup_params = l->plan.warmup;
        spec.ledger = l->ledger;
        spec.enclave = l->enclave;
    }
    return p4_peer_client_new(&setup, &spec, &l->client, err);
}

/* The method's local schedule for this one client. */
static int train(leakage *l, p4_error *err)
{
    if (l->opt->untrained)
        return P4_OK;
    int rc = P4_OK;
    if (l->method == P4_METHOD_P4)
        rc = p4_client_warmup(l->client, l->cfg.warmup_epochs, err);
    p4_local_mode mode = l->method == P4_METHOD_FEDAVG_DP ? P4_LOCAL_PROXY_ONLY
                       : l->method == P4_METHOD_LOCAL     ? P4_LOCAL_PRIVATE_ONLY
                                                          : P4_LOCAL_COTRAIN;
    for (int round = 0; round < l->cfg.rounds && rc == P4_OK; round++) {
        rc = p4_client_local(l->client, mode, l->cfg.local_epochs, err);
        if (rc == P4_OK && l->opt->log && (round + 1) % 5 == 0)
            fprintf(l->opt->log, "leakage: round %d/%d\n", round + 1, l->cfg.rounds);
    }
    return rc;
}

/* Members: the client's training split; non-members: as many of its test
 * split (all of them if fewer, and then as many members), drawn by rng. */
static int pick_examples(leakage *l, p4_error *err)
{
    const p4_client_split *s = &l->work->partition->split[l->opt->client];
    int k = s->train_count < s->test_count ? s->train_count : s->test_count;
    if (k < 4)
        return p4_error_set(err, P4_EINVAL, "leakage: client %d has %d training and %d test "
                            "examples; the attack needs at least 4 of each", l->opt->client,
                            s->train_count, s->test_count);
    int *in = malloc((size_t)s->train_count * sizeof *in);
    int *out = malloc((size_t)s->test_count * sizeof *out);
    size_t inputs = p4_dataset_example_size(l->work->train);
    l->n = 2 * k;
    l->members = k;
    l->x = malloc((size_t)l->n * inputs * sizeof *l->x);
    l->y = malloc((size_t)l->n * sizeof *l->y);
    l->member = malloc((size_t)l->n);
    l->half = malloc((size_t)l->n);
    int rc = in && out && l->x && l->y && l->member && l->half
           ? P4_OK : p4_error_set(err, P4_ENOMEM, "leakage: out of memory");
    if (rc == P4_OK) {
        memcpy(in, s->train, (size_t)s->train_count * sizeof *in);
        memcpy(out, s->test, (size_t)s->test_count * sizeof *out);
        p4_rng_shuffle_int(&l->rng, in, (size_t)s->train_count);
        p4_rng_shuffle_int(&l->rng, out, (size_t)s->test_count);
        if (p4_dataset_batch(l->work->train, in, k, l->x, NULL) != P4_OK ||
            p4_dataset_batch(l->work->test, out, k, l->x + (size_t)k * inputs, NULL) != P4_OK)
            rc = p4_error_set(err, P4_EINVAL, "leakage: an example index is out of range");
    }
    for (int i = 0; rc == P4_OK && i < k; i++) {
        l->y[i] = l->work->train->labels[in[i]];
        l->y[k + i] = l->work->test->labels[out[i]];
        l->member[i] = 1;
        l->member[k + i] = 0;
    }
    if (rc == P4_OK)
        rc = p4_mia_halves(l->member, l->n, &l->rng, l->half, err);
    free(in);
    free(out);
    return rc;
}

/* A fresh model holding the client's private model or proxy. */
static int load_model(leakage *l, p4_which_model which, p4_model **out, p4_error *err)
{
    const p4_dataset *d = l->work->train;
    p4_cfg_shape shape = { d->width, d->height, d->channels, d->classes };
    const char *path = which == P4_MODEL_PRIVATE || !l->cfg.proxy_cfg[0] ? l->cfg.model_cfg
                                                                           : l->cfg.proxy_cfg;
    size_t n = p4_client_model_size(l->client, which);
    float *params = malloc(n * sizeof *params);
    if (!params)
        return p4_error_set(err, P4_ENOMEM, "leakage: out of memory");
    int rc = p4_client_get_model(l->client, which, params, n);
    if (rc != P4_OK)
        p4_error_set(err, rc, "leakage: cannot read the client's model");
    if (rc == P4_OK)
        rc = p4_model_new(out, path, &shape, l->cfg.batch, l->cfg.seed, err);
    if (rc == P4_OK && (rc = p4_model_set_params(*out, params, n)) != P4_OK)
        p4_error_set(err, rc, "leakage: the client's model does not fit %s", path);
    free(params);
    return rc;
}

/* Setting (a): the whole model's probabilities. */
static int whole_model_scores(leakage *l, p4_model *model, double *loss, double *confidence,
                              double *correct, p4_error *err)
{
    int classes = p4_model_classes(model);
    float *probs = malloc((size_t)l->n * classes * sizeof *probs);
    int *top1 = malloc((size_t)l->n * sizeof *top1);
    int rc = probs && top1 ? p4_model_predict(model, l->x, l->n, probs, top1) : P4_ENOMEM;
    if (rc != P4_OK)
        p4_error_set(err, rc, "leakage: whole-model prediction failed");
    for (int i = 0; rc == P4_OK && i < l->n; i++) {
        const float *p = probs + (size_t)i * classes;
        double best = 0;
        for (int c = 0; c < classes; c++)
            best = p[c] > best ? p[c] : best;
        /* -log p, floored so that a certain wrong answer stays finite. */
        double py = p[l->y[i]] > 1e-30 ? p[l->y[i]] : 1e-30;
        loss[i] = log(py);     /* the score: higher = smaller loss */
        confidence[i] = best;
        correct[i] = top1[i] == l->y[i];
    }
    free(probs);
    free(top1);
    return rc;
}

static double share_correct(const double *correct, const unsigned char *member, int n, int in)
{
    int hit = 0, count = 0;
    for (int i = 0; i < n; i++)
        if ((member[i] != 0) == in) {
            hit += correct[i] != 0;
            count++;
        }
    return count ? (double)hit / count : NAN;
}

/* The normal world's output of layer pp_start - 1 (the inputs when
 * pp_start = 0), one chunk of m examples: the network is cut there, so
 * nothing above it runs in the normal world. */
static int activation_norms(p4_model *model, int pp_start, const float *x, int m, double *norm)
{
    network *net = p4_model_network(model);
    int rc = p4_model_load_inputs(model, x, m);
    if (rc != P4_OK)
        return rc;
    const float *a = x;
    size_t width = (size_t)p4_model_input_size(model);
    if (pp_start > 0) {
        int layers = net->n;
        net->n = pp_start;
        p4_model_forward(model, 0);
        net->n = layers;
        a = net->layers[pp_start - 1].output;
        width = (size_t)net->layers[pp_start - 1].outputs;
    }
    for (int i = 0; i < m; i++) {
        double s = 0;
        for (size_t j = 0; j < width; j++)
            s += (double)a[i * width + j] * a[i * width + j];
        norm[i] = sqrt(s);
    }
    return P4_OK;
}

int p4_leakage_partition_view(p4_model *model, p4_protected *prot, int pp_start, const float *x,
                              const int *y, int n, int queries, double query_noise, p4_rng *rng,
                              double *label, double *label_noise, double *activation_norm,
                              p4_error *err)
{
    if (!model || !prot || !x || !y || n < 1 || pp_start < 0 || queries < 0 ||
        !(query_noise >= 0) || (label_noise && queries > 0 && !rng))
        return p4_error_set(err, P4_EINVAL, "leakage: bad arguments to the partition view");
    size_t inputs = (size_t)p4_model_input_size(model);
    int *top1 = malloc((size_t)n * sizeof *top1);
    float *noisy = label_noise && queries > 0 ? malloc((size_t)n * inputs * sizeof *noisy) : NULL;
    if (!top1 || (label_noise && queries > 0 && !noisy)) {
        free(top1);
        free(noisy);
        return p4_error_set(err, P4_ENOMEM, "leakage: out of memory");
    }
    int rc = P4_OK;
    if (label) {
        rc = p4_protected_predict(prot, x, n, top1, err);
        for (int i = 0; rc == P4_OK && i < n; i++)
            label[i] = top1[i] == y[i];
    }
    if (label_noise) {
        for (int i = 0; i < n; i++)
            label_noise[i] = 0;
        for (int q = 0; rc == P4_OK && q < queries; q++) {
            for (size_t j = 0; j < (size_t)n * inputs; j++) {
                double v = x[j] + query_noise * p4_rng_gaussian(rng);
                noisy[j] = (float)(v < 0 ? 0 : v > 1 ? 1 : v);
            }
            rc = p4_protected_predict(prot, noisy, n, top1, err);
            for (int i = 0; rc == P4_OK && i < n; i++)
                label_noise[i] += (top1[i] == y[i]) / (double)queries;
        }
    }
    int capacity = p4_model_capacity(model);
    for (int first = 0; activation_norm && rc == P4_OK && first < n; first += capacity) {
        int m = n - first < capacity ? n - first : capacity;
        rc = activation_norms(model, pp_start, x + (size_t)first * inputs, m,
                              activation_norm + first);
        if (rc != P4_OK)
            p4_error_set(err, rc, "leakage: the normal world's forward pass failed");
    }
    free(top1);
    free(noisy);
    return rc;
}

/* The output layer by default: the last layer before the softmax. */
static int partition_start(const p4_leakage_options *o, p4_which_model which, int layers)
{
    int asked = which == P4_MODEL_PRIVATE ? o->pp_start : o->proxy_pp_start;
    return asked >= 0 ? asked : layers - 2;
}

/* Setting (b): the model's top moved into an optee TA of the harness. */
static int partitioned_scores(leakage *l, p4_model *model, p4_leakage_target *t,
                              double *label, double *label_noise, double *act, p4_error *err)
{
    char storage[P4_PATH_MAX + 32];
    snprintf(storage, sizeof storage, "%s/%s.optee", l->state_dir, t->name);
    p4_enclave_optee_options eo = {
        .seeded = 0, .delta = l->cfg.delta > 0 ? l->cfg.delta : 1e-5,
        .target_epsilon = 1.0,  /* inference charges nothing */
        .pp_start = t->pp_start, .pp_end = t->pp_end,
        .ta_memory_mib = l->cfg.tee_ta_memory_mib, .storage_dir = storage,
        .ta_dir = l->opt->ta_dir };
    p4_enclave *ta = NULL;
    p4_protected *prot = NULL;
    int rc = mkdir(storage, 0700) == 0 || errno == EEXIST
           ? P4_OK : p4_error_set(err, P4_EIO, "leakage: cannot make %s: %s", storage,
                                  strerror(errno));
    if (rc == P4_OK)
        rc = p4_enclave_open_optee(&ta, &eo, err);
    if (rc == P4_OK)
        rc = p4_protected_new(&prot, model, ta, err);
    if (rc == P4_OK)
        rc = p4_leakage_partition_view(model, prot, t->pp_start, l->x, l->y, l->n,
                                       l->opt->queries, l->opt->query_noise, &l->rng, label,
                                       label_noise, act, err);
    if (rc == P4_OK) {
        uint64_t in;
        p4_enclave_traffic(ta, &in, &t->ta_bytes_out);
        t->ta_queries = (long long)l->n * (1 + l->opt->queries);
    }
    p4_protected_destroy(&prot);
    p4_enclave_close(&ta);
    return rc;
}

static int attack_target(leakage *l, p4_which_model which, p4_leakage_target *t, p4_error *err)
{
    t->name = which == P4_MODEL_PRIVATE ? "private" : "proxy";
    p4_model *model = NULL;
    double *score[P4_LEAK_ATTACKS], *correct = malloc((size_t)l->n * sizeof *correct);
    int rc = correct ? P4_OK : P4_ENOMEM;
    for (int a = 0; a < P4_LEAK_ATTACKS; a++)
        if (!(score[a] = malloc((size_t)l->n * sizeof *score[a])))
            rc = P4_ENOMEM;
    if (rc != P4_OK)
        p4_error_set(err, rc, "leakage: out of memory");
    if (rc == P4_OK)
        rc = load_model(l, which, &model, err);
    if (rc == P4_OK) {
        t->layers = p4_model_network(model)->n;
        t->pp_start = partition_start(l->opt, which, t->layers);
        t->pp_end = t->layers - 1;
        rc = whole_model_scores(l, model, score[P4_LEAK_LOSS], score[P4_LEAK_CONFIDENCE],
                                correct, err);
    }
    if (rc == P4_OK) {
        t->train_accuracy = share_correct(correct, l->member, l->n, 1);
        t->test_accuracy = share_correct(correct, l->member, l->n, 0);
        /* From here the top of `model` lives in the TA only. */
        rc = partitioned_scores(l, model, t, score[P4_LEAK_LABEL], score[P4_LEAK_LABEL_NOISE],
                                score[P4_LEAK_ACTIVATION], err);
    }
    for (int a = 0; rc == P4_OK && a < P4_LEAK_ATTACKS; a++)
        rc = p4_mia_advantage(score[a], l->member, l->n, l->half, &t->attack[a], err);
    if (rc == P4_OK && l->opt->log)
        fprintf(l->opt->log, "leakage: %s model: loss %.3f, label %.3f, label-noise %.3f, "
                "activation %.3f (accuracy %.3f members, %.3f non-members)\n", t->name,
                t->attack[P4_LEAK_LOSS].advantage, t->attack[P4_LEAK_LABEL].advantage,
                t->attack[P4_LEAK_LABEL_NOISE].advantage,
                t->attack[P4_LEAK_ACTIVATION].advantage, t->train_accuracy, t->test_accuracy);
    for (int a = 0; a < P4_LEAK_ATTACKS; a++)
        free(score[a]);
    free(correct);
    p4_model_destroy(&model);
    return rc;
}

int p4_leakage_run(const p4_config *cfg, const p4_leakage_options *opt, p4_leakage_result *r,
                   p4_error *err)
{
    if (!cfg || !opt || !r)
        return p4_error_set(err, P4_EINVAL, "leakage: bad arguments");
    memset(r, 0, sizeof *r);
    if (!(opt->epsilon > 0) || opt->client < 0 || opt->queries < 0 || opt->queries > 1024 ||
        !(opt->query_noise >= 0 && opt->query_noise <= 1))
        return p4_error_set(err, P4_EINVAL, "leakage: epsilon must be > 0, client >= 0, "
                            "queries in [0, 1024] and query noise in [0, 1]");
    double start = p4_now_seconds();
    leakage l = { .cfg = *cfg, .opt = opt };
    l.cfg.seed = opt->seed;
    int rc = p4_method_parse(cfg->method, &l.method) == P4_OK
           ? P4_OK : p4_error_set(err, P4_ECONFIG, "%s: [p4] method '%s' is unknown", cfg->path,
                                  cfg->method);
    if (rc == P4_OK && strcmp(cfg->share, "logits") == 0)
        rc = p4_error_set(err, P4_EUNSUPPORTED, "%s: [p4] share = logits is not covered: the "
                          "leakage study trains the proxy as share = weights does", cfg->path);
    if (rc == P4_OK)
        rc = p4_rng_init_seeded(&l.rng, opt->seed, "leakage-attack");
    if (rc == P4_OK)
        rc = p4_workload_load(&l.cfg, &l.work, err);
    if (rc == P4_OK && opt->client >= l.work->partition->clients)
        rc = p4_error_set(err, P4_EINVAL, "leakage: client %d does not exist (%s has %d)",
                          opt->client, cfg->path, l.work->partition->clients);
    if (rc == P4_OK && opt->random_labels)
        randomise_labels(&l);
    if (rc == P4_OK)
        rc = make_state_dir(&l, err);
    if (rc == P4_OK)
        rc = open_client(&l, err);
    if (rc == P4_OK)
        rc = train(&l, err);
    if (rc == P4_OK)
        rc = pick_examples(&l, err);
    if (rc == P4_OK)
        rc = attack_target(&l, P4_MODEL_PRIVATE, &r->target[0], err);
    if (rc == P4_OK)
        rc = attack_target(&l, P4_MODEL_PROXY, &r->target[1], err);
    if (rc == P4_OK) {
        p4_peer_setup setup = setup_of(&l);
        /* The private model never trains with DP: no guarantee of its own. */
        r->target[0].facts = (p4_dp_run_facts){ .reproducible = opt->reproducible };
        r->target[1].facts = p4_peer_setup_facts(&setup);
        for (int t = 0; t < 2; t++)
            r->target[t].guarantee = p4_dp_guarantee_of(&r->target[t].facts);
        r->members = l.members;
        r->non_members = l.n - l.members;
        r->epsilon = opt->epsilon;
        r->noise_multiplier = l.plan.sigma;
    }
    leakage_close(&l);
    r->seconds = p4_now_seconds() - start;
    return rc;
}
