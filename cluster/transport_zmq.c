/* transport_zmq.c: ZeroMQ ROUTER in, one DEALER out per peer, CURVE and a
 * ZAP handler for admission; see transport_zmq.h. */
#include "cluster/transport_zmq.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "cluster/admission.h"
#include "cluster/wire.h"
#include "cluster/zmq_curve.h"
#include "common/progress.h"

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define ZAP_DOMAIN "p4"
#define INSECURE_ID_PREFIX "p4-"

typedef struct zmq_peer {
    int bound;
    char endpoint[P4_WIRE_MAX_ENDPOINT + 1];
    uint8_t key[32];
    void *dealer;
} zmq_peer;

typedef struct zmq_transport {
    p4_transport base;      /* first: this is a p4_transport */
    int id;
    int curve;
    FILE *log;
    p4_identity identity;
    int queue_messages;
    size_t max_message_bytes;
    int linger_ms;
    void *ctx;
    void *router;
    void *zap;              /* owned by the ZAP thread once it runs */
    pthread_t zap_thread;
    int zap_running;
    p4_admission *admission;
    /* Refusal log lines, ZAP thread only: a refused peer reconnects every
     * 100 ms, so repeats of one key are counted and logged once a while. */
    uint8_t last_refused_key[32];
    double last_refused_logged;
    uint64_t refusals_not_logged;
    char endpoint[P4_WIRE_MAX_ENDPOINT + 1];
    /* send and add_peer may come from two threads (the protocol and the
     * heartbeat thread): they, and recv's look-up of peers, hold this. */
    pthread_mutex_t peers_lock;
    zmq_peer peers[P4_WIRE_MAX_NODES];
    uint8_t last_key[32];
    int last_key_valid;
    atomic_uint_least64_t bytes_sent, bytes_received, messages_sent, messages_received, refused;
} zmq_transport;

static const p4_transport_ops zmq_ops;

static int zmq_fail(p4_error *err, int code, const char *what)
{
    return p4_error_set(err, code, "%s: %s", what, zmq_strerror(zmq_errno()));
}

/* ---- admission: the ZAP handler ---- */

/* Receives one multipart ZAP request into frames (at most max; extra frames
 * are read and dropped); returns the number of frames, or -1 when the
 * context is shutting down. */
static int zap_receive(void *socket, zmq_msg_t *frames, int max)
{
    int n = 0, more = 1;
    while (more) {
        zmq_msg_t frame;
        zmq_msg_init(&frame);
        if (zmq_msg_recv(&frame, socket, 0) < 0) {
            zmq_msg_close(&frame);
            for (int i = 0; i < n; i++)
                zmq_msg_close(&frames[i]);
            if (zmq_errno() == EINTR && n == 0)
                return 0;
            return -1;
        }
        more = zmq_msg_more(&frame);
        if (n < max)
            frames[n++] = frame;
        else
            zmq_msg_close(&frame);
    }
    return n;
}

static int frame_is(zmq_msg_t *frame, const char *text)
{
    size_t n = strlen(text);
    return zmq_msg_size(frame) == n && memcmp(zmq_msg_data(frame), text, n) == 0;
}

/* Copies a frame as text (bounded, NUL-terminated, non-printables as '?'). */
static void frame_text(zmq_msg_t *frame, char *out, size_t size)
{
    size_t n = zmq_msg_size(frame);
    if (n >= size)
        n = size - 1;
    const char *data = zmq_msg_data(frame);
    for (size_t i = 0; i < n; i++)
        out[i] = (data[i] > 0x20 && data[i] < 0x7f) ? data[i] : '?';
    out[n] = '\0';
}

/* Counts a refusal and logs it with the key, except repeats of the key
 * last logged within REFUSAL_LOG_SECONDS: those are counted, and the count
 * is logged with the next line.  key is NULL when the request carried none. */
