/* test_config.c: the INI config parser: defaults, every field, every error
 * class with its file:line and key, path resolution, cluster class sets, and
 * that docs/config.md shows the key table the parser uses. */
#include "support/test_support.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/config.h"

typedef struct fixture {
    char *dir;
    char path[PATH_MAX];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (f == NULL || (f->dir = test_make_temp_dir()) == NULL)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    test_remove_tree(f->dir);
    free(f);
    return 0;
}

/* Writes text to <tmp>/<name> and returns its path (in f->path). */
static const char *write_ini(fixture *f, const char *name, const char *text)
{
    test_write_text(f->dir, name, text, f->path, sizeof f->path);
    return f->path;
}

/* Loads text and expects P4_ECONFIG whose message starts with
 * "<path>:<line>: " (or "<path>: " for line 0) and contains every needle. */
static void expect_config_error(fixture *f, const char *text, int line,
                                const char *needle1, const char *needle2)
{
    const char *path = write_ini(f, "bad.ini", text);
    p4_config cfg;
    p4_error err;
    p4_error_clear(&err);
    int rc = p4_config_load(path, &cfg, &err);
    print_message("message: %s\n", err.message);
    assert_int_equal(rc, P4_ECONFIG);
    assert_int_equal(err.code, P4_ECONFIG);
    char prefix[PATH_MAX + 32];
    if (line > 0)
        snprintf(prefix, sizeof prefix, "%s:%d: ", path, line);
    else
        snprintf(prefix, sizeof prefix, "%s: ", path);
    assert_true(strncmp(err.message, prefix, strlen(prefix)) == 0);
    if (needle1 != NULL)
        assert_non_null(strstr(err.message, needle1));
    if (needle2 != NULL)
        assert_non_null(strstr(err.message, needle2));
}

#define MINIMAL "[data]\ndataset = fashion-mnist\n[model]\ncfg = m.cfg\n"

static void test_defaults(void **state)
{
    (void)state;
    p4_config cfg;
    memset(&cfg, 0x5a, sizeof cfg);
    p4_config_defaults(&cfg);
    assert_string_equal(cfg.dataset, "");
    assert_int_equal(cfg.max_train, 0);
    assert_int_equal(cfg.partition.kind, P4_PARTITION_IID);
    assert_int_equal(cfg.partition.clients, 1);
    assert_int_equal(cfg.partition.train_per_client, 0);
    assert_true(cfg.partition.seed == 1);
    assert_int_equal(cfg.epochs, 5);
    assert_int_equal(cfg.batch, 64);
    assert_true(cfg.learning_rate == 0.05);
    assert_true(cfg.momentum == 0.9);
    assert_true(cfg.weight_decay == 0);
    assert_true(cfg.seed == 1);
    assert_int_equal(cfg.dp_enabled, 0);
    assert_true(cfg.noise_multiplier == -1);
    assert_true(cfg.clip_norm == 1.0);
    assert_true(cfg.delta == 1e-5);
    assert_string_equal(cfg.state, "");
    assert_int_equal(cfg.rounds, 10);
    assert_int_equal(cfg.local_epochs, 1);
    assert_int_equal(cfg.warmup_epochs, 1);
    assert_int_equal(cfg.group_size, 4);
    assert_int_equal(cfg.sample_peers, 0);
    assert_string_equal(cfg.distance_layers, "last");
    assert_true(cfg.kd_alpha == 0.5);
    assert_true(cfg.kd_temperature == 1.0);
    assert_string_equal(cfg.aggregate, "mean");
    assert_string_equal(cfg.noise_layout, "chunked");
    assert_int_equal(cfg.augmentations, 1);
    assert_string_equal(cfg.proxy_projection, "none");
    assert_int_equal(cfg.krum_f, 0);
    assert_string_equal(cfg.share, "weights");
    assert_int_equal(cfg.strict_dp, 1);
    assert_int_equal(cfg.public_count, 500);
    assert_string_equal(cfg.method, "p4");
}

