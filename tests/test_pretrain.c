/* test_pretrain.c: [model] proxy_init / private_init = public-pretrain and
 * proxy_frozen_layers (cluster/pretrain.c, through p4_peer_open).
 *   - the pretrained weights read only the public set: they are the same
 *     in every client, and the same when every client's training examples
 *     are relabelled, but change when a public example is (so the check
 *     can fail); and pretraining moved them from the random start;
 *   - the ledger records exactly the steps, at the same (q, sigma), with the
 *     options as without them;
 *   - the frozen layers stay byte-identical through a DP warm-up and DP
 *     co-training, while the layer above moves. */
#include "support/test_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster/peer.h"

#define FMNIST "/usr/share/datasets/fashion-mnist"
#define PUBLIC_N 60

typedef struct {
    p4_config cfg;
    p4_workload *work;
    p4_peer_setup setup;
    p4_public_cache cache;
    p4_peer_plan plan;
    p4_peer peer[2];
} pair;

static void pair_open_peers(pair *p, const char *dir)
{
    p4_error err = {0};
    for (int k = 0; k < 2; k++) {
        char db[1200];
        snprintf(db, sizeof db, "%s/client-%03d.db", dir, k);
        unlink(db);
        if (p4_peer_open(&p->peer[k], &p->setup, k, &p->plan, &err) != P4_OK)
            fail_msg("%s", err.message);
    }
}

/* Two clients of a small fmnist config; `extra` goes into [model]. */
static void pair_open(pair *p, const char *dir, const char *name, const char *proxy,
                      const char *extra, int open_peers)
{
    const char *src = getenv("P4_SOURCE_DIR") ? getenv("P4_SOURCE_DIR") : ".";
    char path[1024], text[2048];
    snprintf(path, sizeof path, "%s/%s.ini", dir, name);
    snprintf(text, sizeof text,
             "[data]\ndataset = fashion-mnist\npartition = clustered\nclients = 2\nclusters = 1\n"
             "cluster_classes = 0,1,2\ntrain_per_client = 30\ntest_per_client = 20\n"
             "max_train = 2000\nmax_test = 500\nseed = 5\n"
             "[model]\ncfg = %s/configs/models/mlp-28x28x1.cfg\n"
             "proxy_cfg = %s/configs/models/%s\nbatch = 10\nseed = 5\n"
             "pretrain_epochs = 2\n%s\n"
             "[dp]\ntarget_epsilon = 8\n[p4]\nrounds = 2\ngroup_size = 2\npublic_count = %d\n",
             src, src, proxy, extra, PUBLIC_N);
    assert_int_equal(test_write_file(path, text, strlen(text)), 0);
    memset(p, 0, sizeof *p);
    p4_error err = {0};
    if (p4_config_load(path, &p->cfg, &err) != P4_OK ||
        p4_workload_load(&p->cfg, &p->work, &err) != P4_OK)
        fail_msg("%s", err.message);
    p->setup = (p4_peer_setup){ .cfg = &p->cfg, .work = p->work, .method = P4_METHOD_P4,
                                .epsilon = 8.0, .reproducible = 1, .state_dir = dir,
                                .public_n = PUBLIC_N, .public_cache = &p->cache };
    p->plan.q = -1;
    if (open_peers)
        pair_open_peers(p, dir);
}

static void pair_close(pair *p)
{
    for (int k = 0; k < 2; k++)
        p4_peer_close(&p->peer[k]);
    p4_public_cache_free(&p->cache);
    p4_workload_destroy(&p->work);
}

static float *model_of(const p4_peer *peer, p4_which_model which, size_t *n)
{
    *n = p4_client_model_size(peer->client, which);
    float *v = malloc(*n * sizeof(float));
    assert_non_null(v);
    assert_int_equal(p4_client_get_model(peer->client, which, v, *n), P4_OK);
    return v;
}

static int same_model(const p4_peer *a, const p4_peer *b, p4_which_model which)
{
    size_t na, nb;
    float *va = model_of(a, which, &na), *vb = model_of(b, which, &nb);
    int same = na == nb && memcmp(va, vb, na * sizeof(float)) == 0;
    free(va);
    free(vb);
    return same;
}

/* Every client training example's label moved to the next class (the
 * public set's untouched), or only public example `public_at`'s. */
static void relabel(pair *p, int public_at)
{
    p4_dataset *train = p->work->train;
    if (public_at >= 0) {
        int *idx = NULL;
        assert_int_equal(p4_public_set_indices(&p->cfg, p->work, PUBLIC_N, &idx, NULL), P4_OK);
        for (int i = 0; i < PUBLIC_N; i++)
            train->labels[idx[i]] = (uint16_t)((train->labels[idx[i]] + 1) % train->classes);
        free(idx);
        return;
    }
    for (int k = 0; k < p->work->partition->clients; k++) {
        const p4_client_split *s = &p->work->partition->split[k];
        for (int j = 0; j < s->train_count; j++) {
            int i = s->train[j];
            train->labels[i] = (uint16_t)((train->labels[i] + 1) % train->classes);
            memset(train->pixels + (size_t)i * p4_dataset_example_size(train), 0,
                   p4_dataset_example_size(train));
        }
    }
}

