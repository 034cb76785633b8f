/* test_dp_noise.c: the DP noise of the software enclave and Poisson sampling,
 * checked as distributions.
 *
 * Bounds.  Each statistical check rejects a correct generator with
 * probability at most 1e-7: normal statistics use |z| < 5.5 (two-sided
 * 3.8e-8), the shape test uses the DKW-Massart inequality, the chi-square
 * uses the Wilson-Hilferty quantile at z = 5.5.  The correct generators go
 * through 9 such checks here, so a correct implementation fails this file
 * with probability < 1e-6 whatever the seeds.  The same checks are run on
 * deliberately wrong samples (std 10% off, a constant offset, correlated or
 * repeated noise, fixed-size batches, an index never sampled) to show that
 * each of them can fail. */
#include "support/test_support.h"
#include "support/test_stats.h"

#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/rng.h"
#include "common/workers.h"
#include "dp/dpsgd.h"
#include "common/ziggurat.h"
#include "tee/enclave.h"

#define Z 5.5
#define NOISE_N 200000
#define NOISE_SD 2.5

/* ---- checks ------------------------------------------------------------- */

static int mean_ok(const double *x, size_t n, double mu, double sd)
{
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += x[i];
    return fabs(sum / n - mu) < Z * sd / sqrt((double)n);
}

/* With the mean known, sum((x - mu)^2) / sd^2 is chi-square(n): sd 2n. */
static int variance_ok(const double *x, size_t n, double mu, double sd)
{
    double ss = 0;
    for (size_t i = 0; i < n; i++)
        ss += (x[i] - mu) * (x[i] - mu);
    return fabs(ss / n / (sd * sd) - 1) < Z * sqrt(2.0 / n);
}

/* Pearson correlation of a and b; ~ N(0, 1/n) when independent. */
static double correlation(const double *a, const double *b, size_t n)
{
    double ma = 0, mb = 0, sab = 0, saa = 0, sbb = 0;
    for (size_t i = 0; i < n; i++) {
        ma += a[i];
        mb += b[i];
    }
    ma /= n;
    mb /= n;
    for (size_t i = 0; i < n; i++) {
        sab += (a[i] - ma) * (b[i] - mb);
        saa += (a[i] - ma) * (a[i] - ma);
        sbb += (b[i] - mb) * (b[i] - mb);
    }
    return sab / sqrt(saa * sbb);
}

static int uncorrelated(const double *a, const double *b, size_t n)
{
    return fabs(correlation(a, b, n)) < Z / sqrt((double)n);
}

static int lag1_ok(const double *x, size_t n)
{
    return uncorrelated(x, x + 1, n - 1);
}

/* The first half against the second: catches noise that repeats. */
static int halves_ok(const double *x, size_t n)
{
    return uncorrelated(x, x + n / 2, n / 2);
}

/* Kolmogorov-Smirnov against N(mu, sd^2).  DKW-Massart: for any n,
 * P(sup |F_n - F| > e) <= 2 exp(-2 n e^2), which is 1e-7 at the bound. */
static int normal_shape_ok(const double *x, size_t n, double mu, double sd)
{
    double *s = malloc(n * sizeof *s);
    assert_non_null(s);
    memcpy(s, x, n * sizeof *s);
    qsort(s, n, sizeof *s, test_compare_doubles);
    double d = 0;
    for (size_t i = 0; i < n; i++) {
        double f = 0.5 * erfc(-(s[i] - mu) / (sd * sqrt(2.0)));
        d = fmax(d, fmax(f - (double)i / n, (double)(i + 1) / n - f));
    }
    free(s);
    return d < sqrt(log(2 / 1e-7) / (2.0 * n));
}

/* Upper 1e-8-ish quantile of chi-square(k) by Wilson-Hilferty at z = Z. */
static double chi_square_bound(double k)
{
    double h = 2.0 / (9 * k);
    return k * pow(1 - h + Z * sqrt(h), 3);
}

/* ---- noise -------------------------------------------------------------- */

/* The two noise layouts ([dp] noise_layout); the enclave opens serial. */
static const char *const layouts[2] = { "serial", "chunked" };

/* A seeded software enclave in the given layout. */
static p4_enclave *open_enclave(uint64_t seed, const char *layout)
{
    p4_enclave *e = NULL;
    assert_int_equal(p4_enclave_open_software(&e, 1, seed, NULL), P4_OK);
    assert_int_equal(p4_enclave_set_noise_layout(e, layout, NULL), P4_OK);
    return e;
}

