/* config.c: the INI config parser; see config.h and docs/config.md.
 *
 * Every key lives in one table (config_keys) with its section, type, range,
 * field and help text; parsing, validation and the documentation printed by
 * p4_config_print_keys() all read that table, so they cannot drift apart.
 *
 * inih does the INI syntax.  We feed it the file through our own line
 * reader, one line per call, because Debian's libinih is built without
 * INI_HANDLER_LINENO: counting lines in the reader tells the handler which
 * line it is on.  The reader also catches what inih would accept silently:
 * lines longer than its 200-byte buffer (inih would split them in two), NUL
 * bytes, and unknown section headers with no keys under them. */
#include "common/config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

/* Configs are a few dozen lines; anything bigger is not a p4 config. */
#define CONFIG_FILE_MAX (1024 * 1024)
/* inih hands us at most INI_MAX_LINE - 1 bytes of a line. */
#define VALUE_MAX INI_MAX_LINE

typedef enum {
    KEY_INT,
    KEY_DOUBLE,
    KEY_UINT64,
    KEY_BOOL,
    KEY_ENUM,       /* one of `choices`, copied into a char[] field         */
    KEY_PATH,       /* relative paths resolved against the config's folder */
    KEY_PARTITION,  /* one of `choices`, stored as p4_partition_kind        */
    KEY_CLASS_SETS, /* "0,1,2; 3,4,5" into the partition spec's class sets  */
    KEY_ENDPOINT,   /* "tcp://host:port", copied into a char[] field        */
    KEY_PEERS,      /* "ID@ENDPOINT@KEY, ..." appended to [node] peers      */
    KEY_KEYS,       /* "KEY, KEY, ..." (Z85) appended to [node] allow       */
    KEY_HEX_LIST,   /* "hex, hex" appended to a p4_hex_list                 */
    KEY_TEXT        /* printable text with spaces (a command line)           */
} key_type;

enum {
    KEY_REQUIRED = 1,
    KEY_MIN_OPEN = 2,   /* value must be > min, not >= min */
    KEY_MAX_OPEN = 4,   /* value must be < max, not <= max */
    KEY_REPEATABLE = 8, /* each line adds to the value (KEY_PEERS, KEY_HEX_LIST) */
    KEY_PORT_ZERO = 16  /* KEY_ENDPOINT: port 0 (a free port) is allowed        */
};

typedef struct config_key {
    const char *section;
    const char *name;
    key_type type;
    double min, max;          /* KEY_INT, KEY_DOUBLE: inclusive unless *_OPEN */
    unsigned flags;
    size_t offset, size;      /* the field in p4_config                       */
    const char *choices;      /* KEY_ENUM, KEY_PARTITION: "a|b|c"             */
    const char *default_text; /* docs, when the default is not a plain value  */
    const char *help;
} config_key;

/* Node ids are wire ids (cluster/wire.h P4_WIRE_MAX_NODES - 1). */
#define P4_CONFIG_NODE_ID_MAX 4095

#define FIELD(member)                                                        \
    .offset = offsetof(p4_config, member),                                   \
    .size = sizeof(((p4_config *)0)->member)

/* KEY_PARTITION stores the position of the name in `choices`. */
_Static_assert(P4_PARTITION_IID == 0 && P4_PARTITION_WRITER == 1 &&
                   P4_PARTITION_LABEL_SKEW == 2 &&
                   P4_PARTITION_DIRICHLET == 3 && P4_PARTITION_CLUSTERED == 4,
               "partition choices below follow p4_partition_kind");

static const char *const config_sections[] = {"data", "model", "dp",  "p4",
                                              "attack", "node", "tee", "serve"};
#define SECTION_COUNT (sizeof config_sections / sizeof config_sections[0])
#define SECTIONS_TEXT "[data], [model], [dp], [p4], [attack], [node], [tee], [serve]"

