/* cmd_serve.c: `p4 serve --state DIR [--config F] [--listen EP]` serves a
 * finished node's personalised model to `p4 query` clients over CURVE, with
 * a fresh attestation token per client when [tee] backend = cca
 * (p4node/serve.h).  Runs until SIGINT or SIGTERM; exit status 0 then, 1 if
 * the model or socket fails, 2 for a usage or config error. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "p4node/commands.h"
#include "p4node/serve.h"
#include "p4node/serve_settings.h"

#define USAGE "usage: p4 serve --state DIR [--config FILE] [--listen tcp://ADDR:PORT]\n"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

int p4_cmd_serve(int argc, char **argv)
{
    static const struct option options[] = {
        {"state", required_argument, NULL, 's'}, {"config", required_argument, NULL, 'c'},
        {"listen", required_argument, NULL, 'l'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *state = NULL, *config = NULL, *listen = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (c) {
        case 's': state = optarg; break;
        case 'c': config = optarg; break;
        case 'l': listen = optarg; break;
        case 'h': printf(USAGE); return 0;
        default: fprintf(stderr, USAGE); return 2;
        }
    }
    if (optind != argc || state == NULL) {
        fprintf(stderr, "p4 serve: --state DIR is required\n" USAGE);
        return 2;
    }
    p4_error err = {0};
    p4_serve_settings settings;
    p4_serve_settings_defaults(&settings);
    if (config != NULL && p4_serve_settings_load(config, &settings, &err) != P4_OK) {
        fprintf(stderr, "p4 serve: %s\n", err.message);
        return 2;
    }
    if (listen != NULL)
        snprintf(settings.listen, sizeof settings.listen, "%s", listen);
    int attested = p4_serve_settings_attested(&settings, &err);
    if (attested < 0) {
        fprintf(stderr, "p4 serve: %s\n", err.message);
        return 2;
    }
    p4_cca_evidence *evidence = NULL;
    if (attested && p4_cca_settings_evidence(&settings.tee, &evidence, &err) != P4_OK) {
        fprintf(stderr, "p4 serve: %s\n", err.message);
        return 2;
    }
    p4_server_options o = {.state_dir = state, .listen = settings.listen,
                           .probabilities = settings.probabilities,
                           .max_rows = settings.max_rows, .evidence = evidence,
                           .log = stderr};
    p4_server *server = NULL;
    if (p4_server_new(&server, &o, &err) != P4_OK) {
        fprintf(stderr, "p4 serve: %s\n", err.message);
        p4_cca_evidence_destroy(&evidence);
        return 1;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART: the poll returns at once */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    uint8_t key[P4_KEY_BYTES];
    char z85[P4_KEY_Z85_CHARS + 1];
    p4_server_public_key(server, key);
    p4_key_to_z85(key, z85);
    int inputs, classes;
    p4_server_shape(server, &inputs, &classes);
    if (evidence != NULL)
        fprintf(stderr, "p4 serve: attestation: a CCA token per client from %s\n",
                p4_cca_evidence_describe(evidence));
    else
        fprintf(stderr, "p4 serve: attestation: none ([tee] backend = software: no hardware "
                        "protection; clients refuse this server unless they pass "
                        "--insecure-no-attestation)\n");
    fprintf(stderr, "p4 serve: model of %d inputs, %d classes; probabilities %s; at most %d "
            "rows per request\n", inputs, classes,
            settings.probabilities ? "released when asked" : "withheld (top-1 only)",
            settings.max_rows);
    fprintf(stderr, "p4 serve: server key %s\n", z85);
    fprintf(stderr, "p4 serve: listening on %s\n", p4_server_endpoint(server));
    fflush(stderr);

    int rc = p4_server_run(server, &stop_requested, &err);
    p4_server_stats stats;
    p4_server_get_stats(server, &stats);
    fprintf(stderr, "p4 serve: stopped: %llu attestations, %llu queries (%llu rows), %llu "
            "requests dropped\n", (unsigned long long)stats.attest_requests,
            (unsigned long long)stats.queries, (unsigned long long)stats.rows,
            (unsigned long long)stats.dropped);
    if (rc != P4_OK)
        fprintf(stderr, "p4 serve: %s\n", err.message);
    p4_server_destroy(&server);
    p4_cca_evidence_destroy(&evidence);
    return rc == P4_OK ? 0 : 1;
}
