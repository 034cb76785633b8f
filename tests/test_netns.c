/* test_netns.c: `p4 node` across real (virtual) network links (issue 12).
 *
 * The test builds its own small network: three node namespaces, each with
 * one veth `eth0` (10.199.0.K/24) whose other end sits on a bridge in a
 * fourth namespace, and a root qdisc on every node's eth0 that makes the
 * link worse. Three `p4 node` processes run inside them with
 * `ip netns exec`, one client each, over ZeroMQ CURVE on those addresses.
 * Two links are tried:
 *   - tbf at 4 Mbit/s whose queue drops what would wait over 20 ms: a slow
 *     link that delays bursts and drops a fair share of their packets;
 *   - netem delay 20 ms, loss 1 % (each way out of every node).
 *
 * Each asserts that every node finishes, that all report p4 sim's groups,
 * that each node's accuracy equals `p4 sim --reproducible`'s for its client
 * (the protocol's result does not depend on the network's delay and loss),
 * and that the traffic really crossed the veths (each eth0's tx_bytes grew
 * by more than one proxy's parameters).
 *
 * Needs root, `ip` and `tc`, a kernel that lets us make namespaces, and
 * the qdisc: it skips (exit 77) naming what is missing (minimal VM kernels
 * often lack sch_netem). Names are p4t-<pid>-*, so runs never collide;
 * teardown deletes this run's namespaces whatever happened, and each run
 * first deletes namespaces left by runs whose process is gone. */
#include "support/test_support.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#define FMNIST "/usr/share/datasets/fashion-mnist"
#define NODES 3
#define NS_PREFIX "p4t-"
#define NODE_PORT 7000
#define RUN_DEADLINE_S 120.0
/* logreg-28x28x1: 784 x 10 weights and 10 biases, as float */
#define PROXY_BYTES ((784 * 10 + 10) * 4)

typedef struct {
    char *dir;                 /* the test's temporary folder */
    char bridge_ns[64];        /* holds br0 and the veths' far ends */
    char node_ns[NODES][64];   /* one per node, with eth0 */
    int bridge_made, nodes_made;
    pid_t pid[NODES];          /* running node processes, 0 once reaped */
} network;

static const char *source_dir(void)
{
    return getenv("P4_SOURCE_DIR") ? getenv("P4_SOURCE_DIR") : ".";
}

/* Runs a shell command, its stderr folded into its stdout; puts up to
 * size-1 bytes of that output in out (may be NULL) and returns its exit
 * status (-1 if it could not run). */