#define REFUSAL_LOG_SECONDS 10.0
static void log_refusal(zmq_transport *t, const uint8_t *key, const char *key_z85,
                        const char *address, const char *reason)
{
    static const uint8_t none[32];
    atomic_fetch_add(&t->refused, 1);
    if (key == NULL)
        key = none;
    double now = p4_now_seconds();
    int same = memcmp(key, t->last_refused_key, 32) == 0;
    if (same && now - t->last_refused_logged < REFUSAL_LOG_SECONDS) {
        t->refusals_not_logged++;
        return;
    }
    if (t->refusals_not_logged > 0) {
        char last[P4_KEY_Z85_CHARS + 1];
        p4_key_to_z85(t->last_refused_key, last);
        fprintf(t->log, "p4 node %d: refused peer key %s %llu more times (not logged)\n", t->id,
                last, (unsigned long long)t->refusals_not_logged);
    }
    fprintf(t->log, "p4 node %d: refused peer key %s from %s: %s\n", t->id, key_z85, address,
            reason);
    fflush(t->log);
    memcpy(t->last_refused_key, key, 32);
    t->last_refused_logged = now;
    t->refusals_not_logged = 0;
}

/* ZAP (ZeroMQ RFC 27): request = version, request id, domain, address,
 * identity, mechanism, credentials...; reply = version, request id, status
 * code, status text, user id, metadata. */
static void zap_answer(zmq_transport *t, void *socket, zmq_msg_t *req, int n)
{
    const char *status = "400", *text = "refused";
    char user[P4_KEY_Z85_CHARS + 1] = "";
    char address[64] = "?", reason[128] = "malformed ZAP request";
    char key_z85[P4_KEY_Z85_CHARS + 1] = "(no key)";
    const uint8_t *key = NULL;
    if (n >= 7 && frame_is(&req[0], "1.0") && frame_is(&req[5], "CURVE") &&
        zmq_msg_size(&req[6]) == 32) {
        key = zmq_msg_data(&req[6]);
        frame_text(&req[3], address, sizeof address);
        p4_key_to_z85(key, key_z85);
        if (p4_admission_check(t->admission, key, address, reason, sizeof reason)) {
            status = "200";
            text = "OK";
            memcpy(user, key_z85, sizeof user); /* recv maps it back to an id */
        }
    } else if (n >= 6) {
        char mechanism[32];
        frame_text(&req[5], mechanism, sizeof mechanism);
        snprintf(reason, sizeof reason, "mechanism %s is not CURVE", mechanism);
        frame_text(&req[3], address, sizeof address);
    }
    if (strcmp(status, "200") != 0)
        log_refusal(t, key, key_z85, address, reason);
    const char *parts[6] = {"1.0", NULL, status, text, user, ""};
    for (int i = 0; i < 6; i++) {
        int flags = i < 5 ? ZMQ_SNDMORE : 0;
        if (i == 1) /* request id, echoed as received */
            zmq_send(socket, n >= 2 ? zmq_msg_data(&req[1]) : "", n >= 2 ? zmq_msg_size(&req[1]) : 0,
                     flags);
        else
            zmq_send(socket, parts[i], strlen(parts[i]), flags);
    }
}

static void *zap_main(void *arg)
{
    zmq_transport *t = arg;
    for (;;) {
        zmq_msg_t req[8];
        int n = zap_receive(t->zap, req, 8);
        if (n < 0)
            break; /* ETERM: the transport is shutting down */
        if (n == 0)
            continue;
        zap_answer(t, t->zap, req, n);
        for (int i = 0; i < n; i++)
            zmq_msg_close(&req[i]);
    }
    int zero = 0;
    zmq_setsockopt(t->zap, ZMQ_LINGER, &zero, sizeof zero);
    zmq_close(t->zap);
    return NULL;
}

