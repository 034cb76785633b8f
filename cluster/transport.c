/* transport.c: argument checks, then the implementation's ops; see
 * transport.h. */
#include "cluster/transport.h"

#include <string.h>

int p4_transport_send(p4_transport *t, int to, const uint8_t *bytes, size_t len, p4_error *err)
{
    if (t == NULL || (bytes == NULL && len > 0))
        return p4_error_set(err, P4_EINVAL, "p4_transport_send: NULL argument");
    if (len == 0)
        return p4_error_set(err, P4_EINVAL, "p4_transport_send: empty message to peer %d", to);
    return t->ops->send(t, to, bytes, len, err);
}

int p4_transport_recv(p4_transport *t, double deadline, int *from, uint8_t **bytes, size_t *len,
                      p4_error *err)
{
    if (t == NULL || from == NULL || bytes == NULL || len == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_transport_recv: NULL argument");
    *bytes = NULL;
    *len = 0;
    *from = -1;
    return t->ops->recv(t, deadline, from, bytes, len, err);
}

int p4_transport_add_peer(p4_transport *t, int id, const char *endpoint,
                          const uint8_t public_key[32], p4_error *err)
{
    if (t == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_transport_add_peer: NULL transport");
    if (id < 0)
        return p4_error_set(err, P4_EINVAL, "p4_transport_add_peer: peer id %d", id);
    return t->ops->add_peer(t, id, endpoint, public_key, err);
}

int p4_transport_last_sender_key(const p4_transport *t, uint8_t public_key[32], p4_error *err)
{
    if (t == NULL || public_key == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_transport_last_sender_key: NULL argument");
    if (t->ops->last_sender_key == NULL)
        return p4_error_set(err, P4_EUNSUPPORTED, "this transport does not authenticate keys");
    return t->ops->last_sender_key(t, public_key, err);
}

void p4_transport_destroy(p4_transport **t)
{
    if (t == NULL || *t == NULL)
        return;
    (*t)->ops->destroy(*t);
    *t = NULL;
}

void p4_transport_get_stats(const p4_transport *t, p4_transport_stats *out)
{
    if (out == NULL)
        return;
    memset(out, 0, sizeof *out);
    if (t != NULL)
        t->ops->stats(t, out);
}
