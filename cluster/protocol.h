/* protocol.h: the P4 round protocol, written once for every transport.
 *
 * One call runs one peer from start to finish:
 *   1. warm-up (P4 only): the proxy's DP warm-up, local;
 *   2. grouping (P4 only): every peer sends the slice of its warm-up proxy
 *      that the grouping distance reads (a DP output) to every other peer;
 *      each peer computes the same groups from all slices (the grouping's
 *      random tie-breaks come from the config's public seed), then all
 *      exchange a digest of the result, so a peer whose view differs is
 *      detected instead of silently splitting the cluster;
 *   3. rounds: local co-training epochs, then the exchange of the method:
 *      P4 sends its proxy (or, in logits mode, its noised public logits)
 *      to its group and aggregates what the group sent; ProxyFL-style
 *      averages with one peer over an exponential graph; FedAvg-DP averages
 *      over everyone; local-only exchanges nothing;
 *   4. evaluation of the private model (FedAvg-DP: the proxy) on the peer's
 *      own test split.
 * `p4 sim` runs N peers, one thread each, over in-process transports;
 * `p4 node` runs one over ZeroMQ.  Messages are aggregated in peer-id order
 * whatever order they arrive in, so seeded runs agree to the last bit.
 *
 * A peer that sends nothing before the deadline, that the control hooks
 * call silent (no heartbeat for a while), or that cannot be reached, is
 * left out of that exchange (its group goes on without it; it is waited
 * for again at the next one); the grouping, which needs every member's
 * slice, fails instead.  When digests differ, the majority view wins: its
 * holders send it (VIEW) to the others, each checks it against the
 * majority's digest and adopts it, or stops with an error, so a cluster
 * never splits silently.  A peer that has already sent this peer a round
 * message of a later step is past the one awaited (each sender's messages
 * arrive in order), so it is left out at once instead of after the
 * deadline: that is how a node restarted from a checkpoint, behind its
 * group, catches up without waiting out each round it missed.  Messages for a later step are
 * kept until that step; stale, duplicate or malformed ones are dropped with
 * a log line. */
#ifndef P4_CLUSTER_PROTOCOL_H
#define P4_CLUSTER_PROTOCOL_H

#include <stdatomic.h>
#include <stdio.h>

#include "cluster/handshake.h"
#include "cluster/method.h"
#include "cluster/peer.h"
#include "cluster/transport.h"
#include "cluster/wire.h"
#include "common/config.h"
#include "common/error.h"

typedef struct p4_protocol_result p4_protocol_result; /* below */

/* Where the caller watches or paces a peer; every member may be NULL. */
typedef struct p4_protocol_hooks {
    void *user;
    /* Around each stretch of local compute: `p4 sim` runs at most T peers'
     * compute at once, while the others wait for messages. */
    void (*compute_begin)(void *user);
    void (*compute_end)(void *user);
    /* After each round, with the peer's accuracy then; when set, the peer
     * evaluates itself every round (evaluation changes no state). */
    void (*round_done)(void *user, int self, int round, double accuracy);
    /* After each round's local training, before the proxy is shared;
     * reverted = 1 when the training diverged and the proxy went back to
     * the client's own from before the last averaging (see one_round). */
    void (*trained)(void *user, int self, int round, int reverted);
    /* Where a restart may resume: after the grouping (next_round 0; P4
     * only) and after each round (after round_done), once the peer's state
     * is what round next_round starts from.  so_far: the result until now
     * (its groups, and the counts a restart carries on from: resume_*).
     * own_proxy: when the proxy the peer goes on with averaged peers'
     * proxies, the client's own from before that averaging (the proxy's
     * size), which a restart needs to revert a divergence as the run would
     * have (resume_own_proxy); NULL when the proxy is the client's own or
     * is not shared.  An error stops the run. */
    int (*checkpoint)(void *user, int self, int next_round, const p4_protocol_result *so_far,
                      const float *own_proxy, p4_error *err);
} p4_protocol_hooks;

/* A running peer, as its control hooks see it. */
typedef struct p4_protocol_link p4_protocol_link;

/* Sends m to peer `to` with the run's own sender (its id, epoch and next
 * sequence), so that receivers' replay guards see one sequence per node.
 * Safe to call from another thread (the heartbeat thread) while the run
 * sends; the transport must allow that (ZeroMQ does; in-process too). */
int p4_protocol_link_send(p4_protocol_link *link, int to, p4_wire_message *m, p4_error *err);

/* Waits until deadline for one message: a control message (HELLO, MEMBERS,
 * HEARTBEAT, BYE) goes to the control hook, a round message is kept for its
 * step, anything else is dropped with a log line.  P4_OK after one
 * message, P4_ETIMEOUT at the deadline. */
int p4_protocol_link_pump(p4_protocol_link *link, double deadline, p4_error *err);

/* 1 when the run was asked to stop (the join should give up waiting). */
int p4_protocol_link_stopping(const p4_protocol_link *link);

