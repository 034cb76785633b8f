/* ledger.c: the durable privacy budget ledger on SQLite.
 *
 * Schema: ledger_meta(key, value) holds delta and the target epsilon, fixed
 * when the file is created; dp_steps holds one row per recorded block of DP
 * steps.  WAL with synchronous=FULL makes every COMMIT durable (fsync'd)
 * before p4_ledger_record returns, so a step is on disk before it is taken.
 *
 * The ledger keeps, in memory, the per-(q, sigma) step totals read back from
 * the file at open and updated after each durable commit; the spend is the
 * RDP composition of those totals, so it is always what the file says. */
#include "dp/ledger.h"

#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LEDGER_MAX_MECHANISMS 63 /* distinct (q, sigma) pairs in one ledger */

struct p4_ledger {
    sqlite3 *db;
    char path[4096];
    double delta;
    double target;               /* INFINITY: no limit */
    p4_dp_phase totals[LEDGER_MAX_MECHANISMS];
    int ntotals;
};

static int db_error(p4_ledger *l, p4_error *err, const char *what)
{
    return p4_error_set(err, P4_ESTATE, "%s: %s: %s", l->path, what, sqlite3_errmsg(l->db));
}

static int exec_sql(p4_ledger *l, const char *sql, p4_error *err)
{
    char *msg = NULL;
    if (sqlite3_exec(l->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        int rc = p4_error_set(err, P4_ESTATE, "%s: %s", l->path, msg ? msg : "sqlite error");
        sqlite3_free(msg);
        return rc;
    }
    return P4_OK;
}

/* Adds steps to the in-memory total of mechanism (q, sigma). */
static int add_total(p4_ledger *l, double q, double sigma, long long steps, p4_error *err)
{
    for (int k = 0; k < l->ntotals; k++) {
        if (l->totals[k].sample_rate == q && l->totals[k].noise_multiplier == sigma) {
            l->totals[k].steps += steps;
            return P4_OK;
        }
    }
    if (l->ntotals == LEDGER_MAX_MECHANISMS)
        return p4_error_set(err, P4_ESTATE, "%s: more than %d distinct (q, sigma) mechanisms",
                            l->path, LEDGER_MAX_MECHANISMS);
    l->totals[l->ntotals++] = (p4_dp_phase){ q, sigma, steps };
    return P4_OK;
}

/* Reads a meta value; *found = 0 when absent. */
static int read_meta(p4_ledger *l, const char *key, double *value, int *found, p4_error *err)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(l->db, "SELECT value FROM ledger_meta WHERE key = ?1", -1, &st, NULL))
        return db_error(l, err, "reading settings");
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    *found = step == SQLITE_ROW;
    if (*found) *value = sqlite3_column_double(st, 0);
    sqlite3_finalize(st);
    if (step != SQLITE_ROW && step != SQLITE_DONE) return db_error(l, err, "reading settings");
    return P4_OK;
}

static int write_meta(p4_ledger *l, const char *key, double value, p4_error *err)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(l->db, "INSERT INTO ledger_meta(key, value) VALUES (?1, ?2)", -1, &st, NULL))
        return db_error(l, err, "writing settings");
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 2, value);
    int step = sqlite3_step(st);
    sqlite3_finalize(st);
    return step == SQLITE_DONE ? P4_OK : db_error(l, err, "writing settings");
}

/* Fixes delta and target on a new file; checks them on an existing one.
 * The target is stored as -1 for "no limit". */
static int settle_settings(p4_ledger *l, double delta, double target, p4_error *err)
{
    double stored_delta = 0, stored_target = 0;
    int has_delta, has_target, rc;
    if ((rc = read_meta(l, "delta", &stored_delta, &has_delta, err))) return rc;
    if ((rc = read_meta(l, "target_epsilon", &stored_target, &has_target, err))) return rc;
    double target_code = isinf(target) ? -1.0 : target;
    if (!has_delta) {
        if ((rc = write_meta(l, "delta", delta, err))) return rc;
        if ((rc = write_meta(l, "target_epsilon", target_code, err))) return rc;
        l->delta = delta;
        l->target = target;
        return P4_OK;
    }
    if (!has_target) return p4_error_set(err, P4_ESTATE, "%s: ledger has no target epsilon", l->path);
    if (stored_delta != delta)
        return p4_error_set(err, P4_ESTATE,
                            "%s: this ledger accounts at delta %g, the config asks %g; "
                            "use a new state file to change delta", l->path, stored_delta, delta);
    if (stored_target != target_code)
        return p4_error_set(err, P4_ESTATE,
                            "%s: this ledger was created with target epsilon %s%g, the config asks %g; "
                            "the budget of a ledger cannot change", l->path,
                            stored_target < 0 ? "(no limit) " : "", stored_target < 0 ? INFINITY : stored_target,
                            target);
    l->delta = stored_delta;
    l->target = target;
    return P4_OK;
}