static const config_key config_keys[] = {
    /* [data] */
    {.section = "data", .name = "dataset", .type = KEY_ENUM, FIELD(dataset),
     .flags = KEY_REQUIRED, .choices = "fashion-mnist|femnist|cifar10|cifar100",
     .help = "which dataset to load"},
    {.section = "data", .name = "path", .type = KEY_PATH, FIELD(data_path),
     .default_text = "fashion-mnist: /usr/share/datasets/fashion-mnist; others: required",
     .help = "dataset directory (femnist: LEAF json in `train/` and `test/`; "
             "cifar10: `data_batch_*.bin`, `test_batch.bin`; cifar100: `train.bin`, `test.bin`)"},
    {.section = "data", .name = "max_train", .type = KEY_INT, FIELD(max_train),
     .min = 0, .max = INT_MAX, .help = "load at most this many training examples (0 = all)"},
    {.section = "data", .name = "max_test", .type = KEY_INT, FIELD(max_test),
     .min = 0, .max = INT_MAX, .help = "load at most this many test examples (0 = all)"},
    {.section = "data", .name = "partition", .type = KEY_PARTITION, FIELD(partition.kind),
     .choices = "iid|writer|label-skew|dirichlet|clustered",
     .help = "how examples are split among clients (writer: FEMNIST only)"},
    {.section = "data", .name = "clients", .type = KEY_INT, FIELD(partition.clients),
     .min = 1, .max = 4096, .help = "number of clients"},
    {.section = "data", .name = "train_per_client", .type = KEY_INT,
     FIELD(partition.train_per_client), .min = 0, .max = INT_MAX,
     .help = "training examples per client (0 = share the train set evenly)"},
    {.section = "data", .name = "test_per_client", .type = KEY_INT,
     FIELD(partition.test_per_client), .min = 0, .max = INT_MAX,
     .help = "test examples per client (0 = share the test set evenly)"},
    {.section = "data", .name = "seed", .type = KEY_UINT64, FIELD(partition.seed),
     .help = "seed of the partition (same seed, same split)"},
    {.section = "data", .name = "major_fraction", .type = KEY_DOUBLE,
     FIELD(partition.major_fraction), .min = 0, .max = 1,
     .default_text = "required by label-skew",
     .help = "label-skew: fraction of a client's examples from its major class"},
    {.section = "data", .name = "alpha", .type = KEY_DOUBLE, FIELD(partition.alpha),
     .min = 0, .max = INFINITY, .flags = KEY_MIN_OPEN,
     .default_text = "required by dirichlet",
     .help = "dirichlet: concentration of the label proportions (small = more skewed)"},
    {.section = "data", .name = "clusters", .type = KEY_INT, FIELD(partition.clusters),
     .min = 1, .max = P4_MAX_CLUSTERS,
     .default_text = "1, or the number of cluster_classes sets",
     .help = "clustered: number of latent client clusters"},
    {.section = "data", .name = "classes_per_cluster", .type = KEY_INT,
     FIELD(partition.classes_per_cluster), .min = 0, .max = P4_MAX_CLASSES,
     .help = "clustered: classes drawn per cluster (0 = the partitioner's default)"},
    {.section = "data", .name = "cluster_classes", .type = KEY_CLASS_SETS,
     FIELD(partition), .default_text = "drawn from the seed",
     .help = "clustered: each cluster's classes, sets separated by `;` "
             "(no space before it: ` ;` starts a comment), e.g. `0,1,2; 3,4,5`"},

    /* [model] */
    {.section = "model", .name = "cfg", .type = KEY_PATH, FIELD(model_cfg),
     .flags = KEY_REQUIRED, .help = "darknet .cfg of the private model"},
    {.section = "model", .name = "proxy_cfg", .type = KEY_PATH, FIELD(proxy_cfg),
     .default_text = "= cfg", .help = "darknet .cfg of the shared proxy model"},
    {.section = "model", .name = "epochs", .type = KEY_INT, FIELD(epochs),
     .min = 1, .max = 10000, .help = "training epochs"},
    {.section = "model", .name = "batch", .type = KEY_INT, FIELD(batch),
     .min = 1, .max = 65536, .help = "minibatch size"},
    {.section = "model", .name = "learning_rate", .type = KEY_DOUBLE, FIELD(learning_rate),
     .min = 0, .max = INFINITY, .flags = KEY_MIN_OPEN, .help = "SGD learning rate"},
    {.section = "model", .name = "proxy_projection", .type = KEY_ENUM, FIELD(proxy_projection),
     .choices = "none|public-pca|public-pca-whiten|wavelet|wavelet-pca",
     .help = "public-pca: the proxy's first layer (a [connected] layer inputs -> K, linear) is set "
             "to the top-K principal directions of the public set (examples no client holds; "
             "mean-centred) and frozen in every DP-SGD step, so DP-SGD trains only the layers "
             "above; public-pca-whiten also scales each direction to unit variance. Reads no "
             "private data, so the DP ledger is unchanged. Without DP (epsilon inf) plain SGD "
             "trains it like the rest. wavelet: the proxy's first two [convolutional] layers become a "
             "fixed Morlet filter bank (8 orientations, J scales, +/- real and imaginary parts "
             "under relu, and a low-pass per channel) and an average pool forming |Re| + |Im| "
             "(model/wavelet.h), both frozen; reads no data at all. wavelet-pca: the same, then a "
             "third layer ([connected] features -> K, linear) set to the top-K principal "
             "directions of the public set's pooled features, frozen too. Not with [tee] "
             "pp_start"},
    {.section = "model", .name = "proxy_init", .type = KEY_ENUM, FIELD(proxy_init),
     .choices = "random|public-pretrain",
     .help = "public-pretrain: before the DP warm-up, the proxy's initial weights are trained "
             "with plain (non-DP) SGD on the labeled public set ([p4] public_count training "
             "examples no client holds; [model] pretrain_epochs, pretrain_learning_rate), the same "
             "in every client. Reads no private data, so the DP ledger is unchanged. Not with "
             "[tee] pp_start or proxy_projection"},
    {.section = "model", .name = "private_init", .type = KEY_ENUM, FIELD(private_init),
     .choices = "random|public-pretrain",
     .help = "public-pretrain: the private model starts from weights trained with plain SGD on "
             "the labeled public set (as proxy_init), the same in every client: the fair "
             "comparison for local-only, which has no proxy"},
    {.section = "model", .name = "pretrain_epochs", .type = KEY_INT, FIELD(pretrain_epochs),
     .min = 1, .max = 10000,
     .help = "proxy_init / private_init = public-pretrain: epochs of plain SGD on the public set"},
    {.section = "model", .name = "pretrain_learning_rate", .type = KEY_DOUBLE,
     FIELD(pretrain_learning_rate), .min = 0, .max = INFINITY, .default_text = "= model's rate",
     .help = "public-pretrain's SGD learning rate; 0 = the model's own (proxy_learning_rate for "
             "the proxy, learning_rate for the private model)"},
    {.section = "model", .name = "proxy_frozen_layers", .type = KEY_INT,
     FIELD(proxy_frozen_layers), .min = 0, .max = 1000,
     .help = "the proxy's first N parametrised layers take no DP-SGD step (no gradient, no "
             "noise), e.g. public-pretrained convolutions; DP-SGD trains the layers above. The "
             "ledger is unchanged. Without DP plain SGD trains them. Not with [tee] pp_start"},
    {.section = "model", .name = "proxy_learning_rate", .type = KEY_DOUBLE,
     FIELD(proxy_learning_rate), .min = 0, .max = INFINITY, .default_text = "= learning_rate",
     .help = "the shared proxy's learning rate (its DP-SGD steps); 0 = learning_rate. "
             "DP-SGD's clipped, noised steps often want a larger rate than the private model"},
    {.section = "model", .name = "momentum", .type = KEY_DOUBLE, FIELD(momentum),
     .min = 0, .max = 1, .flags = KEY_MAX_OPEN, .help = "SGD momentum"},
    {.section = "model", .name = "weight_decay", .type = KEY_DOUBLE, FIELD(weight_decay),
     .min = 0, .max = INFINITY, .help = "L2 weight decay"},
    {.section = "model", .name = "seed", .type = KEY_UINT64, FIELD(seed),
     .help = "seed of weight initialisation and batch order"},

    /* [dp] */
    {.section = "dp", .name = "enabled", .type = KEY_BOOL, FIELD(dp_enabled),
     .default_text = "true if any other [dp] key is set, else false",
     .help = "train with DP-SGD"},
    {.section = "dp", .name = "target_epsilon", .type = KEY_DOUBLE, FIELD(target_epsilon),
     .min = 0, .max = INFINITY, .flags = KEY_MIN_OPEN,
     .default_text = "set this or noise_multiplier",
     .help = "privacy budget to spend; the noise is calibrated to reach it"},
    {.section = "dp", .name = "noise_multiplier", .type = KEY_DOUBLE,
     FIELD(noise_multiplier), .min = 0, .max = INFINITY,
     .default_text = "set this or target_epsilon",
     .help = "noise standard deviation / clip_norm (epsilon then follows from it)"},
    {.section = "dp", .name = "clip_norm", .type = KEY_DOUBLE, FIELD(clip_norm),
     .min = 0, .max = INFINITY, .flags = KEY_MIN_OPEN,
     .help = "per-example gradient L2 clipping bound"},
    {.section = "dp", .name = "sample_rate", .type = KEY_DOUBLE, FIELD(sample_rate),
     .min = 0, .max = 1, .flags = KEY_MIN_OPEN, .default_text = "batch / train size",
     .help = "Poisson sampling rate q of DP-SGD"},
    {.section = "dp", .name = "delta", .type = KEY_DOUBLE, FIELD(delta),
     .min = 0, .max = 1, .flags = KEY_MIN_OPEN | KEY_MAX_OPEN, .help = "DP delta"},
    {.section = "dp", .name = "state", .type = KEY_PATH, FIELD(state),
     .default_text = "p4-state.db beside the run",
     .help = "privacy ledger (SQLite) recording the budget spent"},
    {.section = "dp", .name = "noise_layout", .type = KEY_ENUM, FIELD(noise_layout),
     .choices = "chunked|serial",
     .help = "the DP noise over ChaCha20 streams: chunked (chunks of 4096 values, one "
             "nonce each, drawn on every thread) or serial (one stream, two halves above 64Ki "
             "values: p4's noise before this key); the optee TA's seeded noise follows it; "
             "--reproducible results differ between them (docs/noise.md)"},

    {.section = "dp", .name = "augmentations", .type = KEY_INT, FIELD(augmentations),
     .min = 1, .max = 16,
     .help = "augmentation multiplicity of the proxy's DP-SGD steps (De et al. 2022): each "
             "example's gradient is the mean over this many randomly augmented copies (shifts "
             "of up to 2 pixels; horizontal flips for fashion-mnist and cifar, never for "
             "femnist's characters), clipped once, so the guarantee is unchanged; 1 = no "
             "augmentation; refused with [tee] pp_start (docs/augmentation.md)"},

    /* [p4] */
    {.section = "p4", .name = "rounds", .type = KEY_INT, FIELD(rounds),
     .min = 1, .max = INT_MAX, .help = "co-training rounds"},
    {.section = "p4", .name = "local_epochs", .type = KEY_INT, FIELD(local_epochs),
     .min = 1, .max = INT_MAX, .help = "local epochs per round"},
    {.section = "p4", .name = "warmup_epochs", .type = KEY_INT, FIELD(warmup_epochs),
     .min = 0, .max = INT_MAX, .help = "local epochs before peers are grouped"},
    {.section = "p4", .name = "group_size", .type = KEY_INT, FIELD(group_size),
     .min = 2, .max = INT_MAX, .help = "largest group merging builds (V)"},
    {.section = "p4", .name = "sample_peers", .type = KEY_INT, FIELD(sample_peers),
     .min = 0, .max = INT_MAX, .help = "peers sampled when grouping (H; 0 = all)"},
    {.section = "p4", .name = "distance_layers", .type = KEY_ENUM, FIELD(distance_layers),
     .choices = "all|last|first|output-bias",
     .help = "proxy weights compared (L1) to measure peer similarity: all of them, the last or "
             "first parametrised layer, or only the output layer's biases"},
    {.section = "p4", .name = "warmup_layers", .type = KEY_ENUM, FIELD(warmup_layers),
     .choices = "all|last",
     .help = "layers the DP warm-up trains: all, or only the output layer (then the clip "
             "bound is not spent on layers the grouping distance ignores)"},
    {.section = "p4", .name = "warmup_sample_rate", .type = KEY_DOUBLE, FIELD(warmup_sample_rate),
     .min = 0, .max = 1, .help = "Poisson rate of the DP warm-up (0 = the training rate; 1 = one "
                                 "full-batch step per epoch, which gives the grouping the most "
                                 "signal per unit of budget at small epsilon)"},
    {.section = "p4", .name = "warmup_budget", .type = KEY_DOUBLE, FIELD(warmup_budget),
     .min = 0, .max = 1, .flags = KEY_MIN_OPEN | KEY_MAX_OPEN,
     .help = "fraction of the target epsilon the warm-up alone may spend; its noise is "
             "calibrated to that, co-training's to what the whole run may spend"},
    {.section = "p4", .name = "kd_alpha", .type = KEY_DOUBLE, FIELD(kd_alpha),
     .min = 0, .max = 1, .help = "weight of the distillation loss (a)"},
    {.section = "p4", .name = "kd_temperature", .type = KEY_DOUBLE, FIELD(kd_temperature),
     .min = 0, .max = INFINITY, .flags = KEY_MIN_OPEN, .help = "distillation temperature (T)"},
    {.section = "p4", .name = "predict", .type = KEY_ENUM, FIELD(predict),
     .choices = "private|ensemble",
     .help = "what a client predicts with (its reported accuracy, and what p4 serve answers): "
             "private (the paper's), or ensemble: (1 - ensemble_weight) times the private "
             "model's class probabilities plus ensemble_weight times the proxy's (the group's "
             "after the last exchange); no privacy cost. Methods without a proxy or private "
             "model predict with the one they have. Not with [tee] pp_start"},
    {.section = "p4", .name = "ensemble_weight", .type = KEY_DOUBLE, FIELD(ensemble_weight),
     .min = 0, .max = 1, .help = "predict = ensemble: the proxy's weight"},
    {.section = "p4", .name = "aggregate", .type = KEY_ENUM, FIELD(aggregate),
     .choices = "mean|multikrum", .help = "how a group's proxy updates are combined"},
    {.section = "p4", .name = "krum_f", .type = KEY_INT, FIELD(krum_f),
     .min = 0, .max = INT_MAX, .help = "multikrum: assumed number of Byzantine peers"},
    {.section = "p4", .name = "duplicate_slice_ratio", .type = KEY_DOUBLE,
     FIELD(duplicate_slice_ratio), .min = 0, .max = 1,
     .help = "grouping guard: two warm-up slices that are bit-identical, or that the grouping "
             "compared and found closer (L1) than this fraction of the median distance over the "
             "pairs it compared, are taken as a copy; both clients then train alone "
             "(0 = off; see docs/attacks.md)"},
    {.section = "p4", .name = "grouping_commit", .type = KEY_BOOL, FIELD(grouping_commit),
     .help = "grouping: every peer first sends a commitment (BLAKE2b of its id and warm-up "
             "slice), the peers check that they all hold the same commitments, and only then "
             "reveal the slices; a slice that does not match its commitment trains alone, so "
             "nobody can copy a slice it has not seen (see docs/attacks.md)"},
    {.section = "p4", .name = "share", .type = KEY_ENUM, FIELD(share),
     .choices = "weights|logits", .help = "what peers exchange"},
    {.section = "p4", .name = "strict_dp", .type = KEY_BOOL, FIELD(strict_dp),
     .help = "the proxy learns from labels only (no private teacher), so its DP guarantee "
             "holds; false is the paper's private-teacher mode, whose guarantee is "
             "`conditional` on a fixed teacher (see README, Privacy)"},
    {.section = "p4", .name = "cotrain_batches", .type = KEY_ENUM, FIELD(cotrain_batches),
     .choices = "shared|separate",
     .help = "shared (the paper's): the private model and the DP proxy step on the same "
             "Poisson batches; separate: the private model walks its own batches of [model] "
             "batch and the proxy its own at [dp] sample_rate, so the proxy's DP batch can be "
             "larger (less noise per step) without changing the private model's; the ledger "
             "charges the same steps"},
    {.section = "p4", .name = "widen_group_size", .type = KEY_INT, FIELD(widen_group_size),
     .min = 0, .max = INT_MAX,
     .help = "0 = off (the paper's); else, when the grouping's distances show no structure "
             "(see widen_separation), the groups are recomputed with this largest size instead of "
             "group_size: wider mixing when there are no clusters to find"},
    {.section = "p4", .name = "widen_separation", .type = KEY_DOUBLE, FIELD(widen_separation),
     .min = 0, .max = INFINITY,
     .help = "widening happens when the grouped pairs sit less than this many standard "
             "deviations (of all pair distances) below the mean distance; measured: 1.2 to 1.6 "
             "with latent clusters, 0.01 on FEMNIST by writer"},
    {.section = "p4", .name = "public_count", .type = KEY_INT, FIELD(public_count),
     .min = 1, .max = INT_MAX,
     .help = "size of the public set (training examples no client holds): logits mode's "
             "reference set, and what [model] proxy_projection and public-pretrain read"},
    {.section = "p4", .name = "method", .type = KEY_ENUM, FIELD(method),
     .choices = "p4|local|proxyfl|proxyfl-avg|fedavg-dp",
     .help = "algorithm to run (proxyfl: as published, the received proxy replaces one's own; "
             "proxyfl-avg: averaged with it)"},

    /* [attack] */
    {.section = "attack", .name = "fraction", .type = KEY_DOUBLE, FIELD(attack_fraction),
     .min = 0, .max = 1,
     .help = "fraction of the clients that are malicious, chosen from [model] seed (rounded)"},
    {.section = "attack", .name = "kind", .type = KEY_ENUM, FIELD(attack_kind),
     .choices = "none|signflip|scaled|gaussian|labelflip",
     .help = "what attackers do: send w0 - s(w - w0) (signflip), w0 + s(w - w0) (scaled) or "
             "w + N(0, s^2) (gaussian) instead of their proxy w (w0: the public initial proxy), "
             "or train on flipped labels y -> C-1-y (labelflip)"},
    {.section = "attack", .name = "strength", .type = KEY_DOUBLE, FIELD(attack_strength),
     .min = 0, .max = 1e6, .help = "the attack's s (signflip, scaled: a factor; gaussian: a "
                                   "standard deviation)"},
    {.section = "attack", .name = "grouping_lie", .type = KEY_ENUM, FIELD(grouping_lie),
     .choices = "none|copy-target",
     .help = "copy-target: attackers send a copy of the target's warm-up slice (plus "
             "N(0, lie_noise^2)) as their own, to be grouped with it"},
    {.section = "attack", .name = "target", .type = KEY_INT, FIELD(attack_target), .min = -1,
     .max = INT_MAX, .help = "the honest client the grouping lie aims at (-1: chosen from "
                             "[model] seed)"},
    {.section = "attack", .name = "lie_noise", .type = KEY_DOUBLE, FIELD(lie_noise), .min = 0,
     .max = 1e6, .help = "standard deviation of the noise added to the copied slice"},

    /* [node]: one member of a networked run (`p4 node`; docs/node.md) */
    {.section = "node", .name = "id", .type = KEY_INT, FIELD(node_id), .min = 0,
     .max = P4_CONFIG_NODE_ID_MAX, .default_text = "required by `p4 node`",
     .help = "this node's client index (0 .. [data] clients - 1): which split it trains on"},
    {.section = "node", .name = "listen", .type = KEY_ENDPOINT, FIELD(node_listen),
     .default_text = "required by `p4 node`",
     .help = "where this node accepts its peers, `tcp://ADDRESS:PORT`"},
    {.section = "node", .name = "peers", .type = KEY_PEERS, FIELD(node_peers),
     .flags = KEY_REPEATABLE, .default_text = "required by `p4 node`",
     .help = "every other member as `ID@ENDPOINT@KEY` (KEY: its 40-character Z85 public key "
             "from its state folder's node.pub), separated by commas; may be repeated, each "
             "`peers` line adds to the list (a line holds at most 199 characters)"},
    {.section = "node", .name = "state", .type = KEY_PATH, FIELD(node_state),
     .default_text = "required by `p4 node`",
     .help = "the node's state folder (keys, node.db, privacy ledgers); made with mode 0700 "
             "by `p4 node` if missing"},
    {.section = "node", .name = "timeout", .type = KEY_DOUBLE, FIELD(node_timeout),
     .min = 0, .max = 86400, .flags = KEY_MIN_OPEN,
     .help = "seconds to wait for one exchange; a peer silent that long is left out of it (the "
             "grouping, which needs every member, stops the node instead); also the time a "
             "join through bootstrap peers may take"},
    {.section = "node", .name = "allow", .type = KEY_KEYS, FIELD(node_allow),
     .flags = KEY_REPEATABLE, .default_text = "-",
     .help = "public keys (Z85, from node.pub) of members this node admits besides its `peers`, "
             "separated by commas; may be repeated.  With a bootstrap config (peers names one "
             "or a few members) the others' ids and endpoints are learned when joining, but "
             "only keys listed here (or vouched for, see trust_bootstrap) are admitted"},
    {.section = "node", .name = "trust_bootstrap", .type = KEY_BOOL, FIELD(node_trust_bootstrap),
     .help = "also admit members whose keys a bootstrap peer (one in `peers`) lists: the "
             "bootstrap peers then decide who is in (see docs/node.md before turning it on)"},
    {.section = "node", .name = "advertise", .type = KEY_ENDPOINT, FIELD(node_advertise),
     .default_text = "listen",
     .help = "where the other members reach this node, told to them when it joins (needed "
             "when listen is tcp://0.0.0.0:PORT)"},
    {.section = "node", .name = "heartbeat", .type = KEY_DOUBLE, FIELD(node_heartbeat),
     .min = 0, .max = 3600, .flags = KEY_MIN_OPEN,
     .help = "seconds between the heartbeats a node sends every member, even while it computes"},
    {.section = "node", .name = "dead_after", .type = KEY_DOUBLE, FIELD(node_dead_after),
     .min = 0, .max = 86400, .flags = KEY_MIN_OPEN,
     .help = "seconds without a word from a peer (once heard) after which an exchange stops "
             "waiting for it (it rejoins when heard again); must exceed heartbeat"},

    /* [tee] */
    {.section = "tee", .name = "backend", .type = KEY_ENUM, FIELD(tee_backend),
     .choices = "software|optee|cca",
     .help = "where DP noise is added and the ledger charged: `software` (in the process "
             "itself) or `optee` (an OP-TEE trusted application: noise and ledger, and in "
             "`p4 train` the protected layers; docs/tee.md) or `cca` (the node runs in an Arm "
             "CCA realm and admits a peer only after its attestation token verifies against "
             "the keys below; docs/attestation.md, Admission); `software` and `optee` admit "
             "peers by key allowlist only, with no attestation"},
    {.section = "tee", .name = "pp_start", .type = KEY_INT, FIELD(tee_pp_start),
     .min = -1, .max = 4095, .default_text = "-1 (none)",
     .help = "optee: the first protected layer of the model (0-based, as darknet counts "
             "the cfg's layers, maxpool and softmax included); -1: no layers in the TA "
             "(`p4 sim` and `p4 node` accept only -1)"},
    {.section = "tee", .name = "pp_end", .type = KEY_INT, FIELD(tee_pp_end),
     .min = -1, .max = 4095, .default_text = "-1 (none)",
     .help = "optee: the last protected layer (inclusive); must be the model's softmax"},
    {.section = "tee", .name = "ta_memory_mib", .type = KEY_INT, FIELD(tee_ta_memory_mib),
     .min = 1, .max = 4096,
     .help = "optee: the TA's heap in MiB (OP-TEE's TA_DATA_SIZE; build the TA with the "
             "same P4_TA_MEMORY_MIB); protected layers that do not fit are refused"},
    {.section = "tee", .name = "cpak", .type = KEY_PATH, FIELD(tee_cpak),
     .default_text = "required by cca",
     .help = "cca: the trusted platform attestation key (PEM public key, P-256/384/521)"},
    {.section = "tee", .name = "realm_initial_measurement", .type = KEY_HEX_LIST,
     FIELD(tee_rim), .flags = KEY_REPEATABLE, .default_text = "required by cca",
     .help = "cca: allowlist of realm initial measurements (hex, 32/48/64 bytes), separated by "
             "commas; may be repeated"},
    {.section = "tee", .name = "realm_personalization_value", .type = KEY_HEX_LIST,
     FIELD(tee_personalization), .flags = KEY_REPEATABLE, .default_text = "not checked",
     .help = "cca: allowlist of realm personalization values (hex, 64 bytes)"},
    {.section = "tee", .name = "platform_sw_component", .type = KEY_HEX_LIST,
     FIELD(tee_sw_components), .flags = KEY_REPEATABLE, .default_text = "not checked",
     .help = "cca: allowlist of platform firmware measurements (hex); every component of a "
             "peer's platform must be on it"},
    {.section = "tee", .name = "evidence", .type = KEY_ENUM, FIELD(tee_evidence),
     .choices = "configfs-tsm|command",
     .help = "cca: where this node's own token comes from: Linux configfs-tsm inside the realm, "
             "or `evidence_command`"},
    {.section = "tee", .name = "tsm_root", .type = KEY_PATH, FIELD(tee_tsm_root),
     .default_text = "/sys/kernel/config/tsm/report", .help = "cca: configfs-tsm's report root"},
    {.section = "tee", .name = "evidence_command", .type = KEY_TEXT,
     FIELD(tee_evidence_command), .default_text = "required by evidence = command",
     .help = "cca: a program and its arguments (no shell); run with the 64-byte challenge in "
             "hex as its last argument, it prints the token on stdout"},

    /* [serve]: `p4 serve` (docs/serve.md), which reads only [serve] and [tee] */
    {.section = "serve", .name = "listen", .type = KEY_ENDPOINT, FIELD(serve_listen),
     .flags = KEY_PORT_ZERO, .default_text = P4_CONFIG_SERVE_LISTEN,
     .help = "where `p4 serve` accepts clients, `tcp://ADDRESS:PORT` (port 0: a free one, "
             "logged); `--listen` overrides it"},
    {.section = "serve", .name = "probabilities", .type = KEY_BOOL, FIELD(serve_probabilities),
     .help = "answer class probabilities when a client asks (false: the top-1 class only)"},
    {.section = "serve", .name = "max_rows", .type = KEY_INT, FIELD(serve_max_rows), .min = 1,
     .max = P4_CONFIG_SERVE_MAX_ROWS, .help = "inputs one request may hold"},
};
#define KEY_COUNT (sizeof config_keys / sizeof config_keys[0])

