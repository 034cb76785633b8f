/* test_datasets_leaf.c: the streaming LEAF (FEMNIST json) loader on small
 * files written here, on every kind of bad file, and on the shared real
 * subset when it is present. */
#include "support/test_support.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "datasets/loaders.h"

#define PIXELS 784

/* How to write a small LEAF file. */
typedef struct leaf_text {
    const char *prefix;     /* writer names are prefix0, prefix1, ...     */
    int writers;
    int per_writer;         /* examples per writer (writer w has per + w) */
    int data_first;         /* 1: user_data before users, y before x       */
} leaf_text;

static int pixel_of(int w, int e, int j)
{
    return (w * 13 + e * 7 + j) % 256;
}

static int label_of(int w, int e)
{
    return (w * 5 + e) % 62;
}

static void print_users(FILE *f, const leaf_text *t)
{
    fprintf(f, "\"users\": [");
    for (int w = 0; w < t->writers; w++)
        fprintf(f, "%s\"%s%d\"", w ? ", " : "", t->prefix, w);
    fprintf(f, "], \"num_samples\": [");
    for (int w = 0; w < t->writers; w++)
        fprintf(f, "%s%d", w ? ", " : "", t->per_writer + w);
    fprintf(f, "]");
}

static void print_writer(FILE *f, const leaf_text *t, int w)
{
    int n = t->per_writer + w;
    fprintf(f, "\"%s%d\": {", t->prefix, w);
    for (int part = 0; part < 2; part++) {
        if ((part == 0) == (t->data_first != 0)) {
            fprintf(f, "\"y\": [");
            for (int e = 0; e < n; e++)
                fprintf(f, "%s%d", e ? ", " : "", label_of(w, e));
            fprintf(f, "]");
        } else {
            fprintf(f, "\"x\": [");
            for (int e = 0; e < n; e++) {
                fprintf(f, "%s[", e ? ", " : "");
                for (int j = 0; j < PIXELS; j++) {
                    int k = pixel_of(w, e, j);
                    if (k == 255)
                        fprintf(f, "%s1.0", j ? ", " : "");
                    else
                        fprintf(f, "%s%.8g", j ? ", " : "", k / 255.0);
                }
                fprintf(f, "]");
            }
            fprintf(f, "]");
        }
        fprintf(f, part == 0 ? ", " : "}");
    }
}

/* The whole file as a heap string. */
static char *leaf_json(const leaf_text *t)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    fprintf(f, "{");
    if (!t->data_first) {
        print_users(f, t);
        fprintf(f, ", ");
    }
    fprintf(f, "\"user_data\": {");
    for (int w = 0; w < t->writers; w++) {
        if (w)
            fprintf(f, ", ");
        print_writer(f, t, w);
    }
    fprintf(f, "}");
    if (t->data_first) {
        fprintf(f, ", ");
        print_users(f, t);
    }
    fprintf(f, "}");
    fclose(f);
    return buf;
}

/* Replaces the first occurrence of `from` in *text by `to`. */
static void replace(char **text, const char *from, const char *to)
{
    char *at = strstr(*text, from);
    assert_non_null(at);
    size_t head = (size_t)(at - *text), flen = strlen(from), tlen = strlen(to);
    size_t total = strlen(*text) - flen + tlen;
    char *out = malloc(total + 1);
    memcpy(out, *text, head);
    memcpy(out + head, to, tlen);
    strcpy(out + head + tlen, at + flen);
    free(*text);
    *text = out;
}

/* Checks ds holds writers [w0, w0 + n) of t as writer ids [id0, ...). */
static void assert_writers(const p4_dataset *ds, const leaf_text *t, int first_example,
                           int id0, int n)
{
    int i = first_example;
    for (int w = 0; w < n; w++) {
        char name[64];
        snprintf(name, sizeof name, "%s%d", t->prefix, w);
        assert_string_equal(ds->writer_names[id0 + w], name);
        for (int e = 0; e < t->per_writer + w; e++, i++) {
            assert_int_equal(ds->writer[i], id0 + w);
            assert_int_equal(ds->labels[i], label_of(w, e));
            for (int j = 0; j < PIXELS; j += 61)
                assert_int_equal(ds->pixels[(size_t)i * PIXELS + j], pixel_of(w, e, j));
        }
    }
}

