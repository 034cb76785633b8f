/* bench_node.c: what one co-training round of two networked peers costs, and
 * a 16-node loopback cluster against `p4 sim` (issue 12).
 *
 *   bench_node [--config F] [--rounds K] [--json]          one round, split
 *   bench_node --cluster P4 [--config F] [--nodes N] [--json]
 *
 * Round mode: the config (default configs/fmnist-p4.ini) with [data] clients
 * = 2 (clusters 2, group_size 2, so the two peers form one group) and an MLP
 * proxy ([model] proxy_cfg = cfg, 199,210 floats).  Two peers run the round
 * protocol in this process, each on its own thread, three times: over
 * ZeroMQ on 127.0.0.1 with CURVE, over ZeroMQ without CURVE, and over the
 * in-process transport `p4 sim` uses.  Each run is 1 + K rounds (after the
 * DP warm-up and the grouping, which are not timed); the protocol's hooks
 * time every round after the first:
 *   round      from one round_done to the next, minus that round's
 *              evaluation (the last compute stretch before round_done,
 *              which only happens because the hook is set);
 *   compute    the compute_begin..compute_end stretches of the round
 *              (the local co-training epoch);
 *   exchange   round - compute: sending the proxy, waiting for the other
 *              peer's (its compute too, if it is slower), aggregating.
 * Both peers' figures are averaged.  The exchange is then split:
 *   serialisation  p4_wire_encode + p4_wire_decode of a PROXY message of the
 *                  proxy's size, timed alone, times the messages each peer
 *                  sent and received per round;
 *   encryption     exchange(CURVE) - exchange(no CURVE);
 *   network        exchange(no CURVE) - serialisation.
 * Bytes are p4_transport_get_stats's message bytes per round per peer
 * (ZeroMQ and CURVE framing not included).  A difference of two noisy wall
 * times can come out negative on a busy machine: it is printed as measured.
 *
 * Cluster mode: runs `P4 sim --config F --json` and `P4 cluster --config F
 * --nodes N --json` (N defaults to the config's clients, 16) as child
 * processes, one after the other, and prints both "seconds" they report. */
#define _XOPEN_SOURCE 700 /* nftw */
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster/identity.h"
#include "cluster/peer.h"
#include "cluster/protocol.h"
#include "cluster/transport_inproc.h"
#include "cluster/transport_zmq.h"
#include "cluster/wire.h"
#include "common/config.h"
#include "common/error.h"
#include "common/progress.h"
#include "datasets/workload.h"
#include "model/gemm.h"

#define PEERS 2
#define EXCHANGE_TIMEOUT 60.0
#define CODEC_REPEATS 20

typedef enum { CARRIER_CURVE, CARRIER_PLAIN, CARRIER_INPROC, CARRIERS } carrier;
static const char *const carrier_name[CARRIERS] = {"zmq_curve", "zmq_plain", "inproc"};

/* One peer's clock, filled by its own thread's hooks. */
typedef struct peer_clock {
    p4_transport *transport;
    double compute_started, last_compute; /* the stretch in progress, the last one */
    double round_compute;                 /* this round's stretches so far          */
    double previous_done;
    /* summed over the timed rounds (every round after the first) */
    double round, compute;
    int timed_rounds;
    p4_transport_stats at_first_done, at_last_done;
} peer_clock;

static void on_compute_begin(void *user)
{
    ((peer_clock *)user)->compute_started = p4_now_seconds();
}

static void on_compute_end(void *user)
{
    peer_clock *c = user;
    c->last_compute = p4_now_seconds() - c->compute_started;
    c->round_compute += c->last_compute;
}

static void on_round_done(void *user, int self, int round, double accuracy)
{
    (void)self;
    (void)accuracy;
    peer_clock *c = user;
    double now = p4_now_seconds();
    double evaluation = c->last_compute; /* the stretch just before this hook */
    if (round == 0) {
        p4_transport_get_stats(c->transport, &c->at_first_done);
    } else {
        c->round += now - c->previous_done - evaluation;
        c->compute += c->round_compute - evaluation;
        c->timed_rounds++;
        p4_transport_get_stats(c->transport, &c->at_last_done);
    }
    c->previous_done = now;
    c->round_compute = 0;
}

typedef struct peer_run {
    const p4_config *cfg;
    p4_method method;
    p4_peer_setup *setup;
    p4_peer_plan *plan;
    p4_peer peer;
    peer_clock clock;
    p4_error err;
    int rc;
} peer_run;