static void test_minimal_file_gets_defaults_and_dataset_path(void **state)
{
    fixture *f = *state;
    const char *path = write_ini(f, "min.ini", MINIMAL);
    p4_config cfg;
    p4_error err;
    assert_int_equal(p4_config_load(path, &cfg, &err), P4_OK);
    assert_string_equal(cfg.path, path);
    assert_string_equal(cfg.dataset, "fashion-mnist");
    assert_string_equal(cfg.data_path, "/usr/share/datasets/fashion-mnist");
    char expect[PATH_MAX];
    snprintf(expect, sizeof expect, "%s/m.cfg", f->dir);
    assert_string_equal(cfg.model_cfg, expect);
    assert_string_equal(cfg.proxy_cfg, expect); /* defaults to cfg */
    assert_int_equal(cfg.dp_enabled, 0);
    assert_int_equal(cfg.epochs, 5);
    assert_string_equal(cfg.method, "p4");
}

static void test_full_file_sets_every_field(void **state)
{
    fixture *f = *state;
    const char *path = write_ini(f, "full.ini",
        "; every key\n"
        "[data]\n"
        "dataset = femnist\n"
        "path = /data/femnist\n"
        "max_train = 1000\n"
        "max_test = 200   ; inline comment\n"
        "partition = clustered\n"
        "clients = 12\n"
        "train_per_client = 50\n"
        "test_per_client = 10\n"
        "seed = 18446744073709551615\n"
        "major_fraction = 0.8\n"
        "alpha = 0.3\n"
        "clusters = 3\n"
        "classes_per_cluster = 4\n"
        "cluster_classes = 0,1,2,3; 10,11,12,13; 61,60,59,58\n"
        "\n"
        "[model]\n"
        "cfg = /models/cnn.cfg\n"
        "proxy_cfg = /models/mlp.cfg\n"
        "epochs = 7\n"
        "batch = 32\n"
        "learning_rate = 1e-2\n"
        "momentum = 0\n"
        "weight_decay = 5e-4\n"
        "seed = 99\n"
        "# hash comments too\n"
        "[dp]\n"
        "enabled = yes\n"
        "noise_multiplier = 1.1\n"
        "clip_norm = 0.5\n"
        "sample_rate = 0.01\n"
        "delta = 1e-6\n"
        "state = ledger.db\n"
        "noise_layout = serial\n"
        "[p4]\n"
        "rounds = 20\n"
        "local_epochs = 2\n"
        "warmup_epochs = 0\n"
        "group_size = 3\n"
        "sample_peers = 8\n"
        "distance_layers = first\n"
        "kd_alpha = 1\n"
        "kd_temperature = 2.5\n"
        "aggregate = multikrum\n"
        "krum_f = 1\n"
        "share = logits\n"
        "strict_dp = 0\n"
        "public_count = 7\n"
        "method = proxyfl\n");
    p4_config cfg;
    p4_error err;
    int rc = p4_config_load(path, &cfg, &err);
    if (rc != P4_OK)
        print_message("%s\n", err.message);
    assert_int_equal(rc, P4_OK);

    assert_string_equal(cfg.dataset, "femnist");
    assert_string_equal(cfg.data_path, "/data/femnist");
    assert_int_equal(cfg.max_train, 1000);
    assert_int_equal(cfg.max_test, 200);
    const p4_partition_spec *p = &cfg.partition;
    assert_int_equal(p->kind, P4_PARTITION_CLUSTERED);
    assert_int_equal(p->clients, 12);
    assert_int_equal(p->train_per_client, 50);
    assert_int_equal(p->test_per_client, 10);
    assert_true(p->seed == UINT64_MAX);
    assert_true(p->major_fraction == 0.8);
    assert_true(p->alpha == 0.3);
    assert_int_equal(p->clusters, 3);
    assert_int_equal(p->classes_per_cluster, 4);
    assert_int_equal(p->cluster_class_count[0], 4);
    assert_int_equal(p->cluster_class_count[2], 4);
    assert_int_equal(p->cluster_class_count[3], 0);
    assert_int_equal(p->cluster_classes[1][0], 10);
    assert_int_equal(p->cluster_classes[2][3], 58);

    assert_string_equal(cfg.model_cfg, "/models/cnn.cfg");
    assert_string_equal(cfg.proxy_cfg, "/models/mlp.cfg");
    assert_int_equal(cfg.epochs, 7);
    assert_int_equal(cfg.batch, 32);
    assert_true(cfg.learning_rate == 1e-2);
    assert_true(cfg.momentum == 0);
    assert_true(cfg.weight_decay == 5e-4);
    assert_true(cfg.seed == 99);

    assert_int_equal(cfg.dp_enabled, 1);
    assert_true(cfg.noise_multiplier == 1.1);
    assert_true(cfg.target_epsilon == 0);
    assert_true(cfg.clip_norm == 0.5);
    assert_true(cfg.sample_rate == 0.01);
    assert_true(cfg.delta == 1e-6);
    char ledger[PATH_MAX];
    snprintf(ledger, sizeof ledger, "%s/ledger.db", f->dir);
    assert_string_equal(cfg.state, ledger);

    assert_int_equal(cfg.rounds, 20);
    assert_int_equal(cfg.local_epochs, 2);
    assert_int_equal(cfg.warmup_epochs, 0);
    assert_int_equal(cfg.group_size, 3);
    assert_int_equal(cfg.sample_peers, 8);
    assert_string_equal(cfg.distance_layers, "first");
    assert_true(cfg.kd_alpha == 1);
    assert_true(cfg.kd_temperature == 2.5);
    assert_string_equal(cfg.aggregate, "multikrum");
    assert_string_equal(cfg.noise_layout, "serial");
    assert_int_equal(cfg.krum_f, 1);
    assert_string_equal(cfg.share, "logits");
    assert_int_equal(cfg.strict_dp, 0);
    assert_int_equal(cfg.public_count, 7);
    assert_string_equal(cfg.method, "proxyfl");
}

