/* settings.h: the [tee] section as the CCA backend reads it: the verifier's
 * policy (trusted platform key and allowlists) and where this node's own
 * evidence comes from.  Keys (docs/attestation.md has the full text):
 *   backend = cca                          (read by the node; kept here)
 *   cpak = platform-key.pem                (relative to the file's folder)
 *   realm_initial_measurement = hex[, hex] (repeatable)
 *   realm_personalization_value = hex[, hex]
 *   platform_sw_component = hex[, hex]
 *   evidence = configfs-tsm | command      (default configfs-tsm)
 *   tsm_root = /sys/kernel/config/tsm/report
 *   evidence_command = program arg ...
 * The node's config parser can hand each [tee] key to p4_cca_settings_set;
 * p4_cca_settings_load reads the [tee] section of a file and ignores the
 * others, so a node config doubles as a policy file. */
#ifndef P4_TEE_CCA_SETTINGS_H
#define P4_TEE_CCA_SETTINGS_H

#include <stdio.h>

#include "common/error.h"
#include "tee/cca/evidence.h"
#include "tee/cca/verify.h"

typedef struct p4_cca_settings {
    char backend[32];
    p4_cca_policy policy;
    char evidence[16];                      /* "configfs-tsm" or "command" */
    char tsm_root[P4_CCA_PATH_MAX];
    char evidence_command[P4_CCA_PATH_MAX];
} p4_cca_settings;

/* Defaults: evidence configfs-tsm at P4_CCA_TSM_ROOT, empty policy. */
void p4_cca_settings_defaults(p4_cca_settings *s);

/* Applies one [tee] key.  base_dir resolves a relative cpak path (may be
 * NULL: the working directory).  P4_ECONFIG naming the key otherwise. */
int p4_cca_settings_set(p4_cca_settings *s, const char *key, const char *value,
                        const char *base_dir, p4_error *err);

/* Defaults, then every key of path's [tee] section.  Errors name the file
 * and line. */
int p4_cca_settings_load(const char *path, p4_cca_settings *s, p4_error *err);
/* The same from an open stream; name is used in messages and its folder
 * resolves a relative cpak. */
int p4_cca_settings_load_stream(FILE *f, const char *name, p4_cca_settings *s, p4_error *err);

/* This node's evidence source as the settings describe it. */
int p4_cca_settings_evidence(const p4_cca_settings *s, p4_cca_evidence **out, p4_error *err);

#endif
