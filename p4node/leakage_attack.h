/* leakage_attack.h: threshold membership-inference attacks and an honest
 * estimate of their advantage.
 *
 * An attack gives every example a score; it guesses "member" when
 * sign * score >= t.  Its advantage is TPR - FPR (Yeom et al. 2018): 0 for
 * a guess that ignores the model, 1 for a perfect one.  The threshold t and
 * the direction sign are fitted on one half of the examples and the
 * advantage is measured on the other half; then the halves swap and the two
 * figures are averaged.  Fitting and measuring on the same examples would
 * report the best of many thresholds, which is positive even at chance. */
#ifndef P4_NODE_LEAKAGE_ATTACK_H
#define P4_NODE_LEAKAGE_ATTACK_H

#include "common/error.h"
#include "common/rng.h"

typedef struct p4_mia_threshold {
    double threshold;
    int sign;                  /* +1: high scores are members; -1: low ones */
    double advantage;          /* TPR - FPR where it was fitted             */
} p4_mia_threshold;

/* The (threshold, sign) with the largest TPR - FPR on examples idx[0..n)
 * (ties: the first found, +1 before -1).  Needs a member and a non-member
 * among them (P4_EINVAL otherwise). */
int p4_mia_fit(const double *score, const unsigned char *member, const int *idx, int n,
               p4_mia_threshold *out, p4_error *err);

/* TPR - FPR of a fitted threshold on examples idx[0..n). */
int p4_mia_measure(const double *score, const unsigned char *member, const int *idx, int n,
                   const p4_mia_threshold *fit, double *advantage, p4_error *err);

/* Splits examples 0..n-1 into two halves, each with half of the members
 * and half of the non-members (drawn by rng): half[i] is 0 or 1. */
int p4_mia_halves(const unsigned char *member, int n, p4_rng *rng, unsigned char *half,
                  p4_error *err);

typedef struct p4_mia_result {
    double advantage;          /* the mean of the two held-out figures      */
    double held_out[2];        /* fitted on half 1 - h, measured on half h  */
    double in_sample;          /* the best threshold on all examples (an
                                  optimistic figure, for comparison only)   */
} p4_mia_result;

/* Two-fold: fit on one half, measure on the other, both ways. */
int p4_mia_advantage(const double *score, const unsigned char *member, int n,
                     const unsigned char *half, p4_mia_result *out, p4_error *err);

/* Mean and half-width of its two-sided 95% Student-t interval over n
 * values (half-width NAN for n < 2). */
void p4_mia_mean_ci(const double *values, int n, double *mean, double *half_width);

#endif