static void test_unknown_key(void **state)
{
    expect_config_error(*state, MINIMAL "epoch = 3\n", 5,
                        "[model] epoch = 3: unknown key", "epochs");
}

/* No config file may seed the DP noise: the key is gone, with a pointer to
 * the command-line flag that does it (and marks the run not private). */
static void test_noise_seeded_is_refused(void **state)
{
    expect_config_error(*state, MINIMAL "[dp]\ntarget_epsilon = 1\nnoise_seeded = true\n", 7,
                        "[dp] noise_seeded = true: removed", "--reproducible");
}

static void test_unknown_section(void **state)
{
    expect_config_error(*state, MINIMAL "[training]\nepochs = 3\n", 5,
                        "[training]: unknown section", NULL);
    /* an unknown section is an error even with no keys under it */
    expect_config_error(*state, "[data]\ndataset = femnist\n\n[extra]\n", 4,
                        "[extra]: unknown section", NULL);
}

static void test_key_outside_section(void **state)
{
    expect_config_error(*state, "dataset = femnist\n" MINIMAL, 1,
                        "dataset = femnist: key outside any section", NULL);
}

static void test_bad_number(void **state)
{
    expect_config_error(*state, MINIMAL "epochs = five\n", 5,
                        "[model] epochs = five: not an integer", NULL);
    expect_config_error(*state, MINIMAL "learning_rate = fast\n", 5,
                        "[model] learning_rate = fast: not a number", NULL);
    expect_config_error(*state, MINIMAL "learning_rate = inf\n", 5,
                        "learning_rate = inf: not a number", NULL);
    expect_config_error(*state, MINIMAL "[p4]\npublic_count = 0\n", 6,
                        "[p4] public_count = 0: must be >= 1", NULL);
    expect_config_error(*state, MINIMAL "seed = -1\n", 5,
                        "[model] seed = -1: not an unsigned integer", NULL);
    expect_config_error(*state, MINIMAL "seed = 18446744073709551616\n", 5,
                        "seed = 18446744073709551616: must be < 2^64", NULL);
}

