/* test_node.c: the networked node (issue 12).
 *   - [node] and [tee] config sections: parsing and every refusal;
 *   - p4_config_write: load -> write -> load gives the same config;
 *   - p4_node_check_config wants every other member listed;
 *   - `p4 cluster --nodes 4` (four `p4 node` processes over loopback ZeroMQ
 *     with CURVE) gives `p4 sim`'s per-client accuracies and groups, and
 *     `p4 status` reads a finished node;
 *   - a node whose peers list names a wrong key for its peer: neither side
 *     admits the other, the grouping's exchange times out, and both nodes
 *     fail with a clear error (P4's grouping needs every member) that
 *     node.db records;
 *   - SIGTERM stops a node cleanly at its next step (here: while it waits
 *     in the grouping's exchange), it ends by SIGTERM and node.db says
 *     "stopped" after 0 rounds. */
#include "support/test_support.h"
#include "support/test_nodes.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "cluster/identity.h"
#include "common/config.h"
#include "p4node/node.h"
#include "p4node/node_state.h"

#define FMNIST "/usr/share/datasets/fashion-mnist"
#define KEY_A "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
#define KEY_B "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID"

/* ---- config ------------------------------------------------------------------ */

static int load_text(const char *dir, const char *extra, p4_config *cfg, p4_error *err)
{
    char path[1024];
    test_write_node_config(dir, "n.ini", 4, 2, extra, path, sizeof path);
    return p4_config_load(path, cfg, err);
}

static void expect_refusal(const char *dir, const char *extra, const char *message)
{
    static p4_config cfg;
    p4_error err = {0};
    int rc = load_text(dir, extra, &cfg, &err);
    if (rc != P4_ECONFIG || strstr(err.message, message) == NULL)
        fail_msg("for\n%s\nexpected an error with '%s', got %d: %s", extra, message, rc,
                 err.message);
}

static void node_section_parses(void **state)
{
    const char *dir = *state;
    static p4_config cfg;
    p4_error err = {0};
    assert_int_equal(load_text(dir, "", &cfg, &err), P4_OK);
    assert_int_equal(cfg.node_id, -1); /* no [node]: sim and train ignore it */
    assert_int_equal(cfg.node_peer_count, 0);
    assert_true(cfg.node_timeout == 60);
    assert_string_equal(cfg.tee_backend, "software");

    if (load_text(dir,
                  "[node]\nid = 2\nlisten = tcp://127.0.0.1:7000\n"
                  "peers = 0@tcp://10.0.0.1:7001@" KEY_A ", 1@tcp://board-b.local:7002@" KEY_B "\n"
                  "peers = 3@tcp://127.0.0.1:7003@" KEY_A "\n"
                  "state = st\ntimeout = 2.5\n[tee]\nbackend = software\n",
                  &cfg, &err) != P4_OK)
        fail_msg("%s", err.message);
    assert_int_equal(cfg.node_id, 2);
    assert_string_equal(cfg.node_listen, "tcp://127.0.0.1:7000");
    assert_int_equal(cfg.node_peer_count, 3);
    assert_int_equal(cfg.node_peers[0].id, 0);
    assert_string_equal(cfg.node_peers[0].endpoint, "tcp://10.0.0.1:7001");
    assert_string_equal(cfg.node_peers[0].key, KEY_A);
    assert_int_equal(cfg.node_peers[1].id, 1);
    assert_string_equal(cfg.node_peers[1].endpoint, "tcp://board-b.local:7002");
    assert_string_equal(cfg.node_peers[1].key, KEY_B); /* keys may hold '@' */
    assert_int_equal(cfg.node_peers[2].id, 3);
    char expect[1100];
    snprintf(expect, sizeof expect, "%s/st", dir);
    assert_string_equal(cfg.node_state, expect);
    assert_true(cfg.node_timeout == 2.5);
}

