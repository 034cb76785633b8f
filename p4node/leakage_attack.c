/* leakage_attack.c: threshold attacks and their held-out advantage; see
 * leakage_attack.h. */
#include "p4node/leakage_attack.h"

#include <math.h>
#include <stdlib.h>

typedef struct {
    double v;                  /* sign * score */
    int member;
} scored;

static int by_value_descending(const void *a, const void *b)
{
    double x = ((const scored *)a)->v, y = ((const scored *)b)->v;
    return x < y ? 1 : x > y ? -1 : 0;
}

static int check_scores(const double *score, const unsigned char *member, const int *idx, int n,
                        p4_error *err)
{
    if (!score || !member || !idx || n < 2)
        return p4_error_set(err, P4_EINVAL, "membership attack: bad arguments (need at least "
                            "two examples)");
    for (int i = 0; i < n; i++)
        if (!isfinite(score[idx[i]]))
            return p4_error_set(err, P4_EINVAL, "membership attack: example %d has a score of "
                                "%g", idx[i], score[idx[i]]);
    return P4_OK;
}

/* Best threshold in one direction: sweeps the distinct values downwards,
 * guessing "member" for everything at or above the current one. */
static int fit_direction(const double *score, const unsigned char *member, const int *idx, int n,
                         int sign, p4_mia_threshold *best, p4_error *err)
{
    scored *s = malloc((size_t)n * sizeof *s);
    if (!s)
        return p4_error_set(err, P4_ENOMEM, "membership attack: out of memory");
    int pos = 0;
    for (int i = 0; i < n; i++) {
        s[i] = (scored){ sign * score[idx[i]], member[idx[i]] != 0 };
        pos += s[i].member;
    }
    int neg = n - pos;
    if (pos == 0 || neg == 0) {
        free(s);
        return p4_error_set(err, P4_EINVAL, "membership attack: the examples need members and "
                            "non-members (%d and %d)", pos, neg);
    }
    qsort(s, (size_t)n, sizeof *s, by_value_descending);
    int tp = 0, fp = 0;
    for (int i = 0; i < n; i++) {
        tp += s[i].member;
        fp += !s[i].member;
        if (i + 1 < n && s[i + 1].v == s[i].v)
            continue;          /* a threshold cannot split equal scores */
        double adv = (double)tp / pos - (double)fp / neg;
        if (adv > best->advantage) {
            best->advantage = adv;
            best->sign = sign;
            best->threshold = i + 1 < n ? 0.5 * (s[i].v + s[i + 1].v) : -INFINITY;
        }
    }
    free(s);
    return P4_OK;
}

int p4_mia_fit(const double *score, const unsigned char *member, const int *idx, int n,
               p4_mia_threshold *out, p4_error *err)
{
    if (!out)
        return p4_error_set(err, P4_EINVAL, "membership attack: bad arguments");
    int rc = check_scores(score, member, idx, n, err);
    /* Guessing nobody is a member: advantage 0, the floor. */
    *out = (p4_mia_threshold){ INFINITY, 1, 0.0 };
    if (rc == P4_OK)
        rc = fit_direction(score, member, idx, n, +1, out, err);
    if (rc == P4_OK)
        rc = fit_direction(score, member, idx, n, -1, out, err);
    return rc;
}

int p4_mia_measure(const double *score, const unsigned char *member, const int *idx, int n,
                   const p4_mia_threshold *fit, double *advantage, p4_error *err)
{
    if (!fit || !advantage || (fit->sign != 1 && fit->sign != -1))
        return p4_error_set(err, P4_EINVAL, "membership attack: bad arguments");
    int rc = check_scores(score, member, idx, n, err);
    if (rc != P4_OK)
        return rc;
    int pos = 0, neg = 0, tp = 0, fp = 0;
    for (int i = 0; i < n; i++) {
        int in = member[idx[i]] != 0, guess = fit->sign * score[idx[i]] >= fit->threshold;
        pos += in;
        neg += !in;
        tp += in && guess;
        fp += !in && guess;
    }
    if (pos == 0 || neg == 0)
        return p4_error_set(err, P4_EINVAL, "membership attack: the examples need members and "
                            "non-members (%d and %d)", pos, neg);
    *advantage = (double)tp / pos - (double)fp / neg;
    return P4_OK;
}

int p4_mia_halves(const unsigned char *member, int n, p4_rng *rng, unsigned char *half,
                  p4_error *err)
{
    if (!member || !rng || !half || n < 4)
        return p4_error_set(err, P4_EINVAL, "membership attack: need at least 4 examples to "
                            "split in halves");
    int *order = malloc((size_t)n * sizeof *order);
    if (!order)
        return p4_error_set(err, P4_ENOMEM, "membership attack: out of memory");
    for (int i = 0; i < n; i++)
        order[i] = i;
    p4_rng_shuffle_int(rng, order, (size_t)n);
    /* Alternate within each class of example, so both halves are balanced. */
    int next[2] = { 0, 0 };
    for (int i = 0; i < n; i++) {
        int in = member[order[i]] != 0;
        half[order[i]] = (unsigned char)(next[in]++ & 1);
    }
    free(order);
    return P4_OK;
}

int p4_mia_advantage(const double *score, const unsigned char *member, int n,
                     const unsigned char *half, p4_mia_result *out, p4_error *err)
{
    if (!score || !member || !half || !out || n < 4)
        return p4_error_set(err, P4_EINVAL, "membership attack: bad arguments");
    int *all = malloc((size_t)n * sizeof *all), *part[2], count[2] = { 0, 0 };
    part[0] = malloc((size_t)n * sizeof *part[0]);
    part[1] = malloc((size_t)n * sizeof *part[1]);
    int rc = all && part[0] && part[1] ? P4_OK
                                       : p4_error_set(err, P4_ENOMEM, "membership attack: out of memory");
    for (int i = 0; rc == P4_OK && i < n; i++) {
        all[i] = i;
        int h = half[i] != 0;
        part[h][count[h]++] = i;
    }
    p4_mia_threshold fit;
    for (int h = 0; rc == P4_OK && h < 2; h++) {
        rc = p4_mia_fit(score, member, part[1 - h], count[1 - h], &fit, err);
        if (rc == P4_OK)
            rc = p4_mia_measure(score, member, part[h], count[h], &fit, &out->held_out[h], err);
    }
    if (rc == P4_OK && (rc = p4_mia_fit(score, member, all, n, &fit, err)) == P4_OK) {
        out->in_sample = fit.advantage;
        out->advantage = 0.5 * (out->held_out[0] + out->held_out[1]);
    }
    free(all);
    free(part[0]);
    free(part[1]);
    return rc;
}

/* Two-sided 97.5% quantiles of Student's t for 1..30 degrees of freedom. */
static const double t975[] = { 12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262,
                               2.228, 2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101,
                               2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052,
                               2.048, 2.045, 2.042 };

void p4_mia_mean_ci(const double *values, int n, double *mean, double *half_width)
{
    double m = NAN, hw = NAN;
    if (values && n >= 1) {
        double sum = 0;
        for (int i = 0; i < n; i++)
            sum += values[i];
        m = sum / n;
        if (n >= 2) {
            double ss = 0;
            for (int i = 0; i < n; i++)
                ss += (values[i] - m) * (values[i] - m);
            double t = n - 1 <= 30 ? t975[n - 2] : 1.96;
            hw = t * sqrt(ss / (n - 1)) / sqrt(n);
        }
    }
    if (mean)
        *mean = m;
    if (half_width)
        *half_width = hw;
}
