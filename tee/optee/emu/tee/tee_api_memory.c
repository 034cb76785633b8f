/* tee_api_memory.c: TEE_Malloc and friends, bounded like a TA's heap.
 * OP-TEE gives a TA a heap of TA_DATA_SIZE bytes; the harness counts the
 * bytes a TA holds and refuses (NULL) an allocation past the bound. */
#include "tee_internal_api.h"
#include "tee/optee/emu/tee/ta_runtime.h"

#include <stdlib.h>
#include <string.h>

/* The OS side's state: see ta_runtime.h for why it is per process. */
static size_t heap_limit = 10u << 20;
static size_t heap_used;

/* Each block carries its size in front, aligned for any type. */
typedef union {
    size_t size;
    max_align_t align;
} block_header;

void p4_ta_runtime_set_heap_limit(size_t bytes) { heap_limit = bytes; }
size_t p4_ta_runtime_heap_used(void) { return heap_used; }

void *TEE_Malloc(size_t size, uint32_t hint)
{
    if (size > heap_limit - heap_used)
        return NULL;
    block_header *h = malloc(sizeof *h + size);
    if (!h)
        return NULL;
    h->size = size;
    heap_used += size;
    if (hint != TEE_MALLOC_NO_FILL)
        memset(h + 1, 0, size);
    return h + 1;
}

void TEE_Free(void *buffer)
{
    if (!buffer)
        return;
    block_header *h = (block_header *)buffer - 1;
    heap_used -= h->size;
    free(h);
}

void TEE_MemMove(void *dest, const void *src, size_t size)
{
    if (size) /* GP allows NULL with size 0; memmove does not */
        memmove(dest, src, size);
}

void TEE_MemFill(void *buffer, uint32_t x, size_t size)
{
    if (size)
        memset(buffer, (int)(x & 0xFF), size);
}

int32_t TEE_MemCompare(const void *buffer1, const void *buffer2, size_t size)
{
    int c = size ? memcmp(buffer1, buffer2, size) : 0;
    return c < 0 ? -1 : c > 0 ? 1 : 0;
}