static void node_section_refusals(void **state)
{
    const char *dir = *state;
    expect_refusal(dir, "[node]\nid = 4\n", "[node] id = 4: must be below [data] clients = 4");
    expect_refusal(dir, "[node]\nid = -1\n", "must be in 0..4095");
    expect_refusal(dir, "[node]\nlisten = 127.0.0.1:7000\n", "must be tcp://ADDRESS:PORT");
    expect_refusal(dir, "[node]\nlisten = tcp://127.0.0.1:99999\n", "port must be a number");
    expect_refusal(dir, "[node]\nlisten = tcp://127.0.0.1\n", "must be tcp://ADDRESS:PORT");
    expect_refusal(dir, "[node]\npeers = 1@tcp://h:1@" KEY_A ", 1@tcp://h:2@" KEY_B "\n",
                   "peer 1 is listed twice");
    expect_refusal(dir, "[node]\npeers = 1@tcp://h:1@" KEY_A "\npeers = 1@tcp://h:2@" KEY_B "\n",
                   "peer 1 is listed twice");
    expect_refusal(dir, "[node]\npeers = 7@tcp://h:1@" KEY_A "\n",
                   "peer 7: ids must be below [data] clients = 4");
    expect_refusal(dir, "[node]\nid = 1\npeers = 1@tcp://h:1@" KEY_A "\n",
                   "peer 1 is this node's own id");
    expect_refusal(dir, "[node]\npeers = 1@tcp://h:1@abc\n", "with a 40-character key");
    expect_refusal(dir, "[node]\npeers = 1@tcp://h:1@rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf~\n",
                   "the key holds '~', which is not Z85");
    expect_refusal(dir, "[node]\npeers = x@tcp://h:1@" KEY_A "\n", "not an integer");
    expect_refusal(dir, "[node]\npeers = 1@h:1@" KEY_A "\n", "must be tcp://ADDRESS:PORT");
    expect_refusal(dir, "[node]\npeers = 1@tcp://h:1@" KEY_A ",\n", "entry 2 is empty");
    expect_refusal(dir, "[node]\ntimeout = 0\n", "[node] timeout = 0: must be in (0, 86400]");
    expect_refusal(dir, "[node]\nbogus = 1\n", "unknown key (keys of [node]: id, listen, peers");
    expect_refusal(dir, "[tee]\nbackend = sgx\n",
                   "[tee] backend = sgx: the backends built are `software`, `optee` and `cca`");
    expect_refusal(dir, "[nodes]\nid = 1\n", "unknown section (sections: [data], [model], [dp], "
                                             "[p4], [attack], [node], [tee], [serve])");
}

/* ---- writing a config back ------------------------------------------------------ */

static void round_trip(const char *dir, const char *name, const char *text)
{
    char path[1024], again[1024];
    test_write_text(dir, name, text, path, sizeof path);
    static p4_config a, b;
    p4_error err = {0};
    if (p4_config_load(path, &a, &err) != P4_OK)
        fail_msg("%s", err.message);
    snprintf(again, sizeof again, "%s/%s.out", dir, name);
    FILE *f = fopen(again, "w");
    assert_non_null(f);
    assert_int_equal(p4_config_write(&a, f, &err), P4_OK);
    fclose(f);
    if (p4_config_load(again, &b, &err) != P4_OK)
        fail_msg("written config does not load: %s", err.message);
    memcpy(b.path, a.path, sizeof b.path);
    assert_memory_equal(&a, &b, sizeof a);
}

static void config_write_round_trips(void **state)
{
    const char *dir = *state;
    round_trip(dir, "full.ini",
               "[data]\ndataset = cifar100\npath = data/c100\npartition = clustered\nclients = 6\n"
               "cluster_classes = 0,1,2; 3,4,5;6, 7\nclasses_per_cluster = 3\n"
               "train_per_client = 40\ntest_per_client = 7\nmax_train = 3000\nmax_test = 1000\n"
               "seed = 18446744073709551615\n"
               "[model]\ncfg = m.cfg\nproxy_cfg = /abs/p.cfg\nepochs = 3\nbatch = 10\n"
               "learning_rate = 0.1\nmomentum = 0.3\nweight_decay = 1e-4\nseed = 5\n"
               "[dp]\ntarget_epsilon = 0.3\nclip_norm = 0.7\nsample_rate = 0.015625\n"
               "delta = 1e-6\nstate = l.db\n"
               "[p4]\nrounds = 3\nlocal_epochs = 2\nwarmup_epochs = 0\ngroup_size = 3\n"
               "sample_peers = 2\ndistance_layers = all\nwarmup_layers = all\n"
               "warmup_sample_rate = 0.1\nwarmup_budget = 0.3\nkd_alpha = 0.1\n"
               "kd_temperature = 3\naggregate = multikrum\nkrum_f = 1\nshare = logits\n"
               "strict_dp = false\npublic_count = 12\nmethod = proxyfl\n"
               "[node]\nid = 5\nlisten = tcp://127.0.0.1:7000\n"
               "peers = 0@tcp://10.0.0.1:7001@" KEY_A ", 1@tcp://b:7002@" KEY_B "\n"
               "peers = 3@tcp://127.0.0.1:7003@" KEY_A "\nstate = st\ntimeout = 0.1\n");
    round_trip(dir, "noise.ini",
               "[data]\ndataset = fashion-mnist\npartition = dirichlet\nalpha = 0.3\nclients = 3\n"
               "[model]\ncfg = m.cfg\n[dp]\nnoise_multiplier = 1.1\n");
    round_trip(dir, "skew.ini",
               "[data]\ndataset = fashion-mnist\npartition = label-skew\nmajor_fraction = 0.8\n"
               "[model]\ncfg = m.cfg\n[dp]\nenabled = false\ntarget_epsilon = 2\n");
    round_trip(dir, "plain.ini", "[data]\ndataset = fashion-mnist\n[model]\ncfg = m.cfg\n");
}