/* Membership and liveness around the rounds (cluster/membership.h fills
 * these for `p4 node`; `p4 sim` leaves them all NULL, and then the protocol
 * behaves exactly as without them).  Hooks run on the protocol's thread,
 * except that p4_protocol_link_send may be called from any. */
typedef struct p4_protocol_control {
    void *user;
    /* Before the warm-up (the join); may call p4_protocol_link_pump. */
    int (*start)(void *user, p4_protocol_link *link, p4_error *err);
    /* Each HELLO, MEMBERS, HEARTBEAT or BYE that passed the receiver;
     * from is the authenticated sender (-1: an admitted key not yet bound). */
    int (*message)(void *user, p4_protocol_link *link, const p4_wire_message *m, int from,
                   p4_error *err);
    /* Any message accepted from peer `from` (it is alive). */
    void (*heard)(void *user, int from);
    /* 1 when peer has been silent too long (*seconds: for how long), so an
     * exchange stops waiting for it. */
    int (*silent)(void *user, int peer, double *seconds);
    /* Where this peer is now (p4_wire_phase, and the round or -1). */
    void (*phase)(void *user, int phase, int round);
    /* At the end of the run (finished, stopped or failed). */
    void (*finish)(void *user, p4_protocol_link *link);
} p4_protocol_control;

typedef struct p4_protocol_spec {
    const p4_config *cfg;
    p4_method method;
    int clients;                 /* peers in the run, ids 0..clients-1        */
    p4_peer *peer;               /* this peer (its id is peer->id)             */
    int dp, logits_mode;         /* as p4_peer_setup_dp / _logits say          */
    const float *public_x;       /* logits mode: the public reference set      */
    int public_n;
    double logit_sigma;          /* logits mode: noise per entry / clip        */
    int classes;
    p4_transport *transport;
    uint32_t epoch;              /* this peer's restart counter (sim: 0)       */
    double timeout;              /* seconds to wait for one exchange           */
    FILE *log;                   /* dropped messages, left-out peers (or NULL) */
    p4_protocol_hooks hooks;
    p4_protocol_control control; /* membership and liveness (node only)       */
    /* When it becomes nonzero (SIGINT/SIGTERM), the peer stops cleanly at
     * its next step: between rounds, or while it waits for peers. */
    const atomic_int *stop;
    /* Test hook: this peer moves itself to another group after computing
     * the grouping, so its view differs and must be re-synchronised. */
    int test_skew_view;
    /* In one process only (`p4 sim`), or NULL: the warm-up slices and the
     * groups' digests go to this shared board instead of N-1 SLICE and DIGEST
     * messages each (cluster/slice_board.h); the grouping and the digest
     * comparison are the same. */
    struct p4_slice_board *board;
    /* Attestation-gated admission (cluster/handshake.h), run before anything
     * else: only the peers it admits take part, in every exchange and in the
     * grouping.  NULL (`p4 sim`, the software backend): every member does. */
    const p4_handshake_spec *handshake;
    p4_handshake_stats *handshake_stats;  /* filled when handshake is set; may be NULL */
    /* Resuming from a checkpoint (a restarted node): the groups found before
     * (clients entries) and the first round to run; warm-up and grouping are
     * skipped.  NULL: a fresh run. */
    const int *resume_groups;
    int resume_ngroups, start_round;
    /* With resume_groups: the checkpoint hook's own_proxy (resume_own_count
     * floats, the proxy's size), or NULL.  Set, the first round resumed
     * knows that its proxy averaged peers' proxies, and a divergence goes
     * back to this one instead of stopping the run, as without a restart. */
    const float *resume_own_proxy;
    size_t resume_own_count;
    /* With resume_groups: what the run had counted before (the checkpoint
     * hook's so_far), so that the result counts the whole run. */
    int resume_proxy_reverts, resume_krum_fallbacks, resume_krum_smallest;
} p4_protocol_spec;

typedef struct p4_protocol_result {
    double accuracy;             /* on the peer's own test split               */
    int *group_of;               /* clients entries, caller-allocated          */
    int ngroups;
    int dropped;                 /* messages dropped as stale or malformed     */
    int missing;                 /* expected messages that never came          */
    int unreachable;             /* sends a dead or refusing peer never took   */
    int stopped;                 /* 1: stopped on request before the end       */
    int rounds_done;             /* rounds completed (all of them unless stopped) */
    int resynced;                /* 1: this peer adopted the majority's grouping view */
    int refused;                 /* peers the admission handshake left out;
                                    their group_of entry is -1                 */
    int krum_fallbacks;          /* rounds aggregate = multikrum used the mean
                                    instead: the group had k <= 2 krum_f + 2   */
    int krum_smallest;           /* the smallest such group (0 = none)         */
    int proxy_reverts;           /* rounds whose training diverged from an
                                    average of peers' proxies: the proxy went
                                    back to the client's own, the round's
                                    training was dropped                      */
} p4_protocol_result;

int p4_protocol_run(const p4_protocol_spec *spec, p4_protocol_result *result, p4_error *err);

#endif
