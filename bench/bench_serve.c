/* bench_serve.c: requests per second of the inference service (`p4 serve`)
 * on loopback, for the MLP and CNN1 (issue 13).
 *
 *   bench_serve [--seconds S] [--rows R] [--json]
 *
 * For each model: seeded weights saved as a node's private model in a
 * temporary state folder, a server (p4node/serve.h) on a thread of this
 * process with CURVE on loopback, and one client session that sends
 * QUERYs back to back for S seconds: first of 1 row (the latency a user
 * sees per request), then of R rows (throughput).  The session's
 * attestation is not in these figures: the server runs the software
 * backend, and bench_cca measures a CCA token's fetch and verify.  One
 * JSON line per model and request size.  Figures, not tests: client and
 * server share the machine's cores. */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/rng.h"
#include "model/model.h"
#include "p4node/private_model.h"
#include "p4node/query.h"
#include "p4node/serve.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef struct running {
    p4_server *server;
    volatile sig_atomic_t stop;
} running;

static void *serve_main(void *arg)
{
    running *r = arg;
    p4_server_run(r->server, &r->stop, NULL);
    return NULL;
}

static int save_model(const char *state, const char *cfg, p4_error *err)
{
    const p4_cfg_shape shape = {28, 28, 1, 10};
    p4_model *m = NULL;
    int rc = p4_model_new(&m, cfg, &shape, 64, 1, err);
    if (rc != P4_OK)
        return rc;
    size_t n = p4_model_param_count(m);
    float *w = malloc(n * sizeof *w);
    rc = w ? p4_model_get_params(m, w, n) : P4_ENOMEM;
    if (rc == P4_OK)
        rc = p4_private_model_save(state, cfg, &shape, w, n, err);
    free(w);
    p4_model_destroy(&m);
    return rc;
}

static int bench_model(const char *name, const char *cfg, double seconds, int big_rows, int json)
{
    char state[] = "/tmp/p4-bench-serve-XXXXXX";
    if (mkdtemp(state) == NULL)
        return 1;
    p4_error err = {0};
    running r = {0};
    p4_query_session *q = NULL;
    pthread_t thread;
    int rc = save_model(state, cfg, &err), started = 0;
    p4_server_options o = {.state_dir = state, .listen = "tcp://127.0.0.1:0",
                           .max_rows = big_rows, .log = stderr};
    if (rc == P4_OK)
        rc = p4_server_new(&r.server, &o, &err);
    if (rc == P4_OK)
        started = pthread_create(&thread, NULL, serve_main, &r) == 0;
    uint8_t key[P4_KEY_BYTES];
    p4_server_public_key(r.server, key);
    p4_query_options qo = {.server = p4_server_endpoint(r.server), .server_key = key,
                           .insecure_no_attestation = 1};
    if (rc == P4_OK && started)
        rc = p4_query_open(&q, &qo, NULL, NULL, &err);
    float *x = malloc((size_t)big_rows * 784 * sizeof *x);
    int *labels = malloc((size_t)big_rows * sizeof *labels);
    p4_rng rng;
    p4_rng_init_seeded(&rng, 1, "bench_serve");
    for (int i = 0; x && i < big_rows * 784; i++)
        x[i] = (float)p4_rng_uniform(&rng);
    const int sizes[2] = {1, big_rows};
    for (int s = 0; s < 2 && rc == P4_OK && x && labels; s++) {
        long requests = 0;
        double start = now(), end = start + seconds;
        while (rc == P4_OK && now() < end) {
            rc = p4_query_classify(q, x, (size_t)sizes[s], 784, labels, NULL, NULL, &err);
            requests++;
        }
        double took = now() - start;
        if (rc == P4_OK) {
            if (json)
                printf("{\"bench\": \"serve\", \"model\": \"%s\", \"rows_per_request\": %d, "
                       "\"requests\": %ld, \"seconds\": %.3f, \"requests_per_s\": %.1f, "
                       "\"rows_per_s\": %.1f, \"ms_per_request\": %.3f}\n",
                       name, sizes[s], requests, took, requests / took,
                       requests * sizes[s] / took, 1000.0 * took / requests);
            else
                printf("%-6s %4d rows/request: %8.1f requests/s, %9.1f rows/s, %.3f ms each\n",
                       name, sizes[s], requests / took, requests * sizes[s] / took,
                       1000.0 * took / requests);
        }
    }
    if (rc != P4_OK)
        fprintf(stderr, "bench_serve: %s: %s\n", name, err.message);
    p4_query_close(&q);
    if (started) {
        r.stop = 1;
        pthread_join(thread, NULL);
    }
    p4_server_destroy(&r.server);
    free(x);
    free(labels);
    char path[256];
    const char *files[] = {"private.cfg", "private.weights", "node.key", "node.pub"};
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/%s", state, files[i]);
        unlink(path);
    }
    rmdir(state);
    return rc == P4_OK ? 0 : 1;
}

int main(int argc, char **argv)
{
    static const struct option options[] = {{"seconds", required_argument, NULL, 's'},
                                            {"rows", required_argument, NULL, 'r'},
                                            {"json", no_argument, NULL, 'j'},
                                            {NULL, 0, NULL, 0}};
    double seconds = 3;
    int rows = 64, json = 0, c;
    while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (c) {
        case 's': seconds = atof(optarg); break;
        case 'r': rows = atoi(optarg); break;
        case 'j': json = 1; break;
        default:
            fprintf(stderr, "usage: bench_serve [--seconds S] [--rows R] [--json]\n");
            return 2;
        }
    }
    if (!(seconds > 0) || rows < 1 || rows > 1024) {
        fprintf(stderr, "bench_serve: --seconds > 0 and --rows 1..1024\n");
        return 2;
    }
    int failed = bench_model("mlp", "configs/models/mlp-28x28x1.cfg", seconds, rows, json);
    failed |= bench_model("cnn1", "configs/models/cnn1-28x28x1.cfg", seconds, rows, json);
    return failed;
}