static void node_needs_every_member(void **state)
{
    const char *dir = *state;
    static p4_config cfg;
    p4_error err = {0};
    assert_int_equal(load_text(dir, "[node]\nid = 1\nlisten = tcp://127.0.0.1:7000\nstate = s\n"
                                    "peers = 2@tcp://h:1@" KEY_A "\n", &cfg, &err), P4_OK);
    assert_int_equal(p4_node_check_config(&cfg, &err), P4_ECONFIG);
    assert_non_null(strstr(err.message, "2 of the 4 clients missing (0, 3)"));
    assert_int_equal(load_text(dir, "[node]\nid = 1\nstate = s\n", &cfg, &err), P4_OK);
    assert_int_equal(p4_node_check_config(&cfg, &err), P4_ECONFIG);
    assert_non_null(strstr(err.message, "missing required key 'listen' in [node]"));
    assert_int_equal(load_text(dir, "[node]\nid = 1\nlisten = tcp://127.0.0.1:7000\nstate = s\n"
                                    "peers = 2@tcp://h:1@" KEY_A ", 0@tcp://h:2@" KEY_B "\n"
                                    "peers = 3@tcp://h:3@" KEY_A "\n", &cfg, &err), P4_OK);
    assert_int_equal(p4_node_check_config(&cfg, &err), P4_OK);
}

/* The ```ini blocks of docs/node.md, in order (at most max; each freed by
 * the caller); returns how many. */
static int doc_ini_blocks(char **blocks, int max)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/docs/node.md", test_source_dir());
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char text[1 << 16];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    int count = 0;
    for (char *s = text; count < max && (s = strstr(s, "```ini\n")) != NULL;) {
        s += 7;
        char *end = strstr(s, "```");
        assert_non_null(end);
        blocks[count++] = strndup(s, (size_t)(end - s));
        s = end + 3;
    }
    return count;
}

/* The worked example of docs/node.md: each board's config (the shared base
 * plus its [node] section) loads, lists every other member, and names each
 * board by the same endpoint and a valid key that every other board uses. */
static void docs_example_is_consistent(void **state)
{
    const char *dir = *state;
    char *blocks[8];
    int n = doc_ini_blocks(blocks, 8);
    assert_int_equal(n, 4); /* the base config and three [node] sections */
    static p4_config cfg[3];
    for (int b = 0; b < 3; b++) {
        size_t len = strlen(blocks[0]) + strlen(blocks[b + 1]) + 2;
        char *text = malloc(len), path[1024], name[32];
        snprintf(text, len, "%s\n%s", blocks[0], blocks[b + 1]);
        snprintf(name, sizeof name, "board-%d.ini", b);
        test_write_text(dir, name, text, path, sizeof path);
        free(text);
        p4_error err = {0};
        if (p4_config_load(path, &cfg[b], &err) != P4_OK ||
            p4_node_check_config(&cfg[b], &err) != P4_OK)
            fail_msg("docs/node.md, board %d: %s", b, err.message);
        assert_int_equal(cfg[b].node_id, b);
    }
    for (int b = 0; b < 3; b++)
        for (int i = 0; i < cfg[b].node_peer_count; i++) {
            const p4_node_peer *p = &cfg[b].node_peers[i];
            uint8_t key[P4_KEY_BYTES];
            p4_error err = {0};
            if (p4_key_from_z85(p->key, key, &err) != P4_OK)
                fail_msg("docs/node.md, board %d: peer %d's key: %s", b, p->id, err.message);
            for (int c = 0; c < 3; c++) /* every other board names p->id alike */
                for (int j = 0; j < cfg[c].node_peer_count; j++)
                    if (cfg[c].node_peers[j].id == p->id) {
                        assert_string_equal(cfg[c].node_peers[j].key, p->key);
                        assert_string_equal(cfg[c].node_peers[j].endpoint, p->endpoint);
                    }
        }
    for (int b = 0; b < n; b++)
        free(blocks[b]);
}

