/* ledger.c: the durable privacy budget ledger on SQLite.
 *
 * Schema: ledger_meta(key, value) holds delta and the target epsilon, fixed
 * when the file is created; dp_steps holds one row per recorded block of DP
 * steps; dp_runs and dp_reserved hold the runs in progress that reserved a
 * plan and what is left of it.  WAL with synchronous=FULL makes every COMMIT
 * durable (fsync'd) before p4_ledger_record returns, so a step is on disk
 * before it is taken.
 *
 * Nothing about the spend is kept in memory: every check reads the rows, and
 * record and reserve read and write inside one BEGIN IMMEDIATE transaction
 * (SQLite's single writer lock), so what they check is what the file holds
 * when they write, whichever process wrote it.
 *
 * A run is alive while it holds an OFD write lock on byte <run id> of the
 * file "<ledger>-runs"; the kernel drops the lock when the process ends, so
 * a reservation whose byte is unlocked belongs to a dead run: checks ignore
 * it and the next writer deletes it.  OFD locks (unlike classic POSIX locks)
 * belong to the open file, so two handles in one process see each other's
 * locks and closing one handle leaves the other's in place. */
#define _GNU_SOURCE /* F_OFD_GETLK, F_OFD_SETLK */
#include "dp/ledger.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LEDGER_MAX_PLAN 8
#define LEDGER_MAX_SPARE 64      /* room p4_ledger_phases adds for a caller's own phases */
#define LEDGER_BUSY_MS 30000     /* how long a writer waits for another's transaction */

struct p4_ledger {
    sqlite3 *db;
    char path[4096];
    double delta;
    double target;  /* INFINITY: no limit */
    int runs_fd;    /* "<path>-runs", -1 until first needed */
    long long run;  /* this handle's run id while it holds a reservation, else 0 */
};

/* Mechanisms with their step counts, one entry per distinct (q, sigma).
 * The set owns its array (grown as mechanisms are added, freed by
 * set_free): a ledger holds as many mechanisms as it was given, since each
 * restart that recalibrates the noise adds one.  A zeroed set is empty. */
typedef struct {
    p4_dp_phase *phase;
    int n, room;
} mechanism_set;

/* What the file holds now, as seen by one handle; owns its three sets
 * (view_free). */
typedef struct {
    mechanism_set recorded; /* dp_steps */
    mechanism_set others;   /* live reservations of other runs */
    mechanism_set own;      /* this handle's reservation */
    int other_runs;         /* live other runs holding a reservation */
} ledger_view;

static int db_error(const p4_ledger *l, p4_error *err, const char *what)
{
    return p4_error_set(err, P4_ESTATE, "%s: %s: %s", l->path, what, sqlite3_errmsg(l->db));
}

