/* config.h: p4's INI configuration (parsed with libinih).
 *
 * Sections and keys are listed, with types, ranges and defaults, in the
 * table in config.c and in README.md.  Unknown sections or keys, values of
 * the wrong type or out of range, and missing required keys are errors whose
 * message names the file, the line (where there is one) and the key:
 *     configs/x.ini:12: [dp] clip_norm = -1: must be > 0
 * Relative paths in a config are resolved against the directory of the
 * config file, so configs work from any working directory. */
#ifndef P4_COMMON_CONFIG_H
#define P4_COMMON_CONFIG_H

#include <stdint.h>
#include <stdio.h>

#include "common/error.h"
#include "datasets/partition.h"

#define P4_PATH_MAX 1024
#define P4_ENDPOINT_MAX 128          /* "tcp://host:port" and its NUL */
#define P4_NODE_PEERS_MAX 64         /* members a static [node] peers list names */
#define P4_NODE_KEY_CHARS 40         /* a Z85 CURVE public key in text */
#define P4_NODE_ALLOW_MAX 256        /* keys a [node] allow list names */
#define P4_CONFIG_SERVE_LISTEN "tcp://127.0.0.1:7100" /* [serve] listen's default */
#define P4_CONFIG_SERVE_MAX_ROWS 1024 /* = P4_SERVE_MAX_ROWS (cluster/serve_wire.h) */

/* One other member of a static membership: its client id, where it listens
 * and its CURVE public key in Z85 (checked for length and alphabet here,
 * decoded by the node). */
typedef struct p4_node_peer {
    int id;
    char endpoint[P4_ENDPOINT_MAX];
    char key[P4_NODE_KEY_CHARS + 1];
} p4_node_peer;

/* A [tee] allowlist: hex values as written (one per entry, no separators). */
#define P4_HEX_LIST_MAX 32
#define P4_HEX_VALUE_MAX 128         /* hex digits: a 64-byte value */
typedef struct p4_hex_list {
    char items[P4_HEX_LIST_MAX][P4_HEX_VALUE_MAX + 1];
    int count;
} p4_hex_list;