static void *peer_thread(void *arg)
{
    peer_run *p = arg;
    int group_of[PEERS];
    p4_protocol_spec spec = {
        .cfg = p->cfg, .method = p->method, .clients = PEERS, .peer = &p->peer,
        .dp = p4_peer_setup_dp(p->setup), .logits_mode = 0,
        .logit_sigma = p->plan->logit_sigma, .classes = p->setup->work->train->classes,
        .transport = p->clock.transport, .timeout = EXCHANGE_TIMEOUT, .log = NULL,
        .hooks = { .user = &p->clock, .compute_begin = on_compute_begin,
                   .compute_end = on_compute_end, .round_done = on_round_done },
    };
    p4_protocol_result result = { .group_of = group_of };
    p->rc = p4_protocol_run(&spec, &result, &p->err);
    return NULL;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* What one run of the two peers measured, averaged over both. */
typedef struct round_figures {
    double round, compute, exchange;
    double bytes_sent, messages_sent, messages_received; /* per round per peer */
    size_t proxy_floats;
    double run;          /* both threads, start to join: warm-up to last evaluation */
} round_figures;

/* The two transports of one carrier; keys and state live under dir. */
static int open_transports(carrier how, const char *dir, p4_transport *t[PEERS],
                           p4_inproc_hub **hub, p4_error *err)
{
    if (how == CARRIER_INPROC) {
        int rc = p4_inproc_hub_new(hub, PEERS, err);
        for (int k = 0; k < PEERS && rc == P4_OK; k++)
            rc = p4_inproc_hub_transport(*hub, k, &t[k], err);
        return rc;
    }
    p4_identity id[PEERS];
    int rc = P4_OK;
    for (int k = 0; k < PEERS && rc == P4_OK; k++) {
        char path[512];
        snprintf(path, sizeof path, "%s/key-%d", dir, k);
        rc = p4_identity_load_or_create(path, &id[k], NULL, err);
    }
    for (int k = 0; k < PEERS && rc == P4_OK; k++) {
        const uint8_t(*other)[32] = &id[1 - k].public_key;
        p4_zmq_transport_options o = { .id = k, .listen = "tcp://127.0.0.1:0", .identity = &id[k],
                                       .allow = other, .allow_count = 1,
                                       .insecure_no_curve = how == CARRIER_PLAIN };
        rc = p4_zmq_transport_new(&t[k], &o, err);
    }
    for (int k = 0; k < PEERS && rc == P4_OK; k++)
        rc = p4_transport_add_peer(t[k], 1 - k, p4_zmq_transport_endpoint(t[1 - k]),
                                   id[1 - k].public_key, err);
    for (int k = 0; k < PEERS; k++)
        p4_identity_wipe(&id[k]);
    return rc;
}

static int run_carrier(const p4_config *cfg, const p4_workload *work, carrier how,
                       round_figures *out, p4_error *err)
{
    char dir[] = "/tmp/p4-bench-node.XXXXXX";
    if (!mkdtemp(dir))
        return p4_error_set(err, P4_EIO, "cannot make a temporary folder: %s", strerror(errno));
    p4_method method;
    if (p4_method_parse(cfg->method, &method) != P4_OK) {
        nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
        return p4_error_set(err, P4_ECONFIG, "[p4] method '%s' is unknown", cfg->method);
    }
    p4_peer_setup setup = { .cfg = cfg, .work = work, .method = method,
                            .epsilon = cfg->dp_enabled && cfg->target_epsilon > 0
                                           ? cfg->target_epsilon : INFINITY,
                            .state_dir = dir, .public_n = cfg->public_count };
    p4_peer_plan plan = { .q = -1 };
    peer_run runs[PEERS];
    memset(runs, 0, sizeof runs);
    p4_transport *t[PEERS] = {0};
    p4_inproc_hub *hub = NULL;
    int rc = open_transports(how, dir, t, &hub, err);
    for (int k = 0; k < PEERS && rc == P4_OK; k++) {
        runs[k] = (peer_run){ .cfg = cfg, .method = method, .setup = &setup, .plan = &plan };
        runs[k].clock.transport = t[k];
        rc = p4_peer_open(&runs[k].peer, &setup, k, &plan, err);
    }
    pthread_t thread[PEERS];
    int started = 0;
    double start = p4_now_seconds();
    for (; rc == P4_OK && started < PEERS; started++)
        if (pthread_create(&thread[started], NULL, peer_thread, &runs[started]) != 0)
            rc = p4_error_set(err, P4_ENOMEM, "cannot start a peer thread");
    if (rc != P4_OK && hub)
        p4_inproc_hub_abort(hub);
    for (int k = 0; k < started; k++)
        pthread_join(thread[k], NULL);
    memset(out, 0, sizeof *out);
    out->run = p4_now_seconds() - start;
    for (int k = 0; k < PEERS && rc == P4_OK; k++) {
        if (runs[k].rc != P4_OK) {
            rc = runs[k].rc;
            *err = runs[k].err;
            break;
        }
        peer_clock *c = &runs[k].clock;
        if (c->timed_rounds < 1) {
            rc = p4_error_set(err, P4_EINVAL, "peer %d timed no round", k);
            break;
        }
        double n = c->timed_rounds * (double)PEERS;
        out->round += c->round / n;
        out->compute += c->compute / n;
        out->bytes_sent += (double)(c->at_last_done.bytes_sent - c->at_first_done.bytes_sent) / n;
        out->messages_sent +=
            (double)(c->at_last_done.messages_sent - c->at_first_done.messages_sent) / n;
        out->messages_received +=
            (double)(c->at_last_done.messages_received - c->at_first_done.messages_received) / n;
    }
    out->exchange = out->round - out->compute;
    if (rc == P4_OK)
        out->proxy_floats = p4_client_proxy_size(runs[0].peer.client);
    for (int k = 0; k < PEERS; k++) {
        p4_peer_close(&runs[k].peer);
        p4_transport_destroy(&t[k]);
    }
    p4_inproc_hub_destroy(&hub);
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return rc;
}

/* Seconds to encode and to decode one PROXY message of `floats` floats. */
static int time_codec(size_t floats, double *encode, double *decode, size_t *bytes, p4_error *err)
{
    float *v = calloc(floats, sizeof *v);
    uint8_t *buf = NULL;
    size_t len = 0;
    if (!v)
        return p4_error_set(err, P4_ENOMEM, "out of memory");
    for (size_t i = 0; i < floats; i++)
        v[i] = (float)i * 1e-6f;
    p4_wire_message m = { .header = { .type = P4_WIRE_PROXY, .sender_id = 0, .round = 1,
                                      .sequence = 1 } };
    m.body.proxy = (p4_wire_vector){ v, (uint32_t)floats };
    int rc = p4_wire_encoded_size(&m, bytes, err);
    if (rc == P4_OK && !(buf = malloc(*bytes)))
        rc = p4_error_set(err, P4_ENOMEM, "out of memory");
    double start = p4_now_seconds();
    for (int k = 0; k < CODEC_REPEATS && rc == P4_OK; k++)
        rc = p4_wire_encode(&m, buf, *bytes, &len, err);
    *encode = (p4_now_seconds() - start) / CODEC_REPEATS;
    start = p4_now_seconds();
    for (int k = 0; k < CODEC_REPEATS && rc == P4_OK; k++) {
        p4_wire_message d;
        if ((rc = p4_wire_decode(buf, len, &d, err)) == P4_OK)
            p4_wire_message_clear(&d);
    }
    *decode = (p4_now_seconds() - start) / CODEC_REPEATS;
    free(buf);
    free(v);
    return rc;
}

static void print_cpu(void)
{
    char line[512], model[256] = "?";
    FILE *f = fopen("/proc/cpuinfo", "r");
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "model name", 10) == 0) {
            char *colon = strchr(line, ':');
            snprintf(model, sizeof model, "%s", colon ? colon + 2 : "?");
            model[strcspn(model, "\n\"\\")] = '\0';
            break;
        }
    if (f)
        fclose(f);
    double load = NAN;
    f = fopen("/proc/loadavg", "r");
    if (f && fscanf(f, "%lf", &load) != 1)
        load = NAN;
    if (f)
        fclose(f);
    printf("\"cpu\":\"%s\",\"cores\":%ld,\"load_avg_1m\":%.2f", model, sysconf(_SC_NPROCESSORS_ONLN),
           load);
}

