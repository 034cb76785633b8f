/* workload.h: a config's datasets, loaded and split among its clients.
 *
 * `p4 data`, `p4 train` and `p4 sim` all start the same way: load the train
 * and test sets named by [data] (honouring max_train / max_test) and build
 * the partition.  p4_workload_load does exactly that, and when the dataset
 * is not on this machine it says which package or folder provides it. */
#ifndef P4_DATASETS_WORKLOAD_H
#define P4_DATASETS_WORKLOAD_H

#include "common/config.h"
#include "common/error.h"
#include "datasets/dataset.h"
#include "datasets/partition.h"

typedef struct p4_workload {
    p4_dataset *train;
    p4_dataset *test;
    p4_partition *partition;   /* cfg->partition applied to (train, test) */
} p4_workload;

/* Loads cfg's dataset from cfg->data_path and partitions it:
 *   fashion-mnist  IDX files (Debian's names), "train" and "test"
 *   femnist        LEAF json in data_path/train and data_path/test, test
 *                  writers renumbered to match train's
 *   cifar10        data_path/data_batch_*.bin (in version order), test_batch.bin
 *   cifar100       data_path/train.bin, data_path/test.bin, fine labels
 * P4_EIO with a hint naming the package or folder when the data are missing;
 * loader (P4_EFORMAT, ...) and partition (P4_EINVAL) errors pass through. */
int p4_workload_load(const p4_config *cfg, p4_workload **out, p4_error *err);
void p4_workload_destroy(p4_workload **w);

#endif
