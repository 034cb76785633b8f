/* test_admission.c: attestation-gated admission (issue 13), below the node:
 *
 *   - the admission policy: a listed key waits for its attestation, a
 *     refused one is refused at the connection level too, with the reason;
 *   - the handshake over in-process transports, six peers on threads, each
 *     with a real evidence command (tests' token issuer): three good realms
 *     admit each other; a realm whose measurement is not on the allowlist,
 *     one that replays a token made for another key and nonce, and one that
 *     sends garbage are refused by every good peer, with the failed check in
 *     the log; every good peer fetched a fresh token per HELLO, each for a
 *     different challenge;
 *   - a peer played by the test: a HELLO flood is answered at most
 *     P4_HANDSHAKE_MAX_ANSWERS times, a garbled token is refused (no crash),
 *     and an EVIDENCE echoing a nonce never sent is refused;
 *   - the [tee] config keys. */
#include "support/test_support.h"
#include "support/cca_test_tools.h"
#include "support/handshake_peer.h"

#include <pthread.h>
#include <sys/stat.h>

#include "cluster/admission.h"
#include "cluster/handshake.h"
#include "cluster/receiver.h"
#include "cluster/replay_guard.h"
#include "cluster/sender.h"
#include "cluster/transport_inproc.h"
#include "common/config.h"
#include "common/progress.h"
#include "common/rng.h"

#define RIM_GOOD "1111111111111111111111111111111111111111111111111111111111111111"
#define RIM_OTHER "2222222222222222222222222222222222222222222222222222222222222222"
#define PEERS 6

static void admission_policy_waits_for_attestation(void **state)
{
    (void)state;
    uint8_t keys[2][32], stranger[32];
    cca_random_bytes(&keys[0][0], sizeof keys);
    cca_random_bytes(stranger, sizeof stranger);
    p4_admission *a = NULL;
    assert_int_equal(p4_admission_new(&a, (const uint8_t(*)[32])keys, 2, NULL), P4_OK);
    char why[200];
    /* software: the allowlist alone */
    assert_string_equal(p4_admission_describe(a), "key allowlist only, no attestation");
    assert_int_equal(p4_admission_admitted(a, keys[0], why, sizeof why), 1);
    assert_int_equal(p4_admission_admitted(a, stranger, why, sizeof why), 0);
    assert_non_null(strstr(why, "not in the allowlist"));

    assert_int_equal(p4_admission_require_attestation(a, "CCA attestation", NULL), P4_OK);
    assert_string_equal(p4_admission_describe(a), "key allowlist and CCA attestation");
    /* listed: the connection is let in (the token comes over it), the protocol is not */
    assert_int_equal(p4_admission_check(a, keys[0], "tcp://x", why, sizeof why), 1);
    assert_int_equal(p4_admission_admitted(a, keys[0], why, sizeof why), 0);
    assert_non_null(strstr(why, "no attestation"));
    assert_int_equal(p4_admission_record(a, keys[0], 1, NULL, NULL), P4_OK);
    assert_int_equal(p4_admission_admitted(a, keys[0], why, sizeof why), 1);
    assert_int_equal(p4_admission_record(a, keys[1], 0, "initial-measurement: not allowed",
                                         NULL), P4_OK);
    assert_int_equal(p4_admission_check(a, keys[1], "tcp://y", why, sizeof why), 0);
    assert_non_null(strstr(why, "attestation refused: initial-measurement"));
    /* a refusal is final for the run */
    assert_int_equal(p4_admission_record(a, keys[1], 1, NULL, NULL), P4_OK);
    assert_int_equal(p4_admission_admitted(a, keys[1], why, sizeof why), 0);
    p4_error err = {0};
    assert_int_equal(p4_admission_record(a, stranger, 1, NULL, &err), P4_EINVAL);
    p4_admission_destroy(&a);
    assert_null(a);
}

/* ---- six peers on threads --------------------------------------------------- */

/* A verifier that trusts the issuer's keys in dir and allows RIM_GOOD. */
static p4_cca_verifier *make_verifier(const char *dir)
{
    char args[1200], cpak[1100];
    snprintf(args, sizeof args, "keygen %s", dir);
    assert_int_equal(cca_run_issuer(args), 0);
    test_path_in(dir, "cpak.pub.pem", cpak, sizeof cpak);
    p4_cca_settings s;
    p4_cca_settings_defaults(&s);
    p4_error err = {0};
    assert_int_equal(p4_cca_settings_set(&s, "cpak", cpak, NULL, &err), P4_OK);
    assert_int_equal(p4_cca_settings_set(&s, "realm_initial_measurement", RIM_GOOD, NULL, &err),
                     P4_OK);
    p4_cca_verifier *v = NULL;
    if (p4_cca_verifier_new(&v, &s, &err) != P4_OK)
        fail_msg("%s", err.message);
    return v;
}