/* The data set is missing (or unreadable): a skip, said plainly, not a failure. */
static int skip(const char *bench, const p4_error *err)
{
    fprintf(stderr, "bench_node: skipped: %s\n", err->message);
    printf("{\"bench\":\"%s\",\"skipped\":\"the data set cannot be loaded\"}\n", bench);
    return 0;
}

static int round_mode(p4_config *cfg, int extra_rounds, int json)
{
    cfg->partition.clients = PEERS;
    cfg->partition.clusters = PEERS;
    cfg->partition.classes_per_cluster =
        cfg->partition.classes_per_cluster > 0 ? cfg->partition.classes_per_cluster : 4;
    cfg->group_size = PEERS;
    cfg->rounds = 1 + extra_rounds;
    memcpy(cfg->proxy_cfg, cfg->model_cfg, sizeof cfg->proxy_cfg); /* the MLP proxy */
    p4_gemm_set_threads(1); /* as `p4 sim` and `p4 node` do */
    p4_error err = {0};
    p4_workload *work = NULL;
    int rc = p4_workload_load(cfg, &work, &err);
    if (rc != P4_OK)
        return skip("node_round", &err);
    round_figures f[CARRIERS];
    for (int c = 0; c < CARRIERS && rc == P4_OK; c++) {
        fprintf(stderr, "bench_node: 2 peers, %d rounds, over %s\n", cfg->rounds, carrier_name[c]);
        rc = run_carrier(cfg, work, (carrier)c, &f[c], &err);
    }
    size_t floats = 0;
    double enc = 0, dec = 0;
    size_t msg_bytes = 0;
    if (rc == P4_OK) {
        floats = f[CARRIER_PLAIN].proxy_floats;
        rc = time_codec(floats, &enc, &dec, &msg_bytes, &err);
    }
    p4_workload_destroy(&work);
    if (rc != P4_OK) {
        fprintf(stderr, "bench_node: %s\n", err.message);
        return 1;
    }
    const round_figures *curve = &f[CARRIER_CURVE], *plain = &f[CARRIER_PLAIN],
                        *inproc = &f[CARRIER_INPROC];
    double serialisation = enc * curve->messages_sent + dec * curve->messages_received;
    double encryption = curve->exchange - plain->exchange;
    double network = plain->exchange - serialisation;
    if (!json) {
        printf("one co-training round, 2 peers on loopback, MLP proxy (%zu floats), %d timed rounds:\n"
               "  CURVE %.4f s = compute %.4f + serialisation %.4f + encryption %.4f + network %.4f\n"
               "  no CURVE %.4f s, in-process %.4f s (CURVE / in-process = %.2f)\n"
               "  %.0f bytes sent per round per peer; whole run of %d rounds with CURVE %.2f s\n",
               floats, extra_rounds, curve->round, curve->compute, serialisation, encryption,
               network, plain->round, inproc->round, curve->round / inproc->round,
               curve->bytes_sent, cfg->rounds, curve->run);
        return 0;
    }
    printf("{\"bench\":\"node_round\",\"method\":\"%s\",\"clients\":2,\"proxy_floats\":%zu,"
           "\"timed_rounds\":%d,",
           cfg->method, floats, extra_rounds);
    for (int c = 0; c < CARRIERS; c++)
        printf("\"%s\":{\"run_s\":%.3f,\"round_s\":%.5f,\"compute_s\":%.5f,\"exchange_s\":%.5f,"
               "\"bytes_sent_per_round\":%.0f,\"messages_sent_per_round\":%.2f},",
               carrier_name[c], f[c].run, f[c].round, f[c].compute, f[c].exchange, f[c].bytes_sent,
               f[c].messages_sent);
    printf("\"split_curve\":{\"compute_s\":%.5f,\"serialisation_s\":%.5f,\"encryption_s\":%.5f,"
           "\"network_s\":%.5f},\"proxy_message_bytes\":%zu,\"encode_s\":%.6f,\"decode_s\":%.6f,"
           "\"curve_over_inproc\":%.3f,\"plain_over_inproc\":%.3f,",
           curve->compute, serialisation, encryption, network, msg_bytes, enc, dec,
           curve->round / inproc->round, plain->round / inproc->round);
    print_cpu();
    printf(",\"note\":\"per peer, mean of both peers and of every round after the first "
           "(warm-up, grouping and the per-round evaluation excluded); compute = the protocol's "
           "compute_begin..compute_end; exchange = round - compute (includes waiting for the other "
           "peer); serialisation = (encode x messages sent + decode x messages received) of a "
           "PROXY message timed alone; encryption = exchange(CURVE) - exchange(no CURVE); "
           "network = exchange(no CURVE) - serialisation; bytes = message bytes, framing "
           "excluded; run_s = both peers from the DP warm-up to the last evaluation, all rounds "
           "(data loading and peer set-up excluded)\"}\n");
    return 0;
}

