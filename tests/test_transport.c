/* test_transport.c: the in-process hub under threads and deadlines, and the
 * ZeroMQ transport on 127.0.0.1: CURVE both ways, an unlisted key refused
 * and logged, hostile frames from an admitted key dropped while the node
 * keeps working.  Every wait has a deadline of a few seconds. */
#include "support/test_support.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "cluster/identity.h"
#include "cluster/receiver.h"
#include "cluster/transport_inproc.h"
#include "cluster/transport_zmq.h"
#include "cluster/wire.h"
#include "common/progress.h"

/* ---- in-process ---- */

static void test_inproc_delivers_with_sender_and_honours_deadline(void **state)
{
    (void)state;
    p4_inproc_hub *hub;
    p4_transport *a, *b;
    p4_error err;
    assert_int_equal(p4_inproc_hub_new(&hub, 0, NULL), P4_EINVAL);
    assert_int_equal(p4_inproc_hub_new(&hub, 3, NULL), P4_OK);
    assert_int_equal(p4_inproc_hub_transport(hub, 0, &a, NULL), P4_OK);
    assert_int_equal(p4_inproc_hub_transport(hub, 2, &b, NULL), P4_OK);
    assert_int_equal(p4_inproc_hub_transport(hub, 3, &b, NULL), P4_EINVAL);
    assert_int_equal(p4_inproc_hub_transport(hub, 2, &b, NULL), P4_OK);

    const uint8_t hello[] = "hello", again[] = "again!";
    assert_int_equal(p4_transport_send(a, 2, hello, sizeof hello, NULL), P4_OK);
    assert_int_equal(p4_transport_send(a, 2, again, sizeof again, NULL), P4_OK);
    assert_int_equal(p4_transport_send(a, 3, hello, sizeof hello, &err), P4_EPEER);
    assert_int_equal(p4_transport_send(a, -1, hello, sizeof hello, &err), P4_EPEER);

    int from = -5;
    uint8_t *bytes;
    size_t len;
    double deadline = p4_now_seconds() + 5.0;
    assert_int_equal(p4_transport_recv(b, deadline, &from, &bytes, &len, NULL), P4_OK);
    assert_int_equal(from, 0);
    assert_int_equal(len, sizeof hello);
    assert_memory_equal(bytes, hello, len);
    free(bytes);
    assert_int_equal(p4_transport_recv(b, deadline, &from, &bytes, &len, NULL), P4_OK);
    assert_memory_equal(bytes, again, len); /* in order */
    free(bytes);

    /* Nothing queued: the call returns at (not before) the deadline. */
    double short_deadline = p4_now_seconds() + 0.05;
    assert_int_equal(p4_transport_recv(b, short_deadline, &from, &bytes, &len, &err),
                     P4_ETIMEOUT);
    assert_true(p4_now_seconds() >= short_deadline);
    assert_null(bytes);
    /* A deadline already past still takes what is queued. */
    assert_int_equal(p4_transport_send(b, 0, hello, sizeof hello, NULL), P4_OK);
    assert_int_equal(p4_transport_recv(a, 0.0, &from, &bytes, &len, NULL), P4_OK);
    assert_int_equal(from, 2);
    free(bytes);

    p4_transport_stats s;
    p4_transport_get_stats(a, &s);
    assert_int_equal(s.messages_sent, 2);
    assert_int_equal(s.bytes_sent, sizeof hello + sizeof again);
    assert_int_equal(s.messages_received, 1);
    assert_int_equal(s.refused, 2);

    /* A closed endpoint refuses messages until it is handed out again. */
    p4_transport_destroy(&b);
    assert_null(b);
    assert_int_equal(p4_transport_send(a, 2, hello, sizeof hello, &err), P4_EPEER);
    assert_int_equal(p4_inproc_hub_transport(hub, 2, &b, NULL), P4_OK);
    assert_int_equal(p4_transport_send(a, 2, hello, sizeof hello, NULL), P4_OK);
    uint8_t key[32];
    assert_int_equal(p4_transport_last_sender_key(a, key, NULL), P4_EUNSUPPORTED);
    p4_inproc_hub_destroy(&hub); /* frees the queued message too */
    assert_null(hub);
}

#define THREADS 6
#define PER_PEER 200

typedef struct worker {
    p4_inproc_hub *hub;
    int id;
    int received_from[THREADS];
    int in_order;
    int failures;
} worker;

/* Each worker sends PER_PEER numbered messages to every other worker, then
 * receives everything meant for it, checking per-sender order. */