/* n samples of N(0, sd^2) from a seeded software enclave, added to zeros in
 * two calls of which the first has odd length, so that any state a sampler
 * carries between calls is exercised. */
static double *enclave_noise_in(uint64_t seed, size_t n, double sd, const char *layout)
{
    float *v = calloc(n, sizeof *v);
    double *x = malloc(n * sizeof *x);
    assert_true(v != NULL && x != NULL);
    p4_enclave *e = open_enclave(seed, layout);
    size_t first = (n / 2) | 1;
    assert_int_equal(p4_enclave_add_gaussian_noise(e, v, first, sd, NULL), P4_OK);
    assert_int_equal(p4_enclave_add_gaussian_noise(e, v + first, n - first, sd, NULL), P4_OK);
    p4_enclave_close(&e);
    assert_null(e);
    for (size_t i = 0; i < n; i++)
        x[i] = v[i];
    free(v);
    return x;
}

static double *enclave_noise(uint64_t seed, size_t n, double sd)
{
    return enclave_noise_in(seed, n, sd, "serial");
}

/* Run once per layout, each at its own seed. */
static void test_noise_has_the_asked_mean_variance_and_shape(void **state)
{
    (void)state;
    for (int l = 0; l < 2; l++) {
        double *x = enclave_noise_in(20240601 + (uint64_t)l, NOISE_N, NOISE_SD, layouts[l]);
        assert_true(mean_ok(x, NOISE_N, 0, NOISE_SD));
        assert_true(variance_ok(x, NOISE_N, 0, NOISE_SD));
        assert_true(normal_shape_ok(x, NOISE_N, 0, NOISE_SD));
        assert_true(lag1_ok(x, NOISE_N));
        assert_true(halves_ok(x, NOISE_N));
        free(x);
    }
}

static void test_checks_reject_wrong_noise(void **state)
{
    (void)state;
    const size_t n = NOISE_N;
    double *x = enclave_noise(99, n, NOISE_SD);
    double *y = malloc(n * sizeof *y);
    assert_non_null(y);

    const double scales[] = {1.1, 0.9}; /* std 10% off either way */
    for (int s = 0; s < 2; s++) {
        for (size_t i = 0; i < n; i++)
            y[i] = scales[s] * x[i];
        assert_false(variance_ok(y, n, 0, NOISE_SD));
        assert_false(normal_shape_ok(y, n, 0, NOISE_SD));
    }
    for (size_t i = 0; i < n; i++)
        y[i] = x[i] + 0.05 * NOISE_SD;
    assert_false(mean_ok(y, n, 0, NOISE_SD));
    assert_false(normal_shape_ok(y, n, 0, NOISE_SD));

    /* Still N(0, sd^2) at each point, but each sample leans on the last. */
    y[0] = x[0];
    for (size_t i = 1; i < n; i++)
        y[i] = (x[i] + x[i - 1]) / sqrt(2.0);
    assert_false(lag1_ok(y, n));

    /* A generator re-keyed identically for the second call repeats itself. */
    memcpy(y, x, n / 2 * sizeof *y);
    memcpy(y + n / 2, x, n / 2 * sizeof *y);
    assert_false(halves_ok(y, n));
    free(x);
    free(y);
}

static void test_seeded_noise_repeats_and_secure_noise_does_not(void **state)
{
    (void)state;
    const size_t n = 1000;
    double *a = enclave_noise(7, n, 1.0), *b = enclave_noise(7, n, 1.0);
    double *c = enclave_noise(8, n, 1.0);
    assert_memory_equal(a, b, n * sizeof *a);
    assert_memory_not_equal(a, c, n * sizeof *a);
    double *d = enclave_noise_in(7, n, 1.0, "chunked"), *e = enclave_noise_in(7, n, 1.0, "chunked");
    assert_memory_equal(d, e, n * sizeof *d);
    assert_memory_not_equal(a, d, n * sizeof *a); /* another layout, other draws */
    free(d);
    free(e);

    float u[1000] = {0}, v[1000] = {0};
    p4_enclave *e1 = NULL, *e2 = NULL;
    assert_int_equal(p4_enclave_open_software(&e1, 0, 7, NULL), P4_OK);
    assert_int_equal(p4_enclave_open_software(&e2, 0, 7, NULL), P4_OK);
    assert_int_equal(p4_enclave_add_gaussian_noise(e1, u, n, 1.0, NULL), P4_OK);
    assert_int_equal(p4_enclave_add_gaussian_noise(e2, v, n, 1.0, NULL), P4_OK);
    assert_memory_not_equal(u, v, sizeof u); /* keys from the OS, not the seed */
    p4_enclave_close(&e1);
    p4_enclave_close(&e2);
    free(a);
    free(b);
    free(c);
}

