/* handshake_peer.h: one peer of the admission handshake (cluster/handshake.h)
 * on an in-process hub, run on its own thread: what test_admission and
 * bench_cca both start K of.  Plain C (no cmocka), so bench/ links it too. */
#ifndef P4_TEST_HANDSHAKE_PEER_H
#define P4_TEST_HANDSHAKE_PEER_H

#include <stddef.h>
#include <stdint.h>

#include "cluster/handshake.h"
#include "cluster/transport_inproc.h"
#include "common/error.h"
#include "tee/cca/verifier.h"

#define HANDSHAKE_PEERS_MAX 64

typedef struct handshake_peer {
    /* in */
    int id, clients;
    p4_inproc_hub *hub;
    const uint8_t (*keys)[32];          /* every peer's public key          */
    char command[1400];                 /* the evidence command (its token) */
    const p4_cca_verifier *verifier;
    const char *endpoint;               /* announced in HELLO; NULL: "inproc" */
    double timeout;                     /* the handshake's bound, seconds   */
    int keep_log;                       /* 1: the handshake's log into log_text */
    /* out */
    unsigned char admitted[HANDSHAKE_PEERS_MAX];
    p4_handshake_stats stats;
    char *log_text;                     /* with keep_log; free it            */
    size_t log_size;
    int rc;
    p4_error err;
} handshake_peer;

/* The thread body (pthread_create(..., handshake_peer_run, peer)): sets up
 * the peer's transport, replay guard, sender and evidence, runs the
 * handshake, and leaves its outcome in rc, err, admitted and stats. */
void *handshake_peer_run(void *peer);

#endif
