/* bench_slice_guard.c: what the grouping's copy guard costs at N clients
 * (issue 15, docs/attacks.md).
 *
 *   bench_slice_guard [--length L] [--sample H] [--pairwise-max N] [N...]
 *
 * Synthetic slices (L values each, default 7,850: the logistic-regression
 * proxy's output layer on 28x28 images; N(0, 1) per value from a fixed
 * seed, one exact copy planted), for each N (default 16 64 256 1024):
 *   pairwise_s      p4_slice_guard_flag: all N (N - 1) / 2 L1 distances, a
 *                   sort and the flags: what every peer paid before (skipped
 *                   above --pairwise-max, default 1024);
 *   grouping_dist_s the L1 distances the grouping computes anyway over its
 *                   sampled pairs (H per client; 0 = all pairs): not the
 *                   guard's cost, for scale;
 *   fingerprints_s  the N slices' fingerprints (in `p4 sim` each publisher
 *                   hashes its own once; over the wire every peer hashes N);
 *   sampled_s       p4_slice_guard_flag_sampled on the grouping's distances
 *                   and the fingerprints: what one peer pays now on top of
 *                   the grouping;
 *   flagged         clients flagged by each (2: the planted copy).
 * Times are this process's CPU seconds (one thread), one run each: on a
 * shared machine the wall clock says more about the others' load. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cluster/grouping.h"
#include "cluster/similarity.h"
#include "cluster/slice_guard.h"
#include "common/rng.h"

static double cpu_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int run(int n, size_t length, int sample, int pairwise_max)
{
    p4_error err = {0};
    p4_rng rng;
    float *values = malloc((size_t)n * length * sizeof *values);
    const float **slice = malloc((size_t)n * sizeof *slice);
    double *dist = calloc((size_t)n * n, sizeof *dist);
    unsigned char *known = malloc((size_t)n * n), *flagged = malloc((size_t)n);
    uint64_t *fp = malloc((size_t)n * sizeof *fp);
    int rc = values && slice && dist && known && flagged && fp ? P4_OK : P4_ENOMEM;
    if (rc == P4_OK)
        rc = p4_rng_init_seeded(&rng, 1, "bench-slice-guard");
    for (size_t k = 0; rc == P4_OK && k < (size_t)n * length; k++)
        values[k] = (float)p4_rng_gaussian(&rng);
    for (int i = 0; rc == P4_OK && i < n; i++)
        slice[i] = values + (size_t)i * length;
    if (rc == P4_OK) /* client 1 copies client 0 */
        memcpy(values + length, values, length * sizeof *values);

    double pairwise = -1;
    int pairwise_flagged = -1;
    if (rc == P4_OK && n <= pairwise_max) {
        double t0 = cpu_seconds();
        rc = p4_slice_guard_flag(slice, n, length, 0.05, flagged, &pairwise_flagged, &err);
        pairwise = cpu_seconds() - t0;
    }
    double t0 = cpu_seconds();
    if (rc == P4_OK)
        rc = p4_grouping_sample_peers(n, sample, &rng, known, &err);
    for (int i = 0; i < n && rc == P4_OK; i++)
        for (int j = i + 1; j < n && rc == P4_OK; j++)
            if (known[(size_t)i * n + j]) {
                rc = p4_l1_distance(slice[i], slice[j], 0, length, length,
                                    &dist[(size_t)i * n + j], &err);
                dist[(size_t)j * n + i] = dist[(size_t)i * n + j];
            }
    double t1 = cpu_seconds();
    for (int i = 0; i < n && rc == P4_OK; i++)
        rc = p4_slice_fingerprint(slice[i], length, &fp[i], &err);
    double t2 = cpu_seconds();
    int sampled_flagged = -1;
    if (rc == P4_OK)
        rc = p4_slice_guard_flag_sampled(dist, known, fp, NULL, n, 0.05, flagged, &sampled_flagged, &err);
    double t3 = cpu_seconds();
    if (rc == P4_OK)
        printf("%6d %8zu %6d %12.4f %16.4f %15.5f %10.5f %9d %9d\n", n, length, sample, pairwise,
               t1 - t0, t2 - t1, t3 - t2, pairwise_flagged, sampled_flagged);
    else
        fprintf(stderr, "bench_slice_guard: N = %d: %s\n", n,
                err.message[0] ? err.message : "out of memory");
    free(values);
    free(slice);
    free(dist);
    free(known);
    free(flagged);
    free(fp);
    return rc;
}

int main(int argc, char **argv)
{
    size_t length = 7850;
    int sample = 32, pairwise_max = 1024, sizes[32], nsizes = 0;
    for (int a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--length") == 0 && a + 1 < argc)
            length = (size_t)strtoul(argv[++a], NULL, 10);
        else if (strcmp(argv[a], "--sample") == 0 && a + 1 < argc)
            sample = atoi(argv[++a]);
        else if (strcmp(argv[a], "--pairwise-max") == 0 && a + 1 < argc)
            pairwise_max = atoi(argv[++a]);
        else if (atoi(argv[a]) >= 2 && nsizes < 32)
            sizes[nsizes++] = atoi(argv[a]);
        else {
            fprintf(stderr, "usage: bench_slice_guard [--length L] [--sample H] "
                            "[--pairwise-max N] [N...]   (N >= 2)\n");
            return 2;
        }
    }
    if (length < 1) {
        fprintf(stderr, "bench_slice_guard: --length must be at least 1\n");
        return 2;
    }
    if (nsizes == 0) {
        const int fallback[] = { 16, 64, 256, 1024 };
        memcpy(sizes, fallback, sizeof fallback);
        nsizes = 4;
    }
    printf("%6s %8s %6s %12s %16s %15s %10s %9s %9s\n", "N", "L", "H", "pairwise_s",
           "grouping_dist_s", "fingerprints_s", "sampled_s", "flag_pw", "flag_smp");
    for (int k = 0; k < nsizes; k++)
        if (run(sizes[k], length, sample, pairwise_max) != P4_OK)
            return 1;
    return 0;
}