/* ---- defaults ----------------------------------------------------------- */

void p4_config_defaults(p4_config *cfg)
{
    if (cfg == NULL)
        return;
    memset(cfg, 0, sizeof *cfg);
    cfg->partition.kind = P4_PARTITION_IID;
    cfg->partition.clients = 1;
    cfg->partition.seed = 1;
    cfg->partition.clusters = 1;

    cfg->epochs = 5;
    cfg->batch = 64;
    cfg->learning_rate = 0.05;
    cfg->proxy_learning_rate = 0;
    cfg->momentum = 0.9;
    cfg->weight_decay = 0;
    cfg->seed = 1;

    cfg->dp_enabled = 0;
    cfg->target_epsilon = 0;
    cfg->noise_multiplier = -1;
    cfg->clip_norm = 1.0;
    cfg->sample_rate = 0;
    cfg->delta = 1e-5;

    cfg->rounds = 10;
    cfg->local_epochs = 1;
    cfg->warmup_epochs = 1;
    cfg->group_size = 4;
    cfg->sample_peers = 0;
    snprintf(cfg->distance_layers, sizeof cfg->distance_layers, "last");
    snprintf(cfg->warmup_layers, sizeof cfg->warmup_layers, "last");
    snprintf(cfg->proxy_projection, sizeof cfg->proxy_projection, "none");
    snprintf(cfg->proxy_init, sizeof cfg->proxy_init, "random");
    snprintf(cfg->private_init, sizeof cfg->private_init, "random");
    cfg->pretrain_epochs = 10;
    cfg->pretrain_learning_rate = 0;
    cfg->proxy_frozen_layers = 0;
    cfg->warmup_sample_rate = 1.0;
    cfg->warmup_budget = 0.5;
    cfg->kd_alpha = 0.5;
    cfg->kd_temperature = 1.0;
    snprintf(cfg->predict, sizeof cfg->predict, "private");
    cfg->ensemble_weight = 0.5;
    snprintf(cfg->aggregate, sizeof cfg->aggregate, "mean");
    snprintf(cfg->noise_layout, sizeof cfg->noise_layout, "chunked");
    cfg->augmentations = 1;
    cfg->krum_f = 0;
    cfg->duplicate_slice_ratio = 0;
    cfg->grouping_commit = 0;
    snprintf(cfg->share, sizeof cfg->share, "weights");
    cfg->strict_dp = 1;
    snprintf(cfg->cotrain_batches, sizeof cfg->cotrain_batches, "shared");
    cfg->widen_group_size = 0;
    cfg->widen_separation = 0.5;
    cfg->public_count = 500;
    snprintf(cfg->method, sizeof cfg->method, "p4");
    cfg->attack_fraction = 0;
    snprintf(cfg->attack_kind, sizeof cfg->attack_kind, "none");
    cfg->attack_strength = 1;
    snprintf(cfg->grouping_lie, sizeof cfg->grouping_lie, "none");
    cfg->attack_target = -1;
    cfg->lie_noise = 0;

    cfg->node_id = -1;
    cfg->node_timeout = 60.0;
    cfg->node_heartbeat = 1.0;
    cfg->node_dead_after = 10.0;
    snprintf(cfg->tee_backend, sizeof cfg->tee_backend, "software");
    cfg->tee_pp_start = -1;
    cfg->tee_pp_end = -1;
    cfg->tee_ta_memory_mib = 10;
    snprintf(cfg->tee_evidence, sizeof cfg->tee_evidence, "configfs-tsm");
    /* serve_listen "" = not given: P4_CONFIG_SERVE_LISTEN */
    cfg->serve_probabilities = 0;
    cfg->serve_max_rows = 256;
}