static int start_zap(zmq_transport *t, p4_error *err)
{
    t->zap = zmq_socket(t->ctx, ZMQ_REP);
    if (t->zap == NULL)
        return zmq_fail(err, P4_ENET, "ZAP handler socket");
    if (zmq_bind(t->zap, ZAP_ENDPOINT) != 0) {
        int rc = zmq_fail(err, P4_ENET, "ZAP handler bind " ZAP_ENDPOINT);
        zmq_close(t->zap);
        t->zap = NULL;
        return rc;
    }
    if (pthread_create(&t->zap_thread, NULL, zap_main, t) != 0) {
        zmq_close(t->zap);
        t->zap = NULL;
        return p4_error_set(err, P4_ENET, "cannot start the ZAP handler thread");
    }
    t->zap_running = 1;
    return P4_OK;
}

/* ---- sockets ---- */

static int set_int(void *socket, int option, int value)
{
    return zmq_setsockopt(socket, option, &value, sizeof value);
}

static int open_router(zmq_transport *t, const char *listen, p4_error *err)
{
    t->router = zmq_socket(t->ctx, ZMQ_ROUTER);
    if (t->router == NULL)
        return zmq_fail(err, P4_ENET, "ROUTER socket");
    int64_t max = (int64_t)t->max_message_bytes;
    if (zmq_setsockopt(t->router, ZMQ_MAXMSGSIZE, &max, sizeof max) != 0 ||
        set_int(t->router, ZMQ_RCVHWM, t->queue_messages) != 0 ||
        set_int(t->router, ZMQ_LINGER, 0) != 0)
        return zmq_fail(err, P4_ENET, "ROUTER options");
    if (t->curve && p4_zmq_curve_server(t->router, &t->identity, ZAP_DOMAIN, err) != P4_OK)
        return P4_ENET;
    if (p4_zmq_bind(t->router, listen, t->endpoint, sizeof t->endpoint, err) != P4_OK)
        return P4_ENET;
    return P4_OK;
}

static void close_socket(void **socket, int linger_ms)
{
    if (*socket != NULL) {
        set_int(*socket, ZMQ_LINGER, linger_ms);
        zmq_close(*socket);
        *socket = NULL;
    }
}

static int open_dealer(zmq_transport *t, zmq_peer *p, int id, p4_error *err)
{
    p->dealer = zmq_socket(t->ctx, ZMQ_DEALER);
    if (p->dealer == NULL)
        return zmq_fail(err, P4_ENET, "DEALER socket");
    /* Peers never send on this connection (they answer through their own
     * DEALER to our ROUTER): bound what a hostile one could make us buffer. */
    int64_t max_inbound = 4096;
    int rc = 0;
    rc |= set_int(p->dealer, ZMQ_SNDHWM, t->queue_messages);
    rc |= set_int(p->dealer, ZMQ_RCVHWM, 1);
    rc |= set_int(p->dealer, ZMQ_LINGER, 0);
    rc |= zmq_setsockopt(p->dealer, ZMQ_MAXMSGSIZE, &max_inbound, sizeof max_inbound);
    if (t->curve) {
        rc |= p4_zmq_curve_client(p->dealer, t->identity.public_key, t->identity.secret_key,
                                  p->key, NULL);
    } else {
        char routing[32];
        int n = snprintf(routing, sizeof routing, INSECURE_ID_PREFIX "%d", t->id);
        rc |= zmq_setsockopt(p->dealer, ZMQ_ROUTING_ID, routing, (size_t)n);
    }
    if (rc != 0) {
        rc = zmq_fail(err, P4_ENET, "DEALER options");
        close_socket(&p->dealer, 0);
        return rc;
    }
    if (zmq_connect(p->dealer, p->endpoint) != 0) {
        rc = p4_error_set(err, P4_EINVAL, "peer %d: cannot connect to '%s': %s", id,
                          p->endpoint, zmq_strerror(zmq_errno()));
        close_socket(&p->dealer, 0);
        return rc;
    }
    return P4_OK;
}

/* ---- the ops ---- */

