/* slice_board.c: published warm-up slices and their distances; see
 * slice_board.h. */
#include "cluster/slice_board.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cluster/similarity.h"
#include "cluster/slice_guard.h"
#include "common/progress.h"

struct p4_slice_board {
    int n, published, aborted;
    size_t length;
    float *slices;            /* n x length, row k once peer k published */
    unsigned char *have;      /* n */
    uint64_t *fingerprint;    /* n: each slice's, for the slice guard */
    unsigned char *known;     /* n x n, from the first distances call */
    double *dist;             /* n x n */
    int dist_state;           /* 0 none, 1 being computed, 2 ready, -1 failed */
    uint8_t *digests;         /* n x 32 */
    unsigned char *have_digest;
    int digested;
    pthread_mutex_t lock;
    pthread_cond_t changed;
};

int p4_slice_board_new(p4_slice_board **out, int n, p4_error *err)
{
    if (!out || n < 1)
        return p4_error_set(err, P4_EINVAL, "slice board: bad arguments");
    p4_slice_board *b = calloc(1, sizeof *b);
    if (b) {
        b->have = calloc((size_t)n, 1);
        b->have_digest = calloc((size_t)n, 1);
        b->digests = calloc((size_t)n, 32);
        b->fingerprint = calloc((size_t)n, sizeof *b->fingerprint);
    }
    if (!b || !b->have || !b->have_digest || !b->digests || !b->fingerprint) {
        if (b) {
            free(b->have);
            free(b->have_digest);
            free(b->digests);
        }
        free(b);
        return p4_error_set(err, P4_ENOMEM, "out of memory for a slice board of %d peers", n);
    }
    b->n = n;
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC); /* p4_now_seconds's clock */
    pthread_mutex_init(&b->lock, NULL);
    pthread_cond_init(&b->changed, &attr);
    pthread_condattr_destroy(&attr);
    *out = b;
    return P4_OK;
}

void p4_slice_board_destroy(p4_slice_board **board)
{
    if (!board || !*board)
        return;
    p4_slice_board *b = *board;
    free(b->slices);
    free(b->have);
    free(b->fingerprint);
    free(b->known);
    free(b->dist);
    free(b->digests);
    free(b->have_digest);
    pthread_mutex_destroy(&b->lock);
    pthread_cond_destroy(&b->changed);
    free(b);
    *board = NULL;
}

int p4_slice_board_publish(p4_slice_board *b, int self, const float *slice, size_t length,
                           p4_error *err)
{
    if (!b || !slice || length < 1 || self < 0 || self >= b->n)
        return p4_error_set(err, P4_EINVAL, "slice board publish: bad arguments");
    uint64_t fingerprint; /* hashed by its publisher: n hashes in all, not n^2 */
    int rc = p4_slice_fingerprint(slice, length, &fingerprint, err);
    if (rc != P4_OK)
        return rc;
    pthread_mutex_lock(&b->lock);
    if (!b->slices) {
        b->length = length;
        if (!(b->slices = malloc((size_t)b->n * length * sizeof(float))))
            rc = p4_error_set(err, P4_ENOMEM, "out of memory for %d slices of %zu floats", b->n,
                              length);
    }
    if (rc == P4_OK && length != b->length)
        rc = p4_error_set(err, P4_EPEER, "peer %d: a slice of %zu floats where the others have "
                          "%zu", self, length, b->length);
    if (rc == P4_OK && b->have[self])
        rc = p4_error_set(err, P4_EPEER, "peer %d published its slice twice", self);
    if (rc == P4_OK) {
        memcpy(b->slices + (size_t)self * length, slice, length * sizeof(float));
        b->fingerprint[self] = fingerprint;
        b->have[self] = 1;
        if (++b->published == b->n)
            pthread_cond_broadcast(&b->changed);
    }
    pthread_mutex_unlock(&b->lock);
    return rc;
}

/* Waits on the board's condition until `done` or the deadline; lock held. */
static int wait_locked(p4_slice_board *b, double deadline, int (*done)(const p4_slice_board *))
{
    struct timespec until;
    int bounded = isfinite(deadline) && deadline < p4_now_seconds() + 1e8;
    if (bounded) {
        double whole = floor(deadline);
        until.tv_sec = (time_t)whole;
        until.tv_nsec = (long)((deadline - whole) * 1e9);
        if (until.tv_nsec >= 1000000000L)
            until.tv_nsec = 999999999L;
    }
    while (!done(b)) {
        if (b->aborted)
            return P4_ENET;
        if (bounded && p4_now_seconds() >= deadline)
            return P4_ETIMEOUT;
        if (bounded)
            pthread_cond_timedwait(&b->changed, &b->lock, &until);
        else
            pthread_cond_wait(&b->changed, &b->lock);
    }
    return P4_OK;
}

static int all_published(const p4_slice_board *b) { return b->published == b->n; }
static int all_digested(const p4_slice_board *b) { return b->digested == b->n; }
static int distances_settled(const p4_slice_board *b) { return b->dist_state != 1; }

int p4_slice_board_wait(p4_slice_board *b, double deadline, p4_error *err)
{
    if (!b)
        return p4_error_set(err, P4_EINVAL, "slice board wait: NULL board");
    pthread_mutex_lock(&b->lock);
    int rc = wait_locked(b, deadline, all_published), missing = b->n - b->published;
    pthread_mutex_unlock(&b->lock);
    if (rc == P4_ENET)
        return p4_error_set(err, rc, "the run was stopped while waiting for warm-up slices");
    if (rc == P4_ETIMEOUT)
        return p4_error_set(err, P4_EPEER, "%d peer(s) published no warm-up slice before the "
                            "deadline: the grouping needs every member", missing);
    return P4_OK;
}