/* ---- parse state and error recording ------------------------------------ */

typedef struct parse_state {
    const char *path;            /* the config file, for messages          */
    p4_config *cfg;
    char dir[P4_PATH_MAX];       /* its folder with a trailing '/', or ""  */

    const char *text;            /* the whole file                          */
    size_t len, pos;             /* reader position                         */
    int lineno;                  /* line the reader handed out last         */
    const char *line;            /* that line, raw, without its '\n'        */
    size_t line_len;

    int key_line[KEY_COUNT];     /* where each key was set (0 = not set)   */
    char key_value[KEY_COUNT][VALUE_MAX];
    int class_sets;              /* sets parsed from cluster_classes        */

    int error_line;              /* line of the first error, 0 = none       */
    char error[P4_ERROR_MESSAGE_MAX];

    const char *const *only;     /* p4_config_load_sections: the sections */
    int only_count;              /* read; NULL = every section           */
} parse_state;

/* Records "<file>:<line>: <message>" unless an earlier error is recorded;
 * errors arrive in line order, so the first one is the one to report. */
__attribute__((format(printf, 2, 3)))
static void fail_line(parse_state *st, const char *fmt, ...)
{
    if (st->error_line != 0)
        return;
    st->error_line = st->lineno;
    int n = snprintf(st->error, sizeof st->error, "%s:%d: ", st->path, st->lineno);
    if (n < 0 || (size_t)n >= sizeof st->error)
        return; /* the path alone fills the message */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(st->error + n, sizeof st->error - (size_t)n, fmt, ap);
    va_end(ap);
}

