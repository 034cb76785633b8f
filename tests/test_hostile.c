/* test_hostile.c: hostile peers against live `p4 node` processes (issue 12).
 *
 * Three members, method proxyfl-avg (no grouping, so a member that never
 * sends an honest proxy is only "missing"): nodes 0 and 1 are real `p4 node`
 * processes over loopback ZeroMQ with CURVE; member 2 is this test, with its
 * own key in the nodes' peers lists, speaking through the ZeroMQ transport
 * API.  While the nodes train, member 2 sends each of them random garbage, a
 * truncated PROXY, a message with a forged sender id, a message and then its
 * replay (same epoch and sequence), a PROXY with a NaN patched into its
 * bytes and a message of another protocol version; a raw CURVE connection
 * with member 2's key sends a frame over the size limit; and a stranger
 * whose key no node lists sends valid-looking messages.  Member 2 keeps
 * sending HEARTBEATs until the nodes have closed the oversized frame's
 * connections, then goes quiet, and the nodes leave it out as silent (no
 * fixed timeout decides whether they are still running by then).  Both
 * nodes must finish (exit 0, `p4 status` says finished), log a drop for each
 * kind, count member 2 as missing (so nothing the stranger sent counted), and
 * log the stranger's refused key. */
#include "support/test_support.h"
#include "support/test_nodes.h"
#include "support/test_watchdog.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <zmq.h>

#include "cluster/identity.h"
#include "cluster/transport_zmq.h"
#include "cluster/wire.h"
#include "common/rng.h"
#include "common/progress.h"

#define FMNIST "/usr/share/datasets/fashion-mnist"
/* Bounds, generous for a load average of 20 and more; what the nodes wait
 * for is an event the test makes (member 2 going quiet), not a time. */
#define EXCHANGE_SECONDS 300.0 /* [node] timeout: one exchange between nodes 0 and 1 */
#define SILENT_SECONDS 20.0    /* [node] dead_after: member 2 quiet this long is left out */
#define OVERSIZE_SECONDS 200.0 /* the oversized frames' disconnects (< EXCHANGE_SECONDS) */
#define NODE_SECONDS 760.0     /* the nodes' whole run, from the test's start: under
                                  TEST_WATCHDOG_SECONDS, so a hang shows its phase */

static void make_identity(const char *dir, const char *name, char *path, size_t size,
                          p4_identity *id, char key[P4_KEY_Z85_CHARS + 1])
{
    snprintf(path, size, "%s/%s", dir, name);
    test_node_identity(path, key, id);
}

/* A ZeroMQ transport for member `id` with identity `me`, admitting nodes 0
 * and 1; it listens now (its endpoint goes into the nodes' configs), and
 * connect_nodes binds it to them once they listen: a connect retried while a
 * node is not yet up could take the node's port as its own. */
static p4_transport *member_transport(int id, const p4_identity *me, const p4_identity nodes[2])
{
    uint8_t allow[2][32];
    memcpy(allow[0], nodes[0].public_key, 32);
    memcpy(allow[1], nodes[1].public_key, 32);
    char listen[64];
    snprintf(listen, sizeof listen, "tcp://127.0.0.1:%d", test_free_port());
    p4_zmq_transport_options o = { .id = id, .listen = listen, .identity = me,
                                   .allow = (const uint8_t(*)[32])allow, .allow_count = 2,
                                   .linger_ms = 1000 };
    p4_transport *t = NULL;
    p4_error err = {0};
    if (p4_zmq_transport_new(&t, &o, &err) != P4_OK)
        fail_msg("%s", err.message);
    return t;
}

static void connect_nodes(p4_transport *t, const p4_identity nodes[2], const char *endpoints[2])
{
    p4_error err = {0};
    for (int j = 0; j < 2; j++)
        if (p4_transport_add_peer(t, j, endpoints[j], nodes[j].public_key, &err) != P4_OK)
            fail_msg("%s", err.message);
}

