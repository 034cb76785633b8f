/* parallel.c: see parallel.h. */
#include "common/parallel.h"

#include <pthread.h>
#include <stdlib.h>

typedef struct {
    pthread_mutex_t lock;
    int next, n, failed;
    p4_item_fn *fn;
    void *user;
    p4_error first_error;
    int first_code;
} shared_work;

static void *worker(void *arg)
{
    shared_work *w = arg;
    for (;;) {
        pthread_mutex_lock(&w->lock);
        int item = w->failed ? w->n : w->next++;
        pthread_mutex_unlock(&w->lock);
        if (item >= w->n)
            return NULL;
        p4_error err = {0};
        int rc = w->fn(w->user, item, &err);
        if (rc != P4_OK) {
            pthread_mutex_lock(&w->lock);
            if (!w->failed) {
                w->failed = 1;
                w->first_code = rc;
                w->first_error = err;
            }
            pthread_mutex_unlock(&w->lock);
        }
    }
}

int p4_parallel_for(int n, int threads, p4_item_fn *fn, void *user, p4_error *err)
{
    if (n < 0 || !fn)
        return p4_error_set(err, P4_EINVAL, "parallel for: bad arguments");
    if (threads <= 1 || n <= 1) {
        for (int i = 0; i < n; i++) {
            int rc = fn(user, i, err);
            if (rc != P4_OK)
                return rc;
        }
        return P4_OK;
    }
    if (threads > n)
        threads = n;
    shared_work w = { .next = 0, .n = n, .fn = fn, .user = user };
    pthread_mutex_init(&w.lock, NULL);
    pthread_t *ids = calloc((size_t)threads, sizeof *ids);
    if (!ids) {
        pthread_mutex_destroy(&w.lock);
        return p4_error_set(err, P4_ENOMEM, "parallel for: out of memory");
    }
    int started = 0;
    for (; started < threads; started++)
        if (pthread_create(&ids[started], NULL, worker, &w) != 0)
            break;
    if (started == 0)
        worker(&w); /* no thread could start: do the work here */
    for (int t = 0; t < started; t++)
        pthread_join(ids[t], NULL);
    free(ids);
    pthread_mutex_destroy(&w.lock);
    if (w.failed) {
        if (err)
            *err = w.first_error;
        return w.first_code;
    }
    return P4_OK;
}