/* Runs a p4 command; its reported "seconds" in *seconds, its wall in *wall. */
static int run_p4(const char *command, double *seconds, double *wall)
{
    double start = p4_now_seconds();
    FILE *f = popen(command, "r");
    if (!f)
        return -1;
    char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    int status = pclose(f);
    *wall = p4_now_seconds() - start;
    const char *at = strstr(buf, "\"seconds\":");
    if (status != 0 || !at) {
        fprintf(stderr, "bench_node: '%s' failed (status %d)\n", command, status);
        return -1;
    }
    *seconds = strtod(at + strlen("\"seconds\":"), NULL);
    return 0;
}

static int cluster_mode(const char *p4, const char *config, int nodes, int json)
{
    char sim[2048], cluster[2048];
    snprintf(sim, sizeof sim, "'%s' sim --config '%s' --json 2>/dev/null", p4, config);
    snprintf(cluster, sizeof cluster, "'%s' cluster --config '%s' --nodes %d --json 2>/dev/null",
             p4, config, nodes);
    double sim_s, sim_wall, cl_s, cl_wall;
    fprintf(stderr, "bench_node: p4 sim on %s\n", config);
    if (run_p4(sim, &sim_s, &sim_wall) != 0)
        return 1;
    fprintf(stderr, "bench_node: p4 cluster, %d nodes, on %s\n", nodes, config);
    if (run_p4(cluster, &cl_s, &cl_wall) != 0)
        return 1;
    if (!json) {
        printf("%d-node loopback cluster %.2f s against p4 sim %.2f s (ratio %.2f)\n", nodes, cl_s,
               sim_s, cl_s / sim_s);
        return 0;
    }
    printf("{\"bench\":\"node_cluster\",\"nodes\":%d,\"config\":\"%s\",\"cluster_seconds\":%.3f,"
           "\"sim_seconds\":%.3f,\"cluster_wall_s\":%.3f,\"sim_wall_s\":%.3f,\"ratio\":%.3f,",
           nodes, config, cl_s, sim_s, cl_wall, sim_wall, cl_s / sim_s);
    print_cpu();
    printf(",\"note\":\"seconds as each command reports them; wall = the child process, start to "
           "exit; ratio = cluster / sim\"}\n");
    return 0;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: bench_node [--config F] [--rounds K] [--json]\n"
                 "       bench_node --cluster P4 [--config F] [--nodes N] [--json]\n"
                 "  --rounds   timed rounds after the first (default: the config's rounds - 1)\n"
                 "  --cluster  path of the p4 binary: time `p4 cluster --nodes N` against `p4 sim`\n");
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'}, {"rounds", required_argument, NULL, 'r'},
        {"cluster", required_argument, NULL, 'C'}, {"nodes", required_argument, NULL, 'n'},
        {"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    const char *config = "configs/fmnist-p4.ini", *p4 = NULL;
    int rounds = 0, nodes = 0, json = 0, ch;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c': config = optarg; break;
        case 'r': rounds = atoi(optarg); break;
        case 'C': p4 = optarg; break;
        case 'n': nodes = atoi(optarg); break;
        case 'j': json = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc || rounds < 0 || rounds > 1000 || nodes < 0 || nodes > 256) {
        usage(stderr);
        return 2;
    }
    p4_config cfg;
    p4_error err = {0};
    if (p4_config_load(config, &cfg, &err) != P4_OK) {
        fprintf(stderr, "bench_node: %s\n", err.message);
        return 2;
    }
    if (p4) {
        p4_workload *work = NULL; /* the children would fail on a missing data set */
        if (p4_workload_load(&cfg, &work, &err) != P4_OK)
            return skip("node_cluster", &err);
        p4_workload_destroy(&work);
        return cluster_mode(p4, config, nodes ? nodes : cfg.partition.clients, json);
    }
    /* Default: the config's rounds in all, so the whole run is the config's too. */
    return round_mode(&cfg, rounds ? rounds : (cfg.rounds > 1 ? cfg.rounds - 1 : 1), json);
}