static void test_pretraining_reads_only_the_public_set(void **state)
{
    if (!test_dataset_path(FMNIST)) TEST_SKIP(FMNIST " is absent");
    const char *dir = *state;
    const char *on = "proxy_init = public-pretrain\nprivate_init = public-pretrain\n";
    pair a, b, c, random;
    pair_open(&a, dir, "a", "logreg-28x28x1.cfg", on, 1);
    for (int m = 0; m < 2; m++)
        if (!same_model(&a.peer[0], &a.peer[1], m ? P4_MODEL_PROXY : P4_MODEL_PRIVATE))
            fail_msg("the two clients' pretrained %s differ", m ? "proxies" : "private models");
    /* The random start: the proxies agree, the private models do not. */
    pair_open(&random, dir, "random", "logreg-28x28x1.cfg", "", 1);
    if (same_model(&a.peer[0], &random.peer[0], P4_MODEL_PROXY) ||
        same_model(&a.peer[0], &random.peer[0], P4_MODEL_PRIVATE))
        fail_msg("public-pretrain left a model at its random initialisation");
    if (same_model(&random.peer[0], &random.peer[1], P4_MODEL_PRIVATE))
        fail_msg("random private models agree: the same-weights check above proves nothing");
    /* Every client's private data changed: the same pretrained weights. */
    pair_open(&b, dir, "b", "logreg-28x28x1.cfg", on, 0);
    relabel(&b, -1);
    pair_open_peers(&b, dir);
    for (int m = 0; m < 2; m++)
        if (!same_model(&a.peer[0], &b.peer[1], m ? P4_MODEL_PROXY : P4_MODEL_PRIVATE))
            fail_msg("the pretrained %s changed with the clients' private data",
                     m ? "proxy" : "private model");
    /* The public labels changed: different weights, so the check can fail. */
    pair_open(&c, dir, "c", "logreg-28x28x1.cfg", on, 0);
    relabel(&c, 0);
    pair_open_peers(&c, dir);
    if (same_model(&a.peer[0], &c.peer[0], P4_MODEL_PROXY) ||
        same_model(&a.peer[0], &c.peer[0], P4_MODEL_PRIVATE))
        fail_msg("the pretrained weights ignore the public labels");
    pair_close(&a);
    pair_close(&b);
    pair_close(&c);
    pair_close(&random);
}

/* A DP warm-up and two co-training epochs of client 0, then its ledger's
 * phases (*n of them) and the proxy before and after. */
static p4_dp_phase *run_client(pair *p, float **before, float **after, size_t *size, int *n)
{
    p4_client *client = p->peer[0].client;
    p4_error err = {0};
    *before = model_of(&p->peer[0], P4_MODEL_PROXY, size);
    if (p4_client_warmup(client, 1, &err) != P4_OK ||
        p4_client_local(client, P4_LOCAL_COTRAIN, 2, &err) != P4_OK)
        fail_msg("%s", err.message);
    *after = model_of(&p->peer[0], P4_MODEL_PROXY, size);
    p4_dp_phase *phases = NULL;
    assert_int_equal(p4_ledger_phases(p->peer[0].ledger, 0, &phases, n, NULL), P4_OK);
    return phases;
}

static void test_ledger_and_frozen_layers(void **state)
{
    if (!test_dataset_path(FMNIST)) TEST_SKIP(FMNIST " is absent");
    const char *dir = *state;
    pair plain, pre;
    float *b0, *a0, *b1, *a1;
    size_t size0, size1;
    int n0, n1;
    pair_open(&plain, dir, "plain", "mlp-28x28x1.cfg", "", 1);
    p4_dp_phase *p0 = run_client(&plain, &b0, &a0, &size0, &n0);
    pair_close(&plain);
    pair_open(&pre, dir, "pre", "mlp-28x28x1.cfg",
              "proxy_init = public-pretrain\nproxy_frozen_layers = 2\n", 1);
    size_t off2, len2, off0, len0;
    assert_int_equal(p4_client_proxy_layer(pre.peer[0].client, 0, &off0, &len0), P4_OK);
    assert_int_equal(p4_client_proxy_layer(pre.peer[0].client, 2, &off2, &len2), P4_OK);
    p4_dp_phase *p1 = run_client(&pre, &b1, &a1, &size1, &n1);
    pair_close(&pre);
    /* The ledger: the same phases, steps, q and sigma. */
    assert_int_equal(n0, n1);
    assert_true(n0 >= 2);
    for (int i = 0; i < n0; i++) {
        assert_int_equal(p0[i].steps, p1[i].steps);
        assert_true(p0[i].sample_rate == p1[i].sample_rate);
        assert_true(p0[i].noise_multiplier == p1[i].noise_multiplier);
    }
    /* Frozen: the first two layers (everything below off2) byte-identical;
     * the top moved.  Unfrozen, the first layer moved. */
    assert_int_equal(size0, size1);
    if (memcmp(b1, a1, off2 * sizeof(float)) != 0)
        fail_msg("DP-SGD changed the frozen layers");
    if (memcmp(b1 + off2, a1 + off2, len2 * sizeof(float)) == 0)
        fail_msg("the layer above the frozen ones did not move");
    if (memcmp(b0 + off0, a0 + off0, len0 * sizeof(float)) == 0)
        fail_msg("the unfrozen first layer did not move: the frozen check proves nothing");
    free(p0); free(p1);
    free(b0); free(a0); free(b1); free(a1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pretraining_reads_only_the_public_set,
                                        test_temp_dir_setup, test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(test_ledger_and_frozen_layers, test_temp_dir_setup,
                                        test_temp_dir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
