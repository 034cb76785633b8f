/* node_state.c: the node's own SQLite database; see node_state.h. */
#include "p4node/node_state.h"

#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common/config.h"

struct p4_node_state {
    sqlite3 *db;
    char path[P4_PATH_MAX + 16];
};

static const char SCHEMA[] =
    "CREATE TABLE IF NOT EXISTS runs("
    " epoch INTEGER PRIMARY KEY, client INTEGER NOT NULL, clients INTEGER NOT NULL,"
    " method TEXT NOT NULL, rounds INTEGER NOT NULL, status TEXT NOT NULL,"
    " round_reached INTEGER NOT NULL DEFAULT 0, started REAL NOT NULL, ended REAL,"
    " accuracy REAL, group_of BLOB, ngroups INTEGER, latent INTEGER,"
    " epsilon REAL, epsilon_target REAL, noise_multiplier REAL, warmup_noise_multiplier REAL,"
    " dp INTEGER, reproducible INTEGER, private_teacher INTEGER, ledger INTEGER,"
    " dp_guarantee TEXT, dropped INTEGER, missing INTEGER, seconds REAL, error TEXT);"
    "CREATE TABLE IF NOT EXISTS rounds("
    " epoch INTEGER NOT NULL, round INTEGER NOT NULL, accuracy REAL, epsilon REAL, at REAL,"
    " PRIMARY KEY(epoch, round));"
    /* The one checkpoint a restart resumes from (p4node/node_checkpoint.h);
     * a finished run deletes it. */
    "CREATE TABLE IF NOT EXISTS checkpoint("
    " slot INTEGER PRIMARY KEY CHECK(slot = 1), epoch INTEGER NOT NULL, client INTEGER NOT NULL,"
    " clients INTEGER NOT NULL, rounds INTEGER NOT NULL, method TEXT NOT NULL,"
    " seed INTEGER NOT NULL, reproducible INTEGER NOT NULL, next_round INTEGER NOT NULL,"
    " group_of BLOB NOT NULL, ngroups INTEGER NOT NULL, ledger_steps INTEGER NOT NULL,"
    " epsilon REAL, private_params BLOB NOT NULL, proxy_params BLOB NOT NULL,"
    " private_velocity BLOB NOT NULL, proxy_velocity BLOB NOT NULL, batch_rng BLOB,"
    " noise_rng BLOB, peers TEXT NOT NULL, at REAL NOT NULL, own_proxy BLOB,"
    " proxy_reverts INTEGER, krum_fallbacks INTEGER, krum_smallest INTEGER, augment_rng BLOB);";

/* Columns added after node.db first shipped: added to older files on open
 * (table, column, type). */
static const char *const LATER_COLUMNS[][3] = {
    { "runs", "resumed_round", "INTEGER" },
    { "runs", "krum_fallbacks", "INTEGER" },
    { "runs", "krum_smallest", "INTEGER" },
    { "runs", "proxy_reverts", "INTEGER" },
    /* NULL in an older checkpoint: read as "the proxy is the client's own" */
    { "checkpoint", "own_proxy", "BLOB" },
    /* NULL in an older checkpoint: read as 0 */
    { "checkpoint", "proxy_reverts", "INTEGER" },
    { "checkpoint", "krum_fallbacks", "INTEGER" },
    { "checkpoint", "krum_smallest", "INTEGER" },
    /* NULL in an older checkpoint, as for a run without seeded augmentations */
    { "checkpoint", "augment_rng", "BLOB" },
};

static double unix_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int db_fail(sqlite3 *db, const char *path, p4_error *err, const char *what)
{
    return p4_error_set(err, P4_ESTATE, "%s: %s: %s", path, what,
                        db ? sqlite3_errmsg(db) : "out of memory");
}

static int db_path(const char *state_dir, char *out, size_t size, p4_error *err)
{
    if (state_dir == NULL || state_dir[0] == '\0')
        return p4_error_set(err, P4_EINVAL, "node state: no state folder");
    if (snprintf(out, size, "%s/%s", state_dir, P4_NODE_DB_NAME) >= (int)size)
        return p4_error_set(err, P4_EINVAL, "node state: path too long: %s", state_dir);
    return P4_OK;
}

