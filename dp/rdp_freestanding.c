/* rdp_freestanding.c: see rdp_freestanding.h. */
#include "dp/rdp_freestanding.h"
#include "common/fs_math.h"

static const p4_rdp_math freestanding_math = {
    p4_fs_exp, p4_fs_log, p4_fs_log1p, p4_fs_erfc, p4_fs_lgamma_int
};

const p4_rdp_math *p4_rdp_math_freestanding(void)
{
    return &freestanding_math;
}
