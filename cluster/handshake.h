/* handshake.h: attestation-gated admission at the start of a run.
 *
 * With `[tee] backend = cca`, before the round protocol sends anything, each
 * node proves to every member that it runs in an allowed realm, and checks
 * the same of each of them (docs/protocol.md, "Admission handshake"):
 *
 *   A -> B  HELLO    a fresh 32-byte nonce that A drew for B (OS-keyed
 *                    p4_rng, one per peer and run; never reused)
 *   B -> A  EVIDENCE B's token answering that nonce: B fetches it from its
 *                    evidence source for this HELLO alone (never cached),
 *                    with challenge = SHA-512(domain, B's CURVE key, nonce)
 *   A       verifies it against its [tee] policy, with the key A's transport
 *           authenticated for B and the nonce A sent B
 * and the same the other way.  A peer whose token verifies is admitted; one
 * whose token fails (bad signature, measurement not on the allowlist, bound
 * to another key or nonce, garbled) or that sends none before the timeout
 * is refused: the refusal is logged with the failed check, the reason and
 * the peer's key, recorded in the transport's admission policy (which then
 * refuses its new connections), and the protocol leaves it out of every
 * exchange.
 *
 * Per-session limits: a node answers at most P4_HANDSHAKE_MAX_ANSWERS HELLOs
 * of one peer (each costs a token fetch), takes the first EVIDENCE of each
 * peer only, and gives up on silent peers after `timeout` seconds. */
#ifndef P4_CLUSTER_HANDSHAKE_H
#define P4_CLUSTER_HANDSHAKE_H

#include <stdint.h>
#include <stdio.h>

#include "cluster/admission.h"
#include "cluster/receiver.h"
#include "cluster/sender.h"
#include "cluster/wire.h"
#include "common/error.h"
#include "tee/cca/evidence.h"
#include "tee/cca/verifier.h"

#define P4_HANDSHAKE_MAX_ANSWERS 4

typedef struct p4_handshake_spec {
    int self, clients;                   /* ids 0..clients-1                  */
    const uint8_t (*keys)[32];           /* every member's CURVE public key,  */
                                         /* by id (self's too)                */
    const char *endpoint;                /* this node's, for its HELLO        */
    p4_cca_evidence *evidence;           /* this node's token source          */
    const p4_cca_verifier *verifier;     /* the policy peers' tokens must pass */
    p4_admission *admission;             /* verdicts recorded here (or NULL)  */
    double timeout;                      /* seconds for the whole handshake   */
    FILE *log;                           /* admissions and refusals (or NULL) */
} p4_handshake_spec;

typedef struct p4_handshake_stats {
    int admitted, refused, silent;       /* peers, by outcome                 */
    int tokens_fetched;                  /* own tokens fetched (one per HELLO) */
    int tokens_verified;                 /* peers' tokens verified             */
    double fetch_seconds, verify_seconds; /* totals over those fetches and the
                                            verifications                     */
    uint64_t bytes_sent;                 /* HELLO and EVIDENCE, headers included */
    uint64_t token_bytes_sent;           /* of which tokens                   */
} p4_handshake_stats;

/* Where messages that are not part of the handshake go (a faster peer's
 * first protocol messages): the callee takes m over (and clears it). */
typedef void (*p4_handshake_keep)(void *user, p4_wire_message *m, int from);

/* Runs the handshake over sender and receiver until every peer is admitted
 * or refused, or the timeout passes.  admitted[j] (clients entries) is set
 * to 1 for each admitted peer and for self, 0 otherwise.  P4_OK even when
 * peers were refused; an error only when this node cannot take part at all
 * (its own token cannot be fetched, the transport fails). */
int p4_handshake_run(const p4_handshake_spec *spec, p4_sender *sender, p4_receiver *receiver,
                     p4_handshake_keep keep, void *keep_user, unsigned char *admitted,
                     p4_handshake_stats *stats, p4_error *err);

#endif
