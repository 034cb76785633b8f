/* cmd_node.c: `p4 node --config F [--reproducible] [--json] [--quiet]`:
 * runs one member of a networked P4 run (p4node/node.h) until the protocol
 * ends, then prints its result.  Progress and dropped messages go to
 * stderr.  SIGINT or SIGTERM stop the node cleanly at its next step
 * (between rounds, or while it waits for peers): node.db says "stopped"
 * after N rounds, every release is in the durable ledger, the peers get a
 * BYE; a second signal stops it at once.  Either way the process then ends
 * by that signal; started again, it resumes from its last checkpoint.
 * Test hook: P4_TEST_SKEW_VIEW=ID in the environment makes node ID's
 * grouping view differ from the others' (tests/test_membership.c). */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster/identity.h"
#include "dp/guarantee.h"
#include "p4node/commands.h"
#include "p4node/node.h"
#include "p4node/node_report.h"

static void node_usage(FILE *out)
{
    fprintf(out,
            "usage: p4 node --config FILE [--reproducible] [--json] [--quiet]\n"
            "       p4 node --init --state DIR\n"
            "  runs client [node] id of the config as one member of a networked run:\n"
            "  listens on [node] listen, exchanges with the [node] peers (only their keys are\n"
            "  admitted), keeps keys, results and the privacy ledger in [node] state.\n"
            "  --json          print the result as one JSON object\n"
            "  --quiet         no progress lines on stderr\n"
            "  --reproducible  draw DP noise and batches from the seed: NOT private\n"
            "  --init      make the state folder DIR and the node's key pair if missing, and\n"
            "              print its public key (what the other nodes list in [node] peers)\n"
            "  See docs/node.md.\n");
}

/* SIGINT and SIGTERM: the handler only passes the signal number down a
 * pipe (threads started before main, e.g. OpenBLAS's, may be the ones that
 * receive it); the stopper thread does the rest. */
static int stop_pipe[2] = { -1, -1 };

static void on_stop_signal(int sig)
{
    unsigned char b = (unsigned char)sig;
    ssize_t n = write(stop_pipe[1], &b, 1);
    (void)n;
}

typedef struct {
    const char *state_dir;
    int id;
    atomic_int stop;        /* the first signal: the protocol stops at its next step */
    char why[64];           /* "stopped by SIGTERM" */
} stopper;

static const char *signal_name(int sig)
{
    return sig == SIGINT ? "SIGINT" : "SIGTERM";
}

/* Ends the process as the signal would have, so the parent sees which. */
static void end_by_signal(int sig)
{
    signal(sig, SIG_DFL);
    raise(sig);
    _exit(128 + sig);
}

static void *stop_on_signal(void *arg)
{
    stopper *s = arg;
    unsigned char b = 0;
    while (read(stop_pipe[0], &b, 1) != 1) {
    }
    int sig = b;
    snprintf(s->why, sizeof s->why, "stopped by %s", signal_name(sig));
    atomic_store(&s->stop, sig);
    fprintf(stderr, "p4 node %d: %s: stopping after the current step (send it again to stop "
                    "at once)\n", s->id, signal_name(sig));
    fflush(stderr);
    while (read(stop_pipe[0], &b, 1) != 1) {
    }
    sig = b;
    p4_node_state_mark_stopped(s->state_dir, s->why, NULL);
    fprintf(stderr, "p4 node %d: %s again: stopping now. Every DP release made so far is in "
                    "the ledger; this run is not finished (a restart resumes it from its last "
                    "checkpoint as a new epoch).\n", s->id, signal_name(sig));
    fflush(stderr);
    end_by_signal(sig);
    return NULL;
}

static int catch_stop_signals(stopper *stop)
{
    pthread_t thread;
    if (pipe(stop_pipe) != 0 || pthread_create(&thread, NULL, stop_on_signal, stop) != 0)
        return -1;
    pthread_detach(thread);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    if (sigaction(SIGINT, &sa, NULL) != 0 || sigaction(SIGTERM, &sa, NULL) != 0)
        return -1;
    return 0;
}

/* Fault tests: P4_TEST_KILL_AFTER_CHECKPOINT=N[:MS] makes the node SIGKILL
 * itself right after committing the checkpoint that resumes at round N (0:
 * the one after the grouping), i.e. between two rounds, after lingering MS
 * milliseconds (so that faster peers' next messages reach the process that
 * dies, as they would in a real crash). */
typedef struct {
    int round, linger_ms;
} kill_plan;