static int run_text(char *out, size_t size, const char *command)
{
    char cmd[4200];
    assert_true(snprintf(cmd, sizeof cmd, "%s 2>&1", command) < (int)sizeof cmd);
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    char sink[512];
    size_t used = 0;
    for (;;) {
        int keep = out && used + 1 < size;
        size_t got = fread(keep ? out + used : sink, 1, keep ? size - 1 - used : sizeof sink, p);
        if (got == 0)
            break;
        if (keep)
            used += got;
    }
    if (out && size)
        out[used] = '\0';
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* run_text of a formatted command. */
static int run_cmd(char *out, size_t size, const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    assert_true(n > 0 && (size_t)n < sizeof cmd);
    return run_text(out, size, cmd);
}

/* A formatted command that must succeed: else the test fails with the
 * command and its output. */
static void must(const char *fmt, ...)
{
    char cmd[4096], out[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    assert_true(n > 0 && (size_t)n < sizeof cmd);
    if (run_text(out, sizeof out, cmd) != 0)
        fail_msg("`%s` failed: %s", cmd, out);
}

/* Deletes namespaces p4t-<pid>-* whose <pid> no longer runs: what a run
 * killed before its teardown left behind. Another live run's are kept. */
static void delete_stale_namespaces(void)
{
    char list[16384];
    if (run_cmd(list, sizeof list, "ip netns list") != 0)
        return;
    for (char *line = strtok(list, "\n"); line; line = strtok(NULL, "\n")) {
        char name[64];
        int pid;
        if (sscanf(line, "%63s", name) != 1 || strncmp(name, NS_PREFIX, strlen(NS_PREFIX)) ||
            sscanf(name + strlen(NS_PREFIX), "%d-", &pid) != 1)
            continue;
        if (kill(pid, 0) == 0 || errno != ESRCH)
            continue;
        run_cmd(NULL, 0, "ip netns del %s", name);
    }
}

static int network_setup(void **state)
{
    network *net = calloc(1, sizeof *net);
    if (!net)
        return -1;
    net->dir = test_make_temp_dir();
    snprintf(net->bridge_ns, sizeof net->bridge_ns, NS_PREFIX "%d-br", (int)getpid());
    for (int k = 0; k < NODES; k++)
        snprintf(net->node_ns[k], sizeof net->node_ns[k], NS_PREFIX "%d-%c", (int)getpid(),
                 'a' + k);
    *state = net;
    return 0;
}

static void kill_nodes(network *net)
{
    for (int k = 0; k < NODES; k++)
        if (net->pid[k] > 0) {
            kill(net->pid[k], SIGKILL);
            waitpid(net->pid[k], NULL, 0);
            net->pid[k] = 0;
        }
}

/* Always runs, also after a failed assertion: stops the nodes, then
 * deletes every namespace this run made. */
static int network_teardown(void **state)
{
    network *net = *state;
    kill_nodes(net);
    for (int k = 0; k < net->nodes_made; k++)
        run_cmd(NULL, 0, "ip netns del %s", net->node_ns[k]);
    if (net->bridge_made)
        run_cmd(NULL, 0, "ip netns del %s", net->bridge_ns);
    test_remove_tree(net->dir);
    free(net);
    return 0;
}

/* The bridge namespace, then each node's namespace linked to it by a veth
 * pair made in place (nothing is added to the host's own namespace). */
static void build_network(network *net, const char *qdisc_spec)
{
    must("ip netns add %s", net->bridge_ns);
    net->bridge_made = 1;
    must("ip -n %s link set lo up", net->bridge_ns);
    must("ip -n %s link add br0 type bridge", net->bridge_ns);
    must("ip -n %s link set br0 up", net->bridge_ns);
    for (int k = 0; k < NODES; k++) {
        const char *ns = net->node_ns[k];
        must("ip netns add %s", ns);
        net->nodes_made = k + 1;
        must("ip -n %s link set lo up", ns);
        must("ip -n %s link add port%d type veth peer name eth0 netns %s", net->bridge_ns, k, ns);
        must("ip -n %s link set port%d master br0 up", net->bridge_ns, k);
        must("ip -n %s addr add 10.199.0.%d/24 dev eth0", ns, k + 1);
        must("ip -n %s link set eth0 up", ns);
        must("tc -n %s qdisc add dev eth0 root %s", ns, qdisc_spec);
        char qdisc[512], kind[16];
        assert_int_equal(run_cmd(qdisc, sizeof qdisc, "tc -n %s qdisc show dev eth0", ns), 0);
        snprintf(kind, sizeof kind, "qdisc %.*s ", (int)strcspn(qdisc_spec, " "), qdisc_spec);
        if (strncmp(qdisc, kind, strlen(kind)) != 0)
            fail_msg("%s eth0 should have %s...: %s", ns, kind, qdisc);
    }
}

static long long tx_bytes(const char *ns)
{
    char text[64];
    if (run_cmd(text, sizeof text, "ip netns exec %s cat /sys/class/net/eth0/statistics/tx_bytes",
                ns) != 0)
        fail_msg("cannot read %s eth0 tx_bytes: %s", ns, text);
    return atoll(text);
}

static char *file_text(const char *dir, const char *name)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    char *text = calloc(1, 1 << 18);
    assert_non_null(text);
    if (f) {
        size_t got = fread(text, 1, (1 << 18) - 1, f);
        text[got] = '\0';
        fclose(f);
    }
    return text;
}

/* The three-client Fashion-MNIST config every node and p4 sim share,
 * followed by `node_section`. */
static void write_config(const char *path, const char *node_section)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f,
            "[data]\ndataset = fashion-mnist\npartition = clustered\nclients = %d\nclusters = 2\n"
            "cluster_classes = 0,1,2; 3,4,5\ntrain_per_client = 30\ntest_per_client = 30\n"
            "max_train = 3000\nmax_test = 1000\nseed = 11\n"
            "[model]\ncfg = %s/configs/models/mlp-28x28x1.cfg\n"
            "proxy_cfg = %s/configs/models/logreg-28x28x1.cfg\nbatch = 10\nseed = 11\n"
            "[dp]\ntarget_epsilon = 8\n[p4]\nrounds = 2\ngroup_size = 2\n%s",
            NODES, source_dir(), source_dir(), node_section);
    assert_int_equal(fclose(f), 0);
}

