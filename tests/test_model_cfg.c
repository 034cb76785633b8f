/* test_model_cfg.c: the darknet .cfg checker turns every bad model file into
 * a "file:line: reason" error before darknet (which would exit) sees it. */
#include "support/test_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/cfg.h"
#include "model/model.h"

static const p4_cfg_shape gray28 = {28, 28, 1, 10};

#define HEAD "[net]\nwidth=28\nheight=28\nchannels=1\n\n"
#define TAIL "[connected]\noutput=classes\nactivation=linear\n\n[softmax]\ngroups=1\n"

/* Expects text to be rejected with a message containing every fragment. */
static void expect_rejected(const char *text, const char *fragment1, const char *fragment2)
{
    p4_error err = {0};
    char *out = NULL;
    int rc = p4_cfg_prepare_text("bad.cfg", text, &gray28, 8, &out, NULL, &err);
    if (rc == 0)
        fail_msg("accepted: %s", text);
    assert_int_equal(rc, P4_EMODEL);
    assert_null(out);
    if (strstr(err.message, fragment1) == NULL || (fragment2 && strstr(err.message, fragment2) == NULL))
        fail_msg("message '%s' lacks '%s' / '%s'", err.message, fragment1, fragment2 ? fragment2 : "");
}

static void test_shipped_models_are_accepted_with_right_sizes(void **state)
{
    (void)state;
    const struct { const char *path; long long params; } models[] = {
        {"configs/models/logreg-28x28x1.cfg", 784 * 10 + 10},
        {"configs/models/mlp-28x28x1.cfg", 784 * 200 + 200 + 200 * 200 + 200 + 200 * 10 + 10},
        {"configs/models/cnn1-28x28x1.cfg", 6 * 9 + 6 + 16 * 54 + 16 + 784 * 64 + 64 + 64 * 10 + 10},
        {"configs/models/lenet5-28x28x1.cfg", 6 * 25 + 6 + 16 * 150 + 16 + 400 * 120 + 120 + 120 * 84 + 84 + 84 * 10 + 10},
    };
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++) {
        p4_error err = {0};
        p4_cfg_summary sum;
        char *out = NULL;
        int rc = p4_cfg_prepare(models[i].path, &gray28, 8, &out, &sum, &err);
        if (rc != 0)
            fail_msg("%s", err.message);
        assert_true(sum.params == models[i].params);
        assert_non_null(strstr(out, "batch=8\n"));
        assert_null(strstr(out, "classes")); /* substituted */
        free(out);
    }
    /* The colour CNN2 against a 32x32x3, 100-class dataset. */
    p4_cfg_shape colour = {32, 32, 3, 100};
    p4_cfg_summary sum;
    char *out = NULL;
    assert_int_equal(p4_cfg_prepare("configs/models/cnn2-32x32x3.cfg", &colour, 4, &out, &sum, NULL), 0);
    assert_true(sum.params == 128 * 27 + 128 + 128 * 1152 + 128 + 8 * 8 * 128 * 100 + 100);
    free(out);
}