static int send_locked(zmq_transport *t, int to, const uint8_t *bytes, size_t len,
                       p4_error *err)
{
    if (to < 0 || to >= P4_WIRE_MAX_NODES || !t->peers[to].bound) {
        atomic_fetch_add(&t->refused, 1);
        return p4_error_set(err, P4_EPEER, "node %d: peer %d is unknown (no endpoint and key)",
                            t->id, to);
    }
    if (len > t->max_message_bytes)
        return p4_error_set(err, P4_EINVAL, "node %d: message of %zu bytes to peer %d (limit %zu)",
                            t->id, len, to, t->max_message_bytes);
    if (zmq_send(t->peers[to].dealer, bytes, len, ZMQ_DONTWAIT) < 0) {
        int e = zmq_errno();
        atomic_fetch_add(&t->refused, 1);
        if (e == EAGAIN)
            return p4_error_set(err, P4_EPEER,
                                "node %d: queue to peer %d is full (%d messages; peer down or "
                                "refusing our key?)",
                                t->id, to, t->queue_messages);
        return p4_error_set(err, P4_ENET, "node %d: send to peer %d: %s", t->id, to,
                            zmq_strerror(e));
    }
    atomic_fetch_add(&t->bytes_sent, len);
    atomic_fetch_add(&t->messages_sent, 1);
    return P4_OK;
}

static int zmq_send_op(p4_transport *base, int to, const uint8_t *bytes, size_t len,
                       p4_error *err)
{
    zmq_transport *t = (zmq_transport *)base;
    pthread_mutex_lock(&t->peers_lock);
    int rc = send_locked(t, to, bytes, len, err);
    pthread_mutex_unlock(&t->peers_lock);
    return rc;
}

/* The id bound to key, or -1. */
static int id_of_key(const zmq_transport *t, const uint8_t key[32])
{
    for (int i = 0; i < P4_WIRE_MAX_NODES; i++)
        if (t->peers[i].bound && memcmp(t->peers[i].key, key, 32) == 0)
            return i;
    return -1;
}

/* Who sent data (a frame of the message): CURVE: the key in the User-Id the
 * ZAP handler set; insecure: the routing id the peer claims. */
static int sender_of(zmq_transport *t, zmq_msg_t *routing, zmq_msg_t *data)
{
    t->last_key_valid = 0;
    if (t->curve) {
        const char *user = zmq_msg_gets(data, "User-Id");
        if (user == NULL || p4_key_from_z85(user, t->last_key, NULL) != P4_OK)
            return -1;
        t->last_key_valid = 1;
        pthread_mutex_lock(&t->peers_lock);
        int id = id_of_key(t, t->last_key);
        pthread_mutex_unlock(&t->peers_lock);
        return id;
    }
    char text[32];
    size_t n = zmq_msg_size(routing);
    const size_t prefix = strlen(INSECURE_ID_PREFIX);
    if (n <= prefix || n >= sizeof text)
        return -1;
    memcpy(text, zmq_msg_data(routing), n);
    text[n] = '\0';
    char *end;
    long id = strtol(text + prefix, &end, 10);
    if (strncmp(text, INSECURE_ID_PREFIX, prefix) != 0 || *end != '\0' || id < 0 ||
        id >= P4_WIRE_MAX_NODES)
        return -1;
    return (int)id;
}

/* Reads one ROUTER message (routing id + one data frame) that poll said is
 * there.  1: *bytes, *len and *from filled; 0: a malformed message was dropped;
 * < 0: an error. */
