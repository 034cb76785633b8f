/* transport_inproc.h: the in-process transport of `p4 sim`.
 *
 * A hub holds one endpoint per client id in [0, n).  Sending copies the bytes
 * once into the recipient's queue (mutex + condition variable per
 * recipient); receiving hands that copy over without another.  Any thread
 * may send to any endpoint at the same time; each endpoint is received from
 * by one thread at a time.  The sender id a recipient sees is the id of the
 * endpoint that sent, so in-process ids are authentic by construction. */
#ifndef P4_CLUSTER_TRANSPORT_INPROC_H
#define P4_CLUSTER_TRANSPORT_INPROC_H

#include "cluster/transport.h"

/* Messages one endpoint may hold before sends to it fail with P4_EPEER. */
#define P4_INPROC_MAX_QUEUED 4096

typedef struct p4_inproc_hub p4_inproc_hub;

/* A hub for clients 0..n_clients-1 (1..P4_WIRE_MAX_NODES), all endpoints open. */
int p4_inproc_hub_new(p4_inproc_hub **out, int n_clients, p4_error *err);

/* Client id's endpoint.  The hub owns it: p4_transport_destroy on it only
 * closes it (its queue is dropped and sends to it fail with P4_EPEER until
 * p4_inproc_hub_transport hands it out again). */
int p4_inproc_hub_transport(p4_inproc_hub *hub, int id, p4_transport **out, p4_error *err);

/* Wakes every endpoint's waiting receiver with P4_ENET, now and for every
 * later wait: when one peer of a simulation fails, the others must not wait
 * for its messages. */
void p4_inproc_hub_abort(p4_inproc_hub *hub);

/* Frees the hub and every endpoint with any queued messages; no thread may
 * still use an endpoint. */
void p4_inproc_hub_destroy(p4_inproc_hub **hub);

#endif