/* ---- processes ---------------------------------------------------------------------- */

/* Runs a p4 command to completion (bounded); returns its stdout (free it). */
static char *run_p4(char *const argv[], const char *dir, const char *tag, int expect_status)
{
    return test_run_p4(argv, dir, tag, expect_status, 900);
}

/* Seeded `p4 sim` and a 4-node `p4 cluster` (nodes in dir/nodes, named in
 * states) on config; their JSON in *sim and *cl (free them). */
static void sim_and_cluster(const char *bin, const char *dir, const char *config, char *states,
                            size_t size, char **sim, char **cl)
{
    snprintf(states, size, "%s/nodes", dir);
    char *sim_argv[] = { (char *)bin, "sim", "--config", (char *)config, "--reproducible",
                         "--json", "--quiet", NULL };
    *sim = run_p4(sim_argv, dir, "sim", 0);
    char *cluster_argv[] = { (char *)bin, "cluster", "--config", (char *)config, "--nodes", "4",
                             "--reproducible", "--json", "--quiet", "--state", states,
                             "--deadline", "900", NULL };
    *cl = run_p4(cluster_argv, dir, "cluster", 0);
}

/* aggregate = multikrum in groups of two always falls back to the mean:
 * p4 cluster's JSON warns of it with the same counts as p4 sim's (the
 * nodes' client-rounds summed, the smallest group). */
static void cluster_reports_krum_fallbacks_as_sim_does(void **state)
{
    if (!test_dataset_path(FMNIST)) TEST_SKIP(FMNIST " is absent");
    const char *bin = getenv("P4_BIN");
    if (!bin) TEST_SKIP("P4_BIN is not set (run under ctest)");
    const char *dir = *state;
    char config[1024], states[1024];
    test_write_node_config(dir, "krum.ini", 4, 2,
                           "aggregate = multikrum\nkrum_f = 1\n[node]\ntimeout = 600\n", config,
                           sizeof config);
    char *sim = NULL, *cl = NULL;
    sim_and_cluster(bin, dir, config, states, sizeof states, &sim, &cl);
    char wa[512], wb[512];
    test_json_value(sim, "warnings", wa, sizeof wa);
    test_json_value(cl, "warnings", wb, sizeof wb);
    print_message("p4 cluster warnings: %s\n", wb);
    assert_string_equal(wa, wb);
    /* 4 clients x 2 rounds, groups of 2 */
    assert_non_null(strstr(wb, "fell back to the mean in 8 client-round(s)"));
    assert_non_null(strstr(wb, "the smallest group had 2"));
    free(sim);
    free(cl);
}

