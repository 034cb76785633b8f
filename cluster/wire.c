/* wire.c: the message codec; see wire.h and docs/protocol.md.
 *
 * One rule checker (check_message) serves both directions: the encoder runs
 * it before writing, the decoder after reading the structure.  One writer
 * walk (put_message) both measures (no buffer) and writes. */
#include "cluster/wire.h"

#include <stdlib.h>
#include <string.h>

#include "common/finite.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#define P4_WIRE_SWAP 1 /* big-endian host: swap each scalar */
#endif

static const uint8_t magic[2] = {'P', '4'};

const char *p4_wire_type_name(int type)
{
    switch (type) {
    case P4_WIRE_HELLO: return "HELLO";
    case P4_WIRE_MEMBERS: return "MEMBERS";
    case P4_WIRE_HEARTBEAT: return "HEARTBEAT";
    case P4_WIRE_SLICE: return "SLICE";
    case P4_WIRE_DIGEST: return "DIGEST";
    case P4_WIRE_PROXY: return "PROXY";
    case P4_WIRE_LOGITS: return "LOGITS";
    case P4_WIRE_DONE: return "DONE";
    case P4_WIRE_BYE: return "BYE";
    case P4_WIRE_VIEW: return "VIEW";
    case P4_WIRE_EVIDENCE: return "EVIDENCE";
    case P4_WIRE_COMMIT: return "COMMIT";
    case P4_WIRE_ECHO: return "ECHO";
    default: return "unknown";
    }
}

/* ---- the rules, shared by encoder and decoder ---- */

static int check_endpoint(const char *text, size_t length, const char *what, p4_error *err)
{
    if (length == 0 || length > P4_WIRE_MAX_ENDPOINT)
        return p4_error_set(err, P4_EFORMAT, "%s: endpoint of %zu bytes (want 1..%d)", what,
                            length, P4_WIRE_MAX_ENDPOINT);
    for (size_t i = 0; i < length; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c <= 0x20 || c >= 0x7f)
            return p4_error_set(err, P4_EFORMAT,
                                "%s: endpoint byte %zu is 0x%02x (want printable ASCII)", what,
                                i, c);
    }
    return P4_OK;
}

static int check_floats(const float *values, size_t count, const char *what, p4_error *err)
{
    if (count > 0 && values == NULL)
        return p4_error_set(err, P4_EINVAL, "%s: %zu values but no array", what, count);
    size_t i = p4_first_non_finite(values, count);
    if (i < count)
        return p4_error_set(err, P4_EFORMAT, "%s: value %zu is not finite (%g)", what, i,
                            (double)values[i]);
    return P4_OK;
}

static int check_hello(const p4_wire_message *m, p4_error *err)
{
    const p4_wire_hello *h = &m->body.hello;
    if (h->node_id != m->header.sender_id)
        return p4_error_set(err, P4_EFORMAT, "HELLO: node id %u differs from sender id %u",
                            h->node_id, m->header.sender_id);
    if (h->clients < 1 || h->clients > P4_WIRE_MAX_NODES || h->node_id >= h->clients)
        return p4_error_set(err, P4_EFORMAT, "HELLO: %u clients for node %u (want %u < clients <= %d)",
                            h->clients, h->node_id, h->node_id, P4_WIRE_MAX_NODES);
    int rc = check_endpoint(h->endpoint, strnlen(h->endpoint, sizeof h->endpoint), "HELLO", err);
    if (rc != P4_OK)
        return rc;
    if (h->evidence_bytes > P4_WIRE_MAX_EVIDENCE)
        return p4_error_set(err, P4_EFORMAT, "HELLO: %u bytes of evidence (limit %d)",
                            h->evidence_bytes, P4_WIRE_MAX_EVIDENCE);
    if (h->evidence_bytes > 0 && h->evidence == NULL)
        return p4_error_set(err, P4_EINVAL, "HELLO: %u bytes of evidence but no array",
                            h->evidence_bytes);
    return P4_OK;
}

