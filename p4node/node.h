/* node.h: one member of a networked P4 run (`p4 node`).
 *
 * The node owns the process side of a peer: its config ([node] id, listen,
 * peers, state), its state folder (CURVE key pair node.key/node.pub,
 * node.db with the restart counter and results, its privacy ledger
 * client-NNN.db), and the ZeroMQ transport.  The rounds themselves are
 * cluster/protocol.c's, the same code `p4 sim` runs on threads, and client
 * K of a config starts from the same models, split and DP plan in both, so
 * seeded runs of `p4 cluster` and `p4 sim` agree.
 *
 * Membership (cluster/membership.h): [node] peers lists every other member
 * (static), or one or a few bootstrap peers through which the node joins
 * and learns the rest; only the keys of [node] peers and allow (and, with
 * trust_bootstrap, those a bootstrap peer vouches for) are admitted.
 * Heartbeats let an exchange stop waiting for a dead or stalled peer; a
 * grouping view that differs from the majority's is re-synchronised; a
 * stop request ends the run cleanly at its next step (node.db: stopped).
 * Durable state: after the grouping and after every round the node writes
 * a checkpoint to node.db (p4node/node_checkpoint.h); started again on the
 * same state folder, it resumes from it under a new epoch, behind its peers
 * if they went on, and catches up (docs/node.md, "Restarts"). */
#ifndef P4_NODE_NODE_H
#define P4_NODE_NODE_H

#include <stdatomic.h>
#include <stdio.h>

#include "common/config.h"
#include "common/error.h"
#include "p4node/node_state.h"

typedef struct p4_node_options {
    const p4_config *cfg;   /* with a complete [node] section                */
    int reproducible;       /* seeded noise and batches: NOT private         */
    FILE *log;              /* start line, rounds, dropped messages (or NULL) */
    const atomic_int *stop; /* nonzero: stop cleanly at the next step (or NULL) */
    const char *stop_why;   /* recorded in node.db then, e.g. "stopped by SIGTERM" */
    int test_skew_view;     /* test hook: make this node's grouping view differ */
    /* Called right after each checkpoint is committed (may be NULL): the
     * fault tests' place to kill the node exactly between two rounds. */
    void (*after_checkpoint)(void *user, int next_round);
    void *user;
} p4_node_options;

/* P4_OK when cfg's [node] section can run a node: id, listen and state
 * given, and enough admitted keys for every other client: peers naming
 * each (static membership), or peers and allow keys that together cover
 * them (bootstrap join), or trust_bootstrap with at least one peer.
 * P4_ECONFIG naming what is missing. */
int p4_node_check_config(const p4_config *cfg, p4_error *err);

/* Runs the node to the end of the protocol (or a clean stop: then
 * result->status is "stopped") and records the result in state/node.db;
 * on success *result holds it (free with p4_node_record_free).  A failure is recorded in node.db too (status
 * failed, with the message) once the run has an epoch. */
int p4_node_run(const p4_node_options *options, p4_node_record *result, p4_error *err);

/* Path of the client's privacy ledger in a node's state folder. */
int p4_node_ledger_path(const char *state_dir, int client, char *out, size_t size,
                        p4_error *err);

#endif
