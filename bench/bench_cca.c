/* bench_cca.c: the cost of CCA admission per peer.
 *
 *   bench_cca [--peers N] [--nodes K] [--issuer PATH] [--json]
 *
 * For each of N peers: a fresh 32-byte nonce, the binding challenge over a
 * node key and that nonce, a token fetched from the evidence source, and
 * the verifier's p4_cca_verify_peer (two ECDSA P-384 verifications, the RAK
 * binding, the challenge and the measurement allowlist).  Prints ms per peer
 * for fetch and verify.  Then the real handshake (cluster/handshake.c) of K
 * nodes on threads over in-process transports: its wall time, and the bytes
 * each node sends each peer for it (a HELLO with the nonce, an EVIDENCE with
 * the token, headers included).  The `software` backend sends none of them,
 * so those are the extra bytes per handshake.
 * The fetch uses the external-command source with tests' token issuer (a
 * process spawn and two P-384 signatures), since this machine has no realm:
 * a configfs-tsm fetch on real hardware costs what the RMM takes to sign,
 * which this cannot measure.  Figures, not tests: run on a quiet machine. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <pthread.h>

#include "cluster/handshake.h"
#include "support/handshake_peer.h"
#include "cluster/replay_guard.h"
#include "cluster/transport_inproc.h"
#include "cluster/wire.h"
#include "common/rng.h"
#include "tee/cca/evidence.h"
#include "tee/cca/settings.h"
#include "tee/cca/verify.h"

#ifndef P4_CCA_ISSUER_PATH
#define P4_CCA_ISSUER_PATH "build/tests/cca_token_issuer"
#endif

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void remove_keys(const char *dir)
{
    static const char *FILES[] = {"cpak.pem", "cpak.pub.pem", "rak.pem"};
    char path[512];
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, FILES[i]);
        unlink(path);
    }
    rmdir(dir);
}

/* Times verifying the shared TF-RMM token (ES384), if ../shared is there. */
static double shared_token_verify_ms(int reps)
{
    const char *token_path = "../shared/attestation/cca/tf-rmm-token.cbor";
    EVP_PKEY *cpak = NULL;
    if (p4_cca_cpak_load("../shared/attestation/cca/tf-rmm-cpak.pub.pem", &cpak, NULL) != P4_OK)
        return -1;
    FILE *f = fopen(token_path, "rb");
    uint8_t buf[P4_CCA_TOKEN_MAX];
    size_t len = f ? fread(buf, 1, sizeof buf, f) : 0;
    if (f)
        fclose(f);
    double best = -1;
    for (int i = 0; i < reps && len > 0; i++) {
        p4_cca_verdict v;
        double t0 = now();
        int rc = p4_cca_verify(buf, len, cpak, NULL, NULL, &v, NULL, NULL);
        double ms = 1e3 * (now() - t0);
        if (rc != P4_OK)
            break;
        if (best < 0 || ms < best)
            best = ms;
    }
    EVP_PKEY_free(cpak);
    return best;
}

/* ---- the handshake of K nodes on threads ---- */

#define HANDSHAKE_NODES_MAX 16

/* Runs the handshake of k nodes; *seconds = its wall time, *bytes = what one
 * node sends one peer, *fetches = own tokens fetched per peer. */
