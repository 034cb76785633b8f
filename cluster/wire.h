/* wire.h: the one codec for bytes between p4 nodes (protocol version 1).
 *
 * Every message is a fixed 28-byte header followed by a typed payload, all
 * little-endian with explicit lengths; docs/protocol.md describes each field
 * and limit.  Nothing else in p4 parses peer bytes.
 *
 * Encoding and decoding check the same rules, so a node never sends what a
 * peer would refuse: counts and lengths within the limits below and equal to
 * the bytes present, strings printable ASCII, every float finite (a NaN or
 * an infinity from a peer would poison an average), no trailing bytes.  The
 * format is canonical: a buffer that decodes re-encodes to the same bytes.
 *
 * Ownership: p4_wire_decode allocates the arrays of the message it fills
 * (evidence, members, float vectors, views, tokens) and p4_wire_message_clear frees them.
 * A message filled by the caller for encoding only borrows the caller's
 * arrays: never call p4_wire_message_clear on it. */
#ifndef P4_CLUSTER_WIRE_H
#define P4_CLUSTER_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

#define P4_WIRE_VERSION 1
#define P4_WIRE_HEADER_BYTES 28
#define P4_WIRE_MAX_MESSAGE_BYTES (64u * 1024u * 1024u) /* header included */
#define P4_WIRE_MAX_PAYLOAD_BYTES (P4_WIRE_MAX_MESSAGE_BYTES - P4_WIRE_HEADER_BYTES)
#define P4_WIRE_MAX_NODES 4096         /* node ids are in [0, 4096)              */
#define P4_WIRE_MAX_ENDPOINT 255       /* bytes of an endpoint string, no NUL     */
#define P4_WIRE_MAX_EVIDENCE 16384     /* attestation evidence in HELLO           */
#define P4_WIRE_KEY_BYTES 32           /* CURVE public key, digests and nonces    */
/* Floats in one vector: what fits in the largest payload after its count. */
#define P4_WIRE_MAX_FLOATS ((P4_WIRE_MAX_PAYLOAD_BYTES - 4u) / 4u)
#define P4_WIRE_MAX_LOGITS_FLOATS ((P4_WIRE_MAX_PAYLOAD_BYTES - 8u) / 4u)

typedef enum p4_wire_type {
    P4_WIRE_HELLO = 1,
    P4_WIRE_MEMBERS = 2,
    P4_WIRE_HEARTBEAT = 3,
    P4_WIRE_SLICE = 4,
    P4_WIRE_DIGEST = 5,
    P4_WIRE_PROXY = 6,
    P4_WIRE_LOGITS = 7,
    P4_WIRE_DONE = 8,
    P4_WIRE_BYE = 9,
    P4_WIRE_VIEW = 10,       /* a grouping view, sent to a peer whose digest differed */
    P4_WIRE_EVIDENCE = 11,   /* attestation token answering a HELLO's nonce */
    P4_WIRE_COMMIT = 12,     /* a commitment to the sender's warm-up slice (grouping_commit) */
    P4_WIRE_ECHO = 13,       /* a digest of every commitment the sender holds */
    P4_WIRE_TYPE_LAST = P4_WIRE_ECHO
} p4_wire_type;

/* Where a node is in the round protocol (HEARTBEAT). */
typedef enum p4_wire_phase {
    P4_PHASE_JOINING = 0,
    P4_PHASE_WARMUP = 1,
    P4_PHASE_GROUPING = 2,
    P4_PHASE_TRAINING = 3,
    P4_PHASE_AGGREGATION = 4,
    P4_PHASE_FINISHED = 5,
    P4_PHASE_COUNT = 6
} p4_wire_phase;

typedef struct p4_wire_header {
    uint8_t version;        /* P4_WIRE_VERSION (the encoder sets it)          */
    uint8_t type;           /* p4_wire_type                                   */
    uint32_t sender_id;     /* < P4_WIRE_MAX_NODES                            */
    uint32_t sender_epoch;  /* the sender's restart counter                   */
    int32_t round;          /* >= -1; -1 = before the rounds (SLICE, HELLO..) */
    uint64_t sequence;      /* strictly increasing per (sender, epoch)        */
    uint32_t payload_bytes; /* set by the encoder; checked by the decoder     */
} p4_wire_header;