/* Records "<file>:<line>: [section] key = value: <message>". */
__attribute__((format(printf, 5, 6)))
static void fail_key(parse_state *st, const char *section, const char *name,
                     const char *value, const char *fmt, ...)
{
    char what[P4_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    fail_line(st, "[%s] %s = %s: %s", section, name, value, what);
}

static int section_known(const char *section)
{
    for (size_t i = 0; i < SECTION_COUNT; i++)
        if (strcmp(section, config_sections[i]) == 0)
            return 1;
    return 0;
}

static const config_key *find_key(const char *section, const char *name)
{
    for (size_t i = 0; i < KEY_COUNT; i++)
        if (strcmp(config_keys[i].section, section) == 0 &&
            strcmp(config_keys[i].name, name) == 0)
            return &config_keys[i];
    return NULL;
}

static size_t key_index(const config_key *k) { return (size_t)(k - config_keys); }

/* 1 if this load reads section (all of them unless p4_config_load_sections). */
static int reads_section(const parse_state *st, const char *section)
{
    if (st->only == NULL)
        return 1;
    for (int i = 0; i < st->only_count; i++)
        if (strcmp(st->only[i], section) == 0)
            return 1;
    return 0;
}

/* Lists a section's keys ("a, b, c") for "unknown key" messages. */
static void list_keys(const char *section, char *out, size_t size)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < KEY_COUNT && used < size; i++) {
        if (strcmp(config_keys[i].section, section) != 0)
            continue;
        int n = snprintf(out + used, size - used, "%s%s", used ? ", " : "",
                         config_keys[i].name);
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

/* ---- the line reader ---------------------------------------------------- */

static const char *skip_space(const char *s, const char *end)
{
    while (s < end && isspace((unsigned char)*s))
        s++;
    return s;
}

static const char *trim_end(const char *s, const char *end)
{
    while (end > s && isspace((unsigned char)end[-1]))
        end--;
    return end;
}

/* Checks a "[name]" header line: inih takes the name as everything between
 * '[' and the first ']', untrimmed. */
static void check_section_header(parse_state *st, const char *s, const char *end)
{
    if (s >= end || *s != '[')
        return;
    const char *close = memchr(s + 1, ']', (size_t)(end - s - 1));
    if (close == NULL)
        return; /* inih reports the syntax error */
    char name[VALUE_MAX];
    size_t n = (size_t)(close - s - 1);
    memcpy(name, s + 1, n);
    name[n] = '\0';
    if (!section_known(name) && st->only == NULL)
        fail_line(st, "[%s]: unknown section (sections: %s)", name, SECTIONS_TEXT);
}

/* An ini_reader: hands inih exactly one line of the file per call, so that
 * inih's line count and ours agree. */
static char *read_line(char *str, int num, void *stream)
{
    parse_state *st = stream;
    if (st->pos >= st->len || num < 2)
        return NULL;
    const char *start = st->text + st->pos;
    const char *nl = memchr(start, '\n', st->len - st->pos);
    size_t n = nl ? (size_t)(nl - start) : st->len - st->pos;
    st->pos += n + (nl ? 1 : 0);
    st->lineno++;
    st->line = start;
    st->line_len = n;

    str[0] = '\0';
    if (memchr(start, '\0', n) != NULL) {
        fail_line(st, "line contains a NUL byte (not a text file?)");
        return str;
    }
    if (n > (size_t)num - 1) {
        fail_line(st, "line is longer than %d characters", num - 1);
        return str;
    }
    memcpy(str, start, n);
    str[n] = '\0';

    const char *s = start, *end = start + n;
    if (st->lineno == 1 && n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0)
        s += 3; /* UTF-8 byte order mark, which inih skips too */
    s = skip_space(s, end);
    check_section_header(st, s, trim_end(s, end));
    return str;
}

/* True when inih handed us an indented line as a continuation of the
 * previous key (its multi-line values): it then passes the whole trimmed
 * line as the value, which a "key = value" line can never produce. */
static int is_continuation(const parse_state *st, const char *value)
{
    const char *end = st->line + st->line_len;
    if (st->line_len == 0 || !isspace((unsigned char)st->line[0]))
        return 0;
    const char *s = skip_space(st->line, end);
    const char *e = trim_end(s, end);
    return strlen(value) == (size_t)(e - s) && memcmp(value, s, (size_t)(e - s)) == 0;
}

/* ---- value parsers ------------------------------------------------------ */

/* Only plain decimal numbers: strtod alone would also take "inf", "nan"
 * and hex floats, strtol leading spaces. */
static int is_decimal_text(const char *s, int allow_fraction)
{
    if (*s == '+' || *s == '-')
        s++;
    if (!isdigit((unsigned char)*s) && !(allow_fraction && *s == '.'))
        return 0;
    for (; *s; s++) {
        if (isdigit((unsigned char)*s))
            continue;
        if (allow_fraction && strchr(".eE+-", *s))
            continue;
        return 0;
    }
    return 1;
}

/* The allowed range as text: "1..4096", "[0, 1)", ">= 0", "> 0". */
static void range_text(const config_key *k, char *out, size_t size)
{
    if (k->type == KEY_INT && k->max < INT_MAX)
        snprintf(out, size, "%.0f..%.0f", k->min, k->max);
    else if (k->type == KEY_INT)
        snprintf(out, size, ">= %.0f", k->min);
    else if (isinf(k->max))
        snprintf(out, size, "%s %g", (k->flags & KEY_MIN_OPEN) ? ">" : ">=", k->min);
    else
        snprintf(out, size, "%c%g, %g%c", (k->flags & KEY_MIN_OPEN) ? '(' : '[', k->min,
                 k->max, (k->flags & KEY_MAX_OPEN) ? ')' : ']');
}

static void describe_range(const config_key *k, char *out, size_t size)
{
    char range[64];
    range_text(k, range, sizeof range);
    snprintf(out, size, "must be %s%s", range[0] == '>' ? "" : "in ", range);
}

/* "a|b|c" as "a, b, c". */
static void choices_text(const char *choices, char *out, size_t size)
{
    size_t used = 0;
    for (const char *c = choices; *c && used + 3 < size; c++) {
        if (*c == '|') {
            out[used++] = ',';
            out[used++] = ' ';
        } else {
            out[used++] = *c;
        }
    }
    out[used] = '\0';
}

static int in_range(const config_key *k, double v)
{
    if (v < k->min || ((k->flags & KEY_MIN_OPEN) && v == k->min))
        return 0;
    if (v > k->max || ((k->flags & KEY_MAX_OPEN) && v == k->max))
        return 0;
    return 1;
}

/* Each parser returns NULL on success, else what is wrong with the value. */
static const char *parse_int(const config_key *k, const char *v, int *out,
                             char *why, size_t why_size)
{
    if (!is_decimal_text(v, 0))
        return "not an integer";
    errno = 0;
    char *end;
    long x = strtol(v, &end, 10);
    if (*end != '\0')
        return "not an integer";
    if (errno == ERANGE || x < INT_MIN || x > INT_MAX || !in_range(k, (double)x)) {
        describe_range(k, why, why_size);
        return why;
    }
    *out = (int)x;
    return NULL;
}

static const char *parse_double(const config_key *k, const char *v, double *out,
                                char *why, size_t why_size)
{
    if (!is_decimal_text(v, 1))
        return "not a number";
    errno = 0;
    char *end;
    double x = strtod(v, &end);
    if (*end != '\0' || end == v)
        return "not a number";
    if (errno == ERANGE || !isfinite(x) || !in_range(k, x)) {
        describe_range(k, why, why_size);
        return why;
    }
    *out = x;
    return NULL;
}

static const char *parse_uint64(const char *v, uint64_t *out)
{
    /* strtoull would turn "-1" into 2^64-1: digits only. */
    for (const char *s = v; *s; s++)
        if (!isdigit((unsigned char)*s))
            return "not an unsigned integer";
    errno = 0;
    char *end;
    unsigned long long x = strtoull(v, &end, 10);
    if (*end != '\0' || end == v)
        return "not an unsigned integer";
    if (errno == ERANGE)
        return "must be < 2^64";
    *out = (uint64_t)x;
    return NULL;
}

static const char *parse_bool(const char *v, int *out)
{
    static const char *const yes[] = {"true", "yes", "1"};
    static const char *const no[] = {"false", "no", "0"};
    for (size_t i = 0; i < 3; i++) {
        if (strcasecmp(v, yes[i]) == 0) {
            *out = 1;
            return NULL;
        }
        if (strcasecmp(v, no[i]) == 0) {
            *out = 0;
            return NULL;
        }
    }
    return "must be true, false, yes, no, 1 or 0";
}

/* Position of v in "a|b|c", or -1. */
static int choice_index(const char *choices, const char *v)
{
    size_t n = strlen(v);
    int index = 0;
    for (const char *s = choices;; index++) {
        const char *bar = strchr(s, '|');
        size_t len = bar ? (size_t)(bar - s) : strlen(s);
        if (len == n && strncmp(s, v, n) == 0)
            return index;
        if (bar == NULL)
            return -1;
        s = bar + 1;
    }
}

static const char *parse_path(const parse_state *st, const char *v, char *out,
                              size_t size)
{
    const char *dir = (v[0] == '/') ? "" : st->dir;
    int n = snprintf(out, size, "%s%s", dir, v);
    if (n < 0 || (size_t)n >= size)
        return "path too long";
    return NULL;
}

/* "0,1,2; 3,4,5" -> sets of class numbers in spec; returns the number of
 * sets through *sets. */
static const char *parse_class_sets(const char *v, p4_partition_spec *spec,
                                    int *sets, char *why, size_t why_size)
{
    memset(spec->cluster_class_count, 0, sizeof spec->cluster_class_count);
    int set = 0;
    const char *s = v;
    for (;;) {
        if (set >= P4_MAX_CLUSTERS) {
            snprintf(why, why_size, "more than %d sets", P4_MAX_CLUSTERS);
            return why;
        }
        int count = 0;
        for (;;) {
            while (isspace((unsigned char)*s))
                s++;
            if (!isdigit((unsigned char)*s)) {
                if (count == 0 && (*s == ';' || *s == '\0'))
                    snprintf(why, why_size, "set %d is empty", set + 1);
                else
                    snprintf(why, why_size, "set %d: expected a class number at '%s'",
                             set + 1, s);
                return why;
            }
            errno = 0;
            char *end;
            long c = strtol(s, &end, 10);
            if (errno == ERANGE || c >= P4_MAX_CLASSES) {
                snprintf(why, why_size, "set %d: class %.*s is not below %d", set + 1,
                         (int)(end - s), s, P4_MAX_CLASSES);
                return why;
            }
            for (int i = 0; i < count; i++)
                if (spec->cluster_classes[set][i] == (int)c) {
                    snprintf(why, why_size, "set %d lists class %ld twice", set + 1, c);
                    return why;
                }
            spec->cluster_classes[set][count++] = (int)c;
            s = end;
            while (isspace((unsigned char)*s))
                s++;
            if (*s == ',') {
                s++;
                continue;
            }
            if (*s == ';' || *s == '\0')
                break;
            snprintf(why, why_size, "set %d: unexpected '%c'", set + 1, *s);
            return why;
        }
        spec->cluster_class_count[set++] = count;
        if (*s == '\0')
            break;
        s++; /* ';' */
    }
    *sets = set;
    return NULL;
}

/* "tcp://HOST:PORT" with a port 1..65535 (0, a free port, only serves
 * tests: a peer could not know it). */
static const char *check_endpoint(const char *v, int allow_zero, char *why, size_t why_size)
{
    if (strlen(v) >= P4_ENDPOINT_MAX) {
        snprintf(why, why_size, "longer than %d characters", P4_ENDPOINT_MAX - 1);
        return why;
    }
    if (strncmp(v, "tcp://", 6) != 0)
        return "must be tcp://ADDRESS:PORT";
    const char *colon = strrchr(v + 6, ':');
    if (colon == NULL || colon == v + 6)
        return "must be tcp://ADDRESS:PORT";
    char *end = NULL;
    errno = 0;
    long port = strtol(colon + 1, &end, 10);
    if (!isdigit((unsigned char)colon[1]) || *end != '\0' || errno == ERANGE ||
        port < (allow_zero ? 0 : 1) || port > 65535)
        return allow_zero ? "the port must be a number in 0..65535"
                          : "the port must be a number in 1..65535";
    for (const char *c = v + 6; c < colon; c++)
        if (isspace((unsigned char)*c) || *c == '@' || *c == ',')
            return "the address holds a space, '@' or ','";
    return NULL;
}

/* ZeroMQ's Z85 alphabet (RFC 32). */
static int is_z85_char(char c)
{
    return c != '\0' && (isalnum((unsigned char)c) || strchr(".-:+=^!/*?&<>()[]{}@%$#", c));
}

/* NULL when key (40 characters) is all Z85, else why, naming entry `item`. */
static const char *check_key_chars(const char *key, int item, char *why, size_t why_size)
{
    for (int i = 0; i < P4_NODE_KEY_CHARS; i++)
        if (!is_z85_char(key[i])) {
            snprintf(why, why_size, "entry %d: the key holds '%c', which is not Z85", item, key[i]);
            return why;
        }
    return NULL;
}

/* One entry of a comma-separated list: s[0..n), trimmed and non-empty. */
typedef const char *(*take_entry)(const char *s, size_t n, int item, p4_config *cfg, char *why,
                                  size_t why_size);

/* Calls take for each comma-separated entry of v; an empty one is an error. */
static const char *each_entry(const char *v, take_entry take, p4_config *cfg, char *why,
                              size_t why_size)
{
    const char *s = v;
    for (int item = 1;; item++) {
        while (isspace((unsigned char)*s))
            s++;
        size_t len = strcspn(s, ",");
        const char *end = s + len;
        size_t n = (size_t)(trim_end(s, end) - s);
        if (n == 0) {
            snprintf(why, why_size, "entry %d is empty", item);
            return why;
        }
        const char *bad = take(s, n, item, cfg, why, why_size);
        if (bad != NULL || *end == '\0')
            return bad;
        s = end + 1;
    }
}

/* "ID@ENDPOINT@KEY": one more of cfg's [node] peers.  The key is the last
 * 40 characters (Z85 itself holds '@'). */
static const char *take_peer(const char *s, size_t n, int item, p4_config *cfg, char *why,
                             size_t why_size)
{
    const char *e = s + n;
    if (cfg->node_peer_count >= P4_NODE_PEERS_MAX) {
        snprintf(why, why_size, "more than %d peers", P4_NODE_PEERS_MAX);
        return why;
    }
    p4_node_peer *p = &cfg->node_peers[cfg->node_peer_count];
    const char *at = memchr(s, '@', n);
    if (at == NULL || n < (size_t)(at - s) + 2 + P4_NODE_KEY_CHARS ||
        e[-P4_NODE_KEY_CHARS - 1] != '@' || e - P4_NODE_KEY_CHARS - 1 <= at) {
        snprintf(why, why_size, "entry %d '%.*s': expected ID@tcp://ADDRESS:PORT@KEY with "
                 "a 40-character key", item, (int)n, s);
        return why;
    }
    char id_text[16], endpoint[P4_ENDPOINT_MAX + 1];
    size_t id_len = (size_t)(at - s), ep_len = (size_t)(e - P4_NODE_KEY_CHARS - 1 - at - 1);
    if (id_len == 0 || id_len >= sizeof id_text || ep_len >= sizeof endpoint) {
        snprintf(why, why_size, "entry %d: id or endpoint too long or missing", item);
        return why;
    }
    memcpy(id_text, s, id_len);
    id_text[id_len] = '\0';
    memcpy(endpoint, at + 1, ep_len);
    endpoint[ep_len] = '\0';
    static const config_key id_key = {.name = "id", .type = KEY_INT, .min = 0,
                                      .max = P4_CONFIG_NODE_ID_MAX};
    char inner[P4_ERROR_MESSAGE_MAX / 4];
    const char *bad = parse_int(&id_key, id_text, &p->id, inner, sizeof inner);
    if (bad == NULL)
        bad = check_endpoint(endpoint, 0, inner, sizeof inner);
    if (bad != NULL) {
        snprintf(why, why_size, "entry %d '%.*s': %s", item, (int)n, s, bad);
        return why;
    }
    const char *key = e - P4_NODE_KEY_CHARS;
    if ((bad = check_key_chars(key, item, why, why_size)) != NULL)
        return bad;
    for (int i = 0; i < cfg->node_peer_count; i++)
        if (cfg->node_peers[i].id == p->id) {
            snprintf(why, why_size, "peer %d is listed twice", p->id);
            return why;
        }
    memcpy(p->endpoint, endpoint, ep_len + 1); /* check_endpoint: ep_len < P4_ENDPOINT_MAX */
    memcpy(p->key, key, P4_NODE_KEY_CHARS);
    p->key[P4_NODE_KEY_CHARS] = '\0';
    cfg->node_peer_count++;
    return NULL;
}

/* "KEY": one more of cfg's [node] allow keys. */
static const char *take_key(const char *s, size_t n, int item, p4_config *cfg, char *why,
                            size_t why_size)
{
    if (n != P4_NODE_KEY_CHARS) {
        snprintf(why, why_size, "entry %d '%.*s': a key is 40 Z85 characters", item, (int)n, s);
        return why;
    }
    const char *bad = check_key_chars(s, item, why, why_size);
    if (bad != NULL)
        return bad;
    if (cfg->node_allow_count >= P4_NODE_ALLOW_MAX) {
        snprintf(why, why_size, "more than %d keys", P4_NODE_ALLOW_MAX);
        return why;
    }
    memcpy(cfg->node_allow[cfg->node_allow_count], s, n);
    cfg->node_allow[cfg->node_allow_count++][n] = '\0';
    return NULL;
}

/* "hex, hex, ..." appended to a p4_hex_list: each value an even number of
 * hex digits, at most P4_HEX_VALUE_MAX (sizes are checked by the backend). */
static const char *parse_hex_list(const char *v, p4_hex_list *list, char *why, size_t why_size)
{
    for (const char *s = v;;) {
        while (*s == ' ' || *s == '\t')
            s++;
        size_t n = strcspn(s, ", \t");
        const char *after = s + n;
        while (*after == ' ' || *after == '\t')
            after++;
        if (n == 0 || (*after != ',' && *after != '\0')) {
            snprintf(why, why_size, "want hex values separated by commas");
            return why;
        }
        if (n % 2 != 0 || n > P4_HEX_VALUE_MAX) {
            snprintf(why, why_size, "value %d has %zu hex digits (want an even number, at most %d)",
                     list->count + 1, n, P4_HEX_VALUE_MAX);
            return why;
        }
        for (size_t i = 0; i < n; i++)
            if (!isxdigit((unsigned char)s[i])) {
                snprintf(why, why_size, "value %d holds '%c', which is not hex", list->count + 1,
                         s[i]);
                return why;
            }
        if (list->count == P4_HEX_LIST_MAX) {
            snprintf(why, why_size, "more than %d values", P4_HEX_LIST_MAX);
            return why;
        }
        memcpy(list->items[list->count], s, n);
        list->items[list->count++][n] = '\0';
        if (*after == '\0')
            return NULL;
        s = after + 1;
    }
}

/* Printable ASCII, spaces allowed, that fits the field. */
static const char *parse_text(const char *v, char *field, size_t size, char *why,
                              size_t why_size)
{
    size_t n = strlen(v);
    if (n >= size) {
        snprintf(why, why_size, "longer than %zu characters", size - 1);
        return why;
    }
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)v[i] < 0x20 || (unsigned char)v[i] >= 0x7f) {
            snprintf(why, why_size, "character %zu is not printable ASCII", i + 1);
            return why;
        }
    memcpy(field, v, n + 1);
    return NULL;
}

