/* tee_client_emu.h: the harness's one addition to the Client API.
 *
 * On a board, where a TA lives (/lib/optee_armtz), its secure storage
 * (tee-supplicant) and its heap (TA_DATA_SIZE) are fixed by OP-TEE.  The
 * harness has to be told: call this after TEEC_InitializeContext and before
 * TEEC_OpenSession.  Code that must also build against libteec guards the
 * call with P4_TEEC_EMU, which the harness's build defines. */
#ifndef TEE_CLIENT_EMU_H
#define TEE_CLIENT_EMU_H

#include "tee_client_api.h"

/* ta_dir: holds <uuid>.ta executables (NULL: the build's own directory);
 * storage_dir: the TAs' secure storage, one subdirectory per TA UUID;
 * ta_memory_mib: TEE_Malloc's bound for each TA instance (> 0).
 * Returns TEEC_ERROR_BAD_PARAMETERS if a path is too long or a bound is 0. */
TEEC_Result p4_teec_emu_configure(TEEC_Context *context, const char *ta_dir,
                                  const char *storage_dir, uint32_t ta_memory_mib);

/* The parameter bytes that crossed to (in) and from (out) the TAs of this
 * context since it was initialised: values (8 bytes each) and the memory
 * references' contents, as copied (a world switch's traffic). */
void p4_teec_emu_traffic(const TEEC_Context *context, uint64_t *bytes_in, uint64_t *bytes_out);

#endif
