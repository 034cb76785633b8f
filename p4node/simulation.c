/* simulation.c: N clients in one process; see simulation.h.
 *
 * Each client is a peer of the one round protocol (cluster/protocol.h) on
 * a thread of its own (with a small stack), talking to the others over
 * in-process transports: the same rounds `p4 node` runs over ZeroMQ.  At
 * most opt->threads peers compute at once; the others wait for messages.
 * A waiting client is parked (distill/client.h): its models are flat
 * vectors, and the darknet networks it trains with are borrowed from one
 * pool while it holds a compute slot, so memory grows with the clients'
 * parameters, not with N networks and their buffers (docs/scale.md).
 * Clients never touch each other's state. */
#include "p4node/simulation.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster/peer.h"
#include "cluster/protocol.h"
#include "cluster/rand_index.h"
#include "cluster/slice_board.h"
#include "cluster/transport_inproc.h"
#include "common/progress.h"
#include "datasets/workload.h"
#include "model/gemm.h"

/* An exchange in one process never waits on a network: a peer waits only
 * for others' compute, so the deadline is a guard against bugs, not a
 * fault detector. */
#define SIM_EXCHANGE_TIMEOUT 3600.0
/* Stack per peer thread; see run_peers. */
#define SIM_PEER_STACK_BYTES (1024 * 1024)

typedef struct sim sim;

typedef struct sim_peer {
    sim *s;
    p4_peer peer;
    p4_transport *transport;
    p4_protocol_result result;
    p4_error err;
    int rc;
    p4_error park_err;           /* the first park/unpark failure, if any */
    int park_rc;
} sim_peer;

struct sim {
    const p4_config *cfg;
    const p4_sim_options *opt;
    p4_workload *work;
    p4_peer_setup setup;
    p4_peer_plan plan;
    int n, dp, logits_mode;
    unsigned char *attacker;     /* chosen from the seed by [attack] */
    float *public_x;
    p4_public_cache public_cache; /* public-set projection and pretraining, computed once */
    sim_peer *peers;
    p4_inproc_hub *hub;
    p4_model_pool *pool;         /* networks lent to the computing clients */
    p4_slice_board *board;       /* P4's warm-up slices, held once */
    /* compute slots and per-round progress, under one lock */
    pthread_mutex_t lock;
    pthread_cond_t slot_free;
    int slots;
    double *round_accuracy, *round_eps; /* rounds x n, rounds */
    int *round_count;
};

/* ---- hooks: compute slots and the per-round log ----------------------------- */

static void note_park_failure(sim_peer *p, int rc, const p4_error *why)
{
    if (rc != P4_OK && p->park_rc == P4_OK) {
        p->park_rc = rc;
        p->park_err = *why;
    }
}

/* A slot, then the client's networks back (a failure shows as the client
 * refusing to compute, and is reported in its own words at the end). */
static void take_slot(void *user)
{
    sim_peer *p = user;
    sim *s = p->s;
    pthread_mutex_lock(&s->lock);
    while (s->slots == 0)
        pthread_cond_wait(&s->slot_free, &s->lock);
    s->slots--;
    pthread_mutex_unlock(&s->lock);
    p4_error why = {0};
    note_park_failure(p, p4_client_unpark(p->peer.client, &why), &why);
}

static void give_slot(void *user)
{
    sim_peer *p = user;
    sim *s = p->s;
    p4_error why = {0};
    note_park_failure(p, p4_client_park(p->peer.client, &why), &why);
    pthread_mutex_lock(&s->lock);
    s->slots++;
    pthread_cond_signal(&s->slot_free);
    pthread_mutex_unlock(&s->lock);
}

static void round_done(void *user, int self, int round, double accuracy)
{
    sim *s = ((sim_peer *)user)->s;
    double eps = 0;
    if (s->dp)
        p4_ledger_spent(s->peers[self].peer.ledger, &eps, NULL); /* this peer's own thread */
    pthread_mutex_lock(&s->lock);
    double *acc = s->round_accuracy + (size_t)round * s->n;
    acc[self] = accuracy;
    if (eps > s->round_eps[round])
        s->round_eps[round] = eps;
    if (++s->round_count[round] == s->n) {
        double sum = 0;
        for (int k = 0; k < s->n; k++) /* in client order: the same sum every run */
            sum += acc[k];
        fprintf(s->opt->log, "%s round %d/%d: mean accuracy %.4f, epsilon %.3f\n",
                p4_method_name(s->opt->method), round + 1, s->cfg->rounds, sum / s->n,
                s->round_eps[round]);
        fflush(s->opt->log);
    }
    pthread_mutex_unlock(&s->lock);
}