/* The trainer samples batches from (seed, "batch-order") and the enclave
 * draws noise from (seed, "dp-noise"): same seed, independent streams. */
static void test_noise_and_sampling_streams_are_independent(void **state)
{
    (void)state;
    const uint64_t seed = 1;
    double *noise = enclave_noise(seed, NOISE_N, 1.0);
    double *same = malloc(NOISE_N * sizeof *same), *other = malloc(NOISE_N * sizeof *other);
    assert_true(same != NULL && other != NULL);
    p4_rng dp_noise, batch_order;
    p4_ziggurat zig;
    p4_ziggurat_init(&zig);
    p4_rng_init_seeded(&dp_noise, seed, "dp-noise");
    p4_rng_init_seeded(&batch_order, seed, "batch-order");
    /* The enclave's noise is p4_ziggurat_add_parallel on the "dp-noise" stream, in the
     * same two calls enclave_noise makes. */
    float *a = calloc(NOISE_N, sizeof *a), *b = calloc(NOISE_N, sizeof *b);
    assert_true(a != NULL && b != NULL);
    size_t first = (NOISE_N / 2) | 1;
    p4_ziggurat_add_parallel(&zig, &dp_noise, a, first, 1.0);
    p4_ziggurat_add_parallel(&zig, &dp_noise, a + first, NOISE_N - first, 1.0);
    p4_ziggurat_add_parallel(&zig, &batch_order, b, NOISE_N, 1.0);
    for (size_t i = 0; i < NOISE_N; i++) {
        same[i] = a[i];
        other[i] = b[i];
    }
    free(a);
    free(b);
    assert_memory_equal(noise, same, NOISE_N * sizeof *same); /* as docs/noise.md says */
    assert_true(uncorrelated(noise, other, NOISE_N));
    free(noise);
    free(same);
    free(other);
}

/* The parallel sampler gives the same noise on one thread as on several
 * (its two slices are keyed from the stream, not from the threads). */
static void test_parallel_noise_does_not_depend_on_threads(void **state)
{
    (void)state;
    p4_ziggurat zig;
    p4_ziggurat_init(&zig);
    float *runs[3];
    const int threads[3] = { 1, 2, 3 };
    for (int r = 0; r < 3; r++) {
        p4_workers_set_threads(threads[r]);
        p4_rng stream;
        p4_rng_init_seeded(&stream, 4, "dp-noise");
        runs[r] = calloc(NOISE_N, sizeof(float));
        assert_non_null(runs[r]);
        p4_ziggurat_add_parallel(&zig, &stream, runs[r], NOISE_N, NOISE_SD);
    }
    p4_workers_set_threads(1);
    assert_memory_equal(runs[0], runs[1], NOISE_N * sizeof(float));
    assert_memory_equal(runs[0], runs[2], NOISE_N * sizeof(float));
    assert_true(runs[0][0] != 0.0f && runs[0][NOISE_N - 1] != 0.0f); /* both slices filled */
    for (int r = 0; r < 3; r++)
        free(runs[r]);
}

/* ---- the chunked layout -------------------------------------------------- */

/* Noise of n values in the chunked layout, rebuilt by hand from the
 * "dp-noise" stream as docs/noise.md describes it: a 32-byte call key, then
 * chunk j from p4_ziggurat_chunk_rng(key, j). */
static void chunked_by_hand(p4_rng *stream, float *v, size_t n, double sd)
{
    p4_ziggurat zig;
    p4_ziggurat_init(&zig);
    unsigned char key[32];
    p4_rng_bytes(stream, key, sizeof key);
    for (size_t start = 0, j = 0; start < n; start += P4_NOISE_CHUNK, j++) {
        p4_rng chunk;
        assert_int_equal(p4_ziggurat_chunk_rng(&chunk, key, j), P4_OK);
        p4_ziggurat_add(&zig, &chunk, v + start,
                        n - start < P4_NOISE_CHUNK ? n - start : P4_NOISE_CHUNK, sd);
    }
}

