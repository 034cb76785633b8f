/* test_serve.c: the attested inference service (p4node/serve.h, query.h),
 * on loopback, with tests/tools/cca_token_issuer as the server's evidence
 * command:
 *   - a node's private model survives save and load; damaged files are refused;
 *   - a good server answers, and the client's top-1 equals local inference
 *     on the same weights; probabilities only when the server allows them;
 *   - a server whose realm measurement is not on the client's allowlist:
 *     the client (library and `p4 query`) refuses, and the server saw no input;
 *   - a software-backend server is refused unless the client accepts that;
 *   - garbage requests are dropped with an ERROR and the server serves on;
 *   - with [p4] predict = ensemble the server answers with both saved models;
 *   - a finished `p4 cluster` node leaves a model `p4 serve` loads (and, with
 *     predict = ensemble, its proxy and weight). */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <zmq.h>

#include "cluster/serve_wire.h"
#include "cluster/zmq_curve.h"
#include "common/rng.h"
#include "distill/ensemble.h"
#include "model/model.h"
#include "p4node/serve_settings.h"
#include "p4node/private_model.h"
#include "p4node/query.h"
#include "p4node/query_input.h"
#include "p4node/serve.h"
#include "support/cca_test_tools.h"
#include "support/test_support.h"

#define MLP "configs/models/mlp-28x28x1.cfg"
#define LOGREG "configs/models/logreg-28x28x1.cfg"
#define RIM_OK "1111111111111111111111111111111111111111111111111111111111111111"
#define RIM_BAD "2222222222222222222222222222222222222222222222222222222222222222"
#define ROWS 37
#define INPUTS 784
#define CLASSES 10

static const p4_cfg_shape gray28 = {28, 28, 1, CLASSES};

/* A model with seeded weights saved as state/private.*; *ref is it. */
static void make_state(const char *state, uint64_t seed, p4_model **ref)
{
    mkdir(state, 0700);
    p4_error err = {0};
    assert_int_equal(p4_model_new(ref, MLP, &gray28, 64, seed, &err), P4_OK);
    size_t n = p4_model_param_count(*ref);
    float *w = malloc(n * sizeof *w);
    assert_non_null(w);
    assert_int_equal(p4_model_get_params(*ref, w, n), P4_OK);
    assert_int_equal(p4_private_model_save(state, MLP, &gray28, w, n, &err), P4_OK);
    free(w);
}

static float *random_inputs(uint64_t seed, int rows)
{
    p4_rng rng;
    p4_rng_init_seeded(&rng, seed, "test_serve inputs");
    float *x = malloc((size_t)rows * INPUTS * sizeof *x);
    assert_non_null(x);
    for (int i = 0; i < rows * INPUTS; i++)
        x[i] = (float)p4_rng_uniform(&rng);
    return x;
}

/* ---- a server on a thread ---- */

typedef struct running {
    p4_server *server;
    p4_cca_evidence *evidence;
    pthread_t thread;
    volatile sig_atomic_t stop;
    int rc;
    uint8_t key[P4_KEY_BYTES];
    FILE *log;
} running;

static void *serve_main(void *arg)
{
    running *r = arg;
    r->rc = p4_server_run(r->server, &r->stop, NULL);
    return NULL;
}

/* Starts a server on state; rim NULL: software backend (no evidence). */
static void start(running *r, const char *dir, const char *state, const char *rim,
                  int probabilities)
{
    memset(r, 0, sizeof *r);
    p4_error err = {0};
    if (rim != NULL) {
        char command[3000];
        snprintf(command, sizeof command, "%s issue %s --rim %s", cca_issuer(), dir, rim);
        assert_int_equal(p4_cca_evidence_new_command(&r->evidence, command, 0, &err), P4_OK);
    }
    char logpath[1100];
    test_path_in(dir, "serve.log", logpath, sizeof logpath);
    r->log = fopen(logpath, "a");
    assert_non_null(r->log);
    p4_server_options o = {.state_dir = state, .listen = "tcp://127.0.0.1:0",
                           .probabilities = probabilities, .max_rows = 16,
                           .evidence = r->evidence, .log = r->log};
    if (p4_server_new(&r->server, &o, &err) != P4_OK)
        fail_msg("p4_server_new: %s", err.message);
    p4_server_public_key(r->server, r->key);
    assert_int_equal(pthread_create(&r->thread, NULL, serve_main, r), 0);
}

