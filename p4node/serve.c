/* serve.c: the inference server; see serve.h and docs/serve.md. */
#include "p4node/serve.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "cluster/serve_wire.h"
#include "cluster/zmq_curve.h"
#include "distill/ensemble.h"
#include "model/model.h"
#include "p4node/private_model.h"

#define DEFAULT_MAX_ROWS 256
#define POLL_MS 100

struct p4_server {
    p4_identity identity;
    p4_model *model;
    p4_model *proxy;              /* [p4] predict = ensemble, else NULL */
    double proxy_weight;
    float *proxy_probs;           /* max_rows x classes, with proxy */
    p4_cfg_shape shape;
    int inputs;
    int probabilities;
    int max_rows;
    p4_cca_evidence *evidence;
    FILE *log;
    void *ctx;
    void *router;
    char endpoint[256];
    float *probs;                 /* max_rows x classes */
    int *labels;                  /* max_rows */
    atomic_uint_least64_t attest_requests, queries, rows, dropped;
};

int p4_server_new(p4_server **out, const p4_server_options *o, p4_error *err)
{
    if (out == NULL || o == NULL || o->state_dir == NULL || o->listen == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_server_new: NULL argument");
    *out = NULL;
    if (o->max_rows < 0 || o->max_rows > P4_SERVE_MAX_ROWS)
        return p4_error_set(err, P4_EINVAL, "max rows %d (want 1..%d)", o->max_rows,
                            P4_SERVE_MAX_ROWS);
    p4_server *s = calloc(1, sizeof *s);
    if (s == NULL)
        return p4_error_set(err, P4_ENOMEM, "out of memory for the server");
    s->probabilities = o->probabilities != 0;
    s->max_rows = o->max_rows > 0 ? o->max_rows : DEFAULT_MAX_ROWS;
    s->evidence = o->evidence;
    s->log = o->log != NULL ? o->log : stderr;
    p4_cfg_shape proxy_shape = {0};
    int rc = p4_private_model_load(o->state_dir, s->max_rows, &s->model, &s->shape, err);
    if (rc == P4_OK) {
        s->inputs = s->shape.width * s->shape.height * s->shape.channels;
        if (s->inputs > P4_SERVE_MAX_COLS || s->shape.classes > P4_SERVE_MAX_CLASSES)
            rc = p4_error_set(err, P4_EMODEL, "the model's %d inputs or %d classes exceed what "
                              "the service carries (%d, %d)", s->inputs, s->shape.classes,
                              P4_SERVE_MAX_COLS, P4_SERVE_MAX_CLASSES);
    }
    if (rc == P4_OK)
        rc = p4_served_proxy_load(o->state_dir, s->max_rows, &s->proxy, &s->proxy_weight,
                                  &proxy_shape, err);
    if (rc == P4_OK && s->proxy && memcmp(&proxy_shape, &s->shape, sizeof proxy_shape) != 0)
        rc = p4_error_set(err, P4_EMODEL, "the saved proxy's input shape or classes differ "
                          "from the private model's");
    if (rc == P4_OK) {
        size_t floats = (size_t)s->max_rows * s->shape.classes;
        s->probs = malloc(floats * sizeof *s->probs);
        s->labels = malloc((size_t)s->max_rows * sizeof *s->labels);
        if (s->proxy)
            s->proxy_probs = malloc(floats * sizeof *s->proxy_probs);
        if (s->probs == NULL || s->labels == NULL || (s->proxy && s->proxy_probs == NULL))
            rc = p4_error_set(err, P4_ENOMEM, "out of memory for answers");
    }
    if (rc == P4_OK)
        rc = p4_identity_load_or_create(o->state_dir, &s->identity, NULL, err);
    if (rc == P4_OK && !zmq_has("curve"))
        rc = p4_error_set(err, P4_EUNSUPPORTED, "this libzmq was built without CURVE");
    if (rc == P4_OK && (s->ctx = zmq_ctx_new()) == NULL)
        rc = p4_error_set(err, P4_ENET, "ZeroMQ context: %s", zmq_strerror(zmq_errno()));
    if (rc == P4_OK && (s->router = zmq_socket(s->ctx, ZMQ_ROUTER)) == NULL)
        rc = p4_error_set(err, P4_ENET, "ROUTER socket: %s", zmq_strerror(zmq_errno()));
    if (rc == P4_OK) {
        int64_t max = P4_SERVE_MAX_REQUEST_BYTES;
        int zero = 0, hwm = 64;
        if (zmq_setsockopt(s->router, ZMQ_MAXMSGSIZE, &max, sizeof max) != 0 ||
            zmq_setsockopt(s->router, ZMQ_LINGER, &zero, sizeof zero) != 0 ||
            zmq_setsockopt(s->router, ZMQ_RCVHWM, &hwm, sizeof hwm) != 0)
            rc = p4_error_set(err, P4_ENET, "ROUTER options: %s", zmq_strerror(zmq_errno()));
    }
    if (rc == P4_OK)
        rc = p4_zmq_curve_server(s->router, &s->identity, NULL, err);
    if (rc == P4_OK)
        rc = p4_zmq_bind(s->router, o->listen, s->endpoint, sizeof s->endpoint, err);
    if (rc != P4_OK) {
        p4_server_destroy(&s);
        return rc;
    }
    *out = s;
    return P4_OK;
}

void p4_server_destroy(p4_server **server)
{
    if (server == NULL || *server == NULL)
        return;
    p4_server *s = *server;
    if (s->router != NULL)
        zmq_close(s->router);
    if (s->ctx != NULL)
        while (zmq_ctx_term(s->ctx) != 0 && zmq_errno() == EINTR) {
        }
    p4_model_destroy(&s->model);
    p4_model_destroy(&s->proxy);
    free(s->proxy_probs);
    p4_identity_wipe(&s->identity);
    free(s->probs);
    free(s->labels);
    free(s);
    *server = NULL;
}

const char *p4_server_endpoint(const p4_server *s) { return s ? s->endpoint : NULL; }

void p4_server_public_key(const p4_server *s, uint8_t key[P4_KEY_BYTES])
{
    if (s != NULL && key != NULL)
        memcpy(key, s->identity.public_key, P4_KEY_BYTES);
}

void p4_server_shape(const p4_server *s, int *inputs, int *classes)
{
    if (inputs != NULL)
        *inputs = s ? s->inputs : 0;
    if (classes != NULL)
        *classes = s ? s->shape.classes : 0;
}

void p4_server_get_stats(const p4_server *s, p4_server_stats *out)
{
    if (s == NULL || out == NULL)
        return;
    out->attest_requests = atomic_load(&s->attest_requests);
    out->queries = atomic_load(&s->queries);
    out->rows = atomic_load(&s->rows);
    out->dropped = atomic_load(&s->dropped);
}

/* ---- one request ---- */

/* Sends m to the client routed by `routing`; a failure is logged only (the
 * client may be gone). */
static void reply(p4_server *s, zmq_msg_t *routing, const p4_serve_message *m)
{
    uint8_t *bytes = NULL;
    size_t len = 0;
    p4_error err = {0};
    if (p4_serve_encode(m, &bytes, &len, &err) != P4_OK) {
        fprintf(s->log, "p4 serve: cannot encode a %s: %s\n", p4_serve_type_name(m->type),
                err.message);
        return;
    }
    if (zmq_send(s->router, zmq_msg_data(routing), zmq_msg_size(routing),
                 ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(s->router, bytes, len, ZMQ_DONTWAIT) < 0)
        fprintf(s->log, "p4 serve: reply not sent: %s\n", zmq_strerror(zmq_errno()));
    free(bytes);
}

static void reply_error(p4_server *s, zmq_msg_t *routing, const char *client, uint8_t code,
                        const char *why)
{
    atomic_fetch_add(&s->dropped, 1);
    fprintf(s->log, "p4 serve: dropped a request from %s: %s\n", client, why);
    fflush(s->log);
    p4_serve_message m = {.type = P4_SERVE_ERROR};
    m.body.error.code = code;
    size_t n = 0;
    for (const char *p = why; *p != '\0' && n < P4_SERVE_MAX_TEXT; p++)
        m.body.error.text[n++] = (*p >= 0x20 && *p <= 0x7e) ? *p : '?';
    if (n == 0)
        m.body.error.text[n++] = '?';
    reply(s, routing, &m);
}

static void answer_attestation(p4_server *s, zmq_msg_t *routing, const char *client,
                               const uint8_t nonce[P4_SERVE_NONCE_BYTES])
{
    p4_serve_message m = {.type = P4_SERVE_ATTEST_REPLY};
    p4_serve_attest_reply *r = &m.body.reply;
    r->width = (uint32_t)s->shape.width;
    r->height = (uint32_t)s->shape.height;
    r->channels = (uint32_t)s->shape.channels;
    r->classes = (uint32_t)s->shape.classes;
    r->max_rows = (uint32_t)s->max_rows;
    r->probabilities = (uint8_t)s->probabilities;
    uint8_t *token = NULL;
    size_t token_len = 0;
    if (s->evidence != NULL) {
        /* A fresh token per request, bound to our key and this nonce. */
        p4_error err = {0};
        if (p4_cca_evidence_answer(s->evidence, s->identity.public_key, nonce, &token,
                                   &token_len, &err) != P4_OK) {
            reply_error(s, routing, client, P4_SERVE_ERR_EVIDENCE, err.message);
            return;
        }
        if (token_len < 1 || token_len > P4_SERVE_MAX_TOKEN) {
            free(token);
            reply_error(s, routing, client, P4_SERVE_ERR_EVIDENCE,
                        "the evidence source gave a token of an impossible size");
            return;
        }
        r->evidence = P4_SERVE_EVIDENCE_CCA;
        r->token = token;
        r->token_bytes = (uint32_t)token_len;
    }
    atomic_fetch_add(&s->attest_requests, 1);
    reply(s, routing, &m);
    free(token);
}

/* The private model's answer, or the ensemble's with a saved proxy. */
static int predict(p4_server *s, const float *x, int rows)
{
    if (!s->proxy)
        return p4_model_predict(s->model, x, rows, s->probs, s->labels);
    int rc = p4_model_predict(s->model, x, rows, s->probs, NULL);
    if (rc == P4_OK)
        rc = p4_model_predict(s->proxy, x, rows, s->proxy_probs, NULL);
    if (rc == P4_OK)
        rc = p4_ensemble_combine(s->probs, s->proxy_probs, rows, s->shape.classes,
                                 s->proxy_weight, s->probs, s->labels);
    return rc;
}

static void answer_query(p4_server *s, zmq_msg_t *routing, const char *client,
                         const p4_serve_query *q)
{
    if ((int)q->cols != s->inputs || (int)q->rows > s->max_rows) {
        char why[160];
        snprintf(why, sizeof why, "QUERY of %u rows of %u floats: this model takes %d floats "
                 "per row, at most %d rows", q->rows, q->cols, s->inputs, s->max_rows);
        reply_error(s, routing, client, P4_SERVE_ERR_SHAPE, why);
        return;
    }
    if (predict(s, q->values, (int)q->rows) != P4_OK) {
        reply_error(s, routing, client, P4_SERVE_ERR_INTERNAL, "the model failed to predict");
        return;
    }
    p4_serve_message m = {.type = P4_SERVE_ANSWER};
    p4_serve_answer *a = &m.body.answer;
    a->rows = q->rows;
    a->classes = (uint32_t)s->shape.classes;
    uint32_t labels[P4_SERVE_MAX_ROWS];
    for (uint32_t i = 0; i < q->rows; i++)
        labels[i] = (uint32_t)s->labels[i];
    a->labels = labels;
    if (q->want_probabilities && s->probabilities) {
        a->has_probabilities = 1;
        a->probabilities = s->probs;
    }
    atomic_fetch_add(&s->queries, 1);
    atomic_fetch_add(&s->rows, q->rows);
    reply(s, routing, &m);
}

/* Reads one ROUTER message (routing id + frames) and answers it. */
static int serve_one(p4_server *s, p4_error *err)
{
    zmq_msg_t frames[2];
    int extra = 0;
    int n = p4_zmq_recv_frames(s->router, frames, 2, &extra, err);
    if (n <= 0)
        return n;
    char client[P4_KEY_Z85_CHARS + 1] = "an unknown client";
    if (n == 2) {
        const char *user = zmq_msg_gets(&frames[1], "User-Id");
        uint8_t key[P4_KEY_BYTES];
        /* libzmq without a ZAP handler gives no User-Id: name the address. */
        const char *peer = zmq_msg_gets(&frames[1], "Peer-Address");
        if (user != NULL && p4_key_from_z85(user, key, NULL) == P4_OK)
            snprintf(client, sizeof client, "%s", user);
        else if (peer != NULL)
            snprintf(client, sizeof client, "%s", peer);
    }
    if (n < 2 || extra > 0) {
        if (n >= 1)
            reply_error(s, &frames[0], client, P4_SERVE_ERR_MALFORMED,
                        "want exactly one frame per request");
    } else {
        p4_serve_message m;
        p4_error why = {0};
        if (p4_serve_decode(zmq_msg_data(&frames[1]), zmq_msg_size(&frames[1]), &m, &why) !=
            P4_OK) {
            reply_error(s, &frames[0], client, P4_SERVE_ERR_MALFORMED, why.message);
        } else {
            if (m.type == P4_SERVE_ATTEST_REQUEST)
                answer_attestation(s, &frames[0], client, m.body.nonce);
            else if (m.type == P4_SERVE_QUERY)
                answer_query(s, &frames[0], client, &m.body.query);
            else
                reply_error(s, &frames[0], client, P4_SERVE_ERR_MALFORMED,
                            "not a request (a reply sent to the server)");
            p4_serve_message_clear(&m);
        }
    }
    for (int i = 0; i < n; i++)
        zmq_msg_close(&frames[i]);
    return P4_OK;
}

int p4_server_run(p4_server *s, const volatile sig_atomic_t *stop, p4_error *err)
{
    if (s == NULL || stop == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_server_run: NULL argument");
    while (!*stop) {
        zmq_pollitem_t item = {s->router, 0, ZMQ_POLLIN, 0};
        int ready = zmq_poll(&item, 1, POLL_MS);
        if (ready < 0) {
            if (zmq_errno() == EINTR)
                continue;
            return p4_error_set(err, P4_ENET, "p4 serve: poll: %s", zmq_strerror(zmq_errno()));
        }
        if (ready > 0) {
            int rc = serve_one(s, err);
            if (rc != P4_OK)
                return rc;
        }
    }
    return P4_OK;
}