static int open_db(const char *path, int flags, sqlite3 **db, p4_error *err)
{
    *db = NULL;
    if (sqlite3_open_v2(path, db, flags, NULL) != SQLITE_OK) {
        int rc = db_fail(*db, path, err, "cannot open");
        sqlite3_close(*db);
        *db = NULL;
        return rc;
    }
    sqlite3_busy_timeout(*db, 10000);
    return P4_OK;
}

static int add_later_columns(p4_node_state *st, p4_error *err)
{
    for (size_t i = 0; i < sizeof LATER_COLUMNS / sizeof LATER_COLUMNS[0]; i++) {
        const char *table = LATER_COLUMNS[i][0], *column = LATER_COLUMNS[i][1];
        char sql[160];
        snprintf(sql, sizeof sql, "SELECT %s FROM %s LIMIT 0", column, table);
        sqlite3_stmt *s = NULL;
        int present = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) == SQLITE_OK;
        sqlite3_finalize(s);
        snprintf(sql, sizeof sql, "ALTER TABLE %s ADD COLUMN %s %s", table, column,
                 LATER_COLUMNS[i][2]);
        if (!present && sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK)
            return db_fail(st->db, st->path, err, "cannot add a column to an older node.db");
    }
    return P4_OK;
}

struct sqlite3 *p4_node_state_db(p4_node_state *st, const char **path)
{
    if (st == NULL)
        return NULL;
    if (path)
        *path = st->path;
    return st->db;
}

