/* node.c: one networked peer; see node.h. */
#include "p4node/node.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/handshake.h"
#include "cluster/identity.h"
#include "cluster/membership.h"
#include "cluster/method.h"
#include "cluster/peer.h"
#include "cluster/protocol.h"
#include "cluster/transport_zmq.h"
#include "common/progress.h"
#include "datasets/workload.h"
#include "dp/ledger.h"
#include "model/gemm.h"
#include "p4node/private_model.h"
#include "tee/cca/settings.h"
#include "p4node/node_checkpoint.h"

int p4_node_ledger_path(const char *state_dir, int client, char *out, size_t size, p4_error *err)
{
    if (state_dir == NULL || out == NULL || client < 0)
        return p4_error_set(err, P4_EINVAL, "p4_node_ledger_path: bad arguments");
    /* the name cluster/peer.c gives client k's ledger */
    if (snprintf(out, size, "%s/client-%03d.db", state_dir, client) >= (int)size)
        return p4_error_set(err, P4_EINVAL, "state folder path too long: %s", state_dir);
    return P4_OK;
}

int p4_node_check_config(const p4_config *cfg, p4_error *err)
{
    if (cfg == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_node_check_config: no config");
    const char *file = cfg->path[0] ? cfg->path : "config";
    const char *missing = cfg->node_id < 0          ? "id"
                        : cfg->node_listen[0] == '\0' ? "listen"
                        : cfg->node_state[0] == '\0'  ? "state"
                                                      : NULL;
    if (missing)
        return p4_error_set(err, P4_ECONFIG, "%s: missing required key '%s' in [node] "
                            "(p4 node needs id, listen, peers and state; see docs/node.md)",
                            file, missing);
    int clients = cfg->partition.clients;
    /* Every other member must be admissible: listed in peers, its key in
     * allow, or vouched for by a bootstrap peer (trust_bootstrap). */
    char absent[256] = "";
    size_t used = 0;
    int count = 0;
    for (int k = 0; k < clients; k++) {
        int listed = k == cfg->node_id;
        for (int i = 0; i < cfg->node_peer_count && !listed; i++)
            listed = cfg->node_peers[i].id == k;
        if (listed)
            continue;
        count++;
        if (used < sizeof absent - 16)
            used += (size_t)snprintf(absent + used, sizeof absent - used, "%s%d", used ? ", " : "", k);
    }
    if (count == 0)
        return P4_OK; /* static membership */
    if (cfg->node_advertise[0] == '\0' && strstr(cfg->node_listen, "//0.0.0.0:"))
        return p4_error_set(err, P4_ECONFIG, "%s: [node] listen = %s: joining through a "
                            "bootstrap peer tells the others where to reach this node: set "
                            "[node] advertise to that address", file, cfg->node_listen);
    if (cfg->node_peer_count == 0 && cfg->node_allow_count == 0)
        return p4_error_set(err, P4_ECONFIG, "%s: [node] peers is empty: list every other member "
                            "as ID@ENDPOINT@KEY, or at least one bootstrap peer", file);
    if (cfg->node_trust_bootstrap) {
        if (cfg->node_peer_count == 0)
            return p4_error_set(err, P4_ECONFIG, "%s: [node] trust_bootstrap needs a bootstrap "
                                "peer in peers", file);
        return P4_OK;
    }
    /* Keys in allow that are not some listed peer's: at most one per missing member. */
    int extra = 0;
    for (int a = 0; a < cfg->node_allow_count; a++) {
        int dup = 0;
        for (int i = 0; i < cfg->node_peer_count && !dup; i++)
            dup = strcmp(cfg->node_allow[a], cfg->node_peers[i].key) == 0;
        for (int b = 0; b < a && !dup; b++)
            dup = strcmp(cfg->node_allow[a], cfg->node_allow[b]) == 0;
        extra += !dup;
    }
    if (extra < count)
        return p4_error_set(err, P4_ECONFIG, "%s: [node] peers: %d of the %d clients missing "
                            "(%s) and [node] allow has %d other key(s): every other member must "
                            "be listed as ID@ENDPOINT@KEY, or its key be in allow (to join "
                            "through a bootstrap peer), or set trust_bootstrap", file, count,
                            clients, absent, extra);
    return P4_OK;
}

/* ---- the run --------------------------------------------------------------- */

typedef struct node {
    const p4_node_options *opt;
    const p4_config *cfg;
    p4_node_record *rec;
    p4_node_state *state;
    p4_workload *work;
    p4_peer_setup setup;
    p4_peer_plan plan;
    p4_peer peer;
    float *public_x;
    p4_public_cache public_cache; /* public-set projection and pretraining, computed once */
    unsigned char *attacker;     /* per client, from [attack] and the seed */
    p4_transport *transport;
    p4_membership *members;
    /* [tee] backend = cca: this node's token source and the peers' policy */
    p4_cca_evidence *evidence;
    p4_cca_verifier *verifier;
    uint8_t (*member_keys)[32];  /* every member's public key, by id      */
    p4_handshake_spec handshake;
    p4_handshake_stats handshake_stats;
    p4_node_checkpoint resume;   /* what a restart resumes from           */
    int resuming;
    double last_accuracy;        /* of the round just done                */
    char *peers;                 /* known peers, for the checkpoint        */
} node;

static double spent(const node *n)
{
    double eps = 0;
    if (n->peer.ledger)
        p4_ledger_spent(n->peer.ledger, &eps, NULL);
    return eps;
}

/* protocol hook: each finished round goes to the log; its row in node.db
 * is written with the checkpoint that follows. */
static void round_done(void *user, int self, int round, double accuracy)
{
    node *n = user;
    double eps = spent(n);
    n->last_accuracy = accuracy;
    n->rec->round_reached = round + 1;
    if (n->opt->log) {
        fprintf(n->opt->log, "p4 node %d: round %d/%d: accuracy %.4f, epsilon %.3f\n", self,
                round + 1, n->cfg->rounds, accuracy, eps);
        fflush(n->opt->log);
    }
}

/* protocol hook: the state a restart resumes from, after the grouping and
 * after each round, with that round's row (one transaction), and the own
 * proxy a divergence in the round resumed would go back to. */
static int save_checkpoint(void *user, int self, int next_round, const p4_protocol_result *so_far,
                           const float *own_proxy, p4_error *err)
{
    node *n = user;
    const p4_node_record *r = n->rec;
    p4_node_checkpoint ck = {
        .epoch = r->epoch, .client = self, .clients = r->clients, .rounds = r->rounds,
        .seed = n->cfg->seed, .reproducible = n->opt->reproducible, .next_round = next_round,
        .group_of = so_far->group_of, .ngroups = so_far->ngroups,
        .proxy_reverts = so_far->proxy_reverts, .krum_fallbacks = so_far->krum_fallbacks,
        .krum_smallest = so_far->krum_smallest,
        .accuracy = next_round > 0 ? n->last_accuracy : NAN, .epsilon = spent(n),
        .peers = n->peers, .own_proxy = (float *)own_proxy,
    };
    snprintf(ck.method, sizeof ck.method, "%s", r->method);
    int rc = n->peer.ledger ? p4_ledger_total_steps(n->peer.ledger, &ck.ledger_steps, err) : P4_OK;
    if (rc == P4_OK)
        rc = p4_client_save_at(n->peer.client, next_round, &ck.state, err);
    /* The seeded stream's position: the software backend's generator, an
     * optee TA's key, layout and byte position (with protected layers the
     * TA's snapshot under next_round holds the same position too). */
    if (rc == P4_OK && n->opt->reproducible && n->peer.enclave &&
        (rc = p4_enclave_save_seeded_noise(n->peer.enclave, ck.noise, sizeof ck.noise, err)) == P4_OK)
        ck.has_noise = 1;
    if (rc == P4_OK)
        rc = p4_node_checkpoint_save(n->state, &ck, err);
    p4_client_state_free(&ck.state);
    if (rc == P4_OK && n->opt->after_checkpoint)
        n->opt->after_checkpoint(n->opt->user, next_round);
    return rc;
}

/* "ID@ENDPOINT@KEY" a line: the members this node knows. */
static int list_peers(node *n, p4_error *err)
{
    const p4_config *cfg = n->cfg;
    size_t size = 1;
    for (int i = 0; i < cfg->node_peer_count; i++)
        size += strlen(cfg->node_peers[i].endpoint) + strlen(cfg->node_peers[i].key) + 16;
    if (!(n->peers = malloc(size)))
        return p4_error_set(err, P4_ENOMEM, "out of memory");
    size_t used = 0;
    n->peers[0] = '\0';
    for (int i = 0; i < cfg->node_peer_count; i++)
        used += (size_t)snprintf(n->peers + used, size - used, "%d@%s@%s\n", cfg->node_peers[i].id,
                                 cfg->node_peers[i].endpoint, cfg->node_peers[i].key);
    return P4_OK;
}

/* The state folder's checkpoint, if any, and whether it belongs to this run. */
static int find_checkpoint(node *n, p4_method method, p4_error *err)
{
    int found = 0;
    int rc = p4_node_checkpoint_load(n->state, &n->resume, &found, err);
    if (rc != P4_OK || !found)
        return rc;
    const p4_node_checkpoint *ck = &n->resume;
    const p4_config *cfg = n->cfg;
    if (ck->client != cfg->node_id || ck->clients != cfg->partition.clients ||
        ck->rounds != cfg->rounds || strcmp(ck->method, p4_method_name(method)) != 0 ||
        ck->seed != cfg->seed)
        return p4_error_set(err, P4_ESTATE, "%s: node.db holds a checkpoint of another run "
                            "(client %d of %d, %s, %d rounds, seed %llu) than this config's "
                            "(client %d of %d, %s, %d rounds, seed %llu): resume with the config "
                            "it was made with, or start afresh in another state folder",
                            cfg->node_state, ck->client, ck->clients, ck->method, ck->rounds,
                            (unsigned long long)ck->seed, cfg->node_id, cfg->partition.clients,
                            p4_method_name(method), cfg->rounds, (unsigned long long)cfg->seed);
    if (ck->reproducible != (n->opt->reproducible != 0))
        return p4_error_set(err, P4_ESTATE, "%s: the checkpoint is of a run %s --reproducible; "
                            "resume it the same way", cfg->node_state,
                            ck->reproducible ? "with" : "without");
    n->resuming = 1;
    return P4_OK;
}

/* A resumed peer: the checkpoint's models, momentum and seeded streams. */
static int restore_peer(node *n, p4_error *err)
{
    const p4_node_checkpoint *ck = &n->resume;
    /* With protected layers the TA puts back its snapshot of this round. */
    int rc = p4_client_restore_at(n->peer.client, &ck->state, ck->next_round, err);
    if (rc == P4_OK && ck->has_noise && n->peer.enclave)
        rc = p4_enclave_restore_seeded_noise(n->peer.enclave, ck->noise, sizeof ck->noise, err);
    long long steps = 0;
    if (rc == P4_OK && n->peer.ledger)
        rc = p4_ledger_total_steps(n->peer.ledger, &steps, err);
    if (rc == P4_OK)
        rc = p4_node_state_resumed(n->state, n->rec->epoch, ck->next_round, err);
    if (rc == P4_OK && n->opt->log) {
        fprintf(n->opt->log, "p4 node %d (epoch %u): resuming from the checkpoint of epoch %u at "
                "round %d/%d; the ledger holds %lld DP steps, %lld at the checkpoint", n->cfg->node_id,
                n->rec->epoch, ck->epoch, ck->next_round + 1, n->cfg->rounds, steps,
                ck->ledger_steps);
        if (n->plan.recalibrated)
            fprintf(n->opt->log, " (the cut-short round's stay counted: co-training noise "
                    "recalibrated to %.6f for the rounds left)", n->plan.sigma);
        fputc('\n', n->opt->log);
        fflush(n->opt->log);
    }
    n->rec->round_reached = ck->next_round;
    n->rec->resumed_round = ck->next_round;
    return rc;
}

/* The allowlist (the keys of [node] peers and allow), the transport, and
 * the membership that starts from the listed peers. */
static int start_transport(node *n, const p4_identity *identity, p4_error *err)
{
    const p4_config *cfg = n->cfg;
    size_t nkeys = (size_t)cfg->node_peer_count + (size_t)cfg->node_allow_count;
    uint8_t(*keys)[P4_KEY_BYTES] = calloc(nkeys + 1, sizeof *keys);
    if (!keys)
        return p4_error_set(err, P4_ENOMEM, "out of memory for peer keys");
    int rc = P4_OK;
    for (int i = 0; i < cfg->node_peer_count && rc == P4_OK; i++) {
        p4_error why = {0};
        if (p4_key_from_z85(cfg->node_peers[i].key, keys[i], &why) != P4_OK)
            rc = p4_error_set(err, P4_ECONFIG, "%s: [node] peers: peer %d's key: %s", cfg->path,
                              cfg->node_peers[i].id, why.message);
    }
    for (int a = 0; a < cfg->node_allow_count && rc == P4_OK; a++) {
        p4_error why = {0};
        if (p4_key_from_z85(cfg->node_allow[a], keys[cfg->node_peer_count + a], &why) != P4_OK)
            rc = p4_error_set(err, P4_ECONFIG, "%s: [node] allow: key %d: %s", cfg->path, a + 1,
                              why.message);
    }
    p4_zmq_transport_options o = { .id = cfg->node_id, .listen = cfg->node_listen,
                                   .identity = identity, .allow = (const uint8_t(*)[32])keys,
                                   .allow_count = nkeys, .log = n->opt->log };
    if (rc == P4_OK)
        rc = p4_zmq_transport_new(&n->transport, &o, err);
    uint8_t digest[32];
    if (rc == P4_OK)
        rc = p4_membership_config_digest(cfg, digest, err);
    if (rc == P4_OK) {
        p4_membership_options mo = {
            .self = cfg->node_id, .clients = cfg->partition.clients,
            .endpoint = cfg->node_advertise[0] ? cfg->node_advertise
                                               : p4_zmq_transport_endpoint(n->transport),
            .public_key = identity->public_key, .config_digest = digest,
            .transport = n->transport, .allow = p4_zmq_transport_allow,
            .redial = p4_zmq_transport_redial,
            .admitted = (const uint8_t(*)[32])keys, .admitted_count = nkeys,
            .trust_bootstrap = cfg->node_trust_bootstrap, .heartbeat = cfg->node_heartbeat,
            .dead_after = cfg->node_dead_after, .join_timeout = cfg->node_timeout,
            .log = n->opt->log };
        rc = p4_membership_new(&n->members, &mo, err);
    }
    for (int i = 0; i < cfg->node_peer_count && rc == P4_OK; i++)
        rc = p4_membership_add_listed(n->members, cfg->node_peers[i].id,
                                      cfg->node_peers[i].endpoint, keys[i], err);
    free(keys);
    return rc;
}

/* [tee] backend = cca: the policy peers' tokens must pass, where this
 * node's own token comes from, and the handshake that gates admission. */
static int start_attestation(node *n, const p4_identity *identity, p4_error *err)
{
    const p4_config *cfg = n->cfg;
    p4_admission *admission = p4_zmq_transport_admission(n->transport);
    if (strcmp(cfg->tee_backend, "cca") != 0) {
        if (n->opt->log)
            fprintf(n->opt->log, "p4 node %d: admission: %s (backend %s)\n", cfg->node_id,
                    p4_admission_describe(admission), cfg->tee_backend);
        return P4_OK;
    }
    if (cfg->node_peer_count != cfg->partition.clients - 1)
        return p4_error_set(err, P4_ECONFIG, "%s: [tee] backend = cca needs every other member "
                            "in [node] peers (%d of %d listed): attestation of members learned "
                            "while joining is not built", cfg->path, cfg->node_peer_count,
                            cfg->partition.clients - 1);
    p4_cca_settings s;
    p4_cca_settings_defaults(&s);
    p4_error why = {0};
    int rc = p4_cca_settings_set(&s, "backend", "cca", NULL, &why);
    if (rc == P4_OK)
        rc = p4_cca_settings_set(&s, "cpak", cfg->tee_cpak, NULL, &why);
    const struct { const char *key; const p4_hex_list *list; } lists[] = {
        {"realm_initial_measurement", &cfg->tee_rim},
        {"realm_personalization_value", &cfg->tee_personalization},
        {"platform_sw_component", &cfg->tee_sw_components}};
    for (size_t l = 0; l < 3 && rc == P4_OK; l++)
        for (int i = 0; i < lists[l].list->count && rc == P4_OK; i++)
            rc = p4_cca_settings_set(&s, lists[l].key, lists[l].list->items[i], NULL, &why);
    if (rc == P4_OK)
        rc = p4_cca_settings_set(&s, "evidence", cfg->tee_evidence, NULL, &why);
    if (rc == P4_OK && cfg->tee_tsm_root[0])
        rc = p4_cca_settings_set(&s, "tsm_root", cfg->tee_tsm_root, NULL, &why);
    if (rc == P4_OK && cfg->tee_evidence_command[0])
        rc = p4_cca_settings_set(&s, "evidence_command", cfg->tee_evidence_command, NULL, &why);
    if (rc == P4_OK)
        rc = p4_cca_verifier_new(&n->verifier, &s, &why);
    if (rc == P4_OK)
        rc = p4_cca_settings_evidence(&s, &n->evidence, &why);
    if (rc != P4_OK)
        return p4_error_set(err, rc, "%s: [tee]: %s", cfg->path, why.message);
    if ((rc = p4_admission_require_attestation(admission, "CCA attestation", err)) != P4_OK)
        return rc;
    int clients = cfg->partition.clients;
    if (!(n->member_keys = calloc((size_t)clients, sizeof *n->member_keys)))
        return p4_error_set(err, P4_ENOMEM, "out of memory for member keys");
    memcpy(n->member_keys[cfg->node_id], identity->public_key, 32);
    for (int i = 0; i < cfg->node_peer_count && rc == P4_OK; i++)
        rc = p4_key_from_z85(cfg->node_peers[i].key, n->member_keys[cfg->node_peers[i].id], err);
    n->handshake = (p4_handshake_spec){ .self = cfg->node_id, .clients = clients,
                                        .keys = (const uint8_t(*)[32])n->member_keys,
                                        .endpoint = p4_zmq_transport_endpoint(n->transport),
                                        .evidence = n->evidence, .verifier = n->verifier,
                                        .admission = admission, .timeout = cfg->node_timeout,
                                        .log = n->opt->log };
    if (rc == P4_OK && n->opt->log)
        fprintf(n->opt->log, "p4 node %d: admission: %s; own token from %s, a fresh one per "
                "peer's HELLO; %zu allowed realm measurement(s)\n", cfg->node_id,
                p4_admission_describe(admission), p4_cca_evidence_describe(n->evidence),
                s.policy.initial_measurements.count);
    return rc;
}

/* Everything between the start record and the protocol: the client as
 * `p4 sim` opens it, and the transport. */
static int open_peer(node *n, p4_method method, double epsilon, const p4_identity *identity,
                     p4_error *err)
{
    const p4_config *cfg = n->cfg;
    int rc = p4_workload_load(cfg, &n->work, err);
    if (rc != P4_OK)
        return rc;
    if (n->work->partition->clients != cfg->partition.clients)
        return p4_error_set(err, P4_ECONFIG, "%s: the partition has %d clients, not %d", cfg->path,
                            n->work->partition->clients, cfg->partition.clients);
    n->setup = (p4_peer_setup){ .cfg = cfg, .work = n->work, .method = method,
                                .epsilon = epsilon, .reproducible = n->opt->reproducible,
                                .state_dir = cfg->node_state,
                                .public_n = cfg->public_count,
                                .public_cache = &n->public_cache };
    /* The [attack] the simulator would stage, chosen from the public seed. */
    if (!(n->attacker = calloc((size_t)cfg->partition.clients, 1)))
        return p4_error_set(err, P4_ENOMEM, "out of memory");
    if ((rc = p4_attack_choose_config(cfg, cfg->partition.clients, n->attacker, err)) != P4_OK)
        return rc;
    n->setup.is_attacker = n->attacker;
    if (p4_peer_setup_logits(&n->setup) &&
        (rc = p4_public_set_pick(cfg, n->work, n->setup.public_n, &n->public_x, err)) != P4_OK)
        return rc;
    n->plan.q = -1;
    n->setup.resuming = n->resuming;
    n->setup.rounds_done = n->resuming ? n->resume.next_round : 0;
    if ((rc = p4_peer_open(&n->peer, &n->setup, cfg->node_id, &n->plan, err)) != P4_OK)
        return rc;
    if (n->resuming && (rc = restore_peer(n, err)) != P4_OK)
        return rc;
    if ((rc = start_transport(n, identity, err)) != P4_OK)
        return rc;
    return start_attestation(n, identity, err);
}

/* [p4] predict = ensemble: the proxy beside the private model and its
 * weight; otherwise the ensemble file of an earlier run goes. */
static int save_served_proxy(node *n, p4_method method, const p4_cfg_shape *shape, p4_error *err)
{
    const p4_config *cfg = n->cfg;
    if (!p4_method_predicts_ensemble(method, cfg->predict))
        return p4_served_proxy_save(cfg->node_state, NULL, NULL, NULL, 0, -1, err);
    size_t count = p4_client_proxy_size(n->peer.client);
    float *params = malloc((count ? count : 1) * sizeof *params);
    if (params == NULL)
        return p4_error_set(err, P4_ENOMEM, "out of memory for the proxy");
    int rc = p4_client_get_proxy(n->peer.client, params, count);
    if (rc != P4_OK)
        rc = p4_error_set(err, rc, "cannot read the trained proxy's weights");
    else
        rc = p4_served_proxy_save(cfg->node_state, cfg->proxy_cfg[0] ? cfg->proxy_cfg
                                                                    : cfg->model_cfg,
                                  shape, params, count, cfg->ensemble_weight, err);
    free(params);
    return rc;
}

/* The model this node's accuracy was measured on (the private model; the
 * shared one for fedavg-dp, which has no other) into the state folder, for
 * `p4 serve` (p4node/private_model.h). */
static int save_served_model(node *n, p4_method method, p4_error *err)
{
    const p4_config *cfg = n->cfg;
    int shared = method == P4_METHOD_FEDAVG_DP;
    p4_which_model which = shared ? P4_MODEL_PROXY : P4_MODEL_PRIVATE;
    const char *model_cfg = shared && cfg->proxy_cfg[0] ? cfg->proxy_cfg : cfg->model_cfg;
    const p4_dataset *train = n->work->train;
    p4_cfg_shape shape = {train->width, train->height, train->channels, train->classes};
    size_t count = p4_client_model_size(n->peer.client, which);
    float *params = malloc((count ? count : 1) * sizeof *params);
    if (params == NULL)
        return p4_error_set(err, P4_ENOMEM, "out of memory for the private model");
    int rc = p4_client_get_model(n->peer.client, which, params, count);
    if (rc != P4_OK)
        rc = p4_error_set(err, rc, "cannot read the trained model's weights");
    else
        rc = p4_private_model_save(cfg->node_state, model_cfg, &shape, params, count, err);
    free(params);
    if (rc == P4_OK)
        rc = save_served_proxy(n, method, &shape, err);
    return rc;
}

static int run_protocol(node *n, p4_method method, p4_error *err)
{
    const p4_config *cfg = n->cfg;
    p4_node_record *r = n->rec;
    int dp = p4_peer_setup_dp(&n->setup);
    p4_gemm_set_threads(1); /* as `p4 sim` does: the same arithmetic, bit for bit */
    if (n->opt->log) {
        fprintf(n->opt->log, "p4 node %d (epoch %u): %s, %d of %d members known, listening on "
                "%s\n", cfg->node_id, r->epoch, p4_method_name(method),
                p4_membership_known(n->members), cfg->partition.clients,
                p4_zmq_transport_endpoint(n->transport));
        fflush(n->opt->log);
    }
    p4_protocol_spec spec = {
        .cfg = cfg, .method = method, .clients = cfg->partition.clients, .peer = &n->peer,
        .dp = dp, .logits_mode = p4_peer_setup_logits(&n->setup), .public_x = n->public_x,
        .public_n = n->setup.public_n, .logit_sigma = n->plan.logit_sigma,
        .classes = n->work->train->classes, .transport = n->transport, .epoch = r->epoch,
        .timeout = cfg->node_timeout, .log = n->opt->log,
        .hooks = { .user = n, .round_done = round_done, .checkpoint = save_checkpoint },
        .stop = n->opt->stop, .test_skew_view = n->opt->test_skew_view,
        .handshake = n->evidence ? &n->handshake : NULL,
        .handshake_stats = &n->handshake_stats,
        .resume_groups = n->resuming ? n->resume.group_of : NULL,
        .resume_ngroups = n->resume.ngroups, .start_round = n->resume.next_round,
        .resume_own_proxy = n->resuming ? n->resume.own_proxy : NULL,
        .resume_own_count = n->resume.state.proxy_count,
        .resume_proxy_reverts = n->resume.proxy_reverts,
        .resume_krum_fallbacks = n->resume.krum_fallbacks,
        .resume_krum_smallest = n->resume.krum_smallest,
    };
    p4_membership_control(n->members, &spec.control);
    p4_protocol_result res = { .group_of = r->group_of };
    double start = p4_now_seconds();
    int rc = p4_protocol_run(&spec, &res, err);
    snprintf(r->admission, sizeof r->admission, "%s",
             p4_admission_describe(p4_zmq_transport_admission(n->transport)));
    r->refused = res.refused;
    if (rc != P4_OK)
        return rc;
    if (res.stopped) {
        /* A clean stop: every finished round is in node.db, every release in
         * the ledger; the result is the run so far. */
        r->round_reached = res.rounds_done;
        r->ngroups = res.ngroups;
        r->dropped = res.dropped;
        r->missing = res.missing;
        r->epsilon = spent(n);
        r->seconds = p4_now_seconds() - start;
        snprintf(r->status, sizeof r->status, "stopped");
        char why[P4_ERROR_MESSAGE_MAX];
        snprintf(why, sizeof why, "%s after %d of %d rounds",
                 n->opt->stop_why ? n->opt->stop_why : "stopped", res.rounds_done, cfg->rounds);
        return p4_node_state_end(n->state, r->epoch, "stopped", why, err);
    }
    r->seconds = p4_now_seconds() - start;
    r->accuracy = res.accuracy;
    r->ngroups = res.ngroups;
    r->dropped = res.dropped;
    r->missing = res.missing;
    r->round_reached = cfg->rounds;
    r->krum_fallbacks = res.krum_fallbacks;
    r->krum_smallest = res.krum_smallest;
    r->proxy_reverts = res.proxy_reverts;
    r->epsilon = spent(n);
    r->noise_multiplier = dp ? n->plan.sigma : 0.0;
    r->warmup_noise_multiplier = dp ? n->plan.warmup.noise_multiplier : 0.0;
    r->facts = p4_peer_setup_facts(&n->setup);
    r->guarantee = p4_dp_guarantee_of(&r->facts);
    r->latent = cfg->partition.kind == P4_PARTITION_CLUSTERED
                    ? n->work->partition->split[cfg->node_id].cluster : -1;
    if ((rc = save_served_model(n, method, err)) != P4_OK)
        return rc;
    return p4_node_state_finish(n->state, r, err);
}

static void node_close(node *n)
{
    p4_membership_destroy(&n->members);
    p4_transport_destroy(&n->transport);
    p4_cca_evidence_destroy(&n->evidence);
    p4_cca_verifier_destroy(&n->verifier);
    free(n->member_keys);
    p4_peer_close(&n->peer);
    free(n->public_x);
    p4_public_cache_free(&n->public_cache);
    free(n->attacker);
    p4_workload_destroy(&n->work);
    p4_node_state_close(&n->state);
    p4_node_checkpoint_free(&n->resume);
    free(n->peers);
}

int p4_node_run(const p4_node_options *opt, p4_node_record *r, p4_error *err)
{
    if (opt == NULL || opt->cfg == NULL || r == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_node_run: bad arguments");
    memset(r, 0, sizeof *r);
    const p4_config *cfg = opt->cfg;
    int rc = p4_node_check_config(cfg, err);
    p4_method method;
    if (rc == P4_OK && p4_method_parse(cfg->method, &method) != P4_OK)
        rc = p4_error_set(err, P4_ECONFIG, "%s: [p4] method '%s' is unknown", cfg->path, cfg->method);
    if (rc != P4_OK)
        return rc;
    double epsilon = cfg->dp_enabled && cfg->target_epsilon > 0 ? cfg->target_epsilon : INFINITY;

    node n = { .opt = opt, .cfg = cfg, .rec = r };
    p4_identity identity;
    int created = 0;
    if ((rc = p4_identity_load_or_create(cfg->node_state, &identity, &created, err)) != P4_OK)
        return rc;
    if (created && opt->log)
        fprintf(opt->log, "p4 node %d: made a new key pair in %s (node.pub is what peers list)\n",
                cfg->node_id, cfg->node_state);
    r->client = cfg->node_id;
    r->clients = cfg->partition.clients;
    snprintf(r->method, sizeof r->method, "%s", p4_method_name(method));
    r->rounds = cfg->rounds;
    r->epsilon_target = epsilon;
    r->latent = -1;
    r->resumed_round = -1;
    r->group_of = calloc((size_t)r->clients, sizeof *r->group_of);
    if (r->group_of == NULL)
        rc = p4_error_set(err, P4_ENOMEM, "out of memory");
    if (rc == P4_OK)
        rc = p4_node_state_open(&n.state, cfg->node_state, err);
    if (rc == P4_OK && (rc = p4_node_state_begin(n.state, r, err)) == P4_OK) {
        /* From here on node.db says how the run ended. */
        rc = list_peers(&n, err);
        if (rc == P4_OK)
            rc = find_checkpoint(&n, method, err);
        if (rc == P4_OK)
            rc = open_peer(&n, method, epsilon, &identity, err);
        if (rc == P4_OK)
            rc = run_protocol(&n, method, err);
        if (rc == P4_OK && strcmp(r->status, "stopped") != 0) {
            snprintf(r->status, sizeof r->status, "finished");
        } else if (rc != P4_OK) {
            snprintf(r->status, sizeof r->status, "failed");
            p4_node_state_end(n.state, r->epoch, "failed", err ? err->message : "", NULL);
        }
    }
    p4_identity_wipe(&identity);
    node_close(&n);
    if (rc != P4_OK)
        p4_node_record_free(r);
    return rc;
}
