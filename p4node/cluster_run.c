/* cluster_run.c: N node processes on loopback; see cluster_run.h. */
#define _XOPEN_SOURCE 700
#include "p4node/cluster_run.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cluster/attack.h"
#include "cluster/identity.h"
#include "cluster/rand_index.h"
#include "common/progress.h"
#include "p4node/node_state.h"

#define NODE_DIR_MAX (P4_PATH_MAX + 32)

typedef struct cluster_node {
    char dir[NODE_DIR_MAX];
    char key[P4_KEY_Z85_CHARS + 1];
    int port;
    pid_t pid;
    int done, status;         /* waitpid status once done */
} cluster_node;

typedef struct cluster {
    const p4_cluster_options *opt;
    char base[P4_PATH_MAX];
    int temporary;
    int n;
    cluster_node *nodes;
} cluster;

/* ---- folders ---------------------------------------------------------------- */

static int make_dir(const char *path, p4_error *err)
{
    if (mkdir(path, 0700) == 0 || errno == EEXIST)
        return P4_OK;
    return p4_error_set(err, P4_EIO, "cannot make %s: %s", path, strerror(errno));
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb; (void)flag; (void)ftw;
    remove(path);
    return 0;
}

static int open_base(cluster *c, p4_error *err)
{
    const char *dir = c->opt->state_dir;
    if (dir == NULL) {
        const char *tmp = getenv("TMPDIR");
        snprintf(c->base, sizeof c->base, "%s/p4-cluster-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(c->base))
            return p4_error_set(err, P4_EIO, "cannot make a temporary folder %s: %s", c->base,
                                strerror(errno));
        c->temporary = 1;
        return P4_OK;
    }
    int rc = make_dir(dir, err);
    if (rc != P4_OK)
        return rc;
    /* Absolute: each node's config names its state folder, wherever it runs. */
    char *abs = realpath(dir, NULL);
    if (abs == NULL)
        return p4_error_set(err, P4_EIO, "%s: %s", dir, strerror(errno));
    int n = snprintf(c->base, sizeof c->base, "%s", abs);
    free(abs);
    return n < (int)sizeof c->base ? P4_OK
                                   : p4_error_set(err, P4_EINVAL, "%s: path too long", dir);
}

/* ---- ports and configs --------------------------------------------------------- */

/* Free loopback ports, one per node: all are held bound until every one is
 * picked, so they differ (another program may still take one before the
 * node binds it; the node then fails with "cannot listen"). */
static int pick_ports(cluster *c, p4_error *err)
{
    int *fds = malloc((size_t)c->n * sizeof *fds), rc = P4_OK, k = 0;
    if (!fds)
        return p4_error_set(err, P4_ENOMEM, "out of memory");
    for (; k < c->n && rc == P4_OK; k++) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = 0,
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof a;
        fds[k] = socket(AF_INET, SOCK_STREAM, 0);
        if (fds[k] < 0 || bind(fds[k], (struct sockaddr *)&a, sizeof a) != 0 ||
            getsockname(fds[k], (struct sockaddr *)&a, &len) != 0)
            rc = p4_error_set(err, P4_ENET, "cannot find a free loopback port: %s", strerror(errno));
        else
            c->nodes[k].port = ntohs(a.sin_port);
    }
    for (int i = 0; i < k; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    free(fds);
    return rc;
}

/* node-K/node.ini: the base config plus K's [node] section. */
static int write_node_config(cluster *c, int k, p4_config *cfg, p4_error *err)
{
    *cfg = *c->opt->cfg;
    cfg->node_id = k;
    snprintf(cfg->node_listen, sizeof cfg->node_listen, "tcp://127.0.0.1:%d", c->nodes[k].port);
    if (snprintf(cfg->node_state, sizeof cfg->node_state, "%s", c->nodes[k].dir) >=
        (int)sizeof cfg->node_state)
        return p4_error_set(err, P4_EINVAL, "%s: path too long", c->nodes[k].dir);
    cfg->node_peer_count = 0;
    for (int j = 0; j < c->n; j++) {
        if (j == k)
            continue;
        p4_node_peer *p = &cfg->node_peers[cfg->node_peer_count++];
        p->id = j;
        snprintf(p->endpoint, sizeof p->endpoint, "tcp://127.0.0.1:%d", c->nodes[j].port);
        memcpy(p->key, c->nodes[j].key, sizeof p->key);
    }
    char path[NODE_DIR_MAX + 16];
    snprintf(path, sizeof path, "%s/node.ini", c->nodes[k].dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return p4_error_set(err, P4_EIO, "cannot write %s: %s", path, strerror(errno));
    int rc = p4_config_write(cfg, f, err);
    if (fclose(f) != 0 && rc == P4_OK)
        rc = p4_error_set(err, P4_EIO, "cannot write %s: %s", path, strerror(errno));
    return rc;
}

static int prepare_nodes(cluster *c, p4_error *err)
{
    int rc = P4_OK;
    for (int k = 0; k < c->n && rc == P4_OK; k++) {
        cluster_node *nd = &c->nodes[k];
        if (snprintf(nd->dir, sizeof nd->dir, "%s/node-%d", c->base, k) >= (int)sizeof nd->dir)
            return p4_error_set(err, P4_EINVAL, "%s: path too long", c->base);
        p4_identity id;
        if ((rc = make_dir(nd->dir, err)) == P4_OK &&
            (rc = p4_identity_load_or_create(nd->dir, &id, NULL, err)) == P4_OK) {
            p4_key_to_z85(id.public_key, nd->key);
            p4_identity_wipe(&id);
        }
    }
    if (rc == P4_OK)
        rc = pick_ports(c, err);
    p4_config *cfg = malloc(sizeof *cfg); /* large: the peers list */
    if (!cfg)
        return p4_error_set(err, P4_ENOMEM, "out of memory");
    for (int k = 0; k < c->n && rc == P4_OK; k++)
        rc = write_node_config(c, k, cfg, err);
    free(cfg);
    return rc;
}

/* ---- the processes ---------------------------------------------------------------- */

/* In the child: stdout/stderr to node.out/node.log, the signal mask the
 * parent blocked restored, then `p4 node`. */
static void exec_node(const cluster *c, int k, const sigset_t *mask)
{
    const cluster_node *nd = &c->nodes[k];
    char ini[NODE_DIR_MAX + 16], out[NODE_DIR_MAX + 16], log[NODE_DIR_MAX + 16];
    snprintf(ini, sizeof ini, "%s/node.ini", nd->dir);
    snprintf(out, sizeof out, "%s/node.out", nd->dir);
    snprintf(log, sizeof log, "%s/node.log", nd->dir);
    int fo = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int fe = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fo < 0 || fe < 0 || dup2(fo, 1) < 0 || dup2(fe, 2) < 0)
        _exit(126);
    close(fo);
    close(fe);
    sigprocmask(SIG_SETMASK, mask, NULL);
    const char *bin = c->opt->binary ? c->opt->binary : "/proc/self/exe";
    char *argv[8];
    int a = 0;
    argv[a++] = (char *)"p4";
    argv[a++] = (char *)"node";
    argv[a++] = (char *)"--config";
    argv[a++] = ini;
    argv[a++] = (char *)"--json";
    if (c->opt->reproducible)
        argv[a++] = (char *)"--reproducible";
    argv[a] = NULL;
    execv(bin, argv);
    dprintf(2, "p4 cluster: cannot run %s: %s\n", bin, strerror(errno));
    _exit(127);
}

static void stop_nodes(cluster *c)
{
    for (int k = 0; k < c->n; k++)
        if (c->nodes[k].pid > 0 && !c->nodes[k].done)
            kill(c->nodes[k].pid, SIGTERM);
    double until = p4_now_seconds() + 5;
    for (int k = 0; k < c->n; k++) {
        cluster_node *nd = &c->nodes[k];
        while (nd->pid > 0 && !nd->done) {
            if (waitpid(nd->pid, &nd->status, WNOHANG) == nd->pid) {
                nd->done = 1;
            } else if (p4_now_seconds() > until) {
                kill(nd->pid, SIGKILL);
                waitpid(nd->pid, &nd->status, 0);
                nd->done = 1;
            } else {
                nanosleep(&(struct timespec){ 0, 20000000 }, NULL);
            }
        }
    }
}

/* The last line of node K's log, for the error message. */
static void log_tail(const cluster *c, int k, char *out, size_t size)
{
    char path[NODE_DIR_MAX + 16], line[P4_ERROR_MESSAGE_MAX], last[P4_ERROR_MESSAGE_MAX] = "";
    snprintf(path, sizeof path, "%s/node.log", c->nodes[k].dir);
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f))
        if (line[0] != '\n')
            snprintf(last, sizeof last, "%s", line);
    if (f)
        fclose(f);
    last[strcspn(last, "\n")] = '\0';
    snprintf(out, size, "%s", last[0] ? last : "(its log is empty)");
}

