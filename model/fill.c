/* fill.c: darknet's fill_cpu, interposed (like gemm.c).
 *
 * darknet's forward pass zeroes every layer's delta for the whole batch
 * with fill_cpu, a loop of single-float stores: for CNN1 at batch 250 that
 * is 10 MB per step and was 2.6% of a DP step (perf).  Zeroing a
 * contiguous array is memset's job (wide stores); any other fill is
 * darknet's loop, written the same way. */
#include <darknet.h>
#include <math.h>
#include <string.h>

void fill_cpu(int N, float ALPHA, float *X, int INCX)
{
    if (X == NULL || N <= 0)
        return; /* darknet's loop runs zero times */
    if (INCX == 1 && ALPHA == 0.0f && !signbit(ALPHA)) {
        memset(X, 0, (size_t)N * sizeof(float)); /* +0.0f is all zero bits */
        return;
    }
    for (int i = 0; i < N; i++)
        X[(long)i * INCX] = ALPHA;
}
