/* handshake.c: nonces out, tokens back, verdicts recorded; see handshake.h. */
#include "cluster/handshake.h"

#include <stdlib.h>
#include <string.h>

#include "cluster/identity.h"
#include "common/progress.h"
#include "common/rng.h"

enum { PENDING = 0, ADMITTED = 1, REFUSED = 2 };

typedef struct session {
    const p4_handshake_spec *spec;
    p4_sender *sender;
    p4_handshake_stats *stats;
    uint8_t (*nonce)[32];        /* the nonce this node sent each peer        */
    unsigned char *state;        /* PENDING, ADMITTED, REFUSED per peer        */
    unsigned char *answers;      /* HELLOs of each peer answered so far        */
    int pending;
} session;

/* Encodes-and-sends m to peer `to`, counting its bytes. */
static int send_counted(session *s, int to, p4_wire_message *m, p4_error *err)
{
    int rc = p4_sender_send(s->sender, to, m, err); /* stamps m's header */
    size_t size = 0;
    if (rc == P4_OK && p4_wire_encoded_size(m, &size, NULL) == P4_OK)
        s->stats->bytes_sent += size;
    return rc;
}

/* The peer's verdict, once: logged with its key, recorded in the policy. */
static void decide(session *s, int peer, int passed, const char *reason)
{
    if (s->state[peer] != PENDING)
        return;
    s->state[peer] = passed ? ADMITTED : REFUSED;
    s->pending--;
    if (passed)
        s->stats->admitted++;
    else
        s->stats->refused++;
    char z85[P4_KEY_Z85_CHARS + 1];
    p4_key_to_z85(s->spec->keys[peer], z85);
    if (s->spec->log) {
        if (passed)
            fprintf(s->spec->log, "p4 node %d: admission: peer %d (key %s) admitted: its CCA "
                    "token verified\n", s->spec->self, peer, z85);
        else
            fprintf(s->spec->log, "p4 node %d: admission: refused peer %d (key %s): %s; it is "
                    "left out of every exchange\n", s->spec->self, peer, z85, reason);
        fflush(s->spec->log);
    }
    if (s->spec->admission)
        p4_admission_record(s->spec->admission, s->spec->keys[peer], passed, reason, NULL);
}

/* Sends this node's HELLO, with the nonce drawn for it, to every peer. */
static int send_hellos(session *s, p4_error *err)
{
    const p4_handshake_spec *sp = s->spec;
    for (int j = 0; j < sp->clients; j++) {
        if (j == sp->self)
            continue;
        p4_wire_message m;
        memset(&m, 0, sizeof m);
        m.header.type = P4_WIRE_HELLO;
        m.header.round = -1;
        p4_wire_hello *h = &m.body.hello;
        h->node_id = (uint32_t)sp->self;
        h->clients = (uint32_t)sp->clients;
        snprintf(h->endpoint, sizeof h->endpoint, "%s", sp->endpoint);
        memcpy(h->public_key, sp->keys[sp->self], 32);
        memcpy(h->nonce, s->nonce[j], 32);
        p4_error why = {0};
        int rc = send_counted(s, j, &m, &why);
        if (rc == P4_EPEER) { /* unreachable: it stays pending until the timeout */
            if (sp->log)
                fprintf(sp->log, "p4 node %d: admission: cannot send a HELLO to peer %d: %s\n",
                        sp->self, j, why.message);
            continue;
        }
        if (rc != P4_OK)
            return p4_error_set(err, rc, "admission: HELLO to peer %d: %s", j, why.message);
    }
    return P4_OK;
}

/* A peer's HELLO: a fresh token bound to this node's key and the peer's
 * nonce, fetched for this HELLO alone, goes back as EVIDENCE. */