static void *worker_main(void *arg)
{
    worker *w = arg;
    p4_transport *t;
    if (p4_inproc_hub_transport(w->hub, w->id, &t, NULL) != P4_OK) {
        w->failures++;
        return NULL;
    }
    uint8_t msg[1024];
    for (int k = 0; k < PER_PEER; k++)
        for (int to = 0; to < THREADS; to++) {
            if (to == w->id)
                continue;
            memset(msg, k & 0xff, sizeof msg);
            memcpy(msg, &k, sizeof k);
            msg[sizeof k] = (uint8_t)w->id;
            if (p4_transport_send(t, to, msg, sizeof msg, NULL) != P4_OK)
                w->failures++;
        }
    int next[THREADS] = {0};
    w->in_order = 1;
    double deadline = p4_now_seconds() + 20.0;
    for (int n = 0; n < (THREADS - 1) * PER_PEER; n++) {
        int from;
        uint8_t *bytes;
        size_t len;
        if (p4_transport_recv(t, deadline, &from, &bytes, &len, NULL) != P4_OK) {
            w->failures++;
            break;
        }
        int k;
        memcpy(&k, bytes, sizeof k);
        if (len != sizeof msg || from < 0 || from >= THREADS || bytes[sizeof k] != from ||
            bytes[len - 1] != (k & 0xff))
            w->failures++;
        else {
            if (k != next[from])
                w->in_order = 0;
            next[from] = k + 1;
            w->received_from[from]++;
        }
        free(bytes);
    }
    return NULL;
}