static void cluster_matches_sim(void **state)
{
    if (!test_dataset_path(FMNIST)) TEST_SKIP(FMNIST " is absent");
    const char *bin = getenv("P4_BIN");
    if (!bin) TEST_SKIP("P4_BIN is not set (run under ctest)");
    const char *dir = *state;
    char config[1024], states[1024];
    /* the base config may carry [node] settings every node shares */
    test_write_node_config(dir, "four.ini", 4, 2, "[node]\ntimeout = 600\n", config,
                           sizeof config);
    char *sim = NULL, *cl = NULL;
    sim_and_cluster(bin, dir, config, states, sizeof states, &sim, &cl);

    double a[8], b[8];
    assert_int_equal(test_json_numbers(sim, "accuracy", a, 8), 4);
    assert_int_equal(test_json_numbers(cl, "accuracy", b, 8), 4);
    for (int k = 0; k < 4; k++)
        if (fabs(a[k] - b[k]) > 1e-6)
            fail_msg("client %d: sim %.9f, cluster %.9f\nsim: %s\ncluster: %s", k, a[k], b[k], sim, cl);
    char ga[128], gb[128], ea[64], eb[64];
    test_json_value(sim, "groups", ga, sizeof ga);
    test_json_value(cl, "groups", gb, sizeof gb);
    assert_string_equal(ga, gb);
    assert_true(strlen(ga) > 4); /* some grouping, e.g. [[0,2],[1,3]] */
    test_json_value(sim, "epsilon", ea, sizeof ea);
    test_json_value(cl, "epsilon", eb, sizeof eb);
    assert_string_equal(ea, eb);
    test_json_value(cl, "dp_guarantee", eb, sizeof eb);
    assert_string_equal(eb, "\"none\""); /* --reproducible */
    test_json_value(cl, "ari", eb, sizeof eb);
    assert_true(strcmp(eb, "null") != 0);

    /* p4 status on a finished node: node 1's result, from node.db and its ledger */
    char node1[1100];
    snprintf(node1, sizeof node1, "%s/node-1", states);
    char *status_argv[] = { (char *)bin, "status", "--state", node1, "--json", NULL };
    char *st = run_p4(status_argv, dir, "status", 0);
    char v[128];
    test_json_value(st, "status", v, sizeof v);
    assert_string_equal(v, "\"finished\"");
    test_json_value(st, "epoch", v, sizeof v);
    assert_string_equal(v, "1");
    test_json_value(st, "round_reached", v, sizeof v);
    assert_string_equal(v, "2");
    test_json_value(st, "accuracy", v, sizeof v);
    assert_true(fabs(strtod(v, NULL) - b[1]) < 1e-6);
    test_json_value(st, "groups", v, sizeof v);
    assert_string_equal(v, gb);
    test_json_value(st, "epsilon", v, sizeof v);
    assert_true(strtod(v, NULL) > 7.9 && strtod(v, NULL) <= 8.0);
    free(st);
    /* node-1/node.ini: the base config (its [node] timeout too) and node 1's [node] */
    char ini1[1200];
    snprintf(ini1, sizeof ini1, "%s/node.ini", node1);
    st = test_read_all(ini1);
    assert_non_null(strstr(st, "\n[node]\nid = 1\nlisten = tcp://127.0.0.1:"));
    assert_non_null(strstr(st, "\ntimeout = 600\n"));
    assert_non_null(strstr(st, "\ncluster_classes = 0,1,2;3,4,5\n"));
    free(st);
    /* the node's own --json output, which p4 cluster keeps in node.out */
    char out1[1200];
    snprintf(out1, sizeof out1, "%s/node.out", node1);
    st = test_read_all(out1);
    assert_non_null(strstr(st, "{\"id\":1,\"epoch\":1,\"status\":\"finished\""));
    test_json_value(st, "accuracy", v, sizeof v);
    assert_true(fabs(strtod(v, NULL) - b[1]) < 1e-6);
    free(st);
    char *text_argv[] = { (char *)bin, "status", "--state", node1, NULL };
    st = run_p4(text_argv, dir, "status-text", 0);
    assert_non_null(strstr(st, "node 1 of 4, epoch 1: finished (p4, round 2 of 2)"));
    free(st);

    /* --nodes must match the config's clients */
    char *bad_argv[] = { (char *)bin, "cluster", "--config", config, "--nodes", "3", "--quiet", NULL };
    free(run_p4(bad_argv, dir, "cluster-bad", 1));
    char errpath[1100];
    snprintf(errpath, sizeof errpath, "%s/cluster-bad.err", dir);
    char *e = test_read_all(errpath);
    assert_non_null(strstr(e, "--nodes 3: the config has [data] clients = 4"));
    free(e);

    /* a deadline the nodes cannot meet: all are stopped, and the error says which */
    char late[1100];
    snprintf(late, sizeof late, "%s/late", dir);
    char *late_argv[] = { (char *)bin, "cluster", "--config", config, "--nodes", "4", "--quiet",
                          "--state", late, "--deadline", "0.2", NULL };
    free(run_p4(late_argv, dir, "cluster-late", 1));
    snprintf(errpath, sizeof errpath, "%s/cluster-late.err", dir);
    e = test_read_all(errpath);
    assert_non_null(strstr(e, "deadline of 0.2 s passed; node(s) 0, 1, 2, 3 had not finished"));
    free(e);
    free(sim);
    free(cl);
}

/* Makes dir/name with a key pair; returns its public key in Z85. */
static void make_node_dir(const char *dir, const char *name, char *path, size_t size,
                          char key[P4_KEY_Z85_CHARS + 1])
{
    snprintf(path, size, "%s/%s", dir, name);
    test_node_identity(path, key, NULL);
}

