/* test_protocol.c: the round protocol written once for every transport.
 *   - the in-process transport honours deadlines and aborts;
 *   - two peers run over in-process transports while a third party sends
 *     them garbage, spoofed, NaN-laden and stale messages: the peers drop
 *     all of it and finish exactly as an undisturbed seeded run does;
 *   - `p4 sim` gives the same seeded result at 1 and 3 compute threads
 *     (messages are aggregated in peer order, not arrival order);
 *   - an attacker that copies a target's warm-up slice lands in its group,
 *     and the slice guard puts both alone instead;
 *   - a noisy copy gets past the guard, but not past grouping_commit, which
 *     changes nothing for honest peers;
 *   - a proxy that diverges after averaging a poisoned peer proxy goes back
 *     to the client's own and the run goes on within its budget, while one
 *     that diverges from the client's own proxy still stops the run; a
 *     restart's own proxy of the wrong size is refused;
 *   - a frozen projection keeps the client's own values whatever the peers
 *     send, and is not sent. */
#include "support/test_support.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster/peer.h"
#include "cluster/protocol.h"
#include "cluster/transport_inproc.h"
#include "cluster/wire.h"
#include "common/progress.h"
#include "p4node/simulation.h"

#define FMNIST "/usr/share/datasets/fashion-mnist"

static void inproc_deadline_and_abort(void **state)
{
    (void)state;
    p4_inproc_hub *hub = NULL;
    p4_transport *a = NULL, *b = NULL;
    assert_int_equal(p4_inproc_hub_new(&hub, 2, NULL), P4_OK);
    assert_int_equal(p4_inproc_hub_transport(hub, 0, &a, NULL), P4_OK);
    assert_int_equal(p4_inproc_hub_transport(hub, 1, &b, NULL), P4_OK);
    uint8_t *bytes = NULL;
    size_t len = 0;
    int from = -1;
    assert_int_equal(p4_transport_recv(a, p4_now_seconds() + 0.05, &from, &bytes, &len, NULL),
                     P4_ETIMEOUT);
    assert_int_equal(p4_transport_send(b, 0, (const uint8_t *)"hi", 2, NULL), P4_OK);
    assert_int_equal(p4_transport_send(b, 5, (const uint8_t *)"hi", 2, NULL), P4_EPEER);
    assert_int_equal(p4_transport_recv(a, p4_now_seconds() + 1, &from, &bytes, &len, NULL), P4_OK);
    assert_int_equal(from, 1);
    assert_int_equal(len, 2);
    assert_memory_equal(bytes, "hi", 2);
    free(bytes);
    p4_transport_stats st;
    p4_transport_get_stats(b, &st);
    assert_int_equal(st.messages_sent, 1);
    assert_int_equal(st.bytes_sent, 2);
    p4_inproc_hub_abort(hub);
    assert_int_equal(p4_transport_recv(a, p4_now_seconds() + 60, &from, &bytes, &len, NULL),
                     P4_ENET);
    p4_inproc_hub_destroy(&hub);
}

/* --- two real peers with a hostile third party ------------------------------ */

typedef struct {
    p4_method method;
    p4_config cfg;
    p4_workload *work;
    p4_peer_setup setup;
    p4_peer_plan plan;
    p4_peer peer[2];
    p4_inproc_hub *hub;
    p4_transport *t[3];
    int group_of[2][2];
    p4_protocol_result res[2];
    int rc[2];
    p4_error err[2];
    unsigned char attacker[2];
    double timeout;              /* seconds per exchange (0: 60) */
    p4_protocol_hooks hooks;     /* the peers' hooks (none by default) */
} duo;

/* Two peers of `method`; with `attack` (a [attack] kind), peer 1 is
 * malicious; learning_rate > 0 replaces the config's; with `projection` (a
 * [model] proxy_projection), the proxy is the PCA-16 logistic regression. */
