/* node_report.h: one node's run as `p4 node` and `p4 status` print it
 * (text, or one JSON object). */
#ifndef P4_NODE_NODE_REPORT_H
#define P4_NODE_NODE_REPORT_H

#include <stdio.h>

#include "p4node/node_state.h"

/* One JSON object and a newline: id, epoch, status, method, clients,
 * rounds, round_reached, accuracy, group, ngroups, groups, epsilon,
 * epsilon_target, delta, noise_multiplier, dp_guarantee, reproducible,
 * dropped, missing, seconds, error, state.  delta: NAN when unknown. */
void p4_node_report_json(FILE *out, const p4_node_record *rec, double delta,
                         const char *state_dir);

/* The same as lines a person reads. */
void p4_node_report_text(FILE *out, const p4_node_record *rec, double delta,
                         const char *state_dir);

#endif
