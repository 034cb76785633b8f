/* slice_guard.c: near-copy detection of warm-up slices; see slice_guard.h. */
#include "cluster/slice_guard.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/similarity.h"

static int compare_doubles(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    return (a > b) - (a < b);
}

int p4_slice_guard_flag(const float *const *slice, int n, size_t length, double ratio,
                        unsigned char *flagged, int *count, p4_error *err)
{
    if (!slice || n < 1 || !flagged || !count || !(ratio >= 0 && ratio <= 1))
        return p4_error_set(err, P4_EINVAL, "slice guard: bad arguments");
    for (int i = 0; i < n; i++)
        if (!slice[i])
            return p4_error_set(err, P4_EINVAL, "slice guard: no slice for client %d", i);
    memset(flagged, 0, (size_t)n);
    *count = 0;
    size_t pairs = (size_t)n * (size_t)(n - 1) / 2;
    if (pairs == 0)
        return P4_OK;
    double *d = malloc(pairs * sizeof *d), *sorted = malloc(pairs * sizeof *sorted);
    if (!d || !sorted) {
        free(d);
        free(sorted);
        return p4_error_set(err, P4_ENOMEM, "slice guard: no memory for %zu distances", pairs);
    }
    int rc = P4_OK;
    size_t p = 0;
    for (int i = 0; i < n && rc == P4_OK; i++)
        for (int j = i + 1; j < n && rc == P4_OK; j++, p++)
            rc = p4_l1_distance(slice[i], slice[j], 0, length, length, &d[p], err);
    if (rc == P4_OK) {
        memcpy(sorted, d, pairs * sizeof *d);
        qsort(sorted, pairs, sizeof *sorted, compare_doubles);
        double median = pairs % 2 ? sorted[pairs / 2]
                                  : 0.5 * (sorted[pairs / 2 - 1] + sorted[pairs / 2]);
        double below = ratio * median;
        p = 0;
        for (int i = 0; i < n; i++)
            for (int j = i + 1; j < n; j++, p++)
                if (d[p] == 0 || d[p] < below)
                    flagged[i] = flagged[j] = 1;
        for (int i = 0; i < n; i++)
            *count += flagged[i];
    }
    free(d);
    free(sorted);
    return rc;
}

int p4_slice_fingerprint(const float *slice, size_t length, uint64_t *out, p4_error *err)
{
    if (!slice || !out)
        return p4_error_set(err, P4_EINVAL, "slice fingerprint: bad arguments");
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 8);
    uint8_t le[256 * 4];
    for (size_t at = 0; at < length;) {
        size_t take = length - at < 256 ? length - at : 256;
        for (size_t k = 0; k < take; k++) {
            float v = slice[at + k] == 0 ? 0.0f : slice[at + k]; /* -0 -> +0 */
            uint32_t bits;
            memcpy(&bits, &v, sizeof bits);
            for (int b = 0; b < 4; b++)
                le[4 * k + b] = (uint8_t)(bits >> (8 * b));
        }
        crypto_generichash_update(&st, le, 4 * take);
        at += take;
    }
    uint8_t h[8];
    if (crypto_generichash_final(&st, h, sizeof h) != 0)
        return p4_error_set(err, P4_ECRYPTO, "slice fingerprint: hashing failed");
    *out = 0;
    for (int b = 0; b < 8; b++)
        *out |= (uint64_t)h[b] << (8 * b);
    return P4_OK;
}

typedef struct {
    uint64_t fingerprint;
    int client;
} keyed;

static int compare_keyed(const void *pa, const void *pb)
{
    const keyed *a = pa, *b = pb;
    if (a->fingerprint != b->fingerprint)
        return (a->fingerprint > b->fingerprint) - (a->fingerprint < b->fingerprint);
    return (a->client > b->client) - (a->client < b->client);
}

/* Flags every client whose fingerprint another client shares: one sort. */
static int flag_equal_fingerprints(const uint64_t *fingerprint, const unsigned char *skip, int n,
                                   unsigned char *flagged, p4_error *err)
{
    keyed *k = malloc((size_t)n * sizeof *k);
    if (!k)
        return p4_error_set(err, P4_ENOMEM, "slice guard: no memory for %d fingerprints", n);
    int kept = 0;
    for (int i = 0; i < n; i++)
        if (!skip || !skip[i])
            k[kept++] = (keyed){ fingerprint[i], i };
    qsort(k, (size_t)kept, sizeof *k, compare_keyed);
    for (int i = 1; i < kept; i++)
        if (k[i].fingerprint == k[i - 1].fingerprint)
            flagged[k[i].client] = flagged[k[i - 1].client] = 1;
    free(k);
    return P4_OK;
}

