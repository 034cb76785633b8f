/* query.c: the inference client; see query.h. */
#include "p4node/query.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "cluster/zmq_curve.h"
#include "common/rng.h"

struct p4_query_session {
    void *ctx, *dealer;
    int timeout_ms;
    p4_query_server_info info;
};

void p4_query_close(p4_query_session **session)
{
    if (session == NULL || *session == NULL)
        return;
    p4_query_session *q = *session;
    if (q->dealer != NULL)
        zmq_close(q->dealer);
    if (q->ctx != NULL)
        while (zmq_ctx_term(q->ctx) != 0 && zmq_errno() == EINTR) {
        }
    free(q);
    *session = NULL;
}

/* Sends m and waits for one decoded reply (an ERROR becomes P4_EPEER). */
static int exchange(p4_query_session *q, const p4_serve_message *m, p4_serve_message *reply,
                    p4_error *err)
{
    uint8_t *bytes = NULL;
    size_t len = 0;
    int rc = p4_serve_encode(m, &bytes, &len, err);
    if (rc != P4_OK)
        return rc;
    int sent = zmq_send(q->dealer, bytes, len, 0);
    free(bytes);
    if (sent < 0)
        return p4_error_set(err, P4_ENET, "cannot send a %s: %s", p4_serve_type_name(m->type),
                            zmq_strerror(zmq_errno()));
    zmq_pollitem_t item = {q->dealer, 0, ZMQ_POLLIN, 0};
    int ready;
    while ((ready = zmq_poll(&item, 1, q->timeout_ms)) < 0 && zmq_errno() == EINTR) {
    }
    if (ready <= 0)
        return p4_error_set(err, P4_ETIMEOUT, "no answer to the %s within %d ms (server down, "
                            "or the wrong server key: the CURVE handshake fails silently)",
                            p4_serve_type_name(m->type), q->timeout_ms);
    zmq_msg_t frame;
    zmq_msg_init(&frame);
    if (zmq_msg_recv(&frame, q->dealer, 0) < 0) {
        zmq_msg_close(&frame);
        return p4_error_set(err, P4_ENET, "receive: %s", zmq_strerror(zmq_errno()));
    }
    int more = zmq_msg_more(&frame);
    rc = more ? p4_error_set(err, P4_EFORMAT, "the server's reply has several frames")
              : p4_serve_decode(zmq_msg_data(&frame), zmq_msg_size(&frame), reply, err);
    zmq_msg_close(&frame);
    while (more) { /* drain a malformed multi-frame reply */
        zmq_msg_init(&frame);
        if (zmq_msg_recv(&frame, q->dealer, 0) < 0)
            more = 0;
        else
            more = zmq_msg_more(&frame);
        zmq_msg_close(&frame);
    }
    if (rc != P4_OK)
        return p4_error_set(err, rc, "the server's reply: %s", err ? err->message : "");
    if (reply->type == P4_SERVE_ERROR) {
        rc = p4_error_set(err, P4_EPEER, "the server refused: %s", reply->body.error.text);
        p4_serve_message_clear(reply);
    }
    return rc;
}

static int connect_session(p4_query_session *q, const p4_query_options *o, p4_error *err)
{
    if ((q->ctx = zmq_ctx_new()) == NULL || (q->dealer = zmq_socket(q->ctx, ZMQ_DEALER)) == NULL)
        return p4_error_set(err, P4_ENET, "ZeroMQ socket: %s", zmq_strerror(zmq_errno()));
    /* A key pair for this session only: the server needs none of ours. */
    char pub_z85[P4_KEY_Z85_CHARS + 1], sec_z85[P4_KEY_Z85_CHARS + 1];
    uint8_t pub[P4_KEY_BYTES], sec[P4_KEY_BYTES];
    if (zmq_curve_keypair(pub_z85, sec_z85) != 0)
        return p4_error_set(err, P4_ECRYPTO, "cannot make a CURVE key pair: %s",
                            zmq_strerror(zmq_errno()));
    zmq_z85_decode(pub, pub_z85);
    zmq_z85_decode(sec, sec_z85);
    int rc = p4_zmq_curve_client(q->dealer, pub, sec, o->server_key, err);
    memset(sec_z85, 0, sizeof sec_z85);
    memset(sec, 0, sizeof sec);
    if (rc != P4_OK)
        return rc;
    int64_t max = P4_SERVE_MAX_REPLY_BYTES;
    int zero = 0;
    if (zmq_setsockopt(q->dealer, ZMQ_MAXMSGSIZE, &max, sizeof max) != 0 ||
        zmq_setsockopt(q->dealer, ZMQ_LINGER, &zero, sizeof zero) != 0)
        return p4_error_set(err, P4_ENET, "DEALER options: %s", zmq_strerror(zmq_errno()));
    if (zmq_connect(q->dealer, o->server) != 0)
        return p4_error_set(err, P4_EINVAL, "cannot connect to '%s': %s", o->server,
                            zmq_strerror(zmq_errno()));
    return P4_OK;
}