int p4_node_state_open(p4_node_state **out, const char *state_dir, p4_error *err)
{
    if (out == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_node_state_open: out is NULL");
    *out = NULL;
    p4_node_state *st = calloc(1, sizeof *st);
    if (st == NULL)
        return p4_error_set(err, P4_ENOMEM, "node state: out of memory");
    int rc = db_path(state_dir, st->path, sizeof st->path, err);
    if (rc == P4_OK)
        rc = open_db(st->path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, &st->db, err);
    if (rc == P4_OK) {
        chmod(st->path, 0600); /* results and spend are the node's business */
        char *msg = NULL;
        if (sqlite3_exec(st->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", NULL, NULL,
                         &msg) != SQLITE_OK ||
            sqlite3_exec(st->db, SCHEMA, NULL, NULL, &msg) != SQLITE_OK) {
            rc = p4_error_set(err, P4_ESTATE, "%s: not a p4 node database? %s", st->path,
                              msg ? msg : "");
        }
        sqlite3_free(msg);
        if (rc == P4_OK)
            rc = add_later_columns(st, err);
    }
    if (rc != P4_OK) {
        p4_node_state_close(&st);
        return rc;
    }
    *out = st;
    return P4_OK;
}

void p4_node_state_close(p4_node_state **state)
{
    if (state == NULL || *state == NULL)
        return;
    sqlite3_close((*state)->db);
    free(*state);
    *state = NULL;
}

/* Runs one prepared statement to completion; binds are done by the caller. */
static int step_done(p4_node_state *st, sqlite3_stmt *s, const char *what, p4_error *err)
{
    int rc = sqlite3_step(s) == SQLITE_DONE ? P4_OK : db_fail(st->db, st->path, err, what);
    sqlite3_finalize(s);
    return rc;
}

int p4_node_state_begin(p4_node_state *st, p4_node_record *rec, p4_error *err)
{
    if (st == NULL || rec == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_node_state_begin: NULL argument");
    /* One write transaction: two starts on one folder get distinct epochs. */
    if (sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return db_fail(st->db, st->path, err, "cannot start a transaction");
    sqlite3_stmt *s = NULL;
    int rc = P4_OK;
    sqlite3_int64 epoch = 0;
    if (sqlite3_prepare_v2(st->db, "SELECT COALESCE(MAX(epoch), 0) + 1 FROM runs", -1, &s,
                           NULL) != SQLITE_OK || sqlite3_step(s) != SQLITE_ROW)
        rc = db_fail(st->db, st->path, err, "cannot read the restart counter");
    else
        epoch = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    if (rc == P4_OK && epoch > UINT32_MAX)
        rc = p4_error_set(err, P4_ESTATE, "%s: restart counter exhausted", st->path);
    rec->epoch = (uint32_t)epoch;
    rec->started = unix_now();
    /* A run still "running" when the next one starts ended without a word:
     * SIGKILL, a crash or a power cut (a stop by signal says "stopped"). */
    if (rc == P4_OK &&
        sqlite3_exec(st->db, "UPDATE runs SET status = 'interrupted', error = 'the process "
                             "ended without recording why (SIGKILL, a crash or a power cut)' "
                             "WHERE status = 'running'", NULL, NULL, NULL) != SQLITE_OK)
        rc = db_fail(st->db, st->path, err, "cannot mark an interrupted run");
    if (rc == P4_OK &&
        sqlite3_prepare_v2(st->db,
                           "INSERT INTO runs(epoch, client, clients, method, rounds, status, "
                           "started, epsilon_target) VALUES(?, ?, ?, ?, ?, 'running', ?, ?)",
                           -1, &s, NULL) != SQLITE_OK)
        rc = db_fail(st->db, st->path, err, "cannot record the start");
    if (rc == P4_OK) {
        sqlite3_bind_int64(s, 1, epoch);
        sqlite3_bind_int(s, 2, rec->client);
        sqlite3_bind_int(s, 3, rec->clients);
        sqlite3_bind_text(s, 4, rec->method, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int(s, 5, rec->rounds);
        sqlite3_bind_double(s, 6, rec->started);
        if (isfinite(rec->epsilon_target))
            sqlite3_bind_double(s, 7, rec->epsilon_target);
        rc = step_done(st, s, "cannot record the start", err);
    }
    if (rc == P4_OK && sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        rc = db_fail(st->db, st->path, err, "cannot commit the start");
    if (rc != P4_OK)
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

int p4_node_state_resumed(p4_node_state *st, uint32_t epoch, int round, p4_error *err)
{
    if (st == NULL || epoch == 0 || round < 0)
        return p4_error_set(err, P4_EINVAL, "p4_node_state_resumed: bad arguments");
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(st->db, "UPDATE runs SET resumed_round = ?, round_reached = ? "
                           "WHERE epoch = ?", -1, &s, NULL) != SQLITE_OK)
        return db_fail(st->db, st->path, err, "cannot record the resume");
    sqlite3_bind_int(s, 1, round);
    sqlite3_bind_int(s, 2, round);
    sqlite3_bind_int64(s, 3, epoch);
    return step_done(st, s, "cannot record the resume", err);
}

static void bind_finite(sqlite3_stmt *s, int i, double v)
{
    if (isfinite(v))
        sqlite3_bind_double(s, i, v);
    else
        sqlite3_bind_null(s, i); /* inf target, NaN: NULL reads back as not given */
}

int p4_node_state_finish(p4_node_state *st, const p4_node_record *r, p4_error *err)
{
    if (st == NULL || r == NULL || r->group_of == NULL || r->clients < 1)
        return p4_error_set(err, P4_EINVAL, "p4_node_state_finish: bad arguments");
    unsigned char *groups = NULL;
    if (p4_node_groups_encode(r->group_of, r->clients, &groups) != P4_OK)
        return p4_error_set(err, P4_ENOMEM, "node state: out of memory");
    sqlite3_stmt *s = NULL;
    /* The result and the end of the checkpoint, together: a finished run is
     * never resumed. */
    int rc = sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK
                 ? P4_OK
                 : db_fail(st->db, st->path, err, "cannot start a transaction");
    if (rc == P4_OK && sqlite3_prepare_v2(st->db,
                           "UPDATE runs SET status = 'finished', ended = ?, accuracy = ?, "
                           "group_of = ?, ngroups = ?, latent = ?, epsilon = ?, "
                           "noise_multiplier = ?, warmup_noise_multiplier = ?, dp = ?, "
                           "reproducible = ?, private_teacher = ?, ledger = ?, dp_guarantee = ?, "
                           "dropped = ?, missing = ?, seconds = ?, round_reached = ?, "
                           "krum_fallbacks = ?, krum_smallest = ?, proxy_reverts = ? WHERE epoch = ?",
                           -1, &s, NULL) != SQLITE_OK)
        rc = db_fail(st->db, st->path, err, "cannot record the result");
    if (rc == P4_OK) {
        sqlite3_bind_double(s, 1, unix_now());
        bind_finite(s, 2, r->accuracy);
        sqlite3_bind_blob(s, 3, groups, r->clients * 4, SQLITE_TRANSIENT);
        sqlite3_bind_int(s, 4, r->ngroups);
        sqlite3_bind_int(s, 5, r->latent);
        bind_finite(s, 6, r->epsilon);
        bind_finite(s, 7, r->noise_multiplier);
        bind_finite(s, 8, r->warmup_noise_multiplier);
        sqlite3_bind_int(s, 9, r->facts.dp);
        sqlite3_bind_int(s, 10, r->facts.reproducible);
        sqlite3_bind_int(s, 11, r->facts.private_teacher);
        sqlite3_bind_int(s, 12, r->facts.ledger);
        sqlite3_bind_text(s, 13, p4_dp_guarantee_name(r->guarantee), -1, SQLITE_STATIC);
        sqlite3_bind_int(s, 14, r->dropped);
        sqlite3_bind_int(s, 15, r->missing);
        sqlite3_bind_double(s, 16, r->seconds);
        sqlite3_bind_int(s, 17, r->round_reached);
        sqlite3_bind_int(s, 18, r->krum_fallbacks);
        sqlite3_bind_int(s, 19, r->krum_smallest);
        sqlite3_bind_int(s, 20, r->proxy_reverts);
        sqlite3_bind_int64(s, 21, r->epoch);
        rc = step_done(st, s, "cannot record the result", err);
    }
    free(groups);
    if (rc == P4_OK && sqlite3_exec(st->db, "DELETE FROM checkpoint; COMMIT", NULL, NULL,
                                    NULL) != SQLITE_OK)
        rc = db_fail(st->db, st->path, err, "cannot commit the result");
    if (rc != P4_OK)
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

static int end_run(sqlite3 *db, const char *path, sqlite3_int64 epoch, const char *status,
                   const char *why, p4_error *err)
{
    sqlite3_stmt *s = NULL;
    /* epoch 0: the latest run, only if it is still running */
    const char *sql = epoch > 0 ? "UPDATE runs SET status = ?, ended = ?, error = ? WHERE epoch = ?"
                                : "UPDATE runs SET status = ?, ended = ?, error = ? WHERE epoch = "
                                  "(SELECT MAX(epoch) FROM runs) AND status = 'running'";
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
        return db_fail(db, path, err, "cannot record the end of the run");
    sqlite3_bind_text(s, 1, status, -1, SQLITE_TRANSIENT);
    sqlite3_bind_double(s, 2, unix_now());
    sqlite3_bind_text(s, 3, why ? why : "", -1, SQLITE_TRANSIENT);
    if (epoch > 0)
        sqlite3_bind_int64(s, 4, epoch);
    int rc = sqlite3_step(s) == SQLITE_DONE ? P4_OK
                                            : db_fail(db, path, err, "cannot record the end");
    sqlite3_finalize(s);
    return rc;
}

int p4_node_state_end(p4_node_state *st, uint32_t epoch, const char *status, const char *why,
                      p4_error *err)
{
    if (st == NULL || status == NULL || epoch == 0)
        return p4_error_set(err, P4_EINVAL, "p4_node_state_end: bad arguments");
    return end_run(st->db, st->path, epoch, status, why, err);
}

int p4_node_state_mark_stopped(const char *state_dir, const char *why, p4_error *err)
{
    char path[P4_PATH_MAX + 16];
    sqlite3 *db = NULL;
    int rc = db_path(state_dir, path, sizeof path, err);
    if (rc == P4_OK)
        rc = open_db(path, SQLITE_OPEN_READWRITE, &db, err);
    if (rc == P4_OK)
        rc = end_run(db, path, 0, "stopped", why, err);
    sqlite3_close(db);
    return rc;
}

/* The group_of column of a run, when it has one (p4node/node_groups.h;
 * -1 for a peer refused at admission). */
static int read_groups(sqlite3_stmt *s, int col, p4_node_record *r, const char *path,
                       p4_error *err)
{
    if (sqlite3_column_type(s, col) == SQLITE_NULL)
        return P4_OK;
    char what[P4_PATH_MAX + 64];
    snprintf(what, sizeof what, "%s: epoch %u", path, r->epoch);
    return p4_node_groups_decode(sqlite3_column_blob(s, col), sqlite3_column_bytes(s, col),
                                 r->clients, &r->group_of, what, err);
}

static double column_double(sqlite3_stmt *s, int col, double if_null)
{
    return sqlite3_column_type(s, col) == SQLITE_NULL ? if_null : sqlite3_column_double(s, col);
}

static void column_text(sqlite3_stmt *s, int col, char *out, size_t size)
{
    const unsigned char *t = sqlite3_column_text(s, col);
    snprintf(out, size, "%s", t ? (const char *)t : "");
}

int p4_node_state_read(const char *state_dir, p4_node_record *r, p4_error *err)
{
    if (r == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_node_state_read: NULL record");
    memset(r, 0, sizeof *r);
    char path[P4_PATH_MAX + 16];
    int rc = db_path(state_dir, path, sizeof path, err);
    if (rc != P4_OK)
        return rc;
    struct stat sb;
    if (stat(path, &sb) != 0)
        return p4_error_set(err, P4_ESTATE, "%s: no node database (has a node run with state = %s?)",
                            path, state_dir);
    sqlite3 *db = NULL;
    if ((rc = open_db(path, SQLITE_OPEN_READONLY, &db, err)) != P4_OK)
        return rc;
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(db,
                           "SELECT epoch, client, clients, method, rounds, status, round_reached, "
                           "started, ended, accuracy, group_of, ngroups, latent, epsilon, "
                           "epsilon_target, noise_multiplier, warmup_noise_multiplier, dp, "
                           "reproducible, private_teacher, ledger, dropped, missing, seconds, "
                           "error, resumed_round, krum_fallbacks, krum_smallest, proxy_reverts FROM runs "
                           "ORDER BY epoch DESC LIMIT 1",
                           -1, &s, NULL) != SQLITE_OK) {
        rc = db_fail(db, path, err, "not a p4 node database");
    } else if (sqlite3_step(s) != SQLITE_ROW) {
        rc = p4_error_set(err, P4_ESTATE, "%s: no run recorded", path);
    } else {
        r->epoch = (uint32_t)sqlite3_column_int64(s, 0);
        r->client = sqlite3_column_int(s, 1);
        r->clients = sqlite3_column_int(s, 2);
        column_text(s, 3, r->method, sizeof r->method);
        r->rounds = sqlite3_column_int(s, 4);
        column_text(s, 5, r->status, sizeof r->status);
        r->round_reached = sqlite3_column_int(s, 6);
        r->started = column_double(s, 7, 0);
        r->ended = column_double(s, 8, 0);
        r->accuracy = column_double(s, 9, NAN);
        r->ngroups = sqlite3_column_int(s, 11);
        r->latent = sqlite3_column_type(s, 12) == SQLITE_NULL ? -1 : sqlite3_column_int(s, 12);
        r->epsilon = column_double(s, 13, 0);
        r->epsilon_target = column_double(s, 14, INFINITY);
        r->noise_multiplier = column_double(s, 15, 0);
        r->warmup_noise_multiplier = column_double(s, 16, 0);
        r->facts = (p4_dp_run_facts){ .dp = sqlite3_column_int(s, 17),
                                      .reproducible = sqlite3_column_int(s, 18),
                                      .private_teacher = sqlite3_column_int(s, 19),
                                      .ledger = sqlite3_column_int(s, 20) };
        r->guarantee = p4_dp_guarantee_of(&r->facts);
        r->dropped = sqlite3_column_int(s, 21);
        r->missing = sqlite3_column_int(s, 22);
        r->seconds = column_double(s, 23, 0);
        column_text(s, 24, r->error, sizeof r->error);
        r->resumed_round = sqlite3_column_type(s, 25) == SQLITE_NULL ? -1
                                                                     : sqlite3_column_int(s, 25);
        r->krum_fallbacks = sqlite3_column_int(s, 26); /* NULL reads 0 */
        r->krum_smallest = sqlite3_column_int(s, 27);
        r->proxy_reverts = sqlite3_column_int(s, 28);
        if (r->clients < 1 || r->clients > 4096 || r->client < 0 || r->client >= r->clients)
            rc = p4_error_set(err, P4_ESTATE, "%s: epoch %u names client %d of %d", path,
                              r->epoch, r->client, r->clients);
        else
            rc = read_groups(s, 10, r, path, err);
    }
    sqlite3_finalize(s);
    sqlite3_close(db);
    if (rc != P4_OK)
        p4_node_record_free(r);
    return rc;
}

void p4_node_record_free(p4_node_record *r)
{
    if (r == NULL)
        return;
    free(r->group_of);
    r->group_of = NULL;
}
