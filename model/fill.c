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

#include "common/workers.h"

void fill_cpu(int N, float ALPHA, float *X, int INCX)
{
    if (X == NULL || N <= 0)
        return; /* darknet's loop runs zero times */
    if (INCX == 1 && ALPHA == 0.0f && !signbit(ALPHA)) {
        p4_parallel_copy(X, NULL, (size_t)N); /* +0.0f is all zero bits */
        return;
    }
    for (int i = 0; i < N; i++)
        X[(long)i * INCX] = ALPHA;
}
