/* workers.c: see workers.h. */
#include "common/workers.h"

#include <cblas.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

/* Process-wide, as darknet's calls carry no context (workers.h).
 * compute_threads is 0 until set, meaning the machine's cores; OpenBLAS is
 * put on one thread the first time anything here runs. */
static atomic_int compute_threads;
static pthread_once_t blas_once = PTHREAD_ONCE_INIT;
static _Thread_local int inside_share;

static void blas_single_threaded(void)
{
    openblas_set_num_threads(1);
}

static int clamp_threads(long threads)
{
    if (threads < 1)
        return 1;
    return threads > P4_MAX_WORKERS ? P4_MAX_WORKERS : (int)threads;
}

void p4_workers_set_threads(int threads)
{
    pthread_once(&blas_once, blas_single_threaded);
    atomic_store(&compute_threads, clamp_threads(threads));
}

int p4_workers_for(int items)
{
    pthread_once(&blas_once, blas_single_threaded);
    if (inside_share)
        return 1;
    int threads = atomic_load(&compute_threads);
    if (threads == 0)
        threads = clamp_threads(sysconf(_SC_NPROCESSORS_ONLN));
    if (threads > items)
        threads = items;
    return threads < 1 ? 1 : threads;
}

typedef struct {
    p4_example_fn *fn;
    void *ctx;
    int first, last, worker;
} share;

static void run_share(share *s)
{
    const int was_inside = inside_share;
    inside_share = 1;
    s->fn(s->ctx, s->first, s->last, s->worker);
    inside_share = was_inside;
}

/* --- the helper threads ----------------------------------------------------
 * Starting a thread per split cost 30-50 us here, and a training step makes
 * a dozen splits, some of products that take not much longer.  So helpers
 * are started once, on first use, and sleep on a condition variable
 * between splits.  One split uses them at a time; a caller that finds them
 * busy (another thread's split) starts threads of its own instead.
 *
 * Sleeping has a price too: waking a thread whose core has gone idle takes
 * tens of microseconds (more in a virtual machine, where the idle core has
 * been handed back to the host).  So a helper that finishes a share, and a
 * caller waiting for the helpers, first watch for the next split (or the
 * last share) for about SPIN_ROUNDS pauses (tens of microseconds) before
 * sleeping: in a training step the next split is usually that close. */

enum { SPIN_ROUNDS = 4000 };

/* A polite busy-wait step: tells the core (and a hypervisor) we are spinning. */
static inline void spin_pause(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__) || defined(__arm__)
    __asm__ __volatile__("yield");
#endif
}

typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t wake, done;
    atomic_ulong generation;  /* counts splits handed to the helpers */
    int busy;                 /* a split owns the helpers */
    int started;              /* helpers running: workers 1..started */
    atomic_int pending;       /* shares of the current split not yet done */
    share shares[P4_MAX_WORKERS];
    int workers;
    /* The generation when each helper was started: it waits for the next
     * one, even if it first runs after that split was handed out. */
    unsigned long born[P4_MAX_WORKERS];
} helper_pool;

static helper_pool pool = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
                            PTHREAD_COND_INITIALIZER, 0, 0, 0, 0, {{0}}, 0, {0} };

static void *helper_main(void *arg)
{
    const int worker = (int)(long)arg;
    pthread_mutex_lock(&pool.lock);
    unsigned long seen = pool.born[worker];
    for (;;) {
        if (pool.generation == seen) { /* watch for the next split, then sleep */
            pthread_mutex_unlock(&pool.lock);
            for (int i = 0; i < SPIN_ROUNDS && atomic_load(&pool.generation) == seen; i++)
                spin_pause();
            pthread_mutex_lock(&pool.lock);
        }
        while (pool.generation == seen)
            pthread_cond_wait(&pool.wake, &pool.lock);
        seen = pool.generation;
        if (worker >= pool.workers)
            continue; /* this split needs fewer helpers */
        share mine = pool.shares[worker];
        pthread_mutex_unlock(&pool.lock);
        run_share(&mine);
        pthread_mutex_lock(&pool.lock);
        if (--pool.pending == 0)
            pthread_cond_signal(&pool.done);
    }
    return NULL;
}