static int load_totals(p4_ledger *l, p4_error *err)
{
    sqlite3_stmt *st;
    const char *sql = "SELECT sample_rate, noise_multiplier, SUM(steps) FROM dp_steps "
                      "GROUP BY sample_rate, noise_multiplier ORDER BY MIN(id)";
    if (sqlite3_prepare_v2(l->db, sql, -1, &st, NULL)) return db_error(l, err, "reading steps");
    int step, rc = P4_OK;
    while ((step = sqlite3_step(st)) == SQLITE_ROW && rc == P4_OK)
        rc = add_total(l, sqlite3_column_double(st, 0), sqlite3_column_double(st, 1),
                       sqlite3_column_int64(st, 2), err);
    sqlite3_finalize(st);
    if (rc) return rc;
    return step == SQLITE_DONE ? P4_OK : db_error(l, err, "reading steps");
}

/* Reads the stored settings of an existing ledger. */
static int adopt_settings(p4_ledger *l, p4_error *err)
{
    double delta = 0, target = 0;
    int has_delta, has_target, rc;
    if ((rc = read_meta(l, "delta", &delta, &has_delta, err))) return rc;
    if ((rc = read_meta(l, "target_epsilon", &target, &has_target, err))) return rc;
    if (!has_delta || !has_target || !(delta > 0 && delta < 1))
        return p4_error_set(err, P4_ESTATE, "%s: not a p4 budget ledger (no delta or target)", l->path);
    l->delta = delta;
    l->target = target < 0 ? INFINITY : target;
    return P4_OK;
}

/* create != 0: create if needed and fix/check (delta, target);
 * create == 0: the file must exist and its settings are adopted. */
static int ledger_open(const char *path, int create, double target_epsilon, double delta,
                       p4_ledger **out, p4_error *err)
{
    if (!out || !path || !*path) return p4_error_set(err, P4_EINVAL, "ledger: path and output required");
    *out = NULL;
    p4_ledger *l = calloc(1, sizeof *l);
    if (!l) return p4_error_set(err, P4_ENOMEM, "ledger: out of memory");
    snprintf(l->path, sizeof l->path, "%s", path);
    int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);
    if (sqlite3_open_v2(path, &l->db, flags, NULL) != SQLITE_OK) {
        int rc = p4_error_set(err, P4_ESTATE, "%s: cannot open the budget ledger: %s", path,
                              l->db ? sqlite3_errmsg(l->db) : "out of memory");
        p4_ledger_close(&l);
        return rc;
    }
    sqlite3_busy_timeout(l->db, 10000);
    int rc = exec_sql(l,
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
        "CREATE TABLE IF NOT EXISTS ledger_meta(key TEXT PRIMARY KEY, value REAL NOT NULL);"
        "CREATE TABLE IF NOT EXISTS dp_steps("
        "  id INTEGER PRIMARY KEY,"
        "  recorded_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),"
        "  model TEXT NOT NULL, phase TEXT NOT NULL,"
        "  sample_rate REAL NOT NULL CHECK (sample_rate > 0 AND sample_rate <= 1),"
        "  noise_multiplier REAL NOT NULL CHECK (noise_multiplier >= 0),"
        "  steps INTEGER NOT NULL CHECK (steps > 0));", err);
    if (rc == P4_OK) rc = exec_sql(l, "BEGIN IMMEDIATE", err);
    if (rc == P4_OK) {
        rc = create ? settle_settings(l, delta, target_epsilon, err) : adopt_settings(l, err);
        if (rc == P4_OK) rc = load_totals(l, err);
        int end = exec_sql(l, rc == P4_OK ? "COMMIT" : "ROLLBACK", rc == P4_OK ? err : NULL);
        if (rc == P4_OK) rc = end;
    }
    if (rc != P4_OK) {
        p4_ledger_close(&l);
        return rc;
    }
    *out = l;
    return P4_OK;
}