/* Parses v as k's type into its field; NULL or what is wrong. */
static const char *store_value(parse_state *st, const config_key *k, const char *v,
                               char *why, size_t why_size)
{
    char *field = (char *)st->cfg + k->offset;
    const char *bad = NULL;
    switch (k->type) {
    case KEY_INT: {
        int x = 0;
        if ((bad = parse_int(k, v, &x, why, why_size)) == NULL)
            memcpy(field, &x, sizeof x);
        break;
    }
    case KEY_DOUBLE: {
        double x = 0;
        if ((bad = parse_double(k, v, &x, why, why_size)) == NULL)
            memcpy(field, &x, sizeof x);
        break;
    }
    case KEY_UINT64: {
        uint64_t x = 0;
        if ((bad = parse_uint64(v, &x)) == NULL)
            memcpy(field, &x, sizeof x);
        break;
    }
    case KEY_BOOL: {
        int x = 0;
        if ((bad = parse_bool(v, &x)) == NULL)
            memcpy(field, &x, sizeof x);
        break;
    }
    case KEY_ENUM:
    case KEY_PARTITION: {
        int index = choice_index(k->choices, v);
        if (index < 0) {
            char list[128];
            choices_text(k->choices, list, sizeof list);
            snprintf(why, why_size, "must be one of %s", list);
            return why;
        }
        if (k->type == KEY_ENUM) {
            snprintf(field, k->size, "%s", v); /* choices fit their fields */
        } else {
            p4_partition_kind kind = (p4_partition_kind)index;
            memcpy(field, &kind, sizeof kind);
        }
        break;
    }
    case KEY_PATH:
        bad = parse_path(st, v, field, k->size);
        break;
    case KEY_CLASS_SETS:
        bad = parse_class_sets(v, &st->cfg->partition, &st->class_sets, why, why_size);
        break;
    case KEY_ENDPOINT:
        if ((bad = check_endpoint(v, (k->flags & KEY_PORT_ZERO) != 0, why, why_size)) == NULL)
            snprintf(field, k->size, "%s", v); /* check_endpoint bounds the length */
        break;
    case KEY_PEERS:
        bad = each_entry(v, take_peer, st->cfg, why, why_size);
        break;
    case KEY_KEYS:
        bad = each_entry(v, take_key, st->cfg, why, why_size);
        break;
    case KEY_HEX_LIST:
        bad = parse_hex_list(v, (p4_hex_list *)field, why, why_size);
        break;
    case KEY_TEXT:
        bad = parse_text(v, field, k->size, why, why_size);
        break;
    }
    return bad;
}

/* The inih handler: one call per "key = value" line. */
static int on_key(void *user, const char *section, const char *name, const char *value)
{
    parse_state *st = user;
    if (is_continuation(st, value)) {
        fail_line(st, "indented line is read as a continuation of '%s' on the line "
                      "before; remove the leading whitespace", name);
        return 0;
    }
    if (!reads_section(st, section))
        return 1; /* p4_config_load_sections: another program's section */
    if (section[0] == '\0') {
        fail_line(st, "%s = %s: key outside any section (sections: %s)", name, value,
                  SECTIONS_TEXT);
        return 0;
    }
    if (!section_known(section)) {
        fail_key(st, section, name, value, "unknown section [%s]", section);
        return 0;
    }
    const config_key *k = find_key(section, name);
    if (k == NULL && strcmp(section, "dp") == 0 && strcmp(name, "noise_seeded") == 0) {
        /* A config file must never be able to make the DP noise public. */
        fail_key(st, section, name, value, "removed: a config cannot seed the DP noise; "
                 "use the --reproducible flag for a reproducible (and not private) run");
        return 0;
    }
    if (k == NULL) {
        char keys[P4_ERROR_MESSAGE_MAX / 2];
        list_keys(section, keys, sizeof keys);
        fail_key(st, section, name, value, "unknown key (keys of [%s]: %s)", section, keys);
        return 0;
    }
    if (k->type == KEY_ENUM && strcmp(name, "backend") == 0 && strcmp(section, "tee") == 0 &&
        choice_index(k->choices, value) < 0) {
        fail_key(st, section, name, value, "the backends built are `software`, `optee` and `cca` "
                 "(docs/tee.md)");
        return 0;
    }
    size_t i = key_index(k);
    if (st->key_line[i] != 0 && !(k->flags & KEY_REPEATABLE)) {
        fail_key(st, section, name, value, "duplicate key (first set on line %d)",
                 st->key_line[i]);
        return 0;
    }
    if (value[0] == '\0') {
        fail_key(st, section, name, value, "empty value");
        return 0;
    }
    char why[P4_ERROR_MESSAGE_MAX / 2];
    const char *bad = store_value(st, k, value, why, sizeof why);
    if (bad != NULL) {
        fail_key(st, section, name, value, "%s", bad);
        return 0;
    }
    if (st->key_line[i] == 0) { /* a repeated key is reported at its first line */
        st->key_line[i] = st->lineno;
        snprintf(st->key_value[i], sizeof st->key_value[i], "%s", value);
    }
    return 1;
}

/* ---- checks across keys ------------------------------------------------- */

static int seen(const parse_state *st, const char *section, const char *name)
{
    const config_key *k = find_key(section, name);
    return k != NULL && st->key_line[key_index(k)] != 0;
}