/* Takes the helpers for a split of `workers` shares, starting any that are
 * missing.  Returns 0 if they are busy or cannot be started. */
static int pool_acquire(int workers)
{
    pthread_mutex_lock(&pool.lock);
    if (pool.busy) {
        pthread_mutex_unlock(&pool.lock);
        return 0;
    }
    while (pool.started < workers - 1) {
        pthread_t id;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pool.born[pool.started + 1] = pool.generation;
        int rc = pthread_create(&id, &attr, helper_main, (void *)(long)(pool.started + 1));
        pthread_attr_destroy(&attr);
        if (rc != 0)
            break;
        pool.started++;
    }
    if (pool.started < workers - 1) {
        pthread_mutex_unlock(&pool.lock);
        return 0;
    }
    pool.busy = 1;
    pthread_mutex_unlock(&pool.lock);
    return 1;
}

static void pool_run(share *shares, int workers)
{
    pthread_mutex_lock(&pool.lock);
    for (int w = 0; w < workers; w++)
        pool.shares[w] = shares[w];
    pool.workers = workers;
    pool.pending = workers - 1;
    pool.generation++;
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.lock);

    run_share(&shares[0]);

    for (int i = 0; i < SPIN_ROUNDS && atomic_load(&pool.pending) > 0; i++)
        spin_pause(); /* the helpers' shares are usually nearly done */
    pthread_mutex_lock(&pool.lock);
    while (pool.pending > 0)
        pthread_cond_wait(&pool.done, &pool.lock);
    pool.busy = 0;
    pthread_mutex_unlock(&pool.lock);
}

/* Fallback: a thread per share for this split only. */
static void *thread_share(void *arg)
{
    run_share(arg);
    return NULL;
}

static void threads_run(share *shares, int workers)
{
    pthread_t ids[P4_MAX_WORKERS];
    int started[P4_MAX_WORKERS] = {0};
    for (int w = 1; w < workers; w++)
        started[w] = pthread_create(&ids[w], NULL, thread_share, &shares[w]) == 0;
    run_share(&shares[0]);
    for (int w = 1; w < workers; w++) {
        if (started[w])
            pthread_join(ids[w], NULL);
        else
            run_share(&shares[w]); /* no thread to be had: do it here */
    }
}

void p4_for_examples(int items, int workers, p4_example_fn *fn, void *ctx)
{
    if (workers > P4_MAX_WORKERS)
        workers = P4_MAX_WORKERS;
    if (workers > items)
        workers = items;
    if (workers <= 1) {
        fn(ctx, 0, items, 0);
        return;
    }
    share shares[P4_MAX_WORKERS];
    for (int w = 0; w < workers; w++)
        shares[w] = (share){ fn, ctx, items * w / workers, items * (w + 1) / workers, w };
    if (pool_acquire(workers))
        pool_run(shares, workers);
    else
        threads_run(shares, workers);
}

/* --- bulk copies ------------------------------------------------------------ */

/* Below this many floats (256 KiB) a copy is not worth waking a thread. */
enum { COPY_SPLIT_MIN = 1 << 16, COPY_BLOCK = 1 << 14 };

typedef struct {
    float *dst;
    const float *src;
    size_t n;
} copy_job;

static void copy_blocks(void *ctx, int first, int last, int worker)
{
    (void)worker;
    const copy_job *job = ctx;
    const size_t from = (size_t)first * COPY_BLOCK;
    size_t to = (size_t)last * COPY_BLOCK;
    if (to > job->n)
        to = job->n;
    if (job->src)
        memcpy(job->dst + from, job->src + from, (to - from) * sizeof(float));
    else
        memset(job->dst + from, 0, (to - from) * sizeof(float));
}

void p4_parallel_copy(float *dst, const float *src, size_t n)
{
    if (dst == NULL || n == 0)
        return;
    copy_job job = { dst, src, n };
    const int blocks = (int)((n + COPY_BLOCK - 1) / COPY_BLOCK);
    p4_for_examples(blocks, n >= COPY_SPLIT_MIN ? p4_workers_for(blocks) : 1, copy_blocks, &job);
}