static void duo_open_full(duo *d, const char *dir, p4_method method, const char *attack,
                          double strength, double learning_rate, const char *projection)
{
    char path[1024], text[1024];
    snprintf(path, sizeof path, "%s/duo.ini", dir);
    snprintf(text, sizeof text,
             "[data]\ndataset = fashion-mnist\npartition = clustered\nclients = 2\nclusters = 1\n"
             "cluster_classes = 0,1,2\ntrain_per_client = 40\ntest_per_client = 40\n"
             "max_train = 3000\nmax_test = 1000\nseed = 5\n"
             "[model]\ncfg = %s/configs/models/mlp-28x28x1.cfg\n"
             "proxy_cfg = %s/configs/models/logreg-28x28x1.cfg\nbatch = 10\nseed = 5\n"
             "[dp]\ntarget_epsilon = 8\n[p4]\nrounds = 2\ngroup_size = 2\n",
             getenv("P4_SOURCE_DIR") ? getenv("P4_SOURCE_DIR") : ".",
             getenv("P4_SOURCE_DIR") ? getenv("P4_SOURCE_DIR") : ".");
    assert_int_equal(test_write_file(path, text, strlen(text)), 0);
    memset(d, 0, sizeof *d);
    d->method = method;
    p4_error err = {0};
    if (p4_config_load(path, &d->cfg, &err) != P4_OK || p4_workload_load(&d->cfg, &d->work, &err) != P4_OK)
        fail_msg("%s", err.message);
    if (attack) {
        snprintf(d->cfg.attack_kind, sizeof d->cfg.attack_kind, "%s", attack);
        d->cfg.attack_strength = strength;
        d->attacker[1] = 1;
    }
    if (learning_rate > 0)
        d->cfg.learning_rate = learning_rate;
    if (projection) {
        snprintf(d->cfg.proxy_projection, sizeof d->cfg.proxy_projection, "%s", projection);
        snprintf(d->cfg.proxy_cfg, sizeof d->cfg.proxy_cfg,
                 "%s/configs/models/pca16-logreg-28x28x1.cfg",
                 getenv("P4_SOURCE_DIR") ? getenv("P4_SOURCE_DIR") : ".");
    }
    d->setup = (p4_peer_setup){ .cfg = &d->cfg, .work = d->work, .method = method,
                                .epsilon = 8.0, .reproducible = 1, .state_dir = dir,
                                .is_attacker = d->attacker, .public_n = d->cfg.public_count };
    d->plan.q = -1;
    assert_int_equal(p4_inproc_hub_new(&d->hub, 3, NULL), P4_OK);
    for (int k = 0; k < 3; k++)
        assert_int_equal(p4_inproc_hub_transport(d->hub, k, &d->t[k], NULL), P4_OK);
    for (int k = 0; k < 2; k++) {
        if (p4_peer_open(&d->peer[k], &d->setup, k, &d->plan, &err) != P4_OK)
            fail_msg("%s", err.message);
        d->res[k].group_of = d->group_of[k];
    }
}

static void duo_open_tuned(duo *d, const char *dir, p4_method method, const char *attack,
                           double strength, double learning_rate)
{
    duo_open_full(d, dir, method, attack, strength, learning_rate, NULL);
}

static void duo_open_attacked(duo *d, const char *dir, p4_method method, const char *attack,
                              double strength)
{
    duo_open_tuned(d, dir, method, attack, strength, 0);
}

static void duo_open_method(duo *d, const char *dir, p4_method method)
{
    duo_open_attacked(d, dir, method, NULL, 0);
}

static void duo_open(duo *d, const char *dir)
{
    duo_open_method(d, dir, P4_METHOD_P4);
}

static void duo_close(duo *d, const char *dir)
{
    for (int k = 0; k < 2; k++) {
        char path[1200];
        p4_peer_close(&d->peer[k]);
        snprintf(path, sizeof path, "%s/client-%03d.db", dir, k);
        unlink(path);
    }
    for (int k = 0; k < 3; k++)
        p4_transport_destroy(&d->t[k]);
    p4_inproc_hub_destroy(&d->hub);
    p4_workload_destroy(&d->work);
}

typedef struct { duo *d; int k; } duo_arg;

static void *duo_peer(void *arg)
{
    duo_arg *a = arg;
    duo *d = a->d;
    p4_protocol_spec spec = { .cfg = &d->cfg, .method = d->method, .clients = 2,
                              .peer = &d->peer[a->k], .dp = 1, .classes = 10,
                              .transport = d->t[a->k], .epoch = 1,
                              .timeout = d->timeout > 0 ? d->timeout : 60, .hooks = d->hooks };
    d->rc[a->k] = p4_protocol_run(&spec, &d->res[a->k], &d->err[a->k]);
    return NULL;
}

/* Encodes a PROXY of `count` floats from `sender` (epoch 0: the real peers
 * run at epoch 1, so these never make their messages look replayed). */
