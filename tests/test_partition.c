/* test_partition.c: every partition kind on synthetic sets: sizes, label
 * histograms, determinism, disjointness, train/test from their own sets,
 * and clear errors when a request cannot be met. */
#include "support/test_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/loaders.h"
#include "datasets/partition.h"

/* count examples of 1x1x1 pixels; label of example i is i % classes. */
static p4_dataset *balanced_set(int count, int classes)
{
    p4_dataset *ds = NULL;
    assert_int_equal(p4_dataset_new(&ds, "synthetic", count, 1, 1, 1, classes, NULL), P4_OK);
    for (int i = 0; i < count; i++)
        ds->labels[i] = (uint16_t)(i % classes);
    return ds;
}

static p4_partition_spec base_spec(p4_partition_kind kind, int clients)
{
    p4_partition_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.kind = kind;
    spec.clients = clients;
    spec.seed = 1234;
    return spec;
}

static p4_partition *make(const p4_partition_spec *spec, const p4_dataset *train,
                          const p4_dataset *test)
{
    p4_partition *p = NULL;
    p4_error err;
    if (p4_partition_new(spec, train, test, &p, &err) != P4_OK)
        fail_msg("partition failed: %s", err.message);
    assert_int_equal(p->clients, spec->clients);
    return p;
}

/* Every index in range of its own set, and no index in two clients. */
static void assert_disjoint_in_range(const p4_partition *p, int train_count, int test_count)
{
    char *seen_train = calloc((size_t)train_count + 1, 1);
    char *seen_test = calloc((size_t)test_count + 1, 1);
    for (int k = 0; k < p->clients; k++) {
        const p4_client_split *c = &p->split[k];
        for (int i = 0; i < c->train_count; i++) {
            assert_in_range(c->train[i], 0, train_count - 1);
            assert_int_equal(seen_train[c->train[i]]++, 0);
        }
        for (int i = 0; i < c->test_count; i++) {
            assert_in_range(c->test[i], 0, test_count - 1);
            assert_int_equal(seen_test[c->test[i]]++, 0);
        }
    }
    free(seen_train);
    free(seen_test);
}

static int same_partition(const p4_partition *a, const p4_partition *b)
{
    if (a->clients != b->clients)
        return 0;
    for (int k = 0; k < a->clients; k++) {
        const p4_client_split *x = &a->split[k], *y = &b->split[k];
        if (x->train_count != y->train_count || x->test_count != y->test_count ||
            x->cluster != y->cluster ||
            memcmp(x->train, y->train, (size_t)x->train_count * sizeof(int)) != 0 ||
            memcmp(x->test, y->test, (size_t)x->test_count * sizeof(int)) != 0)
            return 0;
    }
    return 1;
}

static void expect_einval(const p4_partition_spec *spec, const p4_dataset *train,
                          const p4_dataset *test, const char *needle)
{
    p4_partition *p = NULL;
    p4_error err;
    p4_error_clear(&err);
    assert_int_equal(p4_partition_new(spec, train, test, &p, &err), P4_EINVAL);
    assert_null(p);
    if (strstr(err.message, needle) == NULL)
        fail_msg("message \"%s\" lacks \"%s\"", err.message, needle);
}

static void test_kind_names_round_trip(void **state)
{
    (void)state;
    const char *names[] = {"iid", "writer", "label-skew", "dirichlet", "clustered"};
    for (int k = 0; k < 5; k++) {
        p4_partition_kind kind;
        assert_int_equal(p4_partition_kind_parse(names[k], &kind), P4_OK);
        assert_int_equal((int)kind, k);
        assert_string_equal(p4_partition_kind_name(kind), names[k]);
    }
    p4_partition_kind kind;
    assert_int_equal(p4_partition_kind_parse("label_skew", &kind), P4_EINVAL);
    assert_int_equal(p4_partition_kind_parse(NULL, &kind), P4_EINVAL);
}

static void test_iid_sizes_disjointness_and_own_sets(void **state)
{
    (void)state;
    p4_dataset *train = balanced_set(1003, 10), *test = balanced_set(205, 10);
    p4_partition_spec spec = base_spec(P4_PARTITION_IID, 7);
    p4_partition *p = make(&spec, train, test);
    int max_train = 0;
    for (int k = 0; k < 7; k++) {
        assert_int_equal(p->split[k].train_count, 1003 / 7);
        assert_int_equal(p->split[k].test_count, 205 / 7);
        assert_int_equal(p->split[k].cluster, -1);
        for (int i = 0; i < p->split[k].train_count; i++)
            if (p->split[k].train[i] > max_train)
                max_train = p->split[k].train[i];
    }
    assert_true(max_train >= 205);    /* train indices span the train set */
    assert_disjoint_in_range(p, 1003, 205);
    p4_partition_destroy(&p);
    assert_null(p);

    spec.train_per_client = 100;
    spec.test_per_client = 20;
    p = make(&spec, train, test);
    assert_int_equal(p->split[6].train_count, 100);
    assert_int_equal(p->split[6].test_count, 20);
    assert_disjoint_in_range(p, 1003, 205);
    p4_partition_destroy(&p);

    spec.train_per_client = 150;
    expect_einval(&spec, train, test, "1003");
    p4_dataset_destroy(&train);
    p4_dataset_destroy(&test);
}

