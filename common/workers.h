/* workers.h: spreading a batch's examples (or a product's rows) over
 * p4's compute threads.
 *
 * darknet works one example at a time with products too small for a
 * multi-threaded BLAS, and OpenBLAS's idle threads spin: on a 2-core board
 * a spinning BLAS thread took a core from the work (CNN1 at 2 threads ran
 * 18k examples/s with BLAS threads, 24-27k with this).  So p4 keeps
 * OpenBLAS on one thread and parallelises itself: the convolution and
 * maxpool layers (model/conv.c, model/maxpool.c), p4's per-example DP pass
 * (dp/per_example.c), darknet's larger products (model/gemm.c) and the
 * noise sampler (common/ziggurat.c) split their work into contiguous
 * shares, one per thread, the caller taking the first.
 *
 * The thread count is process-wide, as OpenBLAS's was, because darknet's
 * layer calls carry no context: p4_workers_set_threads() sets it (the
 * simulation sets 1 and runs clients in parallel instead); until then it is
 * the machine's core count.  A call made from inside a share runs inline,
 * so nesting never multiplies threads. */
#ifndef P4_COMMON_WORKERS_H
#define P4_COMMON_WORKERS_H

#include <stddef.h>

/* Processes items [first, last) as worker number `worker` (0 = caller). */
typedef void p4_example_fn(void *ctx, int first, int last, int worker);

/* Most threads a split ever uses (and the size of per-worker arrays). */
#define P4_MAX_WORKERS 8

/* Sets p4's compute threads (clamped to [1, P4_MAX_WORKERS]) and puts
 * OpenBLAS on one thread. */
void p4_workers_set_threads(int threads);

/* How many workers `items` items get: the thread count, at most items; 1
 * inside a share (run inline). */
int p4_workers_for(int items);

/* Runs fn over [0, items) split into `workers` contiguous shares; the
 * caller runs share 0.  workers <= 1 runs fn(ctx, 0, items, 0) inline.
 * Safe to call from several threads at once. */
void p4_for_examples(int items, int workers, p4_example_fn *fn, void *ctx);

/* dst[0..n) = src[0..n) (src NULL: zeros), split into blocks over the
 * threads when n is large (a batch's inputs or deltas are megabytes; one
 * core's memcpy left the other idle).  dst and src must not overlap. */
void p4_parallel_copy(float *dst, const float *src, size_t n);

#endif
