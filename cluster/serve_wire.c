/* serve_wire.c: the inference service's codec; see serve_wire.h and
 * docs/serve.md.  One rule checker (check_message) serves both directions;
 * one writer walk (put_message) both measures and writes. */
#include "cluster/serve_wire.h"

#include <stdlib.h>
#include <string.h>

#include "common/finite.h"

static const uint8_t magic[3] = {'P', '4', 'Q'};

const char *p4_serve_type_name(int type)
{
    switch (type) {
    case P4_SERVE_ATTEST_REQUEST: return "ATTEST_REQUEST";
    case P4_SERVE_ATTEST_REPLY: return "ATTEST_REPLY";
    case P4_SERVE_QUERY: return "QUERY";
    case P4_SERVE_ANSWER: return "ANSWER";
    case P4_SERVE_ERROR: return "ERROR";
    default: return "unknown";
    }
}

/* ---- the rules ---- */

static int check_flag(uint8_t v, const char *what, p4_error *err)
{
    if (v > 1)
        return p4_error_set(err, P4_EFORMAT, "%s is %u (want 0 or 1)", what, v);
    return P4_OK;
}

static int check_reply(const p4_serve_attest_reply *r, p4_error *err)
{
    if (r->evidence > P4_SERVE_EVIDENCE_CCA)
        return p4_error_set(err, P4_EFORMAT, "ATTEST_REPLY: evidence kind %u (want 0 or 1)",
                            r->evidence);
    if (r->evidence == P4_SERVE_EVIDENCE_NONE && r->token_bytes != 0)
        return p4_error_set(err, P4_EFORMAT, "ATTEST_REPLY: %u token bytes with no evidence",
                            r->token_bytes);
    if (r->evidence == P4_SERVE_EVIDENCE_CCA &&
        (r->token_bytes < 1 || r->token_bytes > P4_SERVE_MAX_TOKEN))
        return p4_error_set(err, P4_EFORMAT, "ATTEST_REPLY: token of %u bytes (want 1..%d)",
                            r->token_bytes, P4_SERVE_MAX_TOKEN);
    if (r->token_bytes > 0 && r->token == NULL)
        return p4_error_set(err, P4_EINVAL, "ATTEST_REPLY: token bytes but no array");
    uint64_t inputs = (uint64_t)r->width * r->height * r->channels;
    if (inputs < 1 || inputs > P4_SERVE_MAX_COLS)
        return p4_error_set(err, P4_EFORMAT, "ATTEST_REPLY: input %ux%ux%u (want 1..%d floats)",
                            r->width, r->height, r->channels, P4_SERVE_MAX_COLS);
    if (r->classes < 2 || r->classes > P4_SERVE_MAX_CLASSES)
        return p4_error_set(err, P4_EFORMAT, "ATTEST_REPLY: %u classes (want 2..%d)", r->classes,
                            P4_SERVE_MAX_CLASSES);
    if (r->max_rows < 1 || r->max_rows > P4_SERVE_MAX_ROWS)
        return p4_error_set(err, P4_EFORMAT, "ATTEST_REPLY: max rows %u (want 1..%d)",
                            r->max_rows, P4_SERVE_MAX_ROWS);
    return check_flag(r->probabilities, "ATTEST_REPLY: probabilities", err);
}

static int check_query(const p4_serve_query *q, p4_error *err)
{
    int rc = check_flag(q->want_probabilities, "QUERY: want probabilities", err);
    if (rc != P4_OK)
        return rc;
    if (q->rows < 1 || q->rows > P4_SERVE_MAX_ROWS || q->cols < 1 || q->cols > P4_SERVE_MAX_COLS ||
        (uint64_t)q->rows * q->cols > P4_SERVE_MAX_QUERY_FLOATS)
        return p4_error_set(err, P4_EFORMAT, "QUERY: %u rows of %u floats (want 1..%d rows, "
                            "1..%d floats each, at most %u in all)", q->rows, q->cols,
                            P4_SERVE_MAX_ROWS, P4_SERVE_MAX_COLS, P4_SERVE_MAX_QUERY_FLOATS);
    if (q->values == NULL)
        return p4_error_set(err, P4_EINVAL, "QUERY: no values");
    size_t n = (size_t)q->rows * q->cols, i = p4_first_non_finite(q->values, n);
    if (i < n)
        return p4_error_set(err, P4_EFORMAT, "QUERY: value %zu is not finite", i);
    return P4_OK;
}

