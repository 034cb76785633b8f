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
 * Membership is static: [node] peers lists every other member with its
 * endpoint and public key, and only those keys are admitted.
 * Not built yet (see docs/node.md): joining through a bootstrap peer,
 * heartbeats, checkpoints and resuming a run after a restart (a restart
 * starts the protocol again under a new epoch), re-synchronising a node whose
 * grouping view differs, and a clean stop in the middle of a round. */
#ifndef P4_NODE_NODE_H
#define P4_NODE_NODE_H

#include <stdio.h>

#include "common/config.h"
#include "common/error.h"
#include "p4node/node_state.h"

typedef struct p4_node_options {
    const p4_config *cfg;   /* with a complete [node] section                */
    int reproducible;       /* seeded noise and batches: NOT private         */
    FILE *log;              /* start line, rounds, dropped messages (or NULL) */
} p4_node_options;

/* P4_OK when cfg's [node] section can run a node: id, listen and state
 * given, and peers naming every other client of [data] clients exactly
 * once (static membership).  P4_ECONFIG naming what is missing. */
int p4_node_check_config(const p4_config *cfg, p4_error *err);

/* Runs the node to the end of the protocol and records the result in
 * state/node.db; on success *result holds it (free with
 * p4_node_record_free).  A failure is recorded in node.db too (status
 * failed, with the message) once the run has an epoch. */
int p4_node_run(const p4_node_options *options, p4_node_record *result, p4_error *err);

/* Path of the client's privacy ledger in a node's state folder. */
int p4_node_ledger_path(const char *state_dir, int client, char *out, size_t size,
                        p4_error *err);

#endif
