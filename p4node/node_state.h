/* node_state.h: what a node remembers in its state folder (node.db).
 *
 * A small SQLite database (WAL, synchronous=FULL) beside the node's keys and
 * privacy ledgers:
 *   runs    one row per start of the node: its epoch (the restart counter,
 *           1, 2, ... : the wire's sender epoch, so peers can tell a
 *           restarted node's fresh messages from replays), status (running,
 *           finished, failed, stopped), the round reached and, once
 *           finished, the result;
 *   rounds  one row per finished round of a run: accuracy, epsilon spent.
 * `p4 status` and `p4 cluster` read it (read-only) while or after the node
 * runs.  The epsilon spent always comes from the ledger itself; node.db
 * keeps a copy of it at the end of a run for reports.
 *
 *   checkpoint  the one state a restart resumes from (node_checkpoint.h),
 *           written with each round's row in one transaction.
 * Not here yet: the membership a node learnt through a bootstrap peer. */
#ifndef P4_NODE_NODE_STATE_H
#define P4_NODE_NODE_STATE_H

#include <stdint.h>

#include "common/error.h"
#include "dp/guarantee.h"
#include "p4node/node_groups.h"

#define P4_NODE_DB_NAME "node.db"
#define P4_NODE_STATUS_MAX 16

typedef struct p4_node_state p4_node_state;

/* One run of a node, as node.db holds it. */
typedef struct p4_node_record {
    uint32_t epoch;
    int client, clients;
    char method[16];
    char status[P4_NODE_STATUS_MAX];  /* running | finished | failed | stopped |
                                         interrupted (ended without a word)     */
    int rounds;                       /* the config's rounds                    */
    int round_reached;                /* rounds finished so far                 */
    double started, ended;            /* Unix seconds (ended 0 while running)   */
    /* the result (finished runs) */
    double accuracy;
    int *group_of;                    /* clients entries (NULL until finished)  */
    int ngroups;
    int latent;                       /* the client's latent cluster, or -1     */
    double epsilon, epsilon_target;   /* spent (ledger) and target (inf = no DP) */
    double noise_multiplier, warmup_noise_multiplier;
    p4_dp_run_facts facts;
    p4_dp_guarantee guarantee;
    int dropped, missing;             /* messages dropped, exchanges missed     */
    double seconds;
    char error[P4_ERROR_MESSAGE_MAX]; /* failed or stopped: why                 */
    /* how peers were admitted (this process's run only; not in node.db) */
    char admission[96];               /* "" when not known                      */
    int refused;                      /* peers refused at admission             */
    int resumed_round;                /* resumed from a checkpoint at this round;
                                         -1: a fresh start                        */
    int krum_fallbacks;               /* rounds aggregate = multikrum used the
                                         mean (protocol.h); finished runs        */
    int krum_smallest;                /* the smallest such group (0: none)      */
    int proxy_reverts;                /* rounds whose training diverged from an
                                         average of peers' proxies and went back
                                         to its own (protocol.h); finished runs  */
} p4_node_record;

/* Opens (creating if needed) state_dir/node.db for the node itself. */
int p4_node_state_open(p4_node_state **out, const char *state_dir, p4_error *err);
void p4_node_state_close(p4_node_state **state);

/* Records a start: the next epoch (1 on first start) with status running;
 * rec's client, clients, method, rounds and epsilon_target are stored and
 * rec->epoch and rec->started are set.  Earlier runs still marked running
 * (their process was killed) become "interrupted". */
int p4_node_state_begin(p4_node_state *state, p4_node_record *rec, p4_error *err);

/* Records that rec's run resumed from a checkpoint at round `round`. */
int p4_node_state_resumed(p4_node_state *state, uint32_t epoch, int round, p4_error *err);

/* Records the result of rec's run (status finished) and, in the same
 * transaction, deletes the checkpoint: a finished run is never resumed. */
int p4_node_state_finish(p4_node_state *state, const p4_node_record *rec, p4_error *err);

/* Records why rec's run ended early; status "failed" or "stopped". */
int p4_node_state_end(p4_node_state *state, uint32_t epoch, const char *status,
                      const char *why, p4_error *err);

/* Marks the latest run of state_dir "stopped" if it is still running,
 * through a connection of its own (for a signal-handling thread). */
int p4_node_state_mark_stopped(const char *state_dir, const char *why, p4_error *err);

/* Reads the latest run recorded in state_dir/node.db, opened read-only.
 * P4_ESTATE when there is no node.db or it holds no run.  Free with
 * p4_node_record_free. */
int p4_node_state_read(const char *state_dir, p4_node_record *rec, p4_error *err);
void p4_node_record_free(p4_node_record *rec);

/* The open database, for the checkpoint code beside it (node_checkpoint.c),
 * and its path for messages. */
struct sqlite3;
struct sqlite3 *p4_node_state_db(p4_node_state *state, const char **path);

#endif