static int check_evidence(const p4_wire_evidence *e, p4_error *err)
{
    if (e->token_bytes < 1 || e->token_bytes > P4_WIRE_MAX_EVIDENCE)
        return p4_error_set(err, P4_EFORMAT, "EVIDENCE: token of %u bytes (want 1..%d)",
                            e->token_bytes, P4_WIRE_MAX_EVIDENCE);
    if (e->token == NULL)
        return p4_error_set(err, P4_EINVAL, "EVIDENCE: %u token bytes but no array",
                            e->token_bytes);
    return P4_OK;
}

static int check_members(const p4_wire_members *ms, p4_error *err)
{
    if (ms->count > P4_WIRE_MAX_NODES)
        return p4_error_set(err, P4_EFORMAT, "MEMBERS: %u entries (limit %d)", ms->count,
                            P4_WIRE_MAX_NODES);
    if (ms->count > 0 && ms->entries == NULL)
        return p4_error_set(err, P4_EINVAL, "MEMBERS: %u entries but no array", ms->count);
    uint8_t seen[P4_WIRE_MAX_NODES] = {0};
    for (uint32_t i = 0; i < ms->count; i++) {
        const p4_wire_member *e = &ms->entries[i];
        if (e->id >= P4_WIRE_MAX_NODES)
            return p4_error_set(err, P4_EFORMAT, "MEMBERS: entry %u has id %u (limit %d)", i,
                                e->id, P4_WIRE_MAX_NODES - 1);
        if (seen[e->id])
            return p4_error_set(err, P4_EFORMAT, "MEMBERS: entry %u repeats id %u", i, e->id);
        seen[e->id] = 1;
        int rc = check_endpoint(e->endpoint, strnlen(e->endpoint, sizeof e->endpoint),
                                "MEMBERS", err);
        if (rc != P4_OK)
            return rc;
    }
    return P4_OK;
}

/* A grouping view: every client's group, before the rounds (round -1). */
static int check_view(const p4_wire_message *m, p4_error *err)
{
    const p4_wire_view *v = &m->body.view;
    if (m->header.round != -1)
        return p4_error_set(err, P4_EFORMAT, "VIEW: round %d (must be -1)", (int)m->header.round);
    if (v->count < 1 || v->count > P4_WIRE_MAX_NODES)
        return p4_error_set(err, P4_EFORMAT, "VIEW: %u clients (want 1..%d)", v->count,
                            P4_WIRE_MAX_NODES);
    if (v->group_of == NULL)
        return p4_error_set(err, P4_EINVAL, "VIEW: %u clients but no array", v->count);
    for (uint32_t k = 0; k < v->count; k++)
        if (v->group_of[k] >= v->count)
            return p4_error_set(err, P4_EFORMAT, "VIEW: client %u in group %u (want < %u)", k,
                                v->group_of[k], v->count);
    return P4_OK;
}

