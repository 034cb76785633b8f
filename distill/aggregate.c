/* aggregate.c: mean and multi-Krum of flat vectors; see aggregate.h. */
#include "distill/aggregate.h"

#include <math.h>
#include <stdlib.h>

/* Coordinates summed per pass: the double accumulators stay on the stack,
 * and every input is read block by block, in order. */
#define MEAN_BLOCK 512

static int check_vectors(const char *who, const float *const *vectors, int k, float *out,
                         p4_error *err)
{
    if (vectors == NULL || out == NULL || k < 1)
        return p4_error_set(err, P4_EINVAL, "%s: need k >= 1 vectors and an output (k = %d)", who, k);
    for (int i = 0; i < k; i++)
        if (vectors[i] == NULL)
            return p4_error_set(err, P4_EINVAL, "%s: vector %d is NULL", who, i);
    return P4_OK;
}

int p4_aggregate_mean(const float *const *vectors, int k, size_t d, float *out,
                      p4_error *err)
{
    int rc = check_vectors("p4_aggregate_mean", vectors, k, out, err);
    if (rc != P4_OK)
        return rc;
    double sum[MEAN_BLOCK];
    for (size_t start = 0; start < d; start += MEAN_BLOCK) {
        size_t len = d - start < MEAN_BLOCK ? d - start : MEAN_BLOCK;
        for (size_t j = 0; j < len; j++)
            sum[j] = 0.0;
        for (int i = 0; i < k; i++)
            for (size_t j = 0; j < len; j++)
                sum[j] += vectors[i][start + j];
        /* out[j] depends on coordinate j only, so out may alias an input */
        for (size_t j = 0; j < len; j++)
            out[start + j] = (float)(sum[j] / k);
    }
    return P4_OK;
}

static double squared_distance(const float *a, const float *b, size_t d)
{
    double sum = 0.0;
    for (size_t j = 0; j < d; j++) {
        double diff = (double)a[j] - (double)b[j];
        sum += diff * diff;
    }
    /* NaN must not win a comparison: a peer sending NaN is just far away */
    return isfinite(sum) ? sum : INFINITY;
}

typedef struct scored {
    double score;
    int index;
} scored;

static int compare_scored(const void *pa, const void *pb)
{
    const scored *a = pa, *b = pb;
    if (a->score != b->score)
        return a->score < b->score ? -1 : 1;
    return (a->index > b->index) - (a->index < b->index);
}

int p4_aggregate_multi_krum(const float *const *vectors, int k, size_t d, int f, int m,
                            float *out, int *selected, p4_error *err)
{
    int rc = check_vectors("p4_aggregate_multi_krum", vectors, k, out, err);
    if (rc != P4_OK)
        return rc;
    if (f < 0 || k <= 2 * f + 2)
        return p4_error_set(err, P4_EINVAL,
                            "p4_aggregate_multi_krum: needs k > 2f + 2 and f >= 0 (k = %d, f = %d); "
                            "use p4_aggregate_mean for a group this small", k, f);
    if (m < 1 || m > k - f)
        return p4_error_set(err, P4_EINVAL, "p4_aggregate_multi_krum: m = %d not in 1..k-f = %d", m, k - f);

    double *dist2 = malloc((size_t)k * k * sizeof *dist2);
    double *score = malloc((size_t)k * sizeof *score);
    scored *rank = malloc((size_t)k * sizeof *rank); /* one row, then the scores */
    const float **chosen = malloc((size_t)m * sizeof *chosen);
    if (dist2 == NULL || score == NULL || rank == NULL || chosen == NULL) {
        rc = p4_error_set(err, P4_ENOMEM, "p4_aggregate_multi_krum: no memory for %d vectors", k);
        goto done;
    }
    for (int i = 0; i < k; i++)
        for (int j = i + 1; j < k; j++)
            dist2[(size_t)i * k + j] = dist2[(size_t)j * k + i] =
                squared_distance(vectors[i], vectors[j], d);
    /* score(i): its k - f - 2 nearest others, found by sorting its row */
    for (int i = 0; i < k; i++) {
        int others = 0;
        for (int j = 0; j < k; j++)
            if (j != i)
                rank[others++] = (scored){dist2[(size_t)i * k + j], j};
        qsort(rank, (size_t)others, sizeof *rank, compare_scored);
        score[i] = 0.0;
        for (int t = 0; t < k - f - 2; t++)
            score[i] += rank[t].score;
    }
    for (int i = 0; i < k; i++)
        rank[i] = (scored){score[i], i};
    qsort(rank, (size_t)k, sizeof *rank, compare_scored);
    for (int i = 0; i < k && selected != NULL; i++)
        selected[i] = 0;
    for (int t = 0; t < m; t++) {
        chosen[t] = vectors[rank[t].index];
        if (selected != NULL)
            selected[rank[t].index] = 1;
    }
    rc = p4_aggregate_mean(chosen, m, d, out, err);

done:
    free(dist2);
    free(score);
    free(rank);
    free(chosen);
    return rc;
}
