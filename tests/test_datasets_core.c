/* test_datasets_core.c: the in-memory dataset: allocation, batches (floats
 * and one-hot labels), histograms and resizing. */
#include "support/test_support.h"

#include <string.h>

#include "datasets/dataset.h"

static p4_dataset *small_set(void)
{
    p4_dataset *ds = NULL;
    assert_int_equal(p4_dataset_new(&ds, "tiny", 4, 2, 2, 1, 3, NULL), P4_OK);
    for (int i = 0; i < 4; i++) {
        ds->labels[i] = (uint16_t)(i % 3);
        for (int j = 0; j < 4; j++)
            ds->pixels[i * 4 + j] = (uint8_t)(i * 60 + j * 5);
    }
    return ds;
}

static void test_new_checks_its_arguments(void **state)
{
    (void)state;
    p4_dataset *ds = NULL;
    p4_error err;
    assert_int_equal(p4_dataset_new(&ds, "x", -1, 2, 2, 1, 3, &err), P4_EINVAL);
    assert_int_equal(p4_dataset_new(&ds, "x", 1, 0, 2, 1, 3, &err), P4_EINVAL);
    assert_int_equal(p4_dataset_new(&ds, "x", 1, 2, 2, 1, 0, &err), P4_EINVAL);
    assert_int_equal(p4_dataset_new(&ds, "x", 1, 2, 2, 1, 70000, &err), P4_EINVAL);
    assert_int_equal(p4_dataset_new(&ds, "x", 2000000000, 1 << 16, 1 << 16, 4, 10, &err),
                     P4_EINVAL);
    assert_null(ds);
    assert_int_equal(p4_dataset_new(&ds, "empty", 0, 28, 28, 1, 10, &err), P4_OK);
    assert_int_equal(ds->count, 0);
    assert_int_equal(p4_dataset_example_size(ds), 784);
    p4_dataset_destroy(&ds);
    assert_null(ds);
    p4_dataset_destroy(&ds);     /* twice is harmless */
}

static void test_batch_scales_pixels_and_one_hot_labels(void **state)
{
    (void)state;
    p4_dataset *ds = small_set();
    int idx[2] = {3, 1};
    float x[8], y[6];
    assert_int_equal(p4_dataset_batch(ds, idx, 2, x, y), P4_OK);
    for (int j = 0; j < 4; j++) {
        assert_float_equal(x[j], (180 + j * 5) / 255.0f, 1e-7);
        assert_float_equal(x[4 + j], (60 + j * 5) / 255.0f, 1e-7);
    }
    const float want_y[6] = {1, 0, 0, 0, 1, 0};
    assert_memory_equal(y, want_y, sizeof want_y);
    assert_int_equal(p4_dataset_batch(ds, idx, 2, NULL, y), P4_OK);
    int bad[1] = {4};
    assert_int_equal(p4_dataset_batch(ds, bad, 1, x, y), P4_EINVAL);
    bad[0] = -1;
    assert_int_equal(p4_dataset_batch(ds, bad, 1, x, NULL), P4_EINVAL);
    p4_dataset_destroy(&ds);
}

static void test_histogram_counts_listed_examples(void **state)
{
    (void)state;
    p4_dataset *ds = small_set();
    int hist[3] = {9, 9, 9};
    assert_int_equal(p4_dataset_histogram(ds, NULL, 4, hist), P4_OK);
    assert_int_equal(hist[0], 2);
    assert_int_equal(hist[1], 1);
    assert_int_equal(hist[2], 1);
    int idx[3] = {1, 1, 2};
    assert_int_equal(p4_dataset_histogram(ds, idx, 3, hist), P4_OK);
    assert_int_equal(hist[0], 0);
    assert_int_equal(hist[1], 2);
    assert_int_equal(hist[2], 1);
    assert_int_equal(p4_dataset_histogram(ds, NULL, 5, hist), P4_EINVAL);
    p4_dataset_destroy(&ds);
}

static void test_resize_keeps_prefix_and_zeroes_new_examples(void **state)
{
    (void)state;
    p4_dataset *ds = small_set();
    assert_int_equal(p4_dataset_add_writers(ds, NULL), P4_OK);
    ds->writer[1] = 7;
    assert_int_equal(p4_dataset_resize(ds, 6, NULL), P4_OK);
    assert_int_equal(ds->count, 6);
    assert_int_equal(ds->pixels[1 * 4 + 2], 70);
    assert_int_equal(ds->writer[1], 7);
    assert_int_equal(ds->writer[5], -1);
    assert_int_equal(ds->labels[5], 0);
    assert_int_equal(ds->pixels[5 * 4 + 3], 0);
    assert_int_equal(p4_dataset_resize(ds, 2, NULL), P4_OK);
    assert_int_equal(ds->count, 2);
    assert_int_equal(ds->labels[1], 1);
    assert_int_equal(p4_dataset_resize(ds, -1, NULL), P4_EINVAL);
    p4_dataset_destroy(&ds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_checks_its_arguments),
        cmocka_unit_test(test_batch_scales_pixels_and_one_hot_labels),
        cmocka_unit_test(test_histogram_counts_listed_examples),
        cmocka_unit_test(test_resize_keeps_prefix_and_zeroes_new_examples),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