static int exec_sql(const p4_ledger *l, const char *sql, p4_error *err)
{
    char *msg = NULL;
    if (sqlite3_exec(l->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        int rc = p4_error_set(err, P4_ESTATE, "%s: %s", l->path, msg ? msg : "sqlite error");
        sqlite3_free(msg);
        return rc;
    }
    return P4_OK;
}

/* Ends a transaction: COMMIT if rc is P4_OK (rolling back if that fails),
 * else ROLLBACK; returns the first error. */
static int end_transaction(const p4_ledger *l, int rc, p4_error *err)
{
    if (rc == P4_OK) {
        rc = exec_sql(l, "COMMIT", err);
        if (rc == P4_OK)
            return P4_OK;
    }
    if (!sqlite3_get_autocommit(l->db))
        exec_sql(l, "ROLLBACK", NULL);
    return rc;
}

/* --- mechanism sets ------------------------------------------------------ */

static void set_free(mechanism_set *s)
{
    free(s->phase);
    *s = (mechanism_set){ 0 };
}

static void view_free(ledger_view *v)
{
    set_free(&v->recorded);
    set_free(&v->others);
    set_free(&v->own);
}

static int set_add(mechanism_set *s, const p4_ledger *l, double q, double sigma,
                   long long steps, p4_error *err)
{
    if (steps <= 0)
        return P4_OK;
    for (int k = 0; k < s->n; k++) {
        if (s->phase[k].sample_rate == q && s->phase[k].noise_multiplier == sigma) {
            s->phase[k].steps += steps;
            return P4_OK;
        }
    }
    if (s->n == s->room) {
        /* the count is an int (the accountant's), so it stops short of INT_MAX */
        int room = s->room < 16 ? 16 : s->room > INT_MAX / 2 ? INT_MAX : 2 * s->room;
        p4_dp_phase *grown = s->n == INT_MAX ? NULL
                                             : realloc(s->phase, (size_t)room * sizeof *grown);
        if (!grown)
            return p4_error_set(err, P4_ENOMEM,
                                "%s: no memory for %d distinct (q, sigma) mechanisms", l->path,
                                s->n + 1);
        s->phase = grown;
        s->room = room;
    }
    s->phase[s->n++] = (p4_dp_phase){ q, sigma, steps };
    return P4_OK;
}

static int set_add_all(mechanism_set *s, const p4_ledger *l, const mechanism_set *from,
                       p4_error *err)
{
    int rc = P4_OK;
    for (int k = 0; k < from->n && rc == P4_OK; k++)
        rc = set_add(s, l, from->phase[k].sample_rate, from->phase[k].noise_multiplier,
                     from->phase[k].steps, err);
    return rc;
}

static long long set_steps_of(const mechanism_set *s, double q, double sigma)
{
    for (int k = 0; k < s->n; k++)
        if (s->phase[k].sample_rate == q && s->phase[k].noise_multiplier == sigma)
            return s->phase[k].steps;
    return 0;
}

static int set_epsilon(const p4_ledger *l, const mechanism_set *s, double *eps, p4_error *err)
{
    if (s->n == 0) {
        *eps = 0.0;
        return P4_OK;
    }
    return p4_rdp_epsilon(s->phase, s->n, l->delta, NULL, 0, eps, NULL, err);
}

/* --- runs and their liveness --------------------------------------------- */

/* Opens "<path>-runs" once per handle; create only when reserving. */
static int open_runs_file(p4_ledger *l, int create)
{
    if (l->runs_fd >= 0)
        return 0;
    char name[sizeof l->path + 8];
    snprintf(name, sizeof name, "%s-runs", l->path);
    l->runs_fd = open(name, O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0644);
    return l->runs_fd >= 0 ? 0 : -errno;
}

/* Is the run that reserved under this id still alive?  When that cannot be
 * told, it is counted as alive: a reservation is never dropped by doubt. */
static int run_is_alive(p4_ledger *l, long long run)
{
    int rc = open_runs_file(l, 0);
    if (rc == -ENOENT)
        return 0; /* no run ever locked a byte: every reservation is a dead run's */
    if (rc != 0)
        return 1;
    struct flock probe = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = run, .l_len = 1 };
    if (fcntl(l->runs_fd, F_OFD_GETLK, &probe) != 0)
        return 1;
    return probe.l_type != F_UNLCK;
}

static int lock_run(p4_ledger *l, long long run, short type)
{
    struct flock lock = { .l_type = type, .l_whence = SEEK_SET, .l_start = run, .l_len = 1 };
    return fcntl(l->runs_fd, F_OFD_SETLK, &lock) == 0 ? 0 : -errno;
}

/* Deletes a run's reserved steps, and with whole_run its row too. */
static int delete_run(const p4_ledger *l, long long run, int whole_run, p4_error *err)
{
    sqlite3_stmt *st;
    const char *sql[2] = { "DELETE FROM dp_reserved WHERE run = ?1", "DELETE FROM dp_runs WHERE id = ?1" };
    for (int k = 0; k < 1 + (whole_run != 0); k++) {
        if (sqlite3_prepare_v2(l->db, sql[k], -1, &st, NULL))
            return db_error(l, err, "removing a reservation");
        sqlite3_bind_int64(st, 1, run);
        int step = sqlite3_step(st);
        sqlite3_finalize(st);
        if (step != SQLITE_DONE)
            return db_error(l, err, "removing a reservation");
    }
    return P4_OK;
}