static void stop(running *r, p4_server_stats *stats)
{
    r->stop = 1;
    pthread_join(r->thread, NULL);
    assert_int_equal(r->rc, P4_OK);
    p4_server_get_stats(r->server, stats);
    p4_server_destroy(&r->server);
    p4_cca_evidence_destroy(&r->evidence);
    fclose(r->log);
}

/* Issuer keys in dir and a verifier that accepts RIM_OK under them. */
static p4_cca_verifier *make_verifier(const char *dir)
{
    char args[1200];
    snprintf(args, sizeof args, "keygen %s", dir);
    assert_int_equal(cca_run_issuer(args), 0);
    p4_cca_settings s;
    p4_cca_settings_defaults(&s);
    p4_error err = {0};
    char cpak[1100];
    test_path_in(dir, "cpak.pub.pem", cpak, sizeof cpak);
    assert_int_equal(p4_cca_settings_set(&s, "cpak", cpak, NULL, &err), P4_OK);
    assert_int_equal(p4_cca_settings_set(&s, "realm_initial_measurement", RIM_OK, NULL, &err),
                     P4_OK);
    p4_cca_verifier *v = NULL;
    assert_int_equal(p4_cca_verifier_new(&v, &s, &err), P4_OK);
    return v;
}

/* What each serving test starts from: a saved model in dir/node (ref is
 * the same model in memory) and a verifier that accepts RIM_OK. */
typedef struct fixture {
    char state[1100];
    p4_model *ref;
    p4_cca_verifier *verifier;
} fixture;

static void fixture_open(fixture *f, const char *dir, uint64_t seed)
{
    test_path_in(dir, "node", f->state, sizeof f->state);
    f->ref = NULL;
    make_state(f->state, seed, &f->ref);
    f->verifier = make_verifier(dir);
}

static void fixture_close(fixture *f)
{
    p4_cca_verifier_destroy(&f->verifier);
    p4_model_destroy(&f->ref);
}

/* A client of r's server under verifier. */
static p4_query_options client_of(const running *r, const p4_cca_verifier *verifier)
{
    return (p4_query_options){.server = p4_server_endpoint(r->server), .server_key = r->key,
                              .verifier = verifier, .timeout_ms = 20000};
}

/* ---- the model file ---- */

static void private_model_round_trip_and_damage(void **state)
{
    const char *dir = *state;
    char st[1100], path[1200];
    test_path_in(dir, "node", st, sizeof st);
    p4_model *ref = NULL, *back = NULL;
    make_state(st, 3, &ref);
    snprintf(path, sizeof path, "%s/%s", st, P4_PRIVATE_WEIGHTS_NAME);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    p4_error err = {0};
    p4_cfg_shape shape;
    assert_int_equal(p4_private_model_load(st, 8, &back, &shape, &err), P4_OK);
    assert_int_equal(shape.classes, CLASSES);
    float *x = random_inputs(1, ROWS);
    int a[ROWS], b[ROWS];
    assert_int_equal(p4_model_predict(ref, x, ROWS, NULL, a), P4_OK);
    assert_int_equal(p4_model_predict(back, x, ROWS, NULL, b), P4_OK);
    assert_memory_equal(a, b, sizeof a);
    p4_model_destroy(&back);

    /* one flipped bit anywhere: the checksum; cut short: the size */
    size_t len = 0;
    uint8_t *bytes = (uint8_t *)test_read_all(path); /* first MiB: the whole file */
    len = (size_t)sb.st_size;
    uint8_t *copy = malloc(len);
    memcpy(copy, bytes, len);
    copy[len / 2] ^= 0x10;
    assert_int_equal(test_write_file(path, copy, len), 0);
    assert_int_equal(p4_private_model_load(st, 8, &back, NULL, &err), P4_EFORMAT);
    assert_non_null(strstr(err.message, "checksum"));
    assert_int_equal(test_write_file(path, bytes, len - 4), 0);
    assert_int_equal(p4_private_model_load(st, 8, &back, NULL, &err), P4_EFORMAT);
    assert_non_null(strstr(err.message, "truncated"));
    /* the weights back, but another definition beside them */
    assert_int_equal(test_write_file(path, bytes, len), 0);
    char cfg[1200];
    snprintf(cfg, sizeof cfg, "%s/%s", st, P4_PRIVATE_CFG_NAME);
    char *text = test_read_all(cfg);
    char *changed = malloc(strlen(text) + 16);
    sprintf(changed, "%s\n# edited\n", text);
    assert_int_equal(test_write_file(cfg, changed, strlen(changed)), 0);
    assert_int_equal(p4_private_model_load(st, 8, &back, NULL, &err), P4_EMODEL);
    assert_non_null(strstr(err.message, "does not belong"));
    assert_null(back);
    /* no model at all: the error names the file */
    char empty[1100];
    test_path_in(dir, "empty", empty, sizeof empty);
    mkdir(empty, 0700);
    assert_int_equal(p4_private_model_load(empty, 8, &back, NULL, &err), P4_EIO);
    assert_non_null(strstr(err.message, P4_PRIVATE_WEIGHTS_NAME));
    free(changed);
    free(text);
    free(copy);
    free(bytes);
    free(x);
    p4_model_destroy(&ref);
}