/* The enclave's chunked noise is exactly that, on 1, 2 and 3 threads, for
 * sizes below, at and off a multiple of the chunk. */
static void test_chunked_noise_is_the_layout_on_every_thread_count(void **state)
{
    (void)state;
    const size_t sizes[] = { 1, 4093, P4_NOISE_CHUNK, 3 * P4_NOISE_CHUNK, NOISE_N };
    size_t total = 0;
    for (int s = 0; s < 5; s++)
        total += sizes[s];
    float *want = calloc(total, sizeof *want);
    assert_non_null(want);
    p4_rng stream;
    p4_rng_init_seeded(&stream, 21, "dp-noise");
    for (size_t s = 0, at = 0; s < 5; at += sizes[s++])
        chunked_by_hand(&stream, want + at, sizes[s], NOISE_SD);
    for (int threads = 1; threads <= 3; threads++) {
        p4_workers_set_threads(threads);
        float *got = calloc(total, sizeof *got);
        assert_non_null(got);
        p4_enclave *e = open_enclave(21, "chunked");
        for (size_t s = 0, at = 0; s < 5; at += sizes[s++])
            assert_int_equal(p4_enclave_add_gaussian_noise(e, got + at, sizes[s], NOISE_SD, NULL),
                             P4_OK);
        p4_enclave_close(&e);
        assert_memory_equal(got, want, total * sizeof *got);
        free(got);
    }
    p4_workers_set_threads(1);
    for (size_t k = 0; k < total; k++)
        assert_true(want[k] != 0.0f); /* every value got noise */
    free(want);
}

/* Chunks never share keystream: chunk j's generator is ChaCha20 with nonce
 * j (compared with libsodium's original ChaCha20 at that nonce), and the
 * first 64 bytes of the 65,536 chunks a 2^28-value tensor has are pairwise
 * different (all-equal keys or nonces would repeat them).  Neighbouring
 * chunks' noise is uncorrelated. */
static int compare_prefixes(const void *a, const void *b)
{
    return memcmp(a, b, 64);
}

static void test_chunk_streams_never_overlap(void **state)
{
    (void)state;
    unsigned char key[32];
    p4_rng stream;
    p4_rng_init_seeded(&stream, 22, "chunk-keys");
    p4_rng_bytes(&stream, key, sizeof key);

    const uint64_t probes[] = { 0, 1, 2, 65535, ((uint64_t)1 << 32) + 5, UINT64_MAX };
    for (int p = 0; p < 6; p++) {
        unsigned char got[4096 + 64], want[sizeof got], nonce[8];
        for (int i = 0; i < 8; i++)
            nonce[i] = (unsigned char)(probes[p] >> (8 * i));
        crypto_stream_chacha20(want, sizeof want, nonce, key);
        p4_rng chunk;
        assert_int_equal(p4_ziggurat_chunk_rng(&chunk, key, probes[p]), P4_OK);
        p4_rng_bytes(&chunk, got, 64);               /* from the buffer */
        p4_rng_bytes(&chunk, got + 64, sizeof got - 64); /* buffer, then whole blocks */
        assert_memory_equal(got, want, sizeof got);
    }

    enum { CHUNKS = 65536 };
    unsigned char (*prefix)[64] = malloc(CHUNKS * sizeof *prefix);
    assert_non_null(prefix);
    for (uint64_t j = 0; j < CHUNKS; j++) {
        p4_rng chunk;
        assert_int_equal(p4_ziggurat_chunk_rng(&chunk, key, j), P4_OK);
        p4_rng_bytes(&chunk, prefix[j], 64);
    }
    qsort(prefix, CHUNKS, sizeof *prefix, compare_prefixes);
    for (size_t j = 1; j < CHUNKS; j++)
        if (memcmp(prefix[j - 1], prefix[j], 64) == 0)
            fail_msg("two chunks start with the same 64 keystream bytes");
    free(prefix);

    /* Two whole chunks of noise, the first against the second. */
    float *one = calloc(2 * P4_NOISE_CHUNK, sizeof *one);
    assert_non_null(one);
    p4_enclave *e = open_enclave(23, "chunked");
    assert_int_equal(p4_enclave_add_gaussian_noise(e, one, 2 * P4_NOISE_CHUNK, 1.0, NULL), P4_OK);
    p4_enclave_close(&e);
    double *y = malloc(2 * P4_NOISE_CHUNK * sizeof *y);
    assert_non_null(y);
    for (size_t k = 0; k < 2 * P4_NOISE_CHUNK; k++)
        y[k] = one[k];
    assert_true(halves_ok(y, 2 * P4_NOISE_CHUNK));
    assert_true(mean_ok(y, 2 * P4_NOISE_CHUNK, 0, 1.0) && variance_ok(y, 2 * P4_NOISE_CHUNK, 0, 1.0));
    free(one);
    free(y);
}