/* Copies node K's whole log to the progress stream. */
static void show_log(const cluster *c, int k)
{
    if (!c->opt->log)
        return;
    char path[NODE_DIR_MAX + 16], line[1024];
    snprintf(path, sizeof path, "%s/node.log", c->nodes[k].dir);
    FILE *f = fopen(path, "r");
    fprintf(c->opt->log, "p4 cluster: --- node %d's log (%s) ---\n", k, path);
    while (f && fgets(line, sizeof line, f))
        fputs(line, c->opt->log);
    if (f)
        fclose(f);
    fprintf(c->opt->log, "p4 cluster: --- end of node %d's log ---\n", k);
}

static int node_failed(const cluster_node *nd)
{
    return !WIFEXITED(nd->status) || WEXITSTATUS(nd->status) != 0;
}

static void describe_exit(const cluster_node *nd, char *out, size_t size)
{
    if (WIFEXITED(nd->status))
        snprintf(out, size, "exit status %d", WEXITSTATUS(nd->status));
    else if (WIFSIGNALED(nd->status))
        snprintf(out, size, "killed by signal %d", WTERMSIG(nd->status));
    else
        snprintf(out, size, "status %d", nd->status);
}

/* Starts every node and waits for all of them, the deadline, a node's
 * failure, or SIGINT/SIGTERM to this process. */
