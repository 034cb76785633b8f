/* name_table.h: a small string -> int hash table (open addressing), used to
 * number FEMNIST writers by name and to match test writers to train's. */
#ifndef P4_DATASETS_NAME_TABLE_H
#define P4_DATASETS_NAME_TABLE_H

#include <stddef.h>

typedef struct p4_name_table {
    char **names;      /* slots entries, NULL = empty; owned copies */
    int *values;
    size_t slots;      /* a power of two, or 0 before the first insert */
    size_t used;
} p4_name_table;

/* An empty table needs no allocation: p4_name_table t = {0}. */
void p4_name_table_clear(p4_name_table *t);
/* The value stored for name[0..len), or -1. */
int p4_name_table_find(const p4_name_table *t, const char *name, size_t len);
/* Stores a copy of name[0..len) (which must not contain NUL) with value;
 * replaces the value if present.  P4_OK or P4_ENOMEM. */
int p4_name_table_put(p4_name_table *t, const char *name, size_t len, int value);

#endif