static void test_valid_file_in_either_key_order(void **state)
{
    for (int order = 0; order < 2; order++) {
        leaf_text t = {"f0001_", 3, 2, order};
        char *text = leaf_json(&t);
        char path[PATH_MAX];
        test_write_text(*state, "one.json", text, path, sizeof path);
        p4_dataset *ds = NULL;
        p4_error err;
        int rc = p4_load_leaf_file(path, 0, &ds, &err);
        if (rc != P4_OK)
            fail_msg("%s", err.message);
        assert_string_equal(ds->name, "femnist");
        assert_int_equal(ds->count, 2 + 3 + 4);
        assert_int_equal(ds->width, 28);
        assert_int_equal(ds->height, 28);
        assert_int_equal(ds->channels, 1);
        assert_int_equal(ds->classes, 62);
        assert_int_equal(ds->writers, 3);
        assert_writers(ds, &t, 0, 0, 3);
        p4_dataset_destroy(&ds);
        free(text);
    }
}

static void test_directory_loads_json_files_in_name_order(void **state)
{
    leaf_text a = {"alpha", 2, 1, 0}, b = {"beta", 3, 2, 1};
    char *ta = leaf_json(&a), *tb = leaf_json(&b);
    char path[PATH_MAX];
    test_write_text(*state, "b_second.json", tb, path, sizeof path);
    test_write_text(*state, "a_first.json", ta, path, sizeof path);
    test_write_text(*state, "notes.txt", "not json", path, sizeof path);
    p4_dataset *ds = NULL;
    p4_error err;
    int rc = p4_load_leaf_dir(*state, 0, &ds, &err);
    if (rc != P4_OK)
        fail_msg("%s", err.message);
    assert_int_equal(ds->writers, 5);
    assert_int_equal(ds->count, (1 + 2) + (2 + 3 + 4));
    assert_writers(ds, &a, 0, 0, 2);
    assert_writers(ds, &b, 3, 2, 3);
    p4_dataset_destroy(&ds);

    /* max_examples stops inside the second file's first writer */
    assert_int_equal(p4_load_leaf_dir(*state, 4, &ds, &err), P4_OK);
    assert_int_equal(ds->count, 4);
    assert_int_equal(ds->writers, 3);
    assert_int_equal(ds->writer[3], 2);
    assert_int_equal(ds->labels[3], label_of(0, 0));
    p4_dataset_destroy(&ds);
    free(ta);
    free(tb);
}

static void test_gzipped_json_and_buffers_load(void **state)
{
    leaf_text t = {"g", 2, 3, 0};
    char *text = leaf_json(&t);
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/packed.json", (char *)*state);
    gzFile gz = gzopen(path, "wb");
    gzwrite(gz, text, (unsigned)strlen(text));
    gzclose(gz);
    p4_dataset *ds = NULL;
    p4_error err;
    assert_int_equal(p4_load_leaf_file(path, 0, &ds, &err), P4_OK);
    assert_int_equal(ds->count, 7);
    assert_writers(ds, &t, 0, 0, 2);
    p4_dataset_destroy(&ds);
    assert_int_equal(p4_load_leaf_buffer("mem.json", text, strlen(text), 0, &ds, &err), P4_OK);
    assert_int_equal(ds->count, 7);
    p4_dataset_destroy(&ds);
    assert_int_equal(p4_load_leaf_buffer("mem.json", text, strlen(text) - 3, 0, &ds, &err),
                     P4_EFORMAT);
    assert_non_null(strstr(err.message, "mem.json:"));
    free(text);
}

/* Writes text, expects EFORMAT whose message names the file, contains
 * `needle`, and gives an offset in [lo, hi]. */
