/* transport_zmq.h: the networked transport of `p4 node` (ZeroMQ + CURVE).
 *
 * One ROUTER socket, bound to the node's listen endpoint as a CURVE server,
 * receives from every peer; one DEALER per peer, a CURVE client that knows
 * the peer's server key, sends to it.  A ZAP handler (its own thread, on
 * inproc://zeromq.zap.01 of the transport's own ZeroMQ context) asks
 * p4_admission_check about every incoming key and logs each refusal with the
 * key in Z85.  The sender id recv reports comes from the key that the CURVE
 * handshake authenticated (the ZAP reply's User-Id), never from message
 * contents.
 *
 * CURVE is on unless `insecure_no_curve` is set, which exists only to
 * measure what encryption costs (bench/): the connections are then plain
 * TCP, nobody is refused, and sender ids are the unauthenticated routing ids
 * that peers claim.  Never use it between machines.
 *
 * One thread at a time receives (recv); send and add_peer may be called
 * from several threads (a node's heartbeat thread sends beside its round
 * protocol): they share a lock, since ZeroMQ sockets are not thread-safe.
 * p4_transport_get_stats may be called from any thread. */
#ifndef P4_CLUSTER_TRANSPORT_ZMQ_H
#define P4_CLUSTER_TRANSPORT_ZMQ_H

#include <stdio.h>

#include "cluster/admission.h"
#include "cluster/identity.h"
#include "cluster/transport.h"

typedef struct p4_zmq_transport_options {
    int id;                        /* this node's client id                    */
    const char *listen;            /* "tcp://127.0.0.1:PORT"; PORT 0 = a free
                                      port (read it back with
                                      p4_zmq_transport_endpoint)               */
    const p4_identity *identity;   /* this node's key pair (required)          */
    const uint8_t (*allow)[32];    /* peers' public keys admitted              */
    size_t allow_count;
    int insecure_no_curve;         /* benchmarks only; 0 = CURVE (default)     */
    FILE *log;                     /* refusals and dropped frames; NULL = stderr */
    int queue_messages;            /* high-water mark per peer, each way
                                      (0 = 64)                                 */
    size_t max_message_bytes;      /* larger frames are refused by ZeroMQ and
                                      drop the connection (0 =
                                      P4_WIRE_MAX_MESSAGE_BYTES)               */
    int linger_ms;                 /* how long destroy waits to flush (0 = 500;
                                      < 0 = do not wait)                       */
} p4_zmq_transport_options;

int p4_zmq_transport_new(p4_transport **out, const p4_zmq_transport_options *options,
                         p4_error *err);

/* The endpoint the ROUTER is bound to, with the port resolved
 * ("tcp://127.0.0.1:41234"); NULL for a transport that is not ZeroMQ. */
const char *p4_zmq_transport_endpoint(const p4_transport *t);

/* Closes peer id's connection and dials it again, dropping what was queued
 * for it.  ZeroMQ gives up on a connection whose handshake the other side
 * refused (it had not admitted our key yet), so a member learned while
 * joining is dialled again once it shows it knows this node. */
int p4_zmq_transport_redial(p4_transport *t, int id, p4_error *err);

/* The transport's admission policy (owned by the transport): the node
 * requires attestation on it and records each peer's verdict there, so that
 * the ZAP handler refuses a peer whose token failed.  NULL for a transport
 * that is not ZeroMQ. */
p4_admission *p4_zmq_transport_admission(p4_transport *t);

/* Admits one more key at run time (e.g. a member the config allows later). */
int p4_zmq_transport_allow(p4_transport *t, const uint8_t public_key[32], p4_error *err);

#endif
