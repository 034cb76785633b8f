/* projection.c: [model] proxy_projection = public-pca | public-pca-whiten |
 * wavelet.
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
 * but the round protocol sends only the floats outside the frozen layers
 * (cluster/proxy_share.h), so a peer's copy never gets into them.
 *
 * wavelet: the proxy's first two layers ([convolutional] each) become the
 * fixed Morlet filter bank and modulus pooling of model/wavelet.h; they read
 * no data at all, and the client freezes both. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/peer.h"
#include "model/model.h"
#include "model/pca.h"
#include "model/wavelet.h"

/* eps of the whitening, relative to the largest variance: directions with
 * next to no public variance are not blown up into noise. */
static const double WHITEN_FLOOR = 1e-3;

/* public-pca and wavelet-pca alike: a projection onto k directions needs
 * more than k public examples. */
static int check_public_count(const p4_config *cfg, int k, int n, p4_error *err)
{
    return k < n ? P4_OK
                 : p4_error_set(err, P4_ECONFIG, "%s: [model] proxy_projection needs more public "
                                "examples than its %d directions ([p4] public_count = %d)",
                                cfg->path, k, n);
}

/* The projection of n public rows of d features (pixels, or the wavelet
 * front end's outputs) onto their top-k principal directions, each scaled
 * to unit public variance when whiten and centred on the public mean:
 * params gets the k x d directions, then the k biases -direction . mean. */
static int fit_projection(const p4_config *cfg, const float *features, int n, int d, int k,
                          int whiten, float *params, p4_error *err)
{
    float *mean = malloc((size_t)d * sizeof(float));
    double *variance = malloc((size_t)k * sizeof(double));
    int rc = mean && variance ? P4_OK
                              : p4_error_set(err, P4_ENOMEM, "out of memory for the projection");
    if (rc == P4_OK)
        rc = p4_pca_fit(features, n, d, k, cfg->seed, mean, params, variance, err);
    for (int i = 0; rc == P4_OK && whiten && i < k; i++) {
        float *v = params + (size_t)i * d;
        double s = 1.0 / sqrt(variance[i] + WHITEN_FLOOR * variance[0]);
        for (int j = 0; j < d; j++)
            v[j] = (float)(v[j] * s);
    }
    float *bias = params + (size_t)k * d;
    for (int i = 0; rc == P4_OK && i < k; i++) {
        double dot = 0;
        for (int j = 0; j < d; j++)
            dot += (double)params[(size_t)i * d + j] * mean[j];
        bias[i] = (float)-dot;
    }
    free(mean);
    free(variance);
    return rc;
}

/* public-pca(-whiten): the projection of the public set's pixels. */
static int compute(const p4_peer_setup *setup, int inputs, int k, float *params, p4_error *err)
{
    const p4_config *cfg = setup->cfg;
    int n = setup->public_n;
    float *x = NULL;
    int rc = check_public_count(cfg, k, n, err);
    if (rc == P4_OK)
        rc = p4_public_set_pick(cfg, setup->work, n, &x, err);
    if (rc == P4_OK)
        rc = fit_projection(cfg, x, n, inputs, k,
                            strcmp(cfg->proxy_projection, "public-pca-whiten") == 0, params, err);
    free(x);
    return rc;
}

int p4_peer_projection_layers(const p4_config *cfg)
{
    if (!cfg || strcmp(cfg->proxy_projection, "none") == 0)
        return 0;
    if (strcmp(cfg->proxy_projection, "wavelet") == 0)
        return 2;
    return strcmp(cfg->proxy_projection, "wavelet-pca") == 0 ? 3 : 1;
}

/* wavelet: layers 0 and 1 of the proxy's cfg as model/wavelet.h's A and B,
 * their parameters (contiguous in the proxy vector) into params. */
