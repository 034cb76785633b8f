/* cluster_run.h: N `p4 node` processes of one config on this machine
 * (`p4 cluster`), over loopback ZeroMQ with CURVE, as a test bed for the
 * networked protocol and a check that it gives `p4 sim`'s results.
 *
 * For each client K it makes a state folder DIR/node-K with the node's key
 * pair, picks a free loopback port, and writes DIR/node-K/node.ini: the base
 * config (p4_config_write) with a [node] section naming every other node's
 * endpoint and public key.  It then starts the nodes (this program's own
 * binary, `p4 node --config DIR/node-K/node.ini --json`, stdout to
 * node.out and stderr to node.log in that folder), waits for all of them
 * under one deadline, and reads each node's result from its node.db.  A node
 * that fails stops the others; the error names it and quotes its log (a
 * temporary state folder is then kept for the logs). */
#ifndef P4_NODE_CLUSTER_RUN_H
#define P4_NODE_CLUSTER_RUN_H

#include <stdio.h>

#include "common/config.h"
#include "common/error.h"
#include "p4node/simulation.h"

typedef struct p4_cluster_options {
    const p4_config *cfg;     /* the base config; its paths must be absolute
                                 (load it by an absolute path)              */
    int nodes;                /* must equal [data] clients                   */
    const char *state_dir;    /* kept; NULL = a temporary folder removed at
                                 the end                                     */
    int reproducible;         /* passed to every node: NOT private            */
    double deadline;          /* seconds for the whole run (> 0)              */
    const char *binary;       /* the p4 executable; NULL = /proc/self/exe     */
    FILE *log;                /* progress lines (NULL = silent)               */
} p4_cluster_options;

/* Runs the nodes; on success fills *result as p4_sim_run does (accuracy per
 * client, groups, latent clusters, ARI for P4 on a clustered partition,
 * largest epsilon, node 0's noise multiplier and DP facts, wall seconds).
 * Free with p4_sim_result_free. */
int p4_cluster_run(const p4_cluster_options *options, p4_sim_result *result, p4_error *err);

#endif