static uint8_t *proxy_bytes(uint32_t sender, uint64_t sequence, int32_t round, uint32_t count,
                            size_t *len)
{
    float *v = calloc(count, sizeof(float));
    p4_wire_message m;
    memset(&m, 0, sizeof m);
    m.header = (p4_wire_header){ .type = P4_WIRE_PROXY, .sender_id = sender, .sender_epoch = 0,
                                 .round = round, .sequence = sequence };
    m.body.proxy = (p4_wire_vector){ v, count };
    uint8_t *b = NULL;
    assert_int_equal(p4_wire_encode_alloc(&m, &b, len, NULL), P4_OK);
    free(v);
    return b;
}

/* Queues, before the peers start, what a hostile party could send each
 * peer: bytes that are no message; a proxy from an id outside the run; a
 * proxy from the other peer with an infinity patched into it; a proxy from
 * outside claiming to be the other peer; and, from the other peer, a proxy
 * for a later round with the wrong length (kept until that round, then
 * dropped there). */
static void poison(duo *d)
{
    const uint8_t junk[7] = { 'P', '4', 1, 6, 1, 2, 3 };
    for (int to = 0; to < 2; to++) {
        int other = 1 - to;
        size_t len;
        assert_int_equal(p4_transport_send(d->t[2], to, junk, sizeof junk, NULL), P4_OK);
        uint8_t *b = proxy_bytes(2, 0, 0, 7850, &len);
        assert_int_equal(p4_transport_send(d->t[2], to, b, len, NULL), P4_OK);
        free(b);
        b = proxy_bytes((uint32_t)other, 7, 0, 7850, &len);
        const float inf = INFINITY;
        memcpy(b + P4_WIRE_HEADER_BYTES + 4 + 40, &inf, 4);
        assert_int_equal(p4_transport_send(d->t[other], to, b, len, NULL), P4_OK);
        free(b);
        b = proxy_bytes((uint32_t)other, 8, 0, 7850, &len);
        assert_int_equal(p4_transport_send(d->t[2], to, b, len, NULL), P4_OK);
        free(b);
        b = proxy_bytes((uint32_t)other, 9, 0, 10, &len);
        assert_int_equal(p4_transport_send(d->t[other], to, b, len, NULL), P4_OK);
        free(b);
    }
}

static void run_duo_unchecked(duo *d)
{
    pthread_t th[2];
    duo_arg args[2] = { { d, 0 }, { d, 1 } };
    for (int k = 0; k < 2; k++)
        assert_int_equal(pthread_create(&th[k], NULL, duo_peer, &args[k]), 0);
    for (int k = 0; k < 2; k++)
        pthread_join(th[k], NULL);
}

static void run_duo(duo *d)
{
    run_duo_unchecked(d);
    for (int k = 0; k < 2; k++)
        if (d->rc[k] != P4_OK)
            fail_msg("peer %d: %s", k, d->err[k].message);
}

static void hostile_messages_are_dropped(void **state)
{
    if (!test_dataset_path(FMNIST)) TEST_SKIP(FMNIST " is absent");
    const char *dir = *state;
    duo clean, attacked;
    duo_open(&clean, dir);
    run_duo(&clean);
    double clean_acc[2] = { clean.res[0].accuracy, clean.res[1].accuracy };
    assert_int_equal(clean.res[0].dropped + clean.res[1].dropped, 0);
    assert_int_equal(clean.res[0].ngroups, 1);
    duo_close(&clean, dir);

    duo_open(&attacked, dir);
    poison(&attacked);
    run_duo(&attacked);
    /* junk, outsider, infinity, forgery and the short proxy, to each peer */
    assert_int_equal(attacked.res[0].dropped, 5);
    assert_int_equal(attacked.res[1].dropped, 5);
    assert_int_equal(attacked.res[0].missing + attacked.res[1].missing, 0);
    assert_true(attacked.res[0].accuracy == clean_acc[0]);
    assert_true(attacked.res[1].accuracy == clean_acc[1]);
    duo_close(&attacked, dir);
}

/* ProxyFL as published swaps proxies (with 2 peers, each takes the other's);
 * proxyfl-avg averages them.  The strict DP proxies train on labels only, so
 * both runs reach the exchange with the same two proxies. */