static void kill_after_checkpoint(void *user, int next_round)
{
    const kill_plan *at = user;
    if (at->round == next_round) {
        fprintf(stderr, "p4 node: P4_TEST_KILL_AFTER_CHECKPOINT=%d:%d: killing myself\n",
                at->round, at->linger_ms);
        fflush(stderr);
        usleep((useconds_t)at->linger_ms * 1000u);
        raise(SIGKILL);
    }
}

/* --init: the key pair, made once; prints the public key. */
static int init_state(const char *state)
{
    p4_identity id;
    int created = 0;
    p4_error err = {0};
    if (p4_identity_load_or_create(state, &id, &created, &err) != P4_OK) {
        fprintf(stderr, "p4 node: %s\n", err.message);
        return 1;
    }
    char key[P4_KEY_Z85_CHARS + 1];
    p4_key_to_z85(id.public_key, key);
    p4_identity_wipe(&id);
    fprintf(stderr, "p4 node: %s key pair in %s; its public key (%s/node.pub):\n",
            created ? "made a new" : "kept the", state, state);
    printf("%s\n", key);
    return 0;
}

int p4_cmd_node(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'}, {"reproducible", no_argument, NULL, 'r'},
        {"json", no_argument, NULL, 'j'},         {"quiet", no_argument, NULL, 'q'},
        {"init", no_argument, NULL, 'i'},         {"state", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
    const char *config = NULL, *state = NULL;
    int reproducible = 0, json = 0, quiet = 0, init = 0, ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c': config = optarg; break;
        case 'r': reproducible = 1; break;
        case 'j': json = 1; break;
        case 'q': quiet = 1; break;
        case 'i': init = 1; break;
        case 's': state = optarg; break;
        case 'h': node_usage(stdout); return 0;
        default: node_usage(stderr); return 2;
        }
    }
    if (init || state) {
        if (!init || !state || config || optind < argc) {
            fprintf(stderr, "p4 node: --init and --state DIR go together, without --config\n");
            return 2;
        }
        return init_state(state);
    }
    if (!config || optind < argc) {
        fprintf(stderr, "p4 node: %s\n", config ? "unexpected argument" : "--config FILE is required");
        node_usage(stderr);
        return 2;
    }
    static p4_config cfg; /* static: the stopper thread reads its state path until exit */
    p4_error err = {0};
    if (p4_config_load(config, &cfg, &err) != P4_OK || p4_node_check_config(&cfg, &err) != P4_OK) {
        fprintf(stderr, "p4 node: %s\n", err.message);
        return 2;
    }
    if (reproducible)
        fprintf(stderr, "p4 node: %s\n", P4_REPRODUCIBLE_WARNING);

    static stopper stop;
    stop.state_dir = cfg.node_state;
    stop.id = cfg.node_id;
    atomic_init(&stop.stop, 0);
    if (catch_stop_signals(&stop) != 0) {
        fprintf(stderr, "p4 node: cannot set up signal handling\n");
        return 1;
    }

    const char *skew = getenv("P4_TEST_SKEW_VIEW");
    p4_node_options opt = { .cfg = &cfg, .reproducible = reproducible,
                            .log = quiet ? NULL : stderr, .stop = &stop.stop,
                            .stop_why = stop.why,
                            .test_skew_view = skew && *skew && atoi(skew) == cfg.node_id };
    static kill_plan kill_at;
    const char *fault = getenv("P4_TEST_KILL_AFTER_CHECKPOINT");
    if (fault && *fault) {
        kill_at.round = atoi(fault);
        kill_at.linger_ms = strchr(fault, ':') ? atoi(strchr(fault, ':') + 1) : 0;
        opt.after_checkpoint = kill_after_checkpoint;
        opt.user = &kill_at;
    }
    p4_node_record rec;
    if (p4_node_run(&opt, &rec, &err) != P4_OK) {
        fprintf(stderr, "p4 node %d: %s\n", cfg.node_id, err.message);
        return 1;
    }
    int sig = atomic_load(&stop.stop);
    if (strcmp(rec.status, "stopped") == 0 && sig != 0) {
        fprintf(stderr, "p4 node %d: %s after %d of %d rounds: node.db and the ledger hold "
                        "everything so far (a restart resumes from its last checkpoint as a new "
                        "epoch)\n",
                cfg.node_id, stop.why, rec.round_reached, rec.rounds);
        fflush(stderr);
        p4_node_record_free(&rec);
        end_by_signal(sig);
    }
    if (json)
        p4_node_report_json(stdout, &rec, cfg.delta, cfg.node_state);
    else
        p4_node_report_text(stdout, &rec, cfg.delta, cfg.node_state);
    fflush(stdout);
    p4_node_record_free(&rec);
    return 0;
}
