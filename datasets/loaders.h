/* loaders.h: readers for the real on-disk dataset formats.
 *
 * Each loader validates everything it reads and, on a bad file, returns
 * P4_EFORMAT (or P4_EIO) with a message naming the file and the byte offset
 * (or, for JSON, the offset in the text) where it went wrong.  None of them
 * can crash or allocate without bound on hostile input: sizes in headers are
 * checked against the real file size before anything is allocated.
 * `max_examples` > 0 stops after that many examples (0 = all). */
#ifndef P4_DATASETS_LOADERS_H
#define P4_DATASETS_LOADERS_H

#include "datasets/dataset.h"

/* IDX (MNIST / Fashion-MNIST): an images file (magic 0x00000803) and a labels
 * file (magic 0x00000801), each optionally gzip-compressed (detected by the
 * gzip magic, not the name). Counts must agree; labels < classes (10). */
int p4_load_idx(const char *images_path, const char *labels_path,
                int max_examples, p4_dataset **out, p4_error *err);

/* Fashion-MNIST from a directory holding Debian's file names:
 * {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz].  split is "train" or "test". */
int p4_load_fashion_mnist(const char *dir, const char *split, int max_examples,
                          p4_dataset **out, p4_error *err);

/* FEMNIST in LEAF json: every *.json file of `dir` (sorted by name), parsed
 * as a stream (yajl) so a 40 MB file is never held as a tree.  Each file is
 * {"users": [...], "num_samples": [...], "user_data": {w: {"x": [[784]], "y": [..]}}};
 * x values must be in [0,1] and are stored as round(255 x); y in [0, 62).
 * Writers are numbered in order of first appearance; writer_names are kept so
 * that train/ and test/ can be matched by name (p4_dataset_match_writers). */
int p4_load_leaf_dir(const char *dir, int max_examples, p4_dataset **out,
                     p4_error *err);
int p4_load_leaf_file(const char *path, int max_examples, p4_dataset **out,
                      p4_error *err);

/* Renumbers test->writer so that writer i in test is the same name as
 * writer i in train; writers of test unknown to train are an error. */
int p4_dataset_match_writers(const p4_dataset *train, p4_dataset *test,
                             p4_error *err);

/* CIFAR-10 binary: records of <1 label byte><3072 pixel bytes>, any number
 * of records per file; several files are concatenated in the given order.
 * CIFAR-100 binary: <coarse><fine><3072>; `fine` selects 100 fine labels (1)
 * or 20 coarse labels (0). File size must be a multiple of the record size. */
int p4_load_cifar10(const char *const *paths, int npaths, int max_examples,
                    p4_dataset **out, p4_error *err);
int p4_load_cifar100(const char *const *paths, int npaths, int fine,
                     int max_examples, p4_dataset **out, p4_error *err);

/* In-memory forms of the loaders above, for the fuzzers and for data that
 * arrives over the network.  `name` stands for the file in error messages.
 * IDX buffers may be gzip-compressed; LEAF buffers hold one json file. */
int p4_load_idx_buffers(const void *images, size_t images_len, const void *labels,
                        size_t labels_len, int max_examples, p4_dataset **out,
                        p4_error *err);
int p4_load_leaf_buffer(const char *name, const void *json, size_t len,
                        int max_examples, p4_dataset **out, p4_error *err);
int p4_load_cifar10_buffer(const char *name, const void *data, size_t len,
                           int max_examples, p4_dataset **out, p4_error *err);
int p4_load_cifar100_buffer(const char *name, const void *data, size_t len, int fine,
                            int max_examples, p4_dataset **out, p4_error *err);

#endif