static void test_same_seed_same_partition_other_seed_differs(void **state)
{
    (void)state;
    p4_dataset *train = balanced_set(2000, 10), *test = balanced_set(400, 10);
    const p4_partition_kind kinds[] = {P4_PARTITION_IID, P4_PARTITION_LABEL_SKEW,
                                       P4_PARTITION_DIRICHLET, P4_PARTITION_CLUSTERED};
    for (int k = 0; k < 4; k++) {
        p4_partition_spec spec = base_spec(kinds[k], 8);
        spec.train_per_client = 100;
        spec.test_per_client = 20;
        spec.major_fraction = 0.6;
        spec.alpha = 0.5;
        spec.clusters = 3;
        p4_partition *a = make(&spec, train, test), *b = make(&spec, train, test);
        assert_true(same_partition(a, b));
        spec.seed = 99;
        p4_partition *c = make(&spec, train, test);
        assert_false(same_partition(a, c));
        assert_disjoint_in_range(c, 2000, 400);
        p4_partition_destroy(&a);
        p4_partition_destroy(&b);
        p4_partition_destroy(&c);
    }
    p4_dataset_destroy(&train);
    p4_dataset_destroy(&test);
}

static void test_label_skew_major_fraction(void **state)
{
    (void)state;
    p4_dataset *train = balanced_set(3000, 10), *test = balanced_set(1000, 10);
    p4_partition_spec spec = base_spec(P4_PARTITION_LABEL_SKEW, 12);
    spec.major_fraction = 0.8;
    spec.train_per_client = 101;
    spec.test_per_client = 30;
    p4_partition *p = make(&spec, train, test);
    assert_disjoint_in_range(p, 3000, 1000);
    for (int k = 0; k < 12; k++) {
        const p4_client_split *c = &p->split[k];
        int hist[10];
        assert_int_equal(c->cluster, k % 10);
        assert_int_equal(c->train_count, 101);
        assert_int_equal(c->test_count, 30);
        p4_dataset_histogram(train, c->train, c->train_count, hist);
        assert_int_equal(hist[k % 10], 81);          /* round(0.8 * 101) */
        for (int j = 0; j < 10; j++)
            if (j != k % 10)
                assert_in_range(hist[j], 20 / 9, 20 / 9 + 1);   /* the other 20, evenly */
        p4_dataset_histogram(test, c->test, c->test_count, hist);
        assert_int_equal(hist[k % 10], 24);
    }
    p4_partition_destroy(&p);

    /* All from one class: class 0 is major for clients 0 and 10. */
    spec.major_fraction = 1.0;
    spec.train_per_client = 200;
    expect_einval(&spec, train, test, "class 0 needs 400 train examples but the train set has only 300");
    spec.major_fraction = 1.5;
    expect_einval(&spec, train, test, "major_fraction");
    p4_dataset_destroy(&train);
    p4_dataset_destroy(&test);
}

/* Mean over clients of the largest class share of the client's train data. */
static double mean_top_share(const p4_partition *p, const p4_dataset *ds)
{
    double sum = 0.0;
    for (int k = 0; k < p->clients; k++) {
        int hist[10], top = 0;
        p4_dataset_histogram(ds, p->split[k].train, p->split[k].train_count, hist);
        for (int c = 0; c < 10; c++)
            top = hist[c] > top ? hist[c] : top;
        sum += (double)top / p->split[k].train_count;
    }
    return sum / p->clients;
}

