/* membership.h: who is in a networked run, and who is alive.
 *
 * A node starts knowing itself and the peers its config lists (static
 * membership lists every member; a bootstrap config lists one or a few).
 * Joining: the node sends a HELLO to each listed peer; a member that gets
 * a HELLO from an admitted key, for this run (same number of clients, same
 * config digest), binds the sender's id to its endpoint and key and answers
 * with MEMBERS (id, endpoint, CURVE public key of every member it knows).
 * Whoever learns a new member says HELLO to it and sends its grown list to
 * every member, so lists converge.  A member is confirmed when it shows it
 * knows this node (its HELLO, or a MEMBERS naming this node): it has then
 * admitted our key, and a connection dialled before that (which its ZAP
 * handler may have refused for good) is dialled again.  The join ends once
 * every client of the run is known and confirmed, before any round message
 * is sent.  A static config is complete from the start: no message.
 *
 * Admission stays the transport's allowlist (the ZAP handler).  A member
 * learned from MEMBERS is used only when its key is already admitted (the
 * config's `peers` and `allow` keys), or, when the config sets
 * `trust_bootstrap`, when a bootstrap peer (one the config lists) vouched
 * for it: then its key is admitted too.  Anything else is ignored with a
 * log line; docs/node.md says why this is the default.
 *
 * Liveness: a thread sends a HEARTBEAT (with this node's phase) to every
 * member every `heartbeat` seconds, even while the node computes; every
 * message heard from a peer counts.  A peer silent for `dead_after`
 * seconds is reported silent (the round protocol then leaves it out of
 * that exchange), and logged as back when it is heard again.  A peer that
 * said BYE is silent at once.
 *
 * The round protocol (cluster/protocol.h) drives all of this through its
 * control hooks; p4_membership_control fills them. */
#ifndef P4_CLUSTER_MEMBERSHIP_H
#define P4_CLUSTER_MEMBERSHIP_H

#include <stdint.h>
#include <stdio.h>

#include "cluster/protocol.h"
#include "cluster/transport.h"
#include "common/config.h"
#include "common/error.h"

typedef struct p4_membership p4_membership;

typedef struct p4_membership_options {
    int self, clients;
    const char *endpoint;             /* where the others reach this node        */
    const uint8_t *public_key;        /* this node's (32 bytes)                  */
    const uint8_t *config_digest;     /* p4_membership_config_digest (32 bytes)  */
    p4_transport *transport;          /* binds learned members (add_peer)        */
    /* Admits one more key at run time (p4_zmq_transport_allow); NULL: never. */
    int (*allow)(p4_transport *t, const uint8_t key[32], p4_error *err);
    /* Dials a peer again (p4_zmq_transport_redial); NULL: never needed. */
    int (*redial)(p4_transport *t, int id, p4_error *err);
    const uint8_t (*admitted)[32];    /* keys the config admits (peers + allow)  */
    size_t admitted_count;
    int trust_bootstrap;              /* admit members a bootstrap peer vouches for */
    double heartbeat;                 /* seconds between HEARTBEATs (> 0)        */
    double dead_after;                /* silence that makes a peer dead (> heartbeat) */
    double join_timeout;              /* seconds the join may take               */
    FILE *log;                        /* joins, drops, rejoins (NULL: silent)    */
} p4_membership_options;

int p4_membership_new(p4_membership **out, const p4_membership_options *options,
                      p4_error *err);
void p4_membership_destroy(p4_membership **m);

/* A peer the config lists (a bootstrap peer; a static config lists all).
 * Binds it in the transport too. */
int p4_membership_add_listed(p4_membership *m, int id, const char *endpoint,
                             const uint8_t key[32], p4_error *err);

/* 1 when every client of the run is known. */
int p4_membership_complete(const p4_membership *m);

/* How many members are known (self included). */
int p4_membership_known(const p4_membership *m);

/* Fills the protocol's control hooks: the join at start, HELLO, MEMBERS,
 * HEARTBEAT and BYE, liveness, and the heartbeat thread (started by the
 * start hook, stopped by the finish hook, which also says BYE). */
void p4_membership_control(p4_membership *m, p4_protocol_control *control);

/* A digest of the experiment a config describes: every section but [node]
 * and [tee], without file paths (they differ between machines).  Nodes
 * with different digests refuse each other's HELLO. */
int p4_membership_config_digest(const p4_config *cfg, uint8_t digest[32], p4_error *err);

#endif