/* ---- attested serving ---- */

static void good_server_answers_like_local_inference(void **state)
{
    const char *dir = *state;
    fixture f;
    fixture_open(&f, dir, 7);
    float *x = random_inputs(2, ROWS);
    int local[ROWS];
    float local_p[ROWS * CLASSES];
    assert_int_equal(p4_model_predict(f.ref, x, ROWS, local_p, local), P4_OK);

    for (int allow = 0; allow <= 1; allow++) {
        running r;
        start(&r, dir, f.state, RIM_OK, allow);
        p4_query_options o = client_of(&r, f.verifier);
        p4_query_session *q = NULL;
        p4_query_server_info info;
        p4_cca_verdict verdict;
        p4_error err = {0};
        if (p4_query_open(&q, &o, &info, &verdict, &err) != P4_OK)
            fail_msg("p4_query_open: %s", err.message);
        assert_int_equal(verdict.failed, P4_CCA_PASSED);
        assert_int_equal(info.evidence, P4_SERVE_EVIDENCE_CCA);
        assert_int_equal(info.inputs, INPUTS);
        assert_int_equal(info.probabilities, allow);
        int labels[ROWS], got = -1;
        float probs[ROWS * CLASSES];
        memset(probs, 0, sizeof probs);
        /* 37 rows in requests of at most 16 */
        assert_int_equal(p4_query_classify(q, x, ROWS, INPUTS, labels, probs, &got, &err), P4_OK);
        assert_memory_equal(labels, local, sizeof labels);
        assert_int_equal(got, allow);
        for (int i = 0; i < ROWS * CLASSES; i++)
            assert_float_equal(probs[i], allow ? local_p[i] : 0.0f, 1e-6);
        p4_query_close(&q);
        p4_server_stats s;
        stop(&r, &s);
        assert_int_equal(s.attest_requests, 1);
        assert_int_equal(s.queries, 3);
        assert_int_equal(s.rows, ROWS);
        assert_int_equal(s.dropped, 0);
    }
    free(x);
    fixture_close(&f);
}

/* [p4] predict = ensemble: with a proxy saved beside the private model the
 * server answers (1 - w) p_private + w p_proxy; without the ensemble file
 * it answers with the private model alone; a damaged one is refused. */
