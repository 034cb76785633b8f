/* test_audit_canaries.c: the audit's canary sets (p4node/audit_canaries.h)
 * on a small synthetic source: the real rows come first and unchanged, the
 * training indices are the real rows and exactly the included canaries,
 * the coins are fair, sparse canaries light exactly their pixels,
 * mislabelled ones come from rows nobody holds with a wrong label, and the
 * score is the model's logit margin. */
#include "support/test_support.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "p4node/audit_canaries.h"

#define SIDE 6
#define CLASSES 4

static p4_dataset *source_set(int count)
{
    p4_dataset *ds = NULL;
    assert_int_equal(p4_dataset_new(&ds, "synthetic", count, SIDE, SIDE, 1, CLASSES, NULL), P4_OK);
    for (int i = 0; i < count; i++) {
        for (int j = 0; j < SIDE * SIDE; j++)
            ds->pixels[(size_t)i * SIDE * SIDE + j] = (uint8_t)((i * 7 + j * 3) % 200 + 1);
        ds->labels[i] = (uint16_t)(i % CLASSES);
    }
    return ds;
}

static void sparse_set_holds_the_split_and_the_included_canaries(void **state)
{
    (void)state;
    p4_dataset *source = source_set(50);
    int split[] = { 4, 9, 13, 40, 2 };
    p4_rng rng;
    assert_int_equal(p4_rng_init_seeded(&rng, 11, "test"), P4_OK);
    p4_canary_design design = { P4_CANARY_SPARSE, 5 };
    p4_canary_set *s = NULL;
    int m = 2000;
    assert_int_equal(p4_canary_set_new(&s, source, split, 5, NULL, m, &design, &rng, NULL), P4_OK);
    assert_int_equal(s->real, 5);
    assert_int_equal(s->canaries, m);
    assert_int_equal(s->data->count, 5 + m);
    size_t size = SIDE * SIDE;
    for (int i = 0; i < 5; i++) {
        assert_memory_equal(s->data->pixels + i * size, source->pixels + split[i] * size, size);
        assert_int_equal(s->data->labels[i], source->labels[split[i]]);
        assert_int_equal(s->train_idx[i], i);
    }
    int included = 0, label_count[CLASSES] = { 0 };
    for (int j = 0; j < m; j++) {
        const uint8_t *row = s->data->pixels + (size_t)(5 + j) * size;
        int lit = 0;
        for (size_t k = 0; k < size; k++) {
            assert_true(row[k] == 0 || row[k] == 255);
            lit += row[k] == 255;
        }
        assert_int_equal(lit, 5);
        assert_true(s->data->labels[5 + j] < CLASSES);
        label_count[s->data->labels[5 + j]]++;
        included += s->included[j];
    }
    /* The training list: the real rows, then exactly the included canaries. */
    assert_int_equal(s->train_count, 5 + included);
    for (int t = 5, j = 0; j < m; j++)
        if (s->included[j])
            assert_int_equal(s->train_idx[t++], 5 + j);
    /* Fair coins: Bin(2000, 1/2) is within 1000 +- 100 but with prob 1e-5. */
    assert_true(included > 900 && included < 1100);
    for (int c = 0; c < CLASSES; c++)
        assert_true(label_count[c] > 400 && label_count[c] < 600);
    p4_canary_set_destroy(&s);
    assert_null(s);
    p4_dataset_destroy(&source);
}

static void mislabelled_canaries_come_from_free_rows_with_wrong_labels(void **state)
{
    (void)state;
    p4_dataset *source = source_set(40);
    unsigned char taken[40] = { 0 };
    for (int i = 0; i < 40; i += 2)
        taken[i] = 1; /* even rows belong to clients */
    int split[] = { 0, 2 };
    p4_rng rng;
    assert_int_equal(p4_rng_init_seeded(&rng, 12, "test"), P4_OK);
    p4_canary_design design = { P4_CANARY_MISLABELLED, 0 };
    p4_canary_set *s = NULL;
    assert_int_equal(p4_canary_set_new(&s, source, split, 2, taken, 20, &design, &rng, NULL), P4_OK);
    size_t size = SIDE * SIDE;
    unsigned char used[40] = { 0 };
    for (int j = 0; j < 20; j++) {
        int found = -1;
        for (int i = 1; i < 40 && found < 0; i += 2)
            if (memcmp(s->data->pixels + (size_t)(2 + j) * size, source->pixels + (size_t)i * size,
                       size) == 0)
                found = i;
        assert_true(found > 0);           /* an odd (free) row */
        assert_false(used[found]);        /* each at most once */
        used[found] = 1;
        assert_int_not_equal(s->data->labels[2 + j], source->labels[found]);
    }
    p4_canary_set_destroy(&s);
    /* 21 canaries cannot come from 20 free rows. */
    p4_error err = {0};
    assert_int_equal(p4_canary_set_new(&s, source, split, 2, taken, 21, &design, &rng, &err),
                     P4_EINVAL);
    assert_non_null(strstr(err.message, "no client holds"));
    p4_dataset_destroy(&source);
}

