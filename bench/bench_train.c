/* bench_train.c: how fast p4 trains one model, plain or with DP-SGD.
 *
 *   bench_train --model NAME [--mode plain|dp] [--batch 250] [--threads N]
 *               [--seconds S] [--seed 1] [--cfg-dir DIR] [--json] [--profile]
 *               [--noise-layout chunked|serial]
 *
 * NAME is a cfg in configs/models (mlp-28x28x1, cnn1-32x32x3, ...); the input
 * shape is read from its "-WxHxC" suffix, with 10 classes.  The work is the
 * one bench/torch_peer.py times, so the two can be compared:
 *   plain  p4_train_step (SGD, lr 0.01, no momentum) on a batch of `batch`;
 *   dp     p4_dpsgd_step on a FIXED batch of exactly `batch` examples
 *          (expected_batch = batch, no Poisson draw, so every step does the
 *          same work as the peer's), clip 1, sigma 1, noise from the seeded
 *          software enclave.
 * Data are synthetic (seeded random pixels and labels) in a p4_dataset of
 * 5000 examples, visited in consecutive batches; each step turns its batch's
 * bytes into floats as p4's own training loop does.  Two untimed warm-up
 * steps, then whole steps are timed until `seconds` have passed (and at
 * least 3 steps).  The run is cut into 5 stretches of about equal time:
 * examples_per_s is the fastest stretch's rate and examples_per_s_mean the
 * whole run's.  (This virtual machine's speed drifts by 10-30% over
 * seconds; torch_peer.py reports the same two figures.)  Peak RSS is
 * getrusage's ru_maxrss.  One line is printed: JSON with --json (the fields
 * torch_peer.py prints), else readable text.
 *
 * --profile also times the phases of every timed step (model/step_phases.h:
 * forward, backward, per-example norms, clipped sum, noise, update) and
 * reports each phase's median over the steps, its share of the sum of the
 * medians and its GFLOP/s (FLOPs counted from the layer shapes, as for
 * the whole step; noise and update count none: noise gets ns per sample).
 * Text mode prints a table after the line; JSON gets a "phases" array
 * (bench/run shows it as a table per model and mode). */
#include <cblas.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <darknet.h>

#include "common/error.h"
#include "common/json.h"
#include "common/progress.h"
#include "common/rng.h"
#include "datasets/dataset.h"
#include "dp/dpsgd.h"
#include "model/dense_kernel.h"
#include "model/gemm.h"
#include "model/model.h"
#include "model/optimizer.h"
#include "model/trainer.h"
#include "tee/enclave.h"

#define EXAMPLES 5000
#define CLASSES 10
#define WARMUP_STEPS 2
#define MIN_STEPS 3

typedef struct {
    const char *model, *cfg_dir, *noise_layout;
    int dp, batch, threads, json, profile;
    double seconds;
    uint64_t seed;
} options;

/* Everything one run needs; freed by bench_close. */
typedef struct {
    p4_dataset *ds;
    p4_model *model;
    p4_sgd *sgd;
    p4_enclave *enclave;
    p4_dpsgd *dpsgd;
    int *order;
    float *x, *y;
    int next;              /* first example of the next batch */
    p4_step_phases *phases; /* --profile: one record per timed step */
    long long phase_steps, phase_room;
} bench;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: bench_train --model NAME [--mode plain|dp] [--batch 250] [--threads N]\n"
            "                   [--seconds S] [--seed 1] [--cfg-dir DIR] [--json] [--profile]\n"
            "                   [--noise-layout chunked|serial]\n"
            "  NAME     a cfg in configs/models, e.g. mlp-28x28x1 or cnn2-32x32x3\n"
            "  threads  OpenBLAS threads (default: the machine's cores)\n"
            "  seconds  time budget of the timed steps (default 5; at least 3 steps)\n"
            "  profile  also time each step's phases (forward, backward, norms, clipped sum,\n"
            "           noise, update) and print their medians, shares and GFLOP/s\n"
            "  noise-layout  dp: the enclave's noise layout (default chunked, [dp] noise_layout)\n");
}