static int wavelet_fill(const p4_peer_setup *setup, size_t count, float *params,
                        size_t *filled, p4_cfg_summary *sum, p4_error *err)
{
    const p4_config *cfg = setup->cfg;
    const p4_dataset *train = setup->work->train;
    p4_cfg_shape shape = { train->width, train->height, train->channels, train->classes };
    char *text = NULL;
    int rc = p4_cfg_prepare(cfg->proxy_cfg, &shape, 1, &text, sum, err);
    free(text);
    const p4_cfg_layer *a = &sum->layer[0], *b = &sum->layer[1];
    p4_wavelet_shape w = { .channels = shape.channels };
    if (rc == P4_OK && (sum->layers < 3 || a->kind != P4_LAYER_CONVOLUTIONAL ||
                        b->kind != P4_LAYER_CONVOLUTIONAL || b->out_w < 1 ||
                        b->in_w % b->out_w || b->in_h % b->out_h ||
                        b->in_w / b->out_w != b->in_h / b->out_h))
        rc = p4_error_set(err, P4_ECONFIG, "%s: [model] proxy_projection = wavelet needs a proxy "
                          "(%s) whose first two layers are [convolutional]: the filter bank and "
                          "a pool of size = stride, pad 0", cfg->path, cfg->proxy_cfg);
    if (rc == P4_OK) {
        w.pool = b->in_w / b->out_w;
        long long per_filter = a->params / a->out_c - 1;
        w.size = (int)lround(sqrt((double)per_filter / shape.channels));
        rc = p4_wavelet_scales_for(a->out_c, shape.channels, &w.scales, err);
        if (rc == P4_OK && (b->out_c != p4_wavelet_filters_b(&w) ||
                            (long long)w.size * w.size * shape.channels != per_filter))
            rc = p4_error_set(err, P4_ECONFIG, "%s: [model] proxy_projection = wavelet: %s's "
                              "second layer needs %d filters (8 orientations x %d scales + %d "
                              "channels), it has %d", cfg->path, cfg->proxy_cfg,
                              p4_wavelet_filters_b(&w), w.scales, shape.channels, b->out_c);
    }
    if (rc == P4_OK && (size_t)a->params + (size_t)b->params > count)
        rc = p4_error_set(err, P4_EMODEL, "wavelet: the proxy's frozen layers hold %zu floats, "
                          "its first two alone %d + %d", count, a->params, b->params);
    if (rc == P4_OK)
        rc = p4_wavelet_fill(&w, params, (size_t)a->params, params + a->params,
                             (size_t)b->params, err);
    *filled = (size_t)a->params + (size_t)b->params;
    return rc;
}

/* wavelet-pca: the wavelet front end, then layer 2 ([connected] from its
 * d pooled features to K, linear) the top-K principal directions of the
 * public set's features, centred on their mean (as public-pca does on
 * pixels).  The features come from the proxy model itself, run forward with
 * the front end in place. */
static int wavelet_pca_fill(const p4_peer_setup *setup, size_t count, float *params,
                            p4_error *err)
{
    const p4_config *cfg = setup->cfg;
    const p4_dataset *train = setup->work->train;
    p4_cfg_shape shape = { train->width, train->height, train->channels, train->classes };
    p4_cfg_summary *sum = malloc(sizeof *sum);
    if (!sum)
        return p4_error_set(err, P4_ENOMEM, "out of memory for the proxy's summary");
    size_t filled = 0;
    int rc = wavelet_fill(setup, count, params, &filled, sum, err);
    const p4_cfg_layer *c = &sum->layer[2];
    int d = c->in_w * c->in_h * c->in_c, k = c->out_c, n = setup->public_n;
    if (rc == P4_OK && (sum->layers < 4 || c->kind != P4_LAYER_CONNECTED ||
                        filled + (size_t)d * k + k != count || k >= d))
        rc = p4_error_set(err, P4_ECONFIG, "%s: [model] proxy_projection = wavelet-pca needs a "
                          "proxy (%s) whose third layer is [connected] from the pooled features "
                          "to fewer outputs, with a trainable layer above it", cfg->path,
                          cfg->proxy_cfg);
    if (rc == P4_OK)
        rc = check_public_count(cfg, k, n, err);
    enum { CHUNK = 50 };
    p4_model *model = NULL;
    float *x = NULL, *features = NULL, *all = NULL;
    if (rc == P4_OK)
        rc = p4_model_new(&model, cfg->proxy_cfg, &shape, CHUNK, cfg->seed, err);
    size_t total = model ? p4_model_param_count(model) : 0;
    if (rc == P4_OK && (!(all = malloc(total * sizeof(float))) ||
                        !(features = malloc((size_t)n * d * sizeof(float)))))
        rc = p4_error_set(err, P4_ENOMEM, "out of memory for the wavelet features");
    if (rc == P4_OK && (rc = p4_model_get_params(model, all, total)) == P4_OK) {
        memcpy(all, params, filled * sizeof(float)); /* the first layers start the vector */
        rc = p4_model_set_params(model, all, total);
    }
    if (rc != P4_OK && err && !err->message[0])
        p4_error_set(err, rc, "wavelet-pca: cannot set up the proxy for the public features");
    if (rc == P4_OK)
        rc = p4_public_set_pick(cfg, setup->work, n, &x, err);
    int inputs = shape.width * shape.height * shape.channels;
    int chunk = model ? p4_model_capacity(model) : 1; /* a pass's examples */
    for (int i = 0; rc == P4_OK && i < n; i += chunk) {
        int m = n - i < chunk ? n - i : chunk, outputs = 0;
        if ((rc = p4_model_load_inputs(model, x + (size_t)i * inputs, m)) == P4_OK &&
            (rc = p4_model_forward(model, 0)) == P4_OK) {
            const float *out = p4_model_layer_output(model, 1, &outputs);
            if (!out || outputs != d)
                rc = p4_error_set(err, P4_EMODEL, "wavelet-pca: the pool gives %d features, "
                                  "the [connected] layer reads %d", outputs, d);
            else
                memcpy(features + (size_t)i * d, out, (size_t)m * d * sizeof(float));
        } else {
            p4_error_set(err, rc, "wavelet-pca: cannot run the public set through the proxy");
        }
    }
    if (rc == P4_OK)
        rc = fit_projection(cfg, features, n, d, k, 0, params + filled, err);
    p4_model_destroy(&model);
    free(x);
    free(features);
    free(all);
    free(sum);
    return rc;
}

