/* node_checkpoint.c: the checkpoint in node.db; see node_checkpoint.h. */
#include "p4node/node_checkpoint.h"

#include "common/config.h"
#include "p4node/node_own_proxy.h"

#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int fail(sqlite3 *db, const char *path, p4_error *err, const char *what)
{
    return p4_error_set(err, P4_ESTATE, "%s: %s: %s", path, what, sqlite3_errmsg(db));
}

static void bind_floats(sqlite3_stmt *s, int col, const float *v, size_t n)
{
    /* the machine's float layout: every p4 target is little-endian IEEE 754 */
    sqlite3_bind_blob64(s, col, v, n * sizeof(float), SQLITE_STATIC);
}

static int put_round(sqlite3 *db, const char *path, const p4_node_checkpoint *ck, p4_error *err)
{
    sqlite3_stmt *s = NULL;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int rc = P4_OK;
    if (ck->next_round > 0) {
        if (sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO rounds VALUES(?, ?, ?, ?, ?)", -1, &s,
                               NULL) != SQLITE_OK)
            return fail(db, path, err, "cannot record a round");
        sqlite3_bind_int64(s, 1, ck->epoch);
        sqlite3_bind_int(s, 2, ck->next_round - 1);
        if (isfinite(ck->accuracy))
            sqlite3_bind_double(s, 3, ck->accuracy);
        sqlite3_bind_double(s, 4, ck->epsilon);
        sqlite3_bind_double(s, 5, (double)ts.tv_sec + ts.tv_nsec * 1e-9);
        rc = sqlite3_step(s) == SQLITE_DONE ? P4_OK : fail(db, path, err, "cannot record a round");
        sqlite3_finalize(s);
    }
    if (rc == P4_OK &&
        sqlite3_prepare_v2(db, "UPDATE runs SET round_reached = ? WHERE epoch = ?", -1, &s,
                           NULL) != SQLITE_OK)
        return fail(db, path, err, "cannot record a round");
    if (rc == P4_OK) {
        sqlite3_bind_int(s, 1, ck->next_round);
        sqlite3_bind_int64(s, 2, ck->epoch);
        rc = sqlite3_step(s) == SQLITE_DONE ? P4_OK : fail(db, path, err, "cannot record a round");
        sqlite3_finalize(s);
    }
    return rc;
}

static int put_checkpoint(sqlite3 *db, const char *path, const p4_node_checkpoint *ck,
                          const unsigned char *groups, p4_error *err)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(db,
                           "INSERT OR REPLACE INTO checkpoint(slot, epoch, client, clients, "
                           "rounds, method, seed, reproducible, next_round, group_of, ngroups, "
                           "ledger_steps, epsilon, private_params, proxy_params, "
                           "private_velocity, proxy_velocity, batch_rng, noise_rng, peers, at, "
                           "own_proxy, proxy_reverts, krum_fallbacks, krum_smallest, augment_rng) "
                           "VALUES(1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                           "?, ?, ?, ?)",
                           -1, &s, NULL) != SQLITE_OK)
        return fail(db, path, err, "cannot write the checkpoint");
    const p4_client_state *cs = &ck->state;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    sqlite3_bind_int64(s, 1, ck->epoch);
    sqlite3_bind_int(s, 2, ck->client);
    sqlite3_bind_int(s, 3, ck->clients);
    sqlite3_bind_int(s, 4, ck->rounds);
    sqlite3_bind_text(s, 5, ck->method, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 6, (sqlite3_int64)ck->seed); /* the bits; read back as uint64 */
    sqlite3_bind_int(s, 7, ck->reproducible);
    sqlite3_bind_int(s, 8, ck->next_round);
    sqlite3_bind_blob(s, 9, groups, ck->clients * 4, SQLITE_STATIC);
    sqlite3_bind_int(s, 10, ck->ngroups);
    sqlite3_bind_int64(s, 11, ck->ledger_steps);
    if (isfinite(ck->epsilon))
        sqlite3_bind_double(s, 12, ck->epsilon);
    bind_floats(s, 13, cs->private_params, cs->private_count);
    bind_floats(s, 14, cs->proxy_params, cs->proxy_count);
    bind_floats(s, 15, cs->private_velocity, cs->private_velocity_count);
    bind_floats(s, 16, cs->proxy_velocity, cs->proxy_velocity_count);
    if (cs->has_batch_rng)
        sqlite3_bind_blob(s, 17, cs->batch_rng, sizeof cs->batch_rng, SQLITE_STATIC);
    if (ck->has_noise)
        sqlite3_bind_blob(s, 18, ck->noise, sizeof ck->noise, SQLITE_STATIC);
    sqlite3_bind_text(s, 19, ck->peers ? ck->peers : "", -1, SQLITE_STATIC);
    sqlite3_bind_double(s, 20, (double)ts.tv_sec + ts.tv_nsec * 1e-9);
    if (ck->own_proxy)
        bind_floats(s, 21, ck->own_proxy, cs->proxy_count);
    sqlite3_bind_int(s, 22, ck->proxy_reverts);
    sqlite3_bind_int(s, 23, ck->krum_fallbacks);
    sqlite3_bind_int(s, 24, ck->krum_smallest);
    if (cs->has_augment_rng)
        sqlite3_bind_blob(s, 25, cs->augment_rng, sizeof cs->augment_rng, SQLITE_STATIC);
    int rc = sqlite3_step(s) == SQLITE_DONE ? P4_OK
                                            : fail(db, path, err, "cannot write the checkpoint");
    sqlite3_finalize(s);
    return rc;
}

