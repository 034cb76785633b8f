/* query.h: the client of the attested inference service (`p4 query`).
 *
 * p4_query_open connects to the server over CURVE (the client's key pair is
 * made fresh for the session; the server's public key is given), sends a
 * fresh 32-byte nonce and checks the answer before anything else: a CCA
 * token must verify under the verifier's CPAK and policy and answer the
 * challenge bound to the server's key and that nonce (tee/cca/verifier.h,
 * the same check node admission makes).  A server with no evidence is
 * refused unless the caller allows it (insecure_no_attestation).  Only an
 * open session can send inputs, so a server that fails attestation never
 * sees one. */
#ifndef P4_NODE_QUERY_H
#define P4_NODE_QUERY_H

#include <stddef.h>
#include <stdint.h>

#include "cluster/identity.h"
#include "cluster/serve_wire.h"
#include "common/error.h"
#include "tee/cca/verifier.h"

typedef struct p4_query_session p4_query_session;

typedef struct p4_query_options {
    const char *server;                    /* "tcp://HOST:PORT"                */
    const uint8_t *server_key;             /* its CURVE public key (32 bytes)  */
    const p4_cca_verifier *verifier;       /* the policy; NULL only with insecure */
    int insecure_no_attestation;           /* accept a server with no evidence */
    int timeout_ms;                        /* per reply (0 = 10000)            */
} p4_query_options;

/* What the server said about itself once it was trusted. */
typedef struct p4_query_server_info {
    int evidence;                          /* p4_serve_evidence                */
    int inputs, classes, max_rows;
    int probabilities;                     /* 1: it answers probabilities      */
    size_t token_bytes;
} p4_query_server_info;

/* Connects and attests.  P4_ECRYPTO (verdict->failed names the check) when
 * the token fails, P4_EPEER when the server has no evidence and that is
 * not allowed, or sends an ERROR, P4_ETIMEOUT when it does not answer.
 * verdict may be NULL. */
int p4_query_open(p4_query_session **out, const p4_query_options *options,
                  p4_query_server_info *info, p4_cca_verdict *verdict, p4_error *err);
void p4_query_close(p4_query_session **session);

/* Classifies rows x cols floats (cols must be the server's input size), in
 * QUERYs of at most its max rows: labels[rows]; probabilities (rows x
 * classes; may be NULL) filled only when asked for and allowed, and then
 * *got_probabilities = 1. */
int p4_query_classify(p4_query_session *session, const float *values, size_t rows, size_t cols,
                      int *labels, float *probabilities, int *got_probabilities, p4_error *err);

#endif
