/* per_example.c: per-example gradients from a batched backward; see per_example.h. */
#include "dp/per_example.h"
#include "model/activation.h"
#include "model/conv.h"
#include "model/gemm.h"
#include "common/progress.h"
#include "common/workers.h"

#include <cblas.h>
#include <darknet.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/darknet_helpers.h"


/* What the backward pass leaves behind for one parametrised layer. */
typedef struct {
    int index;           /* layer index in the network                    */
    const float *input;  /* the layer's input during this pass            */
    float *grads;        /* conv only: capacity x (weights + biases)      */
} layer_record;

struct p4_per_example {
    p4_model *model;
    network *net;
    int nlayers;
    layer_record *record;      /* one per CONNECTED/CONVOLUTIONAL layer */
    int *record_of_layer;      /* net->n entries: index into record or -1 */
    int first_record;          /* records before it are frozen           */
    int held_first, held_last; /* layers held elsewhere (an enclave), or -1 */
    double *norms_sq;          /* the caller's array during a backward  */
    int batch;                 /* examples in the current pass          */
    int group;                 /* rows per example (augmented copies)   */
    p4_step_phases *phases;    /* profiling, or NULL                    */
    double norm_seconds;       /* this pass's share of P4_PHASE_NORMS   */
};

/* darknet's backward callbacks take no user pointer: the pass in progress on
 * this thread is found here, set and cleared around backward_network(). */
static _Thread_local p4_per_example *active_pass;

static size_t conv_weight_count(const layer *l)
{
    return (size_t)l->n * l->size * l->size * l->c;
}

static void dense_backward(layer l, network net)
{
    p4_per_example *pe = active_pass;
    layer_record *rec = &pe->record[pe->record_of_layer[net.index]];
    rec->input = net.input;

    gradient_array(l.output, l.outputs * l.batch, l.activation, l.delta);
    double t = p4_phase_start(pe->phases);
    if (pe->group == 1) {
        for (int b = 0; b < l.batch; b++) {
            const float *d = l.delta + (size_t)b * l.outputs;
            const float *x = net.input + (size_t)b * l.inputs;
            double dd = cblas_sdot(l.outputs, d, 1, d, 1);
            double xx = cblas_sdot(l.inputs, x, 1, x, 1);
            pe->norms_sq[b] += dd * (xx + 1.0);
        }
    } else {
        /* A group's summed gradient sum_k d_k [x_k; 1]^T has squared norm
         * sum_{k,m} (d_k . d_m)(x_k . x_m + 1): still nothing materialised. */
        for (int j = 0; j < l.batch / pe->group; j++) {
            double s = 0;
            for (int k = j * pe->group; k < (j + 1) * pe->group; k++)
                for (int m = k; m < (j + 1) * pe->group; m++) {
                    const float *dk = l.delta + (size_t)k * l.outputs;
                    const float *dm = l.delta + (size_t)m * l.outputs;
                    const float *xk = net.input + (size_t)k * l.inputs;
                    const float *xm = net.input + (size_t)m * l.inputs;
                    double term = cblas_sdot(l.outputs, dk, 1, dm, 1) *
                                  (cblas_sdot(l.inputs, xk, 1, xm, 1) + 1.0);
                    s += k == m ? term : 2.0 * term;
                }
            pe->norms_sq[j] += s;
        }
    }
    if (pe->phases != NULL)
        pe->norm_seconds += p4_now_seconds() - t;
    /* Delta of the input, exactly as darknet does, through p4's gemm so a
     * large product is spread over the threads (model/gemm.h). */
    if (net.delta != NULL)
        gemm(0, 0, l.batch, l.inputs, l.outputs, 1.0f, l.delta, l.outputs, l.weights, l.inputs,
             1.0f, net.delta, l.inputs);
}

/* One worker's share of a conv layer's per-example pass: per-example
 * gradient rows, their squared norms, and the input deltas. */
typedef struct {
    layer *l;
    network *net;
    p4_per_example *pe;
    layer_record *rec;
    float *col[P4_MAX_WORKERS];
    float *flipped; /* p4_conv_flipped_weights_new, or NULL */
    double norm_s[P4_MAX_WORKERS], delta_s[P4_MAX_WORKERS]; /* profiling */
} conv_share;