static int handshake_cost(int k, const char *command, const char *cpak_path, double *seconds,
                          double *bytes, double *token_bytes, double *fetches, p4_error *err)
{
    p4_cca_settings s;
    p4_cca_settings_defaults(&s);
    p4_cca_verifier *verifier = NULL;
    int rc = p4_cca_settings_set(&s, "cpak", cpak_path, NULL, err);
    if (rc == P4_OK)
        rc = p4_cca_settings_set(&s, "realm_initial_measurement",
                                 "1111111111111111111111111111111111111111111111111111111111111111",
                                 NULL, err);
    if (rc == P4_OK)
        rc = p4_cca_verifier_new(&verifier, &s, err);
    p4_inproc_hub *hub = NULL;
    if (rc == P4_OK)
        rc = p4_inproc_hub_new(&hub, k, err);
    if (rc != P4_OK) {
        p4_cca_verifier_destroy(&verifier);
        return rc;
    }
    if (strlen(command) >= sizeof ((handshake_peer *)0)->command) {
        p4_inproc_hub_destroy(&hub);
        p4_cca_verifier_destroy(&verifier);
        return p4_error_set(err, P4_EINVAL, "the evidence command is longer than %zu characters",
                            sizeof ((handshake_peer *)0)->command - 1);
    }
    uint8_t keys[HANDSHAKE_NODES_MAX][32];
    p4_rng rng;
    p4_rng_init_secure(&rng);
    p4_rng_bytes(&rng, keys, sizeof keys);
    static handshake_peer nodes[HANDSHAKE_NODES_MAX];
    pthread_t threads[HANDSHAKE_NODES_MAX];
    double t0 = now();
    for (int i = 0; i < k; i++) {
        /* a real endpoint's length, as a node announces in its HELLO */
        nodes[i] = (handshake_peer){ .id = i, .clients = k, .hub = hub,
                                     .keys = (const uint8_t(*)[32])keys,
                                     .endpoint = "tcp://127.0.0.1:7000", .verifier = verifier,
                                     .timeout = 120 };
        memcpy(nodes[i].command, command, strlen(command) + 1); /* length checked above */
        pthread_create(&threads[i], NULL, handshake_peer_run, &nodes[i]);
    }
    for (int i = 0; i < k; i++)
        pthread_join(threads[i], NULL);
    *seconds = now() - t0;
    *bytes = *token_bytes = *fetches = 0;
    for (int i = 0; i < k && rc == P4_OK; i++) {
        if (nodes[i].rc != P4_OK || nodes[i].stats.admitted != k - 1)
            rc = p4_error_set(err, P4_EPEER, "handshake node %d: %s (%d admitted)", i,
                              nodes[i].err.message, nodes[i].stats.admitted);
        *bytes += (double)nodes[i].stats.bytes_sent / (k - 1) / k;
        *token_bytes += (double)nodes[i].stats.token_bytes_sent / (k - 1) / k;
        *fetches += (double)nodes[i].stats.tokens_fetched / (k - 1) / k;
    }
    p4_inproc_hub_destroy(&hub);
    p4_cca_verifier_destroy(&verifier);
    return rc;
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        {"peers", required_argument, NULL, 'n'}, {"issuer", required_argument, NULL, 'i'},
        {"json", no_argument, NULL, 'j'},       {"help", no_argument, NULL, 'h'},
        {"nodes", required_argument, NULL, 'k'}, {NULL, 0, NULL, 0}};
    int peers = 20, json = 0, c, k = 4;
    const char *issuer = P4_CCA_ISSUER_PATH;
    while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (c == 'n') peers = atoi(optarg);
        else if (c == 'i') issuer = optarg;
        else if (c == 'j') json = 1;
        else if (c == 'k') k = atoi(optarg);
        else {
            fprintf(stderr, "usage: bench_cca [--peers N] [--nodes K] [--issuer PATH] [--json]\n");
            return c == 'h' ? 0 : 2;
        }
    }
    if (peers < 1 || k < 2 || k > HANDSHAKE_NODES_MAX) {
        fprintf(stderr, "bench_cca: --peers must be at least 1, --nodes 2..%d\n",
                HANDSHAKE_NODES_MAX);
        return 2;
    }
    char dir[] = "/tmp/p4-bench-cca-XXXXXX";
    if (mkdtemp(dir) == NULL) {
        perror("bench_cca: mkdtemp");
        return 1;
    }
    char command[2048];
    snprintf(command, sizeof command, "%s keygen %s", issuer, dir);
    if (system(command) != 0) {
        fprintf(stderr, "bench_cca: '%s' failed (build cca_token_issuer, or pass --issuer)\n",
                command);
        rmdir(dir);
        return 1;
    }
    p4_error err = {0};
    p4_cca_policy policy;
    memset(&policy, 0, sizeof policy);
    EVP_PKEY *cpak = NULL;
    p4_cca_evidence *ev = NULL;
    char cpak_path[600];
    snprintf(cpak_path, sizeof cpak_path, "%s/cpak.pub.pem", dir);
    snprintf(command, sizeof command, "%s issue %s", issuer, dir);
    int rc = p4_cca_allowlist_add_hex(&policy.initial_measurements,
                                      "1111111111111111111111111111111111111111111111111111111111111111",
                                      0, "rim", &err);
    if (rc == P4_OK)
        rc = p4_cca_cpak_load(cpak_path, &cpak, &err);
    if (rc == P4_OK)
        rc = p4_cca_evidence_new_command(&ev, command, 0, &err);
    p4_rng rng;
    if (rc == P4_OK)
        rc = p4_rng_init_secure(&rng);
    uint8_t node_key[32];
    p4_rng_bytes(&rng, node_key, sizeof node_key);
    double fetch = 0, verify = 0;
    size_t token_bytes = 0;
    for (int i = 0; i < peers && rc == P4_OK; i++) {
        uint8_t nonce[32], challenge[64], *token = NULL;
        size_t len = 0;
        p4_rng_bytes(&rng, nonce, sizeof nonce);
        rc = p4_cca_binding_challenge(node_key, 32, nonce, 32, challenge, &err);
        double t0 = now();
        if (rc == P4_OK)
            rc = p4_cca_evidence_get(ev, challenge, &token, &len, &err);
        double t1 = now();
        p4_cca_verdict v;
        if (rc == P4_OK)
            rc = p4_cca_verify_peer(token, len, cpak, &policy, node_key, 32, nonce, 32, &v,
                                    &err);
        double t2 = now();
        fetch += t1 - t0;
        verify += t2 - t1;
        token_bytes = len;
        free(token);
    }
    p4_cca_evidence_destroy(&ev);
    EVP_PKEY_free(cpak);
    double hs_seconds = 0, hs_bytes = 0, hs_token_bytes = 0, hs_fetches = 0;
    if (rc == P4_OK)
        rc = handshake_cost(k, command, cpak_path, &hs_seconds, &hs_bytes, &hs_token_bytes,
                            &hs_fetches, &err);
    remove_keys(dir);
    if (rc != P4_OK) {
        fprintf(stderr, "bench_cca: %s\n", err.message);
        return 1;
    }
    double fetch_ms = 1e3 * fetch / peers, verify_ms = 1e3 * verify / peers;
    double shared_ms = shared_token_verify_ms(20);
    if (token_bytes > P4_WIRE_MAX_EVIDENCE)
        fprintf(stderr, "bench_cca: a %zu-byte token does not fit EVIDENCE's %d bytes\n",
                token_bytes, P4_WIRE_MAX_EVIDENCE);
    if (json) {
        printf("{\"bench\":\"cca_admission\",\"peers\":%d,\"fetch_ms_per_peer\":%.3f,"
               "\"verify_ms_per_peer\":%.3f,\"admission_ms_per_peer\":%.3f,"
               "\"token_bytes\":%zu,\"extra_bytes_per_handshake\":%.0f,"
               "\"handshake_nodes\":%d,\"handshake_ms\":%.3f,"
               "\"tokens_fetched_per_peer\":%.2f,\"tf_rmm_token_verify_ms\":%.3f,"
               "\"note\":\"fetch = external command (test issuer: spawn + 2 P-384 signs), not a "
               "realm; verify = 2 ECDSA P-384 + binding + allowlist; extra bytes = HELLO + "
               "EVIDENCE one node sends one peer, headers included (software sends neither); "
               "handshake = K nodes on threads, in-process transports\"}\n",
               peers, fetch_ms, verify_ms, fetch_ms + verify_ms, token_bytes, hs_bytes, k,
               1e3 * hs_seconds, hs_fetches, shared_ms);
        return 0;
    }
    printf("CCA admission, %d peers (ES384 tokens from tests' issuer):\n", peers);
    printf("  token fetch (external command: spawn + 2 signs)  %8.3f ms per peer\n", fetch_ms);
    printf("  verify (2 ECDSA P-384, binding, allowlist)       %8.3f ms per peer\n", verify_ms);
    printf("  admission (fetch + verify)                       %8.3f ms per peer\n",
           fetch_ms + verify_ms);
    printf("  extra bytes per handshake, one node to one peer: %.0f (HELLO with the nonce,\n"
           "  EVIDENCE with the %.0f-byte token; the software backend sends neither)\n",
           hs_bytes, hs_token_bytes);
    printf("  handshake of %d nodes on threads (in-process): %.1f ms, %.2f own tokens fetched\n"
           "  per peer (one per HELLO, never reused)\n", k, 1e3 * hs_seconds, hs_fetches);
    if (shared_ms >= 0)
        printf("  verify of the shared TF-RMM token (best of 20)   %8.3f ms\n", shared_ms);
    return 0;
}