/* --- reading the file ---------------------------------------------------- */

static int read_recorded(const p4_ledger *l, mechanism_set *s, p4_error *err)
{
    sqlite3_stmt *st;
    const char *sql = "SELECT sample_rate, noise_multiplier, SUM(steps) FROM dp_steps "
                      "GROUP BY sample_rate, noise_multiplier ORDER BY MIN(id)";
    *s = (mechanism_set){ 0 }; /* a new set, which the caller frees (on failure too) */
    if (sqlite3_prepare_v2(l->db, sql, -1, &st, NULL))
        return db_error(l, err, "reading steps");
    int step = SQLITE_DONE, rc = P4_OK;
    while (rc == P4_OK && (step = sqlite3_step(st)) == SQLITE_ROW)
        rc = set_add(s, l, sqlite3_column_double(st, 0), sqlite3_column_double(st, 1),
                     sqlite3_column_int64(st, 2), err);
    sqlite3_finalize(st);
    if (rc)
        return rc;
    return step == SQLITE_DONE ? P4_OK : db_error(l, err, "reading steps");
}

/* The reservations of the runs still alive, into v->own and v->others;
 * with purge (inside a write transaction) deletes the dead runs'. */
static int read_reservations(p4_ledger *l, int purge, ledger_view *v, p4_error *err)
{
    sqlite3_stmt *st;
    const char *sql = "SELECT r.id, v.sample_rate, v.noise_multiplier, v.steps "
                      "FROM dp_runs r LEFT JOIN dp_reserved v ON v.run = r.id ORDER BY r.id";
    if (sqlite3_prepare_v2(l->db, sql, -1, &st, NULL))
        return db_error(l, err, "reading reservations");
    long long dead[64], run = 0;
    int ndead = 0, alive = 0, step = SQLITE_DONE, rc = P4_OK;
    while (rc == P4_OK && (step = sqlite3_step(st)) == SQLITE_ROW) {
        if (sqlite3_column_int64(st, 0) != run) {
            run = sqlite3_column_int64(st, 0);
            alive = run == l->run || run_is_alive(l, run);
            if (alive && run != l->run)
                v->other_runs++;
            if (!alive && ndead < (int)(sizeof dead / sizeof dead[0]))
                dead[ndead++] = run;
        }
        if (alive && sqlite3_column_type(st, 1) != SQLITE_NULL)
            rc = set_add(run == l->run ? &v->own : &v->others, l, sqlite3_column_double(st, 1),
                         sqlite3_column_double(st, 2), sqlite3_column_int64(st, 3), err);
    }
    sqlite3_finalize(st);
    if (rc)
        return rc;
    if (step != SQLITE_DONE)
        return db_error(l, err, "reading reservations");
    for (int k = 0; purge && k < ndead && rc == P4_OK; k++)
        rc = delete_run(l, dead[k], 1, err);
    return rc;
}

/* Reads records and reservations into v (zeroed first); the caller owns
 * what it holds and frees it with view_free, on failure too. */
static int read_view(p4_ledger *l, int purge, ledger_view *v, p4_error *err)
{
    memset(v, 0, sizeof *v);
    int rc = read_recorded(l, &v->recorded, err);
    return rc ? rc : read_reservations(l, purge, v, err);
}

/* Epsilon if everything recorded and reserved were spent (the records,
 * the other runs' reservations and `own`, this handle's reservation or the
 * plan that would replace it), plus `extra` steps at (q, sigma) beyond own. */
static int committed_epsilon(const p4_ledger *l, const ledger_view *v, const mechanism_set *own,
                             double q, double sigma, long long extra, double *eps, p4_error *err)
{
    mechanism_set all = { 0 };
    int rc = set_add_all(&all, l, &v->recorded, err);
    if (rc == P4_OK) rc = set_add_all(&all, l, &v->others, err);
    if (rc == P4_OK) rc = set_add_all(&all, l, own, err);
    if (rc == P4_OK) rc = set_add(&all, l, q, sigma, extra, err);
    if (rc == P4_OK) rc = set_epsilon(l, &all, eps, err);
    set_free(&all);
    return rc;
}