static void test_inproc_hub_under_threads(void **state)
{
    (void)state;
    p4_inproc_hub *hub;
    assert_int_equal(p4_inproc_hub_new(&hub, THREADS, NULL), P4_OK);
    worker w[THREADS];
    pthread_t threads[THREADS];
    for (int i = 0; i < THREADS; i++) {
        memset(&w[i], 0, sizeof w[i]);
        w[i].hub = hub;
        w[i].id = i;
        assert_int_equal(pthread_create(&threads[i], NULL, worker_main, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(threads[i], NULL);
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(w[i].failures, 0);
        assert_true(w[i].in_order);
        for (int j = 0; j < THREADS; j++)
            assert_int_equal(w[i].received_from[j], j == i ? 0 : PER_PEER);
        p4_transport *t;
        p4_transport_stats s;
        assert_int_equal(p4_inproc_hub_transport(hub, i, &t, NULL), P4_OK);
        p4_transport_get_stats(t, &s);
        assert_int_equal(s.messages_sent, (THREADS - 1) * PER_PEER);
        assert_int_equal(s.bytes_received, (uint64_t)(THREADS - 1) * PER_PEER * 1024);
    }
    p4_inproc_hub_destroy(&hub);
}

/* ---- ZeroMQ ---- */

typedef struct node {
    p4_identity identity;
    p4_transport *t;
    char *log_text;
    size_t log_size;
    FILE *log;
} node;

static void make_identity(p4_identity *id)
{
    char pub[41], sec[41];
    assert_int_equal(zmq_curve_keypair(pub, sec), 0);
    assert_int_equal(p4_key_from_z85(pub, id->public_key, NULL), P4_OK);
    assert_int_equal(p4_key_from_z85(sec, id->secret_key, NULL), P4_OK);
}

static void start_node(node *n, int id, uint8_t (*allow)[32], size_t allow_count,
                       size_t max_message_bytes)
{
    n->log = open_memstream(&n->log_text, &n->log_size);
    p4_zmq_transport_options o = {
        .id = id,
        .listen = "tcp://127.0.0.1:0",
        .identity = &n->identity,
        .allow = (const uint8_t(*)[32])allow,
        .allow_count = allow_count,
        .log = n->log,
        .max_message_bytes = max_message_bytes,
        .linger_ms = -1,
    };
    p4_error err;
    if (p4_zmq_transport_new(&n->t, &o, &err) != P4_OK)
        fail_msg("node %d: %s", id, err.message);
    const char *endpoint = p4_zmq_transport_endpoint(n->t);
    assert_non_null(endpoint);
    assert_null(strstr(endpoint, ":0")); /* port resolved */
    assert_non_null(strstr(endpoint, "tcp://127.0.0.1:"));
}

static void stop_node(node *n)
{
    p4_transport_destroy(&n->t);
    fclose(n->log);
    free(n->log_text);
}

/* Receives one message on t within 5 s, checks it equals want (n bytes),
 * and returns the sender id the transport reported. */
static int expect_message(p4_transport *t, const void *want, size_t n)
{
    int from = -5;
    uint8_t *bytes = NULL;
    size_t len = 0;
    p4_error err;
    if (p4_transport_recv(t, p4_now_seconds() + 5.0, &from, &bytes, &len, &err) != P4_OK)
        fail_msg("recv: %s", err.message);
    assert_int_equal(len, n);
    assert_memory_equal(bytes, want, n);
    free(bytes);
    return from;
}

static void link_to(node *from, int to_id, node *to)
{
    p4_error err;
    if (p4_transport_add_peer(from->t, to_id, p4_zmq_transport_endpoint(to->t),
                              to->identity.public_key, &err) != P4_OK)
        fail_msg("add_peer %d: %s", to_id, err.message);
}

/* Nodes 0 and 1 with fresh keys, each admitting and bound to the other. */
static void start_pair(node *a, node *b)
{
    make_identity(&a->identity);
    make_identity(&b->identity);
    start_node(a, 0, &b->identity.public_key, 1, 0);
    start_node(b, 1, &a->identity.public_key, 1, 0);
    link_to(a, 1, b);
    link_to(b, 0, a);
}

static void test_zmq_curve_both_ways(void **state)
{
    (void)state;
    if (!zmq_has("curve"))
        TEST_SKIP("libzmq without CURVE");
    node a = {0}, b = {0};
    start_pair(&a, &b);

    p4_error err;
    const uint8_t ping[] = "ping from 0", pong[] = "pong from node 1";
    assert_int_equal(p4_transport_send(a.t, 1, ping, sizeof ping, NULL), P4_OK);
    assert_int_equal(p4_transport_send(a.t, 5, ping, sizeof ping, &err), P4_EPEER);
    assert_int_equal(expect_message(b.t, ping, sizeof ping), 0);
    uint8_t key[32];
    assert_int_equal(p4_transport_last_sender_key(b.t, key, NULL), P4_OK);
    assert_memory_equal(key, a.identity.public_key, 32);

    assert_int_equal(p4_transport_send(b.t, 0, pong, sizeof pong, NULL), P4_OK);
    assert_int_equal(expect_message(a.t, pong, sizeof pong), 1);

    /* A large message (a 200k-float proxy) arrives whole. */
    size_t big = 200000 * 4;
    uint8_t *payload = malloc(big);
    for (size_t i = 0; i < big; i++)
        payload[i] = (uint8_t)(i * 131);
    assert_int_equal(p4_transport_send(a.t, 1, payload, big, NULL), P4_OK);
    assert_int_equal(expect_message(b.t, payload, big), 0);
    free(payload);

    /* Nothing more: a deadline ends the wait. */
    int from;
    uint8_t *bytes;
    size_t len;
    assert_int_equal(p4_transport_recv(b.t, p4_now_seconds() + 0.1, &from, &bytes, &len, &err),
                     P4_ETIMEOUT);

    p4_transport_stats sa, sb;
    p4_transport_get_stats(a.t, &sa);
    p4_transport_get_stats(b.t, &sb);
    assert_int_equal(sa.messages_sent, 2);
    assert_int_equal(sa.bytes_sent, sizeof ping + big);
    assert_int_equal(sb.bytes_received, sizeof ping + big);
    assert_int_equal(sa.messages_received, 1);
    assert_int_equal(sa.refused, 1); /* the send to unknown peer 5 */
    assert_int_equal(sb.refused, 0);

    /* A key the config does not allow cannot even be added as a peer. */
    p4_identity stranger;
    make_identity(&stranger);
    assert_int_equal(p4_transport_add_peer(a.t, 2, "tcp://127.0.0.1:1", stranger.public_key,
                                           &err),
                     P4_EPEER);
    assert_non_null(strstr(err.message, "not admitted"));
    stop_node(&a);
    stop_node(&b);
}

static void test_zmq_unlisted_key_is_refused_and_logged(void **state)
{
    (void)state;
    if (!zmq_has("curve"))
        TEST_SKIP("libzmq without CURVE");
    node a = {0}, b = {0}, c = {0};
    make_identity(&a.identity);
    make_identity(&b.identity);
    make_identity(&c.identity);
    start_node(&a, 0, &b.identity.public_key, 1, 0); /* a admits only b */
    start_node(&b, 1, &a.identity.public_key, 1, 0);
    start_node(&c, 2, &a.identity.public_key, 1, 0); /* c would talk to a */
    link_to(&b, 0, &a);
    link_to(&c, 0, &a);

    const uint8_t intrusion[] = "from an unlisted key", legit[] = "from b";
    assert_int_equal(p4_transport_send(c.t, 0, intrusion, sizeof intrusion, NULL), P4_OK);
    /* Wait (bounded) until a's ZAP handler has refused c at least once. */
    p4_transport_stats s = {0};
    double deadline = p4_now_seconds() + 5.0;
    while (s.refused == 0 && p4_now_seconds() < deadline) {
        int from;
        uint8_t *bytes = NULL;
        size_t len;
        int rc = p4_transport_recv(a.t, p4_now_seconds() + 0.05, &from, &bytes, &len, NULL);
        assert_int_equal(rc, P4_ETIMEOUT); /* c's message never arrives */
        p4_transport_get_stats(a.t, &s);
    }
    assert_true(s.refused >= 1);
    assert_int_equal(s.messages_received, 0);
    fflush(a.log);
    char c_z85[P4_KEY_Z85_CHARS + 1];
    p4_key_to_z85(c.identity.public_key, c_z85);
    assert_non_null(strstr(a.log_text, c_z85));
    assert_non_null(strstr(a.log_text, "refused"));

    /* b, listed, still gets through, and c's message still does not. */
    assert_int_equal(p4_transport_send(b.t, 0, legit, sizeof legit, NULL), P4_OK);
    /* Admitted, but a has not bound b's key to an id. */
    assert_int_equal(expect_message(a.t, legit, sizeof legit), -1);
    int from;
    uint8_t *bytes;
    size_t len;
    assert_int_equal(p4_transport_recv(a.t, p4_now_seconds() + 0.2, &from, &bytes, &len, NULL),
                     P4_ETIMEOUT);
    stop_node(&c);
    stop_node(&b);
    stop_node(&a);
}

/* A CURVE-correct client with an admitted key that sends whatever frames it
 * likes: what a compromised or buggy peer can do. */
static void *hostile_socket(void *ctx, const p4_identity *self, const uint8_t server_key[32],
                            const char *endpoint)
{
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    assert_non_null(s);
    int zero = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, server_key, 32);
    zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, self->public_key, 32);
    zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, self->secret_key, 32);
    assert_int_equal(zmq_connect(s, endpoint), 0);
    return s;
}

