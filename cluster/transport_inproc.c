/* transport_inproc.c: per-recipient queues in one process; see
 * transport_inproc.h. */
#include "cluster/transport_inproc.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cluster/wire.h"
#include "common/progress.h"

typedef struct queued {
    struct queued *next;
    int from;
    size_t len;
    uint8_t *bytes;
} queued;

typedef struct inproc_endpoint {
    p4_transport base;         /* first: the endpoint is a p4_transport */
    p4_inproc_hub *hub;
    int id;
    pthread_mutex_t lock;      /* guards open and the queue */
    pthread_cond_t arrived;
    int open;
    int aborted;               /* p4_inproc_hub_abort: waits end at once */
    queued *head, *tail;
    size_t count;
    atomic_uint_least64_t bytes_sent, bytes_received, messages_sent, messages_received, refused;
} inproc_endpoint;

struct p4_inproc_hub {
    int n;
    inproc_endpoint *endpoints;
};

static void drop_queue(inproc_endpoint *e)
{
    while (e->head != NULL) {
        queued *q = e->head;
        e->head = q->next;
        free(q->bytes);
        free(q);
    }
    e->tail = NULL;
    e->count = 0;
}

static int inproc_send(p4_transport *t, int to, const uint8_t *bytes, size_t len, p4_error *err)
{
    inproc_endpoint *self = (inproc_endpoint *)t;
    p4_inproc_hub *hub = self->hub;
    if (to < 0 || to >= hub->n) {
        atomic_fetch_add(&self->refused, 1);
        return p4_error_set(err, P4_EPEER, "client %d: no peer %d (clients are 0..%d)", self->id,
                            to, hub->n - 1);
    }
    queued *q = malloc(sizeof *q);
    uint8_t *copy = malloc(len);
    if (q == NULL || copy == NULL) {
        free(q);
        free(copy);
        return p4_error_set(err, P4_ENOMEM, "client %d: no memory to queue %zu bytes", self->id,
                            len);
    }
    memcpy(copy, bytes, len);
    *q = (queued){NULL, self->id, len, copy};

    inproc_endpoint *dst = &hub->endpoints[to];
    pthread_mutex_lock(&dst->lock);
    int rc = P4_OK;
    if (!dst->open)
        rc = p4_error_set(err, P4_EPEER, "client %d: peer %d has closed its endpoint", self->id,
                          to);
    else if (dst->count >= P4_INPROC_MAX_QUEUED)
        rc = p4_error_set(err, P4_EPEER, "client %d: peer %d has %d messages queued (full)",
                          self->id, to, P4_INPROC_MAX_QUEUED);
    if (rc == P4_OK) {
        if (dst->tail != NULL)
            dst->tail->next = q;
        else
            dst->head = q;
        dst->tail = q;
        dst->count++;
        pthread_cond_signal(&dst->arrived);
    }
    pthread_mutex_unlock(&dst->lock);
    if (rc != P4_OK) {
        free(copy);
        free(q);
        atomic_fetch_add(&self->refused, 1);
        return rc;
    }
    atomic_fetch_add(&self->bytes_sent, len);
    atomic_fetch_add(&self->messages_sent, 1);
    return P4_OK;
}

/* deadline (p4_now_seconds, CLOCK_MONOTONIC) as an absolute timespec;
 * 0 when it is too far away to matter (wait without a limit). */
static int deadline_timespec(double deadline, struct timespec *ts)
{
    if (!isfinite(deadline) || deadline > p4_now_seconds() + 1e8)
        return 0;
    double whole = floor(deadline);
    ts->tv_sec = (time_t)whole;
    ts->tv_nsec = (long)((deadline - whole) * 1e9);
    if (ts->tv_nsec >= 1000000000L)
        ts->tv_nsec = 999999999L;
    return 1;
}

static int inproc_recv(p4_transport *t, double deadline, int *from, uint8_t **bytes, size_t *len,
                       p4_error *err)
{
    inproc_endpoint *self = (inproc_endpoint *)t;
    struct timespec until;
    int bounded = deadline_timespec(deadline, &until);
    pthread_mutex_lock(&self->lock);
    while (self->head == NULL) {
        if (self->aborted) {
            pthread_mutex_unlock(&self->lock);
            return p4_error_set(err, P4_ENET, "client %d: the run was stopped", self->id);
        }
        if (bounded && p4_now_seconds() >= deadline)
            break;
        if (bounded)
            pthread_cond_timedwait(&self->arrived, &self->lock, &until);
        else
            pthread_cond_wait(&self->arrived, &self->lock);
    }
    queued *q = self->head;
    if (q != NULL) {
        self->head = q->next;
        if (self->head == NULL)
            self->tail = NULL;
        self->count--;
    }
    pthread_mutex_unlock(&self->lock);
    if (q == NULL)
        return p4_error_set(err, P4_ETIMEOUT, "client %d: no message before the deadline",
                            self->id);
    *from = q->from;
    *bytes = q->bytes;
    *len = q->len;
    free(q);
    atomic_fetch_add(&self->bytes_received, *len);
    atomic_fetch_add(&self->messages_received, 1);
    return P4_OK;
}