static void *peer_thread(void *arg)
{
    sim_peer *p = arg;
    sim *s = p->s;
    p4_protocol_spec spec = {
        .cfg = s->cfg, .method = s->opt->method, .clients = s->n, .peer = &p->peer,
        .dp = s->dp, .logits_mode = s->logits_mode, .public_x = s->public_x,
        .public_n = s->setup.public_n, .logit_sigma = s->plan.logit_sigma,
        .classes = s->work->train->classes, .transport = p->transport,
        .timeout = SIM_EXCHANGE_TIMEOUT, .log = NULL,
        .hooks = { .user = p, .compute_begin = take_slot, .compute_end = give_slot,
                   .round_done = s->opt->log ? round_done : NULL },
        .board = s->board,
    };
    p->rc = p4_protocol_run(&spec, &p->result, &p->err);
    if (p->rc != P4_OK) { /* the others would wait for this peer */
        p4_inproc_hub_abort(s->hub);
        p4_slice_board_abort(s->board);
    }
    return NULL;
}

/* ---- set-up ------------------------------------------------------------------ */

static void sim_close(sim *s)
{
    for (int k = 0; s->peers && k < s->n; k++) {
        p4_peer_close(&s->peers[k].peer);
        p4_transport_destroy(&s->peers[k].transport);
        free(s->peers[k].result.group_of);
    }
    free(s->peers);
    p4_inproc_hub_destroy(&s->hub);
    p4_model_pool_destroy(&s->pool); /* after the clients, which give their networks back */
    p4_slice_board_destroy(&s->board);
    free(s->public_x);
    p4_public_cache_free(&s->public_cache);
    free(s->attacker);
    free(s->round_accuracy);
    free(s->round_eps);
    free(s->round_count);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->slot_free);
    p4_workload_destroy(&s->work);
}

static int sim_open(sim *s, const p4_config *cfg, const p4_sim_options *opt, p4_sim_result *r,
                    p4_error *err)
{
    memset(s, 0, sizeof *s);
    s->cfg = cfg;
    s->opt = opt;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->slot_free, NULL);
    s->slots = opt->threads;
    int rc = p4_workload_load(cfg, &s->work, err);
    if (rc != P4_OK)
        return rc;
    s->n = s->work->partition->clients;
    s->setup = (p4_peer_setup){ .cfg = cfg, .work = s->work, .method = opt->method,
                                .epsilon = opt->epsilon, .reproducible = opt->reproducible,
                                .state_dir = opt->state_dir,
                                .public_n = cfg->public_count,
                                .public_cache = &s->public_cache };
    if ((rc = p4_model_pool_new(&s->pool, err)) != P4_OK)
        return rc;
    s->setup.model_pool = s->pool;
    s->dp = p4_peer_setup_dp(&s->setup);
    s->logits_mode = p4_peer_setup_logits(&s->setup);
    s->peers = calloc((size_t)s->n, sizeof *s->peers);
    s->attacker = calloc((size_t)s->n, 1);
    if (s->attacker && (rc = p4_attack_choose_config(cfg, s->n, s->attacker, err)) != P4_OK)
        return rc;
    s->setup.is_attacker = s->attacker;
    s->round_accuracy = calloc((size_t)cfg->rounds * (size_t)s->n, sizeof(double));
    s->round_eps = calloc((size_t)cfg->rounds, sizeof(double));
    s->round_count = calloc((size_t)cfg->rounds, sizeof(int));
    if (!s->peers || !s->attacker || !s->round_accuracy || !s->round_eps || !s->round_count)
        return p4_error_set(err, P4_ENOMEM, "out of memory for %d clients", s->n);
    if (s->logits_mode &&
        (rc = p4_public_set_pick(cfg, s->work, s->setup.public_n, &s->public_x, err)) != P4_OK)
        return rc;
    /* The shared board holds the grouping's slices once; a grouping lie
     * needs the slices themselves, and grouping_commit its commitments and
     * echoes, so they go on the wire. */
    int board = opt->method == P4_METHOD_P4 && strcmp(cfg->grouping_lie, "none") == 0 &&
                !cfg->grouping_commit;
    if ((rc = p4_inproc_hub_new(&s->hub, s->n, err)) != P4_OK ||
        (board && (rc = p4_slice_board_new(&s->board, s->n, err)) != P4_OK))
        return rc;
    s->plan.q = -1;
    for (int k = 0; k < s->n; k++) {
        sim_peer *p = &s->peers[k];
        p->s = s;
        if ((rc = p4_peer_open(&p->peer, &s->setup, k, &s->plan, err)) != P4_OK ||
            (rc = p4_client_park(p->peer.client, err)) != P4_OK ||
            (rc = p4_inproc_hub_transport(s->hub, k, &p->transport, err)) != P4_OK)
            return rc;
        if (!(p->result.group_of = calloc((size_t)s->n, sizeof(int))))
            return p4_error_set(err, P4_ENOMEM, "out of memory for %d clients", s->n);
    }
    r->noise_multiplier = s->dp ? s->plan.sigma : 0.0;
    r->warmup_noise_multiplier = s->dp ? s->plan.warmup.noise_multiplier : 0.0;
    size_t size = p4_client_proxy_size(s->peers[0].peer.client);
    for (int k = 1; k < s->n; k++)
        if (p4_client_proxy_size(s->peers[k].peer.client) != size)
            return p4_error_set(err, P4_EMODEL, "proxies differ in size");
    return P4_OK;
}

