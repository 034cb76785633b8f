/* test_datasets_idx.c: the IDX (MNIST / Fashion-MNIST) loader on small files
 * written here, plain and gzipped, on every kind of bad file, and on the
 * real Fashion-MNIST files when the machine has them. */
#include "support/test_support.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "datasets/loaders.h"

#define FASHION_DIR "/usr/share/datasets/fashion-mnist"
#define SIDE 28
#define PIXELS (SIDE * SIDE)

typedef struct fixture {
    char *dir;
    char images[PATH_MAX];
    char labels[PATH_MAX];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->dir = test_make_temp_dir();
    if (f->dir == NULL)
        return -1;
    snprintf(f->images, sizeof f->images, "%s/images", f->dir);
    snprintf(f->labels, sizeof f->labels, "%s/labels", f->dir);
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

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint8_t pixel_of(int example, int j)
{
    return (uint8_t)(example * 31 + j * 7);
}

/* An images file of n 28x28 examples with a count field of `declared`;
 * returns its size in *len (caller frees). */
static uint8_t *make_images(int n, uint32_t declared, uint32_t magic, size_t *len)
{
    *len = 16 + (size_t)n * PIXELS;
    uint8_t *buf = malloc(*len);
    put_be32(buf, magic);
    put_be32(buf + 4, declared);
    put_be32(buf + 8, SIDE);
    put_be32(buf + 12, SIDE);
    for (int e = 0; e < n; e++)
        for (int j = 0; j < PIXELS; j++)
            buf[16 + (size_t)e * PIXELS + j] = pixel_of(e, j);
    return buf;
}

static uint8_t *make_labels(int n, uint32_t declared, uint32_t magic, size_t *len)
{
    *len = 8 + (size_t)n;
    uint8_t *buf = malloc(*len);
    put_be32(buf, magic);
    put_be32(buf + 4, declared);
    for (int e = 0; e < n; e++)
        buf[8 + e] = (uint8_t)(e % 10);
    return buf;
}

static void write_gz(const char *path, const void *data, size_t n)
{
    gzFile gz = gzopen(path, "wb");
    assert_non_null(gz);
    assert_int_equal(gzwrite(gz, data, (unsigned)n), (int)n);
    assert_int_equal(gzclose(gz), Z_OK);
}

static void write_plain(const char *path, const void *data, size_t n)
{
    assert_int_equal(test_write_file(path, data, n), 0);
}

/* Writes a consistent pair of n examples, each file gzipped or not. */
static void write_pair(const fixture *f, int n, int gz_images, int gz_labels)
{
    size_t ilen, llen;
    uint8_t *img = make_images(n, (uint32_t)n, 0x803, &ilen);
    uint8_t *lab = make_labels(n, (uint32_t)n, 0x801, &llen);
    (gz_images ? write_gz : write_plain)(f->images, img, ilen);
    (gz_labels ? write_gz : write_plain)(f->labels, lab, llen);
    free(img);
    free(lab);
}

static void assert_examples(const p4_dataset *ds, int n)
{
    assert_int_equal(ds->count, n);
    assert_int_equal(ds->width, SIDE);
    assert_int_equal(ds->height, SIDE);
    assert_int_equal(ds->channels, 1);
    assert_int_equal(ds->classes, 10);
    assert_null(ds->writer);
    for (int e = 0; e < n; e++) {
        assert_int_equal(ds->labels[e], e % 10);
        for (int j = 0; j < PIXELS; j += 97)
            assert_int_equal(ds->pixels[(size_t)e * PIXELS + j], pixel_of(e, j));
    }
}

/* Loads the fixture's pair expecting failure code; checks the message
 * names `path` and, if not NULL, contains `needle`. */
static void expect_failure(const fixture *f, int code, const char *path, const char *needle)
{
    p4_dataset *ds = NULL;
    p4_error err;
    p4_error_clear(&err);
    assert_int_equal(p4_load_idx(f->images, f->labels, 0, &ds, &err), code);
    assert_null(ds);
    if (strstr(err.message, path) == NULL || (needle && strstr(err.message, needle) == NULL))
        fail_msg("message \"%s\" lacks \"%s\" / \"%s\"", err.message, path, needle ? needle : "");
}

static void test_plain_and_gzip_files_load_the_same(void **state)
{
    fixture *f = *state;
    for (int mode = 0; mode < 4; mode++) {
        write_pair(f, 23, mode & 1, mode >> 1);
        p4_dataset *ds = NULL;
        p4_error err;
        assert_int_equal(p4_load_idx(f->images, f->labels, 0, &ds, &err), P4_OK);
        assert_examples(ds, 23);
        assert_string_equal(ds->name, "mnist");
        p4_dataset_destroy(&ds);
        assert_null(ds);
    }
}

static void test_max_examples_caps_the_count(void **state)
{
    fixture *f = *state;
    write_pair(f, 12, 1, 0);
    p4_dataset *ds = NULL;
    assert_int_equal(p4_load_idx(f->images, f->labels, 5, &ds, NULL), P4_OK);
    assert_examples(ds, 5);
    p4_dataset_destroy(&ds);
}

static void test_wrong_magic_is_rejected_naming_the_file(void **state)
{
    fixture *f = *state;
    size_t ilen, llen;
    uint8_t *img = make_images(3, 3, 0x801, &ilen);
    uint8_t *lab = make_labels(3, 3, 0x801, &llen);
    write_plain(f->images, img, ilen);
    write_plain(f->labels, lab, llen);
    expect_failure(f, P4_EFORMAT, f->images, "magic");
    free(img);
    img = make_images(3, 3, 0x803, &ilen);
    put_be32(lab, 0x00000803);
    write_plain(f->images, img, ilen);
    write_gz(f->labels, lab, llen);
    expect_failure(f, P4_EFORMAT, f->labels, "magic");
    free(img);
    free(lab);
}

static void test_count_mismatch_names_both_files(void **state)
{
    fixture *f = *state;
    size_t ilen, llen;
    uint8_t *img = make_images(4, 4, 0x803, &ilen);
    uint8_t *lab = make_labels(5, 5, 0x801, &llen);
    write_gz(f->images, img, ilen);
    write_plain(f->labels, lab, llen);
    expect_failure(f, P4_EFORMAT, f->images, f->labels);
    free(img);
    free(lab);
}

static void test_truncated_images_report_the_offset(void **state)
{
    fixture *f = *state;
    size_t ilen, llen;
    uint8_t *img = make_images(6, 6, 0x803, &ilen);
    uint8_t *lab = make_labels(6, 6, 0x801, &llen);
    write_plain(f->labels, lab, llen);
    char offset[32];
    /* plain and gzipped: the offset is in the uncompressed stream */
    snprintf(offset, sizeof offset, ":%zu:", ilen - 100);
    write_plain(f->images, img, ilen - 100);
    expect_failure(f, P4_EFORMAT, f->images, offset);
    write_gz(f->images, img, ilen - 100);
    expect_failure(f, P4_EFORMAT, f->images, offset);
    free(img);
    free(lab);
}

static void test_truncated_gzip_stream_is_an_error(void **state)
{
    fixture *f = *state;
    write_pair(f, 9, 1, 0);
    FILE *in = fopen(f->images, "rb");
    uint8_t buf[65536];
    size_t n = fread(buf, 1, sizeof buf, in);
    fclose(in);
    write_plain(f->images, buf, n / 2);      /* cut inside the deflate data */
    expect_failure(f, P4_EFORMAT, f->images, "gzip");
}

static void test_truncated_headers_are_errors(void **state)
{
    fixture *f = *state;
    write_pair(f, 2, 0, 0);
    uint8_t head[16] = {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 28};
    write_plain(f->images, head, 10);
    expect_failure(f, P4_EFORMAT, f->images, "truncated");
    write_pair(f, 2, 0, 0);
    write_plain(f->labels, head, 6);
    expect_failure(f, P4_EFORMAT, f->labels, "truncated");
    write_plain(f->labels, "", 0);
    expect_failure(f, P4_EFORMAT, f->labels, "truncated");
}

static void test_label_out_of_range_reports_its_offset(void **state)
{
    fixture *f = *state;
    size_t ilen, llen;
    uint8_t *img = make_images(8, 8, 0x803, &ilen);
    uint8_t *lab = make_labels(8, 8, 0x801, &llen);
    lab[8 + 6] = 10;
    write_plain(f->images, img, ilen);
    write_gz(f->labels, lab, llen);
    expect_failure(f, P4_EFORMAT, f->labels, ":14:");
    free(img);
    free(lab);
}

static void test_absurd_header_sizes_fail_before_allocating(void **state)
{
    fixture *f = *state;
    size_t ilen, llen;
    uint8_t *img = make_images(2, 2, 0x803, &ilen);
    uint8_t *lab = make_labels(2, 2, 0x801, &llen);
    write_plain(f->labels, lab, llen);
    put_be32(img + 8, 0);                 /* zero rows */
    write_plain(f->images, img, ilen);
    expect_failure(f, P4_EFORMAT, f->images, "dimension");
    put_be32(img + 8, 5000);              /* absurd rows */
    write_plain(f->images, img, ilen);
    expect_failure(f, P4_EFORMAT, f->images, "dimension");
    put_be32(img + 8, 28);
    put_be32(img + 4, 0xFFFFFFF0u);       /* absurd count */
    write_plain(f->images, img, ilen);
    expect_failure(f, P4_EFORMAT, f->images, "count");
    free(img);
    free(lab);
}

static void test_large_claimed_count_with_little_data_is_truncation(void **state)
{
    fixture *f = *state;
    size_t ilen, llen;
    /* 9 M claimed, 3 present: must fail as truncated, not allocate 7 GB. */
    uint8_t *img = make_images(3, 9000000, 0x803, &ilen);
    uint8_t *lab = make_labels(3, 9000000, 0x801, &llen);
    write_gz(f->images, img, ilen);
    write_gz(f->labels, lab, llen);
    expect_failure(f, P4_EFORMAT, f->labels, "truncated");
    free(img);
    free(lab);
}

static void test_trailing_bytes_are_an_error(void **state)
{
    fixture *f = *state;
    size_t ilen, llen;
    uint8_t *img = make_images(3, 3, 0x803, &ilen);
    uint8_t *lab = make_labels(4, 3, 0x801, &llen);
    write_plain(f->images, img, ilen);
    write_plain(f->labels, lab, llen);
    expect_failure(f, P4_EFORMAT, f->labels, "after the last example");
    free(img);
    free(lab);
}

static void test_missing_file_is_an_io_error(void **state)
{
    fixture *f = *state;
    write_pair(f, 2, 0, 0);
    remove(f->labels);
    expect_failure(f, P4_EIO, f->labels, NULL);
}

static void test_in_memory_buffers_plain_and_gzip(void **state)
{
    (void)state;
    size_t ilen, llen;
    uint8_t *img = make_images(7, 7, 0x803, &ilen);
    uint8_t *lab = make_labels(7, 7, 0x801, &llen);
    uLongf zlen = compressBound(ilen) + 64;
    uint8_t *z = malloc(zlen);
    /* a gzip wrapper via deflateInit2 with windowBits 16 + 15 */
    z_stream zs = {0};
    assert_int_equal(deflateInit2(&zs, 6, Z_DEFLATED, 16 + 15, 8, Z_DEFAULT_STRATEGY), Z_OK);
    zs.next_in = img;
    zs.avail_in = (uInt)ilen;
    zs.next_out = z;
    zs.avail_out = (uInt)zlen;
    assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
    size_t gzlen = zs.total_out;
    deflateEnd(&zs);

    p4_dataset *ds = NULL;
    p4_error err;
    assert_int_equal(p4_load_idx_buffers(z, gzlen, lab, llen, 0, &ds, &err), P4_OK);
    assert_examples(ds, 7);
    p4_dataset_destroy(&ds);
    assert_int_equal(p4_load_idx_buffers(img, ilen, lab, llen, 0, &ds, &err), P4_OK);
    assert_examples(ds, 7);
    p4_dataset_destroy(&ds);
    assert_int_equal(p4_load_idx_buffers(z, gzlen - 9, lab, llen, 0, &ds, &err), P4_EFORMAT);
    assert_non_null(strstr(err.message, "<images>"));
    assert_null(ds);
    free(z);
    free(img);
    free(lab);
}

static void test_fashion_mnist_directory_names(void **state)
{
    fixture *f = *state;
    size_t ilen, llen;
    char path[PATH_MAX];
    uint8_t *img = make_images(11, 11, 0x803, &ilen);
    uint8_t *lab = make_labels(11, 11, 0x801, &llen);
    snprintf(path, sizeof path, "%s/train-images-idx3-ubyte.gz", f->dir);
    write_gz(path, img, ilen);
    snprintf(path, sizeof path, "%s/train-labels-idx1-ubyte.gz", f->dir);
    write_gz(path, lab, llen);
    snprintf(path, sizeof path, "%s/t10k-images-idx3-ubyte", f->dir);
    write_plain(path, img, ilen);
    snprintf(path, sizeof path, "%s/t10k-labels-idx1-ubyte", f->dir);
    write_plain(path, lab, llen);
    free(img);
    free(lab);

    p4_dataset *ds = NULL;
    p4_error err;
    assert_int_equal(p4_load_fashion_mnist(f->dir, "train", 0, &ds, &err), P4_OK);
    assert_examples(ds, 11);
    assert_string_equal(ds->name, "fashion-mnist");
    p4_dataset_destroy(&ds);
    assert_int_equal(p4_load_fashion_mnist(f->dir, "test", 4, &ds, &err), P4_OK);
    assert_examples(ds, 4);
    p4_dataset_destroy(&ds);
    assert_int_equal(p4_load_fashion_mnist(f->dir, "validation", 0, &ds, &err), P4_EINVAL);
    assert_int_equal(p4_load_fashion_mnist("/nonexistent-p4", "train", 0, &ds, &err), P4_EIO);
    assert_non_null(strstr(err.message, "/nonexistent-p4"));
}

static double seconds_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static void test_real_fashion_mnist(void **state)
{
    (void)state;
    if (test_dataset_path(FASHION_DIR "/t10k-labels-idx1-ubyte.gz") == NULL)
        TEST_SKIP(FASHION_DIR " is absent (Debian package fashion-mnist)");
    const char *splits[] = {"train", "test"};
    const int counts[] = {60000, 10000};
    for (int s = 0; s < 2; s++) {
        struct timespec t0;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        p4_dataset *ds = NULL;
        p4_error err;
        int rc = p4_load_fashion_mnist(FASHION_DIR, splits[s], 0, &ds, &err);
        if (rc != P4_OK)
            fail_msg("%s", err.message);
        print_message("fashion-mnist %s: %d examples in %.2f s\n", splits[s], ds->count,
                      seconds_since(&t0));
        assert_int_equal(ds->count, counts[s]);
        assert_int_equal(ds->width, 28);
        int hist[10];
        assert_int_equal(p4_dataset_histogram(ds, NULL, ds->count, hist), P4_OK);
        for (int c = 0; c < 10; c++)
            assert_int_equal(hist[c], counts[s] / 10);   /* Fashion-MNIST is balanced */
        p4_dataset_destroy(&ds);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_plain_and_gzip_files_load_the_same, setup, teardown),
        cmocka_unit_test_setup_teardown(test_max_examples_caps_the_count, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_magic_is_rejected_naming_the_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_count_mismatch_names_both_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated_images_report_the_offset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated_gzip_stream_is_an_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated_headers_are_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_label_out_of_range_reports_its_offset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_absurd_header_sizes_fail_before_allocating, setup, teardown),
        cmocka_unit_test_setup_teardown(test_large_claimed_count_with_little_data_is_truncation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trailing_bytes_are_an_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_file_is_an_io_error, setup, teardown),
        cmocka_unit_test(test_in_memory_buffers_plain_and_gzip),
        cmocka_unit_test_setup_teardown(test_fashion_mnist_directory_names, setup, teardown),
        cmocka_unit_test(test_real_fashion_mnist),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