static void test_noise_layout_names(void **state)
{
    (void)state;
    p4_noise_layout l;
    assert_int_equal(p4_noise_layout_parse("serial", &l), P4_OK);
    assert_int_equal(l, P4_NOISE_SERIAL);
    assert_int_equal(p4_noise_layout_parse("chunked", &l), P4_OK);
    assert_int_equal(l, P4_NOISE_CHUNKED);
    assert_int_equal(p4_noise_layout_parse("Chunked", &l), P4_EINVAL);
    assert_int_equal(p4_noise_layout_parse(NULL, &l), P4_EINVAL);
    p4_enclave *e = NULL;
    p4_error err;
    assert_int_equal(p4_enclave_open_software(&e, 1, 3, NULL), P4_OK);
    assert_int_equal(p4_enclave_set_noise_layout(e, "parallel", &err), P4_EINVAL);
    assert_non_null(strstr(err.message, "chunked or serial"));
    assert_int_equal(p4_enclave_set_noise_layout(NULL, "serial", &err), P4_EINVAL);
    p4_enclave_close(&e);
}

/* The ziggurat's rare paths: the tail beyond R = 3.4426 (probability
 * 2 (1 - Phi(R)) = 5.7625e-4) and the wedges must give the normal's mass.
 * Counts in bands of |z| are binomial; each must lie within 5.5 standard
 * deviations (a correct sampler fails one band with p < 4e-8). */
#define BANDS 7
static const double band_edges[BANDS + 1] = { 0.0, 0.5, 1.0, 2.0, 3.0, 3.442619855899, 4.0,
                                              INFINITY };

static void count_band(long *count, double z)
{
    z = fabs(z);
    for (int b = 0; b < BANDS; b++)
        if (z >= band_edges[b] && z < band_edges[b + 1]) {
            count[b]++;
            break;
        }
}

static void check_bands(const char *what, const long *count, long draws)
{
    for (int b = 0; b < BANDS; b++) {
        double p = erfc(band_edges[b] / M_SQRT2) -
                   (isinf(band_edges[b + 1]) ? 0.0 : erfc(band_edges[b + 1] / M_SQRT2));
        double mean = p * draws, sd = sqrt(draws * p * (1 - p));
        if (fabs(count[b] - mean) > 5.5 * sd)
            fail_msg("%s: |z| in [%g, %g): %ld draws, expected %.1f +- %.1f", what, band_edges[b],
                     band_edges[b + 1], count[b], mean, sd);
    }
}

static void test_ziggurat_tail_and_bands(void **state)
{
    (void)state;
    p4_ziggurat zig;
    p4_ziggurat_init(&zig);
    p4_rng rng;
    p4_rng_init_seeded(&rng, 11, "ziggurat-bands");
    long count[BANDS] = {0};
    const long draws = 4000000;
    for (long k = 0; k < draws; k++)
        count_band(count, p4_ziggurat_normal(&zig, &rng));
    check_bands("p4_ziggurat_normal", count, draws);
}

/* The same bands through the enclave, which takes the DP noise's own path
 * (the block-wise, vectorised p4_ziggurat_add on two parallel slices), in
 * calls of mixed sizes, at a stddev other than 1. */
static void test_enclave_noise_tail_and_bands(void **state)
{
    (void)state;
    const size_t chunk = 1000003; /* odd, above P4_ZIGGURAT_PARALLEL_MIN */
    const double sd = 0.37;
    float *v = malloc(chunk * sizeof *v);
    assert_non_null(v);
    for (int l = 0; l < 2; l++) {
        p4_enclave *e = open_enclave(12 + 100 * (uint64_t)l, layouts[l]);
        long count[BANDS] = {0}, draws = 0;
        for (int call = 0; call < 5; call++) {
            size_t n = call == 4 ? 4093 : chunk; /* the last one below the parallel size */
            memset(v, 0, n * sizeof *v);
            assert_int_equal(p4_enclave_add_gaussian_noise(e, v, n, sd, NULL), P4_OK);
            for (size_t k = 0; k < n; k++)
                count_band(count, v[k] / sd);
            draws += (long)n;
        }
        check_bands(layouts[l], count, draws);
        p4_enclave_close(&e);
    }
    free(v);
}