int p4_ledger_open(const char *path, double target_epsilon, double delta,
                   p4_ledger **out, p4_error *err)
{
    if (!(delta > 0.0 && delta < 1.0))
        return p4_error_set(err, P4_EINVAL, "ledger: delta %g is outside (0, 1)", delta);
    if (isnan(target_epsilon)) return p4_error_set(err, P4_EINVAL, "ledger: target epsilon is NaN");
    if (target_epsilon <= 0.0) target_epsilon = INFINITY;
    return ledger_open(path, 1, target_epsilon, delta, out, err);
}

int p4_ledger_open_existing(const char *path, p4_ledger **out, p4_error *err)
{
    return ledger_open(path, 0, 0, 0, out, err);
}

void p4_ledger_close(p4_ledger **ledger)
{
    if (!ledger || !*ledger) return;
    if ((*ledger)->db) sqlite3_close((*ledger)->db);
    free(*ledger);
    *ledger = NULL;
}

/* Epsilon of the recorded totals plus the given further phases. */
static int epsilon_after_phases(const p4_ledger *l, const p4_dp_phase *more, int nmore,
                                double *eps, p4_error *err)
{
    p4_dp_phase phases[LEDGER_MAX_MECHANISMS + 8];
    if (nmore < 0 || nmore > 8) return p4_error_set(err, P4_EINVAL, "ledger: at most 8 planned phases");
    int n = l->ntotals;
    memcpy(phases, l->totals, (size_t)n * sizeof phases[0]);
    for (int k = 0; k < nmore; k++)
        if (more[k].steps > 0) phases[n++] = more[k];
    if (n == 0) { *eps = 0.0; return P4_OK; }
    return p4_rdp_epsilon(phases, n, l->delta, NULL, 0, eps, NULL, err);
}

static int epsilon_after(const p4_ledger *l, double q, double sigma, long long steps,
                         double *eps, p4_error *err)
{
    p4_dp_phase more = { q, sigma, steps };
    return epsilon_after_phases(l, &more, 1, eps, err);
}

int p4_ledger_check_plan(p4_ledger *ledger, const p4_dp_phase *plan, int nplan,
                         double *epsilon_after_out, p4_error *err)
{
    if (!ledger || (nplan > 0 && !plan)) return p4_error_set(err, P4_EINVAL, "ledger plan: bad arguments");
    double spent, after;
    int rc = epsilon_after_phases(ledger, NULL, 0, &spent, err);
    if (rc == P4_OK) rc = epsilon_after_phases(ledger, plan, nplan, &after, err);
    if (rc) return rc;
    if (after > ledger->target)
        return p4_error_set(err, P4_EBUDGET,
                            "privacy budget: spent epsilon %.4f of allowed %.4f (delta %g); "
                            "the planned run would reach %.4f", spent, ledger->target,
                            ledger->delta, after);
    if (epsilon_after_out) *epsilon_after_out = after;
    return P4_OK;
}

int p4_ledger_check(p4_ledger *ledger, const char *model, double q,
                    double sigma, long long steps, double *epsilon_after_out,
                    p4_error *err)
{
    if (!ledger || !model) return p4_error_set(err, P4_EINVAL, "ledger check: bad arguments");
    if (!(q > 0.0 && q <= 1.0)) return p4_error_set(err, P4_EINVAL, "ledger: sample rate %g is outside (0, 1]", q);
    if (!(sigma >= 0.0) || isinf(sigma)) return p4_error_set(err, P4_EINVAL, "ledger: noise multiplier %g is invalid", sigma);
    if (steps <= 0) return p4_error_set(err, P4_EINVAL, "ledger: steps %lld must be > 0", steps);
    double spent, after;
    int rc = epsilon_after(ledger, 0, 0, 0, &spent, err);
    if (rc == P4_OK) rc = epsilon_after(ledger, q, sigma, steps, &after, err);
    if (rc) return rc;
    if (after > ledger->target)
        return p4_error_set(err, P4_EBUDGET,
                            "privacy budget: spent epsilon %.4f of allowed %.4f (delta %g); "
                            "%lld more steps of %s at q=%g, sigma=%.4f would reach %.4f",
                            spent, ledger->target, ledger->delta, steps, model, q, sigma, after);
    if (epsilon_after_out) *epsilon_after_out = after;
    return P4_OK;
}

