/* audit_canaries.c: building and scoring the audit's canaries; see
 * audit_canaries.h. */
#include "p4node/audit_canaries.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int copy_row(p4_dataset *to, int at, const p4_dataset *from, int row)
{
    size_t size = p4_dataset_example_size(from);
    memcpy(to->pixels + (size_t)at * size, from->pixels + (size_t)row * size, size);
    to->labels[at] = from->labels[row];
    return P4_OK;
}

/* Each canary lights `pixels` distinct pixels drawn uniformly; the label is
 * uniform too. */
static int make_sparse(p4_canary_set *s, const p4_dataset *source, int pixels, p4_rng *rng,
                       p4_error *err)
{
    size_t size = p4_dataset_example_size(source);
    int *order = malloc(size * sizeof *order);
    if (!order)
        return p4_error_set(err, P4_ENOMEM, "canaries: out of memory");
    for (size_t j = 0; j < size; j++)
        order[j] = (int)j;
    for (int j = 0; j < s->canaries; j++) {
        uint8_t *row = s->data->pixels + (size_t)(s->real + j) * size;
        memset(row, 0, size);
        /* A partial Fisher-Yates shuffle picks distinct pixels. */
        for (int k = 0; k < pixels; k++) {
            int pick = k + (int)p4_rng_below(rng, (uint64_t)size - (uint64_t)k);
            int t = order[k];
            order[k] = order[pick];
            order[pick] = t;
            row[order[k]] = 255;
        }
        s->data->labels[s->real + j] = (uint16_t)p4_rng_below(rng, (uint64_t)source->classes);
    }
    free(order);
    return P4_OK;
}

/* Source rows nobody holds, each with a wrong label. */
static int make_mislabelled(p4_canary_set *s, const p4_dataset *source, const unsigned char *taken,
                            p4_rng *rng, p4_error *err)
{
    int *free_rows = malloc((size_t)source->count * sizeof *free_rows), nfree = 0;
    if (!free_rows)
        return p4_error_set(err, P4_ENOMEM, "canaries: out of memory");
    for (int i = 0; i < source->count; i++)
        if (!taken || !taken[i])
            free_rows[nfree++] = i;
    if (nfree < s->canaries) {
        free(free_rows);
        return p4_error_set(err, P4_EINVAL, "canaries: %d mislabelled canaries need as many "
                            "examples no client holds; the train set has %d", s->canaries, nfree);
    }
    for (int j = 0; j < s->canaries; j++) {
        int pick = j + (int)p4_rng_below(rng, (uint64_t)(nfree - j));
        int row = free_rows[pick];
        free_rows[pick] = free_rows[j];
        copy_row(s->data, s->real + j, source, row);
        int wrong = 1 + (int)p4_rng_below(rng, (uint64_t)(source->classes - 1));
        s->data->labels[s->real + j] = (uint16_t)((source->labels[row] + wrong) % source->classes);
    }
    free(free_rows);
    return P4_OK;
}

int p4_canary_set_new(p4_canary_set **out, const p4_dataset *source, const int *split, int n,
                      const unsigned char *taken, int m, const p4_canary_design *design,
                      p4_rng *rng, p4_error *err)
{
    if (!out || !source || (!split && n > 0) || n < 0 || m < 1 || !design || !rng ||
        source->classes < 2)
        return p4_error_set(err, P4_EINVAL, "canaries: bad arguments");
    size_t size = p4_dataset_example_size(source);
    if (design->kind == P4_CANARY_SPARSE && (design->pixels < 1 || (size_t)design->pixels > size))
        return p4_error_set(err, P4_EINVAL, "canaries: %d lit pixels of an example of %zu",
                            design->pixels, size);
    *out = NULL;
    p4_canary_set *s = calloc(1, sizeof *s);
    if (!s)
        return p4_error_set(err, P4_ENOMEM, "canaries: out of memory");
    s->real = n;
    s->canaries = m;
    int rc = p4_dataset_new(&s->data, "audit", n + m, source->width, source->height,
                            source->channels, source->classes, err);
    s->included = calloc((size_t)m, 1);
    s->train_idx = malloc((size_t)(n + m) * sizeof *s->train_idx);
    if (rc == P4_OK && (!s->included || !s->train_idx))
        rc = p4_error_set(err, P4_ENOMEM, "canaries: out of memory for %d canaries", m);
    for (int i = 0; i < n && rc == P4_OK; i++) {
        if (split[i] < 0 || split[i] >= source->count)
            rc = p4_error_set(err, P4_EINVAL, "canaries: split row %d out of range", split[i]);
        else
            copy_row(s->data, i, source, split[i]);
    }
    if (rc == P4_OK)
        rc = design->kind == P4_CANARY_SPARSE ? make_sparse(s, source, design->pixels, rng, err)
                                              : make_mislabelled(s, source, taken, rng, err);
    if (rc != P4_OK) {
        p4_canary_set_destroy(&s);
        return rc;
    }
    /* The secret: a fair coin per canary, drawn after the canaries exist. */
    for (int i = 0; i < n; i++)
        s->train_idx[s->train_count++] = i;
    for (int j = 0; j < m; j++) {
        s->included[j] = (unsigned char)p4_rng_bernoulli(rng, 0.5);
        if (s->included[j])
            s->train_idx[s->train_count++] = n + j;
    }
    *out = s;
    return P4_OK;
}

void p4_canary_set_destroy(p4_canary_set **set)
{
    if (!set || !*set)
        return;
    p4_dataset_destroy(&(*set)->data);
    free((*set)->included);
    free((*set)->train_idx);
    free(*set);
    *set = NULL;
}

int p4_canary_scores(const p4_canary_set *set, p4_model *model, double *scores, p4_error *err)
{
    if (!set || !model || !scores)
        return p4_error_set(err, P4_EINVAL, "canary scores: bad arguments");
    int classes = p4_model_classes(model), capacity = p4_model_capacity(model);
    if (classes != set->data->classes ||
        (size_t)p4_model_input_size(model) != p4_dataset_example_size(set->data))
        return p4_error_set(err, P4_EMODEL, "canary scores: the model does not fit the canaries");
    int *rows = malloc((size_t)capacity * sizeof *rows);
    float *x = malloc((size_t)capacity * p4_dataset_example_size(set->data) * sizeof *x);
    int rc = (rows && x) ? P4_OK : p4_error_set(err, P4_ENOMEM, "canary scores: out of memory");
    for (int first = 0; first < set->canaries && rc == P4_OK; first += capacity) {
        int n = set->canaries - first < capacity ? set->canaries - first : capacity;
        for (int i = 0; i < n; i++)
            rows[i] = set->real + first + i;
        if ((rc = p4_dataset_batch(set->data, rows, n, x, NULL)) != P4_OK ||
            (rc = p4_model_load_inputs(model, x, n)) != P4_OK) {
            p4_error_set(err, rc, "canary scores: cannot load canaries %d..%d", first, first + n - 1);
            break;
        }
        p4_model_forward(model, 0);
        const float *logits = p4_model_logits(model);
        for (int i = 0; i < n; i++) {
            const float *z = logits + (size_t)i * classes;
            int y = set->data->labels[rows[i]];
            double other = -INFINITY;
            for (int k = 0; k < classes; k++)
                if (k != y && z[k] > other)
                    other = z[k];
            scores[first + i] = (double)z[y] - other;
        }
    }
    free(rows);
    free(x);
    return rc;
}