static void proxyfl_replaces_and_proxyfl_avg_averages(void **state)
{
    if (!test_dataset_path(FMNIST)) TEST_SKIP(FMNIST " is absent");
    const char *dir = *state;
    float *p[2][2];
    for (int variant = 0; variant < 2; variant++) {
        duo d;
        duo_open_method(&d, dir, variant ? P4_METHOD_PROXYFL_AVG : P4_METHOD_PROXYFL);
        d.cfg.rounds = 1;
        run_duo(&d);
        size_t size = p4_client_proxy_size(d.peer[0].client);
        assert_int_equal(size, 7850);
        for (int k = 0; k < 2; k++) {
            p[variant][k] = malloc(size * sizeof(float));
            assert_int_equal(p4_client_get_proxy(d.peer[k].client, p[variant][k], size), P4_OK);
        }
        duo_close(&d, dir);
    }
    assert_memory_equal(p[1][0], p[1][1], 7850 * sizeof(float)); /* averaged: equal */
    assert_memory_not_equal(p[0][0], p[0][1], 7850 * sizeof(float));
    for (int j = 0; j < 7850; j++) /* the average of the two swapped proxies */
        assert_true(p[1][0][j] == 0.5f * (p[0][1][j] + p[0][0][j]));
    for (int v = 0; v < 2; v++)
        for (int k = 0; k < 2; k++)
            free(p[v][k]);
}

/* A signflip attacker sends w0 - s (w - w0) for its trained proxy w: with
 * ProxyFL (the received proxy replaces one's own) the honest peer ends with
 * exactly that, where an undisturbed run gives it w.  The attacker's own
 * training is the same in both runs (strict DP proxies, seeded). */
static void signflip_attacker_sends_the_reversed_move(void **state)
{
    if (!test_dataset_path(FMNIST)) TEST_SKIP(FMNIST " is absent");
    const char *dir = *state;
    enum { SIZE = 7850 };
    float *w0 = malloc(SIZE * sizeof(float)), *honest = malloc(SIZE * sizeof(float));
    float *attacked = malloc(SIZE * sizeof(float));
    for (int variant = 0; variant < 2; variant++) {
        duo d;
        duo_open_attacked(&d, dir, P4_METHOD_PROXYFL, variant ? "signflip" : NULL, 3.0);
        d.cfg.rounds = 1;
        assert_int_equal(d.peer[1].attack, variant ? P4_ATTACK_SIGNFLIP : P4_ATTACK_NONE);
        assert_int_equal(p4_client_get_proxy(d.peer[1].client, w0, SIZE), P4_OK);
        run_duo(&d);
        assert_int_equal(p4_client_get_proxy(d.peer[0].client, variant ? attacked : honest, SIZE),
                         P4_OK);
        duo_close(&d, dir);
    }
    double moved = 0;
    for (int j = 0; j < SIZE; j++) {
        float expect = (float)(w0[j] - 3.0 * ((double)honest[j] - w0[j]));
        assert_true(attacked[j] == expect);
        moved += fabs(honest[j] - w0[j]);
    }
    assert_true(moved > 0); /* training moved the proxy: the test sees the attack */
    free(w0);
    free(honest);
    free(attacked);
}

/* Watches each peer's proxy right after its local training (the
 * protocol's `trained` hook), read from the client itself: a reverted
 * proxy must be exactly the one the previous round's training left. */
typedef struct {
    duo *d;
    float *last[2];
    int reverts[2], equal[2], differ[2];
} revert_watch;

static void watch_trained(void *user, int self, int round, int reverted)
{
    (void)round;
    revert_watch *w = user;
    size_t n = p4_client_proxy_size(w->d->peer[self].client);
    float *now = malloc(n * sizeof(float));
    assert_non_null(now);
    assert_int_equal(p4_client_get_proxy(w->d->peer[self].client, now, n), P4_OK);
    if (reverted) {
        size_t np = p4_client_model_size(w->d->peer[self].client, P4_MODEL_PRIVATE);
        float *priv = malloc(np * sizeof(float));
        assert_non_null(priv);
        assert_int_equal(p4_client_get_model(w->d->peer[self].client, P4_MODEL_PRIVATE, priv, np),
                         P4_OK);
        for (size_t j = 0; j < np; j++)
            assert_true(isfinite(priv[j]));
        free(priv);
        w->reverts[self]++;
        if (w->last[self] && memcmp(now, w->last[self], n * sizeof(float)) == 0)
            w->equal[self]++;
        else
            w->differ[self]++;
    }
    free(w->last[self]);
    w->last[self] = now;
}

/* A `scaled` attacker with a huge strength sends a finite proxy (the wire
 * takes it) whose average with the honest peer's makes the honest peer's
 * next DP-SGD step meet a non-finite loss or norm.  The honest peer does
 * not stop: its proxy goes back to exactly its own from before that
 * averaging, the rest of the round is dropped, the count says so, and its
 * ledger stays within the target. */
