/* serve_settings.c: what `p4 serve` reads from its config; see
 * serve_settings.h.  The [serve] keys live in common/config.c's key table
 * (parsed and checked there); [tee] is read by tee/cca/settings.c. */
#include "p4node/serve_settings.h"

#include <stdlib.h>
#include <string.h>

#include "cluster/serve_wire.h"

_Static_assert(P4_CONFIG_SERVE_MAX_ROWS == P4_SERVE_MAX_ROWS,
               "[serve] max_rows' bound is the wire's");

void p4_serve_settings_defaults(p4_serve_settings *s)
{
    if (s == NULL)
        return;
    memset(s, 0, sizeof *s);
    snprintf(s->listen, sizeof s->listen, "%s", P4_SERVE_DEFAULT_LISTEN);
    s->max_rows = 256;
    p4_cca_settings_defaults(&s->tee);
}

int p4_serve_settings_load(const char *path, p4_serve_settings *s, p4_error *err)
{
    if (path == NULL || s == NULL)
        return p4_error_set(err, P4_EINVAL, "p4_serve_settings_load: NULL argument");
    p4_serve_settings_defaults(s);
    p4_config *cfg = malloc(sizeof *cfg);
    if (cfg == NULL)
        return p4_error_set(err, P4_ENOMEM, "%s: out of memory", path);
    static const char *const serve_only[] = {"serve"};
    int rc = p4_config_load_sections(path, serve_only, 1, cfg, err);
    if (rc == P4_OK) {
        if (cfg->serve_listen[0])
            snprintf(s->listen, sizeof s->listen, "%s", cfg->serve_listen);
        s->probabilities = cfg->serve_probabilities;
        s->max_rows = cfg->serve_max_rows;
    }
    free(cfg);
    if (rc == P4_OK)
        rc = p4_cca_settings_load(path, &s->tee, err);
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
