/* audit_bound.c: the one-run audit's p-value and epsilon bound; see
 * audit_bound.h.  The binomial probabilities are computed in log space
 * (lgamma), so tails far below 1e-300 of the pmf's peak simply vanish
 * instead of overflowing. */
#include "dp/audit_bound.h"

#include <math.h>
#include <stdlib.h>

/* log P[Bin(r, q) = k] given log q and log(1 - q). */
static double log_pmf(int r, int k, double log_q, double log_1mq)
{
    double log_choose = lgamma((double)r + 1) - lgamma((double)k + 1) - lgamma((double)(r - k) + 1);
    /* 0 * log 0 is 0: the q = 1 (epsilon = inf) corner. */
    double hits = k ? (double)k * log_q : 0.0, misses = r - k ? (double)(r - k) * log_1mq : 0.0;
    return log_choose + hits + misses;
}

static int check_counts(int m, int r, int v, p4_error *err)
{
    if (m < 1 || r < 0 || v < 0 || v > r || r > m)
        return p4_error_set(err, P4_EINVAL, "audit bound: need 0 <= correct (%d) <= guesses (%d) "
                            "<= canaries (%d), canaries >= 1", v, r, m);
    return P4_OK;
}

int p4_audit_p_value(int m, int r, int v, double epsilon, double delta, double *p_value,
                     p4_error *err)
{
    int rc = check_counts(m, r, v, err);
    if (rc != P4_OK)
        return rc;
    if (!p_value || !(epsilon >= 0) || !(delta >= 0 && delta <= 1))
        return p4_error_set(err, P4_EINVAL, "audit p-value: epsilon (%g) must be >= 0 and delta "
                            "(%g) in [0, 1]", epsilon, delta);
    /* q = e^eps / (1 + e^eps), in logs that stay finite for large eps. */
    double log_q = -log1p(exp(-epsilon));
    double log_1mq = isinf(epsilon) ? -INFINITY : -epsilon - log1p(exp(-epsilon));
    double tail = 0; /* P[Bin(r, q) >= v] */
    for (int k = v; k <= r; k++)
        tail += exp(log_pmf(r, k, log_q, log_1mq));
    /* The delta term: the largest mean mass per step of the windows
     * [v - i, v) just below v. */
    double window = 0, alpha = 0;
    for (int i = 1; i <= v; i++) {
        window += exp(log_pmf(r, v - i, log_q, log_1mq));
        if (window / i > alpha)
            alpha = window / i;
    }
    double p = tail + 2.0 * m * delta * alpha;
    *p_value = p < 1 ? p : 1;
    return P4_OK;
}

int p4_audit_epsilon_bound(int m, int r, int v, double delta, double beta, double *epsilon,
                           p4_error *err)
{
    int rc = check_counts(m, r, v, err);
    if (rc != P4_OK)
        return rc;
    if (!epsilon || !(beta > 0 && beta < 1) || !(delta >= 0 && delta <= 1))
        return p4_error_set(err, P4_EINVAL, "audit bound: 1 - confidence (%g) must be in (0, 1) "
                            "and delta (%g) in [0, 1]", beta, delta);
    /* Keep p(lo) < beta <= p(hi); p grows with epsilon (the null allows
     * more correct guesses). */
    double lo = 0, hi = 1, p;
    if ((rc = p4_audit_p_value(m, r, v, 0.0, delta, &p, err)) != P4_OK)
        return rc;
    if (p >= beta) {
        *epsilon = 0;
        return P4_OK;
    }
    for (;;) {
        if ((rc = p4_audit_p_value(m, r, v, hi, delta, &p, err)) != P4_OK)
            return rc;
        if (p >= beta)
            break;
        lo = hi;
        hi *= 2;
        if (hi > 1e6) /* unreachable for finite counts: P[Bin >= v] -> 1 */
            return p4_error_set(err, P4_EINVAL, "audit bound: no epsilon up to 1e6 explains "
                                "%d correct of %d guesses", v, r);
    }
    while (hi - lo > 1e-7) {
        double mid = 0.5 * (lo + hi);
        if ((rc = p4_audit_p_value(m, r, v, mid, delta, &p, err)) != P4_OK)
            return rc;
        if (p < beta)
            lo = mid;
        else
            hi = mid;
    }
    *epsilon = lo;
    return P4_OK;
}

typedef struct {
    double score;
    int index;
} ranked;

/* Descending score, then ascending index. */
static int by_score_descending(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return (x->index > y->index) - (x->index < y->index);
}

int p4_audit_count_correct(const double *scores, const unsigned char *included, int m, int k_in,
                           int k_out, int *correct, p4_error *err)
{
    if (!scores || !included || !correct || m < 1 || k_in < 0 || k_out < 0 || k_in + k_out > m)
        return p4_error_set(err, P4_EINVAL, "audit guesses: need k_in (%d) + k_out (%d) <= "
                            "canaries (%d)", k_in, k_out, m);
    ranked *order = malloc((size_t)m * sizeof *order);
    if (!order)
        return p4_error_set(err, P4_ENOMEM, "audit guesses: out of memory for %d scores", m);
    for (int j = 0; j < m; j++) {
        if (isnan(scores[j])) {
            free(order);
            return p4_error_set(err, P4_EINVAL, "audit guesses: canary %d has no score (NaN)", j);
        }
        order[j] = (ranked){ scores[j], j };
    }
    qsort(order, (size_t)m, sizeof *order, by_score_descending);
    int hits = 0;
    for (int j = 0; j < k_in; j++)
        hits += included[order[j].index] != 0;
    for (int j = m - k_out; j < m; j++)
        hits += included[order[j].index] == 0;
    free(order);
    *correct = hits;
    return P4_OK;
}