/* Records an error about a key that was set, at its line. */
__attribute__((format(printf, 4, 5)))
static void fail_at_key(parse_state *st, const char *section, const char *name,
                        const char *fmt, ...)
{
    const config_key *k = find_key(section, name);
    size_t i = key_index(k);
    char what[P4_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    st->lineno = st->key_line[i];
    fail_key(st, section, name, st->key_value[i], "%s", what);
}

/* Records "<file>: missing required key 'k' in [section]<extra>". */
static void fail_missing(parse_state *st, const char *section, const char *name,
                         const char *extra)
{
    if (st->error_line != 0)
        return;
    st->error_line = -1;
    snprintf(st->error, sizeof st->error, "%s: missing required key '%s' in [%s]%s",
             st->path, name, section, extra);
}

static int dataset_classes(const char *dataset)
{
    if (strcmp(dataset, "femnist") == 0)
        return 62;
    if (strcmp(dataset, "cifar100") == 0)
        return 100;
    return 10; /* fashion-mnist, cifar10 */
}

static void check_partition(parse_state *st)
{
    p4_config *cfg = st->cfg;
    p4_partition_spec *spec = &cfg->partition;
    int classes = dataset_classes(cfg->dataset);

    if (spec->kind == P4_PARTITION_WRITER && strcmp(cfg->dataset, "femnist") != 0)
        fail_at_key(st, "data", "partition", "needs dataset = femnist (dataset is %s)",
                    cfg->dataset);
    if (spec->kind == P4_PARTITION_LABEL_SKEW && !seen(st, "data", "major_fraction"))
        fail_missing(st, "data", "major_fraction", " (needed by partition = label-skew)");
    if (spec->kind == P4_PARTITION_DIRICHLET && !seen(st, "data", "alpha"))
        fail_missing(st, "data", "alpha", " (needed by partition = dirichlet)");
    if (spec->kind != P4_PARTITION_CLUSTERED)
        return;

    if (spec->classes_per_cluster > classes)
        fail_at_key(st, "data", "classes_per_cluster", "%s has only %d classes",
                    cfg->dataset, classes);
    if (!seen(st, "data", "cluster_classes"))
        return;
    if (!seen(st, "data", "clusters"))
        spec->clusters = st->class_sets;
    else if (st->class_sets != spec->clusters)
        fail_at_key(st, "data", "cluster_classes",
                    "lists %d set%s but clusters = %d (sets are separated by ';'; "
                    "' ;' with a space before it starts a comment)",
                    st->class_sets, st->class_sets == 1 ? "" : "s", spec->clusters);
    for (int c = 0; c < st->class_sets; c++)
        for (int i = 0; i < spec->cluster_class_count[c]; i++)
            if (spec->cluster_classes[c][i] >= classes)
                fail_at_key(st, "data", "cluster_classes",
                            "set %d: class %d does not exist in %s (%d classes)", c + 1,
                            spec->cluster_classes[c][i], cfg->dataset, classes);
}

static void check_dp(parse_state *st)
{
    p4_config *cfg = st->cfg;
    if (!seen(st, "dp", "enabled")) {
        /* Writing any [dp] key asks for DP. */
        cfg->dp_enabled = 0;
        for (size_t i = 0; i < KEY_COUNT; i++)
            if (strcmp(config_keys[i].section, "dp") == 0 && st->key_line[i] != 0)
                cfg->dp_enabled = 1;
    }
    if (!cfg->dp_enabled)
        return;
    int eps = seen(st, "dp", "target_epsilon"), noise = seen(st, "dp", "noise_multiplier");
    if (eps && noise) {
        int eps_line = st->key_line[key_index(find_key("dp", "target_epsilon"))];
        int noise_line = st->key_line[key_index(find_key("dp", "noise_multiplier"))];
        const char *later = eps_line > noise_line ? "target_epsilon" : "noise_multiplier";
        fail_at_key(st, "dp", later,
                    "set either target_epsilon (line %d) or noise_multiplier (line %d), "
                    "not both: choose one", eps_line, noise_line);
    } else if (!eps && !noise) {
        fail_missing(st, "dp", "target_epsilon' or 'noise_multiplier",
                     " (DP is enabled: choose one)");
    } else if (eps) {
        cfg->noise_multiplier = -1; /* calibrated from target_epsilon */
    } else {
        cfg->target_epsilon = 0;
    }
}

/* [node] ids name clients of this config, and no peer is the node itself. */
static void check_node(parse_state *st)
{
    const p4_config *cfg = st->cfg;
    int clients = cfg->partition.clients;
    if (seen(st, "node", "id") && cfg->node_id >= clients)
        fail_at_key(st, "node", "id", "must be below [data] clients = %d", clients);
    for (int i = 0; i < cfg->node_peer_count; i++) {
        int id = cfg->node_peers[i].id;
        if (id >= clients)
            fail_at_key(st, "node", "peers", "peer %d: ids must be below [data] clients = %d",
                        id, clients);
        else if (id == cfg->node_id)
            fail_at_key(st, "node", "peers", "peer %d is this node's own id", id);
    }
    if (cfg->node_dead_after <= cfg->node_heartbeat)
        fail_at_key(st, "node", seen(st, "node", "dead_after") ? "dead_after" : "heartbeat",
                    "dead_after (%g s) must exceed heartbeat (%g s): a live peer would look "
                    "dead between two heartbeats", cfg->node_dead_after, cfg->node_heartbeat);
}

/* [tee]: cca needs its policy; the cca keys mean nothing to software, and a
 * policy silently ignored would admit peers without attestation. */
static void check_tee(parse_state *st)
{
    static const char *const cca_keys[] = {"cpak", "realm_initial_measurement",
                                           "realm_personalization_value",
                                           "platform_sw_component", "evidence", "tsm_root",
                                           "evidence_command"};
    const p4_config *cfg = st->cfg;
    if (strcmp(cfg->tee_backend, "cca") != 0) {
        for (size_t i = 0; i < sizeof cca_keys / sizeof cca_keys[0]; i++)
            if (seen(st, "tee", cca_keys[i]))
                fail_at_key(st, "tee", cca_keys[i], "is read only with backend = cca (this "
                            "config's backend is %s, which admits peers without attestation)",
                            cfg->tee_backend);
        return;
    }
    if (!seen(st, "tee", "cpak"))
        fail_missing(st, "tee", "cpak", " (backend = cca verifies peers' tokens under it)");
    if (!seen(st, "tee", "realm_initial_measurement"))
        fail_missing(st, "tee", "realm_initial_measurement",
                     " (backend = cca admits only realms whose measurement is listed)");
    if (strcmp(cfg->tee_evidence, "command") == 0 && !seen(st, "tee", "evidence_command"))
        fail_missing(st, "tee", "evidence_command", " (evidence = command)");
    if (strcmp(cfg->tee_evidence, "command") != 0 && seen(st, "tee", "evidence_command"))
        fail_at_key(st, "tee", "evidence_command", "is read only with evidence = command");
}

static void finish(parse_state *st)
{
    p4_config *cfg = st->cfg;
    for (size_t i = 0; i < KEY_COUNT; i++)
        if ((config_keys[i].flags & KEY_REQUIRED) && st->key_line[i] == 0 &&
            reads_section(st, config_keys[i].section))
            fail_missing(st, config_keys[i].section, config_keys[i].name, "");
    if (st->error_line != 0 || st->only != NULL)
        return; /* the checks below span [data], [model], [dp], [node] and [tee] */

    if (!seen(st, "data", "path")) {
        if (strcmp(cfg->dataset, "fashion-mnist") == 0)
            snprintf(cfg->data_path, sizeof cfg->data_path, "/usr/share/datasets/fashion-mnist");
        else
            fail_missing(st, "data", "path", " (no default location for this dataset)");
    }
    if (!seen(st, "model", "proxy_cfg"))
        memcpy(cfg->proxy_cfg, cfg->model_cfg, sizeof cfg->proxy_cfg);
    check_partition(st);
    check_dp(st);
    check_node(st);
    check_tee(st);
    if (cfg->augmentations > 1 && cfg->tee_pp_start >= 0)
        fail_at_key(st, "dp", "augmentations", "is not supported with [tee] pp_start = %d: "
                    "the TA clips whole examples, not the mean of augmented copies (use 1)",
                    cfg->tee_pp_start);
    if (strcmp(cfg->proxy_init, "random") != 0 && cfg->tee_pp_start >= 0)
        fail_at_key(st, "model", "proxy_init", "is not supported with [tee] pp_start = %d: "
                    "the TA initialises its layers itself (use random)", cfg->tee_pp_start);
    if (strcmp(cfg->predict, "ensemble") == 0 && cfg->tee_pp_start >= 0)
        fail_at_key(st, "p4", "predict", "is not supported with [tee] pp_start = %d: "
                    "the TA gives the proxy's top-1 class, not its probabilities (use private)",
                    cfg->tee_pp_start);
    if (cfg->proxy_frozen_layers > 0 && cfg->tee_pp_start >= 0)
        fail_at_key(st, "model", "proxy_frozen_layers", "is not supported with [tee] pp_start = "
                    "%d: the TA trains its layers whole (use 0)", cfg->tee_pp_start);
    if (strcmp(cfg->proxy_init, "random") != 0 && strcmp(cfg->proxy_projection, "none") != 0)
        fail_at_key(st, "model", "proxy_init", "sets the proxy's first layer, and so does "
                    "proxy_projection = %s: use one", cfg->proxy_projection);
    if (strcmp(cfg->proxy_projection, "none") != 0 && cfg->tee_pp_start >= 0)
        fail_at_key(st, "model", "proxy_projection", "is not supported with [tee] pp_start = %d: "
                    "the TA trains its layers whole and cannot keep a projection frozen "
                    "(use none)", cfg->tee_pp_start);
}

/* ---- loading ------------------------------------------------------------ */

/* Reads path whole; P4_OK or an error naming the file. */
static int read_file(const char *path, char **text, size_t *len, p4_error *err)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return p4_error_set(err, P4_EIO, "%s: cannot open: %s", path, strerror(errno));
    char *buf = malloc(CONFIG_FILE_MAX + 1);
    if (buf == NULL) {
        fclose(f);
        return p4_error_set(err, P4_ENOMEM, "%s: out of memory", path);
    }
    size_t n = fread(buf, 1, CONFIG_FILE_MAX + 1, f);
    int failed = ferror(f);
    int saved = errno;
    fclose(f);
    if (failed) {
        free(buf);
        return p4_error_set(err, P4_EIO, "%s: cannot read: %s", path, strerror(saved));
    }
    if (n > CONFIG_FILE_MAX) {
        free(buf);
        return p4_error_set(err, P4_ECONFIG, "%s: larger than %d bytes: not a p4 config",
                            path, CONFIG_FILE_MAX);
    }
    *text = buf;
    *len = n;
    return P4_OK;
}

/* The text of line `lineno` (1-based) of st->text, trimmed, for messages. */
static void line_text(const parse_state *st, int lineno, char *out, size_t size)
{
    const char *s = st->text, *end = st->text + st->len;
    for (int i = 1; i < lineno && s < end; i++) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        s = nl ? nl + 1 : end;
    }
    const char *nl = memchr(s, '\n', (size_t)(end - s));
    const char *e = nl ? nl : end;
    s = skip_space(s, e);
    e = trim_end(s, e);
    snprintf(out, size, "%.*s", (int)(e - s), s);
}

