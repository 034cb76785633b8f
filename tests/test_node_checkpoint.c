/* test_node_checkpoint.c: node.db's checkpoint (p4node/node_checkpoint.h)
 * as a file a restart reads back, written here from small states:
 *   - it round-trips everything, the own proxy (kept when the saved proxy
 *     averaged peers' proxies, for the revert of a divergence after a
 *     restart) and its absence, and the reverts and multi-Krum fallbacks
 *     counted so far, included;
 *   - an own proxy that is not the proxy's size, or not finite, or counts
 *     that do not fit the rounds done, are refused with P4_ESTATE naming
 *     the column;
 *   - so does the augmented copies' generator, and one that is not a
 *     generator state's size is refused;
 *   - a checkpoint written before the columns existed still loads (a
 *     restart must not lose the run), as one whose proxy is the client's own
 *     and without an augmentation generator. */
#include "support/test_support.h"

#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "p4node/node_checkpoint.h"
#include "p4node/node_own_proxy.h"
#include "p4node/node_state.h"

enum { PRIVATE = 6, PROXY = 5, CLIENTS = 3 };

static float private_w[PRIVATE] = { 1, 2, 3, 4, 5, 6 };
static float proxy_w[PROXY] = { 0.5f, -0.5f, 1e30f, -1e-30f, 7 };
static float private_v[PRIVATE] = { 0 };
static float proxy_v[PROXY] = { 0.25f, 0, 0, 0, -0.25f };
static float own[PROXY] = { 0.1f, 0.2f, 0.3f, 0.4f, 0.5f };
static unsigned char augmenter[P4_RNG_STATE_BYTES] = { 9, 8, 7, 6, 5, 4, 3, 2, 1 };
static int groups[CLIENTS] = { 0, 1, 0 };

/* A run started in dir's node.db and a checkpoint of it (with own proxy
 * `own_proxy` and augmentation generator `augment`, each or NULL) saved;
 * the state stays open in *st. */
static void save_one(const char *dir, p4_node_state **st, const float *own_proxy,
                     const unsigned char *augment)
{
    p4_error err = {0};
    if (p4_node_state_open(st, dir, &err) != P4_OK)
        fail_msg("%s", err.message);
    p4_node_record rec = { .client = 1, .clients = CLIENTS, .method = "p4", .rounds = 4,
                           .epsilon_target = 8 };
    assert_int_equal(p4_node_state_begin(*st, &rec, &err), P4_OK);
    p4_node_checkpoint ck = {
        .epoch = rec.epoch, .client = 1, .clients = CLIENTS, .rounds = 4, .method = "p4",
        .seed = 11, .next_round = 2, .group_of = groups, .ngroups = 2, .ledger_steps = 13,
        .accuracy = 0.5, .epsilon = 1.5, .peers = (char *)"0@tcp://a:1@K\n",
        .own_proxy = (float *)own_proxy, .proxy_reverts = 1, .krum_fallbacks = 2,
        .krum_smallest = 2,
        .state = { .private_params = private_w, .proxy_params = proxy_w,
                   .private_count = PRIVATE, .proxy_count = PROXY,
                   .private_velocity = private_v, .proxy_velocity = proxy_v,
                   .private_velocity_count = PRIVATE, .proxy_velocity_count = PROXY },
    };
    if (augment) {
        ck.state.has_augment_rng = 1;
        memcpy(ck.state.augment_rng, augment, P4_RNG_STATE_BYTES);
    }
    if (p4_node_checkpoint_save(*st, &ck, &err) != P4_OK)
        fail_msg("%s", err.message);
}

static void exec_sql(p4_node_state *st, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(p4_node_state_db(st, NULL), sql, NULL, NULL, &msg) != SQLITE_OK)
        fail_msg("%s: %s", sql, msg ? msg : "");
}

static void own_proxy_round_trips(void **state)
{
    const char *dir = *state;
    for (int with_own = 0; with_own < 2; with_own++) {
        p4_node_state *st = NULL;
        save_one(dir, &st, with_own ? own : NULL, with_own ? augmenter : NULL);
        p4_node_checkpoint ck;
        int found = 0;
        p4_error err = {0};
        if (p4_node_checkpoint_load(st, &ck, &found, &err) != P4_OK)
            fail_msg("%s", err.message);
        assert_int_equal(found, 1);
        assert_int_equal(ck.next_round, 2);
        assert_int_equal(ck.state.proxy_count, PROXY);
        assert_memory_equal(ck.state.proxy_params, proxy_w, sizeof proxy_w);
        assert_memory_equal(ck.state.proxy_velocity, proxy_v, sizeof proxy_v);
        assert_memory_equal(ck.group_of, groups, sizeof groups);
        assert_int_equal(ck.proxy_reverts, 1);
        assert_int_equal(ck.krum_fallbacks, 2);
        assert_int_equal(ck.krum_smallest, 2);
        if (with_own) {
            assert_non_null(ck.own_proxy);
            assert_memory_equal(ck.own_proxy, own, sizeof own);
            assert_int_equal(ck.state.has_augment_rng, 1);
            assert_memory_equal(ck.state.augment_rng, augmenter, sizeof augmenter);
        } else {
            assert_null(ck.own_proxy); /* the saved proxy is the client's own */
            assert_int_equal(ck.state.has_augment_rng, 0);
        }
        p4_node_checkpoint_free(&ck);
        assert_null(ck.own_proxy);
        p4_node_state_close(&st);
    }
}

/* Loads the checkpoint after `sql` damaged it: P4_ESTATE with `expect` in
 * the message, nothing found. */