static void test_trailing_garbage(void **state)
{
    expect_config_error(*state, MINIMAL "learning_rate = 1.5x\n", 5,
                        "[model] learning_rate = 1.5x: not a number", NULL);
    expect_config_error(*state, MINIMAL "batch = 64 # sixty-four\n", 5,
                        "[model] batch = 64 # sixty-four: not an integer", NULL);
    expect_config_error(*state, "[data]\ndataset = fashion-mnist\nclients = 4x\n", 3,
                        "[data] clients = 4x: not an integer", NULL);
}

static void test_empty_value(void **state)
{
    expect_config_error(*state, MINIMAL "proxy_cfg =\n", 5,
                        "[model] proxy_cfg = : empty value", NULL);
}

static void test_out_of_range(void **state)
{
    expect_config_error(*state, "[data]\ndataset = fashion-mnist\nclients = 0\n", 3,
                        "[data] clients = 0: must be in 1..4096", NULL);
    expect_config_error(*state, "[data]\ndataset = fashion-mnist\nclients = 4097\n", 3,
                        "clients = 4097: must be in 1..4096", NULL);
    expect_config_error(*state, MINIMAL "momentum = 1\n", 5,
                        "[model] momentum = 1: must be in [0, 1)", NULL);
    expect_config_error(*state, MINIMAL "learning_rate = 0\n", 5,
                        "learning_rate = 0: must be > 0", NULL);
    expect_config_error(*state, MINIMAL "[dp]\nclip_norm = -1\n", 6,
                        "[dp] clip_norm = -1: must be > 0", NULL);
    expect_config_error(*state, MINIMAL "epochs = 99999999999\n", 5,
                        "epochs = 99999999999: must be in 1..10000", NULL);
    expect_config_error(*state, MINIMAL "[p4]\nrounds = 0\n", 6,
                        "[p4] rounds = 0: must be >= 1", NULL);
}

static void test_bad_enum_and_bool(void **state)
{
    expect_config_error(*state, "[data]\ndataset = mnist\n", 2,
                        "[data] dataset = mnist: must be one of", "fashion-mnist");
    expect_config_error(*state, MINIMAL "[dp]\nenabled = maybe\n", 6,
                        "[dp] enabled = maybe: must be true, false", NULL);
    expect_config_error(*state, MINIMAL "[data]\npartition = random\n", 6,
                        "partition = random: must be one of", "dirichlet");
}

static void test_missing_required_key(void **state)
{
    expect_config_error(*state, "[data]\ndataset = fashion-mnist\n", 0,
                        "missing required key 'cfg' in [model]", NULL);
    expect_config_error(*state, "[model]\ncfg = m.cfg\n", 0,
                        "missing required key 'dataset' in [data]", NULL);
    expect_config_error(*state, "[data]\ndataset = cifar10\n[model]\ncfg = m.cfg\n", 0,
                        "missing required key 'path' in [data]", NULL);
}

static void test_duplicate_key(void **state)
{
    expect_config_error(*state, MINIMAL "epochs = 3\n\nepochs = 4\n", 7,
                        "[model] epochs = 4: duplicate key (first set on line 5)", NULL);
}

static void test_indented_line_is_not_silently_merged(void **state)
{
    /* inih would read the indented line as part of dataset's value */
    expect_config_error(*state, "[data]\ndataset = fashion-mnist\n  clients = 4\n", 3,
                        "continuation of 'dataset'", "leading whitespace");
}

static void test_syntax_error_and_long_line(void **state)
{
    expect_config_error(*state, MINIMAL "epochs 5\n", 5,
                        "'epochs 5': expected '[section]' or 'key = value'", NULL);
    expect_config_error(*state, MINIMAL "[model\n", 5, "expected '[section]'", NULL);
    char text[600];
    snprintf(text, sizeof text, MINIMAL "proxy_cfg = %0300d\nepochs = 1\n", 0);
    expect_config_error(*state, text, 5, "line is longer than", NULL);
}

