/* step_phases.c: names of the step phases; see step_phases.h. */
#include "model/step_phases.h"
#include "common/progress.h"
#include <stddef.h>

double p4_phase_start(const p4_step_phases *phases)
{
    return phases != NULL ? p4_now_seconds() : 0.0;
}

double p4_phase_end(p4_step_phases *phases, p4_phase phase, double since)
{
    if (phases == NULL || phase < 0 || phase >= P4_PHASES)
        return 0.0;
    double now = p4_now_seconds();
    phases->seconds[phase] += now - since;
    return now;
}

const char *p4_phase_name(p4_phase phase)
{
    static const char *const names[P4_PHASES] = { "forward", "backward", "norms",
                                                  "clipped_sum", "noise", "update" };
    return phase >= 0 && phase < P4_PHASES ? names[phase] : NULL;
}