static int count_lines(const char *text, const char *what)
{
    int n = 0;
    for (const char *s = text; (s = strstr(s, what)) != NULL; s += strlen(what))
        n++;
    return n;
}

static void good_realms_admit_each_other_and_refuse_the_rest(void **state)
{
    const char *dir = *state;
    p4_cca_verifier *verifier = make_verifier(dir);
    uint8_t keys[PEERS][32];
    cca_random_bytes(&keys[0][0], sizeof keys);

    /* What the replayer sends: a real, well-measured token, made for peer
     * 0's key and a nonce of some other session. */
    uint8_t nonce[32], challenge[64];
    cca_random_bytes(nonce, sizeof nonce);
    p4_error err = {0};
    assert_int_equal(p4_cca_binding_challenge(keys[0], 32, nonce, 32, challenge, &err), P4_OK);
    size_t stolen_len = 0;
    free(cca_issue(dir, "stolen.cbor", challenge, NULL, &stolen_len));
    uint8_t garbage[900];
    cca_random_bytes(garbage, sizeof garbage);
    char garbage_path[1100], challenges[1100];
    test_path_in(dir, "garbage.bin", garbage_path, sizeof garbage_path);
    assert_int_equal(test_write_file(garbage_path, garbage, sizeof garbage), 0);
    test_path_in(dir, "challenges.txt", challenges, sizeof challenges);

    char good[1100], replay[1100], garbled[1100], body[1500];
    snprintf(body, sizeof body, "echo \"$1\" >> %s\nexec %s issue %s \"$1\"", challenges,
             cca_issuer(), dir);
    cca_write_script(dir, "good.sh", body, good, sizeof good);
    snprintf(body, sizeof body, "cat %s/stolen.cbor", dir);
    cca_write_script(dir, "replay.sh", body, replay, sizeof replay);
    snprintf(body, sizeof body, "cat %s", garbage_path);
    cca_write_script(dir, "garbled.sh", body, garbled, sizeof garbled);

    p4_inproc_hub *hub = NULL;
    assert_int_equal(p4_inproc_hub_new(&hub, PEERS, NULL), P4_OK);
    static handshake_peer runs[PEERS];
    pthread_t threads[PEERS];
    for (int i = 0; i < PEERS; i++) {
        runs[i] = (handshake_peer){ .id = i, .clients = PEERS, .hub = hub,
                                    .keys = (const uint8_t(*)[32])keys,
                                    .verifier = verifier, .timeout = 60, .keep_log = 1 };
        if (i < 3)
            snprintf(runs[i].command, sizeof runs[i].command, "%s", good);
        else if (i == 3)
            snprintf(runs[i].command, sizeof runs[i].command, "%s issue %s --rim %s",
                     cca_issuer(), dir, RIM_OTHER);
        else
            snprintf(runs[i].command, sizeof runs[i].command, "%s", i == 4 ? replay : garbled);
        assert_int_equal(pthread_create(&threads[i], NULL, handshake_peer_run, &runs[i]), 0);
    }
    for (int i = 0; i < PEERS; i++)
        pthread_join(threads[i], NULL);

    char *seen = test_read_all(challenges);
    for (int i = 0; i < PEERS; i++)
        if (runs[i].rc != P4_OK)
            print_message("peer %d: %s\n%s", i, runs[i].err.message, runs[i].log_text);
    for (int i = 0; i < 3; i++) {
        handshake_peer *p = &runs[i];
        if (p->rc != P4_OK)
            fail_msg("peer %d: %s\n%s", i, p->err.message, p->log_text);
        for (int j = 0; j < PEERS; j++)
            if (p->admitted[j] != (j < 3))
                fail_msg("peer %d: peer %d %s\n%s", i, j, p->admitted[j] ? "admitted" : "refused",
                         p->log_text);
        assert_int_equal(p->stats.admitted, 2);
        assert_int_equal(p->stats.refused, 3);
        assert_int_equal(p->stats.silent, 0);
        /* one fresh token per HELLO: one per other peer, never reused */
        assert_int_equal(p->stats.tokens_fetched, PEERS - 1);
        assert_true(p->stats.token_bytes_sent > 500 * (PEERS - 1));
        const char *want[] = { "refused peer 3", "initial-measurement", "refused peer 4",
                               "realm-challenge", "refused peer 5", "check format" };
        for (size_t w = 0; w < sizeof want / sizeof want[0]; w++)
            if (!strstr(p->log_text, want[w]))
                fail_msg("peer %d's log lacks '%s':\n%s", i, want[w], p->log_text);
        assert_int_equal(count_lines(p->log_text, "admitted: its CCA token verified"), 2);
    }
    /* 3 good peers x 5 HELLOs each, every challenge different */
    int lines = 0, distinct = 1;
    char *copy = strdup(seen), *save = NULL;
    char *line[64];
    for (char *l = strtok_r(copy, "\n", &save); l && lines < 64; l = strtok_r(NULL, "\n", &save))
        line[lines++] = l;
    for (int a = 0; a < lines; a++)
        for (int b = a + 1; b < lines; b++)
            distinct &= strcmp(line[a], line[b]) != 0;
    assert_int_equal(lines, 3 * (PEERS - 1));
    assert_true(distinct);
    free(copy);
    free(seen);
    for (int i = 0; i < PEERS; i++)
        free(runs[i].log_text);
    p4_inproc_hub_destroy(&hub);
    p4_cca_verifier_destroy(&verifier);
}