static void an_ensemble_server_answers_with_both_models(void **state)
{
    const char *dir = *state;
    fixture f;
    fixture_open(&f, dir, 7);
    p4_error err = {0};
    p4_model *proxy = NULL;
    assert_int_equal(p4_model_new(&proxy, LOGREG, &gray28, 64, 11, &err), P4_OK);
    size_t n = p4_model_param_count(proxy);
    float *w = malloc(n * sizeof *w);
    assert_non_null(w);
    assert_int_equal(p4_model_get_params(proxy, w, n), P4_OK);
    assert_int_equal(p4_served_proxy_save(f.state, LOGREG, &gray28, w, n, 0.75, &err), P4_OK);
    float *x = random_inputs(3, ROWS);
    int private_labels[ROWS], want[ROWS];
    float pa[ROWS * CLASSES], pb[ROWS * CLASSES], mix[ROWS * CLASSES];
    assert_int_equal(p4_model_predict(f.ref, x, ROWS, pa, private_labels), P4_OK);
    assert_int_equal(p4_model_predict(proxy, x, ROWS, pb, NULL), P4_OK);
    assert_int_equal(p4_ensemble_combine(pa, pb, ROWS, CLASSES, 0.75, mix, want), P4_OK);
    assert_memory_not_equal(want, private_labels, sizeof want); /* the test can fail */
    for (int ensemble = 1; ensemble >= 0; ensemble--) {
        running r;
        start(&r, dir, f.state, RIM_OK, 1);
        p4_query_options o = client_of(&r, f.verifier);
        p4_query_session *q = NULL;
        p4_query_server_info info;
        p4_cca_verdict verdict;
        if (p4_query_open(&q, &o, &info, &verdict, &err) != P4_OK)
            fail_msg("p4_query_open: %s", err.message);
        int labels[ROWS], got = -1;
        float probs[ROWS * CLASSES];
        assert_int_equal(p4_query_classify(q, x, ROWS, INPUTS, labels, probs, &got, &err), P4_OK);
        assert_memory_equal(labels, ensemble ? want : private_labels, sizeof labels);
        for (int i = 0; i < ROWS * CLASSES; i++)
            assert_float_equal(probs[i], ensemble ? mix[i] : pa[i], 1e-6);
        p4_query_close(&q);
        p4_server_stats st;
        stop(&r, &st);
        /* predict = private after an ensemble run: the ensemble file goes */
        assert_int_equal(p4_served_proxy_save(f.state, NULL, NULL, NULL, 0, -1, &err), P4_OK);
    }
    char path[1300];
    snprintf(path, sizeof path, "%s/%s", f.state, P4_ENSEMBLE_NAME);
    const char *bad[] = {"proxy_weight 1.5\n", "proxy_weight 0.5", "weight 0.5\n", ""};
    for (size_t b = 0; b < sizeof bad / sizeof bad[0]; b++) {
        FILE *fp = fopen(path, "w");
        assert_non_null(fp);
        fputs(bad[b], fp);
        fclose(fp);
        p4_server *server = NULL;
        p4_server_options so = {.state_dir = f.state, .listen = "tcp://127.0.0.1:0"};
        assert_int_equal(p4_server_new(&server, &so, &err), P4_EFORMAT);
        assert_non_null(strstr(err.message, P4_ENSEMBLE_NAME));
        assert_null(server);
    }
    free(x);
    free(w);
    p4_model_destroy(&proxy);
    fixture_close(&f);
}

static void wrong_measurement_is_refused_before_any_input(void **state)
{
    const char *dir = *state;
    fixture f;
    fixture_open(&f, dir, 7);
    running r;
    start(&r, dir, f.state, RIM_BAD, 1);
    p4_query_options o = client_of(&r, f.verifier);
    p4_query_session *q = NULL;
    p4_cca_verdict verdict;
    p4_error err = {0};
    assert_int_equal(p4_query_open(&q, &o, NULL, &verdict, &err), P4_ECRYPTO);
    assert_null(q);
    assert_int_equal(verdict.failed, P4_CCA_FAILED_INITIAL_MEASUREMENT);
    assert_non_null(strstr(err.message, "refusing to send any input"));

    /* `p4 query` too: exit 1, the reason on stderr, nothing on stdout */
    const char *bin = getenv("P4_BIN");
    assert_non_null(bin);
    char input[1100], policy[1100], out[1100], errf[1100], key[P4_KEY_Z85_CHARS + 1];
    test_path_in(dir, "in.txt", input, sizeof input);
    float *x = random_inputs(3, 2);
    FILE *rows = fopen(input, "w");
    assert_non_null(rows);
    for (int i = 0; i < 2; i++)
        for (int k = 0; k < INPUTS; k++)
            fprintf(rows, "%g%c", (double)x[i * INPUTS + k], k + 1 < INPUTS ? ' ' : '\n');
    fclose(rows);
    char text[1400];
    snprintf(text, sizeof text, "[tee]\ncpak = %s/cpak.pub.pem\nrealm_initial_measurement = %s\n",
             dir, RIM_OK);
    test_write_text(dir, "policy.ini", text, policy, sizeof policy);
    test_path_in(dir, "query.out", out, sizeof out);
    test_path_in(dir, "query.err", errf, sizeof errf);
    p4_key_to_z85(r.key, key);
    char *argv[] = {(char *)bin, "query", "--server", (char *)p4_server_endpoint(r.server),
                    "--server-key", key, "--input", input, "--policy", policy, NULL};
    int pid = test_spawn(argv, out, errf);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    char *said = test_read_all(errf), *printed = test_read_all(out);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 1)
        fail_msg("p4 query exited with %#x, not 1:\n%s", status, said);
    assert_non_null(strstr(said, "initial-measurement"));
    assert_non_null(strstr(said, "refusing to send any input"));
    assert_string_equal(printed, "");

    p4_server_stats s;
    stop(&r, &s);
    assert_int_equal(s.attest_requests, 2); /* it was asked twice, and answered */
    assert_int_equal(s.queries, 0);         /* and never saw an input */
    assert_int_equal(s.rows, 0);
    free(said);
    free(printed);
    free(x);
    fixture_close(&f);
}

