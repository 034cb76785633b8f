/* fill.c: darknet's fill_cpu, interposed (like gemm.c).
 *
 * darknet's forward pass zeroes every layer's delta for the whole batch
 * with fill_cpu, a loop of single-float stores: for CNN1 at batch 250 that
 * is 10 MB per step and was 2.6% of a DP step (perf), on one core while
 * the other waited.  Zeroing a contiguous array is memset's job (wide
 * stores), and a large one is split over p4's threads; any other fill is
 * darknet's loop, written the same way. */
#include <darknet.h>
#include <math.h>
#include <string.h>

#include "common/workers.h"

/* Zeroing below this many floats (1 MiB) is not worth waking a thread. */
enum { SPLIT_MIN_FLOATS = 1 << 18, BLOCK_FLOATS = 1 << 14 };

/* Blocks [first, last) of BLOCK_FLOATS floats of one array, the last block short. */
typedef struct {
    float *x;
    size_t n;
} zero_job;

static void zero_blocks(void *ctx, int first, int last, int worker)
{
    (void)worker;
    const zero_job *job = ctx;
    const size_t from = (size_t)first * BLOCK_FLOATS;
    size_t to = (size_t)last * BLOCK_FLOATS;
    if (to > job->n)
        to = job->n;
    memset(job->x + from, 0, (to - from) * sizeof(float));
}

void fill_cpu(int N, float ALPHA, float *X, int INCX)
{
    if (X == NULL || N <= 0)
        return; /* darknet's loop runs zero times */
    if (INCX == 1 && ALPHA == 0.0f && !signbit(ALPHA)) {
        /* +0.0f is all zero bits */
        zero_job job = { X, (size_t)N };
        const int blocks = (int)((job.n + BLOCK_FLOATS - 1) / BLOCK_FLOATS);
        p4_for_examples(blocks, N >= SPLIT_MIN_FLOATS ? p4_workers_for(blocks) : 1, zero_blocks,
                        &job);
        return;
    }
    for (int i = 0; i < N; i++)
        X[(long)i * INCX] = ALPHA;
}