static void expect_bad(const char *dir, const char *text, const char *needle, size_t lo,
                       size_t hi)
{
    char path[PATH_MAX];
    test_write_text(dir, "bad.json", text, path, sizeof path);
    p4_dataset *ds = NULL;
    p4_error err;
    p4_error_clear(&err);
    assert_int_equal(p4_load_leaf_file(path, 0, &ds, &err), P4_EFORMAT);
    assert_null(ds);
    size_t plen = strlen(path);
    if (strncmp(err.message, path, plen) != 0 || err.message[plen] != ':' ||
        strstr(err.message, needle) == NULL)
        fail_msg("message \"%s\" should start with %s: and contain \"%s\"", err.message, path,
                 needle);
    unsigned long long offset = strtoull(err.message + plen + 1, NULL, 10);
    if (offset < lo || offset > hi)
        fail_msg("offset %llu not in [%zu, %zu]: %s", offset, lo, hi, err.message);
}

static size_t offset_of(const char *text, const char *needle)
{
    const char *at = strstr(text, needle);
    assert_non_null(at);
    return (size_t)(at - text);
}

static void test_garbled_and_truncated_json(void **state)
{
    leaf_text t = {"w", 2, 1, 0};
    char *text = leaf_json(&t);
    size_t len = strlen(text);
    char *cut = strndup(text, len / 2);
    expect_bad(*state, cut, "invalid JSON", 0, len / 2);
    free(cut);
    char *garbled = strdup(text);
    size_t at = offset_of(garbled, "\"user_data\"") + 14;
    garbled[at] = '}';
    expect_bad(*state, garbled, "invalid JSON", at - 2, at + 2);
    free(garbled);
    expect_bad(*state, "[1, 2]", "unexpected array", 0, 1);
    expect_bad(*state, "", "", 0, 0);
    free(text);
}

static void test_wrong_row_length(void **state)
{
    leaf_text t = {"w", 2, 2, 0};
    char *text = leaf_json(&t);
    /* Drop the first value of writer w1's first row: 783 values. */
    size_t row = offset_of(text, "\"w1\": {\"x\": [[") + strlen("\"w1\": {\"x\": [[");
    char *comma = strchr(text + row, ',');
    memmove(text + row, comma + 2, strlen(comma + 2) + 1);
    size_t end = (size_t)(strchr(text + row, ']') - text);
    expect_bad(*state, text, "783 values", end, end + 1);
    free(text);

    text = leaf_json(&t);
    replace(&text, ", 1.0,", ", 1.0, 1.0,");    /* one row with 785 values */
    expect_bad(*state, text, "more than 784", 0, strlen(text));
    free(text);
}

static void test_value_and_label_ranges(void **state)
{
    leaf_text t = {"w", 2, 2, 0};
    char *text = leaf_json(&t);
    replace(&text, ", 1.0", ", 1.5");
    size_t at = offset_of(text, "1.5");
    expect_bad(*state, text, "outside [0, 1]", at, at + 3);
    free(text);

    text = leaf_json(&t);
    replace(&text, ", 1.0", ", -0.25");
    expect_bad(*state, text, "-0.25", 0, strlen(text));
    free(text);

    text = leaf_json(&t);
    replace(&text, "\"y\": [0", "\"y\": [62");
    at = offset_of(text, "\"y\": [62") + 6;
    expect_bad(*state, text, "label 62", at, at + 2);
    free(text);

    text = leaf_json(&t);
    replace(&text, "\"y\": [0", "\"y\": [-1");
    expect_bad(*state, text, "label -1", 0, strlen(text));
    free(text);

    text = leaf_json(&t);
    replace(&text, "\"y\": [0", "\"y\": [2.5");
    expect_bad(*state, text, "not an integer", 0, strlen(text));
    free(text);
}