static void send_bytes(p4_transport *t, int to, const uint8_t *bytes, size_t len)
{
    p4_error err = {0};
    if (p4_transport_send(t, to, bytes, len, &err) != P4_OK)
        fail_msg("send to node %d: %s", to, err.message);
}

/* Encodes m (the caller's arrays) into a malloc'ed buffer. */
static uint8_t *encode(const p4_wire_message *m, size_t *len)
{
    uint8_t *buf = NULL;
    p4_error err = {0};
    if (p4_wire_encode_alloc(m, &buf, len, &err) != P4_OK)
        fail_msg("%s", err.message);
    return buf;
}

static p4_wire_message header(int type, uint32_t sender, int round, uint64_t sequence)
{
    p4_wire_message m;
    memset(&m, 0, sizeof m);
    m.header.type = (uint8_t)type;
    m.header.sender_id = sender;
    m.header.sender_epoch = 1;
    m.header.round = round;
    m.header.sequence = sequence;
    return m;
}

/* Member 2's hostile messages to node `to`.  Each is dropped by the node
 * for a different reason; the test later looks for each reason in its log. */
static void send_hostile(p4_transport *t, int to, p4_rng *rng)
{
    float values[16];
    for (int i = 0; i < 16; i++)
        values[i] = 0.01f * (float)i;
    size_t len;
    uint8_t garbage[300];
    p4_rng_bytes(rng, garbage, sizeof garbage);
    send_bytes(t, to, garbage, sizeof garbage);

    p4_wire_message m = header(P4_WIRE_PROXY, 2, 0, 1);
    m.body.proxy = (p4_wire_vector){ values, 16 };
    uint8_t *b = encode(&m, &len);
    send_bytes(t, to, b, len - 7); /* truncated */
    free(b);

    m = header(P4_WIRE_HEARTBEAT, 1, 0, 2); /* claims to be node 1 */
    m.body.heartbeat.phase = P4_PHASE_TRAINING;
    b = encode(&m, &len);
    send_bytes(t, to, b, len);
    free(b);

    m = header(P4_WIRE_HEARTBEAT, 2, 0, 3); /* valid, then replayed */
    m.body.heartbeat.phase = P4_PHASE_TRAINING;
    b = encode(&m, &len);
    send_bytes(t, to, b, len);
    send_bytes(t, to, b, len);
    free(b);

    m = header(P4_WIRE_PROXY, 2, 0, 4);
    m.body.proxy = (p4_wire_vector){ values, 16 };
    b = encode(&m, &len);
    float nan = NAN;
    memcpy(b + P4_WIRE_HEADER_BYTES + 4 + 5 * sizeof(float), &nan, sizeof nan);
    send_bytes(t, to, b, len);
    free(b);

    m = header(P4_WIRE_HEARTBEAT, 2, 0, 5);
    m.body.heartbeat.phase = P4_PHASE_TRAINING;
    b = encode(&m, &len);
    b[2] = P4_WIRE_VERSION + 1; /* the version byte follows the 2-byte magic */
    send_bytes(t, to, b, len);
    free(b);
}

/* The stranger's valid-looking messages: a HEARTBEAT and a PROXY for round
 * 0 in member 2's name, as if it were member 2.  Its sends may fail (the
 * node refuses its key, so the connection never comes up and the queue
 * fills): returns how many the transport took. */
static int send_as_stranger(p4_transport *t, int to)
{
    float values[16] = { 0 };
    size_t len;
    int taken = 0;
    p4_error err = {0};
    p4_wire_message m = header(P4_WIRE_HEARTBEAT, 2, -1, 100);
    m.body.heartbeat.phase = P4_PHASE_TRAINING;
    uint8_t *b = encode(&m, &len);
    taken += p4_transport_send(t, to, b, len, &err) == P4_OK;
    free(b);
    m = header(P4_WIRE_PROXY, 2, 0, 101);
    m.body.proxy = (p4_wire_vector){ values, 16 };
    b = encode(&m, &len);
    taken += p4_transport_send(t, to, b, len, &err) == P4_OK;
    free(b);
    return taken;
}

