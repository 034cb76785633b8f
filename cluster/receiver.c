/* receiver.c: decode, authenticate, de-duplicate; see receiver.h. */
#include "cluster/receiver.h"

#include <stdlib.h>
#include <string.h>

/* P4_OK when the decoded m may have come from transport-authenticated
 * `from`; else P4_EPEER with the reason. */
static int check_sender(p4_receiver *r, int from, const p4_wire_message *m, p4_error *err)
{
    if (from >= 0) {
        if (m->header.sender_id != (uint32_t)from)
            return p4_error_set(err, P4_EPEER, "%s claims sender %u but came from peer %d",
                                p4_wire_type_name(m->header.type), m->header.sender_id, from);
        return P4_OK;
    }
    if (m->header.type != P4_WIRE_HELLO)
        return p4_error_set(err, P4_EPEER, "%s from a key not bound to any peer (only HELLO may "
                                           "introduce a peer)",
                            p4_wire_type_name(m->header.type));
    uint8_t key[32];
    p4_error inner;
    int rc = p4_transport_last_sender_key(r->transport, key, &inner);
    if (rc == P4_EUNSUPPORTED)
        return P4_OK; /* no keys on this transport: nothing to compare */
    if (rc != P4_OK || memcmp(key, m->body.hello.public_key, 32) != 0)
        return p4_error_set(err, P4_EPEER,
                            "HELLO from node %u names a public key other than the one its "
                            "connection authenticated",
                            m->header.sender_id);
    return P4_OK;
}

int p4_receiver_next(p4_receiver *r, double deadline, p4_wire_message *out, int *from,
                     p4_error *err)
{
    if (r == NULL || r->transport == NULL || r->guard == NULL || out == NULL || from == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_receiver_next: NULL argument");
    memset(out, 0, sizeof *out);
    for (;;) {
        uint8_t *bytes = NULL;
        size_t len = 0;
        int sender = -1;
        int rc = p4_transport_recv(r->transport, deadline, &sender, &bytes, &len, err);
        if (rc != P4_OK)
            return rc;
        p4_error why;
        p4_error_clear(&why);
        rc = p4_wire_decode(bytes, len, out, &why);
        free(bytes);
        if (rc == P4_OK)
            rc = check_sender(r, sender, out, &why);
        if (rc == P4_OK)
            rc = p4_replay_guard_accept(r->guard, out->header.sender_id, out->header.sender_epoch,
                                        out->header.sequence, &why);
        if (rc == P4_OK) {
            *from = sender;
            return P4_OK;
        }
        p4_wire_message_clear(out);
        r->dropped++;
        if (r->log != NULL) {
            fprintf(r->log, "p4 node %d: dropped %zu bytes from peer %d: %s\n", r->self_id, len,
                    sender, why.message);
            fflush(r->log);
        }
    }
}
