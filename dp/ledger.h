/* ledger.h: the durable privacy budget ledger (SQLite, WAL, synchronous=FULL).
 *
 * Every DP release is recorded here *before* its result is used or leaves
 * the node: which model, which phase, q, sigma and how many steps.  The spent
 * epsilon is always recomputed from the ledger, never kept in memory alone,
 * so a node killed at any point and restarted resumes with exactly what it
 * spent (it may over-count a step it recorded but never finished; it never
 * under-counts).  A step that would push the spend above the target epsilon
 * is refused with P4_EBUDGET and a message giving spent and allowed. */
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

/* The recorded spend as phases, one per distinct (q, sigma), for
 * calibrating the noise of further steps (p4_rdp_calibrate_sigma's prior). */
int p4_ledger_phases(const p4_ledger *ledger, p4_dp_phase *out, int max, int *n,
                     p4_error *err);

/* Would `steps` more steps at (q, sigma) for `model` stay within budget?
 * On success *epsilon_after receives the spend after them (may be NULL).
 * Returns P4_OK, or P4_EBUDGET with "spent X of allowed Y" in err. */
int p4_ledger_check(p4_ledger *ledger, const char *model, double q,
                    double sigma, long long steps, double *epsilon_after,
                    p4_error *err);

/* Would a whole planned run (up to 8 phases) stay within budget?  Used to
 * refuse a run that could not finish before it starts. */
int p4_ledger_check_plan(p4_ledger *ledger, const p4_dp_phase *plan, int nplan,
                         double *epsilon_after, p4_error *err);

/* Checks as above, then durably records the steps (fsync'd commit) before
 * returning P4_OK.  `phase` names the phase ("warmup", "cotrain", "logits"). */
int p4_ledger_record(p4_ledger *ledger, const char *model, const char *phase,
                     double q, double sigma, long long steps, p4_error *err);

/* Epsilon spent so far, over all records (for the whole node: all records
 * compose, whatever model they name). */
int p4_ledger_spent(p4_ledger *ledger, double *epsilon, p4_error *err);

/* Total steps recorded (for tests and reports). */
int p4_ledger_total_steps(p4_ledger *ledger, long long *steps, p4_error *err);

/* Writes the per-phase table (each phase's epsilon alone) and the composed
 * total to stream, as `p4 budget` prints. */
int p4_ledger_report(p4_ledger *ledger, void *stream /* FILE* */, p4_error *err);

double p4_ledger_delta(const p4_ledger *ledger);
double p4_ledger_target(const p4_ledger *ledger);

#endif