static void software_server_needs_the_insecure_flag(void **state)
{
    const char *dir = *state;
    fixture f;
    fixture_open(&f, dir, 9);
    running r;
    start(&r, dir, f.state, NULL, 0);
    p4_query_options o = client_of(&r, f.verifier);
    p4_query_session *q = NULL;
    p4_error err = {0};
    assert_int_equal(p4_query_open(&q, &o, NULL, NULL, &err), P4_EPEER);
    assert_non_null(strstr(err.message, "no attestation"));
    o.insecure_no_attestation = 1;
    p4_query_server_info info;
    assert_int_equal(p4_query_open(&q, &o, &info, NULL, &err), P4_OK);
    assert_int_equal(info.evidence, P4_SERVE_EVIDENCE_NONE);
    float *x = random_inputs(4, 3);
    int labels[3], local[3];
    assert_int_equal(p4_query_classify(q, x, 3, INPUTS, labels, NULL, NULL, &err), P4_OK);
    assert_int_equal(p4_model_predict(f.ref, x, 3, NULL, local), P4_OK);
    assert_memory_equal(labels, local, sizeof labels);
    p4_query_close(&q);
    p4_server_stats s;
    stop(&r, &s);
    assert_int_equal(s.queries, 1);
    free(x);
    fixture_close(&f);
}

/* ---- hostile bytes ---- */

/* Sends frames (count of them) on a raw CURVE DEALER and returns the
 * decoded reply's type (or -1: no reply within 10 s, -2: undecodable). */
static int raw_request(void *dealer, const void *const *frames, const size_t *sizes, int count,
                       p4_serve_message *reply)
{
    for (int i = 0; i < count; i++)
        assert_true(zmq_send(dealer, frames[i], sizes[i], i + 1 < count ? ZMQ_SNDMORE : 0) >= 0);
    zmq_pollitem_t item = {dealer, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&item, 1, 10000) <= 0)
        return -1;
    zmq_msg_t m;
    zmq_msg_init(&m);
    assert_true(zmq_msg_recv(&m, dealer, 0) >= 0);
    int rc = p4_serve_decode(zmq_msg_data(&m), zmq_msg_size(&m), reply, NULL);
    zmq_msg_close(&m);
    return rc == P4_OK ? reply->type : -2;
}

