/* test_fill.c: p4's interposed fill_cpu (model/fill.c) leaves arrays as
 * darknet's own does, bit for bit (zero, minus zero, other values,
 * strides, and a zeroing large enough to be split over threads), and
 * darknet's calls reach it; p4_parallel_copy (common/workers.h) copies
 * exactly, split or not. */
#define _GNU_SOURCE
#include "support/test_support.h"

#include <darknet.h>
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include "common/workers.h"

typedef void fill_fn(int, float, float *, int);

static void matches_darknet(void **state)
{
    (void)state;
    fill_fn *reference = (fill_fn *)dlsym(RTLD_NEXT, "fill_cpu");
    if (!reference)
        TEST_SKIP("darknet's fill_cpu is not reachable");
    assert_true(dlsym(RTLD_DEFAULT, "fill_cpu") == (void *)fill_cpu);
    assert_true(reference != fill_cpu);
    const float values[] = { 0.0f, -0.0f, 1.5f, -3.0f };
    const int strides[] = { 1, 2, 3 };
    enum { N = 257 };
    for (size_t v = 0; v < sizeof values / sizeof values[0]; v++) {
        for (size_t s = 0; s < sizeof strides / sizeof strides[0]; s++) {
            float mine[3 * N], theirs[3 * N];
            for (int i = 0; i < 3 * N; i++)
                mine[i] = theirs[i] = (float)i - 100.0f; /* cells between strides keep this */
            int n = (3 * N - 1) / strides[s];
            fill_cpu(n, values[v], mine, strides[s]);
            reference(n, values[v], theirs, strides[s]);
            if (memcmp(mine, theirs, sizeof mine) != 0)
                fail_msg("fill_cpu(%d, %g, stride %d) differs", n, values[v], strides[s]);
        }
    }
    /* Large: split into blocks over p4's threads, the last block short;
     * the float after the end must stay. */
    const int big = (1 << 19) + 12345;
    float *mine = malloc(((size_t)big + 1) * sizeof(float));
    float *theirs = malloc(((size_t)big + 1) * sizeof(float));
    for (int threads = 1; threads <= 3; threads += 2) {
        p4_workers_set_threads(threads);
        for (int i = 0; i <= big; i++)
            mine[i] = theirs[i] = (float)(i % 97) + 1.0f;
        fill_cpu(big, 0.0f, mine, 1);
        reference(big, 0.0f, theirs, 1);
        if (memcmp(mine, theirs, ((size_t)big + 1) * sizeof(float)) != 0)
            fail_msg("large zeroing differs at %d threads", threads);
        assert_true(mine[big] == (float)(big % 97) + 1.0f);
    }
    p4_workers_set_threads(1);
    free(mine);
    free(theirs);

    float untouched[4] = { 1, 2, 3, 4 };
    fill_cpu(0, 0.0f, untouched, 1);
    fill_cpu(-5, 0.0f, untouched, 1);
    assert_true(untouched[0] == 1 && untouched[3] == 4);
}

static void parallel_copy_is_exact(void **state)
{
    (void)state;
    const size_t sizes[] = { 1, 1000, (1 << 16) - 1, (1 << 16) + 12345, 3u << 18 };
    for (int threads = 1; threads <= 3; threads += 2) {
        p4_workers_set_threads(threads);
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            const size_t n = sizes[s];
            float *src = malloc(n * sizeof(float)), *dst = malloc((n + 1) * sizeof(float));
            for (size_t i = 0; i < n; i++)
                src[i] = (float)(i % 1009) - 0.5f;
            dst[n] = 42.0f;
            p4_parallel_copy(dst, src, n);
            if (memcmp(dst, src, n * sizeof(float)) != 0)
                fail_msg("copy of %zu floats differs at %d threads", n, threads);
            assert_true(dst[n] == 42.0f); /* nothing past the end */
            p4_parallel_copy(dst, NULL, n);
            for (size_t i = 0; i < n; i++)
                if (dst[i] != 0.0f)
                    fail_msg("zeroing %zu floats left %g at %zu", n, dst[i], i);
            free(src);
            free(dst);
        }
    }
    p4_workers_set_threads(1);
}

int main(void)
{
    const struct CMUnitTest tests[] = { cmocka_unit_test(matches_darknet),
                                        cmocka_unit_test(parallel_copy_is_exact) };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