static void test_dp_needs_exactly_one_of_epsilon_and_noise(void **state)
{
    expect_config_error(*state,
                        MINIMAL "[dp]\ntarget_epsilon = 3\nclip_norm = 1\nnoise_multiplier = 1.1\n",
                        8, "[dp] noise_multiplier = 1.1: set either target_epsilon (line 6)",
                        "choose one");
    expect_config_error(*state, MINIMAL "[dp]\nenabled = true\n", 0,
                        "missing required key 'target_epsilon' or 'noise_multiplier' in [dp]",
                        NULL);
    expect_config_error(*state, MINIMAL "[dp]\nclip_norm = 2\n", 0,
                        "'target_epsilon' or 'noise_multiplier'", NULL);
}

static void test_dp_enabled_rules(void **state)
{
    fixture *f = *state;
    p4_config cfg;
    p4_error err;
    /* any [dp] key turns DP on */
    const char *path = write_ini(f, "dp1.ini", MINIMAL "[dp]\ntarget_epsilon = 8\n");
    assert_int_equal(p4_config_load(path, &cfg, &err), P4_OK);
    assert_int_equal(cfg.dp_enabled, 1);
    assert_true(cfg.target_epsilon == 8);
    assert_true(cfg.noise_multiplier == -1);
    /* unless enabled = false says otherwise; then nothing else is required */
    path = write_ini(f, "dp2.ini", MINIMAL "[dp]\nenabled = no\nclip_norm = 3\n");
    assert_int_equal(p4_config_load(path, &cfg, &err), P4_OK);
    assert_int_equal(cfg.dp_enabled, 0);
    assert_true(cfg.clip_norm == 3);
}

/* [dp] augmentations: 1..16, and refused where the TA clips whole examples. */
static void test_dp_augmentations(void **state)
{
    fixture *f = *state;
    p4_config cfg;
    p4_error err;
    const char *path = write_ini(f, "aug.ini", MINIMAL "[dp]\ntarget_epsilon = 8\naugmentations = 4\n");
    assert_int_equal(p4_config_load(path, &cfg, &err), P4_OK);
    assert_int_equal(cfg.augmentations, 4);
    expect_config_error(f, MINIMAL "[dp]\ntarget_epsilon = 8\naugmentations = 0\n", 7,
                        "[dp] augmentations = 0: must be in 1..16", NULL);
    expect_config_error(f, MINIMAL "[dp]\ntarget_epsilon = 8\naugmentations = 17\n", 7,
                        "[dp] augmentations = 17: must be in 1..16", NULL);
    expect_config_error(f, MINIMAL "[dp]\ntarget_epsilon = 8\naugmentations = 2\n"
                        "[tee]\nbackend = optee\npp_start = 3\npp_end = 5\n", 7,
                        "[dp] augmentations = 2: is not supported with [tee] pp_start = 3",
                        "the TA clips whole examples");
    path = write_ini(f, "aug1.ini", MINIMAL "[dp]\ntarget_epsilon = 8\naugmentations = 1\n"
                     "[tee]\nbackend = optee\npp_start = 3\npp_end = 5\n");
    assert_int_equal(p4_config_load(path, &cfg, &err), P4_OK);
}

/* [model] proxy_projection: refused where the TA trains the proxy's layers. */
static void test_proxy_projection(void **state)
{
    fixture *f = *state;
    p4_config cfg;
    p4_error err;
    const char *path = write_ini(f, "proj.ini", MINIMAL "proxy_projection = public-pca-whiten\n");
    assert_int_equal(p4_config_load(path, &cfg, &err), P4_OK);
    assert_string_equal(cfg.proxy_projection, "public-pca-whiten");
    expect_config_error(f, MINIMAL "proxy_projection = public-pca\n"
                        "[tee]\nbackend = optee\npp_start = 3\npp_end = 5\n", 5,
                        "[model] proxy_projection = public-pca: is not supported with [tee] "
                        "pp_start = 3", "cannot keep a projection frozen");
    path = write_ini(f, "wavelet.ini", MINIMAL "proxy_projection = wavelet\n");
    assert_int_equal(p4_config_load(path, &cfg, &err), P4_OK);
    assert_string_equal(cfg.proxy_projection, "wavelet");
    expect_config_error(f, MINIMAL "proxy_projection = wavelet\n"
                        "[tee]\nbackend = optee\npp_start = 3\npp_end = 5\n", 5,
                        "[model] proxy_projection = wavelet: is not supported with [tee] "
                        "pp_start = 3", "cannot keep a projection frozen");
}