static int load(const char *path, const char *const *only, int only_count, p4_config *cfg,
                p4_error *err)
{
    p4_config_defaults(cfg);
    if (snprintf(cfg->path, sizeof cfg->path, "%s", path) >= (int)sizeof cfg->path)
        return p4_error_set(err, P4_ECONFIG, "%.200s...: config path too long", path);

    parse_state *st = calloc(1, sizeof *st);
    if (st == NULL)
        return p4_error_set(err, P4_ENOMEM, "%s: out of memory", path);
    st->path = path;
    st->cfg = cfg;
    st->only = only;
    st->only_count = only_count;
    const char *slash = strrchr(path, '/');
    if (slash != NULL)
        snprintf(st->dir, sizeof st->dir, "%.*s/", (int)(slash - path), path);

    char *text = NULL;
    int rc = read_file(path, &text, &st->len, err);
    if (rc != P4_OK) {
        free(st);
        return rc;
    }
    st->text = text;

    int syntax_line = ini_parse_stream(read_line, st, on_key, st);
    if (syntax_line > 0 && (st->error_line == 0 || syntax_line < st->error_line)) {
        /* inih's own complaint: a line that is neither [section] nor key = value */
        char shown[120];
        line_text(st, syntax_line, shown, sizeof shown);
        st->error_line = 0;
        st->lineno = syntax_line;
        fail_line(st, "'%s': expected '[section]' or 'key = value'", shown);
    }
    if (st->error_line == 0)
        finish(st);

    rc = P4_OK;
    if (st->error_line != 0)
        rc = p4_error_set(err, P4_ECONFIG, "%s", st->error);
    free(text);
    free(st);
    return rc;
}

int p4_config_load(const char *path, p4_config *cfg, p4_error *err)
{
    if (path == NULL || cfg == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_config_load: path and cfg are required");
    return load(path, NULL, 0, cfg, err);
}

int p4_config_load_sections(const char *path, const char *const *sections, int count,
                            p4_config *cfg, p4_error *err)
{
    if (path == NULL || cfg == NULL || sections == NULL || count < 1)
        return p4_error_set(err, P4_EINVAL,
                            "p4_config_load_sections: path, cfg and sections are required");
    for (int i = 0; i < count; i++)
        if (sections[i] == NULL || !section_known(sections[i]))
            return p4_error_set(err, P4_EINVAL, "p4_config_load_sections: no section [%s] "
                                "(sections: %s)", sections[i] ? sections[i] : "(null)",
                                SECTIONS_TEXT);
    return load(path, sections, count, cfg, err);
}

/* ---- documentation ------------------------------------------------------ */

static const char *type_name(key_type t)
{
    switch (t) {
    case KEY_INT: return "int";
    case KEY_DOUBLE: return "double";
    case KEY_UINT64: return "uint64";
    case KEY_BOOL: return "bool";
    case KEY_ENUM: return "enum";
    case KEY_PATH: return "path";
    case KEY_PARTITION: return "enum";
    case KEY_CLASS_SETS: return "class sets";
    case KEY_ENDPOINT: return "endpoint";
    case KEY_PEERS: return "peer list";
    case KEY_KEYS: return "key list";
    case KEY_HEX_LIST: return "hex list";
    case KEY_TEXT: return "text";
    }
    return "?";
}

static void print_allowed(FILE *out, const config_key *k)
{
    char text[128];
    switch (k->type) {
    case KEY_INT:
    case KEY_DOUBLE:
        range_text(k, text, sizeof text);
        fputs(text, out);
        break;
    case KEY_UINT64: fputs("0 .. 2^64-1", out); break;
    case KEY_BOOL: fputs("true, false, yes, no, 1, 0", out); break;
    case KEY_ENUM:
    case KEY_PARTITION:
        choices_text(k->choices, text, sizeof text);
        fputs(text, out);
        break;
    case KEY_PATH: fputs("a path; relative ones start at the config file's folder", out); break;
    case KEY_CLASS_SETS: fputs("c,c,...; c,c,...", out); break;
    case KEY_ENDPOINT: fputs("tcp://ADDRESS:PORT", out); break;
    case KEY_PEERS: fputs("ID@tcp://ADDRESS:PORT@KEY, ...", out); break;
    case KEY_KEYS: fputs("KEY, KEY, ...", out); break;
    case KEY_HEX_LIST: fputs("hex, hex, ...", out); break;
    case KEY_TEXT: fputs("printable text", out); break;
    }
}

static void print_default(FILE *out, const config_key *k, const p4_config *defaults)
{
    const char *field = (const char *)defaults + k->offset;
    if (k->flags & KEY_REQUIRED) {
        fputs("required", out);
        return;
    }
    if (k->default_text != NULL) {
        fputs(k->default_text, out);
        return;
    }
    switch (k->type) {
    case KEY_INT: {
        int x;
        memcpy(&x, field, sizeof x);
        fprintf(out, "%d", x);
        break;
    }
    case KEY_DOUBLE: {
        double x;
        memcpy(&x, field, sizeof x);
        fprintf(out, "%g", x);
        break;
    }
    case KEY_UINT64: {
        uint64_t x;
        memcpy(&x, field, sizeof x);
        fprintf(out, "%" PRIu64, x);
        break;
    }
    case KEY_BOOL: {
        int x;
        memcpy(&x, field, sizeof x);
        fputs(x ? "true" : "false", out);
        break;
    }
    case KEY_PARTITION: {
        p4_partition_kind kind;
        memcpy(&kind, field, sizeof kind);
        const char *c = k->choices;
        for (int i = 0; i < (int)kind && strchr(c, '|'); i++)
            c = strchr(c, '|') + 1;
        fprintf(out, "%.*s", (int)strcspn(c, "|"), c);
        break;
    }
    case KEY_ENUM:
    case KEY_PATH:
        fputs(field[0] ? field : "-", out);
        break;
    case KEY_CLASS_SETS:
    case KEY_ENDPOINT:
    case KEY_PEERS:
    case KEY_KEYS:
    case KEY_HEX_LIST:
    case KEY_TEXT:
        fputs("-", out);
        break;
    }
}

void p4_config_print_keys(FILE *out)
{
    if (out == NULL)
        return;
    p4_config defaults;
    p4_config_defaults(&defaults);
    for (size_t s = 0; s < SECTION_COUNT; s++) {
        fprintf(out, "%s### [%s]\n\n", s ? "\n" : "", config_sections[s]);
        fputs("| key | type | allowed | default | meaning |\n", out);
        fputs("| --- | --- | --- | --- | --- |\n", out);
        for (size_t i = 0; i < KEY_COUNT; i++) {
            const config_key *k = &config_keys[i];
            if (strcmp(k->section, config_sections[s]) != 0)
                continue;
            fprintf(out, "| `%s` | %s | ", k->name, type_name(k->type));
            print_allowed(out, k);
            fputs(" | ", out);
            print_default(out, k, &defaults);
            fprintf(out, " | %s |\n", k->help);
        }
    }
}

/* ---- writing a config back ---------------------------------------------- */

/* "0,1,2;3,4,5" (no space before ';': " ;" would start a comment). */
static void write_class_sets(FILE *out, const p4_partition_spec *spec)
{
    for (int c = 0; c < spec->clusters && c < P4_MAX_CLUSTERS; c++) {
        if (c)
            fputc(';', out);
        for (int i = 0; i < spec->cluster_class_count[c]; i++)
            fprintf(out, "%s%d", i ? "," : "", spec->cluster_classes[c][i]);
    }
}

/* Writes "name = value\n" for k, or nothing when cfg's value is the one
 * that means "not given" (which the parser would refuse as a value). */
static void write_key(FILE *out, const config_key *k, const p4_config *cfg)
{
    const char *field = (const char *)cfg + k->offset;
    switch (k->type) {
    case KEY_INT: {
        int x;
        memcpy(&x, field, sizeof x);
        if (in_range(k, x))
            fprintf(out, "%s = %d\n", k->name, x);
        break;
    }
    case KEY_DOUBLE: {
        double x;
        memcpy(&x, field, sizeof x);
        if (isfinite(x) && in_range(k, x))
            fprintf(out, "%s = %.17g\n", k->name, x); /* 17 digits: the same double back */
        break;
    }
    case KEY_UINT64: {
        uint64_t x;
        memcpy(&x, field, sizeof x);
        fprintf(out, "%s = %" PRIu64 "\n", k->name, x);
        break;
    }
    case KEY_BOOL: {
        int x;
        memcpy(&x, field, sizeof x);
        fprintf(out, "%s = %s\n", k->name, x ? "true" : "false");
        break;
    }
    case KEY_PARTITION: {
        p4_partition_kind kind;
        memcpy(&kind, field, sizeof kind);
        const char *c = k->choices;
        for (int i = 0; i < (int)kind && strchr(c, '|'); i++)
            c = strchr(c, '|') + 1;
        fprintf(out, "%s = %.*s\n", k->name, (int)strcspn(c, "|"), c);
        break;
    }
    case KEY_ENUM:
    case KEY_PATH:
    case KEY_ENDPOINT:
    case KEY_TEXT:
        if (field[0] && !(strcmp(k->section, "tee") == 0 && strcmp(k->name, "evidence") == 0 &&
                          strcmp(cfg->tee_backend, "cca") != 0))
            fprintf(out, "%s = %s\n", k->name, field);
        break;
    case KEY_HEX_LIST: { /* one line each: a line holds at most 199 characters */
        const p4_hex_list *list = (const p4_hex_list *)field;
        for (int i = 0; i < list->count; i++)
            fprintf(out, "%s = %s\n", k->name, list->items[i]);
        break;
    }
    case KEY_CLASS_SETS:
        if (cfg->partition.kind == P4_PARTITION_CLUSTERED &&
            cfg->partition.cluster_class_count[0] > 0) {
            fprintf(out, "%s = ", k->name);
            write_class_sets(out, &cfg->partition);
            fputc('\n', out);
        }
        break;
    case KEY_PEERS: /* one line each: a line holds at most 199 characters */
        for (int i = 0; i < cfg->node_peer_count; i++)
            fprintf(out, "%s = %d@%s@%s\n", k->name, cfg->node_peers[i].id,
                    cfg->node_peers[i].endpoint, cfg->node_peers[i].key);
        break;
    case KEY_KEYS: /* one line each, as peers */
        for (int i = 0; i < cfg->node_allow_count; i++)
            fprintf(out, "%s = %s\n", k->name, cfg->node_allow[i]);
        break;
    }
}

int p4_config_write(const p4_config *cfg, FILE *out, p4_error *err)
{
    if (cfg == NULL || out == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_config_write: cfg and out are required");
    if (cfg->path[0])
        fprintf(out, "; written by p4 from %s\n", cfg->path);
    for (size_t s = 0; s < SECTION_COUNT; s++) {
        fprintf(out, "%s[%s]\n", s ? "\n" : "", config_sections[s]);
        for (size_t i = 0; i < KEY_COUNT; i++)
            if (strcmp(config_keys[i].section, config_sections[s]) == 0)
                write_key(out, &config_keys[i], cfg);
    }
    if (fflush(out) != 0 || ferror(out))
        return p4_error_set(err, P4_EIO, "cannot write the config: %s", strerror(errno));
    return P4_OK;
}
