/* serve_wire.h: the codec of the attested inference service (`p4 serve`,
 * `p4 query`), version 1; docs/serve.md describes each message.
 *
 * A client and a server exchange single ZeroMQ frames over CURVE.  Every
 * message is a 5-byte header ("P4Q", version, type) and a typed payload,
 * little-endian with explicit counts.  The decoder checks every field (counts
 * within the limits below and equal to the bytes present, floats finite,
 * probabilities in [0, 1], labels below the class count, text printable, no
 * trailing bytes) and the encoder checks the same rules, so neither side
 * sends what the other would refuse.  The format is canonical: a buffer
 * that decodes re-encodes to the same bytes.
 *
 * The exchange: ATTEST_REQUEST (the client's fresh nonce) -> ATTEST_REPLY
 * (the server's kind of evidence, its model's shape and what it answers,
 * and a CCA token bound to the server's CURVE key and that nonce); then
 * QUERY (rows of inputs) -> ANSWER (top-1 per row, probabilities only if
 * asked for and allowed) or ERROR.
 *
 * Ownership: p4_serve_decode allocates the arrays of the message it fills
 * and p4_serve_message_clear frees them; a message the caller fills for
 * encoding only borrows its arrays. */
#ifndef P4_CLUSTER_SERVE_WIRE_H
#define P4_CLUSTER_SERVE_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

#define P4_SERVE_VERSION 1
#define P4_SERVE_HEADER_BYTES 5
#define P4_SERVE_NONCE_BYTES 32
#define P4_SERVE_MAX_TOKEN (64 * 1024)       /* = P4_CCA_TOKEN_MAX           */
#define P4_SERVE_MAX_ROWS 1024               /* inputs in one QUERY          */
#define P4_SERVE_MAX_COLS 65536              /* floats in one input          */
#define P4_SERVE_MAX_QUERY_FLOATS (1u << 20) /* rows x cols: 4 MiB           */
#define P4_SERVE_MAX_CLASSES 4096
#define P4_SERVE_MAX_TEXT 255
/* The largest request (a QUERY of P4_SERVE_MAX_QUERY_FLOATS) and the
 * largest reply (an ANSWER of MAX_ROWS rows of MAX_CLASSES probabilities):
 * the servers' and clients' ZMQ_MAXMSGSIZE. */
#define P4_SERVE_MAX_REQUEST_BYTES (P4_SERVE_HEADER_BYTES + 9u + 4u * P4_SERVE_MAX_QUERY_FLOATS)
#define P4_SERVE_MAX_REPLY_BYTES                                                          \
    (P4_SERVE_HEADER_BYTES + 9u + 4u * P4_SERVE_MAX_ROWS +                               \
     4u * P4_SERVE_MAX_ROWS * P4_SERVE_MAX_CLASSES)

typedef enum p4_serve_type {
    P4_SERVE_ATTEST_REQUEST = 1,
    P4_SERVE_ATTEST_REPLY = 2,
    P4_SERVE_QUERY = 3,
    P4_SERVE_ANSWER = 4,
    P4_SERVE_ERROR = 5
} p4_serve_type;

/* What stands behind the server's answers. */
typedef enum p4_serve_evidence {
    P4_SERVE_EVIDENCE_NONE = 0,  /* software backend: no attestation at all */
    P4_SERVE_EVIDENCE_CCA = 1    /* an Arm CCA token (tee/cca)             */
} p4_serve_evidence;

typedef enum p4_serve_error_code {
    P4_SERVE_ERR_MALFORMED = 1,  /* the request did not decode             */
    P4_SERVE_ERR_SHAPE = 2,      /* inputs of the wrong width or too many  */
    P4_SERVE_ERR_EVIDENCE = 3,   /* the server could not get its token     */
    P4_SERVE_ERR_INTERNAL = 4
} p4_serve_error_code;

typedef struct p4_serve_attest_reply {
    uint8_t evidence;             /* p4_serve_evidence                        */
    uint32_t width, height, channels; /* the input the model takes             */
    uint32_t classes;             /* 2..P4_SERVE_MAX_CLASSES                  */
    uint32_t max_rows;            /* 1..P4_SERVE_MAX_ROWS per QUERY           */
    uint8_t probabilities;        /* 1: the server answers probabilities      */
    uint8_t *token;               /* token_bytes; none for EVIDENCE_NONE      */
    uint32_t token_bytes;         /* CCA: 1..P4_SERVE_MAX_TOKEN               */
} p4_serve_attest_reply;

typedef struct p4_serve_query {
    uint8_t want_probabilities;   /* 0 or 1                                   */
    uint32_t rows, cols;          /* 1..MAX_ROWS, 1..MAX_COLS, product <= MAX_QUERY_FLOATS */
    float *values;                /* rows x cols, finite                      */
} p4_serve_query;

typedef struct p4_serve_answer {
    uint32_t rows, classes;       /* 1..MAX_ROWS, 2..MAX_CLASSES              */
    uint32_t *labels;             /* rows, each < classes                     */
    uint8_t has_probabilities;    /* 0 or 1                                   */
    float *probabilities;         /* rows x classes in [0, 1] when present    */
} p4_serve_answer;

typedef struct p4_serve_error {
    uint8_t code;                 /* p4_serve_error_code                      */
    char text[P4_SERVE_MAX_TEXT + 1]; /* 1..255 printable ASCII bytes          */
} p4_serve_error;

typedef struct p4_serve_message {
    uint8_t type;                 /* p4_serve_type                            */
    union {
        uint8_t nonce[P4_SERVE_NONCE_BYTES];  /* ATTEST_REQUEST */
        p4_serve_attest_reply reply;
        p4_serve_query query;
        p4_serve_answer answer;
        p4_serve_error error;
    } body;
} p4_serve_message;

/* "ATTEST_REQUEST", ... or "unknown". */
const char *p4_serve_type_name(int type);

/* Encodes m into a malloc'ed buffer; P4_EFORMAT naming the field when m
 * breaks a rule the decoder enforces. */
int p4_serve_encode(const p4_serve_message *m, uint8_t **buf, size_t *length, p4_error *err);

/* Decodes and checks bytes into *out (which then owns its arrays).  On
 * failure *out holds nothing to free. */
int p4_serve_decode(const uint8_t *bytes, size_t length, p4_serve_message *out, p4_error *err);

void p4_serve_message_clear(p4_serve_message *m);

#endif