/* ---- a peer played by the test ------------------------------------------------- */

/* Receives the next message to the test's peer (id 1) within seconds. */
static int next_message(p4_receiver *r, double seconds, p4_wire_message *m)
{
    int from = -1;
    p4_error err = {0};
    return p4_receiver_next(r, p4_now_seconds() + seconds, m, &from, &err);
}

static void floods_and_garbled_tokens_are_bounded_and_refused(void **state)
{
    const char *dir = *state;
    p4_cca_verifier *verifier = make_verifier(dir);
    for (int variant = 0; variant < 2; variant++) {
        /* variant 0: a garbled token for the right nonce; 1: a nonce never sent */
        /* two members: peer 0 is real, peer 1 is the test */
        uint8_t keys[2][32];
        cca_random_bytes(&keys[0][0], sizeof keys);
        p4_inproc_hub *hub = NULL;
        assert_int_equal(p4_inproc_hub_new(&hub, 2, NULL), P4_OK);
        static handshake_peer p0;
        p0 = (handshake_peer){ .id = 0, .clients = 2, .hub = hub,
                               .keys = (const uint8_t(*)[32])keys, .verifier = verifier,
                               .timeout = 60, .keep_log = 1 };
        snprintf(p0.command, sizeof p0.command, "%s issue %s", cca_issuer(), dir);
        p4_transport *me = NULL;
        p4_replay_guard *guard = NULL;
        p4_sender *sender = NULL;
        assert_int_equal(p4_inproc_hub_transport(hub, 1, &me, NULL), P4_OK);
        assert_int_equal(p4_replay_guard_new(&guard, 2, NULL), P4_OK);
        assert_int_equal(p4_sender_new(&sender, me, 1, 1, NULL), P4_OK);
        p4_receiver r = { me, guard, NULL, 1, 0 };
        pthread_t thread;
        assert_int_equal(pthread_create(&thread, NULL, handshake_peer_run, &p0), 0);

        p4_wire_message m;
        assert_int_equal(next_message(&r, 30, &m), P4_OK);
        assert_int_equal(m.header.type, P4_WIRE_HELLO);
        uint8_t their_nonce[32];
        memcpy(their_nonce, m.body.hello.nonce, 32);
        assert_memory_equal(m.body.hello.public_key, keys[0], 32);
        p4_wire_message_clear(&m);

        /* six HELLOs, each with a new nonce: at most four answers */
        for (int h = 0; h < 6; h++) {
            p4_wire_message hello;
            memset(&hello, 0, sizeof hello);
            hello.header.type = P4_WIRE_HELLO;
            hello.header.round = -1;
            hello.body.hello.node_id = 1;
            hello.body.hello.clients = 2;
            snprintf(hello.body.hello.endpoint, sizeof hello.body.hello.endpoint, "inproc");
            memcpy(hello.body.hello.public_key, keys[1], 32);
            cca_random_bytes(hello.body.hello.nonce, 32);
            assert_int_equal(p4_sender_send(sender, 0, &hello, NULL), P4_OK);
        }
        int answers = 0;
        while (next_message(&r, 5, &m) == P4_OK) {
            answers += m.header.type == P4_WIRE_EVIDENCE;
            p4_wire_message_clear(&m);
            if (answers == P4_HANDSHAKE_MAX_ANSWERS)
                break;
        }
        assert_int_equal(answers, P4_HANDSHAKE_MAX_ANSWERS);

        uint8_t garbage[700];
        cca_random_bytes(garbage, sizeof garbage);
        p4_wire_message ev;
        memset(&ev, 0, sizeof ev);
        ev.header.type = P4_WIRE_EVIDENCE;
        ev.header.round = -1;
        memcpy(ev.body.evidence.nonce, their_nonce, 32);
        if (variant == 1)
            ev.body.evidence.nonce[7] ^= 1;
        ev.body.evidence.token = garbage;
        ev.body.evidence.token_bytes = sizeof garbage;
        assert_int_equal(p4_sender_send(sender, 0, &ev, NULL), P4_OK);

        /* peer 0 ends its handshake once it decided about peer 1 */
        pthread_join(thread, NULL);
        assert_int_equal(p0.rc, P4_OK);
        assert_int_equal(p0.admitted[1], 0);
        assert_int_equal(p0.stats.refused, 1);
        assert_int_equal(p0.stats.tokens_fetched, P4_HANDSHAKE_MAX_ANSWERS);
        const char *want = variant == 0 ? "check format" : "a nonce this node never sent";
        if (!p0.log_text || !strstr(p0.log_text, "refused peer 1") || !strstr(p0.log_text, want))
            fail_msg("variant %d: peer 0's log lacks the refusal (%s):\n%s", variant, want,
                     p0.log_text ? p0.log_text : "");
        assert_non_null(strstr(p0.log_text, "not answering HELLO 5 of peer 1"));
        free(p0.log_text);
        p4_sender_destroy(&sender);
        p4_replay_guard_destroy(&guard);
        p4_inproc_hub_destroy(&hub);
    }
    p4_cca_verifier_destroy(&verifier);
}