static int check_answer(const p4_serve_answer *a, p4_error *err)
{
    if (a->rows < 1 || a->rows > P4_SERVE_MAX_ROWS || a->classes < 2 ||
        a->classes > P4_SERVE_MAX_CLASSES)
        return p4_error_set(err, P4_EFORMAT, "ANSWER: %u rows of %u classes (want 1..%d, 2..%d)",
                            a->rows, a->classes, P4_SERVE_MAX_ROWS, P4_SERVE_MAX_CLASSES);
    if (a->labels == NULL || (a->has_probabilities == 1 && a->probabilities == NULL))
        return p4_error_set(err, P4_EINVAL, "ANSWER: missing arrays");
    for (uint32_t i = 0; i < a->rows; i++)
        if (a->labels[i] >= a->classes)
            return p4_error_set(err, P4_EFORMAT, "ANSWER: row %u has label %u of %u classes", i,
                                a->labels[i], a->classes);
    int rc = check_flag(a->has_probabilities, "ANSWER: has probabilities", err);
    if (rc != P4_OK || !a->has_probabilities)
        return rc;
    size_t n = (size_t)a->rows * a->classes;
    for (size_t i = 0; i < n; i++)
        if (!(a->probabilities[i] >= 0.0f && a->probabilities[i] <= 1.0f))
            return p4_error_set(err, P4_EFORMAT, "ANSWER: probability %zu is %g (want 0..1)", i,
                                (double)a->probabilities[i]);
    return P4_OK;
}

static int check_error(const p4_serve_error *e, p4_error *err)
{
    if (e->code < P4_SERVE_ERR_MALFORMED || e->code > P4_SERVE_ERR_INTERNAL)
        return p4_error_set(err, P4_EFORMAT, "ERROR: code %u (want 1..4)", e->code);
    size_t n = strnlen(e->text, sizeof e->text);
    if (n < 1 || n > P4_SERVE_MAX_TEXT)
        return p4_error_set(err, P4_EFORMAT, "ERROR: text of %zu bytes (want 1..%d)", n,
                            P4_SERVE_MAX_TEXT);
    for (size_t i = 0; i < n; i++)
        if (e->text[i] < 0x20 || e->text[i] > 0x7e)
            return p4_error_set(err, P4_EFORMAT, "ERROR: text byte %zu is not printable", i);
    return P4_OK;
}

static int check_message(const p4_serve_message *m, p4_error *err)
{
    switch (m->type) {
    case P4_SERVE_ATTEST_REQUEST: return P4_OK;
    case P4_SERVE_ATTEST_REPLY: return check_reply(&m->body.reply, err);
    case P4_SERVE_QUERY: return check_query(&m->body.query, err);
    case P4_SERVE_ANSWER: return check_answer(&m->body.answer, err);
    case P4_SERVE_ERROR: return check_error(&m->body.error, err);
    default: return p4_error_set(err, P4_EFORMAT, "unknown message type %u", m->type);
    }
}

/* ---- writing ---- */

typedef struct out {
    uint8_t *buf;     /* NULL: only count */
    size_t pos;
} out;

static void put(out *w, const void *src, size_t n)
{
    if (w->buf != NULL && n > 0)
        memcpy(w->buf + w->pos, src, n);
    w->pos += n;
}

static void put_u32(out *w, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    put(w, b, 4);
}

static void put_f32s(out *w, const float *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t bits;
        memcpy(&bits, &v[i], 4);
        put_u32(w, bits);
    }
}

static void put_message(out *w, const p4_serve_message *m)
{
    put(w, magic, 3);
    uint8_t head[2] = {P4_SERVE_VERSION, m->type};
    put(w, head, 2);
    switch (m->type) {
    case P4_SERVE_ATTEST_REQUEST: put(w, m->body.nonce, P4_SERVE_NONCE_BYTES); break;
    case P4_SERVE_ATTEST_REPLY: {
        const p4_serve_attest_reply *r = &m->body.reply;
        put(w, &r->evidence, 1);
        put_u32(w, r->width);
        put_u32(w, r->height);
        put_u32(w, r->channels);
        put_u32(w, r->classes);
        put_u32(w, r->max_rows);
        put(w, &r->probabilities, 1);
        put_u32(w, r->token_bytes);
        put(w, r->token, r->token_bytes);
        break;
    }
    case P4_SERVE_QUERY: {
        const p4_serve_query *q = &m->body.query;
        put(w, &q->want_probabilities, 1);
        put_u32(w, q->rows);
        put_u32(w, q->cols);
        put_f32s(w, q->values, (size_t)q->rows * q->cols);
        break;
    }
    case P4_SERVE_ANSWER: {
        const p4_serve_answer *a = &m->body.answer;
        put_u32(w, a->rows);
        put_u32(w, a->classes);
        for (uint32_t i = 0; i < a->rows; i++)
            put_u32(w, a->labels[i]);
        put(w, &a->has_probabilities, 1);
        if (a->has_probabilities)
            put_f32s(w, a->probabilities, (size_t)a->rows * a->classes);
        break;
    }
    case P4_SERVE_ERROR: {
        uint8_t n = (uint8_t)strnlen(m->body.error.text, sizeof m->body.error.text);
        put(w, &m->body.error.code, 1);
        put(w, &n, 1);
        put(w, m->body.error.text, n);
        break;
    }
    default: break;
    }
}