/* Exact binomial tails: P(X <= k) and P(X >= k) for X ~ Bin(n, p), summed
 * term by term in log space (no normal approximation, which is poor this
 * far out where counts are small). */
static double binomial_log_pmf(long k, long n, double p)
{
    return lgamma(n + 1.0) - lgamma(k + 1.0) - lgamma((double)(n - k) + 1.0) + k * log(p) +
           (double)(n - k) * log1p(-p);
}

static double binomial_at_most(long k, long n, double p)
{
    double sum = 0;
    for (long j = 0; j <= k; j++)
        sum += exp(binomial_log_pmf(j, n, p));
    return sum;
}

static double binomial_at_least(long k, long n, double p)
{
    double sum = 0;
    for (long j = k; j <= n; j++) {
        double term = exp(binomial_log_pmf(j, n, p));
        sum += term;
        if (j > n * p && term < 1e-20 * sum)
            break; /* past the mean the terms fall faster than geometrically */
    }
    return sum;
}

/* A count of draws beyond |z| > t (or one side, z > t or z < -t) is
 * Bin(draws, p) with p from the normal's exact tail; each side's exact
 * probability must be above 1e-8 (10 checks per layout: a correct sampler
 * fails this test with probability below 2e-7). */
static void check_tail(const char *what, long count, long draws, double p)
{
    double low = binomial_at_most(count, draws, p), high = binomial_at_least(count, draws, p);
    if (low < 1e-8 || high < 1e-8)
        fail_msg("%s: %ld of %ld draws, expected %.1f: P(X <= %ld) = %.3g, P(X >= %ld) = %.3g",
                 what, count, draws, p * draws, count, low, count, high);
}

typedef struct {
    long beyond3_pos, beyond3_neg, beyond4_pos, beyond4_neg, beyond5, draws;
} tail_counts;

static void count_tails(tail_counts *t, const float *v, size_t n, double sd)
{
    for (size_t k = 0; k < n; k++) {
        double z = v[k] / sd;
        t->beyond3_pos += z > 3.0;
        t->beyond3_neg += z < -3.0;
        t->beyond4_pos += z > 4.0;
        t->beyond4_neg += z < -4.0;
        t->beyond5 += fabs(z) > 5.0;
    }
    t->draws += (long)n;
}

static void check_tails(const char *what, const tail_counts *t)
{
    const double p3_one_side = 0.5 * erfc(3.0 / M_SQRT2);
    const double p4_one_side = 0.5 * erfc(4.0 / M_SQRT2), p5 = erfc(5.0 / M_SQRT2);
    char label[160];
    snprintf(label, sizeof label, "%s: z > 3", what);
    check_tail(label, t->beyond3_pos, t->draws, p3_one_side);
    snprintf(label, sizeof label, "%s: z < -3", what);
    check_tail(label, t->beyond3_neg, t->draws, p3_one_side);
    snprintf(label, sizeof label, "%s: z > 4", what);
    check_tail(label, t->beyond4_pos, t->draws, p4_one_side);
    snprintf(label, sizeof label, "%s: z < -4", what);
    check_tail(label, t->beyond4_neg, t->draws, p4_one_side);
    snprintf(label, sizeof label, "%s: |z| > 5", what);
    check_tail(label, t->beyond5, t->draws, p5);
}

/* The far tail of the DP noise path itself (the enclave: block-wise
 * ziggurat on two parallel slices, the vector keystream where built):
 * 5e7 draws put about 1,584 on each side beyond 4 sigma and 28.7 beyond
 * 5, all from the ziggurat's tail sampler (R = 3.44).  A sampler that
 * drops the far tail fails; so does a lopsided one (each side of 4 sigma
 * is counted on its own). */
