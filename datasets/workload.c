/* workload.c: load a config's datasets and partition them; see workload.h. */
#define _GNU_SOURCE /* strverscmp */
#include "datasets/workload.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "datasets/loaders.h"

/* Where each dataset comes from, for "not found" messages. */
static const char *dataset_hint(const char *dataset)
{
    if (strcmp(dataset, "fashion-mnist") == 0)
        return "install it with `apt-get install dataset-fashion-mnist` (it goes to "
               "/usr/share/datasets/fashion-mnist), or set [data] path to a folder "
               "holding {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]";
    if (strcmp(dataset, "femnist") == 0)
        return "femnist is LEAF json in <path>/train and <path>/test; a subset ships in "
               "shared/data/femnist beside the repository (set [data] path)";
    if (strcmp(dataset, "cifar10") == 0)
        return "cifar10 is the binary version (data_batch_*.bin, test_batch.bin); a "
               "subset ships in shared/data/cifar10 beside the repository (set [data] path)";
    return "cifar100 is the binary version (train.bin, test.bin); a subset ships in "
           "shared/data/cifar100 beside the repository (set [data] path)";
}

/* Appends "; hint" to a "file not found" message from a loader. */
static int with_hint(int rc, const char *dataset, p4_error *err)
{
    if (rc == P4_EIO && err != NULL) {
        size_t used = strlen(err->message);
        snprintf(err->message + used, sizeof err->message - used, "; %s",
                 dataset_hint(dataset));
    }
    return rc;
}

static int require_dir(const p4_config *cfg, const char *dir, p4_error *err)
{
    struct stat st;
    if (stat(dir, &st) != 0)
        return p4_error_set(err, P4_EIO, "%s: %s data folder %s: %s; %s", cfg->path,
                            cfg->dataset, dir, strerror(errno), dataset_hint(cfg->dataset));
    if (!S_ISDIR(st.st_mode))
        return p4_error_set(err, P4_EIO, "%s: %s data folder %s is not a folder; %s",
                            cfg->path, cfg->dataset, dir, dataset_hint(cfg->dataset));
    return P4_OK;
}

static int join(char *out, size_t size, const char *dir, const char *name, p4_error *err)
{
    int n = snprintf(out, size, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= size)
        return p4_error_set(err, P4_EINVAL, "%s/%s: path too long", dir, name);
    return P4_OK;
}

static int load_femnist(const p4_config *cfg, p4_workload *w, p4_error *err)
{
    char train[PATH_MAX], test[PATH_MAX];
    int rc = join(train, sizeof train, cfg->data_path, "train", err);
    if (rc == P4_OK)
        rc = join(test, sizeof test, cfg->data_path, "test", err);
    if (rc == P4_OK)
        rc = require_dir(cfg, train, err);
    if (rc == P4_OK)
        rc = require_dir(cfg, test, err);
    if (rc == P4_OK)
        rc = p4_load_leaf_dir(train, cfg->max_train, &w->train, err);
    if (rc == P4_OK)
        rc = p4_load_leaf_dir(test, cfg->max_test, &w->test, err);
    if (rc == P4_OK)
        rc = p4_dataset_match_writers(w->train, w->test, err);
    return rc;
}

static int compare_versions(const void *a, const void *b)
{
    return strverscmp(*(char *const *)a, *(char *const *)b);
}

static int is_train_batch(const char *name)
{
    size_t n = strlen(name);
    return strncmp(name, "data_batch_", 11) == 0 && n > 15 &&
           strcmp(name + n - 4, ".bin") == 0;
}

/* The data_batch_*.bin files of dir, full paths in version order
 * (data_batch_2 before data_batch_10). */
static int list_train_batches(const p4_config *cfg, char ***paths, int *count, p4_error *err)
{
    DIR *d = opendir(cfg->data_path);
    if (d == NULL)
        return p4_error_set(err, P4_EIO, "%s: %s", cfg->data_path, strerror(errno));
    char **list = NULL;
    int n = 0, cap = 0, rc = P4_OK;
    struct dirent *e;
    while (rc == P4_OK && (e = readdir(d)) != NULL) {
        if (!is_train_batch(e->d_name))
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 8;
            char **grown = realloc(list, (size_t)cap * sizeof *grown);
            if (grown == NULL) {
                rc = p4_error_set(err, P4_ENOMEM, "%s: out of memory", cfg->data_path);
                break;
            }
            list = grown;
        }
        char path[PATH_MAX];
        rc = join(path, sizeof path, cfg->data_path, e->d_name, err);
        if (rc == P4_OK && (list[n] = strdup(path)) == NULL)
            rc = p4_error_set(err, P4_ENOMEM, "%s: out of memory", cfg->data_path);
        if (rc == P4_OK)
            n++;
    }
    closedir(d);
    if (rc == P4_OK && n == 0)
        rc = p4_error_set(err, P4_EIO, "%s: no data_batch_*.bin files; %s", cfg->data_path,
                          dataset_hint(cfg->dataset));
    if (rc != P4_OK) {
        for (int i = 0; i < n; i++)
            free(list[i]);
        free(list);
        return rc;
    }
    qsort(list, (size_t)n, sizeof *list, compare_versions);
    *paths = list;
    *count = n;
    return P4_OK;
}

