/* bench_optee.c: a DP-SGD step with protected layers in the harness's TA,
 * against the software backend (issue 14).
 *
 *   bench_optee [--model cnn1-28x28x1] [--batch B] [--seconds S] [--json]
 *
 * Trainers on the same synthetic batches (28x28x1 pixels, one-hot
 * labels): software, optee with the output layer inside (the last dense
 * layer and the softmax), optee with the last two dense layers inside and,
 * for CNN1, optee from its second convolution (conv, max-pool, both dense
 * layers and the softmax: pp 2..6); and a mid range that ends below the
 * softmax (CNN1 pp 2..4, the MLP's pp 1..1: the normal world runs the
 * layers above and the activations at pp_end cross).
 * For each: milliseconds per step of B examples, the ratio to software, and
 * the bytes that crossed into and out of the TA per step (the harness
 * counts the parameter bytes it copies).  The harness runs the TA in a
 * separate process: its socket round trip and copies stand in for the
 * world switch, and the TA's kernels are plain loops; neither is a board's
 * cost.  --reproducible noise in the chunked layout (the TA draws the
 * software backend's stream), so the runs compute the same steps.
 * Figures, not tests. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/rng.h"
#include "dp/dpsgd.h"
#include "model/model.h"
#include "model/optimizer.h"
#include "tee/enclave.h"

#define CLASSES 10
#define INPUTS (28 * 28)

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef struct {
    const char *name;
    int pp_start, pp_end;      /* -1: software */
    double ms_per_step;
    double bytes_in, bytes_out; /* per step */
    int steps;
} run;

