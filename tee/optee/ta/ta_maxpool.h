/* ta_maxpool.h: a protected max-pool layer's share of the TA's pass
 * (ta_layers.c dispatches on p4_ta_dense.kind).  No parameters: nothing
 * to clip, noise or update. */
#ifndef P4_TA_MAXPOOL_H
#define P4_TA_MAXPOOL_H

#include <stdint.h>

#include "p4_ta.h"

/* winners: m x outputs int32, kept for the backward. */
void p4_ta_maxpool_forward(const p4_ta_dense *d, const float *in, float *out, int32_t *winners,
                           uint32_t m);
/* below += each output's delta at the input element that won its window. */
void p4_ta_maxpool_input_delta(const p4_ta_dense *d, const float *delta,
                               const int32_t *winners, float *below, uint32_t m);

#endif
