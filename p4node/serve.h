/* serve.h: the attested inference service (`p4 serve`): a finished node's
 * personalised model answering queries over ZeroMQ CURVE.
 *
 * The server is a CURVE server with the node's own key pair (state/node.key:
 * clients name its public key, state/node.pub).  Any client key may connect:
 * the trust runs the other way, the client decides whether to trust the
 * server.  Each request is one frame (cluster/serve_wire.h):
 *   ATTEST_REQUEST  -> a fresh token from the evidence source, bound to the
 *                      server's CURVE key and the client's nonce, or, with
 *                      no source (software backend), "no evidence";
 *   QUERY           -> the top-1 class per row, and the probabilities only
 *                      when the config allows them and the client asks.
 * Malformed, oversized or misdirected requests are dropped with a log line
 * and an ERROR reply; nothing a client sends can stop the server.
 * Requests are served one at a time, in arrival order. */
#ifndef P4_NODE_SERVE_H
#define P4_NODE_SERVE_H

#include <signal.h>
#include <stdint.h>
#include <stdio.h>

#include "cluster/identity.h"
#include "common/error.h"
#include "tee/cca/evidence.h"

typedef struct p4_server p4_server;

typedef struct p4_server_options {
    const char *state_dir;        /* a finished node's state folder          */
    const char *listen;           /* "tcp://ADDR:PORT"; PORT 0 = a free port  */
    int probabilities;            /* 1: answer probabilities when asked       */
    int max_rows;                 /* rows per QUERY (0 = 256)                 */
    p4_cca_evidence *evidence;    /* NULL: software, no attestation; borrowed */
    FILE *log;                    /* NULL = stderr                            */
} p4_server_options;

typedef struct p4_server_stats {
    uint64_t attest_requests;     /* ATTEST_REQUESTs answered (with a token or none) */
    uint64_t queries;             /* QUERYs answered                          */
    uint64_t rows;                /* input rows classified                    */
    uint64_t dropped;             /* requests refused: malformed, wrong shape, ... */
} p4_server_stats;

/* Loads state_dir's private model and key pair and binds listen.  P4_EIO
 * naming the file when the folder holds no finished model. */
int p4_server_new(p4_server **out, const p4_server_options *options, p4_error *err);
void p4_server_destroy(p4_server **server);

/* The endpoint bound (port resolved), and the key clients must name. */
const char *p4_server_endpoint(const p4_server *server);
void p4_server_public_key(const p4_server *server, uint8_t key[P4_KEY_BYTES]);
/* The model's input floats per row and class count. */
void p4_server_shape(const p4_server *server, int *inputs, int *classes);

/* Serves until *stop is set (checked at least every 100 ms).  Returns P4_OK
 * then, or an error if the socket fails. */
int p4_server_run(p4_server *server, const volatile sig_atomic_t *stop, p4_error *err);

/* Counters so far (any thread). */
void p4_server_get_stats(const p4_server *server, p4_server_stats *out);

#endif