static int take_message(zmq_transport *t, int *from, uint8_t **bytes, size_t *len, p4_error *err)
{
    zmq_msg_t frames[2];
    int extra = 0;
    p4_error why = {0};
    int n = p4_zmq_recv_frames(t->router, frames, 2, &extra, &why);
    if (n <= 0)
        return n < 0 ? p4_error_set(err, P4_ENET, "node %d: %s", t->id, why.message) : 0;
    int rc = 0;
    if (n < 2 || extra > 0 || zmq_msg_size(&frames[1]) == 0) {
        fprintf(t->log, "p4 node %d: dropped a message of %d frames (want one non-empty frame)\n",
                t->id, n - 1 + extra);
    } else {
        size_t size = zmq_msg_size(&frames[1]);
        uint8_t *copy = malloc(size);
        if (copy == NULL) {
            rc = p4_error_set(err, P4_ENOMEM, "node %d: no memory for %zu bytes", t->id, size);
        } else {
            memcpy(copy, zmq_msg_data(&frames[1]), size);
            *from = sender_of(t, &frames[0], &frames[1]);
            *bytes = copy;
            *len = size;
            atomic_fetch_add(&t->bytes_received, size);
            atomic_fetch_add(&t->messages_received, 1);
            rc = 1;
        }
    }
    for (int i = 0; i < n; i++)
        zmq_msg_close(&frames[i]);
    return rc;
}

static int zmq_recv_op(p4_transport *base, double deadline, int *from, uint8_t **bytes,
                       size_t *len, p4_error *err)
{
    zmq_transport *t = (zmq_transport *)base;
    for (;;) {
        double left = deadline - p4_now_seconds();
        long timeout_ms = 0;
        if (!(left < 3600.0))
            timeout_ms = 3600L * 1000L; /* far or infinite deadline: wake up hourly */
        else if (left > 0)
            timeout_ms = (long)ceil(left * 1000.0);
        zmq_pollitem_t item = {t->router, 0, ZMQ_POLLIN, 0};
        int ready = zmq_poll(&item, 1, timeout_ms);
        if (ready < 0) {
            if (zmq_errno() == EINTR)
                continue;
            return zmq_fail(err, P4_ENET, "poll");
        }
        if (ready > 0) {
            int rc = take_message(t, from, bytes, len, err);
            if (rc != 0)
                return rc > 0 ? P4_OK : rc;
        }
        if (p4_now_seconds() >= deadline)
            return p4_error_set(err, P4_ETIMEOUT, "node %d: no message before the deadline",
                                t->id);
    }
}

static int add_peer_locked(zmq_transport *t, int id, const char *endpoint,
                           const uint8_t public_key[32], p4_error *err)
{
    if (id >= P4_WIRE_MAX_NODES)
        return p4_error_set(err, P4_EINVAL, "peer id %d (limit %d)", id, P4_WIRE_MAX_NODES - 1);
    if (endpoint == NULL || endpoint[0] == '\0' || strlen(endpoint) > P4_WIRE_MAX_ENDPOINT)
        return p4_error_set(err, P4_EINVAL, "peer %d: endpoint missing or over %d bytes", id,
                            P4_WIRE_MAX_ENDPOINT);
    if (t->curve && public_key == NULL)
        return p4_error_set(err, P4_EINVAL, "peer %d: no public key", id);
    uint8_t key[32] = {0};
    if (public_key != NULL)
        memcpy(key, public_key, 32);
    if (t->curve) {
        char reason[128], z85[P4_KEY_Z85_CHARS + 1];
        if (!p4_admission_check(t->admission, key, endpoint, reason, sizeof reason)) {
            p4_key_to_z85(key, z85);
            return p4_error_set(err, P4_EPEER, "peer %d at %s: key %s is not admitted: %s", id,
                                endpoint, z85, reason);
        }
        int other = id_of_key(t, key);
        if (other >= 0 && other != id) {
            p4_key_to_z85(key, z85);
            return p4_error_set(err, P4_EPEER, "peer %d: key %s already belongs to peer %d", id,
                                z85, other);
        }
    }
    zmq_peer *p = &t->peers[id];
    if (p->bound && strcmp(p->endpoint, endpoint) == 0 && memcmp(p->key, key, 32) == 0)
        return P4_OK;
    close_socket(&p->dealer, 0);
    p->bound = 0;
    snprintf(p->endpoint, sizeof p->endpoint, "%s", endpoint);
    memcpy(p->key, key, 32);
    int rc = open_dealer(t, p, id, err);
    if (rc == P4_OK)
        p->bound = 1;
    return rc;
}

