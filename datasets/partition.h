/* partition.h: splitting a dataset among clients, deterministically.
 *
 * Personalised learning is about clients whose data differ.  A partition
 * gives every client its own train indices (into the train set) and test
 * indices (into the test set), drawn from the same distribution for that
 * client, so a client's test accuracy measures its own task.  The same
 * (config, seed) always gives the same partition; no example is given to two
 * clients; train and test indices come from different sets, so they never
 * overlap. */
#ifndef P4_DATASETS_PARTITION_H
#define P4_DATASETS_PARTITION_H

#include <stdint.h>

#include "datasets/dataset.h"

typedef enum {
    P4_PARTITION_IID = 0,        /* uniform over all classes                  */
    P4_PARTITION_WRITER,         /* FEMNIST: client k gets writer k's data    */
    P4_PARTITION_LABEL_SKEW,     /* fraction major_fraction from one class    */
    P4_PARTITION_DIRICHLET,      /* label proportions ~ Dirichlet(alpha)      */
    P4_PARTITION_CLUSTERED       /* C latent clusters, each with its classes  */
} p4_partition_kind;

#define P4_MAX_CLASSES 100
#define P4_MAX_CLUSTERS 64

typedef struct p4_partition_spec {
    p4_partition_kind kind;
    int clients;                 /* N >= 1                                    */
    int train_per_client;        /* 0 = share the whole train set evenly       */
    int test_per_client;         /* 0 = share the whole test set evenly        */
    uint64_t seed;
    double major_fraction;       /* LABEL_SKEW: p in [0, 1]                    */
    double alpha;                /* DIRICHLET: alpha > 0                       */
    int clusters;                /* CLUSTERED: C >= 1                          */
    int classes_per_cluster;     /* CLUSTERED: 0 = default (see partition.c)   */
    /* CLUSTERED, optional: explicit class sets. cluster_class_count[c] > 0
     * means cluster c's classes are cluster_classes[c][0..count). */
    int cluster_class_count[P4_MAX_CLUSTERS];
    int cluster_classes[P4_MAX_CLUSTERS][P4_MAX_CLASSES];
} p4_partition_spec;

typedef struct p4_client_split {
    int *train;  int train_count;
    int *test;   int test_count;
    int cluster; /* latent cluster for CLUSTERED, major class for LABEL_SKEW, else -1 */
} p4_client_split;

typedef struct p4_partition {
    int clients;
    p4_client_split *split;      /* clients entries */
} p4_partition;

/* Builds a partition of (train, test) under spec.  Errors (P4_EINVAL with a
 * message) when the request cannot be met, e.g. a class pool runs out. */
int p4_partition_new(const p4_partition_spec *spec, const p4_dataset *train,
                     const p4_dataset *test, p4_partition **out, p4_error *err);
void p4_partition_destroy(p4_partition **p);

/* Parses "iid", "writer", "label-skew", "dirichlet", "clustered". */
int p4_partition_kind_parse(const char *text, p4_partition_kind *out);
const char *p4_partition_kind_name(p4_partition_kind kind);

#endif
