/* peer.c: one protocol participant set up from a config; see peer.h. */
#include "cluster/peer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/stat.h>

int p4_peer_setup_dp(const p4_peer_setup *s)
{
    return s && !isinf(s->epsilon) && s->method != P4_METHOD_LOCAL;
}

int p4_peer_setup_logits(const p4_peer_setup *s)
{
    return s && strcmp(s->cfg->share, "logits") == 0 && s->method == P4_METHOD_P4;
}

p4_dp_run_facts p4_peer_setup_facts(const p4_peer_setup *s)
{
    p4_dp_run_facts facts = {0};
    if (s == NULL || s->cfg == NULL)
        return facts;
    int dp = p4_peer_setup_dp(s);
    int shares_weights = !p4_peer_setup_logits(s) &&
                         (s->method == P4_METHOD_P4 || p4_method_is_proxyfl(s->method));
    facts = (p4_dp_run_facts){ .dp = dp, .reproducible = s->reproducible,
                               .private_teacher = shares_weights && !s->cfg->strict_dp,
                               .ledger = dp };
    return facts;
}

double p4_peer_sample_rate(const p4_config *cfg, int train_count)
{
    double q = cfg->sample_rate > 0 ? cfg->sample_rate : (double)cfg->batch / train_count;
    return q > 1 ? 1 : q;
}