static int zmq_add_peer_op(p4_transport *base, int id, const char *endpoint,
                           const uint8_t public_key[32], p4_error *err)
{
    zmq_transport *t = (zmq_transport *)base;
    pthread_mutex_lock(&t->peers_lock);
    int rc = add_peer_locked(t, id, endpoint, public_key, err);
    pthread_mutex_unlock(&t->peers_lock);
    return rc;
}

static int zmq_last_sender_key_op(const p4_transport *base, uint8_t public_key[32],
                                  p4_error *err)
{
    const zmq_transport *t = (const zmq_transport *)base;
    if (!t->curve)
        return p4_error_set(err, P4_EUNSUPPORTED, "CURVE is off: senders have no keys");
    if (!t->last_key_valid)
        return p4_error_set(err, P4_EINVAL, "no authenticated message received yet");
    memcpy(public_key, t->last_key, 32);
    return P4_OK;
}

static void zmq_destroy_op(p4_transport *base)
{
    zmq_transport *t = (zmq_transport *)base;
    for (int i = 0; i < P4_WIRE_MAX_NODES; i++)
        close_socket(&t->peers[i].dealer, t->linger_ms);
    close_socket(&t->router, 0);
    if (t->ctx != NULL) {
        /* Wakes the ZAP thread (its recv fails with ETERM); it closes its socket. */
        zmq_ctx_shutdown(t->ctx);
        if (t->zap_running)
            pthread_join(t->zap_thread, NULL);
        else
            close_socket(&t->zap, 0);
        while (zmq_ctx_term(t->ctx) != 0 && zmq_errno() == EINTR) {
        }
    }
    p4_admission_destroy(&t->admission);
    p4_identity_wipe(&t->identity);
    pthread_mutex_destroy(&t->peers_lock);
    free(t);
}

static void zmq_stats_op(const p4_transport *base, p4_transport_stats *out)
{
    zmq_transport *t = (zmq_transport *)base;
    out->bytes_sent = atomic_load(&t->bytes_sent);
    out->bytes_received = atomic_load(&t->bytes_received);
    out->messages_sent = atomic_load(&t->messages_sent);
    out->messages_received = atomic_load(&t->messages_received);
    out->refused = atomic_load(&t->refused);
}

static const p4_transport_ops zmq_ops = {
    .send = zmq_send_op,
    .recv = zmq_recv_op,
    .add_peer = zmq_add_peer_op,
    .last_sender_key = zmq_last_sender_key_op,
    .destroy = zmq_destroy_op,
    .stats = zmq_stats_op,
};