static int wavelet_only_fill(const p4_peer_setup *setup, size_t count, float *params,
                             p4_error *err)
{
    p4_cfg_summary *sum = malloc(sizeof *sum);
    size_t filled = 0;
    int rc = sum ? wavelet_fill(setup, count, params, &filled, sum, err)
                 : p4_error_set(err, P4_ENOMEM, "out of memory for the proxy's summary");
    if (rc == P4_OK && filled != count)
        rc = p4_error_set(err, P4_EMODEL, "wavelet: the proxy's first two layers hold %zu "
                          "floats, the front end %zu", count, filled);
    free(sum);
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
    int frozen = p4_peer_projection_layers(cfg), wavelet = frozen >= 2;
    if (wavelet) {
        /* the frozen layers are written as one block */
        if (p4_client_proxy_layer(client, frozen, &o1, &l1) != P4_OK ||
            p4_client_proxy_layer(client, 0, &offset, &length) != P4_OK)
            return p4_error_set(err, P4_ECONFIG, "%s: [model] proxy_projection = %s needs a "
                                "proxy (%s) with a trainable layer above its first %d",
                                cfg->path, cfg->proxy_projection, cfg->proxy_cfg, frozen);
        length = o1 - offset;
    } else if (p4_client_proxy_layer(client, 0, &offset, &length) != P4_OK ||
        p4_client_proxy_layer(client, 1, &o1, &l1) != P4_OK || length % (size_t)(inputs + 1) ||
        length / (size_t)(inputs + 1) >= (size_t)inputs)
        return p4_error_set(err, P4_ECONFIG, "%s: [model] proxy_projection = %s needs a proxy "
                            "(%s) whose first layer is [connected] from the %d inputs to fewer "
                            "outputs, with a trainable layer above it", cfg->path,
                            cfg->proxy_projection, cfg->proxy_cfg, inputs);
    p4_public_cache own = { 0 }, *cache = setup->public_cache ? setup->public_cache : &own;
    int rc = P4_OK;
    if (!cache->params) {
        if (!(cache->params = malloc(length * sizeof(float))))
            return p4_error_set(err, P4_ENOMEM, "out of memory for the projection");
        cache->count = length;
        rc = frozen == 3  ? wavelet_pca_fill(setup, length, cache->params, err)
             : wavelet    ? wavelet_only_fill(setup, length, cache->params, err)
                     : compute(setup, inputs, (int)(length / (size_t)(inputs + 1)), cache->params,
                               err);
        if (rc != P4_OK) {
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