int p4_peer_plan_budget(const p4_peer_setup *setup, double q, p4_peer_plan *plan, p4_error *err)
{
    if (!setup || !setup->cfg || !plan || !(q > 0 && q <= 1))
        return p4_error_set(err, P4_EINVAL, "peer plan: bad arguments");
    const p4_config *cfg = setup->cfg;
    double eps = setup->epsilon, sigma;
    int rc;
    memset(plan, 0, sizeof *plan);
    plan->q = q;
    if (p4_peer_setup_logits(setup)) {
        /* One release per round of the whole public logits matrix; see
         * p4_client_public_logits for its sensitivity. */
        if ((rc = p4_rdp_calibrate_sigma(eps / 4, cfg->delta, 1.0, cfg->rounds, NULL, 0, 1e-4,
                                         &sigma, err)) != P4_OK)
            return rc;
        plan->logit_sigma = sigma * 2.0 * sqrt((double)setup->public_n);
        plan->phase[plan->nphases++] = (p4_dp_phase){ 1.0, sigma, cfg->rounds };
    }
    if (setup->method == P4_METHOD_P4 && cfg->warmup_epochs > 0) {
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

int p4_peer_frozen_layers(const p4_config *cfg)
{
    int projection = p4_peer_projection_layers(cfg);
    return cfg->proxy_frozen_layers > projection ? cfg->proxy_frozen_layers : projection;
}

void p4_peer_client_spec(const p4_peer_setup *setup, int k, const p4_dataset *train,
                         const int *train_idx, int train_count, p4_client_spec *spec)
{
    const p4_config *cfg = setup->cfg;
    const p4_client_split *split = &setup->work->partition->split[k];
    *spec = (p4_client_spec){
        .id = k, .train = train, .test = setup->work->test,
        .train_idx = train_idx, .train_count = train_count,
        .test_idx = split->test, .test_count = split->test_count,
        .private_cfg = cfg->model_cfg, .proxy_cfg = cfg->proxy_cfg[0] ? cfg->proxy_cfg : cfg->model_cfg,
        .shape = { train->width, train->height, train->channels, train->classes },
        .batch = cfg->batch, .learning_rate = cfg->learning_rate, .momentum = cfg->momentum,
        .proxy_learning_rate = cfg->proxy_learning_rate,
        .weight_decay = cfg->weight_decay, .seed = cfg->seed, .dp = p4_peer_setup_dp(setup),
        .kd_alpha = setup->method == P4_METHOD_PROXYFL ? P4_PROXYFL_KD_ALPHA : cfg->kd_alpha,
        .kd_temperature = cfg->kd_temperature,
        .strict_dp = cfg->strict_dp,
        .separate_batches = strcmp(cfg->cotrain_batches, "separate") == 0,
        .warmup_head_only = strcmp(cfg->warmup_layers, "last") == 0,
        .frozen_layers = p4_peer_frozen_layers(cfg),
        .augmentations = cfg->augmentations,
        .seeded_sampling = setup->reproducible,
        .dp_params = { p4_peer_sample_rate(cfg, train_count), 0.0, cfg->clip_norm },
        .model_pool = setup->model_pool,
    };
}

/* The client's enclave: software, or an OP-TEE TA whose ledger (in
 * state_dir/client-NNN.optee, the harness's secure storage) holds the same
 * target; its releases come out of the TA noised and charged. */
static int peer_enclave_open(p4_peer *peer, const p4_peer_setup *setup, int k, p4_error *err)
{
    const p4_config *cfg = setup->cfg;
    uint64_t seed = cfg->seed * 7919u + (uint64_t)k;
    if (strcmp(cfg->tee_backend, "optee") != 0) {
        int rc = p4_enclave_open_software(&peer->enclave, setup->reproducible, seed, err);
        return rc == P4_OK ? p4_enclave_set_noise_layout(peer->enclave, cfg->noise_layout, err)
                           : rc;
    }
    char storage[P4_PATH_MAX + 32];
    snprintf(storage, sizeof storage, "%s/client-%03d.optee", setup->state_dir, k);
    if (mkdir(storage, 0700) != 0 && errno != EEXIST)
        return p4_error_set(err, P4_EIO, "cannot make the TA storage folder %s: %s", storage,
                            strerror(errno));
    p4_enclave_optee_options o = { .seeded = setup->reproducible, .seed = seed,
                                   .delta = cfg->delta, .target_epsilon = setup->epsilon,
                                   .pp_start = cfg->tee_pp_start, .pp_end = cfg->tee_pp_end,
                                   .ta_memory_mib = cfg->tee_ta_memory_mib, .storage_dir = storage,
                                   /* logits mode: the protected layers never leave the TA */
                                   .layers_stay = p4_peer_setup_logits(setup) };
    int rc = p4_enclave_open_optee(&peer->enclave, &o, err);
    /* Seeded, the TA draws in the layout the software backend would. */
    return rc == P4_OK ? p4_enclave_set_noise_layout(peer->enclave, cfg->noise_layout, err) : rc;
}

/* What is left of the plan after rounds_done rounds: the remaining logits
 * releases and co-training steps (the warm-up is done). */
static int remaining_phases(const p4_peer_setup *setup, const p4_peer_plan *plan,
                            p4_dp_phase *out)
{
    const p4_config *cfg = setup->cfg;
    int left = cfg->rounds - setup->rounds_done, n = 0;
    if (left <= 0)
        return 0;
    if (p4_peer_setup_logits(setup))
        out[n++] = (p4_dp_phase){ plan->phase[0].sample_rate, plan->phase[0].noise_multiplier, left };
    out[n++] = (p4_dp_phase){ plan->q, plan->sigma,
                              (long long)left * cfg->local_epochs * p4_dpsgd_steps_per_epoch(plan->q) };
    return n;
}

/* A resumed run: the rest of the plan at the planned noise when the ledger
 * can pay for it (a node stopped between rounds: the run goes on exactly as
 * it would have); otherwise the co-training noise recalibrated over what
 * the ledger holds. */
static int resume_plan(const p4_peer_setup *setup, p4_ledger *ledger, p4_peer_plan *plan,
                       p4_error *err)
{
    p4_dp_phase rest[2], *prior = NULL;
    int nrest = remaining_phases(setup, plan, rest), nprior = 0;
    if (nrest == 0)
        return P4_OK;
    p4_error why = {0};
    int rc = p4_ledger_check_plan(ledger, rest, nrest, NULL, &why);
    if (rc != P4_EBUDGET) {
        if (rc != P4_OK && err)
            *err = why;
        return rc;
    }
    if ((rc = p4_ledger_phases(ledger, 1, &prior, &nprior, err)) != P4_OK)
        return rc;
    if (nrest == 2)
        prior[nprior++] = rest[0]; /* the logits releases still to come */
    p4_dp_phase *cotrain = &rest[nrest - 1];
    double sigma;
    rc = p4_rdp_calibrate_sigma(setup->epsilon, setup->cfg->delta, cotrain->sample_rate,
                                cotrain->steps, prior, nprior, 1e-4, &sigma, err);
    free(prior);
    if (rc != P4_OK)
        return p4_error_set(err, rc, "cannot resume: the ledger holds %s, and no noise lets the "
                            "%lld co-training steps left fit the target epsilon %g", why.message,
                            cotrain->steps, setup->epsilon);
    plan->sigma = cotrain->noise_multiplier = sigma;
    plan->phase[plan->nphases - 1].noise_multiplier = sigma;
    plan->recalibrated = 1;
    return p4_ledger_check_plan(ledger, rest, nrest, NULL, err);
}

/* Logits mode with protected layers: the grouping's slice of the proxy
 * ([p4] distance_layers) must lie in the normal world's layers, since the
 * protected ones never leave the TA (they read as zeros). */
static int grouping_outside_tee(const p4_peer_setup *setup, const p4_client *client,
                                p4_error *err)
{
    const p4_config *cfg = setup->cfg;
    size_t offset, length, size = p4_client_proxy_size(client);
    size_t inside = p4_client_protected_floats(client);
    int rc = p4_peer_distance_range(cfg, client, setup->work->train->classes, &offset, &length,
                                    err);
    if (rc != P4_OK || setup->method != P4_METHOD_P4 || offset + length <= size - inside)
        return rc;
    return p4_error_set(err, P4_EUNSUPPORTED, "%s: [p4] distance_layers = %s reads the proxy's "
                        "protected layers ([tee] pp_start = %d), which stay in the TA with "
                        "share = logits; group on a normal-world layer (distance_layers = first) "
                        "or protect fewer layers (docs/tee.md, \"Nodes\")", cfg->path,
                        cfg->distance_layers, cfg->tee_pp_start);
}

int p4_peer_open(p4_peer *peer, const p4_peer_setup *setup, int k, p4_peer_plan *plan,
                 p4_error *err)
{
    if (!peer || !setup || !setup->cfg || !setup->work || !plan)
        return p4_error_set(err, P4_EINVAL, "peer open: bad arguments");
    memset(peer, 0, sizeof *peer);
    peer->id = k;
    const p4_config *cfg = setup->cfg;
    const p4_workload *work = setup->work;
    if (k < 0 || k >= work->partition->clients)
        return p4_error_set(err, P4_EINVAL, "%s: there is no client %d (the config has %d)",
                            cfg->path, k, work->partition->clients);
    const p4_client_split *split = &work->partition->split[k];
    int dp = p4_peer_setup_dp(setup);
    int rc = P4_OK;
    if (setup->is_attacker && setup->is_attacker[k] &&
        (rc = p4_attack_parse(cfg->attack_kind, &peer->attack)) != P4_OK)
        return p4_error_set(err, rc, "%s: [attack] kind %s", cfg->path, cfg->attack_kind);
    peer->attack_strength = cfg->attack_strength;
    peer->lie_target = -1;
    if (setup->is_attacker && setup->is_attacker[k] &&
        (rc = p4_grouping_lie_parse(cfg->grouping_lie, &peer->grouping_lie)) != P4_OK)
        return p4_error_set(err, rc, "%s: [attack] grouping_lie %s", cfg->path, cfg->grouping_lie);
    if (peer->grouping_lie != P4_GROUPING_LIE_NONE &&
        (rc = p4_attack_choose_target(cfg, work->partition->clients, setup->is_attacker,
                                      &peer->lie_target, err)) != P4_OK)
        return rc;
    peer->lie_noise = cfg->lie_noise;
    const p4_dataset *train = work->train;
    if (peer->attack == P4_ATTACK_LABELFLIP) {
        /* The attacker trains on y -> C - 1 - y: a view of the training set
         * with its own labels and the same pixels. */
        peer->flipped = malloc(sizeof *peer->flipped);
        uint16_t *labels = malloc((size_t)train->count * sizeof *labels);
        if (!peer->flipped || !labels) {
            free(labels);
            p4_peer_close(peer);
            return p4_error_set(err, P4_ENOMEM, "out of memory for a label-flipped view");
        }
        *peer->flipped = *train;
        for (int i = 0; i < train->count; i++)
            labels[i] = (uint16_t)(train->classes - 1 - train->labels[i]);
        peer->flipped->labels = labels;
        train = peer->flipped;
    }
    p4_client_spec spec;
    p4_peer_client_spec(setup, k, train, split->train, split->train_count, &spec);
    if (split->train_count < 1)
        return p4_error_set(err, P4_ECONFIG, "%s: client %d has no training examples", cfg->path, k);
    double q = spec.dp_params.sample_rate;
    if (dp) {
        char path[P4_PATH_MAX + 32];
        snprintf(path, sizeof path, "%s/client-%03d.db", setup->state_dir, k);
        rc = p4_ledger_open(path, setup->epsilon, cfg->delta, &peer->ledger, err);
        if (rc == P4_OK)
            rc = peer_enclave_open(peer, setup, k, err);
        if (rc == P4_OK && plan->q != q)
            rc = p4_peer_plan_budget(setup, q, plan, err);
        if (rc != P4_OK) {
            p4_peer_close(peer);
            return rc;
        }
        spec.warmup_params = plan->warmup;
        spec.ledger = peer->ledger;
        spec.enclave = peer->enclave;
        /* Refuse to start a run this ledger cannot pay for in full. */
        rc = setup->resuming ? resume_plan(setup, peer->ledger, plan, err)
                             : p4_ledger_check_plan(peer->ledger, plan->phase, plan->nphases, NULL, err);
        if (rc == P4_OK)
            spec.dp_params.noise_multiplier = plan->sigma;
        if (rc != P4_OK) {
            p4_peer_close(peer);
            return rc;
        }
    }
    rc = p4_peer_client_new(setup, &spec, &peer->client, err);
    if (rc == P4_OK && p4_client_protected_floats(peer->client) && p4_peer_setup_logits(setup))
        rc = grouping_outside_tee(setup, peer->client, err);
    if (rc != P4_OK)
        p4_peer_close(peer);
    return rc;
}

int p4_peer_client_new(const p4_peer_setup *setup, const p4_client_spec *spec, p4_client **out,
                       p4_error *err)
{
    if (!setup || !spec || !out)
        return p4_error_set(err, P4_EINVAL, "peer client: bad arguments");
    int rc = p4_client_new(out, spec, err);
    if (rc == P4_OK)
        rc = p4_peer_install_projection(setup, *out, err);
    if (rc == P4_OK)
        rc = p4_peer_install_pretrained(setup, *out, err);
    if (rc != P4_OK)
        p4_client_destroy(out);
    return rc;
}

int p4_peer_reads_public_set(const p4_config *cfg)
{
    if (!cfg)
        return 0;
    int projection = p4_peer_projection_layers(cfg);
    return strcmp(cfg->share, "logits") == 0 || projection == 1 || projection == 3 ||
           strcmp(cfg->proxy_init, "random") != 0 || strcmp(cfg->private_init, "random") != 0;
}

void p4_peer_close(p4_peer *peer)
{
    if (!peer)
        return;
    p4_client_destroy(&peer->client);
    p4_ledger_close(&peer->ledger);
    p4_enclave_close(&peer->enclave);
    if (peer->flipped) {
        free(peer->flipped->labels); /* the pixels belong to the workload */
        free(peer->flipped);
        peer->flipped = NULL;
    }
}

int p4_public_set_indices(const p4_config *cfg, const p4_workload *work, int count,
                          int **indices, p4_error *err)
{
    if (!cfg || !work || count < 1 || !indices)
        return p4_error_set(err, P4_EINVAL, "public set: bad arguments");
    const p4_dataset *train = work->train;
    unsigned char *used = calloc((size_t)train->count, 1);
    int *chosen = malloc((size_t)count * sizeof(int));
    if (!used || !chosen) {
        free(used); free(chosen);
        return p4_error_set(err, P4_ENOMEM, "out of memory for the public set");
    }
    for (int k = 0; k < work->partition->clients; k++)
        for (int j = 0; j < work->partition->split[k].train_count; j++)
            used[work->partition->split[k].train[j]] = 1;
    int got = 0;
    for (int i = 0; i < train->count && got < count; i++)
        if (!used[i])
            chosen[got++] = i;
    free(used);
    if (got < count) {
        free(chosen);
        return p4_error_set(err, P4_ECONFIG, "%s: the public set needs %d examples that no "
                            "client holds; only %d are left ([p4] public_count)", cfg->path,
                            count, got);
    }
    *indices = chosen;
    return P4_OK;
}

int p4_public_set_pick(const p4_config *cfg, const p4_workload *work, int count, float **x,
                       p4_error *err)
{
    if (!x)
        return p4_error_set(err, P4_EINVAL, "public set: bad arguments");
    int *chosen = NULL;
    int rc = p4_public_set_indices(cfg, work, count, &chosen, err);
    if (rc != P4_OK)
        return rc;
    const p4_dataset *train = work->train;
    *x = malloc((size_t)count * p4_dataset_example_size(train) * sizeof(float));
    rc = *x ? P4_OK : p4_error_set(err, P4_ENOMEM, "out of memory for the public set");
    if (rc == P4_OK && (rc = p4_dataset_batch(train, chosen, count, *x, NULL)) != P4_OK) {
        p4_error_set(err, rc, "%s: cannot load the public set", cfg->path);
        free(*x);
        *x = NULL;
    }
    free(chosen);
    return rc;
}

int p4_peer_distance_range(const p4_config *cfg, const p4_client *client, int classes,
                           size_t *offset, size_t *length, p4_error *err)
{
    if (!cfg || !client || !offset || !length)
        return p4_error_set(err, P4_EINVAL, "distance range: bad arguments");
    const char *which = cfg->distance_layers;
    size_t size = p4_client_proxy_size(client);
    if (strcmp(which, "all") == 0) {
        *offset = 0;
        *length = size;
        return P4_OK;
    }
    if (strcmp(which, "output-bias") == 0) {
        /* Weights come before biases in the flat vector, so the output
         * layer's biases are its last `classes` floats. */
        *length = (size_t)classes;
        *offset = size - *length;
        return P4_OK;
    }
    if (strcmp(which, "first") == 0)
        return p4_client_proxy_layer(client, 0, offset, length);
    int k = 0;
    size_t o, l;
    while (p4_client_proxy_layer(client, k, &o, &l) == P4_OK) {
        *offset = o;
        *length = l;
        k++;
    }
    return k > 0 ? P4_OK : p4_error_set(err, P4_EMODEL, "the proxy has no parametrised layer");
}