static void refused_after(const char *dir, const char *sql, const char *expect)
{
    p4_node_state *st = NULL;
    save_one(dir, &st, own, augmenter);
    exec_sql(st, sql);
    p4_node_checkpoint ck;
    int found = 1;
    p4_error err = {0};
    assert_int_equal(p4_node_checkpoint_load(st, &ck, &found, &err), P4_ESTATE);
    assert_int_equal(found, 0);
    assert_null(ck.own_proxy);
    if (!strstr(err.message, expect))
        fail_msg("after %s: '%s', expected '%s'", sql, err.message, expect);
    assert_non_null(strstr(err.message, "node.db"));
    p4_node_state_close(&st);
}

static void a_corrupt_own_proxy_is_refused(void **state)
{
    const char *dir = *state;
    refused_after(dir, "UPDATE checkpoint SET own_proxy = substr(own_proxy, 1, 10)",
                  "the checkpoint's own_proxy holds 10 bytes, not the proxy's 5 floats (20 bytes)");
    refused_after(dir, "UPDATE checkpoint SET own_proxy = own_proxy || x'00000000'",
                  "the checkpoint's own_proxy holds 24 bytes, not the proxy's 5 floats");
    refused_after(dir, "UPDATE checkpoint SET own_proxy = x''",
                  "the checkpoint's own_proxy holds 0 bytes");
    /* the right size, a NaN (0x7fc00000) in float 2 */
    refused_after(dir, "UPDATE checkpoint SET own_proxy = substr(own_proxy, 1, 8) || "
                       "x'0000c07f' || substr(own_proxy, 13)",
                  "the checkpoint's own_proxy holds a non-finite weight (float 2 of 5)");
    /* a proxy that shrank: the own proxy is checked against the proxy's size */
    refused_after(dir, "UPDATE checkpoint SET proxy_params = substr(proxy_params, 1, 16), "
                       "proxy_velocity = substr(proxy_velocity, 1, 16)",
                  "the checkpoint's own_proxy holds 20 bytes, not the proxy's 4 floats");
    /* counts that do not fit the rounds done (2) or the clients (3) */
    refused_after(dir, "UPDATE checkpoint SET proxy_reverts = 3",
                  "the checkpoint counts 3 proxy_reverts, 2 krum_fallbacks (krum_smallest 2) "
                  "after 2 rounds of 3 clients: it does not hold together");
    refused_after(dir, "UPDATE checkpoint SET krum_fallbacks = -1", "-1 krum_fallbacks");
    refused_after(dir, "UPDATE checkpoint SET krum_smallest = 4", "(krum_smallest 4)");
    refused_after(dir, "UPDATE checkpoint SET augment_rng = x'0102'",
                  "the checkpoint's augmentation generator holds 2 bytes, not");
}

static void decode_checks_every_byte_count(void **state)
{
    (void)state;
    float *out = (float *)1;
    p4_error err = {0};
    for (size_t bytes = 0; bytes <= sizeof own + 4; bytes++) {
        int rc = p4_node_own_proxy_decode(own, bytes, PROXY, &out, "blob", &err);
        if (bytes == sizeof own) {
            assert_int_equal(rc, P4_OK);
            assert_memory_equal(out, own, sizeof own);
            free(out);
        } else {
            assert_int_equal(rc, P4_ESTATE);
            assert_null(out);
        }
    }
    const float inf[2] = { 1, INFINITY };
    assert_int_equal(p4_node_own_proxy_decode(inf, sizeof inf, 2, &out, "blob", &err), P4_ESTATE);
    assert_int_equal(p4_node_own_proxy_decode(NULL, 0, 0, &out, "blob", &err), P4_ESTATE);
    assert_int_equal(p4_node_own_proxy_decode(own, sizeof own, PROXY, NULL, "blob", &err),
                     P4_EINVAL);
}

/* node.db from before the column: opening it adds the column, and its
 * checkpoint loads as one whose proxy is the client's own. */
static void an_older_checkpoint_still_loads(void **state)
{
    const char *dir = *state;
    p4_node_state *st = NULL;
    save_one(dir, &st, own, augmenter);
    exec_sql(st, "ALTER TABLE checkpoint DROP COLUMN own_proxy; ALTER TABLE checkpoint DROP "
                 "COLUMN proxy_reverts; ALTER TABLE checkpoint DROP COLUMN krum_fallbacks; "
                 "ALTER TABLE checkpoint DROP COLUMN krum_smallest; ALTER TABLE checkpoint DROP "
                 "COLUMN augment_rng");
    p4_node_state_close(&st);
    p4_error err = {0};
    if (p4_node_state_open(&st, dir, &err) != P4_OK)
        fail_msg("%s", err.message);
    p4_node_checkpoint ck;
    int found = 0;
    if (p4_node_checkpoint_load(st, &ck, &found, &err) != P4_OK)
        fail_msg("%s", err.message);
    assert_int_equal(found, 1);
    assert_null(ck.own_proxy);
    assert_int_equal(ck.proxy_reverts, 0);
    assert_int_equal(ck.krum_fallbacks, 0);
    assert_int_equal(ck.krum_smallest, 0);
    assert_int_equal(ck.state.has_augment_rng, 0);
    assert_memory_equal(ck.state.proxy_params, proxy_w, sizeof proxy_w);
    p4_node_checkpoint_free(&ck);
    p4_node_state_close(&st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(own_proxy_round_trips, test_temp_dir_setup,
                                        test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(a_corrupt_own_proxy_is_refused, test_temp_dir_setup,
                                        test_temp_dir_teardown),
        cmocka_unit_test(decode_checks_every_byte_count),
        cmocka_unit_test_setup_teardown(an_older_checkpoint_still_loads, test_temp_dir_setup,
                                        test_temp_dir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