static void test_enclave_noise_far_tails_exact(void **state)
{
    (void)state;
    const size_t chunk = 1 << 22; /* above P4_ZIGGURAT_PARALLEL_MIN */
    const double sd = 1.7;
    float *v = malloc(chunk * sizeof *v);
    assert_non_null(v);
    tail_counts t = {0};
    for (int l = 0; l < 2; l++) {
        p4_enclave *e = open_enclave(13 + 100 * (uint64_t)l, layouts[l]);
        t = (tail_counts){0};
        while (t.draws < 50000000) {
            memset(v, 0, chunk * sizeof *v);
            assert_int_equal(p4_enclave_add_gaussian_noise(e, v, chunk, sd, NULL), P4_OK);
            count_tails(&t, v, chunk, sd);
        }
        p4_enclave_close(&e);
        check_tails(layouts[l], &t);
    }
    free(v);

    /* The same bounds reject noise without its far tail (what a sampler
     * that clamps or loses the tail gives), a tail thinned to 4 of the
     * expected 28.7 beyond 5 sigma, and 15% too few on one side of 4. */
    const double p5 = erfc(5.0 / M_SQRT2), p4_one_side = 0.5 * erfc(4.0 / M_SQRT2);
    assert_true(binomial_at_most(0, t.draws, p5) < 1e-8);
    assert_true(binomial_at_most(4, t.draws, p5) < 1e-8);
    assert_true(binomial_at_most((long)(0.85 * p4_one_side * t.draws), t.draws, p4_one_side) < 1e-8);
    assert_true(binomial_at_least((long)(1.15 * p4_one_side * t.draws), t.draws, p4_one_side) < 1e-8);
    /* ... and a sampler 3% off on one side of 3 sigma (about 8 sd of its count). */
    const double p3_one_side = 0.5 * erfc(3.0 / M_SQRT2);
    assert_true(binomial_at_most((long)(0.97 * p3_one_side * t.draws), t.draws, p3_one_side) < 1e-8);
    assert_true(binomial_at_least((long)(1.03 * p3_one_side * t.draws), t.draws, p3_one_side) < 1e-8);
}

static void test_noise_rejects_bad_arguments(void **state)
{
    (void)state;
    p4_enclave *e = NULL;
    float v[4] = {1, 2, 3, 4};
    p4_error err;
    assert_int_equal(p4_enclave_open_software(&e, 1, 3, NULL), P4_OK);
    assert_int_equal(p4_enclave_add_gaussian_noise(e, v, 4, -1.0, &err), P4_EINVAL);
    assert_int_equal(p4_enclave_add_gaussian_noise(e, v, 4, NAN, &err), P4_EINVAL);
    assert_int_equal(p4_enclave_add_gaussian_noise(e, NULL, 4, 1.0, &err), P4_EINVAL);
    assert_int_equal(p4_enclave_add_gaussian_noise(NULL, v, 4, 1.0, &err), P4_EINVAL);
    assert_int_equal(p4_enclave_add_gaussian_noise(e, v, 4, 0.0, &err), P4_OK);
    assert_true(v[0] == 1 && v[1] == 2 && v[2] == 3 && v[3] == 4);
    p4_enclave_close(&e);
}

/* ---- Poisson sampling --------------------------------------------------- */

#define POOL 1000
#define TRIALS 20000
#define RATE 0.05

/* Batch sizes are Binomial(N, q): mean qN, variance qN(1-q).  The sample
 * variance has variance (mu4 - s^4) / T with mu4 = 3 s^4 + s^2 (1 - 6pq). */
static int batch_sizes_ok(const int *sizes, int trials, int pool, double q)
{
    double mean = 0, ss = 0;
    for (int t = 0; t < trials; t++)
        mean += sizes[t];
    mean /= trials;
    for (int t = 0; t < trials; t++)
        ss += (sizes[t] - mean) * (sizes[t] - mean);
    double var = ss / (trials - 1);
    double s2 = q * (1 - q) * pool;
    double var_sd = sqrt((2 * s2 * s2 + s2 * (1 - 6 * q * (1 - q))) / trials);
    return fabs(mean - q * pool) < Z * sqrt(s2 / trials) && fabs(var - s2) < Z * var_sd;
}

/* Each index's inclusion count is Binomial(T, q), independently. */
static int inclusion_rates_ok(const int *counts, int pool, int trials, double q)
{
    double chi = 0, var = trials * q * (1 - q);
    for (int i = 0; i < pool; i++)
        chi += (counts[i] - trials * q) * (counts[i] - trials * q) / var;
    return chi < chi_square_bound(pool);
}

