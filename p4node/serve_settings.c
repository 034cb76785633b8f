/* serve_settings.c: the [serve] section; see serve_settings.h. */
#include "p4node/serve_settings.h"

#include <ini.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/serve_wire.h"

void p4_serve_settings_defaults(p4_serve_settings *s)
{
    if (s == NULL)
        return;
    memset(s, 0, sizeof *s);
    snprintf(s->listen, sizeof s->listen, "%s", P4_SERVE_DEFAULT_LISTEN);
    s->max_rows = 256;
    p4_cca_settings_defaults(&s->tee);
}

typedef struct load_state {
    p4_serve_settings *s;
    const char *name;
    p4_error *err;
    int failed;
    FILE *file;
    int line;
} load_state;

static char *read_line(char *str, int num, void *stream)
{
    load_state *st = stream;
    char *got = fgets(str, num, st->file);
    if (got != NULL)
        st->line++;
    return got;
}

static int fail(load_state *st, const char *key, const char *value, const char *why)
{
    p4_error_set(st->err, P4_ECONFIG, "%s:%d: [serve] %s = %.64s: %s", st->name, st->line, key,
                 value, why);
    st->failed = 1;
    return 0;
}

static int on_key(void *user, const char *section, const char *key, const char *value)
{
    load_state *st = user;
    if (st->failed || strcmp(section, "serve") != 0)
        return 1;
    p4_serve_settings *s = st->s;
    if (strcmp(key, "listen") == 0) {
        size_t n = strlen(value);
        if (n == 0 || n >= sizeof s->listen || strncmp(value, "tcp://", 6) != 0)
            return fail(st, key, value, "want tcp://ADDRESS:PORT");
        snprintf(s->listen, sizeof s->listen, "%s", value);
    } else if (strcmp(key, "probabilities") == 0) {
        if (strcmp(value, "true") == 0)
            s->probabilities = 1;
        else if (strcmp(value, "false") == 0)
            s->probabilities = 0;
        else
            return fail(st, key, value, "want true or false");
    } else if (strcmp(key, "max_rows") == 0) {
        char *end;
        long v = strtol(value, &end, 10);
        if (value[0] == '\0' || *end != '\0' || v < 1 || v > P4_SERVE_MAX_ROWS)
            return fail(st, key, value, "want a whole number 1..1024");
        s->max_rows = (int)v;
    } else {
        return fail(st, key, value, "unknown key (known: listen, probabilities, max_rows)");
    }
    return 1;
}

int p4_serve_settings_load_stream(FILE *f, const char *name, p4_serve_settings *s,
                                  p4_error *err)
{
    if (f == NULL || name == NULL || s == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_serve_settings_load_stream: NULL argument");
    p4_serve_settings_defaults(s);
    load_state st = {s, name, err, 0, f, 0};
    int line = ini_parse_stream(read_line, &st, on_key, &st);
    if (st.failed)
        return P4_ECONFIG;
    if (line != 0)
        return p4_error_set(err, P4_ECONFIG, "%s:%d: not INI syntax", name, line);
    rewind(f);
    return p4_cca_settings_load_stream(f, name, &s->tee, err);
}

int p4_serve_settings_load(const char *path, p4_serve_settings *s, p4_error *err)
{
    if (path == NULL || s == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_serve_settings_load: NULL argument");
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        p4_serve_settings_defaults(s);
        return p4_error_set(err, P4_EIO, "%s: cannot open the config", path);
    }
    int rc = p4_serve_settings_load_stream(f, path, s, err);
    fclose(f);
    return rc;
}

int p4_serve_settings_attested(const p4_serve_settings *s, p4_error *err)
{
    if (s == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_serve_settings_attested: NULL argument");
    const char *b = s->tee.backend;
    if (b[0] == '\0' || strcmp(b, "software") == 0)
        return 0;
    if (strcmp(b, "cca") == 0)
        return 1;
    return p4_error_set(err, P4_ECONFIG, "[tee] backend = %s: p4 serve knows software (no "
                        "attestation) and cca", b);
}