static int attest(p4_query_session *q, const p4_query_options *o, p4_cca_verdict *verdict,
                  p4_error *err)
{
    p4_serve_message m = {.type = P4_SERVE_ATTEST_REQUEST}, r;
    p4_rng rng;
    if (p4_rng_init_secure(&rng) != P4_OK)
        return p4_error_set(err, P4_ECRYPTO, "the OS random generator failed");
    p4_rng_bytes(&rng, m.body.nonce, P4_SERVE_NONCE_BYTES); /* fresh: never reused */
    p4_rng_wipe(&rng);
    int rc = exchange(q, &m, &r, err);
    if (rc != P4_OK)
        return rc;
    if (r.type != P4_SERVE_ATTEST_REPLY) {
        rc = p4_error_set(err, P4_EPEER, "the server answered the attestation request with a "
                          "%s", p4_serve_type_name(r.type));
        p4_serve_message_clear(&r);
        return rc;
    }
    const p4_serve_attest_reply *a = &r.body.reply;
    q->info = (p4_query_server_info){
        .evidence = a->evidence, .classes = (int)a->classes, .max_rows = (int)a->max_rows,
        .probabilities = a->probabilities, .token_bytes = a->token_bytes,
        .inputs = (int)(a->width * a->height * a->channels)};
    if (a->evidence == P4_SERVE_EVIDENCE_NONE) {
        if (!o->insecure_no_attestation)
            rc = p4_error_set(err, P4_EPEER, "the server has no attestation (software backend: "
                              "no hardware protection); refusing to send any input "
                              "(--insecure-no-attestation accepts it)");
    } else if (o->verifier == NULL) {
        rc = p4_error_set(err, P4_ECONFIG, "the server sent a CCA token but no policy was "
                          "given to check it against (--policy, --cpak)");
    } else {
        p4_error why = {0};
        p4_cca_verdict v = {0};
        rc = p4_cca_verifier_check(o->verifier, a->token, a->token_bytes, o->server_key,
                                   m.body.nonce, &v, &why);
        if (verdict != NULL)
            *verdict = v;
        if (rc != P4_OK)
            rc = p4_error_set(err, rc, "the server's attestation failed (%s): %s; refusing to "
                              "send any input", p4_cca_check_name(v.failed), why.message);
    }
    p4_serve_message_clear(&r);
    return rc;
}

int p4_query_open(p4_query_session **out, const p4_query_options *o, p4_query_server_info *info,
                  p4_cca_verdict *verdict, p4_error *err)
{
    if (out == NULL || o == NULL || o->server == NULL || o->server_key == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_query_open: NULL argument");
    *out = NULL;
    if (o->verifier == NULL && !o->insecure_no_attestation)
        return p4_error_set(err, P4_ECONFIG, "no policy to check the server's attestation "
                            "against (--policy FILE with [tee] cpak and "
                            "realm_initial_measurement)");
    p4_query_session *q = calloc(1, sizeof *q);
    if (q == NULL)
        return p4_error_set(err, P4_ENOMEM, "out of memory");
    q->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 10000;
    int rc = connect_session(q, o, err);
    if (rc == P4_OK)
        rc = attest(q, o, verdict, err);
    if (rc != P4_OK) {
        p4_query_close(&q);
        return rc;
    }
    if (info != NULL)
        *info = q->info;
    *out = q;
    return P4_OK;
}

int p4_query_classify(p4_query_session *q, const float *values, size_t rows, size_t cols,
                      int *labels, float *probabilities, int *got_probabilities, p4_error *err)
{
    if (q == NULL || values == NULL || labels == NULL || rows == 0)
        return p4_error_set(err, P4_EINVAL, "p4_query_classify: bad arguments");
    if (got_probabilities != NULL)
        *got_probabilities = 0;
    if (cols != (size_t)q->info.inputs)
        return p4_error_set(err, P4_EINVAL, "inputs of %zu floats; the server's model takes %d",
                            cols, q->info.inputs);
    int want = probabilities != NULL && q->info.probabilities;
    int got_all = want;
    for (size_t start = 0; start < rows; start += (size_t)q->info.max_rows) {
        size_t n = rows - start < (size_t)q->info.max_rows ? rows - start
                                                            : (size_t)q->info.max_rows;
        p4_serve_message m = {.type = P4_SERVE_QUERY}, r;
        m.body.query = (p4_serve_query){.want_probabilities = (uint8_t)want,
                                        .rows = (uint32_t)n, .cols = (uint32_t)cols,
                                        .values = (float *)(values + start * cols)};
        int rc = exchange(q, &m, &r, err);
        if (rc != P4_OK)
            return rc;
        const p4_serve_answer *a = &r.body.answer;
        if (r.type != P4_SERVE_ANSWER || a->rows != n || (int)a->classes != q->info.classes) {
            rc = p4_error_set(err, P4_EPEER, "the server's answer does not match the query");
            p4_serve_message_clear(&r);
            return rc;
        }
        for (size_t i = 0; i < n; i++)
            labels[start + i] = (int)a->labels[i];
        if (want && a->has_probabilities)
            memcpy(probabilities + start * (size_t)q->info.classes, a->probabilities,
                   n * (size_t)q->info.classes * sizeof(float));
        got_all = got_all && a->has_probabilities;
        p4_serve_message_clear(&r);
    }
    if (got_probabilities != NULL)
        *got_probabilities = got_all;
    return P4_OK;
}
