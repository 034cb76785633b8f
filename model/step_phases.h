/* step_phases.h: where the time of one training step goes (issue 16's
 * profile).  A caller that wants the breakdown hands the step a
 * p4_step_phases; the step adds each phase's wall time to it.  Without one
 * (NULL, the default) the step reads no clock. */
#ifndef P4_MODEL_STEP_PHASES_H
#define P4_MODEL_STEP_PHASES_H

typedef enum {
    P4_PHASE_FORWARD,     /* load the inputs, forward pass, loss and its delta   */
    P4_PHASE_BACKWARD,    /* deltas down the network (plain: also weight grads)  */
    P4_PHASE_NORMS,       /* DP: per-example gradients (conv) and their norms    */
    P4_PHASE_CLIPPED_SUM, /* DP: clip factors and the clipped gradient sum       */
    P4_PHASE_NOISE,       /* DP: Gaussian noise on every coordinate              */
    P4_PHASE_UPDATE,      /* zero the gradients, SGD step                        */
    P4_PHASES
} p4_phase;

typedef struct p4_step_phases {
    double seconds[P4_PHASES];
} p4_step_phases;

/* The clock a phase starts from: now if phases is not NULL, else 0 (no
 * clock read). */
double p4_phase_start(const p4_step_phases *phases);
/* Adds the time since `since` to `phase` and returns now, the next phase's
 * start; does nothing and returns 0 when phases is NULL. */
double p4_phase_end(p4_step_phases *phases, p4_phase phase, double since);

/* "forward", "backward", "norms", "clipped_sum", "noise", "update"; NULL
 * for an unknown phase. */
const char *p4_phase_name(p4_phase phase);

#endif