/* [model] proxy_init / private_init / proxy_frozen_layers: off by default;
 * refused where the TA trains the proxy's layers, and proxy_init with a
 * projection (both set the first layer). */
static void test_public_pretrain(void **state)
{
    fixture *f = *state;
    p4_config cfg;
    p4_error err;
    const char *path = write_ini(f, "pre0.ini", MINIMAL);
    assert_int_equal(p4_config_load(path, &cfg, &err), P4_OK);
    assert_string_equal(cfg.proxy_init, "random");
    assert_string_equal(cfg.private_init, "random");
    assert_int_equal(cfg.proxy_frozen_layers, 0);
    assert_int_equal(cfg.pretrain_epochs, 10);
    path = write_ini(f, "pre.ini", MINIMAL "proxy_init = public-pretrain\n"
                     "private_init = public-pretrain\nproxy_frozen_layers = 2\n"
                     "pretrain_epochs = 3\npretrain_learning_rate = 0.02\n");
    assert_int_equal(p4_config_load(path, &cfg, &err), P4_OK);
    assert_string_equal(cfg.proxy_init, "public-pretrain");
    assert_string_equal(cfg.private_init, "public-pretrain");
    assert_int_equal(cfg.proxy_frozen_layers, 2);
    assert_int_equal(cfg.pretrain_epochs, 3);
    assert_true(cfg.pretrain_learning_rate == 0.02);
    expect_config_error(f, MINIMAL "proxy_init = public-pretrain\n"
                        "[tee]\nbackend = optee\npp_start = 3\npp_end = 5\n", 5,
                        "[model] proxy_init = public-pretrain: is not supported with [tee] "
                        "pp_start = 3", NULL);
    expect_config_error(f, MINIMAL "proxy_frozen_layers = 1\n"
                        "[tee]\nbackend = optee\npp_start = 3\npp_end = 5\n", 5,
                        "[model] proxy_frozen_layers = 1: is not supported with [tee] "
                        "pp_start = 3", NULL);
    expect_config_error(f, MINIMAL "proxy_init = public-pretrain\nproxy_projection = public-pca\n",
                        5, "[model] proxy_init = public-pretrain: ", "proxy_projection");
    path = write_ini(f, "pre-tee.ini", MINIMAL "private_init = public-pretrain\n"
                     "[tee]\nbackend = optee\npp_start = 3\npp_end = 5\n");
    assert_int_equal(p4_config_load(path, &cfg, &err), P4_OK);
}

/* [p4] predict / ensemble_weight: private and 0.5 by default; ensemble is
 * refused where the proxy's top layers live in the TA (it gives top-1
 * classes, not probabilities); the weight is a fraction. */
static void test_predict_ensemble(void **state)
{
    fixture *f = *state;
    p4_config cfg;
    p4_error err;
    const char *path = write_ini(f, "predict0.ini", MINIMAL);
    assert_int_equal(p4_config_load(path, &cfg, &err), P4_OK);
    assert_string_equal(cfg.predict, "private");
    assert_true(cfg.ensemble_weight == 0.5);
    path = write_ini(f, "predict.ini", MINIMAL "[p4]\npredict = ensemble\nensemble_weight = 0.25\n");
    assert_int_equal(p4_config_load(path, &cfg, &err), P4_OK);
    assert_string_equal(cfg.predict, "ensemble");
    assert_true(cfg.ensemble_weight == 0.25);
    expect_config_error(f, MINIMAL "[p4]\npredict = ensemble\n"
                        "[tee]\nbackend = optee\npp_start = 3\npp_end = 5\n", 6,
                        "[p4] predict = ensemble: is not supported with [tee] "
                        "pp_start = 3", "probabilities");
    expect_config_error(f, MINIMAL "[p4]\nensemble_weight = 1.5\n", 6,
                        "[p4] ensemble_weight = 1.5: ", NULL);
    expect_config_error(f, MINIMAL "[p4]\npredict = both\n", 6, "[p4] predict = both: ", NULL);
}

