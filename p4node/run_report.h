/* run_report.h: the summary of a whole run, as `p4 sim` and `p4 cluster`
 * print it (text, or one JSON object), from a p4_sim_result whichever way
 * the run was carried out. */
#ifndef P4_NODE_RUN_REPORT_H
#define P4_NODE_RUN_REPORT_H

#include <stdio.h>

#include "cluster/method.h"
#include "common/config.h"
#include "p4node/simulation.h"

typedef struct p4_run_report {
    const p4_config *cfg;
    p4_method method;
    double epsilon_target;      /* per client; INFINITY = no DP */
    int reproducible;
    const p4_sim_result *result;
} p4_run_report;

/* Prints the groups as [[0,1,2],[3,4]] (JSON and text alike). */
void p4_run_report_groups(FILE *out, const int *group_of, int clients, int ngroups);

/* One JSON object and a newline: config, method, epsilon_target, epsilon,
 * delta, noise_multiplier, dp_guarantee, reproducible, seed, clients,
 * mean_accuracy, std_accuracy, accuracy[], groups, ari, seconds; with
 * [p4] predict = ensemble (and a method that has both models) also
 * "predict":"ensemble" and ensemble_weight, so other runs' JSON is unchanged. */
void p4_run_report_json(FILE *out, const p4_run_report *report);

/* The warning that multi-Krum fell back to the mean (into out; "" when it
 * did not): p4 sim and p4 cluster print it on stderr, in the JSON's
 * "warnings" and in the text summary. */
void p4_run_report_krum_warning(const p4_run_report *report, char *out, size_t size);

/* The warning that proxies diverged after averaging peers' proxies and went
 * back to the clients' own (into out; "" when none did): printed where the
 * multi-Krum one is. */
void p4_run_report_revert_warning(const p4_run_report *report, char *out, size_t size);

/* The per-client table and the summary lines. */
void p4_run_report_text(FILE *out, const p4_run_report *report);

#endif
