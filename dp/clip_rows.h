/* clip_rows.h: scaling rows down to an L2 norm bound, the clipping of the
 * logits-mode release.  Freestanding, so distill/client.c (normal world) and
 * the OP-TEE TA (tee/optee/ta/ta_release.c) clip with the same code. */
#ifndef P4_DP_CLIP_ROWS_H
#define P4_DP_CLIP_ROWS_H

#include <stddef.h>

/* Each of the n rows of `cols` floats longer than clip (L2) is scaled to
 * norm clip; shorter rows are left as they are. */
void p4_clip_rows(float *rows, size_t n, size_t cols, double clip);

#endif
