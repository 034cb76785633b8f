/* sender.c: stamp, encode, send; see sender.h. */
#include "cluster/sender.h"

#include <pthread.h>
#include <stdlib.h>

struct p4_sender {
    pthread_mutex_t lock;  /* a node's heartbeat thread sends alongside its protocol */
    p4_transport *transport;
    uint32_t id, epoch;
    uint64_t next_sequence;
    uint8_t *buffer;       /* reused between small messages (see KEPT_BUFFER_BYTES) */
    size_t capacity;
};

/* Messages up to this size (heartbeats, digests, handshakes) are encoded
 * into a buffer the sender keeps; a larger one (a proxy: tens of KiB) into a
 * buffer freed once it is sent.  `p4 sim` runs 1,024 peers in one process,
 * each with a sender idle between rounds: a kept proxy-sized buffer each
 * would cost 31 KiB per client (docs/scale.md). */
#define KEPT_BUFFER_BYTES 4096

int p4_sender_new(p4_sender **out, p4_transport *t, uint32_t id, uint32_t epoch, p4_error *err)
{
    if (out == NULL || t == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_sender_new: NULL argument");
    *out = NULL;
    if (id >= P4_WIRE_MAX_NODES)
        return p4_error_set(err, P4_EINVAL, "sender id %u (limit %d)", id,
                            P4_WIRE_MAX_NODES - 1);
    p4_sender *s = calloc(1, sizeof *s);
    if (s == NULL)
        return p4_error_set(err, P4_ENOMEM, "sender: no memory");
    pthread_mutex_init(&s->lock, NULL);
    s->transport = t;
    s->id = id;
    s->epoch = epoch;
    *out = s;
    return P4_OK;
}

void p4_sender_destroy(p4_sender **sender)
{
    if (sender == NULL || *sender == NULL)
        return;
    pthread_mutex_destroy(&(*sender)->lock);
    free((*sender)->buffer);
    free(*sender);
    *sender = NULL;
}

/* Stamps, encodes and sends; the caller holds s->lock. */
static int send_locked(p4_sender *s, int to, p4_wire_message *m, p4_error *err)
{
    m->header.sender_id = s->id;
    m->header.sender_epoch = s->epoch;
    m->header.sequence = s->next_sequence;
    size_t size, length;
    int rc = p4_wire_encoded_size(m, &size, err);
    if (rc != P4_OK)
        return rc;
    int kept = size <= KEPT_BUFFER_BYTES;
    if (kept && s->buffer == NULL && (s->buffer = malloc(KEPT_BUFFER_BYTES)) != NULL)
        s->capacity = KEPT_BUFFER_BYTES;
    uint8_t *buffer = kept ? s->buffer : malloc(size);
    if (buffer == NULL)
        return p4_error_set(err, P4_ENOMEM, "sender: no memory for a %zu-byte %s", size,
                            p4_wire_type_name(m->header.type));
    rc = p4_wire_encode(m, buffer, kept ? s->capacity : size, &length, err);
    if (rc == P4_OK) {
        s->next_sequence++;
        rc = p4_transport_send(s->transport, to, buffer, length, err);
    }
    if (!kept)
        free(buffer);
    return rc;
}

int p4_sender_send(p4_sender *s, int to, p4_wire_message *m, p4_error *err)
{
    if (s == NULL || m == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_sender_send: NULL argument");
    /* One lock around stamping and handing over: each peer then gets one
     * node's messages in sequence order, whichever thread sent them. */
    pthread_mutex_lock(&s->lock);
    int rc = send_locked(s, to, m, err);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

uint64_t p4_sender_next_sequence(const p4_sender *s)
{
    if (s == NULL)
        return 0;
    pthread_mutex_lock((pthread_mutex_t *)&s->lock);
    uint64_t next = s->next_sequence;
    pthread_mutex_unlock((pthread_mutex_t *)&s->lock);
    return next;
}
