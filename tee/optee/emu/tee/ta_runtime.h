/* ta_runtime.h: the harness's "TEE OS" inside one TA process.
 *
 * The GP Internal Core API passes no context (TEE_Malloc has none), so the
 * OS side keeps its state per process, set once by ta_process.c's main()
 * before any entry point runs: the TA's heap bound and its storage
 * directory.  Nothing here is visible to the TA's own sources. */
#ifndef P4_OPTEE_EMU_TA_RUNTIME_H
#define P4_OPTEE_EMU_TA_RUNTIME_H

#include <stddef.h>

/* TEE_Malloc's bound in bytes (the TA's TA_DATA_SIZE). */
void p4_ta_runtime_set_heap_limit(size_t bytes);
/* Bytes the TA holds from TEE_Malloc now. */
size_t p4_ta_runtime_heap_used(void);
/* The TA's private storage directory (must exist). */
void p4_ta_runtime_set_storage_dir(const char *dir);
const char *p4_ta_runtime_storage_dir(void);

#endif