static void test_bad_models_are_rejected_with_line_and_reason(void **state)
{
    (void)state;
    expect_rejected("[connected]\noutput=5\n" TAIL, "bad.cfg:1", "[net]");
    expect_rejected(HEAD "[connected]\noutput=-3\nactivation=relu\n\n" TAIL, "bad.cfg:7", "output");
    expect_rejected(HEAD "[connected]\noutput=12x\n" TAIL, "bad.cfg:7", "not an integer");
    expect_rejected(HEAD "[connected]\noutput=10\nactivaton=relu\n" TAIL, "bad.cfg:8", "unknown key 'activaton'");
    expect_rejected(HEAD "[connected]\noutput=10\nactivation=swish\n" TAIL, "bad.cfg:8", "activation");
    expect_rejected(HEAD "[yolo]\nclasses=3\n" TAIL, "bad.cfg:6", "not supported");
    expect_rejected(HEAD "[convolutional]\nfilters=4\nsize=29\n" TAIL, "bad.cfg:6", "does not fit");
    expect_rejected(HEAD "[connected]\noutput=10\noutput=11\n" TAIL, "bad.cfg:8", "twice");
    expect_rejected("[net]\nwidth=32\nheight=32\nchannels=3\n" TAIL, "bad.cfg:1", "32x32x3");
    expect_rejected(HEAD "[connected]\noutput=7\nactivation=linear\n\n[softmax]\n", "bad.cfg:6", "10 classes");
    expect_rejected(HEAD "[connected]\noutput=classes\nactivation=relu\n\n[softmax]\n", "bad.cfg", "linear");
    expect_rejected(HEAD "[connected]\noutput=classes\nactivation=linear\n", "bad.cfg", "[softmax]");
    expect_rejected(HEAD "[softmax]\n\n" TAIL, "bad.cfg:6", "last layer");
    expect_rejected(HEAD "[connected\noutput=3\n", "bad.cfg:6", "section");
    expect_rejected(HEAD "just words\n", "bad.cfg:6", "key=value");
    expect_rejected(HEAD "[connected]\noutput=100000\nactivation=relu\n\n[connected]\noutput=100000\n" TAIL,
                    "bad.cfg:6", "values");
    expect_rejected("", "bad.cfg", "[net]");
}

static void test_missing_or_binary_file_is_a_clear_error(void **state)
{
    (void)state;
    p4_error err = {0};
    char *out = NULL;
    assert_int_equal(p4_cfg_prepare("configs/models/no-such.cfg", &gray28, 8, &out, NULL, &err), P4_EIO);
    assert_non_null(strstr(err.message, "no-such.cfg"));

    char *dir = test_make_temp_dir();
    char path[512];
    snprintf(path, sizeof path, "%s/binary.cfg", dir);
    const char binary[] = "[net]\nwidth=28\0\x01\x02";
    assert_int_equal(test_write_file(path, binary, sizeof binary), 0);
    assert_int_equal(p4_cfg_prepare(path, &gray28, 8, &out, NULL, &err), P4_EMODEL);
    assert_non_null(strstr(err.message, "binary"));
    test_remove_tree(dir);
}

/* The model built from a checked cfg has the parameters the checker counted. */
static void test_model_matches_summary_and_init_is_seeded(void **state)
{
    (void)state;
    p4_error err = {0};
    p4_model *a = NULL, *b = NULL, *c = NULL;
    assert_int_equal(p4_model_new(&a, "configs/models/cnn1-28x28x1.cfg", &gray28, 4, 7, &err), 0);
    assert_int_equal(p4_model_new(&b, "configs/models/cnn1-28x28x1.cfg", &gray28, 4, 7, &err), 0);
    assert_int_equal(p4_model_new(&c, "configs/models/cnn1-28x28x1.cfg", &gray28, 4, 8, &err), 0);
    size_t n = p4_model_param_count(a);
    assert_true((long long)n == p4_model_summary(a)->params);
    float *pa = malloc(n * sizeof(float)), *pb = malloc(n * sizeof(float)), *pc = malloc(n * sizeof(float));
    p4_model_get_params(a, pa, n);
    p4_model_get_params(b, pb, n);
    p4_model_get_params(c, pc, n);
    assert_memory_equal(pa, pb, n * sizeof(float));
    assert_memory_not_equal(pa, pc, n * sizeof(float));
    /* set/get round trip */
    p4_model_set_params(c, pa, n);
    p4_model_get_params(c, pc, n);
    assert_memory_equal(pa, pc, n * sizeof(float));
    assert_int_equal(p4_model_set_params(c, pa, n - 1), P4_EINVAL);
    free(pa); free(pb); free(pc);
    p4_model_destroy(&a); p4_model_destroy(&b); p4_model_destroy(&c);
    assert_null(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shipped_models_are_accepted_with_right_sizes),
        cmocka_unit_test(test_bad_models_are_rejected_with_line_and_reason),
        cmocka_unit_test(test_missing_or_binary_file_is_a_clear_error),
        cmocka_unit_test(test_model_matches_summary_and_init_is_seeded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