/* ---- the run ------------------------------------------------------------------- */

static int run_peers(sim *s, p4_error *err)
{
    pthread_t *threads = malloc((size_t)s->n * sizeof *threads);
    pthread_attr_t attr;
    if (!threads || pthread_attr_init(&attr) != 0) {
        free(threads);
        return p4_error_set(err, P4_ENOMEM, "out of memory for %d threads", s->n);
    }
    /* A peer's own frames are small (its buffers are on the heap); the
     * default 8 MiB per thread would reserve 8 GiB of address space at
     * 1,024 clients. */
    pthread_attr_setstacksize(&attr, SIM_PEER_STACK_BYTES);
    int started = 0, rc = P4_OK;
    for (; started < s->n; started++)
        if (pthread_create(&threads[started], &attr, peer_thread, &s->peers[started]) != 0) {
            rc = p4_error_set(err, P4_ENOMEM, "cannot start a thread for client %d", started);
            break;
        }
    pthread_attr_destroy(&attr);
    if (rc != P4_OK) {
        p4_inproc_hub_abort(s->hub);
        p4_slice_board_abort(s->board);
    }
    for (int k = 0; k < started; k++)
        pthread_join(threads[k], NULL);
    free(threads);
    /* A failed park or unpark explains what the protocol then saw. */
    for (int k = 0; k < s->n && rc == P4_OK; k++)
        if (s->peers[k].park_rc != P4_OK) {
            rc = s->peers[k].park_rc;
            if (err)
                *err = s->peers[k].park_err;
        }
    /* Report the peer that failed first, not those the abort then stopped. */
    for (int pass = 0; pass < 2 && rc == P4_OK; pass++)
        for (int k = 0; k < s->n && rc == P4_OK; k++)
            if (s->peers[k].rc != P4_OK && (pass == 1 || s->peers[k].rc != P4_ENET)) {
                rc = s->peers[k].rc;
                if (err)
                    *err = s->peers[k].err;
            }
    return rc;
}

/* Per-client accuracies, the groups (every peer computed the same ones and
 * checked the others' digests) and the largest spend. */
void p4_sim_result_summarise_accuracy(p4_sim_result *r)
{
    if (!r || r->clients < 1 || !r->accuracy)
        return;
    int n = r->clients;
    double sum = 0, sq = 0, honest = 0;
    r->attackers = 0;
    for (int k = 0; k < n; k++) {
        int bad = r->attacker && r->attacker[k];
        sum += r->accuracy[k];
        honest += bad ? 0 : r->accuracy[k];
        r->attackers += bad;
    }
    r->mean_accuracy = sum / n;
    for (int k = 0; k < n; k++)
        sq += (r->accuracy[k] - r->mean_accuracy) * (r->accuracy[k] - r->mean_accuracy);
    r->std_accuracy = n > 1 ? sqrt(sq / (n - 1)) : 0.0;
    r->honest_mean_accuracy = r->attackers < n ? honest / (n - r->attackers) : NAN;
}

static void summarise(const sim *s, p4_sim_result *r)
{
    for (int k = 0; k < s->n; k++) {
        r->accuracy[k] = s->peers[k].result.accuracy;
        r->attacker[k] = s->attacker[k];
    }
    p4_sim_result_summarise_accuracy(r);
    memcpy(r->group_of, s->peers[0].result.group_of, (size_t)s->n * sizeof(int));
    r->ngroups = s->peers[0].result.ngroups;
    r->krum_fallbacks = r->krum_smallest = r->proxy_reverts = 0;
    for (int k = 0; k < s->n; k++) {
        const p4_protocol_result *pr = &s->peers[k].result;
        r->krum_fallbacks += pr->krum_fallbacks;
        r->proxy_reverts += pr->proxy_reverts;
        if (pr->krum_smallest > 0 && (r->krum_smallest == 0 || pr->krum_smallest < r->krum_smallest))
            r->krum_smallest = pr->krum_smallest;
    }
    r->facts = p4_peer_setup_facts(&s->setup);
    r->guarantee = p4_dp_guarantee_of(&r->facts);
    r->epsilon = 0;
    for (int k = 0; k < s->n && s->dp; k++) {
        double e = 0;
        if (p4_ledger_spent(s->peers[k].peer.ledger, &e, NULL) == P4_OK && e > r->epsilon)
            r->epsilon = e;
    }
}

static int allocate_result(p4_sim_result *r, int n)
{
    r->clients = n;
    r->accuracy = calloc((size_t)n, sizeof *r->accuracy);
    r->group_of = calloc((size_t)n, sizeof *r->group_of);
    r->latent = calloc((size_t)n, sizeof *r->latent);
    r->attacker = calloc((size_t)n, 1);
    return (r->accuracy && r->group_of && r->latent && r->attacker) ? P4_OK : P4_ENOMEM;
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
    if (rc == P4_OK)
        rc = run_peers(&s, err);
    if (rc == P4_OK) {
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
    free(r->attacker);
    r->attacker = NULL;
    r->accuracy = NULL;
    r->group_of = NULL;
    r->latent = NULL;
}