int p4_slice_guard_flag_sampled(const double *dist, const unsigned char *known,
                                const uint64_t *fingerprint, const unsigned char *skip, int n,
                                double ratio, unsigned char *flagged, int *count, p4_error *err)
{
    if (!dist || n < 1 || !flagged || !count || !(ratio >= 0 && ratio <= 1))
        return p4_error_set(err, P4_EINVAL, "slice guard: bad arguments");
    memset(flagged, 0, (size_t)n);
    *count = 0;
    size_t pairs = 0;
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            pairs += !known || known[(size_t)i * n + j];
    double *sorted = malloc((pairs ? pairs : 1) * sizeof *sorted);
    if (!sorted)
        return p4_error_set(err, P4_ENOMEM, "slice guard: no memory for %zu distances", pairs);
    size_t p = 0;
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            if (!known || known[(size_t)i * n + j])
                sorted[p++] = dist[(size_t)i * n + j];
    double below = 0;
    if (pairs > 0) {
        qsort(sorted, pairs, sizeof *sorted, compare_doubles);
        double median = pairs % 2 ? sorted[pairs / 2]
                                  : 0.5 * (sorted[pairs / 2 - 1] + sorted[pairs / 2]);
        below = ratio * median;
    }
    free(sorted);
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++) {
            size_t ij = (size_t)i * n + j;
            if ((!known || known[ij]) && (dist[ij] == 0 || dist[ij] < below))
                flagged[i] = flagged[j] = 1;
        }
    int rc = fingerprint ? flag_equal_fingerprints(fingerprint, skip, n, flagged, err) : P4_OK;
    for (int i = 0; i < n && rc == P4_OK; i++)
        *count += flagged[i];
    return rc;
}

int p4_group_clients_guarded(const double *dist, const unsigned char *known, int n,
                             const p4_grouping_params *params, p4_rng *rng,
                             const unsigned char *alone, int *group_of, int *ngroups,
                             p4_error *err)
{
    if (!dist || !alone || !group_of || !ngroups || n < 1)
        return p4_error_set(err, P4_EINVAL, "guarded grouping: bad arguments");
    int m = 0;
    for (int i = 0; i < n; i++)
        m += !alone[i];
    if (m == n)
        return p4_group_clients(dist, known, n, params, rng, group_of, ngroups, err);
    int *index = malloc((size_t)n * sizeof *index), *sub_group = malloc((size_t)n * sizeof *sub_group);
    double *sub = malloc((size_t)m * m * sizeof *sub + 1);
    unsigned char *sub_known = known ? malloc((size_t)m * m + 1) : NULL;
    int *first = malloc((size_t)n * sizeof *first);
    int rc = P4_OK, sub_groups = 0;
    if (!index || !sub_group || !sub || (known && !sub_known) || !first)
        rc = p4_error_set(err, P4_ENOMEM, "guarded grouping: no memory for %d clients", n);
    if (rc == P4_OK && m > 0) {
        for (int i = 0, k = 0; i < n; i++)
            if (!alone[i])
                index[k++] = i;
        for (int a = 0; a < m; a++)
            for (int b = 0; b < m; b++) {
                size_t ab = (size_t)a * m + b, ij = (size_t)index[a] * n + index[b];
                sub[ab] = dist[ij];
                if (sub_known)
                    sub_known[ab] = known[ij];
            }
        rc = p4_group_clients(sub, sub_known, m, params, rng, sub_group, &sub_groups, err);
    }
    if (rc == P4_OK) {
        /* Provisional labels: the subset's groups, then one per alone client;
         * then renumbered by smallest member, as p4_group_clients numbers them. */
        for (int i = 0, k = 0, extra = sub_groups; i < n; i++)
            group_of[i] = alone[i] ? extra++ : sub_group[k++];
        int total = sub_groups + (n - m), g = 0;
        for (int k = 0; k < total; k++)
            first[k] = -1;
        for (int i = 0; i < n; i++) {
            if (first[group_of[i]] < 0)
                first[group_of[i]] = g++;
            group_of[i] = first[group_of[i]];
        }
        *ngroups = g;
    }
    free(index);
    free(sub_group);
    free(sub);
    free(sub_known);
    free(first);
    return rc;
}