static void test_partition_cross_checks(void **state)
{
    expect_config_error(*state, MINIMAL "[data]\npartition = writer\n", 6,
                        "[data] partition = writer: needs dataset = femnist", NULL);
    expect_config_error(*state, MINIMAL "[data]\npartition = label-skew\n", 0,
                        "missing required key 'major_fraction' in [data]", "label-skew");
    expect_config_error(*state, MINIMAL "[data]\npartition = dirichlet\n", 0,
                        "missing required key 'alpha' in [data]", "dirichlet");
    expect_config_error(*state,
                        "[data]\ndataset = cifar10\npath = c\npartition = clustered\n"
                        "clusters = 3\ncluster_classes = 0,1; 2,3\n[model]\ncfg = m\n",
                        6, "[data] cluster_classes = 0,1; 2,3: lists 2 sets but clusters = 3",
                        NULL);
    expect_config_error(*state,
                        "[data]\ndataset = cifar10\npath = c\npartition = clustered\n"
                        "cluster_classes = 0,1; 2,10\n[model]\ncfg = m\n",
                        5, "class 10 does not exist in cifar10", NULL);
}

static void test_relative_paths_resolve_against_config_dir(void **state)
{
    fixture *f = *state;
    char sub[PATH_MAX];
    snprintf(sub, sizeof sub, "%s/configs", f->dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    const char *path = write_ini(f, "configs/run.ini",
                                 "[data]\ndataset = femnist\npath = ../../shared/femnist\n"
                                 "[model]\ncfg = models/a.cfg\nproxy_cfg = /abs/b.cfg\n"
                                 "[dp]\nenabled = false\nstate = ../state/ledger.db\n");
    p4_config cfg;
    p4_error err;
    assert_int_equal(p4_config_load(path, &cfg, &err), P4_OK);
    char expect[PATH_MAX];
    snprintf(expect, sizeof expect, "%s/configs/../../shared/femnist", f->dir);
    assert_string_equal(cfg.data_path, expect);
    snprintf(expect, sizeof expect, "%s/configs/models/a.cfg", f->dir);
    assert_string_equal(cfg.model_cfg, expect);
    assert_string_equal(cfg.proxy_cfg, "/abs/b.cfg");
    snprintf(expect, sizeof expect, "%s/configs/../state/ledger.db", f->dir);
    assert_string_equal(cfg.state, expect);
}

static void test_cluster_classes_parsing(void **state)
{
    fixture *f = *state;
    p4_config cfg;
    p4_error err;
    const char *path = write_ini(f, "cc.ini",
                                 "[data]\ndataset = cifar100\npath = c\npartition = clustered\n"
                                 "cluster_classes = 0,1,2,3; 3,4,5,6;99 , 7\n[model]\ncfg = m\n");
    int rc = p4_config_load(path, &cfg, &err);
    if (rc != P4_OK)
        print_message("%s\n", err.message);
    assert_int_equal(rc, P4_OK);
    assert_int_equal(cfg.partition.clusters, 3); /* inferred from the sets */
    assert_int_equal(cfg.partition.cluster_class_count[0], 4);
    assert_int_equal(cfg.partition.cluster_class_count[1], 4);
    assert_int_equal(cfg.partition.cluster_class_count[2], 2);
    assert_int_equal(cfg.partition.cluster_class_count[3], 0);
    int expect[3][4] = {{0, 1, 2, 3}, {3, 4, 5, 6}, {99, 7}};
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < cfg.partition.cluster_class_count[c]; i++)
            assert_int_equal(cfg.partition.cluster_classes[c][i], expect[c][i]);

#define CC(v) "[data]\ndataset = cifar100\npath = c\npartition = clustered\n" \
              "cluster_classes = " v "\n[model]\ncfg = m\n"
    expect_config_error(*state, CC("0,1;;2"), 5, "set 2 is empty", NULL);
    expect_config_error(*state, CC("0,1;"), 5, "set 2 is empty", NULL);
    expect_config_error(*state, CC("0,x"), 5, "set 1: expected a class number at 'x'", NULL);
    expect_config_error(*state, CC("0,1,0"), 5, "set 1 lists class 0 twice", NULL);
    expect_config_error(*state, CC("0,-1"), 5, "expected a class number", NULL);
    expect_config_error(*state, CC("5; 100"), 5, "set 2: class 100 is not below 100", NULL);
    expect_config_error(*state, CC("0 1"), 5, "set 1: unexpected '1'", NULL);
#undef CC
}