/* "; N runs in progress reserved up to epsilon E" when any did (the other
 * runs and `own`), else "". */
static void reservation_note(const p4_ledger *l, const ledger_view *v, const mechanism_set *own,
                             char *out, size_t size)
{
    double eps;
    out[0] = '\0';
    int runs = v->other_runs + (own->n > 0);
    if (runs > 0 && committed_epsilon(l, v, own, 0, 0, 0, &eps, NULL) == P4_OK)
        snprintf(out, size, "; %d run%s in progress reserved up to epsilon %.4f", runs,
                 runs == 1 ? "" : "s", eps);
}

/* --- opening ------------------------------------------------------------- */

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
    if (strlen(path) >= sizeof ((p4_ledger *)0)->path)
        return p4_error_set(err, P4_EINVAL, "ledger: path is too long");
    p4_ledger *l = calloc(1, sizeof *l);
    if (!l) return p4_error_set(err, P4_ENOMEM, "ledger: out of memory");
    l->runs_fd = -1;
    snprintf(l->path, sizeof l->path, "%s", path);
    int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0);
    if (sqlite3_open_v2(path, &l->db, flags, NULL) != SQLITE_OK) {
        int rc = p4_error_set(err, P4_ESTATE, "%s: cannot open the budget ledger: %s", path,
                              l->db ? sqlite3_errmsg(l->db) : "out of memory");
        p4_ledger_close(&l);
        return rc;
    }
    /* Another process's write transaction is short (one block): wait for it. */
    sqlite3_busy_timeout(l->db, LEDGER_BUSY_MS);
    int rc = exec_sql(l,
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
        "CREATE TABLE IF NOT EXISTS ledger_meta(key TEXT PRIMARY KEY, value REAL NOT NULL);"
        "CREATE TABLE IF NOT EXISTS dp_steps("
        "  id INTEGER PRIMARY KEY,"
        "  recorded_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),"
        "  model TEXT NOT NULL, phase TEXT NOT NULL,"
        "  sample_rate REAL NOT NULL CHECK (sample_rate > 0 AND sample_rate <= 1),"
        "  noise_multiplier REAL NOT NULL CHECK (noise_multiplier >= 0),"
        "  steps INTEGER NOT NULL CHECK (steps > 0));"
        "CREATE TABLE IF NOT EXISTS dp_runs("
        "  id INTEGER PRIMARY KEY AUTOINCREMENT, pid INTEGER NOT NULL,"
        "  started_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')));"
        "CREATE TABLE IF NOT EXISTS dp_reserved("
        "  run INTEGER NOT NULL REFERENCES dp_runs(id),"
        "  sample_rate REAL NOT NULL CHECK (sample_rate > 0 AND sample_rate <= 1),"
        "  noise_multiplier REAL NOT NULL CHECK (noise_multiplier >= 0),"
        "  steps INTEGER NOT NULL CHECK (steps >= 0));", err);
    if (rc == P4_OK) rc = exec_sql(l, "BEGIN IMMEDIATE", err);
    if (rc == P4_OK) {
        rc = create ? settle_settings(l, delta, target_epsilon, err) : adopt_settings(l, err);
        rc = end_transaction(l, rc, err);
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
    p4_ledger *l = *ledger;
    if (l->db) {
        p4_ledger_release(l, NULL);
        sqlite3_close(l->db);
    }
    if (l->runs_fd >= 0) close(l->runs_fd); /* drops any lock left */
    free(l);
    *ledger = NULL;
}

/* --- checking, recording, reserving -------------------------------------- */