int p4_node_checkpoint_save(p4_node_state *state, const p4_node_checkpoint *ck, p4_error *err)
{
    const char *path = NULL;
    sqlite3 *db = p4_node_state_db(state, &path);
    if (db == NULL || ck == NULL || ck->epoch == 0 || ck->clients < 1 || ck->group_of == NULL ||
        ck->next_round < 0 || ck->next_round > ck->rounds || !ck->state.private_params ||
        !ck->state.proxy_params || !ck->state.private_velocity || !ck->state.proxy_velocity)
        return p4_error_set(err, P4_EINVAL, "p4_node_checkpoint_save: bad arguments");
    unsigned char *groups = NULL;
    if (p4_node_groups_encode(ck->group_of, ck->clients, &groups) != P4_OK)
        return p4_error_set(err, P4_ENOMEM, "checkpoint: out of memory");
    /* One transaction: a kill at any point leaves the old checkpoint or this one. */
    int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK
                 ? P4_OK
                 : fail(db, path, err, "cannot start a transaction");
    if (rc == P4_OK)
        rc = put_round(db, path, ck, err);
    if (rc == P4_OK)
        rc = put_checkpoint(db, path, ck, groups, err);
    if (rc == P4_OK && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        rc = fail(db, path, err, "cannot commit the checkpoint");
    if (rc != P4_OK)
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    free(groups);
    return rc;
}

/* ---- reading it back ------------------------------------------------------------ */

/* A float blob: a whole number of floats (possibly none), copied out. */
static int get_floats(sqlite3_stmt *s, int col, const char *name, float **out, size_t *n,
                      const char *path, p4_error *err)
{
    int bytes = sqlite3_column_bytes(s, col);
    const void *b = sqlite3_column_blob(s, col);
    if (bytes < 0 || bytes % (int)sizeof(float) != 0 || (bytes > 0 && b == NULL))
        return p4_error_set(err, P4_ESTATE, "%s: the checkpoint's %s hold %d bytes, not a "
                            "whole number of floats", path, name, bytes);
    *n = (size_t)bytes / sizeof(float);
    *out = malloc(bytes > 0 ? (size_t)bytes : 1);
    if (*out == NULL)
        return p4_error_set(err, P4_ENOMEM, "checkpoint: out of memory");
    if (bytes > 0)
        memcpy(*out, b, (size_t)bytes);
    return P4_OK;
}

/* An optional generator state: NULL, or exactly P4_RNG_STATE_BYTES. */
static int get_rng(sqlite3_stmt *s, int col, const char *name, unsigned char *out, int *has,
                   const char *path, p4_error *err)
{
    *has = 0;
    if (sqlite3_column_type(s, col) == SQLITE_NULL)
        return P4_OK;
    int bytes = sqlite3_column_bytes(s, col);
    const void *b = sqlite3_column_blob(s, col);
    if (b == NULL || bytes != P4_RNG_STATE_BYTES)
        return p4_error_set(err, P4_ESTATE, "%s: the checkpoint's %s holds %d bytes, not %d",
                            path, name, bytes, P4_RNG_STATE_BYTES);
    memcpy(out, b, P4_RNG_STATE_BYTES);
    *has = 1;
    return P4_OK;
}

static int read_row(sqlite3_stmt *s, p4_node_checkpoint *ck, const char *path, p4_error *err)
{
    ck->epoch = (uint32_t)sqlite3_column_int64(s, 0);
    ck->client = sqlite3_column_int(s, 1);
    ck->clients = sqlite3_column_int(s, 2);
    ck->rounds = sqlite3_column_int(s, 3);
    const unsigned char *m = sqlite3_column_text(s, 4);
    snprintf(ck->method, sizeof ck->method, "%s", m ? (const char *)m : "");
    ck->seed = (uint64_t)sqlite3_column_int64(s, 5);
    ck->reproducible = sqlite3_column_int(s, 6) != 0;
    ck->next_round = sqlite3_column_int(s, 7);
    ck->ngroups = sqlite3_column_int(s, 9);
    ck->ledger_steps = sqlite3_column_int64(s, 10);
    ck->epsilon = sqlite3_column_type(s, 11) == SQLITE_NULL ? NAN : sqlite3_column_double(s, 11);
    ck->accuracy = NAN;
    if (ck->clients < 1 || ck->clients > 4096 || ck->client < 0 || ck->client >= ck->clients ||
        ck->rounds < 0 || ck->next_round < 0 || ck->next_round > ck->rounds || ck->ngroups < 1 ||
        ck->ngroups > ck->clients || ck->ledger_steps < 0)
        return p4_error_set(err, P4_ESTATE, "%s: the checkpoint names client %d of %d, round %d "
                            "of %d, %d groups, %lld ledger steps: it does not hold together",
                            path, ck->client, ck->clients, ck->next_round, ck->rounds,
                            ck->ngroups, ck->ledger_steps);
    /* at most one of each a round; NULL (an older checkpoint) reads 0 */
    ck->proxy_reverts = sqlite3_column_int(s, 20);
    ck->krum_fallbacks = sqlite3_column_int(s, 21);
    ck->krum_smallest = sqlite3_column_int(s, 22);
    if (ck->proxy_reverts < 0 || ck->proxy_reverts > ck->next_round || ck->krum_fallbacks < 0 ||
        ck->krum_fallbacks > ck->next_round || ck->krum_smallest < 0 ||
        ck->krum_smallest > ck->clients)
        return p4_error_set(err, P4_ESTATE, "%s: the checkpoint counts %d proxy_reverts, %d "
                            "krum_fallbacks (krum_smallest %d) after %d rounds of %d clients: it "
                            "does not hold together", path, ck->proxy_reverts, ck->krum_fallbacks,
                            ck->krum_smallest, ck->next_round, ck->clients);
    char what[P4_PATH_MAX + 32];
    snprintf(what, sizeof what, "%s: checkpoint", path);
    p4_client_state *cs = &ck->state;
    int rc = p4_node_groups_decode(sqlite3_column_blob(s, 8), sqlite3_column_bytes(s, 8),
                                   ck->clients, &ck->group_of, what, err);
    if (rc == P4_OK)
        rc = get_floats(s, 12, "private weights", &cs->private_params, &cs->private_count, path, err);
    if (rc == P4_OK)
        rc = get_floats(s, 13, "proxy weights", &cs->proxy_params, &cs->proxy_count, path, err);
    if (rc == P4_OK)
        rc = get_floats(s, 14, "private momentum", &cs->private_velocity,
                        &cs->private_velocity_count, path, err);
    if (rc == P4_OK)
        rc = get_floats(s, 15, "proxy momentum", &cs->proxy_velocity, &cs->proxy_velocity_count,
                        path, err);
    if (rc == P4_OK)
        rc = get_rng(s, 16, "batch sampler", cs->batch_rng, &cs->has_batch_rng, path, err);
    if (rc == P4_OK)
        rc = get_rng(s, 17, "noise stream", ck->noise, &ck->has_noise, path, err);
    if (rc == P4_OK)
        rc = get_rng(s, 23, "augmentation generator", cs->augment_rng, &cs->has_augment_rng,
                     path, err);
    const unsigned char *peers = sqlite3_column_text(s, 18);
    if (rc == P4_OK && (ck->peers = strdup(peers ? (const char *)peers : "")) == NULL)
        rc = p4_error_set(err, P4_ENOMEM, "checkpoint: out of memory");
    if (rc == P4_OK && sqlite3_column_type(s, 19) != SQLITE_NULL) {
        const void *own = sqlite3_column_blob(s, 19); /* before its size, as SQLite asks */
        int bytes = sqlite3_column_bytes(s, 19);
        rc = p4_node_own_proxy_decode(own, (size_t)bytes, cs->proxy_count, &ck->own_proxy, path,
                                      err);
    }
    return rc;
}

int p4_node_checkpoint_load(p4_node_state *state, p4_node_checkpoint *ck, int *found,
                            p4_error *err)
{
    const char *path = NULL;
    sqlite3 *db = p4_node_state_db(state, &path);
    if (db == NULL || ck == NULL || found == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_node_checkpoint_load: bad arguments");
    memset(ck, 0, sizeof *ck);
    *found = 0;
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(db,
                           "SELECT epoch, client, clients, rounds, method, seed, reproducible, "
                           "next_round, group_of, ngroups, ledger_steps, epsilon, private_params, "
                           "proxy_params, private_velocity, proxy_velocity, batch_rng, noise_rng, "
                           "peers, own_proxy, proxy_reverts, krum_fallbacks, krum_smallest, augment_rng "
                           "FROM checkpoint WHERE slot = 1",
                           -1, &s, NULL) != SQLITE_OK)
        return fail(db, path, err, "cannot read the checkpoint");
    int rc = P4_OK, step = sqlite3_step(s);
    if (step == SQLITE_ROW) {
        *found = 1;
        rc = read_row(s, ck, path, err);
    } else if (step != SQLITE_DONE) {
        rc = fail(db, path, err, "cannot read the checkpoint");
    }
    sqlite3_finalize(s);
    if (rc != P4_OK) {
        p4_node_checkpoint_free(ck);
        *found = 0;
    }
    return rc;
}

void p4_node_checkpoint_free(p4_node_checkpoint *ck)
{
    if (ck == NULL)
        return;
    free(ck->group_of);
    free(ck->peers);
    free(ck->own_proxy);
    p4_client_state_free(&ck->state);
    memset(ck, 0, sizeof *ck);
}
