/* fs_softmax.c: see fs_softmax.h. */
#include "model/fs_softmax.h"
#include "common/fs_math.h"

void p4_softmax(float *out, const float *in, int n, float temperature)
{
    float largest = -3.4028234663852886e38f;
    for (int i = 0; i < n; i++)
        if (in[i] > largest)
            largest = in[i];
    float sum = 0;
    for (int i = 0; i < n; i++) {
        float e = (float)p4_fs_exp(in[i] / temperature - largest / temperature);
        sum += e;
        out[i] = e;
    }
    for (int i = 0; i < n; i++)
        out[i] /= sum;
}

int p4_argmax(const float *x, int n)
{
    if (n < 1)
        return -1;
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best])
            best = i;
    return best;
}
