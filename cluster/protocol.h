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
 * A peer that sends nothing before the deadline, or cannot be reached, is
 * left out of that exchange (its group goes on without it); the grouping,
 * which needs every member's slice, fails instead.  Messages for a later step are
 * kept until that step; stale, duplicate or malformed ones are dropped with
 * a log line. */
#ifndef P4_CLUSTER_PROTOCOL_H
#define P4_CLUSTER_PROTOCOL_H

#include <stdio.h>

#include "cluster/method.h"
#include "cluster/peer.h"
#include "cluster/transport.h"
#include "common/config.h"
#include "common/error.h"

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
} p4_protocol_hooks;

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
} p4_protocol_spec;

typedef struct p4_protocol_result {
    double accuracy;             /* on the peer's own test split               */
    int *group_of;               /* clients entries, caller-allocated          */
    int ngroups;
    int dropped;                 /* messages dropped as stale or malformed     */
    int missing;                 /* expected messages that never came          */
    int unreachable;             /* sends a dead or refusing peer never took   */
} p4_protocol_result;

int p4_protocol_run(const p4_protocol_spec *spec, p4_protocol_result *result, p4_error *err);

#endif