int p4_serve_encode(const p4_serve_message *m, uint8_t **buf, size_t *length, p4_error *err)
{
    if (m == NULL || buf == NULL || length == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_serve_encode: NULL argument");
    *buf = NULL;
    *length = 0;
    int rc = check_message(m, err);
    if (rc != P4_OK)
        return rc;
    out w = {NULL, 0};
    put_message(&w, m);
    if ((w.buf = malloc(w.pos)) == NULL)
        return p4_error_set(err, P4_ENOMEM, "out of memory for a %zu-byte %s", w.pos,
                            p4_serve_type_name(m->type));
    size_t size = w.pos;
    w.pos = 0;
    put_message(&w, m);
    *buf = w.buf;
    *length = size;
    return P4_OK;
}

/* ---- reading ---- */

typedef struct in {
    const uint8_t *p;
    size_t left;
    int short_read;
} in;

static const uint8_t *take(in *r, size_t n)
{
    if (r->short_read || n > r->left) {
        r->short_read = 1;
        return NULL;
    }
    const uint8_t *at = r->p;
    r->p += n;
    r->left -= n;
    return at;
}

static uint8_t get_u8(in *r)
{
    const uint8_t *b = take(r, 1);
    return b ? b[0] : 0;
}

static uint32_t get_u32(in *r)
{
    const uint8_t *b = take(r, 4);
    return b ? (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
                   (uint32_t)b[3] << 24
             : 0;
}

/* count floats into a fresh array; NULL when they are not all there (or no
 * memory: *nomem). */
static float *get_f32s(in *r, size_t count, int *nomem)
{
    if (count == 0 || count > r->left / 4) {
        r->short_read = 1;
        return NULL;
    }
    float *v = malloc(count * sizeof *v);
    if (v == NULL) {
        *nomem = 1;
        return NULL;
    }
    for (size_t i = 0; i < count; i++) {
        uint32_t bits = get_u32(r);
        memcpy(&v[i], &bits, 4);
    }
    return v;
}

static int read_body(in *r, p4_serve_message *m, p4_error *err)
{
    int nomem = 0;
    switch (m->type) {
    case P4_SERVE_ATTEST_REQUEST: {
        const uint8_t *b = take(r, P4_SERVE_NONCE_BYTES);
        if (b)
            memcpy(m->body.nonce, b, P4_SERVE_NONCE_BYTES);
        break;
    }
    case P4_SERVE_ATTEST_REPLY: {
        p4_serve_attest_reply *a = &m->body.reply;
        a->evidence = get_u8(r);
        a->width = get_u32(r);
        a->height = get_u32(r);
        a->channels = get_u32(r);
        a->classes = get_u32(r);
        a->max_rows = get_u32(r);
        a->probabilities = get_u8(r);
        a->token_bytes = get_u32(r);
        if (r->short_read || a->token_bytes == 0)
            break;
        if (a->token_bytes > P4_SERVE_MAX_TOKEN || a->token_bytes > r->left)
            return p4_error_set(err, P4_EFORMAT, "ATTEST_REPLY: token of %u bytes, %zu left "
                                "(limit %d)", a->token_bytes, r->left, P4_SERVE_MAX_TOKEN);
        const uint8_t *b = take(r, a->token_bytes);
        if ((a->token = malloc(a->token_bytes)) == NULL)
            return p4_error_set(err, P4_ENOMEM, "out of memory for a token");
        memcpy(a->token, b, a->token_bytes);
        break;
    }
    case P4_SERVE_QUERY: {
        p4_serve_query *q = &m->body.query;
        q->want_probabilities = get_u8(r);
        q->rows = get_u32(r);
        q->cols = get_u32(r);
        if (r->short_read)
            break;
        if (q->rows < 1 || q->rows > P4_SERVE_MAX_ROWS || q->cols < 1 ||
            q->cols > P4_SERVE_MAX_COLS || (uint64_t)q->rows * q->cols > P4_SERVE_MAX_QUERY_FLOATS)
            return check_query(q, err); /* names the limits */
        q->values = get_f32s(r, (size_t)q->rows * q->cols, &nomem);
        break;
    }
    case P4_SERVE_ANSWER: {
        p4_serve_answer *a = &m->body.answer;
        a->rows = get_u32(r);
        a->classes = get_u32(r);
        if (r->short_read)
            break;
        if (a->rows < 1 || a->rows > P4_SERVE_MAX_ROWS || a->classes < 2 ||
            a->classes > P4_SERVE_MAX_CLASSES || a->rows > r->left / 4)
            return p4_error_set(err, P4_EFORMAT, "ANSWER: %u rows of %u classes in %zu bytes "
                                "(want 1..%d rows, 2..%d classes)", a->rows, a->classes,
                                r->left, P4_SERVE_MAX_ROWS, P4_SERVE_MAX_CLASSES);
        if ((a->labels = malloc(a->rows * sizeof *a->labels)) == NULL)
            return p4_error_set(err, P4_ENOMEM, "out of memory for labels");
        for (uint32_t i = 0; i < a->rows; i++)
            a->labels[i] = get_u32(r);
        a->has_probabilities = get_u8(r);
        if (a->has_probabilities == 1 && !r->short_read)
            a->probabilities = get_f32s(r, (size_t)a->rows * a->classes, &nomem);
        break;
    }
    case P4_SERVE_ERROR: {
        m->body.error.code = get_u8(r);
        uint8_t n = get_u8(r);
        const uint8_t *b = take(r, n);
        if (b && memchr(b, 0, n) != NULL)
            return p4_error_set(err, P4_EFORMAT, "ERROR: text holds a NUL byte");
        if (b)
            memcpy(m->body.error.text, b, n);
        break;
    }
    default:
        return p4_error_set(err, P4_EFORMAT, "unknown message type %u", m->type);
    }
    if (nomem)
        return p4_error_set(err, P4_ENOMEM, "out of memory decoding a %s",
                            p4_serve_type_name(m->type));
    if (r->short_read)
        return p4_error_set(err, P4_EFORMAT, "%s: truncated", p4_serve_type_name(m->type));
    return P4_OK;
}

int p4_serve_decode(const uint8_t *bytes, size_t length, p4_serve_message *m, p4_error *err)
{
    if (m == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_serve_decode: NULL argument");
    memset(m, 0, sizeof *m);
    if (bytes == NULL || length < P4_SERVE_HEADER_BYTES)
        return p4_error_set(err, P4_EFORMAT, "message of %zu bytes (a header is %d)", length,
                            P4_SERVE_HEADER_BYTES);
    if (memcmp(bytes, magic, 3) != 0)
        return p4_error_set(err, P4_EFORMAT, "bad magic (not a p4 inference message)");
    if (bytes[3] != P4_SERVE_VERSION)
        return p4_error_set(err, P4_EUNSUPPORTED, "inference protocol version %u (this p4 "
                            "speaks %d)", bytes[3], P4_SERVE_VERSION);
    m->type = bytes[4];
    in r = {bytes + P4_SERVE_HEADER_BYTES, length - P4_SERVE_HEADER_BYTES, 0};
    int rc = read_body(&r, m, err);
    if (rc == P4_OK && r.left != 0)
        rc = p4_error_set(err, P4_EFORMAT, "%s: %zu trailing bytes", p4_serve_type_name(m->type),
                          r.left);
    if (rc == P4_OK)
        rc = check_message(m, err);
    if (rc != P4_OK)
        p4_serve_message_clear(m);
    return rc;
}

void p4_serve_message_clear(p4_serve_message *m)
{
    if (m == NULL)
        return;
    if (m->type == P4_SERVE_ATTEST_REPLY)
        free(m->body.reply.token);
    else if (m->type == P4_SERVE_QUERY)
        free(m->body.query.values);
    else if (m->type == P4_SERVE_ANSWER) {
        free(m->body.answer.labels);
        free(m->body.answer.probabilities);
    }
    memset(m, 0, sizeof *m);
}
