/* test_datasets_cifar.c: the CIFAR-10 / CIFAR-100 binary loaders on small
 * files written here, on bad files, and on the shared real subsets. */
#include "support/test_support.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "datasets/loaders.h"

#define PIXELS 3072

static uint8_t pixel_of(int r, int j)
{
    return (uint8_t)(r * 3 + j * 11);
}

/* n records with `label_bytes` labels each (record r: coarse r % 20, fine or
 * CIFAR-10 label r % 100 resp. r % 10, starting at record `first`). */
static uint8_t *make_records(int n, int label_bytes, int first, size_t *len)
{
    size_t rec = (size_t)label_bytes + PIXELS;
    *len = rec * (size_t)n;
    uint8_t *buf = malloc(*len > 0 ? *len : 1);
    for (int i = 0; i < n; i++) {
        int r = first + i;
        uint8_t *p = buf + (size_t)i * rec;
        if (label_bytes == 1) {
            p[0] = (uint8_t)(r % 10);
        } else {
            p[0] = (uint8_t)(r % 20);
            p[1] = (uint8_t)(r % 100);
        }
        for (int j = 0; j < PIXELS; j++)
            p[label_bytes + j] = pixel_of(r, j);
    }
    return buf;
}

static void write_records(const char *dir, const char *name, int n, int label_bytes, int first,
                          char *path)
{
    size_t len;
    uint8_t *buf = make_records(n, label_bytes, first, &len);
    test_path_in(dir, name, path, PATH_MAX);
    assert_int_equal(test_write_file(path, buf, len), 0);
    free(buf);
}

static void assert_records(const p4_dataset *ds, int n, int classes, int label_mod)
{
    assert_int_equal(ds->count, n);
    assert_int_equal(ds->width, 32);
    assert_int_equal(ds->height, 32);
    assert_int_equal(ds->channels, 3);
    assert_int_equal(ds->classes, classes);
    for (int r = 0; r < n; r++) {
        assert_int_equal(ds->labels[r], r % label_mod);
        for (int j = 0; j < PIXELS; j += 101)
            assert_int_equal(ds->pixels[(size_t)r * PIXELS + j], pixel_of(r, j));
    }
}

static void test_cifar10_files_concatenate_in_order(void **state)
{
    char a[PATH_MAX], b[PATH_MAX];
    write_records(*state, "data_batch_1.bin", 7, 1, 0, a);
    write_records(*state, "data_batch_2.bin", 5, 1, 7, b);
    const char *paths[] = {a, b};
    p4_dataset *ds = NULL;
    p4_error err;
    assert_int_equal(p4_load_cifar10(paths, 2, 0, &ds, &err), P4_OK);
    assert_records(ds, 12, 10, 10);
    assert_string_equal(ds->name, "cifar10");
    p4_dataset_destroy(&ds);
    assert_int_equal(p4_load_cifar10(paths, 2, 9, &ds, &err), P4_OK);
    assert_records(ds, 9, 10, 10);
    p4_dataset_destroy(&ds);
}

static void test_cifar100_fine_and_coarse(void **state)
{
    char a[PATH_MAX];
    write_records(*state, "train.bin", 130, 2, 0, a);
    const char *paths[] = {a};
    p4_dataset *ds = NULL;
    p4_error err;
    assert_int_equal(p4_load_cifar100(paths, 1, 1, 0, &ds, &err), P4_OK);
    assert_records(ds, 130, 100, 100);
    p4_dataset_destroy(&ds);
    assert_int_equal(p4_load_cifar100(paths, 1, 0, 0, &ds, &err), P4_OK);
    assert_records(ds, 130, 20, 20);
    p4_dataset_destroy(&ds);
}

static void expect_error(int rc, const p4_error *err, int code, const char *a, const char *b)
{
    assert_int_equal(rc, code);
    if (strstr(err->message, a) == NULL || (b != NULL && strstr(err->message, b) == NULL))
        fail_msg("message \"%s\" lacks \"%s\" / \"%s\"", err->message, a, b ? b : "");
}

static void test_size_not_a_multiple_of_the_record(void **state)
{
    char a[PATH_MAX], b[PATH_MAX];
    write_records(*state, "good.bin", 3, 1, 0, a);
    write_records(*state, "odd.bin", 3, 2, 0, b);     /* 3 x 3074 bytes */
    const char *paths[] = {a, b};
    p4_dataset *ds = NULL;
    p4_error err;
    expect_error(p4_load_cifar10(paths, 2, 0, &ds, &err), &err, P4_EFORMAT, b, "9222");
    assert_null(ds);
    /* and the other way round: CIFAR-10 records read as CIFAR-100 */
    expect_error(p4_load_cifar100(paths, 1, 1, 0, &ds, &err), &err, P4_EFORMAT, a, "3074");
}