static void conv_examples(void *ctx, int first, int last, int worker)
{
    conv_share *cs = ctx;
    layer *l = cs->l;
    const int filters = l->n, k = l->size * l->size * l->c, spatial = l->out_w * l->out_h;
    const size_t per_example = (size_t)filters * k + filters;
    const size_t image = (size_t)l->c * l->h * l->w;
    float *col = cs->col[worker];
    const int timed = cs->pe->phases != NULL;
    for (int b = first; b < last; b++) {
        double t0 = timed ? p4_now_seconds() : 0;
        float *d = l->delta + (size_t)b * filters * spatial;
        float *x = cs->net->input + (size_t)b * image;
        float *g = cs->rec->grads + (size_t)b * per_example;

        float *bias_grad = g + (size_t)filters * k; /* each filter's delta, summed */
        memset(bias_grad, 0, (size_t)filters * sizeof(float));
        p4_gradient_bias(l->output + (size_t)b * l->outputs, d, filters, spatial, l->activation,
                         bias_grad);
        p4_conv_example_weight_gradient(l, x, d, col, 0.0f, g);
        if (cs->pe->group == 1) /* else: per group, after every row is done */
            cs->pe->norms_sq[b] += cblas_sdot((int)per_example, g, 1, g, 1);
        double t1 = timed ? p4_now_seconds() : 0;

        if (cs->net->delta != NULL)
            p4_conv_input_delta(l, cs->flipped, d, col, cs->net->delta + (size_t)b * image);
        if (timed) {
            cs->norm_s[worker] += t1 - t0;
            cs->delta_s[worker] += p4_now_seconds() - t1;
        }
    }
}

static void conv_backward(layer l, network net)
{
    p4_per_example *pe = active_pass;
    layer_record *rec = &pe->record[pe->record_of_layer[net.index]];
    rec->input = net.input;

    /* Every example is independent (its activation gradient included):
     * spread them over p4's threads, each worker with its own im2col
     * buffer (worker 0 uses darknet's). */
    conv_share cs = { &l, &net, pe, rec, { net.workspace }, NULL, { 0 }, { 0 } };
    const size_t col_floats = (size_t)l.size * l.size * l.c * l.out_w * l.out_h;
    int workers = p4_workers_for(l.batch);
    for (int w = 1; w < workers; w++)
        if ((cs.col[w] = malloc(col_floats * sizeof(float))) == NULL)
            workers = w; /* fewer workers, same result */
    double t = p4_phase_start(pe->phases);
    if (net.delta != NULL)
        cs.flipped = p4_conv_flipped_weights_new(&l); /* NULL: the im2col route */
    p4_for_examples(l.batch, workers, conv_examples, &cs);
    free(cs.flipped);
    if (pe->phases != NULL) {
        /* The wall time, split as the threads' own time was. */
        double wall = p4_now_seconds() - t, norm = 0, delta = 0;
        for (int w = 0; w < workers; w++) {
            norm += cs.norm_s[w];
            delta += cs.delta_s[w];
        }
        pe->norm_seconds += norm + delta > 0 ? wall * norm / (norm + delta) : 0;
    }
    for (int w = 1; w < workers; w++)
        free(cs.col[w]);
    if (pe->group > 1) {
        /* Each group's summed gradient, from its rows' inner products. */
        double tg = p4_phase_start(pe->phases);
        const int per_example = (int)(conv_weight_count(&l) + (size_t)l.n);
        for (int j = 0; j < l.batch / pe->group; j++) {
            double s = 0;
            for (int k = j * pe->group; k < (j + 1) * pe->group; k++)
                for (int m = k; m < (j + 1) * pe->group; m++) {
                    double term = cblas_sdot(per_example, rec->grads + (size_t)k * per_example, 1,
                                             rec->grads + (size_t)m * per_example, 1);
                    s += k == m ? term : 2.0 * term;
                }
            pe->norms_sq[j] += s;
        }
        if (pe->phases != NULL)
            pe->norm_seconds += p4_now_seconds() - tg;
    }
}