static int answer_hello(session *s, int from, const p4_wire_hello *h, p4_error *err)
{
    const p4_handshake_spec *sp = s->spec;
    char why[200];
    if (h->clients != (uint32_t)sp->clients) {
        snprintf(why, sizeof why, "its HELLO says %u members, this run has %d", h->clients,
                 sp->clients);
        decide(s, from, 0, why);
        return P4_OK;
    }
    if (memcmp(h->public_key, sp->keys[from], 32) != 0) {
        decide(s, from, 0, "its HELLO names a public key other than the one it is listed with");
        return P4_OK;
    }
    if (s->answers[from] >= P4_HANDSHAKE_MAX_ANSWERS || s->state[from] == REFUSED) {
        if (sp->log)
            fprintf(sp->log, "p4 node %d: admission: not answering HELLO %d of peer %d (limit "
                    "%d per run, or the peer was refused)\n", sp->self, s->answers[from] + 1,
                    from, P4_HANDSHAKE_MAX_ANSWERS);
        return P4_OK;
    }
    s->answers[from]++;
    uint8_t *token = NULL;
    size_t len = 0;
    double t0 = p4_now_seconds();
    int rc = p4_cca_evidence_answer(sp->evidence, sp->keys[sp->self], h->nonce, &token, &len, err);
    s->stats->fetch_seconds += p4_now_seconds() - t0;
    if (rc != P4_OK)
        return p4_error_set(err, rc, "admission: cannot get this node's own attestation token "
                            "(%s): %s", p4_cca_evidence_describe(sp->evidence),
                            err ? err->message : "");
    s->stats->tokens_fetched++;
    if (len < 1 || len > P4_WIRE_MAX_EVIDENCE) {
        free(token);
        return p4_error_set(err, P4_EFORMAT, "admission: this node's token is %zu bytes (a "
                            "HELLO answer holds 1..%d)", len, P4_WIRE_MAX_EVIDENCE);
    }
    p4_wire_message m;
    memset(&m, 0, sizeof m);
    m.header.type = P4_WIRE_EVIDENCE;
    m.header.round = -1;
    memcpy(m.body.evidence.nonce, h->nonce, 32);
    m.body.evidence.token = token;
    m.body.evidence.token_bytes = (uint32_t)len;
    p4_error sent = {0};
    rc = send_counted(s, from, &m, &sent);
    free(token);
    if (rc == P4_OK)
        s->stats->token_bytes_sent += len;
    else if (rc == P4_EPEER && sp->log)
        fprintf(sp->log, "p4 node %d: admission: cannot answer peer %d: %s\n", sp->self, from,
                sent.message);
    else if (rc != P4_OK)
        return p4_error_set(err, rc, "admission: EVIDENCE to peer %d: %s", from, sent.message);
    return P4_OK;
}

/* A peer's EVIDENCE: verified with the key the transport authenticated and
 * the nonce this node sent it; its own echo of the nonce is only a hint. */
static void check_evidence(session *s, int from, const p4_wire_evidence *e,
                           const uint8_t peer_key[32])
{
    const p4_handshake_spec *sp = s->spec;
    if (s->state[from] != PENDING) {
        if (sp->log)
            fprintf(sp->log, "p4 node %d: admission: dropped another EVIDENCE from peer %d "
                    "(already %s)\n", sp->self, from,
                    s->state[from] == ADMITTED ? "admitted" : "refused");
        return;
    }
    char why[P4_ERROR_MESSAGE_MAX + 64];
    if (memcmp(e->nonce, s->nonce[from], 32) != 0) {
        decide(s, from, 0, "its EVIDENCE answers a nonce this node never sent it (a replayed "
                           "or stale token)");
        return;
    }
    p4_cca_verdict verdict;
    memset(&verdict, 0, sizeof verdict);
    p4_error err = {0};
    double t0 = p4_now_seconds();
    int rc = p4_cca_verifier_check(sp->verifier, e->token, e->token_bytes, peer_key,
                                   s->nonce[from], &verdict, &err);
    s->stats->verify_seconds += p4_now_seconds() - t0;
    s->stats->tokens_verified++;
    if (rc == P4_OK) {
        decide(s, from, 1, NULL);
        return;
    }
    snprintf(why, sizeof why, "token failed check %s: %s",
             rc == P4_EFORMAT || rc == P4_ECRYPTO ? p4_cca_check_name(verdict.failed) : "(none)",
             err.message);
    decide(s, from, 0, why);
}

/* The authenticated key of the last message's sender, or the listed one
 * where the transport has no keys (in-process). */
static void sender_key(const p4_receiver *r, const p4_handshake_spec *sp, int from,
                       uint8_t key[32])
{
    if (p4_transport_last_sender_key(r->transport, key, NULL) != P4_OK)
        memcpy(key, sp->keys[from], 32);
}

