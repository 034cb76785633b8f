/* pca.c: block subspace iteration.  A block of b = k + OVERSAMPLE
 * orthonormal rows is multiplied by A and re-orthonormalised (modified
 * Gram-Schmidt, twice) until the top k Ritz pairs' residuals
 * ||A v - lambda v|| fall below TOLERANCE * lambda_1; every CHECK_EVERY
 * steps the block is rotated onto its Ritz vectors (Rayleigh-Ritz, with a
 * cyclic Jacobi eigensolver on the small b x b matrix). */
#include "model/pca.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"

enum { OVERSAMPLE = 10, CHECK_EVERY = 5, MAX_STEPS = 2000, JACOBI_SWEEPS = 100 };
static const double TOLERANCE = 1e-4;

/* Orthonormalises the b rows of q (b x m) in place; a row that falls into
 * the span of the ones before it is redrawn from rng. */
static void orthonormalise(float *q, int b, int m, p4_rng *rng)
{
    for (int i = 0; i < b; i++) {
        float *r = q + (size_t)i * m;
        for (int attempt = 0; attempt < 8; attempt++) {
            for (int pass = 0; pass < 2; pass++)
                for (int j = 0; j < i; j++) {
                    const float *s = q + (size_t)j * m;
                    double dot = 0;
                    for (int t = 0; t < m; t++)
                        dot += (double)r[t] * s[t];
                    for (int t = 0; t < m; t++)
                        r[t] -= (float)(dot * s[t]);
                }
            double norm = 0;
            for (int t = 0; t < m; t++)
                norm += (double)r[t] * r[t];
            norm = sqrt(norm);
            if (norm > 1e-6) {
                for (int t = 0; t < m; t++)
                    r[t] = (float)(r[t] / norm);
                break;
            }
            for (int t = 0; t < m; t++)
                r[t] = (float)p4_rng_gaussian(rng);
        }
    }
}

/* Eigen-decomposition of the symmetric b x b matrix t (destroyed) by cyclic
 * Jacobi rotations: t = W diag(values) W^T, w's column j the j-th vector. */
static void jacobi(double *t, int b, double *w, double *values)
{
    for (int i = 0; i < b * b; i++)
        w[i] = 0;
    for (int i = 0; i < b; i++)
        w[i * b + i] = 1;
    for (int sweep = 0; sweep < JACOBI_SWEEPS; sweep++) {
        double off = 0, all = 0;
        for (int i = 0; i < b; i++)
            for (int j = 0; j < b; j++) {
                all += t[i * b + j] * t[i * b + j];
                if (i != j)
                    off += t[i * b + j] * t[i * b + j];
            }
        if (off <= 1e-24 * all || all == 0)
            break;
        for (int p = 0; p < b - 1; p++)
            for (int r = p + 1; r < b; r++) {
                double apr = t[p * b + r];
                if (apr == 0)
                    continue;
                double theta = (t[r * b + r] - t[p * b + p]) / (2 * apr);
                double tan = (theta >= 0 ? 1 : -1) / (fabs(theta) + sqrt(theta * theta + 1));
                double c = 1 / sqrt(tan * tan + 1), s = tan * c;
                for (int k = 0; k < b; k++) { /* columns p, r */
                    double kp = t[k * b + p], kr = t[k * b + r];
                    t[k * b + p] = c * kp - s * kr;
                    t[k * b + r] = s * kp + c * kr;
                }
                for (int k = 0; k < b; k++) { /* rows p, r */
                    double pk = t[p * b + k], rk = t[r * b + k];
                    t[p * b + k] = c * pk - s * rk;
                    t[r * b + k] = s * pk + c * rk;
                }
                for (int k = 0; k < b; k++) {
                    double kp = w[k * b + p], kr = w[k * b + r];
                    w[k * b + p] = c * kp - s * kr;
                    w[k * b + r] = s * kp + c * kr;
                }
            }
    }
    for (int i = 0; i < b; i++)
        values[i] = t[i * b + i];
}

/* Rotates q (b x m, aq = q A) onto its Ritz vectors, sorted by decreasing
 * Ritz value; returns the largest residual norm among the first k. */
static double rayleigh_ritz(float *q, float *aq, int b, int m, int k, double *values,
                            double *t, double *w, float *rot, float *tmp)
{
    for (int i = 0; i < b; i++)
        for (int j = 0; j < b; j++) {
            double dot = 0;
            for (int s = 0; s < m; s++)
                dot += (double)aq[(size_t)i * m + s] * q[(size_t)j * m + s];
            t[i * b + j] = dot;
        }
    for (int i = 0; i < b; i++) /* symmetrise rounding */
        for (int j = 0; j < i; j++)
            t[i * b + j] = t[j * b + i] = 0.5 * (t[i * b + j] + t[j * b + i]);
    double *lambda = t + (size_t)b * b; /* caller gives b * b + b doubles */
    jacobi(t, b, w, lambda);
    int *order = (int *)tmp; /* b ints fit before tmp's real use below */
    for (int i = 0; i < b; i++)
        order[i] = i;
    for (int i = 1; i < b; i++) /* insertion sort, decreasing */
        for (int j = i; j > 0 && lambda[order[j]] > lambda[order[j - 1]]; j--) {
            int x = order[j]; order[j] = order[j - 1]; order[j - 1] = x;
        }
    for (int i = 0; i < b; i++) {
        values[i] = lambda[order[i]];
        for (int j = 0; j < b; j++)
            rot[i * b + j] = (float)w[j * b + order[i]];
    }
    /* tmp = rot q, then aq = rot aq (the Ritz vectors and A times them). */
    float *v = tmp + b; /* past the order ints (b floats' room) */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, b, m, b, 1.0f, rot, b, q, m, 0.0f, v, m);
    memcpy(q, v, (size_t)b * m * sizeof(float));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, b, m, b, 1.0f, rot, b, aq, m, 0.0f, v,
                m);
    memcpy(aq, v, (size_t)b * m * sizeof(float));
    double worst = 0;
    for (int i = 0; i < k; i++) {
        double r = 0;
        for (int s = 0; s < m; s++) {
            double e = aq[(size_t)i * m + s] - values[i] * q[(size_t)i * m + s];
            r += e * e;
        }
        if (sqrt(r) > worst)
            worst = sqrt(r);
    }
    return worst;
}