int p4_per_example_new(p4_per_example **out, p4_model *model, p4_error *err)
{
    if (out == NULL || model == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_per_example_new: bad arguments");
    network *net = p4_model_network(model);
    p4_per_example *pe = calloc(1, sizeof *pe);
    if (pe == NULL)
        return p4_error_set(err, P4_ENOMEM, "out of memory");
    pe->model = model;
    pe->net = net;
    pe->held_first = pe->held_last = -1;
    pe->group = 1;
    pe->record = calloc((size_t)net->n, sizeof *pe->record);
    pe->record_of_layer = malloc((size_t)net->n * sizeof(int));
    if (pe->record == NULL || pe->record_of_layer == NULL)
        goto oom;
    int capacity = p4_model_capacity(model);
    for (int i = 0; i < net->n; i++) {
        layer *l = &net->layers[i];
        pe->record_of_layer[i] = -1;
        if (l->type != CONNECTED && l->type != CONVOLUTIONAL)
            continue;
        layer_record *rec = &pe->record[pe->nlayers];
        rec->index = i;
        if (l->type == CONVOLUTIONAL) {
            size_t per_example = conv_weight_count(l) + (size_t)l->n;
            rec->grads = malloc((size_t)capacity * per_example * sizeof(float));
            if (rec->grads == NULL)
                goto oom;
        }
        pe->record_of_layer[i] = pe->nlayers++;
    }
    *out = pe;
    return P4_OK;
oom:
    p4_per_example_destroy(&pe);
    return p4_error_set(err, P4_ENOMEM, "out of memory for per-example gradients");
}

void p4_per_example_destroy(p4_per_example **pe)
{
    if (pe == NULL || *pe == NULL)
        return;
    for (int r = 0; r < (*pe)->nlayers; r++)
        free((*pe)->record[r].grads);
    free((*pe)->record);
    free((*pe)->record_of_layer);
    free(*pe);
    *pe = NULL;
}

/* A frozen layer takes no part in a pass: no gradient, no norm, and no
 * delta for the layers below it (which are frozen too). */
static void frozen_backward(layer l, network net)
{
    (void)l;
    (void)net;
}

int p4_per_example_freeze_below(p4_per_example *pe, int first_trainable)
{
    if (pe == NULL || first_trainable < 0 || first_trainable >= pe->nlayers)
        return P4_EINVAL;
    pe->first_record = first_trainable;
    return P4_OK;
}

int p4_per_example_trainable(const p4_per_example *pe, int layer_index)
{
    if (pe == NULL || layer_index < 0 || layer_index >= pe->net->n)
        return 0;
    int r = pe->record_of_layer[layer_index];
    return r >= pe->first_record;
}

int p4_per_example_hold(p4_per_example *pe, int first, int last)
{
    int none = first == -1 && last == -1;
    if (pe == NULL || (!none && (first < 0 || last < first || last >= pe->net->n)))
        return P4_EINVAL;
    pe->held_first = first;
    pe->held_last = last;
    return P4_OK;
}

int p4_per_example_set_group(p4_per_example *pe, int group)
{
    if (pe == NULL || group < 1)
        return P4_EINVAL;
    pe->group = group;
    return P4_OK;
}

int p4_per_example_backward(p4_per_example *pe, double *norms_sq, int n)
{
    return p4_per_example_backward_from(pe, norms_sq, n, 0);
}

int p4_per_example_backward_from(p4_per_example *pe, double *norms_sq, int n, int lowest)
{
    if (pe == NULL || norms_sq == NULL || n != pe->net->batch || n < 1 || lowest < 0 ||
        lowest >= pe->net->n || n % pe->group != 0)
        return P4_EINVAL;
    network *net = pe->net;
    /* darknet's backward_network stops at a layer marked stopbackward. */
    int stop_saved = lowest > 0 ? net->layers[lowest - 1].stopbackward : 0;
    if (lowest > 0)
        net->layers[lowest - 1].stopbackward = 1;
    double start = p4_phase_start(pe->phases);
    memset(norms_sq, 0, (size_t)n * sizeof(double));
    pe->norms_sq = norms_sq;
    pe->batch = n;
    pe->norm_seconds = 0;

    /* Swap in the per-example backward functions for this pass only: the
     * same model also takes plain (non-private) steps. */
    void (*saved[P4_CFG_MAX_LAYERS])(struct layer, struct network);
    for (int i = 0; i < net->n && i < P4_CFG_MAX_LAYERS; i++) {
        saved[i] = net->layers[i].backward;
        if (pe->record_of_layer[i] >= 0 && pe->record_of_layer[i] < pe->first_record)
            net->layers[i].backward = frozen_backward;
        else if (pe->record_of_layer[i] < 0 && pe->first_record > 0 &&
                 i < pe->record[pe->first_record].index)
            net->layers[i].backward = frozen_backward; /* pooling below the frozen line */
        else if (net->layers[i].type == CONNECTED)
            net->layers[i].backward = dense_backward;
        else if (net->layers[i].type == CONVOLUTIONAL)
            net->layers[i].backward = conv_backward;
    }
    active_pass = pe;
    int rc = p4_model_backward(pe->model);
    active_pass = NULL;
    for (int i = 0; i < net->n && i < P4_CFG_MAX_LAYERS; i++)
        net->layers[i].backward = saved[i];
    if (lowest > 0)
        net->layers[lowest - 1].stopbackward = stop_saved;
    pe->norms_sq = NULL;
    if (pe->phases != NULL) {
        pe->phases->seconds[P4_PHASE_NORMS] += pe->norm_seconds;
        pe->phases->seconds[P4_PHASE_BACKWARD] += p4_now_seconds() - start - pe->norm_seconds;
    }
    return rc;
}

void p4_per_example_set_phases(p4_per_example *pe, p4_step_phases *phases)
{
    if (pe != NULL)
        pe->phases = phases;
}

int p4_per_example_accumulate(p4_per_example *pe, const float *factor, int n)
{
    if (pe == NULL || factor == NULL || n != pe->batch)
        return P4_EINVAL;
    network *net = pe->net;
    for (int r = pe->first_record; r < pe->nlayers; r++) {
        if (pe->record[r].index >= net->n)
            break; /* above the network's active top: held elsewhere (dp/protected.c) */
        if (pe->record[r].index >= pe->held_first && pe->record[r].index <= pe->held_last)
            continue; /* in the enclave (dp/protected.c): its gradients are there */
        layer *l = &net->layers[pe->record[r].index];
        if (l->type == CONNECTED) {
            for (int b = 0; b < n; b++) {
                float *d = l->delta + (size_t)b * l->outputs;
                cblas_sscal(l->outputs, factor[b], d, 1);
                cblas_saxpy(l->outputs, 1.0f, d, 1, l->bias_updates, 1);
            }
            gemm(1, 0, l->outputs, l->inputs, n, 1.0f, l->delta, l->outputs,
                 (float *)pe->record[r].input, l->inputs, 1.0f, l->weight_updates, l->inputs);
        } else {
            int weights = (int)conv_weight_count(l);
            int stride = weights + l->n;
            cblas_sgemv(CblasRowMajor, CblasTrans, n, weights, 1.0f, pe->record[r].grads,
                        stride, factor, 1, 1.0f, l->weight_updates, 1);
            cblas_sgemv(CblasRowMajor, CblasTrans, n, l->n, 1.0f,
                        pe->record[r].grads + weights, stride, factor, 1, 1.0f,
                        l->bias_updates, 1);
        }
    }
    pe->batch = 0; /* the deltas are scaled now: one accumulate per backward */
    return P4_OK;
}

int p4_clip_factors(const double *norms_sq, int n, double clip, float *factor)
{
    if ((norms_sq == NULL && n > 0) || (factor == NULL && n > 0) || n < 0 || !(clip > 0))
        return P4_EINVAL;
    for (int i = 0; i < n; i++) {
        if (!isfinite(norms_sq[i]) || norms_sq[i] < 0)
            return P4_EINVAL;
        double norm = sqrt(norms_sq[i]);
        factor[i] = (float)(norm > clip ? clip / norm : 1.0);
    }
    return P4_OK;
}