int p4_zmq_transport_new(p4_transport **out, const p4_zmq_transport_options *options,
                         p4_error *err)
{
    if (out == NULL || options == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_zmq_transport_new: NULL argument");
    *out = NULL;
    const p4_zmq_transport_options *o = options;
    if (o->id < 0 || o->id >= P4_WIRE_MAX_NODES)
        return p4_error_set(err, P4_EINVAL, "node id %d (want 0..%d)", o->id,
                            P4_WIRE_MAX_NODES - 1);
    if (o->listen == NULL || o->listen[0] == '\0' || strlen(o->listen) > P4_WIRE_MAX_ENDPOINT)
        return p4_error_set(err, P4_EINVAL, "node %d: listen endpoint missing or over %d bytes",
                            o->id, P4_WIRE_MAX_ENDPOINT);
    if (o->identity == NULL)
        return p4_error_set(err, P4_EINVAL, "node %d: no key pair", o->id);
    if (o->allow == NULL && o->allow_count > 0)
        return p4_error_set(err, P4_EINVAL, "node %d: allowlist count without keys", o->id);
    if (o->queue_messages < 0 || o->max_message_bytes > P4_WIRE_MAX_MESSAGE_BYTES)
        return p4_error_set(err, P4_EINVAL,
                            "node %d: queue of %d messages or message limit of %zu bytes "
                            "(limit %u)",
                            o->id, o->queue_messages, o->max_message_bytes,
                            P4_WIRE_MAX_MESSAGE_BYTES);
    if (!o->insecure_no_curve && !zmq_has("curve"))
        return p4_error_set(err, P4_EUNSUPPORTED, "this libzmq was built without CURVE");

    zmq_transport *t = calloc(1, sizeof *t);
    if (t == NULL)
        return p4_error_set(err, P4_ENOMEM, "node %d: no memory for the transport", o->id);
    t->base.ops = &zmq_ops;
    pthread_mutex_init(&t->peers_lock, NULL);
    t->id = o->id;
    t->curve = !o->insecure_no_curve;
    t->log = o->log != NULL ? o->log : stderr;
    t->identity = *o->identity;
    t->queue_messages = o->queue_messages > 0 ? o->queue_messages : 64;
    t->max_message_bytes = o->max_message_bytes > 0 ? o->max_message_bytes
                                                    : P4_WIRE_MAX_MESSAGE_BYTES;
    t->linger_ms = o->linger_ms == 0 ? 500 : (o->linger_ms < 0 ? 0 : o->linger_ms);
    t->last_refused_logged = -INFINITY; /* the first refusal is always logged */
    int rc = p4_admission_new(&t->admission, o->allow, o->allow_count, err);
    if (rc == P4_OK) {
        t->ctx = zmq_ctx_new();
        if (t->ctx == NULL)
            rc = zmq_fail(err, P4_ENET, "ZeroMQ context");
    }
    /* The ZAP handler must listen before the ROUTER can accept a handshake. */
    if (rc == P4_OK && t->curve)
        rc = start_zap(t, err);
    if (rc == P4_OK)
        rc = open_router(t, o->listen, err);
    if (rc != P4_OK) {
        zmq_destroy_op(&t->base);
        return rc;
    }
    if (!t->curve)
        fprintf(t->log, "p4 node %d: CURVE is OFF (benchmark mode): peers are neither "
                        "authenticated nor encrypted\n", t->id);
    *out = &t->base;
    return P4_OK;
}

const char *p4_zmq_transport_endpoint(const p4_transport *t)
{
    if (t == NULL || t->ops != &zmq_ops)
        return NULL;
    return ((const zmq_transport *)t)->endpoint;
}

int p4_zmq_transport_redial(p4_transport *base, int id, p4_error *err)
{
    if (base == NULL || base->ops != &zmq_ops || id < 0 || id >= P4_WIRE_MAX_NODES)
        return p4_error_set(err, P4_EINVAL, "p4_zmq_transport_redial: not a ZeroMQ peer");
    zmq_transport *t = (zmq_transport *)base;
    pthread_mutex_lock(&t->peers_lock);
    zmq_peer *p = &t->peers[id];
    int rc = P4_OK;
    if (!p->bound) {
        rc = p4_error_set(err, P4_EPEER, "node %d: peer %d is unknown", t->id, id);
    } else {
        close_socket(&p->dealer, 0);
        p->bound = 0;
        if ((rc = open_dealer(t, p, id, err)) == P4_OK)
            p->bound = 1;
    }
    pthread_mutex_unlock(&t->peers_lock);
    return rc;
}

p4_admission *p4_zmq_transport_admission(p4_transport *t)
{
    if (t == NULL || t->ops != &zmq_ops)
        return NULL;
    return ((zmq_transport *)t)->admission;
}

int p4_zmq_transport_allow(p4_transport *t, const uint8_t public_key[32], p4_error *err)
{
    if (t == NULL || t->ops != &zmq_ops || public_key == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_zmq_transport_allow: not a ZeroMQ transport");
    return p4_admission_allow(((zmq_transport *)t)->admission, public_key, err);
}
