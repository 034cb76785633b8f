/* query_input.h: the inputs `p4 query --input FILE` sends, from one of two
 * formats (docs/serve.md):
 *   IDX images  an uncompressed IDX file of unsigned bytes (magic 0x00000803:
 *               count, rows, columns, big-endian; then the pixels), as
 *               MNIST and Fashion-MNIST ship: each image is one input, its
 *               pixels scaled to [0, 1] as the training data was;
 *   text rows   one input per line, its floats (the model's inputs, already
 *               scaled) separated by spaces, tabs or commas; blank lines and
 *               lines starting with '#' are skipped.  Every row must hold
 *               the same number of values, each finite.
 * The file's first bytes decide: IDX's magic, else text. */
#ifndef P4_NODE_QUERY_INPUT_H
#define P4_NODE_QUERY_INPUT_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

#define P4_QUERY_INPUT_MAX_BYTES (256u * 1024u * 1024u)
#define P4_QUERY_INPUT_MAX_ROWS (1u << 20)
#define P4_QUERY_INPUT_MAX_COLS 65536

/* Parses bytes (name is used in messages) into *values (malloc'd, rows x
 * cols floats).  P4_EFORMAT naming the line or byte offset on bad input. */
int p4_query_input_parse(const char *name, const uint8_t *bytes, size_t len, float **values,
                         size_t *rows, size_t *cols, p4_error *err);

/* The same from a file. */
int p4_query_input_load(const char *path, float **values, size_t *rows, size_t *cols,
                        p4_error *err);

#endif
