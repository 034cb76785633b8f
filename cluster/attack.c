/* attack.c: choosing and acting out malicious peers; see attack.h. */
#include "cluster/attack.h"

#include <math.h>

#include "common/config.h"
#include <stdlib.h>
#include <string.h>

static const char *const attack_names[] = { "none", "signflip", "scaled", "gaussian", "labelflip" };
#define ATTACK_COUNT (int)(sizeof attack_names / sizeof attack_names[0])

int p4_attack_parse(const char *text, p4_attack_kind *out)
{
    for (int k = 0; k < ATTACK_COUNT; k++)
        if (text && out && strcmp(text, attack_names[k]) == 0) {
            *out = (p4_attack_kind)k;
            return P4_OK;
        }
    return P4_EINVAL;
}

int p4_grouping_lie_parse(const char *text, p4_grouping_lie *out)
{
    if (!text || !out)
        return P4_EINVAL;
    if (strcmp(text, "none") == 0)
        *out = P4_GROUPING_LIE_NONE;
    else if (strcmp(text, "copy-target") == 0)
        *out = P4_GROUPING_LIE_COPY_TARGET;
    else
        return P4_EINVAL;
    return P4_OK;
}

const char *p4_attack_name(p4_attack_kind kind)
{
    return (int)kind >= 0 && (int)kind < ATTACK_COUNT ? attack_names[kind] : "?";
}

int p4_attack_choose(int n, double fraction, uint64_t seed, unsigned char *is_attacker,
                     p4_error *err)
{
    if (n < 1 || !is_attacker || !(fraction >= 0 && fraction <= 1))
        return p4_error_set(err, P4_EINVAL, "attack: bad arguments");
    memset(is_attacker, 0, (size_t)n);
    int count = (int)lround(fraction * n);
    if (count == 0)
        return P4_OK;
    int *order = malloc((size_t)n * sizeof *order);
    if (!order)
        return p4_error_set(err, P4_ENOMEM, "attack: out of memory");
    for (int k = 0; k < n; k++)
        order[k] = k;
    p4_rng rng;
    int rc = p4_rng_init_seeded(&rng, seed, "attackers");
    if (rc == P4_OK) {
        p4_rng_shuffle_int(&rng, order, (size_t)n);
        for (int k = 0; k < count; k++)
            is_attacker[order[k]] = 1;
    }
    p4_rng_wipe(&rng);
    free(order);
    return rc == P4_OK ? P4_OK : p4_error_set(err, rc, "attack: cannot seed the choice");
}

int p4_attack_choose_config(const p4_config *cfg, int n, unsigned char *is_attacker,
                            p4_error *err)
{
    if (!cfg)
        return p4_error_set(err, P4_EINVAL, "attack: no config");
    /* An attacker that only lies in the grouping (kind none) is still one. */
    int acts = strcmp(cfg->attack_kind, "none") != 0 || strcmp(cfg->grouping_lie, "none") != 0;
    return p4_attack_choose(n, acts ? cfg->attack_fraction : 0.0, cfg->seed, is_attacker, err);
}

int p4_attack_choose_target(const p4_config *cfg, int n, const unsigned char *is_attacker,
                            int *target, p4_error *err)
{
    if (!cfg || n < 1 || !is_attacker || !target)
        return p4_error_set(err, P4_EINVAL, "attack target: bad arguments");
    *target = -1;
    int honest = 0;
    for (int k = 0; k < n; k++)
        honest += !is_attacker[k];
    if (strcmp(cfg->grouping_lie, "none") == 0 || honest == 0)
        return P4_OK;
    if (cfg->attack_target >= 0) {
        if (cfg->attack_target >= n || is_attacker[cfg->attack_target])
            return p4_error_set(err, P4_ECONFIG, "%s: [attack] target = %d is not an honest client "
                                "of the %d", cfg->path, cfg->attack_target, n);
        *target = cfg->attack_target;
        return P4_OK;
    }
    p4_rng rng;
    int rc = p4_rng_init_seeded(&rng, cfg->seed, "attack-target");
    if (rc != P4_OK)
        return p4_error_set(err, rc, "attack: cannot seed the target's choice");
    uint64_t pick = p4_rng_below(&rng, (uint64_t)honest);
    p4_rng_wipe(&rng);
    for (int k = 0; k < n; k++)
        if (!is_attacker[k] && pick-- == 0) {
            *target = k;
            break;
        }
    return P4_OK;
}

int p4_attack_lie_slice(const float *target_slice, size_t n, double noise, p4_rng *rng,
                        const p4_ziggurat *z, float *out, p4_error *err)
{
    if ((n > 0 && (!target_slice || !out)) || !(noise >= 0) || !isfinite(noise) ||
        (noise > 0 && (!rng || !z)))
        return p4_error_set(err, P4_EINVAL, "grouping lie: bad arguments");
    if (n > 0)
        memmove(out, target_slice, n * sizeof *out);
    if (noise > 0)
        p4_ziggurat_add(z, rng, out, n, noise);
    return P4_OK;
}

int p4_attack_poison(p4_attack_kind kind, double strength, float *w, const float *w0, size_t n,
                     p4_rng *rng, const p4_ziggurat *z, p4_error *err)
{
    if (!w || (n > 0 && !w0) || !isfinite(strength))
        return p4_error_set(err, P4_EINVAL, "attack poison: bad arguments");
    switch (kind) {
    case P4_ATTACK_NONE:
    case P4_ATTACK_LABELFLIP: /* its poison is in the training, not the message */
        return P4_OK;
    case P4_ATTACK_SIGNFLIP:
    case P4_ATTACK_SCALED: {
        double s = kind == P4_ATTACK_SIGNFLIP ? -strength : strength;
        for (size_t j = 0; j < n; j++)
            w[j] = (float)(w0[j] + s * ((double)w[j] - w0[j]));
        return P4_OK;
    }
    case P4_ATTACK_GAUSSIAN:
        if (!rng || !z || strength < 0)
            return p4_error_set(err, P4_EINVAL, "gaussian attack: needs a generator and s >= 0");
        p4_ziggurat_add(z, rng, w, n, strength);
        return P4_OK;
    }
    return p4_error_set(err, P4_EINVAL, "attack: unknown kind %d", (int)kind);
}
