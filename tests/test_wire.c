/* test_wire.c: the message codec (every type round trips, every truncation
 * and every broken rule is refused), the replay guard, and the receiver that
 * drops hostile bytes in front of the protocol. */
#include "support/test_support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/receiver.h"
#include "cluster/replay_guard.h"
#include "cluster/sender.h"
#include "cluster/transport_inproc.h"
#include "cluster/wire.h"
#include "common/progress.h"

/* Arrays the sample messages borrow. */
static float sample_floats[12] = {0.5f, -1.25f, 3.0f, 1e-30f, -0.0f, 7.0f,
                                  2.5f, 1e30f,  -8.0f, 0.125f, 9.0f, -3.5f};
static uint8_t sample_evidence[5] = {1, 2, 3, 4, 5};
static uint32_t sample_view[4] = {1, 0, 1, 0};
static p4_wire_member sample_members[3];

/* A valid message of each type, borrowing the arrays above. */
static p4_wire_message sample(int type)
{
    p4_wire_message m;
    memset(&m, 0, sizeof m);
    m.header.type = (uint8_t)type;
    m.header.sender_id = 3;
    m.header.sender_epoch = 7;
    m.header.round = 5;
    m.header.sequence = 0x0102030405060708ull;
    switch (type) {
    case P4_WIRE_HELLO:
        m.header.round = -1;
        m.body.hello.node_id = 3;
        m.body.hello.clients = 4;
        memset(m.body.hello.config_digest, 0xab, 32);
        snprintf(m.body.hello.endpoint, sizeof m.body.hello.endpoint, "tcp://127.0.0.1:5555");
        memset(m.body.hello.public_key, 0x11, 32);
        memset(m.body.hello.nonce, 0x22, 32);
        m.body.hello.evidence = sample_evidence;
        m.body.hello.evidence_bytes = sizeof sample_evidence;
        break;
    case P4_WIRE_MEMBERS:
        for (int i = 0; i < 3; i++) {
            sample_members[i].id = (uint32_t)(i * 2);
            snprintf(sample_members[i].endpoint, sizeof sample_members[i].endpoint,
                     "tcp://10.0.0.%d:7000", i + 1);
            memset(sample_members[i].public_key, 0x30 + i, 32);
            sample_members[i].last_seen_epoch = (uint32_t)(100 + i);
        }
        m.body.members.entries = sample_members;
        m.body.members.count = 3;
        break;
    case P4_WIRE_HEARTBEAT: m.body.heartbeat.phase = P4_PHASE_TRAINING; break;
    case P4_WIRE_SLICE:
        m.header.round = -1;
        m.body.slice.values = sample_floats;
        m.body.slice.count = 12;
        break;
    case P4_WIRE_DIGEST: memset(m.body.digest.digest, 0x5a, 32); break;
    case P4_WIRE_COMMIT:
    case P4_WIRE_ECHO:
        m.header.round = -1;
        memset(m.body.digest.digest, type == P4_WIRE_COMMIT ? 0x6b : 0x7c, 32);
        break;
    case P4_WIRE_PROXY:
        m.body.proxy.values = sample_floats;
        m.body.proxy.count = 12;
        break;
    case P4_WIRE_LOGITS:
        m.body.logits.values = sample_floats;
        m.body.logits.rows = 3;
        m.body.logits.cols = 4;
        break;
    case P4_WIRE_DONE:
        m.body.done.accuracy = 0.8125;
        m.body.done.epsilon = 3.5;
        break;
    case P4_WIRE_VIEW:
        m.header.round = -1;
        m.body.view.group_of = sample_view;
        m.body.view.count = 4;
        break;
    case P4_WIRE_EVIDENCE:
        m.header.round = -1;
        memset(m.body.evidence.nonce, 0x44, 32);
        m.body.evidence.token = sample_evidence;
        m.body.evidence.token_bytes = sizeof sample_evidence;
        break;
    default: break;
    }
    return m;
}

static uint8_t *encode(const p4_wire_message *m, size_t *len)
{
    uint8_t *bytes = NULL;
    p4_error err;
    int rc = p4_wire_encode_alloc(m, &bytes, len, &err);
    if (rc != P4_OK)
        fail_msg("encode %s: %s", p4_wire_type_name(m->header.type), err.message);
    return bytes;
}

