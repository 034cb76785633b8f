/* replay_guard.c: per-sender last (epoch, sequence); see replay_guard.h. */
#include "cluster/replay_guard.h"

#include <stdlib.h>

#include "cluster/wire.h"

typedef struct last_seen {
    int seen;
    uint32_t epoch;
    uint64_t sequence;
} last_seen;

struct p4_replay_guard {
    int senders;
    last_seen *last;
};

int p4_replay_guard_new(p4_replay_guard **out, int senders, p4_error *err)
{
    if (out == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_replay_guard_new: NULL argument");
    *out = NULL;
    if (senders < 1 || senders > P4_WIRE_MAX_NODES)
        return p4_error_set(err, P4_EINVAL, "replay guard for %d senders (want 1..%d)", senders,
                            P4_WIRE_MAX_NODES);
    p4_replay_guard *g = calloc(1, sizeof *g);
    if (g != NULL)
        g->last = calloc((size_t)senders, sizeof *g->last);
    if (g == NULL || g->last == NULL) {
        free(g);
        return p4_error_set(err, P4_ENOMEM, "replay guard: no memory for %d senders", senders);
    }
    g->senders = senders;
    *out = g;
    return P4_OK;
}

void p4_replay_guard_destroy(p4_replay_guard **guard)
{
    if (guard == NULL || *guard == NULL)
        return;
    free((*guard)->last);
    free(*guard);
    *guard = NULL;
}

int p4_replay_guard_accept(p4_replay_guard *guard, uint32_t sender, uint32_t epoch,
                           uint64_t sequence, p4_error *err)
{
    if (guard == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_replay_guard_accept: NULL guard");
    if (sender >= (uint32_t)guard->senders)
        return p4_error_set(err, P4_EINVAL, "replay guard: sender %u outside [0, %d)", sender,
                            guard->senders);
    last_seen *l = &guard->last[sender];
    int newer = !l->seen || epoch > l->epoch || (epoch == l->epoch && sequence > l->sequence);
    if (!newer)
        return p4_error_set(err, P4_EPEER,
                            "replayed or stale message from sender %u: epoch %u sequence %llu, "
                            "last accepted epoch %u sequence %llu",
                            sender, epoch, (unsigned long long)sequence, l->epoch,
                            (unsigned long long)l->sequence);
    l->seen = 1;
    l->epoch = epoch;
    l->sequence = sequence;
    return P4_OK;
}
