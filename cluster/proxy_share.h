/* proxy_share.h: which of a proxy's floats go on the wire.
 *
 * A proxy's frozen layers (p4_client_frozen_layers: a fixed projection that
 * DP-SGD never trains) hold the same values in every honest client, so
 * sending them carries nothing; taking a peer's copy would let a poisoned
 * one stay in them for good.  The round protocol therefore exchanges only
 * the rest: pack before sending, and unpack an aggregate back into the
 * client's own proxy, whose frozen layers it leaves as they are.  Without
 * frozen layers the shared part is the whole proxy. */
#ifndef P4_PROXY_SHARE_H
#define P4_PROXY_SHARE_H

#include <stddef.h>

#include "distill/client.h"

/* The number of floats that go on the wire (the proxy's size when nothing
 * is frozen); 0 for NULL. */
size_t p4_proxy_share_size(const p4_client *client);

/* shared[0..p4_proxy_share_size) = proxy's floats outside the frozen
 * layers, in order.  proxy holds p4_client_proxy_size floats. */
int p4_proxy_share_pack(const p4_client *client, const float *proxy, float *shared);

/* The inverse: writes shared into proxy's floats outside the frozen layers,
 * and leaves the frozen layers' floats untouched. */
int p4_proxy_share_unpack(const p4_client *client, const float *shared, float *proxy);

#endif
