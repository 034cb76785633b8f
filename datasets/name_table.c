/* name_table.c: string -> int hash table; see name_table.h. */
#include "datasets/name_table.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"

static uint64_t hash_name(const char *name, size_t len)
{
    uint64_t h = 1469598103934665603ull;          /* FNV-1a 64 */
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)name[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* The slot holding name, or the empty slot where it would go. */
static size_t find_slot(const p4_name_table *t, const char *name, size_t len)
{
    size_t mask = t->slots - 1;
    size_t i = (size_t)hash_name(name, len) & mask;
    while (t->names[i] != NULL &&
           !(strncmp(t->names[i], name, len) == 0 && t->names[i][len] == '\0'))
        i = (i + 1) & mask;
    return i;
}

void p4_name_table_clear(p4_name_table *t)
{
    for (size_t i = 0; i < t->slots; i++)
        free(t->names[i]);
    free(t->names);
    free(t->values);
    memset(t, 0, sizeof *t);
}

int p4_name_table_find(const p4_name_table *t, const char *name, size_t len)
{
    if (t->slots == 0)
        return -1;
    size_t i = find_slot(t, name, len);
    return t->names[i] != NULL ? t->values[i] : -1;
}

static int grow(p4_name_table *t)
{
    p4_name_table bigger = {0};
    bigger.slots = t->slots ? 2 * t->slots : 64;
    bigger.names = calloc(bigger.slots, sizeof *bigger.names);
    bigger.values = calloc(bigger.slots, sizeof *bigger.values);
    if (bigger.names == NULL || bigger.values == NULL) {
        free(bigger.names);
        free(bigger.values);
        return P4_ENOMEM;
    }
    for (size_t i = 0; i < t->slots; i++) {
        if (t->names[i] == NULL)
            continue;
        size_t j = find_slot(&bigger, t->names[i], strlen(t->names[i]));
        bigger.names[j] = t->names[i];
        bigger.values[j] = t->values[i];
    }
    bigger.used = t->used;
    free(t->names);
    free(t->values);
    *t = bigger;
    return P4_OK;
}

int p4_name_table_put(p4_name_table *t, const char *name, size_t len, int value)
{
    /* Keep the load factor at most 1/2 so probes stay short. */
    if (2 * (t->used + 1) > t->slots && grow(t) != P4_OK)
        return P4_ENOMEM;
    size_t i = find_slot(t, name, len);
    if (t->names[i] == NULL) {
        char *copy = malloc(len + 1);
        if (copy == NULL)
            return P4_ENOMEM;
        memcpy(copy, name, len);
        copy[len] = '\0';
        t->names[i] = copy;
        t->used++;
    }
    t->values[i] = value;
    return P4_OK;
}