static void test_writer_bookkeeping_errors(void **state)
{
    leaf_text t = {"w", 2, 2, 0};
    char *text = leaf_json(&t);
    replace(&text, "\"users\": [\"w0\"", "\"users\": [\"ghost\", \"w0\"");
    replace(&text, "\"num_samples\": [", "\"num_samples\": [0, ");
    expect_bad(*state, text, "\"ghost\" is in \"users\" but missing", 0, 40);
    free(text);

    text = leaf_json(&t);
    replace(&text, "\"users\": [\"w0\", ", "\"users\": [");
    replace(&text, "\"num_samples\": [2, ", "\"num_samples\": [");
    size_t at = offset_of(text, "\"w0\": {");
    expect_bad(*state, text, "\"w0\" is in \"user_data\" but not in \"users\"", at, at + 6);
    free(text);

    text = leaf_json(&t);
    replace(&text, "\"num_samples\": [2, 3]", "\"num_samples\": [2, 4]");
    expect_bad(*state, text, "num_samples says 4 but user_data has 3", 0, strlen(text));
    free(text);

    text = leaf_json(&t);
    replace(&text, "\"num_samples\": [2, 3]", "\"num_samples\": [2]");
    expect_bad(*state, text, "\"num_samples\" has 1 entries", 0, strlen(text));
    free(text);

    text = leaf_json(&t);
    replace(&text, "\"y\": [0, ", "\"y\": [");
    expect_bad(*state, text, "2 rows in \"x\" but 1 labels", 0, strlen(text));
    free(text);

    text = leaf_json(&t);
    replace(&text, "\"users\"", "\"writers\"");
    expect_bad(*state, text, "unknown key \"writers\"", 0, 12);
    free(text);

    text = leaf_json(&t);
    replace(&text, "\"y\": [", "\"z\": [");
    expect_bad(*state, text, "unknown key \"z\"", 0, strlen(text));
    free(text);

    text = leaf_json(&t);
    replace(&text, "{\"users\"", "{\"num_samples\": [], \"users\"");
    expect_bad(*state, text, "duplicate key \"num_samples\"", 0, strlen(text));
    free(text);

    text = leaf_json(&t);
    replace(&text, "\"user_data\"", "\"ignored\": 1, \"user_data\"");
    expect_bad(*state, text, "unknown key", 0, strlen(text));
    free(text);

    expect_bad(*state, "{\"users\": [], \"num_samples\": []}", "missing key \"user_data\"", 0, 40);
    expect_bad(*state, "{\"users\": [null]}", "unexpected null", 0, 40);
}

static void test_missing_directory_and_file(void **state)
{
    p4_dataset *ds = NULL;
    p4_error err;
    assert_int_equal(p4_load_leaf_dir("/nonexistent-p4-leaf", 0, &ds, &err), P4_EIO);
    assert_non_null(strstr(err.message, "/nonexistent-p4-leaf"));
    assert_int_equal(p4_load_leaf_dir(*state, 0, &ds, &err), P4_EIO);
    assert_non_null(strstr(err.message, "no *.json"));
    assert_int_equal(p4_load_leaf_file("/nonexistent-p4-leaf.json", 0, &ds, &err), P4_EIO);
    assert_null(ds);
}

static p4_dataset *load_text(const char *dir, const char *name, const leaf_text *t)
{
    char *text = leaf_json(t);
    char path[PATH_MAX];
    test_write_text(dir, name, text, path, sizeof path);
    free(text);
    p4_dataset *ds = NULL;
    assert_int_equal(p4_load_leaf_file(path, 0, &ds, NULL), P4_OK);
    return ds;
}

