/* ledger.h: the durable privacy budget ledger (SQLite, WAL, synchronous=FULL).
 *
 * Every DP release is recorded here *before* its result is used or leaves
 * the node: which model, which phase, q, sigma and how many steps.  The spent
 * epsilon is always recomputed from the rows in the file, never kept in
 * memory, so a node killed at any point and restarted resumes with exactly
 * what it spent (it may over-count a step it recorded but never finished; it
 * never under-counts), and several processes (or handles) on one file see
 * each other's spend.  Checking and recording a block is one SQLite write
 * transaction (BEGIN IMMEDIATE): two processes can never together pass the
 * target.  A step that would push the spend above the target epsilon is
 * refused with P4_EBUDGET and a message giving spent and allowed, and leaves
 * the file unchanged.
 *
 * A run can also reserve its whole plan when it starts (p4_ledger_reserve_plan):
 * the reservation counts against every other process's checks until the run
 * records those steps, releases it or dies (a run's reservation is tied to an
 * OFD lock on the file "<ledger>-runs", which the kernel drops when the
 * process ends, however it ends), so of two runs started together on a
 * budget that pays for one, one starts and the other is refused at once. */
#ifndef P4_DP_LEDGER_H
#define P4_DP_LEDGER_H

#include "common/error.h"
#include "dp/accountant.h"

typedef struct p4_ledger p4_ledger;

/* Opens (creating if needed) the ledger at path.  target_epsilon <= 0 or
 * INFINITY means "no limit"; delta in (0,1). If the file already holds a
 * different delta or target, the stored ones are kept and reported via
 * err only if they conflict (P4_ESTATE). */
int p4_ledger_open(const char *path, double target_epsilon, double delta,
                   p4_ledger **out, p4_error *err);
void p4_ledger_close(p4_ledger **ledger);

/* Opens an existing ledger with the delta and target stored in it (for
 * reports); P4_ESTATE if the file is missing or not a ledger. */
int p4_ledger_open_existing(const char *path, p4_ledger **out, p4_error *err);

/* The recorded spend (read from the file now; reservations not included)
 * as phases, one per distinct (q, sigma), for calibrating the noise of
 * further steps (p4_rdp_calibrate_sigma's prior).  *out is allocated to fit
 * them all, with room for `spare` (0 to 64) more that the caller may append
 * (each restart that recalibrates adds a phase, so callers must not assume
 * a count: a ledger holds any number of them); free(*out) after use.  *out
 * is NULL when *n + spare is 0. */
int p4_ledger_phases(const p4_ledger *ledger, int spare, p4_dp_phase **out, int *n,
                     p4_error *err);

/* Would `steps` more steps at (q, sigma) for `model` stay within budget,
 * counting what the file holds now: the records and the live reservations of
 * all runs (this handle's own reservation pays for the steps it covers)?
 * On success *epsilon_after receives the spend after them (may be NULL).
 * Returns P4_OK, or P4_EBUDGET with "spent X of allowed Y" in err.  Writes
 * nothing: another process may spend in between, record checks again. */
int p4_ledger_check(p4_ledger *ledger, const char *model, double q,
                    double sigma, long long steps, double *epsilon_after,
                    p4_error *err);

/* Would a whole planned run (up to 8 phases) stay within budget, next to
 * the records and the other runs' live reservations?  Used to refuse a run
 * that could not finish before it starts.  Writes nothing, so a run that only
 * checks can still be overtaken by another process later; it is then refused
 * at the block that would pass the target (p4_ledger_record). */
int p4_ledger_check_plan(p4_ledger *ledger, const p4_dp_phase *plan, int nplan,
                         double *epsilon_after, p4_error *err);

/* Checks the plan as p4_ledger_check_plan and, in the same write
 * transaction, reserves it for this handle (replacing any reservation it
 * held): other processes' checks and records then count it as spent.  The
 * handle's records draw its reservation down; p4_ledger_release or
 * p4_ledger_close gives back what is left, and so does the kernel when the
 * process dies.  P4_EBUDGET ("spent X of allowed Y") if it does not fit. */
int p4_ledger_reserve_plan(p4_ledger *ledger, const p4_dp_phase *plan, int nplan,
                           double *epsilon_after, p4_error *err);

/* Gives back what is left of this handle's reservation (no-op without one). */
int p4_ledger_release(p4_ledger *ledger, p4_error *err);

/* Checks as above and durably records the steps (fsync'd commit), as one
 * write transaction computed from the rows in the file, before returning
 * P4_OK.  A concurrent writer waits (busy timeout) rather than failing.
 * `phase` names the phase ("warmup", "cotrain", "logits"). */
int p4_ledger_record(p4_ledger *ledger, const char *model, const char *phase,
                     double q, double sigma, long long steps, p4_error *err);

/* Epsilon spent so far, over all records (for the whole node: all records
 * compose, whatever model they name). */
int p4_ledger_spent(p4_ledger *ledger, double *epsilon, p4_error *err);

/* Total steps recorded (for tests and reports). */
int p4_ledger_total_steps(p4_ledger *ledger, long long *steps, p4_error *err);

/* What runs in progress hold: *runs live reservations, and *epsilon the
 * spend if they all record what they reserved (records included; equal to
 * the spent epsilon when *runs is 0).  Either output may be NULL. */
int p4_ledger_reserved(p4_ledger *ledger, int *runs, double *epsilon, p4_error *err);

/* One line of a report: the steps recorded for one (phase, model, q, sigma). */
#define P4_LEDGER_NAME_MAX 64
typedef struct p4_ledger_row {
    char phase[P4_LEDGER_NAME_MAX]; /* truncated if longer */
    char model[P4_LEDGER_NAME_MAX];
    double sample_rate;
    double noise_multiplier;
    long long steps;
    long long blocks;               /* how many records make up steps */
} p4_ledger_row;

/* The recorded steps grouped as p4_ledger_row, in order of first record.
 * *n is the number of rows; more than max gives P4_EINVAL (with *n set). */
int p4_ledger_rows(p4_ledger *ledger, p4_ledger_row *out, int max, int *n, p4_error *err);

/* Writes the per-phase table (each phase's epsilon alone) and the composed
 * total to stream, as `p4 budget` prints (dp/ledger_report.c). */
int p4_ledger_report(p4_ledger *ledger, void *stream /* FILE* */, p4_error *err);

/* The same as one JSON object, as `p4 budget --json` prints: epsilon
 * (spent), allowed (null: no limit), remaining, delta, steps, reserved and
 * phases (an array of {phase, model, sample_rate, noise_multiplier, steps,
 * blocks, epsilon_alone}). */
int p4_ledger_report_json(p4_ledger *ledger, void *stream /* FILE* */, p4_error *err);

double p4_ledger_delta(const p4_ledger *ledger);
double p4_ledger_target(const p4_ledger *ledger);

#endif
