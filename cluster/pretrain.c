/* pretrain.c: [model] proxy_init / private_init = public-pretrain.
 *
 * The model's initial weights are trained with plain (non-DP) SGD on the
 * labeled public set (p4_public_set_indices: training examples no client
 * holds, [p4] public_count of them) for [model] pretrain_epochs epochs.
 * Its inputs and labels are public, so this costs no privacy and the
 * ledger is unchanged; the DP warm-up and co-training then start from
 * these weights.  Everything is drawn from the config's seed alone (the
 * proxy starts from the weights every client's random proxy would have,
 * the private model from client 0's), so every client gets the same
 * weights whatever its own data: the caller computes them once
 * (p4_public_cache) and every client copies them. */
#include <stdlib.h>
#include <string.h>

#include "cluster/peer.h"
#include "model/model.h"
#include "model/optimizer.h"
#include "model/trainer.h"

enum { PRIVATE = 0, PROXY = 1 };

void p4_public_cache_free(p4_public_cache *cache)
{
    if (!cache)
        return;
    free(cache->params);
    for (int m = 0; m < 2; m++)
        free(cache->pretrained[m]);
    *cache = (p4_public_cache){ 0 };
}

static int wanted(const p4_peer_setup *setup, int which)
{
    const p4_config *cfg = setup->cfg;
    if (which == PROXY)
        return strcmp(cfg->proxy_init, "public-pretrain") == 0 &&
               setup->method != P4_METHOD_LOCAL; /* local-only trains no proxy */
    return strcmp(cfg->private_init, "public-pretrain") == 0 &&
           setup->method != P4_METHOD_FEDAVG_DP; /* FedAvg-DP trains no private model */
}

/* Trains model `which` from its seeded initialisation on the public set
 * and returns its parameters (*out, *count; free with free()). */
static int pretrain(const p4_peer_setup *setup, int which, float **out, size_t *count,
                    p4_error *err)
{
    const p4_config *cfg = setup->cfg;
    const p4_dataset *train = setup->work->train;
    const char *path = which == PROXY && cfg->proxy_cfg[0] ? cfg->proxy_cfg : cfg->model_cfg;
    /* The seeds p4_client_new draws the proxy (any client) and client 0's
     * private model from. */
    uint64_t seed = which == PROXY ? cfg->seed : cfg->seed * 1000003u + 1u;
    double rate = cfg->pretrain_learning_rate > 0 ? cfg->pretrain_learning_rate
                  : which == PROXY && cfg->proxy_learning_rate > 0 ? cfg->proxy_learning_rate
                                                                   : cfg->learning_rate;
    int n = setup->public_n;
    p4_cfg_shape shape = { train->width, train->height, train->channels, train->classes };
    p4_model *model = NULL;
    p4_sgd *sgd = NULL;
    int *idx = NULL;
    p4_rng rng;
    int rc = p4_public_set_indices(cfg, setup->work, n, &idx, err);
    if (rc == P4_OK)
        rc = p4_model_new(&model, path, &shape, cfg->batch, seed, err);
    if (rc == P4_OK)
        rc = p4_sgd_new(&sgd, model, rate, cfg->momentum, cfg->weight_decay, err);
    if (rc == P4_OK &&
        (rc = p4_rng_init_seeded(&rng, cfg->seed, which == PROXY ? "public-pretrain-proxy"
                                                                 : "public-pretrain-private")) != P4_OK)
        p4_error_set(err, rc, "public-pretrain: cannot key the batch order");
    for (int e = 0; rc == P4_OK && e < cfg->pretrain_epochs; e++)
        rc = p4_train_epoch(model, sgd, train, idx, n, &rng, NULL, NULL, NULL, err);
    if (rc == P4_OK) {
        *count = p4_model_param_count(model);
        if (!(*out = malloc(*count * sizeof(float))))
            rc = p4_error_set(err, P4_ENOMEM, "out of memory for the pretrained weights");
        else if ((rc = p4_model_get_params(model, *out, *count)) != P4_OK) {
            free(*out);
            *out = NULL;
        }
    }
    p4_sgd_destroy(&sgd);
    p4_model_destroy(&model);
    free(idx);
    return rc;
}

int p4_peer_install_pretrained(const p4_peer_setup *setup, p4_client *client, p4_error *err)
{
    if (!setup || !setup->cfg || !setup->work || !client)
        return p4_error_set(err, P4_EINVAL, "pretrain: bad arguments");
    p4_public_cache own = { 0 }, *cache = setup->public_cache ? setup->public_cache : &own;
    int rc = P4_OK;
    for (int which = PRIVATE; rc == P4_OK && which <= PROXY; which++) {
        if (!wanted(setup, which))
            continue;
        if (!cache->pretrained[which])
            rc = pretrain(setup, which, &cache->pretrained[which],
                          &cache->pretrained_count[which], err);
        if (rc != P4_OK)
            break;
        size_t size = which == PROXY ? p4_client_proxy_size(client)
                                     : p4_client_model_size(client, P4_MODEL_PRIVATE);
        if (size != cache->pretrained_count[which]) {
            rc = p4_error_set(err, P4_EMODEL, "pretrain: cached %zu weights, client %d's %s has "
                              "%zu", cache->pretrained_count[which], p4_client_id(client),
                              which == PROXY ? "proxy" : "private model", size);
            break;
        }
        rc = which == PROXY ? p4_client_set_proxy(client, cache->pretrained[which], size)
                            : p4_client_set_private(client, cache->pretrained[which], size);
        if (rc != P4_OK)
            p4_error_set(err, rc, "client %d: cannot write the pretrained weights into its %s",
                         p4_client_id(client), which == PROXY ? "proxy" : "private model");
    }
    if (cache == &own)
        p4_public_cache_free(&own);
    return rc;
}