static void bad_requests_are_refused(void **state)
{
    (void)state;
    p4_dataset *source = source_set(10);
    int split[] = { 1 }, bad_split[] = { 10 };
    p4_rng rng;
    assert_int_equal(p4_rng_init_seeded(&rng, 13, "test"), P4_OK);
    p4_canary_design design = { P4_CANARY_SPARSE, SIDE * SIDE + 1 };
    p4_canary_set *s = NULL;
    assert_int_equal(p4_canary_set_new(&s, source, split, 1, NULL, 5, &design, &rng, NULL), P4_EINVAL);
    design.pixels = 3;
    assert_int_equal(p4_canary_set_new(&s, source, split, 1, NULL, 0, &design, &rng, NULL), P4_EINVAL);
    assert_int_equal(p4_canary_set_new(&s, source, bad_split, 1, NULL, 5, &design, &rng, NULL),
                     P4_EINVAL);
    assert_null(s);
    p4_dataset_destroy(&source);
}

/* Logistic regression with only biases set: every canary labelled y scores
 * b_y minus the largest other bias. */
static void the_score_is_the_logit_margin(void **state)
{
    p4_dataset *source = source_set(10);
    int split[] = { 0 };
    p4_rng rng;
    assert_int_equal(p4_rng_init_seeded(&rng, 14, "test"), P4_OK);
    p4_canary_design design = { P4_CANARY_SPARSE, 3 };
    p4_canary_set *s = NULL;
    assert_int_equal(p4_canary_set_new(&s, source, split, 1, NULL, 40, &design, &rng, NULL), P4_OK);
    char cfg[1024];
    test_write_text(*state, "logreg.cfg",
                    "[net]\nbatch=16\nwidth=6\nheight=6\nchannels=1\n\n"
                    "[connected]\noutput=classes\nactivation=linear\n\n[softmax]\ngroups=1\n",
                    cfg, sizeof cfg);
    p4_cfg_shape shape = { SIDE, SIDE, 1, CLASSES };
    p4_model *model = NULL;
    p4_error err = {0};
    if (p4_model_new(&model, cfg, &shape, 16, 1, &err) != P4_OK)
        fail_msg("%s", err.message);
    size_t n = p4_model_param_count(model);
    assert_int_equal(n, SIDE * SIDE * CLASSES + CLASSES);
    float *params = calloc(n, sizeof *params);
    static const float bias[CLASSES] = { 2.0f, -1.0f, 0.5f, 0.0f };
    memcpy(params + n - CLASSES, bias, sizeof bias); /* weights, then biases */
    assert_int_equal(p4_model_set_params(model, params, n), P4_OK);
    double scores[40];
    assert_int_equal(p4_canary_scores(s, model, scores, NULL), P4_OK);
    static const double margin[CLASSES] = { 1.5, -3.0, -1.5, -2.0 };
    for (int j = 0; j < 40; j++)
        assert_true(fabs(scores[j] - margin[s->data->labels[1 + j]]) < 1e-6);
    free(params);
    p4_model_destroy(&model);
    p4_canary_set_destroy(&s);
    p4_dataset_destroy(&source);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sparse_set_holds_the_split_and_the_included_canaries),
        cmocka_unit_test(mislabelled_canaries_come_from_free_rows_with_wrong_labels),
        cmocka_unit_test(bad_requests_are_refused),
        cmocka_unit_test_setup_teardown(the_score_is_the_logit_margin, test_temp_dir_setup,
                                        test_temp_dir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