static int check_block_args(const p4_ledger *l, const char *model, double q, double sigma,
                            long long steps, p4_error *err)
{
    if (!l || !model) return p4_error_set(err, P4_EINVAL, "ledger check: bad arguments");
    if (!(q > 0.0 && q <= 1.0)) return p4_error_set(err, P4_EINVAL, "ledger: sample rate %g is outside (0, 1]", q);
    if (!(sigma >= 0.0) || isinf(sigma)) return p4_error_set(err, P4_EINVAL, "ledger: noise multiplier %g is invalid", sigma);
    if (steps <= 0) return p4_error_set(err, P4_EINVAL, "ledger: steps %lld must be > 0", steps);
    return P4_OK;
}

/* The spend after `steps` more at (q, sigma): this handle's reservation of
 * that mechanism pays for up to *drawn of them.  P4_EBUDGET past the target. */
static int check_block(p4_ledger *l, const ledger_view *v, const char *model, double q,
                       double sigma, long long steps, long long *drawn, double *after,
                       p4_error *err)
{
    long long own = set_steps_of(&v->own, q, sigma);
    *drawn = own < steps ? own : steps;
    double spent;
    int rc = set_epsilon(l, &v->recorded, &spent, err);
    if (rc == P4_OK) rc = committed_epsilon(l, v, &v->own, q, sigma, steps - *drawn, after, err);
    if (rc) return rc;
    if (*after > l->target) {
        char note[128];
        reservation_note(l, v, &v->own, note, sizeof note);
        return p4_error_set(err, P4_EBUDGET,
                            "privacy budget: spent epsilon %.4f of allowed %.4f (delta %g)%s; "
                            "%lld more steps of %s at q=%g, sigma=%.4f would reach %.4f",
                            spent, l->target, l->delta, note, steps, model, q, sigma, *after);
    }
    return P4_OK;
}

int p4_ledger_check(p4_ledger *ledger, const char *model, double q,
                    double sigma, long long steps, double *epsilon_after_out,
                    p4_error *err)
{
    int rc = check_block_args(ledger, model, q, sigma, steps, err);
    if (rc) return rc;
    ledger_view v;
    long long drawn;
    double after;
    /* One read snapshot, so records and reservations agree. */
    if ((rc = exec_sql(ledger, "BEGIN", err))) return rc;
    rc = read_view(ledger, 0, &v, err);
    rc = end_transaction(ledger, rc, err);
    if (rc == P4_OK) rc = check_block(ledger, &v, model, q, sigma, steps, &drawn, &after, err);
    if (rc == P4_OK && epsilon_after_out) *epsilon_after_out = after;
    view_free(&v);
    return rc;
}

static int insert_record(p4_ledger *l, const char *model, const char *phase, double q,
                         double sigma, long long steps, p4_error *err)
{
    sqlite3_stmt *st;
    const char *sql = "INSERT INTO dp_steps(model, phase, sample_rate, noise_multiplier, steps) "
                      "VALUES (?1, ?2, ?3, ?4, ?5)";
    if (sqlite3_prepare_v2(l->db, sql, -1, &st, NULL)) return db_error(l, err, "recording steps");
    sqlite3_bind_text(st, 1, model, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, phase, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 3, q);
    sqlite3_bind_double(st, 4, sigma);
    sqlite3_bind_int64(st, 5, steps);
    int step = sqlite3_step(st);
    sqlite3_finalize(st);
    return step == SQLITE_DONE ? P4_OK : db_error(l, err, "recording steps");
}

/* Takes `drawn` steps of (q, sigma) off this handle's reservation. */
static int draw_reservation(p4_ledger *l, double q, double sigma, long long drawn, p4_error *err)
{
    if (drawn <= 0) return P4_OK;
    sqlite3_stmt *st;
    const char *sql = "UPDATE dp_reserved SET steps = steps - ?1 WHERE run = ?2 AND "
                      "sample_rate = ?3 AND noise_multiplier = ?4";
    if (sqlite3_prepare_v2(l->db, sql, -1, &st, NULL)) return db_error(l, err, "updating a reservation");
    sqlite3_bind_int64(st, 1, drawn);
    sqlite3_bind_int64(st, 2, l->run);
    sqlite3_bind_double(st, 3, q);
    sqlite3_bind_double(st, 4, sigma);
    int step = sqlite3_step(st);
    sqlite3_finalize(st);
    return step == SQLITE_DONE ? P4_OK : db_error(l, err, "updating a reservation");
}