static int session_run(session *s, p4_receiver *receiver, p4_handshake_keep keep, void *user,
                       p4_error *err)
{
    const p4_handshake_spec *sp = s->spec;
    int rc = send_hellos(s, err);
    double deadline = p4_now_seconds() + sp->timeout;
    while (rc == P4_OK && s->pending > 0) {
        p4_wire_message m;
        int from = -1;
        p4_error why = {0};
        rc = p4_receiver_next(receiver, deadline, &m, &from, &why);
        if (rc == P4_ETIMEOUT) {
            rc = P4_OK;
            break;
        }
        if (rc != P4_OK)
            return p4_error_set(err, rc, "admission: %s", why.message);
        int type = m.header.type;
        if (from < 0 || from >= sp->clients || from == sp->self) {
            if (sp->log)
                fprintf(sp->log, "p4 node %d: admission: dropped %s from a key bound to no "
                        "member\n", sp->self, p4_wire_type_name(type));
        } else if (type == P4_WIRE_HELLO) {
            rc = answer_hello(s, from, &m.body.hello, err);
        } else if (type == P4_WIRE_EVIDENCE) {
            uint8_t key[32];
            sender_key(receiver, sp, from, key);
            check_evidence(s, from, &m.body.evidence, key);
        } else if (keep != NULL) {
            keep(user, &m, from); /* a faster peer's first protocol messages */
        }
        p4_wire_message_clear(&m);
    }
    for (int j = 0; rc == P4_OK && j < sp->clients; j++)
        if (j != sp->self && s->state[j] == PENDING) {
            char why[128];
            snprintf(why, sizeof why, "no valid attestation evidence within %.0f s",
                     sp->timeout);
            s->stats->silent++;
            decide(s, j, 0, why);
            s->stats->refused--; /* counted as silent */
        }
    return rc;
}

int p4_handshake_run(const p4_handshake_spec *sp, p4_sender *sender, p4_receiver *receiver,
                     p4_handshake_keep keep, void *keep_user, unsigned char *admitted,
                     p4_handshake_stats *stats, p4_error *err)
{
    if (sp == NULL || sender == NULL || receiver == NULL || admitted == NULL || sp->keys == NULL ||
        sp->endpoint == NULL || sp->evidence == NULL || sp->verifier == NULL ||
        sp->clients < 1 || sp->clients > P4_WIRE_MAX_NODES || sp->self < 0 ||
        sp->self >= sp->clients || !(sp->timeout > 0))
        return p4_error_set(err, P4_EINVAL, "p4_handshake_run: bad arguments");
    p4_handshake_stats local;
    if (stats == NULL)
        stats = &local;
    memset(stats, 0, sizeof *stats);
    session s = { .spec = sp, .sender = sender, .stats = stats, .pending = sp->clients - 1 };
    s.nonce = calloc((size_t)sp->clients, sizeof *s.nonce);
    s.state = calloc((size_t)sp->clients, 1);
    s.answers = calloc((size_t)sp->clients, 1);
    int rc = P4_OK;
    if (!s.nonce || !s.state || !s.answers)
        rc = p4_error_set(err, P4_ENOMEM, "admission: out of memory");
    p4_rng rng;
    if (rc == P4_OK && (rc = p4_rng_init_secure(&rng)) != P4_OK)
        p4_error_set(err, rc, "admission: cannot key the nonce generator from the OS");
    if (rc == P4_OK) {
        for (int j = 0; j < sp->clients; j++)
            p4_rng_bytes(&rng, s.nonce[j], 32); /* fresh per peer and per run */
        s.state[sp->self] = ADMITTED;
        p4_rng_wipe(&rng);
        rc = session_run(&s, receiver, keep, keep_user, err);
    }
    for (int j = 0; rc == P4_OK && j < sp->clients; j++)
        admitted[j] = s.state[j] == ADMITTED;
    if (rc == P4_OK && sp->log) {
        fprintf(sp->log, "p4 node %d: admission: %d of %d peers admitted, %d refused, %d "
                "silent; %d own tokens fetched (%.1f ms), %d verified (%.1f ms)\n", sp->self,
                stats->admitted, sp->clients - 1, stats->refused, stats->silent,
                stats->tokens_fetched, 1e3 * stats->fetch_seconds, stats->tokens_verified,
                1e3 * stats->verify_seconds);
        fflush(sp->log);
    }
    free(s.nonce);
    free(s.state);
    free(s.answers);
    return rc;
}