static void wrong_peer_key_fails_clearly(void **state)
{
    if (!test_dataset_path(FMNIST)) TEST_SKIP(FMNIST " is absent");
    const char *bin = getenv("P4_BIN");
    if (!bin) TEST_SKIP("P4_BIN is not set (run under ctest)");
    const char *dir = *state;
    char d0[1100], d1[1100], dx[1100], k0[41], k1[41], kx[41];
    make_node_dir(dir, "n0", d0, sizeof d0, k0);
    make_node_dir(dir, "n1", d1, sizeof d1, k1);
    make_node_dir(dir, "stranger", dx, sizeof dx, kx); /* a key that is nobody's node */
    int p0 = test_free_port(), p1 = test_free_port();
    char extra[2048], c0[1100], c1[1100];
    /* node 0 knows node 1's real key; node 1 was given the stranger's key for node 0 */
    snprintf(extra, sizeof extra, "[node]\nid = 0\nlisten = tcp://127.0.0.1:%d\n"
             "peers = 1@tcp://127.0.0.1:%d@%s\nstate = %s\ntimeout = 8\n", p0, p1, k1, d0);
    test_write_node_config(dir, "n0.ini", 2, 2, extra, c0, sizeof c0);
    snprintf(extra, sizeof extra, "[node]\nid = 1\nlisten = tcp://127.0.0.1:%d\n"
             "peers = 0@tcp://127.0.0.1:%d@%s\nstate = %s\ntimeout = 8\n", p1, p0, kx, d1);
    test_write_node_config(dir, "n1.ini", 2, 2, extra, c1, sizeof c1);

    char o0[1200], e0[1200], o1[1200], e1[1200];
    snprintf(o0, sizeof o0, "%s/n0.out", dir);
    snprintf(e0, sizeof e0, "%s/n0.err", dir);
    snprintf(o1, sizeof o1, "%s/n1.out", dir);
    snprintf(e1, sizeof e1, "%s/n1.err", dir);
    char *a0[] = { (char *)bin, "node", "--config", c0, "--reproducible", NULL };
    char *a1[] = { (char *)bin, "node", "--config", c1, "--reproducible", NULL };
    pid_t pid0 = test_spawn(a0, o0, e0), pid1 = test_spawn(a1, o1, e1);
    int s0 = test_wait_bounded(pid0, 300), s1 = test_wait_bounded(pid1, 300);
    char *l0 = test_read_all(e0), *l1 = test_read_all(e1);
    if (!WIFEXITED(s0) || WEXITSTATUS(s0) != 1 || !WIFEXITED(s1) || WEXITSTATUS(s1) != 1)
        fail_msg("expected both nodes to fail with status 1:\nnode 0:\n%s\nnode 1:\n%s", l0, l1);
    /* neither got the other's warm-up slice; P4's grouping needs every member */
    /* Each fails with one of two clear errors, depending on timing: it waited
     * the timeout for the other's warm-up slice (P4's grouping needs every
     * member), or ZeroMQ had dropped the connection the other side refused
     * and would not queue the slice. */
    if ((!strstr(l0, "1 peer(s) sent no warm-up slice") &&
         !strstr(l0, "queue to peer 1 is full (64 messages; peer down or refusing our key?)")) ||
        (!strstr(l1, "1 peer(s) sent no warm-up slice") &&
         !strstr(l1, "queue to peer 0 is full (64 messages; peer down or refusing our key?)")))
        fail_msg("expected both to fail for want of the other:\nnode 0:\n%s\nnode 1:\n%s", l0, l1);
    /* node 1's allowlist holds the stranger's key, so it refuses node 0's real one */
    char refused[128];
    snprintf(refused, sizeof refused, "refused peer key %s", k0);
    assert_non_null(strstr(l1, refused));
    p4_node_record rec;
    p4_error err = {0};
    assert_int_equal(p4_node_state_read(d1, &rec, &err), P4_OK);
    assert_string_equal(rec.status, "failed");
    assert_true(strstr(rec.error, "sent no warm-up slice") || strstr(rec.error, "queue to peer 0"));
    assert_int_equal(rec.epoch, 1);
    p4_node_record_free(&rec);
    free(l0);
    free(l1);
}