int p4_ledger_record(p4_ledger *ledger, const char *model, const char *phase,
                     double q, double sigma, long long steps, p4_error *err)
{
    if (!phase) return p4_error_set(err, P4_EINVAL, "ledger record: phase is NULL");
    int rc = check_block_args(ledger, model, q, sigma, steps, err);
    if (rc) return rc;
    /* Check and write under SQLite's one writer lock; a refusal rolls back,
     * leaving the file as it was.  The COMMIT is fsync'd (WAL, FULL). */
    if ((rc = exec_sql(ledger, "BEGIN IMMEDIATE", err))) return rc;
    ledger_view v;
    long long drawn = 0;
    double after;
    rc = read_view(ledger, 1, &v, err);
    if (rc == P4_OK) rc = check_block(ledger, &v, model, q, sigma, steps, &drawn, &after, err);
    if (rc == P4_OK) rc = insert_record(ledger, model, phase, q, sigma, steps, err);
    if (rc == P4_OK) rc = draw_reservation(ledger, q, sigma, drawn, err);
    view_free(&v);
    return end_transaction(ledger, rc, err);
}

/* Checks a plan and merges it by mechanism. */
static int plan_set(const p4_ledger *l, const p4_dp_phase *plan, int nplan, mechanism_set *s,
                    p4_error *err)
{
    if (!l || nplan < 0 || (nplan > 0 && !plan))
        return p4_error_set(err, P4_EINVAL, "ledger plan: bad arguments");
    if (nplan > LEDGER_MAX_PLAN)
        return p4_error_set(err, P4_EINVAL, "ledger: at most %d planned phases", LEDGER_MAX_PLAN);
    *s = (mechanism_set){ 0 }; /* a new set, which the caller frees (on failure too) */
    int rc = P4_OK;
    for (int k = 0; k < nplan && rc == P4_OK; k++) {
        if (plan[k].steps == 0) continue;
        rc = check_block_args(l, "plan", plan[k].sample_rate, plan[k].noise_multiplier,
                              plan[k].steps, err);
        if (rc == P4_OK)
            rc = set_add(s, l, plan[k].sample_rate, plan[k].noise_multiplier, plan[k].steps, err);
    }
    return rc;
}

/* The spend if the plan replaced this handle's reservation. */
static int check_plan_view(p4_ledger *l, const ledger_view *v, const mechanism_set *plan,
                           double *after, p4_error *err)
{
    double spent;
    int rc = set_epsilon(l, &v->recorded, &spent, err);
    if (rc == P4_OK) rc = committed_epsilon(l, v, plan, 0, 0, 0, after, err);
    if (rc) return rc;
    if (*after > l->target) {
        const mechanism_set none = { 0 }; /* the note counts the other runs alone */
        char note[128];
        reservation_note(l, v, &none, note, sizeof note);
        return p4_error_set(err, P4_EBUDGET,
                            "privacy budget: spent epsilon %.4f of allowed %.4f (delta %g)%s; "
                            "the planned run would reach %.4f", spent, l->target, l->delta, note,
                            *after);
    }
    return P4_OK;
}

int p4_ledger_check_plan(p4_ledger *ledger, const p4_dp_phase *plan, int nplan,
                         double *epsilon_after_out, p4_error *err)
{
    mechanism_set planned;
    int rc = plan_set(ledger, plan, nplan, &planned, err);
    if (rc == P4_OK) rc = exec_sql(ledger, "BEGIN", err);
    if (rc) {
        set_free(&planned);
        return rc;
    }
    ledger_view v;
    double after;
    rc = read_view(ledger, 0, &v, err);
    rc = end_transaction(ledger, rc, err);
    if (rc == P4_OK) rc = check_plan_view(ledger, &v, &planned, &after, err);
    if (rc == P4_OK && epsilon_after_out) *epsilon_after_out = after;
    view_free(&v);
    set_free(&planned);
    return rc;
}

