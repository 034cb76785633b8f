/* zmq_curve.c: CURVE options and binding for p4's ZeroMQ sockets; see
 * zmq_curve.h. */
#include "cluster/zmq_curve.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

int p4_zmq_curve_server(void *socket, const p4_identity *identity, const char *zap_domain,
                        p4_error *err)
{
    if (socket == NULL || identity == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_zmq_curve_server: NULL argument");
    int one = 1;
    if (zmq_setsockopt(socket, ZMQ_CURVE_SERVER, &one, sizeof one) != 0 ||
        zmq_setsockopt(socket, ZMQ_CURVE_SECRETKEY, identity->secret_key, P4_KEY_BYTES) != 0 ||
        (zap_domain != NULL &&
         zmq_setsockopt(socket, ZMQ_ZAP_DOMAIN, zap_domain, strlen(zap_domain)) != 0))
        return p4_error_set(err, P4_ENET, "CURVE server options: %s", zmq_strerror(zmq_errno()));
    return P4_OK;
}

int p4_zmq_curve_client(void *socket, const uint8_t public_key[P4_KEY_BYTES],
                        const uint8_t secret_key[P4_KEY_BYTES],
                        const uint8_t server_key[P4_KEY_BYTES], p4_error *err)
{
    if (socket == NULL || public_key == NULL || secret_key == NULL || server_key == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_zmq_curve_client: NULL argument");
    if (zmq_setsockopt(socket, ZMQ_CURVE_SERVERKEY, server_key, P4_KEY_BYTES) != 0 ||
        zmq_setsockopt(socket, ZMQ_CURVE_PUBLICKEY, public_key, P4_KEY_BYTES) != 0 ||
        zmq_setsockopt(socket, ZMQ_CURVE_SECRETKEY, secret_key, P4_KEY_BYTES) != 0)
        return p4_error_set(err, P4_ENET, "CURVE client options: %s", zmq_strerror(zmq_errno()));
    return P4_OK;
}

int p4_zmq_bind(void *socket, const char *listen, char *endpoint, size_t size, p4_error *err)
{
    if (socket == NULL || listen == NULL || endpoint == NULL || size == 0)
        return p4_error_set(err, P4_EINVAL, "p4_zmq_bind: NULL argument");
    /* ZeroMQ spells "any free port" as "tcp://host:*". */
    char spelled[1100];
    size_t n = strlen(listen);
    if (n >= sizeof spelled - 2)
        return p4_error_set(err, P4_EINVAL, "endpoint '%.64s...' is too long", listen);
    if (n >= 2 && strcmp(listen + n - 2, ":0") == 0)
        snprintf(spelled, sizeof spelled, "%.*s:*", (int)(n - 2), listen);
    else
        snprintf(spelled, sizeof spelled, "%s", listen);
    if (zmq_bind(socket, spelled) != 0)
        return p4_error_set(err, P4_ENET, "cannot listen on %s: %s", listen,
                            zmq_strerror(zmq_errno()));
    size_t got = size;
    if (zmq_getsockopt(socket, ZMQ_LAST_ENDPOINT, endpoint, &got) != 0)
        return p4_error_set(err, P4_ENET, "bound endpoint of %s: %s", listen,
                            zmq_strerror(zmq_errno()));
    return P4_OK;
}

int p4_zmq_recv_frames(void *socket, zmq_msg_t *frames, int max, int *extra, p4_error *err)
{
    if (socket == NULL || frames == NULL || max < 1 || extra == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_zmq_recv_frames: bad arguments");
    int n = 0, more = 1;
    *extra = 0;
    while (more) {
        zmq_msg_t frame;
        zmq_msg_init(&frame);
        if (zmq_msg_recv(&frame, socket, n == 0 ? ZMQ_DONTWAIT : 0) < 0) {
            int e = zmq_errno();
            zmq_msg_close(&frame);
            for (int i = 0; i < n; i++)
                zmq_msg_close(&frames[i]);
            if (e == EAGAIN || e == EINTR)
                return 0;
            return p4_error_set(err, P4_ENET, "receive: %s", zmq_strerror(e));
        }
        more = zmq_msg_more(&frame);
        if (n < max)
            frames[n++] = frame;
        else {
            (*extra)++;
            zmq_msg_close(&frame);
        }
    }
    return n;
}