static int run_nodes(cluster *c, p4_error *err)
{
    sigset_t wait_set, old;
    sigemptyset(&wait_set);
    sigaddset(&wait_set, SIGCHLD);
    sigaddset(&wait_set, SIGINT);
    sigaddset(&wait_set, SIGTERM);
    sigprocmask(SIG_BLOCK, &wait_set, &old);
    int rc = P4_OK;
    for (int k = 0; k < c->n && rc == P4_OK; k++) {
        pid_t pid = fork();
        if (pid == 0)
            exec_node(c, k, &old);
        if (pid < 0)
            rc = p4_error_set(err, P4_EIO, "cannot start node %d: %s", k, strerror(errno));
        c->nodes[k].pid = pid;
    }
    if (rc == P4_OK && c->opt->log) {
        fprintf(c->opt->log, "p4 cluster: %d nodes running, state in %s%s\n", c->n, c->base,
                c->temporary ? " (temporary)" : "");
        fflush(c->opt->log);
    }
    double deadline = p4_now_seconds() + c->opt->deadline;
    int left = c->n;
    while (rc == P4_OK && left > 0) {
        for (int k = 0; k < c->n && rc == P4_OK; k++) {
            cluster_node *nd = &c->nodes[k];
            if (nd->done || waitpid(nd->pid, &nd->status, WNOHANG) != nd->pid)
                continue;
            nd->done = 1;
            left--;
            if (node_failed(nd)) {
                char how[64], tail[P4_ERROR_MESSAGE_MAX];
                describe_exit(nd, how, sizeof how);
                log_tail(c, k, tail, sizeof tail);
                show_log(c, k);
                rc = p4_error_set(err, P4_EPEER, "node %d failed (%s): %s [log: %s/node.log]", k,
                                  how, tail, nd->dir);
            } else if (c->opt->log) {
                fprintf(c->opt->log, "p4 cluster: node %d finished\n", k);
                fflush(c->opt->log);
            }
        }
        if (rc != P4_OK || left == 0)
            break;
        double now = p4_now_seconds();
        if (now >= deadline) {
            char which[256] = "";
            size_t used = 0;
            for (int k = 0; k < c->n && used < sizeof which - 16; k++)
                if (!c->nodes[k].done)
                    used += (size_t)snprintf(which + used, sizeof which - used, "%s%d",
                                             used ? ", " : "", k);
            rc = p4_error_set(err, P4_ETIMEOUT, "deadline of %g s passed; node(s) %s had not "
                              "finished (logs: %s/node-K/node.log)", c->opt->deadline, which,
                              c->base);
            break;
        }
        double wait = deadline - now < 0.25 ? deadline - now : 0.25;
        struct timespec ts = { (time_t)wait, (long)((wait - (time_t)wait) * 1e9) };
        int sig = sigtimedwait(&wait_set, NULL, &ts);
        if (sig == SIGINT || sig == SIGTERM)
            rc = p4_error_set(err, P4_EIO, "stopped by %s: the nodes were stopped too",
                              sig == SIGINT ? "SIGINT" : "SIGTERM");
    }
    if (rc != P4_OK)
        stop_nodes(c);
    /* The children's SIGCHLDs were handled by waitpid: drop any still pending. */
    struct timespec zero = { 0, 0 };
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    while (sigtimedwait(&chld, NULL, &zero) > 0) {
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    return rc;
}

/* ---- the results ------------------------------------------------------------------- */

static int collect(cluster *c, p4_sim_result *r, p4_error *err)
{
    r->clients = c->n;
    r->accuracy = calloc((size_t)c->n, sizeof *r->accuracy);
    r->group_of = calloc((size_t)c->n, sizeof *r->group_of);
    r->latent = calloc((size_t)c->n, sizeof *r->latent);
    r->attacker = calloc((size_t)c->n, 1);
    if (!r->accuracy || !r->group_of || !r->latent || !r->attacker)
        return p4_error_set(err, P4_ENOMEM, "out of memory");
    int rc = p4_attack_choose_config(c->opt->cfg, c->n, r->attacker, err);
    char method[16] = "";
    for (int k = 0; k < c->n && rc == P4_OK; k++) {
        p4_node_record rec;
        if ((rc = p4_node_state_read(c->nodes[k].dir, &rec, err)) != P4_OK)
            break;
        if (strcmp(rec.status, "finished") != 0 || rec.group_of == NULL || rec.client != k ||
            rec.clients != c->n) {
            rc = p4_error_set(err, P4_ESTATE, "node %d: its node.db says %s (client %d of %d)", k,
                              rec.status, rec.client, rec.clients);
        } else if (k > 0 && (memcmp(rec.group_of, r->group_of, (size_t)c->n * sizeof(int)) != 0 ||
                             rec.ngroups != r->ngroups)) {
            rc = p4_error_set(err, P4_EPEER, "node %d finished with other groups than node 0", k);
        } else {
            r->accuracy[k] = rec.accuracy;
            r->latent[k] = rec.latent;
            /* as p4 sim counts them: client-rounds in all, the smallest group */
            r->krum_fallbacks += rec.krum_fallbacks;
            r->proxy_reverts += rec.proxy_reverts;
            if (rec.krum_smallest > 0 &&
                (r->krum_smallest == 0 || rec.krum_smallest < r->krum_smallest))
                r->krum_smallest = rec.krum_smallest;
            if (rec.epsilon > r->epsilon)
                r->epsilon = rec.epsilon;
            if (k == 0) {
                memcpy(r->group_of, rec.group_of, (size_t)c->n * sizeof(int));
                r->ngroups = rec.ngroups;
                r->noise_multiplier = rec.noise_multiplier;
                r->warmup_noise_multiplier = rec.warmup_noise_multiplier;
                r->facts = rec.facts;
                r->guarantee = rec.guarantee;
                snprintf(method, sizeof method, "%s", rec.method);
            }
        }
        p4_node_record_free(&rec);
    }
    if (rc != P4_OK)
        return rc;
    p4_sim_result_summarise_accuracy(r);
    if (c->opt->cfg->partition.kind == P4_PARTITION_CLUSTERED && strcmp(method, "p4") == 0)
        r->ari = p4_adjusted_rand_index(r->group_of, r->latent, c->n);
    return P4_OK;
}

int p4_cluster_run(const p4_cluster_options *opt, p4_sim_result *r, p4_error *err)
{
    if (opt == NULL || opt->cfg == NULL || r == NULL || !(opt->deadline > 0))
        return p4_error_set(err, P4_EINVAL, "p4_cluster_run: bad arguments");
    memset(r, 0, sizeof *r);
    r->ari = NAN;
    const p4_config *cfg = opt->cfg;
    if (opt->nodes != cfg->partition.clients)
        return p4_error_set(err, P4_EINVAL, "--nodes %d: the config has [data] clients = %d, and "
                            "each node runs one client", opt->nodes, cfg->partition.clients);
    if (opt->nodes < 2 || opt->nodes > P4_NODE_PEERS_MAX + 1)
        return p4_error_set(err, P4_EINVAL, "--nodes %d: want 2..%d", opt->nodes,
                            P4_NODE_PEERS_MAX + 1);
    double start = p4_now_seconds();
    cluster c = { .opt = opt, .n = opt->nodes };
    c.nodes = calloc((size_t)c.n, sizeof *c.nodes);
    if (!c.nodes)
        return p4_error_set(err, P4_ENOMEM, "out of memory");
    int rc = open_base(&c, err);
    if (rc == P4_OK)
        rc = prepare_nodes(&c, err);
    if (rc == P4_OK)
        rc = run_nodes(&c, err);
    if (rc == P4_OK)
        rc = collect(&c, r, err);
    if (c.temporary && rc == P4_OK)
        nftw(c.base, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    else if (c.temporary && opt->log)
        fprintf(opt->log, "p4 cluster: kept the temporary state folder %s for its logs\n", c.base);
    free(c.nodes);
    r->seconds = p4_now_seconds() - start;
    if (rc != P4_OK)
        p4_sim_result_free(r);
    return rc;
}