static void sigterm_stops_a_node(void **state)
{
    if (!test_dataset_path(FMNIST)) TEST_SKIP(FMNIST " is absent");
    const char *bin = getenv("P4_BIN");
    if (!bin) TEST_SKIP("P4_BIN is not set (run under ctest)");
    const char *dir = *state;
    char d0[1100], k0[41], dg[1100], kg[41], extra[2048], c0[1100], o0[1200], e0[1200];
    make_node_dir(dir, "alone", d0, sizeof d0, k0);
    make_node_dir(dir, "ghost", dg, sizeof dg, kg);
    /* Its one peer never comes: the node waits in the grouping's exchange.
     * Without DP, so that a restart is not refused by a ledger the first
     * run's warm-up already charged. */
    snprintf(extra, sizeof extra, "[dp]\nenabled = false\n[node]\nid = 0\n"
             "listen = tcp://127.0.0.1:%d\npeers = 1@tcp://127.0.0.1:%d@%s\nstate = %s\n"
             "timeout = 600\n", test_free_port(), test_free_port(), kg, d0);
    test_write_node_config(dir, "alone.ini", 2, 2, extra, c0, sizeof c0);
    snprintf(o0, sizeof o0, "%s/alone.out", dir);
    snprintf(e0, sizeof e0, "%s/alone.err", dir);
    for (int run = 1; run <= 2; run++) {
        char *a0[] = { (char *)bin, "node", "--config", c0, NULL };
        /* The child truncates its log only once it runs: remove the last
         * run's first, or its "listening on" line ends the wait too early. */
        unlink(o0);
        unlink(e0);
        pid_t pid = test_spawn(a0, o0, e0);
        /* wait until the node is in the protocol (its start line is logged) */
        if (!test_wait_for_text(e0, "listening on", 300)) {
            kill(pid, SIGKILL);
            fail_msg("the node never logged 'listening on' within 300 s");
        }
        kill(pid, SIGTERM);
        int status = test_wait_bounded(pid, 300);
        char *log = test_read_all(e0);
        if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGTERM)
            fail_msg("expected an end by SIGTERM, got wait status %#x; log:\n%s", status, log);
        assert_non_null(strstr(log, "SIGTERM: stopping after the current step"));
        assert_non_null(strstr(log, "stopped by SIGTERM after 0 of 2 rounds"));
        free(log);
        p4_node_record rec;
        p4_error err = {0};
        assert_int_equal(p4_node_state_read(d0, &rec, &err), P4_OK);
        assert_string_equal(rec.status, "stopped");
        assert_string_equal(rec.error, "stopped by SIGTERM after 0 of 2 rounds");
        assert_int_equal(rec.epoch, run); /* the restart counter counts starts */
        p4_node_record_free(&rec);
    }
}

/* `p4 node --init` makes the key pair once and prints the public key. */
static void init_prints_the_public_key(void **state)
{
    const char *bin = getenv("P4_BIN");
    if (!bin) TEST_SKIP("P4_BIN is not set (run under ctest)");
    const char *dir = *state;
    char st[1100], pub[1200];
    snprintf(st, sizeof st, "%s/fresh", dir);
    snprintf(pub, sizeof pub, "%s/node.pub", st);
    char *argv[] = { (char *)bin, "node", "--init", "--state", st, NULL };
    char *first = run_p4(argv, dir, "init1", 0);
    char *again = run_p4(argv, dir, "init2", 0);
    char *file = test_read_all(pub);
    assert_int_equal(strlen(first), P4_KEY_Z85_CHARS + 1);
    assert_string_equal(first, file);
    assert_string_equal(again, file); /* kept, not replaced */
    free(first);
    free(again);
    free(file);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(node_section_parses, test_temp_dir_setup,
                                        test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(node_section_refusals, test_temp_dir_setup,
                                        test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(config_write_round_trips, test_temp_dir_setup,
                                        test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(node_needs_every_member, test_temp_dir_setup,
                                        test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(docs_example_is_consistent, test_temp_dir_setup,
                                        test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(init_prints_the_public_key, test_temp_dir_setup,
                                        test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(cluster_matches_sim, test_temp_dir_setup,
                                        test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(cluster_reports_krum_fallbacks_as_sim_does,
                                        test_temp_dir_setup,
                                        test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(wrong_peer_key_fails_clearly, test_temp_dir_setup,
                                        test_temp_dir_teardown),
        cmocka_unit_test_setup_teardown(sigterm_stops_a_node, test_temp_dir_setup,
                                        test_temp_dir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
