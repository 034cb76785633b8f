/* pca.h: top principal directions of a data matrix, by block subspace
 * iteration with Rayleigh-Ritz (no dependency beyond cblas). */
#ifndef P4_PCA_H
#define P4_PCA_H

#include <stdint.h>

#include "common/error.h"

/* The k largest eigenpairs of the symmetric positive semi-definite m x m
 * matrix a (row-major): vectors is k x m (row i = unit eigenvector i),
 * values k floats in decreasing order.  seed keys the starting block, so
 * the result is a function of (a, k, seed). */
int p4_pca_top_eigen(const float *a, int m, int k, uint64_t seed, float *vectors,
                     double *values, p4_error *err);

/* The top-k principal directions of the n rows of x (n x d): mean (d
 * floats), directions (k x d, unit rows) and the variance along each
 * (k doubles, decreasing; population variance, divided by n).  Works on
 * the smaller of the d x d covariance and the n x n Gram matrix. */
int p4_pca_fit(const float *x, int n, int d, int k, uint64_t seed, float *mean,
               float *directions, double *variances, p4_error *err);

#endif
