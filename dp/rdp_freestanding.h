/* rdp_freestanding.h: dp/rdp_core.c's math table filled with p4's own
 * freestanding functions (common/fs_math.h), for code without libm: the
 * OP-TEE TA's ledger.  tests/test_fs_math.c holds it to the libm table. */
#ifndef P4_DP_RDP_FREESTANDING_H
#define P4_DP_RDP_FREESTANDING_H

#include "dp/rdp_core.h"

const p4_rdp_math *p4_rdp_math_freestanding(void);

#endif
