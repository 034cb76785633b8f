/* bench_noise.c: the DP noise phase of an MLP DP-SGD step, serial layout
 * against chunked ([dp] noise_layout, docs/noise.md), timed in alternation.
 *
 *   bench_noise [--rounds 40] [--reps 10]
 *
 * One "step" noises the tensors of configs/models/mlp-28x28x1.cfg at 10
 * classes (784x200, 200, 200x200, 200, 200x10, 10: 199,210 values) through
 * a seeded software enclave, as dp/dpsgd.c's add_noise does.  For each
 * thread count (1, 2) the two layouts run in alternation, round after
 * round, each round `reps` steps; each layout's figure is its fastest
 * round (ms per step), so both see the same load.  Also printed: the
 * keystream alone (the same number of bytes from p4_rng) on one core. */
#include "common/rng.h"
#include "common/workers.h"
#include "tee/enclave.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static const size_t mlp_tensors[] = { 784 * 200, 200, 200 * 200, 200, 200 * 10, 10 };
#define TENSORS (sizeof mlp_tensors / sizeof mlp_tensors[0])

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int noise_step(p4_enclave *e, float *values)
{
    float *at = values;
    for (size_t t = 0; t < TENSORS; t++) {
        int rc = p4_enclave_add_gaussian_noise(e, at, mlp_tensors[t], 1.0, NULL);
        if (rc != P4_OK)
            return rc;
        at += mlp_tensors[t];
    }
    return P4_OK;
}

int main(int argc, char **argv)
{
    int rounds = 40, reps = 10;
    static const struct option longopts[] = { { "rounds", required_argument, NULL, 'r' },
                                              { "reps", required_argument, NULL, 'n' },
                                              { NULL, 0, NULL, 0 } };
    int ch;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (ch == 'r')
            rounds = atoi(optarg);
        else if (ch == 'n')
            reps = atoi(optarg);
        else {
            fprintf(stderr, "usage: bench_noise [--rounds 40] [--reps 10]\n");
            return 2;
        }
    }
    if (rounds < 1 || reps < 1) {
        fprintf(stderr, "bench_noise: --rounds and --reps must be >= 1\n");
        return 2;
    }
    size_t total = 0;
    for (size_t t = 0; t < TENSORS; t++)
        total += mlp_tensors[t];
    float *values = calloc(total, sizeof *values);
    unsigned char *bytes = malloc(total * 8);
    const char *const layouts[2] = { "serial", "chunked" };
    p4_enclave *e[2] = { NULL, NULL };
    p4_error err;
    for (int l = 0; l < 2; l++)
        if (p4_enclave_open_software(&e[l], 1, 1, &err) != P4_OK ||
            p4_enclave_set_noise_layout(e[l], layouts[l], &err) != P4_OK) {
            fprintf(stderr, "bench_noise: %s\n", err.message);
            return 1;
        }
    if (values == NULL || bytes == NULL) {
        fprintf(stderr, "bench_noise: out of memory\n");
        return 1;
    }
    p4_rng rng;
    p4_rng_init_seeded(&rng, 1, "bench-keystream");
    double keystream = -1;
    for (int threads = 1; threads <= 2; threads++) {
        p4_workers_set_threads(threads);
        double best[2] = { -1, -1 };
        for (int r = 0; r < rounds; r++)
            for (int l = 0; l < 2; l++) {
                double start = now();
                for (int i = 0; i < reps; i++)
                    if (noise_step(e[l], values) != P4_OK)
                        return 1;
                double per = (now() - start) / reps;
                if (best[l] < 0 || per < best[l])
                    best[l] = per;
                if (threads == 1 && l == 0) {
                    start = now();
                    p4_rng_bytes(&rng, bytes, total * 8);
                    per = now() - start;
                    if (keystream < 0 || per < keystream)
                        keystream = per;
                }
            }
        printf("threads %d: noise phase (199,210 values) serial %.3f ms, chunked %.3f ms: "
               "chunked %.2fx\n", threads, 1e3 * best[0], 1e3 * best[1], best[0] / best[1]);
    }
    printf("keystream alone (8 bytes per value), one core: %.3f ms, %.2f ns per value\n",
           1e3 * keystream, 1e9 * keystream / (double)total);
    p4_enclave_close(&e[0]);
    p4_enclave_close(&e[1]);
    free(values);
    free(bytes);
    return 0;
}
