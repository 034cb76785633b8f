/* cmd_query.c: `p4 query` asks a `p4 serve` server to classify inputs, but
 * only after the server's attestation token verified against the client's
 * policy (p4node/query.h).  Prints one line per input: its top-1 class, and
 * with --probabilities (when the server allows) the class probabilities.
 * Exit status: 0 answered, 1 refused (attestation failed or absent) or
 * failed, 2 for a usage error or a bad input file. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "p4node/commands.h"
#include "p4node/query.h"
#include "p4node/query_input.h"
#include "tee/cca/settings.h"

#define USAGE                                                                                  \
    "usage: p4 query --server tcp://HOST:PORT --server-key KEY|FILE --input FILE\n"            \
    "                [--policy FILE] [--cpak PEM] [--probabilities]\n"                         \
    "                [--insecure-no-attestation] [--timeout SECONDS]\n"

/* KEY is 40 Z85 characters, or a file holding them (a node.pub). */
static int read_server_key(const char *text, uint8_t key[P4_KEY_BYTES], p4_error *err)
{
    if (strlen(text) == P4_KEY_Z85_CHARS && p4_key_from_z85(text, key, NULL) == P4_OK)
        return P4_OK;
    FILE *f = fopen(text, "r");
    if (f == NULL)
        return p4_error_set(err, P4_EINVAL, "--server-key '%.64s': neither a 40-character Z85 "
                            "key nor a readable file", text);
    char line[64] = "";
    int got = fgets(line, sizeof line, f) != NULL;
    fclose(f);
    line[strcspn(line, "\r\n")] = '\0';
    if (!got)
        return p4_error_set(err, P4_EINVAL, "%s: empty key file", text);
    p4_error why = {0};
    if (p4_key_from_z85(line, key, &why) != P4_OK)
        return p4_error_set(err, P4_EINVAL, "%s: %s", text, why.message);
    return P4_OK;
}

int p4_cmd_query(int argc, char **argv)
{
    static const struct option options[] = {
        {"server", required_argument, NULL, 's'},  {"server-key", required_argument, NULL, 'k'},
        {"input", required_argument, NULL, 'i'},   {"policy", required_argument, NULL, 'p'},
        {"cpak", required_argument, NULL, 'c'},    {"probabilities", no_argument, NULL, 'P'},
        {"insecure-no-attestation", no_argument, NULL, 'I'},
        {"timeout", required_argument, NULL, 't'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *server = NULL, *key_text = NULL, *input = NULL, *policy = NULL, *cpak = NULL;
    int want_probabilities = 0, insecure = 0, c;
    double timeout = 10;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (c) {
        case 's': server = optarg; break;
        case 'k': key_text = optarg; break;
        case 'i': input = optarg; break;
        case 'p': policy = optarg; break;
        case 'c': cpak = optarg; break;
        case 'P': want_probabilities = 1; break;
        case 'I': insecure = 1; break;
        case 't': {
            char *end;
            timeout = strtod(optarg, &end);
            if (*end != '\0' || !(timeout > 0 && timeout <= 3600)) {
                fprintf(stderr, "p4 query: --timeout %s: want seconds in (0, 3600]\n", optarg);
                return 2;
            }
            break;
        }
        case 'h': printf(USAGE); return 0;
        default: fprintf(stderr, USAGE); return 2;
        }
    }
    if (optind != argc || server == NULL || key_text == NULL || input == NULL) {
        fprintf(stderr, "p4 query: --server, --server-key and --input are required\n" USAGE);
        return 2;
    }
    p4_error err = {0};
    uint8_t key[P4_KEY_BYTES];
    if (read_server_key(key_text, key, &err) != P4_OK) {
        fprintf(stderr, "p4 query: %s\n", err.message);
        return 2;
    }
    float *values = NULL;
    size_t rows = 0, cols = 0;
    if (p4_query_input_load(input, &values, &rows, &cols, &err) != P4_OK) {
        fprintf(stderr, "p4 query: %s\n", err.message);
        return 2;
    }
    /* The policy: [tee] of --policy, --cpak overriding its key. */
    p4_cca_verifier *verifier = NULL;
    if (policy != NULL || cpak != NULL) {
        p4_cca_settings settings;
        p4_cca_settings_defaults(&settings);
        int rc = policy ? p4_cca_settings_load(policy, &settings, &err) : P4_OK;
        if (rc == P4_OK && cpak != NULL)
            rc = p4_cca_settings_set(&settings, "cpak", cpak, NULL, &err);
        if (rc == P4_OK)
            rc = p4_cca_verifier_new(&verifier, &settings, &err);
        if (rc != P4_OK) {
            fprintf(stderr, "p4 query: %s\n", err.message);
            free(values);
            return 2;
        }
    } else if (!insecure) {
        fprintf(stderr, "p4 query: no policy: give --policy FILE (its [tee] cpak and "
                        "realm_initial_measurement), or --insecure-no-attestation to trust any "
                        "server\n");
        free(values);
        return 2;
    }
    p4_query_options o = {.server = server, .server_key = key, .verifier = verifier,
                          .insecure_no_attestation = insecure,
                          .timeout_ms = (int)(timeout * 1000)};
    p4_query_server_info info;
    p4_query_session *session = NULL;
    int rc = p4_query_open(&session, &o, &info, NULL, &err);
    if (rc != P4_OK) {
        fprintf(stderr, "p4 query: %s: %s\n", server, err.message);
        free(values);
        p4_cca_verifier_destroy(&verifier);
        return 1;
    }
    if (info.evidence == 0)
        fprintf(stderr, "p4 query: WARNING: the server has no attestation; sending inputs "
                        "anyway (--insecure-no-attestation)\n");
    else
        fprintf(stderr, "p4 query: the server's CCA token verified (%zu bytes, bound to its "
                        "key and this session's nonce)\n", info.token_bytes);
    int *labels = malloc(rows * sizeof *labels);
    float *probs = want_probabilities && info.probabilities
                       ? malloc(rows * (size_t)info.classes * sizeof *probs) : NULL;
    int got = 0;
    if (labels == NULL || (want_probabilities && info.probabilities && probs == NULL))
        rc = p4_error_set(&err, P4_ENOMEM, "out of memory for %zu answers", rows);
    if (rc == P4_OK)
        rc = p4_query_classify(session, values, rows, cols, labels, probs, &got, &err);
    if (rc == P4_OK) {
        if (want_probabilities && !got)
            fprintf(stderr, "p4 query: the server withholds probabilities ([serve] "
                            "probabilities = false): top-1 classes only\n");
        for (size_t i = 0; i < rows; i++) {
            printf("%d", labels[i]);
            if (got)
                for (int k = 0; k < info.classes; k++)
                    printf(" %.6f", (double)probs[i * (size_t)info.classes + k]);
            printf("\n");
        }
    } else {
        fprintf(stderr, "p4 query: %s\n", err.message);
    }
    free(labels);
    free(probs);
    free(values);
    p4_query_close(&session);
    p4_cca_verifier_destroy(&verifier);
    return rc == P4_OK ? 0 : (rc == P4_EINVAL ? 2 : 1);
}