static void garbage_requests_are_dropped(void **state)
{
    const char *dir = *state;
    char st[1100];
    test_path_in(dir, "node", st, sizeof st);
    p4_model *ref = NULL;
    make_state(st, 11, &ref);
    running r;
    start(&r, dir, st, NULL, 0);

    void *ctx = zmq_ctx_new(), *dealer = zmq_socket(ctx, ZMQ_DEALER);
    char pub[41], sec[41];
    uint8_t pk[32], sk[32];
    assert_int_equal(zmq_curve_keypair(pub, sec), 0);
    zmq_z85_decode(pk, pub);
    zmq_z85_decode(sk, sec);
    assert_int_equal(p4_zmq_curve_client(dealer, pk, sk, r.key, NULL), P4_OK);
    int zero = 0;
    zmq_setsockopt(dealer, ZMQ_LINGER, &zero, sizeof zero);
    assert_int_equal(zmq_connect(dealer, p4_server_endpoint(r.server)), 0);

    p4_rng rng;
    p4_rng_init_seeded(&rng, 5, "garbage");
    uint8_t junk[300];
    p4_rng_bytes(&rng, junk, sizeof junk);
    /* a valid QUERY of 1 row, to cut, patch and resize */
    float *x = random_inputs(5, 1);
    p4_serve_message q = {.type = P4_SERVE_QUERY};
    q.body.query = (p4_serve_query){.rows = 1, .cols = INPUTS, .values = x};
    uint8_t *good = NULL;
    size_t good_len = 0;
    assert_int_equal(p4_serve_encode(&q, &good, &good_len, NULL), P4_OK);
    uint8_t *nan = malloc(good_len);
    memcpy(nan, good, good_len);
    memset(nan + good_len - 4, 0xff, 4); /* the last float: a NaN */
    q.body.query.cols = 100;             /* a width the model does not take */
    uint8_t *narrow = NULL;
    size_t narrow_len = 0;
    assert_int_equal(p4_serve_encode(&q, &narrow, &narrow_len, NULL), P4_OK);
    uint8_t answer[] = {'P', '4', 'Q', 1, P4_SERVE_ANSWER, 0, 0, 0, 0};
    uint8_t version2[] = {'P', '4', 'Q', 2, P4_SERVE_ATTEST_REQUEST};
    struct {
        const void *frames[2];
        size_t sizes[2];
        int count;
        const char *why;
    } cases[] = {
        {{junk}, {sizeof junk}, 1, "bad magic"},
        {{good}, {good_len - 7}, 1, "truncated"},
        {{nan}, {good_len}, 1, "not finite"},
        {{narrow}, {narrow_len}, 1, "takes 784 floats"},
        {{answer}, {sizeof answer}, 1, "ANSWER"},
        {{version2}, {sizeof version2}, 1, "version 2"},
        {{good, good}, {good_len, good_len}, 2, "one frame"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        p4_serve_message reply;
        int type = raw_request(dealer, cases[i].frames, cases[i].sizes, cases[i].count, &reply);
        if (type != P4_SERVE_ERROR)
            fail_msg("case %zu (%s): reply type %d, not ERROR", i, cases[i].why, type);
        if (strstr(reply.body.error.text, cases[i].why) == NULL)
            fail_msg("case %zu: ERROR '%s' lacks '%s'", i, reply.body.error.text, cases[i].why);
        p4_serve_message_clear(&reply);
    }
    /* and it still answers a good request */
    const void *frames[1] = {good};
    size_t sizes[1] = {good_len};
    p4_serve_message reply;
    assert_int_equal(raw_request(dealer, frames, sizes, 1, &reply), P4_SERVE_ANSWER);
    int local;
    assert_int_equal(p4_model_predict(ref, x, 1, NULL, &local), P4_OK);
    assert_int_equal(reply.body.answer.labels[0], local);
    p4_serve_message_clear(&reply);
    zmq_close(dealer);
    zmq_ctx_term(ctx);
    p4_server_stats s;
    stop(&r, &s);
    assert_int_equal(s.dropped, sizeof cases / sizeof cases[0]);
    assert_int_equal(s.queries, 1);
    free(good);
    free(nan);
    free(narrow);
    free(x);
    p4_model_destroy(&ref);
}

/* ---- inputs ---- */

static void input_formats(void **state)
{
    (void)state;
    float *v = NULL;
    size_t rows = 0, cols = 0;
    p4_error err = {0};
    const char *text = "# two rows\n0.5, 1 0\n\n1e-3\t2 ,3\n";
    assert_int_equal(p4_query_input_parse("t", (const uint8_t *)text, strlen(text), &v, &rows,
                                          &cols, &err), P4_OK);
    assert_int_equal(rows, 2);
    assert_int_equal(cols, 3);
    assert_float_equal(v[3], 1e-3, 1e-9);
    free(v);
    const char *ragged = "1 2 3\n4 5\n";
    assert_int_equal(p4_query_input_parse("r", (const uint8_t *)ragged, strlen(ragged), &v,
                                          &rows, &cols, &err), P4_EFORMAT);
    assert_non_null(strstr(err.message, "r:2"));
    const char *nan = "1 nan\n";
    assert_int_equal(p4_query_input_parse("n", (const uint8_t *)nan, strlen(nan), &v, &rows,
                                          &cols, &err), P4_EFORMAT);
    uint8_t idx[16 + 2 * 4] = {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 255, 0, 51};
    assert_int_equal(p4_query_input_parse("i", idx, sizeof idx, &v, &rows, &cols, &err), P4_OK);
    assert_int_equal(rows, 2);
    assert_int_equal(cols, 4);
    assert_float_equal(v[0], 1.0, 1e-7);
    assert_float_equal(v[2], 0.2, 1e-7);
    free(v);
    assert_int_equal(p4_query_input_parse("i", idx, sizeof idx - 1, &v, &rows, &cols, &err),
                     P4_EFORMAT);
}

/* ---- a real node's model ---- */

/* `p4 serve --config`: [serve] through config.c's key table (errors name the
 * file, line and key), [tee] as tee/cca/settings.c reads it, the rest of a
 * node's config skipped. */
static void serve_settings_come_from_the_key_table(void **state)
{
    const char *dir = *state;
    char path[1100];
    p4_serve_settings s;
    p4_error err = {0};
    /* a node's config with a [serve] section: the other sections are not read */
    test_write_text(dir, "node.ini",
                    "[data]\ndataset = nothing-known\n[mystery]\nx = 1\n"
                    "[serve]\nlisten = tcp://0.0.0.0:0\nprobabilities = true\nmax_rows = 1024\n"
                    "[tee]\nbackend = cca\nevidence = command\nevidence_command = /bin/true\n",
                    path, sizeof path);
    if (p4_serve_settings_load(path, &s, &err) != P4_OK)
        fail_msg("%s", err.message);
    assert_string_equal(s.listen, "tcp://0.0.0.0:0");
    assert_int_equal(s.probabilities, 1);
    assert_int_equal(s.max_rows, 1024);
    assert_string_equal(s.tee.backend, "cca");
    assert_string_equal(s.tee.evidence_command, "/bin/true");
    assert_int_equal(p4_serve_settings_attested(&s, &err), 1);
    /* no [serve]: the defaults */
    test_write_text(dir, "empty.ini", "[p4]\nrounds = 3\n", path, sizeof path);
    assert_int_equal(p4_serve_settings_load(path, &s, &err), P4_OK);
    assert_string_equal(s.listen, P4_SERVE_DEFAULT_LISTEN);
    assert_int_equal(s.probabilities, 0);
    assert_int_equal(s.max_rows, 256);
    assert_int_equal(p4_serve_settings_attested(&s, &err), 0);

    static const struct { const char *text, *message; } bad[] = {
        { "[serve]\nmax_rows = 0\n", "bad.ini:2: [serve] max_rows = 0: " },
        { "[serve]\nmax_rows = 1025\n", "1..1024" },
        { "[serve]\nprobabilities = maybe\n", "bad.ini:2: [serve] probabilities = maybe: " },
        { "[serve]\nlisten = udp://1.2.3.4:5\n", "must be tcp://ADDRESS:PORT" },
        { "[serve]\nlisten = tcp://1.2.3.4:70000\n", "0..65535" },
        { "[serve]\nport = 7\n", "unknown key (keys of [serve]: listen, probabilities, max_rows)" },
        { "[serve]\nmax_rows = 2\nmax_rows = 3\n", "duplicate key (first set on line 2)" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        test_write_text(dir, "bad.ini", bad[i].text, path, sizeof path);
        p4_error_clear(&err);
        assert_int_equal(p4_serve_settings_load(path, &s, &err), P4_ECONFIG);
        if (!strstr(err.message, bad[i].message))
            fail_msg("%s: '%s', want '%s'", bad[i].text, err.message, bad[i].message);
    }
    /* [tee] is still checked by its own reader */
    test_write_text(dir, "tee.ini", "[tee]\nbackend = optee\n", path, sizeof path);
    assert_int_equal(p4_serve_settings_load(path, &s, &err), P4_OK);
    assert_int_equal(p4_serve_settings_attested(&s, &err), P4_ECONFIG);
}

#define FMNIST "/usr/share/datasets/fashion-mnist"

static void finished_node_leaves_a_servable_model(void **state)
{
    const char *dir = *state;
    if (!test_dataset_path(FMNIST))
        TEST_SKIP(FMNIST " is absent");
    const char *bin = getenv("P4_BIN"), *src = getenv("P4_SOURCE_DIR");
    assert_non_null(bin);
    assert_non_null(src);
    char text[2048], config[1100], nodes[1100], out[1100], errf[1100];
    snprintf(text, sizeof text,
             "[data]\ndataset = fashion-mnist\npartition = clustered\nclients = 2\nclusters = 2\n"
             "cluster_classes = 0,1,2; 3,4,5\ntrain_per_client = 40\ntest_per_client = 40\n"
             "max_train = 3000\nmax_test = 1000\nseed = 5\n"
             "[model]\ncfg = %s/configs/models/mlp-28x28x1.cfg\n"
             "proxy_cfg = %s/configs/models/logreg-28x28x1.cfg\nbatch = 10\nseed = 5\n"
             "[dp]\ntarget_epsilon = 8\n[p4]\nrounds = 1\ngroup_size = 2\npredict = ensemble\n"
             "ensemble_weight = 0.25\n", src, src);
    test_write_text(dir, "two.ini", text, config, sizeof config);
    test_path_in(dir, "nodes", nodes, sizeof nodes);
    test_path_in(dir, "cluster.out", out, sizeof out);
    test_path_in(dir, "cluster.err", errf, sizeof errf);
    char *argv[] = {(char *)bin, "cluster", "--config", config, "--nodes", "2", "--state", nodes,
                    "--quiet", "--timeout", "300", NULL};
    int pid = test_spawn(argv, out, errf), status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        char *e = test_read_all(errf);
        fail_msg("p4 cluster failed (%#x):\n%s", status, e);
    }
    char node1[1200], weights[1300];
    snprintf(node1, sizeof node1, "%s/node-1", nodes);
    snprintf(weights, sizeof weights, "%s/%s", node1, P4_PRIVATE_WEIGHTS_NAME);
    struct stat sb;
    assert_int_equal(stat(weights, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    p4_model *m = NULL;
    p4_error err = {0};
    p4_cfg_shape shape;
    if (p4_private_model_load(node1, 4, &m, &shape, &err) != P4_OK)
        fail_msg("%s", err.message);
    assert_int_equal(shape.width * shape.height * shape.channels, INPUTS);
    assert_int_equal(p4_model_param_count(m), 784 * 200 + 200 + 200 * 200 + 200 + 200 * 10 + 10);
    p4_model_destroy(&m);
    /* predict = ensemble: the proxy and its weight beside it */
    double weight = -1;
    if (p4_served_proxy_load(node1, 4, &m, &weight, &shape, &err) != P4_OK)
        fail_msg("%s", err.message);
    assert_non_null(m);
    assert_true(weight == 0.25);
    assert_int_equal(p4_model_param_count(m), 784 * 10 + 10);
    p4_model_destroy(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(private_model_round_trip_and_damage, test_temp_dir_setup,
                                        test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(good_server_answers_like_local_inference,
                                        test_temp_dir_setup, test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(an_ensemble_server_answers_with_both_models,
                                        test_temp_dir_setup, test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(wrong_measurement_is_refused_before_any_input,
                                        test_temp_dir_setup, test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(software_server_needs_the_insecure_flag,
                                        test_temp_dir_setup, test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(garbage_requests_are_dropped, test_temp_dir_setup,
                                        test_temp_dir_teardown),
        cmocka_unit_test(input_formats),
        cmocka_unit_test_setup_teardown(serve_settings_come_from_the_key_table,
                                        test_temp_dir_setup, test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(finished_node_leaves_a_servable_model,
                                        test_temp_dir_setup, test_temp_dir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL); /* the macro already maps skips to 77 */
}