/* Returns -1 to go on, else the exit status. */
static int parse_options(int argc, char **argv, options *o)
{
    static const struct option longopts[] = {
        {"model", required_argument, NULL, 'm'}, {"mode", required_argument, NULL, 'd'},
        {"batch", required_argument, NULL, 'b'}, {"threads", required_argument, NULL, 't'},
        {"seconds", required_argument, NULL, 's'}, {"seed", required_argument, NULL, 'r'},
        {"cfg-dir", required_argument, NULL, 'c'}, {"json", no_argument, NULL, 'j'},
        {"profile", no_argument, NULL, 'p'}, {"noise-layout", required_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    *o = (options){ .batch = 250, .threads = cores > 0 ? (int)cores : 1, .seconds = 5, .seed = 1,
                    .noise_layout = "chunked" };
    const char *mode = "plain";
    int ch;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (ch) {
        case 'm': o->model = optarg; break;
        case 'd': mode = optarg; break;
        case 'b': o->batch = atoi(optarg); break;
        case 't': o->threads = atoi(optarg); break;
        case 's': o->seconds = atof(optarg); break;
        case 'r': o->seed = strtoull(optarg, NULL, 10); break;
        case 'c': o->cfg_dir = optarg; break;
        case 'j': o->json = 1; break;
        case 'p': o->profile = 1; break;
        case 'n': o->noise_layout = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!o->model || optind < argc) {
        fprintf(stderr, "bench_train: %s\n", o->model ? "unexpected argument" : "--model NAME is required");
        usage(stderr);
        return 2;
    }
    if (strcmp(mode, "plain") != 0 && strcmp(mode, "dp") != 0) {
        fprintf(stderr, "bench_train: --mode must be plain or dp\n");
        return 2;
    }
    o->dp = strcmp(mode, "dp") == 0;
    if (o->batch < 1 || o->batch > EXAMPLES || o->threads < 1 || o->threads > 256 ||
        !(o->seconds >= 0)) {
        fprintf(stderr, "bench_train: --batch must be 1..%d, --threads 1..256, --seconds >= 0\n",
                EXAMPLES);
        return 2;
    }
    return -1;
}

/* The input shape from the name's "-WxHxC" suffix (mlp-28x28x1 -> 28, 28, 1). */
static int shape_from_name(const char *name, p4_cfg_shape *shape)
{
    const char *dash = strrchr(name, '-');
    char rest;
    if (!dash || sscanf(dash + 1, "%dx%dx%d%c", &shape->width, &shape->height,
                        &shape->channels, &rest) != 3 ||
        shape->width < 1 || shape->height < 1 || shape->channels < 1)
        return 0;
    shape->classes = CLASSES;
    return 1;
}

/* configs/models/NAME.cfg: under --cfg-dir if given, else under the working
 * directory if it is the repository, else beside this source file's tree. */
static void cfg_path(const options *o, char *out, size_t size)
{
    if (o->cfg_dir) {
        snprintf(out, size, "%s/%s.cfg", o->cfg_dir, o->model);
        return;
    }
    snprintf(out, size, "configs/models/%s.cfg", o->model);
    if (access(out, R_OK) == 0)
        return;
    const char *here = __FILE__, *slash = strrchr(here, '/');
    int dir = slash ? (int)(slash - here) : 0;
    snprintf(out, size, "%.*s%sconfigs/models/%s.cfg", dir, here, dir ? "/../" : "../", o->model);
}

static double peak_rss_mib(void)
{
    struct rusage ru;
    return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss / 1024.0 : NAN; /* Linux: KiB */
}

static int synthetic_dataset(p4_dataset **out, const p4_cfg_shape *shape, uint64_t seed,
                             p4_error *err)
{
    int rc = p4_dataset_new(out, "synthetic", EXAMPLES, shape->width, shape->height,
                            shape->channels, CLASSES, err);
    if (rc != P4_OK)
        return rc;
    p4_rng rng;
    p4_rng_init_seeded(&rng, seed, "bench data");
    p4_rng_bytes(&rng, (*out)->pixels, (size_t)EXAMPLES * p4_dataset_example_size(*out));
    for (int i = 0; i < EXAMPLES; i++)
        (*out)->labels[i] = (uint16_t)p4_rng_below(&rng, CLASSES);
    p4_rng_wipe(&rng);
    return P4_OK;
}

static void bench_close(bench *b)
{
    p4_dpsgd_destroy(&b->dpsgd);
    p4_enclave_close(&b->enclave);
    p4_sgd_destroy(&b->sgd);
    p4_model_destroy(&b->model);
    p4_dataset_destroy(&b->ds);
    free(b->order);
    free(b->x);
    free(b->y);
    free(b->phases);
}

static int bench_open(bench *b, const options *o, p4_error *err)
{
    memset(b, 0, sizeof *b);
    p4_cfg_shape shape;
    if (!shape_from_name(o->model, &shape))
        return p4_error_set(err, P4_EINVAL, "model name %s does not end in -WxHxC", o->model);
    char path[2048];
    cfg_path(o, path, sizeof path);
    int rc = synthetic_dataset(&b->ds, &shape, o->seed, err);
    if (rc == P4_OK)
        rc = p4_model_new(&b->model, path, &shape, o->batch, o->seed, err);
    if (rc == P4_OK)
        rc = p4_sgd_new(&b->sgd, b->model, 0.01, 0.0, 0.0, err);
    if (rc == P4_OK && o->dp) {
        /* The rate is only recorded (p4_dpsgd_epoch would use it); the step
         * itself divides by the expected batch we pass, which is `batch`. */
        p4_dpsgd_params params = { (double)o->batch / EXAMPLES, 1.0, 1.0 };
        rc = p4_enclave_open_software(&b->enclave, 1, o->seed, err);
        if (rc == P4_OK)
            rc = p4_enclave_set_noise_layout(b->enclave, o->noise_layout, err);
        if (rc == P4_OK)
            rc = p4_dpsgd_new(&b->dpsgd, b->model, b->sgd, &params, b->enclave, err);
    }
    if (rc != P4_OK)
        return rc;
    b->order = malloc(EXAMPLES * sizeof(int));
    b->x = malloc((size_t)o->batch * p4_dataset_example_size(b->ds) * sizeof(float));
    b->y = malloc((size_t)o->batch * CLASSES * sizeof(float));
    if (!b->order || !b->x || !b->y)
        return p4_error_set(err, P4_ENOMEM, "out of memory for batches");
    for (int i = 0; i < EXAMPLES; i++)
        b->order[i] = i;
    return P4_OK;
}

/* The record the next timed step fills (zeroed), or NULL when not
 * profiling or out of memory. */
static p4_step_phases *next_phases(bench *b, const options *o)
{
    if (!o->profile)
        return NULL;
    if (b->phase_steps == b->phase_room) {
        long long room = b->phase_room ? 2 * b->phase_room : 1024;
        p4_step_phases *more = realloc(b->phases, (size_t)room * sizeof *more);
        if (more == NULL)
            return NULL;
        b->phases = more;
        b->phase_room = room;
    }
    p4_step_phases *p = &b->phases[b->phase_steps++];
    memset(p, 0, sizeof *p);
    return p;
}

/* One whole step on the next `batch` consecutive examples (wrapping);
 * phases (may be NULL) receives its phase times. */
static int bench_step(bench *b, const options *o, double *loss, p4_step_phases *phases,
                      p4_error *err)
{
    if (b->next + o->batch > EXAMPLES)
        b->next = 0;
    int rc = p4_dataset_batch(b->ds, b->order + b->next, o->batch, b->x, b->y);
    if (rc != P4_OK)
        return p4_error_set(err, rc, "cannot assemble a batch");
    b->next += o->batch;
    if (o->dp) {
        p4_dpsgd_set_phases(b->dpsgd, phases);
        return p4_dpsgd_step(b->dpsgd, b->x, b->y, o->batch, o->batch, NULL, NULL, loss, err);
    }
    rc = p4_train_step_phases(b->model, b->sgd, b->x, b->y, o->batch, loss, phases);
    return rc == P4_OK ? P4_OK : p4_error_set(err, rc, "training step failed");
}

/* Rates of the stretches of a timed run. */
enum { STRETCHES = 5 };

typedef struct {
    double start, length;    /* current stretch: start time; target length */
    long long steps;         /* steps in the current stretch */
    int done;                /* stretches completed */
    double best;             /* fastest completed stretch, steps per second */
} stretches;

static void stretch_step(stretches *s, double now)
{
    s->steps++;
    if (now - s->start < s->length)
        return;
    double rate = s->steps / (now - s->start);
    if (rate > s->best)
        s->best = rate;
    s->done++;
    s->start = now;
    s->steps = 0;
}

/* Useful FLOPs of one training example, from the layer shapes (issue 16):
 * the forward product, the weight-gradient product and the input-delta
 * product of every dense and convolutional layer, 2 FLOPs per
 * multiply-add, but no input delta for the first parametrised layer (it
 * has nothing below it to pass one to).  Biases, activations, pooling, the
 * loss, clipping and noise are not counted: they are the overhead the
 * fraction of peak charges against p4. */
static double useful_flops(p4_model *model)
{
    network *net = p4_model_network(model);
    double flops = 0;
    int first = 1;
    for (int i = 0; i < net->n; i++) {
        const layer *l = &net->layers[i];
        double macs;
        if (l->type == CONNECTED)
            macs = (double)l->inputs * l->outputs;
        else if (l->type == CONVOLUTIONAL)
            macs = (double)l->n * l->size * l->size * l->c * l->out_w * l->out_h;
        else
            continue;
        flops += 2 * macs * (first ? 2 : 3);
        first = 0;
    }
    return flops;
}

/* Useful FLOPs of each phase for one example, counted as useful_flops
 * counts them and attributed to the phase that does them: forward
 * products; plain backward: weight gradients and input deltas; DP
 * backward: input deltas; DP norms: a convolution's per-example weight
 * gradient and every squared norm; DP clipped sum: the dense layers'
 * clipped product and the convolutions' weighted sum of their per-example
 * gradients.  Noise and update count none. */
static void phase_flops(p4_model *model, int dp, double flops[P4_PHASES])
{
    network *net = p4_model_network(model);
    memset(flops, 0, P4_PHASES * sizeof *flops);
    int first = 1;
    for (int i = 0; i < net->n; i++) {
        const layer *l = &net->layers[i];
        double macs, params;
        if (l->type == CONNECTED) {
            macs = (double)l->inputs * l->outputs;
            params = macs + l->outputs;
        } else if (l->type == CONVOLUTIONAL) {
            params = (double)l->n * l->size * l->size * l->c + l->n;
            macs = (params - l->n) * l->out_w * l->out_h;
        } else {
            continue;
        }
        flops[P4_PHASE_FORWARD] += 2 * macs;
        flops[P4_PHASE_BACKWARD] += (first ? 0 : 2 * macs) + (dp ? 0 : 2 * macs);
        if (dp && l->type == CONNECTED) {
            flops[P4_PHASE_NORMS] += 2.0 * (l->inputs + l->outputs);
            flops[P4_PHASE_CLIPPED_SUM] += 2 * macs;
        } else if (dp) {
            flops[P4_PHASE_NORMS] += 2 * macs + 2 * params;
            flops[P4_PHASE_CLIPPED_SUM] += 2 * params;
        }
        first = 0;
    }
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median seconds of each phase over the profiled steps. */
static void phase_medians(const bench *b, double median[P4_PHASES])
{
    double *v = malloc((size_t)(b->phase_steps > 0 ? b->phase_steps : 1) * sizeof *v);
    for (int p = 0; p < P4_PHASES; p++) {
        median[p] = NAN;
        if (v == NULL || b->phase_steps == 0)
            continue;
        for (long long s = 0; s < b->phase_steps; s++)
            v[s] = b->phases[s].seconds[p];
        qsort(v, (size_t)b->phase_steps, sizeof *v, compare_doubles);
        long long h = b->phase_steps / 2;
        median[p] = b->phase_steps % 2 ? v[h] : 0.5 * (v[h - 1] + v[h]);
    }
    free(v);
}

/* The profile: a table on stdout, or the JSON array's text (",\"phases\":[...]"). */
static void print_profile(const options *o, bench *b)
{
    double median[P4_PHASES], flops[P4_PHASES], total = 0;
    phase_medians(b, median);
    phase_flops(b->model, o->dp, flops);
    for (int p = 0; p < P4_PHASES; p++)
        total += isfinite(median[p]) ? median[p] : 0;
    const double samples = o->dp ? (double)p4_model_param_count(b->model) : 0;
    if (!o->json)
        printf("profile of %lld steps (median per phase; share of the sum of medians):\n"
               "  %-12s %9s %7s %9s\n", b->phase_steps, "phase", "ms/step", "share", "GFLOP/s");
    else
        printf(",\"phase_steps\":%lld,\"phases\":[", b->phase_steps);
    int shown = 0;
    for (int p = 0; p < P4_PHASES; p++) {
        if (!o->dp && (p == P4_PHASE_NORMS || p == P4_PHASE_CLIPPED_SUM || p == P4_PHASE_NOISE))
            continue;
        double gflops = flops[p] > 0 && median[p] > 0 ? flops[p] * o->batch / median[p] / 1e9 : NAN;
        double share = total > 0 ? median[p] / total : NAN;
        if (!o->json) {
            printf("  %-12s %9.3f %6.1f%% ", p4_phase_name(p), 1e3 * median[p], 100 * share);
            if (isfinite(gflops))
                printf("%9.1f", gflops);
            else
                printf("%9s", "-");
            if (p == P4_PHASE_NOISE && samples > 0)
                printf("  (%.0f samples, %.2f ns each)", samples, 1e9 * median[p] / samples);
            printf("\n");
            continue;
        }
        printf("%s{\"phase\":\"%s\",\"ms\":", shown++ ? "," : "", p4_phase_name(p));
        p4_json_number(stdout, 1e3 * median[p]);
        printf(",\"share\":");
        p4_json_number(stdout, share);
        printf(",\"gflops\":");
        p4_json_number(stdout, gflops);
        if (p == P4_PHASE_NOISE && samples > 0) {
            printf(",\"samples\":%.0f,\"ns_per_sample\":", samples);
            p4_json_number(stdout, 1e9 * median[p] / samples);
        }
        printf("}");
    }
    if (o->json)
        printf("]");
}

static void print_result(const options *o, bench *b, long long steps, double elapsed,
                         const stretches *s, double loss, double load)
{
    double mean = steps * (double)o->batch / elapsed;
    /* Too short a run for a stretch: the whole run is the only one. */
    double rate = s->done > 0 ? s->best * o->batch : mean;
    const char *mode = o->dp ? "dp" : "plain";
    size_t params = p4_model_param_count(b->model);
    if (!o->json) {
        printf("%s %s: %.1f examples/s in the fastest of %d stretches, %.1f over the run "
               "(%lld steps of %d in %.3f s, %d threads, %s gemm, dense kernel %s, OpenBLAS core %s), "
               "peak RSS %.1f MiB, %zu params, last loss %.4f\n",
               o->model, mode, rate, s->done, mean, steps, o->batch, elapsed, o->threads,
               p4_gemm_backend(), p4_dense_kernel_name(), openblas_get_corename(), peak_rss_mib(),
               params,
               loss / o->batch);
        if (o->profile)
            print_profile(o, b);
        return;
    }
    printf("{\"model\":");
    p4_json_string(stdout, o->model);
    printf(",\"mode\":\"%s\",\"impl\":\"p4\",\"examples_per_s\":%.1f,"
           "\"examples_per_s_mean\":%.1f,\"stretches\":%d,\"peak_rss_mib\":%.1f,"
           "\"batch\":%d,\"threads\":%d,\"steps\":%lld,\"seconds\":%.3f,\"params\":%zu,"
           "\"gemm\":\"%s\",\"blas_core\":",
           mode, rate, mean, s->done, peak_rss_mib(), o->batch, o->threads, steps, elapsed,
           params, p4_gemm_backend());
    /* OpenBLAS's kernel family (OPENBLAS_CORETYPE can force an older one:
     * Haswell's AVX2 kernels run at about half the speed of AVX-512's,
     * docs/performance.md). */
    p4_json_string(stdout, openblas_get_corename());
    /* p4's dense kernel or OpenBLAS for large products (P4_DENSE_KERNEL) */
    printf(",\"dense_kernel\":");
    p4_json_string(stdout, p4_dense_kernel_name());
    printf(",\"load_avg_1m\":");
    p4_json_number(stdout, round(load * 100) / 100);
    printf(",\"loss\":");
    p4_json_number(stdout, loss / o->batch);
    double flops = useful_flops(b->model);
    printf(",\"flops_per_example\":%.0f,\"gflops\":", flops);
    p4_json_number(stdout, rate * flops / 1e9);
    if (o->profile)
        print_profile(o, b);
    printf("}\n");
}

int main(int argc, char **argv)
{
    options o;
    int rc = parse_options(argc, argv, &o);
    if (rc >= 0)
        return rc;
    p4_gemm_set_threads(o.threads);
    p4_error err = {0};
    bench b;
    double loss = 0;
    rc = bench_open(&b, &o, &err);
    for (int i = 0; i < WARMUP_STEPS && rc == P4_OK; i++)
        rc = bench_step(&b, &o, &loss, NULL, &err);
    double load = NAN;
    getloadavg(&load, 1); /* other work on the machine skews the figures */
    long long steps = 0;
    double start = p4_now_seconds(), elapsed = 0;
    stretches s = { .start = start, .length = o.seconds / STRETCHES };
    while (rc == P4_OK && (steps < MIN_STEPS || s.done < STRETCHES)) {
        rc = bench_step(&b, &o, &loss, next_phases(&b, &o), &err);
        steps++;
        double now = p4_now_seconds();
        elapsed = now - start;
        stretch_step(&s, now);
    }
    if (rc == P4_OK && !isfinite(loss))
        rc = p4_error_set(&err, P4_EMODEL, "the loss is not finite: the step is broken");
    if (rc == P4_OK)
        print_result(&o, &b, steps, elapsed, &s, loss, load);
    else
        fprintf(stderr, "bench_train: %s: %s\n", o.model, err.message);
    bench_close(&b);
    return rc == P4_OK ? 0 : 1;
}