static void test_missing_file_and_bad_arguments(void **state)
{
    fixture *f = *state;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/none.ini", f->dir);
    p4_config cfg;
    p4_error err;
    assert_int_equal(p4_config_load(path, &cfg, &err), P4_EIO);
    assert_non_null(strstr(err.message, path));
    assert_int_equal(p4_config_load(NULL, &cfg, &err), P4_EINVAL);
    assert_int_equal(p4_config_load(path, NULL, NULL), P4_EINVAL);
    /* a directory is not a config */
    assert_int_equal(p4_config_load(f->dir, &cfg, &err), P4_EIO);
}

static void test_nul_byte_is_rejected(void **state)
{
    fixture *f = *state;
    static const char text[] = "[data]\ndataset = fashion-mnist\nmax_train = 1\0 0\n";
    snprintf(f->path, sizeof f->path, "%s/nul.ini", f->dir);
    assert_int_equal(test_write_file(f->path, text, sizeof text - 1), 0);
    p4_config cfg;
    p4_error err;
    assert_int_equal(p4_config_load(f->path, &cfg, &err), P4_ECONFIG);
    assert_non_null(strstr(err.message, ":3: line contains a NUL byte"));
}

/* The key reference in docs/config.md must be the table the parser uses. */
static void test_docs_show_the_key_table(void **state)
{
    (void)state;
    char *table = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&table, &size);
    assert_non_null(out);
    p4_config_print_keys(out);
    fclose(out);
    assert_non_null(strstr(table, "### [data]"));
    assert_non_null(strstr(table, "### [p4]"));
    assert_non_null(strstr(table, "| `clients` | int | 1..4096 | 1 |"));
    assert_non_null(strstr(table, "| `momentum` | double | [0, 1) | 0.9 |"));
    assert_non_null(strstr(table, "| `dataset` | enum | fashion-mnist, femnist, cifar10, cifar100 | required |"));

    FILE *doc = fopen("docs/config.md", "rb");
    assert_non_null(doc);
    char *text = calloc(1, 1 << 20);
    assert_non_null(text);
    size_t n = fread(text, 1, (1 << 20) - 1, doc);
    fclose(doc);
    text[n] = '\0';
    if (strstr(text, table) == NULL) {
        print_message("docs/config.md does not contain the current key table; "
                      "replace its key reference with:\n%s", table);
        fail();
    }
    free(text);
    free(table);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test_setup_teardown(test_minimal_file_gets_defaults_and_dataset_path, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_file_sets_every_field, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_noise_seeded_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_section, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_outside_section, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_number, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trailing_garbage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_value, setup, teardown),
        cmocka_unit_test_setup_teardown(test_out_of_range, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_enum_and_bool, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_required_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_indented_line_is_not_silently_merged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_syntax_error_and_long_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dp_needs_exactly_one_of_epsilon_and_noise, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dp_enabled_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_partition_cross_checks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_relative_paths_resolve_against_config_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cluster_classes_parsing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_file_and_bad_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nul_byte_is_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dp_augmentations, setup, teardown),
        cmocka_unit_test_setup_teardown(test_proxy_projection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_public_pretrain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_predict_ensemble, setup, teardown),
        cmocka_unit_test(test_docs_show_the_key_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