static void test_label_out_of_range_names_record_offset(void **state)
{
    size_t len;
    uint8_t *buf = make_records(4, 1, 0, &len);
    buf[2 * 3073] = 10;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/bad10.bin", (char *)*state);
    test_write_file(path, buf, len);
    const char *paths[] = {path};
    p4_dataset *ds = NULL;
    p4_error err;
    expect_error(p4_load_cifar10(paths, 1, 0, &ds, &err), &err, P4_EFORMAT, path, ":6146:");
    free(buf);

    buf = make_records(4, 2, 0, &len);
    buf[3 * 3074 + 1] = 100;                         /* fine label of record 3 */
    snprintf(path, sizeof path, "%s/bad100.bin", (char *)*state);
    test_write_file(path, buf, len);
    expect_error(p4_load_cifar100(paths, 1, 1, 0, &ds, &err), &err, P4_EFORMAT, path, ":9223:");
    /* the coarse label is checked even when the fine one is selected */
    buf[3 * 3074 + 1] = 5;
    buf[1 * 3074] = 20;
    test_write_file(path, buf, len);
    expect_error(p4_load_cifar100(paths, 1, 1, 0, &ds, &err), &err, P4_EFORMAT, path, "coarse");
    expect_error(p4_load_cifar100_buffer("buf", buf, len, 0, 0, &ds, &err), &err, P4_EFORMAT,
                 "buf:3074:", "coarse");
    assert_null(ds);
    free(buf);
}

static void test_missing_file_and_bad_arguments(void **state)
{
    const char *paths[] = {"/nonexistent-p4.bin"};
    p4_dataset *ds = NULL;
    p4_error err;
    expect_error(p4_load_cifar10(paths, 1, 0, &ds, &err), &err, P4_EIO, paths[0], NULL);
    const char *dir[] = {*state};
    expect_error(p4_load_cifar10(dir, 1, 0, &ds, &err), &err, P4_EIO, *state, NULL);
    assert_int_equal(p4_load_cifar10(paths, 0, 0, &ds, &err), P4_EINVAL);
    assert_int_equal(p4_load_cifar10_buffer("x", NULL, 0, 0, &ds, &err), P4_OK);
    assert_int_equal(ds->count, 0);
    p4_dataset_destroy(&ds);
}

static double seconds_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Loads ../shared/data/<relative> and checks count and per-class counts. */
static void check_real(const char *relative, int cifar100, int count, int per_class)
{
    const char *found = test_shared_path(relative);
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s", found);
    const char *paths[] = {path};
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    p4_dataset *ds = NULL;
    p4_error err;
    int rc = cifar100 ? p4_load_cifar100(paths, 1, 1, 0, &ds, &err)
                      : p4_load_cifar10(paths, 1, 0, &ds, &err);
    if (rc != P4_OK)
        fail_msg("%s", err.message);
    print_message("%s: %d records in %.2f s\n", path, ds->count, seconds_since(&t0));
    assert_int_equal(ds->count, count);
    int hist[100];
    assert_int_equal(p4_dataset_histogram(ds, NULL, ds->count, hist), P4_OK);
    for (int c = 0; c < ds->classes; c++)
        assert_int_equal(hist[c], per_class);
    p4_dataset_destroy(&ds);
}

static void test_real_cifar10_subset(void **state)
{
    (void)state;
    if (test_shared_path("data/cifar10/test_batch.bin") == NULL)
        TEST_SKIP("../shared/data/cifar10 is absent");
    check_real("data/cifar10/data_batch_1.bin", 0, 10000, 1000);
    check_real("data/cifar10/data_batch_2.bin", 0, 10000, 1000);
    check_real("data/cifar10/test_batch.bin", 0, 5000, 500);
}

static void test_real_cifar100_subset(void **state)
{
    (void)state;
    if (test_shared_path("data/cifar100/test.bin") == NULL)
        TEST_SKIP("../shared/data/cifar100 is absent");
    check_real("data/cifar100/train.bin", 1, 15000, 150);
    check_real("data/cifar100/test.bin", 1, 5000, 50);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cifar10_files_concatenate_in_order, test_temp_dir_setup, test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(test_cifar100_fine_and_coarse, test_temp_dir_setup, test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(test_size_not_a_multiple_of_the_record, test_temp_dir_setup, test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(test_label_out_of_range_names_record_offset, test_temp_dir_setup, test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(test_missing_file_and_bad_arguments, test_temp_dir_setup, test_temp_dir_teardown),
        cmocka_unit_test(test_real_cifar10_subset),
        cmocka_unit_test(test_real_cifar100_subset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
