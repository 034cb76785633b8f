/* audit_canaries.h: the canaries of the one-run privacy audit (`p4 audit`).
 *
 * A canary set is one client's training data for the audit: the client's
 * own split, then m canaries of which each is included independently with
 * probability 1/2 (the secret the audit tries to guess).  All m canaries
 * live in one dataset (rows [real, real + m)); the training indices list
 * the real rows and the included canaries only, so the excluded canaries
 * never reach the training code.
 *
 * Canaries are made to be easy to remember for a linear proxy:
 *   sparse       `pixels` pixels at full intensity, drawn uniformly, on
 *                black, with a label drawn uniformly: two canaries rarely
 *                share a pixel, so a linear model can fit each one with
 *                little effect on the others (measured on Fashion-MNIST
 *                with the logistic-regression proxy: the no-DP audit
 *                certifies eps >= 4.5 with 16 pixels, 3.0 with 2; drawing
 *                the pixels from the darkest ones of the real data instead
 *                was weaker);
 *   mislabelled  a source example no client holds, with a wrong label
 *                drawn uniformly (the classic poisoning canary).
 * A canary's score is the released proxy's logit margin on it: log p_y
 * minus the largest other log p_k; memorised canaries score high. */
#ifndef P4_NODE_AUDIT_CANARIES_H
#define P4_NODE_AUDIT_CANARIES_H

#include "common/error.h"
#include "common/rng.h"
#include "datasets/dataset.h"
#include "model/model.h"

typedef enum { P4_CANARY_SPARSE, P4_CANARY_MISLABELLED } p4_canary_kind;

typedef struct p4_canary_design {
    p4_canary_kind kind;
    int pixels;   /* sparse: lit pixels per canary (>= 1) */
} p4_canary_design;

typedef struct p4_canary_set {
    p4_dataset *data;          /* the real examples, then the m canaries  */
    int real, canaries;
    unsigned char *included;   /* per canary: 1 = in the training set     */
    int *train_idx;            /* real rows, then the included canaries   */
    int train_count;
} p4_canary_set;

/* Builds the set from source rows split[0..n) and m canaries.  `taken`
 * (source->count flags, may be NULL) marks source rows some client holds:
 * mislabelled canaries come from the others.  Every random choice (pixels,
 * labels, inclusion) comes from rng. */
int p4_canary_set_new(p4_canary_set **out, const p4_dataset *source, const int *split, int n,
                      const unsigned char *taken, int m, const p4_canary_design *design,
                      p4_rng *rng, p4_error *err);
void p4_canary_set_destroy(p4_canary_set **set);

/* scores[j] = the model's logit margin on canary j (m scores). */
int p4_canary_scores(const p4_canary_set *set, p4_model *model, double *scores, p4_error *err);

#endif