static void test_dirichlet_concentration_follows_alpha(void **state)
{
    (void)state;
    p4_dataset *train = balanced_set(20000, 10), *test = balanced_set(5000, 10);
    p4_partition_spec spec = base_spec(P4_PARTITION_DIRICHLET, 20);
    spec.train_per_client = 200;
    spec.test_per_client = 50;

    spec.alpha = 0.01;
    p4_partition *p = make(&spec, train, test);
    assert_disjoint_in_range(p, 20000, 5000);
    assert_true(mean_top_share(p, train) > 0.9);
    /* Train and test follow the same proportions q: largest-remainder
     * counts are within 1 of n q, so the shares differ by < 1/50 + 1/200. */
    for (int k = 0; k < 20; k++) {
        int htr[10], hte[10];
        assert_int_equal(p->split[k].train_count, 200);
        assert_int_equal(p->split[k].test_count, 50);
        p4_dataset_histogram(train, p->split[k].train, 200, htr);
        p4_dataset_histogram(test, p->split[k].test, 50, hte);
        for (int c = 0; c < 10; c++) {
            double gap = hte[c] / 50.0 - htr[c] / 200.0;
            assert_true(gap < 0.025 && gap > -0.025);
        }
    }
    p4_partition_destroy(&p);

    spec.alpha = 1000.0;
    p = make(&spec, train, test);
    assert_true(mean_top_share(p, train) < 0.2);
    p4_partition_destroy(&p);

    spec.alpha = 0.0;
    expect_einval(&spec, train, test, "alpha");
    /* the whole set shared evenly cannot survive skewed proportions */
    spec.alpha = 0.1;
    spec.train_per_client = 0;
    expect_einval(&spec, train, test, "needs");
    p4_dataset_destroy(&train);
    p4_dataset_destroy(&test);
}

/* Checks every client sees only classes of its cluster, spread evenly. */
static void assert_cluster_classes(const p4_partition *p, const p4_dataset *ds, int clusters,
                                   const int sets[][10], const int *sizes)
{
    for (int k = 0; k < p->clients; k++) {
        const p4_client_split *c = &p->split[k];
        int hist[10], cl = k % clusters;
        assert_int_equal(c->cluster, cl);
        p4_dataset_histogram(ds, c->train, c->train_count, hist);
        for (int cls = 0; cls < 10; cls++) {
            int member = 0;
            for (int j = 0; j < sizes[cl]; j++)
                member |= sets[cl][j] == cls;
            if (!member)
                assert_int_equal(hist[cls], 0);
            else
                assert_in_range(hist[cls], c->train_count / sizes[cl],
                                c->train_count / sizes[cl] + 1);
        }
    }
}

static void test_clustered_class_sets(void **state)
{
    (void)state;
    p4_dataset *train = balanced_set(5000, 10), *test = balanced_set(1000, 10);
    p4_partition_spec spec = base_spec(P4_PARTITION_CLUSTERED, 9);
    spec.clusters = 4;
    spec.classes_per_cluster = 4;
    spec.train_per_client = 102;
    spec.test_per_client = 21;
    p4_partition *p = make(&spec, train, test);
    const int four[4][10] = {{0, 1, 2, 3}, {3, 4, 5, 6}, {6, 7, 8, 9}, {9, 0, 1, 2}};
    const int four_sizes[4] = {4, 4, 4, 4};
    assert_cluster_classes(p, train, 4, four, four_sizes);
    assert_disjoint_in_range(p, 5000, 1000);
    p4_partition_destroy(&p);

    spec.classes_per_cluster = 0;     /* default: max(2, ceil(10 / 4)) = 3 */
    p = make(&spec, train, test);
    const int three[4][10] = {{0, 1, 2}, {3, 4, 5}, {6, 7, 8}, {9, 0, 1}};
    const int three_sizes[4] = {3, 3, 3, 3};
    assert_cluster_classes(p, train, 4, three, three_sizes);
    p4_partition_destroy(&p);

    spec.clusters = 2;
    spec.cluster_class_count[0] = 1;
    spec.cluster_classes[0][0] = 7;
    spec.cluster_class_count[1] = 2;
    spec.cluster_classes[1][0] = 5;
    spec.cluster_classes[1][1] = 2;
    spec.train_per_client = 100;
    spec.clients = 4;
    p = make(&spec, train, test);
    const int given[2][10] = {{7}, {5, 2}};
    const int given_sizes[2] = {1, 2};
    assert_cluster_classes(p, train, 2, given, given_sizes);
    p4_partition_destroy(&p);

    spec.clients = 12;             /* six clients x 100 of class 7 > 500 */
    expect_einval(&spec, train, test, "class 7 needs 600 train examples but the train set has only 500");
    spec.cluster_classes[1][1] = 5;
    expect_einval(&spec, train, test, "twice");
    spec.cluster_classes[1][1] = 10;
    expect_einval(&spec, train, test, "class 10");
    spec.clusters = 0;
    expect_einval(&spec, train, test, "clusters");
    p4_dataset_destroy(&train);
    p4_dataset_destroy(&test);
}

/* A set whose example i belongs to writer (i % writers), names given. */
static p4_dataset *writer_set(int count, int writers, const char *const *names)
{
    p4_dataset *ds = balanced_set(count, 10);
    assert_int_equal(p4_dataset_add_writers(ds, NULL), P4_OK);
    ds->writers = writers;
    ds->writer_names = calloc((size_t)writers, sizeof *ds->writer_names);
    for (int w = 0; w < writers; w++)
        ds->writer_names[w] = strdup(names[w]);
    for (int i = 0; i < count; i++)
        ds->writer[i] = i % writers;
    return ds;
}

