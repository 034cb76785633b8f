/* clip_rows.c: see clip_rows.h. */
#include "dp/clip_rows.h"
#include "common/fs_math.h"

void p4_clip_rows(float *rows, size_t n, size_t cols, double clip)
{
    for (size_t i = 0; i < n; i++) {
        float *z = rows + i * cols;
        double norm = 0;
        for (size_t k = 0; k < cols; k++)
            norm += (double)z[k] * z[k];
        norm = p4_fs_sqrt(norm); /* correctly rounded, as libm's sqrt */
        if (norm > clip)
            for (size_t k = 0; k < cols; k++)
                z[k] = (float)(z[k] * clip / norm);
    }
}
