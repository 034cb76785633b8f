/* node_checkpoint.h: the state a restarted node resumes from (node.db).
 *
 * After the grouping and after each completed round, the node writes one
 * checkpoint: the round to run next, the groups, both models' weights and
 * momentum (distill/client.h), the batch sampler's and the enclave's noise
 * stream's positions when they are seeded (reproducible runs; a secret
 * generator is never written down), the steps its privacy ledger held then,
 * and the peers it knows.  The checkpoint, that round's row in `rounds` and
 * runs.round_reached are one SQLite transaction (WAL, synchronous=FULL), so
 * a kill at any point leaves either the old checkpoint or the new one.
 * There is one checkpoint per state folder; a finished run deletes it.
 *
 * The ledger, not the checkpoint, is the truth about privacy spend: a
 * restart compares the ledger's steps with ledger_steps to know whether the
 * cut-short round had already recorded releases (see p4_peer_setup). */
#ifndef P4_NODE_NODE_CHECKPOINT_H
#define P4_NODE_NODE_CHECKPOINT_H

#include <stdint.h>

#include "common/error.h"
#include "common/rng.h"
#include "distill/client.h"
#include "p4node/node_state.h"

typedef struct p4_node_checkpoint {
    uint32_t epoch;              /* the run (start) that wrote it                */
    /* what run it belongs to: a restart with another config refuses it */
    int client, clients, rounds;
    char method[16];
    uint64_t seed;
    int reproducible;
    int next_round;              /* rounds done: the first round a restart runs  */
    int *group_of, ngroups;      /* clients entries                              */
    long long ledger_steps;      /* DP steps the ledger held when it was written */
    double accuracy, epsilon;    /* after the last round (for its `rounds` row)  */
    /* counted so far (cluster/protocol.h's result; 0 in older checkpoints) */
    int proxy_reverts, krum_fallbacks, krum_smallest;
    p4_client_state state;
    int has_noise;               /* reproducible: the enclave's noise stream     */
    unsigned char noise[P4_RNG_STATE_BYTES];
    char *peers;                 /* known peers, one ID@ENDPOINT@KEY a line      */
    /* When the saved proxy averaged peers' proxies: the client's own from
     * before that averaging (state.proxy_count floats), so that a
     * divergence in the first round resumed goes back to it as it would
     * have without the restart (cluster/protocol.h, resume_own_proxy).
     * NULL: the saved proxy is the client's own, as every checkpoint
     * written before the column existed is read. */
    float *own_proxy;
} p4_node_checkpoint;

/* Writes ck as the state folder's checkpoint, with (when next_round > 0)
 * the row of round next_round - 1 and runs.round_reached, in one
 * transaction of ck->epoch's run. */
int p4_node_checkpoint_save(p4_node_state *state, const p4_node_checkpoint *ck, p4_error *err);

/* Reads the checkpoint into *ck (*found = 0 and ck zeroed when there is
 * none).  P4_ESTATE, naming the column, for a checkpoint that does not hold
 * together (sizes, groups, round out of range, an own proxy that is not
 * the proxy's size or not finite, more reverts or fallbacks than rounds). */
int p4_node_checkpoint_load(p4_node_state *state, p4_node_checkpoint *ck, int *found,
                            p4_error *err);

void p4_node_checkpoint_free(p4_node_checkpoint *ck);

#endif