/* Member 2's HEARTBEATs (sequence 10 on: after send_hostile's), one to
 * each node every second, while the test still needs the nodes running:
 * they wait for member 2's proxies (which never come) as long as it is
 * heard, and leave it out `dead_after` seconds after its last heartbeat.
 * So the nodes' run lasts as long as the oversize check needs, however
 * long a loaded machine takes to encrypt and write 64 MB, instead of a
 * fixed `timeout` that such a machine can overrun. */
typedef struct keep_alive {
    p4_transport *member2;
    uint64_t sequence;
    double next;
} keep_alive;

static void keep_alive_beat(keep_alive *k)
{
    double now = p4_now_seconds();
    if (now < k->next)
        return;
    k->next = now + 1.0;
    for (int to = 0; to < 2; to++) {
        p4_wire_message m = header(P4_WIRE_HEARTBEAT, 2, 0, k->sequence++);
        m.body.heartbeat.phase = P4_PHASE_TRAINING;
        size_t len;
        uint8_t *b = encode(&m, &len);
        p4_error err = {0};
        p4_transport_send(k->member2, to, b, len, &err); /* a full queue: the next beat */
        free(b);
    }
    /* and whatever the nodes sent member 2, so nothing queues up */
    for (;;) {
        int from;
        uint8_t *bytes = NULL;
        size_t len;
        p4_error err = {0};
        if (p4_transport_recv(k->member2, now, &from, &bytes, &len, &err) != P4_OK)
            break;
        free(bytes);
    }
}

/* Raw CURVE DEALERs with member 2's (admitted) key, one per node, each
 * watched by a socket monitor; both send the one zeroed frame. */
typedef struct oversize {
    void *ctx, *dealer[2], *monitor[2];
    uint8_t *frame;
} oversize;

/* Connects to each node and queues one frame of limit + 1 bytes to it
 * (zero-copy: the CPU goes to CURVE's encryption alone).  Encrypting and
 * writing 64 MB takes a while on a loaded machine, so this starts first
 * and oversize_wait watches it after the other sends. */
static void oversize_start(oversize *o, const char *endpoints[2], const p4_identity nodes[2],
                           const p4_identity *me)
{
    int zero = 0, timeout_ms = 50;
    size_t big = (size_t)P4_WIRE_MAX_MESSAGE_BYTES + 1;
    o->frame = calloc(1, big);
    assert_non_null(o->frame);
    o->ctx = zmq_ctx_new();
    assert_non_null(o->ctx);
    zmq_ctx_set(o->ctx, ZMQ_IO_THREADS, 2); /* one per 64 MB frame */
    /* node 1 first: it is the first to finish */
    for (int i = 1; i >= 0; i--) {
        char inproc[64];
        snprintf(inproc, sizeof inproc, "inproc://hostile-monitor-%d", i);
        o->dealer[i] = zmq_socket(o->ctx, ZMQ_DEALER);
        assert_non_null(o->dealer[i]);
        zmq_setsockopt(o->dealer[i], ZMQ_LINGER, &zero, sizeof zero);
        zmq_setsockopt(o->dealer[i], ZMQ_CURVE_SERVERKEY, nodes[i].public_key, 32);
        zmq_setsockopt(o->dealer[i], ZMQ_CURVE_PUBLICKEY, me->public_key, 32);
        zmq_setsockopt(o->dealer[i], ZMQ_CURVE_SECRETKEY, me->secret_key, 32);
        assert_int_equal(zmq_socket_monitor(o->dealer[i], inproc,
                                            ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED),
                         0);
        o->monitor[i] = zmq_socket(o->ctx, ZMQ_PAIR);
        zmq_setsockopt(o->monitor[i], ZMQ_LINGER, &zero, sizeof zero);
        zmq_setsockopt(o->monitor[i], ZMQ_RCVTIMEO, &timeout_ms, sizeof timeout_ms);
        assert_int_equal(zmq_connect(o->monitor[i], inproc), 0);
        assert_int_equal(zmq_connect(o->dealer[i], endpoints[i]), 0);
        zmq_msg_t msg;
        /* no free function: o->frame outlives the context (oversize_wait) */
        assert_int_equal(zmq_msg_init_data(&msg, o->frame, big, NULL, NULL), 0);
        assert_int_equal(zmq_msg_send(&msg, o->dealer[i], 0), (int)big);
    }
}