static uint8_t *heartbeat(int sender, uint64_t sequence, size_t *len)
{
    p4_wire_message m;
    memset(&m, 0, sizeof m);
    m.header.type = P4_WIRE_HEARTBEAT;
    m.header.sender_id = (uint32_t)sender;
    m.header.round = 2;
    m.header.sequence = sequence;
    m.body.heartbeat.phase = P4_PHASE_TRAINING;
    uint8_t *bytes;
    assert_int_equal(p4_wire_encode_alloc(&m, &bytes, len, NULL), P4_OK);
    return bytes;
}

static void test_zmq_hostile_frames_are_dropped_and_node_keeps_working(void **state)
{
    (void)state;
    if (!zmq_has("curve"))
        TEST_SKIP("libzmq without CURVE");
    node a = {0};
    p4_identity h, b;
    make_identity(&a.identity);
    make_identity(&h);
    make_identity(&b);
    uint8_t allow[2][32];
    memcpy(allow[0], h.public_key, 32);
    memcpy(allow[1], b.public_key, 32);
    const size_t limit = 64 * 1024; /* a small frame limit to test it cheaply */
    start_node(&a, 0, allow, 2, limit);
    /* a knows the hostile key as peer 1 (a bad peer, not a stranger). */
    assert_int_equal(p4_transport_add_peer(a.t, 1, "tcp://127.0.0.1:9", h.public_key, NULL),
                     P4_OK);
    p4_replay_guard *guard;
    assert_int_equal(p4_replay_guard_new(&guard, 4, NULL), P4_OK);
    p4_receiver r = {a.t, guard, a.log, 0, 0};

    void *ctx = zmq_ctx_new();
    void *s = hostile_socket(ctx, &h, a.identity.public_key, p4_zmq_transport_endpoint(a.t));
    size_t len;
    uint8_t *good = heartbeat(1, 10, &len);
    uint8_t junk[100];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (uint8_t)(i * 7 + 3);
    uint8_t *lying = malloc(len);
    memcpy(lying, good, len);
    lying[24] = 0xff; /* payload length far beyond the frame */
    uint8_t *forged = heartbeat(2, 11, &len); /* claims to be node 2 */

    assert_int_equal(zmq_send(s, junk, sizeof junk, 0), (int)sizeof junk);        /* garbage   */
    assert_int_equal(zmq_send(s, good, len - 1, 0), (int)len - 1);                /* truncated */
    assert_int_equal(zmq_send(s, lying, len, 0), (int)len);                       /* oversized */
    assert_int_equal(zmq_send(s, good, len, ZMQ_SNDMORE), (int)len);              /* 2 frames  */
    assert_int_equal(zmq_send(s, good, len, 0), (int)len);
    assert_int_equal(zmq_send(s, "", 0, 0), 0);                                   /* empty     */
    assert_int_equal(zmq_send(s, forged, len, 0), (int)len);                      /* forged id */
    assert_int_equal(zmq_send(s, good, len, 0), (int)len);                        /* good      */
    assert_int_equal(zmq_send(s, good, len, 0), (int)len);                        /* replayed  */

    p4_wire_message m;
    int from = -5;
    p4_error err;
    double deadline = p4_now_seconds() + 5.0;
    if (p4_receiver_next(&r, deadline, &m, &from, &err) != P4_OK)
        fail_msg("receiver: %s", err.message);
    assert_int_equal(from, 1);
    assert_true(m.header.sequence == 10);
    p4_wire_message_clear(&m);
    assert_int_equal(r.dropped, 4); /* garbage, truncated, oversized, forged */
    /* The replay is dropped too; nothing else comes. */
    assert_int_equal(p4_receiver_next(&r, p4_now_seconds() + 0.3, &m, &from, NULL), P4_ETIMEOUT);
    assert_int_equal(r.dropped, 5);

    /* A frame over the transport's limit: ZeroMQ drops it with the
     * connection; the peer reconnects, and a later good message arrives. */
    uint8_t *huge = calloc(limit + 1, 1);
    assert_int_equal(zmq_send(s, huge, limit + 1, 0), (int)limit + 1);
    free(huge);
    int arrived = 0;
    uint64_t sequence = 20;
    deadline = p4_now_seconds() + 8.0;
    while (!arrived && p4_now_seconds() < deadline) {
        free(good);
        good = heartbeat(1, sequence++, &len);
        zmq_send(s, good, len, ZMQ_DONTWAIT);
        if (p4_receiver_next(&r, p4_now_seconds() + 0.25, &m, &from, NULL) == P4_OK) {
            arrived = m.header.sequence >= 20;
            p4_wire_message_clear(&m);
        }
    }
    assert_true(arrived);
    fflush(a.log);
    assert_non_null(strstr(a.log_text, "bad magic"));
    assert_non_null(strstr(a.log_text, "truncated"));
    assert_non_null(strstr(a.log_text, "frames"));
    assert_non_null(strstr(a.log_text, "claims sender 2"));
    assert_non_null(strstr(a.log_text, "replayed"));

    zmq_close(s);
    zmq_ctx_term(ctx);
    free(good);
    free(lying);
    free(forged);
    p4_replay_guard_destroy(&guard);
    stop_node(&a);
}