typedef struct p4_config {
    char path[P4_PATH_MAX];          /* the file this came from */

    /* [data] */
    char dataset[32];                /* fashion-mnist | femnist | cifar10 | cifar100 (required) */
    char data_path[P4_PATH_MAX];     /* default per dataset (fashion-mnist: /usr/share/datasets/fashion-mnist) */
    int max_train;                   /* 0 = all; caps examples loaded */
    int max_test;
    p4_partition_spec partition;     /* partition, clients, train_per_client, test_per_client,
                                        seed, major_fraction, alpha, clusters,
                                        classes_per_cluster, cluster_classes */

    /* [model] */
    char model_cfg[P4_PATH_MAX];     /* darknet .cfg of the (private) model (required) */
    char proxy_cfg[P4_PATH_MAX];     /* proxy model cfg; default = model_cfg */
    char proxy_projection[24];       /* none | public-pca(-whiten) | wavelet(-pca) */
    char proxy_init[24];             /* random | public-pretrain; default random */
    char private_init[24];           /* random | public-pretrain; default random */
    int pretrain_epochs;             /* public-pretrain: plain SGD epochs on the public set; default 10 */
    double pretrain_learning_rate;   /* public-pretrain: 0 (default) = the model's own rate */
    int proxy_frozen_layers;         /* the proxy's first N parametrised layers take no DP-SGD step; 0 */
    int epochs;                      /* default 5 */
    int batch;                       /* default 64 */
    double learning_rate;            /* default 0.05 */
    double proxy_learning_rate;      /* default 0: = learning_rate */
    double momentum;                 /* default 0.9 */
    double weight_decay;             /* default 0 */
    uint64_t seed;                   /* default 1; weight init and batch order */

    /* [dp] (enabled = false unless given) */
    int dp_enabled;
    double target_epsilon;           /* > 0, or 0 if noise_multiplier given */
    double noise_multiplier;         /* >= 0, or -1 = calibrate from target_epsilon */
    double clip_norm;                /* default 1.0 */
    double sample_rate;              /* q in (0,1]; default batch / train size
                                        (0 = not given: derive it from those) */
    double delta;                    /* default 1e-5 */
    char state[P4_PATH_MAX];         /* ledger path; default "" = p4-state.db beside run */
    char noise_layout[16];           /* chunked (default) | serial: docs/noise.md */
    int augmentations;               /* K copies per example in the proxy's DP-SGD; default 1 */

    /* [p4] co-training and grouping (issue 4) */
    int rounds;                      /* default 10 */
    int local_epochs;                /* epochs per round, default 1 */
    int warmup_epochs;               /* default 1 */
    int group_size;                  /* V, default 4 */
    int sample_peers;                /* H, default 0 = all */
    char distance_layers[32];        /* all | last | first | output-bias; default last */
    double warmup_sample_rate;       /* q of the warm-up; 0 = training q; default 1 */
    double warmup_budget;            /* fraction of epsilon the warm-up may spend; default 0.5 */
    char warmup_layers[16];          /* all | last: what the DP warm-up trains; default last */
    double kd_alpha;                 /* a, default 0.5 */
    double kd_temperature;           /* T, default 1 */
    char predict[12];                /* private (the paper's) | ensemble */
    double ensemble_weight;          /* predict = ensemble: the proxy's weight, default 0.5 */
    char aggregate[16];              /* mean | multikrum */
    int krum_f;                      /* multi-Krum: assumed Byzantine count */
    double duplicate_slice_ratio;    /* slice guard: 0 = off (cluster/slice_guard.h) */
    int grouping_commit;             /* commit-then-reveal of the slices (cluster/slice_commit.h) */
    char share[16];                  /* weights | logits */
    int strict_dp;                   /* 1 (default): the proxy learns from labels only */
    char cotrain_batches[16];        /* shared (default, the paper's) | separate */
    int widen_group_size;            /* groups when the distances show no structure; 0 = off */
    double widen_separation;         /* below it the groups widen (cluster/group_widen.h) */
    int public_count;                /* logits mode: size of the public reference set */
    char method[16];                 /* p4 | local | proxyfl | proxyfl-avg | fedavg-dp */

    /* [attack] malicious peers (cluster/attack.h) */
    double attack_fraction;          /* of the clients, chosen from the seed; default 0 */
    char attack_kind[16];            /* none | signflip | scaled | gaussian | labelflip */
    double attack_strength;          /* s of signflip, scaled, gaussian; default 1 */
    char grouping_lie[16];           /* none | copy-target: lie in the grouping phase */
    int attack_target;               /* the lie's target client; -1 = chosen from the seed */
    double lie_noise;                /* std of the noise added to the copied slice; default 0 */

    /* [node] (issue 12; `p4 node` only, ignored by sim and train) */
    int node_id;                     /* this node's client index; -1 = not given */
    char node_listen[P4_ENDPOINT_MAX]; /* "tcp://ADDR:PORT"; "" = not given */
    p4_node_peer node_peers[P4_NODE_PEERS_MAX]; /* every other member */
    int node_peer_count;
    char node_state[P4_PATH_MAX];    /* state directory; "" = not given */
    double node_timeout;             /* seconds to wait for one exchange, default 60 */
    char node_allow[P4_NODE_ALLOW_MAX][P4_NODE_KEY_CHARS + 1]; /* more admitted keys (Z85) */
    int node_allow_count;
    int node_trust_bootstrap;        /* admit members a bootstrap peer vouches for; default 0 */
    char node_advertise[P4_ENDPOINT_MAX]; /* where peers reach this node; "" = listen */
    double node_heartbeat;           /* seconds between heartbeats, default 1 */
    double node_dead_after;          /* silence that drops a peer from an exchange, default 10 */

    /* [tee] (optee: docs/tee.md; cca: attestation-gated admission, docs/attestation.md) */
    char tee_backend[16];            /* software | optee | cca              */
    int tee_pp_start, tee_pp_end;    /* optee's protected layers; -1 = none */
    int tee_ta_memory_mib;           /* optee's TA heap, default 10         */
    char tee_cpak[P4_PATH_MAX];      /* cca: trusted platform key (PEM)     */
    p4_hex_list tee_rim;             /* realm_initial_measurement allowlist */
    p4_hex_list tee_personalization; /* realm_personalization_value         */
    p4_hex_list tee_sw_components;   /* platform_sw_component               */
    char tee_evidence[16];           /* configfs-tsm | command              */
    char tee_tsm_root[P4_PATH_MAX];
    char tee_evidence_command[P4_PATH_MAX];

    /* [serve] (`p4 serve`: docs/serve.md) */
    char serve_listen[P4_ENDPOINT_MAX]; /* "" = not given: P4_CONFIG_SERVE_LISTEN */
    int serve_probabilities;         /* answer probabilities when asked; default 0 */
    int serve_max_rows;              /* inputs per request, 1..1024; default 256 */
} p4_config;

/* Fills cfg with every default (no file). */
void p4_config_defaults(p4_config *cfg);

/* Parses path into cfg (after defaults).  P4_ECONFIG with a message naming
 * file, line and key on any error.
 * P4_EIO if the file cannot be read; on any error cfg is not to be used. */
int p4_config_load(const char *path, p4_config *cfg, p4_error *err);

/* Parses only the listed sections of path (e.g. {"serve"} for `p4 serve`,
 * whose file may be a node's config): their keys are checked as
 * p4_config_load checks them, every other section is skipped unread, and
 * only the listed sections' required keys are required.  The checks that
 * span sections ([dp] against [data], [node], [tee]'s cca policy) are not
 * made.  Errors as p4_config_load's; P4_EINVAL for an unknown section. */
int p4_config_load_sections(const char *path, const char *const *sections, int count,
                            p4_config *cfg, p4_error *err);

/* Writes cfg back as INI text from the same key table: every key with its
 * value (paths are absolute after loading), so that loading the output gives
 * the same config.  Keys whose value means "not given" (an unset [node] id,
 * an empty path) are left out.  P4_EIO if the stream fails. */
int p4_config_write(const p4_config *cfg, FILE *out, p4_error *err);

/* Prints every section and key (type, allowed values, default, meaning) as
 * Markdown tables: the reference in docs/config.md is this output. */
void p4_config_print_keys(FILE *out);

#endif
