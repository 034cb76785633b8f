/* sweep_table.h: the cells of a `p4 sweep` and the files that hold them.
 *
 * A sweep is a plan (methods x epsilons x attack fractions x seeds of one
 * config) and one row of results per cell.  Its cells are independent, so a sweep can run in
 * slices (`--shard K/N`) on many machines and be merged (`p4 sweep merge`):
 * each slice writes its plan (DIR/sweep-plan.txt) and its rows
 * (DIR/results.csv); merging checks that the plans agree and every cell is
 * there exactly once, then writes the same results.csv, summary.csv and plot
 * one unsliced run would have written.
 *
 * Units of work: local-only uses no DP, so it runs once per (fraction, seed)
 * and its row stands for every epsilon; every other (method, epsilon,
 * fraction, seed) is a unit.
 * Units are numbered in plan order; slice K of N runs units u with
 * u mod N = K - 1. */
#ifndef P4_NODE_SWEEP_TABLE_H
#define P4_NODE_SWEEP_TABLE_H

#include <stdint.h>
#include <stdio.h>

#include "cluster/method.h"
#include "common/config.h"
#include "common/error.h"

#define P4_SWEEP_MAX_LIST 16
#define P4_SWEEP_MAX_SEEDS 100

typedef struct p4_sweep_plan {
    char config[P4_PATH_MAX];
    double delta;
    p4_method method[P4_SWEEP_MAX_LIST];
    int nmethods;
    double epsilon[P4_SWEEP_MAX_LIST];
    int neps;
    double fraction[P4_SWEEP_MAX_LIST];    /* [attack] fraction of the clients */
    int nfractions;
    int seeds;
    uint64_t model_seed, partition_seed;   /* seed s adds s to both */
    int shard, shards;                     /* this slice: K of N (1 of 1: all) */
    int reproducible;
} p4_sweep_plan;

typedef struct p4_sweep_row {
    int present;
    double mean_accuracy, honest_mean_accuracy, std_accuracy, epsilon_spent, ari, seconds;
    char guarantee[16];
} p4_sweep_row;

/* Rows indexed [method][epsilon][fraction][seed]. */
typedef struct p4_sweep_table {
    p4_sweep_plan plan;
    p4_sweep_row *rows;
} p4_sweep_table;

int p4_sweep_table_new(p4_sweep_table *t, const p4_sweep_plan *plan, p4_error *err);
void p4_sweep_table_free(p4_sweep_table *t);
p4_sweep_row *p4_sweep_row_at(p4_sweep_table *t, int m, int e, int f, int s);

/* Units of work in plan order; unit u's cell (m, e, f, s) (e = 0 for local). */
int p4_sweep_units(const p4_sweep_plan *plan);
void p4_sweep_unit_cell(const p4_sweep_plan *plan, int u, int *m, int *e, int *f, int *s);
int p4_sweep_unit_in_shard(const p4_sweep_plan *plan, int u);

/* Parses "K/N" (1 <= K <= N <= 10000). */
int p4_sweep_parse_shard(const char *text, int *shard, int *shards);

/* DIR/sweep-plan.txt and DIR/results.csv, written and read back.  Reading
 * checks every line and field, naming file:line on any fault. */
int p4_sweep_write(const p4_sweep_table *t, const char *dir, p4_error *err);
/* Reads one slice into t (t zeroed for the first: it then takes that
 * slice's plan); *shard receives the slice's number.  A slice whose plan
 * differs from t's in anything but its number is refused. */
int p4_sweep_read(p4_sweep_table *t, const char *dir, int *shard, p4_error *err);

/* DIR/summary.csv (mean and std over seeds, of the honest clients' mean
 * too), the summary table on `out`, DIR/sweep.gp and, with gnuplot,
 * DIR/sweep.png and sweep.svg (over attack fractions with error bars).
 * Every cell must be present. */
int p4_sweep_summarise(const p4_sweep_table *t, const char *dir, FILE *out, p4_error *err);

#endif