/* Decoding bytes fails with code, and says why. */
static void assert_refused(const uint8_t *bytes, size_t len, int code, const char *what)
{
    p4_wire_message m;
    p4_error err;
    p4_error_clear(&err);
    int rc = p4_wire_decode(bytes, len, &m, &err);
    if (rc != code)
        fail_msg("%s: decode returned %d (%s), want %d", what, rc, err.message, code);
    assert_true(err.message[0] != '\0');
    assert_int_equal(m.header.type, 0); /* nothing left to free */
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void test_every_type_round_trips_to_the_same_bytes(void **state)
{
    (void)state;
    for (int type = P4_WIRE_HELLO; type <= P4_WIRE_TYPE_LAST; type++) {
        p4_wire_message m = sample(type), d;
        size_t len, len2, size;
        uint8_t *bytes = encode(&m, &len);
        assert_int_equal(p4_wire_encoded_size(&m, &size, NULL), P4_OK);
        assert_int_equal(size, len);
        assert_memory_equal(bytes, "P4", 2);
        assert_int_equal(bytes[2], P4_WIRE_VERSION);
        p4_error err;
        if (p4_wire_decode(bytes, len, &d, &err) != P4_OK)
            fail_msg("decode %s: %s", p4_wire_type_name(type), err.message);
        assert_int_equal(d.header.type, type);
        assert_int_equal(d.header.sender_id, 3);
        assert_int_equal(d.header.sender_epoch, 7);
        assert_int_equal(d.header.round, m.header.round);
        assert_true(d.header.sequence == 0x0102030405060708ull);
        assert_int_equal(d.header.payload_bytes, len - P4_WIRE_HEADER_BYTES);
        switch (type) {
        case P4_WIRE_HELLO:
            assert_int_equal(d.body.hello.clients, 4);
            assert_string_equal(d.body.hello.endpoint, "tcp://127.0.0.1:5555");
            assert_memory_equal(d.body.hello.public_key, m.body.hello.public_key, 32);
            assert_memory_equal(d.body.hello.nonce, m.body.hello.nonce, 32);
            assert_memory_equal(d.body.hello.config_digest, m.body.hello.config_digest, 32);
            assert_int_equal(d.body.hello.evidence_bytes, 5);
            assert_memory_equal(d.body.hello.evidence, sample_evidence, 5);
            break;
        case P4_WIRE_MEMBERS:
            assert_int_equal(d.body.members.count, 3);
            assert_int_equal(d.body.members.entries[2].id, 4);
            assert_string_equal(d.body.members.entries[2].endpoint, "tcp://10.0.0.3:7000");
            assert_int_equal(d.body.members.entries[1].last_seen_epoch, 101);
            assert_memory_equal(d.body.members.entries[1].public_key,
                                sample_members[1].public_key, 32);
            break;
        case P4_WIRE_HEARTBEAT: assert_int_equal(d.body.heartbeat.phase, P4_PHASE_TRAINING); break;
        case P4_WIRE_SLICE:
        case P4_WIRE_PROXY: {
            p4_wire_vector *v = type == P4_WIRE_SLICE ? &d.body.slice : &d.body.proxy;
            assert_int_equal(v->count, 12);
            assert_memory_equal(v->values, sample_floats, sizeof sample_floats);
            assert_true(v->values != sample_floats); /* decoded arrays are owned */
            break;
        }
        case P4_WIRE_DIGEST:
        case P4_WIRE_COMMIT:
        case P4_WIRE_ECHO: assert_memory_equal(d.body.digest.digest, m.body.digest.digest, 32); break;
        case P4_WIRE_LOGITS:
            assert_int_equal(d.body.logits.rows, 3);
            assert_int_equal(d.body.logits.cols, 4);
            assert_memory_equal(d.body.logits.values, sample_floats, sizeof sample_floats);
            break;
        case P4_WIRE_DONE:
            assert_true(d.body.done.accuracy == 0.8125);
            assert_true(d.body.done.epsilon == 3.5);
            break;
        case P4_WIRE_VIEW:
            assert_int_equal(d.body.view.count, 4);
            assert_memory_equal(d.body.view.group_of, sample_view, sizeof sample_view);
            assert_true(d.body.view.group_of != sample_view);
            break;
        case P4_WIRE_EVIDENCE:
            assert_memory_equal(d.body.evidence.nonce, m.body.evidence.nonce, 32);
            assert_int_equal(d.body.evidence.token_bytes, 5);
            assert_memory_equal(d.body.evidence.token, sample_evidence, 5);
            assert_true(d.body.evidence.token != sample_evidence);
            break;
        default: break;
        }
        /* Canonical: the decoded message encodes to the very same bytes. */
        uint8_t *again = encode(&d, &len2);
        assert_int_equal(len2, len);
        assert_memory_equal(again, bytes, len);
        /* Encoding into a buffer one byte short is refused. */
        uint8_t *small = malloc(len);
        assert_int_equal(p4_wire_encode(&m, small, len - 1, &len2, NULL), P4_EINVAL);
        assert_int_equal(p4_wire_encode(&m, small, len, &len2, NULL), P4_OK);
        assert_memory_equal(small, bytes, len);
        free(small);
        free(again);
        free(bytes);
        p4_wire_message_clear(&d);
        assert_int_equal(d.header.type, 0);
    }
}

static void test_every_truncation_of_every_type_is_refused(void **state)
{
    (void)state;
    for (int type = P4_WIRE_HELLO; type <= P4_WIRE_TYPE_LAST; type++) {
        p4_wire_message m = sample(type);
        size_t len;
        uint8_t *bytes = encode(&m, &len);
        uint8_t *cut = malloc(len);
        for (size_t n = 0; n < len; n++) {
            /* As cut, and with the header's payload length patched to agree, so
             * that the payload parser itself meets the missing bytes. */
            memcpy(cut, bytes, n);
            assert_refused(cut, n, P4_EFORMAT, "truncated");
            if (n >= P4_WIRE_HEADER_BYTES) {
                put32(cut + 24, (uint32_t)(n - P4_WIRE_HEADER_BYTES));
                char what[64];
                snprintf(what, sizeof what, "%s cut to %zu of %zu", p4_wire_type_name(type), n,
                         len);
                assert_refused(cut, n, P4_EFORMAT, what);
            }
        }
        /* One byte too many (header agreeing) is refused as well. */
        uint8_t *longer = malloc(len + 1);
        memcpy(longer, bytes, len);
        longer[len] = 0;
        put32(longer + 24, (uint32_t)(len + 1 - P4_WIRE_HEADER_BYTES));
        assert_refused(longer, len + 1, P4_EFORMAT, "trailing byte");
        free(longer);
        free(cut);
        free(bytes);
    }
}

static void test_header_faults_are_refused(void **state)
{
    (void)state;
    p4_wire_message m = sample(P4_WIRE_PROXY);
    size_t len;
    uint8_t *bytes = encode(&m, &len);
    uint8_t *b = malloc(len);

    memcpy(b, bytes, len);
    b[0] = 'Q';
    assert_refused(b, len, P4_EFORMAT, "magic");
    memcpy(b, bytes, len);
    b[2] = 2;
    assert_refused(b, len, P4_EUNSUPPORTED, "version 2");
    b[2] = 0;
    assert_refused(b, len, P4_EUNSUPPORTED, "version 0");
    int bad_types[] = {0, 10, 255};
    for (int i = 0; i < 3; i++) {
        memcpy(b, bytes, len);
        b[3] = (uint8_t)bad_types[i];
        assert_refused(b, len, P4_EFORMAT, "unknown type");
    }
    memcpy(b, bytes, len);
    put32(b + 4, P4_WIRE_MAX_NODES); /* sender id */
    assert_refused(b, len, P4_EFORMAT, "sender id");
    memcpy(b, bytes, len);
    put32(b + 12, (uint32_t)-2); /* round */
    assert_refused(b, len, P4_EFORMAT, "round -2");
    memcpy(b, bytes, len);
    put32(b + 24, 0xffffffffu); /* payload length beyond the bytes */
    assert_refused(b, len, P4_EFORMAT, "payload length");

    /* A message over the 64 MiB limit is refused before its payload is read. */
    size_t big = (size_t)P4_WIRE_MAX_MESSAGE_BYTES + 1;
    uint8_t *huge = calloc(big, 1);
    assert_non_null(huge);
    memcpy(huge, bytes, P4_WIRE_HEADER_BYTES);
    put32(huge + 24, (uint32_t)(big - P4_WIRE_HEADER_BYTES));
    assert_refused(huge, big, P4_EFORMAT, "oversized message");
    free(huge);
    free(b);
    free(bytes);
}

/* Bytes the encoder would never write: a valid sample(type) with the field
 * at offset overwritten; decoding them must fail. */
static void assert_patched_refused(int type, size_t offset, const void *value, size_t n,
                                   const char *what)
{
    p4_wire_message m = sample(type);
    size_t len;
    uint8_t *bytes = encode(&m, &len);
    assert_true(offset + n <= len);
    memcpy(bytes + offset, value, n);
    assert_refused(bytes, len, P4_EFORMAT, what);
    free(bytes);
}

static void test_payload_faults_are_refused(void **state)
{
    (void)state;
    const size_t H = P4_WIRE_HEADER_BYTES;
    float nan = NAN, inf = INFINITY, ninf = -INFINITY;
    /* Non-finite floats in every float-carrying type (first and last value). */
    assert_patched_refused(P4_WIRE_PROXY, H + 4, &nan, 4, "PROXY NaN");
    assert_patched_refused(P4_WIRE_PROXY, H + 4 + 11 * 4, &inf, 4, "PROXY inf at the end");
    assert_patched_refused(P4_WIRE_SLICE, H + 4 + 4, &ninf, 4, "SLICE -inf");
    assert_patched_refused(P4_WIRE_LOGITS, H + 8 + 5 * 4, &nan, 4, "LOGITS NaN");
    double dnan = NAN, big = 1.5, neg = -1.0;
    assert_patched_refused(P4_WIRE_DONE, H, &dnan, 8, "DONE accuracy NaN");
    assert_patched_refused(P4_WIRE_DONE, H, &big, 8, "DONE accuracy 1.5");
    assert_patched_refused(P4_WIRE_DONE, H + 8, &neg, 8, "DONE epsilon -1");
    assert_patched_refused(P4_WIRE_DONE, H + 8, &dnan, 8, "DONE epsilon NaN");

    /* Counts that promise more than is there, or more than the limit. */
    uint8_t c[4];
    put32(c, 13);
    assert_patched_refused(P4_WIRE_PROXY, H, c, 4, "PROXY count 13 of 12");
    put32(c, 0xffffffffu);
    assert_patched_refused(P4_WIRE_PROXY, H, c, 4, "PROXY count 2^32-1");
    assert_patched_refused(P4_WIRE_LOGITS, H, c, 4, "LOGITS rows 2^32-1");
    put32(c, 0x40000000u);
    assert_patched_refused(P4_WIRE_LOGITS, H + 4, c, 4, "LOGITS cols so rows*cols overflows 32 bits");
    put32(c, P4_WIRE_MAX_NODES + 1);
    assert_patched_refused(P4_WIRE_MEMBERS, H, c, 4, "MEMBERS count 4097");
    put32(c, 4);
    assert_patched_refused(P4_WIRE_MEMBERS, H, c, 4, "MEMBERS count 4 of 3");

    /* MEMBERS: entry 1 repeating entry 0's id; an id beyond the limit. */
    size_t entry = 4 + 2 + strlen("tcp://10.0.0.1:7000") + 32 + 4; /* bytes per sample entry */
    put32(c, 0);
    assert_patched_refused(P4_WIRE_MEMBERS, H + 4 + entry, c, 4, "MEMBERS duplicate id");
    put32(c, P4_WIRE_MAX_NODES);
    assert_patched_refused(P4_WIRE_MEMBERS, H + 4, c, 4, "MEMBERS id 4096");

    /* HELLO: node id not the sender; clients 0; node id >= clients; evidence
     * over the limit; endpoint with a space, a NUL, or too long a length. */
    put32(c, 2);
    assert_patched_refused(P4_WIRE_HELLO, H, c, 4, "HELLO node id != sender");
    put32(c, 0);
    assert_patched_refused(P4_WIRE_HELLO, H + 4, c, 4, "HELLO clients 0");
    put32(c, 3);
    assert_patched_refused(P4_WIRE_HELLO, H + 4, c, 4, "HELLO node 3 of 3 clients");
    size_t endpoint_at = H + 4 + 4 + 32;
    size_t evidence_at = endpoint_at + 2 + strlen("tcp://127.0.0.1:5555") + 32 + 32;
    put32(c, P4_WIRE_MAX_EVIDENCE + 1);
    assert_patched_refused(P4_WIRE_HELLO, evidence_at, c, 4, "HELLO evidence 16385");
    assert_patched_refused(P4_WIRE_HELLO, endpoint_at + 2 + 3, " ", 1, "HELLO endpoint space");
    assert_patched_refused(P4_WIRE_HELLO, endpoint_at + 2 + 3, "", 1, "HELLO endpoint NUL");
    uint8_t long_len[2] = {0x00, 0x01}; /* 256 */
    assert_patched_refused(P4_WIRE_HELLO, endpoint_at, long_len, 2, "HELLO endpoint 256 bytes");
    uint8_t zero_len[2] = {0, 0};
    assert_patched_refused(P4_WIRE_HELLO, endpoint_at, zero_len, 2, "HELLO endpoint empty");

    /* EVIDENCE: an empty token; a token over the limit; outside round -1. */
    put32(c, 0);
    assert_patched_refused(P4_WIRE_EVIDENCE, H + 32, c, 4, "EVIDENCE empty token");
    put32(c, P4_WIRE_MAX_EVIDENCE + 1);
    assert_patched_refused(P4_WIRE_EVIDENCE, H + 32, c, 4, "EVIDENCE token 16385");
    put32(c, 6);
    assert_patched_refused(P4_WIRE_EVIDENCE, H + 32, c, 4, "EVIDENCE token 6 of 5 bytes");
    put32(c, 0);
    assert_patched_refused(P4_WIRE_EVIDENCE, 12, c, 4, "EVIDENCE in round 0");

    /* HEARTBEAT phase out of range; SLICE outside round -1. */
    put32(c, P4_PHASE_COUNT);
    assert_patched_refused(P4_WIRE_HEARTBEAT, H, c, 4, "HEARTBEAT phase");
    put32(c, 0);
    assert_patched_refused(P4_WIRE_SLICE, 12, c, 4, "SLICE in round 0");
    assert_patched_refused(P4_WIRE_COMMIT, 12, c, 4, "COMMIT in round 0");
    assert_patched_refused(P4_WIRE_ECHO, 12, c, 4, "ECHO in round 0");
}

static void test_encoder_refuses_what_the_decoder_would(void **state)
{
    (void)state;
    float bad[3] = {1.0f, NAN, 2.0f};
    p4_wire_message m = sample(P4_WIRE_PROXY);
    m.body.proxy.values = bad;
    m.body.proxy.count = 3;
    uint8_t buf[256];
    size_t len;
    p4_error err;
    assert_int_equal(p4_wire_encode(&m, buf, sizeof buf, &len, &err), P4_EFORMAT);
    assert_non_null(strstr(err.message, "value 1"));

    m = sample(P4_WIRE_MEMBERS);
    m.body.members.count = P4_WIRE_MAX_NODES + 1;
    assert_int_equal(p4_wire_encoded_size(&m, &len, NULL), P4_EFORMAT);

    m = sample(P4_WIRE_HELLO);
    memset(m.body.hello.endpoint, 'a', sizeof m.body.hello.endpoint); /* no NUL */
    assert_int_equal(p4_wire_encoded_size(&m, &len, NULL), P4_EFORMAT);

    m = sample(P4_WIRE_DONE);
    m.body.done.epsilon = INFINITY; /* a run without DP: allowed */
    assert_int_equal(p4_wire_encode(&m, buf, sizeof buf, &len, NULL), P4_OK);
    p4_wire_message d;
    assert_int_equal(p4_wire_decode(buf, len, &d, NULL), P4_OK);
    assert_true(isinf(d.body.done.epsilon));

    /* VIEW: a group id outside the clients, no clients, a round other than -1 */
    m = sample(P4_WIRE_VIEW);
    uint32_t bad_view[4] = {0, 1, 4, 0};
    m.body.view.group_of = bad_view;
    assert_int_equal(p4_wire_encode(&m, buf, sizeof buf, &len, &err), P4_EFORMAT);
    assert_non_null(strstr(err.message, "client 2 in group 4"));
    m = sample(P4_WIRE_VIEW);
    m.body.view.count = 0;
    assert_int_equal(p4_wire_encoded_size(&m, &len, NULL), P4_EFORMAT);
    m = sample(P4_WIRE_VIEW);
    m.header.round = 0;
    assert_int_equal(p4_wire_encoded_size(&m, &len, NULL), P4_EFORMAT);
    m = sample(P4_WIRE_VIEW); /* the decoder sees the same out-of-range group */
    assert_int_equal(p4_wire_encode(&m, buf, sizeof buf, &len, NULL), P4_OK);
    put32(buf + len - 4, 9);
    assert_refused(buf, len, P4_EFORMAT, "client 3 in group 9");

    m = sample(P4_WIRE_EVIDENCE);
    m.body.evidence.token_bytes = 0;
    assert_int_equal(p4_wire_encoded_size(&m, &len, NULL), P4_EFORMAT);

    m = sample(P4_WIRE_BYE);
    m.header.type = 42;
    assert_int_equal(p4_wire_encoded_size(&m, &len, NULL), P4_EFORMAT);
    m = sample(P4_WIRE_BYE);
    m.header.round = -5;
    assert_int_equal(p4_wire_encoded_size(&m, &len, NULL), P4_EFORMAT);
}

static void test_replay_guard_accepts_only_newer(void **state)
{
    (void)state;
    p4_replay_guard *g = NULL;
    p4_error err;
    assert_int_equal(p4_replay_guard_new(&g, 0, NULL), P4_EINVAL);
    assert_int_equal(p4_replay_guard_new(&g, 4, NULL), P4_OK);
    assert_int_equal(p4_replay_guard_accept(g, 1, 0, 0, NULL), P4_OK);  /* first ever */
    assert_int_equal(p4_replay_guard_accept(g, 1, 0, 0, &err), P4_EPEER); /* duplicate */
    assert_non_null(strstr(err.message, "sender 1"));
    assert_int_equal(p4_replay_guard_accept(g, 1, 0, 5, NULL), P4_OK);  /* gaps are fine */
    assert_int_equal(p4_replay_guard_accept(g, 1, 0, 4, NULL), P4_EPEER); /* older */
    assert_int_equal(p4_replay_guard_accept(g, 1, 1, 0, NULL), P4_OK);  /* restarted */
    assert_int_equal(p4_replay_guard_accept(g, 1, 0, 99, NULL), P4_EPEER); /* before restart */
    assert_int_equal(p4_replay_guard_accept(g, 2, 0, 0, NULL), P4_OK);  /* senders apart */
    assert_int_equal(p4_replay_guard_accept(g, 4, 0, 0, NULL), P4_EINVAL);
    p4_replay_guard_destroy(&g);
    assert_null(g);
}

/* Sends raw bytes from client `from` of the hub to client 0. */
static void send_raw(p4_inproc_hub *hub, int from, const uint8_t *bytes, size_t len)
{
    p4_transport *t;
    assert_int_equal(p4_inproc_hub_transport(hub, from, &t, NULL), P4_OK);
    assert_int_equal(p4_transport_send(t, 0, bytes, len, NULL), P4_OK);
}

static void test_receiver_drops_hostile_bytes_and_keeps_going(void **state)
{
    (void)state;
    p4_inproc_hub *hub;
    p4_transport *me;
    p4_replay_guard *guard;
    assert_int_equal(p4_inproc_hub_new(&hub, 4, NULL), P4_OK);
    assert_int_equal(p4_inproc_hub_transport(hub, 0, &me, NULL), P4_OK);
    assert_int_equal(p4_replay_guard_new(&guard, 4, NULL), P4_OK);
    char *log_text = NULL;
    size_t log_size = 0;
    FILE *log = open_memstream(&log_text, &log_size);
    p4_receiver r = {me, guard, log, 0, 0};

    p4_wire_message good = sample(P4_WIRE_PROXY); /* sender 3 */
    size_t len;
    uint8_t *bytes = encode(&good, &len);
    const uint8_t garbage[] = "not a p4 message at all, just some bytes";
    send_raw(hub, 3, garbage, sizeof garbage);           /* garbled    */
    send_raw(hub, 3, bytes, len - 3);                    /* truncated  */
    send_raw(hub, 2, bytes, len);                        /* forged id  */
    send_raw(hub, 3, bytes, len);                        /* good       */
    send_raw(hub, 3, bytes, len);                        /* replayed   */
    good.header.sequence++;
    uint8_t *next = encode(&good, &len);
    send_raw(hub, 3, next, len);                         /* good again */

    p4_wire_message m;
    int from = -9;
    double deadline = p4_now_seconds() + 5.0;
    assert_int_equal(p4_receiver_next(&r, deadline, &m, &from, NULL), P4_OK);
    assert_int_equal(from, 3);
    assert_int_equal(m.header.type, P4_WIRE_PROXY);
    assert_int_equal(r.dropped, 3);
    p4_wire_message_clear(&m);
    assert_int_equal(p4_receiver_next(&r, deadline, &m, &from, NULL), P4_OK);
    assert_true(m.header.sequence == 0x0102030405060709ull);
    assert_int_equal(r.dropped, 4);
    p4_wire_message_clear(&m);
    /* Nothing left: the deadline ends the wait. */
    p4_error err;
    assert_int_equal(p4_receiver_next(&r, p4_now_seconds() + 0.05, &m, &from, &err),
                     P4_ETIMEOUT);
    fclose(log);
    assert_non_null(strstr(log_text, "bad magic"));
    assert_non_null(strstr(log_text, "truncated"));
    assert_non_null(strstr(log_text, "claims sender 3 but came from peer 2"));
    assert_non_null(strstr(log_text, "replayed"));
    free(log_text);
    free(bytes);
    free(next);
    p4_replay_guard_destroy(&guard);
    p4_inproc_hub_destroy(&hub);
}

static void test_sender_stamps_what_receivers_accept(void **state)
{
    (void)state;
    p4_inproc_hub *hub;
    p4_transport *t0, *t1;
    p4_replay_guard *guard;
    p4_sender *before, *after;
    assert_int_equal(p4_inproc_hub_new(&hub, 2, NULL), P4_OK);
    assert_int_equal(p4_inproc_hub_transport(hub, 0, &t0, NULL), P4_OK);
    assert_int_equal(p4_inproc_hub_transport(hub, 1, &t1, NULL), P4_OK);
    assert_int_equal(p4_replay_guard_new(&guard, 2, NULL), P4_OK);
    assert_int_equal(p4_sender_new(&before, t1, P4_WIRE_MAX_NODES, 0, NULL), P4_EINVAL);
    assert_int_equal(p4_sender_new(&before, t1, 1, 4, NULL), P4_OK);
    assert_int_equal(p4_sender_new(&after, t1, 1, 5, NULL), P4_OK); /* node 1 restarted */
    p4_receiver r = {t0, guard, NULL, 0, 0};

    p4_wire_message m = sample(P4_WIRE_PROXY);
    m.header.sender_id = 99; /* overwritten by the sender */
    p4_error err;
    for (int i = 0; i < 3; i++)
        assert_int_equal(p4_sender_send(before, 0, &m, NULL), P4_OK);
    assert_int_equal(p4_sender_send(before, 7, &m, &err), P4_EPEER); /* uses sequence 3 */
    assert_true(p4_sender_next_sequence(before) == 4);
    assert_int_equal(p4_sender_send(after, 0, &m, NULL), P4_OK);    /* epoch 5, sequence 0 */
    assert_int_equal(p4_sender_send(before, 0, &m, NULL), P4_OK);   /* epoch 4: stale now */
    p4_wire_message bad = sample(P4_WIRE_PROXY);
    float nan[1] = {NAN};
    bad.body.proxy.values = nan;
    bad.body.proxy.count = 1;
    assert_int_equal(p4_sender_send(after, 0, &bad, NULL), P4_EFORMAT); /* never sent */

    p4_wire_message d;
    int from;
    double deadline = p4_now_seconds() + 5.0;
    for (int i = 0; i < 4; i++) {
        assert_int_equal(p4_receiver_next(&r, deadline, &d, &from, NULL), P4_OK);
        assert_int_equal(from, 1);
        assert_int_equal(d.header.sender_id, 1);
        assert_int_equal(d.header.sender_epoch, i < 3 ? 4 : 5);
        assert_true(d.header.sequence == (uint64_t)(i < 3 ? i : 0));
        assert_int_equal(d.body.proxy.count, 12);
        p4_wire_message_clear(&d);
    }
    assert_int_equal(p4_receiver_next(&r, p4_now_seconds() + 0.05, &d, &from, NULL),
                     P4_ETIMEOUT);
    assert_int_equal(r.dropped, 1);
    p4_sender_destroy(&before);
    p4_sender_destroy(&after);
    assert_null(before);
    p4_replay_guard_destroy(&guard);
    p4_inproc_hub_destroy(&hub);
}

/* Small messages go through the sender's kept buffer, large ones through a
 * buffer of their own: interleaved, each arrives whole and in order. */
static void test_sender_sends_small_and_large_messages_whole(void **state)
{
    (void)state;
    p4_inproc_hub *hub;
    p4_transport *t0, *t1;
    p4_replay_guard *guard;
    p4_sender *sender;
    assert_int_equal(p4_inproc_hub_new(&hub, 2, NULL), P4_OK);
    assert_int_equal(p4_inproc_hub_transport(hub, 0, &t0, NULL), P4_OK);
    assert_int_equal(p4_inproc_hub_transport(hub, 1, &t1, NULL), P4_OK);
    assert_int_equal(p4_replay_guard_new(&guard, 2, NULL), P4_OK);
    assert_int_equal(p4_sender_new(&sender, t1, 1, 1, NULL), P4_OK);
    p4_receiver r = {t0, guard, NULL, 0, 0};

    enum { large = 5000, small = 12 };
    const size_t counts[] = {small, large, small, large, large, small};
    enum { sends = sizeof counts / sizeof counts[0] };
    static float values[large + sends]; /* message i starts at values + i */
    for (int j = 0; j < large + sends; j++)
        values[j] = (float)j * 0.5f;
    for (int i = 0; i < sends; i++) {
        p4_wire_message m = sample(P4_WIRE_PROXY);
        m.body.proxy.values = values + i; /* a different first value each time */
        m.body.proxy.count = counts[i];
        assert_int_equal(p4_sender_send(sender, 0, &m, NULL), P4_OK);
    }
    double deadline = p4_now_seconds() + 5.0;
    for (int i = 0; i < sends; i++) {
        p4_wire_message d;
        int from;
        assert_int_equal(p4_receiver_next(&r, deadline, &d, &from, NULL), P4_OK);
        assert_true(d.header.sequence == (uint64_t)i);
        assert_true(d.body.proxy.count == counts[i]);
        assert_memory_equal(d.body.proxy.values, values + i, counts[i] * sizeof(float));
        p4_wire_message_clear(&d);
    }
    p4_sender_destroy(&sender);
    p4_replay_guard_destroy(&guard);
    p4_inproc_hub_destroy(&hub);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_type_round_trips_to_the_same_bytes),
        cmocka_unit_test(test_every_truncation_of_every_type_is_refused),
        cmocka_unit_test(test_header_faults_are_refused),
        cmocka_unit_test(test_payload_faults_are_refused),
        cmocka_unit_test(test_encoder_refuses_what_the_decoder_would),
        cmocka_unit_test(test_replay_guard_accepts_only_newer),
        cmocka_unit_test(test_receiver_drops_hostile_bytes_and_keeps_going),
        cmocka_unit_test(test_sender_stamps_what_receivers_accept),
        cmocka_unit_test(test_sender_sends_small_and_large_messages_whole),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
