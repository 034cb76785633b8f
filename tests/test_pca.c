/* test_pca: model/pca.c against matrices and data whose eigenvectors are
 * known.
 *   - a symmetric matrix Q diag(lambda) Q^T (Q a Householder reflection):
 *     the top-k eigenvalues and eigenvectors (up to sign) come back;
 *   - data planted along known orthonormal directions with known
 *     variances, through both the covariance (n > d) and the Gram (n < d)
 *     paths: the directions, variances and mean come back;
 *   - bad arguments are refused. */
#include "support/test_support.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "model/pca.h"

/* Q = I - 2 u u^T / |u|^2: orthonormal columns, known exactly. */
static void householder(int m, double *q)
{
    double *u = malloc((size_t)m * sizeof *u), uu = 0;
    assert_non_null(u);
    for (int i = 0; i < m; i++) {
        u[i] = 1.0 + 0.37 * i - 0.011 * i * i;
        uu += u[i] * u[i];
    }
    for (int i = 0; i < m; i++)
        for (int j = 0; j < m; j++)
            q[i * m + j] = (i == j) - 2 * u[i] * u[j] / uu;
    free(u);
}

static double abs_dot(const float *a, const double *b, int m)
{
    double s = 0;
    for (int i = 0; i < m; i++)
        s += a[i] * b[i];
    return fabs(s);
}

static void test_known_symmetric_matrix(void **state)
{
    (void)state;
    enum { M = 40, K = 6 };
    double *q = malloc(M * M * sizeof *q), lambda[M];
    float *a = malloc(M * M * sizeof *a), vectors[K * M];
    double values[K], column[M];
    assert_non_null(q);
    assert_non_null(a);
    householder(M, q);
    for (int i = 0; i < M; i++)
        lambda[i] = 10.0 * pow(0.8, i); /* distinct, decreasing */
    for (int i = 0; i < M; i++)
        for (int j = 0; j < M; j++) {
            double s = 0;
            for (int t = 0; t < M; t++)
                s += q[i * M + t] * lambda[t] * q[j * M + t];
            a[i * M + j] = (float)s;
        }
    p4_error err = {0};
    if (p4_pca_top_eigen(a, M, K, 7, vectors, values, &err) != P4_OK)
        fail_msg("%s", err.message);
    for (int k = 0; k < K; k++) {
        for (int i = 0; i < M; i++)
            column[i] = q[i * M + k];
        if (fabs(values[k] - lambda[k]) > 1e-4 * lambda[0])
            fail_msg("eigenvalue %d = %g, want %g", k, values[k], lambda[k]);
        double d = abs_dot(vectors + k * M, column, M);
        if (d < 0.9999)
            fail_msg("eigenvector %d: |<v, q>| = %.6f, want 1", k, d);
    }
    free(q);
    free(a);
}

/* n rows: mean + sum_i sqrt(var_i) z_i e_i with standard normal z, in d
 * dimensions along the orthonormal rows e_i of a Householder matrix. */
static void planted(int n, int d, int k)
{
    double *q = malloc((size_t)d * d * sizeof *q), var[8] = { 9, 4, 2.25, 1, 0.49, 0.25, 0.1, 0.05 };
    float *x = malloc((size_t)n * d * sizeof *x), *mean = malloc((size_t)d * sizeof *mean);
    float *dirs = malloc((size_t)k * d * sizeof *dirs);
    double *got = malloc((size_t)k * sizeof *got);
    assert_true(q && x && mean && dirs && got && k <= 8);
    householder(d, q);
    p4_rng rng;
    assert_int_equal(p4_rng_init_seeded(&rng, 3, "test-pca"), P4_OK);
    for (int r = 0; r < n; r++)
        for (int j = 0; j < d; j++)
            x[(size_t)r * d + j] = (float)(0.5 + 0.01 * j);
    double (*z)[8] = malloc((size_t)n * sizeof *z);
    assert_non_null(z);
    for (int i = 0; i < 8; i++) { /* centred and whitened z: exact sample variances */
        double m = 0, s = 0;
        for (int r = 0; r < n; r++)
            m += (z[r][i] = p4_rng_gaussian(&rng));
        m /= n;
        for (int r = 0; r < n; r++)
            s += (z[r][i] - m) * (z[r][i] - m);
        for (int r = 0; r < n; r++)
            z[r][i] = (z[r][i] - m) / sqrt(s / n);
    }
    for (int r = 0; r < n; r++)
        for (int i = 0; i < 8; i++)
            for (int j = 0; j < d; j++)
                x[(size_t)r * d + j] += (float)(sqrt(var[i]) * z[r][i] * q[i * d + j]);
    p4_error err = {0};
    if (p4_pca_fit(x, n, d, k, 11, mean, dirs, got, &err) != P4_OK)
        fail_msg("%s", err.message);
    for (int j = 0; j < d; j++)
        if (fabs(mean[j] - (0.5 + 0.01 * j)) > 1e-4)
            fail_msg("mean[%d] = %g, want %g", j, mean[j], 0.5 + 0.01 * j);
    /* The z are not exactly uncorrelated with each other: allow a little. */
    for (int i = 0; i < k; i++) {
        if (fabs(got[i] - var[i]) > 0.25 * var[i])
            fail_msg("n %d, d %d: variance %d = %g, want about %g", n, d, i, got[i], var[i]);
        double dd = abs_dot(dirs + (size_t)i * d, q + (size_t)i * d, d);
        if (dd < 0.95)
            fail_msg("n %d, d %d: direction %d: |<v, e>| = %.4f, want about 1", n, d, i, dd);
    }
    p4_rng_wipe(&rng);
    free(q); free(x); free(mean); free(dirs); free(got); free(z);
}

static void test_planted_directions_covariance_path(void **state)
{
    (void)state;
    planted(2000, 30, 3);
}

static void test_planted_directions_gram_path(void **state)
{
    (void)state;
    planted(120, 200, 3);
}

static void test_bad_arguments_refused(void **state)
{
    (void)state;
    float a[4] = { 1, 0, 0, 1 }, v[4], mean[2];
    double values[2];
    assert_int_equal(p4_pca_top_eigen(a, 2, 3, 1, v, values, NULL), P4_EINVAL);
    assert_int_equal(p4_pca_top_eigen(NULL, 2, 1, 1, v, values, NULL), P4_EINVAL);
    assert_int_equal(p4_pca_fit(a, 2, 2, 3, 1, mean, v, values, NULL), P4_EINVAL);
    assert_int_equal(p4_pca_fit(a, 1, 2, 1, 1, mean, v, values, NULL), P4_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_symmetric_matrix),
        cmocka_unit_test(test_planted_directions_covariance_path),
        cmocka_unit_test(test_planted_directions_gram_path),
        cmocka_unit_test(test_bad_arguments_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
