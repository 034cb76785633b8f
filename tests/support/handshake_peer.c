/* handshake_peer.c: one handshake peer on a thread; see handshake_peer.h. */
#define _GNU_SOURCE /* open_memstream */
#include "support/handshake_peer.h"

#include <stdio.h>

#include "cluster/receiver.h"
#include "cluster/replay_guard.h"
#include "cluster/sender.h"
#include "tee/cca/evidence.h"

void *handshake_peer_run(void *arg)
{
    handshake_peer *p = arg;
    p4_transport *t = NULL;
    p4_replay_guard *guard = NULL;
    p4_sender *sender = NULL;
    p4_cca_evidence *ev = NULL;
    p4_error_clear(&p->err);
    FILE *log = p->keep_log ? open_memstream(&p->log_text, &p->log_size) : NULL;
    p->rc = p->clients > HANDSHAKE_PEERS_MAX
                ? p4_error_set(&p->err, P4_EINVAL, "at most %d handshake peers",
                               HANDSHAKE_PEERS_MAX)
                : P4_OK;
    if (p->rc == P4_OK)
        p->rc = p4_inproc_hub_transport(p->hub, p->id, &t, &p->err);
    if (p->rc == P4_OK)
        p->rc = p4_replay_guard_new(&guard, p->clients, &p->err);
    if (p->rc == P4_OK)
        p->rc = p4_sender_new(&sender, t, (uint32_t)p->id, 1, &p->err);
    if (p->rc == P4_OK)
        p->rc = p4_cca_evidence_new_command(&ev, p->command, 0, &p->err);
    if (p->rc == P4_OK) {
        p4_receiver r = { t, guard, log, p->id, 0 };
        p4_handshake_spec spec = { .self = p->id, .clients = p->clients, .keys = p->keys,
                                   .endpoint = p->endpoint ? p->endpoint : "inproc",
                                   .evidence = ev, .verifier = p->verifier,
                                   .timeout = p->timeout, .log = log };
        p->rc = p4_handshake_run(&spec, sender, &r, NULL, NULL, p->admitted, &p->stats, &p->err);
    }
    if (log)
        fclose(log);
    p4_cca_evidence_destroy(&ev);
    p4_sender_destroy(&sender);
    p4_replay_guard_destroy(&guard);
    return NULL;
}
