/* zmq_curve.h: the CURVE set-up every p4 ZeroMQ socket shares: the node's
 * transport (transport_zmq.c) and the inference service (p4 serve / p4
 * query).  One place says how a socket becomes a CURVE server or client with
 * p4's keys (cluster/identity.h), and how "tcp://host:0" binds a free port. */
#ifndef P4_CLUSTER_ZMQ_CURVE_H
#define P4_CLUSTER_ZMQ_CURVE_H

#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

#include "cluster/identity.h"
#include "common/error.h"

/* Makes socket a CURVE server with identity's secret key.  zap_domain (may
 * be NULL) names the ZAP domain its handshakes are checked in; without one
 * libzmq admits every client key (the inference service's case: any client
 * may ask, it is the client that decides whether to trust the server). */
int p4_zmq_curve_server(void *socket, const p4_identity *identity, const char *zap_domain,
                        p4_error *err);

/* Makes socket a CURVE client of the server holding server_key, as the key
 * pair (public_key, secret_key). */
int p4_zmq_curve_client(void *socket, const uint8_t public_key[P4_KEY_BYTES],
                        const uint8_t secret_key[P4_KEY_BYTES],
                        const uint8_t server_key[P4_KEY_BYTES], p4_error *err);

/* Binds socket to listen ("tcp://host:0" asks for a free port) and writes
 * the endpoint bound, port resolved, into endpoint (size bytes). */
int p4_zmq_bind(void *socket, const char *listen, char *endpoint, size_t size, p4_error *err);

/* Receives one multipart message waiting on socket: its first `max` frames
 * into frames (the caller closes them), the rest read and dropped and
 * counted in *extra.  Returns the frames kept; 0 when nothing was waiting
 * (or a signal interrupted); P4_ENET when the socket failed. */
int p4_zmq_recv_frames(void *socket, zmq_msg_t *frames, int max, int *extra, p4_error *err);

#endif