/* ---- the [tee] keys ------------------------------------------------------------ */

static int load(const char *dir, const char *tee, p4_config *cfg, p4_error *err)
{
    char text[4096], path[1100];
    snprintf(text, sizeof text,
             "[data]\ndataset = fashion-mnist\n[model]\ncfg = %s/configs/models/mlp-28x28x1.cfg\n"
             "[tee]\n%s",
             getenv("P4_SOURCE_DIR") ? getenv("P4_SOURCE_DIR") : ".", tee);
    test_write_text(dir, "c.ini", text, path, sizeof path);
    return p4_config_load(path, cfg, err);
}

static void tee_config_keys(void **state)
{
    const char *dir = *state;
    static p4_config cfg;
    p4_error err = {0};
    assert_int_equal(load(dir, "backend = cca\ncpak = k.pem\nrealm_initial_measurement = "
                               RIM_GOOD ", " RIM_OTHER "\nrealm_initial_measurement = "
                               RIM_GOOD "\nevidence = command\n"
                               "evidence_command = /bin/issuer issue /keys\n",
                          &cfg, &err), P4_OK);
    assert_string_equal(cfg.tee_backend, "cca");
    assert_int_equal(cfg.tee_rim.count, 3);
    assert_string_equal(cfg.tee_rim.items[1], RIM_OTHER);
    assert_string_equal(cfg.tee_evidence_command, "/bin/issuer issue /keys");
    assert_non_null(strstr(cfg.tee_cpak, "/k.pem")); /* made absolute */

    /* written back, one allowlist entry a line, it loads the same */
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    assert_int_equal(p4_config_write(&cfg, out, NULL), P4_OK);
    fclose(out);
    char path[1100];
    test_write_text(dir, "w.ini", text, path, sizeof path);
    static p4_config again;
    assert_int_equal(p4_config_load(path, &again, &err), P4_OK);
    assert_int_equal(again.tee_rim.count, 3);
    assert_string_equal(again.tee_evidence_command, cfg.tee_evidence_command);
    free(text);

    struct { const char *tee, *says; } bad[] = {
        {"backend = cca\nrealm_initial_measurement = " RIM_GOOD "\n", "cpak"},
        {"backend = cca\ncpak = k.pem\n", "realm_initial_measurement"},
        {"backend = software\ncpak = k.pem\n", "only with backend = cca"},
        {"backend = cca\ncpak = k.pem\nrealm_initial_measurement = 12x4\n", "not hex"},
        {"backend = cca\ncpak = k.pem\nrealm_initial_measurement = 123\n", "even number"},
        {"backend = cca\ncpak = k.pem\nrealm_initial_measurement = " RIM_GOOD
         "\nevidence = command\n", "evidence_command"},
        {"backend = optee\ncpak = k.pem\n", "only with backend = cca"},
        {"backend = sgx\n", "the backends built are"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        p4_error_clear(&err);
        assert_int_equal(load(dir, bad[i].tee, &cfg, &err), P4_ECONFIG);
        if (!strstr(err.message, bad[i].says))
            fail_msg("case %zu: '%s' lacks '%s'", i, err.message, bad[i].says);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(admission_policy_waits_for_attestation),
        cmocka_unit_test_setup_teardown(good_realms_admit_each_other_and_refuse_the_rest,
                                        test_temp_dir_setup, test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(floods_and_garbled_tokens_are_bounded_and_refused,
                                        test_temp_dir_setup, test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(tee_config_keys, test_temp_dir_setup,
                                        test_temp_dir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