static void a_proxy_diverging_after_averaging_reverts_to_its_own(void **state)
{
    if (!test_dataset_path(FMNIST)) TEST_SKIP(FMNIST " is absent");
    const char *dir = *state;
    duo d;
    duo_open_attacked(&d, dir, P4_METHOD_P4, "gaussian", 3e37);
    revert_watch w = { .d = &d };
    d.hooks = (p4_protocol_hooks){ .user = &w, .trained = watch_trained };
    run_duo(&d);
    assert_int_equal(d.res[0].rounds_done, d.cfg.rounds); /* 2: round 1 trains from an average */
    assert_true(d.res[0].proxy_reverts > 0);
    assert_int_equal(w.reverts[0], d.res[0].proxy_reverts);
    assert_int_equal(w.differ[0], 0);
    assert_int_equal(w.equal[0], d.res[0].proxy_reverts);
    assert_true(isfinite(d.res[0].accuracy));
    double spent = 0;
    assert_int_equal(p4_ledger_spent(d.peer[0].ledger, &spent, NULL), P4_OK);
    if (!(spent > 0 && spent <= 8.0 * (1 + 1e-9)))
        fail_msg("the honest peer spent epsilon %g of 8", spent);
    for (int k = 0; k < 2; k++)
        free(w.last[k]);
    duo_close(&d, dir);
}

/* A fixed projection (public PCA, frozen in DP-SGD) is neither sent nor
 * taken from the peers: with a Gaussian attacker in the group, the honest
 * peer's projection layer ends the run byte-identical to the one it was
 * given, in P4 (averaged) and ProxyFL (replaced), while its head moves. */
static void a_frozen_projection_is_never_taken_from_peers(void **state)
{
    if (!test_dataset_path(FMNIST)) TEST_SKIP(FMNIST " is absent");
    const char *dir = *state;
    const p4_method methods[2] = { P4_METHOD_P4, P4_METHOD_PROXYFL };
    for (int m = 0; m < 2; m++) {
        duo d;
        duo_open_full(&d, dir, methods[m], "gaussian", 1.0, 0, "public-pca");
        p4_client *honest = d.peer[0].client;
        assert_int_equal(p4_client_frozen_layers(honest), 1);
        size_t size = p4_client_proxy_size(honest), offset, length, head, head_length;
        assert_int_equal(p4_client_proxy_layer(honest, 0, &offset, &length), P4_OK);
        assert_int_equal(p4_client_proxy_layer(honest, 1, &head, &head_length), P4_OK);
        assert_int_equal(length, 16 * (784 + 1));
        float *before = malloc(size * sizeof(float)), *after = malloc(size * sizeof(float));
        assert_int_equal(p4_client_get_proxy(honest, before, size), P4_OK);
        run_duo(&d);
        assert_int_equal(p4_client_get_proxy(honest, after, size), P4_OK);
        if (memcmp(before + offset, after + offset, length * sizeof(float)) != 0)
            fail_msg("%s: the honest peer's projection changed", p4_method_name(methods[m]));
        assert_memory_not_equal(before + head, after + head, head_length * sizeof(float));
        /* and the projection never went on the wire: had it, every round's
         * proxy alone would take more bytes than the peer sent in all */
        p4_transport_stats st;
        p4_transport_get_stats(d.t[0], &st);
        assert_true(st.bytes_sent > 0);
        if (st.bytes_sent >= (uint64_t)d.cfg.rounds * size * sizeof(float))
            fail_msg("%s: peer 0 sent %llu bytes in %d rounds of a %zu-float proxy",
                     p4_method_name(methods[m]), (unsigned long long)st.bytes_sent,
                     d.cfg.rounds, size);
        free(before);
        free(after);
        duo_close(&d, dir);
    }
}

/* A divergence from the client's own proxy (an absurd learning rate, no
 * attack) is not the peers' doing: it still stops the run with
 * P4_EDIVERGED, in P4 and in fedavg-dp alike (here in round 0, which
 * starts from the client's own proxy). */
