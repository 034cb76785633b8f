/* projection.c: [model] proxy_projection = public-pca | public-pca-whiten.
 *
 * The proxy's first layer (connected, inputs -> K, linear) becomes the
 * projection onto the top-K principal directions of the public set
 * (p4_public_set_pick: training examples no client holds), centred on its
 * mean: weights row i = s_i v_i, bias i = -s_i v_i . mean, with s_i = 1
 * (public-pca) or 1 / sqrt(variance_i + eps) (public-pca-whiten, each
 * feature of unit variance on the public set).  It reads no private data,
 * so it costs no privacy, and every client gets the same one (same public
 * set, same seed).  The client keeps the layer out of its DP-SGD steps
 * (p4_client_spec.frozen_layers); its parameters stay in the proxy vector
 * and are sent with the rest, but the round protocol keeps the client's
 * own values after each exchange (keep_own_frozen_layers), so a peer's
 * poisoned copy never gets into them. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/peer.h"
#include "model/pca.h"

/* eps of the whitening, relative to the largest variance: directions with
 * next to no public variance are not blown up into noise. */
static const double WHITEN_FLOOR = 1e-3;

static int compute(const p4_peer_setup *setup, int inputs, int k, float *params, p4_error *err)
{
    const p4_config *cfg = setup->cfg;
    int n = setup->public_n;
    if (k >= n)
        return p4_error_set(err, P4_ECONFIG, "%s: [model] proxy_projection needs more public "
                            "examples than its %d directions ([p4] public_count = %d)", cfg->path,
                            k, n);
    float *x = NULL, *mean = malloc((size_t)inputs * sizeof(float));
    double *variance = malloc((size_t)k * sizeof(double));
    int rc = mean && variance ? P4_OK
                              : p4_error_set(err, P4_ENOMEM, "out of memory for the projection");
    if (rc == P4_OK)
        rc = p4_public_set_pick(cfg, setup->work, n, &x, err);
    if (rc == P4_OK)
        rc = p4_pca_fit(x, n, inputs, k, cfg->seed, mean, params, variance, err);
    if (rc == P4_OK) {
        int whiten = strcmp(cfg->proxy_projection, "public-pca-whiten") == 0;
        float *bias = params + (size_t)k * inputs;
        for (int i = 0; i < k; i++) {
            float *v = params + (size_t)i * inputs;
            double s = whiten ? 1.0 / sqrt(variance[i] + WHITEN_FLOOR * variance[0]) : 1.0;
            double dot = 0;
            for (int j = 0; j < inputs; j++) {
                v[j] = (float)(v[j] * s);
                dot += (double)v[j] * mean[j];
            }
            bias[i] = (float)-dot;
        }
    }
    free(x);
    free(mean);
    free(variance);
    return rc;
}

int p4_peer_install_projection(const p4_peer_setup *setup, p4_client *client, p4_error *err)
{
    if (!setup || !setup->cfg || !setup->work || !client)
        return p4_error_set(err, P4_EINVAL, "projection: bad arguments");
    const p4_config *cfg = setup->cfg;
    if (strcmp(cfg->proxy_projection, "none") == 0)
        return P4_OK;
    const p4_dataset *train = setup->work->train;
    int inputs = train->width * train->height * train->channels;
    size_t offset, length, o1, l1;
    if (p4_client_proxy_layer(client, 0, &offset, &length) != P4_OK ||
        p4_client_proxy_layer(client, 1, &o1, &l1) != P4_OK || length % (size_t)(inputs + 1) ||
        length / (size_t)(inputs + 1) >= (size_t)inputs)
        return p4_error_set(err, P4_ECONFIG, "%s: [model] proxy_projection = %s needs a proxy "
                            "(%s) whose first layer is [connected] from the %d inputs to fewer "
                            "outputs, with a trainable layer above it", cfg->path,
                            cfg->proxy_projection, cfg->proxy_cfg, inputs);
    int k = (int)(length / (size_t)(inputs + 1));
    p4_projection_cache own = { 0 }, *cache = setup->projection ? setup->projection : &own;
    int rc = P4_OK;
    if (!cache->params) {
        if (!(cache->params = malloc(length * sizeof(float))))
            return p4_error_set(err, P4_ENOMEM, "out of memory for the projection");
        cache->count = length;
        if ((rc = compute(setup, inputs, k, cache->params, err)) != P4_OK) {
            free(cache->params);
            cache->params = NULL;
            cache->count = 0;
            return rc;
        }
    }
    if (cache->count != length)
        rc = p4_error_set(err, P4_EMODEL, "projection: cached for a first layer of %zu floats, "
                          "this proxy's has %zu", cache->count, length);
    size_t size = p4_client_proxy_size(client);
    float *proxy = rc == P4_OK ? malloc(size * sizeof(float)) : NULL;
    if (rc == P4_OK && !proxy)
        rc = p4_error_set(err, P4_ENOMEM, "out of memory for the proxy");
    if (rc == P4_OK && (rc = p4_client_get_proxy(client, proxy, size)) == P4_OK) {
        memcpy(proxy + offset, cache->params, length * sizeof(float));
        rc = p4_client_set_proxy(client, proxy, size);
    }
    if (rc != P4_OK && proxy)
        p4_error_set(err, rc, "client %d: cannot write the projection into its proxy",
                     p4_client_id(client));
    free(proxy);
    if (cache == &own)
        free(own.params);
    return rc;
}
