/* finite.h: where a float vector stops being finite.
 *
 * Weights, messages and checkpoints are refused, or training stopped, as
 * soon as a value is NaN or infinite; every such check asks this one
 * question and words its own error. */
#ifndef P4_COMMON_FINITE_H
#define P4_COMMON_FINITE_H

#include <stddef.h>

/* The index of the first of v's n values that is not finite, or n when
 * all are (or n is 0).  v may be NULL only when n is 0. */
size_t p4_first_non_finite(const float *v, size_t n);

#endif