static void test_zmq_without_curve_for_benchmarks(void **state)
{
    (void)state;
    node a = {0}, b = {0};
    make_identity(&a.identity);
    make_identity(&b.identity);
    p4_zmq_transport_options o = {.id = 0, .listen = "tcp://127.0.0.1:0",
                                  .identity = &a.identity, .insecure_no_curve = 1,
                                  .linger_ms = -1};
    a.log = open_memstream(&a.log_text, &a.log_size);
    o.log = a.log;
    assert_int_equal(p4_zmq_transport_new(&a.t, &o, NULL), P4_OK);
    o.id = 1;
    o.identity = &b.identity;
    b.log = open_memstream(&b.log_text, &b.log_size);
    o.log = b.log;
    assert_int_equal(p4_zmq_transport_new(&b.t, &o, NULL), P4_OK);
    fflush(a.log);
    assert_non_null(strstr(a.log_text, "CURVE is OFF"));
    assert_int_equal(p4_transport_add_peer(b.t, 0, p4_zmq_transport_endpoint(a.t), NULL, NULL),
                     P4_OK);
    const uint8_t msg[] = "plain";
    assert_int_equal(p4_transport_send(b.t, 0, msg, sizeof msg, NULL), P4_OK);
    assert_int_equal(expect_message(a.t, msg, sizeof msg), 1); /* b's claim: unauthenticated */
    uint8_t key[32];
    assert_int_equal(p4_transport_last_sender_key(a.t, key, NULL), P4_EUNSUPPORTED);
    stop_node(&a);
    stop_node(&b);
}