static int check_message(const p4_wire_message *m, p4_error *err)
{
    const p4_wire_header *h = &m->header;
    if (h->sender_id >= P4_WIRE_MAX_NODES)
        return p4_error_set(err, P4_EFORMAT, "%s: sender id %u (limit %d)",
                            p4_wire_type_name(h->type), h->sender_id, P4_WIRE_MAX_NODES - 1);
    if (h->round < -1)
        return p4_error_set(err, P4_EFORMAT, "%s: round %d (want >= -1)",
                            p4_wire_type_name(h->type), (int)h->round);
    switch (h->type) {
    case P4_WIRE_HELLO: return check_hello(m, err);
    case P4_WIRE_MEMBERS: return check_members(&m->body.members, err);
    case P4_WIRE_EVIDENCE:
        if (h->round != -1)
            return p4_error_set(err, P4_EFORMAT, "EVIDENCE: round %d (must be -1)",
                                (int)h->round);
        return check_evidence(&m->body.evidence, err);
    case P4_WIRE_HEARTBEAT:
        if (m->body.heartbeat.phase >= P4_PHASE_COUNT)
            return p4_error_set(err, P4_EFORMAT, "HEARTBEAT: phase %u (want < %d)",
                                m->body.heartbeat.phase, P4_PHASE_COUNT);
        return P4_OK;
    case P4_WIRE_SLICE:
        if (h->round != -1)
            return p4_error_set(err, P4_EFORMAT, "SLICE: round %d (must be -1)", (int)h->round);
        if (m->body.slice.count > P4_WIRE_MAX_FLOATS)
            return p4_error_set(err, P4_EFORMAT, "SLICE: %u floats (limit %u)",
                                m->body.slice.count, P4_WIRE_MAX_FLOATS);
        return check_floats(m->body.slice.values, m->body.slice.count, "SLICE", err);
    case P4_WIRE_DIGEST: return P4_OK;
    case P4_WIRE_COMMIT:
    case P4_WIRE_ECHO:
        if (h->round != -1)
            return p4_error_set(err, P4_EFORMAT, "%s: round %d (must be -1)",
                                p4_wire_type_name(h->type), (int)h->round);
        return P4_OK;
    case P4_WIRE_PROXY:
        if (m->body.proxy.count > P4_WIRE_MAX_FLOATS)
            return p4_error_set(err, P4_EFORMAT, "PROXY: %u floats (limit %u)",
                                m->body.proxy.count, P4_WIRE_MAX_FLOATS);
        return check_floats(m->body.proxy.values, m->body.proxy.count, "PROXY", err);
    case P4_WIRE_LOGITS: {
        uint64_t n = (uint64_t)m->body.logits.rows * m->body.logits.cols;
        if (n > P4_WIRE_MAX_LOGITS_FLOATS)
            return p4_error_set(err, P4_EFORMAT, "LOGITS: %u x %u floats (limit %u)",
                                m->body.logits.rows, m->body.logits.cols,
                                P4_WIRE_MAX_LOGITS_FLOATS);
        return check_floats(m->body.logits.values, (size_t)n, "LOGITS", err);
    }
    case P4_WIRE_DONE: {
        double a = m->body.done.accuracy, e = m->body.done.epsilon;
        if (!(a >= 0.0 && a <= 1.0))
            return p4_error_set(err, P4_EFORMAT, "DONE: accuracy %g (want 0..1)", a);
        if (!(e >= 0.0)) /* NaN fails too; +inf means no DP */
            return p4_error_set(err, P4_EFORMAT, "DONE: epsilon %g (want >= 0 or inf)", e);
        return P4_OK;
    }
    case P4_WIRE_BYE: return P4_OK;
    case P4_WIRE_VIEW: return check_view(m, err);
    default:
        return p4_error_set(err, P4_EFORMAT, "unknown message type %u", h->type);
    }
}

/* ---- writing ---- */

typedef struct writer {
    uint8_t *buf;     /* NULL: only count */
    size_t capacity;
    size_t pos;
} writer;

static void put_bytes(writer *w, const void *src, size_t n)
{
    if (w->buf != NULL && n > 0 && w->pos + n <= w->capacity)
        memcpy(w->buf + w->pos, src, n);
    w->pos += n;
}

static void put_u8(writer *w, uint8_t v) { put_bytes(w, &v, 1); }