/* Sets dropped[i] when node i closed its oversize connection after the
 * handshake within `seconds`, member 2 heartbeating meanwhile (k).  A
 * node's own exit would close the connection too, so at each disconnect the
 * node's process is checked: ended[i] (with status[i]) says it had exited.
 * Closes everything. */
static void oversize_wait(oversize *o, double seconds, keep_alive *k, int dropped[2],
                          const pid_t pid[2], int ended[2], int status[2])
{
    int handshake[2] = { 0, 0 };
    dropped[0] = dropped[1] = 0;
    double end = p4_now_seconds() + seconds;
    while (!(dropped[0] && dropped[1]) && p4_now_seconds() < end) {
        keep_alive_beat(k);
        for (int i = 0; i < 2; i++) {
            /* an event is two frames: (u16 kind, u32 value) and the address */
            zmq_msg_t event;
            zmq_msg_init(&event);
            if (zmq_msg_recv(&event, o->monitor[i], 0) >= 0) {
                if (zmq_msg_size(&event) >= 2) {
                    uint16_t kind;
                    memcpy(&kind, zmq_msg_data(&event), 2);
                    handshake[i] |= kind == ZMQ_EVENT_HANDSHAKE_SUCCEEDED;
                    if (handshake[i] && kind == ZMQ_EVENT_DISCONNECTED && !dropped[i]) {
                        dropped[i] = 1;
                        ended[i] = waitpid(pid[i], &status[i], WNOHANG) == pid[i];
                    }
                }
                if (zmq_msg_more(&event)) {
                    zmq_msg_t address;
                    zmq_msg_init(&address);
                    zmq_msg_recv(&address, o->monitor[i], 0);
                    zmq_msg_close(&address);
                }
            }
            zmq_msg_close(&event);
        }
    }
    test_watchdog_phase("closing the oversized frames' sockets and context");
    for (int i = 0; i < 2; i++) {
        zmq_socket_monitor(o->dealer[i], NULL, 0);
        zmq_close(o->monitor[i]);
        zmq_close(o->dealer[i]);
    }
    zmq_ctx_term(o->ctx);
    free(o->frame);
}

/* Reads and frees whatever nodes send member 2 (their proxies), so that
 * nothing queues up; for `seconds`. */
static void drain(p4_transport *t, double seconds)
{
    double end = p4_now_seconds() + seconds;
    for (;;) {
        int from;
        uint8_t *bytes = NULL;
        size_t len;
        p4_error err = {0};
        if (p4_transport_recv(t, end, &from, &bytes, &len, &err) != P4_OK)
            return;
        free(bytes);
    }
}

