/* settings.c: the [tee] section for the CCA backend; see settings.h. */
#include "tee/cca/settings.h"

#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void p4_cca_settings_defaults(p4_cca_settings *s)
{
    if (s == NULL)
        return;
    memset(s, 0, sizeof *s);
    snprintf(s->evidence, sizeof s->evidence, "configfs-tsm");
    snprintf(s->tsm_root, sizeof s->tsm_root, "%s", P4_CCA_TSM_ROOT);
}

static int set_text(char *dst, size_t cap, const char *key, const char *value, p4_error *err)
{
    size_t n = strlen(value);
    if (n == 0 || n >= cap)
        return p4_error_set(err, P4_ECONFIG, "[tee] %s: %zu characters; want 1..%zu", key, n,
                            cap - 1);
    memcpy(dst, value, n + 1);
    return P4_OK;
}

/* Adds each comma-separated hex value to list. */
static int add_list(p4_cca_allowlist *list, const char *key, const char *value, size_t exact,
                    p4_error *err)
{
    char *copy = strdup(value);
    if (copy == NULL)
        return p4_error_set(err, P4_ENOMEM, "out of memory");
    char what[96];
    snprintf(what, sizeof what, "[tee] %s", key);
    int rc = P4_OK, any = 0;
    for (char *save = NULL, *item = strtok_r(copy, ", \t", &save); item && rc == P4_OK;
         item = strtok_r(NULL, ", \t", &save)) {
        rc = p4_cca_allowlist_add_hex(list, item, exact, what, err);
        any = 1;
    }
    free(copy);
    if (rc == P4_OK && !any)
        rc = p4_error_set(err, P4_ECONFIG, "%s: no value", what);
    return rc;
}

int p4_cca_settings_set(p4_cca_settings *s, const char *key, const char *value,
                        const char *base_dir, p4_error *err)
{
    if (s == NULL || key == NULL || value == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_cca_settings_set: NULL argument");
    if (strcmp(key, "backend") == 0)
        return set_text(s->backend, sizeof s->backend, key, value, err);
    if (strcmp(key, "cpak") == 0) {
        if (value[0] != '/' && base_dir != NULL && base_dir[0] != '\0') {
            char joined[2 * P4_CCA_PATH_MAX + 2];
            snprintf(joined, sizeof joined, "%s/%s", base_dir, value);
            return set_text(s->policy.cpak, sizeof s->policy.cpak, key, joined, err);
        }
        return set_text(s->policy.cpak, sizeof s->policy.cpak, key, value, err);
    }
    if (strcmp(key, "realm_initial_measurement") == 0)
        return add_list(&s->policy.initial_measurements, key, value, 0, err);
    if (strcmp(key, "realm_personalization_value") == 0)
        return add_list(&s->policy.personalization_values, key, value, 64, err);
    if (strcmp(key, "platform_sw_component") == 0)
        return add_list(&s->policy.sw_components, key, value, 0, err);
    if (strcmp(key, "evidence") == 0) {
        if (strcmp(value, "configfs-tsm") != 0 && strcmp(value, "command") != 0)
            return p4_error_set(err, P4_ECONFIG,
                                "[tee] evidence = %s: want configfs-tsm or command", value);
        return set_text(s->evidence, sizeof s->evidence, key, value, err);
    }
    if (strcmp(key, "tsm_root") == 0)
        return set_text(s->tsm_root, sizeof s->tsm_root, key, value, err);
    if (strcmp(key, "evidence_command") == 0)
        return set_text(s->evidence_command, sizeof s->evidence_command, key, value, err);
    return p4_error_set(err, P4_ECONFIG,
                        "[tee] %s: unknown key (known: backend, cpak, realm_initial_measurement, "
                        "realm_personalization_value, platform_sw_component, evidence, "
                        "tsm_root, evidence_command)", key);
}

typedef struct {
    p4_cca_settings *settings;
    const char *path;
    char base_dir[P4_CCA_PATH_MAX];
    p4_error *err;
    int failed;
    FILE *file;
    int line;       /* of the line inih last read, for error messages */
} load_state;

/* inih's reader: fgets that counts lines. */
static char *read_line(char *str, int num, void *stream)
{
    load_state *st = stream;
    char *got = fgets(str, num, st->file);
    if (got != NULL)
        st->line++;
    return got;
}

static int on_key(void *user, const char *section, const char *key, const char *value)
{
    load_state *st = user;
    if (st->failed || strcmp(section, "tee") != 0)
        return 1;
    if (p4_cca_settings_set(st->settings, key, value, st->base_dir, st->err) != P4_OK) {
        char why[P4_ERROR_MESSAGE_MAX];
        snprintf(why, sizeof why, "%s", st->err ? st->err->message : "");
        p4_error_set(st->err, P4_ECONFIG, "%s:%d: %s", st->path, st->line, why);
        st->failed = 1;
        return 0;
    }
    return 1;
}

int p4_cca_settings_load_stream(FILE *f, const char *name, p4_cca_settings *s, p4_error *err)
{
    if (f == NULL || name == NULL || s == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_cca_settings_load_stream: NULL argument");
    p4_cca_settings_defaults(s);
    load_state st = {s, name, "", err, 0, f, 0};
    const char *slash = strrchr(name, '/');
    if (slash != NULL)
        snprintf(st.base_dir, sizeof st.base_dir, "%.*s", (int)(slash - name), name);
    int line = ini_parse_stream(read_line, &st, on_key, &st);
    if (st.failed)
        return P4_ECONFIG;
    if (line != 0)
        return p4_error_set(err, P4_ECONFIG, "%s:%d: not INI syntax", name, line);
    return P4_OK;
}

int p4_cca_settings_load(const char *path, p4_cca_settings *s, p4_error *err)
{
    if (path == NULL || s == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_cca_settings_load: NULL argument");
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        p4_cca_settings_defaults(s);
        return p4_error_set(err, P4_EIO, "%s: cannot open the policy file", path);
    }
    int rc = p4_cca_settings_load_stream(f, path, s, err);
    fclose(f);
    return rc;
}

int p4_cca_settings_evidence(const p4_cca_settings *s, p4_cca_evidence **out, p4_error *err)
{
    if (s == NULL || out == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_cca_settings_evidence: NULL argument");
    if (strcmp(s->evidence, "command") == 0) {
        if (s->evidence_command[0] == '\0')
            return p4_error_set(err, P4_ECONFIG,
                                "[tee] evidence = command needs evidence_command");
        return p4_cca_evidence_new_command(out, s->evidence_command, 0, err);
    }
    return p4_cca_evidence_new_tsm(out, s->tsm_root, NULL, err);
}
