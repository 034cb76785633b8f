/* sim_setup.c: a benchmark's config and sim options (see sim_setup.h). */
#include "bench/support/sim_setup.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/error.h"

int bench_positive_int(const char *text, int *out)
{
    if (!text || !out)
        return 0;
    char *end = NULL;
    long v = strtol(text, &end, 10);
    if (end == text || *end != '\0' || v < 1 || v > 1000000)
        return 0;
    *out = (int)v;
    return 1;
}

int bench_sim_setup(const bench_sim_args *args, p4_config *cfg, p4_sim_options *opt,
                    p4_error *err)
{
    if (!args || !args->config || !cfg || !opt)
        return p4_error_set(err, P4_EINVAL, "bench set-up: no config file given");
    memset(opt, 0, sizeof *opt);
    int rc = p4_config_load(args->config, cfg, err);
    if (rc != P4_OK)
        return rc;
    const struct { const char *name, *text; int *into; } whole[] = {
        { "--clients", args->clients, &cfg->partition.clients },
        { "--rounds", args->rounds, &cfg->rounds },
        { "--test-per-client", args->test_per_client, &cfg->partition.test_per_client },
        { "--threads", args->threads ? args->threads : "2", &opt->threads },
    };
    for (size_t i = 0; i < sizeof whole / sizeof whole[0]; i++)
        if (whole[i].text && !bench_positive_int(whole[i].text, whole[i].into))
            return p4_error_set(err, P4_EINVAL, "%s '%s' must be a positive whole number",
                                whole[i].name, whole[i].text);
    if (opt->threads > 256)
        return p4_error_set(err, P4_EINVAL, "--threads %d: at most 256", opt->threads);
    const char *method = args->method ? args->method : cfg->method;
    if (p4_method_parse(method, &opt->method) != P4_OK)
        return p4_error_set(err, P4_EINVAL,
                            "%s '%s': use p4, local, proxyfl, proxyfl-avg or fedavg-dp",
                            args->method ? "--method" : "the config's method", method);
    opt->epsilon = cfg->dp_enabled && cfg->target_epsilon > 0 ? cfg->target_epsilon : INFINITY;
    if (args->epsilon && !p4_parse_epsilon(args->epsilon, &opt->epsilon))
        return p4_error_set(err, P4_EINVAL, "--epsilon '%s' must be a positive number or inf",
                            args->epsilon);
    return P4_OK;
}