static void a_proxy_diverging_from_its_own_still_stops(void **state)
{
    if (!test_dataset_path(FMNIST)) TEST_SKIP(FMNIST " is absent");
    const char *dir = *state;
    const p4_method methods[2] = { P4_METHOD_P4, P4_METHOD_FEDAVG_DP };
    for (int m = 0; m < 2; m++) {
        duo d;
        duo_open_tuned(&d, dir, methods[m], NULL, 0, 1e38);
        d.timeout = 5; /* both stop; neither should wait long for the other */
        run_duo_unchecked(&d);
        for (int k = 0; k < 2; k++) {
            if (d.rc[k] != P4_EDIVERGED)
                fail_msg("%s peer %d: rc %d (%s), expected P4_EDIVERGED", p4_method_name(methods[m]),
                         k, d.rc[k], d.err[k].message);
            assert_non_null(strstr(d.err[k].message, "diverged"));
            assert_int_equal(d.res[k].proxy_reverts, 0);
        }
        duo_close(&d, dir);
    }
}

/* A restart's own proxy (resume_own_proxy) must be the proxy's size and come
 * with the rest of a resume: anything else is refused before the run
 * starts, instead of a copy that reads past the caller's vector. */
static void a_resumed_own_proxy_must_fit(void **state)
{
    if (!test_dataset_path(FMNIST)) TEST_SKIP(FMNIST " is absent");
    const char *dir = *state;
    duo d;
    duo_open(&d, dir);
    size_t n = p4_client_proxy_size(d.peer[0].client);
    float *own = calloc(n, sizeof(float));
    assert_non_null(own);
    int groups[2] = { 0, 0 }, out[2];
    p4_protocol_result res = { .group_of = out };
    p4_protocol_spec spec = { .cfg = &d.cfg, .method = P4_METHOD_P4, .clients = 2,
                              .peer = &d.peer[0], .dp = 1, .classes = 10, .transport = d.t[0],
                              .epoch = 2, .timeout = 5, .resume_groups = groups,
                              .resume_ngroups = 1, .start_round = 1, .resume_own_proxy = own,
                              .resume_own_count = n - 1 };
    p4_error err = {0};
    assert_int_equal(p4_protocol_run(&spec, &res, &err), P4_EINVAL);
    assert_non_null(strstr(err.message, "resumed own proxy"));
    spec.resume_own_count = n;
    spec.resume_groups = NULL;
    assert_int_equal(p4_protocol_run(&spec, &res, &err), P4_EINVAL);
    assert_non_null(strstr(err.message, "without resume_groups"));
    spec.resume_groups = groups;
    spec.resume_proxy_reverts = -1;
    assert_int_equal(p4_protocol_run(&spec, &res, &err), P4_EINVAL);
    free(own);
    duo_close(&d, dir);
}

/* A peer that is gone (its endpoint closed) is left out of every exchange:
 * ProxyFL's other peer finishes alone, counting what it could not send and
 * what never came; P4's grouping, which needs every member, fails clearly. */
static void a_dead_peer_is_left_out(void **state)
{
    if (!test_dataset_path(FMNIST)) TEST_SKIP(FMNIST " is absent");
    const char *dir = *state;
    for (int variant = 0; variant < 2; variant++) {
        duo d;
        duo_open_method(&d, dir, variant ? P4_METHOD_P4 : P4_METHOD_PROXYFL_AVG);
        d.timeout = 0.3;
        p4_transport_destroy(&d.t[1]); /* peer 1 is gone before it starts */
        duo_arg arg = { &d, 0 };
        duo_peer(&arg);
        if (variant == 0) {
            if (d.rc[0] != P4_OK)
                fail_msg("%s", d.err[0].message);
            assert_int_equal(d.res[0].unreachable, 2); /* one proxy per round */
            assert_int_equal(d.res[0].missing, 2);
            assert_true(d.res[0].accuracy > 0.4); /* 3 classes: it still learnt alone */
        } else {
            assert_int_equal(d.rc[0], P4_EPEER);
            assert_non_null(strstr(d.err[0].message, "warm-up slice"));
        }
        duo_close(&d, dir);
    }
}

static void sim_result_does_not_depend_on_threads(void **state)
{
    if (!test_dataset_path(FMNIST)) TEST_SKIP(FMNIST " is absent");
    (void)state;
    p4_config cfg;
    p4_error err = {0};
    assert_int_equal(p4_config_load("configs/fmnist-p4.ini", &cfg, &err), P4_OK);
    cfg.rounds = 3;
    p4_sim_result r[2];
    for (int t = 0; t < 2; t++) {
        p4_sim_options opt = { .method = P4_METHOD_P4, .epsilon = 4.0, .threads = t ? 3 : 1,
                               .reproducible = 1 };
        if (p4_sim_run(&cfg, &opt, &r[t], &err) != P4_OK)
            fail_msg("%s", err.message);
    }
    assert_int_equal(r[0].clients, 16);
    assert_memory_equal(r[0].accuracy, r[1].accuracy, 16 * sizeof(double));
    assert_memory_equal(r[0].group_of, r[1].group_of, 16 * sizeof(int));
    p4_sim_result_free(&r[0]);
    p4_sim_result_free(&r[1]);
}