static void hostile_peers_do_not_stop_training(void **state)
{
    if (!test_dataset_path(FMNIST)) TEST_SKIP(FMNIST " is absent");
    const char *bin = getenv("P4_BIN");
    if (!bin) TEST_SKIP("P4_BIN is not set (run under ctest)");
    const char *dir = *state;
    double started = p4_now_seconds();

    char d[4][1100], k[4][P4_KEY_Z85_CHARS + 1];
    p4_identity id[4]; /* nodes 0 and 1, member 2 (this test), the stranger */
    const char *names[4] = { "n0", "n1", "member2", "stranger" };
    for (int i = 0; i < 4; i++)
        make_identity(dir, names[i], d[i], sizeof d[i], &id[i], k[i]);
    int port[2] = { test_free_port(), test_free_port() };
    char ep[2][64];
    for (int i = 0; i < 2; i++)
        snprintf(ep[i], sizeof ep[i], "tcp://127.0.0.1:%d", port[i]);
    const char *endpoints[2] = { ep[0], ep[1] };

    p4_transport *member2 = member_transport(2, &id[2], id);
    p4_transport *stranger = member_transport(2, &id[3], id);
    const char *ep2 = p4_zmq_transport_endpoint(member2);

    char conf[2][1200], out[2][1200], errlog[2][1200];
    for (int i = 0; i < 2; i++) {
        int other = 1 - i;
        char text[8192];
        snprintf(text, sizeof text,
                 "[data]\ndataset = fashion-mnist\npartition = iid\nclients = 3\n"
                 "train_per_client = 30\ntest_per_client = 30\nmax_train = 3000\n"
                 "max_test = 1000\nseed = 5\n"
                 "[model]\ncfg = %s/configs/models/mlp-28x28x1.cfg\n"
                 "proxy_cfg = %s/configs/models/logreg-28x28x1.cfg\nbatch = 10\nseed = 5\n"
                 "[dp]\ntarget_epsilon = 8\n[p4]\nmethod = proxyfl-avg\nrounds = 4\n"
                 "[node]\nid = %d\nlisten = %s\npeers = %d@%s@%s, 2@%s@%s\nstate = %s\n"
                 "timeout = %g\ndead_after = %g\n",
                 test_source_dir(), test_source_dir(), i, ep[i], other, ep[other], k[other], ep2, k[2],
                 d[i], EXCHANGE_SECONDS, SILENT_SECONDS);
        char name[16];
        snprintf(name, sizeof name, "n%d.ini", i);
        test_write_text(dir, name, text, conf[i], sizeof conf[i]);
        snprintf(out[i], sizeof out[i], "%s/n%d.out", dir, i);
        snprintf(errlog[i], sizeof errlog[i], "%s/n%d.err", dir, i);
    }
    pid_t pid[2];
    for (int i = 0; i < 2; i++) {
        char *argv[] = { (char *)bin, "node", "--config", conf[i], "--json", "--reproducible",
                         NULL };
        pid[i] = test_spawn(argv, out[i], errlog[i]); /* watched by the watchdog */
    }
    test_watchdog_phase("waiting for both nodes to listen");
    /* A node that ends (or hangs) before it listens fails the test now,
     * with its log, rather than after the other node's whole run. */
    for (int i = 0; i < 2; i++) {
        int up = test_wait_for_text_of(pid[i], errlog[i], "listening on", 300);
        if (up != 1) {
            int st[2];
            test_wait_all(pid, st, 2, 0);
            char *l0 = test_read_all(errlog[0]), *l1 = test_read_all(errlog[1]);
            fail_msg("node %d %s before it listened; node 0's log:\n%s\nnode 1's log:\n%s", i,
                     up < 0 ? "ended" : "took over 300 s", l0, l1);
        }
    }
    connect_nodes(member2, id, endpoints);
    connect_nodes(stranger, id, endpoints);

    p4_rng rng;
    assert_int_equal(p4_rng_init_seeded(&rng, 12, "hostile-garbage"), P4_OK);
    int oversize_dropped[2] = { 0, 0 }, stranger_taken = 0, status[2] = { 0, 0 },
        ended[2] = { 0, 0 };
    p4_error err = {0};
    oversize o;
    test_watchdog_phase("queueing the oversized frames");
    oversize_start(&o, endpoints, id, &id[2]);
    test_watchdog_phase("sending the hostile messages");
    for (int i = 0; i < 2; i++) {
        send_hostile(member2, i, &rng);
        stranger_taken += send_as_stranger(stranger, i);
    }
    /* the transport itself refuses to send a frame over the limit */
    size_t big = (size_t)P4_WIRE_MAX_MESSAGE_BYTES + 1;
    uint8_t *frame = calloc(1, big);
    assert_non_null(frame);
    int big_rc = p4_transport_send(member2, 0, frame, big, &err);
    free(frame);
    keep_alive alive = { .member2 = member2, .sequence = 10 };
    test_watchdog_phase("heartbeating until both nodes drop the oversized frames");
    oversize_wait(&o, OVERSIZE_SECONDS, &alive, oversize_dropped, pid, ended, status);
    test_watchdog_phase(oversize_dropped[0] && oversize_dropped[1]
                            ? "both dropped the oversized frames; waiting for the nodes to end"
                            : "an oversized frame was not dropped in time; waiting for the nodes");
    double end = started + NODE_SECONDS;
    for (int i = 0; i < 2; i++) {
        drain(member2, 0.2);
        if (!ended[i])
            status[i] = test_wait_bounded(pid[i], end - p4_now_seconds());
    }
    test_watchdog_phase("nodes ended; closing member 2's transports");
    p4_transport_destroy(&member2);
    p4_transport_destroy(&stranger);
    test_watchdog_phase("checking the nodes' logs and status");
    char *log[2] = { test_read_all(errlog[0]), test_read_all(errlog[1]) };
    char *json[2] = { test_read_all(out[0]), test_read_all(out[1]) };
    for (int i = 0; i < 2; i++)
        if (status[i] == -1 || !WIFEXITED(status[i]) || WEXITSTATUS(status[i]) != 0)
            fail_msg("node %d did not finish (wait status %#x):\n%s", i, status[i], log[i]);
    assert_int_equal(big_rc, P4_EINVAL);
    assert_non_null(strstr(err.message, "limit"));
    print_message("the stranger's transport queued %d of its 4 messages\n", stranger_taken);

    char refused[128];
    snprintf(refused, sizeof refused, "refused peer key %s", k[3]);
    for (int i = 0; i < 2; i++) {
        const char *why[] = {
            "bad magic",                                    /* garbage */
            "PROXY: truncated or padded",                   /* truncated PROXY */
            "HEARTBEAT claims sender 1 but came from peer 2", /* forged sender */
            "replayed or stale message from sender 2: epoch 1 sequence 3",
            "value 5 is not finite",                        /* NaN patched in */
            "protocol version 2 (this node speaks 1)",
            refused,                                        /* the stranger */
            "peer 2 silent for",                            /* member 2's proxy never came */
        };
        for (size_t w = 0; w < sizeof why / sizeof why[0]; w++)
            if (!strstr(log[i], why[w]))
                fail_msg("node %d's log lacks '%s':\n%s", i, why[w], log[i]);
        /* The nodes' own count: 6 drops by the receiver.  The accepted
         * HEARTBEAT is not a drop: membership takes it (cluster/membership.h). */
        long dropped = (long)test_json_number(json[i], "dropped"),
             missing = (long)test_json_number(json[i], "missing");
        /* In 4 rounds each node waits for member 2 in two (the exponential
         * graph of 3 members); had the stranger's round-0 PROXY in member
         * 2's name counted, node 0 would miss one less. */
        if (dropped < 6 || missing != 2)
            fail_msg("node %d: dropped %ld (want >= 6), missing %ld (want 2): %s", i, dropped,
                     missing, json[i]);
        if (!oversize_dropped[i] || ended[i])
            fail_msg("node %d: kept the connection that sent a frame over the limit (%d), or "
                     "had ended before (%d):\n%s\n%s", i, !oversize_dropped[i], ended[i],
                     json[i], log[i]);

        char *argv[] = { (char *)bin, "status", "--state", d[i], "--json", NULL };
        char so[1200], se[1200];
        snprintf(so, sizeof so, "%s/status%d.out", dir, i);
        snprintf(se, sizeof se, "%s/status%d.err", dir, i);
        int st = test_wait_bounded(test_spawn(argv, so, se), 300);
        assert_true(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
        char *s = test_read_all(so);
        if (!strstr(s, "\"status\":\"finished\""))
            fail_msg("p4 status of node %d: %s", i, s);
        free(s);
    }
    for (int i = 0; i < 2; i++) {
        free(log[i]);
        free(json[i]);
    }
    test_watchdog_stop();
    print_message("hostile peers: both nodes finished; the test took %.1f s\n",
                  p4_now_seconds() - started);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(hostile_peers_do_not_stop_training, test_temp_dir_setup,
                                        test_temp_dir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
