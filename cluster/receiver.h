/* receiver.h: the only way the round protocol takes messages from peers.
 *
 * p4_receiver_next waits on a transport until a message arrives that
 *   - decodes (cluster/wire.h: magic, version, type, every length, count,
 *     limit and float checked),
 *   - comes from the id it claims: the header's sender id must equal the id
 *     the transport authenticated; a key not yet bound to an id may only
 *     introduce itself with a HELLO carrying that same key,
 *   - and is newer than anything accepted from that sender before
 *     (cluster/replay_guard.h),
 * and drops everything else with one log line each, so that garbled,
 * truncated, oversized, forged or replayed bytes never reach the protocol. */
#ifndef P4_CLUSTER_RECEIVER_H
#define P4_CLUSTER_RECEIVER_H

#include <stdint.h>
#include <stdio.h>

#include "cluster/replay_guard.h"
#include "cluster/transport.h"
#include "cluster/wire.h"

typedef struct p4_receiver {
    p4_transport *transport;   /* borrowed */
    p4_replay_guard *guard;    /* borrowed */
    FILE *log;                 /* one line per dropped message; NULL = silent */
    int self_id;               /* for the log lines */
    uint64_t dropped;          /* messages dropped so far */
} p4_receiver;

/* Waits until deadline (p4_now_seconds clock) for the next acceptable
 * message: P4_OK with *out filled (free with p4_wire_message_clear) and
 * *from the authenticated sender id (-1 only for a HELLO from an admitted
 * key not yet bound to an id); P4_ETIMEOUT at the deadline; another error
 * only when the transport itself fails. */
int p4_receiver_next(p4_receiver *r, double deadline, p4_wire_message *out, int *from,
                     p4_error *err);

#endif