/* The clients in k's group, k included. */
static int group_size_of(const p4_sim_result *r, int k)
{
    int size = 0;
    for (int j = 0; j < r->clients; j++)
        size += r->group_of[j] == r->group_of[k];
    return size;
}

static void sim_p4(const p4_config *cfg, p4_sim_result *r)
{
    p4_error err = {0};
    p4_sim_options opt = { .method = P4_METHOD_P4, .epsilon = 4.0, .threads = 2,
                           .reproducible = 1 };
    if (p4_sim_run(cfg, &opt, r, &err) != P4_OK)
        fail_msg("%s", err.message);
}

/* The seed's one attacker and, as its target, the first client that the
 * honest run grouped elsewhere; sets cfg->attack_target. */
static void choose_liar_and_target(p4_config *cfg, const p4_sim_result *honest, int *liar,
                                   int *target)
{
    p4_error err = {0};
    unsigned char attacker[16];
    assert_int_equal(p4_attack_choose_config(cfg, 16, attacker, &err), P4_OK);
    *liar = -1;
    *target = -1;
    for (int k = 0; k < 16; k++)
        if (attacker[k])
            *liar = k;
    assert_true(*liar >= 0);
    for (int k = 0; k < 16 && *target < 0; k++)
        if (honest->group_of[k] != honest->group_of[*liar])
            *target = k;
    assert_true(*target >= 0);
    cfg->attack_target = *target;
}

/* [attack] grouping_lie = copy-target: one attacker sends a copy of the
 * target's warm-up slice and is grouped with a target it was not grouped
 * with honestly; with [p4] duplicate_slice_ratio the copy is caught and both
 * train alone, while an honest run groups exactly as without the guard. */
static void a_grouping_lie_joins_the_target_and_the_guard_catches_it(void **state)
{
    if (!test_dataset_path(FMNIST)) TEST_SKIP(FMNIST " is absent");
    (void)state;
    p4_config cfg;
    p4_error err = {0};
    assert_int_equal(p4_config_load("configs/fmnist-p4.ini", &cfg, &err), P4_OK);
    cfg.rounds = 1;
    p4_sim_result honest, guarded_honest, lie, guarded_lie;
    sim_p4(&cfg, &honest);
    cfg.duplicate_slice_ratio = 0.05;
    sim_p4(&cfg, &guarded_honest);
    assert_memory_equal(honest.group_of, guarded_honest.group_of, 16 * sizeof(int));
    assert_memory_equal(honest.accuracy, guarded_honest.accuracy, 16 * sizeof(double));

    cfg.attack_fraction = 1.0 / 16;
    snprintf(cfg.grouping_lie, sizeof cfg.grouping_lie, "copy-target");
    int liar, target;
    choose_liar_and_target(&cfg, &honest, &liar, &target);
    cfg.duplicate_slice_ratio = 0;
    sim_p4(&cfg, &lie);
    assert_int_equal(lie.attackers, 1);
    assert_int_equal(lie.attacker[liar], 1);
    assert_int_equal(lie.group_of[liar], lie.group_of[target]);
    cfg.duplicate_slice_ratio = 0.05;
    sim_p4(&cfg, &guarded_lie);
    assert_int_equal(group_size_of(&guarded_lie, liar), 1);
    assert_int_equal(group_size_of(&guarded_lie, target), 1);
    for (int k = 0; k < 16; k++)
        if (k != liar && k != target)
            assert_true(group_size_of(&guarded_lie, k) > 1);
    p4_sim_result_free(&honest);
    p4_sim_result_free(&guarded_honest);
    p4_sim_result_free(&lie);
    p4_sim_result_free(&guarded_lie);
}

/* [p4] grouping_commit: honest peers group exactly as without it; a noisy
 * copy (lie_noise 1e-3, about 0.65 of the median distance from its target)
 * that the guard at r = 0.5 lets into the target's group cannot open the
 * commitment it had to make before it saw any slice, and trains alone;
 * the target keeps a group. */
