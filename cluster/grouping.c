/* grouping.c: peer sampling and P4's private grouping; see grouping.h.
 *
 * The group count is at most n / 2 after the pairing steps, so step (d)
 * keeps a groups x groups table of summed known cross distances and their
 * counts and merges in O(g^2) per merge: cheap for the client counts P4
 * runs with (tens to a few thousand). */
#include "cluster/grouping.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int p4_grouping_sample_peers(int n, int h, p4_rng *rng, unsigned char *known,
                             p4_error *err)
{
    if (n < 1 || known == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_grouping_sample_peers: n = %d < 1 or NULL known", n);
    int per_client = (h <= 0 || h > n - 1) ? n - 1 : h;
    if (per_client < n - 1 && rng == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_grouping_sample_peers: sampling %d of %d peers needs an rng",
                            per_client, n - 1);
    memset(known, 0, (size_t)n * (size_t)n);
    int *others = malloc((size_t)n * sizeof *others);
    if (others == NULL)
        return p4_error_set(err, P4_ENOMEM, "p4_grouping_sample_peers: no memory for %d clients", n);
    for (int i = 0; i < n; i++) {
        int m = 0;
        for (int j = 0; j < n; j++)
            if (j != i)
                others[m++] = j;
        /* partial Fisher-Yates: the first per_client entries are a uniform sample */
        for (int t = 0; t < per_client; t++) {
            int r = t;
            if (per_client < m)
                r += (int)p4_rng_below(rng, (uint64_t)(m - t));
            int j = others[r];
            others[r] = others[t];
            others[t] = j;
            known[(size_t)i * n + j] = known[(size_t)j * n + i] = 1;
        }
    }
    free(others);
    return P4_OK;
}

static int is_known(const unsigned char *known, int n, int i, int j)
{
    return i != j && (known == NULL || known[(size_t)i * n + j] != 0);
}

static int check_inputs(const double *dist, const unsigned char *known, int n,
                        const p4_grouping_params *params, p4_error *err)
{
    if (params->group_size < 2)
        return p4_error_set(err, P4_EINVAL, "p4_group_clients: group size V = %d < 2",
                            params->group_size);
    for (int i = 0; i < n; i++) {
        for (int j = i + 1; j < n; j++) {
            if (known != NULL && (known[(size_t)i * n + j] != 0) != (known[(size_t)j * n + i] != 0))
                return p4_error_set(err, P4_EINVAL, "p4_group_clients: known[%d][%d] != known[%d][%d]",
                                    i, j, j, i);
            if (!is_known(known, n, i, j))
                continue;
            double d = dist[(size_t)i * n + j];
            if (!isfinite(d) || d < 0)
                return p4_error_set(err, P4_EINVAL, "p4_group_clients: dist[%d][%d] = %g is not a finite distance >= 0",
                                    i, j, d);
            if (d != dist[(size_t)j * n + i])
                return p4_error_set(err, P4_EINVAL, "p4_group_clients: dist[%d][%d] = %g but dist[%d][%d] = %g",
                                    i, j, d, j, i, dist[(size_t)j * n + i]);
        }
    }
    return P4_OK;
}

/* Nearest known peer of i (lowest index on ties); -1 if it knows nobody. */
static int nearest_peer(const double *dist, const unsigned char *known, int n, int i)
{
    int best = -1;
    for (int j = 0; j < n; j++) {
        if (!is_known(known, n, i, j))
            continue;
        if (best < 0 || dist[(size_t)i * n + j] < dist[(size_t)i * n + best])
            best = j;
    }
    return best;
}

/* Renumbers groups 0..g-1 in the order of their smallest member, leaving
 * ungrouped clients (-1) alone; returns g.  scratch holds n ints. */
static int renumber_groups(int *group_of, int n, int *scratch)
{
    for (int k = 0; k < n; k++)
        scratch[k] = -1;
    int g = 0;
    for (int i = 0; i < n; i++) {
        if (group_of[i] < 0)
            continue;
        if (scratch[group_of[i]] < 0)
            scratch[group_of[i]] = g++;
        group_of[i] = scratch[group_of[i]];
    }
    return g;
}

typedef struct edge {
    double d;
    int i, j;
} edge;

static int compare_edges(const void *pa, const void *pb)
{
    const edge *a = pa, *b = pb;
    if (a->d != b->d)
        return a->d < b->d ? -1 : 1;
    if (a->i != b->i)
        return a->i < b->i ? -1 : 1;
    return (a->j > b->j) - (a->j < b->j);
}

/* Step (b): greedy matching of the ungrouped clients over their known pairs,
 * closest first; each pair taken is mutually nearest among those left. */
static int pair_closest_first(const double *dist, const unsigned char *known, int n,
                              int *group_of, int *g, p4_error *err)
{
    size_t count = 0, cap = 0;
    edge *edges = NULL;
    for (int i = 0; i < n; i++) {
        for (int j = i + 1; j < n && group_of[i] < 0; j++) {
            if (group_of[j] >= 0 || !is_known(known, n, i, j))
                continue;
            if (count == cap) {
                size_t grown = cap ? 2 * cap : 64;
                edge *bigger = realloc(edges, grown * sizeof *edges);
                if (bigger == NULL) {
                    free(edges);
                    return p4_error_set(err, P4_ENOMEM, "p4_group_clients: no memory for %zu pairs", grown);
                }
                edges = bigger;
                cap = grown;
            }
            edges[count++] = (edge){dist[(size_t)i * n + j], i, j};
        }
    }
    if (count > 0)
        qsort(edges, count, sizeof *edges, compare_edges);
    for (size_t e = 0; e < count; e++) {
        if (group_of[edges[e].i] < 0 && group_of[edges[e].j] < 0) {
            group_of[edges[e].i] = group_of[edges[e].j] = *g;
            (*g)++;
        }
    }
    free(edges);
    return P4_OK;
}

/* Step (c) for the odd one out: the group with the smallest mean known
 * distance to `lone` (lowest index on ties), else a random one. */
static int nearest_group(const double *dist, const unsigned char *known, int n, int lone,
                         const int *group_of, int g, p4_rng *rng, double *sum, int *cnt)
{
    for (int k = 0; k < g; k++) {
        sum[k] = 0;
        cnt[k] = 0;
    }
    for (int j = 0; j < n; j++) {
        if (group_of[j] >= 0 && is_known(known, n, lone, j)) {
            sum[group_of[j]] += dist[(size_t)lone * n + j];
            cnt[group_of[j]]++;
        }
    }
    int best = -1;
    for (int k = 0; k < g; k++)
        if (cnt[k] > 0 && (best < 0 || sum[k] / cnt[k] < sum[best] / cnt[best]))
            best = k;
    return best >= 0 ? best : (int)p4_rng_below(rng, (uint64_t)g);
}

/* Step (d): average-linkage merging while the merged size stays <= V.
 * sum/cnt are g x g tables of summed known cross distances and their counts. */
static void merge_groups(const double *dist, const unsigned char *known, int n, int *group_of,
                         int g, int max_size, double *sum, int *cnt, int *size)
{
    memset(size, 0, (size_t)g * sizeof *size);
    for (size_t k = 0; k < (size_t)g * g; k++) {
        sum[k] = 0;
        cnt[k] = 0;
    }
    for (int i = 0; i < n; i++) {
        size[group_of[i]]++;
        for (int j = i + 1; j < n; j++) {
            int a = group_of[i], b = group_of[j];
            if (a == b || !is_known(known, n, i, j))
                continue;
            sum[(size_t)a * g + b] += dist[(size_t)i * n + j];
            sum[(size_t)b * g + a] += dist[(size_t)i * n + j];
            cnt[(size_t)a * g + b]++;
            cnt[(size_t)b * g + a]++;
        }
    }
    for (;;) {
        int best_a = -1, best_b = -1, best_unknown = 0;
        double best_mean = 0;
        for (int a = 0; a < g; a++) {
            for (int b = a + 1; b < g && size[a] > 0; b++) {
                if (size[b] == 0 || size[a] + size[b] > max_size)
                    continue;
                size_t ab = (size_t)a * g + b;
                int unknown = cnt[ab] == 0;
                double mean = unknown ? 0 : sum[ab] / cnt[ab];
                if (best_a < 0 || unknown < best_unknown ||
                    (unknown == best_unknown && mean < best_mean)) {
                    best_a = a;
                    best_b = b;
                    best_unknown = unknown;
                    best_mean = mean;
                }
            }
        }
        if (best_a < 0)
            return;
        /* b joins a; its row and column fold into a's */
        for (int c = 0; c < g; c++) {
            if (c == best_a || c == best_b)
                continue;
            sum[(size_t)best_a * g + c] += sum[(size_t)best_b * g + c];
            cnt[(size_t)best_a * g + c] += cnt[(size_t)best_b * g + c];
            sum[(size_t)c * g + best_a] = sum[(size_t)best_a * g + c];
            cnt[(size_t)c * g + best_a] = cnt[(size_t)best_a * g + c];
        }
        size[best_a] += size[best_b];
        size[best_b] = 0;
        for (int i = 0; i < n; i++)
            if (group_of[i] == best_b)
                group_of[i] = best_a;
    }
}

int p4_group_clients(const double *dist, const unsigned char *known, int n,
                     const p4_grouping_params *params, p4_rng *rng, int *group_of,
                     int *ngroups, p4_error *err)
{
    if (dist == NULL || params == NULL || rng == NULL || group_of == NULL || ngroups == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_group_clients: NULL argument");
    if (n < 1)
        return p4_error_set(err, P4_EINVAL, "p4_group_clients: n = %d < 1 clients", n);
    int rc = check_inputs(dist, known, n, params, err);
    if (rc != P4_OK)
        return rc;
    if (n == 1) {
        group_of[0] = 0;
        *ngroups = 1;
        return P4_OK;
    }

    int half = n / 2;
    int *scratch = malloc((size_t)n * sizeof *scratch);
    int *cnt = malloc((size_t)half * half * sizeof *cnt);
    int *size = malloc((size_t)half * sizeof *size);
    double *sum = malloc((size_t)half * half * sizeof *sum);
    if (scratch == NULL || cnt == NULL || size == NULL || sum == NULL) {
        rc = p4_error_set(err, P4_ENOMEM, "p4_group_clients: no memory for %d clients", n);
        goto done;
    }
    for (int i = 0; i < n; i++)
        group_of[i] = -1;
    int g = 0;

    /* (a) mutual nearest known peers */
    for (int i = 0; i < n; i++)
        scratch[i] = nearest_peer(dist, known, n, i);
    for (int i = 0; i < n; i++) {
        int j = scratch[i];
        if (j > i && scratch[j] == i) {
            group_of[i] = group_of[j] = g;
            g++;
        }
    }
    /* (b) nearest remaining known peer, closest pairs first */
    rc = pair_closest_first(dist, known, n, group_of, &g, err);
    if (rc != P4_OK)
        goto done;
    /* (c) clients that know no remaining client pair at random */
    int left = 0;
    for (int i = 0; i < n; i++)
        if (group_of[i] < 0)
            scratch[left++] = i;
    p4_rng_shuffle_int(rng, scratch, (size_t)left);
    for (int t = 0; t + 1 < left; t += 2) {
        group_of[scratch[t]] = group_of[scratch[t + 1]] = g;
        g++;
    }
    if (left % 2 == 1) {
        int lone = scratch[left - 1];
        g = renumber_groups(group_of, n, scratch);
        group_of[lone] = nearest_group(dist, known, n, lone, group_of, g, rng, sum, cnt);
    }
    /* (d) average-linkage merging up to V */
    g = renumber_groups(group_of, n, scratch);
    merge_groups(dist, known, n, group_of, g, params->group_size, sum, cnt, size);
    *ngroups = renumber_groups(group_of, n, scratch);

done:
    free(scratch);
    free(cnt);
    free(size);
    free(sum);
    return rc;
}
