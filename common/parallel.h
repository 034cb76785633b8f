/* parallel.h: run one function over 0..n-1 on a few threads.
 *
 * The simulation runs N clients in one process; each client's work is
 * independent within a phase, so a phase is a parallel for over clients.
 * Items are handed out in order from a shared counter; after the first
 * failure no new items start, and that failure's error is returned. */
#ifndef P4_COMMON_PARALLEL_H
#define P4_COMMON_PARALLEL_H

#include "common/error.h"

typedef int p4_item_fn(void *user, int item, p4_error *err);

/* threads <= 1 runs inline, in order. */
int p4_parallel_for(int n, int threads, p4_item_fn *fn, void *user, p4_error *err);

#endif