static void a_noisy_copy_gets_in_unless_the_slices_are_committed(void **state)
{
    if (!test_dataset_path(FMNIST)) TEST_SKIP(FMNIST " is absent");
    (void)state;
    p4_config cfg;
    p4_error err = {0};
    assert_int_equal(p4_config_load("configs/fmnist-p4.ini", &cfg, &err), P4_OK);
    cfg.rounds = 1;
    p4_sim_result honest, committed_honest, lie, committed_lie;
    sim_p4(&cfg, &honest);
    cfg.grouping_commit = 1;
    sim_p4(&cfg, &committed_honest);
    assert_memory_equal(honest.group_of, committed_honest.group_of, 16 * sizeof(int));
    assert_memory_equal(honest.accuracy, committed_honest.accuracy, 16 * sizeof(double));

    cfg.attack_fraction = 1.0 / 16;
    snprintf(cfg.grouping_lie, sizeof cfg.grouping_lie, "copy-target");
    cfg.lie_noise = 1e-3;
    cfg.duplicate_slice_ratio = 0.5;
    int liar, target;
    choose_liar_and_target(&cfg, &honest, &liar, &target);
    cfg.grouping_commit = 0;
    sim_p4(&cfg, &lie);
    assert_int_equal(lie.group_of[liar], lie.group_of[target]);
    assert_true(group_size_of(&lie, target) > 1);
    cfg.grouping_commit = 1;
    sim_p4(&cfg, &committed_lie);
    assert_int_equal(group_size_of(&committed_lie, liar), 1);
    for (int k = 0; k < 16; k++)
        if (k != liar)
            assert_true(group_size_of(&committed_lie, k) > 1);
    p4_sim_result_free(&honest);
    p4_sim_result_free(&committed_honest);
    p4_sim_result_free(&lie);
    p4_sim_result_free(&committed_lie);
}

/* [p4] widen_group_size: fmnist-p4's clustered warm-up groups (separation
 * about 1.2 at epsilon 4) stay as they are at the default widen_separation;
 * a threshold above that separation widens them to groups of up to 8. */
static void groups_widen_only_without_structure(void **state)
{
    if (!test_dataset_path(FMNIST)) TEST_SKIP(FMNIST " is absent");
    (void)state;
    p4_config cfg;
    p4_error err = {0};
    assert_int_equal(p4_config_load("configs/fmnist-p4.ini", &cfg, &err), P4_OK);
    cfg.rounds = 1;
    p4_sim_result plain, kept, widened;
    sim_p4(&cfg, &plain);
    cfg.widen_group_size = 8;
    sim_p4(&cfg, &kept);
    assert_memory_equal(plain.group_of, kept.group_of, 16 * sizeof(int));
    cfg.widen_separation = 100;
    sim_p4(&cfg, &widened);
    int largest = 0;
    for (int k = 0; k < 16; k++) {
        assert_true(group_size_of(&plain, k) <= 4);
        largest = group_size_of(&widened, k) > largest ? group_size_of(&widened, k) : largest;
    }
    if (largest <= 4)
        fail_msg("widen_separation 100 should regroup at size 8; largest group %d", largest);
    assert_true(largest <= 8);
    p4_sim_result_free(&plain);
    p4_sim_result_free(&kept);
    p4_sim_result_free(&widened);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(inproc_deadline_and_abort),
        cmocka_unit_test_setup_teardown(hostile_messages_are_dropped, test_temp_dir_setup,
                                        test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(proxyfl_replaces_and_proxyfl_avg_averages,
                                        test_temp_dir_setup, test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(signflip_attacker_sends_the_reversed_move,
                                        test_temp_dir_setup, test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(a_dead_peer_is_left_out, test_temp_dir_setup,
                                        test_temp_dir_teardown),
        cmocka_unit_test(sim_result_does_not_depend_on_threads),
        cmocka_unit_test(a_grouping_lie_joins_the_target_and_the_guard_catches_it),
        cmocka_unit_test(a_noisy_copy_gets_in_unless_the_slices_are_committed),
        cmocka_unit_test(groups_widen_only_without_structure),
        cmocka_unit_test_setup_teardown(a_proxy_diverging_after_averaging_reverts_to_its_own,
                                        test_temp_dir_setup, test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(a_frozen_projection_is_never_taken_from_peers,
                                        test_temp_dir_setup, test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(a_resumed_own_proxy_must_fit, test_temp_dir_setup,
                                        test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(a_proxy_diverging_from_its_own_still_stops,
                                        test_temp_dir_setup, test_temp_dir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