static int inproc_add_peer(p4_transport *t, int id, const char *endpoint,
                           const uint8_t public_key[32], p4_error *err)
{
    inproc_endpoint *self = (inproc_endpoint *)t;
    if (id >= self->hub->n) /* every client of the hub is already reachable */
        return p4_error_set(err, P4_EINVAL, "client %d: peer %d outside the hub's %d clients",
                            self->id, id, self->hub->n);
    return P4_OK;
}

static void inproc_close(p4_transport *t)
{
    inproc_endpoint *self = (inproc_endpoint *)t;
    pthread_mutex_lock(&self->lock);
    self->open = 0;
    drop_queue(self);
    pthread_mutex_unlock(&self->lock);
}

static void inproc_stats(const p4_transport *t, p4_transport_stats *out)
{
    inproc_endpoint *self = (inproc_endpoint *)t;
    out->bytes_sent = atomic_load(&self->bytes_sent);
    out->bytes_received = atomic_load(&self->bytes_received);
    out->messages_sent = atomic_load(&self->messages_sent);
    out->messages_received = atomic_load(&self->messages_received);
    out->refused = atomic_load(&self->refused);
}

static const p4_transport_ops inproc_ops = {
    .send = inproc_send,
    .recv = inproc_recv,
    .add_peer = inproc_add_peer,
    .last_sender_key = NULL,
    .destroy = inproc_close,
    .stats = inproc_stats,
};

int p4_inproc_hub_new(p4_inproc_hub **out, int n_clients, p4_error *err)
{
    if (out == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_inproc_hub_new: NULL argument");
    *out = NULL;
    if (n_clients < 1 || n_clients > P4_WIRE_MAX_NODES)
        return p4_error_set(err, P4_EINVAL, "in-process hub for %d clients (want 1..%d)",
                            n_clients, P4_WIRE_MAX_NODES);
    p4_inproc_hub *hub = calloc(1, sizeof *hub);
    if (hub != NULL)
        hub->endpoints = calloc((size_t)n_clients, sizeof *hub->endpoints);
    if (hub == NULL || hub->endpoints == NULL) {
        free(hub);
        return p4_error_set(err, P4_ENOMEM, "in-process hub: no memory for %d clients",
                            n_clients);
    }
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC); /* p4_now_seconds's clock */
    for (int i = 0; i < n_clients; i++) {
        inproc_endpoint *e = &hub->endpoints[i];
        e->base.ops = &inproc_ops;
        e->hub = hub;
        e->id = i;
        e->open = 1;
        pthread_mutex_init(&e->lock, NULL);
        pthread_cond_init(&e->arrived, &attr);
    }
    pthread_condattr_destroy(&attr);
    hub->n = n_clients;
    *out = hub;
    return P4_OK;
}

void p4_inproc_hub_abort(p4_inproc_hub *hub)
{
    if (hub == NULL)
        return;
    for (int k = 0; k < hub->n; k++) {
        inproc_endpoint *e = &hub->endpoints[k];
        pthread_mutex_lock(&e->lock);
        e->aborted = 1;
        pthread_cond_broadcast(&e->arrived);
        pthread_mutex_unlock(&e->lock);
    }
}

int p4_inproc_hub_transport(p4_inproc_hub *hub, int id, p4_transport **out, p4_error *err)
{
    if (hub == NULL || out == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_inproc_hub_transport: NULL argument");
    *out = NULL;
    if (id < 0 || id >= hub->n)
        return p4_error_set(err, P4_EINVAL, "in-process hub: client %d outside 0..%d", id,
                            hub->n - 1);
    inproc_endpoint *e = &hub->endpoints[id];
    pthread_mutex_lock(&e->lock);
    e->open = 1;
    pthread_mutex_unlock(&e->lock);
    *out = &e->base;
    return P4_OK;
}

void p4_inproc_hub_destroy(p4_inproc_hub **hub)
{
    if (hub == NULL || *hub == NULL)
        return;
    p4_inproc_hub *h = *hub;
    for (int i = 0; i < h->n; i++) {
        drop_queue(&h->endpoints[i]);
        pthread_mutex_destroy(&h->endpoints[i].lock);
        pthread_cond_destroy(&h->endpoints[i].arrived);
    }
    free(h->endpoints);
    free(h);
    *hub = NULL;
}
