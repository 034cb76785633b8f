/* sender.h: the only way the round protocol sends messages to peers.
 *
 * A sender stamps each message's header with this node's id, its epoch
 * (restart counter) and the next sequence number, so that receivers'
 * replay guards accept it (cluster/replay_guard.h), encodes it (small
 * messages into a buffer it keeps, large ones into one freed after the
 * send) and hands the bytes to the transport.  Thread-safe: a node's
 * heartbeat thread and its round protocol share one sender (one sequence),
 * over a transport whose send may be called from several threads. */
#ifndef P4_CLUSTER_SENDER_H
#define P4_CLUSTER_SENDER_H

#include <stdint.h>

#include "cluster/transport.h"
#include "cluster/wire.h"

typedef struct p4_sender p4_sender;

/* A sender for node `id` (< P4_WIRE_MAX_NODES) in restart `epoch`, over
 * transport t (borrowed; must outlive the sender).  Sequences start at 0. */
int p4_sender_new(p4_sender **out, p4_transport *t, uint32_t id, uint32_t epoch, p4_error *err);
void p4_sender_destroy(p4_sender **sender);

/* Sets m's sender id, epoch and sequence (type, round and body are the
 * caller's), encodes m and sends it to peer `to`.  A sequence number is used
 * up even when the transport refuses the message (receivers accept gaps). */
int p4_sender_send(p4_sender *s, int to, p4_wire_message *m, p4_error *err);

/* The sequence number the next message will carry. */
uint64_t p4_sender_next_sequence(const p4_sender *s);

#endif