typedef struct p4_wire_hello {
    uint32_t node_id;                      /* equals header.sender_id        */
    uint32_t clients;                      /* 1..P4_WIRE_MAX_NODES, > node_id */
    uint8_t config_digest[P4_WIRE_KEY_BYTES];
    char endpoint[P4_WIRE_MAX_ENDPOINT + 1]; /* NUL-terminated               */
    uint8_t public_key[P4_WIRE_KEY_BYTES];
    uint8_t nonce[P4_WIRE_KEY_BYTES];
    uint8_t *evidence;                     /* evidence_bytes; NULL when 0     */
    uint32_t evidence_bytes;               /* <= P4_WIRE_MAX_EVIDENCE         */
} p4_wire_hello;

/* EVIDENCE: the sender's attestation token, bound to its own public key and
 * to the nonce the receiver sent in its HELLO (echoed here so a receiver can
 * tell an answer to an older HELLO; the verifier checks its own copy). */
typedef struct p4_wire_evidence {
    uint8_t nonce[P4_WIRE_KEY_BYTES];      /* the HELLO nonce this answers   */
    uint8_t *token;                        /* token_bytes                    */
    uint32_t token_bytes;                  /* 1..P4_WIRE_MAX_EVIDENCE        */
} p4_wire_evidence;

typedef struct p4_wire_member {
    uint32_t id;
    char endpoint[P4_WIRE_MAX_ENDPOINT + 1];
    uint8_t public_key[P4_WIRE_KEY_BYTES];
    uint32_t last_seen_epoch;
} p4_wire_member;

typedef struct p4_wire_members {
    p4_wire_member *entries;  /* count of them                               */
    uint32_t count;           /* <= P4_WIRE_MAX_NODES; ids distinct          */
} p4_wire_members;

typedef struct p4_wire_heartbeat {
    uint32_t phase;           /* p4_wire_phase                               */
} p4_wire_heartbeat;

typedef struct p4_wire_vector {   /* SLICE and PROXY                         */
    float *values;
    uint32_t count;           /* <= P4_WIRE_MAX_FLOATS                       */
} p4_wire_vector;

typedef struct p4_wire_digest {  /* DIGEST, COMMIT and ECHO               */
    uint8_t digest[P4_WIRE_KEY_BYTES];
} p4_wire_digest;

typedef struct p4_wire_logits {
    float *values;            /* rows x cols, row-major                      */
    uint32_t rows, cols;      /* rows * cols <= P4_WIRE_MAX_LOGITS_FLOATS    */
} p4_wire_logits;

typedef struct p4_wire_view {  /* VIEW: group_of[k] for every client k         */
    uint32_t *group_of;       /* count of them, each < count                  */
    uint32_t count;           /* 1..P4_WIRE_MAX_NODES: the clients of the run */
} p4_wire_view;

typedef struct p4_wire_done {
    double accuracy;          /* in [0, 1]                                   */
    double epsilon;           /* >= 0; +inf for a run without DP             */
} p4_wire_done;

typedef struct p4_wire_message {
    p4_wire_header header;
    union {
        p4_wire_hello hello;
        p4_wire_members members;
        p4_wire_heartbeat heartbeat;
        p4_wire_vector slice;
        p4_wire_digest digest;
        p4_wire_vector proxy;
        p4_wire_logits logits;
        p4_wire_done done;
        p4_wire_view view;
        p4_wire_evidence evidence;
    } body;
} p4_wire_message;

/* "HELLO", "PROXY", ... or "unknown". */
const char *p4_wire_type_name(int type);

/* Bytes that message m encodes to (header included); P4_EFORMAT naming the
 * field when m breaks a rule (the same rules the decoder enforces). */
int p4_wire_encoded_size(const p4_wire_message *m, size_t *size, p4_error *err);

/* Encodes m into buf (capacity bytes); *length = bytes written.  The version
 * and payload length in the header are set here, not read from m. */
int p4_wire_encode(const p4_wire_message *m, uint8_t *buf, size_t capacity, size_t *length,
                   p4_error *err);

/* As p4_wire_encode into a malloc'ed buffer the caller frees. */
int p4_wire_encode_alloc(const p4_wire_message *m, uint8_t **buf, size_t *length,
                         p4_error *err);

/* Reads and checks only the header (magic, version, type, round, sender id,
 * payload length against length).  P4_EUNSUPPORTED for another protocol
 * version, P4_EFORMAT for anything else wrong. */
int p4_wire_decode_header(const uint8_t *bytes, size_t length, p4_wire_header *out,
                          p4_error *err);

/* Decodes and checks a whole message into *out (which then owns its arrays:
 * free with p4_wire_message_clear).  On failure *out holds nothing to free. */
int p4_wire_decode(const uint8_t *bytes, size_t length, p4_wire_message *out, p4_error *err);

/* Frees the arrays a decoded message owns and zeroes it. */
void p4_wire_message_clear(p4_wire_message *m);

#endif