static void test_writer_partition_matches_test_writers_by_name(void **state)
{
    (void)state;
    const char *train_names[] = {"ann", "bob", "cy", "dee"};
    const char *test_names[] = {"dee", "cy", "ann", "bob"};
    p4_dataset *train = writer_set(40, 4, train_names), *test = writer_set(12, 4, test_names);
    p4_partition_spec spec = base_spec(P4_PARTITION_WRITER, 3);
    p4_partition *p = make(&spec, train, test);
    assert_disjoint_in_range(p, 40, 12);
    for (int k = 0; k < 3; k++) {
        const p4_client_split *c = &p->split[k];
        assert_int_equal(c->train_count, 10);
        assert_int_equal(c->test_count, 3);
        for (int i = 0; i < c->train_count; i++)
            assert_int_equal(train->writer[c->train[i]], k);
        for (int i = 0; i < c->test_count; i++)
            assert_string_equal(test_names[test->writer[c->test[i]]], train_names[k]);
    }
    p4_partition_destroy(&p);

    spec.train_per_client = 4;
    p = make(&spec, train, test);
    assert_int_equal(p->split[2].train_count, 4);
    assert_int_equal(p->split[2].test_count, 3);
    p4_partition_destroy(&p);

    spec.clients = 5;
    expect_einval(&spec, train, test, "only 4 writers");
    p4_dataset *plain = balanced_set(40, 10);
    spec.clients = 2;
    expect_einval(&spec, plain, test, "no writers");
    p4_dataset_destroy(&plain);
    p4_dataset_destroy(&train);
    p4_dataset_destroy(&test);
}

static void test_bad_specs_and_missing_test_set(void **state)
{
    (void)state;
    p4_dataset *train = balanced_set(100, 10), *test = balanced_set(50, 5);
    p4_partition_spec spec = base_spec(P4_PARTITION_IID, 0);
    expect_einval(&spec, train, NULL, "clients");
    spec.clients = 2;
    expect_einval(&spec, train, test, "classes");
    spec.test_per_client = 3;
    expect_einval(&spec, train, NULL, "no test set");
    spec.test_per_client = 0;
    p4_partition *p = make(&spec, train, NULL);
    assert_int_equal(p->split[1].train_count, 50);
    assert_int_equal(p->split[1].test_count, 0);
    p4_partition_destroy(&p);
    p4_dataset_destroy(&train);
    p4_dataset_destroy(&test);
}

static void test_writer_partition_of_real_femnist(void **state)
{
    (void)state;
    const char *tr = test_shared_path("data/femnist/train");
    char train_dir[256];
    snprintf(train_dir, sizeof train_dir, "%s", tr ? tr : "");
    const char *te = test_shared_path("data/femnist/test");
    if (tr == NULL || te == NULL)
        TEST_SKIP("../shared/data/femnist is absent");
    p4_dataset *train = NULL, *test = NULL;
    p4_error err;
    assert_int_equal(p4_load_leaf_dir(te, 0, &test, &err), P4_OK);
    assert_int_equal(p4_load_leaf_dir(train_dir, 0, &train, &err), P4_OK);
    p4_partition_spec spec = base_spec(P4_PARTITION_WRITER, 105);
    p4_partition *p = make(&spec, train, test);
    assert_disjoint_in_range(p, train->count, test->count);
    int train_total = 0, test_total = 0;
    for (int k = 0; k < 105; k++) {
        assert_true(p->split[k].train_count >= 7);   /* README: 7 to 164 */
        assert_in_range(p->split[k].test_count, 1, 19);
        train_total += p->split[k].train_count;
        test_total += p->split[k].test_count;
    }
    assert_int_equal(train_total, 14640);
    assert_int_equal(test_total, 1677);
    p4_partition_destroy(&p);
    p4_dataset_destroy(&train);
    p4_dataset_destroy(&test);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kind_names_round_trip),
        cmocka_unit_test(test_iid_sizes_disjointness_and_own_sets),
        cmocka_unit_test(test_same_seed_same_partition_other_seed_differs),
        cmocka_unit_test(test_label_skew_major_fraction),
        cmocka_unit_test(test_dirichlet_concentration_follows_alpha),
        cmocka_unit_test(test_clustered_class_sets),
        cmocka_unit_test(test_writer_partition_matches_test_writers_by_name),
        cmocka_unit_test(test_bad_specs_and_missing_test_set),
        cmocka_unit_test(test_writer_partition_of_real_femnist),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
