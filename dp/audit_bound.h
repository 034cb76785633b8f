/* audit_bound.h: the statistics of the one-run privacy audit of Steinke,
 * Nasr and Jagielski (2023, "Privacy Auditing with One (1) Training Run",
 * arXiv 2305.08846).
 *
 * The audit includes each of m canaries independently with probability 1/2,
 * trains once, and then guesses "in" or "out" for r of them (abstaining on
 * the rest).  If the training is (epsilon, delta)-DP, the number of correct
 * guesses W satisfies (their main result, for add/remove adjacency)
 *
 *   P[W >= v] <= P[Bin(r, q) >= v] + 2 m delta max_{1<=i<=v} P[v > Bin(r, q) >= v - i] / i
 *
 * with q = e^eps / (1 + e^eps), the accuracy of eps-DP randomised response.
 * That right-hand side is the p-value of v correct guesses under the null
 * hypothesis "the training is (eps, delta)-DP"; the audited lower bound at
 * confidence 1 - beta is the largest eps whose p-value is still below beta
 * (the paper's binary search).  If the claim holds, the bound exceeds the
 * true eps with probability at most beta. */
#ifndef P4_DP_AUDIT_BOUND_H
#define P4_DP_AUDIT_BOUND_H

#include "common/error.h"

/* The p-value above for m canaries, r guesses, v correct, under the null
 * (epsilon >= 0, possibly INFINITY; delta in [0, 1]); 0 <= v <= r <= m. */
int p4_audit_p_value(int m, int r, int v, double epsilon, double delta, double *p_value,
                     p4_error *err);

/* The largest epsilon (to within 1e-6) whose p-value is below beta, beta in
 * (0, 1) (0.05 for 95% confidence); 0 when even epsilon = 0 is not
 * rejected. */
int p4_audit_epsilon_bound(int m, int r, int v, double delta, double beta, double *epsilon,
                           p4_error *err);

/* The guesses: the k_in highest scores are guessed "in", the k_out lowest
 * "out" (k_in + k_out <= m).  Counts the correct ones against
 * included[0..m) (1 = the canary was in the training set).  Ties are
 * broken by index, which the scores' owner cannot steer. */
int p4_audit_count_correct(const double *scores, const unsigned char *included, int m, int k_in,
                           int k_out, int *correct, p4_error *err);

#endif
