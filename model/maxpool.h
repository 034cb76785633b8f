/* maxpool.h: what p4's interposed max-pool layer (model/maxpool.c) offers
 * the convolution in front of it (model/conv.c).
 *
 * A conv layer's output for a batch of 250 is megabytes: by the time
 * darknet's next layer pools it, it has left the caches, and pooling ran
 * at a quarter of its in-cache speed (tests aside, 4.7 against 1.0 us per
 * CNN1 example).  So the convolution pools each example right after
 * computing it, and tells the pool layer that its forward pass is done. */
#ifndef P4_MODEL_MAXPOOL_H
#define P4_MODEL_MAXPOOL_H

/* (darknet's struct layer; include darknet.h first.) */
struct layer;

/* Pools examples [first, last) of input (the batch the pool layer reads)
 * into pool's output and indexes, exactly as forward_maxpool_layer does. */
void p4_maxpool_forward_examples(const struct layer *pool, const float *input, int first,
                                 int last);

/* Records, for this thread, that pool's whole batch has been pooled from
 * input: the next forward_maxpool_layer call for this layer and input
 * returns at once (darknet calls it next, from the same thread). */
void p4_maxpool_mark_pooled(const struct layer *pool, const float *input);

#endif