static int insert_reservation(p4_ledger *l, long long run, const mechanism_set *plan, p4_error *err)
{
    sqlite3_stmt *st;
    const char *sql = "INSERT INTO dp_reserved(run, sample_rate, noise_multiplier, steps) "
                      "VALUES (?1, ?2, ?3, ?4)";
    if (sqlite3_prepare_v2(l->db, sql, -1, &st, NULL)) return db_error(l, err, "reserving steps");
    int step = SQLITE_DONE;
    for (int k = 0; k < plan->n && step == SQLITE_DONE; k++) {
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, run);
        sqlite3_bind_double(st, 2, plan->phase[k].sample_rate);
        sqlite3_bind_double(st, 3, plan->phase[k].noise_multiplier);
        sqlite3_bind_int64(st, 4, plan->phase[k].steps);
        step = sqlite3_step(st);
    }
    sqlite3_finalize(st);
    return step == SQLITE_DONE ? P4_OK : db_error(l, err, "reserving steps");
}

/* A new run row, whose byte in "<path>-runs" this handle locks before the
 * row can be seen (the caller's transaction is still open). */
static int start_run(p4_ledger *l, long long *run, p4_error *err)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(l->db, "INSERT INTO dp_runs(pid) VALUES (?1)", -1, &st, NULL))
        return db_error(l, err, "starting a run");
    sqlite3_bind_int64(st, 1, (sqlite3_int64)getpid());
    int step = sqlite3_step(st);
    sqlite3_finalize(st);
    if (step != SQLITE_DONE) return db_error(l, err, "starting a run");
    *run = sqlite3_last_insert_rowid(l->db);
    int rc = open_runs_file(l, 1);
    if (rc == 0) rc = lock_run(l, *run, F_WRLCK);
    if (rc != 0)
        return p4_error_set(err, P4_ESTATE, "%s-runs: cannot lock this run's reservation: %s",
                            l->path, strerror(-rc));
    return P4_OK;
}

int p4_ledger_reserve_plan(p4_ledger *ledger, const p4_dp_phase *plan, int nplan,
                           double *epsilon_after_out, p4_error *err)
{
    mechanism_set planned;
    int rc = plan_set(ledger, plan, nplan, &planned, err);
    if (rc == P4_OK) rc = exec_sql(ledger, "BEGIN IMMEDIATE", err);
    if (rc) {
        set_free(&planned);
        return rc;
    }
    ledger_view v;
    double after;
    long long run = ledger->run;
    rc = read_view(ledger, 1, &v, err);
    if (rc == P4_OK) rc = check_plan_view(ledger, &v, &planned, &after, err);
    /* A handle that holds a reservation replaces it under the same run. */
    if (rc == P4_OK) rc = run ? delete_run(ledger, run, 0, err) : start_run(ledger, &run, err);
    if (rc == P4_OK) rc = insert_reservation(ledger, run, &planned, err);
    view_free(&v);
    set_free(&planned);
    rc = end_transaction(ledger, rc, err);
    if (rc == P4_OK) {
        ledger->run = run;
        if (epsilon_after_out) *epsilon_after_out = after;
    } else if (run && !ledger->run && ledger->runs_fd >= 0) {
        lock_run(ledger, run, F_UNLCK); /* rolled back: nobody will see it */
    }
    return rc;
}

int p4_ledger_release(p4_ledger *ledger, p4_error *err)
{
    if (!ledger) return p4_error_set(err, P4_EINVAL, "ledger release: no ledger");
    if (!ledger->run) return P4_OK;
    int rc = exec_sql(ledger, "BEGIN IMMEDIATE", err);
    if (rc == P4_OK) {
        rc = delete_run(ledger, ledger->run, 1, err);
        rc = end_transaction(ledger, rc, err);
    }
    /* Unlocked, a row left behind (a failed delete) is a dead run's. */
    lock_run(ledger, ledger->run, F_UNLCK);
    ledger->run = 0;
    return rc;
}