int p4_pca_top_eigen(const float *a, int m, int k, uint64_t seed, float *vectors,
                     double *values, p4_error *err)
{
    if (!a || m < 1 || k < 1 || k > m || !vectors || !values)
        return p4_error_set(err, P4_EINVAL, "pca: bad arguments (m %d, k %d)", m, k);
    int b = k + OVERSAMPLE < m ? k + OVERSAMPLE : m;
    size_t block = (size_t)b * m;
    float *q = malloc(block * sizeof(float)), *aq = malloc(block * sizeof(float));
    float *tmp = malloc((block + (size_t)2 * b) * sizeof(float));
    float *rot = malloc((size_t)b * b * sizeof(float));
    double *t = malloc(((size_t)b * b + b) * sizeof(double));
    double *w = malloc((size_t)b * b * sizeof(double)), *ritz = malloc((size_t)b * sizeof(double));
    p4_rng rng;
    int rc = p4_rng_init_seeded(&rng, seed, "pca-start");
    if (!q || !aq || !tmp || !rot || !t || !w || !ritz)
        rc = p4_error_set(err, P4_ENOMEM, "pca: out of memory for a %d x %d block", b, m);
    else if (rc != P4_OK)
        p4_error_set(err, rc, "pca: cannot seed the starting block");
    if (rc == P4_OK) {
        for (size_t i = 0; i < block; i++)
            q[i] = (float)p4_rng_gaussian(&rng);
        orthonormalise(q, b, m, &rng);
        int converged = 0;
        for (int step = 1; step <= MAX_STEPS && !converged; step++) {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, b, m, m, 1.0f, q, m, a, m, 0.0f,
                        aq, m);
            if (step % CHECK_EVERY == 0 || step == MAX_STEPS) {
                double worst = rayleigh_ritz(q, aq, b, m, k, ritz, t, w, rot, tmp);
                converged = worst <= TOLERANCE * (ritz[0] > 0 ? ritz[0] : 1);
                if (converged || step == MAX_STEPS)
                    break;
            }
            memcpy(q, aq, block * sizeof(float));
            orthonormalise(q, b, m, &rng);
        }
        /* MAX_STEPS reached: the best Ritz pairs so far (a slow eigengap). */
        memcpy(vectors, q, (size_t)k * m * sizeof(float));
        for (int i = 0; i < k; i++)
            values[i] = ritz[i] > 0 ? ritz[i] : 0;
    }
    p4_rng_wipe(&rng);
    free(q); free(aq); free(tmp); free(rot); free(t); free(w); free(ritz);
    return rc;
}

int p4_pca_fit(const float *x, int n, int d, int k, uint64_t seed, float *mean,
               float *directions, double *variances, p4_error *err)
{
    if (!x || n < 2 || d < 1 || k < 1 || !mean || !directions || !variances)
        return p4_error_set(err, P4_EINVAL, "pca fit: bad arguments (n %d, d %d, k %d)", n, d, k);
    int m = d <= n ? d : n;
    if (k > m)
        return p4_error_set(err, P4_EINVAL, "pca fit: %d directions asked of %d examples in %d "
                            "dimensions", k, n, d);
    float *xc = malloc((size_t)n * d * sizeof(float)), *a = malloc((size_t)m * m * sizeof(float));
    float *u = malloc((size_t)k * m * sizeof(float));
    if (!xc || !a || !u) {
        free(xc); free(a); free(u);
        return p4_error_set(err, P4_ENOMEM, "pca fit: out of memory (%d x %d)", n, d);
    }
    for (int j = 0; j < d; j++) {
        double s = 0;
        for (int i = 0; i < n; i++)
            s += x[(size_t)i * d + j];
        mean[j] = (float)(s / n);
    }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < d; j++)
            xc[(size_t)i * d + j] = x[(size_t)i * d + j] - mean[j];
    /* Covariance xc^T xc / n (d x d), or the Gram matrix xc xc^T / n (n x n):
     * same nonzero eigenvalues, and the smaller matrix. */
    if (m == d)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, d, d, n, 1.0f / n, xc, d, xc, d, 0.0f,
                    a, d);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, d, 1.0f / n, xc, d, xc, d, 0.0f,
                    a, n);
    int rc = p4_pca_top_eigen(a, m, k, seed, u, variances, err);
    if (rc == P4_OK && m == d) {
        memcpy(directions, u, (size_t)k * d * sizeof(float));
    } else if (rc == P4_OK) {
        /* A Gram eigenvector u gives the direction xc^T u, of norm sqrt(n lambda). */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, k, d, n, 1.0f, u, n, xc, d, 0.0f,
                    directions, d);
        for (int i = 0; i < k; i++) {
            float *v = directions + (size_t)i * d;
            double norm = 0;
            for (int j = 0; j < d; j++)
                norm += (double)v[j] * v[j];
            norm = sqrt(norm);
            for (int j = 0; j < d; j++)
                v[j] = norm > 0 ? (float)(v[j] / norm) : 0.0f;
        }
    }
    free(xc); free(a); free(u);
    return rc;
}
