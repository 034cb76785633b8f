/* test_similarity.c: L1 distance over a coordinate range. */
#include "support/test_support.h"

#include <math.h>
#include <string.h>

#include "cluster/similarity.h"

static void test_l1_over_whole_vector_and_sub_range(void **state)
{
    (void)state;
    const float a[5] = {1.0f, -2.0f, 3.5f, 0.0f, 10.0f};
    const float b[5] = {0.0f, 2.0f, 3.0f, -1.0f, 10.0f};
    double d = -1;
    assert_int_equal(p4_l1_distance(a, b, 0, 5, 5, &d, NULL), P4_OK);
    assert_true(d == 1.0 + 4.0 + 0.5 + 1.0 + 0.0);
    assert_int_equal(p4_l1_distance(a, b, 1, 2, 5, &d, NULL), P4_OK);
    assert_true(d == 4.5);
    assert_int_equal(p4_l1_distance(a, b, 5, 0, 5, &d, NULL), P4_OK);
    assert_true(d == 0.0);
    assert_int_equal(p4_l1_distance(b, a, 0, 5, 5, &d, NULL), P4_OK);
    assert_true(d == 6.5); /* symmetric */
}

static void test_l1_accumulates_in_double(void **state)
{
    (void)state;
    /* 2^25 + many ones: a float accumulator would stop growing at 2^24 */
    enum { N = 3000000 };
    static float a[N], b[N];
    for (int k = 0; k < N; k++) {
        a[k] = 1.0f;
        b[k] = 0.0f;
    }
    a[0] = 33554432.0f;
    double d = 0;
    assert_int_equal(p4_l1_distance(a, b, 0, N, N, &d, NULL), P4_OK);
    assert_true(d == 33554432.0 + (N - 1));
}

static void test_l1_rejects_ranges_outside_the_vector(void **state)
{
    (void)state;
    const float a[4] = {0}, b[4] = {0};
    double d = 0;
    p4_error err;
    p4_error_clear(&err);
    assert_int_equal(p4_l1_distance(a, b, 2, 3, 4, &d, &err), P4_EINVAL);
    assert_non_null(strstr(err.message, "exceeds vector length 4"));
    assert_int_equal(p4_l1_distance(a, b, 5, 0, 4, &d, NULL), P4_EINVAL);
    /* offset + length would wrap around size_t */
    assert_int_equal(p4_l1_distance(a, b, 1, (size_t)-1, 4, &d, NULL), P4_EINVAL);
    assert_int_equal(p4_l1_distance(NULL, b, 0, 1, 4, &d, NULL), P4_EINVAL);
    assert_int_equal(p4_l1_distance(a, b, 0, 1, 4, NULL, NULL), P4_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_l1_over_whole_vector_and_sub_range),
        cmocka_unit_test(test_l1_accumulates_in_double),
        cmocka_unit_test(test_l1_rejects_ranges_outside_the_vector),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
