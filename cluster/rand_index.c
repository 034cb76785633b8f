/* rand_index.c: adjusted Rand index; see rand_index.h.
 *
 * ARI = (I - E) / (M - E) with I = sum over contingency cells C(n_ij, 2),
 * E = sum_i C(a_i, 2) sum_j C(b_j, 2) / C(n, 2) and M = (sum_i C(a_i, 2) +
 * sum_j C(b_j, 2)) / 2.  Each of the three sums is the number of item pairs
 * sharing a key, found by sorting the keys and counting runs, so no
 * clusters x clusters table is ever built (n singletons stay O(n)). */
#include "cluster/rand_index.h"

#include <math.h>
#include <stdlib.h>

typedef struct label_pair {
    int x, y;
} label_pair;

static int compare_pairs(const void *pa, const void *pb)
{
    const label_pair *a = pa, *b = pb;
    if (a->x != b->x)
        return a->x < b->x ? -1 : 1;
    return (a->y > b->y) - (a->y < b->y);
}

/* Number of unordered pairs of items whose (x, y) keys are equal. */
static double pairs_sharing_key(label_pair *keys, int n)
{
    qsort(keys, (size_t)n, sizeof *keys, compare_pairs);
    double pairs = 0.0;
    for (int start = 0, end; start < n; start = end) {
        for (end = start + 1; end < n && compare_pairs(&keys[start], &keys[end]) == 0; end++)
            ;
        double run = end - start;
        pairs += run * (run - 1) / 2;
    }
    return pairs;
}

double p4_adjusted_rand_index(const int *a, const int *b, int n)
{
    if (a == NULL || b == NULL || n < 0)
        return NAN;
    if (n < 2)
        return 1.0;
    label_pair *keys = malloc((size_t)n * sizeof *keys);
    if (keys == NULL)
        return NAN;
    for (int i = 0; i < n; i++)
        keys[i] = (label_pair){a[i], b[i]};
    double index = pairs_sharing_key(keys, n);
    for (int i = 0; i < n; i++)
        keys[i] = (label_pair){a[i], 0};
    double sum_a = pairs_sharing_key(keys, n);
    for (int i = 0; i < n; i++)
        keys[i] = (label_pair){b[i], 0};
    double sum_b = pairs_sharing_key(keys, n);
    free(keys);

    double total = (double)n * (n - 1) / 2;
    /* M == E exactly when both partitions are the same trivial one (all in
     * one cluster, or all singletons); tested on the exact integer sums
     * because the floating-point difference need not come out as 0. */
    if (sum_a == sum_b && (sum_a == 0 || sum_a == total))
        return 1.0;
    double expected = sum_a * sum_b / total;
    double max_index = (sum_a + sum_b) / 2;
    return (index - expected) / (max_index - expected);
}
