/* conv.h: spreading the examples of a batch over the BLAS threads.
 *
 * darknet's convolutional layers (model/conv.c, interposed) and p4's
 * per-example DP backward (dp/per_example.c) both work one example at a
 * time with products too small for a multi-threaded BLAS; with BLAS set to
 * T > 1 threads (p4_gemm_set_threads) they run T workers over contiguous
 * shares of the examples instead, BLAS on one thread meanwhile. */
#ifndef P4_MODEL_CONV_H
#define P4_MODEL_CONV_H

/* Processes examples [first, last) as worker number `worker`. */
typedef void p4_example_fn(void *ctx, int first, int last, int worker);

/* How many workers a batch of `batch` examples gets: the BLAS thread count,
 * at most 8 and at most batch; 1 means "run inline". */
int p4_conv_workers(int batch);

/* Runs fn over [0, batch) split among `workers` threads (the caller is
 * worker 0).  Must not be called from several threads at once with
 * workers > 1 (it sets the BLAS thread count for its duration). */
void p4_for_examples(int batch, int workers, p4_example_fn *fn, void *ctx);

/* One example's input delta of a convolutional layer: W^T delta into the
 * column buffer col (k*k*c x out_h*out_w floats), then col2im added into
 * dx.  (darknet's struct layer; include darknet.h first.) */
struct layer;
void p4_conv_input_delta(const struct layer *l, const float *delta, float *col, float *dx);

#endif