static int load_cifar10(const p4_config *cfg, p4_workload *w, p4_error *err)
{
    char **train = NULL;
    int ntrain = 0;
    int rc = list_train_batches(cfg, &train, &ntrain, err);
    if (rc != P4_OK)
        return rc;
    rc = with_hint(p4_load_cifar10((const char *const *)train, ntrain, cfg->max_train,
                                   &w->train, err), cfg->dataset, err);
    for (int i = 0; i < ntrain; i++)
        free(train[i]);
    free(train);

    char test[PATH_MAX];
    if (rc == P4_OK)
        rc = join(test, sizeof test, cfg->data_path, "test_batch.bin", err);
    if (rc == P4_OK) {
        const char *paths[] = {test};
        rc = with_hint(p4_load_cifar10(paths, 1, cfg->max_test, &w->test, err),
                       cfg->dataset, err);
    }
    return rc;
}

static int load_cifar100(const p4_config *cfg, p4_workload *w, p4_error *err)
{
    char train[PATH_MAX], test[PATH_MAX];
    int rc = join(train, sizeof train, cfg->data_path, "train.bin", err);
    if (rc == P4_OK)
        rc = join(test, sizeof test, cfg->data_path, "test.bin", err);
    if (rc == P4_OK) {
        const char *paths[] = {train};
        rc = p4_load_cifar100(paths, 1, 1, cfg->max_train, &w->train, err);
    }
    if (rc == P4_OK) {
        const char *paths[] = {test};
        rc = p4_load_cifar100(paths, 1, 1, cfg->max_test, &w->test, err);
    }
    return with_hint(rc, cfg->dataset, err);
}

static int load_fashion_mnist(const p4_config *cfg, p4_workload *w, p4_error *err)
{
    int rc = p4_load_fashion_mnist(cfg->data_path, "train", cfg->max_train, &w->train, err);
    if (rc == P4_OK)
        rc = p4_load_fashion_mnist(cfg->data_path, "test", cfg->max_test, &w->test, err);
    return with_hint(rc, cfg->dataset, err);
}

int p4_workload_load(const p4_config *cfg, p4_workload **out, p4_error *err)
{
    if (cfg == NULL || out == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_workload_load: cfg and out are required");
    *out = NULL;
    int (*load)(const p4_config *, p4_workload *, p4_error *);
    if (strcmp(cfg->dataset, "fashion-mnist") == 0)
        load = load_fashion_mnist;
    else if (strcmp(cfg->dataset, "femnist") == 0)
        load = load_femnist;
    else if (strcmp(cfg->dataset, "cifar10") == 0)
        load = load_cifar10;
    else if (strcmp(cfg->dataset, "cifar100") == 0)
        load = load_cifar100;
    else
        return p4_error_set(err, P4_EINVAL, "%s: unknown dataset '%s'", cfg->path,
                            cfg->dataset);

    int rc = require_dir(cfg, cfg->data_path, err);
    if (rc != P4_OK)
        return rc;
    p4_workload *w = calloc(1, sizeof *w);
    if (w == NULL)
        return p4_error_set(err, P4_ENOMEM, "p4_workload_load: out of memory");
    rc = load(cfg, w, err);
    if (rc == P4_OK) {
        rc = p4_partition_new(&cfg->partition, w->train, w->test, &w->partition, err);
        if (rc != P4_OK && err != NULL) {
            /* the partitioner does not know which file asked for the split */
            char why[P4_ERROR_MESSAGE_MAX];
            memcpy(why, err->message, sizeof why);
            p4_error_set(err, rc, "%s: [data] partition = %s: %s", cfg->path,
                         p4_partition_kind_name(cfg->partition.kind), why);
        }
    }
    if (rc != P4_OK) {
        p4_workload_destroy(&w);
        return rc;
    }
    *out = w;
    return P4_OK;
}

void p4_workload_destroy(p4_workload **w)
{
    if (w == NULL || *w == NULL)
        return;
    p4_partition_destroy(&(*w)->partition);
    p4_dataset_destroy(&(*w)->train);
    p4_dataset_destroy(&(*w)->test);
    free(*w);
    *w = NULL;
}
