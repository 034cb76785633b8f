/* replay_guard.h: drops messages that are not strictly newer than the last
 * one accepted from the same sender.
 *
 * Each sender stamps its messages with (epoch, sequence): the epoch is its
 * restart counter (kept in its state directory), the sequence counts up
 * within an epoch.  A message is accepted only when its (epoch, sequence) is
 * lexicographically greater than the last accepted pair of that sender, so a
 * recorded message replayed later, a duplicate, or a message from before a
 * restart is refused, while a restarted sender may start its sequence again
 * at 0 under its new epoch. */
#ifndef P4_CLUSTER_REPLAY_GUARD_H
#define P4_CLUSTER_REPLAY_GUARD_H

#include <stdint.h>

#include "common/error.h"

typedef struct p4_replay_guard p4_replay_guard;

/* A guard for sender ids in [0, senders); senders in 1..P4_WIRE_MAX_NODES. */
int p4_replay_guard_new(p4_replay_guard **out, int senders, p4_error *err);
void p4_replay_guard_destroy(p4_replay_guard **guard);

/* P4_OK and records the pair when (epoch, sequence) is newer than the last
 * pair accepted from sender; P4_EPEER (naming both pairs) when it is not;
 * P4_EINVAL for a sender outside the guard's range. */
int p4_replay_guard_accept(p4_replay_guard *guard, uint32_t sender, uint32_t epoch,
                           uint64_t sequence, p4_error *err);

#endif