static void test_zmq_peer_restarting_on_a_new_port_is_rebound(void **state)
{
    (void)state;
    if (!zmq_has("curve"))
        TEST_SKIP("libzmq without CURVE");
    node a = {0}, b = {0};
    start_pair(&a, &b);
    const uint8_t first[] = "before the restart", second[] = "after the restart";
    assert_int_equal(p4_transport_send(a.t, 1, first, sizeof first, NULL), P4_OK);
    assert_int_equal(expect_message(b.t, first, sizeof first), 0);

    /* b restarts with the same key on another port; a learns the new endpoint. */
    stop_node(&b);
    start_node(&b, 1, &a.identity.public_key, 1, 0);
    link_to(&b, 0, &a);
    link_to(&a, 1, &b);
    link_to(&a, 1, &b); /* the same binding again changes nothing */
    assert_int_equal(p4_transport_send(a.t, 1, second, sizeof second, NULL), P4_OK);
    assert_int_equal(expect_message(b.t, second, sizeof second), 0);
    assert_int_equal(p4_transport_send(b.t, 0, second, sizeof second, NULL), P4_OK);
    assert_int_equal(expect_message(a.t, second, sizeof second), 1);

    /* One key cannot be two peers. */
    p4_error err;
    assert_int_equal(p4_transport_add_peer(a.t, 2, "tcp://127.0.0.1:9", b.identity.public_key,
                                           &err),
                     P4_EPEER);
    assert_non_null(strstr(err.message, "already belongs to peer 1"));
    stop_node(&a);
    stop_node(&b);
}

static void test_zmq_bad_options_fail_cleanly(void **state)
{
    (void)state;
    if (!zmq_has("curve"))
        TEST_SKIP("libzmq without CURVE");
    p4_identity id;
    make_identity(&id);
    p4_transport *t = NULL, *first = NULL;
    p4_error err;
    p4_zmq_transport_options o = {.id = 0, .listen = "tcp://127.0.0.1:0", .log = stderr};
    assert_int_equal(p4_zmq_transport_new(&t, &o, &err), P4_EINVAL); /* no key pair */
    assert_non_null(strstr(err.message, "key pair"));
    o.identity = &id;
    o.id = P4_WIRE_MAX_NODES;
    assert_int_equal(p4_zmq_transport_new(&t, &o, &err), P4_EINVAL);
    o.id = 0;
    o.listen = "tcp://256.1.2.3:0";
    assert_int_equal(p4_zmq_transport_new(&t, &o, &err), P4_ENET);
    assert_non_null(strstr(err.message, "cannot listen on tcp://256.1.2.3:0"));
    assert_null(t);
    /* A port already taken. */
    o.listen = "tcp://127.0.0.1:0";
    assert_int_equal(p4_zmq_transport_new(&first, &o, NULL), P4_OK);
    o.listen = p4_zmq_transport_endpoint(first);
    assert_int_equal(p4_zmq_transport_new(&t, &o, &err), P4_ENET);
    assert_null(t);
    o.listen = "tcp://127.0.0.1:0";
    assert_int_equal(p4_transport_add_peer(first, 1, "tcp://127.0.0.1:9", id.public_key, &err),
                     P4_EPEER); /* not admitted yet */
    assert_int_equal(p4_zmq_transport_allow(first, id.public_key, NULL), P4_OK);
    assert_int_equal(p4_transport_add_peer(first, 1, "nonsense://x", id.public_key, &err),
                     P4_EINVAL);
    assert_int_equal(p4_transport_add_peer(first, 1, "tcp://127.0.0.1:9", id.public_key, &err),
                     P4_OK);
    assert_int_equal(p4_transport_add_peer(first, 1, "", id.public_key, &err), P4_EINVAL);
    p4_transport_destroy(&first);
    assert_null(p4_zmq_transport_endpoint(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inproc_delivers_with_sender_and_honours_deadline),
        cmocka_unit_test(test_inproc_hub_under_threads),
        cmocka_unit_test(test_zmq_curve_both_ways),
        cmocka_unit_test(test_zmq_unlisted_key_is_refused_and_logged),
        cmocka_unit_test(test_zmq_hostile_frames_are_dropped_and_node_keeps_working),
        cmocka_unit_test(test_zmq_peer_restarting_on_a_new_port_is_rebound),
        cmocka_unit_test(test_zmq_without_curve_for_benchmarks),
        cmocka_unit_test(test_zmq_bad_options_fail_cleanly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