static void put_u16(writer *w, uint16_t v)
{
    uint8_t b[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    put_bytes(w, b, 2);
}

static void put_u32(writer *w, uint32_t v)
{
    uint8_t b[4];
    for (int i = 0; i < 4; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    put_bytes(w, b, 4);
}

static void put_u64(writer *w, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    put_bytes(w, b, 8);
}

static void put_f64(writer *w, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, 8);
    put_u64(w, bits);
}

static void put_floats(writer *w, const float *values, size_t count)
{
#ifdef P4_WIRE_SWAP
    for (size_t i = 0; i < count; i++) {
        uint32_t bits;
        memcpy(&bits, &values[i], 4);
        put_u32(w, bits);
    }
#else
    put_bytes(w, values, count * 4);
#endif
}

static void put_endpoint(writer *w, const char *endpoint)
{
    size_t n = strnlen(endpoint, P4_WIRE_MAX_ENDPOINT + 1);
    put_u16(w, (uint16_t)n);
    put_bytes(w, endpoint, n);
}

static void put_payload(writer *w, const p4_wire_message *m)
{
    switch (m->header.type) {
    case P4_WIRE_HELLO: {
        const p4_wire_hello *h = &m->body.hello;
        put_u32(w, h->node_id);
        put_u32(w, h->clients);
        put_bytes(w, h->config_digest, P4_WIRE_KEY_BYTES);
        put_endpoint(w, h->endpoint);
        put_bytes(w, h->public_key, P4_WIRE_KEY_BYTES);
        put_bytes(w, h->nonce, P4_WIRE_KEY_BYTES);
        put_u32(w, h->evidence_bytes);
        put_bytes(w, h->evidence, h->evidence_bytes);
        break;
    }
    case P4_WIRE_MEMBERS:
        put_u32(w, m->body.members.count);
        for (uint32_t i = 0; i < m->body.members.count; i++) {
            const p4_wire_member *e = &m->body.members.entries[i];
            put_u32(w, e->id);
            put_endpoint(w, e->endpoint);
            put_bytes(w, e->public_key, P4_WIRE_KEY_BYTES);
            put_u32(w, e->last_seen_epoch);
        }
        break;
    case P4_WIRE_HEARTBEAT: put_u32(w, m->body.heartbeat.phase); break;
    case P4_WIRE_SLICE:
    case P4_WIRE_PROXY: {
        const p4_wire_vector *v =
            m->header.type == P4_WIRE_SLICE ? &m->body.slice : &m->body.proxy;
        put_u32(w, v->count);
        put_floats(w, v->values, v->count);
        break;
    }
    case P4_WIRE_DIGEST:
    case P4_WIRE_COMMIT:
    case P4_WIRE_ECHO: put_bytes(w, m->body.digest.digest, P4_WIRE_KEY_BYTES); break;
    case P4_WIRE_LOGITS:
        put_u32(w, m->body.logits.rows);
        put_u32(w, m->body.logits.cols);
        put_floats(w, m->body.logits.values,
                   (size_t)m->body.logits.rows * m->body.logits.cols);
        break;
    case P4_WIRE_DONE:
        put_f64(w, m->body.done.accuracy);
        put_f64(w, m->body.done.epsilon);
        break;
    case P4_WIRE_VIEW:
        put_u32(w, m->body.view.count);
        for (uint32_t k = 0; k < m->body.view.count; k++)
            put_u32(w, m->body.view.group_of[k]);
        break;
    case P4_WIRE_EVIDENCE:
        put_bytes(w, m->body.evidence.nonce, P4_WIRE_KEY_BYTES);
        put_u32(w, m->body.evidence.token_bytes);
        put_bytes(w, m->body.evidence.token, m->body.evidence.token_bytes);
        break;
    default: break; /* BYE: no payload */
    }
}

static void put_header(writer *w, const p4_wire_header *h, uint32_t payload_bytes)
{
    put_bytes(w, magic, 2);
    put_u8(w, P4_WIRE_VERSION);
    put_u8(w, h->type);
    put_u32(w, h->sender_id);
    put_u32(w, h->sender_epoch);
    put_u32(w, (uint32_t)h->round);
    put_u64(w, h->sequence);
    put_u32(w, payload_bytes);
}

int p4_wire_encoded_size(const p4_wire_message *m, size_t *size, p4_error *err)
{
    if (m == NULL || size == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_wire_encoded_size: NULL argument");
    int rc = check_message(m, err); /* P4_EFORMAT naming the field that breaks a rule */
    if (rc != P4_OK)
        return rc;
    writer w = {NULL, 0, 0};
    put_payload(&w, m);
    if (w.pos > P4_WIRE_MAX_PAYLOAD_BYTES)
        return p4_error_set(err, P4_EINVAL, "cannot encode: %s payload of %zu bytes (limit %u)",
                            p4_wire_type_name(m->header.type), w.pos,
                            P4_WIRE_MAX_PAYLOAD_BYTES);
    *size = P4_WIRE_HEADER_BYTES + w.pos;
    return P4_OK;
}

int p4_wire_encode(const p4_wire_message *m, uint8_t *buf, size_t capacity, size_t *length,
                   p4_error *err)
{
    if (buf == NULL || length == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_wire_encode: NULL argument");
    size_t size = 0;  /* set by p4_wire_encoded_size; 0 quiets -O2's maybe-uninitialized */
    int rc = p4_wire_encoded_size(m, &size, err);
    if (rc != P4_OK)
        return rc;
    if (size > capacity)
        return p4_error_set(err, P4_EINVAL, "cannot encode: %s needs %zu bytes, buffer has %zu",
                            p4_wire_type_name(m->header.type), size, capacity);
    writer w = {buf, capacity, 0};
    put_header(&w, &m->header, (uint32_t)(size - P4_WIRE_HEADER_BYTES));
    put_payload(&w, m);
    *length = w.pos;
    return P4_OK;
}

int p4_wire_encode_alloc(const p4_wire_message *m, uint8_t **buf, size_t *length,
                         p4_error *err)
{
    if (buf == NULL || length == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_wire_encode_alloc: NULL argument");
    *buf = NULL;
    size_t size = 0;  /* set by p4_wire_encoded_size; 0 quiets -O2's maybe-uninitialized */
    int rc = p4_wire_encoded_size(m, &size, err);
    if (rc != P4_OK)
        return rc;
    uint8_t *b = malloc(size);
    if (b == NULL)
        return p4_error_set(err, P4_ENOMEM, "cannot encode: no memory for %zu bytes", size);
    rc = p4_wire_encode(m, b, size, length, err);
    if (rc != P4_OK) {
        free(b);
        return rc;
    }
    *buf = b;
    return P4_OK;
}

/* ---- reading ---- */

typedef struct reader {
    const uint8_t *p;
    size_t length;
    size_t pos;
    const char *what;  /* message type name, for errors */
    p4_error *err;
} reader;

/* Fails unless n more bytes are there. */
static int need(reader *r, size_t n, const char *field)
{
    if (n > r->length - r->pos)
        return p4_error_set(r->err, P4_EFORMAT,
                            "%s: truncated at byte %zu: %s needs %zu bytes, %zu left", r->what,
                            r->pos, field, n, r->length - r->pos);
    return P4_OK;
}

static int get_bytes(reader *r, void *dst, size_t n, const char *field)
{
    int rc = need(r, n, field);
    if (rc == P4_OK && n > 0) {
        memcpy(dst, r->p + r->pos, n);
        r->pos += n;
    }
    return rc;
}

static uint64_t load_le(const uint8_t *b, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = (v << 8) | b[i];
    return v;
}

static int get_uint(reader *r, int n, uint64_t *v, const char *field)
{
    int rc = need(r, (size_t)n, field);
    if (rc == P4_OK) {
        *v = load_le(r->p + r->pos, n);
        r->pos += (size_t)n;
    }
    return rc;
}

static int get_u32(reader *r, uint32_t *v, const char *field)
{
    uint64_t x = 0;
    int rc = get_uint(r, 4, &x, field);
    *v = (uint32_t)x;
    return rc;
}

static int get_f64(reader *r, double *v, const char *field)
{
    uint64_t bits = 0;
    int rc = get_uint(r, 8, &bits, field);
    memcpy(v, &bits, 8);
    return rc;
}

/* A u16-prefixed endpoint string into out (P4_WIRE_MAX_ENDPOINT + 1 bytes). */
static int get_endpoint(reader *r, char *out)
{
    uint64_t n = 0;
    int rc = get_uint(r, 2, &n, "endpoint length");
    if (rc != P4_OK)
        return rc;
    if (n > P4_WIRE_MAX_ENDPOINT)
        return p4_error_set(r->err, P4_EFORMAT, "%s: endpoint of %u bytes at byte %zu (limit %d)",
                            r->what, (unsigned)n, r->pos - 2, P4_WIRE_MAX_ENDPOINT);
    rc = get_bytes(r, out, (size_t)n, "endpoint");
    out[rc == P4_OK ? n : 0] = '\0';
    if (rc == P4_OK && strlen(out) != n)
        return p4_error_set(r->err, P4_EFORMAT, "%s: endpoint holds a NUL byte", r->what);
    return rc;
}

/* count floats into a new array (*values; NULL when count is 0). */
static int get_floats(reader *r, size_t count, float **values, const char *field)
{
    *values = NULL;
    if (count > (r->length - r->pos) / 4)
        return p4_error_set(r->err, P4_EFORMAT,
                            "%s: truncated at byte %zu: %zu floats need %zu bytes, %zu left",
                            r->what, r->pos, count, count * 4, r->length - r->pos);
    if (count == 0)
        return P4_OK;
    float *v = malloc(count * sizeof *v);
    if (v == NULL)
        return p4_error_set(r->err, P4_ENOMEM, "%s: no memory for %zu floats of %s", r->what,
                            count, field);
#ifdef P4_WIRE_SWAP
    for (size_t i = 0; i < count; i++) {
        uint32_t bits = (uint32_t)load_le(r->p + r->pos + 4 * i, 4);
        memcpy(&v[i], &bits, 4);
    }
#else
    memcpy(v, r->p + r->pos, count * 4);
#endif
    r->pos += count * 4;
    *values = v;
    return P4_OK;
}

static int get_hello(reader *r, p4_wire_hello *h)
{
    int rc;
    if ((rc = get_u32(r, &h->node_id, "node id")) != P4_OK ||
        (rc = get_u32(r, &h->clients, "clients")) != P4_OK ||
        (rc = get_bytes(r, h->config_digest, P4_WIRE_KEY_BYTES, "config digest")) != P4_OK ||
        (rc = get_endpoint(r, h->endpoint)) != P4_OK ||
        (rc = get_bytes(r, h->public_key, P4_WIRE_KEY_BYTES, "public key")) != P4_OK ||
        (rc = get_bytes(r, h->nonce, P4_WIRE_KEY_BYTES, "nonce")) != P4_OK ||
        (rc = get_u32(r, &h->evidence_bytes, "evidence length")) != P4_OK)
        return rc;
    if (h->evidence_bytes > P4_WIRE_MAX_EVIDENCE)
        return p4_error_set(r->err, P4_EFORMAT, "HELLO: %u bytes of evidence (limit %d)",
                            h->evidence_bytes, P4_WIRE_MAX_EVIDENCE);
    if ((rc = need(r, h->evidence_bytes, "evidence")) != P4_OK || h->evidence_bytes == 0)
        return rc;
    h->evidence = malloc(h->evidence_bytes);
    if (h->evidence == NULL)
        return p4_error_set(r->err, P4_ENOMEM, "HELLO: no memory for evidence");
    return get_bytes(r, h->evidence, h->evidence_bytes, "evidence");
}

static int get_evidence(reader *r, p4_wire_evidence *e)
{
    int rc;
    if ((rc = get_bytes(r, e->nonce, P4_WIRE_KEY_BYTES, "nonce")) != P4_OK ||
        (rc = get_u32(r, &e->token_bytes, "token length")) != P4_OK)
        return rc;
    if (e->token_bytes < 1 || e->token_bytes > P4_WIRE_MAX_EVIDENCE)
        return p4_error_set(r->err, P4_EFORMAT, "EVIDENCE: token of %u bytes (want 1..%d)",
                            e->token_bytes, P4_WIRE_MAX_EVIDENCE);
    if ((rc = need(r, e->token_bytes, "token")) != P4_OK) /* before allocating */
        return rc;
    e->token = malloc(e->token_bytes);
    if (e->token == NULL)
        return p4_error_set(r->err, P4_ENOMEM, "EVIDENCE: no memory for the token");
    return get_bytes(r, e->token, e->token_bytes, "token");
}

static int get_members(reader *r, p4_wire_members *ms)
{
    int rc = get_u32(r, &ms->count, "member count");
    if (rc != P4_OK)
        return rc;
    if (ms->count > P4_WIRE_MAX_NODES)
        return p4_error_set(r->err, P4_EFORMAT, "MEMBERS: %u entries (limit %d)", ms->count,
                            P4_WIRE_MAX_NODES);
    /* Smallest entry: id 4 + endpoint length 2 + key 32 + epoch 4. */
    if (ms->count > (r->length - r->pos) / 42)
        return p4_error_set(r->err, P4_EFORMAT,
                            "MEMBERS: truncated: %u entries cannot fit in %zu bytes", ms->count,
                            r->length - r->pos);
    if (ms->count == 0)
        return P4_OK;
    ms->entries = calloc(ms->count, sizeof *ms->entries);
    if (ms->entries == NULL)
        return p4_error_set(r->err, P4_ENOMEM, "MEMBERS: no memory for %u entries", ms->count);
    for (uint32_t i = 0; i < ms->count; i++) {
        p4_wire_member *e = &ms->entries[i];
        if ((rc = get_u32(r, &e->id, "member id")) != P4_OK ||
            (rc = get_endpoint(r, e->endpoint)) != P4_OK ||
            (rc = get_bytes(r, e->public_key, P4_WIRE_KEY_BYTES, "member key")) != P4_OK ||
            (rc = get_u32(r, &e->last_seen_epoch, "member epoch")) != P4_OK)
            return rc;
    }
    return P4_OK;
}

static int get_view(reader *r, p4_wire_view *v)
{
    int rc = get_u32(r, &v->count, "client count");
    if (rc != P4_OK)
        return rc;
    if (v->count < 1 || v->count > P4_WIRE_MAX_NODES)
        return p4_error_set(r->err, P4_EFORMAT, "VIEW: %u clients (want 1..%d)", v->count,
                            P4_WIRE_MAX_NODES);
    if ((rc = need(r, (size_t)v->count * 4, "groups")) != P4_OK)
        return rc;
    if ((v->group_of = malloc((size_t)v->count * sizeof *v->group_of)) == NULL)
        return p4_error_set(r->err, P4_ENOMEM, "VIEW: no memory for %u clients", v->count);
    for (uint32_t k = 0; k < v->count && rc == P4_OK; k++)
        rc = get_u32(r, &v->group_of[k], "group");
    return rc;
}

static int get_payload(reader *r, p4_wire_message *m)
{
    int rc = P4_OK;
    switch (m->header.type) {
    case P4_WIRE_HELLO: return get_hello(r, &m->body.hello);
    case P4_WIRE_MEMBERS: return get_members(r, &m->body.members);
    case P4_WIRE_HEARTBEAT: return get_u32(r, &m->body.heartbeat.phase, "phase");
    case P4_WIRE_SLICE:
    case P4_WIRE_PROXY: {
        p4_wire_vector *v = m->header.type == P4_WIRE_SLICE ? &m->body.slice : &m->body.proxy;
        if ((rc = get_u32(r, &v->count, "float count")) != P4_OK)
            return rc;
        return get_floats(r, v->count, &v->values, "vector");
    }
    case P4_WIRE_DIGEST:
    case P4_WIRE_COMMIT:
    case P4_WIRE_ECHO:
        return get_bytes(r, m->body.digest.digest, P4_WIRE_KEY_BYTES, "digest");
    case P4_WIRE_LOGITS: {
        p4_wire_logits *l = &m->body.logits;
        if ((rc = get_u32(r, &l->rows, "rows")) != P4_OK ||
            (rc = get_u32(r, &l->cols, "cols")) != P4_OK)
            return rc;
        uint64_t n = (uint64_t)l->rows * l->cols;
        if (n > P4_WIRE_MAX_LOGITS_FLOATS)
            return p4_error_set(r->err, P4_EFORMAT, "LOGITS: %u x %u floats (limit %u)", l->rows,
                                l->cols, P4_WIRE_MAX_LOGITS_FLOATS);
        return get_floats(r, (size_t)n, &l->values, "logits");
    }
    case P4_WIRE_DONE:
        if ((rc = get_f64(r, &m->body.done.accuracy, "accuracy")) != P4_OK)
            return rc;
        return get_f64(r, &m->body.done.epsilon, "epsilon");
    case P4_WIRE_BYE: return P4_OK;
    case P4_WIRE_VIEW: return get_view(r, &m->body.view);
    case P4_WIRE_EVIDENCE: return get_evidence(r, &m->body.evidence);
    default:
        return p4_error_set(r->err, P4_EFORMAT, "unknown message type %u", m->header.type);
    }
}

int p4_wire_decode_header(const uint8_t *bytes, size_t length, p4_wire_header *out,
                          p4_error *err)
{
    if ((bytes == NULL && length > 0) || out == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_wire_decode_header: NULL argument");
    memset(out, 0, sizeof *out);
    if (length < P4_WIRE_HEADER_BYTES)
        return p4_error_set(err, P4_EFORMAT, "message of %zu bytes is shorter than the %d-byte header",
                            length, P4_WIRE_HEADER_BYTES);
    if (length > P4_WIRE_MAX_MESSAGE_BYTES)
        return p4_error_set(err, P4_EFORMAT, "message of %zu bytes (limit %u)", length,
                            P4_WIRE_MAX_MESSAGE_BYTES);
    if (memcmp(bytes, magic, 2) != 0)
        return p4_error_set(err, P4_EFORMAT, "bad magic 0x%02x%02x (want \"P4\")", bytes[0],
                            bytes[1]);
    out->version = bytes[2];
    out->type = bytes[3];
    if (out->version != P4_WIRE_VERSION)
        return p4_error_set(err, P4_EUNSUPPORTED, "protocol version %u (this node speaks %d)",
                            out->version, P4_WIRE_VERSION);
    out->sender_id = (uint32_t)load_le(bytes + 4, 4);
    out->sender_epoch = (uint32_t)load_le(bytes + 8, 4);
    out->round = (int32_t)(uint32_t)load_le(bytes + 12, 4);
    out->sequence = load_le(bytes + 16, 8);
    out->payload_bytes = (uint32_t)load_le(bytes + 24, 4);
    const char *name = p4_wire_type_name(out->type);
    if (out->type < P4_WIRE_HELLO || out->type > P4_WIRE_TYPE_LAST)
        return p4_error_set(err, P4_EFORMAT, "unknown message type %u", out->type);
    if (out->sender_id >= P4_WIRE_MAX_NODES)
        return p4_error_set(err, P4_EFORMAT, "%s: sender id %u (limit %d)", name,
                            out->sender_id, P4_WIRE_MAX_NODES - 1);
    if (out->round < -1)
        return p4_error_set(err, P4_EFORMAT, "%s: round %d (want >= -1)", name, (int)out->round);
    if (out->payload_bytes != length - P4_WIRE_HEADER_BYTES)
        return p4_error_set(err, P4_EFORMAT,
                            "%s: truncated or padded: header says %u payload bytes, %zu arrived",
                            name, out->payload_bytes, length - P4_WIRE_HEADER_BYTES);
    return P4_OK;
}

int p4_wire_decode(const uint8_t *bytes, size_t length, p4_wire_message *out, p4_error *err)
{
    if (out == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_wire_decode: NULL argument");
    memset(out, 0, sizeof *out);
    int rc = p4_wire_decode_header(bytes, length, &out->header, err);
    if (rc != P4_OK) {
        memset(out, 0, sizeof *out);
        return rc;
    }
    reader r = {bytes, length, P4_WIRE_HEADER_BYTES, p4_wire_type_name(out->header.type), err};
    rc = get_payload(&r, out);
    if (rc == P4_OK && r.pos != length)
        rc = p4_error_set(err, P4_EFORMAT, "%s: %zu unread bytes after the payload", r.what,
                          length - r.pos);
    if (rc == P4_OK)
        rc = check_message(out, err);
    if (rc != P4_OK)
        p4_wire_message_clear(out);
    return rc;
}

void p4_wire_message_clear(p4_wire_message *m)
{
    if (m == NULL)
        return;
    switch (m->header.type) {
    case P4_WIRE_HELLO: free(m->body.hello.evidence); break;
    case P4_WIRE_MEMBERS: free(m->body.members.entries); break;
    case P4_WIRE_SLICE: free(m->body.slice.values); break;
    case P4_WIRE_PROXY: free(m->body.proxy.values); break;
    case P4_WIRE_LOGITS: free(m->body.logits.values); break;
    case P4_WIRE_VIEW: free(m->body.view.group_of); break;
    case P4_WIRE_EVIDENCE: free(m->body.evidence.token); break;
    default: break;
    }
    memset(m, 0, sizeof *m);
}