int p4_ledger_record(p4_ledger *ledger, const char *model, const char *phase,
                     double q, double sigma, long long steps, p4_error *err)
{
    if (!phase) return p4_error_set(err, P4_EINVAL, "ledger record: phase is NULL");
    int rc = p4_ledger_check(ledger, model, q, sigma, steps, NULL, err);
    if (rc) return rc;
    sqlite3_stmt *st;
    const char *sql = "INSERT INTO dp_steps(model, phase, sample_rate, noise_multiplier, steps) "
                      "VALUES (?1, ?2, ?3, ?4, ?5)";
    if (sqlite3_prepare_v2(ledger->db, sql, -1, &st, NULL)) return db_error(ledger, err, "recording steps");
    sqlite3_bind_text(st, 1, model, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, phase, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 3, q);
    sqlite3_bind_double(st, 4, sigma);
    sqlite3_bind_int64(st, 5, steps);
    /* Autocommit: the row is durable (WAL fsync'd) when step returns DONE. */
    int step = sqlite3_step(st);
    sqlite3_finalize(st);
    if (step != SQLITE_DONE) return db_error(ledger, err, "recording steps");
    return add_total(ledger, q, sigma, steps, err);
}

int p4_ledger_spent(p4_ledger *ledger, double *epsilon, p4_error *err)
{
    if (!ledger || !epsilon) return p4_error_set(err, P4_EINVAL, "ledger spent: bad arguments");
    return epsilon_after(ledger, 0, 0, 0, epsilon, err);
}

int p4_ledger_phases(const p4_ledger *ledger, p4_dp_phase *out, int max, int *n, p4_error *err)
{
    if (!ledger || !n || (max > 0 && !out)) return p4_error_set(err, P4_EINVAL, "ledger phases: bad arguments");
    if (ledger->ntotals > max)
        return p4_error_set(err, P4_EINVAL, "ledger phases: %d mechanisms, room for %d", ledger->ntotals, max);
    memcpy(out, ledger->totals, (size_t)ledger->ntotals * sizeof out[0]);
    *n = ledger->ntotals;
    return P4_OK;
}

int p4_ledger_total_steps(p4_ledger *ledger, long long *steps, p4_error *err)
{
    if (!ledger || !steps) return p4_error_set(err, P4_EINVAL, "ledger steps: bad arguments");
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(ledger->db, "SELECT COALESCE(SUM(steps), 0) FROM dp_steps", -1, &st, NULL))
        return db_error(ledger, err, "counting steps");
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW) *steps = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return step == SQLITE_ROW ? P4_OK : db_error(ledger, err, "counting steps");
}

int p4_ledger_report(p4_ledger *ledger, void *stream, p4_error *err)
{
    FILE *out = stream;
    if (!ledger || !out) return p4_error_set(err, P4_EINVAL, "ledger report: bad arguments");
    sqlite3_stmt *st;
    const char *sql = "SELECT phase, model, sample_rate, noise_multiplier, SUM(steps), COUNT(*) "
                      "FROM dp_steps GROUP BY phase, model, sample_rate, noise_multiplier ORDER BY MIN(id)";
    if (sqlite3_prepare_v2(ledger->db, sql, -1, &st, NULL)) return db_error(ledger, err, "reading steps");
    fprintf(out, "%-10s %-10s %10s %10s %10s %12s\n", "phase", "model", "q", "sigma", "steps", "eps_alone");
    int step, rc = P4_OK;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        p4_dp_phase ph = { sqlite3_column_double(st, 2), sqlite3_column_double(st, 3),
                           sqlite3_column_int64(st, 4) };
        double eps;
        if ((rc = p4_rdp_epsilon(&ph, 1, ledger->delta, NULL, 0, &eps, NULL, err))) break;
        fprintf(out, "%-10.10s %-10.10s %10.6g %10.4f %10lld %12.4f\n",
                (const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 1),
                ph.sample_rate, ph.noise_multiplier, ph.steps, eps);
    }
    sqlite3_finalize(st);
    if (rc) return rc;
    if (step != SQLITE_DONE) return db_error(ledger, err, "reading steps");
    double total;
    long long steps;
    if ((rc = p4_ledger_spent(ledger, &total, err)) || (rc = p4_ledger_total_steps(ledger, &steps, err)))
        return rc;
    fprintf(out, "%-10s %-10s %10s %10s %10lld %12.4f\n", "total", "", "", "", steps, total);
    if (isinf(ledger->target))
        fprintf(out, "delta %g, no epsilon limit\n", ledger->delta);
    else
        fprintf(out, "delta %g, allowed epsilon %.4f, remaining %.4f\n", ledger->delta,
                ledger->target, ledger->target - total > 0 ? ledger->target - total : 0.0);
    return P4_OK;
}

double p4_ledger_delta(const p4_ledger *ledger) { return ledger ? ledger->delta : NAN; }
double p4_ledger_target(const p4_ledger *ledger) { return ledger ? ledger->target : NAN; }
