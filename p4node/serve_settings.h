/* serve_settings.h: what `p4 serve --config FILE` reads: the [serve] section
 * (its keys are in common/config.c's table, docs/config.md) and the [tee]
 * section (tee/cca/settings.h); other sections are ignored, so one file may
 * hold a node's settings and its service's.
 *   [serve]
 *   listen = tcp://127.0.0.1:7100   where clients connect (default)
 *   probabilities = false           answer probabilities when asked (default: top-1 only)
 *   max_rows = 256                  inputs per request, 1..1024
 *   [tee]
 *   backend = software | cca        software: no attestation (default)
 *   evidence = configfs-tsm | command, tsm_root, evidence_command (cca)
 * Unknown [serve] keys and bad values are errors naming the file and line. */
#ifndef P4_NODE_SERVE_SETTINGS_H
#define P4_NODE_SERVE_SETTINGS_H

#include <stdio.h>

#include "common/config.h"
#include "common/error.h"
#include "tee/cca/settings.h"

#define P4_SERVE_DEFAULT_LISTEN P4_CONFIG_SERVE_LISTEN

typedef struct p4_serve_settings {
    char listen[P4_ENDPOINT_MAX];
    int probabilities;
    int max_rows;
    p4_cca_settings tee;
} p4_serve_settings;

void p4_serve_settings_defaults(p4_serve_settings *s);
/* Defaults, then the file's [serve] and [tee] sections.  P4_ECONFIG with
 * "<file>:<line>: [serve] key = value: why" for a bad or unknown key. */
int p4_serve_settings_load(const char *path, p4_serve_settings *s, p4_error *err);
/* 1 when the settings ask for CCA evidence (backend = cca), 0 for software;
 * P4_ECONFIG for another backend. */
int p4_serve_settings_attested(const p4_serve_settings *s, p4_error *err);

#endif
