/* test_workload.c: a config's datasets loaded and partitioned, from small
 * files in the real formats written here (gzip'd IDX, CIFAR binary, LEAF
 * json); clear errors for missing data; and `p4 data` on such a config. */
#include "support/test_support.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "common/config.h"
#include "datasets/workload.h"
#include "p4node/commands.h"

static void make_dir(const char *dir, const char *name)
{
    char path[PATH_MAX];
    test_path_in(dir, name, path, sizeof path);
    assert_int_equal(mkdir(path, 0700), 0);
}

static void put_be32(unsigned char *p, unsigned v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static void write_gz(const char *path, const void *data, size_t n)
{
    gzFile gz = gzopen(path, "wb");
    assert_non_null(gz);
    assert_int_equal(gzwrite(gz, data, (unsigned)n), (int)n);
    assert_int_equal(gzclose(gz), Z_OK);
}

/* Writes Debian-named, gzip'd IDX files for one split (prefix "train" or
 * "t10k") of `count` 28x28 images; example i has label i % 10 and every
 * pixel equal to i % 256. */
static void write_idx_split(const char *dir, const char *prefix, int count)
{
    size_t image_bytes = 16 + (size_t)count * 784;
    unsigned char *images = malloc(image_bytes);
    unsigned char *labels = malloc(8 + (size_t)count);
    assert_non_null(images);
    assert_non_null(labels);
    put_be32(images, 0x00000803);
    put_be32(images + 4, (unsigned)count);
    put_be32(images + 8, 28);
    put_be32(images + 12, 28);
    put_be32(labels, 0x00000801);
    put_be32(labels + 4, (unsigned)count);
    for (int i = 0; i < count; i++) {
        memset(images + 16 + (size_t)i * 784, i % 256, 784);
        labels[8 + i] = (unsigned char)(i % 10);
    }
    char path[PATH_MAX];
    int n = snprintf(path, sizeof path, "%s/%s-images-idx3-ubyte.gz", dir, prefix);
    assert_true(n > 0 && (size_t)n < sizeof path);
    write_gz(path, images, image_bytes);
    n = snprintf(path, sizeof path, "%s/%s-labels-idx1-ubyte.gz", dir, prefix);
    assert_true(n > 0 && (size_t)n < sizeof path);
    write_gz(path, labels, 8 + (size_t)count);
    free(images);
    free(labels);
}

/* A Fashion-MNIST folder <tmp>/fmnist with ntrain and ntest examples. */
static void make_fmnist_dir(const char *dir, int ntrain, int ntest)
{
    char data[PATH_MAX];
    make_dir(dir, "fmnist");
    test_path_in(dir, "fmnist", data, sizeof data);
    write_idx_split(data, "train", ntrain);
    write_idx_split(data, "t10k", ntest);
}

static int load(const char *config, p4_workload **w, p4_error *err)
{
    p4_config cfg;
    int rc = p4_config_load(config, &cfg, err);
    if (rc != P4_OK) {
        print_message("config: %s\n", err->message);
        return rc;
    }
    rc = p4_workload_load(&cfg, w, err);
    if (rc != P4_OK)
        print_message("workload: %s\n", err->message);
    return rc;
}

static void test_fashion_mnist_idx_iid_split(void **state)
{
    const char *dir = *state;
    make_fmnist_dir(dir, 200, 50);
    char config[PATH_MAX];
    /* path relative to the config file */
    test_write_text(dir, "fm.ini",
               "[data]\ndataset = fashion-mnist\npath = fmnist\nclients = 4\n"
               "train_per_client = 30\ntest_per_client = 10\nseed = 5\n"
               "[model]\ncfg = m.cfg\n",
               config, sizeof config);
    p4_workload *w = NULL;
    p4_error err;
    assert_int_equal(load(config, &w, &err), P4_OK);
    assert_non_null(w);
    assert_int_equal(w->train->count, 200);
    assert_int_equal(w->test->count, 50);
    assert_int_equal(w->train->classes, 10);
    assert_int_equal(w->train->width, 28);
    assert_int_equal(w->train->labels[13], 3);
    assert_int_equal(w->partition->clients, 4);

    /* every client has its sizes, and no example is given twice */
    char *used = calloc(200, 1);
    assert_non_null(used);
    for (int k = 0; k < 4; k++) {
        const p4_client_split *s = &w->partition->split[k];
        assert_int_equal(s->train_count, 30);
        assert_int_equal(s->test_count, 10);
        for (int i = 0; i < s->train_count; i++) {
            assert_in_range(s->train[i], 0, 199);
            assert_int_equal(used[s->train[i]], 0);
            used[s->train[i]] = 1;
        }
        for (int i = 0; i < s->test_count; i++)
            assert_in_range(s->test[i], 0, 49);
    }
    free(used);
    p4_workload_destroy(&w);
    assert_null(w);
    p4_workload_destroy(&w); /* twice is harmless */
}

static void test_max_train_and_max_test_cap_loading(void **state)
{
    const char *dir = *state;
    make_fmnist_dir(dir, 120, 40);
    char config[PATH_MAX];
    test_write_text(dir, "cap.ini",
               "[data]\ndataset = fashion-mnist\npath = fmnist\nmax_train = 70\n"
               "max_test = 16\nclients = 2\n[model]\ncfg = m.cfg\n",
               config, sizeof config);
    p4_workload *w = NULL;
    p4_error err;
    assert_int_equal(load(config, &w, &err), P4_OK);
    assert_int_equal(w->train->count, 70);
    assert_int_equal(w->test->count, 16);
    /* 0 per client = the whole (capped) set shared evenly */
    for (int k = 0; k < 2; k++) {
        assert_int_equal(w->partition->split[k].train_count, 35);
        assert_int_equal(w->partition->split[k].test_count, 8);
    }
    p4_workload_destroy(&w);
}

static void test_missing_fashion_mnist_names_the_package(void **state)
{
    const char *dir = *state;
    char config[PATH_MAX];
    test_write_text(dir, "missing.ini",
               "[data]\ndataset = fashion-mnist\npath = not-there\n[model]\ncfg = m.cfg\n",
               config, sizeof config);
    p4_workload *w = (p4_workload *)&w; /* must be reset to NULL */
    p4_error err;
    assert_int_equal(load(config, &w, &err), P4_EIO);
    assert_null(w);
    assert_non_null(strstr(err.message, "not-there"));
    assert_non_null(strstr(err.message, "apt-get install dataset-fashion-mnist"));

    /* the folder exists but holds no IDX files: the same hint */
    make_dir(dir, "empty");
    test_write_text(dir, "empty.ini",
               "[data]\ndataset = fashion-mnist\npath = empty\n[model]\ncfg = m.cfg\n",
               config, sizeof config);
    assert_int_equal(load(config, &w, &err), P4_EIO);
    assert_non_null(strstr(err.message, "train-images-idx3-ubyte"));
    assert_non_null(strstr(err.message, "apt-get install dataset-fashion-mnist"));
}

static void test_missing_femnist_and_cifar_say_where_data_lives(void **state)
{
    const char *dir = *state;
    char config[PATH_MAX];
    p4_workload *w = NULL;
    p4_error err;
    make_dir(dir, "fem"); /* no train/ inside */
    test_write_text(dir, "fem.ini", "[data]\ndataset = femnist\npath = fem\n[model]\ncfg = m\n",
               config, sizeof config);
    assert_int_equal(load(config, &w, &err), P4_EIO);
    assert_non_null(strstr(err.message, "fem/train"));
    assert_non_null(strstr(err.message, "shared/data/femnist"));

    make_dir(dir, "c10"); /* no data_batch_*.bin */
    test_write_text(dir, "c10.ini", "[data]\ndataset = cifar10\npath = c10\n[model]\ncfg = m\n",
               config, sizeof config);
    assert_int_equal(load(config, &w, &err), P4_EIO);
    assert_non_null(strstr(err.message, "data_batch_*.bin"));
    assert_non_null(strstr(err.message, "shared/data/cifar10"));
}

/* CIFAR-10 records whose label is `label` and first pixel `first`. */
static void write_cifar10_file(const char *path, int records, int label)
{
    unsigned char *buf = calloc((size_t)records, 3073);
    assert_non_null(buf);
    for (int i = 0; i < records; i++) {
        buf[(size_t)i * 3073] = (unsigned char)label;
        buf[(size_t)i * 3073 + 1] = (unsigned char)i;
    }
    assert_int_equal(test_write_file(path, buf, (size_t)records * 3073), 0);
    free(buf);
}

static void test_cifar10_batches_load_in_version_order(void **state)
{
    const char *dir = *state;
    make_dir(dir, "c10");
    char path[PATH_MAX], config[PATH_MAX];
    /* label = batch number, so the order of the loaded set shows the file order */
    static const int batches[] = {10, 2, 1};
    for (int i = 0; i < 3; i++) {
        char name[64];
        snprintf(name, sizeof name, "c10/data_batch_%d.bin", batches[i]);
        test_path_in(dir, name, path, sizeof path);
        write_cifar10_file(path, 4, batches[i] % 10);
    }
    test_path_in(dir, "c10/data_batch_x.txt", path, sizeof path); /* not a batch */
    assert_int_equal(test_write_file(path, "x", 1), 0);
    test_path_in(dir, "c10/test_batch.bin", path, sizeof path);
    write_cifar10_file(path, 6, 7);
    test_write_text(dir, "c10.ini",
               "[data]\ndataset = cifar10\npath = c10\nclients = 2\n[model]\ncfg = m\n",
               config, sizeof config);
    p4_workload *w = NULL;
    p4_error err;
    assert_int_equal(load(config, &w, &err), P4_OK);
    assert_int_equal(w->train->count, 12);
    assert_int_equal(w->test->count, 6);
    assert_int_equal(w->train->channels, 3);
    /* data_batch_1, _2, then _10 (label 0) */
    assert_int_equal(w->train->labels[0], 1);
    assert_int_equal(w->train->labels[4], 2);
    assert_int_equal(w->train->labels[8], 0);
    assert_int_equal(w->partition->clients, 2);
    assert_int_equal(w->partition->split[0].train_count + w->partition->split[1].train_count,
                     12);
    p4_workload_destroy(&w);
}

static void test_cifar100_uses_fine_labels(void **state)
{
    const char *dir = *state;
    make_dir(dir, "c100");
    char path[PATH_MAX], config[PATH_MAX];
    for (int split = 0; split < 2; split++) {
        int records = split ? 4 : 8;
        unsigned char *buf = calloc((size_t)records, 3074);
        assert_non_null(buf);
        for (int i = 0; i < records; i++) {
            buf[(size_t)i * 3074] = (unsigned char)(i % 20);      /* coarse */
            buf[(size_t)i * 3074 + 1] = (unsigned char)(50 + i);  /* fine   */
        }
        test_path_in(dir, split ? "c100/test.bin" : "c100/train.bin", path, sizeof path);
        assert_int_equal(test_write_file(path, buf, (size_t)records * 3074), 0);
        free(buf);
    }
    test_write_text(dir, "c100.ini",
               "[data]\ndataset = cifar100\npath = c100\nmax_train = 6\n[model]\ncfg = m\n",
               config, sizeof config);
    p4_workload *w = NULL;
    p4_error err;
    assert_int_equal(load(config, &w, &err), P4_OK);
    assert_int_equal(w->train->classes, 100);
    assert_int_equal(w->train->count, 6);
    assert_int_equal(w->test->count, 4);
    assert_int_equal(w->train->labels[5], 55);
    p4_workload_destroy(&w);
}

/* One LEAF json file holding the given writers, each with n examples of
 * label y. */
static void write_leaf(const char *path, const char *const *writers, int nwriters, int n,
                       int y)
{
    FILE *out = fopen(path, "w");
    assert_non_null(out);
    fprintf(out, "{\"users\": [");
    for (int i = 0; i < nwriters; i++)
        fprintf(out, "%s\"%s\"", i ? ", " : "", writers[i]);
    fprintf(out, "], \"num_samples\": [");
    for (int i = 0; i < nwriters; i++)
        fprintf(out, "%s%d", i ? ", " : "", n);
    fprintf(out, "], \"user_data\": {");
    for (int i = 0; i < nwriters; i++) {
        fprintf(out, "%s\"%s\": {\"x\": [", i ? ", " : "", writers[i]);
        for (int e = 0; e < n; e++) {
            fprintf(out, "%s[", e ? ", " : "");
            for (int p = 0; p < 784; p++)
                fprintf(out, "%s%s", p ? ", " : "", p % 2 ? "1.0" : "0.5");
            fprintf(out, "]");
        }
        fprintf(out, "], \"y\": [");
        for (int e = 0; e < n; e++)
            fprintf(out, "%s%d", e ? ", " : "", y + i);
        fprintf(out, "]}");
    }
    fprintf(out, "}}");
    assert_int_equal(fclose(out), 0);
}

static void test_femnist_writer_partition_matches_writers(void **state)
{
    const char *dir = *state;
    make_dir(dir, "fem");
    make_dir(dir, "fem/train");
    make_dir(dir, "fem/test");
    char path[PATH_MAX], config[PATH_MAX];
    static const char *const train_writers[] = {"f0001", "f0002", "f0003"};
    static const char *const test_writers[] = {"f0003", "f0001", "f0002"}; /* other order */
    test_path_in(dir, "fem/train/all_data_0_train.json", path, sizeof path);
    write_leaf(path, train_writers, 3, 4, 10);
    test_path_in(dir, "fem/test/all_data_0_test.json", path, sizeof path);
    write_leaf(path, test_writers, 3, 2, 20);
    test_write_text(dir, "fem.ini",
               "[data]\ndataset = femnist\npath = fem\npartition = writer\nclients = 3\n"
               "[model]\ncfg = m\n",
               config, sizeof config);
    p4_workload *w = NULL;
    p4_error err;
    assert_int_equal(load(config, &w, &err), P4_OK);
    assert_int_equal(w->train->count, 12);
    assert_int_equal(w->test->count, 6);
    assert_int_equal(w->train->classes, 62);
    assert_int_equal(w->partition->clients, 3);
    for (int k = 0; k < 3; k++) {
        const p4_client_split *s = &w->partition->split[k];
        assert_int_equal(s->train_count, 4);
        assert_int_equal(s->test_count, 2);
        /* a client's train and test examples come from one writer */
        int writer = w->train->writer[s->train[0]];
        for (int i = 0; i < s->train_count; i++)
            assert_int_equal(w->train->writer[s->train[i]], writer);
        for (int i = 0; i < s->test_count; i++)
            assert_int_equal(w->test->writer[s->test[i]], writer);
    }
    p4_workload_destroy(&w);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    p4_workload *w = NULL;
    p4_error err;
    p4_config cfg;
    assert_int_equal(p4_workload_load(NULL, &w, &err), P4_EINVAL);
    p4_config_defaults(&cfg);
    assert_int_equal(p4_workload_load(&cfg, NULL, &err), P4_EINVAL);
    assert_int_equal(p4_workload_load(&cfg, &w, &err), P4_EINVAL); /* no dataset */
    p4_workload_destroy(NULL);
}

/* Runs p4_cmd_data with stdout and stderr going to files; returns its status. */
static int run_data_command(const char *dir, char **argv, int argc, char *out, size_t size)
{
    char out_path[PATH_MAX], err_path[PATH_MAX];
    test_path_in(dir, "stdout.txt", out_path, sizeof out_path);
    test_path_in(dir, "stderr.txt", err_path, sizeof err_path);
    fflush(stdout);
    fflush(stderr);
    int saved_out = dup(1), saved_err = dup(2);
    int fd_out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int fd_err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(saved_out >= 0 && saved_err >= 0 && fd_out >= 0 && fd_err >= 0);
    dup2(fd_out, 1);
    dup2(fd_err, 2);
    int status = p4_cmd_data(argc, argv);
    fflush(stdout);
    fflush(stderr);
    dup2(saved_out, 1);
    dup2(saved_err, 2);
    close(saved_out);
    close(saved_err);
    close(fd_out);
    close(fd_err);
    /* stdout, then stderr, into out */
    size_t used = 0;
    const char *paths[] = {out_path, err_path};
    for (int i = 0; i < 2; i++) {
        FILE *in = fopen(paths[i], "r");
        assert_non_null(in);
        used += fread(out + used, 1, size - 1 - used, in);
        fclose(in);
    }
    out[used] = '\0';
    return status;
}

static void test_data_command_prints_the_split(void **state)
{
    const char *dir = *state;
    make_fmnist_dir(dir, 100, 20);
    char config[PATH_MAX];
    test_write_text(dir, "fm.ini",
               "[data]\ndataset = fashion-mnist\npath = fmnist\nclients = 2\n"
               "train_per_client = 40\ntest_per_client = 10\n[model]\ncfg = m.cfg\n",
               config, sizeof config);
    static char out[1 << 16];

    char *text_argv[] = {"data", "--config", config, NULL};
    assert_int_equal(run_data_command(dir, text_argv, 3, out, sizeof out), 0);
    print_message("%s", out);
    assert_non_null(strstr(out, "partition  iid, 2 clients, seed 1"));
    assert_non_null(strstr(out, "client  split  examples"));
    assert_non_null(strstr(out, " total  train        80"));
    assert_non_null(strstr(out, "not given to any client: 20 of 100 train, 0 of 20 test"));

    char *json_argv[] = {"data", "-c", config, "--json", NULL};
    assert_int_equal(run_data_command(dir, json_argv, 4, out, sizeof out), 0);
    assert_non_null(strstr(out, "\"classes\":10"));
    assert_non_null(strstr(out, "\"client\":1,\"train\":40,\"test\":10,\"cluster\":null"));
    assert_non_null(strstr(out, "\"total\":{\"train\":80,\"test\":20"));

    char bad[PATH_MAX];
    test_write_text(dir, "bad.ini", "[data]\ndataset = fashion-mnist\nclients = 0\n", bad, sizeof bad);
    char *bad_argv[] = {"data", "--config", bad, NULL};
    assert_int_equal(run_data_command(dir, bad_argv, 3, out, sizeof out), 2);
    assert_non_null(strstr(out, "bad.ini:3: [data] clients = 0: must be in 1..4096"));

    char *usage_argv[] = {"data", NULL};
    assert_int_equal(run_data_command(dir, usage_argv, 1, out, sizeof out), 2);
    assert_non_null(strstr(out, "--config FILE is required"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fashion_mnist_idx_iid_split, test_temp_dir_setup, test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(test_max_train_and_max_test_cap_loading, test_temp_dir_setup, test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(test_missing_fashion_mnist_names_the_package, test_temp_dir_setup, test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(test_missing_femnist_and_cifar_say_where_data_lives, test_temp_dir_setup, test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(test_cifar10_batches_load_in_version_order, test_temp_dir_setup, test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(test_cifar100_uses_fine_labels, test_temp_dir_setup, test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(test_femnist_writer_partition_matches_writers, test_temp_dir_setup, test_temp_dir_teardown),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test_setup_teardown(test_data_command_prints_the_split, test_temp_dir_setup, test_temp_dir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