/* Node k's config: the base, plus its [node] section on 10.199.0.(k+1). */
static void write_node_config(const network *net, int k, char keys[NODES][64], char *path,
                              size_t size)
{
    char section[2048];
    int n = snprintf(section, sizeof section,
                     "[node]\nid = %d\nlisten = tcp://10.199.0.%d:%d\nstate = %s/node-%d\n"
                     "timeout = 30\n", k, k + 1, NODE_PORT, net->dir, k);
    for (int j = 0; j < NODES; j++)
        if (j != k)
            n += snprintf(section + n, sizeof section - n, "peers = %d@tcp://10.199.0.%d:%d@%s\n",
                          j, j + 1, NODE_PORT, keys[j]);
    assert_true(n > 0 && (size_t)n < sizeof section);
    snprintf(path, size, "%s/node-%d.ini", net->dir, k);
    write_config(path, section);
}

/* Starts `ip netns exec NS p4 node ...`; stdout and stderr go to
 * dir/node-K.out and .err (ip netns exec becomes the node itself). */
static pid_t start_node(const network *net, int k, const char *bin, const char *config)
{
    char out[1200], log[1200];
    snprintf(out, sizeof out, "%s/node-%d.out", net->dir, k);
    snprintf(log, sizeof log, "%s/node-%d.err", net->dir, k);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* a test killed before its teardown takes its nodes with it */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (!freopen(out, "w", stdout) || !freopen(log, "w", stderr))
            _exit(126);
        execlp("ip", "ip", "netns", "exec", net->node_ns[k], bin, "node", "--config", config,
               "--reproducible", "--json", (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* Fails the test with every node's log. */
static void fail_with_logs(const network *net, const char *what)
{
    for (int k = 0; k < NODES; k++) {
        char name[32];
        snprintf(name, sizeof name, "node-%d.err", k);
        char *log = file_text(net->dir, name);
        print_error("---- node %d (%s) log ----\n%s\n", k, net->node_ns[k], log);
        free(log);
    }
    fail_msg("%s", what);
}

/* Waits for every node to exit 0 within RUN_DEADLINE_S. A node that fails,
 * or the deadline passing, kills the rest and fails the test with the logs. */
static void wait_for_nodes(network *net)
{
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int left = NODES; left > 0;) {
        for (int k = 0; k < NODES; k++) {
            int status;
            if (net->pid[k] <= 0 || waitpid(net->pid[k], &status, WNOHANG) != net->pid[k])
                continue;
            net->pid[k] = 0;
            left--;
            if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                kill_nodes(net);
                char why[128];
                snprintf(why, sizeof why, "node %d ended with wait status %#x", k, status);
                fail_with_logs(net, why);
            }
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (left > 0 && (now.tv_sec - t0.tv_sec) > RUN_DEADLINE_S) {
            kill_nodes(net);
            fail_with_logs(net, "the nodes did not finish within the deadline; killed");
        }
        nanosleep(&(struct timespec){ 0, 50000000 }, NULL);
    }
}

/* Where the value of "key": starts in json, or NULL. */
static const char *json_at(const char *json, const char *key)
{
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\":", key);
    const char *s = strstr(json, pattern);
    return s ? s + strlen(pattern) : NULL;
}

/* The groups value, e.g. [[0,2],[1]]: up to its closing "]]". */
static void groups_of(const char *json, char *out, size_t size)
{
    const char *s = json_at(json, "groups");
    const char *e = s ? strstr(s, "]]") : NULL;
    if (!e)
        fail_msg("no groups in %s", json);
    snprintf(out, size, "%.*s", (int)(e + 2 - s), s);
}

/* Why `tc qdisc add ... root qdisc_spec` failed, for the skip line: for
 * netem, whether the kernel lacks it outright (not built in, and no module
 * tree to load sch_netem from) or has a module tree that lacks or refused
 * it. */
static void skip_reason_for_qdisc(const char *qdisc_spec, const char *tc_said, char *out,
                                  size_t size)
{
    /* tc's message, cut to a line's worth */
    char said[300];
    snprintf(said, sizeof said, "%.*s", (int)strcspn(tc_said, "\n"), tc_said);
    tc_said = said;
    struct utsname u;
    if (strncmp(qdisc_spec, "netem", 5) != 0 || uname(&u) != 0) {
        snprintf(out, size, "`tc qdisc add dev lo root %s` failed (kernel without that qdisc?): "
                 "%s", qdisc_spec, tc_said);
        return;
    }
    char modules[sizeof u.release + 16];
    snprintf(modules, sizeof modules, "/lib/modules/%s", u.release);
    struct stat sb;
    if (stat(modules, &sb) != 0)
        snprintf(out, size, "this machine's kernel (%s) has no netem: sch_netem is not built in "
                 "and there are no modules (%s is absent), so the netem half cannot run here; "
                 "tc said: %s", u.release, modules, tc_said);
    else
        snprintf(out, size, "this machine's kernel (%s) has no netem: sch_netem is not built in "
                 "and could not be loaded from %s; tc said: %s", u.release, modules, tc_said);
}

/* Runs the three nodes across namespaces whose eth0 carries the root
 * qdisc `qdisc_spec` (tc arguments, e.g. "netem delay 20ms") and checks
 * them against p4 sim. Skips, naming why, where it cannot make the network
 * or the kernel lacks that qdisc. */
static void run_across_namespaces(network *net, const char *qdisc_spec)
{
    if (geteuid() != 0)
        TEST_SKIP("not root: network namespaces need CAP_SYS_ADMIN and CAP_NET_ADMIN");
    if (run_cmd(NULL, 0, "command -v ip") != 0)
        TEST_SKIP("the ip command (iproute2) is missing");
    if (run_cmd(NULL, 0, "command -v tc") != 0)
        TEST_SKIP("the tc command (iproute2) is missing");
    if (!test_dataset_path(FMNIST))
        TEST_SKIP(FMNIST " is absent");
    const char *bin = getenv("P4_BIN");
    if (!bin)
        TEST_SKIP("P4_BIN is not set (run under ctest)");

    delete_stale_namespaces();
    char why[1024];
    if (run_cmd(why, sizeof why, "ip netns add %s", net->bridge_ns) != 0) {
        static char reason[1200];
        snprintf(reason, sizeof reason, "`ip netns add` failed (no privilege here?): %s", why);
        TEST_SKIP(reason);
    }
    /* a kernel without sch_netem (a minimal VM's) knows no netem qdisc */
    int no_qdisc = run_cmd(why, sizeof why, "tc -n %s qdisc add dev lo root %s", net->bridge_ns,
                           qdisc_spec) != 0;
    run_cmd(NULL, 0, "ip netns del %s", net->bridge_ns);
    if (no_qdisc) {
        static char reason[3000];
        skip_reason_for_qdisc(qdisc_spec, why, reason, sizeof reason);
        TEST_SKIP(reason);
    }
    build_network(net, qdisc_spec);

    /* keys with `p4 node --init`, then each node's config */
    char keys[NODES][64], config[NODES][1200], base[1200];
    for (int k = 0; k < NODES; k++) {
        must("%s node --init --state %s/node-%d", bin, net->dir, k);
        char pub[32];
        snprintf(pub, sizeof pub, "node-%d/node.pub", k);
        char *key = file_text(net->dir, pub);
        snprintf(keys[k], sizeof keys[k], "%.*s", (int)strcspn(key, "\n"), key);
        free(key);
        assert_int_equal(strlen(keys[k]), 40);
    }
    for (int k = 0; k < NODES; k++)
        write_node_config(net, k, keys, config[k], sizeof config[k]);
    snprintf(base, sizeof base, "%s/base.ini", net->dir);
    write_config(base, "");

    long long tx_before[NODES];
    for (int k = 0; k < NODES; k++)
        tx_before[k] = tx_bytes(net->node_ns[k]);

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int k = 0; k < NODES; k++)
        net->pid[k] = start_node(net, k, bin, config[k]);
    wait_for_nodes(net);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    print_message("3 nodes over veths with %s finished in %.1f s\n", qdisc_spec,
                  (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);

    /* the reference: the same base config in one process */
    char *sim = calloc(1, 1 << 18);
    assert_non_null(sim);
    if (run_cmd(sim, 1 << 18, "%s sim --config %s --reproducible --json --quiet", bin, base) != 0)
        fail_msg("p4 sim failed: %s", sim);
    const char *acc = json_at(sim, "accuracy");
    if (!acc || *acc != '[')
        fail_msg("no accuracy list in p4 sim's output: %s", sim);
    char sim_groups[256];
    groups_of(sim, sim_groups, sizeof sim_groups);
    assert_true(strlen(sim_groups) > 4);

    acc++;
    for (int k = 0; k < NODES; k++) {
        char *end;
        double expect = strtod(acc, &end);
        assert_true(end != acc);
        acc = end + 1;
        char name[32], groups[256];
        snprintf(name, sizeof name, "node-%d.out", k);
        char *out = file_text(net->dir, name);
        const char *a = json_at(out, "accuracy");
        if (!a)
            fail_msg("node %d printed no accuracy: %s", k, out);
        double got = strtod(a, NULL);
        if (fabs(got - expect) > 1e-6)
            fail_msg("client %d: p4 sim %.9f, node across namespaces %.9f", k, expect, got);
        groups_of(out, groups, sizeof groups);
        if (strcmp(groups, sim_groups) != 0)
            fail_msg("node %d groups %s, p4 sim %s", k, groups, sim_groups);
        free(out);
    }
    free(sim);

    /* the exchanges went over the veths, not some other path */
    for (int k = 0; k < NODES; k++) {
        long long sent = tx_bytes(net->node_ns[k]) - tx_before[k];
        char stats[1024];
        run_cmd(stats, sizeof stats, "tc -n %s -s qdisc show dev eth0 | grep -m1 Sent",
                net->node_ns[k]);
        print_message("node %d sent %lld bytes on %s eth0; qdisc:%s", k, sent, net->node_ns[k],
                      stats);
        if (sent <= PROXY_BYTES)
            fail_msg("node %d sent only %lld bytes on eth0, less than one proxy (%d)", k, sent,
                     PROXY_BYTES);
    }
}

/* A slow link: 4 Mbit/s, and a queue that drops what would wait over
 * 20 ms (tbf is in kernels that lack netem). */
static void nodes_across_slow_links_match_sim(void **state)
{
    run_across_namespaces(*state, "tbf rate 4mbit burst 8kb latency 20ms");
}

static void nodes_across_netem_match_sim(void **state)
{
    run_across_namespaces(*state, "netem delay 20ms loss 1%");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(nodes_across_slow_links_match_sim, network_setup,
                                        network_teardown),
        cmocka_unit_test_setup_teardown(nodes_across_netem_match_sim, network_setup,
                                        network_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
