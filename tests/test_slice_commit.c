/* test_slice_commit.c: the commitments of grouping_commit (cluster/slice_commit.h):
 *   - a slice opens its own commitment and nothing else does: another
 *     sender's id, one changed value, a shorter slice, a copy plus noise;
 *   - the echo is the same for the same commitments and differs when one
 *     commitment, or who holds one, differs. */
#include "support/test_support.h"

#include <string.h>

#include "cluster/slice_commit.h"

#define L 64

static void a_commitment_opens_only_for_its_sender_and_slice(void **state)
{
    (void)state;
    float s[L], t[L];
    for (int i = 0; i < L; i++)
        s[i] = 0.01f * (float)i - 0.3f;
    uint8_t c[P4_SLICE_COMMIT_BYTES], again[P4_SLICE_COMMIT_BYTES];
    assert_int_equal(p4_slice_commitment(3, s, L, c, NULL), P4_OK);
    assert_int_equal(p4_slice_commitment(3, s, L, again, NULL), P4_OK);
    assert_memory_equal(c, again, sizeof c);
    assert_true(p4_slice_commitment_opens(3, s, L, c));
    assert_false(p4_slice_commitment_opens(4, s, L, c)); /* a copied commitment, another id */
    assert_false(p4_slice_commitment_opens(3, s, L - 1, c));
    memcpy(t, s, sizeof t);
    t[L - 1] += 1e-6f;
    assert_false(p4_slice_commitment_opens(3, t, L, c));
    memcpy(t, s, sizeof t);
    t[5] = -0.0f; /* bits, as on the wire: -0 is not +0 */
    s[5] = 0.0f;
    assert_int_equal(p4_slice_commitment(3, s, L, c, NULL), P4_OK);
    assert_false(p4_slice_commitment_opens(3, t, L, c));
    p4_error err = {0};
    assert_int_equal(p4_slice_commitment(-1, s, L, c, &err), P4_EINVAL);
    assert_int_equal(err.code, P4_EINVAL);
    assert_int_equal(p4_slice_commitment(0, NULL, L, c, NULL), P4_EINVAL);
    assert_false(p4_slice_commitment_opens(3, s, L, NULL));
}

static void the_echo_tells_different_commitments_apart(void **state)
{
    (void)state;
    enum { N = 5 };
    uint8_t c[N * P4_SLICE_COMMIT_BYTES];
    unsigned char has[N] = { 1, 1, 1, 1, 1 };
    for (size_t i = 0; i < sizeof c; i++)
        c[i] = (uint8_t)(i * 7 + 1);
    uint8_t e[P4_SLICE_COMMIT_BYTES], f[P4_SLICE_COMMIT_BYTES];
    assert_int_equal(p4_slice_commitment_echo(c, has, N, e, NULL), P4_OK);
    assert_int_equal(p4_slice_commitment_echo(c, has, N, f, NULL), P4_OK);
    assert_memory_equal(e, f, sizeof e);
    c[2 * P4_SLICE_COMMIT_BYTES + 9] ^= 1; /* peer 2 told this peer something else */
    assert_int_equal(p4_slice_commitment_echo(c, has, N, f, NULL), P4_OK);
    assert_memory_not_equal(e, f, sizeof e);
    c[2 * P4_SLICE_COMMIT_BYTES + 9] ^= 1;
    has[4] = 0; /* peer 4's commitment is missing here */
    assert_int_equal(p4_slice_commitment_echo(c, has, N, f, NULL), P4_OK);
    assert_memory_not_equal(e, f, sizeof e);
    assert_int_equal(p4_slice_commitment_echo(NULL, has, N, f, NULL), P4_EINVAL);
    assert_int_equal(p4_slice_commitment_echo(c, has, 0, f, NULL), P4_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_commitment_opens_only_for_its_sender_and_slice),
        cmocka_unit_test(the_echo_tells_different_commitments_apart),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
