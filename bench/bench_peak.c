/* bench_peak: the machine's fp32 fused multiply-add peak, measured.
 *
 *   bench_peak [--threads N] [--seconds S] [--json]
 *
 * Each thread runs a register-resident loop: ACCUMULATORS independent
 * vectors of LANES floats, each updated acc = acc * a + b per iteration, so
 * one iteration is ACCUMULATORS x LANES fused multiply-adds (2 FLOPs each)
 * and nothing touches memory.  Enough independent chains hide the FMA
 * latency on current x86 and Arm cores.  Built with the bench's -march=native
 * (Release), GCC turns the vector extension into the widest FMA the CPU has.
 * The figure is the best of REPEATS timed runs of the whole thread team; it
 * is what issue 16's "fraction of peak" divides by. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/progress.h"

#define LANES 16
#define ACCUMULATORS 12
#define REPEATS 5
#define BLOCK 4096 /* iterations between clock reads */

typedef float vec __attribute__((vector_size(LANES * sizeof(float))));

typedef struct {
    double seconds;
    long long iterations;
    float sink;
    pthread_barrier_t *start;
} worker;

static void *run(void *arg)
{
    worker *w = arg;
    vec acc[ACCUMULATORS];
    vec a, b;
    for (int l = 0; l < LANES; l++) {
        a[l] = 0.999999f;
        b[l] = 1e-7f * (float)(l + 1);
    }
    for (int k = 0; k < ACCUMULATORS; k++)
        for (int l = 0; l < LANES; l++)
            acc[k][l] = (float)(k + l) * 1e-3f;
    pthread_barrier_wait(w->start);
    double t0 = p4_now_seconds(), end = t0 + w->seconds;
    long long n = 0;
    do {
        for (int i = 0; i < BLOCK; i++)
            for (int k = 0; k < ACCUMULATORS; k++)
                acc[k] = acc[k] * a + b;
        n += BLOCK;
    } while (p4_now_seconds() < end);
    w->seconds = p4_now_seconds() - t0;
    w->iterations = n;
    float s = 0;
    for (int k = 0; k < ACCUMULATORS; k++)
        for (int l = 0; l < LANES; l++)
            s += acc[k][l];
    w->sink = s; /* keeps the loop alive */
    return NULL;
}

/* GFLOP/s of `threads` threads running together for `seconds`. */
static double team_gflops(int threads, double seconds)
{
    pthread_t id[256];
    worker w[256];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, (unsigned)threads);
    for (int t = 0; t < threads; t++) {
        w[t] = (worker){ .seconds = seconds, .start = &start };
        pthread_create(&id[t], NULL, run, &w[t]);
    }
    double flops = 0, longest = 0;
    for (int t = 0; t < threads; t++) {
        pthread_join(id[t], NULL);
        flops += 2.0 * ACCUMULATORS * LANES * (double)w[t].iterations;
        if (w[t].seconds > longest)
            longest = w[t].seconds;
    }
    pthread_barrier_destroy(&start);
    return flops / longest / 1e9;
}

int main(int argc, char **argv)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int threads = cores > 0 ? (int)cores : 1, json = 0;
    double seconds = 0.5;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
            seconds = atof(argv[++i]);
        else if (strcmp(argv[i], "--json") == 0)
            json = 1;
        else {
            fprintf(stderr, "usage: bench_peak [--threads N] [--seconds S] [--json]\n");
            return 2;
        }
    }
    if (threads < 1 || threads > 256 || !(seconds > 0 && seconds < 60)) {
        fprintf(stderr, "bench_peak: --threads must be 1..256 and --seconds in (0, 60)\n");
        return 2;
    }
    double best = 0, one = 0;
    for (int r = 0; r < REPEATS; r++) {
        double g = team_gflops(threads, seconds);
        best = g > best ? g : best;
        double g1 = threads > 1 ? team_gflops(1, seconds) : g;
        one = g1 > one ? g1 : one;
    }
    if (json)
        printf("{\"bench\":\"peak\",\"threads\":%d,\"peak_gflops\":%.1f,\"one_thread_gflops\":%.1f,"
               "\"lanes\":%d,\"accumulators\":%d,\"repeats\":%d}\n", threads, best, one, LANES,
               ACCUMULATORS, REPEATS);
    else
        printf("fp32 FMA peak: %.1f GFLOP/s on %d threads (%.1f on one), best of %d runs of %.1f s\n",
               best, threads, one, REPEATS, seconds);
    return 0;
}