/* The distances for the known pairs, as the protocol computes them from
 * received slices. */
static int compute_distances(p4_slice_board *b, p4_error *err)
{
    int n = b->n, rc = P4_OK;
    size_t len = b->length;
    for (int i = 0; i < n && rc == P4_OK; i++)
        for (int j = i + 1; j < n && rc == P4_OK; j++) {
            if (!b->known[(size_t)i * n + j])
                continue;
            rc = p4_l1_distance(b->slices + (size_t)i * len, b->slices + (size_t)j * len, 0, len,
                                len, &b->dist[(size_t)i * n + j], err);
            b->dist[(size_t)j * n + i] = b->dist[(size_t)i * n + j];
        }
    return rc;
}

int p4_slice_board_distances(p4_slice_board *b, const unsigned char *known, const double **dist,
                             p4_error *err)
{
    if (!b || !known || !dist)
        return p4_error_set(err, P4_EINVAL, "slice board distances: bad arguments");
    size_t nn = (size_t)b->n * b->n;
    int rc = P4_OK, compute = 0;
    pthread_mutex_lock(&b->lock);
    if (b->published != b->n)
        rc = p4_error_set(err, P4_EINVAL, "slice board: distances before every slice was published");
    else if (b->dist_state == 0) {
        b->known = malloc(nn);
        b->dist = calloc(nn, sizeof *b->dist);
        if (!b->known || !b->dist) {
            b->dist_state = -1;
            rc = p4_error_set(err, P4_ENOMEM, "out of memory for %d x %d distances", b->n, b->n);
        } else {
            memcpy(b->known, known, nn);
            b->dist_state = 1;
            compute = 1;
        }
    }
    pthread_mutex_unlock(&b->lock);
    if (rc != P4_OK)
        return rc;
    if (compute) { /* outside the lock: the slices no longer change */
        rc = compute_distances(b, err);
        pthread_mutex_lock(&b->lock);
        b->dist_state = rc == P4_OK ? 2 : -1;
        pthread_cond_broadcast(&b->changed);
        pthread_mutex_unlock(&b->lock);
        if (rc != P4_OK)
            return rc;
    }
    pthread_mutex_lock(&b->lock);
    rc = wait_locked(b, INFINITY, distances_settled);
    int state = b->dist_state;
    pthread_mutex_unlock(&b->lock);
    if (rc != P4_OK)
        return p4_error_set(err, rc, "the run was stopped while the distances were computed");
    if (state != 2)
        return p4_error_set(err, P4_EPEER, "the warm-up slices' distances could not be computed");
    if (memcmp(b->known, known, nn) != 0)
        return p4_error_set(err, P4_EPEER, "this peer sampled other grouping pairs than the "
                            "first: the grouping's seed differs");
    *dist = b->dist;
    return P4_OK;
}

int p4_slice_board_publish_digest(p4_slice_board *b, int self, const uint8_t digest[32],
                                  p4_error *err)
{
    if (!b || !digest || self < 0 || self >= b->n)
        return p4_error_set(err, P4_EINVAL, "slice board digest: bad arguments");
    int rc = P4_OK;
    pthread_mutex_lock(&b->lock);
    if (b->have_digest[self]) {
        rc = p4_error_set(err, P4_EPEER, "peer %d published its groups' digest twice", self);
    } else {
        memcpy(b->digests + (size_t)self * 32, digest, 32);
        b->have_digest[self] = 1;
        if (++b->digested == b->n)
            pthread_cond_broadcast(&b->changed);
    }
    pthread_mutex_unlock(&b->lock);
    return rc;
}

int p4_slice_board_wait_digests(p4_slice_board *b, double deadline, const uint8_t **digests,
                                p4_error *err)
{
    if (!b || !digests)
        return p4_error_set(err, P4_EINVAL, "slice board digests: bad arguments");
    pthread_mutex_lock(&b->lock);
    int rc = wait_locked(b, deadline, all_digested), missing = b->n - b->digested;
    pthread_mutex_unlock(&b->lock);
    if (rc == P4_ENET)
        return p4_error_set(err, rc, "the run was stopped while waiting for the groups' digests");
    if (rc == P4_ETIMEOUT)
        return p4_error_set(err, P4_EPEER, "%d peer(s) published no digest of their groups "
                            "before the deadline", missing);
    *digests = b->digests;
    return P4_OK;
}

void p4_slice_board_abort(p4_slice_board *b)
{
    if (!b)
        return;
    pthread_mutex_lock(&b->lock);
    b->aborted = 1;
    pthread_cond_broadcast(&b->changed);
    pthread_mutex_unlock(&b->lock);
}

int p4_slice_board_fingerprints(p4_slice_board *b, const uint64_t **fingerprints, p4_error *err)
{
    if (!b || !fingerprints)
        return p4_error_set(err, P4_EINVAL, "slice board fingerprints: bad arguments");
    pthread_mutex_lock(&b->lock);
    int all = b->published == b->n;
    pthread_mutex_unlock(&b->lock);
    if (!all)
        return p4_error_set(err, P4_EINVAL, "slice board: fingerprints asked before every "
                            "slice was published");
    *fingerprints = b->fingerprint;
    return P4_OK;
}

size_t p4_slice_board_bytes(const p4_slice_board *b)
{
    if (!b)
        return 0;
    size_t nn = (size_t)b->n * b->n;
    return (size_t)b->n * b->length * sizeof(float) + (size_t)b->n * (34 + sizeof(uint64_t)) +
           (b->known ? nn : 0) + (b->dist ? nn * sizeof(double) : 0);
}