static void test_match_writers_renumbers_test_by_name(void **state)
{
    leaf_text tr = {"w", 4, 1, 0};
    p4_dataset *train = load_text(*state, "train.json", &tr);
    /* The test file names w2, w0 in that order: its ids are 0 -> w2, 1 -> w0. */
    char *text = strdup("{\"users\": [\"w2\", \"w0\"], \"num_samples\": [1, 1], \"user_data\": {"
                        "\"w2\": {\"x\": [[ROW]], \"y\": [5]}, \"w0\": {\"x\": [[ROW]], \"y\": [6]}}}");
    char row[PIXELS * 3 + 1] = "0";
    for (int j = 1; j < PIXELS; j++)
        strcat(row, ", 0");
    replace(&text, "ROW", row);
    replace(&text, "ROW", row);
    char path[PATH_MAX];
    test_write_text(*state, "test.json", text, path, sizeof path);
    free(text);
    p4_dataset *test = NULL;
    p4_error err;
    assert_int_equal(p4_load_leaf_file(path, 0, &test, &err), P4_OK);
    assert_int_equal(test->writer[0], 0);
    assert_int_equal(p4_dataset_match_writers(train, test, &err), P4_OK);
    assert_int_equal(test->writer[0], 2);
    assert_int_equal(test->writer[1], 0);
    assert_int_equal(test->writers, 4);
    assert_string_equal(test->writer_names[2], "w2");

    leaf_text other = {"stranger", 1, 1, 0};
    p4_dataset *alien = load_text(*state, "alien.json", &other);
    assert_int_equal(p4_dataset_match_writers(train, alien, &err), P4_EINVAL);
    assert_non_null(strstr(err.message, "stranger0"));
    assert_int_equal(alien->writer[0], 0);      /* untouched on failure */
    p4_dataset_destroy(&alien);
    p4_dataset_destroy(&test);
    p4_dataset_destroy(&train);
}

static double seconds_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static p4_dataset *load_shared(const char *relative)
{
    const char *dir = test_shared_path(relative);
    if (dir == NULL)
        return NULL;
    char copy[PATH_MAX];
    snprintf(copy, sizeof copy, "%s", dir);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    p4_dataset *ds = NULL;
    p4_error err;
    if (p4_load_leaf_dir(copy, 0, &ds, &err) != P4_OK)
        fail_msg("%s", err.message);
    print_message("%s: %d examples, %d writers in %.2f s\n", copy, ds->count, ds->writers,
                  seconds_since(&t0));
    return ds;
}

static void test_real_femnist_subset(void **state)
{
    (void)state;
    if (test_shared_path("data/femnist/train") == NULL || test_shared_path("data/femnist/test") == NULL)
        TEST_SKIP("../shared/data/femnist is absent");
    p4_dataset *train = load_shared("data/femnist/train");
    p4_dataset *test = load_shared("data/femnist/test");
    assert_int_equal(train->count, 14640);
    assert_int_equal(test->count, 1677);
    assert_int_equal(train->writers, 105);
    assert_int_equal(test->writers, 105);
    p4_error err;
    assert_int_equal(p4_dataset_match_writers(train, test, &err), P4_OK);
    int train_hist[62], test_hist[62];
    p4_dataset_histogram(train, NULL, train->count, train_hist);
    p4_dataset_histogram(test, NULL, test->count, test_hist);
    int digits = 0;
    for (int c = 0; c < 62; c++) {
        assert_true(train_hist[c] >= 53);      /* README: smallest train class */
        assert_true(test_hist[c] >= 3);
        digits += c < 10 ? train_hist[c] : 0;
    }
    assert_int_equal(digits, 10363);
    /* Every writer has examples on both sides. */
    int *per_writer = calloc(105, sizeof *per_writer);
    for (int i = 0; i < test->count; i++)
        per_writer[test->writer[i]]++;
    for (int w = 0; w < 105; w++)
        assert_true(per_writer[w] >= 1);
    free(per_writer);
    p4_dataset_destroy(&train);
    p4_dataset_destroy(&test);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_valid_file_in_either_key_order, test_temp_dir_setup, test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(test_directory_loads_json_files_in_name_order, test_temp_dir_setup, test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(test_gzipped_json_and_buffers_load, test_temp_dir_setup, test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(test_garbled_and_truncated_json, test_temp_dir_setup, test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(test_wrong_row_length, test_temp_dir_setup, test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(test_value_and_label_ranges, test_temp_dir_setup, test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(test_writer_bookkeeping_errors, test_temp_dir_setup, test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(test_missing_directory_and_file, test_temp_dir_setup, test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(test_match_writers_renumbers_test_by_name, test_temp_dir_setup, test_temp_dir_teardown),
        cmocka_unit_test(test_real_femnist_subset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