static void test_poisson_batches_have_binomial_sizes_and_rates(void **state)
{
    (void)state;
    static int indices[POOL], out[POOL], sizes[TRIALS], counts[POOL];
    for (int i = 0; i < POOL; i++)
        indices[i] = 3 * i + 7; /* values, not positions, must come back */
    p4_rng rng;
    p4_rng_init_seeded(&rng, 5, "batch-order");
    for (int t = 0; t < TRIALS; t++) {
        assert_int_equal(p4_poisson_sample(&rng, indices, POOL, RATE, out, &sizes[t]), P4_OK);
        for (int k = 0; k < sizes[t]; k++) {
            assert_true(out[k] >= 7 && (out[k] - 7) % 3 == 0 && out[k] < 3 * POOL + 7);
            assert_true(k == 0 || out[k] > out[k - 1]); /* in order, no repeats */
            counts[(out[k] - 7) / 3]++;
        }
    }
    assert_true(batch_sizes_ok(sizes, TRIALS, POOL, RATE));
    assert_true(inclusion_rates_ok(counts, POOL, TRIALS, RATE));

    /* The same checks fail a fixed-size sampler and one that skips an index. */
    int *fixed = malloc(TRIALS * sizeof *fixed);
    assert_non_null(fixed);
    for (int t = 0; t < TRIALS; t++)
        fixed[t] = (int)(RATE * POOL);
    assert_false(batch_sizes_ok(fixed, TRIALS, POOL, RATE));
    free(fixed);
    counts[POOL - 1] = 0;
    assert_false(inclusion_rates_ok(counts, POOL, TRIALS, RATE));
}

static void test_poisson_rate_one_takes_everything(void **state)
{
    (void)state;
    int indices[50], out[50], n = -1;
    for (int i = 0; i < 50; i++)
        indices[i] = 49 - i;
    p4_rng rng;
    p4_rng_init_seeded(&rng, 1, "batch-order");
    assert_int_equal(p4_poisson_sample(&rng, indices, 50, 1.0, out, &n), P4_OK);
    assert_int_equal(n, 50);
    assert_memory_equal(out, indices, sizeof out);
}

static void test_poisson_is_seeded_and_checks_arguments(void **state)
{
    (void)state;
    int indices[200], a[200], b[200], na, nb;
    for (int i = 0; i < 200; i++)
        indices[i] = i;
    p4_rng r1, r2;
    p4_rng_init_seeded(&r1, 9, "batch-order");
    p4_rng_init_seeded(&r2, 9, "batch-order");
    assert_int_equal(p4_poisson_sample(&r1, indices, 200, 0.3, a, &na), P4_OK);
    assert_int_equal(p4_poisson_sample(&r2, indices, 200, 0.3, b, &nb), P4_OK);
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, (size_t)na * sizeof *a);

    const double bad[] = {0.0, -0.1, 1.5, NAN};
    for (int i = 0; i < 4; i++)
        assert_int_equal(p4_poisson_sample(&r1, indices, 200, bad[i], a, &na), P4_EINVAL);
    assert_int_equal(p4_poisson_sample(NULL, indices, 200, 0.5, a, &na), P4_EINVAL);
    assert_int_equal(p4_poisson_sample(&r1, indices, 200, 0.5, NULL, &na), P4_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_noise_has_the_asked_mean_variance_and_shape),
        cmocka_unit_test(test_checks_reject_wrong_noise),
        cmocka_unit_test(test_seeded_noise_repeats_and_secure_noise_does_not),
        cmocka_unit_test(test_noise_and_sampling_streams_are_independent),
        cmocka_unit_test(test_parallel_noise_does_not_depend_on_threads),
        cmocka_unit_test(test_chunked_noise_is_the_layout_on_every_thread_count),
        cmocka_unit_test(test_chunk_streams_never_overlap),
        cmocka_unit_test(test_noise_layout_names),
        cmocka_unit_test(test_ziggurat_tail_and_bands),
        cmocka_unit_test(test_enclave_noise_tail_and_bands),
        cmocka_unit_test(test_enclave_noise_far_tails_exact),
        cmocka_unit_test(test_noise_rejects_bad_arguments),
        cmocka_unit_test(test_poisson_batches_have_binomial_sizes_and_rates),
        cmocka_unit_test(test_poisson_rate_one_takes_everything),
        cmocka_unit_test(test_poisson_is_seeded_and_checks_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
