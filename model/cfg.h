/* cfg.h: checking a darknet .cfg before darknet sees it.
 *
 * darknet's own parser calls exit() on many mistakes and trusts the rest
 * (a negative size can crash it).  p4 reads the file first with its own
 * parser of the same format, accepts only the layer types and keys p4's
 * training and DP code support, propagates shapes through the layers, and
 * on any problem returns P4_EMODEL with "file:line: what is wrong".
 * Only then does it hand darknet a normalised copy of the text with the
 * batch size and input shape p4 chose.
 *
 * Supported sections and keys:
 *   [net]            height width channels (must match the dataset), and
 *                    batch subdivisions learning_rate momentum decay
 *                    max_batches policy (accepted; p4's config overrides them)
 *   [connected]      output (a number, or `classes` = the dataset's class
 *                    count), activation
 *   [convolutional]  filters size stride pad activation
 *   [maxpool]        size stride
 *   [softmax]        groups (must be 1)
 * activation is one of relu, linear, leaky, logistic, tanh.  The model must
 * end with a [connected] layer with activation=linear (the logits) followed
 * by [softmax], because p4 computes its losses on those logits. */
#ifndef P4_MODEL_CFG_H
#define P4_MODEL_CFG_H

#include "common/error.h"

#define P4_CFG_MAX_LAYERS 64

typedef enum {
    P4_LAYER_CONNECTED,
    P4_LAYER_CONVOLUTIONAL,
    P4_LAYER_MAXPOOL,
    P4_LAYER_SOFTMAX
} p4_layer_kind;

typedef struct p4_cfg_layer {
    p4_layer_kind kind;
    int line;                    /* line of the section header */
    int in_w, in_h, in_c;        /* input shape */
    int out_w, out_h, out_c;     /* output shape */
    int params;                  /* trainable floats (weights + biases) */
} p4_cfg_layer;

typedef struct p4_cfg_shape {
    int width, height, channels; /* what the dataset provides */
    int classes;
} p4_cfg_shape;

typedef struct p4_cfg_summary {
    int layers;
    p4_cfg_layer layer[P4_CFG_MAX_LAYERS];
    long long params;            /* total trainable floats */
} p4_cfg_summary;

/* Checks the cfg file at path against shape and, on success, returns in
 * *text_out (malloc'd; caller frees) darknet-ready text with [net]
 * batch=`batch`, subdivisions=1 and `classes` substituted.  summary may be
 * NULL. */
int p4_cfg_prepare(const char *path, const p4_cfg_shape *shape, int batch,
                   char **text_out, p4_cfg_summary *summary, p4_error *err);

/* The same check on text already in memory; `name` is used in messages. */
int p4_cfg_prepare_text(const char *name, const char *text,
                        const p4_cfg_shape *shape, int batch, char **text_out,
                        p4_cfg_summary *summary, p4_error *err);

#endif
