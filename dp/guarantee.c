/* guarantee.c: the one-word DP guarantee of a run; see guarantee.h. */
#include "dp/guarantee.h"

#include <stddef.h>

p4_dp_guarantee p4_dp_guarantee_of(const p4_dp_run_facts *f)
{
    if (f == NULL || !f->dp || f->reproducible || !f->ledger)
        return P4_DP_NONE;
    return f->private_teacher ? P4_DP_CONDITIONAL : P4_DP_HOLDS;
}

const char *p4_dp_guarantee_name(p4_dp_guarantee g)
{
    switch (g) {
    case P4_DP_HOLDS:       return "holds";
    case P4_DP_CONDITIONAL: return "conditional";
    default:                return "none";
    }
}

const char *p4_dp_guarantee_reason(const p4_dp_run_facts *f)
{
    if (f == NULL || !f->dp)
        return "no DP: nothing bounds what the released model reveals";
    if (f->reproducible)
        return "--reproducible: noise and batches come from the public seed";
    if (!f->ledger)
        return "no ledger records the releases";
    if (f->private_teacher)
        return "the proxy distils from the non-private model (strict_dp = false): "
               "the bound assumes a fixed teacher";
    return "OS-keyed noise, labels-only proxy, every release in the ledger first";
}