/* --- reading for reports ------------------------------------------------- */

int p4_ledger_spent(p4_ledger *ledger, double *epsilon, p4_error *err)
{
    if (!ledger || !epsilon) return p4_error_set(err, P4_EINVAL, "ledger spent: bad arguments");
    mechanism_set recorded;
    int rc = read_recorded(ledger, &recorded, err);
    if (rc == P4_OK) rc = set_epsilon(ledger, &recorded, epsilon, err);
    set_free(&recorded);
    return rc;
}

int p4_ledger_reserved(p4_ledger *ledger, int *runs, double *epsilon, p4_error *err)
{
    if (!ledger) return p4_error_set(err, P4_EINVAL, "ledger reserved: bad arguments");
    ledger_view v;
    double eps;
    int rc = exec_sql(ledger, "BEGIN", err);
    if (rc) return rc;
    rc = read_view(ledger, 0, &v, err);
    rc = end_transaction(ledger, rc, err);
    if (rc == P4_OK) rc = committed_epsilon(ledger, &v, &v.own, 0, 0, 0, &eps, err);
    int other_runs = v.other_runs;
    view_free(&v);
    if (rc) return rc;
    if (runs) *runs = other_runs + (ledger->run != 0);
    if (epsilon) *epsilon = eps;
    return P4_OK;
}

int p4_ledger_phases(const p4_ledger *ledger, int spare, p4_dp_phase **out, int *n,
                     p4_error *err)
{
    if (!ledger || !out || !n || spare < 0 || spare > LEDGER_MAX_SPARE)
        return p4_error_set(err, P4_EINVAL, "ledger phases: bad arguments");
    *out = NULL;
    *n = 0;
    mechanism_set recorded;
    int rc = read_recorded(ledger, &recorded, err);
    size_t count = (size_t)recorded.n + (size_t)spare;
    if (rc == P4_OK && count > 0) {
        *out = malloc(count * sizeof **out);
        if (*out)
            memcpy(*out, recorded.phase, (size_t)recorded.n * sizeof **out);
        else
            rc = p4_error_set(err, P4_ENOMEM, "ledger phases: out of memory");
    }
    if (rc == P4_OK) *n = recorded.n;
    set_free(&recorded);
    return rc;
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

int p4_ledger_rows(p4_ledger *ledger, p4_ledger_row *out, int max, int *n, p4_error *err)
{
    if (!ledger || !n || (max > 0 && !out)) return p4_error_set(err, P4_EINVAL, "ledger rows: bad arguments");
    sqlite3_stmt *st;
    const char *sql = "SELECT phase, model, sample_rate, noise_multiplier, SUM(steps), COUNT(*) "
                      "FROM dp_steps GROUP BY phase, model, sample_rate, noise_multiplier ORDER BY MIN(id)";
    if (sqlite3_prepare_v2(ledger->db, sql, -1, &st, NULL)) return db_error(ledger, err, "reading steps");
    int step, count = 0;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (count < max) {
            p4_ledger_row *r = &out[count];
            snprintf(r->phase, sizeof r->phase, "%s", (const char *)sqlite3_column_text(st, 0));
            snprintf(r->model, sizeof r->model, "%s", (const char *)sqlite3_column_text(st, 1));
            r->sample_rate = sqlite3_column_double(st, 2);
            r->noise_multiplier = sqlite3_column_double(st, 3);
            r->steps = sqlite3_column_int64(st, 4);
            r->blocks = sqlite3_column_int64(st, 5);
        }
        count++;
    }
    sqlite3_finalize(st);
    if (step != SQLITE_DONE) return db_error(ledger, err, "reading steps");
    *n = count;
    if (count > max)
        return p4_error_set(err, P4_EINVAL, "ledger rows: %d rows, room for %d", count, max);
    return P4_OK;
}

double p4_ledger_delta(const p4_ledger *ledger) { return ledger ? ledger->delta : NAN; }
double p4_ledger_target(const p4_ledger *ledger) { return ledger ? ledger->target : NAN; }
