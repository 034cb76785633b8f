/* transport.h: how the round protocol reaches its peers, whatever carries
 * the bytes.
 *
 * The protocol (cluster/) encodes a message with cluster/wire.h and hands the
 * bytes to a transport; it never sees sockets.  Two implementations:
 *   transport_inproc.h  every client in one process (`p4 sim`), one queue
 *                       per recipient;
 *   transport_zmq.h     one node per process (`p4 node`), ZeroMQ with CURVE
 *                       and an allowlist of peer keys.
 * The bytes a transport delivers are untrusted: decode them with
 * p4_wire_decode (or p4_receiver_next, which also drops replays). */
#ifndef P4_CLUSTER_TRANSPORT_H
#define P4_CLUSTER_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

typedef struct p4_transport p4_transport;

/* Sends one encoded message to peer `to` (a client id).  Never blocks for
 * long: the transport copies the bytes and queues them (bounded; P4_EPEER
 * when the peer is unknown or its queue is full). */
int p4_transport_send(p4_transport *t, int to, const uint8_t *bytes, size_t len, p4_error *err);

/* Waits for the next message until `deadline` (seconds on p4_now_seconds()'s
 * clock).  On success *from is the sender's id as the transport
 * authenticated it (ZeroMQ: the owner of the CURVE key that sent it; -1 for
 * an allowed key not yet bound to an id), and *bytes (caller frees with
 * free()) holds *len bytes.  P4_ETIMEOUT when the deadline passes first. */
int p4_transport_recv(p4_transport *t, double deadline, int *from, uint8_t **bytes, size_t *len,
                      p4_error *err);

/* Binds a peer id to its endpoint and public key (membership learns them at
 * run time).  Rebinding an id to a new endpoint or key replaces the old. */
int p4_transport_add_peer(p4_transport *t, int id, const char *endpoint,
                          const uint8_t public_key[32], p4_error *err);

/* The authenticated public key of the sender of the last message recv
 * returned (to check a HELLO from a key not yet bound to an id).
 * P4_EUNSUPPORTED for a transport without keys (in-process, or ZeroMQ with
 * CURVE switched off). */
int p4_transport_last_sender_key(const p4_transport *t, uint8_t public_key[32], p4_error *err);

void p4_transport_destroy(p4_transport **t);

typedef struct p4_transport_stats {
    uint64_t bytes_sent, bytes_received;       /* message bytes (not framing)   */
    uint64_t messages_sent, messages_received;
    uint64_t refused;                          /* connections or sends refused */
} p4_transport_stats;

void p4_transport_get_stats(const p4_transport *t, p4_transport_stats *out);

/* ---- for implementations only ---- */

typedef struct p4_transport_ops {
    int (*send)(p4_transport *t, int to, const uint8_t *bytes, size_t len, p4_error *err);
    int (*recv)(p4_transport *t, double deadline, int *from, uint8_t **bytes, size_t *len,
                p4_error *err);
    int (*add_peer)(p4_transport *t, int id, const char *endpoint, const uint8_t public_key[32],
                    p4_error *err);
    int (*last_sender_key)(const p4_transport *t, uint8_t public_key[32], p4_error *err);
    void (*destroy)(p4_transport *t);
    void (*stats)(const p4_transport *t, p4_transport_stats *out);
} p4_transport_ops;

/* Every implementation's struct starts with this. */
struct p4_transport {
    const p4_transport_ops *ops;
};

#endif
