/* model_pool.c: idle networks kept for reuse; see model_pool.h. */
#include "model/model_pool.h"

#include <pthread.h>
#include <stdlib.h>

typedef struct idle {
    struct idle *next;
    p4_model *model;
} idle;

struct p4_model_pool {
    pthread_mutex_t lock;
    idle *free_list;
    int built, lent;
};

int p4_model_pool_new(p4_model_pool **out, p4_error *err)
{
    if (out == NULL)
        return p4_error_set(err, P4_EINVAL, "model pool: NULL argument");
    *out = calloc(1, sizeof **out);
    if (*out == NULL)
        return p4_error_set(err, P4_ENOMEM, "out of memory for a model pool");
    pthread_mutex_init(&(*out)->lock, NULL);
    return P4_OK;
}

void p4_model_pool_destroy(p4_model_pool **pool)
{
    if (pool == NULL || *pool == NULL)
        return;
    p4_model_pool *p = *pool;
    while (p->free_list != NULL) {
        idle *i = p->free_list;
        p->free_list = i->next;
        p4_model_destroy(&i->model);
        free(i);
    }
    pthread_mutex_destroy(&p->lock);
    free(p);
    *pool = NULL;
}

int p4_model_pool_take(p4_model_pool *pool, const char *cfg_path, const p4_cfg_shape *shape,
                       int batch, const uint64_t *seed, p4_model **out, p4_error *err)
{
    if (pool == NULL || cfg_path == NULL || shape == NULL || out == NULL || batch < 1)
        return p4_error_set(err, P4_EINVAL, "model pool take: bad arguments");
    *out = NULL;
    idle *found = NULL;
    pthread_mutex_lock(&pool->lock);
    for (idle **at = &pool->free_list; *at != NULL; at = &(*at)->next)
        if (p4_model_fits((*at)->model, cfg_path, shape, batch)) {
            found = *at;
            *at = found->next;
            break;
        }
    if (found != NULL)
        pool->lent++;
    pthread_mutex_unlock(&pool->lock);
    if (found != NULL) {
        *out = found->model;
        free(found);
        if (seed != NULL)
            p4_model_initialise(*out, *seed);
        return P4_OK;
    }
    int rc = p4_model_new(out, cfg_path, shape, batch, seed != NULL ? *seed : 0, err);
    if (rc == P4_OK) {
        pthread_mutex_lock(&pool->lock);
        pool->built++;
        pool->lent++;
        pthread_mutex_unlock(&pool->lock);
    }
    return rc;
}

void p4_model_pool_give(p4_model_pool *pool, p4_model **model)
{
    if (model == NULL || *model == NULL)
        return;
    idle *i = pool != NULL ? malloc(sizeof *i) : NULL;
    if (i == NULL) { /* nowhere to keep it: free it instead */
        p4_model_destroy(model);
        if (pool != NULL) {
            pthread_mutex_lock(&pool->lock);
            pool->lent--;
            pool->built--;
            pthread_mutex_unlock(&pool->lock);
        }
        return;
    }
    i->model = *model;
    *model = NULL;
    pthread_mutex_lock(&pool->lock);
    i->next = pool->free_list;
    pool->free_list = i;
    pool->lent--;
    pthread_mutex_unlock(&pool->lock);
}

void p4_model_pool_counts(p4_model_pool *pool, int *built, int *lent)
{
    if (pool == NULL)
        return;
    pthread_mutex_lock(&pool->lock);
    if (built)
        *built = pool->built;
    if (lent)
        *lent = pool->lent;
    pthread_mutex_unlock(&pool->lock);
}