static int measure(run *r, const char *cfg, const char *storage, int batch, double seconds,
                   const float *x, const float *y, p4_error *err)
{
    p4_cfg_shape shape = { 28, 28, 1, CLASSES };
    p4_model *model = NULL;
    p4_sgd *sgd = NULL;
    p4_enclave *enclave = NULL;
    p4_dpsgd *dp = NULL;
    int rc = p4_model_new(&model, cfg, &shape, batch, 1, err);
    if (rc == P4_OK)
        rc = p4_sgd_new(&sgd, model, 0.05, 0.9, 1e-4, err);
    if (rc == P4_OK && r->pp_start >= 0) {
        p4_enclave_optee_options o = { .seeded = 1, .seed = 3, .delta = 1e-5,
                                       .target_epsilon = 1e6, .pp_start = r->pp_start,
                                       .pp_end = r->pp_end, .storage_dir = storage };
        rc = p4_enclave_open_optee(&enclave, &o, err);
    } else if (rc == P4_OK) {
        rc = p4_enclave_open_software(&enclave, 1, 3, err);
    }
    if (rc == P4_OK) /* [dp] noise_layout's default, in both backends */
        rc = p4_enclave_set_noise_layout(enclave, "chunked", err);
    p4_dpsgd_params params = { .sample_rate = 0.01, .noise_multiplier = 1.0, .clip_norm = 1.0 };
    if (rc == P4_OK)
        rc = p4_dpsgd_new(&dp, model, sgd, &params, enclave, err);
    double loss, start = 0;
    uint64_t in0 = 0, out0 = 0, in1, out1;
    r->steps = 0;
    /* One step to warm up, then timed steps until `seconds` pass. */
    for (int s = 0; rc == P4_OK; s++) {
        if (s == 1) {
            start = now();
            p4_enclave_traffic(enclave, &in0, &out0);
        }
        rc = p4_dpsgd_step(dp, x, y, batch, batch, NULL, NULL, &loss, err);
        if (s >= 1) {
            r->steps++;
            if (now() - start >= seconds)
                break;
        }
    }
    if (rc == P4_OK) {
        double elapsed = now() - start;
        p4_enclave_traffic(enclave, &in1, &out1);
        r->ms_per_step = 1e3 * elapsed / r->steps;
        r->bytes_in = (double)(in1 - in0) / r->steps;
        r->bytes_out = (double)(out1 - out0) / r->steps;
    }
    p4_dpsgd_destroy(&dp);
    p4_enclave_close(&enclave);
    p4_sgd_destroy(&sgd);
    p4_model_destroy(&model);
    return rc;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"model", required_argument, NULL, 'm'}, {"batch", required_argument, NULL, 'b'},
        {"seconds", required_argument, NULL, 's'}, {"json", no_argument, NULL, 'j'},
        {NULL, 0, NULL, 0}};
    const char *model = "cnn1-28x28x1";
    int batch = 64, json = 0, c;
    double seconds = 3;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 'b': batch = atoi(optarg); break;
        case 's': seconds = atof(optarg); break;
        case 'j': json = 1; break;
        default:
            fprintf(stderr, "usage: bench_optee [--model M] [--batch B] [--seconds S] [--json]\n");
            return 2;
        }
    }
    if (batch < 1 || batch > 4096 || !(seconds > 0)) {
        fprintf(stderr, "bench_optee: --batch 1..4096 and --seconds > 0\n");
        return 2;
    }
    char cfg[256];
    snprintf(cfg, sizeof cfg, "configs/models/%s.cfg", model);
    /* The last dense layers: CNN1 is conv, pool, conv, pool, fc, fc, softmax. */
    int softmax = strncmp(model, "cnn1", 4) == 0 ? 6 : strncmp(model, "mlp", 3) == 0 ? 3 : -1;
    if (softmax < 0) {
        fprintf(stderr, "bench_optee: --model cnn1-* or mlp-*\n");
        return 2;
    }
    /* The mid range ends below the softmax (DarkneTZ's split): CNN1's conv
     * 16@3x3, its max-pool and fc64 (pp 2..4); the MLP's middle layer. */
    run runs[5] = { { "software", -1, -1, 0, 0, 0, 0 },
                    { "optee, output layer", softmax - 1, softmax, 0, 0, 0, 0 },
                    { "optee, last two layers", softmax - 2, softmax, 0, 0, 0, 0 },
                    { "optee, mid range", softmax == 6 ? 2 : 1, softmax - 2, 0, 0, 0, 0 },
                    { "optee, last conv + pool", softmax - 4, softmax, 0, 0, 0, 0 } };
    static const char *const keys[5] = { "software", "output_layer", "last_two_layers",
                                         "mid_range", "last_conv_and_pool" };
    const int nruns = softmax == 6 ? 5 : 4; /* the MLP has no convolution */
    float *x = malloc((size_t)batch * INPUTS * sizeof(float));
    float *y = calloc((size_t)batch * CLASSES, sizeof(float));
    char storage[] = "/tmp/p4-bench-optee-XXXXXX";
    if (!x || !y || !mkdtemp(storage)) {
        fprintf(stderr, "bench_optee: out of memory or no temporary folder\n");
        return 1;
    }
    p4_rng rng;
    p4_rng_init_seeded(&rng, 9, "bench-optee");
    for (int i = 0; i < batch * INPUTS; i++)
        x[i] = (float)p4_rng_uniform(&rng);
    for (int i = 0; i < batch; i++)
        y[i * CLASSES + (int)p4_rng_below(&rng, CLASSES)] = 1.0f;
    p4_error err;
    int status = 0;
    for (int k = 0; k < nruns; k++) {
        char dir[sizeof storage + 16];
        int len = snprintf(dir, sizeof dir, "%s/%d", storage, k); /* a fresh ledger each */
        p4_error_clear(&err);
        if (len < 0 || (size_t)len >= sizeof dir || mkdir(dir, 0700) != 0)
            p4_error_set(&err, P4_EIO, "cannot make %s", dir);
        if (err.code != P4_OK || measure(&runs[k], cfg, dir, batch, seconds, x, y, &err) != P4_OK) {
            fprintf(stderr, "bench_optee: %s: %s\n", runs[k].name, err.message);
            status = 1;
        }
    }
    char command[128];
    snprintf(command, sizeof command, "rm -rf %s", storage);
    if (system(command) != 0)
        fprintf(stderr, "bench_optee: could not remove %s\n", storage);
    free(x);
    free(y);
    if (status != 0)
        return status;
    double base = runs[0].ms_per_step;
    if (json) {
        printf("{\"bench\":\"optee_step\",\"model\":\"%s\",\"batch\":%d", model, batch);
        for (int k = 0; k < nruns; k++)
            printf(",\"%s\":{\"pp_start\":%d,\"pp_end\":%d,\"ms_per_step\":%.4f,\"ratio\":%.3f,"
                   "\"bytes_in_per_step\":%.0f,\"bytes_out_per_step\":%.0f,\"steps\":%d}",
                   keys[k],
                   runs[k].pp_start, runs[k].pp_end, runs[k].ms_per_step,
                   runs[k].ms_per_step / base, runs[k].bytes_in, runs[k].bytes_out,
                   runs[k].steps);
        printf(",\"note\":\"the harness's TA is a separate process: its process switch and "
               "copies stand in for the world switch\"}\n");
        return 0;
    }
    printf("DP-SGD step, %s, batch %d (harness TA: a process switch stands in for the world "
           "switch)\n", model, batch);
    for (int k = 0; k < nruns; k++)
        printf("  %-24s pp %2d..%-2d %9.3f ms/step  %6.2fx  %10.0f B in  %10.0f B out per step\n",
               runs[k].name, runs[k].pp_start, runs[k].pp_end, runs[k].ms_per_step,
               runs[k].ms_per_step / base, runs[k].bytes_in, runs[k].bytes_out);
    return 0;
}
